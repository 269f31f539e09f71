//! Aliyun API Gateway APP signatures: `X-Ca-Key`, `X-Ca-Signature`, `X-Ca-Timestamp`,
//! `X-Ca-Nonce`, HmacSHA256 (default) or HmacSHA1, as the official SDKs send them.
//!
//! The string to sign is the method, the `Accept`, `Content-MD5`, `Content-Type` and `Date`
//! values, one `name:value` line per header named in `X-Ca-Signature-Headers` (sorted), and
//! the path with the query and form parameters, decoded and sorted. Non-form bodies are
//! covered by `Content-MD5`. Refusals carry `X-Ca-Error-Message` exactly as the gateway's.
//!
//! ```
//! use std::time::SystemTime;
//! use bytes::Bytes;
//! use http::{Request, Response, StatusCode};
//! use tollgate_signature::{MemorySecretStore, SignatureLayer, Signer, aliyun_apigw::AliyunApiGateway};
//! use tower::{ServiceExt, service_fn};
//! use tower_layer::Layer;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! // client side: sign
//! let (mut parts, ()) = Request::get("/api/items?name=%E5%BC%A0%E4%B8%89").body(()).unwrap().into_parts();
//! let mut body = Bytes::new();
//! AliyunApiGateway::new().sign(&mut parts, &mut body, "203753741", &"s3cret".into(), SystemTime::now()).unwrap();
//! let request = Request::from_parts(parts, http_body_util::Full::new(body));
//!
//! // server side: verify
//! let store = MemorySecretStore::new().with_key("203753741", "s3cret");
//! let svc = SignatureLayer::new(AliyunApiGateway::new(), store).layer(service_fn(|_req| async {
//!     Ok::<_, std::convert::Infallible>(Response::new(String::from("ok")))
//! }));
//! assert_eq!(svc.oneshot(request).await.unwrap().status(), StatusCode::OK);
//! # }
//! ```

use std::borrow::Cow;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::header::{ACCEPT, CONTENT_TYPE, DATE};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use md5::{Digest, Md5};
use tollgate_core::{ErrorStyle, Rejection, time_apart};

use crate::scheme::{RequestView, Scheme, SignError, Signer, Verified};
use crate::secret::{KeyForm, Secret};
use crate::util::{HmacAlg, SignatureBytes, base64_encode, header_str, hmac, is_form};

// Header names as constants: looking one up by `&str` parses and validates it every time.
const X_CA_KEY: HeaderName = HeaderName::from_static("x-ca-key");
const X_CA_SIGNATURE: HeaderName = HeaderName::from_static("x-ca-signature");
const X_CA_SIGNATURE_METHOD: HeaderName = HeaderName::from_static("x-ca-signature-method");
const X_CA_SIGNATURE_HEADERS: HeaderName = HeaderName::from_static("x-ca-signature-headers");
const X_CA_TIMESTAMP: HeaderName = HeaderName::from_static("x-ca-timestamp");
const X_CA_NONCE: HeaderName = HeaderName::from_static("x-ca-nonce");
const X_CA_STAGE: HeaderName = HeaderName::from_static("x-ca-stage");
const CONTENT_MD5: HeaderName = HeaderName::from_static("content-md5");

/// An Aliyun API Gateway environment, sent as `X-Ca-Stage`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// `RELEASE`, production.
    Release,
    /// `PRE`, pre-release.
    Pre,
    /// `TEST`.
    Test,
}

/// The Aliyun API Gateway APP signature scheme, verifier and signer.
#[derive(Debug, Clone)]
pub struct AliyunApiGateway {
    window: Duration,
    debug_string_to_sign: bool,
    method: HmacAlg,
    stage: Option<HeaderValue>,
    extra_signed: Vec<HeaderName>,
}

impl Default for AliyunApiGateway {
    fn default() -> Self {
        Self::new()
    }
}

impl AliyunApiGateway {
    /// 15-minute window, no string-to-sign echo, signing with HmacSHA256.
    pub fn new() -> Self {
        Self {
            window: Duration::from_secs(15 * 60),
            debug_string_to_sign: false,
            method: HmacAlg::Sha256,
            stage: None,
            extra_signed: Vec::new(),
        }
    }

