//! Aliyun API Gateway's API-level OpenID Connect: a business API that accepts the ID tokens
//! its group's authorization API issued.
//!
//! In Aliyun, an authorization API (`OpenIdApiType: IDTOKEN`) holds a group-unique key id
//! (`PublicKeyId`, the console's `KeyId`) and the RSA public key (a JWK) of the account system
//! that signs ID tokens; every business API (`OpenIdApiType: BUSINESS`) of the group names the
//! request parameter carrying the token (`IdTokenParamName`) and accepts a token when:
//!
//! - its header's `kid` equals `PublicKeyId`, and it is RS256 signed by that key;
//! - it has an `exp`, not passed and at most 7 days ahead (`nbf`, when present, is checked too).
//!
//! Every refusal is a 401 in the Aliyun API Gateway style (`X-Ca-Error-Message`), with the
//! texts of Aliyun's documentation, kept in one table ([`REFUSALS`]).
//!
//! ```
//! use http::{Request, StatusCode};
//! use tollgate_token::aliyun_oidc::{AliyunOidc, OpenIdConnectConfig};
//! use tollgate_core::RequestBody;
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let config: OpenIdConnectConfig = serde_json::from_value(serde_json::json!({
//!     "OpenIdApiType": "BUSINESS",
//!     "IdTokenParamName": "token",
//!     "PublicKeyId": "idp-1",
//!     "PublicKey": include_str!("../tests/fixtures/clouds/idp-1.jwk.json"),
//! }))
//! .unwrap();
//! let svc = ServiceBuilder::new()
//!     .layer(AliyunOidc::layer(&config).unwrap())
//!     .service(service_fn(|_req: Request<RequestBody<String>>| async {
//!         Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
//!     }));
//!
//! let refused = svc.oneshot(Request::new(String::new())).await.unwrap();
//! assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
//! assert_eq!(refused.headers()["x-ca-error-message"], "OpenId Connect Verify Fail, IdToken Not Exist");
//! # }
//! ```
//!
//! # "OpenID Connect & app"
//!
//! Aliyun's other mode also requires the app's signature. In tollgate that is two layers:
//! the signature layer (scheme `aliyun-apigw`) and this one, each refusing what it checks, so
//! a request needs both a valid app signature and a valid ID token. In the gateway, an API
//! with both a `signature` and an `openid_connect` block is that mode (which of the two
//! names the `Caller` is the gateway's rule for a signature beside a token).
//!
//! # Points the documentation leaves open, and what we chose
//!
//! - **Where the token parameter is.** Aliyun reads it from the business API's parameter of
//!   that name, wherever the API defines it. Here: `IdTokenParamLocation` (our field) `HEAD`
//!   (the default; `HEADER` too) or `QUERY`; a `Bearer ` before the token is tolerated, as
//!   clients send one out of habit (UNCERTAIN).
//! - **Which refusal for which failure** (the documentation lists the texts): see
//!   [`REFUSALS`]. The text of "JWS set Public-Key exception" is given without its number,
//!   which the documentation does not show (UNCERTAIN); a token whose `alg` the RSA key cannot
//!   verify (`HS256`, `ES256`, `none`) gets it. A missing `exp` or one too far ahead, and an
//!   `nbf` still ahead, are "239, Parse payload to JwtClaims exception" (the claims check
//!   failed), an expired token "239, idToken expired" (UNCERTAIN).
//! - **"245, IdToken is out of scope"** (a token of another API group) is not produced: in
//!   tollgate a group is the APIs configured with one `PublicKeyId` and key, so another
//!   group's token fails at its `kid` (243) or signature (237) first. The text is in the
//!   table for a profile that scopes further.
//! - **The key** must be an RSA public JWK of at least 2048 bits. Its `kid`, when it has one,
//!   must equal `PublicKeyId`; without one it takes `PublicKeyId`. `PublicKey` may be the JWK
//!   as JSON text (as the API takes it) or as an object (as YAML writes it).
//! - **An authorization API** (`OpenIdApiType: IDTOKEN`) verifies nothing at the gateway (it
//!   is the login that issues tokens): [`AliyunOidc::from_config`] refuses it, and the gateway
//!   passes such an API through.
//! - **The JWT plug-in wins**: on an API with both, Aliyun applies `jwtAuth` and not the
//!   API's OpenID Connect; the gateway does the same.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderMap, HeaderName, StatusCode, Uri};
use serde::Deserialize;
use serde_json::Value;
use tollgate_core::{ConfigError, ErrorStyle, Rejection};

use crate::Algorithm;
use crate::TokenLayer;
use crate::keys::{KeySet, KeySource};
use crate::location::TokenLocation;
use crate::profile::Profile;
use crate::verify::{TokenError, Verified, Verifier};

/// The longest an ID token may be valid from now: 7 days.
pub const MAX_VALIDITY: Duration = Duration::from_secs(7 * 24 * 3600);

/// Aliyun's `OpenIdConnectConfig` of an API (`CreateApi`), and `IdTokenParamLocation`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
#[non_exhaustive]
pub struct OpenIdConnectConfig {
    /// `BUSINESS` (the default: an API that checks tokens) or `IDTOKEN` (the authorization
    /// API, which checks nothing).
    #[serde(default)]
    pub open_id_api_type: Option<String>,
    /// The key id tokens must name in their `kid` (the console's `KeyId`).
    #[serde(default, alias = "KeyId")]
    pub public_key_id: Option<String>,
    /// The RSA public key, a JWK: JSON text, or an object.
    #[serde(default)]
    pub public_key: Option<Value>,
    /// The request parameter carrying the ID token.
    #[serde(default)]
    pub id_token_param_name: Option<String>,
    /// Where that parameter is: `HEAD` (the default) or `QUERY` (tollgate's field).
    #[serde(default)]
    pub id_token_param_location: Option<String>,
}

impl OpenIdConnectConfig {
    /// A business API's configuration: tokens in header `param`, of key `key_id` (`jwk`).
    pub fn business(param: impl Into<String>, key_id: impl Into<String>, jwk: Value) -> Self {
        Self {
            open_id_api_type: Some("BUSINESS".into()),
            public_key_id: Some(key_id.into()),
            public_key: Some(jwk),
            id_token_param_name: Some(param.into()),
            id_token_param_location: None,
        }
    }

    /// Whether this is an authorization API (`OpenIdApiType: IDTOKEN`), which checks nothing.
    pub fn is_authorization_api(&self) -> bool {
        self.open_id_api_type.as_deref().is_some_and(|t| t.trim().eq_ignore_ascii_case("IDTOKEN"))
    }
}

/// What each failure is answered with: a name, and the `X-Ca-Error-Message` (all 401). `{}`
/// in the `no_key_for_kid` text is the token's `kid`. One table, to be corrected in one place.
pub const REFUSALS: &[(&str, &str)] = &[
    ("missing", "OpenId Connect Verify Fail, IdToken Not Exist"),
    ("no_key_for_kid", "OpenID Connect Verify Fail: 243, Not found by keyId:{}"),
    ("public_key", "OpenID Connect Verify Fail: JWS set Public-Key exception"),
    ("bad_signature", "OpenID Connect Verify Fail: 237, Verify signature failed"),
    ("out_of_scope", "OpenID Connect Verify Fail: 245, IdToken is out of scope"),
    ("payload", "OpenID Connect Verify Fail: 238, JWS get payload exception"),
    ("claims", "OpenID Connect Verify Fail: 239, Parse payload to JwtClaims exception"),
    ("expired", "OpenID Connect Verify Fail: 239, idToken expired"),
    ("config", "Invalid OpenId Connect Config"),
];

fn text(kind: &str) -> &'static str {
    REFUSALS.iter().find(|(k, _)| *k == kind).map_or("Invalid OpenId Connect Config", |(_, m)| m)
}

/// The most of a token's `kid` echoed in a refusal: it is the client's text.
const KID_ECHO: usize = 64;

/// The Aliyun OpenID Connect profile of the token layer (a business API).
#[derive(Clone)]
pub struct AliyunOidc {
    key_id: Arc<str>,
    location: TokenLocation,
}

impl fmt::Debug for AliyunOidc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AliyunOidc").field("key_id", &self.key_id).field("location", &self.location).finish()
    }
}

