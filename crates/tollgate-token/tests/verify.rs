//! The verifier alone: every algorithm, every way a token fails, and PyJWT's tokens.

mod common;

use std::time::Duration;

use common::*;
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{Value, json};
use tollgate_token::{KeySet, TokenError, Verifier};

const ALGS: [Algorithm; 7] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// The fixture keys with no `alg` on the RSA key, so PS256 and RS384/512 verify with it.
fn keys_any_rsa() -> KeySet {
    let mut set = jwks();
    for key in set["keys"].as_array_mut().unwrap() {
        if key["kty"] == "RSA" {
            key.as_object_mut().unwrap().remove("alg");
        }
    }
    KeySet::from_jwk_set(&set).unwrap()
}

#[test]
fn every_algorithm_verifies() {
    let keys = keys_any_rsa();
    for alg in ALGS {
        let token = mint(alg, &claims());
        let verified = Verifier::new().verify(&token, &keys).unwrap_or_else(|e| panic!("{alg:?}: {e}"));
        assert_eq!(verified.claims["sub"], "user-42", "{alg:?}");
    }
}

#[test]
fn pyjwt_tokens_verify() {
    let vectors: Value = serde_json::from_str(PYJWT).unwrap();
    let keys = keys_any_rsa();
    let tokens = vectors["tokens"].as_object().unwrap();
    assert_eq!(tokens.len(), 5);
    for (alg, token) in tokens {
        let verified = Verifier::new().verify(token.as_str().unwrap(), &keys).unwrap_or_else(|e| panic!("{alg}: {e}"));
        assert_eq!(verified.claims["jti"], format!("pyjwt-{alg}"));
        assert_eq!(verified.claims["userId"], "u-1001");
    }
    // with the JWKs as PyJWT wrote them (alg RS256 on the RSA key), its PS256 token is refused
    let ps = tokens["PS256"].as_str().unwrap();
    assert_eq!(Verifier::new().verify(ps, &keyset()).unwrap_err(), TokenError::AlgNotAllowed { alg: "PS256".into() });
}

#[test]
fn expired_and_not_yet_valid() {
    let keys = keyset();
    let exp = now() - 120;
    let token = mint(Algorithm::ES256, &json!({"sub": "a", "exp": exp}));
    assert_eq!(Verifier::new().verify(&token, &keys).unwrap_err(), TokenError::Expired { exp });
    // within the leeway, accepted; ignoring exp, accepted
    assert!(Verifier::new().leeway(Duration::from_secs(300)).verify(&token, &keys).is_ok());
    assert!(Verifier::new().ignore_exp().verify(&token, &keys).is_ok());

    let nbf = now() + 600;
    let token = mint(Algorithm::ES256, &json!({"sub": "a", "nbf": nbf, "exp": nbf + 60}));
    assert_eq!(Verifier::new().verify(&token, &keys).unwrap_err(), TokenError::NotYetValid { nbf });
    assert!(Verifier::new().leeway(Duration::from_secs(900)).verify(&token, &keys).is_ok());
}

#[test]
fn exp_required_and_bounded() {
    let keys = keyset();
    let week = Duration::from_secs(7 * 86_400);
    let no_exp = mint(Algorithm::RS256, &json!({"sub": "a"}));
    assert!(Verifier::new().verify(&no_exp, &keys).is_ok());
    assert_eq!(Verifier::new().require_exp(week).verify(&no_exp, &keys).unwrap_err(), TokenError::MissingClaim("exp"));
    let far = now() + 8 * 86_400;
    let token = mint(Algorithm::RS256, &json!({"sub": "a", "exp": far}));
    assert_eq!(
        Verifier::new().require_exp(week).verify(&token, &keys).unwrap_err(),
        TokenError::ExpTooFar { exp: far, max_ahead: week }
    );
    let near = mint(Algorithm::RS256, &json!({"sub": "a", "exp": now() + 6 * 86_400}));
    assert!(Verifier::new().require_exp(week).verify(&near, &keys).is_ok());
    // require_exp overrides ignore_exp
    let old = mint(Algorithm::RS256, &json!({"sub": "a", "exp": now() - 100}));
    assert_eq!(Verifier::new().ignore_exp().require_exp(week).verify(&old, &keys).unwrap_err().kind(), "expired");
}

