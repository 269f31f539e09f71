//! Tencent Cloud API Gateway's API definition blocks, as its `CreateApi` API spells them
//! (API 2018-08-08, <https://www.tencentcloud.com/document/api/628/36661>; the SDKs'
//! `tencentcloud/apigateway/v20180808/models.py` classes `RequestParameter`,
//! `ConstantParameter`, `ServiceParameter` and `CreateApiRequest`):
//!
//! | block | fields | becomes |
//! |---|---|---|
//! | `RequestParameters` | `Name`, `Position`, `Type`, `DefaultValue`, `Required`, `Desc` | a [`Param`] each: [`ParamValidationConfig`] |
//! | `ConstantParameters` | `Name`, `Desc`, `Position`, `DefaultValue` (the value) | a constant each: [`ParamInjectionConfig::constants`] |
//! | `ServiceParameters` | `Name`, `Position` (back end), `RelevantRequestParameterPosition`, `RelevantRequestParameterName` (front end), `DefaultValue`, `RelevantRequestParameterDesc`, `RelevantRequestParameterType` | a [`ParamMapping`] each, front end to back end |
//!
//! ```
//! use tollgate_params::TencentApiDefinition;
//!
//! let def: TencentApiDefinition = serde_json::from_str(r#"{
//!     "RequestParameters": [
//!         {"Name": "page", "Position": "QUERY", "Type": "int", "DefaultValue": "1", "Required": false, "Desc": ""},
//!         {"Name": "X-Token", "Position": "head", "Type": "String", "DefaultValue": "", "Required": true}
//!     ],
//!     "ConstantParameters": [{"Name": "source", "Desc": "", "Position": "query", "DefaultValue": "gateway"}],
//!     "ServiceParameters": [{"Name": "x-token", "Position": "header",
//!         "RelevantRequestParameterPosition": "header", "RelevantRequestParameterName": "X-Token"}]
//! }"#).unwrap();
//! let validation = def.validation(None).unwrap().unwrap();
//! assert_eq!(validation.params[0].default, Some("1".into()));
//! assert!(validation.params[1].required && validation.params[1].default.is_none());
//! // a service parameter with the front end's name and position is no mapping
//! assert!(def.injection().unwrap().unwrap().mappings.is_empty());
//!
//! let err = serde_json::from_str::<TencentApiDefinition>(r#"{"RequestParameters": [{"Name": "a", "Position": "cookie"}]}"#)
//!     .unwrap_err();
//! assert!(err.to_string().contains("unknown position \"cookie\""), "{err}");
//! ```
//!
//! How Tencent's values are read:
//!
//! - Positions and types as Tencent writes them, any case: `header` (the SDK's `head` too),
//!   `query`, `path`, `body`; `String`, `int`, `long`, `float`, `double`, `boolean`, ... (see
//!   [`Position`] and [`ParamType`]).
//! - `DefaultValue` is text; an empty one means none. A number or boolean is read as its
//!   text. `Required` is a boolean (the older API's `"TRUE"` / `"FALSE"` are read too).
//! - A **required** parameter with a `DefaultValue` (Tencent's console and its Terraform
//!   examples allow both) is required: the request without it is refused and the default is
//!   never used. (Tollgate's own `params` block refuses the pair; here we accept what Tencent
//!   accepts, keeping the stricter reading.)
//! - A `path` parameter must be bound by the API's path template (`{name}`, or Aliyun's
//!   `[name]`), which [`validation`](TencentApiDefinition::validation) checks when given one.
//! - A `ServiceParameters` entry names a front-end parameter (`RelevantRequestParameter...`)
//!   that `RequestParameters` defines; it passes under its back-end `Name` and `Position`
//!   (`header` or `query`: a back-end `path` would rewrite the path, which tollgate never
//!   does). An entry with the same name and position on both sides (header names compared
//!   ignoring case) changes nothing. Its `DefaultValue`, when not empty, is the front-end
//!   parameter's default (it must agree with the front end's own, if any). The descriptions
//!   and `RelevantRequestParameterType` are documentation.
//! - A constant's value is its `DefaultValue`, and must not be empty; its position is
//!   `header` or `query`.
//!
//! Errors name Tencent's fields: `RequestParameters[1].Type`, `ServiceParameters[0].Position`.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tollgate_core::PathTemplate;

use crate::config::{
    ConfigError, ConstantParam, Param, ParamInjectionConfig, ParamMapping, ParamType, ParamValidationConfig, Position,
};

