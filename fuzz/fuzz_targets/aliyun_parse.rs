//! Aliyun API Gateway and Aliyun RPC on arbitrary bytes as the target's query, the `X-Ca-*`
//! and content headers and the form body: `parse`, the canonical string builders and
//! `verify` never panic, nor does reading the security token (`SecurityToken`,
//! `x-acs-security-token`); nothing arbitrary is accepted under a dummy secret; and whatever
//! the signers produce from such a request, with or without a token, the verifiers accept,
//! reading back the token signed.
#![no_main]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::request::Parts;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Uri};
use libfuzzer_sys::fuzz_target;
use tollgate_signature::aliyun_apigw::{self, AliyunApiGateway};
use tollgate_signature::aliyun_rpc::{self, AliyunRpc};
use tollgate_signature::fuzzing::decoded_pairs;
use tollgate_signature::{RequestView, Scheme, Secret, Signer};

const HEADERS: [&str; 12] = [
    "x-ca-signature",
    "x-ca-key",
    "x-ca-timestamp",
    "x-ca-signature-headers",
    "x-ca-signature-method",
    "content-md5",
    "content-type",
    "x-ca-nonce",
    "accept",
    "date",
    "x-ca-stage",
    "x-acs-security-token",
];

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_795_364_154)
}

/// Parses and verifies as `SignatureLayer` does; returns whether the request was accepted.
fn run<Sc: Scheme>(scheme: &Sc, parts: &Parts, body: &[u8], secret: &str) -> bool {
    let body = scheme.needs_body(&parts.method, &parts.headers).then_some(body);
    let view = RequestView { method: &parts.method, uri: &parts.uri, headers: &parts.headers, body };
    let Ok(parsed) = scheme.parse(&view) else { return false };
    let _ = scheme.key_id(&parsed);
    let _ = scheme.security_token(&view, &parsed);
    scheme.verify(&view, &parsed, &[Secret::from(secret)], now()).is_ok()
}

/// The security token the scheme reads from a request it accepts.
fn token_of<Sc: Scheme>(scheme: &Sc, parts: &Parts, body: &[u8]) -> Option<String> {
    let body = scheme.needs_body(&parts.method, &parts.headers).then_some(body);
    let view = RequestView { method: &parts.method, uri: &parts.uri, headers: &parts.headers, body };
    let parsed = scheme.parse(&view).ok()?;
    scheme.security_token(&view, &parsed).ok()?.map(|t| t.into_owned())
}

fuzz_target!(|data: &[u8]| {
    // Fields separated by NUL: the target (path and query), header values (one a line,
    // assigned to HEADERS in turn), the body.
    let mut fields = data.splitn(3, |&b| b == 0);
    let target = fields.next().unwrap_or_default();
    let head = fields.next().unwrap_or_default();
    let body = fields.next().unwrap_or_default();

    let uri = std::str::from_utf8(target)
        .ok()
        .and_then(|t| format!("/{}", t.trim_start_matches('/')).parse::<Uri>().ok())
        .unwrap_or_else(|| Uri::from_static("/"));
    let mut headers = HeaderMap::new();
    for (i, value) in head.split(|&b| b == b'\n').enumerate() {
        if let Ok(v) = HeaderValue::from_bytes(value) {
            headers.append(HeaderName::from_static(HEADERS[i % HEADERS.len()]), v);
        }
    }

    for method in [Method::GET, Method::POST] {
        let (mut parts, ()) = Request::new(()).into_parts();
        parts.method = method.clone();
        parts.uri = uri.clone();
        parts.headers = headers.clone();

        // arbitrary claims are never accepted under a secret nobody signed with
        assert!(!run(&AliyunApiGateway::new().debug_string_to_sign(true), &parts, body, "dummy-secret"));
        assert!(!run(&AliyunRpc::new(), &parts, body, "dummy-secret"));

        // the canonical strings on their own
        let names: Vec<String> = String::from_utf8_lossy(head).split(',').map(str::to_owned).collect();
        let _ = aliyun_apigw::string_to_sign(&method, &uri, &headers, Some(body), &names);
        let _ = aliyun_rpc::string_to_sign(&method, &decoded_pairs(body));

        // sign, then verify: always accepted (unless a Content-MD5 of the input's own is
        // left to check against the body, which it may not match)
        let secret = Secret::from("fuzz-secret");
        let mut signed = parts.clone();
        if AliyunApiGateway::new().sign_with_nonce(&mut signed, body, "fuzz-app", &secret, now(), "n-1").is_ok() {
            let md5_of_input =
                headers.contains_key("content-md5") && signed.headers["content-md5"] == headers["content-md5"];
            if !md5_of_input {
                assert!(run(&AliyunApiGateway::new(), &signed, body, "fuzz-secret"), "{signed:?}");
            }
        }
        let mut signed = parts.clone();
        if AliyunRpc::new().sign_with_nonce(&mut signed, body, "fuzz-ak", &secret, now(), "n-1").is_ok() {
            assert!(run(&AliyunRpc::new(), &signed, body, "fuzz-secret"), "{signed:?}");
        }
        // with a token made of the input: signed, and read back as signed
        let token = String::from_utf8_lossy(head).into_owned();
        let mut signed = parts.clone();
        let mut form = bytes::Bytes::copy_from_slice(body);
        let rpc = AliyunRpc::new();
        let no_acs_header = !headers.contains_key("x-acs-security-token");
        if rpc.sign_with_token(&mut signed, &mut form, "fuzz-ak", &secret, Some(&token), now()).is_ok() && no_acs_header {
            assert!(run(&rpc, &signed, &form, "fuzz-secret"), "{signed:?}");
            assert_eq!(token_of(&rpc, &signed, &form).as_deref(), Some(token.as_str()));
        }
    }
});
