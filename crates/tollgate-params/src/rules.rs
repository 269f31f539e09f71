//! [`ParamRules`]: parameter definitions compiled once, and the check of one request
//! against them — the validation policy, free of tower types.

use std::borrow::Cow;
use std::fmt;

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, TRANSFER_ENCODING};
use http::{HeaderMap, HeaderName, HeaderValue, Request, Uri};
use regex::Regex;
use serde_json::Value;
use tollgate_core::{PathTemplate, parse_urlencoded};

use crate::config::{ConfigError, Limit, Param, ParamType, ParamValidationConfig, Position};
use crate::names::{self, Declared};
use crate::report::{Problem, ProblemKind, Report};
use crate::urlencoded;

/// Where a compiled parameter is read.
#[derive(Debug)]
enum At {
    Header(HeaderName),
    Query,
    Path,
    Form,
    Json(String),
    /// A form field or a JSON value (pointer) depending on the body.
    Body(String),
}

/// A parsed value.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Parsed<'a> {
    Str(&'a str),
    Int(i64),
    Float(f64),
    Bool(bool),
}

/// An allowed value of an enumeration.
#[derive(Debug, Clone, PartialEq)]
enum Scalar {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

impl Scalar {
    fn matches(&self, p: &Parsed<'_>) -> bool {
        match (self, p) {
            (Self::Str(a), Parsed::Str(b)) => a == b,
            (Self::Int(a), Parsed::Int(b)) => a == b,
            (Self::Float(a), Parsed::Float(b)) => a == b,
            (Self::Int(a), Parsed::Float(b)) => (*a as f64) == *b,
            (Self::Float(a), Parsed::Int(b)) => *a == (*b as f64),
            (Self::Bool(a), Parsed::Bool(b)) => a == b,
            _ => false,
        }
    }

    fn owned(p: Parsed<'_>) -> Self {
        match p {
            Parsed::Str(s) => Self::Str(s.to_owned()),
            Parsed::Int(n) => Self::Int(n),
            Parsed::Float(x) => Self::Float(x),
            Parsed::Bool(b) => Self::Bool(b),
        }
    }

    fn json(&self) -> Value {
        match self {
            Self::Str(s) => Value::String(s.clone()),
            Self::Int(n) => Value::from(*n),
            Self::Float(x) => Value::from(*x),
            Self::Bool(b) => Value::Bool(*b),
        }
    }
}

impl fmt::Display for Scalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Str(s) => write!(f, "{s:?}"),
            Self::Int(n) => write!(f, "{n}"),
            Self::Float(x) => write!(f, "{x}"),
            Self::Bool(b) => write!(f, "{b}"),
        }
    }
}

fn parse_text(ty: ParamType, text: &str) -> Option<Parsed<'_>> {
    match ty {
        ParamType::String | ParamType::Array => Some(Parsed::Str(text)),
        ParamType::Int => text.parse::<i32>().ok().map(|n| Parsed::Int(n.into())),
        ParamType::Long => text.parse::<i64>().ok().map(Parsed::Int),
        ParamType::Float => text.parse::<f64>().ok().filter(|x| (*x as f32).is_finite()).map(Parsed::Float),
        ParamType::Double => text.parse::<f64>().ok().filter(|x| x.is_finite()).map(Parsed::Float),
        ParamType::Boolean => {
            if text.eq_ignore_ascii_case("true") {
                Some(Parsed::Bool(true))
            } else if text.eq_ignore_ascii_case("false") {
                Some(Parsed::Bool(false))
            } else {
                None
            }
        }
    }
}

fn parse_json(ty: ParamType, value: &Value) -> Option<Parsed<'_>> {
    match (ty, value) {
        (ParamType::String, Value::String(s)) => Some(Parsed::Str(s)),
        (ParamType::Int, Value::Number(n)) => n.as_i64().filter(|n| i32::try_from(*n).is_ok()).map(Parsed::Int),
        (ParamType::Long, Value::Number(n)) => n.as_i64().map(Parsed::Int),
        (ParamType::Float, Value::Number(n)) => n.as_f64().filter(|x| (*x as f32).is_finite()).map(Parsed::Float),
        (ParamType::Double, Value::Number(n)) => n.as_f64().filter(|x| x.is_finite()).map(Parsed::Float),
        (ParamType::Boolean, Value::Bool(b)) => Some(Parsed::Bool(*b)),
        _ => None,
    }
}

/// Which rule a value broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Broken {
    Type,
    NotArray,
    NotText,
    Repeated(usize),
    Min,
    Max,
    MinLength,
    MaxLength,
    OneOf,
    Pattern,
}

/// What the values of one parameter came to.
enum Seen {
    Absent,
    Fine,
    Broken(Broken),
}

