//! [`SystemParam`]: the facts a gateway knows about a request (Aliyun's fifteen system
//! parameters, Tencent's `sysparam.*`), and [`SystemValues`], those of them that only the
//! configuration can know.
//!
//! Parameter injection passes them to the backend; Aliyun's conditions read them as
//! `$CaClientIp` or through `System:CaClientIp`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A fact the gateway knows about a request, passed on as a system parameter.
///
/// Names are read case-insensitively: ours (`client_ip`, ...), Aliyun's (`CaClientIp`, ...)
/// and, for the three Tencent has, Tencent's (`clientIp`, `httpScheme`, `clientUa`, also
/// written `sysparam.clientIp`).
///
/// Ten of Aliyun's fifteen are facts of the request or of what the gateway verified; five
/// (`CaProxy`, `CaInstanceId`, `CaSourceVpcId`, `CaCloudMarketInstanceId`,
/// `CaAppExtendInfo`) describe the gateway or the app's marketplace record, which tollgate
/// cannot know: they come from [`SystemValues`].
///
/// ```
/// use tollgate_core::SystemParam;
///
/// assert_eq!("CaClientIp".parse::<SystemParam>(), Ok(SystemParam::ClientIp));
/// assert_eq!("clientUa".parse::<SystemParam>(), Ok(SystemParam::UserAgent));
/// assert_eq!("sysparam.httpScheme".parse::<SystemParam>(), Ok(SystemParam::Scheme));
/// assert_eq!(SystemParam::Host.aliyun_name(), "CaDomain");
/// assert_eq!(SystemParam::SourceVpcId.as_str(), "source_vpc_id");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SystemParam {
    /// `CaClientIp`: the caller's address ([`ClientIp`](crate::ClientIp)), `203.0.113.7`.
    ClientIp,
    /// `CaRequestId`: the request id ([`RequestId`](crate::RequestId)).
    RequestId,
    /// `CaAppKey`: the key the request was signed with ([`Caller::key_id`](crate::Caller::key_id)).
    AppKey,
    /// `CaAppId`: the calling app ([`Caller::app_id`](crate::Caller::app_id): its app id, else its key).
    AppId,
    /// `CaApiName`: the API's name ([`SystemValues::api_name`]).
    ApiName,
    /// `CaStage`: the stage ([`SystemValues::stage`]: `TEST`, `PRE` or `RELEASE`).
    Stage,
    /// `CaDomain`: the host the request named (`Host`, or the URI's authority).
    Host,
    /// `CaHttpSchema`: `http` or `https`, the scheme the caller used.
    Scheme,
    /// `CaClientUa`: the `User-Agent` header.
    UserAgent,
    /// `CaRequestHandleTime`: when the gateway handled the request, as an HTTP date
    /// (`Sun, 06 Nov 1994 08:49:37 GMT`, Greenwich time as Aliyun's).
    RequestTime,
    /// `CaProxy`: the gateway's name toward the backend; [`SystemValues::proxy`], by default
    /// `AliCloudApiGateway`, Aliyun's value.
    Proxy,
    /// `CaInstanceId`: the gateway instance's id ([`SystemValues::instance_id`]).
    InstanceId,
    /// `CaSourceVpcId`: the VPC the request came from ([`SystemValues::source_vpc_id`]).
    SourceVpcId,
    /// `CaCloudMarketInstanceId`: the marketplace purchase's instance id
    /// ([`SystemValues::cloud_market_instance_id`]).
    CloudMarketInstanceId,
    /// `CaAppExtendInfo`: the app's extended information ([`SystemValues::app_extend_info`]).
    AppExtendInfo,
}

/// Every system parameter, in Aliyun's order of documentation.
const ALL: [SystemParam; 15] = [
    SystemParam::ClientIp,
    SystemParam::Host,
    SystemParam::RequestTime,
    SystemParam::AppId,
    SystemParam::RequestId,
    SystemParam::Scheme,
    SystemParam::Proxy,
    SystemParam::ApiName,
    SystemParam::UserAgent,
    SystemParam::CloudMarketInstanceId,
    SystemParam::AppKey,
    SystemParam::AppExtendInfo,
    SystemParam::Stage,
    SystemParam::InstanceId,
    SystemParam::SourceVpcId,
];

