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

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::header::ACCEPT;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use md5::{Digest, Md5};
use tollgate_core::{ErrorStyle, Rejection, time_apart};

use crate::HmacAlg;
use crate::byte_search::{cmp_text, has_ascii_uppercase, split_ascii};
use crate::form::{AmbiguousParams, each_param, is_form};
use crate::header_text::header_text;
use crate::mac::{SignatureBytes, base64_encode, hmac};
use crate::scheme::{RequestView, Scheme, SignError, Signer, Verified};
use crate::secret::{KeyForm, Secret};

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
fn signed_header_names<V>(list: &str, lower_case: bool) -> Vec<(&str, Option<V>)> {
    let mut names: Vec<(&str, Option<V>)> = Vec::with_capacity(8);
    for name in split_ascii(list, b',').map(str::trim_ascii) {
        let signature_header = |n: &HeaderName| name.len() == n.as_str().len() && name.eq_ignore_ascii_case(n.as_str());
        if !name.is_empty() && !signature_header(&X_CA_SIGNATURE) && !signature_header(&X_CA_SIGNATURE_HEADERS) {
            names.push((name, None));
        }
    }
    if !lower_case {
        let lower = |n: &str| n.bytes().map(|b| b.to_ascii_lowercase()).collect::<Vec<u8>>();
        names.sort_by_cached_key(|(n, _)| lower(n));
        names.dedup_by(|a, b| a.0.eq_ignore_ascii_case(b.0));
    } else {
        names.sort_unstable_by(|a, b| cmp_text(a.0, b.0));
        names.dedup_by(|a, b| a.0 == b.0);
    }
    names
}

/// Writes the string to sign into `out`; shared by the verifier and the signer.
///
/// `signed_headers` must be lower-case and sorted. Parameters are the query's and, for a
/// form body, the form's, decoded (`+` is a space) and sorted by name in UTF-16 order, as the
/// official Node.js client builds them. A name whose only value is empty is written without
/// `=`. Header values are written as received; an absent signed header gives `name:` and an
/// empty value.
///
/// A request the verifier refuses as readable more than one way is refused here too (the
/// string is still written, as the Node.js client would write it): a header of the string
/// sent more than once, a parameter name given more than once (the client would sign its
/// values joined by commas, `a=1&a=2` as `a=1,2`, which is also how `a=1,2` is signed) or
/// in both the query and the form (the client would sign the form's value only), a name or
/// value that is not UTF-8 once percent-decoded (it would sign U+FFFD for any such bytes).
pub fn write_string_to_sign(
    out: &mut Vec<u8>,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Option<&[u8]>,
    signed_headers: &[&str],
) -> Result<(), SignError> {
    let mut seen = Headers::new(signed_headers);
    let repeated = seen.collect(headers);
    let params = write_from(out, method, uri, &seen, body);
    if let Err(name) = repeated {
        return Err(SignError::Invalid(format!("the header {name} is sent more than once")));
    }
    params.map_err(|ambiguity| SignError::Invalid(ambiguity.to_string()))
}

