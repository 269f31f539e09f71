//! The declarative configuration: JSON, YAML or TOML read into a [`Gateway`], every error
//! naming the file, the path to the field and what was expected.
//!
//! Two steps: `read` turns the text into its raw shape (one struct per block, the policy
//! crates' own configuration types where they have one), with the field path of any error;
//! `build` turns that shape into layers, checking what serde cannot (a window past a day,
//! a replay guard with nothing to read). A block whose cargo feature is off is read only to
//! be refused, naming the feature.

mod blocks;
mod build;
mod carry;
mod plugins;
mod read;

use std::path::Path;
use std::sync::Arc;

pub use tollgate_core::ConfigError;

use super::builder::Gateway;
pub(crate) use carry::{Carry, Kept};

/// The format of a configuration text. [`Gateway::from_file`] picks it from the file's
/// extension: `.json`, `.yaml` / `.yml`, `.toml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Format {
    /// JSON.
    Json,
    /// YAML (feature `yaml`, read with `serde_norway`).
    Yaml,
    /// TOML (feature `toml`).
    Toml,
}

impl Format {
    /// The format a file name's extension names, if any.
    pub fn from_path(path: &Path) -> Option<Self> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "json" => Some(Self::Json),
            "yaml" | "yml" => Some(Self::Yaml),
            "toml" => Some(Self::Toml),
            _ => None,
        }
    }
}

impl Gateway {
    /// Reads a gateway from a configuration text (see [the module docs](crate::gateway) for
    /// its shape). Requests no API matches are refused (404) unless it says `unmatched: pass`.
    ///
    /// An error names the path to the field, such as
    /// `apis[2].basic_flow_control.api_rate_limit`, and what was expected:
    ///
    /// ```
    /// use tollgate::gateway::{Format, Gateway};
    ///
    /// let err = Gateway::from_config(r#"{"apis": [{"path": "/", "basic_flow_control":
    ///     {"expire_type": "minute", "api_rate_limit": 0}}]}"#, Format::Json).unwrap_err();
    /// assert_eq!(err.field, "apis[0].basic_flow_control.api_rate_limit");
    /// assert!(err.to_string().starts_with("apis[0].basic_flow_control.api_rate_limit: expected a positive integer"));
    /// ```
    ///
    /// The same in a plug-in envelope names the path into its data:
    ///
    /// ```
    /// use tollgate::gateway::{Format, Gateway};
    ///
    /// let err = Gateway::from_config(r#"{"apis": [{"path": "/", "plugins": [{"PluginType": "TrafficControl",
    ///     "PluginData": "{\"expire_type\": \"minute\", \"api_rate_limit\": 0}"}]}]}"#, Format::Json).unwrap_err();
    /// assert_eq!(err.field, "apis[0].plugins[0].PluginData.api_rate_limit");
    ///
    /// let err = Gateway::from_config(r#"{"apis": [{"path": "/", "plugins": [{"PluginType": "CustomReq",
    ///     "PluginData": "{}"}]}]}"#, Format::Json).unwrap_err();
    /// assert_eq!(err.field, "apis[0].plugins[0].PluginType");
    /// ```
    pub fn from_config(text: &str, format: Format) -> Result<Self, ConfigError> {
        Self::load(text, format, None).map(|(gateway, _)| gateway)
    }

    /// Reads a gateway from a file, the format named by its extension (`.json`, `.yaml`,
    /// `.yml`, `.toml`). Errors name the file.
    ///
    /// Such a gateway can be reloaded from its file while it serves: see
    /// [`GatewayLayer::reload_handle`](super::GatewayLayer::reload_handle).
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        Self::load_file(path.as_ref(), None).map(|(gateway, _)| gateway)
    }

    /// [`from_config`](Self::from_config), taking the stores of `previous` whose blocks
    /// are unchanged (see `carry`); also says what it kept.
    pub(crate) fn load(text: &str, format: Format, previous: Option<&Carry>) -> Result<(Self, Kept), ConfigError> {
        let raw = read::parse(text, format)?;
        let tree = carry::tree(text, format);
        let keeper = carry::Keeper::new(tree.as_ref(), previous);
        let mut gateway = build::gateway(raw, &keeper)?;
        let (carry, kept) = keeper.finish();
        gateway.carry = Arc::new(carry);
        Ok((gateway, kept))
    }

    /// [`from_file`](Self::from_file), taking the stores of `previous` whose blocks are
    /// unchanged: the same errors, naming the file.
    pub(crate) fn load_file(path: &Path, previous: Option<&Carry>) -> Result<(Self, Kept), ConfigError> {
        let in_file = |e: ConfigError| e.in_file(path);
        let format = Format::from_path(path)
            .ok_or_else(|| in_file(ConfigError::new("", "expected a .json, .yaml, .yml or .toml file")))?;
        let text = std::fs::read_to_string(path).map_err(|e| in_file(ConfigError::new("", e)))?;
        let (mut gateway, kept) = Self::load(&text, format, previous).map_err(in_file)?;
        gateway.source = Some(path.to_owned());
        Ok((gateway, kept))
    }
}
