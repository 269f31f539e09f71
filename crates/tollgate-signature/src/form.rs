//! Query strings and form bodies: decoded exactly as [`form_urlencoded::parse`] decodes
//! them, borrowed wherever a component needs no decoding; refused where they can be read
//! more than one way; and RFC 3986 encoding for strings to sign.

use std::borrow::Cow;

use http::HeaderMap;
use http::header::CONTENT_TYPE;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::header_text::header_text;
use crate::hex::HEX_VALUE;

/// RFC 3986: everything but `A-Z a-z 0-9 - _ . ~` is `%XX` (upper-case hex of UTF-8 bytes).
pub(crate) const RFC3986: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// Percent-encodes per RFC 3986 (space is `%20`, `*` is `%2A`, `~` stays).
pub(crate) fn rfc3986_encode(text: &str) -> String {
    utf8_percent_encode(text, RFC3986).to_string()
}

/// Decoded `name=value` pairs of a query string or form body (`+` is a space).
pub(crate) fn decoded_pairs(input: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(input).map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

/// The `name=value` pairs of a query string or form body, decoded exactly as
/// [`form_urlencoded::parse`] decodes them (`+` is a space, `%XX` a byte, invalid UTF-8
/// replaced), but borrowed wherever a component needs no decoding: the reading that
/// [`each_param`] and the sorted parameters give, collected, for the tests that hold it
/// to `form_urlencoded`'s.
#[cfg(test)]
pub(crate) fn params(input: &[u8]) -> impl Iterator<Item = (Cow<'_, str>, Cow<'_, str>)> {
    let mut pairs = Vec::new();
    push_pairs(&mut pairs, &Source::new(input));
    pairs.into_iter()
}

/// The decoded pairs of a query and then of a form body (empty when the body is not a
/// form), as [`form_urlencoded::parse`] decodes them, in one vector.
#[cfg(test)]
pub(crate) fn query_and_form_params<'a>(query: &'a str, body: &'a [u8]) -> Vec<(Cow<'a, str>, Cow<'a, str>)> {
    let mut pairs = Vec::with_capacity(16);
    push_pairs(&mut pairs, &Source::text(query));
    push_pairs(&mut pairs, &Source::new(body));
    pairs
}

#[cfg(test)]
fn push_pairs<'a>(pairs: &mut Vec<(Cow<'a, str>, Cow<'a, str>)>, source: &Source<'a>) {
    scan(source.bytes, |span| pairs.push((span.name(source), span.value(source))));
}

/// Decodes a query or form component as [`form_urlencoded::parse`] does, into `buf`, when
/// it fits and is text: for a value read once, with no allocation.
pub(crate) fn decode_into<'b>(raw: &str, buf: &'b mut [u8]) -> Option<&'b str> {
    let raw = raw.as_bytes();
    let mut len = 0;
    let mut i = 0;
    while i < raw.len() {
        let (b, width) = decode_step(raw, i);
        *buf.get_mut(len)? = b;
        len += 1;
        i += width;
    }
    std::str::from_utf8(&buf[..len]).ok()
}

/// A query or form component decoded, as [`form_urlencoded::parse`] decodes it.
pub(crate) fn decode_component(raw: &str) -> Cow<'_, str> {
    match raw.bytes().any(|b| b == b'%' || b == b'+') {
        true => decode_bytes(raw.as_bytes()),
        // text already: nothing to decode or check
        false => Cow::Borrowed(raw),
    }
}

/// Each decoded pair of a query string or form body, as [`form_urlencoded::parse`] gives
/// them, handed to `each` without being collected first; refused when a name or value is
/// not UTF-8 once decoded (each pair is still handed over, such a one decoded lossily, so
/// that a caller can show the string it would have signed).
pub(crate) fn each_param<'a>(
    input: &'a [u8],
    mut each: impl FnMut(Cow<'a, str>, Cow<'a, str>),
) -> Result<(), AmbiguousParams> {
    let source = Source::new(input);
    let mut result = Ok(());
    scan(input, |span| match span.text_pair(&source) {
        Some((name, value)) => each(name, value),
        None => {
            result = Err(AmbiguousParams::NotUtf8);
            each(span.name(&source), span.value(&source));
        }
    });
    result
}

/// Why a request's parameters can be read more than one way: refused, never resolved,
/// since the signature would cover one reading and the application might take another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum AmbiguousParams {
    /// A name or value is not UTF-8 once percent-decoded: decoders replace such bytes
    /// with U+FFFD, so `%FF` and `%FE` would read alike.
    #[error("a parameter is not UTF-8 once percent-decoded")]
    NotUtf8,
    /// A name is given more than once (in one place, or as names that decode alike or are
    /// signed alike): which value an application reads is its own choice.
    #[error("a parameter is given more than once")]
    Repeated,
    /// A name is given both in the query and in the form body: an application reading
    /// one may not read the one a scheme signs.
    #[error("a parameter is in both the query and the form body")]
    QueryAndForm,
}

