//! [`Injection`]: constants, system parameters and mappings compiled once, and their
//! application to one request — the injection policy, free of tower types.
//!
//! What a caller cannot smuggle in under an injected name, and why the query is cleaned
//! while a body is refused, is documented on [`Injection`].

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use http::header::{HOST, USER_AGENT};
use http::{HeaderMap, HeaderName, HeaderValue, Request, StatusCode};
use tollgate_core::{
    Caller, ClientIp, Clock, PathTemplate, Rejection, RequestId, SharedClock, SystemClock, SystemValues,
};

use crate::config::{ConfigError, ParamInjectionConfig, Position, SystemParam};
use crate::names::{self, Declared};
use crate::report::{Problem, ProblemKind, Report};
use crate::urlencoded;

/// The refusal code when the client IP to inject cannot be determined (as IP access
/// control's).
pub const CODE_UNRESOLVED: &str = "IpUnresolved";

/// Headers that frame or route the message: never injected, and never removed by a mapping.
const FRAMING: [&str; 9] = [
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "upgrade",
];

#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    Header(HeaderName),
    Query { name: String, encoded: String, canonical: String },
}

impl Target {
    /// Whether a backend would read both as one parameter.
    fn same_as(&self, other: &Target) -> bool {
        match (self, other) {
            (Target::Query { canonical: a, .. }, Target::Query { canonical: b, .. }) => a == b,
            (a, b) => a == b,
        }
    }
}

#[derive(Debug, Clone)]
enum Source {
    Constant { text: String, header: Option<HeaderValue> },
    System(SystemParam),
    Header(HeaderName),
    Query(String),
    Path(String),
}

#[derive(Debug, Clone)]
struct Op {
    source: Source,
    target: Target,
}

/// A value on its way: text, or a header's bytes kept as they are.
enum Carried<'a> {
    Text(Cow<'a, str>),
    Header(Cow<'a, HeaderValue>),
}

/// Constants, system parameters and mappings, compiled: names checked and parsed, what
/// each request loses (every incoming occurrence of an injected name, and moved originals)
/// decided once.
///
/// ```
/// use http::Request;
/// use tollgate_params::{Injection, ParamInjectionConfig, ParamMapping, Position};
///
/// let injection = Injection::new(
///     &ParamInjectionConfig::new()
///         .constant(Position::Query, "source", "gateway")
///         .mapping(ParamMapping::new((Position::Header, "x-uid"), (Position::Query, "uid"))),
/// )
/// .unwrap();
/// let mut req = Request::get("/?source=evil&a=1").header("x-uid", "42").body(()).unwrap();
/// injection.apply(&mut req, &[]).unwrap();
/// assert_eq!(req.uri(), "/?a=1&source=gateway&uid=42");
/// assert!(!req.headers().contains_key("x-uid"));
/// ```
///
/// # What a caller cannot smuggle in
///
/// Before an injected value is added, every incoming value a backend could read in its
/// place goes, or the request is refused:
///
/// - headers: every occurrence of the injected header, and the spellings with `_` for `-`
///   (CGI and many frameworks read them as one) are **removed**;
/// - query (for a name injected into the query): every pair whose name a lenient backend
///   reads as the injected one is **removed** — names compared ignoring case, with `-`, `.`,
///   `_`, space and `+` as one, percent-escapes decoded, a trailing `[]` or `[key]` (PHP
///   arrays), leading spaces and anything after a NUL ignored, and `;` read as a pair
///   separator as well as `&` (a segment `a=1;client_ip=x` goes as a whole);
/// - body (for a name injected into the query, since PHP's `$_REQUEST` and Rails' `params`
///   let body fields override query pairs): a form field, a top-level key of a JSON object
///   or a multipart part named so is **refused** with 400 `ReservedParameter` — the body is
///   never rewritten, and a JSON body that cannot be parsed is refused with
///   `InvalidRequestBody`. Other bodies (no `Content-Type`, `text/plain`, ...) are not
///   read: the common backends do not take parameters from them. Only then is the body read
///   (up to the layer's limit); otherwise it streams through.
///
/// The query is rewritten anyway (the injected value is added to it), so there the stray
/// pairs are dropped; the body is passed on byte for byte, so there the request is refused.
/// A client IP the gateway could not determine refuses the request (403 `IpUnresolved`, as
/// IP access control does) instead of leaving the name absent.
#[derive(Clone)]
pub struct Injection {
    template: Option<PathTemplate>,
    /// Constants injected into a header: the same for every request, written as they are.
    constant_headers: Vec<(HeaderName, HeaderValue)>,
    /// Every other injection: its value read from the request.
    ops: Vec<Op>,
    remove_headers: Vec<HeaderName>,
    remove_query: Vec<String>,
    /// The canonical names injected into the query: a body field of one is refused.
    reserved_query: Vec<String>,
    reads_path: bool,
    /// The values of the system parameters only configuration knows.
    values: SystemValues,
    default_scheme: String,
    clock: SharedClock,
}

impl fmt::Debug for Injection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Injection")
            .field("template", &self.template.as_ref().map(PathTemplate::as_str))
            .field("constant_headers", &self.constant_headers)
            .field("ops", &self.ops)
            .finish_non_exhaustive()
    }
}