impl AliyunOidc {
    /// The profile, its verifier (RS256, `exp` required and at most [`MAX_VALIDITY`] ahead)
    /// and its key, checked. Errors name the field (`PublicKeyId`, `PublicKey`,
    /// `IdTokenParamName`, ...).
    pub fn from_config(config: &OpenIdConnectConfig) -> Result<(Self, Verifier, KeySource), ConfigError> {
        match config.open_id_api_type.as_deref().map(str::trim) {
            None | Some("") => {}
            Some(t) if t.eq_ignore_ascii_case("BUSINESS") => {}
            Some(t) if t.eq_ignore_ascii_case("IDTOKEN") => {
                return Err(ConfigError::new(
                    "OpenIdApiType",
                    "IDTOKEN is the authorization API, which issues tokens and checks none: put no OpenID Connect layer on it",
                ));
            }
            Some(t) => return Err(ConfigError::new("OpenIdApiType", format!("{t:?}: expected BUSINESS or IDTOKEN"))),
        }
        let key_id = match config.public_key_id.as_deref().map(str::trim) {
            None | Some("") => return Err(ConfigError::new("PublicKeyId", "missing: expected the key id tokens name")),
            Some(id) => id,
        };
        let param = match config.id_token_param_name.as_deref().map(str::trim) {
            None | Some("") => {
                return Err(ConfigError::new(
                    "IdTokenParamName",
                    "missing: expected the parameter carrying the ID token",
                ));
            }
            Some(p) => p,
        };
        let location = match config.id_token_param_location.as_deref().map(str::trim) {
            None | Some("") => header(param)?,
            Some(l) if l.eq_ignore_ascii_case("HEAD") || l.eq_ignore_ascii_case("HEADER") => header(param)?,
            Some(l) if l.eq_ignore_ascii_case("QUERY") => TokenLocation::Query(param.to_owned()),
            Some(l) => {
                return Err(ConfigError::new("IdTokenParamLocation", format!("{l:?}: expected HEAD or QUERY")));
            }
        };
        let keys = public_key(config.public_key.as_ref(), key_id)?;
        let profile = Self { key_id: Arc::from(key_id), location };
        Ok((profile, Verifier::new().require_exp(MAX_VALIDITY), KeySource::fixed(keys)))
    }

