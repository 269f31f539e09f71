//! Verification keys: [`KeySet`] (parsed once from JWKs) and [`KeySource`] (where a request's
//! keys come from: the configuration, or a JWKS URL).
//!
//! A key carries the algorithms it verifies, fixed when the set is built: its JWK's `alg`
//! when it has one, else its type's (RSA: `RS256/384/512`, `PS256/384/512`; EC: `ES256` on
//! P-256, `ES384` on P-384; OKP Ed25519: `EdDSA`). A token's `alg` only *selects* among
//! those; it never makes a key verify an algorithm the key was not given. A symmetric
//! (`oct`) key needs an explicit `alg` (`HS256`, `HS384`, `HS512`): an HMAC key is never
//! inferred, so a public key can never become an HMAC secret (the classic "alg confusion"),
//! and `none` is not an algorithm here at all.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::Value;
use tollgate_core::ConfigError;

use crate::verify::TokenError;

/// The smallest RSA modulus accepted, in bits (NIST's floor; Aliyun's OpenID Connect keys are
/// 2048-bit).
pub const MIN_RSA_BITS: usize = 2048;

/// The most keys one set holds: a token without `kid` is tried against each key of its
/// algorithm, so the set's size bounds the work one token can cause.
pub const MAX_KEYS: usize = 64;

/// One verification key: what it verifies and how it is named.
#[derive(Clone)]
pub struct Key {
    kid: Option<Arc<str>>,
    algorithms: Vec<Algorithm>,
    decoding: DecodingKey,
}

impl Key {
    /// The key's id (`kid`), if its JWK named one.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The algorithms this key verifies.
    pub fn algorithms(&self) -> &[Algorithm] {
        &self.algorithms
    }

    /// Whether this key verifies `alg`.
    pub fn allows(&self, alg: Algorithm) -> bool {
        self.algorithms.contains(&alg)
    }

    /// Whether this is a shared secret (an `oct` JWK, HMAC).
    pub fn is_secret(&self) -> bool {
        self.algorithms.iter().any(|a| matches!(a, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512))
    }

    pub(crate) fn decoding(&self) -> &DecodingKey {
        &self.decoding
    }
}

impl fmt::Debug for Key {
    // never the key material: a secret key must not reach a log
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key").field("kid", &self.kid).field("algorithms", &self.algorithms).finish_non_exhaustive()
    }
}

/// Verification keys, parsed and checked once: from one JWK, a JWK set (`{"keys": [...]}`,
/// RFC 7517) or a list of JWKs.
///
/// ```
/// use jsonwebtoken::Algorithm;
/// use tollgate_token::KeySet;
///
/// let keys = KeySet::from_jwk_set(&serde_json::json!({"keys": [
///     {"kty": "OKP", "crv": "Ed25519", "kid": "ed-1", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
/// ]}))?;
/// assert_eq!(keys.len(), 1);
/// assert!(keys.find(Some("ed-1"), Algorithm::EdDSA).is_ok());
/// // the token's `alg` cannot pick an algorithm the key was not given
/// assert!(keys.find(Some("ed-1"), Algorithm::HS256).is_err());
/// # Ok::<(), tollgate_core::ConfigError>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct KeySet {
    keys: Vec<Key>,
}

