//! [`PolicyFuture`]: the response future of a policy that either refuses at once or passes
//! the request on.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::Response;
use http_body_util::Full;
use pin_project_lite::pin_project;

use crate::body::ResponseBody;

pin_project! {
    #[project = KindProj]
    enum Kind<F> {
        Inner { #[pin] future: F },
        Refused { response: Option<Response<Full<Bytes>>> },
    }
}

pin_project! {
    /// Response future of a policy that decides before calling the inner service: either
    /// the inner service's future, or a rendered refusal. No allocation either way.
    pub struct PolicyFuture<F> {
        #[pin]
        kind: Kind<F>,
    }
}

impl<F> PolicyFuture<F> {
    /// Passes the request on: resolves to the inner service's response.
    pub fn inner(future: F) -> Self {
        Self { kind: Kind::Inner { future } }
    }

    /// Refuses: resolves to `response` without calling the inner service.
    pub fn refused(response: Response<Full<Bytes>>) -> Self {
        Self { kind: Kind::Refused { response: Some(response) } }
    }
}

impl<F, B, E> Future for PolicyFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<ResponseBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Inner { future } => {
                let response = ready!(future.poll(cx))?;
                Poll::Ready(Ok(response.map(ResponseBody::inner)))
            }
            KindProj::Refused { response } => {
                let response = response.take().expect("PolicyFuture polled after completion");
                Poll::Ready(Ok(ResponseBody::rejection(response)))
            }
        }
    }
}

impl<F> std::fmt::Debug for PolicyFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PolicyFuture")
    }
}

/// The boxed response future of a policy that has to wait before it decides (for a body to
/// arrive, a store to answer).
pub type BoxResponseFuture<B, E> = Pin<Box<dyn Future<Output = Result<Response<ResponseBody<B>>, E>> + Send>>;

pin_project! {
    #[project = MaybeBoxedProj]
    enum MaybeBoxedKind<F, B, E> {
        Now { #[pin] future: PolicyFuture<F> },
        Later { future: BoxResponseFuture<B, E> },
    }
}

pin_project! {
    /// Response future of a policy that settles most requests in `call` and waits for the
    /// others: a [`PolicyFuture`] (no allocation) when it decided at once, a
    /// [`BoxResponseFuture`] when it had to wait.
    pub struct MaybeBoxedFuture<F, B, E> {
        #[pin]
        kind: MaybeBoxedKind<F, B, E>,
    }
}

impl<F, B, E> MaybeBoxedFuture<F, B, E> {
    /// Decided in `call`: the inner service's future, or a refusal.
    pub fn now(future: PolicyFuture<F>) -> Self {
        Self { kind: MaybeBoxedKind::Now { future } }
    }

    /// Decided later, by a future that waits first.
    pub fn later(future: BoxResponseFuture<B, E>) -> Self {
        Self { kind: MaybeBoxedKind::Later { future } }
    }
}

impl<F, B, E> Future for MaybeBoxedFuture<F, B, E>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<ResponseBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            MaybeBoxedProj::Now { future } => future.poll(cx),
            MaybeBoxedProj::Later { future } => future.as_mut().poll(cx),
        }
    }
}

impl<F, B, E> std::fmt::Debug for MaybeBoxedFuture<F, B, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MaybeBoxedFuture")
    }
}
