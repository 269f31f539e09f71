//! Origins: the request's `Origin` header read without allocation, and the allow list it is
//! matched against — exact origins, `*`, wildcard subdomains and anchored regexes.
//!
//! Matching is exact, never by substring: scheme and host compare case-insensitively, the
//! port exactly, with the default port of `http`/`ws` (80) and `https`/`wss` (443) the
//! same as no port. `null` (the opaque origin of sandboxed frames, `file:` pages and some
//! redirects) matches only an explicit `null` entry: neither `*` nor a pattern grants it.

use std::fmt;

use http::HeaderValue;
use regex::{Regex, RegexBuilder};

/// A request's origin, borrowed from its `Origin` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RequestOrigin<'a> {
    /// `Origin: null`.
    Null,
    /// `scheme://host[:port]`, as sent (case not yet folded); `port` is `None` for the
    /// scheme's default port.
    Tuple { scheme: &'a str, host: &'a str, port: Option<u16> },
}

impl<'a> RequestOrigin<'a> {
    /// Parses an `Origin` value; `None` when it is not an origin at all.
    fn parse(value: &'a str) -> Option<Self> {
        if value == "null" {
            return Some(Self::Null);
        }
        let (scheme, authority) = value.split_once("://")?;
        if !is_scheme(scheme) {
            return None;
        }
        let (host, port) = split_host_port(authority).ok()?;
        if !is_host(host) {
            return None;
        }
        Some(Self::Tuple { scheme, host, port: normalise_port(scheme, port) })
    }
}

/// `ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )`
fn is_scheme(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}

/// A host name or IPv4 literal (letters, digits, `-`, `.`, `_`), or a bracketed IPv6 literal.
fn is_host(h: &str) -> bool {
    if let Some(inner) = h.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
        return !inner.is_empty() && inner.bytes().all(|b| b.is_ascii_hexdigit() || matches!(b, b':' | b'.'));
    }
    !h.is_empty() && h.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
}

/// Why an authority's port is unusable.
#[derive(Debug, PartialEq, Eq)]
enum PortError {
    Wildcard,
    Bad,
}

/// Splits `host[:port]` (IPv6 hosts bracketed). The port must be 1 to 65535.
fn split_host_port(authority: &str) -> Result<(&str, Option<u16>), PortError> {
    let (host, port) = if authority.starts_with('[') {
        match authority.find(']') {
            Some(end) => {
                let (host, after) = authority.split_at(end + 1);
                match after {
                    "" => (host, None),
                    _ => (host, Some(after.strip_prefix(':').ok_or(PortError::Bad)?)),
                }
            }
            None => (authority, None),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    let port = match port {
        None => None,
        Some("*") => return Err(PortError::Wildcard),
        Some(p) if (1..=5).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()) => match p.parse::<u16>() {
            Ok(0) | Err(_) => return Err(PortError::Bad),
            Ok(n) => Some(n),
        },
        Some(_) => return Err(PortError::Bad),
    };
    Ok((host, port))
}

/// The scheme's default port, if it has one an origin omits.
fn default_port(scheme: &str) -> Option<u16> {
    if scheme.eq_ignore_ascii_case("https") || scheme.eq_ignore_ascii_case("wss") {
        Some(443)
    } else if scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("ws") {
        Some(80)
    } else {
        None
    }
}

fn normalise_port(scheme: &str, port: Option<u16>) -> Option<u16> {
    port.filter(|p| Some(*p) != default_port(scheme))
}

/// `scheme://host[:port]` exactly (lower case stored).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Exact {
    scheme: Box<str>,
    host: Box<str>,
    port: Option<u16>,
    /// The origin as a browser sends it (lower case, no default port), as a header value.
    value: Option<HeaderValue>,
}

/// `scheme://*.suffix[:port]`: any host that ends with `.suffix` and has at least one more
/// label in front (so never the bare `suffix` itself).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Subdomains {
    scheme: Box<str>,
    /// With its leading dot: `.example.com`.
    dot_suffix: Box<str>,
    port: Option<u16>,
}

