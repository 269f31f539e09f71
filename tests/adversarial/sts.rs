//! Adversarial tests: temporary credentials (security tokens).
//!
//! The attacker holds a temporary key of its own (with its token) and has seen another key's
//! token; it sends requests signed with its own secret over real HTTP to a handler behind
//! `SignatureLayer` that reports every place a token can be read from (the `SecurityToken` /
//! `Token` parameters as axum's `Query` / `Form` read them, the last of a repeated name
//! winning, and the `X-TC-Token` / `x-acs-security-token` headers). Each attack would have the
//! handler read a token the layer did not check, or pass with one it should refuse; each is
//! refused with the scheme's wording.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::body::Bytes;
use axum::extract::Request;
use http::{HeaderName, HeaderValue};
use serde_json::{Value, json};
use tollgate::signature::aliyun_rpc::AliyunRpc;
use tollgate::signature::tencent_cloud::TencentCloud;
use tollgate::signature::{HmacAlg, MemorySecretStore, Scheme, SignatureLayer, Signer};

use crate::http_support;

const MINE: &str = "STS.attackerTemporaryKey1";
const MY_SECRET: &str = "attackerSecret-0001";
const MY_TOKEN: &str = "CAISattackerToken";
const VICTIM: &str = "STS.victimTemporaryKey001";
const VICTIM_TOKEN: &str = "CAISvictimToken";
const PERMANENT: &str = "LTAIattackerPermanentKey1";
const PERMANENT_SECRET: &str = "attackerPermanentSecret";

fn store() -> MemorySecretStore {
    let later = SystemTime::now() + Duration::from_secs(3600);
    MemorySecretStore::new()
        .with_temporary_key(MINE, MY_SECRET, MY_TOKEN, later)
        .with_temporary_key(VICTIM, "victimSecret", VICTIM_TOKEN, later)
        .with_key(PERMANENT, PERMANENT_SECRET)
}

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
        "x-tc-token": lines("x-tc-token"),
        "x-acs-security-token": lines("x-acs-security-token"),
    }))
}

async fn serve<Sc: Scheme>(scheme: Sc) -> SocketAddr {
    http_support::serve(Router::new().fallback(reads).layer(SignatureLayer::new(scheme, store()))).await
}

/// A signed request, as it will go on the wire.
struct Wire {
    parts: http::request::Parts,
    body: Bytes,
}

impl Wire {
    fn signed<S: Signer>(signer: &S, key: &str, secret: &str, token: Option<&str>, request: http::Request<()>) -> Self {
        Self::signed_body(signer, key, secret, token, request, "")
    }

    fn signed_body<S: Signer>(
        signer: &S,
        key: &str,
        secret: &str,
        token: Option<&str>,
        request: http::Request<()>,
        body: &'static str,
    ) -> Self {
        let (mut parts, ()) = request.into_parts();
        let mut body = Bytes::from_static(body.as_bytes());
        signer.sign_with_token(&mut parts, &mut body, key, &secret.into(), token, SystemTime::now()).unwrap();
        Self { parts, body }
    }

    fn with_line(mut self, name: &'static str, value: &'static str) -> Self {
        self.parts.headers.append(HeaderName::from_static(name), HeaderValue::from_static(value));
        self
    }

    fn with_target(mut self, target: String) -> Self {
        self.parts.uri = target.parse().unwrap();
        self
    }

    fn target(&self) -> String {
        self.parts.uri.path_and_query().unwrap().to_string()
    }
}

/// What came back: the handler's report, or the refusal's code (Aliyun RPC's `Code`, the
/// Tencent envelope's) with the status.
async fn send(addr: SocketAddr, wire: &Wire) -> (u16, Value) {
    let http = http_support::client_from("127.0.0.1");
    let target = wire.target();
    let mut r = http.request(wire.parts.method.clone(), format!("http://{addr}{target}"));
    for (k, v) in &wire.parts.headers {
        if k != http::header::HOST {
            r = r.header(k, v);
        }
    }
    let resp = r.body(wire.body.clone()).send().await.unwrap();
    let status = resp.status().as_u16();
    let json: Value = serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap_or(Value::Null);
    (status, json)
}

/// The refusal's status and code; panics with what the handler read if it was served.
async fn refused(addr: SocketAddr, wire: &Wire) -> (u16, String) {
    let (status, json) = send(addr, wire).await;
    assert!(json["handled"] != true, "{}: the handler read {json}", wire.target());
    let code = json["Code"].as_str().or(json["Response"]["Error"]["Code"].as_str()).unwrap();
    (status, code.to_owned())
}

fn rpc_get(host: &str) -> http::Request<()> {
    let uri = format!("http://{host}/?Action=DescribeRegions&Version=2014-05-26");
    http::Request::get(uri).header("host", host).body(()).unwrap()
}

fn tencent(method: &str, host: &str, path: &str) -> http::Request<()> {
    let b = http::Request::builder().method(method).uri(format!("http://{host}{path}")).header("host", host);
    let b = if method == "GET" { b } else { b.header("content-type", "application/json") };
    b.body(()).unwrap()
}

