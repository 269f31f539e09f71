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