    /// The token layer for `config` ([`from_config`](Self::from_config)), rendering refusals
    /// in the Aliyun API Gateway style.
    pub fn layer(config: &OpenIdConnectConfig) -> Result<TokenLayer, ConfigError> {
        let (profile, verifier, keys) = Self::from_config(config)?;
        Ok(TokenLayer::new(profile, keys, verifier))
    }
}

fn header(param: &str) -> Result<TokenLocation, ConfigError> {
    HeaderName::from_bytes(param.as_bytes())
        .map(TokenLocation::Header)
        .map_err(|_| ConfigError::new("IdTokenParamName", format!("{param:?} is not a header name")))
}

/// `PublicKey`: one RSA public JWK for RS256, its `kid` that of `PublicKeyId`.
fn public_key(value: Option<&Value>, key_id: &str) -> Result<KeySet, ConfigError> {
    let field = "PublicKey";
    let mut jwk = match value {
        None | Some(Value::Null) => {
            return Err(ConfigError::new(field, "missing: expected the RSA public key as a JWK"));
        }
        Some(Value::String(text)) => serde_json::from_str::<Value>(text)
            .map_err(|e| ConfigError::new(field, format!("expected a JWK as JSON: {e}")))?,
        Some(other) => other.clone(),
    };
    let Value::Object(map) = &mut jwk else {
        return Err(ConfigError::new(field, "expected one JWK object"));
    };
    match map.get("kid") {
        None | Some(Value::Null) => {
            map.insert("kid".into(), Value::String(key_id.to_owned()));
        }
        Some(Value::String(kid)) if kid == key_id => {}
        Some(kid) => {
            return Err(ConfigError::new(
                format!("{field}.kid"),
                format!("{kid} differs from PublicKeyId {key_id:?}: tokens name one key id"),
            ));
        }
    }
    let keys = KeySet::from_jwk_set(&jwk).map_err(|e| e.within(field))?;
    if keys.has_secrets() {
        return Err(ConfigError::new(field, "a shared secret: expected an RSA public key"));
    }
    keys.restrict_to(&[Algorithm::RS256])
        .map_err(|_| ConfigError::new(field, "expected an RSA public key (OpenID Connect ID tokens are RS256)"))
}

