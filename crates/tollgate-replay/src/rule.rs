//! What the guard checks for one request, with no tower types: the claims, from a signature
//! layer or from headers, and the decision about the timestamp.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, HeaderName, StatusCode};
use tollgate_core::{MAX_WINDOW, Rejection, time_apart};

/// How a timestamp header is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampFormat {
    /// Milliseconds since the Unix epoch (`X-Ca-Timestamp`).
    EpochMillis,
    /// Seconds since the Unix epoch (`X-TC-Timestamp`).
    EpochSeconds,
    /// An HTTP date (`X-Date: Mon, 19 Mar 2018 12:08:40 GMT`).
    HttpDate,
}

/// Where the guard finds the timestamp and nonce when no signature layer ran.
#[derive(Debug, Clone)]
pub struct HeaderRule {
    pub(crate) timestamp: HeaderName,
    pub(crate) format: TimestampFormat,
    pub(crate) nonce: Option<HeaderName>,
    pub(crate) key: Option<HeaderName>,
    pub(crate) window: Duration,
}

impl HeaderRule {
    /// Reads the timestamp from the `timestamp` header (in `format`), accepted within
    /// `window` either way (at most a day, [`MAX_WINDOW`]: a longer one is clamped to it).
    pub fn new(timestamp: HeaderName, format: TimestampFormat, window: Duration) -> Self {
        Self { timestamp, format, nonce: None, key: None, window: window.min(MAX_WINDOW) }
    }

    /// Also requires each value of this nonce header to be used once.
    pub fn nonce(mut self, name: HeaderName) -> Self {
        self.nonce = Some(name);
        self
    }

    /// Keeps nonces per value of this header (a key id such as `X-Ca-Key`), not globally.
    pub fn per_key(mut self, name: HeaderName) -> Self {
        self.key = Some(name);
        self
    }

    /// Aliyun API Gateway: `X-Ca-Timestamp` (ms) and `X-Ca-Nonce` per `X-Ca-Key`, 15 minutes.
    pub fn aliyun_api_gateway() -> Self {
        Self::new(HeaderName::from_static("x-ca-timestamp"), TimestampFormat::EpochMillis, Duration::from_secs(900))
            .nonce(HeaderName::from_static("x-ca-nonce"))
            .per_key(HeaderName::from_static("x-ca-key"))
    }
}

/// What a header rule read from a request.
#[derive(Debug)]
pub(crate) struct HeaderClaims<'a> {
    pub(crate) key: &'a str,
    pub(crate) nonce: Option<&'a str>,
    pub(crate) timestamp: SystemTime,
}

impl HeaderRule {
    pub(crate) fn read<'a>(&self, headers: &'a HeaderMap) -> Result<HeaderClaims<'a>, Rejection> {
        let text = |name: &HeaderName| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
        let raw = text(&self.timestamp)
            .ok_or_else(|| refusal("MissingTimestamp", format!("the {} header is required", self.timestamp)))?;
        let timestamp = parse_timestamp(raw, self.format).ok_or_else(|| {
            refusal("InvalidTimestamp", format!("the {} header is not a valid timestamp", self.timestamp))
        })?;
        let nonce = match &self.nonce {
            Some(name) => Some(
                text(name)
                    .filter(|n| !n.is_empty())
                    .ok_or_else(|| refusal("MissingNonce", format!("the {name} header is required")))?,
            ),
            None => None,
        };
        let key = self.key.as_ref().and_then(text).unwrap_or("");
        Ok(HeaderClaims { key, nonce, timestamp })
    }
}

/// Whether `timestamp` is within `window` of `now`, in either direction.
pub(crate) fn within(timestamp: Option<SystemTime>, window: Duration, now: SystemTime) -> bool {
    timestamp.is_none_or(|ts| time_apart(ts, now) <= window)
}

/// How long to keep a nonce: until its timestamp leaves the window (a second's margin for
/// clock granularity), or one window when there is no timestamp. The window is clamped to
/// [`MAX_WINDOW`]; were the end of the window not representable, the nonce is kept two
/// windows, the most any accepted timestamp needs.
pub(crate) fn keep_for(timestamp: Option<SystemTime>, window: Duration, now: SystemTime) -> Duration {
    let window = window.min(MAX_WINDOW);
    let ttl = match timestamp {
        Some(ts) => match ts.checked_add(window) {
            Some(end) => end.duration_since(now).unwrap_or_default(),
            None => window * 2,
        },
        None => window,
    };
    ttl + Duration::from_secs(1)
}

/// The tenant a nonce belongs to in the store: scheme (or `headers`) and key id.
pub(crate) fn tenant(namespace: &str, key: &str) -> String {
    let mut k = String::with_capacity(namespace.len() + key.len() + 1);
    k.push_str(namespace);
    k.push('\u{1f}');
    k.push_str(key);
    k
}

/// Calls `f` with the [`tenant`] of `namespace` and `key`, written on the stack when it is
/// short (a scheme's name and a key id nearly always are): a check runs on every signed
/// request, and an allocation for a string used once is a fifth of what the guard adds.
pub(crate) fn with_tenant<T>(namespace: &str, key: &str, f: impl FnOnce(&str) -> T) -> T {
    let mut buf = [0u8; 96];
    let len = namespace.len() + 1 + key.len();
    let Some(out) = buf.get_mut(..len) else {
        return f(&tenant(namespace, key));
    };
    let (head, tail) = out.split_at_mut(namespace.len());
    head.copy_from_slice(namespace.as_bytes());
    tail[0] = 0x1f;
    tail[1..].copy_from_slice(key.as_bytes());
    // two texts joined by an ASCII byte: UTF-8 by construction (checked, since `unsafe` is
    // forbidden; a few nanoseconds over so few bytes)
    match std::str::from_utf8(out) {
        Ok(text) => f(text),
        Err(_) => f(&tenant(namespace, key)),
    }
}

