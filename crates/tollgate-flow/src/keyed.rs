//! [`KeyedLimit`]: one limit per key (each client IP, each app, each value of a header),
//! with no API-wide limit: the policy a user of tower_governor reaches for, in one line.
//!
//! ```
//! use std::convert::Infallible;
//! use std::net::{IpAddr, Ipv4Addr};
//! use std::time::Duration;
//! use http::{Request, Response, StatusCode};
//! use tollgate_core::ClientIp;
//! use tollgate_flow::FlowControlLayer;
//! use tower::{Service, ServiceBuilder, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // two requests per second from each client IP
//! let mut svc = ServiceBuilder::new()
//!     .layer(FlowControlLayer::per_client_ip(2, Duration::from_secs(1))?)
//!     .service(service_fn(|_req: Request<()>| async { Ok::<_, Infallible>(Response::new("hello")) }));
//!
//! let from = |ip: [u8; 4]| {
//!     let mut req = Request::new(());
//!     // ClientIpLayer puts this here in a real stack
//!     req.extensions_mut().insert(ClientIp::direct(IpAddr::V4(Ipv4Addr::from(ip))));
//!     req
//! };
//! for expected in [StatusCode::OK, StatusCode::OK, StatusCode::TOO_MANY_REQUESTS] {
//!     assert_eq!(svc.ready().await?.call(from([10, 0, 0, 1])).await?.status(), expected);
//! }
//! // another client has an allowance of its own
//! assert_eq!(svc.ready().await?.call(from([10, 0, 0, 2])).await?.status(), StatusCode::OK);
//! # Ok(())
//! # }
//! ```

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use http::HeaderName;
use tollgate_core::{Algorithm, Caller, MAX_WINDOW, ParamError, RateKey, RateQuota, Rejection};

use crate::basic::{DEFAULT_IPV6_PREFIX, canonical, check_prefix, network};
use crate::config::ConfigError;
use crate::layer::FlowControlLayer;
use crate::policy::{Check, Checks, FlowPolicy, FlowRequest, Keys, Tier, client_ip};
use crate::refusal::{bad_parameter, ip_unresolved};

/// What a [`KeyedLimit`] counts by.
#[derive(Debug, Clone)]
enum KeyBy {
    ClientIp,
    App,
    Header(HeaderName),
}

/// One limit for each client IP, each app or each value of a header: `limit` requests per
/// `window`, by GCRA unless [`algorithm`](Self::algorithm) says otherwise.
///
/// - By client IP ([`ClientIp`](tollgate_core::ClientIp), put there by `ClientIpLayer`): an IPv6 client is counted by
///   its /64 ([`ipv6_prefix`](Self::ipv6_prefix)), an IPv4-mapped address as the IPv4
///   address; a request whose address is unknown is refused, 403 `IpUnresolved`.
/// - By app ([`Caller`], put there by a signature verifier): a request with no caller is not
///   limited (stack this after authentication, which refuses those).
/// - By a header's value: requests without the header share one allowance (so leaving the
///   header out does not escape the limit); a header given twice is refused, 400
///   `AmbiguousParameter`.
#[derive(Debug, Clone)]
pub struct KeyedLimit {
    by: KeyBy,
    quota: RateQuota,
    keys: Keys,
    ipv6_prefix: u8,
}

impl KeyedLimit {
    /// `limit` requests per `window` from each client IP.
    pub fn per_client_ip(limit: u32, window: Duration) -> Result<Self, ConfigError> {
        Self::new(KeyBy::ClientIp, limit, window)
    }

    /// `limit` requests per `window` from each app.
    pub fn per_app(limit: u32, window: Duration) -> Result<Self, ConfigError> {
        Self::new(KeyBy::App, limit, window)
    }

    /// `limit` requests per `window` for each value of header `name` (an API key, a tenant).
    pub fn per_header(name: &str, limit: u32, window: Duration) -> Result<Self, ConfigError> {
        let name = HeaderName::try_from(name)
            .map_err(|_| ConfigError::new("header", format!("expected a header name, got {name:?}")))?;
        Self::new(KeyBy::Header(name), limit, window)
    }