impl Subdomains {
    fn matches(&self, scheme: &str, host: &str, port: Option<u16>) -> bool {
        let (h, s) = (host.as_bytes(), self.dot_suffix.as_bytes());
        port == self.port
            && scheme.eq_ignore_ascii_case(&self.scheme)
            && h.len() > s.len()
            && h[h.len() - s.len()..].eq_ignore_ascii_case(s)
            && h[h.len() - s.len() - 1] != b'.'
    }
}

/// The origins a CORS rule allows, compiled once.
///
/// Entries are:
///
/// - `*`: every origin except `null`;
/// - `null`: the opaque origin, which nothing else grants;
/// - an exact origin `scheme://host[:port]`: `https://app.example.com`,
///   `http://localhost:8080`, `http://[::1]:3000` (a default port may be written or not);
/// - wildcard subdomains `scheme://*.host[:port]`: `https://*.example.com` matches
///   `https://a.example.com` and `https://a.b.example.com`, never `https://example.com` nor
///   `https://evil-example.com`; the wildcard must cover at least a second-level name
///   (`*.com` is refused);
/// - an anchored regular expression `^...$`, matched case-insensitively against the
///   normalised origin (`scheme://host[:port]`, lower case, default port omitted), e.g.
///   `^https://(www|app)\.example\.com$`. The whole origin must match: a top-level `|`
///   does not loosen the anchors (`^https://a\.com|https://b\.com$` is either origin, never
///   `https://a.com.evil.net`). A value that looks like a pattern but is not anchored is
///   refused, so nobody gets substring matching by accident.
///
/// Anything else — a path (even a trailing `/`), a query, user info, a wildcard elsewhere
/// than the leftmost label, a bad port — is a configuration error. Without a scheme, an
/// entry is an error too, except in Aliyun's dialect ([`AllowedOrigins::parse_aliyun`]),
/// where `api.foo.com` means that host on `http` and `https` with default ports.
///
/// ```
/// use tollgate_cors::AllowedOrigins;
///
/// let origins = AllowedOrigins::parse(["https://*.example.com", "http://localhost:8080"]).unwrap();
/// assert!(origins.allows("https://API.Example.com"));
/// assert!(origins.allows("https://a.example.com:443"));
/// assert!(!origins.allows("https://example.com"));
/// assert!(!origins.allows("https://evil-example.com"));
/// assert!(!origins.allows("https://example.com.attacker.net"));
/// assert!(!origins.allows("http://localhost:8081"));
/// assert!(!origins.allows("null"));
///
/// let err = AllowedOrigins::parse(["https://app.example.com/"]).unwrap_err();
/// assert!(err.to_string().contains("no path"), "{err}");
/// ```
#[derive(Clone, Default)]
pub struct AllowedOrigins {
    any: bool,
    null: bool,
    exact: Vec<Exact>,
    subdomains: Vec<Subdomains>,
    regexes: Vec<Regex>,
}

impl fmt::Debug for AllowedOrigins {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AllowedOrigins")
            .field("any", &self.any)
            .field("null", &self.null)
            .field("exact", &self.exact)
            .field("subdomains", &self.subdomains)
            .field("regexes", &self.regexes.iter().map(Regex::as_str).collect::<Vec<_>>())
            .finish()
    }
}

/// Why an entry of an origin list is unusable: the entry's 0-based position, and what is
/// wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("entry {index} ({entry:?}): {problem}")]
pub struct OriginError {
    /// 0-based position of the entry in its list.
    pub index: usize,
    /// The entry as written.
    pub entry: String,
    /// What is wrong, and what was expected.
    pub problem: String,
}

/// Characters that make an unanchored entry look like a regular expression.
const REGEX_SIGNS: &[char] = &['^', '$', '(', ')', '|', '+', '{', '}', '\\'];

/// Largest compiled size of one origin regex.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

impl AllowedOrigins {
    /// Compiles a list of origins (Tencent's form: every origin has its scheme).
    pub fn parse(entries: impl IntoIterator<Item = impl AsRef<str>>) -> Result<Self, OriginError> {
        Self::parse_with(entries, false)
    }

    /// Compiles a list in Aliyun's dialect: as [`parse`](Self::parse), and an entry without a
    /// scheme (`api.foo.com`, `*.foo.com`) means that host on `http` and on `https`, default
    /// ports.
    pub fn parse_aliyun(entries: impl IntoIterator<Item = impl AsRef<str>>) -> Result<Self, OriginError> {
        Self::parse_with(entries, true)
    }

