//! The [`Scheme`] and [`Signer`] traits: what one signature scheme must say.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode, Uri};
use tollgate_core::{ErrorStyle, Rejection};

use crate::secret::Secret;

/// What a scheme reads of a request.
#[derive(Debug, Clone, Copy)]
pub struct RequestView<'a> {
    /// The method.
    pub method: &'a Method,
    /// The target, exactly as received.
    pub uri: &'a Uri,
    /// The headers.
    pub headers: &'a HeaderMap,
    /// The body, when [`Scheme::needs_body`] asked for it.
    pub body: Option<&'a [u8]>,
}

/// What a verified request proved, for the replay guard.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verified {
    /// The signed nonce, if the scheme has one (for the Tencent schemes without one, the
    /// signature when they are told to remember signatures).
    pub nonce: Option<Arc<str>>,
    /// The signed timestamp, if the scheme has one.
    pub timestamp: Option<SystemTime>,
}

/// Why a request's security token is refused (see [`Scheme::token_refused`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenProblem {
    /// The key is temporary and the request carries no token.
    Missing,
    /// The token is empty, or one the store does not know.
    Malformed,
    /// The token's time has passed.
    Expired,
    /// The token was issued for another key.
    MismatchWithKey,
}

/// A signature scheme, server side.
///
/// The layer runs the checks in the reference's order: [`parse`](Self::parse) (is there a
/// signature at all, is it well formed) and [`security_token`](Self::security_token) (is the
/// token, if any, readable one way), then the key lookup ([`unknown_key`](Self::unknown_key)),
/// then [`verify`](Self::verify) (timestamp, signature against each active secret, body
/// digest), and last the token: a temporary key's must be there, and any token must be one
/// the store vouches for ([`token_refused`](Self::token_refused)). Every refusal is a
/// [`Rejection`] worded as the scheme's clients expect.
pub trait Scheme: Send + Sync + 'static {
    /// What [`parse`](Self::parse) extracts: the key id, the claimed signature, ...,
    /// borrowed from the request where it can be (no copy per request).
    type Parsed<'r>: Send;

    /// The scheme's name: `aliyun-apigw`, `aliyun-rpc`, `tencent-cloud`, `tencent-apigw`.
    const NAME: &'static str;

    /// How refusals are rendered for this scheme's clients, unless the layer is told
    /// otherwise ([`SignatureLayer::error_style`](crate::SignatureLayer::error_style)).
    const ERROR_STYLE: ErrorStyle;

    /// How far a timestamp may be from now, either way (also how long nonces are kept). The
    /// layer and the replay guard read at most [`MAX_WINDOW`](tollgate_core::MAX_WINDOW).
    /// A method, not a constant: each scheme's builder sets it (`window(...)`).
    fn window(&self) -> Duration;

    /// Whether the body must be read to verify this request (form parameters, a body
    /// digest). Requests for which this is false stream through untouched.
    fn needs_body(&self, method: &Method, headers: &HeaderMap) -> bool;

    /// [`needs_body`](Self::needs_body) answered from a request's parse, when the parse read
    /// the headers it looks at (so the layer need not look them up again); it must give the
    /// same answer for every request that parses. `None`, the default: ask `needs_body`.
    fn needs_body_parsed(&self, parsed: &Self::Parsed<'_>) -> Option<bool> {
        let _ = parsed;
        None
    }

    /// Reads what the request claims; refuses a missing or malformed signature.
    fn parse<'r>(&self, request: &RequestView<'r>) -> Result<Self::Parsed<'r>, Rejection>;

    /// The key id the request claims.
    fn key_id<'p>(&self, parsed: &'p Self::Parsed<'_>) -> &'p str;

    /// The refusal for an unknown key id.
    fn unknown_key(&self, key_id: &str) -> Rejection;

    /// The refusal for a disabled key id (by default: as unknown).
    fn disabled_key(&self, key_id: &str) -> Rejection {
        self.unknown_key(key_id)
    }

    /// The security token the request carries (temporary credentials), read where the
    /// scheme's clients send it; `Ok(None)` without one. A token that can be read more than
    /// one way (sent twice, or also where another of the cloud's schemes sends it) is refused
    /// here. The default, for a scheme whose clients send no token: `Ok(None)`, so a request
    /// signed with a temporary key is refused as missing its token.
    fn security_token<'a>(
        &self,
        request: &'a RequestView<'_>,
        parsed: &'a Self::Parsed<'_>,
    ) -> Result<Option<Cow<'a, str>>, Rejection> {
        let _ = (request, parsed);
        Ok(None)
    }

    /// The refusal of a security token (by default: as an unknown key).
    fn token_refused(&self, key_id: &str, problem: TokenProblem) -> Rejection {
        let _ = problem;
        self.unknown_key(key_id)
    }

    /// Checks timestamp, signature (against each secret, in constant time) and body digest.
    fn verify(
        &self,
        request: &RequestView<'_>,
        parsed: &Self::Parsed<'_>,
        secrets: &[Secret],
        now: SystemTime,
    ) -> Result<Verified, Rejection>;

    /// The refusal for a reused nonce.
    fn replayed(&self) -> Rejection;

    /// For a scheme with a nonce its clients always send, the refusal a replay guard gives a
    /// verified request without one; `None` (the default) for a scheme without nonces, whose
    /// requests the guard passes on their timestamp alone.
    fn missing_nonce(&self) -> Option<Rejection> {
        None
    }

    /// The refusal for a timestamp outside the window.
    fn expired(&self) -> Rejection;

    /// The refusal when the secret store cannot answer.
    fn unavailable(&self) -> Rejection {
        Rejection::new(StatusCode::SERVICE_UNAVAILABLE, "ServiceUnavailable", "the secret store is unavailable")
            .with_policy("signature")
    }
}

