//! [`Gateway`], [`Api`] and the layer and service they become.

use std::convert::Infallible;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use bytes::Bytes;
use http::header::ALLOW;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use tollgate_core::{ClientIpLayer, ErrorStyle, Rejection, RequestIdLayer, TrustedProxies};
use tower::{Layer, Service};

use super::config::{Carry, ConfigError};
use super::reload::{Hub, Live, ReloadHandle};
use super::routes::{self, Found, PathPattern, Route};
use super::stack::{BoxError, GatewayFuture, Next, Policies, PolicyLayer, Slot};

/// The policy methods shared by [`Gateway`] and [`Api`]: one per place in the canonical stack.
macro_rules! policy_methods {
    () => {
        /// CORS, second in the canonical stack (after the request id): a preflight is
        /// answered here, before any policy that wants credentials. Replaces an earlier one.
        pub fn cors(mut self, layer: impl PolicyLayer) -> Self {
            self.policies.set(Slot::Cors, Arc::new(layer));
            self
        }

        /// IP access control, after CORS. Replaces an earlier one (this one or
        /// [`app_ip_access`](Self::app_ip_access)). A list with app-bound entries goes to
        /// [`app_ip_access`](Self::app_ip_access) instead: here, before authentication, no
        /// app is known and those entries would never apply.
        pub fn ip_access(mut self, layer: impl PolicyLayer) -> Self {
            self.policies.clear(Slot::AppIpAccess);
            self.policies.set(Slot::IpAccess, Arc::new(layer));
            self
        }

        /// IP access control whose entries are bound to apps (Aliyun's `appId` items): it
        /// reads the `Caller`, so it runs inside the signature and replay guard. Replaces an
        /// earlier one (this one or [`ip_access`](Self::ip_access)). A configuration file's
        /// `ip_access` block with app-bound items is placed here by itself.
        pub fn app_ip_access(mut self, layer: impl PolicyLayer) -> Self {
            self.policies.clear(Slot::IpAccess);
            self.policies.set(Slot::AppIpAccess, Arc::new(layer));
            self
        }

        /// Flow control by API and by client IP, after IP access control and before the
        /// signature (cheap refusals before any cryptography). Adds to earlier ones.
        pub fn flow(mut self, layer: impl PolicyLayer) -> Self {
            self.policies.add(Slot::Flow, Arc::new(layer));
            self
        }

        /// Signature verification, after flow control by API and IP; it puts the `Caller`
        /// in the request's extensions. Replaces an earlier one.
        pub fn signature(mut self, layer: impl PolicyLayer) -> Self {
            self.policies.set(Slot::Signature, Arc::new(layer));
            self
        }

        /// Token authentication (a `TokenLayer`, Aliyun's `jwtAuth`), position 5 beside the
        /// signature. An API with both requires both, as Aliyun's JWT plug-in on an API with
        /// app authentication does: the token is checked inside the signature, and the
        /// signature's `Caller` (the app) stays the caller while the token's claims are read
        /// as `Token:NAME`. Replaces an earlier one.
        pub fn token(mut self, layer: impl PolicyLayer) -> Self {
            self.policies.set(Slot::Token, Arc::new(layer));
            self
        }

        /// The replay guard, inside the signature layer: only authenticated requests can
        /// burn a nonce. Replaces an earlier one.
        pub fn replay(mut self, layer: impl PolicyLayer) -> Self {
            self.policies.set(Slot::Replay, Arc::new(layer));
            self
        }

        /// App grants (a `GrantsLayer`), after the replay guard and before parameter access
        /// control: they read the `Caller` a verifier put there. Replaces an earlier one.
        pub fn grants(mut self, layer: impl PolicyLayer) -> Self {
            self.policies.set(Slot::Grants, Arc::new(layer));
            self
        }

        /// Aliyun parameter access control, after the replay guard and before flow control
        /// by app: its rules may read the `Caller` and a verified token's claims. Replaces
        /// an earlier one.
        pub fn access_control(mut self, layer: impl PolicyLayer) -> Self {
            self.policies.set(Slot::AccessControl, Arc::new(layer));
            self
        }

        /// Flow control by app (it reads the `Caller`), innermost. Adds to earlier ones.
        pub fn app_flow(mut self, layer: impl PolicyLayer) -> Self {
            self.policies.add(Slot::AppFlow, Arc::new(layer));
            self
        }

        /// Parameter flow control: the same place as [`app_flow`](Self::app_flow), since
        /// its conditions may read the `Caller`. Adds to earlier ones.
        pub fn param_flow(mut self, layer: impl PolicyLayer) -> Self {
            self.policies.add(Slot::AppFlow, Arc::new(layer));
            self
        }

        /// Parameter validation (a `ParamValidationLayer`): slot 8, inside flow control by app.
        pub fn param_validation(mut self, layer: impl PolicyLayer) -> Self {
            self.policies.set(Slot::ParamValidation, Arc::new(layer));
            self
        }

        /// Parameter injection and mapping (a `ParamInjectionLayer`): slot 9, next to the
        /// handler, so what it writes is what the handler sees.
        pub fn param_injection(mut self, layer: impl PolicyLayer) -> Self {
            self.policies.set(Slot::ParamInjection, Arc::new(layer));
            self
        }

        /// Error-code mapping (an `ErrorMappingLayer`), the one response-phase policy:
        /// innermost, next to the handler, so it maps the handler's responses and never
        /// tollgate's own refusals. Replaces an earlier one.
        pub fn error_mapping(mut self, layer: impl PolicyLayer) -> Self {
            self.policies.set(Slot::ErrorMapping, Arc::new(layer));
            self
        }

        /// Aliyun's backend signature (a `BackendSigningLayer`): innermost, after parameter
        /// injection, so it signs what the handler receives, constant and system parameters
        /// included. Replaces an earlier one.
        pub fn backend_signature(mut self, layer: impl PolicyLayer) -> Self {
            self.policies.set(Slot::BackendSignature, Arc::new(layer));
            self
        }
    };
}

