//! The layer through `oneshot`: the plug-in verbatim, every field, every refusal of the
//! issue's Proof list.

mod common;

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use common::*;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use jsonwebtoken::Algorithm;
use serde_json::{Value, json};
use tollgate_core::{Caller, Claims, ErrorStyle, MemoryNonceStore, NonceStore, PathParams, StoreError};
use tollgate_token::{JwtAuthConfig, TokenLayer};
use tower::{ServiceBuilder, ServiceExt, service_fn};

/// auth.md §1's example, verbatim (its `n` is a placeholder).
const SPEC: &str = include_str!("../../../tests/fixtures/cloud-plugins/aliyun-jwt-auth.yaml");

/// The example with the fixture RSA key's modulus in place of the placeholder.
fn spec_with_key() -> String {
    SPEC.replace("<base64url modulus>", jwk("rsa-1")["n"].as_str().unwrap())
}

type Svc =
    tower::util::BoxCloneService<Request<Full<Bytes>>, Response<tollgate_core::ResponseBody<String>>, Infallible>;

fn service(layer: TokenLayer) -> Svc {
    let svc = ServiceBuilder::new().layer(layer).service(service_fn(|req: Request<tollgate_core::RequestBody<Full<Bytes>>>| async move {
        let (parts, body) = req.into_parts();
        let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
        let path: Vec<(String, String)> = parts
            .extensions
            .get::<PathParams>()
            .map(|p| p.iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect())
            .unwrap_or_default();
        let headers: Vec<(String, String)> =
            parts.headers.iter().map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("?").to_owned())).collect();
        let seen = json!({
            "caller": Caller::from_extensions(&parts.extensions).map(|c| c.key_id().to_owned()),
            "claims": Claims::from_extensions(&parts.extensions).map(|c| json!({"sub": c.get("sub"), "userId": c.get("userId")})),
            "headers": headers,
            "query": parts.uri.query(),
            "path": path,
            "body": String::from_utf8_lossy(&body),
        });
        Ok::<_, Infallible>(Response::new(seen.to_string()))
    }));
    tower::util::BoxCloneService::new(svc)
}

async fn call(svc: &Svc, req: Request<Full<Bytes>>) -> (StatusCode, String, Value) {
    let resp = svc.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let message = resp.headers().get("x-ca-error-message").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    let seen = if status == StatusCode::OK { serde_json::from_slice(&body).unwrap() } else { Value::Null };
    (status, message, seen)
}

fn get(uri: &str, token: Option<&str>) -> Request<Full<Bytes>> {
    let mut b = Request::get(uri);
    if let Some(t) = token {
        b = b.header("authorization", format!("Bearer {t}"));
    }
    b.body(Full::default()).unwrap()
}

