//! Building: the raw shape read from a configuration into a [`Gateway`], checking what
//! reading could not; each block of an API becomes its policy's layer in `blocks`.

#[cfg(any(feature = "signature", feature = "replay"))]
use std::time::Duration;

use http::{HeaderName, Method};
use tollgate_core::{ClientIpLayer, ErrorStyle, ForwardingHeader, MemoryNonceStore, RequestIdLayer, TrustedProxies};

use super::ConfigError;
use super::carry::{self, Keeper};
use super::read::{BoolOr, RawApi, RawForwarding, RawGateway, RawNonceStore, RawUnmatched, StyleName};
use crate::gateway::builder::{Api, Gateway, Unmatched};

/// The gateway: its global blocks, then each API (error paths under `apis[i]`). Its stores
/// come from `keeper` (the previous configuration's where a reload may keep them).
pub(super) fn gateway(raw: RawGateway, keeper: &Keeper<'_>) -> Result<Gateway, ConfigError> {
    let mut gateway = Gateway::new()
        .unmatched(match raw.unmatched {
            Some(RawUnmatched::Pass) => Unmatched::Pass,
            None | Some(RawUnmatched::NotFound) => Unmatched::NotFound,
        })
        .allow_encoded_slashes(raw.allow_encoded_slashes);
    match raw.request_id {
        None | Some(BoolOr::Bool(true)) => {}
        Some(BoolOr::Bool(false)) => gateway = gateway.without_request_id(),
        Some(BoolOr::Table(t)) => {
            let mut layer = RequestIdLayer::new();
            for (i, name) in t.reuse_incoming.map(|n| n.0).unwrap_or_default().iter().enumerate() {
                layer = layer.reuse_incoming(header_name(format!("request_id.reuse_incoming[{i}]"), name)?);
            }
            if let Some(name) = &t.response_header {
                layer = layer.response_header(header_name("request_id.response_header".into(), name)?);
            }
            gateway = gateway.request_id(layer);
        }
    }
    let proxies = TrustedProxies::new(&raw.trusted_proxies).map_err(|e| {
        ConfigError::new(
            format!("trusted_proxies[{}]", e.position - 1),
            format!("expected an IP address or CIDR network, got {:?}", e.entry),
        )
    })?;
    let mut client_ip = ClientIpLayer::new().trusted_proxies(proxies);
    if let Some(header) = raw.forwarding_header {
        client_ip = client_ip.forwarding_header(match header {
            RawForwarding::XForwardedFor => ForwardingHeader::XForwardedFor,
            RawForwarding::Forwarded => ForwardingHeader::Forwarded,
            RawForwarding::XRealIp => ForwardingHeader::XRealIp,
        });
    }
    gateway = gateway.client_ip(client_ip);
    if let Some(style) = raw.error_style {
        gateway = gateway.error_style(style.style());
    }
    let nonces = keeper.nonce_store(|| nonce_store(raw.nonce_store).map_err(|e| e.within("nonce_store")))?;
    for (i, api) in raw.apis.into_iter().enumerate() {
        let api =
            build_api(api, i, raw.error_style, &nonces, keeper).map_err(|e| e.within(format_args!("apis[{i}]")))?;
        gateway = gateway.api(api);
    }
    Ok(gateway)
}

/// The one nonce store of the gateway's replay guards: its bound holds for the gateway, not
/// per API.
fn nonce_store(raw: Option<RawNonceStore>) -> Result<MemoryNonceStore, ConfigError> {
    let Some(raw) = raw else { return Ok(MemoryNonceStore::new()) };
    let mut store = match raw.capacity {
        Some(0) => return Err(ConfigError::new("capacity", "expected a positive number of nonces")),
        Some(capacity) => MemoryNonceStore::with_capacity(capacity),
        None => MemoryNonceStore::new(),
    };
    if let Some(share) = raw.max_share {
        if !(share > 0.0 && share <= 1.0) {
            return Err(ConfigError::new("max_share", format!("expected a share above 0 and up to 1, got {share}")));
        }
        store = store.max_share(share);
    }
    Ok(store)
}

