//! Basic flow control: the API, each app, each client IP, with special apps and IPs.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::time::Duration;

use tollgate_core::{Caller, RateQuota, Rejection};

use crate::config::{AlgorithmChoice, BasicFlowControlConfig, ConfigError, Enforcement};
use crate::policy::{Check, Checks, FlowPolicy, FlowRequest, Keys, Tier, client_ip, tier_limits};
use crate::refusal::ip_unresolved;

/// At most this many special apps, and as many special IPs (the plugin's bound).
pub const MAX_SPECIALS: usize = 30;

/// The IPv6 prefix length a client is limited by unless told otherwise: one host (one
/// customer line) is commonly given a whole /64 and may use any address in it.
pub const DEFAULT_IPV6_PREFIX: u8 = 64;

/// The longest window a limit may have.
const MAX_WINDOW: Duration = Duration::from_secs(366 * 86_400);

/// The compiled limits of Tencent's basic flow-control plugin: the API limit always applies;
/// the app limit per [`Caller`] (not applied to a request without one); the IP limit per
/// [`ClientIp`](tollgate_core::ClientIp). Every limit that applies is checked; the smallest
/// decides. The specials follow Tencent's console text, the API limit always applying:
///
/// - a special app gets its own limit instead of the general app limit; the IP limit still
///   applies to its requests (the text names the app and user limits only);
/// - a special client IP gets its own limit instead of BOTH the general IP limit and the
///   general app limit ("App 流量限制和 ClientIP 流量限制对该应用失效"); a special app
///   calling from it still has its own app limit, which is not a general one.
///
/// An IPv4 client is limited by its address; an IPv6 client by its /64 network (one host
/// commonly owns a whole /64; see [`ipv6_prefix`](Self::ipv6_prefix)). A special IP is
/// matched and limited by its exact address: it names a known host, and no other address in
/// its network gets its allowance. When the policy has an IP limit or special IPs and the
/// client's address is unknown (no peer address, or a forwarding header a trusted proxy
/// sent that could not be read), the request is refused, 403 `IpUnresolved`, rather than
/// let past the IP limit or keyed as the proxy ([`pass_unresolved`](Self::pass_unresolved)
/// to let it past).
#[derive(Debug, Clone)]
pub struct BasicLimits {
    keys: Keys,
    api: RateQuota,
    app: Option<RateQuota>,
    ip: Option<RateQuota>,
    special_apps: Vec<(String, RateQuota)>,
    special_ips: HashMap<IpAddr, RateQuota>,
    ipv6_prefix: u8,
    pass_unresolved: bool,
}

impl BasicLimits {
    /// Compiles the plugin JSON; every problem names its field.
    pub fn from_config(config: &BasicFlowControlConfig) -> Result<Self, ConfigError> {
        if config.expire == 0 {
            return Err(ConfigError::new("expire", "expected a positive number of units"));
        }
        if config.utc_offset_hours >= 24 {
            return Err(ConfigError::new("utc_offset_hours", "expected 0 to 23"));
        }
        let window = Duration::from_secs(config.expire_type.seconds())
            .checked_mul(u32::try_from(config.expire).unwrap_or(u32::MAX))
            .filter(|w| *w <= MAX_WINDOW)
            .ok_or_else(|| ConfigError::new("expire", "the window may be at most a year"))?;
        let ipv6_prefix = config.ipv6_prefix.unwrap_or(DEFAULT_IPV6_PREFIX);
        check_prefix(ipv6_prefix)?;
        let how = Enforcement {
            algorithm: config.algorithm,
            per_second: config.expire_type == crate::config::WindowUnit::Second,
            utc_offset: Duration::from_secs(u64::from(config.utc_offset_hours) * 3_600),
        };
        let api = how.quota("api_rate_limit", config.api_rate_limit, window)?;
        let app = config.app_rate_limit.map(|l| how.quota("app_rate_limit", l, window)).transpose()?;
        let ip = config.ip_rate_limit.map(|l| how.quota("ip_rate_limit", l, window)).transpose()?;
        if config.spec_app_rate_limits.len() > MAX_SPECIALS {
            return Err(ConfigError::new("spec_app_rate_limits", format!("at most {MAX_SPECIALS} entries")));
        }
        if config.spec_ip_rate_limits.len() > MAX_SPECIALS {
            return Err(ConfigError::new("spec_ip_rate_limits", format!("at most {MAX_SPECIALS} entries")));
        }
        let mut special_apps = Vec::with_capacity(config.spec_app_rate_limits.len());
        for (i, special) in config.spec_app_rate_limits.iter().enumerate() {
            let field = format!("spec_app_rate_limits[{i}]");
            if special.app_id.trim().is_empty() {
                return Err(ConfigError::new(format!("{field}.app_id"), "expected an app id"));
            }
            if special_apps.iter().any(|(id, _)| *id == special.app_id) {
                return Err(ConfigError::new(
                    format!("{field}.app_id"),
                    format!("{:?} is listed twice", special.app_id),
                ));
            }
            special_apps
                .push((special.app_id.clone(), how.quota(&format!("{field}.rate_limit"), special.rate_limit, window)?));
        }
        let mut special_ips = HashMap::with_capacity(config.spec_ip_rate_limits.len());
        for (i, special) in config.spec_ip_rate_limits.iter().enumerate() {
            let field = format!("spec_ip_rate_limits[{i}]");
            let ip: IpAddr = special.ip_key.trim().parse().map_err(|_| {
                ConfigError::new(format!("{field}.ip_key"), format!("{:?} is not an IP address", special.ip_key))
            })?;
            let quota = how.quota(&format!("{field}.rate_limit"), special.rate_limit, window)?;
            if special_ips.insert(canonical(ip), quota).is_some() {
                return Err(ConfigError::new(format!("{field}.ip_key"), format!("{ip} is listed twice")));
            }
        }
        Ok(Self {
            keys: Keys::new("api", "api".into()),
            api,
            app,
            ip,
            special_apps,
            special_ips,
            ipv6_prefix,
            pass_unresolved: false,
        })
    }

