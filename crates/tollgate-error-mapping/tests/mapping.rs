//! The plug-in's behaviour through the layer (`oneshot` on a `service_fn` backend), its
//! configuration errors with field paths, and property tests: bodies pass intact, no JSON
//! makes it panic.

use std::convert::Infallible;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use proptest::prelude::*;
use tollgate_core::{Caller, RequestId, TokenClaims};
use tollgate_error_mapping::{ErrorMappingConfig, ErrorMappingLayer};
use tower::{Layer, ServiceExt, service_fn};

fn layer(json: &str) -> ErrorMappingLayer {
    ErrorMappingLayer::from_config(&serde_json::from_str::<ErrorMappingConfig>(json).unwrap()).unwrap()
}

fn config_error(json: &str) -> String {
    let config: ErrorMappingConfig = serde_json::from_str(json).unwrap();
    ErrorMappingLayer::from_config(&config).unwrap_err().to_string()
}

/// Sends `req` through `layer` to a backend answering `status`, `headers` and `body`;
/// returns the status, `X-Ca-Error-Message` and the body that came out.
async fn exchange_with(
    layer: &ErrorMappingLayer,
    req: Request<()>,
    status: u16,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> (u16, Option<String>, Bytes) {
    let body = body.into();
    let headers: Vec<(String, String)> = headers.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect();
    let backend = service_fn(move |_req: Request<()>| {
        let mut resp = Response::builder().status(status);
        for (n, v) in &headers {
            resp = resp.header(n, v);
        }
        let resp = resp.body(Full::new(body.clone())).unwrap();
        async move { Ok::<_, Infallible>(resp) }
    });
    let resp = layer.layer(backend).oneshot(req).await.unwrap();
    let message = resp.headers().get("x-ca-error-message").map(|v| String::from_utf8(v.as_bytes().to_vec()).unwrap());
    (resp.status().as_u16(), message, resp.into_body().collect().await.unwrap().to_bytes())
}

async fn exchange(
    layer: &ErrorMappingLayer,
    status: u16,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> (u16, Option<String>, Bytes) {
    exchange_with(layer, Request::new(()), status, headers, body).await
}

const JSON: (&str, &str) = ("content-type", "application/json");

#[tokio::test]
async fn a_mapping_without_code_is_a_catch_all_at_its_place() {
    let l = layer(
        r#"{"parameters": {"s": "StatusCode", "c": "BodyJsonField:$.code"}, "errorCondition": "$s >= 400",
            "errorCode": "c", "mappings": [
              {"code": "A", "statusCode": 409, "errorMessage": "a"},
              {"statusCode": 502, "errorMessage": "other: ${c}"}]}"#,
    );
    assert_eq!(exchange(&l, 500, &[JSON], r#"{"code":"A"}"#).await.0, 409);
    assert_eq!(exchange(&l, 500, &[JSON], r#"{"code":"B"}"#).await.1.as_deref(), Some("other: B"));
    // no code at all: the catch-all still applies, its placeholder empty
    let (status, message, _) = exchange(&l, 503, &[], "down").await;
    assert_eq!((status, message.as_deref()), (502, Some("other:")));
    // the condition false: nothing
    assert_eq!(exchange(&l, 200, &[JSON], r#"{"code":"A"}"#).await, (200, None, Bytes::from(r#"{"code":"A"}"#)));
}

#[tokio::test]
async fn error_code_is_read_from_x_ca_error_code_and_headers_from_the_response() {
    let l = layer(
        r#"{"parameters": {"e": "ErrorCode", "h": "Header:X-Backend-Reason"}, "errorCondition": "$e != null",
            "errorCode": "e", "mappings": [{"code": "I5001", "statusCode": 503, "errorMessage": "busy: ${h}"}],
            "defaultMapping": {"statusCode": 500}}"#,
    );
    assert!(!l.reads_bodies());
    let (status, message, _) = exchange(&l, 200, &[("x-ca-error-code", "I5001"), ("x-backend-reason", "db")], "").await;
    assert_eq!((status, message.as_deref()), (503, Some("busy: db")));
    // the default has no message: the status alone changes, the backend's message stays
    let (status, message, _) =
        exchange(&l, 200, &[("x-ca-error-code", "X"), ("x-ca-error-message", "backend's")], "").await;
    assert_eq!((status, message.as_deref()), (500, Some("backend's")));
    assert_eq!(exchange(&l, 200, &[], "").await.0, 200);
}

#[tokio::test]
async fn system_and_token_values_are_taken_from_the_request() {
    let l = layer(
        r#"{"parameters": {"s": "StatusCode", "user": "Token:sub", "app": "System:CaAppKey"},
            "errorCondition": "$s = 500 and $CaAppKey = 'k1'",
            "mappings": [{"statusCode": 503, "errorMessage": "${user} ${app} ${CaRequestId}"}]}"#,
    );
    let mut req = Request::new(());
    req.extensions_mut().insert(Caller::new("k1"));
    req.extensions_mut().insert(RequestId::new("rid-1".parse().unwrap()).unwrap());
    req.extensions_mut().insert(TokenClaims::new(serde_json::json!({"sub": "alice"})));
    let (status, message, _) = exchange_with(&l, req, 500, &[], "").await;
    assert_eq!((status, message.as_deref()), (503, Some("alice k1 rid-1")));
    // another app: the condition is false
    let mut req = Request::new(());
    req.extensions_mut().insert(Caller::new("k2"));
    assert_eq!(exchange_with(&l, req, 500, &[], "").await.0, 500);
}

#[tokio::test]
async fn a_condition_without_body_fields_is_judged_when_the_body_is_unreadable() {
    let l = layer(
        r#"{"parameters": {"s": "StatusCode", "c": "BodyJsonField:$.code"}, "errorCondition": "$s = 500",
            "mappings": [{"statusCode": 502, "errorMessage": "code=${c}"}]}"#,
    );
    // not JSON: the condition reads no body field, so it is judged; the field is empty
    let (status, message, body) = exchange(&l, 500, &[("content-type", "text/html")], "<h1>oops</h1>").await;
    assert_eq!((status, message.as_deref(), &body[..]), (502, Some("code="), &b"<h1>oops</h1>"[..]));
    let (status, message, _) = exchange(&l, 500, &[JSON], r#"{"code": 7}"#).await;
    assert_eq!((status, message.as_deref()), (502, Some("code=7")));
}

#[tokio::test]
async fn a_condition_on_body_fields_leaves_unreadable_bodies_alone() {
    let l = layer(
        r#"{"parameters": {"c": "BodyJsonField:$.code"}, "errorCondition": "$c <> 'OK'",
            "mappings": [{"statusCode": 502}], "bodyLimit": 16}"#,
    );
    // read: a missing field is null, which `<> 'OK'`
    assert_eq!(exchange(&l, 200, &[JSON], "{}").await.0, 502);
    assert_eq!(exchange(&l, 200, &[JSON], r#"{"code":"OK"}"#).await.0, 200);
    // unreadable: not JSON, invalid JSON, over the limit, compressed
    assert_eq!(exchange(&l, 200, &[], "{}").await.0, 200);
    assert_eq!(exchange(&l, 200, &[JSON], "{").await.0, 200);
    assert_eq!(exchange(&l, 200, &[JSON], r#"{"code":"NOT_OK______"}"#).await.0, 200);
    assert_eq!(exchange(&l, 200, &[JSON, ("content-encoding", "gzip")], "{}").await.0, 200);
    // the limit set in code replaces the configuration's
    let l = l.body_limit(1024);
    assert_eq!(exchange(&l, 200, &[JSON], r#"{"code":"NOT_OK______"}"#).await.0, 502);
}

#[tokio::test]
async fn the_mapped_message_is_a_safe_header() {
    let l = layer(
        r#"{"parameters": {"c": "BodyJsonField:$.msg"}, "errorCondition": "$c != null",
            "mappings": [{"statusCode": 400, "errorMessage": "错误: ${c}"}]}"#,
    );
    let (status, message, _) = exchange(&l, 200, &[JSON], r#"{"msg":"bad\r\nSet-Cookie: s=1"}"#).await;
    assert_eq!((status, message.as_deref()), (400, Some("错误: bad  Set-Cookie: s=1")));
}

#[test]
fn configuration_errors_name_the_field() {
    let base = |extra: &str| {
        format!(
            r#"{{"parameters": {{"s": "StatusCode", "c": "BodyJsonField:$.code"}}, "errorCondition": "$s = 200",
                "errorCode": "c", {extra}}}"#
        )
    };
    let cases = [
        (
            base(r#""mappings": [{"code": "A", "statusCode": 404}, {"code": "B", "statusCode": 99}]"#),
            "mappings[1].statusCode: expected an HTTP status from 200 to 599, got 99",
        ),
        (base(r#""mappings": [{"code": "A"}]"#), "mappings[0].statusCode: missing"),
        (
            base(r#""mappings": [{"code": "A", "statusCode": 404}, {"code": "A", "statusCode": 400}]"#),
            "mappings[1].code: never applies",
        ),
        (
            base(r#""mappings": [{"statusCode": 404}, {"code": "A", "statusCode": 400}]"#),
            "mappings[1].code: never applies",
        ),
        (
            base(r#""mappings": [{"code": "A", "statusCode": 404, "errorMessage": "${nobody}"}]"#),
            "mappings[0].errorMessage: ",
        ),
        (base(r#""mappings": [], "defaultMapping": {"code": "A", "statusCode": 500}"#), "defaultMapping.code: "),
        (base(r#""mappings": [], "defaultMapping": {"statusCode": 700}"#), "defaultMapping.statusCode: "),
        (base(r#""mappings": [], "bodyLimit": 0"#), "bodyLimit: "),
    ];
    for (json, expected) in &cases {
        let e = config_error(json);
        assert!(e.starts_with(expected), "{e}\n  expected {expected}");
    }
    let e = config_error(r#"{"parameters": {"q": "Query:x"}, "errorCondition": "$q = 1", "mappings": []}"#);
    assert!(e.starts_with("parameters.q: "), "{e}");
    let e = config_error(
        r#"{"parameters": {"resultCode": "BodyJsonField:$.a[x]"}, "errorCondition": "1 = 1", "mappings": []}"#,
    );
    assert!(e.starts_with("parameters.resultCode: "), "{e}");
    let e = config_error(r#"{"parameters": {"s": "StatusCode"}, "errorCondition": "$s = ", "mappings": []}"#);
    assert!(e.starts_with("errorCondition: "), "{e}");
    let e = config_error(
        r#"{"parameters": {"s": "StatusCode"}, "errorCondition": "$s = 1", "errorCode": "t", "mappings": []}"#,
    );
    assert!(e.starts_with("errorCode: \"t\" is neither a parameter nor a system parameter"), "{e}");
    let e = config_error(
        r#"{"parameters": {"s": "StatusCode"}, "errorCondition": "$s = 1", "mappings": [{"code": "A", "statusCode": 400}]}"#,
    );
    assert!(e.starts_with("mappings[0].code: "), "{e}");
}

#[tokio::test]
async fn duplicate_keys_read_the_last() {
    let l = layer(
        r#"{"parameters": {"c": "BodyJsonField:$.result_code"}, "errorCondition": "$c <> 'OK'",
            "mappings": [{"statusCode": 404, "errorMessage": "${c}"}]}"#,
    );
    let (status, message, _) =
        exchange(&l, 200, &[JSON], r#"{"result_code":"OK","result_code":"ROLE_NOT_EXISTS"}"#).await;
    assert_eq!((status, message.as_deref()), (404, Some("ROLE_NOT_EXISTS")));
    assert_eq!(exchange(&l, 200, &[JSON], r#"{"result_code":"X","result_code":"OK"}"#).await.0, 200);
}

fn run<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// Whatever the backend sends, when the condition is false the response is the backend's,
    /// byte for byte, whatever the limit.
    #[test]
    fn bodies_pass_intact_when_the_condition_is_false(
        body in proptest::collection::vec(any::<u8>(), 0..512),
        limit in 1usize..600,
        json in any::<bool>(),
    ) {
        let l = layer(
            r#"{"parameters": {"s": "StatusCode", "c": "BodyJsonField:$.code"},
                "errorCondition": "$s = 599 and $c = 'never'", "mappings": [{"statusCode": 500}]}"#,
        ).body_limit(limit);
        let headers: &[(&str, &str)] = if json { &[JSON] } else { &[] };
        let (status, message, out) = run(exchange(&l, 200, headers, body.clone()));
        prop_assert_eq!((status, message), (200, None));
        prop_assert_eq!(&out[..], &body[..]);
    }

    /// No JSON makes it panic, and the body comes out as it went in, mapped or not.
    #[test]
    fn no_panic_on_any_json(value in json_value(), raw in "\\PC{0,64}") {
        let l = layer(
            r#"{"parameters": {"c": "BodyJsonField:$.a[0].b", "d": "BodyJsonField:$"},
                "errorCondition": "$c <> 'x' or $d like '%z%'", "errorCode": "c",
                "mappings": [{"code": "1", "statusCode": 400, "errorMessage": "${c}${d}"}],
                "defaultMapping": {"statusCode": 500, "errorMessage": "${d}"}}"#,
        );
        for body in [value.to_string(), raw] {
            let (_, _, out) = run(exchange(&l, 200, &[JSON], body.clone()));
            prop_assert_eq!(&out[..], body.as_bytes());
        }
    }
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map("[a-c]", inner, 0..4).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

#[test]
fn status_code_is_the_status_of_the_response() {
    // a mapped status is an http::StatusCode; 200 to 599 all accepted
    for s in [200u16, 404, 599] {
        let l = layer(&format!(
            r#"{{"parameters": {{"s": "StatusCode"}}, "errorCondition": "$s = 500", "mappings": [{{"statusCode": {s}}}]}}"#
        ));
        assert_eq!(run(exchange(&l, 500, &[], "")).0, StatusCode::from_u16(s).unwrap().as_u16());
    }
}

#[tokio::test]
async fn nested_paths_and_non_string_codes() {
    let l = layer(
        r#"{"parameters": {"c": "BodyJsonField:$.data.errors[1]['code']"}, "errorCondition": "$c != null",
            "errorCode": "c", "mappings": [{"code": 1001, "statusCode": 429, "errorMessage": "c=${c}"}]}"#,
    );
    let body = r#"{"data": {"errors": [{"code": 1}, {"code": 1001}]}}"#;
    assert_eq!(exchange(&l, 200, &[JSON], body).await.1.as_deref(), Some("c=1001"));
    assert_eq!(exchange(&l, 200, &[JSON], r#"{"data": {"errors": [{"code": 1001}]}}"#).await.0, 200);
}

#[tokio::test]
async fn bodies_are_read_only_when_a_body_field_is_used_and_the_body_is_json() {
    let backend = |content_type: &'static str| {
        service_fn(move |_req: Request<()>| async move {
            let resp = Response::builder().status(500).header("content-type", content_type);
            Ok::<_, Infallible>(resp.body(Full::new(Bytes::from_static(b"{\"code\":\"A\"}"))).unwrap())
        })
    };
    let no_body = layer(
        r#"{"parameters": {"s": "StatusCode"}, "errorCondition": "$s = 500", "mappings": [{"statusCode": 502}]}"#,
    );
    let resp = no_body.layer(backend("application/json")).oneshot(Request::new(())).await.unwrap();
    assert_eq!(resp.status(), 502);
    assert!(resp.body().is_streamed(), "read without a BodyJsonField");
    // declared but used nowhere: not read either
    let unused = layer(
        r#"{"parameters": {"s": "StatusCode", "c": "BodyJsonField:$.code"}, "errorCondition": "$s = 500",
            "mappings": [{"statusCode": 502, "errorMessage": "fixed"}]}"#,
    );
    assert!(!unused.reads_bodies());

    let with_body = layer(
        r#"{"parameters": {"c": "BodyJsonField:$.code"}, "errorCondition": "$c = 'A'", "mappings": [{"statusCode": 409}]}"#,
    );
    let resp = with_body.layer(backend("text/plain")).oneshot(Request::new(())).await.unwrap();
    assert!(resp.body().is_streamed(), "a text body was read");
    let resp = with_body.layer(backend("application/json")).oneshot(Request::new(())).await.unwrap();
    assert_eq!(resp.status(), 409);
    assert!(!resp.body().is_streamed());
}