/// Why a request could not be signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignError {
    /// A header or parameter value the scheme must sign or write is not representable.
    #[error("cannot sign: {0}")]
    Invalid(String),
    /// The body could not be read.
    #[error("cannot sign: the body could not be read: {0}")]
    Body(String),
}

/// A signature scheme, client side: adds the scheme's headers or parameters to a request.
/// Built on the same canonical-string code as the verifier, so the two cannot drift.
pub trait Signer: Send + Sync + 'static {
    /// Whether signing needs the body's bytes.
    fn needs_body(&self, method: &Method, headers: &HeaderMap) -> bool;

    /// Signs the request in place with `key_id` / `secret` at time `now`. May add headers,
    /// query parameters, or form fields to `body`.
    fn sign(
        &self,
        parts: &mut http::request::Parts,
        body: &mut Bytes,
        key_id: &str,
        secret: &Secret,
        now: SystemTime,
    ) -> Result<(), SignError>;

    /// [`sign`](Self::sign) with temporary credentials: `token` is sent where the scheme's
    /// clients send a security token. The default, for a scheme without tokens, signs as
    /// `sign` when `token` is `None` and refuses to sign otherwise (rather than drop the token).
    fn sign_with_token(
        &self,
        parts: &mut http::request::Parts,
        body: &mut Bytes,
        key_id: &str,
        secret: &Secret,
        token: Option<&str>,
        now: SystemTime,
    ) -> Result<(), SignError> {
        match token {
            None => self.sign(parts, body, key_id, secret, now),
            Some(_) => Err(SignError::Invalid("this scheme sends no security token".into())),
        }
    }
}

/// What a request is signed as: the key, its secret, and a security token if temporary.
pub(crate) struct Credentials<'a> {
    pub(crate) key_id: &'a str,
    pub(crate) secret: &'a Secret,
    pub(crate) token: Option<&'a str>,
}

/// Signs a whole request with `signer`: the function form of [`SigningLayer`](crate::SigningLayer),
/// for a client that builds its requests by hand.
///
/// ```
/// use std::time::SystemTime;
/// use bytes::Bytes;
/// use http::Request;
/// use tollgate_signature::{sign_request, aliyun_apigw::AliyunApiGateway};
///
/// let request = Request::post("http://api.example.com/orders")
///     .header("content-type", "application/json")
///     .body(Bytes::from_static(br#"{"sku": 42}"#))
///     .unwrap();
/// let signed = sign_request(&AliyunApiGateway::new(), request, "203753741", &"secret".into(), SystemTime::now()).unwrap();
/// assert!(signed.headers().contains_key("x-ca-signature"));
/// assert!(signed.headers().contains_key("content-md5"));
/// ```
pub fn sign_request<S: Signer + ?Sized>(
    signer: &S,
    request: http::Request<Bytes>,
    key_id: &str,
    secret: &Secret,
    now: SystemTime,
) -> Result<http::Request<Bytes>, SignError> {
    let (mut parts, mut body) = request.into_parts();
    signer.sign(&mut parts, &mut body, key_id, secret, now)?;
    Ok(http::Request::from_parts(parts, body))
}
