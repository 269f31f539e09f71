//! The plug-in envelope of both clouds' `CreatePlugin`: an API's `plugins:` list of
//! `{PluginType, PluginData}`, each read as the block its type names.
//!
//! | `PluginType` (Tencent) | (Aliyun) | read as the block |
//! |---|---|---|
//! | `IPControl` | `ipControl` | `ip_access` |
//! | `TrafficControl` | | `basic_flow_control` |
//! | `TrafficControlByParameter` | | `param_flow_control` |
//! | | `trafficControl` | `aliyun_flow_control` |
//! | `Cors` | `cors` | `cors` |
//! | | `accessControl` | `access_control` |
//! | | `errorMapping` | `error_mapping` |
//! | | `jwtAuth` | `jwt` |
//! | | `backendSignature` | `backend_signature` |
//!
//! Types are matched exactly: Tencent's `TrafficControl` and Aliyun's `trafficControl`
//! differ only in case and are different plug-ins. A type tollgate does not implement
//! (Tencent's `CustomReq`, `CustomAuth`, `Routing`, `CircuitBreaker`, `ProxyCache`; Aliyun's
//! `caching`, `basicAuth`, `routing`, `circuitBreaker`,
//! `remoteAuth`) is a configuration error naming it: a policy the operator
//! asked for is never silently left out.
//!
//! `PluginData` is text, as the clouds' APIs take it — JSON (Tencent and Aliyun) or YAML
//! (Aliyun; with the `yaml` feature) — or, for convenience, the object itself. `PluginName`
//! and `Description` are read and not used. Errors inside the data name the path into it:
//! `apis[0].plugins[1].PluginData.api_rate_limit`.
//!
//! A block given twice on one API — two envelopes of one type, or an envelope and the block
//! itself — is an error naming both.

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::ConfigError;
use super::read::RawApi;

/// One `{PluginType, PluginData}` envelope.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPlugin {
    #[serde(rename = "PluginType")]
    plugin_type: String,
    #[serde(rename = "PluginData")]
    plugin_data: Value,
    /// Read, not used: the API's own `name` names its flow-control keys.
    #[serde(default, rename = "PluginName")]
    _name: Option<String>,
    #[serde(default, rename = "Description")]
    _description: Option<String>,
}

/// The gateway block a plug-in type is read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BlockKind {
    Cors,
    IpAccess,
    BasicFlowControl,
    ParamFlowControl,
    AliyunFlowControl,
    AccessControl,
    ErrorMapping,
    Jwt,
    BackendSignature,
}

impl BlockKind {
    /// The block's key in an API.
    pub(crate) fn key(self) -> &'static str {
        match self {
            Self::Cors => "cors",
            Self::IpAccess => "ip_access",
            Self::BasicFlowControl => "basic_flow_control",
            Self::ParamFlowControl => "param_flow_control",
            Self::AliyunFlowControl => "aliyun_flow_control",
            Self::AccessControl => "access_control",
            Self::ErrorMapping => "error_mapping",
            Self::Jwt => "jwt",
            Self::BackendSignature => "backend_signature",
        }
    }
}

/// Types tollgate implements, as each cloud spells them.
const KNOWN: [(&str, BlockKind); 11] = [
    ("IPControl", BlockKind::IpAccess),
    ("TrafficControl", BlockKind::BasicFlowControl),
    ("TrafficControlByParameter", BlockKind::ParamFlowControl),
    ("Cors", BlockKind::Cors),
    ("ipControl", BlockKind::IpAccess),
    ("trafficControl", BlockKind::AliyunFlowControl),
    ("cors", BlockKind::Cors),
    ("accessControl", BlockKind::AccessControl),
    ("errorMapping", BlockKind::ErrorMapping),
    ("jwtAuth", BlockKind::Jwt),
    ("backendSignature", BlockKind::BackendSignature),
];

/// Types the clouds document that tollgate does not implement.
const NOT_IMPLEMENTED: [&str; 10] = [
    "CustomReq",
    "CustomAuth",
    "Routing",
    "CircuitBreaker",
    "ProxyCache",
    "caching",
    "basicAuth",
    "routing",
    "circuitBreaker",
    "remoteAuth",
];

