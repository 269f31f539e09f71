//! Error-mapping configuration from arbitrary bytes (Aliyun's `errorMapping` plug-in JSON);
//! when one builds, a backend response made from the rest of the input (`status \n
//! content-type \n x-ca-error-code \n body`) goes through the layer. No panic; the body
//! comes out byte for byte as it went in; a changed status is one the configuration names.
#![no_main]

use std::convert::Infallible;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use http::{Request, Response};
use http_body::Body;
use http_body_util::Full;
use libfuzzer_sys::fuzz_target;
use tollgate_error_mapping::{ErrorMappingConfig, ErrorMappingLayer};
use tower_layer::Layer;
use tower_service::Service;

fn now<F: Future>(future: F) -> F::Output {
    match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("a ready backend made the layer wait"),
    }
}

/// Every data byte of a body that is always ready.
fn drain<B: Body<Data = Bytes>>(body: B) -> Vec<u8>
where
    B::Error: std::fmt::Debug,
{
    let mut body = pin!(body);
    let mut out = Vec::new();
    loop {
        match body.as_mut().poll_frame(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Ok(data) = frame.into_data() {
                    out.extend_from_slice(&data);
                }
            }
            Poll::Ready(Some(Err(e))) => panic!("a body that cannot fail failed: {e:?}"),
            Poll::Ready(None) => return out,
            Poll::Pending => panic!("an always-ready body waited"),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    let (config, rest) = data.split_at(split);
    let Ok(config) = serde_json::from_slice::<ErrorMappingConfig>(config) else { return };
    let _ = format!("{config:?}");
    let Ok(layer) = ErrorMappingLayer::from_config(&config) else { return };
    let mut statuses: Vec<u64> = config.mappings.iter().filter_map(|m| m.status_code).collect();
    statuses.extend(config.default_mapping.as_ref().and_then(|m| m.status_code));

    let rest = rest.get(1..).unwrap_or_default();
    let mut parts = rest.splitn(4, |&b| b == b'\n');
    let status = parts.next().and_then(|s| std::str::from_utf8(s).ok()?.trim().parse::<u16>().ok());
    let status = status.and_then(|s| http::StatusCode::from_u16(s).ok()).unwrap_or(http::StatusCode::OK);
    let content_type = parts.next().and_then(|v| http::HeaderValue::from_bytes(v).ok());
    let error_code = parts.next().and_then(|v| http::HeaderValue::from_bytes(v).ok());
    let body = Bytes::copy_from_slice(parts.next().unwrap_or_default());

    let sent = body.clone();
    let backend = tower_util_fn(move || {
        let mut resp = Response::new(Full::new(sent.clone()));
        *resp.status_mut() = status;
        if let Some(v) = &content_type {
            resp.headers_mut().insert("content-type", v.clone());
        }
        if let Some(v) = &error_code {
            resp.headers_mut().insert("x-ca-error-code", v.clone());
        }
        resp
    });
    let mut svc = layer.layer(backend);
    let resp = now(svc.call(Request::new(()))).unwrap();
    if resp.status() != status {
        assert!(
            statuses.contains(&u64::from(resp.status().as_u16())),
            "mapped to {} which no entry names",
            resp.status()
        );
    }
    assert_eq!(drain(resp.into_body()), body, "the body changed");
});

/// A backend answering with what `make` builds.
struct Backend<F>(F);

fn tower_util_fn<F: FnMut() -> Response<Full<Bytes>>>(make: F) -> Backend<F> {
    Backend(make)
}

impl<F: FnMut() -> Response<Full<Bytes>>> Service<Request<()>> for Backend<F> {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _req: Request<()>) -> Self::Future {
        std::future::ready(Ok((self.0)()))
    }
}
