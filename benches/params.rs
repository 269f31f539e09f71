//! Parameters: 10 header and query parameters validated (the policy alone and the whole
//! layer), a 1 KiB JSON body checked against a JSON Schema and two typed pointers (next to
//! its floor: parsing and schema validation alone), and 5 parameters injected (a constant,
//! three system parameters and a mapping).

#![allow(missing_docs)]

use std::convert::Infallible;
use std::future::Future;
use std::hint::black_box;
use std::net::IpAddr;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use http::{HeaderValue, Request, Response};
use http_body_util::Full;
use serde_json::{Value, json};
use tollgate::params::{
    Injection, Param, ParamInjectionConfig, ParamMapping, ParamRequest, ParamRules, ParamType, ParamValidationConfig,
    Position, SystemParam,
};
use tollgate::prelude::*;
use tower::{Layer, Service, service_fn};

/// Polls a future that must be ready at once (nothing here waits).
fn now<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("not ready"),
    }
}

/// Five headers and five query parameters of every type and rule.
fn ten_params() -> ParamValidationConfig {
    ParamValidationConfig::new()
        .param(Param::header("x-app").required().regex("[a-z0-9-]{3,32}"))
        .param(Param::header("x-version").one_of(["v1", "v2"]))
        .param(Param::header("x-trace").min_length(16).max_length(32))
        .param(Param::header("x-retries").int().min(0).max(5))
        .param(Param::header("x-debug").boolean())
        .param(Param::query("page").int().min(1).default(1))
        .param(Param::query("size").int().min(1).max(100))
        .param(Param::query("sort").one_of(["asc", "desc"]))
        .param(Param::query("q").max_length(64))
        .param(Param::query("ids").array_of(ParamType::Long))
}

fn ten_request() -> Request<Full<Bytes>> {
    Request::get("/orders?page=2&size=20&sort=asc&q=red+shoes&ids=1&ids=2")
        .header("x-app", "shop-web")
        .header("x-version", "v2")
        .header("x-trace", "4bf92f3577b34da6a3ce929d0e0e4736")
        .header("x-retries", "1")
        .header("x-debug", "false")
        .header("user-agent", "bench/1.0")
        .body(Full::new(Bytes::new()))
        .unwrap()
}

/// About 1 KiB of JSON: an order with ten lines.
fn order_json() -> Bytes {
    let lines: Vec<Value> =
        (0..10).map(|i| json!({"sku": format!("SKU-{i:04}"), "qty": i + 1, "price": 9.99, "gift": false})).collect();
    let order = json!({"customer": {"id": 12345, "email": "ann@example.com"}, "currency": "CNY", "lines": lines,
                       "note": "leave at the door"});
    Bytes::from(serde_json::to_vec(&order).unwrap())
}

fn order_schema() -> Value {
    json!({
        "type": "object",
        "required": ["customer", "lines"],
        "properties": {
            "customer": {"type": "object", "required": ["id"],
                         "properties": {"id": {"type": "integer"}, "email": {"type": "string", "format": "email"}}},
            "currency": {"enum": ["CNY", "USD"]},
            "lines": {"type": "array", "minItems": 1, "maxItems": 100, "items": {
                "type": "object", "required": ["sku", "qty"],
                "properties": {"sku": {"type": "string", "pattern": "^SKU-[0-9]{4}$"},
                               "qty": {"type": "integer", "minimum": 1}, "price": {"type": "number"},
                               "gift": {"type": "boolean"}}}},
            "note": {"type": "string", "maxLength": 200}
        }
    })
}