fn header(seen: &Value, name: &str) -> Vec<String> {
    seen["headers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h[0] == name)
        .map(|h| h[1].as_str().unwrap().to_owned())
        .collect()
}

fn rs256_key1(claims: &Value) -> String {
    mint_kid(Algorithm::RS256, Some("key-1"), claims)
}

#[tokio::test]
async fn the_spec_example_verbatim_names_its_placeholder() {
    let err = TokenLayer::from_plugin(SPEC).unwrap_err();
    assert_eq!(err.field, "jwk.n");
    assert!(err.problem.contains("base64url"), "{err}");
}

#[tokio::test]
async fn the_spec_example_with_a_key_forwards_its_claims() {
    let svc = service(TokenLayer::from_plugin(&spec_with_key()).unwrap());
    let mut c = claims();
    c["aud"] = json!("tollgate-tests");
    let token = rs256_key1(&c);
    let req = Request::get("/orders?userId=smuggled&USERID=again&page=2")
        .header("authorization", format!("Bearer {token}"))
        .header("x-aud", "smuggled")
        .header("x_aud", "smuggled")
        .body(Full::default())
        .unwrap();
    let (status, _, seen) = call(&svc, req).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(seen["caller"], "user-42");
    assert_eq!(seen["claims"]["userId"], "u-1001");
    assert_eq!(header(&seen, "x-aud"), ["tollgate-tests"]);
    assert!(header(&seen, "x_aud").is_empty());
    assert_eq!(seen["query"], "page=2&userId=u-1001");
}

#[tokio::test]
async fn the_proof_list_in_process() {
    let svc = service(TokenLayer::from_plugin(&spec_with_key()).unwrap());
    // valid
    assert_eq!(call(&svc, get("/", Some(&rs256_key1(&claims())))).await.0, StatusCode::OK);
    // expired
    let exp = now() - 60;
    let (status, message, _) = call(&svc, get("/", Some(&rs256_key1(&json!({"sub": "a", "exp": exp}))))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(message.starts_with("JWT is expired at 20"), "{message}");
    // not yet valid
    let (status, message, _) = call(&svc, get("/", Some(&rs256_key1(&json!({"sub": "a", "nbf": now() + 600}))))).await;
    assert_eq!((status, message.starts_with("Invalid JWT: not valid before")), (StatusCode::FORBIDDEN, true));
    // wrong key: the EC key's token under kid key-1
    let token = mint_kid(Algorithm::ES256, Some("key-1"), &claims());
    assert_eq!(call(&svc, get("/", Some(&token))).await.0, StatusCode::FORBIDDEN);
    // another RSA key (PS256 is not the key's alg either): signed by nobody we know
    let (status, message, _) = call(&svc, get("/", Some(&mint_kid(Algorithm::RS256, Some("key-9"), &claims())))).await;
    assert_eq!((status, message.as_str()), (StatusCode::FORBIDDEN, "no matching JWK"));
    // wrong alg
    let (status, message, _) = call(&svc, get("/", Some(&mint_kid(Algorithm::PS256, Some("key-1"), &claims())))).await;
    assert_eq!((status, message.as_str()), (StatusCode::FORBIDDEN, "Invalid JWT: algorithm \"PS256\" not allowed"));
    // alg none
    let none = forge(&json!({"alg": "none", "kid": "key-1"}), &claims(), None);
    let (status, message, _) = call(&svc, get("/", Some(&none))).await;
    assert_eq!((status, message.as_str()), (StatusCode::FORBIDDEN, "Invalid JWT: algorithm \"none\" not allowed"));
    // tampered payload
    let token = rs256_key1(&claims());
    let mut parts: Vec<&str> = token.split('.').collect();
    let mut payload = claims();
    payload["sub"] = json!("admin");
    let forged = b64(payload.to_string().as_bytes());
    parts[1] = &forged;
    let (status, message, _) = call(&svc, get("/", Some(&parts.join(".")))).await;
    assert_eq!((status, message.as_str()), (StatusCode::FORBIDDEN, "Invalid JWT: signature verification failed"));
    // undecodable
    let (status, message, _) = call(&svc, get("/", Some("abc.def"))).await;
    assert_eq!((status, message.as_str()), (StatusCode::BAD_REQUEST, "deserialize failed"));
    // missing
    let (status, message, _) = call(&svc, get("/", None)).await;
    assert_eq!((status, message.as_str()), (StatusCode::BAD_REQUEST, "JWT required"));
}

#[tokio::test]
async fn pyjwt_tokens_pass_the_layer() {
    let vectors: Value = serde_json::from_str(PYJWT).unwrap();
    let config = JwtAuthConfig::new(jwks());
    let svc = service(TokenLayer::from_config(&config).unwrap());
    for alg in ["RS256", "ES256", "ES384", "EdDSA"] {
        let token = vectors["tokens"][alg].as_str().unwrap();
        let (status, _, seen) = call(&svc, get("/", Some(token))).await;
        assert_eq!(status, StatusCode::OK, "{alg}");
        assert_eq!(seen["caller"], "user-42");
    }
}

#[tokio::test]
async fn token_without_bearer_in_query_and_in_cookie() {
    let token = mint(Algorithm::ES256, &claims());
    let svc = service(TokenLayer::from_config(&JwtAuthConfig::new(jwks())).unwrap());
    let req = Request::get("/").header("authorization", &token).body(Full::default()).unwrap();
    assert_eq!(call(&svc, req).await.0, StatusCode::OK);
    let req = Request::get("/").header("authorization", format!("bearer  {token}")).body(Full::default()).unwrap();
    assert_eq!(call(&svc, req).await.0, StatusCode::OK);

    let empty = JwtAuthConfig::from_plugin("parameter: token\nparameterLocation: query\njwks: []").unwrap_err();
    assert_eq!(empty.field, "jwks");
    let config =
        JwtAuthConfig::from_plugin(&format!("parameter: token\nparameterLocation: query\njwks: {JWKS}")).unwrap();
    let svc = service(TokenLayer::from_config(&config).unwrap());
    assert_eq!(call(&svc, get(&format!("/?token={token}"), None)).await.0, StatusCode::OK);
    assert_eq!(call(&svc, get(&format!("/?token={token}&token={token}"), None)).await.0, StatusCode::BAD_REQUEST);
    // the header is not where this configuration reads
    assert_eq!(call(&svc, get("/", Some(&token))).await.0, StatusCode::BAD_REQUEST);

    let config =
        JwtAuthConfig::from_plugin(&format!("parameter: jwt\nparameterLocation: cookie\njwks: {JWKS}")).unwrap();
    let svc = service(TokenLayer::from_config(&config).unwrap());
    let req = Request::get("/").header("cookie", format!("a=1; jwt={token}; b=2")).body(Full::default()).unwrap();
    assert_eq!(call(&svc, req).await.0, StatusCode::OK);
    let req = Request::get("/")
        .header("cookie", format!("jwt={token}"))
        .header("cookie", "jwt=x")
        .body(Full::default())
        .unwrap();
    assert_eq!(call(&svc, req).await.0, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn bypass_empty_token_still_removes_copies_and_refuses_bad_tokens() {
    let text = spec_with_key().replace("bypassEmptyToken: false", "bypassEmptyToken: true");
    let svc = service(TokenLayer::from_plugin(&text).unwrap());
    let req = Request::get("/?userId=smuggled&a=1").header("x-aud", "smuggled").body(Full::default()).unwrap();
    let (status, _, seen) = call(&svc, req).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(seen["caller"], Value::Null);
    assert_eq!(seen["claims"], Value::Null);
    assert!(header(&seen, "x-aud").is_empty());
    assert_eq!(seen["query"], "a=1");
    // an empty Authorization is no token
    assert_eq!(call(&svc, get("/", Some(""))).await.0, StatusCode::OK);
    // a bad token is not "empty"
    assert_eq!(call(&svc, get("/", Some("x.y.z"))).await.0, StatusCode::BAD_REQUEST);
    let old = rs256_key1(&json!({"sub": "a", "exp": now() - 10}));
    assert_eq!(call(&svc, get("/", Some(&old))).await.0, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn ignore_expiration_check_and_leeway() {
    let old = rs256_key1(&json!({"sub": "a", "exp": now() - 100}));
    let text = spec_with_key().replace("ignoreExpirationCheck: false", "ignoreExpirationCheck: true");
    let svc = service(TokenLayer::from_plugin(&text).unwrap());
    assert_eq!(call(&svc, get("/", Some(&old))).await.0, StatusCode::OK);
    let svc = service(TokenLayer::from_plugin(&format!("{}\nleeway: 300", spec_with_key())).unwrap());
    assert_eq!(call(&svc, get("/", Some(&old))).await.0, StatusCode::OK);
    let svc = service(TokenLayer::from_plugin(&format!("{}\nleeway: 30", spec_with_key())).unwrap());
    assert_eq!(call(&svc, get("/", Some(&old))).await.0, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn prevent_jti_replay() {
    let text = spec_with_key().replace("preventJtiReplay: false", "preventJtiReplay: true");
    let svc = service(TokenLayer::from_plugin(&text).unwrap());
    let token = rs256_key1(&claims());
    assert_eq!(call(&svc, get("/", Some(&token))).await.0, StatusCode::OK);
    let (status, message, _) = call(&svc, get("/", Some(&token))).await;
    assert_eq!((status, message.as_str()), (StatusCode::FORBIDDEN, "Invalid JWT: jti replayed"));
    // another token, another jti
    assert_eq!(call(&svc, get("/", Some(&rs256_key1(&claims())))).await.0, StatusCode::OK);
    // no jti at all
    let (status, message, _) = call(&svc, get("/", Some(&rs256_key1(&json!({"sub": "a", "exp": now() + 60}))))).await;
    assert_eq!((status, message.as_str()), (StatusCode::FORBIDDEN, "Invalid JWT: claim \"jti\" missing"));
}

/// A store that must be awaited (as Redis is), counting its questions.
#[derive(Clone, Default)]
struct SlowStore {
    inner: MemoryNonceStore,
    asked: Arc<AtomicUsize>,
    ttls: Arc<std::sync::Mutex<Vec<Duration>>>,
    down: bool,
}

impl NonceStore for SlowStore {
    type Future = Pin<Box<dyn Future<Output = Result<bool, StoreError>> + Send>>;

    fn insert_if_absent(&self, tenant: &str, nonce: &str, ttl: Duration) -> Self::Future {
        self.asked.fetch_add(1, Ordering::SeqCst);
        self.ttls.lock().unwrap().push(ttl);
        if self.down {
            return Box::pin(async { Err(StoreError::Unavailable("connection refused".into())) });
        }
        let answer = self.inner.insert_if_absent_at_once(tenant, nonce, ttl).unwrap();
        Box::pin(async move {
            tokio::task::yield_now().await;
            answer
        })
    }
}

#[tokio::test]
async fn a_store_that_waits_and_one_that_is_down() {
    let store = SlowStore::default();
    let config = JwtAuthConfig::from_plugin(&spec_with_key()).unwrap();
    let svc = service(TokenLayer::from_config(&config).unwrap().jti_store(store.clone()));
    let exp = now() + 3600;
    let mut c = claims();
    c["exp"] = json!(exp);
    let token = rs256_key1(&c);
    assert_eq!(call(&svc, get("/", Some(&token))).await.0, StatusCode::OK);
    assert_eq!(call(&svc, get("/", Some(&token))).await.0, StatusCode::FORBIDDEN);
    assert_eq!(store.asked.load(Ordering::SeqCst), 2);
    // the nonce lives until the token's exp
    let ttl = store.ttls.lock().unwrap()[0].as_secs();
    assert!((3590..=3600).contains(&ttl), "{ttl}");

    let down = SlowStore { down: true, ..SlowStore::default() };
    let svc = service(TokenLayer::from_config(&config).unwrap().jti_store(down));
    let (status, message, _) = call(&svc, get("/", Some(&rs256_key1(&claims())))).await;
    assert_eq!((status, message.as_str()), (StatusCode::SERVICE_UNAVAILABLE, "JWT replay store unavailable"));
}

#[tokio::test]
async fn claims_forwarded_to_path_and_form() {
    let text = format!(
        "{}\nclaimParameters:\n  - {{claimName: userId, parameterName: uid, location: path}}\n  - {{claimName: sub, parameterName: owner, location: formData}}\njwks: {JWKS}",
        "parameter: Authorization"
    );
    let svc = service(TokenLayer::from_plugin(&text).unwrap());
    let token = mint(Algorithm::EdDSA, &claims());
    let mut req = Request::post("/")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("content-length", "27")
        .body(Full::from("a=1&OWNER=evil&owner[]=evil"))
        .unwrap();
    req.extensions_mut().insert([("uid", "evil")].into_iter().collect::<PathParams>());
    let (status, _, seen) = call(&svc, req).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(seen["body"], "a=1&owner=user-42");
    assert_eq!(header(&seen, "content-length"), ["17"]);
    assert_eq!(seen["path"], json!([["uid", "u-1001"]]));
    // multipart cannot carry a form claim: refused
    let req = Request::post("/")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "multipart/form-data; boundary=x")
        .body(Full::from("--x--"))
        .unwrap();
    assert_eq!(call(&svc, req).await.0, StatusCode::FORBIDDEN);
    // JSON is not a form: passes as it is
    let req = Request::post("/")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(Full::from(r#"{"owner":"x"}"#))
        .unwrap();
    let (status, _, seen) = call(&svc, req).await;
    assert_eq!((status, seen["body"].as_str()), (StatusCode::OK, Some(r#"{"owner":"x"}"#)));
}

#[tokio::test]
async fn caller_claim_and_error_style() {
    let text = format!("callerClaim: userId\njwks: {JWKS}");
    let svc = service(TokenLayer::from_plugin(&text).unwrap());
    let (_, _, seen) = call(&svc, get("/", Some(&mint(Algorithm::ES384, &claims())))).await;
    assert_eq!(seen["caller"], "u-1001");
    // no such claim: no caller, still authenticated
    let (_, _, seen) = call(&svc, get("/", Some(&mint(Algorithm::ES384, &json!({"sub": "x"}))))).await;
    assert_eq!((seen["caller"].clone(), seen["claims"]["sub"].clone()), (Value::Null, json!("x")));

    let layer = TokenLayer::from_plugin(&format!("jwks: {JWKS}")).unwrap().error_style(ErrorStyle::ProblemJson);
    let resp = ServiceBuilder::new()
        .layer(layer)
        .service(service_fn(|_req: Request<tollgate_core::RequestBody<Full<Bytes>>>| async {
            Ok::<_, Infallible>(Response::new(String::new()))
        }))
        .oneshot(get("/", None))
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(resp.headers()["content-type"], "application/problem+json");
}

#[test]
fn configuration_errors_name_the_field() {
    let field = |text: &str| JwtAuthConfig::from_plugin(text).unwrap_err().field;
    assert_eq!(
        field(&format!("jwks: {JWKS}\nclaimParameters:\n  - {{claimName: a, parameterName: b, location: body}}")),
        "claimParameters[0].location"
    );
    assert_eq!(field(&format!("jwks: {JWKS}\nignoreExpirationChek: true")), "ignoreExpirationChek");
    assert_eq!(field(&format!("jwks: {JWKS}\njwk: {JWKS}")), "jwks");
    assert_eq!(field("parameter: Authorization"), "jwk");
    assert_eq!(field(&format!("jwks: {JWKS}\nparameterLocation: body")), "parameterLocation");
    assert_eq!(field(&format!("jwks: {JWKS}\nalgorithms: [HS256]")), "algorithms");
    assert_eq!(field(&format!("jwks: {JWKS}\nalgorithms: [none]")), "algorithms[0]");
    assert_eq!(
        field(&format!(
            "jwks: {JWKS}\nclaimParameters:\n  - {{claimName: a, parameterName: X-A, location: header}}\n  - {{claimName: b, parameterName: x_a, location: header}}"
        )),
        "claimParameters[1].parameterName"
    );
    assert_eq!(
        field(&format!("jwks: {JWKS}\nclaimParameters:\n  - {{claimName: a, parameterName: Host, location: header}}")),
        "claimParameters[0].parameterName"
    );
    assert_eq!(field("jwk: {kty: oct, k: c2VjcmV0}"), "jwk.alg");
}

/// A signature verified outside (here a layer that plays one) named the app: it stays the
/// caller, and the token's claims are still there.
#[tokio::test]
async fn a_signatures_caller_is_kept() {
    let layer = TokenLayer::from_plugin(&format!("jwks: {JWKS}")).unwrap();
    let inner = ServiceBuilder::new().layer(layer).service(service_fn(
        |req: Request<tollgate_core::RequestBody<Full<Bytes>>>| async move {
            let caller = Caller::from_extensions(req.extensions()).map(|c| c.key_id().to_owned()).unwrap_or_default();
            let sub = Claims::from_extensions(req.extensions())
                .and_then(|c| c.text("sub").map(|s| s.into_owned()))
                .unwrap_or_default();
            Ok::<_, Infallible>(Response::new(format!("{caller} {sub}")))
        },
    ));
    let signed = service_fn(move |mut req: Request<Full<Bytes>>| {
        req.extensions_mut().insert(Caller::new("203753741"));
        inner.clone().oneshot(req)
    });
    let resp = signed.oneshot(get("/", Some(&mint(Algorithm::RS256, &claims())))).await.unwrap();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body, "203753741 user-42");
}