/// One front-end parameter of `CreateApi`'s `RequestParameters`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct RequestParameter {
    /// The parameter's name.
    pub name: String,
    /// `header` (or `head`), `query`, `path` or `body`.
    pub position: Position,
    /// `String` (the default), `int`, `long`, `float`, `double`, `boolean`, ...
    #[serde(default, rename = "Type")]
    pub param_type: ParamType,
    /// The value used when it is absent; empty means none.
    #[serde(default, deserialize_with = "text")]
    pub default_value: String,
    /// Whether a request without it is refused.
    #[serde(default, deserialize_with = "flag")]
    pub required: bool,
    /// A description (documentation only).
    #[serde(default)]
    pub desc: Option<String>,
}

/// One entry of `CreateApi`'s `ConstantParameters`: a value the gateway adds to every request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct ConstantParameter {
    /// Its name toward the back end.
    pub name: String,
    /// A description (documentation only).
    #[serde(default)]
    pub desc: Option<String>,
    /// `header` or `query`.
    pub position: Position,
    /// The constant's value.
    #[serde(default, deserialize_with = "text")]
    pub default_value: String,
}

/// One entry of `CreateApi`'s `ServiceParameters`: where the back end reads a front-end
/// parameter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct ServiceParameter {
    /// Its name toward the back end.
    pub name: String,
    /// Its position toward the back end: `header` or `query`.
    pub position: Position,
    /// The front-end parameter's position.
    pub relevant_request_parameter_position: Position,
    /// The front-end parameter's name.
    pub relevant_request_parameter_name: String,
    /// The front-end parameter's default; empty means none.
    #[serde(default, deserialize_with = "text")]
    pub default_value: String,
    /// A description (documentation only).
    #[serde(default)]
    pub relevant_request_parameter_desc: Option<String>,
    /// The front-end parameter's type (documentation only: `RequestParameters` types it).
    #[serde(default)]
    pub relevant_request_parameter_type: Option<String>,
}

/// The three parameter blocks of a Tencent API definition (`CreateApi`), turned into
/// tollgate-params' configurations by [`validation`](Self::validation) and
/// [`injection`](Self::injection). See [the module docs](self) for how each field is read.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct TencentApiDefinition {
    /// Front-end parameters.
    #[serde(default)]
    pub request_parameters: Vec<RequestParameter>,
    /// Constants added toward the back end.
    #[serde(default)]
    pub constant_parameters: Vec<ConstantParameter>,
    /// Front-end parameters passed under another back-end name or position.
    #[serde(default)]
    pub service_parameters: Vec<ServiceParameter>,
}

impl TencentApiDefinition {
    /// Whether it defines nothing.
    pub fn is_empty(&self) -> bool {
        self.request_parameters.is_empty() && self.constant_parameters.is_empty() && self.service_parameters.is_empty()
    }

    /// The validation of the front-end parameters, or `None` when there are none. Path
    /// parameters must be bound by `template` (the API's path); without a template, none may
    /// be declared. The configuration carries no template itself: set
    /// [`ParamValidationConfig::path`] when the layer is used without a router that binds
    /// [`PathParams`](tollgate_core::PathParams). Compile it (with
    /// [`ParamValidationLayer::from_config`](crate::ParamValidationLayer::from_config)) through
    /// [`tencent_fields`](Self::tencent_fields) to keep Tencent's names in errors.
    pub fn validation(&self, template: Option<&PathTemplate>) -> Result<Option<ParamValidationConfig>, ConfigError> {
        let mut defaults: Vec<Option<String>> =
            self.request_parameters.iter().map(|p| Some(p.default_value.clone()).filter(|d| !d.is_empty())).collect();
        for (i, s) in self.service_parameters.iter().enumerate() {
            let at = self.front_end(i, s)?;
            if s.default_value.is_empty() {
                continue;
            }
            match &defaults[at] {
                Some(d) if *d != s.default_value => {
                    return Err(ConfigError::new(
                        format!("ServiceParameters[{i}].DefaultValue"),
                        format!("{:?} differs from RequestParameters[{at}].DefaultValue {d:?}", s.default_value),
                    ));
                }
                _ => defaults[at] = Some(s.default_value.clone()),
            }
        }
        if self.request_parameters.is_empty() {
            return Ok(None);
        }
        let mut config = ParamValidationConfig::new();
        for (i, (p, default)) in self.request_parameters.iter().zip(defaults).enumerate() {
            if p.position == Position::Path {
                let bound = template.is_some_and(|t| t.names().any(|n| n == p.name));
                if !bound {
                    let why = match template {
                        Some(t) => format!("the API's path {:?} binds no {{{}}} segment", t.as_str(), p.name),
                        None => format!("a path parameter needs a path template binding {{{}}}", p.name),
                    };
                    return Err(ConfigError::new(format!("RequestParameters[{i}].Name"), why));
                }
            }
            let mut param = Param::new(&p.name, p.position).of_type(p.param_type);
            param.desc = p.desc.clone().filter(|d| !d.is_empty());
            if p.required {
                param = param.required();
            } else if let Some(default) = default {
                param = param.default(Value::String(default));
            }
            config = config.param(param);
        }
        Ok(Some(config))
    }

