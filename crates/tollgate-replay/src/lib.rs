//! Replay protection: a request is accepted only while its timestamp is within the window,
//! and each nonce only once.
//!
//! [`ReplayGuardLayer`] sits inside a signature layer (only authenticated requests can burn
//! a nonce) and reads the [`SignedClaims`](tollgate_core::SignedClaims) it verified, or reads
//! headers when used alone ([`HeaderRule`]). Nonces are kept in core's
//! [`NonceStore`](tollgate_core::NonceStore): bounded in memory by default, Redis for fleets.

mod layer;
mod rule;

pub use layer::{ReplayGuard, ReplayGuardLayer, ResponseFuture};
pub use rule::{HeaderRule, TimestampFormat};
