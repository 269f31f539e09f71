//! [`CorsLayer`], its service and response future.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use http::header::{ACCESS_CONTROL_REQUEST_METHOD, ORIGIN};
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use pin_project_lite::pin_project;
use tollgate_core::{RequestId, ResponseBody};
use tower_layer::Layer;
use tower_service::Service;

use crate::config::{ConfigError, CorsConfig, CorsPlugin, Dialect, Field};
use crate::origin::AllowedOrigins;
use crate::policy::{CorsMode, Expose, Grants, Headers, Methods, Policy, Rules, max_age};

/// CORS as a tower layer: the Tencent Cloud API Gateway CORS plugin (and Aliyun's CORS
/// plug-in) and the "support CORS" switch, by the WHATWG Fetch standard.
///
/// # Rules ([`CorsLayer::new`], [`CorsLayer::from_plugin`])
///
/// - A **preflight** — `OPTIONS` with `Origin` and `Access-Control-Request-Method` — is
///   answered here with `204 No Content` and never reaches the handler (it carries no
///   credentials, so it must be answered before authentication: stack this layer outside
///   IP access control and signature verification). When the origin, the method or any
///   requested header is not allowed, the answer carries no grants, and the browser stops.
///   Every preflight answer has `Vary: Origin, Access-Control-Request-Method,
///   Access-Control-Request-Headers`.
/// - Any other request goes to the handler — a plain `OPTIONS` too. Its response gets
///   `Access-Control-Allow-Origin` (and `-Allow-Credentials`, `-Expose-Headers`) when the
///   origin is allowed; from any other origin it gets none, and CORS headers the handler set
///   itself are removed: the layer is the one authority on CORS for what it wraps.
/// - `Vary: Origin` is added whenever the answer depends on the origin, which is always,
///   except for `*` without credentials (answered with a literal `*`).
/// - With credentials on, browsers refuse `*`: then `*` origins are answered with the
///   request's origin, `*` methods and headers with what the preflight asked for, and `*`
///   exposed headers with the names of the response's own headers. Without credentials,
///   `*` methods and headers are echoed too (a literal `*` would not cover `Authorization`).
/// - Methods are compared case-sensitively, as browsers send them; origins as described in
///   [`AllowedOrigins`]. Methods only gate preflights: a simple request is judged by its
///   origin alone.
///
/// Builder methods that take values you could mistype return `Result` with a
/// [`ConfigError`] naming the field; nothing panics. Until set, a rule allows no origin, the
/// methods GET, HEAD and POST, no request headers, exposes nothing, refuses credentials and
/// sends no `Access-Control-Max-Age`.
///
/// # The switch ([`CorsLayer::switch`])
///
/// Adds `Access-Control-Allow-Origin: *` to every response and does nothing else. Calling
/// any rule method on a switch layer turns it into a rule, as binding a plugin to an API
/// overrides its switch.
///
/// ```
/// use std::time::Duration;
/// use http::{Method, Request, Response, StatusCode};
/// use tollgate_cors::CorsLayer;
/// use tower::{ServiceBuilder, ServiceExt, service_fn};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let cors = CorsLayer::new()
///     .allow_origin(["https://app.example.com", "https://*.example.org"])?
///     .allow_methods([Method::GET, Method::PUT])?
///     .allow_headers(["X-Api-ID"])?
///     .allow_credentials(true)
///     .max_age(Duration::from_secs(600))?;
/// let service = ServiceBuilder::new().layer(cors).service(service_fn(|_req: Request<String>| async {
///     Ok::<_, std::convert::Infallible>(Response::new(String::from("hello")))
/// }));
///
/// let preflight = Request::options("/items/1")
///     .header("origin", "https://app.example.com")
///     .header("access-control-request-method", "PUT")
///     .header("access-control-request-headers", "x-api-id")
///     .body(String::new())?;
/// let answer = service.clone().oneshot(preflight).await?;
/// assert_eq!(answer.status(), StatusCode::NO_CONTENT);
/// assert_eq!(answer.headers()["access-control-allow-origin"], "https://app.example.com");
/// assert_eq!(answer.headers()["access-control-allow-methods"], "GET, PUT");
/// assert_eq!(answer.headers()["access-control-max-age"], "600");
///
/// let get = Request::get("/items/1").header("origin", "https://evil.example.com").body(String::new())?;
/// let response = service.oneshot(get).await?;
/// assert_eq!(response.status(), StatusCode::OK);
/// assert!(!response.headers().contains_key("access-control-allow-origin"));
/// assert_eq!(response.headers()["vary"], "Origin");
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct CorsLayer {
    policy: Arc<Policy>,
}

