//! Redis-backed [`NonceStore`] and [`RateStore`] for tollgate: when a service runs as many
//! instances, a limit of 100 a second means 100 for the fleet, and a nonce used on one
//! instance is refused on every other.
//!
//! ```no_run
//! use std::time::Duration;
//! use tollgate_core::{NonceStore, RateQuota, RateStore};
//! use tollgate_redis::{OnFailure, RedisStore};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let store = RedisStore::connect("redis://127.0.0.1:6379").await?
//!     .prefix("orders-api:")
//!     .timeout(Duration::from_millis(50))?
//!     .on_failure(OnFailure::FallBackToMemory);
//! assert!(store.insert_if_absent("aliyun-apigw\u{1f}app", "nonce-1", Duration::from_secs(900)).await?);
//! let quota = RateQuota::new(100.try_into()?, Duration::from_secs(1)).unwrap();
//! let decision = store.take("api:orders", &quota, 1).await?;
//! println!("{} left", decision.remaining);
//! # Ok(())
//! # }
//! ```
//!
//! A layer takes a store by value; clones share one connection, so give each layer a clone
//! (`FlowControlLayer::with_store(policy, store.clone())`,
//! `ReplayGuardLayer::with_store(store.clone())`).
//!
//! # How
//!
//! - Nonces: `SET key 1 NX PX ttl`, one round trip. The key is the tenant and the nonce as
//!   sent when they are short (up to 128 bytes, as every official client's are), else the
//!   SHA-256 of them: a caller cannot make Redis keep a large key for the window. Nothing
//!   here caps one tenant's share: run Redis with `maxmemory-policy noeviction` (or a
//!   `volatile-*` policy over keys other than tollgate's), so that a full Redis refuses new
//!   nonces (`OnFailure`) rather than evicting live ones, which would let them be replayed.
//! - Rates: one Lua script (`EVALSHA`, loaded once, reloaded on `NOSCRIPT`) takes every limit
//!   of a request at once, all or nothing, with the same arithmetic as the in-memory store
//!   (GCRA, fixed and sliding windows; here in microseconds) on the Redis server's clock
//!   (`TIME`), so instances with skewed clocks agree.
//! - The connection reconnects by itself (`redis`'s `ConnectionManager`): a restarted Redis
//!   is picked up without intervention. State is lost with a restarted Redis that keeps no
//!   persistence: allowances start whole and remembered nonces are forgotten.
//! - Every call has a timeout (50 ms by default), so a stalled Redis never stalls requests
//!   beyond it; what happens then is [`OnFailure`].
//! - A rate key is the policy's key (its tier, name and keyed value: `ip:orders:10.0.0.7`)
//!   followed by its quota and algorithm (`@gcra:100:1000000:0`: limit, window and
//!   fixed-window offset in microseconds), so policies that share a Redis and a name but
//!   not their limits never count together or read each other's state. Policies with the
//!   same name and the same limits do share their counts: name each API
//!   (`BasicLimits::named`) or give each service its own [`prefix`](RedisStore::prefix).
//! - With the `cluster` feature, `RedisStore::connect_cluster` talks to a Redis Cluster; the
//!   keys of one request are hash-tagged into one slot by their policy name (the second
//!   `:`-separated field of tollgate's keys, `ip:<api>:10.0.0.7`).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::{RedisResult, Script};
use sha2::{Digest, Sha256};
use tollgate_core::{
    Algorithm, ConfigError, MemoryNonceStore, MemoryRateStore, NonceStore, RateDecision, RateQuota, RateStore,
    RateTake, StoreError,
};

#[cfg(feature = "testing")]
pub mod testing;

/// The rate script, shared by every store.
const TAKE_SCRIPT: &str = include_str!("take.lua");

/// What a store does when Redis does not answer in time or at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnFailure {
    /// Fail closed: the store reports the failure and the layer refuses the request (503,
    /// `RateStoreUnavailable` / `NonceStoreUnavailable`). The default: nothing passes
    /// unchecked.
    #[default]
    Refuse,
    /// Fail open: let the request through, with a `tracing` warning.
    Allow,
    /// Check against an in-memory store of this instance meanwhile: limits hold per
    /// instance rather than per fleet, and nonces are remembered per instance.
    FallBackToMemory,
}

