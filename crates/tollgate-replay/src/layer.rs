//! [`ReplayGuardLayer`] and its service.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use pin_project_lite::pin_project;
use tollgate_core::{
    Clock, ErrorStyle, MAX_WINDOW, MemoryNonceStore, NonceStore, Rejection, ResponseBody, SharedClock, SignedClaims,
    StoreError, SystemClock,
};
use tower_layer::Layer;
use tower_service::Service;

use crate::rule::{HeaderRule, expired, keep_for, replayed, with_tenant, within};

/// The guard's settings, copied on write (the store is shared through its `Arc`): a builder
/// call on a cloned layer changes that layer only.
struct Settings<N> {
    store: Arc<N>,
    clock: SharedClock,
    headers: Option<HeaderRule>,
    style: Option<ErrorStyle>,
    pass_unsigned: bool,
    require_nonce: bool,
}

impl<N> Clone for Settings<N> {
    fn clone(&self) -> Self {
        Self {
            store: self.store.clone(),
            clock: self.clock.clone(),
            headers: self.headers.clone(),
            style: self.style.clone(),
            pass_unsigned: self.pass_unsigned,
            require_nonce: self.require_nonce,
        }
    }
}

/// Refuses requests whose timestamp is outside the window or whose nonce was already used.
///
/// Inside a [`SignatureLayer`](https://docs.rs/tollgate-signature) the guard reads the
/// [`SignedClaims`] it verified: the nonce is remembered per scheme and key id for as long as
/// its timestamp stays acceptable, the window is the scheme's (15 minutes for Aliyun and the
/// Tencent key pair, 5 minutes for Tencent Cloud API; at most a day, [`MAX_WINDOW`]) and
/// refusals are worded and rendered as the scheme's clients expect. A request without a nonce
/// is refused when its scheme has one (Aliyun's `X-Ca-Nonce` and `SignatureNonce`: their
/// clients always send it), unless [`require_nonce`](Self::require_nonce) is off. Used alone,
/// it reads headers instead ([`HeaderRule`]).
///
/// Nonces live in a [`NonceStore`]: the bounded in-memory [`MemoryNonceStore`] by default,
/// or a shared one (Redis) so that a nonce used on one instance is refused on all. Of
/// several identical requests arriving at once, exactly one passes. A store full of live
/// nonces refuses new ones rather than forget any: the request is refused with 503
/// `NonceStoreFull`. A request with neither
/// claims nor a header rule is refused (`MissingClaims`, 401) unless
/// [`pass_unsigned`](Self::pass_unsigned) is set, so a guard stacked outside its signature
/// layer fails loudly instead of guarding nothing.
///
/// ```
/// use std::time::{Duration, SystemTime, UNIX_EPOCH};
/// use http::{Request, Response, StatusCode};
/// use tollgate_core::ManualClock;
/// use tollgate_replay::{HeaderRule, ReplayGuardLayer};
/// use tower::{ServiceExt, service_fn};
/// use tower_layer::Layer;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let clock = ManualClock::at_unix(Duration::from_secs(1_700_000_000));
/// let guard = ReplayGuardLayer::new().headers(HeaderRule::aliyun_api_gateway()).clock(clock);
/// let svc = guard.layer(service_fn(|_req: Request<()>| async {
///     Ok::<_, std::convert::Infallible>(Response::new("ok"))
/// }));
/// let request = || {
///     Request::builder()
///         .header("x-ca-key", "app")
///         .header("x-ca-timestamp", "1700000000000")
///         .header("x-ca-nonce", "5f0c1f4e")
///         .body(())
///         .unwrap()
/// };
/// assert_eq!(svc.clone().oneshot(request()).await.unwrap().status(), StatusCode::OK);
/// assert_eq!(svc.oneshot(request()).await.unwrap().status(), StatusCode::BAD_REQUEST); // replay
/// # }
/// ```
pub struct ReplayGuardLayer<N = MemoryNonceStore> {
    settings: Arc<Settings<N>>,
}

impl<N> Clone for ReplayGuardLayer<N> {
    fn clone(&self) -> Self {
        Self { settings: self.settings.clone() }
    }
}

impl<N> std::fmt::Debug for ReplayGuardLayer<N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplayGuardLayer").field("headers", &self.settings.headers).finish_non_exhaustive()
    }
}

impl Default for ReplayGuardLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl ReplayGuardLayer {
    /// A guard over the signature layer's claims, remembering nonces in memory (up to
    /// 1,000,000 of them).
    pub fn new() -> Self {
        Self::with_store(MemoryNonceStore::new())
    }
}

impl<N: NonceStore> ReplayGuardLayer<N> {
    /// A guard remembering nonces in `store`.
    pub fn with_store(store: N) -> Self {
        Self {
            settings: Arc::new(Settings {
                store: Arc::new(store),
                clock: Arc::new(SystemClock),
                headers: None,
                style: None,
                pass_unsigned: false,
                require_nonce: true,
            }),
        }
    }