impl Default for CorsLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl CorsLayer {
    /// A rule that allows no origin yet: add them with [`allow_origin`](Self::allow_origin).
    pub fn new() -> Self {
        Self::with_mode(CorsMode::Rules)
    }

    /// The "support CORS" switch: `Access-Control-Allow-Origin: *` on every response.
    pub fn switch() -> Self {
        Self::with_mode(CorsMode::Switch)
    }

    /// A layer that does nothing (what a [`CorsConfig`] with neither switch nor plugin gives).
    pub fn off() -> Self {
        Self::with_mode(CorsMode::Off)
    }

    fn with_mode(mode: CorsMode) -> Self {
        Self { policy: Arc::new(Policy::new(mode, Rules::default())) }
    }

    /// A layer from a CORS plugin's configuration, Tencent's or Aliyun's (see [`CorsPlugin`]).
    /// Every value is checked; the error names the field in the plugin's own spelling.
    ///
    /// ```
    /// use tollgate_cors::{CorsLayer, CorsPlugin};
    ///
    /// let plugin: CorsPlugin = serde_json::from_str(r#"{
    ///     "allow_origin": ["https://app.example.com", "http://localhost:8080"],
    ///     "allow_methods": ["GET", "PUT", "POST", "DELETE", "HEAD"],
    ///     "allow_headers": ["X-Api-ID"], "expose_headers": ["X-Api-ID"],
    ///     "allow_credentials": true, "max_age": 600
    /// }"#).unwrap();
    /// let layer = CorsLayer::from_plugin(&plugin).unwrap();
    /// assert!(layer.allows_origin("http://localhost:8080"));
    ///
    /// let bad: CorsPlugin = serde_json::from_str(
    ///     r#"{"allow_origin": ["https://ok.example.com", "https://app.example.com/index.html"],
    ///         "allow_methods": ["GET"], "max_age": 600}"#,
    /// ).unwrap();
    /// let err = CorsLayer::from_plugin(&bad).unwrap_err();
    /// assert_eq!(err.field, "allow_origin[1]");
    /// ```
    pub fn from_plugin(plugin: &CorsPlugin) -> Result<Self, ConfigError> {
        let dialect = plugin.dialect;
        let origins = parse_origins(&plugin.allow_origin, dialect)?;
        if origins.is_empty() {
            return Err(ConfigError::new(Field::AllowOrigin.name(dialect), "needs at least one origin (or *)"));
        }
        let rules = Rules {
            origins,
            credentials: plugin.allow_credentials,
            methods: Methods::parse(&plugin.allow_methods, Field::AllowMethods, dialect)?,
            headers: Headers::parse(&plugin.allow_headers, Field::AllowHeaders, dialect)?,
            expose: Expose::parse(&plugin.expose_headers, Field::ExposeHeaders, dialect)?,
            max_age: plugin.max_age.map(|s| max_age(s, Field::MaxAge, dialect)).transpose()?,
        };
        Ok(Self { policy: Arc::new(Policy::new(CorsMode::Rules, rules)) })
    }

    /// A layer from an API's CORS settings: the plugin's rules when there is one (the switch
    /// then has no effect), else the switch, else a layer that does nothing.
    pub fn from_config(config: &CorsConfig) -> Result<Self, ConfigError> {
        match (&config.plugin, config.switch) {
            (Some(plugin), _) => Self::from_plugin(plugin),
            (None, true) => Ok(Self::switch()),
            (None, false) => Ok(Self::off()),
        }
    }

