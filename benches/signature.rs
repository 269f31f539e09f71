//! Signature verification per scheme, next to the floor: the raw HMAC over the same string
//! to sign (keyed on every call). Beside it, `floor_hmac_keyed`: the verifiers' own MAC check
//! (`Secret::verify_hmac`, its key state made once), which is all the crypto a verifier does
//! (TC3 also hashes its canonical request: `floor_required_crypto`). Bodiless requests, one secret, the
//! in-memory secret store not involved (parse + verify only). Also the replay guard's check
//! with 1,000,000 nonces remembered.

#![allow(missing_docs)]

use std::hint::black_box;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use http::Request;
use tollgate::signature::aliyun_apigw::{self, AliyunApiGateway};
use tollgate::signature::aliyun_rpc::{self, AliyunRpc};
use tollgate::signature::tencent_apigw::{self, TencentApiGateway};
use tollgate::signature::tencent_cloud::{self, TencentCloud};
use tollgate::signature::{HmacAlg, KeyForm, RequestView, Scheme, Secret, Signer};
use tollgate_signature::fuzzing::hmac;

const NOW: u64 = 1_795_364_129;

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(NOW)
}

fn signed<S: Signer>(signer: &S, req: Request<()>) -> http::request::Parts {
    let (mut parts, ()) = req.into_parts();
    signer
        .sign(&mut parts, &mut Bytes::new(), "AKIDbench", &Secret::from("benchSecret0000000000000000000001"), now())
        .unwrap();
    parts
}

/// Parse + verify of `parts`, then the floor (`alg` under `key` over `sts`, keyed per call)
/// and the keyed floor.
fn verify_cost<Sc: Scheme>(
    c: &mut Criterion,
    name: &str,
    scheme: &Sc,
    parts: &http::request::Parts,
    (alg, key, sts): (HmacAlg, &[u8], &[u8]),
) {
    let secrets = [Secret::from("benchSecret0000000000000000000001")];
    let view = RequestView { method: &parts.method, uri: &parts.uri, headers: &parts.headers, body: None };
    // the request must verify, or the bench measures a refusal
    let parsed = scheme.parse(&view).unwrap();
    scheme.verify(&view, &parsed, &secrets, now()).unwrap();

    let mut group = c.benchmark_group(format!("signature/{name}"));
    group.throughput(Throughput::Elements(1));
    group.bench_function("verify", |b| {
        b.iter(|| {
            let parsed = scheme.parse(black_box(&view)).unwrap();
            black_box(scheme.verify(&view, &parsed, &secrets, now()).unwrap())
        })
    });
    group.bench_function("floor_hmac", |b| b.iter(|| black_box(hmac(alg, black_box(key), black_box(sts)))));
    // the verifiers' own MAC check: a key state made once and cloned per message
    let keyed = Secret::new(key);
    let claimed = hmac(alg, key, sts);
    assert!(keyed.verify_hmac(alg, KeyForm::Plain, sts, &claimed));
    group.bench_function("floor_hmac_keyed", |b| {
        b.iter(|| black_box(keyed.verify_hmac(alg, KeyForm::Plain, black_box(sts), &claimed)))
    });
    group.finish();
}

