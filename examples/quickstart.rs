//! The tollgate quickstart: an axum server behind a request id and IP access control, with
//! refusals as RFC 9457 problem+json, and a route that accepts only requests signed the
//! Aliyun API Gateway way (each signature usable once), and one that takes a JWT (Aliyun's
//! `jwtAuth` plug-in; a token minted at start is printed with its curl).
//!
//! ```text
//! cargo run --example quickstart                       # 127.0.0.1:3000, loopback allowed
//! cargo run --example quickstart -- --listen 127.0.0.1:8080
//! cargo run --example quickstart -- --deny 127.0.0.1   # see a refusal
//! REDIS_URL=redis://127.0.0.1:6379 cargo run --example quickstart   # stores in Redis
//! ```

use std::net::SocketAddr;

use std::time::SystemTime;

use axum::{Json, Router, routing::get};
use serde_json::{Value, json};
use tollgate::flow::{BasicFlowControlConfig, BasicLimits, FlowControlLayer};
use tollgate::params::{Param, ParamInjectionConfig, ParamValidationConfig, Position, SystemParam};
use tollgate::prelude::*;
use tollgate::redis::RedisStore;
use tollgate::signature::{Signer, aliyun_apigw::AliyunApiGateway};
use tollgate::token::TokenLayer;

/// The demo app key and secret of the signed route.
const APP_KEY: &str = "203753741";
const APP_SECRET: &str = "quickstart-demo-secret";

struct Options {
    listen: SocketAddr,
    allow: Option<String>,
    deny: Option<String>,
}

fn options() -> Result<Options, String> {
    let mut opts = Options { listen: ([127, 0, 0, 1], 3000).into(), allow: None, deny: None };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--listen" => opts.listen = value()?.parse().map_err(|e| format!("--listen: {e}"))?,
            "--allow" => opts.allow = Some(value()?),
            "--deny" => opts.deny = Some(value()?),
            "-h" | "--help" => {
                return Err("usage: quickstart [--listen ADDR] [--allow LIST | --deny LIST]\n\
                            LIST: IPs or CIDRs separated by ';' or ','"
                    .into());
            }
            other => return Err(format!("unknown argument {other:?} (try --help)")),
        }
    }
    Ok(opts)
}

// `Caller`, `RequestId` and `ClientIp` are axum extractors: each reads what its layer put in
// the request, and a missing layer is a 500 naming it.
async fn signed(caller: Caller) -> Json<Value> {
    Json(json!({"message": "signature verified", "app_key": caller.key_id()}))
}

/// The public keys of the JWT route (the token crate's test fixtures), and the Ed25519 key
/// that signs the demo token.
const JWKS: &str = include_str!("../crates/tollgate-token/tests/fixtures/jwks.json");
const ED25519_PEM: &[u8] = include_bytes!("../crates/tollgate-token/tests/fixtures/ed25519.pem");

async fn me(caller: Caller) -> Json<Value> {
    Json(json!({"message": "token verified", "sub": caller.key_id()}))
}

/// A token for `GET /me`, valid for an hour, signed with the fixture key `ed-1`.
fn demo_token() -> Result<String, Box<dyn std::error::Error>> {
    let exp = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH)?.as_secs() + 3600;
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
    header.kid = Some("ed-1".into());
    let key = jsonwebtoken::EncodingKey::from_ed_pem(ED25519_PEM)?;
    Ok(jsonwebtoken::encode(&header, &json!({"sub": "quickstart-user", "exp": exp}), &key)?)
}

/// A curl command for `GET /signed`, signed now by the same code the verifier uses.
fn signed_curl(addr: SocketAddr) -> Result<String, Box<dyn std::error::Error>> {
    let request = http::Request::get("/signed?greeting=hi").header("accept", "application/json").body(())?;
    let (mut parts, ()) = request.into_parts();
    let mut body = bytes::Bytes::new();
    AliyunApiGateway::new().sign(&mut parts, &mut body, APP_KEY, &Secret::from(APP_SECRET), SystemTime::now())?;
    let mut cmd = format!("curl -i 'http://{addr}{}'", parts.uri);
    for (name, value) in &parts.headers {
        cmd.push_str(&format!(" \\\n    -H '{name}: {}'", value.to_str()?));
    }
    Ok(cmd)
}

async fn hello(id: RequestId, ip: ClientIp) -> Json<Value> {
    Json(json!({"message": "hello from behind tollgate", "request_id": id.as_str(), "client_ip": ip.ip().to_string()}))
}

