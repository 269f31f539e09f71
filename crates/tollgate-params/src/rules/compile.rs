//! Compiling: a [`ParamValidationConfig`] into [`ParamRules`], every value checked once,
//! each error naming its field.

use http::{HeaderName, HeaderValue};
use serde_json::Value;
use tollgate_core::PathTemplate;

use super::{At, BodyNeed, Broken, Compiled, ParamRules, Parsed, Prepared, Scalar, above, parse_text, unescape};
use crate::config::{ConfigError, Limit, Param, ParamType, ParamValidationConfig, Position};
use crate::{names, urlencoded};

/// The `{names}` of a template.
/// The parameter names of a template: `{name}` and Aliyun's `[name]` segments.
fn template_names(template: &str) -> impl Iterator<Item = &str> {
    template.split('/').filter_map(|s| {
        s.strip_prefix('{').and_then(|s| s.strip_suffix('}')).or_else(|| s.strip_prefix('[')?.strip_suffix(']'))
    })
}

fn limit_for(ty: ParamType, limit: Limit, field: &str) -> Result<Limit, ConfigError> {
    match (ty, limit) {
        (ParamType::Int | ParamType::Long, Limit::Float(x)) if x.fract() == 0.0 && x.abs() < 9.0e18 => {
            Ok(Limit::Int(x as i64))
        }
        (ParamType::Int | ParamType::Long, Limit::Float(_)) => {
            Err(ConfigError::new(field, format!("expected an integer for a {ty} parameter")))
        }
        (_, Limit::Float(x)) if !x.is_finite() => Err(ConfigError::new(field, "expected a finite number")),
        _ => Ok(limit),
    }
}

/// A scalar of a default or enumeration, as text (strings as they are, others as JSON).
fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(_) | Value::Bool(_) => Some(value.to_string()),
        _ => None,
    }
}

