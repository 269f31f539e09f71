//! Binding requests to APIs: a method filter and an nginx-like path pattern.

use std::fmt;

use http::{HeaderMap, Method};
use regex::Regex;
use tollgate_core::{PathParams, PathTemplate};

/// A path pattern, written as in an nginx `location`:
///
/// | written | kind | matches |
/// |---|---|---|
/// | `= /health` | exact | that path only |
/// | `^~ /static/` | preferred prefix | paths starting with it; the longest one wins |
/// | `/users/{id}` or `/users/[id]` | template | one whole segment per `{name}` or Aliyun's `[name]` (bound as [`PathParams`]) |
/// | `~ ^/v1/orders/[0-9]+$` | regex | paths the regex finds a match in (`~*`: ignoring case) |
/// | `/api/` | prefix | paths starting with it; the longest one wins |
///
/// Priority: exact, then preferred prefix, then templates and regexes in declaration order,
/// then plain prefixes.
#[derive(Clone)]
pub(crate) enum PathPattern {
    Exact(String),
    Preferred(String),
    Template(PathTemplate),
    Regex(Regex),
    Prefix(String),
}

impl fmt::Debug for PathPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Exact(p) => write!(f, "= {p}"),
            Self::Preferred(p) => write!(f, "^~ {p}"),
            Self::Template(t) => f.write_str(t.as_str()),
            Self::Regex(r) => write!(f, "~ {}", r.as_str()),
            Self::Prefix(p) => f.write_str(p),
        }
    }
}

impl PathPattern {
    /// Parses a pattern; the error says what was expected.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let path = |rest: &str, kind: &str| -> Result<String, String> {
            let rest = rest.trim();
            if rest.starts_with('/') {
                Ok(rest.to_owned())
            } else {
                Err(format!("expected a path starting with '/' after {kind:?}, got {rest:?}"))
            }
        };
        if let Some(rest) = text.strip_prefix("^~") {
            return Ok(Self::Preferred(path(rest, "^~")?));
        }
        if let Some(rest) = text.strip_prefix("~*") {
            return regex(&format!("(?i){}", rest.trim()));
        }
        if let Some(rest) = text.strip_prefix('~') {
            return regex(rest.trim());
        }
        if let Some(rest) = text.strip_prefix('=') {
            return Ok(Self::Exact(path(rest, "=")?));
        }
        if !text.starts_with('/') {
            return Err(format!(
                "expected \"= /exact\", \"^~ /prefix/\", \"~ regex\", a template \"/users/{{id}}\" or a prefix \"/api/\", got {text:?}"
            ));
        }
        if text.contains(['{', '}', '[', ']']) {
            return PathTemplate::parse(text).map(Self::Template).map_err(|e| e.to_string());
        }
        Ok(Self::Prefix(text.to_owned()))
    }
}

fn regex(source: &str) -> Result<PathPattern, String> {
    if source.is_empty() || source == "(?i)" {
        return Err("expected a regular expression after '~'".into());
    }
    Regex::new(source).map(PathPattern::Regex).map_err(|e| format!("invalid regular expression: {e}"))
}

/// One API's binding: methods (empty for any) and a path pattern.
#[derive(Debug, Clone)]
pub(crate) struct Route {
    pub(crate) methods: Vec<Method>,
    pub(crate) pattern: PathPattern,
}

/// Which API a request belongs to.
#[derive(Debug)]
pub(crate) enum Found {
    /// The API at this index, with the values a template bound.
    Api(usize, Option<PathParams>),
    /// A path matched but not with this method: these are the methods that would have.
    WrongMethod(Vec<Method>),
    /// No path matched.
    Nothing,
}

impl Route {
    fn allows(&self, method: &Method) -> bool {
        self.methods.is_empty()
            || self.methods.contains(method)
            || (*method == Method::HEAD && self.allows(&Method::GET))
    }
}

/// The method a request is bound by: a CORS preflight (`OPTIONS` with `Origin` and
/// `Access-Control-Request-Method`) is bound by the method it asks about, so that the API's
/// CORS policy answers it.
pub(crate) fn binding_method<'a>(method: &'a Method, headers: &HeaderMap) -> std::borrow::Cow<'a, Method> {
    if method == Method::OPTIONS
        && headers.contains_key(http::header::ORIGIN)
        && let Some(asked) =
            headers.get(http::header::ACCESS_CONTROL_REQUEST_METHOD).and_then(|v| Method::from_bytes(v.as_bytes()).ok())
    {
        return std::borrow::Cow::Owned(asked);
    }
    std::borrow::Cow::Borrowed(method)
}

/// Why a path is not in normal form: what it holds.
pub(crate) type NotNormal = &'static str;

