//! Configuration: Tencent's plugin data, Aliyun's plug-in, and our compact form, all read
//! into one [`IpAccessConfig`].

use std::collections::BTreeMap;
use std::fmt;

use ipnet::IpNet;
use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};

pub use tollgate_core::ConfigError;
use tollgate_core::parse_network;

/// Allow list or deny list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Only listed addresses pass (a white list; Tencent `white_list`, Aliyun `ALLOW`).
    Allow,
    /// Listed addresses are refused (a black list; Tencent `black_list`, Aliyun `REFUSE`).
    Deny,
}

impl Mode {
    /// Reads any of the names the references and we use, case-insensitively.
    pub fn parse(name: &str) -> Option<Self> {
        match name.trim().to_ascii_lowercase().as_str() {
            "allow" | "white" | "white_list" | "whitelist" => Some(Self::Allow),
            "deny" | "refuse" | "black" | "black_list" | "blacklist" => Some(Self::Deny),
            _ => None,
        }
    }
}

/// Characters that separate entries: `;` (the manual), newlines (the plugin data), commas
/// and any whitespace.
fn is_separator(c: char) -> bool {
    c == ';' || c == ',' || c.is_whitespace()
}

/// Parses an IP list: IPs (as /32 or /128) and CIDRs (host bits cleared: `10.0.0.1/8` is
/// `10.0.0.0/8`), IPv4 and IPv6, separated by `;`, `,`, whitespace or newlines. IPv4-mapped
/// IPv6 becomes IPv4.
///
/// ```
/// use tollgate_ip::parse_ip_list;
///
/// let nets = parse_ip_list("1.1.1.1;10.0.0.1/8\n2001:db8::/32, ::ffff:192.0.2.1").unwrap();
/// let text: Vec<String> = nets.iter().map(|n| n.to_string()).collect();
/// assert_eq!(text, ["1.1.1.1/32", "10.0.0.0/8", "2001:db8::/32", "192.0.2.1/32"]);
/// ```
///
/// A bad entry is named with its 1-based position among the entries; the error's field is
/// left empty for the caller to place ([`ConfigError::within`]).
///
/// ```
/// # use tollgate_ip::parse_ip_list;
/// let err = parse_ip_list("1.1.1.1; 300.1.1.1").unwrap_err();
/// assert!(err.to_string().starts_with("entry 2 (\"300.1.1.1\") is not an IP address"));
/// assert_eq!(err.within("blocks").field, "blocks");
/// ```
pub fn parse_ip_list(text: &str) -> Result<Vec<IpNet>, ConfigError> {
    text.split(is_separator).filter(|e| !e.is_empty()).enumerate().map(|(i, e)| parse_entry(e, i + 1)).collect()
}

fn parse_entry(entry: &str, position: usize) -> Result<IpNet, ConfigError> {
    parse_network(entry).ok_or_else(|| {
        ConfigError::new(
            "",
            format!(
                "entry {position} ({entry:?}) is not an IP address or CIDR network: expected an IP address \
                 (1.2.3.4, 2001:db8::1) or a CIDR network (10.0.0.0/8)"
            ),
        )
    })
}

/// One app's own list (Aliyun items with an `appId`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppRule {
    /// The app id (Aliyun's numeric `appId`, or a key id), matched against the `Caller`.
    pub app_id: String,
    /// The app's networks.
    pub nets: Vec<IpNet>,
}

/// An IP access configuration, from any of the forms the references use.
///
/// Deserializes from:
///
/// - Tencent plugin data: `{"type": "white_list" | "black_list", "blocks": "1.1.1.1\n1.1.1.0/24",
///   "descriptions": {"1.1.1.1": "office"}}` (the older strategy API's `WHITE` / `BLACK` too);
/// - Aliyun's plug-in: `{"type": "ALLOW" | "REFUSE", "resource": "XFF:-1", "items": [{"blocks":
///   ["61.3.0.0/24"], "appId": 219810}, {"blocks": ["79.11.2.3"]}]}`;
/// - our compact form: `{"mode": "allow" | "deny", "ips": ["10.0.0.0/8", "2001:db8::1"]}`
///   (`ips` may be one separated string; `type: "white" | "black"` is a synonym for `mode`).
///
/// Errors name the field (`type`, `blocks`, `items[1].blocks`, `resource`) and, for a bad
/// address, the entry and its position.
///
/// ```
/// use tollgate_ip::{IpAccessConfig, Mode};
///
/// let c: IpAccessConfig = serde_json::from_str(r#"{"type": "REFUSE", "items": [{"blocks": "192.0.2.0/24"}]}"#).unwrap();
/// assert_eq!(c.mode, Mode::Deny);
/// assert_eq!(c.general.len(), 1);
///
/// let err = serde_json::from_str::<IpAccessConfig>(r#"{"type": "white_list", "blocks": "1.1.1.1\nnope"}"#).unwrap_err();
/// assert!(err.to_string().contains("blocks: entry 2 (\"nope\")"), "{err}");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "RawConfig")]
pub struct IpAccessConfig {
    /// Allow list or deny list.
    pub mode: Mode,
    /// Networks every request is judged by.
    pub general: Vec<IpNet>,
    /// Networks of single apps (Aliyun items with an `appId`).
    pub apps: Vec<AppRule>,
    /// Aliyun `resource: "XFF:index"`: the X-Forwarded-For entry to take as the client
    /// (0 the leftmost, negative from the right), honoured only behind a trusted proxy.
    pub xff_index: Option<i64>,
    /// Tencent `descriptions`: notes on entries, for logs.
    pub descriptions: BTreeMap<String, String>,
}

