//! The whole stack the stack benches measure: every policy in the canonical order, in-memory
//! stores, limits never reached.

use std::time::Duration;

use axum::{Router, routing::get};
use tollgate::flow::{BasicFlowControlConfig, BasicLimits, FlowControlLayer};
use tollgate::params::{Param, ParamInjectionConfig, ParamValidationConfig, Position};
use tollgate::prelude::*;
use tollgate::signature::aliyun_apigw::AliyunApiGateway;

pub(crate) const APP_KEY: &str = "203753741";
pub(crate) const SECRET: &str = "stack-bench-secret";

/// The bare hello-world route.
pub(crate) fn bare() -> Router {
    Router::new().route("/", get(|| async { "hello" }))
}

/// The same route behind request id, client IP, CORS, IP access, flow control by API and IP,
/// the Aliyun signature, the replay guard, flow control by app, parameter validation and
/// injection.
pub(crate) fn full_stack() -> Result<Router, Box<dyn std::error::Error>> {
    Ok(prefixes()?.pop().expect("ten layers").1)
}

/// The stack built up one policy at a time, outermost first: `(policy added, route)` for the
/// first 1, 2, ... 10 layers, so each policy's cost can be read in place.
pub(crate) fn prefixes() -> Result<Vec<(&'static str, Router)>, Box<dyn std::error::Error>> {
    let outer: BasicFlowControlConfig = serde_json::from_str(
        r#"{"expire_type": "second", "api_rate_limit": 4000000000, "ip_rate_limit": 4000000000}"#,
    )?;
    let by_app = BasicLimits::new(4_000_000_000, Duration::from_secs(1), None)?.app_limit(4_000_000_000)?.named("app");
    let validation = ParamValidationLayer::from_config(
        &ParamValidationConfig::new().param(Param::query("page").int().default(1).min(1)),
    )?;
    let injection =
        ParamInjectionLayer::from_config(&ParamInjectionConfig::new().constant(Position::Header, "x-env", "prod"))?;
    let cors = CorsLayer::new().allow_origin(["http://localhost:8080"])?;
    let ip = IpAccessLayer::allow(["127.0.0.1", "::1"])?;
    let flow = BasicFlowControlLayer::from_config(&outer)?;
    let signature = SignatureLayer::new(AliyunApiGateway::new(), MemorySecretStore::new().with_key(APP_KEY, SECRET));
    let by_app = FlowControlLayer::new(by_app);
    // one ServiceBuilder, outermost first, applied with a single `Router::layer`: axum boxes
    // the route once per `.layer` call, so stacking ten calls costs ten boxed futures
    let b = tower::ServiceBuilder::new().layer(RequestIdLayer::new());
    let mut out = vec![("request id", bare().layer(b.clone()))];
    let b = b.layer(ClientIpLayer::new());
    out.push(("client ip", bare().layer(b.clone())));
    let b = b.layer(cors);
    out.push(("cors", bare().layer(b.clone())));
    let b = b.layer(ip);
    out.push(("ip access", bare().layer(b.clone())));
    let b = b.layer(flow);
    out.push(("flow by api and ip", bare().layer(b.clone())));
    let b = b.layer(signature);
    out.push(("signature", bare().layer(b.clone())));
    let b = b.layer(ReplayGuardLayer::new());
    out.push(("replay", bare().layer(b.clone())));
    let b = b.layer(by_app);
    out.push(("flow by app", bare().layer(b.clone())));
    let b = b.layer(validation);
    out.push(("param validation", bare().layer(b.clone())));
    let b = b.layer(injection);
    out.push(("param injection", bare().layer(b)));
    Ok(out)
}