    /// The constants and mappings, or `None` when there are none (service parameters that
    /// change nothing are left out). Compile it (with
    /// [`ParamInjectionLayer::from_config`](crate::ParamInjectionLayer::from_config)) through
    /// [`tencent_fields`](Self::tencent_fields) to keep Tencent's names in errors.
    pub fn injection(&self) -> Result<Option<ParamInjectionConfig>, ConfigError> {
        let mut config = ParamInjectionConfig::new();
        for (i, c) in self.constant_parameters.iter().enumerate() {
            if c.default_value.is_empty() {
                return Err(ConfigError::new(
                    format!("ConstantParameters[{i}].DefaultValue"),
                    "expected the constant's value (DefaultValue), got an empty one",
                ));
            }
            if !matches!(c.position, Position::Header | Position::Query) {
                return Err(ConfigError::new(
                    format!("ConstantParameters[{i}].Position"),
                    format!("expected header or query, got {}", c.position),
                ));
            }
            config.constants.push(ConstantParam {
                name: c.name.clone(),
                position: c.position,
                value: c.default_value.clone(),
            });
        }
        for (i, s) in self.service_parameters.iter().enumerate() {
            self.front_end(i, s)?;
            let from = (s.relevant_request_parameter_position, s.relevant_request_parameter_name.as_str());
            let to = (s.position, s.name.as_str());
            if same(from, to) {
                continue;
            }
            if !matches!(s.position, Position::Header | Position::Query) {
                return Err(ConfigError::new(
                    format!("ServiceParameters[{i}].Position"),
                    format!(
                        "expected header or query, got {} (tollgate passes a parameter on in a header or the query; \
                         it never rewrites the path or the body)",
                        s.position
                    ),
                ));
            }
            if !matches!(from.0, Position::Header | Position::Query | Position::Path) {
                return Err(ConfigError::new(
                    format!("ServiceParameters[{i}].RelevantRequestParameterPosition"),
                    format!("expected header, query or path, got {} (a body parameter cannot be moved)", from.0),
                ));
            }
            config.mappings.push(ParamMapping::new(from, to));
        }
        Ok((!config.constants.is_empty() || !config.mappings.is_empty()).then_some(config))
    }

    /// The `RequestParameters` index of service parameter `i`'s front-end parameter.
    fn front_end(&self, i: usize, s: &ServiceParameter) -> Result<usize, ConfigError> {
        let want = (s.relevant_request_parameter_position, s.relevant_request_parameter_name.as_str());
        self.request_parameters.iter().position(|p| same((p.position, &p.name), want)).ok_or_else(|| {
            ConfigError::new(
                format!("ServiceParameters[{i}].RelevantRequestParameterName"),
                format!("no RequestParameters entry is {} {}", want.0, want.1),
            )
        })
    }

