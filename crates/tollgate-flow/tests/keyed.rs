//! `KeyedLimit`: one limit per client IP, app or header value, and nothing else.

use std::convert::Infallible;
use std::net::IpAddr;
use std::time::Duration;

use http::{Request, Response, StatusCode};
use tollgate_core::ClientIpLayer;
use tollgate_core::{Algorithm, Caller, ClientIp, ManualClock, MemoryRateStore, PeerAddr};
use tollgate_flow::{FlowControlLayer, KeyedLimit};
use tower::{Layer, Service, ServiceExt, service_fn};

type Svc = tower::util::BoxCloneService<Request<()>, Response<tollgate_core::ResponseBody<String>>, Infallible>;

fn clock() -> ManualClock {
    ManualClock::at_unix(Duration::from_secs(1_795_392_000))
}

fn service(layer: FlowControlLayer<KeyedLimit>) -> Svc {
    Svc::new(
        layer.layer(service_fn(|_req: Request<()>| async { Ok::<_, Infallible>(Response::new(String::from("ok"))) })),
    )
}

fn keyed(policy: KeyedLimit, clock: &ManualClock) -> Svc {
    service(FlowControlLayer::with_store(policy, MemoryRateStore::new().with_clock(clock.clone())))
}

fn from_ip(ip: &str) -> Request<()> {
    let mut req = Request::new(());
    req.extensions_mut().insert(ClientIp::direct(ip.parse::<IpAddr>().unwrap()));
    req
}

async fn status(svc: &mut Svc, req: Request<()>) -> StatusCode {
    svc.ready().await.unwrap().call(req).await.unwrap().status()
}

async fn passed(svc: &mut Svc, make: impl Fn() -> Request<()>, n: usize) -> usize {
    let mut ok = 0;
    for _ in 0..n {
        if status(svc, make()).await == StatusCode::OK {
            ok += 1;
        }
    }
    ok
}

#[tokio::test]
async fn each_client_ip_has_its_own_allowance_and_nothing_else_is_limited() {
    let clock = clock();
    let mut svc = keyed(KeyedLimit::per_client_ip(3, Duration::from_secs(1)).unwrap(), &clock);
    assert_eq!(passed(&mut svc, || from_ip("10.0.0.1"), 10).await, 3);
    assert_eq!(passed(&mut svc, || from_ip("10.0.0.2"), 10).await, 3, "no API-wide limit");
    // an IPv4-mapped address is the IPv4 client
    assert_eq!(passed(&mut svc, || from_ip("::ffff:10.0.0.1"), 10).await, 0);
    // GCRA: one more after a third of the window
    clock.advance(Duration::from_millis(334));
    assert_eq!(passed(&mut svc, || from_ip("10.0.0.1"), 10).await, 1);
}

#[tokio::test]
async fn an_ipv6_client_is_counted_by_its_network() {
    let clock = clock();
    let mut svc = keyed(KeyedLimit::per_client_ip(2, Duration::from_secs(60)).unwrap(), &clock);
    assert_eq!(passed(&mut svc, || from_ip("2001:db8:1:2::1"), 1).await, 1);
    assert_eq!(passed(&mut svc, || from_ip("2001:db8:1:2::ffff"), 5).await, 1, "same /64");
    assert_eq!(passed(&mut svc, || from_ip("2001:db8:1:3::1"), 5).await, 2, "another /64");
    let mut each =
        keyed(KeyedLimit::per_client_ip(2, Duration::from_secs(60)).unwrap().ipv6_prefix(128).unwrap(), &clock);
    assert_eq!(passed(&mut each, || from_ip("2001:db8:1:2::1"), 5).await, 2);
    assert_eq!(passed(&mut each, || from_ip("2001:db8:1:2::2"), 5).await, 2);
}

#[tokio::test]
async fn an_unknown_client_is_refused_not_let_through() {
    let mut svc = keyed(KeyedLimit::per_client_ip(100, Duration::from_secs(1)).unwrap(), &clock());
    let response = svc.ready().await.unwrap().call(Request::new(())).await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let body = http_body_util::BodyExt::collect(response.into_body()).await.unwrap().to_bytes();
    assert!(String::from_utf8_lossy(&body).contains("IpUnresolved"));
}

