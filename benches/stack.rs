//! The whole stack under load: a bare axum hello-world next to the same handler behind every
//! policy (request id, CORS, IP access, flow control by API and IP, Aliyun signature, replay
//! guard, flow control by app, parameter validation and injection), in-memory stores, both served on loopback and driven by
//! the same keep-alive HTTP/1.1 load generator in one run. Prints throughput, the ratio and
//! p50/p99 latency.
//!
//! `cargo bench --bench stack` (`STACK_SECONDS`, default 5 per side; `STACK_CONNECTIONS`,
//! default 32). On a 2-core machine the load generator and the server share the cores, so
//! read the ratio, not the absolute rate. (Not a criterion bench: criterion times one call
//! at a time; this measures a server under concurrent load.)

#![allow(missing_docs)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use axum::{Router, routing::get};
use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tollgate::flow::{BasicFlowControlConfig, BasicLimits, FlowControlLayer};
use tollgate::params::{Param, ParamInjectionConfig, ParamValidationConfig, Position};
use tollgate::prelude::*;
use tollgate::signature::Signer;
use tollgate::signature::aliyun_apigw::AliyunApiGateway;

const APP_KEY: &str = "203753741";
const SECRET: &str = "stack-bench-secret";

fn full_stack() -> Result<Router, Box<dyn std::error::Error>> {
    let outer: BasicFlowControlConfig = serde_json::from_str(
        r#"{"expire_type": "second", "api_rate_limit": 4000000000, "ip_rate_limit": 4000000000}"#,
    )?;
    let by_app = BasicLimits::new(4_000_000_000, Duration::from_secs(1), None)?.app_limit(4_000_000_000)?.named("app");
    let validation = ParamValidationLayer::from_config(
        &ParamValidationConfig::new().param(Param::query("page").int().default(1).min(1)),
    )?;
    let injection =
        ParamInjectionLayer::from_config(&ParamInjectionConfig::new().constant(Position::Header, "x-env", "prod"))?;
    // one ServiceBuilder, outermost first, applied with a single `Router::layer`: axum boxes
    // the route once per `.layer` call, so stacking ten calls costs ten boxed futures
    let stack = tower::ServiceBuilder::new()
        .layer(RequestIdLayer::new())
        .layer(ClientIpLayer::new())
        .layer(CorsLayer::new().allow_origin(["http://localhost:8080"])?)
        .layer(IpAccessLayer::allow(["127.0.0.1", "::1"])?)
        .layer(BasicFlowControlLayer::from_config(&outer)?)
        .layer(SignatureLayer::new(AliyunApiGateway::new(), MemorySecretStore::new().with_key(APP_KEY, SECRET)))
        .layer(ReplayGuardLayer::new())
        .layer(FlowControlLayer::new(by_app))
        .layer(validation)
        .layer(injection);
    Ok(Router::new().route("/", get(|| async { "hello" })).layer(stack))
}

async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await.unwrap();
    });
    addr
}

struct Run {
    requests: usize,
    seconds: f64,
    latencies: Vec<Duration>,
}

impl Run {
    fn rate(&self) -> f64 {
        self.requests as f64 / self.seconds
    }

    fn percentile(&self, p: f64) -> Duration {
        self.latencies[((self.latencies.len() as f64 * p) as usize).min(self.latencies.len() - 1)]
    }
}

/// Keeps `connections` requests in flight for `seconds`; `signed` signs each with a fresh
/// nonce, as a real client would (its cost is the client's, timed outside the latency).
async fn load(addr: SocketAddr, connections: usize, seconds: u64, signed: bool) -> Run {
    let client: Client<_, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).pool_max_idle_per_host(connections).build_http();
    let signer = Arc::new(AliyunApiGateway::new());
    let secret = tollgate::signature::Secret::from(SECRET);
    let until = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let tasks: Vec<_> = (0..connections)
        .map(|_| {
            let (client, signer, secret) = (client.clone(), signer.clone(), secret.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                while Instant::now() < until {
                    let (mut parts, ()) = Request::get(format!("http://{addr}/")).body(()).unwrap().into_parts();
                    if signed {
                        signer.sign(&mut parts, &mut Bytes::new(), APP_KEY, &secret, SystemTime::now()).unwrap();
                    }
                    let request = Request::from_parts(parts, Full::new(Bytes::new()));
                    let sent = Instant::now();
                    let response = client.request(request).await.unwrap();
                    assert_eq!(response.status(), 200);
                    response.into_body().collect().await.unwrap();
                    latencies.push(sent.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await.unwrap());
    }
    let seconds = started.elapsed().as_secs_f64();
    latencies.sort();
    Run { requests: latencies.len(), seconds, latencies }
}

fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return; // `cargo test --benches` and IDE discovery: nothing to list
    }
    let seconds: u64 = std::env::var("STACK_SECONDS").ok().and_then(|v| v.parse().ok()).unwrap_or(5);
    let connections: usize = std::env::var("STACK_CONNECTIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(32);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let bare = serve(Router::new().route("/", get(|| async { "hello" }))).await;
        let full = serve(full_stack().unwrap()).await;
        // warm both up
        load(bare, connections, 1, false).await;
        load(full, connections, 1, true).await;
        let bare_run = load(bare, connections, seconds, true).await;
        let full_run = load(full, connections, seconds, true).await;
        for (name, run) in [("bare axum", &bare_run), ("full tollgate stack", &full_run)] {
            println!(
                "{name:>20}: {:>8.0} req/s  p50 {:>6.0} us  p99 {:>6.0} us  ({} requests)",
                run.rate(),
                run.percentile(0.50).as_secs_f64() * 1e6,
                run.percentile(0.99).as_secs_f64() * 1e6,
                run.requests
            );
        }
        println!("throughput ratio (full / bare): {:.1}%", 100.0 * full_run.rate() / bare_run.rate());
    });
}
