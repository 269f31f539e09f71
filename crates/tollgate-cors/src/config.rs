//! Configuration: Tencent's CORS plugin data, Aliyun's CORS plug-in and the "support CORS"
//! switch, read with serde into [`CorsConfig`] / [`CorsPlugin`]. Values are checked when a
//! [`CorsLayer`](crate::CorsLayer) is built from them, with errors that name the field.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer};
pub use tollgate_core::ConfigError;

/// Which cloud's field names a [`CorsPlugin`] was written with. It decides how errors name
/// fields and whether an origin may omit its scheme.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// Tencent Cloud API Gateway plugin data: `allow_origin`, `allow_methods`, ...; every
    /// origin has its scheme.
    #[default]
    Tencent,
    /// Aliyun API Gateway's CORS plug-in: `allowOrigins`, `allowMethods`, ...; an origin
    /// without a scheme (`api.foo.com`) means that host on `http` and `https`.
    Aliyun,
}

/// The fields of a CORS rule, for error messages in the user's own spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Field {
    AllowOrigin,
    AllowMethods,
    AllowHeaders,
    ExposeHeaders,
    MaxAge,
}

impl Field {
    pub(crate) fn name(self, dialect: Dialect) -> &'static str {
        match (dialect, self) {
            (Dialect::Tencent, Self::AllowOrigin) => "allow_origin",
            (Dialect::Tencent, Self::AllowMethods) => "allow_methods",
            (Dialect::Tencent, Self::AllowHeaders) => "allow_headers",
            (Dialect::Tencent, Self::ExposeHeaders) => "expose_headers",
            (Dialect::Tencent, Self::MaxAge) => "max_age",
            (Dialect::Aliyun, Self::AllowOrigin) => "allowOrigins",
            (Dialect::Aliyun, Self::AllowMethods) => "allowMethods",
            (Dialect::Aliyun, Self::AllowHeaders) => "allowHeaders",
            (Dialect::Aliyun, Self::ExposeHeaders) => "exposeHeaders",
            (Dialect::Aliyun, Self::MaxAge) => "maxAge",
        }
    }
}

/// A CORS rule: Tencent's CORS plugin data, or Aliyun's CORS plug-in (same meaning, other
/// names). Turned into a layer by [`CorsLayer::from_plugin`](crate::CorsLayer::from_plugin),
/// which checks every value.
///
/// Deserializes from Tencent's plugin JSON:
///
/// ```json
/// {"allow_origin": ["https://app.example.com", "http://localhost:8080"],
///  "allow_methods": ["GET", "PUT", "POST", "DELETE", "HEAD"],
///  "allow_headers": ["X-Api-ID"], "expose_headers": ["X-Api-ID"],
///  "allow_credentials": true, "max_age": 600}
/// ```
///
/// where `allow_origin`, `allow_methods` and a positive `max_age` are required; and from
/// Aliyun's plug-in (JSON, or YAML through any serde format), lists comma-separated:
///
/// ```yaml
/// allowOrigins: api.foo.com,api2.foo.com,*.foo.com   # default *
/// allowMethods: GET,POST,PUT                          # required
/// allowHeaders: X-Ca-RequestId
/// exposeHeaders: X-RC1,X-RC2
/// allowCredentials: true
/// maxAge: 172800                                      # optional
/// ```
///
/// Any list may be an array of strings or one comma-separated string. Mixing the two
/// spellings in one object, or an unknown field, is an error.
///
/// ```
/// use tollgate_cors::{CorsPlugin, Dialect};
///
/// let tencent: CorsPlugin = serde_json::from_str(
///     r#"{"allow_origin": ["*"], "allow_methods": ["GET", "PUT"], "max_age": 600}"#,
/// ).unwrap();
/// assert_eq!((tencent.dialect, tencent.max_age), (Dialect::Tencent, Some(600)));
///
/// let aliyun: CorsPlugin = serde_json::from_str(
///     r#"{"allowOrigins": "api.foo.com,*.foo.com", "allowMethods": "GET,POST", "allowCredentials": true}"#,
/// ).unwrap();
/// assert_eq!(aliyun.allow_origin, ["api.foo.com", "*.foo.com"]);
/// assert_eq!(aliyun.dialect, Dialect::Aliyun);
///
/// let err = serde_json::from_str::<CorsPlugin>(r#"{"allow_origin": ["*"], "allow_methods": ["GET"]}"#)
///     .unwrap_err();
/// assert!(err.to_string().starts_with("max_age: missing"), "{err}");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(try_from = "RawPlugin")]
pub struct CorsPlugin {
    /// Allowed origins: `*`, `null`, `scheme://host[:port]`, `scheme://*.host[:port]`, or an
    /// anchored regex `^...$` (see [`AllowedOrigins`](crate::AllowedOrigins)).
    pub allow_origin: Vec<String>,
    /// Allowed methods: GET, PUT, POST, DELETE, HEAD, PATCH, OPTIONS, or `*`.
    pub allow_methods: Vec<String>,
    /// Request headers a preflight may ask for; `*` for all; empty for none.
    pub allow_headers: Vec<String>,
    /// Response headers a page's script may read; `*` for all; empty for none.
    pub expose_headers: Vec<String>,
    /// Whether requests with credentials (cookies, HTTP auth) get an answer.
    pub allow_credentials: bool,
    /// Seconds a browser may cache a preflight's answer; positive. `None`: no
    /// `Access-Control-Max-Age` (browsers then use 5 seconds).
    pub max_age: Option<u64>,
    /// Whose field names the rule was written with.
    pub dialect: Dialect,
}

