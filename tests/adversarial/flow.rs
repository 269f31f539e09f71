//! Adversarial tests: flow. A limit is keyed by what the handler reads (the decoded path and
//! query value, the one header line), a request the handler could read two ways is refused,
//! flooding new keys never resets a throttled one, an IPv6 client cannot hop addresses in
//! its /64, an unknown client address is refused rather than waved past the IP limit, and no
//! number or duration given to a builder panics.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, Query};
use axum::routing::get;
use http::{Request, Response, StatusCode};
use proptest::prelude::*;
use tollgate::flow::{
    AlgorithmChoice, BasicFlowControlLayer, BasicLimits, FlowControlLayer, FlowPolicy, ParamFlowControlConfig,
    ParamFlowControlLayer, ParamLimits,
};
use tollgate::gateway::{Format, Gateway};
use tollgate::{MemoryRateStore, PeerAddr};
use tower::{Layer, ServiceExt, service_fn};

use crate::http_support::serve;

/// One strategy keyed by `kind` `name`, 1 request an hour per value, no default limit.
fn one_an_hour(kind: &str, name: &str) -> ParamLimits {
    let json = format!(
        r#"{{"default_window": 0, "strategies": [{{"name": "per-value", "strategy_weight": 1,
            "parameters": [{{"type": "{kind}", "name": "{name}"}}], "rate_limit": 1, "window": 3600}}]}}"#
    );
    ParamLimits::from_config(&serde_json::from_str::<ParamFlowControlConfig>(&json).unwrap()).unwrap()
}

async fn get_text(addr: SocketAddr, target: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let mut req = reqwest::Client::new().get(format!("http://{addr}{target}"));
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.text().await.unwrap())
}

/// The code of a problem+json refusal.
fn code(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body)
        .map(|v| v["code"].as_str().unwrap_or("").to_owned())
        .unwrap_or_default()
}

/// A path strategy keyed the raw path: `/users/42` throttled, `/users/%342` passed and
/// axum's `Path` read 42.
#[tokio::test]
async fn a_path_limit_holds_for_every_spelling_of_the_path() {
    let app = Router::new()
        .route("/users/{id}", get(|Path(id): Path<String>| async move { id }))
        .layer(ParamFlowControlLayer::new(one_an_hour("path", "")));
    let addr = serve(app).await;
    assert_eq!(get_text(addr, "/users/42", &[]).await, (200, "42".into()));
    for spelling in ["/users/42", "/users/%342", "/users/%34%32", "/users/4%32"] {
        let (status, body) = get_text(addr, spelling, &[]).await;
        assert_eq!((status, code(&body).as_str()), (429, "Throttled.Parameter"), "{spelling}");
    }
    // a slash decoded from %2F is part of the segment, not a separator: another user
    assert_eq!(get_text(addr, "/users/4%2F2", &[]).await, (200, "4/2".into()));
    assert_eq!(get_text(addr, "/users/%zz", &[]).await.0, 400, "an undecodable escape is refused, not keyed raw");
}

/// Dot segments and doubled slashes that a proxy in front of the backend would resolve
/// (the URL client on the wire resolves them itself, so this goes through the layer).
#[tokio::test]
async fn a_path_limit_holds_for_dot_segments_and_doubled_slashes() {
    let svc = ParamFlowControlLayer::new(one_an_hour("path", ""))
        .layer(service_fn(|_req: Request<()>| async { Ok::<_, Infallible>(Response::new(String::new())) }));
    let status = |target: &str| {
        let svc = svc.clone();
        let req = Request::get(target).body(()).unwrap();
        async move { svc.oneshot(req).await.unwrap().status() }
    };
    assert_eq!(status("/users/42").await, StatusCode::OK);
    for spelling in ["//users/42", "/users//42", "/users/./42", "/users/x/../42", "/users/%2e/42", "/x/%2E%2E/users/42"]
    {
        assert_eq!(status(spelling).await, StatusCode::TOO_MANY_REQUESTS, "{spelling}");
    }
    assert_eq!(status("/users/42/").await, StatusCode::OK, "a trailing slash names another resource");
}

