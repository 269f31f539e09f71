//! The string the gateway signs for its backend, built from a request; where a request can be
//! read more than one way, the reason it cannot be signed. No tower types: the verifier, the
//! signer, the fuzz target and the bench all go through [`string_to_sign`].

use std::borrow::Cow;
use std::cmp::Ordering;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderMap, HeaderName, Method};
use md5::{Digest, Md5};

use crate::form::{AmbiguousParams, each_param, is_form};
use crate::scheme::RequestView;

/// The header naming the signed headers.
pub(crate) const SIGNED_HEADERS: &str = "x-ca-proxy-signature-headers";
/// The header carrying the signature.
pub(crate) const SIGNATURE: &str = "x-ca-proxy-signature";
/// The header naming the key the gateway signed with.
pub(crate) const SECRET_KEY: &str = "x-ca-proxy-signature-secret-key";

/// Why a request has no single string to sign: the gateway's signature would cover one
/// reading of it, and a handler might take another. The verifier refuses such a request
/// (403 `InvalidSignature`), the signer will not sign it (400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Unsignable {
    /// `X-Ca-Proxy-Signature-Headers` holds an entry that is not a header name (empty,
    /// spaces, a trailing comma).
    #[error("X-Ca-Proxy-Signature-Headers holds {0:?}, which is not a header name")]
    BadHeaderList(String),
    /// `X-Ca-Proxy-Signature-Headers` names a header twice (in any case).
    #[error("X-Ca-Proxy-Signature-Headers names {0} twice")]
    HeaderListedTwice(String),
    /// `X-Ca-Proxy-Signature-Headers` names `X-Ca-Proxy-Signature` itself: no signature can
    /// cover itself.
    #[error("X-Ca-Proxy-Signature-Headers names X-Ca-Proxy-Signature itself")]
    ListsTheSignature,
    /// A header the string covers (a signed one, or one of the scheme's own) is sent more
    /// than once: one value would be signed, and the handler may read another.
    #[error("{0} is sent more than once")]
    RepeatedHeader(String),
    /// A parameter name given more than once, in the query or in the form body.
    #[error("the parameter {0:?} is given more than once")]
    RepeatedParam(String),
    /// A parameter name given both in the query and in the form body.
    #[error("the parameter {0:?} is in both the query and the form body")]
    QueryAndForm(String),
    /// A parameter name or value that is not UTF-8 once percent-decoded.
    #[error("a parameter is not UTF-8 once percent-decoded")]
    NotUtf8,
    /// A decoded name holding `=` or `&`, or a decoded value holding `&`: nothing in the
    /// string is encoded, so `a=x%26b%3Dy` and `a=x&b=y` would be signed alike.
    #[error("the parameter {0:?} holds a separator (`&`, or `=` in a name) once decoded")]
    Separator(String),
}

impl Unsignable {
    /// A stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadHeaderList(_) | Self::HeaderListedTwice(_) | Self::ListsTheSignature => "InvalidSignatureHeaders",
            Self::RepeatedHeader(_) => "RepeatedHeader",
            Self::RepeatedParam(_) | Self::QueryAndForm(_) | Self::NotUtf8 | Self::Separator(_) => "AmbiguousParameter",
        }
    }
}

/// One header line of the string: the name as listed, and the value's bytes as sent.
#[derive(Debug, Clone, Copy)]
struct Line<'a> {
    name: &'a str,
    value: &'a [u8],
}

/// The string to sign for `request`, as the gateway builds it and Aliyun's backend demo
/// (`Sign.java`) rebuilds it: see [the module](super) for each rule and the demo's line it
/// comes from. The body is read only for `POST` and `PUT` (a form's parameters, or the
/// digest of any other non-empty body): pass it for those.
///
/// ```
/// use http::{HeaderMap, Method, Uri};
/// use tollgate_signature::RequestView;
/// use tollgate_signature::aliyun_backend::string_to_sign;
///
/// let mut headers = HeaderMap::new();
/// headers.insert("x-ca-proxy-signature-headers", "HeaderKey1".parse().unwrap());
/// headers.insert("headerkey1", "HeaderValue1".parse().unwrap());
/// let uri: Uri = "/demo/uri?b=2&a=1&flag".parse().unwrap();
/// let view = RequestView { method: &Method::GET, uri: &uri, headers: &headers, body: None };
/// assert_eq!(string_to_sign(&view).unwrap(), b"GET\n\nheaderkey1:HeaderValue1\n/demo/uri?a=1&b=2&flag=");
/// ```
pub fn string_to_sign(request: &RequestView<'_>) -> Result<Vec<u8>, Unsignable> {
    render(request, false)
}

