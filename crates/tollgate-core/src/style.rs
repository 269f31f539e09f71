//! [`ErrorStyle`]: how a [`Rejection`] becomes a response that the caller's SDK understands.

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, HOST};
use http::{HeaderName, HeaderValue, Request, Response, StatusCode};
use http_body_util::Full;
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use serde_json::json;

use crate::rejection::{Ecosystem, Rejection};
use crate::request_id::RequestId;

/// `X-Ca-Error-Message`, the Aliyun API Gateway refusal text.
pub const X_CA_ERROR_MESSAGE: HeaderName = HeaderName::from_static("x-ca-error-message");
/// `X-Ca-Request-Id`, the Aliyun API Gateway request id.
pub const X_CA_REQUEST_ID: HeaderName = HeaderName::from_static("x-ca-request-id");
/// `X-Api-RequestId`, the Tencent API Gateway request id.
pub const X_API_REQUEST_ID: HeaderName = HeaderName::from_static("x-api-requestid");

/// What a renderer knows about the refused request besides the [`Rejection`].
#[derive(Debug, Clone, Copy)]
pub struct RenderContext<'a> {
    /// The request id (from [`RequestIdLayer`](crate::RequestIdLayer), else generated).
    pub request_id: &'a RequestId,
    /// The request's host, if it named one.
    pub host: Option<&'a str>,
}

/// Renders rejections in a shape of your own; wrap it with [`ErrorStyle::custom`].
pub trait RenderRejection: Send + Sync + 'static {
    /// Builds the refusal response.
    fn render(&self, rejection: &Rejection, cx: &RenderContext<'_>) -> Response<Full<Bytes>>;
}

/// gRPC status codes, for the [`ErrorStyle::Grpc`] style.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum GrpcCode {
    Ok = 0,
    Cancelled = 1,
    Unknown = 2,
    InvalidArgument = 3,
    DeadlineExceeded = 4,
    NotFound = 5,
    AlreadyExists = 6,
    PermissionDenied = 7,
    ResourceExhausted = 8,
    FailedPrecondition = 9,
    Aborted = 10,
    OutOfRange = 11,
    Unimplemented = 12,
    Internal = 13,
    Unavailable = 14,
    DataLoss = 15,
    Unauthenticated = 16,
}

impl GrpcCode {
    /// The conventional gRPC code for an HTTP refusal status.
    pub fn from_http(status: StatusCode) -> Self {
        match status.as_u16() {
            400 | 411 | 413 | 414 | 415 | 422 | 431 => Self::InvalidArgument,
            401 => Self::Unauthenticated,
            403 => Self::PermissionDenied,
            404 => Self::NotFound,
            408 | 504 => Self::DeadlineExceeded,
            409 => Self::Aborted,
            412 => Self::FailedPrecondition,
            429 => Self::ResourceExhausted,
            501 => Self::Unimplemented,
            502 | 503 => Self::Unavailable,
            _ => Self::Unknown,
        }
    }
}

/// How a [`Rejection`] becomes a response: one style per client ecosystem.
///
/// | style | status | shape |
/// |---|---|---|
/// | [`ProblemJson`](Self::ProblemJson) (default) | the neutral one | RFC 9457 `application/problem+json`: `type`, `title`, `status`, `detail`, `code`, `policy`, `request_id` |
/// | [`AliyunApiGateway`](Self::AliyunApiGateway) | Aliyun's | empty body, `X-Ca-Error-Message`, `X-Ca-Request-Id` |
/// | [`AliyunRpc`](Self::AliyunRpc) | Aliyun RPC's | `application/json` `{"RequestId","HostId","Code","Message"}` |
/// | [`TencentCloud`](Self::TencentCloud) | always 200 | `application/json` `{"Response":{"Error":{"Code","Message"},"RequestId"}}` |
/// | [`TencentApiGateway`](Self::TencentApiGateway) | Tencent's | `application/json` `{"message"}`, `X-Api-RequestId` |
/// | [`Grpc`](Self::Grpc) | 200 | trailers-only: `content-type: application/grpc`, `grpc-status`, `grpc-message` |
///
/// ```
/// use http::{Request, StatusCode};
/// use tollgate_core::{ErrorStyle, Rejection};
///
/// let rejection = Rejection::new(StatusCode::FORBIDDEN, "IpAccessDenied", "not allowed");
/// let request = Request::new(());
/// let response = ErrorStyle::TencentCloud.respond(&rejection, &request);
/// assert_eq!(response.status(), StatusCode::OK); // Tencent Cloud answers errors with 200
/// assert_eq!(response.headers()["content-type"], "application/json");
/// ```
#[derive(Clone, Default)]
#[non_exhaustive]
pub enum ErrorStyle {
    /// RFC 9457 problem details; the neutral default.
    #[default]
    ProblemJson,
    /// Aliyun API Gateway: `X-Ca-Error-Message` and `X-Ca-Request-Id` headers.
    AliyunApiGateway,
    /// Aliyun RPC / POP JSON.
    AliyunRpc,
    /// Tencent Cloud API JSON envelope, HTTP 200.
    TencentCloud,
    /// Tencent API Gateway JSON `{"message"}`.
    TencentApiGateway,
    /// gRPC status in a trailers-only response, for tonic services.
    Grpc,
    /// Your own renderer.
    Custom(Arc<dyn RenderRejection>),
}

