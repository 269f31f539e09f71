//! The parser: tokens to a compiled [`Expr`], with every literal checked against its
//! operator and operand, regular expressions and networks built, and nesting bounded.

use std::borrow::Cow;

use http::HeaderName;

use super::ast::{Expr, Operand, Order, Pattern, Scalar, ScalarKind, Test};
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
    let mut parser = Parser::new(src)?;
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
}

fn is_word(tok: &Tok<'_>, word: &str) -> bool {
    matches!(tok, Tok::Word(w) if w.eq_ignore_ascii_case(word))
}

impl<'s> Parser<'s> {
    fn new(src: &'s str) -> Result<Self, ConditionError> {
        let mut lexer = Lexer::new(src);
        let tok = lexer.next_token()?;
        Ok(Self { src, lexer, tok, depth: 0 })
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