fn params(c: &mut Criterion) {
    let inner = service_fn(|_req: Request<tollgate::RequestBody<Full<Bytes>>>| async {
        Ok::<_, Infallible>(Response::new(Full::new(Bytes::new())))
    });

    let mut group = c.benchmark_group("params/validate_10_header_query");
    group.throughput(Throughput::Elements(1));
    let rules = ParamRules::new(&ten_params()).unwrap();
    let req = ten_request();
    assert!(rules.check(&ParamRequest::new(req.uri(), req.headers())).is_ok());
    group.bench_function("policy", |b| {
        b.iter(|| black_box(rules.check(&ParamRequest::new(black_box(req.uri()), black_box(req.headers())))))
    });
    let layer = ParamValidationLayer::from_config(&ten_params()).unwrap();
    let mut svc = layer.layer(inner);
    group.bench_function("layer", |b| {
        b.iter_batched(ten_request, |req| now(svc.call(req)).unwrap(), BatchSize::SmallInput)
    });
    group.finish();

    let mut group = c.benchmark_group("params/json_1kib_schema");
    let body = order_json();
    group.throughput(Throughput::Bytes(body.len() as u64));
    let config = ParamValidationConfig::new()
        .schema(order_schema())
        .param(Param::json("customer", "/customer/id").long().required())
        .param(Param::json("currency", "/currency").one_of(["CNY", "USD"]));
    let rules = ParamRules::new(&config).unwrap();
    let head = Request::post("/orders").header("content-type", "application/json").body(()).unwrap();
    assert!(rules.check(&ParamRequest::new(head.uri(), head.headers()).with_body(&body)).is_ok());
    group.bench_function("policy", |b| {
        b.iter(|| black_box(rules.check(&ParamRequest::new(head.uri(), head.headers()).with_body(black_box(&body)))))
    });
    let layer = ParamValidationLayer::from_config(&config).unwrap();
    let mut svc = layer.layer(inner);
    let make =
        || Request::post("/orders").header("content-type", "application/json").body(Full::new(body.clone())).unwrap();
    group.bench_function("layer", |b| b.iter_batched(make, |req| now(svc.call(req)).unwrap(), BatchSize::SmallInput));
    let validator = jsonschema::validator_for(&order_schema()).unwrap();
    group.bench_function("floor_parse_and_schema", |b| {
        b.iter(|| {
            let value: Value = serde_json::from_slice(black_box(&body)).unwrap();
            black_box(validator.is_valid(&value))
        })
    });
    group.finish();

    let mut group = c.benchmark_group("params/inject_5");
    group.throughput(Throughput::Elements(1));
    let config = ParamInjectionConfig::new()
        .api_name("GetOrder")
        .constant(Position::Header, "x-env", "prod")
        .system(Position::Header, "x-client-ip", SystemParam::ClientIp)
        .system(Position::Header, "x-request-id", SystemParam::RequestId)
        .system(Position::Query, "apiName", SystemParam::ApiName)
        .mapping(ParamMapping::new((Position::Header, "x-uid"), (Position::Query, "uid")));
    let injection = Injection::new(&config).unwrap();
    let make = || {
        let mut req = Request::get("/orders/42?page=2&sort=asc")
            .header("x-uid", "12345")
            .header("user-agent", "bench/1.0")
            .body(Full::new(Bytes::new()))
            .unwrap();
        req.extensions_mut().insert(ClientIp::direct("203.0.113.7".parse::<IpAddr>().unwrap()));
        req.extensions_mut().insert(RequestId::new(HeaderValue::from_static("c0ffee-0001")).unwrap());
        req
    };
    group.bench_function("policy", |b| {
        b.iter_batched(
            make,
            |mut req| {
                injection.apply(&mut req, &[]).unwrap();
                req
            },
            BatchSize::SmallInput,
        )
    });
    let inner = service_fn(|_req: Request<tollgate::RequestBody<Full<Bytes>>>| async {
        Ok::<_, Infallible>(Response::new(Full::new(Bytes::new())))
    });
    let mut svc = ParamInjectionLayer::from_config(&config).unwrap().layer(inner);
    group.bench_function("layer", |b| b.iter_batched(make, |req| now(svc.call(req)).unwrap(), BatchSize::SmallInput));
    group.finish();
}

criterion_group!(benches, params);
criterion_main!(benches);
