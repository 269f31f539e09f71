//! Tencent API Gateway key-pair authentication:
//! `Authorization: hmac id="...", algorithm="hmac-sha1", headers="x-date source", signature="..."`.
//!
//! The signature is the Base64 HMAC-SHA1 (or HMAC-SHA256) of the listed headers, each
//! written `name: value` (name lower-cased) in the listed order and joined by `\n`. Only the
//! listed headers are covered — not the method, path, query or body — and one of `x-date` /
//! `date` must be among them. A signed `X-Date` must be within the window (15 minutes by
//! default); a plain `Date` is not time-checked unless
//! [`check_date_header`](TencentApiGateway::check_date_header) is set.
//!
//! ```
//! use std::convert::Infallible;
//! use std::time::{Duration, SystemTime};
//!
//! use bytes::Bytes;
//! use http::{Request, Response};
//! use http_body_util::Full;
//! use tollgate_core::{Caller, ManualClock, RequestBody};
//! use tollgate_signature::tencent_apigw::{TencentApiGateway, TencentApiGatewaySigner};
//! use tollgate_signature::{MemorySecretStore, Secret, SignatureLayer, Signer};
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
//!
//! // Client side: sign x-date and source.
//! let signer = TencentApiGatewaySigner::new().sign_header("source");
//! let (mut parts, ()) =
//!     Request::get("http://service-1.gz.apigw.tencentcs.com/release/hello").header("source", "my-app").body(()).unwrap().into_parts();
//! let secret = Secret::from("AKIDsecretKey");
//! signer.sign(&mut parts, &mut Bytes::new(), "AKIDkeyId", &secret, now).unwrap();
//! assert!(parts.headers["authorization"].to_str().unwrap().starts_with(r#"hmac id="AKIDkeyId", algorithm="hmac-sha1", headers="x-date source""#));
//!
//! // Server side.
//! let store = MemorySecretStore::new().with_key("AKIDkeyId", secret);
//! let layer = SignatureLayer::new(TencentApiGateway::new(), store)
//!     .clock(ManualClock::at_unix(Duration::from_secs(1_700_000_060)));
//! let svc = ServiceBuilder::new().layer(layer).service(service_fn(
//!     |req: Request<RequestBody<Full<Bytes>>>| async move {
//!         let caller = req.extensions().get::<Caller>().unwrap().key_id().to_owned();
//!         Ok::<_, Infallible>(Response::new(caller))
//!     },
//! ));
//! let resp = svc.clone().oneshot(Request::from_parts(parts.clone(), Full::default())).await.unwrap();
//! assert_eq!(resp.status(), 200);
//!
//! // A changed signed header: 403 {"message": "HMAC signature does not match"}.
//! parts.headers.insert("source", "other-app".parse().unwrap());
//! let resp = svc.oneshot(Request::from_parts(parts, Full::default())).await.unwrap();
//! assert_eq!(resp.status(), 403);
//! # }
//! ```
//!
//! # Replays
//!
//! The scheme has no nonce. The verifier reports `hmac:` followed by the (Base64) signature
//! as the nonce, so a replay guard refuses an identical request sent again within the
//! window. Beyond the window a signed `X-Date` has expired; a request signing only an
//! unchecked `Date` carries no timestamp and stays valid, as in Tencent's reference.

use std::borrow::Cow;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::header::AUTHORIZATION;
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use tollgate_core::{ErrorStyle, Rejection};

use crate::scheme::{RequestView, Scheme, SignError, Signer, Verified};
use crate::secret::Secret;
use crate::util::{HmacAlg, base64_decode, base64_encode, hmac, hmac_matches};

/// The prefix of every 403 refusal but a mismatch.
const CANNOT_VERIFY: &str = "HMAC signature cannot be verified";

