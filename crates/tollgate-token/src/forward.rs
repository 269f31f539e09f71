//! Claims forwarded to the backend (`claimParameters`), and every client-sent copy removed
//! first.
//!
//! A backend reads a parameter more leniently than its exact name: `X_User_Id` is `X-User-Id`
//! to CGI-style servers, `userid` or `user.id` is `userId` to PHP, ASP.NET and Java's
//! `equalsIgnoreCase`. So a copy is removed when its name *folds* to the claim parameter's
//! (as `tollgate-params`' injection does): headers with `_` read as `-`; query and form
//! names cut at a NUL and a `[`, trimmed, case-folded, and `-`, `.`, space and `+` read as
//! `_`. Copies go even when the claim is absent from the token, and on a request that
//! `bypassEmptyToken` lets through without a token: a caller can never stand in for the
//! token.

use std::borrow::Cow;

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderMap, HeaderName, HeaderValue, Request, Uri};
use percent_encoding::percent_decode_str;
use tollgate_core::{Claims, PathParams};

use tollgate_core::lenient_name;

use crate::config::{ClaimParameter, ClaimPlace};
use crate::verify::TokenError;

/// Headers that frame or route the message: never a claim's.
const FRAMING: [&str; 10] = [
    "host",
    "content-length",
    "content-type",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "upgrade",
];

pub(crate) fn is_framing(name: &HeaderName) -> bool {
    FRAMING.contains(&name.as_str())
}

/// Whether a backend reads `a` and `b`, both names at `place`, as one parameter.
pub(crate) fn same_name(place: ClaimPlace, a: &str, b: &str) -> bool {
    match place {
        ClaimPlace::Header => same_header(&a.to_ascii_lowercase(), &b.to_ascii_lowercase()),
        ClaimPlace::Path => a == b,
        ClaimPlace::Query | ClaimPlace::FormData => canonical(a) == canonical(b),
    }
}

fn same_header(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes().zip(b.bytes()).all(|(x, y)| x == y || (x == b'_' || x == b'-') && (y == b'_' || y == b'-'))
}

/// A query or form name folded the way the most lenient common backend reads it (core's
/// [`lenient_name`], which conditions and injection use too).
pub(crate) fn canonical(name: &str) -> String {
    lenient_name(name).into_owned()
}

#[derive(Debug, Clone)]
struct Compiled {
    claim: String,
    place: ClaimPlace,
    name: String,
    header: Option<HeaderName>,
    canonical: String,
}

/// The claim parameters, compiled once.
#[derive(Debug, Clone, Default)]
pub(crate) struct Forwarding {
    params: Vec<Compiled>,
}

impl Forwarding {
    /// Compiles validated parameters (see `JwtAuthConfig::validate`).
    pub(crate) fn new(params: &[ClaimParameter]) -> Self {
        let params = params
            .iter()
            .map(|p| Compiled {
                claim: p.claim_name.clone(),
                place: p.location,
                name: p.parameter_name.clone(),
                header: (p.location == ClaimPlace::Header)
                    .then(|| HeaderName::from_bytes(p.parameter_name.as_bytes()).ok())
                    .flatten(),
                canonical: canonical(&p.parameter_name),
            })
            .collect();
        Self { params }
    }

    fn any(&self, place: ClaimPlace) -> bool {
        self.params.iter().any(|p| p.place == place)
    }

    /// Whether the body of a request with these headers is read: a claim goes into the form
    /// or the query, and the body is a url-encoded form (whose copies a backend merging query
    /// and form would read).
    pub(crate) fn needs_body(&self, headers: &HeaderMap) -> bool {
        (self.any(ClaimPlace::FormData) || self.any(ClaimPlace::Query)) && is_form(headers)
    }

