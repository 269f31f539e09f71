//! Primitives every scheme shares: HMACs compared in constant time, Base64, RFC 3986
//! encoding, decoded and sorted parameters.

use std::borrow::Cow;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use http::header::CONTENT_TYPE;
use http::{HeaderMap, HeaderValue};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// The hash under an HMAC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HmacAlg {
    /// HMAC-SHA1.
    Sha1,
    /// HMAC-SHA256.
    Sha256,
}

/// HMAC of `data` under `key`.
pub fn hmac(alg: HmacAlg, key: &[u8], data: &[u8]) -> Vec<u8> {
    match alg {
        HmacAlg::Sha1 => {
            let mut m = Hmac::<sha1::Sha1>::new_from_slice(key).expect("HMAC takes any key length");
            m.update(data);
            m.finalize().into_bytes().to_vec()
        }
        HmacAlg::Sha256 => {
            let mut m = Hmac::<sha2::Sha256>::new_from_slice(key).expect("HMAC takes any key length");
            m.update(data);
            m.finalize().into_bytes().to_vec()
        }
    }
}

/// Standard Base64 with padding.
pub fn base64_encode(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// A decoded signature, kept on the stack: every scheme's signature is at most 32 bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SignatureBytes {
    buf: [u8; 64],
    len: u8,
}

impl SignatureBytes {
    /// Decodes standard Base64 of at most 64 bytes; `None` if malformed or longer.
    pub fn from_base64(text: &str) -> Option<Self> {
        let mut buf = [0u8; 64];
        let len = STANDARD.decode_slice(text.trim_ascii().as_bytes(), &mut buf).ok()?;
        Some(Self { buf, len: u8::try_from(len).ok()? })
    }

    /// Decodes hex of at most 64 bytes; `None` if malformed or longer.
    pub fn from_hex(text: &str) -> Option<Self> {
        let text = text.trim_ascii().as_bytes();
        let mut buf = [0u8; 64];
        let len = text.len() / 2;
        if text.len() % 2 != 0 || len > buf.len() {
            return None;
        }
        decode_hex(text, &mut buf[..len])?;
        Some(Self { buf, len: len as u8 })
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..usize::from(self.len)]
    }
}

impl std::fmt::Debug for SignatureBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SignatureBytes({} bytes)", self.len)
    }
}

/// Each hex digit's value, or 0xFF for a byte that is none.
const HEX_VALUE: [u8; 256] = {
    let mut table = [0xFF; 256];
    let mut i = 0;
    while i < 10 {
        table[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        table[b'a' as usize + i] = 10 + i as u8;
        table[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    table
};

/// Decodes hex (either case) into `out`, which must be half as long as `text`; `None` if a
/// byte is not a hex digit. What `hex::decode_to_slice` does, without its per-digit
/// branching: TC3's 64-digit signature took a tenth of its verification there.
pub(crate) fn decode_hex(text: &[u8], out: &mut [u8]) -> Option<()> {
    if text.len() != 2 * out.len() {
        return None;
    }
    let mut bad = 0u8;
    for (byte, pair) in out.iter_mut().zip(text.chunks_exact(2)) {
        let (high, low) = (HEX_VALUE[usize::from(pair[0])], HEX_VALUE[usize::from(pair[1])]);
        bad |= high | low;
        *byte = high << 4 | (low & 0x0F);
    }
    // a digit's value is below 16; 0xFF sets the high bits
    (bad & 0xF0 == 0).then_some(())
}

/// RFC 3986: everything but `A-Z a-z 0-9 - _ . ~` is `%XX` (upper-case hex of UTF-8 bytes).
const RFC3986: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// Percent-encodes per RFC 3986 (space is `%20`, `*` is `%2A`, `~` stays).
pub fn rfc3986_encode(text: &str) -> String {
    utf8_percent_encode(text, RFC3986).to_string()
}

/// Decoded `name=value` pairs of a query string or form body (`+` is a space).
pub fn decoded_pairs(input: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(input).map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

/// The `name=value` pairs of a query string or form body, decoded exactly as
/// [`form_urlencoded::parse`] decodes them (`+` is a space, `%XX` a byte, invalid UTF-8
/// replaced), but borrowed wherever a component needs no decoding: most of a signed
/// request's parameters, which is what keeps verification cheap.
pub fn params(input: &[u8]) -> impl Iterator<Item = (Cow<'_, str>, Cow<'_, str>)> {
    let mut pairs = Vec::new();
    push_pairs(&mut pairs, &Source::new(input));
    pairs.into_iter()
}

/// The decoded pairs of a query and then of a form body (empty when the body is not a
/// form), as [`params`] decodes them, in one vector.
pub fn query_and_form_params<'a>(query: &'a str, body: &'a [u8]) -> Vec<(Cow<'a, str>, Cow<'a, str>)> {
    let mut pairs = Vec::with_capacity(16);
    push_pairs(&mut pairs, &Source::text(query));
    push_pairs(&mut pairs, &Source::new(body));
    pairs
}

fn push_pairs<'a>(pairs: &mut Vec<(Cow<'a, str>, Cow<'a, str>)>, source: &Source<'a>) {
    scan(source.bytes, |span| pairs.push((span.name(source), span.value(source))));
}

/// A parameter as sent (still percent-encoded), with what its scheme needs to know to
/// write it into a string to sign without decoding it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawParam<'r> {
    /// The name's first 16 bytes as its order reads them, zero-padded, big-endian: most
    /// comparisons while sorting end at this integer.
    key: u128,
    pub(crate) name: &'r str,
    pub(crate) value: &'r str,
    /// The name is RFC 3986 unreserved bytes only and the value is RFC 3986 encoded exactly
    /// as the SDKs encode (unreserved bytes, upper-case escapes of ASCII bytes that are not
    /// unreserved): encoding it once more only turns each `%` into `%25`.
    pub(crate) canonical: bool,
    /// The value holds no `%` or `+`: it is its own decoded text.
    pub(crate) plain: bool,
}

/// How a scheme orders parameter names in its string to sign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NameOrder {
    /// Byte order (code-point order).
    Bytes,
    /// Byte order with `_` read as `.` (Tencent Cloud v1 signs `_` as `.`).
    UnderscoreAsDot,
}

