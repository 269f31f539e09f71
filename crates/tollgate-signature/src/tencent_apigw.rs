//! Tencent API Gateway key-pair authentication:
//! `Authorization: hmac id="...", algorithm="hmac-sha1", headers="x-date source", signature="..."`.
//!
//! Only the listed headers are covered (never the query or the body); one of `x-date` or
//! `date` must be among them, and `X-Date` must be within 15 minutes of now. Refusals are
//! `{"message": "..."}` with the gateway's status and text.
//!
//! The scheme has no nonce: the replay guard remembers the signature itself, so the same
//! signed request is accepted once within the window.
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

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::header::AUTHORIZATION;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use tollgate_core::{ErrorStyle, Rejection, time_apart};

use crate::scheme::{RequestView, Scheme, SignError, Signer, Verified};
use crate::secret::{KeyForm, Secret};
use crate::util::{HmacAlg, SignatureBytes, base64_encode, hmac};

/// The Tencent API Gateway key-pair scheme, verifier and signer.
#[derive(Debug, Clone)]
pub struct TencentApiGateway {
    window: Duration,
    check_date: bool,
    alg: HmacAlg,
    extra_signed: Vec<HeaderName>,
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
        Self { window: Duration::from_secs(900), check_date: false, alg: HmacAlg::Sha1, extra_signed: Vec::new() }
    }

    /// How far `X-Date` may be from now, either way (default 900 seconds).
    pub fn window(mut self, window: Duration) -> Self {
        self.window = window;
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

/// What a key-pair request claims.
#[derive(Debug, Clone)]
pub struct Parsed {
    id: String,
    alg: HmacAlg,
    /// The signed header names, lower case, space-separated, in signing order.
    headers: String,
    signature: String,
}

/// The `key="value"` parameters of an `Authorization: hmac ...` value, or why not.
fn parse_params(rest: &str) -> Result<Vec<(&str, &str)>, &'static str> {
    let mut out = Vec::new();
    let mut s = rest.trim();
    while !s.is_empty() {
        let (key, after) = s.split_once('=').ok_or("expected key=\"value\" pairs")?;
        let after = after.trim_start();
        let (value, tail) = match after.strip_prefix('"') {
            Some(quoted) => {
                let end = quoted.find('"').ok_or("a quoted value is not closed")?;
                (&quoted[..end], &quoted[end + 1..])
            }
            None => after.split_once(',').unwrap_or((after, "")),
        };
        out.push((key.trim(), value.trim()));
        s = tail.trim_start().strip_prefix(',').unwrap_or(tail).trim();
    }
    Ok(out)
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

    fn needs_body(&self, _method: &Method, _headers: &HeaderMap) -> bool {
        false
    }

    fn parse(&self, req: &RequestView<'_>) -> Result<Parsed, Rejection> {
        let Some(auth) = req.headers.get(AUTHORIZATION) else {
            return Err(refusal(
                StatusCode::UNAUTHORIZED,
                "MissingAuthorization",
                // sic: the gateway's own wording
                "HMAC signature cannot be verified, a validate authorization header is required",
            ));
        };
        let bad = |why: &str| forbidden("InvalidAuthorization", format!("HMAC signature cannot be verified, {why}"));
        let auth = auth.to_str().map_err(|_| bad("the authorization header is not visible ASCII"))?.trim();
        let (scheme, rest) = auth.split_once(' ').unwrap_or((auth, ""));
        if !scheme.eq_ignore_ascii_case("hmac") {
            return Err(bad("the authorization scheme is not hmac"));
        }
        let params = parse_params(rest).map_err(bad)?;
        let get =
            |k: &str| params.iter().find(|(n, _)| n.eq_ignore_ascii_case(k)).map(|(_, v)| *v).filter(|v| !v.is_empty());
        let id = get("id").or_else(|| get("keyid")).ok_or_else(|| bad("the authorization header names no id"))?;
        let signature = get("signature").ok_or_else(|| bad("the authorization header has no signature"))?;
        let alg = match get("algorithm").map(str::to_ascii_lowercase).as_deref() {
            None | Some("hmac-sha1") => HmacAlg::Sha1,
            Some("hmac-sha256") => HmacAlg::Sha256,
            Some(_) => return Err(bad("the algorithm is not hmac-sha1 or hmac-sha256")),
        };
        let headers = get("headers").unwrap_or("").to_ascii_lowercase();
        if !headers.split_whitespace().any(|h| h == "x-date" || h == "date") {
            return Err(bad("the signed headers must include x-date or date"));
        }
        for name in headers.split_whitespace() {
            if !req.headers.contains_key(name) {
                return Err(forbidden(
                    "MissingSignedHeader",
                    format!("HMAC signature cannot be verified, a valid {name} header is required"),
                ));
            }
        }
        Ok(Parsed { id: id.to_owned(), alg, headers, signature: signature.to_owned() })
    }

    fn key_id<'p>(&self, parsed: &'p Parsed) -> &'p str {
        &parsed.id
    }

    fn unknown_key(&self, _key_id: &str) -> Rejection {
        forbidden("UnknownKey", "HMAC signature cannot be verified")
    }

    fn verify(
        &self,
        req: &RequestView<'_>,
        parsed: &Parsed,
        secrets: &[Secret],
        now: SystemTime,
    ) -> Result<Verified, Rejection> {
        let mut timestamp = None;
        for (name, checked) in [("x-date", true), ("date", self.check_date)] {
            if !checked || !parsed.headers.split_whitespace().any(|h| h == name) {
                continue;
            }
            let value = req.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("");
            let ts = httpdate::parse_http_date(value.trim()).map_err(|_| self.out_of_date())?;
            if time_apart(ts, now) > self.window {
                return Err(self.out_of_date());
            }
            timestamp = timestamp.or(Some(ts));
        }
        let mut text = Vec::with_capacity(128);
        write_signing_string(&mut text, req.headers, parsed.headers.split_whitespace());
        let ok = SignatureBytes::from_base64(&parsed.signature)
            .is_some_and(|c| secrets.iter().any(|s| s.verify_hmac(parsed.alg, KeyForm::Plain, &text, c.as_bytes())));
        if !ok {
            return Err(forbidden("SignatureDoesNotMatch", "HMAC signature does not match"));
        }
        Ok(Verified { nonce: Some(format!("hmac:{}", parsed.signature)), timestamp })
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;
    use tollgate_core::Ecosystem;

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
        let p = parse_params(r#"signature="c2ln",  headers="x-date",id="a", algorithm="hmac-sha256""#).unwrap();
        assert_eq!(p.len(), 4);
        assert!(parse_params(r#"id="unclosed"#).is_err());
        assert!(parse_params("novalue").is_err());
        assert!(parse_params("").unwrap().is_empty());
        let p =
            request(Some(r#"hmac id="a", algorithm="md5", headers="x-date", signature="eA==""#), &[("x-date", "x")]);
        assert!(judge(&p, "k", now()).unwrap_err().1.contains("algorithm"));
        let p = request(Some(r#"hmac id="a", headers="", signature="eA==""#), &[]);
        assert!(judge(&p, "k", now()).unwrap_err().1.contains("x-date or date"));
    }
}
