//! The bounded table under the in-memory rate store (the nonce store has its own, see
//! `nonces.rs`): 64-bit keyed fingerprints in independently locked shards, each shard one
//! open-addressed array of slots (fingerprint, expiry, value side by side), so a take reads
//! one or two cache lines and nothing else.
//!
//! Nothing is removed one by one: an expired slot stays where it is, as a marker that keeps
//! later keys findable, until a new key passing it reuses it, or the shard is rebuilt
//! (expired slots dropped, the array sized for what is left) when it runs out of room. A
//! shard full of live entries refuses a new key (or, when asked to, forgets its
//! soonest-expiring live entries for it).

use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use super::key::RateKey;
use super::rate::RateQuota;
use super::report::Gate;

/// Entries are kept in this many independently locked shards, so concurrent requests rarely
/// wait on each other.
const SHARDS: usize = 64;

/// The smallest array a shard starts with and shrinks to, in slots.
const MIN_SLOTS: usize = 8;

/// A free slot's fingerprint (a real fingerprint of 0 is kept as 1).
const FREE: u64 = 0;

pub(super) const NANOS_PER_SEC: u64 = 1_000_000_000;

/// A key reduced to 64 bits by a keyed SipHash: the table keeps 8 bytes per key whatever its
/// length. Two keys share a fingerprint with odds of about one in 2^64 per pair; the key is
/// random per table, so no one can aim for a collision.
#[derive(Debug, Clone)]
pub(super) struct Fingerprinter(std::hash::RandomState);

impl Fingerprinter {
    pub(super) fn new() -> Self {
        Self(std::hash::RandomState::new())
    }

    /// A rate key's fingerprint under its quota: the key's parts under the keyed hash (never
    /// its text: writing an address's digits cost more than hashing its bytes), the quota's
    /// digest added after it. The same key under two quotas gets two fingerprints (their
    /// digests differ); two keys under two quotas collide only if their keyed hashes differ
    /// by exactly the digests' difference, which no one can aim for without the hash's key.
    /// Eight bytes fewer through SipHash than hashing the digest with the key.
    pub(super) fn of_take(&self, quota: &RateQuota, key: &RateKey<'_>) -> u64 {
        let mut hasher = self.0.build_hasher();
        key.hash_parts(&mut hasher);
        hasher.finish() ^ quota.digest()
    }

    /// A nonce's tenant tag and fingerprint, from one pass over the tenant.
    pub(super) fn of_nonce(&self, tenant: &str, nonce: &str) -> (u32, u64) {
        let mut hasher = self.0.build_hasher();
        tenant.hash(&mut hasher);
        let tag = hasher.finish() as u32;
        nonce.hash(&mut hasher);
        (tag, hasher.finish())
    }
}

/// One slot: a fingerprint ([`FREE`] if none), when it expires (nanoseconds on the table's
/// time line) and its value. An expired slot is a marker until reused or rebuilt away.
#[derive(Default)]
struct Slot<V> {
    fp: u64,
    expiry: u64,
    value: V,
}

/// Where a key is, or would go.
enum Probe {
    /// The key's slot (its entry may have expired).
    Found(usize),
    /// The key is absent: the first expired slot on its path, else the free slot that ended
    /// the path, and whether it is free.
    Vacant(usize, bool),
}

/// One shard: linear probing over one array. A probe stops at the key or at the first free
/// slot (a key is never stored past a free slot on its path), so expired slots stay as
/// markers and are reused in place.
struct Shard<V> {
    slots: Vec<Slot<V>>,
    /// Slots holding a fingerprint, live or expired.
    used: usize,
    /// A whole second (in nanoseconds) no slot held expires before: until then every held
    /// slot is live, so `used` counts live entries and a rebuild would drop nothing. Kept in
    /// whole seconds so a shard full of keys whose expiries keep moving is rebuilt in vain
    /// at most once a second.
    next_expiry: u64,
    /// Rebuilds so far, for the tests (a rebuild of the same size keeps nothing to see).
    #[cfg(test)]
    rebuilds: usize,
}

