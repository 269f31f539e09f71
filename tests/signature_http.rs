//! Signing and verifying over real HTTP on loopback: `SigningLayer` on a client, and a
//! server behind `SignatureLayer` + `ReplayGuardLayer`, for every scheme. The handler sees
//! the body byte for byte; a replayed request is refused; so is one signed with another key.

use std::net::SocketAddr;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Extension, Request};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tollgate::prelude::*;
use tollgate::signature::aliyun_apigw::AliyunApiGateway;
use tollgate::signature::aliyun_rpc::AliyunRpc;
use tollgate::signature::tencent_apigw::TencentApiGateway;
use tollgate::signature::tencent_cloud::TencentCloud;
use tollgate::signature::{Scheme, Signer};
use tower::{Service, ServiceBuilder, ServiceExt, service_fn};

#[path = "support/http.rs"]
mod http_support;

const KEY: &str = "AKIDhttp0000000000000000000000001";
const SECRET: &str = "httpSecret-000000000000000000000001";

async fn echo(Extension(caller): Extension<Caller>, req: Request) -> axum::Json<Value> {
    let body = axum::body::to_bytes(req.into_body(), usize::MAX).await.unwrap();
    axum::Json(json!({"key_id": caller.key_id(), "body": String::from_utf8_lossy(&body)}))
}

async fn serve<Sc: Scheme>(scheme: Sc) -> SocketAddr {
    let store = MemorySecretStore::new().with_key(KEY, SECRET);
    let app = Router::new()
        .fallback(echo)
        .layer(ReplayGuardLayer::new())
        .layer(SignatureLayer::new(scheme, store))
        .layer(RequestIdLayer::new());
    http_support::serve(app).await
}

/// A tiny HTTP client as a tower service: what `SigningLayer` wraps in a real gateway.
/// It answers with the status, the headers and the body, and keeps the signed request so a
/// test can send it again.
fn client() -> impl Service<
    http::Request<tollgate::RequestBody<http_body_util::Full<Bytes>>>,
    Response = (http::Request<Bytes>, u16, http::HeaderMap, Bytes),
    Error = reqwest::Error,
    Future = impl Send,
> + Clone
+ Send {
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    service_fn(move |req: http::Request<tollgate::RequestBody<http_body_util::Full<Bytes>>>| {
        let http = http.clone();
        async move {
            let (parts, body) = req.into_parts();
            let bytes = body.collect().await.unwrap_or_else(|e: std::convert::Infallible| match e {}).to_bytes();
            let signed = http::Request::from_parts(parts, bytes);
            let (status, headers, body) = send(&http, &signed).await?;
            Ok((signed, status, headers, body))
        }
    })
}

async fn send(
    http: &reqwest::Client,
    req: &http::Request<Bytes>,
) -> Result<(u16, http::HeaderMap, Bytes), reqwest::Error> {
    let mut r = http.request(req.method().clone(), req.uri().to_string());
    for (k, v) in req.headers() {
        if k != http::header::HOST {
            r = r.header(k, v);
        }
    }
    let resp = r.body(req.body().clone()).send().await?;
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    Ok((status, headers, resp.bytes().await?))
}

async fn round_trip<Sc: Scheme, Sg: Signer + Clone>(
    scheme: Sc,
    signer: Sg,
    method: &str,
    path: &str,
    ctype: &str,
    body: &'static [u8],
) -> (u16, Value, u16, Value) {
    let addr = serve(scheme).await;
    let signing = ServiceBuilder::new().layer(SigningLayer::new(signer, KEY, SECRET)).service(client());
    let mut b =
        http::Request::builder().method(method).uri(format!("http://{addr}{path}")).header("host", addr.to_string());
    if !ctype.is_empty() {
        b = b.header("content-type", ctype);
    }
    let req = b.body(http_body_util::Full::new(Bytes::from_static(body))).unwrap();
    let (signed, status, _, bytes) = signing.oneshot(req).await.unwrap();
    let first: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    // the very same signed request again: a replay
    let (status2, _, bytes2) = send(&reqwest::Client::builder().no_proxy().build().unwrap(), &signed).await.unwrap();
    let second: Value = serde_json::from_slice(&bytes2).unwrap_or(Value::Null);
    (status, first, status2, second)
}

