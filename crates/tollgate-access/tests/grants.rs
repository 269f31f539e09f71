//! App grants: who passes, in which stage, until when, and what each refusal says.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http::{Request, StatusCode};
use tollgate_access::grants::{CODE_EXPIRED, CODE_INVALID_STAGE, CODE_UNAUTHORIZED, Grant, GrantsLayer, Stage};
use tollgate_core::{Caller, ErrorStyle, ManualClock, Rejection};

const T0: u64 = 1_800_000_000;

fn at(secs: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
}

fn layer(grants: Vec<Grant>, now: u64) -> GrantsLayer {
    let clock = ManualClock::at_unix(Duration::from_secs(now));
    GrantsLayer::new(grants).unwrap().clock(Arc::new(clock))
}

fn request(caller: Option<Caller>, stages: &[&str]) -> Request<()> {
    let mut req = Request::get("/orders");
    for stage in stages {
        req = req.header("x-ca-stage", *stage);
    }
    let mut req = req.body(()).unwrap();
    if let Some(caller) = caller {
        req.extensions_mut().insert(caller);
    }
    req
}

fn code(result: Result<(), Rejection>) -> Option<String> {
    result.err().map(|r| r.code().to_owned())
}

#[test]
fn a_grant_without_a_stage_covers_every_stage_and_the_default_is_release() {
    let l = layer(vec![Grant::app("app1")], T0);
    for stages in [&[][..], &["RELEASE"], &["PRE"], &["TEST"]] {
        assert!(l.check(&request(Some(Caller::new("app1")), stages)).is_ok(), "{stages:?}");
    }
}

#[test]
fn a_grant_in_one_stage_does_not_cover_another() {
    let l = layer(vec![Grant::app("app1").in_stage(Stage::Test)], T0);
    assert!(l.check(&request(Some(Caller::new("app1")), &["TEST"])).is_ok());
    for stages in [&[][..], &["RELEASE"], &["PRE"]] {
        let refused = l.check(&request(Some(Caller::new("app1")), stages)).unwrap_err();
        assert_eq!((refused.status(), refused.code()), (StatusCode::FORBIDDEN, CODE_UNAUTHORIZED), "{stages:?}");
    }
    // absent means RELEASE, so a RELEASE-only grant meets a request without the header
    let release = layer(vec![Grant::app("app1").in_stage(Stage::Release)], T0);
    assert!(release.check(&request(Some(Caller::new("app1")), &[])).is_ok());
    assert_eq!(code(release.check(&request(Some(Caller::new("app1")), &["PRE"]))).as_deref(), Some(CODE_UNAUTHORIZED));
}

#[test]
fn only_the_exact_stage_names_are_stages_and_one_header_only() {
    let l = layer(vec![Grant::app("app1")], T0);
    for bad in ["test", "Release", " TEST", "TEST ", "", "PROD", "RELEASE,TEST"] {
        let refused = l.check(&request(Some(Caller::new("app1")), &[bad])).unwrap_err();
        assert_eq!((refused.status(), refused.code()), (StatusCode::BAD_REQUEST, CODE_INVALID_STAGE), "{bad:?}");
    }
    let twice = l.check(&request(Some(Caller::new("app1")), &["TEST", "TEST"])).unwrap_err();
    assert_eq!(twice.code(), CODE_INVALID_STAGE);
    assert!(twice.message().contains("more than once"), "{}", twice.message());
    let mixed = l.check(&request(Some(Caller::new("app1")), &["RELEASE", "TEST"])).unwrap_err();
    assert_eq!(mixed.code(), CODE_INVALID_STAGE);
}

#[test]
fn a_grant_ends_at_its_expiry_instant() {
    let grants = vec![Grant::app("app1").until(at(T0 + 10))];
    assert!(layer(grants.clone(), T0 + 9).check(&request(Some(Caller::new("app1")), &[])).is_ok());
    for now in [T0 + 10, T0 + 11, T0 + 1_000_000] {
        let refused = layer(grants.clone(), now).check(&request(Some(Caller::new("app1")), &[])).unwrap_err();
        assert_eq!((refused.status(), refused.code()), (StatusCode::FORBIDDEN, CODE_EXPIRED), "{now}");
    }
}

#[test]
fn the_clock_is_read_per_request() {
    let clock = ManualClock::at_unix(Duration::from_secs(T0));
    let l = GrantsLayer::new([Grant::app("app1").until(at(T0 + 60))]).unwrap().clock(Arc::new(clock.clone()));
    assert!(l.check(&request(Some(Caller::new("app1")), &[])).is_ok());
    clock.advance(Duration::from_secs(60));
    assert_eq!(code(l.check(&request(Some(Caller::new("app1")), &[]))).as_deref(), Some(CODE_EXPIRED));
}

