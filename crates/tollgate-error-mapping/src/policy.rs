//! The plug-in compiled: which response is mapped, to what. No tower types: a response's
//! head, its JSON body if read, and what the request knew go in; a new status and message
//! come out.

use std::borrow::Cow;

use http::header::HeaderValue;
use http::{HeaderMap, HeaderName, Request, StatusCode, response};
use serde_json::Value;
use tollgate_core::condition::{AliyunLocation, AliyunParameters, RequestView, Template, Variables};
use tollgate_core::{Condition, ParamError, X_CA_ERROR_MESSAGE};

use crate::config::{ConfigError, DEFAULT_BODY_LIMIT, ErrorMappingConfig, MappingConfig};

/// The header an `ErrorCode` parameter reads: a plain backend has no gateway error code of
/// its own, so the one it (or a gateway before it) put in Aliyun's header is taken.
pub const X_CA_ERROR_CODE: HeaderName = HeaderName::from_static("x-ca-error-code");

/// The longest `X-Ca-Error-Message` written, in bytes: values from the backend's body are
/// put in it, and a header of tens of kilobytes is refused by many proxies and clients.
pub const MAX_MESSAGE_BYTES: usize = 2048;

/// One entry of `mappings` (or the default), compiled.
#[derive(Debug, Clone)]
struct Mapping {
    /// `None`: every code (a catch-all, at its place in the list).
    code: Option<String>,
    status: StatusCode,
    message: Option<Template>,
}

/// What the body gave: not read (no `BodyJsonField`, or not JSON), or read but unusable
/// (over the limit, cut short, not JSON), or its JSON.
#[derive(Debug, Clone, Copy)]
pub(crate) enum BodyFields<'a> {
    NotRead,
    Unreadable,
    Json(&'a Value),
}

/// The request-phase values the plug-in reads (`System:`, `Token:`), taken when the request
/// went in: the response cannot see the request.
#[derive(Debug, Clone, Default)]
pub(crate) struct Captured(Vec<(AliyunLocation, Option<String>)>);

/// The compiled plug-in.
#[derive(Debug, Clone)]
pub(crate) struct Policy {
    condition: Condition,
    /// The location `errorCode` names.
    error_code: Option<AliyunLocation>,
    mappings: Vec<Mapping>,
    default: Option<Mapping>,
    /// Whether the condition, `errorCode` or a message reads a `BodyJsonField`: only then
    /// are bodies read.
    reads_body: bool,
    /// The `System:` and `Token:` locations the plug-in reads, taken from each request.
    captures: Vec<AliyunLocation>,
    /// Whether the condition reads a `BodyJsonField`.
    condition_reads_body: bool,
    pub(crate) body_limit: usize,
}

