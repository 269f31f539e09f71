//! Header values as text.

use http::{HeaderMap, HeaderValue};

/// A header value as text when it is visible ASCII or tabs: what `HeaderValue::to_str`
/// accepts, checked without a branch per byte (`to_str` stops at the first bad byte, which
/// makes its loop cost a cycle or more per byte of a long `Authorization`).
#[inline]
pub(crate) fn header_text(value: &HeaderValue) -> Option<&str> {
    let bytes = value.as_bytes();
    if bytes.len() <= 32 {
        // short: `to_str`'s loop costs less than the call to `from_utf8` below
        return value.to_str().ok();
    }
    let visible = bytes.iter().fold(true, |ok, &b| ok & (matches!(b, 0x20..=0x7e) | (b == b'\t')));
    if visible { std::str::from_utf8(bytes).ok() } else { None }
}

/// A header's value as text, if present and visible ASCII. Pass a `HeaderName` constant on
/// hot paths: a `&str` name is parsed and validated on every lookup.
pub(crate) fn header_str<K: http::header::AsHeaderName>(headers: &HeaderMap, name: K) -> Option<&str> {
    headers.get(name).and_then(header_text)
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// `header_text` accepts exactly what `HeaderValue::to_str` accepts.
        #[test]
        fn header_text_is_to_str(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..80)) {
            if let Ok(value) = HeaderValue::from_bytes(&bytes) {
                proptest::prop_assert_eq!(header_text(&value), value.to_str().ok());
            }
        }
    }
}
