//! Tencent API Gateway key-pair authentication:
//! `Authorization: hmac id="...", algorithm="hmac-sha1", headers="x-date source", signature="..."`.
//!
//! Only the listed headers are covered (never the query or the body); one of `x-date` or
//! `date` must be among them, and `X-Date` must be within 15 minutes of now. Refusals are
//! `{"message": "..."}` with the gateway's status and text. A listed header or
//! `Authorization` sent more than once is refused (400, `HMAC signature cannot be verified,
//! the NAME header is sent more than once`, our wording): one value would be checked, and a
//! backend may read another.
//!
//! The scheme has no nonce, and the signature covers only the listed headers (typically
//! `x-date` and `source`): two different requests sent within the same second carry the same
//! signature, and Tencent's gateway accepts both. So a replay guard checks only the `X-Date`
//! window by default. [`remember_signatures`](TencentApiGateway::remember_signatures) makes
//! the guard accept each signature once within the window instead, for clients that sign a
//! header unique to each request (with `sign_header`).
//!
//! ```
//! use std::time::SystemTime;
//! use bytes::Bytes;
//! use http::{Request, Response, StatusCode};
//! use tollgate_signature::{MemorySecretStore, SignatureLayer, Signer, tencent_apigw::TencentApiGateway};
//! use tower::{ServiceExt, service_fn};
//! use tower_layer::Layer;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let (mut parts, ()) = Request::get("/release/hello").header("source", "app").body(()).unwrap().into_parts();
//! let signer = TencentApiGateway::new().sign_header(http::HeaderName::from_static("source"));
//! signer.sign(&mut parts, &mut Bytes::new(), "AKIDkeypair", &"s3cret".into(), SystemTime::now()).unwrap();
//!
//! let store = MemorySecretStore::new().with_key("AKIDkeypair", "s3cret");
//! let svc = SignatureLayer::new(TencentApiGateway::new(), store).layer(service_fn(|_req| async {
//!     Ok::<_, std::convert::Infallible>(Response::new(String::from("ok")))
//! }));
//! let request = Request::from_parts(parts, http_body_util::Empty::<Bytes>::new());
//! assert_eq!(svc.oneshot(request).await.unwrap().status(), StatusCode::OK);
//! # }
//! ```

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::header::AUTHORIZATION;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use tollgate_core::{ErrorStyle, Rejection, time_apart};

use crate::HmacAlg;
use crate::byte_search::{ascii_words, has_ascii_uppercase};
use crate::header_text::header_text;
use crate::mac::{SignatureBytes, base64_encode, hmac};
use crate::scheme::{RequestView, Scheme, SignError, Signer, Verified};
use crate::secret::{KeyForm, Secret};

/// The Tencent API Gateway key-pair scheme, verifier and signer.
#[derive(Debug, Clone)]
pub struct TencentApiGateway {
    window: Duration,
    check_date: bool,
    alg: HmacAlg,
    extra_signed: Vec<HeaderName>,
    remember_signatures: bool,
}

impl Default for TencentApiGateway {
    fn default() -> Self {
        Self::new()
    }
}

impl TencentApiGateway {
    /// A 900-second clock skew for `X-Date`; a plain `Date` is not time-checked; signs
    /// with hmac-sha1.
    pub fn new() -> Self {
        Self {
            window: Duration::from_secs(900),
            check_date: false,
            alg: HmacAlg::Sha1,
            extra_signed: Vec::new(),
            remember_signatures: false,
        }
    }

    /// How far `X-Date` may be from now, either way (default 900 seconds; at most a day,
    /// [`MAX_WINDOW`](tollgate_core::MAX_WINDOW): a longer one is clamped to it).
    pub fn window(mut self, window: Duration) -> Self {
        self.window = window.min(tollgate_core::MAX_WINDOW);
        self
    }

    /// Gives a replay guard each request's signature to remember as its nonce, so a signature
    /// is accepted once within the window (default off). Turn it on only when every client
    /// signs something unique per request: the signature covers only the listed headers, so
    /// two different requests within one `X-Date` second share it, and the second would be
    /// refused as a replay (Tencent's gateway accepts both).
    pub fn remember_signatures(mut self, on: bool) -> Self {
        self.remember_signatures = on;
        self
    }

