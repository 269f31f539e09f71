//! Configuration, from code (builder methods) or serde data: parameter definitions for
//! [`ParamValidationLayer`](crate::ParamValidationLayer), and constants, system parameters
//! and mappings for [`ParamInjectionLayer`](crate::ParamInjectionLayer).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

pub use tollgate_core::{ConfigError, SystemParam, SystemValues};

/// Reads an enum from its name, case-insensitively, with the references' aliases.
macro_rules! named_enum {
    ($ty:ident, $what:literal, { $($variant:ident => $name:literal $(| $alias:literal)*),+ $(,)? }) => {
        impl $ty {
            /// The name as written in configuration.
            pub fn as_str(&self) -> &'static str {
                match self { $(Self::$variant => $name),+ }
            }
        }

        impl FromStr for $ty {
            type Err = String;

            fn from_str(s: &str) -> Result<Self, String> {
                let lower = s.trim().to_ascii_lowercase();
                $(if lower == $name $(|| lower == $alias)* { return Ok(Self::$variant); })+
                Err(format!(concat!("unknown ", $what, " {:?}, expected one of: {}"), s, [$($name),+].join(", ")))
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

/// Where a parameter lives.
///
/// Names are read case-insensitively; Aliyun's `HEAD` is `header`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Position {
    /// A request header (names compared case-insensitively).
    Header,
    /// A query-string parameter (names compared after percent-decoding, case-sensitively).
    Query,
    /// A segment bound by the path template (`/user/{userid}`) or the router.
    Path,
    /// A field of an `application/x-www-form-urlencoded` body.
    Form,
    /// A value of a JSON body, addressed by a JSON pointer ([`Param::pointer`]).
    Json,
    /// The references' `body`: a form field in a form body, a JSON value (pointer
    /// `/{name}` unless set) in a JSON body; the request's `Content-Type` decides.
    Body,
}

named_enum!(Position, "position", {
    Header => "header" | "head",
    Query => "query",
    Path => "path",
    Form => "form",
    Json => "json",
    Body => "body",
});

impl Position {
    /// Whether reading the parameter needs the request body.
    pub fn in_body(self) -> bool {
        matches!(self, Self::Form | Self::Json | Self::Body)
    }
}

/// A parameter's type (the references' `String`, `Int`, `Long`, `Float`, `Double`,
/// `Boolean`, `Array`; names read case-insensitively).
///
/// | type | a value passes when it is |
/// |---|---|
/// | `string` | any text (in JSON: a string) |
/// | `int` | a 32-bit signed integer: `-12`, `+7`, `007` (in JSON: an integer number) |
/// | `long` | a 64-bit signed integer |
/// | `float` | a finite number that fits a 32-bit float: `1.5`, `-2e3` (not `NaN`, not `inf`) |
/// | `double` | a finite 64-bit float |
/// | `boolean` | `true` or `false`, any case (in JSON: a boolean) |
/// | `array` | every occurrence passes as [`Param::items`] (repeated query keys, form fields or headers; a JSON array) |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ParamType {
    /// Text.
    #[default]
    String,
    /// A 32-bit signed integer.
    Int,
    /// A 64-bit signed integer.
    Long,
    /// A 32-bit float.
    Float,
    /// A 64-bit float.
    Double,
    /// `true` or `false`.
    Boolean,
    /// Several values, each of the [`Param::items`] type.
    Array,
}

named_enum!(ParamType, "type", {
    String => "string",
    Int => "int" | "integer" | "int32",
    Long => "long" | "int64",
    Float => "float",
    Double => "double" | "number",
    Boolean => "boolean" | "bool",
    Array => "array",
});

impl ParamType {
    /// The type's name with an article, for messages ("an int").
    pub(crate) fn described(self) -> &'static str {
        match self {
            Self::String => "a string",
            Self::Int => "an int (32-bit integer)",
            Self::Long => "a long (64-bit integer)",
            Self::Float => "a float (finite 32-bit number)",
            Self::Double => "a double (finite number)",
            Self::Boolean => "a boolean (true or false)",
            Self::Array => "an array",
        }
    }

    pub(crate) fn is_number(self) -> bool {
        matches!(self, Self::Int | Self::Long | Self::Float | Self::Double)
    }
}

/// A bound of [`Param::min`] / [`Param::max`]: an integer or a float.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Limit {
    /// An integer bound.
    Int(i64),
    /// A float bound.
    Float(f64),
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Int(n) => write!(f, "{n}"),
            Self::Float(x) => write!(f, "{x}"),
        }
    }
}

