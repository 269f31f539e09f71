//! [`ParamLocation`] and [`ParamSource`]: where a parameter lives, and the one routine every
//! policy uses to read it.

use std::borrow::Cow;
use std::cell::OnceCell;
use std::fmt;

use http::header::CONTENT_TYPE;
use http::{HeaderMap, Uri};
use percent_encoding::percent_decode_str;
use serde::{Deserialize, Serialize};

/// Where a request parameter is found.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "position", content = "name", rename_all = "snake_case")]
pub enum ParamLocation {
    /// A request header (name compared case-insensitively).
    Header(String),
    /// A query-string parameter (percent-decoded; `+` is a space).
    Query(String),
    /// A segment bound by a [`PathTemplate`] (`/user/{id}`).
    Path(String),
    /// A field of an `application/x-www-form-urlencoded` body.
    Form(String),
    /// A value in a JSON body, addressed by a JSON pointer (`/user/id`).
    Json(String),
}

impl ParamLocation {
    /// Whether reading this parameter needs the request body.
    pub fn needs_body(&self) -> bool {
        matches!(self, Self::Form(_) | Self::Json(_))
    }
}

impl fmt::Display for ParamLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Header(n) => write!(f, "header {n}"),
            Self::Query(n) => write!(f, "query {n}"),
            Self::Path(n) => write!(f, "path {n}"),
            Self::Form(n) => write!(f, "form {n}"),
            Self::Json(p) => write!(f, "json {p}"),
        }
    }
}

/// A path pattern with named segments: `/user/{id}/orders/{order}`, or in Aliyun API
/// Gateway's spelling `/user/[id]/orders/[order]` (the two may be mixed).
///
/// A `{name}` (or `[name]`) segment binds one whole non-empty path segment
/// (percent-decoded); other segments match literally. A trailing slash is significant.
///
/// ```
/// use tollgate_core::PathTemplate;
///
/// let t = PathTemplate::parse("/user/{id}").unwrap();
/// let params = t.matches("/user/42%20x").unwrap();
/// assert_eq!(params.get("id"), Some("42 x"));
/// assert!(t.matches("/user/42/more").is_none());
/// assert!(PathTemplate::parse("/user/{id").is_err());
///
/// // Aliyun writes the same template with brackets
/// let aliyun = PathTemplate::parse("/user/[id]").unwrap();
/// assert_eq!(aliyun.matches("/user/42").unwrap().get("id"), Some("42"));
/// assert_eq!(aliyun.names().collect::<Vec<_>>(), ["id"]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathTemplate {
    source: String,
    segments: Vec<Segment>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Param(String),
}

/// Why a path template is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid path template {template:?}: {reason}")]
pub struct TemplateError {
    /// The template.
    pub template: String,
    /// What is wrong.
    pub reason: &'static str,
}

impl PathTemplate {
    /// Parses a template; it must start with `/`, and braces (or Aliyun's brackets) must
    /// enclose a whole segment holding a unique name of letters, digits, `_` or `-`.
    pub fn parse(template: &str) -> Result<Self, TemplateError> {
        let err = |reason| TemplateError { template: template.to_owned(), reason };
        let rest = template.strip_prefix('/').ok_or_else(|| err("must start with '/'"))?;
        let mut segments = Vec::new();
        for seg in rest.split('/') {
            let inner = match seg.as_bytes().first() {
                Some(b'{') => Some(seg[1..].strip_suffix('}').ok_or_else(|| err("unclosed '{'"))?),
                Some(b'[') => Some(seg[1..].strip_suffix(']').ok_or_else(|| err("unclosed '['"))?),
                _ => None,
            };
            if let Some(name) = inner {
                if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
                    return Err(err("a parameter name is letters, digits, '_' or '-'"));
                }
                if segments.iter().any(|s| matches!(s, Segment::Param(n) if n == name)) {
                    return Err(err("a parameter name appears twice"));
                }
                segments.push(Segment::Param(name.to_owned()));
            } else if seg.contains(['{', '}', '[', ']']) {
                return Err(err("braces or brackets must enclose a whole segment"));
            } else {
                segments.push(Segment::Literal(seg.to_owned()));
            }
        }
        Ok(Self { source: template.to_owned(), segments })
    }

    /// The template as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// The names of the parameters it binds, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.segments.iter().filter_map(|s| match s {
            Segment::Param(name) => Some(name.as_str()),
            Segment::Literal(_) => None,
        })
    }

    /// The parameters bound by `path`, or `None` when it does not match.
    pub fn matches(&self, path: &str) -> Option<PathParams> {
        let rest = path.strip_prefix('/')?;
        let mut params = Vec::new();
        let mut parts = rest.split('/');
        for seg in &self.segments {
            let part = parts.next()?;
            match seg {
                Segment::Literal(lit) => {
                    if lit != part {
                        return None;
                    }
                }
                Segment::Param(name) => {
                    if part.is_empty() {
                        return None;
                    }
                    let value = percent_decode_str(part).decode_utf8_lossy().into_owned();
                    params.push((name.clone(), value));
                }
            }
        }
        parts.next().is_none().then_some(PathParams(params))
    }
}

