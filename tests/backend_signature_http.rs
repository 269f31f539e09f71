//! Aliyun's backend signature over real HTTP on loopback and through `oneshot`: a `Gateway`
//! whose API has the `backendSignature` plug-in (auth.md §6 / cloud-plugins.md §A7,
//! verbatim) signs what it hands the backend, and `BackendSignatureLayer`, stacked on the
//! backend's handlers, accepts it; a request changed between the two is refused with 403
//! `InvalidSignature`; constant parameters injected by the gateway are signed too.

use std::collections::HashMap;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use http::StatusCode;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tollgate::gateway::{Format, Gateway};
use tollgate::signature::aliyun_backend::{BackendSignatureKey, BackendSignatureLayer};
use tower::ServiceExt;

#[path = "support/http.rs"]
mod http_support;
use http_support::serve;

/// auth.md §6 and cloud-plugins.md §A7, verbatim.
const SPEC_A7: &str = include_str!("fixtures/cloud-plugins/aliyun-backend-signature.yaml");

/// The plug-in indented under an API's `backend_signature` (YAML's `---` cannot be nested).
fn gateway_yaml(extra: &str) -> String {
    let block: String = SPEC_A7.lines().filter(|l| *l != "---").map(|l| format!("      {l}\n")).collect();
    format!("apis:\n  - path: /\n{extra}    backend_signature:\n{block}")
}

/// The same plug-in in the `CreatePlugin` envelope, its text as the console holds it.
fn envelope_yaml() -> String {
    let data: String = SPEC_A7.lines().map(|l| format!("          {l}\n")).collect();
    format!("apis:\n  - path: /\n    plugins:\n      - PluginType: backendSignature\n        PluginData: |\n{data}")
}

/// The backend's handler: what it read, and which key signed it.
async fn reads(req: Request) -> axum::Json<Value> {
    let key = req.extensions().get::<BackendSignatureKey>().map(|k| k.0.to_string());
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    let query: HashMap<String, String> =
        form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes()).into_owned().collect();
    let list = parts.headers.get("x-ca-proxy-signature-headers").map(|v| v.to_str().unwrap().to_owned());
    axum::Json(json!({"key": key, "query": query, "body": String::from_utf8_lossy(&body), "signed_headers": list}))
}

/// Changes what the gateway signed before the backend sees it, when asked to by the client.
async fn tamper(mut req: Request, next: axum::middleware::Next) -> axum::response::Response {
    if req.headers().contains_key("x-tamper") {
        let uri = format!("{}?amount=1000", req.uri().path());
        *req.uri_mut() = uri.parse().unwrap();
    }
    next.run(req).await
}

