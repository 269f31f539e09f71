//! Live reload of a gateway read from a file: new requests see the new configuration,
//! requests in flight finish on the old one, a bad file is refused with the error of a start
//! and the old configuration stays, counters and nonces of unchanged blocks survive, and
//! under load no request fails or sees a mix of two configurations — over real HTTP on
//! loopback and through `tower::ServiceExt::oneshot`.

use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use axum::body::Body;
use axum::{Router, routing::any};
use bytes::Bytes;
use http::{Request, Response};
use tollgate::PeerAddr;
use tollgate::gateway::{Format, Gateway, GatewayService, ReloadHandle};
use tollgate::signature::{aliyun_apigw::AliyunApiGateway, sign_request};
use tower::{Layer, ServiceExt, service_fn};

#[path = "support/http.rs"]
mod http_support;
use http_support::{client_from, serve};

// ---------------------------------------------------------------------------------------
// helpers

/// A configuration file of its own for each test, removed when the test ends.
struct File {
    dir: PathBuf,
    path: PathBuf,
}

impl File {
    fn new(test: &str, name: &str, text: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("tollgate-reload-{test}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = Self { path: dir.join(name), dir };
        file.write(text);
        file
    }

    /// Replaces the content as deployment tools do: a new file renamed over the old one.
    fn write(&self, text: &str) {
        let tmp = self.dir.join(".next");
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, &self.path).unwrap();
    }

    fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for File {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Serves `layer` in front of a handler answering "handler" on every path.
async fn serve_layer(layer: tollgate::gateway::GatewayLayer) -> std::net::SocketAddr {
    serve(Router::new().route("/{*rest}", any(|| async { "handler" })).layer(layer)).await
}

fn header(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers().get(name).map(|v| v.to_str().unwrap().to_owned())
}

/// Status codes of `n` GETs of `path` by `client`.
async fn statuses(client: &reqwest::Client, addr: std::net::SocketAddr, path: &str, n: usize) -> Vec<u16> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(client.get(format!("http://{addr}{path}")).send().await.unwrap().status().as_u16());
    }
    out
}

// ---------------------------------------------------------------------------------------
// new requests see the new configuration

#[tokio::test]
async fn a_reload_changes_a_limit_and_an_ip_rule_for_new_requests() {
    let file = File::new(
        "changes",
        "gateway.yaml",
        r#"
apis:
  - path: /orders/
    ip_access: {type: black_list, blocks: "127.0.0.3"}
    basic_flow_control: {expire_type: hour, api_rate_limit: 100}
"#,
    );
    let layer = Gateway::from_file(file.path()).unwrap().into_layer();
    let reload = layer.reload_handle();
    assert_eq!(reload.source().as_deref(), Some(file.path()));
    let addr = serve_layer(layer).await;
    let two = client_from("127.0.0.2");
    let three = client_from("127.0.0.3");

    let resp = two.get(format!("http://{addr}/orders/1")).send().await.unwrap();
    assert_eq!((resp.status().as_u16(), header(&resp, "x-ratelimit-limit").as_deref()), (200, Some("100")));
    assert_eq!(statuses(&three, addr, "/orders/1", 1).await, [403]);

    file.write(
        r#"
apis:
  - path: /orders/
    ip_access: {type: black_list, blocks: "127.0.0.2"}
    basic_flow_control: {expire_type: hour, api_rate_limit: 2}
"#,
    );
    reload.reload().unwrap();
    assert_eq!(statuses(&two, addr, "/orders/1", 1).await, [403]);
    // the new limit counts from zero: its block changed
    let resp = three.get(format!("http://{addr}/orders/1")).send().await.unwrap();
    assert_eq!((resp.status().as_u16(), header(&resp, "x-ratelimit-limit").as_deref()), (200, Some("2")));
    assert_eq!(statuses(&three, addr, "/orders/1", 2).await, [200, 429]);
}

// ---------------------------------------------------------------------------------------
// requests in flight

