//! Aliyun's backend signature through the layers, with `oneshot`: the demo's request and
//! signature accepted by the verifier, each refusal, key rotation, bodies, and the signer and
//! verifier agreeing on generated requests (property test).

use std::convert::Infallible;
use std::time::SystemTime;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use proptest::prelude::*;
use tollgate_core::RequestBody;
use tollgate_signature::aliyun_backend::{
    AliyunBackendSigner, BackendKeysConfig, BackendSignatureKey, BackendSignatureLayer, BackendSigningLayer,
    SignedHeaders, string_to_sign,
};
use tollgate_signature::{RequestView, Signer, sign_request};
use tower::{ServiceExt, service_fn};
use tower_layer::Layer;

const DEMO_SIGNATURE: &str = "C7Lqfn8Spz0DxQTfUJq0NrkEbwNUuTNtC9p3SzRWgv0=";

/// The demo's keys (`Sign.java` lines 65–67).
fn demo_verifier() -> BackendSignatureLayer {
    BackendSignatureLayer::new([("DemoKey1", "DemoSecret1"), ("DemoKey2", "DemoSecret2"), ("DemoKey3", "DemoSecret3")])
        .unwrap()
}

/// `Sign.java` `main` (lines 77–92) as the HTTP request a servlet would have parsed: the
/// query parameters in the query, the form parameters in a form body.
fn demo_request() -> http::request::Builder {
    Request::post("/demo/uri?QueryKey1=QueryValue1&QueryKey2=QueryValue2")
        .header("X-Ca-Proxy-Signature", DEMO_SIGNATURE)
        .header("X-Ca-Proxy-Signature-Headers", "HeaderKey1,HeaderKey2")
        .header("X-Ca-Proxy-Signature-Secret-Key", "DemoKey1")
        .header("HeaderKey1", "HeaderValue1")
        .header("HeaderKey2", "HeaderValue2")
        .header("content-type", "application/x-www-form-urlencoded")
}

const DEMO_FORM: &str = "FormKey1=FormValue1&FormKey2=FormValue2";

/// Status, `X-Ca-Error-Message`, and on success the body the handler read and the key it
/// was told signed.
async fn send(layer: &BackendSignatureLayer, req: Request<Full<Bytes>>) -> (StatusCode, String, String) {
    let svc = layer.layer(service_fn(|req: Request<RequestBody<Full<Bytes>>>| async move {
        let key = req.extensions().get::<BackendSignatureKey>().unwrap().0.clone();
        let body = req.into_body().collect().await.unwrap().to_bytes();
        let text = format!("{key}:{}", String::from_utf8_lossy(&body));
        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(text))))
    }));
    let resp = svc.oneshot(req).await.unwrap();
    let status = resp.status();
    let message = resp.headers().get("x-ca-error-message").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    let body = String::from_utf8(resp.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
    (status, message, if status == StatusCode::OK { body } else { String::new() })
}

fn body(text: &str) -> Full<Bytes> {
    Full::new(Bytes::copy_from_slice(text.as_bytes()))
}

#[tokio::test]
async fn the_demo_request_is_accepted_with_the_demo_signature() {
    let (status, message, seen) = send(&demo_verifier(), demo_request().body(body(DEMO_FORM)).unwrap()).await;
    assert_eq!((status, message.as_str()), (StatusCode::OK, ""));
    // the handler reads the form body byte for byte, and which key signed
    assert_eq!(seen, format!("DemoKey1:{DEMO_FORM}"));
}