fn target(field: &str, position: Position, name: &str) -> Result<Target, ConfigError> {
    match position {
        Position::Header => {
            let header = HeaderName::try_from(name).map_err(|_| {
                ConfigError::new(format!("{field}.name"), format!("{name:?} is not a valid header name"))
            })?;
            if FRAMING.contains(&header.as_str()) {
                return Err(ConfigError::new(
                    format!("{field}.name"),
                    format!("{header} frames the message and cannot be injected"),
                ));
            }
            Ok(Target::Header(header))
        }
        Position::Query if name.is_empty() => Err(ConfigError::new(format!("{field}.name"), "must not be empty")),
        Position::Query => Ok(Target::Query {
            name: name.to_owned(),
            encoded: urlencoded::encode_pairs([(name, "")]),
            canonical: names::canonical(name),
        }),
        other => Err(ConfigError::new(
            format!("{field}.position"),
            format!("parameters are injected into a header or the query, not {other}"),
        )),
    }
}

/// Headers compared as backends that read `_` as `-` (CGI, many frameworks) compare them.
fn same_header(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes().zip(b.bytes()).all(|(x, y)| x == y || (x == b'_' || x == b'-') && (y == b'_' || y == b'-'))
}

impl Injection {
    /// Compiles `config`; the error names the offending field.
    pub fn new(config: &ParamInjectionConfig) -> Result<Self, ConfigError> {
        let template = match &config.path {
            Some(t) => Some(PathTemplate::parse(t).map_err(|e| ConfigError::new("path", e.reason))?),
            None => None,
        };
        let values = config.system_values();
        let mut ops = Vec::new();
        let mut remove_headers: Vec<HeaderName> = Vec::new();
        let mut remove_query: Vec<String> = Vec::new();
        let mut reserved_query: Vec<String> = Vec::new();
        for (i, c) in config.constants.iter().enumerate() {
            let field = format!("constants[{i}]");
            let target = target(&field, c.position, &c.name)?;
            let header =
                match &target {
                    Target::Header(_) => Some(HeaderValue::from_str(&c.value).map_err(|_| {
                        ConfigError::new(format!("{field}.value"), "the value cannot be sent in a header")
                    })?),
                    Target::Query { .. } => None,
                };
            ops.push(Op { source: Source::Constant { text: c.value.clone(), header }, target });
        }
        for (i, s) in config.system.iter().enumerate() {
            let field = format!("system[{i}]");
            if s.param == SystemParam::ApiName && config.api_name.is_none() {
                return Err(ConfigError::new(format!("{field}.param"), "api_name passes the API's name: set api_name"));
            }
            if s.param.is_configured() && values.get(s.param).is_none() {
                return Err(ConfigError::new(
                    format!("{field}.param"),
                    format!(
                        "{} ({}) takes its value from configuration: set {}",
                        s.param.as_str(),
                        s.param.aliyun_name(),
                        s.param.as_str()
                    ),
                ));
            }
            ops.push(Op { source: Source::System(s.param), target: target(&field, s.position, &s.name)? });
        }
        for (i, m) in config.mappings.iter().enumerate() {
            let field = format!("mappings[{i}]");
            let from = &m.from;
            let source = match from.position {
                Position::Header => {
                    let name = HeaderName::try_from(from.name.as_str()).map_err(|_| {
                        ConfigError::new(
                            format!("{field}.from.name"),
                            format!("{:?} is not a valid header name", from.name),
                        )
                    })?;
                    if !m.keep_original && FRAMING.contains(&name.as_str()) {
                        return Err(ConfigError::new(
                            format!("{field}.keep_original"),
                            format!("{name} frames the message: map it with keep_original"),
                        ));
                    }
                    if !m.keep_original {
                        remove_headers.push(name.clone());
                    }
                    Source::Header(name)
                }
                Position::Query if from.name.is_empty() => {
                    return Err(ConfigError::new(format!("{field}.from.name"), "must not be empty"));
                }
                Position::Query => {
                    if !m.keep_original {
                        remove_query.push(from.name.clone());
                    }
                    Source::Query(from.name.clone())
                }
                Position::Path => Source::Path(from.name.clone()),
                other => {
                    return Err(ConfigError::new(
                        format!("{field}.from.position"),
                        format!("a mapping reads a header, the query or the path, not {other}"),
                    ));
                }
            };
            let unbound = match (&source, &template) {
                (Source::Path(name), Some(t)) => !t.names().any(|n| n == name),
                _ => false,
            };
            if unbound {
                return Err(ConfigError::new(
                    format!("{field}.from.name"),
                    format!(
                        "the path template {:?} has no {{{}}} segment",
                        config.path.as_deref().unwrap_or(""),
                        from.name
                    ),
                ));
            }
            ops.push(Op { source, target: target(&format!("{field}.to"), m.to.position, &m.to.name)? });
        }
        for (i, op) in ops.iter().enumerate() {
            if ops[..i].iter().any(|o| o.target.same_as(&op.target)) {
                let name = match &op.target {
                    Target::Header(h) => h.as_str(),
                    Target::Query { name, .. } => name,
                };
                return Err(ConfigError::new(
                    "constants, system, mappings",
                    format!("{name} is injected twice (names a backend reads as one count as one)"),
                ));
            }
            match &op.target {
                Target::Header(h) => remove_headers.push(h.clone()),
                Target::Query { canonical, .. } => reserved_query.push(canonical.clone()),
            }
        }
        let constant_headers = ops
            .iter()
            .filter_map(|op| match (&op.source, &op.target) {
                (Source::Constant { header: Some(value), .. }, Target::Header(name)) => {
                    Some((name.clone(), value.clone()))
                }
                _ => None,
            })
            .collect();
        ops.retain(|op| !matches!(op.source, Source::Constant { header: Some(_), .. }));
        Ok(Self {
            template,
            constant_headers,
            reads_path: ops.iter().any(|o| matches!(o.source, Source::Path(_))),
            ops,
            remove_headers,
            remove_query,
            reserved_query,
            values,
            default_scheme: config.default_scheme.clone(),
            clock: Arc::new(SystemClock),
        })
    }

