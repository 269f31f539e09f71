//! The RPC signer, as `aliyun-python-sdk-core` signs.

use std::time::SystemTime;

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderMap, Method};

use super::{AliyunRpc, string_to_sign};
use crate::HmacAlg;
use crate::form::{decoded_pairs, each_param, is_form, rfc3986_encode};
use crate::mac::{base64_encode, hmac};
use crate::scheme::{Credentials, SignError, Signer};
use crate::secret::Secret;

impl Signer for AliyunRpc {
    fn needs_body(&self, _method: &Method, headers: &HeaderMap) -> bool {
        is_form(headers)
    }

    /// Sets `Timestamp`, `SignatureMethod`, `SignatureType` (empty), `SignatureVersion`
    /// (`1.0`), `SignatureNonce` (32 hex digits), `AccessKeyId` and, when absent, `Format`
    /// (`JSON`) in the query, then appends `Signature`, as `aliyun-python-sdk-core` does; form
    /// body fields are signed in place. See [`sign_with_nonce`](AliyunRpc::sign_with_nonce).
    fn sign(
        &self,
        parts: &mut http::request::Parts,
        body: &mut Bytes,
        key_id: &str,
        secret: &Secret,
        now: SystemTime,
    ) -> Result<(), SignError> {
        self.sign_with_token(parts, body, key_id, secret, None, now)
    }

    /// Also sets `SecurityToken` (signed, as `StsTokenCredential` does) when given a token.
    fn sign_with_token(
        &self,
        parts: &mut http::request::Parts,
        body: &mut Bytes,
        key_id: &str,
        secret: &Secret,
        token: Option<&str>,
        now: SystemTime,
    ) -> Result<(), SignError> {
        let mut nonce = uuid::Uuid::encode_buffer();
        let nonce = uuid::Uuid::new_v4().simple().encode_lower(&mut nonce);
        self.sign_rpc(parts, body, Credentials { key_id, secret, token }, now, nonce)
    }
}

/// Sets `name` to `value` as a Python dict would: in place of its first occurrence (later
/// ones dropped), or at the end.
fn set_param(params: &mut Vec<(String, String)>, name: &str, value: String) {
    match params.iter().position(|(k, _)| k == name) {
        Some(i) => {
            params[i].1 = value;
            let mut seen = 0;
            params.retain(|(k, _)| {
                if k == name {
                    seen += 1;
                }
                k != name || seen == 1
            });
        }
        None => params.push((name.to_owned(), value)),
    }
}

impl AliyunRpc {
    /// [`Signer::sign`] with a given `SignatureNonce` instead of a random one: for
    /// reproducing a recorded request, or a client that draws its own nonces. A nonce must be
    /// used once.
    ///
    /// The query keeps its parameters in their order; the signature parameters take the
    /// place of any already there (a previous `Signature` is dropped) or follow, in the
    /// order the Python SDK writes them, and `Signature` comes last. Names and values are
    /// encoded per RFC 3986 (space `%20`, `*` `%2A`, `~` kept). The path is kept (the SDKs
    /// send `/`; it is not signed).
    pub fn sign_with_nonce(
        &self,
        parts: &mut http::request::Parts,
        body: &[u8],
        key_id: &str,
        secret: &Secret,
        now: SystemTime,
        nonce: &str,
    ) -> Result<(), SignError> {
        self.sign_rpc(parts, body, Credentials { key_id, secret, token: None }, now, nonce)
    }

    fn sign_rpc(
        &self,
        parts: &mut http::request::Parts,
        body: &[u8],
        credentials: Credentials<'_>,
        now: SystemTime,
        nonce: &str,
    ) -> Result<(), SignError> {
        let Credentials { key_id, secret, token } = credentials;
        // what the verifier refuses as readable more than one way is not signed
        if parts.headers.get_all(CONTENT_TYPE).iter().nth(1).is_some() {
            return Err(SignError::Invalid("the Content-Type header is sent more than once".into()));
        }
        let form = if is_form(&parts.headers) { body } else { b"" };
        for part in [parts.uri.query().unwrap_or("").as_bytes(), form] {
            each_param(part, |_, _| {}).map_err(|ambiguity| SignError::Invalid(ambiguity.to_string()))?;
        }
        let mut query = decoded_pairs(parts.uri.query().unwrap_or("").as_bytes());
        query.retain(|(k, _)| k != "Signature");
        let method = if self.alg == HmacAlg::Sha1 { "HMAC-SHA1" } else { "HMAC-SHA256" };
        set_param(&mut query, "Timestamp", humantime::format_rfc3339_seconds(now).to_string());
        set_param(&mut query, "SignatureMethod", method.to_owned());
        set_param(&mut query, "SignatureType", String::new());
        set_param(&mut query, "SignatureVersion", "1.0".to_owned());
        set_param(&mut query, "SignatureNonce", nonce.to_owned());
        set_param(&mut query, "AccessKeyId", key_id.to_owned());
        if let Some(token) = token {
            set_param(&mut query, "SecurityToken", token.to_owned());
        }
        if !query.iter().any(|(k, _)| k == "Format") {
            query.push(("Format".into(), "JSON".into()));
        }
        let mut all = query.clone();
        all.extend(decoded_pairs(form));
        let mut names: Vec<&str> = all.iter().map(|(k, _)| k.as_str()).chain(["Signature"]).collect();
        names.sort_unstable();
        if names.windows(2).any(|w| w[0] == w[1]) {
            return Err(SignError::Invalid(
                "a parameter is given more than once, or in both the query and the form".into(),
            ));
        }
        let sts = string_to_sign(&parts.method, &all);
        let key = [secret.expose(), b"&"].concat();
        let signature = base64_encode(&hmac(self.alg, &key, sts.as_bytes()));
        query.push(("Signature".into(), signature));
        let mut target = String::with_capacity(parts.uri.path().len() + 64 * query.len());
        target.push_str(parts.uri.path());
        for (i, (k, v)) in query.iter().enumerate() {
            target.push(if i == 0 { '?' } else { '&' });
            target.push_str(&rfc3986_encode(k));
            target.push('=');
            target.push_str(&rfc3986_encode(v));
        }
        let mut uri = http::uri::Builder::new();
        if let Some(scheme) = parts.uri.scheme() {
            uri = uri.scheme(scheme.clone());
        }
        if let Some(authority) = parts.uri.authority() {
            uri = uri.authority(authority.clone());
        }
        parts.uri = uri.path_and_query(target).build().map_err(|e| SignError::Invalid(e.to_string()))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_param_keeps_the_first_place() {
        let mut p = vec![("a".to_owned(), "1".to_owned()), ("b".into(), "2".into()), ("a".into(), "3".into())];
        set_param(&mut p, "a", "x".into());
        set_param(&mut p, "c", "y".into());
        assert_eq!(p, [("a".to_owned(), "x".to_owned()), ("b".into(), "2".into()), ("c".into(), "y".into())]);
    }
}
