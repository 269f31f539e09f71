//! IP access control and client address resolution over real HTTP on loopback, and through
//! `oneshot`.

use axum::{Json, Router, extract::Extension, routing::get};
use serde_json::{Value, json};
use tollgate::prelude::*;
use tower::ServiceExt;

async fn whoami(ip: Option<Extension<ClientIp>>) -> Json<Value> {
    Json(json!({"client_ip": ip.map(|Extension(c)| c.ip().to_string())}))
}

#[path = "support/http.rs"]
mod http_support;
use http_support::{client_from, serve};

#[tokio::test]
async fn spoofed_forwarded_for_from_untrusted_peer_is_ignored() {
    let app = Router::new().route("/", get(whoami)).layer(ClientIpLayer::new());
    let addr = serve(app).await;
    let resp = client_from("127.0.0.1")
        .get(format!("http://{addr}/"))
        .header("x-forwarded-for", "1.2.3.4")
        .header("x-real-ip", "1.2.3.4")
        .header("forwarded", "for=1.2.3.4")
        .send()
        .await
        .unwrap();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["client_ip"], "127.0.0.1");

    // trusting some other network changes nothing for this peer
    let app = Router::new().route("/", get(whoami)).layer(ClientIpLayer::new().trust_proxies(["10.0.0.0/8"]).unwrap());
    let addr = serve(app).await;
    let resp = client_from("127.0.0.1").get(format!("http://{addr}/")).header("x-forwarded-for", "1.2.3.4").send();
    let body: Value = resp.await.unwrap().json().await.unwrap();
    assert_eq!(body["client_ip"], "127.0.0.1");
}

#[tokio::test]
async fn behind_trusted_proxy_the_rightmost_untrusted_hop_is_the_client() {
    let app = Router::new()
        .route("/", get(whoami))
        .layer(ClientIpLayer::new().trust_proxies(["127.0.0.0/8", "10.0.0.0/8"]).unwrap());
    let addr = serve(app).await;
    let client = client_from("127.0.0.1");
    let fetch = |xff: &'static str| client.get(format!("http://{addr}/")).header("x-forwarded-for", xff).send();

    let body: Value = fetch("6.6.6.6, 203.0.113.9, 10.0.0.3").await.unwrap().json().await.unwrap();
    assert_eq!(body["client_ip"], "203.0.113.9");
    let body: Value = fetch("203.0.113.9, 10.0.0.3, 127.0.0.5").await.unwrap().json().await.unwrap();
    assert_eq!(body["client_ip"], "203.0.113.9");
    // an unparseable nearest hop leaves the client unknown rather than guessed
    let body: Value = fetch("203.0.113.9, garbage").await.unwrap().json().await.unwrap();
    assert_eq!(body["client_ip"], Value::Null);

    // RFC 7239 when the proxy writes that header
    let app = Router::new().route("/", get(whoami)).layer(
        ClientIpLayer::new().trust_proxies(["127.0.0.0/8"]).unwrap().forwarding_header(ForwardingHeader::Forwarded),
    );
    let addr = serve(app).await;
    let resp = client
        .get(format!("http://{addr}/"))
        .header("forwarded", r#"for=6.6.6.6, for="[2001:db8:cafe::17]:4711";proto=https"#)
        .header("x-forwarded-for", "9.9.9.9")
        .send();
    let body: Value = resp.await.unwrap().json().await.unwrap();
    assert_eq!(body["client_ip"], "2001:db8:cafe::17");
}

fn guarded(layer: IpAccessLayer) -> Router {
    Router::new().route("/", get(whoami)).layer(layer).layer(ClientIpLayer::new()).layer(RequestIdLayer::new())
}

#[tokio::test]
async fn allow_list_passes_listed_peers_only() {
    let addr = serve(guarded(IpAccessLayer::allow(["127.0.0.2", "127.0.1.0/24"]).unwrap())).await;
    for (source, expected) in [("127.0.0.2", 200), ("127.0.1.77", 200), ("127.0.0.3", 403), ("127.0.0.1", 403)] {
        let resp = client_from(source).get(format!("http://{addr}/")).send().await.unwrap();
        assert_eq!(resp.status().as_u16(), expected, "from {source}");
        assert!(resp.headers().contains_key("x-request-id"), "request id on every response");
    }
}

#[tokio::test]
async fn deny_list_refuses_listed_peers_with_problem_json() {
    let addr = serve(guarded(IpAccessLayer::deny(["127.0.0.4"]).unwrap())).await;
    let ok = client_from("127.0.0.5").get(format!("http://{addr}/")).send().await.unwrap();
    assert_eq!(ok.status(), 200);
    let body: Value = ok.json().await.unwrap();
    assert_eq!(body["client_ip"], "127.0.0.5");

    let refused = client_from("127.0.0.4").get(format!("http://{addr}/")).send().await.unwrap();
    assert_eq!(refused.status(), 403);
    assert_eq!(refused.headers()["content-type"], "application/problem+json");
    let id = refused.headers()["x-request-id"].to_str().unwrap().to_owned();
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["code"], "IpAccessDenied");
    assert_eq!(body["status"], 403);
    assert_eq!(body["request_id"], id.as_str(), "body and header carry the same id");
}

