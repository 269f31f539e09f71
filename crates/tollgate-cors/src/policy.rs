//! The CORS decision itself, free of tower: compiled rules, the answer to a preflight, and
//! the grants added to an actual response.

use http::header::{
    ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE, ACCESS_CONTROL_REQUEST_HEADERS,
    ORIGIN, VARY,
};
use http::{HeaderMap, HeaderName, HeaderValue, Method};

use crate::config::{ConfigError, Dialect, Field};
use crate::interned::interned;
use crate::origin::AllowedOrigins;

const STAR: HeaderValue = HeaderValue::from_static("*");
const TRUE: HeaderValue = HeaderValue::from_static("true");
/// `Vary` of every answer that depends on the request's `Origin`.
pub(crate) const VARY_ORIGIN: HeaderValue = HeaderValue::from_static("Origin");
/// `Vary` of every preflight answer.
pub(crate) const VARY_PREFLIGHT: HeaderValue =
    HeaderValue::from_static("Origin, Access-Control-Request-Method, Access-Control-Request-Headers");

/// What a [`CorsLayer`](crate::CorsLayer) does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CorsMode {
    /// Nothing: requests and responses pass untouched (a [`CorsConfig`](crate::CorsConfig)
    /// with neither the switch nor a plugin).
    Off,
    /// The "support CORS" switch: `Access-Control-Allow-Origin: *` on every response, and
    /// nothing else (preflights go to the handler).
    Switch,
    /// A CORS rule (the plugin): preflights answered in the layer, grants on the responses
    /// to allowed origins.
    Rules,
}

/// A layer's configuration: its mode, the rule it applies in [`CorsMode::Rules`], and the
/// preflight headers that rule fixes.
#[derive(Debug, Clone)]
pub(crate) struct Policy {
    pub(crate) mode: CorsMode,
    pub(crate) rules: Rules,
    preflight: PreflightHeaders,
}

impl Policy {
    pub(crate) fn new(mode: CorsMode, rules: Rules) -> Self {
        Self { mode, preflight: PreflightHeaders::render(&rules), rules }
    }

    /// The answer to a preflight (`OPTIONS` with `Origin` and
    /// `Access-Control-Request-Method`, given apart from the rest of the request's headers):
    /// its headers, and why it grants nothing if it doesn't.
    pub(crate) fn preflight(
        &self,
        origin: &HeaderValue,
        method: &HeaderValue,
        request: &HeaderMap,
    ) -> (HeaderMap, Option<Refusal>) {
        let rules = &self.rules;
        let Some(granted_origin) = rules.granted_origin(origin) else {
            return (self.preflight.refused.clone(), Some(Refusal::Origin));
        };
        if !rules.methods.allows(method) {
            return (self.preflight.refused.clone(), Some(Refusal::Method));
        }
        if !rules.headers.allows(request) {
            return (self.preflight.refused.clone(), Some(Refusal::Headers));
        }
        let mut out = self.preflight.granted.clone();
        // Placeholders are overwritten in place: no lookup for room (a full map, as a clone
        // is, would grow on `insert` even to replace a value) and the order stays as rendered.
        let mut fill = |name, value| {
            if let Some(slot) = out.get_mut(name) {
                *slot = value;
            }
        };
        fill(ACCESS_CONTROL_ALLOW_ORIGIN, granted_origin);
        if let Methods::Any = rules.methods {
            fill(ACCESS_CONTROL_ALLOW_METHODS, method.clone());
        }
        if let (Headers::Any, Some(headers)) = (&rules.headers, rules.headers.grant(request)) {
            out.insert(ACCESS_CONTROL_ALLOW_HEADERS, headers);
        }
        (out, None)
    }
}

