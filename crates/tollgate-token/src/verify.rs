//! [`Verifier`]: one token check for every profile. Header, then key, then signature and
//! claims, each step done by `jsonwebtoken`; what failed comes back as a [`TokenError`]
//! precise enough for each cloud to word its refusal.

use std::collections::HashSet;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Header, Validation};
use serde_json::{Map, Value};

use crate::keys::{KeySet, parse_alg};

/// The longest token read by default, in bytes: far above any real JWT (a few hundred bytes
/// to a few KiB), far below what would make base64 and JSON decoding costly.
pub const DEFAULT_MAX_TOKEN_LEN: usize = 16 * 1024;

/// What a token check found wrong. Every profile words each case its own way (see
/// [`Profile`](crate::Profile)).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// No token where the profile reads it.
    #[error("no token")]
    Missing,
    /// The token is given more than once (two headers, or a header and a query parameter):
    /// which one the backend would read is not known, so neither is taken.
    #[error("the token is given more than once")]
    Ambiguous,
    /// Where the token is read holds something else (`Authorization: Basic ...`, a
    /// malformed `Bearer id_token="..."`).
    #[error("the token's location holds no token: {0}")]
    BadLocation(String),
    /// Longer than the verifier reads.
    #[error("token of {len} bytes; at most {max}")]
    TooLong {
        /// The token's length.
        len: usize,
        /// The most read.
        max: usize,
    },
    /// Not three base64url parts, or a header that is not a JWS header.
    #[error("malformed token header: {0}")]
    MalformedHeader(String),
    /// A payload that is not a JSON object, or a claim of the wrong type (`exp` as text).
    #[error("malformed token payload: {0}")]
    MalformedPayload(String),
    /// The header's `alg` is `none`, unknown, or not one the chosen key verifies.
    #[error("algorithm {alg:?} not allowed")]
    AlgNotAllowed {
        /// The header's `alg`.
        alg: String,
    },
    /// No key for the token's `kid` (or, without `kid`, no key at all).
    #[error("no key for kid {kid:?}")]
    NoKeyForKid {
        /// The header's `kid`.
        kid: Option<String>,
    },
    /// The keys could not be had (a JWKS URL unreachable with nothing cached). Refused with
    /// 503 and `code` in every profile.
    #[error("keys unavailable ({code}): {reason}")]
    KeysUnavailable {
        /// A stable code naming the cause (`JwksUnavailable.Timeout`).
        code: &'static str,
        /// What happened, for the message.
        reason: String,
    },
    /// The signature does not verify with any candidate key.
    #[error("signature does not verify")]
    BadSignature,
    /// `exp` has passed (beyond the leeway).
    #[error("expired at {exp}")]
    Expired {
        /// The token's `exp`, seconds since the epoch.
        exp: u64,
    },
    /// `nbf` is still ahead (beyond the leeway).
    #[error("not valid before {nbf}")]
    NotYetValid {
        /// The token's `nbf`, seconds since the epoch.
        nbf: u64,
    },
    /// A claim the profile requires is absent (`exp` for OpenID Connect, `jti` for replay
    /// protection).
    #[error("claim {0:?} missing")]
    MissingClaim(&'static str),
    /// `exp` is further ahead than the profile allows.
    #[error("exp {exp} is more than {max_ahead:?} ahead")]
    ExpTooFar {
        /// The token's `exp`.
        exp: u64,
        /// The most allowed.
        max_ahead: Duration,
    },
    /// The token's `jti` was seen before, within the token's life.
    #[error("jti {0:?} already used")]
    Replayed(String),
    /// The store that remembers `jti`s could not answer.
    #[error("replay store unavailable: {0}")]
    StoreUnavailable(String),
    /// A check of the profile's own failed (OpenID Connect's "out of scope"), in its words.
    #[error("{0}")]
    Profile(String),
}

impl TokenError {
    /// A stable name for the case, for logs, metrics and tests (`expired`, `bad_signature`).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::Ambiguous => "ambiguous",
            Self::BadLocation(_) => "bad_location",
            Self::TooLong { .. } => "too_long",
            Self::MalformedHeader(_) => "malformed_header",
            Self::MalformedPayload(_) => "malformed_payload",
            Self::AlgNotAllowed { .. } => "alg_not_allowed",
            Self::NoKeyForKid { .. } => "no_key_for_kid",
            Self::KeysUnavailable { .. } => "keys_unavailable",
            Self::BadSignature => "bad_signature",
            Self::Expired { .. } => "expired",
            Self::NotYetValid { .. } => "not_yet_valid",
            Self::MissingClaim(_) => "missing_claim",
            Self::ExpTooFar { .. } => "exp_too_far",
            Self::Replayed(_) => "replayed",
            Self::StoreUnavailable(_) => "store_unavailable",
            Self::Profile(_) => "profile",
        }
    }
}

