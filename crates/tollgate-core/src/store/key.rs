//! [`RateKey`]: a rate limit's key in parts, so a request's key is never formatted into a
//! string for an in-memory store (a per-IP key was the largest cost of a flow check).

use std::borrow::Cow;
use std::fmt;
use std::hash::Hasher;
use std::net::{IpAddr, Ipv6Addr};

/// A rate limit's key: the scope a policy fixes (its tier and name, `ip:orders`) and the
/// value a request brings (a client IP, an app id, a parameter's value), if any. Its text is
/// `{scope}:{value}` (`ip:orders:10.0.0.7`), or the scope alone, as the Redis store keeps it.
/// The in-memory store keeps it as a fingerprint of its parts (an address as its bytes, not
/// its text), so a policy makes each of its keys the same way every time.
///
/// ```
/// use std::net::{IpAddr, Ipv4Addr};
/// use tollgate_core::RateKey;
///
/// let key = RateKey::new("ip:orders").with_ip(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 7)));
/// assert_eq!(key.to_string(), "ip:orders:10.0.0.7");
/// assert_eq!(RateKey::from("api:orders").to_string(), "api:orders");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateKey<'a> {
    scope: Cow<'a, str>,
    value: Value<'a>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Value<'a> {
    None,
    Text(Cow<'a, str>),
    Ip(IpAddr),
    /// An IPv6 network and its prefix length.
    Net(Ipv6Addr, u8),
}

impl<'a> RateKey<'a> {
    /// A key that is its scope alone (a limit the same for every request: `api:orders`).
    #[inline]
    pub const fn new(scope: &'a str) -> Self {
        Self { scope: Cow::Borrowed(scope), value: Value::None }
    }

    /// The key of `value` within the scope: `{scope}:{value}`.
    #[inline]
    pub fn with_text(self, value: impl Into<Cow<'a, str>>) -> Self {
        Self { scope: self.scope, value: Value::Text(value.into()) }
    }

    /// The key of a client address within the scope: `{scope}:{ip}`, as `Display` writes it.
    #[inline]
    pub fn with_ip(self, ip: IpAddr) -> Self {
        Self { scope: self.scope, value: Value::Ip(ip) }
    }

    /// The key of an IPv6 network within the scope: `{scope}:{network}/{prefix}` (an IPv6
    /// client counted by its /64), kept as its bytes, never formatted for an in-memory store.
    #[inline]
    pub fn with_network(self, network: Ipv6Addr, prefix: u8) -> Self {
        Self { scope: self.scope, value: Value::Net(network, prefix) }
    }

    /// The key owned, to outlive what it borrowed.
    pub fn into_owned(self) -> RateKey<'static> {
        let value = match self.value {
            Value::None => Value::None,
            Value::Text(text) => Value::Text(Cow::Owned(text.into_owned())),
            Value::Ip(ip) => Value::Ip(ip),
            Value::Net(net, prefix) => Value::Net(net, prefix),
        };
        RateKey { scope: Cow::Owned(self.scope.into_owned()), value }
    }

    /// The same key borrowing from this one (never a copy of its text).
    #[inline]
    pub fn reborrow(&self) -> RateKey<'_> {
        let value = match &self.value {
            Value::None => Value::None,
            Value::Text(text) => Value::Text(Cow::Borrowed(text)),
            Value::Ip(ip) => Value::Ip(*ip),
            Value::Net(net, prefix) => Value::Net(*net, *prefix),
        };
        RateKey { scope: Cow::Borrowed(&self.scope), value }
    }

    /// The scope: the key's text up to its value.
    pub fn scope(&self) -> &str {
        &self.scope
    }

    /// Feeds the key's parts to `hasher`: one word with the value's kind and an IPv4
    /// address or, before a text value, the scope's length (so no two splits of one text
    /// feed alike); an IPv6 address's bytes; then the scope, then a text value. A kind fixes
    /// what follows it, so no two keys feed alike. Every write but the texts' has a size
    /// known when compiled, which halves SipHash's cost here (a slice of a length known
    /// only at run time is loaded byte group by byte group).
    pub(super) fn hash_parts(&self, hasher: &mut impl Hasher) {
        let head = |kind: u64, rest: u64| (kind | rest << 8).to_le_bytes();
        match &self.value {
            Value::None => hasher.write(&head(0, 0)),
            Value::Text(_) => {
                // a scope's length, saturated to the word's 56 bits: a longer one still
                // hashes all its bytes below
                let scope_len = u64::try_from(self.scope.len()).unwrap_or(u64::MAX).min(u64::MAX >> 8);
                hasher.write(&head(1, scope_len));
            }
            Value::Ip(IpAddr::V4(v4)) => hasher.write(&head(2, u64::from(v4.to_bits()))),
            Value::Ip(IpAddr::V6(v6)) => {
                hasher.write(&head(3, 0));
                hasher.write(&v6.octets());
            }
            Value::Net(net, prefix) => {
                hasher.write(&head(4, u64::from(*prefix)));
                hasher.write(&net.octets());
            }
        }
        hasher.write(self.scope.as_bytes());
        if let Value::Text(text) = &self.value {
            hasher.write(text.as_bytes());
        }
    }
}

