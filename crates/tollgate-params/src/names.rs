//! Parameter names as lenient backends read them, and where a request carries one.
//!
//! A query name the injection removes, or a body field it refuses, is not only the injected
//! name byte for byte: backends fold names before they look them up. ASP.NET compares query
//! names ignoring case (Java's `equalsIgnoreCase` folds `ı` and `ſ` too), PHP turns `.` and
//! spaces into `_`, drops leading spaces, reads `name[]` and `name[key]` as `name`, and C
//! code stops at a NUL; older Python and Go split pairs on `;` as well as `&`. [`canonical`]
//! is the one spelling all of those reduce to.

use http::HeaderMap;
use http::header::CONTENT_TYPE;
use serde_json::Value;
use tollgate_core::parse_urlencoded;

/// `name` (already percent-decoded) folded the way the most lenient common backend reads
/// it: cut at a NUL and at the first `[`, trimmed, case folded, and `-`, `.`, space and `+`
/// read as `_`.
pub(crate) fn canonical(name: &str) -> String {
    let name = trimmed(name);
    let mut out = String::with_capacity(name.len());
    out.extend(name.chars().flat_map(fold));
    out
}

/// Whether [`canonical`]`(name)` is `canonical`, without building the string (a check
/// compares every name a request sends against the declared ones). An ASCII name folds
/// byte for byte, to ASCII, so it is compared so; any other goes through [`fold`].
pub(crate) fn folds_to(name: &str, canonical: &str) -> bool {
    let name = trimmed(name);
    if name.is_ascii() {
        name.len() == canonical.len() && name.bytes().zip(canonical.bytes()).all(|(n, c)| fold_ascii(n) == c)
    } else {
        name.chars().flat_map(fold).eq(canonical.chars())
    }
}

/// The name up to a NUL and a `[` (not at its start), trimmed. Both are ASCII: found as
/// bytes, the cuts fall on character boundaries.
fn trimmed(name: &str) -> &str {
    let name = match name.bytes().position(|b| b == 0) {
        Some(nul) => &name[..nul],
        None => name,
    }
    .trim();
    match name.bytes().position(|b| b == b'[') {
        Some(i) if i > 0 => name[..i].trim(),
        _ => name,
    }
}

/// [`fold`] of an ASCII character.
fn fold_ascii(b: u8) -> u8 {
    match b {
        b'-' | b'.' | b' ' | b'+' | b'_' => b'_',
        b => b.to_ascii_lowercase(),
    }
}

/// One character folded: `-`, `.`, space and `+` read as `_`, ASCII lowered, anything else
/// upper then lower cased, as Java's equalsIgnoreCase and .NET's invariant comparisons meet
/// (`ſ` → `S` → `s`, `ı` → `I` → `i`, the Kelvin sign → `k`).
fn fold(c: char) -> Folded {
    match c {
        '-' | '.' | ' ' | '+' | '_' => Folded::One(Some('_')),
        c if c.is_ascii() => Folded::One(Some(c.to_ascii_lowercase())),
        c => Folded::Cased(c.to_uppercase().flat_map(char::to_lowercase)),
    }
}

/// What [`fold`] makes of a character: most are one character, found without the Unicode
/// tables.
enum Folded {
    One(Option<char>),
    Cased(std::iter::FlatMap<std::char::ToUppercase, std::char::ToLowercase, fn(char) -> std::char::ToLowercase>),
}

impl Iterator for Folded {
    type Item = char;

    fn next(&mut self) -> Option<char> {
        match self {
            Self::One(c) => c.take(),
            Self::Cased(chars) => chars.next(),
        }
    }
}

/// The name of every pair of one `&`-separated query or form segment, read as a backend
/// that also splits on `;` reads it.
pub(crate) fn segment_names(segment: &[u8]) -> impl Iterator<Item = String> + '_ {
    segment
        .split(|&b| b == b';')
        .filter(|s| !s.is_empty())
        .filter_map(|s| parse_urlencoded(s).next().map(|(k, _)| canonical(&k)))
}

/// What a `Content-Type` says a body is, for reading parameters from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Declared {
    Form,
    Json,
    Multipart,
    Other,
    Undeclared,
}

/// The kind one `Content-Type` value declares.
pub(crate) fn declared_by(value: &http::HeaderValue) -> Declared {
    let Ok(text) = value.to_str() else { return Declared::Other };
    let essence = text.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    match essence.as_str() {
        "application/x-www-form-urlencoded" => Declared::Form,
        "application/json" => Declared::Json,
        e if e.starts_with("application/") && e.ends_with("+json") => Declared::Json,
        e if e.starts_with("multipart/") => Declared::Multipart,
        _ => Declared::Other,
    }
}

/// Every body kind the request's `Content-Type` headers declare, each once: a request with
/// two of them is read as either, since backends disagree on which one counts.
pub(crate) fn declared_kinds(headers: &HeaderMap) -> Vec<Declared> {
    let mut kinds = Vec::new();
    for value in headers.get_all(CONTENT_TYPE) {
        let kind = declared_by(value);
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
    }
    kinds
}

/// Why a body's field names could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Unreadable(pub(crate) String);

