//! Flow control over real HTTP on loopback: per-IP limits keyed by the peer address,
//! parameter strategies keyed by a header, and the response headers a client sees.

use axum::{Router, routing::get};
use tollgate::flow::{BasicFlowControlConfig, ParamFlowControlConfig, ParamFlowControlLayer};
use tollgate::prelude::*;

#[path = "support/http.rs"]
mod http_support;
use http_support::{client_from, serve};

#[tokio::test]
async fn each_client_ip_has_its_own_allowance_and_the_api_caps_all() {
    let config: BasicFlowControlConfig =
        serde_json::from_str(r#"{"expire_type": "hour", "api_rate_limit": 5, "ip_rate_limit": 2}"#).unwrap();
    let app = Router::new()
        .route("/", get(|| async { "ok" }))
        .layer(BasicFlowControlLayer::from_config(&config).unwrap())
        .layer(ClientIpLayer::new());
    let addr = serve(app).await;
    let mut seen = Vec::new();
    for source in ["127.0.0.1", "127.0.0.2", "127.0.0.3"] {
        let client = client_from(source);
        let mut codes = Vec::new();
        for _ in 0..3 {
            let resp = client.get(format!("http://{addr}/")).send().await.unwrap();
            if resp.status() == 429 {
                assert!(resp.headers().contains_key("retry-after"));
                assert_eq!(resp.headers()["content-type"], "application/problem+json");
            } else {
                assert_eq!(resp.headers()["x-ratelimit-limit"], "2");
            }
            codes.push(resp.status().as_u16());
        }
        seen.push(codes);
    }
    // two each for the first two IPs (the third refused per IP), then the API's fifth and last
    assert_eq!(seen, [vec![200, 200, 429], vec![200, 200, 429], vec![200, 429, 429]]);
}

#[tokio::test]
async fn a_parameter_strategy_keys_by_header_value() {
    let config: ParamFlowControlConfig = serde_json::from_str(
        r#"{"default_window": 0, "strategies": [{"name": "per-user", "strategy_weight": 1,
            "parameters": [{"type": "header", "name": "x-user"}], "rate_limit": 1, "window": 3600,
            "condition": "method = 'GET'"}]}"#,
    )
    .unwrap();
    let app = Router::new()
        .route("/", get(|| async { "ok" }).post(|| async { "posted" }))
        .layer(ParamFlowControlLayer::from_config(&config).unwrap());
    let addr = serve(app).await;
    let client = client_from("127.0.0.1");
    let get = |user: &'static str| client.get(format!("http://{addr}/")).header("x-user", user).send();
    assert_eq!(get("alice").await.unwrap().status(), 200);
    assert_eq!(get("alice").await.unwrap().status(), 429);
    assert_eq!(get("bob").await.unwrap().status(), 200);
    let post = client.post(format!("http://{addr}/")).header("x-user", "alice").send().await.unwrap();
    assert_eq!(post.status(), 200, "the condition is false for POST: the strategy is skipped");
}
