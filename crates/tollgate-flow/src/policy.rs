//! What a flow-control policy says about one request: the limits that apply to it, each a
//! store key, a quota and the tier whose words a refusal uses.

use http::{Extensions, HeaderMap, Method, Uri};
use tollgate_core::RateQuota;

/// The parts of a request a policy reads (the body is never read).
#[derive(Debug, Clone, Copy)]
pub struct FlowRequest<'a> {
    /// The method.
    pub method: &'a Method,
    /// The target.
    pub uri: &'a Uri,
    /// The headers.
    pub headers: &'a HeaderMap,
    /// The extensions ([`Caller`](tollgate_core::Caller), [`ClientIp`](tollgate_core::ClientIp), ...).
    pub extensions: &'a Extensions,
}

/// Which limit a check belongs to; a refusal is worded after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Tier {
    /// The API as a whole.
    Api,
    /// The account owning the calling app (Aliyun's user tier).
    User,
    /// The calling app.
    App,
    /// The client IP.
    Ip,
    /// A parameter strategy (or the parameter plugin's default limit).
    Parameter,
}

/// One limit that applies to a request.
#[derive(Debug, Clone)]
pub struct Check {
    /// The store key: the policy's name, the tier and the keyed value (`app:orders:203753741`).
    pub key: String,
    /// The limit.
    pub quota: RateQuota,
    /// Whose limit it is.
    pub tier: Tier,
}

/// A flow-control policy: the limits that apply to a request, in the order they are
/// checked. [`BasicLimits`](crate::BasicLimits), [`ParamLimits`](crate::ParamLimits) and
/// [`AliyunLimits`](crate::AliyunLimits) are the built-in ones.
pub trait FlowPolicy: Send + Sync + 'static {
    /// Appends the checks for `request` to `out`.
    fn checks(&self, request: &FlowRequest<'_>, out: &mut Vec<Check>);
}
