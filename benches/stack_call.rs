//! The whole stack in process: one request through the bare route, through every policy
//! stacked by hand in one `ServiceBuilder` (the stack of `benches/stack.rs`), and through
//! the same policies declared in a YAML file and read into a `Gateway` (`gateway`; the
//! same layers as the hand stack put in a `Gateway` in code: `gateway_code`), called with
//! `oneshot`, no network (`STACK_ONLY=<case>` runs one case). Where the load test
//! says how much throughput the stack costs, this says how many nanoseconds per request, and
//! is steady enough to compare changes by.
//!
//! `cargo bench --bench stack_call`

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

fn stack(c: &mut Criterion) {
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
        for (i, (name, app)) in support::prefixes().unwrap().into_iter().enumerate() {
            let app = app.with_state(());
            group.bench_function(format!("{:02} {name}", i + 1), |b| {
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
