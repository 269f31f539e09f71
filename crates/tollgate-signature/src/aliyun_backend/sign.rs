//! The gateway's side: [`AliyunBackendSigner`] adds the three headers to a request, and
//! [`BackendSigningLayer`] does it in front of a backend (the innermost layer of a stack).

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::SystemTime;

use bytes::Bytes;
use http::header::HeaderName;
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode};
use http_body::Body;
use tollgate_core::{
    ConfigError, DEFAULT_BODY_LIMIT, ErrorStyle, PolicyFuture, Rejection, RequestBody, ResponseBody, buffer_request,
};
use tower_layer::Layer;
use tower_service::Service;

use super::config::BackendSignatureConfig;
use super::string_to_sign::{SECRET_KEY, SIGNATURE, SIGNED_HEADERS, Unsignable, signs_body, string_to_sign};
use crate::HmacAlg;
use crate::mac::{base64_encode, hmac};
use crate::scheme::{RequestView, SignError, Signer};
use crate::secret::Secret;

/// Headers never signed when signing every header: those a hop between gateway and backend
/// may rewrite (hop-by-hop headers, `Host`, the framing), and the scheme's own.
const NOT_SIGNED: [&str; 14] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
    "expect",
    SIGNED_HEADERS,
    SECRET_KEY,
];

/// Which headers the signer lists in `X-Ca-Proxy-Signature-Headers`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum SignedHeaders {
    /// Every header the request carries, except those a hop may rewrite (`Host`,
    /// `Content-Length`, hop-by-hop headers): whatever the gateway defined or injected is
    /// covered, constant and system parameters included. The default.
    #[default]
    All,
    /// Only these (those the request carries).
    Only(Vec<HeaderName>),
}

/// Signs requests for a backend as Aliyun's gateway does: removes any
/// `X-Ca-Proxy-Signature*` header the request came with, then adds
/// `X-Ca-Proxy-Signature-Headers` (the signed headers, lower case, comma-separated; left out
/// when none), `X-Ca-Proxy-Signature-Secret-Key` and `X-Ca-Proxy-Signature`. Every query
/// and form parameter is signed. A [`Signer`], so [`sign_request`](crate::sign_request) and
/// [`SigningLayer`](crate::SigningLayer) take it too.
#[derive(Debug, Clone, Default)]
pub struct AliyunBackendSigner {
    headers: SignedHeaders,
}

impl AliyunBackendSigner {
    /// Signs every header but those a hop may rewrite.
    pub fn new() -> Self {
        Self::default()
    }

    /// Signs these headers only.
    pub fn signed_headers(mut self, headers: SignedHeaders) -> Self {
        self.headers = headers;
        self
    }

    /// Signs `parts` (and `body`, for `POST` and `PUT`) with `key` / `secret`; refuses a
    /// request whose string has more than one reading (see [`Unsignable`]).
    pub fn sign_parts(
        &self,
        parts: &mut http::request::Parts,
        body: &[u8],
        key: &HeaderValue,
        secret: &Secret,
    ) -> Result<(), Unsignable> {
        for name in [SIGNATURE, SIGNED_HEADERS, SECRET_KEY] {
            parts.headers.remove(name);
        }
        let names = self.names(&parts.headers)?;
        if !names.is_empty() {
            // names are visible ASCII: always a header value
            let list =
                HeaderValue::from_str(&names.join(",")).map_err(|_| Unsignable::BadHeaderList(names.join(",")))?;
            parts.headers.insert(SIGNED_HEADERS, list);
        }
        let body = if signs_body(&parts.method) { Some(body) } else { None };
        let view = RequestView { method: &parts.method, uri: &parts.uri, headers: &parts.headers, body };
        let string = string_to_sign(&view)?;
        let signature = base64_encode(&hmac(HmacAlg::Sha256, secret.expose(), &string));
        parts.headers.insert(SECRET_KEY, key.clone());
        let signature = HeaderValue::from_str(&signature).expect("Base64 is a header value");
        parts.headers.insert(SIGNATURE, signature);
        Ok(())
    }

    /// The names to sign, sorted, each sent once.
    fn names<'h>(&self, headers: &'h HeaderMap) -> Result<Vec<&'h str>, Unsignable> {
        let mut names: Vec<&str> = match &self.headers {
            SignedHeaders::All => headers.keys().map(HeaderName::as_str).filter(|n| !NOT_SIGNED.contains(n)).collect(),
            SignedHeaders::Only(only) => {
                headers.keys().map(HeaderName::as_str).filter(|n| only.iter().any(|o| o == n)).collect()
            }
        };
        names.sort_unstable();
        if let Some(name) = names.iter().find(|n| headers.get_all(**n).iter().nth(1).is_some()) {
            return Err(Unsignable::RepeatedHeader((*name).to_owned()));
        }
        Ok(names)
    }
}

impl Signer for AliyunBackendSigner {
    fn needs_body(&self, method: &http::Method, _: &HeaderMap) -> bool {
        signs_body(method)
    }

    fn sign(
        &self,
        parts: &mut http::request::Parts,
        body: &mut Bytes,
        key_id: &str,
        secret: &Secret,
        _now: SystemTime,
    ) -> Result<(), SignError> {
        let key = HeaderValue::from_str(key_id).map_err(|_| SignError::Invalid(format!("key name {key_id:?}")))?;
        self.sign_parts(parts, body, &key, secret).map_err(|e| SignError::Invalid(e.to_string()))
    }
}

