//! Aliyun API Gateway's backend signature (the `backendSignature` plug-in, `type:
//! APIGW_BACKEND`): the gateway signs each request it forwards with a key of its own, so the
//! backend can tell the gateway's requests from anyone else's. Both ends are here:
//! [`BackendSignatureLayer`] verifies, in front of a backend's handlers (behind Aliyun's real
//! gateway, or behind tollgate's), and [`BackendSigningLayer`] signs, as the gateway does.
//!
//! ```
//! use http::{Request, Response, StatusCode};
//! use http_body_util::Full;
//! use bytes::Bytes;
//! use tollgate_signature::aliyun_backend::{BackendSignatureLayer, BackendSigningLayer};
//! use tower::{ServiceExt, service_fn};
//! use tower_layer::Layer;
//!
//! async fn place_order<B>(_req: Request<B>) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
//!     Ok(Response::new(Full::new(Bytes::from("order placed"))))
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! // the backend: its handler behind the verifier, which knows the old key and its replacement
//! let verifier = BackendSignatureLayer::new([("SampleKey", "SampleSecret"), ("SampleKey2", "Secret2")]).unwrap();
//! let backend = verifier.layer(service_fn(place_order));
//!
//! // the gateway: signs what it forwards (here straight into a backend)
//! let signer = BackendSigningLayer::new("SampleKey", "SampleSecret").unwrap();
//! let gateway = signer.layer(verifier.layer(service_fn(place_order)));
//! let order = || {
//!     Request::post("/orders?sku=42")
//!         .header("content-type", "application/x-www-form-urlencoded")
//!         .header("x-user", "alice")
//!         .body(Full::new(Bytes::from("qty=3")))
//!         .unwrap()
//! };
//! assert_eq!(gateway.oneshot(order()).await.unwrap().status(), StatusCode::OK);
//!
//! // anyone else: refused
//! let refused = backend.oneshot(order()).await.unwrap();
//! assert_eq!(refused.status(), StatusCode::FORBIDDEN);
//! assert_eq!(refused.headers()["x-ca-error-message"], "Invalid Signature, X-Ca-Proxy-Signature is missing");
//! # }
//! ```
//!
//! # The string to sign
//!
//! `Signature = Base64(HMAC-SHA256(secret, string))`, where the string is
//!
//! ```text
//! METHOD\n
//! Content-MD5\n
//! name:value\n            (one line per signed header)
//! /path?name=value&name=value
//! ```
//!
//! Every rule is settled from Aliyun's backend demo, `Sign.java` in
//! [aliyun/api-gateway-demo-sign-backend-java](https://github.com/aliyun/api-gateway-demo-sign-backend-java)
//! (commit `ab08a2b`, 2017-08-29), whose `main` (lines 76–101) signs `POST /demo/uri` with
//! headers `HeaderKey1`, `HeaderKey2`, parameters `QueryKey1`, `QueryKey2`, `FormKey1`,
//! `FormKey2` and an empty body under `DemoKey1` / `DemoSecret1`, and gets
//! `C7Lqfn8Spz0DxQTfUJq0NrkEbwNUuTNtC9p3SzRWgv0=` (a test vector of this crate):
//!
//! | rule | demo line |
//! |---|---|
//! | the method as sent, not re-cased | 226 |
//! | `Content-MD5`: Base64 of the MD5 of the body, computed by the backend (not a header it trusts), for `POST` and `PUT` only (in any case), a non-empty body only, and not for a form (whose parameters are signed instead); otherwise the line is empty but its `\n` stays | 110, 137–152, 227–230 |
//! | the signed headers are those named in `X-Ca-Proxy-Signature-Headers`, split on `,` with nothing trimmed | 204–210 |
//! | sorted by their names *as listed*, in Java's `String` order (UTF-16 units, upper case before lower), then written lower-cased, `name:value\n`; none: no line at all | 202, 245–248 |
//! | a listed header the request does not carry gets no line | 246 |
//! | a header value as sent, bytes unchanged (the demo asks for UTF-8, not ISO-8859-1) | 195, 247 |
//! | then the path as received, not decoded (the servlet's `getRequestURI`) | 106, 263–264 |
//! | then, if there is any parameter, `?` and the query's and the form body's parameters together, decoded, sorted by name (Java order), `name=value` joined by `&`, nothing encoded | 109, 266–275, 157–190 |
//! | each name's first value; a parameter sent as `name` or `name=` is `name=` (a servlet reads both as `[""]`, and the demo writes a bare name only for an empty array, which a servlet never gives) | 168–185 |
//! | no final `\n` | 231–232 |
//!
//! The spec's summary (auth.md §6) says a name without value is written bare: the demo, run
//! as its comments say in a servlet container, writes `name=`. The signer follows the demo,
//! the code Aliyun ships to check the gateway's signatures; the verifier accepts a request
//! sent as `?name` signed either way ([`string_to_sign_bare`]), so a gateway following the
//! spec's reading is not refused. Both strings stand for the same parameters, so accepting
//! the second lets no request through that the first would describe otherwise.
//!
//! # What is refused, and why
//!
//! Every refusal is 403 `InvalidSignature` (`X-Ca-Error-Message: Invalid Signature`, the
//! reason after a comma: our wording). Besides a missing or unknown key, a missing or
//! malformed signature and a mismatch, the verifier refuses what the signature would cover
//! one way and a handler might read another ([`Unsignable`]):
//!
//! - a signed header sent more than once (the demo's `getHeader` signs the first; a handler
//!   may read the last, or all); the scheme's own headers sent more than once;
//! - `X-Ca-Proxy-Signature-Headers` naming a header twice (`A,a`: a `TreeMap` keeps one line,
//!   a reader another), naming `X-Ca-Proxy-Signature` itself, or holding something that is
//!   not a header name (an empty entry, spaces);
//! - a parameter given twice, or in both the query and a form body (the demo signs the first
//!   value of the merged list; which a handler reads is its own choice);
//! - a parameter not UTF-8 once decoded, or whose decoded name holds `&` or `=`, or value
//!   `&`: nothing is encoded in the string, so `?a=x%26b%3Dy` and `?a=x&b=y` would share a
//!   signature while a handler reads one parameter or two;
//! - a body on a method other than `POST` and `PUT`: the scheme does not sign it
//!   ([`allow_unsigned_bodies`](BackendSignatureLayer::allow_unsigned_bodies) lets it pass).
//!
//! What the scheme cannot prove: it has no timestamp and no nonce of its own, so a signed
//! request captured between gateway and backend can be sent again; unsigned headers can be
//! added. A backend that must refuse replays checks a signed `X-Ca-Timestamp` / `X-Ca-Nonce`
//! (have the gateway forward them and list them).
//!
//! # Keys
//!
//! The verifier holds several keys at once ([`BackendKeysConfig`]), found by
//! `X-Ca-Proxy-Signature-Secret-Key` as the demo's `signSecretMap` (lines 60–68, 121): bind
//! the new key on the gateway while the backend accepts both, then drop the old one. A key
//! and its replacement must differ in name and in secret; either given twice is refused
//! when the layer is built.
//!
//! UNCERTAIN points, settled: a `type` other than `APIGW_BACKEND` is refused (what it would
//! sign is not documented); the console's length and alphabet limits on `key` and `secret`
//! (from the ROS `Signature` resource) are not imposed; the signer lists every header but
//! those a hop may rewrite (see [`SignedHeaders`]), a superset of "every parameter the
//! gateway defines", with names in lower case.

mod config;
mod sign;
mod string_to_sign;
mod verify;

#[cfg(test)]
mod tests;

use std::sync::Arc;

pub use config::{APIGW_BACKEND, BackendKeysConfig, BackendSignatureConfig};
pub use sign::{AliyunBackendSigner, BackendSigningLayer, BackendSigningService, SignedHeaders};
pub use string_to_sign::{Unsignable, string_to_sign, string_to_sign_bare};
pub use verify::{BackendSignatureLayer, BackendSignatureService};

/// The name of the key that signed a request the verifier let through (its
/// `X-Ca-Proxy-Signature-Secret-Key`), in the request's extensions: to see when the old key
/// of a rotation stops being used.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BackendSignatureKey(pub Arc<str>);
