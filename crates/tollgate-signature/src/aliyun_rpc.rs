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
//! | nonce used again (by a replay guard) | 400 | `SignatureNonceUsed` | `Specified signature nonce was used already.` |
//!
//! A mismatch carries the server's string to sign exactly, so the SDK can tell a wrong
//! secret (`InvalidAccessKeySecret`) from a changed request (`SignatureDoesNotMatch`).
//! A `SignatureMethod` other than `HMAC-SHA1` / `HMAC-SHA256` is refused before the key
//! lookup (`InvalidSignatureMethod`, 400, our wording).
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

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderMap, Method, StatusCode};
use tollgate_core::{ErrorStyle, Rejection, time_apart};

use crate::HmacAlg;
use crate::byte_search::{cmp_text, split_ascii};
use crate::form::{
    AmbiguousParams, decode_component, decode_step, decoded_pairs, each_param, form_body, is_form, rfc3986_encode,
};
use crate::mac::{SignatureBytes, base64_encode, hmac};
use crate::name_order::{NameOrder, Sought};
use crate::raw_params::RawParam;
use crate::scheme::{RequestView, Scheme, SignError, Signer, Verified};
use crate::secret::{KeyForm, Secret};
use crate::sorted_params::Params;

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
    /// The first `Timestamp`, read (`None` if absent or not well formed).
    timestamp: Option<SystemTime>,
    signature: Option<SignatureBytes>,
    alg: HmacAlg,
}

/// RFC 3986's unreserved bytes, `A-Z a-z 0-9 - _ . ~`, as a table: this test runs once per
/// byte of every parameter.
const UNRESERVED: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.' | b'~');
        b += 1;
    }
    table
};

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// `text` percent-encoded per RFC 3986 and then encoded again, as the string to sign holds
/// each name and value: an escape `%XX` becomes `%25XX`, unreserved bytes stay.
fn push_twice_encoded(out: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if !UNRESERVED[usize::from(b)] {
            out.extend_from_slice(&bytes[start..i]);
            out.extend_from_slice(&[b'%', b'2', b'5', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
            start = i + 1;
        }
    }
    out.extend_from_slice(&bytes[start..]);
}

/// The string to sign over decoded parameters (every `Signature` is left out), shared by
/// verifier and signer: `METHOD&%2F&` + the RFC 3986 encoded `name=value` pairs, sorted by
/// decoded name (byte order, which is code-point order: the SDKs sort before encoding),
/// joined by `&`, all encoded once more. A name given several times is signed once per
/// value, the values in byte order.
pub fn string_to_sign<K: AsRef<str>, V: AsRef<str>>(method: &Method, params: &[(K, V)]) -> String {
    String::from_utf8_lossy(&string_to_sign_bytes(method, params)).into_owned()
}

/// [`string_to_sign`] as bytes (all ASCII), which is what the HMAC reads.
fn string_to_sign_bytes<K: AsRef<str>, V: AsRef<str>>(method: &Method, params: &[(K, V)]) -> Vec<u8> {
    let mut pairs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (k.as_ref(), v.as_ref())).collect();
    pairs.sort_by(|a, b| cmp_text(a.0, b.0));
    write_sorted(method, &pairs)
}

/// `METHOD&%2F&`, with room for pairs whose names and values add up to `text_len`
/// bytes: every byte becomes at most five (`%25XX`), so one allocation, never grown.
fn string_to_sign_start(method: &Method, pairs: usize, text_len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + 5 * text_len + 6 * pairs);
    out.extend_from_slice(method.as_str().as_bytes());
    out.extend_from_slice(b"&%2F&");
    out
}

/// The string to sign over decoded pairs sorted by name; `Signature` is left out and a
/// name's several values are put in byte order here.
fn write_sorted<K: AsRef<str>, V: AsRef<str>>(method: &Method, pairs: &[(K, V)]) -> Vec<u8> {
    let text_len = pairs.iter().map(|(k, v)| k.as_ref().len() + v.as_ref().len()).sum();
    let mut out = string_to_sign_start(method, pairs.len(), text_len);
    let start = out.len();
    let write = |out: &mut Vec<u8>, k: &str, v: &str| {
        if out.len() > start {
            out.extend_from_slice(b"%26");
        }
        push_twice_encoded(out, k);
        out.extend_from_slice(b"%3D");
        push_twice_encoded(out, v);
    };
    let mut i = 0;
    while i < pairs.len() {
        let name = pairs[i].0.as_ref();
        let run = 1 + pairs[i + 1..].iter().take_while(|(k, _)| k.as_ref() == name).count();
        if name != "Signature" {
            if run == 1 {
                write(&mut out, name, pairs[i].1.as_ref());
            } else {
                let mut values: Vec<&str> = pairs[i..i + run].iter().map(|(_, v)| v.as_ref()).collect();
                values.sort_unstable();
                values.into_iter().for_each(|v| write(&mut out, name, v));
            }
        }
        i += run;
    }
    out
}