/// The block a `PluginType` is read as; the error says why not.
pub(crate) fn kind(plugin_type: &str) -> Result<BlockKind, String> {
    if let Some((_, kind)) = KNOWN.iter().find(|(name, _)| *name == plugin_type) {
        return Ok(*kind);
    }
    let names = KNOWN.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ");
    if NOT_IMPLEMENTED.contains(&plugin_type) {
        return Err(format!("the plug-in type {plugin_type:?} is not implemented by tollgate (it implements {names})"));
    }
    Err(format!("unknown plug-in type {plugin_type:?}, expected one of {names} (names are case-sensitive)"))
}

/// Moves each envelope of `api.plugins` into the block its type names, noting where it came
/// from for the errors of building it. Error paths are relative to the API.
pub(super) fn resolve(api: &mut RawApi) -> Result<(), ConfigError> {
    for (i, plugin) in std::mem::take(&mut api.plugins).into_iter().enumerate() {
        let at = format!("plugins[{i}]");
        let kind = kind(&plugin.plugin_type).map_err(|e| ConfigError::new(format!("{at}.PluginType"), e))?;
        let data = data(plugin.plugin_data).map_err(|e| e.within(format!("{at}.PluginData")))?;
        if let Some((_, first)) = api.origins.iter().find(|(k, _)| *k == kind.key()) {
            return Err(ConfigError::new(
                format!("{at}.PluginType"),
                format!(
                    "{} is given twice on this API: as {} and as {at} ({})",
                    kind.key(),
                    first.trim_end_matches(".PluginData"),
                    plugin.plugin_type
                ),
            ));
        }
        let from = format!("{at}.PluginData");
        match kind {
            BlockKind::Cors => put(&mut api.cors, data, &from, kind.key())?,
            BlockKind::IpAccess => put(&mut api.ip_access, data, &from, kind.key())?,
            BlockKind::BasicFlowControl => put(&mut api.basic_flow_control, data, &from, kind.key())?,
            BlockKind::ParamFlowControl => put(&mut api.param_flow_control, data, &from, kind.key())?,
            BlockKind::AliyunFlowControl => put(&mut api.aliyun_flow_control, data, &from, kind.key())?,
            BlockKind::AccessControl => put(&mut api.access_control, data, &from, kind.key())?,
            BlockKind::ErrorMapping => put(&mut api.error_mapping, data, &from, kind.key())?,
            BlockKind::Jwt => put(&mut api.jwt, data, &from, kind.key())?,
            BlockKind::BackendSignature => put(&mut api.backend_signature, data, &from, kind.key())?,
        }
        api.origins.push((kind.key(), from));
    }
    Ok(())
}

/// Where each block of an API was read: `plugins[N].PluginData` for those that came in an
/// envelope, the block's own key for the others.
pub(super) fn origin<'a>(origins: &'a [(&'static str, String)], key: &'a str) -> &'a str {
    origins.iter().find(|(k, _)| *k == key).map_or(key, |(_, from)| from.as_str())
}

/// The block in `slot`, read from `data`; a block already there was written in the API
/// itself: an error naming both.
fn put<B: DeserializeOwned>(slot: &mut Option<B>, data: Value, from: &str, key: &str) -> Result<(), ConfigError> {
    if slot.is_some() {
        let at = from.trim_end_matches(".PluginData");
        return Err(ConfigError::new(
            format!("{at}.PluginType"),
            format!("{key} is given twice on this API: as {key} and as {at}"),
        ));
    }
    let block = serde_path_to_error::deserialize(data).map_err(|e| {
        let path = e.path().to_string();
        let message = e.into_inner().to_string();
        // a block that checks itself as a whole names the field in its message: lift it
        match (path.as_str(), leading_field(&message)) {
            (".", Some((field, problem))) => ConfigError::new(field, problem),
            (".", None) => ConfigError::new("", message),
            _ => ConfigError::new(path, message),
        }
        .within(from)
    })?;
    *slot = Some(block);
    Ok(())
}

/// `items[0].blocks: entry 1 ...` as (`items[0].blocks`, `entry 1 ...`).
fn leading_field(message: &str) -> Option<(&str, &str)> {
    let (field, problem) = message.split_once(": ")?;
    let ok = field.starts_with(|c: char| c.is_ascii_alphabetic())
        && field.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '[' | ']'));
    ok.then_some((field, problem))
}

/// `PluginData`: JSON or YAML text, or the object itself.
fn data(value: Value) -> Result<Value, ConfigError> {
    let text = match value {
        Value::String(text) => text,
        object @ Value::Object(_) => return Ok(object),
        other => {
            return Err(ConfigError::new(
                "",
                format!("expected the plug-in's JSON or YAML text, or an object, got {other}"),
            ));
        }
    };
    match serde_json::from_str::<Value>(&text) {
        Ok(value) => Ok(value),
        Err(json) => {
            // text that opens as JSON is JSON: say where it breaks
            if text.trim_start().starts_with(['{', '[']) {
                return Err(ConfigError::new("", format!("invalid JSON: {json}")));
            }
            yaml(&text)
        }
    }
}

