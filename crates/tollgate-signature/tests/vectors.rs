//! Requests built by the official SDKs (see tests/vectors/): each must pass when the clock
//! reads its recording time, and be refused with the scheme's exact answer when a signed
//! byte changes, the secret or key is wrong, or the clock has moved past the window.

use std::convert::Infallible;
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use serde::Deserialize;
use tollgate_core::{Caller, ManualClock};
use tollgate_signature::aliyun_apigw::AliyunApiGateway;
use tollgate_signature::aliyun_rpc::AliyunRpc;
use tollgate_signature::tencent_cloud::TencentCloud;
use tollgate_signature::{MemorySecretStore, Scheme, SignatureLayer};
use tower::{ServiceExt, service_fn};
use tower_layer::Layer;

#[derive(Debug, Clone, Deserialize)]
struct Vector {
    name: String,
    key_id: String,
    secret: String,
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body_base64: String,
    now_epoch_seconds: u64,
    server_accepted: bool,
}

fn load(file: &str) -> Vec<Vector> {
    let path = format!("{}/tests/vectors/{file}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn request(v: &Vector) -> Request<Full<Bytes>> {
    let mut b = Request::builder().method(v.method.as_str()).uri(v.target.as_str());
    for (k, val) in &v.headers {
        b = b.header(k.as_str(), val.as_str());
    }
    let body = base64::engine::general_purpose::STANDARD.decode(&v.body_base64).unwrap();
    b.body(Full::new(Bytes::from(body))).unwrap()
}

/// What the client sees: status, the Aliyun error header, and the JSON body.
struct Answer {
    status: StatusCode,
    error_message: Option<String>,
    json: serde_json::Value,
}

async fn send<Sc: Scheme + Clone>(
    scheme: Sc,
    v: &Vector,
    secret: &str,
    at_offset: i64,
    req: Request<Full<Bytes>>,
) -> Answer {
    let store = MemorySecretStore::new().with_key(v.key_id.as_str(), secret);
    let now = (v.now_epoch_seconds as i64 + at_offset) as u64;
    let layer = SignatureLayer::new(scheme, store).clock(ManualClock::at_unix(Duration::from_secs(now)));
    let svc = layer.layer(service_fn(|req: Request<_>| async move {
        let caller = req.extensions().get::<Caller>().unwrap().key_id().to_owned();
        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(serde_json::json!({ "key_id": caller }).to_string()))))
    }));
    let resp = svc.oneshot(req).await.unwrap();
    let status = resp.status();
    let error_message = resp.headers().get("x-ca-error-message").map(|v| v.to_str().unwrap().to_owned());
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
    Answer { status, error_message, json }
}

/// The same request with its target changed (one query value altered).
fn tamper_query(v: &Vector) -> Option<Vector> {
    let mut t = v.clone();
    for (from, to) in [("tilde=~home", "tilde=~hame"), ("a=1", "a=2"), ("page=1", "page=2")] {
        if t.target.contains(from) {
            t.target = t.target.replacen(from, to, 1);
            return Some(t);
        }
    }
    None
}

/// The same request with one body byte changed.
fn tamper_body(v: &Vector) -> Option<Vector> {
    let mut body = base64::engine::general_purpose::STANDARD.decode(&v.body_base64).unwrap();
    let i = body.iter().position(|b| b.is_ascii_digit() || *b == b'h')?;
    body[i] = if body[i] == b'h' { b'j' } else { b'7' ^ (body[i] & 1) };
    let mut t = v.clone();
    t.body_base64 = base64::engine::general_purpose::STANDARD.encode(body);
    Some(t)
}

#[tokio::test]
async fn aliyun_api_gateway_vectors() {
    let scheme = AliyunApiGateway::new();
    for v in load("aliyun-apigw.json") {
        assert!(v.server_accepted);
        let ok = send(scheme.clone(), &v, &v.secret, 0, request(&v)).await;
        assert_eq!(ok.status, 200, "{}: {:?}", v.name, ok.error_message);
        assert_eq!(ok.json["key_id"], v.key_id.as_str());

        let a = send(scheme.clone(), &v, "wrong-secret", 0, request(&v)).await;
        assert_eq!(
            (a.status, a.error_message.as_deref()),
            (StatusCode::BAD_REQUEST, Some("Invalid Signature")),
            "{}",
            v.name
        );
        let mut unknown = v.clone();
        unknown.key_id = "someone-else".into();
        let a = send(scheme.clone(), &unknown, &v.secret, 0, request(&v)).await;
        assert_eq!(a.error_message.as_deref(), Some("Invalid AppKey"), "{}", v.name);
        for offset in [-20 * 60, 20 * 60] {
            let a = send(scheme.clone(), &v, &v.secret, offset, request(&v)).await;
            assert_eq!(a.error_message.as_deref(), Some("Timestamp Expired"), "{}", v.name);
        }
        if let Some(t) = tamper_query(&v) {
            let a = send(scheme.clone(), &v, &v.secret, 0, request(&t)).await;
            assert_eq!(a.error_message.as_deref(), Some("Invalid Signature"), "{} tampered query", v.name);
        }
        if let Some(t) = tamper_body(&v) {
            let a = send(scheme.clone(), &v, &v.secret, 0, request(&t)).await;
            let expected = if v.name.contains("MD5") { "Invalid Content-MD5" } else { "Invalid Signature" };
            assert_eq!(a.error_message.as_deref(), Some(expected), "{} tampered body", v.name);
        }
        let mut no_sig = request(&v);
        no_sig.headers_mut().remove("x-ca-signature");
        let a = send(scheme.clone(), &v, &v.secret, 0, no_sig).await;
        assert_eq!((a.status, a.error_message.as_deref()), (StatusCode::UNAUTHORIZED, Some("Empty Signature")));
    }
}