/// A default, prepared for each place it can be written.
#[derive(Debug)]
struct Prepared {
    headers: Vec<HeaderValue>,
    /// `name=value&...`, encoded, for a query or a form body.
    encoded: String,
    /// The typed JSON value.
    json: Value,
}

/// One parameter definition, compiled.
#[derive(Debug)]
struct Compiled {
    name: String,
    position: Position,
    at: At,
    array: bool,
    /// The type of the value, or of each element of an array.
    ty: ParamType,
    required: bool,
    default: Option<Prepared>,
    min: Option<Limit>,
    max: Option<Limit>,
    min_length: Option<usize>,
    max_length: Option<usize>,
    one_of: Vec<Scalar>,
    regex: Option<(String, Regex)>,
}

fn below(p: &Parsed<'_>, bound: Limit) -> bool {
    match (p, bound) {
        (Parsed::Int(n), Limit::Int(b)) => *n < b,
        (Parsed::Int(n), Limit::Float(b)) => (*n as f64) < b,
        (Parsed::Float(x), Limit::Int(b)) => *x < b as f64,
        (Parsed::Float(x), Limit::Float(b)) => *x < b,
        _ => false,
    }
}

fn above(p: &Parsed<'_>, bound: Limit) -> bool {
    match (p, bound) {
        (Parsed::Int(n), Limit::Int(b)) => *n > b,
        (Parsed::Int(n), Limit::Float(b)) => (*n as f64) > b,
        (Parsed::Float(x), Limit::Int(b)) => *x > b as f64,
        (Parsed::Float(x), Limit::Float(b)) => *x > b,
        _ => false,
    }
}

impl Compiled {
    /// The rules after the type: range, length, enumeration, pattern.
    fn rules(&self, p: &Parsed<'_>, text: &str) -> Result<(), Broken> {
        if self.min.is_some_and(|m| below(p, m)) {
            return Err(Broken::Min);
        }
        if self.max.is_some_and(|m| above(p, m)) {
            return Err(Broken::Max);
        }
        if self.min_length.is_some() || self.max_length.is_some() {
            let n = text.chars().count();
            if self.min_length.is_some_and(|m| n < m) {
                return Err(Broken::MinLength);
            }
            if self.max_length.is_some_and(|m| n > m) {
                return Err(Broken::MaxLength);
            }
        }
        if !self.one_of.is_empty() && !self.one_of.iter().any(|s| s.matches(p)) {
            return Err(Broken::OneOf);
        }
        if self.regex.as_ref().is_some_and(|(_, re)| !re.is_match(text)) {
            return Err(Broken::Pattern);
        }
        Ok(())
    }

    fn check_text(&self, text: &str) -> Result<(), Broken> {
        let p = parse_text(self.ty, text).ok_or(Broken::Type)?;
        self.rules(&p, text)
    }

    fn check_json_scalar(&self, value: &Value) -> Result<(), Broken> {
        let p = parse_json(self.ty, value).ok_or(Broken::Type)?;
        match (&p, &self.regex, self.min_length.or(self.max_length)) {
            (Parsed::Str(s), _, _) => self.rules(&p, s),
            (_, None, None) => self.rules(&p, ""),
            _ => self.rules(&p, &value.to_string()),
        }
    }

    /// Checks every occurrence of a text parameter; `Err(())` is a value that is not text.
    fn check_texts<'v>(&self, values: impl Iterator<Item = Result<&'v str, ()>>) -> Seen {
        let mut count = 0;
        let mut broken = None;
        for value in values {
            count += 1;
            if broken.is_none() {
                broken = match value {
                    Ok(text) => self.check_text(text).err(),
                    Err(()) => Some(Broken::NotText),
                };
            }
        }
        match (count, broken) {
            (0, _) => Seen::Absent,
            (n, _) if n > 1 && !self.array => Seen::Broken(Broken::Repeated(n)),
            (_, Some(b)) => Seen::Broken(b),
            (_, None) => Seen::Fine,
        }
    }

    fn check_json(&self, value: Option<&Value>) -> Seen {
        match value {
            None | Some(Value::Null) => Seen::Absent,
            Some(Value::Array(items)) if self.array => {
                match items.iter().find_map(|item| self.check_json_scalar(item).err()) {
                    Some(b) => Seen::Broken(b),
                    None => Seen::Fine,
                }
            }
            Some(_) if self.array => Seen::Broken(Broken::NotArray),
            Some(v) => match self.check_json_scalar(v) {
                Ok(()) => Seen::Fine,
                Err(b) => Seen::Broken(b),
            },
        }
    }

    fn describe(&self, broken: Broken) -> String {
        let each = if self.array { "each value " } else { "" };
        match broken {
            Broken::NotArray => format!("expected an array of {}", plural(self.ty)),
            Broken::Type => format!("{each}expected {}", self.ty.described()),
            Broken::NotText => "the value is not valid text".to_owned(),
            Broken::Repeated(n) => format!("given {n} times; expected one value"),
            Broken::Min => format!("{each}must be at least {}", self.min.map(|m| m.to_string()).unwrap_or_default()),
            Broken::Max => format!("{each}must be at most {}", self.max.map(|m| m.to_string()).unwrap_or_default()),
            Broken::MinLength => format!("{each}must be at least {} characters long", self.min_length.unwrap_or(0)),
            Broken::MaxLength => format!("{each}must be at most {} characters long", self.max_length.unwrap_or(0)),
            Broken::OneOf => {
                let list: Vec<String> = self.one_of.iter().map(ToString::to_string).collect();
                format!("{each}must be one of {}", list.join(", "))
            }
            Broken::Pattern => format!(
                "{each}must match the pattern {}",
                self.regex.as_ref().map(|(source, _)| source.as_str()).unwrap_or_default()
            ),
        }
    }

    fn problem(&self, kind: ProblemKind, rule: String) -> Problem {
        Problem { kind, name: self.name.clone(), position: Some(self.position), rule }
    }

    /// Records what the values came to: a problem, a default to write, or nothing.
    fn settle(&self, seen: Seen, problems: &mut Vec<Problem>) -> Option<&Prepared> {
        match seen {
            Seen::Fine => None,
            Seen::Broken(b) => {
                problems.push(self.problem(ProblemKind::Invalid, self.describe(b)));
                None
            }
            Seen::Absent if self.required => {
                problems.push(self.problem(ProblemKind::Missing, "is required".to_owned()));
                None
            }
            Seen::Absent => self.default.as_ref(),
        }
    }
}

