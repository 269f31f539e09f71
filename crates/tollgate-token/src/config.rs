//! Configuration: Aliyun's `jwtAuth` plug-in, YAML or JSON, field for field (camelCase), and
//! the few fields of our own, checked and compiled when the layer is built.

use std::time::Duration;

use http::HeaderName;
use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tollgate_core::ConfigError;

use crate::keys::{KeySet, KeySource, parse_alg};
use crate::location::TokenLocation;

/// Where `parameter` is read (`parameterLocation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenPlace {
    /// A header (`Authorization`, with or without `Bearer `). The default.
    #[default]
    Header,
    /// A query parameter.
    Query,
    /// A cookie (UNCERTAIN in the documentation; accepted).
    Cookie,
}

impl<'de> Deserialize<'de> for TokenPlace {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        match text.trim().to_ascii_lowercase().as_str() {
            "header" => Ok(Self::Header),
            "query" => Ok(Self::Query),
            "cookie" => Ok(Self::Cookie),
            _ => Err(de::Error::custom(format!("expected header, query or cookie, got {text:?}"))),
        }
    }
}

/// Where a claim is forwarded to the backend (`claimParameters[].location`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ClaimPlace {
    /// A request header.
    Header,
    /// A query parameter.
    Query,
    /// A path parameter (core's `PathParams`, which a router or the gateway bound).
    Path,
    /// A field of an `application/x-www-form-urlencoded` body.
    FormData,
}

impl<'de> Deserialize<'de> for ClaimPlace {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        match text.trim().to_ascii_lowercase().as_str() {
            "header" => Ok(Self::Header),
            "query" => Ok(Self::Query),
            "path" => Ok(Self::Path),
            "formdata" | "form" => Ok(Self::FormData),
            _ => Err(de::Error::custom(format!("expected header, query, path or formData, got {text:?}"))),
        }
    }
}

/// One claim forwarded to the backend (`claimParameters[]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClaimParameter {
    /// The claim read from the token (`aud`, `userId`).
    pub claim_name: String,
    /// The parameter's name toward the backend (`X-Aud`).
    pub parameter_name: String,
    /// Where it goes.
    pub location: ClaimPlace,
}

impl ClaimParameter {
    /// Forwards claim `claim` as `parameter` at `location`.
    pub fn new(claim: impl Into<String>, parameter: impl Into<String>, location: ClaimPlace) -> Self {
        Self { claim_name: claim.into(), parameter_name: parameter.into(), location }
    }
}

/// Aliyun's `jwtAuth` plug-in, as pasted from the console, and our own fields.
///
/// ```
/// use tollgate_token::JwtAuthConfig;
///
/// let config = JwtAuthConfig::from_plugin(r#"
/// parameter: Authorization
/// parameterLocation: header
/// bypassEmptyToken: false
/// jwk:
///   kty: OKP
///   crv: Ed25519
///   x: 11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo
/// "#)?;
/// assert_eq!(config.parameter, "Authorization");
/// assert!(config.keys().is_ok());
/// # Ok::<(), tollgate_core::ConfigError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct JwtAuthConfig {
    /// The header, query parameter or cookie holding the token (default `Authorization`).
    #[serde(default = "default_parameter")]
    pub parameter: String,
    /// Where `parameter` is (default `header`).
    #[serde(default)]
    pub parameter_location: TokenPlace,
    /// Refuse a `jti` seen before within the token's life (a token without `jti` is refused).
    #[serde(default)]
    pub prevent_jti_replay: bool,
    /// A request without a token goes to the backend unauthenticated (no claims, no caller).
    #[serde(default)]
    pub bypass_empty_token: bool,
    /// Do not check `exp`.
    #[serde(default)]
    pub ignore_expiration_check: bool,
    /// Claims forwarded to the backend.
    #[serde(default)]
    pub claim_parameters: Vec<ClaimParameter>,
    /// One JWK, or (also accepted) a JWK set or a list of JWKs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwk: Option<Value>,
    /// A JWK set `{"keys": [...]}` or a list of JWKs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks: Option<Value>,
    /// Ours: seconds of clock skew tolerated on `exp` and `nbf` (default 0).
    #[serde(default)]
    pub leeway: u64,
    /// Ours: the claim that names the caller (default `sub`).
    #[serde(default = "default_caller_claim")]
    pub caller_claim: String,
    /// Ours: the only algorithms accepted (default: each key's own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub algorithms: Option<Vec<String>>,
    /// Ours: keys fetched from this JWKS URL instead of `jwk` / `jwks` (see
    /// [`RemoteKeySet`](crate::RemoteKeySet): cached, refreshed, refetched for an unknown
    /// `kid`).
    #[serde(default, alias = "jwks_url", skip_serializing_if = "Option::is_none")]
    pub jwks_url: Option<String>,
    /// Ours: seconds after which the JWKS is fetched again (default 300).
    #[serde(default, alias = "jwks_refresh_interval", skip_serializing_if = "Option::is_none")]
    pub jwks_refresh_interval: Option<u64>,
    /// Ours: the fewest seconds between two fetches for an unknown `kid` or after a failure
    /// (default 30).
    #[serde(default, alias = "jwks_refetch_interval", skip_serializing_if = "Option::is_none")]
    pub jwks_refetch_interval: Option<u64>,
}