fn schemes(c: &mut Criterion) {
    let secret = b"benchSecret0000000000000000000001";

    let scheme = AliyunApiGateway::new();
    let parts = signed(
        &scheme,
        Request::get("/api/items?name=a&page=2").header("accept", "application/json").body(()).unwrap(),
    );
    let signed_headers: Vec<String> =
        parts.headers["x-ca-signature-headers"].to_str().unwrap().split(',').map(str::to_owned).collect();
    let sts = aliyun_apigw::string_to_sign(&parts.method, &parts.uri, &parts.headers, None, &signed_headers);
    verify_cost(c, "aliyun_apigw", &scheme, &parts, (HmacAlg::Sha256, secret, sts.as_bytes()));

    let scheme = AliyunRpc::new();
    let parts = signed(
        &scheme,
        Request::get("/?Action=DescribeRegions&Version=2014-05-26&RegionId=cn-hangzhou").body(()).unwrap(),
    );
    let params: Vec<(String, String)> =
        form_urlencoded::parse(parts.uri.query().unwrap().as_bytes()).into_owned().collect();
    let sts = aliyun_rpc::string_to_sign(&parts.method, &params);
    let key = [&secret[..], b"&"].concat();
    verify_cost(c, "aliyun_rpc", &scheme, &parts, (HmacAlg::Sha1, &key, sts.as_bytes()));

    let scheme = TencentCloud::new();
    let parts = signed(
        &scheme,
        Request::get("https://cvm.tencentcloudapi.com/?Limit=10&Offset=0")
            .header("x-tc-action", "DescribeInstances")
            .body(())
            .unwrap(),
    );
    let canonical =
        tencent_cloud::tc3_canonical_request(&parts.method, &parts.uri, &parts.headers, "content-type;host", b"");
    let sts = tencent_cloud::tc3_string_to_sign(NOW, "2026-11-22", "cvm", &canonical);
    let k = tencent_cloud::tc3_signing_key(secret, "2026-11-22", "cvm");
    verify_cost(c, "tencent_tc3", &scheme, &parts, (HmacAlg::Sha256, &k, sts.as_bytes()));
    c.bench_function("signature/tencent_tc3/floor_full_crypto", |b| {
        b.iter(|| {
            let canonical = tencent_cloud::tc3_canonical_request(
                &parts.method,
                &parts.uri,
                &parts.headers,
                "content-type;host",
                b"",
            );
            let sts = tencent_cloud::tc3_string_to_sign(NOW, "2026-11-22", "cvm", &canonical);
            let k = tencent_cloud::tc3_signing_key(black_box(secret), "2026-11-22", "cvm");
            black_box(hmac(HmacAlg::Sha256, &k, sts.as_bytes()))
        })
    });

    // what TC3 cannot do without per request, once its signing key is derived and kept as
    // the verifier keeps it: hash the canonical request, then check the HMAC over the string
    // to sign
    let keyed = Secret::from("benchSecret0000000000000000000001");
    let claimed = hmac(HmacAlg::Sha256, &k, sts.as_bytes());
    let derive = |secret: &[u8]| tencent_cloud::tc3_signing_key(secret, "2026-11-22", "cvm");
    assert!(keyed.verify_derived_sha256(&["2026-11-22", "/", "cvm"], derive, sts.as_bytes(), &claimed));
    c.bench_function("signature/tencent_tc3/floor_required_crypto", |b| {
        b.iter(|| {
            let digest = <sha2::Sha256 as sha2::Digest>::digest(black_box(canonical.as_bytes()));
            black_box(digest);
            let context = ["2026-11-22", "/", "cvm"];
            black_box(keyed.verify_derived_sha256(&context, derive, black_box(sts.as_bytes()), &claimed))
        })
    });

    // one endpoint serving two services, their requests alternating: each needs its own
    // derived key, and the secret keeps both
    let other = signed(
        &scheme,
        Request::get("https://cbs.tencentcloudapi.com/?Limit=10&Offset=0")
            .header("x-tc-action", "DescribeDisks")
            .body(())
            .unwrap(),
    );
    let secrets = [Secret::from("benchSecret0000000000000000000001")];
    let views =
        [&parts, &other].map(|p| RequestView { method: &p.method, uri: &p.uri, headers: &p.headers, body: None });
    let mut turn = 0;
    c.bench_function("signature/tencent_tc3/verify_two_services_alternating", |b| {
        b.iter(|| {
            turn ^= 1;
            let view = &views[turn];
            let parsed = scheme.parse(black_box(view)).unwrap();
            black_box(scheme.verify(view, &parsed, &secrets, now()).unwrap())
        })
    });

    let scheme = TencentCloud::new().sign_v1(HmacAlg::Sha1);
    let parts = signed(
        &scheme,
        Request::get("https://cvm.tencentcloudapi.com/?Action=DescribeInstances&Limit=10").body(()).unwrap(),
    );
    let params: Vec<(String, String)> =
        form_urlencoded::parse(parts.uri.query().unwrap().as_bytes()).into_owned().collect();
    let sts = tencent_cloud::v1_string_to_sign(&parts.method, "cvm.tencentcloudapi.com", "/", &params);
    verify_cost(c, "tencent_v1", &TencentCloud::new(), &parts, (HmacAlg::Sha1, secret, sts.as_bytes()));

    let scheme = TencentApiGateway::new().sign_header(http::HeaderName::from_static("source"));
    let parts = signed(&scheme, Request::get("/release/hello").header("source", "bench").body(()).unwrap());
    let text = tencent_apigw::signing_string(&parts.headers, &["x-date".into(), "source".into()]);
    verify_cost(c, "tencent_apigw", &TencentApiGateway::new(), &parts, (HmacAlg::Sha1, secret, text.as_bytes()));
}

fn replay(c: &mut Criterion) {
    use tollgate::MemoryNonceStore;
    // room for what the run adds (a full store refuses), and one key may hold it all
    let store = MemoryNonceStore::with_capacity(64_000_000).max_share(1.0);
    let ttl = Duration::from_secs(900);
    let tenant = "aliyun-apigw\u{1f}203999001";
    for i in 0..1_000_000u64 {
        store.insert_if_absent_now(tenant, &format!("{i:032x}"), ttl).unwrap();
    }
    let mut group = c.benchmark_group("replay/1M_remembered");
    group.throughput(Throughput::Elements(1));
    let mut i = 0u64;
    group.bench_function("replayed_nonce", |b| {
        b.iter_batched(
            || {
                i = (i + 7919) % 1_000_000;
                format!("{i:032x}")
            },
            |nonce| assert_eq!(store.insert_if_absent_now(tenant, &nonce, ttl), Ok(false)),
            criterion::BatchSize::SmallInput,
        )
    });
    let mut n = 1_000_000u64;
    group.bench_function("new_nonce", |b| {
        b.iter_batched(
            || {
                n += 1;
                format!("{n:032x}")
            },
            |nonce| assert_eq!(store.insert_if_absent_now(tenant, &nonce, ttl), Ok(true)),
            criterion::BatchSize::SmallInput,
        )
    });
    group.finish();
    guard_layer(c);
}