/// The whole canonical stack as one builder: a request id, the client address, then for
/// each API (or for every request, when you declare no API) CORS, IP access control, flow
/// control by API and IP, signature verification, the replay guard and flow control by app
/// or parameter, in that order whatever the order of the calls. Every policy is optional.
///
/// [`into_layer`](Self::into_layer) makes it one [`GatewayLayer`]. The policies set on the
/// gateway itself apply to requests that no [`Api`] matched (which is every request when
/// there are none); [`unmatched`](Self::unmatched) refuses those instead.
///
/// ```
/// use axum::{Router, routing::get};
/// use tollgate::Gateway;
/// use tollgate::cors::CorsLayer;
/// use tollgate::flow::{BasicFlowControlLayer, BasicLimits};
/// use tollgate::ip::IpAccessLayer;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let gateway = Gateway::new()
///     .cors(CorsLayer::switch())
///     .ip_access(IpAccessLayer::deny(["192.0.2.0/24"])?)
///     .flow(BasicFlowControlLayer::new(BasicLimits::new(100, std::time::Duration::from_secs(1), None)?));
/// let app: Router = Router::new().route("/", get(|| async { "hello" })).layer(gateway.into_layer());
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Gateway {
    pub(crate) request_id: Option<RequestIdLayer>,
    pub(crate) client_ip: ClientIpLayer,
    pub(crate) style: ErrorStyle,
    pub(crate) apis: Vec<Api>,
    pub(crate) policies: Policies,
    pub(crate) unmatched: Unmatched,
    pub(crate) encoded_slashes: bool,
    /// The stores a configuration file's blocks use, for a reload to carry over.
    pub(crate) carry: Arc<Carry>,
    /// The file it was read from, which [`ReloadHandle::reload`] reads again.
    pub(crate) source: Option<PathBuf>,
}

impl fmt::Debug for Gateway {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Gateway")
            .field("request_id", &self.request_id.is_some())
            .field("apis", &self.apis)
            .field("policies", &self.policies)
            .field("unmatched", &self.unmatched)
            .finish_non_exhaustive()
    }
}

impl Default for Gateway {
    fn default() -> Self {
        Self::new()
    }
}