/// CORS for one API: the "support CORS" switch and an optional CORS plugin. When a plugin is
/// present its rules apply and the switch has no effect, as in Tencent Cloud API Gateway.
///
/// Deserializes from `{"switch": true, "plugin": {...}}` (`enable_cors` and `enableCORS`
/// are accepted for `switch`); see [`CorsLayer::from_config`](crate::CorsLayer::from_config).
///
/// ```
/// use tollgate_cors::{CorsConfig, CorsLayer, CorsMode};
///
/// let only_switch: CorsConfig = serde_json::from_str(r#"{"enableCORS": true}"#).unwrap();
/// assert_eq!(CorsLayer::from_config(&only_switch).unwrap().mode(), CorsMode::Switch);
///
/// let both: CorsConfig = serde_json::from_str(r#"{"switch": true, "plugin":
///     {"allow_origin": ["https://app.example.com"], "allow_methods": ["GET"], "max_age": 600}}"#).unwrap();
/// assert_eq!(CorsLayer::from_config(&both).unwrap().mode(), CorsMode::Rules);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorsConfig {
    /// The API's "support CORS" switch: adds `Access-Control-Allow-Origin: *` to responses.
    #[serde(default, alias = "enable_cors", alias = "enableCORS")]
    pub switch: bool,
    /// A CORS plugin bound to the API; when present, its rules win over the switch.
    #[serde(default)]
    pub plugin: Option<CorsPlugin>,
}

/// A list written as an array of strings or as one comma-separated string. Entries are
/// split at commas (no origin, method or header name contains one) and trimmed; empty
/// pieces of a separated string are dropped.
#[derive(Default)]
struct RawList(Vec<String>);

