//! Tencent API Gateway key-pair authentication through `SignatureLayer`: one test per row of
//! the refusal table (status and `{"message"}` exactly as the gateway words them), the
//! `Authorization` parser's leniency and strictness, and what a verified request carries.

use std::convert::Infallible;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::request::Parts;
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use tollgate_core::{Caller, ManualClock, RequestBody, SignedClaims};
use tollgate_signature::HmacAlg;
use tollgate_signature::fuzzing::{base64_encode, hmac};
use tollgate_signature::tencent_apigw::TencentApiGateway;
use tollgate_signature::{MemorySecretStore, Scheme, SignatureLayer, Signer};
use tower::{ServiceBuilder, ServiceExt, service_fn};

const KEY_ID: &str = "AKIDkeypair0000000000000000000000001";
const SECRET: &str = "keypairSecret-000000000000000000001";
const NOW: u64 = 1_521_461_320;
const X_DATE: &str = "Mon, 19 Mar 2018 12:08:40 GMT";
const CANNOT: &str = "HMAC signature cannot be verified";

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

/// What the client sees, and what the handler saw on success.
#[derive(Debug)]
struct Answer {
    status: StatusCode,
    message: Option<String>,
    request_id: bool,
    nonce: Option<String>,
    timestamp: Option<SystemTime>,
}

async fn send_with(scheme: TencentApiGateway, clock: u64, parts: Parts) -> Answer {
    let store = MemorySecretStore::new().with_key(KEY_ID, SECRET);
    let layer = SignatureLayer::new(scheme, store).clock(ManualClock::at_unix(Duration::from_secs(clock)));
    let svc =
        ServiceBuilder::new().layer(layer).service(service_fn(|req: Request<RequestBody<Full<Bytes>>>| async move {
            assert_eq!(req.extensions().get::<Caller>().unwrap().key_id(), KEY_ID);
            let claims = SignedClaims::from_extensions(req.extensions()).unwrap();
            assert_eq!(claims.scheme, "tencent-apigw");
            let body = serde_json::json!({
                "nonce": claims.nonce.as_deref(),
                "timestamp": claims.timestamp.map(|t| t.duration_since(UNIX_EPOCH).unwrap().as_secs()),
            });
            Ok::<_, Infallible>(Response::new(body.to_string()))
        }));
    let resp = svc.oneshot(Request::from_parts(parts, Full::new(Bytes::from_static(b"body")))).await.unwrap();
    let status = resp.status();
    let request_id = resp.headers().contains_key("x-api-requestid");
    if status != StatusCode::OK {
        assert_eq!(resp.headers()["content-type"], "application/json");
    }
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    Answer {
        status,
        message: json["message"].as_str().map(str::to_owned),
        request_id,
        nonce: json["nonce"].as_str().map(str::to_owned),
        timestamp: json["timestamp"].as_u64().map(at),
    }
}

async fn send(parts: Parts) -> Answer {
    send_with(TencentApiGateway::new(), NOW, parts).await
}

/// A GET with `source`, signed by the crate's signer at `NOW`.
fn signed() -> Parts {
    let (mut parts, ()) = Request::get("/release/hello?a=1").header("source", "app").body(()).unwrap().into_parts();
    TencentApiGateway::new()
        .sign_header(http::HeaderName::from_static("source"))
        .sign(&mut parts, &mut Bytes::new(), KEY_ID, &SECRET.into(), at(NOW))
        .unwrap();
    parts
}

/// A request with `headers` and a hand-written `Authorization`.
fn by_hand(authorization: &str, headers: &[(&str, &str)]) -> Parts {
    let mut b = Request::get("/release/hello").header("authorization", authorization);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(()).unwrap().into_parts().0
}

fn signature(alg: HmacAlg, secret: &str, signing_string: &str) -> String {
    base64_encode(&hmac(alg, secret.as_bytes(), signing_string.as_bytes()))
}

fn refused(a: &Answer) -> (u16, &str) {
    assert!(a.request_id, "every answer carries X-Api-RequestId");
    (a.status.as_u16(), a.message.as_deref().expect("a refusal carries a message"))
}

