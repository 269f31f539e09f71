//! Aliyun API Gateway APP signatures: `X-Ca-Key`, `X-Ca-Signature`, `X-Ca-Timestamp`,
//! `X-Ca-Nonce`, HmacSHA256 (default) or HmacSHA1, as the official SDKs send them.
//!
//! The string to sign is the method, the `Accept`, `Content-MD5`, `Content-Type` and `Date`
//! values, one `name:value` line per header named in `X-Ca-Signature-Headers` (sorted), and
//! the path with the query and form parameters, decoded and sorted. Non-form bodies are
//! covered by `Content-MD5`. Refusals carry `X-Ca-Error-Message` exactly as the gateway's:
//!
//! | check, in this order | status | `X-Ca-Error-Message` | neutral code |
//! |---|---|---|---|
//! | no `X-Ca-Signature` | 401 | `Empty Signature` | `EmptySignature` |
//! | unknown (or missing) `X-Ca-Key` | 400 | `Invalid AppKey` | `InvalidAppKey` |
//! | `X-Ca-Timestamp` missing or not a number | 400 | `Invalid Timestamp` | `InvalidTimestamp` |
//! | timestamp more than the window (15 min) off, either way | 400 | `Timestamp Expired` | `TimestampExpired` |
//! | signature mismatch | 400 | `Invalid Signature` (debug: `Invalid Signature, Server StringToSign:...`) | `InvalidSignature` |
//! | `Content-MD5` not the body's | 400 | `Invalid Content-MD5` | `InvalidContentMd5` |
//! | nonce used again (by a replay guard) | 400 | `Nonce Used` | `NonceUsed` |
//!
//! Choices where the gateway's documentation and its clients leave room:
//!
//! - **Parameters are signed as the official Node.js client (and the Java SDK) builds its
//!   string**: names sorted in UTF-16 order (JavaScript's `sort`, Java's `TreeMap`), values
//!   decoded; a name given several times in one place is signed once, its values joined by
//!   commas in the order sent (`tag=x&tag=y` is signed `tag=x,y`), which is how the clients
//!   send a list. Where that string leaves a request readable more than one way, the request
//!   is refused (400) before its signature is checked, since the application might read a
//!   value nobody signed: a name given both in the query and in a form body (the client signs
//!   the form's value only; `Invalid Param Location, ...`, the gateway's wording for a
//!   parameter in the wrong place), and a name or value that is not UTF-8 once
//!   percent-decoded (the client signs U+FFFD for any such bytes, `%FF` as `%FE`;
//!   `Invalid Param, a parameter is not UTF-8 once percent-decoded`). The scheme cannot tell
//!   `a=1&a=2` from `a=1,2`: the nonce makes each signed request single-use.
//! - **A header the verifier reads sent more than once** (`X-Ca-*`, `Accept`, `Content-MD5`,
//!   `Content-Type`, `Date`, a header listed in `X-Ca-Signature-Headers`) is refused with
//!   `Invalid Header, NAME is sent more than once` (400, our wording): one value would be
//!   signed, and a backend may read another.
//! - **`X-Ca-Nonce` is optional** to the verifier, as the gateway documents it. Every official
//!   client sends one, so a replay guard behind the verifier refuses a request without it
//!   (`Invalid Nonce`, 400, our wording) unless told otherwise;
//!   [`require_nonce`](AliyunApiGateway::require_nonce) refuses it here already, guard or not.
//! - **The timestamp and the nonce must be signed** (listed in `X-Ca-Signature-Headers`, as
//!   every official client lists them): otherwise anyone could refresh them and replay the
//!   request. Refused with `Invalid Signature Headers, ... must be signed` (400, our wording);
//!   [`require_signed_replay_headers`](AliyunApiGateway::require_signed_replay_headers) turns
//!   the check off.
//! - An `X-Ca-Signature-Method` other than `HmacSHA256` (the default when absent) or `HmacSHA1`
//!   is refused with `Invalid Signature Method` (400, our wording).
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
//! // client side: sign (adds X-Ca-Key, X-Ca-Nonce, X-Ca-Timestamp, X-Ca-Signature-Headers, X-Ca-Signature)
//! let sign = |secret: &str| {
//!     let (mut parts, ()) = Request::get("/api/items?name=%E5%BC%A0%E4%B8%89").body(()).unwrap().into_parts();
//!     let mut body = Bytes::new();
//!     AliyunApiGateway::new().sign(&mut parts, &mut body, "203753741", &secret.into(), SystemTime::now()).unwrap();
//!     Request::from_parts(parts, http_body_util::Full::new(body))
//! };
//!
//! // server side: verify
//! let store = MemorySecretStore::new().with_key("203753741", "s3cret");
//! let svc = SignatureLayer::new(AliyunApiGateway::new(), store).layer(service_fn(|_req| async {
//!     Ok::<_, std::convert::Infallible>(Response::new(String::from("ok")))
//! }));
//! assert_eq!(svc.clone().oneshot(sign("s3cret")).await.unwrap().status(), StatusCode::OK);
//!
//! let refused = svc.oneshot(sign("not-the-secret")).await.unwrap();
//! assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
//! assert_eq!(refused.headers()["x-ca-error-message"], "Invalid Signature");
//! # }
//! ```

