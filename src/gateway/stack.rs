//! Type erasure: each policy of a gateway wraps a [`Next`], so policies of any type (and any
//! store) stack in one list, in the canonical order.
//!
//! What erasure costs, per policy a request crosses: one boxed future, a clone of the
//! policy's service (an `Arc` or two: no allocation) and a type check on each body. Nothing
//! else is built per request: the stack is put together once, when the layer is applied.

use std::any::Any;
use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use bytes::Bytes;
use http::{Request, Response};
use tollgate_core::{RequestBody, RequestId, ResponseBody};
use tower::{Layer, Service, ServiceExt};

/// The error type a boxed body may carry.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The response future of a [`GatewayService`](super::GatewayService) and of [`Next`]: boxed.
pub type GatewayFuture = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

/// What a policy inside a gateway wraps: the rest of the stack, type-erased.
///
/// It accepts a request with any body (a signature layer hands on the body it buffered, for
/// instance) and turns it into an [`axum::body::Body`]; it answers with an
/// [`axum::body::Body`] and never fails. It is always ready: each call readies its own
/// clone of the service behind it. You meet it only in the bounds of [`PolicyLayer`]: any
/// `Layer<Next>` whose service takes `Request<Body>` and returns a `Response` of some body,
/// with error [`Infallible`], is a policy.
#[derive(Clone)]
pub struct Next {
    service: Arc<dyn Erased>,
    /// The policy's name in traces, if its calls get a span.
    policy: Option<&'static str>,
}

impl fmt::Debug for Next {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Next")
    }
}

impl Next {
    /// Erases a service's type, turning its response body into an [`axum::body::Body`].
    pub(crate) fn new<S, RB>(service: S) -> Self
    where
        S: Service<Request<Body>, Response = Response<RB>, Error = Infallible> + Clone + Send + Sync + 'static,
        S::Future: Send + 'static,
        RB: http_body::Body<Data = Bytes> + Send + 'static,
        RB::Error: Into<BoxError>,
    {
        Self { service: Arc::new(Erase(service)), policy: None }
    }

    /// Runs each call in a `tracing` span named `tollgate`, with the policy and the request
    /// id: the spans nest in the canonical order, so a trace shows where a request's time
    /// went and which policy refused it. The span is made only when `DEBUG` is enabled.
    pub(crate) fn traced(mut self, policy: &'static str) -> Self {
        self.policy = Some(policy);
        self
    }

    /// [`Service::call`] through a shared reference: the stack needs no readying (see
    /// [`Next`]), so a stack held in an `Arc` is called without a clone.
    pub(crate) fn call_shared<B>(&self, req: Request<B>) -> GatewayFuture
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let req = req.map(axum_body);
        let span = self.policy.and_then(|policy| span(policy, &req));
        self.service.call(req, span)
    }
}

impl<B> Service<Request<B>> for Next
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = GatewayFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // Each call readies a clone of the service (see `Erase`).
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        self.call_shared(req)
    }
}

/// A service behind a [`Next`], called through a shared reference.
trait Erased: Send + Sync {
    /// Calls the service, in `span` if there is one.
    fn call(&self, req: Request<Body>, span: Option<tracing::Span>) -> GatewayFuture;
}

/// The one implementation of [`Erased`].
struct Erase<S>(S);

impl<S, RB> Erased for Erase<S>
where
    S: Service<Request<Body>, Response = Response<RB>, Error = Infallible> + Clone + Send + Sync + 'static,
    S::Future: Send + 'static,
    RB: http_body::Body<Data = Bytes> + Send + 'static,
    RB::Error: Into<BoxError>,
{
    fn call(&self, req: Request<Body>, span: Option<tracing::Span>) -> GatewayFuture {
        // As axum's `Route` does: a clone is readied and called, so the stack is shared by
        // every request. A policy's service is its settings' `Arc` and the `Next` it wraps.
        let mut service = self.0.clone().map_response(|r: Response<RB>| r.map(axum_body));
        if let Some(span) = span {
            // readied and called inside the span
            return Box::pin(tracing::Instrument::instrument(service.oneshot(req), span));
        }
        // A policy is ready when what it wraps is, and a `Next` always is: call it now
        // rather than move the request into a future that readies it first. A service that
        // is not ready yet is readied by that future, which polls it again with the task's
        // own waker (asking twice is allowed).
        match service.poll_ready(&mut Context::from_waker(std::task::Waker::noop())) {
            Poll::Ready(_) => Box::pin(service.call(req)),
            Poll::Pending => Box::pin(service.oneshot(req)),
        }
    }
}

/// The span of one policy's work on one request, if `DEBUG` is enabled (making a disabled
/// span costs more than the rest of a policy's erasure).
fn span(policy: &'static str, req: &Request<Body>) -> Option<tracing::Span> {
    if !tracing::level_enabled!(tracing::Level::DEBUG) {
        return None;
    }
    let span = tracing::debug_span!("tollgate", policy, request_id = tracing::field::Empty);
    if !span.is_disabled()
        && let Some(id) = RequestId::from_extensions(req.extensions())
    {
        span.record("request_id", id.as_str());
    }
    Some(span)
}

