//! [`Rejection`]: why a request was refused, in words every client ecosystem understands.

use std::borrow::Cow;
use std::fmt;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};

/// A client ecosystem whose clients parse refusals in a shape of their own.
///
/// A [`Rejection`] carries a neutral status, code and message, and may carry the exact
/// wording one ecosystem's SDKs expect (see [`Rejection::with_wording`]). The
/// [`ErrorStyle`](crate::ErrorStyle) of the same ecosystem renders that wording.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Ecosystem {
    /// Aliyun API Gateway (`X-Ca-Error-Message`).
    AliyunApiGateway,
    /// Aliyun RPC / POP OpenAPI (`{"RequestId","HostId","Code","Message"}`).
    AliyunRpc,
    /// Tencent Cloud API (`{"Response":{"Error":{...},"RequestId"}}`).
    TencentCloud,
    /// Tencent API Gateway (`{"message": "..."}`).
    TencentApiGateway,
    /// gRPC (`grpc-status` / `grpc-message`).
    Grpc,
}

/// What one ecosystem's clients expect to read for a refusal. Unset parts fall back to the
/// rejection's neutral status, code and message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Wording {
    /// HTTP status in this ecosystem.
    pub status: Option<StatusCode>,
    /// Machine code in this ecosystem (for gRPC: the numeric status code as text).
    pub code: Option<Cow<'static, str>>,
    /// Human message in this ecosystem.
    pub message: Option<Cow<'static, str>>,
}

/// Why a request was refused.
///
/// Every policy refuses with a `Rejection`: an HTTP status, a stable machine `code`
/// (for example `IpAccessDenied`, `AuthFailure.SignatureExpire`, `SignatureNonceUsed`), a
/// human `message`, the name of the refusing policy, optional extra response headers (for
/// example `Retry-After`) and, where the reference gateways word the refusal their own way,
/// that wording per [`Ecosystem`]. An [`ErrorStyle`](crate::ErrorStyle) turns it into a
/// response.
///
/// ```
/// use http::StatusCode;
/// use tollgate_core::{Ecosystem, Rejection};
///
/// let r = Rejection::new(StatusCode::FORBIDDEN, "IpAccessDenied", "client IP is not allowed")
///     .with_policy("ip")
///     .with_aliyun_api_gateway(StatusCode::FORBIDDEN, "Access denied by IP Control");
/// assert_eq!(r.code(), "IpAccessDenied");
/// assert_eq!(r.message_for(Ecosystem::AliyunApiGateway), "Access denied by IP Control");
/// assert_eq!(r.message_for(Ecosystem::TencentCloud), "client IP is not allowed");
/// ```
#[derive(Clone)]
pub struct Rejection(Box<Inner>);

/// Boxed so that `Result<_, Rejection>` stays one word on the hot path where nothing is
/// refused.
#[derive(Clone)]
struct Inner {
    status: StatusCode,
    code: Cow<'static, str>,
    message: Cow<'static, str>,
    policy: &'static str,
    headers: HeaderMap,
    body: Option<Bytes>,
    wordings: Vec<(Ecosystem, Wording)>,
}

impl Rejection {
    /// A rejection with a neutral status, stable code and message.
    pub fn new(status: StatusCode, code: impl Into<Cow<'static, str>>, message: impl Into<Cow<'static, str>>) -> Self {
        Self(Box::new(Inner {
            status,
            code: code.into(),
            message: message.into(),
            policy: "tollgate",
            headers: HeaderMap::new(),
            body: None,
            wordings: Vec::new(),
        }))
    }

    /// Names the policy that refused (`ip`, `flow`, `signature`, ...), for logs and bodies.
    pub fn with_policy(mut self, policy: &'static str) -> Self {
        self.0.policy = policy;
        self
    }

