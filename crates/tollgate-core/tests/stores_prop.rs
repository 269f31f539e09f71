//! The in-memory stores against plain models.

use std::collections::HashSet;
use std::num::NonZeroU32;
use std::time::Duration;

use proptest::prelude::*;
use tollgate_core::{Algorithm, ManualClock, MemoryNonceStore, MemoryRateStore, RateQuota};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Below its bound and within the ttl, the nonce store answers exactly as a set does.
    #[test]
    fn nonce_store_is_a_set_within_bounds(keys in prop::collection::vec("[a-d]{1,3}", 1..200)) {
        let store = MemoryNonceStore::with_capacity(1_000_000).max_share(1.0);
        let mut model = HashSet::new();
        for k in &keys {
            prop_assert_eq!(store.insert_if_absent_now("t", k, Duration::from_secs(3600)), Ok(model.insert(k.clone())), "key {}", k);
        }
        prop_assert_eq!(store.len(), model.len() as u64);
    }

    /// A fixed window never passes more than its limit inside one window, whatever the
    /// spacing of requests, and passes the whole limit again in the next.
    #[test]
    fn fixed_window_never_exceeds_limit(limit in 1u32..20, gaps in prop::collection::vec(0u64..400, 1..100)) {
        let clock = ManualClock::at_unix(Duration::from_secs(1_700_000_000 / 60 * 60));
        let store = MemoryRateStore::new().with_clock(clock.clone());
        let quota = RateQuota::new(NonZeroU32::new(limit).unwrap(), Duration::from_secs(60))
            .unwrap()
            .with_algorithm(Algorithm::FixedWindow { offset: Duration::ZERO });
        let mut per_window: std::collections::HashMap<u64, u32> = Default::default();
        let mut t = 0u64;
        for gap in gaps {
            t += gap * 100; // milliseconds
            clock.set_unix(Duration::from_secs(1_700_000_000 / 60 * 60) + Duration::from_millis(t));
            if store.take_now("k", &quota, 1).unwrap().allowed {
                *per_window.entry(t / 60_000).or_default() += 1;
            }
        }
        for (window, n) in per_window {
            prop_assert!(n <= limit, "window {} passed {} > {}", window, n, limit);
        }
    }

    /// GCRA passes at most `limit` in a burst plus one per interval after it.
    #[test]
    fn gcra_bound(limit in 1u32..20, gaps in prop::collection::vec(0u64..2_000, 1..100)) {
        let clock = ManualClock::at_unix(Duration::from_secs(1_700_000_000));
        let store = MemoryRateStore::new().with_clock(clock.clone());
        let window = Duration::from_secs(10);
        let quota = RateQuota::new(NonZeroU32::new(limit).unwrap(), window).unwrap();
        let (mut t, mut passed) = (0u64, 0u64);
        for gap in gaps {
            t += gap;
            clock.set_unix(Duration::from_secs(1_700_000_000) + Duration::from_millis(t));
            if store.take_now("k", &quota, 1).unwrap().allowed {
                passed += 1;
            }
            let interval_ms = window.as_millis() as u64 / u64::from(limit);
            prop_assert!(passed <= u64::from(limit) + t / interval_ms, "{} passed by {} ms", passed, t);
        }
    }

    /// The in-memory store's GCRA (core's arithmetic, which the Redis store runs too) gives
    /// governor's answers, request by request: it replaced governor, and answers as it did.
    #[test]
    fn core_gcra_agrees_with_governor(
        limit in 1u32..30,
        window_ms in 1u64..100_000,
        steps in prop::collection::vec((0u64..5_000_000_000, 1u32..4), 1..120),
    ) {
        use governor::clock::{Clock as _, FakeRelativeClock};
        use governor::middleware::StateInformationMiddleware;

        let start = Duration::from_secs(1_700_000_000);
        let clock = ManualClock::at_unix(start);
        let store = MemoryRateStore::new().with_clock(clock.clone());
        let quota = RateQuota::new(NonZeroU32::new(limit).unwrap(), Duration::from_millis(window_ms)).unwrap();
        let theirs_clock = FakeRelativeClock::default();
        let governor_quota = governor::Quota::with_period(Duration::from_nanos(quota.interval()))
            .unwrap()
            .allow_burst(NonZeroU32::new(limit).unwrap());
        let limiter = governor::RateLimiter::direct_with_clock(governor_quota, theirs_clock.clone())
            .with_middleware::<StateInformationMiddleware>();
        let mut now = start;
        for (gap_ns, cost) in steps {
            let gap = Duration::from_nanos(gap_ns % (window_ms * 2_000_000));
            now += gap;
            clock.set_unix(now);
            theirs_clock.advance(gap);
            let ours = store.take_now("k", &quota, cost).unwrap();
            match limiter.check_n(NonZeroU32::new(cost).unwrap()) {
                Ok(Ok(snapshot)) => {
                    prop_assert!(ours.allowed, "at {:?}, cost {}", now - start, cost);
                    prop_assert_eq!(ours.remaining, snapshot.remaining_burst_capacity().min(limit));
                }
                Ok(Err(not_until)) => {
                    prop_assert!(!ours.allowed, "at {:?}, cost {}", now - start, cost);
                    prop_assert_eq!(ours.retry_after, Some(not_until.wait_time_from(theirs_clock.now())));
                }
                Err(_) => prop_assert!(!ours.allowed && ours.retry_after.is_none(), "cost {} > {}", cost, limit),
            }
        }
    }

    /// A sliding window never passes more than its limit in any window-long stretch, and
    /// never refuses while fewer than the limit passed in the last 0.9 window.
    #[test]
    fn sliding_window_never_exceeds_limit(limit in 1u32..20, gaps in prop::collection::vec(0u64..3_000, 1..150)) {
        let start = Duration::from_secs(1_700_000_000);
        let clock = ManualClock::at_unix(start);
        let store = MemoryRateStore::new().with_clock(clock.clone());
        let window = 10_000u64; // ms
        let quota = RateQuota::new(NonZeroU32::new(limit).unwrap(), Duration::from_millis(window))
            .unwrap()
            .with_algorithm(Algorithm::SlidingWindow);
        let mut accepted: Vec<u64> = Vec::new();
        let mut t = 0u64;
        for gap in gaps {
            t += gap;
            clock.set_unix(start + Duration::from_millis(t));
            let allowed = store.take_now("k", &quota, 1).unwrap().allowed;
            if allowed {
                accepted.push(t);
            }
            // a stretch is closed at both ends: [t - window, t]
            let within = |span: u64| accepted.iter().filter(|&&a| a + span >= t).count() as u32;
            if allowed {
                prop_assert!(within(window) <= limit, "{} accepted within {} ms before {}", within(window), window, t);
            } else {
                prop_assert!(within(window + window / 10) >= limit, "refused at {} below the limit", t);
            }
        }
    }
}