impl KeySet {
    /// Keys from one JWK object, a JWK set `{"keys": [...]}` or a list of JWKs. A key that is
    /// malformed, for encryption (`use: enc`), an unsupported type or curve, an RSA key under
    /// [`MIN_RSA_BITS`], or an `oct` key without an `HS*` `alg` is refused; the error names
    /// it (`keys[1].alg`, `[0].crv`, or `alg` for a lone JWK). An empty set is refused.
    pub fn from_jwk_set(value: &Value) -> Result<Self, ConfigError> {
        let (entries, prefix): (Vec<&Value>, &str) = match value {
            Value::Array(list) => (list.iter().collect(), ""),
            Value::Object(map) if map.contains_key("keys") => match &map["keys"] {
                Value::Array(list) => (list.iter().collect(), "keys"),
                _ => return Err(ConfigError::new("keys", "expected a list of JWKs")),
            },
            Value::Object(_) => {
                return Ok(Self {
                    keys: vec![parse_jwk(value).map_err(|(field, problem)| ConfigError::new(field, problem))?],
                });
            }
            _ => return Err(ConfigError::new("", "expected a JWK, a JWK set {\"keys\": [...]} or a list of JWKs")),
        };
        if entries.is_empty() {
            return Err(ConfigError::new(prefix, "expected at least one key"));
        }
        if entries.len() > MAX_KEYS {
            return Err(ConfigError::new(prefix, format!("{} keys; at most {MAX_KEYS}", entries.len())));
        }
        let mut keys = Vec::with_capacity(entries.len());
        for (i, entry) in entries.into_iter().enumerate() {
            let key = parse_jwk(entry).map_err(|(field, problem)| {
                let at = format!("{prefix}[{i}]");
                ConfigError::new(if field.is_empty() { at } else { format!("{at}.{field}") }, problem)
            })?;
            if let Some(kid) = key.kid()
                && keys.iter().any(|k: &Key| k.kid() == Some(kid))
            {
                return Err(ConfigError::new(format!("{prefix}[{i}].kid"), format!("kid {kid:?} is used twice")));
            }
            keys.push(key);
        }
        Ok(Self { keys })
    }

    /// Keys from JSON text ([`from_jwk_set`](Self::from_jwk_set)): Tencent's `PublicKey`, a
    /// JWKS document.
    pub fn from_jwk_text(text: &str) -> Result<Self, ConfigError> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| ConfigError::new("", format!("expected JWK JSON: {e}")))?;
        Self::from_jwk_set(&value)
    }

    /// The same keys, each keeping only the algorithms of `allowed` (the configuration's
    /// own list); a key left with none is dropped, and a set left empty is refused.
    pub fn restrict_to(mut self, allowed: &[Algorithm]) -> Result<Self, ConfigError> {
        for key in &mut self.keys {
            key.algorithms.retain(|a| allowed.contains(a));
        }
        self.keys.retain(|k| !k.algorithms.is_empty());
        if self.keys.is_empty() {
            return Err(ConfigError::new("", format!("no key verifies any of the allowed algorithms {allowed:?}")));
        }
        Ok(self)
    }

    /// How many keys the set holds.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The keys, in the order given.
    pub fn keys(&self) -> &[Key] {
        &self.keys
    }

    /// Whether a key of the set is a shared secret (HMAC): a remote JWKS should never
    /// publish one.
    pub fn has_secrets(&self) -> bool {
        self.keys.iter().any(Key::is_secret)
    }

    /// Whether a key is named `kid`. A source that fetches keys refetches on a `kid` it does
    /// not know (a key rotated in).
    pub fn knows_kid(&self, kid: &str) -> bool {
        self.keys.iter().any(|k| k.kid() == Some(kid))
    }

    /// The keys that may verify a token of `kid` and `alg`. A token with a `kid` is checked
    /// with the key of that name when the set has one, else with the keys without a name; a
    /// token without `kid` with every key. Of those, only keys that verify `alg` are
    /// candidates. [`TokenError::NoKeyForKid`] when no key fits the `kid`,
    /// [`TokenError::AlgNotAllowed`] when keys fit it but none verifies `alg`.
    pub fn find<'a>(&'a self, kid: Option<&'a str>, alg: Algorithm) -> Result<Candidates<'a>, TokenError> {
        let named = kid.is_some_and(|kid| self.knows_kid(kid));
        let mut by_kid = Candidates { keys: &self.keys, kid, named, alg: None, next: 0 };
        if by_kid.clone().next().is_none() {
            return Err(TokenError::NoKeyForKid { kid: kid.map(str::to_owned) });
        }
        by_kid.alg = Some(alg);
        if by_kid.clone().next().is_none() {
            return Err(TokenError::AlgNotAllowed { alg: alg_name(alg).to_owned() });
        }
        Ok(by_kid)
    }
}

/// The keys [`KeySet::find`] chose, in the set's order.
#[derive(Debug, Clone)]
pub struct Candidates<'a> {
    keys: &'a [Key],
    kid: Option<&'a str>,
    named: bool,
    alg: Option<Algorithm>,
    next: usize,
}

impl<'a> Iterator for Candidates<'a> {
    type Item = &'a Key;