/// Values bound by a [`PathTemplate`]; a layer that matched one may put it in extensions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PathParams(Vec<(String, String)>);

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for PathParams {
    /// Bindings another router made (axum's `RawPathParams`), already decoded, in order.
    ///
    /// ```
    /// use tollgate_core::PathParams;
    ///
    /// let params: PathParams = [("userId", "42")].into_iter().collect();
    /// assert_eq!(params.get("userId"), Some("42"));
    /// ```
    fn from_iter<I: IntoIterator<Item = (K, V)>>(pairs: I) -> Self {
        Self(pairs.into_iter().map(|(k, v)| (k.into(), v.into())).collect())
    }
}

impl PathParams {
    /// The value bound to `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// All bindings in template order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }
}

/// Decoded `name=value` pairs of a query string or form body, in order, repeats kept.
/// Percent-escapes are decoded and `+` is a space; malformed escapes stay as written.
pub fn parse_urlencoded(input: &[u8]) -> impl Iterator<Item = (Cow<'_, str>, Cow<'_, str>)> {
    form_urlencoded::parse(input)
}

/// Why a parameter cannot be read one way only.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParamError {
    /// The parameter is given more than once (a repeated query name, a repeated header
    /// line): frameworks differ on which one a backend reads.
    #[error("{0} is given more than once")]
    Repeated(String),
    /// A `%` not followed by two hex digits: frameworks differ on what it means.
    #[error("{0} has a malformed percent-escape")]
    MalformedEscape(String),
}

/// Whether every `%` in `raw` starts a two-hex-digit escape.
fn escapes_are_well_formed(raw: &[u8]) -> bool {
    let mut rest = raw;
    while let Some(at) = rest.iter().position(|&b| b == b'%') {
        match rest.get(at + 1..at + 3) {
            Some([a, b]) if a.is_ascii_hexdigit() && b.is_ascii_hexdigit() => rest = &rest[at + 3..],
            _ => return false,
        }
    }
    true
}

/// The only value of `name` in a query string or form body, decoded as frameworks decode it
/// (`+` a space, percent-escapes, invalid UTF-8 as U+FFFD); `None` when absent.
/// `label` names the parameter in an error.
pub(crate) fn unique_urlencoded<'a>(
    input: &'a [u8],
    name: &str,
    label: &dyn Fn() -> String,
) -> Result<Option<Cow<'a, str>>, ParamError> {
    let mut found = None;
    for pair in input.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
        let Some((key, value)) = parse_urlencoded(pair).next() else { continue };
        if key != name {
            continue;
        }
        if found.is_some() {
            return Err(ParamError::Repeated(label()));
        }
        if !escapes_are_well_formed(pair) {
            return Err(ParamError::MalformedEscape(label()));
        }
        found = Some(value.into_owned());
    }
    Ok(found.map(Cow::Owned))
}

