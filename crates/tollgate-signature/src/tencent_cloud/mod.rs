//! Tencent Cloud API signatures: TC3-HMAC-SHA256 (`Authorization` header) and the older v1
//! (`Signature` parameter, HmacSHA1 or HmacSHA256), behind one verifier as the real
//! endpoint accepts both — what `tencentcloud-sdk-*` clients send.
//!
//! Every refusal is HTTP 200 with `Content-Type: application/json` and
//! `{"Response":{"Error":{"Code","Message"},"RequestId"}}`: with any other status the SDK
//! reports a network error.
//!
//! TC3 has no nonce, and Tencent's endpoint accepts an identical request sent twice (an SDK
//! retry, a poll), so a replay guard checks only the 5-minute window of a TC3 request by
//! default; [`remember_signatures`](TencentCloud::remember_signatures) makes it accept each
//! signature once within the window instead. v1's `Nonce` is required and remembered per key.
//!
//! What a request signs must be all a backend can read of it, one way. Refused with
//! `InvalidParameter` (the reference's code for a request it cannot take; the messages are
//! ours): a TC3 request other than GET with a query string (TC3 signs none; the SDKs send
//! none); a header the verifier reads sent more than once (`Authorization`, a signed
//! header, `X-TC-Timestamp`, `X-TC-Content-SHA256`; for v1 `Host` and `Content-Type`); v1
//! parameters given more than once, in both query and form, or as names signed alike
//! (`a_b` and `a.b`: `_` is signed as `.`), or not UTF-8 once percent-decoded. A TC3 GET
//! that announces a body has it read, so that its hash (the SDKs sign an empty one)
//! refuses it. TC3's `SignedHeaders` must list `content-type` and `host`, as Tencent
//! requires (`AuthFailure.InvalidAuthorization` otherwise).
//!
//! Temporary credentials: TC3 sends the token in `X-TC-Token` (not among the signed
//! headers, which the SDK keeps to `content-type;host`), v1 as the signed parameter `Token`.
//! Once the signature is verified, the [`SecretStore`](crate::SecretStore) is asked whether
//! the token goes with the SecretId; every refusal is `AuthFailure.TokenFailure` (message
//! `token error: ` and why), in the 200 envelope: a temporary key without a token, an empty
//! or unknown token, an expired one, one issued for another SecretId, and a token sent with a
//! key that needs none unless the store vouches for it. The token is read in one place per
//! scheme: a TC3 `Token` query parameter, a v1 `X-TC-Token` header and a repeated
//! `X-TC-Token` are refused (`InvalidParameter`).
//!
//! ```
//! use std::time::SystemTime;
//! use bytes::Bytes;
//! use http::{Request, Response, StatusCode};
//! use tollgate_signature::{MemorySecretStore, SignatureLayer, Signer, tencent_cloud::TencentCloud};
//! use tower::{ServiceExt, service_fn};
//! use tower_layer::Layer;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let (mut parts, ()) = Request::post("https://cvm.tencentcloudapi.com/")
//!     .header("content-type", "application/json")
//!     .header("x-tc-action", "DescribeInstances")
//!     .body(())
//!     .unwrap()
//!     .into_parts();
//! let mut body = Bytes::from_static(br#"{"Limit": 1}"#);
//! TencentCloud::new().sign(&mut parts, &mut body, "AKIDexample", &"s3cret".into(), SystemTime::now()).unwrap();
//!
//! let store = MemorySecretStore::new().with_key("AKIDexample", "s3cret");
//! let svc = SignatureLayer::new(TencentCloud::new(), store).layer(service_fn(|_req| async {
//!     Ok::<_, std::convert::Infallible>(Response::new(String::from("ok")))
//! }));
//! let response = svc.oneshot(Request::from_parts(parts, http_body_util::Full::new(body))).await.unwrap();
//! // Tencent answers refusals with 200 too: the body tells that the handler ran
//! let body = http_body_util::BodyExt::collect(response.into_body()).await.unwrap().to_bytes();
//! assert_eq!(body, "ok");
//! # }
//! ```

mod tc3;
mod v1;

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::header::{AUTHORIZATION, HOST};
use http::{HeaderMap, Method, StatusCode, Uri};
use tollgate_core::{ErrorStyle, Rejection, time_apart};