impl<V> Shard<V> {
    fn probe(&self, fp: u64, now: u64) -> Probe {
        let mask = self.slots.len() - 1;
        let mut at = home(fp, mask);
        let mut reuse = None;
        // the array is never full of fingerprints (see `max_used`): a free slot ends the loop
        loop {
            let slot = &self.slots[at];
            if slot.fp == fp {
                return Probe::Found(at);
            }
            if slot.fp == FREE {
                return match reuse {
                    Some(expired) => Probe::Vacant(expired, false),
                    None => Probe::Vacant(at, true),
                };
            }
            if reuse.is_none() && slot.expiry <= now {
                reuse = Some(at);
            }
            at = (at + 1) & mask;
        }
    }

    /// Most slots held before the array is rebuilt: three quarters, so that a probe for an
    /// absent key stays a few slots long (linear probing's grows as 1 / (1 - load)²).
    fn max_used(&self) -> usize {
        self.slots.len() / 4 * 3
    }

    fn live(&self, now: u64) -> u64 {
        self.slots.iter().filter(|s| s.fp != FREE && s.expiry > now).count() as u64
    }
}

impl<V: Default> Shard<V> {
    fn new() -> Self {
        Self {
            slots: empty(MIN_SLOTS),
            used: 0,
            next_expiry: u64::MAX,
            #[cfg(test)]
            rebuilds: 0,
        }
    }

    /// Drops the expired slots, and with `forget` the soonest-expiring `forget` live ones,
    /// and lays the rest out in an array at most half full. Returns how many live entries
    /// were forgotten.
    fn rebuild(&mut self, now: u64, forget: usize) -> usize {
        #[cfg(test)]
        {
            self.rebuilds += 1;
        }
        let mut live: Vec<Slot<V>> =
            std::mem::take(&mut self.slots).into_iter().filter(|s| s.fp != FREE && s.expiry > now).collect();
        let forget = forget.min(live.len());
        if forget > 0 {
            live.select_nth_unstable_by_key(forget - 1, |s| s.expiry);
            live.drain(..forget);
        }
        self.slots = empty((live.len() * 2).next_power_of_two().max(MIN_SLOTS));
        self.used = live.len();
        self.next_expiry = u64::MAX;
        let mask = self.slots.len() - 1;
        for slot in live {
            self.next_expiry = self.next_expiry.min(whole_second(slot.expiry));
            let mut at = home(slot.fp, mask);
            while self.slots[at].fp != FREE {
                at = (at + 1) & mask;
            }
            self.slots[at] = slot;
        }
        forget
    }
}

fn empty<V: Default>(len: usize) -> Vec<Slot<V>> {
    std::iter::repeat_with(Slot::default).take(len).collect()
}

/// The slot a fingerprint's probe starts at: the shard took the low bits, so use others.
fn home(fp: u64, mask: usize) -> usize {
    (fp >> 32) as usize & mask
}

/// The whole second at or after `t` (nanoseconds).
fn whole_second(t: u64) -> u64 {
    t.div_ceil(NANOS_PER_SEC).saturating_mul(NANOS_PER_SEC)
}

/// The table is full of live entries and may not forget one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Full;

/// A sharded, bounded map from fingerprint to an expiring value.
pub(super) struct Table<V> {
    shards: Box<[Mutex<Shard<V>>]>,
    capacity_per_shard: usize,
    /// Whether a full shard forgets live entries for a new key rather than refuse it.
    evict_live: bool,
    /// New keys refused (or live entries forgotten) at the bound, all shards.
    at_bound: AtomicU64,
    /// When that was last reported (nanoseconds on the caller's time line).
    reported: Gate,
}

/// How often a table at its bound says so.
const REPORT_EVERY: u64 = 60 * NANOS_PER_SEC;

/// What [`Table::update`] hands the caller: one key's slot in its locked shard.
pub(super) struct Entry<'a, V> {
    shard: MutexGuard<'a, Shard<V>>,
    table: &'a Table<V>,
    fp: u64,
    now: u64,
}

