//! The Aliyun vectors (tests/vectors/aliyun-*.json): requests exactly as npm
//! `aliyun-api-gateway` 1.1.6 and `aliyun-python-sdk-core` 2.16.1 sent them. Each must pass a
//! `SignatureLayer` whose clock reads its recording time, and be refused with the exact
//! answer of signatures.md when the secret or key is wrong, a signed byte changes, or the
//! clock has moved past the window. Our signers must reproduce each one byte for byte.

use std::convert::Infallible;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http::{HeaderName, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use serde::Deserialize;
use tollgate_core::{Caller, ManualClock};
use tollgate_signature::aliyun_apigw::{self, AliyunApiGateway, Stage};
use tollgate_signature::aliyun_rpc::{self, AliyunRpc};
use tollgate_signature::fuzzing::decoded_pairs;
use tollgate_signature::{KeyRecord, MemorySecretStore, Scheme, SecretStore, SignatureLayer};
use tower::{ServiceExt, service_fn};
use tower_layer::Layer;

#[derive(Debug, Clone, Deserialize)]
struct Vector {
    name: String,
    scheme: String,
    key_id: String,
    secret: String,
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body_base64: String,
    now_epoch_seconds: u64,
    server_accepted: bool,
}

impl Vector {
    fn body(&self) -> Vec<u8> {
        STANDARD.decode(&self.body_base64).unwrap()
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    fn request(&self) -> Request<Full<Bytes>> {
        let mut b = Request::builder().method(self.method.as_str()).uri(self.target.as_str());
        for (k, v) in &self.headers {
            b = b.header(k.as_str(), v.as_str());
        }
        b.body(Full::new(Bytes::from(self.body()))).unwrap()
    }

    /// The vector with `from` replaced by `to` in its target; panics if `from` is absent.
    fn with_target(&self, from: &str, to: &str) -> Vector {
        assert!(self.target.contains(from), "{}: no {from:?} in {}", self.name, self.target);
        Vector { target: self.target.replacen(from, to, 1), ..self.clone() }
    }

    /// The vector with `from` replaced by `to` in its body; panics if `from` is absent.
    fn with_body(&self, from: &str, to: &str) -> Vector {
        let body = String::from_utf8(self.body()).unwrap();
        assert!(body.contains(from), "{}: no {from:?} in {body}", self.name);
        Vector { body_base64: STANDARD.encode(body.replacen(from, to, 1)), ..self.clone() }
    }

    /// The vector with header `name` set to `value`.
    fn with_header(&self, name: &str, value: &str) -> Vector {
        let mut v = self.clone();
        let slot = v.headers.iter_mut().find(|(k, _)| k.eq_ignore_ascii_case(name)).expect("header present");
        slot.1 = value.to_owned();
        v
    }
}

fn load(file: &str) -> Vec<Vector> {
    let path = match file {
        "aliyun-apigw.json" => concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/aliyun-apigw.json"),
        "aliyun-rpc.json" => concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/aliyun-rpc.json"),
        _ => unreachable!(),
    };
    let vectors: Vec<Vector> = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert!(!vectors.is_empty());
    for v in &vectors {
        assert!(v.server_accepted, "{}", v.name);
    }
    vectors
}

fn apigw() -> Vec<Vector> {
    let v = load("aliyun-apigw.json");
    assert!(v.iter().all(|v| v.scheme == "aliyun-apigw"));
    v
}

fn rpc() -> Vec<Vector> {
    let v = load("aliyun-rpc.json");
    assert!(v.iter().all(|v| v.scheme == "aliyun-rpc"));
    v
}

/// What the client sees.
#[derive(Debug)]
struct Answer {
    status: StatusCode,
    /// `X-Ca-Error-Message`
    error_message: Option<String>,
    /// `X-Ca-Request-Id`
    request_id: Option<String>,
    json: serde_json::Value,
}

impl Answer {
    fn ca(&self) -> (u16, Option<&str>) {
        (self.status.as_u16(), self.error_message.as_deref())
    }

    fn rpc(&self) -> (u16, &str, &str) {
        (self.status.as_u16(), self.json["Code"].as_str().unwrap_or(""), self.json["Message"].as_str().unwrap_or(""))
    }
}

/// Sends the vector's request through a `SignatureLayer` over `store`, the clock at the
/// vector's time moved by `offset` seconds; the handler echoes the caller's key id.
async fn send_to<Sc: Scheme>(scheme: Sc, store: impl SecretStore, v: &Vector, offset: i64) -> Answer {
    let now = v.now_epoch_seconds.checked_add_signed(offset).unwrap();
    let layer = SignatureLayer::new(scheme, store).clock(ManualClock::at_unix(Duration::from_secs(now)));
    let svc = layer.layer(service_fn(|req: Request<_>| async move {
        let caller = req.extensions().get::<Caller>().expect("a verified caller").key_id().to_owned();
        let body = serde_json::json!({ "key_id": caller }).to_string();
        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(body))))
    }));
    let resp = svc.oneshot(v.request()).await.unwrap();
    let status = resp.status();
    let text = |name: &str| resp.headers().get(name).map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let (error_message, request_id) = (text("x-ca-error-message"), text("x-ca-request-id"));
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
    Answer { status, error_message, request_id, json }
}