use crate::HmacAlg;
use crate::form::is_form;
use crate::header_text::{header_str, header_text};
use crate::mac::SignatureBytes;
use crate::name_order::Sought;
use crate::scheme::{Credentials, RequestView, Scheme, SignError, Signer, TokenProblem, Verified};
use crate::secret::{KeyForm, Secret};
use crate::sorted_params::Params;
use tc3::{
    ALGORITHM, Canonical, UNSIGNED, X_TC_CONTENT_SHA256, nonce_of, utc_date, write_tc3_canonical_request,
    write_tc3_string_to_sign,
};

pub use tc3::{tc3_canonical_request, tc3_signing_key, tc3_string_to_sign};
pub use v1::v1_string_to_sign;

/// The header a TC3 request's security token is sent in (not signed).
const X_TC_TOKEN: http::HeaderName = http::HeaderName::from_static("x-tc-token");

/// 9999-12-31T23:59:59Z: later timestamps are refused as malformed, whatever the window, so
/// the credential date can always be formatted.
const LAST_SECOND_OF_9999: u64 = 253_402_300_799;

/// How the signer signs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SignWith {
    Tc3,
    V1(HmacAlg),
}

/// The Tencent Cloud API signature schemes (TC3-HMAC-SHA256 and v1), verifier and signer.
#[derive(Debug, Clone)]
pub struct TencentCloud {
    window: Duration,
    services: Vec<String>,
    sign_with: SignWith,
    service: Option<String>,
    remember_signatures: bool,
}

impl Default for TencentCloud {
    fn default() -> Self {
        Self::new()
    }
}

impl TencentCloud {
    /// 5-minute window, any service in the credential scope; signs with TC3.
    pub fn new() -> Self {
        Self {
            window: Duration::from_secs(5 * 60),
            services: Vec::new(),
            sign_with: SignWith::Tc3,
            service: None,
            remember_signatures: false,
        }
    }

    /// How far the timestamp may be from now, either way (default 5 minutes; at most a day,
    /// [`MAX_WINDOW`](tollgate_core::MAX_WINDOW): a longer one is clamped to it).
    pub fn window(mut self, window: Duration) -> Self {
        self.window = window.min(tollgate_core::MAX_WINDOW);
        self
    }

    /// Gives a replay guard each TC3 request's signature to remember as its nonce, so an
    /// identical request is accepted once within the window (default off: Tencent's endpoint
    /// accepts an SDK's retry or a repeated poll, which send the same signature within a
    /// second). v1 requests always have their `Nonce` remembered.
    pub fn remember_signatures(mut self, on: bool) -> Self {
        self.remember_signatures = on;
        self
    }

    /// Accepts TC3 credential scopes naming only these services (default: any; the host
    /// may be an IP, so the scope's service is what the client chose). Naming them also
    /// bounds the work a caller can cause: each secret keeps the signing keys of its last
    /// four services and dates, and a request naming another costs a derivation (four
    /// HMACs): with any service accepted, a caller who cycles service names makes every
    /// request derive one.
    pub fn services<I: IntoIterator<Item = S>, S: Into<String>>(mut self, services: I) -> Self {
        self.services = services.into_iter().map(Into::into).collect();
        self
    }

    /// Signs with v1 and this HMAC instead of TC3.
    pub fn sign_v1(mut self, alg: HmacAlg) -> Self {
        self.sign_with = SignWith::V1(alg);
        self
    }

    /// The service a TC3 signature names (default: the first label of the host, as in
    /// `cvm.tencentcloudapi.com`).
    pub fn sign_service(mut self, service: impl Into<String>) -> Self {
        self.service = Some(service.into());
        self
    }
}

fn refusal(code: &'static str, message: impl Into<String>) -> Rejection {
    let message = message.into();
    // The neutral status says what happened; the Tencent style always answers 200.
    let status = match code {
        "MissingParameter" | "InvalidParameter" => StatusCode::BAD_REQUEST,
        _ => StatusCode::UNAUTHORIZED,
    };
    Rejection::new(status, code, message.clone()).with_policy("signature").with_tencent_cloud(code, message)
}

fn invalid_authorization(why: &str) -> Rejection {
    refusal("AuthFailure.InvalidAuthorization", format!("The Authorization header is malformed: {why}."))
}

