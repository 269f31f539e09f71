//! One impl of [`Block`] per block type a feature turns on (see `read::block!` for the
//! types of features turned off): how each block of an API's configuration becomes its
//! policy's layers.

#[cfg(feature = "replay")]
use std::time::Duration;

#[allow(unused_imports, reason = "each import is used by the blocks of some features")]
use super::ConfigError;
#[cfg(any(feature = "signature", feature = "replay"))]
use super::build::bounded_window;
#[allow(unused_imports, reason = "each import is used by the blocks of some features")]
use super::build::{Block, Context, header_name, styled};
#[allow(unused_imports, reason = "each import is used by the blocks of some features")]
use super::read::BoolOr;
#[allow(unused_imports, reason = "each import is used by the blocks of some features")]
use crate::gateway::builder::Api;
#[allow(unused_imports, reason = "each import is used by the blocks of some features")]
use tollgate_core::ErrorStyle;

#[cfg(feature = "cors")]
impl Block for super::read::cors::CorsBlock {
    fn add_to(self, api: Api, _: &Context<'_>) -> Result<Api, ConfigError> {
        use super::read::cors::CorsBlock;
        use tollgate_cors::CorsLayer;

        let layer = match self {
            CorsBlock::Switch(true) => CorsLayer::switch(),
            CorsBlock::Switch(false) => CorsLayer::off(),
            // any origin, method and header, without credentials: `*` on every answer to an
            // origin, as the switch, and a browser's preflight answered
            CorsBlock::Enabled => CorsLayer::new().allow_origin(["*"])?.allow_methods(["*"])?.allow_headers(["*"])?,
            CorsBlock::Config(c) => CorsLayer::from_config(&c).map_err(|e| e.within("plugin"))?,
            // the plugin's rules win over the switch, as in `CorsConfig`
            CorsBlock::EnabledWith(p) => CorsLayer::from_plugin(&p)?,
            CorsBlock::Plugin(p) => CorsLayer::from_plugin(&p)?,
        };
        Ok(api.cors(layer))
    }
}

#[cfg(feature = "ip")]
impl Block for tollgate_ip::IpAccessConfig {
    fn add_to(self, api: Api, cx: &Context<'_>) -> Result<Api, ConfigError> {
        let layer =
            styled(tollgate_ip::IpAccessLayer::from_config(&self)?, cx, tollgate_ip::IpAccessLayer::error_style);
        // Entries bound to an app read the `Caller`: they go inside the signature layer.
        Ok(if layer.has_app_entries() { api.app_ip_access(layer) } else { api.ip_access(layer) })
    }
}

#[cfg(feature = "flow")]
impl Block for tollgate_flow::BasicFlowControlConfig {
    fn add_to(self, api: Api, cx: &Context<'_>) -> Result<Api, ConfigError> {
        use tollgate_flow::{BasicLimits, FlowControlLayer};

        // App limits read the `Caller`: they go inside the signature layer.
        let by_app = self.app_rate_limit.is_some() || !self.spec_app_rate_limits.is_empty();
        let limits = BasicLimits::from_config(&self)?.named(&cx.name);
        let layer = FlowControlLayer::with_shared_store(limits, cx.rate_store("basic_flow_control"));
        let layer = styled(layer, cx, FlowControlLayer::error_style);
        Ok(if by_app { api.app_flow(layer) } else { api.flow(layer) })
    }
}

#[cfg(feature = "flow")]
impl Block for tollgate_flow::AliyunFlowControlConfig {
    fn add_to(self, api: Api, cx: &Context<'_>) -> Result<Api, ConfigError> {
        use tollgate_flow::{AliyunLimits, FlowControlLayer};

        let limits = AliyunLimits::from_config(&self)?.named(&cx.name);
        // Aliyun's own style unless the configuration names one
        let style = cx.style.clone().unwrap_or(ErrorStyle::AliyunApiGateway);
        let status = limits.status();
        let layer =
            FlowControlLayer::with_shared_store(limits, cx.rate_store("aliyun_flow_control")).error_style(style);
        Ok(api.app_flow(match status {
            Some(status) => layer.aliyun_status(status),
            None => layer,
        }))
    }
}

#[cfg(feature = "flow")]
impl Block for tollgate_flow::ParamFlowControlConfig {
    fn add_to(self, api: Api, cx: &Context<'_>) -> Result<Api, ConfigError> {
        use tollgate_flow::{FlowControlLayer, ParamLimits};

        let limits = ParamLimits::from_config(&self)?.named(&cx.name);
        let layer = FlowControlLayer::with_shared_store(limits, cx.rate_store("param_flow_control"));
        Ok(api.param_flow(styled(layer, cx, FlowControlLayer::error_style)))
    }
}

