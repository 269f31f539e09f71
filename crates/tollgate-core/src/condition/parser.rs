//! The parser: tokens to a compiled [`Expr`], with every literal checked against its
//! operator and operand, regular expressions and networks built, and nesting bounded.

use std::borrow::Cow;

use http::HeaderName;

use super::aliyun::{AliyunParameters, LikePattern, collate};
use super::ast::{Expr, Operand, Order, PairOp, Pattern, Scalar, ScalarKind, Test, Var};
use super::error::ConditionError;
use super::lexer::{Lexer, Symbol, Tok, Token};
use crate::parse_network;

/// How deeply parentheses and negations may nest. A negation of a parenthesis (`!(…)`) is
/// one level: the canonical text writes every negated comparison so, and a condition must
/// still parse once printed.
pub(super) const MAX_DEPTH: usize = 64;

const OPERANDS: &str = "an operand (header.NAME, query.NAME, path.NAME, form.NAME, path, method, host, client_ip, \
                        caller, sysparam.clientIp, sysparam.httpScheme, sysparam.clientUa or Random())";
const OPERATORS: &str = "a comparison operator (==, !=, >, >=, <, <=, ~=, in, !in, contains)";
const VALUE: &str = "a value (string, number, boolean or list)";

/// Parses and builds a whole expression.
pub(super) fn parse(src: &str) -> Result<Expr, ConditionError> {
    parse_in(src, None)
}

/// Parses and builds a whole expression of Aliyun's dialect, its `$name`s read in `params`.
pub(super) fn parse_aliyun(src: &str, params: &AliyunParameters) -> Result<Expr, ConditionError> {
    parse_in(src, Some(params))
}

fn parse_in<'s>(src: &'s str, params: Option<&'s AliyunParameters>) -> Result<Expr, ConditionError> {
    let mut parser = Parser::new(src, params)?;
    if parser.tok.tok == Tok::End {
        return Err(parser.error("an expression"));
    }
    let expr = parser.or()?;
    if parser.tok.tok != Tok::End {
        return Err(parser.error("&&, || or the end of the expression"));
    }
    Ok(expr)
}

/// An operator as the parser sees it, before it is checked against its literal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Order(Order),
    Match,
    In,
    NotIn,
    Contains,
}

/// A literal as written, with the spans needed to report errors on it.
enum Literal<'s> {
    Scalar(Scalar, Span<'s>),
    List(Vec<(Scalar, Span<'s>)>, Span<'s>),
}

/// Where a piece of text is, and what it is.
#[derive(Clone, Copy)]
struct Span<'s> {
    start: usize,
    text: &'s str,
}

impl Span<'_> {
    fn error(self, expected: impl Into<Cow<'static, str>>) -> ConditionError {
        ConditionError::new(self.start, expected, Some(self.text))
    }
}

struct Parser<'s> {
    src: &'s str,
    lexer: Lexer<'s>,
    tok: Token<'s>,
    depth: usize,
    /// Aliyun's dialect, with the `parameters` its `$name`s name; `None` for ours and Tencent's.
    params: Option<&'s AliyunParameters>,
}

fn is_word(tok: &Tok<'_>, word: &str) -> bool {
    matches!(tok, Tok::Word(w) if w.eq_ignore_ascii_case(word))
}

impl<'s> Parser<'s> {
    fn new(src: &'s str, params: Option<&'s AliyunParameters>) -> Result<Self, ConditionError> {
        let mut lexer = Lexer::new(src);
        let tok = lexer.next_token()?;
        Ok(Self { src, lexer, tok, depth: 0, params })
    }

