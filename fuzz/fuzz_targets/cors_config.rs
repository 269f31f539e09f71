//! CORS configuration from arbitrary bytes: the plugin JSON (Tencent's or Aliyun's form) and
//! the API-level config with the switch; when one builds, a preflight and an actual request
//! made from the rest of the input (`origin \n request-method \n request-headers \n
//! response header names`) go through the layer. No panic, and never a grant browsers
//! would refuse or one the rule does not give.
#![no_main]

use std::convert::Infallible;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Response};
use libfuzzer_sys::fuzz_target;
use tollgate_cors::{CorsConfig, CorsLayer, CorsMode, CorsPlugin};
use tower_layer::Layer;
use tower_service::Service;

fn now<F: Future>(future: F) -> F::Output {
    match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("the layer never waits on its own"),
    }
}

/// Sends `req` through `layer` to a handler that answers with `response_headers`; returns
/// the response headers and whether the handler ran.
fn exchange(layer: &CorsLayer, req: Request<()>, response_headers: &HeaderMap) -> (u16, HeaderMap, bool) {
    let mut svc = layer.layer(Handler { headers: response_headers.clone(), called: false });
    now(std::future::poll_fn(|cx| svc.poll_ready(cx))).unwrap();
    let resp = now(svc.call(req)).unwrap();
    (resp.status().as_u16(), resp.headers().clone(), svc.get_ref().called)
}

/// Answers 200 with the given headers, and remembers that it was called.
struct Handler {
    headers: HeaderMap,
    called: bool,
}

impl Service<Request<()>> for Handler {
    type Response = Response<()>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Response<()>, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _req: Request<()>) -> Self::Future {
        self.called = true;
        let mut resp = Response::new(());
        *resp.headers_mut() = self.headers.clone();
        std::future::ready(Ok(resp))
    }
}

fn check(layer: &CorsLayer, origin: Option<&HeaderValue>, headers: &HeaderMap) {
    let get = |name: &str| headers.get(name).map(HeaderValue::as_bytes);
    let acao = get("access-control-allow-origin");
    if get("access-control-allow-credentials").is_some() {
        assert_eq!(get("access-control-allow-credentials"), Some(&b"true"[..]));
        assert!(acao.is_some_and(|v| v != b"*"), "credentials with {acao:?}");
        for name in ["access-control-allow-methods", "access-control-allow-headers", "access-control-expose-headers"] {
            assert_ne!(get(name), Some(&b"*"[..]), "credentials with {name}: *");
        }
    }
    if layer.mode() != CorsMode::Rules {
        return;
    }
    if let Some(acao) = acao {
        if acao != b"*" {
            // an echo: of this request's origin, and only of an allowed one, with Vary
            let origin = origin.expect("an echoed origin without an Origin header");
            assert_eq!(acao, origin.as_bytes());
            assert!(layer.allows_origin(origin.to_str().unwrap()), "granted {origin:?}");
            let vary: Vec<_> = headers.get_all("vary").iter().collect();
            assert!(!vary.is_empty(), "an echoed origin without Vary");
        } else if let Some(origin) = origin {
            assert!(layer.allows_origin(origin.to_str().unwrap_or("")), "* granted to {origin:?}");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    let (config, rest) = data.split_at(split);
    let mut layers = Vec::new();
    if let Ok(plugin) = serde_json::from_slice::<CorsPlugin>(config) {
        if let Ok(layer) = CorsLayer::from_plugin(&plugin) {
            layers.push(layer);
        }
    }
    if let Ok(cfg) = serde_json::from_slice::<CorsConfig>(config) {
        if let Ok(layer) = CorsLayer::from_config(&cfg) {
            layers.push(layer);
        }
    }
    if layers.is_empty() {
        return;
    }
    let mut parts = rest.get(1..).unwrap_or_default().split(|&b| b == b'\n');
    let origin = parts.next().and_then(|b| HeaderValue::from_bytes(b).ok());
    let method = parts.next().and_then(|b| HeaderValue::from_bytes(b).ok());
    let req_headers = parts.next().and_then(|b| HeaderValue::from_bytes(b).ok());
    let mut response_headers = HeaderMap::new();
    for name in parts.next().unwrap_or_default().split(|&b| b == b',') {
        if let Ok(name) = HeaderName::from_bytes(name) {
            response_headers.append(name, HeaderValue::from_static("v"));
        }
    }
    for layer in &layers {
        let _ = layer.allows_origin(&String::from_utf8_lossy(rest));
        let build = |m: Method, preflight: bool| {
            let mut req = Request::builder().method(m).body(()).unwrap();
            let h = req.headers_mut();
            if let Some(o) = &origin {
                h.insert("origin", o.clone());
            }
            if preflight {
                if let Some(m) = &method {
                    h.insert("access-control-request-method", m.clone());
                }
                if let Some(r) = &req_headers {
                    h.insert("access-control-request-headers", r.clone());
                }
            }
            req
        };
        let (status, headers, called) = exchange(layer, build(Method::OPTIONS, true), &response_headers);
        if layer.mode() == CorsMode::Rules && origin.is_some() && method.is_some() {
            assert!(!called && status == 204, "a preflight was forwarded");
            if headers.contains_key("access-control-allow-origin") {
                assert!(headers.contains_key("access-control-allow-methods"));
            }
        }
        check(layer, origin.as_ref(), &headers);
        let (_, headers, called) = exchange(layer, build(Method::GET, false), &response_headers);
        assert!(called, "an actual request was not forwarded");
        check(layer, origin.as_ref(), &headers);
    }
});