#[test]
fn one_live_grant_is_enough_and_an_expired_one_in_another_stage_says_unauthorized() {
    let grants = vec![
        Grant::app("app1").until(at(T0 - 1)),
        Grant::app("app1").in_stage(Stage::Test),
        Grant::app("app2").in_stage(Stage::Pre).until(at(T0 - 1)),
    ];
    let l = layer(grants, T0);
    // an expired every-stage grant beside a live TEST one
    assert!(l.check(&request(Some(Caller::new("app1")), &["TEST"])).is_ok());
    assert_eq!(code(l.check(&request(Some(Caller::new("app1")), &["PRE"]))).as_deref(), Some(CODE_EXPIRED));
    // app2's grant is for PRE: in RELEASE it has none, expired or not
    assert_eq!(code(l.check(&request(Some(Caller::new("app2")), &[]))).as_deref(), Some(CODE_UNAUTHORIZED));
    assert_eq!(code(l.check(&request(Some(Caller::new("app2")), &["PRE"]))).as_deref(), Some(CODE_EXPIRED));
}

#[test]
fn an_app_grant_names_the_key_or_the_app_that_owns_it() {
    let l = layer(vec![Grant::app("110840611"), Grant::app("203753741")], T0);
    assert!(l.check(&request(Some(Caller::new("key-x").with_app_id("110840611")), &[])).is_ok());
    assert!(l.check(&request(Some(Caller::new("203753741").with_app_id("999")), &[])).is_ok());
    assert_eq!(
        code(l.check(&request(Some(Caller::new("key-x").with_app_id("999")), &[]))).as_deref(),
        Some(CODE_UNAUTHORIZED)
    );
    // the owning account is not an app
    assert_eq!(
        code(l.check(&request(Some(Caller::new("key-x").with_user("110840611")), &[]))).as_deref(),
        Some(CODE_UNAUTHORIZED)
    );
}

#[test]
fn an_app_and_a_token_subject_written_alike_are_different_grantees() {
    let l = layer(vec![Grant::app("203753741"), Grant::subject("alice")], T0);
    assert!(l.check(&request(Some(Caller::from_token("alice")), &[])).is_ok());
    assert!(l.check(&request(Some(Caller::new("203753741")), &[])).is_ok());
    // a token whose subject reads like the app key takes nothing of the app's
    assert_eq!(code(l.check(&request(Some(Caller::from_token("203753741")), &[]))).as_deref(), Some(CODE_UNAUTHORIZED));
    // nor an app key written like the subject
    assert_eq!(code(l.check(&request(Some(Caller::new("alice")), &[]))).as_deref(), Some(CODE_UNAUTHORIZED));
    // subjects compare exactly
    assert_eq!(code(l.check(&request(Some(Caller::from_token("Alice")), &[]))).as_deref(), Some(CODE_UNAUTHORIZED));
}

#[test]
fn a_request_without_a_caller_is_refused() {
    let l = layer(vec![Grant::app("app1")], T0);
    let refused = l.check(&request(None, &[])).unwrap_err();
    assert_eq!((refused.status(), refused.code()), (StatusCode::FORBIDDEN, CODE_UNAUTHORIZED));
}

#[test]
fn the_refusals_in_each_style() {
    let l = layer(vec![Grant::app("app1").until(at(T0))], T0);
    let req = request(Some(Caller::new("app1")), &[]);
    let refused = l.check(&req).unwrap_err();
    let aliyun = ErrorStyle::AliyunApiGateway.respond(&refused, &req);
    assert_eq!(aliyun.status(), StatusCode::FORBIDDEN);
    assert_eq!(aliyun.headers()["x-ca-error-message"], "Expiry of Authorization");
    let tencent = ErrorStyle::TencentCloud.respond(&refused, &req);
    let body = String::from_utf8(tencent_body(tencent)).unwrap();
    assert!(body.contains("\"UnauthorizedOperation\""), "{body}");
    let gateway = ErrorStyle::TencentApiGateway.respond(&refused, &req);
    assert_eq!(gateway.status(), StatusCode::FORBIDDEN);
    assert!(String::from_utf8(tencent_body(gateway)).unwrap().contains("expired"));
}

fn tencent_body(response: http::Response<http_body_util::Full<bytes::Bytes>>) -> Vec<u8> {
    use http_body_util::BodyExt;
    let collect = response.into_body().collect();
    let mut collect = std::pin::pin!(collect);
    match collect.as_mut().poll(&mut std::task::Context::from_waker(std::task::Waker::noop())) {
        std::task::Poll::Ready(Ok(body)) => body.to_bytes().to_vec(),
        _ => panic!("a full body is ready at once"),
    }
}

use std::future::Future;