    /// Reads the request time from `clock` (a [`ManualClock`](tollgate_core::ManualClock)
    /// in tests).
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The path template, when one is set.
    pub fn template(&self) -> Option<&PathTemplate> {
        self.template.as_ref()
    }

    /// Whether a mapping reads a path parameter.
    pub fn needs_path_params(&self) -> bool {
        self.reads_path
    }

    fn system<'a, B>(&'a self, param: SystemParam, request: &'a Request<B>) -> Option<Carried<'a>> {
        let ext = request.extensions();
        let text = |s: &'a str| Some(Carried::Text(Cow::Borrowed(s)));
        match param {
            SystemParam::ClientIp => ClientIp::from_extensions(ext).map(|c| Carried::Text(c.ip().to_string().into())),
            SystemParam::RequestId => {
                RequestId::from_extensions(ext).map(|id| Carried::Header(Cow::Borrowed(id.header_value())))
            }
            SystemParam::AppKey => Caller::from_extensions(ext).and_then(|c| text(c.key_id())),
            SystemParam::AppId => Caller::from_extensions(ext).and_then(|c| text(c.app_id())),
            SystemParam::Host => match request.headers().get(HOST) {
                Some(host) => Some(Carried::Header(Cow::Borrowed(host))),
                None => request.uri().authority().and_then(|a| text(a.as_str())),
            },
            SystemParam::Scheme => text(request.uri().scheme_str().unwrap_or(&self.default_scheme)),
            SystemParam::UserAgent => request.headers().get(USER_AGENT).map(|v| Carried::Header(Cow::Borrowed(v))),
            SystemParam::RequestTime => Some(Carried::Text(httpdate::fmt_http_date(self.clock.now()).into())),
            // the API name, the stage and what describes the gateway: from configuration
            configured => self.values.get(configured).and_then(text),
        }
    }