    /// `limit` requests per `window` to the API, enforced as `algorithm` (default: GCRA for
    /// windows under a minute, a fixed window otherwise). The window is a microsecond to a
    /// year (366 days); anything else is an error naming `window`.
    pub fn new(limit: u32, window: Duration, algorithm: Option<AlgorithmChoice>) -> Result<Self, ConfigError> {
        if !(Duration::from_micros(1)..=MAX_WINDOW).contains(&window) {
            return Err(ConfigError::new("window", format!("expected a microsecond to a year, got {window:?}")));
        }
        let how = Enforcement { algorithm, per_second: window < Duration::from_secs(60), ..Enforcement::default() };
        let api = how.quota("api_rate_limit", u64::from(limit), window)?;
        Ok(Self {
            keys: Keys::new("api", "api".into()),
            api,
            app: None,
            ip: None,
            special_apps: Vec::new(),
            special_ips: HashMap::new(),
            ipv6_prefix: DEFAULT_IPV6_PREFIX,
            pass_unresolved: false,
        })
    }

    /// Limits an IPv6 client by its network of this prefix length (1 to 128; 64 by
    /// default, 128: each address apart). Special IPs are matched by their exact address
    /// whatever the prefix.
    pub fn ipv6_prefix(mut self, prefix: u8) -> Result<Self, ConfigError> {
        check_prefix(prefix)?;
        self.ipv6_prefix = prefix;
        Ok(self)
    }

    /// Lets a request whose client address is unknown past the IP limit (it still counts
    /// against the API and app limits) instead of refusing it with 403 `IpUnresolved`.
    /// This weakens the IP limit: behind a proxy that forwards no readable address, every
    /// client escapes it.
    pub fn pass_unresolved(mut self, pass: bool) -> Self {
        self.pass_unresolved = pass;
        self
    }

    /// Also limits each app ([`Caller`]) to `limit` per window.
    pub fn app_limit(mut self, limit: u32) -> Result<Self, ConfigError> {
        self.app = Some(self.like_api("app_rate_limit", limit)?);
        Ok(self)
    }

    /// Also limits each client IP ([`ClientIp`](tollgate_core::ClientIp)) to `limit` per window.
    pub fn ip_limit(mut self, limit: u32) -> Result<Self, ConfigError> {
        self.ip = Some(self.like_api("ip_rate_limit", limit)?);
        Ok(self)
    }

    /// Gives app `app_id` its own limit instead of the general app limit.
    pub fn special_app(mut self, app_id: impl Into<String>, limit: u32) -> Result<Self, ConfigError> {
        let app_id = app_id.into();
        let field = format!("spec_app_rate_limits[{}]", self.special_apps.len());
        if self.special_apps.len() >= MAX_SPECIALS {
            return Err(ConfigError::new("spec_app_rate_limits", format!("at most {MAX_SPECIALS} entries")));
        }
        if app_id.trim().is_empty() || self.special_apps.iter().any(|(id, _)| *id == app_id) {
            return Err(ConfigError::new(format!("{field}.app_id"), "expected an app id not listed yet"));
        }
        let quota = self.like_api(&format!("{field}.rate_limit"), limit)?;
        self.special_apps.push((app_id, quota));
        Ok(self)
    }

