//! [`TokenLocation`]: where a token is read (a header, with or without a scheme word, a query
//! parameter, a cookie), and the one routine that reads it, refusing two copies.

use std::borrow::Cow;

use http::header::COOKIE;
use http::{HeaderMap, HeaderName, Uri};
use percent_encoding::percent_decode_str;

use crate::verify::TokenError;

/// Where a token is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenLocation {
    /// A header; a leading `Bearer ` (any case) is stripped, a token without it is taken as
    /// it is.
    Header(HeaderName),
    /// A query parameter (percent-decoded, `+` as a space like any form value).
    Query(String),
    /// A cookie of the `Cookie` header.
    Cookie(String),
}

impl TokenLocation {
    /// The token at this location; `Ok(None)` when absent or empty. Two copies (two headers,
    /// two parameters or cookies of the name) are [`TokenError::Ambiguous`]; a header value
    /// that is not visible ASCII is [`TokenError::BadLocation`].
    pub fn read<'r>(&self, headers: &'r HeaderMap, uri: &'r Uri) -> Result<Option<Cow<'r, str>>, TokenError> {
        match self {
            Self::Header(name) => {
                let mut values = headers.get_all(name).iter();
                let Some(value) = values.next() else { return Ok(None) };
                if values.next().is_some() {
                    return Err(TokenError::Ambiguous);
                }
                let text = value.to_str().map_err(|_| TokenError::BadLocation(format!("{name} is not ASCII text")))?;
                let text = text.trim();
                let token = strip_bearer(text);
                Ok((!token.is_empty()).then_some(Cow::Borrowed(token)))
            }
            Self::Query(name) => {
                let query = uri.query().unwrap_or("");
                let mut found = None;
                for (key, value) in form_urlencoded::parse(query.as_bytes()) {
                    if key == name.as_str() {
                        if found.is_some() {
                            return Err(TokenError::Ambiguous);
                        }
                        found = Some(value);
                    }
                }
                Ok(found.filter(|v| !v.is_empty()))
            }
            Self::Cookie(name) => {
                let mut found = None;
                for header in headers.get_all(COOKIE) {
                    let Ok(text) = header.to_str() else { continue };
                    for pair in text.split(';') {
                        let Some((key, value)) = pair.trim().split_once('=') else { continue };
                        if key.trim() == name {
                            if found.is_some() {
                                return Err(TokenError::Ambiguous);
                            }
                            let value = value.trim().trim_matches('"');
                            found = Some(percent_decode_str(value).decode_utf8_lossy());
                        }
                    }
                }
                Ok(found.filter(|v| !v.is_empty()))
            }
        }
    }
}

/// The token after a `Bearer` scheme word (any case), or the text itself.
pub fn strip_bearer(text: &str) -> &str {
    if text.eq_ignore_ascii_case("bearer") {
        return "";
    }
    match text.split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim_start(),
        _ => text,
    }
}

#[cfg(test)]
mod bearer_tests {
    use super::strip_bearer;

    #[test]
    fn only_the_bearer_scheme_word_is_stripped() {
        assert_eq!(strip_bearer("Bearer abc.def.ghi"), "abc.def.ghi");
        assert_eq!(strip_bearer("bEaReR   abc"), "abc");
        assert_eq!(strip_bearer("Bearer"), "");
        assert_eq!(strip_bearer("abc.def.ghi"), "abc.def.ghi");
        // another scheme's credentials are not a token with a word in front
        assert_eq!(strip_bearer("Basic YWxhZGRpbjpvcGVu"), "Basic YWxhZGRpbjpvcGVu");
        assert_eq!(strip_bearer("Bearerx abc"), "Bearerx abc");
    }
}
