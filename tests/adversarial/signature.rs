//! Adversarial tests: signature.
//!
//! Each attack takes a request signed by an honest client (with the crate's signers, or by
//! hand with the schemes' public string-to-sign builders where the honest request is one
//! the signers now refuse), changes what the signature leaves open, and sends it over real
//! HTTP to a handler behind `SignatureLayer` that reports what it reads: the query and form
//! as `axum::extract::Query<HashMap<..>>` / `Form<HashMap<..>>` read them
//! (`serde_urlencoded` over `form_urlencoded::parse`, the last of a repeated name winning),
//! and every line of the headers the attacks repeat. Before the fixes each of these
//! reached the handler; now each is refused with the scheme's wording.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::SystemTime;

use axum::Router;
use axum::body::Bytes;
use axum::extract::Request;
use http::{HeaderMap, Method};
use serde_json::{Value, json};
use tollgate::signature::aliyun_apigw::{self, AliyunApiGateway};
use tollgate::signature::aliyun_rpc::{self, AliyunRpc};
use tollgate::signature::tencent_apigw::TencentApiGateway;
use tollgate::signature::tencent_cloud::{self, TencentCloud};
use tollgate::signature::{HmacAlg, MemorySecretStore, Scheme, SignatureLayer, Signer, sign_request};
use tollgate_signature::fuzzing::{base64_encode, decoded_pairs, hmac, rfc3986_encode};

use crate::http_support;

const KEY: &str = "AKIDadversary0000000000000000001";
const SECRET: &str = "adversarySecret-000000000000001";

/// What a handler reads: the query and the form as axum's `Query` / `Form` into a map read
/// them (last value of a name wins), and every value of the headers the attacks repeat.
async fn reads(req: Request) -> axum::Json<Value> {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    let map = |bytes: &[u8]| form_urlencoded::parse(bytes).into_owned().collect::<HashMap<String, String>>();
    let lines =
        |name: &str| parts.headers.get_all(name).iter().map(|v| v.to_str().unwrap().to_owned()).collect::<Vec<_>>();
    axum::Json(json!({
        "handled": true,
        "query": map(parts.uri.query().unwrap_or("").as_bytes()),
        "form": map(&body),
        "body": String::from_utf8_lossy(&body),
        "x-amount": lines("x-amount"),
        "content-type": lines("content-type"),
    }))
}

async fn serve<Sc: Scheme>(scheme: Sc) -> SocketAddr {
    let store = MemorySecretStore::new().with_key(KEY, SECRET);
    http_support::serve(Router::new().fallback(reads).layer(SignatureLayer::new(scheme, store))).await
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
    fn of(req: &http::Request<Bytes>) -> Self {
        let target = req.uri().path_and_query().map_or("/".to_owned(), |p| p.as_str().to_owned());
        let headers =
            req.headers().iter().map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap().to_owned())).collect();
        Self { method: req.method().clone(), target, headers, body: req.body().clone() }
    }

    fn header_map(&self) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in &self.headers {
            map.append(http::HeaderName::from_bytes(k.as_bytes()).unwrap(), v.parse().unwrap());
        }
        map
    }

    fn header(&self, name: &str) -> &str {
        &self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).unwrap().1
    }

    fn set_header(&mut self, name: &str, value: &str) {
        self.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
        self.headers.push((name.to_owned(), value.to_owned()));
    }

    /// Another line of header `name`, after the others.
    fn with_line(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    fn with_target(self, target: &str) -> Self {
        Self { target: target.to_owned(), ..self }
    }

    fn with_body(self, body: &'static str) -> Self {
        Self { body: Bytes::from_static(body.as_bytes()), ..self }
    }
}

/// The answer: status, headers, and the JSON body (`Null` if none).
struct Answer {
    status: u16,
    headers: HeaderMap,
    json: Value,
}

impl Answer {
    fn handled(&self) -> bool {
        self.json["handled"] == true
    }

