//! The nonce store's table: 64-bit fingerprints with an expiry, open-addressed in buckets of
//! one cache line, in independently locked shards.
//!
//! Why not the generic [`Table`](super::table::Table) the rate store uses: a nonce check is
//! one insert into a table of up to millions of keys on every signed request, and there a
//! hash map's control bytes and its bucket are two dependent cache misses. Here a key's
//! fingerprint and expiry sit side by side in one 64-byte bucket, so a check usually touches
//! one cache line. Nothing is removed one by one: an expired slot is reused in place by the
//! next insert that passes it, and a shard is rebuilt (expired slots dropped, the table
//! resized) when it runs out of room or reaches its bound.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

/// Independently locked shards, so concurrent requests rarely wait on each other.
const SHARDS: usize = 64;

/// Slots per bucket: a bucket is four fingerprints and four expiries, one cache line.
const WAYS: usize = 4;

/// The smallest table a shard starts with and shrinks to, in buckets.
const MIN_BUCKETS: usize = 4;

/// A free slot's fingerprint (a real fingerprint of 0 is stored as 1).
const FREE: u64 = 0;

#[derive(Clone, Copy, Default)]
#[repr(C, align(64))]
struct Bucket {
    fps: [u64; WAYS],
    expiries: [u64; WAYS],
}

/// One shard: linear probing over buckets. A probe stops at the key or at the first bucket
/// with a free slot; expired slots along the way are kept as markers (so later keys are
/// still found) and reused by inserts.
struct Shard {
    buckets: Vec<Bucket>,
    /// Slots holding a fingerprint, live or expired: when this passes 7/8 of the slots the
    /// shard is rebuilt, which keeps probes short.
    used: usize,
    /// An upper bound on the live entries: exact after a rebuild, plus one per insert since.
    live_bound: usize,
    capacity: usize,
    /// Live entries dropped at the bound, before their expiry.
    forgotten: u64,
}

enum Probe {
    /// The key is present and unexpired.
    Live,
    /// The key is absent (or expired): where to write it, and whether that slot was free.
    Vacant { bucket: usize, way: usize, free: bool },
    /// The key is absent and every slot on its path is taken by live keys.
    Full,
}

impl Shard {
    fn new(capacity: usize) -> Self {
        Self { buckets: vec![Bucket::default(); MIN_BUCKETS], used: 0, live_bound: 0, capacity, forgotten: 0 }
    }

    fn mask(&self) -> usize {
        self.buckets.len() - 1
    }

    fn probe(&self, fp: u64, now: u64) -> Probe {
        let mask = self.mask();
        let mut at = home(fp, mask);
        let mut reuse = None;
        for _ in 0..self.buckets.len() {
            let bucket = &self.buckets[at];
            for way in 0..WAYS {
                let slot = bucket.fps[way];
                if slot == fp {
                    if bucket.expiries[way] > now {
                        return Probe::Live;
                    }
                    return Probe::Vacant { bucket: at, way, free: false };
                }
                if slot == FREE {
                    // the key is not further on: the probe that stored it would have stopped here
                    return match reuse {
                        Some((bucket, way)) => Probe::Vacant { bucket, way, free: false },
                        None => Probe::Vacant { bucket: at, way, free: true },
                    };
                }
                if reuse.is_none() && bucket.expiries[way] <= now {
                    reuse = Some((at, way));
                }
            }
            at = (at + 1) & mask;
        }
        match reuse {
            Some((bucket, way)) => Probe::Vacant { bucket, way, free: false },
            None => Probe::Full,
        }
    }

    /// Inserts `fp` unless it is live; returns whether it was inserted.
    fn insert(&mut self, fp: u64, now: u64, expiry: u64) -> bool {
        let (bucket, way, free) = match self.probe(fp, now) {
            Probe::Live => return false,
            Probe::Vacant { bucket, way, free }
                if self.live_bound < self.capacity && (!free || self.used < self.max_used()) =>
            {
                (bucket, way, free)
            }
            _ => {
                self.rebuild(now);
                match self.probe(fp, now) {
                    Probe::Vacant { bucket, way, free } => (bucket, way, free),
                    // a rebuild leaves at least half the slots free and drops `fp` if it
                    // was expired, so neither case can come back
                    Probe::Live | Probe::Full => unreachable!("a rebuilt shard has room"),
                }
            }
        };
        let slot = &mut self.buckets[bucket];
        slot.fps[way] = fp;
        slot.expiries[way] = expiry;
        self.used += usize::from(free);
        self.live_bound += 1;
        true
    }

    fn max_used(&self) -> usize {
        self.buckets.len() * WAYS / 8 * 7
    }

