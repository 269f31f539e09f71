//! Live reload: a [`ReloadHandle`] replaces a gateway's configuration while it serves.
//!
//! Both clouds' consoles apply a plug-in change within seconds, without a restart, and so do
//! Kong and APISIX: a gateway read from a file does the same. A reload reads the file again
//! and builds the new configuration beside the old one; if the file is refused, with the
//! same [`ConfigError`] as at start, the old configuration stays in force. If it is
//! accepted, it is swapped in atomically: a request that arrived before finishes on the old
//! configuration, every request after sees the new one, and none sees a mix of the two.
//!
//! ```
//! use axum::{Router, body::Body, routing::get};
//! use http::Request;
//! use tollgate::gateway::{Format, Gateway};
//! use tower::ServiceExt;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = std::env::temp_dir().join(format!("tollgate-reload-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir)?;
//! let file = dir.join("gateway.yaml");
//! std::fs::write(&file, "apis: [{path: /, basic_flow_control: {expire_type: minute, api_rate_limit: 100}}]")?;
//!
//! let layer = Gateway::from_file(&file)?.into_layer();
//! let reload = layer.reload_handle(); // keep it: on SIGHUP, call reload.reload()
//! let app = Router::new().route("/", get(|| async { "hello" })).layer(layer);
//! let limit = |app: Router| async move {
//!     let mut req = Request::get("/").body(Body::empty()).unwrap();
//!     req.extensions_mut().insert(tollgate::PeerAddr("127.0.0.1:5000".parse().unwrap()));
//!     app.oneshot(req).await.unwrap().headers()["x-ratelimit-limit"].clone()
//! };
//! assert_eq!(limit(app.clone()).await, "100");
//!
//! std::fs::write(&file, "apis: [{path: /, basic_flow_control: {expire_type: minute, api_rate_limit: 5}}]")?;
//! reload.reload()?;
//! assert_eq!(limit(app.clone()).await, "5");
//!
//! // a bad file is refused, naming the file and the field; the limit of 5 stays in force
//! std::fs::write(&file, "apis: [{path: /, basic_flow_control: {expire_type: minute, api_rate_limit: 0}}]")?;
//! let err = reload.reload().unwrap_err();
//! assert!(err.to_string().contains("apis[0].basic_flow_control.api_rate_limit"));
//! assert_eq!(limit(app).await, "5");
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok(())
//! # }
//! ```
//!
//! # What survives a reload
//!
//! Rate counters and remembered nonces of the blocks that did not change:
//!
//! - the nonce store, shared by every API's replay guard, while the `nonce_store` block is
//!   unchanged (a replayed request stays refused across reloads). A changed `nonce_store`
//!   block starts an empty store, as a restart would, and the reload logs a warning: a
//!   request signed before it can be replayed once within its window: change it with care;
//! - each flow-control block's counters (`basic_flow_control`, `param_flow_control`,
//!   `aliyun_flow_control`), while the block is unchanged and in the same API. An API is
//!   known by its `name`, else by its methods and path: name your APIs, and moving one to
//!   another path keeps its counters. A changed block starts counting afresh, as a console's
//!   new plug-in version does.
//!
//! Blocks are compared as data, so reformatting the file or reordering keys changes nothing.
//! A configuration replaced by one built in code ([`ReloadHandle::replace`]) keeps no store:
//! stores shared on purpose are shared in code (`FlowControlLayer::with_shared_store`).
//!
//! # Cost
//!
//! A request reads which configuration is in force with one atomic load (`arc-swap`); the
//! stacks for a new configuration are put together once per reload, for every service the
//! layer made, not per request.
//!
//! # Watching the file
//!
//! Reloading is by hand by default ([`ReloadHandle::reload`]; the `reload` example does it on
//! SIGHUP). With the `watch` feature, [`ReloadHandle::watch`] reloads when the file changes.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};

use arc_swap::ArcSwap;

use super::builder::{Compiled, Gateway};
use super::config::{ConfigError, Format, Kept};
use super::stack::Next;

#[cfg(feature = "watch")]
mod watch;
#[cfg(feature = "watch")]
pub use watch::{WatchError, Watcher};

/// The configuration of one [`GatewayLayer`](super::GatewayLayer) and the services it made.
pub(crate) struct Hub {
    state: Mutex<State>,
    /// Held for a whole reload, so that each builds on the configuration the last one left.
    reloading: Mutex<()>,
}

struct State {
    current: Arc<Compiled>,
    /// Every live service the layer made: a reload builds each one's new stack.
    services: Vec<Weak<Live>>,
}

/// One service's stack in front of its inner service, swapped whole on reload.
pub(crate) struct Live {
    inner: Next,
    stack: ArcSwap<Next>,
}