    /// Also time-checks a signed plain `Date` header (default off, as the gateway).
    pub fn check_date_header(mut self, on: bool) -> Self {
        self.check_date = on;
        self
    }

    /// Signs with this HMAC (default hmac-sha1).
    pub fn algorithm(mut self, alg: HmacAlg) -> Self {
        self.alg = alg;
        self
    }

    /// Also signs this header (`x-date` is always signed).
    pub fn sign_header(mut self, name: HeaderName) -> Self {
        self.extra_signed.push(name);
        self
    }
}

fn refusal(status: StatusCode, code: &'static str, message: impl Into<String>) -> Rejection {
    let message = message.into();
    Rejection::new(status, code, message.clone()).with_policy("signature").with_tencent_api_gateway(status, message)
}

fn forbidden(code: &'static str, message: impl Into<String>) -> Rejection {
    refusal(StatusCode::FORBIDDEN, code, message)
}

/// A signed header, or `Authorization`, sent more than once: one value would be checked,
/// and a backend may read another. Not in the gateway's table: 400, as a malformed
/// request, in its wording.
fn repeated_header(name: &str) -> Rejection {
    refusal(
        StatusCode::BAD_REQUEST,
        "RepeatedHeader",
        format!("HMAC signature cannot be verified, the {name} header is sent more than once"),
    )
}

/// What a key-pair request claims.
#[derive(Debug, Clone)]
pub struct Parsed<'r> {
    id: &'r str,
    alg: HmacAlg,
    /// Each signed header's name as listed (any case) and its first value, in signing order
    /// (`parse` refuses a request that lacks one, so every value is there).
    signed: Vec<(&'r str, Option<&'r HeaderValue>)>,
    /// Whether the names in `signed` are lower case already, as the string to sign has them.
    lower_case: bool,
    signature: &'r str,
}

impl Parsed<'_> {
    /// The value of the signed header `name` (lower case).
    fn signed_value(&self, name: &str) -> Option<&HeaderValue> {
        self.signed.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).and_then(|(_, v)| *v)
    }
}

/// The `key="value"` parameters of an `Authorization: hmac ...` value, each passed to
/// `each` as it is read, or why they cannot be read.
fn parse_params<'a>(rest: &'a str, mut each: impl FnMut(&'a str, &'a str)) -> Result<(), &'static str> {
    // The value is visible ASCII (read with `header_text`), so ASCII trimming is whole and
    // byte offsets are character boundaries.
    let position = |s: &str, byte: u8| s.bytes().position(|b| b == byte);
    let mut s = rest.trim_ascii();
    while !s.is_empty() {
        let eq = position(s, b'=').ok_or("expected key=\"value\" pairs")?;
        let (key, after) = (&s[..eq], s[eq + 1..].trim_ascii_start());
        let (value, tail) = match after.strip_prefix('"') {
            Some(quoted) => {
                let end = position(quoted, b'"').ok_or("a quoted value is not closed")?;
                (&quoted[..end], &quoted[end + 1..])
            }
            None => match position(after, b',') {
                Some(comma) => (&after[..comma], &after[comma..]),
                None => (after, ""),
            },
        };
        each(key.trim_ascii(), value.trim_ascii());
        let tail = tail.trim_ascii_start();
        s = tail.strip_prefix(',').unwrap_or(tail).trim_ascii();
    }
    Ok(())
}

/// An HTTP date, as [`httpdate::parse_http_date`] reads it. The form every client sends
/// (`Sun, 06 Nov 1994 08:49:37 GMT`) is read here directly: `httpdate` checks each date by
/// formatting it back, which made it a tenth of a verification. Other forms, and anything
/// this reading refuses, go to `httpdate`.
fn parse_date(text: &str) -> Option<SystemTime> {
    imf_fixdate(text.as_bytes()).or_else(|| httpdate::parse_http_date(text).ok())
}