    /// Drops expired entries and, at the bound, the soonest-expiring live ones, then lays
    /// the rest out in a table at most half full.
    fn rebuild(&mut self, now: u64) {
        let mut live: Vec<(u64, u64)> = self
            .buckets
            .iter()
            .flat_map(|b| b.fps.iter().zip(&b.expiries))
            .filter(|&(&fp, &expiry)| fp != FREE && expiry > now)
            .map(|(&fp, &expiry)| (fp, expiry))
            .collect();
        if live.len() >= self.capacity {
            // make room for an eighth of the bound at once: a full shard is rebuilt once per
            // that many inserts, not on every one
            let keep = self.capacity - (self.capacity / 8).max(1);
            // latest-expiring first; `keep < capacity <= len`, so the index is in range
            live.select_nth_unstable_by_key(keep, |&(_, expiry)| std::cmp::Reverse(expiry));
            self.forgotten += (live.len() - keep) as u64;
            live.truncate(keep);
        }
        let buckets = (live.len() * 2).div_ceil(WAYS).next_power_of_two().max(MIN_BUCKETS);
        if buckets == self.buckets.len() {
            // a full shard keeps its size: clearing in place spares a fresh allocation's
            // page faults
            self.buckets.fill(Bucket::default());
        } else {
            self.buckets = vec![Bucket::default(); buckets];
        }
        let mask = self.mask();
        for &(fp, expiry) in &live {
            let mut at = home(fp, mask);
            'place: loop {
                let bucket = &mut self.buckets[at];
                for way in 0..WAYS {
                    if bucket.fps[way] == FREE {
                        bucket.fps[way] = fp;
                        bucket.expiries[way] = expiry;
                        break 'place;
                    }
                }
                at = (at + 1) & mask;
            }
        }
        self.used = live.len();
        self.live_bound = live.len();
    }

    fn live(&self, now: u64) -> u64 {
        let live = self.buckets.iter().flat_map(|b| b.fps.iter().zip(&b.expiries));
        live.filter(|&(&fp, &expiry)| fp != FREE && expiry > now).count() as u64
    }
}

/// The bucket a fingerprint's probe starts at: the shard took the low bits, so use others.
fn home(fp: u64, mask: usize) -> usize {
    (fp >> 32) as usize & mask
}

/// A sharded, bounded set of fingerprints, each with an expiry.
pub(super) struct NonceTable {
    shards: Box<[Mutex<Shard>]>,
    /// Live entries dropped at the bound, all shards.
    forgotten: AtomicU64,
    /// When that was last reported (nanoseconds on the caller's time line, plus one; 0: never).
    reported: AtomicU64,
}

/// How often a store at its bound says so.
const REPORT_EVERY: u64 = 60 * 1_000_000_000;

