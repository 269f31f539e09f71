//! Two independent instances (two layer stacks, two servers on loopback) sharing one Redis:
//! concurrent load across both never gets more than the limit accepted, and a nonce
//! accepted by one is refused by the other. Uses `REDIS_URL` when set (`.ci/run` starts a
//! redis-server and sets it), else starts a throwaway redis-server.

use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::{Router, routing::get};
use tollgate::flow::{BasicFlowControlConfig, BasicLimits, FlowControlLayer};
use tollgate::redis::RedisStore;
use tollgate::redis::testing::RedisServer;
use tollgate::replay::{HeaderRule, ReplayGuardLayer};

async fn redis_url() -> Option<(String, Option<RedisServer>)> {
    if let Ok(url) = std::env::var("REDIS_URL") {
        return Some((url, None));
    }
    let server = RedisServer::start()?;
    Some((server.url(), Some(server)))
}

/// One instance: its own layers and its own connection to the shared Redis.
async fn instance(url: &str, prefix: &str) -> SocketAddr {
    let store = RedisStore::connect(url).await.unwrap().prefix(prefix.to_owned());
    let config: BasicFlowControlConfig =
        serde_json::from_str(r#"{"expire_type": "hour", "api_rate_limit": 50}"#).unwrap();
    let limits = BasicLimits::from_config(&config).unwrap().named("fleet");
    let rule = HeaderRule::aliyun_api_gateway();
    let app = Router::new()
        .route("/limited", get(|| async { "ok" }))
        .layer(FlowControlLayer::with_store(limits, store.clone()))
        .route("/signed", get(|| async { "ok" }).layer(ReplayGuardLayer::with_store(store).headers(rule)));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await.unwrap();
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_fleet_shares_one_limit_and_one_nonce_history() {
    let Some((url, _server)) = redis_url().await else { return };
    // a fresh prefix per run, so a shared REDIS_URL server starts clean for this test
    let prefix = format!("fleet-test-{}:", SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos());
    let (a, b) = (instance(&url, &prefix).await, instance(&url, &prefix).await);
    let client = reqwest::Client::builder().no_proxy().build().unwrap();

    let mut tasks = Vec::new();
    for i in 0..8 {
        let (client, addr) = (client.clone(), if i % 2 == 0 { a } else { b });
        tasks.push(tokio::spawn(async move {
            let mut passed = 0;
            for _ in 0..20 {
                let status = client.get(format!("http://{addr}/limited")).send().await.unwrap().status();
                assert!(status == 200 || status == 429, "{status}");
                passed += usize::from(status == 200);
            }
            passed
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap();
    }
    assert_eq!(total, 50, "160 requests across two instances, a limit of 50 for the fleet");

    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis().to_string();
    let signed = |addr: SocketAddr| {
        client
            .get(format!("http://{addr}/signed"))
            .header("x-ca-key", "203753741")
            .header("x-ca-timestamp", now.clone())
            .header("x-ca-nonce", "c9f15cbf-f4ac-4a6c-b54d-f51abf4b5b44")
            .send()
    };
    assert_eq!(signed(a).await.unwrap().status(), 200);
    let replayed = signed(b).await.unwrap();
    assert_ne!(replayed.status(), 200, "the other instance refuses the nonce");
}

/// Redis stopped while requests are in flight: every request is answered within the
/// timeout's reach, as configured (refused with 503, or let through), and the layers
/// recover once Redis is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_stopping_mid_load_gives_the_configured_answer_and_recovers() {
    use std::time::{Duration, Instant};
    use tollgate::redis::OnFailure;

    let Some(mut server) = RedisServer::start() else { return };
    let mut addrs = Vec::new();
    for on_failure in [OnFailure::Refuse, OnFailure::Allow] {
        let store = RedisStore::connect(&server.url()).await.unwrap().on_failure(on_failure);
        let limits = BasicLimits::new(1_000_000, Duration::from_secs(60), None).unwrap().named("fault");
        let app = Router::new().route("/", get(|| async { "ok" })).layer(FlowControlLayer::with_store(limits, store));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        addrs.push(listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    }
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let load = |addr: SocketAddr, until: Instant| {
        let client = client.clone();
        tokio::spawn(async move {
            let mut seen = Vec::new();
            while Instant::now() < until {
                let started = Instant::now();
                let resp = client.get(format!("http://{addr}/")).send().await.unwrap();
                let status = resp.status().as_u16();
                let body = resp.text().await.unwrap();
                seen.push((status, started.elapsed(), body));
            }
            seen
        })
    };
    let until = Instant::now() + Duration::from_millis(1_500);
    let (closed, open) = (load(addrs[0], until), load(addrs[1], until));
    tokio::time::sleep(Duration::from_millis(500)).await;
    server.stop();
    let (closed, open) = (closed.await.unwrap(), open.await.unwrap());
    let slowest = closed.iter().chain(&open).map(|(_, took, _)| *took).max().unwrap();
    assert!(slowest < Duration::from_millis(500), "a request took {slowest:?} with a 50 ms store timeout");
    assert!(closed.iter().all(|(s, _, body)| *s == 200 || (*s == 503 && body.contains("RateStoreUnavailable"))));
    assert!(closed.iter().any(|(s, _, _)| *s == 503), "fail closed refuses once Redis is gone");
    assert!(open.iter().all(|(s, _, _)| *s == 200), "fail open lets everything through");

    server.restart().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status = client.get(format!("http://{}/", addrs[0])).send().await.unwrap().status();
        if status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "not recovered within 10 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Aliyun's `preventJtiReplay` across a fleet: two instances, each with its own token layer
/// and its own connection to one Redis, remember each `jti` together, so a token accepted by
/// one is refused by the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_fleet_shares_one_jti_history() {
    use jsonwebtoken::{Algorithm, EncodingKey, Header};
    use tollgate::token::TokenLayer;

    const JWKS: &str = include_str!("../crates/tollgate-token/tests/fixtures/jwks.json");
    const RSA_PEM: &[u8] = include_bytes!("../crates/tollgate-token/tests/fixtures/rsa2048.pem");
    let Some((url, _server)) = redis_url().await else { return };
    let prefix = format!("fleet-jti-{}:", SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos());
    let plugin = format!("preventJtiReplay: true\njwks: {}", JWKS.replace('\n', " "));
    let mut addrs = Vec::new();
    for _ in 0..2 {
        let store = RedisStore::connect(&url).await.unwrap().prefix(prefix.clone());
        let layer = TokenLayer::from_plugin(&plugin).unwrap().jti_store(store);
        let app = Router::new().route("/me", get(|| async { "ok" })).layer(layer);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        addrs.push(listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    }
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("rsa-1".to_owned());
    let mint = |jti: &str| {
        let claims =
            serde_json::json!({"sub": "alice", "jti": jti, "exp": jsonwebtoken::get_current_timestamp() + 600});
        jsonwebtoken::encode(&header, &claims, &EncodingKey::from_rsa_pem(RSA_PEM).unwrap()).unwrap()
    };
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let call = |addr: SocketAddr, token: String| {
        client.get(format!("http://{addr}/me")).header("authorization", format!("Bearer {token}")).send()
    };
    let token = mint(&prefix);
    assert_eq!(call(addrs[0], token.clone()).await.unwrap().status(), 200);
    let replayed = call(addrs[1], token).await.unwrap();
    assert_eq!(replayed.status(), 403, "the other instance refuses the jti");
    assert!(replayed.headers()["x-ca-error-message"].to_str().unwrap().contains("jti"));
    // another jti passes on either
    assert_eq!(call(addrs[1], mint(&format!("{prefix}-2"))).await.unwrap().status(), 200);
}