impl Policy {
    pub(crate) fn from_config(config: &ErrorMappingConfig) -> Result<Self, ConfigError> {
        let params = AliyunParameters::from_pairs(config.parameters.iter().map(|(n, l)| (n, l)))?.for_response()?;
        // (core checks each BodyJsonField's JSONPath as it reads the location)
        let condition = Condition::parse_aliyun(&config.error_condition, &params)
            .map_err(|e| ConfigError::new("errorCondition", e))?;
        let error_code = match &config.error_code {
            None => None,
            Some(name) => Some(
                // a declared parameter, or a system parameter by Aliyun's name, as in a condition
                params.resolve(name.trim_start_matches('$')).ok_or_else(|| {
                    ConfigError::new("errorCode", format!("{name:?} is neither a parameter nor a system parameter"))
                })?,
            ),
        };
        let mut mappings = Vec::with_capacity(config.mappings.len());
        for (i, entry) in config.mappings.iter().enumerate() {
            let field = format!("mappings[{i}]");
            let mapping = mapping(entry, &params).map_err(|e| e.within(&field))?;
            if mapping.code.is_some() && error_code.is_none() {
                return Err(ConfigError::new(
                    format!("{field}.code"),
                    "a code is matched against the parameter `errorCode` names, and there is no errorCode",
                ));
            }
            if let Some(earlier) = mappings.iter().position(|m: &Mapping| m.code.is_none() || m.code == mapping.code) {
                return Err(ConfigError::new(
                    format!("{field}.code"),
                    format!("never applies: mappings[{earlier}] matches every response it would"),
                ));
            }
            mappings.push(mapping);
        }
        let default = match &config.default_mapping {
            None => None,
            Some(entry) if entry.code.is_some() => {
                return Err(ConfigError::new("defaultMapping.code", "the default mapping has no code"));
            }
            Some(entry) => Some(mapping(entry, &params).map_err(|e| e.within("defaultMapping"))?),
        };
        if config.body_limit == Some(0) {
            return Err(ConfigError::new("bodyLimit", "expected a positive number of bytes"));
        }

        let condition_locations = condition.aliyun_locations();
        let condition_reads_body = condition_locations.iter().any(|l| matches!(l, AliyunLocation::BodyJsonField(_)));
        let mut captures: Vec<AliyunLocation> = Vec::new();
        let messages = mappings.iter().chain(&default).filter_map(|m| m.message.as_ref());
        // what is read: a parameter declared and never used costs nothing
        let used: Vec<&AliyunLocation> =
            condition_locations.iter().chain(error_code.iter()).chain(messages.flat_map(Template::locations)).collect();
        let reads_body = used.iter().any(|l| matches!(l, AliyunLocation::BodyJsonField(_)));
        for &location in &used {
            match location {
                AliyunLocation::System(_) | AliyunLocation::Token(_) if !captures.contains(location) => {
                    captures.push(location.clone())
                }
                _ => {}
            }
        }
        Ok(Self {
            condition,
            error_code,
            mappings,
            default,
            reads_body,
            captures,
            condition_reads_body,
            body_limit: config.body_limit.unwrap_or(DEFAULT_BODY_LIMIT),
        })
    }

    /// Whether responses must be read: only when a `BodyJsonField` is used.
    pub(crate) fn reads_body(&self) -> bool {
        self.reads_body
    }

    /// Takes what the plug-in reads of the request (`System:`, `Token:`).
    pub(crate) fn capture<B>(&self, req: &Request<B>) -> Captured {
        if self.captures.is_empty() {
            return Captured::default();
        }
        let view = RequestView::from_request(req);
        Captured(
            self.captures
                .iter()
                .map(|l| (l.clone(), view.aliyun_value(l).ok().flatten().map(Cow::into_owned)))
                .collect(),
        )
    }

    /// Maps the response's head if the condition holds: its status, and `X-Ca-Error-Message`.
    pub(crate) fn apply(&self, head: &mut response::Parts, body: BodyFields<'_>, captured: &Captured) {
        if matches!(body, BodyFields::Unreadable) && self.condition_reads_body {
            // a condition on a body that could not be read is not judged: the response
            // passes as the backend sent it (see the crate docs)
            tracing::debug!(policy = "error_mapping", "body not readable as JSON: response passed unchanged");
            return;
        }
        let Some((status, message)) = self.decide(head, body, captured) else { return };
        tracing::debug!(policy = "error_mapping", from = head.status.as_u16(), to = status.as_u16(), "response mapped");
        head.status = status;
        if let Some(message) = message {
            head.headers.insert(X_CA_ERROR_MESSAGE, message);
        }
    }

