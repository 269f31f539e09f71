//! A DENY rule's refusal: status, message, headers and body, checked when the layer is built
//! and rendered per request with the values the rule's parameters took.

use std::borrow::Cow;

use http::header::{self, CONTENT_TYPE};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use tollgate_core::condition::{AliyunLocation, AliyunParameters, RequestView, Template, Variables};
use tollgate_core::{ConfigError, ParamError, Rejection};

use crate::config::Rule;

/// The refusal code of a DENY rule, in every style that shows one.
pub const CODE_DENIED: &str = "ParameterAccessDenied";
/// The message of a DENY rule without `errorMessage` (our wording: the reference documents
/// none).
pub const DEFAULT_MESSAGE: &str = "Access denied by Parameter Access Control";

/// Headers a configured response must not set: they describe the connection or the framing
/// of the body, which the server writes from the body itself. A wrong `Content-Length` would
/// desynchronise the client's connection.
const FRAMING: [HeaderName; 6] = [
    header::CONTENT_LENGTH,
    header::TRANSFER_ENCODING,
    header::CONNECTION,
    header::UPGRADE,
    header::TRAILER,
    HeaderName::from_static("keep-alive"),
];

/// How a value read from the request is written into the body, so that a client cannot
/// change the body's structure through a value the body repeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Escape {
    /// XML and HTML (`Content-Type` `application/xml`, `text/xml`, `text/html`, `*+xml`):
    /// `<`, `>`, `&`, `"` and `'` as character references.
    Markup,
    /// JSON (`application/json`, `*+json`): as the inside of a JSON string.
    Json,
    /// Anything else: as it is.
    None,
}

impl Escape {
    fn for_content_type(content_type: Option<&str>) -> Self {
        let Some(ct) = content_type else { return Self::None };
        let essence = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        if essence.ends_with("/xml") || essence.ends_with("+xml") || essence == "text/html" {
            Self::Markup
        } else if essence.ends_with("/json") || essence.ends_with("+json") {
            Self::Json
        } else {
            Self::None
        }
    }

    pub(crate) fn write(self, value: &str, out: &mut String) {
        match self {
            Self::None => out.push_str(value),
            Self::Markup => {
                for c in value.chars() {
                    match c {
                        '<' => out.push_str("&lt;"),
                        '>' => out.push_str("&gt;"),
                        '&' => out.push_str("&amp;"),
                        '"' => out.push_str("&quot;"),
                        '\'' => out.push_str("&#39;"),
                        c => out.push(c),
                    }
                }
            }
            Self::Json => {
                let quoted = serde_json::Value::from(value).to_string();
                out.push_str(&quoted[1..quoted.len() - 1]);
            }
        }
    }
}

/// The refusal of a rule that can DENY.
#[derive(Debug, Clone)]
pub(crate) struct Deny {
    status: StatusCode,
    message: Option<Template>,
    headers: HeaderMap,
    body: Option<Template>,
    escape: Escape,
}

impl Deny {
    /// Checks a rule's response fields; error paths relative to the rule.
    pub(crate) fn compile(rule: &Rule, parameters: &AliyunParameters) -> Result<Self, ConfigError> {
        let status = match rule.status_code {
            None => StatusCode::FORBIDDEN,
            // 1xx is not a final answer; 2xx to 5xx are (a 200 with a body of one's own, a
            // redirect with its Location header)
            Some(code @ 200..=599) => StatusCode::from_u16(code).map_err(|e| ConfigError::new("statusCode", e))?,
            Some(code) => {
                return Err(ConfigError::new(
                    "statusCode",
                    format!("expected an HTTP status from 200 to 599, got {code}"),
                ));
            }
        };
        let mut headers = HeaderMap::new();
        for (name, value) in &rule.response_headers {
            let field = || format!("responseHeaders.{name}");
            let header = HeaderName::from_bytes(name.trim().as_bytes())
                .map_err(|_| ConfigError::new(field(), format!("expected a header name, got {name:?}")))?;
            if FRAMING.contains(&header) {
                return Err(ConfigError::new(
                    field(),
                    "the server writes the connection and framing headers itself; a configured one could \
                     desynchronise the client's connection",
                ));
            }
            let value = HeaderValue::from_str(value)
                .map_err(|_| ConfigError::new(field(), format!("expected visible ASCII text, got {value:?}")))?;
            headers.append(header, value);
        }
        let escape = Escape::for_content_type(headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()));
        let template = |field: &str, text: &Option<String>| {
            text.as_deref().map(|t| Template::parse(t, parameters).map_err(|e| ConfigError::new(field, e))).transpose()
        };
        Ok(Self {
            status,
            message: template("errorMessage", &rule.error_message)?,
            headers,
            body: template("responseBody", &rule.response_body)?,
            escape,
        })
    }

    /// Whether the message or the body reads a form field.
    pub(crate) fn reads_form(&self) -> bool {
        self.message
            .iter()
            .chain(&self.body)
            .flat_map(Template::locations)
            .any(|l| matches!(l, AliyunLocation::Form(_)))
    }

    /// The refusal for `request`, its values interpolated; an error when a value the
    /// templates read has two readings.
    pub(crate) fn rejection(&self, request: &RequestView<'_>) -> Result<Rejection, ParamError> {
        let message = match &self.message {
            // the message goes into a header: the style cleans line breaks and controls
            Some(t) => t.render(request)?,
            None => DEFAULT_MESSAGE.to_owned(),
        };
        let mut rejection = Rejection::new(self.status, CODE_DENIED, message.clone())
            .with_policy("access")
            .with_aliyun_api_gateway(self.status, message);
        if let Some(body) = &self.body {
            rejection = rejection.with_body(body.render(&Escaped { request, escape: self.escape })?);
        }
        for (name, value) in &self.headers {
            rejection = rejection.with_header(name.clone(), value.clone());
        }
        Ok(rejection)
    }
}

/// The request's values, escaped for the body they go into.
struct Escaped<'v, 'a> {
    request: &'v RequestView<'a>,
    escape: Escape,
}

impl Variables for Escaped<'_, '_> {
    fn value(&self, location: &AliyunLocation) -> Result<Option<Cow<'_, str>>, ParamError> {
        let value = self.request.value(location)?;
        Ok(value.map(|v| match self.escape {
            Escape::None => v,
            escape => {
                let mut out = String::with_capacity(v.len());
                escape.write(&v, &mut out);
                Cow::Owned(out)
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_by_content_type() {
        let e = |ct: &str, v: &str| {
            let mut out = String::new();
            Escape::for_content_type(Some(ct)).write(v, &mut out);
            out
        };
        assert_eq!(e("application/xml", "</Reason><x a='1'>&"), "&lt;/Reason&gt;&lt;x a=&#39;1&#39;&gt;&amp;");
        assert_eq!(e("text/html; charset=utf-8", "<b>"), "&lt;b&gt;");
        assert_eq!(e("application/problem+xml", "<"), "&lt;");
        assert_eq!(e("application/json", "a\"b\\c\n"), "a\\\"b\\\\c\\n");
        assert_eq!(e("application/vnd.x+json", "\""), "\\\"");
        assert_eq!(e("text/plain", "<\"&>"), "<\"&>");
        assert_eq!(Escape::for_content_type(None), Escape::None);
    }
}