/// The whole guard as a service: claims in, decision, inner call, response out; polled
/// once with a no-op waker, since the in-memory store answers at once.
fn guard_layer(c: &mut Criterion) {
    use std::future::Future;
    use std::task::{Context, Poll, Waker};
    use tollgate::replay::ReplayGuardLayer;
    use tollgate::{ErrorStyle, ManualClock, MemoryNonceStore, Rejection, ReplayRefusals, SignedClaims};
    use tower::{Layer, Service};

    let store = MemoryNonceStore::with_capacity(64_000_000).max_share(1.0);
    for i in 0..1_000_000u64 {
        store
            .insert_if_absent_now("aliyun-apigw\u{1f}203999001", &format!("{i:032x}"), Duration::from_secs(900))
            .unwrap();
    }
    let layer = ReplayGuardLayer::with_store(store).clock(ManualClock::at_unix(Duration::from_secs(NOW)));
    let mut svc = layer.layer(tower::service_fn(|_req: Request<()>| async {
        Ok::<_, std::convert::Infallible>(http::Response::new(()))
    }));
    let refusal = Rejection::new(http::StatusCode::BAD_REQUEST, "NonceUsed", "Nonce Used");
    let refusals = std::sync::Arc::new(ReplayRefusals::new(refusal.clone(), refusal, ErrorStyle::AliyunApiGateway));
    let template = SignedClaims::new("aliyun-apigw", "203999001", Duration::from_secs(900), refusals)
        .with_timestamp(UNIX_EPOCH + Duration::from_secs(NOW));
    let mut cx = Context::from_waker(Waker::noop());
    let mut n = 2_000_000u64;
    c.bench_function("replay/1M_remembered/guard_layer_new_nonce", |b| {
        b.iter_batched(
            || {
                n += 1;
                let mut req = Request::new(());
                req.extensions_mut().insert(template.clone().with_nonce(format!("{n:032x}")));
                req
            },
            |req| {
                let mut fut = std::pin::pin!(svc.call(req));
                match fut.as_mut().poll(&mut cx) {
                    Poll::Ready(Ok(resp)) => assert_eq!(resp.status(), 200),
                    _ => panic!("the in-memory guard answers at once"),
                }
            },
            criterion::BatchSize::SmallInput,
        )
    });
}

/// Aliyun's backend signature: the verifier layer settling a bodiless request in `call`,
/// the string to sign alone, and the raw HMAC-SHA256 of the same string (keyed per call).
fn aliyun_backend(c: &mut Criterion) {
    use std::future::Future;
    use std::task::{Context, Poll, Waker};
    use tollgate::signature::aliyun_backend::{AliyunBackendSigner, BackendSignatureLayer, string_to_sign};
    use tower::{Layer, Service};

    let req = Request::get("/orders/42?status=open&page=2&sort=desc")
        .header("x-user", "alice")
        .header("x-ca-request-id", "8E1F6B9F-5C3B-4A51-B5A2-1A9B1F0E0C11")
        .header("accept", "application/json")
        .body(())
        .unwrap();
    let parts = signed(&AliyunBackendSigner::new(), req);
    let view = RequestView { method: &parts.method, uri: &parts.uri, headers: &parts.headers, body: None };
    let sts = string_to_sign(&view).unwrap();
    let layer = BackendSignatureLayer::new([("AKIDbench", "benchSecret0000000000000000000001")]).unwrap();
    let mut svc = layer.layer(tower::service_fn(|_req: Request<_>| async {
        Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
    }));
    let mut call = |parts: &http::request::Parts| {
        let req = Request::from_parts(parts.clone(), http_body_util::Empty::<Bytes>::new());
        let mut future = std::pin::pin!(svc.call(req));
        match future.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(Ok(resp)) => resp.status(),
            _ => panic!("a bodiless request is settled at once"),
        }
    };
    // the request must verify, or the bench measures a refusal
    assert_eq!(call(&parts), 200);

    let mut group = c.benchmark_group("signature/aliyun-backend");
    group.throughput(Throughput::Elements(1));
    group.bench_function("verify_layer", |b| b.iter(|| black_box(call(black_box(&parts)))));
    group.bench_function("string_to_sign", |b| b.iter(|| black_box(string_to_sign(black_box(&view)).unwrap())));
    let key = b"benchSecret0000000000000000000001";
    group
        .bench_function("floor_hmac", |b| b.iter(|| black_box(hmac(HmacAlg::Sha256, black_box(key), black_box(&sts)))));
    group.finish();
}

criterion_group!(benches, schemes, replay, aliyun_backend);
criterion_main!(benches);
