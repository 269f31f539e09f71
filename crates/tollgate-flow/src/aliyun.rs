//! Aliyun's flow control: API, user and app tiers with special users and apps.

use tollgate_core::{Caller, RateQuota, Rejection};

use crate::config::{AliyunFlowControlConfig, AliyunSpecialType, ConfigError, Enforcement};
use crate::policy::{Check, Checks, FlowPolicy, FlowRequest, Keys, Tier};

/// The largest `ApiDefault` Aliyun accepts.
pub const MAX_API_DEFAULT: u64 = 100_000_000;

/// The compiled limits of an Aliyun flow-control policy. The API tier always applies; the
/// user tier per [`Caller::user`] and the app tier per [`Caller::app_id`], each only when
/// the request has a caller (and, for the user tier, a known user). A special user or app
/// replaces the tier's default.
#[derive(Debug, Clone)]
pub struct AliyunLimits {
    keys: Keys,
    api: RateQuota,
    user: Option<RateQuota>,
    app: Option<RateQuota>,
    special_users: Vec<(String, RateQuota)>,
    special_apps: Vec<(String, RateQuota)>,
}

impl AliyunLimits {
    /// Compiles the policy, refusing what Aliyun refuses: `InvalidApiDefault` above
    /// 100,000,000, `InvalidUserDefault` above the API's, `InvalidAppDefault` above the
    /// user's (or the API's).
    pub fn from_config(config: &AliyunFlowControlConfig) -> Result<Self, ConfigError> {
        let window = config.unit.window();
        let how =
            Enforcement { per_second: config.unit == crate::config::AliyunUnit::Second, ..Enforcement::default() };
        if config.api_default > MAX_API_DEFAULT {
            return Err(ConfigError::new("ApiDefault", format!("InvalidApiDefault: at most {MAX_API_DEFAULT}")));
        }
        let api = how.quota("ApiDefault", config.api_default, window)?;
        if let Some(user) = config.user_default.filter(|u| *u > config.api_default) {
            return Err(ConfigError::new("UserDefault", format!("InvalidUserDefault: {user} exceeds ApiDefault")));
        }
        let ceiling = config.user_default.unwrap_or(config.api_default);
        if let Some(app) = config.app_default.filter(|a| *a > ceiling) {
            return Err(ConfigError::new("AppDefault", format!("InvalidAppDefault: {app} exceeds UserDefault")));
        }
        let user = config.user_default.map(|l| how.quota("UserDefault", l, window)).transpose()?;
        let app = config.app_default.map(|l| how.quota("AppDefault", l, window)).transpose()?;
        let (mut special_users, mut special_apps) = (Vec::new(), Vec::new());
        for (i, special) in config.special_controls.iter().enumerate() {
            let field = format!("SpecialControls[{i}]");
            if special.special_key.trim().is_empty() {
                return Err(ConfigError::new(format!("{field}.SpecialKey"), "expected a user or app id"));
            }
            let quota = how.quota(&format!("{field}.TrafficValue"), special.traffic_value, window)?;
            let list = match special.special_type {
                AliyunSpecialType::User => &mut special_users,
                AliyunSpecialType::App => &mut special_apps,
            };
            if list.iter().any(|(k, _): &(String, RateQuota)| *k == special.special_key) {
                return Err(ConfigError::new(format!("{field}.SpecialKey"), "listed twice"));
            }
            list.push((special.special_key.clone(), quota));
        }
        Ok(Self { keys: Keys::new("api", "api".into()), api, user, app, special_users, special_apps })
    }

    /// Names the API in store keys, so several APIs can share one store.
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.keys = Keys::new("api", name.into());
        self
    }
}

impl FlowPolicy for AliyunLimits {
    fn checks<'a>(&'a self, request: &FlowRequest<'a>, out: &mut Checks<'a>) -> Result<(), Rejection> {
        out.push(Check { key: self.keys.whole(), quota: self.api, tier: Tier::Api });
        let Some(caller) = Caller::from_extensions(request.extensions) else { return Ok(()) };
        if let Some(user) = caller.user() {
            let special = self.special_users.iter().find(|(id, _)| id == user).map(|(_, q)| *q);
            if let Some(quota) = special.or(self.user) {
                out.push(Check { key: self.keys.user(user), quota, tier: Tier::User });
            }
        }
        let special = self.special_apps.iter().find(|(id, _)| caller.is(id)).map(|(_, q)| *q);
        if let Some(quota) = special.or(self.app) {
            out.push(Check { key: self.keys.app(caller.app_id()), quota, tier: Tier::App });
        }
        Ok(())
    }
}
