//! Bounded in-memory stores over sharded tables of fingerprints: nonces, and rate
//! allowances (GCRA by `governor`, fixed and sliding windows by core's own arithmetic).

use std::future::{Ready, ready};
use std::num::NonZeroU32;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use governor::middleware::{NoOpMiddleware, StateInformationMiddleware};
use governor::nanos::Nanos;
use governor::state::{RateLimiter, StateStore};

use super::nonces::{Inserted, NonceTable};
use super::rate::{Algorithm, RateDecision, RateQuota, RateState};
use super::table::{Fingerprinter, Table};
use super::{NonceStore, RateStore, RateTake, StoreError};
use crate::time::{Clock, SharedClock, SystemClock};

/// Default bound on remembered keys.
const DEFAULT_CAPACITY: u64 = 1_000_000;

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// An in-memory [`NonceStore`], bounded to a maximum number of live nonces, and one key to a
/// share of them.
///
/// A nonce is remembered for its ttl (on the monotonic clock, rounded up to whole seconds, so
/// never shorter), as a 64-bit keyed fingerprint beside its expiry and its tenant in an
/// open-addressed table: about 40 bytes per nonce, whatever the key's length, and one cache
/// line touched per check. Expired nonces are dropped in bulk as the table is rebuilt.
///
/// A live nonce is never forgotten: replay protection rests on it. When the store holds as
/// many live nonces as its bound allows, a new one is refused ([`StoreError::Full`]; the
/// replay guard answers 503 `NonceStoreFull`) until some expire, and one tenant (a scheme and
/// key id) may hold at most [`max_share`](Self::max_share) of the bound (10% by default), so
/// one key flooding the store refuses its own requests, not everyone's. Both bounds are kept
/// per shard (64 shards), so they bite a little before the totals when nonces spread unevenly.
/// The store logs a warning, at most once a minute, while it refuses, and counts the refusals
/// in [`refused`](Self::refused).
///
/// Sizing: the bound must hold every nonce accepted within the time a nonce is kept, which
/// is twice the window plus a second (a timestamp is accepted up to the window either side
/// of now, and its nonce is kept until the timestamp leaves the window). So the bound is the
/// peak signed requests per second times that: the default 1,000,000 holds about 550 requests
/// per second with the 15-minute window (1,801 s), 1,660 with Tencent Cloud's 5 minutes (601 s).
/// And the busiest key's peak rate times that must fit in its share: a service with one
/// client key sets the share to 1, or that key is refused at a tenth of the bound.
///
/// Why not `moka` or a hash map: a nonce check is an insert into a table of up to millions
/// of keys on every signed request. moka's general machinery (access order, admission,
/// per-entry timers) made it cost 2 µs and ~390 bytes per nonce; a hash map of fingerprints
/// costs two dependent cache misses per check. Figures in `benches/README.md`.
///
/// ```
/// use std::time::Duration;
/// use tollgate_core::{MemoryNonceStore, NonceStore};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let store = MemoryNonceStore::with_capacity(100_000).max_share(0.05);
/// let ttl = Duration::from_secs(1_801);
/// assert!(store.insert_if_absent("aliyun-apigw\u{1f}203753741", "3f2b", ttl).await.unwrap());
/// assert!(!store.insert_if_absent("aliyun-apigw\u{1f}203753741", "3f2b", ttl).await.unwrap()); // a replay
/// # }
/// ```
#[derive(Clone)]
pub struct MemoryNonceStore {
    table: Arc<NonceTable>,
    capacity: u64,
    fingerprints: Fingerprinter,
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

/// The share of the bound one tenant may hold unless [`MemoryNonceStore::max_share`] says
/// otherwise.
const DEFAULT_NONCE_SHARE: f64 = 0.1;

impl MemoryNonceStore {
    /// Remembers up to 1,000,000 live nonces, a tenth of them for one key.
    pub fn new() -> Self {
        Self::with_capacity(DEFAULT_CAPACITY)
    }

