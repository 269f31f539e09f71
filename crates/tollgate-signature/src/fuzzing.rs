//! The primitives under the schemes, for tests, benches and fuzz targets (cargo feature
//! `fuzzing`; not a stable API): enough to compute an expected signature by hand, from a
//! string to sign, without going through a signer.

use crate::HmacAlg;

/// HMAC of `data` under `key`.
pub fn hmac(alg: HmacAlg, key: &[u8], data: &[u8]) -> Vec<u8> {
    crate::mac::hmac(alg, key, data)
}

/// Standard Base64 with padding.
pub fn base64_encode(bytes: &[u8]) -> String {
    crate::mac::base64_encode(bytes)
}

/// Percent-encodes per RFC 3986 (space is `%20`, `*` is `%2A`, `~` stays).
pub fn rfc3986_encode(text: &str) -> String {
    crate::form::rfc3986_encode(text)
}

/// Decoded `name=value` pairs of a query string or form body (`+` is a space), as the
/// schemes decode them.
pub fn decoded_pairs(input: &[u8]) -> Vec<(String, String)> {
    crate::form::decoded_pairs(input)
}