impl NameOrder {
    #[inline]
    pub(crate) fn cmp(self, a: &str, b: &str) -> std::cmp::Ordering {
        match self {
            NameOrder::Bytes => cmp_text(a, b),
            NameOrder::UnderscoreAsDot => cmp_underscore_as_dot(a, b),
        }
    }

    /// The sort key of the name `text[start..end]`: names with unequal keys compare as
    /// their keys do.
    #[inline]
    fn key(self, text: &[u8], start: usize, end: usize) -> u128 {
        // Sixteen bytes read at once, from the name on (or the text's last sixteen, shifted
        // up to the name), those past the name masked off: copying a name of any length
        // into a buffer first cost more than the sort it serves.
        let window = match (text.get(start..start + 16), text.len().checked_sub(16)) {
            (Some(window), _) => u128::from_be_bytes(window.try_into().unwrap_or([0; 16])),
            (None, Some(last)) => {
                let window = u128::from_be_bytes(text[last..].try_into().unwrap_or([0; 16]));
                window << (8 * (start - last))
            }
            (None, None) => {
                let mut bytes = [0u8; 16];
                bytes[..text.len() - start].copy_from_slice(&text[start..]);
                u128::from_be_bytes(bytes)
            }
        };
        let kept = (end - start).min(16) as u32;
        let key = window & u128::MAX.checked_shl(128 - 8 * kept).unwrap_or(0);
        match self {
            NameOrder::Bytes => key,
            NameOrder::UnderscoreAsDot => {
                // each `_` byte turned into `.`, all sixteen at once: a byte of `t` is zero
                // exactly where the key holds `_` (exact, since no sum crosses a byte)
                const EACH: u128 = u128::MAX / 0xFF;
                let t = key ^ (EACH * u128::from(b'_'));
                let low7 = EACH * 0x7F;
                let underscores = !(((t & low7) + low7) | t) & (EACH << 7);
                key ^ ((underscores >> 7) * u128::from(b'_' ^ b'.'))
            }
        }
    }
}

/// Byte order with `_` read as `.`. Byte order, unless the first bytes that differ involve a `_`.
pub(crate) fn cmp_underscore_as_dot(a: &str, b: &str) -> std::cmp::Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let at = first_difference(a, b);
    match (a.get(at), b.get(at)) {
        (Some(&x), Some(&y)) if x != b'_' && y != b'_' => x.cmp(&y),
        (Some(_), Some(_)) => {
            let signed = |c: &u8| if *c == b'_' { b'.' } else { *c };
            a[at..].iter().map(signed).cmp(b[at..].iter().map(signed))
        }
        _ => a.len().cmp(&b.len()),
    }
}

/// What a byte is to [`raw_params`]: most are unreserved and end no component.
const UNRESERVED_BYTE: u8 = 0;
const AMPERSAND: u8 = 1;
const EQUALS: u8 = 2;
const PERCENT: u8 = 3;
const PLUS: u8 = 4;
const RESERVED: u8 = 5;

const CLASS: [u8; 256] = {
    let mut table = [RESERVED; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        if c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.' | b'~') {
            table[b] = UNRESERVED_BYTE;
        }
        b += 1;
    }
    table[b'&' as usize] = AMPERSAND;
    table[b'=' as usize] = EQUALS;
    table[b'%' as usize] = PERCENT;
    table[b'+' as usize] = PLUS;
    table
};

/// Whether `%` at `bytes[at]` begins an escape as the SDKs write one: two upper-case hex
/// digits, of an ASCII byte that RFC 3986 does not leave unreserved.
#[inline]
fn canonical_escape(bytes: &[u8], at: usize) -> bool {
    let digit = |i: usize| bytes.get(i).copied().filter(|d| matches!(d, b'0'..=b'9' | b'A'..=b'F'));
    match (digit(at + 1), digit(at + 2)) {
        (Some(high), Some(low)) => {
            let byte = HEX_VALUE[usize::from(high)] << 4 | HEX_VALUE[usize::from(low)];
            byte.is_ascii() && CLASS[usize::from(byte)] != UNRESERVED_BYTE
        }
        _ => false,
    }
}