fn plural(ty: ParamType) -> &'static str {
    match ty {
        ParamType::String | ParamType::Array => "strings",
        ParamType::Int => "ints",
        ParamType::Long => "longs",
        ParamType::Float => "floats",
        ParamType::Double => "doubles",
        ParamType::Boolean => "booleans",
    }
}

/// Which body the definitions expect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyNeed {
    Form,
    Json,
    Either,
}

fn declared(headers: &HeaderMap) -> Declared {
    headers.get(CONTENT_TYPE).map_or(Declared::Undeclared, names::declared_by)
}

/// One request as the check sees it: URI, headers, the path parameters bound for it, and
/// its buffered body when the rules need one.
///
/// ```
/// use http::Request;
/// use tollgate_params::{Param, ParamRequest, ParamRules, ParamValidationConfig};
///
/// let rules = ParamRules::new(&ParamValidationConfig::new().param(Param::query("page").int().min(1))).unwrap();
/// let req = Request::get("/?page=0").body(()).unwrap();
/// let report = rules.check(&ParamRequest::new(req.uri(), req.headers())).unwrap_err();
/// assert_eq!(report.to_string(), "query page: must be at least 1");
/// ```
#[derive(Debug, Clone, Copy)]
pub struct ParamRequest<'a> {
    uri: &'a Uri,
    headers: &'a HeaderMap,
    path: &'a [(String, String)],
    body: Option<&'a [u8]>,
}

impl<'a> ParamRequest<'a> {
    /// A request's URI and headers; no path parameters, no body.
    pub fn new(uri: &'a Uri, headers: &'a HeaderMap) -> Self {
        Self { uri, headers, path: &[], body: None }
    }

    /// The path parameters bound for the request (name, decoded value).
    pub fn with_path_params(mut self, params: &'a [(String, String)]) -> Self {
        self.path = params;
        self
    }

    /// The buffered body (an absent body counts as empty).
    pub fn with_body(mut self, body: &'a [u8]) -> Self {
        self.body = Some(body);
        self
    }
}

/// What a passing request needs written into it: the defaults of absent parameters.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fixes {
    headers: Vec<(HeaderName, HeaderValue)>,
    query: String,
    body: Option<Bytes>,
}

impl Fixes {
    /// Whether nothing is to be written.
    pub fn is_empty(&self) -> bool {
        self.headers.is_empty() && self.query.is_empty() && self.body.is_none()
    }

    /// Headers to insert.
    pub fn headers(&self) -> &[(HeaderName, HeaderValue)] {
        &self.headers
    }

    /// Encoded pairs to append to the query.
    pub fn query(&self) -> &str {
        &self.query
    }

    /// The rewritten body, when a form or JSON default was written into it.
    pub fn body(&self) -> Option<&Bytes> {
        self.body.as_ref()
    }

    /// Writes the headers and the query into `request`, and, when the body was rewritten,
    /// its new `Content-Length` (dropping `Transfer-Encoding`); returns that body for the
    /// caller to put in place.
    pub fn apply<B>(self, request: &mut Request<B>) -> Option<Bytes> {
        for (name, value) in self.headers {
            request.headers_mut().insert(name, value);
        }
        if !self.query.is_empty() {
            let query = urlencoded::join(request.uri().query().unwrap_or(""), &self.query);
            if let Some(uri) = urlencoded::with_query(request.uri(), &query) {
                *request.uri_mut() = uri;
            }
        }
        if let Some(body) = &self.body {
            request.headers_mut().remove(TRANSFER_ENCODING);
            request.headers_mut().insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
        }
        self.body
    }
}

