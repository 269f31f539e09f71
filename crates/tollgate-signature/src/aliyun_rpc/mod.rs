//! Aliyun RPC (POP) OpenAPI signature v1: `AccessKeyId`, `Signature`, `SignatureNonce`,
//! `Timestamp` among the query (or form) parameters, as `aliyun-python-sdk-core` and the
//! other POP SDKs send them.
//!
//! The string to sign is `METHOD&%2F&` + the RFC 3986 encoding of the sorted, encoded
//! parameters; the key is the secret followed by `&`. HMAC-SHA1 is the SDKs' method;
//! `SignatureMethod=HMAC-SHA256` is accepted too. Refusals are the JSON
//! `{"RequestId","HostId","Code","Message"}` the SDKs parse (the neutral code is the same
//! `Code`):
//!
//! | check, in this order | status | `Code` | `Message` |
//! |---|---|---|---|
//! | no `Signature` | 400 | `MissingSignature` | `Signature is mandatory for this action.` |
//! | unknown (or missing) `AccessKeyId` | 404 | `InvalidAccessKeyId.NotFound` | `Specified access key is not found.` |
//! | disabled key | 400 | `InvalidAccessKeyId.Inactive` | `Specified access key is disabled.` |
//! | `Timestamp` missing or not `YYYY-MM-DDThh:mm:ssZ` | 400 | `InvalidTimeStamp.Format` | `Specified time stamp or date value is not well formatted.` |
//! | more than the window (15 min) off, either way | 400 | `InvalidTimeStamp.Expired` | `Specified time stamp or date value is expired.` |
//! | mismatch | 400 | `SignatureDoesNotMatch` | `Specified signature is not matched with our calculation. server string to sign is:` + the string to sign |
//! | `SecurityToken` of a temporary key: missing | 400 | `MissingSecurityToken` | `SecurityToken is mandatory for this action.` |
//! | ... expired | 403 | `InvalidSecurityToken.Expired` | `Specified SecurityToken is expired.` |
//! | ... empty or unknown to the store | 400 | `InvalidSecurityToken.Malformed` | `Specified SecurityToken is malformed.` |
//! | ... issued for another key | 403 | `InvalidSecurityToken.MismatchWithAccessKey` | `Specified SecurityToken mismatch with the AccessKey.` |
//! | nonce used again (by a replay guard) | 400 | `SignatureNonceUsed` | `Specified signature nonce was used already.` |
//!
//! A mismatch carries the server's string to sign exactly, so the SDK can tell a wrong
//! secret (`InvalidAccessKeySecret`) from a changed request (`SignatureDoesNotMatch`).
//! A `SignatureMethod` other than `HMAC-SHA1` / `HMAC-SHA256` is refused before the key
//! lookup (`InvalidSignatureMethod`, 400, our wording).
//!
//! Temporary credentials (STS): `SecurityToken` is a signed parameter, as
//! `StsTokenCredential` sends it; the [`SecretStore`](crate::SecretStore) is asked whether it
//! goes with the `AccessKeyId` ([`check_token`](crate::SecretStore::check_token)) once the
//! signature is verified, so only a holder of the secret learns what a token is worth. The
//! statuses of `.Malformed` (400) and `.MismatchWithAccessKey` (403) were not seen in the
//! reference (UNCERTAIN); 400 is its status for a request it cannot read, 403 for a credential
//! it will not honour, as for `.Expired`. A token the store does not know is `.Malformed`:
//! an STS token is parsed by the reference, and one it cannot read is malformed. A token sent
//! with a key that needs none is checked all the same (and refused unless the store vouches
//! for it), and the `x-acs-security-token` header (the SDK's for ROA requests) is refused on
//! an RPC request, so that no token reaches a backend unchecked.
//!
//! Choices: every parameter is signed, the query's and a form body's. Parameters that can
//! be read more than one way are refused before the key lookup (400, `InvalidParameter`,
//! the reference's code for a parameter it cannot take; the messages are ours): a name
//! given several times or in both places (which value an application reads would be its
//! own choice; the SDKs send every name once, lists as `Name.1`, `Name.2`), a name or
//! value that is not UTF-8 once percent-decoded (`%FF` and `%FE` would both read as
//! U+FFFD), and a repeated `Content-Type` (it decides whether the body's parameters are
//! signed). A raw non-form body (JSON) is not covered and passes through. A request
//! without `SignatureNonce` is verified, but the SDKs always send one, so a replay guard
//! behind the verifier refuses it (`MissingSignatureNonce`) unless told otherwise.
//!
//! ```
//! use std::time::SystemTime;
//! use bytes::Bytes;
//! use http::{Request, Response, StatusCode};
//! use http_body_util::BodyExt;
//! use tollgate_signature::{MemorySecretStore, SignatureLayer, Signer, aliyun_rpc::AliyunRpc};
//! use tower::{ServiceExt, service_fn};
//! use tower_layer::Layer;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! // client side: sign (adds AccessKeyId, Timestamp, SignatureNonce, ..., Signature to the query)
//! let sign = |secret: &str| {
//!     let (mut parts, ()) = Request::get("/?Action=DescribeRegions&Version=2014-05-26").body(()).unwrap().into_parts();
//!     let mut body = Bytes::new();
//!     AliyunRpc::new().sign(&mut parts, &mut body, "LTAIexample", &secret.into(), SystemTime::now()).unwrap();
//!     Request::from_parts(parts, http_body_util::Full::new(body))
//! };
//!
//! // server side: verify
//! let store = MemorySecretStore::new().with_key("LTAIexample", "s3cret");
//! let svc = SignatureLayer::new(AliyunRpc::new(), store).layer(service_fn(|_req| async {
//!     Ok::<_, std::convert::Infallible>(Response::new(String::from("ok")))
//! }));
//! assert_eq!(svc.clone().oneshot(sign("s3cret")).await.unwrap().status(), StatusCode::OK);
//!
//! let refused = svc.oneshot(sign("not-the-secret")).await.unwrap();
//! assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
//! let body = refused.into_body().collect().await.unwrap().to_bytes();
//! let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
//! assert_eq!(json["Code"], "SignatureDoesNotMatch");
//! assert!(json["Message"].as_str().unwrap().contains("server string to sign is:GET&%2F&AccessKeyId%3DLTAIexample"));
//! # }
//! ```