/// Verifies Tencent API Gateway key-pair signatures.
///
/// Refusals are rendered with [`ErrorStyle::TencentApiGateway`] (`{"message": "..."}`):
///
/// | check | status | message |
/// |---|---|---|
/// | no `Authorization` | 401 | `HMAC signature cannot be verified, a validate authorization header is required` |
/// | not `hmac`, malformed, no id / signature, unknown algorithm, neither `x-date` nor `date` listed | 403 | `HMAC signature cannot be verified, ` + what is wrong |
/// | a listed header missing, repeated, or an unparsable `X-Date` | 403 | `HMAC signature cannot be verified, a valid NAME header is required` |
/// | unknown or disabled id | 403 | `HMAC signature cannot be verified` |
/// | `X-Date` out of the window | 403 | `HMAC signature cannot be verified, the x-date header is out of date for clock skew 900 seconds` |
/// | mismatch | 403 | `HMAC signature does not match` |
/// | replay (through a replay guard) | 403 | `HMAC signature cannot be verified, the request was already used (replay)` |
///
/// The neutral codes (for [`ErrorStyle::ProblemJson`]) are `MissingAuthorization`,
/// `InvalidAuthorization`, `InvalidSignedHeader`, `UnknownKey`, `SignatureExpired`,
/// `SignatureMismatch` and `SignatureReplayed`.
#[derive(Debug, Clone)]
pub struct TencentApiGateway {
    window: Duration,
    check_date: bool,
}

impl Default for TencentApiGateway {
    fn default() -> Self {
        Self::new()
    }
}

impl TencentApiGateway {
    /// A verifier with a 15-minute window (clock skew 900 seconds) that does not time-check
    /// a plain `Date`.
    pub fn new() -> Self {
        Self { window: Duration::from_secs(900), check_date: false }
    }

    /// How far a signed `X-Date` may be from now, either way (default 15 minutes).
    pub fn window(mut self, window: Duration) -> Self {
        self.window = window;
        self
    }

    /// Whether a signed plain `Date` header must be valid and within the window too
    /// (default `false`, as Tencent's gateway).
    pub fn check_date_header(mut self, check: bool) -> Self {
        self.check_date = check;
        self
    }
}

/// What [`TencentApiGateway`] read from a request.
#[derive(Debug, Clone)]
pub struct Parsed {
    key_id: String,
    alg: HmacAlg,
    /// `None` when the claimed signature is not Base64: it cannot match.
    signature: Option<Vec<u8>>,
    signing_string: Vec<u8>,
    /// The signed `X-Date`, parsed.
    x_date: Option<SystemTime>,
    /// The signed `Date`, parsed, when it is time-checked.
    date: Option<SystemTime>,
}

impl Parsed {
    /// The claimed key id (`id="..."`).
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The claimed algorithm.
    pub fn algorithm(&self) -> HmacAlg {
        self.alg
    }
}

// ---------------------------------------------------------------------------------------
// Refusals
// ---------------------------------------------------------------------------------------

fn refuse(status: StatusCode, code: &'static str, message: impl Into<Cow<'static, str>>) -> Rejection {
    let message = message.into();
    Rejection::new(status, code, message.clone()).with_policy("signature").with_tencent_api_gateway(status, message)
}

fn invalid(detail: &str) -> Rejection {
    refuse(StatusCode::FORBIDDEN, "InvalidAuthorization", format!("{CANNOT_VERIFY}, {detail}"))
}

fn invalid_header(name: &str) -> Rejection {
    refuse(StatusCode::FORBIDDEN, "InvalidSignedHeader", format!("{CANNOT_VERIFY}, a valid {name} header is required"))
}

fn out_of_date(name: &str, window: Duration) -> Rejection {
    refuse(
        StatusCode::FORBIDDEN,
        "SignatureExpired",
        format!("{CANNOT_VERIFY}, the {name} header is out of date for clock skew {} seconds", window.as_secs()),
    )
}

fn mismatch() -> Rejection {
    refuse(StatusCode::FORBIDDEN, "SignatureMismatch", "HMAC signature does not match")
}

// ---------------------------------------------------------------------------------------
// The Authorization header
// ---------------------------------------------------------------------------------------

/// The fields of an `Authorization: hmac ...` header.
#[derive(Debug, Default, PartialEq, Eq)]
struct Fields<'a> {
    id: Option<&'a str>,
    algorithm: Option<&'a str>,
    headers: Option<&'a str>,
    signature: Option<&'a str>,
}

