//! `Caller`, `ClientIp` and `RequestId` as axum extractors over real HTTP on loopback: each
//! reads what its layer put in the request, `Option<_>` takes the absence, a missing layer is
//! a 500 naming it, and a client unresolved behind a trusted proxy is refused, never read as
//! the proxy.

use std::net::SocketAddr;
use std::time::SystemTime;

use axum::Router;
use axum::routing::get;
use bytes::Bytes;
use serde_json::{Value, json};
use tollgate::prelude::*;
use tollgate::signature::aliyun_apigw::AliyunApiGateway;
use tollgate::signature::sign_request;

#[path = "support/http.rs"]
mod http_support;
use http_support::{client_from, serve};

const KEY: &str = "203467890";
const SECRET: &str = "extractor-secret";

async fn signed(caller: Caller, client: ClientIp, id: RequestId) -> axum::Json<Value> {
    axum::Json(json!({"app": caller.app_id(), "client_ip": client.ip().to_string(), "request_id": id.as_str()}))
}

async fn maybe(caller: Option<Caller>, client: Option<ClientIp>, id: Option<RequestId>) -> axum::Json<Value> {
    axum::Json(json!({
        "app": caller.map(|c| c.app_id().to_owned()),
        "client_ip": client.map(|c| c.ip().to_string()),
        "request_id": id.map(|id| id.to_string()),
    }))
}

/// `/signed` behind the verifier, `/open` without; request id and client address for both.
fn app(client_ip: ClientIpLayer) -> Router {
    let store = MemorySecretStore::new().with_key(KEY, SECRET);
    Router::new()
        .route("/signed", get(signed))
        .route_layer(SignatureLayer::new(AliyunApiGateway::new(), store))
        .route("/open", get(maybe))
        .layer(client_ip)
        .layer(RequestIdLayer::new())
}

async fn get_json(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> (u16, http::HeaderMap, Value) {
    let mut req = client_from("127.0.0.1").get(format!("http://{addr}{path}"));
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let resp = req.send().await.unwrap();
    let (status, headers) = (resp.status().as_u16(), resp.headers().clone());
    let body = resp.bytes().await.unwrap();
    (
        status,
        headers,
        serde_json::from_slice(&body).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into())),
    )
}

#[tokio::test]
async fn each_extractor_reads_what_its_layer_put_there() {
    let addr = serve(app(ClientIpLayer::new())).await;
    let url = format!("http://{addr}/signed");
    let req = http::Request::get(&url).body(Bytes::new()).unwrap();
    let req = sign_request(&AliyunApiGateway::new(), req, KEY, &SECRET.into(), SystemTime::now()).unwrap();
    let mut send = client_from("127.0.0.1").get(&url);
    for (name, value) in req.headers() {
        send = send.header(name, value);
    }
    let resp = send.send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let echoed = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body, json!({"app": KEY, "client_ip": "127.0.0.1", "request_id": echoed}));

    // unsigned: `Option<Caller>` is `None`, the others are there
    let (status, headers, body) = get_json(addr, "/open", &[]).await;
    assert_eq!(status, 200);
    assert_eq!(body["app"], Value::Null);
    assert_eq!(body["client_ip"], "127.0.0.1");
    assert_eq!(body["request_id"], headers["x-request-id"].to_str().unwrap());
}

#[tokio::test]
async fn a_missing_layer_is_a_500_naming_it() {
    let app = Router::new()
        .route("/caller", get(|caller: Caller| async move { caller.app_id().to_owned() }))
        .route("/request-id", get(|id: RequestId| async move { id.to_string() }))
        .route("/client-ip", get(|client: ClientIp| async move { client.ip().to_string() }))
        .route("/optional", get(maybe));
    // served without connect info: no peer address either
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    for (path, layer) in
        [("/caller", "SignatureLayer"), ("/request-id", "RequestIdLayer"), ("/client-ip", "ClientIpLayer")]
    {
        let (status, _, body) = get_json(addr, path, &[]).await;
        assert_eq!(status, 500, "{path}");
        let text = body.as_str().unwrap();
        assert!(text.contains(layer), "{path}: {text}");
    }
    let (status, _, body) = get_json(addr, "/optional", &[]).await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({"app": null, "client_ip": null, "request_id": null}));
}

#[tokio::test]
async fn an_unresolved_client_is_refused_not_read_as_the_proxy() {
    // the test client is the trusted proxy
    let addr = serve(app(ClientIpLayer::new().trust_proxies(["127.0.0.1"]).unwrap())).await;

    let (status, _, body) = get_json(addr, "/open", &[("x-forwarded-for", "203.0.113.7")]).await;
    assert_eq!((status, &body["client_ip"]), (200, &json!("203.0.113.7")));

    // `Option<ClientIp>`: `None`, not 127.0.0.1
    let (status, _, body) = get_json(addr, "/open", &[("x-forwarded-for", "unknown")]).await;
    assert_eq!((status, &body["client_ip"]), (200, &Value::Null));

    let app = Router::new()
        .route("/", get(|client: ClientIp| async move { client.ip().to_string() }))
        .layer(ClientIpLayer::new().trust_proxies(["127.0.0.1"]).unwrap());
    let addr = serve(app).await;
    let (status, _, body) = get_json(addr, "/", &[("x-forwarded-for", "unknown")]).await;
    assert_eq!(status, 403);
    assert!(body.as_str().unwrap().contains("IpUnresolved"), "{body}");
}
