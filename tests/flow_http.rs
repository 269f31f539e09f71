//! Flow control over real HTTP on loopback: per-IP limits keyed by the peer address,
//! parameter strategies keyed by a header, and the response headers a client sees; Aliyun's
//! `trafficControl` plug-in verbatim through the gateway, Tencent's special ClientIP, and
//! one flow-control plug-in per API.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::{Router, routing::get};
use bytes::Bytes;
use tollgate::flow::{BasicFlowControlConfig, ParamFlowControlConfig, ParamFlowControlLayer};
use tollgate::gateway::{Format, Gateway};
use tollgate::prelude::*;
use tollgate::signature::{aliyun_apigw::AliyunApiGateway, sign_request};

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

// ---------------------------------------------------------------------------------------
// Aliyun's trafficControl plug-in through the gateway

/// §A1.1 of the cloud-plugins spec, verbatim (comments included).
const TEMPLATE: &str = include_str!("fixtures/cloud-plugins/aliyun-traffic-control.yaml");

/// The CreatePlugin example, re-flowed as YAML (its duplicate key kept).
const CREATE_PLUGIN: &str = include_str!("fixtures/cloud-plugins/aliyun-traffic-control-create-plugin.yaml");

/// A gateway file with one API at `/orders` whose `aliyun_flow_control` block is `plugin`,
/// its lines indented under the block as they are (the `---` document marker, which only
/// opens a file, left out), and `extra` blocks beside it.
fn gateway_with(plugin: &str, extra: &str) -> Gateway {
    let block: String = plugin.lines().filter(|l| *l != "---").map(|l| format!("      {l}\n")).collect();
    let text = format!("apis:\n  - path: /orders\n{extra}    aliyun_flow_control:\n{block}");
    Gateway::from_config(&text, Format::Yaml).unwrap()
}

/// The app behind `gateway`, with an outer layer that puts a `Caller` named by `x-test-app`
/// in the extensions (as an authentication layer of the user's own would).
async fn serve_gateway(gateway: Gateway) -> std::net::SocketAddr {
    let app = Router::new().route("/orders", get(|| async { "ok" })).layer(gateway.into_layer()).layer(
        tower::util::MapRequestLayer::new(|mut req: http::Request<Body>| {
            let app = req.headers().get("x-test-app").and_then(|v| v.to_str().ok()).map(str::to_owned);
            if let Some(app) = app {
                req.extensions_mut().insert(Caller::new(app));
            }
            req
        }),
    );
    serve(app).await
}

/// Waits until just after the next whole second, so that a burst of requests falls in one
/// calendar second (a fixed window at SECOND).
async fn at_a_second_boundary() {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    tokio::time::sleep(Duration::from_nanos(1_000_000_000 - u64::from(now.subsec_nanos())) + Duration::from_millis(5))
        .await;
}

/// Sends a GET to `/orders`, signed by Aliyun's gateway scheme as `key` when `secret` is given
/// (else naming the app in `x-test-app`); the status and `X-Ca-Error-Message`.
async fn get_as(
    client: &reqwest::Client,
    addr: std::net::SocketAddr,
    key: &str,
    secret: Option<&str>,
) -> (u16, String, String) {
    let mut req = http::Request::get(format!("http://{addr}/orders"))
        .header("accept", "application/json")
        .body(Bytes::new())
        .unwrap();
    if let Some(secret) = secret {
        req = sign_request(&AliyunApiGateway::new(), req, key, &secret.into(), SystemTime::now()).unwrap();
    } else {
        req.headers_mut().insert("x-test-app", key.parse().unwrap());
    }
    let mut r = client.get(req.uri().to_string());
    for (name, value) in req.headers() {
        r = r.header(name, value);
    }
    let resp = r.send().await.unwrap();
    let header = |name: &str| resp.headers().get(name).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    (resp.status().as_u16(), header("x-ca-error-message"), header("x-ratelimit-limit"))
}