/// A request path as a backend routes it: percent-escapes decoded, empty, `.` and `..`
/// segments resolved (`%2e` is a dot), a trailing slash kept. A slash decoded from `%2F`
/// stays `%2F` (it is part of a segment, as axum's `Path` reads it) and a decoded `%`
/// is `%25`. Two paths a backend serves alike give one text, so a limit keyed by the path
/// cannot be escaped by spelling it another way. A malformed escape is refused.
///
/// ```
/// use tollgate_core::normalize_path;
///
/// assert_eq!(normalize_path("/users/42").unwrap(), "/users/42");
/// assert_eq!(normalize_path("/users/%342").unwrap(), "/users/42");
/// assert_eq!(normalize_path("//users/./x/../42").unwrap(), "/users/42");
/// assert_eq!(normalize_path("/users/%2e%2E/a%2Fb/").unwrap(), "/a%2Fb/");
/// assert!(normalize_path("/users/%zz").is_err());
/// ```
pub fn normalize_path(path: &str) -> Result<Cow<'_, str>, ParamError> {
    let Some(rest) = path.strip_prefix('/') else {
        return Ok(Cow::Borrowed(path)); // `*`, or an authority-form target
    };
    if !escapes_are_well_formed(path.as_bytes()) {
        return Err(ParamError::MalformedEscape("the path".into()));
    }
    let plain = |seg: &str| !seg.is_empty() && seg != "." && seg != ".." && !seg.contains('%');
    let segments: Vec<&str> = rest.split('/').collect();
    let last = segments.len() - 1;
    if segments.iter().enumerate().all(|(i, seg)| plain(seg) || (i == last && seg.is_empty())) {
        return Ok(Cow::Borrowed(path));
    }
    let mut out: Vec<String> = Vec::with_capacity(segments.len());
    let mut trailing = false;
    for seg in segments {
        let decoded = percent_decode_str(seg).decode_utf8_lossy();
        trailing = true;
        match &*decoded {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            text => {
                out.push(text.replace('%', "%25").replace('/', "%2F"));
                trailing = false;
            }
        }
    }
    let mut normal = String::with_capacity(path.len());
    for seg in &out {
        normal.push('/');
        normal.push_str(seg);
    }
    if trailing || out.is_empty() {
        normal.push('/');
    }
    Ok(Cow::Owned(normal))
}

/// The one routine every policy uses to read a parameter from a request.
///
/// Built from a request's URI and headers, plus its buffered body and the path parameters
/// a template bound, when those are known. A JSON body is parsed once, on first use.
///
/// ```
/// use http::Request;
/// use tollgate_core::{ParamLocation, ParamSource, PathTemplate};
///
/// let req = Request::post("/user/7?tag=a&tag=b%20c")
///     .header("content-type", "application/json")
///     .header("x-user", "u1")
///     .body(())
///     .unwrap();
/// let path = PathTemplate::parse("/user/{id}").unwrap().matches(req.uri().path()).unwrap();
/// let body = br#"{"order": {"qty": 3}}"#;
/// let src = ParamSource::new(req.uri(), req.headers()).with_path_params(&path).with_body(body);
///
/// assert_eq!(src.get(&ParamLocation::Path("id".into())).as_deref(), Some("7"));
/// assert_eq!(src.get_all(&ParamLocation::Query("tag".into())), ["a", "b c"]);
/// assert_eq!(src.get(&ParamLocation::Header("X-User".into())).as_deref(), Some("u1"));
/// assert_eq!(src.get(&ParamLocation::Json("/order/qty".into())).as_deref(), Some("3"));
/// ```
pub struct ParamSource<'a> {
    uri: &'a Uri,
    headers: &'a HeaderMap,
    path_params: Option<&'a PathParams>,
    body: Option<&'a [u8]>,
    json: OnceCell<Option<serde_json::Value>>,
}

impl fmt::Debug for ParamSource<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParamSource").field("uri", self.uri).finish_non_exhaustive()
    }
}

