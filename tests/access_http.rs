//! Aliyun parameter access control over real HTTP on loopback, through the `Gateway` built
//! from YAML, and with `oneshot`: the documentation's example pasted verbatim, each location
//! kind, the order of the rules, the refusal's shape, configuration errors.
//!
//! No token verifier exists yet: a small layer in front plays one, turning an `x-test-claims`
//! header into core's `TokenClaims` as a JWT layer would after verifying the token.

use std::convert::Infallible;
use std::task::{Context, Poll};

use axum::Router;
use axum::body::Body;
use axum::routing::{any, get};
use http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use tollgate::access::{AccessControlConfig, AccessControlLayer, Action, Rule};
use tollgate::gateway::{Format, Gateway};
use tollgate::{Caller, ErrorStyle, TokenClaims};
use tower::{Layer, Service, ServiceExt, service_fn};

#[path = "support/http.rs"]
mod http_support;
use http_support::serve;

/// The example of Aliyun's documentation (cloud-plugins.md §A4), verbatim.
const DOC_EXAMPLE: &str = include_str!("fixtures/cloud-plugins/aliyun-access-control.yaml");

/// Plays a token verifier: the JSON of `x-test-claims` becomes the request's `TokenClaims`.
#[derive(Clone)]
struct FakeToken<S>(S);

impl<S, B> Service<Request<B>> for FakeToken<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> S::Future {
        let claims = req.headers().get("x-test-claims").and_then(|v| serde_json::from_slice(v.as_bytes()).ok());
        if let Some(claims) = claims {
            req.extensions_mut().insert(TokenClaims::new(claims));
        }
        self.0.call(req)
    }
}

#[derive(Clone)]
struct FakeTokenLayer;

impl<S> Layer<S> for FakeTokenLayer {
    type Service = FakeToken<S>;
    fn layer(&self, inner: S) -> FakeToken<S> {
        FakeToken(inner)
    }
}

/// The gateway's YAML with the plug-in pasted under `access_control`.
fn gateway_yaml(path: &str, plugin: &str) -> String {
    let indented: String = plugin.trim_start_matches("---\n").lines().map(|l| format!("      {l}\n")).collect();
    format!("apis:\n  - path: {path}\n    access_control:\n{indented}")
}

