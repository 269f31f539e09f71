//! [`AliyunParameters`]: the `parameters` map of Aliyun's plug-ins, read and checked.

use std::fmt;
use std::str::FromStr;

use http::HeaderName;
use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{ConfigError, SystemParam};

/// Where an Aliyun parameter's value comes from: the value of one entry of a plug-in's
/// `parameters` map (`"Query:action"`, `"System:CaAppId"`).
///
/// The location word is read ignoring case (`query:action`); the name after the colon keeps
/// its case (header names excepted, which HTTP compares ignoring case).
///
/// | written | variant | phase |
/// |---|---|---|
/// | `Method` | [`Method`](Self::Method) | request |
/// | `Path` | [`Path`](Self::Path) | request |
/// | `Path:NAME` | [`Parameter`](Self::Parameter) (see below) | request |
/// | `StatusCode` | [`StatusCode`](Self::StatusCode) | response |
/// | `ErrorCode` | [`ErrorCode`](Self::ErrorCode) | response |
/// | `Header:NAME` | [`Header`](Self::Header) | both |
/// | `Query:NAME` | [`Query`](Self::Query) | request |
/// | `Form:NAME` | [`Form`](Self::Form) | request |
/// | `Parameter:NAME` | [`Parameter`](Self::Parameter) | request |
/// | `BodyJsonField:$.PATH`, `BodyJson:$.PATH` | [`BodyJsonField`](Self::BodyJsonField) | response |
/// | `System:NAME` | [`System`](Self::System) | both |
/// | `Token:NAME` | [`Token`](Self::Token) | both |
/// | `XFF:INDEX` | [`Xff`](Self::Xff) | request |
///
/// Settled where Aliyun's documentation is unclear (UNCERTAIN in the spec):
///
/// - `Path:NAME` (the access-control example's `pathUserId: "path:userId"`) reads the path
///   parameter `NAME`, as `Parameter:NAME` does: the example compares it with a user id, and
///   `Path` itself takes no name.
/// - `Host:NAME` reads a parameter of a wildcard-domain template, which tollgate does not
///   bind: it is refused when built, pointing at `System:CaDomain` for the host, rather than
///   be `null` on every request.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AliyunLocation {
    /// The method, upper case (`GET`).
    Method,
    /// The whole path, as a backend routes it (`/path/to/query`).
    Path,
    /// The backend's status code (response phase).
    StatusCode,
    /// The gateway's error code (response phase).
    ErrorCode,
    /// A header's value: of the request, or of the backend's response in the response phase.
    Header(HeaderName),
    /// A query parameter's value.
    Query(String),
    /// A form field's value (`application/x-www-form-urlencoded` body).
    Form(String),
    /// A parameter the API defines, by its front-end name: in tollgate, a path parameter bound
    /// by a route template ([`PathParams`](crate::PathParams)).
    Parameter(String),
    /// A field of the backend's JSON response body, by JSONPath (`$.result_code`): `$`
    /// then `.name`, `['name']` or `[index]` steps, checked when read (wildcards, `..` and
    /// filters are refused); [`AliyunLocation::select_json`] reads it.
    BodyJsonField(String),
    /// A system parameter.
    System(SystemParam),
    /// A claim of the verified token ([`TokenClaims`](crate::TokenClaims)).
    Token(String),
    /// An entry of `X-Forwarded-For`, from 0; negative counts from the end (`-1` the last).
    Xff(i64),
}

/// When a plug-in runs: before the backend (access control, flow control, routing) or after
/// it (error mapping).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Before the request reaches the backend.
    Request,
    /// After the backend answered.
    Response,
}

impl AliyunLocation {
    /// Whether the location has a value in `phase`.
    pub fn available_in(&self, phase: Phase) -> bool {
        match self {
            Self::Header(_) | Self::System(_) | Self::Token(_) => true,
            Self::StatusCode | Self::ErrorCode | Self::BodyJsonField(_) => phase == Phase::Response,
            Self::Method | Self::Path | Self::Query(_) | Self::Form(_) | Self::Parameter(_) | Self::Xff(_) => {
                phase == Phase::Request
            }
        }
    }
}

impl AliyunLocation {
    /// The value a `BodyJsonField` location selects in a response body, as text (a string
    /// as it is, other JSON as its text; `None` when absent or `null`); `None` for any other
    /// location. For the response-phase [`Variables`](super::Variables) of error mapping.
    ///
    /// ```
    /// use tollgate_core::condition::AliyunLocation;
    ///
    /// let body = serde_json::json!({"result_code": "ROLE_NOT_EXISTS", "data": {"n": [1, 2]}});
    /// let code: AliyunLocation = "BodyJsonField:$.result_code".parse().unwrap();
    /// assert_eq!(code.select_json(&body).as_deref(), Some("ROLE_NOT_EXISTS"));
    /// let second: AliyunLocation = "BodyJson:$.data.n[1]".parse().unwrap();
    /// assert_eq!(second.select_json(&body).as_deref(), Some("2"));
    /// ```
    pub fn select_json<'v>(&self, body: &'v serde_json::Value) -> Option<std::borrow::Cow<'v, str>> {
        match self {
            Self::BodyJsonField(path) => super::json_path::select(body, path),
            _ => None,
        }
    }
}

