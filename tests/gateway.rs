//! The gateway: route priority, method filters, each API's plugins on that API only, the
//! canonical order made observable, and configuration errors with field paths in JSON, YAML
//! and TOML — through `tower::ServiceExt::oneshot` and over real HTTP on loopback.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::SystemTime;

use axum::body::Body;
use axum::{Router, routing::any};
use bytes::Bytes;
use http::{Request, Response};
use tollgate::PeerAddr;
use tollgate::gateway::{Api, Format, Gateway, GatewayService, Unmatched};
use tollgate::signature::{aliyun_apigw::AliyunApiGateway, sign_request};
use tower::{Layer, ServiceExt, service_fn};

// ---------------------------------------------------------------------------------------
// helpers

fn service(gateway: Gateway) -> GatewayService {
    gateway
        .into_layer()
        .layer(service_fn(|_req: Request<Body>| async { Ok::<_, Infallible>(Response::new(Body::from("handler"))) }))
}

fn yaml(text: &str) -> GatewayService {
    service(Gateway::from_config(text, Format::Yaml).unwrap())
}

fn request(method: &str, path: &str, from: &str) -> Request<Body> {
    let mut req = Request::builder().method(method).uri(path).body(Body::empty()).unwrap();
    req.extensions_mut().insert(PeerAddr(SocketAddr::new(from.parse().unwrap(), 40000)));
    req
}

async fn call(svc: &GatewayService, req: Request<Body>) -> Response<Body> {
    svc.clone().oneshot(req).await.unwrap()
}

async fn status(svc: &GatewayService, method: &str, path: &str) -> u16 {
    call(svc, request(method, path, "127.0.0.1")).await.status().as_u16()
}

async fn status_from(svc: &GatewayService, path: &str, from: &str) -> u16 {
    call(svc, request("GET", path, from)).await.status().as_u16()
}

/// Which API answered: each API of the table has its own `api_rate_limit`, echoed in
/// `X-RateLimit-Limit`.
async fn which(svc: &GatewayService, method: &str, path: &str) -> Option<u16> {
    let resp = call(svc, request(method, path, "127.0.0.1")).await;
    resp.headers().get("x-ratelimit-limit").map(|v| v.to_str().unwrap().parse::<u16>().unwrap() - 100)
}

fn config_error(text: &str, format: Format) -> String {
    Gateway::from_config(text, format).unwrap_err().to_string()
}

// ---------------------------------------------------------------------------------------
// routes

const TABLE: &str = r#"
unmatched: pass
apis:
  - {path: "/",                   basic_flow_control: {expire_type: day, api_rate_limit: 100}}
  - {path: "/static/",            basic_flow_control: {expire_type: day, api_rate_limit: 101}}
  - {path: "^~ /static/img/",     basic_flow_control: {expire_type: day, api_rate_limit: 102}}
  - {path: "~ \\.png$",           basic_flow_control: {expire_type: day, api_rate_limit: 103}}
  - {path: "= /static/img/logo.png", basic_flow_control: {expire_type: day, api_rate_limit: 104}}
  - {path: "/users/{id}", method: GET, basic_flow_control: {expire_type: day, api_rate_limit: 105}}
  - {path: "~ ^/users/[0-9]+$",   basic_flow_control: {expire_type: day, api_rate_limit: 106}}
  - {path: "/users/", method: [DELETE], basic_flow_control: {expire_type: day, api_rate_limit: 107}}
  - {path: "/static/css/",        basic_flow_control: {expire_type: day, api_rate_limit: 108}}
"#;

