//! What the guard checks for one request, with no tower types: the claims, from a signature
//! layer or from headers, and the decision about the timestamp.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, HeaderName, StatusCode};
use tollgate_core::{ErrorStyle, Rejection, SignedClaims};

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
    /// Reads the timestamp from `timestamp` (in `format`), accepted within `window` either way.
    ///
    /// # Panics
    /// If the name is not a valid header name.
    pub fn new(timestamp: &str, format: TimestampFormat, window: Duration) -> Self {
        Self { timestamp: header(timestamp), format, nonce: None, key: None, window }
    }

    /// Also requires each value of this nonce header to be used once.
    ///
    /// # Panics
    /// If the name is not a valid header name.
    pub fn nonce(mut self, name: &str) -> Self {
        self.nonce = Some(header(name));
        self
    }

    /// Keeps nonces per value of this header (a key id such as `X-Ca-Key`), not globally.
    ///
    /// # Panics
    /// If the name is not a valid header name.
    pub fn per_key(mut self, name: &str) -> Self {
        self.key = Some(header(name));
        self
    }

    /// Aliyun API Gateway: `X-Ca-Timestamp` (ms) and `X-Ca-Nonce` per `X-Ca-Key`, 15 minutes.
    pub fn aliyun_api_gateway() -> Self {
        Self::new("x-ca-timestamp", TimestampFormat::EpochMillis, Duration::from_secs(900))
            .nonce("x-ca-nonce")
            .per_key("x-ca-key")
    }
}

fn header(name: &str) -> HeaderName {
    HeaderName::try_from(name).unwrap_or_else(|_| panic!("{name:?} is not a valid header name"))
}

/// The claims the guard judges.
pub(crate) struct Claims {
    pub(crate) namespace: String,
    pub(crate) nonce: Option<String>,
    pub(crate) timestamp: Option<SystemTime>,
    pub(crate) window: Duration,
    pub(crate) replay: Rejection,
    pub(crate) expired: Rejection,
    pub(crate) style: ErrorStyle,
}

impl Claims {
    pub(crate) fn from_signed(c: &SignedClaims) -> Self {
        Self {
            namespace: format!("{}\u{1f}{}", c.scheme, c.key_id),
            nonce: c.nonce.as_deref().map(str::to_owned),
            timestamp: c.timestamp,
            window: c.window,
            replay: c.replay_rejection.clone(),
            expired: c.expired_rejection.clone(),
            style: c.style.clone(),
        }
    }

    pub(crate) fn from_headers(rule: &HeaderRule, headers: &HeaderMap, style: &ErrorStyle) -> Result<Self, Rejection> {
        let text = |name: &HeaderName| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
        let raw = text(&rule.timestamp)
            .ok_or_else(|| refusal("MissingTimestamp", format!("the {} header is required", rule.timestamp)))?;
        let timestamp = parse_timestamp(raw, rule.format).ok_or_else(|| {
            refusal("InvalidTimestamp", format!("the {} header is not a valid timestamp", rule.timestamp))
        })?;
        let nonce = match &rule.nonce {
            Some(name) => Some(
                text(name)
                    .filter(|n| !n.is_empty())
                    .ok_or_else(|| refusal("MissingNonce", format!("the {name} header is required")))?
                    .to_owned(),
            ),
            None => None,
        };
        let key = rule.key.as_ref().and_then(text).unwrap_or("");
        Ok(Self {
            namespace: format!("headers\u{1f}{key}"),
            nonce,
            timestamp: Some(timestamp),
            window: rule.window,
            replay: replayed(),
            expired: expired(),
            style: style.clone(),
        })
    }

    /// Refuses a timestamp more than the window away from `now`, in either direction.
    pub(crate) fn check_time(&self, now: SystemTime) -> Result<(), Rejection> {
        let Some(ts) = self.timestamp else { return Ok(()) };
        let skew = ts.duration_since(now).or_else(|_| now.duration_since(ts)).unwrap_or_default();
        if skew > self.window { Err(self.expired.clone()) } else { Ok(()) }
    }

