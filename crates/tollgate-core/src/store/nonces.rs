//! The nonce store's table: 64-bit fingerprints with an expiry and their tenant, open-addressed
//! in buckets of one cache line, in independently locked shards.
//!
//! The rate store's [`Table`](super::table::Table) is open-addressed the same way, with
//! whole slots (fingerprint, expiry and a limiter's state side by side). This one differs
//! because a nonce check is one insert into a table of up to millions of keys on every
//! signed request, where the cache miss is the cost: a key's fingerprint and its expiry sit
//! side by side in 64-byte buckets of four, so a check usually touches one cache line, and a
//! slot also carries its tenant's tag, which bounds each tenant's share. Nothing is removed
//! one by one: an expired slot is reused in place by the next insert that passes it, and a
//! shard is rebuilt (expired slots dropped, the table resized) when it runs out of room or
//! reaches its bound.
//!
//! A live entry is never dropped: replay protection rests on it. A shard whose live entries
//! reach its bound, or one tenant's share of it, refuses new entries until some expire.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use super::report::Gate;

/// Independently locked shards, so concurrent requests rarely wait on each other.
const SHARDS: usize = 64;

/// Slots per bucket: a bucket is four fingerprints and four expiries, one cache line.
const WAYS: usize = 4;

/// The smallest table a shard starts with and shrinks to, in buckets.
const MIN_BUCKETS: usize = 4;

/// A free slot's fingerprint (a real fingerprint of 0 is stored as 1).
const FREE: u64 = 0;

/// What an insert did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Inserted {
    /// The key was new and is now remembered.
    New,
    /// The key is remembered and unexpired: a replay.
    Live,
    /// The key is new, but its shard holds as many live keys as its bound allows, or its
    /// tenant holds its whole share: nothing was remembered.
    Full,
}

/// A slot's expiry (whole seconds on the store's time line) in the high half and its
/// tenant's tag in the low half: one word, so a bucket stays one cache line.
fn meta(expiry: u32, tag: u32) -> u64 {
    (u64::from(expiry) << 32) | u64::from(tag)
}

fn expiry_of(meta: u64) -> u32 {
    (meta >> 32) as u32
}

fn tag_of(meta: u64) -> u32 {
    meta as u32
}

#[derive(Clone, Copy, Default)]
#[repr(C, align(64))]
struct Bucket {
    fps: [u64; WAYS],
    metas: [u64; WAYS],
}

/// Hashes a tenant tag, which is already a uniformly random keyed hash: one multiply spreads
/// it over the bits the map indexes by.
#[derive(Default)]
struct TagHasher(u64);

