//! Aliyun's JWT plug-in (`jwtAuth`) over real HTTP on loopback, through the `Gateway` built
//! from YAML: the plug-in example pasted (with a real key), the `jwtAuth` envelope, every case
//! of the issue's Proof list, claims forwarded and smuggled copies removed, and the claims read
//! by parameter access control (`Token:userId`).

use axum::Router;
use axum::routing::get;
use http::{HeaderMap, Uri};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use tollgate::Caller;
use tollgate::gateway::{Format, Gateway};

#[path = "support/http.rs"]
mod http_support;
use http_support::serve;

/// auth.md §1's example, verbatim; its `n` is a placeholder the tests fill with a fixture key.
const SPEC: &str = include_str!("fixtures/cloud-plugins/aliyun-jwt-auth.yaml");
const JWKS: &str = include_str!("../crates/tollgate-token/tests/fixtures/jwks.json");
const RSA_PEM: &[u8] = include_bytes!("../crates/tollgate-token/tests/fixtures/rsa2048.pem");
const EC_PEM: &[u8] = include_bytes!("../crates/tollgate-token/tests/fixtures/ec256.pem");
const PYJWT: &str = include_str!("../crates/tollgate-token/tests/fixtures/pyjwt-vectors.json");

fn rsa_n() -> String {
    let jwks: Value = serde_json::from_str(JWKS).unwrap();
    jwks["keys"][0]["n"].as_str().unwrap().to_owned()
}

fn plugin(replay: bool) -> String {
    SPEC.replace("<base64url modulus>", &rsa_n())
        .replace("preventJtiReplay: false", &format!("preventJtiReplay: {replay}"))
}

fn now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

fn mint(alg: Algorithm, kid: &str, claims: &Value) -> String {
    let key = match alg {
        Algorithm::ES256 => EncodingKey::from_ec_pem(EC_PEM).unwrap(),
        _ => EncodingKey::from_rsa_pem(RSA_PEM).unwrap(),
    };
    let mut header = Header::new(alg);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, claims, &key).unwrap()
}