#[cfg(feature = "params")]
impl Block for super::read::params::ParamsBlock {
    fn add_to(self, mut api: Api, cx: &Context<'_>) -> Result<Api, ConfigError> {
        use tollgate_params::{ParamInjectionLayer, ParamValidationLayer};

        if let Some(config) = self.validation {
            let layer = ParamValidationLayer::from_config(&config).map_err(|e| e.within("validation"))?;
            api = api.param_validation(styled(layer, cx, ParamValidationLayer::error_style));
        }
        if let Some(config) = self.injection {
            let layer = ParamInjectionLayer::from_config(&config).map_err(|e| e.within("injection"))?;
            api = api.param_injection(styled(layer, cx, ParamInjectionLayer::error_style));
        }
        Ok(api)
    }
}

#[cfg(feature = "access")]
impl Block for super::read::access::AccessBlock {
    fn add_to(self, api: Api, cx: &Context<'_>) -> Result<Api, ConfigError> {
        use super::read::access::AccessBlock;
        use tollgate_access::AccessControlLayer;

        let layer = match self {
            AccessBlock::Config(config) => AccessControlLayer::from_config(&config)?,
            AccessBlock::Text(text) => AccessControlLayer::from_plugin(&text)?,
        };
        // Aliyun's own style unless the configuration names one
        let style = cx.style.clone().unwrap_or(ErrorStyle::AliyunApiGateway);
        let values = tollgate_core::SystemValues::new().set(tollgate_core::SystemParam::ApiName, cx.name.clone());
        Ok(api.access_control(layer.error_style(style).system_values(values)))
    }
}

#[cfg(feature = "access")]
impl Block for Vec<tollgate_access::Grant> {
    fn add_to(self, api: Api, cx: &Context<'_>) -> Result<Api, ConfigError> {
        use tollgate_access::GrantsLayer;

        // the layer names an entry `grants[i]`; here `add` puts it under `grants`
        let layer = GrantsLayer::new(self).map_err(|mut e| {
            e.field = e.field.strip_prefix("grants").unwrap_or(&e.field).to_owned();
            e
        })?;
        // Aliyun's own style unless the configuration names one: grants are Aliyun's
        let style = cx.style.clone().unwrap_or(ErrorStyle::AliyunApiGateway);
        Ok(api.grants(layer.error_style(style)))
    }
}

#[cfg(feature = "token")]
impl Block for super::read::jwt::JwtBlock {
    fn add_to(self, api: Api, cx: &Context<'_>) -> Result<Api, ConfigError> {
        use super::read::jwt::JwtBlock;
        use tollgate_token::TokenLayer;

        let layer = match self {
            JwtBlock::Config(config) => TokenLayer::from_config(&config)?,
            JwtBlock::Text(text) => TokenLayer::from_plugin(&text)?,
        };
        // the gateway's one nonce store: a jti and a signature nonce never meet (tenants differ)
        let layer = match layer.replays_jti() {
            true => layer.jti_store(cx.nonces.clone()),
            false => layer,
        };
        // Aliyun's own style unless the configuration names one
        let style = cx.style.clone().unwrap_or(ErrorStyle::AliyunApiGateway);
        Ok(api.token(layer.error_style(style)))
    }
}

#[cfg(feature = "signature")]
impl Block for tollgate_signature::aliyun_backend::BackendSignatureConfig {
    fn add_to(self, api: Api, cx: &Context<'_>) -> Result<Api, ConfigError> {
        use tollgate_signature::aliyun_backend::BackendSigningLayer;

        // Aliyun's own style unless the configuration names one
        let style = cx.style.clone().unwrap_or(ErrorStyle::AliyunApiGateway);
        Ok(api.backend_signature(BackendSigningLayer::from_config(&self)?.error_style(style)))
    }
}

#[cfg(feature = "error-mapping")]
impl Block for tollgate_error_mapping::ErrorMappingConfig {
    fn add_to(self, api: Api, _: &Context<'_>) -> Result<Api, ConfigError> {
        // no error style: it maps the backend's responses, it refuses nothing
        Ok(api.error_mapping(tollgate_error_mapping::ErrorMappingLayer::from_config(&self)?))
    }
}

#[cfg(feature = "token")]
impl Block for tollgate_token::OpenIdConnectConfig {
    fn add_to(self, api: Api, cx: &Context<'_>) -> Result<Api, ConfigError> {
        let layer = tollgate_token::AliyunOidc::layer(&self)?;
        Ok(api.token(styled(layer, cx, tollgate_token::TokenLayer::error_style)))
    }
}

