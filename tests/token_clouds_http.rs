//! Aliyun's API-level OpenID Connect, Tencent's OAuth 2.0 business APIs and JWKS URLs over real
//! HTTP on loopback, through the `Gateway` read from a file: valid, expired and forged tokens,
//! each cloud's refusal shape, the JWT plug-in replacing OpenID Connect, keys rotated in at a
//! JWKS server, and configuration errors naming their field.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::routing::get;
use http::StatusCode;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use tollgate::Caller;
use tollgate::gateway::{Format, Gateway};

#[path = "support/http.rs"]
mod http_support;
use http_support::serve;

const IDP_1_PEM: &[u8] = include_bytes!("../crates/tollgate-token/tests/fixtures/clouds/idp-1.pem");
const IDP_2_PEM: &[u8] = include_bytes!("../crates/tollgate-token/tests/fixtures/clouds/idp-2.pem");
const IDP_1_JWK: &str = include_str!("../crates/tollgate-token/tests/fixtures/clouds/idp-1.jwk.json");
const IDP_2_JWK: &str = include_str!("../crates/tollgate-token/tests/fixtures/clouds/idp-2.jwk.json");

fn now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

fn mint(pem: &[u8], kid: Option<&str>, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_rsa_pem(pem).unwrap()).unwrap()
}

fn valid(sub: &str) -> Value {
    json!({"sub": sub, "exp": now() + 3600})
}

/// Tencent's `PublicKey` as its console shows it: `e`, `kty`, `n`.
fn tencent_key(jwk: &str) -> String {
    let jwk: Value = serde_json::from_str(jwk).unwrap();
    json!({"e": jwk["e"], "kty": "RSA", "n": jwk["n"]}).to_string()
}

/// The gateway's configuration, JSON: an Aliyun OpenID Connect business API, a Tencent
/// OAuth business API (CreateApi's fields), an API with both a JWT plug-in and OpenID
/// Connect, Tencent's authorization API, and a JWT plug-in whose keys come from `jwks_url`.
fn config(jwks_url: &str) -> String {
    json!({
        "apis": [
            {
                "name": "orders",
                "path": "/orders",
                "openid_connect": {
                    "OpenIdApiType": "BUSINESS",
                    "IdTokenParamName": "token",
                    "PublicKeyId": "idp-1",
                    "PublicKey": IDP_1_JWK,
                },
            },
            {
                "ApiName": "profile",
                "RequestConfig": {"Path": "/profile", "Method": "GET"},
                "AuthType": "OAUTH",
                "ApiBusinessType": "NORMAL",
                "OauthConfig": {
                    "PublicKey": tencent_key(IDP_1_JWK),
                    "TokenLocation": "method.req.header.authorization",
                },
            },
            {
                "name": "both",
                "path": "/both",
                "openid_connect": {
                    "IdTokenParamName": "token",
                    "PublicKeyId": "idp-1",
                    "PublicKey": IDP_1_JWK,
                },
                "jwt": {
                    "parameter": "token",
                    "parameterLocation": "header",
                    "jwk": serde_json::from_str::<Value>(IDP_2_JWK).unwrap(),
                },
            },
            {
                "ApiName": "login",
                "RequestConfig": {"Path": "/login", "Method": "GET"},
                "AuthType": "OAUTH",
                "ApiBusinessType": "OAUTH",
            },
            {
                "name": "rotating",
                "path": "/rotating",
                "jwt": {
                    "parameter": "Authorization",
                    "parameterLocation": "header",
                    "jwksUrl": jwks_url,
                    "jwksRefetchInterval": 0,
                },
            },
        ]
    })
    .to_string()
}

/// A JWKS server whose document the test changes.
async fn jwks_server(keys: &[&str]) -> (Arc<Mutex<String>>, SocketAddr) {
    let body = Arc::new(Mutex::new(format!("{{\"keys\": [{}]}}", keys.join(","))));
    let served = body.clone();
    let app = Router::new().route(
        "/jwks",
        get(move || {
            let served = served.clone();
            async move { served.lock().unwrap().clone() }
        }),
    );
    (body, serve(app).await)
}

