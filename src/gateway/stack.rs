//! Type erasure: each policy of a gateway wraps a boxed [`Next`], so policies of any type
//! (and any store) stack in one list, in the canonical order.

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use bytes::Bytes;
use http::{Request, Response};
use tower::util::BoxCloneSyncService;
use tower::{Layer, Service, ServiceExt};

/// The error type a boxed body may carry.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The response future of a [`GatewayService`](super::GatewayService) and of [`Next`]: boxed.
pub type GatewayFuture = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

type Boxed = BoxCloneSyncService<Request<Body>, Response<Body>, Infallible>;

/// What a policy inside a gateway wraps: the rest of the stack, boxed.
///
/// It accepts a request with any body (a signature layer hands on the body it buffered, for
/// instance) and turns it into an [`axum::body::Body`]; it answers with an
/// [`axum::body::Body`] and never fails. You meet it only in the bounds of
/// [`PolicyLayer`]: any `Layer<Next>` whose service takes `Request<Body>` and returns a
/// `Response` of some body, with error [`Infallible`], is a policy.
#[derive(Clone)]
pub struct Next(Boxed);

impl fmt::Debug for Next {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Next")
    }
}

impl Next {
    /// Boxes a service, turning its response body into an [`axum::body::Body`].
    pub(crate) fn new<S, RB>(service: S) -> Self
    where
        S: Service<Request<Body>, Response = Response<RB>, Error = Infallible> + Clone + Send + Sync + 'static,
        S::Future: Send + 'static,
        RB: http_body::Body<Data = Bytes> + Send + 'static,
        RB::Error: Into<BoxError>,
    {
        Self(BoxCloneSyncService::new(service.map_response(|r: Response<RB>| r.map(Body::new))))
    }

    /// Calls a clone of the stack once it is ready (the stack itself stays shared).
    pub(crate) fn oneshot_clone(&self, req: Request<Body>) -> GatewayFuture {
        Box::pin(self.0.clone().oneshot(req))
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

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        self.0.call(req.map(Body::new))
    }
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
    Replay,
    /// IP access control with app-bound entries: they need the `Caller`.
    AppIpAccess,
    AppFlow,
    ParamValidation,
    ParamInjection,
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
            next = Next::new(Traced { policy: slot.name(), inner: layer.wrap(next) });
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
            Self::Replay => "replay",
            Self::AppIpAccess => "ip_by_app",
            Self::AppFlow => "flow_by_app",
            Self::ParamValidation => "param_validation",
            Self::ParamInjection => "param_injection",
        }
    }
}

/// A policy's work in a `tracing` span named `tollgate`, with the policy and the request id:
/// the spans nest in the canonical order, so a trace shows where a request's time went and
/// which policy refused it.
#[derive(Clone)]
struct Traced {
    policy: &'static str,
    inner: Next,
}

impl Service<Request<Body>> for Traced {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = GatewayFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Service::<Request<Body>>::poll_ready(&mut self.inner, cx)
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        use tracing::Instrument;
        let span = tracing::debug_span!("tollgate", policy = self.policy, request_id = tracing::field::Empty);
        if !span.is_disabled()
            && let Some(id) = tollgate_core::RequestId::from_extensions(req.extensions())
        {
            span.record("request_id", id.as_str());
        }
        Box::pin(self.inner.call(req).instrument(span))
    }
}