impl SystemParam {
    /// All fifteen.
    pub fn all() -> &'static [SystemParam] {
        &ALL
    }

    /// Our name, as written in configuration (`client_ip`).
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::ClientIp => "client_ip",
            Self::RequestId => "request_id",
            Self::AppKey => "app_key",
            Self::AppId => "app_id",
            Self::ApiName => "api_name",
            Self::Stage => "stage",
            Self::Host => "host",
            Self::Scheme => "scheme",
            Self::UserAgent => "user_agent",
            Self::RequestTime => "request_time",
            Self::Proxy => "proxy",
            Self::InstanceId => "instance_id",
            Self::SourceVpcId => "source_vpc_id",
            Self::CloudMarketInstanceId => "cloud_market_instance_id",
            Self::AppExtendInfo => "app_extend_info",
        }
    }

    /// Aliyun's name (`CaClientIp`), as a condition reads it (`$CaClientIp`).
    pub fn aliyun_name(&self) -> &'static str {
        match self {
            Self::ClientIp => "CaClientIp",
            Self::RequestId => "CaRequestId",
            Self::AppKey => "CaAppKey",
            Self::AppId => "CaAppId",
            Self::ApiName => "CaApiName",
            Self::Stage => "CaStage",
            Self::Host => "CaDomain",
            Self::Scheme => "CaHttpSchema",
            Self::UserAgent => "CaClientUa",
            Self::RequestTime => "CaRequestHandleTime",
            Self::Proxy => "CaProxy",
            Self::InstanceId => "CaInstanceId",
            Self::SourceVpcId => "CaSourceVpcId",
            Self::CloudMarketInstanceId => "CaCloudMarketInstanceId",
            Self::AppExtendInfo => "CaAppExtendInfo",
        }
    }

    /// Tencent's name (`clientIp`), for the three Tencent has.
    pub fn tencent_name(&self) -> Option<&'static str> {
        match self {
            Self::ClientIp => Some("clientIp"),
            Self::Scheme => Some("httpScheme"),
            Self::UserAgent => Some("clientUa"),
            _ => None,
        }
    }

    /// Whether the value comes from [`SystemValues`] rather than from the request.
    pub fn is_configured(&self) -> bool {
        matches!(
            self,
            Self::ApiName
                | Self::Stage
                | Self::Proxy
                | Self::InstanceId
                | Self::SourceVpcId
                | Self::CloudMarketInstanceId
                | Self::AppExtendInfo
        )
    }

    /// The Aliyun name `name` exactly as Aliyun spells it, ignoring case (`CaAppId`); `None`
    /// for our and Tencent's names. A condition's `$CaAppId` is read so.
    pub fn from_aliyun_name(name: &str) -> Option<Self> {
        ALL.iter().copied().find(|p| p.aliyun_name().eq_ignore_ascii_case(name))
    }
}

impl FromStr for SystemParam {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let trimmed = s.trim();
        let bare = match trimmed.get(..9) {
            Some(prefix) if prefix.eq_ignore_ascii_case("sysparam.") => &trimmed[9..],
            _ => trimmed,
        };
        ALL.iter()
            .copied()
            .find(|p| {
                p.as_str().eq_ignore_ascii_case(bare)
                    || p.aliyun_name().eq_ignore_ascii_case(bare)
                    || p.tencent_name().is_some_and(|t| t.eq_ignore_ascii_case(bare))
            })
            .ok_or_else(|| {
                let names: Vec<&str> = ALL.iter().map(|p| p.as_str()).collect();
                format!(
                    "unknown system parameter {s:?}, expected one of: {} (or Aliyun's CaClientIp, ...)",
                    names.join(", ")
                )
            })
    }
}

