//! Configuration: Aliyun's `errorMapping` plug-in, read verbatim from its YAML or JSON.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};

pub use tollgate_core::ConfigError;

/// The response bodies read at most, by default, to find a `BodyJsonField`: 64 KiB.
pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024;

/// Aliyun's error-code mapping plug-in (`errorMapping`), as its `PluginData` is written:
///
/// ```
/// use tollgate_error_mapping::ErrorMappingConfig;
///
/// let config: ErrorMappingConfig = serde_norway::from_str(r#"
/// parameters:
///   statusCode: "StatusCode"
///   resultCode: "BodyJsonField:$.result_code"
/// errorCondition: "$statusCode = 200 and $resultCode <> 'OK'"
/// errorCode: "resultCode"
/// mappings:
///   - code: "ROLE_NOT_EXISTS"
///     statusCode: 404
///     errorMessage: "Role Not Exists"
/// "#).unwrap();
/// assert_eq!(config.parameters[1], ("resultCode".to_owned(), "BodyJsonField:$.result_code".to_owned()));
/// assert_eq!(config.mappings[0].status_code, Some(404));
/// ```
///
/// Field names are Aliyun's (`errorCondition`, `statusCode`, ...); the snake_case spellings
/// (`error_condition`, `status_code`, ...) are read too. Unknown fields are refused, naming
/// them: a misspelt `statuscode` would otherwise map nothing, silently. Reading checks only
/// the shape; [`ErrorMappingLayer::from_config`](crate::ErrorMappingLayer::from_config)
/// checks the rest (the parameters, the condition, the statuses), naming the field.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[non_exhaustive]
pub struct ErrorMappingConfig {
    /// `parameters`: variable name → `Location` or `Location:name`, in the order written. A
    /// name given twice is refused.
    #[serde(deserialize_with = "ordered_map")]
    pub parameters: Vec<(String, String)>,
    /// `errorCondition`: when it holds, the response is mapped.
    #[serde(alias = "error_condition")]
    pub error_condition: String,
    /// `errorCode`: the parameter whose value is matched against `mappings[].code`.
    #[serde(default, alias = "error_code")]
    pub error_code: Option<String>,
    /// `mappings`: tried in order; the first whose `code` is the error code's value applies.
    pub mappings: Vec<MappingConfig>,
    /// `defaultMapping`: applies when the condition holds and no mapping matched.
    #[serde(default, alias = "default_mapping")]
    pub default_mapping: Option<MappingConfig>,
    /// Ours, not Aliyun's: the most bytes of a JSON response read to find its
    /// `BodyJsonField`s ([`DEFAULT_BODY_LIMIT`] when absent).
    #[serde(default, alias = "body_limit")]
    pub body_limit: Option<usize>,
}

impl ErrorMappingConfig {
    /// A plug-in mapping the responses for which `error_condition` holds; add its
    /// parameters and mappings with the methods below, then build it with
    /// [`ErrorMappingLayer::from_config`](crate::ErrorMappingLayer::from_config), which
    /// checks it all.
    ///
    /// ```
    /// use tollgate_error_mapping::{ErrorMappingConfig, ErrorMappingLayer};
    ///
    /// let config = ErrorMappingConfig::new("$status >= 500 or $code <> null")
    ///     .parameter("status", "StatusCode")
    ///     .parameter("code", "BodyJsonField:$.error.code")
    ///     .error_code("code")
    ///     .mapping("NO_SUCH_USER", 404, "No such user")
    ///     .default_mapping(502, "Backend error ${code}");
    /// let layer = ErrorMappingLayer::from_config(&config)?;
    /// assert!(layer.reads_bodies());
    ///
    /// let bad = ErrorMappingConfig::new("$status = 500").parameter("status", "Query:status");
    /// assert_eq!(ErrorMappingLayer::from_config(&bad).unwrap_err().field, "parameters.status");
    /// # Ok::<(), tollgate_error_mapping::ConfigError>(())
    /// ```
    pub fn new(error_condition: impl Into<String>) -> Self {
        Self {
            parameters: Vec::new(),
            error_condition: error_condition.into(),
            error_code: None,
            mappings: Vec::new(),
            default_mapping: None,
            body_limit: None,
        }
    }

    /// Adds a parameter: `name` read as `$name`, from `location` (`StatusCode`, `ErrorCode`,
    /// `Header:NAME`, `BodyJsonField:$.PATH`, `System:NAME`, `Token:NAME`).
    pub fn parameter(mut self, name: impl Into<String>, location: impl Into<String>) -> Self {
        self.parameters.push((name.into(), location.into()));
        self
    }