macro_rules! limit_from {
    ($($int:ty),*) => { $(impl From<$int> for Limit { fn from(n: $int) -> Self { Self::Int(i64::from(n)) } })* };
}
limit_from!(i8, i16, i32, i64, u8, u16, u32);

impl From<f64> for Limit {
    fn from(x: f64) -> Self {
        Self::Float(x)
    }
}

impl From<f32> for Limit {
    fn from(x: f32) -> Self {
        Self::Float(f64::from(x))
    }
}

/// One front-end parameter definition: where it is, its type, and the rules its values
/// follow.
///
/// From serde (field names after the Tencent / Aliyun API definitions; `defaultValue`,
/// `desc` and `example` are read too):
///
/// ```
/// use tollgate_params::{Param, ParamType, Position};
///
/// let p: Param = serde_json::from_str(r#"{
///     "name": "page", "position": "QUERY", "type": "Int",
///     "required": false, "defaultValue": 1, "min": 1, "max": 1000
/// }"#).unwrap();
/// assert_eq!(p, Param::query("page").int().default(1).min(1).max(1000));
/// assert_eq!((p.position, p.param_type), (Position::Query, ParamType::Int));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Param {
    /// The parameter's name (for JSON parameters also the default pointer, `/{name}`).
    pub name: String,
    /// Where it lives.
    pub position: Position,
    /// For [`Position::Json`] and [`Position::Body`] in a JSON body: the JSON pointer
    /// (RFC 6901) to the value, `/order/qty`; default `/{name}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pointer: Option<String>,
    /// Its type (default `string`).
    #[serde(rename = "type", default)]
    pub param_type: ParamType,
    /// For arrays, the type of each element (default `string`; not `array`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items: Option<ParamType>,
    /// Whether a request without it is refused (`Missing{Name}`).
    #[serde(default)]
    pub required: bool,
    /// The value written into the request when the parameter is absent (not with
    /// `required`, not for path parameters). A string, number or boolean; a list for arrays.
    #[serde(default, alias = "defaultValue", alias = "default_value", skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
    /// Smallest allowed number, inclusive (numbers only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<Limit>,
    /// Largest allowed number, inclusive (numbers only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<Limit>,
    /// Fewest characters (Unicode scalar values; strings only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_length: Option<usize>,
    /// Most characters (Unicode scalar values; strings only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<usize>,
    /// The values allowed (the enumeration); numbers compare as numbers.
    #[serde(rename = "enum", default, skip_serializing_if = "Vec::is_empty")]
    pub one_of: Vec<Value>,
    /// A regular expression ([`regex`](https://docs.rs/regex) syntax) the whole value
    /// must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regex: Option<String>,
    /// A description (documentation only).
    #[serde(default, alias = "description", skip_serializing_if = "Option::is_none")]
    pub desc: Option<String>,
    /// An example value (documentation only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub example: Option<Value>,
}

impl Param {
    /// A parameter at `position`; a string, optional, with no rules.
    pub fn new(name: impl Into<String>, position: Position) -> Self {
        Self {
            name: name.into(),
            position,
            pointer: None,
            param_type: ParamType::String,
            items: None,
            required: false,
            default: None,
            min: None,
            max: None,
            min_length: None,
            max_length: None,
            one_of: Vec::new(),
            regex: None,
            desc: None,
            example: None,
        }
    }

    /// A request header.
    pub fn header(name: impl Into<String>) -> Self {
        Self::new(name, Position::Header)
    }

    /// A query-string parameter.
    pub fn query(name: impl Into<String>) -> Self {
        Self::new(name, Position::Query)
    }

    /// A path parameter (`{name}` in the template).
    pub fn path(name: impl Into<String>) -> Self {
        Self::new(name, Position::Path)
    }

    /// A form field.
    pub fn form(name: impl Into<String>) -> Self {
        Self::new(name, Position::Form)
    }

    /// A JSON body value at `pointer` (`/order/qty`), reported as `name`.
    pub fn json(name: impl Into<String>, pointer: impl Into<String>) -> Self {
        Self::new(name, Position::Json).pointer(pointer)
    }

    /// The references' body parameter: a form field or a top-level JSON value.
    pub fn body(name: impl Into<String>) -> Self {
        Self::new(name, Position::Body)
    }

    /// Sets the JSON pointer.
    pub fn pointer(mut self, pointer: impl Into<String>) -> Self {
        self.pointer = Some(pointer.into());
        self
    }

    /// Sets the type.
    pub fn of_type(mut self, param_type: ParamType) -> Self {
        self.param_type = param_type;
        self
    }

