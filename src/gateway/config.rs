//! The declarative configuration: JSON, YAML or TOML read into a [`Gateway`], every error
//! naming the file, the path to the field and what was expected.
// With some policy features off, their blocks are read only to be refused.
#![cfg_attr(
    not(all(feature = "ip", feature = "flow", feature = "cors", feature = "signature", feature = "replay")),
    allow(dead_code, unused_variables)
)]

use std::fmt;
use std::marker::PhantomData;
use std::path::Path;
use std::time::Duration;

use http::{HeaderName, Method};
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, de::value::MapAccessDeserializer};
use tollgate_core::{ClientIpLayer, ErrorStyle, ForwardingHeader, RequestIdLayer, TrustedProxies};

pub use tollgate_core::ConfigError;

use super::builder::{Api, Gateway, Unmatched};

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
    pub fn from_config(text: &str, format: Format) -> Result<Self, ConfigError> {
        build(parse(text, format)?)
    }

    /// Reads a gateway from a file, the format named by its extension (`.json`, `.yaml`,
    /// `.yml`, `.toml`). Errors name the file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        let path = path.as_ref();
        let in_file = |e: ConfigError| e.in_file(path);
        let format = Format::from_path(path)
            .ok_or_else(|| in_file(ConfigError::new("", "expected a .json, .yaml, .yml or .toml file")))?;
        let text = std::fs::read_to_string(path).map_err(|e| in_file(ConfigError::new("", e)))?;
        Self::from_config(&text, format).map_err(in_file)
    }
}

/// The field path serde_path_to_error tracked, `""` at the top.
fn path_of(path: &serde_path_to_error::Path) -> String {
    let p = path.to_string();
    if p == "." { String::new() } else { p }
}

fn parse(text: &str, format: Format) -> Result<RawGateway, ConfigError> {
    match format {
        Format::Json => {
            let mut de = serde_json::Deserializer::from_str(text);
            let raw = serde_path_to_error::deserialize(&mut de)
                .map_err(|e| ConfigError::new(path_of(e.path()), e.into_inner()))?;
            de.end().map_err(|e| ConfigError::new("", e))?;
            Ok(raw)
        }
        #[cfg(feature = "yaml")]
        Format::Yaml => {
            let de = serde_norway::Deserializer::from_str(text);
            serde_path_to_error::deserialize(de).map_err(|e| {
                let path = path_of(e.path());
                let message = e.into_inner().to_string();
                // serde_norway names (part of) the path itself: say it once
                let message = match message.split_once(": ") {
                    Some((head, rest)) if !path.is_empty() && path.starts_with(head) => rest.to_owned(),
                    _ => message,
                };
                ConfigError::new(path, message)
            })
        }
        #[cfg(feature = "toml")]
        Format::Toml => {
            let located = |e: toml::de::Error| match e.span() {
                Some(span) => {
                    let (line, column) = line_column(text, span.start);
                    format!("{} at line {line} column {column}", e.message().trim_end())
                }
                None => e.message().trim_end().to_owned(),
            };
            let de = toml::Deserializer::parse(text).map_err(|e| ConfigError::new("", located(e)))?;
            serde_path_to_error::deserialize(de).map_err(|e| {
                let path = path_of(e.path());
                ConfigError::new(path, located(e.into_inner()))
            })
        }
        #[allow(unreachable_patterns)]
        other => Err(ConfigError::new("", format!("{other:?} needs the tollgate feature `{other:?}`").to_lowercase())),
    }
}

#[cfg(feature = "toml")]
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

// ---------------------------------------------------------------------------------------
// The raw shape

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGateway {
    #[serde(default)]
    request_id: Option<BoolOr<RawRequestId>>,
    #[serde(default)]
    trusted_proxies: Vec<String>,
    #[serde(default)]
    forwarding_header: Option<RawForwarding>,
    #[serde(default)]
    error_style: Option<StyleName>,
    #[serde(default)]
    unmatched: Option<RawUnmatched>,
    #[serde(default)]
    allow_encoded_slashes: bool,
    #[serde(default)]
    nonce_store: Option<RawNonceStore>,
    #[serde(default)]
    apis: Vec<RawApi>,
}

