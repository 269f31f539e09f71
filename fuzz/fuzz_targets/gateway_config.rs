//! A gateway configuration from arbitrary bytes, in each format: refused with an error
//! naming the field, or built; never a panic. The bytes are also tried as the `PluginData`
//! of every plug-in envelope type and as a Tencent `CreateApi` object (its parameter blocks),
//! where an error must name a field under that API.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};
use tollgate::gateway::{Format, Gateway};

const PLUGIN_TYPES: [&str; 11] = [
    "IPControl",
    "TrafficControl",
    "TrafficControlByParameter",
    "Cors",
    "ipControl",
    "trafficControl",
    "cors",
    "accessControl",
    "errorMapping",
    "CustomReq",
    "ipcontrol",
];

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for format in [Format::Json, Format::Yaml, Format::Toml] {
        if let Err(e) = Gateway::from_config(&text, format) {
            assert!(!e.to_string().is_empty());
        }
    }
    for ty in PLUGIN_TYPES {
        let config = json!({"apis": [{"path": "/p/{a}", "plugins": [{"PluginType": ty, "PluginData": text}]}]});
        if let Err(e) = Gateway::from_config(&config.to_string(), Format::Json) {
            assert!(e.field.starts_with("apis[0].plugins[0].Plugin"), "{e}");
        }
    }
    if let Ok(Value::Object(mut api)) = serde_json::from_str::<Value>(&text) {
        api.remove("path");
        api.entry("RequestConfig").or_insert(json!({"Path": "/users/[userId]/{b}"}));
        let config = json!({"apis": [Value::Object(api)]});
        if let Err(e) = Gateway::from_config(&config.to_string(), Format::Json) {
            assert!(e.field.starts_with("apis[0]"), "{e}");
        }
    }
});
