//! The `X-Ca-*` signer, as the official Node.js client signs.

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::header::ACCEPT;
use http::{HeaderMap, HeaderValue, Method};

use super::{
    AliyunApiGateway, CONTENT_MD5, X_CA_KEY, X_CA_NONCE, X_CA_SIGNATURE, X_CA_SIGNATURE_HEADERS, X_CA_SIGNATURE_METHOD,
    X_CA_STAGE, X_CA_TIMESTAMP, md5_base64, write_string_to_sign,
};
use crate::HmacAlg;
use crate::form::is_form;
use crate::mac::{base64_encode, hmac};
use crate::scheme::{SignError, Signer};
use crate::secret::Secret;

impl Signer for AliyunApiGateway {
    fn needs_body(&self, method: &Method, headers: &HeaderMap) -> bool {
        is_form(headers) || (method != Method::GET && method != Method::HEAD)
    }

    /// Adds `X-Ca-Key`, `X-Ca-Nonce` (a random UUID), `X-Ca-Timestamp` (milliseconds),
    /// `Accept: application/json` when absent, `X-Ca-Stage` and `X-Ca-Signature-Method` when
    /// configured, `Content-MD5` for a non-empty non-form body, then `X-Ca-Signature-Headers`
    /// (every `x-ca-*` header and the configured ones, sorted) and `X-Ca-Signature`, as the
    /// official Node.js client does. See [`sign_with_nonce`](AliyunApiGateway::sign_with_nonce).
    fn sign(
        &self,
        parts: &mut http::request::Parts,
        body: &mut Bytes,
        key_id: &str,
        secret: &Secret,
        now: SystemTime,
    ) -> Result<(), SignError> {
        let mut nonce = uuid::Uuid::encode_buffer();
        let nonce = uuid::Uuid::new_v4().hyphenated().encode_lower(&mut nonce);
        self.sign_with_nonce(parts, body, key_id, secret, now, nonce)
    }
}

impl AliyunApiGateway {
    /// [`Signer::sign`] with a given `X-Ca-Nonce` instead of a random one: for reproducing
    /// a recorded request, or a client that draws its own nonces. A nonce must be used once.
    pub fn sign_with_nonce(
        &self,
        parts: &mut http::request::Parts,
        body: &[u8],
        key_id: &str,
        secret: &Secret,
        now: SystemTime,
        nonce: &str,
    ) -> Result<(), SignError> {
        let invalid = |what: &str| SignError::Invalid(format!("{what} is not a valid header value"));
        let millis = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis();
        let h = &mut parts.headers;
        h.insert(X_CA_TIMESTAMP, HeaderValue::from(u64::try_from(millis).unwrap_or(u64::MAX)));
        h.insert(X_CA_KEY, HeaderValue::from_str(key_id).map_err(|_| invalid("the key id"))?);
        h.insert(X_CA_NONCE, HeaderValue::from_str(nonce).map_err(|_| invalid("the nonce"))?);
        if let Some(stage) = &self.stage {
            h.insert(X_CA_STAGE, stage.clone());
        }
        // Accept is signed; HTTP clients add a default one when it is absent, so fix it now
        // (the official clients send application/json).
        if !h.contains_key(ACCEPT) {
            h.insert(ACCEPT, HeaderValue::from_static("application/json"));
        }
        // The Node.js client sends no method header for its HmacSHA256; one already there
        // must not contradict the method signed with.
        if self.method == HmacAlg::Sha1 {
            h.insert(X_CA_SIGNATURE_METHOD, HeaderValue::from_static("HmacSHA1"));
        } else if h.contains_key(X_CA_SIGNATURE_METHOD) {
            h.insert(X_CA_SIGNATURE_METHOD, HeaderValue::from_static("HmacSHA256"));
        }
        if !body.is_empty() && !is_form(h) {
            h.insert(CONTENT_MD5, HeaderValue::from_str(&md5_base64(body)).map_err(|_| invalid("Content-MD5"))?);
        }
        let mut signed: Vec<String> = h
            .keys()
            .map(|n| n.as_str().to_owned())
            .filter(|n| {
                n.starts_with("x-ca-") && *n != X_CA_SIGNATURE.as_str() && *n != X_CA_SIGNATURE_HEADERS.as_str()
            })
            .chain(self.extra_signed.iter().filter(|n| h.contains_key(*n)).map(|n| n.as_str().to_owned()))
            .collect();
        signed.sort();
        signed.dedup();
        h.insert(
            X_CA_SIGNATURE_HEADERS,
            HeaderValue::from_str(&signed.join(",")).map_err(|_| invalid("a header list"))?,
        );
        let names: Vec<&str> = signed.iter().map(String::as_str).collect();
        let mut sts = Vec::with_capacity(256);
        write_string_to_sign(&mut sts, &parts.method, &parts.uri, &parts.headers, Some(body), &names)?;
        let signature = base64_encode(&hmac(self.method, secret.expose(), &sts));
        parts.headers.insert(X_CA_SIGNATURE, HeaderValue::from_str(&signature).map_err(|_| invalid("the signature"))?);
        Ok(())
    }
}
