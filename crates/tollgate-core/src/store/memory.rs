//! Bounded in-memory stores on `moka`.
//!
//! Both use least-recently-used eviction, not moka's default TinyLFU admission: TinyLFU may
//! decline to admit a new key at all, which for a nonce means "never remembered" (an
//! immediate replay) and for a rate key "a fresh allowance every request".

use std::future::{Ready, ready};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use moka::Expiry;
use moka::policy::EvictionPolicy;
use moka::sync::Cache;

use super::rate::{RateDecision, RateQuota, RateState};
use super::{NonceStore, RateStore, StoreError};
use crate::time::{Clock, SharedClock, SystemClock};

/// Default bound on remembered keys.
const DEFAULT_CAPACITY: u64 = 1_000_000;

/// Each entry lives exactly as long as the ttl it was inserted with.
struct TtlExpiry;

impl Expiry<String, Duration> for TtlExpiry {
    fn expire_after_create(&self, _key: &String, ttl: &Duration, _created_at: Instant) -> Option<Duration> {
        Some(*ttl)
    }
}

/// An in-memory [`NonceStore`], bounded to a maximum number of nonces.
///
/// A nonce is remembered for its ttl. When the bound is reached the least recently inserted
/// nonce is forgotten early, which would let it be replayed before its ttl ends: size the
/// bound above your peak request rate times the replay window (1,000,000 by default, about
/// 1,100 requests per second over 15 minutes).
///
/// ```
/// use std::time::Duration;
/// use tollgate_core::{MemoryNonceStore, NonceStore};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let store = MemoryNonceStore::new();
/// let ttl = Duration::from_secs(900);
/// assert!(store.insert_if_absent("app-key:3f2b", ttl).await.unwrap());
/// assert!(!store.insert_if_absent("app-key:3f2b", ttl).await.unwrap()); // a replay
/// # }
/// ```
#[derive(Clone)]
pub struct MemoryNonceStore {
    cache: Cache<String, Duration>,
}

impl std::fmt::Debug for MemoryNonceStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryNonceStore").field("entries", &self.cache.entry_count()).finish()
    }
}

impl Default for MemoryNonceStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryNonceStore {
    /// Remembers up to 1,000,000 nonces.
    pub fn new() -> Self {
        Self::with_capacity(DEFAULT_CAPACITY)
    }

    /// Remembers up to `capacity` nonces.
    pub fn with_capacity(capacity: u64) -> Self {
        let cache = Cache::builder()
            .max_capacity(capacity)
            .eviction_policy(EvictionPolicy::lru())
            .expire_after(TtlExpiry)
            .build();
        Self { cache }
    }

    /// Nonces currently remembered (approximate: moka counts lazily).
    pub fn len(&self) -> u64 {
        self.cache.run_pending_tasks();
        self.cache.entry_count()
    }

    /// Whether no nonce is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The synchronous form of [`NonceStore::insert_if_absent`].
    pub fn insert_if_absent_now(&self, key: &str, ttl: Duration) -> bool {
        // `or_insert_with` coalesces concurrent inserts of one key so exactly one caller sees a
        // fresh entry; plain `or_insert` does not, and lets a concurrent replay through.
        self.cache.entry_by_ref(key).or_insert_with(|| ttl).is_fresh()
    }
}

impl NonceStore for MemoryNonceStore {
    type Future = Ready<Result<bool, StoreError>>;

    fn insert_if_absent(&self, key: &str, ttl: Duration) -> Self::Future {
        ready(Ok(self.insert_if_absent_now(key, ttl)))
    }
}

/// A rate key's state and the window it lives for after its last use.
struct Slot {
    state: Mutex<RateState>,
    idle_ttl: Duration,
}

/// Forget a key once it has been idle for its quota's window: by then its state equals a
/// fresh one (GCRA's arrival time and a fixed window's count have both lapsed), so eviction
/// loses nothing.
struct IdleExpiry;

impl Expiry<String, Arc<Slot>> for IdleExpiry {
    fn expire_after_create(&self, _key: &String, slot: &Arc<Slot>, _at: Instant) -> Option<Duration> {
        Some(slot.idle_ttl)
    }

    fn expire_after_read(
        &self,
        _key: &String,
        slot: &Arc<Slot>,
        _at: Instant,
        _remaining: Option<Duration>,
        _modified: Instant,
    ) -> Option<Duration> {
        Some(slot.idle_ttl)
    }
}

/// An in-memory [`RateStore`], bounded to a maximum number of keys; idle keys are evicted
/// after their quota's window, so memory stays flat under millions of distinct keys.
///
/// ```
/// use std::num::NonZeroU32;
/// use std::time::Duration;
/// use tollgate_core::{ManualClock, MemoryRateStore, RateQuota, RateStore};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let clock = ManualClock::at_unix(Duration::from_secs(1_700_000_000));
/// let store = MemoryRateStore::new().with_clock(clock.clone());
/// let quota = RateQuota::new(NonZeroU32::new(2).unwrap(), Duration::from_secs(1)).unwrap();
/// assert!(store.take("ip:10.0.0.1", &quota, 1).await.unwrap().allowed);
/// assert!(store.take("ip:10.0.0.1", &quota, 1).await.unwrap().allowed);
/// assert!(!store.take("ip:10.0.0.1", &quota, 1).await.unwrap().allowed);
/// clock.advance(Duration::from_millis(500));
/// assert!(store.take("ip:10.0.0.1", &quota, 1).await.unwrap().allowed);
/// # }
/// ```
#[derive(Clone)]
pub struct MemoryRateStore {
    cache: Cache<String, Arc<Slot>>,
    clock: SharedClock,
}