/// A list written as one separated string or as an array of strings (each may itself hold
/// several entries).
enum RawList {
    One(String),
    Many(Vec<String>),
}

impl<'de> Deserialize<'de> for RawList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ListVisitor;

        impl<'de> de::Visitor<'de> for ListVisitor {
            type Value = RawList;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an IP list: one string of entries, or an array of strings")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawList, E> {
                Ok(RawList::One(v.to_owned()))
            }

            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<RawList, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<String>()? {
                    items.push(item);
                }
                Ok(RawList::Many(items))
            }
        }

        d.deserialize_any(ListVisitor)
    }
}

impl RawList {
    fn parse(&self, field: &str) -> Result<Vec<IpNet>, ConfigError> {
        let text = match self {
            Self::One(s) => s.clone(),
            Self::Many(items) => items.join("\n"),
        };
        parse_ip_list(&text).map_err(|e| e.within(field))
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawAppId {
    Number(i64),
    Text(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawItem {
    blocks: RawList,
    #[serde(rename = "appId", alias = "app_id")]
    app_id: Option<RawAppId>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(rename = "type")]
    kind: Option<String>,
    mode: Option<String>,
    blocks: Option<RawList>,
    ips: Option<RawList>,
    items: Option<Vec<RawItem>>,
    resource: Option<String>,
    #[serde(default)]
    descriptions: BTreeMap<String, String>,
}

impl TryFrom<RawConfig> for IpAccessConfig {
    type Error = ConfigError;

    fn try_from(raw: RawConfig) -> Result<Self, ConfigError> {
        let (field, name) = match (&raw.mode, &raw.kind) {
            (Some(m), _) => ("mode", m),
            (None, Some(t)) => ("type", t),
            (None, None) => return Err(ConfigError::new("type", "missing: expected the list's mode")),
        };
        let mode = Mode::parse(name).ok_or_else(|| {
            ConfigError::new(
                field,
                format!(
                    "{name:?} is not a mode: expected white_list / black_list (Tencent), ALLOW / REFUSE (Aliyun), \
                     or allow / deny"
                ),
            )
        })?;
        let mut general = Vec::new();
        if let Some(list) = &raw.blocks {
            general.extend(list.parse("blocks")?);
        }
        if let Some(list) = &raw.ips {
            general.extend(list.parse("ips")?);
        }
        let mut apps: Vec<AppRule> = Vec::new();
        for (i, item) in raw.items.iter().flatten().enumerate() {
            let nets = item.blocks.parse(&format!("items[{i}].blocks"))?;
            match &item.app_id {
                None => general.extend(nets),
                Some(id) => {
                    let app_id = match id {
                        RawAppId::Number(n) => n.to_string(),
                        RawAppId::Text(s) if !s.trim().is_empty() => s.trim().to_owned(),
                        RawAppId::Text(_) => {
                            return Err(ConfigError::new(format!("items[{i}].appId"), "must not be empty"));
                        }
                    };
                    match apps.iter_mut().find(|a| a.app_id == app_id) {
                        Some(rule) => rule.nets.extend(nets),
                        None => apps.push(AppRule { app_id, nets }),
                    }
                }
            }
        }
        let xff_index = match &raw.resource {
            None => None,
            Some(r) => Some(parse_resource(r).ok_or_else(|| {
                ConfigError::new("resource", format!("{r:?} is not of the form XFF:<index>, e.g. XFF:-1"))
            })?),
        };
        if mode == Mode::Allow && general.is_empty() && apps.is_empty() {
            return Err(ConfigError::new(
                if raw.items.is_some() { "items" } else { "blocks" },
                "an allow list needs at least one entry",
            ));
        }
        Ok(Self { mode, general, apps, xff_index, descriptions: raw.descriptions })
    }
}

fn parse_resource(text: &str) -> Option<i64> {
    let (prefix, index) = text.trim().split_once(':')?;
    if !prefix.eq_ignore_ascii_case("xff") {
        return None;
    }
    index.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(json: &str) -> Result<IpAccessConfig, String> {
        serde_json::from_str(json).map_err(|e| e.to_string())
    }

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    #[test]
    fn tencent_forms() {
        let c =
            cfg(r#"{"type":"white_list","blocks":"1.1.1.1\n1.1.1.0/24","descriptions":{"1.1.1.1":"office"}}"#).unwrap();
        assert_eq!(c.mode, Mode::Allow);
        assert_eq!(c.general, nets(&["1.1.1.1/32", "1.1.1.0/24"]));
        assert_eq!(c.descriptions["1.1.1.1"], "office");
        let c = cfg(r#"{"type":"BLACK","blocks":"1.1.1.1;2.2.2.2, 3.3.3.3 4.4.4.4\t5.5.5.5"}"#).unwrap();
        assert_eq!(c.mode, Mode::Deny);
        assert_eq!(c.general.len(), 5);
    }

    #[test]
    fn aliyun_form() {
        let c = cfg(r#"{"type":"ALLOW","resource":"XFF:-1","items":[
            {"blocks":["61.3.0.0/24"],"appId":219810},
            {"blocks":["79.11.2.3","2001:db8::/32"]},
            {"blocks":"61.4.0.0/24","appId":"219810"}]}"#)
        .unwrap();
        assert_eq!(c.xff_index, Some(-1));
        assert_eq!(c.general, nets(&["79.11.2.3/32", "2001:db8::/32"]));
        assert_eq!(c.apps, vec![AppRule { app_id: "219810".into(), nets: nets(&["61.3.0.0/24", "61.4.0.0/24"]) }]);
    }

    #[test]
    fn compact_form() {
        let c = cfg(r#"{"mode":"deny","ips":["10.0.0.0/8","2001:db8::1"]}"#).unwrap();
        assert_eq!((c.mode, c.general.len()), (Mode::Deny, 2));
        let c = cfg(r#"{"type":"white","ips":"1.2.3.4;10.0.0.0/8"}"#).unwrap();
        assert_eq!((c.mode, c.general.len()), (Mode::Allow, 2));
    }

    #[test]
    fn errors_name_the_field() {
        let e = cfg(r#"{"blocks":"1.1.1.1"}"#).unwrap_err();
        assert!(e.starts_with("type: missing"), "{e}");
        let e = cfg(r#"{"type":"grey_list","blocks":"1.1.1.1"}"#).unwrap_err();
        assert!(e.contains("type: \"grey_list\" is not a mode") && e.contains("ALLOW / REFUSE"), "{e}");
        let e = cfg(r#"{"type":"ALLOW","items":[{"blocks":["1.1.1.1"]},{"blocks":["1.1.1.1","1.1.1.0/33"]}]}"#)
            .unwrap_err();
        assert!(e.contains("items[1].blocks: entry 2 (\"1.1.1.0/33\")"), "{e}");
        let e = cfg(r#"{"type":"ALLOW","resource":"X-Real-IP","items":[{"blocks":"1.1.1.1"}]}"#).unwrap_err();
        assert!(e.starts_with("resource:"), "{e}");
        let e = cfg(r#"{"type":"white_list","blocks":""}"#).unwrap_err();
        assert!(e.contains("blocks: an allow list needs at least one entry"), "{e}");
        let e = cfg(r#"{"type":"white_list","blocks":5}"#).unwrap_err();
        assert!(e.contains("an IP list: one string of entries, or an array of strings"), "{e}");
        let e = cfg(r#"{"type":"black_list","blocks":"1.1.1.1","bogus":1}"#).unwrap_err();
        assert!(e.contains("bogus"), "{e}");
        // an empty deny list is legal: it refuses no one
        assert!(cfg(r#"{"type":"black_list","blocks":""}"#).is_ok());
    }

    #[test]
    fn list_parser() {
        assert_eq!(parse_ip_list(" ;;\n").unwrap(), vec![]);
        assert_eq!(parse_ip_list("::ffff:1.2.3.0/120").unwrap(), nets(&["1.2.3.0/24"]));
        assert_eq!(parse_ip_list("10.1.2.3/8").unwrap(), nets(&["10.0.0.0/8"]));
        for bad in ["1.2.3", "1.2.3.4/", "/8", "1.2.3.4/8/8", "example.com", "1.2.3.4:80", "::g"] {
            let err = parse_ip_list(bad).unwrap_err();
            assert!(err.problem.starts_with(&format!("entry 1 ({bad:?}) is not")), "{bad}: {err}");
            assert_eq!(err.field, "", "{bad}: {err}");
        }
    }
}
