//! Keys from a JWKS URL: fetched, cached, refreshed, and refetched when a token names a key
//! the cache does not have.
//!
//! A [`RemoteKeySet`] serves the keys an identity provider publishes at its JWKS URL
//! (`https://idp.example.com/.well-known/jwks.json`, a `{"keys": [...]}` document, RFC 7517).
//! It is what [`KeySource::Remote`](crate::KeySource) holds; every profile (the `jwtAuth`
//! plug-in, Aliyun OpenID Connect, Tencent OAuth) can read its keys from one.
//!
//! The rules, each chosen so that a provider rotating its keys never locks callers out and a
//! hostile client can never make the gateway hammer the provider:
//!
//! - **First use** fetches. Until a fetch has succeeded there are no keys, and a request gets
//!   a 503 whose code names the cause (`JwksUnavailable.Timeout`, `.Connect`, `.Status`,
//!   `.TooLarge`, `.Malformed`): the caller's token may be fine, the gateway cannot tell.
//! - **Refresh**: keys older than the refresh interval (default 5 minutes) are fetched again
//!   by the first request that sees them stale; requests arriving meanwhile keep using the
//!   cached keys rather than queueing behind the fetch.
//! - **Rotation**: a token whose `kid` is not in the cache triggers one refetch, so a key the
//!   provider has just published works at once. Refetches are rate-limited: at most one per
//!   refetch interval (default 30 seconds), however many unknown `kid`s arrive, and requests
//!   that miss at the same moment wait for one shared fetch. A `kid` still unknown after that
//!   is the profile's ordinary "no key for this token" refusal.
//! - **Failure**: an unreachable server, an error status, a body that is not a key set, an
//!   empty key set, a body over the size limit (default 256 KiB) or a fetch slower than the
//!   timeout (default 5 seconds) leaves the cached keys in use, with a `tracing` warning; the
//!   next attempt waits for the refetch interval. Redirects are not followed (a 3xx is a
//!   failure, like any non-2xx status).
//! - **A set built afresh** (a gateway reloaded from a changed file, another API naming the
//!   same URL) fetches on first use like any other; if that fetch fails, it serves the keys
//!   this process last fetched from the same URL (under the same algorithms), as old as they
//!   are: once past the refresh interval they are fetched again, at most once per refetch
//!   interval, like any cached keys. So a reload while the provider is unreachable does not
//!   lock out callers whose tokens were accepted a moment before. The process keeps one key
//!   set per URL it has fetched from, for its whole life (as many as the configuration names).
//! - **Transport**: `https://` through rustls with the webpki root certificates (the default
//!   `https` feature). Plain `http://` is refused at build time except to a loopback host
//!   (`127.0.0.1`, `::1`, `localhost`) or when asked for with
//!   [`allow_plain_http`](RemoteKeySet::allow_plain_http): keys fetched in clear text are
//!   keys anyone on the path can replace, and with them sign any token.
//!
//! ```
//! use std::time::Duration;
//! use tollgate_token::RemoteKeySet;
//!
//! let keys = RemoteKeySet::new("https://idp.example.com/.well-known/jwks.json")
//!     .unwrap()
//!     .refresh_interval(Duration::from_secs(600))
//!     .refetch_interval(Duration::from_secs(10))
//!     .timeout(Duration::from_secs(3));
//! assert_eq!(keys.url(), "https://idp.example.com/.well-known/jwks.json");
//!
//! // clear text to anything but a loopback address is a configuration error
//! let err = RemoteKeySet::new("http://idp.example.com/jwks.json").unwrap_err();
//! assert_eq!(err.field, "jwks_url");
//! ```
//!
//! # Why hyper-util and rustls, not reqwest
//!
//! A JWKS fetch is one GET every few minutes. hyper and hyper-util are already in every
//! tollgate build (axum and the gateway use them), so the client adds only `hyper-rustls`,
//! `rustls` (with `ring`, no C toolchain beyond ring's own assembly, unlike aws-lc) and
//! `webpki-roots`, all behind the default `https` feature. reqwest would bring the same
//! hyper stack plus its own request builder, redirect and proxy handling and cookie plumbing
//! we do not want here: following redirects or an ambient `HTTPS_PROXY` are exactly what a
//! key fetch should not do silently. The timeout, the size limit and the refusal of
//! redirects are a few lines each over hyper-util (`tokio::time::timeout`,
//! `http_body_util::Limited`).

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{Request, StatusCode, Uri, header};
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tollgate_core::{ConfigError, Rejection, SharedClock, SystemClock, time_apart};

