//! Aliyun's backend signature on arbitrary bytes as the signed-header list, a header value,
//! the query, the form body and the claimed signature: `string_to_sign`, the signer and
//! `BackendSignatureLayer` never panic; nothing arbitrary is accepted; whatever the signer
//! signs, the verifier accepts.
#![no_main]

use std::convert::Infallible;
use std::future::{Future, Ready, ready};
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::SystemTime;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, Uri};
use http_body_util::Full;
use libfuzzer_sys::fuzz_target;
use tollgate_signature::aliyun_backend::{AliyunBackendSigner, BackendSignatureLayer, string_to_sign};
use tollgate_signature::{RequestView, Signer};
use tower_layer::Layer;
use tower_service::Service;

/// A handler that answers 200.
#[derive(Clone)]
struct Ok200;

impl<B> Service<Request<B>> for Ok200 {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Request<B>) -> Self::Future {
        ready(Ok(Response::new(Full::new(Bytes::new()))))
    }
}

/// The verifier's answer; every future here is ready at once (the body is in memory).
fn status(layer: &BackendSignatureLayer, req: Request<Full<Bytes>>) -> StatusCode {
    let mut svc = layer.layer(Ok200);
    let future = pin!(svc.call(req));
    match future.poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(Ok(resp)) => resp.status(),
        Poll::Ready(Err(e)) => match e {},
        Poll::Pending => panic!("the verifier waited on an in-memory body"),
    }
}

fuzz_target!(|data: &[u8]| {
    // Fields separated by NUL: signed-header list, a header value, query, body, signature.
    let mut fields = data.split(|&b| b == 0);
    let mut field = || fields.next().unwrap_or_default();
    let (list, value, query, body, signature) = (field(), field(), field(), field(), field());

    let target = format!("/r?{}", String::from_utf8_lossy(query));
    let uri: Uri = target.parse().unwrap_or_else(|_| Uri::from_static("/r"));
    let verifier = BackendSignatureLayer::new([("K1", "Secret1"), ("K2", "Secret2")]).unwrap();
    let body = Bytes::copy_from_slice(body);

    for method in [Method::GET, Method::POST, Method::PATCH] {
        for form in [true, false] {
            let mut req = Request::builder().method(method.clone()).uri(uri.clone());
            if form {
                req = req.header("content-type", "application/x-www-form-urlencoded");
            }
            let mut req = req.body(body.clone()).unwrap();
            if let Ok(v) = HeaderValue::from_bytes(value) {
                req.headers_mut().append("x-a", v.clone());
                req.headers_mut().insert("x-b", v);
            }
            let h = req.headers_mut();
            h.insert("x-ca-proxy-signature-secret-key", HeaderValue::from_static("K1"));
            if let Ok(v) = HeaderValue::from_bytes(list) {
                h.insert("x-ca-proxy-signature-headers", v);
            }
            if let Ok(v) = HeaderValue::from_bytes(signature) {
                h.insert("x-ca-proxy-signature", v);
            }
            let view = RequestView { method: req.method(), uri: req.uri(), headers: req.headers(), body: Some(&body) };
            let _ = string_to_sign(&view);

            // nothing made of arbitrary bytes verifies under a secret it never saw
            let (parts, b) = req.into_parts();
            let claimed = status(&verifier, Request::from_parts(parts.clone(), Full::new(b.clone())));
            assert_ne!(claimed, StatusCode::OK, "accepted: {parts:?}");

            // what the signer signs, the verifier accepts
            let mut signed = parts;
            let mut b = b;
            let signer = AliyunBackendSigner::new();
            if signer.sign(&mut signed, &mut b, "K2", &"Secret2".into(), SystemTime::UNIX_EPOCH).is_ok() {
                let verifier = verifier.clone().allow_unsigned_bodies(true);
                let got = status(&verifier, Request::from_parts(signed.clone(), Full::new(b)));
                assert_eq!(got, StatusCode::OK, "refused what was signed: {signed:?}");
            }
        }
    }
});