#[tokio::test]
async fn a_request_in_flight_finishes_on_the_old_configuration() {
    let old = r#"
apis:
  - path: /
    cors: {allow_origin: ["https://old.example"], allow_methods: [GET], max_age: 600}
    basic_flow_control: {expire_type: hour, api_rate_limit: 100}
"#;
    let new = r#"
apis:
  - path: /
    cors: {allow_origin: ["https://new.example"], allow_methods: [GET], max_age: 600}
    basic_flow_control: {expire_type: hour, api_rate_limit: 7}
"#;
    let layer = Gateway::from_config(old, Format::Yaml).unwrap().into_layer();
    let reload = layer.reload_handle();

    // /slow waits until the test lets it go, and says when it has started
    let (started_tx, mut started) = tokio::sync::mpsc::unbounded_channel::<()>();
    let release = Arc::new(tokio::sync::Notify::new());
    let gate = release.clone();
    let app = Router::new()
        .route(
            "/slow",
            any(move || {
                let (started_tx, gate) = (started_tx.clone(), gate.clone());
                async move {
                    started_tx.send(()).unwrap();
                    gate.notified().await;
                    "slow"
                }
            }),
        )
        .route("/{*rest}", any(|| async { "handler" }))
        .layer(layer);
    let addr = serve(app).await;
    let client = client_from("127.0.0.1");

    let in_flight = {
        let client = client.clone();
        tokio::spawn(async move {
            client.get(format!("http://{addr}/slow")).header("origin", "https://old.example").send().await.unwrap()
        })
    };
    started.recv().await.unwrap();
    reload.reload_from(new, Format::Yaml).unwrap();

    // a new request, while the old one waits, sees only the new configuration
    let resp = client.get(format!("http://{addr}/fast")).header("origin", "https://old.example").send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-ratelimit-limit").as_deref(), Some("7"));
    assert_eq!(header(&resp, "access-control-allow-origin"), None);

    release.notify_one();
    let resp = in_flight.await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-ratelimit-limit").as_deref(), Some("100"));
    assert_eq!(header(&resp, "access-control-allow-origin").as_deref(), Some("https://old.example"));
    assert_eq!(resp.text().await.unwrap(), "slow");
}

/// A request body whose chunks the test sends when it pleases.
struct ChannelBody(tokio::sync::mpsc::UnboundedReceiver<Bytes>);

impl http_body::Body for ChannelBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Infallible>>> {
        self.0.poll_recv(cx).map(|chunk| chunk.map(|b| Ok(http_body::Frame::data(b))))
    }
}

/// A request stopped half-way through its stack (parameter validation waits for the body)
/// when the reload comes finishes through the old stack: the old validation rules, not the
/// new ones, judge its body.
#[tokio::test]
async fn a_request_half_way_through_its_stack_finishes_on_the_old_policies() {
    let rules = |max: u32, limit: u32| {
        format!(
            "apis:\n  - path: /\n    basic_flow_control: {{expire_type: hour, api_rate_limit: {limit}}}\n    \
             params: {{validation: {{params: [{{name: n, position: form, type: int, max: {max}}}]}}}}\n"
        )
    };
    let layer = Gateway::from_config(&rules(10, 100), Format::Yaml).unwrap().into_layer();
    let reload = layer.reload_handle();
    let mut svc = handler_service(&layer);
    let form = |body: Body| {
        let mut req =
            Request::post("/").header("content-type", "application/x-www-form-urlencoded").body(body).unwrap();
        req.extensions_mut().insert(PeerAddr("127.0.0.1:40000".parse().unwrap()));
        req
    };

    let (chunks, rx) = tokio::sync::mpsc::unbounded_channel();
    // called now: it passes flow control and waits in the validation for the rest of its body
    let in_flight = tokio::spawn(tower::Service::call(&mut svc, form(Body::new(ChannelBody(rx)))));
    chunks.send(Bytes::from_static(b"n=5")).unwrap();
    tokio::task::yield_now().await;
    reload.reload_from(&rules(1000, 7), Format::Yaml).unwrap();

    // a new request: n = 500 is within the new maximum
    let resp = svc.clone().oneshot(form(Body::from("n=500"))).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-ratelimit-limit"], "7");

    // the old one gets the rest of its body: n = 500 is over the old maximum
    chunks.send(Bytes::from_static(b"00")).unwrap();
    drop(chunks);
    let resp = in_flight.await.unwrap().unwrap();
    assert_eq!(resp.status(), 400);
}