impl Hasher for TagHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // only u32 tags are hashed; fold anything else in for completeness
        for b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(*b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }

    fn write_u32(&mut self, n: u32) {
        self.0 = u64::from(n).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

/// Slots held per tenant tag.
type TenantCounts = HashMap<u32, u32, BuildHasherDefault<TagHasher>>;

/// One shard: linear probing over buckets. A probe stops at the key or at the first bucket
/// with a free slot; expired slots along the way are kept as markers (so later keys are
/// still found) and reused by inserts.
struct Shard {
    buckets: Vec<Bucket>,
    /// Slots holding a fingerprint, live or expired: exactly the live entries after a
    /// rebuild and while nothing has expired since (see `next_expiry`).
    used: usize,
    /// Slots held per tenant, counted as `used` is.
    tenants: TenantCounts,
    /// The earliest expiry of the slots held: before it, every held slot is live, so the
    /// counts are exact and a rebuild would drop nothing.
    next_expiry: u32,
    /// The most live entries this shard holds.
    capacity: usize,
    /// The most live entries one tenant holds in this shard.
    share: u32,
    /// Rebuilds so far, for the tests: a rebuild of a table the same size clears it in place,
    /// so its address does not show one.
    #[cfg(test)]
    rebuilds: usize,
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
    fn new(capacity: usize, share: u32) -> Self {
        Self {
            buckets: vec![Bucket::default(); MIN_BUCKETS],
            used: 0,
            tenants: TenantCounts::default(),
            next_expiry: u32::MAX,
            capacity,
            share,
            #[cfg(test)]
            rebuilds: 0,
        }
    }

    fn mask(&self) -> usize {
        self.buckets.len() - 1
    }

    fn probe(&self, fp: u64, now: u32) -> Probe {
        let mask = self.mask();
        let mut at = home(fp, mask);
        let mut reuse = None;
        for _ in 0..self.buckets.len() {
            let bucket = &self.buckets[at];
            for way in 0..WAYS {
                let slot = bucket.fps[way];
                if slot == fp {
                    if expiry_of(bucket.metas[way]) > now {
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
                if reuse.is_none() && expiry_of(bucket.metas[way]) <= now {
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

    /// Remembers `fp` of tenant `tag` until `expiry` unless it is live at `now`, or the
    /// shard (or the tenant's share) is full of live entries.
    fn insert(&mut self, fp: u64, tag: u32, now: u32, expiry: u32) -> Inserted {
        let mut rebuilt = false;
        loop {
            let growing = match self.probe(fp, now) {
                Probe::Live => return Inserted::Live,
                Probe::Vacant { bucket, way, free } => {
                    let replaced = (!free).then(|| tag_of(self.buckets[bucket].metas[way]));
                    // reusing one of its own expired slots adds nothing to the tenant's count
                    let held =
                        self.tenants.get(&tag).copied().unwrap_or(0).saturating_sub(u32::from(replaced == Some(tag)));
                    let room = !free || self.used < self.capacity;
                    let spread = !free || self.used < self.max_used();
                    if room && spread && held < self.share {
                        self.write(bucket, way, fp, meta(expiry, tag), replaced);
                        return Inserted::New;
                    }
                    // out of probe room below the bound: grow, whatever has expired
                    room && !spread
                }
                Probe::Full => true,
            };
            // Rebuild only when it can help: to grow, or to drop what expired. A shard full
            // of live entries refuses at once, without a rebuild per refused insert.
            if rebuilt || !(growing || now >= self.next_expiry) {
                return Inserted::Full;
            }
            self.rebuild(now);
            rebuilt = true;
        }
    }

    fn write(&mut self, bucket: usize, way: usize, fp: u64, meta: u64, replaced: Option<u32>) {
        let slot = &mut self.buckets[bucket];
        slot.fps[way] = fp;
        slot.metas[way] = meta;
        match replaced {
            None => self.used += 1,
            Some(old) => {
                if let std::collections::hash_map::Entry::Occupied(mut e) = self.tenants.entry(old) {
                    *e.get_mut() -= 1;
                    if *e.get() == 0 {
                        e.remove();
                    }
                }
            }
        }
        *self.tenants.entry(tag_of(meta)).or_default() += 1;
        self.next_expiry = self.next_expiry.min(expiry_of(meta));
    }

    fn max_used(&self) -> usize {
        self.buckets.len() * WAYS / 8 * 7
    }

    /// Drops expired entries and lays the live ones out in a table at most half full;
    /// counts them, per tenant too.
    fn rebuild(&mut self, now: u32) {
        #[cfg(test)]
        {
            self.rebuilds += 1;
        }
        let live: Vec<(u64, u64)> = self
            .buckets
            .iter()
            .flat_map(|b| b.fps.iter().zip(&b.metas))
            .filter(|&(&fp, &meta)| fp != FREE && expiry_of(meta) > now)
            .map(|(&fp, &meta)| (fp, meta))
            .collect();
        let buckets = (live.len() * 2).div_ceil(WAYS).next_power_of_two().max(MIN_BUCKETS);
        if buckets == self.buckets.len() {
            // a full shard keeps its size: clearing in place spares a fresh allocation's
            // page faults
            self.buckets.fill(Bucket::default());
        } else {
            self.buckets = vec![Bucket::default(); buckets];
        }
        self.tenants.clear();
        self.next_expiry = u32::MAX;
        let mask = self.mask();
        for &(fp, meta) in &live {
            *self.tenants.entry(tag_of(meta)).or_default() += 1;
            self.next_expiry = self.next_expiry.min(expiry_of(meta));
            let mut at = home(fp, mask);
            'place: loop {
                let bucket = &mut self.buckets[at];
                for way in 0..WAYS {
                    if bucket.fps[way] == FREE {
                        bucket.fps[way] = fp;
                        bucket.metas[way] = meta;
                        break 'place;
                    }
                }
                at = (at + 1) & mask;
            }
        }
        self.used = live.len();
    }

    fn live(&self, now: u32) -> u64 {
        let live = self.buckets.iter().flat_map(|b| b.fps.iter().zip(&b.metas));
        live.filter(|&(&fp, &meta)| fp != FREE && expiry_of(meta) > now).count() as u64
    }
}

/// The bucket a fingerprint's probe starts at: the shard took the low bits, so use others.
fn home(fp: u64, mask: usize) -> usize {
    (fp >> 32) as usize & mask
}

/// A sharded, bounded set of fingerprints, each with an expiry and a tenant.
pub(super) struct NonceTable {
    shards: Box<[Mutex<Shard>]>,
    /// Inserts refused because a shard or a tenant's share was full, all shards.
    refused: AtomicU64,
    /// When that was last reported (seconds on the caller's time line).
    reported: Gate,
}

/// How often a full store says so, in seconds.
const REPORT_EVERY: u64 = 60;

impl NonceTable {
    /// Holds up to about `capacity` live entries, and up to about `share` of them for one
    /// tenant (both bounds are kept per shard; a share is at least one entry per shard).
    pub(super) fn new(capacity: u64, share: f64) -> Self {
        let per_shard = usize::try_from(capacity.div_ceil(SHARDS as u64)).unwrap_or(usize::MAX).max(1);
        // `as` saturates, and NaN becomes 0: the smallest share
        let share = ((per_shard as f64 * share).ceil() as u32).clamp(1, u32::try_from(per_shard).unwrap_or(u32::MAX));
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::new(per_shard, share))).collect(),
            refused: AtomicU64::new(0),
            reported: Gate::default(),
        }
    }

    fn lock(&self, fp: u64) -> MutexGuard<'_, Shard> {
        // A poisoned shard still holds a consistent table: a panic cannot leave an insert half done
        self.shards[fp as usize % SHARDS].lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Remembers `fp` of tenant `tag` until `expiry` unless it is remembered and unexpired at
    /// `now` (times in whole seconds).
    pub(super) fn insert(&self, fp: u64, tag: u32, now: u32, expiry: u32) -> Inserted {
        let fp = if fp == FREE { 1 } else { fp };
        let inserted = self.lock(fp).insert(fp, tag, now, expiry);
        if inserted == Inserted::Full {
            self.full(now);
        }
        inserted
    }

    /// Counts a refused insert and says so, at most once a minute: requests are refused until
    /// nonces expire or the bound is raised.
    fn full(&self, now: u32) {
        let total = self.refused.fetch_add(1, Ordering::Relaxed) + 1;
        if self.reported.due(u64::from(now), REPORT_EVERY) {
            tracing::warn!(
                refused = total,
                "nonce store full of live nonces (or one key holds its whole share): signed requests are refused \
                 (503 NonceStoreFull) until nonces expire; raise the bound (MemoryNonceStore::with_capacity, \
                 the gateway's nonce_store.capacity) or share a store (tollgate-redis)"
            );
        }
    }

    /// Inserts refused so far because the table or a tenant's share was full.
    pub(super) fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// Live entries at `now`.
    pub(super) fn len(&self, now: u32) -> u64 {
        self.shards.iter().map(|s| s.lock().unwrap_or_else(|e| e.into_inner()).live(now)).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: u32 = 7;

    #[test]
    fn an_expired_slot_is_reused_and_keys_behind_it_stay_found() {
        let mut shard = Shard::new(1_000, 1_000);
        // all in bucket 0's probe path: 12 keys fill buckets 0..3
        let keys: Vec<u64> = (1..=12).map(|i| i * SHARDS as u64).collect();
        for (i, &k) in keys.iter().enumerate() {
            assert_eq!(shard.insert(k, T, 0, if i < 4 { 10 } else { 100 }), Inserted::New);
        }
        // the first four expire at 10; the later ones are still found past them
        for &k in &keys[4..] {
            assert_eq!(shard.insert(k, T, 20, 200), Inserted::Live, "{k} lost behind expired slots");
        }
        let used = shard.used;
        assert_eq!(shard.insert(keys[0], T, 20, 200), Inserted::New, "an expired key is new again");
        assert_eq!(shard.insert(99 * SHARDS as u64, T, 20, 200), Inserted::New);
        assert_eq!(shard.used, used, "expired slots were reused, no free one taken");
        assert_eq!(shard.insert(keys[0], T, 21, 200), Inserted::Live);
    }

    #[test]
    fn grows_and_shrinks_with_live_entries() {
        let mut shard = Shard::new(100_000, 100_000);
        for k in 1..=10_000u64 {
            assert_eq!(shard.insert(k << 32 | 1, T, 0, 10), Inserted::New);
        }
        assert!(shard.buckets.len() * WAYS >= 10_000);
        assert_eq!(shard.live(0), 10_000);
        for k in 1..=10_000u64 {
            assert_eq!(shard.insert(k << 32 | 1, T, 5, 10), Inserted::Live, "{k} lost");
        }
        // all expired: the next rebuild lays out a small table again
        shard.rebuild(10);
        assert_eq!(shard.buckets.len(), MIN_BUCKETS);
        assert_eq!(shard.insert(1 << 32 | 1, T, 10, 20), Inserted::New);
    }

    #[test]
    fn at_the_bound_new_keys_are_refused_and_live_ones_kept() {
        let mut shard = Shard::new(32, 32);
        for k in 1..=32u64 {
            assert_eq!(shard.insert(k << 32, T, 0, 1_000), Inserted::New);
        }
        // the long-lived ones stay whatever comes after them: the newcomers are refused
        for k in 33..=1_000u64 {
            assert_eq!(shard.insert(k << 32, T, 0, 10), Inserted::Full);
        }
        for k in 1..=32u64 {
            assert_eq!(shard.insert(k << 32, T, 999, 2_000), Inserted::Live, "{k} was forgotten");
        }
        // once they expire there is room again
        assert_eq!(shard.insert(2_000 << 32, T, 1_000, 2_000), Inserted::New);
        assert_eq!(shard.live(1_000), 1);
    }

    #[test]
    fn a_full_shard_refuses_without_rebuilding_until_something_expires() {
        let mut shard = Shard::new(8, 8);
        for k in 1..=8u64 {
            assert_eq!(shard.insert(k << 32, T, 0, 100 + k as u32), Inserted::New);
        }
        assert_eq!(shard.next_expiry, 101);
        // a flood of new keys against a full shard costs no rebuild each (a rebuild visits
        // every slot: one per refused key would make the flood's cost grow with the table)
        let rebuilds = shard.rebuilds;
        for k in 9..=100u64 {
            assert_eq!(shard.insert(k << 32, T, 50, 200), Inserted::Full);
        }
        assert_eq!(shard.rebuilds, rebuilds, "no rebuild while nothing expired");
        // at 101 the first one expires: its slot is reused in place for one new key
        assert_eq!(shard.insert(9 << 32, T, 101, 200), Inserted::New);
        assert_eq!(shard.rebuilds, rebuilds);
        // the next finds the shard full; one rebuild learns that nothing else expires before 102
        assert_eq!(shard.insert(10 << 32, T, 101, 200), Inserted::Full);
        assert_eq!((shard.rebuilds, shard.next_expiry), (rebuilds + 1, 102));
        for k in 11..=100u64 {
            assert_eq!(shard.insert(k << 32, T, 101, 200), Inserted::Full);
        }
        assert_eq!(shard.rebuilds, rebuilds + 1, "refused at once until 102");
    }

    #[test]
    fn one_tenant_holds_at_most_its_share() {
        let (a, b) = (1, 2);
        let mut shard = Shard::new(100, 10);
        for k in 1..=10u64 {
            assert_eq!(shard.insert(k << 32, a, 0, 1_000), Inserted::New);
        }
        assert_eq!(shard.insert(11 << 32, a, 0, 1_000), Inserted::Full, "a is at its share");
        for k in 12..=21u64 {
            assert_eq!(shard.insert(k << 32, b, 0, 1_000), Inserted::New, "b has its own share");
        }
        // a's expired slots free its share again, also when another tenant reuses them
        let mut shard = Shard::new(100, 2);
        assert_eq!(shard.insert(1 << 32, a, 0, 10), Inserted::New);
        assert_eq!(shard.insert(2 << 32, a, 0, 10), Inserted::New);
        assert_eq!(shard.insert(3 << 32, a, 5, 30), Inserted::Full);
        assert_eq!(shard.insert(3 << 32, a, 10, 30), Inserted::New);
        assert_eq!(shard.insert(4 << 32, a, 10, 30), Inserted::New);
        assert_eq!(shard.insert(5 << 32, a, 10, 30), Inserted::Full);

        // another tenant reusing a's expired slots in place (no rebuild) takes them off a's
        // count: the counts stay exact between rebuilds
        let mut shard = Shard::new(100, 2);
        let path = |i: u64| i * SHARDS as u64; // one probe path: the expired slots lie on b's
        assert_eq!(shard.insert(path(1), a, 0, 10), Inserted::New);
        assert_eq!(shard.insert(path(2), a, 0, 10), Inserted::New);
        let rebuilds = shard.rebuilds;
        assert_eq!(shard.insert(path(3), b, 10, 30), Inserted::New);
        assert_eq!(shard.insert(path(4), b, 10, 30), Inserted::New);
        assert_eq!(shard.rebuilds, rebuilds, "the expired slots were reused in place");
        assert_eq!(shard.used, 2);
        assert_eq!(shard.tenants.get(&a), None, "a holds nothing now");
        assert_eq!(shard.tenants.get(&b), Some(&2));
    }

    #[test]
    fn tenant_tags_spread_over_the_map() {
        use std::hash::BuildHasher;
        let hasher = BuildHasherDefault::<TagHasher>::default();
        let hashes: std::collections::HashSet<u64> = (0..1_000u32).map(|tag| hasher.hash_one(tag)).collect();
        assert_eq!(hashes.len(), 1_000, "distinct tags, distinct hashes");
        // bytes (never hashed today: tags are u32) spread too
        assert_ne!(hasher.hash_one([1u8, 2]), hasher.hash_one([2u8, 1]));
        assert_ne!(hasher.hash_one([0u8]), hasher.hash_one([0u8, 0]));
    }

    proptest::proptest! {
        /// The table answers exactly as a map of expiries with a bound and a share would,
        /// through growth, reuse of expired slots, rebuilds and refusals: a live key is never
        /// forgotten, and a key is refused only when the shard or its tenant is full of live
        /// keys. Keys share probe paths (few home buckets), so the paths are long and crowded.
        #[test]
        fn answers_as_a_bounded_map_does(
            capacity in 1usize..24,
            share in 1u32..24,
            ops in proptest::collection::vec((0u64..64, 0u32..3, 0u32..3, 1u32..40), 1..600),
        ) {
            let mut shard = Shard::new(capacity, share);
            let mut model: HashMap<u64, (u32, u32)> = HashMap::new();
            let mut now = 0;
            for (key, tenant, step, ttl) in ops {
                now += step;
                let fp = (key % 8) << 32 | (key + 1) << 6;
                let live = |model: &HashMap<u64, (u32, u32)>, f: &dyn Fn(u64, u32) -> bool| {
                    model.iter().filter(|&(&k, &(expiry, t))| expiry > now && f(k, t)).count()
                };
                let expected = if live(&model, &|k, _| k == fp) == 1 {
                    Inserted::Live
                } else if live(&model, &|_, _| true) >= capacity || live(&model, &|_, t| t == tenant) >= share as usize {
                    Inserted::Full
                } else {
                    Inserted::New
                };
                proptest::prop_assert_eq!(shard.insert(fp, tenant, now, now + ttl), expected, "key {} at {}", key, now);
                if expected == Inserted::New {
                    model.insert(fp, (now + ttl, tenant));
                }
                proptest::prop_assert_eq!(shard.live(now), live(&model, &|_, _| true) as u64);
            }
        }
    }
}
