//! [`TokenLayer`], its service and its response future.

use std::borrow::Cow;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use http_body::Body;
use serde_json::Value;
use tollgate_core::{
    Caller, Claims, DEFAULT_BODY_LIMIT, ErrorStyle, MemoryNonceStore, NonceStore, PolicyFuture, Rejection, RequestBody,
    ResponseBody, buffer_request,
};
use tower_layer::Layer;
use tower_service::Service;

use crate::aliyun_jwt::AliyunJwt;
use crate::config::{ClaimParameter, JwtAuthConfig};
use crate::forward::{self, Forwarding};
use crate::keys::{KeySet, KeySource};
use crate::profile::Profile;
use crate::replay::{self, JtiStore};
use crate::verify::{TokenError, Verified, Verifier};
use tollgate_core::ConfigError;

#[derive(Clone)]
struct Settings {
    profile: Arc<dyn Profile>,
    keys: KeySource,
    verifier: Verifier,
    style: ErrorStyle,
    caller_claim: Arc<str>,
    forwarding: Forwarding,
    replay: Option<Arc<dyn JtiStore>>,
    body_limit: usize,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("profile", &self.profile)
            .field("keys", &self.keys)
            .field("verifier", &self.verifier)
            .field("caller_claim", &self.caller_claim)
            .field("forwarding", &self.forwarding)
            .field("replay", &self.replay.is_some())
            .finish_non_exhaustive()
    }
}

/// Token authentication as a tower layer: reads a token where its [`Profile`] says,
/// verifies it with keys from its [`KeySource`] and its [`Verifier`], and puts the claims
/// ([`Claims`]) and the caller ([`Caller`], from `sub` unless
/// [`caller_claim`](Self::caller_claim) says otherwise) in the request's extensions; a
/// `Caller` a signature layer outside this one put there stays. A refused request never
/// reaches the inner service.
///
/// Built from Aliyun's `jwtAuth` plug-in ([`from_plugin`](Self::from_plugin),
/// [`from_config`](Self::from_config)) or from parts ([`new`](Self::new)). See the
/// [crate documentation](crate).
#[derive(Debug, Clone)]
pub struct TokenLayer {
    settings: Arc<Settings>,
}

impl TokenLayer {
    /// A layer of `profile`, with keys from `keys` and the checks of `verifier`; refusals in
    /// the profile's style.
    pub fn new(profile: impl Profile, keys: KeySource, verifier: Verifier) -> Self {
        let style = profile.error_style();
        Self {
            settings: Arc::new(Settings {
                profile: Arc::new(profile),
                keys,
                verifier,
                style,
                caller_claim: Arc::from("sub"),
                forwarding: Forwarding::default(),
                replay: None,
                body_limit: DEFAULT_BODY_LIMIT,
            }),
        }
    }

    /// Aliyun's `jwtAuth` plug-in from its text, YAML or JSON, as pasted from the console.
    pub fn from_plugin(text: &str) -> Result<Self, ConfigError> {
        Self::from_config(&JwtAuthConfig::from_plugin(text)?)
    }

    /// Aliyun's `jwtAuth` plug-in from a configuration read or built beforehand. Errors name
    /// the field (`jwk.n`, `claimParameters[1].parameterName`). `preventJtiReplay` uses an
    /// in-memory store; give a shared one with [`jti_store`](Self::jti_store).
    pub fn from_config(config: &JwtAuthConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Self::jwt_auth(config, config.key_source()?))
    }

    /// Aliyun's `jwtAuth` plug-in with keys from `keys` (a JWKS URL, say) instead of its
    /// `jwk` / `jwks` fields, which may then be absent (and are ignored when present).
    pub fn from_config_with_keys(config: &JwtAuthConfig, keys: KeySource) -> Result<Self, ConfigError> {
        config.validate_without_keys()?;
        Ok(Self::jwt_auth(config, keys))
    }

    fn jwt_auth(config: &JwtAuthConfig, keys: KeySource) -> Self {
        let location = config.location().expect("validated");
        let mut verifier = Verifier::new().leeway(config.leeway());
        if config.ignore_expiration_check {
            verifier = verifier.ignore_exp();
        }
        let layer = Self::new(AliyunJwt::new(location, config.bypass_empty_token), keys, verifier)
            .caller_claim(&config.caller_claim)
            .forward_claims(&config.claim_parameters);
        if config.prevent_jti_replay { layer.jti_store(MemoryNonceStore::new()) } else { layer }
    }

    /// Renders refusals in this style (default: the profile's).
    pub fn error_style(mut self, style: ErrorStyle) -> Self {
        self.settings_mut().style = style;
        self
    }

    /// The claim whose value names the [`Caller`] (default `sub`). A token without it puts
    /// no caller in the request.
    pub fn caller_claim(mut self, claim: &str) -> Self {
        self.settings_mut().caller_claim = Arc::from(claim);
        self
    }

    /// Claims forwarded to the backend (Aliyun's `claimParameters`), every client-sent copy
    /// removed first. Check them with [`JwtAuthConfig::validate`] when they come from
    /// outside.
    pub fn forward_claims(mut self, params: &[ClaimParameter]) -> Self {
        self.settings_mut().forwarding = Forwarding::new(params);
        self
    }

    /// Refuses a `jti` seen before within its token's life (`preventJtiReplay`), remembered
    /// in `store`: the in-memory [`MemoryNonceStore`], or a Redis store so a fleet shares
    /// it. A token without `jti` is refused.
    pub fn jti_store(mut self, store: impl NonceStore) -> Self {
        self.settings_mut().replay = Some(Arc::new(store));
        self
    }

    /// The most bytes of a url-encoded form read to forward claims into it or remove copies
    /// (default [`DEFAULT_BODY_LIMIT`]); a larger body is refused with 413.
    pub fn body_limit(mut self, limit: usize) -> Self {
        self.settings_mut().body_limit = limit;
        self
    }

    /// Whether `jti`s are remembered (a store was given, as `preventJtiReplay` does).
    pub fn replays_jti(&self) -> bool {
        self.settings.replay.is_some()
    }

    /// The keys of a fixed key source (for tests and tools); `None` for a remote one.
    pub fn static_keys(&self) -> Option<&KeySet> {
        match &self.settings.keys {
            KeySource::Static(keys) => Some(keys),
            #[allow(unreachable_patterns)]
            _ => None,
        }
    }

    fn settings_mut(&mut self) -> &mut Settings {
        Arc::make_mut(&mut self.settings)
    }
}