    /// Gives client IP `ip` its own limit instead of the general IP limit.
    pub fn special_ip(mut self, ip: IpAddr, limit: u32) -> Result<Self, ConfigError> {
        let field = format!("spec_ip_rate_limits[{}]", self.special_ips.len());
        if self.special_ips.len() >= MAX_SPECIALS {
            return Err(ConfigError::new("spec_ip_rate_limits", format!("at most {MAX_SPECIALS} entries")));
        }
        let quota = self.like_api(&format!("{field}.rate_limit"), limit)?;
        if self.special_ips.insert(canonical(ip), quota).is_some() {
            return Err(ConfigError::new(format!("{field}.ip_key"), format!("{ip} is listed twice")));
        }
        Ok(self)
    }

    /// A quota with the API's window and algorithm.
    fn like_api(&self, field: &str, limit: u32) -> Result<RateQuota, ConfigError> {
        let limit = std::num::NonZeroU32::new(limit)
            .ok_or_else(|| ConfigError::new(field, "expected a positive integer, got 0"))?;
        let quota = RateQuota::new(limit, self.api.window()).ok_or_else(|| ConfigError::new(field, "bad window"))?;
        Ok(quota.with_algorithm(self.api.algorithm()))
    }

    /// Names the API in store keys, so several APIs can share one store (a Redis server).
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.keys = Keys::new("api", name.into());
        self
    }

    /// The API's limit.
    pub fn api(&self) -> &RateQuota {
        &self.api
    }
}

pub(crate) fn check_prefix(prefix: u8) -> Result<(), ConfigError> {
    if !(1..=128).contains(&prefix) {
        return Err(ConfigError::new("ipv6_prefix", format!("expected a prefix length of 1 to 128, got {prefix}")));
    }
    Ok(())
}

/// The first `prefix` bits of `ip`, the rest cleared.
pub(crate) fn network(ip: Ipv6Addr, prefix: u8) -> Ipv6Addr {
    let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
    Ipv6Addr::from(u128::from(ip) & mask)
}

/// IPv4-mapped IPv6 addresses are the IPv4 address they carry.
pub(crate) fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

impl FlowPolicy for BasicLimits {
    fn checks<'a>(&'a self, request: &FlowRequest<'a>, out: &mut Checks<'a>) -> Result<(), Rejection> {
        out.push(Check { key: self.keys.whole(), quota: self.api, tier: Tier::Api });
        let ip = if self.ip.is_none() && self.special_ips.is_empty() {
            None
        } else {
            match client_ip(request.extensions) {
                Some(ip) => Some(canonical(ip)),
                None if self.pass_unresolved => None,
                None => return Err(ip_unresolved()),
            }
        };
        let special_ip = ip.and_then(|ip| self.special_ips.get(&ip).map(|quota| (ip, *quota)));
        if let Some(caller) = Caller::from_extensions(request.extensions) {
            let special = self.special_apps.iter().find(|(id, _)| caller.is(id)).map(|(_, q)| *q);
            // a special IP's limit replaces the general app limit too ("App 流量限制和 ClientIP
            // 流量限制对该应用失效"); a special app keeps its own
            if let Some(quota) = special.or(self.app.filter(|_| special_ip.is_none())) {
                out.push(Check { key: self.keys.app(caller.app_id()), quota, tier: Tier::App });
            }
        }
        if let Some((ip, quota)) = special_ip {
            out.push(Check { key: self.keys.ip(ip), quota, tier: Tier::Ip });
        } else if let (Some(ip), Some(quota)) = (ip, self.ip) {
            let key = match ip {
                IpAddr::V6(v6) if self.ipv6_prefix < 128 => {
                    self.keys.ip_network(network(v6, self.ipv6_prefix), self.ipv6_prefix)
                }
                _ => self.keys.ip(ip),
            };
            out.push(Check { key, quota, tier: Tier::Ip });
        }
        Ok(())
    }

    fn limits(&self) -> Vec<u32> {
        let specials = self.special_apps.iter().map(|(_, q)| q).chain(self.special_ips.values());
        tier_limits([Some(&self.api), self.app.as_ref(), self.ip.as_ref()], specials)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_networks() {
        let ip: Ipv6Addr = "2001:db8:1:2:3:4:5:6".parse().unwrap();
        assert_eq!(network(ip, 64).to_string(), "2001:db8:1:2::");
        assert_eq!(network(ip, 48).to_string(), "2001:db8:1::");
        assert_eq!(network(ip, 128), ip);
        assert_eq!(network(ip, 1).to_string(), "::");
        assert_eq!(network(ip, 0).to_string(), "::");
    }
}