    fn next(&mut self) -> Option<&'a Key> {
        while let Some(key) = self.keys.get(self.next) {
            self.next += 1;
            let fits = match (self.kid, self.named) {
                (Some(kid), true) => key.kid() == Some(kid),
                (Some(_), false) => key.kid().is_none(),
                (None, _) => true,
            };
            if fits && self.alg.is_none_or(|alg| key.allows(alg)) {
                return Some(key);
            }
        }
        None
    }
}

/// An algorithm's JOSE name (`RS256`).
pub fn alg_name(alg: Algorithm) -> &'static str {
    match alg {
        Algorithm::HS256 => "HS256",
        Algorithm::HS384 => "HS384",
        Algorithm::HS512 => "HS512",
        Algorithm::ES256 => "ES256",
        Algorithm::ES384 => "ES384",
        Algorithm::RS256 => "RS256",
        Algorithm::RS384 => "RS384",
        Algorithm::RS512 => "RS512",
        Algorithm::PS256 => "PS256",
        Algorithm::PS384 => "PS384",
        Algorithm::PS512 => "PS512",
        Algorithm::EdDSA => "EdDSA",
        _ => "unknown",
    }
}

const RSA_ALGS: &[Algorithm] =
    &[Algorithm::RS256, Algorithm::RS384, Algorithm::RS512, Algorithm::PS256, Algorithm::PS384, Algorithm::PS512];

/// One JWK, or the field at fault (relative to the JWK) and what is wrong.
fn parse_jwk(value: &Value) -> Result<Key, (String, String)> {
    let err = |field: &str, problem: String| (field.to_owned(), problem);
    let Value::Object(map) = value else {
        return Err(err("", "expected a JWK object".into()));
    };
    let kty = match map.get("kty") {
        Some(Value::String(kty)) => kty.as_str(),
        Some(_) => return Err(err("kty", "expected text".into())),
        None => return Err(err("kty", "missing: expected RSA, EC, OKP or oct".into())),
    };
    if !matches!(kty, "RSA" | "EC" | "OKP" | "oct") {
        return Err(err("kty", format!("{kty:?} is not a signing key type: expected RSA, EC, OKP or oct")));
    }
    let jwk: Jwk = serde_json::from_value(value.clone()).map_err(|e| err("", format!("not a valid {kty} JWK: {e}")))?;
    if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
        return Err(err("use", "an encryption key (`enc`): expected `sig`".into()));
    }
    // a JWK's own `alg` wins; the library maps the text, refusing encryption algorithms
    let named = match map.get("alg") {
        None => None,
        Some(Value::String(text)) => Some(
            parse_alg(text)
                .ok_or_else(|| err("alg", format!("{text:?} is not a signing algorithm this gateway verifies")))?,
        ),
        Some(_) => return Err(err("alg", "expected text".into())),
    };
    let algorithms: Vec<Algorithm> = match &jwk.algorithm {
        AlgorithmParameters::RSA(rsa) => {
            let bits = URL_SAFE_NO_PAD
                .decode(rsa.n.trim_end_matches('='))
                .map_err(|_| err("n", "expected base64url".into()))?
                .iter()
                .skip_while(|b| **b == 0)
                .count()
                * 8;
            if bits < MIN_RSA_BITS {
                return Err(err("n", format!("an RSA key of about {bits} bits; at least {MIN_RSA_BITS}")));
            }
            RSA_ALGS.to_vec()
        }
        AlgorithmParameters::EllipticCurve(ec) => match ec.curve {
            EllipticCurve::P256 => vec![Algorithm::ES256],
            EllipticCurve::P384 => vec![Algorithm::ES384],
            _ => return Err(err("crv", "expected P-256 or P-384 for an EC key".into())),
        },
        AlgorithmParameters::OctetKeyPair(okp) => match okp.curve {
            EllipticCurve::Ed25519 => vec![Algorithm::EdDSA],
            _ => return Err(err("crv", "expected Ed25519 for an OKP key".into())),
        },
        AlgorithmParameters::OctetKey(_) => {
            // a shared secret only where the configuration says which HMAC it is for
            match named {
                Some(a @ (Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512)) => vec![a],
                _ => return Err(err("alg", "a symmetric (oct) key needs `alg: HS256`, `HS384` or `HS512`".into())),
            }
        }
        _ => return Err(err("kty", format!("{kty:?} key parameters not understood"))),
    };
    let algorithms = match named {
        Some(alg) if algorithms.contains(&alg) => vec![alg],
        Some(alg) => return Err(err("alg", format!("{} does not fit a {kty} key", alg_name(alg)))),
        None => algorithms,
    };
    let decoding = DecodingKey::from_jwk(&jwk).map_err(|e| err("", format!("not a usable {kty} key: {e}")))?;
    let kid = match map.get("kid") {
        None | Some(Value::Null) => None,
        Some(Value::String(kid)) => Some(Arc::from(kid.as_str())),
        Some(_) => return Err(err("kid", "expected text".into())),
    };
    Ok(Key { kid, algorithms, decoding })
}

