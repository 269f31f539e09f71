//! Adversarial tests: Aliyun's backend signature (`X-Ca-Proxy-Signature`).
//!
//! Each attack starts from a request the gateway signed (with the crate's signer, or by hand
//! through the public string-to-sign builder where the gateway's request is one our signer
//! would not produce), changes what the scheme leaves open — the signature has no timestamp
//! or nonce, and Aliyun's demo signs the first value of a name and nothing encoded — and
//! sends it over real HTTP to a handler behind `BackendSignatureLayer` that reports what it
//! reads: the query and form as axum's `Query` / `Form` into a map read them (the last of a
//! repeated name winning) and every line of `x-amount`. Where the signature would cover one
//! reading and the handler take another, the request is refused.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::SystemTime;

use axum::Router;
use axum::body::Bytes;
use axum::extract::Request;
use http::Method;
use serde_json::{Value, json};
use tollgate::signature::aliyun_backend::{AliyunBackendSigner, BackendSignatureLayer, string_to_sign};
use tollgate::signature::{RequestView, sign_request};
use tollgate_signature::HmacAlg;
use tollgate_signature::fuzzing::{base64_encode, hmac};

use crate::http_support;

const KEY: &str = "GatewayKey";
const SECRET: &str = "GatewaySecret1";

async fn reads(req: Request) -> axum::Json<Value> {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    let map = |bytes: &[u8]| form_urlencoded::parse(bytes).into_owned().collect::<HashMap<String, String>>();
    let amounts: Vec<_> = parts.headers.get_all("x-amount").iter().map(|v| v.to_str().unwrap().to_owned()).collect();
    axum::Json(json!({
        "handled": true,
        "path": parts.uri.path(),
        "query": map(parts.uri.query().unwrap_or("").as_bytes()),
        "form": map(&body),
        "x-amount": amounts,
    }))
}

async fn serve() -> SocketAddr {
    let verifier = BackendSignatureLayer::new([(KEY, SECRET)]).unwrap();
    http_support::serve(Router::new().fallback(reads).layer(verifier)).await
}

/// A request as it goes on the wire: header lines in order, repeats allowed.
#[derive(Debug, Clone)]
struct Wire {
    method: Method,
    target: String,
    headers: Vec<(String, String)>,
    body: Bytes,
}

impl Wire {
    /// `req` as the gateway signs it.
    fn signed(req: http::Request<Bytes>) -> Self {
        let req = sign_request(&AliyunBackendSigner::new(), req, KEY, &SECRET.into(), SystemTime::now()).unwrap();
        let target = req.uri().path_and_query().map_or("/".to_owned(), |p| p.as_str().to_owned());
        let headers = req.headers().iter().map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_owned())).collect();
        Self { method: req.method().clone(), target, headers, body: req.body().clone() }
    }

    fn with_line(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    fn set_header(mut self, name: &str, value: &str) -> Self {
        self.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
        self.with_line(name, value)
    }

    fn with_target(self, target: &str) -> Self {
        Self { target: target.to_owned(), ..self }
    }
}

struct Answer {
    status: u16,
    message: String,
    json: Value,
}

impl Answer {
    fn refused(&self) -> (u16, &str) {
        assert_ne!(self.json["handled"], true, "the handler was reached: {}", self.json);
        (self.status, &self.message)
    }
}

async fn send(addr: SocketAddr, wire: &Wire) -> Answer {
    let http = http_support::client_from("127.0.0.1");
    let mut r = http.request(wire.method.clone(), format!("http://{addr}{}", wire.target));
    for (k, v) in &wire.headers {
        // `header` appends: a repeated name goes out as several lines
        r = r.header(k.as_str(), v.as_str());
    }
    let resp = r.body(wire.body.clone()).send().await.unwrap();
    let status = resp.status().as_u16();
    let message = resp.headers().get("x-ca-error-message").map_or("", |v| v.to_str().unwrap()).to_owned();
    let json = resp.json().await.unwrap_or(Value::Null);
    Answer { status, message, json }
}

fn form_post(target: &str, body: &'static str) -> http::Request<Bytes> {
    http::Request::post(target)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Bytes::from_static(body.as_bytes()))
        .unwrap()
}

