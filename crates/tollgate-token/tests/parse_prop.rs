//! Property tests: no input makes a parser panic or a random text verify; claims round-trip;
//! no spelling of a claim parameter survives the layer.

mod common;

use std::convert::Infallible;

use bytes::Bytes;
use common::*;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use jsonwebtoken::Algorithm;
use proptest::prelude::*;
use serde_json::json;
use tollgate_token::{JwtAuthConfig, KeySet, TokenLayer, Verifier};
use tower::{Layer, ServiceExt, service_fn};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().build().unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_text_never_verifies(token in "[A-Za-z0-9_.=-]{0,400}") {
        let keys = keyset();
        prop_assert!(Verifier::new().verify(&token, &keys).is_err());
    }

    #[test]
    fn three_random_segments_never_verify(h in "[A-Za-z0-9_-]{0,80}", p in "[A-Za-z0-9_-]{0,80}", s in "[A-Za-z0-9_-]{0,200}") {
        prop_assert!(segments_fail(&h, &p, &s));
    }

    #[test]
    fn any_json_is_a_keyset_or_an_error(text in ".{0,300}") {
        let _ = KeySet::from_jwk_text(&text);
        let _ = JwtAuthConfig::from_plugin(&text);
    }

    #[test]
    fn jwk_shaped_objects_never_panic(kty in "(RSA|EC|OKP|oct|x)", crv in "(P-256|P-384|P-521|Ed25519|X25519|)", alg in "(RS256|ES256|HS256|none|EdDSA|PS512|)", n in "[A-Za-z0-9_-]{0,400}", x in "[A-Za-z0-9_-]{0,60}") {
        let jwk = json!({"kty": kty, "crv": crv, "alg": alg, "n": n, "e": "AQAB", "x": x, "y": x, "k": n});
        let _ = KeySet::from_jwk_set(&jwk);
    }

    #[test]
    fn claims_round_trip(sub in "[ -~]{1,40}", alg in prop::sample::select(vec![Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA, Algorithm::ES384])) {
        let token = mint(alg, &json!({"sub": sub, "exp": now() + 60}));
        let verified = Verifier::new().verify(&token, &keyset()).unwrap();
        prop_assert_eq!(verified.claims["sub"].as_str(), Some(sub.as_str()));
    }

    /// Whatever the client puts in the query, the handler sees the claim's value under the
    /// claim parameter's name once, and nothing a lenient backend reads as it.
    #[test]
    fn no_spelling_of_a_claim_parameter_survives(pairs in prop::collection::vec(("(userid|USERID|userId|user%49d|userId\\[\\]|uſerid|u%73erId|a|b)", "[a-z0-9]{0,5}"), 0..6)) {
        let query: String = pairs.iter().map(|(k, v)| format!("{}={}", k, v)).collect::<Vec<_>>().join("&");
        let config = JwtAuthConfig::from_plugin(&format!(
            "jwks: {}\nclaimParameters:\n  - {{claimName: userId, parameterName: userId, location: query}}", JWKS
        )).unwrap();
        let layer = TokenLayer::from_config(&config).unwrap();
        let token = mint(Algorithm::ES256, &claims());
        let req = Request::get(format!("/?{}", query)).header("authorization", format!("Bearer {}", token)).body(Full::<Bytes>::default()).unwrap();
        let svc = layer.layer(service_fn(|req: Request<_>| async move {
            Ok::<_, Infallible>(Response::new(Full::<Bytes>::from(req.uri().query().unwrap_or("").to_owned())))
        }));
        let (status, seen) = rt().block_on(async {
            let resp = svc.oneshot(req).await.unwrap();
            (resp.status(), String::from_utf8(resp.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap())
        });
        prop_assert_eq!(status, StatusCode::OK);
        let names: Vec<String> = form_names(&seen);
        let folded: Vec<&String> = names.iter().filter(|n| fold(n) == "userid").collect();
        prop_assert_eq!(folded.len(), 1, "{}", seen);
        prop_assert!(seen.ends_with("userId=u-1001"), "{}", seen);
    }
}

/// Neither the three segments nor a real header with the two others verify.
fn segments_fail(h: &str, p: &str, s: &str) -> bool {
    let keys = keyset();
    let real = format!("{}.{p}.{s}", b64(br#"{"alg":"RS256","kid":"rsa-1"}"#));
    Verifier::new().verify(&format!("{h}.{p}.{s}"), &keys).is_err() && Verifier::new().verify(&real, &keys).is_err()
}

/// Query names, decoded.
fn form_names(query: &str) -> Vec<String> {
    form_urlencoded::parse(query.as_bytes()).map(|(k, _)| k.into_owned()).collect()
}

/// Lenient folding, written independently of the crate's: case, `[..]` suffix, long s.
fn fold(name: &str) -> String {
    let name = name.split('[').next().unwrap_or("");
    name.chars().flat_map(|c| c.to_uppercase()).flat_map(|c| c.to_lowercase()).collect()
}