impl<'de> Deserialize<'de> for RawList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ListVisitor;

        impl<'de> de::Visitor<'de> for ListVisitor {
            type Value = RawList;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list: an array of strings, or one comma-separated string")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawList, E> {
                Ok(RawList(v.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()))
            }

            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<RawList, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<String>()? {
                    // An array item is kept even when empty, so the check names its position.
                    if item.contains(',') {
                        items.extend(item.split(',').map(|s| s.trim().to_owned()));
                    } else {
                        items.push(item.trim().to_owned());
                    }
                }
                Ok(RawList(items))
            }
        }

        d.deserialize_any(ListVisitor)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlugin {
    allow_origin: Option<RawList>,
    allow_methods: Option<RawList>,
    allow_headers: Option<RawList>,
    expose_headers: Option<RawList>,
    allow_credentials: Option<bool>,
    max_age: Option<i64>,
    #[serde(rename = "allowOrigins")]
    aliyun_origins: Option<RawList>,
    #[serde(rename = "allowMethods")]
    aliyun_methods: Option<RawList>,
    #[serde(rename = "allowHeaders")]
    aliyun_headers: Option<RawList>,
    #[serde(rename = "exposeHeaders")]
    aliyun_expose: Option<RawList>,
    #[serde(rename = "allowCredentials")]
    aliyun_credentials: Option<bool>,
    #[serde(rename = "maxAge")]
    aliyun_max_age: Option<i64>,
}

impl TryFrom<RawPlugin> for CorsPlugin {
    type Error = ConfigError;

