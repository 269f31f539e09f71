//! Aliyun's API-level OpenID Connect and Tencent's OAuth 2.0 business APIs through the token
//! layer: tokens minted with the fixture keys, each refusal with the cloud's exact words.

mod common;

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use tollgate_core::{Caller, Claims, RequestBody};
use tollgate_token::aliyun_oidc::{AliyunOidc, OpenIdConnectConfig};
use tollgate_token::tencent_oauth::{OauthConfig, TencentOauth};
use tollgate_token::{KeySource, RemoteKeySet, TokenLayer};
use tower::{ServiceBuilder, ServiceExt, service_fn};

use common::{b64, forge, now};

const IDP_1_PEM: &[u8] = include_bytes!("fixtures/clouds/idp-1.pem");
const IDP_2_PEM: &[u8] = include_bytes!("fixtures/clouds/idp-2.pem");
const IDP_1_JWK: &str = include_str!("fixtures/clouds/idp-1.jwk.json");
const IDP_2_JWK: &str = include_str!("fixtures/clouds/idp-2.jwk.json");
const DAY: u64 = 86_400;

fn idp_key(pem: &[u8]) -> EncodingKey {
    EncodingKey::from_rsa_pem(pem).unwrap()
}

/// An RS256 token signed with `pem`, naming `kid`.
fn mint(pem: &[u8], kid: Option<&str>, claims: &Value) -> String {
    mint_alg(Algorithm::RS256, pem, kid, claims)
}

fn mint_alg(alg: Algorithm, pem: &[u8], kid: Option<&str>, claims: &Value) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, &idp_key(pem)).unwrap()
}

fn claims_exp(exp: u64) -> Value {
    json!({"sub": "user-7", "aud": "group-1", "exp": exp, "iat": now()})
}

fn valid_claims() -> Value {
    claims_exp(now() + 3600)
}

/// HS256 over the token with the RSA public key's text as the secret: the alg-confusion
/// forgery.
fn hs256_with_public_key(kid: &str, secret: &[u8]) -> String {
    let key = EncodingKey::from_secret(secret).unwrap();
    forge(&json!({"alg": "HS256", "typ": "JWT", "kid": kid}), &valid_claims(), Some((Algorithm::HS256, &key)))
}

fn alg_none(kid: &str) -> String {
    forge(&json!({"alg": "none", "typ": "JWT", "kid": kid}), &valid_claims(), None)
}

/// A valid token whose payload was changed after signing.
fn tampered(kid: &str) -> String {
    let token = mint(IDP_1_PEM, Some(kid), &valid_claims());
    let mut parts: Vec<&str> = token.split('.').collect();
    let mut forged = valid_claims();
    forged["sub"] = json!("admin");
    let payload = b64(forged.to_string().as_bytes());
    parts[1] = &payload;
    parts.join(".")
}

struct Answer {
    status: StatusCode,
    headers: http::HeaderMap,
    body: String,
}

/// The layer over a handler that answers with the caller and the `sub` claim it sees.
async fn call(layer: &TokenLayer, request: Request<Full<Bytes>>) -> Answer {
    let svc = ServiceBuilder::new().layer(layer.clone()).service(service_fn(
        |req: Request<RequestBody<Full<Bytes>>>| async move {
            let caller = req.extensions().get::<Caller>().map(|c| c.key_id().to_owned()).unwrap_or_default();
            let sub = Claims::from_extensions(req.extensions()).and_then(|c| c.text("sub").map(|s| s.into_owned()));
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(format!(
                "caller={caller} sub={}",
                sub.unwrap_or_default()
            )))))
        },
    ));
    let resp = svc.oneshot(request).await.unwrap();
    let (parts, body) = resp.into_parts();
    let body = String::from_utf8(body.collect().await.unwrap().to_bytes().to_vec()).unwrap();
    Answer { status: parts.status, headers: parts.headers, body }
}

fn get(headers: &[(&str, &str)]) -> Request<Full<Bytes>> {
    let mut req = Request::builder().uri("/orders?x=1");
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    req.body(Full::new(Bytes::new())).unwrap()
}

// --- Aliyun OpenID Connect ---

fn oidc_config() -> OpenIdConnectConfig {
    serde_json::from_value(json!({
        "OpenIdApiType": "BUSINESS",
        "IdTokenParamName": "token",
        "PublicKeyId": "idp-1",
        "PublicKey": IDP_1_JWK,
    }))
    .unwrap()
}

fn oidc() -> TokenLayer {
    AliyunOidc::layer(&oidc_config()).unwrap()
}

async fn oidc_message(token: &str) -> (StatusCode, String) {
    let a = call(&oidc(), get(&[("token", token)])).await;
    let message = a.headers.get("x-ca-error-message").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    (a.status, message)
}