impl<'a> ParamSource<'a> {
    /// A source over a request's URI and headers.
    pub fn new(uri: &'a Uri, headers: &'a HeaderMap) -> Self {
        Self { uri, headers, path_params: None, body: None, json: OnceCell::new() }
    }

    /// Adds the parameters a path template bound.
    pub fn with_path_params(mut self, params: &'a PathParams) -> Self {
        self.path_params = Some(params);
        self
    }

    /// Adds the buffered body.
    pub fn with_body(mut self, body: &'a [u8]) -> Self {
        self.body = Some(body);
        self
    }

    /// The first value of the parameter, if present.
    pub fn get(&self, location: &ParamLocation) -> Option<Cow<'a, str>> {
        match location {
            ParamLocation::Header(name) => {
                // looked up by text (an invalid name finds nothing): a `HeaderName` made
                // per request would copy a non-standard name into an allocation
                self.headers.get(name.as_str())?.to_str().ok().map(Cow::Borrowed)
            }
            ParamLocation::Query(name) => {
                let query = self.uri.query()?.as_bytes();
                parse_urlencoded(query).find(|(k, _)| k == name).map(|(_, v)| v)
            }
            ParamLocation::Path(name) => self.path_params?.get(name).map(|v| Cow::Owned(v.to_owned())),
            ParamLocation::Form(name) => {
                let body = self.form_body()?;
                parse_urlencoded(body).find(|(k, _)| k == name).map(|(_, v)| v)
            }
            ParamLocation::Json(pointer) => {
                let value = self.json()?.pointer(pointer)?;
                json_text(value).map(Cow::Owned)
            }
        }
    }

    /// The parameter's only value, as a backend reads it, or `None` when absent; refused
    /// when it could be read two ways. A header's value is its bytes as UTF-8 (invalid
    /// sequences as U+FFFD), refused when the header is repeated; a query or form value is
    /// decoded (`+` a space, percent-escapes), refused when the name is repeated or the pair
    /// holds a malformed escape. Path and JSON values are read as [`get`](Self::get) does.
    pub fn get_unique(&self, location: &ParamLocation) -> Result<Option<Cow<'a, str>>, ParamError> {
        match location {
            ParamLocation::Header(name) => {
                let mut values = self.headers.get_all(name.as_str()).iter();
                let Some(value) = values.next() else { return Ok(None) };
                if values.next().is_some() {
                    return Err(ParamError::Repeated(location.to_string()));
                }
                Ok(Some(String::from_utf8_lossy(value.as_bytes())))
            }
            ParamLocation::Query(name) => match self.uri.query() {
                Some(query) => unique_urlencoded(query.as_bytes(), name, &|| location.to_string()),
                None => Ok(None),
            },
            ParamLocation::Form(name) => match self.form_body() {
                Some(body) => unique_urlencoded(body, name, &|| location.to_string()),
                None => Ok(None),
            },
            ParamLocation::Path(_) | ParamLocation::Json(_) => Ok(self.get(location)),
        }
    }

    /// Every value of the parameter, in order (repeated query keys, repeated headers, the
    /// elements of a JSON array).
    pub fn get_all(&self, location: &ParamLocation) -> Vec<Cow<'a, str>> {
        match location {
            ParamLocation::Header(name) => {
                self.headers.get_all(name.as_str()).iter().filter_map(|v| v.to_str().ok()).map(Cow::Borrowed).collect()
            }
            ParamLocation::Query(name) => match self.uri.query() {
                Some(q) => parse_urlencoded(q.as_bytes()).filter(|(k, _)| k == name).map(|(_, v)| v).collect(),
                None => Vec::new(),
            },
            ParamLocation::Form(name) => match self.form_body() {
                Some(b) => parse_urlencoded(b).filter(|(k, _)| k == name).map(|(_, v)| v).collect(),
                None => Vec::new(),
            },
            ParamLocation::Json(pointer) => match self.json().and_then(|j| j.pointer(pointer)) {
                Some(serde_json::Value::Array(items)) => items.iter().filter_map(json_text).map(Cow::Owned).collect(),
                Some(v) => json_text(v).map(Cow::Owned).into_iter().collect(),
                None => Vec::new(),
            },
            ParamLocation::Path(_) => self.get(location).into_iter().collect(),
        }
    }

    fn content_type_is(&self, essence: &str) -> bool {
        self.headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case(essence))
    }

    fn form_body(&self) -> Option<&'a [u8]> {
        self.body.filter(|_| self.content_type_is("application/x-www-form-urlencoded"))
    }

    fn json(&self) -> Option<&serde_json::Value> {
        self.json
            .get_or_init(|| {
                let body = self.body?;
                let is_json = self
                    .headers
                    .get(CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.split(';').next())
                    .is_some_and(|v| {
                        let v = v.trim().to_ascii_lowercase();
                        v == "application/json" || v.ends_with("+json")
                    });
                if is_json { serde_json::from_slice(body).ok() } else { None }
            })
            .as_ref()
    }
}