#[tokio::test]
async fn an_honest_request_is_handled_as_signed() {
    let addr = serve().await;
    let wire = Wire::signed(
        http::Request::post("/pay?to=bob")
            .header("x-amount", "10")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Bytes::from("memo=rent"))
            .unwrap(),
    );
    let answer = send(addr, &wire).await;
    assert_eq!(answer.status, 200, "{}", answer.message);
    assert_eq!(answer.json["query"]["to"], "bob");
    assert_eq!(answer.json["form"]["memo"], "rent");
    assert_eq!(answer.json["x-amount"], json!(["10"]));
}

/// A signed header sent twice: a verifier reading the first line (the demo's `getHeader`)
/// would pass 10, a handler reading the last or all of them would act on 1000.
#[tokio::test]
async fn a_signed_header_repeated_is_refused() {
    let addr = serve().await;
    let wire = Wire::signed(http::Request::get("/pay").header("x-amount", "10").body(Bytes::new()).unwrap());
    let answer = send(addr, &wire.with_line("x-amount", "1000")).await;
    assert_eq!(answer.refused(), (403, "Invalid Signature, x-amount is sent more than once"));
}

/// A header listed but absent is signed as absent (the demo's rule): it passes as sent, and
/// adding it afterwards breaks the signature.
#[tokio::test]
async fn a_listed_header_absent_cannot_be_added_later() {
    let addr = serve().await;
    // the gateway's request as Aliyun's might send it: `x-amount` listed, not sent
    let mut req = http::Request::get("/pay").header("x-user", "bob").body(Bytes::new()).unwrap();
    let h = req.headers_mut();
    h.insert("x-ca-proxy-signature-headers", "x-user,x-amount".parse().unwrap());
    h.insert("x-ca-proxy-signature-secret-key", KEY.parse().unwrap());
    let view = RequestView { method: req.method(), uri: req.uri(), headers: req.headers(), body: None };
    let string = string_to_sign(&view).unwrap();
    assert_eq!(string, b"GET\n\nx-user:bob\n/pay");
    let signature = base64_encode(&hmac(HmacAlg::Sha256, SECRET.as_bytes(), &string));
    req.headers_mut().insert("x-ca-proxy-signature", signature.parse().unwrap());
    let headers = req.headers().iter().map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_owned())).collect();
    let wire = Wire { method: Method::GET, target: "/pay".into(), headers, body: Bytes::new() };
    assert_eq!(send(addr, &wire).await.status, 200);
    let answer = send(addr, &wire.with_line("x-amount", "1000")).await;
    assert_eq!(answer.refused(), (403, "Invalid Signature"));
}

/// The signed-header list is itself unsigned: naming the signature, or a name twice, or a
/// name with spaces, is refused rather than read one way or the other.
#[tokio::test]
async fn a_forged_signed_header_list_is_refused() {
    let addr = serve().await;
    let wire = Wire::signed(http::Request::get("/pay").header("x-amount", "10").body(Bytes::new()).unwrap());
    let cases = [
        (
            "x-amount,X-Ca-Proxy-Signature",
            "Invalid Signature, X-Ca-Proxy-Signature-Headers names X-Ca-Proxy-Signature itself",
        ),
        ("x-amount,X-AMOUNT", "Invalid Signature, X-Ca-Proxy-Signature-Headers names X-AMOUNT twice"),
        (
            "x-amount, x-user",
            "Invalid Signature, X-Ca-Proxy-Signature-Headers holds \" x-user\", which is not a header name",
        ),
        ("x-amount,", "Invalid Signature, X-Ca-Proxy-Signature-Headers holds \"\", which is not a header name"),
    ];
    for (list, expected) in cases {
        let answer = send(addr, &wire.clone().set_header("x-ca-proxy-signature-headers", list)).await;
        assert_eq!(answer.refused(), (403, expected), "{list}");
    }
    // the list emptied: the header's line is gone, the signature no longer matches
    let answer = send(addr, &wire.clone().set_header("x-ca-proxy-signature-headers", "")).await;
    assert_eq!(answer.refused(), (403, "Invalid Signature"));
}

