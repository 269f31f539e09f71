//! The scheme against the gateway's table of refusals, and its signer against its verifier.

use std::time::Duration;

use bytes::Bytes;
use http::header::{ACCEPT, CONTENT_TYPE};
use tollgate_core::Ecosystem;

use super::string_to_sign::signed_header_names;
use super::*;
use crate::mac::hmac;
use crate::scheme::Signer;
use proptest::strategy::Strategy as _;

const NOW: u64 = 1_700_000_000;
const SECRET: &str = "secret";

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(NOW)
}

fn signed_with(
    s: &AliyunApiGateway,
    method: Method,
    target: &str,
    ctype: Option<&str>,
    body: &[u8],
) -> (http::request::Parts, Bytes) {
    let mut b = http::Request::builder().method(method).uri(target).header("accept", "application/json");
    if let Some(c) = ctype {
        b = b.header("content-type", c);
    }
    let (mut parts, ()) = b.body(()).unwrap().into_parts();
    let mut body = Bytes::copy_from_slice(body);
    s.sign(&mut parts, &mut body, "app", &SECRET.into(), now()).unwrap();
    (parts, body)
}

fn signed(method: Method, target: &str, ctype: Option<&str>, body: &[u8]) -> (http::request::Parts, Bytes) {
    signed_with(&AliyunApiGateway::new(), method, target, ctype, body)
}

fn check_with(
    s: &AliyunApiGateway,
    parts: &http::request::Parts,
    body: &[u8],
    secrets: &[&str],
    at: SystemTime,
) -> Result<Verified, Rejection> {
    let view = RequestView { method: &parts.method, uri: &parts.uri, headers: &parts.headers, body: Some(body) };
    let parsed = s.parse(&view)?;
    let secrets: Vec<Secret> = secrets.iter().map(|s| Secret::from(*s)).collect();
    s.verify(&view, &parsed, &secrets, at)
}

fn check(parts: &http::request::Parts, body: &[u8], secret: &str, at: SystemTime) -> Result<Verified, Rejection> {
    check_with(&AliyunApiGateway::new().debug_string_to_sign(true), parts, body, &[secret], at)
}

/// Status and `X-Ca-Error-Message` text, and the neutral code.
fn answer(r: Rejection) -> (u16, String, String) {
    let e = Ecosystem::AliyunApiGateway;
    (r.status_for(e).as_u16(), r.message_for(e).to_owned(), r.code().to_owned())
}

fn refused(r: Result<Verified, Rejection>) -> (u16, String, String) {
    answer(r.unwrap_err())
}

fn expect(r: Result<Verified, Rejection>, status: u16, text: &str, code: &str) {
    assert_eq!(refused(r), (status, text.to_owned(), code.to_owned()));
}

#[test]
fn round_trip() {
    let (parts, body) = signed(Method::GET, "/a?x=1", None, b"");
    let v = check(&parts, &body, SECRET, now()).unwrap();
    assert_eq!(v.nonce.as_deref(), parts.headers[X_CA_NONCE].to_str().ok());
    assert_eq!(v.timestamp, Some(now()));
    // a second, rolled-over secret
    assert!(check_with(&AliyunApiGateway::new(), &parts, &body, &["old", SECRET], now()).is_ok());
}

#[test]
fn row_empty_signature_is_401() {
    let (parts, body) = signed(Method::GET, "/a", None, b"");
    let mut p = parts.clone();
    p.headers.remove(X_CA_SIGNATURE);
    expect(check(&p, &body, SECRET, now()), 401, "Empty Signature", "EmptySignature");
    p.headers.insert(X_CA_SIGNATURE, HeaderValue::from_static(" "));
    expect(check(&p, &body, SECRET, now()), 401, "Empty Signature", "EmptySignature");
    // before everything else, even a missing key
    p.headers.remove(X_CA_KEY);
    expect(check(&p, &body, SECRET, now()), 401, "Empty Signature", "EmptySignature");
}

#[test]
fn row_invalid_app_key() {
    let s = AliyunApiGateway::new();
    assert_eq!(answer(s.unknown_key("nobody")), (400, "Invalid AppKey".into(), "InvalidAppKey".into()));
    assert_eq!(answer(s.disabled_key("nobody")), (400, "Invalid AppKey".into(), "InvalidAppKey".into()));
    let (mut parts, body) = signed(Method::GET, "/a", None, b"");
    parts.headers.remove(X_CA_KEY);
    expect(check(&parts, &body, SECRET, now()), 400, "Invalid AppKey", "InvalidAppKey");
}

