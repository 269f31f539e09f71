//! A query's and a form body's parameters as sent (still percent-encoded), read in one pass
//! that notes what each needs: what a scheme that re-encodes values writes from without
//! decoding them.

use crate::hex::HEX_VALUE;
use crate::name_order::NameOrder;

/// A parameter as sent (still percent-encoded), with what its scheme needs to know to
/// write it into a string to sign without decoding it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawParam<'r> {
    /// The name's first 16 bytes as its order reads them, zero-padded, big-endian: most
    /// comparisons while sorting end at this integer.
    pub(crate) key: u128,
    pub(crate) name: &'r str,
    pub(crate) value: &'r str,
    /// The name is RFC 3986 unreserved bytes only and the value is RFC 3986 encoded exactly
    /// as the SDKs encode (unreserved bytes, upper-case escapes of ASCII bytes that are not
    /// unreserved): encoding it once more only turns each `%` into `%25`.
    pub(crate) canonical: bool,
    /// The value holds no `%` or `+`: it is its own decoded text.
    pub(crate) plain: bool,
}

/// What a byte is to [`raw_params`]: most are unreserved and end no component.
const UNRESERVED_BYTE: u8 = 0;
const AMPERSAND: u8 = 1;
const EQUALS: u8 = 2;
const PERCENT: u8 = 3;
const PLUS: u8 = 4;
const RESERVED: u8 = 5;

const CLASS: [u8; 256] = {
    let mut table = [RESERVED; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        if c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.' | b'~') {
            table[b] = UNRESERVED_BYTE;
        }
        b += 1;
    }
    table[b'&' as usize] = AMPERSAND;
    table[b'=' as usize] = EQUALS;
    table[b'%' as usize] = PERCENT;
    table[b'+' as usize] = PLUS;
    table
};

/// Whether `%` at `bytes[at]` begins an escape as the SDKs write one: two upper-case hex
/// digits, of an ASCII byte that RFC 3986 does not leave unreserved.
#[inline]
fn canonical_escape(bytes: &[u8], at: usize) -> bool {
    let digit = |i: usize| bytes.get(i).copied().filter(|d| matches!(d, b'0'..=b'9' | b'A'..=b'F'));
    match (digit(at + 1), digit(at + 2)) {
        (Some(high), Some(low)) => {
            let byte = HEX_VALUE[usize::from(high)] << 4 | HEX_VALUE[usize::from(low)];
            byte.is_ascii() && CLASS[usize::from(byte)] != UNRESERVED_BYTE
        }
        _ => false,
    }
}

/// The parameters of `text` as sent, appended to `params`, in one pass that notes what
/// each needs; `false` (and `params` left partly filled) when a name needs decoding.
fn scan_raw<'a>(text: &'a str, order: NameOrder, params: &mut Vec<RawParam<'a>>) -> bool {
    let bytes = text.as_bytes();
    let class = |i: usize| bytes.get(i).map(|&b| CLASS[usize::from(b)]);
    let mut start = 0;
    while start < bytes.len() {
        let mut i = start;
        let mut canonical = true;
        // the name: up to `=`, `&` or the end
        loop {
            // most bytes are unreserved: one table load each
            while i < bytes.len() && CLASS[usize::from(bytes[i])] == UNRESERVED_BYTE {
                i += 1;
            }
            match class(i) {
                None | Some(AMPERSAND | EQUALS) => break,
                Some(PERCENT | PLUS) => return false,
                Some(_) => {
                    canonical = false;
                    i += 1;
                }
            }
        }
        let equals = i;
        let mut end = if class(i) == Some(EQUALS) { i + 1 } else { i };
        let mut plain = true;
        loop {
            while end < bytes.len() && CLASS[usize::from(bytes[end])] == UNRESERVED_BYTE {
                end += 1;
            }
            match class(end) {
                None | Some(AMPERSAND) => break,
                Some(PERCENT) => {
                    plain = false;
                    canonical &= canonical_escape(bytes, end);
                }
                Some(PLUS) => {
                    plain = false;
                    canonical = false;
                }
                Some(_) => canonical = false,
            }
            end += 1;
        }
        if end > start {
            let value = &text[(equals + 1).min(end)..end];
            let name = &text[start..equals];
            params.push(RawParam { key: order.key(bytes, start, equals), name, value, canonical, plain });
        }
        start = end + 1;
    }
    true
}