impl AmbiguousParams {
    /// The ambiguity, if any, among parameters sorted so that names read alike are
    /// adjacent (`same`), each tagged with whether it came from the form body.
    pub(crate) fn among<T>(
        sorted: &[T],
        same: impl Fn(&T, &T) -> bool,
        from_form: impl Fn(&T) -> bool,
    ) -> Option<Self> {
        let pair = sorted.windows(2).find(|w| same(&w[0], &w[1]))?;
        Some(if from_form(&pair[0]) == from_form(&pair[1]) { Self::Repeated } else { Self::QueryAndForm })
    }
}

/// The decoded value of the first parameter called `name`, without collecting the others.
#[cfg(test)]
fn find_param<'a>(input: &'a [u8], name: &str) -> Option<Cow<'a, str>> {
    params(input).find(|(k, _)| k == name).map(|(_, v)| v)
}

/// The body when it carries parameters (a form), else nothing.
pub(crate) fn form_body<'a>(req: &crate::RequestView<'a>) -> &'a [u8] {
    req.body.filter(|_| is_form(req.headers)).unwrap_or_default()
}

#[derive(Debug, Clone, Copy)]
struct Span {
    start: usize,
    /// The `=`, or `end` when there is none.
    equals: usize,
    end: usize,
    name_escaped: bool,
    value_escaped: bool,
}

/// A query or body, as text when it is valid UTF-8 (so components can be borrowed).
struct Source<'a> {
    bytes: &'a [u8],
    text: Option<&'a str>,
}

impl<'a> Source<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, text: if bytes.is_empty() { Some("") } else { std::str::from_utf8(bytes).ok() } }
    }

    #[cfg(test)]
    fn text(text: &'a str) -> Self {
        Self { bytes: text.as_bytes(), text: Some(text) }
    }

    #[inline]
    fn component(&self, start: usize, end: usize, escaped: bool) -> Cow<'a, str> {
        match self.text {
            Some(text) if !escaped => Cow::Borrowed(&text[start..end]),
            _ => decode_bytes(&self.bytes[start..end]),
        }
    }

    /// [`component`](Self::component), or `None` when it is not UTF-8 once decoded.
    #[inline]
    fn text_component(&self, start: usize, end: usize, escaped: bool) -> Option<Cow<'a, str>> {
        match self.text {
            Some(text) if !escaped => Some(Cow::Borrowed(&text[start..end])),
            _ => decode_text(&self.bytes[start..end]),
        }
    }
}

impl Span {
    fn name<'a>(&self, source: &Source<'a>) -> Cow<'a, str> {
        source.component(self.start, self.equals, self.name_escaped)
    }

    fn value<'a>(&self, source: &Source<'a>) -> Cow<'a, str> {
        source.component((self.equals + 1).min(self.end), self.end, self.value_escaped)
    }

    /// The decoded name and value, or `None` when either is not UTF-8.
    fn text_pair<'a>(&self, source: &Source<'a>) -> Option<(Cow<'a, str>, Cow<'a, str>)> {
        let name = source.text_component(self.start, self.equals, self.name_escaped)?;
        let value = source.text_component((self.equals + 1).min(self.end), self.end, self.value_escaped)?;
        Some((name, value))
    }
}

/// Bytes that end or escape a component: `&`, `=`, `%`, `+`.
const SPECIAL: [bool; 256] = {
    let mut table = [false; 256];
    table[b'&' as usize] = true;
    table[b'=' as usize] = true;
    table[b'%' as usize] = true;
    table[b'+' as usize] = true;
    table
};

/// One pass over the bytes, noting on the way which components hold escapes.
fn scan(bytes: &[u8], mut each: impl FnMut(Span)) {
    let mut start = 0;
    while start < bytes.len() {
        let mut span = Span { start, equals: usize::MAX, end: start, name_escaped: false, value_escaped: false };
        let mut end = start;
        loop {
            // most bytes are plain: one table load each, no jump table
            while end < bytes.len() && !SPECIAL[usize::from(bytes[end])] {
                end += 1;
            }
            match bytes.get(end) {
                None | Some(b'&') => break,
                Some(b'=') if span.equals == usize::MAX => span.equals = end,
                Some(b'%' | b'+') if span.equals == usize::MAX => span.name_escaped = true,
                Some(b'%' | b'+') => span.value_escaped = true,
                Some(_) => {}
            }
            end += 1;
        }
        if end > start {
            span.end = end;
            span.equals = span.equals.min(end);
            each(span);
        }
        start = end + 1;
    }
}