fn imf_fixdate(b: &[u8]) -> Option<SystemTime> {
    const DAYS: [&[u8; 3]; 7] = [b"Thu", b"Fri", b"Sat", b"Sun", b"Mon", b"Tue", b"Wed"];
    const MONTHS: [&[u8; 3]; 12] =
        [b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec"];
    if b.len() != 29 || &b[3..5] != b", " || &b[25..] != b" GMT" || [b[7], b[11], b[16]] != [b' '; 3] {
        return None;
    }
    if b[19] != b':' || b[22] != b':' {
        return None;
    }
    let number =
        |digits: &[u8]| digits.iter().try_fold(0u64, |n, &d| d.is_ascii_digit().then(|| n * 10 + u64::from(d - b'0')));
    let (day, year) = (number(&b[5..7])?, number(&b[12..16])?);
    let (hour, minute, second) = (number(&b[17..19])?, number(&b[20..22])?, number(&b[23..25])?);
    let month = 1 + MONTHS.iter().position(|m| m[..] == b[8..11])? as u64;
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    if !(1970..=9999).contains(&year) || day == 0 || day > month_days || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    // days since 1970 (H. Hinnant's `days_from_civil`, for years from 1970)
    let y = if month <= 2 { year - 1 } else { year };
    let (era, yoe) = (y / 400, y % 400);
    let doy = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    // the weekday must be the date's, as `httpdate` requires
    if DAYS[(days % 7) as usize][..] != b[..3] {
        return None;
    }
    Some(UNIX_EPOCH + Duration::from_secs(days * 86_400 + hour * 3_600 + minute * 60 + second))
}

/// The signing string over `headers` in the listed order, shared by verifier and signer.
pub fn signing_string(request_headers: &HeaderMap, headers: &[String]) -> String {
    let mut out = Vec::with_capacity(128);
    write_signing_string(&mut out, request_headers, headers.iter().map(String::as_str));
    String::from_utf8_lossy(&out).into_owned()
}

/// Writes the signing string's bytes into `out`: `name: value` per listed header, in order,
/// joined by `\n`, header values as received.
pub fn write_signing_string<'n>(out: &mut Vec<u8>, request_headers: &HeaderMap, names: impl Iterator<Item = &'n str>) {
    for (i, name) in names.enumerate() {
        if i > 0 {
            out.push(b'\n');
        }
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        if let Some(v) = request_headers.get(name) {
            out.extend_from_slice(v.as_bytes());
        }
    }
}

impl TencentApiGateway {
    fn out_of_date(&self) -> Rejection {
        forbidden(
            "SignatureExpired",
            format!(
                "HMAC signature cannot be verified, the x-date header is out of date for clock skew {} seconds",
                self.window.as_secs()
            ),
        )
    }
}

impl Scheme for TencentApiGateway {
    type Parsed<'r> = Parsed<'r>;

    const NAME: &'static str = "tencent-apigw";
    const ERROR_STYLE: ErrorStyle = ErrorStyle::TencentApiGateway;

    fn window(&self) -> Duration {
        self.window
    }

    fn needs_body(&self, _method: &Method, _headers: &HeaderMap) -> bool {
        false
    }