/// Every header of a preflight's answer that the rule fixes, rendered once when the layer is
/// built: an answer is a clone of one of these with what depends on the request put in.
#[derive(Debug, Clone)]
struct PreflightHeaders {
    /// `Vary` alone: the answer without grants.
    refused: HeaderMap,
    /// In the order they are sent: `Vary`, `Access-Control-Allow-Origin` (a placeholder
    /// for the origin granted), `-Allow-Credentials` (with credentials),
    /// `-Allow-Methods` (a placeholder when any method is echoed), `-Allow-Headers` (when
    /// the rule lists some) and `-Max-Age` (when set). `*` request headers are echoed after
    /// these.
    granted: HeaderMap,
}

impl PreflightHeaders {
    fn render(rules: &Rules) -> Self {
        let mut refused = HeaderMap::with_capacity(1);
        refused.insert(VARY, VARY_PREFLIGHT);
        let mut granted = HeaderMap::with_capacity(6);
        granted.insert(VARY, VARY_PREFLIGHT);
        granted.insert(ACCESS_CONTROL_ALLOW_ORIGIN, STAR);
        if rules.credentials {
            granted.insert(ACCESS_CONTROL_ALLOW_CREDENTIALS, TRUE);
        }
        let methods = match &rules.methods {
            Methods::List { value, .. } => value.clone(),
            Methods::Any => STAR,
        };
        granted.insert(ACCESS_CONTROL_ALLOW_METHODS, methods);
        if let Headers::List { value: Some(value), .. } = &rules.headers {
            granted.insert(ACCESS_CONTROL_ALLOW_HEADERS, value.clone());
        }
        if let Some(age) = &rules.max_age {
            granted.insert(ACCESS_CONTROL_MAX_AGE, age.clone());
        }
        Self { refused, granted }
    }
}

/// A CORS rule, compiled: every header value it may send is built once.
#[derive(Debug, Clone)]
pub(crate) struct Rules {
    pub(crate) origins: AllowedOrigins,
    pub(crate) credentials: bool,
    pub(crate) methods: Methods,
    pub(crate) headers: Headers,
    pub(crate) expose: Expose,
    pub(crate) max_age: Option<HeaderValue>,
}

impl Default for Rules {
    /// No origin; GET, HEAD and POST; no request headers; nothing exposed; no credentials.
    fn default() -> Self {
        Self {
            origins: AllowedOrigins::default(),
            credentials: false,
            methods: Methods::List {
                methods: vec![Method::GET, Method::HEAD, Method::POST],
                value: HeaderValue::from_static("GET, HEAD, POST"),
            },
            headers: Headers::List { names: Vec::new(), value: None },
            expose: Expose::List(None),
            max_age: None,
        }
    }
}

/// Allowed methods.
#[derive(Debug, Clone)]
pub(crate) enum Methods {
    /// `*`: any method a preflight asks for (echoed back).
    Any,
    List {
        methods: Vec<Method>,
        value: HeaderValue,
    },
}

/// Allowed request headers.
#[derive(Debug, Clone)]
pub(crate) enum Headers {
    /// `*`: any header a preflight asks for (echoed back).
    Any,
    List {
        names: Vec<HeaderName>,
        value: Option<HeaderValue>,
    },
}

/// Exposed response headers.
#[derive(Debug, Clone)]
pub(crate) enum Expose {
    /// `*`: all (with credentials, the names of the response's own headers).
    Any,
    List(Option<HeaderValue>),
}

/// The methods the plugins accept (Tencent lists the first five; PATCH and OPTIONS are ours).
const KNOWN_METHODS: [Method; 7] =
    [Method::GET, Method::PUT, Method::POST, Method::DELETE, Method::HEAD, Method::PATCH, Method::OPTIONS];

fn join<T: AsRef<str>>(items: &[T]) -> Option<HeaderValue> {
    if items.is_empty() {
        return None;
    }
    let text = items.iter().map(AsRef::as_ref).collect::<Vec<_>>().join(", ");
    // Methods and header names are tokens: always a valid header value.
    HeaderValue::from_str(&text).ok().map(|v| interned(&v))
}