// ---------------------------------------------------------------------------------------
// a bad file

#[tokio::test]
async fn a_bad_file_is_refused_with_the_error_of_a_start_and_the_old_policy_stays() {
    let good = r#"{"apis": [{"path": "/", "ip_access": {"type": "white_list", "blocks": "127.0.0.1"}}]}"#;
    let file = File::new("bad", "gateway.json", good);
    let layer = Gateway::from_file(file.path()).unwrap().into_layer();
    let reload = layer.reload_handle();
    let addr = serve_layer(layer).await;
    let one = client_from("127.0.0.1");
    let two = client_from("127.0.0.2");

    let bad_files = [
        // a value out of range, a field path deep in an API
        r#"{"apis": [{"path": "/", "basic_flow_control": {"expire_type": "minute", "api_rate_limit": 0}}]}"#,
        // not JSON at all
        r#"{"apis": [{"path": "/",}"#,
        // an unknown block
        r#"{"apis": [{"path": "/", "ip_acess": {}}]}"#,
        // a pattern that is not one
        r#"{"apis": [{"path": "orders"}]}"#,
    ];
    for bad in bad_files {
        file.write(bad);
        let at_start = Gateway::from_file(file.path()).unwrap_err().to_string();
        let on_reload = reload.reload().unwrap_err().to_string();
        assert_eq!(on_reload, at_start);
        assert!(on_reload.contains("gateway.json"), "{on_reload}");
        // the allow list of the good file is still in force
        assert_eq!(statuses(&one, addr, "/x", 1).await, [200]);
        assert_eq!(statuses(&two, addr, "/x", 1).await, [403]);
    }
    let err = reload.reload().unwrap_err();
    assert_eq!(err.field, "apis[0].path");

    // a good file is taken again
    file.write(r#"{"apis": [{"path": "/", "ip_access": {"type": "white_list", "blocks": "127.0.0.2"}}]}"#);
    reload.reload().unwrap();
    assert_eq!(statuses(&two, addr, "/x", 1).await, [200]);
    assert_eq!(statuses(&one, addr, "/x", 1).await, [403]);

    // a file that went away is refused the same way
    std::fs::remove_file(file.path()).unwrap();
    let at_start = Gateway::from_file(file.path()).unwrap_err().to_string();
    assert_eq!(reload.reload().unwrap_err().to_string(), at_start);
    assert_eq!(statuses(&two, addr, "/x", 1).await, [200]);
}

// ---------------------------------------------------------------------------------------
// what survives

const TWO_APIS: &str = r#"
apis:
  - name: kept
    path: /kept/
    basic_flow_control: {expire_type: hour, api_rate_limit: 3}
  - path: /unnamed/
    method: [GET, POST]
    basic_flow_control: {expire_type: hour, api_rate_limit: 3}
  - name: changed
    path: /changed/
    basic_flow_control: {expire_type: hour, api_rate_limit: 3}
"#;

#[tokio::test]
async fn counters_survive_for_an_unchanged_api_and_reset_for_a_changed_one() {
    let file = File::new("counters", "gateway.yaml", TWO_APIS);
    let layer = Gateway::from_file(file.path()).unwrap().into_layer();
    let reload = layer.reload_handle();
    let addr = serve_layer(layer).await;
    let client = client_from("127.0.0.1");
    for path in ["/kept/a", "/unnamed/a", "/changed/a"] {
        assert_eq!(statuses(&client, addr, path, 2).await, [200, 200], "{path}");
    }

    // `changed` gets a new limit; the others are the same blocks, written differently (the
    // unnamed API's methods reordered, `kept` moved to another path: it is known by name)
    file.write(
        r#"
apis:
  - name: changed
    path: /changed/
    basic_flow_control: {expire_type: hour, api_rate_limit: 4}
  - method: [POST, get]
    path: /unnamed/
    basic_flow_control: {api_rate_limit: 3, expire_type: hour}
  - name: kept
    path: /kept-here/
    basic_flow_control:
      expire_type: hour
      api_rate_limit: 3
"#,
    );
    reload.reload().unwrap();
    assert_eq!(statuses(&client, addr, "/kept-here/a", 2).await, [200, 429]);
    assert_eq!(statuses(&client, addr, "/unnamed/a", 2).await, [200, 429]);
    assert_eq!(statuses(&client, addr, "/changed/a", 5).await, [200, 200, 200, 200, 429]);

    // the same configuration in another format keeps every counter
    reload
        .reload_from(
            r#"{"apis": [
                {"name": "changed", "path": "/changed/", "basic_flow_control": {"expire_type": "hour", "api_rate_limit": 4}},
                {"path": "/unnamed/", "method": ["GET", "POST"], "basic_flow_control": {"expire_type": "hour", "api_rate_limit": 3}},
                {"name": "kept", "path": "/kept-here/", "basic_flow_control": {"expire_type": "hour", "api_rate_limit": 3}}
            ]}"#,
            Format::Json,
        )
        .unwrap();
    for path in ["/kept-here/a", "/unnamed/a", "/changed/a"] {
        assert_eq!(statuses(&client, addr, path, 1).await, [429], "{path}");
    }

    // an unnamed API whose route changes is a new API
    reload
        .reload_from(
            r#"{"apis": [{"path": "/unnamed/", "method": "GET", "basic_flow_control": {"expire_type": "hour", "api_rate_limit": 3}}]}"#,
            Format::Json,
        )
        .unwrap();
    assert_eq!(statuses(&client, addr, "/unnamed/a", 4).await, [200, 200, 200, 429]);
}