/// The parameters of `text` as sent, appended to `params`, in one pass that notes what
/// each needs; `false` (and `params` left partly filled) when a name needs decoding.
fn scan_raw<'a>(text: &'a str, order: NameOrder, params: &mut Vec<RawParam<'a>>) -> bool {
    let bytes = text.as_bytes();
    let class = |i: usize| bytes.get(i).map(|&b| CLASS[usize::from(b)]);
    let mut start = 0;
    while start < bytes.len() {
        let mut i = start;
        let mut canonical = true;
        // the name: up to `=`, `&` or the end
        loop {
            // most bytes are unreserved: one table load each
            while i < bytes.len() && CLASS[usize::from(bytes[i])] == UNRESERVED_BYTE {
                i += 1;
            }
            match class(i) {
                None | Some(AMPERSAND | EQUALS) => break,
                Some(PERCENT | PLUS) => return false,
                Some(_) => {
                    canonical = false;
                    i += 1;
                }
            }
        }
        let equals = i;
        let mut end = if class(i) == Some(EQUALS) { i + 1 } else { i };
        let mut plain = true;
        loop {
            while end < bytes.len() && CLASS[usize::from(bytes[end])] == UNRESERVED_BYTE {
                end += 1;
            }
            match class(end) {
                None | Some(AMPERSAND) => break,
                Some(PERCENT) => {
                    plain = false;
                    canonical &= canonical_escape(bytes, end);
                }
                Some(PLUS) => {
                    plain = false;
                    canonical = false;
                }
                Some(_) => canonical = false,
            }
            end += 1;
        }
        if end > start {
            let value = &text[(equals + 1).min(end)..end];
            let name = &text[start..equals];
            params.push(RawParam { key: order.key(bytes, start, equals), name, value, canonical, plain });
        }
        start = end + 1;
    }
    true
}

/// The parameters of a query and then of a form body with their values left as sent
/// (still percent-encoded), when no name needs decoding and the body is text: what a
/// scheme that re-encodes values can write from without decoding them. `None` otherwise.
pub(crate) fn raw_params<'a>(query: &'a str, body: &'a [u8], order: NameOrder) -> Option<Vec<RawParam<'a>>> {
    let mut params = Vec::with_capacity(16);
    let body = if body.is_empty() { "" } else { std::str::from_utf8(body).ok()? };
    (scan_raw(query, order, &mut params) && scan_raw(body, order, &mut params)).then_some(params)
}

/// Decodes a query or form component as [`params`] does, into `buf`, when it fits and is
/// text: for a value read once, with no allocation.
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

/// A query or form component decoded, as [`params`] decodes it.
pub(crate) fn decode_component(raw: &str) -> Cow<'_, str> {
    match raw.bytes().any(|b| b == b'%' || b == b'+') {
        true => decode_bytes(raw.as_bytes()),
        // text already: nothing to decode or check
        false => Cow::Borrowed(raw),
    }
}

/// Each decoded pair of a query string or form body, as [`params`] gives them, handed to
/// `each` without being collected first; refused when a name or value is not UTF-8 once
/// decoded (each pair is still handed over, such a one decoded lossily, so that a caller
/// can show the string it would have signed).
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
pub fn find_param<'a>(input: &'a [u8], name: &str) -> Option<Cow<'a, str>> {
    params(input).find(|(k, _)| k == name).map(|(_, v)| v)
}

/// The body when it carries parameters (a form), else nothing.
pub fn form_body<'a>(req: &crate::RequestView<'a>) -> &'a [u8] {
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
fn decode_text(raw: &[u8]) -> Option<Cow<'_, str>> {
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

/// The parts of `text` between the ASCII byte `sep`, as `str::split` gives them, found by
/// a plain byte loop: for the few short parts of a header, `split(char)`'s searcher cost
/// more than the parsing around it.
pub(crate) fn split_ascii(text: &str, sep: u8) -> impl Iterator<Item = &str> {
    debug_assert!(sep.is_ascii());
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let current = rest?;
        let at = find_byte(current.as_bytes(), sep);
        // `sep` is ASCII, so both sides of it are whole text
        rest = current.get(at + 1..);
        Some(&current[..at])
    })
}

/// Where the first `needle` is in `bytes` (their length if none), found eight bytes at a
/// time without a call: the long parts of an `Authorization` header. (`memchr::memchr` in
/// its place, measured: TC3 and the Aliyun gateway 13–28 ns slower per request, a call per
/// short part; benches/README.md, sixth session.)
#[inline]
fn find_byte(bytes: &[u8], needle: u8) -> usize {
    const LOW: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let pattern = LOW * u64::from(needle);
    let mut chunks = bytes.chunks_exact(8);
    let mut at = 0;
    for chunk in chunks.by_ref() {
        let word = u64::from_le_bytes(chunk.try_into().unwrap_or_default()) ^ pattern;
        // a zero byte is a match; the lowest flagged byte is the first zero (a borrow only
        // flags bytes above one)
        let zero = word.wrapping_sub(LOW) & !word & HIGH;
        if zero != 0 {
            return at + (zero.trailing_zeros() / 8) as usize;
        }
        at += 8;
    }
    at + chunks.remainder().iter().take_while(|&&b| b != needle).count()
}