/// As [`send_to`], the store holding the vector's key with `secret`.
async fn send<Sc: Scheme>(scheme: Sc, v: &Vector, secret: &str, offset: i64) -> Answer {
    send_to(scheme, MemorySecretStore::new().with_key(v.key_id.as_str(), secret), v, offset).await
}

fn at_millis(millis: &str) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(millis.parse().unwrap())
}

// ---------------------------------------------------------------- Aliyun API Gateway

#[tokio::test]
async fn apigw_every_vector_passes_at_its_time() {
    for v in apigw() {
        let a = send(AliyunApiGateway::new(), &v, &v.secret, 0).await;
        assert_eq!(a.status, StatusCode::OK, "{}: {:?}", v.name, a.error_message);
        assert_eq!(a.json["key_id"], v.key_id.as_str(), "{}", v.name);
        // a rolled-over secret beside the right one changes nothing
        let store = MemorySecretStore::new()
            .with_record(v.key_id.as_str(), KeyRecord::new("old").with_secret(v.secret.as_str()));
        assert_eq!(send_to(AliyunApiGateway::new(), store, &v, 0).await.status, StatusCode::OK, "{}", v.name);
        // the whole window, either way
        for offset in [-15 * 60 + 1, 15 * 60 - 1] {
            assert_eq!(send(AliyunApiGateway::new(), &v, &v.secret, offset).await.status, StatusCode::OK);
        }
    }
}

#[tokio::test]
async fn apigw_wrong_secret_is_invalid_signature() {
    for v in apigw() {
        let a = send(AliyunApiGateway::new(), &v, "wrong-secret", 0).await;
        assert_eq!(a.ca(), (400, Some("Invalid Signature")), "{}", v.name);
        assert!(a.request_id.is_some_and(|id| !id.is_empty()), "{}: X-Ca-Request-Id", v.name);

        // debug mode: the server's string to sign, each newline written as `#`
        let a = send(AliyunApiGateway::new().debug_string_to_sign(true), &v, "wrong-secret", 0).await;
        let text = a.error_message.unwrap();
        assert!(text.starts_with(&format!("Invalid Signature, Server StringToSign:{}#", v.method)), "{text}");
        assert!(!text.contains('\n'));
        let names: Vec<String> = v.header("x-ca-signature-headers").unwrap().split(',').map(str::to_owned).collect();
        let req = v.request();
        let sts = aliyun_apigw::string_to_sign(req.method(), req.uri(), req.headers(), Some(&v.body()), &names);
        assert_eq!(text, format!("Invalid Signature, Server StringToSign:{}", sts.replace('\n', "#")));
    }
}

