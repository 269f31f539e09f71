//! [`SignatureLayer`]: verifies incoming requests; [`SigningLayer`]: signs outgoing ones.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use http_body::Body;
use tollgate_core::{
    Caller, Clock, DEFAULT_BODY_LIMIT, ErrorStyle, MAX_WINDOW, PolicyFuture, Rejection, ReplayRefusals, RequestBody,
    ResponseBody, SharedClock, SignedClaims, StoreError, SystemClock, buffer_request,
};
use tower_layer::Layer;
use tower_service::Service;

use crate::scheme::{RequestView, Scheme, Signer, TokenProblem, Verified};
use crate::secret::{KeyRecord, Secret, SecretStore, TokenStatus};

pub use tollgate_core::BoxResponseFuture;

/// The layer's settings. Scheme and store sit behind their own `Arc` so the settings can be
/// copied on write: a builder call on a cloned layer changes that layer only.
struct Shared<Sc, St> {
    scheme: Arc<Sc>,
    store: Arc<St>,
    refusals: Arc<ReplayRefusals>,
    clock: SharedClock,
    style: ErrorStyle,
    body_limit: usize,
}

impl<Sc, St> Clone for Shared<Sc, St> {
    fn clone(&self) -> Self {
        Self {
            scheme: self.scheme.clone(),
            store: self.store.clone(),
            refusals: self.refusals.clone(),
            clock: self.clock.clone(),
            style: self.style.clone(),
            body_limit: self.body_limit,
        }
    }
}

/// Verifies request signatures of one [`Scheme`] against a [`SecretStore`].
///
/// A request that passes reaches the inner service with a [`Caller`] (the key id, and the
/// app id the store knows) and [`SignedClaims`] (nonce, timestamp, and the scheme's refusals
/// for a replay guard) in its extensions. Its body is read only when the scheme needs it,
/// up to a limit (8 MiB by default; 413 beyond), and replayed to the inner service byte for
/// byte; otherwise it streams through untouched. Refusals are rendered in the scheme's own
/// error style unless another is set.
pub struct SignatureLayer<Sc, St> {
    shared: Arc<Shared<Sc, St>>,
}

impl<Sc, St> Clone for SignatureLayer<Sc, St> {
    fn clone(&self) -> Self {
        Self { shared: self.shared.clone() }
    }
}

impl<Sc, St> std::fmt::Debug for SignatureLayer<Sc, St>
where
    Sc: Scheme,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignatureLayer").field("scheme", &Sc::NAME).finish_non_exhaustive()
    }
}

impl<Sc: Scheme, St: SecretStore> SignatureLayer<Sc, St> {
    /// Verifies `scheme` signatures with the secrets in `store`.
    pub fn new(scheme: Sc, store: St) -> Self {
        let style = Sc::ERROR_STYLE;
        let refusals = replay_refusals(&scheme, style.clone());
        Self {
            shared: Arc::new(Shared {
                scheme: Arc::new(scheme),
                store: Arc::new(store),
                refusals,
                clock: Arc::new(SystemClock),
                style,
                body_limit: DEFAULT_BODY_LIMIT,
            }),
        }
    }

    fn shared_mut(&mut self) -> &mut Shared<Sc, St> {
        Arc::make_mut(&mut self.shared)
    }

    /// Reads time from `clock` (a [`ManualClock`](tollgate_core::ManualClock) in tests).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.shared_mut().clock = Arc::new(clock);
        self
    }

    /// Renders refusals in `style` instead of the scheme's own.
    pub fn error_style(mut self, style: ErrorStyle) -> Self {
        let shared = self.shared_mut();
        shared.refusals = replay_refusals(&*shared.scheme, style.clone());
        shared.style = style;
        self
    }

    /// The largest body read for verification (default 8 MiB); larger ones get 413.
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.shared_mut().body_limit = bytes;
        self
    }

    /// The scheme.
    pub fn scheme(&self) -> &Sc {
        &self.shared.scheme
    }
}

