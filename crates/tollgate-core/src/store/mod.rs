//! Store traits: where nonces and rate allowances live.
//!
//! Policies hold a store and never care where it keeps its state. The in-memory stores here
//! are the embedded default; `tollgate-redis` implements the same traits for fleets.
//! A store's future is an associated type so the in-memory stores answer with a ready value
//! and no allocation, while a networked store returns its own future.

mod key;
mod nonce_store;
mod nonces;
mod rate;
mod rate_store;
mod report;
mod table;

use std::future::Future;
use std::time::Duration;

pub use key::RateKey;
pub use nonce_store::MemoryNonceStore;
pub use rate::{Algorithm, RateDecision, RateQuota, RateState, SLIDING_SUBWINDOWS};
pub use rate_store::MemoryRateStore;

/// Default bound on the keys an in-memory store remembers.
const DEFAULT_CAPACITY: u64 = 1_000_000;

/// A duration in nanoseconds, saturated (the stores' time line).
fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// A store could not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The backing service refused or could not be reached.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// The backing service did not answer in time.
    #[error("store timed out after {0:?}")]
    Timeout(Duration),
    /// A bounded store is full of live entries (or the caller's share of it is): it refuses
    /// rather than forget an entry a guarantee depends on.
    #[error("store full of live entries")]
    Full,
}

/// Remembers nonces for a while: "each nonce accepted once".
///
/// A nonce belongs to a tenant: the scheme and key id that signed it (`aliyun-apigw` and
/// `203753741`, joined by `\u{1f}`). A nonce is new or used within its tenant only, and a
/// bounded store may cap what one tenant holds, so that one key cannot fill the store.
pub trait NonceStore: Send + Sync + 'static {
    /// The future of [`insert_if_absent`](Self::insert_if_absent).
    type Future: Future<Output = Result<bool, StoreError>> + Send + 'static;

    /// Records `nonce` of `tenant` for at least `ttl` if it is not already recorded.
    /// `Ok(true)`: it was new (accept the request); `Ok(false)`: it was seen within its ttl
    /// (a replay); [`StoreError::Full`]: the store (or the tenant's share of it) is full of
    /// live nonces and remembers nothing more until some expire. Of concurrent calls with one
    /// tenant and nonce, exactly one sees `true`.
    fn insert_if_absent(&self, tenant: &str, nonce: &str, ttl: Duration) -> Self::Future;

    /// [`insert_if_absent`](Self::insert_if_absent) answered at once, for a store that never
    /// waits (the in-memory one), so a policy can settle the request inside its `call`.
    /// `None`, the default, says the store must be awaited.
    fn insert_if_absent_at_once(&self, tenant: &str, nonce: &str, ttl: Duration) -> Option<Result<bool, StoreError>> {
        let _ = (tenant, nonce, ttl);
        None
    }
}

/// One limit a request must pass: a key and its quota.
#[derive(Debug, Clone)]
pub struct RateTake<'a> {
    /// The key (`api:orders`, `app:orders:203753741`, `ip:orders:10.0.0.7`, ...).
    pub key: RateKey<'a>,
    /// Its quota.
    pub quota: RateQuota,
}

impl<'a> RateTake<'a> {
    /// A take of `key` under `quota`; `key` may be given as text (`"api:orders"`).
    pub fn new(key: impl Into<RateKey<'a>>, quota: &RateQuota) -> Self {
        Self { key: key.into(), quota: *quota }
    }

    /// The take with its key owned, to outlive what it borrowed.
    pub fn into_owned(self) -> RateTake<'static> {
        RateTake { key: self.key.into_owned(), quota: self.quota }
    }
}

/// Keeps rate allowances: "take `cost` from this key's allowance under this quota".
pub trait RateStore: Send + Sync + 'static {
    /// The future of [`take`](Self::take).
    type Future: Future<Output = Result<RateDecision, StoreError>> + Send + 'static;

    /// The future of [`take_all`](Self::take_all).
    type AllFuture: Future<Output = Result<Vec<RateDecision>, StoreError>> + Send + 'static;

    /// Takes `cost` from `key`'s allowance under `quota`, if it has that much left, and
    /// tells what remains. A refused take consumes nothing.
    fn take(&self, key: &str, quota: &RateQuota, cost: u32) -> Self::Future;

    /// Takes `cost` from every limit of one request, all or nothing: the decisions come in
    /// the order of `takes` and stop at the first refusal, and when one refuses, what the
    /// ones before it took is given back. So a caller over its own limit does not use up
    /// the allowance it shares with others (the API's). A networked store does it in one
    /// round trip.
    fn take_all(&self, takes: &[RateTake<'_>], cost: u32) -> Self::AllFuture;

    /// [`take_all`](Self::take_all) answered at once, for a store that never waits (the
    /// in-memory one), so a policy can settle the request inside its `call` and keep nothing
    /// for a future: the decisions are written into `decisions` (as long as `takes`, or
    /// longer), in order, and their number is returned. `None`, the default, says the store
    /// must be awaited through [`take_all`](Self::take_all).
    fn take_all_at_once(
        &self,
        takes: &[RateTake<'_>],
        cost: u32,
        decisions: &mut [RateDecision],
    ) -> Option<Result<usize, StoreError>> {
        let _ = (takes, cost, decisions);
        None
    }
}