impl fmt::Debug for ErrorStyle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Self::ProblemJson => "ProblemJson",
            Self::AliyunApiGateway => "AliyunApiGateway",
            Self::AliyunRpc => "AliyunRpc",
            Self::TencentCloud => "TencentCloud",
            Self::TencentApiGateway => "TencentApiGateway",
            Self::Grpc => "Grpc",
            Self::Custom(_) => "Custom",
        };
        f.write_str(name)
    }
}

/// Characters gRPC requires percent-encoded in `grpc-message`: outside 0x20..=0x7E, and `%`.
const GRPC_MESSAGE: &AsciiSet = &CONTROLS.add(b'%');

impl ErrorStyle {
    /// Wraps a renderer of your own.
    pub fn custom(renderer: impl RenderRejection) -> Self {
        Self::Custom(Arc::new(renderer))
    }

    /// Renders `rejection` for `request`: reads the request id from its extensions (or
    /// generates one) and its host, emits a `tracing` event naming the policy and code, and
    /// counts the refusal ([`observe`](crate::observe)).
    pub fn respond<B>(&self, rejection: &Rejection, request: &Request<B>) -> Response<Full<Bytes>> {
        let request_id = RequestId::from_extensions(request.extensions()).cloned().unwrap_or_else(RequestId::generate);
        let host = request.headers().get(HOST).and_then(|h| h.to_str().ok()).or_else(|| request.uri().host());
        tracing::info!(
            policy = rejection.policy(),
            code = rejection.code(),
            status = rejection.status().as_u16(),
            request_id = request_id.as_str(),
            "request refused"
        );
        crate::observe::refused(rejection);
        self.render(rejection, &RenderContext { request_id: &request_id, host })
    }

    /// What [`respond`](Self::respond) reads of a request — its method, URI, `Host` and
    /// [`RequestId`] — as a request without a body: a policy that consumes the request (to
    /// read its body) keeps this to answer a refusal afterwards.
    ///
    /// ```
    /// use http::Request;
    /// use tollgate_core::{ErrorStyle, Rejection, RequestId};
    ///
    /// let mut req = Request::post("/orders?x=1").header("host", "api.example.com").header("x-other", "1").body(())?;
    /// req.extensions_mut().insert(RequestId::generate());
    /// let head = ErrorStyle::head_of(&req);
    /// assert_eq!((head.method(), head.uri()), (req.method(), req.uri()));
    /// assert_eq!(head.headers().len(), 1, "only the host");
    /// let refusal = Rejection::new(http::StatusCode::FORBIDDEN, "Denied", "no");
    /// let (a, b) = (ErrorStyle::AliyunRpc.respond(&refusal, &req), ErrorStyle::AliyunRpc.respond(&refusal, &head));
    /// let body = |r: http::Response<http_body_util::Full<bytes::Bytes>>| {
    ///     let collect = http_body_util::BodyExt::collect(r.into_body());
    ///     futures_util::FutureExt::now_or_never(collect).unwrap().unwrap().to_bytes()
    /// };
    /// assert_eq!(a.headers(), b.headers());
    /// assert_eq!(body(a), body(b), "the same RequestId and HostId");
    /// # Ok::<(), http::Error>(())
    /// ```
    pub fn head_of<B>(request: &Request<B>) -> Request<()> {
        let mut head = Request::new(());
        *head.method_mut() = request.method().clone();
        *head.uri_mut() = request.uri().clone();
        if let Some(host) = request.headers().get(HOST) {
            head.headers_mut().insert(HOST, host.clone());
        }
        if let Some(id) = RequestId::from_extensions(request.extensions()) {
            head.extensions_mut().insert(id.clone());
        }
        head
    }