impl<S, Sc, St> Layer<S> for SignatureLayer<Sc, St> {
    type Service = SignatureService<S, Sc, St>;

    fn layer(&self, inner: S) -> Self::Service {
        SignatureService { inner, shared: self.shared.clone() }
    }
}

/// The service made by [`SignatureLayer`].
pub struct SignatureService<S, Sc, St> {
    inner: S,
    shared: Arc<Shared<Sc, St>>,
}

impl<S: Clone, Sc, St> Clone for SignatureService<S, Sc, St> {
    fn clone(&self) -> Self {
        Self { inner: self.inner.clone(), shared: self.shared.clone() }
    }
}

impl<S, Sc, St> std::fmt::Debug for SignatureService<S, Sc, St> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignatureService").finish_non_exhaustive()
    }
}

/// Why verification stopped: a refusal, or a body the inner service never sees.
enum Outcome<B> {
    Pass(Request<RequestBody<B>>),
    Refuse(Rejection, Request<()>),
}

impl<Sc: Scheme, St: SecretStore> Shared<Sc, St> {
    async fn check<B>(&self, req: Request<B>) -> Outcome<B>
    where
        B: Body<Data = Bytes>,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let scheme = &self.scheme;
        let (req, body) = if scheme.needs_body(req.method(), req.headers()) {
            let head = ErrorStyle::head_of(&req);
            match buffer_request(req, self.body_limit).await {
                Ok((req, bytes)) => (req, Some(bytes)),
                Err(rejection) => return Outcome::Refuse(rejection.with_policy("signature"), head),
            }
        } else {
            (req.map(RequestBody::streaming), None)
        };
        let view = RequestView { method: req.method(), uri: req.uri(), headers: req.headers(), body: body.as_deref() };
        let verdict = self.verify(&view).await;
        match verdict {
            Ok((caller, claims)) => {
                let mut req = req;
                req.extensions_mut().insert(caller);
                req.extensions_mut().insert(claims);
                tollgate_core::observe::accepted("signature");
                Outcome::Pass(req)
            }
            Err(rejection) => Outcome::Refuse(rejection, ErrorStyle::head_of(&req)),
        }
    }

    async fn verify(&self, view: &RequestView<'_>) -> Result<(Caller, SignedClaims), Rejection> {
        let parsed = self.scheme.parse(view)?;
        let token = self.scheme.security_token(view, &parsed)?;
        let key_id = self.scheme.key_id(&parsed);
        let found = self.store.lookup(key_id).await;
        let now = self.clock.now();
        let (record, verified) = self.authenticate(view, &parsed, found, now)?;
        if let Some(token) = self.token_to_ask(key_id, &record, token.as_deref())? {
            let status = self.store.check_token(key_id, token, now).await;
            self.token_answer(key_id, status)?;
        }
        Ok(self.admit(key_id, &record, verified))
    }

    /// Verifies a request that needs no body in one go, when the secret store answers at
    /// once; `None` when its body must be read or the store awaited (the boxed path, which
    /// starts over). Parsed first: the parse reads the headers that say whether the body is
    /// needed, so they are not looked up again.
    fn verify_at_once(&self, view: &RequestView<'_>) -> Option<Result<(Caller, SignedClaims), Rejection>> {
        let scheme = &self.scheme;
        let needs_body = || scheme.needs_body(view.method, view.headers);
        let parsed = match scheme.parse(view) {
            Ok(parsed) => parsed,
            // refused here only when no body is read first: one too large is a 413 before all
            Err(rejection) => return (!needs_body()).then_some(Err(rejection)),
        };
        if scheme.needs_body_parsed(&parsed).unwrap_or_else(needs_body) {
            return None;
        }
        let token = match scheme.security_token(view, &parsed) {
            Ok(token) => token,
            Err(rejection) => return Some(Err(rejection)),
        };
        let key_id = scheme.key_id(&parsed);
        let found = self.store.lookup_at_once(key_id)?;
        let now = self.clock.now();
        let (record, verified) = match self.authenticate(view, &parsed, found, now) {
            Ok(passed) => passed,
            Err(rejection) => return Some(Err(rejection)),
        };
        match self.token_to_ask(key_id, &record, token.as_deref()) {
            Ok(None) => {}
            Ok(Some(token)) => {
                let status = self.store.check_token_at_once(key_id, token, now)?;
                if let Err(rejection) = self.token_answer(key_id, status) {
                    return Some(Err(rejection));
                }
            }
            Err(rejection) => return Some(Err(rejection)),
        }
        Some(Ok(self.admit(key_id, &record, verified)))
    }

    /// The key's record, once the key is known, enabled, and the request's signature is
    /// one of its secrets'.
    fn authenticate(
        &self,
        view: &RequestView<'_>,
        parsed: &Sc::Parsed<'_>,
        found: Result<Option<Arc<KeyRecord>>, StoreError>,
        now: std::time::SystemTime,
    ) -> Result<(Arc<KeyRecord>, Verified), Rejection> {
        let scheme = &self.scheme;
        let key_id = scheme.key_id(parsed);
        let record = match found {
            Ok(Some(record)) => record,
            Ok(None) => return Err(scheme.unknown_key(key_id)),
            Err(e) => {
                tracing::warn!(scheme = Sc::NAME, error = %e, "secret store unavailable");
                return Err(scheme.unavailable());
            }
        };
        if record.is_disabled() {
            return Err(scheme.disabled_key(key_id));
        }
        if record.secrets().iter().any(|s| s.expose().is_empty()) {
            // anyone can sign with an empty secret: such a key is a mistake, refused as unknown
            tracing::warn!(scheme = Sc::NAME, key_id, "a key with an empty secret is refused");
            return Err(scheme.unknown_key(key_id));
        }
        let verified = scheme.verify(view, parsed, record.secrets(), now)?;
        Ok((record, verified))
    }

    /// The token to ask the store about, if any: a temporary key without one is refused, an
    /// empty one is refused without asking. Checked after the signature, so that only a
    /// holder of the key's secret learns that the key is temporary or what its token is worth.
    fn token_to_ask<'t>(
        &self,
        key_id: &str,
        record: &KeyRecord,
        token: Option<&'t str>,
    ) -> Result<Option<&'t str>, Rejection> {
        match token {
            None if record.is_temporary() => Err(self.scheme.token_refused(key_id, TokenProblem::Missing)),
            None => Ok(None),
            Some("") => Err(self.scheme.token_refused(key_id, TokenProblem::Malformed)),
            Some(token) => Ok(Some(token)),
        }
    }

    /// Passes a token the store says is valid for the key; refuses any other.
    fn token_answer(&self, key_id: &str, status: Result<TokenStatus, StoreError>) -> Result<(), Rejection> {
        let problem = match status {
            Ok(TokenStatus::Valid) => return Ok(()),
            Ok(TokenStatus::Expired) => TokenProblem::Expired,
            Ok(TokenStatus::OtherKey) => TokenProblem::MismatchWithKey,
            Ok(TokenStatus::Unknown) => TokenProblem::Malformed,
            Err(e) => {
                tracing::warn!(scheme = Sc::NAME, error = %e, "secret store unavailable for a security token");
                return Err(self.scheme.unavailable());
            }
        };
        Err(self.scheme.token_refused(key_id, problem))
    }

    /// What a verified request carries on: its caller and signed claims.
    fn admit(&self, key_id: &str, record: &KeyRecord, verified: Verified) -> (Caller, SignedClaims) {
        let scheme = &self.scheme;
        let key_id = record.shared_key_id(key_id);
        let mut caller = Caller::new(key_id.clone());
        if let Some(app) = record.app_id() {
            caller = caller.with_app_id(app.clone());
        }
        let window = scheme.window().min(MAX_WINDOW);
        let mut claims = SignedClaims::new(Sc::NAME, key_id, window, self.refusals.clone());
        if let Some(nonce) = verified.nonce {
            claims = claims.with_nonce(nonce);
        }
        if let Some(ts) = verified.timestamp {
            claims = claims.with_timestamp(ts);
        }
        (caller, claims)
    }
}