/// Parameter definitions compiled once: types parsed, ranges and enumerations converted,
/// regexes and the JSON Schema compiled, defaults checked against the rules.
pub struct ParamRules {
    template: Option<PathTemplate>,
    params: Vec<Compiled>,
    schema: Option<jsonschema::Validator>,
    strict: bool,
    body: Option<BodyNeed>,
    reads_query: bool,
    reads_path: bool,
    query_names: Vec<String>,
    form_names: Vec<String>,
    json_keys: Vec<String>,
}

impl fmt::Debug for ParamRules {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParamRules")
            .field("template", &self.template.as_ref().map(PathTemplate::as_str))
            .field("params", &self.params.iter().map(|p| (p.position, &p.name)).collect::<Vec<_>>())
            .field("schema", &self.schema.is_some())
            .field("strict", &self.strict)
            .finish()
    }
}

/// The `{names}` of a template.
fn template_names(template: &str) -> impl Iterator<Item = &str> {
    template.split('/').filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
}

/// Unescapes one JSON pointer token.
fn unescape(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}

/// Writes `value` at `pointer`, creating objects on the way; false where a scalar or an
/// array without that index is in the way.
fn insert_at(root: &mut Value, pointer: &str, value: Value) -> bool {
    let tokens: Vec<String> = pointer.split('/').skip(1).map(unescape).collect();
    let Some((last, parents)) = tokens.split_last() else { return false };
    let mut cur = root;
    for token in parents {
        if cur.is_null() {
            *cur = Value::Object(serde_json::Map::new());
        }
        cur = match cur {
            Value::Object(map) => map.entry(token.clone()).or_insert(Value::Null),
            Value::Array(items) => match token.parse::<usize>().ok().and_then(|i| items.get_mut(i)) {
                Some(item) => item,
                None => return false,
            },
            _ => return false,
        };
    }
    if cur.is_null() {
        *cur = Value::Object(serde_json::Map::new());
    }
    match cur {
        Value::Object(map) => {
            map.insert(last.clone(), value);
            true
        }
        _ => false,
    }
}

fn limit_for(ty: ParamType, limit: Limit, field: &str) -> Result<Limit, ConfigError> {
    match (ty, limit) {
        (ParamType::Int | ParamType::Long, Limit::Float(x)) if x.fract() == 0.0 && x.abs() < 9.0e18 => {
            Ok(Limit::Int(x as i64))
        }
        (ParamType::Int | ParamType::Long, Limit::Float(_)) => {
            Err(ConfigError::new(field, format!("expected an integer for a {ty} parameter")))
        }
        (_, Limit::Float(x)) if !x.is_finite() => Err(ConfigError::new(field, "expected a finite number")),
        _ => Ok(limit),
    }
}

/// A scalar of a default or enumeration, as text (strings as they are, others as JSON).
fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(_) | Value::Bool(_) => Some(value.to_string()),
        _ => None,
    }
}

