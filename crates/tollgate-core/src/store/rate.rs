//! Rate algorithms as pure arithmetic over a small state and a time, so every store (in
//! memory, Redis) computes exactly the same answers.

use std::hash::Hasher;
use std::num::NonZeroU32;
use std::time::Duration;

use super::nanos;

/// How "N per window" is enforced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Algorithm {
    /// A counter per calendar-aligned window (a multiple of the window's length since the
    /// Unix epoch, shifted by `offset`: an offset of 8 hours starts days at Beijing midnight),
    /// reset at the boundary. Up to 2N can pass across a boundary.
    FixedWindow {
        /// UTC offset of window boundaries.
        offset: Duration,
    },
    /// GCRA, a token bucket: bursts of up to N, then one more every window/N.
    Gcra,
    /// Never more than N accepted in any window-long stretch. The window is kept as ten
    /// sub-windows plus the current one, and every request in them counts: a request is
    /// forgotten between one window and one window plus a tenth after it was accepted, so
    /// the algorithm may refuse up to a tenth of a window early, never admit too many.
    SlidingWindow,
}

/// Sub-windows a sliding window is cut into (the current one comes on top).
pub const SLIDING_SUBWINDOWS: u64 = 10;
const SLIDING_SLOTS: usize = SLIDING_SUBWINDOWS as usize + 1;

/// "`limit` per `window`", enforced by `algorithm`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RateQuota {
    limit: NonZeroU32,
    window: Duration,
    algorithm: Algorithm,
    /// window / limit in nanoseconds, at least 1: worked out once, not per request (a
    /// division is a good part of a take).
    interval: u64,
    /// The quota in one word, for the in-memory store's fingerprints (see `digest`).
    digest: u64,
}

impl RateQuota {
    /// `limit` per `window` with GCRA; `None` when `window` is shorter than a microsecond.
    pub fn new(limit: NonZeroU32, window: Duration) -> Option<Self> {
        let interval = (nanos(window) / u64::from(limit.get())).max(1);
        let quota = Self { limit, window, algorithm: Algorithm::Gcra, interval, digest: 0 };
        (window >= Duration::from_micros(1)).then_some(quota.with_algorithm(Algorithm::Gcra))
    }

    /// The same quota enforced by another algorithm.
    pub fn with_algorithm(mut self, algorithm: Algorithm) -> Self {
        self.algorithm = algorithm;
        // Worked out when the quota is made, not per take: the in-memory store fingerprints
        // a key under its quota, and hashing the three words below cost as much as the key.
        // A hash with a fixed key suffices: quotas come from configuration, not from
        // requests (a key's parts, which may, go through the store's keyed hash).
        let (tag, offset) = match algorithm {
            Algorithm::Gcra => (0u64, 0),
            Algorithm::SlidingWindow => (1, 0),
            Algorithm::FixedWindow { offset } => (2, nanos(offset)),
        };
        let mut hasher = std::hash::DefaultHasher::new();
        for word in [u64::from(self.limit.get()) | tag << 32, nanos(self.window), offset] {
            hasher.write(&word.to_le_bytes());
        }
        self.digest = hasher.finish();
        self
    }

    /// The quota in one word: its limit, algorithm and window under a fixed-key hash.
    pub(super) fn digest(&self) -> u64 {
        self.digest
    }

    /// Requests allowed per window.
    pub fn limit(&self) -> u32 {
        self.limit.get()
    }

    /// The window.
    pub fn window(&self) -> Duration {
        self.window
    }

    /// The algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }
}

/// The answer to one take. (The default is a refusal of nothing: a placeholder for a
/// buffer of decisions.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RateDecision {
    /// Whether the take was allowed (and so consumed).
    pub allowed: bool,
    /// The quota's limit.
    pub limit: u32,
    /// How many more single requests would be allowed right now.
    pub remaining: u32,
    /// When the allowance is whole again (fixed window: the boundary).
    pub reset_after: Duration,
    /// When refused: how long until the same take could pass. `None` if it never can
    /// (a cost above the limit).
    pub retry_after: Option<Duration>,
}

/// One key's state: for GCRA the theoretical arrival time (`tat`, nanoseconds since the
/// epoch); for a fixed window the window's index and its count; for a sliding window the
/// newest sub-window's index and the counts of the last eleven. 24 bytes, the sliding
/// window's counts boxed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RateState {
    /// GCRA: theoretical arrival time; fixed window: window index; sliding window: the
    /// newest sub-window's index.
    pub a: u64,
    /// Fixed window: requests counted in window `a`.
    pub b: u64,
    /// Sliding window: requests counted per sub-window, sub-window `i` at `i % 11`.
    pub slots: Option<Box<[u32; SLIDING_SLOTS]>>,
}