#[tokio::test]
async fn apigw_unknown_or_disabled_key_is_invalid_app_key() {
    for v in apigw() {
        let store = MemorySecretStore::new().with_key("someone-else", v.secret.as_str());
        let a = send_to(AliyunApiGateway::new(), store, &v, 0).await;
        assert_eq!(a.ca(), (400, Some("Invalid AppKey")), "{}", v.name);
        let store =
            MemorySecretStore::new().with_record(v.key_id.as_str(), KeyRecord::new(v.secret.as_str()).disabled(true));
        let a = send_to(AliyunApiGateway::new(), store, &v, 0).await;
        assert_eq!(a.ca(), (400, Some("Invalid AppKey")), "{}", v.name);
        // checked before the timestamp
        let store = MemorySecretStore::new();
        assert_eq!(send_to(AliyunApiGateway::new(), store, &v, 3600).await.ca(), (400, Some("Invalid AppKey")));
    }
}

#[tokio::test]
async fn apigw_clock_moved_20_minutes_either_way_is_timestamp_expired() {
    for v in apigw() {
        for offset in [-20 * 60, 20 * 60] {
            let a = send(AliyunApiGateway::new(), &v, &v.secret, offset).await;
            assert_eq!(a.ca(), (400, Some("Timestamp Expired")), "{} at {offset}", v.name);
        }
    }
}

#[tokio::test]
async fn apigw_missing_or_bad_signature_and_timestamp() {
    for v in apigw() {
        let mut no_sig = v.clone();
        no_sig.headers.retain(|(k, _)| k != "x-ca-signature");
        assert_eq!(send(AliyunApiGateway::new(), &no_sig, &v.secret, 0).await.ca(), (401, Some("Empty Signature")));
        let t = v.with_header("x-ca-timestamp", "yesterday");
        assert_eq!(send(AliyunApiGateway::new(), &t, &v.secret, 0).await.ca(), (400, Some("Invalid Timestamp")));
        // another timestamp inside the window: a signed byte changed
        let ts: u64 = v.header("x-ca-timestamp").unwrap().parse().unwrap();
        let t = v.with_header("x-ca-timestamp", &(ts + 1).to_string());
        assert_eq!(send(AliyunApiGateway::new(), &t, &v.secret, 0).await.ca(), (400, Some("Invalid Signature")));
    }
}

#[tokio::test]
async fn apigw_tampered_target_is_invalid_signature() {
    for v in apigw() {
        let mut tampered = vec![v.with_target("/api/items", "/api/itemz"), v.with_target("/api/items", "/API/items")];
        for (from, to) in [("tilde=~home", "tilde=~hame"), ("page=1", "page=2"), ("a=1", "a=2")] {
            if v.target.contains(from) {
                tampered.push(v.with_target(from, to));
                tampered.push(v.with_target(from, &format!("{from}&{from}")));
            }
        }
        if v.target.contains('?') {
            tampered.push(v.with_target("?", "?extra=1&"));
        }
        let mut post = v.clone();
        post.method = if v.method == "GET" { "DELETE".into() } else { "PUT".into() };
        tampered.push(post);
        for t in tampered {
            let a = send(AliyunApiGateway::new(), &t, &v.secret, 0).await;
            assert_eq!(a.ca(), (400, Some("Invalid Signature")), "{}: {} {}", v.name, t.method, t.target);
        }
    }
}

#[tokio::test]
async fn apigw_tampered_signed_header_is_invalid_signature() {
    for v in apigw() {
        let mut tampered = vec![
            v.with_header("x-ca-stage", "TEST"),
            v.with_header("x-ca-nonce", "00000000-0000-4000-8000-000000000000"),
            v.with_header("accept", "*/*"),
        ];
        if v.header("x-custom").is_some() {
            tampered.push(v.with_header("x-custom", "v2"));
        }
        if v.header("content-type").is_some() {
            tampered.push(v.with_header("content-type", "text/plain"));
        }
        for t in tampered {
            let a = send(AliyunApiGateway::new(), &t, &v.secret, 0).await;
            assert_eq!(a.ca(), (400, Some("Invalid Signature")), "{}: {:?}", v.name, t.headers);
        }
        // an unsigned header is free to change
        let t = v.with_header("user-agent", "curl/8");
        assert_eq!(send(AliyunApiGateway::new(), &t, &v.secret, 0).await.status, StatusCode::OK);
    }
}