/// The parameters of a query and then of a form body with their values left as sent
/// (still percent-encoded), when no name needs decoding and the body is text: what a
/// scheme that re-encodes values can write from without decoding them. `None` otherwise.
pub(crate) fn raw_params<'a>(query: &'a str, body: &'a [u8], order: NameOrder) -> Option<Vec<RawParam<'a>>> {
    let mut params = Vec::with_capacity(16);
    let body = if body.is_empty() { "" } else { std::str::from_utf8(body).ok()? };
    (scan_raw(query, order, &mut params) && scan_raw(body, order, &mut params)).then_some(params)
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::*;
    use crate::form::{RFC3986, decode_component, query_and_form_params, rfc3986_encode};

    proptest::proptest! {
        /// `raw_params` splits as `form_urlencoded` does: decoding its values gives the
        /// decoded pairs; it declines exactly when a name needs decoding or the body is not text.
        #[test]
        fn raw_params_split_as_form_urlencoded(
            query in "[ab=&%+2Fé]{0,30}",
            body in proptest::collection::vec(proptest::sample::select(b"ab=&%+2F\xff".to_vec()), 0..30),
        ) {
            let reference = query_and_form_params(&query, &body);
            match raw_params(&query, &body, NameOrder::Bytes) {
                Some(raw) => {
                    let decoded: Vec<_> = raw.iter().map(|p| (Cow::Borrowed(p.name), decode_component(p.value))).collect();
                    for p in &raw {
                        proptest::prop_assert_eq!(p.plain, !p.value.contains(['%', '+']));
                    }
                    proptest::prop_assert_eq!(decoded, reference);
                }
                None => {
                    let escaped_name = form_urlencoded::parse(query.as_bytes()).chain(form_urlencoded::parse(&body)).count() > 0
                        && (query.split('&').chain(std::str::from_utf8(&body).unwrap_or("").split('&'))
                            .any(|p| p.split('=').next().unwrap().contains(['%', '+'])));
                    proptest::prop_assert!(escaped_name || std::str::from_utf8(&body).is_err());
                }
            }
        }
    }

    proptest::proptest! {
        /// A parameter is taken as sent the SDKs' way exactly when encoding its decoded
        /// text per RFC 3986 gives it back and every escape is of an ASCII byte.
        #[test]
        fn canonical_is_rfc3986_of_its_decoded_text(
            name in "[a-zA-Z0-9_~*é]{1,4}",
            value in proptest::prop_oneof!["[a-z0-9~._-]{0,3}(%[2-7][0-9A-Fa-f][a-z0-9]{0,3}){0,3}", "([a-zA-Z0-9~._*/ -]|%[0-9A-Fa-f]{2}|%|\\+|é)*"],
        ) {
            let query = format!("{name}={value}&z");
            let raw = raw_params(&query, b"", NameOrder::Bytes).expect("no name needs decoding");
            let decoded = percent_encoding::percent_decode_str(&value.replace('+', " ")).collect::<Vec<u8>>();
            let reencoded = percent_encoding::percent_encode(&decoded, RFC3986).to_string();
            let expected = rfc3986_encode(&name) == name && decoded.is_ascii() && !value.contains('+') && reencoded == value;
            proptest::prop_assert_eq!(raw[0].canonical, expected, "{:?}", raw[0]);
            proptest::prop_assert!(raw[1].canonical);
        }
    }
}
