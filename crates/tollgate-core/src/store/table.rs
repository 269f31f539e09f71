//! The bounded table under the in-memory rate store (the nonce store has its own, see
//! `nonces.rs`): 64-bit keyed fingerprints in independently
//! locked shards, each entry with an expiry, dropped in bulk as time passes. A shard full of
//! live entries refuses a new key (or, when asked to, forgets its soonest-queued live entry).

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, BuildHasherDefault, Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use super::key::RateKey;
use super::nanos;
use super::rate::{Algorithm, RateQuota};

/// Entries are kept in this many independently locked shards, so concurrent requests rarely
/// wait on each other.
const SHARDS: usize = 64;

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

    /// A rate key's fingerprint under its quota: the quota as three words (its limit and
    /// algorithm, its window, a fixed window's offset), then the key's parts (never its text:
    /// writing an address's digits cost more than hashing its bytes).
    pub(super) fn of_take(&self, quota: &RateQuota, key: &RateKey<'_>) -> u64 {
        let (tag, offset) = match quota.algorithm() {
            Algorithm::Gcra => (0u64, 0),
            Algorithm::SlidingWindow => (1, 0),
            Algorithm::FixedWindow { offset } => (2, nanos(offset)),
        };
        let mut hasher = self.0.build_hasher();
        key.hash_parts([u64::from(quota.limit()) | tag << 32, nanos(quota.window()), offset], &mut hasher);
        hasher.finish()
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

/// Hashing a fingerprint again would be wasted work: it is already uniformly random.
#[derive(Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
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

/// One entry: when it expires (nanoseconds on the table's time line) and its value.
pub(super) struct Entry<V> {
    pub(super) expiry: u64,
    pub(super) value: V,
}

/// One shard: fingerprint -> entry, and every fingerprint queued exactly once under a second
/// no later than its expiry. Extending an entry only rewrites its expiry; when its queued
/// second comes due it is queued again under the new one. So a hot key costs one queue slot,
/// however often it is touched.
struct Shard<V> {
    entries: HashMap<u64, Entry<V>, BuildHasherDefault<PassThrough>>,
    queue: BTreeMap<u64, Vec<u64>>,
}

impl<V> Default for Shard<V> {
    fn default() -> Self {
        Self { entries: HashMap::default(), queue: BTreeMap::new() }
    }
}

impl<V> Shard<V> {
    /// Drops every entry expired by `now` whose queued second has passed; requeues the
    /// extended ones.
    fn expire(&mut self, now: u64) {
        while let Some(slot) = self.queue.first_entry() {
            if (*slot.key() + 1).saturating_mul(NANOS_PER_SEC) > now {
                break;
            }
            for fp in slot.remove() {
                match self.entries.get(&fp) {
                    Some(entry) if entry.expiry <= now => {
                        self.entries.remove(&fp);
                    }
                    Some(entry) => self.queue.entry(entry.expiry / NANOS_PER_SEC).or_default().push(fp),
                    None => {}
                }
            }
        }
    }

    /// Makes room for one entry at `now`: drops an expired entry queued in the soonest
    /// second, else (only when `evict_live`) the soonest-queued live one. `false` when every
    /// entry is live and may not be forgotten.
    fn make_room(&mut self, now: u64, evict_live: bool) -> bool {
        while let Some(mut slot) = self.queue.first_entry() {
            let entries = &self.entries;
            // an entry gone from the map (replaced, dropped) only left its queue slot behind
            let stale = slot.get().iter().rposition(|fp| entries.get(fp).is_none_or(|e| e.expiry <= now));
            let fp = match stale {
                Some(at) => slot.get_mut().swap_remove(at),
                None if evict_live => match slot.get_mut().pop() {
                    Some(fp) => fp,
                    None => {
                        slot.remove();
                        continue;
                    }
                },
                None => return false,
            };
            if slot.get().is_empty() {
                slot.remove();
            }
            if self.entries.remove(&fp).is_some() {
                return true;
            }
        }
        false
    }
}

/// The table is full of live entries and may not forget one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Full;

/// A sharded, bounded map from fingerprint to an expiring value.
pub(super) struct Table<V> {
    shards: Box<[Mutex<Shard<V>>]>,
    capacity_per_shard: usize,
    /// Whether a full shard forgets a live entry for a new key rather than refuse it.
    evict_live: bool,
    /// New keys refused (or live entries forgotten) at the bound, all shards.
    at_bound: AtomicU64,
    /// When that was last reported (nanoseconds on the caller's time line, plus one; 0: never).
    reported: AtomicU64,
}

/// How often a table at its bound says so.
const REPORT_EVERY: u64 = 60 * NANOS_PER_SEC;

/// What [`Table::update`] hands the caller: the live entry, if any.
pub(super) struct Slot<'a, V> {
    shard: MutexGuard<'a, Shard<V>>,
    table: &'a Table<V>,
    fp: u64,
    now: u64,
}

impl<V: Default> Slot<'_, V> {
    /// The entry, and whether it was live: an expired one as it was (the caller decides
    /// what to keep), a missing one created with a default value and `expiry` (room made if
    /// needed). One lookup for a read-modify-write; the caller sets the value and, for an
    /// entry that was there, the expiry through the reference. [`Full`] when the key is new
    /// and its shard is full of live entries the table may not forget.
    pub(super) fn entry(&mut self, expiry: u64) -> Result<(&mut Entry<V>, bool), Full> {
        let shard = &mut *self.shard;
        if shard.entries.len() >= self.table.capacity_per_shard && !shard.entries.contains_key(&self.fp) {
            while shard.entries.len() >= self.table.capacity_per_shard {
                let evict_live = self.table.evict_live;
                if !shard.make_room(self.now, evict_live) {
                    self.table.reached_bound(self.now, evict_live);
                    return Err(Full);
                }
                if evict_live {
                    self.table.reached_bound(self.now, evict_live);
                }
            }
        }
        let Shard { entries, queue } = shard;
        let now = self.now;
        match entries.entry(self.fp) {
            std::collections::hash_map::Entry::Occupied(e) => {
                let entry = e.into_mut();
                let live = entry.expiry > now;
                Ok((entry, live))
            }
            std::collections::hash_map::Entry::Vacant(v) => {
                queue.entry(expiry / NANOS_PER_SEC).or_default().push(self.fp);
                Ok((v.insert(Entry { expiry, value: V::default() }), false))
            }
        }
    }
}

