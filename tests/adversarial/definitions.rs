//! Adversarial tests: the clouds' API definitions in a gateway configuration (Tencent's
//! `RequestParameters` / `ConstantParameters` / `ServiceParameters`, the plug-in envelope,
//! Aliyun's `[name]` paths). A caller sends what the definition reads one way and the
//! handler another: a required header twice, the constant or a mapped name under its own
//! value, a bracketed segment, a path that only differs in case from an API's; the handler
//! must only ever see what was checked and injected, or the request is refused.

use std::net::SocketAddr;

use axum::Router;
use axum::routing::any;
use http::{HeaderMap, Uri};
use tollgate::gateway::{Format, Gateway};

use crate::http_support::{client_from, serve};

async fn echo(uri: Uri, headers: HeaderMap) -> String {
    let all = |n: &str| headers.get_all(n).iter().map(|v| v.to_str().unwrap().to_owned()).collect::<Vec<_>>().join(",");
    format!("{uri} x-user-id=[{}] x-token=[{}]", all("x-user-id"), all("x-token"))
}

const API: &str = r#"{"error_style": "aliyun_api_gateway", "apis": [{
  "RequestConfig": {"Path": "/user/[userId]", "Method": "POST"},
  "RequestParameters": [
    {"Name": "userId", "Position": "path", "Type": "int", "Required": true},
    {"Name": "X-Token", "Position": "header", "Type": "string", "Required": true}
  ],
  "ConstantParameters": [{"Name": "source", "Position": "query", "DefaultValue": "apigateway"}],
  "ServiceParameters": [
    {"Name": "x-user-id", "Position": "header", "RelevantRequestParameterPosition": "path", "RelevantRequestParameterName": "userId"},
    {"Name": "token", "Position": "query", "RelevantRequestParameterPosition": "header", "RelevantRequestParameterName": "X-Token"}
  ]
}]}"#;

async fn gateway() -> SocketAddr {
    let gateway = Gateway::from_config(API, Format::Json).unwrap();
    serve(Router::new().route("/{*rest}", any(echo)).layer(gateway.into_layer())).await
}

/// A required header sent twice: the check would read one, the backend maybe the other.
#[tokio::test]
async fn a_required_header_twice_is_refused() {
    let addr = gateway().await;
    let resp = client_from("127.0.0.1")
        .post(format!("http://{addr}/user/1"))
        .header("x-token", "checked")
        .header("x-token", "smuggled")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
}

/// The caller's own values under the constant's and the mapped names never reach the handler.
#[tokio::test]
async fn injected_and_mapped_names_cannot_be_smuggled() {
    let addr = gateway().await;
    let client = client_from("127.0.0.1");
    let resp = client
        .post(format!("http://{addr}/user/1?source=evil&Source=evil&token=evil&TOKEN=evil&to%6Ben=evil&token[]=evil"))
        .header("x-token", "t1")
        .header("x-user-id", "0")
        .header("x_user_id", "0")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    assert_eq!(text, "/user/1?source=apigateway&token=t1 x-user-id=[1] x-token=[]", "{text}");
    // a form body overriding the query's injected names (PHP's $_REQUEST, Rails' params)
    let resp = client
        .post(format!("http://{addr}/user/1"))
        .header("x-token", "t1")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("source=evil")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
}

/// A bracketed segment is a value like any other: it binds, and is checked as an int.
#[tokio::test]
async fn a_literal_bracket_segment_is_only_a_value() {
    let addr = gateway().await;
    let client = client_from("127.0.0.1");
    for path in ["/user/[userId]", "/user/%5BuserId%5D", "/user/1%2F2", "/user/1/", "/user/"] {
        let resp = client.post(format!("http://{addr}{path}")).header("x-token", "t").send().await.unwrap();
        assert_eq!(resp.status(), 400, "{path}");
    }
}

/// In the Aliyun style, a path near an API's (another case, a trailing slash) is `Invalid
/// Url`, and the API's path with another method `Invalid HttpMethod`: never routed to it.
#[tokio::test]
async fn near_misses_are_not_routed() {
    let addr = gateway().await;
    let client = client_from("127.0.0.1");
    for path in ["/User/1", "/user", "/users/1"] {
        let resp = client.post(format!("http://{addr}{path}")).header("x-token", "t").send().await.unwrap();
        assert_eq!(resp.status(), 400, "{path}");
        assert_eq!(resp.headers()["x-ca-error-message"], "Invalid Url", "{path}");
    }
    let resp = client.get(format!("http://{addr}/user/1")).header("x-token", "t").send().await.unwrap();
    assert_eq!(resp.headers()["x-ca-error-message"], "Invalid HttpMethod");
}
