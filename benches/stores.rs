//! The in-memory stores: cost of a nonce check and a rate take, and memory per entry.
//!
//! Memory is measured as the growth of resident memory (VmRSS) while N entries are inserted,
//! divided by N (table overhead and allocator slack included), printed before the
//! timings. (A counting allocator would be more exact but needs `unsafe`, which the
//! workspace forbids.)

#![allow(missing_docs)]

use std::hint::black_box;
use std::num::NonZeroU32;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::net::{IpAddr, Ipv4Addr};

use tollgate::{
    Algorithm, MemoryNonceStore, MemoryRateStore, RateDecision, RateKey, RateQuota, RateStore, RateTake, StoreError,
};

#[path = "support/rss.rs"]
mod support;
use support::rss;

const TTL: Duration = Duration::from_secs(900);

/// The tenant of every nonce here: a scheme and an app key.
const TENANT: &str = "aliyun-apigw\u{1f}203753741";

fn nonce_key(i: u64) -> String {
    // the shape of a real nonce: a UUID
    format!("{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}", i, i & 0xffff, i & 0xfff, (i >> 3) & 0xfff, i * 7919)
}

/// Fills one store in this process and prints its resident-memory growth per entry. Run in
/// a child process per case (see `memory_report`), so memory freed by one case cannot hide
/// the next one's growth.
fn measure(kind: &str, n: u64) {
    let before = rss();
    let len = match kind {
        "nonce" => {
            let store = MemoryNonceStore::with_capacity(n * 2).max_share(1.0);
            for i in 0..n {
                store.insert_if_absent_now(TENANT, &nonce_key(i), TTL).unwrap();
            }
            let len = store.len();
            std::mem::forget(store);
            len
        }
        _ => {
            let store = MemoryRateStore::with_capacity(n);
            let quota = RateQuota::new(NonZeroU32::new(10).unwrap(), Duration::from_secs(60)).unwrap();
            for i in 0..n {
                let ip = std::net::Ipv4Addr::from(0x0a00_0000 + i as u32);
                let _ = store.take_now(&format!("ip:{ip}"), &quota, 1);
            }
            let len = store.len();
            std::mem::forget(store);
            len
        }
    };
    let bytes = rss() - before;
    println!("{bytes} {len}");
}

fn memory_report() {
    let exe = std::env::current_exe().unwrap();
    for (kind, what) in
        [("nonce", "MemoryNonceStore nonces (46-byte keys)"), ("rate", "MemoryRateStore keys (\"ip:10.x.x.x\")")]
    {
        for n in [100_000u64, 1_000_000] {
            let out = std::process::Command::new(&exe).env("TOLLGATE_MEASURE", format!("{kind}:{n}")).output().unwrap();
            let text = String::from_utf8_lossy(&out.stdout);
            let mut it = text.split_whitespace().map(|x| x.parse::<f64>().unwrap_or(0.0));
            let (bytes, len) = (it.next().unwrap_or(0.0), it.next().unwrap_or(1.0));
            println!("memory: {what}: {len} entries, {bytes} bytes resident, {:.0} bytes per entry", bytes / len);
        }
    }
}