    /// Changes the rule (a switch or an off layer becomes a default rule first) and renders
    /// its preflight headers again.
    fn edit(mut self, change: impl FnOnce(&mut Rules)) -> Self {
        let policy = Arc::make_mut(&mut self.policy);
        let mut rules = match policy.mode {
            CorsMode::Rules => std::mem::take(&mut policy.rules),
            CorsMode::Switch | CorsMode::Off => Rules::default(),
        };
        change(&mut rules);
        *policy = Policy::new(CorsMode::Rules, rules);
        self
    }

    /// Sets the allowed origins: `*`, `null`, `scheme://host[:port]`,
    /// `scheme://*.host[:port]`, or an anchored regex `^...$` (see [`AllowedOrigins`]).
    pub fn allow_origin(self, origins: impl IntoIterator<Item = impl AsRef<str>>) -> Result<Self, ConfigError> {
        let origins = parse_origins(origins, Dialect::Tencent)?;
        Ok(self.edit(|rules| rules.origins = origins))
    }

    /// Sets the allowed methods (`&str` or [`Method`]): GET, PUT, POST, DELETE, HEAD, PATCH,
    /// OPTIONS, or `*` for any.
    pub fn allow_methods(self, methods: impl IntoIterator<Item = impl AsRef<str>>) -> Result<Self, ConfigError> {
        let methods = Methods::parse(methods, Field::AllowMethods, Dialect::Tencent)?;
        Ok(self.edit(|rules| rules.methods = methods))
    }

    /// Sets the request headers a preflight may ask for (`&str` or
    /// [`HeaderName`](http::HeaderName)), or `*` for any.
    pub fn allow_headers(self, headers: impl IntoIterator<Item = impl AsRef<str>>) -> Result<Self, ConfigError> {
        let headers = Headers::parse(headers, Field::AllowHeaders, Dialect::Tencent)?;
        Ok(self.edit(|rules| rules.headers = headers))
    }

    /// Sets the response headers a page's script may read, or `*` for all.
    pub fn expose_headers(self, headers: impl IntoIterator<Item = impl AsRef<str>>) -> Result<Self, ConfigError> {
        let expose = Expose::parse(headers, Field::ExposeHeaders, Dialect::Tencent)?;
        Ok(self.edit(|rules| rules.expose = expose))
    }

    /// Whether requests with credentials (cookies, HTTP authentication) get an answer.
    pub fn allow_credentials(self, allow: bool) -> Self {
        self.edit(|rules| rules.credentials = allow)
    }

    /// How long a browser may cache a preflight's answer (whole seconds; at least one, at
    /// most 2^31, RFC 9111's largest delta-seconds).
    pub fn max_age(self, age: Duration) -> Result<Self, ConfigError> {
        let age = max_age(age.as_secs(), Field::MaxAge, Dialect::Tencent)?;
        Ok(self.edit(|rules| rules.max_age = Some(age)))
    }

    /// What this layer does.
    pub fn mode(&self) -> CorsMode {
        self.policy.mode
    }

    /// Whether a request with this `Origin` value would get grants (the switch grants `*` to
    /// everyone; an off layer, no one).
    pub fn allows_origin(&self, origin: &str) -> bool {
        match self.policy.mode {
            CorsMode::Off => false,
            CorsMode::Switch => true,
            CorsMode::Rules => self.policy.rules.origins.allows(origin),
        }
    }
}

fn parse_origins(
    entries: impl IntoIterator<Item = impl AsRef<str>>,
    dialect: Dialect,
) -> Result<AllowedOrigins, ConfigError> {
    let parsed = match dialect {
        Dialect::Tencent => AllowedOrigins::parse(entries),
        Dialect::Aliyun => AllowedOrigins::parse_aliyun(entries),
    };
    parsed.map_err(|e| ConfigError::new(format!("{}[{}]", Field::AllowOrigin.name(dialect), e.index), e.problem))
}