mod sign;
mod string_to_sign;

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http::header::CONTENT_TYPE;
use http::{HeaderMap, Method, StatusCode};
use tollgate_core::{ErrorStyle, Rejection, time_apart};

use crate::HmacAlg;
use crate::form::{AmbiguousParams, form_body, is_form};
use crate::mac::SignatureBytes;
use crate::name_order::{NameOrder, Sought};
use crate::scheme::{RequestView, Scheme, TokenProblem, Verified};
use crate::secret::{KeyForm, Secret};
use crate::sorted_params::Params;

pub use string_to_sign::string_to_sign;
use string_to_sign::{write_sorted, write_sorted_raw};

/// The header an Aliyun SDK sends an ROA request's security token in.
/// A constant: a `&str` name would be parsed on every request.
const ACS_SECURITY_TOKEN: http::HeaderName = http::HeaderName::from_static("x-acs-security-token");

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

    /// How far `Timestamp` may be from now, either way (default 15 minutes; at most a day,
    /// [`MAX_WINDOW`](tollgate_core::MAX_WINDOW): a longer one is clamped to it).
    pub fn window(mut self, window: Duration) -> Self {
        self.window = window.min(tollgate_core::MAX_WINDOW);
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

/// A parameter or header that can be read more than one way. The reference has no code
/// of its own for it; `InvalidParameter` is its code for a parameter it cannot take.
fn invalid_parameter(message: &'static str) -> Rejection {
    refusal(StatusCode::BAD_REQUEST, "InvalidParameter", message)
}

fn ambiguous_message(ambiguity: AmbiguousParams) -> &'static str {
    match ambiguity {
        AmbiguousParams::QueryAndForm => "Specified parameter is in both the query and the form body.",
        AmbiguousParams::Repeated => "Specified parameter is given more than once.",
        AmbiguousParams::NotUtf8 => "Specified parameter is not UTF-8 once percent-decoded.",
    }
}

