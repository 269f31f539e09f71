//! The MACs the schemes sign with, computed by the `hmac` crate, and the claimed signature
//! a request carries, decoded on the stack.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};

use crate::hex::decode_hex;

/// The hash under an HMAC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HmacAlg {
    /// HMAC-SHA1.
    Sha1,
    /// HMAC-SHA256.
    Sha256,
}

/// HMAC of `data` under `key`.
pub(crate) fn hmac(alg: HmacAlg, key: &[u8], data: &[u8]) -> Vec<u8> {
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
pub(crate) fn base64_encode(bytes: &[u8]) -> String {
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
        let len = STANDARD.decode_slice(text.trim_ascii().as_bytes(), &mut buf).ok()?;
        Some(Self { buf, len: u8::try_from(len).ok()? })
    }

    /// Decodes hex of at most 64 bytes; `None` if malformed or longer.
    pub fn from_hex(text: &str) -> Option<Self> {
        let text = text.trim_ascii().as_bytes();
        let mut buf = [0u8; 64];
        let len = text.len() / 2;
        if text.len() % 2 != 0 || len > buf.len() {
            return None;
        }
        decode_hex(text, &mut buf[..len])?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_bytes() {
        let b = SignatureBytes::from_base64("EliP9YW3pW28FpsEdkXt/+WcGeI=").unwrap();
        assert_eq!(b.as_bytes().len(), 20);
        assert!(SignatureBytes::from_base64("not base64!").is_none());
        assert!(SignatureBytes::from_base64(&"A".repeat(200)).is_none());
        // every length up to the 64-byte limit and past it, padded or not: what Base64
        // decodes, while it fits; refused otherwise
        for len in 0..=96 {
            for text in ["A".repeat(len), format!("{}=", "A".repeat(len)), format!("{}==", "A".repeat(len))] {
                let ours = SignatureBytes::from_base64(&text).map(|b| b.as_bytes().to_vec());
                assert_eq!(ours, STANDARD.decode(&text).ok().filter(|d| d.len() <= 64), "{text}");
            }
        }
        assert_eq!(SignatureBytes::from_hex("00ff").unwrap().as_bytes(), [0, 255]);
        assert!(SignatureBytes::from_hex("0").is_none());
        assert!(SignatureBytes::from_hex(&"0".repeat(130)).is_none());
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