impl<S> Layer<S> for CorsLayer {
    type Service = Cors<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Cors { inner, policy: self.policy.clone() }
    }
}

/// The service made by [`CorsLayer`].
#[derive(Debug, Clone)]
pub struct Cors<S> {
    inner: S,
    policy: Arc<Policy>,
}

impl<S> Cors<S> {
    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Cors<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let grants = match self.policy.mode {
            CorsMode::Off => Grants::UNTOUCHED,
            CorsMode::Switch => Grants::SWITCH,
            CorsMode::Rules => {
                let headers = req.headers();
                let preflight = if req.method() == Method::OPTIONS {
                    headers.get(ORIGIN).zip(headers.get(ACCESS_CONTROL_REQUEST_METHOD))
                } else {
                    None
                };
                if let Some((origin, method)) = preflight {
                    let (answer, refusal) = self.policy.preflight(origin, method, headers);
                    if let Some(refusal) = refusal {
                        tracing::debug!(
                            policy = "cors",
                            code = refusal.reason(),
                            ?origin,
                            ?method,
                            request_id = RequestId::from_extensions(req.extensions()).map(RequestId::as_str),
                            "cors: preflight answered without grants"
                        );
                    }
                    let mut response = Response::new(Full::new(Bytes::new()));
                    *response.status_mut() = StatusCode::NO_CONTENT;
                    *response.headers_mut() = answer;
                    return ResponseFuture { kind: Kind::Preflight { response: Some(response) } };
                }
                self.policy.rules.actual(headers)
            }
        };
        ResponseFuture { kind: Kind::Inner { future: self.inner.call(req), grants: Some(grants) } }
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F> {
        Inner { #[pin] future: F, grants: Option<Grants> },
        Preflight { response: Option<Response<Full<Bytes>>> },
    }
}

pin_project! {
    /// Response future of [`Cors`]: the handler's response with the CORS grants added, or
    /// the answer to a preflight. No allocation beyond the preflight's headers.
    pub struct ResponseFuture<F> {
        #[pin]
        kind: Kind<F>,
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<ResponseBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Inner { future, grants } => {
                let mut response = ready!(future.poll(cx))?;
                if let Some(grants) = grants.take() {
                    grants.apply(response.headers_mut());
                }
                Poll::Ready(Ok(response.map(ResponseBody::inner)))
            }
            KindProj::Preflight { response } => {
                let response = response.take().expect("cors ResponseFuture polled after completion");
                Poll::Ready(Ok(response.map(ResponseBody::full)))
            }
        }
    }
}

