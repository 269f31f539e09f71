//! Checking: one request against [`ParamRules`], every problem reported together, and the
//! defaults a passing request needs written into it ([`Fixes`]).

use std::borrow::Cow;

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, TRANSFER_ENCODING};
use http::{HeaderMap, HeaderName, HeaderValue, Request, Uri};
use serde_json::Value;
use tollgate_core::parse_urlencoded;

use super::{At, BodyNeed, Broken, Compiled, ParamRules, Prepared, unescape};
use crate::config::Position;
use crate::names::{self, Declared};
use crate::report::{Problem, ProblemKind, Report};
use crate::urlencoded;

/// What the values of one parameter came to.
enum Seen {
    Absent,
    Fine,
    Broken(Broken),
}

impl Compiled {
    /// Checks every occurrence of a text parameter; `Err(())` is a value that is not text.
    fn check_texts<T: AsRef<str>>(&self, values: impl Iterator<Item = Result<T, ()>>) -> Seen {
        let mut count = 0;
        let mut broken = None;
        for value in values {
            count += 1;
            if broken.is_none() {
                broken = match value {
                    Ok(text) => self.check_text(text.as_ref()).err(),
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

impl ParamRules {
    /// Checks one request against every definition; all problems are reported together.
    /// A body is checked only when [`ParamRules::needs_body`] (pass it with
    /// [`ParamRequest::with_body`]).
    pub fn check(&self, request: &ParamRequest<'_>) -> Result<Fixes, Report> {
        let mut problems = Vec::new();
        let mut fixes = Fixes::default();
        // read where each query parameter is checked, not collected: most are read once
        let query = request.uri.query().filter(|_| self.reads_query).unwrap_or("");
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
                    let values = urlencoded::values(query, &p.name).map(Ok);
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
            for (key, _) in urlencoded::pairs(query) {
                // each undefined name reported once, where it first comes
                let reported = |p: &Problem| p.kind == ProblemKind::Undefined && p.name == key;
                if !self.query_names.iter().any(|n| *n == key) && !problems.iter().any(reported) {
                    problems.push(undefined(&key, Position::Query));
                }
            }
        }
        respelled(query.as_bytes(), &self.query_names, &self.query_canonical, Position::Query, &mut problems);
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
        respelled(body, &self.form_names, &self.form_canonical, Position::Form, problems);
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

/// Refuses a declared name sent under another spelling that a lenient backend reads as it
/// (`Page=` or `page[]=` for `page`, ASP.NET and PHP; `x=1;page=` for `page`, older Python
/// and Go, which also split on `;`): validation checks the exact name, and the backend would
/// read the unchecked value.
///
/// `canonical` holds the declared names' folded forms, made when the rules were compiled.
fn respelled(
    encoded: &[u8],
    declared: &[String],
    canonical: &[String],
    position: Position,
    problems: &mut Vec<Problem>,
) {
    if declared.is_empty() {
        return;
    }
    for segment in encoded.split(|&b| b == b'&').filter(|s| !s.is_empty()) {
        for (i, part) in segment.split(|&b| b == b';').filter(|p| !p.is_empty()).enumerate() {
            let name = urlencoded::pair_name(part);
            let Some(at) = canonical.iter().position(|c| names::folds_to(&name, c)) else {
                continue;
            };
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
}
