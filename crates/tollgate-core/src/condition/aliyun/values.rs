//! [`Variables`]: the values of Aliyun parameters, and the one routine that reads them from a
//! request ([`RequestView::aliyun_value`]).

use std::borrow::Cow;

use http::HeaderName;

use super::params::AliyunLocation;
use crate::condition::RequestView;
use crate::condition::lenient;
use crate::param::{ParamError, normalize_path};
use crate::{Caller, RequestId, SystemParam, SystemValues, TokenClaims};

/// Where the values of Aliyun parameters come from when a condition is evaluated or a
/// [`Template`](super::Template) rendered.
///
/// A [`RequestView`] is one: it reads every request-phase location (see
/// [`RequestView::aliyun_value`]). A response-phase plug-in (error mapping) implements it
/// for `StatusCode`, `ErrorCode`, the response's `Header:NAME` and `BodyJsonField:$.PATH`,
/// and hands the rest (`System:`, `Token:`) to the request's view.
///
/// ```
/// use std::borrow::Cow;
/// use http::Request;
/// use tollgate_core::ParamError;
/// use tollgate_core::condition::{AliyunLocation, AliyunParameters, RequestView, Variables};
/// use tollgate_core::Condition;
///
/// struct Response<'a> { status: u16, request: RequestView<'a> }
///
/// impl Variables for Response<'_> {
///     fn value(&self, location: &AliyunLocation) -> Result<Option<Cow<'_, str>>, ParamError> {
///         match location {
///             AliyunLocation::StatusCode => Ok(Some(Cow::Owned(self.status.to_string()))),
///             other => self.request.value(other),
///         }
///     }
/// }
///
/// let params = AliyunParameters::from_pairs([("statusCode", "StatusCode")])?.for_response()?;
/// let cond = Condition::parse_aliyun("${statusCode} = 200 and $CaStage = 'RELEASE'", &params)?;
/// let req = Request::new(());
/// let view = RequestView::from_request(&req);
/// assert!(cond.evaluate_with(&view, &Response { status: 200, request: view }));
/// assert!(!cond.evaluate_with(&view, &Response { status: 500, request: view }));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait Variables {
    /// The value at `location`; `None` when there is none (`null` in a condition); an error
    /// when the request gives it in two readings (see [`Condition::check`](crate::Condition::check)).
    fn value(&self, location: &AliyunLocation) -> Result<Option<Cow<'_, str>>, ParamError>;
}

impl Variables for RequestView<'_> {
    fn value(&self, location: &AliyunLocation) -> Result<Option<Cow<'_, str>>, ParamError> {
        self.aliyun_value(location)
    }
}

impl<T: Variables + ?Sized> Variables for &T {
    fn value(&self, location: &AliyunLocation) -> Result<Option<Cow<'_, str>>, ParamError> {
        (**self).value(location)
    }
}

static NO_VALUES: SystemValues = SystemValues {
    api_name: None,
    stage: None,
    proxy: None,
    instance_id: None,
    source_vpc_id: None,
    cloud_market_instance_id: None,
    app_extend_info: None,
};

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