impl Methods {
    pub(crate) fn parse(
        entries: impl IntoIterator<Item = impl AsRef<str>>,
        field: Field,
        dialect: Dialect,
    ) -> Result<Self, ConfigError> {
        let name = field.name(dialect);
        let mut methods: Vec<Method> = Vec::new();
        let mut any = false;
        for (i, entry) in entries.into_iter().enumerate() {
            let entry = entry.as_ref().trim();
            if entry == "*" {
                any = true;
                continue;
            }
            let Some(method) = KNOWN_METHODS.iter().find(|m| m.as_str().eq_ignore_ascii_case(entry)) else {
                return Err(ConfigError::new(
                    format!("{name}[{i}]"),
                    format!("{entry:?} is not a method: expected GET, PUT, POST, DELETE, HEAD, PATCH, OPTIONS or *"),
                ));
            };
            if !methods.contains(method) {
                methods.push(method.clone());
            }
        }
        if any {
            return Ok(Self::Any);
        }
        match join(&methods) {
            Some(value) => Ok(Self::List { methods, value }),
            None => Err(ConfigError::new(name, "needs at least one method (or *)")),
        }
    }

    fn allows(&self, requested: &HeaderValue) -> bool {
        match self {
            // Methods are case-sensitive (Fetch normalises only the standard ones' case).
            Self::List { methods, .. } => methods.iter().any(|m| m.as_str().as_bytes() == requested.as_bytes()),
            Self::Any => is_token(requested.as_bytes()),
        }
    }
}

/// Header names from a list: `*`, or names (any case; stored in lower case, duplicates
/// dropped). Returns whether `*` was among them.
fn parse_names(
    entries: impl IntoIterator<Item = impl AsRef<str>>,
    field: Field,
    dialect: Dialect,
) -> Result<(bool, Vec<HeaderName>), ConfigError> {
    let mut names: Vec<HeaderName> = Vec::new();
    let mut any = false;
    for (i, entry) in entries.into_iter().enumerate() {
        let entry = entry.as_ref().trim();
        if entry == "*" {
            any = true;
            continue;
        }
        let name = HeaderName::from_bytes(entry.as_bytes()).map_err(|_| {
            ConfigError::new(
                format!("{}[{i}]", field.name(dialect)),
                format!("{entry:?} is not a header name (letters, digits and !#$%&'*+-.^_`|~ only)"),
            )
        })?;
        if !names.contains(&name) {
            names.push(name);
        }
    }
    Ok((any, names))
}

impl Headers {
    pub(crate) fn parse(
        entries: impl IntoIterator<Item = impl AsRef<str>>,
        field: Field,
        dialect: Dialect,
    ) -> Result<Self, ConfigError> {
        let (any, names) = parse_names(entries, field, dialect)?;
        Ok(if any { Self::Any } else { Self::List { value: join(&names), names } })
    }

    /// Whether every header named in the request's `Access-Control-Request-Headers` is
    /// allowed (and a well-formed name).
    fn allows(&self, request: &HeaderMap) -> bool {
        request.get_all(ACCESS_CONTROL_REQUEST_HEADERS).iter().all(|value| {
            value.as_bytes().split(|&b| b == b',').map(trim_ows).filter(|n| !n.is_empty()).all(|n| match self {
                Self::Any => is_token(n),
                Self::List { names, .. } => names.iter().any(|a| a.as_str().as_bytes().eq_ignore_ascii_case(n)),
            })
        })
    }

    /// `Access-Control-Allow-Headers` for an allowed preflight.
    fn grant(&self, request: &HeaderMap) -> Option<HeaderValue> {
        match self {
            Self::List { value, .. } => value.clone(),
            Self::Any => {
                let mut values = request.get_all(ACCESS_CONTROL_REQUEST_HEADERS).iter();
                let first = values.next()?;
                match values.next() {
                    None => Some(first.clone()),
                    Some(_) => {
                        let all: Vec<&[u8]> =
                            request.get_all(ACCESS_CONTROL_REQUEST_HEADERS).iter().map(HeaderValue::as_bytes).collect();
                        HeaderValue::from_bytes(&all.join(&b","[..])).ok()
                    }
                }
            }
        }
    }
}

