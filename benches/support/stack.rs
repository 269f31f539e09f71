//! The whole stack the stack benches measure: every policy in the canonical order, in-memory
//! stores, limits never reached.

use std::time::Duration;

use axum::{Router, routing::get};
use tollgate::MemoryNonceStore;
use tollgate::flow::{BasicFlowControlConfig, ParamFlowControlConfig, ParamFlowControlLayer};
use tollgate::params::{Param, ParamInjectionConfig, ParamValidationConfig, Position};
use tollgate::prelude::*;
use tollgate::signature::aliyun_apigw::AliyunApiGateway;

pub(crate) const APP_KEY: &str = "203753741";
pub(crate) const SECRET: &str = "stack-bench-secret";

/// The bare hello-world route.
pub(crate) fn bare() -> Router {
    Router::new().route("/", get(|| async { "hello" }))
}

/// The bare route behind an empty `ServiceBuilder`: what `Router::layer` costs with no
/// policy in it, the floor under the first prefix of [`prefixes`].
#[allow(dead_code)] // stack_call reads it, stack does not
pub(crate) fn no_layer() -> Router {
    bare().layer(tower::ServiceBuilder::new())
}

/// The policies of [`full_stack`] but one, read from a YAML file as most users declare them:
/// one API with every block on (CORS, IP access, basic flow control by API and IP, the
/// Aliyun signature, the replay guard, validation and injection), the gateway adding the
/// request id and the client address. Not parameter flow control by app key: a file gives
/// an API one flow-control plug-in (issue 19), so `gateway` runs one layer fewer than
/// `full` and `gateway_code`, which stack both by hand.
pub(crate) const GATEWAY_YAML: &str = r#"
request_id: true
# room for every nonce a long bench run signs with its one key (one key may fill it)
nonce_store: {capacity: 20000000, max_share: 1.0}
apis:
  - name: root
    method: GET
    path: "= /"
    cors:
      allow_origin: [http://localhost:8080]
      allow_methods: [GET, HEAD, POST]
      max_age: 600
    ip_access: {type: white_list, blocks: "127.0.0.1\n::1"}
    basic_flow_control: {expire_type: second, api_rate_limit: 4000000000, ip_rate_limit: 4000000000}
    signature:
      scheme: aliyun-apigw
      keys: {"203753741": "stack-bench-secret"}
    replay: true
    params:
      validation: {params: [{name: page, position: query, type: int, default: 1, min: 1}]}
      injection: {constants: [{name: x-env, position: header, value: prod}]}
"#;

/// The bare route behind the [`Gateway`](tollgate::Gateway) [`GATEWAY_YAML`] declares.
pub(crate) fn gateway_stack() -> Result<Router, Box<dyn std::error::Error>> {
    let gateway = tollgate::Gateway::from_config(GATEWAY_YAML, tollgate::gateway::Format::Yaml)?;
    Ok(bare().layer(gateway.into_layer()))
}

/// The same route behind request id, client IP, CORS, IP access, flow control by API and IP,
/// the Aliyun signature, the replay guard, parameter flow control by app key, validation and
/// injection.
pub(crate) fn full_stack() -> Result<Router, Box<dyn std::error::Error>> {
    Ok(prefixes()?.pop().expect("ten layers").1)
}

/// The configured policies of the hand-stacked stack (request id, client IP and the replay
/// guard take no configuration).
struct Policies {
    cors: CorsLayer,
    ip: IpAccessLayer,
    flow: BasicFlowControlLayer,
    signature: SignatureLayer<AliyunApiGateway, MemorySecretStore>,
    by_app: ParamFlowControlLayer,
    validation: ParamValidationLayer,
    injection: ParamInjectionLayer,
}

fn policies() -> Result<Policies, Box<dyn std::error::Error>> {
    let outer: BasicFlowControlConfig = serde_json::from_str(
        r#"{"expire_type": "second", "api_rate_limit": 4000000000, "ip_rate_limit": 4000000000}"#,
    )?;
    // the YAML's parameter flow control, keyed by the app key's header: the same block, so
    // `gateway` and `full` measure the same policies
    let by_app: ParamFlowControlConfig = serde_json::from_str(
        r#"{"default_window": 1, "default_rate_limit": 4000000000, "strategies": [{"name": "app",
            "strategy_weight": 1, "parameters": [{"type": "header", "name": "x-ca-key"}],
            "rate_limit": 4000000000, "window": 1}]}"#,
    )?;
    Ok(Policies {
        cors: CorsLayer::new()
            .allow_origin(["http://localhost:8080"])?
            .allow_methods(["GET", "HEAD", "POST"])?
            .max_age(Duration::from_secs(600))?,
        ip: IpAccessLayer::allow(["127.0.0.1", "::1"])?,
        flow: BasicFlowControlLayer::from_config(&outer)?,
        signature: SignatureLayer::new(AliyunApiGateway::new(), MemorySecretStore::new().with_key(APP_KEY, SECRET)),
        by_app: ParamFlowControlLayer::from_config(&by_app)?,
        validation: ParamValidationLayer::from_config(
            &ParamValidationConfig::new().param(Param::query("page").int().default(1).min(1)),
        )?,
        injection: ParamInjectionLayer::from_config(&ParamInjectionConfig::new().constant(
            Position::Header,
            "x-env",
            "prod",
        ))?,
    })
}

