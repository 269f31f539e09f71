//! [`FlowControlLayer`] and its service: the checks of a policy taken from a rate store, all
//! or nothing, before the request goes on.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use http::header::RETRY_AFTER;
use http::{HeaderMap, HeaderName, HeaderValue, Request, Response, StatusCode};
use http_body_util::Full;
use pin_project_lite::pin_project;
use tollgate_core::{ErrorStyle, MemoryRateStore, RateDecision, RateStore, Rejection, ResponseBody, StoreError};
use tower_layer::Layer;
use tower_service::Service;

use crate::aliyun::AliyunFlowControlConfig;
use crate::aliyun::AliyunLimits;
use crate::basic::BasicLimits;
use crate::config::{BasicFlowControlConfig, ConfigError, ParamFlowControlConfig};
use crate::numbers::header_value;
use crate::param::ParamLimits;
use crate::policy::{Checks, FlowPolicy, FlowRequest, Tier};
use crate::refusal::{refusal, unavailable};

/// `X-RateLimit-Limit`: the smallest limit that applied.
pub const X_RATELIMIT_LIMIT: HeaderName = HeaderName::from_static("x-ratelimit-limit");
/// `X-RateLimit-Remaining`: requests left under it.
pub const X_RATELIMIT_REMAINING: HeaderName = HeaderName::from_static("x-ratelimit-remaining");
/// `RateLimit-Policy` (IETF draft): the limit and its window.
pub const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
/// `RateLimit` (IETF draft): what remains and when the allowance is whole again.
pub const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");

struct Settings<P, St> {
    policy: Arc<P>,
    store: Arc<St>,
    style: ErrorStyle,
    aliyun_status: StatusCode,
    rate_headers: bool,
    ietf_headers: bool,
    /// The policy's limits as `X-RateLimit-Limit` values, rendered when the layer is built.
    limit_values: LimitValues,
}

/// A policy's distinct limits and their header values, kept for the life of the process (a
/// clone is a copy); at most [`MAX_KEPT_LIMITS`], so that finding one stays a short scan.
type LimitValues = Arc<[(u32, &'static HeaderValue)]>;

/// The most limits whose header values a layer keeps; a policy with more (many specials)
/// renders the others per request.
const MAX_KEPT_LIMITS: usize = 16;

fn limit_values(policy: &impl FlowPolicy) -> LimitValues {
    let mut limits = policy.limits();
    limits.sort_unstable();
    limits.dedup();
    limits.into_iter().take(MAX_KEPT_LIMITS).map(|n| (n, crate::numbers::kept(n))).collect()
}

impl<P, St> Clone for Settings<P, St> {
    fn clone(&self) -> Self {
        Self {
            policy: self.policy.clone(),
            store: self.store.clone(),
            style: self.style.clone(),
            aliyun_status: self.aliyun_status,
            rate_headers: self.rate_headers,
            ietf_headers: self.ietf_headers,
            limit_values: self.limit_values.clone(),
        }
    }
}

/// Flow control as a tower layer: the limits a [`FlowPolicy`] names for each request, taken
/// from a [`RateStore`] all or nothing (a request refused by one limit uses up none of the
/// others). A passing response carries `X-RateLimit-Limit` and `X-RateLimit-Remaining` for
/// the smallest limit that applied; a refusal also carries `Retry-After` in whole seconds,
/// rounded up. [`BasicFlowControlLayer`], [`ParamFlowControlLayer`] and
/// [`AliyunFlowControlLayer`] name the built-in policies.
pub struct FlowControlLayer<P, St = MemoryRateStore> {
    settings: Arc<Settings<P, St>>,
}

/// Tencent's basic flow control (API, app, client IP, special apps and IPs).
pub type BasicFlowControlLayer<St = MemoryRateStore> = FlowControlLayer<BasicLimits, St>;
/// Tencent's parameter flow control (default limit, weighted strategies with conditions).
pub type ParamFlowControlLayer<St = MemoryRateStore> = FlowControlLayer<ParamLimits, St>;
/// One limit per client IP, app or header value ([`KeyedLimit`](crate::KeyedLimit)).
pub type KeyedFlowControlLayer<St = MemoryRateStore> = FlowControlLayer<crate::KeyedLimit, St>;
/// Aliyun's flow control (API, user and app tiers with specials).
pub type AliyunFlowControlLayer<St = MemoryRateStore> = FlowControlLayer<AliyunLimits, St>;

impl<P, St> Clone for FlowControlLayer<P, St> {
    fn clone(&self) -> Self {
        Self { settings: self.settings.clone() }
    }
}

impl<P: std::fmt::Debug, St> std::fmt::Debug for FlowControlLayer<P, St> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlowControlLayer").field("policy", &self.settings.policy).finish_non_exhaustive()
    }
}