fn compile_param(index: usize, p: &Param, template: Option<&str>) -> Result<Compiled, ConfigError> {
    let field = |name: &str| format!("params[{index}].{name}");
    if p.name.is_empty() {
        return Err(ConfigError::new(field("name"), "must not be empty"));
    }
    let pointer = || -> Result<String, ConfigError> {
        let pointer = p.pointer.clone().unwrap_or_else(|| format!("/{}", p.name.replace('~', "~0").replace('/', "~1")));
        if !pointer.starts_with('/') {
            return Err(ConfigError::new(field("pointer"), "a JSON pointer starts with '/' (`/order/qty`)"));
        }
        Ok(pointer)
    };
    let at = match p.position {
        Position::Header => At::Header(
            HeaderName::try_from(p.name.as_str())
                .map_err(|_| ConfigError::new(field("name"), format!("{:?} is not a valid header name", p.name)))?,
        ),
        Position::Query => At::Query,
        Position::Path => {
            if let Some(t) = template.filter(|t| !template_names(t).any(|n| n == p.name)) {
                return Err(ConfigError::new(
                    field("name"),
                    format!("the path template {t:?} has no {{{}}} segment", p.name),
                ));
            }
            At::Path
        }
        Position::Form => At::Form,
        Position::Json => At::Json(pointer()?),
        Position::Body => At::Body(pointer()?),
    };
    if p.pointer.is_some() && !matches!(p.position, Position::Json | Position::Body) {
        return Err(ConfigError::new(field("pointer"), "only json and body parameters have a pointer"));
    }
    let array = p.param_type == ParamType::Array;
    let ty = match (array, p.items) {
        (true, Some(ParamType::Array)) => {
            return Err(ConfigError::new(field("items"), "arrays of arrays are not supported"));
        }
        (true, items) => items.unwrap_or(ParamType::String),
        (false, Some(_)) => return Err(ConfigError::new(field("items"), "only an array parameter has items")),
        (false, None) => p.param_type,
    };
    if array && p.position == Position::Path {
        return Err(ConfigError::new(field("type"), "a path parameter is one segment, not an array"));
    }
    let (min, max) = match (p.min, p.max) {
        (None, None) => (None, None),
        _ if !ty.is_number() => {
            let which = if p.min.is_some() { "min" } else { "max" };
            return Err(ConfigError::new(field(which), format!("only numbers have a range, this is a {ty}")));
        }
        (min, max) => (
            min.map(|m| limit_for(ty, m, &field("min"))).transpose()?,
            max.map(|m| limit_for(ty, m, &field("max"))).transpose()?,
        ),
    };
    if let Some((lo, hi)) = min.zip(max).filter(|(lo, hi)| above(&lo_parsed(*lo), *hi)) {
        return Err(ConfigError::new(field("min"), format!("min {lo} is larger than max {hi}")));
    }
    if (p.min_length.is_some() || p.max_length.is_some()) && ty != ParamType::String {
        let which = if p.min_length.is_some() { "min_length" } else { "max_length" };
        return Err(ConfigError::new(field(which), format!("only strings have a length, this is a {ty}")));
    }
    if let Some((lo, hi)) = p.min_length.zip(p.max_length).filter(|(lo, hi)| lo > hi) {
        return Err(ConfigError::new(field("min_length"), format!("min_length {lo} is larger than max_length {hi}")));
    }
    let regex = match &p.regex {
        None => None,
        Some(source) => {
            let re = regex::RegexBuilder::new(&format!("^(?:{source})$"))
                .size_limit(1 << 20)
                .build()
                .map_err(|e| ConfigError::new(field("regex"), e))?;
            Some((source.clone(), re))
        }
    };
    let mut compiled = Compiled {
        name: p.name.clone(),
        position: p.position,
        at,
        array,
        ty,
        required: p.required,
        default: None,
        min,
        max,
        min_length: p.min_length,
        max_length: p.max_length,
        one_of: Vec::new(),
        regex,
    };
    for (i, value) in p.one_of.iter().enumerate() {
        let f = format!("params[{index}].enum[{i}]");
        let text = scalar_text(value).ok_or_else(|| ConfigError::new(&f, "expected a string, number or boolean"))?;
        let parsed =
            parse_text(ty, &text).ok_or_else(|| ConfigError::new(&f, format!("expected {}", ty.described())))?;
        compiled.one_of.push(Scalar::owned(parsed));
    }
    if let Some(default) = &p.default {
        compiled.default = Some(compile_default(&compiled, default, &field("default"))?);
    }
    Ok(compiled)
}

fn lo_parsed(limit: Limit) -> Parsed<'static> {
    match limit {
        Limit::Int(n) => Parsed::Int(n),
        Limit::Float(x) => Parsed::Float(x),
    }
}

fn compile_default(p: &Compiled, value: &Value, field: &str) -> Result<Prepared, ConfigError> {
    if p.required {
        return Err(ConfigError::new(field, "a required parameter never uses its default; drop one of the two"));
    }
    if p.position == Position::Path {
        return Err(ConfigError::new(
            field,
            "a path parameter cannot have a default: a matching path always binds it, and the path cannot be rewritten",
        ));
    }
    let items: Vec<&Value> = match value {
        Value::Array(items) if p.array => items.iter().collect(),
        Value::Array(_) => return Err(ConfigError::new(field, "a list is a default for an array only")),
        other => vec![other],
    };
    if items.is_empty() {
        return Err(ConfigError::new(field, "an empty list writes nothing; drop the default"));
    }
    let mut texts = Vec::with_capacity(items.len());
    let mut json = Vec::with_capacity(items.len());
    for item in items {
        let text = scalar_text(item).ok_or_else(|| ConfigError::new(field, "expected a string, number or boolean"))?;
        p.check_text(&text).map_err(|b| ConfigError::new(field, format!("{text:?}: {}", p.describe(b))))?;
        let parsed = parse_text(p.ty, &text).ok_or_else(|| ConfigError::new(field, p.describe(Broken::Type)))?;
        json.push(Scalar::owned(parsed).json());
        texts.push(text);
    }
    let headers = match &p.at {
        At::Header(_) => texts
            .iter()
            .map(|t| HeaderValue::from_str(t))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| ConfigError::new(field, "the value cannot be sent in a header"))?,
        _ => Vec::new(),
    };
    let encoded = urlencoded::encode_pairs(texts.iter().map(|t| (p.name.as_str(), t.as_str())));
    let json = if p.array { Value::Array(json) } else { json.swap_remove(0) };
    Ok(Prepared { headers, encoded, json })
}

