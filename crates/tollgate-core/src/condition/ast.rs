//! The compiled form of a condition: operands, tests with their literals compiled (numbers
//! read, regular expressions and networks built), and the boolean structure over them.

use std::cmp::Ordering;

use http::HeaderName;
use ipnet::IpNet;
use regex::Regex;

use super::aliyun::{AliyunLocation, LikePattern};
use super::number::Decimal;
use crate::SystemParam;

/// A condition's syntax tree, as built by the parser. `And` and `Or` hold two or more
/// children, none of them of the same kind (the parser flattens `a && (b && c)`).
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Expr {
    /// `true` / `false`.
    Bool(bool),
    /// `!x`.
    Not(Box<Expr>),
    /// `a && b && ...`.
    And(Vec<Expr>),
    /// `a || b || ...`.
    Or(Vec<Expr>),
    /// `exists(x)`.
    Exists(Operand),
    /// `x OP literal` (and `regex(x, "p")`, which is `x ~= "p"`).
    Compare(Operand, Test),
    /// `x OP y`: two operands (Aliyun's `$userId = $pathUserId`).
    Pair(Operand, PairOp, Operand),
}

/// The operator between two operands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PairOp {
    /// `=`.
    Eq,
    /// `!=`, `<>`.
    Ne,
    /// `<`, `<=`, `>`, `>=`: as numbers when both are, else as text.
    Order(Order),
}

impl Expr {
    /// `a && b`, flattening nested conjunctions; one item is itself.
    pub(super) fn and(items: Vec<Expr>) -> Expr {
        Self::join(items, |e| matches!(e, Expr::And(_)), Expr::And)
    }

    /// `a || b`, flattening nested disjunctions; one item is itself.
    pub(super) fn or(items: Vec<Expr>) -> Expr {
        Self::join(items, |e| matches!(e, Expr::Or(_)), Expr::Or)
    }

    fn join(items: Vec<Expr>, same: fn(&Expr) -> bool, make: fn(Vec<Expr>) -> Expr) -> Expr {
        if items.len() == 1 {
            return items.into_iter().next().unwrap_or(Expr::Bool(true));
        }
        let mut flat = Vec::with_capacity(items.len());
        for item in items {
            if same(&item) {
                if let Expr::And(inner) | Expr::Or(inner) = item {
                    flat.extend(inner);
                }
            } else {
                flat.push(item);
            }
        }
        make(flat)
    }

    /// Whether any operand anywhere satisfies `pred`.
    pub(super) fn any_operand(&self, pred: &dyn Fn(&Operand) -> bool) -> bool {
        match self {
            Expr::Bool(_) => false,
            Expr::Not(inner) => inner.any_operand(pred),
            Expr::And(items) | Expr::Or(items) => items.iter().any(|e| e.any_operand(pred)),
            Expr::Exists(op) | Expr::Compare(op, _) => pred(op),
            Expr::Pair(a, _, b) => pred(a) || pred(b),
        }
    }
}

/// What a condition reads from the request.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Operand {
    /// `header.NAME` (stored lowercase; first value; UTF-8 only).
    Header(HeaderName),
    /// `query.NAME` (first value, decoded).
    Query(String),
    /// `path.NAME`: a path-template parameter.
    PathParam(String),
    /// `form.NAME` (first value, decoded).
    Form(String),
    /// `method`.
    Method,
    /// `path`: the whole path.
    Path,
    /// `host`: Host header or URI authority, without the port.
    Host,
    /// `client_ip` / `sysparam.clientIp`.
    ClientIp,
    /// `caller`: the key id of the authenticated caller.
    Caller,
    /// `sysparam.httpScheme`: `HTTP` or `HTTPS`.
    Scheme,
    /// `sysparam.clientUa`: the User-Agent header.
    UserAgent,
    /// `Random()`: a fresh number in [0, 1) at each evaluation.
    Random,
    /// `$name`: an Aliyun parameter, read where its declaration says.
    Var(Var),
}

