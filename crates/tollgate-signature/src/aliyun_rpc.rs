//! Aliyun RPC (POP) OpenAPI signature v1: `AccessKeyId`, `Signature`, `SignatureNonce`,
//! `Timestamp` among the query (or form) parameters, as `aliyun-python-sdk-core` and the
//! other POP SDKs send them.
//!
//! The string to sign is `METHOD&%2F&` + the RFC 3986 encoding of the sorted, encoded
//! parameters; the key is the secret followed by `&`. Refusals are the JSON
//! `{"RequestId","HostId","Code","Message"}` the SDKs parse; a mismatch carries the
//! server's string to sign so the SDK can tell a wrong secret (`InvalidAccessKeySecret`)
//! from a changed request (`SignatureDoesNotMatch`).
//!
//! ```
//! use std::time::SystemTime;
//! use bytes::Bytes;
//! use http::{Request, Response, StatusCode};
//! use tollgate_signature::{MemorySecretStore, SignatureLayer, Signer, aliyun_rpc::AliyunRpc};
//! use tower::{ServiceExt, service_fn};
//! use tower_layer::Layer;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let (mut parts, ()) = Request::get("/?Action=DescribeRegions&Version=2014-05-26").body(()).unwrap().into_parts();
//! let mut body = Bytes::new();
//! AliyunRpc::new().sign(&mut parts, &mut body, "LTAIexample", &"s3cret".into(), SystemTime::now()).unwrap();
//!
//! let store = MemorySecretStore::new().with_key("LTAIexample", "s3cret");
//! let svc = SignatureLayer::new(AliyunRpc::new(), store).layer(service_fn(|_req| async {
//!     Ok::<_, std::convert::Infallible>(Response::new(String::from("ok")))
//! }));
//! let request = Request::from_parts(parts, http_body_util::Full::new(body));
//! assert_eq!(svc.oneshot(request).await.unwrap().status(), StatusCode::OK);
//! # }
//! ```

use std::borrow::Cow;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode, Uri};
use tollgate_core::{ErrorStyle, Rejection, time_apart};

use crate::scheme::{RequestView, Scheme, SignError, Signer, Verified};
use crate::secret::{KeyForm, Secret};
use crate::util::{HmacAlg, SignatureBytes, base64_encode, decoded_pairs, hmac, is_form, rfc3986_encode};

/// The Aliyun RPC signature v1 scheme, verifier and signer.
#[derive(Debug, Clone)]
pub struct AliyunRpc {
    window: Duration,
    alg: HmacAlg,
}

impl Default for AliyunRpc {
    fn default() -> Self {
        Self::new()
    }
}

impl AliyunRpc {
    /// 15-minute window; signs with HMAC-SHA1, as the SDKs do.
    pub fn new() -> Self {
        Self { window: Duration::from_secs(15 * 60), alg: HmacAlg::Sha1 }
    }

    /// How far `Timestamp` may be from now, either way (default 15 minutes).
    pub fn window(mut self, window: Duration) -> Self {
        self.window = window;
        self
    }

    /// Signs with this HMAC (default HMAC-SHA1).
    pub fn signature_method(mut self, alg: HmacAlg) -> Self {
        self.alg = alg;
        self
    }
}

fn refusal(status: StatusCode, code: &'static str, message: impl Into<String>) -> Rejection {
    let message = message.into();
    Rejection::new(status, code, message.clone()).with_policy("signature").with_aliyun_rpc(status, code, message)
}

/// What an RPC request claims.
#[derive(Debug, Clone)]
pub struct Parsed {
    key: String,
    signature: Option<SignatureBytes>,
    alg: HmacAlg,
}

/// All parameters of a request: the query's, then a form body's, decoded.
fn parameters<'a>(uri: &'a Uri, headers: &HeaderMap, body: Option<&'a [u8]>) -> Vec<(Cow<'a, str>, Cow<'a, str>)> {
    let mut params: Vec<_> = form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()).collect();
    if let Some(body) = body.filter(|_| is_form(headers)) {
        params.extend(form_urlencoded::parse(body));
    }
    params
}