    /// Moves to the next token, returning the current one.
    fn advance(&mut self) -> Result<Token<'s>, ConditionError> {
        let next = self.lexer.next_token()?;
        Ok(std::mem::replace(&mut self.tok, next))
    }

    /// The current token's span.
    fn span(&self) -> Span<'s> {
        Span { start: self.tok.start, text: &self.src[self.tok.start..self.tok.end] }
    }

    /// "expected `expected`, found" the current token.
    fn error(&self, expected: impl Into<Cow<'static, str>>) -> ConditionError {
        match self.tok.tok {
            Tok::End => ConditionError::new(self.tok.start, expected, None),
            _ => self.span().error(expected),
        }
    }

    /// Consumes `want`, or fails expecting `expected`.
    fn expect(&mut self, want: &Tok<'_>, expected: &'static str) -> Result<(), ConditionError> {
        if &self.tok.tok == want {
            self.advance()?;
            Ok(())
        } else {
            Err(self.error(expected))
        }
    }

    /// Enters one more level of nesting.
    fn descend(&mut self) -> Result<(), ConditionError> {
        if self.depth >= MAX_DEPTH {
            return Err(self.error(format!("at most {MAX_DEPTH} levels of nested parentheses and negations")));
        }
        self.depth += 1;
        Ok(())
    }

    fn or(&mut self) -> Result<Expr, ConditionError> {
        let mut items = vec![self.and()?];
        while self.tok.tok == Tok::OrOr || is_word(&self.tok.tok, "or") {
            self.advance()?;
            items.push(self.and()?);
        }
        Ok(Expr::or(items))
    }

    fn and(&mut self) -> Result<Expr, ConditionError> {
        let mut items = vec![self.not()?];
        while self.tok.tok == Tok::AndAnd || is_word(&self.tok.tok, "and") {
            self.advance()?;
            items.push(self.not()?);
        }
        Ok(Expr::and(items))
    }

    fn not(&mut self) -> Result<Expr, ConditionError> {
        if self.tok.tok == Tok::Bang || is_word(&self.tok.tok, "not") {
            self.descend()?;
            self.advance()?;
            let inner = if self.tok.tok == Tok::LParen { self.parenthesized()? } else { self.not()? };
            self.depth -= 1;
            Ok(Expr::Not(Box::new(inner)))
        } else {
            self.atom()
        }
    }

    /// `(…)`, its level already counted.
    fn parenthesized(&mut self) -> Result<Expr, ConditionError> {
        self.advance()?;
        let inner = self.or()?;
        self.expect(&Tok::RParen, "&&, || or \")\"")?;
        Ok(inner)
    }

    fn atom(&mut self) -> Result<Expr, ConditionError> {
        match &self.tok.tok {
            Tok::LParen => {
                self.descend()?;
                let inner = self.parenthesized()?;
                self.depth -= 1;
                Ok(inner)
            }
            Tok::Word(w) if w.eq_ignore_ascii_case("true") || w.eq_ignore_ascii_case("false") => {
                let value = w.eq_ignore_ascii_case("true");
                self.advance()?;
                Ok(Expr::Bool(value))
            }
            _ if self.params.is_some() => self.aliyun_comparison(),
            Tok::Word(w) if w.eq_ignore_ascii_case("exists") => {
                self.advance()?;
                self.expect(&Tok::LParen, "\"(\" after exists")?;
                let at = self.span();
                let operand = self.operand()?;
                if operand == Operand::Random {
                    return Err(at.error("a request parameter (Random() is always there)"));
                }
                self.expect(&Tok::RParen, "\")\"")?;
                Ok(Expr::Exists(operand))
            }
            Tok::Word(w) if w.eq_ignore_ascii_case("regex") => {
                self.advance()?;
                self.expect(&Tok::LParen, "\"(\" after regex")?;
                let at = self.span();
                let operand = self.operand()?;
                if operand == Operand::Random {
                    return Err(at.error("a request parameter (Random() is a number)"));
                }
                self.expect(&Tok::Comma, "\",\" and a pattern")?;
                let Tok::Str(pattern) = &self.tok.tok else {
                    return Err(self.error("a string (a regular expression)"));
                };
                let pattern = compile(pattern, self.span())?;
                self.advance()?;
                self.expect(&Tok::RParen, "\")\"")?;
                Ok(Expr::Compare(operand, Test::Match(pattern)))
            }
            Tok::Word(_) => self.comparison(),
            _ => Err(self.error("an operand")),
        }
    }

    fn comparison(&mut self) -> Result<Expr, ConditionError> {
        let operand = self.operand()?;
        let op_span = self.span();
        let op = match &self.tok.tok {
            Tok::Op(Symbol::Eq) => Op::Eq,
            Tok::Op(Symbol::Ne) => Op::Ne,
            Tok::Op(Symbol::Gt) => Op::Order(Order::Gt),
            Tok::Op(Symbol::Ge) => Op::Order(Order::Ge),
            Tok::Op(Symbol::Lt) => Op::Order(Order::Lt),
            Tok::Op(Symbol::Le) => Op::Order(Order::Le),
            Tok::Op(Symbol::Match) => Op::Match,
            Tok::Op(Symbol::NotIn) => Op::NotIn,
            t if is_word(t, "in") => Op::In,
            t if is_word(t, "contains") => Op::Contains,
            _ => return Err(self.error(OPERATORS)),
        };
        self.advance()?;
        let literal = self.literal()?;
        let test = build(&operand, op, op_span, literal)?;
        Ok(Expr::Compare(operand, test))
    }

    /// An operand; the current token is a word.
    fn operand(&mut self) -> Result<Operand, ConditionError> {
        let Tok::Word(word) = self.tok.tok else {
            return Err(self.error("an operand"));
        };
        let span = self.span();
        self.advance()?;
        if word.eq_ignore_ascii_case("random") {
            self.expect(&Tok::LParen, "\"(\" after Random")?;
            self.expect(&Tok::RParen, "\")\" (Random takes no arguments)")?;
            return Ok(Operand::Random);
        }
        let Some((location, name)) = word.split_once('.') else {
            return match word.to_ascii_lowercase().as_str() {
                "path" => Ok(Operand::Path),
                "method" => Ok(Operand::Method),
                "host" => Ok(Operand::Host),
                "client_ip" => Ok(Operand::ClientIp),
                "caller" => Ok(Operand::Caller),
                _ => Err(span.error(OPERANDS)),
            };
        };
        let location = location.to_ascii_lowercase();
        let known = matches!(location.as_str(), "header" | "query" | "path" | "form" | "sysparam");
        if !known {
            return Err(span.error(OPERANDS));
        }
        if name.is_empty() {
            return Err(span.error(format!("a name after \"{location}.\"")));
        }
        let name_span = Span { start: span.start + location.len() + 1, text: name };
        match location.as_str() {
            "header" => HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes())
                .map(Operand::Header)
                .map_err(|_| name_span.error("a header name")),
            "query" => Ok(Operand::Query(name.to_owned())),
            "path" => Ok(Operand::PathParam(name.to_owned())),
            "form" => Ok(Operand::Form(name.to_owned())),
            _ => match name.to_ascii_lowercase().as_str() {
                "clientip" => Ok(Operand::ClientIp),
                "httpscheme" => Ok(Operand::Scheme),
                "clientua" => Ok(Operand::UserAgent),
                _ => Err(name_span.error("clientIp, httpScheme or clientUa after \"sysparam.\"")),
            },
        }
    }

    fn literal(&mut self) -> Result<Literal<'s>, ConditionError> {
        if self.tok.tok != Tok::LBracket {
            let (scalar, span) = self.scalar(VALUE)?;
            return Ok(Literal::Scalar(scalar, span));
        }
        let open = self.tok.start;
        self.advance()?;
        let mut items = vec![self.scalar("a string, number or boolean (lists do not nest)")?];
        loop {
            match self.tok.tok {
                Tok::Comma => {
                    self.advance()?;
                    items.push(self.scalar("a string, number or boolean (lists do not nest)")?);
                }
                Tok::RBracket => break,
                _ => return Err(self.error("\",\" or \"]\"")),
            }
        }
        let span = Span { start: open, text: &self.src[open..self.tok.end] };
        self.advance()?;
        Ok(Literal::List(items, span))
    }

    fn scalar(&mut self, expected: &'static str) -> Result<(Scalar, Span<'s>), ConditionError> {
        let span = self.span();
        let scalar = match &self.tok.tok {
            Tok::Str(s) => Scalar::new(ScalarKind::Str, s.clone()),
            Tok::Num(n) => Scalar::new(ScalarKind::Num, (*n).to_owned()),
            Tok::Word(w) if w.eq_ignore_ascii_case("true") => Scalar::new(ScalarKind::Bool, "true".to_owned()),
            Tok::Word(w) if w.eq_ignore_ascii_case("false") => Scalar::new(ScalarKind::Bool, "false".to_owned()),
            _ => return Err(self.error(expected)),
        };
        self.advance()?;
        Ok((scalar, span))
    }
}