/// A signing algorithm by its JOSE name; `none` and encryption algorithms are not.
pub fn parse_alg(text: &str) -> Option<Algorithm> {
    Some(match text {
        "HS256" => Algorithm::HS256,
        "HS384" => Algorithm::HS384,
        "HS512" => Algorithm::HS512,
        "ES256" => Algorithm::ES256,
        "ES384" => Algorithm::ES384,
        "RS256" => Algorithm::RS256,
        "RS384" => Algorithm::RS384,
        "RS512" => Algorithm::RS512,
        "PS256" => Algorithm::PS256,
        "PS384" => Algorithm::PS384,
        "PS512" => Algorithm::PS512,
        "EdDSA" => Algorithm::EdDSA,
        _ => return None,
    })
}

/// The future of [`KeySource::keys`].
pub type KeysFuture = Pin<Box<dyn Future<Output = Result<Arc<KeySet>, TokenError>> + Send + 'static>>;

/// Where a request's keys come from.
///
/// [`Static`](KeySource::Static) keys are in the configuration and answer at once
/// ([`keys_at_once`](KeySource::keys_at_once)), so a layer settles the request inside its
/// `call`. A source that must wait (a JWKS URL fetched and cached, in `jwks.rs`) answers
/// through [`keys`](KeySource::keys), and with `None` from `keys_at_once` when it has to
/// fetch; it is given the token's `kid` so that an unknown `kid` can trigger a refetch.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum KeySource {
    /// Keys fixed by the configuration.
    Static(Arc<KeySet>),
    /// Keys fetched from a JWKS URL, cached and refreshed, refetched for an unknown `kid`
    /// (see [`jwks`](crate::jwks)).
    Remote(crate::jwks::RemoteKeySet),
}

impl KeySource {
    /// A source of keys fixed by the configuration.
    pub fn fixed(keys: KeySet) -> Self {
        Self::Static(Arc::new(keys))
    }

    /// A source of keys fetched from a JWKS URL.
    pub fn remote(keys: crate::jwks::RemoteKeySet) -> Self {
        Self::Remote(keys)
    }

    /// The keys for a token of `kid`, when they can be had without waiting.
    pub fn keys_at_once(&self, kid: Option<&str>) -> Option<Result<Arc<KeySet>, TokenError>> {
        match self {
            Self::Static(keys) => Some(Ok(keys.clone())),
            Self::Remote(remote) => remote.keys_now(kid).map(Ok),
        }
    }

