//! The tollgate quickstart: an axum server behind a request id and IP access control, with
//! refusals as RFC 9457 problem+json.
//!
//! ```text
//! cargo run --example quickstart                       # 127.0.0.1:3000, loopback allowed
//! cargo run --example quickstart -- --listen 127.0.0.1:8080
//! cargo run --example quickstart -- --deny 127.0.0.1   # see a refusal
//! ```

use std::net::SocketAddr;

use axum::{Json, Router, extract::Extension, routing::get};
use serde_json::{Value, json};
use tollgate::prelude::*;

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

async fn hello(Extension(id): Extension<RequestId>, Extension(ip): Extension<ClientIp>) -> Json<Value> {
    Json(json!({"message": "hello from behind tollgate", "request_id": id.as_str(), "client_ip": ip.ip().to_string()}))
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
    let app = Router::new()
        .route("/hello", get(hello))
        .layer(ip_access.error_style(ErrorStyle::ProblemJson))
        .layer(ClientIpLayer::new())
        .layer(RequestIdLayer::new());

    let listener = tokio::net::TcpListener::bind(opts.listen).await?;
    let addr = listener.local_addr()?;
    println!("listening on http://{addr}");
    println!("IP access: {mode} list {}", opts.deny.or(opts.allow).unwrap_or_else(|| "127.0.0.1;::1".into()));
    println!();
    println!("Try:");
    println!("  curl -i http://{addr}/hello");
    println!("  # refused with 403 problem+json when the list excludes you:");
    println!("  cargo run --example quickstart -- --listen {addr} --deny 127.0.0.1");
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