/// An Aliyun parameter as a condition reads it: its name, and where its value is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Var {
    /// The name written after `$` (declared, or a system parameter's).
    pub(super) name: Box<str>,
    /// Where the value comes from.
    pub(super) location: AliyunLocation,
}

impl Operand {
    /// Whether equality and containment ignore ASCII case (host names and schemes).
    pub(super) fn folds_case(&self) -> bool {
        match self {
            Operand::Host | Operand::Scheme => true,
            Operand::Var(v) => matches!(v.location, AliyunLocation::System(SystemParam::Host | SystemParam::Scheme)),
            _ => false,
        }
    }
}

/// The test applied to an operand's value, with its literal compiled.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Test {
    /// `==` (and `=`).
    Eq(Scalar),
    /// `!=`.
    Ne(Scalar),
    /// `>`, `>=`, `<`, `<=` against a number.
    Order(Order, Scalar),
    /// `~=` (and `regex(x, "p")`).
    Match(Pattern),
    /// `in [...]`.
    In(Vec<Scalar>),
    /// `!in [...]`.
    NotIn(Vec<Scalar>),
    /// `contains`.
    Contains(Scalar),
    /// Aliyun's `<`, `<=`, `>`, `>=`: as numbers when both sides are numbers, else as text
    /// (`$ClientVersion < '2.0.5'`).
    Collate(Order, Scalar),
    /// Aliyun's `like '%x_'`.
    Like(LikePattern),
    /// Aliyun's `in_cidr '10.0.0.0/8'` (the scalar's `net` is set).
    InCidr(Scalar),
}

/// An ordering operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Order {
    /// `>`.
    Gt,
    /// `>=`.
    Ge,
    /// `<`.
    Lt,
    /// `<=`.
    Le,
}

impl Order {
    /// Whether `value OP literal` holds, given how value compares to literal.
    pub(super) fn holds(self, ord: Ordering) -> bool {
        match self {
            Order::Gt => ord == Ordering::Greater,
            Order::Ge => ord != Ordering::Less,
            Order::Lt => ord == Ordering::Less,
            Order::Le => ord != Ordering::Greater,
        }
    }

    /// The operator with its sides swapped (`1 < x` is `x > 1`).
    pub(super) fn mirror(self) -> Self {
        match self {
            Order::Gt => Order::Lt,
            Order::Ge => Order::Le,
            Order::Lt => Order::Gt,
            Order::Le => Order::Ge,
        }
    }

    /// The operator as written.
    pub(super) fn symbol(self) -> &'static str {
        match self {
            Order::Gt => ">",
            Order::Ge => ">=",
            Order::Lt => "<",
            Order::Le => "<=",
        }
    }
}

/// How a scalar literal was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ScalarKind {
    /// A quoted string.
    Str,
    /// A number.
    Num,
    /// `true` / `false` (text stored lowercase).
    Bool,
}

/// A literal value, with what it reads as precomputed.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Scalar {
    /// How it was written.
    pub(super) kind: ScalarKind,
    /// Its text (a string unescaped; a number as written; `true` / `false`).
    pub(super) text: String,
    /// Its value as a float, when the text is a number (for `Random()`).
    pub(super) float: Option<f64>,
    /// The network it names, when compared with `client_ip`.
    pub(super) net: Option<IpNet>,
}

impl Scalar {
    /// A scalar of `kind` with text `text`.
    pub(super) fn new(kind: ScalarKind, text: String) -> Self {
        let float = match kind {
            ScalarKind::Bool => None,
            _ => Decimal::parse(&text).and_then(|_| text.parse::<f64>().ok()),
        };
        Self { kind, text, float, net: None }
    }

    /// The text read as an exact decimal, when it is a number.
    pub(super) fn decimal(&self) -> Option<Decimal<'_>> {
        match self.kind {
            ScalarKind::Bool => None,
            _ => Decimal::parse(&self.text),
        }
    }
}

/// A regular expression compiled at build time; equal when written the same.
#[derive(Debug, Clone)]
pub(super) struct Pattern(pub(super) Regex);

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_str() == other.0.as_str()
    }
}
