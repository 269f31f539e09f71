//! Adversarial tests: replay.
//!
//! The replay guard must refuse every second use of a nonce it accepted (whatever another
//! tenant sends meanwhile), never refuse an honest client the real gateway accepts, and take
//! no configuration that silently weakens it.

use std::time::{Duration, SystemTime};

use axum::Router;
use axum::body::Body;
use bytes::Bytes;
use http::{Request, StatusCode};
use tollgate::MemoryNonceStore;
use tollgate::gateway::{Format, Gateway};
use tollgate::replay::ReplayGuardLayer;
use tollgate::signature::aliyun_apigw::AliyunApiGateway;
use tollgate::signature::aliyun_rpc::AliyunRpc;
use tollgate::signature::tencent_apigw::TencentApiGateway;
use tollgate::signature::tencent_cloud::TencentCloud;
use tollgate::signature::{MemorySecretStore, Scheme, SignatureLayer, Signer, sign_request};
use tower::{Layer, ServiceExt};

use crate::http_support::serve;

const KEY_A: &str = "203000001";
const KEY_B: &str = "203000002";
const SECRET: &str = "replay-secret-0001";

fn keys() -> MemorySecretStore {
    MemorySecretStore::new().with_key(KEY_A, SECRET).with_key(KEY_B, SECRET)
}

/// A handler behind `scheme`'s signature layer and a replay guard over `nonces`.
fn app<Sc: Scheme>(scheme: Sc, nonces: MemoryNonceStore) -> Router {
    Router::new()
        .fallback(|| async { "handler" })
        .layer(ReplayGuardLayer::with_store(nonces))
        .layer(SignatureLayer::new(scheme, keys()))
}

fn signed<Sg: Signer>(signer: &Sg, req: Request<Bytes>, key: &str, at: SystemTime) -> Request<Bytes> {
    sign_request(signer, req, key, &SECRET.into(), at).unwrap()
}

fn get(uri: &str) -> Request<Bytes> {
    Request::get(uri).body(Bytes::new()).unwrap()
}

/// Sends a signed request over HTTP (the same bytes each time it is called).
async fn send(http: &reqwest::Client, req: &Request<Bytes>) -> (u16, String) {
    let mut r = http.request(req.method().clone(), req.uri().to_string());
    for (k, v) in req.headers() {
        if k != http::header::HOST {
            r = r.header(k, v);
        }
    }
    let resp = r.body(req.body().clone()).send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.text().await.unwrap())
}

fn http() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

async fn call(svc: &Router, req: &Request<Bytes>) -> (StatusCode, http::HeaderMap) {
    let req = req.clone().map(Body::from);
    let resp = svc.clone().oneshot(req).await.unwrap();
    (resp.status(), resp.headers().clone())
}

// ---------------------------------------------------------------------------------------
// Issue 17.1: schemes without a nonce

/// The key-pair signature covers only `x-date` and `source`: two different requests in one
/// second carry the same signature, and Tencent's gateway accepts both.
#[tokio::test]
async fn key_pair_two_different_requests_in_one_second_both_pass() {
    let addr = serve(app(TencentApiGateway::new(), MemoryNonceStore::new())).await;
    let signer = TencentApiGateway::new().sign_header(http::HeaderName::from_static("source"));
    let now = SystemTime::now();
    let mut statuses = Vec::new();
    for path in ["/release/orders", "/release/users?page=2"] {
        let req = Request::get(format!("http://{addr}{path}")).header("source", "app").body(Bytes::new()).unwrap();
        let req = signed(&signer, req, KEY_A, now);
        statuses.push(send(&http(), &req).await.0);
    }
    assert_eq!(statuses, [200, 200], "the second honest request was refused as a replay");
    // opted in, the signature is remembered: the same signature is accepted once
    let addr = serve(app(TencentApiGateway::new().remember_signatures(true), MemoryNonceStore::new())).await;
    let req = Request::get(format!("http://{addr}/release/orders")).header("source", "app").body(Bytes::new()).unwrap();
    let req = signed(&signer, req, KEY_A, now);
    assert_eq!(send(&http(), &req).await.0, 200);
    let (status, body) = send(&http(), &req).await;
    assert_eq!(status, 403);
    assert!(body.contains("already used"), "{body}");
}