fn default_parameter() -> String {
    "Authorization".to_owned()
}

/// `algorithms`, each a signing algorithm's name.
fn parse_algorithms(names: &[String]) -> Result<Vec<crate::Algorithm>, ConfigError> {
    let mut algs = Vec::with_capacity(names.len());
    for (i, name) in names.iter().enumerate() {
        algs.push(parse_alg(name).ok_or_else(|| {
            ConfigError::new(format!("algorithms[{i}]"), format!("{name:?} is not a signing algorithm"))
        })?);
    }
    Ok(algs)
}

fn default_caller_claim() -> String {
    "sub".to_owned()
}

/// The most claim parameters one plug-in forwards.
const MAX_CLAIM_PARAMETERS: usize = 32;

impl JwtAuthConfig {
    /// A configuration reading `Authorization` with these keys and nothing else set.
    pub fn new(keys: Value) -> Self {
        Self {
            parameter: default_parameter(),
            parameter_location: TokenPlace::Header,
            prevent_jti_replay: false,
            bypass_empty_token: false,
            ignore_expiration_check: false,
            claim_parameters: Vec::new(),
            jwk: Some(keys),
            jwks: None,
            leeway: 0,
            caller_claim: default_caller_claim(),
            algorithms: None,
            jwks_url: None,
            jwks_refresh_interval: None,
            jwks_refetch_interval: None,
        }
    }

