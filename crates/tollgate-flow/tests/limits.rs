//! The flow-control layers under a manual clock: exact counts per window, specials, the
//! smallest limit, strategy order and conditions, refusal shapes, concurrency.

use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use http::{Request, Response, StatusCode};
use tollgate_core::{Caller, ClientIp, ErrorStyle, ManualClock, MemoryRateStore};
use tollgate_flow::{
    AliyunFlowControlConfig, AliyunFlowControlLayer, AliyunLimits, BasicFlowControlConfig, BasicLimits,
    FlowControlLayer, FlowPolicy, ParamFlowControlConfig, ParamLimits,
};
use tower::{Service, ServiceExt, service_fn};

/// 2026-11-23 00:00:00 UTC: a multiple of every window below, so windows start here.
const START: u64 = 1_795_392_000;

fn clock() -> ManualClock {
    ManualClock::at_unix(Duration::from_secs(START))
}

type Svc = tower::util::BoxCloneService<Request<()>, Response<tollgate_core::ResponseBody<String>>, Infallible>;

fn service<P: FlowPolicy>(policy: P, clock: &ManualClock, style: ErrorStyle) -> Svc {
    let layer =
        FlowControlLayer::with_store(policy, MemoryRateStore::new().with_clock(clock.clone())).error_style(style);
    tower::util::BoxCloneService::new(tower::Layer::layer(
        &layer,
        service_fn(|_req: Request<()>| async { Ok::<_, Infallible>(Response::new(String::from("ok"))) }),
    ))
}

fn request(app: Option<&str>, ip: Option<[u8; 4]>, target: &str) -> Request<()> {
    let mut req = Request::get(target).body(()).unwrap();
    if let Some(app) = app {
        req.extensions_mut().insert(Caller::new(app));
    }
    if let Some(ip) = ip {
        req.extensions_mut().insert(ClientIp::direct(IpAddr::V4(Ipv4Addr::from(ip))));
    }
    req
}

async fn send(svc: &mut Svc, req: Request<()>) -> Response<tollgate_core::ResponseBody<String>> {
    svc.ready().await.unwrap().call(req).await.unwrap()
}

async fn passes(svc: &mut Svc, app: Option<&str>, ip: Option<[u8; 4]>, n: usize) -> usize {
    let mut passed = 0;
    for _ in 0..n {
        if send(svc, request(app, ip, "/")).await.status() == StatusCode::OK {
            passed += 1;
        }
    }
    passed
}

fn basic(json: &str) -> BasicLimits {
    BasicLimits::from_config(&serde_json::from_str::<BasicFlowControlConfig>(json).unwrap()).unwrap()
}