#[tokio::test]
async fn route_priority_table() {
    let svc = yaml(TABLE);
    let table: &[(&str, &str, Option<u16>)] = &[
        // exact beats everything
        ("GET", "/static/img/logo.png", Some(4)),
        // ^~ beats regex and plain prefixes
        ("GET", "/static/img/other.png", Some(2)),
        // regex beats plain prefixes
        ("GET", "/static/other.png", Some(3)),
        // the longest plain prefix wins, whatever the declaration order
        ("GET", "/static/css/site.css", Some(8)),
        ("GET", "/static/site.js", Some(1)),
        ("GET", "/elsewhere", Some(0)),
        // templates and regexes: declaration order (the template is first)
        ("GET", "/users/42", Some(5)),
        // the template is GET only: a PUT falls to the regex after it
        ("PUT", "/users/42", Some(6)),
        // HEAD goes where GET goes
        ("HEAD", "/users/42", Some(5)),
        // a DELETE prefix for deeper paths; other methods fall to "/"
        ("DELETE", "/users/42/cards", Some(7)),
        ("GET", "/users/42/cards", Some(0)),
    ];
    for (method, path, expected) in table {
        assert_eq!(which(&svc, method, path).await, *expected, "{method} {path}");
    }
}

#[tokio::test]
async fn unmatched_requests_get_404_or_405_problem_json_by_default() {
    let svc = yaml("apis: [{path: \"= /health\", method: GET}, {path: /orders/, method: [POST]}]");
    assert_eq!(status(&svc, "GET", "/health").await, 200);
    assert_eq!(status(&svc, "GET", "/nowhere").await, 404);
    let resp = call(&svc, request("GET", "/orders/1", "127.0.0.1")).await;
    assert_eq!(resp.status(), 405);
    assert_eq!(resp.headers()["allow"], "POST");
    assert_eq!(resp.headers()["content-type"], "application/problem+json");
    assert!(resp.headers().contains_key("x-request-id"));
    let body: serde_json::Value =
        serde_json::from_slice(&axum::body::to_bytes(resp.into_body(), 10_000).await.unwrap()).unwrap();
    assert_eq!(body["code"], "MethodNotAllowed");
    assert_eq!(body["policy"], "gateway");

    let pass = yaml("unmatched: pass\napis: [{path: \"= /health\", method: GET}]");
    assert_eq!(status(&pass, "GET", "/nowhere").await, 200);
    assert_eq!(status(&pass, "POST", "/health").await, 200);
}

#[tokio::test]
async fn the_builder_routes_like_the_file() {
    let deny_all = || tollgate::ip::IpAccessLayer::deny(["0.0.0.0/0", "::/0"]).unwrap();
    let svc = service(
        Gateway::new()
            .api(Api::new("= /open").unwrap())
            .api(Api::new("/closed/").unwrap().ip_access(deny_all()))
            .api(Api::new("/users/{id}").unwrap().method(http::Method::GET))
            .ip_access(deny_all()) // for requests no API matched
            .unmatched(Unmatched::Pass),
    );
    assert_eq!(status(&svc, "GET", "/open").await, 200);
    assert_eq!(status(&svc, "GET", "/closed/x").await, 403);
    assert_eq!(status(&svc, "GET", "/users/1").await, 200);
    assert_eq!(status(&svc, "POST", "/users/1").await, 403); // unmatched: the gateway's own policies
    assert_eq!(status(&svc, "GET", "/other").await, 403);
    assert!(Api::new("users").is_err());
}

// ---------------------------------------------------------------------------------------
// each plugin on its own API

