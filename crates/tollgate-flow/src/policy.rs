//! What a flow-control policy says about one request: the limits that apply to it, each a
//! store key, a quota and the tier whose words a refusal uses.

use std::borrow::Cow;
use std::fmt::Write;

use http::{Extensions, HeaderMap, Method, Uri};
use tollgate_core::{RateQuota, Rejection};

/// The parts of a request a policy reads (the body is never read).
#[derive(Debug, Clone, Copy)]
pub struct FlowRequest<'a> {
    /// The method.
    pub method: &'a Method,
    /// The target.
    pub uri: &'a Uri,
    /// The headers.
    pub headers: &'a HeaderMap,
    /// The extensions ([`Caller`](tollgate_core::Caller), [`ClientIp`](tollgate_core::ClientIp), ...).
    pub extensions: &'a Extensions,
}

/// Which limit a check belongs to; a refusal is worded after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Tier {
    /// The API as a whole.
    Api,
    /// The account owning the calling app (Aliyun's user tier).
    User,
    /// The calling app.
    App,
    /// The client IP.
    Ip,
    /// A parameter strategy (or the parameter plugin's default limit).
    Parameter,
}

/// One limit that applies to a request.
#[derive(Debug, Clone)]
pub struct Check<'a> {
    /// The store key: the policy's name, the tier and the keyed value (`app:orders:203753741`).
    /// A key that is the same for every request is borrowed from the policy.
    pub key: Cow<'a, str>,
    /// The limit.
    pub quota: RateQuota,
    /// Whose limit it is.
    pub tier: Tier,
}

/// A flow-control policy: the limits that apply to a request, in the order they are
/// checked. [`BasicLimits`](crate::BasicLimits), [`ParamLimits`](crate::ParamLimits) and
/// [`AliyunLimits`](crate::AliyunLimits) are the built-in ones.
pub trait FlowPolicy: Send + Sync + 'static {
    /// Appends the checks for `request` to `out`; or refuses the request when a key cannot
    /// be read one way only (its client IP unknown, a key parameter repeated): the request
    /// is then refused before any limit is taken.
    fn checks<'a>(&'a self, request: &FlowRequest<'_>, out: &mut Vec<Check<'a>>) -> Result<(), Rejection>;
}

impl Check<'_> {
    /// The check with its key owned, to outlive the policy's borrow.
    pub fn into_owned(self) -> Check<'static> {
        Check { key: Cow::Owned(self.key.into_owned()), quota: self.quota, tier: self.tier }
    }
}

/// A policy's store keys, made from its name once: the key of its request-independent
/// limit, and keyed ones written straight into a string of the right size.
#[derive(Debug, Clone)]
pub(crate) struct Keys {
    name: String,
    whole: String,
}

impl Keys {
    /// Keys for policy `name`, whose request-independent limit is `{first}:{name}`.
    pub(crate) fn new(first: &str, name: String) -> Self {
        Self { whole: format!("{first}:{name}"), name }
    }

    /// `{first}:{name}`.
    pub(crate) fn whole(&self) -> Cow<'_, str> {
        Cow::Borrowed(&self.whole)
    }

    /// `{tier}:{name}:{text}`, without the formatting machinery (this runs per request).
    pub(crate) fn keyed_text(&self, tier: &str, text: &str) -> Cow<'static, str> {
        let mut key = String::with_capacity(tier.len() + self.name.len() + 2 + text.len());
        for part in [tier, ":", &self.name, ":", text] {
            key.push_str(part);
        }
        Cow::Owned(key)
    }

    /// `{tier}:{name}:{ip}`, an IPv4 address written digit by digit: `Display` for an
    /// address was a tenth of the flow layer's time.
    pub(crate) fn keyed_ip(&self, tier: &str, ip: std::net::IpAddr) -> Cow<'static, str> {
        let std::net::IpAddr::V4(v4) = ip else {
            return self.keyed(tier, &[&ip]);
        };
        let mut text = [0u8; 15];
        let mut len = 0;
        for (i, octet) in v4.octets().into_iter().enumerate() {
            if i > 0 {
                text[len] = b'.';
                len += 1;
            }
            let digits = [octet / 100, octet / 10 % 10, octet % 10];
            let skip = if octet >= 100 {
                0
            } else if octet >= 10 {
                1
            } else {
                2
            };
            for d in &digits[skip..] {
                text[len] = b'0' + d;
                len += 1;
            }
        }
        // digits and dots
        self.keyed_text(tier, std::str::from_utf8(&text[..len]).unwrap_or_default())
    }

    /// `{tier}:{name}:{parts joined by ':'}`.
    pub(crate) fn keyed(&self, tier: &str, parts: &[&dyn std::fmt::Display]) -> Cow<'static, str> {
        let mut key = String::with_capacity(tier.len() + self.name.len() + 2 + 16 * parts.len());
        key.push_str(tier);
        key.push(':');
        key.push_str(&self.name);
        for part in parts {
            key.push(':');
            let _ = write!(key, "{part}"); // writing to a String cannot fail
        }
        Cow::Owned(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_keys_are_written_as_display_writes_them() {
        let keys = Keys::new("api", "orders".into());
        for ip in ["0.0.0.0", "9.10.99.100", "255.255.255.255", "10.0.0.1", "::1", "2001:db8::7"] {
            let ip: std::net::IpAddr = ip.parse().unwrap();
            assert_eq!(keys.keyed_ip("ip", ip), format!("ip:orders:{ip}"));
        }
        assert_eq!(keys.keyed_text("app", "a1"), "app:orders:a1");
    }

    proptest::proptest! {
        /// Any IPv4 address is keyed as `Display` writes it.
        #[test]
        fn every_ipv4_key_is_display(octets in proptest::prelude::any::<[u8; 4]>()) {
            let ip = std::net::IpAddr::from(octets);
            let keys = Keys::new("api", "x".into());
            proptest::prop_assert_eq!(keys.keyed_ip("ip", ip), format!("ip:x:{ip}"));
        }
    }
}