#[tokio::test]
async fn a_signed_request_passes_with_its_nonce_and_timestamp() {
    let parts = signed();
    assert_eq!(parts.headers["x-date"], X_DATE);
    let auth = parts.headers["authorization"].to_str().unwrap().to_owned();
    assert!(auth.starts_with(&format!(r#"hmac id="{KEY_ID}", algorithm="hmac-sha1", headers="x-date source", "#)));
    let expected = signature(HmacAlg::Sha1, SECRET, &format!("x-date: {X_DATE}\nsource: app"));
    assert!(auth.ends_with(&format!(r#"signature="{expected}""#)), "{auth}");

    let a = send(parts.clone()).await;
    assert_eq!(a.status, StatusCode::OK, "{a:?}");
    // no nonce in the scheme, and the signature is not one by default: two different
    // requests within one X-Date second share it
    assert_eq!(a.nonce, None);
    assert_eq!(a.timestamp, Some(at(NOW)));
    // told to, the signature stands in for one, for the replay guard
    let a = send_with(TencentApiGateway::new().remember_signatures(true), NOW, parts).await;
    assert_eq!(a.nonce, Some(format!("hmac:{expected}")));
}

#[tokio::test]
async fn row_no_authorization_is_401() {
    let (parts, ()) = Request::get("/release/hello").header("x-date", X_DATE).body(()).unwrap().into_parts();
    let a = send(parts).await;
    assert_eq!(refused(&a), (401, "HMAC signature cannot be verified, a validate authorization header is required"));
}

#[tokio::test]
async fn row_not_hmac_or_no_id_or_no_signature_is_403_saying_what() {
    let sig = signature(HmacAlg::Sha1, SECRET, &format!("x-date: {X_DATE}"));
    for (auth, says) in [
        ("Basic dXNlcjpwYXNz".to_owned(), "hmac"),
        (format!(r#"hmac algorithm="hmac-sha1", headers="x-date", signature="{sig}""#), "id"),
        (format!(r#"hmac id="", algorithm="hmac-sha1", headers="x-date", signature="{sig}""#), "id"),
        (format!(r#"hmac id="{KEY_ID}", algorithm="hmac-sha1", headers="x-date""#), "signature"),
    ] {
        let a = send(by_hand(&auth, &[("x-date", X_DATE)])).await;
        let (status, message) = refused(&a);
        assert_eq!(status, 403, "{auth}");
        assert!(message.starts_with(&format!("{CANNOT}, ")), "{message}");
        assert!(message.contains(says), "{auth}: {message}");
    }
}

#[tokio::test]
async fn row_listed_header_missing_names_it() {
    let mut parts = signed();
    parts.headers.remove("source");
    let a = send(parts).await;
    assert_eq!(refused(&a), (403, "HMAC signature cannot be verified, a valid source header is required"));

    let mut parts = signed();
    parts.headers.remove("x-date");
    let a = send(parts).await;
    assert_eq!(refused(&a), (403, "HMAC signature cannot be verified, a valid x-date header is required"));
}

#[tokio::test]
async fn row_unknown_id_is_403() {
    let (mut parts, ()) = Request::get("/").header("source", "app").body(()).unwrap().into_parts();
    TencentApiGateway::new()
        .sign_header(http::HeaderName::from_static("source"))
        .sign(&mut parts, &mut Bytes::new(), "AKIDnobody", &SECRET.into(), at(NOW))
        .unwrap();
    let a = send(parts).await;
    assert_eq!(refused(&a), (403, "HMAC signature cannot be verified"));
}

#[tokio::test]
async fn row_x_date_out_of_the_window_either_way() {
    for clock in [NOW + 900, NOW - 900] {
        assert_eq!(send_with(TencentApiGateway::new(), clock, signed()).await.status, StatusCode::OK);
    }
    for clock in [NOW + 901, NOW - 901, NOW + 20 * 60] {
        let a = send_with(TencentApiGateway::new(), clock, signed()).await;
        assert_eq!(
            refused(&a),
            (403, "HMAC signature cannot be verified, the x-date header is out of date for clock skew 900 seconds")
        );
    }
    let narrow = TencentApiGateway::new().window(Duration::from_secs(60));
    let a = send_with(narrow, NOW + 61, signed()).await;
    assert_eq!(
        refused(&a).1,
        "HMAC signature cannot be verified, the x-date header is out of date for clock skew 60 seconds"
    );
}

#[tokio::test]
async fn row_mismatch_is_403() {
    let mut changed = signed();
    changed.headers.insert("source", HeaderValue::from_static("other-app"));
    let mut x_date = signed();
    x_date.headers.insert("x-date", HeaderValue::from_static("Mon, 19 Mar 2018 12:08:41 GMT"));
    let sig = signature(HmacAlg::Sha1, "wrong", &format!("x-date: {X_DATE}"));
    let wrong_secret = by_hand(
        &format!(r#"hmac id="{KEY_ID}", algorithm="hmac-sha1", headers="x-date", signature="{sig}""#),
        &[("x-date", X_DATE)],
    );
    let not_base64 = by_hand(
        &format!(r#"hmac id="{KEY_ID}", algorithm="hmac-sha1", headers="x-date", signature="%%%""#),
        &[("x-date", X_DATE)],
    );
    for parts in [changed, x_date, wrong_secret, not_base64] {
        let a = send(parts).await;
        assert_eq!(refused(&a), (403, "HMAC signature does not match"));
    }
}

#[tokio::test]
async fn only_the_listed_headers_are_covered() {
    // documented behaviour: method, path, query, body and unlisted headers may change
    let mut parts = signed();
    parts.method = http::Method::POST;
    parts.uri = "/release/other?a=2&b=3".parse().unwrap();
    parts.headers.insert("x-unlisted", HeaderValue::from_static("anything"));
    assert_eq!(send(parts).await.status, StatusCode::OK);
}

#[tokio::test]
async fn replay_wording() {
    let r = TencentApiGateway::new().replayed();
    let e = tollgate_core::Ecosystem::TencentApiGateway;
    assert_eq!(r.status_for(e), StatusCode::FORBIDDEN);
    assert!(r.message_for(e).starts_with(CANNOT));
    assert!(r.message_for(e).contains("already used"));
}

#[tokio::test]
async fn plain_date_is_not_time_checked_unless_configured() {
    let sig = signature(HmacAlg::Sha1, SECRET, &format!("date: {X_DATE}"));
    let auth = format!(r#"hmac id="{KEY_ID}", algorithm="hmac-sha1", headers="date", signature="{sig}""#);
    let a_year_later = NOW + 365 * 86_400;
    let a = send_with(TencentApiGateway::new(), a_year_later, by_hand(&auth, &[("date", X_DATE)])).await;
    assert_eq!(a.status, StatusCode::OK, "{a:?}");
    assert_eq!(a.timestamp, None, "an unchecked Date is no timestamp for the replay guard");

    let strict = TencentApiGateway::new().check_date_header(true);
    let a = send_with(strict.clone(), a_year_later, by_hand(&auth, &[("date", X_DATE)])).await;
    assert_eq!(refused(&a).0, 403);
    let a = send_with(strict, NOW, by_hand(&auth, &[("date", X_DATE)])).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.timestamp, Some(at(NOW)));
}

#[tokio::test]
async fn parser_reordered_fields_whitespace_and_case() {
    let sig = signature(HmacAlg::Sha256, SECRET, &format!("source: app\nx-date: {X_DATE}"));
    for auth in [
        format!(r#"hmac signature="{sig}", headers="source x-date", algorithm="hmac-sha256", id="{KEY_ID}""#),
        format!(
            "HMAC   id = \"{KEY_ID}\" ,algorithm=\"hmac-sha256\",\theaders=\"source   x-date\",signature=\"{sig}\""
        ),
        format!(r#"hmac id="{KEY_ID}", algorithm="HMAC-SHA256", headers="Source X-Date", signature="{sig}""#),
    ] {
        let a = send(by_hand(&auth, &[("x-date", X_DATE), ("source", "app")])).await;
        assert_eq!(a.status, StatusCode::OK, "{auth}: {a:?}");
    }
}

#[tokio::test]
async fn parser_unknown_algorithm_and_empty_headers_list() {
    let sig = signature(HmacAlg::Sha1, SECRET, &format!("x-date: {X_DATE}"));
    for (auth, says) in [
        (format!(r#"hmac id="{KEY_ID}", algorithm="hmac-md5", headers="x-date", signature="{sig}""#), "algorithm"),
        (format!(r#"hmac id="{KEY_ID}", algorithm="hmac-sha1", headers="", signature="{sig}""#), "x-date or date"),
        (
            format!(r#"hmac id="{KEY_ID}", algorithm="hmac-sha1", headers="source", signature="{sig}""#),
            "x-date or date",
        ),
        (format!(r#"hmac id="{KEY_ID}", algorithm="hmac-sha1", signature="{sig}""#), "x-date or date"),
    ] {
        let a = send(by_hand(&auth, &[("x-date", X_DATE), ("source", "app")])).await;
        let (status, message) = refused(&a);
        assert_eq!(status, 403);
        assert!(message.starts_with(&format!("{CANNOT}, ")) && message.contains(says), "{auth}: {message}");
    }
}

#[tokio::test]
async fn parser_quotes() {
    let sig = signature(HmacAlg::Sha1, SECRET, &format!("x-date: {X_DATE}"));
    // An unclosed quote is malformed.
    let auth = format!(r#"hmac id="{KEY_ID}", algorithm="hmac-sha1", headers="x-date, signature="{sig}"#);
    let a = send(by_hand(&auth, &[("x-date", X_DATE)])).await;
    assert_eq!(refused(&a).0, 403);
    // Unquoted values are read up to the next comma (lenient, as clients that forget the
    // quotes on a single-token value still sign correctly).
    let auth = format!(r#"hmac id={KEY_ID}, algorithm=hmac-sha1, headers=x-date, signature={sig}"#);
    let a = send(by_hand(&auth, &[("x-date", X_DATE)])).await;
    assert_eq!(a.status, StatusCode::OK, "{a:?}");
}

#[test]
fn signer_refuses_a_missing_header() {
    let (mut parts, ()) = Request::get("/").body(()).unwrap().into_parts();
    let signer = TencentApiGateway::new().sign_header(http::HeaderName::from_static("source"));
    assert!(signer.sign(&mut parts, &mut Bytes::new(), KEY_ID, &SECRET.into(), at(NOW)).is_err());
}
