//! Temporary credentials over real HTTP on loopback: a `SigningLayer` given a security token
//! signs for a server behind `SignatureLayer` + `ReplayGuardLayer` whose store holds
//! temporary keys, for Aliyun RPC, Tencent TC3 and Tencent v1. The valid token reaches the
//! handler (as the caller's key); an expired one, another key's, and none at all are
//! refused with the cloud's codes; the token the handler sees is the one that was checked.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Extension, Request};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tollgate::prelude::*;
use tollgate::signature::aliyun_rpc::AliyunRpc;
use tollgate::signature::tencent_cloud::TencentCloud;
use tollgate::signature::{HmacAlg, Scheme, Signer};
use tower::{Service, ServiceBuilder, ServiceExt, service_fn};

#[path = "support/http.rs"]
mod http_support;

const TEMP: &str = "STS.httpTemporaryKey00001";
const TEMP_SECRET: &str = "httpTempSecret-0001";
const TOKEN: &str = "CAIShttpToken/0001+==";
const OLD_TOKEN: &str = "CAIShttpExpiredToken";
const OTHER: &str = "STS.httpOtherKey000000001";
const OTHER_TOKEN: &str = "CAIShttpOtherToken";

fn store() -> MemorySecretStore {
    let now = SystemTime::now();
    MemorySecretStore::new()
        .with_temporary_key(TEMP, TEMP_SECRET, TOKEN, now + Duration::from_secs(3600))
        .with_token(TEMP, OLD_TOKEN, now - Duration::from_secs(1))
        .with_temporary_key(OTHER, "httpOtherSecret", OTHER_TOKEN, now + Duration::from_secs(3600))
}

/// Reports the caller and every place a token could be read from.
async fn echo(Extension(caller): Extension<Caller>, req: Request) -> axum::Json<Value> {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    let param = |name: &str| {
        let query = form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes());
        query.chain(form_urlencoded::parse(&body)).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
    };
    let header = parts.headers.get("x-tc-token").map(|v| v.to_str().unwrap().to_owned());
    let token = param("SecurityToken").or(param("Token")).or(header);
    axum::Json(json!({"key_id": caller.key_id(), "token": token}))
}

async fn serve<Sc: Scheme>(scheme: Sc) -> SocketAddr {
    let app = Router::new()
        .fallback(echo)
        .layer(ReplayGuardLayer::new())
        .layer(SignatureLayer::new(scheme, store()))
        .layer(RequestIdLayer::new());
    http_support::serve(app).await
}

/// A tiny HTTP client as a tower service, for `SigningLayer` to wrap.
fn client() -> impl Service<
    http::Request<tollgate::RequestBody<http_body_util::Full<Bytes>>>,
    Response = (u16, Value),
    Error = reqwest::Error,
    Future = impl Send,
> + Clone
+ Send {
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    service_fn(move |req: http::Request<tollgate::RequestBody<http_body_util::Full<Bytes>>>| {
        let http = http.clone();
        async move {
            let (parts, body) = req.into_parts();
            let bytes = body.collect().await.unwrap_or_else(|e: std::convert::Infallible| match e {}).to_bytes();
            let mut r = http.request(parts.method, parts.uri.to_string());
            for (k, v) in &parts.headers {
                if k != http::header::HOST {
                    r = r.header(k, v);
                }
            }
            let resp = r.body(bytes).send().await?;
            let status = resp.status().as_u16();
            let bytes = resp.bytes().await?;
            Ok((status, serde_json::from_slice(&bytes).unwrap_or(Value::Null)))
        }
    })
}