#[tokio::test]
async fn apigw_tampered_body_byte() {
    let vectors = apigw();
    let form = vectors.iter().find(|v| v.name == "POST form").unwrap();
    let t = form.with_body("tilde=~home", "tilde=~hame");
    assert_eq!(send(AliyunApiGateway::new(), &t, &form.secret, 0).await.ca(), (400, Some("Invalid Signature")));
    let t = form.with_body("empty=", "empty=x");
    assert_eq!(send(AliyunApiGateway::new(), &t, &form.secret, 0).await.ca(), (400, Some("Invalid Signature")));
    // the same parameters encoded otherwise: the same string to sign
    let t = form.with_body("%20", "+");
    assert_eq!(send(AliyunApiGateway::new(), &t, &form.secret, 0).await.status, StatusCode::OK);

    let json = vectors.iter().find(|v| v.name == "POST json with Content-MD5").unwrap();
    let t = json.with_body("\"n\":1", "\"n\":2");
    assert_eq!(send(AliyunApiGateway::new(), &t, &json.secret, 0).await.ca(), (400, Some("Invalid Content-MD5")));
    let t = json.with_header("content-md5", "1B2M2Y8AsgTpgAmY7PhCfg==");
    assert_eq!(send(AliyunApiGateway::new(), &t, &json.secret, 0).await.ca(), (400, Some("Invalid Signature")));
}

#[tokio::test]
async fn apigw_signer_reproduces_every_vector() {
    for v in apigw() {
        // the request as the application built it, before the client signed it
        let mut b = Request::builder().method(v.method.as_str()).uri(v.target.as_str());
        for name in ["accept", "content-type", "x-custom"] {
            if let Some(value) = v.header(name) {
                b = b.header(name, value);
            }
        }
        let (mut parts, ()) = b.body(()).unwrap().into_parts();
        let mut signer = AliyunApiGateway::new().stage(Stage::Release);
        if v.header("x-custom").is_some() {
            signer = signer.sign_header(HeaderName::from_static("x-custom"));
        }
        let now = at_millis(v.header("x-ca-timestamp").unwrap());
        let nonce = v.header("x-ca-nonce").unwrap();
        signer.sign_with_nonce(&mut parts, &v.body(), &v.key_id, &v.secret.as_str().into(), now, nonce).unwrap();
        for name in
            ["x-ca-signature", "x-ca-signature-headers", "x-ca-timestamp", "x-ca-key", "x-ca-nonce", "content-md5"]
        {
            assert_eq!(parts.headers.get(name).map(|h| h.to_str().unwrap()), v.header(name), "{}: {name}", v.name);
        }
        assert!(!parts.headers.contains_key("x-ca-signature-method"), "the Node.js client sends none for HmacSHA256");
    }
}

// ---------------------------------------------------------------- Aliyun RPC

const MISMATCH: &str = "Specified signature is not matched with our calculation. server string to sign is:";

#[tokio::test]
async fn rpc_every_vector_passes_at_its_time() {
    for v in rpc() {
        let a = send(AliyunRpc::new(), &v, &v.secret, 0).await;
        assert_eq!(a.status, StatusCode::OK, "{}: {}", v.name, a.json);
        assert_eq!(a.json["key_id"], v.key_id.as_str(), "{}", v.name);
        for offset in [-15 * 60 + 1, 15 * 60 - 1] {
            assert_eq!(send(AliyunRpc::new(), &v, &v.secret, offset).await.status, StatusCode::OK);
        }
    }
}

/// The string to sign as the Python SDK composes it, from the vector's own parameters.
fn sdk_string_to_sign(v: &Vector) -> String {
    let mut params = decoded_pairs(v.target.split_once('?').unwrap().1.as_bytes());
    if v.header("content-type") == Some("application/x-www-form-urlencoded") {
        params.extend(decoded_pairs(&v.body()));
    }
    params.retain(|(k, _)| k != "Signature");
    params.sort();
    let enc = |s: &str| tollgate_signature::fuzzing::rfc3986_encode(s);
    let query: Vec<String> = params.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect();
    format!("{}&%2F&{}", v.method, enc(&query.join("&")))
}

