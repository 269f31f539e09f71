//! The string to sign of an `X-Ca-*` request, shared by the verifier and the signer: the
//! signed headers found in one pass over the request's headers, then the query's and the
//! form's parameters, decoded and sorted as the official Node.js client sorts them.

use std::borrow::Cow;

use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};

use super::{X_CA_SIGNATURE, X_CA_SIGNATURE_HEADERS};
use crate::byte_search::{cmp_text, has_ascii_uppercase, split_ascii};
use crate::form::{AmbiguousParams, each_param};
use crate::header_text::header_text;
use crate::scheme::SignError;

pub(super) fn signed_header_names<V>(list: &str, lower_case: bool) -> Vec<(&str, Option<V>)> {
    let mut names: Vec<(&str, Option<V>)> = Vec::with_capacity(8);
    for name in split_ascii(list, b',').map(str::trim_ascii) {
        let signature_header = |n: &HeaderName| name.len() == n.as_str().len() && name.eq_ignore_ascii_case(n.as_str());
        if !name.is_empty() && !signature_header(&X_CA_SIGNATURE) && !signature_header(&X_CA_SIGNATURE_HEADERS) {
            names.push((name, None));
        }
    }
    if !lower_case {
        let lower = |n: &str| n.bytes().map(|b| b.to_ascii_lowercase()).collect::<Vec<u8>>();
        names.sort_by_cached_key(|(n, _)| lower(n));
        names.dedup_by(|a, b| a.0.eq_ignore_ascii_case(b.0));
    } else {
        names.sort_unstable_by(|a, b| cmp_text(a.0, b.0));
        names.dedup_by(|a, b| a.0 == b.0);
    }
    names
}

/// Writes the string to sign into `out`; shared by the verifier and the signer.
///
/// `signed_headers` must be lower-case and sorted. Parameters are the query's and, for a
/// form body, the form's, decoded (`+` is a space) and sorted by name in UTF-16 order, as the
/// official Node.js client builds them. A name whose only value is empty is written without
/// `=`. Header values are written as received; an absent signed header gives `name:` and an
/// empty value.
///
/// A request the verifier refuses as readable more than one way is refused here too (the
/// string is still written, as the Node.js client would write it): a header of the string
/// sent more than once, a parameter name given more than once (the client would sign its
/// values joined by commas, `a=1&a=2` as `a=1,2`, which is also how `a=1,2` is signed) or
/// in both the query and the form (the client would sign the form's value only), a name or
/// value that is not UTF-8 once percent-decoded (it would sign U+FFFD for any such bytes).
pub fn write_string_to_sign(
    out: &mut Vec<u8>,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Option<&[u8]>,
    signed_headers: &[&str],
) -> Result<(), SignError> {
    let mut seen = Headers::new(signed_headers);
    let repeated = seen.collect(headers);
    let params = write_from(out, method, uri, &seen, body);
    if let Err(name) = repeated {
        return Err(SignError::Invalid(format!("the header {name} is sent more than once")));
    }
    params.map_err(|ambiguity| SignError::Invalid(ambiguity.to_string()))
}