    fn parse<'r>(&self, req: &RequestView<'r>) -> Result<Parsed<'r>, Rejection> {
        let mut authorization = req.headers.get_all(AUTHORIZATION).iter();
        let Some(auth) = authorization.next() else {
            return Err(refusal(
                StatusCode::UNAUTHORIZED,
                "MissingAuthorization",
                // sic: the gateway's own wording
                "HMAC signature cannot be verified, a validate authorization header is required",
            ));
        };
        if authorization.next().is_some() {
            return Err(repeated_header(AUTHORIZATION.as_str()));
        }
        let bad = |why: &str| forbidden("InvalidAuthorization", format!("HMAC signature cannot be verified, {why}"));
        let auth = header_text(auth).ok_or_else(|| bad("the authorization header is not visible ASCII"))?.trim_ascii();
        let (scheme, rest) = auth.split_once(' ').unwrap_or((auth, ""));
        if !scheme.eq_ignore_ascii_case("hmac") {
            return Err(bad("the authorization scheme is not hmac"));
        }
        // the first value of each parameter, names compared ignoring case
        let (mut id, mut key_id, mut signature, mut algorithm, mut headers) = (None, None, None, None, None);
        parse_params(rest, |name, value| {
            let slot = match name {
                n if n.eq_ignore_ascii_case("id") => &mut id,
                n if n.eq_ignore_ascii_case("keyid") => &mut key_id,
                n if n.eq_ignore_ascii_case("signature") => &mut signature,
                n if n.eq_ignore_ascii_case("algorithm") => &mut algorithm,
                n if n.eq_ignore_ascii_case("headers") => &mut headers,
                _ => return,
            };
            slot.get_or_insert(value);
        })
        .map_err(bad)?;
        let given = |v: Option<&'r str>| v.filter(|v| !v.is_empty());
        let id = given(id).or(given(key_id)).ok_or_else(|| bad("the authorization header names no id"))?;
        let signature = given(signature).ok_or_else(|| bad("the authorization header has no signature"))?;
        let alg = match given(algorithm) {
            None => HmacAlg::Sha1,
            Some(a) if a.eq_ignore_ascii_case("hmac-sha1") => HmacAlg::Sha1,
            Some(a) if a.eq_ignore_ascii_case("hmac-sha256") => HmacAlg::Sha256,
            Some(_) => return Err(bad("the algorithm is not hmac-sha1 or hmac-sha256")),
        };
        let names = given(headers).unwrap_or("");
        let mut signed: Vec<(&'r str, Option<&'r HeaderValue>)> = Vec::with_capacity(4);
        for name in ascii_words(names) {
            signed.push((name, None));
        }
        let dated = |n: &&str| n.eq_ignore_ascii_case("x-date") || n.eq_ignore_ascii_case("date");
        if !signed.iter().any(|(n, _)| dated(n)) {
            return Err(bad("the signed headers must include x-date or date"));
        }
        // one pass over the request's headers for every signed one, rather than a hashed
        // lookup by text each
        for (name, value) in req.headers {
            let name = name.as_str();
            // a name listed twice is one header: each of its slots is filled once per value
            for (wanted, slot) in &mut signed {
                if wanted.len() == name.len() && wanted.eq_ignore_ascii_case(name) && slot.replace(value).is_some() {
                    return Err(repeated_header(name));
                }
            }
        }
        if let Some((name, _)) = signed.iter().find(|(_, value)| value.is_none()) {
            return Err(forbidden(
                "MissingSignedHeader",
                format!("HMAC signature cannot be verified, a valid {} header is required", name.to_ascii_lowercase()),
            ));
        }
        let lower_case = !has_ascii_uppercase(names);
        Ok(Parsed { id, alg, signed, lower_case, signature })
    }

    fn key_id<'p>(&self, parsed: &'p Parsed<'_>) -> &'p str {
        parsed.id
    }

    fn unknown_key(&self, _key_id: &str) -> Rejection {
        forbidden("UnknownKey", "HMAC signature cannot be verified")
    }

    fn verify(
        &self,
        _req: &RequestView<'_>,
        parsed: &Parsed<'_>,
        secrets: &[Secret],
        now: SystemTime,
    ) -> Result<Verified, Rejection> {
        let mut timestamp = None;
        for (name, checked) in [("x-date", true), ("date", self.check_date)] {
            let Some(value) = checked.then(|| parsed.signed_value(name)).flatten() else {
                continue;
            };
            let value = header_text(value).unwrap_or("");
            let ts = parse_date(value.trim_ascii()).ok_or_else(|| self.out_of_date())?;
            if time_apart(ts, now) > self.window {
                return Err(self.out_of_date());
            }
            timestamp = timestamp.or(Some(ts));
        }
        let mut text = Vec::with_capacity(128);
        for (i, (name, value)) in parsed.signed.iter().enumerate() {
            if i > 0 {
                text.push(b'\n');
            }
            match parsed.lower_case {
                true => text.extend_from_slice(name.as_bytes()),
                false => text.extend(name.bytes().map(|b| b.to_ascii_lowercase())),
            }
            text.extend_from_slice(b": ");
            text.extend_from_slice(value.map_or(&b""[..], HeaderValue::as_bytes));
        }
        let ok = SignatureBytes::from_base64(parsed.signature)
            .is_some_and(|c| secrets.iter().any(|s| s.verify_hmac(parsed.alg, KeyForm::Plain, &text, c.as_bytes())));
        if !ok {
            return Err(forbidden("SignatureDoesNotMatch", "HMAC signature does not match"));
        }
        let nonce = self.remember_signatures.then(|| joined_arc("hmac:", parsed.signature));
        Ok(Verified { nonce, timestamp })
    }

    fn replayed(&self) -> Rejection {
        forbidden("SignatureReplayed", "HMAC signature cannot be verified, the request was already used")
    }

    fn expired(&self) -> Rejection {
        self.out_of_date()
    }
}