/// A scheme's replay refusals, rendered in `style`.
fn replay_refusals<Sc: Scheme + ?Sized>(scheme: &Sc, style: ErrorStyle) -> Arc<ReplayRefusals> {
    let mut refusals =
        ReplayRefusals::new(unauthenticated(scheme.replayed()), unauthenticated(scheme.expired()), style);
    if let Some(missing) = scheme.missing_nonce() {
        refusals = refusals.with_missing_nonce(missing);
    }
    Arc::new(refusals)
}

impl<S, Sc, St, B, ResBody> Service<Request<B>> for SignatureService<S, Sc, St>
where
    S: Service<Request<RequestBody<B>>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    Sc: Scheme,
    St: SecretStore,
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
        let shared = &*self.shared;
        let view = RequestView { method: req.method(), uri: req.uri(), headers: req.headers(), body: None };
        // a bodiless request and a store that answers at once: settled here, unboxed
        if let Some(verdict) = shared.verify_at_once(&view) {
            let future = match verdict {
                Ok((caller, claims)) => {
                    let mut req = req.map(RequestBody::streaming);
                    req.extensions_mut().insert(caller);
                    req.extensions_mut().insert(claims);
                    tollgate_core::observe::accepted("signature");
                    PolicyFuture::inner(self.inner.call(req))
                }
                Err(rejection) => PolicyFuture::refused(shared.style.respond(&unauthenticated(rejection), &req)),
            };
            return ResponseFuture::now(future);
        }
        // The ready inner service goes into the future; a fresh clone waits for the next call.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let shared = self.shared.clone();
        let future = Box::pin(async move {
            match shared.check(req).await {
                Outcome::Pass(req) => inner.call(req).await.map(|r| r.map(ResponseBody::inner)),
                Outcome::Refuse(rejection, head) => {
                    Ok(ResponseBody::rejection(shared.style.respond(&unauthenticated(rejection), &head)))
                }
            }
        });
        ResponseFuture::later(future)
    }
}