#[tokio::test]
async fn rpc_wrong_secret_carries_the_string_to_sign_exactly() {
    for v in rpc() {
        let a = send(AliyunRpc::new(), &v, "wrong-secret", 0).await;
        let (status, code, message) = a.rpc();
        assert_eq!((status, code), (400, "SignatureDoesNotMatch"), "{}", v.name);
        assert_eq!(message, format!("{MISMATCH}{}", sdk_string_to_sign(&v)), "{}", v.name);
        // the SDK splits at ':' and compares with its own string: equal, so it reports a wrong secret
        assert_eq!(message.split_once(':').unwrap().1, sdk_string_to_sign(&v));
        for field in ["RequestId", "HostId", "Code", "Message"] {
            assert!(a.json.get(field).is_some(), "{}: {field} in {}", v.name, a.json);
        }
    }
}

#[tokio::test]
async fn rpc_unknown_key_is_404_and_disabled_key_400() {
    for v in rpc() {
        let store = MemorySecretStore::new().with_key("LTAIother", v.secret.as_str());
        let a = send_to(AliyunRpc::new(), store, &v, 0).await;
        assert_eq!(a.rpc(), (404, "InvalidAccessKeyId.NotFound", "Specified access key is not found."), "{}", v.name);
        let store =
            MemorySecretStore::new().with_record(v.key_id.as_str(), KeyRecord::new(v.secret.as_str()).disabled(true));
        let a = send_to(AliyunRpc::new(), store, &v, 0).await;
        assert_eq!(a.rpc(), (400, "InvalidAccessKeyId.Inactive", "Specified access key is disabled."), "{}", v.name);
    }
}

#[tokio::test]
async fn rpc_clock_moved_20_minutes_either_way_is_expired() {
    for v in rpc() {
        for offset in [-20 * 60, 20 * 60] {
            let a = send(AliyunRpc::new(), &v, &v.secret, offset).await;
            let expected = (400, "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.");
            assert_eq!(a.rpc(), expected, "{} at {offset}", v.name);
        }
    }
}

#[tokio::test]
async fn rpc_missing_signature_and_bad_timestamp() {
    for v in rpc() {
        let sig = v.target.split("&Signature=").nth(1).unwrap();
        let t = v.with_target(&format!("&Signature={sig}"), "");
        let a = send(AliyunRpc::new(), &t, &v.secret, 0).await;
        assert_eq!(a.rpc(), (400, "MissingSignature", "Signature is mandatory for this action."), "{}", v.name);
        let t = v.with_target("Timestamp=2026-11-22T16%3A15%3A30Z", "Timestamp=2026-11-22");
        let a = send(AliyunRpc::new(), &t, &v.secret, 0).await;
        let expected = (400, "InvalidTimeStamp.Format", "Specified time stamp or date value is not well formatted.");
        assert_eq!(a.rpc(), expected, "{}", v.name);
    }
}

#[tokio::test]
async fn rpc_tampered_query_value_is_signature_does_not_match() {
    for v in rpc() {
        let mut tampered = vec![
            v.with_target("Action=Echo", "Action=Echp"),
            v.with_target("SignatureNonce=", "SignatureNonce=0"),
            v.with_target("Timestamp=2026-11-22T16%3A15%3A30Z", "Timestamp=2026-11-22T16%3A15%3A31Z"),
            v.with_target("?", "?extra=1&"),
        ];
        for (from, to) in [("tilde=~home", "tilde=~hame"), ("page=1", "page=2"), ("star=x%2Ay", "star=x%2Az")] {
            if v.target.contains(from) {
                tampered.push(v.with_target(from, to));
            }
        }
        let mut other_method = v.clone();
        other_method.method = if v.method == "GET" { "DELETE".into() } else { "PUT".into() };
        tampered.push(other_method);
        for t in tampered {
            let a = send(AliyunRpc::new(), &t, &v.secret, 0).await;
            assert_eq!(a.rpc().1, "SignatureDoesNotMatch", "{}: {} {}", v.name, t.method, t.target);
        }
    }
}

