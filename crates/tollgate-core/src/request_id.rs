//! [`RequestId`] and [`RequestIdLayer`]: one id per request, echoed on every response.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::{Extensions, HeaderName, HeaderValue, Request, Response};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

/// `X-Request-Id`, the default header for the request id.
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Longest incoming id that is reused; anything longer is replaced by a fresh one.
const MAX_INCOMING_LEN: usize = 128;

/// The id of one request: reused from a trusted incoming header or generated (a UUID v4),
/// placed in the request's extensions by [`RequestIdLayer`] and echoed on its response.
///
/// With the `axum` feature a handler takes it as an argument (a 500 naming
/// [`RequestIdLayer`] where none ran; `Option<RequestId>` takes the absence):
///
/// ```
/// # #[cfg(feature = "axum")]
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use axum::{Router, body::Body, routing::get};
/// use http::Request;
/// use tollgate_core::{RequestId, RequestIdLayer};
/// use tower::ServiceExt;
///
/// async fn handler(id: RequestId) -> String {
///     format!("your request is {id}")
/// }
///
/// let app = Router::new().route("/", get(handler)).layer(RequestIdLayer::new());
/// let response = app.oneshot(Request::new(Body::empty())).await.unwrap();
/// let id = response.headers()["x-request-id"].to_str().unwrap().to_owned();
/// let body = axum::body::to_bytes(response.into_body(), 1024).await.unwrap();
/// assert_eq!(body, format!("your request is {id}"));
/// # }
/// # #[cfg(not(feature = "axum"))]
/// # fn main() {}
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RequestId(HeaderValue);

impl RequestId {
    /// Wraps `value` if it is a usable id: 1 to 128 visible ASCII characters.
    pub fn new(value: HeaderValue) -> Option<Self> {
        let bytes = value.as_bytes();
        let ok = !bytes.is_empty() && bytes.len() <= MAX_INCOMING_LEN && bytes.iter().all(|b| b.is_ascii_graphic());
        ok.then_some(Self(value))
    }

    /// A fresh random id (UUID v4, hyphenated, lower case).
    pub fn generate() -> Self {
        let mut text = [0; uuid::fmt::Hyphenated::LENGTH];
        uuid::Uuid::new_v4().hyphenated().encode_lower(&mut text);
        // The text is its own shared owner: one allocation, and cloning the id (the layer
        // echoes it on the response) counts a reference. A header value copied from a slice
        // would allocate once for the copy and again when first cloned.
        let value = HeaderValue::from_maybe_shared(Bytes::from_owner(text));
        Self(value.expect("a UUID is a valid header value"))
    }

    /// The id found in `extensions`, if a [`RequestIdLayer`] put one there.
    pub fn from_extensions(extensions: &Extensions) -> Option<&Self> {
        extensions.get::<Self>()
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        // `new` and `generate` admit visible ASCII only.
        self.0.to_str().unwrap_or_default()
    }

    /// The id as a header value.
    pub fn header_value(&self) -> &HeaderValue {
        &self.0
    }
}

impl fmt::Debug for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RequestId").field(&self.as_str()).finish()
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone)]
struct Config {
    response_header: HeaderName,
    trusted_incoming: Vec<HeaderName>,
}

/// Gives every request a [`RequestId`] and echoes it on the response, refusals included.
///
/// By default a fresh id is generated for every request and written to `X-Request-Id` on
/// the response. Incoming ids are reused only from headers you name with
/// [`reuse_incoming`](Self::reuse_incoming) (a caller could otherwise choose ids that collide
/// in your logs); an incoming id that is empty, longer than 128 characters or not visible
/// ASCII is replaced.
///
/// ```
/// use http::{Request, Response};
/// use tollgate_core::{RequestId, RequestIdLayer, X_CA_REQUEST_ID};
/// use tower::{ServiceBuilder, ServiceExt, service_fn};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), std::convert::Infallible> {
/// let service = ServiceBuilder::new()
///     .layer(RequestIdLayer::new().reuse_incoming(X_CA_REQUEST_ID).response_header(X_CA_REQUEST_ID))
///     .service(service_fn(|req: Request<()>| async move {
///         let id = RequestId::from_extensions(req.extensions()).unwrap().to_string();
///         Ok::<_, std::convert::Infallible>(Response::new(id))
///     }));
///
/// let request = Request::builder().header("x-ca-request-id", "abc-123").body(()).unwrap();
/// let response = service.oneshot(request).await?;
/// assert_eq!(response.headers()["x-ca-request-id"], "abc-123");
/// assert_eq!(response.body(), "abc-123");
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct RequestIdLayer {
    config: Arc<Config>,
}