#[tokio::test]
async fn deny_list_behind_trusted_proxy_uses_resolved_client() {
    let app = Router::new()
        .route("/", get(whoami))
        .layer(IpAccessLayer::deny(["203.0.113.0/24"]).unwrap())
        .layer(ClientIpLayer::new().trust_proxies(["127.0.0.0/8"]).unwrap());
    let addr = serve(app).await;
    let client = client_from("127.0.0.1");
    let resp = client.get(format!("http://{addr}/")).header("x-forwarded-for", "203.0.113.50").send().await.unwrap();
    assert_eq!(resp.status(), 403);
    let resp = client.get(format!("http://{addr}/")).header("x-forwarded-for", "198.51.100.1").send().await.unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn oneshot_without_connection_info_is_refused_as_unresolved() {
    let app = guarded(IpAccessLayer::allow(["127.0.0.1"]).unwrap());
    let resp = app.oneshot(http::Request::get("/").body(axum::body::Body::empty()).unwrap()).await.unwrap();
    assert_eq!(resp.status(), 403);
    let bytes = http_body_util::BodyExt::collect(resp.into_body()).await.unwrap().to_bytes();
    let body: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(body["code"], "IpUnresolved");
}

#[tokio::test]
async fn oneshot_with_peer_addr() {
    let app = guarded(IpAccessLayer::allow(["192.0.2.0/24"]).unwrap());
    let mut req = http::Request::get("/").body(axum::body::Body::empty()).unwrap();
    req.extensions_mut().insert(PeerAddr("192.0.2.8:1234".parse().unwrap()));
    let resp = app.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    let mut req = http::Request::get("/").body(axum::body::Body::empty()).unwrap();
    req.extensions_mut().insert(PeerAddr("198.51.100.8:1234".parse().unwrap()));
    assert_eq!(app.oneshot(req).await.unwrap().status(), 403);
}

#[tokio::test]
async fn every_error_style_refuses_with_403_or_its_own_status() {
    for (style, status) in [
        (ErrorStyle::ProblemJson, 403),
        (ErrorStyle::AliyunApiGateway, 403),
        (ErrorStyle::AliyunRpc, 403),
        (ErrorStyle::TencentCloud, 200),
        (ErrorStyle::TencentApiGateway, 403),
        (ErrorStyle::Grpc, 200),
    ] {
        let app = guarded(IpAccessLayer::deny(["127.0.0.6"]).unwrap().error_style(style.clone()));
        let addr = serve(app).await;
        let resp = client_from("127.0.0.6").get(format!("http://{addr}/")).send().await.unwrap();
        assert_eq!(resp.status().as_u16(), status, "{style:?}");
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        match style {
            ErrorStyle::AliyunApiGateway => assert_eq!(headers["x-ca-error-message"], "Access denied by IP Control"),
            ErrorStyle::TencentCloud => assert!(text.contains("\"Code\":\"IpAccessDenied\""), "{text}"),
            ErrorStyle::Grpc => assert_eq!(headers["grpc-status"], "7"),
            _ => {}
        }
    }
}