    /// The Aliyun API Gateway refusal: status and `X-Ca-Error-Message`.
    fn aliyun(&self) -> (u16, &str) {
        let text = self.headers.get("x-ca-error-message").map_or("", |v| v.to_str().unwrap());
        (self.status, text)
    }

    /// The Tencent Cloud API error code (every answer is 200).
    fn tencent_code(&self) -> &str {
        self.json["Response"]["Error"]["Code"].as_str().unwrap_or("")
    }
}

async fn send(addr: SocketAddr, wire: &Wire) -> Answer {
    let http = http_support::client_from("127.0.0.1");
    let mut r = http.request(wire.method.clone(), format!("http://{addr}{}", wire.target));
    for (k, v) in &wire.headers {
        if !k.eq_ignore_ascii_case("host") {
            // `header` appends: a repeated name goes out as several lines
            r = r.header(k.as_str(), v.as_str());
        }
    }
    let resp = r.body(wire.body.clone()).send().await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let bytes = resp.bytes().await.unwrap();
    Answer { status, headers, json: serde_json::from_slice(&bytes).unwrap_or(Value::Null) }
}

/// Sends `wire`: its refusal, or `None` when the handler served it, noting in `reached`
/// what the handler read (so one run lists every attack that got through).
async fn refusal_of(addr: SocketAddr, wire: &Wire, reached: &mut Vec<String>) -> Option<Answer> {
    let answer = send(addr, wire).await;
    if answer.handled() {
        reached.push(format!("{}: the handler read {}", wire.target, answer.json["query"]));
        return None;
    }
    Some(answer)
}

fn signed<S: Signer>(signer: &S, req: http::Request<Bytes>) -> Wire {
    Wire::of(&sign_request(signer, req, KEY, &SECRET.into(), SystemTime::now()).unwrap())
}

fn request(method: Method, uri: &str, content_type: Option<&str>, body: &'static str) -> http::Request<Bytes> {
    let mut b = http::Request::builder().method(method).uri(uri);
    if let Some(ct) = content_type {
        b = b.header("content-type", ct);
    }
    b.body(Bytes::from_static(body.as_bytes())).unwrap()
}

const FORM: &str = "application/x-www-form-urlencoded";

// ---- Aliyun API Gateway -------------------------------------------------------------------

/// Signs `wire` again by hand as it now stands (target, body, headers), with the string to
/// sign the crate publishes: for honest-looking requests the signer itself refuses to sign.
fn apigw_resign(mut wire: Wire) -> Wire {
    let names: Vec<String> = wire.header("x-ca-signature-headers").split(',').map(str::to_owned).collect();
    let uri: http::Uri = wire.target.parse().unwrap();
    let sts = aliyun_apigw::string_to_sign(&wire.method, &uri, &wire.header_map(), Some(&wire.body), &names);
    let signature = base64_encode(&hmac(HmacAlg::Sha256, SECRET.as_bytes(), sts.as_bytes()));
    wire.set_header("x-ca-signature", &signature);
    wire
}

/// Issue 17 point 4 (a): a query parameter of a name the form also has was not signed (the
/// form's value was), yet the handler's `Query` read it.
#[tokio::test]
async fn aliyun_apigw_query_parameter_shadowed_by_a_form_field_is_refused() {
    let addr = serve(AliyunApiGateway::new()).await;
    let honest = signed(&AliyunApiGateway::new(), request(Method::POST, "/pay", Some(FORM), "amount=10"));
    let ok = send(addr, &honest).await;
    assert!(ok.handled(), "{}", ok.json);
    assert_eq!(ok.json["form"]["amount"], "10");

    let attack = honest.clone().with_target("/pay?amount=1000000");
    let answer = send(addr, &attack).await;
    assert!(!answer.handled(), "the handler read query amount={}", answer.json["query"]["amount"]);
    assert_eq!(answer.aliyun(), (400, "Invalid Param Location, a parameter is in both the query and the form body"));
}

