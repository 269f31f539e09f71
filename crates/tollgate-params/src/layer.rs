//! [`ParamValidationLayer`] and [`ParamInjectionLayer`]: the two policies as tower layers.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::{Request, Response};
use http_body::Body;
use http_body_util::Full;
use pin_project_lite::pin_project;
use tollgate_core::{
    Clock, DEFAULT_BODY_LIMIT, ErrorStyle, PathParams, Rejection, RequestBody, ResponseBody, buffer_request,
};
use tower_layer::Layer;
use tower_service::Service;

use crate::config::{ConfigError, ParamInjectionConfig, ParamValidationConfig};
use crate::inject::Injection;
use crate::rules::{ParamRequest, ParamRules};

/// Owned name / value pairs of the path parameters bound for a request.
type PathValues = Vec<(String, String)>;

fn owned(params: &PathParams) -> PathValues {
    params.iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect()
}

/// Path parameters another layer (or the router, with feature `axum`) bound for the request.
fn bound_path<B>(req: Request<B>) -> (Request<B>, PathValues) {
    if let Some(params) = req.extensions().get::<PathParams>() {
        let values = owned(params);
        return (req, values);
    }
    router_path(req)
}

#[cfg(feature = "axum")]
fn router_path<B>(req: Request<B>) -> (Request<B>, PathValues) {
    use axum::extract::{FromRequestParts, RawPathParams};
    let (mut parts, body) = req.into_parts();
    let values = {
        // The extractor only reads an extension the router put there: it is ready at once.
        let mut extract = std::pin::pin!(RawPathParams::from_request_parts(&mut parts, &()));
        match extract.as_mut().poll(&mut Context::from_waker(std::task::Waker::noop())) {
            Poll::Ready(Ok(params)) => params.iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect(),
            _ => Vec::new(),
        }
    };
    (Request::from_parts(parts, body), values)
}

#[cfg(not(feature = "axum"))]
fn router_path<B>(req: Request<B>) -> (Request<B>, PathValues) {
    (req, Vec::new())
}

#[derive(Clone)]
struct ValidationSettings {
    rules: Arc<ParamRules>,
    style: ErrorStyle,
    body_limit: usize,
}

/// Validates request parameters against their definitions before the request goes on.
///
/// - Path parameters come from the path template (`/user/{userid}`); a request whose path
///   does not match it is another API's and passes through unchecked. The bound values
///   are put in the extensions as core's [`PathParams`]. Without a template they come from
///   `PathParams` another layer put there, or (feature `axum`) from the router.
/// - The body is read only when a body parameter or a JSON Schema is defined, up to a limit
///   (8 MiB by default; 413 beyond), and replayed to the inner service byte for byte, unless
///   a default was written into it. Otherwise it streams through untouched.
/// - Defaults of absent parameters are written into the request: a header is inserted, a
///   query pair appended, a form field appended to the body, a JSON value set at its
///   pointer (the body re-serialized); the body's `Content-Length` follows.
/// - Every problem of a request is reported in one refusal (HTTP 400, see [`Report`](crate::Report)),
///   rendered in problem+json unless another [`ErrorStyle`] is set.
pub struct ParamValidationLayer {
    settings: Arc<ValidationSettings>,
}

impl Clone for ParamValidationLayer {
    fn clone(&self) -> Self {
        Self { settings: self.settings.clone() }
    }
}

impl std::fmt::Debug for ParamValidationLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParamValidationLayer").field("rules", &self.settings.rules).finish_non_exhaustive()
    }
}

impl ParamValidationLayer {
    /// Validates with `rules`.
    pub fn new(rules: ParamRules) -> Self {
        Self {
            settings: Arc::new(ValidationSettings {
                rules: Arc::new(rules),
                style: ErrorStyle::default(),
                body_limit: DEFAULT_BODY_LIMIT,
            }),
        }
    }

    /// Compiles `config` (see [`ParamRules::new`]).
    pub fn from_config(config: &ParamValidationConfig) -> Result<Self, ConfigError> {
        Ok(Self::new(ParamRules::new(config)?))
    }

    /// How refusals are rendered (problem+json by default).
    pub fn error_style(mut self, style: ErrorStyle) -> Self {
        Arc::make_mut(&mut self.settings).style = style;
        self
    }

    /// The largest body read (default 8 MiB); larger ones are refused with 413.
    pub fn body_limit(mut self, bytes: usize) -> Self {
        Arc::make_mut(&mut self.settings).body_limit = bytes;
        self
    }

    /// The compiled rules.
    pub fn rules(&self) -> &ParamRules {
        &self.settings.rules
    }
}

impl<S> Layer<S> for ParamValidationLayer {
    type Service = ParamValidation<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ParamValidation { inner, settings: self.settings.clone() }
    }
}

/// The service of a [`ParamValidationLayer`].
pub struct ParamValidation<S> {
    inner: S,
    settings: Arc<ValidationSettings>,
}

