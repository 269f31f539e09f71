//! The plugin JSON of each flow-control policy, its validation, and what the limits become:
//! windows, algorithms and quotas.

use std::num::NonZeroU32;
use std::time::Duration;

use serde::Deserialize;
use tollgate_core::{Algorithm, RateQuota};
pub use tollgate_core::{ConfigError, WindowUnit};

/// How "N per window" is enforced (`algorithm`); see the crate docs for what each lets
/// through. The default follows Aliyun: GCRA for windows of a second, a fixed calendar
/// window for longer ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlgorithmChoice {
    /// A counter per calendar-aligned window, reset at the boundary.
    FixedWindow,
    /// A token bucket (GCRA): bursts of up to N, then one more every window/N.
    Gcra,
    /// Never more than N in any window-long stretch.
    SlidingWindow,
}

/// How limits of one policy are enforced: the algorithm and, for fixed windows, where a
/// window starts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Enforcement {
    pub(crate) algorithm: Option<AlgorithmChoice>,
    /// Whether the default is GCRA (a window counted in seconds) rather than a fixed window.
    pub(crate) per_second: bool,
    /// UTC offset of fixed-window boundaries (8 hours: days start at Beijing midnight).
    pub(crate) utc_offset: Duration,
}

impl Enforcement {
    /// The quota "`limit` per `window`", `field` naming the limit for errors.
    pub(crate) fn quota(&self, field: &str, limit: u64, window: Duration) -> Result<RateQuota, ConfigError> {
        let limit = u32::try_from(limit).ok().and_then(NonZeroU32::new).ok_or_else(|| {
            ConfigError::new(field, format!("expected a positive integer up to {}, got {limit}", u32::MAX))
        })?;
        let quota = RateQuota::new(limit, window)
            .ok_or_else(|| ConfigError::new(field, "the window must be at least a microsecond"))?;
        let choice = self.algorithm.unwrap_or(if self.per_second {
            AlgorithmChoice::Gcra
        } else {
            AlgorithmChoice::FixedWindow
        });
        Ok(quota.with_algorithm(match choice {
            AlgorithmChoice::FixedWindow => Algorithm::FixedWindow { offset: self.utc_offset },
            AlgorithmChoice::Gcra => Algorithm::Gcra,
            AlgorithmChoice::SlidingWindow => Algorithm::SlidingWindow,
        }))
    }
}

/// Tencent's basic flow-control plugin, field for field.
///
/// ```
/// use tollgate_flow::BasicFlowControlConfig;
///
/// let config: BasicFlowControlConfig = serde_json::from_str(r#"{
///     "expire_type": "hour", "expire": 1,
///     "api_rate_limit": 500, "app_rate_limit": 1, "ip_rate_limit": 2,
///     "spec_app_rate_limits": [{"app_id": "app-3q9l4909", "rate_limit": 10}],
///     "spec_ip_rate_limits":  [{"ip_key": "172.16.0.1", "rate_limit": 10}]
/// }"#).unwrap();
/// assert_eq!(config.api_rate_limit, 500);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicFlowControlConfig {
    /// The window's unit.
    pub expire_type: WindowUnit,
    /// How many units make one window (default 1).
    #[serde(default = "one")]
    pub expire: u64,
    /// All requests to the API together (required, positive).
    pub api_rate_limit: u64,
    /// Each calling app (the authenticated [`Caller`](tollgate_core::Caller)) separately.
    #[serde(default)]
    pub app_rate_limit: Option<u64>,
    /// Each client IP separately.
    #[serde(default)]
    pub ip_rate_limit: Option<u64>,
    /// Apps with their own limit instead of `app_rate_limit` (at most 30).
    #[serde(default)]
    pub spec_app_rate_limits: Vec<SpecialApp>,
    /// IPs with their own limit instead of `ip_rate_limit` (at most 30).
    #[serde(default)]
    pub spec_ip_rate_limits: Vec<SpecialIp>,
    /// How limits are enforced (ours; default: GCRA for a second, a fixed window otherwise).
    #[serde(default)]
    pub algorithm: Option<AlgorithmChoice>,
    /// Hours east of UTC where fixed windows start (ours; 8 starts days at Beijing midnight).
    #[serde(default)]
    pub utc_offset_hours: u8,
    /// The IPv6 prefix length an IPv6 client is limited by, 1 to 128 (ours; default 64: one
    /// host commonly owns a whole /64). Special IPs match their exact address.
    #[serde(default)]
    pub ipv6_prefix: Option<u8>,
}

/// A special app of the basic plugin.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpecialApp {
    /// The app (a [`Caller`](tollgate_core::Caller)'s app id or key id).
    pub app_id: String,
    /// Its limit per window.
    pub rate_limit: u64,
}

/// A special IP of the basic plugin.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpecialIp {
    /// The client IP.
    pub ip_key: String,
    /// Its limit per window.
    pub rate_limit: u64,
}

fn one() -> u64 {
    1
}

/// Tencent's parameter flow-control plugin, field for field.
///
/// ```
/// use tollgate_flow::ParamFlowControlConfig;
///
/// let config: ParamFlowControlConfig = serde_json::from_str(r#"{
///     "default_window": 60, "default_rate_limit": 5,
///     "strategies": [{"name": "a", "strategy_weight": 0,
///                     "parameters": [{"type": "query", "name": "a"}],
///                     "rate_limit": 1, "window": 1, "condition": ""}]
/// }"#).unwrap();
/// assert_eq!(config.strategies[0].name, "a");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParamFlowControlConfig {
    /// The API-level limit's window in seconds; 0 turns the default limit off.
    pub default_window: u64,
    /// The API-level limit per `default_window`.
    #[serde(default)]
    pub default_rate_limit: u64,
    /// 1 to 10 strategies.
    pub strategies: Vec<StrategyConfig>,
    /// How limits are enforced (ours; default: GCRA for a second, a fixed window otherwise).
    #[serde(default)]
    pub algorithm: Option<AlgorithmChoice>,
}

/// One strategy of the parameter plugin.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StrategyConfig {
    /// Unique name, at most 50 characters.
    pub name: String,
    /// 0 to 100, unique; higher is checked first.
    pub strategy_weight: u8,
    /// The rate-key parameter (exactly one).
    pub parameters: Vec<ParameterConfig>,
    /// Limit per `window` for each distinct value of the parameter.
    pub rate_limit: u64,
    /// Window in seconds.
    pub window: u64,
    /// When the strategy applies (see [`Condition`](tollgate_core::Condition)); empty: always.
    #[serde(default)]
    pub condition: String,
}

/// Where a strategy's rate key is read.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParameterConfig {
    /// `header`, `query` or `path`.
    #[serde(rename = "type")]
    pub kind: ParameterKind,
    /// The parameter's name (none for `path`: the key is the whole path).
    #[serde(default)]
    pub name: String,
}

/// Where a rate-key parameter lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ParameterKind {
    /// A request header.
    Header,
    /// A query parameter.
    Query,
    /// The whole request path.
    Path,
}