    fn settings_mut(&mut self) -> &mut Settings<N> {
        Arc::make_mut(&mut self.settings)
    }

    /// Reads timestamp and nonce from headers when no signature layer put claims in the
    /// request.
    pub fn headers(mut self, rule: HeaderRule) -> Self {
        self.settings_mut().headers = Some(rule);
        self
    }

    /// Reads time from `clock`.
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.settings_mut().clock = Arc::new(clock);
        self
    }

    /// Renders refusals in `style` (default: the signature scheme's style; problem+json in
    /// header mode).
    pub fn error_style(mut self, style: ErrorStyle) -> Self {
        self.settings_mut().style = Some(style);
        self
    }

    /// Lets requests with no claims and no header rule pass (default: refused).
    pub fn pass_unsigned(mut self, pass: bool) -> Self {
        self.settings_mut().pass_unsigned = pass;
        self
    }

    /// Whether a verified request without a nonce is refused when its scheme has one
    /// (default: on; the scheme's own refusal, such as Aliyun's `Invalid Nonce`). Off, such a
    /// request passes as often as it is sent within the window.
    pub fn require_nonce(mut self, on: bool) -> Self {
        self.settings_mut().require_nonce = on;
        self
    }
}

impl<S, N> Layer<S> for ReplayGuardLayer<N> {
    type Service = ReplayGuard<S, N>;

    fn layer(&self, inner: S) -> Self::Service {
        ReplayGuard { inner, settings: self.settings.clone() }
    }
}

/// The service made by [`ReplayGuardLayer`].
pub struct ReplayGuard<S, N = MemoryNonceStore> {
    inner: S,
    settings: Arc<Settings<N>>,
}

impl<S: Clone, N> Clone for ReplayGuard<S, N> {
    fn clone(&self) -> Self {
        Self { inner: self.inner.clone(), settings: self.settings.clone() }
    }
}

impl<S, N> std::fmt::Debug for ReplayGuard<S, N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplayGuard").finish_non_exhaustive()
    }
}

/// What the guard decided before touching the store. The nonce and its tenant's parts are
/// borrowed from the request: the tenant is put together only for the store's call.
enum Plan<'r> {
    Pass,
    Refuse(Rejection, ErrorStyle),
    Remember { namespace: &'r str, key: &'r str, nonce: &'r str, ttl: std::time::Duration },
}

impl<N: NonceStore> Settings<N> {
    fn style_or(&self, scheme: &ErrorStyle) -> ErrorStyle {
        self.style.clone().unwrap_or_else(|| scheme.clone())
    }

    /// Decides from the claims alone; clones nothing unless it refuses.
    fn plan<'r, B>(&self, req: &'r Request<B>) -> Plan<'r> {
        let now = self.clock.now();
        if let Some(c) = SignedClaims::from_extensions(req.extensions()) {
            // a window past the bound would keep nonces (nearly) forever
            let window = c.window.min(MAX_WINDOW);
            if !within(c.timestamp, window, now) {
                return Plan::Refuse(c.refusals.expired.clone(), self.style_or(&c.refusals.style));
            }
            return match (&c.nonce, &c.refusals.missing_nonce) {
                (Some(nonce), _) => Plan::Remember {
                    namespace: c.scheme,
                    key: &c.key_id,
                    nonce,
                    ttl: keep_for(c.timestamp, window, now),
                },
                (None, Some(missing)) if self.require_nonce => {
                    Plan::Refuse(missing.clone(), self.style_or(&c.refusals.style))
                }
                (None, _) => Plan::Pass,
            };
        }
        let Some(rule) = &self.headers else {
            if self.pass_unsigned {
                return Plan::Pass;
            }
            let rejection = Rejection::new(
                StatusCode::UNAUTHORIZED,
                "MissingClaims",
                "no verified nonce or timestamp: place the replay guard inside a signature layer, or give it a header rule",
            )
            .with_policy("replay");
            return Plan::Refuse(rejection, self.style.clone().unwrap_or_default());
        };
        let claims = match rule.read(req.headers()) {
            Ok(c) => c,
            Err(rejection) => return Plan::Refuse(rejection, self.style.clone().unwrap_or_default()),
        };
        if !within(Some(claims.timestamp), rule.window, now) {
            return Plan::Refuse(expired(), self.style.clone().unwrap_or_default());
        }
        match claims.nonce {
            Some(nonce) => Plan::Remember {
                namespace: "headers",
                key: claims.key,
                nonce,
                ttl: keep_for(Some(claims.timestamp), rule.window, now),
            },
            None => Plan::Pass,
        }
    }
}

/// The refusal of a replay: the scheme's words when a signature layer verified the request.
fn replay_refusal<B>(req: &Request<B>, style: &Option<ErrorStyle>) -> (Rejection, ErrorStyle) {
    match SignedClaims::from_extensions(req.extensions()) {
        Some(c) => (c.refusals.replayed.clone(), style.clone().unwrap_or_else(|| c.refusals.style.clone())),
        None => (replayed(), style.clone().unwrap_or_default()),
    }
}

