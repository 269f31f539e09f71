//! App grants: a client choosing its stage header, an identity written like another's, and a
//! grant read before anyone authenticated the caller.

use std::time::SystemTime;

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use bytes::Bytes;
use http::{Request, StatusCode};
use tollgate::Caller;
use tollgate::access::grants::{Grant, GrantsLayer};
use tollgate::gateway::{Format, Gateway};
use tollgate::signature::{aliyun_apigw::AliyunApiGateway, sign_request};
use tower::ServiceExt;

const YAML: &str = r#"
apis:
  - path: /orders
    signature:
      scheme: aliyun-apigw
      keys: {"app-test": s1, "app-all": s2}
    grants:
      - app: app-test
        stage: TEST
      - app: app-all
"#;

/// A handler that routes by stage as a backend might, leniently: it trims and folds case.
fn router() -> Router {
    let gateway = Gateway::from_config(YAML, Format::Yaml).unwrap();
    let handler = |req: Request<Body>| async move {
        let stage = req.headers().get("x-ca-stage").and_then(|v| v.to_str().ok()).unwrap_or("RELEASE");
        format!("stage {}", stage.trim().to_ascii_uppercase())
    };
    Router::new().route("/orders", get(handler)).layer(gateway.into_layer())
}

/// Signed with the first stage header; the others are added after signing, as an attacker
/// appends them (our signer refuses to sign a repeated header).
fn signed(key: &str, secret: &str, stages: &[&str]) -> Request<Body> {
    let mut req = Request::get("http://127.0.0.1/orders");
    if let Some(stage) = stages.first() {
        req = req.header("x-ca-stage", *stage);
    }
    let req =
        sign_request(&AliyunApiGateway::new(), req.body(Bytes::new()).unwrap(), key, &secret.into(), SystemTime::now());
    let mut req = req.unwrap().map(Body::from);
    for stage in stages.iter().skip(1) {
        req.headers_mut().append("x-ca-stage", stage.parse().unwrap());
    }
    req
}

/// An app granted TEST only tries to reach another stage through a spelling the grant might
/// read as TEST and a lenient backend as something else, or the other way round.
#[tokio::test]
async fn a_stage_spelt_otherwise_or_given_twice_is_refused_not_guessed() {
    let app = router();
    for stages in [
        &["test"][..],
        &[" TEST"],
        &["TEST "],
        &["Test"],
        &["TEST", "RELEASE"],
        &["RELEASE", "TEST"],
        &["TEST,RELEASE"],
    ] {
        let resp = app.clone().oneshot(signed("app-test", "s1", stages)).await.unwrap();
        // refused by the signature (a signed header repeated) or by the grants: never passed
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{stages:?}");
        if stages.len() == 1 {
            assert_eq!(resp.headers()["x-ca-error-message"], "Invalid Stage", "{stages:?}");
        }
    }
    let ok = app.clone().oneshot(signed("app-test", "s1", &["TEST"])).await.unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    // a granted-for-all app is refused the same way: the stage is judged before the grant
    let resp = app.clone().oneshot(signed("app-all", "s2", &["test"])).await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
}

/// A token whose subject reads like a granted app key (a user who chose that name) gets
/// nothing of the app's grants.
#[tokio::test]
async fn a_token_subject_named_like_an_app_takes_none_of_its_grants() {
    let layer = GrantsLayer::new([Grant::app("203753741")]).unwrap();
    let service = tower::ServiceBuilder::new().layer(layer).service(tower::service_fn(|_req: Request<()>| async {
        Ok::<_, std::convert::Infallible>(http::Response::new(()))
    }));
    let mut req = Request::get("/").body(()).unwrap();
    req.extensions_mut().insert(Caller::from_token("203753741"));
    let resp = service.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_eq!(resp.headers()["x-ca-error-message"], "Unauthorized");
}

/// Grants stacked with no verifier before them (a misordered stack) refuse every request,
/// rather than read an identity a client could write.
#[tokio::test]
async fn grants_without_a_verifier_refuse_everyone() {
    let layer = GrantsLayer::new([Grant::app("app-all")]).unwrap();
    let service = tower::ServiceBuilder::new().layer(layer).service(tower::service_fn(|_req: Request<()>| async {
        Ok::<_, std::convert::Infallible>(http::Response::new(()))
    }));
    let req = Request::get("/").header("x-ca-key", "app-all").header("x-ca-appkey", "app-all").body(()).unwrap();
    let resp = service.oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
}