/// The string to sign as `auth.md` §6 words the rule for a parameter without a value ("a key
/// without value written bare"): `?flag` signed as `flag`, where [`string_to_sign`] writes
/// `flag=` as Aliyun's backend demo does for what a servlet reads (`[""]`); `None` when the
/// request has no such parameter, so the two strings are the same.
///
/// The verifier accepts either: the two readings of the reference differ only in how a
/// valueless parameter is written, never in what the handler reads, and refusing one of
/// them could refuse the real gateway's honest requests.
///
/// ```
/// use http::{HeaderMap, Method, Uri};
/// use tollgate_signature::RequestView;
/// use tollgate_signature::aliyun_backend::{string_to_sign, string_to_sign_bare};
///
/// let headers = HeaderMap::new();
/// let uri: Uri = "/demo?b=&flag&a=1".parse().unwrap();
/// let view = RequestView { method: &Method::GET, uri: &uri, headers: &headers, body: None };
/// assert_eq!(string_to_sign(&view).unwrap(), b"GET\n\n/demo?a=1&b=&flag=");
/// assert_eq!(string_to_sign_bare(&view).unwrap().unwrap(), b"GET\n\n/demo?a=1&b=&flag");
/// let uri: Uri = "/demo?b=".parse().unwrap();
/// let view = RequestView { method: &Method::GET, uri: &uri, headers: &headers, body: None };
/// assert_eq!(string_to_sign_bare(&view).unwrap(), None);
/// ```
pub fn string_to_sign_bare(request: &RequestView<'_>) -> Result<Option<Vec<u8>>, Unsignable> {
    let form = is_form(request.headers) && signs_body(request.method);
    let body = if form { request.body.unwrap_or_default() } else { &[] };
    let query = request.uri.query().unwrap_or_default().as_bytes();
    if !has_bare(query) && !has_bare(body) {
        return Ok(None);
    }
    render(request, true).map(Some)
}

/// Whether `input` (a query or form body) holds a parameter written without `=`.
fn has_bare(input: &[u8]) -> bool {
    input.split(|&b| b == b'&').any(|segment| !segment.is_empty() && !segment.contains(&b'='))
}

/// The names `input` gives without `=`, decoded as the parameters are.
fn bare_names(input: &[u8]) -> Vec<String> {
    input
        .split(|&b| b == b'&')
        .filter(|segment| !segment.is_empty() && !segment.contains(&b'='))
        .flat_map(form_urlencoded::parse)
        .map(|(name, _)| name.into_owned())
        .collect()
}

fn render(request: &RequestView<'_>, bare: bool) -> Result<Vec<u8>, Unsignable> {
    let lines = listed_headers(request.headers)?;
    let form = is_form(request.headers);
    let body = if signs_body(request.method) { request.body.unwrap_or_default() } else { &[] };
    let params = params(request.uri.query().unwrap_or_default(), if form { body } else { &[] })?;
    let md5 = (!form && !body.is_empty()).then(|| STANDARD.encode(Md5::digest(body)));

    let path = request.uri.path();
    let mut out =
        Vec::with_capacity(64 + path.len() + lines.iter().map(|l| l.name.len() + l.value.len() + 2).sum::<usize>());
    out.extend_from_slice(request.method.as_str().as_bytes());
    out.push(b'\n');
    out.extend_from_slice(md5.as_deref().unwrap_or_default().as_bytes());
    out.push(b'\n');
    for line in &lines {
        out.extend(line.name.bytes().map(|b| b.to_ascii_lowercase()));
        out.push(b':');
        out.extend_from_slice(line.value);
        out.push(b'\n');
    }
    out.extend_from_slice(path.as_bytes());
    let bare: Vec<String> = match bare {
        true => [request.uri.query().unwrap_or_default().as_bytes(), if form { body } else { &[] }]
            .into_iter()
            .flat_map(bare_names)
            .collect(),
        false => Vec::new(),
    };
    for (i, (name, value)) in params.iter().enumerate() {
        out.push(if i == 0 { b'?' } else { b'&' });
        out.extend_from_slice(name.as_bytes());
        // a name is given once (repeats are refused), so its bare spelling is unambiguous
        if value.is_empty() && bare.iter().any(|b| b == name) {
            continue;
        }
        out.push(b'=');
        out.extend_from_slice(value.as_bytes());
    }
    Ok(out)
}

