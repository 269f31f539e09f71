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

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use sha2::{Digest, Sha256};
use tollgate_core::{ErrorStyle, Rejection, time_apart};

use crate::HmacAlg;
use crate::byte_search::{has_ascii_uppercase, split_ascii};
use crate::form::{AmbiguousParams, decode_component, decode_step, decoded_pairs, each_param, form_body, is_form};
use crate::header_text::{header_str, header_text};
use crate::hex::decode_hex;
use crate::mac::{SignatureBytes, base64_encode, hmac};
use crate::name_order::{NameOrder, Sought};
use crate::raw_params::RawParam;
use crate::scheme::{RequestView, Scheme, SignError, Signer, Verified};
use crate::secret::{KeyForm, Secret};
use crate::sorted_params::Params;

const ALGORITHM: &str = "TC3-HMAC-SHA256";
/// 9999-12-31T23:59:59Z: later timestamps are refused as malformed, whatever the window, so
/// the credential date can always be formatted.
const LAST_SECOND_OF_9999: u64 = 253_402_300_799;
// Header names as constants: looking one up by `&str` parses and validates it every time.
const X_TC_TIMESTAMP: http::HeaderName = http::HeaderName::from_static("x-tc-timestamp");
const X_TC_CONTENT_SHA256: http::HeaderName = http::HeaderName::from_static("x-tc-content-sha256");
const UNSIGNED: &str = "UNSIGNED-PAYLOAD";

/// The SHA-256 of nothing, in hex.
const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

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

fn parse_tc3(value: &str) -> Result<Parsed<'_>, Rejection> {
    let rest = value.strip_prefix(ALGORITHM).ok_or_else(|| invalid_authorization("expected TC3-HMAC-SHA256"))?;
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for part in split_ascii(rest, b',') {
        let part = part.trim_ascii();
        let Some(eq) = part.bytes().position(|b| b == b'=') else {
            return Err(invalid_authorization("expected Credential=..., SignedHeaders=..., Signature=..."));
        };
        let (k, v) = (part[..eq].trim_ascii(), part[eq + 1..].trim_ascii());
        match k {
            "Credential" => credential = Some(v),
            "SignedHeaders" => signed = Some(v),
            "Signature" => signature = Some(v),
            _ => {}
        }
    }
    let credential = credential.ok_or_else(|| invalid_authorization("no Credential"))?;
    let signed = signed.filter(|s| !s.is_empty()).ok_or_else(|| invalid_authorization("no SignedHeaders"))?;
    let mut digest = [0u8; 32];
    signature
        .and_then(|s| decode_hex(s.as_bytes(), &mut digest))
        .ok_or_else(|| invalid_authorization("Signature is not 64 hex digits"))?;
    let mut scope = split_ascii(credential, b'/');
    let (Some(key), Some(date), Some(service), Some("tc3_request"), None) =
        (scope.next(), scope.next(), scope.next(), scope.next(), scope.next())
    else {
        return Err(invalid_authorization("Credential is not SecretId/Date/Service/tc3_request"));
    };
    if key.is_empty() || service.is_empty() || date.len() != 10 {
        return Err(invalid_authorization("Credential is not SecretId/Date/Service/tc3_request"));
    }
    let signed_headers = match has_ascii_uppercase(signed) {
        true => Cow::Owned(signed.to_ascii_lowercase()),
        false => Cow::Borrowed(signed),
    };
    // Tencent requires both (every SDK signs them): an unsigned Content-Type would let the
    // signed body be read as another kind, an unsigned Host let it go to another service.
    let listed = |name: &str| split_ascii(&signed_headers, b';').any(|n| n == name);
    if !listed("content-type") || !listed("host") {
        return Err(invalid_authorization("SignedHeaders must include content-type and host"));
    }
    Ok(Parsed::Tc3 { key, date, service, signed_headers, signature: digest })
}