/// How many of `n` requests pass, and the last refusal's status and message.
async fn count(
    client: &reqwest::Client,
    addr: std::net::SocketAddr,
    key: &str,
    secret: Option<&str>,
    n: usize,
) -> (usize, u16, String) {
    let (mut passed, mut status, mut message) = (0, 0, String::new());
    for _ in 0..n {
        let (s, m, _) = get_as(client, addr, key, secret).await;
        if s == 200 {
            passed += 1;
        } else {
            (status, message) = (s, m);
        }
    }
    (passed, status, message)
}

#[tokio::test]
async fn the_plugin_template_verbatim_limits_signed_apps_and_the_special_one() {
    let signature =
        "    signature:\n      scheme: aliyun-apigw\n      keys: {\"10123123\": s3cret, \"20000001\": other}\n";
    let addr = serve_gateway(gateway_with(TEMPLATE, signature)).await;
    let client = client_from("127.0.0.1");
    at_a_second_boundary().await;
    let second = || SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    let start = second();
    // the special app: its own 10 a second; the X-RateLimit-Limit it sees is that
    let (status, _, limit) = get_as(&client, addr, "10123123", Some("s3cret")).await;
    assert_eq!((status, limit.as_str()), (200, "10"));
    let app = "Throttled by APP Flow Control".to_owned();
    assert_eq!(count(&client, addr, "10123123", Some("s3cret"), 10).await, (9, 403, app.clone()));
    // any other app: appDefault, 30 a second
    assert_eq!(count(&client, addr, "20000001", Some("other"), 31).await, (30, 403, app.clone()));
    // FIX_WINDOW: nothing returns within the calendar second (a token bucket would have
    // given 3 back after 300 ms)
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(second(), start, "the burst and the wait fit in one second");
    assert_eq!(count(&client, addr, "10123123", Some("s3cret"), 1).await, (0, 403, app));
    // an unsigned request never reaches flow control: the signature refuses it first
    let (status, _, _) = get_as(&client, addr, "10123123", None).await;
    assert!(status == 400 || status == 401, "{status}");
}

#[tokio::test]
async fn the_create_plugin_example_is_a_token_bucket_and_no_mode_means_quick_return() {
    let addr = serve_gateway(gateway_with(CREATE_PLUGIN, "")).await;
    let client = client_from("127.0.0.1");
    // the special app (listed twice, 10 both times): a burst of 10, refused at once after
    // (a token returns every 1/10 s: a slow run may see one more)
    let (passed, status, message) = count(&client, addr, "10123123", None, 15).await;
    assert!((10..=11).contains(&passed), "{passed}");
    assert_eq!((status, message.as_str()), (403, "Throttled by APP Flow Control"));
    // then one request's allowance back every 1/10 s, whatever the calendar second
    tokio::time::sleep(Duration::from_millis(250)).await;
    let (passed, ..) = count(&client, addr, "10123123", None, 5).await;
    assert!((2..=4).contains(&passed), "{passed} passed after 250 ms");
    // any other app: a burst of 30 (one back every 1/30 s)
    let (passed, status, message) = count(&client, addr, "30000003", None, 45).await;
    assert!((30..45).contains(&passed), "{passed}");
    assert_eq!((status, message.as_str()), (403, "Throttled by APP Flow Control"));
}

#[tokio::test]
async fn the_api_limit_refuses_in_aliyuns_words_with_the_status_configured() {
    for (status_line, status) in [("", 403), ("statusCode: 429\n", 429)] {
        let plugin = format!("unit: MINUTE\napiDefault: 3\nappDefault: 2\n{status_line}");
        let addr = serve_gateway(gateway_with(&plugin, "")).await;
        let client = client_from("127.0.0.1");
        let api = "Throttled by API Flow Control".to_owned();
        assert_eq!(count(&client, addr, "a1", None, 3).await, (2, status, "Throttled by APP Flow Control".into()));
        assert_eq!(count(&client, addr, "a2", None, 3).await, (1, status, api));
    }
}

