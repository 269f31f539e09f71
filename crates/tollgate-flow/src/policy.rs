//! What a flow-control policy says about one request: the limits that apply to it, each a
//! store key, a quota and the tier whose words a refusal uses.

use std::net::IpAddr;

use http::{Extensions, HeaderMap, Method, Uri};
use smallvec::SmallVec;
use tollgate_core::{ClientIp, RateKey, RateQuota, RateTake, Rejection};

/// The parts of a request a policy reads (the body is never read).
#[derive(Debug, Clone, Copy)]
pub struct FlowRequest<'a> {
    /// The method.
    pub method: &'a Method,
    /// The target.
    pub uri: &'a Uri,
    /// The headers.
    pub headers: &'a HeaderMap,
    /// The extensions ([`Caller`](tollgate_core::Caller), [`ClientIp`], ...).
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
    /// It borrows what it can from the policy and the request.
    pub key: RateKey<'a>,
    /// The limit.
    pub quota: RateQuota,
    /// Whose limit it is.
    pub tier: Tier,
}

impl Check<'_> {
    /// The check with its key owned, to outlive the policy's and the request's borrows.
    pub fn into_owned(self) -> Check<'static> {
        Check { key: self.key.into_owned(), quota: self.quota, tier: self.tier }
    }
}

/// The checks a policy names for one request, in order: the takes the store is asked for,
/// and whose limit each is. A request rarely has more than four, so they are kept inline, in
/// the layout the store reads: no allocation or copy per request.
#[derive(Debug, Clone, Default)]
pub struct Checks<'a> {
    takes: SmallVec<[RateTake<'a>; 4]>,
    tiers: SmallVec<[Tier; 4]>,
}

impl<'a> Checks<'a> {
    /// Adds a check after the others.
    #[inline]
    pub fn push(&mut self, check: Check<'a>) {
        self.takes.push(RateTake { key: check.key, quota: check.quota });
        self.tiers.push(check.tier);
    }

    /// The keys and quotas, in order.
    #[inline]
    pub fn takes(&self) -> &[RateTake<'a>] {
        &self.takes
    }

    /// Whose limit the check at `index` is.
    #[inline]
    pub fn tier(&self, index: usize) -> Option<Tier> {
        self.tiers.get(index).copied()
    }

    /// How many checks there are.
    #[inline]
    pub fn len(&self) -> usize {
        self.takes.len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.takes.is_empty()
    }

    /// The checks with their keys owned, to wait with the request for a store.
    pub fn into_owned(self) -> Checks<'static> {
        Checks { takes: self.takes.into_iter().map(RateTake::into_owned).collect(), tiers: self.tiers }
    }
}

/// A flow-control policy: the limits that apply to a request, in the order they are
/// checked. [`BasicLimits`](crate::BasicLimits), [`ParamLimits`](crate::ParamLimits),
/// [`AliyunLimits`](crate::AliyunLimits) and [`KeyedLimit`](crate::KeyedLimit) are the
/// built-in ones.
pub trait FlowPolicy: Send + Sync + 'static {
    /// Appends the checks for `request` to `out`; or refuses the request when a key cannot
    /// be read one way only (its client IP unknown, a key parameter repeated): the request
    /// is then refused before any limit is taken. Keys may borrow from the policy and from
    /// the request.
    fn checks<'a>(&'a self, request: &FlowRequest<'a>, out: &mut Checks<'a>) -> Result<(), Rejection>;

    /// Every limit (requests per window) the policy's checks can carry, so that a layer
    /// renders their `X-RateLimit-Limit` values once, when it is built. Optional: a limit not
    /// listed is rendered per request (an allocation, when the rate headers are on).
    fn limits(&self) -> Vec<u32> {
        Vec::new()
    }
}

/// The limits of a tiered policy (Tencent's basic limits, Aliyun's): its three tiers' quotas,
/// those it has, and its specials', for [`FlowPolicy::limits`].
pub(crate) fn tier_limits<'a>(
    tiers: [Option<&'a RateQuota>; 3],
    specials: impl Iterator<Item = &'a RateQuota>,
) -> Vec<u32> {
    tiers.into_iter().flatten().chain(specials).map(RateQuota::limit).collect()
}

/// The client's address as [`ClientIp::from_extensions`] finds it, read in place when
/// `ClientIpLayer` put it there (the usual case): the copy of the whole unaligned
/// [`ClientIp`] that `from_extensions` returns stalled every request on its loads.
pub(crate) fn client_ip(extensions: &Extensions) -> Option<IpAddr> {
    match extensions.get::<ClientIp>() {
        Some(client) => Some(client.ip()),
        // the peer, unless a trusted proxy hid the client
        None => ClientIp::from_extensions(extensions).map(|client| client.ip()),
    }
}

/// A policy's store key scopes, made from its name once: `{first}:{name}` for its
/// request-independent limit, `app:{name}`, `ip:{name}`, `user:{name}` for the keyed ones.
#[derive(Debug, Clone)]
pub(crate) struct Keys {
    name: String,
    whole: String,
    app: String,
    ip: String,
    user: String,
    header: String,
}

impl Keys {
    /// Keys for policy `name`, whose request-independent limit is `{first}:{name}`.
    pub(crate) fn new(first: &str, name: String) -> Self {
        Self {
            whole: format!("{first}:{name}"),
            app: format!("app:{name}"),
            ip: format!("ip:{name}"),
            user: format!("user:{name}"),
            header: format!("header:{name}"),
            name,
        }
    }

    /// The policy's name.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// `{first}:{name}`.
    pub(crate) fn whole(&self) -> RateKey<'_> {
        RateKey::new(&self.whole)
    }

    /// `app:{name}:{app}`.
    pub(crate) fn app<'a>(&'a self, app: &'a str) -> RateKey<'a> {
        RateKey::new(&self.app).with_text(app)
    }

    /// `user:{name}:{user}`.
    pub(crate) fn user<'a>(&'a self, user: &'a str) -> RateKey<'a> {
        RateKey::new(&self.user).with_text(user)
    }

    /// `ip:{name}:{ip}`.
    #[inline]
    pub(crate) fn ip(&self, ip: IpAddr) -> RateKey<'_> {
        RateKey::new(&self.ip).with_ip(ip)
    }

    /// `header:{name}:{value}`.
    pub(crate) fn header<'a>(&'a self, value: std::borrow::Cow<'a, str>) -> RateKey<'a> {
        RateKey::new(&self.header).with_text(value)
    }

    /// `ip:{name}:{network}/{prefix}` (an IPv6 client's network).
    pub(crate) fn ip_network(&self, network: std::net::Ipv6Addr, prefix: u8) -> RateKey<'_> {
        RateKey::new(&self.ip).with_network(network, prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_read_as_the_redis_store_writes_them() {
        let keys = Keys::new("api", "orders".into());
        assert_eq!(keys.whole().to_string(), "api:orders");
        assert_eq!(keys.ip("10.0.0.1".parse().unwrap()).to_string(), "ip:orders:10.0.0.1");
        assert_eq!(keys.app("a1").to_string(), "app:orders:a1");
        assert_eq!(keys.user("u").to_string(), "user:orders:u");
        assert_eq!(keys.ip_network("2001:db8::".parse().unwrap(), 64).to_string(), "ip:orders:2001:db8::/64");
    }
}
