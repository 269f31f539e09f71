//! Bounded in-memory stores: nonces in a sharded table of fingerprints, rate allowances in
//! `moka`.
//!
//! The rate store uses least-recently-used eviction, not moka's default TinyLFU admission:
//! TinyLFU may decline to admit a new key at all, which for a rate key means "a fresh
//! allowance every request".

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

/// Nonces are kept in this many independently locked shards, so concurrent requests rarely
/// wait on each other.
const SHARDS: usize = 64;

/// A nonce key reduced to 64 bits by a keyed SipHash: the store keeps 8 bytes per nonce
/// whatever its length. Two nonces share a fingerprint with odds of about one in 2^64 per
/// pair; the only effect would be refusing one fresh request as a replay, never admitting a
/// replay. The key is random per store, so no one can aim for a collision.
#[derive(Debug, Clone)]
struct Fingerprinter(std::hash::RandomState);

impl Fingerprinter {
    fn new() -> Self {
        Self(std::hash::RandomState::new())
    }

    fn of(&self, key: &str) -> u64 {
        use std::hash::BuildHasher;
        self.0.hash_one(key)
    }
}

/// Hashing a fingerprint again would be wasted work: it is already uniformly random.
#[derive(Default)]
struct PassThrough(u64);

impl std::hash::Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // only u64 fingerprints are hashed; fold anything else in for completeness
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        // The low bits chose the shard: rotate them away from the bits the table indexes by.
        self.0 = n.rotate_left(32);
    }
}

type FingerprintMap = std::collections::HashMap<u64, u64, std::hash::BuildHasherDefault<PassThrough>>;

/// One shard: fingerprint -> expiry (nanoseconds since the store's epoch), and the same
/// fingerprints bucketed by expiry second, so expired nonces are dropped a bucket at a time
/// and, when the shard is full, the soonest-expiring go first.
#[derive(Default)]
struct Shard {
    expiries: FingerprintMap,
    buckets: std::collections::BTreeMap<u64, Vec<u64>>,
}

const NANOS_PER_SEC: u64 = 1_000_000_000;

impl Shard {
    /// Drops every bucket whose whole second has passed.
    fn expire(&mut self, now: u64) {
        while let Some(entry) = self.buckets.first_entry() {
            if (*entry.key() + 1) * NANOS_PER_SEC > now {
                break;
            }
            for fp in entry.remove() {
                if self.expiries.get(&fp).is_some_and(|&exp| exp <= now) {
                    self.expiries.remove(&fp);
                }
            }
        }
    }

    /// Forgets one of the soonest-expiring nonces, expired or not (the bound is reached).
    fn evict_one(&mut self) {
        while let Some(mut bucket) = self.buckets.first_entry() {
            let second = *bucket.key();
            let Some(fp) = bucket.get_mut().pop() else {
                bucket.remove();
                continue;
            };
            // skip entries made stale by a later insert of the same fingerprint
            if self.expiries.get(&fp).is_some_and(|&exp| exp / NANOS_PER_SEC == second) {
                self.expiries.remove(&fp);
                return;
            }
        }
    }

    fn insert_if_absent(&mut self, fp: u64, now: u64, expiry: u64, capacity: usize) -> bool {
        self.expire(now);
        if self.expiries.get(&fp).is_some_and(|&exp| exp > now) {
            return false;
        }
        while self.expiries.len() >= capacity && !self.buckets.is_empty() {
            self.evict_one();
        }
        self.expiries.insert(fp, expiry);
        self.buckets.entry(expiry / NANOS_PER_SEC).or_default().push(fp);
        true
    }
}

/// An in-memory [`NonceStore`], bounded to a maximum number of nonces.
///
/// A nonce is remembered for its ttl (on the monotonic clock), as a 64-bit keyed
/// fingerprint: under 100 bytes per nonce with the table's overhead, whatever the key's length. Expired nonces are
/// dropped in bulk as time passes. When the bound is reached, the nonces closest to expiry
/// are forgotten first, which lets them be replayed before their ttl ends: size the bound
/// above your peak request rate times the replay window (1,000,000 by default, about 1,100
/// requests per second over 15 minutes).
///
/// Why not `moka`, used elsewhere: a nonce check is an insert into a table of up to
/// millions of keys on every signed request, and moka's general machinery (access order,
/// admission, per-entry timers) made it cost 2 µs and ~390 bytes per nonce; this plain
/// sharded table does it in a fraction of that (figures in `benches/README.md`).
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
    shards: Arc<[Mutex<Shard>]>,
    fingerprints: Fingerprinter,
    capacity_per_shard: usize,
    epoch: Instant,
}

impl std::fmt::Debug for MemoryNonceStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryNonceStore").field("nonces", &self.len()).finish()
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

    /// Remembers up to about `capacity` nonces (the bound is kept per shard, so the total
    /// may fall short of it by a little when keys spread unevenly).
    pub fn with_capacity(capacity: u64) -> Self {
        let per_shard = usize::try_from(capacity.div_ceil(SHARDS as u64)).unwrap_or(usize::MAX).max(1);
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            fingerprints: Fingerprinter::new(),
            capacity_per_shard: per_shard,
            epoch: Instant::now(),
        }
    }

    fn lock(&self, fp: u64) -> std::sync::MutexGuard<'_, Shard> {
        // A poisoned shard still holds a consistent table: every mutation is a single call.
        // The low bits pick the shard; the table inside indexes by the others (see PassThrough).
        self.shards[fp as usize % SHARDS].lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Nonces currently remembered (expired ones may be counted until their second passes).
    pub fn len(&self) -> u64 {
        self.shards.iter().map(|s| s.lock().unwrap_or_else(|e| e.into_inner()).expiries.len() as u64).sum()
    }

    /// Whether no nonce is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The synchronous form of [`NonceStore::insert_if_absent`].
    pub fn insert_if_absent_now(&self, key: &str, ttl: Duration) -> bool {
        let fp = self.fingerprints.of(key);
        let now = u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let expiry = now.saturating_add(u64::try_from(ttl.as_nanos()).unwrap_or(u64::MAX));
        self.lock(fp).insert_if_absent(fp, now, expiry, self.capacity_per_shard)
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
    fn nonce_store_is_bounded_and_forgets_soonest_expiring_first() {
        let store = MemoryNonceStore::with_capacity(640); // 10 per shard
        for i in 0..10_000 {
            store.insert_if_absent_now(&format!("n{i}"), Duration::from_secs(60));
        }
        assert!(store.len() <= 640, "{}", store.len());
        assert!(store.len() >= 600, "eviction forgets one nonce at a time: {}", store.len());
        // long-lived nonces outlast short-lived ones when the bound bites
        let store = MemoryNonceStore::with_capacity(64 * 20);
        for i in 0..640 {
            store.insert_if_absent_now(&format!("long{i}"), Duration::from_secs(3600));
        }
        for i in 0..10_000 {
            store.insert_if_absent_now(&format!("short{i}"), Duration::from_secs(5));
        }
        let kept =
            (0..640).filter(|i| !store.insert_if_absent_now(&format!("long{i}"), Duration::from_secs(3600))).count();
        assert!(kept >= 600, "only {kept} of 640 long-lived nonces kept");
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