#[test]
fn aliyun_config_errors_name_the_plugin_field() {
    let error = |plugin: &str| {
        let text = format!("apis:\n  - path: /\n    aliyun_flow_control: {plugin}\n");
        let e = Gateway::from_config(&text, Format::Yaml).unwrap_err();
        (e.field.clone(), e.to_string())
    };
    let (field, message) = error("{unit: SECOND, apiDefault: 5, controlMode: TOKEN_BUCKET}");
    assert_eq!(field, "apis[0].aliyun_flow_control.controlMode");
    assert!(message.contains("expected FIX_WINDOW"), "{message}");
    let (field, message) = error("{unit: SECOND, apiDefault: 5, blockingMode: BLOCKING}");
    assert_eq!(field, "apis[0].aliyun_flow_control.blockingMode");
    assert!(message.contains("queueing"), "{message}");
    let (field, _) = error("{unit: SECOND, apiDefault: 5, specials: [{type: APPS, policies: []}]}");
    assert_eq!(field, "apis[0].aliyun_flow_control.specials[0].type");
    let (field, message) =
        error("{unit: SECOND, apiDefault: 5, specials: [{type: APP, policies: [{key: 1, value: 6}]}]}");
    assert_eq!(field, "apis[0].aliyun_flow_control.specials[0].policies[0].value");
    assert!(message.contains("may not exceed apiDefault (5)"), "{message}");
    // the OpenAPI spelling still reads, and names its own fields
    let (field, _) = error("{Unit: MINUTE, ApiDefault: 5, UserDefault: 6}");
    assert_eq!(field, "apis[0].aliyun_flow_control.UserDefault");
    let (field, message) = error("{unit: MINUTE, ApiDefault: 5}");
    assert_eq!(field, "apis[0].aliyun_flow_control");
    assert!(message.contains("not both"), "{message}");
}

// ---------------------------------------------------------------------------------------
// Tencent's special ClientIP; one flow-control plug-in per API

#[tokio::test]
async fn a_special_client_ip_is_free_of_the_app_limit_over_http() {
    let gateway = Gateway::from_config(
        r#"
apis:
  - path: /orders
    basic_flow_control:
      expire_type: hour
      api_rate_limit: 100
      app_rate_limit: 1
      ip_rate_limit: 2
      spec_app_rate_limits: [{app_id: vip, rate_limit: 5}]
      spec_ip_rate_limits: [{ip_key: 127.0.0.2, rate_limit: 4}]
"#,
        Format::Yaml,
    )
    .unwrap();
    let addr = serve_gateway(gateway).await;
    let tencent = |client: reqwest::Client, app: &'static str| async move {
        let mut passed = 0;
        for _ in 0..6 {
            let resp = client.get(format!("http://{addr}/orders")).header("x-test-app", app).send().await.unwrap();
            passed += usize::from(resp.status() == 200);
        }
        passed
    };
    // from the special IP: its 4, not the app's 1 (on main this was 1)
    assert_eq!(tencent(client_from("127.0.0.2"), "a1").await, 4);
    // from an ordinary IP the app limit holds
    assert_eq!(tencent(client_from("127.0.0.3"), "a2").await, 1);
    // a special app is free of the app limit, not of the IP limit
    assert_eq!(tencent(client_from("127.0.0.4"), "vip").await, 2);
}

#[test]
fn an_api_takes_one_flow_control_plugin() {
    let blocks = [
        ("basic_flow_control", "{expire_type: minute, api_rate_limit: 5}"),
        (
            "param_flow_control",
            "{default_window: 60, default_rate_limit: 5, strategies: [{name: u, strategy_weight: 1, parameters: [{type: header, name: x-user}], rate_limit: 1, window: 60}]}",
        ),
        ("aliyun_flow_control", "{unit: MINUTE, apiDefault: 5}"),
    ];
    for (i, (first, a)) in blocks.iter().enumerate() {
        for (second, b) in &blocks[i + 1..] {
            let text = format!("apis:\n  - path: /a\n  - path: /b\n    {first}: {a}\n    {second}: {b}\n");
            let e = Gateway::from_config(&text, Format::Yaml).unwrap_err();
            assert_eq!(e.field, "apis[1]", "{first} + {second}");
            let message = e.to_string();
            assert!(message.contains(first) && message.contains(second), "{message}");
        }
        // each alone is fine, and so is one per API
        let text =
            format!("apis:\n  - path: /a\n    {first}: {a}\n  - path: /b\n    basic_flow_control: {}\n", blocks[0].1);
        assert!(Gateway::from_config(&text, Format::Yaml).is_ok(), "{first}");
    }
}