    /// Renders `rejection` with the given context.
    pub fn render(&self, rejection: &Rejection, cx: &RenderContext<'_>) -> Response<Full<Bytes>> {
        let id = cx.request_id.as_str();
        let mut response = match self {
            Self::ProblemJson => {
                let status = rejection.status();
                let body = json!({
                    "type": "about:blank",
                    "title": status.canonical_reason().unwrap_or("Refused"),
                    "status": status.as_u16(),
                    "detail": rejection.message(),
                    "code": rejection.code(),
                    "policy": rejection.policy(),
                    "request_id": id,
                });
                json_response(status, "application/problem+json", &body)
            }
            Self::AliyunApiGateway => {
                let e = Ecosystem::AliyunApiGateway;
                let mut r = Response::new(Full::new(Bytes::new()));
                *r.status_mut() = rejection.status_for(e);
                let headers = r.headers_mut();
                headers.insert(X_CA_ERROR_MESSAGE, header_text(rejection.message_for(e)));
                headers.insert(X_CA_REQUEST_ID, cx.request_id.header_value().clone());
                headers.insert(CONTENT_LENGTH, HeaderValue::from_static("0"));
                r
            }
            Self::AliyunRpc => {
                let e = Ecosystem::AliyunRpc;
                let body = json!({
                    "RequestId": id,
                    "HostId": cx.host.unwrap_or(""),
                    "Code": rejection.code_for(e),
                    "Message": rejection.message_for(e),
                });
                json_response(rejection.status_for(e), "application/json", &body)
            }
            Self::TencentCloud => {
                let e = Ecosystem::TencentCloud;
                let body = json!({"Response": {
                    "Error": {"Code": rejection.code_for(e), "Message": rejection.message_for(e)},
                    "RequestId": id,
                }});
                // The SDK treats any other status as a network failure.
                json_response(StatusCode::OK, "application/json", &body)
            }
            Self::TencentApiGateway => {
                let e = Ecosystem::TencentApiGateway;
                let body = json!({"message": rejection.message_for(e)});
                let mut r = json_response(rejection.status_for(e), "application/json", &body);
                r.headers_mut().insert(X_API_REQUEST_ID, cx.request_id.header_value().clone());
                r
            }
            Self::Grpc => {
                let e = Ecosystem::Grpc;
                let code = rejection
                    .wording(e)
                    .and_then(|w| w.code.as_deref())
                    .and_then(|c| c.parse::<i32>().ok())
                    .unwrap_or(GrpcCode::from_http(rejection.status()) as i32);
                let mut r = Response::new(Full::new(Bytes::new()));
                let headers = r.headers_mut();
                headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
                headers.insert("grpc-status", HeaderValue::from(code));
                let message = utf8_percent_encode(rejection.message_for(e), GRPC_MESSAGE).to_string();
                if let Ok(v) = HeaderValue::from_str(&message) {
                    headers.insert("grpc-message", v);
                }
                r
            }
            Self::Custom(renderer) => return renderer.render(rejection, cx),
        };
        // (no let chain: core keeps to Rust 1.85)
        match rejection.body() {
            Some(body) if !matches!(self, Self::Grpc) => {
                // the style's description of its own body goes with it
                response.headers_mut().remove(CONTENT_TYPE);
                response.headers_mut().remove(CONTENT_LENGTH);
                *response.body_mut() = Full::new(body.clone());
            }
            _ => {}
        }
        // the rejection's headers replace the style's of the same name (a configured
        // `Content-Type`), never sit beside them
        for name in rejection.headers().keys() {
            response.headers_mut().remove(name);
        }
        for (name, value) in rejection.headers() {
            response.headers_mut().append(name.clone(), value.clone());
        }
        response
    }
}