/// One side of an Aliyun comparison.
enum Side {
    Var(Operand),
    Value(Scalar),
    Null,
}

/// An operator of Aliyun's dialect.
#[derive(Clone, Copy, PartialEq, Eq)]
enum AliyunOp {
    Pair(PairOp),
    Like,
    InCidr,
}

const ALIYUN_SIDE: &str = "a parameter ($name or ${name}), a quoted string, a number or null";
const ALIYUN_OPERATORS: &str = "a comparison operator (=, <>, !=, <, <=, >, >=, like, in_cidr)";

impl<'s> Parser<'s> {
    /// `side op side`, in Aliyun's dialect.
    fn aliyun_comparison(&mut self) -> Result<Expr, ConditionError> {
        let (left, left_span) = self.aliyun_side()?;
        let op_span = self.span();
        let op = match &self.tok.tok {
            Tok::Op(Symbol::Eq) => AliyunOp::Pair(PairOp::Eq),
            Tok::Op(Symbol::Ne) => AliyunOp::Pair(PairOp::Ne),
            Tok::Op(Symbol::Gt) => AliyunOp::Pair(PairOp::Order(Order::Gt)),
            Tok::Op(Symbol::Ge) => AliyunOp::Pair(PairOp::Order(Order::Ge)),
            Tok::Op(Symbol::Lt) => AliyunOp::Pair(PairOp::Order(Order::Lt)),
            Tok::Op(Symbol::Le) => AliyunOp::Pair(PairOp::Order(Order::Le)),
            t if is_word(t, "like") => AliyunOp::Like,
            t if is_word(t, "in_cidr") => AliyunOp::InCidr,
            _ => return Err(self.error(ALIYUN_OPERATORS)),
        };
        self.advance()?;
        let (right, right_span) = self.aliyun_side()?;
        let null_op = || op_span.error("=, != or <> (null compares only for equality)");
        let expr = match (left, op, right) {
            (Side::Var(a), AliyunOp::Pair(op), Side::Var(b)) => Expr::Pair(a, op, b),
            (Side::Var(a), AliyunOp::Pair(op), Side::Value(s)) => Expr::Compare(a, pair_test(op, s)),
            (Side::Value(s), AliyunOp::Pair(op), Side::Var(b)) => Expr::Compare(b, pair_test(mirror(op), s)),
            (Side::Value(a), AliyunOp::Pair(op), Side::Value(b)) => Expr::Bool(constant(op, &a.text, &b.text)),
            (Side::Var(a), AliyunOp::Pair(op), Side::Null) | (Side::Null, AliyunOp::Pair(op), Side::Var(a)) => match op
            {
                PairOp::Eq => Expr::Not(Box::new(Expr::Exists(a))),
                PairOp::Ne => Expr::Exists(a),
                PairOp::Order(_) => return Err(null_op()),
            },
            (Side::Null, AliyunOp::Pair(_), _) => return Err(right_span.error("a parameter (null compares with one)")),
            (_, AliyunOp::Pair(_), Side::Null) => return Err(left_span.error("a parameter (null compares with one)")),
            (Side::Var(a), AliyunOp::Like, Side::Value(s)) if s.kind == ScalarKind::Str => {
                Expr::Compare(a, Test::Like(LikePattern::new(&s.text)))
            }
            (Side::Var(a), AliyunOp::InCidr, Side::Value(mut s)) if s.kind == ScalarKind::Str => {
                let net = parse_network(&s.text).ok_or_else(|| right_span.error("an IP address or CIDR network"))?;
                s.net = Some(net);
                Expr::Compare(a, Test::InCidr(s))
            }
            (Side::Var(_), AliyunOp::Like, _) => return Err(right_span.error("a quoted pattern ('%x_')")),
            (Side::Var(_), AliyunOp::InCidr, _) => return Err(right_span.error("a quoted CIDR ('10.0.0.0/8')")),
            (_, AliyunOp::Like | AliyunOp::InCidr, _) => {
                return Err(left_span.error("a parameter before like or in_cidr"));
            }
        };
        Ok(expr)
    }

