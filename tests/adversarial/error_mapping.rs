//! Adversarial tests: error-code mapping against what a hostile client can make a backend
//! answer (a reflected value, a huge or endless body, broken JSON), and against a mapping
//! that would turn tollgate's own refusals into successes.

use std::convert::Infallible;
use std::time::Duration;

use axum::body::Body;
use axum::extract::Query;
use axum::routing::get;
use axum::{Router, response::IntoResponse};
use bytes::Bytes;
use tollgate::gateway::{Format, Gateway};

use crate::http_support::serve;

/// Aliyun's example plug-in, the message reflecting a body field.
const MAPPING: &str = r#"
      parameters:
        statusCode: "StatusCode"
        resultCode: "BodyJsonField:$.result_code"
        resultId: "BodyJsonField:$.req_msg_id"
      errorCondition: "$statusCode = 200 and $resultCode <> 'OK'"
      errorCode: "resultCode"
      mappings:
        - code: "ROLE_NOT_EXISTS"
          statusCode: 404
          errorMessage: "Role Not Exists, RequestId=${resultId}"
      defaultMapping:
        statusCode: 500
        errorMessage: "Unknown Error, ${resultCode}"
"#;

fn gateway() -> Gateway {
    let text = format!("apis:\n  - path: /\n    error_mapping:{MAPPING}");
    Gateway::from_config(&text, Format::Yaml).unwrap()
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(10)).build().unwrap()
}

#[derive(serde::Deserialize)]
struct Reflect {
    id: String,
}

/// A backend that puts the client's `id` in its error body, as many do.
async fn reflect(Query(q): Query<Reflect>) -> impl IntoResponse {
    let body = serde_json::json!({"result_code": "ROLE_NOT_EXISTS", "req_msg_id": q.id}).to_string();
    ([("content-type", "application/json")], body)
}

fn json(body: impl Into<Body>) -> impl IntoResponse {
    ([("content-type", "application/json")], body.into())
}

