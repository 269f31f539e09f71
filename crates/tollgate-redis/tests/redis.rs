//! The Redis store against a real redis-server (started here on a free loopback port):
//! the same answers as the in-memory store, shared by independent instances, and the
//! configured behaviour when Redis stops, then recovery when it returns.

use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use tollgate_core::{Algorithm, RateQuota, RateStore, RateTake, StoreError};
use tollgate_redis::testing::RedisServer;
use tollgate_redis::{OnFailure, RedisStore};

fn quota(limit: u32, window: Duration, algorithm: Algorithm) -> RateQuota {
    RateQuota::new(NonZeroU32::new(limit).unwrap(), window).unwrap().with_algorithm(algorithm)
}

const ALGORITHMS: [Algorithm; 3] =
    [Algorithm::Gcra, Algorithm::FixedWindow { offset: Duration::ZERO }, Algorithm::SlidingWindow];

#[tokio::test]
async fn nonces_are_accepted_once_across_instances() {
    let Some(server) = RedisServer::start() else { return };
    let a = RedisStore::connect(&server.url()).await.unwrap();
    let b = RedisStore::connect(&server.url()).await.unwrap();
    assert!(a.insert_nonce("app", "n1", Duration::from_secs(60)).await.unwrap());
    assert!(!b.insert_nonce("app", "n1", Duration::from_secs(60)).await.unwrap(), "the other instance refuses it");
    assert!(b.insert_nonce("app", "n2", Duration::from_secs(60)).await.unwrap());
    // the nonce expires with its ttl
    assert!(a.insert_nonce("app", "short", Duration::from_millis(50)).await.unwrap());
    tokio::time::sleep(Duration::from_millis(120)).await;
    assert!(b.insert_nonce("app", "short", Duration::from_millis(50)).await.unwrap());
}

#[tokio::test]
async fn a_huge_nonce_is_kept_as_a_short_key() {
    let Some(server) = RedisServer::start() else { return };
    let store = RedisStore::connect(&server.url()).await.unwrap();
    let huge = "n".repeat(200 * 1024);
    assert!(store.insert_nonce("app", &huge, Duration::from_secs(60)).await.unwrap());
    assert!(!store.insert_nonce("app", &huge, Duration::from_secs(60)).await.unwrap(), "still refused when replayed");
    assert!(store.insert_nonce("app", &format!("{huge}2"), Duration::from_secs(60)).await.unwrap());
    let mut redis = redis::Client::open(server.url()).unwrap().get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS").arg("*").query_async(&mut redis).await.unwrap();
    assert_eq!(keys.len(), 2, "{keys:?}");
    // once the key was the 200 KB nonce itself, kept for the whole window
    assert!(keys.iter().all(|k| k.len() <= 128), "{keys:?}");
}

#[tokio::test]
async fn a_burst_gets_exactly_the_limit_with_the_in_memory_stores_answers() {
    let Some(server) = RedisServer::start() else { return };
    let store = RedisStore::connect(&server.url()).await.unwrap();
    for algorithm in ALGORITHMS {
        let q = quota(5, Duration::from_secs(3_600), algorithm);
        let key = format!("api:burst:{algorithm:?}");
        // the same burst through the in-memory store: the same answers, request by request
        let memory = tollgate_core::MemoryRateStore::new();
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        for _ in 0..8 {
            let d = store.take(&key, &q, 1).await.unwrap();
            ours.push((d.allowed, d.remaining));
            let m = memory.take_now(&key, &q, 1).unwrap();
            theirs.push((m.allowed, m.remaining));
        }
        assert_eq!(ours, theirs, "{algorithm:?}");
        assert_eq!(ours.iter().filter(|(allowed, _)| *allowed).count(), 5, "{algorithm:?}");
        let refused = store.take(&key, &q, 1).await.unwrap();
        let local = memory.take_now(&key, &q, 1).unwrap();
        let (retry, local_retry) =
            (refused.retry_after.expect("a retry time"), local.retry_after.expect("a retry time"));
        // the two clocks read a few milliseconds apart (and Redis counts in microseconds)
        assert!(retry.abs_diff(local_retry) < Duration::from_secs(1), "{algorithm:?}: {retry:?} vs {local_retry:?}");
        let too_big = store.take(&key, &q, 6).await.unwrap();
        assert!(!too_big.allowed && too_big.retry_after.is_none(), "{algorithm:?}");
    }
}

#[tokio::test]
async fn gcra_refills_one_per_interval() {
    let Some(server) = RedisServer::start() else { return };
    let store = RedisStore::connect(&server.url()).await.unwrap();
    let q = quota(4, Duration::from_millis(400), Algorithm::Gcra);
    for _ in 0..4 {
        assert!(store.take("api:refill", &q, 1).await.unwrap().allowed);
    }
    let refused = store.take("api:refill", &q, 1).await.unwrap();
    assert!(!refused.allowed);
    tokio::time::sleep(refused.retry_after.unwrap() + Duration::from_millis(5)).await;
    assert!(store.take("api:refill", &q, 1).await.unwrap().allowed);
    assert!(!store.take("api:refill", &q, 1).await.unwrap().allowed);
}