/// Checks that `path` is in the one form every reader agrees on, so that the API it is
/// matched to is the one the handler serves: no `%` that does not start an escape, no NUL,
/// no escaped unreserved character (`%61` for `a`, `%2E` for `.`), no escaped slash or
/// backslash (`%2F`, `%5C`; allowed with `encoded_slashes`, and then matched as sent), no
/// backslash, no `;` (Tomcat and Jetty drop `;...` from a segment), no empty segment (`//`)
/// and no `.` or `..` segment. A trailing slash is normal. The asterisk-form `*` passes.
///
/// Paths are checked, not rewritten: a signature covers the path as sent, and the handler
/// routes on it too, so matching, signing and serving all read the same bytes.
pub(crate) fn check_path(path: &str, encoded_slashes: bool) -> Result<(), NotNormal> {
    if path == "*" {
        return Ok(());
    }
    let bytes = path.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = |b: Option<&u8>| b.and_then(|b| (*b as char).to_digit(16));
                let (Some(hi), Some(lo)) = (hex(bytes.get(i + 1)), hex(bytes.get(i + 2))) else {
                    return Err("a '%' that does not start an escape");
                };
                match (hi * 16 + lo) as u8 {
                    0 => return Err("an escaped NUL (%00)"),
                    b'/' | b'\\' if !encoded_slashes => return Err("an escaped slash or backslash (%2F, %5C)"),
                    b if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') => {
                        return Err("an escaped unreserved character (send letters, digits and -._~ as they are)");
                    }
                    _ => {}
                }
                i += 3;
            }
            b'\\' => return Err("a backslash"),
            b';' => return Err("a ';'"),
            _ => i += 1,
        }
    }
    let Some(rest) = path.strip_prefix('/') else { return Err("no leading '/'") };
    let mut segments = rest.split('/').peekable();
    while let Some(segment) = segments.next() {
        match segment {
            // the last segment may be empty: a trailing slash
            "" if segments.peek().is_some() => return Err("an empty segment ('//')"),
            "." | ".." => return Err("a '.' or '..' segment"),
            _ => {}
        }
    }
    Ok(())
}

/// Finds the API for `method` and `path` by the priority of [`PathPattern`].
pub(crate) fn find(routes: &[Route], method: &Method, path: &str) -> Found {
    let mut wrong: Vec<Method> = Vec::new();
    let mut note = |route: &Route| {
        for m in &route.methods {
            if !wrong.contains(m) {
                wrong.push(m.clone());
            }
        }
    };
    // 1. exact
    for (i, route) in routes.iter().enumerate() {
        if let PathPattern::Exact(p) = &route.pattern
            && p == path
        {
            if route.allows(method) {
                return Found::Api(i, None);
            }
            note(route);
        }
    }
    // 2. preferred prefix, longest first
    if let Some(i) = longest(routes, method, path, true, &mut note) {
        return Found::Api(i, None);
    }
    // 3. templates and regexes, in declaration order
    for (i, route) in routes.iter().enumerate() {
        let params = match &route.pattern {
            PathPattern::Template(t) => match t.matches(path) {
                Some(params) => Some(params),
                None => continue,
            },
            PathPattern::Regex(r) if r.is_match(path) => None,
            _ => continue,
        };
        if route.allows(method) {
            return Found::Api(i, params);
        }
        note(route);
    }
    // 4. plain prefix, longest first
    if let Some(i) = longest(routes, method, path, false, &mut note) {
        return Found::Api(i, None);
    }
    if wrong.is_empty() { Found::Nothing } else { Found::WrongMethod(wrong) }
}

