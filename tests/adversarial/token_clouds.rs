//! Adversarial tests: Aliyun OpenID Connect, Tencent OAuth 2.0 and keys from a JWKS URL. What
//! a client sends so that the profile reads one token and the backend another (two headers,
//! a second `id_token`, two cookies), forges that a lenient verifier would take (alg
//! confusion, `none`, a `kid` of its choosing), and floods that would make the gateway
//! hammer the identity provider.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::body::Body;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use tollgate::token::aliyun_oidc::{AliyunOidc, OpenIdConnectConfig};
use tollgate::token::tencent_oauth::{OauthConfig, TencentOauth};
use tollgate::token::{KeySource, RemoteKeySet, TokenLayer};
use tower::{Layer, ServiceExt, service_fn};

const IDP_1_PEM: &[u8] = include_bytes!("../../crates/tollgate-token/tests/fixtures/clouds/idp-1.pem");
const IDP_2_PEM: &[u8] = include_bytes!("../../crates/tollgate-token/tests/fixtures/clouds/idp-2.pem");
const IDP_1_JWK: &str = include_str!("../../crates/tollgate-token/tests/fixtures/clouds/idp-1.jwk.json");
const IDP_1_PUB_PEM: &str = include_str!("../../crates/tollgate-token/tests/fixtures/clouds/idp-1.pub.pem");

fn now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

fn claims(sub: &str) -> Value {
    json!({"sub": sub, "exp": now() + 3600})
}

fn mint(pem: &[u8], kid: Option<&str>, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_rsa_pem(pem).unwrap()).unwrap()
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A token with our own header, signed HS256 with `secret` (or unsigned with `None`).
fn forge(header: &Value, claims: &Value, secret: Option<&[u8]>) -> String {
    let message = format!("{}.{}", b64(header.to_string().as_bytes()), b64(claims.to_string().as_bytes()));
    let sig = match secret {
        Some(s) => {
            jsonwebtoken::crypto::sign(message.as_bytes(), &EncodingKey::from_secret(s).unwrap(), Algorithm::HS256)
                .unwrap()
        }
        None => String::new(),
    };
    format!("{message}.{sig}")
}

