//! Parameter validation and injection over real HTTP on loopback: an axum handler echoes
//! what it received, so each test sees exactly what reached it — defaults written in,
//! injected values, smuggled ones gone — and what a refused caller reads.

use axum::Router;
use axum::body::Bytes;
use axum::extract::Request;
use axum::routing::{get, post};
use serde_json::{Value, json};
use tollgate::params::{
    Param, ParamInjectionConfig, ParamMapping, ParamType, ParamValidationConfig, Position, SystemParam,
};
use tollgate::prelude::*;

#[path = "support/http.rs"]
mod http_support;
use http_support::serve;

/// Answers with what arrived: the URI, every header value, the body.
async fn echo(req: Request) -> axum::Json<Value> {
    let (parts, body) = req.into_parts();
    let body: Bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    let mut headers = serde_json::Map::new();
    for name in parts.headers.keys() {
        let values: Vec<Value> =
            parts.headers.get_all(name).iter().map(|v| Value::from(String::from_utf8_lossy(v.as_bytes()))).collect();
        headers.insert(name.to_string(), Value::Array(values));
    }
    axum::Json(json!({"uri": parts.uri.to_string(), "headers": headers, "body": String::from_utf8_lossy(&body)}))
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// The orders API: `id` an int from the template, `page` an int ≥ 1 defaulting to 1, `sort`
/// one of two; the client IP, the request id and a constant injected; `x-uid` moved to the
/// query.
fn orders() -> Router {
    let validation = ParamValidationLayer::from_config(
        &ParamValidationConfig::new()
            .path("/orders/{id}")
            .param(Param::path("id").int().min(1))
            .param(Param::query("page").int().default(1).min(1))
            .param(Param::query("sort").one_of(["asc", "desc"]))
            .param(Param::header("x-uid").long().required()),
    )
    .unwrap();
    let injection = ParamInjectionLayer::from_config(
        &ParamInjectionConfig::new()
            .constant(Position::Header, "x-env", "prod")
            .system(Position::Header, "x-client-ip", SystemParam::ClientIp)
            .system(Position::Query, "requestId", SystemParam::RequestId)
            .mapping(ParamMapping::new((Position::Header, "x-uid"), (Position::Query, "uid")))
            .mapping(ParamMapping::new((Position::Path, "id"), (Position::Header, "x-order-id"))),
    )
    .unwrap();
    Router::new()
        .route("/orders/{id}", get(echo))
        .layer(injection)
        .layer(validation)
        .layer(ClientIpLayer::new())
        .layer(RequestIdLayer::new())
}

#[tokio::test]
async fn a_valid_call_reaches_the_handler_with_defaults_and_injections() {
    let addr = serve(orders()).await;
    let resp = client().get(format!("http://{addr}/orders/42?sort=asc")).header("x-uid", "7").send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let request_id = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    let seen: Value = resp.json().await.unwrap();
    assert_eq!(seen["uri"], format!("/orders/42?sort=asc&page=1&requestId={request_id}&uid=7"));
    assert_eq!(seen["headers"]["x-env"], json!(["prod"]));
    assert_eq!(seen["headers"]["x-client-ip"], json!(["127.0.0.1"]));
    assert_eq!(seen["headers"]["x-order-id"], json!(["42"]));
    assert!(seen["headers"].get("x-uid").is_none(), "moved to the query");
}

#[tokio::test]
async fn an_invalid_call_gets_one_refusal_listing_every_problem() {
    let addr = serve(orders()).await;
    let resp = client().get(format!("http://{addr}/orders/0?page=x&sort=up&page=2")).send().await.unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(resp.headers()["content-type"], "application/problem+json");
    assert!(resp.headers().contains_key("x-request-id"));
    let problem: Value = resp.json().await.unwrap();
    assert_eq!(problem["code"], "InvalidId");
    assert_eq!(problem["policy"], "params");
    assert_eq!(
        problem["detail"],
        "4 problems: path id: must be at least 1; query page: given 2 times; expected one value; \
         query sort: must be one of \"asc\", \"desc\"; header x-uid: is required"
    );
}

#[tokio::test]
async fn smuggled_values_never_reach_the_handler() {
    let addr = serve(orders()).await;
    let mut headers = reqwest::header::HeaderMap::new();
    for forged in ["10.0.0.1", "10.0.0.2"] {
        headers.append("x-client-ip", forged.parse().unwrap());
    }
    headers.append("x_client_ip", "10.0.0.3".parse().unwrap());
    headers.append("x-env", "dev".parse().unwrap());
    headers.append("x-order-id", "1".parse().unwrap());
    headers.append("x-uid", "7".parse().unwrap());
    let resp = client()
        .get(format!("http://{addr}/orders/5?uid=999&requestId=forged&%75id=998&uid"))
        .headers(headers)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let request_id = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    let seen: Value = resp.json().await.unwrap();
    assert_eq!(seen["uri"], format!("/orders/5?page=1&requestId={request_id}&uid=7"));
    assert_eq!(seen["headers"]["x-client-ip"], json!(["127.0.0.1"]));
    assert!(seen["headers"].get("x_client_ip").is_none());
    assert_eq!(seen["headers"]["x-env"], json!(["prod"]));
    assert_eq!(seen["headers"]["x-order-id"], json!(["5"]));
}

#[tokio::test]
async fn other_paths_pass_the_template_scoped_validation_untouched() {
    let validation = ParamValidationLayer::from_config(
        &ParamValidationConfig::new().path("/orders/{id}").param(Param::query("page").int().required()),
    )
    .unwrap();
    let app = Router::new().route("/health", get(echo)).route("/orders/{id}", get(echo)).layer(validation);
    let addr = serve(app).await;
    assert_eq!(client().get(format!("http://{addr}/health?page=x")).send().await.unwrap().status(), 200);
    assert_eq!(client().get(format!("http://{addr}/orders/1?page=x")).send().await.unwrap().status(), 400);
}

#[tokio::test]
async fn json_bodies_meet_their_schema_and_get_their_defaults() {
    let validation = ParamValidationLayer::from_config(
        &ParamValidationConfig::new()
            .schema(json!({
                "type": "object",
                "required": ["sku"],
                "properties": {"sku": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]+$"}, "qty": {"type": "integer"}}
            }))
            .param(Param::json("qty", "/qty").int().min(1).max(99).default(1))
            .param(Param::json("tags", "/meta/tags").array_of(ParamType::String).max_length(8)),
    )
    .unwrap();
    let app = Router::new().route("/cart", post(echo)).layer(validation.error_style(ErrorStyle::AliyunApiGateway));
    let addr = serve(app).await;
    let resp = client().post(format!("http://{addr}/cart")).json(&json!({"sku": "ABC-1"})).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let seen: Value = resp.json().await.unwrap();
    let body: Value = serde_json::from_str(seen["body"].as_str().unwrap()).unwrap();
    assert_eq!(body, json!({"sku": "ABC-1", "qty": 1}));
    assert_eq!(seen["headers"]["content-length"], json!([seen["body"].as_str().unwrap().len().to_string()]));

    let resp = client()
        .post(format!("http://{addr}/cart"))
        .json(&json!({"sku": "nope", "qty": 100, "meta": {"tags": ["ok", "far-too-long"]}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(resp.headers()["x-ca-error-message"], "Invalid Request Body");

    let resp =
        client().post(format!("http://{addr}/cart")).header("content-type", "application/json").send().await.unwrap();
    assert_eq!(resp.headers()["x-ca-error-message"], "Empty Request Body");
    let resp = client()
        .post(format!("http://{addr}/cart"))
        .header("content-type", "multipart/form-data; boundary=x")
        .body("--x--")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["x-ca-error-message"], "Invalid Param Location");
}

#[tokio::test]
async fn form_bodies_get_their_defaults_and_big_bodies_413() {
    let validation = ParamValidationLayer::from_config(
        &ParamValidationConfig::new().param(Param::form("qty").int().default(1)).param(Param::form("note").required()),
    )
    .unwrap()
    .body_limit(1024);
    let app = Router::new().route("/order", post(echo)).layer(validation);
    let addr = serve(app).await;
    let resp = client().post(format!("http://{addr}/order")).form(&[("note", "hi there")]).send().await.unwrap();
    let seen: Value = resp.json().await.unwrap();
    assert_eq!(seen["body"], "note=hi+there&qty=1");
    let resp = client()
        .post(format!("http://{addr}/order"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("note={}", "x".repeat(2000)))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    let resp = client().post(format!("http://{addr}/order")).form(&[("qty", "2")]).send().await.unwrap();
    assert_eq!(resp.status(), 400);
    let problem: Value = resp.json().await.unwrap();
    assert_eq!(
        (problem["code"].as_str(), problem["detail"].as_str()),
        (Some("MissingNote"), Some("form note: is required"))
    );
}

#[tokio::test]
async fn the_routers_path_parameters_serve_without_a_template() {
    let validation =
        ParamValidationLayer::from_config(&ParamValidationConfig::new().param(Param::path("sku").regex("[A-Z]{3}")))
            .unwrap();
    let injection = ParamInjectionLayer::from_config(
        &ParamInjectionConfig::new().mapping(ParamMapping::new((Position::Path, "sku"), (Position::Header, "x-sku"))),
    )
    .unwrap();
    let app = Router::new().route("/items/{sku}", get(echo)).layer(injection).layer(validation);
    let addr = serve(app).await;
    let resp = client().get(format!("http://{addr}/items/ABC")).send().await.unwrap();
    let seen: Value = resp.json().await.unwrap();
    assert_eq!(seen["headers"]["x-sku"], json!(["ABC"]));
    let resp = client().get(format!("http://{addr}/items/abc")).send().await.unwrap();
    assert_eq!(resp.status(), 400);
}
