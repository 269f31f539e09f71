//! Adversarial tests: the token policy (Aliyun's `jwtAuth`). What a client sends so that the
//! policy verifies one thing and the handler reads another, or so that a token verifies that
//! should not: algorithm confusion, `none`, keys named by the token, `kid` tricks, two
//! tokens, claim parameters smuggled under other spellings, tokens too large to parse cheaply.

use std::convert::Infallible;

use axum::body::Body;
use http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use tollgate::token::TokenLayer;
use tollgate::{Caller, TokenClaims};
use tower::{Layer, ServiceExt, service_fn};

const JWKS: &str = include_str!("../../crates/tollgate-token/tests/fixtures/jwks.json");
const RSA_PEM: &[u8] = include_bytes!("../../crates/tollgate-token/tests/fixtures/rsa2048.pem");
const RSA_PUB_PEM: &[u8] = include_bytes!("../../crates/tollgate-token/tests/fixtures/rsa2048.pub.pem");
const EC_PEM: &[u8] = include_bytes!("../../crates/tollgate-token/tests/fixtures/ec256.pem");

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

fn claims() -> Value {
    json!({"sub": "user-42", "userId": "u-1001", "exp": now() + 600})
}

fn rs256(kid: &str, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_rsa_pem(RSA_PEM).unwrap()).unwrap()
}

/// A token of our own header and payload, signed with `key` under `alg` (or unsigned).
fn forge(header: &Value, payload: &Value, sign: Option<(Algorithm, &EncodingKey)>) -> String {
    let message = format!("{}.{}", b64(header.to_string().as_bytes()), b64(payload.to_string().as_bytes()));
    let sig =
        sign.map(|(alg, key)| jsonwebtoken::crypto::sign(message.as_bytes(), key, alg).unwrap()).unwrap_or_default();
    format!("{message}.{sig}")
}

fn layer(extra: &str) -> TokenLayer {
    TokenLayer::from_plugin(&format!("jwks: {}\n{extra}", JWKS.replace('\n', " "))).unwrap()
}

/// Claim parameters in every place, for the smuggling tests.
const FORWARD: &str = "claimParameters:
  - {claimName: userId, parameterName: X-User-Id, location: header}
  - {claimName: userId, parameterName: userId, location: query}
  - {claimName: sub, parameterName: owner, location: formData}";

/// Status, the refusal's message, and what the handler saw (caller, the `x-user-id` headers,
/// the query, the body).
async fn call(layer: &TokenLayer, req: Request<Body>) -> (StatusCode, String, Value) {
    let handler = service_fn(|req: Request<tollgate::RequestBody<Body>>| async move {
        let (parts, body) = req.into_parts();
        let body = body.collect().await.unwrap().to_bytes();
        let ids: Vec<String> = parts
            .headers
            .iter()
            .filter(|(k, _)| k.as_str().replace('_', "-") == "x-user-id")
            .map(|(_, v)| v.to_str().unwrap().to_owned())
            .collect();
        let seen = json!({
            "caller": Caller::from_extensions(&parts.extensions).map(|c| c.key_id().to_owned()),
            "sub": TokenClaims::from_extensions(&parts.extensions).and_then(|c| c.text("sub").map(|s| s.into_owned())),
            "ids": ids,
            "query": parts.uri.query(),
            "body": String::from_utf8_lossy(&body),
        });
        Ok::<_, Infallible>(Response::new(Body::from(seen.to_string())))
    });
    let resp = layer.layer(handler).oneshot(req).await.unwrap();
    let status = resp.status();
    let message = resp.headers().get("x-ca-error-message").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    let seen = if status == StatusCode::OK { serde_json::from_slice(&body).unwrap() } else { Value::Null };
    (status, message, seen)
}

fn bearer(token: &str) -> Request<Body> {
    Request::get("/").header("authorization", format!("Bearer {token}")).body(Body::empty()).unwrap()
}

