//! [`AccessControlLayer`], its service and its response future.

use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use http_body::Body;
use tollgate_core::{
    DEFAULT_BODY_LIMIT, ErrorStyle, PolicyFuture, Rejection, RequestBody, ResponseBody, SystemValues, buffer_request,
};
use tower_layer::Layer;
use tower_service::Service;

use crate::config::{AccessControlConfig, ConfigError};
use crate::policy::Policy;

pub use tollgate_core::BoxResponseFuture;

#[derive(Debug, Clone)]
struct Settings {
    policy: Policy,
    style: ErrorStyle,
    body_limit: usize,
}

/// Aliyun parameter access control (`accessControl`) as a tower layer: ordered rules, each a
/// condition on the request's parameters with an action when it holds (`ifTrue`) and when it
/// does not (`ifFalse`). See the [crate documentation](crate) for the rules' meaning.
///
/// Built from the plug-in ([`from_plugin`](Self::from_plugin), [`from_config`](Self::from_config));
/// every condition, template and header is checked then, never at request time. Refusals are
/// rendered in the Aliyun API Gateway style unless [`error_style`](Self::error_style) says
/// otherwise.
#[derive(Debug, Clone)]
pub struct AccessControlLayer {
    settings: Arc<Settings>,
}

impl AccessControlLayer {
    /// A layer from the plug-in's text, YAML or JSON, as pasted from the Aliyun console.
    pub fn from_plugin(text: &str) -> Result<Self, ConfigError> {
        Self::from_config(&AccessControlConfig::from_plugin(text)?)
    }

    /// A layer from a configuration read or built beforehand. Errors name the field
    /// (`rules[1].condition`, `parameters.pathUserId`, `rules[0].assertInDataset`).
    pub fn from_config(config: &AccessControlConfig) -> Result<Self, ConfigError> {
        let policy = Policy::compile(config)?;
        Ok(Self {
            settings: Arc::new(Settings {
                policy,
                style: ErrorStyle::AliyunApiGateway,
                body_limit: DEFAULT_BODY_LIMIT,
            }),
        })
    }

    /// Renders refusals in this style (default: the Aliyun API Gateway style, the plug-in's
    /// own). A rule's `responseBody` and `responseHeaders` replace the style's body and
    /// headers in every style but gRPC.
    pub fn error_style(mut self, style: ErrorStyle) -> Self {
        self.settings_mut().style = style;
        self
    }

    /// The most bytes of a form body read for `Form:` parameters (default
    /// [`DEFAULT_BODY_LIMIT`]); a larger body is refused with 413.
    pub fn body_limit(mut self, limit: usize) -> Self {
        self.settings_mut().body_limit = limit;
        self
    }

    /// The values of the system parameters the gateway cannot know (`CaStage`,
    /// `CaInstanceId`, `CaProxy`, ...), for conditions and templates that read them; without
    /// them those parameters are `null`.
    pub fn system_values(mut self, values: SystemValues) -> Self {
        self.settings_mut().policy.system = values;
        self
    }

    /// Whether a rule reads a `Form:` parameter, so the body of a form request is read
    /// (and handed on unchanged).
    pub fn reads_body(&self) -> bool {
        self.settings.policy.needs_body()
    }

    /// Runs the rules on a request without a service: `Ok` if it passes, else the refusal
    /// the layer would render. `form` is the request's body, read for `Form:` parameters when
    /// the request is a form.
    pub fn check<B>(&self, request: &Request<B>, form: Option<&[u8]>) -> Result<(), Rejection> {
        let form = form.filter(|_| self.settings.policy.needs_body_of(request.headers()));
        self.settings.policy.decide(request, form)
    }

    fn settings_mut(&mut self) -> &mut Settings {
        Arc::make_mut(&mut self.settings)
    }
}

impl<S> Layer<S> for AccessControlLayer {
    type Service = AccessControl<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AccessControl { inner, settings: self.settings.clone() }
    }
}

/// The service made by [`AccessControlLayer`].
#[derive(Debug, Clone)]
pub struct AccessControl<S> {
    inner: S,
    settings: Arc<Settings>,
}

impl<S, B, ResBody> Service<Request<B>> for AccessControl<S>
where
    S: Service<Request<RequestBody<B>>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    ResBody: 'static,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let settings = &*self.settings;
        let req = if settings.policy.reads_path_params() { router_path_params(req) } else { req };
        // the body is read only when a rule reads a form field and the request is a form
        if !settings.policy.needs_body_of(req.headers()) {
            let future = match settings.policy.decide(&req, None) {
                Ok(()) => PolicyFuture::inner(self.inner.call(req.map(RequestBody::streaming))),
                Err(rejection) => PolicyFuture::refused(settings.style.respond(&rejection, &req)),
            };
            return ResponseFuture::now(future);
        }
        // The ready inner service goes into the future; a fresh clone waits for the next call.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let settings = self.settings.clone();
        let future = Box::pin(async move {
            let head = ErrorStyle::head_of(&req);
            let refuse = |rejection: Rejection| Ok(ResponseBody::rejection(settings.style.respond(&rejection, &head)));
            let (req, bytes) = match buffer_request(req, settings.body_limit).await {
                Ok(read) => read,
                Err(rejection) => return refuse(rejection.with_policy("access")),
            };
            match settings.policy.decide(&req, Some(&bytes)) {
                Ok(()) => inner.call(req).await.map(|r| r.map(ResponseBody::inner)),
                Err(rejection) => refuse(rejection),
            }
        });
        ResponseFuture::later(future)
    }
}

/// The path parameters axum's router bound, as core's `PathParams`, when no layer (a
/// `Gateway`, a `ParamValidationLayer` with a path template) put them there.
#[cfg(feature = "axum")]
fn router_path_params<B>(req: Request<B>) -> Request<B> {
    use axum::extract::{FromRequestParts, RawPathParams};
    use tollgate_core::PathParams;

    if req.extensions().get::<PathParams>().is_some() {
        return req;
    }
    let (mut parts, body) = req.into_parts();
    let params = {
        // The extractor only reads an extension the router put there: it is ready at once.
        let mut extract = std::pin::pin!(RawPathParams::from_request_parts(&mut parts, &()));
        match extract.as_mut().poll(&mut Context::from_waker(std::task::Waker::noop())) {
            Poll::Ready(Ok(raw)) => Some(raw.iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect::<PathParams>()),
            _ => None,
        }
    };
    if let Some(params) = params {
        parts.extensions.insert(params);
    }
    Request::from_parts(parts, body)
}

#[cfg(not(feature = "axum"))]
fn router_path_params<B>(req: Request<B>) -> Request<B> {
    req
}

/// Response future of [`AccessControl`]: the inner service's future or the refusal when the
/// request was settled in `call` (no form body to read); otherwise a boxed future that reads
/// the body first.
pub type ResponseFuture<F, B, E> = tollgate_core::MaybeBoxedFuture<F, B, E>;