fn find<'p>(params: &'p [(Cow<'_, str>, Cow<'_, str>)], name: &str) -> Option<&'p str> {
    params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_ref())
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~')
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// `text` percent-encoded per RFC 3986 and then encoded again, as the string to sign holds
/// each name and value: an escape `%XX` becomes `%25XX`, unreserved bytes stay.
fn push_twice_encoded(out: &mut String, text: &str) {
    for &b in text.as_bytes() {
        if is_unreserved(b) {
            out.push(char::from(b));
        } else {
            out.push_str("%25");
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 15)]));
        }
    }
}

/// Orders texts as their RFC 3986 encodings sort, without building them: an unreserved
/// byte stands for itself, any other for `%XX`.
fn cmp_encoded(a: &str, b: &str) -> std::cmp::Ordering {
    fn units(s: &str) -> impl Iterator<Item = u8> + '_ {
        s.bytes().flat_map(|b| {
            let (unit, n) = if is_unreserved(b) {
                ([b, 0, 0], 1)
            } else {
                ([b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]], 3)
            };
            unit.into_iter().take(n)
        })
    }
    if a.bytes().all(is_unreserved) && b.bytes().all(is_unreserved) {
        return a.cmp(b);
    }
    units(a).cmp(units(b))
}

/// The string to sign over decoded parameters (`Signature` is left out), shared by verifier
/// and signer: `METHOD&%2F&` + the encoded `name=value` pairs, sorted by encoded name, joined
/// by `&`, all encoded once more.
pub fn string_to_sign<K: AsRef<str>, V: AsRef<str>>(method: &Method, params: &[(K, V)]) -> String {
    let mut pairs: Vec<(&str, &str)> =
        params.iter().map(|(k, v)| (k.as_ref(), v.as_ref())).filter(|(k, _)| *k != "Signature").collect();
    pairs.sort_by(|a, b| cmp_encoded(a.0, b.0).then_with(|| cmp_encoded(a.1, b.1)));
    let size: usize = pairs.iter().map(|(k, v)| 3 * (k.len() + v.len()) + 6).sum();
    let mut out = String::with_capacity(16 + size);
    out.push_str(method.as_str());
    out.push_str("&%2F&");
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push_str("%26");
        }
        push_twice_encoded(&mut out, k);
        out.push_str("%3D");
        push_twice_encoded(&mut out, v);
    }
    out
}

/// `YYYY-MM-DDThh:mm:ssZ`, UTC.
fn parse_timestamp(text: &str) -> Option<SystemTime> {
    let text = text.trim();
    let well_formed = text.len() == 20 && text.ends_with('Z') && text.as_bytes()[10] == b'T';
    if !well_formed {
        return None;
    }
    humantime::parse_rfc3339(text).ok()
}

impl Scheme for AliyunRpc {
    type Parsed = Parsed;