    /// How far `X-Ca-Timestamp` may be from now, either way (default 15 minutes).
    pub fn window(mut self, window: Duration) -> Self {
        self.window = window;
        self
    }

    /// Echoes the server's string to sign in a mismatch refusal
    /// (`Invalid Signature, Server StringToSign:...`), as the gateway's debug mode does, so a
    /// client can see where it differs. Off by default: it reveals what the server signs.
    pub fn debug_string_to_sign(mut self, on: bool) -> Self {
        self.debug_string_to_sign = on;
        self
    }

    /// Signs with this HMAC (default HmacSHA256; HmacSHA1 sends `X-Ca-Signature-Method`).
    pub fn signature_method(mut self, alg: HmacAlg) -> Self {
        self.method = alg;
        self
    }

    /// Sends `X-Ca-Stage` when signing.
    pub fn stage(mut self, stage: Stage) -> Self {
        self.stage = Some(HeaderValue::from_static(match stage {
            Stage::Release => "RELEASE",
            Stage::Pre => "PRE",
            Stage::Test => "TEST",
        }));
        self
    }

    /// Also signs this header when signing (the `X-Ca-*` headers are always signed).
    pub fn sign_header(mut self, name: HeaderName) -> Self {
        self.extra_signed.push(name);
        self
    }
}

fn refusal(status: StatusCode, code: &'static str, text: impl Into<String>) -> Rejection {
    let text = text.into();
    Rejection::new(status, code, text.clone()).with_policy("signature").with_aliyun_api_gateway(status, text)
}

/// What an `X-Ca-*` request claims.
#[derive(Debug, Clone)]
pub struct Parsed {
    key: String,
    signature: Option<SignatureBytes>,
    alg: HmacAlg,
    /// `X-Ca-Signature-Headers`, lower-cased; split and sorted when the string is built.
    signed_headers: String,
}

/// The names in an `X-Ca-Signature-Headers` value: trimmed, sorted, deduplicated, without
/// the signature headers themselves. `list` must be lower-case already.
fn signed_header_names(list: &str) -> Vec<&str> {
    let mut names: Vec<&str> = list
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty() && *n != X_CA_SIGNATURE.as_str() && *n != X_CA_SIGNATURE_HEADERS.as_str())
        .collect();
    names.sort_unstable();
    names.dedup();
    names
}

/// Writes the string to sign into `out`; shared by the verifier and the signer.
///
/// `signed_headers` must be lower-case and sorted. Parameters are the query's and, for a
/// form body, the form's, decoded and sorted by name, as the official Node.js client builds
/// them: a name given several times in one place is signed once with its values joined by
/// commas, and a form field overrides a query parameter of the same name (whose value is
/// then not covered by the signature). Header values are written as received.
pub fn write_string_to_sign(
    out: &mut Vec<u8>,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Option<&[u8]>,
    signed_headers: &[&str],
) {
    out.extend_from_slice(method.as_str().as_bytes());
    out.push(b'\n');
    for name in [ACCEPT, CONTENT_MD5, CONTENT_TYPE, DATE] {
        out.extend_from_slice(headers.get(name).map_or(&b""[..], |v| v.as_bytes()));
        out.push(b'\n');
    }
    for name in signed_headers {
        out.extend_from_slice(name.as_bytes());
        out.push(b':');
        out.extend_from_slice(headers.get(*name).map_or(&b""[..], |v| v.as_bytes()));
        out.push(b'\n');
    }
    out.extend_from_slice(uri.path().as_bytes());
    let query = uri.query().filter(|q| !q.is_empty());
    let form = body.filter(|b| !b.is_empty() && is_form(headers));
    if query.is_none() && form.is_none() {
        return;
    }
    // Tagged by source, form first: after a stable sort by name, a name's form values come
    // before its query values, and only the first source's values are signed.
    let mut params: Vec<(Cow<'_, str>, Cow<'_, str>, u8)> = Vec::with_capacity(16);
    if let Some(form) = form {
        params.extend(form_urlencoded::parse(form).map(|(k, v)| (k, v, 0)));
    }
    if let Some(query) = query {
        params.extend(form_urlencoded::parse(query.as_bytes()).map(|(k, v)| (k, v, 1)));
    }
    params.sort_by(|a, b| a.0.cmp(&b.0));
    let mut i = 0;
    while i < params.len() {
        let (name, source) = (&params[i].0, params[i].2);
        let run = params[i..].iter().take_while(|p| p.0 == *name).count();
        out.push(if i == 0 { b'?' } else { b'&' });
        out.extend_from_slice(name.as_bytes());
        // repeated values are joined by commas, as the client's parsed query renders them
        let mut values = params[i..i + run].iter().filter(|p| p.2 == source).map(|p| p.1.as_bytes());
        let first = values.next().unwrap_or_default();
        let rest: Vec<&[u8]> = values.collect();
        if !first.is_empty() || !rest.is_empty() {
            out.push(b'=');
            out.extend_from_slice(first);
            for v in rest {
                out.push(b',');
                out.extend_from_slice(v);
            }
        }
        i += run;
    }
}