impl<S: Clone> Clone for ParamValidation<S> {
    fn clone(&self) -> Self {
        Self { inner: self.inner.clone(), settings: self.settings.clone() }
    }
}

impl<S> std::fmt::Debug for ParamValidation<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParamValidation").finish_non_exhaustive()
    }
}

/// The boxed part of the body path: buffering and checking, then the request to pass on or
/// the rendered refusal.
type Buffering<B> = Pin<Box<dyn Future<Output = Result<Request<RequestBody<B>>, Response<Full<Bytes>>>> + Send>>;

impl<S, B, ResBody> Service<Request<B>> for ParamValidation<S>
where
    S: Service<Request<RequestBody<B>>, Response = Response<ResBody>> + Clone,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S, B>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        let rules = &self.settings.rules;
        let path = match rules.template() {
            Some(template) => match template.matches(req.uri().path()) {
                None => return ResponseFuture::calling(self.inner.call(req.map(RequestBody::streaming))),
                Some(params) => {
                    let values = owned(&params);
                    req.extensions_mut().insert(params);
                    values
                }
            },
            None if rules.needs_path_params() => {
                let values;
                (req, values) = bound_path(req);
                values
            }
            None => Vec::new(),
        };
        if !rules.needs_body() {
            let checked = rules.check(&ParamRequest::new(req.uri(), req.headers()).with_path_params(&path));
            return match checked {
                Ok(fixes) => {
                    let mut req = req.map(RequestBody::streaming);
                    fixes.apply(&mut req);
                    ResponseFuture::calling(self.inner.call(req))
                }
                Err(report) => ResponseFuture::refused(self.settings.style.respond(&report.rejection(), &req)),
            };
        }
        let settings = self.settings.clone();
        let (limit, style) = (settings.body_limit, settings.style.clone());
        after_body(&mut self.inner, req, limit, style, move |req, bytes| {
            let view = ParamRequest::new(req.uri(), req.headers()).with_path_params(&path).with_body(bytes);
            let fixes = settings.rules.check(&view).map_err(|report| report.rejection())?;
            if let Some(body) = fixes.apply(req) {
                *req.body_mut() = RequestBody::buffered(body);
            }
            Ok(())
        })
    }
}

/// Reads the body (up to `limit`, 413 beyond it), then lets `check` judge and amend the
/// request before the inner service sees it; a refusal is rendered in `style`. The ready
/// inner service travels with the request until the body is in; a fresh clone waits for
/// the next call.
fn after_body<S, B>(
    inner: &mut S,
    req: Request<B>,
    limit: usize,
    style: ErrorStyle,
    check: impl FnOnce(&mut Request<RequestBody<B>>, &[u8]) -> Result<(), Rejection> + Send + 'static,
) -> ResponseFuture<S, B>
where
    S: Service<Request<RequestBody<B>>> + Clone,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let clone = inner.clone();
    let inner = std::mem::replace(inner, clone);
    let buffering: Buffering<B> = Box::pin(async move {
        let head = ErrorStyle::head_of(&req);
        let (mut req, bytes) = match buffer_request(req, limit).await {
            Ok(buffered) => buffered,
            Err(rejection) => return Err(style.respond(&rejection.with_policy("params"), &head)),
        };
        match check(&mut req, &bytes) {
            Ok(()) => Ok(req),
            Err(rejection) => Err(style.respond(&rejection, &req)),
        }
    });
    ResponseFuture { state: State::Buffering { buffering, inner: Some(inner) } }
}

pin_project! {
    #[project = StateProj]
    enum State<S, B> where S: Service<Request<RequestBody<B>>> {
        Buffering { buffering: Buffering<B>, inner: Option<S> },
        Calling { #[pin] future: S::Future },
        Refused { response: Option<Response<Full<Bytes>>> },
    }
}

pin_project! {
    /// Response future of [`ParamValidation`] and [`ParamInjection`]: a refusal at once,
    /// the inner service's future at once (no body to read), or the body read and checked
    /// first (the only boxed step).
    pub struct ResponseFuture<S, B> where S: Service<Request<RequestBody<B>>> {
        #[pin]
        state: State<S, B>,
    }
}

impl<S, B> ResponseFuture<S, B>
where
    S: Service<Request<RequestBody<B>>>,
{
    fn calling(future: S::Future) -> Self {
        Self { state: State::Calling { future } }
    }

    fn refused(response: Response<Full<Bytes>>) -> Self {
        Self { state: State::Refused { response: Some(response) } }
    }
}

impl<S, B> std::fmt::Debug for ResponseFuture<S, B>
where
    S: Service<Request<RequestBody<B>>>,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ResponseFuture")
    }
}