    /// The keys for a token of `kid`, waiting for them if need be.
    pub fn keys(&self, kid: Option<&str>) -> KeysFuture {
        match (self.keys_at_once(kid), self) {
            (Some(ready), _) => Box::pin(std::future::ready(ready)),
            (None, Self::Remote(remote)) => {
                let (remote, kid) = (remote.clone(), kid.map(str::to_owned));
                Box::pin(async move { remote.keys(kid.as_deref()).await.map_err(|e| e.to_token_error()) })
            }
            (None, _) => Box::pin(std::future::ready(Err(TokenError::KeysUnavailable {
                code: "KeysUnavailable",
                reason: "no keys".into(),
            }))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ED_X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";

    fn ed(kid: Option<&str>) -> Value {
        let mut v = json!({"kty": "OKP", "crv": "Ed25519", "x": ED_X});
        if let Some(kid) = kid {
            v["kid"] = json!(kid);
        }
        v
    }

    #[test]
    fn one_jwk_a_set_and_a_list() {
        assert_eq!(KeySet::from_jwk_set(&ed(Some("a"))).unwrap().len(), 1);
        assert_eq!(KeySet::from_jwk_set(&json!({"keys": [ed(Some("a")), ed(Some("b"))]})).unwrap().len(), 2);
        assert_eq!(KeySet::from_jwk_set(&json!([ed(None)])).unwrap().len(), 1);
    }

    #[test]
    fn bad_keys_name_their_field() {
        let e = KeySet::from_jwk_set(&json!({"keys": [ed(Some("a")), {"kty": "oct", "k": "c2VjcmV0"}]})).unwrap_err();
        assert_eq!(e.field, "keys[1].alg");
        let e = KeySet::from_jwk_set(&json!([{"kty": "OKP", "crv": "Ed25519", "x": ED_X, "use": "enc"}])).unwrap_err();
        assert_eq!(e.field, "[0].use");
        let e = KeySet::from_jwk_set(&json!({"kty": "OKP", "crv": "Ed25519", "x": ED_X, "alg": "none"})).unwrap_err();
        assert_eq!(e.field, "alg");
        let e = KeySet::from_jwk_set(&json!({"kty": "OKP", "crv": "Ed25519", "x": ED_X, "alg": "RS256"})).unwrap_err();
        assert_eq!(e.field, "alg");
        let e = KeySet::from_jwk_set(&json!({"keys": []})).unwrap_err();
        assert_eq!(e.field, "keys");
        let e = KeySet::from_jwk_set(&json!({"keys": [ed(Some("a")), ed(Some("a"))]})).unwrap_err();
        assert_eq!(e.field, "keys[1].kid");
        // a 1024-bit modulus
        let n = URL_SAFE_NO_PAD.encode([0xc1u8; 128]);
        let e = KeySet::from_jwk_set(&json!({"kty": "RSA", "e": "AQAB", "n": n})).unwrap_err();
        assert_eq!(e.field, "n");
    }

    #[test]
    fn hmac_only_when_the_key_says_so() {
        let keys = KeySet::from_jwk_set(&json!({"kty": "oct", "k": "c2VjcmV0LXNlY3JldA", "alg": "HS256"})).unwrap();
        assert!(keys.has_secrets());
        assert!(keys.find(None, Algorithm::HS256).is_ok());
        assert!(matches!(keys.find(None, Algorithm::HS512), Err(TokenError::AlgNotAllowed { .. })));
    }

    #[test]
    fn lookup_by_kid() {
        let keys = KeySet::from_jwk_set(&json!([ed(Some("a")), ed(None), ed(Some("b"))])).unwrap();
        // a named key is the only candidate for its name
        let found: Vec<_> = keys.find(Some("b"), Algorithm::EdDSA).unwrap().map(|k| k.kid()).collect();
        assert_eq!(found, [Some("b")]);
        // an unknown name falls to the unnamed keys
        let found: Vec<_> = keys.find(Some("zz"), Algorithm::EdDSA).unwrap().map(|k| k.kid()).collect();
        assert_eq!(found, [None]);
        // no kid: every key
        assert_eq!(keys.find(None, Algorithm::EdDSA).unwrap().count(), 3);
        let named_only = KeySet::from_jwk_set(&json!([ed(Some("a"))])).unwrap();
        assert!(matches!(named_only.find(Some("b"), Algorithm::EdDSA), Err(TokenError::NoKeyForKid { .. })));
        assert!(matches!(named_only.find(Some("a"), Algorithm::ES256), Err(TokenError::AlgNotAllowed { .. })));
    }

    #[test]
    fn restrict_drops_keys_left_without_algorithms() {
        let n = URL_SAFE_NO_PAD.encode([0xc1u8; 256]);
        let keys = KeySet::from_jwk_set(&json!([ed(Some("a")), {"kty": "RSA", "e": "AQAB", "n": n}])).unwrap();
        let only_rs = keys.clone().restrict_to(&[Algorithm::RS256]).unwrap();
        assert_eq!(only_rs.len(), 1);
        assert_eq!(only_rs.keys()[0].algorithms(), [Algorithm::RS256]);
        assert!(keys.restrict_to(&[Algorithm::HS256]).is_err());
    }
}