/// The TC3 canonical request, shared by verifier and signer.
pub fn tc3_canonical_request(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    signed_headers: &str,
    body: &[u8],
) -> String {
    let canonical = write_tc3_canonical_request(method, uri, headers, signed_headers, body);
    // written from text only
    String::from_utf8_lossy(&canonical.bytes).into_owned()
}

/// A TC3 canonical request, and what the pass over the headers that wrote it found.
struct Canonical<'h> {
    bytes: Vec<u8>,
    /// The `X-TC-Timestamp` value.
    timestamp: Option<&'h HeaderValue>,
    /// A header the verifier reads (a signed one, `X-TC-Timestamp`, `X-TC-Content-SHA256`)
    /// sent more than once: only one value is signed, and a backend may read another.
    repeated: Option<&'h str>,
}

/// The refusal of a request whose header `name` is sent more than once.
fn repeated_header(name: &str) -> Rejection {
    // No reference code; `InvalidParameter` is Tencent's for a request it cannot take.
    refusal("InvalidParameter", format!("The header `{name}` is sent more than once."))
}

/// The refusal of v1 parameters that can be read more than one way.
fn ambiguous_params(ambiguity: AmbiguousParams) -> Rejection {
    let message = match ambiguity {
        AmbiguousParams::QueryAndForm => "A parameter is in both the query and the form body.",
        AmbiguousParams::Repeated => "A parameter is given more than once (`_` in a name is signed as `.`).",
        AmbiguousParams::NotUtf8 => "A parameter is not UTF-8 once percent-decoded.",
    };
    refusal("InvalidParameter", message)
}

/// The signed headers a TC3 request is read for in one pass, with room for this many
/// before a vector is needed.
const SIGNED_ON_STACK: usize = 8;

/// The canonical request as bytes, with the `X-TC-Timestamp` and any repeated header met
/// on the way: one pass over the request's headers finds the signed ones, the payload flag
/// and the time, rather than a hashed lookup by text each (a name given as `&str` is
/// parsed on every lookup).
fn write_tc3_canonical_request<'h>(
    method: &Method,
    uri: &Uri,
    headers: &'h HeaderMap,
    signed_headers: &str,
    body: &[u8],
) -> Canonical<'h> {
    let query = if method == Method::GET { uri.query().unwrap_or("") } else { "" };
    let mut out = Vec::with_capacity(256);
    for part in [method.as_str(), "\n", uri.path(), "\n", query, "\n"] {
        out.extend_from_slice(part.as_bytes());
    }
    let mut on_stack = [("", None); SIGNED_ON_STACK];
    let mut spilled = Vec::new();
    let count = split_ascii(signed_headers, b';').count();
    let signed: &mut [(&str, Option<&HeaderValue>)] = if count <= SIGNED_ON_STACK {
        &mut on_stack[..count]
    } else {
        spilled.resize(count, ("", None));
        &mut spilled
    };
    for (slot, name) in signed.iter_mut().zip(split_ascii(signed_headers, b';')) {
        slot.0 = name;
    }
    let (mut content_sha256, mut timestamp, mut repeated) = (None, None, None);
    let mut keep = |slot: &mut Option<&'h HeaderValue>, name: &'h str, value: &'h HeaderValue| match slot {
        Some(_) => _ = repeated.get_or_insert(name),
        None => *slot = Some(value),
    };
    for (name, value) in headers {
        let name = name.as_str();
        if name == X_TC_CONTENT_SHA256.as_str() {
            keep(&mut content_sha256, name, value);
        } else if name == X_TC_TIMESTAMP.as_str() {
            keep(&mut timestamp, name, value);
        }
        // a name listed twice is one header: each of its slots is filled once per value
        for (wanted, slot) in signed.iter_mut() {
            if wanted.len() == name.len() && wanted.eq_ignore_ascii_case(name) {
                keep(slot, name, value);
            }
        }
    }
    for &(name, value) in signed.iter() {
        out.extend_from_slice(name.as_bytes());
        out.push(b':');
        if let Some(v) = value {
            match header_text(v) {
                // visible ASCII, nearly always: lower-cased in place
                Some(text) => {
                    let start = out.len();
                    out.extend_from_slice(text.trim_ascii().as_bytes());
                    out[start..].make_ascii_lowercase();
                }
                None => {
                    let text = String::from_utf8_lossy(v.as_bytes());
                    out.extend(text.trim().chars().flat_map(char::to_lowercase).collect::<String>().bytes());
                }
            }
        }
        out.push(b'\n');
    }
    out.push(b'\n');
    out.extend_from_slice(signed_headers.as_bytes());
    out.push(b'\n');
    let unsigned = content_sha256.and_then(header_text).is_some_and(|v| v.trim_ascii() == UNSIGNED);
    push_hex_sha256(&mut out, if unsigned { UNSIGNED.as_bytes() } else { body });
    Canonical { bytes: out, timestamp, repeated }
}