/// What becomes of a request that no [`Api`] matched.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Unmatched {
    /// It goes on to the inner service, through the policies set on the [`Gateway`] itself
    /// (none unless you set some). The default of [`Gateway::new`].
    #[default]
    Pass,
    /// It is refused in the gateway's error style: 404 `NotFound`, or 405
    /// `MethodNotAllowed` with `Allow` when an API has the path but not the method. The
    /// default of a configuration file.
    ///
    /// In [`ErrorStyle::AliyunApiGateway`] the refusal is Aliyun's own: 400 with
    /// `X-Ca-Error-Message: Invalid Url`, or 400 `Invalid HttpMethod` when only the method
    /// differs — the messages of Aliyun's classic error table, which its SDKs and clients
    /// know; `Invalid Url` is 400 there. The status of `Invalid HttpMethod` could not be
    /// read in the docs (UNCERTAIN): 400 like its neighbour. Aliyun's newer VPC instances
    /// answer 404 `I404NF` ("API not found") and 405 `I405UM` ("Unsupported Method")
    /// instead, with an `X-Ca-Error-Code`; we follow the classic table.
    NotFound,
}

impl Gateway {
    /// A gateway with a request id (`X-Request-Id`), the client address from the connection
    /// (no proxy trusted), no policy, and no API.
    pub fn new() -> Self {
        Self {
            request_id: Some(RequestIdLayer::new()),
            client_ip: ClientIpLayer::new(),
            style: ErrorStyle::default(),
            apis: Vec::new(),
            policies: Policies::default(),
            unmatched: Unmatched::Pass,
            encoded_slashes: false,
            carry: Arc::default(),
            source: None,
        }
    }

    /// Uses this request id layer (first in the canonical stack).
    pub fn request_id(mut self, layer: RequestIdLayer) -> Self {
        self.request_id = Some(layer);
        self
    }

    /// Leaves request ids to someone else.
    pub fn without_request_id(mut self) -> Self {
        self.request_id = None;
        self
    }

    /// Resolves the client address with this layer (right after the request id).
    pub fn client_ip(mut self, layer: ClientIpLayer) -> Self {
        self.client_ip = layer;
        self
    }

    /// Believes the forwarding headers of these proxies.
    pub fn trusted_proxies(mut self, proxies: TrustedProxies) -> Self {
        self.client_ip = self.client_ip.trusted_proxies(proxies);
        self
    }

    /// Renders the gateway's own refusals (no API matched) in this style; problem+json by
    /// default. Each policy layer keeps its own style.
    pub fn error_style(mut self, style: ErrorStyle) -> Self {
        self.style = style;
        self
    }

    /// Declares an API: requests it matches go through its policies only.
    pub fn api(mut self, api: Api) -> Self {
        self.apis.push(api);
        self
    }

    /// What becomes of requests no API matched (default [`Unmatched::Pass`]).
    pub fn unmatched(mut self, unmatched: Unmatched) -> Self {
        self.unmatched = unmatched;
        self
    }

    /// Lets paths holding an escaped slash or backslash (`%2F`, `%5C`) through, matched as
    /// sent (`/admin%2Fusers` is not under `/admin/`). Off by default: such a path is
    /// refused with 400 `InvalidPath`, as Envoy's `REJECT_REQUEST` does, since backends
    /// disagree on whether it separates segments. Turn it on only when every backend reads
    /// it as data.
    pub fn allow_encoded_slashes(mut self, allow: bool) -> Self {
        self.encoded_slashes = allow;
        self
    }

    policy_methods!();

    /// The gateway as one tower layer. Its configuration can be replaced while it serves
    /// through [`GatewayLayer::reload_handle`].
    pub fn into_layer(self) -> GatewayLayer {
        GatewayLayer { hub: Arc::new(Hub::new(self.compile())) }
    }

    /// The configuration as a layer applies it: routes and each API's policies.
    pub(crate) fn compile(self) -> Compiled {
        let routes = self.apis.iter().map(|api| api.route.clone()).collect();
        let stacks = self.apis.into_iter().map(|api| api.policies).collect();
        let fallback = match self.unmatched {
            Unmatched::Pass => Some(self.policies),
            Unmatched::NotFound => None,
        };
        Compiled {
            request_id: self.request_id,
            client_ip: self.client_ip,
            style: self.style,
            routes,
            stacks,
            fallback,
            encoded_slashes: self.encoded_slashes,
            carry: self.carry,
            source: self.source,
        }
    }
}