/// What a Tencent Cloud request claims.
#[derive(Debug, Clone)]
pub enum Parsed<'r> {
    /// A TC3-HMAC-SHA256 `Authorization` header.
    Tc3 {
        /// SecretId.
        key: &'r str,
        /// Credential scope date (`YYYY-MM-DD`).
        date: &'r str,
        /// Credential scope service.
        service: &'r str,
        /// Signed header names, lower case (copied only if they were not), in order.
        signed_headers: Cow<'r, str>,
        /// The claimed signature.
        signature: [u8; 32],
    },
    /// A v1 `Signature` parameter.
    V1 {
        /// HMAC of the signature.
        alg: HmacAlg,
        /// The claimed signature, if it was valid Base64.
        signature: Option<SignatureBytes>,
        /// The first `SecretId`, decoded.
        key: Cow<'r, str>,
        /// The first `Timestamp`, decoded.
        timestamp: Option<Cow<'r, str>>,
        /// The first `Nonce`, decoded.
        nonce: Option<Cow<'r, str>>,
        /// Every parameter, sorted as the string to sign orders them.
        #[doc(hidden)]
        params: V1Params<'r>,
    },
}

/// A v1 request's parameters, as the string to sign is written from them.
#[derive(Debug, Clone)]
pub struct V1Params<'r>(Params<'r>);

/// The signer's refusal of a value that cannot be a header's.
fn not_a_header_value(what: &str) -> SignError {
    SignError::Invalid(format!("{what} is not a valid header value"))
}

/// The refusal of a request whose header `name` is sent more than once.
fn repeated_header(name: &str) -> Rejection {
    // No reference code; `InvalidParameter` is Tencent's for a request it cannot take.
    refusal("InvalidParameter", format!("The header `{name}` is sent more than once."))
}

/// Whether the request says a body follows (a non-zero `Content-Length`, or any
/// `Transfer-Encoding`).
fn announces_body(headers: &HeaderMap) -> bool {
    headers.contains_key(http::header::TRANSFER_ENCODING)
        || headers.get_all(http::header::CONTENT_LENGTH).iter().any(|v| v.as_bytes() != b"0")
}

/// Whether a query names a `Token` parameter (once decoded; a name that is not UTF-8 is not
/// `Token`).
fn names_a_token(query: &str) -> bool {
    // most queries name no `Token`, even escaped: no need to decode them
    if !query.contains("Token") && !query.contains('%') {
        return false;
    }
    let mut found = false;
    let _ = crate::form::each_param(query.as_bytes(), |name, _| found |= name == "Token");
    found
}

fn host_of<'a>(uri: &'a Uri, headers: &'a HeaderMap) -> &'a str {
    header_str(headers, HOST).or_else(|| uri.authority().map(|a| a.as_str())).unwrap_or("")
}

impl TencentCloud {
    fn check_time(&self, raw: Option<&str>, name: &str, now: SystemTime) -> Result<u64, Rejection> {
        let raw = raw.map(str::trim).filter(|r| !r.is_empty());
        let raw = raw.ok_or_else(|| refusal("MissingParameter", format!("The parameter `{name}` is required.")))?;
        let seconds = raw.parse::<u64>().ok().filter(|s| *s <= LAST_SECOND_OF_9999).ok_or_else(|| {
            refusal("InvalidParameter", format!("The parameter `{name}` is not a Unix time in seconds."))
        })?;
        let ts = UNIX_EPOCH + Duration::from_secs(seconds);
        let skew = time_apart(ts, now);
        if skew > self.window {
            return Err(self.expired());
        }
        Ok(seconds)
    }
}

impl Scheme for TencentCloud {
    type Parsed<'r> = Parsed<'r>;

    const NAME: &'static str = "tencent-cloud";
    const ERROR_STYLE: ErrorStyle = ErrorStyle::TencentCloud;

    fn window(&self) -> Duration {
        self.window
    }

    /// Only what is covered: a TC3 body unless `UNSIGNED-PAYLOAD`, and — with no
    /// `Authorization`, so v1 — a form body, which may carry the parameters. A v1 JSON body
    /// is not covered and streams through. A GET or HEAD is read only when it announces a
    /// body (the SDKs send none): TC3 signs an empty one, so the body hash refuses it, and
    /// the parameters of a v1 form body are signed like the others.
    fn needs_body(&self, method: &Method, headers: &HeaderMap) -> bool {
        if (method == Method::GET || method == Method::HEAD) && !announces_body(headers) {
            return false;
        }
        match headers.get(AUTHORIZATION) {
            Some(auth) => {
                let unsigned = header_str(headers, X_TC_CONTENT_SHA256).is_some_and(|v| v.trim() == UNSIGNED);
                auth.as_bytes().trim_ascii_start().starts_with(ALGORITHM.as_bytes()) && !unsigned
            }
            None => is_form(headers),
        }
    }