    /// Renames the fields of an error of [`ParamValidationLayer::from_config`] or
    /// [`ParamInjectionLayer::from_config`] built from this definition's configurations
    /// (`params[1].type`, `mappings[0].to.name`) to Tencent's (`RequestParameters[1].Type`,
    /// `ServiceParameters[2].Name`).
    ///
    /// [`ParamValidationLayer::from_config`]: crate::ParamValidationLayer::from_config
    /// [`ParamInjectionLayer::from_config`]: crate::ParamInjectionLayer::from_config
    pub fn tencent_fields(&self, mut error: ConfigError) -> ConfigError {
        // the service parameters that became mappings, in order
        let mapped: Vec<usize> = self
            .service_parameters
            .iter()
            .enumerate()
            .filter(|(_, s)| {
                !same(
                    (s.relevant_request_parameter_position, &s.relevant_request_parameter_name),
                    (s.position, &s.name),
                )
            })
            .map(|(i, _)| i)
            .collect();
        let renamed = rename(
            &error.field,
            "params",
            "RequestParameters",
            None,
            &[
                ("name", "Name"),
                ("position", "Position"),
                ("type", "Type"),
                ("default", "DefaultValue"),
                ("required", "Required"),
            ],
        )
        .or_else(|| {
            rename(
                &error.field,
                "constants",
                "ConstantParameters",
                None,
                &[("name", "Name"), ("position", "Position"), ("value", "DefaultValue")],
            )
        })
        .or_else(|| {
            rename(
                &error.field,
                "mappings",
                "ServiceParameters",
                Some(&mapped),
                &[
                    ("from.name", "RelevantRequestParameterName"),
                    ("from.position", "RelevantRequestParameterPosition"),
                    ("to.name", "Name"),
                    ("to.position", "Position"),
                    ("keep_original", "RelevantRequestParameterName"),
                ],
            )
        });
        if let Some(field) = renamed {
            error.field = field;
        } else if error.field == "constants, system, mappings" {
            error.field = "ConstantParameters, ServiceParameters".to_owned();
        }
        error
    }
}

/// Whether two (position, name) pairs name the same parameter (header names ignore case).
fn same(a: (Position, &str), b: (Position, &str)) -> bool {
    a.0 == b.0 && if a.0 == Position::Header { a.1.eq_ignore_ascii_case(b.1) } else { a.1 == b.1 }
}

/// `list[i].field` as `to[index[i]].Field`, if `path` is one of `fields` of `list`.
fn rename(path: &str, list: &str, to: &str, index: Option<&[usize]>, fields: &[(&str, &str)]) -> Option<String> {
    let rest = path.strip_prefix(list)?.strip_prefix('[')?;
    let (i, rest) = rest.split_once(']')?;
    let i: usize = i.parse().ok()?;
    let i = match index {
        Some(index) => *index.get(i)?,
        None => i,
    };
    let field = rest.strip_prefix('.').unwrap_or(rest);
    let field = fields.iter().find(|(ours, _)| *ours == field).map_or(field, |(_, theirs)| theirs);
    Some(if field.is_empty() { format!("{to}[{i}]") } else { format!("{to}[{i}].{field}") })
}

/// Text from a string, a number or a boolean (a YAML user writes `DefaultValue: 1`).
fn text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    struct V;
    impl Visitor<'_> for V {
        type Value = String;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string, a number or a boolean")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
            Ok(v.to_owned())
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_unit<E: de::Error>(self) -> Result<String, E> {
            Ok(String::new())
        }
        fn visit_none<E: de::Error>(self) -> Result<String, E> {
            Ok(String::new())
        }
    }
    d.deserialize_any(V)
}