#[test]
fn wrong_key_and_tampering() {
    let keys = keyset();
    // signed by the P-384 key but naming the P-256 key's kid: no ES384 on that key
    let token = mint_kid(Algorithm::ES384, Some("ec256-1"), &claims());
    assert_eq!(Verifier::new().verify(&token, &keys).unwrap_err().kind(), "alg_not_allowed");
    // another RSA key of the same alg, same kid
    let other = KeySet::from_jwk_set(&json!({"kty": "RSA", "kid": "rsa-1", "e": "AQAB",
        "n": b64(&[0xc5u8; 256])}))
    .unwrap();
    let token = mint(Algorithm::RS256, &claims());
    assert_eq!(Verifier::new().verify(&token, &other).unwrap_err(), TokenError::BadSignature);
    // a payload changed after signing
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let mut payload = claims();
    payload["sub"] = json!("admin");
    parts[1] = b64(payload.to_string().as_bytes());
    assert_eq!(Verifier::new().verify(&parts.join("."), &keys).unwrap_err(), TokenError::BadSignature);
    // unknown kid, with only named keys
    let token = mint_kid(Algorithm::RS256, Some("rsa-9"), &claims());
    assert_eq!(
        Verifier::new().verify(&token, &keys).unwrap_err(),
        TokenError::NoKeyForKid { kid: Some("rsa-9".into()) }
    );
}

#[test]
fn none_and_unknown_algorithms() {
    let keys = keyset();
    for alg in ["none", "None", "NONE", "HS1", ""] {
        let token = forge(&json!({"alg": alg, "kid": "rsa-1"}), &claims(), None);
        assert_eq!(
            Verifier::new().verify(&token, &keys).unwrap_err(),
            TokenError::AlgNotAllowed { alg: alg.into() },
            "{alg}"
        );
    }
    // HS256 signed with the RSA public key's PEM as the secret: no HMAC key exists
    let secret = EncodingKey::from_secret(RSA_PUB_PEM).unwrap();
    let token = forge(&json!({"alg": "HS256", "kid": "rsa-1"}), &claims(), Some((Algorithm::HS256, &secret)));
    assert_eq!(Verifier::new().verify(&token, &keys).unwrap_err(), TokenError::AlgNotAllowed { alg: "HS256".into() });
}

#[test]
fn hmac_when_configured() {
    let keys = KeySet::from_jwk_set(
        &json!({"kty": "oct", "kid": "h", "alg": "HS256", "k": b64(b"a-shared-secret-of-32-bytes-long")}),
    )
    .unwrap();
    let secret = EncodingKey::from_secret(b"a-shared-secret-of-32-bytes-long").unwrap();
    let token = forge(&json!({"alg": "HS256", "kid": "h"}), &claims(), Some((Algorithm::HS256, &secret)));
    assert!(Verifier::new().verify(&token, &keys).is_ok());
    let token = forge(&json!({"alg": "HS512", "kid": "h"}), &claims(), Some((Algorithm::HS512, &secret)));
    assert_eq!(Verifier::new().verify(&token, &keys).unwrap_err().kind(), "alg_not_allowed");
}

