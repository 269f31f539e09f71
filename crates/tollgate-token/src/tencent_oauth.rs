//! Tencent API Gateway's OAuth 2.0 business APIs (`AuthType: OAUTH`, `OauthConfig`).
//!
//! An API of `AuthType: OAUTH` and `ApiBusinessType: NORMAL` checks the ID token its
//! authorization server issued: an RS256 JWT, verified with the RSA public key of
//! `OauthConfig.PublicKey` (a JWK as JSON text). The token arrives where
//! `OauthConfig.TokenLocation` says:
//!
//! | `TokenLocation` | the token |
//! |---|---|
//! | `method.req.header.authorization` (the default) | `Authorization: Bearer id_token="<JWT>"` |
//! | `method.req.header.cookie` | `Cookie: id_token=<JWT>` |
//!
//! Every refusal is a 401 with Tencent's `{"message": "..."}` (the
//! [`ErrorStyle::TencentApiGateway`] style), in Tencent's words, kept in one table
//! ([`REFUSALS`]). A `PublicKey` that is missing or not an RSA public JWK, which Tencent
//! answers at request time with a 481 (`Oauth found no public key.`, `Oauth public key
//! error.`), is refused here when the layer is built, naming the field.
//!
//! ```
//! use http::{Request, StatusCode};
//! use tollgate_token::tencent_oauth::{OauthConfig, TencentOauth};
//! use tollgate_core::RequestBody;
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let config: OauthConfig = serde_json::from_str(&format!(
//!     r#"{{"PublicKey": {}, "TokenLocation": "method.req.header.authorization"}}"#,
//!     serde_json::to_string(include_str!("../tests/fixtures/clouds/idp-1.jwk.json")).unwrap(),
//! ))
//! .unwrap();
//! let svc = ServiceBuilder::new()
//!     .layer(TencentOauth::layer(&config).unwrap())
//!     .service(service_fn(|_req: Request<RequestBody<String>>| async {
//!         Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
//!     }));
//!
//! let refused = svc.oneshot(Request::new(String::new())).await.unwrap();
//! assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
//! # }
//! ```
//!
//! # Points the documentation leaves open, and what we chose
//!
//! - **The cookie's name** is not documented: `id_token`, the name of the header form's
//!   parameter and of the OpenID Connect response field (UNCERTAIN).
//! - **The header's grammar.** `Bearer` in any case, one or more spaces, `id_token` (in any
//!   case, as RFC 9110 makes auth-parameter names), `=`, and the token quoted (as Tencent's
//!   documentation writes it) or bare; nothing after it. A plain `Bearer <JWT>` is a format
//!   error, as on Tencent: the API said where the token goes. An empty `id_token=""` is
//!   `Oauth miss Oauth id_token.`, a header that is not this shape `Oauth authorization
//!   header format error.`, and two `Authorization` headers the latter too (the backend
//!   would read one of them, which one is not known).
//! - **Which refusal for which failure** (the documentation lists the messages, not their
//!   causes): see [`REFUSALS`].
//! - **`LoginRedirectUrl`**: a request *without* a token whose `Accept` asks for HTML (a
//!   browser navigating) is redirected there with a 302 and `Location`; every other client,
//!   and any request carrying a bad token, gets the 401. Redirecting an API client would
//!   hide the refusal behind a login page it cannot use, and redirecting a bad token would
//!   loop a browser whose stored token is stale through the login page without saying why.
//!   The URL must be an absolute `http(s)` URL, checked at build.
//! - `ApiBusinessType: OAUTH` (Tencent's authorization API, which issues the tokens) checks
//!   nothing at the gateway: it is not a profile here, and the gateway passes it through.

use std::borrow::Cow;
use std::fmt;

use http::header::{ACCEPT, AUTHORIZATION, LOCATION};
use http::{HeaderMap, HeaderValue, StatusCode, Uri};
use serde::Deserialize;
use tollgate_core::{ConfigError, ErrorStyle, Rejection};

use crate::Algorithm;
use crate::TokenLayer;
use crate::keys::{KeySet, KeySource};
use crate::location::TokenLocation;
use crate::profile::Profile;
use crate::verify::{TokenError, Verifier};

/// The cookie that carries the token with `TokenLocation: method.req.header.cookie`
/// (UNCERTAIN: see the [module docs](self)).
pub const ID_TOKEN_COOKIE: &str = "id_token";

/// `TokenLocation` for the `Authorization` header.
pub const LOCATION_AUTHORIZATION: &str = "method.req.header.authorization";
/// `TokenLocation` for the `Cookie` header.
pub const LOCATION_COOKIE: &str = "method.req.header.cookie";

/// Tencent's `OauthConfig`, as `CreateApi` takes it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
#[non_exhaustive]
pub struct OauthConfig {
    /// The RSA public key verifying the ID tokens, a JWK as JSON text
    /// (`{"e": "AQAB", "kty": "RSA", "n": "..."}`).
    #[serde(default)]
    pub public_key: String,
    /// Where the token is: [`LOCATION_AUTHORIZATION`] (the default) or [`LOCATION_COOKIE`].
    #[serde(default)]
    pub token_location: Option<String>,
    /// Where a browser without a token is sent.
    #[serde(default)]
    pub login_redirect_url: Option<String>,
}

impl OauthConfig {
    /// A configuration with this public key (JWK JSON text), the token in `Authorization`.
    pub fn new(public_key: impl Into<String>) -> Self {
        Self { public_key: public_key.into(), ..Self::default() }
    }

    /// The token in the `id_token` cookie instead.
    pub fn in_cookie(mut self) -> Self {
        self.token_location = Some(LOCATION_COOKIE.to_owned());
        self
    }

    /// Browsers without a token go to `url`.
    pub fn login_redirect_url(mut self, url: impl Into<String>) -> Self {
        self.login_redirect_url = Some(url.into());
        self
    }
}

/// Where the token of a Tencent OAuth API is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    Authorization,
    Cookie,
}

/// The Tencent OAuth 2.0 profile of the token layer.
#[derive(Clone)]
pub struct TencentOauth {
    place: Place,
    redirect: Option<HeaderValue>,
}

impl fmt::Debug for TencentOauth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TencentOauth").field("place", &self.place).field("redirect", &self.redirect).finish()
    }
}