impl Expose {
    pub(crate) fn parse(
        entries: impl IntoIterator<Item = impl AsRef<str>>,
        field: Field,
        dialect: Dialect,
    ) -> Result<Self, ConfigError> {
        let (any, names) = parse_names(entries, field, dialect)?;
        Ok(if any { Self::Any } else { Self::List(join(&names)) })
    }
}

/// The largest `Access-Control-Max-Age`: RFC 9111's delta-seconds (§1.2.2) are read up to
/// 2^31; browsers cap far lower (Firefox a day, Chromium two hours).
const MAX_AGE_LIMIT: u64 = 2_147_483_648;

/// `Access-Control-Max-Age` from seconds, which must be positive and at most 2^31.
pub(crate) fn max_age(seconds: u64, field: Field, dialect: Dialect) -> Result<HeaderValue, ConfigError> {
    if seconds == 0 {
        return Err(ConfigError::new(field.name(dialect), "must be a positive number of seconds"));
    }
    if seconds > MAX_AGE_LIMIT {
        return Err(ConfigError::new(
            field.name(dialect),
            format!("must be at most {MAX_AGE_LIMIT} seconds (the largest delta-seconds of RFC 9111), got {seconds}"),
        ));
    }
    Ok(interned(&HeaderValue::from(seconds)))
}

/// `tchar` of RFC 9110: a method or header name.
fn is_token(s: &[u8]) -> bool {
    !s.is_empty()
        && s.iter().all(|&b| {
            b.is_ascii_alphanumeric()
                || matches!(b, b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-' | b'.' | b'^' | b'_')
                || matches!(b, b'`' | b'|' | b'~')
        })
}

fn trim_ows(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|&b| b != b' ' && b != b'\t').unwrap_or(s.len());
    let end = s.iter().rposition(|&b| b != b' ' && b != b'\t').map_or(start, |e| e + 1);
    &s[start..end]
}

/// Why a preflight got no grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    Origin,
    Method,
    Headers,
}

impl Refusal {
    pub(crate) fn reason(self) -> &'static str {
        match self {
            Self::Origin => "origin not allowed",
            Self::Method => "method not allowed",
            Self::Headers => "request header not allowed",
        }
    }
}

impl Rules {
    /// `*` can be sent as is: any origin and no credentials.
    fn static_any(&self) -> bool {
        self.origins.is_any() && !self.credentials
    }

    /// `Access-Control-Allow-Origin` for a request from `origin`, if it is allowed: `*` when
    /// that can be sent as is, else the origin. An origin sent exactly as an entry is
    /// written (browsers send it so) is the entry's value, built once; any other allowed
    /// origin is echoed as sent.
    fn granted_origin(&self, origin: &HeaderValue) -> Option<HeaderValue> {
        if let Some(entry) = self.origins.exact_value(origin.as_bytes()) {
            return Some(if self.static_any() { STAR } else { entry.clone() });
        }
        let allowed = origin.to_str().is_ok_and(|o| self.origins.allows(o));
        allowed.then(|| if self.static_any() { STAR } else { origin.clone() })
    }

    /// The grants for an actual (non-preflight) request.
    pub(crate) fn actual(&self, request: &HeaderMap) -> Grants {
        let static_any = self.static_any();
        let allowed = match request.get(ORIGIN) {
            // No Origin: not a CORS request. With a static `*` the answer is `*` anyway.
            None => static_any.then_some(STAR),
            Some(origin) => self.granted_origin(origin),
        };
        let Some(origin) = allowed else {
            return Grants {
                origin: OriginGrant::Refused,
                vary: true,
                credentials: false,
                expose: ExposeGrant::Nothing,
            };
        };
        let expose = match &self.expose {
            Expose::List(None) => ExposeGrant::Nothing,
            Expose::List(Some(v)) => ExposeGrant::Value(v.clone()),
            Expose::Any if self.credentials => ExposeGrant::ResponseNames,
            Expose::Any => ExposeGrant::Value(STAR),
        };
        Grants { origin: OriginGrant::Allow(origin), vary: !static_any, credentials: self.credentials, expose }
    }
}