impl Default for RequestIdLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl RequestIdLayer {
    /// Generates ids, echoes them in `X-Request-Id`.
    pub fn new() -> Self {
        Self { config: Arc::new(Config { response_header: X_REQUEST_ID, trusted_incoming: Vec::new() }) }
    }

    fn config_mut(&mut self) -> &mut Config {
        Arc::make_mut(&mut self.config)
    }

    /// Reuses the id of an incoming header of this name when it is present and well formed.
    /// May be called more than once; the first present header wins.
    pub fn reuse_incoming(mut self, name: HeaderName) -> Self {
        self.config_mut().trusted_incoming.push(name);
        self
    }

    /// Writes the id to this response header (default `x-request-id`).
    pub fn response_header(mut self, name: HeaderName) -> Self {
        self.config_mut().response_header = name;
        self
    }
}

impl<S> Layer<S> for RequestIdLayer {
    type Service = RequestIdService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequestIdService { inner, config: self.config.clone() }
    }
}

/// The service made by [`RequestIdLayer`].
#[derive(Debug, Clone)]
pub struct RequestIdService<S> {
    inner: S,
    config: Arc<Config>,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for RequestIdService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        let id = self
            .config
            .trusted_incoming
            .iter()
            .find_map(|name| req.headers().get(name).cloned().and_then(RequestId::new))
            .unwrap_or_else(RequestId::generate);
        let header = id.0.clone();
        req.extensions_mut().insert(id);
        ResponseFuture { inner: self.inner.call(req), echo: Some((self.config.response_header.clone(), header)) }
    }
}

pin_project! {
    /// Response future of [`RequestIdService`].
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        echo: Option<(HeaderName, HeaderValue)>,
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut response = ready!(this.inner.poll(cx))?;
        if let Some((name, value)) = this.echo.take() {
            // A handler or inner policy that set the header itself knows better.
            response.headers_mut().entry(name).or_insert(value);
        }
        Poll::Ready(Ok(response))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::convert::Infallible;
    use tower::{ServiceExt, service_fn};

    async fn echo(req: Request<()>) -> Result<Response<String>, Infallible> {
        Ok(Response::new(RequestId::from_extensions(req.extensions()).unwrap().to_string()))
    }

    #[tokio::test]
    async fn generates_when_not_trusted() {
        let svc = RequestIdLayer::new().layer(service_fn(echo));
        let req = Request::builder().header("x-request-id", "mine").body(()).unwrap();
        let resp = svc.oneshot(req).await.unwrap();
        let echoed = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
        assert_ne!(echoed, "mine");
        assert_eq!(echoed.len(), 36);
        assert_eq!(resp.body(), &echoed);
    }

    #[tokio::test]
    async fn reuses_trusted_and_rejects_junk() {
        let layer = RequestIdLayer::new().reuse_incoming(X_REQUEST_ID);
        let req = Request::builder().header("x-request-id", "abc").body(()).unwrap();
        let resp = layer.layer(service_fn(echo)).oneshot(req).await.unwrap();
        assert_eq!(resp.headers()["x-request-id"], "abc");

        let long = "a".repeat(129);
        let req = Request::builder().header("x-request-id", long.as_str()).body(()).unwrap();
        let resp = layer.layer(service_fn(echo)).oneshot(req).await.unwrap();
        assert_ne!(resp.headers()["x-request-id"], long.as_str());

        let req = Request::builder().header("x-request-id", "a b").body(()).unwrap();
        let resp = layer.layer(service_fn(echo)).oneshot(req).await.unwrap();
        assert_ne!(resp.headers()["x-request-id"], "a b");
    }

    #[tokio::test]
    async fn keeps_a_header_the_handler_set() {
        let svc = RequestIdLayer::new().layer(service_fn(|_req: Request<()>| async {
            Ok::<_, Infallible>(Response::builder().header("x-request-id", "inner").body(()).unwrap())
        }));
        let resp = svc.oneshot(Request::new(())).await.unwrap();
        assert_eq!(resp.headers()["x-request-id"], "inner");
    }

    #[test]
    fn generated_ids_differ() {
        assert_ne!(RequestId::generate(), RequestId::generate());
    }
}
