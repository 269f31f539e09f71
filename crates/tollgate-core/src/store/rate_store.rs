//! [`MemoryRateStore`]: the bounded in-memory rate store over the sharded table
//! (`table.rs`), every algorithm by core's own arithmetic (`rate.rs`).

use std::future::{Ready, ready};
use std::sync::Arc;
use std::time::Duration;

use super::rate::{Algorithm, RateDecision, RateQuota, RateState};
use super::table::{Fingerprinter, Full, Table};
use super::{DEFAULT_CAPACITY, RateStore, RateTake, StoreError, nanos};
use crate::time::{Clock, SharedClock, SystemClock};

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
        // the monotonic clock calibrates on its first reading (up to 200 ms): here, not on a
        // request's path
        SystemClock.monotonic();
        Self {
            table: Arc::new(Table::with_capacity(capacity, false)),
            capacity,
            fingerprints: Fingerprinter::new(),
            clock: Arc::new(SystemClock),
        }
    }

    /// When full of live keys, forget the keys closest to going idle for a new key instead of
    /// refusing the new key (an eighth of the full shard at once, the soonest to go idle, so
    /// that a flood of new keys costs one pass over a shard per eighth of it, not per key). This weakens the limits: a forgotten key starts again with a
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

    /// Keys currently tracked (idle ones are not counted; the room they held is given back).
    /// It visits every key: for tests and diagnostics, not for a request's path.
    pub fn len(&self) -> u64 {
        let now = nanos(self.clock.monotonic());
        self.table.sweep(now);
        self.table.len(now)
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
        for (i, (take, decision)) in takes.iter().zip(decisions).enumerate() {
            if self.take_one(take, cost, &mut now, decision).is_err() {
                self.refund_all(&takes[..i], cost, &mut now);
                return Err(StoreError::Full);
            }
            if !decision.allowed {
                self.refund_all(&takes[..i], cost, &mut now);
                return Ok(i + 1);
            }
        }
        Ok(takes.len())
    }

    /// Takes `cost` from one limit, writing the decision into `decision` (built in place: a
    /// decision returned by value was copied three times, through a store-forwarding stall).
    fn take_one(
        &self,
        take: &RateTake<'_>,
        cost: u32,
        now: &mut Now<'_>,
        decision: &mut RateDecision,
    ) -> Result<(), Full> {
        let quota = &take.quota;
        let fp = self.fingerprints.of_take(quota, &take.key);
        let at = nanos(now.monotonic);
        // A key's state matters until it is no different from a fresh key's: GCRA's arrival
        // time is at most a burst (limit intervals) ahead; a fixed window's count lapses
        // after one window, a sliding window's after 1.1.
        let keep = match quota.algorithm() {
            Algorithm::Gcra => quota.interval().saturating_mul(u64::from(quota.limit())),
            _ => nanos(quota.window()).saturating_mul(11) / 10 + 1,
        };
        let mut entry = self.table.update(fp, at);
        let state = entry.get_or_insert(at.saturating_add(keep))?;
        *decision = quota.apply(state, now.for_quota(quota), cost);
        Ok(())
    }

    /// Gives back what `takes` took (see [`RateStore::take_all`]).
    fn refund_all(&self, takes: &[RateTake<'_>], cost: u32, now: &mut Now<'_>) {
        for take in takes {
            let fp = self.fingerprints.of_take(&take.quota, &take.key);
            let mut entry = self.table.update(fp, nanos(now.monotonic));
            if let Some(state) = entry.get() {
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
    use crate::time::testing::TwoClocks;
    use std::num::NonZeroU32;

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
        // each of the 64 shards holds 10 at most and forgets two at once when full, so it
        // ends with 9 or 10 as the keys' (randomly keyed) hashes fall: 576 at the least
        let len = store.len();
        assert!((576..=640).contains(&len), "{len}");
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
    fn a_take_refused_for_a_full_store_gives_back_the_takes_before_it() {
        let clock = crate::ManualClock::at_unix(Duration::from_secs(1_700_000_000));
        let store = MemoryRateStore::with_capacity(64).with_clock(clock); // one key a shard
        let api = RateQuota::new(NonZeroU32::new(2).unwrap(), Duration::from_secs(60)).unwrap();
        assert!(store.take_now("api", &api, 1).unwrap().allowed);
        // every shard filled with a live key
        for i in 0..5_000 {
            let _ = store.take_now(&format!("k{i}"), &api, 1);
        }
        assert_eq!(store.len(), 64);
        let takes = [RateTake::new("api", &api), RateTake::new("new", &api)];
        for _ in 0..3 {
            assert_eq!(store.take_all_now(&takes, 1), Err(StoreError::Full));
        }
        // the API's second request is still there: each refused request gave it back
        assert!(store.take_now("api", &api, 1).unwrap().allowed);
        assert!(!store.take_now("api", &api, 1).unwrap().allowed);
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