    /// Adds a header to the refusal response (for example `Retry-After`).
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.0.headers.append(name, value);
        self
    }

    /// Gives the refusal a body of its own, which replaces the body the
    /// [`ErrorStyle`](crate::ErrorStyle) would render (the Aliyun API Gateway style's empty
    /// body, a JSON style's document) in every style but gRPC, whose refusals are
    /// trailers-only. The style's `Content-Type` goes with its body: say what the body is
    /// with [`with_header`](Self::with_header). A custom renderer reads it with
    /// [`body`](Self::body).
    ///
    /// For refusals whose text the operator configured (Aliyun parameter access control's
    /// `responseBody`).
    ///
    /// ```
    /// use http::{HeaderValue, Request, StatusCode, header::CONTENT_TYPE};
    /// use tollgate_core::{ErrorStyle, Rejection};
    ///
    /// let r = Rejection::new(StatusCode::FORBIDDEN, "AccessDenied", "path not match")
    ///     .with_body("<Reason>path not match</Reason>")
    ///     .with_header(CONTENT_TYPE, HeaderValue::from_static("application/xml"));
    /// let resp = ErrorStyle::AliyunApiGateway.respond(&r, &Request::new(()));
    /// assert_eq!(resp.headers()["content-type"], "application/xml");
    /// assert_eq!(resp.headers()["x-ca-error-message"], "path not match");
    /// ```
    pub fn with_body(mut self, body: impl Into<Bytes>) -> Self {
        self.0.body = Some(body.into());
        self
    }

    /// Sets how `ecosystem` words this refusal, replacing any earlier wording for it.
    pub fn with_wording(mut self, ecosystem: Ecosystem, wording: Wording) -> Self {
        self.0.wordings.retain(|(e, _)| *e != ecosystem);
        self.0.wordings.push((ecosystem, wording));
        self
    }

    /// Aliyun API Gateway wording: a status and the `X-Ca-Error-Message` text.
    pub fn with_aliyun_api_gateway(self, status: StatusCode, message: impl Into<Cow<'static, str>>) -> Self {
        self.with_wording(
            Ecosystem::AliyunApiGateway,
            Wording { status: Some(status), code: None, message: Some(message.into()) },
        )
    }

    /// Aliyun RPC wording: status, `Code` and `Message`.
    pub fn with_aliyun_rpc(
        self,
        status: StatusCode,
        code: impl Into<Cow<'static, str>>,
        message: impl Into<Cow<'static, str>>,
    ) -> Self {
        self.with_wording(
            Ecosystem::AliyunRpc,
            Wording { status: Some(status), code: Some(code.into()), message: Some(message.into()) },
        )
    }

    /// Tencent Cloud API wording: `Error.Code` and `Error.Message` (the status is always 200).
    pub fn with_tencent_cloud(self, code: impl Into<Cow<'static, str>>, message: impl Into<Cow<'static, str>>) -> Self {
        self.with_wording(
            Ecosystem::TencentCloud,
            Wording { status: None, code: Some(code.into()), message: Some(message.into()) },
        )
    }

    /// Tencent API Gateway wording: a status and the `message` text.
    pub fn with_tencent_api_gateway(self, status: StatusCode, message: impl Into<Cow<'static, str>>) -> Self {
        self.with_wording(
            Ecosystem::TencentApiGateway,
            Wording { status: Some(status), code: None, message: Some(message.into()) },
        )
    }

    /// gRPC wording: the status code (otherwise derived from the HTTP status).
    pub fn with_grpc_code(self, code: crate::GrpcCode) -> Self {
        self.with_wording(
            Ecosystem::Grpc,
            Wording { status: None, code: Some(Cow::Owned((code as i32).to_string())), message: None },
        )
    }

    /// The neutral HTTP status.
    pub fn status(&self) -> StatusCode {
        self.0.status
    }

    /// The stable machine code.
    pub fn code(&self) -> &str {
        &self.0.code
    }

    /// The human message.
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// The refusing policy's name.
    pub fn policy(&self) -> &'static str {
        self.0.policy
    }

    /// Extra headers for the refusal response.
    pub fn headers(&self) -> &HeaderMap {
        &self.0.headers
    }

    /// The refusal's own body, if it has one ([`with_body`](Self::with_body)).
    pub fn body(&self) -> Option<&Bytes> {
        self.0.body.as_ref()
    }

    /// The wording set for `ecosystem`, if any.
    pub fn wording(&self, ecosystem: Ecosystem) -> Option<&Wording> {
        self.0.wordings.iter().find(|(e, _)| *e == ecosystem).map(|(_, w)| w)
    }

    /// The status for `ecosystem`: its wording's, else the neutral one.
    pub fn status_for(&self, ecosystem: Ecosystem) -> StatusCode {
        self.wording(ecosystem).and_then(|w| w.status).unwrap_or(self.0.status)
    }

    /// The code for `ecosystem`: its wording's, else the neutral one.
    pub fn code_for(&self, ecosystem: Ecosystem) -> &str {
        self.wording(ecosystem).and_then(|w| w.code.as_deref()).unwrap_or(&self.0.code)
    }

    /// The message for `ecosystem`: its wording's, else the neutral one.
    pub fn message_for(&self, ecosystem: Ecosystem) -> &str {
        self.wording(ecosystem).and_then(|w| w.message.as_deref()).unwrap_or(&self.0.message)
    }
}

impl fmt::Debug for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rejection")
            .field("status", &self.0.status.as_u16())
            .field("code", &self.0.code)
            .field("message", &self.0.message)
            .field("policy", &self.0.policy)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.0.status.as_u16(), self.0.code, self.0.message)
    }
}

impl std::error::Error for Rejection {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wording_falls_back_to_neutral() {
        let r = Rejection::new(StatusCode::TOO_MANY_REQUESTS, "Throttled", "too many").with_aliyun_rpc(
            StatusCode::BAD_REQUEST,
            "Throttling.User",
            "user flow control",
        );
        assert_eq!(r.status_for(Ecosystem::AliyunRpc), StatusCode::BAD_REQUEST);
        assert_eq!(r.code_for(Ecosystem::AliyunRpc), "Throttling.User");
        assert_eq!(r.status_for(Ecosystem::TencentApiGateway), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(r.code_for(Ecosystem::TencentCloud), "Throttled");
    }

    #[test]
    fn later_wording_replaces_earlier() {
        let r =
            Rejection::new(StatusCode::FORBIDDEN, "X", "x").with_tencent_cloud("A", "a").with_tencent_cloud("B", "b");
        assert_eq!(r.code_for(Ecosystem::TencentCloud), "B");
        assert_eq!(r.0.wordings.len(), 1);
    }
}
