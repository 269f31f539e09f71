//! The RPC string to sign, shared by the verifier and the signer: every parameter encoded
//! per RFC 3986, sorted by decoded name, and the whole encoded once more; written straight
//! from the values as sent where the SDKs encoded them so.

use http::Method;

use crate::byte_search::{cmp_text, split_ascii};
use crate::form::{decode_component, decode_step};
use crate::raw_params::RawParam;

/// RFC 3986's unreserved bytes, `A-Z a-z 0-9 - _ . ~`, as a table: this test runs once per
/// byte of every parameter.
const UNRESERVED: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.' | b'~');
        b += 1;
    }
    table
};

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// `text` percent-encoded per RFC 3986 and then encoded again, as the string to sign holds
/// each name and value: an escape `%XX` becomes `%25XX`, unreserved bytes stay.
fn push_twice_encoded(out: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if !UNRESERVED[usize::from(b)] {
            out.extend_from_slice(&bytes[start..i]);
            out.extend_from_slice(&[b'%', b'2', b'5', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
            start = i + 1;
        }
    }
    out.extend_from_slice(&bytes[start..]);
}

/// The string to sign over decoded parameters (every `Signature` is left out), shared by
/// verifier and signer: `METHOD&%2F&` + the RFC 3986 encoded `name=value` pairs, sorted by
/// decoded name (byte order, which is code-point order: the SDKs sort before encoding),
/// joined by `&`, all encoded once more. A name given several times is signed once per
/// value, the values in byte order.
pub fn string_to_sign<K: AsRef<str>, V: AsRef<str>>(method: &Method, params: &[(K, V)]) -> String {
    String::from_utf8_lossy(&string_to_sign_bytes(method, params)).into_owned()
}

/// [`string_to_sign`] as bytes (all ASCII), which is what the HMAC reads.
pub(super) fn string_to_sign_bytes<K: AsRef<str>, V: AsRef<str>>(method: &Method, params: &[(K, V)]) -> Vec<u8> {
    let mut pairs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (k.as_ref(), v.as_ref())).collect();
    pairs.sort_by(|a, b| cmp_text(a.0, b.0));
    write_sorted(method, &pairs)
}

/// `METHOD&%2F&`, with room for pairs whose names and values add up to `text_len`
/// bytes: every byte becomes at most five (`%25XX`), so one allocation, never grown.
fn string_to_sign_start(method: &Method, pairs: usize, text_len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + 5 * text_len + 6 * pairs);
    out.extend_from_slice(method.as_str().as_bytes());
    out.extend_from_slice(b"&%2F&");
    out
}

/// The string to sign over decoded pairs sorted by name; `Signature` is left out and a
/// name's several values are put in byte order here.
pub(super) fn write_sorted<K: AsRef<str>, V: AsRef<str>>(method: &Method, pairs: &[(K, V)]) -> Vec<u8> {
    let text_len = pairs.iter().map(|(k, v)| k.as_ref().len() + v.as_ref().len()).sum();
    let mut out = string_to_sign_start(method, pairs.len(), text_len);
    let start = out.len();
    let write = |out: &mut Vec<u8>, k: &str, v: &str| {
        if out.len() > start {
            out.extend_from_slice(b"%26");
        }
        push_twice_encoded(out, k);
        out.extend_from_slice(b"%3D");
        push_twice_encoded(out, v);
    };
    let mut i = 0;
    while i < pairs.len() {
        let name = pairs[i].0.as_ref();
        let run = 1 + pairs[i + 1..].iter().take_while(|(k, _)| k.as_ref() == name).count();
        if name != "Signature" {
            if run == 1 {
                write(&mut out, name, pairs[i].1.as_ref());
            } else {
                let mut values: Vec<&str> = pairs[i..i + run].iter().map(|(_, v)| v.as_ref()).collect();
                values.sort_unstable();
                values.into_iter().for_each(|v| write(&mut out, name, v));
            }
        }
        i += run;
    }
    out
}

