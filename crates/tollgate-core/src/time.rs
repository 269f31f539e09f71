//! [`TimeWindow`] and [`Clock`]: what "per minute" means, and what time it is.

use std::fmt;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The unit of a [`TimeWindow`], named as the Tencent plugins' `expire_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WindowUnit {
    /// One second.
    Second,
    /// Sixty seconds.
    Minute,
    /// 3,600 seconds.
    Hour,
    /// 86,400 seconds.
    Day,
}

impl WindowUnit {
    /// Length of one unit in seconds.
    pub const fn seconds(self) -> u64 {
        match self {
            Self::Second => 1,
            Self::Minute => 60,
            Self::Hour => 3_600,
            Self::Day => 86_400,
        }
    }
}

/// A window of `count` units: "per second", "per 5 minutes", "per day".
///
/// Serde reads and writes the Tencent plugin pair `expire_type` / `expire` (`expire` defaults
/// to 1 and must be positive), so it can be `#[serde(flatten)]`ed into a plugin config.
///
/// ```
/// use std::time::Duration;
/// use tollgate_core::TimeWindow;
///
/// let w: TimeWindow = serde_json::from_str(r#"{"expire_type": "minute", "expire": 5}"#).unwrap();
/// assert_eq!(w.duration(), Duration::from_secs(300));
/// assert_eq!(TimeWindow::seconds(90).unwrap().duration(), Duration::from_secs(90));
/// assert!(serde_json::from_str::<TimeWindow>(r#"{"expire_type": "minute", "expire": 0}"#).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimeWindow {
    unit: WindowUnit,
    count: NonZeroU32,
}

impl TimeWindow {
    /// One second.
    pub const SECOND: Self = Self::new(WindowUnit::Second, NonZeroU32::MIN);
    /// One minute.
    pub const MINUTE: Self = Self::new(WindowUnit::Minute, NonZeroU32::MIN);
    /// One hour.
    pub const HOUR: Self = Self::new(WindowUnit::Hour, NonZeroU32::MIN);
    /// One day.
    pub const DAY: Self = Self::new(WindowUnit::Day, NonZeroU32::MIN);

    /// `count` units.
    pub const fn new(unit: WindowUnit, count: NonZeroU32) -> Self {
        Self { unit, count }
    }

    /// `n` seconds; `None` for 0.
    pub fn seconds(n: u32) -> Option<Self> {
        NonZeroU32::new(n).map(|c| Self::new(WindowUnit::Second, c))
    }

    /// The unit.
    pub fn unit(&self) -> WindowUnit {
        self.unit
    }

    /// How many units.
    pub fn count(&self) -> NonZeroU32 {
        self.count
    }

    /// The window's length.
    pub fn duration(&self) -> Duration {
        Duration::from_secs(self.unit.seconds() * u64::from(self.count.get()))
    }
}

#[derive(Serialize, Deserialize)]
struct RawWindow {
    expire_type: WindowUnit,
    #[serde(default = "one")]
    expire: u32,
}

fn one() -> u32 {
    1
}

impl Serialize for TimeWindow {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        RawWindow { expire_type: self.unit, expire: self.count.get() }.serialize(s)
    }
}

impl<'de> Deserialize<'de> for TimeWindow {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = RawWindow::deserialize(d)?;
        let count = NonZeroU32::new(raw.expire)
            .ok_or_else(|| serde::de::Error::custom("`expire` must be a positive number of units"))?;
        Ok(Self::new(raw.expire_type, count))
    }
}