/// The gateway's refusal of a request it cannot sign unambiguously: 400, in the wording of
/// the gateway's own parameter checks.
fn refusal(reason: &Unsignable) -> Rejection {
    let text = match reason {
        Unsignable::RepeatedHeader(name) => format!("Invalid Header, {name} is sent more than once"),
        other => format!("Invalid Param, {other}"),
    };
    Rejection::new(StatusCode::BAD_REQUEST, reason.code(), text.clone())
        .with_policy("backend-signature")
        .with_aliyun_api_gateway(StatusCode::BAD_REQUEST, text)
}

#[derive(Clone)]
struct Settings {
    signer: AliyunBackendSigner,
    key: HeaderValue,
    secret: Secret,
    style: ErrorStyle,
    body_limit: usize,
}

/// Aliyun's `backendSignature` plug-in: signs each request for the backend behind it.
///
/// It must be the innermost layer, next to the handler: what it signs is what the handler
/// receives, after parameter injection has added constant and system parameters (which are
/// signed too) and after any layer that rewrites the request. In a `Gateway` it sits there
/// (after injection and error mapping). A request it cannot sign with a single reading — a
/// header sent twice, a parameter given twice or in both query and form — is refused with
/// 400 in Aliyun's style, since the backend's verifier would refuse it anyway.
#[derive(Clone)]
pub struct BackendSigningLayer {
    shared: Arc<Settings>,
}

impl std::fmt::Debug for BackendSigningLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackendSigningLayer").field("key", &self.shared.key).finish_non_exhaustive()
    }
}

impl BackendSigningLayer {
    /// Signs with `key` / `secret` (an empty secret or a key name that is not visible ASCII
    /// is refused).
    pub fn new(key: impl Into<String>, secret: impl Into<String>) -> Result<Self, ConfigError> {
        Self::from_config(&BackendSignatureConfig::new(key, secret))
    }

    /// Signs as the plug-in says; the error names the field (`secret`).
    pub fn from_config(config: &BackendSignatureConfig) -> Result<Self, ConfigError> {
        let (key, secret) = config.checked()?;
        Ok(Self {
            shared: Arc::new(Settings {
                signer: AliyunBackendSigner::new(),
                key,
                secret,
                style: ErrorStyle::AliyunApiGateway,
                body_limit: DEFAULT_BODY_LIMIT,
            }),
        })
    }

    /// Which headers are signed (default: all but those a hop may rewrite).
    pub fn signed_headers(mut self, headers: SignedHeaders) -> Self {
        let settings = Arc::make_mut(&mut self.shared);
        settings.signer = std::mem::take(&mut settings.signer).signed_headers(headers);
        self
    }

    /// Renders refusals in `style` instead of Aliyun's.
    pub fn error_style(mut self, style: ErrorStyle) -> Self {
        Arc::make_mut(&mut self.shared).style = style;
        self
    }

    /// The largest body read to sign it (default 8 MiB); larger ones get 413.
    pub fn body_limit(mut self, bytes: usize) -> Self {
        Arc::make_mut(&mut self.shared).body_limit = bytes;
        self
    }
}

impl<S> Layer<S> for BackendSigningLayer {
    type Service = BackendSigningService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        BackendSigningService { inner, shared: self.shared.clone() }
    }
}

/// The service made by [`BackendSigningLayer`].
#[derive(Clone)]
pub struct BackendSigningService<S> {
    inner: S,
    shared: Arc<Settings>,
}

impl<S> std::fmt::Debug for BackendSigningService<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackendSigningService").finish_non_exhaustive()
    }
}

impl<S, B, ResBody> Service<Request<B>> for BackendSigningService<S>
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
        if !signs_body(req.method()) {
            let s = &*self.shared;
            let (mut parts, body) = req.into_parts();
            return match s.signer.sign_parts(&mut parts, &[], &s.key, &s.secret) {
                Ok(()) => {
                    let req = Request::from_parts(parts, RequestBody::streaming(body));
                    tollgate_core::MaybeBoxedFuture::now(PolicyFuture::inner(self.inner.call(req)))
                }
                Err(reason) => {
                    let head = Request::from_parts(parts, ());
                    tollgate_core::MaybeBoxedFuture::now(PolicyFuture::refused(
                        s.style.respond(&refusal(&reason), &head),
                    ))
                }
            };
        }
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let shared = self.shared.clone();
        tollgate_core::MaybeBoxedFuture::later(Box::pin(async move {
            let s = &*shared;
            let head = ErrorStyle::head_of(&req);
            let (req, bytes) = match buffer_request(req, s.body_limit).await {
                Ok(read) => read,
                Err(rejection) => {
                    let rejection = rejection.with_policy("backend-signature");
                    return Ok(ResponseBody::rejection(s.style.respond(&rejection, &head)));
                }
            };
            let (mut parts, body) = req.into_parts();
            match s.signer.sign_parts(&mut parts, &bytes, &s.key, &s.secret) {
                Ok(()) => inner.call(Request::from_parts(parts, body)).await.map(|r| r.map(ResponseBody::inner)),
                Err(reason) => Ok(ResponseBody::rejection(s.style.respond(&refusal(&reason), &head))),
            }
        }))
    }
}