mod sign;
mod string_to_sign;
#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use md5::{Digest, Md5};
use tollgate_core::{ErrorStyle, Rejection, time_apart};

use crate::HmacAlg;
use crate::byte_search::has_ascii_uppercase;
use crate::form::{AmbiguousParams, is_form};
use crate::header_text::header_text;
use crate::mac::{SignatureBytes, base64_encode};
use crate::scheme::{RequestView, Scheme, Verified};
use crate::secret::{KeyForm, Secret};

use string_to_sign::{Headers, signed_header_names, write_from};
pub use string_to_sign::{string_to_sign, write_string_to_sign};

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
    require_nonce: bool,
    require_signed_replay_headers: bool,
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
    /// 15-minute window, no string-to-sign echo, `X-Ca-Nonce` optional but signed when
    /// present, `X-Ca-Timestamp` signed; signing with HmacSHA256.
    pub fn new() -> Self {
        Self {
            window: Duration::from_secs(15 * 60),
            debug_string_to_sign: false,
            require_nonce: false,
            require_signed_replay_headers: true,
            method: HmacAlg::Sha256,
            stage: None,
            extra_signed: Vec::new(),
        }
    }

    /// How far `X-Ca-Timestamp` may be from now, either way (default 15 minutes; at most a
    /// day, [`MAX_WINDOW`](tollgate_core::MAX_WINDOW): a longer one is clamped to it).
    pub fn window(mut self, window: Duration) -> Self {
        self.window = window.min(tollgate_core::MAX_WINDOW);
        self
    }

    /// Echoes the server's string to sign in a mismatch refusal
    /// (`Invalid Signature, Server StringToSign:...`), as the gateway's debug mode does, so a
    /// client can see where it differs. Off by default: it reveals what the server signs.
    pub fn debug_string_to_sign(mut self, on: bool) -> Self {
        self.debug_string_to_sign = on;
        self
    }

    /// Refuses requests without `X-Ca-Nonce` (`Invalid Nonce`, 400). Off by default: the
    /// gateway documents the nonce as optional, though every official client sends one. A
    /// replay guard refuses such requests anyway (unless its `require_nonce` is off); turn
    /// this on to refuse them without one.
    pub fn require_nonce(mut self, on: bool) -> Self {
        self.require_nonce = on;
        self
    }

    /// Refuses requests whose `X-Ca-Signature-Headers` leaves out `x-ca-timestamp`, or
    /// `x-ca-nonce` when one is sent (`Invalid Signature Headers, ... must be signed`, 400).
    /// On by default: an unsigned timestamp or nonce can be refreshed by anyone, which makes
    /// the time window and the replay guard useless. The official clients sign both.
    pub fn require_signed_replay_headers(mut self, on: bool) -> Self {
        self.require_signed_replay_headers = on;
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

/// A header the verifier reads, sent more than once: one value would be checked, and a
/// backend may read another. Not in the gateway's table; our wording.
fn repeated_header(name: &str) -> Rejection {
    refusal(StatusCode::BAD_REQUEST, "RepeatedHeader", format!("Invalid Header, {name} is sent more than once"))
}

/// Parameters that can be read more than one way. The gateway's `Invalid Param Location`
/// for a name in both places; otherwise our wording after its `Invalid ...` pattern.
fn ambiguous_params(ambiguity: AmbiguousParams) -> Rejection {
    let (code, text) = match ambiguity {
        AmbiguousParams::QueryAndForm => {
            ("InvalidParamLocation", "Invalid Param Location, a parameter is in both the query and the form body")
        }
        AmbiguousParams::Repeated => ("RepeatedParameter", "Invalid Param, a parameter is given more than once"),
        AmbiguousParams::NotUtf8 => {
            ("InvalidParamEncoding", "Invalid Param, a parameter is not UTF-8 once percent-decoded")
        }
    };
    refusal(StatusCode::BAD_REQUEST, code, text)
}

/// What an `X-Ca-*` request claims, and every header its string to sign reads, found in
/// one pass over the request's headers.
#[derive(Debug, Clone)]
pub struct Parsed<'r> {
    key: &'r str,
    signature: Option<SignatureBytes>,
    alg: HmacAlg,
    headers: Headers<'r, 'r>,
    /// Whether `X-Ca-Timestamp` and `X-Ca-Nonce` are among the signed headers.
    timestamp_signed: bool,
    nonce_signed: bool,
}