    /// The plug-in's text, YAML or JSON. Unknown fields are refused: a misspelt
    /// `ignoreExpirationCheck` would otherwise silently check nothing different. Errors name
    /// the field (`claimParameters[1].location`).
    pub fn from_plugin(text: &str) -> Result<Self, ConfigError> {
        let de = serde_norway::Deserializer::from_str(text);
        let config: Self = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let path = if path == "." { String::new() } else { path };
            let message = e.into_inner().to_string();
            let message = match message.split_once(": ") {
                Some((head, rest)) if !path.is_empty() && path.starts_with(head) => rest.to_owned(),
                _ => message,
            };
            ConfigError::new(path, message)
        })?;
        config.validate()?;
        Ok(config)
    }

    /// Checks what serde cannot: the keys, the names, the algorithms.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.key_source()?;
        self.validate_without_keys()
    }

    /// [`validate`](Self::validate) but for the keys, for a configuration whose keys come
    /// from elsewhere (a JWKS URL).
    pub fn validate_without_keys(&self) -> Result<(), ConfigError> {
        self.location()?;
        if self.caller_claim.is_empty() {
            return Err(ConfigError::new("callerClaim", "expected a claim name"));
        }
        if self.claim_parameters.len() > MAX_CLAIM_PARAMETERS {
            return Err(ConfigError::new("claimParameters", format!("at most {MAX_CLAIM_PARAMETERS} entries")));
        }
        for (i, p) in self.claim_parameters.iter().enumerate() {
            let at = |f: &str| format!("claimParameters[{i}].{f}");
            if p.claim_name.is_empty() {
                return Err(ConfigError::new(at("claimName"), "expected a claim name"));
            }
            if p.parameter_name.is_empty() || p.parameter_name.len() > 128 {
                return Err(ConfigError::new(at("parameterName"), "expected 1 to 128 characters"));
            }
            if p.location == ClaimPlace::Header {
                let name = HeaderName::from_bytes(p.parameter_name.as_bytes())
                    .map_err(|_| ConfigError::new(at("parameterName"), "not a valid header name"))?;
                if crate::forward::is_framing(&name) || name == self.parameter.to_ascii_lowercase().as_str() {
                    return Err(ConfigError::new(at("parameterName"), format!("{name} cannot carry a claim")));
                }
            }
            if let Some(j) = self.claim_parameters[..i].iter().position(|q| {
                q.location == p.location && crate::forward::same_name(p.location, &q.parameter_name, &p.parameter_name)
            }) {
                return Err(ConfigError::new(
                    at("parameterName"),
                    format!("{} is already claimParameters[{j}]'s", p.parameter_name),
                ));
            }
        }
        Ok(())
    }

    /// The verification keys: `jwk` or `jwks` (one of them), narrowed to `algorithms`.
    pub fn keys(&self) -> Result<KeySet, ConfigError> {
        let (field, value) = match (&self.jwk, &self.jwks) {
            (Some(v), None) => ("jwk", v),
            (None, Some(v)) => ("jwks", v),
            (Some(_), Some(_)) => return Err(ConfigError::new("jwks", "give `jwk` or `jwks`, not both")),
            (None, None) => return Err(ConfigError::new("jwk", "missing: expected a JWK or a JWK set")),
        };
        let keys = KeySet::from_jwk_set(value).map_err(|e| e.within(field))?;
        match &self.algorithms {
            None => Ok(keys),
            Some(names) => keys.restrict_to(&parse_algorithms(names)?).map_err(|e| e.within("algorithms")),
        }
    }

    /// Where the keys come from: `jwksUrl` (a [`RemoteKeySet`](crate::RemoteKeySet), narrowed
    /// to `algorithms`), else [`keys`](Self::keys). Keys in both places are refused.
    pub fn key_source(&self) -> Result<KeySource, ConfigError> {
        let Some(url) = &self.jwks_url else {
            return Ok(KeySource::fixed(self.keys()?));
        };
        if self.jwk.is_some() || self.jwks.is_some() {
            return Err(ConfigError::new("jwksUrl", "give keys by `jwk` / `jwks` or by `jwksUrl`, not both"));
        }
        let mut remote = crate::RemoteKeySet::new(url).map_err(|e| ConfigError::new("jwksUrl", e.problem))?;
        if let Some(secs) = self.jwks_refresh_interval {
            if secs == 0 {
                return Err(ConfigError::new("jwksRefreshInterval", "expected a positive number of seconds"));
            }
            remote = remote.refresh_interval(Duration::from_secs(secs));
        }
        if let Some(secs) = self.jwks_refetch_interval {
            remote = remote.refetch_interval(Duration::from_secs(secs));
        }
        if let Some(names) = &self.algorithms {
            remote = remote.algorithms(&parse_algorithms(names)?);
        }
        Ok(KeySource::remote(remote))
    }

    /// Where the token is read.
    pub fn location(&self) -> Result<TokenLocation, ConfigError> {
        if self.parameter.is_empty() {
            return Err(ConfigError::new("parameter", "expected a name"));
        }
        Ok(match self.parameter_location {
            TokenPlace::Header => TokenLocation::Header(
                HeaderName::from_bytes(self.parameter.as_bytes())
                    .map_err(|_| ConfigError::new("parameter", "not a valid header name"))?,
            ),
            TokenPlace::Query => TokenLocation::Query(self.parameter.clone()),
            TokenPlace::Cookie => TokenLocation::Cookie(self.parameter.clone()),
        })
    }

    /// The leeway as a duration.
    pub fn leeway(&self) -> Duration {
        Duration::from_secs(self.leeway)
    }
}