/// The canonical names of the fields a backend reads from `body` of kind `kind`: form
/// pairs (split on `&` and `;`), a JSON object's top-level keys, multipart parts' names.
pub(crate) fn body_names(kind: Declared, body: &[u8]) -> Result<Vec<String>, Unreadable> {
    match kind {
        Declared::Form => Ok(body.split(|&b| b == b'&').flat_map(segment_names).collect()),
        Declared::Json if body.iter().all(u8::is_ascii_whitespace) => Ok(Vec::new()),
        Declared::Json => match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(map)) => Ok(map.keys().map(|k| canonical(k)).collect()),
            Ok(_) => Ok(Vec::new()),
            Err(e) => Err(Unreadable(format!("not valid JSON: {e}"))),
        },
        Declared::Multipart => Ok(multipart_names(body)),
        Declared::Other | Declared::Undeclared => Ok(Vec::new()),
    }
}

/// The `name` of every `Content-Disposition` line anywhere in a multipart body. Boundaries
/// are not parsed on purpose: backends disagree on odd ones, and a line that only looks
/// like a part header inside a file is read as one too, which can refuse, never let pass.
fn multipart_names(body: &[u8]) -> Vec<String> {
    const PREFIX: &[u8] = b"content-disposition:";
    let mut names = Vec::new();
    for line in body.split(|&b| b == b'\n') {
        let line = line.trim_ascii();
        if line.len() < PREFIX.len() || !line[..PREFIX.len()].eq_ignore_ascii_case(PREFIX) {
            continue;
        }
        let text = String::from_utf8_lossy(&line[PREFIX.len()..]);
        for param in text.split(';').skip(1) {
            let Some((key, value)) = param.split_once('=') else { continue };
            let key = key.trim().to_ascii_lowercase();
            if key != "name" && key != "name*" {
                continue;
            }
            let value = value.trim().trim_matches('"');
            // RFC 2231 `name*=utf-8''client%5Fip`: the value after the language tag, decoded
            let value = match (key.as_str(), value.rsplit_once('\'')) {
                ("name*", Some((_, encoded))) => percent_decode(encoded),
                _ => value.to_owned(),
            };
            names.push(canonical(&value));
        }
    }
    names
}

fn percent_decode(text: &str) -> String {
    parse_urlencoded(text.replace('+', "%2B").as_bytes()).next().map(|(k, _)| k.into_owned()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The folding as first written: one string, a character at a time, the name cut with
    /// `str`'s searches.
    fn reference(name: &str) -> String {
        let name = name.split('\0').next().unwrap_or_default().trim();
        let name = match name.find('[') {
            Some(i) if i > 0 => name[..i].trim(),
            _ => name,
        };
        let mut out = String::new();
        for c in name.chars() {
            match c {
                '-' | '.' | ' ' | '+' | '_' => out.push('_'),
                c if c.is_ascii() => out.push(c.to_ascii_lowercase()),
                c => out.extend(c.to_uppercase().flat_map(char::to_lowercase)),
            }
        }
        out
    }

    proptest::proptest! {
        /// Both forms fold as the reference does, names with any characters included.
        #[test]
        fn folding_agrees_with_the_reference(any in "\\PC{0,24}", ascii in "[ -~]{0,24}", near in "[ _.A-Ca-c\\[\\x00-]{0,6}", also in "[ _.A-Ca-c\\[\\x00-]{0,6}") {
            let names = [any.as_str(), ascii.as_str(), near.as_str(), also.as_str()];
            for name in names {
                proptest::prop_assert_eq!(canonical(name), reference(name));
                proptest::prop_assert!(folds_to(name, &reference(name)));
                // and not to another name's, unless the two fold alike
                for other in names {
                    let alike = reference(name) == reference(other);
                    proptest::prop_assert_eq!(folds_to(name, &reference(other)), alike, "{:?} {:?}", name, other);
                }
            }
        }
    }

    #[test]
    fn spellings_a_backend_reads_as_one_name() {
        for spelling in [
            "client_ip",
            "Client_IP",
            "CLIENT_IP",
            "client-ip",
            "client.ip",
            "client ip",
            "client+ip",
            "client_ip[]",
            "client_ip[x]",
            " client_ip",
            "client_ip\0x",
            "cl\u{131}ent_ip",
            "client_ip[",
        ] {
            assert_eq!(canonical(spelling), "client_ip", "{spelling:?}");
        }
        assert_ne!(canonical("client_ipv6"), "client_ip");
        assert_ne!(canonical("clientip"), "client_ip");
        assert_eq!(canonical("\u{17f}ource"), "source");
    }

    #[test]
    fn form_and_multipart_names() {
        let names = body_names(Declared::Form, b"a=1;client.ip=2&x=%43lient_ip").unwrap();
        assert_eq!(names, ["a", "client_ip", "x"]);
        let body = b"--b\r\nContent-Disposition: form-data; name=\"Client-IP\"\r\n\r\n1\r\n--b\r\n\
                     content-disposition: form-data; name*=utf-8''client%5Fip\r\n\r\n2\r\n--b--\r\n";
        assert_eq!(body_names(Declared::Multipart, body).unwrap(), ["client_ip", "client_ip"]);
        let mut keys = body_names(Declared::Json, br#"{"CLIENT_IP":1,"a":{"client_ip":2}}"#).unwrap();
        keys.sort();
        assert_eq!(keys, ["a", "client_ip"]);
        assert!(body_names(Declared::Json, b"{").is_err());
        assert!(body_names(Declared::Json, b" ").unwrap().is_empty());
    }
}
