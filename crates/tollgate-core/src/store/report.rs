//! [`Gate`]: lets a bounded store say it is at its bound at most once per interval, whichever
//! thread finds it so, so that a flood of refusals is one warning a minute, not one a request.

use std::sync::atomic::{AtomicU64, Ordering};

/// When something was last said, to say it again only once an interval has passed.
#[derive(Debug, Default)]
pub(super) struct Gate {
    /// When it was last said, plus one (so that 0 is "never", and a time of 0 counts).
    last: AtomicU64,
}

impl Gate {
    /// Whether to say it at `now` (`now` and `every` in one unit: the caller's time line):
    /// the first time, then once `every` has passed since it was last said. Of callers
    /// racing at one moment, one is told yes.
    pub(super) fn due(&self, now: u64, every: u64) -> bool {
        let last = self.last.load(Ordering::Relaxed);
        let due = last == 0 || now.saturating_sub(last - 1) >= every;
        due && self.last.compare_exchange(last, now.saturating_add(1), Ordering::Relaxed, Ordering::Relaxed).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn says_it_first_then_once_an_interval() {
        let gate = Gate::default();
        assert!(gate.due(0, 60), "the first time, even at time 0");
        assert!(!gate.due(0, 60));
        assert!(!gate.due(59, 60));
        assert!(gate.due(60, 60), "an interval later");
        assert!(!gate.due(61, 60));
        assert!(!gate.due(119, 60));
        assert!(gate.due(500, 60));
        // a clock read late by another thread (earlier than the last report) says nothing
        assert!(!gate.due(400, 60));
        let gate = Gate::default();
        assert!(gate.due(u64::MAX, 60), "the end of the time line");
        assert!(!gate.due(u64::MAX, 60));
    }

    #[test]
    fn of_racing_callers_one_says_it() {
        let gate = Gate::default();
        let said: usize = std::thread::scope(|s| {
            let handles: Vec<_> =
                (0..8).map(|_| s.spawn(|| (0..100).filter(|_| gate.due(1_000, 60)).count())).collect();
            handles.into_iter().map(|h| h.join().unwrap()).sum()
        });
        assert_eq!(said, 1);
    }
}