fn parse_timestamp(raw: &str, format: TimestampFormat) -> Option<SystemTime> {
    match format {
        TimestampFormat::EpochMillis => {
            raw.parse::<u64>().ok().and_then(|ms| UNIX_EPOCH.checked_add(Duration::from_millis(ms)))
        }
        TimestampFormat::EpochSeconds => {
            raw.parse::<u64>().ok().and_then(|s| UNIX_EPOCH.checked_add(Duration::from_secs(s)))
        }
        TimestampFormat::HttpDate => httpdate::parse_http_date(raw).ok(),
    }
}

fn refusal(code: &'static str, message: String) -> Rejection {
    Rejection::new(StatusCode::BAD_REQUEST, code, message).with_policy("replay")
}

/// The neutral refusal for a reused nonce.
pub(crate) fn replayed() -> Rejection {
    Rejection::new(StatusCode::BAD_REQUEST, "NonceUsed", "this nonce was already used")
        .with_policy("replay")
        .with_aliyun_api_gateway(StatusCode::BAD_REQUEST, "Nonce Used")
}

/// The neutral refusal for a timestamp outside the window.
pub(crate) fn expired() -> Rejection {
    Rejection::new(StatusCode::BAD_REQUEST, "TimestampExpired", "the request timestamp is outside the accepted window")
        .with_policy("replay")
        .with_aliyun_api_gateway(StatusCode::BAD_REQUEST, "Timestamp Expired")
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: u64 = 10_000;

    fn at(s: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(s)
    }

    #[test]
    fn window_both_directions() {
        let w = Duration::from_secs(900);
        assert!(within(Some(at(T - 900)), w, at(T)));
        assert!(within(Some(at(T + 900)), w, at(T)));
        assert!(!within(Some(at(T - 901)), w, at(T)));
        assert!(!within(Some(at(T + 901)), w, at(T)));
        assert!(within(None, w, at(T)));
    }

    #[test]
    fn nonce_kept_until_timestamp_leaves_window() {
        let w = Duration::from_secs(900);
        assert_eq!(keep_for(Some(at(T - 100)), w, at(T)), Duration::from_secs(801));
        assert_eq!(keep_for(Some(at(T + 100)), w, at(T)), Duration::from_secs(1001));
        assert_eq!(keep_for(None, w, at(T)), Duration::from_secs(901));
        assert_eq!(tenant("s", "k"), "s\u{1f}k");
        // on the stack or not, the same text
        for key in ["", "k", "203753741", "AKID\u{e9}x", &"k".repeat(94), &"k".repeat(95), &"\u{e9}".repeat(80)] {
            assert_eq!(with_tenant("aliyun-apigw", key, str::to_owned), tenant("aliyun-apigw", key));
            assert_eq!(with_tenant("", key, str::to_owned), tenant("", key));
        }
    }

    #[test]
    fn header_claims() {
        let rule = HeaderRule::aliyun_api_gateway();
        let mut h = HeaderMap::new();
        assert_eq!(rule.read(&h).unwrap_err().code(), "MissingTimestamp");
        h.insert("x-ca-timestamp", "12x".parse().unwrap());
        assert_eq!(rule.read(&h).unwrap_err().code(), "InvalidTimestamp");
        h.insert("x-ca-timestamp", "1700000000123".parse().unwrap());
        assert_eq!(rule.read(&h).unwrap_err().code(), "MissingNonce");
        h.insert("x-ca-nonce", "abc".parse().unwrap());
        h.insert("x-ca-key", "app".parse().unwrap());
        let c = rule.read(&h).unwrap();
        assert_eq!(c.timestamp, UNIX_EPOCH + Duration::from_millis(1_700_000_000_123));
        assert_eq!((c.key, c.nonce), ("app", Some("abc")));
        let http =
            HeaderRule::new(HeaderName::from_static("x-date"), TimestampFormat::HttpDate, Duration::from_secs(900));
        let mut h = HeaderMap::new();
        h.insert("x-date", "Mon, 19 Mar 2018 12:08:40 GMT".parse().unwrap());
        assert!(http.read(&h).is_ok());
        // an absurd timestamp does not overflow
        let mut h = HeaderMap::new();
        h.insert("x-ca-timestamp", u64::MAX.to_string().parse().unwrap());
        h.insert("x-ca-nonce", "n".parse().unwrap());
        let far = rule.read(&h).unwrap().timestamp;
        assert!(!within(Some(far), Duration::from_secs(900), at(T)));
        let _ = keep_for(Some(far), Duration::MAX, at(T));
    }

    #[test]
    fn a_huge_window_is_clamped_not_overflowed() {
        // Duration::MAX once overflowed the window's end and kept the nonce one second
        let ts = at(T + 100);
        assert_eq!(keep_for(Some(ts), Duration::MAX, at(T)), MAX_WINDOW + Duration::from_secs(101));
        assert_eq!(keep_for(None, Duration::MAX, at(T)), MAX_WINDOW + Duration::from_secs(1));
        let rule = HeaderRule::new(HeaderName::from_static("x-ts"), TimestampFormat::EpochSeconds, Duration::MAX);
        assert_eq!(rule.window, MAX_WINDOW);
    }
}
