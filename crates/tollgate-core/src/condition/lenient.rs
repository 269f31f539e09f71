//! Reading a header, query or form parameter once, as every backend would: a value given
//! again under a name some backend reads as the same one is a second reading, refused.
//!
//! Backends fold names before they look them up: CGI, WSGI and Rack read `x_user` as the
//! header `x-user`; ASP.NET compares query names ignoring case, PHP turns `.` and spaces into
//! `_` and reads `id[]` as `id`, C code stops at a NUL, and older Python and Go split pairs
//! on `;` as well as `&`. A condition that read `x-user: guest` while the backend read
//! `x_user: admin` would decide on a value the backend never sees.

use std::borrow::Cow;

use crate::lenient_name;

use http::{HeaderMap, HeaderName};

use crate::param::{ParamError, parse_urlencoded, unique_urlencoded};

/// The header's only value, `None` when absent or not UTF-8; an error when it is sent
/// twice, or also under a name spelled with `_` for `-` (or the reverse).
pub(super) fn header<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Result<Option<&'a str>, ParamError> {
    let mut values = headers.get_all(name).iter();
    let first = values.next();
    if values.next().is_some() {
        return Err(ParamError::Repeated(format!("header {name}")));
    }
    if let Some(other) = headers.keys().find(|k| *k != name && same_header(k.as_str(), name.as_str())) {
        return Err(ParamError::Repeated(format!("header {name} (also sent as {other})")));
    }
    Ok(first.and_then(|v| std::str::from_utf8(v.as_bytes()).ok()))
}

/// Whether CGI-style backends read both names as one header.
fn same_header(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .all(|(x, y)| x.eq_ignore_ascii_case(&y) || matches!((x, y), (b'-' | b'_', b'-' | b'_')))
}

/// The only value of `name` in a query string or form body, decoded; an error when it is
/// given twice, with a malformed escape, or also under a name a lenient backend reads as
/// `name` (another case, `.` / `-` / space for `_`, a `[...]` suffix, a NUL tail, or a pair
/// after a `;`). `what` is `query` or `form`, for the error.
pub(super) fn pair<'a>(input: &'a [u8], name: &str, what: &str) -> Result<Option<Cow<'a, str>>, ParamError> {
    let found = unique_urlencoded(input, name, &|| format!("{what} {name}"))?;
    let want = lenient_name(name);
    let mut readings = 0usize;
    for segment in input.split(|&b| b == b'&' || b == b';').filter(|s| !s.is_empty()) {
        if let Some((key, _)) = parse_urlencoded(segment).next()
            && lenient_name(&key) == want
        {
            readings += 1;
        }
    }
    if readings > 1 || (readings == 1 && found.is_none()) {
        return Err(ParamError::Repeated(format!("{what} {name} (under names a backend reads as one)")));
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_reading_or_an_error() {
        let q = |input: &str, name: &str| pair(input.as_bytes(), name, "query").map(|v| v.map(Cow::into_owned));
        assert_eq!(q("action=list&b=2", "action"), Ok(Some("list".into())));
        assert_eq!(q("b=2", "action"), Ok(None));
        assert_eq!(q("q=a;b", "q"), Ok(Some("a;b".into())));
        for hostile in [
            "action=list&ACTION=delete",
            "action=list&action[]=delete",
            "action=list;action=delete",
            "x=1;action=delete",
            "Action=delete",
            "action%00x=delete",
            "user.id=1",
        ] {
            let name = if hostile.starts_with("user") { "user_id" } else { "action" };
            assert!(matches!(q(hostile, name), Err(ParamError::Repeated(_))), "{hostile}");
        }
        assert!(matches!(q("%C5%BF=1", "s"), Err(ParamError::Repeated(_))));

        let mut h = HeaderMap::new();
        h.append("x-user", "guest".parse().unwrap());
        assert_eq!(header(&h, &HeaderName::from_static("x-user")), Ok(Some("guest")));
        h.append("x_user", "admin".parse().unwrap());
        assert!(matches!(header(&h, &HeaderName::from_static("x-user")), Err(ParamError::Repeated(_))));
        assert!(matches!(header(&h, &HeaderName::from_static("x_user")), Err(ParamError::Repeated(_))));
        assert_eq!(header(&h, &HeaderName::from_static("x-other")), Ok(None));
    }
}