/// What each failure is answered with: the `kind` of the [`TokenError`] (or of a header
/// problem, `header_*`) and Tencent's message. All 401. One table, to be corrected in one
/// place.
pub const REFUSALS: &[(&str, &str)] = &[
    // the Authorization header is absent
    ("missing_header", "Oauth found no authorization header."),
    // the cookie is absent (no Cookie header, or no id_token in it)
    ("missing_cookie", "Oauth found no id_token."),
    // `Bearer id_token=""`
    ("header_empty_id_token", "Oauth miss Oauth id_token."),
    // not `Bearer id_token="..."`, or two headers
    ("header_format", "Oauth authorization header format error."),
    // the signature does not verify with the public key
    ("bad_signature", "Oauth signature cannot be verified, a validate authorization header is required."),
    // anything else about the token: malformed, expired, not yet valid, alg, kid
    ("verify", "Oauth id_token verify error."),
];

fn message(kind: &str) -> &'static str {
    REFUSALS.iter().find(|(k, _)| *k == kind).map_or("Oauth id_token verify error.", |(_, m)| m)
}

/// The `BadLocation` reasons this profile gives, matched back in [`Profile::rejection`].
const EMPTY_ID_TOKEN: &str = "empty id_token";
const HEADER_FORMAT: &str = "expected Bearer id_token=\"<JWT>\"";
/// The `Profile` error of a browser to redirect.
const REDIRECT: &str = "redirect to the login page";

/// Why an `Authorization` value is not `Bearer id_token="<JWT>"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdTokenHeaderError {
    /// The shape is right and the token empty (`id_token=""`).
    Empty,
    /// Not the shape.
    Format,
}