/// The headers the string to sign and the checks read, found in one pass over the request's
/// headers rather than one hashed lookup each (a third of the verifier's time went there).
#[derive(Debug, Clone)]
pub(super) struct Headers<'h, 'n> {
    /// `Accept`, `Content-MD5`, `Content-Type`, `Date`, in the string's order.
    pub(super) fixed: [Option<&'h HeaderValue>; 4],
    pub(super) timestamp: Option<&'h HeaderValue>,
    pub(super) nonce: Option<&'h HeaderValue>,
    /// The signed headers' names (in any case, sorted as lower case) and first values.
    pub(super) signed: Vec<(&'n str, Option<&'h HeaderValue>)>,
    /// Whether the signed headers' names are all lower case already.
    pub(super) lower_case: bool,
}

impl<'h, 'n> Headers<'h, 'n> {
    pub(super) fn new(signed_headers: &[&'n str]) -> Self {
        Self {
            fixed: [None; 4],
            timestamp: None,
            nonce: None,
            signed: signed_headers.iter().map(|n| (*n, None)).collect(),
            lower_case: signed_headers.iter().all(|n| !has_ascii_uppercase(n)),
        }
    }

    /// Keeps the value of each header of interest; the name of one sent more than once
    /// (the first value kept) is an error.
    pub(super) fn collect(&mut self, headers: &'h HeaderMap) -> Result<(), &'h str> {
        let mut repeated = None;
        for (name, value) in headers {
            let name = name.as_str();
            if let Some(slot) = self.fixed_slot(name) {
                if slot.is_some() {
                    repeated.get_or_insert(name);
                }
                slot.get_or_insert(value);
            }
            if let Err(name) = self.note_signed(name, value) {
                repeated.get_or_insert(name);
            }
        }
        repeated.map_or(Ok(()), Err)
    }

    /// Where the string to sign or the checks keep the header `name` (lower case).
    pub(super) fn fixed_slot(&mut self, name: &str) -> Option<&mut Option<&'h HeaderValue>> {
        // a match on the text: the compiler tells them apart by length first
        match name {
            "accept" => Some(&mut self.fixed[0]),
            "content-md5" => Some(&mut self.fixed[1]),
            "content-type" => Some(&mut self.fixed[2]),
            "date" => Some(&mut self.fixed[3]),
            "x-ca-timestamp" => Some(&mut self.timestamp),
            "x-ca-nonce" => Some(&mut self.nonce),
            _ => None,
        }
    }

    /// Keeps the value of `name` if it is signed; a second value of it is an error (the
    /// first kept).
    pub(super) fn note_signed<'a>(&mut self, name: &'a str, value: &'h HeaderValue) -> Result<(), &'a str> {
        // a handful of names: compare lengths before bytes
        let wanted = self.signed.iter_mut().find(|(n, _)| n.len() == name.len() && n.eq_ignore_ascii_case(name));
        match wanted {
            Some((_, Some(_))) => Err(name),
            Some((_, slot)) => {
                *slot = Some(value);
                Ok(())
            }
            None => Ok(()),
        }
    }

    pub(super) fn is_form(&self) -> bool {
        self.fixed[2]
            .and_then(header_text)
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"))
    }
}

/// Writes the string to sign; refuses (having written it all the same) parameters that can
/// be read more than one way.
pub(super) fn write_from(
    out: &mut Vec<u8>,
    method: &Method,
    uri: &Uri,
    headers: &Headers<'_, '_>,
    body: Option<&[u8]>,
) -> Result<(), AmbiguousParams> {
    out.extend_from_slice(method.as_str().as_bytes());
    out.push(b'\n');
    for value in headers.fixed {
        out.extend_from_slice(value.map_or(&b""[..], |v| v.as_bytes()));
        out.push(b'\n');
    }
    for (name, value) in &headers.signed {
        match headers.lower_case {
            true => out.extend_from_slice(name.as_bytes()),
            false => out.extend(name.bytes().map(|b| b.to_ascii_lowercase())),
        }
        out.push(b':');
        out.extend_from_slice(value.map_or(&b""[..], |v| v.as_bytes()));
        out.push(b'\n');
    }
    out.extend_from_slice(uri.path().as_bytes());
    let query = uri.query().filter(|q| !q.is_empty());
    let form = body.filter(|b| !b.is_empty() && headers.is_form());
    match (query, form) {
        (None, None) => Ok(()),
        // parameters from one place are often in order already (one alone, or a client that
        // sorts them): written as they come, with no list to sort
        (Some(query), None) => {
            write_in_order(out, query.as_bytes()).unwrap_or_else(|| write_sorted(out, Some(query), None))
        }
        (None, Some(form)) => write_in_order(out, form).unwrap_or_else(|| write_sorted(out, None, Some(form))),
        (Some(query), Some(form)) => write_sorted(out, Some(query), Some(form)),
    }
}

/// Writes the parameters of `params` (a query or a form body) when they come in order, each
/// name once, as [`write_sorted`] would; `None`, with nothing written, when they do not.
fn write_in_order(out: &mut Vec<u8>, params: &[u8]) -> Option<Result<(), AmbiguousParams>> {
    let start = out.len();
    let mut last: Option<Cow<'_, str>> = None;
    let mut in_order = true;
    let decoded = each_param(params, |name, value| {
        if !in_order || last.as_ref().is_some_and(|last| utf16_order(last, &name).is_ge()) {
            in_order = false;
            return;
        }
        out.push(if last.is_none() { b'?' } else { b'&' });
        out.extend_from_slice(name.as_bytes());
        if !value.is_empty() {
            out.push(b'=');
            out.extend_from_slice(value.as_bytes());
        }
        last = Some(name);
    });
    if !in_order {
        out.truncate(start);
        return None;
    }
    Some(decoded)
}

/// Writes the parameters of the query and the form body, sorted by name; refuses (having
/// written them all the same) names in both places and names or values that are not UTF-8.
fn write_sorted(out: &mut Vec<u8>, query: Option<&str>, form: Option<&[u8]>) -> Result<(), AmbiguousParams> {
    // Tagged by source, form first: after a stable sort by name, a name's form values come
    // before its query values, and only the first source's values are signed.
    let mut params: Vec<(Cow<'_, str>, Cow<'_, str>, u8)> = Vec::with_capacity(16);
    let form = form.map_or(Ok(()), |form| each_param(form, |k, v| params.push((k, v, 0))));
    let query = query.map_or(Ok(()), |query| each_param(query.as_bytes(), |k, v| params.push((k, v, 1))));
    params.sort_by(|a, b| utf16_order(&a.0, &b.0));
    let mut ambiguity = form.and(query).err();
    let mut i = 0;
    while i < params.len() {
        let (name, source) = (&params[i].0, params[i].2);
        let run = params[i..].iter().take_while(|p| p.0 == *name).count();
        // A name repeated in one place is what the official clients send for a list
        // (`tag=x&tag=y`, signed `tag=x,y`): accepted. A name in both places is not: an
        // application reading the query would read a value nobody signed.
        if ambiguity.is_none() && params[i..i + run].iter().any(|p| p.2 != source) {
            ambiguity = Some(AmbiguousParams::QueryAndForm);
        }
        out.push(if i == 0 { b'?' } else { b'&' });
        out.extend_from_slice(name.as_bytes());
        // repeated values are joined by commas, as the client's parsed query renders them
        let mut values = params[i..i + run].iter().filter(|p| p.2 == source).map(|p| p.1.as_bytes());
        let first = values.next().unwrap_or_default();
        let rest: Vec<&[u8]> = values.collect();
        if !first.is_empty() || !rest.is_empty() {
            out.push(b'=');
            out.extend_from_slice(first);
            for v in rest {
                out.push(b',');
                out.extend_from_slice(v);
            }
        }
        i += run;
    }
    ambiguity.map_or(Ok(()), Err)
}

/// Orders texts as their UTF-16 code units sort (JavaScript's and Java's string order). It
/// differs from byte order only between a character above U+FFFF and one in U+E000..=U+FFFF.
fn utf16_order(a: &str, b: &str) -> std::cmp::Ordering {
    fn unit_rank(c: char) -> u32 {
        match u32::from(c) {
            c @ 0..=0xD7FF => c,
            c @ 0x1_0000.. => 0xD800 + c, // a surrogate pair: after U+D7FF, before U+E000
            c => 0x20_0000 + c,
        }
    }
    if a.is_ascii() && b.is_ascii() {
        return cmp_text(a, b);
    }
    a.chars().map(unit_rank).cmp(b.chars().map(unit_rank))
}

/// The string to sign as text (header bytes that are not UTF-8 shown lossily), written
/// even for a request [`write_string_to_sign`] refuses; see there.
pub fn string_to_sign(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Option<&[u8]>,
    signed_headers: &[String],
) -> String {
    let names: Vec<&str> = signed_headers.iter().map(String::as_str).collect();
    let mut out = Vec::with_capacity(256);
    let _ = write_string_to_sign(&mut out, method, uri, headers, body, &names);
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_to_sign_layout() {
        let req = http::Request::post("/p?b=2&a=&c=x%20y&b=3")
            .header("accept", "*/*")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-ca-key", "k")
            .body(())
            .unwrap();
        let sts = string_to_sign(req.method(), req.uri(), req.headers(), Some(b"d=4&c=z"), &["x-ca-key".into()]);
        assert_eq!(sts, "POST\n*/*\n\napplication/x-www-form-urlencoded\n\nx-ca-key:k\n/p?a&b=2,3&c=z&d=4");
    }

    #[test]
    fn string_to_sign_of_each_header_line() {
        let req = http::Request::get("/")
            .header("accept", "application/json")
            .header("content-md5", "MD5")
            .header("content-type", "text/plain")
            .header("date", "Mon, 19 Mar 2018 12:08:40 GMT")
            .header("x-b", "2")
            .header("x-a", "1")
            .body(())
            .unwrap();
        let names = ["x-a".to_owned(), "x-b".to_owned(), "x-missing".to_owned()];
        let sts = string_to_sign(req.method(), req.uri(), req.headers(), None, &names);
        assert_eq!(
            sts,
            "GET\napplication/json\nMD5\ntext/plain\nMon, 19 Mar 2018 12:08:40 GMT\nx-a:1\nx-b:2\nx-missing:\n/"
        );
        // no parameters: no `?`; a JSON body is not in the string
        let req = http::Request::post("/a/b%20c").header("content-type", "application/json").body(()).unwrap();
        let sts = string_to_sign(req.method(), req.uri(), req.headers(), Some(b"{\"a\":1}"), &[]);
        assert_eq!(sts, "POST\n\n\napplication/json\n\n/a/b%20c");
    }

    #[test]
    fn parameters_are_decoded_and_sorted_in_utf16_order() {
        // decoded: `+` is a space, %XX are bytes, `=` and `&` inside values stay
        let req = http::Request::get("/?plus=a%2Bb&sp=a+b&mix=a%3Db%26c%20d&star=x*y&slash=%2Fp").body(()).unwrap();
        let sts = string_to_sign(req.method(), req.uri(), req.headers(), None, &[]);
        assert!(sts.ends_with("/?mix=a=b&c d&plus=a+b&slash=/p&sp=a b&star=x*y"), "{sts}");
        // U+FF01 sorts before an emoji in bytes (EF.. < F0..), after it in UTF-16 (FF01 > D83D)
        let req = http::Request::get("/?%EF%BC%81=1&%F0%9F%98%80=2&z=3").body(()).unwrap();
        let sts = string_to_sign(req.method(), req.uri(), req.headers(), None, &[]);
        assert!(sts.ends_with("/?z=3&\u{1F600}=2&\u{FF01}=1"), "{sts}");
        assert_eq!(utf16_order("\u{FF01}", "\u{1F600}"), std::cmp::Ordering::Greater);
        assert_eq!(utf16_order("\u{D7FF}", "\u{1F600}"), std::cmp::Ordering::Less);
        assert_eq!(utf16_order("ab", "a"), std::cmp::Ordering::Greater);
    }

    #[test]
    fn repeated_and_shadowed_parameters_as_the_node_client_signs_them() {
        let form = http::Request::post("/?a=1&a=2&b=q&e&e=x")
            .header("content-type", "application/x-www-form-urlencoded; charset=UTF-8")
            .body(())
            .unwrap();
        let sts = string_to_sign(form.method(), form.uri(), form.headers(), Some(b"b=f1&b=f2&c="), &[]);
        // query repeats joined by commas; the form's `b` replaces the query's; `c` is empty
        assert!(sts.ends_with("/?a=1,2&b=f1,f2&c&e=,x"), "{sts}");
    }

    #[test]
    fn parameters_in_order_are_written_as_they_come() {
        let mut out = Vec::new();
        assert_eq!(write_in_order(&mut out, b"a=1&b&c=%20"), Some(Ok(())));
        assert_eq!(out, b"?a=1&b&c= ");
        // out of order or repeated: nothing written, the sorted path takes them
        for params in [&b"b=1&a=2"[..], b"a=1&a=2", b"a=1&b=2&b"] {
            let mut out = b"GET".to_vec();
            assert_eq!(write_in_order(&mut out, params), None);
            assert_eq!(out, b"GET");
        }
        let mut out = Vec::new();
        assert_eq!(write_in_order(&mut out, b"a=%FF"), Some(Err(AmbiguousParams::NotUtf8)));
    }

    proptest::proptest! {
        /// Parameters from one place written as they come, when they can be, are what the
        /// sorted path writes, refusals included.
        #[test]
        fn in_order_is_sorted(
            input in proptest::collection::vec(proptest::sample::select(b"abc=&%+2Fe\xff\xc3\xa9".to_vec()), 0..30),
        ) {
            let mut ours = Vec::new();
            if let Some(result) = write_in_order(&mut ours, &input) {
                let mut sorted = Vec::new();
                proptest::prop_assert_eq!(result, write_sorted(&mut sorted, None, Some(&input)));
                proptest::prop_assert_eq!(ours, sorted);
            }
            if let Ok(query) = std::str::from_utf8(&input) {
                let mut ours = Vec::new();
                if let Some(result) = write_in_order(&mut ours, query.as_bytes()) {
                    let mut sorted = Vec::new();
                    proptest::prop_assert_eq!(result, write_sorted(&mut sorted, Some(query), None));
                    proptest::prop_assert_eq!(ours, sorted);
                }
            }
        }
    }
}
