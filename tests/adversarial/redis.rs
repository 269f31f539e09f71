//! Adversarial tests: redis. Rate keys on a shared Redis carry the policy's identity (its
//! name, tier, quota and algorithm), so policies sharing one server never read each other's
//! state nor count together; and no duration given to the store panics.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::routing::get;
use tollgate::RateStore;
use tollgate::flow::{AlgorithmChoice, BasicLimits, FlowControlLayer};
use tollgate::redis::RedisStore;
use tollgate::redis::testing::RedisServer;

use crate::http_support::serve;

/// A Redis for the test: `REDIS_URL` when set, else a throwaway server (missing under
/// `CI=true` fails the test rather than skip it).
fn redis_url() -> Option<(String, Option<RedisServer>)> {
    if let Ok(url) = std::env::var("REDIS_URL") {
        return Some((url, None));
    }
    let server = RedisServer::start()?;
    Some((server.url(), Some(server)))
}

/// A prefix of its own per test run, so a shared server starts clean.
fn fresh_prefix(test: &str) -> String {
    format!("adversarial-{test}-{}:", SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos())
}

async fn app(limits: BasicLimits, store: RedisStore) -> SocketAddr {
    serve(Router::new().route("/", get(|| async { "ok" })).layer(FlowControlLayer::with_store(limits, store))).await
}

/// How many of `n` requests pass, and the statuses of those that do not.
async fn passes(addr: SocketAddr, n: usize) -> (usize, Vec<u16>) {
    let client = reqwest::Client::new();
    let mut passed = 0;
    let mut others = Vec::new();
    for _ in 0..n {
        let status = client.get(format!("http://{addr}/")).send().await.unwrap().status().as_u16();
        if status == 200 { passed += 1 } else { others.push(status) }
    }
    (passed, others)
}

/// Two unnamed policies, a fixed window and a GCRA, on one Redis: both key `api:api`; the
/// GCRA read the fixed window's `index:count` state as a number and the Lua script failed
/// (every request 503).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fixed_window_and_a_gcra_sharing_a_redis_both_work() {
    let Some((url, _server)) = redis_url() else { return };
    let store = RedisStore::connect(&url).await.unwrap().prefix(fresh_prefix("algorithms"));
    let fixed = BasicLimits::new(3, Duration::from_secs(3_600), Some(AlgorithmChoice::FixedWindow)).unwrap();
    let gcra = BasicLimits::new(5, Duration::from_secs(3_600), Some(AlgorithmChoice::Gcra)).unwrap();
    let (fixed, gcra) = (app(fixed, store.clone()).await, app(gcra, store).await);
    let (passed, refused) = passes(fixed, 4).await;
    assert_eq!((passed, refused), (3, vec![429]), "the fixed window counts alone");
    let (passed, refused) = passes(gcra, 6).await;
    assert_eq!((passed, refused), (5, vec![429]), "the GCRA reads no fixed-window state");
}

/// Two services, each with its own unnamed limit, on one Redis: their limits used to count
/// together (one key, `api:api`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_services_limits_do_not_count_together() {
    let Some((url, _server)) = redis_url() else { return };
    let prefix = fresh_prefix("services");
    let orders = RedisStore::connect(&url).await.unwrap().prefix(prefix.clone());
    let users = RedisStore::connect(&url).await.unwrap().prefix(prefix);
    let orders = app(BasicLimits::new(4, Duration::from_secs(3_600), None).unwrap(), orders).await;
    let users = app(BasicLimits::new(6, Duration::from_secs(3_600), None).unwrap(), users).await;
    assert_eq!(passes(orders, 4).await.0, 4);
    assert_eq!(passes(users, 7).await, (6, vec![429]), "the users service has its whole limit");
    assert_eq!(passes(orders, 1).await, (0, vec![429]));
    // named APIs with the same limits count apart too
    let store = RedisStore::connect(&url).await.unwrap().prefix(fresh_prefix("named"));
    let limits = || BasicLimits::new(2, Duration::from_secs(3_600), None).unwrap();
    let a = app(limits().named("a"), store.clone()).await;
    let b = app(limits().named("b"), store).await;
    assert_eq!(passes(a, 3).await, (2, vec![429]));
    assert_eq!(passes(b, 3).await, (2, vec![429]));
}

/// A timeout of `Duration::MAX` is no deadline, not a panic.
#[tokio::test]
async fn an_unbounded_timeout_does_not_panic() {
    let Some((url, _server)) = redis_url() else { return };
    let store =
        RedisStore::connect(&url).await.unwrap().prefix(fresh_prefix("timeout")).timeout(Duration::MAX).unwrap();
    let quota = tollgate::RateQuota::new(3.try_into().unwrap(), Duration::from_secs(60)).unwrap();
    assert!(store.take("api:timeout", &quota, 1).await.unwrap().allowed);
}

/// A zero timeout would time every call out: refused when the store is configured, naming
/// the field, instead of refusing (or silently limiting per instance) every request.
#[tokio::test]
async fn a_zero_timeout_is_a_configuration_error() {
    let Some((url, _server)) = redis_url() else { return };
    let err = RedisStore::connect(&url).await.unwrap().timeout(Duration::ZERO).unwrap_err();
    assert_eq!(err.field, "timeout", "{err}");
    assert!(RedisStore::connect(&url).await.unwrap().timeout(Duration::from_nanos(1)).is_ok());
}