fn json_response(status: StatusCode, content_type: &'static str, body: &serde_json::Value) -> Response<Full<Bytes>> {
    let bytes = Bytes::from(body.to_string());
    let mut r = Response::new(Full::new(bytes));
    *r.status_mut() = status;
    r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

/// A header value carrying free text: line breaks become `#` (as Aliyun writes its string to
/// sign), other control characters a space, so no message can break the header. Text beyond
/// ASCII (an operator's `errorMessage` in Chinese) goes as its UTF-8 bytes, which HTTP allows
/// in a field value, rather than be lost.
pub(crate) fn header_text(text: &str) -> HeaderValue {
    let clean: String = text
        .chars()
        .map(|c| match c {
            '\n' => '#',
            c if c.is_control() => ' ',
            c => c,
        })
        .collect();
    HeaderValue::from_bytes(clean.as_bytes()).unwrap_or_else(|_| HeaderValue::from_static("refused"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    fn rejection() -> Rejection {
        Rejection::new(StatusCode::FORBIDDEN, "IpAccessDenied", "client IP 10.0.0.1 is not allowed")
            .with_policy("ip")
            .with_aliyun_api_gateway(StatusCode::FORBIDDEN, "Access denied by IP Control")
            .with_aliyun_rpc(StatusCode::FORBIDDEN, "Forbidden.IpDenied", "ip denied")
            .with_tencent_cloud("UnauthorizedOperation", "ip denied")
            .with_tencent_api_gateway(StatusCode::FORBIDDEN, "Your IP address is not allowed")
            .with_header(http::header::RETRY_AFTER, HeaderValue::from_static("3"))
    }

    fn render(style: ErrorStyle) -> (Response<()>, serde_json::Value) {
        let id = RequestId::new(HeaderValue::from_static("req-1")).unwrap();
        let cx = RenderContext { request_id: &id, host: Some("api.example.com") };
        let (parts, body) = style.render(&rejection(), &cx).into_parts();
        let bytes = futures_lite_block(body);
        let json = if bytes.is_empty() { serde_json::Value::Null } else { serde_json::from_slice(&bytes).unwrap() };
        (Response::from_parts(parts, ()), json)
    }

    fn futures_lite_block(body: Full<Bytes>) -> Bytes {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        rt.block_on(async { body.collect().await.unwrap().to_bytes() })
    }

    #[test]
    fn problem_json_shape() {
        let (r, json) = render(ErrorStyle::ProblemJson);
        assert_eq!(r.status(), 403);
        assert_eq!(r.headers()[CONTENT_TYPE], "application/problem+json");
        assert_eq!(r.headers()["retry-after"], "3");
        assert_eq!(json["type"], "about:blank");
        assert_eq!(json["title"], "Forbidden");
        assert_eq!(json["status"], 403);
        assert_eq!(json["detail"], "client IP 10.0.0.1 is not allowed");
        assert_eq!(json["code"], "IpAccessDenied");
        assert_eq!(json["policy"], "ip");
        assert_eq!(json["request_id"], "req-1");
    }

    #[test]
    fn aliyun_api_gateway_shape() {
        let (r, json) = render(ErrorStyle::AliyunApiGateway);
        assert_eq!(r.status(), 403);
        assert_eq!(r.headers()["x-ca-error-message"], "Access denied by IP Control");
        assert_eq!(r.headers()["x-ca-request-id"], "req-1");
        assert_eq!(r.headers()["content-length"], "0");
        assert!(json.is_null());
    }

    #[test]
    fn aliyun_rpc_shape() {
        let (r, json) = render(ErrorStyle::AliyunRpc);
        assert_eq!(r.status(), 403);
        assert_eq!(r.headers()[CONTENT_TYPE], "application/json");
        assert_eq!(
            json,
            json!({"RequestId": "req-1", "HostId": "api.example.com", "Code": "Forbidden.IpDenied", "Message": "ip denied"})
        );
    }

    #[test]
    fn tencent_cloud_shape() {
        let (r, json) = render(ErrorStyle::TencentCloud);
        assert_eq!(r.status(), 200);
        // Exactly this: a charset parameter makes the SDK read errors as success.
        assert_eq!(r.headers()[CONTENT_TYPE], "application/json");
        assert_eq!(
            json,
            json!({"Response": {"Error": {"Code": "UnauthorizedOperation", "Message": "ip denied"}, "RequestId": "req-1"}})
        );
    }

    #[test]
    fn tencent_api_gateway_shape() {
        let (r, json) = render(ErrorStyle::TencentApiGateway);
        assert_eq!(r.status(), 403);
        assert_eq!(r.headers()[CONTENT_TYPE], "application/json");
        assert_eq!(r.headers()["x-api-requestid"], "req-1");
        assert_eq!(json, json!({"message": "Your IP address is not allowed"}));
    }

    #[test]
    fn grpc_shape() {
        let (r, json) = render(ErrorStyle::Grpc);
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()[CONTENT_TYPE], "application/grpc");
        assert_eq!(r.headers()["grpc-status"], "7");
        assert_eq!(r.headers()["grpc-message"], "client IP 10.0.0.1 is not allowed");
        assert!(json.is_null());
    }

    #[test]
    fn grpc_message_is_percent_encoded_and_code_overridable() {
        let id = RequestId::generate();
        let cx = RenderContext { request_id: &id, host: None };
        let r = Rejection::new(StatusCode::BAD_REQUEST, "X", "100% wrong\nµ").with_grpc_code(GrpcCode::Unauthenticated);
        let resp = ErrorStyle::Grpc.render(&r, &cx);
        assert_eq!(resp.headers()["grpc-status"], "16");
        assert_eq!(resp.headers()["grpc-message"], "100%25 wrong%0A%C2%B5");
    }

    #[test]
    fn grpc_code_from_http() {
        assert_eq!(GrpcCode::from_http(StatusCode::UNAUTHORIZED), GrpcCode::Unauthenticated);
        assert_eq!(GrpcCode::from_http(StatusCode::FORBIDDEN), GrpcCode::PermissionDenied);
        assert_eq!(GrpcCode::from_http(StatusCode::TOO_MANY_REQUESTS), GrpcCode::ResourceExhausted);
        assert_eq!(GrpcCode::from_http(StatusCode::BAD_REQUEST), GrpcCode::InvalidArgument);
    }

    #[test]
    fn aliyun_message_with_newlines_stays_one_header() {
        let id = RequestId::generate();
        let cx = RenderContext { request_id: &id, host: None };
        let r = Rejection::new(StatusCode::BAD_REQUEST, "X", "x")
            .with_aliyun_api_gateway(StatusCode::BAD_REQUEST, "Invalid Signature, Server StringToSign:GET\n\n/x");
        let resp = ErrorStyle::AliyunApiGateway.render(&r, &cx);
        assert_eq!(resp.headers()["x-ca-error-message"], "Invalid Signature, Server StringToSign:GET##/x");
    }

    #[test]
    fn a_rejection_body_replaces_the_style_body_but_not_grpc() {
        let id = RequestId::new(HeaderValue::from_static("req-1")).unwrap();
        let cx = RenderContext { request_id: &id, host: None };
        let r = Rejection::new(StatusCode::FORBIDDEN, "Denied", "no")
            .with_body("<Reason>no</Reason>")
            .with_header(CONTENT_TYPE, HeaderValue::from_static("application/xml"))
            .with_header(HeaderName::from_static("x-extra"), HeaderValue::from_static("1"))
            .with_header(HeaderName::from_static("x-extra"), HeaderValue::from_static("2"));
        for style in [ErrorStyle::AliyunApiGateway, ErrorStyle::ProblemJson, ErrorStyle::TencentCloud] {
            let (parts, body) = style.render(&r, &cx).into_parts();
            assert_eq!(futures_lite_block(body), "<Reason>no</Reason>", "{style:?}");
            let types: Vec<_> = parts.headers.get_all(CONTENT_TYPE).iter().collect();
            assert_eq!(types, ["application/xml"], "{style:?}");
            let extra: Vec<_> = parts.headers.get_all("x-extra").iter().collect();
            assert_eq!(extra, ["1", "2"], "{style:?}");
            assert!(parts.headers.get(CONTENT_LENGTH).is_none(), "{style:?}: the body's own length");
        }
        let resp = ErrorStyle::AliyunApiGateway.render(&r, &cx);
        assert_eq!(resp.headers()["x-ca-error-message"], "no");
        let (parts, body) = ErrorStyle::Grpc.render(&r, &cx).into_parts();
        assert!(futures_lite_block(body).is_empty());
        assert_eq!(parts.headers["grpc-status"], "7");
        // without a body, a configured Content-Type still replaces the style's
        let r = Rejection::new(StatusCode::FORBIDDEN, "Denied", "no")
            .with_header(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        let resp = ErrorStyle::ProblemJson.render(&r, &cx);
        assert_eq!(resp.headers().get_all(CONTENT_TYPE).iter().count(), 1);
        assert_eq!(resp.headers()[CONTENT_TYPE], "text/plain");
    }

    #[test]
    fn aliyun_message_beyond_ascii_keeps_its_utf8_bytes() {
        let id = RequestId::generate();
        let cx = RenderContext { request_id: &id, host: None };
        let r = Rejection::new(StatusCode::FORBIDDEN, "X", "x")
            .with_aliyun_api_gateway(StatusCode::FORBIDDEN, "禁止访问 user\u{7f}\r\n7");
        let resp = ErrorStyle::AliyunApiGateway.render(&r, &cx);
        let value = resp.headers()["x-ca-error-message"].as_bytes();
        assert_eq!(std::str::from_utf8(value).unwrap(), "禁止访问 user  #7");
    }

    #[test]
    fn custom_style() {
        struct Teapot;
        impl RenderRejection for Teapot {
            fn render(&self, r: &Rejection, _: &RenderContext<'_>) -> Response<Full<Bytes>> {
                let mut resp = Response::new(Full::new(Bytes::from(r.code().to_owned())));
                *resp.status_mut() = StatusCode::IM_A_TEAPOT;
                resp
            }
        }
        let req = Request::new(());
        let resp = ErrorStyle::custom(Teapot).respond(&rejection(), &req);
        assert_eq!(resp.status(), StatusCode::IM_A_TEAPOT);
    }
}