impl Live {
    /// The stack in force.
    pub(crate) fn stack(&self) -> arc_swap::Guard<Arc<Next>> {
        self.stack.load()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // nothing panics while holding these; should it, the state is still whole
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Hub {
    pub(crate) fn new(compiled: Compiled) -> Self {
        Self {
            state: Mutex::new(State { current: Arc::new(compiled), services: Vec::new() }),
            reloading: Mutex::new(()),
        }
    }

    /// The configuration in force.
    pub(crate) fn current(&self) -> Arc<Compiled> {
        lock(&self.state).current.clone()
    }

    /// A service in front of `inner`, which every later reload reaches.
    pub(crate) fn attach(&self, inner: Next) -> Arc<Live> {
        let mut state = lock(&self.state);
        let stack = state.current.stack(inner.clone());
        let live = Arc::new(Live { inner, stack: ArcSwap::from_pointee(stack) });
        state.services.retain(|s| s.strong_count() > 0);
        state.services.push(Arc::downgrade(&live));
        live
    }

    /// Puts `compiled` in force for every service, and for services made later.
    fn swap(&self, compiled: Compiled) {
        let compiled = Arc::new(compiled);
        let mut state = lock(&self.state);
        state.services.retain(|s| s.strong_count() > 0);
        for live in state.services.iter().filter_map(Weak::upgrade) {
            live.stack.store(Arc::new(compiled.stack(live.inner.clone())));
        }
        state.current = compiled;
    }
}

/// Replaces the configuration of a [`GatewayLayer`](super::GatewayLayer) while it serves.
/// Get one from [`GatewayLayer::reload_handle`](super::GatewayLayer::reload_handle) (from the
/// layer, not the [`Gateway`]: a `Gateway` is a builder, and each of its clones becomes a
/// layer of its own); it is cheap to clone and may be used from any thread. See [the module
/// docs](self).
///
/// Each successful reload logs an `INFO` event (target `tollgate::gateway::reload`) saying
/// how many APIs are in force and which stores were kept; a refused one logs a `WARN` event
/// with the error.
#[derive(Clone)]
pub struct ReloadHandle {
    hub: Arc<Hub>,
}

impl std::fmt::Debug for ReloadHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReloadHandle").field("source", &self.source()).finish_non_exhaustive()
    }
}

impl ReloadHandle {
    pub(crate) fn new(hub: Arc<Hub>) -> Self {
        Self { hub }
    }

    /// The file [`reload`](Self::reload) reads: the one the gateway was read from.
    pub fn source(&self) -> Option<PathBuf> {
        self.hub.current().source.clone()
    }

    /// Reads the gateway's file again and puts it in force. If the file is refused — with
    /// the error [`Gateway::from_file`] gives for it — the configuration in force stays.
    /// A gateway not read from a file has nothing to reread: that is an error too.
    ///
    /// The file is the whole configuration: what was added in code to the gateway read
    /// from it (an [`Api`](super::Api), a policy) is not in the reloaded one. Parsing is
    /// blocking work: from async code, call it in `spawn_blocking` (the `reload` example
    /// does).
    pub fn reload(&self) -> Result<(), ConfigError> {
        let _one = lock(&self.hub.reloading);
        let current = self.hub.current();
        let result = match &current.source {
            Some(path) => Gateway::load_file(path, Some(&*current.carry)),
            None => Err(ConfigError::new(
                "",
                "expected a gateway read from a file (Gateway::from_file) to reload; use reload_from or replace",
            )),
        };
        self.finish(result, &current)
    }

    /// Puts the configuration `text` in force (later [`reload`](Self::reload)s still read
    /// the gateway's file). If it is refused — with the error [`Gateway::from_config`]
    /// gives for it — the configuration in force stays.
    pub fn reload_from(&self, text: &str, format: Format) -> Result<(), ConfigError> {
        let _one = lock(&self.hub.reloading);
        let current = self.hub.current();
        let result = Gateway::load(text, format, Some(&*current.carry)).map(|(mut gateway, kept)| {
            gateway.source = current.source.clone();
            (gateway, kept)
        });
        self.finish(result, &current)
    }

    /// Puts a gateway built in code in force. It keeps no store of the configuration it
    /// replaces (see [the module docs](self)); later [`reload`](Self::reload)s read its
    /// file, if it was read from one.
    pub fn replace(&self, gateway: Gateway) {
        let _one = lock(&self.hub.reloading);
        let apis = gateway.apis.len();
        self.hub.swap(gateway.compile());
        tracing::info!(target: "tollgate::gateway::reload", apis, "gateway configuration replaced");
    }

    fn finish(&self, result: Result<(Gateway, Kept), ConfigError>, current: &Compiled) -> Result<(), ConfigError> {
        match result {
            Ok((gateway, kept)) => {
                let apis = gateway.apis.len();
                let rate_stores = gateway.carry.rate_stores();
                self.hub.swap(gateway.compile());
                if kept.nonces_forgotten {
                    // as a restart would: an in-memory store cannot be resized in place
                    tracing::warn!(
                        target: "tollgate::gateway::reload",
                        "the nonce_store block changed: its new store starts empty, so a request signed before \
                         this reload can be replayed once within its window"
                    );
                }
                tracing::info!(
                    target: "tollgate::gateway::reload",
                    apis,
                    nonces_kept = kept.nonces,
                    rate_stores_kept = kept.rate_stores,
                    rate_stores,
                    "gateway configuration reloaded"
                );
                Ok(())
            }
            Err(error) => {
                tracing::warn!(
                    target: "tollgate::gateway::reload",
                    %error,
                    apis_in_force = current.apis(),
                    "gateway configuration refused; the one in force stays"
                );
                Err(error)
            }
        }
    }
}