#[tokio::test]
async fn the_demo_request_tampered_is_refused() {
    let v = demo_verifier();
    let refused = |req: Request<Full<Bytes>>| {
        let v = v.clone();
        async move {
            let (status, message, _) = send(&v, req).await;
            assert_eq!((status, message.as_str()), (StatusCode::FORBIDDEN, "Invalid Signature"));
        }
    };
    refused(demo_request().body(body("FormKey1=FormValue1&FormKey2=FormValueX")).unwrap()).await;
    let mut req = demo_request().body(body(DEMO_FORM)).unwrap();
    req.headers_mut().insert("headerkey2", "HeaderValueX".parse().unwrap());
    refused(req).await;
    let mut req = demo_request().body(body(DEMO_FORM)).unwrap();
    *req.uri_mut() = "/demo/uri?QueryKey1=QueryValue1&QueryKey2=QueryValueX".parse().unwrap();
    refused(req).await;
    let mut req = demo_request().body(body(DEMO_FORM)).unwrap();
    *req.uri_mut() = "/demo/urI?QueryKey1=QueryValue1&QueryKey2=QueryValue2".parse().unwrap();
    refused(req).await;
    let mut req = demo_request().body(body(DEMO_FORM)).unwrap();
    *req.method_mut() = Method::PUT;
    refused(req).await;
    // a parameter added, and one dropped
    let mut req = demo_request().body(body(DEMO_FORM)).unwrap();
    *req.uri_mut() = "/demo/uri?QueryKey1=QueryValue1&QueryKey2=QueryValue2&admin=1".parse().unwrap();
    refused(req).await;
    refused(demo_request().body(body("FormKey1=FormValue1")).unwrap()).await;
    // signed by DemoKey1, claimed as DemoKey2
    let mut req = demo_request().body(body(DEMO_FORM)).unwrap();
    req.headers_mut().insert("x-ca-proxy-signature-secret-key", "DemoKey2".parse().unwrap());
    refused(req).await;
    // the signed-header list shortened: its header's line goes
    let mut req = demo_request().body(body(DEMO_FORM)).unwrap();
    req.headers_mut().insert("x-ca-proxy-signature-headers", "HeaderKey1".parse().unwrap());
    refused(req).await;
}

#[tokio::test]
async fn each_refusal_says_why() {
    let v = demo_verifier();
    let without = |name: &str| {
        let mut req = demo_request().body(body(DEMO_FORM)).unwrap();
        req.headers_mut().remove(name);
        req
    };
    let cases = [
        (without("x-ca-proxy-signature"), "Invalid Signature, X-Ca-Proxy-Signature is missing"),
        (without("x-ca-proxy-signature-secret-key"), "Invalid Signature, X-Ca-Proxy-Signature-Secret-Key is missing"),
        (
            demo_request().header("X-Ca-Proxy-Signature-Secret-Key", "DemoKey1").body(body(DEMO_FORM)).unwrap(),
            "Invalid Signature, X-Ca-Proxy-Signature-Secret-Key is sent more than once",
        ),
        (
            demo_request().header("X-Ca-Proxy-Signature", DEMO_SIGNATURE).body(body(DEMO_FORM)).unwrap(),
            "Invalid Signature, X-Ca-Proxy-Signature is sent more than once",
        ),
    ];
    for (req, expected) in cases {
        let (status, message, _) = send(&v, req).await;
        assert_eq!((status, message.as_str()), (StatusCode::FORBIDDEN, expected));
    }
    let with = |name: &str, value: &str| {
        let mut req = demo_request().body(body(DEMO_FORM)).unwrap();
        req.headers_mut().insert(http::HeaderName::from_bytes(name.as_bytes()).unwrap(), value.parse().unwrap());
        req
    };
    let bad_signature = "Invalid Signature, X-Ca-Proxy-Signature is not the Base64 of an HMAC-SHA256";
    for (req, expected) in [
        (
            with("x-ca-proxy-signature-secret-key", "demokey1"),
            "Invalid Signature, unknown X-Ca-Proxy-Signature-Secret-Key",
        ),
        (with("x-ca-proxy-signature", "not base64!"), bad_signature),
        (with("x-ca-proxy-signature", "C7Lqfn8Spz0DxQTfUJq0NrkEbwNUuTNt"), bad_signature),
        (with("x-ca-proxy-signature", ""), bad_signature),
    ] {
        let (status, message, _) = send(&v, req).await;
        assert_eq!((status, message.as_str()), (StatusCode::FORBIDDEN, expected));
    }
}

/// Signs with `signer` as `key` / `secret`.
fn signed(key: &str, secret: &str, req: Request<Bytes>) -> Request<Full<Bytes>> {
    let signed = sign_request(&AliyunBackendSigner::new(), req, key, &secret.into(), SystemTime::now()).unwrap();
    signed.map(Full::new)
}

