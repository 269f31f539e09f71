//! The profile seam: what differs between the token policies of the clouds.
//!
//! One [`TokenLayer`](crate::TokenLayer) runs every profile: it reads the token where the
//! profile says ([`Profile::token`]), gets keys from its [`KeySource`](crate::KeySource),
//! verifies with its [`Verifier`](crate::Verifier), lets the profile add its own checks
//! ([`Profile::check`]), then puts the claims and the `Caller` in the request. Every failure
//! is a [`TokenError`]; the profile alone turns it into the refusal its cloud's clients
//! expect ([`Profile::rejection`]) and picks the [`ErrorStyle`] that renders it.
//!
//! A profile is a plain struct implementing [`Profile`] in a module of its own:
//! [`AliyunJwt`](crate::AliyunJwt) (the `jwtAuth` plug-in) is one; Aliyun's API-level OpenID
//! Connect (`aliyun_oidc.rs`) and Tencent's OAuth 2.0 (`tencent_oauth.rs`) are others. A new
//! profile needs no change to the layer: build its verifier (say
//! `Verifier::new().require_exp(7 days)`), its key source, and hand all three to
//! [`TokenLayer::new`](crate::TokenLayer::new).

use std::borrow::Cow;
use std::fmt;

use http::{HeaderMap, Uri};
use tollgate_core::{ErrorStyle, Rejection};

use crate::verify::{TokenError, Verified};

/// What a cloud's token policy decides on its own: where the token is, what else it checks,
/// and how it words a refusal.
pub trait Profile: fmt::Debug + Send + Sync + 'static {
    /// The policy's short name, for logs and the refusal's `policy` (`jwt`, `oidc`, `oauth`).
    fn name(&self) -> &'static str;

    /// The token text (without any scheme word) from the request's headers or URI;
    /// `Ok(None)` when there is none. Reads every place a client could put it and refuses
    /// two copies ([`TokenError::Ambiguous`]).
    fn token<'r>(&self, headers: &'r HeaderMap, uri: &'r Uri) -> Result<Option<Cow<'r, str>>, TokenError>;

    /// Whether a request without a token passes on unauthenticated (Aliyun's
    /// `bypassEmptyToken`). Default: no.
    fn bypass_empty(&self) -> bool {
        false
    }

    /// The profile's own checks of a verified token (the OpenID Connect group's scope, say).
    fn check(&self, verified: &Verified) -> Result<(), TokenError> {
        let _ = verified;
        Ok(())
    }

    /// The refusal for `error`, in the cloud's words.
    fn rejection(&self, error: &TokenError) -> Rejection;

    /// How the cloud renders a refusal (the layer's default style).
    fn error_style(&self) -> ErrorStyle;
}