impl Signer for TencentApiGateway {
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
        let date = httpdate::fmt_http_date(now);
        parts.headers.insert("x-date", HeaderValue::from_str(&date).map_err(|e| SignError::Invalid(e.to_string()))?);
        let mut headers = vec!["x-date".to_owned()];
        for name in &self.extra_signed {
            if !parts.headers.contains_key(name) {
                return Err(SignError::Invalid(format!("the {name} header to sign is missing")));
            }
            if name.as_str() != "x-date" {
                headers.push(name.as_str().to_owned());
            }
        }
        let mut text = Vec::with_capacity(128);
        write_signing_string(&mut text, &parts.headers, headers.iter().map(String::as_str));
        let signature = base64_encode(&hmac(self.alg, secret.expose(), &text));
        let alg = if self.alg == HmacAlg::Sha1 { "hmac-sha1" } else { "hmac-sha256" };
        let auth = format!(
            r#"hmac id="{key_id}", algorithm="{alg}", headers="{}", signature="{signature}""#,
            headers.join(" ")
        );
        let value = HeaderValue::from_str(&auth)
            .map_err(|_| SignError::Invalid("the key id is not a valid header value".into()))?;
        parts.headers.insert(AUTHORIZATION, value);
        Ok(())
    }
}

/// `prefix` then `text`, as one shared string made in one allocation (a `String` joined
/// first would be a second one, per request).
fn joined_arc(prefix: &str, text: &str) -> std::sync::Arc<str> {
    let mut buf = [0u8; 128];
    let len = prefix.len() + text.len();
    if len > buf.len() {
        return std::sync::Arc::from([prefix, text].concat());
    }
    buf[..prefix.len()].copy_from_slice(prefix.as_bytes());
    buf[prefix.len()..len].copy_from_slice(text.as_bytes());
    // two whole texts joined are text
    std::sync::Arc::from(std::str::from_utf8(&buf[..len]).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tollgate_core::Ecosystem;

    proptest::proptest! {
        /// The direct reading of a date means what `httpdate` means: on dates `httpdate`
        /// writes, and on those texts with a character changed.
        #[test]
        fn dates_read_as_httpdate_reads_them(seconds in 0u64..253_402_300_800, at in 0usize..29, to in 32u8..127) {
            let text = httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(seconds));
            proptest::prop_assert_eq!(imf_fixdate(text.as_bytes()), httpdate::parse_http_date(&text).ok());
            proptest::prop_assert!(imf_fixdate(text.as_bytes()).is_some());
            let mut changed = text.into_bytes();
            changed[at] = to;
            let changed = String::from_utf8(changed).unwrap();
            if let Some(ours) = imf_fixdate(changed.as_bytes()) {
                proptest::prop_assert_eq!(Some(ours), httpdate::parse_http_date(&changed).ok(), "{}", changed);
            }
            proptest::prop_assert_eq!(parse_date(&changed), httpdate::parse_http_date(&changed).ok());
        }
    }

    #[test]
    fn dates_at_the_edges() {
        for text in ["Thu, 01 Jan 1970 00:00:00 GMT", "Fri, 31 Dec 9999 23:59:59 GMT", "Tue, 29 Feb 2000 12:00:00 GMT"]
        {
            assert_eq!(imf_fixdate(text.as_bytes()), httpdate::parse_http_date(text).ok(), "{text}");
            assert!(imf_fixdate(text.as_bytes()).is_some(), "{text}");
        }
        for text in ["Wed, 29 Feb 2100 12:00:00 GMT", "Wed, 01 Jan 1970 00:00:00 GMT", "Thu, 01 Jan 1970 24:00:00 GMT"]
        {
            assert_eq!(imf_fixdate(text.as_bytes()), None, "{text}");
            assert_eq!(parse_date(text), None, "{text}");
        }
        // other forms are read by httpdate
        assert!(parse_date("Sunday, 06-Nov-94 08:49:37 GMT").is_some());
    }

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_700_000_000)
    }

    fn request(auth: Option<&str>, headers: &[(&str, &str)]) -> http::request::Parts {
        let mut b = http::Request::get("/a?b=1");
        if let Some(a) = auth {
            b = b.header("authorization", a);
        }
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).unwrap().into_parts().0
    }

    fn judge(parts: &http::request::Parts, secret: &str, at: SystemTime) -> Result<Verified, (u16, String)> {
        let s = TencentApiGateway::new();
        let view = RequestView { method: &parts.method, uri: &parts.uri, headers: &parts.headers, body: None };
        let e = Ecosystem::TencentApiGateway;
        let parsed = s.parse(&view).map_err(|r| (r.status_for(e).as_u16(), r.message_for(e).to_owned()))?;
        s.verify(&view, &parsed, &[Secret::from(secret)], at)
            .map_err(|r| (r.status_for(e).as_u16(), r.message_for(e).to_owned()))
    }

    fn signed() -> http::request::Parts {
        let mut parts = request(None, &[("source", "sdk")]);
        TencentApiGateway::new()
            .sign_header(http::HeaderName::from_static("source"))
            .sign(&mut parts, &mut Bytes::new(), "id1", &"key".into(), now())
            .unwrap();
        parts
    }

    #[test]
    fn documented_signing_string() {
        let p = request(None, &[("x-date", "Mon, 19 Mar 2018 12:08:40 GMT"), ("source", "xxxxxx")]);
        assert_eq!(
            signing_string(&p.headers, &["x-date".into(), "source".into()]),
            "x-date: Mon, 19 Mar 2018 12:08:40 GMT\nsource: xxxxxx"
        );
    }

    #[test]
    fn each_row_of_the_table() {
        let ok = signed();
        assert!(judge(&ok, "key", now()).is_ok());
        // only listed headers are covered: the query may change
        let mut q = ok.clone();
        q.uri = "/a?b=2".parse().unwrap();
        assert!(judge(&q, "key", now()).is_ok());

        let none = request(None, &[]);
        assert_eq!(
            judge(&none, "key", now()).unwrap_err(),
            (401, "HMAC signature cannot be verified, a validate authorization header is required".into())
        );
        assert_eq!(judge(&request(Some("Basic eA=="), &[]), "key", now()).unwrap_err().0, 403);
        assert_eq!(
            judge(
                &request(Some(r#"hmac algorithm="hmac-sha1", headers="x-date", signature="eA==""#), &[]),
                "key",
                now()
            )
            .unwrap_err()
            .0,
            403
        );

        let mut missing = ok.clone();
        missing.headers.remove("source");
        assert_eq!(
            judge(&missing, "key", now()).unwrap_err(),
            (403, "HMAC signature cannot be verified, a valid source header is required".into())
        );
        assert_eq!(
            judge(&ok, "key", now() + Duration::from_secs(901)).unwrap_err(),
            (
                403,
                "HMAC signature cannot be verified, the x-date header is out of date for clock skew 900 seconds".into()
            )
        );
        assert_eq!(judge(&ok, "other", now()).unwrap_err(), (403, "HMAC signature does not match".into()));
        let mut changed = ok.clone();
        changed.headers.insert("source", HeaderValue::from_static("evil"));
        assert_eq!(judge(&changed, "key", now()).unwrap_err().1, "HMAC signature does not match");
    }

    #[test]
    fn parser_is_lenient_about_order_and_spacing_and_strict_about_quotes() {
        let all = |text| {
            let mut pairs = Vec::new();
            parse_params(text, |k, v| pairs.push((k, v))).map(|()| pairs)
        };
        let p = all(r#"signature="c2ln",  headers="x-date",id="a", algorithm="hmac-sha256""#).unwrap();
        assert_eq!(p, [("signature", "c2ln"), ("headers", "x-date"), ("id", "a"), ("algorithm", "hmac-sha256")]);
        assert!(all(r#"id="unclosed"#).is_err());
        assert!(all("novalue").is_err());
        assert!(all("").unwrap().is_empty());
        let p =
            request(Some(r#"hmac id="a", algorithm="md5", headers="x-date", signature="eA==""#), &[("x-date", "x")]);
        assert!(judge(&p, "k", now()).unwrap_err().1.contains("algorithm"));
        let p = request(Some(r#"hmac id="a", headers="", signature="eA==""#), &[]);
        assert!(judge(&p, "k", now()).unwrap_err().1.contains("x-date or date"));
    }
}