#[tokio::test]
async fn a_key_rotates_without_a_refusal() {
    let req = || Request::get("/orders?id=7").header("x-user", "alice").body(Bytes::new()).unwrap();
    let both = BackendSignatureLayer::new([("Old", "OldSecret1"), ("New", "NewSecret1")]).unwrap();
    assert_eq!(send(&both, signed("Old", "OldSecret1", req())).await.2, "Old:");
    assert_eq!(send(&both, signed("New", "NewSecret1", req())).await.2, "New:");
    // the old key dropped: refused
    let new_only = BackendSignatureLayer::from_config(
        &serde_json::from_str::<BackendKeysConfig>(
            r#"{"keys": [{"type": "APIGW_BACKEND", "key": "New", "secret": "NewSecret1"}]}"#,
        )
        .unwrap(),
    )
    .unwrap();
    let (status, message, _) = send(&new_only, signed("Old", "OldSecret1", req())).await;
    assert_eq!(
        (status, message.as_str()),
        (StatusCode::FORBIDDEN, "Invalid Signature, unknown X-Ca-Proxy-Signature-Secret-Key")
    );
    // the right name with another key's secret
    let (status, _, _) = send(&both, signed("New", "OldSecret1", req())).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn bodies_are_read_only_where_signed() {
    let v = BackendSignatureLayer::new([("K", "Secret1")]).unwrap();
    let json =
        || Request::post("/p").header("content-type", "application/json").body(Bytes::from("{\"a\":1}")).unwrap();
    assert_eq!(send(&v, signed("K", "Secret1", json())).await.2, "K:{\"a\":1}");
    // the body changed after signing: its digest no longer matches
    let mut req = signed("K", "Secret1", json());
    *req.body_mut() = body("{\"a\":2}");
    assert_eq!(send(&v, req).await.0, StatusCode::FORBIDDEN);

    // PATCH: the scheme does not sign its body, so one is refused unless allowed
    let patch = || Request::patch("/p").body(Bytes::from("a=1")).unwrap();
    let (status, message, _) = send(&v, signed("K", "Secret1", patch())).await;
    assert_eq!(
        (status, message.as_str()),
        (StatusCode::FORBIDDEN, "Invalid Signature, the body of a PATCH request is not signed")
    );
    assert_eq!(send(&v.clone().allow_unsigned_bodies(true), signed("K", "Secret1", patch())).await.2, "K:a=1");
    let empty = Request::patch("/p").body(Bytes::new()).unwrap();
    assert_eq!(send(&v, signed("K", "Secret1", empty)).await.0, StatusCode::OK);

    // too large to read: 413
    let big = Request::put("/p").body(Bytes::from(vec![b'x'; 64])).unwrap();
    assert_eq!(send(&v.clone().body_limit(16), signed("K", "Secret1", big)).await.0, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn the_signer_refuses_what_the_verifier_would() {
    let gateway = BackendSigningLayer::new("K", "Secret1").unwrap();
    let svc = gateway.layer(service_fn(|_req: Request<RequestBody<Full<Bytes>>>| async {
        Ok::<_, Infallible>(Response::new(Full::new(Bytes::new())))
    }));
    let send = |req: Request<Full<Bytes>>| {
        let svc = svc.clone();
        async move {
            let resp = svc.oneshot(req).await.unwrap();
            (resp.status(), resp.headers().get("x-ca-error-message").map(|v| v.to_str().unwrap().to_owned()))
        }
    };
    let repeated = Request::get("/p").header("x-a", "1").header("x-a", "2").body(body("")).unwrap();
    assert_eq!(
        send(repeated).await,
        (StatusCode::BAD_REQUEST, Some("Invalid Header, x-a is sent more than once".into()))
    );
    let twice = Request::get("/p?a=1&a=2").body(body("")).unwrap();
    assert_eq!(
        send(twice).await,
        (StatusCode::BAD_REQUEST, Some("Invalid Param, the parameter \"a\" is given more than once".into()))
    );
    let form =
        Request::post("/p?a=1").header("content-type", "application/x-www-form-urlencoded").body(body("a=1")).unwrap();
    assert_eq!(send(form).await.0, StatusCode::BAD_REQUEST);
    assert_eq!(send(Request::get("/p?a=1").body(body("")).unwrap()).await, (StatusCode::OK, None));
}

#[tokio::test]
async fn the_signer_replaces_what_a_client_sent() {
    // a client's own X-Ca-Proxy-* headers never reach the backend beside the gateway's
    let req = Request::get("/p")
        .header("x-ca-proxy-signature", "forged")
        .header("x-ca-proxy-signature-secret-key", "Other")
        .header("x-ca-proxy-signature-headers", "x-b")
        .header("x-b", "1")
        .body(Bytes::new())
        .unwrap();
    let signed = signed("K", "Secret1", req);
    assert_eq!(signed.headers().get_all("x-ca-proxy-signature").iter().count(), 1);
    assert_eq!(signed.headers()["x-ca-proxy-signature-secret-key"], "K");
    assert_eq!(signed.headers()["x-ca-proxy-signature-headers"], "x-b");
    let v = BackendSignatureLayer::new([("K", "Secret1")]).unwrap();
    assert_eq!(send(&v, signed).await.0, StatusCode::OK);

    // only the headers asked for
    let signer = AliyunBackendSigner::new().signed_headers(SignedHeaders::Only(vec!["x-b".parse().unwrap()]));
    let req = Request::get("/p").header("x-a", "1").header("x-b", "2").body(Bytes::new()).unwrap();
    let signed = sign_request(&signer, req, "K", &"Secret1".into(), SystemTime::now()).unwrap();
    assert_eq!(signed.headers()["x-ca-proxy-signature-headers"], "x-b");
}

/// A header name a generated request may carry: some the signer leaves out.
fn header_name() -> impl Strategy<Value = String> {
    prop_oneof![
        "x-[a-z0-9]{1,8}",
        Just("host".to_owned()),
        Just("content-type".to_owned()),
        Just("x-ca-proxy-signature".to_owned()),
    ]
}

fn request() -> impl Strategy<Value = Request<Bytes>> {
    let method = prop::sample::select(vec![Method::GET, Method::POST, Method::PUT, Method::DELETE, Method::PATCH]);
    let param = ("[a-zA-Z0-9_%&=+.~\u{4e00}-\u{4e05}-]{0,6}", "\\PC{0,8}");
    (
        method,
        "(/[a-zA-Z0-9%._~-]{0,6}){1,3}",
        prop::collection::vec(param, 0..4),
        prop::collection::vec(param, 0..4),
        prop::collection::vec((header_name(), "[ -~]{0,12}"), 0..5),
        prop::bool::ANY,
        prop::collection::vec(any::<u8>(), 0..16),
    )
        .prop_map(|(method, path, query, form, headers, is_form, raw)| {
            let enc = |pairs: &[(String, String)]| {
                form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish()
            };
            let uri = if query.is_empty() { path } else { format!("{path}?{}", enc(&query)) };
            let has_body = method == Method::POST || method == Method::PUT;
            let mut builder = Request::builder().method(method).uri(uri);
            for (name, value) in &headers {
                builder = builder.header(name.as_str(), value.as_str());
            }
            let body = match (has_body, is_form) {
                (true, true) => {
                    builder = builder.header("content-type", "application/x-www-form-urlencoded");
                    Bytes::from(enc(&form))
                }
                (true, false) => Bytes::from(raw),
                (false, _) => Bytes::new(),
            };
            builder.body(body).unwrap()
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Whatever the signer signs, the verifier accepts, and the handler gets the body as
    /// sent; a signature altered in any byte is refused; the signer refuses exactly the
    /// requests that have no single string to sign.
    #[test]
    fn signer_and_verifier_agree(req in request(), flip in any::<prop::sample::Index>()) {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let (parts, body) = req.into_parts();
        let original = body.clone();
        let mut p = parts.clone();
        let outcome = AliyunBackendSigner::new().sign(&mut p, &mut body.clone(), "K1", &"Secret1".into(), SystemTime::now());
        let v = BackendSignatureLayer::new([("K0", "Secret0"), ("K1", "Secret1")]).unwrap();
        match outcome {
            Ok(()) => {
                let view = RequestView { method: &p.method, uri: &p.uri, headers: &p.headers, body: Some(&original) };
                prop_assert!(string_to_sign(&view).is_ok());
                let (status, message, seen) = rt.block_on(send(&v, Request::from_parts(p.clone(), Full::new(original.clone()))));
                prop_assert_eq!(status, StatusCode::OK, "{}", message);
                prop_assert_eq!(seen, format!("K1:{}", String::from_utf8_lossy(&original)));

                let sig = p.headers["x-ca-proxy-signature"].to_str().unwrap().to_owned();
                let mut bytes = sig.into_bytes();
                let i = flip.index(bytes.len() - 1); // the `=` padding is left alone
                bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
                p.headers.insert("x-ca-proxy-signature", http::HeaderValue::from_bytes(&bytes).unwrap());
                let (status, _, _) = rt.block_on(send(&v, Request::from_parts(p, Full::new(original))));
                prop_assert_eq!(status, StatusCode::FORBIDDEN);
            }
            Err(_) => {
                // the client's list is replaced by the signer's: judge the request it would send
                let mut q = parts;
                for name in ["x-ca-proxy-signature", "x-ca-proxy-signature-headers", "x-ca-proxy-signature-secret-key"] {
                    q.headers.remove(name);
                }
                let view = RequestView { method: &q.method, uri: &q.uri, headers: &q.headers, body: Some(&original) };
                let repeated = q.headers.keys().any(|k| q.headers.get_all(k).iter().nth(1).is_some());
                prop_assert!(string_to_sign(&view).is_err() || repeated);
            }
        }
    }
}

/// A service that is never ready.
#[derive(Clone)]
struct Busy;

impl<R> tower::Service<R> for Busy {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = std::future::Pending<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Infallible>> {
        std::task::Poll::Pending
    }

    fn call(&mut self, _: R) -> Self::Future {
        std::future::pending()
    }
}

#[test]
fn both_layers_are_ready_when_what_they_wrap_is() {
    use std::task::{Context, Poll, Waker};
    use tower::Service;
    let cx = &mut Context::from_waker(Waker::noop());
    let mut verifier = demo_verifier().layer(Busy);
    assert!(Service::<Request<Full<Bytes>>>::poll_ready(&mut verifier, cx).is_pending());
    let mut signer = BackendSigningLayer::new("K", "Secret1").unwrap().layer(Busy);
    assert!(Service::<Request<Full<Bytes>>>::poll_ready(&mut signer, cx).is_pending());
    let mut ready = demo_verifier().layer(service_fn(|_req: Request<RequestBody<Full<Bytes>>>| async {
        Ok::<_, Infallible>(Response::new(Full::new(Bytes::new())))
    }));
    assert!(matches!(Service::<Request<Full<Bytes>>>::poll_ready(&mut ready, cx), Poll::Ready(Ok(()))));
}

/// A parameter sent without `=` (`?flag`): the demo signs `flag=`, auth.md §6 says `flag`;
/// either signature passes, and neither stands for another request.
#[tokio::test]
async fn a_valueless_parameter_is_accepted_signed_bare_or_with_an_equals_sign() {
    use base64::Engine as _;
    use hmac::{Hmac, Mac};
    use http::{HeaderMap, Uri};
    use tollgate_signature::aliyun_backend::{string_to_sign, string_to_sign_bare};

    let sign = |string: &[u8]| {
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"DemoSecret1").unwrap();
        mac.update(string);
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    };
    let headers = HeaderMap::new();
    let uri: Uri = "/p?flag&a=1".parse().unwrap();
    let view = RequestView { method: &Method::GET, uri: &uri, headers: &headers, body: None };
    let demo = string_to_sign(&view).unwrap();
    let bare = string_to_sign_bare(&view).unwrap().unwrap();
    assert_eq!((demo.as_slice(), bare.as_slice()), (&b"GET\n\n/p?a=1&flag="[..], &b"GET\n\n/p?a=1&flag"[..]));
    let request = |target: &str, signature: &str| {
        Request::get(target)
            .header("x-ca-proxy-signature-secret-key", "DemoKey1")
            .header("x-ca-proxy-signature", signature)
            .body(Full::new(Bytes::new()))
            .unwrap()
    };
    let layer = demo_verifier();
    let status = |req| async { send(&layer, req).await.0 };
    assert_eq!(status(request("/p?flag&a=1", &sign(&demo))).await, StatusCode::OK);
    assert_eq!(status(request("/p?flag&a=1", &sign(&bare))).await, StatusCode::OK);
    // sent with its `=`: only the demo's string describes it
    assert_eq!(status(request("/p?flag=&a=1", &sign(&demo))).await, StatusCode::OK);
    assert_eq!(status(request("/p?flag=&a=1", &sign(&bare))).await, StatusCode::FORBIDDEN);
    // a value is never dropped: the bare string cannot stand for `flag=x`
    assert_eq!(status(request("/p?flag=x&a=1", &sign(&bare))).await, StatusCode::FORBIDDEN);
    assert_eq!(status(request("/p?a=1&flag", &sign(b"GET\n\n/p?a=1"))).await, StatusCode::FORBIDDEN);
}