    /// A string (the default).
    pub fn string(self) -> Self {
        self.of_type(ParamType::String)
    }

    /// A 32-bit integer.
    pub fn int(self) -> Self {
        self.of_type(ParamType::Int)
    }

    /// A 64-bit integer.
    pub fn long(self) -> Self {
        self.of_type(ParamType::Long)
    }

    /// A 32-bit float.
    pub fn float(self) -> Self {
        self.of_type(ParamType::Float)
    }

    /// A 64-bit float.
    pub fn double(self) -> Self {
        self.of_type(ParamType::Double)
    }

    /// A boolean.
    pub fn boolean(self) -> Self {
        self.of_type(ParamType::Boolean)
    }

    /// An array of `items`.
    pub fn array_of(mut self, items: ParamType) -> Self {
        self.param_type = ParamType::Array;
        self.items = Some(items);
        self
    }

    /// Refuses requests without it.
    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }

    /// The value used when it is absent, written into the request.
    pub fn default(mut self, value: impl Into<Value>) -> Self {
        self.default = Some(value.into());
        self
    }

    /// Smallest allowed number, inclusive.
    pub fn min(mut self, min: impl Into<Limit>) -> Self {
        self.min = Some(min.into());
        self
    }

    /// Largest allowed number, inclusive.
    pub fn max(mut self, max: impl Into<Limit>) -> Self {
        self.max = Some(max.into());
        self
    }

    /// Fewest characters.
    pub fn min_length(mut self, n: usize) -> Self {
        self.min_length = Some(n);
        self
    }

    /// Most characters.
    pub fn max_length(mut self, n: usize) -> Self {
        self.max_length = Some(n);
        self
    }

    /// The values allowed.
    pub fn one_of<I, V>(mut self, values: I) -> Self
    where
        I: IntoIterator<Item = V>,
        V: Into<Value>,
    {
        self.one_of = values.into_iter().map(Into::into).collect();
        self
    }

    /// A regular expression the whole value must match.
    pub fn regex(mut self, pattern: impl Into<String>) -> Self {
        self.regex = Some(pattern.into());
        self
    }
}

/// What [`ParamValidationLayer`](crate::ParamValidationLayer) checks.
///
/// ```
/// use tollgate_params::{Param, ParamValidationConfig};
///
/// let config: ParamValidationConfig = serde_json::from_str(r#"{
///     "path": "/orders/{id}",
///     "params": [
///         {"name": "id", "position": "path", "type": "long", "required": true},
///         {"name": "page", "position": "query", "type": "int", "default": 1, "min": 1}
///     ],
///     "strict": true
/// }"#).unwrap();
/// let built = ParamValidationConfig::new()
///     .path("/orders/{id}")
///     .param(Param::path("id").long().required())
///     .param(Param::query("page").int().default(1).min(1))
///     .strict(true);
/// assert_eq!(config, built);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParamValidationConfig {
    /// The path template binding path parameters (`/user/{userid}`). When set, requests
    /// whose path does not match it are not this API's and pass through unchecked. Without
    /// it, path parameters come from core's `PathParams` in the request extensions, or
    /// (feature `axum`) from the router's matched path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The parameter definitions, in the order problems are reported.
    #[serde(default)]
    pub params: Vec<Param>,
    /// A JSON Schema every JSON body must satisfy (draft 2020-12 unless its `$schema` says
    /// otherwise; remote `$ref`s are not fetched).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<Value>,
    /// Refuse query parameters, form fields and top-level JSON keys that no definition
    /// names (headers are never refused). Off by default: undefined parameters pass through
    /// untouched, as the reference gateways do.
    #[serde(default)]
    pub strict: bool,
}

impl ParamValidationConfig {
    /// No definitions yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the path template.
    pub fn path(mut self, template: impl Into<String>) -> Self {
        self.path = Some(template.into());
        self
    }

    /// Adds a parameter definition.
    pub fn param(mut self, param: Param) -> Self {
        self.params.push(param);
        self
    }

    /// Sets the JSON Schema of JSON bodies.
    pub fn schema(mut self, schema: Value) -> Self {
        self.schema = Some(schema);
        self
    }

    /// Refuses undefined query parameters, form fields and top-level JSON keys.
    pub fn strict(mut self, strict: bool) -> Self {
        self.strict = strict;
        self
    }
}

/// A parameter named by position and name: `{"position": "query", "name": "page"}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Location {
    /// Where it lives.
    pub position: Position,
    /// Its name.
    pub name: String,
}

