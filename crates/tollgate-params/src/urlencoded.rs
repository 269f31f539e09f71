//! Query-string and form-body editing, as both layers do it: pairs encoded the way
//! [`parse_urlencoded`] decodes them, keys removed by their decoded name while every other
//! pair stays byte for byte as sent.
//!
//! ```
//! use tollgate_core::parse_urlencoded;
//! use tollgate_params::urlencoded::{encode_pairs, remove_keys};
//!
//! let encoded = encode_pairs([("q", "a b&c"), ("n", "你")]);
//! assert_eq!(encoded, "q=a+b%26c&n=%E4%BD%A0");
//! let back: Vec<_> = parse_urlencoded(encoded.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
//! assert_eq!(back, [("q".to_owned(), "a b&c".to_owned()), ("n".to_owned(), "你".to_owned())]);
//!
//! // `%61pp` decodes to `app`: removed like the plain spelling; `x=%7e` stays as sent
//! assert_eq!(remove_keys("app=1&x=%7e&%61pp=2", |k| k == "app"), Some("x=%7e".to_owned()));
//! assert_eq!(remove_keys("x=1", |k| k == "app"), None);
//! ```

use std::borrow::Cow;

use http::Uri;
use http::uri::PathAndQuery;
use tollgate_core::parse_urlencoded;

/// Decodes `name=value` pairs exactly as [`parse_urlencoded`] does, borrowing from `input`
/// every name and value that holds no `%` or `+` (a query string is already UTF-8, so
/// those need no decoding): the validation hot path.
pub fn pairs(input: &str) -> impl Iterator<Item = (Cow<'_, str>, Cow<'_, str>)> {
    input.split('&').filter(|s| !s.is_empty()).map(|segment| {
        if segment.bytes().any(|b| b == b'%' || b == b'+') {
            parse_urlencoded(segment.as_bytes()).next().unwrap_or_default()
        } else {
            match segment.split_once('=') {
                Some((k, v)) => (Cow::Borrowed(k), Cow::Borrowed(v)),
                None => (Cow::Borrowed(segment), Cow::Borrowed("")),
            }
        }
    })
}

/// The decoded name of one `name=value` pair (no `&` in it), as [`pairs`] and
/// [`parse_urlencoded`] read it: borrowed when it is UTF-8 and holds no `%` or `+`.
pub(crate) fn pair_name(pair: &[u8]) -> Cow<'_, str> {
    let raw = pair.split(|&b| b == b'=').next().unwrap_or_default();
    match std::str::from_utf8(raw) {
        Ok(name) if !raw.iter().any(|&b| b == b'%' || b == b'+') => Cow::Borrowed(name),
        _ => parse_urlencoded(raw).next().map(|(name, _)| name).unwrap_or_default(),
    }
}

/// The values of the pairs named `name`, decoded, as [`pairs`] filtered by name gives them;
/// a value is decoded only when its name matches, and a name only when it holds a `%` or `+`.
pub(crate) fn values<'a>(input: &'a str, name: &'a str) -> impl Iterator<Item = Cow<'a, str>> {
    input.split('&').filter(|s| !s.is_empty()).filter_map(move |segment| {
        let raw = segment.split_once('=').map_or(segment, |(key, _)| key);
        let named = match raw.bytes().any(|b| b == b'%' || b == b'+') {
            true => segment_key(segment) == name,
            false => raw == name,
        };
        named.then(|| pairs(segment).next().map(|(_, value)| value).unwrap_or_default())
    })
}

/// Encodes `name=value` pairs as `application/x-www-form-urlencoded` (space as `+`).
pub fn encode_pairs<'a, I>(pairs: I) -> String
where
    I: IntoIterator<Item = (&'a str, &'a str)>,
{
    let mut serializer = form_urlencoded::Serializer::new(String::new());
    for (name, value) in pairs {
        serializer.append_pair(name, value);
    }
    serializer.finish()
}

/// The decoded key of one `&`-separated segment.
pub(crate) fn segment_key(segment: &str) -> Cow<'_, str> {
    pairs(segment).next().map(|(k, _)| k).unwrap_or_default()
}

