//! The Redis stores on loopback next to the in-memory ones: one rate take, three limits of
//! one request taken at once (one round trip), and a nonce check. Uses `REDIS_URL` when set,
//! else starts a throwaway redis-server.

#![allow(missing_docs)]

use std::hint::black_box;
use std::num::NonZeroU32;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tollgate::redis::RedisStore;
use tollgate::redis::testing::RedisServer;
use tollgate::{MemoryNonceStore, MemoryRateStore, RateQuota, RateTake};

fn redis(c: &mut Criterion) {
    let server = if std::env::var("REDIS_URL").is_ok() { None } else { RedisServer::start() };
    let url = match (&server, std::env::var("REDIS_URL")) {
        (_, Ok(url)) => url,
        (Some(s), _) => s.url(),
        (None, _) => return eprintln!("skipped: no redis-server"),
    };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let store =
        rt.block_on(RedisStore::connect(&url)).unwrap().prefix("bench:").timeout(Duration::from_secs(1)).unwrap();
    let memory = MemoryRateStore::new();
    let nonces = MemoryNonceStore::new();
    let quota = RateQuota::new(NonZeroU32::new(u32::MAX).unwrap(), Duration::from_secs(60)).unwrap();
    let keys = ["api:bench", "app:bench:203753741", "ip:bench:10.0.0.7"];
    let takes: Vec<RateTake<'_>> = keys.iter().map(|key| RateTake::new(*key, &quota)).collect();

    let mut group = c.benchmark_group("redis_vs_memory");
    group.throughput(Throughput::Elements(1));
    group.bench_function("take/redis", |b| {
        b.iter(|| rt.block_on(store.take_many(&[(keys[0].into(), quota)], 1)).unwrap())
    });
    group.bench_function("take/memory", |b| b.iter(|| black_box(memory.take_now(keys[0], &quota, 1))));
    let owned: Vec<(String, RateQuota)> = keys.iter().map(|k| (k.to_string(), quota)).collect();
    group.bench_function("take_3_limits/redis", |b| b.iter(|| rt.block_on(store.take_many(&owned, 1)).unwrap()));
    group.bench_function("take_3_limits/memory", |b| b.iter(|| black_box(memory.take_all_now(&takes, 1))));
    let mut n = 0u64;
    group.bench_function("nonce/redis", |b| {
        b.iter(|| {
            n += 1;
            rt.block_on(store.insert_nonce("app", &format!("nonce-{n}"), Duration::from_secs(60))).unwrap()
        })
    });
    group.bench_function("nonce/memory", |b| {
        b.iter(|| {
            n += 1;
            nonces.insert_if_absent_now("app", &format!("nonce-{n}"), Duration::from_secs(60))
        })
    });
    group.finish();
    drop(server);
}

criterion_group!(benches, redis);
criterion_main!(benches);
