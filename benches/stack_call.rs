//! The whole stack in process: one request through the bare route, through every policy
//! stacked by hand in one `ServiceBuilder` (the stack of `benches/stack.rs`), and through
//! the same policies declared in a YAML file and read into a `Gateway` (`gateway`; the
//! same layers as the hand stack put in a `Gateway` in code: `gateway_code`), called with
//! `oneshot`, no network (`STACK_ONLY=<case>` runs one case). Where the load test
//! says how much throughput the stack costs, this says how many nanoseconds per request, and
//! is steady enough to compare changes by.
//!
//! `cargo bench --bench stack_call`
//!
//! `STACK_LOOP=<n>` runs no criterion group: it sends `n` requests through one route
//! (`STACK_ONLY=<case>`, or `STACK_PREFIX=<k>` for the first `k` layers of the hand stack,
//! `0` for the bare route; `STACK_ONLY=no_layer` for the bare route behind an empty
//! `ServiceBuilder`) and exits, for `perf stat` and `perf record`; `STACK_ONLY=sign`
//! only signs the requests, the floor every other case carries. Counting instructions at two
//! values of `n` and taking the difference leaves the per-request cost without start-up.
//! `STACK_SIZES=1 STACK_LOOP=1` prints the size of each prefix's response future instead.

#![allow(missing_docs)]

use std::net::SocketAddr;
use std::time::SystemTime;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use bytes::Bytes;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use http::Request;
use tollgate::signature::aliyun_apigw::AliyunApiGateway;
use tollgate::signature::{Secret, Signer};
use tower::ServiceExt;

#[path = "support/stack.rs"]
mod support;
use support::{APP_KEY, SECRET, full_stack, gateway_stack};

/// A signed request with a fresh nonce, as the client sends it, arriving from 127.0.0.1.
fn signed(signer: &AliyunApiGateway, secret: &Secret) -> Request<Body> {
    let (mut parts, ()) = Request::get("http://127.0.0.1/?page=2").body(()).unwrap().into_parts();
    signer.sign(&mut parts, &mut Bytes::new(), APP_KEY, secret, SystemTime::now()).unwrap();
    parts.extensions.insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40000))));
    Request::from_parts(parts, Body::empty())
}

/// `STACK_LOOP`: `n` requests through one route, no criterion (see the module docs).
fn run_loop(n: u64) {
    if std::env::var_os("STACK_SIZES").is_some() {
        support::future_sizes();
        return;
    }
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let signer = AliyunApiGateway::new();
    let secret = Secret::from(SECRET);
    let only = std::env::var("STACK_ONLY").ok();
    let app = match (std::env::var("STACK_PREFIX").ok(), only.as_deref()) {
        (Some(k), _) => match k.parse::<usize>().expect("STACK_PREFIX is a number") {
            0 => Some(support::bare()),
            k => Some(support::prefixes().unwrap().swap_remove(k - 1).1),
        },
        (None, Some("sign")) => None,
        (None, Some("bare") | None) => Some(support::bare()),
        (None, Some("no_layer")) => Some(support::no_layer()),
        (None, Some("full")) => Some(full_stack().unwrap()),
        (None, Some("gateway_code")) => Some(support::gateway_in_code().unwrap()),
        (None, Some("gateway")) => Some(gateway_stack().unwrap()),
        (None, Some(other)) => panic!("no case {other}"),
    };
    let app: Option<Router> = app.map(|app| app.with_state(()));
    for _ in 0..n {
        let req = signed(&signer, &secret);
        match &app {
            Some(app) => {
                let response = rt.block_on(app.clone().oneshot(req)).unwrap();
                assert_eq!(response.status(), 200);
            }
            None => drop(std::hint::black_box(req)),
        }
    }
}

fn stack(c: &mut Criterion) {
    if let Ok(n) = std::env::var("STACK_LOOP") {
        run_loop(n.parse().expect("STACK_LOOP is a number"));
        return;
    }
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let signer = AliyunApiGateway::new();
    let secret = Secret::from(SECRET);
    let mut group = c.benchmark_group("stack");
    let cases = [
        ("bare", support::bare()),
        ("full", full_stack().unwrap()),
        // the same layers in a `Gateway` built in code: the cost of its type erasure alone
        ("gateway_code", support::gateway_in_code().unwrap()),
        ("gateway", gateway_stack().unwrap()),
    ];
    let only = std::env::var("STACK_ONLY").ok();
    for (name, app) in cases {
        if only.as_deref().is_some_and(|only| only != name) {
            continue;
        }
        // as `axum::serve` does: routes and their layers are put together once, not per call
        let app: Router = app.with_state(());
        group.bench_function(name, |b| {
            b.iter_batched(
                || signed(&signer, &secret),
                |req| {
                    let response = rt.block_on(app.clone().oneshot(req)).unwrap();
                    assert_eq!(response.status(), 200);
                    // a server drops the response once written: inside the timing
                    drop(response);
                },
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();

    // each policy's cost in place: the stack built up one layer at a time
    if std::env::var_os("STACK_MARGINAL").is_some() {
        let mut group = c.benchmark_group("stack_prefix");
        // what `Router::layer` costs with nothing in it: the floor under the first prefix
        let prefixes = std::iter::once(("no layer", support::no_layer())).chain(support::prefixes().unwrap());
        for (i, (name, app)) in prefixes.enumerate() {
            let app = app.with_state(());
            group.bench_function(format!("{i:02} {name}"), |b| {
                b.iter_batched(
                    || signed(&signer, &secret),
                    |req| drop(rt.block_on(app.clone().oneshot(req)).unwrap()),
                    BatchSize::SmallInput,
                )
            });
        }
        group.finish();
    }
}

criterion_group!(benches, stack);
criterion_main!(benches);
