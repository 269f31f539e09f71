//! The replay guard through `oneshot` and under concurrency.

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::time::{Duration, UNIX_EPOCH};

use http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use std::sync::Arc;

use tollgate_core::{ErrorStyle, ManualClock, NonceStore, Rejection, ReplayRefusals, SignedClaims, StoreError};
use tollgate_replay::{HeaderRule, ReplayGuardLayer};
use tower::{Service, ServiceBuilder, ServiceExt, service_fn};

const NOW: u64 = 1_700_000_000;

fn claims(key: &str, nonce: &str, ts: u64) -> SignedClaims {
    let used = "Specified signature nonce was used already.";
    let refusals = ReplayRefusals::new(
        Rejection::new(StatusCode::BAD_REQUEST, "SignatureNonceUsed", used).with_aliyun_rpc(
            StatusCode::BAD_REQUEST,
            "SignatureNonceUsed",
            used,
        ),
        Rejection::new(
            StatusCode::BAD_REQUEST,
            "InvalidTimeStamp.Expired",
            "Specified time stamp or date value is expired.",
        ),
        ErrorStyle::AliyunRpc,
    );
    SignedClaims::new("aliyun-rpc", key, Duration::from_secs(900), Arc::new(refusals))
        .with_nonce(nonce)
        .with_timestamp(UNIX_EPOCH + Duration::from_secs(ts))
}

fn signed(c: SignedClaims) -> Request<()> {
    let mut req = Request::new(());
    req.extensions_mut().insert(c);
    req
}

async fn ok(_req: Request<()>) -> Result<Response<String>, Infallible> {
    Ok(Response::new("handler".into()))
}

fn guard() -> ReplayGuardLayer {
    ReplayGuardLayer::new().clock(ManualClock::at_unix(Duration::from_secs(NOW)))
}

async fn body(resp: Response<tollgate_core::ResponseBody<String>>) -> serde_json::Value {
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    serde_json::from_slice(&bytes).unwrap()
}

#[tokio::test]
async fn second_use_of_a_nonce_is_refused_in_the_schemes_words() {
    let svc = ServiceBuilder::new().layer(guard()).service(service_fn(ok));
    let first = svc.clone().oneshot(signed(claims("k", "n1", NOW))).await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    let again = svc.clone().oneshot(signed(claims("k", "n1", NOW))).await.unwrap();
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
    let json = body(again).await;
    assert_eq!(json["Code"], "SignatureNonceUsed");
    assert_eq!(json["Message"], "Specified signature nonce was used already.");
    // the same nonce under another key is another nonce
    let other = svc.oneshot(signed(claims("k2", "n1", NOW))).await.unwrap();
    assert_eq!(other.status(), StatusCode::OK);
}