/// The token of an `Authorization: Bearer id_token="<JWT>"` value (see the
/// [module docs](self) for the grammar).
///
/// ```
/// use tollgate_token::tencent_oauth::{IdTokenHeaderError, parse_id_token_header};
///
/// assert_eq!(parse_id_token_header(r#"Bearer id_token="a.b.c""#), Ok("a.b.c"));
/// assert_eq!(parse_id_token_header("bearer  ID_TOKEN = a.b.c "), Ok("a.b.c"));
/// assert_eq!(parse_id_token_header(r#"Bearer id_token="""#), Err(IdTokenHeaderError::Empty));
/// assert_eq!(parse_id_token_header("Bearer a.b.c"), Err(IdTokenHeaderError::Format));
/// assert_eq!(parse_id_token_header(r#"Bearer id_token="a.b.c", x="y""#), Err(IdTokenHeaderError::Format));
/// ```
pub fn parse_id_token_header(value: &str) -> Result<&str, IdTokenHeaderError> {
    use IdTokenHeaderError::Format;
    let value = value.trim_matches([' ', '\t']);
    let (scheme, rest) = value.split_once([' ', '\t']).ok_or(Format)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(Format);
    }
    let (name, token) = rest.split_once('=').ok_or(Format)?;
    if !name.trim_matches([' ', '\t']).eq_ignore_ascii_case("id_token") {
        return Err(Format);
    }
    let token = token.trim_matches([' ', '\t']);
    let token = match token.strip_prefix('"') {
        Some(quoted) => quoted.strip_suffix('"').ok_or(Format)?,
        None => token,
    };
    // a JWT is base64url parts and dots: anything else (a quote, a comma and a second
    // parameter, a space) is not one token
    if !token.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')) {
        return Err(Format);
    }
    if token.is_empty() {
        return Err(IdTokenHeaderError::Empty);
    }
    Ok(token)
}

impl TencentOauth {
    /// The profile, its verifier (RS256, `exp` and `nbf` checked when present) and its key
    /// (`PublicKey`), checked. Errors name the field (`PublicKey`, `TokenLocation`,
    /// `LoginRedirectUrl`).
    pub fn from_config(config: &OauthConfig) -> Result<(Self, Verifier, KeySource), ConfigError> {
        let place = match config.token_location.as_deref().map(str::trim) {
            None | Some("") => Place::Authorization,
            Some(l) if l.eq_ignore_ascii_case(LOCATION_AUTHORIZATION) => Place::Authorization,
            Some(l) if l.eq_ignore_ascii_case(LOCATION_COOKIE) => Place::Cookie,
            Some(other) => {
                return Err(ConfigError::new(
                    "TokenLocation",
                    format!("{other:?}: expected {LOCATION_AUTHORIZATION} or {LOCATION_COOKIE}"),
                ));
            }
        };
        let redirect = match config.login_redirect_url.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(url) => Some(redirect_target(url)?),
        };
        let keys = public_key(&config.public_key)?;
        Ok((Self { place, redirect }, Verifier::new(), KeySource::fixed(keys)))
    }

    /// The token layer for `config` ([`from_config`](Self::from_config)), rendering refusals
    /// in Tencent API Gateway's style.
    pub fn layer(config: &OauthConfig) -> Result<TokenLayer, ConfigError> {
        let (profile, verifier, keys) = Self::from_config(config)?;
        Ok(TokenLayer::new(profile, keys, verifier))
    }
}

/// `PublicKey`: one RSA public JWK, for RS256.
fn public_key(text: &str) -> Result<KeySet, ConfigError> {
    let field = "PublicKey";
    if text.trim().is_empty() {
        return Err(ConfigError::new(field, "missing: expected the RSA public key as a JWK JSON string"));
    }
    let keys = KeySet::from_jwk_text(text).map_err(|e| e.within(field))?;
    if keys.has_secrets() {
        return Err(ConfigError::new(field, "a shared secret: expected an RSA public key"));
    }
    keys.restrict_to(&[Algorithm::RS256])
        .map_err(|_| ConfigError::new(field, "expected an RSA public key (Tencent OAuth tokens are RS256)"))
}

fn redirect_target(url: &str) -> Result<HeaderValue, ConfigError> {
    let field = "LoginRedirectUrl";
    let uri: Uri = url.parse().map_err(|_| ConfigError::new(field, format!("{url:?} is not a URL")))?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
        return Err(ConfigError::new(field, format!("{url:?}: expected an absolute http(s) URL")));
    }
    HeaderValue::from_str(url).map_err(|_| ConfigError::new(field, format!("{url:?} is not a header value")))
}

/// Whether the request is a browser navigating: it asks for HTML.
fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get_all(ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|media| media.split(';').next().is_some_and(|m| m.trim().eq_ignore_ascii_case("text/html")))
}

