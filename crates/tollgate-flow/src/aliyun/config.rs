//! Aliyun's flow-control configuration in its two spellings: the `trafficControl` plug-in's
//! camelCase YAML or JSON, and the OpenAPI's PascalCase fields (`CreateTrafficControl`,
//! `AddTrafficSpecialControl`). Both read into one [`AliyunFlowControlConfig`]; building it
//! names fields as the spelling it was written in.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

use crate::config::WindowUnit;

/// Aliyun API Gateway's flow control: an API tier, a user tier and an app tier, with special
/// users and apps. It reads either spelling, never both at once:
///
/// - the `trafficControl` plug-in (basic template), camelCase, as YAML or JSON: `unit`,
///   `apiDefault`, `userDefault`, `appDefault`, `controlMode`, `blockingMode`,
///   `specials: [{type: APP|USER, policies: [{key, value}]}]`;
/// - the OpenAPI's PascalCase fields: `Unit`, `ApiDefault`, `UserDefault`, `AppDefault`,
///   `SpecialControls: [{SpecialType, SpecialKey, TrafficValue}]`.
///
/// `unit` and `apiDefault` are required (as the OpenAPI requires them); the rest is optional.
/// `statusCode` / `StatusCode` is ours: the status of a refusal in the Aliyun style.
///
/// ```
/// use tollgate_flow::{AliyunFlowControlConfig, AliyunForm};
///
/// // the CreatePlugin example, as YAML
/// let plugin: AliyunFlowControlConfig = serde_norway::from_str("
/// unit: SECOND
/// apiDefault: 1000
/// userDefault: 30
/// appDefault: 30
/// specials:
///   - type: \"APP\"
///     policies:
///       - key: 10123123
///         value: 10
/// ").unwrap();
/// assert_eq!((plugin.form, plugin.api_default), (AliyunForm::Plugin, 1000));
/// assert_eq!(plugin.specials[0].policies[0].key, "10123123");
///
/// let openapi: AliyunFlowControlConfig =
///     serde_json::from_str(r#"{"Unit": "MINUTE", "ApiDefault": 100, "AppDefault": 10}"#).unwrap();
/// assert_eq!(openapi.form, AliyunForm::OpenApi);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "RawAliyun")]
pub struct AliyunFlowControlConfig {
    /// The spelling the configuration was written in (errors name its fields).
    pub form: AliyunForm,
    /// `SECOND`, `MINUTE`, `HOUR` or `DAY` (`SENCOND`, one doc version's misspelling, too).
    pub unit: AliyunUnit,
    /// Requests per unit to the API, at most 100,000,000.
    pub api_default: u64,
    /// Per user (the account owning the calling app), at most `apiDefault`.
    pub user_default: Option<u64>,
    /// Per app, at most `userDefault` (or `apiDefault`).
    pub app_default: Option<u64>,
    /// `FIX_WINDOW`, or absent for the unit's default (plug-in form only).
    pub control_mode: Option<String>,
    /// `QUICK_RETURN`, or absent: the same, since queueing is not offered (plug-in form only).
    pub blocking_mode: Option<String>,
    /// The plug-in's special apps and users, in groups by type.
    pub specials: Vec<AliyunSpecials>,
    /// The OpenAPI's special controls, one each.
    pub special_controls: Vec<AliyunSpecial>,
    /// The status of a refusal in the Aliyun API Gateway style (ours; 403 when absent).
    pub status_code: Option<u16>,
}

/// Which spelling an [`AliyunFlowControlConfig`] was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AliyunForm {
    /// The `trafficControl` plug-in's camelCase.
    Plugin,
    /// The OpenAPI's PascalCase.
    OpenApi,
}

impl AliyunFlowControlConfig {
    /// A field's name as this configuration spells it.
    pub(crate) fn field(&self, plugin: &'static str, openapi: &'static str) -> &'static str {
        match self.form {
            AliyunForm::Plugin => plugin,
            AliyunForm::OpenApi => openapi,
        }
    }
}

/// Aliyun's `unit` (`TrafficControlUnit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum AliyunUnit {
    /// Per second.
    #[serde(alias = "SENCOND")]
    Second,
    /// Per minute.
    Minute,
    /// Per hour.
    Hour,
    /// Per day.
    Day,
}

impl AliyunUnit {
    pub(crate) fn window(self) -> Duration {
        Duration::from_secs(
            match self {
                Self::Second => WindowUnit::Second,
                Self::Minute => WindowUnit::Minute,
                Self::Hour => WindowUnit::Hour,
                Self::Day => WindowUnit::Day,
            }
            .seconds(),
        )
    }
}