#[tokio::test]
async fn exactly_n_per_window_for_every_unit_and_expire() {
    for (unit, expire, seconds) in [
        ("second", 1, 1),
        ("second", 5, 5),
        ("minute", 1, 60),
        ("minute", 3, 180),
        ("hour", 1, 3_600),
        ("hour", 2, 7_200),
        ("day", 1, 86_400),
        ("day", 2, 172_800),
    ] {
        let clock = clock();
        let json = format!(r#"{{"expire_type": "{unit}", "expire": {expire}, "api_rate_limit": 4}}"#);
        let mut svc = service(basic(&json), &clock, ErrorStyle::default());
        for window in 0..3 {
            assert_eq!(passes(&mut svc, None, None, 10).await, 4, "{unit} x{expire}, window {window}");
            // the next window (GCRA: a whole window later the whole burst is back)
            clock.advance(Duration::from_secs(seconds));
        }
    }
}

#[tokio::test]
async fn fixed_window_refills_at_the_calendar_boundary() {
    let clock = clock();
    let mut svc = service(basic(r#"{"expire_type": "minute", "api_rate_limit": 3}"#), &clock, ErrorStyle::default());
    clock.advance(Duration::from_secs(59));
    assert_eq!(passes(&mut svc, None, None, 5).await, 3);
    let refused = send(&mut svc, request(None, None, "/")).await;
    assert_eq!(refused.headers()["retry-after"], "1");
    clock.advance(Duration::from_secs(1));
    assert_eq!(passes(&mut svc, None, None, 5).await, 3, "a fresh N right after the boundary");
}

#[tokio::test]
async fn gcra_gives_a_burst_then_one_per_interval() {
    let clock = clock();
    let mut svc = service(
        basic(r#"{"expire_type": "second", "expire": 10, "api_rate_limit": 5}"#),
        &clock,
        ErrorStyle::default(),
    );
    assert_eq!(passes(&mut svc, None, None, 8).await, 5);
    let refused = send(&mut svc, request(None, None, "/")).await;
    assert_eq!(refused.headers()["retry-after"], "2");
    clock.advance(Duration::from_secs(2));
    assert_eq!(passes(&mut svc, None, None, 3).await, 1, "one per window/N");
}

#[tokio::test]
async fn special_apps_and_ips_replace_the_general_limits_and_the_api_caps_them() {
    let clock = clock();
    let json = r#"{"expire_type": "hour", "api_rate_limit": 12, "app_rate_limit": 1, "ip_rate_limit": 2,
        "spec_app_rate_limits": [{"app_id": "vip", "rate_limit": 5}],
        "spec_ip_rate_limits": [{"ip_key": "172.16.0.1", "rate_limit": 3}]}"#;
    // every limit the policy can apply, listed for the layer to keep their header values
    let mut listed = basic(json).limits();
    listed.sort_unstable();
    assert_eq!(listed, [1, 2, 3, 5, 12]);
    // requests without a client address count here against the API and app limits alone
    let mut svc = service(basic(json).pass_unresolved(true), &clock, ErrorStyle::default());
    assert_eq!(passes(&mut svc, Some("plain"), None, 5).await, 1, "general app limit");
    assert_eq!(passes(&mut svc, Some("vip"), None, 9).await, 5, "special app limit instead");
    assert_eq!(passes(&mut svc, None, Some([10, 0, 0, 1]), 5).await, 2, "general IP limit");
    assert_eq!(passes(&mut svc, None, Some([172, 16, 0, 1]), 5).await, 3, "special IP limit instead");
    // 1 + 5 + 2 + 3 = 11 of the API's 12 used; a new app with a new IP gets only the last one
    assert_eq!(passes(&mut svc, Some("other"), Some([10, 0, 0, 9]), 5).await, 1, "the API limit still caps");
}

#[tokio::test]
async fn a_special_client_ip_replaces_the_app_limit_too() {
    // Tencent: for a special ClientIP "App 流量限制和 ClientIP 流量限制对该应用失效"
    let clock = clock();
    let json = r#"{"expire_type": "hour", "api_rate_limit": 100, "app_rate_limit": 1, "ip_rate_limit": 2,
        "spec_ip_rate_limits": [{"ip_key": "172.16.0.1", "rate_limit": 4}]}"#;
    let mut svc = service(basic(json), &clock, ErrorStyle::default());
    assert_eq!(passes(&mut svc, Some("a1"), Some([172, 16, 0, 1]), 9).await, 4, "the special IP's 4, not the app's 1");
    // the same app from an ordinary address: its general app limit, untouched by the above
    assert_eq!(passes(&mut svc, Some("a1"), Some([10, 0, 0, 1]), 3).await, 1, "the app limit elsewhere");
    let r = send(&mut svc, request(Some("a2"), Some([10, 0, 0, 2]), "/")).await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = send(&mut svc, request(Some("a2"), Some([10, 0, 0, 2]), "/")).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS, "an ordinary IP keeps the app limit");
}

#[tokio::test]
async fn a_special_app_keeps_the_ip_limit_and_a_special_ip_keeps_a_special_apps_own_limit() {
    // Tencent's special app replaces the app (and user) limit only: the IP limit still holds
    let clock = clock();
    let json = r#"{"expire_type": "hour", "api_rate_limit": 100, "app_rate_limit": 1, "ip_rate_limit": 2,
        "spec_app_rate_limits": [{"app_id": "vip", "rate_limit": 3}],
        "spec_ip_rate_limits": [{"ip_key": "172.16.0.1", "rate_limit": 10}]}"#;
    let mut svc = service(basic(json), &clock, ErrorStyle::default());
    assert_eq!(passes(&mut svc, Some("vip"), Some([10, 0, 0, 1]), 5).await, 2, "the IP limit still applies");
    // from the special IP, the special app's own limit is not a general one: it still counts
    assert_eq!(passes(&mut svc, Some("vip"), Some([172, 16, 0, 1]), 5).await, 1, "vip's 3, 2 used above");
    let r = send(&mut svc, request(Some("vip"), Some([172, 16, 0, 1]), "/")).await;
    assert_eq!(r.headers()["content-type"], "application/problem+json");
}