/// The lower-case hex of the SHA-256 of `data`.
fn push_hex_sha256(out: &mut Vec<u8>, data: &[u8]) {
    if data.is_empty() {
        // the common bodiless GET: a constant
        out.extend_from_slice(EMPTY_SHA256.as_bytes());
        return;
    }
    let mut hex = [0u8; 64];
    // 32 bytes always fit 64 hex digits; written as bytes, with no `from_utf8` after
    let _ = hex::encode_to_slice(Sha256::digest(data), &mut hex);
    out.extend_from_slice(&hex);
}

/// The TC3 string to sign.
pub fn tc3_string_to_sign(timestamp: u64, date: &str, service: &str, canonical_request: &str) -> String {
    // written from text only
    String::from_utf8_lossy(&write_tc3_string_to_sign(timestamp, date, service, canonical_request.as_bytes()))
        .into_owned()
}

fn write_tc3_string_to_sign(timestamp: u64, date: &str, service: &str, canonical_request: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(ALGORITHM.len() + 24 + date.len() + service.len() + 13 + 64);
    out.extend_from_slice(ALGORITHM.as_bytes());
    out.push(b'\n');
    push_decimal(&mut out, timestamp);
    out.push(b'\n');
    for part in [date, "/", service, "/tc3_request\n"] {
        out.extend_from_slice(part.as_bytes());
    }
    push_hex_sha256(&mut out, canonical_request);
    out
}

/// `n` in decimal, without the formatting machinery (`format!` was a tenth of a TC3
/// verification).
fn push_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

/// A TC3 request's nonce: its signature (the scheme has no nonce of its own).
fn nonce_of(signature: &[u8; 32]) -> Arc<str> {
    let mut text = *b"tc3:0000000000000000000000000000000000000000000000000000000000000000";
    // 32 bytes always fit 64 hex digits
    let _ = hex::encode_to_slice(signature, &mut text[4..]);
    Arc::from(std::str::from_utf8(&text).unwrap_or_default())
}

/// The TC3 signing key for `secret` on `date` for `service`.
pub fn tc3_signing_key(secret: &[u8], date: &str, service: &str) -> Vec<u8> {
    let mut key = b"TC3".to_vec();
    key.extend_from_slice(secret);
    let k_date = hmac(HmacAlg::Sha256, &key, date.as_bytes());
    let k_service = hmac(HmacAlg::Sha256, &k_date, service.as_bytes());
    hmac(HmacAlg::Sha256, &k_service, b"tc3_request")
}

/// The v1 string to sign: method, host, path, `?`, the decoded parameters sorted by name
/// with `_` in names written `.`, as the SDK signs them.
pub fn v1_string_to_sign<K: AsRef<str>, V: AsRef<str>>(
    method: &Method,
    host: &str,
    path: &str,
    params: &[(K, V)],
) -> String {
    let mut pairs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (k.as_ref(), v.as_ref())).collect();
    pairs.sort_by(|a, b| cmp_v1(a.0, b.0));
    // written from text only
    String::from_utf8_lossy(&v1_write_sorted(method, host, path, &pairs)).into_owned()
}