impl std::fmt::Debug for MemoryRateStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryRateStore").field("keys", &self.cache.entry_count()).finish()
    }
}

impl Default for MemoryRateStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryRateStore {
    /// Up to 1,000,000 keys, system clock.
    pub fn new() -> Self {
        Self::with_capacity(DEFAULT_CAPACITY)
    }

    /// Up to `capacity` keys, system clock.
    pub fn with_capacity(capacity: u64) -> Self {
        let cache = Cache::builder()
            .max_capacity(capacity)
            .eviction_policy(EvictionPolicy::lru())
            .expire_after(IdleExpiry)
            .build();
        Self { cache, clock: Arc::new(SystemClock) }
    }

    /// Uses `clock` for time (a [`ManualClock`](crate::ManualClock) in tests).
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Keys currently tracked (after pending evictions run).
    pub fn len(&self) -> u64 {
        self.cache.run_pending_tasks();
        self.cache.entry_count()
    }

    /// Whether no key is tracked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The synchronous form of [`RateStore::take`].
    pub fn take_now(&self, key: &str, quota: &RateQuota, cost: u32) -> RateDecision {
        let slot = match self.cache.get(key) {
            Some(slot) => slot,
            None => self.cache.get_with_by_ref(key, || {
                Arc::new(Slot { state: Mutex::new(RateState::default()), idle_ttl: quota.window() })
            }),
        };
        let now = self.clock.since_epoch();
        // The lock guards 16 bytes of arithmetic; a poisoned lock still holds valid state.
        let mut state = slot.state.lock().unwrap_or_else(|e| e.into_inner());
        quota.apply(&mut state, now, cost)
    }
}

impl RateStore for MemoryRateStore {
    type Future = Ready<Result<RateDecision, StoreError>>;

    fn take(&self, key: &str, quota: &RateQuota, cost: u32) -> Self::Future {
        ready(Ok(self.take_now(key, quota, cost)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::num::NonZeroU32;

    #[test]
    fn nonce_expires_after_ttl() {
        let store = MemoryNonceStore::new();
        assert!(store.insert_if_absent_now("a", Duration::from_millis(50)));
        assert!(!store.insert_if_absent_now("a", Duration::from_millis(50)));
        std::thread::sleep(Duration::from_millis(120));
        assert!(store.insert_if_absent_now("a", Duration::from_millis(50)));
    }

    #[test]
    fn nonce_store_is_bounded() {
        let store = MemoryNonceStore::with_capacity(100);
        for i in 0..1_000 {
            store.insert_if_absent_now(&format!("n{i}"), Duration::from_secs(60));
        }
        assert!(store.len() <= 100, "{}", store.len());
        // the newest nonce is still remembered under LRU
        assert!(!store.insert_if_absent_now("n999", Duration::from_secs(60)));
    }

    #[test]
    fn concurrent_inserts_one_winner() {
        let store = MemoryNonceStore::new();
        let wins: usize = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    s.spawn(|| {
                        (0..5_000)
                            .filter(|i| store.insert_if_absent_now(&format!("k{i}"), Duration::from_secs(60)))
                            .count()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).sum()
        });
        assert_eq!(wins, 5_000);
    }

    #[test]
    fn rate_store_keys_are_independent_and_bounded() {
        let clock = crate::ManualClock::at_unix(Duration::from_secs(1_700_000_000));
        let store = MemoryRateStore::with_capacity(50).with_clock(clock);
        let q = RateQuota::new(NonZeroU32::new(1).unwrap(), Duration::from_secs(60)).unwrap();
        assert!(store.take_now("a", &q, 1).allowed);
        assert!(!store.take_now("a", &q, 1).allowed);
        assert!(store.take_now("b", &q, 1).allowed);
        for i in 0..500 {
            store.take_now(&format!("k{i}"), &q, 1);
        }
        assert!(store.len() <= 50);
    }

    #[test]
    fn idle_rate_keys_are_evicted() {
        let store = MemoryRateStore::new();
        let q = RateQuota::new(NonZeroU32::new(1).unwrap(), Duration::from_millis(50)).unwrap();
        for i in 0..100 {
            store.take_now(&format!("k{i}"), &q, 1);
        }
        assert!(!store.is_empty());
        // moka's timer wheel reclaims expired entries with about one second's granularity.
        std::thread::sleep(Duration::from_millis(2_500));
        assert_eq!(store.len(), 0);
    }

    #[test]
    fn concurrent_takes_never_exceed_limit() {
        let store = MemoryRateStore::new();
        let q = RateQuota::new(NonZeroU32::new(100).unwrap(), Duration::from_secs(3600)).unwrap();
        let allowed: usize = std::thread::scope(|s| {
            let handles: Vec<_> =
                (0..8).map(|_| s.spawn(|| (0..100).filter(|_| store.take_now("hot", &q, 1).allowed).count())).collect();
            handles.into_iter().map(|h| h.join().unwrap()).sum()
        });
        assert_eq!(allowed, 100);
    }
}