impl<S> Layer<S> for TokenLayer {
    type Service = Token<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Token { inner, settings: self.settings.clone() }
    }
}

/// The service made by [`TokenLayer`].
#[derive(Debug, Clone)]
pub struct Token<S> {
    inner: S,
    settings: Arc<Settings>,
}

/// How far a check got without waiting.
enum Step {
    /// Decided: a verified token, no token (let through), or a refusal.
    Done(Result<Option<Verified>, TokenError>),
    /// The keys must be fetched.
    NeedKeys,
    /// Verified; the `jti` store must be awaited.
    NeedStore(Verified),
}

impl Settings {
    fn token<'r, B>(&self, req: &'r Request<B>) -> Result<Option<Cow<'r, str>>, TokenError> {
        self.profile.token(req.headers(), req.uri())
    }

    /// Everything that needs no waiting.
    fn step<B>(&self, req: &Request<B>) -> Step {
        let token = match self.token(req) {
            Ok(Some(token)) => token,
            Ok(None) if self.profile.bypass_empty() => return Step::Done(Ok(None)),
            Ok(None) => return Step::Done(Err(TokenError::Missing)),
            Err(e) => return Step::Done(Err(e)),
        };
        let head = match self.verifier.head(&token) {
            Ok(head) => head,
            Err(e) => return Step::Done(Err(e)),
        };
        match self.keys.keys_at_once(head.kid.as_deref()) {
            None => Step::NeedKeys,
            Some(Err(e)) => Step::Done(Err(e)),
            Some(Ok(keys)) => self.with_keys(&token, &keys),
        }
    }

    fn with_keys(&self, token: &str, keys: &KeySet) -> Step {
        let verified = match self.verifier.verify(token, keys).and_then(|v| self.profile.check(&v).map(|()| v)) {
            Ok(v) => v,
            Err(e) => return Step::Done(Err(e)),
        };
        let Some(store) = &self.replay else { return Step::Done(Ok(Some(verified))) };
        let (tenant, jti, ttl) =
            match replay::question(&verified, self.verifier.checks_exp(), self.verifier.leeway_secs()) {
                Ok(q) => q,
                Err(e) => return Step::Done(Err(e)),
            };
        match store.insert_at_once(&tenant, &jti, ttl) {
            Some(answer) => Step::Done(replay::answer(answer, jti).map(|()| Some(verified))),
            None => Step::NeedStore(verified),
        }
    }

    /// The rest of a check that had to wait.
    async fn finish(&self, token: Option<String>, step: Step) -> Result<Option<Verified>, TokenError> {
        let verified = match step {
            Step::Done(decided) => return decided,
            Step::NeedStore(verified) => verified,
            Step::NeedKeys => {
                let token = token.ok_or(TokenError::Missing)?;
                let head = self.verifier.head(&token)?;
                let keys = self.keys.keys(head.kid.as_deref()).await?;
                match self.with_keys(&token, &keys) {
                    Step::Done(decided) => return decided,
                    Step::NeedStore(verified) => verified,
                    Step::NeedKeys => {
                        return Err(TokenError::KeysUnavailable { code: "KeysUnavailable", reason: "no keys".into() });
                    }
                }
            }
        };
        let Some(store) = &self.replay else { return Ok(Some(verified)) };
        let (tenant, jti, ttl) = replay::question(&verified, self.verifier.checks_exp(), self.verifier.leeway_secs())?;
        let answer = store.insert(&tenant, &jti, ttl).await;
        replay::answer(answer, jti).map(|()| Some(verified))
    }

    /// Puts the claims and the caller in the request and forwards the claims (headers, query,
    /// path); the form body is the caller's to rewrite.
    fn admit<B>(&self, req: &mut Request<B>, verified: Option<Verified>) -> Result<Option<Claims>, TokenError> {
        let claims = verified.map(|v| Claims::new(Value::Object(v.claims)));
        self.forwarding.apply(req, claims.as_ref())?;
        if let Some(claims) = &claims {
            // a signature verified first names the app: it stays the caller
            if req.extensions().get::<Caller>().is_none()
                && let Some(caller) = caller_of(claims, &self.caller_claim)
            {
                req.extensions_mut().insert(caller);
            }
            req.extensions_mut().insert(claims.clone());
        }
        Ok(claims)
    }

    fn refuse(&self, error: &TokenError) -> Rejection {
        tracing::debug!(policy = self.profile.name(), error = error.kind(), "token refused");
        self.profile.rejection(error).with_policy(self.profile.name())
    }
}

