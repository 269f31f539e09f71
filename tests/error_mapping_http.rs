//! Error-code mapping (Aliyun's `errorMapping`) over real HTTP on loopback and through
//! `oneshot`: the spec's §A6 example, verbatim, in a gateway's `error_mapping` block in front
//! of an axum backend that answers as Aliyun's example backend does.

use std::convert::Infallible;
use std::time::Duration;

use axum::body::Body;
use axum::extract::Query;
use axum::routing::get;
use axum::{Router, response::IntoResponse};
use bytes::Bytes;
use http::Request;
use http_body_util::BodyExt;
use tollgate::error_mapping::{ErrorMappingConfig, ErrorMappingLayer};
use tollgate::gateway::{Format, Gateway};
use tower::ServiceExt;

#[path = "support/http.rs"]
mod http_support;
use http_support::serve;

/// cloud-plugins.md §A6, verbatim.
const SPEC_A6: &str = include_str!("fixtures/cloud-plugins/aliyun-error-mapping.yaml");

/// The gateway file: one API whose `error_mapping` block is §A6 (indented under it; YAML's
/// document marker `---` cannot be nested, so that one line is left out).
fn gateway_yaml() -> String {
    let block: String = SPEC_A6.lines().filter(|l| *l != "---").map(|l| format!("      {l}\n")).collect();
    format!("apis:\n  - path: /\n    error_mapping:\n{block}")
}

#[derive(serde::Deserialize)]
struct Code {
    code: String,
}

/// Answers 200 with Aliyun's example body, the code taken from the query.
async fn result(Query(q): Query<Code>) -> impl IntoResponse {
    let body = serde_json::json!({"result_code": q.code, "req_msg_id": "r1"}).to_string();
    ([("content-type", "application/json")], body)
}