    /// Remembers up to about `capacity` live nonces (the bound is kept per shard, so the
    /// store may refuse a little before the total when keys spread unevenly), a tenth of
    /// them for one key.
    pub fn with_capacity(capacity: u64) -> Self {
        Self {
            table: Arc::new(NonceTable::new(capacity, DEFAULT_NONCE_SHARE)),
            capacity,
            fingerprints: Fingerprinter::new(),
            epoch: Instant::now(),
        }
    }

    /// The share of the bound one tenant (a scheme and key id) may hold, from 0 to 1 (default
    /// 0.1): beyond it, that tenant's new nonces are refused while others' still pass. A value
    /// above 1 means 1; zero, a negative value or NaN the smallest share, one nonce per shard.
    /// Call it before the store is used: it starts the store empty.
    pub fn max_share(mut self, share: f64) -> Self {
        self.table = Arc::new(NonceTable::new(self.capacity, share));
        self
    }

    /// Nonces currently remembered (a count over the whole table: for tests and reports,
    /// not for the request path).
    pub fn len(&self) -> u64 {
        self.table.len(self.now())
    }

    /// Whether no nonce is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// New nonces refused so far because the store, or their key's share of it, was full of
    /// live nonces. Above zero, signed requests were refused (503): raise the bound or its
    /// share, or use a shared store. The store also logs a warning, at most once a minute,
    /// while it refuses.
    pub fn refused(&self) -> u64 {
        self.table.refused()
    }

    /// Whole seconds since the store was made.
    fn now(&self) -> u32 {
        u32::try_from(self.epoch.elapsed().as_secs()).unwrap_or(u32::MAX)
    }

    /// The synchronous form of [`NonceStore::insert_if_absent`].
    pub fn insert_if_absent_now(&self, tenant: &str, nonce: &str, ttl: Duration) -> Result<bool, StoreError> {
        let fp = self.fingerprints.of((tenant, nonce));
        let tag = self.fingerprints.of(tenant) as u32;
        let elapsed = self.epoch.elapsed();
        let now = u32::try_from(elapsed.as_secs()).unwrap_or(u32::MAX);
        // rounded up to the next whole second: a nonce is never kept shorter than its ttl
        let until = elapsed.saturating_add(ttl);
        let expiry = until.as_secs().saturating_add(u64::from(until.subsec_nanos() > 0));
        let expiry = u32::try_from(expiry).unwrap_or(u32::MAX);
        match self.table.insert(fp, tag, now, expiry) {
            Inserted::New => Ok(true),
            Inserted::Live => Ok(false),
            Inserted::Full => Err(StoreError::Full),
        }
    }
}

impl NonceStore for MemoryNonceStore {
    type Future = Ready<Result<bool, StoreError>>;

    fn insert_if_absent(&self, tenant: &str, nonce: &str, ttl: Duration) -> Self::Future {
        ready(self.insert_if_absent_now(tenant, nonce, ttl))
    }