/// What happens to `Access-Control-Allow-Origin` on an actual response.
#[derive(Debug, Clone)]
pub(crate) enum OriginGrant {
    /// Nothing (a disabled layer).
    Untouched,
    /// The switch: set `*`, touch nothing else.
    Switch,
    /// No grants: the handler's own CORS headers are removed too.
    Refused,
    /// This value; the other CORS headers are ours as well.
    Allow(HeaderValue),
}

/// What happens to `Access-Control-Expose-Headers`.
#[derive(Debug, Clone)]
pub(crate) enum ExposeGrant {
    Nothing,
    Value(HeaderValue),
    /// `*` with credentials: the names of the response's own headers.
    ResponseNames,
}

/// The CORS headers an actual response gets.
#[derive(Debug, Clone)]
pub(crate) struct Grants {
    pub(crate) origin: OriginGrant,
    pub(crate) vary: bool,
    pub(crate) credentials: bool,
    pub(crate) expose: ExposeGrant,
}

impl Grants {
    pub(crate) const UNTOUCHED: Self =
        Self { origin: OriginGrant::Untouched, vary: false, credentials: false, expose: ExposeGrant::Nothing };
    pub(crate) const SWITCH: Self =
        Self { origin: OriginGrant::Switch, vary: false, credentials: false, expose: ExposeGrant::Nothing };

    /// Writes the grants into a response's headers.
    pub(crate) fn apply(self, headers: &mut HeaderMap) {
        match self.origin {
            OriginGrant::Untouched => return,
            OriginGrant::Switch => {
                headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, STAR);
                return;
            }
            OriginGrant::Refused => {
                // Only the handler could have put them there; usually the map has none.
                if headers.contains_key(ACCESS_CONTROL_ALLOW_ORIGIN) {
                    headers.remove(ACCESS_CONTROL_ALLOW_ORIGIN);
                    headers.remove(ACCESS_CONTROL_ALLOW_CREDENTIALS);
                    headers.remove(ACCESS_CONTROL_EXPOSE_HEADERS);
                }
            }
            OriginGrant::Allow(origin) => {
                headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin);
                if self.credentials {
                    headers.insert(ACCESS_CONTROL_ALLOW_CREDENTIALS, TRUE);
                } else {
                    headers.remove(ACCESS_CONTROL_ALLOW_CREDENTIALS);
                }
                let expose = match self.expose {
                    ExposeGrant::Nothing => None,
                    ExposeGrant::Value(v) => Some(v),
                    ExposeGrant::ResponseNames => response_names(headers),
                };
                match expose {
                    Some(v) => headers.insert(ACCESS_CONTROL_EXPOSE_HEADERS, v),
                    None => headers.remove(ACCESS_CONTROL_EXPOSE_HEADERS),
                };
            }
        }
        if self.vary {
            add_vary_origin(headers);
        }
    }
}

/// Adds `Vary: Origin` unless the response already varies by `Origin` (or by everything).
fn add_vary_origin(headers: &mut HeaderMap) {
    let covered = headers.get_all(VARY).iter().any(|v| {
        v.as_bytes().split(|&b| b == b',').map(trim_ows).any(|n| n == b"*" || n.eq_ignore_ascii_case(b"origin"))
    });
    if !covered {
        headers.append(VARY, VARY_ORIGIN);
    }
}