/// The names in an `X-Ca-Signature-Headers` value: trimmed, sorted and deduplicated as
/// lower case (they are compared and signed so), without the signature headers themselves;
/// each with a place for its value. `lower_case` says whether `list` has no upper-case
/// letter.
fn md5_base64(body: &[u8]) -> String {
    base64_encode(&Md5::digest(body))
}

impl Scheme for AliyunApiGateway {
    type Parsed<'r> = Parsed<'r>;

    const NAME: &'static str = "aliyun-apigw";
    const ERROR_STYLE: ErrorStyle = ErrorStyle::AliyunApiGateway;

    fn window(&self) -> Duration {
        self.window
    }

    fn needs_body(&self, _method: &Method, headers: &HeaderMap) -> bool {
        is_form(headers) || headers.contains_key(CONTENT_MD5)
    }

    /// The parse kept `Content-MD5` and `Content-Type` (each sent once, or it refused).
    fn needs_body_parsed(&self, parsed: &Parsed<'_>) -> Option<bool> {
        Some(parsed.headers.is_form() || parsed.headers.fixed[1].is_some())
    }

    fn parse<'r>(&self, req: &RequestView<'r>) -> Result<Parsed<'r>, Rejection> {
        // one pass for every header read here and by the string to sign
        let (mut signature, mut key, mut method, mut list) = (None, None, None, None);
        let mut headers = Headers::new(&[]);
        for (name, value) in req.headers {
            let slot = match name.as_str() {
                "x-ca-signature" => &mut signature,
                "x-ca-key" => &mut key,
                "x-ca-signature-method" => &mut method,
                "x-ca-signature-headers" => &mut list,
                other => match headers.fixed_slot(other) {
                    Some(slot) => slot,
                    None => continue,
                },
            };
            if slot.replace(value).is_some() {
                return Err(repeated_header(name.as_str()));
            }
        }
        let text = |v: Option<&'r HeaderValue>| v.and_then(header_text);
        let (key_value, method_value) = (key, method);
        let signature = text(signature).map(str::trim_ascii).unwrap_or("");
        if signature.is_empty() {
            return Err(refusal(StatusCode::UNAUTHORIZED, "EmptySignature", "Empty Signature"));
        }
        let key = text(key).map(str::trim_ascii).unwrap_or("");
        if key.is_empty() {
            return Err(self.unknown_key(key));
        }
        let alg = match text(method).map(str::trim_ascii) {
            None | Some("") | Some("HmacSHA256") => HmacAlg::Sha256,
            Some("HmacSHA1") => HmacAlg::Sha1,
            // Not in the gateway's table; our wording.
            Some(_) => {
                return Err(refusal(StatusCode::BAD_REQUEST, "InvalidSignatureMethod", "Invalid Signature Method"));
            }
        };
        // The signed headers are nearly always ones the pass above kept; others take a
        // second pass.
        let list = text(list).unwrap_or("");
        let lower_case = !has_ascii_uppercase(list);
        let (mut timestamp_signed, mut nonce_signed) = (false, false);
        let mut kept = |name: &str| {
            // the list is nearly always lower case: then a plain comparison does
            let is = |known: &str| if lower_case { name == known } else { name.eq_ignore_ascii_case(known) };
            Some(match name.len() {
                14 if is("x-ca-timestamp") => {
                    timestamp_signed = true;
                    headers.timestamp
                }
                10 if is("x-ca-nonce") => {
                    nonce_signed = true;
                    headers.nonce
                }
                8 if is("x-ca-key") => key_value,
                21 if is("x-ca-signature-method") => method_value,
                6 if is("accept") => headers.fixed[0],
                11 if is("content-md5") => headers.fixed[1],
                12 if is("content-type") => headers.fixed[2],
                4 if is("date") => headers.fixed[3],
                _ => return None,
            })
        };
        let mut rest = false;
        let mut signed = signed_header_names(list, lower_case);
        for (name, value) in &mut signed {
            match kept(name) {
                Some(kept) => *value = kept,
                None => rest = true,
            }
        }
        headers.signed = signed;
        headers.lower_case = lower_case;
        if rest {
            // the headers the pass above read are in already, each checked to come once
            let read_above = |name: &str| {
                matches!(
                    name,
                    "x-ca-signature"
                        | "x-ca-key"
                        | "x-ca-signature-method"
                        | "x-ca-signature-headers"
                        | "accept"
                        | "content-md5"
                        | "content-type"
                        | "date"
                        | "x-ca-timestamp"
                        | "x-ca-nonce"
                )
            };
            for (name, value) in req.headers.iter().filter(|(name, _)| !read_above(name.as_str())) {
                headers.note_signed(name.as_str(), value).map_err(repeated_header)?;
            }
        }
        let signature = SignatureBytes::from_base64(signature);
        Ok(Parsed { key, signature, alg, headers, timestamp_signed, nonce_signed })
    }

    fn key_id<'p>(&self, parsed: &'p Parsed<'_>) -> &'p str {
        parsed.key
    }

    fn unknown_key(&self, _key_id: &str) -> Rejection {
        refusal(StatusCode::BAD_REQUEST, "InvalidAppKey", "Invalid AppKey")
    }

    fn verify(
        &self,
        req: &RequestView<'_>,
        parsed: &Parsed<'_>,
        secrets: &[Secret],
        now: SystemTime,
    ) -> Result<Verified, Rejection> {
        let seen = &parsed.headers;
        let millis = seen
            .timestamp
            .and_then(header_text)
            .and_then(|t| t.trim_ascii().parse::<u64>().ok())
            .ok_or_else(|| refusal(StatusCode::BAD_REQUEST, "InvalidTimestamp", "Invalid Timestamp"))?;
        let timestamp = UNIX_EPOCH
            .checked_add(Duration::from_millis(millis))
            .ok_or_else(|| refusal(StatusCode::BAD_REQUEST, "InvalidTimestamp", "Invalid Timestamp"))?;
        let skew = time_apart(timestamp, now);
        if skew > self.window {
            return Err(self.expired());
        }
        // Raw bytes, so that a nonce that is not visible ASCII still counts as one.
        let nonce =
            seen.nonce.map(|v| header_text(v).map_or_else(|| String::from_utf8_lossy(v.as_bytes()), Cow::Borrowed));
        let nonce = nonce.as_deref().map(str::trim).filter(|n| !n.is_empty());
        if nonce.is_none() && self.require_nonce {
            return Err(refusal(StatusCode::BAD_REQUEST, "InvalidNonce", "Invalid Nonce"));
        }
        if self.require_signed_replay_headers {
            if !parsed.timestamp_signed {
                return Err(refusal(
                    StatusCode::BAD_REQUEST,
                    "UnsignedTimestamp",
                    "Invalid Signature Headers, X-Ca-Timestamp must be signed",
                ));
            }
            if seen.nonce.is_some() && !parsed.nonce_signed {
                return Err(refusal(
                    StatusCode::BAD_REQUEST,
                    "UnsignedNonce",
                    "Invalid Signature Headers, X-Ca-Nonce must be signed",
                ));
            }
        }
        let mut sts = Vec::with_capacity(256);
        write_from(&mut sts, req.method, req.uri, seen, req.body).map_err(ambiguous_params)?;
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
        if let Some(claimed) = seen.fixed[1].and_then(header_text) {
            if claimed.trim() != md5_base64(req.body.unwrap_or_default()) {
                return Err(refusal(StatusCode::BAD_REQUEST, "InvalidContentMd5", "Invalid Content-MD5"));
            }
        }
        Ok(Verified { nonce: nonce.map(Arc::from), timestamp: Some(timestamp) })
    }

    fn replayed(&self) -> Rejection {
        refusal(StatusCode::BAD_REQUEST, "NonceUsed", "Nonce Used")
    }

    /// The official clients always send `X-Ca-Nonce`: a replay guard refuses a request
    /// without one, as [`require_nonce`](AliyunApiGateway::require_nonce) does.
    fn missing_nonce(&self) -> Option<Rejection> {
        Some(refusal(StatusCode::BAD_REQUEST, "InvalidNonce", "Invalid Nonce"))
    }

    fn expired(&self) -> Rejection {
        refusal(StatusCode::BAD_REQUEST, "TimestampExpired", "Timestamp Expired")
    }
}