async fn start() -> (SocketAddr, Arc<Mutex<String>>) {
    let (jwks, jwks_addr) = jwks_server(&[IDP_1_JWK]).await;
    let gateway = Gateway::from_config(&config(&format!("http://{jwks_addr}/jwks")), Format::Json).unwrap();
    let whoami =
        || get(|caller: Option<Caller>| async move { caller.map(|c| c.key_id().to_owned()).unwrap_or_default() });
    let app = Router::new()
        .route("/orders", whoami())
        .route("/profile", whoami())
        .route("/both", whoami())
        .route("/login", whoami())
        .route("/rotating", whoami())
        .layer(gateway.into_layer());
    (serve(app).await, jwks)
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

async fn send(req: reqwest::RequestBuilder) -> (StatusCode, http::HeaderMap, String) {
    let resp = req.send().await.unwrap();
    let status = StatusCode::from_u16(resp.status().as_u16()).unwrap();
    let mut headers = http::HeaderMap::new();
    for (name, value) in resp.headers() {
        headers.append(
            http::HeaderName::from_bytes(name.as_str().as_bytes()).unwrap(),
            http::HeaderValue::from_bytes(value.as_bytes()).unwrap(),
        );
    }
    (status, headers, resp.text().await.unwrap())
}

#[tokio::test]
async fn aliyun_openid_connect_over_http() {
    let (addr, _) = start().await;
    let url = format!("http://{addr}/orders");
    let (status, _, body) =
        send(client().get(&url).header("token", mint(IDP_1_PEM, Some("idp-1"), &valid("alice")))).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "alice"));

    let cases = [
        (None, "OpenId Connect Verify Fail, IdToken Not Exist"),
        (
            Some(mint(IDP_1_PEM, Some("idp-1"), &json!({"sub": "a", "exp": now() - 60}))),
            "OpenID Connect Verify Fail: 239, idToken expired",
        ),
        (
            Some(mint(IDP_1_PEM, Some("idp-1"), &json!({"sub": "a", "exp": now() + 8 * 86_400}))),
            "OpenID Connect Verify Fail: 239, Parse payload to JwtClaims exception",
        ),
        (
            Some(mint(IDP_1_PEM, Some("idp-1"), &json!({"sub": "a"}))),
            "OpenID Connect Verify Fail: 239, Parse payload to JwtClaims exception",
        ),
        (
            Some(mint(IDP_2_PEM, Some("idp-2"), &valid("a"))),
            "OpenID Connect Verify Fail: 243, Not found by keyId:idp-2",
        ),
        (Some(mint(IDP_2_PEM, Some("idp-1"), &valid("a"))), "OpenID Connect Verify Fail: 237, Verify signature failed"),
    ];
    for (token, message) in cases {
        let mut req = client().get(&url);
        if let Some(token) = token {
            req = req.header("token", token);
        }
        let (status, headers, body) = send(req).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{message}");
        assert_eq!(headers["x-ca-error-message"], message);
        assert!(headers.contains_key("x-ca-request-id"));
        assert_eq!(body, "");
    }
}

#[tokio::test]
async fn tencent_oauth_over_http() {
    let (addr, _) = start().await;
    let url = format!("http://{addr}/profile");
    let token = mint(IDP_1_PEM, None, &valid("bob"));
    let (status, _, body) =
        send(client().get(&url).header("authorization", format!("Bearer id_token=\"{token}\""))).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "bob"));

    let expired = mint(IDP_1_PEM, None, &json!({"sub": "b", "exp": now() - 60}));
    let forged = mint(IDP_2_PEM, None, &valid("admin"));
    let cases = [
        (None, "Oauth found no authorization header."),
        (Some(format!("Bearer {token}")), "Oauth authorization header format error."),
        (Some("Bearer id_token=\"\"".to_owned()), "Oauth miss Oauth id_token."),
        (Some(format!("Bearer id_token=\"{expired}\"")), "Oauth id_token verify error."),
        (
            Some(format!("Bearer id_token=\"{forged}\"")),
            "Oauth signature cannot be verified, a validate authorization header is required.",
        ),
    ];
    for (header, message) in cases {
        let mut req = client().get(&url);
        if let Some(header) = header {
            req = req.header("authorization", header);
        }
        let (status, headers, body) = send(req).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{message}");
        assert_eq!(headers["content-type"], "application/json");
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body, json!({"message": message}));
    }
}