/// Refuses a window past a day: a nonce is kept as long as its timestamp is acceptable.
#[cfg(any(feature = "signature", feature = "replay"))]
pub(super) fn bounded_window(path: &str, window: Option<Duration>) -> Result<Option<Duration>, ConfigError> {
    match window {
        Some(w) if w > tollgate_core::MAX_WINDOW => {
            Err(ConfigError::new(path, format!("expected a window of at most a day (86400 s), got {} s", w.as_secs())))
        }
        Some(w) if w.is_zero() => Err(ConfigError::new(path, "expected a window above zero")),
        w => Ok(w),
    }
}

/// A header name the configuration gives at `path`.
pub(super) fn header_name(path: String, name: &str) -> Result<HeaderName, ConfigError> {
    HeaderName::from_bytes(name.trim().as_bytes())
        .map_err(|_| ConfigError::new(path, format!("expected a header name, got {name:?}")))
}

/// One API, the `index`th; error paths relative to it.
fn build_api(
    mut raw: RawApi,
    index: usize,
    global_style: Option<StyleName>,
    nonces: &MemoryNonceStore,
    keeper: &Keeper<'_>,
) -> Result<Api, ConfigError> {
    super::plugins::resolve(&mut raw)?;
    one_flow_control(&raw)?;
    let identity = identity_of(&raw);
    let mut api = front_end(&mut raw)?;
    match (raw.name.take(), raw.api_name.take()) {
        (Some(_), Some(_)) => return Err(ConfigError::new("ApiName", "the name is given twice: here and as `name`")),
        (Some(name), None) | (None, Some(name)) => api = api.named(name),
        (None, None) => {}
    }
    auth_type(&raw)?;
    one_token_policy(&mut raw)?;
    enable_cors(&mut raw)?;
    let cx = Context {
        name: api.name().to_owned(),
        style: raw.error_style.or(global_style).map(StyleName::style),
        signed: raw.signature.is_some(),
        nonces,
        origins: std::mem::take(&mut raw.origins),
        index,
        identity,
        keeper,
    };
    api = add(api, "cors", raw.cors, &cx)?;
    // the clouds' token policies beside the JWT plug-in (one of them at most, see above)
    api = add(api, "openid_connect", raw.openid_connect, &cx)?;
    api = add(api, "OauthConfig", raw.oauth_config, &cx)?;
    api = add(api, "ip_access", raw.ip_access, &cx)?;
    api = add(api, "basic_flow_control", raw.basic_flow_control, &cx)?;
    api = add(api, "aliyun_flow_control", raw.aliyun_flow_control, &cx)?;
    api = add(api, "param_flow_control", raw.param_flow_control, &cx)?;
    api = add(api, "signature", raw.signature, &cx)?;
    api = add(api, "replay", raw.replay, &cx)?;
    api = add(api, "jwt", raw.jwt, &cx)?;
    #[cfg(feature = "access")]
    {
        api = add(api, "grants", raw.grants, &cx)?;
    }
    api = add(api, "access_control", raw.access_control, &cx)?;
    #[cfg(feature = "params")]
    let given = raw.params.as_ref().map_or((false, false), |p| (p.validation.is_some(), p.injection.is_some()));
    api = add(api, "params", raw.params, &cx)?;
    #[cfg(feature = "params")]
    {
        let definition = tollgate_params::TencentApiDefinition {
            request_parameters: raw.request_parameters.unwrap_or_default(),
            constant_parameters: raw.constant_parameters.unwrap_or_default(),
            service_parameters: raw.service_parameters.unwrap_or_default(),
        };
        api = tencent_definition(api, &definition, given, &cx)?;
    }
    #[cfg(not(feature = "params"))]
    let _ = (raw.request_parameters, raw.constant_parameters, raw.service_parameters);
    api = add(api, "error_mapping", raw.error_mapping, &cx)?;
    add(api, "backend_signature", raw.backend_signature, &cx)
}