#[tokio::test]
async fn rpc_tampered_form_body_is_signature_does_not_match() {
    let vectors = rpc();
    let form = vectors.iter().find(|v| v.name == "POST form").unwrap();
    for (from, to) in [("tilde=~home", "tilde=~hame"), ("empty=", "empty=x"), ("+", "%2B")] {
        let t = form.with_body(from, to);
        assert_eq!(send(AliyunRpc::new(), &t, &form.secret, 0).await.rpc().1, "SignatureDoesNotMatch", "{from}");
    }
    // a parameter moved from the body to the query is still signed: the request passes
    let t = form.with_body("&empty=", "").with_target("?", "?empty=&");
    assert_eq!(send(AliyunRpc::new(), &t, &form.secret, 0).await.status, StatusCode::OK);
}

#[tokio::test]
async fn rpc_signer_reproduces_every_vector() {
    for v in rpc() {
        // the target as the application built it: everything before the signature parameters
        let (before, _) = v.target.split_once("&Timestamp=").unwrap();
        let mut b = Request::builder().method(v.method.as_str()).uri(before);
        if let Some(ctype) = v.header("content-type") {
            b = b.header("content-type", ctype);
        }
        let (mut parts, ()) = b.body(()).unwrap().into_parts();
        let params = decoded_pairs(v.target.split_once('?').unwrap().1.as_bytes());
        let find = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).unwrap();
        let now = humantime::parse_rfc3339(find("Timestamp")).unwrap();
        let nonce = find("SignatureNonce");
        let signer = AliyunRpc::new();
        signer.sign_with_nonce(&mut parts, &v.body(), &v.key_id, &v.secret.as_str().into(), now, nonce).unwrap();
        assert_eq!(parts.uri.to_string(), v.target, "{}", v.name);
        // and the string it signed is the one the verifier builds
        let mut all = params.clone();
        if v.header("content-type").is_some() {
            all.extend(decoded_pairs(&v.body()));
        }
        assert_eq!(aliyun_rpc::string_to_sign(&parts.method, &all), sdk_string_to_sign(&v));
    }
}

// ---------------------------------------------------------------- a store that must be awaited

/// The in-memory store answering only through a future that waits once, as a database's
/// would: the layer then verifies in its boxed future rather than in `call`.
struct Awaited(MemorySecretStore);

impl SecretStore for Awaited {
    async fn lookup(&self, key_id: &str) -> Result<Option<std::sync::Arc<KeyRecord>>, tollgate_core::StoreError> {
        let found = self.0.lookup(key_id).await;
        tokio::task::yield_now().await;
        found
    }
}

/// The vector's answer through `store` at once and through it awaited.
async fn both_ways(v: &Vector, rpc: bool, store: impl Fn() -> MemorySecretStore, offset: i64) -> (Answer, Answer) {
    if rpc {
        (
            send_to(AliyunRpc::new(), store(), v, offset).await,
            send_to(AliyunRpc::new(), Awaited(store()), v, offset).await,
        )
    } else {
        let scheme = AliyunApiGateway::new;
        (send_to(scheme(), store(), v, offset).await, send_to(scheme(), Awaited(store()), v, offset).await)
    }
}

#[tokio::test]
async fn every_answer_is_the_same_through_a_store_that_must_be_awaited() {
    let mut compared = 0;
    for (v, rpc) in apigw().into_iter().map(|v| (v, false)).chain(rpc().into_iter().map(|v| (v, true))) {
        let cases = [(v.secret.as_str(), 0), ("wrong-secret", 0), (v.secret.as_str(), 20 * 60)];
        for (secret, offset) in cases {
            let (a, b) =
                both_ways(&v, rpc, || MemorySecretStore::new().with_key(v.key_id.as_str(), secret), offset).await;
            assert_eq!((a.ca(), a.rpc(), &a.json["key_id"]), (b.ca(), b.rpc(), &b.json["key_id"]), "{}", v.name);
            compared += 1;
        }
        let (a, b) = both_ways(&v, rpc, MemorySecretStore::new, 0).await;
        assert_eq!((a.ca(), a.rpc()), (b.ca(), b.rpc()), "{}: an unknown key", v.name);
    }
    assert!(compared >= 9, "{compared} cases");
}