/// A query strategy keyed the first `user` while axum's `Query` takes the last:
/// `?user=r1&user=victim` escaped victim's limit.
#[tokio::test]
async fn a_repeated_query_key_is_refused_not_keyed_by_one_of_its_values() {
    let app = Router::new()
        .route(
            "/",
            get(|Query(q): Query<HashMap<String, String>>| async move { q.get("user").cloned().unwrap_or_default() }),
        )
        .layer(ParamFlowControlLayer::new(one_an_hour("query", "user")));
    let addr = serve(app).await;
    assert_eq!(get_text(addr, "/?user=victim", &[]).await, (200, "victim".into()));
    assert_eq!(get_text(addr, "/?user=victim", &[]).await.0, 429);
    let (status, body) = get_text(addr, "/?user=r1&user=victim", &[]).await;
    assert_eq!((status, code(&body).as_str()), (400, "AmbiguousParameter"));
    assert_eq!(get_text(addr, "/?u%73er=r2&user=victim", &[]).await.0, 400, "an escaped name is the same name");
    // the value as the handler decodes it
    for spelling in ["/?u%73er=victim", "/?user=vic%74im", "/?other=1&user=victim"] {
        assert_eq!(get_text(addr, spelling, &[]).await.0, 429, "{spelling}");
    }
    assert_eq!(get_text(addr, "/?user=a+b", &[]).await, (200, "a b".into()));
    assert_eq!(get_text(addr, "/?user=a%20b", &[]).await.0, 429, "`+` is a space");
    let (status, body) = get_text(addr, "/?user=vic%zztim", &[]).await;
    assert_eq!((status, code(&body).as_str()), (400, "MalformedParameter"));
    // other parameters may repeat: only the key is read
    assert_eq!(get_text(addr, "/?tag=a&tag=b&user=someone", &[]).await.0, 200);
}

/// A strategy's condition read the first of a repeated name (and the raw path) while axum
/// reads the last: `?tier=gold&tier=free` turned the `free` tier's limit off for a client the
/// handler served as `free`. A condition the request can make read two ways now refuses it.
#[tokio::test]
async fn a_condition_cannot_be_steered_by_a_value_the_handler_never_reads() {
    let json = r#"{"default_window": 0, "strategies": [{"name": "free-tier", "strategy_weight": 1,
        "parameters": [{"type": "query", "name": "user"}], "rate_limit": 1, "window": 3600,
        "condition": "query.tier == \"free\" && path == \"/plans\""}]}"#;
    let limits = ParamLimits::from_config(&serde_json::from_str::<ParamFlowControlConfig>(json).unwrap()).unwrap();
    let app = Router::new()
        .route(
            "/plans",
            get(|Query(q): Query<HashMap<String, String>>| async move { q.get("tier").cloned().unwrap_or_default() }),
        )
        .layer(ParamFlowControlLayer::new(limits));
    let addr = serve(app).await;
    assert_eq!(get_text(addr, "/plans?tier=free&user=u1", &[]).await, (200, "free".into()));
    assert_eq!(get_text(addr, "/plans?tier=free&user=u1", &[]).await.0, 429);
    let (status, body) = get_text(addr, "/plans?tier=gold&tier=free&user=u1", &[]).await;
    assert_eq!((status, code(&body).as_str()), (400, "AmbiguousParameter"), "{body}");
    // the value and the path as the handler reads them
    assert_eq!(get_text(addr, "/plans?tier=fr%65e&user=u1", &[]).await.0, 429);
    let (status, body) = get_text(addr, "/plans?tier=fr%zze&user=u1", &[]).await;
    assert_eq!((status, code(&body).as_str()), (400, "MalformedParameter"), "{body}");
    assert_eq!(get_text(addr, "/plans?tier=gold&user=u1", &[]).await, (200, "gold".into()));
}

