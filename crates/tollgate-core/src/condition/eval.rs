//! Evaluation of a compiled [`Expr`] against a [`RequestView`]. Allocation-free except
//! where a query or form value must be percent-decoded.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::net::IpAddr;

use super::ast::{Expr, Operand, Scalar, ScalarKind, Test};
use super::number::Decimal;
use super::request::RequestView;

/// An operand's value in one request.
enum Value<'r> {
    Text(Cow<'r, str>),
    Ip(IpAddr),
    Number(f64),
}

impl Expr {
    /// Whether the expression holds for `request`; `random` gives each `Random()` its draw.
    pub(super) fn eval(&self, request: &RequestView<'_>, random: &dyn Fn() -> f64) -> bool {
        match self {
            Expr::Bool(b) => *b,
            Expr::Not(inner) => !inner.eval(request, random),
            Expr::And(items) => items.iter().all(|e| e.eval(request, random)),
            Expr::Or(items) => items.iter().any(|e| e.eval(request, random)),
            Expr::Exists(operand) => value(operand, request, random).is_some(),
            Expr::Compare(operand, test) => match value(operand, request, random) {
                None => matches!(test, Test::Ne(_) | Test::NotIn(_)),
                Some(Value::Text(text)) => text_test(&text, test, operand.folds_case()),
                Some(Value::Ip(ip)) => ip_test(ip, test),
                Some(Value::Number(x)) => number_test(x, test),
            },
        }
    }
}

/// The operand's value in `request`, `None` when the request lacks it.
fn value<'r>(operand: &Operand, request: &RequestView<'r>, random: &dyn Fn() -> f64) -> Option<Value<'r>> {
    let text = match operand {
        Operand::Header(name) => request.headers.get(name).and_then(|v| std::str::from_utf8(v.as_bytes()).ok()),
        Operand::Query(name) => return find_urlencoded(request.query?.as_bytes(), name).map(Value::Text),
        Operand::Form(name) => return find_urlencoded(request.form?, name).map(Value::Text),
        Operand::PathParam(name) => request.path_params?.get(name),
        Operand::Method => Some(request.method),
        Operand::Path => Some(request.path),
        Operand::Host => request.host,
        Operand::Caller => request.caller,
        Operand::Scheme => Some(request.scheme()),
        Operand::UserAgent => request.user_agent(),
        Operand::ClientIp => return request.client_ip.map(Value::Ip),
        Operand::Random => return Some(Value::Number(random())),
    };
    text.map(|t| Value::Text(Cow::Borrowed(t)))
}

fn text_test(value: &str, test: &Test, fold: bool) -> bool {
    match test {
        Test::Eq(s) => text_eq(value, s, fold),
        Test::Ne(s) => !text_eq(value, s, fold),
        Test::In(list) => list.iter().any(|s| text_eq(value, s, fold)),
        Test::NotIn(list) => !list.iter().any(|s| text_eq(value, s, fold)),
        Test::Order(order, s) => match (Decimal::parse(value), s.decimal()) {
            (Some(v), Some(l)) => order.holds(v.cmp(&l)),
            _ => false,
        },
        Test::Match(pattern) => pattern.0.is_match(value),
        Test::Contains(s) if fold => contains_ignore_case(value, &s.text),
        Test::Contains(s) => value.contains(s.text.as_str()),
    }
}

/// `==` on text: as numbers when both read as numbers, else as text (ignoring ASCII case
/// for booleans and for operands that fold case).
fn text_eq(value: &str, literal: &Scalar, fold: bool) -> bool {
    if let (Some(v), Some(l)) = (Decimal::parse(value), literal.decimal()) {
        return v == l;
    }
    if fold || literal.kind == ScalarKind::Bool {
        value.eq_ignore_ascii_case(&literal.text)
    } else {
        value == literal.text
    }
}

fn contains_ignore_case(haystack: &str, needle: &str) -> bool {
    let (h, n) = (haystack.as_bytes(), needle.as_bytes());
    n.is_empty() || h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n))
}

