//! [`JsonPath`]: the JSONPath subset a `BodyJsonField:$.a.b[0]` parameter names, and how the
//! value it finds becomes text.

use std::borrow::Cow;
use std::fmt;

use serde_json::Value;

/// The longest path accepted, in steps: deeper than serde_json parses anyway (128 levels).
const MAX_STEPS: usize = 128;

/// One step of a path: a member of an object, or an element of an array.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Member(String),
    Index(usize),
}

/// A JSONPath of the subset Aliyun's examples use: `$` then members and indexes,
/// `$.result_code`, `$.data.items[0].code`, `$['odd key'][2]`. No wildcards, filters, slices
/// or recursive descent: a path names one value or none.
///
/// ```
/// use serde_json::json;
/// use tollgate_error_mapping::JsonPath;
///
/// let path: JsonPath = "$.data.errors[1].code".parse()?;
/// let body = json!({"data": {"errors": [{"code": "A"}, {"code": "B"}]}});
/// assert_eq!(path.text(&body).as_deref(), Some("B"));
///
/// // a value that is not a string is its JSON text; null and missing are absent
/// let body = json!({"data": {"errors": [{"code": 7}, {"code": {"n": 1}}]}});
/// assert_eq!(path.text(&body).as_deref(), Some(r#"{"n":1}"#));
/// assert_eq!("$.data.errors[0].code".parse::<JsonPath>()?.text(&body).as_deref(), Some("7"));
/// assert_eq!("$.missing".parse::<JsonPath>()?.text(&body), None);
/// # Ok::<(), tollgate_error_mapping::JsonPathError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonPath {
    steps: Vec<Step>,
}

/// Why a text is not a [`JsonPath`]: what was expected, at which byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonPathError {
    offset: usize,
    expected: &'static str,
}

impl JsonPathError {
    /// The byte offset in the path text where it went wrong.
    pub fn offset(&self) -> usize {
        self.offset
    }
}

impl fmt::Display for JsonPathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "expected {} at byte {} of the JSONPath (the subset $.a.b[0] or $['a'][0] is understood)",
            self.expected, self.offset
        )
    }
}

impl std::error::Error for JsonPathError {}

impl std::str::FromStr for JsonPath {
    type Err = JsonPathError;

    fn from_str(text: &str) -> Result<Self, JsonPathError> {
        let err = |offset, expected| JsonPathError { offset, expected };
        let bytes = text.as_bytes();
        if bytes.first() != Some(&b'$') {
            return Err(err(0, "`$`"));
        }
        let mut steps = Vec::new();
        let mut i = 1;
        while i < bytes.len() {
            if steps.len() == MAX_STEPS {
                return Err(err(i, "at most 128 steps"));
            }
            match bytes[i] {
                b'.' => {
                    let start = i + 1;
                    let end = text[start..].find(['.', '[']).map_or(text.len(), |n| start + n);
                    let name = &text[start..end];
                    if name.is_empty() || name.contains([']', '\'', '"', '*', ' ']) {
                        return Err(err(start, "a member name after `.`"));
                    }
                    steps.push(Step::Member(name.to_owned()));
                    i = end;
                }
                b'[' => {
                    let start = i + 1;
                    match bytes.get(start) {
                        Some(&q @ (b'\'' | b'"')) => {
                            let close = text[start + 1..]
                                .find(q as char)
                                .map(|n| start + 1 + n)
                                .ok_or_else(|| err(start, "a closing quote"))?;
                            if bytes.get(close + 1) != Some(&b']') {
                                return Err(err(close + 1, "`]`"));
                            }
                            steps.push(Step::Member(text[start + 1..close].to_owned()));
                            i = close + 2;
                        }
                        _ => {
                            let end = text[start..].find(']').map(|n| start + n).ok_or_else(|| err(start, "`]`"))?;
                            let digits = &text[start..end];
                            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                                return Err(err(start, "an array index (0, 1, ...) or a quoted member name"));
                            }
                            let index = digits.parse().map_err(|_| err(start, "a smaller array index"))?;
                            steps.push(Step::Index(index));
                            i = end + 1;
                        }
                    }
                }
                _ => return Err(err(i, "`.` or `[`")),
            }
        }
        Ok(Self { steps })
    }
}

