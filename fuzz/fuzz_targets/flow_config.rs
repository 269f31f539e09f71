//! Flow-control configuration from arbitrary bytes: the three plugin JSON shapes (Aliyun's in
//! both spellings, the `trafficControl` plug-in's camelCase and the OpenAPI's PascalCase), the
//! Aliyun plug-in as YAML too, and when one builds, the checks it names for a request built
//! from the rest of the input. No panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate_core::{Caller, ClientIp};
use tollgate_flow::{
    AliyunFlowControlConfig, AliyunLimits, BasicFlowControlConfig, BasicLimits, Checks, FlowPolicy, FlowRequest,
    ParamFlowControlConfig, ParamLimits,
};

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    let (config, rest) = data.split_at(split);
    let text = String::from_utf8_lossy(rest);
    let mut policies: Vec<Box<dyn FlowPolicy>> = Vec::new();
    if let Ok(c) = serde_json::from_slice::<BasicFlowControlConfig>(config) {
        if let Ok(p) = BasicLimits::from_config(&c) {
            policies.push(Box::new(p));
        }
    }
    if let Ok(c) = serde_json::from_slice::<ParamFlowControlConfig>(config) {
        if let Ok(p) = ParamLimits::from_config(&c) {
            policies.push(Box::new(p));
        }
    }
    if let Ok(c) = serde_json::from_slice::<AliyunFlowControlConfig>(config) {
        if let Ok(p) = AliyunLimits::from_config(&c) {
            policies.push(Box::new(p));
        }
    }
    // the plug-in is written as YAML as often as JSON (the CreatePlugin example is YAML)
    if let Ok(text) = std::str::from_utf8(config) {
        if let Ok(c) = serde_norway::from_str::<AliyunFlowControlConfig>(text) {
            if let Ok(p) = AliyunLimits::from_config(&c) {
                policies.push(Box::new(p));
            }
        }
    }
    let target: String = text.chars().filter(|c| c.is_ascii_graphic()).collect();
    let uri = format!("/{}", target.trim_start_matches('/')).parse::<http::Uri>().unwrap_or_default();
    let mut req = http::Request::get(uri).body(()).unwrap();
    if let Ok(value) = http::HeaderValue::from_str(&target) {
        req.headers_mut().insert("x-user", value);
    }
    // the caller is named by the input, and its user too when the input has a second NUL
    let (app, user) = text.split_once('\0').unwrap_or((&text, "u"));
    req.extensions_mut().insert(Caller::new(app.to_string()).with_user(user.to_string()));
    req.extensions_mut().insert(ClientIp::direct([127, 0, 0, 1].into()));
    let view =
        FlowRequest { method: req.method(), uri: req.uri(), headers: req.headers(), extensions: req.extensions() };
    for policy in &policies {
        let mut out = Checks::default();
        // a refusal (an ambiguous or unreadable key) is an answer too; only a panic fails
        if policy.checks(&view, &mut out).is_ok() {
            for take in out.takes() {
                let _ = take.key.to_string();
            }
        }
    }
});