/// The parts of a token's header a verifier reads before it has a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenHead {
    /// The header's `alg`.
    pub alg: Algorithm,
    /// The header's `kid`.
    pub kid: Option<String>,
}

/// A verified token: its header and its claims.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The header.
    pub header: Header,
    /// The payload, a JSON object.
    pub claims: Map<String, Value>,
}

impl Verified {
    /// The `exp` claim, if it is a whole number of seconds.
    pub fn exp(&self) -> Option<u64> {
        self.claims.get("exp").and_then(Value::as_u64)
    }
}

/// The checks of a token beyond its signature. Built once; [`Verifier::verify`] does the
/// work per request.
///
/// ```
/// use std::time::Duration;
/// use tollgate_token::{TokenError, Verifier};
///
/// let verifier = Verifier::new().leeway(Duration::from_secs(30)).require_exp(Duration::from_secs(7 * 86_400));
/// # let keys = tollgate_token::KeySet::from_jwk_set(&serde_json::json!(
/// #     {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"})).unwrap();
/// assert_eq!(verifier.verify("not-a-token", &keys).unwrap_err().kind(), "malformed_header");
/// ```
#[derive(Debug, Clone)]
pub struct Verifier {
    leeway: u64,
    check_exp: bool,
    max_exp_ahead: Option<Duration>,
    max_len: usize,
}

impl Default for Verifier {
    fn default() -> Self {
        Self::new()
    }
}

impl Verifier {
    /// Checks `exp` when present and `nbf` when present, with no leeway; tokens up to
    /// [`DEFAULT_MAX_TOKEN_LEN`] bytes.
    pub fn new() -> Self {
        Self { leeway: 0, check_exp: true, max_exp_ahead: None, max_len: DEFAULT_MAX_TOKEN_LEN }
    }

    /// Tolerates clocks this far apart on `exp` and `nbf` (whole seconds).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway.as_secs();
        self
    }

    /// Skips the `exp` check (Aliyun's `ignoreExpirationCheck`). A malformed `exp` is still
    /// refused.
    pub fn ignore_exp(mut self) -> Self {
        self.check_exp = false;
        self
    }

    /// Requires `exp`, at most `max_ahead` from now (OpenID Connect's "mandatory, at most 7
    /// days"). Overrides [`ignore_exp`](Self::ignore_exp).
    pub fn require_exp(mut self, max_ahead: Duration) -> Self {
        self.check_exp = true;
        self.max_exp_ahead = Some(max_ahead);
        self
    }

    /// Reads tokens up to `max` bytes (default [`DEFAULT_MAX_TOKEN_LEN`]).
    pub fn max_token_len(mut self, max: usize) -> Self {
        self.max_len = max;
        self
    }

    /// Whether `exp` is checked.
    pub fn checks_exp(&self) -> bool {
        self.check_exp
    }

    /// The leeway, in seconds.
    pub fn leeway_secs(&self) -> u64 {
        self.leeway
    }

    /// Reads a token's header: its `alg` (a signing algorithm; `none` and anything else is
    /// [`TokenError::AlgNotAllowed`]) and its `kid`.
    pub fn head(&self, token: &str) -> Result<TokenHead, TokenError> {
        if token.len() > self.max_len {
            return Err(TokenError::TooLong { len: token.len(), max: self.max_len });
        }
        match jsonwebtoken::decode_header(token) {
            Ok(header) => Ok(TokenHead { alg: header.alg, kid: header.kid }),
            Err(e) => Err(header_error(token, e)),
        }
    }

    /// Verifies `token` with `keys`: a key for its `kid` and `alg`, the signature, then `exp`
    /// and `nbf` (with the leeway) and the profile's `exp` rule. The claims must be a JSON
    /// object.
    pub fn verify(&self, token: &str, keys: &KeySet) -> Result<Verified, TokenError> {
        let head = self.head(token)?;
        let mut first_error = None;
        for key in keys.find(head.kid.as_deref(), head.alg)? {
            match self.verify_with(token, key.decoding(), head.alg) {
                Ok(verified) => return Ok(verified),
                // another key of the same kid (or none) may be the signer
                Err(TokenError::BadSignature) => first_error = first_error.or(Some(TokenError::BadSignature)),
                // any later failure means this key verified the signature
                Err(other) => return Err(other),
            }
        }
        Err(first_error.unwrap_or(TokenError::BadSignature))
    }

    fn verify_with(
        &self,
        token: &str,
        key: &jsonwebtoken::DecodingKey,
        alg: Algorithm,
    ) -> Result<Verified, TokenError> {
        let mut validation = Validation::new(alg);
        validation.leeway = self.leeway;
        validation.validate_exp = self.check_exp;
        validation.validate_nbf = true;
        // jwtAuth checks no audience; a profile that does checks it on the claims
        validation.validate_aud = false;
        validation.required_spec_claims =
            if self.max_exp_ahead.is_some() { HashSet::from(["exp".to_owned()]) } else { HashSet::new() };
        let data = jsonwebtoken::decode::<Map<String, Value>>(token, key, &validation)
            .map_err(|e| claim_error(token, e, self.max_exp_ahead.is_some()))?;
        let verified = Verified { header: data.header, claims: data.claims };
        if let Some(max_ahead) = self.max_exp_ahead {
            let exp = verified.exp().ok_or(TokenError::MissingClaim("exp"))?;
            let now = jsonwebtoken::get_current_timestamp();
            if exp.saturating_sub(now) > max_ahead.as_secs().saturating_add(self.leeway) {
                return Err(TokenError::ExpTooFar { exp, max_ahead });
            }
        }
        Ok(verified)
    }
}

