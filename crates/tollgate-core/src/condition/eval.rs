//! Evaluation of a compiled [`Expr`] against a [`RequestView`]. Allocation-free except
//! where a query or form value or the path must be read as a backend reads it.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::net::IpAddr;

use super::aliyun::{Variables, collate};
use super::ast::{Expr, Operand, PairOp, Scalar, ScalarKind, Test};
use super::lenient;
use super::number::Decimal;
use super::request::RequestView;
use crate::param::{ParamError, normalize_path};

/// An operand's value in one request.
enum Value<'r> {
    Text(Cow<'r, str>),
    Ip(IpAddr),
    Number(f64),
}

impl Expr {
    /// Whether the expression holds for `request`; `random` gives each `Random()` its draw.
    /// An operand the request gives in two readings (a repeated query name or header, a
    /// malformed escape, a path that cannot be normalised) is an error, not a guess: a
    /// backend may read the other one.
    /// `vars` gives Aliyun's `$name`s their values.
    pub(super) fn eval(
        &self,
        request: &RequestView<'_>,
        vars: &dyn Variables,
        random: &dyn Fn() -> f64,
    ) -> Result<bool, ParamError> {
        Ok(match self {
            Expr::Bool(b) => *b,
            Expr::Not(inner) => !inner.eval(request, vars, random)?,
            Expr::And(items) => {
                for item in items {
                    if !item.eval(request, vars, random)? {
                        return Ok(false);
                    }
                }
                true
            }
            Expr::Or(items) => {
                for item in items {
                    if item.eval(request, vars, random)? {
                        return Ok(true);
                    }
                }
                false
            }
            Expr::Exists(operand) => value(operand, request, vars, random)?.is_some(),
            Expr::Pair(a, op, b) => {
                let fold = a.folds_case() || b.folds_case();
                match (value(a, request, vars, random)?, value(b, request, vars, random)?) {
                    (Some(x), Some(y)) => pair_holds(*op, &x.text(), &y.text(), fold),
                    _ => *op == PairOp::Ne,
                }
            }
            Expr::Compare(operand, test) => match value(operand, request, vars, random)? {
                None => matches!(test, Test::Ne(_) | Test::NotIn(_)),
                Some(Value::Text(text)) => text_test(&text, test, operand.folds_case()),
                Some(Value::Ip(ip)) => ip_test(ip, test),
                Some(Value::Number(x)) => number_test(x, test),
            },
        })
    }
}

/// The operand's value in `request`, `None` when the request lacks it; an error when it has
/// two readings. Query and form values are decoded as a backend decodes them, the path is
/// read as a backend routes it ([`normalize_path`]).
fn value<'v>(
    operand: &Operand,
    request: &'v RequestView<'_>,
    vars: &'v dyn Variables,
    random: &dyn Fn() -> f64,
) -> Result<Option<Value<'v>>, ParamError> {
    let text = match operand {
        Operand::Var(var) => return Ok(vars.value(&var.location)?.map(Value::Text)),
        Operand::Header(name) => lenient::header(request.headers, name)?,
        Operand::Query(name) => {
            let Some(query) = request.query else { return Ok(None) };
            return Ok(lenient::pair(query.as_bytes(), name, "query")?.map(Value::Text));
        }
        Operand::Form(name) => {
            let Some(form) = request.form else { return Ok(None) };
            return Ok(lenient::pair(form, name, "form")?.map(Value::Text));
        }
        Operand::PathParam(name) => request.path_params.and_then(|p| p.get(name)),
        Operand::Method => Some(request.method),
        Operand::Path => return Ok(Some(Value::Text(normalize_path(request.path)?))),
        Operand::Host => request.host,
        Operand::Caller => request.caller,
        Operand::Scheme => Some(request.scheme()),
        Operand::UserAgent => request.user_agent()?,
        Operand::ClientIp => return Ok(request.client_ip.map(Value::Ip)),
        Operand::Random => return Ok(Some(Value::Number(random()))),
    };
    Ok(text.map(|t| Value::Text(Cow::Borrowed(t))))
}

impl Value<'_> {
    /// The value as text (an address or a number as written).
    fn text(&self) -> Cow<'_, str> {
        match self {
            Value::Text(t) => Cow::Borrowed(t),
            Value::Ip(ip) => Cow::Owned(ip.to_string()),
            Value::Number(x) => Cow::Owned(x.to_string()),
        }
    }
}

/// `a op b` for two values, Aliyun's meaning: as numbers when both are, else as text.
fn pair_holds(op: PairOp, a: &str, b: &str, fold: bool) -> bool {
    let ord = if fold && (Decimal::parse(a).is_none() || Decimal::parse(b).is_none()) {
        a.to_ascii_lowercase().cmp(&b.to_ascii_lowercase())
    } else {
        collate(a, b)
    };
    match op {
        PairOp::Eq => ord.is_eq(),
        PairOp::Ne => ord.is_ne(),
        PairOp::Order(o) => o.holds(ord),
    }
}

fn text_test(value: &str, test: &Test, fold: bool) -> bool {
    match test {
        Test::Collate(order, s) => {
            let ord = match (Decimal::parse(value), s.decimal()) {
                (Some(v), Some(l)) => v.cmp(&l),
                _ if fold => value.to_ascii_lowercase().cmp(&s.text.to_ascii_lowercase()),
                _ => value.cmp(s.text.as_str()),
            };
            order.holds(ord)
        }
        Test::Like(pattern) => pattern.matches(value),
        Test::InCidr(s) => {
            value.trim().parse::<IpAddr>().is_ok_and(|ip| s.net.is_some_and(|n| n.contains(&ip.to_canonical())))
        }
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
        Test::InCidr(s) => in_net(s),
        Test::Match(_) | Test::Contains(_) | Test::Collate(..) | Test::Like(_) => {
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
        Test::Match(_) | Test::Contains(_) | Test::Collate(..) | Test::Like(_) | Test::InCidr(_) => false,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_text_fits_the_longest_address() {
        let ip: IpAddr = "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255".parse().unwrap();
        let mut text = IpText::default();
        write!(text, "{ip}").unwrap();
        assert_eq!(text.as_str(), ip.to_string());
    }
}