    fn parse_with(entries: impl IntoIterator<Item = impl AsRef<str>>, schemeless: bool) -> Result<Self, OriginError> {
        let mut out = Self::default();
        for (index, entry) in entries.into_iter().enumerate() {
            let entry = entry.as_ref();
            out.add(entry.trim(), schemeless).map_err(|problem| OriginError {
                index,
                entry: entry.to_owned(),
                problem,
            })?;
        }
        Ok(out)
    }

    /// Every origin except `null` (the list held `*`).
    pub fn is_any(&self) -> bool {
        self.any
    }

    /// No origin at all is allowed.
    pub fn is_empty(&self) -> bool {
        !self.any && !self.null && self.exact.is_empty() && self.subdomains.is_empty() && self.regexes.is_empty()
    }

    /// Whether a request with this `Origin` value is allowed. A value that is not an origin
    /// is not allowed.
    pub fn allows(&self, origin: &str) -> bool {
        match RequestOrigin::parse(origin) {
            None => false,
            Some(RequestOrigin::Null) => self.null,
            Some(RequestOrigin::Tuple { scheme, host, port }) => {
                self.any
                    || self.exact.iter().any(|e| {
                        e.port == port && e.scheme.eq_ignore_ascii_case(scheme) && e.host.eq_ignore_ascii_case(host)
                    })
                    || self.subdomains.iter().any(|s| s.matches(scheme, host, port))
                    || (!self.regexes.is_empty() && {
                        let normalised = normalise(scheme, host, port);
                        self.regexes.iter().any(|r| r.is_match(&normalised))
                    })
            }
        }
    }

    /// The exact entry whose value is byte for byte `origin`. Browsers send an origin in
    /// the form an entry is stored in, so most requests are matched here without parsing,
    /// and answered with a value built once instead of a copy of theirs.
    pub(crate) fn exact_value(&self, origin: &[u8]) -> Option<&HeaderValue> {
        self.exact.iter().filter_map(|e| e.value.as_ref()).find(|value| value.as_bytes() == origin)
    }