#[tokio::test]
async fn timestamps_outside_the_window_are_refused_either_way() {
    let svc = ServiceBuilder::new().layer(guard()).service(service_fn(ok));
    for (ts, expected) in [(NOW - 900, 200), (NOW + 900, 200), (NOW - 20 * 60, 400), (NOW + 901, 400)] {
        let resp = svc.clone().oneshot(signed(claims("k", &format!("t{ts}"), ts))).await.unwrap();
        assert_eq!(resp.status().as_u16(), expected, "ts {ts}");
        if expected == 400 {
            assert_eq!(body(resp).await["Code"], "InvalidTimeStamp.Expired");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_many_identical_concurrent_requests_exactly_one_passes() {
    let svc = ServiceBuilder::new().layer(guard()).service(service_fn(ok));
    for round in 0..20 {
        let nonce = format!("race-{round}");
        let tasks: Vec<_> = (0..32)
            .map(|_| {
                let mut svc = svc.clone();
                let req = signed(claims("k", &nonce, NOW));
                tokio::spawn(async move { svc.ready().await.unwrap().call(req).await.unwrap().status() })
            })
            .collect();
        let mut passed = 0;
        for t in tasks {
            if t.await.unwrap() == StatusCode::OK {
                passed += 1;
            }
        }
        assert_eq!(passed, 1, "round {round}");
    }
}

#[tokio::test]
async fn without_claims_refused_unless_told() {
    let svc = ServiceBuilder::new().layer(guard()).service(service_fn(ok));
    let resp = svc.oneshot(Request::new(())).await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(body(resp).await["code"], "MissingClaims");
    let svc = ServiceBuilder::new().layer(guard().pass_unsigned(true)).service(service_fn(ok));
    assert_eq!(svc.oneshot(Request::new(())).await.unwrap().status(), StatusCode::OK);
}

#[tokio::test]
async fn header_rule_when_used_alone() {
    let layer = guard().headers(HeaderRule::aliyun_api_gateway()).error_style(ErrorStyle::AliyunApiGateway);
    let svc = ServiceBuilder::new().layer(layer).service(service_fn(ok));
    let req = |ts: u64, nonce: &str| {
        Request::builder()
            .header("x-ca-key", "app")
            .header("x-ca-timestamp", (ts * 1000).to_string())
            .header("x-ca-nonce", nonce)
            .body(())
            .unwrap()
    };
    assert_eq!(svc.clone().oneshot(req(NOW, "a")).await.unwrap().status(), StatusCode::OK);
    let replay = svc.clone().oneshot(req(NOW, "a")).await.unwrap();
    assert_eq!(replay.headers()["x-ca-error-message"], "Nonce Used");
    let stale = svc.oneshot(req(NOW - 1200, "b")).await.unwrap();
    assert_eq!(stale.headers()["x-ca-error-message"], "Timestamp Expired");
}

#[derive(Clone)]
struct DownStore;

impl NonceStore for DownStore {
    type Future = Ready<Result<bool, StoreError>>;
    fn insert_if_absent(&self, _tenant: &str, _nonce: &str, _ttl: Duration) -> Self::Future {
        ready(Err(StoreError::Unavailable("connection refused".into())))
    }
}

#[tokio::test]
async fn store_failure_fails_closed() {
    let layer = ReplayGuardLayer::with_store(DownStore).clock(ManualClock::at_unix(Duration::from_secs(NOW)));
    let svc = ServiceBuilder::new().layer(layer).service(service_fn(ok));
    let resp = svc.oneshot(signed(claims("k", "n", NOW))).await.unwrap();
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn configuring_a_clone_changes_only_the_clone() {
    let base = guard();
    let lenient = base.clone().pass_unsigned(true);
    let strict = ServiceBuilder::new().layer(base).service(service_fn(ok));
    let lenient = ServiceBuilder::new().layer(lenient).service(service_fn(ok));
    assert_eq!(strict.oneshot(Request::new(())).await.unwrap().status(), StatusCode::UNAUTHORIZED);
    assert_eq!(lenient.oneshot(Request::new(())).await.unwrap().status(), StatusCode::OK);
}

fn without_nonce(key: &str, missing: Option<Rejection>) -> SignedClaims {
    let mut refusals = ReplayRefusals::new(
        Rejection::new(StatusCode::BAD_REQUEST, "NonceUsed", "Nonce Used"),
        Rejection::new(StatusCode::BAD_REQUEST, "TimestampExpired", "Timestamp Expired"),
        ErrorStyle::ProblemJson,
    );
    if let Some(missing) = missing {
        refusals = refusals.with_missing_nonce(missing);
    }
    SignedClaims::new("aliyun-apigw", key, Duration::from_secs(900), Arc::new(refusals))
        .with_timestamp(UNIX_EPOCH + Duration::from_secs(NOW))
}

#[tokio::test]
async fn a_request_without_the_schemes_nonce_is_refused_unless_told() {
    let missing = Rejection::new(StatusCode::BAD_REQUEST, "InvalidNonce", "Invalid Nonce");
    let svc = ServiceBuilder::new().layer(guard()).service(service_fn(ok));
    for _ in 0..2 {
        let resp = svc.clone().oneshot(signed(without_nonce("k", Some(missing.clone())))).await.unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        assert_eq!(body(resp).await["code"], "InvalidNonce");
    }
    // a scheme without nonces (the Tencent key pair, TC3) passes on its timestamp alone
    let resp = svc.clone().oneshot(signed(without_nonce("k", None))).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let lenient = ServiceBuilder::new().layer(guard().require_nonce(false)).service(service_fn(ok));
    let resp = lenient.oneshot(signed(without_nonce("k", Some(missing)))).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_full_store_refuses_with_503_and_keeps_what_it_holds() {
    let store = tollgate_core::MemoryNonceStore::with_capacity(64).max_share(1.0); // one per shard
    let layer = ReplayGuardLayer::with_store(store).clock(ManualClock::at_unix(Duration::from_secs(NOW)));
    let svc = ServiceBuilder::new().layer(layer).service(service_fn(ok));
    let mut accepted = Vec::new();
    let mut full = 0;
    for i in 0..2_000 {
        let nonce = format!("n{i}");
        let resp = svc.clone().oneshot(signed(claims("k", &nonce, NOW))).await.unwrap();
        match resp.status() {
            StatusCode::OK => accepted.push(nonce),
            StatusCode::SERVICE_UNAVAILABLE => {
                full += 1;
                assert_eq!(body(resp).await["Code"], "NonceStoreFull");
            }
            other => panic!("{other}"),
        }
    }
    assert_eq!(accepted.len(), 64);
    assert_eq!(full, 2_000 - 64);
    for nonce in accepted {
        let resp = svc.clone().oneshot(signed(claims("k", &nonce, NOW))).await.unwrap();
        assert_eq!(body(resp).await["Code"], "SignatureNonceUsed", "{nonce} was forgotten");
    }
}

#[tokio::test]
async fn a_huge_claimed_window_is_read_as_a_day() {
    let svc = ServiceBuilder::new().layer(guard()).service(service_fn(ok));
    let mut c = claims("k", "far", NOW + 2 * 86_400);
    c.window = Duration::MAX;
    let resp = svc.clone().oneshot(signed(c)).await.unwrap();
    assert_eq!(body(resp).await["Code"], "InvalidTimeStamp.Expired");
    let mut c = claims("k", "near", NOW + 86_400);
    c.window = Duration::MAX;
    assert_eq!(svc.clone().oneshot(signed(c.clone())).await.unwrap().status(), StatusCode::OK);
    // kept, not dropped after a second (the overflow this replaced)
    assert_eq!(svc.oneshot(signed(c)).await.unwrap().status(), StatusCode::BAD_REQUEST);
}