/// Two lines of a key header: a backend may read either, or both joined.
#[tokio::test]
async fn a_repeated_key_header_is_refused() {
    let app = Router::new()
        .route("/", get(|| async { "ok" }))
        .layer(ParamFlowControlLayer::new(one_an_hour("header", "x-user")));
    let addr = serve(app).await;
    assert_eq!(get_text(addr, "/", &[("x-user", "victim")]).await.0, 200);
    assert_eq!(get_text(addr, "/", &[("x-user", "victim")]).await.0, 429);
    let (status, body) = get_text(addr, "/", &[("x-user", "r1"), ("x-user", "victim")]).await;
    assert_eq!((status, code(&body).as_str()), (400, "AmbiguousParameter"));
    assert_eq!(get_text(addr, "/", &[("x-user", "someone")]).await.0, 200);
}

/// A full rate table forgot its soonest-expiring counters: flooding distinct values reset a
/// throttled one. Now a live counter stays; new keys are refused (503) while the table is
/// full of live ones.
#[tokio::test]
async fn flooding_new_keys_never_resets_a_throttled_one() {
    let store = MemoryRateStore::with_capacity(64); // one key per shard
    let svc = FlowControlLayer::with_store(one_an_hour("query", "user"), store.clone())
        .layer(service_fn(|_req: Request<()>| async { Ok::<_, Infallible>(Response::new(String::new())) }));
    let status = |user: String| {
        let svc = svc.clone();
        let req = Request::get(format!("/?user={user}")).body(()).unwrap();
        async move { svc.oneshot(req).await.unwrap() }
    };
    assert_eq!(status("victim".into()).await.status(), StatusCode::OK);
    assert_eq!(status("victim".into()).await.status(), StatusCode::TOO_MANY_REQUESTS);
    let mut full = 0;
    for i in 0..2_000 {
        let resp = status(format!("flood{i}")).await;
        if resp.status() == StatusCode::SERVICE_UNAVAILABLE {
            let body = axum::body::to_bytes(axum::body::Body::new(resp.into_body()), 4096).await.unwrap();
            assert_eq!(code(&String::from_utf8_lossy(&body)), "RateStoreFull");
            full += 1;
        }
    }
    assert_eq!(status("victim".into()).await.status(), StatusCode::TOO_MANY_REQUESTS, "still throttled");
    assert!(full > 1_900, "only {full} refused: the table is bounded");
}

/// The old eviction stays available, documented as weaker: availability over the guarantee.
#[tokio::test]
async fn a_store_may_choose_to_forget_live_keys_when_full() {
    let evicting = MemoryRateStore::with_capacity(64).evict_when_full(true);
    let svc = FlowControlLayer::with_store(one_an_hour("query", "user"), evicting)
        .layer(service_fn(|_req: Request<()>| async { Ok::<_, Infallible>(Response::new(String::new())) }));
    for i in 0..200 {
        let req = Request::get(format!("/?user=u{i}")).body(()).unwrap();
        assert_eq!(svc.clone().oneshot(req).await.unwrap().status(), StatusCode::OK);
    }
}

async fn status_from<P: FlowPolicy>(layer: &FlowControlLayer<P>, from: Option<&str>) -> (StatusCode, String) {
    let svc = layer.layer(service_fn(|_req: Request<()>| async { Ok::<_, Infallible>(Response::new(String::new())) }));
    let mut req = Request::get("/").body(()).unwrap();
    if let Some(from) = from {
        req.extensions_mut().insert(PeerAddr(SocketAddr::new(from.parse::<IpAddr>().unwrap(), 40000)));
    }
    let resp = svc.oneshot(req).await.unwrap();
    let status = resp.status();
    let body = axum::body::to_bytes(axum::body::Body::new(resp.into_body()), 4096).await.unwrap();
    (status, code(&String::from_utf8_lossy(&body)))
}