#[derive(Clone)]
enum Connection {
    Single(ConnectionManager),
    #[cfg(feature = "cluster")]
    Cluster(redis::cluster_async::ClusterConnection),
}

impl Connection {
    fn is_cluster(&self) -> bool {
        !matches!(self, Self::Single(_))
    }
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a redis::Cmd) -> redis::RedisFuture<'a, redis::Value> {
        match self {
            Self::Single(c) => c.req_packed_command(cmd),
            #[cfg(feature = "cluster")]
            Self::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> redis::RedisFuture<'a, Vec<redis::Value>> {
        match self {
            Self::Single(c) => c.req_packed_commands(pipeline, offset, count),
            #[cfg(feature = "cluster")]
            Self::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(c) => c.get_db(),
            #[cfg(feature = "cluster")]
            Self::Cluster(c) => c.get_db(),
        }
    }
}

/// A Redis-backed [`NonceStore`] and [`RateStore`]. Cheap to clone; clones share the
/// connection.
#[derive(Clone)]
pub struct RedisStore {
    connection: Connection,
    script: Arc<Script>,
    prefix: Arc<str>,
    timeout: Duration,
    on_failure: OnFailure,
    memory_rates: MemoryRateStore,
    memory_nonces: MemoryNonceStore,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .field("on_failure", &self.on_failure)
            .finish_non_exhaustive()
    }
}

/// The timeout of every Redis call unless [`RedisStore::timeout`] says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(50);