#[tokio::test]
async fn the_jwt_plugin_replaces_openid_connect() {
    let (addr, _) = start().await;
    let url = format!("http://{addr}/both");
    // the JWT plug-in's key (idp-2) is the one that counts
    let jwt = mint(IDP_2_PEM, Some("idp-2"), &valid("carol"));
    let (status, _, body) = send(client().get(&url).header("token", jwt)).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "carol"));
    let oidc = mint(IDP_1_PEM, Some("idp-1"), &valid("carol"));
    let (status, headers, _) = send(client().get(&url).header("token", oidc)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "the OpenID Connect key is not used");
    assert!(!headers["x-ca-error-message"].to_str().unwrap().contains("OpenID Connect"));
}

#[tokio::test]
async fn tencent_s_authorization_api_checks_nothing() {
    let (addr, _) = start().await;
    let (status, _, _) = send(client().get(format!("http://{addr}/login"))).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_jwt_plugin_with_keys_from_a_jwks_url_follows_rotation() {
    let (addr, jwks) = start().await;
    let url = format!("http://{addr}/rotating");
    let first = mint(IDP_1_PEM, Some("idp-1"), &valid("dave"));
    let (status, _, body) = send(client().get(&url).header("authorization", format!("Bearer {first}"))).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "dave"));

    let rotated = mint(IDP_2_PEM, Some("idp-2"), &valid("dave"));
    let (status, _, _) = send(client().get(&url).header("authorization", format!("Bearer {rotated}"))).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "idp-2 is not published yet");
    *jwks.lock().unwrap() = format!("{{\"keys\": [{IDP_1_JWK}, {IDP_2_JWK}]}}");
    let (status, _, body) = send(client().get(&url).header("authorization", format!("Bearer {rotated}"))).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "dave"));
}

#[tokio::test]
async fn a_reload_while_the_jwks_server_fails_keeps_tokens_working() {
    let (jwks, jwks_addr) = jwks_server(&[IDP_1_JWK]).await;
    let text = config(&format!("http://{jwks_addr}/jwks"));
    let layer = Gateway::from_config(&text, Format::Json).unwrap().into_layer();
    let handle = layer.reload_handle();
    let app = Router::new().route("/rotating", get(|| async { "handler" })).layer(layer);
    let addr = serve(app).await;
    let token = mint(IDP_1_PEM, Some("idp-1"), &valid("frank"));
    let call =
        || send(client().get(format!("http://{addr}/rotating")).header("authorization", format!("Bearer {token}")));
    assert_eq!(call().await.0, StatusCode::OK);

    // the provider breaks, then the file is reloaded (as after an edit elsewhere in it): the
    // new configuration's key set fails its first fetch and serves the keys last fetched
    *jwks.lock().unwrap() = "not a key set".into();
    handle.reload_from(&text, Format::Json).unwrap();
    let (status, _, body) = call().await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "handler"));
    let forged = mint(IDP_2_PEM, Some("idp-1"), &valid("frank"));
    let (status, _, _) =
        send(client().get(format!("http://{addr}/rotating")).header("authorization", format!("Bearer {forged}"))).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "the kept keys still verify: another key's signature fails");
}

#[tokio::test]
async fn a_jwks_url_with_nothing_behind_it_is_a_503() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead = listener.local_addr().unwrap();
    drop(listener);
    let gateway = Gateway::from_config(&config(&format!("http://{dead}/jwks")), Format::Json).unwrap();
    let app = Router::new().route("/rotating", get(|| async { "handler" })).layer(gateway.into_layer());
    let addr = serve(app).await;
    let token = mint(IDP_1_PEM, Some("idp-1"), &valid("erin"));
    let (status, headers, _) =
        send(client().get(format!("http://{addr}/rotating")).header("authorization", format!("Bearer {token}"))).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(headers["x-ca-error-message"], "JWT keys unavailable");

    // the same with problem+json, whose body carries the code naming the cause
    let config =
        config(&format!("http://{dead}/jwks")).replacen("{\"apis\"", "{\"error_style\": \"problem_json\", \"apis\"", 1);
    let gateway = Gateway::from_config(&config, Format::Json).unwrap();
    let app = Router::new().route("/rotating", get(|| async { "handler" })).layer(gateway.into_layer());
    let addr = serve(app).await;
    let (status, _, body) =
        send(client().get(format!("http://{addr}/rotating")).header("authorization", format!("Bearer {token}"))).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["code"], "JwksUnavailable.Connect", "{body}");
}