/// A JSON value as parameter text: strings as they are, `null` as absent, others as JSON.
fn json_text(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// `name` (a query or form field's) folded as the most lenient common backend reads it: cut
/// at a NUL and at a `[` (not at its start), trimmed, case folded, `-`, `.`, space and `+` read
/// as `_`. Two names that fold alike may reach a handler as one parameter, so a policy that
/// judges or writes one of them must treat the other as the same (refuse it, or remove it).
///
/// ```
/// use tollgate_core::lenient_name;
///
/// for spelling in ["user_id", "User-Id", "user.id", "user id", "user+id", "user_id[]", " USER_ID\0x"] {
///     assert_eq!(lenient_name(spelling), "user_id", "{spelling:?}");
/// }
/// assert_ne!(lenient_name("userId"), lenient_name("user_id"));
/// ```
pub fn lenient_name(name: &str) -> Cow<'_, str> {
    let name = match name.find('\0') {
        Some(nul) => &name[..nul],
        None => name,
    }
    .trim();
    let name = match name.find('[') {
        Some(i) if i > 0 => name[..i].trim(),
        _ => name,
    };
    let plain = name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if plain {
        return Cow::Borrowed(name);
    }
    Cow::Owned(
        name.chars()
            .flat_map(|c| match c {
                '-' | '.' | ' ' | '+' => "_".chars().collect::<Vec<_>>(),
                c if c.is_ascii() => vec![c.to_ascii_lowercase()],
                // as Java's equalsIgnoreCase and .NET's invariant comparisons meet (`ſ` → `s`)
                c => c.to_uppercase().flat_map(char::to_lowercase).collect(),
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Request;

    #[test]
    fn query_decoding_and_repeats() {
        let req = Request::get("/x?a=1&b=%E4%BD%A0+%2B&a=2&empty=&flag").body(()).unwrap();
        let src = ParamSource::new(req.uri(), req.headers());
        assert_eq!(src.get(&ParamLocation::Query("b".into())).as_deref(), Some("你 +"));
        assert_eq!(src.get_all(&ParamLocation::Query("a".into())), ["1", "2"]);
        assert_eq!(src.get(&ParamLocation::Query("empty".into())).as_deref(), Some(""));
        assert_eq!(src.get(&ParamLocation::Query("flag".into())).as_deref(), Some(""));
        assert_eq!(src.get(&ParamLocation::Query("nope".into())), None);
    }

    #[test]
    fn unique_values_are_decoded_and_repeats_refused() {
        let req = Request::get("/x?u%73er=a+b%21&n=%E4%BD%A0&r=1&r=2&bad=%zz&half=%4&ok=100%25")
            .header("x-a", "1")
            .header("x-a", "2")
            .header("x-b", &b"caf\xc3\xa9"[..])
            .body(())
            .unwrap();
        let src = ParamSource::new(req.uri(), req.headers());
        let get = |l: ParamLocation| src.get_unique(&l).map(|v| v.map(Cow::into_owned));
        assert_eq!(get(ParamLocation::Query("user".into())), Ok(Some("a b!".into())));
        assert_eq!(get(ParamLocation::Query("n".into())), Ok(Some("你".into())));
        assert_eq!(get(ParamLocation::Query("ok".into())), Ok(Some("100%".into())));
        assert_eq!(get(ParamLocation::Query("none".into())), Ok(None));
        assert!(matches!(get(ParamLocation::Query("r".into())), Err(ParamError::Repeated(_))));
        assert!(matches!(get(ParamLocation::Query("bad".into())), Err(ParamError::MalformedEscape(_))));
        assert!(matches!(get(ParamLocation::Query("half".into())), Err(ParamError::MalformedEscape(_))));
        assert!(matches!(get(ParamLocation::Header("X-A".into())), Err(ParamError::Repeated(_))));
        assert_eq!(get(ParamLocation::Header("x-b".into())), Ok(Some("café".into())));
        assert_eq!(get(ParamLocation::Header("x-c".into())), Ok(None));
        // a header is found whatever the case of its configured name; a name no header can
        // have finds nothing, by each reading
        assert_eq!(get(ParamLocation::Header("X-B".into())), Ok(Some("café".into())));
        for invalid in ["x a", "", "x\u{e9}", "x:y"] {
            let at = ParamLocation::Header(invalid.into());
            assert_eq!(get(at.clone()), Ok(None), "{invalid:?}");
            assert_eq!(src.get(&at), None, "{invalid:?}");
            assert!(src.get_all(&at).is_empty(), "{invalid:?}");
        }
        assert_eq!(src.get_all(&ParamLocation::Header("X-a".into())), ["1", "2"]);
    }

    #[test]
    fn paths_normalize_as_backends_route_them() {
        for (raw, normal) in [
            ("/", "/"),
            ("/a/b", "/a/b"),
            ("/a/b/", "/a/b/"),
            ("/a/%62", "/a/b"),
            ("//a///b", "/a/b"),
            ("/a/./b/.", "/a/b/"),
            ("/a/../../b", "/b"),
            ("/a/%2e%2E", "/"),
            ("/a/b/..", "/a/"),
            ("/a%2Fb/c", "/a%2Fb/c"),
            ("/a%252F", "/a%252F"),
            ("/%E4%BD%A0", "/你"),
            ("*", "*"),
        ] {
            assert_eq!(normalize_path(raw).unwrap(), normal, "{raw}");
            // normal forms are fixed points
            assert_eq!(normalize_path(normal).unwrap(), normal, "{normal}");
        }
        for bad in ["/%", "/a%2", "/%g0"] {
            assert!(normalize_path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn form_needs_form_content_type() {
        let req = Request::post("/x")
            .header("content-type", "application/x-www-form-urlencoded; charset=utf-8")
            .body(())
            .unwrap();
        let src = ParamSource::new(req.uri(), req.headers()).with_body(b"name=a+b&n=%26");
        assert_eq!(src.get(&ParamLocation::Form("name".into())).as_deref(), Some("a b"));
        assert_eq!(src.get(&ParamLocation::Form("n".into())).as_deref(), Some("&"));
        let req = Request::post("/x").header("content-type", "text/plain").body(()).unwrap();
        let src = ParamSource::new(req.uri(), req.headers()).with_body(b"name=a");
        assert_eq!(src.get(&ParamLocation::Form("name".into())), None);
    }

    #[test]
    fn json_pointer_values() {
        let req = Request::post("/x").header("content-type", "application/vnd.api+json").body(()).unwrap();
        let body = br#"{"s":"t","n":1.5,"b":true,"z":null,"a":[1,"x"],"o":{"k":1}}"#;
        let src = ParamSource::new(req.uri(), req.headers()).with_body(body);
        let get = |p: &str| src.get(&ParamLocation::Json(p.into())).map(|c| c.into_owned());
        assert_eq!(get("/s").as_deref(), Some("t"));
        assert_eq!(get("/n").as_deref(), Some("1.5"));
        assert_eq!(get("/b").as_deref(), Some("true"));
        assert_eq!(get("/z"), None);
        assert_eq!(get("/o").as_deref(), Some(r#"{"k":1}"#));
        assert_eq!(src.get_all(&ParamLocation::Json("/a".into())), ["1", "x"]);
        // invalid JSON is simply absent
        let src = ParamSource::new(req.uri(), req.headers()).with_body(b"{nope");
        assert_eq!(src.get(&ParamLocation::Json("/s".into())), None);
    }

    #[test]
    fn headers_repeat_and_case() {
        let req = Request::get("/").header("X-A", "1").header("x-a", "2").body(()).unwrap();
        let src = ParamSource::new(req.uri(), req.headers());
        assert_eq!(src.get_all(&ParamLocation::Header("x-A".into())), ["1", "2"]);
        assert_eq!(src.get(&ParamLocation::Header("bad header".into())), None);
    }

    #[test]
    fn templates() {
        let t = PathTemplate::parse("/a/{x}/b/{y}").unwrap();
        let p = t.matches("/a/1/b/2").unwrap();
        assert_eq!(p.iter().collect::<Vec<_>>(), [("x", "1"), ("y", "2")]);
        assert!(t.matches("/a//b/2").is_none());
        assert!(t.matches("/a/1/c/2").is_none());
        assert!(t.matches("/a/1/b").is_none());
        assert!(t.matches("a/1/b/2").is_none());
        for bad in
            ["", "x", "/{}", "/{a b}", "/x{a}", "/{a}/{a}", "/{a", "/[a", "/[a}", "/{a]", "/x[a]", "/[]", "/[a]/{a}"]
        {
            assert!(PathTemplate::parse(bad).is_err(), "{bad}");
        }
        // Aliyun's brackets bind as braces do, and mix with them
        let t = PathTemplate::parse("/a/[x]/b/{y}").unwrap();
        let p = t.matches("/a/1/b/2").unwrap();
        assert_eq!(p.iter().collect::<Vec<_>>(), [("x", "1"), ("y", "2")]);
        assert_eq!(t.names().collect::<Vec<_>>(), ["x", "y"]);
        assert!(t.matches("/a/[x]/b/").is_none());
        assert!(PathTemplate::parse("/").unwrap().matches("/").is_some());
    }

    proptest::proptest! {
        /// Aliyun's `[name]` is the same template as `{name}`: same names, same matches,
        /// same bindings; and no text makes parsing panic.
        #[test]
        fn brackets_are_braces(
            segments in proptest::collection::vec(("[a-z]{1,4}", proptest::bool::ANY, proptest::bool::ANY), 0..5),
            path in "(/[a-z0-9\\[\\]{}%]{0,5}){0,5}",
            junk in "\\PC{0,20}",
        ) {
            let _ = PathTemplate::parse(&junk);
            let mut braces = String::new();
            let mut mixed = String::new();
            for (i, (lit, is_param, bracket)) in segments.iter().enumerate() {
                if *is_param {
                    braces.push_str(&format!("/{{p{i}}}"));
                    mixed.push_str(&if *bracket { format!("/[p{i}]") } else { format!("/{{p{i}}}") });
                } else {
                    braces.push_str(&format!("/{lit}"));
                    mixed.push_str(&format!("/{lit}"));
                }
            }
            let braces = if braces.is_empty() { "/".to_owned() } else { braces };
            let mixed = if mixed.is_empty() { "/".to_owned() } else { mixed };
            let (a, b) = (PathTemplate::parse(&braces).unwrap(), PathTemplate::parse(&mixed).unwrap());
            proptest::prop_assert!(a.names().eq(b.names()));
            proptest::prop_assert_eq!(a.matches(&path), b.matches(&path));
        }
    }

    #[test]
    fn location_serde() {
        let l: ParamLocation = serde_json::from_str(r#"{"position":"query","name":"a"}"#).unwrap();
        assert_eq!(l, ParamLocation::Query("a".into()));
    }
}