fn signed(path: &str) -> Request<Body> {
    let req = Request::get(format!("http://api.example.com{path}")).body(Bytes::new()).unwrap();
    let signed = sign_request(&AliyunApiGateway::new(), req, "203467890", &"s3cret".into(), SystemTime::now()).unwrap();
    let mut req = signed.map(Body::from);
    req.extensions_mut().insert(PeerAddr("127.0.0.1:40000".parse().unwrap()));
    req
}

fn copy(req: &Request<Body>) -> Request<Body> {
    let mut r = Request::get(req.uri().clone()).body(Body::empty()).unwrap();
    *r.headers_mut() = req.headers().clone();
    r.extensions_mut().insert(PeerAddr("127.0.0.1:40000".parse().unwrap()));
    r
}

fn handler_service(layer: &tollgate::gateway::GatewayLayer) -> GatewayService {
    layer.layer(service_fn(|_req: Request<Body>| async { Ok::<_, Infallible>(Response::new(Body::from("handler"))) }))
}

const SIGNED: &str = r#"
error_style: aliyun_api_gateway
apis:
  - path: /signed/
    signature: {scheme: aliyun-apigw, keys: {"203467890": s3cret}}
    replay: true
"#;

#[tokio::test]
async fn nonces_survive_a_reload() {
    let layer = Gateway::from_config(SIGNED, Format::Yaml).unwrap().into_layer();
    let reload = layer.reload_handle();
    let svc = handler_service(&layer);
    let first = signed("/signed/orders");
    let replay = copy(&first);
    assert_eq!(svc.clone().oneshot(first).await.unwrap().status(), 200);

    // another API added, the signature block rewritten with the same meaning
    let next = format!("{SIGNED}  - path: /open/\n");
    reload.reload_from(&next, Format::Yaml).unwrap();
    let resp = svc.clone().oneshot(replay).await.unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(resp.headers()["x-ca-error-message"], "Nonce Used");
    assert_eq!(svc.clone().oneshot(signed("/signed/orders")).await.unwrap().status(), 200);
}

