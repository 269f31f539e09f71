//! Aliyun's `trafficControl` plug-in (basic template) beside the OpenAPI form: the spec's
//! examples verbatim, the algorithm `controlMode` chooses under a manual clock, specials,
//! refusals, configuration errors naming the field, and property tests of the reading.

use std::convert::Infallible;
use std::time::Duration;

use http::{Request, Response, StatusCode};
use proptest::prelude::*;
use tollgate_core::{Algorithm, Caller, ErrorStyle, ManualClock, MemoryRateStore};
use tollgate_flow::{
    AliyunFlowControlConfig, AliyunFlowControlLayer, AliyunForm, AliyunLimits, Checks, FlowControlLayer, FlowPolicy,
    FlowRequest, Tier,
};
use tower::{Service, ServiceExt, service_fn};

/// §A1.1 of the cloud-plugins spec, verbatim (comments included).
const TEMPLATE: &str = include_str!("../../../tests/fixtures/cloud-plugins/aliyun-traffic-control.yaml");

/// The CreatePlugin example (`--- unit: SECOND apiDefault: 1000 userDefault: 30 appDefault: 30
/// specials: - type: "APP" policies: - key: 10123123 value: 10 - key: 10123123 value: 10`),
/// re-flowed as YAML, its duplicate key kept.
const CREATE_PLUGIN: &str =
    include_str!("../../../tests/fixtures/cloud-plugins/aliyun-traffic-control-create-plugin.yaml");

/// 2026-11-23 00:00:00 UTC: a multiple of every window below, so windows start here.
const START: u64 = 1_795_392_000;

type Svc = tower::util::BoxCloneService<Request<()>, Response<tollgate_core::ResponseBody<String>>, Infallible>;

fn yaml(text: &str) -> AliyunFlowControlConfig {
    serde_norway::from_str(text).unwrap()
}

fn limits(text: &str) -> AliyunLimits {
    AliyunLimits::from_config(&yaml(text)).unwrap()
}

/// Build error as `field: problem`.
fn error(text: &str) -> (String, String) {
    let e = AliyunLimits::from_config(&yaml(text)).unwrap_err();
    (e.field.clone(), e.to_string())
}

fn service(limits: AliyunLimits, clock: &ManualClock) -> Svc {
    let layer = FlowControlLayer::with_store(limits, MemoryRateStore::new().with_clock(clock.clone()))
        .error_style(ErrorStyle::AliyunApiGateway);
    tower::util::BoxCloneService::new(tower::Layer::layer(
        &layer,
        service_fn(|_req: Request<()>| async { Ok::<_, Infallible>(Response::new(String::from("ok"))) }),
    ))
}

fn from(app: Option<&str>, user: Option<&str>) -> Request<()> {
    let mut req = Request::get("/").body(()).unwrap();
    if let Some(app) = app {
        let caller = Caller::new(app);
        req.extensions_mut().insert(match user {
            Some(user) => caller.with_user(user),
            None => caller,
        });
    }
    req
}

async fn send(svc: &mut Svc, req: Request<()>) -> Response<tollgate_core::ResponseBody<String>> {
    svc.ready().await.unwrap().call(req).await.unwrap()
}

/// How many of `n` requests pass, and the `X-Ca-Error-Message` of the last refusal.
async fn passes(svc: &mut Svc, app: Option<&str>, user: Option<&str>, n: usize) -> (usize, Option<String>) {
    let (mut passed, mut message) = (0, None);
    for _ in 0..n {
        let r = send(svc, from(app, user)).await;
        if r.status() == StatusCode::OK {
            passed += 1;
        } else {
            message = r.headers().get("x-ca-error-message").map(|v| v.to_str().unwrap().to_owned());
        }
    }
    (passed, message)
}

fn app_refusal() -> Option<String> {
    Some("Throttled by APP Flow Control".into())
}

// ---------------------------------------------------------------------------------------
// the spec's examples

