//! Flow control: a per-IP limit (`FlowControlLayer::per_client_ip`, and Tencent's two-limit
//! plug-in) next to tower_governor's `GovernorLayer` (its peer: governor's GCRA keyed by peer
//! IP) for the same rule, at one client and at a million, rate headers off and on, as whole
//! services polled once; and resident memory after 1,000,000 distinct client IPs, after
//! they go idle, and after a second million (the in-memory store against governor's
//! keyed limiter, which grows until `retain_recent` is called).
//!
//! `tower_governor_two_headers` is tower_governor with two constant rate headers written by
//! tower-http's `SetResponseHeader`: tower_governor writes none on a request it lets through,
//! so this is what `tollgate_headers` is compared with.
//!
//! `FLOW_LOOP=<n> FLOW_ONLY=<case>` runs no criterion group: it sends `n` requests from one
//! client through that case (`tollgate`, `tollgate_headers`, `tollgate_tencent`,
//! `tower_governor`, `tower_governor_two_headers`, or `tollgate_small`: headers on, 1,000
//! requests per 100 µs, whose header values come from the table of small numbers) and exits,
//! for `perf record` and callgrind (two values of `n`, the difference, leave the per-request
//! cost). `FLOW_HELLO=1` makes the handler answer as axum answers `"hello"` (a body and a
//! `content-type`, so the response's header map is already allocated).

#![allow(missing_docs)]

use std::convert::Infallible;
use std::future::Future;
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::num::NonZeroU32;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use axum::extract::ConnectInfo;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use http::{HeaderValue, Request, Response};
use tollgate::flow::{BasicFlowControlConfig, BasicLimits, FlowControlLayer, KeyedLimit};
use tollgate::flow::{X_RATELIMIT_LIMIT, X_RATELIMIT_REMAINING};
use tollgate::{ClientIp, ManualClock, MemoryRateStore, RateQuota};
use tower::{Layer, Service};
use tower_http::set_header::SetResponseHeader;

const IPS: u32 = 1_000;

#[path = "support/rss.rs"]
mod support;
use support::rss;

fn ip(i: u32) -> Ipv4Addr {
    Ipv4Addr::from(0x0a00_0000 + i)
}

/// Polls a future that must be ready at once (both stacks answer from memory).
fn now<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("not ready"),
    }
}

/// One child process per case, so freed memory of one cannot hide the next one's growth.
fn measure(kind: &str) {
    const N: u32 = 1_000_000;
    let base = rss();
    let mb = |b: isize| b as f64 / 1_048_576.0;
    match kind {
        "ours" => {
            let clock = ManualClock::at_unix(Duration::from_secs(1_800_000_000));
            let store = MemoryRateStore::new().with_clock(clock.clone());
            let quota = RateQuota::new(NonZeroU32::new(10).unwrap(), Duration::from_secs(1)).unwrap();
            for i in 0..N {
                let _ = store.take_now(&format!("ip:api:{}", ip(i)), &quota, 1);
            }
            let full = rss() - base;
            clock.advance(Duration::from_secs(3));
            let idle_len = store.len();
            let idle = rss() - base;
            for i in N..2 * N {
                let _ = store.take_now(&format!("ip:api:{}", ip(i)), &quota, 1);
            }
            let again = rss() - base;
            println!(
                "{:.1} MB after 1M keys ({:.0} B/key); {idle_len} keys and {:.1} MB once idle; {:.1} MB after a second million",
                mb(full),
                full as f64 / f64::from(N),
                mb(idle),
                mb(again)
            );
        }
        _ => {
            let limiter = governor::RateLimiter::keyed(governor::Quota::per_second(NonZeroU32::new(10).unwrap()));
            for i in 0..N {
                let _ = limiter.check_key(&IpAddr::V4(ip(i)));
            }
            let full = rss() - base;
            std::thread::sleep(Duration::from_secs(2));
            let idle = rss() - base;
            for i in N..2 * N {
                let _ = limiter.check_key(&IpAddr::V4(ip(i)));
            }
            let again = rss() - base;
            println!(
                "{:.1} MB after 1M keys ({:.0} B/key); {} keys and {:.1} MB once idle (no retain_recent); {:.1} MB after a second million",
                mb(full),
                full as f64 / f64::from(N),
                N,
                mb(idle),
                mb(again)
            );
        }
    }
}

fn memory_report() {
    let exe = std::env::current_exe().unwrap();
    for (kind, what) in [("ours", "MemoryRateStore"), ("governor", "governor keyed (DashMap)")] {
        let out = std::process::Command::new(&exe).env("TOLLGATE_FLOW_MEASURE", kind).output().unwrap();
        println!("memory: {what}: {}", String::from_utf8_lossy(&out.stdout).trim());
    }
}