#[test]
fn configuration_errors_name_the_field() {
    let empty = GrantsLayer::new(Vec::<Grant>::new()).unwrap_err();
    assert!(empty.to_string().contains("grants"), "{empty}");
    let blank = GrantsLayer::new([Grant::app("a"), Grant::app(" ")]).unwrap_err();
    assert!(blank.to_string().contains("grants[1].app"), "{blank}");
    let blank = GrantsLayer::new([Grant::subject("")]).unwrap_err();
    assert!(blank.to_string().contains("grants[0].subject"), "{blank}");

    let read = |json: &str| serde_json::from_str::<Vec<Grant>>(json).map_err(|e| e.to_string());
    assert!(read(r#"[{"app": "a", "subject": "b"}]"#).unwrap_err().contains("not both"));
    assert!(read(r#"[{"stage": "TEST"}]"#).unwrap_err().contains("`app` or a `subject`"));
    assert!(read(r#"[{"app": "a", "stage": "test"}]"#).unwrap_err().contains("RELEASE, PRE or TEST"));
    assert!(read(r#"[{"app": "a", "expires": "tomorrow"}]"#).unwrap_err().contains("`expires`"));
    assert!(read(r#"[{"app": "a", "expires": "2027-01-01T08:00:00+08:00"}]"#).is_err(), "an offset is not UTC");
    assert!(read(r#"[{"app": "a", "stages": "TEST"}]"#).unwrap_err().contains("unknown field"));
    // Aliyun's console writes a numeric app id
    assert_eq!(read(r#"[{"AppId": 110840611}]"#).unwrap(), vec![Grant::app("110840611")]);
    assert_eq!(
        read(r#"[{"app": "a", "expires": "2027-01-01T00:00:00Z"}]"#).unwrap()[0].expires,
        Some(at(1_798_761_600))
    );
}

mod model {
    //! The layer against a plain reading of the rules over generated grants and requests.
    use super::*;
    use proptest::prelude::*;
    use tollgate_access::grants::Grantee;

    const NAMES: [&str; 3] = ["a", "b", "110"];
    const STAGES: [Stage; 3] = [Stage::Release, Stage::Pre, Stage::Test];

    fn grant() -> impl Strategy<Value = Grant> {
        (any::<bool>(), 0..3usize, proptest::option::of(0..3usize), proptest::option::of(0..20u64)).prop_map(
            |(subject, name, stage, expires)| Grant {
                grantee: if subject { Grantee::Subject(NAMES[name].into()) } else { Grantee::App(NAMES[name].into()) },
                stage: stage.map(|s| STAGES[s]),
                expires: expires.map(|e| at(T0 + e)),
            },
        )
    }

    fn expected(grants: &[Grant], caller: &Caller, stage: Stage, now: u64) -> Option<&'static str> {
        let mine = grants.iter().filter(|g| match &g.grantee {
            Grantee::App(id) => !caller.is_token() && caller.is(id),
            Grantee::Subject(id) => caller.is_token() && caller.key_id() == id,
        });
        let in_stage: Vec<_> = mine.filter(|g| g.stage.is_none_or(|s| s == stage)).collect();
        if in_stage.iter().any(|g| g.expires.is_none_or(|e| at(now) < e)) {
            None
        } else if in_stage.is_empty() {
            Some(CODE_UNAUTHORIZED)
        } else {
            Some(CODE_EXPIRED)
        }
    }

    proptest! {
        #[test]
        fn the_layer_decides_as_the_rules_say(
            grants in proptest::collection::vec(grant(), 1..6),
            token in any::<bool>(),
            key in 0..3usize,
            app in proptest::option::of(0..3usize),
            stage in proptest::option::of(0..3usize),
            now in 0..25u64,
        ) {
            let mut caller = if token { Caller::from_token(NAMES[key]) } else { Caller::new(NAMES[key]) };
            if let Some(app) = app {
                caller = caller.with_app_id(NAMES[app]);
            }
            let header: Vec<&str> = stage.map(|s| STAGES[s].name()).into_iter().collect();
            let got = code(layer(grants.clone(), T0 + now).check(&request(Some(caller.clone()), &header)));
            let want = expected(&grants, &caller, stage.map_or(Stage::Release, |s| STAGES[s]), T0 + now);
            prop_assert_eq!(got.as_deref(), want);
        }
    }
}

#[test]
fn a_stage_is_written_as_the_header_writes_it() {
    for stage in [Stage::Release, Stage::Pre, Stage::Test] {
        assert_eq!(stage.to_string(), stage.name());
        assert_eq!(Stage::from_name(&stage.to_string()), Some(stage));
    }
    assert_eq!(Stage::Pre.to_string(), "PRE");
}

#[test]
fn the_layer_is_ready_only_when_its_service_is() {
    use std::task::{Context, Poll, Waker};
    use tower::{Layer, Service};

    /// A service that is never ready.
    struct Busy;
    impl Service<Request<()>> for Busy {
        type Response = http::Response<()>;
        type Error = std::convert::Infallible;
        type Future = std::future::Ready<Result<http::Response<()>, std::convert::Infallible>>;
        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            Poll::Pending
        }
        fn call(&mut self, _: Request<()>) -> Self::Future {
            std::future::ready(Ok(http::Response::new(())))
        }
    }
    let mut busy = GrantsLayer::new([Grant::app("a")]).unwrap().layer(Busy);
    assert!(busy.poll_ready(&mut Context::from_waker(Waker::noop())).is_pending());
}