/// Response future of [`SignatureService`]: the inner service's future or the refusal, when
/// the request was settled in `call` (no body to read, a secret store that answers at once);
/// otherwise a boxed future that reads the body and awaits the store first.
pub type ResponseFuture<F, B, E> = tollgate_core::MaybeBoxedFuture<F, B, E>;

/// Signs outgoing requests with one [`Signer`], as a gateway signs what it sends to its
/// back ends. Wrap an HTTP client service with it.
pub struct SigningLayer<Sg> {
    shared: Arc<SignerShared<Sg>>,
}

struct SignerShared<Sg> {
    signer: Arc<Sg>,
    key_id: String,
    secret: Secret,
    token: Option<String>,
    clock: SharedClock,
    body_limit: usize,
}

impl<Sg> Clone for SignerShared<Sg> {
    fn clone(&self) -> Self {
        Self {
            signer: self.signer.clone(),
            key_id: self.key_id.clone(),
            secret: self.secret.clone(),
            token: self.token.clone(),
            clock: self.clock.clone(),
            body_limit: self.body_limit,
        }
    }
}

impl<Sg> Clone for SigningLayer<Sg> {
    fn clone(&self) -> Self {
        Self { shared: self.shared.clone() }
    }
}

impl<Sg> std::fmt::Debug for SigningLayer<Sg> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningLayer").field("key_id", &self.shared.key_id).finish_non_exhaustive()
    }
}

