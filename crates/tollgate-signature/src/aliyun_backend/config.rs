//! The plug-in's configuration (`type: APIGW_BACKEND`, `key`, `secret`) and the verifier's
//! list of them, checked when a layer is built.

use std::fmt;

use http::HeaderValue;
use serde::Deserialize;
use tollgate_core::ConfigError;

use crate::secret::Secret;

/// The one `type` Aliyun documents for the plug-in.
pub const APIGW_BACKEND: &str = "APIGW_BACKEND";

/// Aliyun's `backendSignature` plug-in, field for field:
///
/// ```yaml
/// ---
/// type: APIGW_BACKEND
/// key: SampleKey
/// secret: SampleSecret
/// ```
///
/// `type` may be left out (it has one value); any other value is refused, since what
/// another type would sign is not documented. `key` travels in a header
/// (`X-Ca-Proxy-Signature-Secret-Key`), so it must be visible ASCII; `secret` must not be
/// empty. The console's own limits on both (6–20 and 6–30 characters, from the ROS
/// `Signature` resource) are not imposed: they may not bind the plug-in, and a backend must
/// verify whatever the gateway was given.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct BackendSignatureConfig {
    /// `APIGW_BACKEND`.
    #[serde(rename = "type", default = "default_type")]
    pub kind: String,
    /// The key's name, sent to the backend so it can look the secret up.
    pub key: String,
    /// The secret.
    pub secret: String,
}

fn default_type() -> String {
    APIGW_BACKEND.to_owned()
}

impl BackendSignatureConfig {
    /// The plug-in for `key` and `secret`.
    pub fn new(key: impl Into<String>, secret: impl Into<String>) -> Self {
        Self { kind: default_type(), key: key.into(), secret: secret.into() }
    }

    /// The key's name as a header value, and the secret; the error names the field.
    pub(crate) fn checked(&self) -> Result<(HeaderValue, Secret), ConfigError> {
        if self.kind != APIGW_BACKEND {
            return Err(ConfigError::new(
                "type",
                format!("{:?} is not a backend signature type: expected {APIGW_BACKEND:?}", self.kind),
            ));
        }
        let visible = !self.key.is_empty() && self.key.bytes().all(|b| b.is_ascii_graphic());
        let key = HeaderValue::from_str(&self.key).ok().filter(|_| visible).ok_or_else(|| {
            ConfigError::new("key", format!("{:?} is not a key name: expected visible ASCII, not empty", self.key))
        })?;
        if self.secret.is_empty() {
            return Err(ConfigError::new("secret", "the secret is empty: anyone could sign with it"));
        }
        Ok((key, Secret::from(self.secret.as_str())))
    }
}

impl fmt::Debug for BackendSignatureConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BackendSignatureConfig")
            .field("type", &self.kind)
            .field("key", &self.key)
            .field("secret", &"***")
            .finish()
    }
}

/// The keys a backend accepts: each one the gateway may sign with, as the plug-in gives it.
/// Several at once, so that a key can be replaced without a request refused: add the
/// replacement, bind it on the gateway, then remove the old one.
///
/// ```json
/// {"keys": [{"key": "SampleKey", "secret": "SampleSecret"}, {"key": "SampleKey2", "secret": "Another1"}]}
/// ```
///
/// A key and its replacement must differ, in name and in secret: the backend looks the
/// secret up by name, and a replacement that keeps the secret rotates nothing.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct BackendKeysConfig {
    /// The keys, each a `backendSignature` plug-in.
    pub keys: Vec<BackendSignatureConfig>,
}

impl BackendKeysConfig {
    /// The keys by name, checked: at least one, each valid, no name or secret twice.
    pub(crate) fn checked(&self) -> Result<Vec<(HeaderValue, Secret)>, ConfigError> {
        if self.keys.is_empty() {
            return Err(ConfigError::new("keys", "no key: every request would be refused"));
        }
        let mut out: Vec<(HeaderValue, Secret)> = Vec::with_capacity(self.keys.len());
        for (i, config) in self.keys.iter().enumerate() {
            let (key, secret) = config.checked().map_err(|e| e.within(format!("keys[{i}]")))?;
            if let Some(j) = self.keys[..i].iter().position(|c| c.key == config.key) {
                return Err(ConfigError::new(
                    format!("keys[{i}].key"),
                    format!("{:?} is keys[{j}]'s name too: a key and its replacement must differ", config.key),
                ));
            }
            if let Some(j) = self.keys[..i].iter().position(|c| c.secret == config.secret) {
                return Err(ConfigError::new(
                    format!("keys[{i}].secret"),
                    format!("the same secret as keys[{j}]: a replacement that keeps the secret rotates nothing"),
                ));
            }
            out.push((key, secret));
        }
        Ok(out)
    }
}