use crate::Algorithm;
use crate::keys::KeySet;
use crate::verify::TokenError;

/// Default age after which cached keys are fetched again.
pub const DEFAULT_REFRESH_INTERVAL: Duration = Duration::from_secs(300);
/// Default least time between two fetches not due to age (unknown `kid`, retry after a failure).
pub const DEFAULT_REFETCH_INTERVAL: Duration = Duration::from_secs(30);
/// Default limit on one fetch, connection to last byte.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default limit on a JWKS document's size. Real ones are a few KiB.
pub const DEFAULT_MAX_BODY: usize = 256 * 1024;

#[cfg(feature = "https")]
type Connector = hyper_rustls::HttpsConnector<HttpConnector>;
#[cfg(not(feature = "https"))]
type Connector = HttpConnector;

/// Why keys could not be fetched from a JWKS URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwksError {
    /// The fetch took longer than the timeout.
    #[error("fetch timed out after {0:?}")]
    Timeout(Duration),
    /// No connection, or the connection failed before a response.
    #[error("connection failed: {0}")]
    Connect(String),
    /// The server answered with a status other than 2xx (redirects are not followed).
    #[error("server answered {0}")]
    Status(StatusCode),
    /// The body was larger than the limit.
    #[error("body larger than {0} bytes")]
    TooLarge(usize),
    /// The body was not a usable key set (not JSON, no `keys`, no usable key).
    #[error("not a usable key set: {0}")]
    Malformed(String),
}

impl JwksError {
    /// The stable code a request refused for this reason carries.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Timeout(_) => "JwksUnavailable.Timeout",
            Self::Connect(_) => "JwksUnavailable.Connect",
            Self::Status(_) => "JwksUnavailable.Status",
            Self::TooLarge(_) => "JwksUnavailable.TooLarge",
            Self::Malformed(_) => "JwksUnavailable.Malformed",
        }
    }

    /// The 503 a request gets when there are no keys to check its token with. The message
    /// says why without the URL, which is the operator's business, not the caller's.
    pub fn rejection(&self) -> Rejection {
        keys_unavailable(self.code(), &self.to_string())
    }

    /// As the layer carries it: [`TokenError::KeysUnavailable`] with this cause's code.
    pub fn to_token_error(&self) -> TokenError {
        TokenError::KeysUnavailable { code: self.code(), reason: self.to_string() }
    }
}

/// The 503 for [`TokenError::KeysUnavailable`]: the token may be good, the gateway cannot
/// tell. Every profile of this crate answers the want of keys so.
pub fn keys_unavailable(code: &'static str, reason: &str) -> Rejection {
    Rejection::new(StatusCode::SERVICE_UNAVAILABLE, code, format!("token verification keys are unavailable: {reason}"))
        .with_policy("token")
}

/// Keys fetched from a JWKS URL and cached; see the [module docs](self) for the rules.
///
/// Cheap to clone: clones share one cache.
#[derive(Clone)]
pub struct RemoteKeySet {
    inner: Arc<Inner>,
}

struct Inner {
    url: Uri,
    refresh_interval: Duration,
    refetch_interval: Duration,
    timeout: Duration,
    max_body: usize,
    algorithms: Option<Vec<Algorithm>>,
    clock: SharedClock,
    client: Client<Connector, Empty<Bytes>>,
    cache: RwLock<Option<Cached>>,
    /// Fetches so far, successful or not: a request that waited for the fetch lock reads it
    /// to tell whether someone fetched while it waited.
    attempts: AtomicU64,
    /// Held for the length of a fetch: concurrent misses share one.
    fetch: tokio::sync::Mutex<FetchState>,
}

/// The keys each JWKS URL last served in this process, by [`Inner::registry_key`]: what a
/// set built afresh falls back on when its first fetch fails.
static LAST_FETCHED: LazyLock<Mutex<HashMap<String, Cached>>> = LazyLock::new(Default::default);

#[derive(Clone)]
struct Cached {
    keys: Arc<KeySet>,
    fetched_at: SystemTime,
}

#[derive(Default)]
struct FetchState {
    last_attempt: Option<SystemTime>,
    last_error: Option<JwksError>,
}

impl Inner {
    /// The URL and the algorithms kept: two sets with both alike would fetch the same keys.
    fn registry_key(&self) -> String {
        format!("{} {:?}", self.url, self.algorithms)
    }
}

