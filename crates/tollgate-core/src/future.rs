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