    fn name(&self) -> &'static str {
        "aliyun-rpc"
    }

    fn error_style(&self) -> ErrorStyle {
        ErrorStyle::AliyunRpc
    }

    fn window(&self) -> Duration {
        self.window
    }

    fn needs_body(&self, _method: &Method, headers: &HeaderMap) -> bool {
        is_form(headers)
    }

    fn parse(&self, req: &RequestView<'_>) -> Result<Parsed, Rejection> {
        let params = parameters(req.uri, req.headers, req.body);
        let signature = match find(&params, "Signature") {
            Some(s) if !s.is_empty() => SignatureBytes::from_base64(s),
            _ => {
                return Err(refusal(
                    StatusCode::BAD_REQUEST,
                    "MissingSignature",
                    "Signature is mandatory for this action.",
                ));
            }
        };
        let key = find(&params, "AccessKeyId").unwrap_or("").to_owned();
        let alg = match find(&params, "SignatureMethod") {
            None | Some("HMAC-SHA1") => HmacAlg::Sha1,
            Some("HMAC-SHA256") => HmacAlg::Sha256,
            Some(_) => {
                return Err(refusal(
                    StatusCode::BAD_REQUEST,
                    "InvalidSignatureMethod",
                    "Specified signature method is not supported.",
                ));
            }
        };
        Ok(Parsed { key, signature, alg })
    }

    fn key_id<'p>(&self, parsed: &'p Parsed) -> &'p str {
        &parsed.key
    }

    fn unknown_key(&self, _key_id: &str) -> Rejection {
        refusal(StatusCode::NOT_FOUND, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
    }

    fn disabled_key(&self, _key_id: &str) -> Rejection {
        refusal(StatusCode::BAD_REQUEST, "InvalidAccessKeyId.Inactive", "Specified access key is disabled.")
    }

    fn verify(
        &self,
        req: &RequestView<'_>,
        parsed: &Parsed,
        secrets: &[Secret],
        now: SystemTime,
    ) -> Result<Verified, Rejection> {
        // The parameters are read again rather than kept from `parse`: borrowing them here
        // costs nothing, owning them there cost an allocation each.
        let params = parameters(req.uri, req.headers, req.body);
        let timestamp = find(&params, "Timestamp").and_then(parse_timestamp).ok_or_else(|| {
            refusal(
                StatusCode::BAD_REQUEST,
                "InvalidTimeStamp.Format",
                "Specified time stamp or date value is not well formatted.",
            )
        })?;
        if time_apart(timestamp, now) > self.window {
            return Err(self.expired());
        }
        let sts = string_to_sign(req.method, &params);
        let matches = parsed.signature.is_some_and(|claimed| {
            secrets.iter().any(|s| s.verify_hmac(parsed.alg, KeyForm::Ampersand, sts.as_bytes(), claimed.as_bytes()))
        });
        if !matches {
            return Err(refusal(
                StatusCode::BAD_REQUEST,
                "SignatureDoesNotMatch",
                format!("Specified signature is not matched with our calculation. server string to sign is:{sts}"),
            ));
        }
        let nonce = find(&params, "SignatureNonce").filter(|n| !n.is_empty()).map(str::to_owned);
        Ok(Verified { nonce, timestamp: Some(timestamp) })
    }

    fn replayed(&self) -> Rejection {
        refusal(StatusCode::BAD_REQUEST, "SignatureNonceUsed", "Specified signature nonce was used already.")
    }

    fn expired(&self) -> Rejection {
        refusal(StatusCode::BAD_REQUEST, "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.")
    }
}

impl Signer for AliyunRpc {
    fn needs_body(&self, _method: &Method, headers: &HeaderMap) -> bool {
        is_form(headers)
    }

    /// Adds `AccessKeyId`, `SignatureMethod`, `SignatureVersion`, `SignatureNonce`,
    /// `Timestamp` (and `Format=JSON` when absent) to the query, then `Signature`, as the
    /// SDKs do; form body fields are signed in place.
    fn sign(
        &self,
        parts: &mut http::request::Parts,
        body: &mut Bytes,
        key_id: &str,
        secret: &Secret,
        now: SystemTime,
    ) -> Result<(), SignError> {
        let mut query = decoded_pairs(parts.uri.query().unwrap_or("").as_bytes());
        query.retain(|(k, _)| {
            !matches!(
                k.as_str(),
                "Signature" | "AccessKeyId" | "SignatureMethod" | "SignatureVersion" | "SignatureNonce" | "Timestamp"
            )
        });
        if !query.iter().any(|(k, _)| k == "Format") {
            query.push(("Format".into(), "JSON".into()));
        }
        let stamp = humantime::format_rfc3339_seconds(now).to_string();
        let method = if self.alg == HmacAlg::Sha1 { "HMAC-SHA1" } else { "HMAC-SHA256" };
        query.extend([
            ("AccessKeyId".into(), key_id.to_owned()),
            ("SignatureMethod".into(), method.to_owned()),
            ("SignatureVersion".into(), "1.0".to_owned()),
            ("SignatureNonce".into(), uuid::Uuid::new_v4().simple().to_string()),
            ("Timestamp".into(), stamp),
        ]);
        let mut all = query.clone();
        if is_form(&parts.headers) {
            all.extend(decoded_pairs(body));
        }
        let sts = string_to_sign(&parts.method, &all);
        let key = [secret.expose(), b"&"].concat();
        let signature = base64_encode(&hmac(self.alg, &key, sts.as_bytes()));
        query.push(("Signature".into(), signature));
        let encoded =
            query.iter().map(|(k, v)| format!("{}={}", rfc3986_encode(k), rfc3986_encode(v))).collect::<Vec<_>>();
        let target = format!("{}?{}", parts.uri.path(), encoded.join("&"));
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
    use std::time::UNIX_EPOCH;
    use tollgate_core::Ecosystem;

    const NOW: u64 = 1_700_000_000;

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(NOW)
    }