    /// A parameter, a literal or `null`.
    fn aliyun_side(&mut self) -> Result<(Side, Span<'s>), ConditionError> {
        let span = self.span();
        let side = match &self.tok.tok {
            Tok::Var(name) => {
                let params = self.params.unwrap_or_else(|| unreachable!("Aliyun's dialect has its parameters"));
                let location = params.resolve(name).ok_or_else(|| {
                    span.error("a parameter declared in parameters, or a system parameter ($CaAppId, $CaClientIp, ...)")
                })?;
                Side::Var(Operand::Var(Var { name: (*name).into(), location }))
            }
            Tok::Str(s) => Side::Value(Scalar::new(ScalarKind::Str, s.clone())),
            Tok::Num(n) => Side::Value(Scalar::new(ScalarKind::Num, (*n).to_owned())),
            t if is_word(t, "null") => Side::Null,
            _ => return Err(self.error(ALIYUN_SIDE)),
        };
        self.advance()?;
        Ok((side, span))
    }
}

/// `x op literal`, Aliyun's meaning (ordering as numbers or text).
fn pair_test(op: PairOp, s: Scalar) -> Test {
    match op {
        PairOp::Eq => Test::Eq(s),
        PairOp::Ne => Test::Ne(s),
        PairOp::Order(o) => Test::Collate(o, s),
    }
}

