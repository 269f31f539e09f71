//! [`LikePattern`]: SQL's `like` as Aliyun's conditions write it (`$userId like '%0'`).

/// One piece of a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    /// This character.
    Char(char),
    /// `_`: any one character.
    One,
    /// `%`: any run of characters, none included.
    Any,
}

/// A compiled `like` pattern: `%` matches any run of characters, `_` any one character,
/// `\` makes the next character literal (`'100\%'`); everything else matches itself, case
/// included. The whole value must match. Equal when written the same.
#[derive(Debug, Clone)]
pub(in crate::condition) struct LikePattern {
    source: String,
    pieces: Vec<Piece>,
}

impl PartialEq for LikePattern {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl LikePattern {
    /// Compiles a pattern (the text of a string literal).
    pub(in crate::condition) fn new(source: &str) -> Self {
        let mut pieces = Vec::with_capacity(source.len());
        let mut chars = source.chars();
        while let Some(c) = chars.next() {
            let piece = match c {
                '%' if pieces.last() == Some(&Piece::Any) => continue,
                '%' => Piece::Any,
                '_' => Piece::One,
                // a trailing backslash stands for itself
                '\\' => Piece::Char(chars.next().unwrap_or('\\')),
                c => Piece::Char(c),
            };
            pieces.push(piece);
        }
        Self { source: source.to_owned(), pieces }
    }

    /// The pattern as written.
    pub(in crate::condition) fn source(&self) -> &str {
        &self.source
    }

    /// Whether `value` matches as a whole. Greedy with one backtrack point (the last `%`),
    /// so at worst the product of the lengths, never exponential.
    pub(in crate::condition) fn matches(&self, value: &str) -> bool {
        let text: Vec<char> = value.chars().collect();
        let (mut p, mut t) = (0, 0);
        let mut back: Option<(usize, usize)> = None;
        while t < text.len() {
            match self.pieces.get(p) {
                Some(Piece::Any) => {
                    back = Some((p, t));
                    p += 1;
                }
                Some(Piece::One) => {
                    p += 1;
                    t += 1;
                }
                Some(Piece::Char(c)) if *c == text[t] => {
                    p += 1;
                    t += 1;
                }
                _ => match back {
                    Some((bp, bt)) => {
                        back = Some((bp, bt + 1));
                        p = bp + 1;
                        t = bt + 1;
                    }
                    None => return false,
                },
            }
        }
        self.pieces[p..].iter().all(|piece| *piece == Piece::Any)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_escapes_and_whole_matches() {
        let m = |p: &str, v: &str| LikePattern::new(p).matches(v);
        assert!(m("%0", "100"));
        assert!(!m("%0", "101"));
        assert!(m("%0", "0"));
        assert!(m("a_c", "abc"));
        assert!(m("a_c", "aéc"));
        assert!(!m("a_c", "ac"));
        assert!(!m("a_c", "abbc"));
        assert!(m("%", ""));
        assert!(m("", ""));
        assert!(!m("", "a"));
        assert!(m("a%b%c", "a__b__c"));
        assert!(m("a%%b", "ab"));
        assert!(!m("a%b", "a"));
        assert!(m("100\\%", "100%"));
        assert!(!m("100\\%", "1000"));
        assert!(m("a\\_b", "a_b"));
        assert!(!m("a\\_b", "axb"));
        assert!(m("x\\", "x\\"));
        assert!(!m("ABC", "abc"));
        assert!(m("%a%a%a%a%a%b", &"a".repeat(40).replace("aaaa", "aaab")));
        assert!(!m("%a%a%a%a%a%a%a%a%c", &"a".repeat(5000)));
    }
}
