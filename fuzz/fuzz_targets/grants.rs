//! App grants from arbitrary bytes: a grant list as YAML or JSON, and when it builds, a request
//! with an arbitrary `X-Ca-Stage` and caller (an app key or a token subject). No panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate_access::grants::{Grant, GrantsLayer};
use tollgate_core::Caller;

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    let (config, rest) = data.split_at(split);
    let Ok(text) = std::str::from_utf8(config) else { return };
    let Ok(grants) = serde_norway::from_str::<Vec<Grant>>(text) else { return };
    let Ok(layer) = GrantsLayer::new(grants) else { return };
    let rest = String::from_utf8_lossy(rest);
    for caller in [Caller::new(rest.to_string()), Caller::from_token(rest.to_string()), Caller::new("k").with_app_id(rest.to_string())] {
        let mut req = http::Request::get("/").body(()).unwrap();
        if let Ok(value) = http::HeaderValue::from_bytes(rest.as_bytes()) {
            req.headers_mut().append("x-ca-stage", value.clone());
            if rest.len() % 2 == 1 {
                req.headers_mut().append("x-ca-stage", value);
            }
        }
        req.extensions_mut().insert(caller);
        // a refusal is an answer too; only a panic fails
        let _ = layer.check(&req);
    }
});