/// The operator with its sides swapped.
fn mirror(op: PairOp) -> PairOp {
    match op {
        PairOp::Order(o) => PairOp::Order(o.mirror()),
        other => other,
    }
}

/// `literal op literal` (`1 = 1`), decided when built.
fn constant(op: PairOp, a: &str, b: &str) -> bool {
    let ord = collate(a, b);
    match op {
        PairOp::Eq => ord.is_eq(),
        PairOp::Ne => ord.is_ne(),
        PairOp::Order(o) => o.holds(ord),
    }
}

/// Checks `literal` against `op` and `operand` and compiles the test.
fn build(operand: &Operand, op: Op, op_span: Span<'_>, literal: Literal<'_>) -> Result<Test, ConditionError> {
    let is_ip = *operand == Operand::ClientIp;
    let is_random = *operand == Operand::Random;
    if is_random && matches!(op, Op::Match | Op::Contains) {
        return Err(op_span.error("a numeric comparison after Random() (==, !=, >, >=, <, <=, in, !in)"));
    }
    if is_ip && matches!(op, Op::Order(_)) {
        return Err(op_span.error("==, !=, in, !in, contains or ~= after client_ip"));
    }
    // the checks every scalar compared by value must pass
    let value = |(mut scalar, span): (Scalar, Span<'_>)| -> Result<Scalar, ConditionError> {
        if is_random && scalar.float.is_none() {
            return Err(span.error("a number"));
        }
        if is_ip {
            let net = if scalar.kind == ScalarKind::Str { parse_network(&scalar.text) } else { None };
            scalar.net = Some(net.ok_or_else(|| span.error("an IP address or CIDR network"))?);
        }
        Ok(scalar)
    };
    let test = match (op, literal) {
        (Op::In | Op::NotIn, Literal::List(items, _)) => {
            let items = items.into_iter().map(value).collect::<Result<Vec<_>, _>>()?;
            if op == Op::In { Test::In(items) } else { Test::NotIn(items) }
        }
        (Op::In | Op::NotIn, Literal::Scalar(_, span)) => return Err(span.error("a list [...]")),
        (_, Literal::List(_, span)) => return Err(span.error("a single value (a list goes with in or !in)")),
        (Op::Eq, Literal::Scalar(s, span)) => Test::Eq(value((s, span))?),
        (Op::Ne, Literal::Scalar(s, span)) => Test::Ne(value((s, span))?),
        (Op::Contains, Literal::Scalar(s, _)) => Test::Contains(s),
        (Op::Order(order), Literal::Scalar(s, span)) => {
            if s.decimal().is_none() {
                return Err(span.error("a number"));
            }
            Test::Order(order, s)
        }
        (Op::Match, Literal::Scalar(s, span)) => {
            if s.kind != ScalarKind::Str {
                return Err(span.error("a string (a regular expression)"));
            }
            Test::Match(compile(&s.text, span)?)
        }
    };
    Ok(test)
}

/// Compiles a regular expression, or says why it is not one.
fn compile(pattern: &str, span: Span<'_>) -> Result<Pattern, ConditionError> {
    regex::Regex::new(pattern).map(Pattern).map_err(|e| {
        let why = e.to_string();
        let why = why.lines().rev().find_map(|l| l.strip_prefix("error: ")).unwrap_or(why.trim()).to_owned();
        span.error("a valid regular expression").with_note(&why)
    })
}
