//! [`MemoryNonceStore`]: the bounded in-memory nonce store over its own table (`nonces.rs`).

use std::future::{Ready, ready};
use std::sync::Arc;
use std::time::Duration;

use super::nonces::{Inserted, NonceTable};
use super::table::Fingerprinter;
use super::{DEFAULT_CAPACITY, NonceStore, StoreError};
use crate::time::{Clock, SharedClock, SystemClock};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::testing::TwoClocks;

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
}
