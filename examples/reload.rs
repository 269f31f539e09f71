//! Live reload: a gateway read from a file, read again on SIGHUP while it serves. Requests in
//! flight finish on the old configuration; a bad file is refused (the error is printed) and
//! the old configuration stays; rate counters of unchanged blocks carry on.
//!
//! ```text
//! cargo run --example reload -- [--listen 127.0.0.1:3002] [--config FILE]
//! ```
//!
//! Without `--config`, `examples/reload.yaml` is copied to a temporary file, so that editing
//! it leaves the repository alone. The first line printed is `listening on http://ADDR`;
//! commands to paste follow. (With the `watch` feature, `ReloadHandle::watch` reloads on
//! every change of the file instead.)

use std::net::SocketAddr;
use std::path::PathBuf;

use axum::Router;
use axum::routing::get;
use tollgate::Gateway;
use tollgate::gateway::ReloadHandle;

struct Options {
    listen: SocketAddr,
    config: Option<PathBuf>,
}

fn options() -> Result<Options, String> {
    let mut options = Options { listen: ([127, 0, 0, 1], 3002).into(), config: None };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--listen" => options.listen = value()?.parse().map_err(|e| format!("--listen: {e}"))?,
            "--config" => options.config = Some(value()?.into()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(options)
}

/// The file to serve: the one given, or a copy of the sample.
fn config_file(given: Option<PathBuf>) -> std::io::Result<PathBuf> {
    if let Some(path) = given {
        return Ok(path);
    }
    let copy = std::env::temp_dir().join(format!("tollgate-reload-{}.yaml", std::process::id()));
    std::fs::copy(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/reload.yaml"), &copy)?;
    Ok(copy)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let options = options().map_err(|e| format!("{e}\nusage: reload [--listen ADDR] [--config FILE]"))?;
    let file = config_file(options.config)?;
    // a bad file at start is refused with the same error as on reload
    let layer = Gateway::from_file(&file)?.into_layer();
    let reload = layer.reload_handle();

    let app = Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/orders/{id}", get(|| async { "order" }).post(|| async { "created" }))
        .layer(layer);
    let listener = tokio::net::TcpListener::bind(options.listen).await?;
    let addr = listener.local_addr()?;
    let (pid, path) = (std::process::id(), file.display());
    println!("listening on http://{addr}");
    println!();
    println!("# 3 a minute per client IP (the fourth gets 429):");
    println!("for i in 1 2 3 4; do curl -s -o /dev/null -w '%{{http_code}}\\n' http://{addr}/orders/7; done");
    println!("# allow 10 a minute per IP and reload (that block changed: its counters start afresh):");
    println!("sed -i 's/ip_rate_limit: 3/ip_rate_limit: 10/' {path} && kill -HUP {pid}");
    println!("curl -si http://{addr}/orders/7 | grep -i x-ratelimit");
    println!("# a bad file is refused, and the configuration in force stays:");
    println!("sed -i 's/api_rate_limit: 5/api_rate_limit: 0/' {path} && kill -HUP {pid}");
    println!("curl -si http://{addr}/orders/7 | head -1");
    println!();

    tokio::spawn(reload_on_sighup(reload));
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await?;
    Ok(())
}

/// Reads the file again on each SIGHUP, as nginx, Kong and APISIX do.
#[cfg(unix)]
async fn reload_on_sighup(reload: ReloadHandle) -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};

    let mut hangups = signal(SignalKind::hangup())?;
    while hangups.recv().await.is_some() {
        // parsing a file is blocking work: off the runtime's threads
        let handle = reload.clone();
        match tokio::task::spawn_blocking(move || handle.reload()).await {
            Ok(Ok(())) => println!("reloaded {}", reload.source().unwrap_or_default().display()),
            Ok(Err(error)) => println!("refused, the configuration in force stays: {error}"),
            Err(panicked) => println!("reload failed: {panicked}"),
        }
    }
    Ok(())
}

/// No SIGHUP here: reload with `ReloadHandle::reload` from your own trigger.
#[cfg(not(unix))]
async fn reload_on_sighup(reload: ReloadHandle) -> std::io::Result<()> {
    let _ = reload;
    Ok(())
}