impl RedisStore {
    /// Connects to a standalone Redis (`redis://host:port/db`, `rediss://` for TLS if the
    /// `redis` crate was built with it). Fails if Redis cannot be reached now; once
    /// connected, the store reconnects by itself.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let client = redis::Client::open(url).map_err(unavailable)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(1)))
            .set_response_timeout(Some(Duration::from_secs(1)))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_millis(500));
        let manager = ConnectionManager::new_with_config(client, config).await.map_err(unavailable)?;
        Ok(Self::with_connection(Connection::Single(manager)))
    }

    /// Connects to a Redis Cluster through any of its nodes.
    #[cfg(feature = "cluster")]
    pub async fn connect_cluster(nodes: &[&str]) -> Result<Self, StoreError> {
        let client = redis::cluster::ClusterClient::new(nodes.to_vec()).map_err(unavailable)?;
        let connection = client.get_async_connection().await.map_err(unavailable)?;
        Ok(Self::with_connection(Connection::Cluster(connection)))
    }

    fn with_connection(connection: Connection) -> Self {
        Self {
            connection,
            script: Arc::new(Script::new(TAKE_SCRIPT)),
            prefix: Arc::from("tollgate:"),
            timeout: DEFAULT_TIMEOUT,
            on_failure: OnFailure::default(),
            memory_rates: MemoryRateStore::new(),
            memory_nonces: MemoryNonceStore::new(),
        }
    }

    /// Prefixes every key (`tollgate:` by default), so several services can share a Redis.
    pub fn prefix(mut self, prefix: impl Into<Arc<str>>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The longest any call may take (50 ms by default; `Duration::MAX` for no deadline).
    ///
    /// A zero timeout is refused (a [`ConfigError`] naming `timeout`): every call would time
    /// out, so every request would be refused or, with
    /// [`OnFailure::FallBackToMemory`], silently limited per instance.
    pub fn timeout(mut self, timeout: Duration) -> Result<Self, ConfigError> {
        if timeout.is_zero() {
            return Err(ConfigError::new("timeout", "must be more than zero: every call would time out"));
        }
        self.timeout = timeout;
        Ok(self)
    }

    /// What to do when Redis does not answer ([`OnFailure::Refuse`] by default).
    pub fn on_failure(mut self, on_failure: OnFailure) -> Self {
        self.on_failure = on_failure;
        self
    }

    fn key(&self, key: &str, tag: Option<&str>) -> String {
        match tag.filter(|_| self.connection.is_cluster()) {
            Some(tag) => format!("{}{{{tag}}}{key}", self.prefix),
            None => format!("{}{key}", self.prefix),
        }
    }

    async fn timed<T>(&self, call: impl Future<Output = RedisResult<T>>) -> Result<T, StoreError> {
        match tokio::time::timeout(self.timeout, call).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(unavailable(e)),
            Err(_) => Err(StoreError::Timeout(self.timeout)),
        }
    }

    /// [`NonceStore::insert_if_absent`] as an `async fn`.
    pub async fn insert_nonce(&self, tenant: &str, nonce: &str, ttl: Duration) -> Result<bool, StoreError> {
        let mut connection = self.connection.clone();
        let millis = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.key(&nonce_key(tenant, nonce), None)).arg(1).arg("NX").arg("PX").arg(millis);
        let set = async { cmd.query_async::<Option<String>>(&mut connection).await };
        match self.timed(set).await {
            Ok(reply) => Ok(reply.is_some()),
            Err(e) => match self.on_failure {
                OnFailure::Refuse => Err(e),
                OnFailure::Allow => {
                    tracing::warn!(error = %e, "redis unavailable: nonce accepted unchecked");
                    Ok(true)
                }
                OnFailure::FallBackToMemory => {
                    tracing::warn!(error = %e, "redis unavailable: nonce checked in memory");
                    self.memory_nonces.insert_if_absent_now(tenant, nonce, ttl)
                }
            },
        }
    }

    /// [`RateStore::take_all`] as an `async fn`.
    pub async fn take_many(&self, takes: &[(String, RateQuota)], cost: u32) -> Result<Vec<RateDecision>, StoreError> {
        if takes.is_empty() {
            return Ok(Vec::new());
        }
        let tag = takes.first().map(|(key, _)| policy_tag(key));
        let mut invocation = self.script.prepare_invoke();
        invocation.arg(cost);
        for (key, quota) in takes {
            let (algorithm, offset) = match quota.algorithm() {
                Algorithm::FixedWindow { offset } => ("fixed", offset),
                Algorithm::SlidingWindow => ("sliding", Duration::ZERO),
                _ => ("gcra", Duration::ZERO),
            };
            // The quota and algorithm are part of the key, as they are of the in-memory
            // store's: two policies sharing a name (two unnamed ones) but not their limits
            // count apart, and a GCRA never reads a fixed window's state.
            let key = format!(
                "{}@{algorithm}:{}:{}:{}",
                self.key(key, tag),
                quota.limit(),
                micros(quota.window()),
                micros(offset)
            );
            invocation
                .key(key)
                .arg(algorithm)
                .arg(quota.limit())
                .arg(micros(quota.window()).max(1))
                .arg(micros(offset));
        }
        let mut connection = self.connection.clone();
        let call = async { invocation.invoke_async::<Vec<i64>>(&mut connection).await };
        match self.timed(call).await {
            Ok(reply) => Ok(decisions(&reply, takes)),
            Err(e) => match self.on_failure {
                OnFailure::Refuse => Err(e),
                OnFailure::Allow => {
                    tracing::warn!(error = %e, "redis unavailable: request let through unchecked");
                    Ok(takes
                        .iter()
                        .map(|(_, q)| RateDecision {
                            allowed: true,
                            limit: q.limit(),
                            remaining: q.limit(),
                            reset_after: Duration::ZERO,
                            retry_after: None,
                        })
                        .collect())
                }
                OnFailure::FallBackToMemory => {
                    tracing::warn!(error = %e, "redis unavailable: limits checked in memory");
                    let local: Vec<RateTake<'_>> =
                        takes.iter().map(|(key, quota)| RateTake::new(key.as_str(), quota)).collect();
                    self.memory_rates.take_all_now(&local, cost)
                }
            },
        }
    }
}