/// One API: the requests it binds (methods and a path pattern) and its policies.
///
/// The path is written as in an nginx `location`, and the first rule that applies wins:
///
/// 1. exact: `= /health`;
/// 2. preferred prefix: `^~ /static/` (the longest wins);
/// 3. template `/users/{id}` or, in Aliyun's spelling, `/users/[id]` (one whole segment
///    per `{name}` or `[name]`, bound as
///    [`PathParams`](tollgate_core::PathParams) in the request's extensions, where parameter
///    flow control reads them) or regex `~ ^/v1/orders/[0-9]+$` (`~*` ignores case), in
///    declaration order;
/// 4. plain prefix: `/api/` (the longest wins).
///
/// An API with no method takes every method; `HEAD` goes where `GET` does, and a CORS
/// preflight where the method it asks about does.
///
/// Paths are matched byte for byte, case-sensitively (write `~*` for a backend that ignores
/// case), and only once they are in normal form: a path with an empty or dot segment
/// (`//`, `/./`, `/../`), an escaped unreserved character (`%61`), an escaped slash or
/// backslash (see [`Gateway::allow_encoded_slashes`]), a backslash, a `;`, a NUL or a bad
/// escape is refused with 400 `InvalidPath` before any API is chosen — never routed
/// elsewhere, never rewritten (the signature and the handler read the path as sent).
///
/// ```
/// use tollgate::gateway::Api;
/// use tollgate::ip::IpAccessLayer;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let api = Api::new("/users/{id}")?.method(http::Method::GET).ip_access(IpAccessLayer::allow(["10.0.0.0/8"])?);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Api {
    pub(crate) name: String,
    pub(crate) route: Route,
    pub(crate) policies: Policies,
}

impl fmt::Debug for Api {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Api")
            .field("name", &self.name)
            .field("methods", &self.route.methods)
            .field("path", &self.route.pattern)
            .field("policies", &self.policies)
            .finish()
    }
}

impl Api {
    /// An API bound by a path pattern, for every method; the error says what was expected.
    pub fn new(path: &str) -> Result<Self, ConfigError> {
        let pattern = PathPattern::parse(path).map_err(|problem| ConfigError::new("path", problem))?;
        Ok(Self {
            name: path.trim().to_owned(),
            route: Route { methods: Vec::new(), pattern },
            policies: Policies::default(),
        })
    }

    /// Binds this method too (an API with none takes every method).
    pub fn method(mut self, method: Method) -> Self {
        if !self.route.methods.contains(&method) {
            self.route.methods.push(method);
        }
        self
    }

    /// Names the API (for logs; a configuration file names each flow-control store key with it).
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The API's name (its path pattern unless named).
    pub fn name(&self) -> &str {
        &self.name
    }

    policy_methods!();
}

/// One configuration, ready to be put in front of a service: what a reload swaps.
pub(crate) struct Compiled {
    request_id: Option<RequestIdLayer>,
    client_ip: ClientIpLayer,
    style: ErrorStyle,
    routes: Vec<Route>,
    stacks: Vec<Policies>,
    fallback: Option<Policies>,
    encoded_slashes: bool,
    pub(crate) carry: Arc<Carry>,
    pub(crate) source: Option<PathBuf>,
}

impl Compiled {
    /// How many APIs it declares.
    pub(crate) fn apis(&self) -> usize {
        self.routes.len()
    }

    /// The whole stack in front of `inner`: request id, client address, then each API's
    /// policies. Built once per service and configuration, never per request.
    pub(crate) fn stack(self: &Arc<Self>, inner: Next) -> Next {
        let stacks: Arc<[Next]> = self.stacks.iter().map(|p| p.apply(inner.clone())).collect();
        let fallback = self.fallback.as_ref().map(|p| p.apply(inner));
        let dispatch = Dispatch { shared: self.clone(), stacks, fallback };
        let with_ip = self.client_ip.clone().layer(dispatch);
        match &self.request_id {
            Some(layer) => Next::new(layer.layer(with_ip)),
            None => Next::new(with_ip),
        }
    }
}

/// The gateway as one tower layer: use it with axum's `Router::layer` or wrap any service
/// that takes `Request<axum::body::Body>`, answers `Response<B>` (any body of [`Bytes`]) and
/// never fails (`Error = Infallible`, as axum's routes).
///
/// Cheap to clone; the stores of its policies are shared by every service it makes, so a
/// limit holds across all the routes axum applies it to.
///
/// Cost: the policy crates are zero-cost on their own (no boxing on their hot paths). The
/// gateway trades that for one type whatever is configured: each policy's service is
/// type-erased, so a request costs one boxed future per policy it crosses (its service is
/// cloned, which is an `Arc` or two, and called at once), and bodies are unified to
/// [`axum::body::Body`] (free when the body is one, or a policy's wrapping of one). The
/// stacks are put together once, when the layer is applied (and again on each reload), not
/// per request; a request reads which configuration is in force with one atomic load.
#[derive(Clone)]
pub struct GatewayLayer {
    hub: Arc<Hub>,
}