/// The backend with the verifier in front, a tampering hop, and the gateway outermost.
fn app(gateway_yaml: &str) -> Router {
    let gateway = Gateway::from_config(gateway_yaml, Format::Yaml).unwrap();
    let verifier = BackendSignatureLayer::new([("SampleKey", "SampleSecret"), ("NextKey", "NextSecret1")]).unwrap();
    Router::new().fallback(reads).layer(verifier).layer(axum::middleware::from_fn(tamper)).layer(gateway.into_layer())
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

#[tokio::test]
async fn the_gateway_signs_and_the_backend_verifies_over_http() {
    for yaml in [gateway_yaml(""), envelope_yaml()] {
        let addr = serve(app(&yaml)).await;
        let resp = client()
            .post(format!("http://{addr}/pay?to=bob"))
            .header("x-user", "alice")
            .header("content-type", "application/json")
            .body(r#"{"amount": 10}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{yaml}");
        let seen: Value = resp.json().await.unwrap();
        assert_eq!(seen["key"], "SampleKey");
        assert_eq!(seen["query"]["to"], "bob");
        assert_eq!(seen["body"], r#"{"amount": 10}"#);
        let list = seen["signed_headers"].as_str().unwrap();
        assert!(list.split(',').any(|h| h == "x-user"), "{list}");
        assert!(!list.split(',').any(|h| h == "host" || h == "content-length"), "{list}");

        // changed between gateway and backend: refused in Aliyun's style
        let resp = client().get(format!("http://{addr}/pay?amount=10")).header("x-tamper", "1").send().await.unwrap();
        assert_eq!(resp.status(), 403);
        assert_eq!(resp.headers()["x-ca-error-message"], "Invalid Signature");
        assert!(resp.headers().contains_key("x-ca-request-id"));

        // straight to the backend, not through the gateway: refused
        let direct = serve(
            Router::new().fallback(reads).layer(BackendSignatureLayer::new([("SampleKey", "SampleSecret")]).unwrap()),
        )
        .await;
        let resp = client().get(format!("http://{direct}/pay")).send().await.unwrap();
        assert_eq!(resp.status(), 403);
        assert_eq!(resp.headers()["x-ca-error-message"], "Invalid Signature, X-Ca-Proxy-Signature is missing");
    }
}

#[tokio::test]
async fn a_client_cannot_send_a_signature_of_its_own() {
    // the gateway replaces whatever X-Ca-Proxy-* headers the client sent
    let addr = serve(app(&gateway_yaml(""))).await;
    let resp = client()
        .get(format!("http://{addr}/pay"))
        .header("x-ca-proxy-signature", "AAAA")
        .header("x-ca-proxy-signature-secret-key", "NextKey")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.json::<Value>().await.unwrap()["key"], "SampleKey");
    // and refuses what it cannot sign with one reading
    let resp = client().get(format!("http://{addr}/pay?a=1&a=2")).send().await.unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(resp.headers()["x-ca-error-message"], "Invalid Param, the parameter \"a\" is given more than once");
}

#[tokio::test]
async fn constant_parameters_are_injected_then_signed() {
    let constants =
        "    ConstantParameters:\n      - {Name: source, Desc: \"\", Position: query, DefaultValue: apigateway}\n";
    let addr = serve(app(&gateway_yaml(constants))).await;
    let resp = client().get(format!("http://{addr}/pay?to=bob")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let seen: Value = resp.json().await.unwrap();
    assert_eq!(seen["query"], json!({"to": "bob", "source": "apigateway"}));
    assert_eq!(seen["key"], "SampleKey");
}

#[tokio::test]
async fn oneshot_through_the_gateway() {
    let app = app(&gateway_yaml(""));
    let req = || http::Request::get("/pay?to=bob").header("x-user", "alice");
    let resp = app.clone().oneshot(req().body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let seen: Value = serde_json::from_slice(&resp.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert_eq!(seen["key"], "SampleKey");
    let resp = app.oneshot(req().header("x-tamper", "1").body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
}

#[test]
fn configuration_errors_name_the_field() {
    let err = |yaml: &str| Gateway::from_config(yaml, Format::Yaml).unwrap_err();
    let block = |body: &str| format!("apis:\n  - path: /\n    backend_signature: {body}\n");
    let e = err(&block("{type: APIGW_BACKEND, key: SampleKey, secret: ''}"));
    assert_eq!(e.field, "apis[0].backend_signature.secret");
    let e = err(&block("{type: HMAC, key: SampleKey, secret: SampleSecret}"));
    assert_eq!(e.field, "apis[0].backend_signature.type");
    assert!(e.problem.contains("APIGW_BACKEND"), "{e}");
    let e = err(&block("{type: APIGW_BACKEND, key: SampleKey, secret: s, extra: 1}"));
    assert!(e.field.starts_with("apis[0].backend_signature"), "{e}");
    let e = err(
        "apis:\n  - path: /\n    plugins:\n      - PluginType: backendSignature\n        PluginData: '{\"key\": \"\", \"secret\": \"s\"}'\n",
    );
    assert_eq!(e.field, "apis[0].plugins[0].PluginData.key");
}
