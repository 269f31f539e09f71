//! [`TokenClaims`]: the claims of a verified token, for conditions that read them.

use std::borrow::Cow;
use std::sync::Arc;

use http::Extensions;
use serde_json::{Map, Value};

/// The claims of a token a verifier checked (a JWT's payload), put in the request's
/// extensions for what reads them: Aliyun's `Token:NAME` parameters.
///
/// Only a verifier should insert it: a policy reading a claim trusts that the token was
/// checked.
///
/// ```
/// use tollgate_core::TokenClaims;
///
/// let claims = TokenClaims::new(serde_json::json!({"userId": "u1", "level": 3, "admin": true}));
/// assert_eq!(claims.text("userId").as_deref(), Some("u1"));
/// assert_eq!(claims.text("level").as_deref(), Some("3"));
/// assert_eq!(claims.text("admin").as_deref(), Some("true"));
/// assert_eq!(claims.text("missing"), None);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct TokenClaims(Arc<Map<String, Value>>);

impl TokenClaims {
    /// The claims of a token's payload; anything but a JSON object has none.
    pub fn new(payload: Value) -> Self {
        match payload {
            Value::Object(map) => Self(Arc::new(map)),
            _ => Self(Arc::new(Map::new())),
        }
    }

    /// A claim's JSON value.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name)
    }

    /// A claim as text: a string as it is, a number or boolean as written in JSON, an array
    /// or object as its JSON text; `None` when absent or `null`.
    pub fn text(&self, name: &str) -> Option<Cow<'_, str>> {
        match self.0.get(name)? {
            Value::Null => None,
            Value::String(s) => Some(Cow::Borrowed(s)),
            other => Some(Cow::Owned(other.to_string())),
        }
    }

    /// The claims a verifier put in `extensions`.
    pub fn from_extensions(extensions: &Extensions) -> Option<&Self> {
        extensions.get::<Self>()
    }
}