/// The headers the string to sign and the checks read, found in one pass over the request's
/// headers rather than one hashed lookup each (a third of the verifier's time went there).
#[derive(Debug, Clone)]
struct Headers<'h, 'n> {
    /// `Accept`, `Content-MD5`, `Content-Type`, `Date`, in the string's order.
    fixed: [Option<&'h HeaderValue>; 4],
    timestamp: Option<&'h HeaderValue>,
    nonce: Option<&'h HeaderValue>,
    /// The signed headers' names (in any case, sorted as lower case) and first values.
    signed: Vec<(&'n str, Option<&'h HeaderValue>)>,
    /// Whether the signed headers' names are all lower case already.
    lower_case: bool,
}

impl<'h, 'n> Headers<'h, 'n> {
    fn new(signed_headers: &[&'n str]) -> Self {
        Self {
            fixed: [None; 4],
            timestamp: None,
            nonce: None,
            signed: signed_headers.iter().map(|n| (*n, None)).collect(),
            lower_case: signed_headers.iter().all(|n| !has_ascii_uppercase(n)),
        }
    }

    /// Keeps the value of each header of interest; the name of one sent more than once
    /// (the first value kept) is an error.
    fn collect(&mut self, headers: &'h HeaderMap) -> Result<(), &'h str> {
        let mut repeated = None;
        for (name, value) in headers {
            let name = name.as_str();
            if let Some(slot) = self.fixed_slot(name) {
                if slot.is_some() {
                    repeated.get_or_insert(name);
                }
                slot.get_or_insert(value);
            }
            if let Err(name) = self.note_signed(name, value) {
                repeated.get_or_insert(name);
            }
        }
        repeated.map_or(Ok(()), Err)
    }

    /// Where the string to sign or the checks keep the header `name` (lower case).
    fn fixed_slot(&mut self, name: &str) -> Option<&mut Option<&'h HeaderValue>> {
        // a match on the text: the compiler tells them apart by length first
        match name {
            "accept" => Some(&mut self.fixed[0]),
            "content-md5" => Some(&mut self.fixed[1]),
            "content-type" => Some(&mut self.fixed[2]),
            "date" => Some(&mut self.fixed[3]),
            "x-ca-timestamp" => Some(&mut self.timestamp),
            "x-ca-nonce" => Some(&mut self.nonce),
            _ => None,
        }
    }

    /// Keeps the value of `name` if it is signed; a second value of it is an error (the
    /// first kept).
    fn note_signed<'a>(&mut self, name: &'a str, value: &'h HeaderValue) -> Result<(), &'a str> {
        // a handful of names: compare lengths before bytes
        let wanted = self.signed.iter_mut().find(|(n, _)| n.len() == name.len() && n.eq_ignore_ascii_case(name));
        match wanted {
            Some((_, Some(_))) => Err(name),
            Some((_, slot)) => {
                *slot = Some(value);
                Ok(())
            }
            None => Ok(()),
        }
    }

    fn is_form(&self) -> bool {
        self.fixed[2]
            .and_then(header_text)
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"))
    }
}

/// Writes the string to sign; refuses (having written it all the same) parameters that can
/// be read more than one way.
fn write_from(
    out: &mut Vec<u8>,
    method: &Method,
    uri: &Uri,
    headers: &Headers<'_, '_>,
    body: Option<&[u8]>,
) -> Result<(), AmbiguousParams> {
    out.extend_from_slice(method.as_str().as_bytes());
    out.push(b'\n');
    for value in headers.fixed {
        out.extend_from_slice(value.map_or(&b""[..], |v| v.as_bytes()));
        out.push(b'\n');
    }
    for (name, value) in &headers.signed {
        match headers.lower_case {
            true => out.extend_from_slice(name.as_bytes()),
            false => out.extend(name.bytes().map(|b| b.to_ascii_lowercase())),
        }
        out.push(b':');
        out.extend_from_slice(value.map_or(&b""[..], |v| v.as_bytes()));
        out.push(b'\n');
    }
    out.extend_from_slice(uri.path().as_bytes());
    let query = uri.query().filter(|q| !q.is_empty());
    let form = body.filter(|b| !b.is_empty() && headers.is_form());
    if query.is_none() && form.is_none() {
        return Ok(());
    }
    // Tagged by source, form first: after a stable sort by name, a name's form values come
    // before its query values, and only the first source's values are signed.
    let mut params: Vec<(Cow<'_, str>, Cow<'_, str>, u8)> = Vec::with_capacity(16);
    let form = form.map_or(Ok(()), |form| each_param(form, |k, v| params.push((k, v, 0))));
    let query = query.map_or(Ok(()), |query| each_param(query.as_bytes(), |k, v| params.push((k, v, 1))));
    params.sort_by(|a, b| utf16_order(&a.0, &b.0));
    let mut ambiguity = form.and(query).err();
    let mut i = 0;
    while i < params.len() {
        let (name, source) = (&params[i].0, params[i].2);
        let run = params[i..].iter().take_while(|p| p.0 == *name).count();
        // A name repeated in one place is what the official clients send for a list
        // (`tag=x&tag=y`, signed `tag=x,y`): accepted. A name in both places is not: an
        // application reading the query would read a value nobody signed.
        if ambiguity.is_none() && params[i..i + run].iter().any(|p| p.2 != source) {
            ambiguity = Some(AmbiguousParams::QueryAndForm);
        }
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
    ambiguity.map_or(Ok(()), Err)
}

/// Orders texts as their UTF-16 code units sort (JavaScript's and Java's string order). It
/// differs from byte order only between a character above U+FFFF and one in U+E000..=U+FFFF.
fn utf16_order(a: &str, b: &str) -> std::cmp::Ordering {
    fn unit_rank(c: char) -> u32 {
        match u32::from(c) {
            c @ 0..=0xD7FF => c,
            c @ 0x1_0000.. => 0xD800 + c, // a surrogate pair: after U+D7FF, before U+E000
            c => 0x20_0000 + c,
        }
    }
    if a.is_ascii() && b.is_ascii() {
        return cmp_text(a, b);
    }
    a.chars().map(unit_rank).cmp(b.chars().map(unit_rank))
}

/// The string to sign as text (header bytes that are not UTF-8 shown lossily), written
/// even for a request [`write_string_to_sign`] refuses; see there.
pub fn string_to_sign(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Option<&[u8]>,
    signed_headers: &[String],
) -> String {
    let names: Vec<&str> = signed_headers.iter().map(String::as_str).collect();
    let mut out = Vec::with_capacity(256);
    let _ = write_string_to_sign(&mut out, method, uri, headers, body, &names);
    String::from_utf8_lossy(&out).into_owned()
}

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
        let (mut timestamp_signed, mut nonce_signed) = (false, false);
        let mut kept = |name: &str| {
            let is = |known: &str| name.eq_ignore_ascii_case(known);
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
        let list = text(list).unwrap_or("");
        let lower_case = !has_ascii_uppercase(list);
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

#[cfg(test)]
mod tests {
    use super::*;
    use http::header::CONTENT_TYPE;
    use std::time::Duration;
    use tollgate_core::Ecosystem;

    const NOW: u64 = 1_700_000_000;
    const SECRET: &str = "secret";

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(NOW)
    }

    fn signed_with(
        s: &AliyunApiGateway,
        method: Method,
        target: &str,
        ctype: Option<&str>,
        body: &[u8],
    ) -> (http::request::Parts, Bytes) {
        let mut b = http::Request::builder().method(method).uri(target).header("accept", "application/json");
        if let Some(c) = ctype {
            b = b.header("content-type", c);
        }
        let (mut parts, ()) = b.body(()).unwrap().into_parts();
        let mut body = Bytes::copy_from_slice(body);
        s.sign(&mut parts, &mut body, "app", &SECRET.into(), now()).unwrap();
        (parts, body)
    }

    fn signed(method: Method, target: &str, ctype: Option<&str>, body: &[u8]) -> (http::request::Parts, Bytes) {
        signed_with(&AliyunApiGateway::new(), method, target, ctype, body)
    }

    fn check_with(
        s: &AliyunApiGateway,
        parts: &http::request::Parts,
        body: &[u8],
        secrets: &[&str],
        at: SystemTime,
    ) -> Result<Verified, Rejection> {
        let view = RequestView { method: &parts.method, uri: &parts.uri, headers: &parts.headers, body: Some(body) };
        let parsed = s.parse(&view)?;
        let secrets: Vec<Secret> = secrets.iter().map(|s| Secret::from(*s)).collect();
        s.verify(&view, &parsed, &secrets, at)
    }

    fn check(parts: &http::request::Parts, body: &[u8], secret: &str, at: SystemTime) -> Result<Verified, Rejection> {
        check_with(&AliyunApiGateway::new().debug_string_to_sign(true), parts, body, &[secret], at)
    }

    /// Status and `X-Ca-Error-Message` text, and the neutral code.
    fn answer(r: Rejection) -> (u16, String, String) {
        let e = Ecosystem::AliyunApiGateway;
        (r.status_for(e).as_u16(), r.message_for(e).to_owned(), r.code().to_owned())
    }

    fn refused(r: Result<Verified, Rejection>) -> (u16, String, String) {
        answer(r.unwrap_err())
    }

    fn expect(r: Result<Verified, Rejection>, status: u16, text: &str, code: &str) {
        assert_eq!(refused(r), (status, text.to_owned(), code.to_owned()));
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
    fn string_to_sign_of_each_header_line() {
        let req = http::Request::get("/")
            .header("accept", "application/json")
            .header("content-md5", "MD5")
            .header("content-type", "text/plain")
            .header("date", "Mon, 19 Mar 2018 12:08:40 GMT")
            .header("x-b", "2")
            .header("x-a", "1")
            .body(())
            .unwrap();
        let names = ["x-a".to_owned(), "x-b".to_owned(), "x-missing".to_owned()];
        let sts = string_to_sign(req.method(), req.uri(), req.headers(), None, &names);
        assert_eq!(
            sts,
            "GET\napplication/json\nMD5\ntext/plain\nMon, 19 Mar 2018 12:08:40 GMT\nx-a:1\nx-b:2\nx-missing:\n/"
        );
        // no parameters: no `?`; a JSON body is not in the string
        let req = http::Request::post("/a/b%20c").header("content-type", "application/json").body(()).unwrap();
        let sts = string_to_sign(req.method(), req.uri(), req.headers(), Some(b"{\"a\":1}"), &[]);
        assert_eq!(sts, "POST\n\n\napplication/json\n\n/a/b%20c");
    }

    #[test]
    fn parameters_are_decoded_and_sorted_in_utf16_order() {
        // decoded: `+` is a space, %XX are bytes, `=` and `&` inside values stay
        let req = http::Request::get("/?plus=a%2Bb&sp=a+b&mix=a%3Db%26c%20d&star=x*y&slash=%2Fp").body(()).unwrap();
        let sts = string_to_sign(req.method(), req.uri(), req.headers(), None, &[]);
        assert!(sts.ends_with("/?mix=a=b&c d&plus=a+b&slash=/p&sp=a b&star=x*y"), "{sts}");
        // U+FF01 sorts before an emoji in bytes (EF.. < F0..), after it in UTF-16 (FF01 > D83D)
        let req = http::Request::get("/?%EF%BC%81=1&%F0%9F%98%80=2&z=3").body(()).unwrap();
        let sts = string_to_sign(req.method(), req.uri(), req.headers(), None, &[]);
        assert!(sts.ends_with("/?z=3&\u{1F600}=2&\u{FF01}=1"), "{sts}");
        assert_eq!(utf16_order("\u{FF01}", "\u{1F600}"), std::cmp::Ordering::Greater);
        assert_eq!(utf16_order("\u{D7FF}", "\u{1F600}"), std::cmp::Ordering::Less);
        assert_eq!(utf16_order("ab", "a"), std::cmp::Ordering::Greater);
    }

    #[test]
    fn repeated_and_shadowed_parameters_as_the_node_client_signs_them() {
        let form = http::Request::post("/?a=1&a=2&b=q&e&e=x")
            .header("content-type", "application/x-www-form-urlencoded; charset=UTF-8")
            .body(())
            .unwrap();
        let sts = string_to_sign(form.method(), form.uri(), form.headers(), Some(b"b=f1&b=f2&c="), &[]);
        // query repeats joined by commas; the form's `b` replaces the query's; `c` is empty
        assert!(sts.ends_with("/?a=1,2&b=f1,f2&c&e=,x"), "{sts}");
    }

    #[test]
    fn round_trip() {
        let (parts, body) = signed(Method::GET, "/a?x=1", None, b"");
        let v = check(&parts, &body, SECRET, now()).unwrap();
        assert_eq!(v.nonce.as_deref(), parts.headers[X_CA_NONCE].to_str().ok());
        assert_eq!(v.timestamp, Some(now()));
        // a second, rolled-over secret
        assert!(check_with(&AliyunApiGateway::new(), &parts, &body, &["old", SECRET], now()).is_ok());
    }

    #[test]
    fn row_empty_signature_is_401() {
        let (parts, body) = signed(Method::GET, "/a", None, b"");
        let mut p = parts.clone();
        p.headers.remove(X_CA_SIGNATURE);
        expect(check(&p, &body, SECRET, now()), 401, "Empty Signature", "EmptySignature");
        p.headers.insert(X_CA_SIGNATURE, HeaderValue::from_static(" "));
        expect(check(&p, &body, SECRET, now()), 401, "Empty Signature", "EmptySignature");
        // before everything else, even a missing key
        p.headers.remove(X_CA_KEY);
        expect(check(&p, &body, SECRET, now()), 401, "Empty Signature", "EmptySignature");
    }

    #[test]
    fn row_invalid_app_key() {
        let s = AliyunApiGateway::new();
        assert_eq!(answer(s.unknown_key("nobody")), (400, "Invalid AppKey".into(), "InvalidAppKey".into()));
        assert_eq!(answer(s.disabled_key("nobody")), (400, "Invalid AppKey".into(), "InvalidAppKey".into()));
        let (mut parts, body) = signed(Method::GET, "/a", None, b"");
        parts.headers.remove(X_CA_KEY);
        expect(check(&parts, &body, SECRET, now()), 400, "Invalid AppKey", "InvalidAppKey");
    }

    #[test]
    fn row_invalid_timestamp() {
        let (parts, body) = signed(Method::GET, "/a", None, b"");
        for bad in ["soon", "", "-1", "1.7e12", "99999999999999999999999"] {
            let mut p = parts.clone();
            p.headers.insert(X_CA_TIMESTAMP, HeaderValue::from_str(bad).unwrap());
            expect(check(&p, &body, SECRET, now()), 400, "Invalid Timestamp", "InvalidTimestamp");
        }
        let mut p = parts.clone();
        p.headers.remove(X_CA_TIMESTAMP);
        expect(check(&p, &body, SECRET, now()), 400, "Invalid Timestamp", "InvalidTimestamp");
    }

    #[test]
    fn row_timestamp_expired_either_way() {
        let (parts, body) = signed(Method::GET, "/a", None, b"");
        for at in [now() + Duration::from_secs(901), now() - Duration::from_secs(901)] {
            expect(check(&parts, &body, SECRET, at), 400, "Timestamp Expired", "TimestampExpired");
        }
        for at in [now() + Duration::from_secs(900), now() - Duration::from_secs(900)] {
            assert!(check(&parts, &body, SECRET, at).is_ok());
        }
        // checked before the signature
        expect(
            check(&parts, &body, "wrong", now() + Duration::from_secs(3600)),
            400,
            "Timestamp Expired",
            "TimestampExpired",
        );
        // the window is configurable
        let s = AliyunApiGateway::new().window(Duration::from_secs(60));
        assert!(check_with(&s, &parts, &body, &[SECRET], now() + Duration::from_secs(61)).is_err());
        assert_eq!(answer(s.expired()), (400, "Timestamp Expired".into(), "TimestampExpired".into()));
    }

    #[test]
    fn row_invalid_signature() {
        let (parts, body) = signed(Method::GET, "/a?x=1", None, b"");
        let (status, text, code) = refused(check(&parts, &body, "wrong", now()));
        assert_eq!((status, code.as_str()), (400, "InvalidSignature"));
        let names: Vec<String> =
            parts.headers[X_CA_SIGNATURE_HEADERS].to_str().unwrap().split(',').map(str::to_owned).collect();
        let sts = string_to_sign(&parts.method, &parts.uri, &parts.headers, Some(&body), &names);
        assert_eq!(text, format!("Invalid Signature, Server StringToSign:{sts}"));
        assert!(text.starts_with("Invalid Signature, Server StringToSign:GET\napplication/json\n\n\n\nx-ca-key:app\n"));
        // without debug: the bare words
        let plain = check_with(&AliyunApiGateway::new(), &parts, &body, &["wrong"], now());
        expect(plain, 400, "Invalid Signature", "InvalidSignature");
        // a malformed signature is a mismatch too
        let mut p = parts.clone();
        p.headers.insert(X_CA_SIGNATURE, HeaderValue::from_static("not base64!"));
        assert_eq!(refused(check(&p, &body, SECRET, now())).2, "InvalidSignature");
        // every signed part
        let mut p = parts.clone();
        p.uri = "/a?x=2".parse().unwrap();
        assert_eq!(refused(check(&p, &body, SECRET, now())).2, "InvalidSignature");
        let mut p = parts.clone();
        p.uri = "/a?x=1&y=evil".parse().unwrap();
        assert_eq!(refused(check(&p, &body, SECRET, now())).2, "InvalidSignature");
        let mut p = parts.clone();
        p.uri = "/b?x=1".parse().unwrap();
        assert_eq!(refused(check(&p, &body, SECRET, now())).2, "InvalidSignature");
        let mut p = parts.clone();
        p.method = Method::DELETE;
        assert_eq!(refused(check(&p, &body, SECRET, now())).2, "InvalidSignature");
        let mut p = parts.clone();
        p.headers.insert(ACCEPT, HeaderValue::from_static("*/*"));
        assert_eq!(refused(check(&p, &body, SECRET, now())).2, "InvalidSignature");
        let mut p = parts.clone();
        p.headers.insert(X_CA_NONCE, HeaderValue::from_static("another"));
        assert_eq!(refused(check(&p, &body, SECRET, now())).2, "InvalidSignature");
    }

    #[test]
    fn row_invalid_content_md5() {
        let (parts, body) = signed(Method::POST, "/j", Some("application/json"), br#"{"a":1}"#);
        assert_eq!(parts.headers[CONTENT_MD5], md5_base64(br#"{"a":1}"#).as_str());
        assert!(check(&parts, &body, SECRET, now()).is_ok());
        expect(check(&parts, br#"{"a":2}"#, SECRET, now()), 400, "Invalid Content-MD5", "InvalidContentMd5");
        expect(check(&parts, b"", SECRET, now()), 400, "Invalid Content-MD5", "InvalidContentMd5");
        // the signature is checked first: a changed Content-MD5 header is a signature mismatch
        let mut p = parts.clone();
        p.headers.insert(CONTENT_MD5, HeaderValue::from_str(&md5_base64(br#"{"a":2}"#)).unwrap());
        assert_eq!(refused(check(&p, br#"{"a":2}"#, SECRET, now())).2, "InvalidSignature");
    }

    #[test]
    fn row_nonce_used() {
        let s = AliyunApiGateway::new();
        assert_eq!(answer(s.replayed()), (400, "Nonce Used".into(), "NonceUsed".into()));
    }

    #[test]
    fn nonce_is_optional_unless_required() {
        let (parts, body) = signed(Method::GET, "/a", None, b"");
        let s = AliyunApiGateway::new();
        // a client that sends no nonce (and so signs none)
        let mut p = parts.clone();
        p.headers.remove(X_CA_NONCE);
        p.headers.insert(X_CA_SIGNATURE_HEADERS, HeaderValue::from_static("x-ca-key,x-ca-timestamp"));
        let names = ["x-ca-key".to_owned(), "x-ca-timestamp".to_owned()];
        let sts = string_to_sign(&p.method, &p.uri, &p.headers, None, &names);
        let sig = base64_encode(&hmac(HmacAlg::Sha256, SECRET.as_bytes(), sts.as_bytes()));
        p.headers.insert(X_CA_SIGNATURE, HeaderValue::from_str(&sig).unwrap());
        assert_eq!(check_with(&s, &p, &body, &[SECRET], now()).unwrap().nonce, None);
        let strict = AliyunApiGateway::new().require_nonce(true);
        expect(check_with(&strict, &p, &body, &[SECRET], now()), 400, "Invalid Nonce", "InvalidNonce");
        assert!(check_with(&strict, &parts, &body, &[SECRET], now()).is_ok());
    }

    #[test]
    fn timestamp_and_nonce_must_be_signed() {
        let (parts, body) = signed(Method::GET, "/a", None, b"");
        let resign = |list: &'static str| {
            let mut p = parts.clone();
            p.headers.insert(X_CA_SIGNATURE_HEADERS, HeaderValue::from_static(list));
            let lower = list.to_ascii_lowercase();
            let names: Vec<String> =
                signed_header_names::<()>(&lower, true).into_iter().map(|(n, _)| n.to_owned()).collect();
            let sts = string_to_sign(&p.method, &p.uri, &p.headers, None, &names);
            let sig = base64_encode(&hmac(HmacAlg::Sha256, SECRET.as_bytes(), sts.as_bytes()));
            p.headers.insert(X_CA_SIGNATURE, HeaderValue::from_str(&sig).unwrap());
            p
        };
        let s = AliyunApiGateway::new();
        let p = resign("x-ca-key,x-ca-nonce");
        let text = "Invalid Signature Headers, X-Ca-Timestamp must be signed";
        expect(check_with(&s, &p, &body, &[SECRET], now()), 400, text, "UnsignedTimestamp");
        let p = resign("x-ca-key,x-ca-timestamp");
        let text = "Invalid Signature Headers, X-Ca-Nonce must be signed";
        expect(check_with(&s, &p, &body, &[SECRET], now()), 400, text, "UnsignedNonce");
        let p = resign("");
        let lax = AliyunApiGateway::new().require_signed_replay_headers(false);
        assert!(check_with(&lax, &p, &body, &[SECRET], now()).is_ok());
        // case and spaces in the list do not matter
        let p = resign("X-Ca-Key, X-Ca-Nonce ,X-CA-TIMESTAMP");
        assert!(check_with(&s, &p, &body, &[SECRET], now()).is_ok());
    }

    #[test]
    fn ambiguous_requests_are_refused_and_not_signed() {
        let s = AliyunApiGateway::new();
        let form = "application/x-www-form-urlencoded";
        for (target, body, text, code) in [
            (
                "/f?a=1",
                &b"a=2"[..],
                "Invalid Param Location, a parameter is in both the query and the form body",
                "InvalidParamLocation",
            ),
            ("/f?a=%C3", b"", "Invalid Param, a parameter is not UTF-8 once percent-decoded", "InvalidParamEncoding"),
            ("/f", b"%FF=1", "Invalid Param, a parameter is not UTF-8 once percent-decoded", "InvalidParamEncoding"),
        ] {
            let (mut parts, ()) =
                http::Request::post(target).header("content-type", form).body(()).unwrap().into_parts();
            assert!(
                s.sign(&mut parts, &mut Bytes::copy_from_slice(body), "app", &SECRET.into(), now()).is_err(),
                "{target}"
            );
            // signed without the ambiguity, sent with it
            let (parts, _) = signed(Method::POST, "/f", Some(form), b"b=1");
            let mut p = parts.clone();
            p.uri = target.parse().unwrap();
            expect(check(&p, body, SECRET, now()), 400, text, code);
        }
        // a header of the string sent twice
        let (mut parts, ()) =
            http::Request::get("/").header("date", "a").header("date", "b").body(()).unwrap().into_parts();
        assert!(s.sign(&mut parts, &mut Bytes::new(), "app", &SECRET.into(), now()).is_err());
    }

    /// The official clients send a list as a repeated name (`tag=x&tag=y`) and sign its
    /// values joined by commas, in the order sent: accepted, and the order is covered.
    #[test]
    fn a_repeated_name_is_signed_with_its_values_in_order() {
        let (parts, body) = signed(Method::GET, "/f?tag=x&a=1&tag=y%20z", None, b"");
        assert!(check(&parts, &body, SECRET, now()).is_ok());
        let mut swapped = parts.clone();
        swapped.uri = "/f?tag=y%20z&a=1&tag=x".parse().unwrap();
        let err = check(&swapped, &body, SECRET, now()).unwrap_err();
        assert!(err.message().starts_with("Invalid Signature"), "{err:?}");
    }

    #[test]
    fn form_body_is_signed() {
        let (parts, body) = signed(Method::POST, "/f", Some("application/x-www-form-urlencoded"), b"a=1&b=x+y");
        assert!(!parts.headers.contains_key("content-md5"));
        assert!(check(&parts, &body, SECRET, now()).is_ok());
        assert!(check(&parts, b"a=1&b=x+z", SECRET, now()).is_err());
        // same parameters, other bytes: same string
        assert!(check(&parts, b"b=x%20y&a=1", SECRET, now()).is_ok());
    }

    #[test]
    fn sha1_method() {
        let s = AliyunApiGateway::new().signature_method(HmacAlg::Sha1);
        let (parts, body) = signed_with(&s, Method::GET, "/", None, b"");
        assert_eq!(parts.headers[X_CA_SIGNATURE_METHOD], "HmacSHA1");
        assert!(parts.headers[X_CA_SIGNATURE_HEADERS].to_str().unwrap().contains("x-ca-signature-method"));
        assert_eq!(parts.headers[X_CA_SIGNATURE].len(), 28); // Base64 of 20 bytes
        assert!(check(&parts, &body, SECRET, now()).is_ok());
        // the SHA-256 signer leaves no contradicting method header behind
        let mut p = parts.clone();
        AliyunApiGateway::new().sign(&mut p, &mut Bytes::new(), "app", &SECRET.into(), now()).unwrap();
        assert_eq!(p.headers[X_CA_SIGNATURE_METHOD], "HmacSHA256");
        assert!(check(&p, &body, SECRET, now()).is_ok());
    }

    #[test]
    fn unknown_signature_method() {
        let (mut parts, body) = signed(Method::GET, "/", None, b"");
        parts.headers.insert(X_CA_SIGNATURE_METHOD, HeaderValue::from_static("HmacMD5"));
        expect(check(&parts, &body, SECRET, now()), 400, "Invalid Signature Method", "InvalidSignatureMethod");
    }

    #[test]
    fn signer_headers() {
        let s = AliyunApiGateway::new().stage(Stage::Release).sign_header(HeaderName::from_static("x-custom"));
        let (mut parts, ()) = http::Request::get("/").header("x-custom", "v").body(()).unwrap().into_parts();
        s.sign_with_nonce(&mut parts, b"", "app", &SECRET.into(), now() + Duration::from_millis(447), "n-1").unwrap();
        let h = &parts.headers;
        assert_eq!(h[X_CA_TIMESTAMP], "1700000000447");
        assert_eq!(h[X_CA_NONCE], "n-1");
        assert_eq!(h[X_CA_STAGE], "RELEASE");
        assert_eq!(h[ACCEPT], "application/json");
        assert_eq!(h[X_CA_SIGNATURE_HEADERS], "x-ca-key,x-ca-nonce,x-ca-stage,x-ca-timestamp,x-custom");
        assert!(!h.contains_key(CONTENT_MD5));
        assert!(!h.contains_key(X_CA_SIGNATURE_METHOD));
        assert!(
            uuid::Uuid::parse_str(signed(Method::GET, "/", None, b"").0.headers[X_CA_NONCE].to_str().unwrap()).is_ok()
        );
    }

    #[test]
    fn needs_body() {
        let s = AliyunApiGateway::new();
        let mut h = HeaderMap::new();
        assert!(!Scheme::needs_body(&s, &Method::POST, &h));
        h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        assert!(!Scheme::needs_body(&s, &Method::POST, &h));
        h.insert(CONTENT_MD5, HeaderValue::from_static("x"));
        assert!(Scheme::needs_body(&s, &Method::POST, &h));
        let mut h = HeaderMap::new();
        h.insert(CONTENT_TYPE, HeaderValue::from_static("application/x-www-form-urlencoded; charset=UTF-8"));
        assert!(Scheme::needs_body(&s, &Method::GET, &h));
    }
}