impl ParamRules {
    /// Compiles `config`; the error names the offending field.
    pub fn new(config: &ParamValidationConfig) -> Result<Self, ConfigError> {
        let template = match &config.path {
            Some(t) => Some(PathTemplate::parse(t).map_err(|e| ConfigError::new("path", e.reason))?),
            None => None,
        };
        let mut params = Vec::with_capacity(config.params.len());
        for (i, p) in config.params.iter().enumerate() {
            let compiled = compile_param(i, p, config.path.as_deref())?;
            let same = |q: &Compiled| {
                q.position == compiled.position
                    && match (&q.at, &compiled.at) {
                        (At::Header(a), At::Header(b)) => a == b,
                        _ => q.name == compiled.name,
                    }
            };
            if params.iter().any(same) {
                return Err(ConfigError::new(
                    format!("params[{i}].name"),
                    format!("{} {} is defined twice", p.position, p.name),
                ));
            }
            params.push(compiled);
        }
        let schema = match &config.schema {
            None => None,
            Some(schema) => {
                let mut options = jsonschema::options();
                if schema.get("$schema").is_none() {
                    options = options.with_draft(jsonschema::Draft::Draft202012);
                }
                Some(options.build(schema).map_err(|e| ConfigError::new("schema", e))?)
            }
        };
        let has = |pos: Position| params.iter().any(|p| p.position == pos);
        let body = match (has(Position::Form), has(Position::Json) || schema.is_some(), has(Position::Body)) {
            (true, true, _) => {
                let i = config.params.iter().position(|p| p.position == Position::Form).unwrap_or(0);
                return Err(ConfigError::new(
                    format!("params[{i}].position"),
                    "form parameters cannot be mixed with json parameters or a schema: a body is one or the other \
                     (use `body` for a parameter read from either)",
                ));
            }
            (true, false, _) => Some(BodyNeed::Form),
            (false, true, _) => Some(BodyNeed::Json),
            (false, false, true) => Some(BodyNeed::Either),
            (false, false, false) => None,
        };
        let query_names = params.iter().filter(|p| p.position == Position::Query).map(|p| p.name.clone()).collect();
        let form_names = params
            .iter()
            .filter(|p| matches!(p.position, Position::Form | Position::Body))
            .map(|p| p.name.clone())
            .collect();
        let mut json_keys: Vec<String> = params
            .iter()
            .filter_map(|p| match &p.at {
                At::Json(ptr) | At::Body(ptr) => ptr.split('/').nth(1).map(unescape),
                _ => None,
            })
            .collect();
        if let Some(Value::Object(props)) = config.schema.as_ref().and_then(|s| s.get("properties")) {
            json_keys.extend(props.keys().cloned());
        }
        Ok(Self {
            reads_query: config.strict || has(Position::Query),
            reads_path: has(Position::Path),
            template,
            params,
            schema,
            strict: config.strict,
            body,
            query_names,
            form_names,
            json_keys,
        })
    }

    /// The path template, when one is set.
    pub fn template(&self) -> Option<&PathTemplate> {
        self.template.as_ref()
    }

    /// Whether the check needs the request body (a body parameter or a schema is defined).
    pub fn needs_body(&self) -> bool {
        self.body.is_some()
    }

    /// Whether the check reads path parameters.
    pub fn needs_path_params(&self) -> bool {
        self.reads_path
    }

    /// Checks one request against every definition; all problems are reported together.
    /// A body is checked only when [`ParamRules::needs_body`] (pass it with
    /// [`ParamRequest::with_body`]).
    pub fn check(&self, request: &ParamRequest<'_>) -> Result<Fixes, Report> {
        let mut problems = Vec::new();
        let mut fixes = Fixes::default();
        let pairs: Vec<(Cow<'_, str>, Cow<'_, str>)> = match request.uri.query() {
            Some(q) if self.reads_query => urlencoded::pairs(q).collect(),
            _ => Vec::new(),
        };
        for p in &self.params {
            match &p.at {
                At::Header(name) => {
                    let seen = p.check_texts(request.headers.get_all(name).iter().map(|v| v.to_str().map_err(drop)));
                    if let Some(d) = p.settle(seen, &mut problems) {
                        for value in &d.headers {
                            fixes.headers.push((name.clone(), value.clone()));
                        }
                    }
                }
                At::Query => {
                    let values = pairs.iter().filter(|(k, _)| *k == p.name).map(|(_, v)| Ok(v.as_ref()));
                    if let Some(d) = p.settle(p.check_texts(values), &mut problems) {
                        fixes.query = urlencoded::join(&fixes.query, &d.encoded);
                    }
                }
                At::Path => {
                    let values = request.path.iter().filter(|(k, _)| *k == p.name).map(|(_, v)| Ok(v.as_str()));
                    p.settle(p.check_texts(values), &mut problems);
                }
                At::Form | At::Json(_) | At::Body(_) => {}
            }
        }
        if self.strict {
            let mut seen: Vec<&str> = Vec::new();
            for (key, _) in &pairs {
                if !self.query_names.iter().any(|n| n == key) && !seen.contains(&key.as_ref()) {
                    seen.push(key);
                    problems.push(undefined(key, Position::Query));
                }
            }
        }
        if let Some(q) = request.uri.query().filter(|_| self.reads_query) {
            respelled(q.as_bytes(), &self.query_names, Position::Query, &mut problems);
        }
        if let Some(need) = self.body {
            self.check_body(need, request, &mut problems, &mut fixes);
        }
        if problems.is_empty() { Ok(fixes) } else { Err(Report::new(problems)) }
    }