    /// Whether the body of a request with these headers must be read before the request
    /// goes on: a name is injected into the query and the body is a form, JSON or multipart
    /// (see [`check_body`](Self::check_body)).
    pub fn inspects_body(&self, headers: &HeaderMap) -> bool {
        !self.reserved_query.is_empty()
            && names::declared_kinds(headers)
                .iter()
                .any(|k| matches!(k, Declared::Form | Declared::Json | Declared::Multipart))
    }

    /// Refuses a body that carries a field a backend would read as a parameter injected
    /// into the query (400 `ReservedParameter`), or a JSON body whose keys cannot be read
    /// (400 `InvalidRequestBody`); see [`Injection`].
    pub fn check_body(&self, headers: &HeaderMap, body: &[u8]) -> Result<(), Rejection> {
        let mut problems = Vec::new();
        for kind in names::declared_kinds(headers) {
            let position = match kind {
                Declared::Json => Position::Json,
                _ => Position::Form,
            };
            match names::body_names(kind, body) {
                Ok(found) => {
                    for op in &self.ops {
                        let Target::Query { name, canonical, .. } = &op.target else { continue };
                        if found.contains(canonical) {
                            problems.push(Problem {
                                kind: ProblemKind::Reserved,
                                name: name.clone(),
                                position: Some(position),
                                rule: "is set by the gateway in the query; the body must not carry it".to_owned(),
                            });
                        }
                    }
                }
                Err(names::Unreadable(why)) => problems.push(Problem {
                    kind: ProblemKind::InvalidBody,
                    name: "body".to_owned(),
                    position: None,
                    rule: why,
                }),
            }
        }
        match problems.is_empty() {
            true => Ok(()),
            false => Err(Report::new(problems).rejection()),
        }
    }

    /// Applies the injection to `request`, with the path parameters bound for it (name,
    /// decoded value): first every incoming value a backend could read under an injected
    /// name goes (see [`Injection`]), and moved originals; then the constants,
    /// system parameters and mapped values are added. A mapped value that cannot be carried
    /// in a header refuses the request (400), and so does an injected client IP that is
    /// unknown (403 [`CODE_UNRESOLVED`]). The body is not looked at: see
    /// [`check_body`](Self::check_body).
    pub fn apply<B>(&self, request: &mut Request<B>, path: &[(String, String)]) -> Result<(), Rejection> {
        // only values read from the request wait here: the constant headers are written below
        let mut out = Out { headers: Vec::new(), query: String::new(), problems: Vec::new() };
        {
            let request = &*request;
            let query = request.uri().query().unwrap_or("");
            for op in &self.ops {
                match &op.source {
                    // a constant left here goes to the query
                    Source::Constant { text, .. } => out.carry(self, op, Carried::Text(Cow::Borrowed(text))),
                    Source::System(param) => match self.system(*param, request) {
                        Some(value) => out.carry(self, op, value),
                        // behind a proxy whose forwarding header could not be read, the
                        // peer is the proxy: its address is no answer, nor is none at all
                        None if *param == SystemParam::ClientIp => return Err(unresolved()),
                        None => {}
                    },
                    Source::Header(name) => {
                        for v in request.headers().get_all(name) {
                            out.carry(self, op, Carried::Header(Cow::Borrowed(v)));
                        }
                    }
                    Source::Query(name) => {
                        for v in urlencoded::values(query, name) {
                            out.carry(self, op, Carried::Text(v));
                        }
                    }
                    Source::Path(name) => {
                        for (_, v) in path.iter().filter(|(k, _)| k == name) {
                            out.carry(self, op, Carried::Text(Cow::Borrowed(v)));
                        }
                    }
                }
            }
            if !out.problems.is_empty() {
                return Err(Report::new(out.problems).rejection());
            }
        }
        let (headers_out, query_out) = (out.headers, out.query);
        let headers = request.headers_mut();
        remove_headers(headers, &self.remove_headers);
        // a map full already grows once for all of them, not once per doubling
        headers.reserve(self.constant_headers.len() + headers_out.len());
        for (name, value) in &self.constant_headers {
            headers.append(name.clone(), value.clone());
        }
        for (name, value) in headers_out {
            headers.append(name, value);
        }
        let query = request.uri().query().unwrap_or("");
        // nothing to take out: the query is not even scanned
        let kept = match self.remove_query.is_empty() && self.reserved_query.is_empty() {
            true => None,
            false => urlencoded::remove_segments(query, |segment| {
                let moved = !self.remove_query.is_empty()
                    && self.remove_query.iter().any(|n| *n == urlencoded::segment_key(segment));
                moved || names::segment_names(segment.as_bytes()).any(|n| self.reserved_query.contains(&n))
            }),
        };
        if kept.is_some() || !query_out.is_empty() {
            let base = kept.as_deref().unwrap_or(query);
            let new = urlencoded::join(base, &query_out);
            if let Some(uri) = urlencoded::with_query(request.uri(), &new) {
                *request.uri_mut() = uri;
            }
        }
        Ok(())
    }