    /// Names the parameter whose value is matched against the mappings' codes.
    pub fn error_code(mut self, parameter: impl Into<String>) -> Self {
        self.error_code = Some(parameter.into());
        self
    }

    /// Adds a mapping: the error code `code` becomes `status` with the message `message`
    /// (`${name}` placeholders allowed).
    pub fn mapping(mut self, code: impl Into<String>, status: u16, message: impl Into<String>) -> Self {
        self.mappings.push(MappingConfig {
            code: Some(code.into()),
            status_code: Some(status.into()),
            error_message: Some(message.into()),
        });
        self
    }

    /// Sets the mapping of an error no mapping's code matched.
    pub fn default_mapping(mut self, status: u16, message: impl Into<String>) -> Self {
        self.default_mapping =
            Some(MappingConfig { code: None, status_code: Some(status.into()), error_message: Some(message.into()) });
        self
    }

    /// The most bytes of a JSON response read ([`DEFAULT_BODY_LIMIT`] by default).
    pub fn body_limit(mut self, limit: usize) -> Self {
        self.body_limit = Some(limit);
        self
    }
}

/// One entry of `mappings` (or `defaultMapping`, which has no `code`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[non_exhaustive]
pub struct MappingConfig {
    /// `code`: the error code this entry maps. Without it, the entry maps every code (it is
    /// a catch-all at its place in the list).
    #[serde(default, deserialize_with = "text_or_number")]
    pub code: Option<String>,
    /// `statusCode`: the status the client sees (200 to 599). Required.
    #[serde(default, alias = "status_code", deserialize_with = "status")]
    pub status_code: Option<u64>,
    /// `errorMessage`: the `X-Ca-Error-Message` the client sees, with `${name}` replaced by
    /// the parameter's value. Without it, the header is not set.
    #[serde(default, alias = "error_message")]
    pub error_message: Option<String>,
}

/// A map read in order, refusing a key given twice (a `BTreeMap` would keep the last).
fn ordered_map<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(String, String)>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Vec<(String, String)>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a map of parameter name to location (resultCode: \"BodyJsonField:$.result_code\")")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out: Vec<(String, String)> = Vec::new();
            while let Some((name, location)) = map.next_entry::<String, String>()? {
                if out.iter().any(|(n, _)| *n == name) {
                    return Err(de::Error::custom(format!("parameter {name:?} is defined twice")));
                }
                out.push((name, location));
            }
            Ok(out)
        }
    }
    d.deserialize_map(V)
}

/// A code: text, or a number written without quotes (`code: 1001`), read as its text.
fn text_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    struct V;
    impl Visitor<'_> for V {
        type Value = Option<String>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an error code (text or a number)")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(v.to_owned()))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    }
    d.deserialize_any(V)
}

/// A status: a number, or text of one (`"404"`); its range is checked when the layer is built.
fn status<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    struct V;
    impl Visitor<'_> for V {
        type Value = Option<u64>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an HTTP status (200 to 599)")
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(v))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            u64::try_from(v).map(Some).map_err(|_| E::custom(format!("expected an HTTP status (200 to 599), got {v}")))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            v.trim()
                .parse()
                .map(Some)
                .map_err(|_| E::custom(format!("expected an HTTP status (200 to 599), got {v:?}")))
        }
    }
    d.deserialize_any(V)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_snake_case_string_statuses_and_numeric_codes() {
        let c: ErrorMappingConfig = serde_json::from_str(
            r#"{"parameters": {"s": "StatusCode"}, "error_condition": "$s = 500", "error_code": "s",
                "mappings": [{"code": 500, "status_code": "502", "error_message": "m"}],
                "default_mapping": {"statusCode": 503}, "bodyLimit": 10}"#,
        )
        .unwrap();
        assert_eq!(c.mappings[0].code.as_deref(), Some("500"));
        assert_eq!(c.mappings[0].status_code, Some(502));
        assert_eq!(c.default_mapping.unwrap().status_code, Some(503));
        assert_eq!(c.body_limit, Some(10));
    }

    #[test]
    fn refuses_a_parameter_twice_and_unknown_fields() {
        let e = serde_json::from_str::<ErrorMappingConfig>(
            r#"{"parameters": {"a": "StatusCode", "a": "ErrorCode"}, "errorCondition": "1 = 1", "mappings": []}"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("parameter \"a\" is defined twice"), "{e}");
        let e = serde_json::from_str::<ErrorMappingConfig>(
            r#"{"parameters": {}, "errorCondition": "1 = 1", "mappings": [{"statuscode": 400}]}"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("unknown field `statuscode`"), "{e}");
    }
}
