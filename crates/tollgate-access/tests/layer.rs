//! The layer's builder settings: system values, error styles, the body limit.

use std::convert::Infallible;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use tollgate_access::AccessControlLayer;
use tollgate_core::{ErrorStyle, SystemParam, SystemValues};
use tower::{Layer, ServiceExt, service_fn};

async fn handler(_req: Request<tollgate_core::RequestBody<Full<Bytes>>>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from_static(b"handler"))))
}

#[tokio::test]
async fn system_values_the_gateway_cannot_know_come_from_configuration() {
    let plugin = r#"{"rules": [{"condition": "$CaStage = 'RELEASE' and $CaInstanceId != null", "ifFalse": "DENY",
        "errorMessage": "stage ${CaStage} of ${CaInstanceId} is closed"}]}"#;
    let req = || Request::get("/").body(Full::new(Bytes::new())).unwrap();
    let unset = AccessControlLayer::from_plugin(plugin).unwrap();
    let refused = unset.layer(service_fn(handler)).oneshot(req()).await.unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN, "an unset instance id is null");
    assert_eq!(refused.headers()["x-ca-error-message"], "stage RELEASE of  is closed", "core's default stage");
    let values = SystemValues::new().set(SystemParam::InstanceId, "apigateway-hz-1");
    let test =
        AccessControlLayer::from_plugin(plugin).unwrap().system_values(values.clone().set(SystemParam::Stage, "TEST"));
    let refused = test.layer(service_fn(handler)).oneshot(req()).await.unwrap();
    assert_eq!(refused.headers()["x-ca-error-message"], "stage TEST of apigateway-hz-1 is closed");
    let release = AccessControlLayer::from_plugin(plugin).unwrap().system_values(values);
    assert_eq!(release.layer(service_fn(handler)).oneshot(req()).await.unwrap().status(), StatusCode::OK);
}

#[tokio::test]
async fn styles_and_body_limit() {
    let plugin =
        r#"{"parameters": {"f": "Form:f"}, "rules": [{"condition": "$f = 'x'", "ifTrue": "DENY", "statusCode": 409}]}"#;
    let layer = AccessControlLayer::from_plugin(plugin).unwrap();
    assert!(layer.reads_body());
    let form = |body: &'static str| {
        Request::post("/")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Full::new(Bytes::from_static(body.as_bytes())))
            .unwrap()
    };
    let problem = layer.clone().error_style(ErrorStyle::ProblemJson);
    let resp = problem.layer(service_fn(handler)).oneshot(form("f=x")).await.unwrap();
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    assert_eq!(resp.headers()["content-type"], "application/problem+json");
    let json: serde_json::Value =
        serde_json::from_slice(&resp.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert_eq!(json["code"], "ParameterAccessDenied");
    assert_eq!(json["detail"], "Access denied by Parameter Access Control");
    assert_eq!(json["policy"], "access");

    let small = layer.body_limit(4);
    let resp = small.layer(service_fn(handler)).oneshot(form("f=y&more")).await.unwrap();
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // a body that is not a form is never read, whatever its size
    let json = Request::post("/")
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from_static(b"{\"f\": \"x\", \"padding\": 1}")))
        .unwrap();
    assert_eq!(small.layer(service_fn(handler)).oneshot(json).await.unwrap().status(), StatusCode::OK);
}