/// The string to sign as text (header bytes that are not UTF-8 shown lossily); see
/// [`write_string_to_sign`].
pub fn string_to_sign(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Option<&[u8]>,
    signed_headers: &[String],
) -> String {
    let names: Vec<&str> = signed_headers.iter().map(String::as_str).collect();
    let mut out = Vec::with_capacity(256);
    write_string_to_sign(&mut out, method, uri, headers, body, &names);
    String::from_utf8_lossy(&out).into_owned()
}

fn md5_base64(body: &[u8]) -> String {
    base64_encode(&Md5::digest(body))
}

impl Scheme for AliyunApiGateway {
    type Parsed = Parsed;

    fn name(&self) -> &'static str {
        "aliyun-apigw"
    }

    fn error_style(&self) -> ErrorStyle {
        ErrorStyle::AliyunApiGateway
    }

    fn window(&self) -> Duration {
        self.window
    }

    fn needs_body(&self, _method: &Method, headers: &HeaderMap) -> bool {
        is_form(headers) || headers.contains_key(CONTENT_MD5)
    }

    fn parse(&self, req: &RequestView<'_>) -> Result<Parsed, Rejection> {
        let signature = header_str(req.headers, X_CA_SIGNATURE).map(str::trim).unwrap_or("");
        if signature.is_empty() {
            return Err(refusal(StatusCode::UNAUTHORIZED, "EmptySignature", "Empty Signature"));
        }
        let key = header_str(req.headers, X_CA_KEY).map(str::trim).unwrap_or("");
        if key.is_empty() {
            return Err(self.unknown_key(key));
        }
        let alg = match header_str(req.headers, X_CA_SIGNATURE_METHOD).map(str::trim) {
            None | Some("") | Some("HmacSHA256") => HmacAlg::Sha256,
            Some("HmacSHA1") => HmacAlg::Sha1,
            // Not in the gateway's table; our wording.
            Some(_) => {
                return Err(refusal(StatusCode::BAD_REQUEST, "InvalidSignatureMethod", "Invalid Signature Method"));
            }
        };
        let list = header_str(req.headers, X_CA_SIGNATURE_HEADERS).unwrap_or("").to_ascii_lowercase();
        Ok(Parsed { key: key.to_owned(), signature: SignatureBytes::from_base64(signature), alg, signed_headers: list })
    }

    fn key_id<'p>(&self, parsed: &'p Parsed) -> &'p str {
        &parsed.key
    }

    fn unknown_key(&self, _key_id: &str) -> Rejection {
        refusal(StatusCode::BAD_REQUEST, "InvalidAppKey", "Invalid AppKey")
    }

    fn verify(
        &self,
        req: &RequestView<'_>,
        parsed: &Parsed,
        secrets: &[Secret],
        now: SystemTime,
    ) -> Result<Verified, Rejection> {
        let millis = header_str(req.headers, X_CA_TIMESTAMP)
            .and_then(|t| t.trim().parse::<u64>().ok())
            .ok_or_else(|| refusal(StatusCode::BAD_REQUEST, "InvalidTimestamp", "Invalid Timestamp"))?;
        let timestamp = UNIX_EPOCH
            .checked_add(Duration::from_millis(millis))
            .ok_or_else(|| refusal(StatusCode::BAD_REQUEST, "InvalidTimestamp", "Invalid Timestamp"))?;
        let skew = time_apart(timestamp, now);
        if skew > self.window {
            return Err(self.expired());
        }
        let mut sts = Vec::with_capacity(256);
        let names = signed_header_names(&parsed.signed_headers);
        write_string_to_sign(&mut sts, req.method, req.uri, req.headers, req.body, &names);
        let matches = parsed.signature.is_some_and(|claimed| {
            secrets.iter().any(|s| s.verify_hmac(parsed.alg, KeyForm::Plain, &sts, claimed.as_bytes()))
        });
        if !matches {
            let text = if self.debug_string_to_sign {
                format!("Invalid Signature, Server StringToSign:{}", String::from_utf8_lossy(&sts))
            } else {
                "Invalid Signature".to_owned()
            };
            return Err(refusal(StatusCode::BAD_REQUEST, "InvalidSignature", text));
        }
        if let Some(claimed) = header_str(req.headers, CONTENT_MD5) {
            if claimed.trim() != md5_base64(req.body.unwrap_or_default()) {
                return Err(refusal(StatusCode::BAD_REQUEST, "InvalidContentMd5", "Invalid Content-MD5"));
            }
        }
        let nonce = header_str(req.headers, X_CA_NONCE).map(str::trim).filter(|n| !n.is_empty()).map(str::to_owned);
        Ok(Verified { nonce, timestamp: Some(timestamp) })
    }

    fn replayed(&self) -> Rejection {
        refusal(StatusCode::BAD_REQUEST, "NonceUsed", "Nonce Used")
    }

    fn expired(&self) -> Rejection {
        refusal(StatusCode::BAD_REQUEST, "TimestampExpired", "Timestamp Expired")
    }
}