    fn new(by: KeyBy, limit: u32, window: Duration) -> Result<Self, ConfigError> {
        let limit =
            NonZeroU32::new(limit).ok_or_else(|| ConfigError::new("limit", "expected a positive integer, got 0"))?;
        if !(Duration::from_micros(1)..=MAX_WINDOW).contains(&window) {
            return Err(ConfigError::new(
                "window",
                format!("expected a microsecond to {}s, got {window:?}", MAX_WINDOW.as_secs()),
            ));
        }
        let quota = RateQuota::new(limit, window).ok_or_else(|| ConfigError::new("window", "too short"))?;
        Ok(Self { by, quota, keys: Keys::new("api", "api".into()), ipv6_prefix: DEFAULT_IPV6_PREFIX })
    }

    /// Enforces the limit with `algorithm` instead of GCRA.
    pub fn algorithm(mut self, algorithm: Algorithm) -> Self {
        self.quota = self.quota.with_algorithm(algorithm);
        self
    }

    /// Counts an IPv6 client by its network of this prefix length (1 to 128; 64 by default).
    pub fn ipv6_prefix(mut self, prefix: u8) -> Result<Self, ConfigError> {
        check_prefix(prefix)?;
        self.ipv6_prefix = prefix;
        Ok(self)
    }

    /// Names the limit in store keys, so several limits can share one store.
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.keys = Keys::new("api", name.into());
        self
    }

    /// The limit.
    pub fn quota(&self) -> &RateQuota {
        &self.quota
    }

    fn ip_key(&self, ip: IpAddr) -> RateKey<'_> {
        match canonical(ip) {
            // a /128 is the address itself, written as a network like the others
            IpAddr::V6(v6) => self.keys.ip_network(network(v6, self.ipv6_prefix), self.ipv6_prefix),
            ip => self.keys.ip(ip),
        }
    }
}

impl FlowPolicy for KeyedLimit {
    fn checks<'a>(&'a self, request: &FlowRequest<'a>, out: &mut Checks<'a>) -> Result<(), Rejection> {
        let (key, tier) = match &self.by {
            KeyBy::ClientIp => {
                let ip = client_ip(request.extensions).ok_or_else(ip_unresolved)?;
                (self.ip_key(ip), Tier::Ip)
            }
            KeyBy::App => match Caller::from_extensions(request.extensions) {
                Some(caller) => (self.keys.app(caller.app_id()), Tier::App),
                None => return Ok(()),
            },
            KeyBy::Header(name) => {
                let mut values = request.headers.get_all(name).iter();
                let value = values.next();
                if values.next().is_some() {
                    return Err(bad_parameter(&ParamError::Repeated(format!("header {name}"))));
                }
                // as a backend reads it: UTF-8, invalid sequences as U+FFFD; absent: one shared key
                let text = value.map(|v| String::from_utf8_lossy(v.as_bytes())).unwrap_or_default();
                (self.keys.header(text), Tier::Parameter)
            }
        };
        out.push(Check { key, quota: self.quota, tier });
        Ok(())
    }

    fn limits(&self) -> Vec<u32> {
        vec![self.quota.limit()]
    }
}

impl FlowControlLayer<KeyedLimit> {
    /// `limit` requests per `window` from each client IP, GCRA, an in-memory store: see
    /// [`KeyedLimit::per_client_ip`].
    pub fn per_client_ip(limit: u32, window: Duration) -> Result<Self, ConfigError> {
        Ok(Self::new(KeyedLimit::per_client_ip(limit, window)?))
    }

    /// `limit` requests per `window` from each app, GCRA, an in-memory store: see
    /// [`KeyedLimit::per_app`].
    pub fn per_app(limit: u32, window: Duration) -> Result<Self, ConfigError> {
        Ok(Self::new(KeyedLimit::per_app(limit, window)?))
    }

    /// `limit` requests per `window` for each value of header `name`, GCRA, an in-memory
    /// store: see [`KeyedLimit::per_header`].
    pub fn per_header(name: &str, limit: u32, window: Duration) -> Result<Self, ConfigError> {
        Ok(Self::new(KeyedLimit::per_header(name, limit, window)?))
    }
}