fn tc3() -> TencentCloud {
    TencentCloud::new().sign_service("cvm")
}

fn v1() -> TencentCloud {
    TencentCloud::new().sign_service("cvm").sign_v1(HmacAlg::Sha1)
}

/// A token seen on another key's request, sent with the attacker's own key and signed with
/// its own secret: the signature holds, the token is not this key's.
#[tokio::test]
async fn a_token_moved_to_another_key_is_refused() {
    let addr = serve(AliyunRpc::new()).await;
    let host = addr.to_string();
    let honest = Wire::signed(&AliyunRpc::new(), MINE, MY_SECRET, Some(MY_TOKEN), rpc_get(&host));
    assert_eq!(send(addr, &honest).await.1["query"]["SecurityToken"], MY_TOKEN);
    for (key, secret) in [(MINE, MY_SECRET), (PERMANENT, PERMANENT_SECRET)] {
        let moved = Wire::signed(&AliyunRpc::new(), key, secret, Some(VICTIM_TOKEN), rpc_get(&host));
        assert_eq!(refused(addr, &moved).await, (403, "InvalidSecurityToken.MismatchWithAccessKey".into()), "{key}");
    }

    let addr = serve(TencentCloud::new()).await;
    let host = addr.to_string();
    for (signer, body) in [(tc3(), "{}"), (v1(), "")] {
        let moved = Wire::signed_body(&signer, MINE, MY_SECRET, Some(VICTIM_TOKEN), tencent("POST", &host, "/"), body);
        assert_eq!(refused(addr, &moved).await, (200, "AuthFailure.TokenFailure".into()));
    }
    // TC3 does not sign its token: swapped on the attacker's own signed request, still refused
    let swapped = Wire::signed_body(&tc3(), MINE, MY_SECRET, Some(MY_TOKEN), tencent("POST", &host, "/"), "{}");
    let mut swapped = swapped;
    swapped.parts.headers.insert("x-tc-token", HeaderValue::from_static(VICTIM_TOKEN));
    assert_eq!(refused(addr, &swapped).await, (200, "AuthFailure.TokenFailure".into()));
}

/// Each scheme reads its token in one place. A token where another of the cloud's clients
/// would put it (and the backend might read it) is refused, alone or beside the checked one.
#[tokio::test]
async fn a_token_in_the_other_place_is_refused() {
    // Aliyun RPC: `x-acs-security-token` (the SDK's header for ROA requests) is not signed here
    let addr = serve(AliyunRpc::new()).await;
    let host = addr.to_string();
    let header_only = Wire::signed(&AliyunRpc::new(), PERMANENT, PERMANENT_SECRET, None, rpc_get(&host))
        .with_line("x-acs-security-token", VICTIM_TOKEN);
    assert_eq!(refused(addr, &header_only).await, (400, "InvalidParameter".into()));
    let both = Wire::signed(&AliyunRpc::new(), MINE, MY_SECRET, Some(MY_TOKEN), rpc_get(&host))
        .with_line("x-acs-security-token", VICTIM_TOKEN);
    assert_eq!(refused(addr, &both).await, (400, "InvalidParameter".into()));

    let addr = serve(TencentCloud::new()).await;
    let host = addr.to_string();
    // TC3: a `Token` query parameter is signed (a GET's query is), so a backend would trust it
    let query_only =
        Wire::signed(&tc3(), PERMANENT, PERMANENT_SECRET, None, tencent("GET", &host, "/?Token=CAISvictimToken"));
    assert_eq!(refused(addr, &query_only).await, (200, "InvalidParameter".into()));
    let both =
        Wire::signed(&tc3(), MINE, MY_SECRET, Some(MY_TOKEN), tencent("GET", &host, "/?Limit=1&Token=CAISvictimToken"));
    assert_eq!(refused(addr, &both).await, (200, "InvalidParameter".into()));
    // percent-encoded, the name is still `Token`
    let encoded = Wire::signed(&tc3(), MINE, MY_SECRET, Some(MY_TOKEN), tencent("GET", &host, "/?%54oken=x"));
    assert_eq!(refused(addr, &encoded).await, (200, "InvalidParameter".into()));
    // the honest TC3 GET with its header token passes
    let honest = Wire::signed(&tc3(), MINE, MY_SECRET, Some(MY_TOKEN), tencent("GET", &host, "/?Limit=1"));
    assert_eq!(send(addr, &honest).await.1["x-tc-token"], json!([MY_TOKEN]));
    // v1: an `X-TC-Token` header is not signed
    let header_only = Wire::signed_body(&v1(), PERMANENT, PERMANENT_SECRET, None, tencent("POST", &host, "/"), "")
        .with_line("x-tc-token", VICTIM_TOKEN);
    assert_eq!(refused(addr, &header_only).await, (200, "InvalidParameter".into()));
    let both = Wire::signed_body(&v1(), MINE, MY_SECRET, Some(MY_TOKEN), tencent("POST", &host, "/"), "")
        .with_line("x-tc-token", VICTIM_TOKEN);
    assert_eq!(refused(addr, &both).await, (200, "InvalidParameter".into()));
}