/// The words of `text` between runs of ASCII whitespace, as `split_ascii_whitespace` gives
/// them, found by a plain byte loop (see [`split_ascii`]).
pub(crate) fn ascii_words(text: &str) -> impl Iterator<Item = &str> {
    split_where(text, |b| b.is_ascii_whitespace()).filter(|word| !word.is_empty())
}

/// The parts of `text` between ASCII bytes for which `is_sep` holds.
fn split_where(text: &str, is_sep: impl Fn(u8) -> bool) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let current = rest?;
        match current.bytes().position(&is_sep) {
            Some(at) => {
                // `sep` is ASCII, so both sides of it are whole text
                rest = Some(&current[at + 1..]);
                Some(&current[..at])
            }
            None => {
                rest = None;
                Some(current)
            }
        }
    })
}

/// Where each of `wanted` first appears among `names`.
pub(crate) fn first_of_each<'n, const N: usize>(
    names: impl Iterator<Item = &'n str>,
    wanted: [&str; N],
) -> [Option<usize>; N] {
    let mut found = [None; N];
    let mut missing = N;
    for (i, name) in names.enumerate() {
        for (slot, wanted) in found.iter_mut().zip(wanted) {
            if slot.is_none() && name.len() == wanted.len() && name == wanted {
                *slot = Some(i);
                missing -= 1;
            }
        }
        if missing == 0 {
            break;
        }
    }
    found
}

/// A parameter name a scheme reads, with its sort key worked out when the program is
/// built: comparing keys is cheaper than comparing the text.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sought {
    name: &'static str,
    /// The name's key under either order, where equal keys and lengths mean equal names:
    /// up to sixteen bytes, none of them `_` or `.` (which one order reads alike).
    key: Option<u128>,
}

impl Sought {
    pub(crate) const fn new(name: &'static str) -> Self {
        let bytes = name.as_bytes();
        if bytes.len() > 16 {
            return Self { name, key: None };
        }
        let mut key = 0u128;
        let mut i = 0;
        while i < 16 {
            let byte = if i < bytes.len() { bytes[i] } else { 0 };
            if byte == b'_' || byte == b'.' {
                return Self { name, key: None };
            }
            key = key << 8 | byte as u128;
            i += 1;
        }
        Self { name, key: Some(key) }
    }
}