impl<V: Default> Entry<'_, V> {
    /// The key's value, live until at least `expiry`: its live value, or a fresh default
    /// one (an expired entry's value is dropped; for a new key room is made if needed). One
    /// lookup for a read-modify-write. [`Full`] when the key is new and its shard is full of
    /// live entries the table may not forget.
    pub(super) fn get_or_insert(&mut self, expiry: u64) -> Result<&mut V, Full> {
        let (fp, now) = (self.fp, self.now);
        let shard = &mut *self.shard;
        let mut rebuilt = false;
        loop {
            let (at, free) = match shard.probe(fp, now) {
                Probe::Found(at) => {
                    let slot = &mut shard.slots[at];
                    if slot.expiry <= now {
                        slot.value = V::default();
                    }
                    // an expiry only moves later here (an expired slot's was at most `now`,
                    // so `next_expiry`, no later than it, stays a bound)
                    slot.expiry = slot.expiry.max(expiry);
                    return Ok(&mut slot.value);
                }
                Probe::Vacant(at, free) => (at, free),
            };
            // a free slot adds to what is held; an expired one is reused in place
            let room = !free || shard.used < self.table.capacity_per_shard;
            if room && (!free || shard.used < shard.max_used()) {
                shard.used += usize::from(free);
                shard.next_expiry = shard.next_expiry.min(whole_second(expiry));
                shard.slots[at] = Slot { fp, expiry, value: V::default() };
                return Ok(&mut shard.slots[at].value);
            }
            if room || (!rebuilt && now >= shard.next_expiry) {
                // grow, or drop what expired; then probe again
                shard.rebuild(now, 0);
                rebuilt = true;
                continue;
            }
            // full of live entries (a rebuild would drop nothing)
            if !self.table.evict_live {
                self.table.reached_bound(now, false, 1);
                return Err(Full);
            }
            // forget the soonest-expiring eighth at once, so that a flood of new keys costs
            // one rebuild per eighth of the shard, not one per key
            let forgotten = shard.rebuild(now, shard.used.div_ceil(8));
            self.table.reached_bound(now, true, forgotten as u64);
            rebuilt = true;
        }
    }
}

impl<V> Entry<'_, V> {
    /// The live (unexpired) entry's value.
    pub(super) fn get(&mut self) -> Option<&mut V> {
        let now = self.now;
        match self.shard.probe(self.fp, now) {
            Probe::Found(at) => Some(&mut self.shard.slots[at]).filter(|s| s.expiry > now).map(|s| &mut s.value),
            Probe::Vacant(..) => None,
        }
    }
}