#[test]
fn the_template_verbatim_reads_every_field() {
    let config = yaml(TEMPLATE);
    assert_eq!(config.form, AliyunForm::Plugin);
    assert_eq!((config.api_default, config.user_default, config.app_default), (1000, Some(30), Some(30)));
    assert_eq!(config.control_mode.as_deref(), Some("FIX_WINDOW"));
    assert_eq!(config.blocking_mode.as_deref(), Some("QUICK_RETURN"));
    assert_eq!(config.specials.len(), 1);
    assert_eq!(config.specials[0].kind, "APP");
    assert_eq!((config.specials[0].policies[0].key.as_str(), config.specials[0].policies[0].value), ("10123123", 10));
    let limits = AliyunLimits::from_config(&config).unwrap();
    assert_eq!(limits.api().limit(), 1000);
    // the API's, the user's, the app's and the special app's, for the layer to keep
    let mut listed = tollgate_flow::FlowPolicy::limits(&limits);
    listed.sort_unstable();
    assert_eq!(listed, [10, 30, 30, 1000]);
    assert!(matches!(limits.api().algorithm(), Algorithm::FixedWindow { .. }), "FIX_WINDOW at SECOND");
    assert_eq!(limits.status(), None);
}

#[tokio::test]
async fn the_template_is_a_fixed_window_at_second() {
    let clock = ManualClock::at_unix(Duration::from_secs(START));
    let mut svc = service(limits(TEMPLATE), &clock);
    assert_eq!(passes(&mut svc, Some("20000001"), None, 31).await, (30, app_refusal()), "appDefault 30");
    assert_eq!(passes(&mut svc, Some("10123123"), None, 11).await, (10, app_refusal()), "the special app's 10");
    // nothing returns inside the calendar second: no refill as a token bucket would give
    clock.advance(Duration::from_millis(999));
    assert_eq!(passes(&mut svc, Some("10123123"), None, 1).await.0, 0);
    clock.advance(Duration::from_millis(1));
    assert_eq!(passes(&mut svc, Some("10123123"), None, 11).await, (10, app_refusal()), "a fresh window");
    let r = send(&mut svc, from(Some("10123123"), None)).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "Aliyun's FAQ status unless statusCode says otherwise");
}

#[tokio::test]
async fn the_create_plugin_example_is_a_token_bucket_at_second() {
    let config = yaml(CREATE_PLUGIN);
    assert_eq!(config.control_mode, None);
    let limits = AliyunLimits::from_config(&config).unwrap();
    assert_eq!(limits.api().algorithm(), Algorithm::Gcra, "no controlMode: SECOND's token bucket");
    let clock = ManualClock::at_unix(Duration::from_secs(START));
    let mut svc = service(limits, &clock);
    assert_eq!(passes(&mut svc, Some("10123123"), None, 11).await, (10, app_refusal()), "a burst of 10");
    // one token every 1/10 s, none before
    clock.advance(Duration::from_millis(99));
    assert_eq!(passes(&mut svc, Some("10123123"), None, 1).await.0, 0);
    clock.advance(Duration::from_millis(1));
    assert_eq!(passes(&mut svc, Some("10123123"), None, 3).await.0, 1, "exactly one token back");
    assert_eq!(passes(&mut svc, Some("other"), None, 31).await, (30, app_refusal()), "appDefault 30");
}

#[tokio::test]
async fn the_api_limit_applies_to_every_request_and_refuses_as_aliyun_does() {
    let clock = ManualClock::at_unix(Duration::from_secs(START));
    let mut svc = service(limits("unit: MINUTE\napiDefault: 3\n"), &clock);
    let api = Some("Throttled by API Flow Control".to_owned());
    assert_eq!(passes(&mut svc, None, None, 2).await, (2, None));
    assert_eq!(passes(&mut svc, Some("a"), None, 3).await, (1, api.clone()), "callers or not, one API limit");
    clock.advance(Duration::from_secs(60));
    assert_eq!(passes(&mut svc, None, None, 4).await, (3, api));
}

#[tokio::test]
async fn status_code_sets_the_refusal_status() {
    let config = yaml("unit: MINUTE\napiDefault: 1\nstatusCode: 429\n");
    let layer = AliyunFlowControlLayer::from_config(&config).unwrap();
    let svc = tower::Layer::layer(
        &layer,
        service_fn(|_req: Request<()>| async { Ok::<_, Infallible>(Response::new(String::from("ok"))) }),
    );
    assert_eq!(svc.clone().oneshot(from(None, None)).await.unwrap().status(), StatusCode::OK);
    let refused = svc.oneshot(from(None, None)).await.unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.headers()["x-ca-error-message"], "Throttled by API Flow Control");
}