/// The caller a token names: its `claim` as text, marked as a token's
/// ([`Caller::from_token`]) so an app grant or rule is never met by a subject written like an
/// app key.
fn caller_of(claims: &Claims, claim: &str) -> Option<Caller> {
    claims.text(claim).filter(|c| !c.is_empty()).map(|c| Caller::from_token(c.into_owned()))
}

impl<S, B, ResBody> Service<Request<B>> for Token<S>
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

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        let settings = &*self.settings;
        let step = settings.step(&req);
        let needs_body = settings.forwarding.needs_body(req.headers());
        if let Step::Done(decided) = step {
            if let Err(e) = &decided {
                return ResponseFuture::now(PolicyFuture::refused(settings.style.respond(&settings.refuse(e), &req)));
            }
            if !needs_body {
                let future = match decided.and_then(|v| settings.admit(&mut req, v)) {
                    Ok(_) => PolicyFuture::inner(self.inner.call(req.map(RequestBody::streaming))),
                    Err(e) => PolicyFuture::refused(settings.style.respond(&settings.refuse(&e), &req)),
                };
                return ResponseFuture::now(future);
            }
            return self.later(req, Step::Done(decided));
        }
        self.later(req, step)
    }
}

impl<S> Token<S> {
    /// The boxed path: keys to fetch, a store to await, or a form body to rewrite.
    fn later<B, ResBody>(&mut self, mut req: Request<B>, step: Step) -> ResponseFuture<S::Future, ResBody, S::Error>
    where
        S: Service<Request<RequestBody<B>>, Response = Response<ResBody>> + Clone + Send + 'static,
        S::Future: Send + 'static,
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
        ResBody: 'static,
    {
        // The ready inner service goes into the future; a fresh clone waits for the next call.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let settings = self.settings.clone();
        let token = match &step {
            Step::NeedKeys => settings.token(&req).ok().flatten().map(Cow::into_owned),
            _ => None,
        };
        ResponseFuture::later(Box::pin(async move {
            let head = ErrorStyle::head_of(&req);
            let refuse =
                |e: &TokenError| Ok(ResponseBody::rejection(settings.style.respond(&settings.refuse(e), &head)));
            let verified = match settings.finish(token, step).await {
                Ok(v) => v,
                Err(e) => return refuse(&e),
            };
            let claims = match settings.admit(&mut req, verified) {
                Ok(c) => c,
                Err(e) => return refuse(&e),
            };
            let req = if settings.forwarding.needs_body(req.headers()) {
                let (mut req, bytes) = match buffer_request(req, settings.body_limit).await {
                    Ok(read) => read,
                    Err(rejection) => {
                        let rejection = rejection.with_policy(settings.profile.name());
                        return Ok(ResponseBody::rejection(settings.style.respond(&rejection, &head)));
                    }
                };
                if let Some(new) = settings.forwarding.rewrite_form(&bytes, claims.as_ref()) {
                    forward::set_length(req.headers_mut(), new.len());
                    *req.body_mut() = RequestBody::buffered(new);
                }
                req
            } else {
                req.map(RequestBody::streaming)
            };
            inner.call(req).await.map(|r| r.map(ResponseBody::inner))
        }))
    }
}

/// Response future of [`Token`]: the inner service's future or the refusal when the request
/// was settled in `call`; otherwise a boxed future that waits for keys, the `jti` store or a
/// form body first.
pub type ResponseFuture<F, B, E> = tollgate_core::MaybeBoxedFuture<F, B, E>;