/// The hand-stacked policies put in a [`Gateway`](tollgate::Gateway) built in code: what
/// the gateway's type erasure costs, apart from what the configuration file declares.
pub(crate) fn gateway_in_code() -> Result<Router, Box<dyn std::error::Error>> {
    let p = policies()?;
    let gateway = tollgate::Gateway::new()
        .cors(p.cors)
        .ip_access(p.ip)
        .flow(p.flow)
        .signature(p.signature)
        .replay(replay())
        .param_flow(p.by_app)
        .param_validation(p.validation)
        .param_injection(p.injection);
    Ok(bare().layer(gateway.into_layer()))
}

/// The replay guard with room for every nonce a long bench run signs with its one key (the
/// default store lets one key hold half of 1,000,000, which a run of a few seconds passes).
fn replay() -> ReplayGuardLayer<MemoryNonceStore> {
    ReplayGuardLayer::with_store(MemoryNonceStore::with_capacity(20_000_000).max_share(1.0))
}

/// Hands each layer of the hand stack, outermost first, to `$step!(builder, name, layer)`,
/// which adds it to the builder: one list for `prefixes` and `future_sizes`, so both measure
/// the same stack. Each step changes the builder's type: hence a macro, not a loop.
macro_rules! each_layer {
    ($policies:expr, $step:ident) => {
        let Policies { cors, ip, flow, signature, by_app, validation, injection } = $policies;
        let b = tower::ServiceBuilder::new();
        $step!(b, "request id", RequestIdLayer::new());
        $step!(b, "client ip", ClientIpLayer::new());
        $step!(b, "cors", cors);
        $step!(b, "ip access", ip);
        $step!(b, "flow by api and ip", flow);
        $step!(b, "signature", signature);
        $step!(b, "replay", replay());
        $step!(b, "param flow by app key", by_app);
        $step!(b, "param validation", validation);
        $step!(b, "param injection", injection);
    };
}

/// The stack built up one policy at a time, outermost first: `(policy added, route)` for the
/// first 1, 2, ... 10 layers, so each policy's cost can be read in place.
pub(crate) fn prefixes() -> Result<Vec<(&'static str, Router)>, Box<dyn std::error::Error>> {
    // one ServiceBuilder, outermost first, applied with a single `Router::layer`: axum boxes
    // the route once per `.layer` call, so stacking ten calls costs ten boxed futures
    let mut out = Vec::new();
    macro_rules! then {
        ($b:ident, $name:literal, $layer:expr) => {
            let $b = $b.layer($layer);
            out.push(($name, bare().layer($b.clone())));
        };
    }
    each_layer!(policies()?, then);
    Ok(out)
}

/// `STACK_SIZES`: the size of the response future of each prefix of the hand stack over an
/// inner service whose future is ready at once. In a stack of layers each layer's future is
/// moved into the next one's as it is made, so bytes held inline are paid once per layer
/// above.
#[allow(dead_code)] // stack_call reads it, stack does not
pub(crate) fn future_sizes() {
    use tower::Service;
    #[derive(Clone)]
    struct Inner;
    impl<B> tower::Service<http::Request<B>> for Inner {
        type Response = http::Response<axum::body::Body>;
        type Error = std::convert::Infallible;
        type Future = std::future::Ready<Result<Self::Response, Self::Error>>;
        fn poll_ready(&mut self, _: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Self::Error>> {
            std::task::Poll::Ready(Ok(()))
        }
        fn call(&mut self, _: http::Request<B>) -> Self::Future {
            std::future::ready(Ok(http::Response::new(axum::body::Body::empty())))
        }
    }
    let inner = Inner;
    macro_rules! size {
        ($b:ident, $name:literal, $layer:expr) => {
            let $b = $b.layer($layer);
            let mut svc = $b.service(inner.clone());
            let fut = svc.call(http::Request::new(axum::body::Body::empty()));
            println!("{:>24}: future {} bytes", $name, std::mem::size_of_val(&fut));
        };
    }
    each_layer!(policies().unwrap(), size);
}