#[cfg(feature = "yaml")]
fn yaml(text: &str) -> Result<Value, ConfigError> {
    serde_norway::from_str::<Value>(text).map_err(|e| ConfigError::new("", format!("invalid YAML: {e}")))
}

#[cfg(not(feature = "yaml"))]
fn yaml(_: &str) -> Result<Value, ConfigError> {
    Err(ConfigError::new("", "expected JSON (YAML plug-in data needs tollgate's `yaml` feature)"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::strategy::Strategy;

    #[test]
    fn types_are_matched_exactly() {
        assert_eq!(kind("TrafficControl"), Ok(BlockKind::BasicFlowControl));
        assert_eq!(kind("trafficControl"), Ok(BlockKind::AliyunFlowControl));
        assert_eq!(kind("IPControl"), Ok(BlockKind::IpAccess));
        assert_eq!(kind("ipControl"), Ok(BlockKind::IpAccess));
        assert!(kind("ipcontrol").unwrap_err().starts_with("unknown plug-in type \"ipcontrol\""));
        assert!(kind("CustomReq").unwrap_err().contains("not implemented"));
        assert!(kind("caching").unwrap_err().contains("not implemented"));
    }

    proptest::proptest! {
        /// Any envelope list reads and builds without panicking, and an error names a field
        /// under the API's plugins (or the API, for a block the envelopes repeat).
        #[test]
        fn envelopes_never_panic(
            plugins in proptest::collection::vec((
                proptest::sample::select(vec![
                    "IPControl", "TrafficControl", "TrafficControlByParameter", "Cors", "ipControl",
                    "trafficControl", "cors", "accessControl", "CustomReq", "Ipcontrol", "",
                ]),
                proptest::prop_oneof![
                    proptest::sample::select(vec![
                        r#"{"type": "white_list", "blocks": "10.0.0.0/8"}"#,
                        r#"{"expire_type": "minute", "api_rate_limit": 3}"#,
                        r#"{"allow_origin": ["*"], "allow_methods": ["GET"], "max_age": 1}"#,
                        "allowMethods: GET", "{\"Unit\": \"SECOND\", \"ApiDefault\": 1}", "---\n- 1", "{",
                    ]).prop_map(|s: &str| s.to_owned()),
                    "\\PC{0,30}",
                ],
                proptest::bool::ANY,
            ), 0..4),
        ) {
            let list: Vec<Value> = plugins.iter().map(|(ty, data, as_object)| {
                let data = match serde_json::from_str::<Value>(data) {
                    Ok(object @ Value::Object(_)) if *as_object => object,
                    _ => Value::String(data.clone()),
                };
                serde_json::json!({"PluginType": ty, "PluginData": data, "PluginName": "p1"})
            }).collect();
            let text = serde_json::json!({"apis": [{"path": "/p/", "plugins": list}]}).to_string();
            let built = crate::gateway::Gateway::from_config(&text, super::super::Format::Json);
            if let Err(e) = built {
                proptest::prop_assert!(e.field.starts_with("apis[0].plugins[") || e.field == "apis[0]", "{}", e);
            }
        }
    }

    #[test]
    fn a_field_named_in_a_message_is_lifted() {
        assert_eq!(leading_field("items[0].blocks: entry 1 (\"x\")"), Some(("items[0].blocks", "entry 1 (\"x\")")));
        assert_eq!(leading_field("invalid type: map"), None);
        assert_eq!(leading_field("unknown field `a`: x"), None);
    }

    #[test]
    fn data_is_text_or_an_object() {
        assert_eq!(data(Value::String(r#"{"a": 1}"#.into())).unwrap(), serde_json::json!({"a": 1}));
        assert_eq!(data(serde_json::json!({"a": 1})).unwrap(), serde_json::json!({"a": 1}));
        assert!(data(Value::String(r#"{"a": "#.into())).unwrap_err().problem.starts_with("invalid JSON"));
        assert!(data(serde_json::json!(7)).is_err());
        if cfg!(feature = "yaml") {
            assert_eq!(
                data(Value::String("---\nunit: SECOND\n".into())).unwrap(),
                serde_json::json!({"unit": "SECOND"})
            );
        }
    }
}