/// Sorts `params` by name in `order`, and says whether no two names are equal in it (which
/// makes the unstable sort a stable one).
fn sort_distinct(params: &mut [RawParam<'_>], order: NameOrder) -> bool {
    const SHORT: usize = 32;
    if params.len() <= SHORT {
        // Sixteen-byte keys sort faster than the parameters they stand for: each key's
        // last byte gives way to its parameter's index.
        let mut keys = [0u128; SHORT];
        let keys = &mut keys[..params.len()];
        for (i, (key, p)) in keys.iter_mut().zip(params.iter()).enumerate() {
            *key = p.key & !0xFF | i as u128;
        }
        keys.sort_unstable();
        // names alike in their first fifteen bytes are left to the full comparison
        if keys.windows(2).all(|w| w[0] >> 8 != w[1] >> 8) {
            permute(params, |at| (keys[at] & 0xFF) as usize);
            return true;
        }
    }
    params.sort_unstable_by(|a, b| a.key.cmp(&b.key).then_with(|| order.cmp(a.name, b.name)));
    // names the order holds equal have one key and one length (so far as the schemes'
    // orders go)
    let distinct = |a: &RawParam<'_>, b: &RawParam<'_>| {
        a.key != b.key || a.name.len() != b.name.len() || order.cmp(a.name, b.name).is_ne()
    };
    params.windows(2).all(|w| distinct(&w[0], &w[1]))
}

/// Puts `items[from(at)]` at each `at` (`from` a permutation of at most 32), in place, a
/// cycle at a time.
fn permute<T: Copy>(items: &mut [T], from: impl Fn(usize) -> usize) {
    let mut placed = 0u32;
    for start in 0..items.len() {
        if placed & 1 << start != 0 {
            continue;
        }
        let first = items[start];
        let mut at = start;
        loop {
            placed |= 1 << at;
            let source = from(at);
            if source == start {
                items[at] = first;
                break;
            }
            items[at] = items[source];
            at = source;
        }
    }
}

/// A request's query and form parameters, sorted by name (stably: a name's pairs stay in
/// the order sent), for a scheme whose string to sign lists them in order.
#[derive(Debug, Clone)]
pub(crate) enum Params<'r> {
    /// Values as sent, still percent-encoded: no name needs decoding, and no two are equal
    /// in the order.
    Raw(Vec<RawParam<'r>>),
    /// Decoded (borrowed where they needed no decoding), no two names equal in the order.
    Decoded(Vec<(Cow<'r, str>, Cow<'r, str>)>),
}

impl<'r> Params<'r> {
    /// The parameters of `query` and `body` (a form, else empty), sorted by `order`; raw
    /// where that is enough, decoded otherwise. Refused when they can be read more than
    /// one way: a name or value not UTF-8 once decoded, or two names equal in `order`
    /// (after decoding), in one place or across the two.
    #[inline]
    pub(crate) fn sorted(query: &'r str, body: &'r [u8], order: NameOrder) -> Result<Self, AmbiguousParams> {
        let raw =
            raw_params(query, body, order).and_then(|mut params| sort_distinct(&mut params, order).then_some(params));
        if let Some(params) = raw {
            // Raw names are text (no escapes, from a query or a UTF-8 body); a value is, when
            // it has no escape or only escapes of ASCII bytes.
            let undecodable = |p: &RawParam<'_>| !p.plain && !p.canonical && decode_text(p.value.as_bytes()).is_none();
            if params.iter().any(undecodable) {
                return Err(AmbiguousParams::NotUtf8);
            }
            return Ok(Params::Raw(params));
        }
        let mut params = Vec::with_capacity(16);
        each_param(query.as_bytes(), |k, v| params.push((k, v, false)))?;
        each_param(body, |k, v| params.push((k, v, true)))?;
        params.sort_by(|a, b| order.cmp(&a.0, &b.0));
        if let Some(ambiguity) = AmbiguousParams::among(&params, |a, b| order.cmp(&a.0, &b.0).is_eq(), |p| p.2) {
            return Err(ambiguity);
        }
        Ok(Params::Decoded(params.into_iter().map(|(k, v, _)| (k, v)).collect()))
    }

    /// Where the first pair with each of `names` is.
    pub(crate) fn first_of_each<const N: usize>(&self, names: &[Sought; N]) -> [Option<usize>; N] {
        match self {
            Params::Raw(params) => names.map(|sought| match sought.key {
                Some(key) => params.iter().position(|p| p.key == key && p.name.len() == sought.name.len()),
                None => params.iter().position(|p| p.name == sought.name),
            }),
            Params::Decoded(params) => first_of_each(params.iter().map(|p| p.0.as_ref()), names.map(|s| s.name)),
        }
    }

    /// The decoded value at `at`, for reading once: decoded into `buf` when it fits.
    pub(crate) fn read<'b>(&'b self, at: Option<usize>, buf: &'b mut [u8; 128]) -> Option<Cow<'b, str>> {
        let i = at?;
        Some(match self {
            Params::Raw(params) if params[i].plain => Cow::Borrowed(params[i].value),
            Params::Raw(params) => match decode_into(params[i].value, buf) {
                Some(text) => Cow::Borrowed(text),
                None => decode_component(params[i].value),
            },
            Params::Decoded(params) => Cow::Borrowed(params[i].1.as_ref()),
        })
    }

    /// The decoded value at `at`, to keep (copied only if it needed decoding).
    pub(crate) fn keep(&self, at: Option<usize>) -> Option<Cow<'r, str>> {
        let i = at?;
        Some(match self {
            Params::Raw(params) if params[i].plain => Cow::Borrowed(params[i].value),
            Params::Raw(params) => decode_component(params[i].value),
            Params::Decoded(params) => params[i].1.clone(),
        })
    }
}

/// Where `a` and `b` first differ (the shorter one's length if one begins the other),
/// found eight bytes at a time.
#[inline]
pub(crate) fn first_difference(a: &[u8], b: &[u8]) -> usize {
    // most parameter names differ in their first byte
    if let (Some(x), Some(y)) = (a.first(), b.first()) {
        if x != y {
            return 0;
        }
    }
    let mut at = 0;
    for (x, y) in a.chunks_exact(8).zip(b.chunks_exact(8)) {
        let diff =
            u64::from_le_bytes(x.try_into().unwrap_or_default()) ^ u64::from_le_bytes(y.try_into().unwrap_or_default());
        if diff != 0 {
            return at + (diff.trailing_zeros() / 8) as usize;
        }
        at += 8;
    }
    at + a[at..].iter().zip(&b[at..]).take_while(|(x, y)| x == y).count()
}

/// Byte order of two texts, from where they first differ. Parameter names are short and
/// share long prefixes (`SignatureMethod`, `SignatureNonce`, ...): a call into `memcmp` per
/// comparison was a seventh of a verification, most of it the call.
#[inline]
pub(crate) fn cmp_text(a: &str, b: &str) -> std::cmp::Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let at = first_difference(a, b);
    match (a.get(at), b.get(at)) {
        (Some(x), Some(y)) => x.cmp(y),
        _ => a.len().cmp(&b.len()),
    }
}

/// Whether `text` holds an ASCII capital, looked for without an early exit: the loop
/// becomes a few vector instructions, where `any` tested and branched on every byte of the
/// usually all-lower-case lists of signed headers.
#[inline]
pub(crate) fn has_ascii_uppercase(text: &str) -> bool {
    text.bytes().fold(false, |found, b| found | b.is_ascii_uppercase())
}