    /// The status and message the response is mapped to, if any.
    fn decide(
        &self,
        head: &response::Parts,
        body: BodyFields<'_>,
        captured: &Captured,
    ) -> Option<(StatusCode, Option<HeaderValue>)> {
        let json = match body {
            BodyFields::Json(value) => Some(value),
            BodyFields::NotRead | BodyFields::Unreadable => None,
        };
        let vars = ResponseVars { status: head.status, headers: &head.headers, json, captured };
        let (method, uri, headers, extensions) =
            (http::Method::GET, http::Uri::default(), HeaderMap::new(), http::Extensions::new());
        // Every `$name` of a response-phase plug-in is read through `vars`; the view is empty.
        let view = RequestView::new(&method, &uri, &headers, &extensions);
        if !self.condition.evaluate_with(&view, &vars) {
            return None;
        }
        let code = match &self.error_code {
            Some(location) => vars.value(location).ok().flatten(),
            None => None,
        };
        let mapping = self
            .mappings
            .iter()
            .find(|m| m.code.as_deref().is_none_or(|c| code.as_deref() == Some(c)))
            .or(self.default.as_ref())?;
        let message = mapping.message.as_ref().map(|t| header_value(&t.render(&vars).unwrap_or_default()));
        Some((mapping.status, message))
    }
}

/// One mapping entry; errors relative to it.
fn mapping(entry: &MappingConfig, params: &AliyunParameters) -> Result<Mapping, ConfigError> {
    let status = match entry.status_code {
        None => return Err(ConfigError::new("statusCode", "missing: the status the client sees (200 to 599)")),
        Some(n @ 200..=599) => StatusCode::from_u16(n as u16).expect("in range"),
        Some(n) => {
            return Err(ConfigError::new("statusCode", format!("expected an HTTP status from 200 to 599, got {n}")));
        }
    };
    let message = match &entry.error_message {
        None => None,
        Some(text) => Some(Template::parse(text, params).map_err(|e| ConfigError::new("errorMessage", e))?),
    };
    Ok(Mapping { code: entry.code.clone(), status, message })
}

/// A message as a header value: control characters (CR and LF among them, which would
/// start a header of the client's choosing) become spaces, and it is cut at
/// [`MAX_MESSAGE_BYTES`] on a character boundary. UTF-8 is kept as bytes (obs-text), so a
/// message in Chinese reaches the client as written.
fn header_value(message: &str) -> HeaderValue {
    let mut end = message.len().min(MAX_MESSAGE_BYTES);
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    let clean: String = message[..end].chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    HeaderValue::from_bytes(clean.trim().as_bytes()).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The values of a response-phase plug-in's parameters.
struct ResponseVars<'a> {
    status: StatusCode,
    headers: &'a HeaderMap,
    json: Option<&'a Value>,
    captured: &'a Captured,
}

impl Variables for ResponseVars<'_> {
    fn value(&self, location: &AliyunLocation) -> Result<Option<Cow<'_, str>>, ParamError> {
        let header = |name: &HeaderName| {
            // the first value, as Aliyun documents; a backend is not a hostile client
            self.headers.get(name).and_then(|v| v.to_str().ok()).map(Cow::Borrowed)
        };
        Ok(match location {
            AliyunLocation::StatusCode => Some(Cow::Owned(self.status.as_u16().to_string())),
            AliyunLocation::ErrorCode => header(&X_CA_ERROR_CODE),
            AliyunLocation::Header(name) => header(name),
            // core's reading of the path: a string as it is, other JSON as its text, null absent
            AliyunLocation::BodyJsonField(_) => self.json.and_then(|json| location.select_json(json)),
            AliyunLocation::System(_) | AliyunLocation::Token(_) => {
                self.captured.0.iter().find(|(l, _)| l == location).and_then(|(_, v)| v.as_deref()).map(Cow::Borrowed)
            }
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_values_lose_control_characters_and_keep_utf8() {
        assert_eq!(header_value("a\r\nSet-Cookie: x").as_bytes(), b"a  Set-Cookie: x");
        assert_eq!(header_value("角色不存在").as_bytes(), "角色不存在".as_bytes());
        // the limit falls inside a two-byte character: cut before it
        let long = format!("a{}", "é".repeat(MAX_MESSAGE_BYTES));
        let value = header_value(&long);
        assert_eq!(value.len(), MAX_MESSAGE_BYTES - 1);
        assert!(std::str::from_utf8(value.as_bytes()).is_ok());
        assert_eq!(header_value("\u{0}\u{7f}\u{85}").as_bytes(), b"");
    }
}