#[cfg(feature = "token")]
impl Block for tollgate_token::OauthConfig {
    fn add_to(self, api: Api, cx: &Context<'_>) -> Result<Api, ConfigError> {
        let layer = tollgate_token::TencentOauth::layer(&self)?;
        Ok(api.token(styled(layer, cx, tollgate_token::TokenLayer::error_style)))
    }
}

#[cfg(feature = "signature")]
impl Block for super::read::signature::SignatureBlock {
    fn add_to(self, api: Api, cx: &Context<'_>) -> Result<Api, ConfigError> {
        signature(api, self, cx)
    }
}

#[cfg(feature = "signature")]
fn signature(api: Api, block: super::read::signature::SignatureBlock, cx: &Context<'_>) -> Result<Api, ConfigError> {
    use super::read::signature::{Keys, SchemeName};
    use tollgate_signature::{
        KeyRecord, MemorySecretStore, Scheme, SignatureLayer, aliyun_apigw::AliyunApiGateway, aliyun_rpc::AliyunRpc,
        tencent_apigw::TencentApiGateway, tencent_cloud::TencentCloud,
    };

    let mut store = MemorySecretStore::new();
    let record = |path: String, secrets: Vec<String>| -> Result<KeyRecord, ConfigError> {
        if let Some(i) = secrets.iter().position(String::is_empty) {
            // anyone can sign with an empty secret
            let at = if secrets.len() > 1 { format!("{path}[{i}]") } else { path };
            return Err(ConfigError::new(at, "expected a secret, got an empty one"));
        }
        let mut secrets = secrets.into_iter();
        let first = secrets.next().ok_or_else(|| ConfigError::new(path, "expected at least one secret"))?;
        Ok(secrets.fold(KeyRecord::new(first), KeyRecord::with_secret))
    };
    let count = match block.keys {
        Keys::Map(map) => {
            let count = map.len();
            for (id, secrets) in map {
                let record = record(format!("keys.{id}"), secrets)?;
                store = store.with_record(id, record);
            }
            count
        }
        Keys::List(list) => {
            let count = list.len();
            let mut tokens_seen = std::collections::HashMap::new();
            for (i, entry) in list.into_iter().enumerate() {
                if entry.id.trim().is_empty() {
                    return Err(ConfigError::new(format!("keys[{i}].id"), "expected a key id"));
                }
                if entry.secret.as_deref() == Some("") {
                    return Err(ConfigError::new(format!("keys[{i}].secret"), "expected a secret, got an empty one"));
                }
                if let Some(j) = entry.secrets.iter().position(String::is_empty) {
                    let path = format!("keys[{i}].secrets[{j}]");
                    return Err(ConfigError::new(path, "expected a secret, got an empty one"));
                }
                let secrets = entry.secret.into_iter().chain(entry.secrets).collect();
                let mut record = record(format!("keys[{i}].secrets"), secrets)?.disabled(entry.disabled);
                if let Some(app) = entry.app_id {
                    record = record.with_app_id(app);
                }
                let temporary = !entry.tokens.is_empty();
                if temporary && matches!(block.scheme, SchemeName::AliyunApigw | SchemeName::TencentApigw) {
                    return Err(ConfigError::new(
                        format!("keys[{i}].tokens"),
                        "expected tokens only with aliyun-rpc or tencent-cloud: the API gateways' app signatures carry no token",
                    ));
                }
                for (j, t) in entry.tokens.into_iter().enumerate() {
                    let path = |field: &str| format!("keys[{i}].tokens[{j}].{field}");
                    if t.token.trim().is_empty() {
                        return Err(ConfigError::new(path("token"), "expected a token, got an empty one"));
                    }
                    if let Some(other) = tokens_seen.insert(t.token.clone(), i) {
                        let why = format!("expected each token once: keys[{other}] has it too (a token names one key)");
                        return Err(ConfigError::new(path("token"), why));
                    }
                    let expires = humantime::parse_rfc3339_weak(t.expires.trim()).map_err(|e| {
                        ConfigError::new(
                            path("expires"),
                            format!("expected an RFC 3339 time like 2026-12-31T00:00:00Z: {e}"),
                        )
                    })?;
                    store = store.with_token(entry.id.clone(), t.token, expires);
                }
                store = store.with_record(entry.id, record.temporary(temporary));
            }
            count
        }
    };
    if count == 0 {
        return Err(ConfigError::new("keys", "expected at least one key"));
    }

    fn finish<Sc: Scheme>(
        layer: SignatureLayer<Sc, MemorySecretStore>,
        cx: &Context<'_>,
        body_limit: Option<usize>,
    ) -> SignatureLayer<Sc, MemorySecretStore> {
        let layer = styled(layer, cx, SignatureLayer::error_style);
        match body_limit {
            Some(limit) => layer.body_limit(limit),
            None => layer,
        }
    }
    let w = bounded_window("window", block.window)?;
    let limit = block.body_limit;
    let remember = block.remember_signatures;
    if remember && matches!(block.scheme, SchemeName::AliyunApigw | SchemeName::AliyunRpc) {
        return Err(ConfigError::new(
            "remember_signatures",
            "expected it only with tencent-cloud or tencent-apigw: Aliyun's schemes have nonces",
        ));
    }
    Ok(match block.scheme {
        SchemeName::AliyunApigw => {
            let scheme = w.map_or_else(AliyunApiGateway::new, |w| AliyunApiGateway::new().window(w));
            api.signature(finish(SignatureLayer::new(scheme, store), cx, limit))
        }
        SchemeName::AliyunRpc => {
            let scheme = w.map_or_else(AliyunRpc::new, |w| AliyunRpc::new().window(w));
            api.signature(finish(SignatureLayer::new(scheme, store), cx, limit))
        }
        SchemeName::TencentCloud => {
            let scheme = w.map_or_else(TencentCloud::new, |w| TencentCloud::new().window(w));
            let scheme = scheme.remember_signatures(remember);
            api.signature(finish(SignatureLayer::new(scheme, store), cx, limit))
        }
        SchemeName::TencentApigw => {
            let scheme = w.map_or_else(TencentApiGateway::new, |w| TencentApiGateway::new().window(w));
            let scheme = scheme.remember_signatures(remember);
            api.signature(finish(SignatureLayer::new(scheme, store), cx, limit))
        }
    })
}

