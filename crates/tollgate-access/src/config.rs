//! Configuration: the `accessControl` plug-in's YAML or JSON, field for field (camelCase),
//! and a builder that writes the same thing in code.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, Visitor};
use serde::{Deserialize, Serialize};

pub use tollgate_core::ConfigError;
use tollgate_core::condition::{AliyunLocation, AliyunParameters};

/// What a rule does when its condition comes out one way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Action {
    /// Stop here and let the request through.
    Allow,
    /// Stop here and refuse the request with the rule's response.
    Deny,
}

impl<'de> Deserialize<'de> for Action {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        // the console writes ALLOW / DENY; any case is the same word
        match text.trim().to_ascii_uppercase().as_str() {
            "ALLOW" => Ok(Self::Allow),
            "DENY" => Ok(Self::Deny),
            _ => Err(de::Error::custom(format!("expected ALLOW or DENY, got {text:?}"))),
        }
    }
}

/// The `accessControl` plug-in: the parameters its conditions read, and its rules in order.
///
/// Read from the plug-in's text as pasted from the Aliyun console (YAML or JSON, camelCase
/// field names) with [`AccessControlConfig::from_plugin`], from any serde format, or written
/// with the builder ([`new`](Self::new), [`parameter`](Self::parameter), [`rule`](Self::rule)).
/// Unknown fields are refused rather than ignored: a misspelt `ifFalse` would otherwise leave
/// a rule that never denies.
///
/// ```
/// use tollgate_access::{AccessControlConfig, Action, Rule};
///
/// let config = AccessControlConfig::from_plugin(r#"
/// parameters:
///   appId: "System:CaAppId"
/// rules:
///   - name: partners
///     condition: "$appId = 4534463 or $appId = 86734572"
///     ifFalse: "DENY"
/// "#)?;
/// assert_eq!(config.rules[0].if_false, Some(Action::Deny));
///
/// let same = AccessControlConfig::new()
///     .parameter("appId", "System:CaAppId")?
///     .rule(Rule::new("$appId = 4534463 or $appId = 86734572").named("partners").if_false(Action::Deny));
/// assert_eq!(same.rules, config.rules);
/// # Ok::<(), tollgate_access::ConfigError>(())
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AccessControlConfig {
    /// The plug-in's `parameters`: variable name → `Location:Name` (tollgate-core's reading
    /// of them, checked for the request phase when the layer is built).
    #[serde(default)]
    pub parameters: AliyunParameters,
    /// The rules, in the order they are tried.
    #[serde(default)]
    pub rules: Vec<Rule>,
}

impl AccessControlConfig {
    /// An empty configuration, to fill with the builder methods.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads the plug-in's text, YAML or JSON, as the console takes it. An error names the
    /// field (`rules[1].ifTrue`) and what was expected.
    pub fn from_plugin(text: &str) -> Result<Self, ConfigError> {
        let de = serde_norway::Deserializer::from_str(text);
        serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let path = if path == "." { String::new() } else { path };
            let message = e.into_inner().to_string();
            // serde_norway names (part of) the path itself: say it once
            let message = match message.split_once(": ") {
                Some((head, rest)) if !path.is_empty() && path.starts_with(head) => rest.to_owned(),
                _ => message,
            };
            ConfigError::new(path, message)
        })
    }

    /// Declares the variable `$name` as what `location` names (`"Token:userId"`,
    /// `"Query:action"`, `"System:CaAppId"`, `"XFF:-1"`, ...).
    pub fn parameter(mut self, name: &str, location: &str) -> Result<Self, ConfigError> {
        let location: AliyunLocation =
            location.parse().map_err(|e| ConfigError::new(format!("parameters.{name}"), e))?;
        self.parameters = std::mem::take(&mut self.parameters).with(name, location)?;
        Ok(self)
    }

    /// Adds a rule after the others.
    pub fn rule(mut self, rule: Rule) -> Self {
        self.rules.push(rule);
        self
    }
}

/// One rule: a condition, what to do when it holds and when it does not, and the response
/// of a refusal.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Rule {
    /// The rule's name, for logs (never shown to the client).
    #[serde(default)]
    pub name: Option<String>,
    /// The condition, in Aliyun's dialect (`$userType = 'admin'`).
    pub condition: String,
    /// What to do when the condition holds; nothing (the next rule) when absent.
    #[serde(default)]
    pub if_true: Option<Action>,
    /// What to do when the condition does not hold; nothing (the next rule) when absent.
    #[serde(default)]
    pub if_false: Option<Action>,
    /// The refusal's HTTP status (default 403).
    #[serde(default, deserialize_with = "status_code")]
    pub status_code: Option<u16>,
    /// The refusal's message (`X-Ca-Error-Message` in the Aliyun style), with `${name}`
    /// interpolation.
    #[serde(default)]
    pub error_message: Option<String>,
    /// Headers of the refusal response.
    #[serde(default, deserialize_with = "scalar_map")]
    pub response_headers: BTreeMap<String, String>,
    /// The refusal's body, with `${name}` interpolation.
    #[serde(default)]
    pub response_body: Option<String>,
    /// Datasets (dedicated instances only): read to be refused when the layer is built.
    #[serde(default)]
    pub assert_parameter_name: Option<IgnoredAny>,
    /// Datasets (dedicated instances only): read to be refused when the layer is built.
    #[serde(default)]
    pub assert_in_dataset: Option<IgnoredAny>,
}