/// `query` without the pairs whose decoded key `remove` selects, the others kept byte for
/// byte in order; `None` when nothing was removed (the query stays as it is).
pub fn remove_keys(query: &str, remove: impl Fn(&str) -> bool) -> Option<String> {
    remove_segments(query, |segment| remove(&segment_key(segment)))
}

/// `query` without the `&`-separated segments `remove` selects (given each segment as
/// sent), the others kept byte for byte in order; `None` when nothing was removed.
pub fn remove_segments(query: &str, remove: impl Fn(&str) -> bool) -> Option<String> {
    let mut kept: Option<String> = None;
    let mut offset = 0;
    for segment in query.split('&') {
        let start = offset;
        offset += segment.len() + 1;
        if segment.is_empty() {
            continue;
        }
        let doomed = remove(segment);
        match (&mut kept, doomed) {
            (None, false) => {}
            (None, true) => {
                // the first removal: keep what came before it, without empty segments
                let before = query[..start].split('&').filter(|s| !s.is_empty()).collect::<Vec<_>>().join("&");
                kept = Some(before);
            }
            (Some(_), true) => {}
            (Some(k), false) => {
                if !k.is_empty() {
                    k.push('&');
                }
                k.push_str(segment);
            }
        }
    }
    kept
}

/// Joins two encoded lists of pairs with `&`.
pub fn join(first: &str, second: &str) -> String {
    match (first.is_empty(), second.is_empty()) {
        (true, _) => second.to_owned(),
        (_, true) => first.to_owned(),
        _ => format!("{first}&{second}"),
    }
}

/// `uri` with its query replaced by `query` (none when empty); `None` if the result is not
/// a valid URI (a `*` or authority-form target).
pub fn with_query(uri: &Uri, query: &str) -> Option<Uri> {
    let path = uri.path();
    let path_and_query = if query.is_empty() { path.to_owned() } else { format!("{path}?{query}") };
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = Some(PathAndQuery::try_from(path_and_query).ok()?);
    Uri::from_parts(parts).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_and_replace() {
        assert_eq!(join("", "a=1"), "a=1");
        assert_eq!(join("a=1", ""), "a=1");
        assert_eq!(join("a=1", "b=2"), "a=1&b=2");
        let uri: Uri = "http://h/p?x=1".parse().unwrap();
        assert_eq!(with_query(&uri, "y=2").unwrap(), "http://h/p?y=2");
        assert_eq!(with_query(&uri, "").unwrap(), "http://h/p");
        let origin: Uri = "/p".parse().unwrap();
        assert_eq!(with_query(&origin, "a=%20").unwrap(), "/p?a=%20");
    }

    proptest::proptest! {
        /// `values` reads what `pairs` filtered by name reads, escapes and all.
        #[test]
        fn values_are_the_pairs_named(query in "[a-c=&;%+2-4A-F ]{0,24}", name in "[a-c %+]{0,3}") {
            let expected: Vec<Cow<'_, str>> = pairs(&query).filter(|(k, _)| *k == name).map(|(_, v)| v).collect();
            proptest::prop_assert_eq!(values(&query, &name).collect::<Vec<_>>(), expected);
        }

        /// `pair_name` reads the name `pairs` (or, for bytes that are not UTF-8,
        /// `parse_urlencoded`) reads.
        #[test]
        fn pair_names_are_the_pairs_names(pair in proptest::collection::vec(proptest::sample::select(b"ab=;%+2Fc \xc3\xa9\xff".to_vec()), 1..10)) {
            proptest::prop_assume!(!pair.contains(&b'&'));
            let expected = match std::str::from_utf8(&pair) {
                Ok(text) => pairs(text).next().map(|(k, _)| k),
                Err(_) => parse_urlencoded(&pair).next().map(|(k, _)| k),
            };
            proptest::prop_assert_eq!(Some(pair_name(&pair)), expected);
        }
    }

    #[test]
    fn removal_skips_empty_segments_and_matches_decoded_keys() {
        assert_eq!(remove_keys("&&a=1&&b+c=2&", |k| k == "b c"), Some("a=1".to_owned()));
        assert_eq!(remove_keys("a", |k| k == "a"), Some(String::new()));
        assert_eq!(remove_keys("a=1&a=2&A=3", |k| k == "a"), Some("A=3".to_owned()));
    }
}