    fn unfit(&self, op: &Op, header: &HeaderName) -> Problem {
        let (position, name) = match &op.source {
            Source::Query(n) => (Position::Query, n.clone()),
            Source::Path(n) => (Position::Path, n.clone()),
            Source::Header(n) => (Position::Header, n.to_string()),
            Source::Constant { .. } | Source::System(_) => (Position::Header, header.to_string()),
        };
        Problem {
            kind: ProblemKind::Invalid,
            name,
            position: Some(position),
            rule: format!("the value cannot be carried in header {header}"),
        }
    }
}

fn unresolved() -> Rejection {
    Rejection::new(StatusCode::FORBIDDEN, CODE_UNRESOLVED, "the client's IP address could not be determined")
        .with_policy("params")
}

/// What an application collects before it touches the request.
struct Out {
    headers: Vec<(HeaderName, HeaderValue)>,
    query: String,
    problems: Vec<Problem>,
}

impl Out {
    fn carry(&mut self, injection: &Injection, op: &Op, value: Carried<'_>) {
        match (&op.target, value) {
            (Target::Header(name), Carried::Header(v)) => self.headers.push((name.clone(), v.into_owned())),
            (Target::Header(name), Carried::Text(t)) => match HeaderValue::from_str(&t) {
                Ok(v) => self.headers.push((name.clone(), v)),
                Err(_) => self.problems.push(injection.unfit(op, name)),
            },
            (Target::Query { encoded, .. }, value) => {
                let bytes: &[u8] = match &value {
                    Carried::Text(t) => t.as_bytes(),
                    Carried::Header(v) => v.as_bytes(),
                };
                if !self.query.is_empty() {
                    self.query.push('&');
                }
                self.query.push_str(encoded);
                self.query.extend(form_urlencoded::byte_serialize(bytes));
            }
        }
    }
}

