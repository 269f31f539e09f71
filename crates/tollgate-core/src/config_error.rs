//! [`ConfigError`]: why a configuration was refused when its layer was built.

use std::fmt;
use std::path::{Path, PathBuf};

/// Why a configuration is invalid: where (the file, when it came from one, and the path to
/// the field in the configuration's own spelling) and what was expected. Every policy, and
/// the gateway reading a whole file, refuses bad configuration with it when the layer is
/// built, never at request time.
///
/// ```
/// use tollgate_core::ConfigError;
///
/// let e = ConfigError::new("strategies[2].name", "expected 1 to 50 characters");
/// assert_eq!(e.to_string(), "strategies[2].name: expected 1 to 50 characters");
///
/// // placed under the block that holds it, in the file it was read from
/// let e = e.within("apis[0].param_flow_control").in_file("gateway.yaml");
/// assert_eq!(e.field, "apis[0].param_flow_control.strategies[2].name");
/// assert_eq!(
///     e.to_string(),
///     "gateway.yaml: apis[0].param_flow_control.strategies[2].name: expected 1 to 50 characters",
/// );
///
/// // an error of the text as a whole (a syntax error) names no field
/// assert_eq!(ConfigError::new("", "expected `,` at line 2").to_string(), "expected `,` at line 2");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConfigError {
    /// The file read, if the configuration came from one.
    pub file: Option<PathBuf>,
    /// Path to the offending field (`api_rate_limit`, `strategies[2].name`, `allowOrigins[1]`,
    /// `apis[2].ip_access.blocks`); empty when the text as a whole is at fault.
    pub field: String,
    /// What is wrong, and what was expected (for a bad entry of a list, the entry and its
    /// position among the list's entries).
    pub problem: String,
}

impl ConfigError {
    /// The error for `field` (empty for the configuration as a whole).
    pub fn new(field: impl Into<String>, problem: impl fmt::Display) -> Self {
        Self { file: None, field: field.into(), problem: problem.to_string() }
    }

    /// The same error with its field placed under `parent` (`apis[2]` + `cors.max_age`;
    /// `grants` + `[1].app` is `grants[1].app`).
    pub fn within(mut self, parent: impl fmt::Display) -> Self {
        self.field = match self.field.as_str() {
            "" => parent.to_string(),
            // an entry of a list the parent names: `grants` + `[1].app`
            field if field.starts_with('[') => format!("{parent}{field}"),
            field => format!("{parent}.{field}"),
        };
        self
    }

    /// The same error, saying which file the configuration was read from.
    pub fn in_file(mut self, file: impl AsRef<Path>) -> Self {
        self.file = Some(file.as_ref().to_owned());
        self
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{}: ", file.display())?;
        }
        if !self.field.is_empty() {
            write!(f, "{}: ", self.field)?;
        }
        f.write_str(&self.problem)
    }
}

impl std::error::Error for ConfigError {}
