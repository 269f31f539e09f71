//! CORS: our `CorsLayer` next to tower-http's `CorsLayer` with the same rule (two exact
//! origins, GET/PUT/POST, two allowed headers, one exposed, credentials, max-age 600), per
//! request through a trivial handler: a preflight, a simple request from an allowed origin,
//! and one from a disallowed origin. Each request is built outside the timed part;
//! `poll_ready`, `call`, the future and dropping the response are inside.

#![allow(missing_docs)]

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use http::{HeaderValue, Method, Request, Response, header};
use tollgate::cors::CorsLayer;
use tower::{Layer, Service, service_fn};

const ORIGINS: [&str; 2] = ["https://app.example.com", "http://localhost:8080"];

/// Drives a future that is ready at once (the handler never waits).
fn now<F: Future>(future: F) -> F::Output {
    match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(out) => out,
        Poll::Pending => unreachable!("the bench handler is always ready"),
    }
}

async fn handler(_req: Request<String>) -> Result<Response<String>, std::convert::Infallible> {
    Ok(Response::new(String::new()))
}

fn preflight() -> Request<String> {
    Request::options("/items/1")
        .header(header::ORIGIN, "https://app.example.com")
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "PUT")
        .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "x-api-id")
        .body(String::new())
        .unwrap()
}

fn simple(origin: &'static str) -> Request<String> {
    Request::get("/items/1").header(header::ORIGIN, origin).body(String::new()).unwrap()
}

fn allowed() -> Request<String> {
    simple("https://app.example.com")
}

fn disallowed() -> Request<String> {
    simple("https://evil.example.com")
}

/// Builds one request of a case.
type MakeRequest = fn() -> Request<String>;

fn run<S, B>(c: &mut Criterion, case: &str, name: &str, mut svc: S, make: MakeRequest)
where
    S: Service<Request<String>, Response = Response<B>>,
    S::Error: std::fmt::Debug,
{
    c.bench_function(&format!("cors/{case}/{name}"), |b| {
        b.iter_batched(
            make,
            |req| {
                now(std::future::poll_fn(|cx| svc.poll_ready(cx))).unwrap();
                black_box(now(svc.call(req)).unwrap())
            },
            BatchSize::SmallInput,
        )
    });
}

fn cors(c: &mut Criterion) {
    let ours = CorsLayer::new()
        .allow_origin(ORIGINS)
        .unwrap()
        .allow_methods(["GET", "PUT", "POST"])
        .unwrap()
        .allow_headers(["x-api-id", "content-type"])
        .unwrap()
        .expose_headers(["x-api-id"])
        .unwrap()
        .allow_credentials(true)
        .max_age(Duration::from_secs(600))
        .unwrap();
    let theirs = tower_http::cors::CorsLayer::new()
        .allow_origin(ORIGINS.map(HeaderValue::from_static))
        .allow_methods([Method::GET, Method::PUT, Method::POST])
        .allow_headers([header::HeaderName::from_static("x-api-id"), header::CONTENT_TYPE])
        .expose_headers([header::HeaderName::from_static("x-api-id")])
        .allow_credentials(true)
        .max_age(Duration::from_secs(600));

    let cases: [(&str, MakeRequest); 3] =
        [("preflight", preflight), ("simple_allowed", allowed), ("disallowed_origin", disallowed)];
    for (case, make) in cases {
        run(c, case, "tollgate", ours.layer(service_fn(handler)), make);
        run(c, case, "tower-http", theirs.layer(service_fn(handler)), make);
    }
}

criterion_group!(benches, cors);
criterion_main!(benches);