/// Why an `Authorization` header could not be read.
#[derive(Debug, PartialEq, Eq)]
enum FieldError {
    NotHmac,
    Malformed(String),
}

/// Parses `hmac name="value", ...`: the scheme is case-insensitive, fields come in any
/// order, separated by commas with any whitespace around; values must be quoted (no
/// escapes); field names are case-insensitive; unknown fields are ignored; a repeated one
/// is an error.
fn parse_fields(value: &str) -> Result<Fields<'_>, FieldError> {
    let value = value.trim_start();
    let scheme_end = value.find([' ', '\t']).unwrap_or(value.len());
    if !value[..scheme_end].eq_ignore_ascii_case("hmac") {
        return Err(FieldError::NotHmac);
    }
    let bytes = value.as_bytes();
    let mut fields = Fields::default();
    let mut i = scheme_end;
    let malformed = |what: String| Err(FieldError::Malformed(what));
    loop {
        while i < bytes.len() && matches!(bytes[i], b' ' | b'\t' | b',') {
            i += 1;
        }
        if i == bytes.len() {
            break;
        }
        let name_start = i;
        while i < bytes.len() && !matches!(bytes[i], b'=' | b' ' | b'\t' | b',' | b'"') {
            i += 1;
        }
        let name = &value[name_start..i];
        while i < bytes.len() && matches!(bytes[i], b' ' | b'\t') {
            i += 1;
        }
        if name.is_empty() || i == bytes.len() || bytes[i] != b'=' {
            return malformed(format!("expected name=\"value\" at byte {name_start}"));
        }
        i += 1;
        while i < bytes.len() && matches!(bytes[i], b' ' | b'\t') {
            i += 1;
        }
        if i == bytes.len() || bytes[i] != b'"' {
            return malformed(format!("the value of {name} must be quoted"));
        }
        let value_start = i + 1;
        let Some(len) = value[value_start..].find('"') else {
            return malformed(format!("the value of {name} has no closing quote"));
        };
        let field = &value[value_start..value_start + len];
        i = value_start + len + 1;
        while i < bytes.len() && matches!(bytes[i], b' ' | b'\t') {
            i += 1;
        }
        if i < bytes.len() && bytes[i] != b',' {
            return malformed(format!("expected a comma after the value of {name}"));
        }
        let slot = match name.to_ascii_lowercase().as_str() {
            "id" => &mut fields.id,
            "algorithm" => &mut fields.algorithm,
            "headers" => &mut fields.headers,
            "signature" => &mut fields.signature,
            _ => continue,
        };
        if slot.replace(field).is_some() {
            return malformed(format!("{name} appears more than once"));
        }
    }
    Ok(fields)
}

/// The algorithm named by `algorithm="..."` (case-insensitive).
fn algorithm(name: &str) -> Option<HmacAlg> {
    if name.eq_ignore_ascii_case("hmac-sha1") {
        Some(HmacAlg::Sha1)
    } else if name.eq_ignore_ascii_case("hmac-sha256") {
        Some(HmacAlg::Sha256)
    } else {
        None
    }
}

fn algorithm_name(alg: HmacAlg) -> &'static str {
    match alg {
        HmacAlg::Sha1 => "hmac-sha1",
        HmacAlg::Sha256 => "hmac-sha256",
    }
}

/// The signing string: `name: value` per listed header (name lower-cased), joined by `\n`.
/// `Err` names a listed header that is missing or repeated.
fn signing_string<'n>(headers: &HeaderMap, names: impl IntoIterator<Item = &'n str>) -> Result<Vec<u8>, &'n str> {
    let mut out = Vec::new();
    for (i, name) in names.into_iter().enumerate() {
        let mut values = headers.get_all(name).iter();
        let (Some(value), None) = (values.next(), values.next()) else { return Err(name) };
        if i > 0 {
            out.push(b'\n');
        }
        out.extend(name.bytes().map(|b| b.to_ascii_lowercase()));
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
    }
    Ok(out)
}