/// Signs with `signer` as `key` (its secret looked up here) and `token`, and sends.
async fn call<Sg: Signer>(
    addr: SocketAddr,
    signer: Sg,
    key: &str,
    token: Option<&str>,
    request: (&str, &str, &str, &'static str),
) -> (u16, Value) {
    let secret = if key == TEMP { TEMP_SECRET } else { "httpOtherSecret" };
    let mut layer = SigningLayer::new(signer, key, secret);
    if let Some(token) = token {
        layer = layer.security_token(token);
    }
    let (method, path, ctype, body) = request;
    let mut b =
        http::Request::builder().method(method).uri(format!("http://{addr}{path}")).header("host", addr.to_string());
    if !ctype.is_empty() {
        b = b.header("content-type", ctype);
    }
    let req = b.body(http_body_util::Full::new(Bytes::from_static(body.as_bytes()))).unwrap();
    ServiceBuilder::new().layer(layer).service(client()).oneshot(req).await.unwrap()
}

#[tokio::test]
async fn aliyun_rpc_security_token() {
    let addr = serve(AliyunRpc::new()).await;
    let get = ("GET", "/?Action=DescribeRegions&Version=2014-05-26", "", "");
    let (status, body) = call(addr, AliyunRpc::new(), TEMP, Some(TOKEN), get).await;
    assert_eq!((status, &body["key_id"], &body["token"]), (200, &json!(TEMP), &json!(TOKEN)), "{body}");
    for (token, expected) in [
        (None, (400, "MissingSecurityToken")),
        (Some(OLD_TOKEN), (403, "InvalidSecurityToken.Expired")),
        (Some(OTHER_TOKEN), (403, "InvalidSecurityToken.MismatchWithAccessKey")),
        (Some("CAISforged"), (400, "InvalidSecurityToken.Malformed")),
    ] {
        let (status, body) = call(addr, AliyunRpc::new(), TEMP, token, get).await;
        assert_eq!((status, body["Code"].as_str().unwrap()), expected, "{token:?}: {body}");
    }
    // a form body carries the token as well (signed with the other parameters)
    let post = ("POST", "/", "application/x-www-form-urlencoded", "Action=DescribeRegions&Version=2014-05-26");
    let (status, body) = call(addr, AliyunRpc::new(), OTHER, Some(OTHER_TOKEN), post).await;
    assert_eq!((status, &body["key_id"]), (200, &json!(OTHER)), "{body}");
}

#[tokio::test]
async fn tencent_tc3_and_v1_tokens() {
    let addr = serve(TencentCloud::new()).await;
    let tc3 = ("POST", "/", "application/json", r#"{"Limit":1}"#);
    let v1 = ("POST", "/", "", "Action=DescribeInstances&Version=2017-03-12");
    let tc = || TencentCloud::new().sign_service("cvm");
    let signers = [tc(), tc().sign_v1(HmacAlg::Sha1), tc().sign_v1(HmacAlg::Sha256)];
    for (i, signer) in signers.into_iter().enumerate() {
        let request = if i == 0 { tc3 } else { v1 };
        let (status, body) = call(addr, signer.clone(), TEMP, Some(TOKEN), request).await;
        assert_eq!((status, &body["key_id"], &body["token"]), (200, &json!(TEMP), &json!(TOKEN)), "{i}: {body}");
        for token in [None, Some(OLD_TOKEN), Some(OTHER_TOKEN), Some("forged")] {
            let (status, body) = call(addr, signer.clone(), TEMP, token, request).await;
            let code = body["Response"]["Error"]["Code"].as_str().unwrap_or_default();
            assert_eq!((status, code), (200, "AuthFailure.TokenFailure"), "{i}: {token:?}: {body}");
        }
    }
}

/// The gateway file declares temporary keys with their tokens and expiry; they are enforced
/// over real HTTP, in the API's scheme's error style.
#[tokio::test]
async fn the_gateway_file_declares_temporary_keys() {
    use tollgate::gateway::{Format, Gateway};
    let gateway = Gateway::from_config(
        &format!(
            r#"
apis:
  - path: /
    replay: true
    signature:
      scheme: aliyun-rpc
      keys:
        - {{id: LTAIpermanent, secret: permSecret}}
        - id: {TEMP}
          secret: {TEMP_SECRET}
          tokens:
            - {{token: "{TOKEN}", expires: "2100-01-01T00:00:00Z"}}
            - {{token: {OLD_TOKEN}, expires: "2020-01-01T00:00:00Z"}}
        - id: {OTHER}
          secret: httpOtherSecret
          tokens: [{{token: {OTHER_TOKEN}, expires: "2100-01-01T00:00:00Z"}}]
"#
        ),
        Format::Yaml,
    )
    .unwrap();
    let app = Router::new().fallback(echo).layer(gateway.into_layer());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await.unwrap();
    });
    let get = ("GET", "/?Action=DescribeRegions&Version=2014-05-26", "", "");
    let (status, body) = call(addr, AliyunRpc::new(), TEMP, Some(TOKEN), get).await;
    assert_eq!((status, &body["key_id"]), (200, &json!(TEMP)), "{body}");
    for (token, expected) in [
        (None, (400, "MissingSecurityToken")),
        (Some(OLD_TOKEN), (403, "InvalidSecurityToken.Expired")),
        (Some(OTHER_TOKEN), (403, "InvalidSecurityToken.MismatchWithAccessKey")),
    ] {
        let (status, body) = call(addr, AliyunRpc::new(), TEMP, token, get).await;
        assert_eq!((status, body["Code"].as_str().unwrap_or_default()), expected, "{token:?}: {body}");
    }
}

#[test]
fn gateway_token_errors_name_the_field() {
    use tollgate::gateway::{Format, Gateway};
    let error = |keys: &str, scheme: &str| {
        let text = format!("apis:\n  - path: /\n    signature:\n      scheme: {scheme}\n      keys: {keys}\n");
        Gateway::from_config(&text, Format::Yaml).unwrap_err().to_string()
    };
    let err = error(r#"[{id: k, secret: s, tokens: [{token: "", expires: "2100-01-01T00:00:00Z"}]}]"#, "aliyun-rpc");
    assert!(err.starts_with("apis[0].signature.keys[0].tokens[0].token: expected a token"), "{err}");
    let err = error(r#"[{id: k, secret: s, tokens: [{token: t, expires: "next year"}]}]"#, "tencent-cloud");
    assert!(err.starts_with("apis[0].signature.keys[0].tokens[0].expires: expected an RFC 3339 time"), "{err}");
    let err = error(r#"[{id: k, secret: s, tokens: [{token: t, expires: "2100-01-01T00:00:00Z"}]}]"#, "aliyun-apigw");
    assert!(
        err.starts_with("apis[0].signature.keys[0].tokens: expected tokens only with aliyun-rpc or tencent-cloud"),
        "{err}"
    );
    let twice = r#"[{id: a, secret: s, tokens: [{token: t, expires: "2100-01-01T00:00:00Z"}]},
                    {id: b, secret: s, tokens: [{token: u, expires: "2100-01-01T00:00:00Z"}, {token: t, expires: "2100-01-01T00:00:00Z"}]}]"#;
    let err = error(twice, "aliyun-rpc");
    assert!(err.starts_with("apis[0].signature.keys[1].tokens[1].token: expected each token once: keys[0]"), "{err}");
    let err = error(r#"[{id: k, secret: s, tokens: [{token: t}]}]"#, "aliyun-rpc");
    assert!(err.contains("missing field `expires`"), "{err}");
}
