//! [`Template`]: text with `${name}` placeholders (Aliyun's `errorMessage`, `responseBody`).

use std::fmt;

use super::params::{AliyunLocation, AliyunParameters, is_param_name};
use super::values::Variables;
use crate::condition::ConditionError;
use crate::param::ParamError;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Var { name: Box<str>, location: AliyunLocation },
}

/// Text with `${name}` placeholders, compiled once against a plug-in's `parameters`:
/// `"Path not match ${userId} vs /${pathUserId}"`.
///
/// A placeholder names a declared parameter or a system parameter (`${CaRequestId}`); any
/// other is refused when built, with its offset. A `$` not followed by `{` is text; `${`
/// always opens a placeholder (Aliyun documents no escape).
///
/// Rendering puts each value as it is (an absent one as nothing). The values come from the
/// request, so where the text goes decides their escaping: a header refuses control
/// characters, an XML or JSON body wants its own; [`render_with`](Self::render_with) takes
/// the escaping.
///
/// ```
/// use http::Request;
/// use tollgate_core::condition::{AliyunParameters, RequestView, Template};
/// use tollgate_core::PathTemplate;
///
/// let params = AliyunParameters::from_pairs([("userId", "Query:user"), ("pathUserId", "path:userId")])?;
/// let message = Template::parse("Path not match ${userId} vs /${pathUserId}", &params)?;
///
/// let mut req = Request::get("/users/42?user=7").body(())?;
/// req.extensions_mut().insert(PathTemplate::parse("/users/{userId}")?.matches("/users/42").unwrap());
/// assert_eq!(message.render(&RequestView::from_request(&req))?, "Path not match 7 vs /42");
///
/// assert!(Template::parse("hello ${nobody}", &params).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

impl Template {
    /// Compiles `text`; an unknown or malformed placeholder is an error at its offset.
    pub fn parse(text: &str, params: &AliyunParameters) -> Result<Self, ConditionError> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut rest = text;
        let mut at = 0;
        while let Some(open) = rest.find("${") {
            literal.push_str(&rest[..open]);
            let start = at + open;
            let inner = &rest[open + 2..];
            let Some(close) = inner.find('}') else {
                return Err(ConditionError::new(start, "\"}\" closing \"${\"", Some(&text[start..])));
            };
            let name = &inner[..close];
            let whole = &text[start..start + close + 3];
            if !is_param_name(name) {
                return Err(ConditionError::new(start, "a parameter name in ${...}", Some(whole)));
            }
            let Some(location) = params.resolve(name) else {
                return Err(ConditionError::new(
                    start,
                    "a parameter declared in parameters, or a system parameter (${CaRequestId}, ...)",
                    Some(whole),
                ));
            };
            if !literal.is_empty() {
                parts.push(Part::Text(std::mem::take(&mut literal)));
            }
            parts.push(Part::Var { name: name.into(), location });
            let consumed = open + 2 + close + 1;
            at += consumed;
            rest = &rest[consumed..];
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            parts.push(Part::Text(literal));
        }
        Ok(Self { parts })
    }

    /// The text with every placeholder replaced by its value (nothing when absent); an
    /// error when a value has two readings (a repeated header or query name).
    pub fn render(&self, vars: &dyn Variables) -> Result<String, ParamError> {
        self.render_with(vars, &|value, out| out.push_str(value))
    }

    /// Like [`render`](Self::render), each value written by `escape` (the template's own
    /// text is written as it is): for an XML body, a JSON string, or a header, where a value
    /// from the request must not close an element or start a line.
    ///
    /// ```
    /// use http::Request;
    /// use tollgate_core::condition::{AliyunParameters, RequestView, Template};
    ///
    /// let params = AliyunParameters::from_pairs([("q", "Query:q")])?;
    /// let body = Template::parse("<Reason>${q}</Reason>", &params)?;
    /// let req = Request::get("/?q=%3C%2FReason%3E%0D%0Ax").body(())?;
    /// let xml = |v: &str, out: &mut String| {
    ///     for c in v.chars() {
    ///         match c {
    ///             '<' => out.push_str("&lt;"),
    ///             '>' => out.push_str("&gt;"),
    ///             '&' => out.push_str("&amp;"),
    ///             c if c.is_control() => out.push(' '),
    ///             c => out.push(c),
    ///         }
    ///     }
    /// };
    /// let text = body.render_with(&RequestView::from_request(&req), &xml)?;
    /// assert_eq!(text, "<Reason>&lt;/Reason&gt;  x</Reason>");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn render_with(&self, vars: &dyn Variables, escape: &dyn Fn(&str, &mut String)) -> Result<String, ParamError> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Var { location, .. } => {
                    if let Some(value) = vars.value(location)? {
                        escape(&value, &mut out);
                    }
                }
            }
        }
        Ok(out)
    }

    /// Whether the text has no placeholder.
    pub fn is_constant(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, Part::Text(_)))
    }

    /// The locations the placeholders read, in order.
    pub fn locations(&self) -> impl Iterator<Item = &AliyunLocation> {
        self.parts.iter().filter_map(|p| match p {
            Part::Var { location, .. } => Some(location),
            Part::Text(_) => None,
        })
    }
}

impl fmt::Display for Template {
    /// The text as written (placeholders as `${name}`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for part in &self.parts {
            match part {
                Part::Text(text) => f.write_str(text)?,
                Part::Var { name, .. } => write!(f, "${{{name}}}")?,
            }
        }
        Ok(())
    }
}