impl Signer for AliyunApiGateway {
    fn needs_body(&self, method: &Method, headers: &HeaderMap) -> bool {
        is_form(headers) || (method != Method::GET && method != Method::HEAD)
    }

    fn sign(
        &self,
        parts: &mut http::request::Parts,
        body: &mut Bytes,
        key_id: &str,
        secret: &Secret,
        now: SystemTime,
    ) -> Result<(), SignError> {
        let invalid = |what: &str| SignError::Invalid(format!("{what} is not a valid header value"));
        let millis = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis();
        let h = &mut parts.headers;
        h.insert(X_CA_TIMESTAMP, HeaderValue::from(millis as u64));
        h.insert(X_CA_KEY, HeaderValue::from_str(key_id).map_err(|_| invalid("the key id"))?);
        let mut nonce = uuid::Uuid::encode_buffer();
        let nonce = uuid::Uuid::new_v4().hyphenated().encode_lower(&mut nonce);
        h.insert(X_CA_NONCE, HeaderValue::from_str(nonce).map_err(|_| invalid("the nonce"))?);
        if let Some(stage) = &self.stage {
            h.insert(X_CA_STAGE, stage.clone());
        }
        // Accept is signed; HTTP clients add a default one when it is absent, so fix it now
        // (the official clients send application/json).
        if !h.contains_key(ACCEPT) {
            h.insert(ACCEPT, HeaderValue::from_static("application/json"));
        }
        if self.method == HmacAlg::Sha1 {
            h.insert(X_CA_SIGNATURE_METHOD, HeaderValue::from_static("HmacSHA1"));
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
        write_string_to_sign(&mut sts, &parts.method, &parts.uri, &parts.headers, Some(body), &names);
        let signature = base64_encode(&hmac(self.method, secret.expose(), &sts));
        parts.headers.insert(X_CA_SIGNATURE, HeaderValue::from_str(&signature).map_err(|_| invalid("the signature"))?);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const NOW: u64 = 1_700_000_000;

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(NOW)
    }

    fn signed(method: Method, target: &str, ctype: Option<&str>, body: &[u8]) -> (http::request::Parts, Bytes) {
        let mut b = http::Request::builder().method(method).uri(target).header("accept", "application/json");
        if let Some(c) = ctype {
            b = b.header("content-type", c);
        }
        let (mut parts, ()) = b.body(()).unwrap().into_parts();
        let mut body = Bytes::copy_from_slice(body);
        AliyunApiGateway::new().sign(&mut parts, &mut body, "app", &"secret".into(), now()).unwrap();
        (parts, body)
    }

    fn check(parts: &http::request::Parts, body: &[u8], secret: &str, at: SystemTime) -> Result<Verified, Rejection> {
        let s = AliyunApiGateway::new().debug_string_to_sign(true);
        let view = RequestView { method: &parts.method, uri: &parts.uri, headers: &parts.headers, body: Some(body) };
        let parsed = s.parse(&view)?;
        s.verify(&view, &parsed, &[Secret::from(secret)], at)
    }

    fn text(r: Rejection) -> (u16, String) {
        let e = tollgate_core::Ecosystem::AliyunApiGateway;
        (r.status_for(e).as_u16(), r.message_for(e).to_owned())
    }

    #[test]
    fn string_to_sign_layout() {
        let req = http::Request::post("/p?b=2&a=&c=x%20y&b=3")
            .header("accept", "*/*")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-ca-key", "k")
            .body(())
            .unwrap();
        let sts = string_to_sign(req.method(), req.uri(), req.headers(), Some(b"d=4&c=z"), &["x-ca-key".into()]);
        assert_eq!(sts, "POST\n*/*\n\napplication/x-www-form-urlencoded\n\nx-ca-key:k\n/p?a&b=2,3&c=z&d=4");
    }

    #[test]
    fn round_trip_and_each_refusal() {
        let (parts, body) = signed(Method::GET, "/a?x=1", None, b"");
        let v = check(&parts, &body, "secret", now()).unwrap();
        assert!(v.nonce.is_some());

        let (s, m) = text(check(&parts, &body, "wrong", now()).unwrap_err());
        assert_eq!(s, 400);
        assert!(m.starts_with("Invalid Signature, Server StringToSign:GET\n"), "{m}");

        let (s, m) = text(check(&parts, &body, "secret", now() + Duration::from_secs(20 * 60)).unwrap_err());
        assert_eq!((s, m.as_str()), (400, "Timestamp Expired"));
        let (s, m) = text(check(&parts, &body, "secret", now() - Duration::from_secs(20 * 60)).unwrap_err());
        assert_eq!((s, m.as_str()), (400, "Timestamp Expired"));

        let mut p = parts.clone();
        p.headers.remove(X_CA_SIGNATURE);
        let (s, m) = text(check(&p, &body, "secret", now()).unwrap_err());
        assert_eq!((s, m.as_str()), (401, "Empty Signature"));

        let mut p = parts.clone();
        p.headers.insert(X_CA_TIMESTAMP, HeaderValue::from_static("soon"));
        let (s, m) = text(check(&p, &body, "secret", now()).unwrap_err());
        assert_eq!((s, m.as_str()), (400, "Invalid Timestamp"));

        let mut p = parts.clone();
        p.uri = "/a?x=2".parse().unwrap();
        assert_eq!(text(check(&p, &body, "secret", now()).unwrap_err()).0, 400);
        // a value appended under a signed name changes what is signed
        let mut p = parts.clone();
        p.uri = "/a?x=1&x=evil".parse().unwrap();
        assert_eq!(text(check(&p, &body, "secret", now()).unwrap_err()).0, 400);
    }

    #[test]
    fn content_md5_checked() {
        let (parts, body) = signed(Method::POST, "/j", Some("application/json"), br#"{"a":1}"#);
        assert!(parts.headers.contains_key("content-md5"));
        assert!(check(&parts, &body, "secret", now()).is_ok());
        let (s, m) = text(check(&parts, br#"{"a":2}"#, "secret", now()).unwrap_err());
        assert_eq!((s, m.as_str()), (400, "Invalid Content-MD5"));
    }

    #[test]
    fn form_body_is_signed() {
        let (parts, body) = signed(Method::POST, "/f", Some("application/x-www-form-urlencoded"), b"a=1&b=x+y");
        assert!(!parts.headers.contains_key("content-md5"));
        assert!(check(&parts, &body, "secret", now()).is_ok());
        assert!(check(&parts, b"a=1&b=x+z", "secret", now()).is_err());
    }

    #[test]
    fn sha1_method() {
        let s = AliyunApiGateway::new().signature_method(HmacAlg::Sha1);
        let (mut parts, ()) = http::Request::get("/").body(()).unwrap().into_parts();
        let mut body = Bytes::new();
        s.sign(&mut parts, &mut body, "app", &"secret".into(), now()).unwrap();
        assert_eq!(parts.headers[X_CA_SIGNATURE_METHOD], "HmacSHA1");
        assert!(check(&parts, &body, "secret", now()).is_ok());
    }
}