#[test]
fn row_invalid_timestamp() {
    let (parts, body) = signed(Method::GET, "/a", None, b"");
    for bad in ["soon", "", "-1", "1.7e12", "99999999999999999999999"] {
        let mut p = parts.clone();
        p.headers.insert(X_CA_TIMESTAMP, HeaderValue::from_str(bad).unwrap());
        expect(check(&p, &body, SECRET, now()), 400, "Invalid Timestamp", "InvalidTimestamp");
    }
    let mut p = parts.clone();
    p.headers.remove(X_CA_TIMESTAMP);
    expect(check(&p, &body, SECRET, now()), 400, "Invalid Timestamp", "InvalidTimestamp");
}

#[test]
fn row_timestamp_expired_either_way() {
    let (parts, body) = signed(Method::GET, "/a", None, b"");
    for at in [now() + Duration::from_secs(901), now() - Duration::from_secs(901)] {
        expect(check(&parts, &body, SECRET, at), 400, "Timestamp Expired", "TimestampExpired");
    }
    for at in [now() + Duration::from_secs(900), now() - Duration::from_secs(900)] {
        assert!(check(&parts, &body, SECRET, at).is_ok());
    }
    // checked before the signature
    expect(
        check(&parts, &body, "wrong", now() + Duration::from_secs(3600)),
        400,
        "Timestamp Expired",
        "TimestampExpired",
    );
    // the window is configurable
    let s = AliyunApiGateway::new().window(Duration::from_secs(60));
    assert!(check_with(&s, &parts, &body, &[SECRET], now() + Duration::from_secs(61)).is_err());
    assert_eq!(answer(s.expired()), (400, "Timestamp Expired".into(), "TimestampExpired".into()));
}

#[test]
fn row_invalid_signature() {
    let (parts, body) = signed(Method::GET, "/a?x=1", None, b"");
    let (status, text, code) = refused(check(&parts, &body, "wrong", now()));
    assert_eq!((status, code.as_str()), (400, "InvalidSignature"));
    let names: Vec<String> =
        parts.headers[X_CA_SIGNATURE_HEADERS].to_str().unwrap().split(',').map(str::to_owned).collect();
    let sts = string_to_sign(&parts.method, &parts.uri, &parts.headers, Some(&body), &names);
    assert_eq!(text, format!("Invalid Signature, Server StringToSign:{sts}"));
    assert!(text.starts_with("Invalid Signature, Server StringToSign:GET\napplication/json\n\n\n\nx-ca-key:app\n"));
    // without debug: the bare words
    let plain = check_with(&AliyunApiGateway::new(), &parts, &body, &["wrong"], now());
    expect(plain, 400, "Invalid Signature", "InvalidSignature");
    // a malformed signature is a mismatch too
    let mut p = parts.clone();
    p.headers.insert(X_CA_SIGNATURE, HeaderValue::from_static("not base64!"));
    assert_eq!(refused(check(&p, &body, SECRET, now())).2, "InvalidSignature");
    // every signed part
    let mut p = parts.clone();
    p.uri = "/a?x=2".parse().unwrap();
    assert_eq!(refused(check(&p, &body, SECRET, now())).2, "InvalidSignature");
    let mut p = parts.clone();
    p.uri = "/a?x=1&y=evil".parse().unwrap();
    assert_eq!(refused(check(&p, &body, SECRET, now())).2, "InvalidSignature");
    let mut p = parts.clone();
    p.uri = "/b?x=1".parse().unwrap();
    assert_eq!(refused(check(&p, &body, SECRET, now())).2, "InvalidSignature");
    let mut p = parts.clone();
    p.method = Method::DELETE;
    assert_eq!(refused(check(&p, &body, SECRET, now())).2, "InvalidSignature");
    let mut p = parts.clone();
    p.headers.insert(ACCEPT, HeaderValue::from_static("*/*"));
    assert_eq!(refused(check(&p, &body, SECRET, now())).2, "InvalidSignature");
    let mut p = parts.clone();
    p.headers.insert(X_CA_NONCE, HeaderValue::from_static("another"));
    assert_eq!(refused(check(&p, &body, SECRET, now())).2, "InvalidSignature");
}