    fn insert_if_absent_at_once(&self, tenant: &str, nonce: &str, ttl: Duration) -> Option<Result<bool, StoreError>> {
        Some(self.insert_if_absent_now(tenant, nonce, ttl))
    }
}

/// `governor`'s clock, read from ours: time since the Unix epoch, so a [`ManualClock`](crate::ManualClock)
/// drives the limiter in tests.
#[derive(Debug, Clone)]
struct GovernorClock(SharedClock);

thread_local! {
    /// The time governor last read on this thread, in nanoseconds: it reads the clock just
    /// before it updates a key's state, and the state's expiry is reckoned from the same
    /// reading rather than from a second one.
    static LAST_READING: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

impl governor::clock::Clock for GovernorClock {
    type Instant = Duration;

    fn now(&self) -> Duration {
        let now = self.0.since_epoch();
        LAST_READING.with(|last| last.set(nanos(now)));
        now
    }
}

/// `governor`'s keyed state, kept in our bounded table: a key's arrival time lives as long as
/// it can differ from a fresh key's (one window after its last use), then it is dropped.
struct GovernorState {
    table: Arc<Table<RateState>>,
    idle: u64,
}

impl StateStore for GovernorState {
    type Key = u64;

    fn measure_and_replace<T, F, E>(&self, fp: &u64, f: F) -> Result<T, E>
    where
        F: Fn(Option<Nanos>) -> Result<(T, Nanos), E>,
    {
        let now = LAST_READING.with(std::cell::Cell::get);
        let mut slot = self.table.update(*fp, now);
        let expiry = now.saturating_add(self.idle);
        let (entry, live) = slot.entry(expiry);
        let (answer, tat) = f(live.then(|| Nanos::from(entry.value.a)))?;
        entry.value = RateState { a: tat.into(), ..RateState::default() };
        entry.expiry = expiry;
        Ok(answer)
    }
}

type Limiter = RateLimiter<u64, GovernorState, GovernorClock, StateInformationMiddleware>;
type Limiters = Vec<(RateQuota, Limiter)>;

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
    table: Arc<Table<RateState>>,
    fingerprints: Fingerprinter,
    clock: SharedClock,
    /// One `governor` limiter per GCRA quota, all over the one table.
    /// A policy has a handful of quotas: a short list compares faster than a map hashes.
    limiters: Arc<RwLock<Limiters>>,
}

impl std::fmt::Debug for MemoryRateStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryRateStore").field("keys", &self.len()).finish()
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

    /// Up to about `capacity` keys (kept per shard), system clock. When full, the keys
    /// closest to going idle are forgotten first (they start again with a whole allowance).
    pub fn with_capacity(capacity: u64) -> Self {
        Self {
            table: Arc::new(Table::with_capacity(capacity)),
            fingerprints: Fingerprinter::new(),
            clock: Arc::new(SystemClock),
            limiters: Arc::default(),
        }
    }