fn claims(jti: &str) -> Value {
    json!({"sub": "user-42", "userId": "u-1001", "aud": "orders-app", "exp": now() + 600, "jti": jti})
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A handler that answers with what it saw.
async fn echo(caller: Option<Caller>, headers: HeaderMap, uri: Uri) -> axum::Json<Value> {
    let aud: Vec<&str> = headers.get_all("x-aud").iter().map(|v| v.to_str().unwrap()).collect();
    axum::Json(json!({
        "caller": caller.map(|c| c.key_id().to_owned()),
        "x_aud": aud,
        "x_aud_underscore": headers.contains_key("x_aud"),
        "query": uri.query(),
    }))
}

async fn start(yaml: &str) -> String {
    let gateway = Gateway::from_config(yaml, Format::Yaml).unwrap();
    let app = Router::new().route("/orders", get(echo)).route("/users/{userId}", get(echo)).layer(gateway.into_layer());
    format!("http://{}", serve(app).await)
}

fn indented(text: &str, by: usize) -> String {
    text.trim_start_matches("---\n").lines().map(|l| format!("{}{l}\n", " ".repeat(by))).collect()
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

async fn fetch(url: &str, token: Option<&str>) -> (u16, String, Value) {
    let mut req = client().get(url).header("x-aud", "smuggled").header("x_aud", "smuggled");
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let message = resp.headers().get("x-ca-error-message").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    let body = resp.json().await.unwrap_or(Value::Null);
    (status, message, body)
}

#[tokio::test]
async fn the_proof_list_over_http() {
    let yaml = format!("apis:\n  - path: /orders\n    jwt:\n{}", indented(&plugin(true), 6));
    let base = start(&yaml).await;
    let url = format!("{base}/orders?userId=smuggled&USERID=again&page=1");

    // valid: claims forwarded, every smuggled copy removed, the caller named by `sub`
    let token = mint(Algorithm::RS256, "key-1", &claims("j-1"));
    let (status, _, seen) = fetch(&url, Some(&token)).await;
    assert_eq!(status, 200);
    assert_eq!(seen["caller"], "user-42");
    assert_eq!(seen["x_aud"], json!(["orders-app"]));
    assert_eq!(seen["x_aud_underscore"], false);
    assert_eq!(seen["query"], "page=1&userId=u-1001");
    // replayed jti
    let (status, message, _) = fetch(&url, Some(&token)).await;
    assert_eq!((status, message.as_str()), (403, "Invalid JWT: jti replayed"));
    // expired
    let exp = now() - 60;
    let (status, message, _) =
        fetch(&url, Some(&mint(Algorithm::RS256, "key-1", &json!({"exp": exp, "jti": "j-2"})))).await;
    assert_eq!(status, 403);
    assert!(message.starts_with("JWT is expired at "), "{message}");
    // not yet valid
    let early = json!({"nbf": now() + 600, "jti": "j-3"});
    assert_eq!(fetch(&url, Some(&mint(Algorithm::RS256, "key-1", &early))).await.0, 403);
    // wrong key (the EC key under the RSA key's kid), unknown kid, wrong alg
    assert_eq!(fetch(&url, Some(&mint(Algorithm::ES256, "key-1", &claims("j-4")))).await.0, 403);
    let (status, message, _) = fetch(&url, Some(&mint(Algorithm::RS256, "key-2", &claims("j-5")))).await;
    assert_eq!((status, message.as_str()), (403, "no matching JWK"));
    let (status, message, _) = fetch(&url, Some(&mint(Algorithm::PS256, "key-1", &claims("j-6")))).await;
    assert_eq!((status, message.as_str()), (403, "Invalid JWT: algorithm \"PS256\" not allowed"));
    // alg none
    let none = format!("{}.{}.", b64(br#"{"alg":"none","kid":"key-1"}"#), b64(claims("j-7").to_string().as_bytes()));
    let (status, message, _) = fetch(&url, Some(&none)).await;
    assert_eq!((status, message.as_str()), (403, "Invalid JWT: algorithm \"none\" not allowed"));
    // tampered payload
    let token = mint(Algorithm::RS256, "key-1", &claims("j-8"));
    let parts: Vec<&str> = token.split('.').collect();
    let mut evil = claims("j-8");
    evil["sub"] = json!("admin");
    let tampered = format!("{}.{}.{}", parts[0], b64(evil.to_string().as_bytes()), parts[2]);
    let (status, message, _) = fetch(&url, Some(&tampered)).await;
    assert_eq!((status, message.as_str()), (403, "Invalid JWT: signature verification failed"));
    // missing
    let (status, message, _) = fetch(&url, None).await;
    assert_eq!((status, message.as_str()), (400, "JWT required"));
}

#[tokio::test]
async fn the_jwt_auth_envelope_and_a_pyjwt_token() {
    let vectors: Value = serde_json::from_str(PYJWT).unwrap();
    let data = format!("jwks: {}", JWKS.replace('\n', " "));
    let yaml = format!(
        "apis:\n  - path: /orders\n    plugins:\n      - PluginType: jwtAuth\n        PluginData: '{}'\n",
        data.replace('\'', "''")
    );
    let base = start(&yaml).await;
    let token = vectors["tokens"]["ES256"].as_str().unwrap();
    let (status, _, seen) = fetch(&format!("{base}/orders"), Some(token)).await;
    assert_eq!(status, 200);
    assert_eq!(seen["caller"], "user-42");
    // no claim parameters configured: the client's header passes as sent
    assert_eq!(seen["x_aud"], json!(["smuggled"]));
    assert_eq!(fetch(&format!("{base}/orders"), None).await.0, 400);
}

#[tokio::test]
async fn claims_feed_parameter_access_control() {
    let access = "parameters:\n  userId: \"Token:userId\"\n  pathUserId: \"Parameter:userId\"\nrules:\n  - name: own\n    condition: \"$userId = $pathUserId\"\n    ifFalse: \"DENY\"\n    statusCode: 403\n    errorMessage: \"not yours\"\n";
    let yaml = format!(
        "apis:\n  - path: /users/{{userId}}\n    jwt:\n{}    access_control:\n{}",
        indented(&plugin(false), 6),
        indented(access, 6)
    );
    let base = start(&yaml).await;
    let token = mint(Algorithm::RS256, "key-1", &claims("a-1"));
    assert_eq!(fetch(&format!("{base}/users/u-1001"), Some(&token)).await.0, 200);
    let (status, message, _) = fetch(&format!("{base}/users/u-2"), Some(&token)).await;
    assert_eq!((status, message.as_str()), (403, "not yours"));
}

#[test]
fn a_bad_jwt_block_names_its_field() {
    let yaml = format!("apis:\n  - path: /orders\n    jwt:\n{}", indented(SPEC, 6));
    let e = Gateway::from_config(&yaml, Format::Yaml).unwrap_err();
    assert_eq!(e.field, "apis[0].jwt.jwk.n", "{e}");
    let yaml = "apis:\n  - path: /orders\n    plugins:\n      - PluginType: jwtAuth\n        PluginData: 'parameter: Authorization'\n";
    let e = Gateway::from_config(yaml, Format::Yaml).unwrap_err();
    assert!(e.field.starts_with("apis[0]") && e.field.ends_with("jwk"), "{e}");
}