impl Location {
    /// A location.
    pub fn new(position: Position, name: impl Into<String>) -> Self {
        Self { position, name: name.into() }
    }
}

impl<S: Into<String>> From<(Position, S)> for Location {
    fn from((position, name): (Position, S)) -> Self {
        Self::new(position, name)
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.position, self.name)
    }
}

/// A constant parameter: the same value on every request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConstantParam {
    /// Its name toward the handler.
    pub name: String,
    /// `header` or `query`.
    pub position: Position,
    /// The value.
    pub value: String,
}

/// A system parameter passed under a name of the user's choice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SystemParamConfig {
    /// Its name toward the handler.
    pub name: String,
    /// `header` or `query`.
    pub position: Position,
    /// Which fact.
    pub param: SystemParam,
}

/// A front-end parameter passed to the handler under another position or name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParamMapping {
    /// Where the caller sends it: `header`, `query` or `path`.
    pub from: Location,
    /// Where the handler reads it: `header` or `query`.
    pub to: Location,
    /// Keep the original too (default: it is removed; a path segment always stays).
    #[serde(default)]
    pub keep_original: bool,
}

impl ParamMapping {
    /// Moves the parameter at `from` to `to`.
    pub fn new(from: impl Into<Location>, to: impl Into<Location>) -> Self {
        Self { from: from.into(), to: to.into(), keep_original: false }
    }

    /// Keeps the original too.
    pub fn keep_original(mut self) -> Self {
        self.keep_original = true;
        self
    }
}

fn release() -> String {
    "RELEASE".to_owned()
}

fn http_scheme() -> String {
    "http".to_owned()
}

/// What [`ParamInjectionLayer`](crate::ParamInjectionLayer) adds and moves.
///
/// ```
/// use tollgate_params::{ParamInjectionConfig, ParamMapping, Position, SystemParam};
///
/// let config: ParamInjectionConfig = serde_json::from_str(r#"{
///     "api_name": "GetOrder",
///     "constants": [{"name": "x-env", "position": "header", "value": "prod"}],
///     "system": [{"name": "x-client-ip", "position": "header", "param": "CaClientIp"}],
///     "mappings": [{"from": {"position": "query", "name": "uid"},
///                   "to": {"position": "header", "name": "x-user-id"}}]
/// }"#).unwrap();
/// let built = ParamInjectionConfig::new()
///     .api_name("GetOrder")
///     .constant(Position::Header, "x-env", "prod")
///     .system(Position::Header, "x-client-ip", SystemParam::ClientIp)
///     .mapping(ParamMapping::new((Position::Query, "uid"), (Position::Header, "x-user-id")));
/// assert_eq!(config, built);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParamInjectionConfig {
    /// The path template binding path parameters for mappings from `path` (a path that
    /// does not match binds none; constants and system parameters apply to every request).
    /// Without it, they come from core's `PathParams` in the extensions (which
    /// [`ParamValidationLayer`](crate::ParamValidationLayer) puts there) or, with feature
    /// `axum`, from the router.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The API's name, for [`SystemParam::ApiName`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_name: Option<String>,
    /// The stage, for [`SystemParam::Stage`] (default `RELEASE`).
    #[serde(default = "release")]
    pub stage: String,
    /// The scheme for [`SystemParam::Scheme`] when the request URI carries none (default
    /// `http`; set `https` behind a TLS terminator).
    #[serde(default = "http_scheme")]
    pub default_scheme: String,
    /// `CaProxy` (default `AliCloudApiGateway`, Aliyun's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy: Option<String>,
    /// `CaInstanceId`: the gateway instance's id, for [`SystemParam::InstanceId`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    /// `CaSourceVpcId`, for [`SystemParam::SourceVpcId`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_vpc_id: Option<String>,
    /// `CaCloudMarketInstanceId`, for [`SystemParam::CloudMarketInstanceId`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_market_instance_id: Option<String>,
    /// `CaAppExtendInfo`, for [`SystemParam::AppExtendInfo`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_extend_info: Option<String>,
    /// Constant parameters.
    #[serde(default)]
    pub constants: Vec<ConstantParam>,
    /// System parameters.
    #[serde(default)]
    pub system: Vec<SystemParamConfig>,
    /// Parameter mappings.
    #[serde(default)]
    pub mappings: Vec<ParamMapping>,
}