/// One IPv6 host owns a whole /64: keyed by address, it had 2^64 allowances.
#[tokio::test]
async fn an_ipv6_client_cannot_hop_addresses_in_its_network() {
    let limits = BasicLimits::new(100, Duration::from_secs(3_600), None).unwrap().ip_limit(2).unwrap();
    let special: IpAddr = "2001:db8:0:9::1".parse().unwrap();
    let layer = BasicFlowControlLayer::new(limits.clone().special_ip(special, 3).unwrap());
    assert_eq!(status_from(&layer, Some("2001:db8::1")).await.0, StatusCode::OK);
    assert_eq!(status_from(&layer, Some("2001:db8::2")).await.0, StatusCode::OK);
    for hop in ["2001:db8::3", "2001:db8::ffff:1", "2001:db8:0:0:1234:5678:9abc:def0"] {
        assert_eq!(status_from(&layer, Some(hop)).await.0, StatusCode::TOO_MANY_REQUESTS, "{hop}");
    }
    assert_eq!(status_from(&layer, Some("2001:db8:0:1::1")).await.0, StatusCode::OK, "another /64");
    // a special IP is its exact address, and its neighbours do not share its allowance
    for _ in 0..3 {
        assert_eq!(status_from(&layer, Some("2001:db8:0:9::1")).await.0, StatusCode::OK);
    }
    assert_eq!(status_from(&layer, Some("2001:db8:0:9::1")).await.0, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(status_from(&layer, Some("2001:db8:0:9::2")).await.0, StatusCode::OK, "the general limit for the /64");
}

#[tokio::test]
async fn the_ipv6_prefix_is_configurable_and_validated() {
    let limits = BasicLimits::new(100, Duration::from_secs(3_600), None).unwrap().ip_limit(2).unwrap();
    // a prefix of 128 keys each address apart
    let per_address = BasicFlowControlLayer::new(limits.clone().ipv6_prefix(128).unwrap());
    for host in ["2001:db8::1", "2001:db8::2", "2001:db8::3"] {
        assert_eq!(status_from(&per_address, Some(host)).await.0, StatusCode::OK, "{host}");
    }
    let per_48 = BasicFlowControlLayer::new(limits.clone().ipv6_prefix(48).unwrap());
    for (host, expected) in [("2001:db8:0:1::1", 200), ("2001:db8:0:2::1", 200), ("2001:db8:0:3::1", 429)] {
        assert_eq!(status_from(&per_48, Some(host)).await.0.as_u16(), expected, "{host}");
    }
    for bad in [0, 129] {
        assert_eq!(limits.clone().ipv6_prefix(bad).unwrap_err().field, "ipv6_prefix");
    }
}

#[test]
fn the_ipv6_prefix_is_validated_when_the_gateway_is_built() {
    let config = |prefix: u32| {
        format!(
            "apis:\n  - path: /\n    basic_flow_control: {{expire_type: minute, api_rate_limit: 9, ip_rate_limit: 1, ipv6_prefix: {prefix}}}\n"
        )
    };
    assert!(Gateway::from_config(&config(48), Format::Yaml).is_ok());
    for bad in [0, 129, 300] {
        let err = Gateway::from_config(&config(bad), Format::Yaml).unwrap_err();
        assert_eq!(err.field, "apis[0].basic_flow_control.ipv6_prefix", "{bad}: {err}");
    }
}

/// A policy with an IP limit let a request with no known client address past that limit.
#[tokio::test]
async fn an_unknown_client_address_is_refused_when_the_policy_limits_by_ip() {
    let limits = BasicLimits::new(100, Duration::from_secs(3_600), None).unwrap();
    let by_ip = BasicFlowControlLayer::new(limits.clone().ip_limit(1).unwrap());
    assert_eq!(status_from(&by_ip, None).await, (StatusCode::FORBIDDEN, "IpUnresolved".into()));
    assert_eq!(status_from(&by_ip, Some("10.0.0.1")).await.0, StatusCode::OK);
    let special_only = BasicFlowControlLayer::new(limits.clone().special_ip("10.0.0.9".parse().unwrap(), 5).unwrap());
    assert_eq!(status_from(&special_only, None).await, (StatusCode::FORBIDDEN, "IpUnresolved".into()));
    // no IP dimension: nothing to resolve, no wrongful refusal
    let api_only = BasicFlowControlLayer::new(limits.clone());
    assert_eq!(status_from(&api_only, None).await.0, StatusCode::OK);
}

#[tokio::test]
async fn an_unknown_client_address_may_be_let_past_the_ip_limit_when_asked() {
    let limits = BasicLimits::new(1, Duration::from_secs(3_600), None).unwrap().ip_limit(1).unwrap();
    let passing = BasicFlowControlLayer::new(limits.pass_unresolved(true));
    assert_eq!(status_from(&passing, None).await.0, StatusCode::OK);
    assert_eq!(status_from(&passing, None).await.0, StatusCode::TOO_MANY_REQUESTS, "the API limit still counts it");
}

/// `BasicLimits::new(1, Duration::MAX, Some(Gcra))` was accepted, and its first request
/// panicked on an overflow inside governor.
#[tokio::test]
async fn an_extreme_window_is_an_error_naming_it() {
    for window in [Duration::MAX, Duration::from_secs(367 * 86_400), Duration::ZERO, Duration::from_nanos(999)] {
        for algorithm in [
            None,
            Some(AlgorithmChoice::Gcra),
            Some(AlgorithmChoice::FixedWindow),
            Some(AlgorithmChoice::SlidingWindow),
        ] {
            let err = BasicLimits::new(1, window, algorithm).unwrap_err();
            assert_eq!(err.field, "window", "{window:?} {algorithm:?}");
        }
    }
    let year = BasicLimits::new(u32::MAX, Duration::from_secs(366 * 86_400), Some(AlgorithmChoice::Gcra)).unwrap();
    assert_eq!(status_from(&BasicFlowControlLayer::new(year), None).await.0, StatusCode::OK);
}

fn algorithm() -> impl Strategy<Value = Option<AlgorithmChoice>> {
    prop_oneof![
        Just(None),
        Just(Some(AlgorithmChoice::Gcra)),
        Just(Some(AlgorithmChoice::FixedWindow)),
        Just(Some(AlgorithmChoice::SlidingWindow)),
    ]
}

fn window() -> impl Strategy<Value = Duration> {
    prop_oneof![
        Just(Duration::MAX),
        Just(Duration::ZERO),
        Just(Duration::from_nanos(1)),
        Just(Duration::from_micros(1)),
        Just(Duration::from_secs(366 * 86_400)),
        Just(Duration::from_secs(u64::MAX)),
        any::<u64>().prop_map(Duration::from_nanos),
        any::<u64>().prop_map(Duration::from_secs),
    ]
}

fn limit() -> impl Strategy<Value = u32> {
    prop_oneof![Just(0), Just(1), Just(u32::MAX), any::<u32>()]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Any limit and window, with any algorithm: the builder answers (a policy or an error
    /// naming the argument) and the policy answers requests, with no panic.
    #[test]
    fn no_limit_or_window_panics(limit in limit(), window in window(), algorithm in algorithm(), extra in limit()) {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        match BasicLimits::new(limit, window, algorithm) {
            Err(e) => prop_assert!(e.field == "window" || e.field == "api_rate_limit", "{e}"),
            Ok(limits) => {
                let limits = match limits.ip_limit(extra) {
                    Ok(limits) => limits,
                    Err(e) => { prop_assert_eq!(e.field, "ip_rate_limit"); return Ok(()); }
                };
                let layer = BasicFlowControlLayer::new(limits);
                for _ in 0..3 {
                    let status = rt.block_on(status_from(&layer, Some("10.0.0.1"))).0;
                    prop_assert!(status == StatusCode::OK || status == StatusCode::TOO_MANY_REQUESTS, "{status}");
                }
            }
        }
    }
}

/// The one-line per-key limits read their key as the handler would: a repeated key header
/// is refused (a backend may read either line), leaving the header out shares one allowance
/// (so it escapes nothing), and an unknown client address is refused, never keyed as the
/// proxy.
#[tokio::test]
async fn a_per_key_limit_cannot_be_escaped_by_repeating_or_dropping_its_key() {
    let app = Router::new()
        .route("/", get(|| async { "ok" }))
        .layer(FlowControlLayer::per_header("x-api-key", 1, Duration::from_secs(3_600)).unwrap().rate_headers(false));
    let addr = serve(app).await;
    assert_eq!(get_text(addr, "/", &[("x-api-key", "victim")]).await.0, 200);
    assert_eq!(get_text(addr, "/", &[("x-api-key", "victim")]).await.0, 429);
    let (status, body) = get_text(addr, "/", &[("x-api-key", "fresh"), ("x-api-key", "victim")]).await;
    assert_eq!((status, code(&body).as_str()), (400, "AmbiguousParameter"));
    assert_eq!(get_text(addr, "/", &[]).await.0, 200, "no header: the shared allowance");
    assert_eq!(get_text(addr, "/", &[]).await.0, 429, "no header twice: the same allowance");

    let per_ip = FlowControlLayer::per_client_ip(1, Duration::from_secs(3_600)).unwrap();
    assert_eq!(status_from(&per_ip, None).await, (StatusCode::FORBIDDEN, "IpUnresolved".into()));
    assert_eq!(status_from(&per_ip, Some("10.9.9.9")).await.0, StatusCode::OK);
    assert_eq!(status_from(&per_ip, Some("::ffff:10.9.9.9")).await.0, StatusCode::TOO_MANY_REQUESTS, "mapped");
    assert_eq!(status_from(&per_ip, Some("2001:db8::1")).await.0, StatusCode::OK);
    assert_eq!(status_from(&per_ip, Some("2001:db8::2")).await.0, StatusCode::TOO_MANY_REQUESTS, "same /64");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(100))]

    /// Any limit and window for a per-key limit: a layer or an error naming the argument.
    #[test]
    fn no_per_key_limit_or_window_panics(limit in limit(), window in window()) {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        match FlowControlLayer::per_client_ip(limit, window) {
            Err(e) => prop_assert!(e.field == "window" || e.field == "limit", "{e}"),
            Ok(layer) => {
                let status = rt.block_on(status_from(&layer, Some("10.0.0.1"))).0;
                prop_assert!(status == StatusCode::OK || status == StatusCode::TOO_MANY_REQUESTS, "{status}");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// specials: who may claim one

/// Sends `n` requests through `gateway` from peer `peer`, with `headers` and, when `app` is
/// given, a `Caller` in the extensions (as an authentication layer puts it); how many passed.
async fn passes_through(
    gateway: &tollgate::gateway::GatewayService,
    peer: &str,
    app: Option<&str>,
    headers: &[(&str, &str)],
    n: usize,
) -> usize {
    let mut passed = 0;
    for _ in 0..n {
        let mut req = Request::get("/orders").body(axum::body::Body::empty()).unwrap();
        req.extensions_mut().insert(PeerAddr(SocketAddr::new(peer.parse().unwrap(), 40000)));
        if let Some(app) = app {
            req.extensions_mut().insert(tollgate::Caller::new(app));
        }
        for (name, value) in headers {
            let name = http::HeaderName::from_bytes(name.as_bytes()).unwrap();
            req.headers_mut().append(name, value.parse().unwrap());
        }
        passed += usize::from(gateway.clone().oneshot(req).await.unwrap().status() == StatusCode::OK);
    }
    passed
}

fn gateway_service(text: &str) -> tollgate::gateway::GatewayService {
    Gateway::from_config(text, Format::Yaml).unwrap().into_layer().layer(service_fn(
        |_req: Request<axum::body::Body>| async { Ok::<_, Infallible>(Response::new(axum::body::Body::empty())) },
    ))
}

/// A special ClientIP is free of the app limit: a client that could name its own address in
/// `X-Forwarded-For` would escape every app limit. Only a trusted proxy's word counts.
#[tokio::test]
async fn a_forged_forwarding_header_cannot_claim_a_special_ip() {
    let plugin = "    basic_flow_control: {expire_type: hour, api_rate_limit: 100, app_rate_limit: 1, \
                  spec_ip_rate_limits: [{ip_key: 10.9.9.9, rate_limit: 50}]}\n";
    let direct = gateway_service(&format!("apis:\n  - path: /orders\n{plugin}"));
    for header in ["x-forwarded-for", "x-real-ip", "forwarded"] {
        let value = if header == "forwarded" { "for=10.9.9.9" } else { "10.9.9.9" };
        let app = format!("app-{header}");
        assert_eq!(passes_through(&direct, "127.0.0.1", Some(&app), &[(header, value)], 3).await, 1, "{header}");
    }
    // behind a trusted proxy, the address it forwards is the client's: the special applies
    let proxied = gateway_service(&format!("trusted_proxies: [127.0.0.1]\napis:\n  - path: /orders\n{plugin}"));
    let via = [("x-forwarded-for", "10.9.9.9")];
    assert_eq!(passes_through(&proxied, "127.0.0.1", Some("a1"), &via, 3).await, 3);
    // ... and a client of that proxy cannot prepend the special address to its own hop
    let prepended = [("x-forwarded-for", "10.9.9.9, 192.0.2.7")];
    assert_eq!(passes_through(&proxied, "127.0.0.1", Some("a2"), &prepended, 3).await, 1);
}

/// An Aliyun special app is matched by the caller's exact id: no trimming, no leading zeros,
/// no prefix, no case folding on the request side.
#[tokio::test]
async fn a_lookalike_caller_gets_no_special_apps_allowance() {
    let gateway = gateway_service(
        "apis:\n  - path: /orders\n    aliyun_flow_control:\n      unit: HOUR\n      apiDefault: 1000\n      \
         appDefault: 1\n      specials: [{type: APP, policies: [{key: 10123123, value: 50}, {key: VipApp, value: 50}]}]\n",
    );
    for lookalike in ["10123123 ", " 10123123", "010123123", "1012312", "101231230", "vipapp", "VIPAPP", "VipApp\t"] {
        assert_eq!(passes_through(&gateway, "127.0.0.1", Some(lookalike), &[], 3).await, 1, "{lookalike:?}");
    }
    assert_eq!(passes_through(&gateway, "127.0.0.1", Some("10123123"), &[], 3).await, 3, "the special itself");
}

/// Flow control by app sits inside signature verification: requests that only claim a special
/// app's key (a forged or stale signature) are refused before they count, so they cannot use
/// up the real app's allowance.
#[tokio::test]
async fn forged_requests_in_a_special_apps_name_do_not_drain_its_allowance() {
    use tollgate::signature::{aliyun_apigw::AliyunApiGateway, sign_request};

    let gateway = gateway_service(
        "apis:\n  - path: /orders\n    signature: {scheme: aliyun-apigw, keys: {\"10123123\": s3cret}}\n    \
         aliyun_flow_control: {unit: HOUR, apiDefault: 100, appDefault: 1, \
         specials: [{type: APP, policies: [{key: 10123123, value: 3}]}]}\n",
    );
    let signed = |secret: &str| {
        let req = Request::get("http://api.example.com/orders").body(bytes::Bytes::new()).unwrap();
        let req = sign_request(&AliyunApiGateway::new(), req, "10123123", &secret.into(), std::time::SystemTime::now())
            .unwrap();
        let mut req = req.map(axum::body::Body::from);
        req.extensions_mut().insert(PeerAddr("127.0.0.1:40000".parse().unwrap()));
        req
    };
    for _ in 0..10 {
        let status = gateway.clone().oneshot(signed("wrong")).await.unwrap().status();
        assert!(status == StatusCode::BAD_REQUEST || status == StatusCode::UNAUTHORIZED, "{status}");
    }
    for _ in 0..3 {
        assert_eq!(gateway.clone().oneshot(signed("s3cret")).await.unwrap().status(), StatusCode::OK);
    }
    let refused = gateway.clone().oneshot(signed("s3cret")).await.unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(refused.headers()["x-ca-error-message"], "Throttled by APP Flow Control");
}