impl fmt::Debug for RemoteKeySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteKeySet")
            .field("url", &self.inner.url)
            .field("refresh_interval", &self.inner.refresh_interval)
            .field("refetch_interval", &self.inner.refetch_interval)
            .field("timeout", &self.inner.timeout)
            .field("max_body", &self.inner.max_body)
            .finish_non_exhaustive()
    }
}

/// Why a key set was asked for: what decides whether to fetch.
enum Need<'a> {
    /// Any key; a fresh cache will do.
    Any,
    /// The key with this `kid`.
    Kid(&'a str),
}

impl RemoteKeySet {
    /// Keys from `url` with the default intervals, timeout and size limit. Refused (field
    /// `jwks_url`) when `url` is not an absolute `https://` URL, or an `http://` one to a
    /// loopback host; nothing is fetched until the first request.
    pub fn new(url: &str) -> Result<Self, ConfigError> {
        Self::build(url, false)
    }

    fn build(url: &str, plain_http: bool) -> Result<Self, ConfigError> {
        let uri = check_url(url, plain_http)?;
        Ok(Self {
            inner: Arc::new(Inner {
                url: uri,
                refresh_interval: DEFAULT_REFRESH_INTERVAL,
                refetch_interval: DEFAULT_REFETCH_INTERVAL,
                timeout: DEFAULT_TIMEOUT,
                max_body: DEFAULT_MAX_BODY,
                algorithms: None,
                clock: Arc::new(SystemClock),
                client: Client::builder(TokioExecutor::new()).build(connector()?),
                cache: RwLock::new(None),
                attempts: AtomicU64::new(0),
                fetch: tokio::sync::Mutex::new(FetchState::default()),
            }),
        })
    }

    /// Keys from `url`, which may be plain `http://` to any host: for a provider on a
    /// network you trust (a sidecar, a private link). Still refused when not absolute.
    pub fn allow_plain_http(url: &str) -> Result<Self, ConfigError> {
        Self::build(url, true)
    }

    /// The JWKS URL.
    pub fn url(&self) -> String {
        self.inner.url.to_string()
    }

    /// Fetch keys again once they are this old (default 5 minutes).
    pub fn refresh_interval(self, interval: Duration) -> Self {
        self.with(|i| i.refresh_interval = interval)
    }

    /// At most one fetch per `interval` for an unknown `kid` or after a failure (default 30
    /// seconds).
    pub fn refetch_interval(self, interval: Duration) -> Self {
        self.with(|i| i.refetch_interval = interval)
    }

    /// Give up on a fetch after `timeout`, connection to last byte (default 5 seconds).
    pub fn timeout(self, timeout: Duration) -> Self {
        self.with(|i| i.timeout = timeout)
    }

    /// Refuse a JWKS document larger than `bytes` (default 256 KiB).
    pub fn max_body(self, bytes: usize) -> Self {
        self.with(|i| i.max_body = bytes)
    }

    /// Keep, of each fetched key, only the algorithms of `allowed` (a profile's own list:
    /// RS256 for OpenID Connect); a document left with no key is refused like a broken one.
    pub fn algorithms(self, allowed: &[Algorithm]) -> Self {
        let allowed = allowed.to_vec();
        self.with(|i| i.algorithms = Some(allowed))
    }

    /// Read time from `clock` (a [`ManualClock`](tollgate_core::ManualClock) in tests).
    pub fn clock(self, clock: SharedClock) -> Self {
        self.with(|i| i.clock = clock)
    }

    /// Builder settings apply before the set is shared; once cloned, a setting builds a new
    /// set with an empty cache rather than changing the one others hold.
    fn with(self, set: impl FnOnce(&mut Inner)) -> Self {
        let mut inner = match Arc::try_unwrap(self.inner) {
            Ok(inner) => inner,
            Err(shared) => Inner {
                url: shared.url.clone(),
                refresh_interval: shared.refresh_interval,
                refetch_interval: shared.refetch_interval,
                timeout: shared.timeout,
                max_body: shared.max_body,
                algorithms: shared.algorithms.clone(),
                clock: shared.clock.clone(),
                client: shared.client.clone(),
                cache: RwLock::new(None),
                attempts: AtomicU64::new(0),
                fetch: tokio::sync::Mutex::new(FetchState::default()),
            },
        };
        set(&mut inner);
        Self { inner: Arc::new(inner) }
    }