impl FromStr for AliyunLocation {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let (word, name) = match text.split_once(':') {
            Some((word, name)) => (word.trim(), Some(name)),
            None => (text.trim(), None),
        };
        let lower = word.to_ascii_lowercase();
        let named = |what: &str| -> Result<&str, String> {
            match name {
                Some(n) if !n.is_empty() => Ok(n),
                _ => Err(format!("{word} takes a name: {word}:{what}")),
            }
        };
        let unnamed = |location: AliyunLocation| -> Result<AliyunLocation, String> {
            match name {
                None => Ok(location),
                Some(_) => Err(format!("{word} takes no name (write {word} alone)")),
            }
        };
        match lower.as_str() {
            "method" => unnamed(Self::Method),
            "path" if name.is_none() => Ok(Self::Path),
            "path" | "parameter" => Ok(Self::Parameter(named("NAME")?.to_owned())),
            "statuscode" => unnamed(Self::StatusCode),
            "errorcode" => unnamed(Self::ErrorCode),
            "header" => {
                let n = named("NAME")?;
                HeaderName::from_bytes(n.as_bytes())
                    .map(Self::Header)
                    .map_err(|_| format!("{n:?} is not a header name"))
            }
            "query" => Ok(Self::Query(named("NAME")?.to_owned())),
            "form" => Ok(Self::Form(named("NAME")?.to_owned())),
            "host" => Err("Host:NAME reads a wildcard-domain parameter, which tollgate does not bind; \
                           the host is System:CaDomain"
                .to_owned()),
            "bodyjsonfield" | "bodyjson" => {
                let path = named("$.PATH")?;
                super::json_path::check(path)?;
                Ok(Self::BodyJsonField(path.to_owned()))
            }
            "system" => {
                let n = named("CaClientIp")?;
                n.parse::<SystemParam>().map(Self::System)
            }
            "token" => Ok(Self::Token(named("CLAIM")?.to_owned())),
            "xff" => {
                let n = named("INDEX")?;
                n.trim()
                    .parse::<i64>()
                    .map(Self::Xff)
                    .map_err(|_| format!("{n:?} is not an index into X-Forwarded-For (0 the first, -1 the last)"))
            }
            _ => Err(format!(
                "unknown location {word:?}, expected Method, Path, StatusCode, ErrorCode, Header:NAME, Query:NAME, \
                 Form:NAME, Parameter:NAME, BodyJsonField:$.PATH, System:NAME, Token:NAME or XFF:INDEX"
            )),
        }
    }
}

impl fmt::Display for AliyunLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Method => f.write_str("Method"),
            Self::Path => f.write_str("Path"),
            Self::StatusCode => f.write_str("StatusCode"),
            Self::ErrorCode => f.write_str("ErrorCode"),
            Self::Header(n) => write!(f, "Header:{n}"),
            Self::Query(n) => write!(f, "Query:{n}"),
            Self::Form(n) => write!(f, "Form:{n}"),
            Self::Parameter(n) => write!(f, "Parameter:{n}"),
            Self::BodyJsonField(p) => write!(f, "BodyJsonField:{p}"),
            Self::System(p) => write!(f, "System:{}", p.aliyun_name()),
            Self::Token(n) => write!(f, "Token:{n}"),
            Self::Xff(i) => write!(f, "XFF:{i}"),
        }
    }
}