#[tokio::test]
async fn without_client_ip_the_peer_is_the_client_unless_a_proxy_hid_it() {
    // no ClientIpLayer in front: the peer address is the client, counted as one
    let mut svc = keyed(KeyedLimit::per_client_ip(2, Duration::from_secs(1)).unwrap(), &clock());
    let from_peer = |peer: &str| {
        let mut req = Request::new(());
        req.extensions_mut().insert(PeerAddr(peer.parse().unwrap()));
        req
    };
    assert_eq!(passed(&mut svc, || from_peer("10.0.0.9:4000"), 5).await, 2);
    assert_eq!(
        status(&mut svc, from_ip("10.0.0.9")).await,
        StatusCode::TOO_MANY_REQUESTS,
        "the same client either way"
    );
    // a trusted proxy whose forwarding header could not be read: refused, not keyed as the proxy
    let mut behind_proxy = ClientIpLayer::new().trust_proxies(["10.0.0.10"]).unwrap().layer(svc);
    let mut req = from_peer("10.0.0.10:4000");
    req.headers_mut().insert("x-forwarded-for", http::HeaderValue::from_static("unknown"));
    let response = behind_proxy.ready().await.unwrap().call(req).await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn per_app_limits_each_caller_and_leaves_anonymous_requests_alone() {
    let clock = clock();
    let mut svc = keyed(KeyedLimit::per_app(2, Duration::from_secs(60)).unwrap(), &clock);
    let as_app = |app: &'static str| {
        move || {
            let mut req = Request::new(());
            req.extensions_mut().insert(Caller::new(app));
            req
        }
    };
    assert_eq!(passed(&mut svc, as_app("a"), 5).await, 2);
    assert_eq!(passed(&mut svc, as_app("b"), 5).await, 2);
    assert_eq!(passed(&mut svc, || Request::new(()), 5).await, 5);
}

#[tokio::test]
async fn per_header_counts_each_value_and_leaving_it_out_escapes_nothing() {
    let clock = clock();
    let mut svc = keyed(
        KeyedLimit::per_header("x-api-key", 2, Duration::from_secs(60))
            .unwrap()
            .algorithm(Algorithm::FixedWindow { offset: Duration::ZERO }),
        &clock,
    );
    let with = |key: &'static str| move || Request::get("/").header("x-api-key", key).body(()).unwrap();
    assert_eq!(passed(&mut svc, with("k1"), 5).await, 2);
    assert_eq!(passed(&mut svc, with("k2"), 5).await, 2);
    // no header: one shared allowance
    assert_eq!(passed(&mut svc, || Request::new(()), 5).await, 2);
    // the header twice reads two ways: refused before anything is taken
    let twice = Request::get("/").header("x-api-key", "k3").header("x-api-key", "k1").body(()).unwrap();
    assert_eq!(status(&mut svc, twice).await, StatusCode::BAD_REQUEST);
    assert_eq!(passed(&mut svc, with("k3"), 5).await, 2);
    // the window ends: allowances are whole again
    clock.advance(Duration::from_secs(60));
    assert_eq!(passed(&mut svc, with("k1"), 5).await, 2);
}

#[tokio::test]
async fn rate_headers_are_on_by_default_and_can_be_turned_off() {
    let clock = clock();
    let store = MemoryRateStore::new().with_clock(clock.clone());
    let policy = KeyedLimit::per_client_ip(2, Duration::from_secs(1)).unwrap();
    let mut on = service(FlowControlLayer::with_store(policy.clone(), store.clone()));
    let response = on.ready().await.unwrap().call(from_ip("10.0.0.9")).await.unwrap();
    assert_eq!(response.headers()["x-ratelimit-limit"], "2");
    assert_eq!(response.headers()["x-ratelimit-remaining"], "1");

    let mut off = service(FlowControlLayer::with_store(policy, store).rate_headers(false));
    let response = off.ready().await.unwrap().call(from_ip("10.0.0.9")).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers().is_empty(), "{:?}", response.headers());
    let refused = off.ready().await.unwrap().call(from_ip("10.0.0.9")).await.unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.headers()["retry-after"], "1");
    assert!(refused.headers().get("x-ratelimit-limit").is_none());
}

#[tokio::test]
async fn a_limit_past_the_numbers_table_is_written_as_it_is() {
    let clock = clock();
    let store = MemoryRateStore::new().with_clock(clock.clone());
    // the layer keeps 5,000 (a configured limit) rendered; 4,999 left is rendered per request
    let policy = KeyedLimit::per_client_ip(5_000, Duration::from_secs(60)).unwrap();
    let mut svc = service(FlowControlLayer::with_store(policy, store));
    let mut responses = Vec::new();
    for remaining in ["4999", "4998"] {
        let response = svc.ready().await.unwrap().call(from_ip("10.0.0.9")).await.unwrap();
        assert_eq!(response.headers()["x-ratelimit-limit"], "5000");
        assert_eq!(response.headers()["x-ratelimit-remaining"], remaining);
        responses.push(response);
    }
    // the configured limit's value is the one kept when the layer was built, not rendered
    // per request (both responses are alive: their values are one value's copies)
    let limit = |r: &Response<_>| r.headers()["x-ratelimit-limit"].as_bytes().as_ptr();
    assert_eq!(limit(&responses[0]), limit(&responses[1]));
}