/// Requests from `keys` distinct client IPs in turn, as both stacks read them (the address
/// is put where each expects it, outside the timed part).
struct Clients {
    keys: u32,
    next: u32,
}

impl Clients {
    fn new(keys: u32) -> Self {
        Self { keys, next: 0 }
    }

    fn next_ip(&mut self) -> IpAddr {
        self.next = (self.next + 1) % self.keys;
        IpAddr::V4(ip(self.next))
    }

    fn ours(&mut self) -> Request<()> {
        let mut r = Request::new(());
        r.extensions_mut().insert(ClientIp::direct(self.next_ip()));
        r
    }

    fn theirs(&mut self) -> Request<()> {
        let mut r = Request::new(());
        r.extensions_mut().insert(ConnectInfo(SocketAddr::new(self.next_ip(), 40_000)));
        r
    }
}

/// Times one request through `svc` (the response dropped inside the timing, as a server
/// drops it once written; keeping them would time the page faults of a growing batch).
fn bench_service<S, B>(b: &mut criterion::Bencher<'_>, svc: &mut S, mut make: impl FnMut() -> Request<()>)
where
    S: Service<Request<()>, Response = Response<B>>,
    S::Error: std::fmt::Debug,
{
    b.iter_batched(
        &mut make,
        |r| {
            let resp = now(svc.call(r)).unwrap();
            assert_eq!(resp.status(), 200);
            black_box(resp.headers().len());
        },
        criterion::BatchSize::SmallInput,
    )
}

/// Two rate headers written in tower's own idiom: tower-http's `SetResponseHeader`, twice,
/// with constant values (the peer of our rate headers, which tower_governor does not write
/// on a request it lets through).
fn with_two_headers<S>(svc: S) -> SetResponseHeader<SetResponseHeader<S, HeaderValue>, HeaderValue> {
    let value = HeaderValue::from_static("1000");
    let inner = SetResponseHeader::overriding(svc, X_RATELIMIT_REMAINING, value.clone());
    SetResponseHeader::overriding(inner, X_RATELIMIT_LIMIT, value)
}

/// `FLOW_LOOP`: `n` requests from one client through one case (see the module docs).
fn run_loop(n: u64, only: &str) {
    let hello = std::env::var_os("FLOW_HELLO").is_some();
    let inner = tower::service_fn(move |_req: Request<()>| async move {
        Ok::<_, Infallible>(if hello {
            axum::response::IntoResponse::into_response("hello")
        } else {
            Response::new(axum::body::Body::empty())
        })
    });
    let per_ip = || KeyedLimit::per_client_ip(u32::MAX, Duration::from_secs(1)).unwrap();
    let mut clients = Clients::new(1);
    let mut each = |svc: &mut dyn FnMut(&mut Clients) -> u16| {
        for _ in 0..n {
            assert_eq!(black_box(svc(&mut clients)), 200);
        }
    };
    match only {
        "tollgate_small" => {
            let small = KeyedLimit::per_client_ip(1000, Duration::from_micros(100)).unwrap();
            let mut svc = FlowControlLayer::with_store(small, MemoryRateStore::with_capacity(2)).layer(inner);
            each(&mut |c| now(svc.call(c.ours())).unwrap().status().as_u16())
        }
        "tollgate" | "tollgate_headers" => {
            let mut svc = FlowControlLayer::with_store(per_ip(), MemoryRateStore::with_capacity(2))
                .rate_headers(only == "tollgate_headers")
                .layer(inner);
            each(&mut |c| now(svc.call(c.ours())).unwrap().status().as_u16())
        }
        "tollgate_tencent" => {
            let tencent: BasicFlowControlConfig = serde_json::from_str(
                r#"{"expire_type": "second", "api_rate_limit": 4000000000, "ip_rate_limit": 4000000000}"#,
            )
            .unwrap();
            let limits = BasicLimits::from_config(&tencent).unwrap();
            let mut svc = FlowControlLayer::with_store(limits, MemoryRateStore::with_capacity(2)).layer(inner);
            each(&mut |c| now(svc.call(c.ours())).unwrap().status().as_u16())
        }
        "tower_governor" => {
            let mut config = tower_governor::governor::GovernorConfigBuilder::default();
            config.per_nanosecond(1).burst_size(u32::MAX);
            let mut svc = tower_governor::GovernorLayer::new(config.finish().unwrap()).layer(inner);
            each(&mut |c| now(svc.call(c.theirs())).unwrap().status().as_u16())
        }
        "tower_governor_two_headers" => {
            let mut config = tower_governor::governor::GovernorConfigBuilder::default();
            config.per_nanosecond(1).burst_size(u32::MAX);
            let mut svc = with_two_headers(tower_governor::GovernorLayer::new(config.finish().unwrap()).layer(inner));
            each(&mut |c| now(svc.call(c.theirs())).unwrap().status().as_u16())
        }
        other => panic!("no case {other:?}"),
    }
}

fn flow(c: &mut Criterion) {
    if let Ok(kind) = std::env::var("TOLLGATE_FLOW_MEASURE") {
        measure(&kind);
        std::process::exit(0);
    }
    if let Ok(n) = std::env::var("FLOW_LOOP") {
        run_loop(n.parse().expect("FLOW_LOOP is a number"), &std::env::var("FLOW_ONLY").unwrap_or_default());
        std::process::exit(0);
    }
    memory_report();

    // one inner service for all: tower_governor renders its refusals as axum bodies
    let inner =
        tower::service_fn(|_req: Request<()>| async { Ok::<_, Infallible>(Response::new(axum::body::Body::empty())) });
    let second = Duration::from_secs(1);
    // the same rule every way: a GCRA per client IP that never refuses here
    let tencent: BasicFlowControlConfig =
        serde_json::from_str(r#"{"expire_type": "second", "api_rate_limit": 4000000000, "ip_rate_limit": 4000000000}"#)
            .unwrap();
    let governor = |headers: bool| {
        let mut config = tower_governor::governor::GovernorConfigBuilder::default();
        config.per_nanosecond(1).burst_size(u32::MAX);
        if headers {
            config.use_headers();
        }
        tower_governor::GovernorLayer::new(config.finish().unwrap())
    };
    for keys in [1, 1_000_000] {
        let mut group = c.benchmark_group(format!("flow/per_ip_{keys}_keys"));
        group.throughput(Throughput::Elements(1));
        // room for every key: a million distinct clients live at once need a store that big
        let store = || MemoryRateStore::with_capacity(2 * u64::from(keys));
        let per_ip = || KeyedLimit::per_client_ip(u32::MAX, second).unwrap();

        let mut svc = FlowControlLayer::with_store(per_ip(), store()).rate_headers(false).layer(inner);
        let mut clients = Clients::new(keys);
        group.bench_function("tollgate", |b| bench_service(b, &mut svc, || clients.ours()));

        let mut svc = governor(false).layer(inner);
        let mut clients = Clients::new(keys);
        group.bench_function("tower_governor", |b| bench_service(b, &mut svc, || clients.theirs()));

        let mut svc = FlowControlLayer::with_store(per_ip(), store()).layer(inner);
        let mut clients = Clients::new(keys);
        group.bench_function("tollgate_headers", |b| bench_service(b, &mut svc, || clients.ours()));

        let mut svc = governor(true).layer(inner);
        let mut clients = Clients::new(keys);
        group.bench_function("tower_governor_headers", |b| bench_service(b, &mut svc, || clients.theirs()));

        // tower_governor writes no header on a request it lets through; writing two, in
        // tower's own idiom (tower-http's SetResponseHeader, constant values), is the peer of
        // `tollgate_headers`
        let mut svc = with_two_headers(governor(false).layer(inner));
        let mut clients = Clients::new(keys);
        group.bench_function("tower_governor_two_headers", |b| bench_service(b, &mut svc, || clients.theirs()));

        // Tencent's plug-in as pasted: an API limit and a per-IP limit, rate headers on
        let limits = BasicLimits::from_config(&tencent).unwrap();
        let mut svc = FlowControlLayer::with_store(limits, store()).layer(inner);
        let mut clients = Clients::new(keys);
        group.bench_function("tollgate_tencent", |b| bench_service(b, &mut svc, || clients.ours()));
        group.finish();
    }

    let mut group = c.benchmark_group("flow/store_take_1000_keys");
    let store = MemoryRateStore::new();
    for (name, algorithm) in [
        ("gcra", tollgate::Algorithm::Gcra),
        ("fixed_window", tollgate::Algorithm::FixedWindow { offset: Duration::ZERO }),
        ("sliding_window", tollgate::Algorithm::SlidingWindow),
    ] {
        let quota = RateQuota::new(NonZeroU32::new(u32::MAX).unwrap(), Duration::from_secs(60))
            .unwrap()
            .with_algorithm(algorithm);
        let keys: Vec<String> = (0..IPS).map(|i| format!("ip:api:{}", ip(i))).collect();
        let mut k = 0usize;
        group.bench_function(name, |b| {
            b.iter(|| {
                k = (k + 1) % keys.len();
                black_box(store.take_now(&keys[k], &quota, 1))
            })
        });
    }
    group.finish();
}

criterion_group!(benches, flow);
criterion_main!(benches);
