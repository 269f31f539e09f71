//! Parameter access control from arbitrary bytes: the plug-in's text (YAML or JSON) with its
//! parameters, conditions and templates, and when it builds, its rules run on a request made
//! from the rest of the input (a path, a query, headers, claims, a form body). No panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate_access::AccessControlLayer;
use tollgate_core::{Caller, ClientIp, PathTemplate, TokenClaims};

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    let (config, rest) = data.split_at(split);
    let Ok(text) = std::str::from_utf8(config) else { return };
    let Ok(layer) = AccessControlLayer::from_plugin(text) else { return };
    let rest = String::from_utf8_lossy(rest);
    let target: String = rest.chars().filter(|c| c.is_ascii_graphic()).collect();
    let uri = format!("/{}", target.trim_start_matches('/')).parse::<http::Uri>().unwrap_or_default();
    let mut req =
        http::Request::post(uri).header("content-type", "application/x-www-form-urlencoded").body(()).unwrap();
    if let Ok(value) = http::HeaderValue::from_bytes(rest.as_bytes()) {
        req.headers_mut().append("x-user", value.clone());
        req.headers_mut().append("x-forwarded-for", value);
    }
    req.extensions_mut().insert(Caller::new(rest.to_string()).with_app_id("4534463"));
    req.extensions_mut().insert(ClientIp::direct([106, 11, 31, 7].into()));
    req.extensions_mut().insert(TokenClaims::new(serde_json::json!({"userId": rest, "userType": "user"})));
    if let Some(params) = PathTemplate::parse("/{userId}").ok().and_then(|t| t.matches(req.uri().path())) {
        req.extensions_mut().insert(params);
    }
    // a refusal is an answer too; only a panic fails
    let _ = layer.check(&req, None);
    let _ = layer.check(&req, Some(rest.as_bytes()));
});