    fn body_params(&self) -> impl Iterator<Item = &Compiled> {
        self.params.iter().filter(|p| p.position.in_body())
    }

    fn check_body(&self, need: BodyNeed, request: &ParamRequest<'_>, problems: &mut Vec<Problem>, fixes: &mut Fixes) {
        let body = request.body.unwrap_or_default();
        let declared = declared(request.headers);
        let location = |rule: String| body_problem(ProblemKind::InvalidLocation, rule);
        let kind = match (declared, need) {
            (Declared::Multipart, BodyNeed::Form | BodyNeed::Either) => {
                problems.push(body_problem(
                    ProblemKind::UnsupportedMultipart,
                    "multipart bodies are not supported; send application/x-www-form-urlencoded".to_owned(),
                ));
                return;
            }
            (Declared::Form, BodyNeed::Form | BodyNeed::Either) => Some(Declared::Form),
            (Declared::Json, BodyNeed::Json | BodyNeed::Either) => Some(Declared::Json),
            (Declared::Undeclared, BodyNeed::Form) if !body.is_empty() => Some(Declared::Form),
            (Declared::Undeclared, BodyNeed::Json) if !body.is_empty() => Some(Declared::Json),
            (_, _) if body.is_empty() => None,
            (_, need) => {
                let expected = match need {
                    BodyNeed::Form => "application/x-www-form-urlencoded",
                    BodyNeed::Json => "application/json",
                    BodyNeed::Either => "application/x-www-form-urlencoded or application/json",
                };
                problems.push(location(format!("the body parameters are read from {expected}")));
                return;
            }
        };
        let needs_content = self.schema.is_some() || self.body_params().any(|p| p.required);
        if body.is_empty() && needs_content {
            problems.push(body_problem(ProblemKind::EmptyBody, "a body is required".to_owned()));
            return;
        }
        match kind {
            Some(Declared::Form) => self.check_form(body, problems, fixes),
            Some(Declared::Json) => self.check_json_body(body, problems, fixes),
            _ => {}
        }
    }

    fn check_form(&self, body: &[u8], problems: &mut Vec<Problem>, fixes: &mut Fixes) {
        respelled(body, &self.form_names, Position::Form, problems);
        let pairs: Vec<(Cow<'_, str>, Cow<'_, str>)> = parse_urlencoded(body).collect();
        let mut appended = String::new();
        for p in self.body_params() {
            let values = pairs.iter().filter(|(k, _)| *k == p.name).map(|(_, v)| Ok(v.as_ref()));
            if let Some(d) = p.settle(p.check_texts(values), problems) {
                appended = urlencoded::join(&appended, &d.encoded);
            }
        }
        if self.strict {
            let mut seen: Vec<&str> = Vec::new();
            for (key, _) in &pairs {
                if !self.form_names.iter().any(|n| n == key) && !seen.contains(&key.as_ref()) {
                    seen.push(key);
                    problems.push(undefined(key, Position::Form));
                }
            }
        }
        if !appended.is_empty() {
            let mut new = Vec::with_capacity(body.len() + 1 + appended.len());
            new.extend_from_slice(body);
            if !body.is_empty() && !body.ends_with(b"&") {
                new.push(b'&');
            }
            new.extend_from_slice(appended.as_bytes());
            fixes.body = Some(Bytes::from(new));
        }
    }