    /// Removes every copy of the claim parameters from the headers, query and path
    /// parameters, then adds each claim `claims` has. The body is [`rewrite_form`](Self::rewrite_form)'s.
    pub(crate) fn apply<B>(&self, request: &mut Request<B>, claims: Option<&Claims>) -> Result<(), TokenError> {
        if self.params.is_empty() {
            return Ok(());
        }
        if self.any(ClaimPlace::FormData) && is_multipart(request.headers()) {
            // a multipart field cannot be replaced without rewriting every part: refused
            // rather than passed on with a copy the client chose
            return Err(TokenError::Profile("claims are forwarded in url-encoded forms, not multipart".into()));
        }
        let value = |p: &Compiled| claims.and_then(|c| c.text(&p.claim));
        // headers
        let mut headers_out = Vec::new();
        for p in self.params.iter().filter(|p| p.place == ClaimPlace::Header) {
            let Some(name) = &p.header else { continue };
            remove_header(request.headers_mut(), name);
            if let Some(v) = value(p) {
                let v = HeaderValue::from_str(&v).map_err(|_| {
                    TokenError::Profile(format!("claim {} cannot be carried in header {name}", p.claim))
                })?;
                headers_out.push((name.clone(), v));
            }
        }
        for (name, v) in headers_out {
            request.headers_mut().append(name, v);
        }
        // query
        if self.any(ClaimPlace::Query) {
            let query = request.uri().query().unwrap_or("");
            let mut new = kept_pairs(query, |n| self.is_place_name(ClaimPlace::Query, n));
            for p in self.params.iter().filter(|p| p.place == ClaimPlace::Query) {
                if let Some(v) = value(p) {
                    push_pair(&mut new, &p.name, &v);
                }
            }
            if new != query {
                *request.uri_mut() = with_query(request.uri(), &new)
                    .ok_or_else(|| TokenError::Profile("the query cannot be rewritten".into()))?;
            }
        }
        // path parameters
        if self.any(ClaimPlace::Path) {
            let mut params: Vec<(String, String)> = request
                .extensions()
                .get::<PathParams>()
                .map(|p| p.iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect())
                .unwrap_or_default();
            for p in self.params.iter().filter(|p| p.place == ClaimPlace::Path) {
                params.retain(|(k, _)| k != &p.name);
                if let Some(v) = value(p) {
                    params.push((p.name.clone(), v.into_owned()));
                }
            }
            request.extensions_mut().insert(params.into_iter().collect::<PathParams>());
        }
        Ok(())
    }

    fn is_place_name(&self, place: ClaimPlace, name: &str) -> bool {
        let folded = canonical(name);
        self.params.iter().any(|p| p.place == place && p.canonical == folded)
    }

    /// The new body of a url-encoded form: without any field named like a claim parameter of
    /// the form or the query, with the form's claims added. `None` when the body stays as it
    /// is.
    pub(crate) fn rewrite_form(&self, body: &[u8], claims: Option<&Claims>) -> Option<Bytes> {
        let text = String::from_utf8_lossy(body);
        let mut new = kept_pairs(&text, |n| {
            self.is_place_name(ClaimPlace::FormData, n) || self.is_place_name(ClaimPlace::Query, n)
        });
        for p in self.params.iter().filter(|p| p.place == ClaimPlace::FormData) {
            if let Some(v) = claims.and_then(|c| c.text(&p.claim)) {
                push_pair(&mut new, &p.name, &v);
            }
        }
        (new.as_bytes() != body).then(|| Bytes::from(new))
    }
}

/// Sets a rewritten body's length.
pub(crate) fn set_length(headers: &mut HeaderMap, len: usize) {
    headers.insert(CONTENT_LENGTH, HeaderValue::from(len));
}

fn is_form(headers: &HeaderMap) -> bool {
    media_type(headers).is_some_and(|m| m.eq_ignore_ascii_case("application/x-www-form-urlencoded"))
}

fn is_multipart(headers: &HeaderMap) -> bool {
    media_type(headers).is_some_and(|m| m.to_ascii_lowercase().starts_with("multipart/"))
}

fn media_type(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(CONTENT_TYPE)?.to_str().ok()?;
    Some(value.split(';').next().unwrap_or("").trim())
}

/// Removes `name` and its other spellings (`_` for `-`).
fn remove_header(headers: &mut HeaderMap, name: &HeaderName) {
    headers.remove(name);
    let doomed: Vec<HeaderName> = headers.keys().filter(|k| same_header(k.as_str(), name.as_str())).cloned().collect();
    for k in doomed {
        headers.remove(k);
    }
}