impl<P: FlowPolicy> FlowControlLayer<P> {
    /// Enforces `policy` with an in-memory store of its own.
    pub fn new(policy: P) -> Self {
        Self::with_store(policy, MemoryRateStore::new())
    }
}

impl BasicFlowControlLayer {
    /// From Tencent's basic plugin JSON, validated; an in-memory store.
    pub fn from_config(config: &BasicFlowControlConfig) -> Result<Self, ConfigError> {
        Ok(Self::new(BasicLimits::from_config(config)?))
    }
}

impl ParamFlowControlLayer {
    /// From Tencent's parameter plugin JSON, validated; an in-memory store.
    pub fn from_config(config: &ParamFlowControlConfig) -> Result<Self, ConfigError> {
        Ok(Self::new(ParamLimits::from_config(config)?))
    }
}

impl AliyunFlowControlLayer {
    /// From an Aliyun flow-control policy (the plug-in's or the OpenAPI's spelling),
    /// validated; an in-memory store; refusals in the Aliyun API Gateway style, with the
    /// configuration's `statusCode` if it names one (else 403).
    pub fn from_config(config: &AliyunFlowControlConfig) -> Result<Self, ConfigError> {
        let limits = AliyunLimits::from_config(config)?;
        let status = limits.status();
        let layer = Self::new(limits).error_style(ErrorStyle::AliyunApiGateway);
        Ok(match status {
            Some(status) => layer.aliyun_status(status),
            None => layer,
        })
    }
}

impl<P: FlowPolicy, St: RateStore> FlowControlLayer<P, St> {
    /// Enforces `policy` with `store` (share one store between layers, or use a Redis store
    /// for a fleet).
    pub fn with_store(policy: P, store: St) -> Self {
        Self::with_shared_store(policy, Arc::new(store))
    }

    /// Enforces `policy` with a store shared with other layers.
    pub fn with_shared_store(policy: P, store: Arc<St>) -> Self {
        Self {
            settings: Arc::new(Settings {
                limit_values: limit_values(&policy),
                policy: Arc::new(policy),
                store,
                style: ErrorStyle::default(),
                aliyun_status: StatusCode::FORBIDDEN,
                rate_headers: true,
                ietf_headers: false,
            }),
        }
    }

    fn settings_mut(&mut self) -> &mut Settings<P, St> {
        Arc::make_mut(&mut self.settings)
    }

    /// How refusals are rendered (problem+json by default).
    pub fn error_style(mut self, style: ErrorStyle) -> Self {
        self.settings_mut().style = style;
        self
    }

    /// The status of a refusal in the Aliyun API Gateway style: 403 (its FAQ) by default;
    /// its current plug-in documentation says 429.
    pub fn aliyun_status(mut self, status: StatusCode) -> Self {
        self.settings_mut().aliyun_status = status;
        self
    }

    /// Whether responses carry `X-RateLimit-Limit` and `X-RateLimit-Remaining` (on by
    /// default, as Tencent's gateway sends its own; tower_governor's are off by default).
    /// Off, a passing response is left as the handler made it and a refusal carries only
    /// `Retry-After`; writing the two headers costs about a third of a flow check.
    pub fn rate_headers(mut self, on: bool) -> Self {
        self.settings_mut().rate_headers = on;
        self
    }

    /// Also send the IETF draft's `RateLimit-Policy` and `RateLimit` fields (with
    /// [`rate_headers`](Self::rate_headers) on).
    pub fn ietf_headers(mut self, on: bool) -> Self {
        self.settings_mut().ietf_headers = on;
        self
    }
}

impl<S, P, St> Layer<S> for FlowControlLayer<P, St> {
    type Service = FlowControl<S, P, St>;

    fn layer(&self, inner: S) -> Self::Service {
        FlowControl { inner, settings: self.settings.clone() }
    }
}

/// The service of a [`FlowControlLayer`].
pub struct FlowControl<S, P, St = MemoryRateStore> {
    inner: S,
    settings: Arc<Settings<P, St>>,
}

impl<S: Clone, P, St> Clone for FlowControl<S, P, St> {
    fn clone(&self) -> Self {
        Self { inner: self.inner.clone(), settings: self.settings.clone() }
    }
}

impl<S, P, St> std::fmt::Debug for FlowControl<S, P, St> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlowControl").finish_non_exhaustive()
    }
}

