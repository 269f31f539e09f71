//! [`ConfigError`]: why a policy's configuration was refused when its layer was built.

use std::fmt;

/// Why a configuration is invalid: the field, in the configuration's own spelling, and what
/// was expected. Every policy refuses bad configuration with it when its layer is built,
/// never at request time.
///
/// ```
/// use tollgate_core::ConfigError;
///
/// let e = ConfigError::new("strategies[2].name", "expected 1 to 50 characters");
/// assert_eq!(e.to_string(), "strategies[2].name: expected 1 to 50 characters");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct ConfigError {
    /// Path to the offending field (`api_rate_limit`, `strategies[2].name`, `allowOrigins[1]`).
    pub field: String,
    /// What is wrong, and what was expected.
    pub problem: String,
}

impl ConfigError {
    /// The error for `field`.
    pub fn new(field: impl Into<String>, problem: impl fmt::Display) -> Self {
        Self { field: field.into(), problem: problem.to_string() }
    }

    /// The same error with its field placed under `parent` (`apis[2]` + `cors.max_age`).
    pub fn within(mut self, parent: impl fmt::Display) -> Self {
        self.field = format!("{parent}.{}", self.field);
        self
    }
}