/// Status, the refusal's message (Aliyun header or Tencent JSON), and what the handler saw.
async fn call(layer: &TokenLayer, req: Request<Body>) -> (StatusCode, String) {
    let handler = service_fn(|req: Request<_>| async move {
        let caller = req.extensions().get::<tollgate::Caller>().map(|c| c.key_id().to_owned()).unwrap_or_default();
        Ok::<_, Infallible>(Response::new(Body::from(format!("handler saw {caller}"))))
    });
    let resp = layer.layer(handler).oneshot(req).await.unwrap();
    let status = resp.status();
    let aliyun = resp.headers().get("x-ca-error-message").map(|v| v.to_str().unwrap().to_owned());
    let body = String::from_utf8(resp.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
    let message = match aliyun {
        Some(m) => m,
        None if status != StatusCode::OK => serde_json::from_str::<Value>(&body)
            .ok()
            .and_then(|v| v["message"].as_str().map(str::to_owned))
            .unwrap_or(body),
        None => body,
    };
    (status, message)
}

fn request(headers: &[(&str, &str)]) -> Request<Body> {
    let mut req = Request::get("/api");
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    req.body(Body::empty()).unwrap()
}

fn oidc() -> TokenLayer {
    AliyunOidc::layer(&OpenIdConnectConfig::business("token", "idp-1", Value::String(IDP_1_JWK.into()))).unwrap()
}

fn oauth() -> TokenLayer {
    TencentOauth::layer(&OauthConfig::new(IDP_1_JWK)).unwrap()
}

fn oauth_cookie() -> TokenLayer {
    TencentOauth::layer(&OauthConfig::new(IDP_1_JWK).in_cookie()).unwrap()
}

/// The classic confusion: HS256 "signed" with the RSA public key, in each form an attacker
/// can fetch it (the JWK text, the PEM, the modulus bytes). No profile turns a public key
/// into an HMAC secret.
#[tokio::test]
async fn hs256_signed_with_the_public_key_is_refused() {
    let jwk: Value = serde_json::from_str(IDP_1_JWK).unwrap();
    let n = URL_SAFE_NO_PAD.decode(jwk["n"].as_str().unwrap()).unwrap();
    let secrets: [&[u8]; 3] = [IDP_1_JWK.as_bytes(), IDP_1_PUB_PEM.as_bytes(), &n];
    for secret in secrets {
        let token = forge(&json!({"alg": "HS256", "kid": "idp-1"}), &claims("admin"), Some(secret));
        let (status, message) = call(&oidc(), request(&[("token", &token)])).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(message, "OpenID Connect Verify Fail: JWS set Public-Key exception");
        let header = format!("Bearer id_token=\"{token}\"");
        let (status, message) = call(&oauth(), request(&[("authorization", &header)])).await;
        assert_eq!((status, message.as_str()), (StatusCode::UNAUTHORIZED, "Oauth id_token verify error."));
    }
}

/// `alg: none` in every spelling, with and without a trailing signature.
#[tokio::test]
async fn alg_none_in_any_case_is_refused() {
    for alg in ["none", "None", "NONE", "nOnE", ""] {
        for sig in ["", "AAAA"] {
            let token = format!("{}{sig}", forge(&json!({"alg": alg, "kid": "idp-1"}), &claims("admin"), None));
            let (status, _) = call(&oidc(), request(&[("token", &token)])).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{alg:?}");
            let header = format!("Bearer id_token=\"{token}\"");
            let (status, _) = call(&oauth(), request(&[("authorization", &header)])).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{alg:?}");
        }
    }
}

/// A `kid` the attacker chose: path tricks, a NUL, the key id with decorations, a JSON
/// value. Only the exact `PublicKeyId` names the key; the echo of the `kid` in the refusal
/// is bounded and cannot split the header.
#[tokio::test]
async fn a_kid_of_the_attacker_s_choosing_finds_no_key() {
    let long = "k".repeat(10_000);
    for kid in ["../idp-1", "idp-1\0", "idp-1 ", " idp-1", "IDP-1", "idp-1\r\nX-Injected: 1", long.as_str()] {
        let token = mint(IDP_1_PEM, Some(kid), &claims("admin"));
        let (status, message) = call(&oidc(), request(&[("token", &token)])).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{kid:?}");
        assert!(message.starts_with("OpenID Connect Verify Fail: 243, Not found by keyId:"), "{kid:?}: {message}");
        assert!(!message.contains('\n') && !message.contains('\r') && message.len() < 200, "{message:?}");
    }
    // a kid that is not text at all
    for kid in [json!(1), json!(["idp-1"]), json!({"kid": "idp-1"})] {
        let header = json!({"alg": "RS256", "kid": kid});
        let message = format!("{}.{}", b64(header.to_string().as_bytes()), b64(claims("admin").to_string().as_bytes()));
        let key = EncodingKey::from_rsa_pem(IDP_1_PEM).unwrap();
        let sig = jsonwebtoken::crypto::sign(message.as_bytes(), &key, Algorithm::RS256).unwrap();
        let (status, _) = call(&oidc(), request(&[("token", &format!("{message}.{sig}"))])).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{kid}");
    }
}

/// Two places the backend might read: two `Authorization` headers, a second `id_token`
/// in one header, two OIDC token headers. Neither copy is judged; the request is refused.
#[tokio::test]
async fn a_second_token_beside_a_valid_one_is_refused() {
    let good = mint(IDP_1_PEM, Some("idp-1"), &claims("alice"));
    let forged = mint(IDP_2_PEM, Some("idp-1"), &claims("admin"));
    for (first, second) in [(&good, &forged), (&forged, &good)] {
        let (status, message) = call(
            &oauth(),
            request(&[
                ("authorization", &format!("Bearer id_token=\"{first}\"")),
                ("authorization", &format!("Bearer id_token=\"{second}\"")),
            ]),
        )
        .await;
        assert_eq!((status, message.as_str()), (StatusCode::UNAUTHORIZED, "Oauth authorization header format error."));
        let both = format!("Bearer id_token=\"{first}\", id_token=\"{second}\"");
        let (status, _) = call(&oauth(), request(&[("authorization", &both)])).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let (status, _) = call(&oidc(), request(&[("token", first), ("token", second)])).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
}

/// Cookies: two `id_token`s (in one `Cookie` header or two) are refused; a look-alike name
/// (`ID_TOKEN`, `id_token_`, `xid_token`) is not the cookie, as for the backend.
#[tokio::test]
async fn cookie_copies_and_look_alikes() {
    let good = mint(IDP_1_PEM, None, &claims("alice"));
    let forged = mint(IDP_2_PEM, None, &claims("admin"));
    for cookies in [
        vec![format!("id_token={good}; id_token={forged}")],
        vec![format!("id_token={forged}; id_token={good}")],
        vec![format!("id_token={good}"), format!("id_token={forged}")],
    ] {
        let headers: Vec<(&str, &str)> = cookies.iter().map(|c| ("cookie", c.as_str())).collect();
        let (status, _) = call(&oauth_cookie(), request(&headers)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{cookies:?}");
    }
    for look_alike in ["ID_TOKEN", "id_token_", "xid_token", "id-token"] {
        let cookie = format!("{look_alike}={good}");
        let (status, message) = call(&oauth_cookie(), request(&[("cookie", &cookie)])).await;
        assert_eq!((status, message.as_str()), (StatusCode::UNAUTHORIZED, "Oauth found no id_token."), "{look_alike}");
    }
    // the real one beside a look-alike forged one: the real one is what the backend reads too
    let cookie = format!("ID_TOKEN={forged}; id_token={good}");
    let (status, body) = call(&oauth_cookie(), request(&[("cookie", &cookie)])).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "handler saw alice"));
}

/// Headers that are not text, or huge: a refusal, never a panic or a slow parse.
#[tokio::test]
async fn hostile_header_values() {
    let huge = format!("Bearer id_token=\"{}\"", "a".repeat(200_000));
    let (status, message) = call(&oauth(), request(&[("authorization", &huge)])).await;
    assert_eq!((status, message.as_str()), (StatusCode::UNAUTHORIZED, "Oauth id_token verify error."));
    let mut req = request(&[]);
    req.headers_mut().insert("authorization", http::HeaderValue::from_bytes(b"Bearer id_token=\"\xff\xfe\"").unwrap());
    let (status, message) = call(&oauth(), req).await;
    assert_eq!((status, message.as_str()), (StatusCode::UNAUTHORIZED, "Oauth authorization header format error."));
    let (status, _) = call(&oidc(), request(&[("token", &"a.".repeat(50_000))])).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

/// `exp` in shapes a loose parser would misread: text, a fraction, negative, past u64, far
/// ahead. OpenID Connect requires a number within 7 days.
#[tokio::test]
async fn exp_in_odd_shapes_is_refused_by_oidc() {
    for exp in
        [json!("9999999999"), json!(1e20), json!(-1), json!(u64::MAX), json!(18446744073709551616.0), json!(null)]
    {
        let token = mint(IDP_1_PEM, Some("idp-1"), &json!({"sub": "admin", "exp": exp}));
        let (status, message) = call(&oidc(), request(&[("token", &token)])).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{exp}");
        assert!(message.starts_with("OpenID Connect Verify Fail: 239"), "{exp}: {message}");
    }
}

/// A client sending tokens with ever new `kid`s cannot make the gateway fetch the JWKS more
/// than once per refetch interval, however many and however concurrent.
#[tokio::test]
async fn a_flood_of_unknown_kids_does_not_hammer_the_jwks_server() {
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    let jwks = format!("{{\"keys\": [{IDP_1_JWK}]}}");
    let app = axum::Router::new().route(
        "/jwks",
        axum::routing::get(move || {
            counted.fetch_add(1, Ordering::SeqCst);
            let jwks = jwks.clone();
            async move { jwks }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let remote = RemoteKeySet::new(&format!("http://{addr}/jwks")).unwrap().refetch_interval(Duration::from_secs(60));
    let (profile, verifier, _) = TencentOauth::from_config(&OauthConfig::new(IDP_1_JWK)).unwrap();
    let layer = TokenLayer::new(profile, KeySource::remote(remote), verifier);
    let good = format!("Bearer id_token=\"{}\"", mint(IDP_1_PEM, Some("idp-1"), &claims("alice")));
    assert_eq!(call(&layer, request(&[("authorization", &good)])).await.0, StatusCode::OK);

    let flood: Vec<_> = (0..48)
        .map(|i| {
            let layer = layer.clone();
            let token = format!("Bearer id_token=\"{}\"", mint(IDP_2_PEM, Some(&format!("kid-{i}")), &claims("admin")));
            tokio::spawn(async move { call(&layer, request(&[("authorization", &token)])).await.0 })
        })
        .collect();
    for task in flood {
        assert_eq!(task.await.unwrap(), StatusCode::UNAUTHORIZED);
    }
    assert_eq!(hits.load(Ordering::SeqCst), 1, "the first fetch was just now: no refetch within the interval");
    assert_eq!(call(&layer, request(&[("authorization", &good)])).await.0, StatusCode::OK);
}

/// A JWKS server that publishes a shared secret (compromised, or misconfigured) does not make
/// tokens signed with that secret valid: the document is refused, the cached keys kept.
#[tokio::test]
async fn a_published_hmac_secret_is_not_taken() {
    let secret = b"published-secret-published-secret";
    let body = Arc::new(std::sync::Mutex::new(format!("{{\"keys\": [{IDP_1_JWK}]}}")));
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
    let (profile, verifier, _) = TencentOauth::from_config(&OauthConfig::new(IDP_1_JWK)).unwrap();
    let layer = TokenLayer::new(profile, KeySource::remote(remote), verifier);
    let good = format!("Bearer id_token=\"{}\"", mint(IDP_1_PEM, Some("idp-1"), &claims("alice")));
    assert_eq!(call(&layer, request(&[("authorization", &good)])).await.0, StatusCode::OK);

    *body.lock().unwrap() = format!(
        "{{\"keys\": [{{\"kty\": \"oct\", \"kid\": \"evil\", \"alg\": \"HS256\", \"k\": \"{}\"}}]}}",
        b64(secret)
    );
    let forged = forge(&json!({"alg": "HS256", "kid": "evil"}), &claims("admin"), Some(secret));
    let (status, _) = call(&layer, request(&[("authorization", &format!("Bearer id_token=\"{forged}\""))])).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(call(&layer, request(&[("authorization", &good)])).await.0, StatusCode::OK, "the old key still serves");
}