impl<'a> RequestView<'a> {
    /// The value of an Aliyun parameter in this request: the one routine every request-phase
    /// plug-in reads its `parameters` with.
    ///
    /// | location | value |
    /// |---|---|
    /// | `Method` | `GET`, `POST`, ... |
    /// | `Path` | the path as a backend routes it ([`normalize_path`]) |
    /// | `Header:NAME` | the header's value; absent if not UTF-8 |
    /// | `Query:NAME`, `Form:NAME` | the parameter's value, percent-decoded (a form only when the body was given, [`with_body`](Self::with_body)) |
    /// | `Parameter:NAME`, `Path:NAME` | the path parameter a route template bound ([`PathParams`](crate::PathParams)) |
    /// | `System:NAME` | the system parameter (below) |
    /// | `Token:NAME` | the claim of the verified token ([`TokenClaims`]): a string as is, other JSON as its text |
    /// | `XFF:INDEX` | the entry of `X-Forwarded-For` (every line, in order), trimmed; absent out of range |
    /// | `StatusCode`, `ErrorCode`, `BodyJsonField` | absent: response phase ([`Variables`]) |
    ///
    /// System parameters: `CaClientIp` the [`ClientIp`](crate::ClientIp), `CaDomain` the host
    /// without its port, `CaHttpSchema` `HTTP` / `HTTPS` (as `sysparam.httpScheme`; both
    /// compared ignoring case), `CaClientUa` the `User-Agent`, `CaAppKey` / `CaAppId` the
    /// [`Caller`]'s key id / app id, `CaRequestId` the [`RequestId`], `CaRequestHandleTime`
    /// an HTTP date ([`with_time`](Self::with_time)), the rest from
    /// [`with_system_values`](Self::with_system_values).
    ///
    /// A header, query or form parameter given twice, with a malformed escape, or also under
    /// a name some backend reads as the same one (`x_user` for the header `x-user`; `ID`,
    /// `id[]`, `i.d` for `i_d`, or `;id=` for the query `id`) is an error rather than a guess
    /// at which one the backend reads. `XFF:` is what the client
    /// or the proxies before tollgate wrote: only entries added by proxies you trust say
    /// anything (`XFF:-1` behind one trusted proxy); `$CaClientIp` is the address
    /// [`ClientIpLayer`](crate::ClientIpLayer) settled on.
    pub fn aliyun_value(&self, location: &AliyunLocation) -> Result<Option<Cow<'a, str>>, ParamError> {
        let text = match location {
            AliyunLocation::Method => Some(self.method),
            AliyunLocation::Path => return normalize_path(self.path).map(Some),
            AliyunLocation::Header(name) => lenient::header(self.headers, name)?,
            AliyunLocation::Query(name) => {
                let Some(query) = self.query else { return Ok(None) };
                return lenient::pair(query.as_bytes(), name, "query");
            }
            AliyunLocation::Form(name) => {
                let Some(form) = self.form else { return Ok(None) };
                return lenient::pair(form, name, "form");
            }
            AliyunLocation::Parameter(name) => self.path_params.and_then(|p| p.get(name)),
            AliyunLocation::System(param) => return self.system_value(*param),
            AliyunLocation::Token(name) => {
                let claims = self.extensions.and_then(TokenClaims::from_extensions);
                return Ok(claims.and_then(|c| c.text(name)).map(|t| Cow::Owned(t.into_owned())));
            }
            AliyunLocation::Xff(index) => return Ok(self.xff(*index).map(Cow::Borrowed)),
            AliyunLocation::StatusCode | AliyunLocation::ErrorCode | AliyunLocation::BodyJsonField(_) => None,
        };
        Ok(text.map(Cow::Borrowed))
    }

    fn xff(&self, index: i64) -> Option<&'a str> {
        let entries = || {
            self.headers
                .get_all(X_FORWARDED_FOR)
                .iter()
                .filter_map(|v| std::str::from_utf8(v.as_bytes()).ok())
                .flat_map(|v| v.split(','))
                .map(str::trim)
        };
        match usize::try_from(index) {
            Ok(i) => entries().nth(i),
            Err(_) => {
                let back = usize::try_from(index.unsigned_abs()).ok()?;
                let count = entries().count();
                entries().nth(count.checked_sub(back)?)
            }
        }
    }

    fn caller(&self) -> Option<&'a Caller> {
        self.extensions.and_then(Caller::from_extensions)
    }

    fn system_value(&self, param: SystemParam) -> Result<Option<Cow<'a, str>>, ParamError> {
        let borrowed = |s: Option<&'a str>| Ok(s.map(Cow::Borrowed));
        match param {
            SystemParam::ClientIp => Ok(self.client_ip.map(|ip| Cow::Owned(ip.to_string()))),
            SystemParam::Host => borrowed(self.host),
            SystemParam::Scheme => borrowed(Some(self.scheme())),
            SystemParam::UserAgent => borrowed(self.user_agent()?),
            SystemParam::AppKey => borrowed(self.caller),
            SystemParam::AppId => borrowed(self.caller().map(Caller::app_id).or(self.caller)),
            SystemParam::RequestId => {
                borrowed(self.extensions.and_then(RequestId::from_extensions).map(RequestId::as_str))
            }
            SystemParam::RequestTime => {
                let time = self.time.unwrap_or_else(std::time::SystemTime::now);
                Ok(Some(Cow::Owned(httpdate::fmt_http_date(time))))
            }
            other => borrowed(self.system.unwrap_or(&NO_VALUES).get(other)),
        }
    }
}