/// A header value as text when it is visible ASCII or tabs: what `HeaderValue::to_str`
/// accepts, checked without a branch per byte (`to_str` stops at the first bad byte, which
/// makes its loop cost a cycle or more per byte of a long `Authorization`).
#[inline]
pub fn header_text(value: &HeaderValue) -> Option<&str> {
    let bytes = value.as_bytes();
    if bytes.len() <= 32 {
        // short: `to_str`'s loop costs less than the call to `from_utf8` below
        return value.to_str().ok();
    }
    let visible = bytes.iter().fold(true, |ok, &b| ok & (matches!(b, 0x20..=0x7e) | (b == b'\t')));
    if visible { std::str::from_utf8(bytes).ok() } else { None }
}

/// `prefix` then `text`, as one shared string made in one allocation (a `String` joined
/// first would be a second one, per request).
pub(crate) fn joined_arc(prefix: &str, text: &str) -> std::sync::Arc<str> {
    let mut buf = [0u8; 128];
    let len = prefix.len() + text.len();
    if len > buf.len() {
        return std::sync::Arc::from([prefix, text].concat());
    }
    buf[..prefix.len()].copy_from_slice(prefix.as_bytes());
    buf[prefix.len()..len].copy_from_slice(text.as_bytes());
    // two whole texts joined are text
    std::sync::Arc::from(std::str::from_utf8(&buf[..len]).unwrap_or_default())
}

/// Whether the request's content type is `application/x-www-form-urlencoded`.
pub fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(header_text)
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"))
}

/// A header's value as text, if present and visible ASCII. Pass a `HeaderName` constant on
/// hot paths: a `&str` name is parsed and validated on every lookup.
pub fn header_str<K: http::header::AsHeaderName>(headers: &HeaderMap, name: K) -> Option<&str> {
    headers.get(name).and_then(header_text)
}