impl<Sg: Signer> SigningLayer<Sg> {
    /// Signs with `signer` as `key_id` / `secret`.
    pub fn new(signer: Sg, key_id: impl Into<String>, secret: impl Into<Secret>) -> Self {
        Self {
            shared: Arc::new(SignerShared {
                signer: Arc::new(signer),
                key_id: key_id.into(),
                secret: secret.into(),
                token: None,
                clock: Arc::new(SystemClock),
                body_limit: DEFAULT_BODY_LIMIT,
            }),
        }
    }

    /// Reads time from `clock`.
    pub fn clock(mut self, clock: impl Clock) -> Self {
        Arc::make_mut(&mut self.shared).clock = Arc::new(clock);
        self
    }

    /// Signs with temporary credentials: sends `token` as the scheme's security token
    /// ([`Signer::sign_with_token`]; a scheme without tokens fails every request).
    pub fn security_token(mut self, token: impl Into<String>) -> Self {
        Arc::make_mut(&mut self.shared).token = Some(token.into());
        self
    }
}

impl<S, Sg> Layer<S> for SigningLayer<Sg> {
    type Service = SigningService<S, Sg>;

    fn layer(&self, inner: S) -> Self::Service {
        SigningService { inner, shared: self.shared.clone() }
    }
}

/// The service made by [`SigningLayer`].
pub struct SigningService<S, Sg> {
    inner: S,
    shared: Arc<SignerShared<Sg>>,
}

impl<S: Clone, Sg> Clone for SigningService<S, Sg> {
    fn clone(&self) -> Self {
        Self { inner: self.inner.clone(), shared: self.shared.clone() }
    }
}

impl<S, Sg> std::fmt::Debug for SigningService<S, Sg> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningService").finish_non_exhaustive()
    }
}

/// Why an outgoing request was not sent.
#[derive(Debug, thiserror::Error)]
pub enum SigningError<E> {
    /// It could not be signed.
    #[error(transparent)]
    Sign(crate::scheme::SignError),
    /// The inner client failed.
    #[error("{0}")]
    Inner(E),
}

impl<S, Sg, B> Service<Request<B>> for SigningService<S, Sg>
where
    S: Service<Request<RequestBody<B>>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    Sg: Signer,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Response = S::Response;
    type Error = SigningError<S::Error>;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(SigningError::Inner)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let shared = self.shared.clone();
        Box::pin(async move {
            let s = &*shared;
            let (mut parts, body, mut bytes) = if s.signer.needs_body(req.method(), req.headers()) {
                let (req, bytes) = buffer_request(req, s.body_limit)
                    .await
                    .map_err(|r| SigningError::Sign(crate::scheme::SignError::Body(r.message().to_owned())))?;
                let (parts, _) = req.into_parts();
                (parts, None, bytes)
            } else {
                let (parts, body) = req.into_parts();
                (parts, Some(body), Bytes::new())
            };
            s.signer
                .sign_with_token(&mut parts, &mut bytes, &s.key_id, &s.secret, s.token.as_deref(), s.clock.now())
                .map_err(SigningError::Sign)?;
            let body = match body {
                Some(body) => RequestBody::streaming(body),
                None => RequestBody::buffered(bytes),
            };
            inner.call(Request::from_parts(parts, body)).await.map_err(SigningError::Inner)
        })
    }
}

/// For gRPC clients a failed signature check is `UNAUTHENTICATED`, whatever HTTP status its
/// scheme uses (the Tencent key pair's 403, Aliyun's 400), unless the refusal says otherwise
/// or is not about the signature (a body too large, a store that cannot answer).
fn unauthenticated(rejection: Rejection) -> Rejection {
    let about_signature =
        rejection.policy() == "signature" && rejection.status() != http::StatusCode::SERVICE_UNAVAILABLE;
    if about_signature && rejection.wording(tollgate_core::Ecosystem::Grpc).is_none() {
        rejection.with_grpc_code(tollgate_core::GrpcCode::Unauthenticated)
    } else {
        rejection
    }
}