    fn signed(target: &str) -> http::request::Parts {
        let (mut parts, ()) = http::Request::get(target).body(()).unwrap().into_parts();
        AliyunRpc::new().sign(&mut parts, &mut Bytes::new(), "ak", &"secret".into(), now()).unwrap();
        parts
    }

    fn check(parts: &http::request::Parts, secret: &str, at: SystemTime) -> Result<Verified, Rejection> {
        let s = AliyunRpc::new();
        let view = RequestView { method: &parts.method, uri: &parts.uri, headers: &parts.headers, body: None };
        let parsed = s.parse(&view)?;
        s.verify(&view, &parsed, &[Secret::from(secret)], at)
    }

    fn code(r: Rejection) -> (u16, String) {
        (r.status_for(Ecosystem::AliyunRpc).as_u16(), r.code_for(Ecosystem::AliyunRpc).to_owned())
    }

    #[test]
    fn documented_string_to_sign_shape() {
        let params = vec![("Action".to_owned(), "X".to_owned()), ("a b".to_owned(), "*~".to_owned())];
        assert_eq!(string_to_sign(&Method::GET, &params), "GET&%2F&Action%3DX%26a%2520b%3D%252A~");
    }

    #[test]
    fn round_trip_and_refusals() {
        let parts = signed("/?Action=Echo&name=%E5%BC%A0%20%2B");
        assert!(check(&parts, "secret", now()).unwrap().nonce.is_some());
        let err = check(&parts, "wrong", now()).unwrap_err();
        assert_eq!(code(err.clone()), (400, "SignatureDoesNotMatch".into()));
        let msg = err.message_for(Ecosystem::AliyunRpc);
        let sts = msg.split_once(':').unwrap().1;
        assert!(sts.starts_with("GET&%2F&AccessKeyId%3Dak"), "{msg}");
        assert_eq!(
            code(check(&parts, "secret", now() + Duration::from_secs(901)).unwrap_err()),
            (400, "InvalidTimeStamp.Expired".into())
        );

        let mut p = parts.clone();
        p.uri =
            p.uri.to_string().replace("Timestamp=2023-11-14T22%3A13%3A20Z", "Timestamp=2023-11-14").parse().unwrap();
        assert_eq!(code(check(&p, "secret", now()).unwrap_err()), (400, "InvalidTimeStamp.Format".into()));

        let p = signed("/?Action=Echo");
        let stripped: String =
            p.uri.to_string().split('&').filter(|kv| !kv.starts_with("Signature=")).collect::<Vec<_>>().join("&");
        let mut q = p.clone();
        q.uri = stripped.parse().unwrap();
        assert_eq!(code(check(&q, "secret", now()).unwrap_err()), (400, "MissingSignature".into()));
    }

    #[test]
    fn timestamps() {
        assert!(parse_timestamp("2026-11-22T16:15:30Z").is_some());
        for bad in ["2026-11-22T16:15:30", "2026-11-22 16:15:30Z", "2026-11-22T16:15:30.5Z", "x", ""] {
            assert!(parse_timestamp(bad).is_none(), "{bad}");
        }
    }
}