impl Rule {
    /// A rule with this condition and no action yet.
    pub fn new(condition: impl Into<String>) -> Self {
        Self {
            name: None,
            condition: condition.into(),
            if_true: None,
            if_false: None,
            status_code: None,
            error_message: None,
            response_headers: BTreeMap::new(),
            response_body: None,
            assert_parameter_name: None,
            assert_in_dataset: None,
        }
    }

    /// Names the rule (for logs).
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// What to do when the condition holds.
    pub fn if_true(mut self, action: Action) -> Self {
        self.if_true = Some(action);
        self
    }

    /// What to do when the condition does not hold.
    pub fn if_false(mut self, action: Action) -> Self {
        self.if_false = Some(action);
        self
    }

    /// The refusal's status (default 403).
    pub fn status_code(mut self, status: u16) -> Self {
        self.status_code = Some(status);
        self
    }

    /// The refusal's message, with `${name}` interpolation.
    pub fn error_message(mut self, message: impl Into<String>) -> Self {
        self.error_message = Some(message.into());
        self
    }

    /// Adds a header to the refusal response.
    pub fn response_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.response_headers.insert(name.into(), value.into());
        self
    }

    /// The refusal's body, with `${name}` interpolation.
    pub fn response_body(mut self, body: impl Into<String>) -> Self {
        self.response_body = Some(body.into());
        self
    }

    /// Whether one of the actions is [`Action::Deny`].
    pub fn can_deny(&self) -> bool {
        self.if_true == Some(Action::Deny) || self.if_false == Some(Action::Deny)
    }
}

/// A status written as a number or as text (`403`, `"403"`).
fn status_code<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u16>, D::Error> {
    struct V;
    impl Visitor<'_> for V {
        type Value = u16;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an HTTP status code")
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<u16, E> {
            u16::try_from(v).map_err(|_| E::custom(format!("expected an HTTP status code, got {v}")))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<u16, E> {
            u16::try_from(v).map_err(|_| E::custom(format!("expected an HTTP status code, got {v}")))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<u16, E> {
            v.trim().parse().map_err(|_| E::custom(format!("expected an HTTP status code, got {v:?}")))
        }
    }
    d.deserialize_any(V).map(Some)
}

/// A map whose values may be written as numbers or booleans (`X-Retry: 3` in YAML).
fn scalar_map<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    struct Scalar(String);
    impl<'de> Deserialize<'de> for Scalar {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl Visitor<'_> for V {
                type Value = Scalar;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("a header value (text or a number)")
                }
                fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
                    Ok(Scalar(v.to_owned()))
                }
                fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
                    Ok(Scalar(v.to_string()))
                }
                fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
                    Ok(Scalar(v.to_string()))
                }
                fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
                    Ok(Scalar(v.to_string()))
                }
                fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar, E> {
                    Ok(Scalar(v.to_string()))
                }
            }
            d.deserialize_any(V)
        }
    }
    let map = BTreeMap::<String, Scalar>::deserialize(d)?;
    Ok(map.into_iter().map(|(k, v)| (k, v.0)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugin_errors_name_the_field() {
        let err = |text: &str| AccessControlConfig::from_plugin(text).unwrap_err();
        let e = err("rules:\n  - condition: \"1 = 1\"\n    ifTrue: MAYBE\n");
        assert_eq!(e.field, "rules[0].ifTrue", "{e}");
        assert!(e.problem.contains("expected ALLOW or DENY, got \"MAYBE\""), "{e}");
        let e = err("rules:\n  - condition: \"1 = 1\"\n    ifTrue: DENY\n    statusCode: forbidden\n");
        assert_eq!(e.field, "rules[0].statusCode", "{e}");
        let e = err("parameters:\n  a: \"Nowhere:x\"\nrules: []\n");
        assert_eq!(e.field, "parameters.a", "{e}");
        let e = err("rules:\n  - condition: \"1 = 1\"\n    ifTrue: DENY\n    responseHeaders: [a, b]\n");
        assert_eq!(e.field, "rules[0].responseHeaders", "{e}");
        let e = err("rules:\n  - ifTrue: DENY\n");
        assert!(e.problem.contains("condition"), "{e}");
        let e = err("{\"rules\": [{\"condition\": \"1 = 1\", \"ifFalse\": \"DENY\", \"extra\": 1}]}");
        assert_eq!(e.field, "rules[0].extra", "{e}");
        assert!(e.problem.contains("unknown field `extra`"), "{e}");
    }

    #[test]
    fn plugin_values_in_any_spelling() {
        let c = AccessControlConfig::from_plugin(
            "rules:\n  - condition: \"1 = 1\"\n    ifTrue: deny\n    ifFalse: Allow\n    statusCode: \"451\"\n    \
             responseHeaders: {X-Retry: 3, X-On: true}\n",
        )
        .unwrap();
        let rule = &c.rules[0];
        assert_eq!(
            (rule.if_true, rule.if_false, rule.status_code),
            (Some(Action::Deny), Some(Action::Allow), Some(451))
        );
        assert_eq!(rule.response_headers["X-Retry"], "3");
        assert_eq!(rule.response_headers["X-On"], "true");
    }
}
