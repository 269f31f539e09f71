//! [`SignedClaims`]: what a signature verifier proved, for the replay guard inside it.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http::Extensions;

use crate::rejection::Rejection;
use crate::style::ErrorStyle;

/// The nonce and timestamp of a request whose signature was verified, with what the
/// scheme's clients expect to hear when the nonce is reused.
///
/// A signature layer puts it in the request's extensions; a replay guard inside that layer
/// reads it, so neither policy depends on the other and the guard needs no knowledge of the
/// scheme. A nonce is remembered per scheme and key id.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SignedClaims {
    /// The signature scheme's name (`aliyun-apigw`, `tencent-cloud`, ...).
    pub scheme: &'static str,
    /// The key id the request was signed with.
    pub key_id: Arc<str>,
    /// The signed nonce, if the scheme has one.
    pub nonce: Option<Arc<str>>,
    /// The signed timestamp, if the scheme has one.
    pub timestamp: Option<SystemTime>,
    /// How far the timestamp may be from now, either way; also how long a nonce is kept.
    /// At most [`MAX_WINDOW`]: a replay guard reads a longer one as that.
    pub window: Duration,
    /// The scheme's refusals and style, shared by every request the layer verifies.
    pub refusals: Arc<ReplayRefusals>,
}

/// The longest replay window anything accepts: a day. A window is how far a timestamp may be
/// from now and so how long a nonce is kept; a longer one is clamped to it (and refused in a
/// configuration), so a nonce's keeping time can neither overflow nor grow without bound.
pub const MAX_WINDOW: Duration = Duration::from_secs(24 * 60 * 60);

/// How a scheme's clients expect to hear that a request was replayed or is stale: built
/// once per signature layer and shared by the claims of every request it verifies.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ReplayRefusals {
    /// The refusal for a reused nonce.
    pub replayed: Rejection,
    /// The refusal for a timestamp outside the window.
    pub expired: Rejection,
    /// The refusal for a request without a nonce, for a scheme that has one (its clients
    /// always send it); `None` for a scheme without nonces.
    pub missing_nonce: Option<Rejection>,
    /// The scheme's error style.
    pub style: ErrorStyle,
}

impl ReplayRefusals {
    /// A scheme's refusals and style, for a scheme without nonces.
    pub fn new(replayed: Rejection, expired: Rejection, style: ErrorStyle) -> Self {
        Self { replayed, expired, missing_nonce: None, style }
    }

    /// Says the scheme has a nonce, and how a request without one is refused.
    pub fn with_missing_nonce(mut self, refusal: Rejection) -> Self {
        self.missing_nonce = Some(refusal);
        self
    }
}

impl SignedClaims {
    /// Claims of `key_id` under `scheme`, with the scheme's window and refusals.
    pub fn new(
        scheme: &'static str,
        key_id: impl Into<Arc<str>>,
        window: Duration,
        refusals: Arc<ReplayRefusals>,
    ) -> Self {
        Self { scheme, key_id: key_id.into(), nonce: None, timestamp: None, window, refusals }
    }

    /// Adds the signed nonce.
    pub fn with_nonce(mut self, nonce: impl Into<Arc<str>>) -> Self {
        self.nonce = Some(nonce.into());
        self
    }

    /// Adds the signed timestamp.
    pub fn with_timestamp(mut self, timestamp: SystemTime) -> Self {
        self.timestamp = Some(timestamp);
        self
    }

    /// The claims a verifier put in `extensions`, if any.
    pub fn from_extensions(extensions: &Extensions) -> Option<&Self> {
        extensions.get::<Self>()
    }
}
