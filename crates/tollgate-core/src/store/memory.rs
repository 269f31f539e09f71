//! Bounded in-memory stores over sharded tables of fingerprints: nonces, and rate
//! allowances (GCRA, fixed and sliding windows by core's own arithmetic).

use std::future::{Ready, ready};
use std::sync::Arc;
use std::time::Duration;

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
/// key id) may hold at most [`max_share`](Self::max_share) of the bound (half by default), so
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
/// client key sets the share to 1, or that key is refused at half the bound.
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
    clock: SharedClock,
    /// The clock's monotonic reading when the store was made: nonce times are whole seconds
    /// since then.
    origin: Duration,
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
const DEFAULT_NONCE_SHARE: f64 = 0.5;

impl MemoryNonceStore {
    /// Remembers up to 1,000,000 live nonces, half of them for one key.
    pub fn new() -> Self {
        Self::with_capacity(DEFAULT_CAPACITY)
    }

    /// Remembers up to about `capacity` live nonces (the bound is kept per shard, so the
    /// store may refuse a little before the total when keys spread unevenly), half of them
    /// for one key.
    pub fn with_capacity(capacity: u64) -> Self {
        Self {
            table: Arc::new(NonceTable::new(capacity, DEFAULT_NONCE_SHARE)),
            capacity,
            fingerprints: Fingerprinter::new(),
            clock: Arc::new(SystemClock),
            origin: SystemClock.monotonic(),
        }
    }

    /// The share of the bound one tenant (a scheme and key id) may hold, from 0 to 1 (default
    /// 0.5): beyond it, that tenant's new nonces are refused while others' still pass. A value
    /// above 1 means 1; zero, a negative value or NaN the smallest share, one nonce per shard.
    /// Call it before the store is used: it starts the store empty.
    pub fn max_share(mut self, share: f64) -> Self {
        self.table = Arc::new(NonceTable::new(self.capacity, share));
        self
    }

    /// Uses `clock` for time (a [`ManualClock`](crate::ManualClock) in tests): a nonce is
    /// kept for its ttl on the clock's [`monotonic`](Clock::monotonic) reading, so a step of
    /// the wall clock does not forget it early. Call it before the store is used.
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.origin = clock.monotonic();
        self.clock = Arc::new(clock);
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

    /// Time since the store was made.
    fn elapsed(&self) -> Duration {
        self.clock.monotonic().saturating_sub(self.origin)
    }

    /// Whole seconds since the store was made.
    fn now(&self) -> u32 {
        u32::try_from(self.elapsed().as_secs()).unwrap_or(u32::MAX)
    }