    fn parse<'r>(&self, req: &RequestView<'r>) -> Result<Parsed<'r>, Rejection> {
        let mut authorization = req.headers.get_all(AUTHORIZATION).iter();
        if let Some(auth) = authorization.next() {
            if authorization.next().is_some() {
                return Err(repeated_header(AUTHORIZATION.as_str()));
            }
            let auth = header_text(auth).ok_or_else(|| invalid_authorization("not visible ASCII"))?;
            return tc3::parse(auth.trim_ascii());
        }
        v1::parse(req)
    }

    fn key_id<'p>(&self, parsed: &'p Parsed<'_>) -> &'p str {
        match parsed {
            Parsed::Tc3 { key, .. } => key,
            Parsed::V1 { key, .. } => key,
        }
    }

    fn unknown_key(&self, _key_id: &str) -> Rejection {
        refusal("AuthFailure.SecretIdNotFound", "The SecretId is not found; check that it is right and enabled.")
    }

    /// TC3: the `X-TC-Token` header; v1: the `Token` parameter. Each where the SDK sends it
    /// and nowhere else: a TC3 request with a `Token` query parameter (a signed GET parameter
    /// a backend could take for the token) and a v1 request with an `X-TC-Token` header (not
    /// signed) are refused, as is an `X-TC-Token` sent twice or not visible ASCII.
    fn security_token<'a>(
        &self,
        req: &'a RequestView<'_>,
        parsed: &'a Parsed<'_>,
    ) -> Result<Option<Cow<'a, str>>, Rejection> {
        let mut headers = req.headers.get_all(&X_TC_TOKEN).iter();
        let header = headers.next();
        match parsed {
            Parsed::Tc3 { .. } => {
                if headers.next().is_some() {
                    return Err(repeated_header(X_TC_TOKEN.as_str()));
                }
                if req.uri.query().is_some_and(names_a_token) {
                    return Err(refusal(
                        "InvalidParameter",
                        "A TC3-HMAC-SHA256 request sends its token in the X-TC-Token header, not as a `Token` parameter.",
                    ));
                }
                let Some(header) = header else { return Ok(None) };
                let token = header_text(header).ok_or_else(|| self.token_refused("", TokenProblem::Malformed))?;
                Ok(Some(Cow::Borrowed(token.trim_ascii())))
            }
            Parsed::V1 { params, .. } => {
                if header.is_some() {
                    return Err(refusal(
                        "InvalidParameter",
                        "A v1 request sends its token as the signed `Token` parameter, not in the X-TC-Token header.",
                    ));
                }
                let [at] = params.0.first_of_each(&[Sought::new("Token")]);
                Ok(params.0.keep(at))
            }
        }
    }

    /// Tencent answers every token problem alike: `AuthFailure.TokenFailure`.
    fn token_refused(&self, _key_id: &str, problem: TokenProblem) -> Rejection {
        let why = match problem {
            TokenProblem::Missing => "this SecretId is temporary and the request carries no token",
            TokenProblem::Malformed => "the token is empty or not known",
            TokenProblem::Expired => "the token has expired",
            TokenProblem::MismatchWithKey => "the token was issued for another SecretId",
        };
        refusal("AuthFailure.TokenFailure", format!("token error: {why}."))
    }

    fn verify(
        &self,
        req: &RequestView<'_>,
        parsed: &Parsed<'_>,
        secrets: &[Secret],
        now: SystemTime,
    ) -> Result<Verified, Rejection> {
        let mismatch = || refusal("AuthFailure.SignatureFailure", "The request signature does not match ours.");
        match parsed {
            Parsed::Tc3 { date, service, signed_headers, signature, .. } => {
                if req.method != Method::GET && req.uri.query().is_some_and(|q| !q.is_empty()) {
                    return Err(refusal(
                        "InvalidParameter",
                        "A TC3-HMAC-SHA256 request other than GET carries no query string: it would not be signed.",
                    ));
                }
                let Canonical { bytes: canonical, timestamp, repeated } = write_tc3_canonical_request(
                    req.method,
                    req.uri,
                    req.headers,
                    signed_headers,
                    req.body.unwrap_or_default(),
                );
                if let Some(name) = repeated {
                    return Err(repeated_header(name));
                }
                let ts = self.check_time(timestamp.and_then(header_text), "X-TC-Timestamp", now)?;
                if *date != utc_date(ts).as_str() {
                    return Err(refusal(
                        "AuthFailure.SignatureFailure",
                        "The credential scope's date is not the UTC date of X-TC-Timestamp.",
                    ));
                }
                if !self.services.is_empty() && !self.services.iter().any(|s| s == service) {
                    return Err(invalid_authorization(
                        "the credential scope names a service this endpoint does not serve",
                    ));
                }
                let sts = write_tc3_string_to_sign(ts, date, service, &canonical);
                let ok = secrets.iter().any(|s| {
                    s.verify_derived_sha256(
                        &[date, "/", service],
                        |secret| tc3_signing_key(secret, date, service),
                        &sts,
                        signature,
                    )
                });
                if !ok {
                    return Err(mismatch());
                }
                let nonce = self.remember_signatures.then(|| nonce_of(signature));
                Ok(Verified { nonce, timestamp: Some(UNIX_EPOCH + Duration::from_secs(ts)) })
            }
            Parsed::V1 { alg, signature, timestamp, nonce, params, .. } => {
                let ts = self.check_time(timestamp.as_deref(), "Timestamp", now)?;
                let nonce = nonce
                    .as_deref()
                    .filter(|n| !n.is_empty())
                    .ok_or_else(|| refusal("MissingParameter", "The parameter `Nonce` is required."))?;
                let (host, path) = (host_of(req.uri, req.headers), req.uri.path());
                let sts = v1::write_string_to_sign(req.method, host, path, &params.0);
                let ok = signature.is_some_and(|claimed| {
                    secrets.iter().any(|s| s.verify_hmac(*alg, KeyForm::Plain, &sts, claimed.as_bytes()))
                });
                if !ok {
                    return Err(mismatch());
                }
                Ok(Verified { nonce: Some(Arc::from(nonce)), timestamp: Some(UNIX_EPOCH + Duration::from_secs(ts)) })
            }
        }
    }

    fn replayed(&self) -> Rejection {
        refusal(
            "AuthFailure.SignatureFailure",
            "The request was already used: its nonce (or signature) was seen before.",
        )
    }

    fn expired(&self) -> Rejection {
        refusal(
            "AuthFailure.SignatureExpire",
            format!(
                "The request timestamp is more than {} seconds from the server's time; check the client's clock.",
                self.window.as_secs()
            ),
        )
    }
}

