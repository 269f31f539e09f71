//! Shared helpers: an echo handler that reports what it received, and one-shot calls.

#![allow(dead_code, unreachable_pub)]

use std::convert::Infallible;

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use serde_json::{Value, json};
use tollgate_core::{PathParams, RequestBody};
use tollgate_params::{ParamInjectionLayer, ParamValidationLayer};
use tower::{Layer, ServiceExt};

/// What the handler saw.
#[derive(Debug)]
pub struct Seen {
    pub uri: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub path_params: Option<Vec<(String, String)>>,
}

/// The answer: status, headers, body as JSON (or null) and what the handler saw, if it ran.
#[derive(Debug)]
pub struct Outcome {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub json: Value,
    pub seen: Option<Seen>,
}

impl Outcome {
    /// The problem+json `detail`.
    pub fn detail(&self) -> &str {
        self.json["detail"].as_str().unwrap_or("")
    }

    /// The problem+json `code`.
    pub fn code(&self) -> &str {
        self.json["code"].as_str().unwrap_or("")
    }

    pub fn seen(&self) -> &Seen {
        self.seen.as_ref().expect("the handler did not run")
    }
}

fn encode_seen(req: &http::request::Parts, body: &Bytes) -> Value {
    let headers: Vec<Value> = req.headers.iter().map(|(k, v)| json!([k.as_str(), v.as_bytes()])).collect();
    let params = req.extensions.get::<PathParams>().map(|p| p.iter().map(|(k, v)| json!([k, v])).collect::<Vec<_>>());
    json!({"uri": req.uri.to_string(), "headers": headers, "body": body.to_vec(), "params": params})
}

fn decode_seen(v: &Value) -> Seen {
    let mut headers = HeaderMap::new();
    for h in v["headers"].as_array().unwrap() {
        let name = http::HeaderName::try_from(h[0].as_str().unwrap()).unwrap();
        let bytes: Vec<u8> = serde_json::from_value(h[1].clone()).unwrap();
        headers.append(name, http::HeaderValue::from_bytes(&bytes).unwrap());
    }
    let body: Vec<u8> = serde_json::from_value(v["body"].clone()).unwrap();
    let path_params = v["params"]
        .as_array()
        .map(|ps| ps.iter().map(|p| (p[0].as_str().unwrap().to_owned(), p[1].as_str().unwrap().to_owned())).collect());
    Seen { uri: v["uri"].as_str().unwrap().to_owned(), headers, body: Bytes::from(body), path_params }
}

/// The echo handler: answers 299 with what it received.
pub async fn echo<B>(req: Request<B>) -> Result<Response<Full<Bytes>>, Infallible>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: std::fmt::Debug,
{
    let (parts, body) = req.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    let seen = encode_seen(&parts, &bytes);
    let mut resp = Response::new(Full::new(Bytes::from(seen.to_string())));
    *resp.status_mut() = StatusCode::from_u16(299).unwrap();
    Ok(resp)
}

/// Sends `req` through a validation layer in front of the echo handler.
pub async fn validate(layer: &ParamValidationLayer, req: Request<Full<Bytes>>) -> Outcome {
    let svc = layer.layer(tower::service_fn(echo::<RequestBody<Full<Bytes>>>));
    outcome(svc.oneshot(req).await.unwrap()).await
}

/// Sends `req` through an injection layer in front of the echo handler.
pub async fn inject(layer: &ParamInjectionLayer, req: Request<Full<Bytes>>) -> Outcome {
    let svc = layer.layer(tower::service_fn(echo::<RequestBody<Full<Bytes>>>));
    outcome(svc.oneshot(req).await.unwrap()).await
}

/// Validation, then injection, then the echo handler.
pub async fn both(v: &ParamValidationLayer, i: &ParamInjectionLayer, req: Request<Full<Bytes>>) -> Outcome {
    let svc = tower::ServiceBuilder::new()
        .layer(v.clone())
        .layer(i.clone())
        .service(tower::service_fn(echo::<RequestBody<RequestBody<Full<Bytes>>>>));
    outcome(svc.oneshot(req).await.unwrap()).await
}

/// Reads a response into an [`Outcome`].
pub async fn outcome<B>(resp: Response<B>) -> Outcome
where
    B: http_body::Body<Data = Bytes>,
    B::Error: std::fmt::Debug,
{
    let (parts, body) = resp.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    if parts.status.as_u16() == 299 {
        Outcome { status: StatusCode::OK, headers: parts.headers, json: Value::Null, seen: Some(decode_seen(&value)) }
    } else {
        Outcome { status: parts.status, headers: parts.headers, json: value, seen: None }
    }
}

/// A request with a body.
pub fn request(method: &str, uri: &str, headers: &[(&str, &str)], body: &str) -> Request<Full<Bytes>> {
    let mut b = Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(Full::new(Bytes::from(body.to_owned()))).unwrap()
}

/// A GET without a body.
pub fn get(uri: &str) -> Request<Full<Bytes>> {
    request("GET", uri, &[], "")
}