    /// Uses `clock` for time (a [`ManualClock`](crate::ManualClock) in tests).
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self.limiters = Arc::default();
        self
    }

    /// Keys currently tracked (idle ones are dropped once their second has passed).
    pub fn len(&self) -> u64 {
        self.table.sweep(nanos(self.clock.since_epoch()));
        self.table.len()
    }

    /// Whether no key is tracked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Runs `f` on `quota`'s limiter, made on first use. A known quota (every request after
    /// a policy's first) is used under the read lock, without touching a reference count.
    fn with_limiter<T>(&self, quota: &RateQuota, f: impl FnOnce(&Limiter) -> T) -> T {
        let find = |list: &Limiters| list.iter().position(|(q, _)| q == quota);
        let limiters = self.limiters.read().unwrap_or_else(|e| e.into_inner());
        if let Some(at) = find(&limiters) {
            return f(&limiters[at].1);
        }
        drop(limiters);
        let mut limiters = self.limiters.write().unwrap_or_else(|e| e.into_inner());
        if let Some(at) = find(&limiters) {
            return f(&limiters[at].1);
        }
        // the interval in whole nanoseconds, as core's arithmetic (and Redis) computes it
        let gov = governor::Quota::with_period(Duration::from_nanos(quota.interval()))
            .unwrap_or_else(|| governor::Quota::per_second(NonZeroU32::MIN))
            .allow_burst(NonZeroU32::new(quota.limit()).unwrap_or(NonZeroU32::MIN));
        let state = GovernorState {
            table: Arc::clone(&self.table),
            idle: quota.interval().saturating_mul(u64::from(quota.limit())),
        };
        let plain: RateLimiter<u64, GovernorState, GovernorClock, NoOpMiddleware<Duration>> =
            RateLimiter::new(gov, state, GovernorClock(Arc::clone(&self.clock)));
        limiters.push((*quota, plain.with_middleware()));
        f(&limiters[limiters.len() - 1].1)
    }

    /// The synchronous form of [`RateStore::take`].
    pub fn take_now(&self, key: &str, quota: &RateQuota, cost: u32) -> RateDecision {
        let fp = self.fingerprints.of((quota, key));
        match quota.algorithm() {
            Algorithm::Gcra => self.take_gcra(fp, quota, cost),
            _ => {
                let now = self.clock.since_epoch();
                let mut slot = self.table.update(fp, nanos(now));
                // a fixed window's state lapses after one window, a sliding window's after 1.1
                let expiry = nanos(now).saturating_add(nanos(quota.window()).saturating_mul(11) / 10 + 1);
                let (entry, live) = slot.entry(expiry);
                let mut state = if live { std::mem::take(&mut entry.value) } else { RateState::default() };
                let decision = quota.apply(&mut state, now, cost);
                entry.value = state;
                entry.expiry = expiry;
                decision
            }
        }
    }

    fn take_gcra(&self, fp: u64, quota: &RateQuota, cost: u32) -> RateDecision {
        let limit = quota.limit();
        let interval = Duration::from_nanos(quota.interval());
        let Some(n) = NonZeroU32::new(cost) else {
            return RateDecision {
                allowed: true,
                limit,
                remaining: limit,
                reset_after: Duration::ZERO,
                retry_after: None,
            };
        };
        match self.with_limiter(quota, |limiter| limiter.check_key_n(&fp, n)) {
            Ok(Ok(snapshot)) => {
                let remaining = snapshot.remaining_burst_capacity().min(limit);
                RateDecision {
                    allowed: true,
                    limit,
                    remaining,
                    reset_after: interval * (limit - remaining),
                    retry_after: None,
                }
            }
            Ok(Err(not_until)) => {
                // governor tells when `cost` could pass; a single request needs `cost - 1`
                // intervals less, and the bucket is whole `limit - cost` intervals after that
                let wait = not_until.wait_time_from(self.clock.since_epoch());
                let t = quota.interval();
                let remaining =
                    (t.saturating_mul(u64::from(cost)).saturating_sub(nanos(wait)) / t).min(u64::from(limit));
                RateDecision {
                    allowed: false,
                    limit,
                    remaining: remaining as u32,
                    reset_after: wait + interval * (limit - cost),
                    retry_after: Some(wait),
                }
            }
            Err(_) => {
                RateDecision { allowed: false, limit, remaining: 0, reset_after: Duration::ZERO, retry_after: None }
            }
        }
    }

    /// Gives back `cost` to `key` under `quota` (see [`RateStore::take_all`]).
    fn refund(&self, key: &str, quota: &RateQuota, cost: u32) {
        let fp = self.fingerprints.of((quota, key));
        let now = self.clock.since_epoch();
        let mut slot = self.table.update(fp, nanos(now));
        if let Some(state) = slot.get() {
            if quota.algorithm() == Algorithm::Gcra {
                // governor keeps the arrival time relative to the limiter's start
                state.a = state.a.saturating_sub(quota.interval().saturating_mul(u64::from(cost)));
            } else {
                quota.refund(state, now, cost);
            }
        }
    }

    /// The synchronous form of [`RateStore::take_all`].
    pub fn take_all_now(&self, takes: &[RateTake<'_>], cost: u32) -> Vec<RateDecision> {
        let mut decisions = Vec::with_capacity(takes.len());
        for take in takes {
            let decision = self.take_now(take.key, take.quota, cost);
            decisions.push(decision);
            if !decision.allowed {
                for (earlier, _) in takes.iter().zip(&decisions).take(decisions.len() - 1) {
                    self.refund(earlier.key, earlier.quota, cost);
                }
                break;
            }
        }
        decisions
    }
}

impl RateStore for MemoryRateStore {
    type Future = Ready<Result<RateDecision, StoreError>>;
    type AllFuture = Ready<Result<Vec<RateDecision>, StoreError>>;