/// Issue 17 point 4 (b): `%FF` and `%FE` both decoded to U+FFFD, so a value signed as one
/// passed as the other.
#[tokio::test]
async fn aliyun_apigw_undecodable_escape_is_refused() {
    let addr = serve(AliyunApiGateway::new()).await;
    let base = signed(&AliyunApiGateway::new(), request(Method::GET, "/users", None, ""));
    let mut reached = Vec::new();
    for (signed_as, sent_as) in [("/users?name=%FF", "/users?name=%FE"), ("/users?%FF=1", "/users?%FE=1")] {
        let honest = apigw_resign(base.clone().with_target(signed_as));
        let attack = honest.clone().with_target(sent_as);
        for wire in [&attack, &honest] {
            let Some(answer) = refusal_of(addr, wire, &mut reached).await else { continue };
            assert_eq!(answer.aliyun(), (400, "Invalid Param, a parameter is not UTF-8 once percent-decoded"));
        }
    }
    assert!(reached.is_empty(), "{reached:#?}");
    // in a form body too, escaped or raw
    let base = signed(&AliyunApiGateway::new(), request(Method::POST, "/users", Some(FORM), "a=1"));
    for body in [&b"name=%FF"[..], b"name=\xFF"] {
        let wire = Wire { body: Bytes::from_static(body), ..base.clone() };
        let answer = send(addr, &apigw_resign(wire)).await;
        assert_eq!(answer.aliyun(), (400, "Invalid Param, a parameter is not UTF-8 once percent-decoded"), "{body:?}");
    }
}