/// A body that would map if read, larger than the 64 KiB limit.
fn big_body() -> String {
    let filler = "x".repeat(70 * 1024);
    format!(r#"{{"result_code":"ROLE_NOT_EXISTS","req_msg_id":"r1","filler":"{filler}"}}"#)
}

fn backend() -> Router {
    Router::new()
        .route("/result", get(result))
        .route("/text", get(|| async { "result_code=ROLE_NOT_EXISTS" }))
        .route("/big", get(|| async { ([("content-type", "application/json")], big_body()) }))
        .route("/unlabelled", get(|| async { r#"{"result_code":"ROLE_NOT_EXISTS","req_msg_id":"r1"}"# }))
}

fn app() -> Router {
    let gateway = Gateway::from_config(&gateway_yaml(), Format::Yaml).unwrap();
    backend().layer(gateway.into_layer())
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// Status, `X-Ca-Error-Message`, body.
async fn get_http(addr: std::net::SocketAddr, path: &str) -> (u16, Option<String>, Bytes) {
    let resp = client().get(format!("http://{addr}{path}")).send().await.unwrap();
    let message = resp.headers().get("x-ca-error-message").map(|v| v.to_str().unwrap().to_owned());
    (resp.status().as_u16(), message, resp.bytes().await.unwrap())
}

async fn get_oneshot(app: &Router, path: &str) -> (u16, Option<String>, Bytes) {
    let resp = app.clone().oneshot(Request::get(path).body(Body::empty()).unwrap()).await.unwrap();
    let message = resp.headers().get("x-ca-error-message").map(|v| v.to_str().unwrap().to_owned());
    (resp.status().as_u16(), message, resp.into_body().collect().await.unwrap().to_bytes())
}

fn body_of(code: &str) -> String {
    serde_json::json!({"result_code": code, "req_msg_id": "r1"}).to_string()
}

#[tokio::test]
async fn the_spec_example_maps_codes_over_http_and_oneshot() {
    let app = app();
    let addr = serve(app.clone()).await;
    let cases = [
        ("ROLE_NOT_EXISTS", 404, Some("Role Not Exists, RequestId=r1")),
        ("INVALID_PARAMETER", 400, Some("Invalid Parameter, RequestId=r1")),
        ("QUOTA_EXCEEDED", 500, Some("Unknown Error, QUOTA_EXCEEDED, RequestId=r1")),
        ("OK", 200, None),
    ];
    for (code, status, message) in cases {
        let path = format!("/result?code={code}");
        for (how, got) in [("http", get_http(addr, &path).await), ("oneshot", get_oneshot(&app, &path).await)] {
            assert_eq!(got.0, status, "{how} {code}");
            assert_eq!(got.1.as_deref(), message, "{how} {code}");
            // the backend's body is kept as it was sent, mapped or not
            assert_eq!(got.2, body_of(code), "{how} {code}");
        }
    }
}

#[tokio::test]
async fn the_spec_example_loads_verbatim_on_its_own() {
    let config: ErrorMappingConfig = serde_norway::from_str(SPEC_A6).unwrap();
    let layer = ErrorMappingLayer::from_config(&config).unwrap();
    assert!(layer.reads_bodies());
    let app = backend().layer(layer);
    assert_eq!(get_oneshot(&app, "/result?code=ROLE_NOT_EXISTS").await.0, 404);
}

#[tokio::test]
async fn bodies_that_cannot_be_read_pass_unchanged() {
    let app = app();
    let addr = serve(app.clone()).await;
    // not JSON (text/plain), and JSON not labelled as such: not read, not mapped
    for path in ["/text", "/unlabelled"] {
        let (status, message, _) = get_http(addr, path).await;
        assert_eq!((status, message), (200, None), "{path}");
    }
    // over the limit: passes whole, unmapped
    let (status, message, body) = get_http(addr, "/big").await;
    assert_eq!((status, message), (200, None));
    assert_eq!(body, big_body());
    let (status, _, body) = get_oneshot(&app, "/big").await;
    assert_eq!(status, 200);
    assert_eq!(body, big_body());
}

/// A backend that sends `first`, then waits for the test's signal before sending `second`.
fn paced(content_type: &'static str, first: Bytes, second: Bytes) -> (Router, tokio::sync::oneshot::Sender<()>) {
    let (go, wait) = tokio::sync::oneshot::channel::<()>();
    let wait = std::sync::Arc::new(std::sync::Mutex::new(Some(wait)));
    let chunks = std::sync::Arc::new(std::sync::Mutex::new(Some((first, second))));
    let handler = move || {
        let wait = wait.lock().unwrap().take().unwrap();
        let (first, second) = chunks.lock().unwrap().take().unwrap();
        async move {
            let stream = futures_util::stream::unfold((0, Some(wait)), move |(i, wait)| {
                let (first, second) = (first.clone(), second.clone());
                async move {
                    match i {
                        0 => Some((Ok::<_, Infallible>(first), (1, wait))),
                        1 => {
                            wait.unwrap().await.unwrap();
                            Some((Ok(second), (2, None)))
                        }
                        _ => None,
                    }
                }
            });
            ([("content-type", content_type)], Body::from_stream(stream))
        }
    };
    let gateway = Gateway::from_config(&gateway_yaml(), Format::Yaml).unwrap();
    (Router::new().route("/paced", get(handler)).layer(gateway.into_layer()), go)
}

#[tokio::test]
async fn a_non_json_body_is_streamed() {
    let (app, go) = paced("text/plain", Bytes::from_static(b"first "), Bytes::from_static(b"second"));
    let addr = serve(app).await;
    let mut resp = client().get(format!("http://{addr}/paced")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    // the first chunk arrives while the backend still holds the second
    let first = tokio::time::timeout(Duration::from_secs(5), resp.chunk()).await.expect("streamed").unwrap();
    assert_eq!(first.as_deref(), Some(&b"first "[..]));
    go.send(()).unwrap();
    assert_eq!(resp.bytes().await.unwrap(), "second");
}

#[tokio::test]
async fn a_json_body_over_the_limit_streams_its_rest() {
    let head = Bytes::from(format!(r#"{{"result_code":"ROLE_NOT_EXISTS","filler":"{}"#, "x".repeat(70 * 1024)));
    let (app, go) = paced("application/json", head.clone(), Bytes::from_static(b"\"}"));
    let addr = serve(app).await;
    let mut resp = client().get(format!("http://{addr}/paced")).send().await.unwrap();
    // headers came before the body ended: the read stopped at the limit, unmapped
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().get("x-ca-error-message").is_none());
    let mut got = Vec::new();
    while got.len() < head.len() {
        let chunk = tokio::time::timeout(Duration::from_secs(5), resp.chunk()).await.expect("streamed").unwrap();
        got.extend_from_slice(&chunk.expect("more"));
    }
    go.send(()).unwrap();
    got.extend_from_slice(&resp.bytes().await.unwrap());
    assert_eq!(got.len(), head.len() + 2);
    assert_eq!(&got[..head.len()], &head[..]);
}

/// Bad configuration fails when the gateway is built, naming the field under the API.
#[test]
fn gateway_configuration_errors_name_the_field() {
    let error = |block: &str| {
        let text = format!("apis:\n  - path: /\n    error_mapping:\n{block}");
        Gateway::from_config(&text, Format::Yaml).unwrap_err().to_string()
    };
    let spec_with = |from: &str, to: &str| {
        let changed = SPEC_A6.replacen(from, to, 1);
        assert_ne!(changed, SPEC_A6);
        changed.lines().filter(|l| *l != "---").map(|l| format!("      {l}\n")).collect::<String>()
    };
    let cases = [
        (
            spec_with("statusCode: 400", "statusCode: 42"),
            "apis[0].error_mapping.mappings[1].statusCode: expected an HTTP status",
        ),
        (
            spec_with("\"BodyJsonField:$.result_code\"", "\"Query:result_code\""),
            "apis[0].error_mapping.parameters.resultCode: ",
        ),
        (
            spec_with("\"BodyJsonField:$.req_msg_id\"", "\"BodyJsonField:$.req_msg_id[\""),
            "apis[0].error_mapping.parameters.resultId: ",
        ),
        (spec_with("<> 'OK'", "<> "), "apis[0].error_mapping.errorCondition: "),
        (spec_with("errorCode: \"resultCode\"", "errorCode: \"result\""), "apis[0].error_mapping.errorCode: "),
        (spec_with("    statusCode: 404", "    statuscode: 404"), "apis[0].error_mapping.mappings[0]"),
    ];
    for (block, expected) in &cases {
        let e = error(block);
        assert!(e.starts_with(expected), "{e}\n  expected {expected}");
    }
}