/// What an RPC request claims.
#[derive(Debug, Clone)]
pub struct Parsed<'r> {
    /// Every parameter, sorted by name with each name's pairs in the order sent: the string
    /// to sign is written from it.
    params: Params<'r>,
    /// The first `AccessKeyId` and `SignatureNonce`, decoded.
    key: Cow<'r, str>,
    nonce: Option<Cow<'r, str>>,
    /// `SecurityToken`, decoded (there is at most one: a repeated name is refused).
    token: Option<Cow<'r, str>>,
    /// The first `Timestamp`, read (`None` if absent or not well formed).
    timestamp: Option<SystemTime>,
    signature: Option<SignatureBytes>,
    alg: HmacAlg,
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
    type Parsed<'r> = Parsed<'r>;

    const NAME: &'static str = "aliyun-rpc";
    const ERROR_STYLE: ErrorStyle = ErrorStyle::AliyunRpc;

    fn window(&self) -> Duration {
        self.window
    }

    fn needs_body(&self, _method: &Method, headers: &HeaderMap) -> bool {
        is_form(headers)
    }

    fn parse<'r>(&self, req: &RequestView<'r>) -> Result<Parsed<'r>, Rejection> {
        // Which body is a form decides which parameters are signed: one reading only.
        if req.headers.get_all(CONTENT_TYPE).iter().nth(1).is_some() {
            return Err(invalid_parameter("Specified header Content-Type is sent more than once."));
        }
        let params = Params::sorted(req.uri.query().unwrap_or(""), form_body(req), NameOrder::Bytes)
            .map_err(|ambiguity| invalid_parameter(ambiguous_message(ambiguity)))?;
        const SOUGHT: [Sought; 6] = [
            Sought::new("Signature"),
            Sought::new("SignatureMethod"),
            Sought::new("AccessKeyId"),
            Sought::new("Timestamp"),
            Sought::new("SignatureNonce"),
            Sought::new("SecurityToken"),
        ];
        let [signature, method, key, timestamp, nonce, token] = params.first_of_each(&SOUGHT);
        // a value read once is decoded on the stack; one kept, only if it needs it
        let mut buf = [0u8; 128];
        let signature = match params.read(signature, &mut buf) {
            Some(s) if !s.is_empty() => SignatureBytes::from_base64(&s),
            _ => {
                return Err(refusal(
                    StatusCode::BAD_REQUEST,
                    "MissingSignature",
                    "Signature is mandatory for this action.",
                ));
            }
        };
        let alg = match params.read(method, &mut buf).as_deref() {
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
        let timestamp = params.read(timestamp, &mut buf).as_deref().and_then(parse_timestamp);
        let (key, nonce, token) = (params.keep(key).unwrap_or_default(), params.keep(nonce), params.keep(token));
        Ok(Parsed { key, nonce, token, timestamp, params, signature, alg })
    }

    fn key_id<'p>(&self, parsed: &'p Parsed<'_>) -> &'p str {
        &parsed.key
    }

    fn unknown_key(&self, _key_id: &str) -> Rejection {
        refusal(StatusCode::NOT_FOUND, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
    }

    fn disabled_key(&self, _key_id: &str) -> Rejection {
        refusal(StatusCode::BAD_REQUEST, "InvalidAccessKeyId.Inactive", "Specified access key is disabled.")
    }

    /// `SecurityToken`, a signed parameter as `StsTokenCredential` sends it. The header
    /// `x-acs-security-token` (where the SDK puts the token of an ROA request) is refused on
    /// an RPC request, alone or beside the parameter: it is not signed here, and a backend
    /// reading it would take an unchecked token for a checked one.
    fn security_token<'a>(
        &self,
        req: &'a RequestView<'_>,
        parsed: &'a Parsed<'_>,
    ) -> Result<Option<Cow<'a, str>>, Rejection> {
        if req.headers.contains_key(ACS_SECURITY_TOKEN) {
            return Err(invalid_parameter(
                "Specified header x-acs-security-token is not read on an RPC request: send the SecurityToken parameter.",
            ));
        }
        Ok(parsed.token.as_deref().map(Cow::Borrowed))
    }

    fn token_refused(&self, _key_id: &str, problem: TokenProblem) -> Rejection {
        match problem {
            TokenProblem::Missing => {
                refusal(StatusCode::BAD_REQUEST, "MissingSecurityToken", "SecurityToken is mandatory for this action.")
            }
            TokenProblem::Expired => {
                refusal(StatusCode::FORBIDDEN, "InvalidSecurityToken.Expired", "Specified SecurityToken is expired.")
            }
            TokenProblem::MismatchWithKey => refusal(
                StatusCode::FORBIDDEN,
                "InvalidSecurityToken.MismatchWithAccessKey",
                "Specified SecurityToken mismatch with the AccessKey.",
            ),
            TokenProblem::Malformed => refusal(
                StatusCode::BAD_REQUEST,
                "InvalidSecurityToken.Malformed",
                "Specified SecurityToken is malformed.",
            ),
        }
    }

    fn verify(
        &self,
        req: &RequestView<'_>,
        parsed: &Parsed<'_>,
        secrets: &[Secret],
        now: SystemTime,
    ) -> Result<Verified, Rejection> {
        let timestamp = parsed.timestamp.ok_or_else(|| {
            refusal(
                StatusCode::BAD_REQUEST,
                "InvalidTimeStamp.Format",
                "Specified time stamp or date value is not well formatted.",
            )
        })?;
        if time_apart(timestamp, now) > self.window {
            return Err(self.expired());
        }
        let sts = match &parsed.params {
            Params::Raw(params) => write_sorted_raw(req.method, params),
            Params::Decoded(params) => write_sorted(req.method, params),
        };
        let matches = parsed.signature.is_some_and(|claimed| {
            secrets.iter().any(|s| s.verify_hmac(parsed.alg, KeyForm::Ampersand, &sts, claimed.as_bytes()))
        });
        if !matches {
            return Err(refusal(
                StatusCode::BAD_REQUEST,
                "SignatureDoesNotMatch",
                format!(
                    "Specified signature is not matched with our calculation. server string to sign is:{}",
                    String::from_utf8_lossy(&sts)
                ),
            ));
        }
        let nonce = parsed.nonce.as_deref().filter(|n| !n.is_empty()).map(Arc::from);
        Ok(Verified { nonce, timestamp: Some(timestamp) })
    }

    fn replayed(&self) -> Rejection {
        refusal(StatusCode::BAD_REQUEST, "SignatureNonceUsed", "Specified signature nonce was used already.")
    }

    /// The SDKs always send `SignatureNonce`: a replay guard refuses a request without one
    /// (worded as the API's other `Missing*` answers).
    fn missing_nonce(&self) -> Option<Rejection> {
        Some(refusal(StatusCode::BAD_REQUEST, "MissingSignatureNonce", "SignatureNonce is mandatory for this action."))
    }

    fn expired(&self) -> Rejection {
        refusal(StatusCode::BAD_REQUEST, "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.")
    }
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use bytes::Bytes;
    use tollgate_core::Ecosystem;

    use super::*;
    use crate::form::decoded_pairs;
    use crate::scheme::Signer;

    const NOW: u64 = 1_700_000_000; // 2023-11-14T22:13:20Z
    const SECRET: &str = "secret";
    const MISMATCH: &str = "Specified signature is not matched with our calculation. server string to sign is:";

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(NOW)
    }

    fn signed_with(s: &AliyunRpc, target: &str) -> http::request::Parts {
        let (mut parts, ()) = http::Request::get(target).body(()).unwrap().into_parts();
        s.sign(&mut parts, &mut Bytes::new(), "ak", &SECRET.into(), now()).unwrap();
        parts
    }

    fn signed(target: &str) -> http::request::Parts {
        signed_with(&AliyunRpc::new(), target)
    }

    fn check_body(
        parts: &http::request::Parts,
        body: Option<&[u8]>,
        secret: &str,
        at: SystemTime,
    ) -> Result<Verified, Rejection> {
        let s = AliyunRpc::new();
        let view = RequestView { method: &parts.method, uri: &parts.uri, headers: &parts.headers, body };
        let parsed = s.parse(&view)?;
        s.verify(&view, &parsed, &[Secret::from(secret)], at)
    }

    fn check(parts: &http::request::Parts, secret: &str, at: SystemTime) -> Result<Verified, Rejection> {
        check_body(parts, None, secret, at)
    }

    /// Status, `Code`, `Message`; and the neutral code must be the `Code`.
    fn answer(r: Rejection) -> (u16, String, String) {
        let e = Ecosystem::AliyunRpc;
        assert_eq!(r.code(), r.code_for(e));
        (r.status_for(e).as_u16(), r.code_for(e).to_owned(), r.message_for(e).to_owned())
    }

    fn expect(r: Result<Verified, Rejection>, status: u16, code: &str, message: &str) {
        assert_eq!(answer(r.unwrap_err()), (status, code.to_owned(), message.to_owned()));
    }

    /// The target with one `name=value` pair replaced (or removed when `to` is empty).
    fn replace(parts: &http::request::Parts, name: &str, to: &str) -> http::request::Parts {
        let query = parts.uri.query().unwrap_or("");
        let kept: Vec<String> = query
            .split('&')
            .filter_map(|kv| {
                if kv.split('=').next() == Some(name) {
                    (!to.is_empty()).then(|| to.to_owned())
                } else {
                    Some(kv.to_owned())
                }
            })
            .collect();
        let mut p = parts.clone();
        p.uri = format!("{}?{}", parts.uri.path(), kept.join("&")).parse().unwrap();
        p
    }

    #[test]
    fn ambiguous_requests_are_refused_and_not_signed() {
        let parts = signed("/?Action=Pay");
        assert!(check(&parts, SECRET, now()).is_ok());
        // a repeated Content-Type decides whether the body's parameters are signed
        let mut p = parts.clone();
        p.headers.append(CONTENT_TYPE, http::HeaderValue::from_static("application/x-www-form-urlencoded"));
        p.headers.append(CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
        let message = "Specified header Content-Type is sent more than once.";
        expect(check_body(&p, Some(b"Action=Refund"), SECRET, now()), 400, "InvalidParameter", message);
        // a name repeated in the form, or in both places
        let mut p = parts.clone();
        p.headers.insert(CONTENT_TYPE, http::HeaderValue::from_static("application/x-www-form-urlencoded"));
        let repeated = "Specified parameter is given more than once.";
        expect(check_body(&p, Some(b"a=1&a=2"), SECRET, now()), 400, "InvalidParameter", repeated);
        let both = "Specified parameter is in both the query and the form body.";
        expect(check_body(&p, Some(b"Action=Refund"), SECRET, now()), 400, "InvalidParameter", both);
        // names that decode alike are one name
        let p = replace(&parts, "Action", "Action=Pay&Actio%6E=Refund");
        expect(check(&p, SECRET, now()), 400, "InvalidParameter", repeated);
        // the signer refuses what the verifier would
        for (target, content_type, body) in [
            ("/?a=%FF", "text/plain", &b""[..]),
            ("/?a=1&a=2", "text/plain", b""),
            ("/?a=1", "application/x-www-form-urlencoded", b"a=2"),
            ("/?b=1", "application/x-www-form-urlencoded", b"a=%FE"),
            ("/?b=1", "application/x-www-form-urlencoded", b"Signature=x"),
        ] {
            let (mut parts, ()) =
                http::Request::post(target).header("content-type", content_type).body(()).unwrap().into_parts();
            let signed = AliyunRpc::new().sign_with_nonce(&mut parts, body, "ak", &SECRET.into(), now(), "n");
            assert!(signed.is_err(), "{target} {body:?}");
        }
    }

    #[test]
    fn round_trip() {
        let parts = signed("/?Action=Echo&name=%E5%BC%A0%20%2B");
        let v = check(&parts, SECRET, now()).unwrap();
        let nonce = v.nonce.unwrap();
        assert_eq!(nonce.len(), 32);
        assert!(parts.uri.query().unwrap().contains(&format!("SignatureNonce={nonce}")));
        assert_eq!(v.timestamp, Some(now()));
        let sha256 = signed_with(&AliyunRpc::new().signature_method(HmacAlg::Sha256), "/?Action=Echo");
        assert!(sha256.uri.query().unwrap().contains("SignatureMethod=HMAC-SHA256"));
        assert!(check(&sha256, SECRET, now()).is_ok());
    }

    #[test]
    fn signer_writes_the_query_as_the_python_sdk_does() {
        let (mut parts, ()) = http::Request::get("/?Timestamp=old&Action=Echo&Signature=stale&v=a%20b*~%2F")
            .body(())
            .unwrap()
            .into_parts();
        AliyunRpc::new().sign_with_nonce(&mut parts, b"", "ak", &SECRET.into(), now(), "n1").unwrap();
        let q = parts.uri.query().unwrap();
        let (head, signature) = q.rsplit_once("&Signature=").unwrap();
        assert_eq!(
            head,
            "Timestamp=2023-11-14T22%3A13%3A20Z&Action=Echo&v=a%20b%2A~%2F&SignatureMethod=HMAC-SHA1&SignatureType=\
             &SignatureVersion=1.0&SignatureNonce=n1&AccessKeyId=ak&Format=JSON"
        );
        assert!(!signature.contains('&'));
        assert!(check(&parts, SECRET, now()).is_ok());
        // a Format of the caller's stays where it is
        let (mut parts, ()) = http::Request::get("/?Format=XML&Action=Echo").body(()).unwrap().into_parts();
        AliyunRpc::new().sign_with_nonce(&mut parts, b"", "ak", &SECRET.into(), now(), "n1").unwrap();
        assert!(parts.uri.query().unwrap().starts_with("Format=XML&Action=Echo&Timestamp="));
    }

    #[test]
    fn row_missing_signature() {
        let parts = signed("/?Action=Echo");
        let text = "Signature is mandatory for this action.";
        expect(check(&replace(&parts, "Signature", ""), SECRET, now()), 400, "MissingSignature", text);
        expect(check(&replace(&parts, "Signature", "Signature="), SECRET, now()), 400, "MissingSignature", text);
        // before the key: even without AccessKeyId
        let p = replace(&replace(&parts, "Signature", ""), "AccessKeyId", "");
        expect(check(&p, SECRET, now()), 400, "MissingSignature", text);
    }

    #[test]
    fn row_unknown_key() {
        let s = AliyunRpc::new();
        let r = s.unknown_key("LTAIother");
        assert_eq!(answer(r), (404, "InvalidAccessKeyId.NotFound".into(), "Specified access key is not found.".into()));
        // a missing AccessKeyId is looked up as the empty id: not found
        let p = replace(&signed("/?Action=Echo"), "AccessKeyId", "");
        let view = RequestView { method: &p.method, uri: &p.uri, headers: &p.headers, body: None };
        assert_eq!(s.key_id(&s.parse(&view).unwrap()), "");
    }

    #[test]
    fn row_disabled_key() {
        let r = AliyunRpc::new().disabled_key("ak");
        assert_eq!(answer(r), (400, "InvalidAccessKeyId.Inactive".into(), "Specified access key is disabled.".into()));
    }

    #[test]
    fn row_bad_timestamp_format() {
        let parts = signed("/?Action=Echo");
        let text = "Specified time stamp or date value is not well formatted.";
        for bad in ["Timestamp=2023-11-14", "Timestamp=1700000000", "Timestamp=2023-11-14T22%3A13%3A20", "Timestamp="] {
            expect(check(&replace(&parts, "Timestamp", bad), SECRET, now()), 400, "InvalidTimeStamp.Format", text);
        }
        expect(check(&replace(&parts, "Timestamp", ""), SECRET, now()), 400, "InvalidTimeStamp.Format", text);
    }

    #[test]
    fn row_expired_either_way() {
        let parts = signed("/?Action=Echo");
        let text = "Specified time stamp or date value is expired.";
        for at in [now() + Duration::from_secs(901), now() - Duration::from_secs(901)] {
            expect(check(&parts, SECRET, at), 400, "InvalidTimeStamp.Expired", text);
            // before the signature
            expect(check(&parts, "wrong", at), 400, "InvalidTimeStamp.Expired", text);
        }
        assert!(check(&parts, SECRET, now() + Duration::from_secs(900)).is_ok());
        let short = AliyunRpc::new().window(Duration::from_secs(60));
        let view = RequestView { method: &parts.method, uri: &parts.uri, headers: &parts.headers, body: None };
        let parsed = short.parse(&view).unwrap();
        assert!(short.verify(&view, &parsed, &[SECRET.into()], now() + Duration::from_secs(61)).is_err());
        assert_eq!(answer(short.expired()), (400, "InvalidTimeStamp.Expired".into(), text.into()));
    }

    #[test]
    fn row_mismatch_carries_the_string_to_sign_exactly() {
        let parts = signed("/?Action=Echo&name=%E5%BC%A0%20%2B");
        let (status, code, message) = answer(check(&parts, "wrong", now()).unwrap_err());
        assert_eq!((status, code.as_str()), (400, "SignatureDoesNotMatch"));
        let params = decoded_pairs(parts.uri.query().unwrap().as_bytes());
        assert_eq!(message, format!("{MISMATCH}{}", string_to_sign(&Method::GET, &params)));
        // the SDK splits at the first ':' and compares the rest with its own string
        let (_, sts) = message.split_once(':').unwrap();
        assert_eq!(sts, string_to_sign(&Method::GET, &params));
        assert!(
            sts.starts_with("GET&%2F&AccessKeyId%3Dak%26Action%3DEcho%26Format%3DJSON%26SignatureMethod%3DHMAC-SHA1")
        );
        // a changed value, an added parameter, a changed method, a malformed signature
        let p = replace(&parts, "Action", "Action=Other");
        assert_eq!(answer(check(&p, SECRET, now()).unwrap_err()).1, "SignatureDoesNotMatch");
        let mut p = parts.clone();
        p.uri = format!("{}&extra=1", parts.uri).parse().unwrap();
        assert_eq!(answer(check(&p, SECRET, now()).unwrap_err()).1, "SignatureDoesNotMatch");
        let mut p = parts.clone();
        p.method = Method::POST;
        assert_eq!(answer(check(&p, SECRET, now()).unwrap_err()).1, "SignatureDoesNotMatch");
        let p = replace(&parts, "Signature", "Signature=bm90IGl0");
        assert_eq!(answer(check(&p, SECRET, now()).unwrap_err()).1, "SignatureDoesNotMatch");
        let p = replace(&parts, "Signature", "Signature=%%%");
        assert_eq!(answer(check(&p, SECRET, now()).unwrap_err()).1, "SignatureDoesNotMatch");
    }

    #[test]
    fn row_nonce_used() {
        assert_eq!(
            answer(AliyunRpc::new().replayed()),
            (400, "SignatureNonceUsed".into(), "Specified signature nonce was used already.".into())
        );
    }

    #[test]
    fn unknown_signature_method() {
        let p = replace(&signed("/?Action=Echo"), "SignatureMethod", "SignatureMethod=HMAC-MD5");
        let r = check(&p, SECRET, now()).unwrap_err();
        assert_eq!(answer(r).1, "InvalidSignatureMethod");
    }

    #[test]
    fn form_body_is_signed_and_a_json_body_is_not() {
        let form = "application/x-www-form-urlencoded";
        let (mut parts, ()) =
            http::Request::post("/?Action=Echo").header("content-type", form).body(()).unwrap().into_parts();
        let mut body = Bytes::from_static(b"name=a+b&x=%2A");
        AliyunRpc::new().sign(&mut parts, &mut body, "ak", &SECRET.into(), now()).unwrap();
        assert_eq!(&body[..], b"name=a+b&x=%2A", "the body is left as it was");
        assert!(check_body(&parts, Some(&body), SECRET, now()).is_ok());
        assert!(check_body(&parts, Some(b"name=a%20b&x=*"), SECRET, now()).is_ok(), "same parameters");
        let r = check_body(&parts, Some(b"name=a+c&x=%2A"), SECRET, now()).unwrap_err();
        assert_eq!(answer(r).1, "SignatureDoesNotMatch");
        let r = check_body(&parts, Some(b"name=a+b&x=%2A&y=1"), SECRET, now()).unwrap_err();
        assert_eq!(answer(r).1, "SignatureDoesNotMatch");
        assert!(Scheme::needs_body(&AliyunRpc::new(), &Method::POST, &parts.headers));

        let (mut parts, ()) = http::Request::post("/?Action=Echo")
            .header("content-type", "application/json")
            .body(())
            .unwrap()
            .into_parts();
        AliyunRpc::new().sign(&mut parts, &mut Bytes::from_static(b"{}"), "ak", &SECRET.into(), now()).unwrap();
        assert!(!Scheme::needs_body(&AliyunRpc::new(), &Method::POST, &parts.headers));
        assert!(check_body(&parts, Some(b"{\"anything\":1}"), SECRET, now()).is_ok());
    }

    #[test]
    fn timestamps() {
        assert!(parse_timestamp("2026-11-22T16:15:30Z").is_some());
        for bad in
            ["2026-11-22T16:15:30", "2026-11-22 16:15:30Z", "2026-11-22T16:15:30.5Z", "2026-13-22T16:15:30Z", "x", ""]
        {
            assert!(parse_timestamp(bad).is_none(), "{bad}");
        }
    }
}