    fn check_json_body(&self, body: &[u8], problems: &mut Vec<Problem>, fixes: &mut Fixes) {
        let mut value = if body.is_empty() {
            Value::Object(serde_json::Map::new())
        } else {
            match serde_json::from_slice::<Value>(body) {
                Ok(v) => v,
                Err(e) => {
                    problems.push(body_problem(ProblemKind::InvalidBody, format!("not valid JSON: {e}")));
                    return;
                }
            }
        };
        if let Some(schema) = &self.schema {
            for error in schema.iter_errors(&value) {
                let path = error.instance_path().to_string();
                let (name, position) =
                    if path.is_empty() { ("body".to_owned(), None) } else { (path, Some(Position::Json)) };
                problems.push(Problem {
                    kind: ProblemKind::InvalidBody,
                    name,
                    position,
                    rule: error.masked().to_string(),
                });
            }
        }
        let mut changed = false;
        for p in self.body_params() {
            let (At::Json(pointer) | At::Body(pointer)) = &p.at else { continue };
            if let Some(d) = p.settle(p.check_json(value.pointer(pointer)), problems) {
                changed |= insert_at(&mut value, pointer, d.json.clone());
            }
        }
        if let (true, Value::Object(map)) = (self.strict, &value) {
            for key in map.keys().filter(|key| !self.json_keys.contains(key)) {
                problems.push(undefined(key, Position::Json));
            }
        }
        if changed {
            fixes.body = serde_json::to_vec(&value).ok().map(Bytes::from);
        }
    }
}

/// Refuses a declared name sent under another spelling that a lenient backend reads as it
/// (`Page=` or `page[]=` for `page`, ASP.NET and PHP; `x=1;page=` for `page`, older Python
/// and Go, which also split on `;`): validation checks the exact name, and the backend would
/// read the unchecked value.
fn respelled(encoded: &[u8], declared: &[String], position: Position, problems: &mut Vec<Problem>) {
    if declared.is_empty() {
        return;
    }
    let canonical: Vec<String> = declared.iter().map(|n| names::canonical(n)).collect();
    for segment in encoded.split(|&b| b == b'&').filter(|s| !s.is_empty()) {
        for (i, part) in segment.split(|&b| b == b';').filter(|p| !p.is_empty()).enumerate() {
            let Some((name, _)) = parse_urlencoded(part).next() else { continue };
            let Some(at) = canonical.iter().position(|c| *c == names::canonical(&name)) else { continue };
            // the exact name as a pair of its own is what validation read
            if i == 0 && name == declared[at] {
                continue;
            }
            if problems.iter().any(|p| p.name == declared[at] && p.kind == ProblemKind::Invalid) {
                continue;
            }
            problems.push(Problem {
                kind: ProblemKind::Invalid,
                name: declared[at].clone(),
                position: Some(position),
                // the spelling the client sent is not echoed
                rule: "is also sent under a spelling some backends read as it (another case, a `[]` suffix, \
                       after a `;`): send it once, under its own name"
                    .to_owned(),
            });
        }
    }
}

fn undefined(name: &str, position: Position) -> Problem {
    Problem {
        kind: ProblemKind::Undefined,
        name: name.to_owned(),
        position: Some(position),
        rule: "is not a defined parameter".to_owned(),
    }
}

fn body_problem(kind: ProblemKind, rule: String) -> Problem {
    Problem { kind, name: "body".to_owned(), position: None, rule }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointer_insertion() {
        let mut v: Value = serde_json::json!({"a": {"b": 1}, "n": null, "arr": [{}], "s": 1});
        assert!(insert_at(&mut v, "/a/c", Value::from(2)));
        assert!(insert_at(&mut v, "/x/y/z", Value::from(3)));
        assert!(insert_at(&mut v, "/n/k", Value::from(4)));
        assert!(insert_at(&mut v, "/arr/0/k", Value::from(5)));
        assert!(!insert_at(&mut v, "/arr/9/k", Value::from(6)));
        assert!(!insert_at(&mut v, "/s/k", Value::from(7)));
        assert!(insert_at(&mut v, "/a~1b~0c", Value::from(8)));
        assert_eq!(
            v,
            serde_json::json!({"a": {"b": 1, "c": 2}, "x": {"y": {"z": 3}}, "n": {"k": 4}, "arr": [{"k": 5}], "s": 1, "a/b~c": 8})
        );
    }

    #[test]
    fn text_parsing_per_type() {
        use ParamType::*;
        let ok = |ty, t| parse_text(ty, t).is_some();
        assert!(ok(Int, "+7") && ok(Int, "-2147483648") && ok(Int, "007"));
        assert!(!ok(Int, "2147483648") && !ok(Int, "1.0") && !ok(Int, " 1") && !ok(Int, ""));
        assert!(ok(Long, "9223372036854775807") && !ok(Long, "9223372036854775808"));
        assert!(ok(Float, "1.5") && ok(Float, "-2e3") && !ok(Float, "1e39") && !ok(Float, "NaN"));
        assert!(ok(Double, "1e300") && !ok(Double, "inf") && !ok(Double, "1e309"));
        assert!(ok(Boolean, "TRUE") && ok(Boolean, "false") && !ok(Boolean, "1") && !ok(Boolean, "yes"));
        assert!(ok(String, ""));
    }

    #[test]
    fn template_names_are_read() {
        assert_eq!(template_names("/a/{x}/b/{y}").collect::<Vec<_>>(), ["x", "y"]);
    }
}