impl Signer for TencentCloud {
    fn needs_body(&self, method: &Method, _headers: &HeaderMap) -> bool {
        method != Method::GET && method != Method::HEAD
    }

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

    /// Sends the token as `X-TC-Token` (TC3, not signed) or `Token` (v1, signed), as
    /// `tencentcloud-sdk-python`'s `Credential(id, key, token)` does.
    fn sign_with_token(
        &self,
        parts: &mut http::request::Parts,
        body: &mut Bytes,
        key_id: &str,
        secret: &Secret,
        token: Option<&str>,
        now: SystemTime,
    ) -> Result<(), SignError> {
        let credentials = Credentials { key_id, secret, token };
        let ts = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        let host = host_of(&parts.uri, &parts.headers).to_owned();
        if host.is_empty() {
            return Err(SignError::Invalid("the request names no host".into()));
        }
        match self.sign_with {
            SignWith::Tc3 => tc3::sign(self.service.as_deref(), parts, body, credentials, ts, &host),
            SignWith::V1(alg) => v1::sign(alg, parts, body, credentials, ts, &host),
        }
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;
    use http::header::CONTENT_TYPE;
    use tollgate_core::Ecosystem;

    use super::*;

    /// Parses and verifies `parts` with `body`, as the layer does.
    fn check(parts: &http::request::Parts, body: &[u8]) -> Result<Verified, Rejection> {
        let scheme = TencentCloud::new();
        let body = Scheme::needs_body(&scheme, &parts.method, &parts.headers).then_some(body);
        let view = RequestView { method: &parts.method, uri: &parts.uri, headers: &parts.headers, body };
        let parsed = scheme.parse(&view)?;
        let now = UNIX_EPOCH + Duration::from_secs(1_795_364_129);
        scheme.verify(&view, &parsed, &[Secret::from("s")], now)
    }

    fn signed(signer: &TencentCloud, method: Method, target: &str, body: &'static [u8]) -> http::request::Parts {
        let (mut parts, ()) = http::Request::builder().method(method).uri(target).body(()).unwrap().into_parts();
        let now = UNIX_EPOCH + Duration::from_secs(1_795_364_129);
        signer.sign(&mut parts, &mut Bytes::from_static(body), "AKID", &Secret::from("s"), now).unwrap();
        parts
    }

    #[test]
    fn headers_read_more_than_once_are_refused() {
        let code = |r: Result<Verified, Rejection>| r.unwrap_err().code_for(Ecosystem::TencentCloud).to_owned();
        let v1 = signed(&TencentCloud::new().sign_v1(HmacAlg::Sha1), Method::GET, "http://cvm.example/?Action=A", b"");
        assert!(check(&v1, b"").is_ok());
        for name in [HOST, CONTENT_TYPE] {
            let mut p = v1.clone();
            p.headers.append(name.clone(), HeaderValue::from_static("application/x-www-form-urlencoded"));
            p.headers.append(name.clone(), HeaderValue::from_static("other"));
            assert_eq!(code(check(&p, b"")), "InvalidParameter", "{name}");
        }
        let tc3 = signed(&TencentCloud::new(), Method::POST, "http://cvm.example/", b"{}");
        assert!(check(&tc3, b"{}").is_ok());
        for name in ["x-tc-content-sha256", "x-tc-timestamp", "host"] {
            let mut p = tc3.clone();
            p.headers.append(name, HeaderValue::from_static("UNSIGNED-PAYLOAD"));
            if name == "x-tc-content-sha256" {
                p.headers.append(name, HeaderValue::from_static("UNSIGNED-PAYLOAD"));
            }
            assert_eq!(code(check(&p, b"{}")), "InvalidParameter", "{name}");
        }
    }

    #[test]
    fn signers_refuse_what_the_verifier_refuses() {
        let at = UNIX_EPOCH + Duration::from_secs(1_795_364_129);
        let sign = |signer: TencentCloud, method: Method, target: &str, headers: &[(&str, &str)]| {
            let mut b = http::Request::builder().method(method).uri(target);
            for (k, v) in headers {
                b = b.header(*k, *v);
            }
            let (mut parts, ()) = b.body(()).unwrap().into_parts();
            signer.sign(&mut parts, &mut Bytes::new(), "AKID", &Secret::from("s"), at)
        };
        let v1 = || TencentCloud::new().sign_v1(HmacAlg::Sha1);
        assert!(sign(v1(), Method::GET, "http://cvm.example/?a=%FF", &[]).is_err());
        assert!(sign(v1(), Method::GET, "http://cvm.example/?a_b=1&a.b=2", &[]).is_err());
        assert!(sign(TencentCloud::new(), Method::POST, "http://cvm.example/?a=1", &[]).is_err());
        let twice = [("content-type", "application/json"), ("content-type", "text/plain")];
        assert!(sign(TencentCloud::new(), Method::POST, "http://cvm.example/", &twice).is_err());
        assert!(sign(TencentCloud::new(), Method::GET, "http://cvm.example/?a=1&a=2", &[]).is_ok());
    }

    #[test]
    fn a_query_names_a_token_however_it_is_escaped() {
        for query in ["Token=x", "a=1&Token=", "%54oken=x", "T%6Fken=1", "a=%20&Token"] {
            assert!(names_a_token(query), "{query}");
        }
        for query in ["", "Tokens=1", "a=Token", "xToken=1", "token=1", "a=%54oken", "%FF=1"] {
            assert!(!names_a_token(query), "{query}");
        }
    }

    #[test]
    fn far_future_timestamp_is_malformed_even_with_an_endless_window() {
        let scheme = TencentCloud::new().window(Duration::MAX);
        let err = scheme.check_time(Some("99999999999999"), "X-TC-Timestamp", SystemTime::now()).unwrap_err();
        assert_eq!(err.code_for(Ecosystem::TencentCloud), "InvalidParameter");
        // well formed, but an endless window is a day: expired
        let err = scheme.check_time(Some("253402300799"), "X-TC-Timestamp", SystemTime::now()).unwrap_err();
        assert_eq!(err.code_for(Ecosystem::TencentCloud), "AuthFailure.SignatureExpire");
        let in_a_day = SystemTime::now() + tollgate_core::MAX_WINDOW - Duration::from_secs(5);
        let ts = in_a_day.duration_since(UNIX_EPOCH).unwrap().as_secs().to_string();
        assert!(scheme.check_time(Some(&ts), "X-TC-Timestamp", SystemTime::now()).is_ok());
    }
}