/// What time it is. Policies take time only from a clock, so tests can be exact and instant.
///
/// A clock has two readings: the wall-clock time ([`now`](Self::now)), for what is tied to
/// the calendar (a signature's timestamp, a fixed window that resets at midnight), and a
/// monotonic time ([`monotonic`](Self::monotonic)), for what measures elapsed time (a GCRA
/// or sliding-window limiter, how long a nonce is kept), so that a step of the wall clock
/// (NTP, an operator) neither frees nor blocks a limiter nor forgets a nonce early.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// The current wall-clock time.
    fn now(&self) -> SystemTime;

    /// The current time as a duration since the Unix epoch (zero before it).
    fn since_epoch(&self) -> Duration {
        self.now().duration_since(UNIX_EPOCH).unwrap_or_default()
    }

    /// Time elapsed since an origin fixed for the clock's life, never going back. Readings
    /// of one clock compare with each other only. The default reads
    /// [`since_epoch`](Self::since_epoch), which suits a test clock that only moves forward;
    /// the [`SystemClock`] reads the operating system's monotonic clock.
    fn monotonic(&self) -> Duration {
        self.since_epoch()
    }
}

/// The system's clocks: `SystemTime` for the wall clock; for the monotonic one, with feature
/// `tsc-clock` (which flow control and the replay guard turn on), the CPU's time-stamp counter
/// where it is invariant (calibrated once against the OS monotonic clock, as governor and
/// tower_governor read time, through `quanta`), else the OS monotonic clock (`Instant`).
///
/// The monotonic reading is on every rate take's path: the counter is read in a few
/// nanoseconds where the vDSO's `clock_gettime` takes over twenty on a virtual machine.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }

    fn monotonic(&self) -> Duration {
        monotonic::since_origin()
    }
}

/// The monotonic clock from its origin: the first reading in the process, so that every store
/// of the process shares one time line.
#[cfg(feature = "tsc-clock")]
mod monotonic {
    use std::sync::OnceLock;
    use std::time::Duration;

    static CLOCK: OnceLock<(quanta::Clock, u64)> = OnceLock::new();

    pub(super) fn since_origin() -> Duration {
        // the first reading calibrates the counter (up to 200 ms): the stores take it when
        // they are made, not on a request's path
        let (clock, origin) = CLOCK.get_or_init(|| {
            let clock = quanta::Clock::new();
            let origin = clock.raw();
            (clock, origin)
        });
        // a reading behind the origin (counters a few cycles apart across cores) is zero
        Duration::from_nanos(clock.delta_as_nanos(*origin, clock.raw()))
    }
}

#[cfg(not(feature = "tsc-clock"))]
mod monotonic {
    use std::sync::OnceLock;
    use std::time::{Duration, Instant};

    static ORIGIN: OnceLock<Instant> = OnceLock::new();

    pub(super) fn since_origin() -> Duration {
        let origin = *ORIGIN.get_or_init(Instant::now);
        Instant::now().saturating_duration_since(origin)
    }
}

/// A clock that moves only when told to; clones share one time. For tests.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use tollgate_core::{Clock, ManualClock};
///
/// let clock = ManualClock::at_unix(Duration::from_secs(1_700_000_000));
/// let seen_by_policy = clock.clone();
/// clock.advance(Duration::from_millis(1500));
/// assert_eq!(seen_by_policy.since_epoch(), Duration::from_millis(1_700_000_001_500));
/// ```
#[derive(Debug, Clone, Default)]
pub struct ManualClock {
    nanos: Arc<AtomicU64>,
}

impl ManualClock {
    /// A clock reading `since_epoch` after the Unix epoch.
    pub fn at_unix(since_epoch: Duration) -> Self {
        let clock = Self::default();
        clock.set_unix(since_epoch);
        clock
    }

    /// Sets the time.
    pub fn set_unix(&self, since_epoch: Duration) {
        let nanos = u64::try_from(since_epoch.as_nanos()).unwrap_or(u64::MAX);
        self.nanos.store(nanos, Ordering::SeqCst);
    }

    /// Moves the time forward.
    pub fn advance(&self, by: Duration) {
        let by = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        let _ = self.nanos.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| Some(n.saturating_add(by)));
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_nanos(self.nanos.load(Ordering::SeqCst))
    }
}