/// Tencent Cloud accepts an identical TC3 request sent twice (an SDK retry, a poll); the
/// opt-in makes the guard accept each signature once.
#[tokio::test]
async fn tc3_identical_request_twice_passes_unless_signatures_are_remembered() {
    let request = |addr: std::net::SocketAddr| {
        let req = Request::post(format!("http://{addr}/"))
            .header("host", addr.to_string())
            .header("content-type", "application/json")
            .header("x-tc-action", "DescribeInstances")
            .body(Bytes::from_static(br#"{"Limit": 1}"#))
            .unwrap();
        signed(&TencentCloud::new().sign_service("cvm"), req, KEY_A, SystemTime::now())
    };
    let addr = serve(app(TencentCloud::new(), MemoryNonceStore::new())).await;
    let req = request(addr);
    for attempt in 0..2 {
        let (status, body) = send(&http(), &req).await;
        assert_eq!((status, body.as_str()), (200, "handler"), "attempt {attempt}");
    }
    let addr = serve(app(TencentCloud::new().remember_signatures(true), MemoryNonceStore::new())).await;
    let req = request(addr);
    assert_eq!(send(&http(), &req).await.1, "handler");
    let (status, body) = send(&http(), &req).await;
    assert_eq!(status, 200, "Tencent Cloud answers refusals with 200");
    assert!(body.contains("AuthFailure.SignatureFailure") && body.contains("already used"), "{body}");
}

// ---------------------------------------------------------------------------------------
// Issue 17.3: replay through nonce eviction

/// Tenant A floods future-dated nonces (kept longest) into a small store; tenant B's captured
/// request is then replayed. The store once forgot the soonest-expiring nonces, B's among
/// them, and the replay passed.
#[tokio::test]
async fn a_tenant_flooding_future_nonces_cannot_evict_anothers() {
    // two per shard for one key: B's fresh nonce below always has room beside its captured one,
    // whichever shard each lands in
    let svc = app(AliyunApiGateway::new(), MemoryNonceStore::with_capacity(640).max_share(0.2));
    let now = SystemTime::now();
    let captured = signed(&AliyunApiGateway::new(), get("/orders"), KEY_B, now);
    assert_eq!(call(&svc, &captured).await.0, StatusCode::OK);

    let future = now + Duration::from_secs(14 * 60);
    let (mut passed, mut full) = (0, 0);
    for _ in 0..3_000 {
        let flood = signed(&AliyunApiGateway::new(), get("/orders"), KEY_A, future);
        let (status, headers) = call(&svc, &flood).await;
        match status {
            StatusCode::OK => passed += 1,
            StatusCode::SERVICE_UNAVAILABLE => {
                full += 1;
                // NonceStoreFull, in Aliyun's words
                assert!(headers["x-ca-error-message"].to_str().unwrap().contains("at capacity"));
            }
            other => panic!("flood answered {other}"),
        }
    }
    // a fifth of the bound for one key, kept per shard: two per shard here
    assert_eq!(passed, 128);
    assert_eq!(full, 3_000 - 128);

    let (status, headers) = call(&svc, &captured).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "B's captured request was replayed");
    assert_eq!(headers["x-ca-error-message"], "Nonce Used");
    // B still has its own share
    let fresh = signed(&AliyunApiGateway::new(), get("/orders"), KEY_B, now);
    assert_eq!(call(&svc, &fresh).await.0, StatusCode::OK);
}

/// Many keys together can fill the store (no share stops that): it then refuses new nonces
/// and still refuses every replay of one it holds.
#[tokio::test]
async fn a_store_filled_by_many_keys_refuses_new_nonces_and_forgets_none() {
    let mut store = MemorySecretStore::new();
    for k in 0..20 {
        store = store.with_key(format!("flood{k}"), SECRET);
    }
    let svc = Router::new()
        .fallback(|| async { "handler" })
        .layer(ReplayGuardLayer::with_store(MemoryNonceStore::with_capacity(640)))
        .layer(SignatureLayer::new(AliyunApiGateway::new(), store.with_key(KEY_B, SECRET)));
    let now = SystemTime::now();
    let mut held = vec![signed(&AliyunApiGateway::new(), get("/"), KEY_B, now)];
    assert_eq!(call(&svc, &held[0]).await.0, StatusCode::OK);
    for i in 0..4_000 {
        let req =
            signed(&AliyunApiGateway::new(), get("/"), &format!("flood{}", i % 20), now + Duration::from_secs(600));
        match call(&svc, &req).await.0 {
            StatusCode::OK => held.push(req),
            StatusCode::SERVICE_UNAVAILABLE => {}
            other => panic!("{other}"),
        }
    }
    assert!(held.len() <= 640, "{}", held.len());
    for req in &held {
        assert_eq!(call(&svc, req).await.0, StatusCode::BAD_REQUEST, "a held nonce was forgotten");
    }
}

/// The gateway's bound and share are configurable, and its APIs share one store.
#[tokio::test]
async fn the_gateway_nonce_store_is_configurable_and_shared() {
    let config = format!(
        r#"
nonce_store: {{capacity: 640, max_share: 0.5}}
apis:
  - path: /a/
    signature: {{scheme: aliyun-apigw, keys: {{"{KEY_A}": "{SECRET}"}}}}
    replay: true
  - path: /b/
    signature: {{scheme: aliyun-apigw, keys: {{"{KEY_A}": "{SECRET}"}}}}
    replay: true
"#
    );
    let svc = Gateway::from_config(&config, Format::Yaml).unwrap().into_layer().layer(tower::service_fn(
        |_req: Request<Body>| async { Ok::<_, std::convert::Infallible>(http::Response::new(Body::from("handler"))) },
    ));
    let send = |req: Request<Bytes>| {
        let mut req = req.map(Body::from);
        req.extensions_mut().insert(tollgate::PeerAddr("127.0.0.1:40000".parse().unwrap()));
        svc.clone().oneshot(req)
    };
    let now = SystemTime::now();
    let on_a = signed(&AliyunApiGateway::new(), get("/a/x"), KEY_A, now);
    assert_eq!(send(on_a.clone()).await.unwrap().status(), 200);
    // the same signed nonce on the other API of the gateway: one history
    let nonce = on_a.headers()["x-ca-nonce"].to_str().unwrap().to_owned();
    let (mut parts, body) = get("/b/x").into_parts();
    AliyunApiGateway::new().sign_with_nonce(&mut parts, &body, KEY_A, &SECRET.into(), now, &nonce).unwrap();
    assert_eq!(send(Request::from_parts(parts, body)).await.unwrap().status(), 400);
    let mut passed = 1;
    for _ in 0..2_000 {
        let status = send(signed(&AliyunApiGateway::new(), get("/a/x"), KEY_A, now)).await.unwrap().status();
        passed += usize::from(status == 200);
        assert!(status == 200 || status == 503, "{status}");
    }
    assert_eq!(passed, 64 * 5, "half of 10 per shard");
}

// ---------------------------------------------------------------------------------------
// Issue 17.5: configuration that silently weakens replay protection

fn config_error(text: &str) -> String {
    Gateway::from_config(text, Format::Yaml).unwrap_err().to_string()
}

#[test]
fn a_window_past_a_day_is_refused_at_load() {
    let err = config_error(
        "apis: [{path: /, signature: {scheme: aliyun-apigw, keys: {app: s}, window: 18446744073709551615}, replay: true}]",
    );
    assert!(err.starts_with("apis[0].signature.window: expected a window of at most a day"), "{err}");
    let err = config_error("apis: [{path: /, signature: {scheme: tencent-cloud, keys: {app: s}, window: 2d}}]");
    assert!(err.starts_with("apis[0].signature.window:"), "{err}");
    let err = config_error("apis: [{path: /, replay: {timestamp: x-ts, nonce: x-n, window: 18446744073709551615}}]");
    assert!(err.starts_with("apis[0].replay.window: expected a window of at most a day"), "{err}");
    let err = config_error("apis: [{path: /, replay: {timestamp: x-ts, nonce: x-n, window: 0}}]");
    assert!(err.starts_with("apis[0].replay.window:"), "{err}");
    // a day itself is fine
    Gateway::from_config(
        "apis: [{path: /, signature: {scheme: aliyun-rpc, keys: {app: s}, window: 1d}}]",
        Format::Yaml,
    )
    .unwrap();
}

/// A code builder given `Duration::MAX` neither panics nor keeps a nonce one second (the
/// overflow the configuration once reached): the window is a day.
#[tokio::test]
async fn a_huge_window_from_code_is_a_day() {
    let svc = app(AliyunApiGateway::new().window(Duration::MAX), MemoryNonceStore::new());
    let now = SystemTime::now();
    let req = signed(&AliyunApiGateway::new(), get("/"), KEY_A, now + Duration::from_secs(23 * 3600));
    assert_eq!(call(&svc, &req).await.0, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    assert_eq!(call(&svc, &req).await.0, StatusCode::BAD_REQUEST, "the nonce was forgotten after a second");
    let later = signed(&AliyunApiGateway::new(), get("/"), KEY_A, now + Duration::from_secs(25 * 3600));
    assert_eq!(call(&svc, &later).await.0, StatusCode::BAD_REQUEST, "more than a day ahead");
}

#[test]
fn an_empty_secret_is_refused_at_load() {
    let err = config_error(r#"apis: [{path: /, signature: {scheme: aliyun-apigw, keys: {app: ""}}}]"#);
    assert_eq!(err, "apis[0].signature.keys.app: expected a secret, got an empty one");
    let err = config_error(r#"apis: [{path: /, signature: {scheme: aliyun-apigw, keys: {app: [old, ""]}}}]"#);
    assert_eq!(err, "apis[0].signature.keys.app[1]: expected a secret, got an empty one");
    let err = config_error(r#"apis: [{path: /, signature: {scheme: tencent-apigw, keys: [{id: app, secret: ""}]}}]"#);
    assert_eq!(err, "apis[0].signature.keys[0].secret: expected a secret, got an empty one");
    let err =
        config_error(r#"apis: [{path: /, signature: {scheme: aliyun-rpc, keys: [{id: app, secrets: [a, ""]}]}}]"#);
    assert_eq!(err, "apis[0].signature.keys[0].secrets[1]: expected a secret, got an empty one");
}

/// From code, a key with an empty secret verifies nothing: anyone could sign with ''.
#[tokio::test]
async fn a_key_with_an_empty_secret_verifies_nothing() {
    let store = MemorySecretStore::new().with_key("app", "");
    let svc = Router::new().fallback(|| async { "handler" }).layer(SignatureLayer::new(AliyunApiGateway::new(), store));
    let forged = sign_request(&AliyunApiGateway::new(), get("/"), "app", &"".into(), SystemTime::now()).unwrap();
    let (status, headers) = call(&svc, &forged).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(headers["x-ca-error-message"], "Invalid AppKey");
}

/// Under `replay: true` a request without the scheme's nonce was passed any number of times.
#[tokio::test]
async fn replay_true_refuses_requests_without_the_schemes_nonce() {
    let config = |replay: &str| {
        format!(
            r#"
apis:
  - path: /gw/
    signature: {{scheme: aliyun-apigw, keys: {{"{KEY_A}": "{SECRET}"}}}}
    replay: {replay}
  - path: /
    signature: {{scheme: aliyun-rpc, keys: {{"{KEY_A}": "{SECRET}"}}}}
    replay: {replay}
"#
        )
    };
    let gateway = |replay: &str| {
        Gateway::from_config(&config(replay), Format::Yaml).unwrap().into_layer().layer(tower::service_fn(
            |_req: Request<Body>| async {
                Ok::<_, std::convert::Infallible>(http::Response::new(Body::from("handler")))
            },
        ))
    };
    let now = SystemTime::now();
    // signed with an empty nonce: the verifier reads it as none
    let (mut parts, body) = get("/gw/x").into_parts();
    AliyunApiGateway::new().sign_with_nonce(&mut parts, &body, KEY_A, &SECRET.into(), now, "").unwrap();
    let apigw = Request::from_parts(parts, body);
    let (mut parts, body) = get("/?Action=Echo").into_parts();
    AliyunRpc::new().sign_with_nonce(&mut parts, &body, KEY_A, &SECRET.into(), now, "").unwrap();
    let rpc = Request::from_parts(parts, body);
    let send = |svc: &tollgate::gateway::GatewayService, req: &Request<Bytes>| {
        let mut req = req.clone().map(Body::from);
        req.extensions_mut().insert(tollgate::PeerAddr("127.0.0.1:40000".parse().unwrap()));
        svc.clone().oneshot(req)
    };
    let strict = gateway("true");
    for _ in 0..2 {
        let resp = send(&strict, &apigw).await.unwrap();
        assert_eq!(resp.status(), 400);
        assert_eq!(resp.headers()["x-ca-error-message"], "Invalid Nonce");
        let resp = send(&strict, &rpc).await.unwrap();
        assert_eq!(resp.status(), 400);
        let body = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap();
        assert!(String::from_utf8_lossy(&body).contains("MissingSignatureNonce"));
    }
    // said so, they pass on their timestamp alone
    let lenient = gateway("{require_nonce: false}");
    assert_eq!(send(&lenient, &apigw).await.unwrap().status(), 200);
    assert_eq!(send(&lenient, &rpc).await.unwrap().status(), 200);
}

#[test]
fn nonce_store_and_remember_signatures_are_checked_at_load() {
    let err = config_error("nonce_store: {capacity: 0}");
    assert_eq!(err, "nonce_store.capacity: expected a positive number of nonces");
    for share in ["0", "-1", "1.5", ".nan"] {
        let err = config_error(&format!("nonce_store: {{max_share: {share}}}"));
        assert!(err.starts_with("nonce_store.max_share: expected a share above 0 and up to 1"), "{err}");
    }
    let err =
        config_error("apis: [{path: /, signature: {scheme: aliyun-rpc, keys: {app: s}, remember_signatures: true}}]");
    assert!(err.starts_with("apis[0].signature.remember_signatures: expected it only with tencent"), "{err}");
    Gateway::from_config(
        "apis: [{path: /, signature: {scheme: tencent-cloud, keys: {app: s}, remember_signatures: true}, replay: true}]",
        Format::Yaml,
    )
    .unwrap();
}