/// The url-encoded pairs of `text` whose name is not `doomed`, as they were written. A
/// segment is split on `;` too when looking for names (older Python and Go split there).
fn kept_pairs(text: &str, doomed: impl Fn(&str) -> bool) -> String {
    let mut out = String::with_capacity(text.len());
    for segment in text.split('&').filter(|s| !s.is_empty()) {
        let hit = segment.split(';').any(|part| {
            let key = part.split_once('=').map_or(part, |(k, _)| k);
            let key = key.replace('+', " ");
            doomed(&percent_decode_str(&key).decode_utf8_lossy())
        });
        if !hit {
            if !out.is_empty() {
                out.push('&');
            }
            out.push_str(segment);
        }
    }
    out
}

fn push_pair(out: &mut String, name: &str, value: &str) {
    if !out.is_empty() {
        out.push('&');
    }
    out.extend(form_urlencoded::byte_serialize(name.as_bytes()));
    out.push('=');
    out.extend(form_urlencoded::byte_serialize(value.as_bytes()));
}

fn with_query(uri: &Uri, query: &str) -> Option<Uri> {
    let path = uri.path();
    let pq: Cow<'_, str> = if query.is_empty() { Cow::Borrowed(path) } else { Cow::Owned(format!("{path}?{query}")) };
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = Some(pq.parse().ok()?);
    Uri::from_parts(parts).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn forwarding() -> Forwarding {
        Forwarding::new(&[
            ClaimParameter::new("aud", "X-Aud", ClaimPlace::Header),
            ClaimParameter::new("userId", "userId", ClaimPlace::Query),
            ClaimParameter::new("userId", "uid", ClaimPlace::Path),
            ClaimParameter::new("role", "role", ClaimPlace::FormData),
        ])
    }

    #[test]
    fn names_fold_as_lenient_backends_read_them() {
        for spelling in ["userId", "USERID", "userId[]", "userId[k]", " userid\0x", "uſerId"] {
            assert_eq!(canonical(spelling), canonical("userId"), "{spelling:?}");
        }
        for spelling in ["user.id", "user id", "user-id", "user+id", "USER_ID"] {
            assert_eq!(canonical(spelling), "user_id", "{spelling:?}");
        }
        assert_ne!(canonical("user_id"), canonical("userId"));
        assert!(same_name(ClaimPlace::Header, "X-Aud", "x_aud"));
        assert!(!same_name(ClaimPlace::Path, "a", "A"));
    }

    #[test]
    fn copies_removed_then_claims_added() {
        let mut req = Request::get("/p?a=1&USERID=evil&user%49d=evil2&b=2;userId=x&userId[]=y&user_id=kept")
            .header("x-aud", "evil")
            .header("x_aud", "evil")
            .body(())
            .unwrap();
        req.extensions_mut().insert([("uid", "evil"), ("other", "o")].into_iter().collect::<PathParams>());
        let claims = Claims::new(json!({"aud": "api", "userId": "u 1&x"}));
        forwarding().apply(&mut req, Some(&claims)).unwrap();
        assert_eq!(req.uri().query(), Some("a=1&user_id=kept&userId=u+1%26x"));
        let aud: Vec<_> = req.headers().get_all("x-aud").iter().collect();
        assert_eq!(aud, ["api"]);
        assert!(req.headers().get("x_aud").is_none());
        let path = req.extensions().get::<PathParams>().unwrap();
        assert_eq!(path.get("uid"), Some("u 1&x"));
        assert_eq!(path.get("other"), Some("o"));
    }

    #[test]
    fn without_claims_copies_still_go() {
        let mut req = Request::get("/p?userId=evil").header("X-Aud", "evil").body(()).unwrap();
        forwarding().apply(&mut req, None).unwrap();
        assert_eq!(req.uri().query(), None);
        assert!(req.headers().get("x-aud").is_none());
    }

    #[test]
    fn forms_are_rewritten() {
        let claims = Claims::new(json!({"role": "reader", "userId": "u1"}));
        let body = forwarding().rewrite_form(b"a=1&ROLE=admin&USERID=evil&b=2", Some(&claims));
        assert_eq!(body.as_deref(), Some(&b"a=1&b=2&role=reader"[..]));
        assert_eq!(forwarding().rewrite_form(b"a=1", None), None);
    }

    #[test]
    fn a_header_claim_that_cannot_be_a_header_is_refused() {
        let mut req = Request::get("/").body(()).unwrap();
        let claims = Claims::new(json!({"aud": "a\nb"}));
        assert_eq!(forwarding().apply(&mut req, Some(&claims)).unwrap_err().kind(), "profile");
    }
}