#[tokio::test]
async fn aliyun_api_gateway_form_body_arrives_byte_for_byte() {
    let body = b"name=%E5%BC%A0%E4%B8%89+%E6%9D%8E&plus=a%2Bb&empty=&mix=a%3Db%26c";
    let s = AliyunApiGateway::new();
    let (status, first, status2, _) =
        round_trip(s.clone(), s, "POST", "/orders?page=1", "application/x-www-form-urlencoded; charset=UTF-8", body)
            .await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["key_id"], KEY);
    assert_eq!(first["body"], std::str::from_utf8(body).unwrap());
    assert_eq!(status2, 400, "the replay is refused");
}

#[tokio::test]
async fn aliyun_api_gateway_json_with_content_md5() {
    let body = br#"{"sku": 42, "note": "a+b ~/*"}"#;
    let s = AliyunApiGateway::new();
    let (status, first, status2, _) = round_trip(s.clone(), s, "PUT", "/orders/7", "application/json", body).await;
    assert_eq!((status, &first["body"]), (200, &json!(std::str::from_utf8(body).unwrap())));
    assert_eq!(status2, 400);
}

#[tokio::test]
async fn aliyun_rpc() {
    let s = AliyunRpc::new();
    let (status, first, status2, second) =
        round_trip(s.clone(), s, "GET", "/?Action=Echo&name=%E5%BC%A0", "", b"").await;
    assert_eq!((status, &first["key_id"]), (200, &json!(KEY)));
    assert_eq!((status2, &second["Code"]), (400, &json!("SignatureNonceUsed")));
}

#[tokio::test]
async fn tencent_cloud_tc3_and_v1() {
    // remembering signatures (opt-in), an identical TC3 request is accepted once
    let (status, first, status2, second) = round_trip(
        TencentCloud::new().remember_signatures(true),
        TencentCloud::new().sign_service("cvm"),
        "POST",
        "/",
        "application/json",
        br#"{"Limit": 1}"#,
    )
    .await;
    assert_eq!((status, &first["key_id"]), (200, &json!(KEY)));
    assert_eq!(status2, 200, "Tencent answers refusals with 200");
    assert_eq!(second["Response"]["Error"]["Code"], "AuthFailure.SignatureFailure");

    let (status, first, _, second) = round_trip(
        TencentCloud::new(),
        TencentCloud::new().sign_v1(tollgate::signature::HmacAlg::Sha256),
        "POST",
        "/",
        "application/x-www-form-urlencoded",
        b"Action=Echo&Filters_0_Name=zone",
    )
    .await;
    assert_eq!((status, &first["key_id"]), (200, &json!(KEY)));
    assert_eq!(second["Response"]["Error"]["Code"], "AuthFailure.SignatureFailure");
}

#[tokio::test]
async fn tencent_api_gateway_key_pair() {
    let (status, first, status2, second) = round_trip(
        TencentApiGateway::new().remember_signatures(true),
        TencentApiGateway::new(),
        "GET",
        "/release/hello?x=1",
        "",
        b"",
    )
    .await;
    assert_eq!((status, &first["key_id"]), (200, &json!(KEY)));
    assert_eq!(status2, 403);
    assert!(second["message"].as_str().unwrap().contains("already used"), "{second}");
}

#[tokio::test]
async fn another_key_is_refused() {
    let addr = serve(AliyunApiGateway::new()).await;
    let signing = ServiceBuilder::new()
        .layer(SigningLayer::new(AliyunApiGateway::new(), KEY, "not-the-secret"))
        .service(client());
    let req = http::Request::get(format!("http://{addr}/x")).body(http_body_util::Full::new(Bytes::new())).unwrap();
    let (_, status, headers, _) = signing.oneshot(req).await.unwrap();
    assert_eq!(status, 400);
    assert_eq!(headers["x-ca-error-message"], "Invalid Signature");
}
