//! What a grant says: who (an app key or a token's subject), in which stage, until when.

use std::fmt;
use std::time::SystemTime;

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};

use tollgate_core::ConfigError;

/// An environment of an Aliyun API, named by the request's `X-Ca-Stage` header (`RELEASE`
/// when absent). A grant in one stage does not cover another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Stage {
    /// `RELEASE`, the online environment and the default.
    Release,
    /// `PRE`, pre-release.
    Pre,
    /// `TEST`.
    Test,
}

impl Stage {
    /// The stage's name as the header writes it, exactly (`RELEASE`, `PRE`, `TEST`).
    ///
    /// Only these upper-case spellings are stages: a handler or backend that routes by
    /// `X-Ca-Stage` may not read `test` or ` TEST` as `TEST`, so a grant must not either.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "RELEASE" => Some(Self::Release),
            "PRE" => Some(Self::Pre),
            "TEST" => Some(Self::Test),
            _ => None,
        }
    }

    /// The stage's name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Release => "RELEASE",
            Self::Pre => "PRE",
            Self::Test => "TEST",
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Stage {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        Self::from_name(&name).ok_or_else(|| de::Error::custom(format!("expected RELEASE, PRE or TEST, got {name:?}")))
    }
}

/// Who a grant is for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Grantee {
    /// An app, by its key (`AppKey`, Tencent's `SecretId`) or its app id: met by a caller a
    /// signature verifier authenticated.
    App(String),
    /// A token's subject: met by a caller a token verifier authenticated
    /// ([`Caller::from_token`](tollgate_core::Caller::from_token)), never by an app key
    /// written the same way.
    Subject(String),
}

/// One grant: a grantee may call the API, in one stage or every stage, until an expiry or
/// for good (Aliyun's `SetApisAuthority`: `AppId`, `StageName`, `AuthValidTime`).
///
/// Written in a gateway file or read with serde, one of `app` and `subject`:
///
/// ```
/// use tollgate_access::grants::{Grant, Grantee, Stage};
///
/// let grants: Vec<Grant> = serde_json::from_str(r#"[
///     {"app": "203753741", "stage": "RELEASE", "expires": "2027-01-01T00:00:00Z"},
///     {"AppId": "110840611", "StageName": "TEST", "AuthValidTime": ""},
///     {"subject": "alice"}
/// ]"#)?;
/// assert_eq!(grants[0].grantee, Grantee::App("203753741".into()));
/// assert_eq!(grants[1].stage, Some(Stage::Test));
/// assert_eq!(grants[1].expires, None); // empty: never
/// assert_eq!(grants[2], Grant::subject("alice"));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// Who may call.
    pub grantee: Grantee,
    /// The stage the grant covers; `None`: every stage.
    pub stage: Option<Stage>,
    /// When the grant ends (UTC); `None`: never. At that instant it no longer holds.
    pub expires: Option<SystemTime>,
}

impl Grant {
    /// A grant to an app (its key or app id), every stage, no expiry.
    pub fn app(app: impl Into<String>) -> Self {
        Self { grantee: Grantee::App(app.into()), stage: None, expires: None }
    }

    /// A grant to a token's subject, every stage, no expiry.
    pub fn subject(subject: impl Into<String>) -> Self {
        Self { grantee: Grantee::Subject(subject.into()), stage: None, expires: None }
    }

    /// Limits the grant to one stage.
    pub fn in_stage(mut self, stage: Stage) -> Self {
        self.stage = Some(stage);
        self
    }

    /// Ends the grant at `expires`.
    pub fn until(mut self, expires: SystemTime) -> Self {
        self.expires = Some(expires);
        self
    }

    /// Checks a grant read from data, naming the field of what is wrong.
    pub(crate) fn check(&self) -> Result<(), ConfigError> {
        match &self.grantee {
            Grantee::App(id) if id.trim().is_empty() => {
                Err(ConfigError::new("app", "an app key or id cannot be empty"))
            }
            Grantee::Subject(id) if id.is_empty() => Err(ConfigError::new("subject", "a subject cannot be empty")),
            _ => Ok(()),
        }
    }
}

/// The fields as written: `app` (aliases `AppId`, `AppKey`) or `subject`, `stage` (alias
/// `StageName`), `expires` (alias `AuthValidTime`; RFC 3339, empty for never).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGrant {
    #[serde(default, alias = "AppId", alias = "AppKey", deserialize_with = "text")]
    app: Option<String>,
    #[serde(default)]
    subject: Option<String>,
    #[serde(default, alias = "StageName")]
    stage: Option<Stage>,
    #[serde(default, alias = "AuthValidTime")]
    expires: Option<String>,
}

/// An app id is numeric in Aliyun's console (`110840611`): a YAML number is read as its text.
fn text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Text {
        Text(String),
        Number(u64),
    }
    Ok(Option::<Text>::deserialize(d)?.map(|t| match t {
        Text::Text(s) => s,
        Text::Number(n) => n.to_string(),
    }))
}

impl<'de> Deserialize<'de> for Grant {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = RawGrant::deserialize(d)?;
        let grantee = match (raw.app, raw.subject) {
            (Some(app), None) => Grantee::App(app),
            (None, Some(subject)) => Grantee::Subject(subject),
            (Some(_), Some(_)) => return Err(de::Error::custom("a grant names an `app` or a `subject`, not both")),
            (None, None) => return Err(de::Error::custom("a grant needs an `app` or a `subject`")),
        };
        let expires = match raw.expires.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(text) => Some(humantime::parse_rfc3339_weak(text).map_err(|e| {
                de::Error::custom(format!("`expires`: {text:?} is not a UTC time such as 2027-01-01T00:00:00Z ({e})"))
            })?),
        };
        Ok(Self { grantee, stage: raw.stage, expires })
    }
}
