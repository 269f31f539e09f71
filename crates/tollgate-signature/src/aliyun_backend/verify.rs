//! [`BackendSignatureLayer`]: a backend behind Aliyun's gateway verifies the gateway's
//! signature before its handlers.

use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode};
use http_body::Body;
use tollgate_core::{
    ConfigError, DEFAULT_BODY_LIMIT, ErrorStyle, PolicyFuture, Rejection, RequestBody, ResponseBody, buffer_request,
};
use tower_layer::Layer;
use tower_service::Service;

use super::BackendSignatureKey;
use super::config::BackendKeysConfig;
use super::string_to_sign::{
    SECRET_KEY, SIGNATURE, Unsignable, signs_body, single, string_to_sign, string_to_sign_bare,
};
use crate::HmacAlg;
use crate::mac::SignatureBytes;
use crate::scheme::RequestView;
use crate::secret::{KeyForm, Secret};

/// The verifier's settings.
#[derive(Clone)]
struct Verifier {
    keys: Vec<(HeaderValue, Secret)>,
    style: ErrorStyle,
    body_limit: usize,
    unsigned_bodies: bool,
}

/// Verifies the signature Aliyun's API Gateway adds for its backend (`X-Ca-Proxy-Signature`),
/// in front of the backend's handlers.
///
/// The secret is looked up by `X-Ca-Proxy-Signature-Secret-Key` among the keys given (several
/// at once, so a key can be replaced while the gateway still signs with the old one), and the
/// signature compared in constant time. A request that passes reaches the handler unchanged,
/// with the name of the key that signed it in its extensions ([`BackendSignatureKey`]). Every
/// refusal is 403 `InvalidSignature` in Aliyun's style (`X-Ca-Error-Message`), the reason
/// after a comma. The body is read (up to 8 MiB by default; 413 beyond) only for `POST` and
/// `PUT`, whose form parameters or body digest are signed; other requests stream through.
#[derive(Clone)]
pub struct BackendSignatureLayer {
    shared: Arc<Verifier>,
}

impl std::fmt::Debug for BackendSignatureLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let keys: Vec<_> = self.shared.keys.iter().map(|(k, _)| k).collect();
        f.debug_struct("BackendSignatureLayer").field("keys", &keys).finish_non_exhaustive()
    }
}

impl BackendSignatureLayer {
    /// Accepts signatures by each `(key name, secret)`. Refused: no key, an empty or
    /// non-ASCII name, an empty secret, a name or a secret given twice.
    pub fn new<K: Into<String>, S: Into<String>>(keys: impl IntoIterator<Item = (K, S)>) -> Result<Self, ConfigError> {
        let keys = keys.into_iter().map(|(k, s)| super::BackendSignatureConfig::new(k, s)).collect();
        Self::from_config(&BackendKeysConfig { keys })
    }

    /// Accepts signatures by each key of `config`; the error names the field
    /// (`keys[1].secret`).
    pub fn from_config(config: &BackendKeysConfig) -> Result<Self, ConfigError> {
        let keys = config.checked()?;
        Ok(Self {
            shared: Arc::new(Verifier {
                keys,
                style: ErrorStyle::AliyunApiGateway,
                body_limit: DEFAULT_BODY_LIMIT,
                unsigned_bodies: false,
            }),
        })
    }

    /// Renders refusals in `style` instead of Aliyun's.
    pub fn error_style(mut self, style: ErrorStyle) -> Self {
        Arc::make_mut(&mut self.shared).style = style;
        self
    }

    /// The largest body read for verification (default 8 MiB); larger ones get 413.
    pub fn body_limit(mut self, bytes: usize) -> Self {
        Arc::make_mut(&mut self.shared).body_limit = bytes;
        self
    }

    /// Lets through a body the signature does not cover: that of a method other than `POST`
    /// and `PUT` (`PATCH`, `DELETE`). Off by default, since a handler that reads such a body
    /// (a form, JSON) would act on bytes nobody signed; turn it on only for handlers that
    /// ignore those bodies.
    pub fn allow_unsigned_bodies(mut self, allow: bool) -> Self {
        Arc::make_mut(&mut self.shared).unsigned_bodies = allow;
        self
    }
}

impl<S> Layer<S> for BackendSignatureLayer {
    type Service = BackendSignatureService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        BackendSignatureService { inner, shared: self.shared.clone() }
    }
}

/// The service made by [`BackendSignatureLayer`].
#[derive(Clone)]
pub struct BackendSignatureService<S> {
    inner: S,
    shared: Arc<Verifier>,
}

impl<S> std::fmt::Debug for BackendSignatureService<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackendSignatureService").finish_non_exhaustive()
    }
}

/// A refusal: 403 `InvalidSignature`, the reason (if any) after a comma.
pub(crate) fn invalid(reason: Option<&str>) -> Rejection {
    let text = match reason {
        Some(reason) => format!("Invalid Signature, {reason}"),
        None => "Invalid Signature".to_owned(),
    };
    Rejection::new(StatusCode::FORBIDDEN, "InvalidSignature", text.clone())
        .with_policy("backend-signature")
        .with_aliyun_api_gateway(StatusCode::FORBIDDEN, text)
}

fn unsignable(reason: &Unsignable) -> Rejection {
    invalid(Some(&reason.to_string()))
}