#[tokio::test]
async fn each_plugin_applies_to_its_api_only() {
    let svc = yaml(
        r#"
apis:
  - path: /ip/
    ip_access: {type: black_list, blocks: "127.0.0.1"}
  - path: /flow/
    basic_flow_control: {expire_type: day, api_rate_limit: 1}
  - path: /signed/
    signature: {scheme: tencent-apigw, keys: {k1: s1}}
  - path: /cors/
    cors: true
  - path: /param/
    param_flow_control:
      default_window: 60
      default_rate_limit: 1000
      strategies: [{name: u, strategy_weight: 1, parameters: [{type: header, name: x-user}], rate_limit: 1, window: 60}]
  - path: /plain/
"#,
    );
    assert_eq!(status(&svc, "GET", "/ip/a").await, 403);
    assert_eq!(status(&svc, "GET", "/flow/a").await, 200);
    assert_eq!(status(&svc, "GET", "/flow/a").await, 429);
    assert_ne!(status(&svc, "GET", "/signed/a").await, 200);
    let cors = call(&svc, {
        let mut r = request("GET", "/cors/a", "127.0.0.1");
        r.headers_mut().insert("origin", "https://x.example".parse().unwrap());
        r
    })
    .await;
    assert_eq!(cors.headers()["access-control-allow-origin"], "*");
    let user = |name: &'static str| {
        let mut r = request("GET", "/param/a", "127.0.0.1");
        r.headers_mut().insert("x-user", name.parse().unwrap());
        r
    };
    assert_eq!(call(&svc, user("ann")).await.status(), 200);
    assert_eq!(call(&svc, user("ann")).await.status(), 429);
    assert_eq!(call(&svc, user("bob")).await.status(), 200);
    // none of it touches the plain API
    for _ in 0..3 {
        let plain = call(&svc, {
            let mut r = request("GET", "/plain/a", "127.0.0.1");
            r.headers_mut().insert("origin", "https://x.example".parse().unwrap());
            r
        })
        .await;
        assert_eq!(plain.status(), 200);
        assert!(!plain.headers().contains_key("access-control-allow-origin"));
        assert!(!plain.headers().contains_key("x-ratelimit-limit"));
    }
}

// ---------------------------------------------------------------------------------------
// the canonical order

#[tokio::test]
async fn a_cors_preflight_is_answered_before_ip_access_refuses() {
    // written in the "wrong" order on purpose: the gateway stacks canonically
    let svc = yaml(
        r#"
apis:
  - path: /api/
    method: PUT
    ip_access: {type: black_list, blocks: "127.0.0.1"}
    cors: {allow_origin: ["https://app.example.com"], allow_methods: [PUT], max_age: 600}
"#,
    );
    let mut preflight = request("OPTIONS", "/api/x", "127.0.0.1");
    preflight.headers_mut().insert("origin", "https://app.example.com".parse().unwrap());
    preflight.headers_mut().insert("access-control-request-method", "PUT".parse().unwrap());
    let resp = call(&svc, preflight).await;
    assert_eq!(resp.status(), 204);
    assert_eq!(resp.headers()["access-control-allow-origin"], "https://app.example.com");
    // the real request is refused by IP, and still carries its CORS grant
    let mut put = request("PUT", "/api/x", "127.0.0.1");
    put.headers_mut().insert("origin", "https://app.example.com".parse().unwrap());
    let resp = call(&svc, put).await;
    assert_eq!(resp.status(), 403);
    assert_eq!(resp.headers()["access-control-allow-origin"], "https://app.example.com");
}

#[tokio::test]
async fn an_ip_refusal_consumes_no_flow_allowance() {
    let svc = yaml(
        r#"
apis:
  - path: /
    basic_flow_control: {expire_type: day, api_rate_limit: 1}
    ip_access: {type: black_list, blocks: "127.0.0.2"}
"#,
    );
    for _ in 0..3 {
        assert_eq!(status_from(&svc, "/", "127.0.0.2").await, 403);
    }
    assert_eq!(status_from(&svc, "/", "127.0.0.1").await, 200);
    assert_eq!(status_from(&svc, "/", "127.0.0.1").await, 429);
}