fn ip_test(ip: IpAddr, test: &Test) -> bool {
    let in_net = |s: &Scalar| s.net.is_some_and(|n| n.contains(&ip));
    match test {
        Test::Eq(s) => in_net(s),
        Test::Ne(s) => !in_net(s),
        Test::In(list) => list.iter().any(in_net),
        Test::NotIn(list) => !list.iter().any(in_net),
        Test::Order(..) => false,
        Test::Match(_) | Test::Contains(_) => {
            let mut text = IpText::default();
            // an IP address always fits; write! only fails past the buffer
            let _ = write!(text, "{ip}");
            text_test(text.as_str(), test, false)
        }
    }
}

fn number_test(x: f64, test: &Test) -> bool {
    let eq = |s: &Scalar| s.float == Some(x);
    match test {
        Test::Eq(s) => eq(s),
        Test::Ne(s) => !eq(s),
        Test::In(list) => list.iter().any(eq),
        Test::NotIn(list) => !list.iter().any(eq),
        Test::Order(order, s) => s.float.and_then(|l| x.partial_cmp(&l)).is_some_and(|o| order.holds(o)),
        Test::Match(_) | Test::Contains(_) => false,
    }
}

/// An IP address's text on the stack (the longest is 45 bytes).
struct IpText {
    buf: [u8; 48],
    len: usize,
}

impl Default for IpText {
    fn default() -> Self {
        Self { buf: [0; 48], len: 0 }
    }
}

impl IpText {
    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or_default()
    }
}

impl std::fmt::Write for IpText {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        self.buf.get_mut(self.len..end).ok_or(std::fmt::Error)?.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// The first value of `name` in an `application/x-www-form-urlencoded` string (a query or a
/// form body), decoded as [`crate::parse_urlencoded`] decodes it. Keys are compared without
/// decoding them into a buffer; the value is borrowed unless it holds `%` or `+`.
fn find_urlencoded<'a>(input: &'a [u8], name: &str) -> Option<Cow<'a, str>> {
    input.split(|&b| b == b'&').filter(|pair| !pair.is_empty()).find_map(|pair| {
        let (key, value) = match pair.iter().position(|&b| b == b'=') {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, &[][..]),
        };
        decoded(key).eq(name.bytes()).then(|| decode(value))
    })
}

/// The bytes of a urlencoded component after decoding: `+` is a space, `%XX` is a byte, a
/// `%` not followed by two hex digits stays as written.
fn decoded(raw: &[u8]) -> impl Iterator<Item = u8> + '_ {
    let mut i = 0;
    std::iter::from_fn(move || {
        let b = *raw.get(i)?;
        i += 1;
        Some(match b {
            b'+' => b' ',
            b'%' => match (raw.get(i).and_then(hex), raw.get(i + 1).and_then(hex)) {
                (Some(hi), Some(lo)) => {
                    i += 2;
                    hi << 4 | lo
                }
                _ => b'%',
            },
            b => b,
        })
    })
}

fn hex(b: &u8) -> Option<u8> {
    (*b as char).to_digit(16).map(|d| d as u8)
}

/// A urlencoded value, decoded; invalid UTF-8 is replaced as `form_urlencoded` does.
fn decode(raw: &[u8]) -> Cow<'_, str> {
    if raw.iter().any(|&b| b == b'%' || b == b'+') {
        Cow::Owned(String::from_utf8_lossy(&decoded(raw).collect::<Vec<u8>>()).into_owned())
    } else {
        String::from_utf8_lossy(raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urlencoded_agrees_with_form_urlencoded() {
        let inputs: [&[u8]; 6] =
            [b"a=1&b=%E4%BD%A0+%2B&a=2", b"%61=x&a=y", b"a+b=1&a%20b=2", b"x=%zz%4&&=&a", b"a=%FF%FE", b"q=a=b"];
        for input in inputs {
            for name in ["a", "b", "a b", "x", "", "q", "nope"] {
                let want = crate::parse_urlencoded(input).find(|(k, _)| k == name).map(|(_, v)| v);
                assert_eq!(find_urlencoded(input, name), want, "{:?} {name}", String::from_utf8_lossy(input));
            }
        }
        assert!(matches!(find_urlencoded(b"a=plain", "a"), Some(Cow::Borrowed("plain"))));
    }

    #[test]
    fn ip_text_fits_the_longest_address() {
        let ip: IpAddr = "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255".parse().unwrap();
        let mut text = IpText::default();
        write!(text, "{ip}").unwrap();
        assert_eq!(text.as_str(), ip.to_string());
    }
}
