//! Keys and tokens for the tests: the committed fixture keys, tokens minted with the library.
#![allow(dead_code, unreachable_pub)]

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use tollgate_token::KeySet;

pub const RSA_PEM: &[u8] = include_bytes!("../fixtures/rsa2048.pem");
pub const EC256_PEM: &[u8] = include_bytes!("../fixtures/ec256.pem");
pub const EC384_PEM: &[u8] = include_bytes!("../fixtures/ec384.pem");
pub const ED_PEM: &[u8] = include_bytes!("../fixtures/ed25519.pem");
pub const RSA_PUB_PEM: &[u8] = include_bytes!("../fixtures/rsa2048.pub.pem");
pub const JWKS: &str = include_str!("../fixtures/jwks.json");
pub const PYJWT: &str = include_str!("../fixtures/pyjwt-vectors.json");

/// The fixtures' public JWKs (PyJWT's conversion), by kid.
pub fn jwks() -> Value {
    serde_json::from_str(JWKS).unwrap()
}

pub fn jwk(kid: &str) -> Value {
    jwks()["keys"].as_array().unwrap().iter().find(|k| k["kid"] == kid).unwrap().clone()
}

pub fn keyset() -> KeySet {
    KeySet::from_jwk_set(&jwks()).unwrap()
}

pub fn now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

pub fn encoding_key(alg: Algorithm) -> EncodingKey {
    match alg {
        Algorithm::RS256
        | Algorithm::RS384
        | Algorithm::RS512
        | Algorithm::PS256
        | Algorithm::PS384
        | Algorithm::PS512 => EncodingKey::from_rsa_pem(RSA_PEM).unwrap(),
        Algorithm::ES256 => EncodingKey::from_ec_pem(EC256_PEM).unwrap(),
        Algorithm::ES384 => EncodingKey::from_ec_pem(EC384_PEM).unwrap(),
        Algorithm::EdDSA => EncodingKey::from_ed_pem(ED_PEM).unwrap(),
        other => panic!("no fixture key for {other:?}"),
    }
}

pub fn kid_of(alg: Algorithm) -> &'static str {
    match alg {
        Algorithm::ES256 => "ec256-1",
        Algorithm::ES384 => "ec384-1",
        Algorithm::EdDSA => "ed-1",
        _ => "rsa-1",
    }
}

/// A token of `alg` signed with the fixture key, with `claims` and the key's kid.
pub fn mint(alg: Algorithm, claims: &Value) -> String {
    mint_kid(alg, Some(kid_of(alg)), claims)
}

pub fn mint_kid(alg: Algorithm, kid: Option<&str>, claims: &Value) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, &encoding_key(alg)).unwrap()
}

/// Claims valid for an hour.
pub fn claims() -> Value {
    json!({"sub": "user-42", "userId": "u-1001", "aud": "tollgate-tests", "exp": now() + 3600, "jti": uuid()})
}

pub fn uuid() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    format!("jti-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

pub fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A token with a header and payload of our own and the signature of `alg` over them.
pub fn forge(header: &Value, payload: &Value, sign_with: Option<(Algorithm, &EncodingKey)>) -> String {
    let message = format!("{}.{}", b64(header.to_string().as_bytes()), b64(payload.to_string().as_bytes()));
    let sig = match sign_with {
        Some((alg, key)) => jsonwebtoken::crypto::sign(message.as_bytes(), key, alg).unwrap(),
        None => String::new(),
    };
    format!("{message}.{sig}")
}