impl<V: Default> Table<V> {
    /// Holds up to about `capacity` entries (the bound is kept per shard); when full of live
    /// ones, a new key is refused, or with `evict_live` the soonest-expiring live entries
    /// are forgotten for it.
    pub(super) fn with_capacity(capacity: u64, evict_live: bool) -> Self {
        let per_shard = usize::try_from(capacity.div_ceil(SHARDS as u64)).unwrap_or(usize::MAX).max(1);
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::new())).collect(),
            capacity_per_shard: per_shard,
            evict_live,
            at_bound: AtomicU64::new(0),
            reported: Gate::default(),
        }
    }

    /// Counts `n` new keys refused (or live entries forgotten) and says so, at most once a
    /// minute: the bound is too small for the keys in use.
    fn reached_bound(&self, now: u64, evicted: bool, n: u64) {
        let total = self.at_bound.fetch_add(n, Ordering::Relaxed) + n;
        if self.reported.due(now, REPORT_EVERY) {
            if evicted {
                tracing::warn!(
                    at_bound = total,
                    "rate store at its bound: live keys are forgotten and start again with a whole allowance; \
                     raise the bound (MemoryRateStore::with_capacity)"
                );
            } else {
                tracing::warn!(
                    at_bound = total,
                    "rate store at its bound: requests with new keys are refused (RateStoreFull); \
                     raise the bound (MemoryRateStore::with_capacity)"
                );
            }
        }
    }

    /// New keys refused (or live entries forgotten) at the bound so far.
    pub(super) fn at_bound(&self) -> u64 {
        self.at_bound.load(Ordering::Relaxed)
    }

    fn lock(&self, fp: u64) -> MutexGuard<'_, Shard<V>> {
        // A poisoned shard still holds a consistent table: a panic cannot leave a slot half
        // written (values are replaced whole).
        // The low bits pick the shard; the probe starts from others (see `home`).
        self.shards[fp as usize % SHARDS].lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Locks `fp`'s shard at time `now` for a read-modify-write of its entry.
    pub(super) fn update(&self, fp: u64, now: u64) -> Entry<'_, V> {
        let fp = fp.max(1);
        Entry { shard: self.lock(fp), table: self, fp, now }
    }

    /// Drops what expired by `now` in every shard where something did, giving back the room.
    pub(super) fn sweep(&self, now: u64) {
        for shard in &self.shards {
            let mut shard = shard.lock().unwrap_or_else(|e| e.into_inner());
            if now >= shard.next_expiry {
                shard.rebuild(now, 0);
            }
        }
    }

    /// Live entries at `now`.
    pub(super) fn len(&self, now: u64) -> u64 {
        self.shards.iter().map(|s| s.lock().unwrap_or_else(|e| e.into_inner()).live(now)).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = NANOS_PER_SEC;

    fn put(table: &Table<u32>, fp: u64, now: u64, value: u32, expiry: u64) {
        *table.update(fp, now).get_or_insert(expiry).expect("room") = value;
    }

    #[test]
    fn a_hot_key_outlives_its_first_expiry() {
        let table = Table::<u32>::with_capacity(64 * 4, false);
        let fp = 7 << 32;
        put(&table, fp, 0, 1, 2 * S);
        for t in 1..100 {
            let value = *table.update(fp, t * S).get().unwrap_or_else(|| panic!("dropped at {t}s"));
            put(&table, fp, t * S, value + 1, t * S + 2 * S);
        }
        assert_eq!(table.update(fp, 101 * S - 1).get(), Some(&mut 100));
        assert!(table.update(fp, 102 * S).get().is_none());
        assert_eq!(table.len(102 * S), 0);
    }

    #[test]
    fn an_expired_entry_comes_back_fresh() {
        let table = Table::<u32>::with_capacity(64 * 4, false);
        put(&table, 5, 0, 9, S);
        assert_eq!(table.update(5, S - 1).get(), Some(&mut 9));
        assert_eq!(table.update(5, S).get(), None);
        assert_eq!(*table.update(5, S).get_or_insert(3 * S).unwrap(), 0, "the expired value is dropped");
        // its expiry is the new one, not the old one extended
        assert_eq!(table.update(5, 3 * S - 1).get(), Some(&mut 0));
        assert_eq!(table.update(5, 3 * S).get(), None);
    }

    #[test]
    fn expired_slots_are_reused_in_place_and_keep_later_keys_findable() {
        let table = Table::<u32>::with_capacity(64 * 100, false);
        // three keys with one home slot in shard 0: they sit side by side
        let (a, b, c) = (64, (8 << 32) + 64, (16 << 32) + 64);
        put(&table, a, 0, 1, S);
        put(&table, b, 0, 2, 10 * S);
        put(&table, c, 0, 3, 10 * S);
        // a expires: c, past it, is still found
        assert_eq!(table.update(c, 2 * S).get(), Some(&mut 3));
        let d = (24 << 32) + 64;
        put(&table, d, 2 * S, 4, 10 * S);
        let shard = table.lock(a);
        assert_eq!(shard.used, 3, "d took a's expired slot");
        assert_eq!(shard.slots[home(a, shard.slots.len() - 1)].fp, d);
        drop(shard);
        for (fp, value) in [(b, 2), (c, 3), (d, 4)] {
            assert_eq!(table.update(fp, 2 * S).get(), Some(&mut { value }));
        }
        assert_eq!(table.len(2 * S), 3);
    }

    #[test]
    fn a_shard_grows_and_sheds_what_expired() {
        let table = Table::<u32>::with_capacity(64 * 1_000, false);
        // fingerprints spread over the array, all in shard 0
        let fp = |i: u64| i.wrapping_mul(0x9e37_79b9_7f4a_7c15) & !63;
        for i in 1..=500u64 {
            put(&table, fp(i), 0, i as u32, S);
        }
        assert_eq!(table.len(0), 500);
        for i in 1..=500u64 {
            assert_eq!(table.update(fp(i), 0).get(), Some(&mut (i as u32)));
        }
        let grown = table.lock(0).slots.len();
        assert!(grown >= 500 * 4 / 3, "{grown}");
        table.sweep(S);
        assert_eq!(table.len(S), 0);
        assert_eq!(table.lock(0).slots.len(), MIN_SLOTS, "an idle shard gives its room back");
    }

    #[test]
    fn a_shard_of_one_forgets_its_entry_for_a_new_key_when_asked_to() {
        // one entry a shard, and live entries may be forgotten: the one there goes
        let table = Table::<u32>::with_capacity(64, true);
        put(&table, 64, 0, 1, 10 * S);
        put(&table, 128, S, 2, 10 * S);
        assert!(table.update(64, 2 * S).get().is_none(), "forgotten for the new key");
        assert_eq!(table.update(128, 2 * S).get(), Some(&mut 2));
        assert_eq!(table.at_bound(), 1);
        assert_eq!(table.len(2 * S), 1);
    }

    #[test]
    fn a_full_shard_refuses_a_new_key_until_an_entry_expires() {
        let table = Table::<u32>::with_capacity(64 * 2, false);
        // fingerprints that land in shard 0
        put(&table, 64, 0, 1, 10 * S);
        put(&table, 128, 0, 2, 20 * S);
        assert!(table.update(192, 0).get_or_insert(30 * S).is_err(), "both entries are live");
        // a flood of new keys costs no rebuild each while nothing can have expired (a
        // rebuild visits every slot: one per refused key would grow with the table)
        let rebuilds = table.lock(0).rebuilds;
        for i in 3..100 {
            assert!(table.update(i * 64, 5 * S).get_or_insert(30 * S).is_err());
        }
        assert!(table.update(192, 10 * S - 1).get_or_insert(30 * S).is_err(), "a nanosecond before one expires");
        assert_eq!(table.lock(0).rebuilds, rebuilds, "refused at once");
        assert!(table.update(64, 5 * S).get().is_some());
        assert!(table.update(128, 5 * S).get().is_some());
        assert_eq!(table.at_bound(), 99);
        // once the first has expired, its room goes to the new key
        assert!(table.update(192, 10 * S).get_or_insert(30 * S).is_ok());
        assert!(table.update(64, 10 * S).get().is_none());
        assert_eq!(table.update(128, 10 * S).get(), Some(&mut 2));
        // an existing key always gets its entry
        assert!(table.update(128, 10 * S).get_or_insert(30 * S).is_ok());
        assert_eq!(table.at_bound(), 99);
    }

    #[test]
    fn a_full_shard_is_rebuilt_in_vain_at_most_once_a_second() {
        let table = Table::<u32>::with_capacity(64 * 2, false);
        put(&table, 64, 0, 1, S / 2);
        put(&table, 128, 0, 2, 10 * S);
        // the first key is kept alive: its first expiry passes, but it has not expired
        put(&table, 64, S / 4, 1, 5 * S);
        assert!(table.update(192, S).get_or_insert(30 * S).is_err());
        assert_eq!(table.lock(0).next_expiry, 5 * S, "the rebuild found the true earliest expiry");
        assert!(table.update(192, 4 * S).get_or_insert(30 * S).is_err());
        assert!(table.update(192, 5 * S).get_or_insert(30 * S).is_ok());
    }

    #[test]
    fn full_shard_forgets_soonest_expiring_when_asked_to() {
        let table = Table::<u32>::with_capacity(64 * 2, true);
        // fingerprints that land in shard 0
        put(&table, 64, 0, 1, 20 * S);
        put(&table, 128, 0, 2, 10 * S);
        put(&table, 192, 0, 3, 30 * S);
        assert!(table.update(128, 0).get().is_none(), "the soonest-expiring went first");
        assert!(table.update(64, 0).get().is_some());
        assert!(table.update(192, 0).get().is_some());
        assert_eq!(table.at_bound(), 1);
    }
}