/// What the schemes' tests of the raw-value paths share.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;

    /// Values with every kind of escape: valid, lone `%`, `+`, and escapes of bytes that are
    /// not UTF-8 on their own.
    pub(crate) const ESCAPED_VALUE: &str = "([a-z0-9~*/ :=]|%[0-9A-Fa-f]{2}|%|\\+|é)*";

    /// Values as the SDKs encode them, give or take an escape of an unreserved or non-ASCII
    /// byte.
    pub(crate) const SDK_VALUE: &str =
        "[a-zA-Z0-9~._-]{0,3}(%[0-9A-F]{2}[a-zA-Z0-9~._-]{0,3}|%[2-7][0-9A-Fa-f][a-zA-Z0-9~._-]{0,3}){0,3}";

    /// Either kind of value.
    pub(crate) fn any_value() -> impl proptest::strategy::Strategy<Value = String> {
        proptest::prop_oneof![ESCAPED_VALUE, SDK_VALUE]
    }

    /// The query `name=value&...` of `names` with `values`.
    pub(crate) fn query_of<'n>(names: impl IntoIterator<Item = &'n String>, values: &[String]) -> String {
        let pairs: Vec<String> = names.into_iter().zip(values).map(|(k, v)| format!("{k}={v}")).collect();
        pairs.join("&")
    }

    /// `query`'s pairs as sent and decoded, each sorted by `order`; `None` if the raw path
    /// declines them. (Values that are not UTF-8 once decoded are kept: the writers must
    /// agree on them too, though the verifiers refuse them first.)
    #[allow(clippy::type_complexity)]
    pub(crate) fn raw_and_decoded(
        query: &str,
        order: NameOrder,
    ) -> Option<(Vec<RawParam<'_>>, Vec<(Cow<'_, str>, Cow<'_, str>)>)> {
        let mut raw = raw_params(query, b"", order)?;
        if !sort_distinct(&mut raw, order) {
            return None;
        }
        let mut decoded = query_and_form_params(query, b"");
        decoded.sort_by(|a, b| order.cmp(&a.0, &b.0));
        Some((raw, decoded))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_bytes() {
        let b = SignatureBytes::from_base64("EliP9YW3pW28FpsEdkXt/+WcGeI=").unwrap();
        assert_eq!(b.as_bytes().len(), 20);
        assert!(SignatureBytes::from_base64("not base64!").is_none());
        assert!(SignatureBytes::from_base64(&"A".repeat(200)).is_none());
        // every length up to the 64-byte limit and past it, padded or not: what Base64
        // decodes, while it fits; refused otherwise
        for len in 0..=96 {
            for text in ["A".repeat(len), format!("{}=", "A".repeat(len)), format!("{}==", "A".repeat(len))] {
                let ours = SignatureBytes::from_base64(&text).map(|b| b.as_bytes().to_vec());
                assert_eq!(ours, STANDARD.decode(&text).ok().filter(|d| d.len() <= 64), "{text}");
            }
        }
        assert_eq!(SignatureBytes::from_hex("00ff").unwrap().as_bytes(), [0, 255]);
        assert!(SignatureBytes::from_hex("0").is_none());
        assert!(SignatureBytes::from_hex(&"0".repeat(130)).is_none());
    }

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
        /// `split_ascii` is `str::split` on an ASCII separator.
        #[test]
        fn split_ascii_is_split(text in "[a;,/é \t\r\n]{0,20}") {
            for sep in [b';', b',', b'/'] {
                let ours: Vec<_> = split_ascii(&text, sep).collect();
                let reference: Vec<_> = text.split(char::from(sep)).collect();
                proptest::prop_assert_eq!(ours, reference);
            }
            let words: Vec<_> = ascii_words(&text).collect();
            proptest::prop_assert_eq!(words, text.split_ascii_whitespace().collect::<Vec<_>>());
        }
    }

    proptest::proptest! {
        /// `decode_hex` decodes what the `hex` crate decodes and refuses what it refuses.
        #[test]
        fn decode_hex_is_hex(text in proptest::collection::vec(proptest::sample::select(b"09afAFgG z\xff".to_vec()), 0..12)) {
            let mut ours = vec![0u8; text.len() / 2];
            let mut reference = vec![0u8; text.len() / 2];
            let ours_ok = decode_hex(&text, &mut ours).is_some();
            let reference_ok = hex::decode_to_slice(&text, &mut reference).is_ok();
            proptest::prop_assert_eq!(ours_ok, reference_ok);
            if ours_ok {
                proptest::prop_assert_eq!(ours, reference);
            }
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

    proptest::proptest! {
        /// `raw_params` splits as `form_urlencoded` does: decoding its values gives the
        /// decoded pairs; it declines exactly when a name needs decoding or the body is not text.
        #[test]
        fn raw_params_split_as_form_urlencoded(
            query in "[ab=&%+2Fé]{0,30}",
            body in proptest::collection::vec(proptest::sample::select(b"ab=&%+2F\xff".to_vec()), 0..30),
        ) {
            let reference = query_and_form_params(&query, &body);
            match raw_params(&query, &body, NameOrder::Bytes) {
                Some(raw) => {
                    let decoded: Vec<_> = raw.iter().map(|p| (Cow::Borrowed(p.name), decode_component(p.value))).collect();
                    for p in &raw {
                        proptest::prop_assert_eq!(p.plain, !p.value.contains(['%', '+']));
                    }
                    proptest::prop_assert_eq!(decoded, reference);
                }
                None => {
                    let escaped_name = form_urlencoded::parse(query.as_bytes()).chain(form_urlencoded::parse(&body)).count() > 0
                        && (query.split('&').chain(std::str::from_utf8(&body).unwrap_or("").split('&'))
                            .any(|p| p.split('=').next().unwrap().contains(['%', '+'])));
                    proptest::prop_assert!(escaped_name || std::str::from_utf8(&body).is_err());
                }
            }
        }
    }

    fn any_order() -> impl proptest::strategy::Strategy<Value = NameOrder> {
        proptest::prop_oneof![
            proptest::strategy::Just(NameOrder::Bytes),
            proptest::strategy::Just(NameOrder::UnderscoreAsDot)
        ]
    }

    proptest::proptest! {
        /// Sort keys agree with their order wherever they differ, and equal names have
        /// equal keys, whether a name's sixteen bytes are read at once or copied (near the
        /// end of the text).
        #[test]
        fn sort_keys_agree_with_the_order(
            names in proptest::collection::vec("[ab_.\\x00]{0,18}", 1..6),
            order in any_order(),
        ) {
            let query = names.iter().map(|n| format!("{n}=")).collect::<Vec<_>>().join("&");
            let raw = raw_params(&query, b"", order).expect("no name needs decoding");
            proptest::prop_assert_eq!(raw.len(), names.len());
            for a in &raw {
                for b in &raw {
                    if a.key != b.key {
                        proptest::prop_assert_eq!(a.key.cmp(&b.key), order.cmp(a.name, b.name), "{:?} {:?}", a, b);
                    }
                    if a.name == b.name {
                        proptest::prop_assert_eq!(a.key, b.key);
                    }
                }
            }
        }
    }

    proptest::proptest! {
        /// Parameters come out in the order's order, on the raw path; refused exactly when
        /// two names are equal in it, however many there are and however long they run alike.
        #[test]
        fn params_sort_by_the_order(
            names in proptest::collection::vec("[ab_.]{0,3}|abababababababa[ab_.]{0,3}", 0..40),
            order in any_order(),
        ) {
            let query = names.iter().enumerate().map(|(i, n)| format!("{n}={i}")).collect::<Vec<_>>().join("&");
            let mut expected: Vec<&str> = names.iter().map(String::as_str).collect();
            expected.sort_by(|a, b| order.cmp(a, b));
            let distinct = expected.windows(2).all(|w| order.cmp(w[0], w[1]).is_ne());
            match Params::sorted(&query, b"", order) {
                Ok(Params::Raw(params)) => {
                    proptest::prop_assert!(distinct);
                    let sorted: Vec<&str> = params.iter().map(|p| p.name).collect();
                    proptest::prop_assert_eq!(sorted, expected);
                    for p in &params {
                        // each value still beside its name
                        proptest::prop_assert_eq!(&names[p.value.parse::<usize>().unwrap()], p.name);
                    }
                    let raw = Params::Raw(params.clone());
                    for wanted in names.iter().map(String::as_str).chain(["", "a", "ab", "a_", "a.", "b\0"]) {
                        let expected = params.iter().position(|p| p.name == wanted);
                        let wanted: &'static str = Box::leak(wanted.to_owned().into_boxed_str());
                        proptest::prop_assert_eq!(raw.first_of_each(&[Sought::new(wanted)])[0], expected, "{:?}", wanted);
                    }
                }
                Ok(Params::Decoded(_)) => proptest::prop_assert!(false, "names without escapes are read raw"),
                Err(refused) => {
                    proptest::prop_assert!(!distinct);
                    proptest::prop_assert_eq!(refused, AmbiguousParams::Repeated);
                }
            }
        }
    }

    proptest::proptest! {
        /// A parameter is taken as sent the SDKs' way exactly when encoding its decoded
        /// text per RFC 3986 gives it back and every escape is of an ASCII byte.
        #[test]
        fn canonical_is_rfc3986_of_its_decoded_text(
            name in "[a-zA-Z0-9_~*é]{1,4}",
            value in proptest::prop_oneof!["[a-z0-9~._-]{0,3}(%[2-7][0-9A-Fa-f][a-z0-9]{0,3}){0,3}", "([a-zA-Z0-9~._*/ -]|%[0-9A-Fa-f]{2}|%|\\+|é)*"],
        ) {
            let query = format!("{name}={value}&z");
            let raw = raw_params(&query, b"", NameOrder::Bytes).expect("no name needs decoding");
            let decoded = percent_encoding::percent_decode_str(&value.replace('+', " ")).collect::<Vec<u8>>();
            let reencoded = percent_encoding::percent_encode(&decoded, RFC3986).to_string();
            let expected = rfc3986_encode(&name) == name && decoded.is_ascii() && !value.contains('+') && reencoded == value;
            proptest::prop_assert_eq!(raw[0].canonical, expected, "{:?}", raw[0]);
            proptest::prop_assert!(raw[1].canonical);
        }
    }

    proptest::proptest! {
        /// `first_difference` is where the bytes first differ.
        #[test]
        fn first_difference_is_the_first_unequal_byte(a in "[ab]{0,20}", b in "[ab]{0,20}") {
            let expected = a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count();
            proptest::prop_assert_eq!(first_difference(a.as_bytes(), b.as_bytes()), expected);
        }
    }

    proptest::proptest! {
        /// `find_byte` finds the first `&`.
        #[test]
        fn find_byte_finds_the_first(bytes in proptest::collection::vec(proptest::sample::select(b"a&\x00\x27\x25\xff\x80".to_vec()), 0..40)) {
            let expected = bytes.iter().take_while(|&&b| b != b'&').count();
            proptest::prop_assert_eq!(find_byte(&bytes, b'&'), expected);
        }
    }

    proptest::proptest! {
        /// The eight-at-a-time comparison is byte order.
        #[test]
        fn cmp_text_is_byte_order(a in "[a-cAZ@\\[\\x00é]{0,20}", b in "[a-cAZ@\\[\\x00é]{0,20}") {
            proptest::prop_assert_eq!(cmp_text(&a, &b), a.as_bytes().cmp(b.as_bytes()));
            proptest::prop_assert_eq!(cmp_text(&a, &a), std::cmp::Ordering::Equal);
            proptest::prop_assert_eq!(has_ascii_uppercase(&a), a.bytes().any(|b| b.is_ascii_uppercase()));
        }
    }

    proptest::proptest! {
        /// `header_text` accepts exactly what `HeaderValue::to_str` accepts.
        #[test]
        fn header_text_is_to_str(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..80)) {
            if let Ok(value) = HeaderValue::from_bytes(&bytes) {
                proptest::prop_assert_eq!(header_text(&value), value.to_str().ok());
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

    #[test]
    fn hmac_round_trip_through_cached_key_schedules() {
        use crate::secret::{KeyForm, Secret};
        let secret = Secret::from("key");
        for alg in [HmacAlg::Sha1, HmacAlg::Sha256] {
            let mac = hmac(alg, b"key", b"data");
            for _ in 0..2 {
                // the second pass reads the cached key schedule
                assert!(secret.verify_hmac(alg, KeyForm::Plain, b"data", &mac));
                assert!(!secret.verify_hmac(alg, KeyForm::Plain, b"datA", &mac));
                assert!(!secret.verify_hmac(alg, KeyForm::Plain, b"data", &mac[..mac.len() - 1]));
            }
            let amp = hmac(alg, b"key&", b"data");
            assert!(secret.verify_hmac(alg, KeyForm::Ampersand, b"data", &amp));
            assert!(!secret.verify_hmac(alg, KeyForm::Plain, b"data", &amp));
        }
    }
}