/// Refuses a second flow-control block on one API, as Tencent binds one flow-control plug-in
/// to an API (binding another replaces it) and an Aliyun throttling plug-in replaces the
/// API's throttling policy: two would both count every request, which neither cloud does.
/// The error's field is the API itself.
fn one_flow_control(raw: &RawApi) -> Result<(), ConfigError> {
    let present: Vec<&str> = [
        ("basic_flow_control", raw.basic_flow_control.is_some()),
        ("param_flow_control", raw.param_flow_control.is_some()),
        ("aliyun_flow_control", raw.aliyun_flow_control.is_some()),
    ]
    .into_iter()
    .filter_map(|(name, on)| on.then_some(name))
    .collect();
    if let [first, second, ..] = present[..] {
        return Err(ConfigError::new(
            "",
            format!("an API takes one flow-control plug-in, got both `{first}` and `{second}`: keep one"),
        ));
    }
    Ok(())
}

/// How a reload knows the API (see `carry`): its name, else its methods and path, as written
/// in `path` and `method` or in Tencent's `RequestConfig`.
fn identity_of(raw: &RawApi) -> String {
    let config = raw.request_config.as_ref();
    let path = raw.path.as_deref().or(config.map(|c| c.path.as_str())).unwrap_or_default();
    let mut methods = raw.method.as_ref().map(|m| m.0.clone()).unwrap_or_default();
    methods.extend(config.and_then(|c| c.method.clone()));
    carry::identity(raw.name.as_deref(), &methods, path)
}

/// The API's binding: `path` and `method`, or Tencent's `RequestConfig` (`Path`, `Method`),
/// where a path with no parameter is exact, as Tencent matches it.
fn front_end(raw: &mut RawApi) -> Result<Api, ConfigError> {
    let (mut api, methods) = match (raw.path.take(), raw.request_config.take()) {
        (Some(path), None) => (Api::new(&path)?, raw.method.take().map(|m| m.0).unwrap_or_default()),
        (None, Some(config)) => {
            if raw.method.is_some() && config.method.is_some() {
                return Err(ConfigError::new("method", "the method is given twice: here and in RequestConfig.Method"));
            }
            let path = config.path.trim();
            let pattern = if path.contains(['{', '[']) { path.to_owned() } else { format!("= {path}") };
            let api = Api::new(&pattern).map_err(|e| ConfigError::new("RequestConfig.Path", e.problem))?;
            let methods = match config.method {
                Some(m) => vec![m],
                None => raw.method.take().map(|m| m.0).unwrap_or_default(),
            };
            (api, methods)
        }
        (Some(_), Some(_)) => {
            return Err(ConfigError::new("RequestConfig", "the path is given twice: here and as `path`"));
        }
        (None, None) => return Err(ConfigError::new("path", "missing: expected a path pattern (or RequestConfig)")),
    };
    for (i, m) in methods.iter().enumerate() {
        let method = Method::from_bytes(m.trim().to_ascii_uppercase().as_bytes())
            .map_err(|_| ConfigError::new(format!("method[{i}]"), format!("expected an HTTP method, got {m:?}")))?;
        api = api.method(method);
    }
    Ok(api)
}

/// Tencent's `AuthType`: `NONE`, `SECRET` (its key pair) with the signature block that holds
/// the keys, or `OAUTH` with `OauthConfig` (a business API) or `ApiBusinessType: OAUTH` (the
/// authorization API); the others are not implemented, and never silently dropped.
fn auth_type(raw: &RawApi) -> Result<(), ConfigError> {
    let oauth = raw.auth_type.as_deref().is_some_and(|a| a.trim().eq_ignore_ascii_case("OAUTH"));
    if raw.oauth_config.is_some() && !oauth {
        return Err(ConfigError::new("AuthType", "OauthConfig is read with `AuthType: OAUTH`: say so, or drop it"));
    }
    let authorization_api = match raw.api_business_type.as_deref().map(str::trim) {
        None | Some("") => false,
        Some(t) if t.eq_ignore_ascii_case("NORMAL") => false,
        Some(t) if t.eq_ignore_ascii_case("OAUTH") => true,
        Some(t) => return Err(ConfigError::new("ApiBusinessType", format!("{t:?}: expected NORMAL or OAUTH"))),
    };
    let Some(auth) = &raw.auth_type else { return Ok(()) };
    match auth.trim().to_ascii_uppercase().as_str() {
        "NONE" => Ok(()),
        "SECRET" if raw.signature.is_some() => Ok(()),
        "SECRET" => Err(ConfigError::new(
            "AuthType",
            "SECRET needs a signature block holding the keys (scheme: tencent-apigw for Tencent's key pairs)",
        )),
        "OAUTH" if raw.oauth_config.is_some() || authorization_api => Ok(()),
        "OAUTH" => Err(ConfigError::new(
            "OauthConfig",
            "missing: AuthType OAUTH on a business API needs OauthConfig with the PublicKey \
             (tollgate reads it on each business API; ApiBusinessType OAUTH marks the authorization API)",
        )),
        _ => Err(ConfigError::new(
            "AuthType",
            format!(
                "{auth:?} is not implemented by tollgate: expected NONE, SECRET with a signature block, or OAUTH with OauthConfig"
            ),
        )),
    }
}

