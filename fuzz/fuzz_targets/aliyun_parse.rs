//! Aliyun API Gateway and RPC: arbitrary headers, query strings and form bodies through
//! parse, the canonical string builders and verify; no panic on any input.
#![no_main]

use std::time::{Duration, UNIX_EPOCH};

use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};
use libfuzzer_sys::fuzz_target;
use tollgate_signature::aliyun_apigw::{self, AliyunApiGateway};
use tollgate_signature::aliyun_rpc::{self, AliyunRpc};
use tollgate_signature::{RequestView, Scheme, Secret};

fn check<S: Scheme>(scheme: &S, method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) {
    let view = RequestView { method, uri, headers, body: Some(body) };
    if let Ok(parsed) = scheme.parse(&view) {
        let _ = scheme.verify(&view, &parsed, &[Secret::from("fuzz")], UNIX_EPOCH + Duration::from_secs(1_795_364_154));
    }
}

fuzz_target!(|data: &[u8]| {
    // split the input into a target, header values and a body
    let mut parts = data.splitn(4, |b| *b == 0);
    let target = parts.next().unwrap_or_default();
    let head = parts.next().unwrap_or_default();
    let body = parts.next().unwrap_or_default();

    let uri = std::str::from_utf8(target)
        .ok()
        .and_then(|t| format!("/{}", t.trim_start_matches('/')).parse::<Uri>().ok())
        .unwrap_or_else(|| Uri::from_static("/"));
    let mut headers = HeaderMap::new();
    for (i, value) in head.split(|b| *b == b'\n').enumerate() {
        let name = ["x-ca-signature", "x-ca-key", "x-ca-timestamp", "x-ca-signature-headers", "x-ca-signature-method",
            "content-md5", "content-type", "x-ca-nonce", "accept", "date"][i % 10];
        if let Ok(v) = HeaderValue::from_bytes(value) {
            headers.append(HeaderName::from_static(name), v);
        }
    }
    for method in [Method::GET, Method::POST] {
        check(&AliyunApiGateway::new().debug_string_to_sign(true), &method, &uri, &headers, body);
        check(&AliyunRpc::new(), &method, &uri, &headers, body);
        let names: Vec<String> = std::str::from_utf8(head).unwrap_or("").split(',').map(str::to_owned).collect();
        let _ = aliyun_apigw::string_to_sign(&method, &uri, &headers, Some(body), &names);
        let pairs: Vec<(String, String)> = form_urlencoded::parse(body).into_owned().collect();
        let _ = aliyun_rpc::string_to_sign(&method, &pairs);
    }
});