    /// The cached keys, when they serve without a fetch: fresh, and knowing `kid` if one is
    /// given. `None` means: call [`keys`](Self::keys), which may fetch.
    pub fn keys_now(&self, kid: Option<&str>) -> Option<Arc<KeySet>> {
        let cached = self.cached()?;
        let fresh = time_apart(self.inner.clock.now(), cached.fetched_at) < self.inner.refresh_interval;
        (fresh && kid.is_none_or(|kid| cached.keys.knows_kid(kid))).then_some(cached.keys)
    }

    /// The keys to check a token with, fetched or refreshed as the rules say. `kid` is the
    /// token's, if it has one: an unknown one may trigger a refetch. `Err` only when no fetch
    /// has ever succeeded; a set without the `kid` is the caller's "no key" case.
    pub async fn keys(&self, kid: Option<&str>) -> Result<Arc<KeySet>, JwksError> {
        self.keys_for(kid.map_or(Need::Any, Need::Kid)).await
    }

    async fn keys_for(&self, need: Need<'_>) -> Result<Arc<KeySet>, JwksError> {
        let inner = &*self.inner;
        let attempts_seen = inner.attempts.load(Ordering::Acquire);
        let Some(cached) = self.cached() else {
            return self.first_fetch(attempts_seen).await;
        };
        let stale = time_apart(inner.clock.now(), cached.fetched_at) >= inner.refresh_interval;
        let missing = match need {
            Need::Any => false,
            Need::Kid(kid) => !cached.keys.knows_kid(kid),
        };
        if missing {
            // wait for a fetch in flight: it may bring the key
            let mut state = inner.fetch.lock().await;
            if inner.attempts.load(Ordering::Acquire) == attempts_seen && self.may_fetch(&state) {
                self.fetch_into(&mut state).await;
            }
            drop(state);
            return Ok(self.cached().map_or(cached.keys, |c| c.keys));
        }
        if stale {
            // someone is fetching already: the stale keys serve meanwhile
            if let Ok(mut state) = inner.fetch.try_lock() {
                if inner.attempts.load(Ordering::Acquire) == attempts_seen && self.may_fetch(&state) {
                    self.fetch_into(&mut state).await;
                }
                drop(state);
                return Ok(self.cached().map_or(cached.keys, |c| c.keys));
            }
        }
        Ok(cached.keys)
    }

    /// No keys yet: one fetch for all who wait, and a failure answered from memory until the
    /// refetch interval has passed, so a dead provider is not asked once per request.
    async fn first_fetch(&self, attempts_seen: u64) -> Result<Arc<KeySet>, JwksError> {
        let inner = &*self.inner;
        let mut state = inner.fetch.lock().await;
        if let Some(cached) = self.cached() {
            return Ok(cached.keys);
        }
        if inner.attempts.load(Ordering::Acquire) == attempts_seen && self.may_fetch(&state) {
            self.fetch_into(&mut state).await;
            if let Some(cached) = self.cached() {
                return Ok(cached.keys);
            }
            // the first fetch failed: the keys this URL last served in this process, if any,
            // as they were (stale, so each refetch interval tries the provider again)
            let last = LAST_FETCHED.lock().unwrap_or_else(|p| p.into_inner()).get(&inner.registry_key()).cloned();
            if let Some(last) = last {
                tracing::warn!(url = %inner.url, "JWKS: first fetch failed; serving the keys last fetched from this URL");
                let keys = last.keys.clone();
                *inner.cache.write().unwrap_or_else(|p| p.into_inner()) = Some(last);
                return Ok(keys);
            }
        }
        Err(state.last_error.clone().unwrap_or_else(|| JwksError::Connect("no fetch has succeeded yet".into())))
    }

    fn may_fetch(&self, state: &FetchState) -> bool {
        state.last_attempt.is_none_or(|at| time_apart(self.inner.clock.now(), at) >= self.inner.refetch_interval)
    }