/// A signed date header, parsed (HTTP date, e.g. `Mon, 19 Mar 2018 12:08:40 GMT`).
fn http_date(headers: &HeaderMap, name: &str) -> Option<SystemTime> {
    headers.get(name).and_then(|v| v.to_str().ok()).and_then(|v| httpdate::parse_http_date(v).ok())
}

fn within(at: SystemTime, now: SystemTime, window: Duration) -> bool {
    let skew = match now.duration_since(at) {
        Ok(d) => d,
        Err(e) => e.duration(),
    };
    skew <= window
}

// ---------------------------------------------------------------------------------------
// The scheme
// ---------------------------------------------------------------------------------------

impl Scheme for TencentApiGateway {
    type Parsed = Parsed;

    fn name(&self) -> &'static str {
        "tencent-apigw"
    }

    fn error_style(&self) -> ErrorStyle {
        ErrorStyle::TencentApiGateway
    }

    fn window(&self) -> Duration {
        self.window
    }

    /// Never: only headers are signed.
    fn needs_body(&self, _method: &Method, _headers: &HeaderMap) -> bool {
        false
    }

    fn parse(&self, request: &RequestView<'_>) -> Result<Parsed, Rejection> {
        let Some(header) = request.headers.get(AUTHORIZATION) else {
            return Err(refuse(
                StatusCode::UNAUTHORIZED,
                "MissingAuthorization",
                format!("{CANNOT_VERIFY}, a validate authorization header is required"),
            ));
        };
        let text = header.to_str().map_err(|_| invalid("the authorization header is not visible ASCII"))?;
        let fields = parse_fields(text).map_err(|e| match e {
            FieldError::NotHmac => invalid("the authorization header must use the hmac scheme"),
            FieldError::Malformed(what) => invalid(&format!("the authorization header is malformed: {what}")),
        })?;
        let key_id =
            fields.id.filter(|v| !v.is_empty()).ok_or_else(|| invalid("the authorization header has no id"))?;
        let signature = fields
            .signature
            .filter(|v| !v.is_empty())
            .ok_or_else(|| invalid("the authorization header has no signature"))?;
        let alg = fields
            .algorithm
            .and_then(algorithm)
            .ok_or_else(|| invalid("the algorithm must be hmac-sha1 or hmac-sha256"))?;
        let names: Vec<&str> = fields.headers.unwrap_or("").split_ascii_whitespace().collect();
        let signs = |wanted: &str| names.iter().any(|n| n.eq_ignore_ascii_case(wanted));
        if !signs("x-date") && !signs("date") {
            return Err(invalid("the headers field must list x-date or date"));
        }
        let signing_string = signing_string(request.headers, names.iter().copied()).map_err(invalid_header)?;
        let x_date = if signs("x-date") {
            Some(http_date(request.headers, "x-date").ok_or_else(|| invalid_header("x-date"))?)
        } else {
            None
        };
        let date = if self.check_date && signs("date") {
            Some(http_date(request.headers, "date").ok_or_else(|| invalid_header("date"))?)
        } else {
            None
        };
        Ok(Parsed { key_id: key_id.to_owned(), alg, signature: base64_decode(signature), signing_string, x_date, date })
    }

    fn key_id<'p>(&self, parsed: &'p Parsed) -> &'p str {
        &parsed.key_id
    }

    fn unknown_key(&self, _key_id: &str) -> Rejection {
        refuse(StatusCode::FORBIDDEN, "UnknownKey", CANNOT_VERIFY)
    }

    fn verify(
        &self,
        _request: &RequestView<'_>,
        parsed: &Parsed,
        secrets: &[Secret],
        now: SystemTime,
    ) -> Result<Verified, Rejection> {
        if let Some(at) = parsed.x_date {
            if !within(at, now, self.window) {
                return Err(out_of_date("x-date", self.window));
            }
        }
        if let Some(at) = parsed.date {
            if !within(at, now, self.window) {
                return Err(out_of_date("date", self.window));
            }
        }
        let claimed = parsed.signature.as_deref().ok_or_else(mismatch)?;
        if !secrets.iter().any(|s| hmac_matches(parsed.alg, s.expose(), &parsed.signing_string, claimed)) {
            return Err(mismatch());
        }
        Ok(Verified {
            nonce: Some(format!("hmac:{}", base64_encode(claimed))),
            timestamp: parsed.x_date.or(parsed.date),
        })
    }

    fn replayed(&self) -> Rejection {
        refuse(
            StatusCode::FORBIDDEN,
            "SignatureReplayed",
            format!("{CANNOT_VERIFY}, the request was already used (replay)"),
        )
    }

    fn expired(&self) -> Rejection {
        out_of_date("x-date", self.window)
    }
}