/// How the v1 string to sign orders names: as signed, `_` as `.`.
fn cmp_v1(a: &str, b: &str) -> std::cmp::Ordering {
    NameOrder::UnderscoreAsDot.cmp(a, b)
}

/// Method, host, path and `?`, with room for pairs whose names and values add up to
/// `text_len` bytes.
fn v1_start(method: &Method, host: &str, path: &str, pairs: usize, text_len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(method.as_str().len() + host.len() + path.len() + 1 + text_len + 2 * pairs);
    for part in [method.as_str(), host, path, "?"] {
        out.extend_from_slice(part.as_bytes());
    }
    out
}

/// Writes `name=` as signed (`_` as `.`), after a `&` unless it is the first pair.
fn push_v1_name(out: &mut Vec<u8>, first: bool, name: &str) {
    if !first {
        out.push(b'&');
    }
    match name.contains('_') {
        true => out.extend(name.bytes().map(|b| if b == b'_' { b'.' } else { b })),
        false => out.extend_from_slice(name.as_bytes()),
    }
    out.push(b'=');
}

/// The v1 string to sign over decoded pairs sorted by [`cmp_v1`] (stably): `Signature` is
/// left out, and the pairs of one signed name are put in value order here.
fn v1_write_sorted<K: AsRef<str>, V: AsRef<str>>(method: &Method, host: &str, path: &str, pairs: &[(K, V)]) -> Vec<u8> {
    let text_len = pairs.iter().map(|(k, v)| k.as_ref().len() + v.as_ref().len()).sum();
    let mut out = v1_start(method, host, path, pairs.len(), text_len);
    let start = out.len();
    let write = |out: &mut Vec<u8>, k: &str, v: &str| {
        if k != "Signature" {
            let first = out.len() == start;
            push_v1_name(out, first, k);
            out.extend_from_slice(v.as_bytes());
        }
    };
    let mut i = 0;
    while i < pairs.len() {
        let name = pairs[i].0.as_ref();
        let run = 1 + pairs[i + 1..].iter().take_while(|(k, _)| cmp_v1(k.as_ref(), name).is_eq()).count();
        if run == 1 {
            write(&mut out, name, pairs[i].1.as_ref());
        } else {
            let mut run: Vec<(&str, &str)> = pairs[i..i + run].iter().map(|(k, v)| (k.as_ref(), v.as_ref())).collect();
            run.sort_by(|a, b| a.1.cmp(b.1));
            run.into_iter().for_each(|(k, v)| write(&mut out, k, v));
        }
        i += run;
    }
    out
}

/// [`v1_write_sorted`] from parameters as sent (sorted, no two names equal in the order),
/// decoding values only where they hold an escape.
fn v1_write_sorted_raw(method: &Method, host: &str, path: &str, params: &[RawParam<'_>]) -> Vec<u8> {
    let text_len = params.iter().map(|p| p.name.len() + p.value.len()).sum();
    let mut out = v1_start(method, host, path, params.len(), text_len);
    let start = out.len();
    for p in params.iter().filter(|p| p.name != "Signature") {
        let first = out.len() == start;
        push_v1_name(&mut out, first, p.name);
        if p.plain {
            out.extend_from_slice(p.value.as_bytes());
            continue;
        }
        let value = out.len();
        if !push_decoded(&mut out, p.value) {
            // an escape of a byte above ASCII: the decoded text decides (it may not be UTF-8)
            out.truncate(value);
            out.extend_from_slice(decode_component(p.value).as_bytes());
        }
    }
    out
}

/// Writes `raw` decoded (`+` a space, `%XX` a byte) as `params` decodes it, straight from
/// `raw`; `false` at an escape of a byte above ASCII, which only the whole decoded text
/// can place (it may not be UTF-8).
fn push_decoded(out: &mut Vec<u8>, raw: &str) -> bool {
    let bytes = raw.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        // most values have nothing to decode: copied in runs
        let run = bytes[i..].iter().position(|&b| b == b'%' || b == b'+').unwrap_or(bytes.len() - i);
        out.extend_from_slice(&bytes[i..i + run]);
        i += run;
        if i == bytes.len() {
            break;
        }
        let (b, width) = decode_step(bytes, i);
        if width == 3 && !b.is_ascii() {
            return false;
        }
        out.push(b);
        i += width;
    }
    true
}

