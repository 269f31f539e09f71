//! Aliyun's flow control: API, user and app tiers with special users and apps.

mod config;

use http::StatusCode;
use tollgate_core::{Caller, RateQuota, Rejection};

pub use config::{
    AliyunFlowControlConfig, AliyunForm, AliyunPolicy, AliyunSpecial, AliyunSpecialType, AliyunSpecials, AliyunUnit,
};

use crate::config::{AlgorithmChoice, ConfigError, Enforcement};
use crate::policy::{Check, Checks, FlowPolicy, FlowRequest, Keys, Tier, tier_limits};

/// The largest `ApiDefault` Aliyun accepts.
pub const MAX_API_DEFAULT: u64 = 100_000_000;

/// The compiled limits of an Aliyun flow-control policy. The API tier always applies; the
/// user tier per [`Caller::user`] and the app tier per [`Caller::app_id`], each only when
/// the request has a caller (and, for the user tier, a known user).
///
/// A special app or user gets its own limit, and the base app and user limits no longer
/// apply to it, as Aliyun documents ("流控策略基础的APP流量限制和用户流量限制对该 APP 或用户失效"):
/// a special app's requests count against the API and the special app's own limit (and its
/// user's special limit, when the user is special too); a special user's apps against the
/// API and the special user's limit (and a special app's own). The API limit always applies.
#[derive(Debug, Clone)]
pub struct AliyunLimits {
    keys: Keys,
    api: RateQuota,
    user: Option<RateQuota>,
    app: Option<RateQuota>,
    special_users: Vec<(String, RateQuota)>,
    special_apps: Vec<(String, RateQuota)>,
    status: Option<StatusCode>,
}

impl AliyunLimits {
    /// Compiles the policy, refusing what Aliyun refuses (`InvalidApiDefault` above
    /// 100,000,000, `InvalidUserDefault` above the API's, `InvalidAppDefault` above the
    /// user's or the API's, a special above the API's) and what is not offered (a
    /// `controlMode` other than `FIX_WINDOW`, a `blockingMode` other than `QUICK_RETURN`).
    /// Errors name the field as the configuration spells it. A special listed twice takes
    /// its later value, as Aliyun's `AddTrafficSpecialControl` overwrites one.
    pub fn from_config(config: &AliyunFlowControlConfig) -> Result<Self, ConfigError> {
        let window = config.unit.window();
        let algorithm = match config.control_mode.as_deref().map(str::trim) {
            None => None,
            Some("FIX_WINDOW") => Some(AlgorithmChoice::FixedWindow),
            Some(other) => {
                return Err(ConfigError::new(
                    "controlMode",
                    format!(
                        "expected FIX_WINDOW (a fixed window), or no controlMode for the unit's default \
                         (a token bucket for SECOND, a fixed window otherwise); got {other:?}"
                    ),
                ));
            }
        };
        if let Some(mode) = config.blocking_mode.as_deref().filter(|m| m.trim() != "QUICK_RETURN") {
            return Err(ConfigError::new(
                "blockingMode",
                format!(
                    "expected QUICK_RETURN: a request over the limit is refused at once; queueing it \
                     for the next token is not offered; got {mode:?}"
                ),
            ));
        }
        let how = Enforcement { algorithm, per_second: config.unit == AliyunUnit::Second, ..Enforcement::default() };
        let status = refusal_status(config)?;
        let api_field = config.field("apiDefault", "ApiDefault");
        if config.api_default > MAX_API_DEFAULT {
            return Err(ConfigError::new(api_field, format!("InvalidApiDefault: at most {MAX_API_DEFAULT}")));
        }
        let api = how.quota(api_field, config.api_default, window)?;
        let user_field = config.field("userDefault", "UserDefault");
        if let Some(user) = config.user_default.filter(|u| *u > config.api_default) {
            return Err(ConfigError::new(user_field, format!("InvalidUserDefault: {user} exceeds {api_field}")));
        }
        let app_field = config.field("appDefault", "AppDefault");
        let ceiling = config.user_default.unwrap_or(config.api_default);
        if let Some(app) = config.app_default.filter(|a| *a > ceiling) {
            let above = if config.user_default.is_some() { user_field } else { api_field };
            return Err(ConfigError::new(app_field, format!("InvalidAppDefault: {app} exceeds {above}")));
        }
        let user = config.user_default.map(|l| how.quota(user_field, l, window)).transpose()?;
        let app = config.app_default.map(|l| how.quota(app_field, l, window)).transpose()?;
        let mut limits = Self {
            keys: Keys::new("api", "api".into()),
            api,
            user,
            app,
            special_users: Vec::new(),
            special_apps: Vec::new(),
            status,
        };
        for (i, group) in config.specials.iter().enumerate() {
            let kind = match group.kind.trim() {
                "APP" => AliyunSpecialType::App,
                "USER" => AliyunSpecialType::User,
                other => {
                    return Err(ConfigError::new(
                        format!("specials[{i}].type"),
                        format!("expected APP or USER, got {other:?}"),
                    ));
                }
            };
            for (j, policy) in group.policies.iter().enumerate() {
                let field = format!("specials[{i}].policies[{j}]");
                let special = Special { kind, key: &policy.key, value: policy.value };
                limits.add_special(&how, config, special, &field, ("key", "value"))?;
            }
        }
        for (i, special) in config.special_controls.iter().enumerate() {
            let field = format!("SpecialControls[{i}]");
            let special =
                Special { kind: special.special_type, key: &special.special_key, value: special.traffic_value };
            limits.add_special(&how, config, special, &field, ("SpecialKey", "TrafficValue"))?;
        }
        Ok(limits)
    }