impl<'a> From<&'a str> for RateKey<'a> {
    /// A key given as its whole text.
    fn from(text: &'a str) -> Self {
        Self::new(text)
    }
}

impl fmt::Display for RateKey<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.scope)?;
        match &self.value {
            Value::None => Ok(()),
            Value::Text(text) => write!(f, ":{text}"),
            Value::Ip(ip) => write!(f, ":{ip}"),
            Value::Net(net, prefix) => write!(f, ":{net}/{prefix}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;

    fn fingerprint(key: &RateKey<'_>, state: &std::hash::RandomState) -> u64 {
        let mut hasher = state.build_hasher();
        key.hash_parts(&mut hasher);
        hasher.finish()
    }

    #[test]
    fn a_key_feeds_one_stream_of_its_parts() {
        let state = std::hash::RandomState::new();
        let long = "s".repeat(200);
        for (scope, text) in
            [("ip:x", "v"), ("ip:x", long.as_str()), (long.as_str(), "v"), (long.as_str(), long.as_str())]
        {
            let key = RateKey::new(scope).with_text(text);
            // the stream written whole: kind and scope length in a word, scope, text
            let mut whole = (1 | (scope.len() as u64) << 8).to_le_bytes().to_vec();
            whole.extend(scope.as_bytes());
            whole.extend(text.as_bytes());
            let mut hasher = state.build_hasher();
            hasher.write(&whole);
            assert_eq!(fingerprint(&key, &state), hasher.finish(), "{} + {}", scope.len(), text.len());
        }
    }

    #[test]
    fn a_key_reads_as_its_text_and_hashes_as_its_parts() {
        let state = std::hash::RandomState::new();
        for ip in ["0.0.0.0", "9.10.99.100", "255.255.255.255", "::1", "2001:db8::7", "::ffff:1.2.3.4"] {
            let ip: IpAddr = ip.parse().unwrap();
            let key = RateKey::new("ip:orders").with_ip(ip);
            assert_eq!(key.to_string(), format!("ip:orders:{ip}"));
            assert_eq!(fingerprint(&key, &state), fingerprint(&key.clone().into_owned(), &state));
            assert_eq!(fingerprint(&key, &state), fingerprint(&key.reborrow(), &state));
        }
        let a = RateKey::new("app:orders").with_text("a1");
        assert_eq!(a.scope(), "app:orders");
        assert_eq!(
            fingerprint(&a, &state),
            fingerprint(&RateKey::new("app:orders").with_text(String::from("a1")), &state)
        );
        // no two splits of one text feed alike
        assert_ne!(fingerprint(&a, &state), fingerprint(&RateKey::new("app").with_text("orders:a1"), &state));
        assert_ne!(fingerprint(&RateKey::from("api:x"), &state), fingerprint(&RateKey::from("api:xy"), &state));
        let v4 = RateKey::new("ip:x").with_ip("1.2.3.4".parse().unwrap());
        assert_ne!(
            fingerprint(&v4, &state),
            fingerprint(&RateKey::new("ip:x").with_ip("1.2.3.5".parse().unwrap()), &state)
        );
        assert_ne!(
            fingerprint(&v4, &state),
            fingerprint(&RateKey::new("ip:x").with_ip("::1.2.3.4".parse().unwrap()), &state)
        );
        // a network reads as `{network}/{prefix}`, and differs from its address and its text
        let net: Ipv6Addr = "2001:db8:1:2::".parse().unwrap();
        let key = RateKey::new("ip:x").with_network(net, 64);
        assert_eq!(key.to_string(), "ip:x:2001:db8:1:2::/64");
        assert_eq!(fingerprint(&key, &state), fingerprint(&key.clone().into_owned(), &state));
        assert_eq!(fingerprint(&key, &state), fingerprint(&key.reborrow(), &state));
        for other in [
            RateKey::new("ip:x").with_network(net, 48),
            RateKey::new("ip:x").with_ip(IpAddr::V6(net)),
            RateKey::new("ip:x").with_text("2001:db8:1:2::/64"),
        ] {
            assert_ne!(fingerprint(&key, &state), fingerprint(&other, &state), "{other}");
        }
    }

    proptest::proptest! {
        /// Any address is written as `Display` writes it; distinct addresses are distinct keys.
        #[test]
        fn every_ip_key_is_its_display(a in proptest::prelude::any::<[u8; 16]>(), b in proptest::prelude::any::<[u8; 16]>()) {
            let state = std::hash::RandomState::new();
            for (x, y) in [(IpAddr::from([a[0], a[1], a[2], a[3]]), IpAddr::from([b[0], b[1], b[2], b[3]])), (IpAddr::from(a), IpAddr::from(b))] {
                let key = RateKey::new("ip:x").with_ip(x);
                proptest::prop_assert_eq!(key.to_string(), format!("ip:x:{x}"));
                let other = RateKey::new("ip:x").with_ip(y);
                proptest::prop_assert_eq!(fingerprint(&key, &state) == fingerprint(&other, &state), x == y);
            }
        }
    }
}
