//! The store against a real three-node Redis Cluster: the limits of one request, hash-tagged
//! into one slot, are taken by one script; nonces are shared by independent instances.

use std::num::NonZeroU32;
use std::time::Duration;

use tollgate_core::{Algorithm, RateQuota, RateStore, RateTake};
use tollgate_redis::RedisStore;
use tollgate_redis::testing::RedisCluster;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_takes_a_requests_limits_in_one_slot_and_shares_nonces() {
    let Some(cluster) = RedisCluster::start() else { return };
    let urls = cluster.urls();
    let nodes: Vec<&str> = urls.iter().map(String::as_str).collect();
    let a = RedisStore::connect_cluster(&nodes).await.unwrap().timeout(Duration::from_secs(2)).unwrap();
    let b = RedisStore::connect_cluster(&nodes[1..]).await.unwrap().timeout(Duration::from_secs(2)).unwrap();

    for algorithm in [Algorithm::Gcra, Algorithm::FixedWindow { offset: Duration::ZERO }, Algorithm::SlidingWindow] {
        let api =
            RateQuota::new(NonZeroU32::new(3).unwrap(), Duration::from_secs(3_600)).unwrap().with_algorithm(algorithm);
        let app =
            RateQuota::new(NonZeroU32::new(1).unwrap(), Duration::from_secs(3_600)).unwrap().with_algorithm(algorithm);
        // keys of three tiers that would land on different slots without the hash tag
        let (api_key, app_key, ip_key) = (
            format!("api:orders-{algorithm:?}"),
            format!("app:orders-{algorithm:?}:203753741"),
            format!("ip:orders-{algorithm:?}:10.0.0.7"),
        );
        let takes = [
            RateTake::new(api_key.as_str(), &api),
            RateTake::new(ip_key.as_str(), &api),
            RateTake::new(app_key.as_str(), &app),
        ];
        let first = a.take_all(&takes, 1).await.unwrap();
        assert!(first.iter().all(|d| d.allowed), "{algorithm:?}: {first:?}");
        // the other instance sees the same state: the app is spent, and nothing else is taken
        let second = b.take_all(&takes, 1).await.unwrap();
        assert_eq!(second.iter().map(|d| d.allowed).collect::<Vec<_>>(), [true, true, false], "{algorithm:?}");
        let api_only = [RateTake::new(api_key.as_str(), &api)];
        let left: Vec<bool> = {
            let mut v = Vec::new();
            for store in [&a, &b, &a] {
                v.push(store.take_all(&api_only, 1).await.unwrap()[0].allowed);
            }
            v
        };
        assert_eq!(left, [true, true, false], "{algorithm:?}: 3 in all, the refused take gave back its API share");
    }

    assert!(a.insert_nonce("app", "cluster-nonce", Duration::from_secs(60)).await.unwrap());
    assert!(!b.insert_nonce("app", "cluster-nonce", Duration::from_secs(60)).await.unwrap());
}