impl RateQuota {
    /// Applies a take of `cost` at time `now` (since the Unix epoch) to `state`.
    // inline, as `gcra`: the decision is then written once, where the caller keeps it
    #[inline]
    pub fn apply(&self, state: &mut RateState, now: Duration, cost: u32) -> RateDecision {
        match self.algorithm {
            Algorithm::Gcra => self.gcra(state, nanos(now), cost),
            Algorithm::FixedWindow { offset } => self.fixed(state, nanos(now).saturating_add(nanos(offset)), cost),
            Algorithm::SlidingWindow => self.sliding(state, nanos(now), cost),
        }
    }

    /// Gives back a `cost` taken at `now` (a request refused by another limit after this one
    /// allowed it). Never gives back more than was taken in the current window.
    pub fn refund(&self, state: &mut RateState, now: Duration, cost: u32) {
        match self.algorithm {
            Algorithm::Gcra => {
                // an arrival time in the past means a whole allowance, the same as `now`
                state.a = state.a.saturating_sub(self.interval().saturating_mul(u64::from(cost))).max(nanos(now));
            }
            Algorithm::FixedWindow { offset } => {
                let index = nanos(now).saturating_add(nanos(offset)) / nanos(self.window).max(1);
                if state.a == index {
                    state.b = state.b.saturating_sub(u64::from(cost));
                }
            }
            Algorithm::SlidingWindow => {
                let index = nanos(now) / self.subwindow();
                if let Some(slots) = state.slots.as_mut().filter(|_| state.a == index) {
                    let slot = &mut slots[(index % SLIDING_SLOTS as u64) as usize];
                    *slot = slot.saturating_sub(cost);
                }
            }
        }
    }

    /// GCRA's emission interval: window / limit, in nanoseconds (at least one).
    pub fn interval(&self) -> u64 {
        self.interval
    }

    fn subwindow(&self) -> u64 {
        (nanos(self.window) / SLIDING_SUBWINDOWS).max(1)
    }

    fn sliding(&self, state: &mut RateState, now: u64, cost: u32) -> RateDecision {
        let limit = self.limit.get();
        let sub = self.subwindow();
        let index = now / sub;
        let slots = state.slots.get_or_insert_with(Default::default);
        // clear the sub-windows that fell out since the last request
        let stale = index.saturating_sub(state.a).min(SLIDING_SLOTS as u64);
        for i in 0..stale {
            slots[((index - i) % SLIDING_SLOTS as u64) as usize] = 0;
        }
        state.a = state.a.max(index);
        let slot_of = |i: u64| (i % SLIDING_SLOTS as u64) as usize;
        let count: u64 = slots.iter().map(|&c| u64::from(c)).sum();
        let allowed = count + u64::from(cost) <= u64::from(limit);
        if allowed {
            slots[slot_of(index)] = slots[slot_of(index)].saturating_add(cost);
        }
        let used = if allowed { count + u64::from(cost) } else { count };
        // sub-window i stops counting when sub-window i + 11 begins
        let oldest = index.saturating_sub(SLIDING_SUBWINDOWS);
        let leaves_at =
            |i: u64| Duration::from_nanos((i + SLIDING_SLOTS as u64).saturating_mul(sub).saturating_sub(now));
        let reset_after = (oldest..=index).rev().find(|&i| slots[slot_of(i)] > 0).map_or(Duration::ZERO, leaves_at);
        let retry_after = match (allowed, cost > limit) {
            (true, _) | (false, true) => None,
            (false, false) => {
                let mut freed = 0u64;
                (oldest..=index).find_map(|i| {
                    freed += u64::from(slots[slot_of(i)]);
                    (count - freed + u64::from(cost) <= u64::from(limit)).then(|| leaves_at(i))
                })
            }
        };
        RateDecision {
            allowed,
            limit,
            remaining: u32::try_from(u64::from(limit).saturating_sub(used)).unwrap_or(u32::MAX),
            reset_after,
            retry_after,
        }
    }

    #[inline]
    fn gcra(&self, state: &mut RateState, now: u64, cost: u32) -> RateDecision {
        let limit = u64::from(self.limit.get());
        let interval = self.interval();
        // the whole burst is `limit` intervals, as governor counts it (not the window itself,
        // which the division may have truncated): both stores then answer alike
        let window = interval.saturating_mul(limit);
        let tat = state.a.max(now);
        let remaining_at = |tat: u64| {
            let used = tat.saturating_sub(now);
            u32::try_from(window.saturating_sub(used) / interval).unwrap_or(u32::MAX).min(self.limit.get())
        };
        // one decision built in one place: the compiler then writes it straight where the
        // caller keeps it (three return sites built it on the stack and copied it)
        let new_tat = tat.saturating_add(interval.saturating_mul(u64::from(cost)));
        let allow_at = new_tat.saturating_sub(window);
        let (allowed, tat, retry_after) = if u64::from(cost) > limit {
            (false, tat, None)
        } else if now < allow_at {
            (false, tat, Some(Duration::from_nanos(allow_at - now)))
        } else {
            state.a = new_tat;
            (true, new_tat, None)
        };
        RateDecision {
            allowed,
            limit: self.limit.get(),
            remaining: remaining_at(tat),
            reset_after: Duration::from_nanos(tat - now),
            retry_after,
        }
    }