#[tokio::test]
async fn oidc_a_valid_id_token_passes_with_its_subject() {
    let a = call(&oidc(), get(&[("token", &mint(IDP_1_PEM, Some("idp-1"), &valid_claims()))])).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.body, "caller=user-7 sub=user-7");
    // at the edge of the 7 days
    let (status, _) = oidc_message(&mint(IDP_1_PEM, Some("idp-1"), &claims_exp(now() + 7 * DAY - 60))).await;
    assert_eq!(status, StatusCode::OK);
    // the habit of a Bearer word is tolerated
    let bearer = format!("Bearer {}", mint(IDP_1_PEM, Some("idp-1"), &valid_claims()));
    assert_eq!(call(&oidc(), get(&[("token", &bearer)])).await.status, StatusCode::OK);
}

#[tokio::test]
async fn oidc_refusals_are_401_with_aliyun_s_texts() {
    let fail = "OpenID Connect Verify Fail: ";
    let cases: Vec<(&str, String, String)> = vec![
        ("expired", mint(IDP_1_PEM, Some("idp-1"), &claims_exp(now() - 3600)), format!("{fail}239, idToken expired")),
        (
            "exp missing",
            mint(IDP_1_PEM, Some("idp-1"), &json!({"sub": "user-7"})),
            format!("{fail}239, Parse payload to JwtClaims exception"),
        ),
        (
            "exp 8 days ahead",
            mint(IDP_1_PEM, Some("idp-1"), &claims_exp(now() + 8 * DAY)),
            format!("{fail}239, Parse payload to JwtClaims exception"),
        ),
        (
            "not yet valid",
            mint(IDP_1_PEM, Some("idp-1"), &json!({"sub": "u", "exp": now() + 3600, "nbf": now() + 600})),
            format!("{fail}239, Parse payload to JwtClaims exception"),
        ),
        ("wrong kid", mint(IDP_2_PEM, Some("idp-2"), &valid_claims()), format!("{fail}243, Not found by keyId:idp-2")),
        ("no kid", mint(IDP_1_PEM, None, &valid_claims()), format!("{fail}243, Not found by keyId:")),
        ("wrong key", mint(IDP_2_PEM, Some("idp-1"), &valid_claims()), format!("{fail}237, Verify signature failed")),
        ("tampered", tampered("idp-1"), format!("{fail}237, Verify signature failed")),
        ("alg none", alg_none("idp-1"), format!("{fail}JWS set Public-Key exception")),
        (
            "HS256 with the public JWK",
            hs256_with_public_key("idp-1", IDP_1_JWK.as_bytes()),
            format!("{fail}JWS set Public-Key exception"),
        ),
        (
            "RS384 with the right key",
            mint_alg(Algorithm::RS384, IDP_1_PEM, Some("idp-1"), &valid_claims()),
            format!("{fail}JWS set Public-Key exception"),
        ),
        (
            "PS256 with the right key",
            mint_alg(Algorithm::PS256, IDP_1_PEM, Some("idp-1"), &valid_claims()),
            format!("{fail}JWS set Public-Key exception"),
        ),
        ("not a JWT", "abc.def".to_owned(), format!("{fail}238, JWS get payload exception")),
        (
            "payload not JSON",
            {
                let key = idp_key(IDP_1_PEM);
                let head = b64(json!({"alg": "RS256", "kid": "idp-1"}).to_string().as_bytes());
                let body = b64(b"not json");
                let sig =
                    jsonwebtoken::crypto::sign(format!("{head}.{body}").as_bytes(), &key, Algorithm::RS256).unwrap();
                format!("{head}.{body}.{sig}")
            },
            format!("{fail}239, Parse payload to JwtClaims exception"),
        ),
    ];
    for (name, token, expected) in cases {
        let (status, message) = oidc_message(&token).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{name}");
        assert_eq!(message, expected, "{name}");
    }
}

#[tokio::test]
async fn oidc_no_token_and_two_tokens() {
    let a = call(&oidc(), get(&[])).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(a.headers["x-ca-error-message"], "OpenId Connect Verify Fail, IdToken Not Exist");
    assert!(a.headers.contains_key("x-ca-request-id"));
    assert_eq!(a.body, "", "the Aliyun style answers with headers only");

    let token = mint(IDP_1_PEM, Some("idp-1"), &valid_claims());
    let a = call(&oidc(), get(&[("token", &token), ("token", &token)])).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(a.headers["x-ca-error-message"], "OpenID Connect Verify Fail: 238, JWS get payload exception");
}