impl<S, P, St, B, ResBody> Service<Request<B>> for FlowControl<S, P, St>
where
    S: Service<Request<B>, Response = Response<ResBody>> + Clone,
    P: FlowPolicy,
    St: RateStore,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S, St::AllFuture, B>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let settings = &*self.settings;
        let taken = {
            let view = FlowRequest {
                method: req.method(),
                uri: req.uri(),
                headers: req.headers(),
                extensions: req.extensions(),
            };
            let mut checks = Checks::default();
            if let Err(rejection) = settings.policy.checks(&view, &mut checks) {
                tracing::debug!(code = rejection.code(), "flow control: refused before any limit was taken");
                let response = Box::new(settings.style.respond(&rejection, &req));
                return ResponseFuture { state: State::Done { response: Some(response) } };
            }
            // room for the decisions: on the stack for the usual few limits
            let mut inline = [RateDecision::default(); 4];
            let mut spilled = Vec::new();
            let decisions: &mut [RateDecision] = match inline.get_mut(..checks.len()) {
                Some(room) => room,
                None => {
                    spilled.resize(checks.len(), RateDecision::default());
                    &mut spilled
                }
            };
            match settings.store.take_all_at_once(checks.takes(), 1, decisions) {
                // an in-memory store has answered: settle here, nothing kept for the future
                Some(outcome) => Taken::Settled(settle(settings, &checks, outcome.map(|n| &decisions[..n]), &req)),
                None => Taken::Waiting(settings.store.take_all(checks.takes(), 1), Box::new(checks.into_owned())),
            }
        };
        let state = match taken {
            Taken::Settled(Settled::Pass(headers)) => State::Calling { future: self.inner.call(req), headers },
            Taken::Settled(Settled::Refuse(response)) => State::Done { response: Some(response) },
            Taken::Waiting(taking, checks) => {
                // The ready service goes with the request; a fresh clone waits for the next call.
                let clone = self.inner.clone();
                let inner = std::mem::replace(&mut self.inner, clone);
                let settings = Arc::clone(&self.settings) as _;
                State::Taking { taking, pending: Some(Box::new(Pending { inner, req, checks, settings })) }
            }
        };
        ResponseFuture { state }
    }
}