/// What the nonce store's answer means: `None`, a new nonce (counted as accepted); else the
/// refusal of a replay or of a store that could not answer.
fn refusal_for<B>(
    outcome: Result<bool, StoreError>,
    req: &Request<B>,
    style: &Option<ErrorStyle>,
) -> Option<Response<Full<Bytes>>> {
    if let Ok(true) = outcome {
        tollgate_core::observe::accepted("replay");
        return None;
    }
    // the scheme's words and style are looked up only for a refusal
    let (replayed, style) = replay_refusal(req, style);
    let rejection = match outcome {
        Err(StoreError::Full) => full(),
        Err(e) => unavailable(&e),
        Ok(_) => replayed,
    };
    Some(style.respond(&rejection, req))
}

/// The store is full of live nonces: it refuses rather than forget one a replay could use.
/// (The store itself warns, at most once a minute: a warning per refusal would be a flood.)
fn full() -> Rejection {
    Rejection::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "NonceStoreFull",
        "replay protection is at capacity: too many recent requests are remembered; retry later",
    )
    .with_policy("replay")
}

fn unavailable(e: &StoreError) -> Rejection {
    tracing::warn!(error = %e, "replay guard: nonce store unavailable");
    Rejection::new(StatusCode::SERVICE_UNAVAILABLE, "NonceStoreUnavailable", "replay protection is unavailable")
        .with_policy("replay")
}

impl<S, N, B, ResBody> Service<Request<B>> for ReplayGuard<S, N>
where
    S: Service<Request<B>, Response = Response<ResBody>> + Clone,
    N: NonceStore,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S, N::Future, B>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let state = match self.settings.plan(&req) {
            Plan::Pass => {
                tollgate_core::observe::accepted("replay");
                State::Calling { future: self.inner.call(req) }
            }
            Plan::Refuse(rejection, style) => State::Done { response: Some(Box::new(style.respond(&rejection, &req))) },
            Plan::Remember { namespace, key, nonce, ttl } => {
                let store = &self.settings.store;
                let at_once = with_tenant(namespace, key, |tenant| store.insert_if_absent_at_once(tenant, nonce, ttl));
                if let Some(outcome) = at_once {
                    // an in-memory store has answered: settle here
                    let state = match refusal_for(outcome, &req, &self.settings.style) {
                        None => State::Calling { future: self.inner.call(req) },
                        Some(response) => State::Done { response: Some(Box::new(response)) },
                    };
                    return ResponseFuture { state };
                }
                // The ready service travels with the request until the store answers.
                let clone = self.inner.clone();
                let inner = std::mem::replace(&mut self.inner, clone);
                let check = with_tenant(namespace, key, |tenant| store.insert_if_absent(tenant, nonce, ttl));
                State::Checking {
                    check,
                    pending: Some(Box::new(Pending { inner, req, style: self.settings.style.clone() })),
                }
            }
        };
        ResponseFuture { state }
    }
}

struct Pending<S, B> {
    inner: S,
    req: Request<B>,
    /// The configured style, if any (else the scheme's).
    style: Option<ErrorStyle>,
}

pin_project! {
    #[project = StateProj]
    enum State<S, C, B> where S: Service<Request<B>> {
        // boxed, as the refusal below: only a networked store waits, and in a stack of layers
        // each layer's future is moved into the next one's, so its size is paid per layer
        Checking { #[pin] check: C, pending: Option<Box<Pending<S, B>>> },
        Calling { #[pin] future: S::Future },
        Done { response: Option<Box<Response<Full<Bytes>>>> },
    }
}

pin_project! {
    /// Response future of [`ReplayGuard`]: awaits the nonce store, then the inner service.
    pub struct ResponseFuture<S, C, B> where S: Service<Request<B>> {
        #[pin]
        state: State<S, C, B>,
    }
}

impl<S, C, B, ResBody> Future for ResponseFuture<S, C, B>
where
    S: Service<Request<B>, Response = Response<ResBody>>,
    C: Future<Output = Result<bool, StoreError>>,
{
    type Output = Result<Response<ResponseBody<ResBody>>, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.project().state;
        loop {
            match state.as_mut().project() {
                StateProj::Checking { check, pending } => {
                    let outcome = ready!(check.poll(cx));
                    let Pending { mut inner, req, style } = *pending.take().expect("polled after completion");
                    let next = match refusal_for(outcome, &req, &style) {
                        None => State::Calling { future: inner.call(req) },
                        Some(response) => State::Done { response: Some(Box::new(response)) },
                    };
                    state.set(next);
                }
                StateProj::Calling { future } => {
                    return Poll::Ready(ready!(future.poll(cx)).map(|r| r.map(ResponseBody::inner)));
                }
                StateProj::Done { response } => {
                    let response = response.take().expect("polled after completion");
                    return Poll::Ready(Ok(ResponseBody::rejection(*response)));
                }
            }
        }
    }
}
