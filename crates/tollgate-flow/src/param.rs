//! Parameter flow control: an API-level default limit, then weighted strategies, each keyed
//! by the value of one parameter and guarded by a condition.

use std::borrow::Cow;
use std::collections::HashSet;
use std::time::Duration;

use http::{HeaderMap, HeaderName};
use tollgate_core::condition::RequestView;
use tollgate_core::{Condition, ParamError, ParamLocation, ParamSource, RateKey, RateQuota, Rejection, normalize_path};

use crate::config::{ConfigError, Enforcement, ParamFlowControlConfig, ParameterKind};
use crate::policy::{Check, Checks, FlowPolicy, FlowRequest, Keys, Tier};
use crate::refusal::bad_parameter;

/// At most this many strategies (the plugin's bound).
pub const MAX_STRATEGIES: usize = 10;
/// A strategy name has at most this many characters.
pub const MAX_NAME_CHARS: usize = 50;

/// Where a strategy reads its rate key: a header (its name parsed once, here), a query
/// parameter, or the path.
#[derive(Debug, Clone)]
enum KeyParam {
    Header(HeaderName),
    Query(ParamLocation),
    Path,
}

#[derive(Debug, Clone)]
struct Strategy {
    name: String,
    /// `param:{policy}:{strategy}`, the scope of its keys (made again when the policy is named).
    scope: String,
    key: KeyParam,
    quota: RateQuota,
    condition: Option<Condition>,
}

/// The compiled limits of Tencent's parameter flow-control plugin. The default limit is
/// checked first; then each strategy, highest weight first, whose condition holds and
/// whose key parameter the request carries (a strategy whose parameter is absent does not
/// apply: ours, the reference is silent). Every distinct value of a strategy's parameter
/// has its own allowance; the first limit exceeded refuses the request.
///
/// A key is the value a backend reads: a query value decoded (`+` a space,
/// percent-escapes, as axum's `Query` decodes it), a header's bytes, the path decoded and
/// normalised ([`normalize_path`]: `/users/%342` and `/users/./42` are `/users/42`). Where a
/// backend could read another value than the key, the request is refused, 400: a key
/// parameter given twice (`?user=a&user=b`, two header lines), `AmbiguousParameter`; a
/// malformed percent-escape in it or in the path, `MalformedParameter`.
#[derive(Debug, Clone)]
pub struct ParamLimits {
    keys: Keys,
    default: Option<RateQuota>,
    strategies: Vec<Strategy>,
}

impl ParamLimits {
    /// Compiles the plugin JSON (conditions included); every problem names its field.
    pub fn from_config(config: &ParamFlowControlConfig) -> Result<Self, ConfigError> {
        // windows are counted in seconds: under a minute they are "per second" limits (GCRA)
        let how = |window: Duration| Enforcement {
            algorithm: config.algorithm,
            per_second: window < Duration::from_secs(60),
            ..Enforcement::default()
        };
        let default = match config.default_window {
            0 => None,
            w => {
                let window = seconds("default_window", w)?;
                Some(how(window).quota("default_rate_limit", config.default_rate_limit, window)?)
            }
        };
        if config.strategies.is_empty() || config.strategies.len() > MAX_STRATEGIES {
            return Err(ConfigError::new("strategies", format!("expected 1 to {MAX_STRATEGIES} strategies")));
        }
        let (mut names, mut weights) = (HashSet::new(), HashSet::new());
        let mut strategies = Vec::with_capacity(config.strategies.len());
        for (i, s) in config.strategies.iter().enumerate() {
            let field = |f: &str| format!("strategies[{i}].{f}");
            if s.name.trim().is_empty() || s.name.chars().count() > MAX_NAME_CHARS {
                return Err(ConfigError::new(field("name"), format!("expected 1 to {MAX_NAME_CHARS} characters")));
            }
            if !names.insert(s.name.as_str()) {
                return Err(ConfigError::new(field("name"), format!("{:?} is used by another strategy", s.name)));
            }
            if s.strategy_weight > 100 {
                return Err(ConfigError::new(field("strategy_weight"), "expected 0 to 100"));
            }
            if !weights.insert(s.strategy_weight) {
                return Err(ConfigError::new(
                    field("strategy_weight"),
                    format!("{} is used by another strategy", s.strategy_weight),
                ));
            }
            let [parameter] = s.parameters.as_slice() else {
                return Err(ConfigError::new(field("parameters"), "expected exactly one rate-key parameter"));
            };
            let key = match parameter.kind {
                ParameterKind::Header => {
                    let name = HeaderName::try_from(parameter.name.trim())
                        .map_err(|_| ConfigError::new(field("parameters[0].name"), "expected a header name"))?;
                    KeyParam::Header(name)
                }
                ParameterKind::Query if parameter.name.is_empty() => {
                    return Err(ConfigError::new(field("parameters[0].name"), "expected a query parameter name"));
                }
                ParameterKind::Query => KeyParam::Query(ParamLocation::Query(parameter.name.clone())),
                ParameterKind::Path => KeyParam::Path,
            };
            let window = seconds(&field("window"), s.window)?;
            let quota = how(window).quota(&field("rate_limit"), s.rate_limit, window)?;
            let condition = match s.condition.trim() {
                "" => None,
                text => {
                    let c = Condition::parse(text).map_err(|e| ConfigError::new(field("condition"), e))?;
                    if c.needs_form_body() {
                        return Err(ConfigError::new(
                            field("condition"),
                            "form fields are not available to flow control, which never reads the body",
                        ));
                    }
                    Some(c)
                }
            };
            strategies.push(Strategy { name: s.name.clone(), scope: String::new(), key, quota, condition });
        }
        // higher weight first; weights are unique, so the order is total
        let mut order: Vec<_> = config.strategies.iter().map(|s| s.strategy_weight).zip(strategies).collect();
        order.sort_by_key(|(weight, _)| std::cmp::Reverse(*weight));
        let limits = Self {
            keys: Keys::new("param", String::new()),
            default,
            strategies: order.into_iter().map(|(_, s)| s).collect(),
        };
        Ok(limits.named("api"))
    }