/// Why the header could not be read: `none` or an unknown `alg` said as such.
fn header_error(token: &str, e: jsonwebtoken::errors::Error) -> TokenError {
    if let Some(alg) = peek_alg(token)
        && parse_alg(&alg).is_none()
    {
        return TokenError::AlgNotAllowed { alg };
    }
    TokenError::MalformedHeader(describe(&e))
}

/// The header's `alg` text, read without the library (only to word a refusal).
fn peek_alg(token: &str) -> Option<String> {
    let segment = token.split('.').next()?;
    let bytes = URL_SAFE_NO_PAD.decode(segment).ok()?;
    let header: Map<String, Value> = serde_json::from_slice(&bytes).ok()?;
    header.get("alg")?.as_str().map(str::to_owned)
}

/// A decode failure as a [`TokenError`]; the `exp` and `nbf` of an expired or early token are
/// read back from its payload (its signature verified) for the refusal's text.
fn claim_error(token: &str, e: jsonwebtoken::errors::Error, exp_required: bool) -> TokenError {
    let claim = |name: &str| {
        jsonwebtoken::dangerous::insecure_decode_claims::<Map<String, Value>>(token)
            .ok()
            .and_then(|claims| claims.get(name).and_then(Value::as_u64))
            .unwrap_or(0)
    };
    match e.kind() {
        ErrorKind::InvalidSignature => TokenError::BadSignature,
        ErrorKind::ExpiredSignature => TokenError::Expired { exp: claim("exp") },
        ErrorKind::ImmatureSignature => TokenError::NotYetValid { nbf: claim("nbf") },
        ErrorKind::MissingRequiredClaim(c) if c == "exp" && exp_required => TokenError::MissingClaim("exp"),
        ErrorKind::InvalidAlgorithm | ErrorKind::MissingAlgorithm | ErrorKind::UnsupportedAlgorithm => {
            TokenError::AlgNotAllowed { alg: peek_alg(token).unwrap_or_default() }
        }
        ErrorKind::InvalidToken => TokenError::MalformedHeader(describe(&e)),
        // the signature verified before the claims are read: what is left is the payload
        ErrorKind::Base64(_) | ErrorKind::Json(_) | ErrorKind::Utf8(_) | ErrorKind::InvalidClaimFormat(_) => {
            if is_signature_base64(token) {
                TokenError::BadSignature
            } else {
                TokenError::MalformedPayload(describe(&e))
            }
        }
        _ => TokenError::MalformedPayload(describe(&e)),
    }
}

/// Whether the signature part is what failed to decode (the library reports its base64
/// error like the payload's).
fn is_signature_base64(token: &str) -> bool {
    token.rsplit('.').next().is_some_and(|sig| URL_SAFE_NO_PAD.decode(sig).is_err())
}

fn describe(e: &jsonwebtoken::errors::Error) -> String {
    match e.kind() {
        ErrorKind::Json(json) => format!("not JSON: {json}"),
        ErrorKind::Base64(b) => format!("not base64url: {b}"),
        ErrorKind::Utf8(_) => "not UTF-8".to_owned(),
        ErrorKind::InvalidClaimFormat(c) => format!("claim {c:?} is not a number of seconds"),
        ErrorKind::InvalidToken => "expected three base64url parts".to_owned(),
        _ => e.to_string(),
    }
}