#[tokio::test]
async fn flow_by_ip_runs_before_the_signature_and_by_app_after_it() {
    let svc = yaml(
        r#"
apis:
  - path: /ip/
    signature: {scheme: aliyun-apigw, keys: {"203467890": "s3cret"}}
    basic_flow_control: {expire_type: day, api_rate_limit: 100, ip_rate_limit: 1}
  - path: /app/
    signature: {scheme: aliyun-apigw, keys: {"203467890": "s3cret"}}
    basic_flow_control: {expire_type: day, api_rate_limit: 1, app_rate_limit: 1}
"#,
    );
    // unsigned: the first is refused by the signature, the second already by flow control
    let first = status(&svc, "GET", "/ip/x").await;
    assert!(first == 400 || first == 401, "{first}");
    assert_eq!(status(&svc, "GET", "/ip/x").await, 429);
    // app limits sit inside the signature: unsigned requests never reach them
    for _ in 0..3 {
        let s = status(&svc, "GET", "/app/x").await;
        assert!(s == 400 || s == 401, "{s}");
    }
    // signed ones do: one passes, the next (another nonce) is over the app's allowance
    assert_eq!(call(&svc, signed("/app/x", "s3cret")).await.status(), 200);
    assert_eq!(call(&svc, signed("/app/x", "s3cret")).await.status(), 429);
}

fn signed(path: &str, secret: &str) -> Request<Body> {
    let req = Request::get(format!("http://api.example.com{path}")).body(Bytes::new()).unwrap();
    let signed = sign_request(&AliyunApiGateway::new(), req, "203467890", &secret.into(), SystemTime::now()).unwrap();
    let mut req = signed.map(Body::from);
    req.extensions_mut().insert(PeerAddr("127.0.0.1:40000".parse().unwrap()));
    req
}

#[tokio::test]
async fn the_replay_guard_runs_inside_the_signature() {
    let svc = yaml(
        r#"
error_style: aliyun_api_gateway
apis:
  - path: /
    replay: true
    signature: {scheme: aliyun-apigw, keys: [{id: "203467890", secrets: [old, s3cret], app_id: shop}], window: 15m}
"#,
    );
    let req = signed("/orders", "s3cret");
    let again = {
        let mut r = Request::get(req.uri().clone()).body(Body::empty()).unwrap();
        *r.headers_mut() = req.headers().clone();
        r.extensions_mut().insert(PeerAddr("127.0.0.1:40000".parse().unwrap()));
        r
    };
    assert_eq!(call(&svc, req).await.status(), 200);
    let replayed = call(&svc, again).await;
    assert_eq!(replayed.status(), 400);
    assert_eq!(replayed.headers()["x-ca-error-message"], "Nonce Used");
    // the old secret of the roll-over still verifies; a wrong one does not burn a nonce
    assert_eq!(call(&svc, signed("/orders", "old")).await.status(), 200);
    assert_ne!(call(&svc, signed("/orders", "wrong")).await.status(), 200);
}

// ---------------------------------------------------------------------------------------
// configuration errors