fn remove_headers(headers: &mut HeaderMap, names: &[HeaderName]) {
    for name in names {
        headers.remove(name);
    }
    // The other spellings (`_` for `-`, either way) are found in one pass over the names
    // left, comparing lengths first; a list is made only when there is one to remove.
    let respelled = |k: &HeaderName| names.iter().any(|n| same_header(k.as_str(), n.as_str()));
    if headers.keys().any(respelled) {
        let doomed: Vec<HeaderName> = headers.keys().filter(|k| respelled(k)).cloned().collect();
        for name in doomed {
            headers.remove(name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn underscore_and_dash_are_one_header() {
        assert!(same_header("x_client_ip", "x-client-ip"));
        assert!(same_header("x-client-ip", "x-client-ip"));
        assert!(!same_header("x-client-ipv6", "x-client-ip"));
        assert!(!same_header("y_client_ip", "x-client-ip"));
        let mut h = HeaderMap::new();
        h.append("x_client_ip", HeaderValue::from_static("1"));
        h.append("x-client-ip", HeaderValue::from_static("2"));
        h.append("x-other", HeaderValue::from_static("3"));
        remove_headers(&mut h, &[HeaderName::from_static("x-client-ip")]);
        assert_eq!(h.len(), 1);
    }

    #[test]
    fn the_five_the_gateway_cannot_know_come_from_configuration() {
        let config = ParamInjectionConfig::new()
            .system(Position::Header, "x-proxy", SystemParam::Proxy)
            .system(Position::Header, "x-instance", SystemParam::InstanceId)
            .system(Position::Query, "vpc", SystemParam::SourceVpcId)
            .system(Position::Query, "market", SystemParam::CloudMarketInstanceId)
            .system(Position::Header, "x-extend", SystemParam::AppExtendInfo)
            .system_value(SystemParam::InstanceId, "apigateway-hz-1")
            .system_value(SystemParam::SourceVpcId, "vpc-1")
            .system_value(SystemParam::CloudMarketInstanceId, "cmapi-9")
            .system_value(SystemParam::AppExtendInfo, "tier=gold");
        let injection = Injection::new(&config).unwrap();
        let mut req = Request::get("/?a=1").header("x-proxy", "evil").body(()).unwrap();
        injection.apply(&mut req, &[]).unwrap();
        assert_eq!(req.headers()["x-proxy"], "AliCloudApiGateway");
        assert_eq!(req.headers()["x-instance"], "apigateway-hz-1");
        assert_eq!(req.headers()["x-extend"], "tier=gold");
        assert_eq!(req.uri(), "/?a=1&vpc=vpc-1&market=cmapi-9");

        // unset, one of them is a build error naming the entry, not an absent value
        for (i, param) in
            [SystemParam::InstanceId, SystemParam::SourceVpcId, SystemParam::AppExtendInfo].into_iter().enumerate()
        {
            let mut config = ParamInjectionConfig::new().system(Position::Header, "x-z", SystemParam::Stage);
            config = config.system(Position::Header, format!("x-{i}"), param);
            let Err(err) = Injection::new(&config) else { panic!("{param} without a value was accepted") };
            assert_eq!(err.field, "system[1].param", "{err}");
            assert!(err.problem.contains(param.aliyun_name()), "{err}");
        }
    }

    #[test]
    fn tencent_and_aliyun_names_are_accepted_in_configuration() {
        let config: ParamInjectionConfig = serde_json::from_str(
            r#"{"instance_id": "i-1", "system": [
                {"name": "x-ip", "position": "header", "param": "clientIp"},
                {"name": "x-scheme", "position": "header", "param": "httpScheme"},
                {"name": "x-ua", "position": "header", "param": "sysparam.clientUa"},
                {"name": "x-inst", "position": "header", "param": "CaInstanceId"},
                {"name": "x-proxy", "position": "header", "param": "CaProxy"}]}"#,
        )
        .unwrap();
        let params: Vec<SystemParam> = config.system.iter().map(|s| s.param).collect();
        assert_eq!(
            params,
            [
                SystemParam::ClientIp,
                SystemParam::Scheme,
                SystemParam::UserAgent,
                SystemParam::InstanceId,
                SystemParam::Proxy
            ]
        );
        assert_eq!(config.system_values().get(SystemParam::InstanceId), Some("i-1"));
        let injection = Injection::new(&config).unwrap();
        let mut req = Request::get("https://api.example.com/").header("user-agent", "ua/1").body(()).unwrap();
        req.extensions_mut().insert(ClientIp::direct("203.0.113.7".parse().unwrap()));
        injection.apply(&mut req, &[]).unwrap();
        assert_eq!(req.headers()["x-ip"], "203.0.113.7");
        assert_eq!(req.headers()["x-scheme"], "https");
        assert_eq!(req.headers()["x-ua"], "ua/1");
        assert_eq!(req.headers()["x-inst"], "i-1");
        // our own round trip writes our names
        let text = serde_json::to_string(&config).unwrap();
        assert!(text.contains(r#""param":"client_ip""#), "{text}");
        assert_eq!(serde_json::from_str::<ParamInjectionConfig>(&text).unwrap(), config);
    }
}