    /// Names the API in store keys, so several APIs can share one store.
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.keys = Keys::new("param", name.into());
        for s in &mut self.strategies {
            s.scope = format!("param:{}:{}", self.keys.name(), s.name);
        }
        self
    }

    /// The strategies' names in the order they are checked.
    pub fn order(&self) -> impl Iterator<Item = &str> {
        self.strategies.iter().map(|s| s.name.as_str())
    }
}

fn seconds(field: &str, n: u64) -> Result<Duration, ConfigError> {
    if n == 0 || n > 366 * 86_400 {
        return Err(ConfigError::new(field, "expected 1 second to a year"));
    }
    Ok(Duration::from_secs(n))
}

/// The header's only value, its bytes as UTF-8 (invalid sequences as U+FFFD), or `None`
/// when absent; refused when the header is repeated: [`ParamSource::get_unique`] of a
/// header, with the name parsed when the limits were compiled instead of per request.
fn unique_header<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Result<Option<Cow<'a, str>>, ParamError> {
    let mut values = headers.get_all(name).iter();
    let Some(value) = values.next() else { return Ok(None) };
    if values.next().is_some() {
        return Err(ParamError::Repeated(format!("header {name}")));
    }
    Ok(Some(String::from_utf8_lossy(value.as_bytes())))
}

impl FlowPolicy for ParamLimits {
    fn checks<'a>(&'a self, request: &FlowRequest<'a>, out: &mut Checks<'a>) -> Result<(), Rejection> {
        if let Some(quota) = self.default {
            out.push(Check { key: self.keys.whole(), quota, tier: Tier::Parameter });
        }
        // what a condition reads, made for the first strategy that has one
        let mut view = None;
        for s in &self.strategies {
            // a condition the request can make read two ways refuses it: else a client could
            // turn a strategy off with a value the backend never reads (`?tier=gold&tier=free`)
            if let Some(condition) = &s.condition {
                let view = view.get_or_insert_with(|| {
                    RequestView::new(request.method, request.uri, request.headers, request.extensions)
                });
                if !condition.check(view).map_err(|e| bad_parameter(&e))? {
                    continue;
                }
            }
            let value = match &s.key {
                KeyParam::Header(name) => unique_header(request.headers, name),
                KeyParam::Query(location) => ParamSource::new(request.uri, request.headers).get_unique(location),
                KeyParam::Path => normalize_path(request.uri.path()).map(Some),
            };
            if let Some(value) = value.map_err(|e| bad_parameter(&e))? {
                out.push(Check { key: RateKey::new(&s.scope).with_text(value), quota: s.quota, tier: Tier::Parameter });
            }
        }
        Ok(())
    }

    fn limits(&self) -> Vec<u32> {
        self.default.iter().chain(self.strategies.iter().map(|s| &s.quota)).map(RateQuota::limit).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The header key is read as core's one routine reads it: absent, one value (valid
    /// UTF-8 or not), repeated.
    #[test]
    fn header_keys_read_as_param_source_reads_them() {
        let name = HeaderName::from_static("x-user");
        // the location as the limits used to keep it: the name as `HeaderName` spells it
        let location = ParamLocation::Header(name.as_str().to_owned());
        let cases: [&[&[u8]]; 5] = [&[], &[b"u1"], &[b""], &[b"caf\xe9"], &[b"a", b"b"]];
        for values in cases {
            let mut headers = HeaderMap::new();
            for v in values {
                headers.append(&name, http::HeaderValue::from_bytes(v).unwrap());
            }
            let uri = http::Uri::from_static("/");
            let expected = ParamSource::new(&uri, &headers).get_unique(&location);
            assert_eq!(unique_header(&headers, &name), expected, "{values:?}");
        }
    }
}