// ---------------------------------------------------------------------------------------
// The signer
// ---------------------------------------------------------------------------------------

/// Signs outgoing requests for a Tencent API Gateway key pair: sets `X-Date` (now, GMT) and
/// `Authorization`, signing `x-date` and then each header added with
/// [`sign_header`](Self::sign_header), in that order.
#[derive(Debug, Clone)]
pub struct TencentApiGatewaySigner {
    alg: HmacAlg,
    headers: Vec<String>,
}

impl Default for TencentApiGatewaySigner {
    fn default() -> Self {
        Self::new()
    }
}

impl TencentApiGatewaySigner {
    /// Signs `x-date` with HMAC-SHA1.
    pub fn new() -> Self {
        Self { alg: HmacAlg::Sha1, headers: Vec::new() }
    }

    /// Uses `alg` (`hmac-sha1`, the default, or `hmac-sha256`).
    pub fn algorithm(mut self, alg: HmacAlg) -> Self {
        self.alg = alg;
        self
    }

    /// Signs the request's `name` header too (e.g. `source`); signing fails when a request
    /// lacks it.
    pub fn sign_header(mut self, name: impl Into<String>) -> Self {
        let name = name.into().to_ascii_lowercase();
        if name != "x-date" && !self.headers.contains(&name) {
            self.headers.push(name);
        }
        self
    }
}

impl Signer for TencentApiGatewaySigner {
    fn needs_body(&self, _method: &Method, _headers: &HeaderMap) -> bool {
        false
    }

    fn sign(
        &self,
        parts: &mut http::request::Parts,
        _body: &mut Bytes,
        key_id: &str,
        secret: &Secret,
        now: SystemTime,
    ) -> Result<(), SignError> {
        // httpdate writes four-digit years only.
        let secs = now.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(u64::MAX);
        if secs >= 253_402_300_800 {
            return Err(SignError::Invalid("the clock is outside 1970..=9999".into()));
        }
        let x_date = httpdate::fmt_http_date(now);
        parts.headers.insert("x-date", HeaderValue::from_str(&x_date).map_err(|e| SignError::Invalid(e.to_string()))?);
        let names: Vec<&str> = std::iter::once("x-date").chain(self.headers.iter().map(String::as_str)).collect();
        let string = signing_string(&parts.headers, names.iter().copied())
            .map_err(|name| SignError::Invalid(format!("the request has no single `{name}` header to sign")))?;
        let signature = base64_encode(&hmac(self.alg, secret.expose(), &string));
        let authorization = format!(
            r#"hmac id="{key_id}", algorithm="{}", headers="{}", signature="{signature}""#,
            algorithm_name(self.alg),
            names.join(" ")
        );
        let value = HeaderValue::from_str(&authorization)
            .map_err(|_| SignError::Invalid("the key id is not a valid header value".into()))?;
        parts.headers.insert(AUTHORIZATION, value);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{Request, Uri};

    const NOW: u64 = 1_521_461_320; // Mon, 19 Mar 2018 12:08:40 GMT
    const X_DATE: &str = "Mon, 19 Mar 2018 12:08:40 GMT";

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(NOW)
    }

    fn sign(secret: &[u8], alg: HmacAlg, lines: &str) -> String {
        base64_encode(&hmac(alg, secret, lines.as_bytes()))
    }

