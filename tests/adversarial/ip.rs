//! Adversarial tests: IP access control's per-app lists, which need the caller's identity.

use std::convert::Infallible;
use std::time::SystemTime;

use axum::body::Body;
use bytes::Bytes;
use http::{Request, Response};
use tollgate::PeerAddr;
use tollgate::gateway::{Format, Gateway};
use tollgate::signature::{aliyun_apigw::AliyunApiGateway, sign_request};
use tower::{Layer, ServiceExt, service_fn};

/// A request signed by app `203467890`, from `peer`.
fn signed_from(peer: &str) -> Request<Body> {
    let req = Request::get("http://api.example.com/orders").body(Bytes::new()).unwrap();
    let signed = sign_request(&AliyunApiGateway::new(), req, "203467890", &"s3cret".into(), SystemTime::now()).unwrap();
    let mut req = signed.map(Body::from);
    req.extensions_mut().insert(PeerAddr(format!("{peer}:40000").parse().unwrap()));
    req
}

async fn status(config: &str, peer: &str) -> u16 {
    let gateway = Gateway::from_config(config, Format::Yaml).unwrap();
    let svc = gateway
        .into_layer()
        .layer(service_fn(|_req: Request<Body>| async { Ok::<_, Infallible>(Response::new(Body::from("handler"))) }));
    svc.oneshot(signed_from(peer)).await.unwrap().status().as_u16()
}

/// Aliyun's IP control with an app-bound item, on a signed API: before, the gateway ran the
/// IP check ahead of the signature, where no caller is known, so the app's own list was never
/// consulted and the app called from anywhere (allow) or from its banned addresses (deny).
#[tokio::test]
async fn app_bound_items_apply_in_a_gateway() {
    let allow = r#"
apis:
  - path: /orders
    ip_access: {type: ALLOW, items: [{blocks: ["61.3.0.0/24"], appId: 203467890}]}
    signature: {scheme: aliyun-apigw, keys: {"203467890": "s3cret"}}
"#;
    assert_eq!(status(allow, "61.3.0.9").await, 200);
    assert_eq!(status(allow, "8.8.8.8").await, 403, "the app called from outside its blocks");

    let deny = r#"
apis:
  - path: /orders
    ip_access: {type: REFUSE, items: [{blocks: ["8.8.8.0/24"], appId: 203467890}]}
    signature: {scheme: aliyun-apigw, keys: {"203467890": "s3cret"}}
"#;
    assert_eq!(status(deny, "61.3.0.9").await, 200);
    assert_eq!(status(deny, "8.8.8.8").await, 403, "the app called from a banned address");
}