#[test]
fn sencond_as_one_doc_version_spells_it_is_a_second() {
    let config = yaml("unit: SENCOND\napiDefault: 5\n");
    assert_eq!(AliyunLimits::from_config(&config).unwrap().api().window(), Duration::from_secs(1));
}

// ---------------------------------------------------------------------------------------
// specials

#[tokio::test]
async fn a_special_replaces_both_base_limits_and_the_api_limit_still_applies() {
    // "流控策略基础的APP流量限制和用户流量限制对该 APP 或用户失效"
    let text = "
unit: MINUTE
apiDefault: 12
userDefault: 2
appDefault: 1
specials:
  - type: APP
    policies: [{key: vip, value: 4}]
  - type: USER
    policies: [{key: big, value: 5}]
";
    let clock = ManualClock::at_unix(Duration::from_secs(START));
    let mut svc = service(limits(text), &clock);
    let user = Some("Throttled by USER Flow Control".to_owned());
    // a special app: its 4, not the user's base 2
    assert_eq!(passes(&mut svc, Some("vip"), Some("u1"), 6).await, (4, app_refusal()));
    // a special user's app: the user's 5, not the app's base 1
    assert_eq!(passes(&mut svc, Some("a1"), Some("big"), 6).await, (5, user));
    // an ordinary caller: the base app limit
    assert_eq!(passes(&mut svc, Some("a2"), Some("u2"), 2).await, (1, app_refusal()));
    // 4 + 5 + 1 of the API's 12: the API limit caps specials too
    let api = Some("Throttled by API Flow Control".to_owned());
    assert_eq!(passes(&mut svc, Some("vip"), Some("u3"), 1).await, (0, app_refusal()));
    assert_eq!(passes(&mut svc, None, None, 3).await, (2, api));
}

#[tokio::test]
async fn a_special_listed_twice_takes_its_later_value_in_both_forms() {
    let clock = ManualClock::at_unix(Duration::from_secs(START));
    let plugin = "
unit: HOUR
apiDefault: 100
appDefault: 1
specials:
  - type: APP
    policies: [{key: 7, value: 2}]
  - type: APP
    policies: [{key: \"7\", value: 5}]
";
    let mut svc = service(limits(plugin), &clock);
    assert_eq!(passes(&mut svc, Some("7"), None, 9).await.0, 5, "AddTrafficSpecialControl overwrites");
    let openapi = r#"{"Unit": "HOUR", "ApiDefault": 100, "AppDefault": 1, "SpecialControls": [
        {"SpecialType": "APP", "SpecialKey": "7", "TrafficValue": 5},
        {"SpecialType": "APP", "SpecialKey": 7, "TrafficValue": 2}]}"#;
    let config: AliyunFlowControlConfig = serde_json::from_str(openapi).unwrap();
    let mut svc = service(AliyunLimits::from_config(&config).unwrap(), &clock);
    assert_eq!(passes(&mut svc, Some("7"), None, 9).await.0, 2);
}

// ---------------------------------------------------------------------------------------
// configuration errors

#[test]
fn control_mode_other_than_fix_window_is_refused_naming_it() {
    for mode in ["TOKEN_BUCKET", "fix_window", "", "SLIDING_WINDOW"] {
        let (field, message) = error(&format!("unit: SECOND\napiDefault: 5\ncontrolMode: \"{mode}\"\n"));
        assert_eq!(field, "controlMode", "{mode}");
        assert!(message.contains("expected FIX_WINDOW"), "{message}");
    }
}

#[test]
fn blocking_mode_other_than_quick_return_is_refused_saying_queueing_is_not_offered() {
    for mode in ["QUEUE", "BLOCKING", "quick_return"] {
        let (field, message) = error(&format!("unit: SECOND\napiDefault: 5\nblockingMode: {mode}\n"));
        assert_eq!(field, "blockingMode");
        assert!(message.contains("queueing") && message.contains("not offered"), "{message}");
    }
}