/// The names a script could not read without `Access-Control-Expose-Headers`: the
/// response's headers minus the CORS-safelisted ones, `Set-Cookie` and CORS's own.
fn response_names(headers: &HeaderMap) -> Option<HeaderValue> {
    const SKIP: [&str; 9] = [
        "cache-control",
        "content-language",
        "content-length",
        "content-type",
        "expires",
        "last-modified",
        "pragma",
        "set-cookie",
        "set-cookie2",
    ];
    let names: Vec<&str> = headers
        .keys()
        .map(HeaderName::as_str)
        .filter(|n| !SKIP.contains(n) && !n.starts_with("access-control-"))
        .collect();
    join(&names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_parse() {
        let m = Methods::parse(["get", "PUT", "GET"], Field::AllowMethods, Dialect::Tencent).unwrap();
        let Methods::List { methods, value } = &m else { panic!("{m:?}") };
        assert_eq!(methods, &[Method::GET, Method::PUT]);
        assert_eq!(value, "GET, PUT");
        assert!(matches!(Methods::parse(["GET", "*"], Field::AllowMethods, Dialect::Tencent), Ok(Methods::Any)));
        let e = Methods::parse(["GET", "FETCH"], Field::AllowMethods, Dialect::Tencent).unwrap_err();
        assert_eq!(e.field, "allow_methods[1]");
        let e = Methods::parse(["CONNECT"], Field::AllowMethods, Dialect::Aliyun).unwrap_err();
        assert_eq!(e.field, "allowMethods[0]");
        let e = Methods::parse(Vec::<String>::new(), Field::AllowMethods, Dialect::Tencent).unwrap_err();
        assert_eq!(e.to_string(), "allow_methods: needs at least one method (or *)");
    }

    #[test]
    fn max_age_is_positive_and_at_most_two_to_the_31() {
        assert_eq!(max_age(600, Field::MaxAge, Dialect::Tencent).unwrap(), "600");
        assert_eq!(max_age(MAX_AGE_LIMIT, Field::MaxAge, Dialect::Aliyun).unwrap(), "2147483648");
        let e = max_age(0, Field::MaxAge, Dialect::Tencent).unwrap_err();
        assert_eq!(e.field, "max_age");
        let e = max_age(MAX_AGE_LIMIT + 1, Field::MaxAge, Dialect::Aliyun).unwrap_err();
        assert_eq!(e.field, "maxAge");
        assert!(e.to_string().contains("at most 2147483648 seconds"), "{e}");
        let layer = crate::CorsLayer::new().max_age(std::time::Duration::MAX);
        assert_eq!(layer.unwrap_err().field, "max_age");
    }

    #[test]
    fn headers_parse() {
        let h = Headers::parse(["X-Api-ID", "x-api-id", "Content-Type"], Field::AllowHeaders, Dialect::Tencent);
        let Ok(Headers::List { names, value: Some(v) }) = h else { panic!() };
        assert_eq!(names.len(), 2);
        assert_eq!(v, "x-api-id, content-type");
        for bad in ["", "X Api", "x-api:", "é"] {
            let e = Headers::parse(["ok", bad], Field::ExposeHeaders, Dialect::Tencent).unwrap_err();
            assert_eq!(e.field, "expose_headers[1]", "{bad}");
        }
    }

    #[test]
    fn ows_and_tokens() {
        assert_eq!(trim_ows(b" \ta b\t "), b"a b");
        assert_eq!(trim_ows(b"   "), b"");
        assert!(is_token(b"X-Api-ID") && !is_token(b"") && !is_token(b"a b") && !is_token(b"a,b"));
    }

    #[test]
    fn vary_not_duplicated() {
        let mut h = HeaderMap::new();
        h.insert(VARY, HeaderValue::from_static("Accept-Encoding, origin"));
        add_vary_origin(&mut h);
        assert_eq!(h.get_all(VARY).iter().count(), 1);
        let mut h = HeaderMap::new();
        h.insert(VARY, HeaderValue::from_static("Accept-Encoding"));
        add_vary_origin(&mut h);
        assert_eq!(h.get_all(VARY).iter().collect::<Vec<_>>(), ["Accept-Encoding", "Origin"]);
    }

    #[test]
    fn exposed_names_skip_safelisted() {
        let mut h = HeaderMap::new();
        for n in ["content-type", "x-a", "set-cookie", "access-control-allow-origin", "x-b", "cache-control"] {
            h.insert(HeaderName::from_static(n), HeaderValue::from_static("v"));
        }
        assert_eq!(response_names(&h).unwrap(), "x-a, x-b");
        assert_eq!(response_names(&HeaderMap::new()), None);
    }
}
