//! The Tencent verifiers — Tencent Cloud API (TC3-HMAC-SHA256 `Authorization`, v1 `Signature`
//! parameter) and the Tencent API Gateway key pair (`Authorization: hmac ...`) — on arbitrary
//! bytes as the Authorization header, the query string, the form body and the date headers:
//! `parse`, reading the security token (`X-TC-Token`, `Token`) and `verify` never panic,
//! and nothing arbitrary is accepted under a dummy secret.
#![no_main]

use std::time::{Duration, UNIX_EPOCH};

use http::{HeaderMap, HeaderValue, Method, Uri};
use libfuzzer_sys::fuzz_target;
use tollgate_signature::tencent_apigw::TencentApiGateway;
use tollgate_signature::tencent_cloud::TencentCloud;
use tollgate_signature::{RequestView, Scheme, Secret};

/// Parses and verifies as `SignatureLayer` does; returns whether the request was accepted.
fn run<Sc: Scheme>(scheme: &Sc, method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> bool {
    let body = scheme.needs_body(method, headers).then_some(body);
    let view = RequestView { method, uri, headers, body };
    let Ok(parsed) = scheme.parse(&view) else { return false };
    let _ = scheme.key_id(&parsed);
    let _ = scheme.security_token(&view, &parsed);
    let now = UNIX_EPOCH + Duration::from_secs(1_795_364_129);
    scheme.verify(&view, &parsed, &[Secret::from("dummy-secret")], now).is_ok()
}

fuzz_target!(|data: &[u8]| {
    // Fields separated by NUL: authorization, query, body, a date / timestamp value.
    let mut fields = data.split(|&b| b == 0);
    let auth = fields.next().unwrap_or_default();
    let query = fields.next().unwrap_or_default();
    let body = fields.next().unwrap_or_default();
    let date = fields.next().unwrap_or_default();

    let target = format!("/r?{}", String::from_utf8_lossy(query));
    let uri: Uri = target.parse().unwrap_or_else(|_| Uri::from_static("/r"));

    let mut base = HeaderMap::new();
    base.insert("host", HeaderValue::from_static("cvm.tencentcloudapi.com"));
    base.insert("x-tc-timestamp", HeaderValue::from_static("1795364129"));
    base.insert("x-date", HeaderValue::from_static("Sun, 22 Nov 2026 11:35:29 GMT"));
    if let Ok(v) = HeaderValue::from_bytes(date) {
        base.insert("date", v.clone());
        base.insert("x-tc-timestamp", v.clone());
        base.insert("source", v.clone());
        base.insert("x-tc-token", v);
    }

    // The Authorization as given, and steered towards each scheme's grammar.
    let mut auths: Vec<Option<Vec<u8>>> = vec![None, Some(auth.to_vec())];
    for prefix in [&b"TC3-HMAC-SHA256 "[..], b"hmac "] {
        auths.push(Some([prefix, auth].concat()));
    }

    let cloud = TencentCloud::new();
    let cloud_cvm = TencentCloud::new().services(["cvm"]);
    let gateway = TencentApiGateway::new();
    let gateway_dated = TencentApiGateway::new().check_date_header(true);
    for method in [Method::GET, Method::POST] {
        for content_type in ["application/x-www-form-urlencoded", "application/json"] {
            for auth in &auths {
                let mut headers = base.clone();
                headers.insert("content-type", HeaderValue::from_static(content_type));
                if let Some(auth) = auth {
                    let Ok(v) = HeaderValue::from_bytes(auth) else { continue };
                    headers.insert("authorization", v);
                }
                // Nothing made of arbitrary bytes verifies under a secret it never saw.
                assert!(!run(&cloud, &method, &uri, &headers, body), "accepted: {headers:?} {uri}");
                assert!(!run(&cloud_cvm, &method, &uri, &headers, body));
                assert!(!run(&gateway, &method, &uri, &headers, body), "accepted: {headers:?}");
                assert!(!run(&gateway_dated, &method, &uri, &headers, body));
            }
        }
    }
});