/// A group of the plug-in's `specials`: a type and its policies.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AliyunSpecials {
    /// `APP` or `USER` (checked when the policy is built, naming the field).
    #[serde(rename = "type")]
    pub kind: String,
    /// Each special app or user with its limit.
    pub policies: Vec<AliyunPolicy>,
}

/// One special of the plug-in: an app id (type `APP`) or an account id (type `USER`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AliyunPolicy {
    /// The AppId or the account id. YAML reads `key: 10123123` as a number: it is taken as
    /// its decimal digits (quote a key with leading zeros).
    #[serde(deserialize_with = "string_or_integer")]
    pub key: String,
    /// Its limit per unit, at most `apiDefault`.
    pub value: u64,
}

/// An OpenAPI special control.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct AliyunSpecial {
    /// `APP` or `USER`.
    pub special_type: AliyunSpecialType,
    /// The app id / app key, or the user id.
    #[serde(deserialize_with = "string_or_integer")]
    pub special_key: String,
    /// Its limit per unit, at most `ApiDefault`.
    pub traffic_value: u64,
}

/// What an OpenAPI special control names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum AliyunSpecialType {
    /// An app.
    App,
    /// A user.
    User,
}

/// Both spellings' fields, each optional, to tell which one was written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(non_snake_case, reason = "the fields are the configuration's own spellings")]
struct RawAliyun {
    unit: Option<AliyunUnit>,
    apiDefault: Option<u64>,
    userDefault: Option<u64>,
    appDefault: Option<u64>,
    controlMode: Option<String>,
    blockingMode: Option<String>,
    specials: Option<Vec<AliyunSpecials>>,
    statusCode: Option<u16>,
    Unit: Option<AliyunUnit>,
    ApiDefault: Option<u64>,
    UserDefault: Option<u64>,
    AppDefault: Option<u64>,
    SpecialControls: Option<Vec<AliyunSpecial>>,
    StatusCode: Option<u16>,
}

impl TryFrom<RawAliyun> for AliyunFlowControlConfig {
    type Error = String;

    fn try_from(raw: RawAliyun) -> Result<Self, String> {
        let plugin = raw.unit.is_some()
            || raw.apiDefault.is_some()
            || raw.userDefault.is_some()
            || raw.appDefault.is_some()
            || raw.controlMode.is_some()
            || raw.blockingMode.is_some()
            || raw.specials.is_some()
            || raw.statusCode.is_some();
        let openapi = raw.Unit.is_some()
            || raw.ApiDefault.is_some()
            || raw.UserDefault.is_some()
            || raw.AppDefault.is_some()
            || raw.SpecialControls.is_some()
            || raw.StatusCode.is_some();
        if plugin && openapi {
            return Err("write either the plug-in's camelCase fields (unit, apiDefault, ...) or the \
                        OpenAPI's PascalCase ones (Unit, ApiDefault, ...), not both"
                .into());
        }
        let missing = |field: &str| format!("missing field `{field}`");
        if openapi {
            return Ok(Self {
                form: AliyunForm::OpenApi,
                unit: raw.Unit.ok_or_else(|| missing("Unit"))?,
                api_default: raw.ApiDefault.ok_or_else(|| missing("ApiDefault"))?,
                user_default: raw.UserDefault,
                app_default: raw.AppDefault,
                control_mode: None,
                blocking_mode: None,
                specials: Vec::new(),
                special_controls: raw.SpecialControls.unwrap_or_default(),
                status_code: raw.StatusCode,
            });
        }
        Ok(Self {
            form: AliyunForm::Plugin,
            unit: raw.unit.ok_or_else(|| missing("unit"))?,
            api_default: raw.apiDefault.ok_or_else(|| missing("apiDefault"))?,
            user_default: raw.userDefault,
            app_default: raw.appDefault,
            control_mode: raw.controlMode,
            blocking_mode: raw.blockingMode,
            specials: raw.specials.unwrap_or_default(),
            special_controls: Vec::new(),
            status_code: raw.statusCode,
        })
    }
}

/// A string, or a non-negative integer taken as its decimal digits (YAML reads a numeric
/// AppId as a number).
fn string_or_integer<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    struct V;
    impl Visitor<'_> for V {
        type Value = String;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an id: a string or a non-negative integer")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
            Ok(v.to_owned())
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
            u64::try_from(v).map(|v| v.to_string()).map_err(|_| E::custom(format!("expected an id, got {v}")))
        }
    }
    d.deserialize_any(V)
}