impl fmt::Display for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("$")?;
        for step in &self.steps {
            match step {
                Step::Member(name) if name.is_empty() || name.contains(['.', '[', ']', '\'', '"', '*', ' ']) => {
                    if name.contains('\'') { write!(f, "[\"{name}\"]")? } else { write!(f, "['{name}']")? }
                }
                Step::Member(name) => write!(f, ".{name}")?,
                Step::Index(i) => write!(f, "[{i}]")?,
            }
        }
        Ok(())
    }
}

impl JsonPath {
    /// The value the path names in `root`, if there is one.
    pub fn find<'v>(&self, root: &'v Value) -> Option<&'v Value> {
        self.steps.iter().try_fold(root, |value, step| match step {
            Step::Member(name) => value.as_object()?.get(name),
            Step::Index(i) => value.as_array()?.get(*i),
        })
    }

    /// The text of the value the path names: a string as it is, any other value as its
    /// compact JSON text (`404`, `true`, `{"a":1}`); `None` when the path names nothing or
    /// names `null` (so `$code = null` holds for both, as Aliyun's `!= null` examples read).
    pub fn text<'v>(&self, root: &'v Value) -> Option<Cow<'v, str>> {
        match self.find(root)? {
            Value::Null => None,
            Value::String(s) => Some(Cow::Borrowed(s)),
            other => Some(Cow::Owned(other.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn path(text: &str) -> JsonPath {
        text.parse().unwrap()
    }

    #[test]
    fn reads_members_indexes_and_quoted_names() {
        let body = json!({"a": {"b": [10, {"c d": "x"}]}, "": 1});
        assert_eq!(path("$").text(&body).unwrap(), body.to_string());
        assert_eq!(path("$.a.b[0]").text(&body).as_deref(), Some("10"));
        assert_eq!(path("$.a.b[1]['c d']").text(&body).as_deref(), Some("x"));
        assert_eq!(path("$.a.b[1][\"c d\"]").text(&body).as_deref(), Some("x"));
        assert_eq!(path("$['']").text(&body).as_deref(), Some("1"));
        assert_eq!(path("$.a.b[2]").text(&body), None);
        assert_eq!(path("$.a[0]").text(&body), None, "an index into an object names nothing");
        assert_eq!(path("$.a.b.c").text(&body), None, "a member of an array names nothing");
    }

    #[test]
    fn null_is_absent_and_other_values_are_their_json_text() {
        let body = json!({"n": null, "t": true, "f": 1.5, "big": 18446744073709551615u64, "s": "é\n"});
        assert_eq!(path("$.n").text(&body), None);
        assert_eq!(path("$.t").text(&body).as_deref(), Some("true"));
        assert_eq!(path("$.f").text(&body).as_deref(), Some("1.5"));
        assert_eq!(path("$.big").text(&body).as_deref(), Some("18446744073709551615"));
        assert_eq!(path("$.s").text(&body).as_deref(), Some("é\n"));
    }

    #[test]
    fn refuses_what_it_does_not_understand_with_the_offset() {
        for (text, offset) in [
            ("", 0),
            ("a.b", 0),
            ("$.", 2),
            ("$..a", 2),
            ("$.*", 2),
            ("$[*]", 2),
            ("$[-1]", 2),
            ("$[1", 2),
            ("$['a", 2),
            ("$['a'x", 5),
            ("$a", 1),
            ("$[99999999999999999999999]", 2),
        ] {
            assert_eq!(text.parse::<JsonPath>().unwrap_err().offset(), offset, "{text:?}");
        }
        let deep = format!("${}", "[0]".repeat(129));
        assert!(deep.parse::<JsonPath>().is_err());
    }

    proptest! {
        #[test]
        fn no_panic_on_any_text(text in "\\PC{0,40}", tail in "[$.\\[\\]'\"a0-9]{0,20}") {
            let _ = text.parse::<JsonPath>();
            if let Ok(p) = format!("${tail}").parse::<JsonPath>() {
                // what is printed reads back as the same path
                prop_assert_eq!(p.to_string().parse::<JsonPath>().unwrap(), p);
            }
        }

        #[test]
        fn a_member_path_finds_what_was_put_there(names in proptest::collection::vec("[a-z_][a-z0-9_]{0,8}", 1..6)) {
            let mut value = json!("leaf");
            for name in names.iter().rev() {
                value = json!({ name.clone(): value });
            }
            let text = format!("$.{}", names.join("."));
            let found = path(&text).text(&value).map(Cow::into_owned);
            prop_assert_eq!(found.as_deref(), Some("leaf"));
        }
    }
}