/// The in-memory nonce store every API's replay guard shares.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNonceStore {
    /// The most live nonces remembered.
    #[serde(default)]
    capacity: Option<u64>,
    /// The share of them one key may hold, from 0 (exclusive) to 1.
    #[serde(default)]
    max_share: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRequestId {
    /// Reuse the id of these incoming headers.
    #[serde(default)]
    reuse_incoming: Option<OneOrMany>,
    #[serde(default)]
    response_header: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
enum RawForwarding {
    #[serde(alias = "x_forwarded_for")]
    XForwardedFor,
    Forwarded,
    #[serde(alias = "x_real_ip")]
    XRealIp,
}

#[derive(Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
enum StyleName {
    #[serde(alias = "problem+json", alias = "problem-json")]
    ProblemJson,
    #[serde(alias = "aliyun-apigw")]
    AliyunApiGateway,
    #[serde(alias = "aliyun-rpc")]
    AliyunRpc,
    #[serde(alias = "tencent-cloud")]
    TencentCloud,
    #[serde(alias = "tencent-apigw")]
    TencentApiGateway,
    Grpc,
}

impl StyleName {
    fn style(self) -> ErrorStyle {
        match self {
            Self::ProblemJson => ErrorStyle::ProblemJson,
            Self::AliyunApiGateway => ErrorStyle::AliyunApiGateway,
            Self::AliyunRpc => ErrorStyle::AliyunRpc,
            Self::TencentCloud => ErrorStyle::TencentCloud,
            Self::TencentApiGateway => ErrorStyle::TencentApiGateway,
            Self::Grpc => ErrorStyle::Grpc,
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum RawUnmatched {
    #[serde(alias = "404", alias = "not-found")]
    NotFound,
    Pass,
}

/// A block a disabled cargo feature would read: present, it is an error naming the feature.
#[allow(unused_macros)]
macro_rules! disabled_block {
    ($name:ident, $feature:literal) => {
        #[allow(dead_code)]
        struct $name;
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                serde::de::IgnoredAny::deserialize(d)?;
                Err(de::Error::custom(concat!("this block needs tollgate's `", $feature, "` feature")))
            }
        }
    };
}

#[cfg(feature = "ip")]
type IpBlock = tollgate_ip::IpAccessConfig;
#[cfg(not(feature = "ip"))]
disabled_block!(IpBlock, "ip");
#[cfg(feature = "flow")]
type BasicBlock = tollgate_flow::BasicFlowControlConfig;
#[cfg(not(feature = "flow"))]
disabled_block!(BasicBlock, "flow");
#[cfg(feature = "flow")]
type ParamBlock = tollgate_flow::ParamFlowControlConfig;
#[cfg(not(feature = "flow"))]
disabled_block!(ParamBlock, "flow");
#[cfg(feature = "flow")]
type AliyunBlock = tollgate_flow::AliyunFlowControlConfig;
#[cfg(not(feature = "flow"))]
disabled_block!(AliyunBlock, "flow");
#[cfg(not(feature = "cors"))]
disabled_block!(CorsBlock, "cors");
#[cfg(not(feature = "signature"))]
disabled_block!(SignatureBlock, "signature");
#[cfg(not(feature = "replay"))]
disabled_block!(ReplayBlock, "replay");
#[cfg(feature = "replay")]
type ReplayBlock = BoolOr<ReplayRule>;
#[cfg(not(feature = "params"))]
disabled_block!(ParamsBlock, "params");

/// Parameter rules: validation, then injection and mapping (the params crate's configs).
#[cfg(feature = "params")]
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ParamsBlock {
    #[serde(default)]
    validation: Option<tollgate_params::ParamValidationConfig>,
    #[serde(default)]
    injection: Option<tollgate_params::ParamInjectionConfig>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApi {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    method: Option<OneOrMany>,
    path: String,
    #[serde(default)]
    error_style: Option<StyleName>,
    #[serde(default)]
    cors: Option<CorsBlock>,
    #[serde(default)]
    ip_access: Option<IpBlock>,
    #[serde(default)]
    basic_flow_control: Option<BasicBlock>,
    #[serde(default)]
    param_flow_control: Option<ParamBlock>,
    #[serde(default)]
    aliyun_flow_control: Option<AliyunBlock>,
    #[serde(default)]
    signature: Option<SignatureBlock>,
    #[serde(default)]
    replay: Option<ReplayBlock>,
    #[serde(default)]
    params: Option<ParamsBlock>,
}

/// One string or a list of strings.
struct OneOrMany(Vec<String>);

impl<'de> Deserialize<'de> for OneOrMany {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = OneOrMany;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or a list of strings")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<OneOrMany, E> {
                Ok(OneOrMany(vec![v.to_owned()]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<OneOrMany, A::Error> {
                let mut out = Vec::new();
                while let Some(s) = seq.next_element::<String>()? {
                    out.push(s);
                }
                Ok(OneOrMany(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// `true` / `false`, or a table of settings.
enum BoolOr<T> {
    Bool(bool),
    Table(T),
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for BoolOr<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = BoolOr<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("true, false or a table of settings")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<BoolOr<T>, E> {
                Ok(BoolOr::Bool(v))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<BoolOr<T>, A::Error> {
                T::deserialize(MapAccessDeserializer::new(map)).map(BoolOr::Table)
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// A duration: whole seconds, or text such as `"15m"`, `"300s"`, `"1h 30m"`.
fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    struct V;
    impl Visitor<'_> for V {
        type Value = Duration;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("whole seconds or a duration such as \"15m\"")
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Duration, E> {
            Ok(Duration::from_secs(v))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Duration, E> {
            u64::try_from(v).map(Duration::from_secs).map_err(|_| E::custom("expected a positive duration"))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
            humantime::parse_duration(v.trim())
                .map_err(|e| E::custom(format!("expected a duration such as \"15m\": {e}")))
        }
    }
    d.deserialize_any(V).map(Some)
}

// ---------------------------------------------------------------------------------------
// CORS: the switch, Tencent's `{switch, plugin}`, or a plugin alone

#[cfg(feature = "cors")]
enum CorsBlock {
    Switch(bool),
    Config(tollgate_cors::CorsConfig),
    Plugin(tollgate_cors::CorsPlugin),
}

/// Deserializes from a buffered value, keeping the field path of an error in its message.
#[cfg(feature = "cors")]
fn from_value<T: serde::de::DeserializeOwned, E: de::Error>(value: serde_json::Value) -> Result<T, E> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = path_of(e.path());
        let inner = e.into_inner();
        if path.is_empty() { E::custom(inner) } else { E::custom(format!("{path}: {inner}")) }
    })
}

#[cfg(feature = "cors")]
impl<'de> Deserialize<'de> for CorsBlock {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde_json::Value;
        match Value::deserialize(d)? {
            Value::Bool(on) => Ok(Self::Switch(on)),
            Value::Object(map)
                if map.keys().any(|k| matches!(k.as_str(), "switch" | "enable_cors" | "enableCORS" | "plugin")) =>
            {
                from_value(Value::Object(map)).map(Self::Config)
            }
            Value::Object(map) => from_value(Value::Object(map)).map(Self::Plugin),
            other => Err(de::Error::custom(format!(
                "expected true, false, a CORS plugin (allow_origin, ...) or {{switch, plugin}}, got {other}"
            ))),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Signature

#[cfg(feature = "signature")]
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignatureBlock {
    scheme: SchemeName,
    keys: Keys,
    #[serde(default, deserialize_with = "duration")]
    window: Option<Duration>,
    #[serde(default)]
    body_limit: Option<usize>,
    /// Tencent schemes: remember each signature as a nonce (accepted once in the window).
    #[serde(default)]
    remember_signatures: bool,
}

#[cfg(feature = "signature")]
#[derive(Clone, Copy, Deserialize)]
enum SchemeName {
    #[serde(rename = "aliyun-apigw", alias = "aliyun_apigw")]
    AliyunApigw,
    #[serde(rename = "aliyun-rpc", alias = "aliyun_rpc")]
    AliyunRpc,
    #[serde(rename = "tencent-cloud", alias = "tencent_cloud")]
    TencentCloud,
    #[serde(rename = "tencent-apigw", alias = "tencent_apigw")]
    TencentApigw,
}

/// Keys: a map `id: secret` (or `id: [old, new]` during a roll-over), or a list of entries.
#[cfg(feature = "signature")]
enum Keys {
    Map(Vec<(String, Vec<String>)>),
    List(Vec<KeyEntry>),
}

#[cfg(feature = "signature")]
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyEntry {
    id: String,
    #[serde(default)]
    secret: Option<String>,
    #[serde(default)]
    secrets: Vec<String>,
    #[serde(default)]
    app_id: Option<String>,
    #[serde(default)]
    disabled: bool,
}

#[cfg(feature = "signature")]
impl<'de> Deserialize<'de> for Keys {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Keys;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of key id to secret, or a list of {id, secret}")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Keys, A::Error> {
                let mut out = Vec::new();
                while let Some((id, secrets)) = map.next_entry::<String, OneOrMany>()? {
                    out.push((id, secrets.0));
                }
                Ok(Keys::Map(out))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Keys, A::Error> {
                let mut out = Vec::new();
                while let Some(entry) = seq.next_element::<KeyEntry>()? {
                    out.push(entry);
                }
                Ok(Keys::List(out))
            }
        }
        d.deserialize_any(V)
    }
}

// ---------------------------------------------------------------------------------------
// Replay

#[cfg(feature = "replay")]
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReplayRule {
    /// A preset header rule: `aliyun-apigw`.
    #[serde(default)]
    headers: Option<ReplayPreset>,
    #[serde(default)]
    timestamp: Option<String>,
    #[serde(default)]
    format: Option<TimestampName>,
    #[serde(default, deserialize_with = "duration")]
    window: Option<Duration>,
    #[serde(default)]
    nonce: Option<String>,
    #[serde(default)]
    per_key: Option<String>,
    /// Refuse a signed request without its scheme's nonce (default true).
    #[serde(default)]
    require_nonce: Option<bool>,
}

#[cfg(feature = "replay")]
#[derive(Deserialize)]
enum ReplayPreset {
    #[serde(rename = "aliyun-apigw", alias = "aliyun_apigw")]
    AliyunApigw,
}

#[cfg(feature = "replay")]
#[derive(Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
enum TimestampName {
    EpochMillis,
    EpochSeconds,
    HttpDate,
}

// ---------------------------------------------------------------------------------------
// Building

fn header_name(path: String, name: &str) -> Result<HeaderName, ConfigError> {
    HeaderName::from_bytes(name.trim().as_bytes())
        .map_err(|_| ConfigError::new(path, format!("expected a header name, got {name:?}")))
}

fn build(raw: RawGateway) -> Result<Gateway, ConfigError> {
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
    let nonces = nonce_store(raw.nonce_store).map_err(|e| e.within("nonce_store"))?;
    for (i, api) in raw.apis.into_iter().enumerate() {
        let api = build_api(api, raw.error_style, &nonces).map_err(|e| e.within(format_args!("apis[{i}]")))?;
        gateway = gateway.api(api);
    }
    Ok(gateway)
}

/// The one nonce store of the gateway's replay guards: its bound holds for the gateway, not
/// per API.
fn nonce_store(raw: Option<RawNonceStore>) -> Result<tollgate_core::MemoryNonceStore, ConfigError> {
    let Some(raw) = raw else { return Ok(tollgate_core::MemoryNonceStore::new()) };
    let mut store = match raw.capacity {
        Some(0) => return Err(ConfigError::new("capacity", "expected a positive number of nonces")),
        Some(capacity) => tollgate_core::MemoryNonceStore::with_capacity(capacity),
        None => tollgate_core::MemoryNonceStore::new(),
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
fn bounded_window(path: &str, window: Option<Duration>) -> Result<Option<Duration>, ConfigError> {
    match window {
        Some(w) if w > tollgate_core::MAX_WINDOW => {
            Err(ConfigError::new(path, format!("expected a window of at most a day (86400 s), got {} s", w.as_secs())))
        }
        Some(w) if w.is_zero() => Err(ConfigError::new(path, "expected a window above zero")),
        w => Ok(w),
    }
}

/// One API; error paths relative to it.
fn build_api(
    raw: RawApi,
    global_style: Option<StyleName>,
    nonces: &tollgate_core::MemoryNonceStore,
) -> Result<Api, ConfigError> {
    let mut api = Api::new(&raw.path)?;
    for (i, m) in raw.method.map(|m| m.0).unwrap_or_default().iter().enumerate() {
        let method = Method::from_bytes(m.trim().to_ascii_uppercase().as_bytes())
            .map_err(|_| ConfigError::new(format!("method[{i}]"), format!("expected an HTTP method, got {m:?}")))?;
        api = api.method(method);
    }
    if let Some(name) = raw.name {
        api = api.named(name);
    }
    let name = api.name().to_owned();
    let style = raw.error_style.or(global_style).map(StyleName::style);

    #[cfg(feature = "cors")]
    if let Some(block) = raw.cors {
        use tollgate_cors::CorsLayer;
        let (layer, prefix) = match block {
            CorsBlock::Switch(true) => (Ok(CorsLayer::switch()), "cors"),
            CorsBlock::Switch(false) => (Ok(CorsLayer::off()), "cors"),
            CorsBlock::Config(c) => (CorsLayer::from_config(&c), "cors.plugin"),
            CorsBlock::Plugin(p) => (CorsLayer::from_plugin(&p), "cors"),
        };
        let layer = layer.map_err(|e| e.within(prefix))?;
        api = api.cors(layer);
    }

    #[cfg(feature = "ip")]
    if let Some(config) = raw.ip_access {
        let mut layer = tollgate_ip::IpAccessLayer::from_config(&config).map_err(|e| e.within("ip_access"))?;
        if let Some(style) = &style {
            layer = layer.error_style(style.clone());
        }
        api = if layer.has_app_entries() { api.app_ip_access(layer) } else { api.ip_access(layer) };
    }

    #[cfg(feature = "flow")]
    {
        use tollgate_flow::{AliyunLimits, BasicLimits, FlowControlLayer, ParamLimits};
        fn flow_err(block: &'static str) -> impl Fn(ConfigError) -> ConfigError {
            move |e| e.within(block)
        }
        if let Some(config) = raw.basic_flow_control {
            // App limits read the `Caller`: they go inside the signature layer.
            let by_app = config.app_rate_limit.is_some() || !config.spec_app_rate_limits.is_empty();
            let limits = BasicLimits::from_config(&config).map_err(flow_err("basic_flow_control"))?.named(&name);
            let mut layer = FlowControlLayer::new(limits);
            if let Some(style) = &style {
                layer = layer.error_style(style.clone());
            }
            api = if by_app { api.app_flow(layer) } else { api.flow(layer) };
        }
        if let Some(config) = raw.aliyun_flow_control {
            let limits = AliyunLimits::from_config(&config).map_err(flow_err("aliyun_flow_control"))?.named(&name);
            let layer = FlowControlLayer::new(limits)
                .error_style(style.clone().unwrap_or(tollgate_core::ErrorStyle::AliyunApiGateway));
            api = api.app_flow(layer);
        }
        if let Some(config) = raw.param_flow_control {
            let limits = ParamLimits::from_config(&config).map_err(flow_err("param_flow_control"))?.named(&name);
            let mut layer = FlowControlLayer::new(limits);
            if let Some(style) = &style {
                layer = layer.error_style(style.clone());
            }
            api = api.param_flow(layer);
        }
    }

    #[cfg(feature = "signature")]
    let signed = raw.signature.is_some();
    #[cfg(not(feature = "signature"))]
    let signed = false;
    #[cfg(feature = "signature")]
    if let Some(block) = raw.signature {
        api = signature(api, block, style.clone()).map_err(|e| e.within("signature"))?;
    }

    #[cfg(feature = "replay")]
    if let Some(block) = raw.replay
        && let Some(layer) = replay(block, signed, style.clone(), nonces).map_err(|e| e.within("replay"))?
    {
        api = api.replay(layer);
    }
    #[cfg(feature = "params")]
    if let Some(block) = raw.params {
        use tollgate_params::{ParamInjectionLayer, ParamValidationLayer};
        let params_err = |block: &'static str| move |e: ConfigError| e.within(format_args!("params.{block}"));
        if let Some(config) = block.validation {
            let mut layer = ParamValidationLayer::from_config(&config).map_err(params_err("validation"))?;
            if let Some(style) = &style {
                layer = layer.error_style(style.clone());
            }
            api = api.param_validation(layer);
        }
        if let Some(config) = block.injection {
            let mut layer = ParamInjectionLayer::from_config(&config).map_err(params_err("injection"))?;
            if let Some(style) = &style {
                layer = layer.error_style(style.clone());
            }
            api = api.param_injection(layer);
        }
    }
    #[cfg(not(feature = "params"))]
    let _ = raw.params;
    #[cfg(not(feature = "replay"))]
    let _ = (signed, raw.replay);
    #[cfg(not(feature = "signature"))]
    let _ = raw.signature;
    #[cfg(not(feature = "cors"))]
    let _ = raw.cors;
    Ok(api)
}

#[cfg(feature = "signature")]
fn signature(api: Api, block: SignatureBlock, style: Option<ErrorStyle>) -> Result<Api, ConfigError> {
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
                store = store.with_record(entry.id, record);
            }
            count
        }
    };
    if count == 0 {
        return Err(ConfigError::new("keys", "expected at least one key"));
    }

    fn finish<Sc: Scheme>(
        layer: SignatureLayer<Sc, MemorySecretStore>,
        style: Option<ErrorStyle>,
        body_limit: Option<usize>,
    ) -> SignatureLayer<Sc, MemorySecretStore> {
        let layer = match style {
            Some(style) => layer.error_style(style),
            None => layer,
        };
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
            api.signature(finish(SignatureLayer::new(scheme, store), style, limit))
        }
        SchemeName::AliyunRpc => {
            let scheme = w.map_or_else(AliyunRpc::new, |w| AliyunRpc::new().window(w));
            api.signature(finish(SignatureLayer::new(scheme, store), style, limit))
        }
        SchemeName::TencentCloud => {
            let scheme = w.map_or_else(TencentCloud::new, |w| TencentCloud::new().window(w));
            let scheme = scheme.remember_signatures(remember);
            api.signature(finish(SignatureLayer::new(scheme, store), style, limit))
        }
        SchemeName::TencentApigw => {
            let scheme = w.map_or_else(TencentApiGateway::new, |w| TencentApiGateway::new().window(w));
            let scheme = scheme.remember_signatures(remember);
            api.signature(finish(SignatureLayer::new(scheme, store), style, limit))
        }
    })
}

#[cfg(feature = "replay")]
fn replay(
    block: BoolOr<ReplayRule>,
    signed: bool,
    style: Option<ErrorStyle>,
    nonces: &tollgate_core::MemoryNonceStore,
) -> Result<Option<tollgate_replay::ReplayGuardLayer>, ConfigError> {
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
    if rule.is_none() && !signed {
        return Err(ConfigError::new(
            "",
            "expected a signature block on this API (the guard reads what it verified), or a header rule \
             ({headers: aliyun-apigw} or {timestamp: <header>, nonce: <header>})",
        ));
    }
    let mut layer = ReplayGuardLayer::with_store(nonces.clone()).require_nonce(require_nonce);
    if let Some(rule) = rule {
        layer = layer.headers(rule);
    }
    if let Some(style) = style {
        layer = layer.error_style(style);
    }
    Ok(Some(layer))
}
