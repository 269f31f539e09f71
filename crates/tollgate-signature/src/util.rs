//! Primitives every scheme shares: HMACs compared in constant time, Base64, RFC 3986
//! encoding, decoded and sorted parameters.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use http::HeaderMap;
use http::header::CONTENT_TYPE;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// The hash under an HMAC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HmacAlg {
    /// HMAC-SHA1.
    Sha1,
    /// HMAC-SHA256.
    Sha256,
}

/// HMAC of `data` under `key`.
pub fn hmac(alg: HmacAlg, key: &[u8], data: &[u8]) -> Vec<u8> {
    match alg {
        HmacAlg::Sha1 => {
            let mut m = Hmac::<sha1::Sha1>::new_from_slice(key).expect("HMAC takes any key length");
            m.update(data);
            m.finalize().into_bytes().to_vec()
        }
        HmacAlg::Sha256 => {
            let mut m = Hmac::<sha2::Sha256>::new_from_slice(key).expect("HMAC takes any key length");
            m.update(data);
            m.finalize().into_bytes().to_vec()
        }
    }
}

/// Standard Base64 with padding.
pub fn base64_encode(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// A decoded signature, kept on the stack: every scheme's signature is at most 32 bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SignatureBytes {
    buf: [u8; 64],
    len: u8,
}

impl SignatureBytes {
    /// Decodes standard Base64 of at most 64 bytes; `None` if malformed or longer.
    pub fn from_base64(text: &str) -> Option<Self> {
        let mut buf = [0u8; 64];
        let len = STANDARD.decode_slice(text.trim().as_bytes(), &mut buf).ok()?;
        Some(Self { buf, len: u8::try_from(len).ok()? })
    }

    /// Decodes hex of at most 64 bytes; `None` if malformed or longer.
    pub fn from_hex(text: &str) -> Option<Self> {
        let text = text.trim().as_bytes();
        let mut buf = [0u8; 64];
        let len = text.len() / 2;
        if text.len() % 2 != 0 || len > buf.len() {
            return None;
        }
        hex::decode_to_slice(text, &mut buf[..len]).ok()?;
        Some(Self { buf, len: len as u8 })
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..usize::from(self.len)]
    }
}

impl std::fmt::Debug for SignatureBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SignatureBytes({} bytes)", self.len)
    }
}

/// RFC 3986: everything but `A-Z a-z 0-9 - _ . ~` is `%XX` (upper-case hex of UTF-8 bytes).
const RFC3986: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// Percent-encodes per RFC 3986 (space is `%20`, `*` is `%2A`, `~` stays).
pub fn rfc3986_encode(text: &str) -> String {
    utf8_percent_encode(text, RFC3986).to_string()
}

/// Decoded `name=value` pairs of a query string or form body (`+` is a space).
pub fn decoded_pairs(input: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(input).map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

/// Whether the request's content type is `application/x-www-form-urlencoded`.
pub fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"))
}

/// A header's value as text, if present and visible ASCII. Pass a `HeaderName` constant on
/// hot paths: a `&str` name is parsed and validated on every lookup.
pub fn header_str<K: http::header::AsHeaderName>(headers: &HeaderMap, name: K) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_bytes() {
        let b = SignatureBytes::from_base64("EliP9YW3pW28FpsEdkXt/+WcGeI=").unwrap();
        assert_eq!(b.as_bytes().len(), 20);
        assert!(SignatureBytes::from_base64("not base64!").is_none());
        assert!(SignatureBytes::from_base64(&"A".repeat(200)).is_none());
        assert_eq!(SignatureBytes::from_hex("00ff").unwrap().as_bytes(), [0, 255]);
        assert!(SignatureBytes::from_hex("0").is_none());
        assert!(SignatureBytes::from_hex(&"0".repeat(130)).is_none());
    }

    #[test]
    fn rfc3986() {
        assert_eq!(rfc3986_encode("a b*c~d/e+f=g&h"), "a%20b%2Ac~d%2Fe%2Bf%3Dg%26h");
        assert_eq!(rfc3986_encode("张"), "%E5%BC%A0");
    }

    #[test]
    fn hmac_round_trip_through_cached_key_schedules() {
        use crate::secret::{KeyForm, Secret};
        let secret = Secret::from("key");
        for alg in [HmacAlg::Sha1, HmacAlg::Sha256] {
            let mac = hmac(alg, b"key", b"data");
            for _ in 0..2 {
                // the second pass reads the cached key schedule
                assert!(secret.verify_hmac(alg, KeyForm::Plain, b"data", &mac));
                assert!(!secret.verify_hmac(alg, KeyForm::Plain, b"datA", &mac));
                assert!(!secret.verify_hmac(alg, KeyForm::Plain, b"data", &mac[..mac.len() - 1]));
            }
            let amp = hmac(alg, b"key&", b"data");
            assert!(secret.verify_hmac(alg, KeyForm::Ampersand, b"data", &amp));
            assert!(!secret.verify_hmac(alg, KeyForm::Plain, b"data", &amp));
        }
    }
}