/// What the store said in `call`: settled, or a future to wait for with the checks.
enum Taken<T> {
    Settled(Settled),
    Waiting(T, Box<Checks<'static>>),
}

/// What the response future needs of the settings, without their type parameters.
trait Render: Send + Sync {
    fn style(&self) -> &ErrorStyle;
    fn aliyun_status(&self) -> StatusCode;
    fn rate_headers(&self) -> bool;
    fn ietf_headers(&self) -> bool;
    fn limit_values(&self) -> &[(u32, &'static HeaderValue)];
}

impl<P: Send + Sync, St: Send + Sync> Render for Settings<P, St> {
    fn style(&self) -> &ErrorStyle {
        &self.style
    }

    fn aliyun_status(&self) -> StatusCode {
        self.aliyun_status
    }

    fn rate_headers(&self) -> bool {
        self.rate_headers
    }

    fn ietf_headers(&self) -> bool {
        self.ietf_headers
    }

    fn limit_values(&self) -> &[(u32, &'static HeaderValue)] {
        &self.limit_values
    }
}

/// What waits with the request for a store that must be awaited.
struct Pending<S, B> {
    inner: S,
    req: Request<B>,
    checks: Box<Checks<'static>>,
    settings: Arc<dyn Render>,
}

/// The rate headers of a request let through, as numbers until they are written into its
/// response (small, so the response future stays small).
#[derive(Clone, Copy)]
struct RateHeaders {
    /// The smallest limit that applied (its value kept when the layer was built, if it was)
    /// and the least remaining of any.
    limit: u32,
    limit_value: Option<&'static HeaderValue>,
    remaining: u32,
    /// `RateLimit-Policy` and `RateLimit` too: the window and the reset, in whole seconds.
    ietf: Option<(u64, u64)>,
}

impl RateHeaders {
    fn write(self, headers: &mut HeaderMap) {
        headers.insert(X_RATELIMIT_LIMIT, self.limit_value.cloned().unwrap_or_else(|| header_value(self.limit)));
        headers.insert(X_RATELIMIT_REMAINING, header_value(self.remaining));
        if let Some((window, reset)) = self.ietf {
            let policy = format!("\"flow\";q={};w={window}", self.limit);
            let state = format!("\"flow\";r={};t={reset}", self.remaining);
            // digits and ASCII punctuation: always a valid header value
            if let (Ok(policy), Ok(state)) = (HeaderValue::try_from(policy), HeaderValue::try_from(state)) {
                headers.insert(RATELIMIT_POLICY, policy);
                headers.insert(RATELIMIT, state);
            }
        }
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S, T, B> where S: Service<Request<B>> {
        // boxed: only a networked store waits, and the future moves on every call
        Taking { #[pin] taking: T, pending: Option<Box<Pending<S, B>>> },
        Calling { #[pin] future: S::Future, headers: Option<RateHeaders> },
        // boxed: a refusal is the rare path, and the future moves on every call
        Done { response: Option<Box<Response<Full<Bytes>>>> },
    }
}

pin_project! {
    /// Response future of [`FlowControl`]: awaits the rate store, then the inner service.
    pub struct ResponseFuture<S, T, B> where S: Service<Request<B>> {
        #[pin]
        state: State<S, T, B>,
    }
}

fn whole_seconds(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// The headers for `decisions` (`None` when no limit applied).
fn rate_headers(decisions: &[RateDecision], checks: &Checks<'_>, settings: &dyn Render) -> Option<RateHeaders> {
    let (tightest, check) = decisions.iter().zip(checks.takes()).min_by_key(|(d, _)| (d.limit, d.remaining))?;
    let remaining = decisions.iter().map(|d| d.remaining).min().unwrap_or(0);
    let ietf =
        settings.ietf_headers().then(|| (whole_seconds(check.quota.window()), whole_seconds(tightest.reset_after)));
    let limit_value = settings.limit_values().iter().find(|(n, _)| *n == tightest.limit).map(|(_, value)| *value);
    Some(RateHeaders { limit: tightest.limit, limit_value, remaining, ietf })
}

/// What the store's answer means for the request.
enum Settled {
    Pass(Option<RateHeaders>),
    Refuse(Box<Response<Full<Bytes>>>),
}

fn settle<B>(
    settings: &dyn Render,
    checks: &Checks<'_>,
    outcome: Result<&[RateDecision], StoreError>,
    req: &Request<B>,
) -> Settled {
    let decisions = match outcome {
        Ok(decisions) => decisions,
        Err(e) => {
            // a full in-memory store says so itself, at most once a minute
            if e != StoreError::Full {
                tracing::warn!(error = %e, "flow control: rate store unavailable");
            }
            return Settled::Refuse(Box::new(settings.style().respond(&unavailable(&e), req)));
        }
    };
    let Some(at) = decisions.iter().position(|d| !d.allowed) else {
        tollgate_core::observe::accepted("flow");
        let headers = if settings.rate_headers() { rate_headers(decisions, checks, settings) } else { None };
        return Settled::Pass(headers);
    };
    let decision = decisions[at];
    let tier = checks.tier(at).unwrap_or(Tier::Api);
    let wait = decision.retry_after.unwrap_or(decision.reset_after);
    let mut rejection: Rejection =
        refusal(tier, settings.aliyun_status()).with_header(RETRY_AFTER, HeaderValue::from(whole_seconds(wait).max(1)));
    if settings.rate_headers() {
        let mut headers = HeaderMap::new();
        if let Some(rate) = rate_headers(decisions, checks, settings) {
            rate.write(&mut headers);
        }
        for (name, value) in &headers {
            rejection = rejection.with_header(name.clone(), value.clone());
        }
    }
    if let Some(take) = checks.takes().get(at) {
        tracing::debug!(tier = ?tier, key = %take.key, "flow control: refused");
    }
    Settled::Refuse(Box::new(settings.style().respond(&rejection, req)))
}

impl<S, T, B, ResBody> Future for ResponseFuture<S, T, B>
where
    S: Service<Request<B>, Response = Response<ResBody>>,
    T: Future<Output = Result<Vec<RateDecision>, StoreError>>,
{
    type Output = Result<Response<ResponseBody<ResBody>>, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.project().state;
        loop {
            match state.as_mut().project() {
                StateProj::Taking { taking, pending } => {
                    let outcome = ready!(taking.poll(cx));
                    let mut pending = pending.take().expect("polled after completion");
                    let next = match settle(
                        &*pending.settings,
                        &pending.checks,
                        outcome.as_deref().map_err(Clone::clone),
                        &pending.req,
                    ) {
                        Settled::Pass(headers) => State::Calling { future: pending.inner.call(pending.req), headers },
                        Settled::Refuse(response) => State::Done { response: Some(response) },
                    };
                    state.set(next);
                }
                StateProj::Calling { future, headers } => {
                    // taken apart once and put together once: the response is large, and each
                    // move of it whole (through `?`, then `map`) cost a store-forwarding stall
                    return Poll::Ready(ready!(future.poll(cx)).map(|response| {
                        let (mut parts, body) = response.into_parts();
                        if let Some(headers) = headers.take() {
                            headers.write(&mut parts.headers);
                        }
                        Response::from_parts(parts, ResponseBody::inner(body))
                    }));
                }
                StateProj::Done { response } => {
                    let response = response.take().expect("polled after completion");
                    return Poll::Ready(Ok(ResponseBody::rejection(*response)));
                }
            }
        }
    }
}