#[test]
fn configuration_errors_name_the_field() {
    let err = |api: Value| Gateway::from_config(&json!({"apis": [api]}).to_string(), Format::Json).unwrap_err();
    let e = err(json!({"path": "/a", "openid_connect": {"IdTokenParamName": "token", "PublicKey": IDP_1_JWK}}));
    assert_eq!(e.field, "apis[0].openid_connect.PublicKeyId");
    let e = err(json!({"path": "/a", "AuthType": "OAUTH", "OauthConfig": {"PublicKey": "{\"kty\": \"RSA\"}"}}));
    assert!(e.field.starts_with("apis[0].OauthConfig.PublicKey"), "{e}");
    let e = err(json!({"path": "/a", "AuthType": "OAUTH"}));
    assert_eq!(e.field, "apis[0].OauthConfig");
    let e = err(json!({"path": "/a", "OauthConfig": {"PublicKey": tencent_key(IDP_1_JWK)}}));
    assert_eq!(e.field, "apis[0].AuthType");
    let e = err(json!({
        "path": "/a", "AuthType": "OAUTH", "OauthConfig": {"PublicKey": tencent_key(IDP_1_JWK)},
        "jwt": {"parameter": "token", "parameterLocation": "header", "jwk": serde_json::from_str::<Value>(IDP_1_JWK).unwrap()},
    }));
    assert_eq!(e.field, "apis[0]");
    let e = err(json!({"path": "/a", "jwt": {"parameter": "Authorization", "jwksUrl": "http://idp.example.com/jwks"}}));
    assert_eq!(e.field, "apis[0].jwt.jwksUrl");
}

/// Aliyun's "OpenID Connect & app": a `signature` block beside `openid_connect` needs both
/// the app's signature and the ID token (`oneshot`: the signature is computed on the request
/// as built).
#[tokio::test]
async fn openid_connect_and_app_needs_both() {
    use std::convert::Infallible;
    use std::time::SystemTime;

    use axum::body::Body;
    use bytes::Bytes;
    use http::{Request, Response};
    use tollgate::PeerAddr;
    use tollgate::signature::{aliyun_apigw::AliyunApiGateway, sign_request};
    use tower::{Layer, ServiceExt, service_fn};

    let config = json!({
        "error_style": "aliyun_api_gateway",
        "apis": [{
            "path": "/orders",
            "signature": {"scheme": "aliyun-apigw", "keys": {"203467890": "s3cret"}},
            "openid_connect": {"IdTokenParamName": "token", "PublicKeyId": "idp-1", "PublicKey": IDP_1_JWK},
        }],
    });
    let svc = Gateway::from_config(&config.to_string(), Format::Json)
        .unwrap()
        .into_layer()
        .layer(service_fn(|_req: Request<Body>| async { Ok::<_, Infallible>(Response::new(Body::from("handler"))) }));
    let request = |token: Option<&str>, signed: bool| {
        let mut req = Request::get("http://api.example.com/orders");
        if let Some(token) = token {
            req = req.header("token", token);
        }
        let req = req.body(Bytes::new()).unwrap();
        let req = if signed {
            sign_request(&AliyunApiGateway::new(), req, "203467890", &"s3cret".into(), SystemTime::now()).unwrap()
        } else {
            req
        };
        let mut req = req.map(Body::from);
        req.extensions_mut().insert(PeerAddr("127.0.0.1:40000".parse().unwrap()));
        req
    };
    let token = mint(IDP_1_PEM, Some("idp-1"), &valid("frank"));
    let status = |req| {
        let svc = svc.clone();
        async move {
            let resp = svc.oneshot(req).await.unwrap();
            let message = resp.headers().get("x-ca-error-message").map(|v| v.to_str().unwrap().to_owned());
            (resp.status().as_u16(), message.unwrap_or_default())
        }
    };
    assert_eq!(status(request(Some(&token), true)).await.0, 200);
    let (code, message) = status(request(None, true)).await;
    assert_eq!((code, message.as_str()), (401, "OpenId Connect Verify Fail, IdToken Not Exist"));
    let (code, message) = status(request(Some(&token), false)).await;
    assert!(code == 400 || code == 401, "{code}");
    assert!(!message.contains("OpenI"), "the signature refuses first: {message}");
}
