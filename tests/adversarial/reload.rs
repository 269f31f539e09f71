//! Adversarial tests: live reload of a gateway. What a client can do across a reload: keep a
//! connection open from before a ban, or have an unchanged file reloaded (a watched file
//! touched, an operator's routine SIGHUP) to get a fresh allowance.

use std::net::SocketAddr;

use axum::extract::ConnectInfo;
use axum::{Router, routing::any};
use tollgate::gateway::{Format, Gateway};

use crate::http_support::{client_from, serve};

/// The port of the client's connection, as the handler sees it.
async fn port(client: &reqwest::Client, addr: SocketAddr) -> String {
    let resp = client.get(format!("http://{addr}/open/port")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    resp.text().await.unwrap()
}

/// A connection opened before a reload is not pinned to the configuration it started under:
/// the next request on it is checked against the new one, so a client banned by a reload
/// cannot keep using a kept-alive connection.
#[tokio::test]
async fn a_kept_alive_connection_is_not_pinned_to_the_old_configuration() {
    let before = r#"
apis:
  - path: /open/
  - path: /orders/
    ip_access: {type: black_list, blocks: "192.0.2.1"}
"#;
    let layer = Gateway::from_config(before, Format::Yaml).unwrap().into_layer();
    let reload = layer.reload_handle();
    let app = Router::new()
        .route("/open/port", any(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.port().to_string() }))
        .route("/{*rest}", any(|| async { "handler" }))
        .layer(layer);
    let addr = serve(app).await;
    let attacker = client_from("127.0.0.5");

    let opened = port(&attacker, addr).await;
    let resp = attacker.get(format!("http://{addr}/orders/1")).send().await.unwrap();
    assert_eq!(resp.status(), 200);

    reload.reload_from(&before.replace("192.0.2.1", "127.0.0.5"), Format::Yaml).unwrap();
    // the same connection (same client port) ...
    assert_eq!(port(&attacker, addr).await, opened);
    // ... is refused now
    let resp = attacker.get(format!("http://{addr}/orders/1")).send().await.unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(port(&attacker, addr).await, opened);
}

/// Reloading a file whose flow-control block did not change (reformatted, keys reordered,
/// another API edited) keeps the counters: a client cannot wait for, or provoke, a reload to
/// get its allowance back.
#[tokio::test]
async fn reloading_an_unchanged_block_gives_no_fresh_allowance() {
    let config = r#"
apis:
  - name: orders
    path: /orders/
    basic_flow_control: {expire_type: hour, api_rate_limit: 100, ip_rate_limit: 2}
"#;
    let layer = Gateway::from_config(config, Format::Yaml).unwrap().into_layer();
    let reload = layer.reload_handle();
    let addr = serve(Router::new().route("/{*rest}", any(|| async { "handler" })).layer(layer)).await;
    let attacker = client_from("127.0.0.6");
    let get = || attacker.get(format!("http://{addr}/orders/1")).send();

    assert_eq!(get().await.unwrap().status(), 200);
    assert_eq!(get().await.unwrap().status(), 200);
    assert_eq!(get().await.unwrap().status(), 429);
    let variants = [
        config.to_owned(),
        r#"{"apis": [{"basic_flow_control": {"ip_rate_limit": 2, "api_rate_limit": 100, "expire_type": "hour"}, "path": "/orders/", "name": "orders"}]}"#.to_owned(),
        format!("{config}  - path: /other/\n    basic_flow_control: {{expire_type: hour, api_rate_limit: 1}}\n"),
    ];
    for (i, text) in variants.iter().enumerate() {
        let format = if text.starts_with('{') { Format::Json } else { Format::Yaml };
        reload.reload_from(text, format).unwrap();
        assert_eq!(get().await.unwrap().status(), 429, "variant {i}");
    }
}