impl Profile for TencentOauth {
    fn name(&self) -> &'static str {
        "oauth"
    }

    fn token<'r>(&self, headers: &'r HeaderMap, uri: &'r Uri) -> Result<Option<Cow<'r, str>>, TokenError> {
        let found = match self.place {
            Place::Authorization => {
                let mut values = headers.get_all(AUTHORIZATION).iter();
                match (values.next(), values.next()) {
                    (None, _) => None,
                    (Some(_), Some(_)) => return Err(TokenError::Ambiguous),
                    (Some(value), None) => {
                        let text = value.to_str().map_err(|_| TokenError::BadLocation(HEADER_FORMAT.into()))?;
                        match parse_id_token_header(text) {
                            Ok(token) => Some(Cow::Borrowed(token)),
                            Err(IdTokenHeaderError::Empty) => {
                                return Err(TokenError::BadLocation(EMPTY_ID_TOKEN.into()));
                            }
                            Err(IdTokenHeaderError::Format) => {
                                return Err(TokenError::BadLocation(HEADER_FORMAT.into()));
                            }
                        }
                    }
                }
            }
            Place::Cookie => TokenLocation::Cookie(ID_TOKEN_COOKIE.to_owned()).read(headers, uri)?,
        };
        if found.is_none() && self.redirect.is_some() && wants_html(headers) {
            return Err(TokenError::Profile(REDIRECT.into()));
        }
        Ok(found)
    }

    fn rejection(&self, error: &TokenError) -> Rejection {
        let (kind, code) = match error {
            TokenError::Profile(p) if p == REDIRECT => {
                if let Some(location) = &self.redirect {
                    return Rejection::new(StatusCode::FOUND, "OauthLoginRedirect", "sign in first")
                        .with_policy("oauth")
                        .with_header(LOCATION, location.clone())
                        .with_tencent_api_gateway(StatusCode::FOUND, "Oauth found no id_token.");
                }
                ("verify", "OauthVerifyError")
            }
            TokenError::Missing => match self.place {
                Place::Authorization => ("missing_header", "OauthNoAuthorizationHeader"),
                Place::Cookie => ("missing_cookie", "OauthNoIdToken"),
            },
            TokenError::BadLocation(reason) if reason == EMPTY_ID_TOKEN => {
                ("header_empty_id_token", "OauthMissIdToken")
            }
            TokenError::BadLocation(_) => ("header_format", "OauthHeaderFormatError"),
            // two headers for the header form; two cookies for the cookie form
            TokenError::Ambiguous => match self.place {
                Place::Authorization => ("header_format", "OauthHeaderFormatError"),
                Place::Cookie => ("verify", "OauthVerifyError"),
            },
            TokenError::BadSignature => ("bad_signature", "OauthSignatureNotVerified"),
            TokenError::KeysUnavailable { code, reason } => return crate::jwks::keys_unavailable(code, reason),
            _ => ("verify", "OauthVerifyError"),
        };
        let message = message(kind);
        Rejection::new(StatusCode::UNAUTHORIZED, code, format!("{message} ({error})"))
            .with_policy("oauth")
            .with_tencent_api_gateway(StatusCode::UNAUTHORIZED, message)
    }

    fn error_style(&self) -> ErrorStyle {
        ErrorStyle::TencentApiGateway
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn header_grammar() {
        for ok in [
            r#"Bearer id_token="a.b.c""#,
            r#"bearer id_token="a.b.c""#,
            r#"BEARER   id_token = "a.b.c"  "#,
            "Bearer\tid_token=a.b.c",
            "Bearer Id_Token=a.b.c",
        ] {
            assert_eq!(parse_id_token_header(ok), Ok("a.b.c"), "{ok}");
        }
        for empty in [r#"Bearer id_token="""#, "Bearer id_token=", "Bearer id_token= "] {
            assert_eq!(parse_id_token_header(empty), Err(IdTokenHeaderError::Empty), "{empty}");
        }
        for bad in [
            "",
            "Bearer",
            "Bearer a.b.c",
            "Basic id_token=a.b.c",
            "Bearerid_token=a.b.c",
            r#"Bearer id_token="a.b.c"#,
            r#"Bearer id_token=a.b.c""#,
            r#"Bearer id_token="a.b.c", x="y""#,
            r#"Bearer id_token="a.b.c" id_token="d.e.f""#,
            r#"Bearer id_token="a"b.c""#,
            r#"Bearer access_token="a.b.c""#,
            r#"Bearer xid_token="a.b.c""#,
            r#"Bearer id_token=="a.b.c""#,
            "Bearer id_token==a.b.c",
            "Bearer id_token=a b.c",
        ] {
            assert_eq!(parse_id_token_header(bad), Err(IdTokenHeaderError::Format), "{bad}");
        }
    }

    #[test]
    fn every_message_is_tencents() {
        let tencent = [
            "Oauth miss Oauth id_token.",
            "Oauth signature cannot be verified, a validate authorization header is required.",
            "Oauth authorization header format error.",
            "Oauth found no authorization header.",
            "Oauth found no id_token.",
            "Oauth id_token verify error.",
        ];
        for (_, m) in REFUSALS {
            assert!(tencent.contains(m), "{m}");
        }
        for m in tencent {
            assert!(REFUSALS.iter().any(|(_, ours)| *ours == m), "{m} unused");
        }
    }

    #[test]
    fn config_errors_name_the_field() {
        let key = include_str!("../tests/fixtures/clouds/idp-1.jwk.json");
        assert!(TencentOauth::from_config(&OauthConfig::new(key)).is_ok());
        let field = |c: OauthConfig| TencentOauth::from_config(&c).unwrap_err().field;
        assert_eq!(field(OauthConfig::new("")), "PublicKey");
        assert_eq!(field(OauthConfig::new("{not json")), "PublicKey");
        assert_eq!(field(OauthConfig::new(r#"{"kty": "oct", "k": "c2VjcmV0", "alg": "HS256"}"#)), "PublicKey");
        assert!(field(OauthConfig::new(r#"{"kty": "RSA", "e": "AQAB", "n": "AQAB"}"#)).starts_with("PublicKey"));
        let ec = r#"{"kty": "EC", "crv": "P-256", "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}"#;
        assert_eq!(field(OauthConfig::new(ec)), "PublicKey");
        let mut c = OauthConfig::new(key);
        c.token_location = Some("method.req.query.token".into());
        assert_eq!(field(c), "TokenLocation");
        for url in ["/login", "javascript:alert(1)", "https://a.example/\nx"] {
            assert_eq!(field(OauthConfig::new(key).login_redirect_url(url)), "LoginRedirectUrl", "{url}");
        }
    }

    #[test]
    fn accept_html_is_a_browser() {
        let mut h = HeaderMap::new();
        assert!(!wants_html(&h));
        h.insert(ACCEPT, HeaderValue::from_static("text/html,application/xhtml+xml,*/*;q=0.8"));
        assert!(wants_html(&h));
        h.insert(ACCEPT, HeaderValue::from_static("application/json, text/plain"));
        assert!(!wants_html(&h));
        h.insert(ACCEPT, HeaderValue::from_static("Text/HTML; q=0.9"));
        assert!(wants_html(&h));
    }

    proptest! {
        /// Whatever the text, no panic; a value it accepts is one JWT-shaped token found
        /// verbatim in the text, after `id_token`.
        #[test]
        fn any_header_text(text in "\\PC{0,80}") {
            if let Ok(token) = parse_id_token_header(&text) {
                prop_assert!(!token.is_empty());
                prop_assert!(token.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)));
                prop_assert!(text.contains(token));
                prop_assert!(text.to_ascii_lowercase().contains("id_token"));
            }
        }

        /// Any token of JWT characters, quoted or not, with any spacing and case, reads back.
        #[test]
        fn round_trip(
            token in "[A-Za-z0-9_.-]{1,60}",
            quoted: bool,
            sp1 in "[ \t]{1,3}", sp2 in "[ \t]{0,2}", sp3 in "[ \t]{0,2}",
            upper: bool,
        ) {
            let scheme = if upper { "BEARER" } else { "Bearer" };
            let value = if quoted { format!("\"{token}\"") } else { token.clone() };
            let header = format!("{scheme}{sp1}id_token{sp2}={sp3}{value}");
            prop_assert_eq!(parse_id_token_header(&header), Ok(token.as_str()));
        }

        /// A second parameter after the token is never taken for part of it.
        #[test]
        fn nothing_after_the_token(token in "[A-Za-z0-9_.-]{1,40}", extra in "[ ,;][ -~]{1,20}") {
            let header = format!("Bearer id_token=\"{token}\"{extra}");
            if let Ok(read) = parse_id_token_header(&header) {
                // only trailing spaces may follow
                prop_assert_eq!(read, token.as_str());
                prop_assert!(extra.trim().is_empty());
            }
        }
    }
}