#[tokio::test]
async fn oidc_token_in_the_query() {
    let mut config = oidc_config();
    config.id_token_param_location = Some("QUERY".into());
    let layer = AliyunOidc::layer(&config).unwrap();
    let token = mint(IDP_1_PEM, Some("idp-1"), &valid_claims());
    let req = Request::builder().uri(format!("/orders?token={token}")).body(Full::new(Bytes::new())).unwrap();
    assert_eq!(call(&layer, req).await.status, StatusCode::OK);
    // the header is not read then
    let a = call(&layer, get(&[("token", &token)])).await;
    assert_eq!(a.headers["x-ca-error-message"], "OpenId Connect Verify Fail, IdToken Not Exist");
}

// --- Tencent OAuth 2.0 ---

/// Tencent's `PublicKey` as its console shows it: `e`, `kty`, `n`, no `kid`.
fn tencent_public_key(jwk: &str) -> String {
    let jwk: Value = serde_json::from_str(jwk).unwrap();
    json!({"e": jwk["e"], "kty": "RSA", "n": jwk["n"]}).to_string()
}

fn oauth_config() -> OauthConfig {
    serde_json::from_value(json!({
        "PublicKey": tencent_public_key(IDP_1_JWK),
        "TokenLocation": "method.req.header.authorization",
    }))
    .unwrap()
}

fn oauth() -> TokenLayer {
    TencentOauth::layer(&oauth_config()).unwrap()
}

fn id_token_header(token: &str) -> String {
    format!("Bearer id_token=\"{token}\"")
}