#[inline(never)]
fn decode_bytes(raw: &[u8]) -> Cow<'_, str> {
    if !raw.iter().any(|&b| b == b'%' || b == b'+') {
        return String::from_utf8_lossy(raw);
    }
    match String::from_utf8(decoded_bytes(raw)) {
        Ok(text) => Cow::Owned(text),
        Err(e) => Cow::Owned(String::from_utf8_lossy(e.as_bytes()).into_owned()),
    }
}

/// A component decoded as [`decode_bytes`] decodes it, or `None` when the bytes are not
/// UTF-8: where a lossy decoding would make `%FF` and `%FE` one text (U+FFFD), a signed
/// value could be sent as another.
#[inline(never)]
pub(crate) fn decode_text(raw: &[u8]) -> Option<Cow<'_, str>> {
    if !raw.iter().any(|&b| b == b'%' || b == b'+') {
        return std::str::from_utf8(raw).ok().map(Cow::Borrowed);
    }
    String::from_utf8(decoded_bytes(raw)).ok().map(Cow::Owned)
}

fn decoded_bytes(raw: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let (b, width) = decode_step(raw, i);
        bytes.push(b);
        i += width;
    }
    bytes
}

/// One step of form decoding at `bytes[at]` (which must exist): the byte it stands for and
/// how many bytes it took. `+` is a space, a valid `%XX` its byte (three bytes taken), and
/// anything else itself, a lone `%` included.
#[inline]
pub(crate) fn decode_step(bytes: &[u8], at: usize) -> (u8, usize) {
    match bytes[at] {
        b'+' => (b' ', 1),
        b'%' => {
            let digit = |i: usize| bytes.get(i).map(|&d| HEX_VALUE[usize::from(d)]).filter(|&v| v < 16);
            match (digit(at + 1), digit(at + 2)) {
                (Some(high), Some(low)) => (high << 4 | low, 3),
                _ => (b'%', 1),
            }
        }
        b => (b, 1),
    }
}

/// Whether the request's content type is `application/x-www-form-urlencoded`.
pub(crate) fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(header_text)
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"))
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The borrowing decoder means exactly what `form_urlencoded` means, on any bytes.
        #[test]
        fn params_decode_as_form_urlencoded(input in proptest::collection::vec(
            proptest::sample::select(b"ab=&%+2Fe\xff\xc3\xa9 ".to_vec()), 0..40)) {
            let ours: Vec<_> = params(&input).collect();
            let reference: Vec<_> = form_urlencoded::parse(&input).collect();
            proptest::prop_assert_eq!(ours, reference);
        }
    }

    proptest::proptest! {
        /// A query's pairs then a form's, each decoded as `form_urlencoded` decodes it.
        #[test]
        fn query_and_form_params_decode_as_form_urlencoded(
            query in proptest::collection::vec(proptest::sample::select(b"ab=&%+2Fe".to_vec()), 0..30),
            body in proptest::collection::vec(proptest::sample::select(b"ab=&%+2Fe\xff\xc3\xa9".to_vec()), 0..30),
        ) {
            let query = String::from_utf8(query).unwrap();
            let ours = query_and_form_params(&query, &body);
            let reference: Vec<_> = form_urlencoded::parse(query.as_bytes()).chain(form_urlencoded::parse(&body)).collect();
            proptest::prop_assert_eq!(ours, reference);
        }
    }

    proptest::proptest! {
        /// `decode_into` decodes as `form_urlencoded` does, when the text fits and is UTF-8.
        #[test]
        fn decode_into_is_form_urlencoded(raw in "[ab%+2FeéA]{0,24}") {
            let mut buf = [0u8; 16];
            let reference = decode_component(&raw);
            match decode_into(&raw, &mut buf) {
                Some(ours) => proptest::prop_assert_eq!(ours, reference.as_ref()),
                None => {
                    let decoded = percent_encoding::percent_decode(raw.replace('+', " ").as_bytes()).collect::<Vec<u8>>();
                    proptest::prop_assert!(decoded.len() > 16 || std::str::from_utf8(&decoded).is_err());
                }
            }
        }
    }

    #[test]
    fn params_borrow_what_needs_no_decoding() {
        let decoded: Vec<_> = params(b"a=1&&b=x%2Fy&c&d=e+f&%zz=%4").collect();
        assert_eq!(
            decoded,
            [("a", "1"), ("b", "x/y"), ("c", ""), ("d", "e f"), ("%zz", "%4")].map(|(k, v)| (k.into(), v.into()))
        );
        assert!(matches!(decoded[0], (Cow::Borrowed(_), Cow::Borrowed(_))));
        assert_eq!(find_param(b"x=1&Signature=a%3D&Signature=b", "Signature").as_deref(), Some("a="));
    }

    #[test]
    fn rfc3986() {
        assert_eq!(rfc3986_encode("a b*c~d/e+f=g&h"), "a%20b%2Ac~d%2Fe%2Bf%3Dg%26h");
        assert_eq!(rfc3986_encode("张"), "%E5%BC%A0");
    }
}