    fn try_from(raw: RawPlugin) -> Result<Self, ConfigError> {
        let tencent = raw.allow_origin.is_some()
            || raw.allow_methods.is_some()
            || raw.allow_headers.is_some()
            || raw.expose_headers.is_some()
            || raw.allow_credentials.is_some()
            || raw.max_age.is_some();
        let aliyun = raw.aliyun_origins.is_some()
            || raw.aliyun_methods.is_some()
            || raw.aliyun_headers.is_some()
            || raw.aliyun_expose.is_some()
            || raw.aliyun_credentials.is_some()
            || raw.aliyun_max_age.is_some();
        if tencent && aliyun {
            return Err(ConfigError::new(
                "plugin",
                "mixes Tencent (allow_origin, ...) and Aliyun (allowOrigins, ...) field names: use one form",
            ));
        }
        let max_age = |field: &str, value: Option<i64>| match value {
            None => Ok(None),
            Some(n) if n > 0 => Ok(Some(n as u64)),
            Some(n) => Err(ConfigError::new(field, format!("{n} is not a positive number of seconds"))),
        };
        if aliyun {
            let methods =
                raw.aliyun_methods.ok_or_else(|| ConfigError::new("allowMethods", "missing: e.g. GET,POST,PUT"))?;
            return Ok(Self {
                allow_origin: raw.aliyun_origins.map_or_else(|| vec!["*".to_owned()], |l| l.0),
                allow_methods: methods.0,
                allow_headers: raw.aliyun_headers.unwrap_or_default().0,
                expose_headers: raw.aliyun_expose.unwrap_or_default().0,
                allow_credentials: raw.aliyun_credentials.unwrap_or(false),
                max_age: max_age("maxAge", raw.aliyun_max_age)?,
                dialect: Dialect::Aliyun,
            });
        }
        let origins = raw.allow_origin.ok_or_else(|| {
            ConfigError::new("allow_origin", "missing: e.g. [\"https://app.example.com\"] or [\"*\"]")
        })?;
        let methods =
            raw.allow_methods.ok_or_else(|| ConfigError::new("allow_methods", "missing: e.g. [\"GET\", \"POST\"]"))?;
        let age = raw.max_age.ok_or_else(|| ConfigError::new("max_age", "missing: a positive number of seconds"))?;
        Ok(Self {
            allow_origin: origins.0,
            allow_methods: methods.0,
            allow_headers: raw.allow_headers.unwrap_or_default().0,
            expose_headers: raw.expose_headers.unwrap_or_default().0,
            allow_credentials: raw.allow_credentials.unwrap_or(false),
            max_age: max_age("max_age", Some(age))?,
            dialect: Dialect::Tencent,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plugin(json: &str) -> Result<CorsPlugin, String> {
        serde_json::from_str(json).map_err(|e| e.to_string())
    }

    #[test]
    fn tencent_form() {
        let p = plugin(
            r#"{"allow_origin":["https://app.example.com","http://localhost:8080"],
            "allow_methods":["GET","PUT","POST","DELETE","HEAD"],"allow_headers":["X-Api-ID"],
            "expose_headers":["X-Api-ID"],"allow_credentials":true,"max_age":600}"#,
        )
        .unwrap();
        assert_eq!(p.allow_origin, ["https://app.example.com", "http://localhost:8080"]);
        assert_eq!(p.allow_methods.len(), 5);
        assert_eq!((p.allow_credentials, p.max_age, p.dialect), (true, Some(600), Dialect::Tencent));
        // the console's comma-separated text works too
        let p =
            plugin(r#"{"allow_origin":"https://a.com, https://b.com","allow_methods":"GET,PUT","max_age":1}"#).unwrap();
        assert_eq!(p.allow_origin, ["https://a.com", "https://b.com"]);
        assert!(p.allow_headers.is_empty() && !p.allow_credentials);
    }

    #[test]
    fn aliyun_form() {
        let p = plugin(
            r#"{"allowOrigins":"api.foo.com,api2.foo.com,*.foo.com","allowMethods":"GET,POST,PUT",
            "allowHeaders":"X-Ca-RequestId","exposeHeaders":"X-RC1,X-RC2","allowCredentials":true,"maxAge":172800}"#,
        )
        .unwrap();
        assert_eq!(p.allow_origin, ["api.foo.com", "api2.foo.com", "*.foo.com"]);
        assert_eq!(p.expose_headers, ["X-RC1", "X-RC2"]);
        assert_eq!((p.max_age, p.dialect), (Some(172800), Dialect::Aliyun));
        let p = plugin(r#"{"allowMethods":"GET"}"#).unwrap();
        assert_eq!((p.allow_origin, p.max_age), (vec!["*".to_owned()], None));
    }

    #[test]
    fn errors_name_the_field() {
        let e = plugin(r#"{"allow_methods":["GET"],"max_age":5}"#).unwrap_err();
        assert!(e.starts_with("allow_origin: missing"), "{e}");
        let e = plugin(r#"{"allow_origin":["*"],"max_age":5}"#).unwrap_err();
        assert!(e.starts_with("allow_methods: missing"), "{e}");
        let e = plugin(r#"{"allow_origin":["*"],"allow_methods":["GET"],"max_age":0}"#).unwrap_err();
        assert!(e.starts_with("max_age: 0 is not a positive"), "{e}");
        let e = plugin(r#"{"allow_origin":["*"],"allow_methods":["GET"],"max_age":-3}"#).unwrap_err();
        assert!(e.starts_with("max_age: -3"), "{e}");
        let e = plugin(r#"{"allowOrigins":"*"}"#).unwrap_err();
        assert!(e.starts_with("allowMethods: missing"), "{e}");
        let e = plugin(r#"{"allowOrigins":"*","allowMethods":"GET","maxAge":0}"#).unwrap_err();
        assert!(e.starts_with("maxAge: 0"), "{e}");
        let e = plugin(r#"{"allow_origin":["*"],"allowMethods":"GET","max_age":1}"#).unwrap_err();
        assert!(e.contains("mixes Tencent"), "{e}");
        let e = plugin(r#"{"allow_origin":5,"allow_methods":["GET"],"max_age":1}"#).unwrap_err();
        assert!(e.contains("an array of strings, or one comma-separated string"), "{e}");
        let e = plugin(r#"{"allow_origin":["*"],"allow_methods":["GET"],"max_age":1,"bogus":1}"#).unwrap_err();
        assert!(e.contains("bogus"), "{e}");
    }

    #[test]
    fn config_switch_spellings() {
        for json in [r#"{"switch":true}"#, r#"{"enable_cors":true}"#, r#"{"enableCORS":true}"#] {
            let c: CorsConfig = serde_json::from_str(json).unwrap();
            assert!(c.switch && c.plugin.is_none(), "{json}");
        }
        let c: CorsConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(c, CorsConfig::default());
        assert!(serde_json::from_str::<CorsConfig>(r#"{"switch":true,"other":1}"#).is_err());
    }
}