    fn add(&mut self, entry: &str, schemeless: bool) -> Result<(), String> {
        match entry {
            "" => return Err("is empty: expected an origin such as https://app.example.com".into()),
            "*" => {
                self.any = true;
                return Ok(());
            }
            "null" => {
                self.null = true;
                return Ok(());
            }
            _ => {}
        }
        if entry.starts_with('^') || entry.ends_with('$') {
            if !(entry.starts_with('^') && entry.ends_with('$') && entry.len() >= 2) {
                return Err("a regular expression must be anchored at both ends: ^...$".into());
            }
            // `^a|b$` anchors `a` at the start and `b` at the end only: a top-level `|` would
            // let `^https://a\.com|b\.com$` match `https://a.com.evil.net`. Whatever the
            // pattern, the whole origin must match it.
            let whole = format!("^(?:{})$", &entry[1..entry.len() - 1]);
            let regex = RegexBuilder::new(&whole)
                .case_insensitive(true)
                .size_limit(REGEX_SIZE_LIMIT)
                .build()
                .map_err(|e| format!("is not a valid regular expression: {e}"))?;
            self.regexes.push(regex);
            return Ok(());
        }
        if entry.contains(REGEX_SIGNS) {
            return Err("looks like a regular expression: anchor it (^https://(www|app)\\.example\\.com$) to \
                        match by regex, or write an origin (scheme://host[:port]) to match exactly"
                .into());
        }
        let (schemes, authority): (&[&str], &str) = match entry.split_once("://") {
            Some((scheme, rest)) => {
                if !is_scheme(scheme) {
                    return Err(format!("{scheme:?} is not a URL scheme"));
                }
                (&[scheme][..], rest)
            }
            None if schemeless && !entry.contains(['/', ':']) => (&["http", "https"][..], entry),
            None if schemeless => return Err("expected host, or scheme://host[:port]".into()),
            None => {
                return Err(format!(
                    "has no scheme: an origin is scheme://host[:port], e.g. https://{}",
                    entry.trim_start_matches('/')
                ));
            }
        };
        let (authority, path) = match authority.find(['/', '?', '#']) {
            Some(i) => authority.split_at(i),
            None => (authority, ""),
        };
        if path == "/" {
            return Err(format!(
                "ends with '/': an origin has no path, write {}",
                entry.strip_suffix('/').unwrap_or(entry)
            ));
        }
        if !path.is_empty() {
            return Err(format!("has a path or query ({path:?}): an origin is scheme://host[:port] and no path"));
        }
        if authority.contains('@') {
            return Err("has user info (user@): an origin is scheme://host[:port]".into());
        }
        let (host, port) = split_host_port(authority).map_err(|e| match e {
            PortError::Wildcard => "a wildcard port is not supported: list each port".to_owned(),
            PortError::Bad => "the port must be a number from 1 to 65535".to_owned(),
        })?;
        let (wild, bare) = match host.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, host),
        };
        if bare.contains('*') {
            return Err("a wildcard may only be the leftmost label: https://*.example.com".into());
        }
        if !is_host(bare) || bare.starts_with('.') || bare.ends_with('.') {
            return Err(format!("{host:?} is not a host name or IP address"));
        }
        if wild && (bare.starts_with('[') || !(bare.contains('.') || bare.eq_ignore_ascii_case("localhost"))) {
            return Err(format!("*.{bare} is too wide: a wildcard must cover a registered name such as *.example.com"));
        }
        for scheme in schemes {
            let scheme: Box<str> = scheme.to_ascii_lowercase().into();
            let port = normalise_port(&scheme, port);
            if wild {
                let dot_suffix = format!(".{}", bare.to_ascii_lowercase()).into();
                self.subdomains.push(Subdomains { scheme, dot_suffix, port });
            } else {
                let host: Box<str> = bare.to_ascii_lowercase().into();
                // the host and scheme are checked above: always a valid header value
                let value =
                    HeaderValue::from_str(&normalise(&scheme, &host, port)).ok().map(|v| crate::interned::interned(&v));
                self.exact.push(Exact { scheme, host, port, value });
            }
        }
        Ok(())
    }
}