    /// Adds one special, replacing an earlier one for the same app or user; `names` are the
    /// key's and the value's field names under `field`.
    fn add_special(
        &mut self,
        how: &Enforcement,
        config: &AliyunFlowControlConfig,
        special: Special<'_>,
        field: &str,
        names: (&str, &str),
    ) -> Result<(), ConfigError> {
        let key = special.key.trim();
        if key.is_empty() {
            return Err(ConfigError::new(format!("{field}.{}", names.0), "expected an app or user id"));
        }
        let value_field = format!("{field}.{}", names.1);
        if special.value > config.api_default {
            return Err(ConfigError::new(
                value_field,
                format!(
                    "a special limit may not exceed {} ({}), got {}",
                    config.field("apiDefault", "ApiDefault"),
                    config.api_default,
                    special.value
                ),
            ));
        }
        let quota = how.quota(&value_field, special.value, config.unit.window())?;
        let list = match special.kind {
            AliyunSpecialType::User => &mut self.special_users,
            AliyunSpecialType::App => &mut self.special_apps,
        };
        match list.iter_mut().find(|(k, _)| k == key) {
            Some(earlier) => earlier.1 = quota,
            None => list.push((key.to_owned(), quota)),
        }
        Ok(())
    }

    /// Names the API in store keys, so several APIs can share one store.
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.keys = Keys::new("api", name.into());
        self
    }

    /// The refusal status the configuration names (`statusCode`), if it names one.
    pub fn status(&self) -> Option<StatusCode> {
        self.status
    }

    /// The API's limit.
    pub fn api(&self) -> &RateQuota {
        &self.api
    }
}

/// The configuration's `statusCode`, if it names one: a client or server error.
fn refusal_status(config: &AliyunFlowControlConfig) -> Result<Option<StatusCode>, ConfigError> {
    let Some(code) = config.status_code else { return Ok(None) };
    match StatusCode::from_u16(code) {
        Ok(status) if status.is_client_error() || status.is_server_error() => Ok(Some(status)),
        _ => Err(ConfigError::new(
            config.field("statusCode", "StatusCode"),
            format!("expected a status from 400 to 599, got {code}"),
        )),
    }
}

/// A special of either spelling.
struct Special<'a> {
    kind: AliyunSpecialType,
    key: &'a str,
    value: u64,
}

impl FlowPolicy for AliyunLimits {
    fn checks<'a>(&'a self, request: &FlowRequest<'a>, out: &mut Checks<'a>) -> Result<(), Rejection> {
        out.push(Check { key: self.keys.whole(), quota: self.api, tier: Tier::Api });
        let Some(caller) = Caller::from_extensions(request.extensions) else { return Ok(()) };
        let special_app = self.special_apps.iter().find(|(id, _)| caller.is(id)).map(|(_, q)| *q);
        let user =
            caller.user().map(|user| (user, self.special_users.iter().find(|(id, _)| id == user).map(|(_, q)| *q)));
        let special_user = user.and_then(|(_, q)| q);
        // a special's own limit replaces both base limits for it
        let base = special_app.is_none() && special_user.is_none();
        if let Some((user, special)) = user {
            if let Some(quota) = special.or(self.user.filter(|_| base)) {
                out.push(Check { key: self.keys.user(user), quota, tier: Tier::User });
            }
        }
        if let Some(quota) = special_app.or(self.app.filter(|_| base)) {
            out.push(Check { key: self.keys.app(caller.app_id()), quota, tier: Tier::App });
        }
        Ok(())
    }

    fn limits(&self) -> Vec<u32> {
        let specials = self.special_users.iter().chain(&self.special_apps).map(|(_, q)| q);
        tier_limits([Some(&self.api), self.user.as_ref(), self.app.as_ref()], specials)
    }
}
