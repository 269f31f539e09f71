//! App grants (Aliyun's API authorization, `SetApisAuthority`): which apps, or which token
//! subjects, may call an API, in which stage, until when.
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use http::{Request, Response, StatusCode};
//! use tollgate_access::grants::{Grant, GrantsLayer, Stage};
//! use tollgate_core::Caller;
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let year_2000 = SystemTime::UNIX_EPOCH + Duration::from_secs(946_684_800);
//! let layer = GrantsLayer::new([
//!     Grant::app("203753741"),                      // every stage, for good
//!     Grant::app("203999001").in_stage(Stage::Test), // TEST only
//!     Grant::app("203000000").until(year_2000),      // long expired
//!     Grant::subject("alice"),                      // a JWT whose `sub` is alice
//! ])?;
//! let service = ServiceBuilder::new()
//!     .layer(layer)
//!     .service(service_fn(|_req| async { Ok::<_, std::convert::Infallible>(Response::new(String::from("hello"))) }));
//!
//! // a signature or token verifier, stacked before, puts the `Caller` there
//! let call = |caller: Caller, stage: Option<&str>| {
//!     let mut req = Request::get("/orders");
//!     if let Some(stage) = stage {
//!         req = req.header("x-ca-stage", stage);
//!     }
//!     let mut req = req.body(String::new()).unwrap();
//!     req.extensions_mut().insert(caller);
//!     service.clone().oneshot(req)
//! };
//! assert_eq!(call(Caller::new("203753741"), None).await?.status(), StatusCode::OK);
//! assert_eq!(call(Caller::new("203999001"), Some("TEST")).await?.status(), StatusCode::OK);
//! let other_stage = call(Caller::new("203999001"), None).await?; // RELEASE
//! assert_eq!(other_stage.status(), StatusCode::FORBIDDEN);
//! assert_eq!(other_stage.headers()["x-ca-error-message"], "Unauthorized");
//! let expired = call(Caller::new("203000000"), None).await?;
//! assert_eq!(expired.headers()["x-ca-error-message"], "Expiry of Authorization");
//! assert_eq!(call(Caller::from_token("alice"), None).await?.status(), StatusCode::OK);
//! // a signed app whose key reads "alice" is not the token's subject alice
//! assert_eq!(call(Caller::new("alice"), None).await?.status(), StatusCode::FORBIDDEN);
//! # Ok(())
//! # }
//! ```
//!
//! # What it decides
//!
//! - The caller is the [`Caller`] a verifier stacked before this layer put in the request's
//!   extensions. A request without one is refused with `Unauthorized` (a misordered stack
//!   refuses everything rather than grant anything).
//! - An app grant ([`Grant::app`]) names an app key or an app id ([`Caller::is`]) and is met
//!   only by a caller a signature verifier authenticated; a subject grant
//!   ([`Grant::subject`]) is met only by a caller a token verifier authenticated
//!   ([`Caller::from_token`]). So a user who could pick a token subject that reads like an app
//!   key does not take the app's grants, nor the other way round.
//! - The stage is the request's `X-Ca-Stage` header, `RELEASE` when absent, as Aliyun reads
//!   it. Only `RELEASE`, `PRE` and `TEST` exactly are stages: another value, or the header
//!   given twice, is refused with 400 `InvalidStage` (our code and wording: what Aliyun
//!   answers is not documented), because a backend that routes by the header may read
//!   `test` as a stage this layer did not judge. A grant without a stage covers every stage.
//! - A grant holds until its `expires` instant (the layer's [`Clock`], the system clock by
//!   default). When a grant for the caller and stage exists but every such grant has
//!   expired, the refusal is `Expiry of Authorization`; when none exists, `Unauthorized`.
//!   Both are 403, with those texts in `X-Ca-Error-Message` (Aliyun's own); in the Tencent
//!   styles they are `UnauthorizedOperation` and a 403 `{"message": ...}` (our wording:
//!   Tencent's gateway binds apps to APIs without a documented refusal text).
//!
//! # Where it goes
//!
//! After authentication (a signature or a token) and the replay guard, before parameter
//! access control: position 7 of the canonical stack. A `Gateway` reads an API's `grants`
//! list there.
//!
//! [`Caller`]: tollgate_core::Caller
//! [`Caller::is`]: tollgate_core::Caller::is
//! [`Caller::from_token`]: tollgate_core::Caller::from_token
//! [`Clock`]: tollgate_core::Clock

mod config;

use std::collections::HashMap;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::SystemTime;

use http::{HeaderMap, Request, Response, StatusCode};
use tollgate_core::{Caller, ConfigError, ErrorStyle, PolicyFuture, Rejection, ResponseBody, SharedClock, SystemClock};
use tower_layer::Layer;
use tower_service::Service;

pub use config::{Grant, Grantee, Stage};

/// The code and `X-Ca-Error-Message` of a caller without a grant for the API and stage.
pub const CODE_UNAUTHORIZED: &str = "Unauthorized";
/// The code and `X-Ca-Error-Message` of a caller whose every grant for the stage has expired.
pub const CODE_EXPIRED: &str = "Expiry of Authorization";
/// The code of a request whose `X-Ca-Stage` is not one stage.
pub const CODE_INVALID_STAGE: &str = "InvalidStage";

/// One grant as the layer looks it up: under the grantee's name.
#[derive(Debug, Clone, Copy)]
struct Entry {
    stage: Option<Stage>,
    expires: Option<SystemTime>,
}

#[derive(Debug)]
struct Settings {
    apps: HashMap<Box<str>, Vec<Entry>>,
    subjects: HashMap<Box<str>, Vec<Entry>>,
    clock: SharedClock,
    style: ErrorStyle,
}