#[test]
fn errors_name_the_field_in_json() {
    let err = config_error(
        r#"{"apis": [{"path": "/a"}, {"path": "/b", "basic_flow_control": {"expire_type": "minute", "api_rate_limit": 0}}]}"#,
        Format::Json,
    );
    assert!(err.starts_with("apis[1].basic_flow_control.api_rate_limit: expected a positive integer"), "{err}");

    let err = config_error(r#"{"apis": [{"path": "/a", "method": 5}]}"#, Format::Json);
    assert!(err.starts_with("apis[0].method: invalid type: integer `5`, expected a string or a list"), "{err}");

    let err = config_error(r#"{"apis": [{"path": "/a", "signature": {"scheme": "md5", "keys": {}}}]}"#, Format::Json);
    assert!(err.starts_with("apis[0].signature.scheme: unknown variant `md5`"), "{err}");

    let err = config_error(r#"{"trusted_proxies": ["10.0.0.0/8", "proxy"]}"#, Format::Json);
    assert_eq!(err, r#"trusted_proxies[1]: expected an IP address or CIDR network, got "proxy""#);

    let err = config_error(r#"{"apis": [{"path": "/a"}]"#, Format::Json);
    assert!(err.contains("EOF"), "{err}");
}

#[test]
fn errors_name_the_field_in_yaml() {
    let err = config_error("apis:\n  - path: users\n", Format::Yaml);
    assert!(err.starts_with("apis[0].path: expected \"= /exact\""), "{err}");

    let err = config_error("apis:\n  - path: /a\n    plugin: {}\n", Format::Yaml);
    assert!(err.starts_with("apis[0].plugin: unknown field `plugin`, expected one of `name`"), "{err}");
    assert!(err.ends_with("at line 3 column 5"), "{err}");

    let err = config_error(
        "apis:\n  - path: /a\n  - path: /b\n  - path: /c\n    ip_access: {type: white_list, blocks: \"10.0.0.300\"}\n",
        Format::Yaml,
    );
    assert!(err.starts_with("apis[2].ip_access"), "{err}");

    let err = config_error("apis:\n  - path: /a\n    params: {required: [id]}\n", Format::Yaml);
    assert!(err.starts_with("apis[0].params.required: unknown field `required`"), "{err}");
    let err = config_error(
        "apis:\n  - path: /a\n    params:\n      validation: {params: [{name: page, position: query, type: int, min: 5, max: 1}]}\n",
        Format::Yaml,
    );
    assert!(err.starts_with("apis[0].params.validation.params[0]"), "{err}");

    let err = config_error("apis:\n  - path: /a\n    replay: true\n", Format::Yaml);
    assert!(err.starts_with("apis[0].replay: expected a signature block"), "{err}");

    let err = config_error("apis:\n  - path: /a\n    method: [GET, \"B A D\"]\n", Format::Yaml);
    assert!(err.starts_with("apis[0].method[1]: expected an HTTP method"), "{err}");

    let err = config_error(
        "apis:\n  - path: /a\n    signature: {scheme: aliyun-rpc, keys: [{id: k, secrets: []}]}\n",
        Format::Yaml,
    );
    assert!(err.starts_with("apis[0].signature.keys[0].secrets: expected at least one secret"), "{err}");
}

#[test]
fn errors_name_the_field_in_toml() {
    let err = config_error(
        "[[apis]]\npath = \"/a\"\n[apis.cors]\nallow_origin = [\"https://a.example/x\"]\nallow_methods = [\"GET\"]\nmax_age = 60\n",
        Format::Toml,
    );
    assert!(err.starts_with("apis[0].cors.allow_origin[0]: "), "{err}");

    let err = config_error(
        "[[apis]]\npath = \"/a\"\n[apis.param_flow_control]\ndefault_window = 60\ndefault_rate_limit = 5\nstrategies = []\n",
        Format::Toml,
    );
    assert!(err.starts_with("apis[0].param_flow_control.strategies: "), "{err}");

    let err = config_error("[[apis]]\npath = 7\n", Format::Toml);
    assert!(err.starts_with("apis[0].path: invalid type: integer"), "{err}");
    assert!(err.contains("line 2"), "{err}");

    let err = config_error("unmatched = \"maybe\"\n", Format::Toml);
    assert!(err.starts_with("unmatched: unknown variant `maybe`"), "{err}");
}

#[test]
fn every_format_reads_the_same_gateway() {
    let json = r#"{"unmatched": "pass", "apis": [{"path": "= /a", "method": ["GET"], "cors": {"switch": true}}]}"#;
    let yaml = "unmatched: pass\napis:\n  - {path: \"= /a\", method: [GET], cors: {switch: true}}\n";
    let toml = "unmatched = \"pass\"\n[[apis]]\npath = \"= /a\"\nmethod = [\"GET\"]\ncors = {switch = true}\n";
    for (text, format) in [(json, Format::Json), (yaml, Format::Yaml), (toml, Format::Toml)] {
        Gateway::from_config(text, format).unwrap();
    }
}

#[test]
fn file_errors_name_the_file_and_the_example_loads() {
    let dir = std::env::temp_dir().join(format!("tollgate-gateway-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("broken.yaml");
    std::fs::write(&file, "apis:\n  - path: /a\n    basic_flow_control: {expire_type: fortnight, api_rate_limit: 1}\n")
        .unwrap();
    let err = Gateway::from_file(&file).unwrap_err().to_string();
    assert!(
        err.starts_with(&format!("{}: apis[0].basic_flow_control.expire_type: unknown variant", file.display())),
        "{err}"
    );
    let err = Gateway::from_file(dir.join("gateway.ini")).unwrap_err().to_string();
    assert!(err.ends_with("expected a .json, .yaml, .yml or .toml file"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();

    Gateway::from_file(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/gateway.yaml")).unwrap();
}

// ---------------------------------------------------------------------------------------
// over real HTTP

#[path = "support/http.rs"]
mod http_support;
use http_support::{client_from, serve};

#[tokio::test]
async fn over_http_with_axum() {
    let gateway = Gateway::from_config(
        r#"
apis:
  - path: "= /health"
  - path: /users/{id}
    method: GET
    ip_access: {type: black_list, blocks: "127.0.0.3"}
    basic_flow_control: {expire_type: hour, api_rate_limit: 10, ip_rate_limit: 2}
    cors: {allow_origin: ["https://app.example.com"], allow_methods: [GET], max_age: 600}
"#,
        Format::Yaml,
    )
    .unwrap();
    let app = Router::new().route("/{*rest}", any(|| async { "handler" })).layer(gateway.into_layer());
    let addr = serve(app).await;

    let one = client_from("127.0.0.1");
    let two = client_from("127.0.0.2");
    let banned = client_from("127.0.0.3");
    let get = |c: &reqwest::Client, path: &str| c.get(format!("http://{addr}{path}")).send();

    let resp = get(&one, "/health").await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().contains_key("x-request-id"));
    assert_eq!(resp.text().await.unwrap(), "handler");

    // per client IP, from the real peer address
    let mut codes = Vec::new();
    for client in [&one, &one, &one, &two, &banned] {
        codes.push(get(client, "/users/7").await.unwrap().status().as_u16());
    }
    assert_eq!(codes, [200, 200, 429, 200, 403]);

    // the preflight is answered even for the banned address
    let resp = banned
        .request(reqwest::Method::OPTIONS, format!("http://{addr}/users/7"))
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "GET")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);

    let resp = get(&one, "/nowhere").await.unwrap();
    assert_eq!(resp.status(), 404);
    assert_eq!(resp.headers()["content-type"], "application/problem+json");
    let resp = one.post(format!("http://{addr}/users/7")).send().await.unwrap();
    assert_eq!(resp.status(), 405);
}

#[tokio::test]
async fn params_validate_after_routing_and_inject_next_to_the_handler() {
    let svc = yaml(
        r#"
apis:
  - path: /orders/{id}
    params:
      validation:
        params:
          - {name: id, position: path, type: int}
          - {name: page, position: query, type: int, default: 1, min: 1}
      injection:
        constants: [{name: x-env, position: header, value: prod}]
"#,
    );
    // the template binds {id} for the validation; the default and the constant reach the handler
    let ok = call(&svc, request("GET", "/orders/7", "127.0.0.1")).await;
    assert_eq!(ok.status(), 200);
    let bad = call(&svc, request("GET", "/orders/x?page=0", "127.0.0.1")).await;
    assert_eq!(bad.status(), 400);
    let body = String::from_utf8(axum::body::to_bytes(bad.into_body(), 1 << 16).await.unwrap().to_vec()).unwrap();
    assert!(body.contains("path id") && body.contains("query page"), "{body}");
}

/// Records the `tollgate` spans a request opens: the policy and the request id of each.
#[derive(Default, Clone)]
struct SpanLog(std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>);

impl tracing::Subscriber for SpanLog {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, span: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        let mut log = self.0.lock().unwrap();
        let mut fields = Fields::default();
        span.record(&mut fields);
        // every span gets an entry, so a span's id is its place in the log
        let name = if span.metadata().name() == "tollgate" { fields.policy } else { String::new() };
        log.push((name, fields.request_id));
        tracing::span::Id::from_u64(log.len() as u64)
    }

    fn record(&self, id: &tracing::span::Id, values: &tracing::span::Record<'_>) {
        let mut fields = Fields::default();
        values.record(&mut fields);
        if let Some(entry) = self.0.lock().unwrap().get_mut(id.into_u64() as usize - 1) {
            entry.1 = fields.request_id;
        }
    }

    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, _: &tracing::Event<'_>) {}
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[derive(Default)]
struct Fields {
    policy: String,
    request_id: String,
}

impl tracing::field::Visit for Fields {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        match field.name() {
            "policy" => self.policy = value.to_owned(),
            "request_id" => self.request_id = value.to_owned(),
            _ => {}
        }
    }

    fn record_debug(&mut self, _: &tracing::field::Field, _: &dyn std::fmt::Debug) {}
}

/// The process-wide recording subscriber. A scoped one (`with_default`) is not enough: other
/// tests of this binary run on other threads, and tracing caches each call site's interest
/// process-wide, so a span first met without a subscriber could stay disabled.
fn span_log() -> SpanLog {
    static LOG: std::sync::OnceLock<SpanLog> = std::sync::OnceLock::new();
    LOG.get_or_init(|| {
        let log = SpanLog::default();
        tracing::subscriber::set_global_default(log.clone()).expect("no other global subscriber in this binary");
        log
    })
    .clone()
}

#[tokio::test]
async fn each_policy_runs_in_a_span_with_the_request_id() {
    let log = span_log();
    let svc = yaml(
        r#"
apis:
  - path: /traced
    cors: true
    ip_access: {type: white_list, blocks: "127.0.0.1"}
    basic_flow_control: {expire_type: minute, api_rate_limit: 10}
    params:
      validation: {params: [{name: page, position: query, type: int, default: 1}]}
"#,
    );
    let response = call(&svc, request("GET", "/traced", "127.0.0.1")).await;
    assert_eq!(response.status(), 200);
    let id = response.headers()["x-request-id"].to_str().unwrap().to_owned();
    // other tests run at the same time: keep this request's spans
    let spans: Vec<String> =
        log.0.lock().unwrap().iter().filter(|(p, rid)| !p.is_empty() && *rid == id).map(|(p, _)| p.clone()).collect();
    assert_eq!(spans, ["cors", "ip", "flow", "param_validation"], "outermost first, each with the request id");
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

    /// Any text, in any format, builds a gateway or is refused with a message; never a panic.
    #[test]
    fn any_text_is_built_or_refused(text in r#"[a-z_: {}\[\]"'=,.0-9/~^\n-]{0,120}"#) {
        for format in [Format::Json, Format::Yaml, Format::Toml] {
            if let Err(e) = Gateway::from_config(&text, format) {
                proptest::prop_assert!(!e.to_string().is_empty());
            }
        }
    }

    /// Mangled versions of a valid configuration (a character dropped) are handled too.
    #[test]
    fn a_mangled_sample_is_built_or_refused(cut in 0usize..400) {
        let sample = "apis:\n  - path: /orders/{id}\n    basic_flow_control: {expire_type: minute, api_rate_limit: 5}\n    ip_access: {type: white_list, blocks: \"10.0.0.0/8\"}\n    params:\n      validation: {params: [{name: id, position: path, type: int}]}\n";
        let cut = cut % sample.len();
        let mangled = format!("{}{}", &sample[..cut], &sample[cut + 1..]);
        if let Err(e) = Gateway::from_config(&mangled, Format::Yaml) {
            proptest::prop_assert!(!e.to_string().is_empty());
        }
    }
}
