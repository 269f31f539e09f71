//! A token check through the layer (`TokenLayer` from the `jwtAuth` plug-in, a bodiless GET,
//! the handler answering at once) beside the bare library verify of the same token
//! (`jsonwebtoken::decode` with its key made once): RS256 (RSA 2048) and ES256 (P-256).
//! Target: the layer at most 1.2x the bare verify.

#![allow(missing_docs)]

use std::convert::Infallible;
use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use http::{Request, Response};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{Map, Value, json};
use tollgate::token::TokenLayer;
use tower::{Layer, Service, ServiceExt, service_fn};

const JWKS: &str = include_str!("../crates/tollgate-token/tests/fixtures/jwks.json");
const RSA_PEM: &[u8] = include_bytes!("../crates/tollgate-token/tests/fixtures/rsa2048.pem");
const EC_PEM: &[u8] = include_bytes!("../crates/tollgate-token/tests/fixtures/ec256.pem");

fn token(alg: Algorithm) -> (String, DecodingKey) {
    let jwks: Value = serde_json::from_str(JWKS).unwrap();
    let (kid, key, public) = match alg {
        Algorithm::RS256 => ("rsa-1", EncodingKey::from_rsa_pem(RSA_PEM).unwrap(), &jwks["keys"][0]),
        _ => ("ec256-1", EncodingKey::from_ec_pem(EC_PEM).unwrap(), &jwks["keys"][1]),
    };
    let mut header = Header::new(alg);
    header.kid = Some(kid.into());
    let claims = json!({"sub": "bench", "userId": "u-1", "exp": jsonwebtoken::get_current_timestamp() + 86_400});
    let token = jsonwebtoken::encode(&header, &claims, &key).unwrap();
    let decoding = DecodingKey::from_jwk(&serde_json::from_value(public.clone()).unwrap()).unwrap();
    (token, decoding)
}

fn check(c: &mut Criterion, alg: Algorithm, name: &str) {
    let (token, decoding) = token(alg);
    let layer = TokenLayer::from_plugin(&format!("jwks: {}", JWKS.replace('\n', " "))).unwrap();
    let svc = layer.layer(service_fn(|_req: Request<_>| async { Ok::<_, Infallible>(Response::new(String::new())) }));
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let request =
        || Request::get("/orders").header("authorization", format!("Bearer {token}")).body(String::new()).unwrap();
    // the token must pass, or the bench measures a refusal
    assert_eq!(rt.block_on(svc.clone().oneshot(request())).unwrap().status(), 200);
    let mut validation = Validation::new(alg);
    validation.validate_aud = false;
    jsonwebtoken::decode::<Map<String, Value>>(&token, &decoding, &validation).unwrap();

    let mut group = c.benchmark_group(format!("token/{name}"));
    group.throughput(Throughput::Elements(1));
    group.bench_function("layer", |b| {
        b.iter(|| {
            let mut svc = svc.clone();
            black_box(rt.block_on(svc.call(request())).unwrap())
        })
    });
    group.bench_function("library_decode", |b| {
        b.iter(|| {
            black_box(jsonwebtoken::decode::<Map<String, Value>>(black_box(&token), &decoding, &validation).unwrap())
        })
    });
    group.finish();
}

fn benches(c: &mut Criterion) {
    check(c, Algorithm::RS256, "rs256");
    check(c, Algorithm::ES256, "es256");
}

criterion_group!(token_benches, benches);
criterion_main!(token_benches);