#[test]
fn malformed_tokens() {
    let keys = keyset();
    let kind = |t: &str| Verifier::new().verify(t, &keys).unwrap_err().kind();
    assert_eq!(kind(""), "malformed_header");
    assert_eq!(kind("a.b"), "malformed_header");
    assert_eq!(kind("!!!.e30.sig"), "malformed_header");
    assert_eq!(kind(&format!("{}.e30.", b64(b"[1,2]"))), "malformed_header");
    // a valid signature over a payload that is not a JSON object
    let key = encoding_key(Algorithm::ES256);
    let message = format!("{}.{}", b64(br#"{"alg":"ES256","kid":"ec256-1"}"#), b64(b"[1]"));
    let sig = jsonwebtoken::crypto::sign(message.as_bytes(), &key, Algorithm::ES256).unwrap();
    assert_eq!(kind(&format!("{message}.{sig}")), "malformed_payload");
    // exp as text
    let token = mint(Algorithm::ES256, &json!({"sub": "a", "exp": "tomorrow"}));
    assert_eq!(kind(&token), "malformed_payload");
    // a signature that is not base64url
    let token = mint(Algorithm::ES256, &claims());
    let cut = format!("{}!!", &token[..token.rfind('.').unwrap() + 1]);
    assert_eq!(kind(&cut), "bad_signature");
    // too long
    let long = format!("{}.{}.x", b64(br#"{"alg":"RS256"}"#), "A".repeat(20_000));
    assert_eq!(kind(&long), "too_long");
    assert!(Verifier::new().max_token_len(100_000).verify(&long, &keys).is_err());
}

/// A payload of raw bytes, signed by the RSA fixture key: the signature holds, what it
/// covers is not a claim set.
fn signed_raw(payload_part: &str) -> String {
    let header = json!({"alg": "RS256", "typ": "JWT", "kid": kid_of(Algorithm::RS256)});
    let message = format!("{}.{payload_part}", b64(header.to_string().as_bytes()));
    let sig =
        jsonwebtoken::crypto::sign(message.as_bytes(), &encoding_key(Algorithm::RS256), Algorithm::RS256).unwrap();
    format!("{message}.{sig}")
}

#[test]
fn a_signed_payload_that_is_no_claim_set_says_what_it_is() {
    let keys = keyset();
    let verify = |token: &str| Verifier::new().verify(token, &keys).unwrap_err();
    let describe = |e: TokenError| match e {
        TokenError::MalformedPayload(text) | TokenError::MalformedHeader(text) => text,
        other => panic!("{other:?}"),
    };
    assert!(describe(verify(&signed_raw(&b64(b"not json")))).starts_with("not JSON"), "JSON");
    assert!(describe(verify(&signed_raw("*not*base64*"))).starts_with("not base64url"), "base64");
    let exp_text = signed_raw(&b64(json!({"sub": "a", "exp": "soon"}).to_string().as_bytes()));
    assert_eq!(describe(verify(&exp_text)), "claim \"exp\" is not a number of seconds");
    // a header and a payload but no signature part
    let two_parts = mint(Algorithm::RS256, &claims()).rsplit_once('.').unwrap().0.to_owned();
    assert_eq!(verify(&two_parts), TokenError::MalformedHeader("expected three base64url parts".into()));
}

#[test]
fn the_length_limit_is_the_configured_one_and_inclusive() {
    let keys = keyset();
    // a real token with a large claim: well within the default
    let big = mint(Algorithm::RS256, &json!({"sub": "a", "exp": now() + 600, "blob": "x".repeat(4000)}));
    assert!(big.len() > 4000 && big.len() < tollgate_token::verify::DEFAULT_MAX_TOKEN_LEN);
    assert!(Verifier::new().verify(&big, &keys).is_ok());
    let token = mint(Algorithm::RS256, &claims());
    assert!(Verifier::new().max_token_len(token.len()).verify(&token, &keys).is_ok(), "a token of exactly the limit");
    assert_eq!(
        Verifier::new().max_token_len(token.len() - 1).verify(&token, &keys).unwrap_err(),
        TokenError::TooLong { len: token.len(), max: token.len() - 1 }
    );
}

#[test]
fn exp_exactly_the_furthest_allowed_passes() {
    let keys = keyset();
    let week = Duration::from_secs(7 * 86_400);
    let token = mint(Algorithm::RS256, &json!({"sub": "a", "exp": now() + week.as_secs()}));
    // now only moves forward, so exp is at most `week` ahead when it is checked
    assert!(Verifier::new().require_exp(week).verify(&token, &keys).is_ok());
}

#[test]
fn the_verifier_says_what_it_checks() {
    assert!(Verifier::new().checks_exp());
    assert!(!Verifier::new().ignore_exp().checks_exp());
    assert!(Verifier::new().ignore_exp().require_exp(Duration::from_secs(60)).checks_exp());
    assert_eq!(Verifier::new().leeway_secs(), 0);
    assert_eq!(Verifier::new().leeway(Duration::from_secs(30)).leeway_secs(), 30);
}