#[cfg(feature = "replay")]
impl Block for BoolOr<super::read::replay::ReplayRule> {
    fn add_to(self, api: Api, cx: &Context<'_>) -> Result<Api, ConfigError> {
        Ok(match replay(self, cx)? {
            Some(layer) => api.replay(layer),
            None => api,
        })
    }
}

#[cfg(feature = "replay")]
fn replay(
    block: BoolOr<super::read::replay::ReplayRule>,
    cx: &Context<'_>,
) -> Result<Option<tollgate_replay::ReplayGuardLayer>, ConfigError> {
    use super::read::replay::{ReplayPreset, TimestampName};
    use tollgate_replay::{HeaderRule, ReplayGuardLayer, TimestampFormat};

    let mut require_nonce = true;
    let rule = match block {
        BoolOr::Bool(false) => return Ok(None),
        BoolOr::Bool(true) => None,
        BoolOr::Table(t) if t.window.is_some() && t.timestamp.is_none() => {
            // a signed API's window is the signature block's
            return Err(ConfigError::new("window", "expected it with a timestamp header (timestamp: <header>)"));
        }
        BoolOr::Table(t) => match (t.headers, t.timestamp) {
            (Some(ReplayPreset::AliyunApigw), None) => Some(HeaderRule::aliyun_api_gateway()),
            (Some(_), Some(_)) => {
                return Err(ConfigError::new("timestamp", "expected either a preset (headers) or a timestamp header"));
            }
            (None, Some(ts)) => {
                let format = match t.format.unwrap_or(TimestampName::EpochMillis) {
                    TimestampName::EpochMillis => TimestampFormat::EpochMillis,
                    TimestampName::EpochSeconds => TimestampFormat::EpochSeconds,
                    TimestampName::HttpDate => TimestampFormat::HttpDate,
                };
                let window = bounded_window("window", t.window)?.unwrap_or(Duration::from_secs(900));
                let mut rule = HeaderRule::new(header_name("timestamp".into(), &ts)?, format, window);
                if let Some(n) = &t.nonce {
                    rule = rule.nonce(header_name("nonce".into(), n)?);
                }
                if let Some(k) = &t.per_key {
                    rule = rule.per_key(header_name("per_key".into(), k)?);
                }
                Some(rule)
            }
            (None, None) => {
                // (a header rule names its nonce header, and requires it)
                require_nonce = t.require_nonce.unwrap_or(true);
                None
            }
        },
    };
    if rule.is_none() && !cx.signed {
        return Err(ConfigError::new(
            "",
            "expected a signature block on this API (the guard reads what it verified), or a header rule \
             ({headers: aliyun-apigw} or {timestamp: <header>, nonce: <header>})",
        ));
    }
    let mut layer = ReplayGuardLayer::with_store(cx.nonces.clone()).require_nonce(require_nonce);
    if let Some(rule) = rule {
        layer = layer.headers(rule);
    }
    Ok(Some(styled(layer, cx, ReplayGuardLayer::error_style)))
}