/// `YYYY-MM-DD` of `seconds` since the epoch, in UTC, written into a buffer (no allocation
/// per request).
fn utc_date(seconds: u64) -> DateText {
    // Days to civil date (H. Hinnant's `civil_from_days`), for days since 1970 that are
    // never negative: formatting a whole RFC 3339 time to keep ten bytes of it cost more
    // than the rest of the time check.
    let z = seconds / 86_400 + 719_468;
    let (era, doe) = (z / 146_097, z % 146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    let mut text = *b"0000-00-00";
    for (at, value, width) in [(0, year, 4), (5, month, 2), (8, day, 2)] {
        let mut v = value;
        for i in (at..at + width).rev() {
            text[i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    }
    DateText(text)
}

/// What [`utc_date`] wrote: `YYYY-MM-DD`.
struct DateText([u8; 10]);

impl DateText {
    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

/// Whether the request says a body follows (a non-zero `Content-Length`, or any
/// `Transfer-Encoding`).
fn announces_body(headers: &HeaderMap) -> bool {
    headers.contains_key(http::header::TRANSFER_ENCODING)
        || headers.get_all(http::header::CONTENT_LENGTH).iter().any(|v| v.as_bytes() != b"0")
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
            return parse_tc3(auth.trim_ascii());
        }
        // v1 signs the host, and the parameters of a body that is a form
        for name in [HOST, CONTENT_TYPE] {
            if req.headers.get_all(&name).iter().nth(1).is_some() {
                return Err(repeated_header(name.as_str()));
            }
        }
        let params = Params::sorted(req.uri.query().unwrap_or(""), form_body(req), NameOrder::UnderscoreAsDot)
            .map_err(ambiguous_params)?;
        const SOUGHT: [Sought; 5] = [
            Sought::new("Signature"),
            Sought::new("SignatureMethod"),
            Sought::new("SecretId"),
            Sought::new("Timestamp"),
            Sought::new("Nonce"),
        ];
        let [signature, method, key, timestamp, nonce] = params.first_of_each(&SOUGHT);
        // a value read once is decoded on the stack; one kept, only if it needs it
        let mut buf = [0u8; 128];
        let Some(signature) = params.read(signature, &mut buf).map(|s| SignatureBytes::from_base64(&s)) else {
            return Err(refusal(
                "MissingParameter",
                "The request has neither an Authorization header (TC3-HMAC-SHA256) nor a `Signature` parameter.",
            ));
        };
        let alg = match params.read(method, &mut buf).as_deref() {
            None | Some("HmacSHA1") => HmacAlg::Sha1,
            Some("HmacSHA256") => HmacAlg::Sha256,
            Some(other) => {
                return Err(refusal(
                    "InvalidParameter",
                    format!("SignatureMethod {other:?} is not HmacSHA1 or HmacSHA256."),
                ));
            }
        };
        let Some(key) = params.keep(key).filter(|k| !k.is_empty()) else {
            return Err(refusal("MissingParameter", "The parameter `SecretId` is required."));
        };
        let (timestamp, nonce) = (params.keep(timestamp), params.keep(nonce));
        Ok(Parsed::V1 { alg, signature, key, timestamp, nonce, params: V1Params(params) })
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
                let sts = match &params.0 {
                    Params::Raw(params) => v1_write_sorted_raw(req.method, host, path, params),
                    Params::Decoded(params) => v1_write_sorted(req.method, host, path, params),
                };
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
        let invalid = |what: &str| SignError::Invalid(format!("{what} is not a valid header value"));
        let ts = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        let host = host_of(&parts.uri, &parts.headers).to_owned();
        if host.is_empty() {
            return Err(SignError::Invalid("the request names no host".into()));
        }
        match self.sign_with {
            SignWith::Tc3 => {
                if !parts.headers.contains_key(HOST) {
                    parts.headers.insert(HOST, HeaderValue::from_str(&host).map_err(|_| invalid("the host"))?);
                }
                if !parts.headers.contains_key(CONTENT_TYPE) {
                    let ct = if parts.method == Method::GET {
                        "application/x-www-form-urlencoded"
                    } else {
                        "application/json"
                    };
                    parts.headers.insert(CONTENT_TYPE, HeaderValue::from_static(ct));
                }
                let service = match &self.service {
                    Some(s) => s.clone(),
                    None => host
                        .split('.')
                        .next()
                        .filter(|l| !l.is_empty() && !l.chars().all(|c| c.is_ascii_digit()))
                        .map(str::to_owned)
                        .ok_or_else(|| {
                            SignError::Invalid("the host names no service; set TencentCloud::sign_service".into())
                        })?,
                };
                let date = utc_date(ts);
                let date = date.as_str();
                parts.headers.insert("x-tc-timestamp", HeaderValue::from(ts));
                let signed = "content-type;host";
                if parts.method != Method::GET && parts.uri.query().is_some_and(|q| !q.is_empty()) {
                    return Err(SignError::Invalid("TC3 signs no query string but a GET's".into()));
                }
                let canonical = write_tc3_canonical_request(&parts.method, &parts.uri, &parts.headers, signed, body);
                if let Some(name) = canonical.repeated {
                    return Err(SignError::Invalid(format!("the header {name} is sent more than once")));
                }
                // written from text only
                let canonical = String::from_utf8_lossy(&canonical.bytes).into_owned();
                let sts = tc3_string_to_sign(ts, date, &service, &canonical);
                let signature = hex::encode(hmac(
                    HmacAlg::Sha256,
                    &tc3_signing_key(secret.expose(), date, &service),
                    sts.as_bytes(),
                ));
                let auth = format!(
                    "{ALGORITHM} Credential={key_id}/{date}/{service}/tc3_request, SignedHeaders={signed}, Signature={signature}"
                );
                parts.headers.insert(AUTHORIZATION, HeaderValue::from_str(&auth).map_err(|_| invalid("the key id"))?);
            }
            SignWith::V1(alg) => {
                let form = parts.method != Method::GET;
                let source = if form { &body[..] } else { parts.uri.query().unwrap_or("").as_bytes() };
                // what the verifier refuses as readable more than one way is not signed
                each_param(source, |_, _| {}).map_err(|ambiguity| SignError::Invalid(ambiguity.to_string()))?;
                let mut params = decoded_pairs(source);
                params.retain(|(k, _)| {
                    !matches!(k.as_str(), "Signature" | "SecretId" | "Timestamp" | "Nonce" | "SignatureMethod")
                });
                let mut names: Vec<&str> = params.iter().map(|(k, _)| k.as_str()).collect();
                names.sort_by(|a, b| cmp_v1(a, b));
                if names.windows(2).any(|w| cmp_v1(w[0], w[1]).is_eq()) {
                    // the verifier refuses it: which value an application reads is its own choice
                    return Err(SignError::Invalid(
                        "a parameter is given more than once (`_` in a name is signed as `.`)".into(),
                    ));
                }
                params.extend([
                    ("SecretId".to_owned(), key_id.to_owned()),
                    ("Timestamp".to_owned(), ts.to_string()),
                    ("Nonce".to_owned(), (uuid::Uuid::new_v4().as_u128() as u32).to_string()),
                ]);
                if alg == HmacAlg::Sha256 {
                    params.push(("SignatureMethod".to_owned(), "HmacSHA256".to_owned()));
                }
                let sts = v1_string_to_sign(&parts.method, &host, parts.uri.path(), &params);
                params.push(("Signature".to_owned(), base64_encode(&hmac(alg, secret.expose(), sts.as_bytes()))));
                let encoded = form_urlencoded::Serializer::new(String::new()).extend_pairs(&params).finish();
                if form {
                    *body = Bytes::from(encoded);
                    parts.headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/x-www-form-urlencoded"));
                    parts.headers.insert(http::header::CONTENT_LENGTH, HeaderValue::from(body.len()));
                } else {
                    let target = format!("{}?{encoded}", parts.uri.path());
                    let mut uri = http::uri::Builder::new();
                    if let Some(s) = parts.uri.scheme() {
                        uri = uri.scheme(s.clone());
                    }
                    if let Some(a) = parts.uri.authority() {
                        uri = uri.authority(a.clone());
                    }
                    parts.uri = uri.path_and_query(target).build().map_err(|e| SignError::Invalid(e.to_string()))?;
                }
                if !parts.headers.contains_key(HOST) {
                    parts.headers.insert(HOST, HeaderValue::from_str(&host).map_err(|_| invalid("the host"))?);
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tollgate_core::Ecosystem;

    #[test]
    fn documented_v1_example() {
        let text = "Action=DescribeInstances&InstanceIds.0=ins-09dx96dg&Limit=20&Nonce=11886&Offset=0&Region=ap-guangzhou&SecretId=AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE&Timestamp=1465185768&Version=2017-03-12";
        let params = decoded_pairs(text.as_bytes());
        let key = b"Gu5t9xGARNpq86cd98joQYCN3EXAMPLE";
        let sts = v1_string_to_sign(&Method::GET, "cvm.tencentcloudapi.com", "/", &params);
        assert_eq!(sts, format!("GETcvm.tencentcloudapi.com/?{text}"));
        assert_eq!(base64_encode(&hmac(HmacAlg::Sha1, key, sts.as_bytes())), "EliP9YW3pW28FpsEdkXt/+WcGeI=");
        let sts = v1_string_to_sign(&Method::GET, "cvm.finance.cloud.tencent.com", "/", &params);
        assert_eq!(base64_encode(&hmac(HmacAlg::Sha1, key, sts.as_bytes())), "e4PAN3/ywhfo/YEh/VuuPBQK8yA=");
    }

    #[test]
    fn underscores_are_signed_as_dots() {
        let params = vec![("Filters_0_Name".to_owned(), "zone".to_owned()), ("A".to_owned(), "1".to_owned())];
        assert_eq!(v1_string_to_sign(&Method::POST, "h", "/", &params), "POSTh/?A=1&Filters.0.Name=zone");
    }

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
    fn authorization_parser_refuses_malformed() {
        for bad in [
            "TC3-HMAC-SHA256",
            "TC3-HMAC-SHA256 Credential=a/2026-01-01/cvm/tc3_request, SignedHeaders=host",
            "TC3-HMAC-SHA256 Credential=a/2026-01-01/cvm, SignedHeaders=host, Signature=00",
            "TC3-HMAC-SHA256 Credential=a/2026-01-01/cvm/tc3_request, SignedHeaders=host, Signature=zz",
            "Basic dXNlcjpwYXNz",
            "TC3-HMAC-SHA256 garbage",
        ] {
            let err = parse_tc3(bad).unwrap_err();
            assert_eq!(err.code_for(Ecosystem::TencentCloud), "AuthFailure.InvalidAuthorization", "{bad}");
        }
        // content-type and host must be signed (Tencent requires both)
        for signed in ["host", "content-type;x-host", "x-tc-timestamp"] {
            let auth = format!(
                "TC3-HMAC-SHA256 Credential=a/2026-01-01/cvm/tc3_request, SignedHeaders={signed}, Signature={}",
                "ab".repeat(32)
            );
            let err = parse_tc3(&auth).unwrap_err();
            assert_eq!(
                err.message_for(Ecosystem::TencentCloud),
                "The Authorization header is malformed: SignedHeaders must include content-type and host."
            );
        }
        let ok = format!(
            "TC3-HMAC-SHA256 Credential=AKID/2026-11-22/cvm/tc3_request, SignedHeaders=content-type;host, Signature={}",
            "ab".repeat(32)
        );
        assert!(matches!(parse_tc3(&ok).unwrap(), Parsed::Tc3 { service, .. } if service == "cvm"));
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

    proptest::proptest! {
        /// The v1 string to sign written from values as sent is the one written from their
        /// decoded text, whatever their escapes.
        #[test]
        fn v1_raw_values_sign_as_decoded_ones(
            names in proptest::collection::btree_set("[A-Za-z.~*]{1,6}", 0..6),
            values in proptest::collection::vec(crate::testing::any_value(), 6),
        ) {
            let query = crate::testing::query_of(&names, &values);
            let (raw, decoded) = crate::testing::raw_and_decoded(&query, NameOrder::UnderscoreAsDot).expect("plain, distinct names");
            proptest::prop_assert_eq!(
                v1_write_sorted_raw(&Method::GET, "h", "/", &raw),
                v1_write_sorted(&Method::GET, "h", "/", &decoded)
            );
        }
    }

    proptest::proptest! {
        /// The canonical request lists each signed header's first value, trimmed and lower
        /// case (empty when absent), however many are signed, and the pass that finds them
        /// also finds the first `X-TC-Timestamp` and any header of these sent twice.
        #[test]
        fn tc3_canonical_request_reads_headers_as_looked_up(
            signed in proptest::collection::vec("x-[a-c]|host|Content-Type|X-TC-Timestamp", 1..14),
            present in proptest::collection::vec(("x-[a-c]|host|content-type|x-tc-timestamp", "[ -~]{0,12}"), 0..10),
        ) {
            let mut headers = HeaderMap::new();
            for (name, value) in &present {
                headers.append(http::HeaderName::from_bytes(name.as_bytes()).unwrap(), HeaderValue::from_str(value).unwrap());
            }
            let list = signed.join(";");
            let uri: Uri = "/p?a=1".parse().unwrap();
            let Canonical { bytes, timestamp, repeated } = write_tc3_canonical_request(&Method::GET, &uri, &headers, &list, b"");
            let mut expected = String::from("GET\n/p\na=1\n");
            for name in &signed {
                let value = headers.get(name.to_ascii_lowercase()).map(|v| v.to_str().unwrap().trim().to_ascii_lowercase());
                expected += &format!("{name}:{}\n", value.unwrap_or_default());
            }
            expected += &format!("\n{list}\n{EMPTY_SHA256}");
            proptest::prop_assert_eq!(String::from_utf8(bytes).unwrap(), expected);
            proptest::prop_assert_eq!(timestamp, headers.get("x-tc-timestamp"));
            // a header read (signed, or the timestamp) and sent more than once is named
            let read = |name: &str| name == "x-tc-timestamp" || signed.iter().any(|s| s.eq_ignore_ascii_case(name));
            let twice = headers.keys().find(|name| read(name.as_str()) && headers.get_all(*name).iter().count() > 1);
            proptest::prop_assert_eq!(repeated.is_some(), twice.is_some());
        }
    }

    proptest::proptest! {
        /// Names are ordered as their signed forms (`_` as `.`) are.
        #[test]
        fn v1_names_order_as_signed(a in "[a._Z]{0,10}", b in "[a._Z]{0,10}") {
            let signed = |s: &str| s.replace('_', ".");
            proptest::prop_assert_eq!(cmp_v1(&a, &b), signed(&a).cmp(&signed(&b)));
        }
    }

    #[test]
    fn utc_dates() {
        for seconds in (0..LAST_SECOND_OF_9999).step_by(86_400 * 7 + 3_607).chain([951_782_400, 4_107_542_399]) {
            let rfc3339 = humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(seconds)).to_string();
            assert_eq!(utc_date(seconds).as_str(), &rfc3339[..10], "{seconds}");
        }
        assert_eq!(utc_date(1_795_364_129).as_str(), "2026-11-22");
        assert_eq!(utc_date(0).as_str(), "1970-01-01");
        assert_eq!(utc_date(LAST_SECOND_OF_9999).as_str(), "9999-12-31");
    }
}
