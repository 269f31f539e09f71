//! The lexer: condition text to tokens, each with its byte span.

use super::error::ConditionError;

/// A comparison operator written with symbols (`in` and `contains` are words).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Symbol {
    /// `=` or `==`.
    Eq,
    /// `!=`.
    Ne,
    /// `>`.
    Gt,
    /// `>=`.
    Ge,
    /// `<`.
    Lt,
    /// `<=`.
    Le,
    /// `~=`.
    Match,
    /// `!in`.
    NotIn,
}

/// What a token is.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok<'s> {
    /// `(`.
    LParen,
    /// `)`.
    RParen,
    /// `[`.
    LBracket,
    /// `]`.
    RBracket,
    /// `,`.
    Comma,
    /// `!` (not followed by `=` or `in`).
    Bang,
    /// `&&`.
    AndAnd,
    /// `||`.
    OrOr,
    /// A symbolic comparison operator.
    Op(Symbol),
    /// `[A-Za-z_][A-Za-z0-9_.-]*`: keywords and operands.
    Word(&'s str),
    /// A quoted string, unescaped.
    Str(String),
    /// `-?[0-9]+(\.[0-9]+)?`, as written.
    Num(&'s str),
    /// `$name` or `${name}` (Aliyun's parameters): the name.
    Var(&'s str),
    /// The end of the input.
    End,
}

/// A token and where it is.
#[derive(Debug, Clone)]
pub(super) struct Token<'s> {
    /// What it is.
    pub(super) tok: Tok<'s>,
    /// Byte offset of its first character.
    pub(super) start: usize,
    /// Byte offset just past it.
    pub(super) end: usize,
}

/// Reads tokens one at a time, so that the earliest error is the one reported.
pub(super) struct Lexer<'s> {
    src: &'s str,
    pos: usize,
}

/// Whether `b` may continue a word.
pub(super) fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-')
}

impl<'s> Lexer<'s> {
    /// A lexer at the start of `src`.
    pub(super) fn new(src: &'s str) -> Self {
        Self { src, pos: 0 }
    }

