//! The JSONPath subset of `BodyJsonField:$.result_code`: `$`, then `.name`, `['name']` or
//! `[index]` steps.

use std::borrow::Cow;

use serde_json::Value;

/// One step into a JSON value.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step<'p> {
    Key(Cow<'p, str>),
    Index(usize),
}

/// The steps of `path`, or why it is not one this subset reads.
fn steps(path: &str) -> Result<Vec<Step<'_>>, String> {
    let Some(mut rest) = path.strip_prefix('$') else {
        return Err(format!("{path:?} is not a JSONPath (it starts with $, as $.result_code)"));
    };
    let mut out = Vec::new();
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('.') {
            let end = after.find(['.', '[']).unwrap_or(after.len());
            if end == 0 {
                return Err(format!("{path:?}: a name after \".\""));
            }
            out.push(Step::Key(Cow::Borrowed(&after[..end])));
            rest = &after[end..];
        } else if let Some(after) = rest.strip_prefix('[') {
            let close = after.find(']').ok_or_else(|| format!("{path:?}: \"]\" closing \"[\""))?;
            let inner = after[..close].trim();
            let quoted = inner
                .strip_prefix('\'')
                .and_then(|s| s.strip_suffix('\''))
                .or_else(|| inner.strip_prefix('"').and_then(|s| s.strip_suffix('"')));
            match quoted {
                Some(key) => out.push(Step::Key(Cow::Borrowed(key))),
                None => out.push(Step::Index(inner.parse().map_err(|_| {
                    format!(
                        "{path:?}: [{inner}] is neither an index nor a quoted name (wildcards and filters are not read)"
                    )
                })?)),
            }
            rest = &after[close + 1..];
        } else {
            return Err(format!("{path:?}: \".\" or \"[\" after {:?}", &path[..path.len() - rest.len()]));
        }
    }
    Ok(out)
}

/// Checks a path when a configuration is read.
pub(super) fn check(path: &str) -> Result<(), String> {
    steps(path).map(drop)
}

/// The value at `path` in `body` as text: a string as it is, a number or boolean as written
/// in JSON, an object or array as its JSON text; `None` when absent or `null`.
pub(super) fn select<'v>(body: &'v Value, path: &str) -> Option<Cow<'v, str>> {
    let mut at = body;
    for step in steps(path).ok()? {
        at = match step {
            Step::Key(key) => at.as_object()?.get(key.as_ref())?,
            Step::Index(i) => at.as_array()?.get(i)?,
        };
    }
    match at {
        Value::Null => None,
        Value::String(s) => Some(Cow::Borrowed(s)),
        other => Some(Cow::Owned(other.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_subset_and_refuses_the_rest() {
        let body = serde_json::json!({"result_code": "OK", "data": {"items": [{"id": 7}, {"id": null}], "a.b": true}});
        assert_eq!(select(&body, "$.result_code").as_deref(), Some("OK"));
        assert_eq!(select(&body, "$.data.items[0].id").as_deref(), Some("7"));
        assert_eq!(select(&body, "$.data.items[1].id"), None);
        assert_eq!(select(&body, "$.data['a.b']").as_deref(), Some("true"));
        assert_eq!(select(&body, "$[\"data\"].items[0]").as_deref(), Some(r#"{"id":7}"#));
        assert_eq!(select(&body, "$.data.items[5]"), None);
        assert_eq!(select(&body, "$.result_code.x"), None);
        assert_eq!(select(&body, "$").as_deref().map(|s| s.starts_with('{')), Some(true));
        for bad in ["result", "$.", "$..a", "$.a[*]", "$.a[?(@.x)]", "$.a[", "$x"] {
            assert!(check(bad).is_err(), "{bad}");
        }
    }
}
