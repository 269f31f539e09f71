//! [`RequestView`]: the facts about a request a condition can read.

use std::net::IpAddr;

use http::header::{CONTENT_TYPE, HOST, USER_AGENT};
use http::{Extensions, HeaderMap, Method, Request, Uri};

use crate::{Caller, ClientIp, PathParams, SystemValues};

/// What a [`Condition`](super::Condition) reads from a request: a cheap, copyable set of
/// borrows, built from the request head and its extensions.
///
/// From the head: method, path, raw query, host (the URI authority, else the `Host` header,
/// without the port), headers, scheme (`HTTP` / `HTTPS`, from the URI). From the extensions:
/// the [`ClientIp`] (or the peer address), the [`Caller`]'s key id and the [`PathParams`]
/// a route template bound. The builder methods add or replace what the head cannot know:
/// the buffered body, the scheme of a connection whose URI carries none, and so on.
///
/// ```
/// use http::Request;
/// use tollgate_core::condition::RequestView;
///
/// let req = Request::post("/orders?id=7")
///     .header("content-type", "application/x-www-form-urlencoded")
///     .body(())
///     .unwrap();
/// let body = b"qty=3";
/// let view = RequestView::from_request(&req).with_body(body).with_https(true);
/// # let _ = view;
/// ```
#[derive(Debug, Clone, Copy)]
pub struct RequestView<'a> {
    pub(super) method: &'a str,
    pub(super) path: &'a str,
    pub(super) query: Option<&'a str>,
    pub(super) host: Option<&'a str>,
    pub(super) headers: &'a HeaderMap,
    pub(super) path_params: Option<&'a PathParams>,
    pub(super) form: Option<&'a [u8]>,
    pub(super) client_ip: Option<IpAddr>,
    pub(super) caller: Option<&'a str>,
    /// The scheme the URI names, `HTTP` or `HTTPS`, if it names one of them.
    pub(super) uri_scheme: Option<&'static str>,
    /// The scheme when the URI names none.
    pub(super) https: bool,
    /// The request's extensions (request id, caller, token claims), when built from a head.
    pub(super) extensions: Option<&'a Extensions>,
    /// What only configuration knows (`$CaApiName`, `$CaInstanceId`, ...).
    pub(super) system: Option<&'a SystemValues>,
    /// When the gateway handled the request (`$CaRequestHandleTime`); now, when unset.
    pub(super) time: Option<std::time::SystemTime>,
}

impl<'a> RequestView<'a> {
    /// A view of a request head and its extensions.
    pub fn new(method: &'a Method, uri: &'a Uri, headers: &'a HeaderMap, extensions: &'a Extensions) -> Self {
        let host = match uri.authority() {
            Some(authority) => Some(authority.host()),
            None => headers.get(HOST).and_then(|v| v.to_str().ok()).map(strip_port),
        };
        let uri_scheme = uri.scheme_str().and_then(|s| {
            if s.eq_ignore_ascii_case("https") {
                Some("HTTPS")
            } else if s.eq_ignore_ascii_case("http") {
                Some("HTTP")
            } else {
                None
            }
        });
        Self {
            method: method.as_str(),
            path: uri.path(),
            query: uri.query(),
            host: host.filter(|h| !h.is_empty()),
            headers,
            path_params: extensions.get::<PathParams>(),
            form: None,
            client_ip: ClientIp::from_extensions(extensions).map(|c| c.ip()),
            caller: Caller::from_extensions(extensions).map(Caller::key_id),
            uri_scheme,
            https: false,
            extensions: Some(extensions),
            system: None,
            time: None,
        }
    }

    /// A view of a request's head and extensions.
    pub fn from_parts(parts: &'a http::request::Parts) -> Self {
        Self::new(&parts.method, &parts.uri, &parts.headers, &parts.extensions)
    }