/// HS256 with the RSA public key as the HMAC secret (the PEM, its DER-ish modulus, the JWK
/// text): the classic confusion. No HMAC key exists, so the token's `alg` cannot make one.
#[tokio::test]
async fn hs256_signed_with_the_public_key() {
    let layer = layer("");
    let jwks: Value = serde_json::from_str(JWKS).unwrap();
    let n = jwks["keys"][0]["n"].as_str().unwrap().to_owned();
    for secret in [RSA_PUB_PEM.to_vec(), n.into_bytes(), jwks["keys"][0].to_string().into_bytes()] {
        let key = EncodingKey::from_secret(&secret).unwrap();
        for kid in [json!("rsa-1"), Value::Null] {
            let token = forge(&json!({"alg": "HS256", "kid": kid}), &claims(), Some((Algorithm::HS256, &key)));
            let (status, message, _) = call(&layer, bearer(&token)).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{kid}");
            assert_eq!(message, "Invalid JWT: algorithm \"HS256\" not allowed");
        }
    }
}

#[tokio::test]
async fn none_in_every_spelling() {
    let layer = layer("");
    let real = rs256("rsa-1", &claims());
    let real_sig = real.rsplit('.').next().unwrap();
    for alg in ["none", "None", "NONE", "nOnE", "none ", ""] {
        for sig in ["", real_sig] {
            let token = format!(
                "{}.{}",
                forge(&json!({"alg": alg, "kid": "rsa-1"}), &claims(), None).trim_end_matches('.'),
                sig
            );
            let (status, _, _) = call(&layer, bearer(&token)).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{alg:?} {}", sig.len());
        }
    }
    // no alg at all
    let token = forge(&json!({"kid": "rsa-1"}), &claims(), None);
    assert_eq!(call(&layer, bearer(&token)).await.0, StatusCode::BAD_REQUEST);
}

/// A token that brings its own key (`jwk`, `jku`, `x5u`, `x5c` in its header) is verified with
/// the configured keys only.
#[tokio::test]
async fn keys_named_by_the_token_are_never_used() {
    let layer = layer("");
    let attacker = EncodingKey::from_ec_pem(EC_PEM).unwrap();
    let jwks: Value = serde_json::from_str(JWKS).unwrap();
    let own_jwk = jwks["keys"][1].clone(); // the EC key, public half: pretend it is the attacker's
    for extra in [
        json!({"jwk": own_jwk}),
        json!({"jku": "http://127.0.0.1:1/jwks.json"}),
        json!({"x5u": "http://127.0.0.1:1/cert.pem"}),
    ] {
        let mut header = json!({"alg": "ES256", "kid": "rsa-1"});
        header.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        let token = forge(&header, &claims(), Some((Algorithm::ES256, &attacker)));
        assert_eq!(call(&layer, bearer(&token)).await.0, StatusCode::FORBIDDEN, "{extra}");
    }
    // an unknown critical header is refused, not skipped
    let key = EncodingKey::from_rsa_pem(RSA_PEM).unwrap();
    let token = forge(
        &json!({"alg": "RS256", "kid": "rsa-1", "crit": ["exp-policy"], "exp-policy": 1}),
        &claims(),
        Some((Algorithm::RS256, &key)),
    );
    assert_ne!(call(&layer, bearer(&token)).await.0, StatusCode::OK);
}

#[tokio::test]
async fn kid_tricks() {
    let layer = layer("");
    let key = EncodingKey::from_rsa_pem(RSA_PEM).unwrap();
    for kid in [
        json!("../../rsa-1"),
        json!("rsa-1\u{0}"),
        json!("rsa-1 "),
        json!("RSA-1"),
        json!("rsa-1/"),
        json!(""),
        json!(["rsa-1"]),
        json!(1),
    ] {
        let token = forge(&json!({"alg": "RS256", "kid": kid}), &claims(), Some((Algorithm::RS256, &key)));
        let (status, _, _) = call(&layer, bearer(&token)).await;
        assert_ne!(status, StatusCode::OK, "{kid}");
    }
    // the real kid passes: the tricks failed on the kid, not on the signature
    let token = forge(&json!({"alg": "RS256", "kid": "rsa-1"}), &claims(), Some((Algorithm::RS256, &key)));
    assert_eq!(call(&layer, bearer(&token)).await.0, StatusCode::OK);
}

