//! [`ConditionError`]: why a condition does not parse or build.

use std::borrow::Cow;

/// Why a condition expression was refused: where, and what was expected there.
///
/// Both syntax errors and build-time errors (unknown operands, bad regular expressions, bad
/// CIDRs, a literal of the wrong type for its operator) are reported this way.
///
/// ```
/// use tollgate_core::Condition;
///
/// let err = Condition::parse("query.id == == 2").unwrap_err();
/// assert_eq!(err.offset(), 12);
/// assert_eq!(err.to_string(), r#"at byte 12: expected a value (string, number, boolean or list), found "==""#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at byte {offset}: expected {expected}, found {found}")]
pub struct ConditionError {
    offset: usize,
    expected: Cow<'static, str>,
    found: String,
}

impl ConditionError {
    /// An error at `offset`; `found` is the offending text (quoted here), `None` at the end.
    pub(super) fn new(offset: usize, expected: impl Into<Cow<'static, str>>, found: Option<&str>) -> Self {
        let found = match found {
            Some(text) => format!("{:?}", shorten(text)),
            None => "end of input".to_owned(),
        };
        Self { offset, expected: expected.into(), found }
    }

    /// Like [`ConditionError::new`], with a note after the quoted text.
    pub(super) fn with_note(mut self, note: &str) -> Self {
        self.found = format!("{} ({note})", self.found);
        self
    }

    /// The byte offset in the expression text where the problem is.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// What was expected there, e.g. `an operand` or `a valid regular expression`.
    pub fn expected(&self) -> &str {
        &self.expected
    }

    /// What was found there: the offending text, quoted, or `end of input`.
    pub fn found(&self) -> &str {
        &self.found
    }
}

/// At most 40 characters of `text`, with an ellipsis when cut.
fn shorten(text: &str) -> Cow<'_, str> {
    match text.char_indices().nth(40) {
        Some((cut, _)) => Cow::Owned(format!("{}…", &text[..cut])),
        None => Cow::Borrowed(text),
    }
}