#[test]
fn row_invalid_content_md5() {
    let (parts, body) = signed(Method::POST, "/j", Some("application/json"), br#"{"a":1}"#);
    assert_eq!(parts.headers[CONTENT_MD5], md5_base64(br#"{"a":1}"#).as_str());
    assert!(check(&parts, &body, SECRET, now()).is_ok());
    expect(check(&parts, br#"{"a":2}"#, SECRET, now()), 400, "Invalid Content-MD5", "InvalidContentMd5");
    expect(check(&parts, b"", SECRET, now()), 400, "Invalid Content-MD5", "InvalidContentMd5");
    // the signature is checked first: a changed Content-MD5 header is a signature mismatch
    let mut p = parts.clone();
    p.headers.insert(CONTENT_MD5, HeaderValue::from_str(&md5_base64(br#"{"a":2}"#)).unwrap());
    assert_eq!(refused(check(&p, br#"{"a":2}"#, SECRET, now())).2, "InvalidSignature");
}

#[test]
fn row_nonce_used() {
    let s = AliyunApiGateway::new();
    assert_eq!(answer(s.replayed()), (400, "Nonce Used".into(), "NonceUsed".into()));
}

#[test]
fn nonce_is_optional_unless_required() {
    let (parts, body) = signed(Method::GET, "/a", None, b"");
    let s = AliyunApiGateway::new();
    // a client that sends no nonce (and so signs none)
    let mut p = parts.clone();
    p.headers.remove(X_CA_NONCE);
    p.headers.insert(X_CA_SIGNATURE_HEADERS, HeaderValue::from_static("x-ca-key,x-ca-timestamp"));
    let names = ["x-ca-key".to_owned(), "x-ca-timestamp".to_owned()];
    let sts = string_to_sign(&p.method, &p.uri, &p.headers, None, &names);
    let sig = base64_encode(&hmac(HmacAlg::Sha256, SECRET.as_bytes(), sts.as_bytes()));
    p.headers.insert(X_CA_SIGNATURE, HeaderValue::from_str(&sig).unwrap());
    assert_eq!(check_with(&s, &p, &body, &[SECRET], now()).unwrap().nonce, None);
    let strict = AliyunApiGateway::new().require_nonce(true);
    expect(check_with(&strict, &p, &body, &[SECRET], now()), 400, "Invalid Nonce", "InvalidNonce");
    assert!(check_with(&strict, &parts, &body, &[SECRET], now()).is_ok());
}

#[test]
fn timestamp_and_nonce_must_be_signed() {
    let (parts, body) = signed(Method::GET, "/a", None, b"");
    let resign = |list: &'static str| {
        let mut p = parts.clone();
        p.headers.insert(X_CA_SIGNATURE_HEADERS, HeaderValue::from_static(list));
        let lower = list.to_ascii_lowercase();
        let names: Vec<String> =
            signed_header_names::<()>(&lower, true).into_iter().map(|(n, _)| n.to_owned()).collect();
        let sts = string_to_sign(&p.method, &p.uri, &p.headers, None, &names);
        let sig = base64_encode(&hmac(HmacAlg::Sha256, SECRET.as_bytes(), sts.as_bytes()));
        p.headers.insert(X_CA_SIGNATURE, HeaderValue::from_str(&sig).unwrap());
        p
    };
    let s = AliyunApiGateway::new();
    let p = resign("x-ca-key,x-ca-nonce");
    let text = "Invalid Signature Headers, X-Ca-Timestamp must be signed";
    expect(check_with(&s, &p, &body, &[SECRET], now()), 400, text, "UnsignedTimestamp");
    let p = resign("x-ca-key,x-ca-timestamp");
    let text = "Invalid Signature Headers, X-Ca-Nonce must be signed";
    expect(check_with(&s, &p, &body, &[SECRET], now()), 400, text, "UnsignedNonce");
    let p = resign("");
    let lax = AliyunApiGateway::new().require_signed_replay_headers(false);
    assert!(check_with(&lax, &p, &body, &[SECRET], now()).is_ok());
    // case and spaces in the list do not matter
    let p = resign("X-Ca-Key, X-Ca-Nonce ,X-CA-TIMESTAMP");
    assert!(check_with(&s, &p, &body, &[SECRET], now()).is_ok());
}

#[test]
fn ambiguous_requests_are_refused_and_not_signed() {
    let s = AliyunApiGateway::new();
    let form = "application/x-www-form-urlencoded";
    for (target, body, text, code) in [
        (
            "/f?a=1",
            &b"a=2"[..],
            "Invalid Param Location, a parameter is in both the query and the form body",
            "InvalidParamLocation",
        ),
        ("/f?a=%C3", b"", "Invalid Param, a parameter is not UTF-8 once percent-decoded", "InvalidParamEncoding"),
        ("/f", b"%FF=1", "Invalid Param, a parameter is not UTF-8 once percent-decoded", "InvalidParamEncoding"),
    ] {
        let (mut parts, ()) = http::Request::post(target).header("content-type", form).body(()).unwrap().into_parts();
        assert!(
            s.sign(&mut parts, &mut Bytes::copy_from_slice(body), "app", &SECRET.into(), now()).is_err(),
            "{target}"
        );
        // signed without the ambiguity, sent with it
        let (parts, _) = signed(Method::POST, "/f", Some(form), b"b=1");
        let mut p = parts.clone();
        p.uri = target.parse().unwrap();
        expect(check(&p, body, SECRET, now()), 400, text, code);
    }
    // a header of the string sent twice
    let (mut parts, ()) =
        http::Request::get("/").header("date", "a").header("date", "b").body(()).unwrap().into_parts();
    assert!(s.sign(&mut parts, &mut Bytes::new(), "app", &SECRET.into(), now()).is_err());
}

/// The official clients send a list as a repeated name (`tag=x&tag=y`) and sign its
/// values joined by commas, in the order sent: accepted, and the order is covered.
#[test]
fn a_repeated_name_is_signed_with_its_values_in_order() {
    let (parts, body) = signed(Method::GET, "/f?tag=x&a=1&tag=y%20z", None, b"");
    assert!(check(&parts, &body, SECRET, now()).is_ok());
    let mut swapped = parts.clone();
    swapped.uri = "/f?tag=y%20z&a=1&tag=x".parse().unwrap();
    let err = check(&swapped, &body, SECRET, now()).unwrap_err();
    assert!(err.message().starts_with("Invalid Signature"), "{err:?}");
}

#[test]
fn form_body_is_signed() {
    let (parts, body) = signed(Method::POST, "/f", Some("application/x-www-form-urlencoded"), b"a=1&b=x+y");
    assert!(!parts.headers.contains_key("content-md5"));
    assert!(check(&parts, &body, SECRET, now()).is_ok());
    assert!(check(&parts, b"a=1&b=x+z", SECRET, now()).is_err());
    // same parameters, other bytes: same string
    assert!(check(&parts, b"b=x%20y&a=1", SECRET, now()).is_ok());
}

#[test]
fn sha1_method() {
    let s = AliyunApiGateway::new().signature_method(HmacAlg::Sha1);
    let (parts, body) = signed_with(&s, Method::GET, "/", None, b"");
    assert_eq!(parts.headers[X_CA_SIGNATURE_METHOD], "HmacSHA1");
    assert!(parts.headers[X_CA_SIGNATURE_HEADERS].to_str().unwrap().contains("x-ca-signature-method"));
    assert_eq!(parts.headers[X_CA_SIGNATURE].len(), 28); // Base64 of 20 bytes
    assert!(check(&parts, &body, SECRET, now()).is_ok());
    // the SHA-256 signer leaves no contradicting method header behind
    let mut p = parts.clone();
    AliyunApiGateway::new().sign(&mut p, &mut Bytes::new(), "app", &SECRET.into(), now()).unwrap();
    assert_eq!(p.headers[X_CA_SIGNATURE_METHOD], "HmacSHA256");
    assert!(check(&p, &body, SECRET, now()).is_ok());
}

#[test]
fn unknown_signature_method() {
    let (mut parts, body) = signed(Method::GET, "/", None, b"");
    parts.headers.insert(X_CA_SIGNATURE_METHOD, HeaderValue::from_static("HmacMD5"));
    expect(check(&parts, &body, SECRET, now()), 400, "Invalid Signature Method", "InvalidSignatureMethod");
}

#[test]
fn signer_headers() {
    let s = AliyunApiGateway::new().stage(Stage::Release).sign_header(HeaderName::from_static("x-custom"));
    let (mut parts, ()) = http::Request::get("/").header("x-custom", "v").body(()).unwrap().into_parts();
    s.sign_with_nonce(&mut parts, b"", "app", &SECRET.into(), now() + Duration::from_millis(447), "n-1").unwrap();
    let h = &parts.headers;
    assert_eq!(h[X_CA_TIMESTAMP], "1700000000447");
    assert_eq!(h[X_CA_NONCE], "n-1");
    assert_eq!(h[X_CA_STAGE], "RELEASE");
    assert_eq!(h[ACCEPT], "application/json");
    assert_eq!(h[X_CA_SIGNATURE_HEADERS], "x-ca-key,x-ca-nonce,x-ca-stage,x-ca-timestamp,x-custom");
    assert!(!h.contains_key(CONTENT_MD5));
    assert!(!h.contains_key(X_CA_SIGNATURE_METHOD));
    assert!(uuid::Uuid::parse_str(signed(Method::GET, "/", None, b"").0.headers[X_CA_NONCE].to_str().unwrap()).is_ok());
}

#[test]
fn needs_body() {
    let s = AliyunApiGateway::new();
    let mut h = HeaderMap::new();
    assert!(!Scheme::needs_body(&s, &Method::POST, &h));
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    assert!(!Scheme::needs_body(&s, &Method::POST, &h));
    h.insert(CONTENT_MD5, HeaderValue::from_static("x"));
    assert!(Scheme::needs_body(&s, &Method::POST, &h));
    let mut h = HeaderMap::new();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/x-www-form-urlencoded; charset=UTF-8"));
    assert!(Scheme::needs_body(&s, &Method::GET, &h));
}

#[test]
fn needs_body_from_the_parse_agrees() {
    // every mix of the two headers it reads, in any case and spacing, present or not
    let types = [
        None,
        Some("application/json"),
        Some("application/x-www-form-urlencoded"),
        Some(" Application/X-WWW-Form-Urlencoded ;charset=UTF-8"),
        Some("application/x-www-form-urlencodedx"),
        Some("multipart/form-data; boundary=x"),
        Some(""),
    ];
    for ctype in types {
        for md5 in [None, Some("x"), Some("")] {
            assert_needs_body_agrees(ctype.map(str::as_bytes), md5);
        }
    }
}

/// Whether the body is needed, asked of the parse and of the headers, for a request with
/// this `Content-Type` and `Content-MD5` (each absent if `None`) that parses.
fn assert_needs_body_agrees(ctype: Option<&[u8]>, md5: Option<&str>) {
    let s = AliyunApiGateway::new();
    let mut h = HeaderMap::new();
    h.insert(X_CA_SIGNATURE, HeaderValue::from_static("c2ln"));
    h.insert(X_CA_KEY, HeaderValue::from_static("k"));
    if let Some(c) = ctype.and_then(|c| HeaderValue::from_bytes(c).ok()) {
        h.insert(CONTENT_TYPE, c);
    }
    if let Some(m) = md5 {
        h.insert(CONTENT_MD5, HeaderValue::from_str(m).unwrap());
    }
    let uri = http::Uri::from_static("/");
    let view = RequestView { method: &Method::POST, uri: &uri, headers: &h, body: None };
    let parsed = s.parse(&view).unwrap();
    assert_eq!(s.needs_body_parsed(&parsed), Some(Scheme::needs_body(&s, &Method::POST, &h)), "{ctype:?} {md5:?}");
}

proptest::proptest! {
    /// Any content type, text or not, near the form's or not: the parse's answer is the
    /// headers' answer.
    #[test]
    fn needs_body_from_the_parse_agrees_for_any_content_type(
        ctype in proptest::prop_oneof![
            proptest::collection::vec(proptest::num::u8::ANY, 0..40),
            "[ ;=a-zA-Z/-]{0,12}(application/x-www-form-urlencoded|APPLICATION/X-WWW-FORM-URLENCODED)[ ;=a-zA-Z8-]{0,12}"
                .prop_map(String::into_bytes),
        ],
        md5 in proptest::option::of("[a-zA-Z0-9+/=]{0,24}"),
    ) {
        assert_needs_body_agrees(Some(&ctype), md5.as_deref());
    }
}