#[tokio::test]
async fn take_all_is_all_or_nothing_in_one_round_trip() {
    let Some(server) = RedisServer::start() else { return };
    let store = RedisStore::connect(&server.url()).await.unwrap();
    for algorithm in ALGORITHMS {
        let api = quota(3, Duration::from_secs(3_600), algorithm);
        let app = quota(1, Duration::from_secs(3_600), algorithm);
        let api_key = format!("api:all:{algorithm:?}");
        let app_key = format!("app:all:{algorithm:?}");
        let takes = [RateTake::new(api_key.as_str(), &api), RateTake::new(app_key.as_str(), &app)];
        assert!(store.take_all(&takes, 1).await.unwrap().iter().all(|d| d.allowed));
        for _ in 0..5 {
            let d = store.take_all(&takes, 1).await.unwrap();
            assert_eq!((d.len(), d[0].allowed, d[1].allowed), (2, true, false), "{algorithm:?}");
        }
        let alone = [RateTake::new(api_key.as_str(), &api)];
        let passed = {
            let mut n = 0;
            for _ in 0..5 {
                n += usize::from(store.take_all(&alone, 1).await.unwrap()[0].allowed);
            }
            n
        };
        assert_eq!(passed, 2, "{algorithm:?}: the greedy app's refusals took nothing from the API");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_under_concurrent_load_never_exceed_the_limit() {
    let Some(server) = RedisServer::start() else { return };
    for algorithm in ALGORITHMS {
        let q = quota(100, Duration::from_secs(3_600), algorithm);
        let key = format!("api:fleet:{algorithm:?}");
        let mut tasks = Vec::new();
        for _ in 0..2 {
            let store = RedisStore::connect(&server.url()).await.unwrap();
            for _ in 0..4 {
                let (store, key) = (store.clone(), key.clone());
                tasks.push(tokio::spawn(async move {
                    let mut passed = 0;
                    for _ in 0..60 {
                        passed += usize::from(store.take(&key, &q, 1).await.unwrap().allowed);
                    }
                    passed
                }));
            }
        }
        let mut total = 0;
        for t in tasks {
            total += t.await.unwrap();
        }
        assert_eq!(total, 100, "{algorithm:?}: 480 tries across two instances");
    }
}

#[tokio::test]
async fn a_stopped_redis_gives_the_configured_answer_within_the_timeout_and_recovery_is_automatic() {
    let Some(mut server) = RedisServer::start() else { return };
    let base = RedisStore::connect(&server.url()).await.unwrap().timeout(Duration::from_millis(50)).unwrap();
    let refuse = base.clone().on_failure(OnFailure::Refuse);
    let allow = base.clone().on_failure(OnFailure::Allow);
    let memory = base.clone().on_failure(OnFailure::FallBackToMemory);
    let q = quota(2, Duration::from_secs(3_600), Algorithm::Gcra);
    assert!(refuse.take("api:fault", &q, 1).await.unwrap().allowed);

    server.stop();
    let mut slowest = Duration::ZERO;
    for _ in 0..10 {
        let started = Instant::now();
        let refused = refuse.take("api:fault", &q, 1).await;
        slowest = slowest.max(started.elapsed());
        assert!(matches!(refused, Err(StoreError::Unavailable(_) | StoreError::Timeout(_))), "{refused:?}");
        let started = Instant::now();
        assert!(allow.take("api:fault", &q, 1).await.unwrap().allowed, "fail open");
        assert!(allow.insert_nonce("app", "n", Duration::from_secs(60)).await.unwrap());
        slowest = slowest.max(started.elapsed() / 2);
    }
    // the in-memory fallback enforces the limit on this instance meanwhile
    let local: Vec<bool> = {
        let mut v = Vec::new();
        for _ in 0..3 {
            v.push(memory.take("api:fault", &q, 1).await.unwrap().allowed);
        }
        v
    };
    assert_eq!(local, [true, true, false]);
    assert!(memory.insert_nonce("app", "n", Duration::from_secs(60)).await.unwrap());
    assert!(!memory.insert_nonce("app", "n", Duration::from_secs(60)).await.unwrap());
    assert!(slowest < Duration::from_millis(250), "a call took {slowest:?} with a 50 ms timeout");

    server.restart().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match refuse.take("api:after", &q, 1).await {
            Ok(d) => {
                assert!(d.allowed);
                break;
            }
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("the store did not recover within 10 s: {e}"),
        }
    }
    assert!(refuse.insert_nonce("app", "after", Duration::from_secs(60)).await.unwrap());
}