/// [`write_sorted`] from parameters as sent (sorted, no name twice), without decoding:
/// the SDKs send each value encoded as the string to sign encodes it, so decoding each
/// only to encode it again was a third of a verification.
pub(super) fn write_sorted_raw(method: &Method, params: &[RawParam<'_>]) -> Vec<u8> {
    let text_len = params.iter().map(|p| p.name.len() + p.value.len()).sum();
    let mut out = string_to_sign_start(method, params.len(), text_len);
    let start = out.len();
    for p in params.iter().filter(|p| p.name != "Signature") {
        if out.len() > start {
            out.extend_from_slice(b"%26");
        }
        if p.canonical {
            // encoded as the string to sign encodes: once more only escapes each `%`
            out.extend_from_slice(p.name.as_bytes());
            out.extend_from_slice(b"%3D");
            for (i, part) in split_ascii(p.value, b'%').enumerate() {
                if i > 0 {
                    out.extend_from_slice(b"%25");
                }
                out.extend_from_slice(part.as_bytes());
            }
            continue;
        }
        push_twice_encoded(&mut out, p.name);
        out.extend_from_slice(b"%3D");
        if let Err(start) = push_twice_encoded_raw(&mut out, p.value) {
            // an escape of a non-ASCII byte: the decoded text decides (it may not be UTF-8)
            out.truncate(start);
            push_twice_encoded(&mut out, &decode_component(p.value));
        }
    }
    out
}

/// What [`push_twice_encoded`] writes for `raw` decoded (`+` a space, `%XX` a byte), read
/// straight from `raw`, for a value not sent as the SDKs encode. An escape of a
/// byte above ASCII stops it (`Err` with where the value began), since only the whole
/// decoded text says whether such bytes are UTF-8.
fn push_twice_encoded_raw(out: &mut Vec<u8>, raw: &str) -> Result<(), usize> {
    let start = out.len();
    let bytes = raw.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let (b, width) = decode_step(bytes, i);
        if width == 3 && !b.is_ascii() {
            return Err(start);
        }
        if UNRESERVED[usize::from(b)] {
            out.push(b);
        } else {
            out.extend_from_slice(&[b'%', b'2', b'5', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
        }
        i += width;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::name_order::NameOrder;

    proptest::proptest! {
        /// The string to sign written from values as sent is the one written from their
        /// decoded text, whatever their escapes (including ones of non-ASCII bytes, which
        /// may not be UTF-8).
        #[test]
        fn raw_values_sign_as_decoded_ones(
            names in proptest::collection::btree_set("[A-Za-z_.~*]{1,6}", 0..6),
            values in proptest::collection::vec(crate::testing::any_value(), 6),
        ) {
            let query = crate::testing::query_of(&names, &values);
            let (raw, decoded) = crate::testing::raw_and_decoded(&query, NameOrder::Bytes).expect("plain, distinct names");
            proptest::prop_assert_eq!(write_sorted_raw(&Method::GET, &raw), write_sorted(&Method::GET, &decoded));
        }
    }

    #[test]
    fn documented_string_to_sign_shape() {
        let params = vec![("Action".to_owned(), "X".to_owned()), ("a b".to_owned(), "*~".to_owned())];
        assert_eq!(string_to_sign(&Method::GET, &params), "GET&%2F&Action%3DX%26a%2520b%3D%252A~");
        let params = [("Signature", "left out"), ("k", "\u{5F20} +/=&")];
        assert_eq!(string_to_sign(&Method::POST, &params), "POST&%2F&k%3D%25E5%25BC%25A0%2520%252B%252F%253D%2526");
    }

    #[test]
    fn sorted_by_decoded_name() {
        // `~` (0x7E) sorts before `é` (0xC3 0xA9) in bytes; encoded, `%C3%A9` would come first
        let params = [("a\u{E9}", "2"), ("a~", "1"), ("B", "0"), ("a", "3")];
        assert_eq!(string_to_sign(&Method::GET, &params), "GET&%2F&B%3D0%26a%3D3%26a~%3D1%26a%25C3%25A9%3D2");
        // a repeated name: both values, in order
        let params = [("x", "2"), ("x", "1")];
        assert_eq!(string_to_sign(&Method::GET, &params), "GET&%2F&x%3D1%26x%3D2");
    }
}