fn compile_param(index: usize, p: &Param, template: Option<&str>) -> Result<Compiled, ConfigError> {
    let field = |name: &str| format!("params[{index}].{name}");
    if p.name.is_empty() {
        return Err(ConfigError::new(field("name"), "must not be empty"));
    }
    let pointer = || -> Result<String, ConfigError> {
        let pointer = p.pointer.clone().unwrap_or_else(|| format!("/{}", p.name.replace('~', "~0").replace('/', "~1")));
        if !pointer.starts_with('/') {
            return Err(ConfigError::new(field("pointer"), "a JSON pointer starts with '/' (`/order/qty`)"));
        }
        Ok(pointer)
    };
    let at = match p.position {
        Position::Header => At::Header(
            HeaderName::try_from(p.name.as_str())
                .map_err(|_| ConfigError::new(field("name"), format!("{:?} is not a valid header name", p.name)))?,
        ),
        Position::Query => At::Query,
        Position::Path => {
            if let Some(t) = template.filter(|t| !template_names(t).any(|n| n == p.name)) {
                return Err(ConfigError::new(
                    field("name"),
                    format!("the path template {t:?} has no {{{}}} segment", p.name),
                ));
            }
            At::Path
        }
        Position::Form => At::Form,
        Position::Json => At::Json(pointer()?),
        Position::Body => At::Body(pointer()?),
    };
    if p.pointer.is_some() && !matches!(p.position, Position::Json | Position::Body) {
        return Err(ConfigError::new(field("pointer"), "only json and body parameters have a pointer"));
    }
    let array = p.param_type == ParamType::Array;
    let ty = match (array, p.items) {
        (true, Some(ParamType::Array)) => {
            return Err(ConfigError::new(field("items"), "arrays of arrays are not supported"));
        }
        (true, items) => items.unwrap_or(ParamType::String),
        (false, Some(_)) => return Err(ConfigError::new(field("items"), "only an array parameter has items")),
        (false, None) => p.param_type,
    };
    if array && p.position == Position::Path {
        return Err(ConfigError::new(field("type"), "a path parameter is one segment, not an array"));
    }
    let (min, max) = match (p.min, p.max) {
        (None, None) => (None, None),
        _ if !ty.is_number() => {
            let which = if p.min.is_some() { "min" } else { "max" };
            return Err(ConfigError::new(field(which), format!("only numbers have a range, this is a {ty}")));
        }
        (min, max) => (
            min.map(|m| limit_for(ty, m, &field("min"))).transpose()?,
            max.map(|m| limit_for(ty, m, &field("max"))).transpose()?,
        ),
    };
    if let Some((lo, hi)) = min.zip(max).filter(|(lo, hi)| above(&lo_parsed(*lo), *hi)) {
        return Err(ConfigError::new(field("min"), format!("min {lo} is larger than max {hi}")));
    }
    if (p.min_length.is_some() || p.max_length.is_some()) && ty != ParamType::String {
        let which = if p.min_length.is_some() { "min_length" } else { "max_length" };
        return Err(ConfigError::new(field(which), format!("only strings have a length, this is a {ty}")));
    }
    if let Some((lo, hi)) = p.min_length.zip(p.max_length).filter(|(lo, hi)| lo > hi) {
        return Err(ConfigError::new(field("min_length"), format!("min_length {lo} is larger than max_length {hi}")));
    }
    let regex = match &p.regex {
        None => None,
        Some(source) => {
            let re = regex::RegexBuilder::new(&format!("^(?:{source})$"))
                .size_limit(1 << 20)
                .build()
                .map_err(|e| ConfigError::new(field("regex"), e))?;
            Some((source.clone(), re))
        }
    };
    let mut compiled = Compiled {
        name: p.name.clone(),
        position: p.position,
        at,
        array,
        ty,
        required: p.required,
        default: None,
        min,
        max,
        min_length: p.min_length,
        max_length: p.max_length,
        one_of: Vec::new(),
        regex,
    };
    for (i, value) in p.one_of.iter().enumerate() {
        let f = format!("params[{index}].enum[{i}]");
        let text = scalar_text(value).ok_or_else(|| ConfigError::new(&f, "expected a string, number or boolean"))?;
        let parsed =
            parse_text(ty, &text).ok_or_else(|| ConfigError::new(&f, format!("expected {}", ty.described())))?;
        compiled.one_of.push(Scalar::owned(parsed));
    }
    if let Some(default) = &p.default {
        compiled.default = Some(compile_default(&compiled, default, &field("default"))?);
    }
    Ok(compiled)
}

fn lo_parsed(limit: Limit) -> Parsed<'static> {
    match limit {
        Limit::Int(n) => Parsed::Int(n),
        Limit::Float(x) => Parsed::Float(x),
    }
}

fn compile_default(p: &Compiled, value: &Value, field: &str) -> Result<Prepared, ConfigError> {
    if p.required {
        return Err(ConfigError::new(field, "a required parameter never uses its default; drop one of the two"));
    }
    if p.position == Position::Path {
        return Err(ConfigError::new(
            field,
            "a path parameter cannot have a default: a matching path always binds it, and the path cannot be rewritten",
        ));
    }
    let items: Vec<&Value> = match value {
        Value::Array(items) if p.array => items.iter().collect(),
        Value::Array(_) => return Err(ConfigError::new(field, "a list is a default for an array only")),
        other => vec![other],
    };
    if items.is_empty() {
        return Err(ConfigError::new(field, "an empty list writes nothing; drop the default"));
    }
    let mut texts = Vec::with_capacity(items.len());
    let mut json = Vec::with_capacity(items.len());
    for item in items {
        let text = scalar_text(item).ok_or_else(|| ConfigError::new(field, "expected a string, number or boolean"))?;
        p.check_text(&text).map_err(|b| ConfigError::new(field, format!("{text:?}: {}", p.describe(b))))?;
        let parsed = parse_text(p.ty, &text).ok_or_else(|| ConfigError::new(field, p.describe(Broken::Type)))?;
        json.push(Scalar::owned(parsed).json());
        texts.push(text);
    }
    let headers = match &p.at {
        At::Header(_) => texts
            .iter()
            .map(|t| HeaderValue::from_str(t))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| ConfigError::new(field, "the value cannot be sent in a header"))?,
        _ => Vec::new(),
    };
    let encoded = urlencoded::encode_pairs(texts.iter().map(|t| (p.name.as_str(), t.as_str())));
    let json = if p.array { Value::Array(json) } else { json.swap_remove(0) };
    Ok(Prepared { headers, encoded, json })
}