/// App grants as a tower layer: see the [module documentation](self).
#[derive(Debug, Clone)]
pub struct GrantsLayer {
    settings: Arc<Settings>,
}

impl GrantsLayer {
    /// A layer allowing the grants given, and no one else. An empty list, or a grant with an
    /// empty app or subject, is an error naming it (`grants[2].app`): an API nobody may call
    /// is better said by not routing it.
    pub fn new(grants: impl IntoIterator<Item = Grant>) -> Result<Self, ConfigError> {
        let mut apps: HashMap<Box<str>, Vec<Entry>> = HashMap::new();
        let mut subjects: HashMap<Box<str>, Vec<Entry>> = HashMap::new();
        let mut count = 0;
        for (i, grant) in grants.into_iter().enumerate() {
            grant.check().map_err(|e| e.within(format_args!("grants[{i}]")))?;
            let entry = Entry { stage: grant.stage, expires: grant.expires };
            match grant.grantee {
                Grantee::App(id) => apps.entry(id.into()).or_default().push(entry),
                Grantee::Subject(id) => subjects.entry(id.into()).or_default().push(entry),
            }
            count += 1;
        }
        if count == 0 {
            return Err(ConfigError::new("grants", "no grant: the list would refuse every caller"));
        }
        let clock: SharedClock = Arc::new(SystemClock);
        Ok(Self { settings: Arc::new(Settings { apps, subjects, clock, style: ErrorStyle::AliyunApiGateway }) })
    }

    /// Renders refusals in this style (default: the Aliyun API Gateway style).
    pub fn error_style(mut self, style: ErrorStyle) -> Self {
        self.settings_mut().style = style;
        self
    }

    /// Reads expiries against this clock (default: the system clock).
    pub fn clock(mut self, clock: SharedClock) -> Self {
        self.settings_mut().clock = clock;
        self
    }

    /// Decides a request without a service: `Ok` if a grant lets it through, else the
    /// refusal the layer would render.
    pub fn check<B>(&self, request: &Request<B>) -> Result<(), Rejection> {
        self.settings.decide(request.headers(), Caller::from_extensions(request.extensions()))
    }

    fn settings_mut(&mut self) -> &mut Settings {
        Arc::get_mut(&mut self.settings).expect("a GrantsLayer is configured before it is cloned")
    }
}

impl Settings {
    fn decide(&self, headers: &HeaderMap, caller: Option<&Caller>) -> Result<(), Rejection> {
        let stage = stage_of(headers)?;
        let Some(caller) = caller else {
            tracing::debug!(policy = "grants", "no caller in the request: stack a verifier before the grants");
            return Err(unauthorized());
        };
        // a subject grant names a token's subject; an app grant the key or the app owning it
        let (first, second) = if caller.is_token() {
            (self.subjects.get(caller.key_id()), None)
        } else {
            let by_app = (caller.app_id() != caller.key_id()).then(|| self.apps.get(caller.app_id())).flatten();
            (self.apps.get(caller.key_id()), by_app)
        };
        let entries = first.into_iter().chain(second).flatten();
        let now = self.clock.now();
        let mut expired = false;
        for entry in entries.filter(|e| e.stage.is_none_or(|s| s == stage)) {
            match entry.expires {
                Some(end) if now >= end => expired = true,
                _ => return Ok(()),
            }
        }
        Err(if expired { expired_grant() } else { unauthorized() })
    }
}

/// The request's stage: its one `X-Ca-Stage` header, `RELEASE` without one.
fn stage_of(headers: &HeaderMap) -> Result<Stage, Rejection> {
    let mut values = headers.get_all("x-ca-stage").iter();
    let Some(value) = values.next() else { return Ok(Stage::Release) };
    let stage = value.to_str().ok().and_then(Stage::from_name);
    match (stage, values.next()) {
        (Some(stage), None) => Ok(stage),
        (_, Some(_)) => Err(invalid_stage("X-Ca-Stage is given more than once")),
        (None, None) => Err(invalid_stage("X-Ca-Stage must be RELEASE, PRE or TEST")),
    }
}

fn invalid_stage(message: &'static str) -> Rejection {
    Rejection::new(StatusCode::BAD_REQUEST, CODE_INVALID_STAGE, message)
        .with_policy("grants")
        .with_aliyun_api_gateway(StatusCode::BAD_REQUEST, "Invalid Stage")
        .with_tencent_cloud("InvalidParameterValue", message)
        .with_tencent_api_gateway(StatusCode::BAD_REQUEST, message)
}

fn unauthorized() -> Rejection {
    refusal(CODE_UNAUTHORIZED, "the caller is not authorized to call this API in this stage")
}

fn expired_grant() -> Rejection {
    refusal(CODE_EXPIRED, "the caller's authorization to call this API in this stage has expired")
}

fn refusal(code: &'static str, detail: &'static str) -> Rejection {
    Rejection::new(StatusCode::FORBIDDEN, code, code)
        .with_policy("grants")
        .with_aliyun_api_gateway(StatusCode::FORBIDDEN, code)
        .with_tencent_cloud("UnauthorizedOperation", detail)
        .with_tencent_api_gateway(StatusCode::FORBIDDEN, detail)
}

impl<S> Layer<S> for GrantsLayer {
    type Service = Grants<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Grants { inner, settings: self.settings.clone() }
    }
}

/// The service made by [`GrantsLayer`].
#[derive(Debug, Clone)]
pub struct Grants<S> {
    inner: S,
    settings: Arc<Settings>,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Grants<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = PolicyFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        match self.settings.decide(req.headers(), Caller::from_extensions(req.extensions())) {
            Ok(()) => PolicyFuture::inner(self.inner.call(req)),
            Err(rejection) => PolicyFuture::refused(self.settings.style.respond(&rejection, &req)),
        }
    }
}