/// One token policy per API. Aliyun's JWT plug-in replaces the API's OpenID Connect, as on
/// Aliyun; Tencent's OAuth beside either is refused (two clouds' token rules on one API is a
/// mistake, not a combination). The authorization APIs (Tencent's `ApiBusinessType: OAUTH`,
/// Aliyun's `OpenIdApiType: IDTOKEN`) issue tokens and check none: their blocks add nothing.
fn one_token_policy(raw: &mut RawApi) -> Result<(), ConfigError> {
    #[cfg(feature = "token")]
    {
        if raw.api_business_type.as_deref().is_some_and(|t| t.trim().eq_ignore_ascii_case("OAUTH")) {
            raw.oauth_config = None;
        }
        if raw.openid_connect.as_ref().is_some_and(|c| c.is_authorization_api()) {
            raw.openid_connect = None;
        }
        if raw.oauth_config.is_some() && (raw.jwt.is_some() || raw.openid_connect.is_some()) {
            let other = if raw.jwt.is_some() { "jwt" } else { "openid_connect" };
            return Err(ConfigError::new(
                "",
                format!("an API takes one token policy, got both Tencent's OauthConfig and `{other}`: keep one"),
            ));
        }
        if raw.jwt.is_some() && raw.openid_connect.take().is_some() {
            tracing::debug!("the JWT plug-in replaces the API's OpenID Connect, as on Aliyun");
        }
    }
    #[cfg(not(feature = "token"))]
    let _ = raw;
    Ok(())
}

/// Tencent's `EnableCORS: true`: the CORS switch, beside a CORS plugin if there is one (whose
/// rules win). Alone, it answers preflights too: any origin, method and header, no
/// credentials — what a browser needs to call the API, which the bare switch (`cors: true`,
/// `Access-Control-Allow-Origin: *` on responses) does not give it.
fn enable_cors(raw: &mut RawApi) -> Result<(), ConfigError> {
    if raw.enable_cors != Some(true) {
        return Ok(());
    }
    #[cfg(feature = "cors")]
    {
        use super::read::cors::CorsBlock;

        raw.cors = Some(match raw.cors.take() {
            None => CorsBlock::Enabled,
            Some(CorsBlock::Switch(true)) => CorsBlock::Switch(true),
            Some(CorsBlock::Enabled) => CorsBlock::Enabled,
            Some(CorsBlock::Switch(false)) => {
                return Err(ConfigError::new("EnableCORS", "CORS is switched on here and off by `cors: false`"));
            }
            Some(CorsBlock::Plugin(plugin) | CorsBlock::EnabledWith(plugin)) => CorsBlock::EnabledWith(plugin),
            Some(CorsBlock::Config(mut config)) => {
                config.switch = true;
                CorsBlock::Config(config)
            }
        });
        Ok(())
    }
    #[cfg(not(feature = "cors"))]
    Err(ConfigError::new("EnableCORS", "this switch needs tollgate's `cors` feature"))
}