/// A policy of one's own that lists no limits: its limit is rendered per request.
#[derive(Debug)]
struct Unlisted(tollgate_core::RateQuota);

impl tollgate_flow::FlowPolicy for Unlisted {
    fn checks<'a>(
        &'a self,
        _request: &tollgate_flow::FlowRequest<'a>,
        out: &mut tollgate_flow::Checks<'a>,
    ) -> Result<(), tollgate_core::Rejection> {
        let key = tollgate_core::RateKey::new("mine");
        out.push(tollgate_flow::Check { key, quota: self.0, tier: tollgate_flow::Tier::Api });
        Ok(())
    }
}

#[tokio::test]
async fn a_policy_listing_no_limits_still_gets_its_rate_headers() {
    let quota =
        tollgate_core::RateQuota::new(std::num::NonZeroU32::new(3_000).unwrap(), Duration::from_secs(60)).unwrap();
    let layer = FlowControlLayer::with_store(Unlisted(quota), MemoryRateStore::new().with_clock(clock()));
    let inner = service_fn(|_req: Request<()>| async { Ok::<_, Infallible>(Response::new(String::from("ok"))) });
    let response = layer.layer(inner).oneshot(Request::new(())).await.unwrap();
    assert_eq!(response.headers()["x-ratelimit-limit"], "3000");
    assert_eq!(response.headers()["x-ratelimit-remaining"], "2999");
}

#[test]
fn bad_limits_fail_when_built_naming_the_field() {
    let field = |r: Result<KeyedLimit, tollgate_core::ConfigError>| r.unwrap_err().to_string();
    assert!(field(KeyedLimit::per_client_ip(0, Duration::from_secs(1))).contains("limit"));
    assert!(field(KeyedLimit::per_app(1, Duration::ZERO)).contains("window"));
    assert!(field(KeyedLimit::per_app(1, Duration::MAX)).contains("window"));
    assert!(field(KeyedLimit::per_header("bad header", 1, Duration::from_secs(1))).contains("header"));
    assert!(
        field(KeyedLimit::per_client_ip(1, Duration::from_secs(1)).unwrap().ipv6_prefix(0)).contains("ipv6_prefix")
    );
    assert!(FlowControlLayer::per_client_ip(0, Duration::from_secs(1)).is_err());
    assert!(FlowControlLayer::per_app(1, Duration::from_secs(1)).is_ok());
    assert!(FlowControlLayer::per_header("x-tenant", 1, Duration::from_secs(1)).is_ok());
}

#[tokio::test]
async fn retry_after_is_whole_seconds_rounded_up_and_ietf_fields_only_on_request() {
    let clock = clock();
    // two per three seconds: a new request every 1.5 s once the burst is spent
    let policy = KeyedLimit::per_client_ip(2, Duration::from_secs(3)).unwrap();
    let layer = FlowControlLayer::with_store(policy.clone(), MemoryRateStore::new().with_clock(clock.clone()));
    let mut svc = service(layer);
    let first = svc.ready().await.unwrap().call(from_ip("10.1.1.1")).await.unwrap();
    assert!(first.headers().get("ratelimit-policy").is_none(), "IETF fields are off by default");
    assert_eq!(status(&mut svc, from_ip("10.1.1.1")).await, StatusCode::OK);
    let refused = svc.ready().await.unwrap().call(from_ip("10.1.1.1")).await.unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.headers()["retry-after"], "2", "1.5 s rounds up");

    let layer =
        FlowControlLayer::with_store(policy, MemoryRateStore::new().with_clock(clock.clone())).ietf_headers(true);
    let mut svc = service(layer);
    let response = svc.ready().await.unwrap().call(from_ip("10.1.1.2")).await.unwrap();
    assert_eq!(response.headers()["ratelimit-policy"], "\"flow\";q=2;w=3");
    assert_eq!(response.headers()["ratelimit"], "\"flow\";r=1;t=2");
}

#[tokio::test]
async fn the_layer_is_ready_only_when_its_service_is() {
    use std::task::{Context, Poll};
    /// A service that is never ready.
    #[derive(Clone)]
    struct Busy;
    impl Service<Request<()>> for Busy {
        type Response = Response<String>;
        type Error = Infallible;
        type Future = std::future::Ready<Result<Response<String>, Infallible>>;
        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Pending
        }
        fn call(&mut self, _: Request<()>) -> Self::Future {
            std::future::ready(Ok(Response::new(String::new())))
        }
    }
    let layer = FlowControlLayer::per_client_ip(1, Duration::from_secs(1)).unwrap();
    let mut svc = layer.layer(Busy);
    let mut cx = Context::from_waker(std::task::Waker::noop());
    assert!(svc.poll_ready(&mut cx).is_pending());
    assert!(format!("{layer:?}").starts_with("FlowControlLayer"));
    assert!(format!("{svc:?}").starts_with("FlowControl"));
}