impl fmt::Display for SystemParam {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for SystemParam {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for SystemParam {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The system parameters a request cannot tell: the API and stage it was routed to, and what
/// describes the gateway (Aliyun's `CaProxy`, `CaInstanceId`, `CaSourceVpcId`,
/// `CaCloudMarketInstanceId`, `CaAppExtendInfo`). Configuration sets them; a parameter
/// left unset is absent (`null` in a condition), except the two with defaults.
///
/// ```
/// use tollgate_core::{SystemParam, SystemValues};
///
/// let values: SystemValues = serde_json::from_str(r#"{"instance_id": "apigateway-hz-1"}"#).unwrap();
/// assert_eq!(values.get(SystemParam::InstanceId), Some("apigateway-hz-1"));
/// assert_eq!(values.get(SystemParam::Proxy), Some("AliCloudApiGateway"));
/// assert_eq!(values.get(SystemParam::Stage), Some("RELEASE"));
/// assert_eq!(values.get(SystemParam::SourceVpcId), None);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct SystemValues {
    /// `CaApiName`: the API's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_name: Option<String>,
    /// `CaStage`: the stage (`TEST`, `PRE`, `RELEASE`); default `RELEASE`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    /// `CaProxy`: default `AliCloudApiGateway`, what Aliyun's gateway passes (its user
    /// guide's system-parameter table: "Proxy (AliCloudApiGateway)").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy: Option<String>,
    /// `CaInstanceId`: the gateway instance's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    /// `CaSourceVpcId`: the VPC requests come from (a gateway serving one VPC).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_vpc_id: Option<String>,
    /// `CaCloudMarketInstanceId`: the marketplace purchase's instance id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cloud_market_instance_id: Option<String>,
    /// `CaAppExtendInfo`: the app's extended information.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_extend_info: Option<String>,
}

/// Aliyun's `CaProxy`.
pub const DEFAULT_PROXY: &str = "AliCloudApiGateway";

impl SystemValues {
    /// Nothing set: every default.
    pub fn new() -> Self {
        Self::default()
    }

    /// The value of a configured parameter ([`SystemParam::is_configured`]), with the
    /// defaults; `None` for one unset, and for the parameters the request tells.
    pub fn get(&self, param: SystemParam) -> Option<&str> {
        match param {
            SystemParam::ApiName => self.api_name.as_deref(),
            SystemParam::Stage => Some(self.stage.as_deref().unwrap_or("RELEASE")),
            SystemParam::Proxy => Some(self.proxy.as_deref().unwrap_or(DEFAULT_PROXY)),
            SystemParam::InstanceId => self.instance_id.as_deref(),
            SystemParam::SourceVpcId => self.source_vpc_id.as_deref(),
            SystemParam::CloudMarketInstanceId => self.cloud_market_instance_id.as_deref(),
            SystemParam::AppExtendInfo => self.app_extend_info.as_deref(),
            _ => None,
        }
    }

    /// Sets a configured parameter's value; other parameters are ignored (the request tells
    /// them).
    pub fn set(mut self, param: SystemParam, value: impl Into<String>) -> Self {
        let value = Some(value.into());
        match param {
            SystemParam::ApiName => self.api_name = value,
            SystemParam::Stage => self.stage = value,
            SystemParam::Proxy => self.proxy = value,
            SystemParam::InstanceId => self.instance_id = value,
            SystemParam::SourceVpcId => self.source_vpc_id = value,
            SystemParam::CloudMarketInstanceId => self.cloud_market_instance_id = value,
            SystemParam::AppExtendInfo => self.app_extend_info = value,
            _ => {}
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_reads_back() {
        for p in SystemParam::all() {
            assert_eq!(p.as_str().parse::<SystemParam>(), Ok(*p));
            assert_eq!(p.aliyun_name().parse::<SystemParam>(), Ok(*p));
            assert_eq!(p.aliyun_name().to_uppercase().parse::<SystemParam>(), Ok(*p));
            assert_eq!(SystemParam::from_aliyun_name(p.aliyun_name()), Some(*p));
            if let Some(t) = p.tencent_name() {
                assert_eq!(t.parse::<SystemParam>(), Ok(*p));
                assert_eq!(format!("sysparam.{t}").parse::<SystemParam>(), Ok(*p));
            }
        }
        let mut names: Vec<&str> = SystemParam::all().iter().map(|p| p.aliyun_name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), 15);
        assert!("cookie".parse::<SystemParam>().unwrap_err().contains("client_ip, host"));
        assert_eq!(SystemParam::from_aliyun_name("client_ip"), None);
    }

    #[test]
    fn configured_values_and_defaults() {
        let v = SystemValues::new().set(SystemParam::InstanceId, "i-1").set(SystemParam::ClientIp, "ignored");
        assert_eq!(v.get(SystemParam::InstanceId), Some("i-1"));
        assert_eq!(v.get(SystemParam::ClientIp), None);
        assert_eq!(v.get(SystemParam::Proxy), Some(DEFAULT_PROXY));
        for p in SystemParam::all() {
            if !p.is_configured() {
                assert_eq!(SystemValues::new().set(*p, "x").get(*p), None, "{p}");
            } else {
                assert_eq!(SystemValues::new().set(*p, "x").get(*p), Some("x"), "{p}");
            }
        }
    }
}
