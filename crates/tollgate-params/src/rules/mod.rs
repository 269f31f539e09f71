//! [`ParamRules`]: parameter definitions compiled once ([`compile`]), and the check of one
//! request against them ([`check`]) — the validation policy, free of tower types. This module
//! holds what both share: a compiled definition and the judgement of one value by its rules.

mod check;
mod compile;

use std::fmt;

use http::{HeaderName, HeaderValue};
use regex::Regex;
use serde_json::Value;
use tollgate_core::PathTemplate;

use crate::config::{Limit, ParamType, Position};

pub use check::{Fixes, ParamRequest};

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
    /// The query and form names folded as lenient backends fold them (`names::canonical`).
    query_canonical: Vec<String>,
    form_canonical: Vec<String>,
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

impl ParamRules {
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
}

/// Unescapes one JSON pointer token.
fn unescape(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