#[tokio::test]
async fn the_smallest_limit_is_reported_and_decides() {
    let clock = clock();
    let json = r#"{"expire_type": "minute", "api_rate_limit": 100, "app_rate_limit": 3, "ip_rate_limit": 50}"#;
    let mut svc = service(basic(json), &clock, ErrorStyle::default());
    let ok = send(&mut svc, request(Some("a"), Some([10, 0, 0, 1]), "/")).await;
    assert_eq!(ok.headers()["x-ratelimit-limit"], "3");
    assert_eq!(ok.headers()["x-ratelimit-remaining"], "2");
    assert_eq!(passes(&mut svc, Some("a"), Some([10, 0, 0, 1]), 5).await, 2);
    let refused = send(&mut svc, request(Some("a"), Some([10, 0, 0, 1]), "/")).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let body = refused.into_body();
    let text = String::from_utf8(http_body_util::BodyExt::collect(body).await.unwrap().to_bytes().to_vec()).unwrap();
    assert!(text.contains("Throttled.App"), "{text}");
}

#[tokio::test]
async fn an_app_over_its_limit_does_not_use_up_the_api() {
    let clock = clock();
    let json = r#"{"expire_type": "minute", "api_rate_limit": 5, "app_rate_limit": 1}"#;
    let mut svc = service(basic(json), &clock, ErrorStyle::default());
    assert_eq!(passes(&mut svc, Some("greedy"), None, 50).await, 1);
    assert_eq!(passes(&mut svc, Some("polite"), None, 1).await, 1);
    assert_eq!(passes(&mut svc, None, None, 10).await, 3, "5 - 2: the greedy app's refusals took nothing");
}

fn param(json: &str) -> ParamLimits {
    ParamLimits::from_config(&serde_json::from_str::<ParamFlowControlConfig>(json).unwrap()).unwrap()
}

