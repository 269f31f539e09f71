//! Feature `axum`: without a path template, path parameters come from the router's
//! matched route.
#![cfg(feature = "axum")]

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use tollgate_params::{
    Param, ParamInjectionConfig, ParamInjectionLayer, ParamMapping, ParamValidationConfig, ParamValidationLayer,
    Position,
};
use tower::ServiceExt;

async fn call(app: Router, uri: &str) -> (StatusCode, String) {
    let resp = app.oneshot(Request::get(uri).body(Body::empty()).unwrap()).await.unwrap();
    let status = resp.status();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn the_routers_path_parameters_are_checked_and_mapped() {
    let validation =
        ParamValidationLayer::from_config(&ParamValidationConfig::new().param(Param::path("id").int().required()))
            .unwrap();
    let injection = ParamInjectionLayer::from_config(
        &ParamInjectionConfig::new().mapping(ParamMapping::new((Position::Path, "id"), (Position::Query, "order"))),
    )
    .unwrap();
    let app = Router::new()
        .route("/orders/{id}", get(|uri: http::Uri| async move { uri.to_string() }))
        .layer(injection)
        .layer(validation);
    assert_eq!(call(app.clone(), "/orders/12").await, (StatusCode::OK, "/orders/12?order=12".to_owned()));
    let (status, body) = call(app, "/orders/twelve").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("path id: expected an int"), "{body}");
}
