//! An echo server behind one signature scheme and the replay guard: how the official SDKs
//! are driven in the interop tests, and a quick way to check your own client.
//!
//! ```text
//! cargo run --release --example signed_echo -- --scheme SCHEME --listen 127.0.0.1:PORT --credentials FILE
//! ```
//!
//! SCHEME is `aliyun-apigw`, `aliyun-rpc`, `tencent-cloud` or `tencent-apigw`; FILE is a JSON
//! object mapping key ids to secrets, or to `{"secret": ..., "tokens": {TOKEN: EXPIRES}}` for a
//! temporary key usable only with one of its security tokens (EXPIRES in Unix seconds);
//! port 0 picks a free port. The first line printed is
//! `listening on http://127.0.0.1:PORT`. Every method and path is behind the verifier and
//! the replay guard; a verified request gets `200 application/json` with the key id
//! (`{"Response": {...}}` for tencent-cloud). The Aliyun string-to-sign echo is on.

use std::collections::BTreeMap;
use std::io::Write;
use std::net::SocketAddr;
use std::time::{Duration, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{Extension, Request};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde_json::json;
use tollgate::prelude::*;
use tollgate::replay::ReplayGuardLayer;
use tollgate::signature::{
    KeyRecord, MemorySecretStore, Scheme, SignatureLayer, aliyun_apigw::AliyunApiGateway, aliyun_rpc::AliyunRpc,
    tencent_apigw::TencentApiGateway, tencent_cloud::TencentCloud,
};

struct Options {
    scheme: String,
    listen: SocketAddr,
    credentials: String,
}

fn options() -> Result<Options, String> {
    let (mut scheme, mut listen, mut credentials) = (None, None, None);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--scheme" => scheme = Some(value()?),
            "--listen" => listen = Some(value()?.parse().map_err(|e| format!("--listen: {e}"))?),
            "--credentials" => credentials = Some(value()?),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(Options {
        scheme: scheme.ok_or("--scheme is required")?,
        listen: listen.unwrap_or_else(|| ([127, 0, 0, 1], 0).into()),
        credentials: credentials.ok_or("--credentials is required")?,
    })
}

/// Echoes what the verifier established, in the scheme's success shape.
async fn echo(
    envelope: bool,
    Extension(caller): Extension<Caller>,
    Extension(id): Extension<RequestId>,
    req: Request,
) -> Response {
    let (parts, body) = req.into_parts();
    let bytes: Bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
    let fields = json!({
        "key_id": caller.key_id(),
        "method": parts.method.as_str(),
        "path": parts.uri.path(),
        "query": parts.uri.query().unwrap_or(""),
        "body": String::from_utf8_lossy(&bytes),
    });
    if envelope {
        let mut inner = fields;
        inner["RequestId"] = json!(id.as_str());
        Json(json!({ "Response": inner })).into_response()
    } else {
        Json(fields).into_response()
    }
}

fn app<Sc: Scheme>(scheme: Sc, store: MemorySecretStore, envelope: bool) -> Router {
    Router::new()
        .fallback(move |caller, id, req| echo(envelope, caller, id, req))
        .layer(ReplayGuardLayer::new())
        .layer(SignatureLayer::new(scheme, store))
        .layer(RequestIdLayer::new())
}

/// The store a credentials file describes: `"key": "secret"`, or `"key": {"secret": "...",
/// "tokens": {"token": expires}}` for a temporary key.
fn store_of(keys: BTreeMap<String, serde_json::Value>) -> Result<MemorySecretStore, String> {
    let mut store = MemorySecretStore::new();
    for (key, entry) in keys {
        store = match entry {
            serde_json::Value::String(secret) => store.with_key(key, secret),
            serde_json::Value::Object(entry) => {
                let secret = entry.get("secret").and_then(|s| s.as_str()).ok_or(format!("{key}.secret: a string"))?;
                let tokens =
                    entry.get("tokens").and_then(|t| t.as_object()).ok_or(format!("{key}.tokens: an object"))?;
                let mut store = store.with_record(key.clone(), KeyRecord::new(secret).temporary(true));
                for (token, expires) in tokens {
                    let expires = expires.as_u64().ok_or(format!("{key}.tokens.{token}: Unix seconds"))?;
                    store = store.with_token(key.clone(), token.clone(), UNIX_EPOCH + Duration::from_secs(expires));
                }
                store
            }
            _ => return Err(format!("{key}: a secret, or an object with `secret` and `tokens`")),
        };
    }
    Ok(store)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let opts = options().unwrap_or_else(|e| {
        eprintln!("signed_echo: {e}\nusage: signed_echo --scheme SCHEME --listen ADDR --credentials FILE");
        std::process::exit(2);
    });
    let text = std::fs::read_to_string(&opts.credentials)?;
    let store = store_of(serde_json::from_str(&text)?)?;

    let app = match opts.scheme.as_str() {
        "aliyun-apigw" => app(AliyunApiGateway::new().debug_string_to_sign(true), store, false),
        "aliyun-rpc" => app(AliyunRpc::new(), store, false),
        "tencent-cloud" => app(TencentCloud::new(), store, true),
        "tencent-apigw" => app(TencentApiGateway::new(), store, false),
        other => {
            eprintln!("signed_echo: unknown scheme {other:?}");
            std::process::exit(2);
        }
    };

    let listener = tokio::net::TcpListener::bind(opts.listen).await?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "listening on http://{}", listener.local_addr()?)?;
    out.flush()?;
    drop(out);

    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(async move {
            tokio::select! { _ = term.recv() => {}, _ = tokio::signal::ctrl_c() => {} }
        })
        .await?;
    Ok(())
}