    /// The synchronous form of [`NonceStore::insert_if_absent`].
    pub fn insert_if_absent_now(&self, tenant: &str, nonce: &str, ttl: Duration) -> Result<bool, StoreError> {
        let (tag, fp) = self.fingerprints.of_nonce(tenant, nonce);
        let elapsed = self.elapsed();
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

/// An in-memory [`RateStore`], bounded to a maximum number of keys; idle keys are evicted
/// after their quota's window, so memory stays flat under millions of distinct keys.
///
/// Every algorithm runs on core's own arithmetic ([`RateQuota::apply`]), the same the Redis
/// store runs, so the two answer alike. A key is kept as long as its state can differ from a
/// fresh key's (a window after its last use). When the table is full of such live keys, a
/// request with a new key is refused with [`StoreError::Full`] rather than forget a live
/// counter (forgetting one would hand its key a whole allowance: flooding distinct keys
/// would reset a throttled one); [`evict_when_full`](Self::evict_when_full) chooses
/// availability instead.
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
    capacity: u64,
    fingerprints: Fingerprinter,
    clock: SharedClock,
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

    /// Up to about `capacity` keys (kept per shard, so a new key may be refused a little
    /// before the total is reached when keys spread unevenly), system clock. When full of
    /// live keys, a new key is refused ([`StoreError::Full`]).
    pub fn with_capacity(capacity: u64) -> Self {
        Self {
            table: Arc::new(Table::with_capacity(capacity, false)),
            capacity,
            fingerprints: Fingerprinter::new(),
            clock: Arc::new(SystemClock),
        }
    }

    /// When full of live keys, forget the one closest to going idle for a new key instead of
    /// refusing the new key. This weakens the limits: a forgotten key starts again with a
    /// whole allowance, so a client able to send requests with many distinct keys (client
    /// IPs, parameter values) can reset a throttled key's counter. Choose it only when
    /// refusing requests with new keys is worse for you than that. Off by default.
    pub fn evict_when_full(mut self, evict: bool) -> Self {
        self.table = Arc::new(Table::with_capacity(self.capacity, evict));
        self
    }

    /// Uses `clock` for time (a [`ManualClock`](crate::ManualClock) in tests): its
    /// [`monotonic`](Clock::monotonic) reading for GCRA and for when idle keys go, its
    /// wall-clock reading for the windows' boundaries (aligned to the calendar, as the Redis
    /// store aligns them). Call it before the store is used.
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Keys currently tracked (idle ones are dropped once their second has passed).
    pub fn len(&self) -> u64 {
        self.table.sweep(nanos(self.clock.monotonic()));
        self.table.len()
    }

    /// Whether no key is tracked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How often the bound was reached: new keys refused (or, with
    /// [`evict_when_full`](Self::evict_when_full), live keys forgotten). Above zero, raise the
    /// bound or use a shared store. The store also logs a warning, at most once a minute,
    /// when it happens.
    pub fn at_bound(&self) -> u64 {
        self.table.at_bound()
    }

    /// The synchronous form of [`RateStore::take`].
    pub fn take_now(&self, key: &str, quota: &RateQuota, cost: u32) -> Result<RateDecision, StoreError> {
        let mut decision = [RateDecision::default()];
        self.take_into(&[RateTake::new(key, quota)], cost, &mut decision)?;
        Ok(decision[0])
    }

    /// The synchronous form of [`RateStore::take_all`].
    pub fn take_all_now(&self, takes: &[RateTake<'_>], cost: u32) -> Result<Vec<RateDecision>, StoreError> {
        let mut decisions = vec![RateDecision::default(); takes.len()];
        let taken = self.take_into(takes, cost, &mut decisions)?;
        decisions.truncate(taken);
        Ok(decisions)
    }

    /// Takes `cost` from each of `takes` in order, all or nothing, writing the decisions into
    /// `decisions` and returning how many were made (up to the first refusal). The clock is
    /// read once for the whole request.
    fn take_into(
        &self,
        takes: &[RateTake<'_>],
        cost: u32,
        decisions: &mut [RateDecision],
    ) -> Result<usize, StoreError> {
        if decisions.len() < takes.len() {
            return Err(StoreError::Unavailable("fewer decision slots than limits to take".into()));
        }
        let mut now = Now::read(&*self.clock);
        for (i, (take, out)) in takes.iter().zip(decisions).enumerate() {
            let decision = match self.take_one(take, cost, &mut now) {
                Ok(decision) => decision,
                Err(e) => {
                    self.refund_all(&takes[..i], cost, &mut now);
                    return Err(e);
                }
            };
            *out = decision;
            if !decision.allowed {
                self.refund_all(&takes[..i], cost, &mut now);
                return Ok(i + 1);
            }
        }
        Ok(takes.len())
    }

    fn take_one(&self, take: &RateTake<'_>, cost: u32, now: &mut Now<'_>) -> Result<RateDecision, StoreError> {
        let quota = &take.quota;
        let fp = self.fingerprints.of_take(quota, &take.key);
        let mut slot = self.table.update(fp, nanos(now.monotonic));
        // A key's state matters until it is no different from a fresh key's: GCRA's arrival
        // time is at most a burst (limit intervals) ahead; a fixed window's count lapses
        // after one window, a sliding window's after 1.1.
        let keep = match quota.algorithm() {
            Algorithm::Gcra => quota.interval().saturating_mul(u64::from(quota.limit())),
            _ => nanos(quota.window()).saturating_mul(11) / 10 + 1,
        };
        let expiry = nanos(now.monotonic).saturating_add(keep);
        let (entry, live) = slot.entry(expiry).map_err(|_| StoreError::Full)?;
        let mut state = if live { std::mem::take(&mut entry.value) } else { RateState::default() };
        let decision = quota.apply(&mut state, now.for_quota(quota), cost);
        entry.value = state;
        entry.expiry = entry.expiry.max(expiry);
        Ok(decision)
    }

    /// Gives back what `takes` took (see [`RateStore::take_all`]).
    fn refund_all(&self, takes: &[RateTake<'_>], cost: u32, now: &mut Now<'_>) {
        for take in takes {
            let fp = self.fingerprints.of_take(&take.quota, &take.key);
            let mut slot = self.table.update(fp, nanos(now.monotonic));
            if let Some(state) = slot.get() {
                take.quota.refund(state, now.for_quota(&take.quota), cost);
            }
        }
    }
}

/// One request's reading of the clock: the monotonic time (the table's time line, and
/// GCRA's, so that a step of the wall clock neither frees nor blocks a limiter), and the
/// wall-clock time the windows are aligned to (a fixed window's calendar boundaries, a
/// sliding window's sub-windows, as the Redis store aligns them), read only if needed.
struct Now<'c> {
    clock: &'c dyn Clock,
    monotonic: Duration,
    wall: Option<Duration>,
}

impl<'c> Now<'c> {
    fn read(clock: &'c dyn Clock) -> Self {
        Self { clock, monotonic: clock.monotonic(), wall: None }
    }

    fn for_quota(&mut self, quota: &RateQuota) -> Duration {
        match quota.algorithm() {
            Algorithm::Gcra => self.monotonic,
            _ => *self.wall.get_or_insert_with(|| self.clock.since_epoch()),
        }
    }
}

impl RateStore for MemoryRateStore {
    type Future = Ready<Result<RateDecision, StoreError>>;
    type AllFuture = Ready<Result<Vec<RateDecision>, StoreError>>;

    fn take(&self, key: &str, quota: &RateQuota, cost: u32) -> Self::Future {
        ready(self.take_now(key, quota, cost))
    }

    fn take_all(&self, takes: &[RateTake<'_>], cost: u32) -> Self::AllFuture {
        ready(self.take_all_now(takes, cost))
    }

    fn take_all_at_once(
        &self,
        takes: &[RateTake<'_>],
        cost: u32,
        decisions: &mut [RateDecision],
    ) -> Option<Result<usize, StoreError>> {
        Some(self.take_into(takes, cost, decisions))
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

    /// A clock whose wall-clock and monotonic readings are set apart, to step the wall clock.
    #[derive(Debug, Clone, Default)]
    struct TwoClocks {
        wall: crate::ManualClock,
        monotonic: crate::ManualClock,
    }

    impl Clock for TwoClocks {
        fn now(&self) -> std::time::SystemTime {
            self.wall.now()
        }

        fn monotonic(&self) -> Duration {
            self.monotonic.since_epoch()
        }
    }

    #[test]
    fn a_nonce_is_kept_for_its_ttl_on_the_given_clock() {
        let clock = TwoClocks::default();
        clock.wall.set_unix(Duration::from_secs(1_800_000_000));
        let store = MemoryNonceStore::new().with_clock(clock.clone());
        let ttl = Duration::from_secs(900);
        assert_eq!(store.insert_if_absent_now("t", "a", ttl), Ok(true));
        // the wall clock jumps a day ahead: the nonce is still remembered
        clock.wall.advance(Duration::from_secs(86_400));
        assert_eq!(store.insert_if_absent_now("t", "a", ttl), Ok(false));
        clock.monotonic.advance(Duration::from_secs(899));
        assert_eq!(store.insert_if_absent_now("t", "a", ttl), Ok(false), "within its ttl");
        assert_eq!(store.len(), 1);
        clock.monotonic.advance(Duration::from_secs(2));
        assert_eq!(store.len(), 0);
        assert_eq!(store.insert_if_absent_now("t", "a", ttl), Ok(true), "kept no longer than needed");
    }

    #[test]
    fn a_wall_clock_step_moves_no_gcra_limiter() {
        let clock = TwoClocks::default();
        clock.wall.set_unix(Duration::from_secs(1_800_000_000));
        let store = MemoryRateStore::new().with_clock(clock.clone());
        let q = RateQuota::new(NonZeroU32::new(2).unwrap(), Duration::from_secs(60)).unwrap();
        assert!(store.take_now("k", &q, 1).unwrap().allowed);
        assert!(store.take_now("k", &q, 1).unwrap().allowed);
        assert!(!store.take_now("k", &q, 1).unwrap().allowed);
        // an hour forward on the wall clock frees nothing; back an hour blocks nothing longer
        clock.wall.advance(Duration::from_secs(3_600));
        assert!(!store.take_now("k", &q, 1).unwrap().allowed);
        clock.wall.set_unix(Duration::from_secs(1_800_000_000 - 3_600));
        clock.monotonic.advance(Duration::from_secs(30));
        assert!(store.take_now("k", &q, 1).unwrap().allowed, "one interval later, on the monotonic clock");
        // a fixed window follows the calendar: the wall clock decides its boundary
        let fixed = q.with_algorithm(Algorithm::FixedWindow { offset: Duration::ZERO });
        assert!(store.take_now("f", &fixed, 2).unwrap().allowed);
        assert!(!store.take_now("f", &fixed, 1).unwrap().allowed);
        clock.wall.advance(Duration::from_secs(60));
        assert!(store.take_now("f", &fixed, 1).unwrap().allowed);
    }

    #[test]
    fn a_whole_second_ttl_is_kept_exactly_that_long() {
        let clock = crate::ManualClock::at_unix(Duration::from_secs(1_800_000_000));
        let store = MemoryNonceStore::new().with_clock(clock.clone());
        assert!(store.is_empty());
        assert_eq!(store.insert_if_absent_at_once("t", "a", Duration::from_secs(2)), Some(Ok(true)));
        assert_eq!(store.insert_if_absent_at_once("t", "a", Duration::from_secs(2)), Some(Ok(false)));
        assert!(!store.is_empty());
        assert!(format!("{store:?}").contains("nonces: 1"));
        clock.advance(Duration::from_millis(1_999));
        assert_eq!(store.insert_if_absent_now("t", "a", Duration::from_secs(2)), Ok(false));
        clock.advance(Duration::from_millis(1));
        assert!(store.is_empty(), "gone once its two seconds have passed, not a second later");
        assert_eq!(store.insert_if_absent_now("t", "a", Duration::from_secs(2)), Ok(true));
    }

    #[test]
    fn an_idle_key_goes_once_its_state_is_a_fresh_keys() {
        let clock = crate::ManualClock::at_unix(Duration::from_secs(1_800_000_000));
        let store = MemoryRateStore::new().with_clock(clock.clone());
        let gcra = RateQuota::new(NonZeroU32::new(2).unwrap(), Duration::from_secs(60)).unwrap();
        let fixed = gcra.with_algorithm(Algorithm::FixedWindow { offset: Duration::ZERO });
        assert!(store.take_now("g", &gcra, 1).unwrap().allowed);
        assert!(store.take_now("f", &fixed, 1).unwrap().allowed);
        // GCRA: a burst (limit intervals) after the take; its queued second must pass too
        clock.advance(Duration::from_secs(61));
        assert_eq!(store.len(), 1, "the GCRA key went after its burst; the fixed window's stays 1.1 windows");
        clock.advance(Duration::from_secs(6));
        assert_eq!(store.len(), 0);
    }

    #[test]
    fn takes_at_once_need_a_slot_for_each_decision() {
        let clock = crate::ManualClock::at_unix(Duration::from_secs(1_800_000_000));
        let store = MemoryRateStore::new().with_clock(clock);
        assert!(store.is_empty());
        let q = RateQuota::new(NonZeroU32::new(5).unwrap(), Duration::from_secs(60)).unwrap();
        let takes = [RateTake::new("a", &q), RateTake::new("b", &q)];
        let mut short = [RateDecision::default()];
        assert!(matches!(store.take_all_at_once(&takes, 1, &mut short), Some(Err(StoreError::Unavailable(_)))));
        assert!(store.is_empty(), "nothing taken");
        let mut room = [RateDecision::default(); 3];
        assert_eq!(store.take_all_at_once(&takes, 1, &mut room), Some(Ok(2)));
        assert!(room[..2].iter().all(|d| d.allowed && d.remaining == 4));
        assert!(!store.is_empty());
        assert!(format!("{store:?}").contains("keys: 2"));
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
        assert!(store.take_now("a", &q, 1).unwrap().allowed);
        assert!(!store.take_now("a", &q, 1).unwrap().allowed);
        assert!(store.take_now("b", &q, 1).unwrap().allowed);
        let refused = (0..5_000).filter(|i| store.take_now(&format!("k{i}"), &q, 1).is_err()).count();
        let len = store.len();
        assert!((600..=640).contains(&len), "{len}");
        assert_eq!(refused as u64, 5_002 - len, "every key beyond the bound is refused, none forgotten");
        assert_eq!(store.at_bound(), refused as u64);
        // the throttled key is still throttled: flooding new keys did not reset it
        assert!(!store.take_now("a", &q, 1).unwrap().allowed);
    }

    #[test]
    fn a_full_rate_store_can_forget_live_keys_when_asked_to() {
        let clock = crate::ManualClock::at_unix(Duration::from_secs(1_700_000_000));
        let store = MemoryRateStore::with_capacity(640).evict_when_full(true).with_clock(clock);
        let q = RateQuota::new(NonZeroU32::new(1).unwrap(), Duration::from_secs(60)).unwrap();
        assert!(store.take_now("a", &q, 1).unwrap().allowed);
        for i in 0..5_000 {
            assert!(store.take_now(&format!("k{i}"), &q, 1).unwrap().allowed);
        }
        let len = store.len();
        assert!((600..=640).contains(&len), "{len}");
        assert!(store.at_bound() >= 5_000 - 640);
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
                store.take_now(&format!("k{i}"), &q, 1).unwrap();
            }
            assert_eq!(store.len(), 100, "{algorithm:?}");
            clock.advance(Duration::from_secs(5));
            assert!(store.take_now("k0", &q, 1).unwrap().allowed, "{algorithm:?}"); // still in use
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
            let takes = [RateTake::new(api_key.as_str(), &api), RateTake::new("app:a", &app)];
            assert!(store.take_all_now(&takes, 1).unwrap().iter().all(|d| d.allowed));
            // app a is over its limit: the API allowance it would have used is given back
            for _ in 0..5 {
                let decisions = store.take_all_now(&takes, 1).unwrap();
                assert_eq!(decisions.len(), 2);
                assert!(decisions[0].allowed && !decisions[1].allowed, "{algorithm:?}");
            }
            let others = [RateTake::new(api_key.as_str(), &api)];
            assert!(store.take_all_now(&others, 1).unwrap()[0].allowed, "{algorithm:?}");
            assert!(store.take_all_now(&others, 1).unwrap()[0].allowed, "{algorithm:?}");
            assert!(!store.take_all_now(&others, 1).unwrap()[0].allowed, "{algorithm:?}: 3 in all");
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
                    .map(|_| s.spawn(|| (0..100).filter(|_| store.take_now("hot", &q, 1).unwrap().allowed).count()))
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap()).sum()
            });
            assert_eq!(allowed, 100, "{algorithm:?}");
        }
    }
}