#[test]
fn specials_errors_name_the_group_and_the_policy() {
    let special = |kind: &str, key: &str, value: &str| {
        error(&format!(
            "unit: MINUTE\napiDefault: 100\nspecials:\n  - type: {kind}\n    policies: [{{key: {key}, value: {value}}}]\n"
        ))
    };
    let (field, message) = special("APPS", "1", "5");
    assert_eq!(field, "specials[0].type");
    assert!(message.contains("expected APP or USER"), "{message}");
    let (field, message) = special("APP", "1", "101");
    assert_eq!(field, "specials[0].policies[0].value");
    assert!(message.contains("may not exceed apiDefault (100)"), "{message}");
    assert_eq!(special("USER", "1", "0").0, "specials[0].policies[0].value");
    assert_eq!(special("USER", "\"  \"", "5").0, "specials[0].policies[0].key");
    let second = "unit: MINUTE\napiDefault: 100\nspecials:\n  - type: USER\n    policies: [{key: a, value: 1}]\n  \
                  - type: APP\n    policies: [{key: a, value: 1}, {key: b, value: 200}]\n";
    assert_eq!(error(second).0, "specials[1].policies[1].value");
}

#[test]
fn tiers_must_nest_and_errors_use_the_spelling_written() {
    assert_eq!(error("unit: DAY\napiDefault: 10\nuserDefault: 11\n").0, "userDefault");
    let (field, message) = error("unit: DAY\napiDefault: 10\nuserDefault: 5\nappDefault: 6\n");
    assert_eq!(field, "appDefault");
    assert!(message.contains("InvalidAppDefault: 6 exceeds userDefault"), "{message}");
    assert_eq!(error("unit: DAY\napiDefault: 100000001\n").0, "apiDefault");
    assert_eq!(error("unit: DAY\napiDefault: 0\n").0, "apiDefault");
    assert_eq!(error("unit: DAY\napiDefault: 10\nstatusCode: 200\n").0, "statusCode");
    let openapi: AliyunFlowControlConfig = serde_json::from_str(
        r#"{"Unit": "DAY", "ApiDefault": 10, "SpecialControls": [{"SpecialType": "USER", "SpecialKey": "u", "TrafficValue": 11}]}"#,
    )
    .unwrap();
    assert_eq!(AliyunLimits::from_config(&openapi).unwrap_err().field, "SpecialControls[0].TrafficValue");
    let openapi: AliyunFlowControlConfig =
        serde_json::from_str(r#"{"Unit": "DAY", "ApiDefault": 10, "UserDefault": 11}"#).unwrap();
    assert_eq!(AliyunLimits::from_config(&openapi).unwrap_err().field, "UserDefault");
}

#[test]
fn reading_refuses_mixed_spellings_missing_fields_and_strangers() {
    let read = |text: &str| serde_norway::from_str::<AliyunFlowControlConfig>(text).unwrap_err().to_string();
    assert!(read("unit: DAY\nApiDefault: 10\n").contains("not both"));
    assert!(read("unit: DAY\napiDefault: 10\nUnit: DAY\n").contains("not both"));
    assert!(read("unit: DAY\n").contains("missing field `apiDefault`"));
    assert!(read("Unit: DAY\n").contains("missing field `ApiDefault`"));
    assert!(read("unit: WEEK\napiDefault: 1\n").contains("unknown variant"));
    assert!(read("unit: DAY\napiDefault: 1\nqueueSize: 10\n").contains("unknown field"));
    assert!(
        read("unit: DAY\napiDefault: 1\nspecials: [{type: APP, policies: [{key: -1, value: 1}]}]\n").contains("id")
    );
}

// ---------------------------------------------------------------------------------------
// property tests

/// A generated plug-in configuration and what Aliyun's rules say of it.
#[derive(Debug, Clone)]
struct Generated {
    unit: &'static str,
    api: u64,
    user: Option<u64>,
    app: Option<u64>,
    control: Option<String>,
    blocking: Option<String>,
    specials: Vec<(String, Vec<(Key, u64)>)>,
}

#[derive(Debug, Clone)]
enum Key {
    Number(u64),
    Text(String),
}

impl Key {
    fn json(&self) -> serde_json::Value {
        match self {
            Self::Number(n) => serde_json::json!(n),
            Self::Text(t) => serde_json::json!(t),
        }
    }
    fn text(&self) -> String {
        match self {
            Self::Number(n) => n.to_string(),
            Self::Text(t) => t.clone(),
        }
    }
}

fn generated() -> impl Strategy<Value = Generated> {
    let limit = prop_oneof![8 => 0u64..=120, 1 => Just(100_000_001u64), 1 => any::<u64>()];
    let key = prop_oneof![(0u64..50).prop_map(Key::Number), "[a-c ]{0,3}".prop_map(Key::Text)];
    let mode =
        |good: &'static str| proptest::option::of(prop_oneof![3 => Just(good.to_owned()), 1 => "[A-Z_a-z]{0,12}"]);
    (
        prop_oneof![Just("SECOND"), Just("MINUTE"), Just("HOUR"), Just("DAY"), Just("SENCOND")],
        limit.clone(),
        proptest::option::of(limit.clone()),
        proptest::option::of(limit.clone()),
        mode("FIX_WINDOW"),
        mode("QUICK_RETURN"),
        proptest::collection::vec(
            (
                prop_oneof![4 => Just("APP".to_owned()), 4 => Just("USER".to_owned()), 1 => "[A-Z]{0,5}"],
                proptest::collection::vec((key, limit), 0..4),
            ),
            0..3,
        ),
    )
        .prop_map(|(unit, api, user, app, control, blocking, specials)| Generated {
            unit,
            api,
            user,
            app,
            control,
            blocking,
            specials,
        })
}

impl Generated {
    fn plugin_json(&self) -> serde_json::Value {
        let mut v = serde_json::json!({"unit": self.unit, "apiDefault": self.api});
        let o = v.as_object_mut().unwrap();
        if let Some(u) = self.user {
            o.insert("userDefault".into(), u.into());
        }
        if let Some(a) = self.app {
            o.insert("appDefault".into(), a.into());
        }
        if let Some(c) = &self.control {
            o.insert("controlMode".into(), c.clone().into());
        }
        if let Some(b) = &self.blocking {
            o.insert("blockingMode".into(), b.clone().into());
        }
        if !self.specials.is_empty() {
            let groups: Vec<_> = self
                .specials
                .iter()
                .map(|(kind, policies)| {
                    let policies: Vec<_> =
                        policies.iter().map(|(k, v)| serde_json::json!({"key": k.json(), "value": v})).collect();
                    serde_json::json!({"type": kind, "policies": policies})
                })
                .collect();
            o.insert("specials".into(), groups.into());
        }
        v
    }

    /// The same configuration in the OpenAPI's spelling (no modes there).
    fn openapi_json(&self) -> serde_json::Value {
        let unit = if self.unit == "SENCOND" { "SECOND" } else { self.unit };
        let mut v = serde_json::json!({"Unit": unit, "ApiDefault": self.api});
        let o = v.as_object_mut().unwrap();
        if let Some(u) = self.user {
            o.insert("UserDefault".into(), u.into());
        }
        if let Some(a) = self.app {
            o.insert("AppDefault".into(), a.into());
        }
        let controls: Vec<_> = self
            .specials
            .iter()
            .flat_map(|(kind, policies)| {
                policies.iter().map(
                    move |(k, v)| serde_json::json!({"SpecialType": kind, "SpecialKey": k.json(), "TrafficValue": v}),
                )
            })
            .collect();
        if !controls.is_empty() {
            o.insert("SpecialControls".into(), controls.into());
        }
        v
    }

    /// The field Aliyun's rules refuse first, checked in the order the policy is built, or
    /// `None` when it is valid.
    fn first_error(&self) -> Option<String> {
        let positive = |v: u64| (1..=u64::from(u32::MAX)).contains(&v);
        if self.control.as_deref().is_some_and(|c| c != "FIX_WINDOW") {
            return Some("controlMode".into());
        }
        if self.blocking.as_deref().is_some_and(|b| b != "QUICK_RETURN") {
            return Some("blockingMode".into());
        }
        if self.api > 100_000_000 || !positive(self.api) {
            return Some("apiDefault".into());
        }
        if self.user.is_some_and(|u| u > self.api) {
            return Some("userDefault".into());
        }
        if self.app.is_some_and(|a| a > self.user.unwrap_or(self.api)) {
            return Some("appDefault".into());
        }
        if self.user.is_some_and(|u| !positive(u)) {
            return Some("userDefault".into());
        }
        if self.app.is_some_and(|a| !positive(a)) {
            return Some("appDefault".into());
        }
        for (i, (kind, policies)) in self.specials.iter().enumerate() {
            if kind != "APP" && kind != "USER" {
                return Some(format!("specials[{i}].type"));
            }
            for (j, (key, value)) in policies.iter().enumerate() {
                if key.text().trim().is_empty() {
                    return Some(format!("specials[{i}].policies[{j}].key"));
                }
                if *value > self.api || !positive(*value) {
                    return Some(format!("specials[{i}].policies[{j}].value"));
                }
            }
        }
        None
    }
}

/// What `limits` asks of the store for a set of callers: each check's key, limit and tier.
fn asked(limits: &AliyunLimits) -> Vec<Vec<(String, u32, Tier)>> {
    let callers = [("a", "b"), ("b", "a"), ("c", "c"), ("7", "x"), ("x", "7"), ("12", "49")];
    callers
        .iter()
        .map(|(app, user)| {
            let req = from(Some(app), Some(user));
            let view = FlowRequest {
                method: req.method(),
                uri: req.uri(),
                headers: req.headers(),
                extensions: req.extensions(),
            };
            let mut out = Checks::default();
            limits.checks(&view, &mut out).unwrap();
            (0..out.len())
                .map(|i| (out.takes()[i].key.to_string(), out.takes()[i].quota.limit(), out.tier(i).unwrap()))
                .collect()
        })
        .collect()
}

proptest! {
    #[test]
    fn a_plugin_config_builds_exactly_when_aliyuns_rules_hold(g in generated()) {
        let text = g.plugin_json().to_string();
        let config: AliyunFlowControlConfig = serde_json::from_str(&text).unwrap();
        // YAML reads the same configuration (JSON is YAML)
        let via_yaml: AliyunFlowControlConfig = serde_norway::from_str(&text).unwrap();
        prop_assert_eq!(&config, &via_yaml);
        match (AliyunLimits::from_config(&config), g.first_error()) {
            (Ok(_), None) => {}
            (Err(e), Some(field)) => prop_assert_eq!(e.field, field),
            (got, expected) => prop_assert!(false, "built {:?}, expected error at {:?}", got.map(|_| ()), expected),
        }
    }

    #[test]
    fn both_spellings_of_one_policy_build_the_same_limits(g in generated()) {
        let g = Generated { control: None, blocking: None, ..g };
        // the OpenAPI's special type is an enum: only APP and USER read
        prop_assume!(g.specials.iter().all(|(kind, _)| kind == "APP" || kind == "USER"));
        let plugin: AliyunFlowControlConfig = serde_json::from_value(g.plugin_json()).unwrap();
        let openapi: AliyunFlowControlConfig = serde_json::from_value(g.openapi_json()).unwrap();
        match (AliyunLimits::from_config(&plugin), AliyunLimits::from_config(&openapi)) {
            (Ok(a), Ok(b)) => prop_assert_eq!(asked(&a), asked(&b)),
            // the same rule refuses both (the fields are spelled and numbered each its own way)
            (Err(_), Err(_)) => {}
            (a, b) => prop_assert!(false, "plug-in {:?}, OpenAPI {:?}", a.map(|_| ()), b.map(|_| ())),
        }
    }

    #[test]
    fn any_text_reads_or_fails_without_panicking(text in "\\PC{0,200}") {
        for config in [serde_json::from_str::<AliyunFlowControlConfig>(&text).ok(),
                       serde_norway::from_str::<AliyunFlowControlConfig>(&text).ok()].into_iter().flatten() {
            let _ = AliyunLimits::from_config(&config);
        }
    }

    #[test]
    fn near_miss_documents_read_or_fail_without_panicking(g in generated(), cut in 0usize..400, junk in "[ :{}\\[\\],\"a-zA-Z0-9-]{0,8}") {
        let text = g.plugin_json().to_string();
        let cut = cut.min(text.len());
        let mutated = format!("{}{}{}", &text[..cut], junk, &text[cut..]);
        if let Ok(config) = serde_json::from_str::<AliyunFlowControlConfig>(&mutated) {
            let _ = AliyunLimits::from_config(&config);
        }
    }
}