    /// A view of a request's head and extensions (the body is not read; see
    /// [`RequestView::with_body`]).
    pub fn from_request<B>(request: &'a Request<B>) -> Self {
        Self::new(request.method(), request.uri(), request.headers(), request.extensions())
    }

    /// Adds the buffered body: its fields are the `form.NAME` operands when the request's
    /// `Content-Type` is `application/x-www-form-urlencoded`; other bodies are ignored.
    /// Needed only when [`Condition::needs_form_body`](super::Condition::needs_form_body).
    pub fn with_body(mut self, body: &'a [u8]) -> Self {
        let is_form = self
            .headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"));
        self.form = is_form.then_some(body);
        self
    }

    /// Sets the parameters a path template bound (`path.NAME`), replacing any found in the
    /// extensions.
    pub fn with_path_params(mut self, params: &'a PathParams) -> Self {
        self.path_params = Some(params);
        self
    }

    /// Sets the client address (`client_ip`), replacing the one from the extensions.
    pub fn with_client_ip(mut self, ip: IpAddr) -> Self {
        self.client_ip = Some(ip.to_canonical());
        self
    }

    /// Sets the caller (`caller`), replacing the one from the extensions.
    pub fn with_caller(mut self, caller: &'a str) -> Self {
        self.caller = Some(caller);
        self
    }

    /// Whether the connection is HTTPS, for requests whose URI names no scheme (an HTTP/1
    /// request line usually does not). A scheme in the URI wins. Default: `false` (`HTTP`).
    pub fn with_https(mut self, https: bool) -> Self {
        self.https = https;
        self
    }

    /// Sets what only configuration knows, for Aliyun's system parameters `$CaApiName`,
    /// `$CaStage`, `$CaProxy`, `$CaInstanceId`, `$CaSourceVpcId`, `$CaCloudMarketInstanceId`,
    /// `$CaAppExtendInfo` (without it, each has its default: see [`SystemValues`]).
    pub fn with_system_values(mut self, values: &'a SystemValues) -> Self {
        self.system = Some(values);
        self
    }

    /// Sets when the gateway handled the request (`$CaRequestHandleTime`; default: the time
    /// the parameter is read).
    pub fn with_time(mut self, time: std::time::SystemTime) -> Self {
        self.time = Some(time);
        self
    }

    /// `sysparam.httpScheme`: `HTTP` or `HTTPS`.
    pub(super) fn scheme(&self) -> &'static str {
        self.uri_scheme.unwrap_or(if self.https { "HTTPS" } else { "HTTP" })
    }

    /// The User-Agent header (`sysparam.clientUa`); an error when it is sent twice.
    pub(super) fn user_agent(&self) -> Result<Option<&'a str>, crate::param::ParamError> {
        let mut values = self.headers.get_all(USER_AGENT).iter();
        let first = values.next();
        if values.next().is_some() {
            return Err(crate::param::ParamError::Repeated("header user-agent".into()));
        }
        Ok(first.and_then(|v| std::str::from_utf8(v.as_bytes()).ok()))
    }
}

/// `example.com:8080` → `example.com`; `[::1]:80` → `[::1]`.
fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host.find(']').map_or(host, |end| &host[..=end]);
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_without_port() {
        assert_eq!(strip_port("example.com:8080"), "example.com");
        assert_eq!(strip_port("example.com"), "example.com");
        assert_eq!(strip_port("[::1]:443"), "[::1]");
        assert_eq!(strip_port("[::1]"), "[::1]");
        let req = Request::get("http://Api.Example.com:81/x").header("host", "other").body(()).unwrap();
        let view = RequestView::from_request(&req);
        assert_eq!(view.host, Some("Api.Example.com"));
        assert_eq!(view.scheme(), "HTTP");
        let req = Request::get("/x").header("host", "h.example:8443").body(()).unwrap();
        let view = RequestView::from_request(&req).with_https(true);
        assert_eq!(view.host, Some("h.example"));
        assert_eq!(view.scheme(), "HTTPS");
    }
}