#[tokio::test]
async fn nonces_survive_a_reload_over_http() {
    let file = File::new("nonces", "gateway.yaml", SIGNED);
    let layer = Gateway::from_file(file.path()).unwrap().into_layer();
    let reload = layer.reload_handle();
    let addr = serve_layer(layer).await;
    let client = client_from("127.0.0.1");
    let first = signed("/signed/orders");
    let send = |req: &Request<Body>| {
        let mut out = client.get(format!("http://{addr}{}", req.uri().path()));
        for (name, value) in req.headers() {
            out = out.header(name, value);
        }
        out.send()
    };
    assert_eq!(send(&first).await.unwrap().status(), 200);
    file.write(&format!("{SIGNED}  - path: /open/\n"));
    reload.reload().unwrap();
    let resp = send(&first).await.unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(header(&resp, "x-ca-error-message").as_deref(), Some("Nonce Used"));
}

// ---------------------------------------------------------------------------------------
// every service a layer made, and gateways built in code

#[tokio::test]
async fn every_service_of_the_layer_is_reloaded_and_a_code_gateway_can_be_replaced() {
    let layer =
        Gateway::from_config("apis: [{path: /, ip_access: {type: white_list, blocks: 10.0.0.1}}]", Format::Yaml)
            .unwrap()
            .into_layer();
    let reload: ReloadHandle = layer.reload_handle();
    // axum applies a layer to each route: several services of one layer
    let services = [handler_service(&layer), handler_service(&layer)];
    let from = |ip: &str| {
        let mut req = Request::get("/x").body(Body::empty()).unwrap();
        req.extensions_mut().insert(PeerAddr(format!("{ip}:40000").parse().unwrap()));
        req
    };
    for svc in &services {
        assert_eq!(svc.clone().oneshot(from("127.0.0.1")).await.unwrap().status(), 403);
    }
    // not read from a file: nothing to reread, nothing changes
    let err = reload.reload().unwrap_err();
    assert!(err.to_string().contains("Gateway::from_file"), "{err}");
    assert_eq!(services[0].clone().oneshot(from("127.0.0.1")).await.unwrap().status(), 403);

    reload.reload_from("apis: [{path: /, ip_access: {type: white_list, blocks: 127.0.0.1}}]", Format::Yaml).unwrap();
    for svc in &services {
        assert_eq!(svc.clone().oneshot(from("127.0.0.1")).await.unwrap().status(), 200);
    }
    // a service made after the reload starts on the new configuration
    let later = handler_service(&layer);
    assert_eq!(later.clone().oneshot(from("127.0.0.1")).await.unwrap().status(), 200);

    // a gateway built in code: no API, every request passes
    reload.replace(Gateway::new());
    for svc in services.iter().chain([&later]) {
        assert_eq!(svc.clone().oneshot(from("192.0.2.1")).await.unwrap().status(), 200);
    }
}

// ---------------------------------------------------------------------------------------
// under load

/// Two configurations that differ in two independent policies: each response must carry
/// one configuration's pair, never one of each.
const LOAD_A: &str = r#"
apis:
  - name: load
    path: /
    cors: {allow_origin: ["https://a.example"], allow_methods: [GET], max_age: 600}
    basic_flow_control: {expire_type: hour, api_rate_limit: 900000}
