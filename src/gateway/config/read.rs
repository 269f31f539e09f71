//! Reading: a configuration text, in any of the three formats, into its raw shape
//! ([`RawGateway`]), each error naming the path to the field being read.

use std::fmt;
use std::marker::PhantomData;
#[cfg(any(feature = "signature", feature = "replay"))]
use std::time::Duration;

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde::de::value::MapAccessDeserializer;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use tollgate_core::ErrorStyle;

use super::{ConfigError, Format};

/// The field path serde_path_to_error tracked, `""` at the top.
fn path_of(path: &serde_path_to_error::Path) -> String {
    let p = path.to_string();
    if p == "." { String::new() } else { p }
}

/// Reads `text` into the raw shape; an error names the path to the field being read.
pub(super) fn parse(text: &str, format: Format) -> Result<RawGateway, ConfigError> {
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
pub(super) struct RawGateway {
    #[serde(default)]
    pub(super) request_id: Option<BoolOr<RawRequestId>>,
    #[serde(default)]
    pub(super) trusted_proxies: Vec<String>,
    #[serde(default)]
    pub(super) forwarding_header: Option<RawForwarding>,
    #[serde(default)]
    pub(super) error_style: Option<StyleName>,
    #[serde(default)]
    pub(super) unmatched: Option<RawUnmatched>,
    #[serde(default)]
    pub(super) allow_encoded_slashes: bool,
    #[serde(default)]
    pub(super) nonce_store: Option<RawNonceStore>,
    #[serde(default)]
    pub(super) apis: Vec<RawApi>,
}

/// The in-memory nonce store every API's replay guard shares.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawNonceStore {
    /// The most live nonces remembered.
    #[serde(default)]
    pub(super) capacity: Option<u64>,
    /// The share of them one key may hold, from 0 (exclusive) to 1.
    #[serde(default)]
    pub(super) max_share: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRequestId {
    /// Reuse the id of these incoming headers.
    #[serde(default)]
    pub(super) reuse_incoming: Option<OneOrMany>,
    #[serde(default)]
    pub(super) response_header: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(super) enum RawForwarding {
    #[serde(alias = "x_forwarded_for")]
    XForwardedFor,
    Forwarded,
    #[serde(alias = "x_real_ip")]
    XRealIp,
}

#[derive(Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum StyleName {
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
    pub(super) fn style(self) -> ErrorStyle {
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
pub(super) enum RawUnmatched {
    #[serde(alias = "404", alias = "not-found")]
    NotFound,
    Pass,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawApi {
    #[serde(default)]
    pub(super) name: Option<String>,
    #[serde(default)]
    pub(super) method: Option<OneOrMany>,
    /// Required, unless Tencent's `RequestConfig` gives it.
    #[serde(default)]
    pub(super) path: Option<String>,
    #[serde(default)]
    pub(super) error_style: Option<StyleName>,
    #[serde(default)]
    pub(super) cors: Option<CorsBlock>,
    #[serde(default)]
    pub(super) ip_access: Option<IpBlock>,
    #[serde(default)]
    pub(super) basic_flow_control: Option<BasicBlock>,
    #[serde(default)]
    pub(super) param_flow_control: Option<ParamBlock>,
    #[serde(default)]
    pub(super) aliyun_flow_control: Option<AliyunBlock>,
    #[serde(default)]
    pub(super) signature: Option<SignatureBlock>,
    #[serde(default)]
    pub(super) replay: Option<ReplayBlock>,
    #[serde(default)]
    pub(super) params: Option<ParamsBlock>,
    #[serde(default)]
    pub(super) access_control: Option<AccessBlock>,
    /// App grants: who may call the API, by stage and until when.
    #[cfg(feature = "access")]
    #[serde(default)]
    pub(super) grants: Option<Vec<tollgate_access::Grant>>,
    #[serde(default)]
    pub(super) error_mapping: Option<ErrorMappingBlock>,
    #[serde(default)]
    pub(super) jwt: Option<JwtBlock>,
    pub(super) backend_signature: Option<BackendSignatureBlock>,
    /// `{PluginType, PluginData}` envelopes, each read into its block (see `plugins`).
    #[serde(default)]
    pub(super) plugins: Vec<super::plugins::RawPlugin>,
    /// Where blocks read from `plugins` came from, for the errors of building them.
    #[serde(skip)]
    pub(super) origins: Vec<(&'static str, String)>,
    /// Tencent's `CreateApi` binding (`Path`, `Method`), instead of `path` and `method`.
    #[serde(default, rename = "RequestConfig")]
    pub(super) request_config: Option<RawRequestConfig>,
    /// Tencent's switch of the API's CORS (`CreateApi`'s `EnableCORS`).
    #[serde(default, rename = "EnableCORS")]
    pub(super) enable_cors: Option<bool>,
    /// Tencent's `AuthType`: `NONE`, or `SECRET` with a signature block.
    #[serde(default, rename = "AuthType")]
    pub(super) auth_type: Option<String>,
    /// Tencent's `OauthConfig` of an `AuthType: OAUTH` business API.
    #[serde(default, rename = "OauthConfig")]
    pub(super) oauth_config: Option<OauthBlock>,
    /// Tencent's `ApiBusinessType`: `NORMAL` (a business API, the default) or `OAUTH` (the
    /// authorization API, which checks no token).
    #[serde(default, rename = "ApiBusinessType")]
    pub(super) api_business_type: Option<String>,
    /// Aliyun's API-level OpenID Connect (`CreateApi`'s `OpenIdConnectConfig`).
    #[serde(default, alias = "OpenIdConnectConfig")]
    pub(super) openid_connect: Option<OidcBlock>,
    #[serde(default, rename = "RequestParameters")]
    pub(super) request_parameters: Option<RequestParams>,
    #[serde(default, rename = "ConstantParameters")]
    pub(super) constant_parameters: Option<ConstantParams>,
    #[serde(default, rename = "ServiceParameters")]
    pub(super) service_parameters: Option<ServiceParams>,
    /// Tencent's `CreateApi` name of the API (`name`).
    #[serde(default, rename = "ApiName")]
    pub(super) api_name: Option<String>,
    // The rest of a `CreateApi` request, about the back end or documentation: read so
    // that one pastes as an API, never used.
    #[serde(default, rename = "ServiceId")]
    _service_id: Option<IgnoredAny>,
    #[serde(default, rename = "ServiceType")]
    _service_type: Option<IgnoredAny>,
    #[serde(default, rename = "ServiceTimeout")]
    _service_timeout: Option<IgnoredAny>,
    #[serde(default, rename = "Protocol")]
    _protocol: Option<IgnoredAny>,
    #[serde(default, rename = "ApiDesc")]
    _api_desc: Option<IgnoredAny>,
    #[serde(default, rename = "ApiType")]
    _api_type: Option<IgnoredAny>,
    #[serde(default, rename = "ServiceConfig")]
    _service_config: Option<IgnoredAny>,
    #[serde(default, rename = "ServiceMockReturnMessage")]
    _service_mock_return_message: Option<IgnoredAny>,
    #[serde(default, rename = "ResponseType")]
    _response_type: Option<IgnoredAny>,
    #[serde(default, rename = "ResponseSuccessExample")]
    _response_success_example: Option<IgnoredAny>,
    #[serde(default, rename = "ResponseFailExample")]
    _response_fail_example: Option<IgnoredAny>,
    #[serde(default, rename = "ResponseErrorCodes")]
    _response_error_codes: Option<IgnoredAny>,
}

/// Tencent's `ApiRequestConfig`: the front end's path and method.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub(super) struct RawRequestConfig {
    pub(super) path: String,
    #[serde(default)]
    pub(super) method: Option<String>,
}

/// The type an API's block is read into: the policy's own configuration when its cargo
/// feature is on. With the feature off, a type with no values, whose reading fails naming the
/// feature; building never sees one (its `Block` impl is an empty match).
macro_rules! block {
    ($name:ident = $ty:ty, $feature:literal) => {
        #[cfg(feature = $feature)]
        pub(super) type $name = $ty;

        #[cfg(not(feature = $feature))]
        pub(super) enum $name {}

        #[cfg(not(feature = $feature))]
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                serde::de::IgnoredAny::deserialize(d)?;
                Err(de::Error::custom(concat!("this block needs tollgate's `", $feature, "` feature")))
            }
        }

        #[cfg(not(feature = $feature))]
        impl super::build::Block for $name {
            fn add_to(
                self,
                _: crate::gateway::Api,
                _: &super::build::Context<'_>,
            ) -> Result<crate::gateway::Api, ConfigError> {
                match self {}
            }
        }
    };
}

block!(CorsBlock = cors::CorsBlock, "cors");
block!(IpBlock = tollgate_ip::IpAccessConfig, "ip");
block!(BasicBlock = tollgate_flow::BasicFlowControlConfig, "flow");
block!(ParamBlock = tollgate_flow::ParamFlowControlConfig, "flow");
block!(AliyunBlock = tollgate_flow::AliyunFlowControlConfig, "flow");
block!(SignatureBlock = signature::SignatureBlock, "signature");
block!(ReplayBlock = BoolOr<replay::ReplayRule>, "replay");
block!(ParamsBlock = params::ParamsBlock, "params");
block!(OidcBlock = tollgate_token::OpenIdConnectConfig, "token");
block!(OauthBlock = tollgate_token::OauthConfig, "token");
block!(AccessBlock = access::AccessBlock, "access");
block!(ErrorMappingBlock = tollgate_error_mapping::ErrorMappingConfig, "error-mapping");
block!(RequestParams = Vec<tollgate_params::tencent::RequestParameter>, "params");
block!(ConstantParams = Vec<tollgate_params::tencent::ConstantParameter>, "params");
block!(ServiceParams = Vec<tollgate_params::tencent::ServiceParameter>, "params");
block!(JwtBlock = jwt::JwtBlock, "token");
block!(BackendSignatureBlock = tollgate_signature::aliyun_backend::BackendSignatureConfig, "signature");

// ---------------------------------------------------------------------------------------
// Shapes of values several blocks use

/// One string or a list of strings.
pub(super) struct OneOrMany(pub(super) Vec<String>);

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
pub(super) enum BoolOr<T> {
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
#[cfg(any(feature = "signature", feature = "replay"))]
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
// The blocks of policies that have no configuration type of their own (or several)

/// CORS: the switch, Tencent's `{switch, plugin}`, or a plugin alone.
#[cfg(feature = "cors")]
pub(super) mod cors {
    use super::*;

    pub(crate) enum CorsBlock {
        Switch(bool),
        /// Tencent's `EnableCORS: true` alone: the switch, answering preflights too.
        Enabled,
        /// `EnableCORS: true` beside a plugin (given as the block or in an envelope).
        EnabledWith(tollgate_cors::CorsPlugin),
        Config(tollgate_cors::CorsConfig),
        Plugin(tollgate_cors::CorsPlugin),
    }

    /// Deserializes from a buffered value, keeping the field path of an error in its message.
    fn from_value<T: serde::de::DeserializeOwned, E: de::Error>(value: serde_json::Value) -> Result<T, E> {
        serde_path_to_error::deserialize(value).map_err(|e| {
            let path = path_of(e.path());
            let inner = e.into_inner();
            if path.is_empty() { E::custom(inner) } else { E::custom(format!("{path}: {inner}")) }
        })
    }

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
}

/// Signature: the scheme, its keys and their secrets.
#[cfg(feature = "signature")]
pub(super) mod signature {
    use super::*;

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(crate) struct SignatureBlock {
        pub(crate) scheme: SchemeName,
        pub(crate) keys: Keys,
        #[serde(default, deserialize_with = "duration")]
        pub(crate) window: Option<Duration>,
        #[serde(default)]
        pub(crate) body_limit: Option<usize>,
        /// Tencent schemes: remember each signature as a nonce (accepted once in the window).
        #[serde(default)]
        pub(crate) remember_signatures: bool,
    }

    #[derive(Clone, Copy, Deserialize)]
    pub(crate) enum SchemeName {
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
    pub(crate) enum Keys {
        Map(Vec<(String, Vec<String>)>),
        List(Vec<KeyEntry>),
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(crate) struct KeyEntry {
        pub(crate) id: String,
        #[serde(default)]
        pub(crate) secret: Option<String>,
        #[serde(default)]
        pub(crate) secrets: Vec<String>,
        #[serde(default)]
        pub(crate) app_id: Option<String>,
        #[serde(default)]
        pub(crate) disabled: bool,
        /// Security tokens of a temporary key (which then needs one): `aliyun-rpc`'s
        /// `SecurityToken`, `tencent-cloud`'s `X-TC-Token` / `Token`.
        #[serde(default)]
        pub(crate) tokens: Vec<TokenEntry>,
    }

    /// A security token and when it expires (RFC 3339, as STS's `Expiration`).
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(crate) struct TokenEntry {
        pub(crate) token: String,
        pub(crate) expires: String,
    }

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
}

/// Replay: a preset, or the headers a guard reads.
#[cfg(feature = "replay")]
pub(super) mod replay {
    use super::*;

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(crate) struct ReplayRule {
        /// A preset header rule: `aliyun-apigw`.
        #[serde(default)]
        pub(crate) headers: Option<ReplayPreset>,
        #[serde(default)]
        pub(crate) timestamp: Option<String>,
        #[serde(default)]
        pub(crate) format: Option<TimestampName>,
        #[serde(default, deserialize_with = "duration")]
        pub(crate) window: Option<Duration>,
        #[serde(default)]
        pub(crate) nonce: Option<String>,
        #[serde(default)]
        pub(crate) per_key: Option<String>,
        /// Refuse a signed request without its scheme's nonce (default true).
        #[serde(default)]
        pub(crate) require_nonce: Option<bool>,
    }

    #[derive(Deserialize)]
    pub(crate) enum ReplayPreset {
        #[serde(rename = "aliyun-apigw", alias = "aliyun_apigw")]
        AliyunApigw,
    }

    #[derive(Clone, Copy, Deserialize)]
    #[serde(rename_all = "snake_case")]
    pub(crate) enum TimestampName {
        EpochMillis,
        EpochSeconds,
        HttpDate,
    }
}

/// Parameters: validation, then injection and mapping.
#[cfg(feature = "params")]
pub(super) mod params {
    use super::*;

    /// Parameter rules: validation, then injection and mapping (the params crate's configs).
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(crate) struct ParamsBlock {
        #[serde(default)]
        pub(crate) validation: Option<tollgate_params::ParamValidationConfig>,
        #[serde(default)]
        pub(crate) injection: Option<tollgate_params::ParamInjectionConfig>,
    }
}

/// Aliyun parameter access control: the plug-in itself, or its text in a string.
#[cfg(feature = "access")]
pub(super) mod access {
    use super::*;

    /// The `accessControl` plug-in pasted as the block's value (a table), or its text as
    /// the console holds it (a string of YAML or JSON).
    pub(crate) enum AccessBlock {
        Config(tollgate_access::AccessControlConfig),
        Text(String),
    }

    impl<'de> Deserialize<'de> for AccessBlock {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = AccessBlock;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("the accessControl plug-in ({parameters, rules}), or its text")
                }
                fn visit_str<E: de::Error>(self, v: &str) -> Result<AccessBlock, E> {
                    Ok(AccessBlock::Text(v.to_owned()))
                }
                fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<AccessBlock, A::Error> {
                    Deserialize::deserialize(MapAccessDeserializer::new(map)).map(AccessBlock::Config)
                }
            }
            d.deserialize_any(V)
        }
    }
}

/// Aliyun's JWT plug-in (`jwtAuth`): the plug-in itself, or its text in a string.
#[cfg(feature = "token")]
pub(super) mod jwt {
    use super::*;

    /// The `jwtAuth` plug-in pasted as the block's value (a table), or its text as the
    /// console holds it (a string of YAML or JSON).
    pub(crate) enum JwtBlock {
        Config(Box<tollgate_token::JwtAuthConfig>),
        Text(String),
    }

    impl<'de> Deserialize<'de> for JwtBlock {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = JwtBlock;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("the jwtAuth plug-in ({parameter, jwk, ...}), or its text")
                }
                fn visit_str<E: de::Error>(self, v: &str) -> Result<JwtBlock, E> {
                    Ok(JwtBlock::Text(v.to_owned()))
                }
                fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<JwtBlock, A::Error> {
                    Deserialize::deserialize(MapAccessDeserializer::new(map)).map(|c| JwtBlock::Config(Box::new(c)))
                }
            }
            d.deserialize_any(V)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_block_whose_feature_is_off_is_refused_naming_it() {
        let read = parse(r#"{"apis": [{"path": "/", "cors": true, "replay": true}]}"#, Format::Json);
        match (cfg!(feature = "cors"), cfg!(feature = "replay")) {
            (true, true) => assert!(read.is_ok()),
            (false, _) => {
                let e = read.err().expect("refused");
                let text = e.to_string();
                assert!(text.starts_with("apis[0].cors: this block needs tollgate's `cors` feature"), "{text}");
            }
            (true, false) => {
                let e = read.err().expect("refused");
                let text = e.to_string();
                assert!(text.starts_with("apis[0].replay: this block needs tollgate's `replay` feature"), "{text}");
            }
        }
    }
}