impl ParamRules {
    /// Compiles `config`; the error names the offending field.
    pub fn new(config: &ParamValidationConfig) -> Result<Self, ConfigError> {
        let template = match &config.path {
            Some(t) => Some(PathTemplate::parse(t).map_err(|e| ConfigError::new("path", e.reason))?),
            None => None,
        };
        let mut params = Vec::with_capacity(config.params.len());
        for (i, p) in config.params.iter().enumerate() {
            let compiled = compile_param(i, p, config.path.as_deref())?;
            let same = |q: &Compiled| {
                q.position == compiled.position
                    && match (&q.at, &compiled.at) {
                        (At::Header(a), At::Header(b)) => a == b,
                        _ => q.name == compiled.name,
                    }
            };
            if params.iter().any(same) {
                return Err(ConfigError::new(
                    format!("params[{i}].name"),
                    format!("{} {} is defined twice", p.position, p.name),
                ));
            }
            params.push(compiled);
        }
        let schema = match &config.schema {
            None => None,
            Some(schema) => {
                let mut options = jsonschema::options();
                if schema.get("$schema").is_none() {
                    options = options.with_draft(jsonschema::Draft::Draft202012);
                }
                Some(options.build(schema).map_err(|e| ConfigError::new("schema", e))?)
            }
        };
        let has = |pos: Position| params.iter().any(|p| p.position == pos);
        let body = match (has(Position::Form), has(Position::Json) || schema.is_some(), has(Position::Body)) {
            (true, true, _) => {
                let i = config.params.iter().position(|p| p.position == Position::Form).unwrap_or(0);
                return Err(ConfigError::new(
                    format!("params[{i}].position"),
                    "form parameters cannot be mixed with json parameters or a schema: a body is one or the other \
                     (use `body` for a parameter read from either)",
                ));
            }
            (true, false, _) => Some(BodyNeed::Form),
            (false, true, _) => Some(BodyNeed::Json),
            (false, false, true) => Some(BodyNeed::Either),
            (false, false, false) => None,
        };
        let query_names: Vec<String> =
            params.iter().filter(|p| p.position == Position::Query).map(|p| p.name.clone()).collect();
        let form_names: Vec<String> = params
            .iter()
            .filter(|p| matches!(p.position, Position::Form | Position::Body))
            .map(|p| p.name.clone())
            .collect();
        let query_canonical = query_names.iter().map(|n| names::canonical(n)).collect();
        let form_canonical = form_names.iter().map(|n| names::canonical(n)).collect();
        let mut json_keys: Vec<String> = params
            .iter()
            .filter_map(|p| match &p.at {
                At::Json(ptr) | At::Body(ptr) => ptr.split('/').nth(1).map(unescape),
                _ => None,
            })
            .collect();
        if let Some(Value::Object(props)) = config.schema.as_ref().and_then(|s| s.get("properties")) {
            json_keys.extend(props.keys().cloned());
        }
        Ok(Self {
            reads_query: config.strict || has(Position::Query),
            reads_path: has(Position::Path),
            template,
            params,
            schema,
            strict: config.strict,
            body,
            query_names,
            form_names,
            query_canonical,
            form_canonical,
            json_keys,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_names_are_read() {
        assert_eq!(template_names("/a/{x}/b/{y}").collect::<Vec<_>>(), ["x", "y"]);
        assert_eq!(template_names("/a/[x]/b/{y}").collect::<Vec<_>>(), ["x", "y"]);
    }
}