/// Echoes what the parameter layers handed over: the URI with its default page, and the
/// injected headers.
async fn order(uri: http::Uri, headers: http::HeaderMap) -> Json<Value> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    Json(json!({"uri": uri.to_string(), "x-client-ip": header("x-client-ip"), "x-gateway": header("x-gateway")}))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let opts = match options() {
        Ok(o) => o,
        Err(msg) => {
            eprintln!("{msg}");
            std::process::exit(2);
        }
    };

    let ip_access = match (&opts.deny, &opts.allow) {
        (Some(list), _) => IpAccessLayer::deny([list])?,
        (None, Some(list)) => IpAccessLayer::allow([list])?,
        (None, None) => IpAccessLayer::allow(["127.0.0.1", "::1"])?,
    };
    let mode = format!("{:?}", ip_access.mode()).to_lowercase();

    // `.layer` wraps what came before, so the request id (added last) runs first and its
    // header is on every response, refusals included.
    // The signed route: the signature layer verifies and puts the caller in extensions; the
    // replay guard inside it accepts each nonce once within the 15-minute window.
    let store = MemorySecretStore::new().with_key(APP_KEY, APP_SECRET);
    let verify = SignatureLayer::new(AliyunApiGateway::new().debug_string_to_sign(true), store);

    // The limited route: Tencent's basic flow-control plugin JSON, pasted as is: 100 requests
    // a minute to the API, 5 a minute from each client IP.
    let flow: BasicFlowControlConfig =
        serde_json::from_str(r#"{"expire_type": "minute", "expire": 1, "api_rate_limit": 100, "ip_rate_limit": 5}"#)?;
    let limits = BasicLimits::from_config(&flow)?.named("quickstart");

    // Nonces and allowances live in memory; with REDIS_URL set they live in Redis, so several
    // quickstarts share one limit and one nonce history.
    let (signed_routes, limited_routes, stores) = match std::env::var("REDIS_URL") {
        Ok(url) => {
            let redis = RedisStore::connect(&url).await?;
            (
                Router::new()
                    .route("/signed", get(signed))
                    .layer(ReplayGuardLayer::with_store(redis.clone()))
                    .layer(verify),
                Router::new().route("/limited", get(hello)).layer(FlowControlLayer::with_store(limits, redis)),
                format!("Redis at {url}"),
            )
        }
        Err(_) => (
            Router::new().route("/signed", get(signed)).layer(ReplayGuardLayer::new()).layer(verify),
            Router::new().route("/limited", get(hello)).layer(FlowControlLayer::new(limits)),
            "in memory (set REDIS_URL to use Redis)".to_owned(),
        ),
    };

    // The orders route: `id` an int, `page` an int of at least 1 (1 when absent, written into
    // the query); then the client IP and a constant are injected as headers.
    let validation = ParamValidationConfig::new()
        .path("/orders/{id}")
        .param(Param::path("id").int())
        .param(Param::query("page").int().default(1).min(1));
    let injection = ParamInjectionConfig::new()
        .system(Position::Header, "x-client-ip", SystemParam::ClientIp)
        .constant(Position::Header, "x-gateway", "tollgate");
    let order_routes = Router::new()
        .route("/orders/{id}", get(order))
        .layer(ParamInjectionLayer::from_config(&injection)?)
        .layer(ParamValidationLayer::from_config(&validation)?);

    // The JWT route: Aliyun's jwtAuth plug-in, pasted as YAML, with the fixtures' keys.
    let jwt = TokenLayer::from_plugin(&format!("parameter: Authorization\nparameterLocation: header\njwks: {JWKS}"))?;
    let token_routes = Router::new().route("/me", get(me)).layer(jwt.error_style(ErrorStyle::ProblemJson));

    let app = Router::new()
        .route("/hello", get(hello))
        .merge(token_routes)
        .merge(order_routes)
        .merge(signed_routes)
        .merge(limited_routes)
        .layer(ip_access.error_style(ErrorStyle::ProblemJson))
        // CORS outside IP access control: preflights are answered here, never forwarded.
        .layer(
            CorsLayer::new()
                .allow_origin(["http://localhost:8080", "http://127.0.0.1:8080"])?
                .allow_methods(["GET", "POST"])?
                .allow_credentials(true),
        )
        .layer(ClientIpLayer::new())
        .layer(RequestIdLayer::new());

    let listener = tokio::net::TcpListener::bind(opts.listen).await?;
    let addr = listener.local_addr()?;
    println!("listening on http://{addr}");
    println!("IP access: {mode} list {}", opts.deny.or(opts.allow).unwrap_or_else(|| "127.0.0.1;::1".into()));
    println!("nonces and rate allowances: {stores}");
    println!();
    println!("Try:");
    println!("  curl -i http://{addr}/hello");
    println!("  # refused with 403 problem+json when the list excludes you:");
    println!("  cargo run --example quickstart -- --listen {addr} --deny 127.0.0.1");
    println!();
    println!("  # flow control: 5 a minute from each IP, then 429 with Retry-After");
    println!(
        "  for i in 1 2 3 4 5 6 7; do curl -s -o /dev/null -w '%{{http_code}} ' http://{addr}/limited; done; echo"
    );
    println!();
    println!("  # parameters: id an int, page an int >= 1 (default 1); client IP injected as x-client-ip");
    println!("  curl -i http://{addr}/orders/42");
    println!("  curl -i 'http://{addr}/orders/abc?page=0'   # 400 problem+json naming id and page");
    println!();
    println!("  # CORS: a browser's preflight from http://localhost:8080, answered 204 by the layer");
    println!("  curl -i -X OPTIONS http://{addr}/hello -H 'Origin: http://localhost:8080' \\");
    println!("    -H 'Access-Control-Request-Method: GET'");
    println!();
    println!("  # a request signed as Aliyun API Gateway clients sign (app key {APP_KEY}); valid for");
    println!("  # 15 minutes and once only: run it twice to see \"Nonce Used\"");
    println!("  {}", signed_curl(addr)?);
    println!();
    println!("  # a JWT-protected route (Aliyun's jwtAuth plug-in); this token was minted now, valid 1 hour:");
    println!("  curl -i http://{addr}/me -H 'Authorization: Bearer {}'", demo_token()?);
    println!("  curl -i http://{addr}/me   # 400 problem+json: JWT required");
    use std::io::Write;
    std::io::stdout().flush()?;

    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown())
        .await?;
    Ok(())
}

async fn shutdown() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