    struct Req {
        headers: HeaderMap,
        uri: Uri,
        method: Method,
    }

    impl Req {
        fn new(pairs: &[(&str, &str)]) -> Self {
            let mut b = Request::get("/release/hello?a=1");
            for (k, v) in pairs {
                b = b.header(*k, *v);
            }
            let (parts, ()) = b.body(()).unwrap().into_parts();
            Self { headers: parts.headers, uri: parts.uri, method: parts.method }
        }

        fn view(&self) -> RequestView<'_> {
            RequestView { method: &self.method, uri: &self.uri, headers: &self.headers, body: None }
        }
    }

    fn good_auth(headers: &str, signature: &str) -> String {
        format!(r#"hmac id="AKID", algorithm="hmac-sha1", headers="{headers}", signature="{signature}""#)
    }

    fn check(scheme: &TencentApiGateway, req: &Req, secret: &[u8], at: SystemTime) -> Result<Verified, Rejection> {
        let parsed = scheme.parse(&req.view())?;
        scheme.verify(&req.view(), &parsed, &[Secret::new(secret)], at)
    }

    fn message(r: &Rejection) -> (u16, &str) {
        use tollgate_core::Ecosystem::TencentApiGateway as E;
        (r.status_for(E).as_u16(), r.message_for(E))
    }

    #[test]
    fn parser_accepts_any_order_and_whitespace() {
        let f =
            parse_fields(r#"hmac id="a", algorithm="hmac-sha1", headers="x-date source", signature="c2ln""#).unwrap();
        assert_eq!(
            f,
            Fields {
                id: Some("a"),
                algorithm: Some("hmac-sha1"),
                headers: Some("x-date source"),
                signature: Some("c2ln")
            }
        );
        let g = parse_fields(
            "HMAC  signature = \"c2ln\" ,headers=\"x-date source\",\tid=\"a\" , algorithm=\"hmac-sha1\", extra=\"x\",",
        )
        .unwrap();
        assert_eq!(f, g);
        assert_eq!(parse_fields("hmac"), Ok(Fields::default()));
    }

    #[test]
    fn parser_refusals() {
        assert_eq!(parse_fields(r#"Basic id="a""#), Err(FieldError::NotHmac));
        assert_eq!(parse_fields(r#"hmacid="a""#), Err(FieldError::NotHmac));
        assert_eq!(parse_fields(""), Err(FieldError::NotHmac));
        for bad in [
            r#"hmac id=a, signature="x""#,  // missing quotes
            r#"hmac id="a, signature="x""#, // the quote closes late: garbage after it
            r#"hmac id="a"#,                // no closing quote
            r#"hmac id="a" signature="x""#, // no comma
            r#"hmac ="a""#,                 // no name
            r#"hmac id"a""#,                // no '='
            r#"hmac id="a", ID="b""#,       // repeated
        ] {
            assert!(matches!(parse_fields(bad), Err(FieldError::Malformed(_))), "{bad}");
        }
        // a trailing comma is fine
        assert_eq!(parse_fields(r#"hmac id="a","#).unwrap().id, Some("a"));
        // multi-byte text never splits a character
        assert!(parse_fields("hmac é=\"ü\", ñ").is_err());
        assert!(parse_fields("hmac id=\"ü\"").is_ok());
    }

    #[test]
    fn valid_request_passes_and_reports_nonce_and_timestamp() {
        let secret = b"secret";
        let sig = sign(secret, HmacAlg::Sha1, &format!("x-date: {X_DATE}\nsource: app"));
        let req =
            Req::new(&[("x-date", X_DATE), ("source", "app"), ("authorization", &good_auth("x-date source", &sig))]);
        let v = check(&TencentApiGateway::new(), &req, secret, now()).unwrap();
        assert_eq!(v.nonce.as_deref(), Some(format!("hmac:{sig}").as_str()));
        assert_eq!(v.timestamp, Some(now()));
    }

    #[test]
    fn sha256_and_listed_order() {
        let secret = b"secret";
        let sig = sign(secret, HmacAlg::Sha256, &format!("source: app\nx-date: {X_DATE}"));
        let auth = format!(r#"hmac id="AKID", algorithm="hmac-sha256", headers="source x-date", signature="{sig}""#);
        let req = Req::new(&[("x-date", X_DATE), ("source", "app"), ("authorization", &auth)]);
        assert!(check(&TencentApiGateway::new(), &req, secret, now()).is_ok());
    }

    #[test]
    fn no_authorization_is_401() {
        let req = Req::new(&[("x-date", X_DATE)]);
        let r = TencentApiGateway::new().parse(&req.view()).unwrap_err();
        assert_eq!(
            message(&r),
            (401, "HMAC signature cannot be verified, a validate authorization header is required")
        );
    }

    #[test]
    fn malformed_authorization_is_403_saying_what() {
        let scheme = TencentApiGateway::new();
        for (auth, says) in [
            (r#"Basic dXNlcjpwYXNz"#.to_owned(), "hmac scheme"),
            (r#"hmac algorithm="hmac-sha1", headers="x-date", signature="c2ln""#.to_owned(), "no id"),
            (r#"hmac id="", algorithm="hmac-sha1", headers="x-date", signature="c2ln""#.to_owned(), "no id"),
            (r#"hmac id="AKID", algorithm="hmac-sha1", headers="x-date""#.to_owned(), "no signature"),
            (r#"hmac id="AKID", algorithm="hmac-md5", headers="x-date", signature="c2ln""#.to_owned(), "algorithm"),
            (r#"hmac id="AKID", headers="x-date", signature="c2ln""#.to_owned(), "algorithm"),
            (r#"hmac id=AKID, algorithm="hmac-sha1", headers="x-date", signature="c2ln""#.to_owned(), "quoted"),
            (good_auth("", "c2ln"), "x-date or date"),
            (good_auth("source", "c2ln"), "x-date or date"),
            (r#"hmac id="AKID", algorithm="hmac-sha1", signature="c2ln""#.to_owned(), "x-date or date"),
        ] {
            let req = Req::new(&[("x-date", X_DATE), ("source", "app"), ("authorization", &auth)]);
            let r = scheme.parse(&req.view()).unwrap_err();
            let (status, text) = message(&r);
            assert_eq!(status, 403, "{auth}");
            assert!(text.starts_with("HMAC signature cannot be verified, "), "{text}");
            assert!(text.contains(says), "{auth}: {text}");
        }
    }

    #[test]
    fn listed_header_missing_names_it() {
        let auth = good_auth("x-date Source", "c2ln");
        let req = Req::new(&[("x-date", X_DATE), ("authorization", &auth)]);
        let r = TencentApiGateway::new().parse(&req.view()).unwrap_err();
        assert_eq!(message(&r), (403, "HMAC signature cannot be verified, a valid Source header is required"));

        let req = Req::new(&[("x-date", X_DATE), ("source", "a"), ("source", "b"), ("authorization", &auth)]);
        let r = TencentApiGateway::new().parse(&req.view()).unwrap_err();
        assert_eq!(message(&r).1, "HMAC signature cannot be verified, a valid Source header is required");

        let req = Req::new(&[("x-date", "yesterday"), ("source", "a"), ("authorization", &auth)]);
        let r = TencentApiGateway::new().parse(&req.view()).unwrap_err();
        assert_eq!(message(&r).1, "HMAC signature cannot be verified, a valid x-date header is required");
    }

    #[test]
    fn unknown_id_is_403() {
        let r = TencentApiGateway::new().unknown_key("AKID");
        assert_eq!(message(&r), (403, "HMAC signature cannot be verified"));
    }

    #[test]
    fn x_date_out_of_window_either_way() {
        let secret = b"secret";
        let sig = sign(secret, HmacAlg::Sha1, &format!("x-date: {X_DATE}"));
        let req = Req::new(&[("x-date", X_DATE), ("authorization", &good_auth("x-date", &sig))]);
        let scheme = TencentApiGateway::new();
        for skew in [900, 0] {
            assert!(check(&scheme, &req, secret, now() + Duration::from_secs(skew)).is_ok());
            assert!(check(&scheme, &req, secret, now() - Duration::from_secs(skew)).is_ok());
        }
        for at in [now() + Duration::from_secs(901), now() - Duration::from_secs(901)] {
            let r = check(&scheme, &req, secret, at).unwrap_err();
            assert_eq!(
                message(&r),
                (403, "HMAC signature cannot be verified, the x-date header is out of date for clock skew 900 seconds")
            );
        }
        let r = check(&scheme.clone().window(Duration::from_secs(60)), &req, secret, now() + Duration::from_secs(61));
        assert!(message(&r.unwrap_err()).1.ends_with("clock skew 60 seconds"));
    }

    #[test]
    fn plain_date_is_not_time_checked_by_default() {
        let secret = b"secret";
        let sig = sign(secret, HmacAlg::Sha1, &format!("date: {X_DATE}"));
        let req = Req::new(&[("date", X_DATE), ("authorization", &good_auth("date", &sig))]);
        let a_year_later = now() + Duration::from_secs(365 * 86_400);
        let v = check(&TencentApiGateway::new(), &req, secret, a_year_later).unwrap();
        assert_eq!(v.timestamp, None);
        let strict = TencentApiGateway::new().check_date_header(true);
        let r = check(&strict, &req, secret, a_year_later).unwrap_err();
        assert!(message(&r).1.contains("the date header is out of date"));
        assert_eq!(check(&strict, &req, secret, now()).unwrap().timestamp, Some(now()));
    }

    #[test]
    fn mismatch_is_403() {
        let sig = sign(b"secret", HmacAlg::Sha1, &format!("x-date: {X_DATE}"));
        let req = Req::new(&[("x-date", X_DATE), ("authorization", &good_auth("x-date", &sig))]);
        for secret in [&b"other"[..], b"secret "] {
            let r = check(&TencentApiGateway::new(), &req, secret, now()).unwrap_err();
            assert_eq!(message(&r), (403, "HMAC signature does not match"));
        }
        let req = Req::new(&[("x-date", X_DATE), ("authorization", &good_auth("x-date", "not base64!"))]);
        let r = check(&TencentApiGateway::new(), &req, b"secret", now()).unwrap_err();
        assert_eq!(message(&r), (403, "HMAC signature does not match"));
    }

    #[test]
    fn replayed_and_expired_wording() {
        let s = TencentApiGateway::new();
        assert_eq!(message(&s.replayed()).0, 403);
        assert!(message(&s.replayed()).1.contains("already used"));
        assert_eq!(
            message(&s.expired()).1,
            "HMAC signature cannot be verified, the x-date header is out of date for clock skew 900 seconds"
        );
    }

    #[test]
    fn signer_round_trip_and_missing_header() {
        let signer = TencentApiGatewaySigner::new().sign_header("Source").algorithm(HmacAlg::Sha256);
        let (mut parts, ()) = Request::get("/x?y=1").header("source", "app").body(()).unwrap().into_parts();
        signer.sign(&mut parts, &mut Bytes::new(), "AKID", &Secret::from("secret"), now()).unwrap();
        assert_eq!(parts.headers["x-date"], X_DATE);
        let auth = parts.headers["authorization"].to_str().unwrap();
        assert!(auth.starts_with(r#"hmac id="AKID", algorithm="hmac-sha256", headers="x-date source", signature=""#));
        let req = Req { headers: parts.headers, uri: parts.uri, method: parts.method };
        assert!(check(&TencentApiGateway::new(), &req, b"secret", now()).is_ok());

        let (mut parts, ()) = Request::get("/").body(()).unwrap().into_parts();
        let err = signer.sign(&mut parts, &mut Bytes::new(), "AKID", &Secret::from("secret"), now()).unwrap_err();
        assert!(err.to_string().contains("source"));
        let far = UNIX_EPOCH + Duration::from_secs(300_000_000_000);
        assert!(signer.sign(&mut parts, &mut Bytes::new(), "AKID", &Secret::from("s"), far).is_err());
    }
}