impl<S, B, ResBody> Future for ResponseFuture<S, B>
where
    S: Service<Request<RequestBody<B>>, Response = Response<ResBody>>,
{
    type Output = Result<Response<ResponseBody<ResBody>>, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.project().state;
        loop {
            match state.as_mut().project() {
                StateProj::Buffering { buffering, inner } => {
                    let outcome = ready!(buffering.as_mut().poll(cx));
                    let next = match outcome {
                        Ok(req) => {
                            let mut inner = inner.take().expect("ResponseFuture polled after completion");
                            State::Calling { future: inner.call(req) }
                        }
                        Err(response) => State::Refused { response: Some(response) },
                    };
                    state.set(next);
                }
                StateProj::Calling { future } => {
                    let response = ready!(future.poll(cx))?;
                    return Poll::Ready(Ok(response.map(ResponseBody::inner)));
                }
                StateProj::Refused { response } => {
                    let response = response.take().expect("ResponseFuture polled after completion");
                    return Poll::Ready(Ok(ResponseBody::rejection(response)));
                }
            }
        }
    }
}

#[derive(Clone)]
struct InjectionSettings {
    injection: Arc<Injection>,
    style: ErrorStyle,
    body_limit: usize,
}

/// Adds constant and system parameters and applies parameter mappings before the request
/// goes on (see [`Injection::apply`]). Every incoming occurrence of an injected name is
/// removed first, so a caller cannot smuggle a value in under it.
///
/// Path parameters for mappings come from the layer's path template, from core's
/// [`PathParams`] in the extensions (a [`ParamValidationLayer`] outside this one puts them
/// there), or (feature `axum`) from the router.
///
/// The request body is read (up to a limit, 8 MiB by default; 413 beyond) only when a name
/// is injected into the query and the body is a form, JSON or multipart: a field a backend
/// would read as the injected parameter refuses the request (see
/// [`Injection::check_body`]). It is passed on byte for byte; every other body streams
/// through untouched.
pub struct ParamInjectionLayer {
    settings: Arc<InjectionSettings>,
}

impl Clone for ParamInjectionLayer {
    fn clone(&self) -> Self {
        Self { settings: self.settings.clone() }
    }
}

impl std::fmt::Debug for ParamInjectionLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParamInjectionLayer").field("injection", &self.settings.injection).finish_non_exhaustive()
    }
}

impl ParamInjectionLayer {
    /// Injects as `injection` says.
    pub fn new(injection: Injection) -> Self {
        Self {
            settings: Arc::new(InjectionSettings {
                injection: Arc::new(injection),
                style: ErrorStyle::default(),
                body_limit: DEFAULT_BODY_LIMIT,
            }),
        }
    }

    /// Compiles `config` (see [`Injection::new`]).
    pub fn from_config(config: &ParamInjectionConfig) -> Result<Self, ConfigError> {
        Ok(Self::new(Injection::new(config)?))
    }

    /// How refusals (a mapped value a header cannot carry) are rendered (problem+json by
    /// default).
    pub fn error_style(mut self, style: ErrorStyle) -> Self {
        Arc::make_mut(&mut self.settings).style = style;
        self
    }

    /// The largest body read (default 8 MiB) when one must be checked; larger ones are
    /// refused with 413.
    pub fn body_limit(mut self, bytes: usize) -> Self {
        Arc::make_mut(&mut self.settings).body_limit = bytes;
        self
    }

    /// Reads the request time from `clock`.
    pub fn clock(mut self, clock: impl Clock) -> Self {
        let settings = Arc::make_mut(&mut self.settings);
        settings.injection = Arc::new((*settings.injection).clone().with_clock(clock));
        self
    }
}

impl<S> Layer<S> for ParamInjectionLayer {
    type Service = ParamInjection<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ParamInjection { inner, settings: self.settings.clone() }
    }
}

/// The service of a [`ParamInjectionLayer`].
pub struct ParamInjection<S> {
    inner: S,
    settings: Arc<InjectionSettings>,
}

impl<S: Clone> Clone for ParamInjection<S> {
    fn clone(&self) -> Self {
        Self { inner: self.inner.clone(), settings: self.settings.clone() }
    }
}

impl<S> std::fmt::Debug for ParamInjection<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParamInjection").finish_non_exhaustive()
    }
}

impl<S, B, ResBody> Service<Request<B>> for ParamInjection<S>
where
    S: Service<Request<RequestBody<B>>, Response = Response<ResBody>> + Clone,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S, B>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        let injection = &self.settings.injection;
        let path = match injection.template() {
            Some(template) => template.matches(req.uri().path()).map(|p| owned(&p)).unwrap_or_default(),
            None if injection.needs_path_params() => {
                let values;
                (req, values) = bound_path(req);
                values
            }
            None => Vec::new(),
        };
        if !injection.inspects_body(req.headers()) {
            return match injection.apply(&mut req, &path) {
                Ok(()) => ResponseFuture::calling(self.inner.call(req.map(RequestBody::streaming))),
                Err(rejection) => ResponseFuture::refused(self.settings.style.respond(&rejection, &req)),
            };
        }
        let settings = self.settings.clone();
        let (limit, style) = (settings.body_limit, settings.style.clone());
        after_body(&mut self.inner, req, limit, style, move |req, bytes| {
            settings.injection.check_body(req.headers(), bytes)?;
            settings.injection.apply(req, &path)
        })
    }
}