/// `scheme://host[:port]` in lower case, default port omitted.
fn normalise(scheme: &str, host: &str, port: Option<u16>) -> String {
    let mut s = String::with_capacity(scheme.len() + host.len() + 9);
    s.push_str(scheme);
    s.push_str("://");
    s.push_str(host);
    s.make_ascii_lowercase();
    if let Some(p) = port {
        s.push(':');
        s.push_str(&p.to_string());
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(entries: &[&str]) -> AllowedOrigins {
        AllowedOrigins::parse(entries).unwrap()
    }

    fn problem(entry: &str) -> String {
        AllowedOrigins::parse([entry]).unwrap_err().problem
    }

    #[test]
    fn request_origin_parse() {
        assert_eq!(RequestOrigin::parse("null"), Some(RequestOrigin::Null));
        assert_eq!(
            RequestOrigin::parse("HTTPS://A.com:443"),
            Some(RequestOrigin::Tuple { scheme: "HTTPS", host: "A.com", port: None })
        );
        assert_eq!(
            RequestOrigin::parse("http://[::1]:8080"),
            Some(RequestOrigin::Tuple { scheme: "http", host: "[::1]", port: Some(8080) })
        );
        assert_eq!(
            RequestOrigin::parse("app://x"),
            Some(RequestOrigin::Tuple { scheme: "app", host: "x", port: None })
        );
        for bad in [
            "",
            "Null",
            "a.com",
            "https://",
            "https://a.com/",
            "https://a.com:",
            "https://a.com:0",
            "https://a.com:65536",
            "https://u@a.com",
            "1x://a",
            "https://a b",
            "https://[::1",
            "https://[]",
        ] {
            assert_eq!(RequestOrigin::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn exact_and_ports() {
        let o = list(&[
            "https://app.example.com",
            "http://localhost:8080",
            "https://b.example.com:443",
            "http://[::1]:3000",
        ]);
        assert!(o.allows("https://app.example.com"));
        assert!(o.allows("HTTPS://APP.EXAMPLE.COM"));
        assert!(o.allows("https://app.example.com:443"));
        assert!(o.allows("https://b.example.com"));
        assert!(o.allows("http://localhost:8080"));
        assert!(o.allows("http://[::1]:3000"));
        assert!(!o.allows("http://app.example.com"));
        assert!(!o.allows("https://app.example.com:8443"));
        assert!(!o.allows("http://localhost"));
        assert!(!o.allows("http://localhost:80"));
        assert!(!o.allows("https://app.example.com.attacker.net"));
        assert!(!o.allows("https://xapp.example.com"));
        assert!(!o.allows("null"));
        assert!(!o.allows("garbage"));
    }

    #[test]
    fn any_null_and_wildcards() {
        let o = list(&["*"]);
        assert!(o.is_any() && o.allows("https://x.y") && !o.allows("null") && !o.allows("nonsense"));
        let o = list(&["null"]);
        assert!(o.allows("null") && !o.allows("https://x.y"));
        let o = list(&["https://*.example.com", "http://*.localhost:3000"]);
        assert!(o.allows("https://a.example.com") && o.allows("https://a.b.EXAMPLE.com"));
        assert!(!o.allows("https://example.com") && !o.allows("https://evil-example.com"));
        assert!(!o.allows("http://a.example.com") && !o.allows("https://a.example.com:8443"));
        assert!(!o.allows("https://.example.com") && !o.allows("https://a..example.com"));
        assert!(o.allows("http://app.localhost:3000") && !o.allows("http://app.localhost"));
    }

    #[test]
    fn regexes() {
        let o = list(&[r"^https://(www|app)\.example\.com$"]);
        assert!(o.allows("https://www.example.com") && o.allows("https://APP.example.com:443"));
        assert!(!o.allows("https://api.example.com") && !o.allows("https://www.example.com.evil.net"));
        let o = list(&["^.*$"]);
        assert!(o.allows("https://x.y") && !o.allows("null"));
    }

    #[test]
    fn aliyun_schemeless() {
        let o = AllowedOrigins::parse_aliyun(["api.foo.com", "*.bar.com", "https://x.com:8443"]).unwrap();
        assert!(o.allows("http://api.foo.com") && o.allows("https://api.foo.com"));
        assert!(!o.allows("http://api.foo.com:8080"));
        assert!(o.allows("https://a.bar.com") && o.allows("http://a.bar.com") && !o.allows("https://bar.com"));
        assert!(o.allows("https://x.com:8443"));
        assert!(AllowedOrigins::parse_aliyun(["api.foo.com/x"]).is_err());
        assert!(AllowedOrigins::parse_aliyun(["api.foo.com:8080"]).is_err());
    }

    #[test]
    fn entry_errors() {
        assert!(problem("").contains("empty"));
        assert!(problem("https://a.com/").contains("ends with '/'"));
        assert!(problem("https://a.com/").contains("write https://a.com"));
        assert!(problem("https://a.com/api").contains("path"));
        assert!(problem("https://a.com?x").contains("path or query"));
        assert!(problem("https://u@a.com").contains("user info"));
        assert!(problem("a.com").contains("no scheme"));
        assert!(problem("*.a.com").contains("no scheme"));
        assert!(problem("https://a.com:").contains("port"));
        assert!(problem("https://a.com:0").contains("port"));
        assert!(problem("https://a.com:99999").contains("port"));
        assert!(problem("https://a.com:*").contains("wildcard port"));
        assert!(problem("https://a.*.com").contains("leftmost"));
        assert!(problem("https://*example.com").contains("leftmost"));
        assert!(problem("https://*.com").contains("too wide"));
        assert!(problem("https://(www|app).example.com").contains("anchor"));
        assert!(problem(r"https://.*\.example\.com").contains("anchor"));
        assert!(problem("^https://a.com").contains("anchored at both ends"));
        assert!(problem("^(unclosed$").contains("not a valid regular expression"));
        assert!(problem("https://a com").contains("not a host"));
        assert!(problem("1https://a.com").contains("not a URL scheme"));
        let e = AllowedOrigins::parse(["https://ok.com", "bad"]).unwrap_err();
        assert_eq!((e.index, e.entry.as_str()), (1, "bad"));
    }
}