impl fmt::Debug for GatewayLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GatewayLayer").field("apis", &self.hub.current().apis()).finish_non_exhaustive()
    }
}

impl GatewayLayer {
    /// A handle that replaces the configuration of this layer, and of every service it has
    /// made or will make, while they serve: see [`ReloadHandle`].
    pub fn reload_handle(&self) -> ReloadHandle {
        ReloadHandle::new(self.hub.clone())
    }
}

impl<S, RB> Layer<S> for GatewayLayer
where
    S: Service<Request<Body>, Response = Response<RB>, Error = Infallible> + Clone + Send + Sync + 'static,
    S::Future: Send + 'static,
    RB: http_body::Body<Data = Bytes> + Send + 'static,
    RB::Error: Into<BoxError>,
{
    type Service = GatewayService;

    fn layer(&self, inner: S) -> GatewayService {
        GatewayService(self.hub.attach(Next::new(inner)))
    }
}

/// The service a [`GatewayLayer`] makes: takes a request with any body of [`Bytes`],
/// answers with an [`axum::body::Body`], never fails. Cheap to clone.
///
/// Each request runs on the configuration in force when it arrived, to its end, whatever
/// reloads happen meanwhile.
#[derive(Clone)]
pub struct GatewayService(Arc<Live>);

impl fmt::Debug for GatewayService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("GatewayService")
    }
}

impl<B> Service<Request<B>> for GatewayService
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = GatewayFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // the stack is a `Next`: always ready (see `Next`)
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> GatewayFuture {
        // The future owns clones of the policies it runs through: a reload while it waits
        // leaves it on the configuration it started with.
        self.0.stack().call_shared(req)
    }
}

/// Sends each request through its API's stack.
#[derive(Clone)]
struct Dispatch {
    shared: Arc<Compiled>,
    stacks: Arc<[Next]>,
    fallback: Option<Next>,
}

impl Service<Request<Body>> for Dispatch {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = GatewayFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // Each API's stack is a `Next`: always ready, each call readies its own clone.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut req: Request<Body>) -> GatewayFuture {
        if let Err(why) = routes::check_path(req.uri().path(), self.shared.encoded_slashes) {
            let rejection = Rejection::new(
                StatusCode::BAD_REQUEST,
                "InvalidPath",
                format!("the path is not in normal form: it holds {why}"),
            );
            let response = self.shared.style.respond(&rejection.with_policy("gateway"), &req).map(Body::new);
            return Box::pin(std::future::ready(Ok(response)));
        }
        let method = routes::binding_method(req.method(), req.headers());
        let found = routes::find(&self.shared.routes, &method, req.uri().path());
        let allowed = match found {
            Found::Api(i, params) => {
                if let Some(params) = params {
                    req.extensions_mut().insert(params);
                }
                return self.stacks[i].call_shared(req);
            }
            Found::WrongMethod(methods) => methods,
            Found::Nothing => Vec::new(),
        };
        if let Some(fallback) = &self.fallback {
            return fallback.call_shared(req);
        }
        let rejection = if allowed.is_empty() {
            Rejection::new(
                StatusCode::NOT_FOUND,
                "NotFound",
                format!("no API matches {} {}", req.method(), req.uri().path()),
            )
            .with_aliyun_api_gateway(StatusCode::BAD_REQUEST, "Invalid Url")
        } else {
            let list = allowed.iter().map(Method::as_str).collect::<Vec<_>>().join(", ");
            let mut r = Rejection::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "MethodNotAllowed",
                format!("{} {} is bound to {list} only", req.method(), req.uri().path()),
            )
            .with_aliyun_api_gateway(StatusCode::BAD_REQUEST, "Invalid HttpMethod");
            if let Ok(value) = HeaderValue::from_str(&list) {
                r = r.with_header(ALLOW, value);
            }
            r
        };
        let response = self.shared.style.respond(&rejection.with_policy("gateway"), &req).map(Body::new);
        Box::pin(std::future::ready(Ok(response)))
    }
}