/// `body` as an [`axum::body::Body`]. A tollgate policy hands on the body it was given inside
/// its own [`RequestBody`] or [`ResponseBody`]: that body is taken out rather than boxed once
/// more, which would cost an allocation per policy per request. Any other body is boxed
/// (`Body::new` takes a `Body` as it is).
fn axum_body<B>(body: B) -> Body
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let mut slot = Some(body);
    if let Some(body) = take::<ResponseBody<Body>>(&mut slot) {
        return body.into_inner().unwrap_or_else(Body::new);
    }
    if let Some(body) = take::<RequestBody<Body>>(&mut slot) {
        return body.into_inner().unwrap_or_else(Body::new);
    }
    Body::new(slot.expect("taken only when it is one of the two types above"))
}

/// Takes the value out of `slot` if it is an `Option<T>`.
fn take<T: 'static>(slot: &mut dyn Any) -> Option<T> {
    slot.downcast_mut::<Option<T>>()?.take()
}

/// A layer a gateway can stack: any `tower::Layer<Next>` whose service takes
/// `Request<axum::body::Body>`, answers `Response<B>` for a body `B` of [`Bytes`], and never
/// fails. Every tollgate policy layer is one (`CorsLayer`, `IpAccessLayer`, the flow-control
/// layers with any store, `SignatureLayer` with any scheme and secret store,
/// `ReplayGuardLayer` with any nonce store), and so is your own middleware if it has that
/// shape. Implemented for all of them; you never implement it yourself.
pub trait PolicyLayer: Send + Sync + 'static {
    /// Wraps the rest of the stack.
    fn wrap(&self, next: Next) -> Next;
}

impl<L, S, RB> PolicyLayer for L
where
    L: Layer<Next, Service = S> + Send + Sync + 'static,
    S: Service<Request<Body>, Response = Response<RB>, Error = Infallible> + Clone + Send + Sync + 'static,
    S::Future: Send + 'static,
    RB: http_body::Body<Data = Bytes> + Send + 'static,
    RB::Error: Into<BoxError>,
{
    fn wrap(&self, next: Next) -> Next {
        Next::new(self.layer(next))
    }
}

/// Where a policy sits in the canonical stack, outermost first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Slot {
    Cors,
    IpAccess,
    Flow,
    Signature,
    /// Token authentication (a `TokenLayer`): beside the signature, inside it when both.
    Token,
    Replay,
    /// IP access control with app-bound entries: they need the `Caller`.
    AppIpAccess,
    /// App grants: they read the `Caller`.
    Grants,
    /// Aliyun parameter access control: it reads the `Caller` and a token's claims.
    AccessControl,
    AppFlow,
    ParamValidation,
    ParamInjection,
    /// Response phase: next to the handler, so it sees the handler's responses only.
    ErrorMapping,
    /// Aliyun's backend signature: signs what the handler receives, after injection.
    BackendSignature,
}

/// The policies of one API (or of the requests no API matched), in insertion order; sorted
/// into the canonical order when applied.
#[derive(Clone, Default)]
pub(crate) struct Policies {
    layers: Vec<(Slot, Arc<dyn PolicyLayer>)>,
}

impl fmt::Debug for Policies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.layers.iter().map(|(slot, _)| slot)).finish()
    }
}

impl Policies {
    /// Puts `layer` in `slot`, replacing what was there.
    pub(crate) fn set(&mut self, slot: Slot, layer: Arc<dyn PolicyLayer>) {
        self.layers.retain(|(s, _)| *s != slot);
        self.layers.push((slot, layer));
    }

    /// Removes what is in `slot`.
    pub(crate) fn clear(&mut self, slot: Slot) {
        self.layers.retain(|(s, _)| *s != slot);
    }

    /// Adds `layer` to `slot`, after what is there already (it runs inside those).
    pub(crate) fn add(&mut self, slot: Slot, layer: Arc<dyn PolicyLayer>) {
        self.layers.push((slot, layer));
    }

    /// Wraps `next` in every policy: the last slot innermost, and within a slot the first
    /// added outermost.
    pub(crate) fn apply(&self, mut next: Next) -> Next {
        let mut ordered: Vec<&(Slot, Arc<dyn PolicyLayer>)> = self.layers.iter().collect();
        ordered.sort_by_key(|(slot, _)| *slot); // stable: insertion order within a slot
        for (slot, layer) in ordered.into_iter().rev() {
            next = layer.wrap(next).traced(slot.name());
        }
        next
    }
}

impl Slot {
    /// The policy's name in traces.
    fn name(self) -> &'static str {
        match self {
            Self::Cors => "cors",
            Self::IpAccess => "ip",
            Self::Flow => "flow",
            Self::Signature => "signature",
            Self::Token => "token",
            Self::Replay => "replay",
            Self::AppIpAccess => "ip_by_app",
            Self::Grants => "grants",
            Self::AccessControl => "access",
            Self::AppFlow => "flow_by_app",
            Self::ParamValidation => "param_validation",
            Self::ParamInjection => "param_injection",
            Self::ErrorMapping => "error_mapping",
            Self::BackendSignature => "backend_signature",
        }
    }
}