fn app(gateway: Gateway) -> Router {
    Router::new()
        .route("/users/{id}", get(|| async { "user data" }))
        .route("/echo", any(|| async { "echo" }))
        .layer(gateway.into_layer())
        .layer(FakeTokenLayer)
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

#[tokio::test]
async fn the_documentation_example_over_http_through_the_gateway() {
    let gateway = Gateway::from_config(&gateway_yaml("/users/{userId}", DOC_EXAMPLE), Format::Yaml).unwrap();
    let addr = serve(app(gateway)).await;
    let get = |path: &str, claims: &str| {
        client().get(format!("http://{addr}{path}")).header("x-test-claims", claims.to_owned()).send()
    };

    // an admin passes whatever the path
    let resp = get("/users/42", r#"{"userId": "7", "userType": "admin"}"#).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), "user data");
    // a user reading their own record passes (no rule fires)
    let resp = get("/users/7", r#"{"userId": "7", "userType": "user"}"#).await.unwrap();
    assert_eq!(resp.status(), 200);
    // anyone else's record: the rule's refusal, interpolated
    let resp = get("/users/42", r#"{"userId": "7", "userType": "user"}"#).await.unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(resp.headers()["x-ca-error-message"], "Path not match 7 vs /42");
    assert_eq!(resp.headers()["content-type"], "application/xml");
    assert!(resp.headers().contains_key("x-ca-request-id"));
    assert_eq!(resp.text().await.unwrap(), "<Reason>Path not match 7 vs /42</Reason>");
    // no token at all: userId is null, which matches no path
    let resp = client().get(format!("http://{addr}/users/7")).send().await.unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(resp.text().await.unwrap(), "<Reason>Path not match  vs /7</Reason>");
}

/// By hand on an axum router (`route_layer`): the path parameter comes from axum's router.
#[tokio::test]
async fn the_documentation_example_on_an_axum_route() {
    let app = Router::new()
        .route("/users/{userId}", get(|| async { "user data" }))
        .route_layer(AccessControlLayer::from_plugin(DOC_EXAMPLE).unwrap())
        .layer(FakeTokenLayer);
    let addr = serve(app).await;
    let get = |path: &str, claims: &str| {
        client().get(format!("http://{addr}{path}")).header("x-test-claims", claims.to_owned()).send()
    };
    assert_eq!(get("/users/7", r#"{"userId": "7", "userType": "user"}"#).await.unwrap().status(), 200);
    let resp = get("/users/8", r#"{"userId": "7", "userType": "user"}"#).await.unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(resp.headers()["x-ca-error-message"], "Path not match 7 vs /8");
    assert_eq!(resp.text().await.unwrap(), "<Reason>Path not match 7 vs /8</Reason>");
}

#[tokio::test]
async fn the_documentation_example_with_oneshot() {
    let layer = AccessControlLayer::from_plugin(DOC_EXAMPLE).unwrap();
    let handler = service_fn(|_req: Request<_>| async { Ok::<_, Infallible>(Response::new(Body::from("user data"))) });
    let svc = layer.layer(handler);
    let route = tollgate::PathTemplate::parse("/users/{userId}").unwrap();
    let call = |claims: serde_json::Value, path: &str| {
        let mut req = Request::get(path).body(Body::empty()).unwrap();
        req.extensions_mut().insert(TokenClaims::new(claims));
        req.extensions_mut().insert(route.matches(path).unwrap());
        svc.clone().oneshot(req)
    };
    let ok = call(serde_json::json!({"userId": 1, "userType": "admin"}), "/users/2").await.unwrap();
    assert_eq!(ok.status(), 200);
    let ok = call(serde_json::json!({"userId": 2, "userType": "user"}), "/users/2").await.unwrap();
    assert_eq!(ok.status(), 200);
    let refused = call(serde_json::json!({"userId": 1, "userType": "user"}), "/users/2").await.unwrap();
    assert_eq!(refused.status(), 403);
    assert_eq!(refused.headers()["x-ca-error-message"], "Path not match 1 vs /2");
    assert_eq!(refused.headers()["content-type"], "application/xml");
    let body = refused.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body, "<Reason>Path not match 1 vs /2</Reason>");
}

/// One rule `$x = 'yes'` → DENY with status 451, over the location of `$x`.
async fn denied_by(location: &str, req: Request<Body>) -> StatusCode {
    let config = AccessControlConfig::new()
        .parameter("x", location)
        .unwrap()
        .rule(Rule::new("$x = 'yes'").if_true(Action::Deny).status_code(451));
    let layer = AccessControlLayer::from_config(&config).unwrap();
    let handler = service_fn(|_req: Request<_>| async { Ok::<_, Infallible>(Response::new(Body::empty())) });
    layer.layer(handler).oneshot(req).await.unwrap().status()
}

#[tokio::test]
async fn each_location_kind_is_read() {
    let get = |uri: &str| Request::get(uri).body(Body::empty()).unwrap();
    let deny = StatusCode::from_u16(451).unwrap();

    assert_eq!(denied_by("Query:q", get("/?q=yes")).await, deny);
    assert_eq!(denied_by("Query:q", get("/?q=no")).await, StatusCode::OK);
    assert_eq!(denied_by("Query:q", get("/?q=y%65s")).await, deny, "percent-decoded");
    assert_eq!(
        denied_by("Header:X-Flag", Request::get("/").header("x-flag", "yes").body(Body::empty()).unwrap()).await,
        deny
    );
    assert_eq!(
        denied_by("Header:x-flag", Request::get("/").header("X-FLAG", "yes").body(Body::empty()).unwrap()).await,
        deny
    );
    let form = |body: &'static str| {
        Request::post("/").header("content-type", "application/x-www-form-urlencoded").body(Body::from(body)).unwrap()
    };
    assert_eq!(denied_by("Form:f", form("a=1&f=yes")).await, deny);
    assert_eq!(denied_by("Form:f", form("f=no")).await, StatusCode::OK);
    let mut with_claims = get("/");
    with_claims.extensions_mut().insert(TokenClaims::new(serde_json::json!({"sub": "yes"})));
    assert_eq!(denied_by("Token:sub", with_claims).await, deny);
    let mut signed = get("/");
    signed.extensions_mut().insert(Caller::new("key").with_app_id("yes"));
    assert_eq!(denied_by("System:CaAppId", signed).await, deny);
    let mut xff = get("/");
    xff.headers_mut().insert("x-forwarded-for", "no, yes".parse().unwrap());
    assert_eq!(denied_by("XFF:-1", xff).await, deny);

    // Method and Path, compared whole
    let method = AccessControlConfig::new()
        .parameter("m", "Method")
        .unwrap()
        .parameter("p", "Path")
        .unwrap()
        .rule(Rule::new("$m = 'DELETE' and $p = '/admin'").if_true(Action::Deny));
    let layer = AccessControlLayer::from_config(&method).unwrap();
    assert!(layer.check(&Request::delete("/admin").body(()).unwrap(), None).is_err());
    assert!(layer.check(&Request::get("/admin").body(()).unwrap(), None).is_ok());
    assert!(layer.check(&Request::delete("/other").body(()).unwrap(), None).is_ok());
}

#[tokio::test]
async fn allow_stops_deny_stops_and_no_rule_passes() {
    let config = AccessControlConfig::new()
        .parameter("role", "Header:x-role")
        .unwrap()
        .rule(Rule::new("$role = 'root'").named("root").if_true(Action::Allow))
        .rule(Rule::new("$role = 'guest'").named("guests").if_true(Action::Deny).status_code(401))
        .rule(Rule::new("$role = null").named("anonymous").if_true(Action::Deny).error_message("who are you?"));
    let layer = AccessControlLayer::from_config(&config).unwrap();
    let with = |role: Option<&str>| {
        let mut b = Request::get("/");
        if let Some(r) = role {
            b = b.header("x-role", r);
        }
        b.body(()).unwrap()
    };
    assert!(layer.check(&with(Some("root")), None).is_ok(), "ALLOW short-circuits");
    assert_eq!(layer.check(&with(Some("guest")), None).unwrap_err().status(), 401);
    let anonymous = layer.check(&with(None), None).unwrap_err();
    assert_eq!(anonymous.status(), 403, "the default status");
    assert_eq!(anonymous.message(), "who are you?");
    assert_eq!(anonymous.code(), "ParameterAccessDenied");
    assert!(layer.check(&with(Some("member")), None).is_ok(), "no rule fires: the request passes");

    // ALLOW before a DENY that would hold: the DENY is never tried
    let order = AccessControlConfig::new()
        .parameter("role", "Header:x-role")
        .unwrap()
        .rule(Rule::new("$role = 'root'").if_true(Action::Allow))
        .rule(Rule::new("1 = 1").if_true(Action::Deny));
    let layer = AccessControlLayer::from_config(&order).unwrap();
    assert!(layer.check(&with(Some("root")), None).is_ok());
    assert!(layer.check(&with(Some("member")), None).is_err());
}

#[tokio::test]
async fn the_refusal_in_other_styles_keeps_the_configured_body() {
    let layer = AccessControlLayer::from_plugin(DOC_EXAMPLE).unwrap().error_style(ErrorStyle::ProblemJson);
    let handler = service_fn(|_req: Request<_>| async { Ok::<_, Infallible>(Response::new(Body::empty())) });
    let mut req = Request::get("/users/2").body(Body::empty()).unwrap();
    req.extensions_mut().insert(TokenClaims::new(serde_json::json!({"userId": "1"})));
    req.extensions_mut().insert(tollgate::PathTemplate::parse("/users/{userId}").unwrap().matches("/users/2").unwrap());
    let resp = layer.layer(handler).oneshot(req).await.unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(resp.headers().get_all("content-type").iter().count(), 1);
    assert_eq!(resp.headers()["content-type"], "application/xml");
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body, "<Reason>Path not match 1 vs /2</Reason>");
}

#[tokio::test]
async fn a_form_body_read_for_a_rule_reaches_the_handler_unchanged() {
    let plugin = r#"{"parameters": {"act": "Form:action"},
        "rules": [{"condition": "$act = 'drop'", "ifTrue": "DENY"}]}"#;
    let gateway = Gateway::from_config(
        &format!("apis:\n  - path: /echo\n    access_control: {}\n", serde_json::to_string(plugin).unwrap()),
        Format::Yaml,
    )
    .unwrap();
    let app = Router::new().route("/echo", any(|body: String| async move { body })).layer(gateway.into_layer());
    let addr = serve(app).await;
    let post = |body: &'static str| {
        client()
            .post(format!("http://{addr}/echo"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    let resp = post("action=read&x=%41").await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), "action=read&x=%41");
    assert_eq!(post("action=drop").await.unwrap().status(), 403);
}

/// The gateway names the API (`$CaApiName`) and renders in the API's style.
#[tokio::test]
async fn the_gateway_tells_the_api_name_and_keeps_the_api_style() {
    let yaml = r#"
apis:
  - name: orders
    path: /echo
    error_style: tencent_api_gateway
    access_control:
      rules:
        - condition: "$CaApiName = 'orders' and $CaClientIp in_cidr '10.0.0.0/8'"
          ifFalse: DENY
          errorMessage: "${CaApiName} is internal"
"#;
    let gateway = Gateway::from_config(yaml, Format::Yaml).unwrap();
    let svc = gateway
        .into_layer()
        .layer(service_fn(|_req: Request<Body>| async { Ok::<_, Infallible>(Response::new(Body::from("echo"))) }));
    let from = |peer: &str| {
        let mut req = Request::get("/echo").body(Body::empty()).unwrap();
        req.extensions_mut().insert(tollgate::PeerAddr(format!("{peer}:1000").parse().unwrap()));
        req
    };
    assert_eq!(svc.clone().oneshot(from("10.0.0.1")).await.unwrap().status(), 200);
    let refused = svc.oneshot(from("192.0.2.1")).await.unwrap();
    assert_eq!(refused.status(), 403);
    assert!(refused.headers().contains_key("x-api-requestid"), "Tencent API Gateway style");
    let body = refused.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body, r#"{"message":"orders is internal"}"#);
}

#[test]
fn configuration_errors_name_the_field() {
    let err = |yaml: &str| Gateway::from_config(yaml, Format::Yaml).unwrap_err();
    let e = err(
        "apis:\n  - path: /\n    access_control:\n      parameters: {a: 'Query:a'}\n      rules:\n        - {condition: \"$a = 1\", ifTrue: ALLOW}\n        - {condition: \"$a = \", ifFalse: DENY}\n",
    );
    assert_eq!(e.field, "apis[0].access_control.rules[1].condition", "{e}");
    let e = err(
        "apis:\n  - path: /\n    access_control:\n      parameters: {a: 'Query:a'}\n      rules:\n        - {condition: \"$a = 1\", ifTrue: ALLOW, assertParameterName: a, assertInDataset: '123'}\n",
    );
    assert_eq!(e.field, "apis[0].access_control.rules[0].assertParameterName", "{e}");
    assert!(e.to_string().contains("datasets are not supported"), "{e}");
    let e =
        err("apis:\n  - path: /\n    access_control:\n      rules:\n        - {condition: \"1 = 1\", ifTrue: MAYBE}\n");
    assert_eq!(e.field, "apis[0].access_control.rules[0].ifTrue", "{e}");
    assert!(e.to_string().contains("expected ALLOW or DENY"), "{e}");
    let e = err(
        "apis:\n  - path: /\n    access_control:\n      rules:\n        - {condition: \"$nobody = 1\", ifTrue: DENY}\n",
    );
    assert_eq!(e.field, "apis[0].access_control.rules[0].condition", "{e}");
    let e = err(
        "apis:\n  - path: /\n    access_control:\n      rules:\n        - {condition: \"1 = 1\", ifTrue: DENY, statusCode: 99}\n",
    );
    assert_eq!(e.field, "apis[0].access_control.rules[0].statusCode", "{e}");
    let e = err(
        "apis:\n  - path: /\n    access_control:\n      rules:\n        - {condition: \"1 = 1\", ifTrue: DENY, responseHeaders: {Content-Length: 5}}\n",
    );
    assert_eq!(e.field, "apis[0].access_control.rules[0].responseHeaders.Content-Length", "{e}");
    let e = err(
        "apis:\n  - path: /\n    access_control:\n      rules:\n        - {condition: \"1 = 1\", ifTrue: ALLOW, errorMessage: never shown}\n",
    );
    assert_eq!(e.field, "apis[0].access_control.rules[0].errorMessage", "{e}");
    let e = err("apis:\n  - path: /\n    access_control:\n      rules:\n        - {condition: \"1 = 1\"}\n");
    assert_eq!(e.field, "apis[0].access_control.rules[0]", "{e}");
    let e =
        err("apis:\n  - path: /\n    access_control:\n      rules:\n        - {condition: \"1 = 1\", iftrue: DENY}\n");
    assert!(e.to_string().contains("iftrue"), "an unknown field is refused: {e}");
    let e = err("apis:\n  - path: /\n    access_control:\n      rules: []\n");
    assert_eq!(e.field, "apis[0].access_control.rules", "{e}");
    let e = err(
        "apis:\n  - path: /\n    access_control:\n      parameters: {a: 'StatusCode'}\n      rules:\n        - {condition: \"$a = 1\", ifTrue: DENY}\n",
    );
    assert!(e.field.starts_with("apis[0].access_control.parameters"), "a response-phase location: {e}");
    let e = err(
        "apis:\n  - path: /\n    access_control:\n      rules:\n        - {condition: \"1 = 1\", ifTrue: DENY, errorMessage: 'no ${who}'}\n",
    );
    assert_eq!(e.field, "apis[0].access_control.rules[0].errorMessage", "{e}");
}
