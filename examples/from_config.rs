//! A whole gateway from one configuration file: `examples/gateway.yaml` (a health check, a
//! CORS- and flow-controlled API, a signed and replay-guarded one, a parameter-limited one)
//! in front of a small axum app.
//!
//! ```text
//! cargo run --example from_config -- [--listen 127.0.0.1:3001] [--config examples/gateway.yaml]
//! ```
//!
//! The first line printed is `listening on http://ADDR`; curl commands to try follow.

use std::net::SocketAddr;
use std::time::SystemTime;

use axum::Router;
use axum::extract::Path;
use axum::routing::get;
use bytes::Bytes;
use tollgate::Gateway;
use tollgate::signature::{aliyun_apigw::AliyunApiGateway, sign_request};

struct Options {
    listen: SocketAddr,
    config: String,
}

fn options() -> Result<Options, String> {
    let mut listen: SocketAddr = ([127, 0, 0, 1], 3001).into();
    let mut config = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/gateway.yaml").to_owned();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--listen" => listen = value()?.parse().map_err(|e| format!("--listen: {e}"))?,
            "--config" => config = value()?,
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(Options { listen, config })
}

/// A curl command for a correctly signed `GET /orders/42` (valid for 15 minutes, once).
fn signed_curl(addr: SocketAddr) -> Result<String, Box<dyn std::error::Error>> {
    let request = http::Request::get(format!("http://{addr}/orders/42")).body(Bytes::new())?;
    let signed = sign_request(
        &AliyunApiGateway::new(),
        request,
        "203467890",
        &"demo-secret-change-me".into(),
        SystemTime::now(),
    )?;
    let mut curl = String::from("curl -i");
    for (name, value) in signed.headers() {
        curl.push_str(&format!(" -H '{}: {}'", name, value.to_str()?));
    }
    curl.push_str(&format!(" http://{addr}/orders/42"));
    Ok(curl)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let options = options().map_err(|e| format!("{e}\nusage: from_config [--listen ADDR] [--config FILE]"))?;
    // Every error names the file, the field and what was expected.
    let gateway = Gateway::from_file(&options.config)?;

    let app = Router::new()
        .route("/health", get(|| async { "ok\n" }))
        .route("/users/{id}", get(|Path(id): Path<String>| async move { format!("user {id}\n") }))
        .route("/orders/{id}", get(|Path(id): Path<String>| async move { format!("order {id}\n") }))
        .route("/static/{*file}", get(|| async { "static\n" }))
        .route("/search", get(|| async { "results\n" }))
        // one layer: request id, client IP, then each API's policies in the canonical order
        .layer(gateway.into_layer());

    let listener = tokio::net::TcpListener::bind(options.listen).await?;
    let addr = listener.local_addr()?;
    println!("listening on http://{addr}");
    println!();
    println!("# no plugins:");
    println!("curl -i http://{addr}/health");
    println!("# 3 a minute per client IP (the fourth gets 429 with Retry-After):");
    println!("for i in 1 2 3 4; do curl -s -o /dev/null -w '%{{http_code}}\\n' http://{addr}/users/7; done");
    println!("# a CORS preflight, answered by the gateway:");
    println!(
        "curl -i -X OPTIONS -H 'Origin: https://app.example.com' -H 'Access-Control-Request-Method: PUT' http://{addr}/users/7"
    );
    println!("# unsigned: refused by the signature layer:");
    println!("curl -i http://{addr}/orders/42");
    println!("# signed (Aliyun API Gateway scheme); a second run is a replay and is refused:");
    println!("{}", signed_curl(addr)?);
    println!("# parameter flow control: 2 a minute per x-user:");
    println!(
        "for i in 1 2 3; do curl -s -o /dev/null -w '%{{http_code}}\\n' -H 'x-user: ann' http://{addr}/search; done"
    );
    println!("# no API matches: 404 problem+json");
    println!("curl -i http://{addr}/nowhere");

    // connect info gives the policies the peer address
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await?;
    Ok(())
}