impl Profile for AliyunOidc {
    fn name(&self) -> &'static str {
        "oidc"
    }

    fn token<'r>(&self, headers: &'r HeaderMap, uri: &'r Uri) -> Result<Option<Cow<'r, str>>, TokenError> {
        self.location.read(headers, uri)
    }

    fn check(&self, verified: &Verified) -> Result<(), TokenError> {
        // the key set names only our key, but a token without `kid` reaches every key
        match verified.header.kid.as_deref() {
            Some(kid) if kid == &*self.key_id => Ok(()),
            kid => Err(TokenError::NoKeyForKid { kid: kid.map(str::to_owned) }),
        }
    }

    fn rejection(&self, error: &TokenError) -> Rejection {
        let (kind, code) = match error {
            TokenError::KeysUnavailable { code, reason } => return crate::jwks::keys_unavailable(code, reason),
            TokenError::Missing => ("missing", "OidcIdTokenNotExist"),
            TokenError::NoKeyForKid { .. } => ("no_key_for_kid", "OidcKeyIdNotFound"),
            TokenError::AlgNotAllowed { .. } => ("public_key", "OidcPublicKeyException"),
            TokenError::BadSignature => ("bad_signature", "OidcSignatureFailed"),
            TokenError::Expired { .. } => ("expired", "OidcIdTokenExpired"),
            TokenError::MissingClaim(_)
            | TokenError::ExpTooFar { .. }
            | TokenError::NotYetValid { .. }
            | TokenError::MalformedPayload(_) => ("claims", "OidcClaimsException"),
            TokenError::Ambiguous
            | TokenError::BadLocation(_)
            | TokenError::TooLong { .. }
            | TokenError::MalformedHeader(_) => ("payload", "OidcPayloadException"),
            _ => ("config", "OidcConfigInvalid"),
        };
        let message: Cow<'static, str> = match error {
            TokenError::NoKeyForKid { kid } => {
                let kid: String = kid.as_deref().unwrap_or("").chars().take(KID_ECHO).collect();
                Cow::Owned(text(kind).replace("{}", &kid))
            }
            _ => Cow::Borrowed(text(kind)),
        };
        Rejection::new(StatusCode::UNAUTHORIZED, code, format!("{message} ({error})"))
            .with_policy("oidc")
            .with_aliyun_api_gateway(StatusCode::UNAUTHORIZED, message)
    }

    fn error_style(&self) -> ErrorStyle {
        ErrorStyle::AliyunApiGateway
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const JWK: &str = include_str!("../tests/fixtures/clouds/idp-1.jwk.json");

    fn config() -> OpenIdConnectConfig {
        OpenIdConnectConfig::business("token", "idp-1", Value::String(JWK.into()))
    }

    #[test]
    fn every_documented_text_is_in_the_table() {
        let documented = [
            "OpenId Connect Verify Fail, IdToken Not Exist",
            "OpenID Connect Verify Fail: 243, Not found by keyId:",
            "JWS set Public-Key exception",
            "237, Verify signature failed",
            "245, IdToken is out of scope",
            "238, JWS get payload exception",
            "239, Parse payload to JwtClaims exception",
            "239, idToken expired",
            "Invalid OpenId Connect Config",
        ];
        for d in documented {
            assert!(REFUSALS.iter().any(|(_, m)| m.contains(d)), "{d}");
        }
    }

    #[test]
    fn config_errors_name_the_field() {
        assert!(AliyunOidc::from_config(&config()).is_ok());
        let field = |c: OpenIdConnectConfig| AliyunOidc::from_config(&c).unwrap_err().field;
        let mut c = config();
        c.public_key_id = None;
        assert_eq!(field(c), "PublicKeyId");
        let mut c = config();
        c.id_token_param_name = Some(" ".into());
        assert_eq!(field(c), "IdTokenParamName");
        let mut c = config();
        c.id_token_param_name = Some("bad header".into());
        assert_eq!(field(c), "IdTokenParamName");
        let mut c = config();
        c.id_token_param_location = Some("BODY".into());
        assert_eq!(field(c), "IdTokenParamLocation");
        let mut c = config();
        c.open_id_api_type = Some("IDTOKEN".into());
        assert!(c.is_authorization_api());
        assert_eq!(field(c), "OpenIdApiType");
        let mut c = config();
        c.public_key = None;
        assert_eq!(field(c), "PublicKey");
        let mut c = config();
        c.public_key = Some(Value::String("{not json".into()));
        assert_eq!(field(c), "PublicKey");
        let mut c = config();
        c.public_key_id = Some("another".into());
        assert_eq!(field(c), "PublicKey.kid");
        let mut c = config();
        c.public_key = Some(serde_json::json!({"kty": "oct", "k": "c2VjcmV0", "alg": "HS256"}));
        assert_eq!(field(c), "PublicKey");
        let mut c = config();
        c.public_key = Some(serde_json::json!({"kty": "RSA", "e": "AQAB", "n": "AQAB"}));
        assert!(field(c).starts_with("PublicKey"));
    }

    #[test]
    fn a_key_without_kid_takes_the_key_id() {
        let mut jwk: Value = serde_json::from_str(JWK).unwrap();
        jwk.as_object_mut().unwrap().remove("kid");
        let c = OpenIdConnectConfig::business("token", "group-key", jwk);
        let (_, _, keys) = AliyunOidc::from_config(&c).unwrap();
        let KeySource::Static(set) = keys else { panic!("static keys") };
        assert!(set.knows_kid("group-key"));
    }

    #[test]
    fn the_kid_echoed_is_bounded() {
        let (oidc, _, _) = AliyunOidc::from_config(&config()).unwrap();
        let r = oidc.rejection(&TokenError::NoKeyForKid { kid: Some("k".repeat(5000)) });
        let m = r.message_for(tollgate_core::Ecosystem::AliyunApiGateway);
        assert_eq!(m, format!("OpenID Connect Verify Fail: 243, Not found by keyId:{}", "k".repeat(64)));
    }
}