impl<V> Slot<'_, V> {
    /// The live (unexpired) entry's value.
    pub(super) fn get(&mut self) -> Option<&mut V> {
        let now = self.now;
        self.shard.entries.get_mut(&self.fp).filter(|e| e.expiry > now).map(|e| &mut e.value)
    }
}

impl<V> Table<V> {
    /// Holds up to about `capacity` entries (the bound is kept per shard); when full of live
    /// ones, a new key is refused, or with `evict_live` the soonest-queued live entry is
    /// forgotten for it.
    pub(super) fn with_capacity(capacity: u64, evict_live: bool) -> Self {
        let per_shard = usize::try_from(capacity.div_ceil(SHARDS as u64)).unwrap_or(usize::MAX).max(1);
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            capacity_per_shard: per_shard,
            evict_live,
            at_bound: AtomicU64::new(0),
            reported: AtomicU64::new(0),
        }
    }

    /// Counts a new key refused (or a live entry forgotten) and says so, at most once a
    /// minute: the bound is too small for the keys in use.
    fn reached_bound(&self, now: u64, evicted: bool) {
        let total = self.at_bound.fetch_add(1, Ordering::Relaxed) + 1;
        let last = self.reported.load(Ordering::Relaxed);
        let due = last == 0 || now.saturating_sub(last - 1) >= REPORT_EVERY;
        if due
            && self.reported.compare_exchange(last, now.saturating_add(1), Ordering::Relaxed, Ordering::Relaxed).is_ok()
        {
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
        // A poisoned shard still holds a consistent table: every mutation is a single call.
        // The low bits pick the shard; the map inside indexes by the others (see PassThrough).
        self.shards[fp as usize % SHARDS].lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Locks `fp`'s shard at time `now` (expired entries dropped first) for a read-modify-write.
    pub(super) fn update(&self, fp: u64, now: u64) -> Slot<'_, V> {
        let mut shard = self.lock(fp);
        shard.expire(now);
        Slot { shard, table: self, fp, now }
    }

    /// Drops what expired by `now` in every shard.
    pub(super) fn sweep(&self, now: u64) {
        for shard in &self.shards {
            shard.lock().unwrap_or_else(|e| e.into_inner()).expire(now);
        }
    }

    /// Entries held (expired ones may be counted until their second passes).
    pub(super) fn len(&self) -> u64 {
        self.shards.iter().map(|s| s.lock().unwrap_or_else(|e| e.into_inner()).entries.len() as u64).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = NANOS_PER_SEC;

    fn put<V: Default>(table: &Table<V>, fp: u64, now: u64, value: V, expiry: u64) {
        let mut slot = table.update(fp, now);
        let (entry, _) = slot.entry(expiry).expect("room");
        entry.value = value;
        entry.expiry = expiry;
    }

    #[test]
    fn a_hot_key_is_queued_once_and_outlives_its_first_expiry() {
        let table = Table::<u32>::with_capacity(64 * 4, false);
        let fp = 7;
        put(&table, fp, 0, 1, 2 * S);
        for t in 1..100 {
            let value = *table.update(fp, t * S).get().unwrap_or_else(|| panic!("dropped at {t}s"));
            put(&table, fp, t * S, value + 1, t * S + 2 * S);
        }
        let shard = table.lock(fp);
        assert_eq!(shard.queue.values().map(Vec::len).sum::<usize>(), 1);
        drop(shard);
        assert!(table.update(fp, 102 * S).get().is_none());
        assert_eq!(table.len(), 0);
    }

    #[test]
    fn a_full_shard_refuses_a_new_key_until_an_entry_expires() {
        let table = Table::<()>::with_capacity(64 * 2, false);
        // fingerprints that land in shard 0
        put(&table, 0, 0, (), 10 * S);
        put(&table, 64, 0, (), 20 * S);
        assert!(table.update(128, 0).entry(30 * S).is_err(), "both entries are live");
        assert!(table.update(128, 10 * S - 1).entry(30 * S).is_err(), "one nanosecond before the first expires");
        assert!(table.update(0, 5 * S).get().is_some());
        assert!(table.update(64, 5 * S).get().is_some());
        assert_eq!(table.at_bound(), 2);
        // an entry that expired within the current second makes room (its second has not passed)
        assert!(table.update(128, 10 * S).entry(30 * S).is_ok());
        assert!(table.update(0, 10 * S).get().is_none());
        assert!(table.update(64, 10 * S).get().is_some());
        // an existing key always gets its entry
        assert!(table.update(64, 10 * S).entry(30 * S).is_ok());
    }

    #[test]
    fn full_shard_forgets_soonest_queued_when_asked_to() {
        let table = Table::<()>::with_capacity(64 * 2, true);
        // fingerprints that land in shard 0
        put(&table, 0, 0, (), 10 * S);
        put(&table, 64, 0, (), 20 * S);
        put(&table, 128, 0, (), 30 * S);
        assert!(table.update(0, 0).get().is_none(), "the soonest-expiring went first");
        assert!(table.update(64, 0).get().is_some());
        assert!(table.update(128, 0).get().is_some());
    }
}