#[tokio::test]
async fn aliyun_rpc_vectors() {
    let scheme = AliyunRpc::new();
    for v in load("aliyun-rpc.json") {
        let ok = send(scheme.clone(), &v, &v.secret, 0, request(&v)).await;
        assert_eq!(ok.status, 200, "{}: {}", v.name, ok.json);
        assert_eq!(ok.json["key_id"], v.key_id.as_str());

        let a = send(scheme.clone(), &v, "wrong-secret", 0, request(&v)).await;
        assert_eq!(
            (a.status.as_u16(), &a.json["Code"]),
            (400, &serde_json::json!("SignatureDoesNotMatch")),
            "{}",
            v.name
        );
        let message = a.json["Message"].as_str().unwrap();
        assert!(
            message.starts_with("Specified signature is not matched with our calculation. server string to sign is:")
        );
        let mut unknown = v.clone();
        unknown.key_id = "LTAIother".into();
        let a = send(scheme.clone(), &unknown, &v.secret, 0, request(&v)).await;
        assert_eq!((a.status.as_u16(), a.json["Code"].as_str()), (404, Some("InvalidAccessKeyId.NotFound")));
        let a = send(scheme.clone(), &v, &v.secret, 20 * 60, request(&v)).await;
        assert_eq!(a.json["Code"], "InvalidTimeStamp.Expired");
        if let Some(t) = tamper_query(&v) {
            let a = send(scheme.clone(), &v, &v.secret, 0, request(&t)).await;
            assert_eq!(a.json["Code"], "SignatureDoesNotMatch", "{} tampered query", v.name);
        }
        if let Some(t) = tamper_body(&v) {
            let a = send(scheme.clone(), &v, &v.secret, 0, request(&t)).await;
            assert_eq!(a.json["Code"], "SignatureDoesNotMatch", "{} tampered body", v.name);
        }
    }
}

#[tokio::test]
async fn tencent_cloud_vectors() {
    let scheme = TencentCloud::new();
    for v in load("tencent-cloud.json") {
        let ok = send(scheme.clone(), &v, &v.secret, 0, request(&v)).await;
        assert_eq!(ok.status, 200);
        assert_eq!(ok.json["key_id"], v.key_id.as_str(), "{}: {}", v.name, ok.json);

        let code = |a: &Answer| a.json["Response"]["Error"]["Code"].as_str().map(str::to_owned);
        let a = send(scheme.clone(), &v, "wrong-secret", 0, request(&v)).await;
        assert_eq!(a.status, 200, "Tencent answers errors with 200");
        assert_eq!(code(&a).as_deref(), Some("AuthFailure.SignatureFailure"), "{}", v.name);
        let mut unknown = v.clone();
        unknown.key_id = "AKIDother".into();
        let a = send(scheme.clone(), &unknown, &v.secret, 0, request(&v)).await;
        assert_eq!(code(&a).as_deref(), Some("AuthFailure.SecretIdNotFound"));
        for offset in [6 * 60, 20 * 60, -6 * 60] {
            let a = send(scheme.clone(), &v, &v.secret, offset, request(&v)).await;
            assert_eq!(code(&a).as_deref(), Some("AuthFailure.SignatureExpire"), "{} at {offset}", v.name);
        }
        if let Some(t) = tamper_query(&v) {
            let a = send(scheme.clone(), &v, &v.secret, 0, request(&t)).await;
            assert_eq!(code(&a).as_deref(), Some("AuthFailure.SignatureFailure"), "{} tampered query", v.name);
        }
        if let Some(t) = tamper_body(&v) {
            let a = send(scheme.clone(), &v, &v.secret, 0, request(&t)).await;
            assert_eq!(code(&a).as_deref(), Some("AuthFailure.SignatureFailure"), "{} tampered body", v.name);
        }
    }
}