async fn oauth_answer(layer: &TokenLayer, headers: &[(&str, &str)]) -> (StatusCode, String) {
    let a = call(layer, get(headers)).await;
    if a.status == StatusCode::OK {
        return (a.status, a.body);
    }
    assert_eq!(a.headers["content-type"], "application/json");
    let body: Value = serde_json::from_str(&a.body).unwrap();
    (a.status, body["message"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn oauth_a_valid_id_token_passes() {
    let token = mint(IDP_1_PEM, None, &valid_claims());
    let (status, body) = oauth_answer(&oauth(), &[("authorization", &id_token_header(&token))]).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "caller=user-7 sub=user-7"));
    // a kid is not needed, nor refused (the configured key has none)
    let token = mint(IDP_1_PEM, Some("any"), &valid_claims());
    let (status, _) = oauth_answer(&oauth(), &[("authorization", &id_token_header(&token))]).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn oauth_refusals_are_401_with_tencent_s_messages() {
    let signature = "Oauth signature cannot be verified, a validate authorization header is required.";
    let verify = "Oauth id_token verify error.";
    let format = "Oauth authorization header format error.";
    let good = mint(IDP_1_PEM, None, &valid_claims());
    type Case<'a> = (&'a str, Vec<(&'a str, String)>, &'a str);
    let cases: Vec<Case> = vec![
        ("no header", vec![], "Oauth found no authorization header."),
        ("plain Bearer", vec![("authorization", format!("Bearer {good}"))], format),
        ("Basic", vec![("authorization", "Basic dXNlcjpwYXNz".into())], format),
        ("empty id_token", vec![("authorization", "Bearer id_token=\"\"".into())], "Oauth miss Oauth id_token."),
        ("a second parameter", vec![("authorization", format!("{}, scope=\"x\"", id_token_header(&good)))], format),
        (
            "two headers",
            vec![("authorization", id_token_header(&good)), ("authorization", id_token_header(&good))],
            format,
        ),
        ("expired", vec![("authorization", id_token_header(&mint(IDP_1_PEM, None, &claims_exp(now() - 60))))], verify),
        (
            "not yet valid",
            vec![(
                "authorization",
                id_token_header(&mint(IDP_1_PEM, None, &json!({"sub": "u", "exp": now() + 3600, "nbf": now() + 600}))),
            )],
            verify,
        ),
        ("wrong key", vec![("authorization", id_token_header(&mint(IDP_2_PEM, None, &valid_claims())))], signature),
        ("tampered", vec![("authorization", id_token_header(&tampered("idp-1")))], signature),
        ("alg none", vec![("authorization", id_token_header(&alg_none("idp-1")))], verify),
        (
            "HS256 with the public key",
            vec![(
                "authorization",
                id_token_header(&hs256_with_public_key("idp-1", tencent_public_key(IDP_1_JWK).as_bytes())),
            )],
            verify,
        ),
        (
            "RS512 with the right key",
            vec![("authorization", id_token_header(&mint_alg(Algorithm::RS512, IDP_1_PEM, None, &valid_claims())))],
            verify,
        ),
        ("not a JWT", vec![("authorization", id_token_header("abc.def.ghi"))], verify),
    ];
    for (name, headers, expected) in cases {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let (status, message) = oauth_answer(&oauth(), &headers).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{name}");
        assert_eq!(message, expected, "{name}");
    }
}

#[tokio::test]
async fn oauth_token_in_the_id_token_cookie() {
    let layer = TencentOauth::layer(&OauthConfig::new(tencent_public_key(IDP_1_JWK)).in_cookie()).unwrap();
    let token = mint(IDP_1_PEM, None, &valid_claims());
    let (status, _) = oauth_answer(&layer, &[("cookie", &format!("lang=zh; id_token={token}"))]).await;
    assert_eq!(status, StatusCode::OK);
    let (status, message) = oauth_answer(&layer, &[("cookie", "lang=zh")]).await;
    assert_eq!((status, message.as_str()), (StatusCode::UNAUTHORIZED, "Oauth found no id_token."));
    let (_, message) = oauth_answer(&layer, &[]).await;
    assert_eq!(message, "Oauth found no id_token.");
    // the Authorization header is not read with the cookie location
    let (_, message) = oauth_answer(&layer, &[("authorization", &id_token_header(&token))]).await;
    assert_eq!(message, "Oauth found no id_token.");
    // two cookies of the name: which one the backend reads is not known
    let (status, _) = oauth_answer(&layer, &[("cookie", &format!("id_token={token}; id_token=x.y.z"))]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn oauth_login_redirect_for_browsers_without_a_token() {
    let config = OauthConfig::new(tencent_public_key(IDP_1_JWK)).login_redirect_url("https://login.example.com/sso");
    let layer = TencentOauth::layer(&config).unwrap();
    let browser = ("accept", "text/html,application/xhtml+xml,*/*;q=0.8");
    let a = call(&layer, get(&[browser])).await;
    assert_eq!(a.status, StatusCode::FOUND);
    assert_eq!(a.headers["location"], "https://login.example.com/sso");
    // an API client gets the refusal
    let (status, message) = oauth_answer(&layer, &[("accept", "application/json")]).await;
    assert_eq!((status, message.as_str()), (StatusCode::UNAUTHORIZED, "Oauth found no authorization header."));
    // a browser with a bad token is told so, not sent round the login page
    let stale = id_token_header(&mint(IDP_1_PEM, None, &claims_exp(now() - 60)));
    let (status, _) = oauth_answer(&layer, &[browser, ("authorization", &stale)]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // and a browser with a good one passes
    let good = id_token_header(&mint(IDP_1_PEM, None, &valid_claims()));
    assert_eq!(call(&layer, get(&[browser, ("authorization", &good)])).await.status, StatusCode::OK);
}

// --- keys from a JWKS URL, through a profile ---

#[tokio::test]
async fn a_key_rotated_in_at_the_jwks_url_is_used_after_one_refetch() {
    use std::sync::{Arc, Mutex};
    let body = Arc::new(Mutex::new(format!("{{\"keys\": [{IDP_1_JWK}]}}")));
    let served = body.clone();
    let app = axum::Router::new().route(
        "/jwks",
        axum::routing::get(move || {
            let served = served.clone();
            async move { served.lock().unwrap().clone() }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let remote = RemoteKeySet::new(&format!("http://{addr}/jwks")).unwrap().refetch_interval(Duration::ZERO);
    let (profile, verifier, _) = TencentOauth::from_config(&oauth_config()).unwrap();
    let layer = TokenLayer::new(profile, KeySource::remote(remote), verifier);

    let first = id_token_header(&mint(IDP_1_PEM, Some("idp-1"), &valid_claims()));
    assert_eq!(oauth_answer(&layer, &[("authorization", &first)]).await.0, StatusCode::OK);
    let rotated = id_token_header(&mint(IDP_2_PEM, Some("idp-2"), &valid_claims()));
    let (status, message) = oauth_answer(&layer, &[("authorization", &rotated)]).await;
    assert_eq!(
        (status, message.as_str()),
        (StatusCode::UNAUTHORIZED, "Oauth id_token verify error."),
        "not published yet"
    );

    *body.lock().unwrap() = format!("{{\"keys\": [{IDP_1_JWK}, {IDP_2_JWK}]}}");
    assert_eq!(oauth_answer(&layer, &[("authorization", &rotated)]).await.0, StatusCode::OK);
    assert_eq!(oauth_answer(&layer, &[("authorization", &first)]).await.0, StatusCode::OK);
}

#[tokio::test]
async fn no_keys_at_all_is_a_503_naming_the_cause() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let remote = RemoteKeySet::new(&format!("http://{addr}/jwks")).unwrap();
    let (profile, verifier, _) = AliyunOidc::from_config(&oidc_config()).unwrap();
    let layer = TokenLayer::new(profile, KeySource::remote(remote), verifier);
    let a = call(&layer, get(&[("token", &mint(IDP_1_PEM, Some("idp-1"), &valid_claims()))])).await;
    assert_eq!(a.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(a.headers["x-ca-error-message"].to_str().unwrap().starts_with("token verification keys are unavailable"));
}