impl Default for ParamInjectionConfig {
    fn default() -> Self {
        Self {
            path: None,
            api_name: None,
            stage: release(),
            default_scheme: http_scheme(),
            proxy: None,
            instance_id: None,
            source_vpc_id: None,
            cloud_market_instance_id: None,
            app_extend_info: None,
            constants: Vec::new(),
            system: Vec::new(),
            mappings: Vec::new(),
        }
    }
}

impl ParamInjectionConfig {
    /// Nothing injected yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the path template for mappings from `path`.
    pub fn path(mut self, template: impl Into<String>) -> Self {
        self.path = Some(template.into());
        self
    }

    /// Sets the API name.
    pub fn api_name(mut self, name: impl Into<String>) -> Self {
        self.api_name = Some(name.into());
        self
    }

    /// Sets the stage.
    pub fn stage(mut self, stage: impl Into<String>) -> Self {
        self.stage = stage.into();
        self
    }

    /// Sets the scheme used when the request URI carries none.
    pub fn default_scheme(mut self, scheme: impl Into<String>) -> Self {
        self.default_scheme = scheme.into();
        self
    }

    /// Sets the value of a system parameter only configuration knows
    /// ([`SystemParam::is_configured`]: `CaApiName`, `CaStage`, `CaProxy`, `CaInstanceId`,
    /// `CaSourceVpcId`, `CaCloudMarketInstanceId`, `CaAppExtendInfo`); others are ignored.
    pub fn system_value(mut self, param: SystemParam, value: impl Into<String>) -> Self {
        let value = value.into();
        match param {
            SystemParam::ApiName => self.api_name = Some(value),
            SystemParam::Stage => self.stage = value,
            SystemParam::Proxy => self.proxy = Some(value),
            SystemParam::InstanceId => self.instance_id = Some(value),
            SystemParam::SourceVpcId => self.source_vpc_id = Some(value),
            SystemParam::CloudMarketInstanceId => self.cloud_market_instance_id = Some(value),
            SystemParam::AppExtendInfo => self.app_extend_info = Some(value),
            _ => {}
        }
        self
    }

    /// The configured system parameters' values, as core's [`SystemValues`].
    pub fn system_values(&self) -> SystemValues {
        let mut values = SystemValues::new().set(SystemParam::Stage, self.stage.clone());
        let set = [
            (SystemParam::ApiName, &self.api_name),
            (SystemParam::Proxy, &self.proxy),
            (SystemParam::InstanceId, &self.instance_id),
            (SystemParam::SourceVpcId, &self.source_vpc_id),
            (SystemParam::CloudMarketInstanceId, &self.cloud_market_instance_id),
            (SystemParam::AppExtendInfo, &self.app_extend_info),
        ];
        for (param, value) in set {
            if let Some(value) = value {
                values = values.set(param, value.clone());
            }
        }
        values
    }

    /// Adds a constant parameter at `position` (`Header` or `Query`).
    pub fn constant(mut self, position: Position, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.constants.push(ConstantParam { name: name.into(), position, value: value.into() });
        self
    }

    /// Adds a system parameter at `position` (`Header` or `Query`).
    pub fn system(mut self, position: Position, name: impl Into<String>, param: SystemParam) -> Self {
        self.system.push(SystemParamConfig { name: name.into(), position, param });
        self
    }

    /// Adds a parameter mapping.
    pub fn mapping(mut self, mapping: ParamMapping) -> Self {
        self.mappings.push(mapping);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_case_insensitive_with_aliases() {
        assert_eq!("HEAD".parse::<Position>(), Ok(Position::Header));
        assert_eq!("Body".parse::<Position>(), Ok(Position::Body));
        assert_eq!("Int".parse::<ParamType>(), Ok(ParamType::Int));
        assert_eq!("CaClientIp".parse::<SystemParam>(), Ok(SystemParam::ClientIp));
        let err = "cookie".parse::<Position>().unwrap_err();
        assert!(err.contains("header, query, path, form, json, body"), "{err}");
    }

    #[test]
    fn serde_round_trip() {
        let p = Param::json("qty", "/order/qty").array_of(ParamType::Int).one_of([1, 2]).regex("^[0-9]+$");
        let text = serde_json::to_string(&p).unwrap();
        assert_eq!(serde_json::from_str::<Param>(&text).unwrap(), p);
        let m: Limit = serde_json::from_str("1.5").unwrap();
        assert_eq!(m, Limit::Float(1.5));
    }

    #[test]
    fn unknown_fields_are_refused() {
        let err = serde_json::from_str::<Param>(r#"{"name": "a", "position": "query", "maxi": 1}"#).unwrap_err();
        assert!(err.to_string().contains("maxi"), "{err}");
    }
}
