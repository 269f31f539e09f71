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
    pub window: Duration,
    /// The refusal for a reused nonce, worded for the scheme's clients.
    pub replay_rejection: Rejection,
    /// The refusal for a timestamp outside the window, worded for the scheme's clients.
    pub expired_rejection: Rejection,
    /// The scheme's error style.
    pub style: ErrorStyle,
}

impl SignedClaims {
    /// Claims of `key_id` under `scheme`, with the scheme's window, refusals and style.
    pub fn new(
        scheme: &'static str,
        key_id: impl Into<Arc<str>>,
        window: Duration,
        replay_rejection: Rejection,
        expired_rejection: Rejection,
        style: ErrorStyle,
    ) -> Self {
        Self {
            scheme,
            key_id: key_id.into(),
            nonce: None,
            timestamp: None,
            window,
            replay_rejection,
            expired_rejection,
            style,
        }
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