/// Tencent's `RequestParameters`, `ConstantParameters` and `ServiceParameters`: validation
/// and injection, like the `params` block's (which must not give them too).
#[cfg(feature = "params")]
fn tencent_definition(
    mut api: Api,
    definition: &tollgate_params::TencentApiDefinition,
    (validation_given, injection_given): (bool, bool),
    cx: &Context<'_>,
) -> Result<Api, ConfigError> {
    use crate::gateway::routes::PathPattern;
    use tollgate_params::{ParamInjectionLayer, ParamValidationLayer};

    let template = match &api.route.pattern {
        PathPattern::Template(t) => Some(t),
        _ => None,
    };
    if let Some(config) = definition.validation(template)? {
        if validation_given {
            return Err(ConfigError::new(
                "RequestParameters",
                "the front-end parameters are given twice: here and in params.validation",
            ));
        }
        let layer = ParamValidationLayer::from_config(&config).map_err(|e| definition.tencent_fields(e))?;
        api = api.param_validation(styled(layer, cx, ParamValidationLayer::error_style));
    }
    if let Some(config) = definition.injection()? {
        if injection_given {
            let field =
                if definition.constant_parameters.is_empty() { "ServiceParameters" } else { "ConstantParameters" };
            return Err(ConfigError::new(field, "injection is given twice: here and in params.injection"));
        }
        let layer = ParamInjectionLayer::from_config(&config).map_err(|e| definition.tencent_fields(e))?;
        api = api.param_injection(styled(layer, cx, ParamInjectionLayer::error_style));
    }
    Ok(api)
}

/// What the blocks of one API are built with.
#[cfg_attr(
    not(all(feature = "flow", feature = "replay")),
    allow(dead_code, reason = "each field is read by the blocks of some policies, whose features may be off")
)]
pub(super) struct Context<'a> {
    /// The API's name, which its flow-control keys carry.
    pub(super) name: String,
    /// The API's error style, else the gateway's; `None`: each layer keeps its own default.
    pub(super) style: Option<ErrorStyle>,
    /// Whether the API has a signature block (a replay guard reads what it verified).
    pub(super) signed: bool,
    /// The nonce store every replay guard of the gateway shares.
    pub(super) nonces: &'a MemoryNonceStore,
    /// Blocks read from a `plugins` envelope, and where (`plugins[1].PluginData`).
    origins: Vec<(&'static str, String)>,
    /// The API's place in the file and how a reload knows it (see `carry`).
    index: usize,
    identity: String,
    /// Hands out rate stores: a reload keeps those of unchanged blocks.
    keeper: &'a Keeper<'a>,
}

impl Context<'_> {
    /// The rate store of the API's flow-control block `key` (the block's own: each block
    /// keeps or resets its counters on reload by itself).
    #[cfg_attr(not(feature = "flow"), allow(dead_code, reason = "only flow control counts"))]
    pub(super) fn rate_store(&self, key: &'static str) -> std::sync::Arc<tollgate_core::MemoryRateStore> {
        // a block read from a plug-in envelope is compared as the API's whole `plugins` list
        let written = if self.origins.iter().any(|(block, _)| *block == key) { "plugins" } else { key };
        self.keeper.rate_store(self.index, &self.identity, key, written)
    }
}

/// A block of an API's configuration: it puts its policy's layers on the API.
pub(super) trait Block {
    /// Adds the layers; error paths relative to the block.
    fn add_to(self, api: Api, cx: &Context<'_>) -> Result<Api, ConfigError>;
}

/// Adds the block under `key`, if the API has one.
fn add<B: Block>(api: Api, key: &str, block: Option<B>, cx: &Context<'_>) -> Result<Api, ConfigError> {
    match block {
        Some(block) => block.add_to(api, cx).map_err(|e| e.within(super::plugins::origin(&cx.origins, key))),
        None => Ok(api),
    }
}

/// The layer in the API's error style, if the configuration names one (else in its own
/// default). `error_style` is the layer type's builder method of that name.
#[cfg_attr(
    not(any(feature = "ip", feature = "flow", feature = "signature", feature = "replay", feature = "params")),
    allow(dead_code, reason = "only their layers have a style")
)]
pub(super) fn styled<L>(layer: L, cx: &Context<'_>, error_style: fn(L, ErrorStyle) -> L) -> L {
    match &cx.style {
        Some(style) => error_style(layer, style.clone()),
        None => layer,
    }
}