/// The longest (preferred or plain) prefix of `path` whose route allows `method`; earlier
/// declarations win ties.
fn longest(
    routes: &[Route],
    method: &Method,
    path: &str,
    preferred: bool,
    note: &mut impl FnMut(&Route),
) -> Option<usize> {
    let mut best: Option<(usize, usize)> = None;
    for (i, route) in routes.iter().enumerate() {
        let prefix = match (&route.pattern, preferred) {
            (PathPattern::Preferred(p), true) | (PathPattern::Prefix(p), false) => p,
            _ => continue,
        };
        if !path.starts_with(prefix.as_str()) {
            continue;
        }
        if !route.allows(method) {
            note(route);
            continue;
        }
        if best.is_none_or(|(_, len)| prefix.len() > len) {
            best = Some((i, prefix.len()));
        }
    }
    best.map(|(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(method: &[&str], pattern: &str) -> Route {
        Route {
            methods: method.iter().map(|m| m.parse().unwrap()).collect(),
            pattern: PathPattern::parse(pattern).unwrap(),
        }
    }

    fn at(routes: &[Route], method: &str, path: &str) -> Option<usize> {
        match find(routes, &method.parse().unwrap(), path) {
            Found::Api(i, _) => Some(i),
            _ => None,
        }
    }

    #[test]
    fn priority() {
        let routes = [
            route(&[], "/"),
            route(&[], "/static/"),
            route(&[], "^~ /static/img/"),
            route(&[], "~ \\.png$"),
            route(&[], "= /static/img/logo.png"),
            route(&[], "/users/{id}"),
            route(&["DELETE"], "/users/"),
            route(&[], "/shops/[shopId]/items/{itemId}"),
        ];
        match find(&routes, &Method::GET, "/shops/s1/items/i%202") {
            Found::Api(7, Some(params)) => {
                assert_eq!((params.get("shopId"), params.get("itemId")), (Some("s1"), Some("i 2")));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(at(&routes, "GET", "/static/img/logo.png"), Some(4));
        assert_eq!(at(&routes, "GET", "/static/img/a.png"), Some(2));
        assert_eq!(at(&routes, "GET", "/static/a.png"), Some(3));
        assert_eq!(at(&routes, "GET", "/static/a.css"), Some(1));
        assert_eq!(at(&routes, "GET", "/users/7"), Some(5));
        assert_eq!(at(&routes, "DELETE", "/users/7/x"), Some(6));
        assert_eq!(at(&routes, "GET", "/users/7/x"), Some(0));
    }

    /// The normal form as Envoy's `normalize_path` and `merge_slashes` make it: unreserved
    /// escapes decoded, slashes merged, dot segments removed (RFC 3986 5.2.4; climbing above
    /// the root stops there). `None` for what cannot be normalised.
    fn normalise(path: &str) -> Option<String> {
        let bytes = path.as_bytes();
        let mut decoded = String::new();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' {
                let text = path.get(i + 1..i + 3)?;
                let b = u8::from_str_radix(text, 16).ok()?;
                if b == 0 {
                    return None;
                }
                if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                    decoded.push(b as char);
                } else {
                    decoded.push_str(&path[i..i + 3]);
                }
                i += 3;
            } else {
                let c = path[i..].chars().next()?;
                decoded.push(c);
                i += c.len_utf8();
            }
        }
        let mut out: Vec<&str> = Vec::new();
        let parts: Vec<&str> = decoded.split('/').skip(1).collect();
        for (n, part) in parts.iter().enumerate() {
            let last = n + 1 == parts.len();
            match *part {
                "." | "" if last => out.push(""),
                "." | "" => {}
                ".." => {
                    out.pop();
                    if last {
                        out.push("");
                    }
                }
                p => out.push(p),
            }
        }
        Some(format!("/{}", out.join("/")))
    }

    #[test]
    fn the_attack_paths_are_not_normal() {
        for path in ["//admin/users", "/%61dmin/users", "/x/../admin/users", "/./admin/users", "/admin%2Fusers"] {
            assert!(check_path(path, false).is_err(), "{path}");
            assert_eq!(normalise(path).as_deref().map(|p| p.replace("%2F", "/")), Some("/admin/users".to_owned()));
        }
        for path in
            ["/admin%5cusers", "/a%2", "/a%zz", "/a%00", "/a\\b", "/admin;x/users", "/a/..", "/a/.", "/%2e%2E/a"]
        {
            assert!(check_path(path, false).is_err(), "{path}");
        }
        for path in ["/", "/admin/", "/admin/users", "/a%20b/%C3%A9", "/a.b/..c/.d", "*", "/~u/a-b_c"] {
            assert_eq!(check_path(path, false), Ok(()), "{path}");
        }
        assert_eq!(check_path("/admin%2Fusers", true), Ok(()));
        assert_eq!(check_path("/admin%5Cusers", true), Ok(()));
        assert!(check_path("/admin%2Fusers/..", true).is_err());
    }

    proptest::proptest! {
        /// A path passes the check exactly when it is its own normal form (for paths with
        /// nothing the check refuses for other reasons), and the normal form is stable.
        #[test]
        fn check_agrees_with_normalisation(parts in proptest::collection::vec(
            proptest::sample::select(vec!["a", "B", ".", "..", "", "%2e", "%2E%2e", "%61", "%20", "~", "%C3%A9", "x.y", "%7E"]),
            0..8,
        )) {
            let path = format!("/{}", parts.join("/"));
            let normal = normalise(&path).unwrap();
            let again = normalise(&normal);
            proptest::prop_assert_eq!(again.as_deref(), Some(normal.as_str()));
            proptest::prop_assert_eq!(check_path(&normal, false), Ok(()));
            proptest::prop_assert!(!normal.contains("//") && !normal.contains("/./") && !normal.contains("/../"));
            proptest::prop_assert_eq!(check_path(&path, false).is_ok(), normal == path, "{}", path);
        }
    }

    #[test]
    fn bad_patterns() {
        assert!(PathPattern::parse("users").is_err());
        assert!(PathPattern::parse("= users").is_err());
        assert!(PathPattern::parse("~ (").is_err());
        assert!(PathPattern::parse("/users/{id").is_err());
        assert!(PathPattern::parse("/users/[id").is_err());
        assert!(PathPattern::parse("/users/x[id]").is_err());
        // a regex keeps its brackets
        assert!(matches!(PathPattern::parse("~ ^/v[0-9]/x$"), Ok(PathPattern::Regex(_))));
    }
}
