//! The default source of `Random()`: a per-thread xorshift generator, seeded once per thread
//! from the standard library's randomly keyed hasher.

use std::cell::Cell;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;

thread_local! {
    static STATE: Cell<u64> = Cell::new(RandomState::new().hash_one(std::thread::current().id()) | 1);
}

/// A number in [0, 1), uniform enough for sampling; not for anything secret.
pub(super) fn thread_random() -> f64 {
    STATE.with(|state| {
        let mut x = state.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        state.set(x);
        (x >> 11) as f64 / (1u64 << 53) as f64
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_unit_interval_and_spread() {
        let draws: Vec<f64> = (0..10_000).map(|_| thread_random()).collect();
        assert!(draws.iter().all(|x| (0.0..1.0).contains(x)));
        let below = draws.iter().filter(|&&x| x < 0.1).count();
        assert!((800..1200).contains(&below), "{below}");
    }
}