/// How far apart two times are, in either direction: the skew a timestamp window checks.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use tollgate_core::time_apart;
///
/// let a = UNIX_EPOCH + Duration::from_secs(100);
/// let b = UNIX_EPOCH + Duration::from_secs(40);
/// assert_eq!(time_apart(a, b), Duration::from_secs(60));
/// assert_eq!(time_apart(b, a), Duration::from_secs(60));
/// ```
pub fn time_apart(a: SystemTime, b: SystemTime) -> Duration {
    a.duration_since(b).or_else(|_| b.duration_since(a)).unwrap_or_default()
}

/// A shared clock, as policies hold it.
pub type SharedClock = Arc<dyn Clock>;

/// Clocks for tests across the crate.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;

    /// A clock whose wall-clock and monotonic readings are set apart, to step the wall clock.
    #[derive(Debug, Clone, Default)]
    pub(crate) struct TwoClocks {
        pub(crate) wall: crate::ManualClock,
        pub(crate) monotonic: crate::ManualClock,
    }

    impl Clock for TwoClocks {
        fn now(&self) -> std::time::SystemTime {
            self.wall.now()
        }

        fn monotonic(&self) -> Duration {
            self.monotonic.since_epoch()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_serde_round_trip() {
        for (json, secs) in [
            (r#"{"expire_type":"second"}"#, 1),
            (r#"{"expire_type":"hour","expire":2}"#, 7200),
            (r#"{"expire_type":"day","expire":1}"#, 86_400),
        ] {
            let w: TimeWindow = serde_json::from_str(json).unwrap();
            assert_eq!(w.duration().as_secs(), secs);
            assert_eq!(u64::from(w.count().get()) * w.unit().seconds(), secs);
            let back: TimeWindow = serde_json::from_str(&serde_json::to_string(&w).unwrap()).unwrap();
            assert_eq!(back, w);
        }
        assert!(serde_json::from_str::<TimeWindow>(r#"{"expire_type":"week"}"#).is_err());
        assert!(serde_json::from_str::<TimeWindow>(r#"{"expire":3}"#).is_err());
    }

    #[test]
    fn window_flattens_into_plugin_config() {
        #[derive(Deserialize)]
        struct Plugin {
            #[serde(flatten)]
            window: TimeWindow,
            api_rate_limit: u32,
        }
        let p: Plugin = serde_json::from_str(r#"{"expire_type":"minute","expire":2,"api_rate_limit":5}"#).unwrap();
        assert_eq!(p.window.duration().as_secs(), 120);
        assert_eq!(p.api_rate_limit, 5);
    }

    #[test]
    fn system_clock_is_recent() {
        assert!(SystemClock.since_epoch() > Duration::from_secs(1_600_000_000));
    }

    #[test]
    fn monotonic_readings_never_go_back() {
        let mut last = SystemClock.monotonic();
        for _ in 0..1_000 {
            let next = SystemClock.monotonic();
            assert!(next >= last);
            last = next;
        }
        std::thread::sleep(Duration::from_millis(5));
        assert!(SystemClock.monotonic() >= last + Duration::from_millis(5));
        // across threads (cores, whose time-stamp counters must agree): a reading passed on
        // is never ahead of the receiver's own next one
        let (tx, rx) = std::sync::mpsc::channel::<Duration>();
        let reader = std::thread::spawn(move || rx.iter().all(|sent| SystemClock.monotonic() >= sent));
        for _ in 0..10_000 {
            tx.send(SystemClock.monotonic()).unwrap();
        }
        drop(tx);
        assert!(reader.join().unwrap(), "a later reading on another thread went back");
        // a test clock's monotonic reading moves with it
        let clock = ManualClock::at_unix(Duration::from_secs(10));
        let before = clock.monotonic();
        clock.advance(Duration::from_secs(3));
        assert_eq!(clock.monotonic() - before, Duration::from_secs(3));
    }
}