    fn take(&self, key: &str, quota: &RateQuota, cost: u32) -> Self::Future {
        ready(Ok(self.take_now(key, quota, cost)))
    }

    fn take_all(&self, takes: &[RateTake<'_>], cost: u32) -> Self::AllFuture {
        ready(Ok(self.take_all_now(takes, cost)))
    }

    fn take_all_at_once(&self, takes: &[RateTake<'_>], cost: u32) -> Option<Result<Vec<RateDecision>, StoreError>> {
        Some(Ok(self.take_all_now(takes, cost)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::num::NonZeroU32;

    #[test]
    fn nonce_expires_after_ttl_rounded_up_to_a_second() {
        let store = MemoryNonceStore::new();
        let ttl = Duration::from_millis(50);
        assert_eq!(store.insert_if_absent_now("t", "a", ttl), Ok(true));
        assert_eq!(store.insert_if_absent_now("t", "a", ttl), Ok(false));
        assert_eq!(store.insert_if_absent_now("u", "a", ttl), Ok(true), "nonces are per tenant");
        std::thread::sleep(Duration::from_millis(2_100));
        assert_eq!(store.insert_if_absent_now("t", "a", ttl), Ok(true));
        assert_eq!(store.refused(), 0);
    }

    #[test]
    fn a_full_nonce_store_refuses_and_forgets_nothing() {
        let store = MemoryNonceStore::with_capacity(640).max_share(1.0); // 10 per shard
        let accepted: Vec<String> = (0..10_000)
            .map(|i| format!("n{i}"))
            .filter(|n| match store.insert_if_absent_now("t", n, Duration::from_secs(60)) {
                Ok(new) => new,
                Err(e) => {
                    assert_eq!(e, StoreError::Full);
                    false
                }
            })
            .collect();
        assert_eq!(store.len(), accepted.len() as u64);
        assert_eq!(accepted.len(), 640, "each shard fills to its bound");
        assert_eq!(store.refused(), 10_000 - 640);
        for n in &accepted {
            assert_eq!(store.insert_if_absent_now("t", n, Duration::from_secs(60)), Ok(false), "{n} forgotten");
        }
    }

    #[test]
    fn one_key_holds_at_most_its_share() {
        let store = MemoryNonceStore::with_capacity(64 * 100).max_share(0.1); // 10 per shard for a key
        let flood = (0..10_000)
            .filter(|i| store.insert_if_absent_now("a", &format!("n{i}"), Duration::from_secs(60)) == Ok(true))
            .count();
        assert_eq!(flood, 640, "a holds a tenth of each shard");
        let others = (0..10_000)
            .filter(|i| store.insert_if_absent_now("b", &format!("n{i}"), Duration::from_secs(60)) == Ok(true))
            .count();
        assert_eq!(others, 640, "b has a share of its own");
        // out-of-range shares are clamped, never a panic
        for share in [f64::NAN, -1.0, 0.0, 7.0, f64::INFINITY] {
            let store = MemoryNonceStore::with_capacity(64).max_share(share);
            assert_eq!(store.insert_if_absent_now("a", "n", Duration::from_secs(1)), Ok(true));
        }
        let _ = MemoryNonceStore::with_capacity(u64::MAX).max_share(0.5);
        let store = MemoryNonceStore::with_capacity(0);
        assert_eq!(store.insert_if_absent_now("a", "n", Duration::MAX), Ok(true));
    }

    #[test]
    fn concurrent_inserts_one_winner() {
        let store = MemoryNonceStore::new().max_share(1.0);
        let wins: usize = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    s.spawn(|| {
                        (0..5_000)
                            .filter(|i| {
                                store.insert_if_absent_now("t", &format!("k{i}"), Duration::from_secs(60)) == Ok(true)
                            })
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
        let store = MemoryRateStore::with_capacity(640).with_clock(clock);
        let q = RateQuota::new(NonZeroU32::new(1).unwrap(), Duration::from_secs(60)).unwrap();
        assert!(store.take_now("a", &q, 1).allowed);
        assert!(!store.take_now("a", &q, 1).allowed);
        assert!(store.take_now("b", &q, 1).allowed);
        for i in 0..5_000 {
            store.take_now(&format!("k{i}"), &q, 1);
        }
        let len = store.len();
        assert!((600..=640).contains(&len), "{len}");
    }

    #[test]
    fn idle_rate_keys_are_evicted() {
        let clock = crate::ManualClock::at_unix(Duration::from_secs(1_700_000_000));
        let store = MemoryRateStore::new().with_clock(clock.clone());
        for algorithm in [Algorithm::Gcra, Algorithm::FixedWindow { offset: Duration::ZERO }, Algorithm::SlidingWindow]
        {
            let q =
                RateQuota::new(NonZeroU32::new(2).unwrap(), Duration::from_secs(10)).unwrap().with_algorithm(algorithm);
            for i in 0..100 {
                store.take_now(&format!("k{i}"), &q, 1);
            }
            assert_eq!(store.len(), 100, "{algorithm:?}");
            clock.advance(Duration::from_secs(5));
            assert!(store.take_now("k0", &q, 1).allowed, "{algorithm:?}"); // still in use
            // one window (a sliding window: 1.1) after the last use, plus the second's granularity
            clock.advance(Duration::from_secs(8));
            assert_eq!(store.len(), 1, "{algorithm:?}");
            clock.advance(Duration::from_secs(10));
            assert_eq!(store.len(), 0, "{algorithm:?}");
        }
    }

    #[test]
    fn take_all_gives_back_when_a_later_limit_refuses() {
        let clock = crate::ManualClock::at_unix(Duration::from_secs(1_700_000_000));
        let store = MemoryRateStore::new().with_clock(clock);
        for algorithm in [Algorithm::Gcra, Algorithm::FixedWindow { offset: Duration::ZERO }, Algorithm::SlidingWindow]
        {
            let api =
                RateQuota::new(NonZeroU32::new(3).unwrap(), Duration::from_secs(60)).unwrap().with_algorithm(algorithm);
            let app =
                RateQuota::new(NonZeroU32::new(1).unwrap(), Duration::from_secs(60)).unwrap().with_algorithm(algorithm);
            let api_key = format!("api:{algorithm:?}");
            let takes = [RateTake { key: &api_key, quota: &api }, RateTake { key: "app:a", quota: &app }];
            assert!(store.take_all_now(&takes, 1).iter().all(|d| d.allowed));
            // app a is over its limit: the API allowance it would have used is given back
            for _ in 0..5 {
                let decisions = store.take_all_now(&takes, 1);
                assert_eq!(decisions.len(), 2);
                assert!(decisions[0].allowed && !decisions[1].allowed, "{algorithm:?}");
            }
            let others = [RateTake { key: &api_key, quota: &api }];
            assert!(store.take_all_now(&others, 1)[0].allowed, "{algorithm:?}");
            assert!(store.take_all_now(&others, 1)[0].allowed, "{algorithm:?}");
            assert!(!store.take_all_now(&others, 1)[0].allowed, "{algorithm:?}: 3 in all");
        }
    }

    #[test]
    fn concurrent_takes_never_exceed_limit() {
        let store = MemoryRateStore::new();
        for algorithm in [Algorithm::Gcra, Algorithm::FixedWindow { offset: Duration::ZERO }, Algorithm::SlidingWindow]
        {
            let q = RateQuota::new(NonZeroU32::new(100).unwrap(), Duration::from_secs(3600))
                .unwrap()
                .with_algorithm(algorithm);
            let allowed: usize = std::thread::scope(|s| {
                let handles: Vec<_> = (0..8)
                    .map(|_| s.spawn(|| (0..100).filter(|_| store.take_now("hot", &q, 1).allowed).count()))
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap()).sum()
            });
            assert_eq!(allowed, 100, "{algorithm:?}");
        }
    }
}