#[tokio::test]
async fn strategies_key_by_value_skip_on_false_conditions_and_absent_parameters() {
    let clock = clock();
    let json = r#"{"default_window": 60, "default_rate_limit": 100, "strategies": [
        {"name": "per-user", "strategy_weight": 10, "parameters": [{"type": "header", "name": "x-user"}],
         "rate_limit": 2, "window": 60, "condition": ""},
        {"name": "vip-only", "strategy_weight": 90, "parameters": [{"type": "query", "name": "sku"}],
         "rate_limit": 1, "window": 60, "condition": "header.x-level = 'vip'"}]}"#;
    let limits = param(json);
    assert_eq!(limits.order().collect::<Vec<_>>(), ["vip-only", "per-user"], "descending weight");
    let mut listed = limits.limits();
    listed.sort_unstable();
    assert_eq!(listed, [1, 2, 100], "the strategies' and the default's");
    let mut svc = service(limits, &clock, ErrorStyle::default());
    let req = |user: Option<&str>, level: &str, sku: &str| {
        let mut b = Request::get(format!("/orders?sku={sku}")).header("x-level", level);
        if let Some(user) = user {
            b = b.header("x-user", user);
        }
        b.body(()).unwrap()
    };
    let mut ok = 0;
    for _ in 0..5 {
        ok += usize::from(send(&mut svc, req(Some("u1"), "basic", "s1")).await.status() == StatusCode::OK);
    }
    assert_eq!(ok, 2, "per user value");
    assert_eq!(
        send(&mut svc, req(Some("u2"), "basic", "s1")).await.status(),
        StatusCode::OK,
        "another value, its own allowance"
    );
    // the vip strategy applies only to vip requests, keyed by sku
    assert_eq!(send(&mut svc, req(Some("u3"), "vip", "s9")).await.status(), StatusCode::OK);
    assert_eq!(send(&mut svc, req(Some("u4"), "vip", "s9")).await.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        send(&mut svc, req(Some("u4"), "basic", "s9")).await.status(),
        StatusCode::OK,
        "condition false: skipped"
    );
    // no x-user header: the per-user strategy does not apply
    let mut ok = 0;
    for _ in 0..5 {
        ok += usize::from(send(&mut svc, req(None, "basic", "s1")).await.status() == StatusCode::OK);
    }
    assert_eq!(ok, 5);
}

#[tokio::test]
async fn the_default_limit_applies_first() {
    let clock = clock();
    let json = r#"{"default_window": 60, "default_rate_limit": 3, "strategies": [
        {"name": "path", "strategy_weight": 0, "parameters": [{"type": "path"}], "rate_limit": 100, "window": 60}]}"#;
    let mut svc = service(param(json), &clock, ErrorStyle::default());
    assert_eq!(passes(&mut svc, None, None, 10).await, 3);
}