/// A boolean, or the older API's `"TRUE"` / `"FALSE"` (any case).
fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    struct V;
    impl Visitor<'_> for V {
        type Value = bool;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("true or false")
        }
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<bool, E> {
            Ok(v)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
            match v.trim().to_ascii_lowercase().as_str() {
                "true" => Ok(true),
                "false" => Ok(false),
                _ => Err(E::invalid_value(de::Unexpected::Str(v), &self)),
            }
        }
    }
    d.deserialize_any(V)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ParamInjectionLayer, ParamValidationLayer};

    fn def(json: &str) -> TencentApiDefinition {
        serde_json::from_str(json).unwrap()
    }

    fn template(t: &str) -> PathTemplate {
        PathTemplate::parse(t).unwrap()
    }

    #[test]
    fn required_wins_over_a_default_and_empty_means_none() {
        let d = def(r#"{"RequestParameters": [
            {"Name": "name", "Position": "QUERY", "Type": "string", "Desc": "who are you?", "DefaultValue": "tom", "Required": true},
            {"Name": "page", "Position": "query", "Type": "Int", "DefaultValue": 2},
            {"Name": "q", "Position": "query", "DefaultValue": "", "Required": "FALSE"}
        ]}"#);
        let v = d.validation(None).unwrap().unwrap();
        assert_eq!(v.params[0], Param::query("name").required().tap_desc("who are you?"));
        assert_eq!(v.params[1], Param::query("page").int().default("2"));
        assert_eq!(v.params[2], Param::query("q"));
        ParamValidationLayer::from_config(&v).unwrap();
    }

    trait TapDesc {
        fn tap_desc(self, d: &str) -> Self;
    }
    impl TapDesc for Param {
        fn tap_desc(mut self, d: &str) -> Self {
            self.desc = Some(d.to_owned());
            self
        }
    }

    #[test]
    fn path_parameters_need_the_template() {
        let d =
            def(r#"{"RequestParameters": [{"Name": "userId", "Position": "path", "Type": "int", "Required": true}]}"#);
        assert!(d.validation(Some(&template("/users/[userId]"))).unwrap().is_some());
        let e = d.validation(Some(&template("/users/{id}"))).unwrap_err();
        assert_eq!(e.field, "RequestParameters[0].Name");
        assert!(e.problem.contains("binds no {userId}"), "{e}");
        assert_eq!(d.validation(None).unwrap_err().field, "RequestParameters[0].Name");
    }

    #[test]
    fn service_parameters_map_front_to_back() {
        let d = def(r#"{
            "RequestParameters": [
                {"Name": "userId", "Position": "path", "Type": "int", "Required": true},
                {"Name": "X-Token", "Position": "header"}
            ],
            "ServiceParameters": [
                {"Name": "uid", "Position": "query", "RelevantRequestParameterPosition": "path", "RelevantRequestParameterName": "userId"},
                {"Name": "x-token", "Position": "head", "RelevantRequestParameterPosition": "HEADER", "RelevantRequestParameterName": "X-Token", "DefaultValue": "anon"}
            ]
        }"#);
        let inj = d.injection().unwrap().unwrap();
        assert_eq!(inj.mappings, [ParamMapping::new((Position::Path, "userId"), (Position::Query, "uid"))]);
        // the back end's default is the front end's
        let v = d.validation(Some(&template("/u/{userId}"))).unwrap().unwrap();
        assert_eq!(v.params[1].default, Some("anon".into()));
    }

    #[test]
    fn errors_name_tencent_fields() {
        let cases = [
            (
                r#"{"ServiceParameters": [{"Name": "a", "Position": "query", "RelevantRequestParameterPosition": "query", "RelevantRequestParameterName": "b"}]}"#,
                "ServiceParameters[0].RelevantRequestParameterName",
            ),
            (
                r#"{"RequestParameters": [{"Name": "b", "Position": "query"}],
                    "ServiceParameters": [{"Name": "a", "Position": "path", "RelevantRequestParameterPosition": "query", "RelevantRequestParameterName": "b"}]}"#,
                "ServiceParameters[0].Position",
            ),
            (
                r#"{"RequestParameters": [{"Name": "b", "Position": "body"}],
                    "ServiceParameters": [{"Name": "a", "Position": "query", "RelevantRequestParameterPosition": "body", "RelevantRequestParameterName": "b"}]}"#,
                "ServiceParameters[0].RelevantRequestParameterPosition",
            ),
            (
                r#"{"RequestParameters": [{"Name": "b", "Position": "query", "DefaultValue": "1"}],
                    "ServiceParameters": [{"Name": "a", "Position": "query", "RelevantRequestParameterPosition": "query", "RelevantRequestParameterName": "b", "DefaultValue": "2"}]}"#,
                "ServiceParameters[0].DefaultValue",
            ),
            (
                r#"{"ConstantParameters": [{"Name": "a", "Position": "query", "DefaultValue": ""}]}"#,
                "ConstantParameters[0].DefaultValue",
            ),
            (
                r#"{"ConstantParameters": [{"Name": "a", "Position": "path", "DefaultValue": "x"}]}"#,
                "ConstantParameters[0].Position",
            ),
        ];
        for (json, field) in cases {
            let d = def(json);
            let e = d.validation(None).and_then(|_| d.injection()).unwrap_err();
            assert_eq!(e.field, field, "{json}: {e}");
        }
        // errors of the compiled layers, renamed
        let d =
            def(r#"{"RequestParameters": [{"Name": "n", "Position": "query", "Type": "int", "DefaultValue": "x"}]}"#);
        let e = ParamValidationLayer::from_config(&d.validation(None).unwrap().unwrap()).unwrap_err();
        assert_eq!(d.tencent_fields(e).field, "RequestParameters[0].DefaultValue");
        let d = def(r#"{"RequestParameters": [{"Name": "a", "Position": "query"}, {"Name": "b", "Position": "query"}],
            "ServiceParameters": [
                {"Name": "a", "Position": "query", "RelevantRequestParameterPosition": "query", "RelevantRequestParameterName": "a"},
                {"Name": "bad header", "Position": "header", "RelevantRequestParameterPosition": "query", "RelevantRequestParameterName": "b"}
            ]}"#);
        let e = ParamInjectionLayer::from_config(&d.injection().unwrap().unwrap()).unwrap_err();
        assert_eq!(d.tencent_fields(e).field, "ServiceParameters[1].Name");
        let d = def(r#"{"ConstantParameters": [{"Name": "x", "Position": "header", "DefaultValue": "a\nb"}]}"#);
        let e = ParamInjectionLayer::from_config(&d.injection().unwrap().unwrap()).unwrap_err();
        assert_eq!(d.tencent_fields(e).field, "ConstantParameters[0].DefaultValue");
    }

    #[test]
    fn unknown_fields_and_bad_values_are_refused() {
        for json in [
            r#"{"RequestParameters": [{"Name": "a", "Position": "query", "Minimum": 1}]}"#,
            r#"{"RequestParameters": [{"Name": "a", "Position": "query", "Type": "date"}]}"#,
            r#"{"RequestParameters": [{"Name": "a", "Position": "query", "Required": "maybe"}]}"#,
            r#"{"RequestParameters": [{"Name": "a", "Position": "query", "DefaultValue": [1]}]}"#,
            r#"{"requestParameters": []}"#,
        ] {
            assert!(serde_json::from_str::<TencentApiDefinition>(json).is_err(), "{json}");
        }
    }

    proptest::proptest! {
        /// Any JSON shaped like the blocks reads, converts and compiles without panicking,
        /// and every error names a Tencent field.
        #[test]
        fn reading_never_panics(
            params in proptest::collection::vec((
                "[a-zA-Z_ -]{0,6}",
                proptest::sample::select(vec!["header", "head", "QUERY", "path", "body", "form", "cookie"]),
                proptest::sample::select(vec!["String", "int", "long", "float", "double", "boolean", "array", "x"]),
                "[0-9a-z]{0,3}",
                proptest::bool::ANY,
            ), 0..4),
            services in proptest::collection::vec((
                "[a-zA-Z_ -]{0,6}",
                proptest::sample::select(vec!["header", "query", "path", "body"]),
                proptest::sample::select(vec!["header", "query", "path", "body"]),
                "[a-zA-Z_ -]{0,6}",
                "[0-9a-z]{0,2}",
            ), 0..3),
            constants in proptest::collection::vec(("[a-zA-Z_ -]{0,6}", proptest::sample::select(vec!["header", "query", "path"]), "[ -~]{0,4}"), 0..3),
        ) {
            let json = serde_json::json!({
                "RequestParameters": params.iter().map(|(n, p, t, d, r)| serde_json::json!(
                    {"Name": n, "Position": p, "Type": t, "DefaultValue": d, "Required": r})).collect::<Vec<_>>(),
                "ServiceParameters": services.iter().map(|(n, p, fp, fname, d)| serde_json::json!(
                    {"Name": n, "Position": p, "RelevantRequestParameterPosition": fp,
                     "RelevantRequestParameterName": fname, "DefaultValue": d})).collect::<Vec<_>>(),
                "ConstantParameters": constants.iter().map(|(n, p, v)| serde_json::json!(
                    {"Name": n, "Position": p, "DefaultValue": v})).collect::<Vec<_>>(),
            });
            let Ok(d) = serde_json::from_value::<TencentApiDefinition>(json) else { return Ok(()) };
            let t = template("/x/{a}/[b]");
            let tencent = |e: &ConfigError| ["RequestParameters[", "ServiceParameters[", "ConstantParameters["]
                .iter().any(|p| e.field.starts_with(p)) || e.field == "ConstantParameters, ServiceParameters";
            match d.validation(Some(&t)) {
                Ok(Some(v)) => if let Err(e) = ParamValidationLayer::from_config(&v) {
                    let e = d.tencent_fields(e);
                    proptest::prop_assert!(tencent(&e), "{}", e);
                },
                Ok(None) => {}
                Err(e) => proptest::prop_assert!(tencent(&e), "{}", e),
            }
            match d.injection() {
                Ok(Some(c)) => if let Err(e) = ParamInjectionLayer::from_config(&c) {
                    let e = d.tencent_fields(e);
                    proptest::prop_assert!(tencent(&e), "{}", e);
                },
                Ok(None) => {}
                Err(e) => proptest::prop_assert!(tencent(&e), "{}", e),
            }
        }
    }
}