/// [`write_sorted`] from parameters as sent (sorted, no name twice), without decoding:
/// the SDKs send each value encoded as the string to sign encodes it, so decoding each
/// only to encode it again was a third of a verification.
fn write_sorted_raw(method: &Method, params: &[RawParam<'_>]) -> Vec<u8> {
    let text_len = params.iter().map(|p| p.name.len() + p.value.len()).sum();
    let mut out = string_to_sign_start(method, params.len(), text_len);
    let start = out.len();
    for p in params.iter().filter(|p| p.name != "Signature") {
        if out.len() > start {
            out.extend_from_slice(b"%26");
        }
        if p.canonical {
            // encoded as the string to sign encodes: once more only escapes each `%`
            out.extend_from_slice(p.name.as_bytes());
            out.extend_from_slice(b"%3D");
            for (i, part) in split_ascii(p.value, b'%').enumerate() {
                if i > 0 {
                    out.extend_from_slice(b"%25");
                }
                out.extend_from_slice(part.as_bytes());
            }
            continue;
        }
        push_twice_encoded(&mut out, p.name);
        out.extend_from_slice(b"%3D");
        if let Err(start) = push_twice_encoded_raw(&mut out, p.value) {
            // an escape of a non-ASCII byte: the decoded text decides (it may not be UTF-8)
            out.truncate(start);
            push_twice_encoded(&mut out, &decode_component(p.value));
        }
    }
    out
}

/// What [`push_twice_encoded`] writes for `raw` decoded (`+` a space, `%XX` a byte), read
/// straight from `raw`, for a value not sent as the SDKs encode. An escape of a
/// byte above ASCII stops it (`Err` with where the value began), since only the whole
/// decoded text says whether such bytes are UTF-8.
fn push_twice_encoded_raw(out: &mut Vec<u8>, raw: &str) -> Result<(), usize> {
    let start = out.len();
    let bytes = raw.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let (b, width) = decode_step(bytes, i);
        if width == 3 && !b.is_ascii() {
            return Err(start);
        }
        if UNRESERVED[usize::from(b)] {
            out.push(b);
        } else {
            out.extend_from_slice(&[b'%', b'2', b'5', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
        }
        i += width;
    }
    Ok(())
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
        const SOUGHT: [Sought; 5] = [
            Sought::new("Signature"),
            Sought::new("SignatureMethod"),
            Sought::new("AccessKeyId"),
            Sought::new("Timestamp"),
            Sought::new("SignatureNonce"),
        ];
        let [signature, method, key, timestamp, nonce] = params.first_of_each(&SOUGHT);
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
        let (key, nonce) = (params.keep(key).unwrap_or_default(), params.keep(nonce));
        Ok(Parsed { key, nonce, timestamp, params, signature, alg })
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
        let mut nonce = uuid::Uuid::encode_buffer();
        let nonce = uuid::Uuid::new_v4().simple().encode_lower(&mut nonce);
        self.sign_with_nonce(parts, body, key_id, secret, now, nonce)
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
    use std::time::UNIX_EPOCH;
    use tollgate_core::Ecosystem;

    const NOW: u64 = 1_700_000_000; // 2023-11-14T22:13:20Z
    const SECRET: &str = "secret";
    const MISMATCH: &str = "Specified signature is not matched with our calculation. server string to sign is:";

    proptest::proptest! {
        /// The string to sign written from values as sent is the one written from their
        /// decoded text, whatever their escapes (including ones of non-ASCII bytes, which
        /// may not be UTF-8).
        #[test]
        fn raw_values_sign_as_decoded_ones(
            names in proptest::collection::btree_set("[A-Za-z_.~*]{1,6}", 0..6),
            values in proptest::collection::vec(crate::testing::any_value(), 6),
        ) {
            let query = crate::testing::query_of(&names, &values);
            let (raw, decoded) = crate::testing::raw_and_decoded(&query, NameOrder::Bytes).expect("plain, distinct names");
            proptest::prop_assert_eq!(write_sorted_raw(&Method::GET, &raw), write_sorted(&Method::GET, &decoded));
        }
    }

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
    fn documented_string_to_sign_shape() {
        let params = vec![("Action".to_owned(), "X".to_owned()), ("a b".to_owned(), "*~".to_owned())];
        assert_eq!(string_to_sign(&Method::GET, &params), "GET&%2F&Action%3DX%26a%2520b%3D%252A~");
        let params = [("Signature", "left out"), ("k", "\u{5F20} +/=&")];
        assert_eq!(string_to_sign(&Method::POST, &params), "POST&%2F&k%3D%25E5%25BC%25A0%2520%252B%252F%253D%2526");
    }

    #[test]
    fn sorted_by_decoded_name() {
        // `~` (0x7E) sorts before `é` (0xC3 0xA9) in bytes; encoded, `%C3%A9` would come first
        let params = [("a\u{E9}", "2"), ("a~", "1"), ("B", "0"), ("a", "3")];
        assert_eq!(string_to_sign(&Method::GET, &params), "GET&%2F&B%3D0%26a%3D3%26a~%3D1%26a%25C3%25A9%3D2");
        // a repeated name: both values, in order
        let params = [("x", "2"), ("x", "1")];
        assert_eq!(string_to_sign(&Method::GET, &params), "GET&%2F&x%3D1%26x%3D2");
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

    #[test]
    fn set_param_keeps_the_first_place() {
        let mut p = vec![("a".to_owned(), "1".to_owned()), ("b".into(), "2".into()), ("a".into(), "3".into())];
        set_param(&mut p, "a", "x".into());
        set_param(&mut p, "c", "y".into());
        assert_eq!(p, [("a".to_owned(), "x".to_owned()), ("b".into(), "2".into()), ("c".into(), "y".into())]);
    }
}