#[test]
fn param_config_errors_name_the_field() {
    let err = |json: &str| {
        ParamLimits::from_config(&serde_json::from_str::<ParamFlowControlConfig>(json).unwrap())
            .unwrap_err()
            .to_string()
    };
    let strategy = |name: &str, weight: u32, extra: &str| {
        format!(
            r#"{{"name": "{name}", "strategy_weight": {weight}, "parameters": [{{"type": "query", "name": "a"}}], "rate_limit": 1, "window": 1{extra}}}"#
        )
    };
    assert!(err(r#"{"default_window": 0, "strategies": []}"#).starts_with("strategies:"));
    let eleven: Vec<String> = (0..11).map(|i| strategy(&format!("s{i}"), i, "")).collect();
    assert!(
        err(&format!(r#"{{"default_window": 0, "strategies": [{}]}}"#, eleven.join(","))).starts_with("strategies:")
    );
    let dup = format!(r#"{{"default_window": 0, "strategies": [{}, {}]}}"#, strategy("a", 1, ""), strategy("a", 2, ""));
    assert!(err(&dup).starts_with("strategies[1].name:"), "{}", err(&dup));
    let dup = format!(r#"{{"default_window": 0, "strategies": [{}, {}]}}"#, strategy("a", 1, ""), strategy("b", 1, ""));
    assert!(err(&dup).starts_with("strategies[1].strategy_weight:"));
    let long = format!(r#"{{"default_window": 0, "strategies": [{}]}}"#, strategy(&"n".repeat(51), 1, ""));
    assert!(err(&long).starts_with("strategies[0].name:"));
    let heavy = format!(r#"{{"default_window": 0, "strategies": [{}]}}"#, strategy("a", 101, ""));
    assert!(err(&heavy).starts_with("strategies[0].strategy_weight:"));
    let bad =
        format!(r#"{{"default_window": 0, "strategies": [{}]}}"#, strategy("a", 1, r#", "condition": "header.x ==""#));
    assert!(err(&bad).starts_with("strategies[0].condition: at byte"), "{}", err(&bad));
    let zero = r#"{"default_window": 0, "strategies": [{"name": "a", "strategy_weight": 1, "parameters": [{"type": "query", "name": "a"}], "rate_limit": 0, "window": 1}]}"#;
    assert!(err(zero).starts_with("strategies[0].rate_limit:"));
    assert!(
        err(r#"{"default_window": 60, "default_rate_limit": 0, "strategies": []}"#).starts_with("default_rate_limit:")
    );
}

#[test]
fn basic_config_errors_name_the_field() {
    let err = |json: &str| {
        BasicLimits::from_config(&serde_json::from_str::<BasicFlowControlConfig>(json).unwrap())
            .unwrap_err()
            .to_string()
    };
    assert!(err(r#"{"expire_type": "hour", "api_rate_limit": 0}"#).starts_with("api_rate_limit:"));
    assert!(err(r#"{"expire_type": "hour", "api_rate_limit": 5, "ip_rate_limit": 0}"#).starts_with("ip_rate_limit:"));
    assert!(err(r#"{"expire_type": "hour", "expire": 0, "api_rate_limit": 5}"#).starts_with("expire:"));
    let ips =
        r#"{"expire_type": "hour", "api_rate_limit": 5, "spec_ip_rate_limits": [{"ip_key": "nope", "rate_limit": 1}]}"#;
    assert!(err(ips).starts_with("spec_ip_rate_limits[0].ip_key:"));
    let many: Vec<String> = (0..31).map(|i| format!(r#"{{"app_id": "a{i}", "rate_limit": 1}}"#)).collect();
    let many =
        format!(r#"{{"expire_type": "hour", "api_rate_limit": 5, "spec_app_rate_limits": [{}]}}"#, many.join(","));
    assert!(err(&many).starts_with("spec_app_rate_limits:"));
    assert!(serde_json::from_str::<BasicFlowControlConfig>(r#"{"expire_type": "week", "api_rate_limit": 5}"#).is_err());
}

fn aliyun(json: &str) -> Result<AliyunLimits, String> {
    AliyunLimits::from_config(&serde_json::from_str::<AliyunFlowControlConfig>(json).unwrap())
        .map_err(|e| e.to_string())
}

#[test]
fn aliyun_tiers_must_nest() {
    assert!(aliyun(r#"{"Unit": "MINUTE", "ApiDefault": 100, "UserDefault": 50, "AppDefault": 10}"#).is_ok());
    assert!(
        aliyun(r#"{"Unit": "MINUTE", "ApiDefault": 100, "UserDefault": 500}"#)
            .unwrap_err()
            .contains("InvalidUserDefault")
    );
    assert!(
        aliyun(r#"{"Unit": "MINUTE", "ApiDefault": 100, "UserDefault": 50, "AppDefault": 60}"#)
            .unwrap_err()
            .contains("InvalidAppDefault")
    );
    assert!(
        aliyun(r#"{"Unit": "MINUTE", "ApiDefault": 100, "AppDefault": 101}"#)
            .unwrap_err()
            .contains("InvalidAppDefault")
    );
    assert!(aliyun(r#"{"Unit": "DAY", "ApiDefault": 100000001}"#).unwrap_err().contains("InvalidApiDefault"));
}

#[tokio::test]
async fn aliyun_refusals_name_the_tier() {
    let clock = clock();
    let json = r#"{"Unit": "MINUTE", "ApiDefault": 4, "UserDefault": 2, "AppDefault": 1,
        "SpecialControls": [{"SpecialType": "APP", "SpecialKey": "big", "TrafficValue": 2}]}"#;
    let limits = aliyun(json).unwrap();
    let config: AliyunFlowControlConfig = serde_json::from_str(json).unwrap();
    assert!(AliyunFlowControlLayer::from_config(&config).is_ok());
    let mut svc = service(limits, &clock, ErrorStyle::AliyunApiGateway);
    let caller = |app: &str, user: &str| {
        let mut req = Request::get("/").body(()).unwrap();
        req.extensions_mut().insert(Caller::new(app).with_user(user));
        req
    };
    let message = |r: &Response<_>| r.headers()["x-ca-error-message"].to_str().unwrap().to_owned();
    assert_eq!(send(&mut svc, caller("a1", "u1")).await.status(), StatusCode::OK);
    let r = send(&mut svc, caller("a1", "u1")).await;
    assert_eq!((r.status(), message(&r).as_str()), (StatusCode::FORBIDDEN, "Throttled by APP Flow Control"));
    assert_eq!(send(&mut svc, caller("a2", "u1")).await.status(), StatusCode::OK);
    let r = send(&mut svc, caller("a3", "u1")).await;
    assert_eq!(message(&r), "Throttled by USER Flow Control");
    assert_eq!(send(&mut svc, caller("big", "u2")).await.status(), StatusCode::OK);
    assert_eq!(send(&mut svc, caller("big", "u3")).await.status(), StatusCode::OK, "special app: 2");
    let r = send(&mut svc, caller("a4", "u4")).await;
    assert_eq!(message(&r), "Throttled by API Flow Control");
}

#[tokio::test]
async fn refusals_in_each_style() {
    for (style, status) in [
        (ErrorStyle::default(), StatusCode::TOO_MANY_REQUESTS),
        (ErrorStyle::AliyunRpc, StatusCode::BAD_REQUEST),
        (ErrorStyle::TencentCloud, StatusCode::OK),
        (ErrorStyle::TencentApiGateway, StatusCode::TOO_MANY_REQUESTS),
    ] {
        let clock = clock();
        let mut svc = service(basic(r#"{"expire_type": "minute", "api_rate_limit": 1}"#), &clock, style.clone());
        send(&mut svc, request(None, None, "/")).await;
        let r = send(&mut svc, request(None, None, "/")).await;
        assert_eq!(r.status(), status, "{style:?}");
        assert_eq!(r.headers()["retry-after"], "60", "{style:?}");
        let body = http_body_util::BodyExt::collect(r.into_body()).await.unwrap().to_bytes();
        let body = String::from_utf8_lossy(&body);
        let expected = match style {
            ErrorStyle::AliyunRpc => "Throttling.API",
            ErrorStyle::TencentCloud => "RequestLimitExceeded",
            ErrorStyle::TencentApiGateway => "API rate limit exceeded",
            _ => "Throttled.Api",
        };
        assert!(body.contains(expected), "{style:?}: {body}");
    }
}

#[tokio::test]
async fn ietf_headers_on_request() {
    let clock = clock();
    let layer = FlowControlLayer::with_store(
        basic(r#"{"expire_type": "minute", "api_rate_limit": 10}"#),
        MemoryRateStore::new().with_clock(clock.clone()),
    )
    .ietf_headers(true);
    let svc =
        tower::Layer::layer(&layer, service_fn(|_r: Request<()>| async { Ok::<_, Infallible>(Response::new(())) }));
    clock.advance(Duration::from_secs(20));
    let r = svc.oneshot(Request::new(())).await.unwrap();
    assert_eq!(r.headers()["ratelimit-policy"], r#""flow";q=10;w=60"#);
    assert_eq!(r.headers()["ratelimit"], r#""flow";r=9;t=40"#);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_tasks_on_one_key_never_exceed_the_limit() {
    for algorithm in ["fixed_window", "gcra", "sliding_window"] {
        let json = format!(r#"{{"expire_type": "hour", "api_rate_limit": 100, "algorithm": "{algorithm}"}}"#);
        let svc = service(basic(&json), &clock(), ErrorStyle::default());
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let mut svc = svc.clone();
                tokio::spawn(async move { passes(&mut svc, None, None, 50).await })
            })
            .collect();
        let mut total = 0;
        for t in tasks {
            total += t.await.unwrap();
        }
        assert_eq!(total, 100, "{algorithm}");
    }
}

#[tokio::test]
async fn built_from_code_as_from_json() {
    let clock = clock();
    let limits = BasicLimits::new(10, Duration::from_secs(3_600), None)
        .unwrap()
        .app_limit(1)
        .unwrap()
        .ip_limit(2)
        .unwrap()
        .special_app("vip", 3)
        .unwrap()
        .special_ip(IpAddr::V4(Ipv4Addr::new(172, 16, 0, 1)), 4)
        .unwrap()
        .pass_unresolved(true);
    assert!(limits.clone().special_app("vip", 5).unwrap_err().field.starts_with("spec_app_rate_limits[1]"));
    assert_eq!(limits.clone().ip_limit(0).unwrap_err().field, "ip_rate_limit");
    let mut svc = service(limits, &clock, ErrorStyle::default());
    assert_eq!(passes(&mut svc, Some("plain"), None, 5).await, 1);
    assert_eq!(passes(&mut svc, Some("vip"), None, 5).await, 3);
    assert_eq!(passes(&mut svc, None, Some([172, 16, 0, 1]), 9).await, 4);
    assert_eq!(passes(&mut svc, None, Some([10, 0, 0, 1]), 9).await, 2, "10 - 1 - 3 - 4 = 2 left for the API too");
}

/// The in-memory store, answering only through futures that wait once before they are
/// ready, as a networked store's do: the layer's path for stores that must be awaited.
#[derive(Clone)]
struct Awaited(MemoryRateStore);

type Later<T> = std::pin::Pin<Box<dyn std::future::Future<Output = Result<T, tollgate_core::StoreError>> + Send>>;

fn later<T: Send + 'static>(value: Result<T, tollgate_core::StoreError>) -> Later<T> {
    Box::pin(async move {
        tokio::task::yield_now().await;
        value
    })
}

impl tollgate_core::RateStore for Awaited {
    type Future = Later<tollgate_core::RateDecision>;
    type AllFuture = Later<Vec<tollgate_core::RateDecision>>;

    fn take(&self, key: &str, quota: &tollgate_core::RateQuota, cost: u32) -> Self::Future {
        later(self.0.take_now(key, quota, cost))
    }

    fn take_all(&self, takes: &[tollgate_core::RateTake<'_>], cost: u32) -> Self::AllFuture {
        later(self.0.take_all_now(takes, cost))
    }
}

#[tokio::test]
async fn a_store_that_must_be_awaited_answers_as_one_that_answers_at_once() {
    let json = r#"{"expire_type": "minute", "api_rate_limit": 5, "app_rate_limit": 3, "ip_rate_limit": 4}"#;
    let (clock_now, clock_later) = (clock(), clock());
    let mut now = service(basic(json), &clock_now, ErrorStyle::AliyunApiGateway);
    let layer =
        FlowControlLayer::with_store(basic(json), Awaited(MemoryRateStore::new().with_clock(clock_later.clone())))
            .error_style(ErrorStyle::AliyunApiGateway);
    let inner = service_fn(|_req: Request<()>| async { Ok::<_, Infallible>(Response::new(String::from("ok"))) });
    let mut awaited: Svc = tower::util::BoxCloneService::new(tower::Layer::layer(&layer, inner));
    let seen = |r: &Response<tollgate_core::ResponseBody<String>>| {
        let header = |name: &str| r.headers().get(name).map(|v| v.to_str().unwrap().to_owned());
        (r.status(), header("x-ratelimit-limit"), header("x-ratelimit-remaining"), header("x-ca-error-message"))
    };
    let callers = [(Some("a"), Some([10, 0, 0, 1])), (Some("b"), Some([10, 0, 0, 1])), (None, Some([10, 0, 0, 2]))];
    let mut refused = 0;
    for round in 0..4 {
        for (app, ip) in callers {
            let (a, b) = (send(&mut now, request(app, ip, "/")).await, send(&mut awaited, request(app, ip, "/")).await);
            assert_eq!(seen(&a), seen(&b), "round {round}, {app:?} from {ip:?}");
            refused += usize::from(a.status() != StatusCode::OK);
        }
    }
    assert!(refused > 0, "the limits were reached, so refusals were compared too");
}