    /// The next token, [`Tok::End`] at the end.
    pub(super) fn next_token(&mut self) -> Result<Token<'s>, ConditionError> {
        let rest = &self.src[self.pos..];
        self.pos += rest.len() - rest.trim_start().len();
        let start = self.pos;
        let bytes = self.src.as_bytes();
        let Some(&first) = bytes.get(start) else {
            return Ok(Token { tok: Tok::End, start, end: start });
        };
        let second = bytes.get(start + 1).copied();
        let (tok, len) = match (first, second) {
            (b'(', _) => (Tok::LParen, 1),
            (b')', _) => (Tok::RParen, 1),
            (b'[', _) => (Tok::LBracket, 1),
            (b']', _) => (Tok::RBracket, 1),
            (b',', _) => (Tok::Comma, 1),
            (b'!', Some(b'=')) => (Tok::Op(Symbol::Ne), 2),
            (b'!', _) if self.word_at(start + 1, "in") => (Tok::Op(Symbol::NotIn), 3),
            (b'!', _) => (Tok::Bang, 1),
            (b'=', Some(b'=')) => (Tok::Op(Symbol::Eq), 2),
            (b'=', _) => (Tok::Op(Symbol::Eq), 1),
            (b'>', Some(b'=')) => (Tok::Op(Symbol::Ge), 2),
            (b'>', _) => (Tok::Op(Symbol::Gt), 1),
            (b'<', Some(b'=')) => (Tok::Op(Symbol::Le), 2),
            (b'<', Some(b'>')) => (Tok::Op(Symbol::Ne), 2),
            (b'<', _) => (Tok::Op(Symbol::Lt), 1),
            (b'~', Some(b'=')) => (Tok::Op(Symbol::Match), 2),
            (b'~', _) => return Err(self.unexpected(start, "\"~=\"")),
            (b'&', Some(b'&')) => (Tok::AndAnd, 2),
            (b'&', _) => return Err(self.unexpected(start, "\"&&\"")),
            (b'|', Some(b'|')) => (Tok::OrOr, 2),
            (b'|', _) => return Err(self.unexpected(start, "\"||\"")),
            (b'"' | b'\'', _) => return self.string(first as char),
            (b'$', _) => return self.variable(),
            (b'-' | b'0'..=b'9', _) => return self.number(),
            (b, _) if b.is_ascii_alphabetic() || b == b'_' => {
                let len = bytes[start..].iter().position(|&b| !is_word_byte(b)).unwrap_or(bytes.len() - start);
                (Tok::Word(&self.src[start..start + len]), len)
            }
            _ => return Err(self.unexpected(start, "an operand, an operator, a value or a parenthesis")),
        };
        self.pos = start + len;
        Ok(Token { tok, start, end: self.pos })
    }

    /// Whether the word `word` (any case) stands at `at`, not followed by more word.
    fn word_at(&self, at: usize, word: &str) -> bool {
        let bytes = self.src.as_bytes();
        let end = at + word.len();
        bytes.get(at..end).is_some_and(|w| w.eq_ignore_ascii_case(word.as_bytes()))
            && !bytes.get(end).copied().is_some_and(is_word_byte)
    }

    /// An error naming the character at `at` (or the end of input).
    fn unexpected(&self, at: usize, expected: &'static str) -> ConditionError {
        let found = self.src.get(at..).and_then(|rest| rest.chars().next()).map(|c| &self.src[at..at + c.len_utf8()]);
        ConditionError::new(at, expected, found)
    }

    /// A quoted string starting at `self.pos`; `\"`, `\'`, `\\`, `\n`, `\t` are escapes, and
    /// a backslash before anything else is kept as written (so `"\d+"` is the regex `\d+`).
    fn string(&mut self, quote: char) -> Result<Token<'s>, ConditionError> {
        let start = self.pos;
        let mut text = String::new();
        let mut chars = self.src[start + 1..].char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some((_, e @ ('"' | '\'' | '\\'))) => text.push(e),
                    Some((_, 'n')) => text.push('\n'),
                    Some((_, 't')) => text.push('\t'),
                    Some((_, other)) => {
                        text.push('\\');
                        text.push(other);
                    }
                    None => break,
                },
                c if c == quote => {
                    self.pos = start + 1 + i + 1;
                    return Ok(Token { tok: Tok::Str(text), start, end: self.pos });
                }
                c => text.push(c),
            }
        }
        Err(ConditionError::new(
            self.src.len(),
            format!("a closing {quote} for the string opened at byte {start}"),
            None,
        ))
    }

    /// `$name` or `${name}` starting at `self.pos`; a name is `[A-Za-z0-9_]+`.
    fn variable(&mut self) -> Result<Token<'s>, ConditionError> {
        let start = self.pos;
        let bytes = self.src.as_bytes();
        let braced = bytes.get(start + 1) == Some(&b'{');
        let from = start + 1 + usize::from(braced);
        let len = bytes[from..].iter().take_while(|b| b.is_ascii_alphanumeric() || **b == b'_').count();
        if len == 0 {
            return Err(self.unexpected(from, "a parameter name after \"$\""));
        }
        let mut end = from + len;
        if braced {
            if bytes.get(end) != Some(&b'}') {
                return Err(self.unexpected(end, "\"}\" closing \"${\""));
            }
            end += 1;
        }
        self.pos = end;
        Ok(Token { tok: Tok::Var(&self.src[from..from + len]), start, end })
    }

    /// A number starting at `self.pos`.
    fn number(&mut self) -> Result<Token<'s>, ConditionError> {
        let bytes = self.src.as_bytes();
        let start = self.pos;
        let digits_from = |at: usize| bytes[at..].iter().take_while(|b| b.is_ascii_digit()).count();
        let mut end = start + usize::from(bytes[start] == b'-');
        let int = digits_from(end);
        if int == 0 {
            return Err(self.unexpected(end, "a digit after \"-\""));
        }
        end += int;
        if bytes.get(end) == Some(&b'.') && bytes.get(end + 1).is_some_and(u8::is_ascii_digit) {
            end += 1 + digits_from(end + 1);
        }
        self.pos = end;
        Ok(Token { tok: Tok::Num(&self.src[start..end]), start, end })
    }
}