/// A client-chosen value reflected into the message cannot add a header or split the
/// response: line breaks become spaces, and the header is bounded.
#[tokio::test]
async fn a_reflected_value_cannot_inject_headers() {
    let app = Router::new().route("/r", get(reflect)).layer(gateway().into_layer());
    let addr = serve(app).await;
    let resp = client()
        .get(format!("http://{addr}/r"))
        .query(&[("id", "r1\r\nSet-Cookie: session=evil\r\n\r\n<html>")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    assert!(resp.headers().get("set-cookie").is_none());
    assert_eq!(
        resp.headers()["x-ca-error-message"],
        "Role Not Exists, RequestId=r1  Set-Cookie: session=evil    <html>"
    );
    let long = "A".repeat(20_000);
    let resp = client().get(format!("http://{addr}/r")).query(&[("id", &long)]).send().await.unwrap();
    assert_eq!(resp.status(), 404);
    assert!(resp.headers()["x-ca-error-message"].len() <= tollgate::error_mapping::MAX_MESSAGE_BYTES);
}

/// A huge body, declared or streamed, is never held whole: it passes as sent, unmapped.
#[tokio::test]
async fn a_huge_body_passes_whole_and_unmapped() {
    fn huge() -> Vec<u8> {
        let mut body = br#"{"result_code":"ROLE_NOT_EXISTS","pad":""#.to_vec();
        body.resize(4 * 1024 * 1024, b'x');
        body.extend_from_slice(b"\"}");
        body
    }
    let streamed = || async {
        let chunks = huge().chunks(8192).map(|c| Ok::<_, Infallible>(Bytes::copy_from_slice(c))).collect::<Vec<_>>();
        json(Body::from_stream(futures_util::stream::iter(chunks)))
    };
    let app = Router::new()
        .route("/declared", get(|| async { json(huge()) }))
        .route("/streamed", get(streamed))
        .layer(gateway().into_layer());
    let addr = serve(app).await;
    for path in ["/declared", "/streamed"] {
        let resp = client().get(format!("http://{addr}{path}")).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{path}");
        assert!(resp.headers().get("x-ca-error-message").is_none(), "{path}");
        assert!(resp.bytes().await.unwrap() == huge(), "{path}: the body changed");
    }
}

/// A JSON body that never ends: the read stops at the limit, the response starts, and the
/// client gets the bytes as they come, unmapped.
#[tokio::test]
async fn an_endless_body_does_not_hold_the_response() {
    let endless = || async {
        let start = futures_util::stream::once(async {
            Ok::<_, Infallible>(Bytes::from_static(br#"{"result_code":"X","pad":""#))
        });
        let pad = futures_util::stream::repeat_with(|| Ok(Bytes::from(vec![b'x'; 4096])));
        json(Body::from_stream(futures_util::StreamExt::chain(start, pad)))
    };
    let app = Router::new().route("/endless", get(endless)).layer(gateway().into_layer());
    let addr = serve(app).await;
    let mut resp = client().get(format!("http://{addr}/endless")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().get("x-ca-error-message").is_none());
    let mut got = 0;
    while got < 1024 * 1024 {
        got += resp.chunk().await.unwrap().expect("endless").len();
    }
}

/// Bodies serde_json refuses — invalid UTF-8, nesting past its depth limit, a truncated
/// document — are unreadable: passed as sent, unmapped, and nothing overflows the stack.
#[tokio::test]
async fn broken_json_passes_as_sent() {
    let invalid_utf8 = b"{\"result_code\":\"ROLE_NOT_EXISTS\xff\xfe\",\"req_msg_id\":\"r1\"}".to_vec();
    let deep = format!(r#"{{"result_code":"ROLE_NOT_EXISTS","n":{}{}}}"#, "[".repeat(50_000), "]".repeat(50_000));
    let truncated = br#"{"result_code":"ROLE_NOT_EXISTS","req_msg_id":"r1""#.to_vec();
    let bodies = [invalid_utf8, deep.into_bytes(), truncated];
    let app = Router::new()
        .route(
            "/0",
            get({
                let b = bodies[0].clone();
                move || async move { json(b) }
            }),
        )
        .route(
            "/1",
            get({
                let b = bodies[1].clone();
                move || async move { json(b) }
            }),
        )
        .route(
            "/2",
            get({
                let b = bodies[2].clone();
                move || async move { json(b) }
            }),
        )
        .layer(gateway().into_layer());
    let addr = serve(app).await;
    for (i, body) in bodies.iter().enumerate() {
        let resp = client().get(format!("http://{addr}/{i}")).send().await.unwrap();
        assert_eq!(resp.status(), 200, "body {i}");
        assert!(resp.headers().get("x-ca-error-message").is_none(), "body {i}");
        assert_eq!(&resp.bytes().await.unwrap()[..], &body[..], "body {i}");
    }
}

/// Duplicate keys: the plug-in reads the last, as serde_json (and JavaScript's and Python's
/// parsers) do, so a client reading the body sees the code the mapping judged.
#[tokio::test]
async fn duplicate_keys_are_read_as_the_last() {
    let app = Router::new()
        .route("/ok-last", get(|| async { json(r#"{"result_code":"ROLE_NOT_EXISTS","result_code":"OK"}"#) }))
        .route("/ok-first", get(|| async { json(r#"{"result_code":"OK","result_code":"ROLE_NOT_EXISTS"}"#) }))
        .layer(gateway().into_layer());
    let addr = serve(app).await;
    let status = |path: &'static str| async move {
        client().get(format!("http://{addr}{path}")).send().await.unwrap().status().as_u16()
    };
    assert_eq!(status("/ok-last").await, 200);
    assert_eq!(status("/ok-first").await, 404);
}

/// The client cannot supply the error code: `ErrorCode` is the response's `X-Ca-Error-Code`,
/// never the request's.
#[tokio::test]
async fn a_request_header_is_not_the_error_code() {
    let text = r#"
apis:
  - path: /
    error_mapping:
      parameters: {e: ErrorCode}
      errorCondition: "$e = 'I5001'"
      mappings: [{statusCode: 503}]
"#;
    let gateway = Gateway::from_config(text, Format::Yaml).unwrap();
    let app = Router::new().route("/", get(|| async { "fine" })).layer(gateway.into_layer());
    let addr = serve(app).await;
    let resp = client().get(format!("http://{addr}/")).header("x-ca-error-code", "I5001").send().await.unwrap();
    assert_eq!(resp.status(), 200);
}

/// A refusal of tollgate's own is never mapped, even by a mapping that would make it a
/// success: error mapping sits next to the handler, inside every request-phase policy.
#[tokio::test]
async fn a_refusal_cannot_be_mapped_into_a_success() {
    let text = r#"
apis:
  - path: /
    ip_access: {type: black_list, blocks: "127.0.0.1"}
    error_mapping:
      parameters: {s: StatusCode}
      errorCondition: "$s >= 400"
      mappings: [{statusCode: 200, errorMessage: "all good"}]
"#;
    let gateway = Gateway::from_config(text, Format::Yaml).unwrap();
    let app = Router::new().route("/", get(|| async { "handler" })).layer(gateway.into_layer());
    let addr = serve(app).await;
    let resp = client().get(format!("http://{addr}/")).send().await.unwrap();
    assert_eq!(resp.status(), 403);
    assert!(resp.headers().get("x-ca-error-message").is_none_or(|m| m != "all good"));
}