/// A query parameter repeated: the demo signs the first value (10), axum's `Query` into a map
/// reads the last (1000). The signature alone would still match: refused for the repeat.
#[tokio::test]
async fn a_repeated_query_parameter_is_refused() {
    let addr = serve().await;
    let wire = Wire::signed(http::Request::get("/pay?amount=10").body(Bytes::new()).unwrap());
    let answer = send(addr, &wire.with_target("/pay?amount=10&amount=1000")).await;
    assert_eq!(answer.refused(), (403, "Invalid Signature, the parameter \"amount\" is given more than once"));
}

/// A form field also in the query: the servlet's merged map puts the query's value first
/// (signed), a handler reading the form takes the body's.
#[tokio::test]
async fn a_form_field_also_in_the_query_is_refused() {
    let addr = serve().await;
    let wire = Wire::signed(form_post("/pay?amount=10", ""));
    let wire = Wire { body: Bytes::from_static(b"amount=1000"), ..wire };
    let answer = send(addr, &wire).await;
    assert_eq!(
        answer.refused(),
        (403, "Invalid Signature, the parameter \"amount\" is in both the query and the form body")
    );
}

/// Nothing is encoded in the string: `?a=x&b=y` and `?a=x%26b%3Dy` would share a
/// signature, while the handler reads two parameters or one.
#[tokio::test]
async fn an_encoded_separator_is_refused() {
    let addr = serve().await;
    let wire = Wire::signed(http::Request::get("/pay?to=bob&amount=10").body(Bytes::new()).unwrap());
    let answer = send(addr, &wire.clone().with_target("/pay?to=bob%26amount%3D10")).await;
    assert_eq!(
        answer.refused(),
        (403, "Invalid Signature, the parameter \"to\" holds a separator (`&`, or `=` in a name) once decoded")
    );
    // an escape that decodes to what was signed is one reading: the handler sees the same
    let answer = send(addr, &wire.with_target("/pay?to=b%6Fb&amount=1%30")).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json["query"], json!({"to": "bob", "amount": "10"}));
}

/// Bytes that are not UTF-8 decode lossily (U+FFFD for `%FF` and `%FE` alike): refused.
#[tokio::test]
async fn a_parameter_that_is_not_utf8_is_refused() {
    let addr = serve().await;
    let wire = Wire::signed(http::Request::get("/pay?to=bob").body(Bytes::new()).unwrap());
    let answer = send(addr, &wire.with_target("/pay?to=%FF")).await;
    assert_eq!(answer.refused(), (403, "Invalid Signature, a parameter is not UTF-8 once percent-decoded"));
}

/// The path is signed as sent: `/files/a%2Fb` is not `/files/a/b`.
#[tokio::test]
async fn the_path_is_signed_as_sent() {
    let addr = serve().await;
    let wire = Wire::signed(http::Request::get("/files/a%2Fb").body(Bytes::new()).unwrap());
    assert_eq!(send(addr, &wire).await.status, 200);
    let answer = send(addr, &wire.with_target("/files/a/b")).await;
    assert_eq!(answer.refused(), (403, "Invalid Signature"));
}

/// A PATCH body is not signed by the scheme: a handler reading its form would act on bytes
/// nobody signed.
#[tokio::test]
async fn an_unsigned_body_is_refused() {
    let addr = serve().await;
    let wire = Wire::signed(http::Request::patch("/pay").body(Bytes::new()).unwrap());
    let wire = Wire { body: Bytes::from_static(b"amount=1000"), ..wire }
        .with_line("content-type", "application/x-www-form-urlencoded");
    let answer = send(addr, &wire).await;
    assert_eq!(answer.refused(), (403, "Invalid Signature, the body of a PATCH request is not signed"));
}

/// What the scheme leaves open, kept visible: a header the gateway did not list can be added
/// to a captured request, and the request replayed (no timestamp, no nonce of its own).
#[tokio::test]
async fn unlisted_headers_and_replays_pass_as_documented() {
    let addr = serve().await;
    let wire = Wire::signed(http::Request::get("/pay").body(Bytes::new()).unwrap());
    assert_eq!(send(addr, &wire).await.status, 200);
    assert_eq!(send(addr, &wire).await.status, 200);
    let answer = send(addr, &wire.with_line("x-amount", "1000")).await;
    assert_eq!((answer.status, &answer.json["x-amount"]), (200, &json!(["1000"])));
}