fn stores(c: &mut Criterion) {
    if let Ok(spec) = std::env::var("TOLLGATE_MEASURE") {
        let (kind, n) = spec.split_once(':').unwrap();
        measure(kind, n.parse().unwrap());
        std::process::exit(0);
    }
    memory_report();

    let mut group = c.benchmark_group("nonce");
    group.throughput(Throughput::Elements(1));
    for remembered in [1_000u64, 1_000_000] {
        // steady (the new nonces leave within a second or two of coming, their slots reused
        // in place, as old ones leave in a service whose nonces expire as they arrive),
        // below its bound (room for every nonce the run adds, so it grows) and at it (full of
        // live nonces: each new one is refused, none forgotten)
        for (regime, capacity, ttl) in [
            ("steady", 64_000_000, Duration::from_millis(1)),
            ("below_bound", 64_000_000, TTL),
            ("at_bound", remembered, TTL),
        ] {
            let store = MemoryNonceStore::with_capacity(capacity).max_share(1.0);
            // at the bound, every shard is filled: a shard that fills before the others
            // refuses the rest, so it takes more nonces than the bound
            let prefill = if regime == "at_bound" { remembered * 4 } else { remembered };
            for i in 0..prefill {
                let _ = store.insert_if_absent_now(TENANT, &nonce_key(i), TTL);
            }
            if regime == "below_bound" {
                let keys: Vec<String> = (0..remembered).map(nonce_key).collect();
                let mut i = 0usize;
                group.bench_with_input(BenchmarkId::new("replay_refused", remembered), &remembered, |b, _| {
                    b.iter(|| {
                        i = (i + 1) % keys.len();
                        assert_eq!(store.insert_if_absent_now(TENANT, black_box(&keys[i]), TTL), Ok(false));
                    })
                });
            }
            let mut fresh = u64::MAX / 2;
            let (verdict, expected) =
                if regime == "at_bound" { ("refused", Err(StoreError::Full)) } else { ("accepted", Ok(true)) };
            let id = BenchmarkId::new(format!("new_nonce_{verdict}_{regime}"), remembered);
            group.bench_with_input(id, &remembered, |b, _| {
                // the key is the request's: made and dropped outside the timing
                b.iter_batched_ref(
                    || {
                        fresh += 1;
                        nonce_key(fresh)
                    },
                    |k| assert_eq!(store.insert_if_absent_now(TENANT, black_box(k), ttl), expected),
                    criterion::BatchSize::SmallInput,
                )
            });
            println!("{regime}: {} nonces remembered after the run (bound {capacity})", store.len());
        }
    }
    group.finish();

    rate(c);
}

/// Rate takes as the flow policy makes them (a per-IP key in parts, through
/// `take_all_at_once`), beside governor's keyed `check_key` (the limiter tower_governor runs),
/// for the same quota (a burst of `u32::MAX`, one more every nanosecond: never refused here),
/// at one key hot and at 1,000,000 keys in turn.
fn rate(c: &mut Criterion) {
    let mut group = c.benchmark_group("rate");
    group.throughput(Throughput::Elements(1));
    let quota = RateQuota::new(NonZeroU32::new(u32::MAX).unwrap(), Duration::from_secs(1)).unwrap();
    let per_ns = governor::Quota::with_period(Duration::from_nanos(1)).unwrap().allow_burst(NonZeroU32::MAX);
    for keys in [1u32, 1_000_000] {
        let ips: Vec<IpAddr> = (0..keys).map(|i| IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i))).collect();
        let mut at = 0usize;
        let mut next = || {
            at = (at + 1) % ips.len();
            ips[at]
        };

        let limiter = governor::RateLimiter::keyed(per_ns);
        group.bench_function(BenchmarkId::new("governor_check_key", keys), |b| {
            b.iter(|| black_box(limiter.check_key(&next())).is_ok())
        });
        drop(limiter);

        for (name, algorithm) in [
            ("gcra", Algorithm::Gcra),
            ("fixed_window", Algorithm::FixedWindow { offset: Duration::ZERO }),
            ("sliding_window", Algorithm::SlidingWindow),
        ] {
            let quota = quota.with_algorithm(algorithm);
            // room for every key: a million distinct clients live at once need a store that big
            let store = MemoryRateStore::with_capacity(2 * u64::from(keys));
            let mut decisions = [RateDecision::default(); 1];
            group.bench_function(BenchmarkId::new(name, keys), |b| {
                b.iter(|| {
                    let take = [RateTake { key: RateKey::new("ip:api").with_ip(next()), quota }];
                    assert_eq!(store.take_all_at_once(&take, 1, &mut decisions), Some(Ok(1)));
                })
            });
        }

        // a request's two limits, all or nothing: the API's (one key) and the client's
        let store = MemoryRateStore::with_capacity(2 * u64::from(keys) + 64);
        let mut decisions = [RateDecision::default(); 2];
        group.bench_function(BenchmarkId::new("gcra_api_and_ip", keys), |b| {
            b.iter(|| {
                let takes = [
                    RateTake { key: RateKey::new("api:api"), quota },
                    RateTake { key: RateKey::new("ip:api").with_ip(next()), quota },
                ];
                assert_eq!(store.take_all_at_once(&takes, 1, &mut decisions), Some(Ok(2)));
            })
        });
    }
    group.finish();
}

criterion_group!(benches, stores);
criterion_main!(benches);