    fn fixed(&self, state: &mut RateState, now: u64, cost: u32) -> RateDecision {
        let limit = u64::from(self.limit.get());
        let window = nanos(self.window).max(1);
        let index = now / window;
        if state.a != index {
            *state = RateState { a: index, b: 0, slots: None };
        }
        let reset_after = Duration::from_nanos((index + 1).saturating_mul(window).saturating_sub(now));
        let allowed = state.b.saturating_add(u64::from(cost)) <= limit;
        if allowed {
            state.b += u64::from(cost);
        }
        RateDecision {
            allowed,
            limit: self.limit.get(),
            remaining: u32::try_from(limit.saturating_sub(state.b)).unwrap_or(u32::MAX),
            reset_after,
            retry_after: match (allowed, u64::from(cost) > limit) {
                (true, _) => None,
                (false, true) => None,
                (false, false) => Some(reset_after),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quota(limit: u32, secs: u64, algorithm: Algorithm) -> RateQuota {
        RateQuota::new(NonZeroU32::new(limit).unwrap(), Duration::from_secs(secs)).unwrap().with_algorithm(algorithm)
    }

    const T0: Duration = Duration::from_secs(1_700_000_000);

    #[test]
    fn gcra_burst_then_one_per_interval() {
        let q = quota(4, 60, Algorithm::Gcra);
        let mut s = RateState::default();
        for i in 0..4 {
            let d = q.apply(&mut s, T0, 1);
            assert!(d.allowed, "burst {i}");
            assert_eq!(d.remaining, 3 - i);
        }
        let d = q.apply(&mut s, T0, 1);
        assert!(!d.allowed);
        assert_eq!(d.retry_after, Some(Duration::from_secs(15)));
        assert!(!q.apply(&mut s, T0 + Duration::from_secs(14), 1).allowed);
        assert!(q.apply(&mut s, T0 + Duration::from_secs(15), 1).allowed);
        assert!(!q.apply(&mut s, T0 + Duration::from_secs(15), 1).allowed);
        // after a full idle window the whole burst is back
        let later = T0 + Duration::from_secs(15 + 60);
        for _ in 0..4 {
            assert!(q.apply(&mut s, later, 1).allowed);
        }
        assert!(!q.apply(&mut s, later, 1).allowed);
    }

    #[test]
    fn gcra_cost_above_limit_never_passes() {
        let q = quota(2, 1, Algorithm::Gcra);
        let mut s = RateState::default();
        let d = q.apply(&mut s, T0, 3);
        assert!(!d.allowed);
        assert_eq!(d.retry_after, None);
        assert_eq!(s, RateState::default());
    }

    #[test]
    fn fixed_window_resets_at_boundary() {
        let q = quota(3, 60, Algorithm::FixedWindow { offset: Duration::ZERO });
        let start = Duration::from_secs(1_700_000_040); // 1_700_000_040 is a multiple of 60
        let mut s = RateState::default();
        let late = start + Duration::from_secs(59);
        for _ in 0..3 {
            assert!(q.apply(&mut s, late, 1).allowed);
        }
        let d = q.apply(&mut s, late, 1);
        assert!(!d.allowed);
        assert_eq!(d.retry_after, Some(Duration::from_secs(1)));
        let next = start + Duration::from_secs(60);
        for _ in 0..3 {
            assert!(q.apply(&mut s, next, 1).allowed);
        }
        assert!(!q.apply(&mut s, next, 1).allowed);
    }

    #[test]
    fn fixed_window_offset_moves_boundary() {
        let day = 86_400;
        let q = quota(1, day, Algorithm::FixedWindow { offset: Duration::from_secs(8 * 3600) });
        let mut s = RateState::default();
        // 15:59:59 UTC is 23:59:59 in UTC+8; one second later is a new day there.
        let t = Duration::from_secs(19_000 * day + 16 * 3600 - 1);
        assert!(q.apply(&mut s, t, 1).allowed);
        assert!(!q.apply(&mut s, t, 1).allowed);
        assert!(q.apply(&mut s, t + Duration::from_secs(1), 1).allowed);
    }
}