impl Serialize for AliyunLocation {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for AliyunLocation {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Whether `name` can name a parameter: `[A-Za-z_][A-Za-z0-9_]*`.
pub(crate) fn is_param_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// The `parameters` map of an Aliyun plug-in (access control, flow control, routing, error
/// mapping): each name a condition reads as `$name` (or `${name}`), and where its value
/// comes from ([`AliyunLocation`]).
///
/// Names are `[A-Za-z_][A-Za-z0-9_]*`: Aliyun documents `[a-zA-Z_][a-zA-Z0-9]+`, a subset
/// (its examples all fit); a one-letter name and underscores after the first letter are
/// accepted too. Names are case-sensitive and unique. The map keeps its order.
///
/// Checked for the plug-in's phase with [`for_request`](Self::for_request) (access control,
/// flow control, routing) or [`for_response`](Self::for_response) (error mapping); each
/// error names the field `parameters.NAME`.
///
/// ```
/// use tollgate_core::condition::{AliyunLocation, AliyunParameters};
/// use tollgate_core::SystemParam;
///
/// let yaml_as_json = r#"{"method": "Method", "appId": "System:CaAppId", "action": "Query:action", "userId": "Token:UserId"}"#;
/// let params: AliyunParameters = serde_json::from_str(yaml_as_json).unwrap();
/// let params = params.for_request().unwrap();
/// assert_eq!(params.get("appId"), Some(&AliyunLocation::System(SystemParam::AppId)));
///
/// let response_only = AliyunParameters::from_pairs([("statusCode", "StatusCode")]).unwrap();
/// let err = response_only.for_request().unwrap_err();
/// assert_eq!(err.field, "parameters.statusCode");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AliyunParameters {
    entries: Vec<(String, AliyunLocation)>,
}

impl AliyunParameters {
    /// No parameters (conditions may still read system parameters, `$CaAppId`).
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads `name → location` pairs, as written in a plug-in's `parameters`; the error names
    /// `parameters.NAME`.
    pub fn from_pairs<I, K, V>(pairs: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut params = Self::new();
        for (name, location) in pairs {
            let (name, location) = (name.as_ref(), location.as_ref());
            let location = location.parse().map_err(|e| ConfigError::new(field(name), e))?;
            params = params.with(name, location)?;
        }
        Ok(params)
    }

    /// Adds a parameter; the error names `parameters.NAME` (a bad or repeated name).
    pub fn with(mut self, name: &str, location: AliyunLocation) -> Result<Self, ConfigError> {
        if !is_param_name(name) {
            return Err(ConfigError::new(
                field(name),
                "a parameter name is a letter or _ followed by letters, digits or _",
            ));
        }
        if self.get(name).is_some() {
            return Err(ConfigError::new(field(name), "the name is declared twice"));
        }
        self.entries.push((name.to_owned(), location));
        Ok(self)
    }

    /// Refuses a location a request-phase plug-in cannot read (StatusCode, ErrorCode,
    /// BodyJsonField); the error names `parameters.NAME`.
    pub fn for_request(self) -> Result<Self, ConfigError> {
        self.for_phase(Phase::Request)
    }

    /// Refuses a location a response-phase plug-in cannot read (Method, Path, Query, Form,
    /// Parameter, XFF); the error names `parameters.NAME`.
    pub fn for_response(self) -> Result<Self, ConfigError> {
        self.for_phase(Phase::Response)
    }

    /// Refuses a location `phase` cannot read.
    pub fn for_phase(self, phase: Phase) -> Result<Self, ConfigError> {
        if let Some((name, location)) = self.entries.iter().find(|(_, l)| !l.available_in(phase)) {
            let (here, there) = match phase {
                Phase::Request => ("request", "response"),
                Phase::Response => ("response", "request"),
            };
            return Err(ConfigError::new(
                field(name),
                format!("{location} has a value only in the {there} phase; this plug-in runs in the {here} phase"),
            ));
        }
        Ok(self)
    }

    /// The location of the parameter `name`.
    pub fn get(&self, name: &str) -> Option<&AliyunLocation> {
        self.entries.iter().find(|(n, _)| n == name).map(|(_, l)| l)
    }

    /// The parameters, in the order declared.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &AliyunLocation)> {
        self.entries.iter().map(|(n, l)| (n.as_str(), l))
    }

    /// How many parameters are declared.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// What `$name` reads: a declared parameter, else a system parameter by Aliyun's name
    /// (`$CaAppId`); a declared name wins over a system parameter's.
    pub fn resolve(&self, name: &str) -> Option<AliyunLocation> {
        match self.get(name) {
            Some(location) => Some(location.clone()),
            None => SystemParam::from_aliyun_name(name).map(AliyunLocation::System),
        }
    }
}

fn field(name: &str) -> String {
    format!("parameters.{name}")
}

impl Serialize for AliyunParameters {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.entries.iter().map(|(n, l)| (n, l)))
    }
}

impl<'de> Deserialize<'de> for AliyunParameters {
    /// A map `name: "Location:NAME"`; a bad location fails at that entry (so a path-tracking
    /// deserializer names `parameters.NAME`), a bad or repeated name names it in the message.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MapVisitor;

        impl<'de> Visitor<'de> for MapVisitor {
            type Value = AliyunParameters;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of parameter names to locations (userId: \"Token:userId\")")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<AliyunParameters, A::Error> {
                let mut params = AliyunParameters::new();
                while let Some(name) = map.next_key::<String>()? {
                    let location = map.next_value::<AliyunLocation>()?;
                    params = params.with(&name, location).map_err(serde::de::Error::custom)?;
                }
                Ok(params)
            }
        }

        deserializer.deserialize_map(MapVisitor)
    }
}
