//! App grants over real HTTP on loopback, through a `Gateway` read from YAML: requests signed
//! with the Aliyun API Gateway scheme by an app with a grant, one without, one whose grant
//! expired, one granted in another stage; and the same decisions through `oneshot`.

use std::time::SystemTime;

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use bytes::Bytes;
use http::{Request, StatusCode};
use tollgate::gateway::{Format, Gateway};
use tollgate::signature::{aliyun_apigw::AliyunApiGateway, sign_request};
use tower::ServiceExt;

#[path = "support/http.rs"]
mod http_support;
use http_support::serve;

const YAML: &str = r#"
apis:
  - path: /orders
    signature:
      scheme: aliyun-apigw
      keys: {"203753741": s1, "203999001": s2, "203000000": s3, "203777777": s4, "110": s5}
    grants:
      - app: "203753741"
      - AppId: 203999001
        StageName: TEST
        AuthValidTime: ""
      - app: "203000000"
        expires: 2001-01-01T00:00:00Z
      - app: "203777777"
        stage: PRE
        expires: 2999-01-01T00:00:00Z
"#;

fn router() -> Router {
    let gateway = Gateway::from_config(YAML, Format::Yaml).unwrap();
    Router::new().route("/orders", get(|| async { "orders" })).layer(gateway.into_layer())
}

fn signed(key: &str, secret: &str, stage: Option<&str>) -> Request<Bytes> {
    let mut req = Request::get("http://127.0.0.1/orders").header("accept", "application/json");
    if let Some(stage) = stage {
        req = req.header("x-ca-stage", stage);
    }
    sign_request(&AliyunApiGateway::new(), req.body(Bytes::new()).unwrap(), key, &secret.into(), SystemTime::now())
        .unwrap()
}

const CASES: &[(&str, &str, Option<&str>, u16, &str)] = &[
    ("203753741", "s1", None, 200, ""),
    ("203753741", "s1", Some("PRE"), 200, ""),
    ("203999001", "s2", Some("TEST"), 200, ""),
    ("203999001", "s2", None, 403, "Unauthorized"),
    ("203000000", "s3", None, 403, "Expiry of Authorization"),
    ("203777777", "s4", Some("PRE"), 200, ""),
    ("203777777", "s4", Some("RELEASE"), 403, "Unauthorized"),
    ("110", "s5", None, 403, "Unauthorized"),
    ("203753741", "s1", Some("release"), 400, "Invalid Stage"),
];

#[tokio::test]
async fn grants_over_http_through_the_gateway() {
    let addr = serve(router()).await;
    let client = reqwest::Client::new();
    for &(key, secret, stage, status, message) in CASES {
        let req = signed(key, secret, stage);
        let mut r = client.get(format!("http://{addr}/orders"));
        for (name, value) in req.headers() {
            r = r.header(name, value);
        }
        let resp = r.send().await.unwrap();
        let got = resp.headers().get("x-ca-error-message").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
        assert_eq!((resp.status().as_u16(), got.as_str()), (status, message), "{key} {stage:?}");
        if status == 200 {
            assert_eq!(resp.text().await.unwrap(), "orders");
        }
    }
}

#[tokio::test]
async fn grants_with_oneshot() {
    let app = router();
    for &(key, secret, stage, status, message) in CASES {
        let resp = app.clone().oneshot(signed(key, secret, stage).map(Body::from)).await.unwrap();
        let got = resp.headers().get("x-ca-error-message").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
        assert_eq!((resp.status().as_u16(), got.as_str()), (status, message), "{key} {stage:?}");
    }
    // the signature runs first: a request signed with a wrong secret never reaches the grants
    let forged = app.clone().oneshot(signed("203753741", "wrong", None).map(Body::from)).await.unwrap();
    assert_eq!(forged.status(), StatusCode::BAD_REQUEST);
    assert_ne!(forged.headers()["x-ca-error-message"], "Unauthorized");
}

#[test]
fn grant_configuration_errors_name_the_field() {
    let err = |grants: &str| {
        let text = format!("apis:\n  - path: /x\n    grants:\n{grants}");
        Gateway::from_config(&text, Format::Yaml).unwrap_err().to_string()
    };
    let e = err("      - app: a\n      - app: \" \"\n");
    assert!(e.contains("apis[0].grants[1].app"), "{e}");
    let e = err("      - app: a\n        stage: Test\n");
    assert!(e.contains("apis[0].grants") && e.contains("RELEASE, PRE or TEST"), "{e}");
    let e = err("      []\n");
    assert!(e.contains("apis[0].grants"), "{e}");
    let e = err("      - app: a\n        expires: next week\n");
    assert!(e.contains("expires"), "{e}");
}

/// Grants to token subjects, through a gateway whose API verifies a JWT: the subject granted
/// passes, another is refused, and a token whose subject reads like a granted app key takes
/// nothing of the app's grant.
#[tokio::test]
async fn grants_to_token_subjects_over_http() {
    use jsonwebtoken::{Algorithm, EncodingKey, Header};

    const JWKS: &str = include_str!("../crates/tollgate-token/tests/fixtures/jwks.json");
    const RSA_PEM: &[u8] = include_bytes!("../crates/tollgate-token/tests/fixtures/rsa2048.pem");
    let yaml = format!(
        "apis:\n  - path: /orders\n    jwt:\n      jwks: {}\n    grants:\n      - subject: alice\n      - app: \"203753741\"\n",
        JWKS.replace('\n', " ")
    );
    let gateway = Gateway::from_config(&yaml, Format::Yaml).unwrap();
    let addr = serve(Router::new().route("/orders", get(|| async { "orders" })).layer(gateway.into_layer())).await;
    let mint = |sub: &str| {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some("rsa-1".to_owned());
        let claims = serde_json::json!({"sub": sub, "exp": jsonwebtoken::get_current_timestamp() + 600});
        jsonwebtoken::encode(&header, &claims, &EncodingKey::from_rsa_pem(RSA_PEM).unwrap()).unwrap()
    };
    let client = reqwest::Client::new();
    for (sub, status, message) in [("alice", 200, ""), ("bob", 403, "Unauthorized"), ("203753741", 403, "Unauthorized")]
    {
        let resp = client
            .get(format!("http://{addr}/orders"))
            .header("authorization", format!("Bearer {}", mint(sub)))
            .send()
            .await
            .unwrap();
        let got = resp.headers().get("x-ca-error-message").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
        assert_eq!((resp.status().as_u16(), got.as_str()), (status, message), "{sub}");
    }
    // no token at all: the token policy refuses before the grants are read
    let resp = client.get(format!("http://{addr}/orders")).send().await.unwrap();
    assert_eq!(resp.headers()["x-ca-error-message"], "JWT required");
}
