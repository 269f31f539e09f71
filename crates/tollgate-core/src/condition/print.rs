//! The canonical text of a condition: `==`, `&&`, `||`, `!`, double-quoted strings, and
//! parentheses wherever precedence would otherwise have to be remembered.

use std::fmt::{self, Write as _};

use super::ast::{Expr, Operand, PairOp, Scalar, ScalarKind, Test};

/// Where an expression is printed, which decides whether it needs parentheses.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Context {
    Top,
    InOr,
    InAnd,
    InNot,
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_expr(f, self, Context::Top)
    }
}

fn write_expr(f: &mut fmt::Formatter<'_>, expr: &Expr, ctx: Context) -> fmt::Result {
    match expr {
        Expr::Bool(b) => write!(f, "{b}"),
        // Aliyun's dialect has no exists(): `$x != null`
        Expr::Exists(operand @ Operand::Var(_)) if ctx == Context::InNot => write!(f, "({operand} != null)"),
        Expr::Exists(operand @ Operand::Var(_)) => write!(f, "{operand} != null"),
        Expr::Exists(operand) => write!(f, "exists({operand})"),
        Expr::Pair(a, op, b) => {
            let symbol = match op {
                PairOp::Eq => "==",
                PairOp::Ne => "!=",
                PairOp::Order(order) => order.symbol(),
            };
            if ctx == Context::InNot { write!(f, "({a} {symbol} {b})") } else { write!(f, "{a} {symbol} {b}") }
        }
        Expr::Not(inner) => {
            f.write_char('!')?;
            write_expr(f, inner, Context::InNot)
        }
        Expr::Compare(operand, test) => {
            let parens = ctx == Context::InNot;
            if parens {
                f.write_char('(')?;
            }
            write!(f, "{operand} ")?;
            write_test(f, test)?;
            if parens {
                f.write_char(')')?;
            }
            Ok(())
        }
        Expr::And(items) => write_list(f, items, " && ", Context::InAnd, matches!(ctx, Context::InOr | Context::InNot)),
        Expr::Or(items) => write_list(f, items, " || ", Context::InOr, ctx != Context::Top),
    }
}

fn write_list(f: &mut fmt::Formatter<'_>, items: &[Expr], sep: &str, ctx: Context, parens: bool) -> fmt::Result {
    if parens {
        f.write_char('(')?;
    }
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(sep)?;
        }
        write_expr(f, item, ctx)?;
    }
    if parens {
        f.write_char(')')?;
    }
    Ok(())
}

fn write_test(f: &mut fmt::Formatter<'_>, test: &Test) -> fmt::Result {
    match test {
        Test::Eq(s) => write!(f, "== {s}"),
        Test::Ne(s) => write!(f, "!= {s}"),
        Test::Order(order, s) => write!(f, "{} {s}", order.symbol()),
        Test::Match(pattern) => {
            f.write_str("~= ")?;
            write_string(f, pattern.0.as_str())
        }
        Test::In(list) => write!(f, "in {}", List(list)),
        Test::NotIn(list) => write!(f, "!in {}", List(list)),
        Test::Contains(s) => write!(f, "contains {s}"),
        Test::Collate(order, s) => write!(f, "{} {s}", order.symbol()),
        Test::Like(pattern) => {
            f.write_str("like ")?;
            write_string(f, pattern.source())
        }
        Test::InCidr(s) => write!(f, "in_cidr {s}"),
    }
}

struct List<'a>(&'a [Scalar]);

impl fmt::Display for List<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_char('[')?;
        for (i, s) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{s}")?;
        }
        f.write_char(']')
    }
}

impl fmt::Display for Scalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            ScalarKind::Str => write_string(f, &self.text),
            ScalarKind::Num | ScalarKind::Bool => f.write_str(&self.text),
        }
    }
}

/// A double-quoted string that reads back as `text`.
fn write_string(f: &mut fmt::Formatter<'_>, text: &str) -> fmt::Result {
    f.write_char('"')?;
    for c in text.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\t' => f.write_str("\\t")?,
            c => f.write_char(c)?,
        }
    }
    f.write_char('"')
}

impl fmt::Display for Operand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Operand::Header(name) => write!(f, "header.{name}"),
            Operand::Query(name) => write!(f, "query.{name}"),
            Operand::PathParam(name) => write!(f, "path.{name}"),
            Operand::Form(name) => write!(f, "form.{name}"),
            Operand::Method => f.write_str("method"),
            Operand::Path => f.write_str("path"),
            Operand::Host => f.write_str("host"),
            Operand::ClientIp => f.write_str("client_ip"),
            Operand::Caller => f.write_str("caller"),
            Operand::Scheme => f.write_str("sysparam.httpScheme"),
            Operand::UserAgent => f.write_str("sysparam.clientUa"),
            Operand::Random => f.write_str("Random()"),
            Operand::Var(var) => write!(f, "${}", var.name),
        }
    }
}