    fn cached(&self) -> Option<Cached> {
        // a poisoned lock still holds a whole `Option<Cached>`: writers only assign
        self.inner.cache.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    async fn fetch_into(&self, state: &mut FetchState) {
        let inner = &*self.inner;
        let started = inner.clock.now();
        let result = self.fetch().await;
        state.last_attempt = Some(started);
        match result {
            Ok(keys) => {
                tracing::debug!(url = %inner.url, keys = keys.len(), "JWKS fetched");
                let cached = Cached { keys: Arc::new(keys), fetched_at: started };
                LAST_FETCHED.lock().unwrap_or_else(|p| p.into_inner()).insert(inner.registry_key(), cached.clone());
                *inner.cache.write().unwrap_or_else(|p| p.into_inner()) = Some(cached);
                state.last_error = None;
            }
            Err(error) => {
                let kept = self.cached().is_some();
                tracing::warn!(url = %inner.url, %error, cached_keys_kept = kept, "JWKS fetch failed");
                state.last_error = Some(error);
            }
        }
        inner.attempts.fetch_add(1, Ordering::AcqRel);
    }

    async fn fetch(&self) -> Result<KeySet, JwksError> {
        let inner = &*self.inner;
        let request = Request::get(inner.url.clone())
            .header(header::ACCEPT, "application/jwk-set+json, application/json")
            .body(Empty::<Bytes>::new())
            .map_err(|e| JwksError::Connect(e.to_string()))?;
        let max = inner.max_body;
        let exchange = async {
            let response = inner.client.request(request).await.map_err(|e| JwksError::Connect(error_chain(&e)))?;
            if !response.status().is_success() {
                return Err(JwksError::Status(response.status()));
            }
            let declared = response
                .headers()
                .get(header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            if declared.is_some_and(|n| n > max as u64) {
                return Err(JwksError::TooLarge(max));
            }
            let body = Limited::new(response.into_body(), max).collect().await.map_err(|e| {
                if e.is::<http_body_util::LengthLimitError>() {
                    JwksError::TooLarge(max)
                } else {
                    JwksError::Connect(error_chain(&*e))
                }
            })?;
            Ok(body.to_bytes())
        };
        let body =
            tokio::time::timeout(inner.timeout, exchange).await.map_err(|_| JwksError::Timeout(inner.timeout))??;
        let keys = parse_jwks(&body)?;
        match &inner.algorithms {
            Some(allowed) => keys.restrict_to(allowed).map_err(|e| JwksError::Malformed(e.problem)),
            None => Ok(keys),
        }
    }
}

/// A JWKS document's keys: `{"keys": [...]}`, every key usable ([`KeySet::from_jwk_set`]).
/// An empty set is refused (a provider never rotates to no keys, and a broken one must not
/// wipe the keys in the cache), and so is a shared secret: an HMAC key published at a URL is
/// a key anyone can sign with.
pub fn parse_jwks(body: &[u8]) -> Result<KeySet, JwksError> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| JwksError::Malformed(format!("not JSON: {e}")))?;
    if !value.get("keys").is_some_and(serde_json::Value::is_array) {
        return Err(JwksError::Malformed("expected {\"keys\": [...]}".into()));
    }
    let keys = KeySet::from_jwk_set(&value).map_err(|e| JwksError::Malformed(e.to_string()))?;
    if keys.is_empty() {
        return Err(JwksError::Malformed("no keys".into()));
    }
    if keys.has_secrets() {
        return Err(JwksError::Malformed("a shared secret (oct key) in a published key set".into()));
    }
    Ok(keys)
}

fn connector() -> Result<Connector, ConfigError> {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    #[cfg(feature = "https")]
    {
        // The provider named here, not a process default: another crate enabling aws-lc in
        // rustls must not make the choice ambiguous. ring rather than aws-lc (no C build);
        // rustls deprecates ring's provider for lacking post-quantum key exchange, which
        // protects secrecy, and a JWKS is public: what matters is its integrity, which the
        // certificate check gives.
        #[allow(deprecated)]
        let provider = rustls::crypto::ring::default_provider();
        hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(Arc::new(provider))
            .map(|b| b.https_or_http().enable_http1().wrap_connector(http))
            .map_err(|e| ConfigError::new("jwks_url", format!("TLS set-up failed: {e}")))
    }
    #[cfg(not(feature = "https"))]
    Ok(http)
}

fn check_url(url: &str, plain_http: bool) -> Result<Uri, ConfigError> {
    let field = "jwks_url";
    let uri: Uri = url.parse().map_err(|e| ConfigError::new(field, format!("`{url}` is not a URL: {e}")))?;
    let host = uri.host().ok_or_else(|| ConfigError::new(field, format!("`{url}`: expected an absolute URL")))?;
    match uri.scheme_str() {
        Some("https") if cfg!(feature = "https") => Ok(uri),
        Some("https") => Err(ConfigError::new(field, "https needs tollgate-token's `https` feature")),
        Some("http") if plain_http || is_loopback(host) => Ok(uri),
        Some("http") => Err(ConfigError::new(
            field,
            format!("`{url}`: keys fetched over plain http can be replaced by anyone on the path; use https"),
        )),
        _ => Err(ConfigError::new(field, format!("`{url}`: expected an https:// URL"))),
    }
}

fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// hyper-util's errors say "client error (Connect)" and keep the cause in their source.
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_checked_at_build() {
        assert!(RemoteKeySet::new("http://127.0.0.1:8080/jwks").is_ok());
        assert!(RemoteKeySet::new("http://[::1]:8080/jwks").is_ok());
        assert!(RemoteKeySet::new("http://localhost/jwks").is_ok());
        assert!(RemoteKeySet::allow_plain_http("http://idp.internal/jwks").is_ok());
        for bad in ["http://idp.example.com/jwks", "/jwks", "ftp://127.0.0.1/jwks", "not a url", ""] {
            let e = RemoteKeySet::new(bad).unwrap_err();
            assert_eq!(e.field, "jwks_url", "{bad}");
        }
        // `localhost.evil.com` is not loopback
        assert!(RemoteKeySet::new("http://localhost.evil.com/jwks").is_err());
        assert!(RemoteKeySet::new("http://127.0.0.1.nip.io/jwks").is_err());
        assert_eq!(RemoteKeySet::new("https://idp.example.com/jwks").is_ok(), cfg!(feature = "https"),);
    }

    #[test]
    fn each_failure_has_its_own_code_and_a_503() {
        let errors = [
            JwksError::Timeout(Duration::from_secs(1)),
            JwksError::Connect("refused".into()),
            JwksError::Status(StatusCode::NOT_FOUND),
            JwksError::TooLarge(10),
            JwksError::Malformed("x".into()),
        ];
        let codes: std::collections::HashSet<_> = errors.iter().map(JwksError::code).collect();
        assert_eq!(codes.len(), errors.len());
        for e in &errors {
            let r = e.rejection();
            assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
            assert_eq!(r.code(), e.code());
            assert!(r.message().starts_with("token verification keys are unavailable: "));
        }
    }

    #[test]
    fn the_code_survives_the_token_error() {
        let e = JwksError::Timeout(Duration::from_secs(5));
        let TokenError::KeysUnavailable { code, reason } = e.to_token_error() else { panic!("keys unavailable") };
        let r = keys_unavailable(code, &reason);
        assert_eq!((r.status(), r.code()), (StatusCode::SERVICE_UNAVAILABLE, "JwksUnavailable.Timeout"));
        assert_eq!(r.message(), e.rejection().message());
    }

    #[test]
    fn published_secrets_are_refused() {
        let oct = br#"{"keys": [{"kty": "oct", "k": "c2VjcmV0LXNlY3JldA", "alg": "HS256", "kid": "h"}]}"#;
        assert!(matches!(parse_jwks(oct), Err(JwksError::Malformed(m)) if m.contains("shared secret")));
        // one JWK alone, or a bare list, is not a JWKS document
        let one = include_str!("../tests/fixtures/clouds/idp-1.jwk.json");
        assert!(parse_jwks(one.as_bytes()).is_err());
        assert!(parse_jwks(format!("[{one}]").as_bytes()).is_err());
        assert_eq!(parse_jwks(format!("{{\"keys\": [{one}]}}").as_bytes()).unwrap().len(), 1);
    }

    mod prop {
        use super::super::*;
        use proptest::prelude::*;

        const DOC: &str = concat!("{\"keys\": [", include_str!("../tests/fixtures/clouds/idp-1.jwk.json"), "]}");

        proptest! {
            /// Any bytes: a key set or a `Malformed` refusal, never a panic, never a set with
            /// no key or a secret in it.
            #[test]
            fn any_body(body in proptest::collection::vec(any::<u8>(), 0..512)) {
                match parse_jwks(&body) {
                    Ok(keys) => prop_assert!(!keys.is_empty() && !keys.has_secrets()),
                    Err(e) => prop_assert!(matches!(e, JwksError::Malformed(_))),
                }
            }

            /// A real document with one byte changed or cut short: still no panic, and
            /// whatever is accepted is a usable key set.
            #[test]
            fn a_damaged_document(at in 0..DOC.len(), byte: u8, cut: bool) {
                let mut body = DOC.as_bytes().to_vec();
                if cut { body.truncate(at) } else { body[at] = byte }
                if let Ok(keys) = parse_jwks(&body) {
                    prop_assert_eq!(keys.len(), 1);
                }
            }
        }
    }

    #[test]
    fn an_empty_set_is_refused() {
        assert!(matches!(parse_jwks(br#"{"keys": []}"#), Err(JwksError::Malformed(_))));
        assert!(matches!(parse_jwks(b"<html>"), Err(JwksError::Malformed(_))));
    }
}