/// Issue 17 point 4 (c): a signed header sent twice passed with its first value checked,
/// and the handler saw both.
#[tokio::test]
async fn aliyun_apigw_repeated_signed_header_is_refused() {
    let addr = serve(AliyunApiGateway::new()).await;
    let signer =
        AliyunApiGateway::new().sign_header(http::HeaderName::from_static("x-amount")).signature_method(HmacAlg::Sha1);
    let mut req = request(Method::POST, "/pay", Some("application/json"), r#"{"to":"alice"}"#);
    req.headers_mut().insert("x-amount", "10".parse().unwrap());
    req.headers_mut().insert("date", "Mon, 19 Mar 2018 12:08:40 GMT".parse().unwrap());
    let honest = signed(&signer, req);
    assert!(send(addr, &honest).await.handled());

    let answer = send(addr, &honest.clone().with_line("x-amount", "1000000")).await;
    assert!(!answer.handled(), "the handler read x-amount {}", answer.json["x-amount"]);
    assert_eq!(answer.aliyun(), (400, "Invalid Header, x-amount is sent more than once"));
    // so is every header the verifier reads, signed by name or not
    for (name, value) in [
        ("x-ca-key", "other"),
        ("x-ca-signature", "AAAA"),
        ("x-ca-timestamp", "0"),
        ("x-ca-nonce", "n"),
        ("x-ca-signature-headers", "x-ca-key"),
        ("x-ca-signature-method", "HmacSHA1"),
        ("content-type", FORM),
        ("accept", "*/*"),
        ("date", "Mon, 19 Mar 2018 12:08:40 GMT"),
        ("content-md5", "AAAA"),
    ] {
        let answer = send(addr, &honest.clone().with_line(name, value)).await;
        assert!(!answer.handled(), "{name}");
        assert_eq!(answer.aliyun(), (400, format!("Invalid Header, {name} is sent more than once").as_str()));
    }
}

/// A name given twice is how the official clients send a list (`tag=x&tag=y`), signed with
/// its values joined by commas in the order sent: it passes, and a reordering does not. (The
/// scheme cannot tell `?to=alice&to=bob` from `?to=alice,bob`: SECURITY.md says so; the
/// nonce makes a signed request single-use.) Names that decode alike are one name.
#[tokio::test]
async fn aliyun_apigw_repeated_parameter_is_signed_in_order() {
    let addr = serve(AliyunApiGateway::new()).await;
    let honest = signed(&AliyunApiGateway::new(), request(Method::GET, "/pay?to=alice&to=bob", None, ""));
    assert!(send(addr, &honest).await.handled());
    let attack = honest.clone().with_target("/pay?to=bob&to=alice");
    let answer = send(addr, &attack).await;
    assert!(!answer.handled(), "the handler read to={}", answer.json["query"]["to"]);
    assert_eq!(answer.aliyun().0, 400);
    for target in ["/pay?ab=1&a%62=2", "/pay?a+b=1&a%20b=2"] {
        let answer = send(addr, &apigw_resign(honest.clone().with_target(target))).await;
        assert!(answer.handled(), "{target}: {}", answer.json);
    }
}

/// What the honest clients send still passes: `+` and `%20`, `%2B`, an empty value and a
/// name without `=`, UTF-8 escapes, a form beside a query of other names.
#[tokio::test]
async fn aliyun_apigw_honest_requests_still_pass() {
    let addr = serve(AliyunApiGateway::new()).await;
    for req in [
        request(Method::GET, "/q?a=x+y&b=x%20y&c=%2B&d=&e&name=%E5%BC%A0", None, ""),
        request(Method::POST, "/q?page=1", Some(FORM), "amount=10&note=a+b%21"),
        request(Method::POST, "/q", Some("application/json"), r#"{"amount":10}"#),
    ] {
        let wire = signed(&AliyunApiGateway::new(), req);
        let answer = send(addr, &wire).await;
        assert!(answer.handled(), "{}: {}", wire.target, answer.json);
    }
}

// ---- Aliyun RPC ---------------------------------------------------------------------------

/// `wire`'s query, less `Signature`, plus `extra`, signed again by hand with the string to
/// sign the crate publishes.
fn rpc_resign(wire: &Wire, extra: &str) -> Wire {
    let (path, query) = wire.target.split_once('?').unwrap();
    let kept: Vec<&str> = query.split('&').filter(|p| !p.starts_with("Signature=")).collect();
    let query = format!("{}&{extra}", kept.join("&"));
    let sts = aliyun_rpc::string_to_sign(&wire.method, &decoded_pairs(query.as_bytes()));
    let key = format!("{SECRET}&");
    let signature = base64_encode(&hmac(HmacAlg::Sha1, key.as_bytes(), sts.as_bytes()));
    wire.clone().with_target(&format!("{path}?{query}&Signature={}", rfc3986_encode(&signature)))
}

/// `%FF` signed passed as `%FE`; a repeated name's values were signed in value order, so
/// their order (which of them a handler reads) was not.
#[tokio::test]
async fn aliyun_rpc_undecodable_escape_and_repeated_name_are_refused() {
    let addr = serve(AliyunRpc::new()).await;
    let base = signed(&AliyunRpc::new(), request(Method::GET, "/?Action=Pay", None, ""));
    assert!(send(addr, &base).await.handled());
    let cases = [
        ("name=%FF", "name=%FE", "Specified parameter is not UTF-8 once percent-decoded."),
        ("to=alice&to=bob", "to=bob&to=alice", "Specified parameter is given more than once."),
    ];
    let mut reached = Vec::new();
    for (signed_as, sent_as, message) in cases {
        let honest = rpc_resign(&base, signed_as);
        let attack = honest.clone().with_target(&honest.target.replace(signed_as, sent_as));
        for wire in [&attack, &honest] {
            let Some(answer) = refusal_of(addr, wire, &mut reached).await else { continue };
            assert_eq!(
                (answer.status, &answer.json["Code"], &answer.json["Message"]),
                (400, &json!("InvalidParameter"), &json!(message))
            );
        }
    }
    assert!(reached.is_empty(), "{reached:#?}");
    // a name in both the query and a form body
    let mut both = base.clone().with_body("Action=Refund");
    both.set_header("content-type", FORM);
    let answer = send(addr, &both).await;
    assert_eq!(answer.json["Message"], "Specified parameter is in both the query and the form body.");
}

// ---- Tencent Cloud API --------------------------------------------------------------------

fn tc3() -> TencentCloud {
    TencentCloud::new().sign_service("cvm")
}

/// A TC3 POST signs no query (the SDKs send none): `?amount=...` added to a signed POST
/// reached the handler.
#[tokio::test]
async fn tencent_tc3_post_with_a_query_is_refused() {
    let addr = serve(TencentCloud::new()).await;
    let uri = format!("http://{addr}/pay");
    let honest = signed(&tc3(), request(Method::POST, &uri, Some("application/json"), r#"{"amount":10}"#));
    assert!(send(addr, &honest).await.handled());
    let answer = send(addr, &honest.clone().with_target("/pay?amount=1000000")).await;
    assert!(!answer.handled(), "the handler read query amount={}", answer.json["query"]["amount"]);
    assert_eq!(answer.tencent_code(), "InvalidParameter");
}

/// A TC3 GET signs the hash of an empty body: a body added to a signed GET reached the
/// handler unsigned.
#[tokio::test]
async fn tencent_tc3_get_with_a_body_is_refused() {
    let addr = serve(TencentCloud::new()).await;
    let uri = format!("http://{addr}/pay?amount=10");
    let honest = signed(&tc3(), request(Method::GET, &uri, None, ""));
    assert!(send(addr, &honest).await.handled());
    let answer = send(addr, &honest.clone().with_body(r#"{"amount":1000000}"#)).await;
    assert!(!answer.handled(), "the handler read the body {}", answer.json["body"]);
    assert_eq!(answer.tencent_code(), "AuthFailure.SignatureFailure");
}

/// A signed header (here `content-type`) or `Authorization` sent twice: the first was
/// checked, a backend may read another.
#[tokio::test]
async fn tencent_tc3_repeated_signed_header_or_authorization_is_refused() {
    let addr = serve(TencentCloud::new()).await;
    let uri = format!("http://{addr}/pay");
    let honest = signed(&tc3(), request(Method::POST, &uri, Some("application/json"), r#"{"amount":10}"#));
    let auth = honest.header("authorization").to_owned();
    for (name, value) in [("content-type", FORM), ("authorization", auth.as_str()), ("x-tc-timestamp", "0")] {
        let answer = send(addr, &honest.clone().with_line(name, value)).await;
        assert!(!answer.handled(), "{name}: {}", answer.json);
        assert_eq!(answer.tencent_code(), "InvalidParameter", "{name}");
    }
}

/// A TC3 signature over `host` only: Content-Type unsigned, so the signed body could be
/// handed to the application as another kind. Tencent requires both signed; so do we now.
#[tokio::test]
async fn tencent_tc3_unsigned_content_type_is_refused() {
    let addr = serve(TencentCloud::new()).await;
    let uri = format!("http://{addr}/pay");
    let mut wire = signed(&tc3(), request(Method::POST, &uri, Some("text/plain"), "amount=10"));
    // signed again by hand, over `host` only
    let auth = wire.header("authorization").to_owned();
    let scope = auth.split("Credential=").nth(1).unwrap().split(',').next().unwrap().to_owned();
    let date = scope.split('/').nth(1).unwrap().to_owned();
    let ts: u64 = wire.header("x-tc-timestamp").parse().unwrap();
    let canonical = tencent_cloud::tc3_canonical_request(
        &wire.method,
        &wire.target.parse().unwrap(),
        &wire.header_map(),
        "host",
        &wire.body,
    );
    let sts = tencent_cloud::tc3_string_to_sign(ts, &date, "cvm", &canonical);
    let signature = hex_of(&hmac(
        HmacAlg::Sha256,
        &tencent_cloud::tc3_signing_key(SECRET.as_bytes(), &date, "cvm"),
        sts.as_bytes(),
    ));
    wire.set_header(
        "authorization",
        &format!("TC3-HMAC-SHA256 Credential={scope}, SignedHeaders=host, Signature={signature}"),
    );
    wire.set_header("content-type", FORM);
    let answer = send(addr, &wire).await;
    assert!(!answer.handled(), "the handler read the form {}", answer.json["form"]);
    assert_eq!(answer.tencent_code(), "AuthFailure.InvalidAuthorization");
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `wire`'s v1 query, less `Signature`, plus `extra`, signed again by hand for `host`.
fn v1_resign(wire: &Wire, host: &str, extra: &str) -> Wire {
    let (path, query) = wire.target.split_once('?').unwrap();
    let kept: Vec<&str> = query.split('&').filter(|p| !p.starts_with("Signature=")).collect();
    let query = format!("{}&{extra}", kept.join("&"));
    let sts = tencent_cloud::v1_string_to_sign(&wire.method, host, path, &decoded_pairs(query.as_bytes()));
    let signature = base64_encode(&hmac(HmacAlg::Sha1, SECRET.as_bytes(), sts.as_bytes()));
    let signature: String = form_urlencoded::byte_serialize(signature.as_bytes()).collect();
    wire.clone().with_target(&format!("{path}?{query}&Signature={signature}"))
}

/// v1: `%FF` signed passed as `%FE`; `a_b` and `a.b` are signed alike (`_` as `.`), so
/// their values could be swapped; a repeated name's order was not signed.
#[tokio::test]
async fn tencent_v1_undecodable_escape_and_names_signed_alike_are_refused() {
    let addr = serve(TencentCloud::new()).await;
    let host = addr.to_string();
    let base = signed(
        &TencentCloud::new().sign_v1(HmacAlg::Sha1),
        request(Method::GET, &format!("http://{host}/?Action=Pay"), None, ""),
    );
    assert!(send(addr, &base).await.handled());
    let mut reached = Vec::new();
    for (signed_as, sent_as) in [("name=%FF", "name=%FE"), ("a_b=1&a.b=2", "a_b=2&a.b=1"), ("to=a&to=b", "to=b&to=a")] {
        let honest = v1_resign(&base, &host, signed_as);
        let attack = honest.clone().with_target(&honest.target.replace(signed_as, sent_as));
        for wire in [&attack, &honest] {
            let Some(answer) = refusal_of(addr, wire, &mut reached).await else { continue };
            assert_eq!(answer.tencent_code(), "InvalidParameter", "{}", wire.target);
        }
    }
    assert!(reached.is_empty(), "{reached:#?}");
}

// ---- Tencent API Gateway key pair ---------------------------------------------------------

/// A listed header or `Authorization` sent twice: the first was checked, a backend may
/// read another.
#[tokio::test]
async fn tencent_apigw_repeated_listed_header_or_authorization_is_refused() {
    let addr = serve(TencentApiGateway::new()).await;
    let signer = TencentApiGateway::new().sign_header(http::HeaderName::from_static("x-amount"));
    let mut req = request(Method::GET, "/pay", None, "");
    req.headers_mut().insert("x-amount", "10".parse().unwrap());
    let honest = signed(&signer, req);
    assert!(send(addr, &honest).await.handled());
    let auth = honest.header("authorization").to_owned();
    for (name, value) in
        [("x-amount", "1000000"), ("authorization", auth.as_str()), ("x-date", "Mon, 19 Mar 2018 12:08:40 GMT")]
    {
        let answer = send(addr, &honest.clone().with_line(name, value)).await;
        assert!(!answer.handled(), "{name}: {}", answer.json);
        let message = format!("HMAC signature cannot be verified, the {name} header is sent more than once");
        assert_eq!((answer.status, &answer.json["message"]), (400, &json!(message)));
    }
}