"#;
const LOAD_B: &str = r#"
apis:
  - name: load
    path: /
    cors: {allow_origin: ["https://b.example"], allow_methods: [GET], max_age: 600}
    basic_flow_control: {expire_type: hour, api_rate_limit: 800000}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_load_no_request_fails_and_none_sees_a_mix() {
    let file = File::new("load", "gateway.yaml", LOAD_A);
    let layer = Gateway::from_file(file.path()).unwrap().into_layer();
    let reload = layer.reload_handle();
    let addr = serve_layer(layer).await;

    let done = Arc::new(AtomicBool::new(false));
    let seen_a = Arc::new(AtomicUsize::new(0));
    let seen_b = Arc::new(AtomicUsize::new(0));
    let mut senders = Vec::new();
    for n in 1..=4 {
        // a client each: connections of their own, kept alive across reloads
        let client = client_from(&format!("127.0.0.{n}"));
        let (done, seen_a, seen_b) = (done.clone(), seen_a.clone(), seen_b.clone());
        senders.push(tokio::spawn(async move {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
            while !done.load(Ordering::Relaxed) && tokio::time::Instant::now() < deadline {
                let resp = client
                    .get(format!("http://{addr}/orders"))
                    .header("origin", "https://a.example")
                    .send()
                    .await
                    .unwrap();
                assert_eq!(resp.status(), 200);
                let seen = (header(&resp, "x-ratelimit-limit"), header(&resp, "access-control-allow-origin"));
                match (seen.0.as_deref(), seen.1.as_deref()) {
                    (Some("900000"), Some("https://a.example")) => seen_a.fetch_add(1, Ordering::Relaxed),
                    (Some("800000"), None) => seen_b.fetch_add(1, Ordering::Relaxed),
                    other => panic!("a mix of two configurations: {other:?}"),
                };
            }
        }));
    }

    let reloads = tokio::task::spawn_blocking(move || {
        for i in 0..200 {
            if i % 2 == 0 {
                reload.reload_from(LOAD_B, Format::Yaml).unwrap();
            } else {
                file.write(LOAD_A);
                reload.reload().unwrap();
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    });
    reloads.await.unwrap();
    done.store(true, Ordering::Relaxed);
    for sender in senders {
        sender.await.unwrap();
    }
    let (a, b) = (seen_a.load(Ordering::Relaxed), seen_b.load(Ordering::Relaxed));
    assert!(a > 0 && b > 0, "both configurations served: {a} and {b}");
}

// ---------------------------------------------------------------------------------------
// watching the file (feature `watch`)

#[cfg(feature = "watch")]
#[tokio::test]
async fn a_watched_file_is_reloaded_when_it_changes() {
    let limit = |n: u32| format!("apis: [{{path: /, basic_flow_control: {{expire_type: hour, api_rate_limit: {n}}}}}]");
    let file = File::new("watch", "gateway.yaml", &limit(100));
    let layer = Gateway::from_file(file.path()).unwrap().into_layer();
    let watching = layer.reload_handle().watch().unwrap();
    let addr = serve_layer(layer).await;
    let client = client_from("127.0.0.1");
    let current = || async {
        let resp = client.get(format!("http://{addr}/x")).send().await.unwrap();
        header(&resp, "x-ratelimit-limit")
    };
    let within_seconds = |want: &'static str| {
        let current = &current;
        async move {
            for _ in 0..100 {
                if current().await.as_deref() == Some(want) {
                    return true;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            false
        }
    };
    assert_eq!(current().await.as_deref(), Some("100"));

    // replaced by a rename, as deployment tools do
    file.write(&limit(50));
    assert!(within_seconds("50").await, "the change was not seen");
    // written in place, as an editor may
    std::fs::write(file.path(), limit(40)).unwrap();
    assert!(within_seconds("40").await, "the change was not seen");

    // a bad file is refused: the limit of 40 stays
    file.write(&limit(0));
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(current().await.as_deref(), Some("40"));

    // once the watcher is dropped, changes are not followed
    drop(watching);
    file.write(&limit(30));
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(current().await.as_deref(), Some("40"));
}

// ---------------------------------------------------------------------------------------
// properties

/// The limit a gateway answers `/x` with, through `oneshot`.
fn limit_of(svc: &GatewayService) -> Option<String> {
    let mut req = Request::get("/x").body(Body::empty()).unwrap();
    req.extensions_mut().insert(PeerAddr("127.0.0.1:40000".parse().unwrap()));
    let resp = block_on(svc.clone().oneshot(req)).unwrap();
    resp.headers().get("x-ratelimit-limit").map(|v| v.to_str().unwrap().to_owned())
}

/// Runs a future that needs no reactor (the gateway's in-memory policies) to its end.
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(future)
}

const IN_FORCE: &str = "apis: [{path: /, basic_flow_control: {expire_type: hour, api_rate_limit: 77}}]";

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(128))]

    /// Any text is reloaded exactly when it would start a gateway, refused with the same
    /// error when it would not, and then the configuration in force stays.
    #[test]
    fn a_reload_is_refused_exactly_when_a_start_is(text in r#"[a-z_: {}\[\]"'=,.0-9/~^\n-]{0,120}"#) {
        for format in [Format::Json, Format::Yaml, Format::Toml] {
            let layer = Gateway::from_config(IN_FORCE, Format::Yaml).unwrap().into_layer();
            let svc = handler_service(&layer);
            let at_start = Gateway::from_config(&text, format).map(|_| ()).map_err(|e| e.to_string());
            let on_reload = layer.reload_handle().reload_from(&text, format).map_err(|e| e.to_string());
            proptest::prop_assert_eq!(&on_reload, &at_start);
            if on_reload.is_err() {
                proptest::prop_assert_eq!(limit_of(&svc), Some("77".to_owned()));
            }
        }
    }

    /// Mangled versions of a valid configuration (a character dropped): the same.
    #[test]
    fn a_mangled_reload_is_refused_exactly_when_a_start_is(cut in 0usize..200) {
        let sample = "apis:\n  - name: a\n    path: /\n    basic_flow_control: {expire_type: hour, api_rate_limit: 5}\n    ip_access: {type: white_list, blocks: \"127.0.0.1\"}\n";
        let cut = cut % sample.len();
        let mangled = format!("{}{}", &sample[..cut], &sample[cut + 1..]);
        let layer = Gateway::from_config(IN_FORCE, Format::Yaml).unwrap().into_layer();
        let svc = handler_service(&layer);
        let at_start = Gateway::from_config(&mangled, Format::Yaml).map(|_| ()).map_err(|e| e.to_string());
        let on_reload = layer.reload_handle().reload_from(&mangled, Format::Yaml).map_err(|e| e.to_string());
        proptest::prop_assert_eq!(&on_reload, &at_start);
        if on_reload.is_err() {
            proptest::prop_assert_eq!(limit_of(&svc), Some("77".to_owned()));
        }
    }
}