    /// The nonce's store key and how long to keep it: until its timestamp leaves the window
    /// (a second's margin for clock granularity), or one window when there is no timestamp.
    pub(crate) fn nonce_entry(&self, now: SystemTime) -> Option<(String, Duration)> {
        let nonce = self.nonce.as_deref()?;
        let ttl = match self.timestamp {
            Some(ts) => ts.checked_add(self.window).and_then(|end| end.duration_since(now).ok()).unwrap_or_default(),
            None => self.window,
        } + Duration::from_secs(1);
        Some((format!("{}\u{1f}{nonce}", self.namespace), ttl))
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

    fn claims(ts: Option<u64>, nonce: Option<&str>) -> Claims {
        Claims {
            namespace: "s\u{1f}k".into(),
            nonce: nonce.map(str::to_owned),
            timestamp: ts.map(|s| UNIX_EPOCH + Duration::from_secs(s)),
            window: Duration::from_secs(900),
            replay: replayed(),
            expired: expired(),
            style: ErrorStyle::default(),
        }
    }

    #[test]
    fn window_both_directions() {
        let now = UNIX_EPOCH + Duration::from_secs(10_000);
        assert!(claims(Some(10_000 - 900), None).check_time(now).is_ok());
        assert!(claims(Some(10_000 + 900), None).check_time(now).is_ok());
        assert!(claims(Some(10_000 - 901), None).check_time(now).is_err());
        assert!(claims(Some(10_000 + 901), None).check_time(now).is_err());
        assert!(claims(None, None).check_time(now).is_ok());
    }

    #[test]
    fn nonce_kept_until_timestamp_leaves_window() {
        let now = UNIX_EPOCH + Duration::from_secs(10_000);
        let (key, ttl) = claims(Some(10_000 - 100), Some("n")).nonce_entry(now).unwrap();
        assert_eq!(key, "s\u{1f}k\u{1f}n");
        assert_eq!(ttl, Duration::from_secs(801));
        let (_, ttl) = claims(Some(10_000 + 100), Some("n")).nonce_entry(now).unwrap();
        assert_eq!(ttl, Duration::from_secs(1001));
        assert!(claims(Some(10_000), None).nonce_entry(now).is_none());
    }

    #[test]
    fn header_claims() {
        let rule = HeaderRule::aliyun_api_gateway();
        let mut h = HeaderMap::new();
        let style = ErrorStyle::default();
        assert_eq!(Claims::from_headers(&rule, &h, &style).err().unwrap().code(), "MissingTimestamp");
        h.insert("x-ca-timestamp", "12x".parse().unwrap());
        assert_eq!(Claims::from_headers(&rule, &h, &style).err().unwrap().code(), "InvalidTimestamp");
        h.insert("x-ca-timestamp", "1700000000123".parse().unwrap());
        assert_eq!(Claims::from_headers(&rule, &h, &style).err().unwrap().code(), "MissingNonce");
        h.insert("x-ca-nonce", "abc".parse().unwrap());
        h.insert("x-ca-key", "app".parse().unwrap());
        let c = Claims::from_headers(&rule, &h, &style).unwrap();
        assert_eq!(c.timestamp, Some(UNIX_EPOCH + Duration::from_millis(1_700_000_000_123)));
        assert_eq!(c.namespace, "headers\u{1f}app");
        let http = HeaderRule::new("x-date", TimestampFormat::HttpDate, Duration::from_secs(900));
        let mut h = HeaderMap::new();
        h.insert("x-date", "Mon, 19 Mar 2018 12:08:40 GMT".parse().unwrap());
        assert!(Claims::from_headers(&http, &h, &style).unwrap().timestamp.is_some());
        // an absurd timestamp does not overflow
        let mut h = HeaderMap::new();
        h.insert("x-ca-timestamp", u64::MAX.to_string().parse().unwrap());
        h.insert("x-ca-nonce", "n".parse().unwrap());
        let _ = Claims::from_headers(&rule, &h, &style);
    }
}