/// Whether the method's body is signed: `POST` and `PUT` only (demo line 142), in any case.
pub(crate) fn signs_body(method: &Method) -> bool {
    let m = method.as_str();
    m.eq_ignore_ascii_case("POST") || m.eq_ignore_ascii_case("PUT")
}

/// The one value of `name`, if any; refused when sent more than once.
pub(crate) fn single<'h>(headers: &'h HeaderMap, name: &str) -> Result<Option<&'h http::HeaderValue>, Unsignable> {
    let mut values = headers.get_all(name).iter();
    let first = values.next();
    match values.next() {
        Some(_) => Err(Unsignable::RepeatedHeader(canonical_case(name))),
        None => Ok(first),
    }
}

/// `x-ca-proxy-signature` as `X-Ca-Proxy-Signature`, for messages.
fn canonical_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = true;
    for c in name.chars() {
        out.push(if upper { c.to_ascii_uppercase() } else { c });
        upper = c == '-';
    }
    out
}

/// The headers `X-Ca-Proxy-Signature-Headers` names, in the string's order.
fn listed_headers(headers: &HeaderMap) -> Result<Vec<Line<'_>>, Unsignable> {
    let Some(list) = single(headers, SIGNED_HEADERS)? else { return Ok(Vec::new()) };
    let list = list.as_bytes();
    // Java's `"".split(",")` is `[""]`, whose one entry names no header (demo 207–208)
    if list.is_empty() {
        return Ok(Vec::new());
    }
    let list =
        std::str::from_utf8(list).map_err(|_| Unsignable::BadHeaderList(String::from_utf8_lossy(list).into()))?;
    let mut lines = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    for name in list.split(',') {
        // HeaderName refuses empty names, spaces and anything else no header is called
        if HeaderName::from_bytes(name.as_bytes()).is_err() {
            return Err(Unsignable::BadHeaderList(name.to_owned()));
        }
        if name.eq_ignore_ascii_case(SIGNATURE) {
            return Err(Unsignable::ListsTheSignature);
        }
        // a `TreeMap` would keep one line for `A,A`, a lower-casing reader one for `A,a`
        if seen.iter().any(|s| s.eq_ignore_ascii_case(name)) {
            return Err(Unsignable::HeaderListedTwice(name.to_owned()));
        }
        seen.push(name);
        let mut values = headers.get_all(name).iter();
        match (values.next(), values.next()) {
            // listed but absent: no line (demo 246), so adding it later breaks the signature
            (None, _) => {}
            (Some(value), None) => lines.push(Line { name, value: value.as_bytes() }),
            (Some(_), Some(_)) => return Err(Unsignable::RepeatedHeader(name.to_owned())),
        }
    }
    // a `TreeMap` of the names as listed (demo 202): Java's order, before lower-casing
    lines.sort_by(|a, b| java_order(a.name, b.name));
    Ok(lines)
}

/// `String.compareTo`: UTF-16 code units, which `TreeMap` sorts by (demo 202, 267). It
/// differs from byte order only where the first difference is a character past U+FFFF
/// against one in U+E000–U+FFFF; a few short names a request, so no fast path.
pub(crate) fn java_order(a: &str, b: &str) -> Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

/// A decoded parameter: name and value.
type Param<'a> = (Cow<'a, str>, Cow<'a, str>);

/// The query's and the form's parameters, decoded, sorted as the demo's `TreeMap` (line
/// 267); refused where the string would not say what the handler reads.
fn params<'a>(query: &'a str, form: &'a [u8]) -> Result<Vec<Param<'a>>, Unsignable> {
    let mut tagged = Vec::new();
    let mut utf8 = each_param(query.as_bytes(), |name, value| tagged.push((name, value, false)));
    utf8 = utf8.and(each_param(form, |name, value| tagged.push((name, value, true))));
    if utf8.is_err() {
        return Err(Unsignable::NotUtf8);
    }
    if let Some((name, _, _)) = tagged.iter().find(|(n, v, _)| n.contains(['&', '=']) || v.contains('&')) {
        return Err(Unsignable::Separator(name.to_string()));
    }
    tagged.sort_by(|a, b| java_order(&a.0, &b.0));
    if let Some(kind) = AmbiguousParams::among(&tagged, |a, b| a.0 == b.0, |p| p.2) {
        let name = tagged.windows(2).find(|w| w[0].0 == w[1].0).map(|w| w[0].0.to_string()).unwrap_or_default();
        return Err(match kind {
            AmbiguousParams::QueryAndForm => Unsignable::QueryAndForm(name),
            _ => Unsignable::RepeatedParam(name),
        });
    }
    Ok(tagged.into_iter().map(|(n, v, _)| (n, v)).collect())
}