#[tokio::test]
async fn two_tokens() {
    let layer = layer("");
    let good = rs256("rsa-1", &claims());
    let other = rs256("rsa-1", &json!({"sub": "admin", "exp": now() + 600}));
    // two Authorization headers, whichever order: neither is taken
    for (a, b) in [(&good, &other), (&other, &good), (&good, &good)] {
        let req = Request::get("/")
            .header("authorization", format!("Bearer {a}"))
            .header("authorization", format!("Bearer {b}"))
            .body(Body::empty())
            .unwrap();
        let (status, message, _) = call(&layer, req).await;
        assert_eq!(
            (status, message.as_str()),
            (StatusCode::BAD_REQUEST, "Invalid JWT: the token is given more than once")
        );
    }
    // two tokens in one header value
    for value in
        [format!("Bearer {good}, Bearer {other}"), format!("Bearer {good} {other}"), format!("Bearer {good},{other}")]
    {
        let req = Request::get("/").header("authorization", value).body(Body::empty()).unwrap();
        assert_ne!(call(&layer, req).await.0, StatusCode::OK);
    }
    // a token in the header and another in the query: only the configured place is read,
    // and the handler's claims are the header token's
    let req = Request::get(format!("/?Authorization={other}&token={other}"))
        .header("authorization", format!("Bearer {good}"))
        .body(Body::empty())
        .unwrap();
    let (status, _, seen) = call(&layer, req).await;
    assert_eq!((status, seen["sub"].as_str()), (StatusCode::OK, Some("user-42")));
    // configured for the query: two parameters of the name, in any encoding, are refused
    let layer = layer_query();
    for query in [format!("token={good}&token={other}"), format!("token={good}&%74oken={other}")] {
        let req = Request::get(format!("/?{query}")).body(Body::empty()).unwrap();
        assert_eq!(call(&layer, req).await.0, StatusCode::BAD_REQUEST, "{query}");
    }
}

fn layer_query() -> TokenLayer {
    layer("parameter: token\nparameterLocation: query")
}

/// A claim parameter sent by the client under its own name or another spelling a backend
/// folds to it: removed before the handler, with a token and without (bypass).
#[tokio::test]
async fn claim_parameters_smuggled() {
    for bypass in [false, true] {
        let layer = layer(&format!("{FORWARD}\nbypassEmptyToken: {bypass}"));
        let token = rs256("rsa-1", &claims());
        let mut req = Request::post("/?a=1&USERID=x&user%49d=x&userId[]=x&b=2;userid=x&userId%00x=x")
            .header("x-user-id", "x")
            .header("X_USER_ID", "x")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from("c=3&OWNER=x&owner[]=x&own%65r=x&Owner=x"))
            .unwrap();
        if !bypass {
            req.headers_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
        }
        let (status, _, seen) = call(&layer, req).await;
        assert_eq!(status, StatusCode::OK);
        if bypass {
            assert_eq!(seen["ids"], json!([]));
            assert_eq!(seen["query"], "a=1");
            assert_eq!(seen["body"], "c=3");
            assert_eq!(seen["caller"], Value::Null);
        } else {
            assert_eq!(seen["ids"], json!(["u-1001"]));
            assert_eq!(seen["query"], "a=1&userId=u-1001");
            assert_eq!(seen["body"], "c=3&owner=user-42");
        }
    }
}

#[tokio::test]
async fn huge_and_odd_tokens_are_refused_cheaply() {
    let layer = layer("");
    let huge = format!("{}.{}.{}", b64(br#"{"alg":"RS256","kid":"rsa-1"}"#), "A".repeat(1 << 20), "A".repeat(342));
    let started = std::time::Instant::now();
    let (status, message, _) = call(&layer, bearer(&huge)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message.starts_with("deserialize failed: token of 1048"), "{message}");
    assert!(started.elapsed() < std::time::Duration::from_secs(1));
    for odd in [".".repeat(10_000), "a.b.c.d".to_owned(), "..".to_owned(), " . . ".to_owned(), "é.é.é".to_owned()] {
        assert_ne!(call(&layer, bearer(&odd)).await.0, StatusCode::OK, "{odd:.20}");
    }
    // a header that is not visible ASCII
    let req = Request::get("/")
        .header("authorization", http::HeaderValue::from_bytes(b"Bearer \xff\xfe").unwrap())
        .body(Body::empty())
        .unwrap();
    assert_eq!(call(&layer, req).await.0, StatusCode::BAD_REQUEST);
}