/// Two tokens: which one a backend reads is its own choice, so neither is taken.
#[tokio::test]
async fn two_tokens_are_refused() {
    let addr = serve(AliyunRpc::new()).await;
    let host = addr.to_string();
    let honest = Wire::signed(&AliyunRpc::new(), MINE, MY_SECRET, Some(MY_TOKEN), rpc_get(&host));
    let target = honest.target();
    let twice = honest.with_target(format!("{target}&SecurityToken={VICTIM_TOKEN}"));
    assert_eq!(refused(addr, &twice).await, (400, "InvalidParameter".into()));
    // one in the query, one in the form
    let form = http::Request::post(format!("http://{host}/?SecurityToken={VICTIM_TOKEN}"))
        .header("host", &host)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(())
        .unwrap();
    let (mut parts, ()) = form.into_parts();
    let mut body = Bytes::from_static(b"Action=DescribeRegions");
    // signed by hand as the attacker would: the signer refuses a request it cannot sign one way
    let _ = AliyunRpc::new().sign_with_token(
        &mut parts,
        &mut body,
        MINE,
        &MY_SECRET.into(),
        Some(MY_TOKEN),
        SystemTime::now(),
    );
    let wire = Wire { parts, body: Bytes::from(format!("Action=DescribeRegions&SecurityToken={MY_TOKEN}")) };
    assert_eq!(refused(addr, &wire).await, (400, "InvalidParameter".into()));

    let addr = serve(TencentCloud::new()).await;
    let host = addr.to_string();
    let tc3_twice = Wire::signed_body(&tc3(), MINE, MY_SECRET, Some(MY_TOKEN), tencent("POST", &host, "/"), "{}")
        .with_line("x-tc-token", VICTIM_TOKEN);
    assert_eq!(refused(addr, &tc3_twice).await, (200, "InvalidParameter".into()));
    let v1_twice = Wire::signed(&v1(), MINE, MY_SECRET, Some(MY_TOKEN), tencent("GET", &host, "/"));
    let target = v1_twice.target();
    let v1_twice = v1_twice.with_target(format!("{target}&Token={VICTIM_TOKEN}"));
    assert_eq!(refused(addr, &v1_twice).await, (200, "InvalidParameter".into()));
}

/// An empty token is not "no token": refused, for a temporary key and a permanent one.
#[tokio::test]
async fn an_empty_token_is_refused() {
    let addr = serve(AliyunRpc::new()).await;
    let host = addr.to_string();
    for (key, secret) in [(MINE, MY_SECRET), (PERMANENT, PERMANENT_SECRET)] {
        let empty = Wire::signed(&AliyunRpc::new(), key, secret, Some(""), rpc_get(&host));
        assert!(empty.target().contains("SecurityToken=&"), "{}", empty.target());
        assert_eq!(refused(addr, &empty).await, (400, "InvalidSecurityToken.Malformed".into()), "{key}");
    }
    let addr = serve(TencentCloud::new()).await;
    let host = addr.to_string();
    for (key, secret) in [(MINE, MY_SECRET), (PERMANENT, PERMANENT_SECRET)] {
        let v1_empty = Wire::signed(&v1(), key, secret, Some(""), tencent("GET", &host, "/"));
        assert_eq!(refused(addr, &v1_empty).await, (200, "AuthFailure.TokenFailure".into()), "{key}");
        let tc3_blank = Wire::signed_body(&tc3(), key, secret, None, tencent("POST", &host, "/"), "{}")
            .with_line("x-tc-token", "   ");
        assert_eq!(refused(addr, &tc3_blank).await, (200, "AuthFailure.TokenFailure".into()), "{key}");
    }
}

/// A key that needs no token, sent with one: checked all the same, never passed unchecked
/// to a backend that would take it as proof.
#[tokio::test]
async fn a_token_on_a_key_that_needs_none_is_checked() {
    let addr = serve(AliyunRpc::new()).await;
    let host = addr.to_string();
    let plain = Wire::signed(&AliyunRpc::new(), PERMANENT, PERMANENT_SECRET, None, rpc_get(&host));
    assert_eq!(send(addr, &plain).await.1["handled"], true);
    let invented = Wire::signed(&AliyunRpc::new(), PERMANENT, PERMANENT_SECRET, Some("CAISadmin"), rpc_get(&host));
    assert_eq!(refused(addr, &invented).await, (400, "InvalidSecurityToken.Malformed".into()));

    let addr = serve(TencentCloud::new()).await;
    let host = addr.to_string();
    let invented =
        Wire::signed_body(&tc3(), PERMANENT, PERMANENT_SECRET, Some("admin"), tencent("POST", &host, "/"), "{}");
    assert_eq!(refused(addr, &invented).await, (200, "AuthFailure.TokenFailure".into()));
}