/// What the headers alone settle: the secret and the claimed signature.
struct Claimed<'a> {
    key: &'a HeaderValue,
    secret: &'a Secret,
    signature: SignatureBytes,
}

impl Verifier {
    /// Reads the scheme's headers and finds the key; the body is not needed for this.
    fn claimed<'a>(&'a self, headers: &http::HeaderMap) -> Result<Claimed<'a>, Rejection> {
        let header = |name: &str| single(headers, name).map_err(|e| unsignable(&e));
        let signature = header(SIGNATURE)?.ok_or_else(|| invalid(Some("X-Ca-Proxy-Signature is missing")))?;
        let key = header(SECRET_KEY)?.ok_or_else(|| invalid(Some("X-Ca-Proxy-Signature-Secret-Key is missing")))?;
        // the name is compared as sent: a key is not a secret, and its name is public
        let (key, secret) = self
            .keys
            .iter()
            .find(|(name, _)| name.as_bytes() == key.as_bytes())
            .map(|(name, secret)| (name, secret))
            .ok_or_else(|| invalid(Some("unknown X-Ca-Proxy-Signature-Secret-Key")))?;
        let signature = std::str::from_utf8(signature.as_bytes())
            .ok()
            .and_then(SignatureBytes::from_base64)
            .filter(|s| s.as_bytes().len() == 32)
            .ok_or_else(|| invalid(Some("X-Ca-Proxy-Signature is not the Base64 of an HMAC-SHA256")))?;
        Ok(Claimed { key, secret, signature })
    }

    /// Whether the request's signature is its string's, under the claimed key.
    fn check(&self, view: &RequestView<'_>, claimed: Claimed<'_>) -> Result<BackendSignatureKey, Rejection> {
        let string = string_to_sign(view).map_err(|e| unsignable(&e))?;
        let verifies = |string: &[u8]| {
            claimed.secret.verify_hmac(HmacAlg::Sha256, KeyForm::Plain, string, claimed.signature.as_bytes())
        };
        // the demo's `flag=`, else auth.md's bare `flag` (see `string_to_sign_bare`)
        if !verifies(&string) && !string_to_sign_bare(view).ok().flatten().is_some_and(|bare| verifies(&bare)) {
            return Err(invalid(None));
        }
        let name = claimed.key.to_str().unwrap_or_default();
        Ok(BackendSignatureKey(Arc::from(name)))
    }
}

/// Whether a body, which the signature does not cover for `method`, may be on its way: any
/// body not known to be empty (hyper's, axum's and `Full`'s empty bodies say so exactly).
fn has_body<B: Body>(body: &B) -> bool {
    body.size_hint().exact() != Some(0)
}

impl<S, B, ResBody> Service<Request<B>> for BackendSignatureService<S>
where
    S: Service<Request<RequestBody<B>>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    ResBody: 'static,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = tollgate_core::MaybeBoxedFuture<S::Future, ResBody, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let shared = &*self.shared;
        let refuse = |rejection: Rejection, req: &Request<B>| {
            tracing::debug!(policy = "backend-signature", code = rejection.code(), "refused");
            tollgate_core::MaybeBoxedFuture::now(PolicyFuture::refused(shared.style.respond(&rejection, req)))
        };
        // the headers first: a request with no valid key is refused before its body is read
        let claimed = match shared.claimed(req.headers()) {
            Ok(claimed) => claimed,
            Err(rejection) => return refuse(rejection, &req),
        };
        if !signs_body(req.method()) {
            if !shared.unsigned_bodies && has_body(req.body()) {
                let reason = format!("the body of a {} request is not signed", req.method());
                return refuse(invalid(Some(&reason)), &req);
            }
            let view = RequestView { method: req.method(), uri: req.uri(), headers: req.headers(), body: None };
            return match shared.check(&view, claimed) {
                Ok(key) => {
                    let mut req = req.map(RequestBody::streaming);
                    req.extensions_mut().insert(key);
                    tollgate_core::observe::accepted("backend-signature");
                    tollgate_core::MaybeBoxedFuture::now(PolicyFuture::inner(self.inner.call(req)))
                }
                Err(rejection) => refuse(rejection, &req),
            };
        }
        // POST and PUT: the body is part of the string (its form, or its digest)
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let shared = self.shared.clone();
        tollgate_core::MaybeBoxedFuture::later(Box::pin(async move {
            let head = ErrorStyle::head_of(&req);
            let (mut req, bytes) = match buffer_request(req, shared.body_limit).await {
                Ok(read) => read,
                Err(rejection) => {
                    let rejection = rejection.with_policy("backend-signature");
                    return Ok(ResponseBody::rejection(shared.style.respond(&rejection, &head)));
                }
            };
            let view = RequestView { method: req.method(), uri: req.uri(), headers: req.headers(), body: Some(&bytes) };
            // read again: the request moved into the body reader
            match shared.claimed(view.headers).and_then(|claimed| shared.check(&view, claimed)) {
                Ok(key) => {
                    req.extensions_mut().insert(key);
                    tollgate_core::observe::accepted("backend-signature");
                    inner.call(req).await.map(|r| r.map(ResponseBody::inner))
                }
                Err(rejection) => {
                    tracing::debug!(policy = "backend-signature", code = rejection.code(), "refused");
                    Ok(ResponseBody::rejection(shared.style.respond(&rejection, &head)))
                }
            }
        }))
    }
}
