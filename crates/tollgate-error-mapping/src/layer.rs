//! [`ErrorMappingLayer`], its service and its response future.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::header::{CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderMap, Request, Response};
use http_body::Body;
use pin_project_lite::pin_project;
use serde_json::Value;
use tower_layer::Layer;
use tower_service::Service;

use crate::body::{MappedBody, Read, Reading};
use crate::config::{ConfigError, ErrorMappingConfig};
use crate::policy::{BodyFields, Captured, Policy};

/// Aliyun's error-code mapping plug-in as a tower layer: see the [crate docs](crate).
///
/// Cheap to clone (the compiled plug-in is shared).
#[derive(Debug, Clone)]
pub struct ErrorMappingLayer {
    policy: Arc<Policy>,
}

impl ErrorMappingLayer {
    /// Builds the layer from the plug-in's configuration, checking everything a request
    /// would otherwise find out: each parameter's location (one a response has:
    /// `StatusCode`, `ErrorCode`, `Header:`, `BodyJsonField:`, `System:`, `Token:`), its
    /// JSONPath, the condition, `errorCode`, each mapping's status and message. The error
    /// names the field (`parameters.resultCode`, `mappings[1].statusCode`).
    pub fn from_config(config: &ErrorMappingConfig) -> Result<Self, ConfigError> {
        Policy::from_config(config).map(|policy| Self { policy: Arc::new(policy) })
    }

    /// The most bytes of a JSON response read to find its `BodyJsonField`s (default
    /// [`DEFAULT_BODY_LIMIT`](crate::DEFAULT_BODY_LIMIT)); a larger body passes unread.
    pub fn body_limit(mut self, limit: usize) -> Self {
        Arc::make_mut(&mut self.policy).body_limit = limit;
        self
    }

    /// Whether the layer ever reads a response body: only when the condition, `errorCode`
    /// or a message uses a `BodyJsonField` parameter, and then only JSON bodies.
    pub fn reads_bodies(&self) -> bool {
        self.policy.reads_body()
    }
}

impl<S> Layer<S> for ErrorMappingLayer {
    type Service = ErrorMapping<S>;

    fn layer(&self, inner: S) -> ErrorMapping<S> {
        ErrorMapping { inner, policy: self.policy.clone() }
    }
}

/// The service of [`ErrorMappingLayer`]: maps the inner service's error responses.
#[derive(Debug, Clone)]
pub struct ErrorMapping<S> {
    inner: S,
    policy: Arc<Policy>,
}

impl<S> ErrorMapping<S> {
    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for ErrorMapping<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: Body<Data = Bytes>,
{
    type Response = Response<MappedBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        // what the request knows (System:, Token:) is taken now: the response cannot see it
        let captured = self.policy.capture(&req);
        ResponseFuture { state: State::Waiting { future: self.inner.call(req) }, policy: self.policy.clone(), captured }
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F, B: Body> {
        Waiting { #[pin] future: F },
        Reading { head: Option<http::response::Parts>, reading: Option<Reading<B>> },
        Done,
    }
}

pin_project! {
    /// Response future of [`ErrorMapping`]: the inner service's response, then, only when a
    /// `BodyJsonField` must be read from a JSON body, that body up to the limit.
    pub struct ResponseFuture<F, B: Body> {
        #[pin]
        state: State<F, B>,
        policy: Arc<Policy>,
        captured: Captured,
    }
}

impl<F, B: Body> std::fmt::Debug for ResponseFuture<F, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("error_mapping::ResponseFuture")
    }
}

impl<F, B, E> Future for ResponseFuture<F, B>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: Body<Data = Bytes>,
{
    type Output = Result<Response<MappedBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                StateProj::Waiting { future } => {
                    let (mut head, body) = ready!(future.poll(cx))?.into_parts();
                    let limit = this.policy.body_limit;
                    let fields = if !this.policy.reads_body() {
                        Some(BodyFields::NotRead)
                    } else if !is_json(&head.headers)
                        || is_encoded(&head.headers)
                        || declared_length(&head.headers).max(body.size_hint().lower()) > limit as u64
                    {
                        // not JSON, compressed, or known too large before a byte is read: not
                        // read at all
                        Some(BodyFields::Unreadable)
                    } else {
                        None
                    };
                    if let Some(fields) = fields {
                        this.policy.apply(&mut head, fields, this.captured);
                        this.state.set(State::Done);
                        return Poll::Ready(Ok(Response::from_parts(head, MappedBody::streamed(body))));
                    }
                    let reading = Reading::new(body, limit);
                    this.state.set(State::Reading { head: Some(head), reading: Some(reading) });
                }
                StateProj::Reading { head, reading } => {
                    let read = reading.as_mut().expect("present until done").poll(cx);
                    let fields_json: Option<Value> = match read {
                        Read::Pending => return Poll::Pending,
                        Read::Whole => {
                            // invalid UTF-8, duplicate keys, nesting past 128: serde_json's
                            // reading (the last of duplicate keys), or no JSON at all
                            serde_json::from_slice(reading.as_ref().expect("present").bytes()).ok()
                        }
                        Read::Stopped => None,
                    };
                    let mut head = head.take().expect("present until done");
                    let reading = reading.take().expect("present until done");
                    let fields = match &fields_json {
                        Some(json) => BodyFields::Json(json),
                        None => BodyFields::Unreadable,
                    };
                    this.policy.apply(&mut head, fields, this.captured);
                    this.state.set(State::Done);
                    return Poll::Ready(Ok(Response::from_parts(head, reading.into_body())));
                }
                StateProj::Done => panic!("error_mapping::ResponseFuture polled after completion"),
            }
        }
    }
}

/// `Content-Length`, if the response declares one (0 otherwise: no bound known).
fn declared_length(headers: &HeaderMap) -> u64 {
    headers.get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse().ok()).unwrap_or(0)
}

/// Whether the body is compressed (a `Content-Encoding` other than `identity`): its bytes
/// are not JSON text.
fn is_encoded(headers: &HeaderMap) -> bool {
    headers.get_all(CONTENT_ENCODING).iter().any(|v| !v.as_bytes().trim_ascii().eq_ignore_ascii_case(b"identity"))
}

/// Whether the response says its body is JSON: `application/json`, `text/json` or any
/// `application/…+json` (parameters such as `charset` ignored, any case).
fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) else { return false };
    let essence = value.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    match essence.split_once('/') {
        Some(("application", sub)) => sub == "json" || sub.ends_with("+json"),
        Some(("text", "json")) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_content_types() {
        let json = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(CONTENT_TYPE, v.parse().unwrap());
            is_json(&h)
        };
        for yes in ["application/json", "Application/JSON; charset=utf-8", "application/problem+json", "text/json"] {
            assert!(json(yes), "{yes}");
        }
        for no in
            ["text/plain", "application/jsonp", "application/x-json-stream", "json", "text/html; x=application/json"]
        {
            assert!(!json(no), "{no}");
        }
        assert!(!is_json(&HeaderMap::new()));
    }
}
