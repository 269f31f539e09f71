//! For random requests, what the Aliyun signers sign the verifiers accept, and any change
//! to the method, path, a signed parameter, a signed header or a covered body is refused.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{Method, Request};
use proptest::prelude::*;
use tollgate_signature::aliyun_apigw::AliyunApiGateway;
use tollgate_signature::aliyun_rpc::AliyunRpc;
use tollgate_signature::{RequestView, Scheme, Secret, Signer};

const NOW: u64 = 1_795_364_154;

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(NOW)
}

/// Values users really send: non-ASCII, spaces, `+ * ~ / = &`, emoji, empty.
fn awkward() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("张三 李四".to_owned()),
        Just("a+b".to_owned()),
        Just("x*y~z/w".to_owned()),
        Just("a=b&c d".to_owned()),
        Just("😀".to_owned()),
        "[a-zA-Z0-9 +*~/=&%.-]{0,12}",
        "\\PC{0,6}",
    ]
}

fn params() -> impl Strategy<Value = Vec<(String, String)>> {
    // distinct names, so "change a parameter" changes what is signed
    prop::collection::btree_map("[a-z][a-zA-Z0-9_]{0,7}", awkward(), 0..6).prop_map(|m| m.into_iter().collect())
}

fn encode(pairs: &[(String, String)]) -> String {
    form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish()
}

#[derive(Debug, Clone)]
struct Case {
    method: Method,
    path: String,
    query: Vec<(String, String)>,
    body: Body,
    header: Option<String>,
}

#[derive(Debug, Clone)]
enum Body {
    None,
    Form(Vec<(String, String)>),
    Json(String),
}

fn case() -> impl Strategy<Value = Case> {
    (
        prop_oneof![Just(Method::GET), Just(Method::POST), Just(Method::PUT), Just(Method::DELETE)],
        prop::collection::vec("[a-zA-Z0-9_.~-]{1,8}", 0..4).prop_map(|s| format!("/{}", s.join("/"))),
        params(),
        prop_oneof![
            Just(Body::None),
            params().prop_map(Body::Form),
            awkward().prop_map(|v| Body::Json(serde_json::json!({ "v": v }).to_string())),
        ],
        prop::option::of("[a-zA-Z0-9 ]{1,10}"),
    )
        .prop_map(|(method, path, query, body, header)| Case { method, path, query, body, header })
}

fn build(c: &Case) -> (http::request::Parts, Bytes) {
    let target = if c.query.is_empty() { c.path.clone() } else { format!("{}?{}", c.path, encode(&c.query)) };
    let mut b = Request::builder().method(c.method.clone()).uri(target).header("accept", "application/json");
    let body = match &c.body {
        Body::None => Bytes::new(),
        Body::Form(p) => {
            b = b.header("content-type", "application/x-www-form-urlencoded; charset=UTF-8");
            Bytes::from(encode(p))
        }
        Body::Json(j) => {
            b = b.header("content-type", "application/json");
            Bytes::from(j.clone())
        }
    };
    if let Some(h) = &c.header {
        b = b.header("x-custom", h.as_str());
    }
    (b.body(()).unwrap().into_parts().0, body)
}

fn verify<S: Scheme>(s: &S, parts: &http::request::Parts, body: &[u8]) -> bool {
    let view = RequestView { method: &parts.method, uri: &parts.uri, headers: &parts.headers, body: Some(body) };
    match s.parse(&view) {
        Ok(p) => s.verify(&view, &p, &[Secret::from("prop-secret")], now()).is_ok(),
        Err(_) => false,
    }
}

fn sign<S: Signer>(s: &S, c: &Case) -> (http::request::Parts, Bytes) {
    let (mut parts, mut body) = build(c);
    s.sign(&mut parts, &mut body, "203999001", &Secret::from("prop-secret"), now()).unwrap();
    (parts, body)
}

/// Every way of changing a signed request that the scheme covers.
fn tampered(
    parts: &http::request::Parts,
    body: &Bytes,
    c: &Case,
    header_signed: bool,
) -> Vec<(String, http::request::Parts, Bytes)> {
    let mut out = Vec::new();
    let mut p = parts.clone();
    p.method = if parts.method == Method::PATCH { Method::GET } else { Method::PATCH };
    out.push(("method".into(), p, body.clone()));
    let mut p = parts.clone();
    let pq = parts.uri.path_and_query().unwrap().as_str();
    p.uri = format!("/x{pq}").parse().unwrap();
    out.push(("path".into(), p, body.clone()));
    let shadowed = |name: &str| matches!(&c.body, Body::Form(f) if f.iter().any(|(k, _)| k == name));
    // a query parameter that a form field of the same name overrides is not signed
    if let Some((name, _)) = c.query.iter().find(|(k, _)| !shadowed(k)) {
        // change the value of one of the caller's parameters, whatever encoding the signer used
        let mut q: Vec<(String, String)> =
            form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes()).into_owned().collect();
        if let Some(pair) = q.iter_mut().find(|(k, _)| k == name) {
            pair.1.push('!');
        }
        let mut p = parts.clone();
        p.uri = format!("{}?{}", parts.uri.path(), encode(&q)).parse().unwrap();
        out.push((format!("query {name}"), p, body.clone()));
    }
    if header_signed && c.header.is_some() {
        let mut p = parts.clone();
        p.headers.insert("x-custom", "changed".parse().unwrap());
        out.push(("signed header".into(), p, body.clone()));
    }
    if !body.is_empty() {
        let mut b = body.to_vec();
        let i = b.len() / 2;
        b[i] = if b[i] == b'0' { b'1' } else { b'0' };
        if b != body[..] {
            out.push(("body".into(), parts.clone(), Bytes::from(b)));
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn aliyun_api_gateway_sign_then_verify(c in case()) {
        let scheme = AliyunApiGateway::new().sign_header(http::HeaderName::from_static("x-custom"));
        let (parts, body) = sign(&scheme, &c);
        prop_assert!(verify(&scheme, &parts, &body), "{:?}", c);
        for (what, p, b) in tampered(&parts, &body, &c, true) {
            prop_assert!(!verify(&scheme, &p, &b), "changed {} but verified: {:?}", what, c);
        }
    }

    #[test]
    fn aliyun_rpc_sign_then_verify(c in case()) {
        // RPC signs parameters, not the path or a JSON body: compare only what it covers
        let c = Case { path: "/".into(), body: match c.body { Body::Json(_) => Body::None, b => b }, ..c };
        let scheme = AliyunRpc::new();
        let (parts, body) = sign(&scheme, &c);
        prop_assert!(verify(&scheme, &parts, &body), "{:?}", c);
        for (what, p, b) in tampered(&parts, &body, &c, false) {
            if what == "path" {
                continue; // the RPC string to sign has no path (always %2F)
            }
            prop_assert!(!verify(&scheme, &p, &b), "changed {} but verified: {:?}", what, c);
        }
    }
}