// ---------------------------------------------------------------------------------------
// events

/// The events logged, as (level, message, `error` field, `apis` field).
type Events = Arc<std::sync::Mutex<Vec<(tracing::Level, String, String, u64)>>>;

#[derive(Default, Clone)]
struct EventLog(Events);

impl tracing::Subscriber for EventLog {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        if event.metadata().target() != "tollgate::gateway::reload" {
            return;
        }
        let mut fields = EventFields::default();
        event.record(&mut fields);
        self.0.lock().unwrap().push((*event.metadata().level(), fields.message, fields.error, fields.apis));
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[derive(Default)]
struct EventFields {
    message: String,
    error: String,
    apis: u64,
}

impl tracing::field::Visit for EventFields {
    fn record_u64(&mut self, field: &tracing::field::Field, value: u64) {
        if field.name() == "apis" {
            self.apis = value;
        }
    }
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            "message" => self.message = format!("{value:?}"),
            "error" => self.error = format!("{value:?}"),
            _ => {}
        }
    }
}

/// The process-wide recording subscriber (tracing caches each call site's interest
/// process-wide: a scoped subscriber could miss events first met on another thread).
fn event_log() -> Events {
    static LOG: std::sync::OnceLock<EventLog> = std::sync::OnceLock::new();
    LOG.get_or_init(|| {
        let log = EventLog::default();
        tracing::subscriber::set_global_default(log.clone()).expect("no other global subscriber in this binary");
        log
    })
    .0
    .clone()
}

#[test]
fn each_reload_logs_an_event_info_when_taken_warn_when_refused() {
    let events = event_log();
    let reload = Gateway::new().into_layer().reload_handle();
    // 13 APIs: no other test's reload has as many
    let apis: String = (0..13).map(|i| format!("  - path: /p{i}/\n")).collect();
    reload.reload_from(&format!("apis:\n{apis}"), Format::Yaml).unwrap();
    reload.reload_from("apis: [{path: /, no_such_block_13: 1}]", Format::Yaml).unwrap_err();
    let events = events.lock().unwrap();
    assert!(
        events.iter().any(|(level, message, _, apis)| *level == tracing::Level::INFO
            && message == "gateway configuration reloaded"
            && *apis == 13),
        "{events:?}"
    );
    assert!(
        events.iter().any(|(level, message, error, _)| *level == tracing::Level::WARN
            && message.starts_with("gateway configuration refused")
            && error.contains("no_such_block_13")),
        "{events:?}"
    );
}