impl NonceTable {
    /// Holds up to about `capacity` live entries (the bound is kept per shard).
    pub(super) fn with_capacity(capacity: u64) -> Self {
        let per_shard = usize::try_from(capacity.div_ceil(SHARDS as u64)).unwrap_or(usize::MAX).max(1);
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::new(per_shard))).collect(),
            forgotten: AtomicU64::new(0),
            reported: AtomicU64::new(0),
        }
    }

    fn lock(&self, fp: u64) -> MutexGuard<'_, Shard> {
        // A poisoned shard still holds a consistent table: a panic cannot leave an insert half done
        self.shards[fp as usize % SHARDS].lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Remembers `fp` until `expiry` unless it is remembered and unexpired at `now`; returns
    /// whether it was new.
    pub(super) fn insert(&self, fp: u64, now: u64, expiry: u64) -> bool {
        let fp = if fp == FREE { 1 } else { fp };
        let mut shard = self.lock(fp);
        let before = shard.forgotten;
        let inserted = shard.insert(fp, now, expiry);
        let forgotten = shard.forgotten - before;
        drop(shard);
        if forgotten > 0 {
            self.forgot(forgotten, now);
        }
        inserted
    }

    /// Counts nonces dropped before their time and says so, at most once a minute: replay
    /// protection is weaker than configured until the bound is raised.
    fn forgot(&self, count: u64, now: u64) {
        let total = self.forgotten.fetch_add(count, Ordering::Relaxed) + count;
        let last = self.reported.load(Ordering::Relaxed);
        let due = last == 0 || now.saturating_sub(last - 1) >= REPORT_EVERY;
        if due && self.reported.compare_exchange(last, now + 1, Ordering::Relaxed, Ordering::Relaxed).is_ok() {
            tracing::warn!(
                forgotten = total,
                "nonce store at its bound: nonces are forgotten before their ttl and could be replayed; \
                 raise the bound (MemoryNonceStore::with_capacity) or share a store (tollgate-redis)"
            );
        }
    }

    /// Live entries dropped at the bound so far.
    pub(super) fn forgotten(&self) -> u64 {
        self.forgotten.load(Ordering::Relaxed)
    }

    /// Live entries at `now`.
    pub(super) fn len(&self, now: u64) -> u64 {
        self.shards.iter().map(|s| s.lock().unwrap_or_else(|e| e.into_inner()).live(now)).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_expired_slot_is_reused_and_keys_behind_it_stay_found() {
        let mut shard = Shard::new(1_000);
        // all in bucket 0's probe path: 12 keys fill buckets 0..3
        let keys: Vec<u64> = (1..=12).map(|i| i * SHARDS as u64).collect();
        for (i, &k) in keys.iter().enumerate() {
            assert!(shard.insert(k, 0, if i < 4 { 10 } else { 100 }));
        }
        // the first four expire at 10; the later ones are still found past them
        for &k in &keys[4..] {
            assert!(!shard.insert(k, 20, 200), "{k} lost behind expired slots");
        }
        let used = shard.used;
        assert!(shard.insert(keys[0], 20, 200), "an expired key is new again");
        assert!(shard.insert(99 * SHARDS as u64, 20, 200));
        assert_eq!(shard.used, used, "expired slots were reused, no free one taken");
        assert!(!shard.insert(keys[0], 21, 200));
    }

    #[test]
    fn grows_and_shrinks_with_live_entries() {
        let mut shard = Shard::new(100_000);
        for k in 1..=10_000u64 {
            assert!(shard.insert(k << 32 | 1, 0, 10));
        }
        assert!(shard.buckets.len() * WAYS >= 10_000);
        assert_eq!(shard.live(0), 10_000);
        for k in 1..=10_000u64 {
            assert!(!shard.insert(k << 32 | 1, 5, 10), "{k} lost");
        }
        // all expired: the next rebuild lays out a small table again
        shard.rebuild(10);
        assert_eq!(shard.buckets.len(), MIN_BUCKETS);
        assert!(shard.insert(1 << 32 | 1, 10, 20));
    }

    #[test]
    fn the_bound_forgets_soonest_expiring_first() {
        let mut shard = Shard::new(32);
        for k in 1..=24u64 {
            assert!(shard.insert(k << 32, 0, 1_000));
        }
        for k in 25..=1_000u64 {
            assert!(shard.insert(k << 32, 0, 10));
            assert!(shard.live(0) <= 32);
        }
        assert!(shard.live(0) >= 30);
        for k in 1..=24u64 {
            assert!(!shard.insert(k << 32, 0, 1_000), "long-lived {k} was forgotten");
        }
    }

    #[test]
    fn what_the_bound_forgets_expires_no_later_than_what_it_keeps() {
        let entries = |shard: &Shard| -> Vec<(u64, u64)> {
            let slots = shard.buckets.iter().flat_map(|b| b.fps.iter().copied().zip(b.expiries.iter().copied()));
            slots.filter(|&(fp, _)| fp != FREE).collect()
        };
        let mut shard = Shard::new(50);
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for k in 1..=5_000u64 {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            let before = entries(&shard);
            assert!(shard.insert(k << 32, 0, 1 + (seed >> 40)));
            let after = entries(&shard);
            assert!(after.len() <= 50);
            // the new nonce goes in whatever its expiry: it is the one being checked
            let kept_min = after.iter().filter(|&&(fp, _)| fp != k << 32).map(|&(_, e)| e).min().unwrap_or(u64::MAX);
            for (fp, expiry) in before.into_iter().filter(|b| !after.contains(b)) {
                assert!(expiry <= kept_min, "{fp:x} (expiring {expiry}) forgotten before one expiring {kept_min}");
            }
        }
    }

    proptest::proptest! {
        /// Below its bound the table answers exactly as a map of expiries would, through
        /// growth, reuse of expired slots and rebuilds; keys share probe paths (few home
        /// buckets) so the paths are long and crowded.
        #[test]
        fn below_the_bound_it_answers_as_a_map_does(
            ops in proptest::collection::vec((0u64..64, 0u64..3, 1u64..40), 1..600),
        ) {
            let mut shard = Shard::new(usize::MAX);
            let mut model = std::collections::HashMap::new();
            let mut now = 0;
            for (key, step, ttl) in ops {
                now += step;
                let fp = (key % 8) << 32 | (key + 1) << 6;
                let live = model.get(&fp).is_some_and(|&expiry| expiry > now);
                proptest::prop_assert_eq!(shard.insert(fp, now, now + ttl), !live, "key {} at {}", key, now);
                if !live {
                    model.insert(fp, now + ttl);
                }
                let expected = model.values().filter(|&&expiry| expiry > now).count() as u64;
                proptest::prop_assert_eq!(shard.live(now), expected);
            }
        }
    }
}