/// The longest nonce key stored as sent.
const NONCE_KEY_MAX: usize = 128;

/// A nonce's key: `tenant` `\u{1f}` `nonce` as sent when that is short, else `sha256:` and
/// the SHA-256 of it in hex, so that no caller makes Redis keep a large key for a window.
/// (A key as sent never starts with `sha256:`: a tenant starts with the scheme's name.)
fn nonce_key(tenant: &str, nonce: &str) -> String {
    if tenant.len() + 1 + nonce.len() <= NONCE_KEY_MAX {
        return format!("{tenant}\u{1f}{nonce}");
    }
    let digest = Sha256::new().chain_update(tenant).chain_update("\u{1f}").chain_update(nonce).finalize();
    let mut key = String::with_capacity(7 + 64);
    key.push_str("sha256:");
    for byte in digest {
        key.push_str(&format!("{byte:02x}"));
    }
    key
}

/// The policy name in tollgate's rate keys (`ip:<policy>:10.0.0.7`), which hash-tags the
/// keys of one request into one cluster slot.
fn policy_tag(key: &str) -> &str {
    key.split(':').nth(1).unwrap_or(key)
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

fn decisions(reply: &[i64], takes: &[(String, RateQuota)]) -> Vec<RateDecision> {
    let micros = |v: i64| Duration::from_micros(u64::try_from(v).unwrap_or(0));
    reply
        .chunks_exact(4)
        .zip(takes)
        .map(|(d, (_, quota))| RateDecision {
            allowed: d[0] == 1,
            limit: quota.limit(),
            remaining: u32::try_from(d[1]).unwrap_or(0),
            reset_after: micros(d[2]),
            retry_after: (d[3] >= 0).then(|| micros(d[3])),
        })
        .collect()
}

type Boxed<T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'static>>;

impl NonceStore for RedisStore {
    type Future = Boxed<bool>;

    fn insert_if_absent(&self, tenant: &str, nonce: &str, ttl: Duration) -> Self::Future {
        let (store, tenant, nonce) = (self.clone(), tenant.to_owned(), nonce.to_owned());
        Box::pin(async move { store.insert_nonce(&tenant, &nonce, ttl).await })
    }
}

impl RateStore for RedisStore {
    type Future = Boxed<RateDecision>;
    type AllFuture = Boxed<Vec<RateDecision>>;

    fn take(&self, key: &str, quota: &RateQuota, cost: u32) -> Self::Future {
        let (store, takes) = (self.clone(), vec![(key.to_owned(), *quota)]);
        Box::pin(async move {
            let mut decisions = store.take_many(&takes, cost).await?;
            decisions.pop().ok_or_else(|| StoreError::Unavailable("empty reply".into()))
        })
    }

    fn take_all(&self, takes: &[RateTake<'_>], cost: u32) -> Self::AllFuture {
        let owned: Vec<(String, RateQuota)> = takes.iter().map(|t| (t.key.to_string(), t.quota)).collect();
        let store = self.clone();
        Box::pin(async move { store.take_many(&owned, cost).await })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_nonce_keys_are_hashed_short_ones_kept() {
        assert_eq!(nonce_key("aliyun-apigw\u{1f}app", "n-1"), "aliyun-apigw\u{1f}app\u{1f}n-1");
        let big = "x".repeat(200 * 1024);
        let key = nonce_key("aliyun-apigw\u{1f}app", &big);
        assert_eq!(key.len(), 7 + 64);
        assert!(key.starts_with("sha256:"));
        assert_ne!(key, nonce_key("aliyun-apigw\u{1f}app", &format!("{big}y")));
        assert_ne!(key, nonce_key("aliyun-apigw\u{1f}other", &big), "the tenant is part of the hash");
        let edge = "y".repeat(NONCE_KEY_MAX - "t".len() - 1);
        assert_eq!(nonce_key("t", &edge).len(), NONCE_KEY_MAX);
        assert!(nonce_key("t", &format!("{edge}y")).starts_with("sha256:"));
    }
}