impl<F> std::fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("cors::ResponseFuture")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plugin(json: &str) -> CorsPlugin {
        serde_json::from_str(json).unwrap()
    }

    fn build_err(json: &str) -> ConfigError {
        CorsLayer::from_plugin(&plugin(json)).unwrap_err()
    }

    #[test]
    fn build_errors_name_the_field() {
        let base = |field: &str, value: &str| {
            let mut v: serde_json::Value =
                serde_json::from_str(r#"{"allow_origin":["https://a.com"],"allow_methods":["GET"],"max_age":600}"#)
                    .unwrap();
            v[field] = serde_json::from_str(value).unwrap();
            v.to_string()
        };
        let e = build_err(&base("allow_origin", r#"["https://a.com", "https://b.com/app"]"#));
        assert_eq!(e.field, "allow_origin[1]");
        assert!(e.problem.contains("path"), "{e}");
        let e = build_err(&base("allow_origin", "[]"));
        assert_eq!(e.to_string(), "allow_origin: needs at least one origin (or *)");
        let e = build_err(&base("allow_origin", r#"["https://example.com.*"]"#));
        assert_eq!(e.field, "allow_origin[0]");
        let e = build_err(&base("allow_methods", r#"["GET", "TRACE"]"#));
        assert_eq!(e.field, "allow_methods[1]");
        let e = build_err(&base("allow_headers", r#"["X-Ok", "X Bad"]"#));
        assert_eq!(e.field, "allow_headers[1]");
        let e = build_err(&base("expose_headers", r#"["X-Ok:"]"#));
        assert_eq!(e.field, "expose_headers[0]");
        let e = build_err(&base("allow_origin", r#"["^https://a\\.com"]"#));
        assert!(e.problem.contains("anchored"), "{e}");
        // a hand-written plugin is checked too
        let e = CorsLayer::from_plugin(&CorsPlugin {
            allow_origin: vec!["*".into()],
            allow_methods: vec!["GET".into()],
            max_age: Some(0),
            ..CorsPlugin::default()
        })
        .unwrap_err();
        assert_eq!(e.field, "max_age");
        // Aliyun's spelling in Aliyun's errors
        let e = build_err(r#"{"allowOrigins":"api.foo.com,https://x.com/","allowMethods":"GET"}"#);
        assert_eq!(e.field, "allowOrigins[1]");
        let e = build_err(r#"{"allowMethods":"GET,FOO"}"#);
        assert_eq!(e.field, "allowMethods[1]");
    }

    #[test]
    fn builder_errors_and_no_panics() {
        let e = CorsLayer::new().allow_origin(["localhost:8080"]).unwrap_err();
        assert_eq!(e.field, "allow_origin[0]");
        assert!(e.problem.contains("no scheme"), "{e}");
        let e = CorsLayer::new().max_age(Duration::from_millis(500)).unwrap_err();
        assert_eq!(e.field, "max_age");
        let e = CorsLayer::new().allow_methods(Vec::<&str>::new()).unwrap_err();
        assert_eq!(e.field, "allow_methods");
        // tower-http panics on these; they are valid rules here (wildcards are echoed)
        let layer = CorsLayer::new()
            .allow_origin(["*"])
            .and_then(|l| l.allow_methods(["*"]))
            .and_then(|l| l.allow_headers(["*"]))
            .and_then(|l| l.expose_headers(["*"]))
            .map(|l| l.allow_credentials(true));
        assert!(layer.is_ok());
        // typed methods and header names work as well as strings
        assert!(CorsLayer::new().allow_methods([Method::PATCH]).is_ok());
        assert!(CorsLayer::new().allow_headers([http::header::AUTHORIZATION]).is_ok());
    }

    #[test]
    fn modes() {
        assert_eq!(CorsLayer::new().mode(), CorsMode::Rules);
        assert_eq!(CorsLayer::default().mode(), CorsMode::Rules);
        assert_eq!(CorsLayer::off().mode(), CorsMode::Off);
        let switch = CorsLayer::switch();
        assert_eq!(switch.mode(), CorsMode::Switch);
        assert!(switch.allows_origin("https://anyone.test") && !CorsLayer::off().allows_origin("https://a.test"));
        // a rule set on a switch replaces it, as a plugin overrides the API's switch
        let rule = switch.clone().allow_origin(["https://a.test"]).unwrap();
        assert_eq!(rule.mode(), CorsMode::Rules);
        assert!(rule.allows_origin("https://a.test") && !rule.allows_origin("https://b.test"));
        // configuring a clone leaves the original alone
        assert_eq!(switch.mode(), CorsMode::Switch);
        let cfg = |json: &str| CorsLayer::from_config(&serde_json::from_str(json).unwrap()).unwrap().mode();
        assert_eq!(cfg("{}"), CorsMode::Off);
        assert_eq!(cfg(r#"{"switch": true}"#), CorsMode::Switch);
        assert_eq!(
            cfg(r#"{"switch": true, "plugin": {"allow_origin": "*", "allow_methods": "GET", "max_age": 5}}"#),
            CorsMode::Rules
        );
        assert_eq!(cfg(r#"{"switch": false, "plugin": {"allowMethods": "GET"}}"#), CorsMode::Rules);
    }
}
