//! How a refusal reads, per tier and per client ecosystem.

use http::StatusCode;
use tollgate_core::{GrpcCode, ParamError, Rejection, StoreError};

use crate::policy::Tier;

/// The refusal for `tier`: 429 in the neutral style; the reference's status and words in
/// the Aliyun and Tencent styles (Aliyun's gateway status is `aliyun_status`, 403 by
/// default as its FAQ's error table has it).
pub(crate) fn refusal(tier: Tier, aliyun_status: StatusCode) -> Rejection {
    let (code, message, aliyun_message, rpc) = match tier {
        Tier::Api => (
            "Throttled.Api",
            "too many requests to this API",
            "Throttled by API Flow Control",
            ("Throttling.API", "Request was denied due to api flow control."),
        ),
        Tier::User => (
            "Throttled.User",
            "too many requests from this user",
            "Throttled by USER Flow Control",
            ("Throttling.User", "Request was denied due to user flow control."),
        ),
        Tier::App => (
            "Throttled.App",
            "too many requests from this app",
            "Throttled by APP Flow Control",
            ("Throttling", "Request was denied due to request throttling."),
        ),
        // Aliyun has no per-IP tier: these words are ours, in its pattern
        Tier::Ip => (
            "Throttled.Ip",
            "too many requests from this IP address",
            "Throttled by IP Flow Control",
            ("Throttling", "Request was denied due to request throttling."),
        ),
        Tier::Parameter => (
            "Throttled.Parameter",
            "too many requests with this parameter value",
            "Throttled by API Flow Control",
            ("Throttling", "Request was denied due to request throttling."),
        ),
    };
    Rejection::new(StatusCode::TOO_MANY_REQUESTS, code, message)
        .with_policy("flow")
        .with_aliyun_api_gateway(aliyun_status, aliyun_message)
        .with_aliyun_rpc(StatusCode::BAD_REQUEST, rpc.0, rpc.1)
        .with_tencent_cloud("RequestLimitExceeded", "The number of requests exceeds the frequency limit.")
        .with_tencent_api_gateway(StatusCode::TOO_MANY_REQUESTS, "API rate limit exceeded")
        .with_grpc_code(GrpcCode::ResourceExhausted)
}

/// The refusal when the rate store cannot answer: 503 `RateStoreFull` when it is full of
/// live keys (a new key would make it forget a throttled one), else 503
/// `RateStoreUnavailable`.
pub(crate) fn unavailable(error: &StoreError) -> Rejection {
    let (code, message) = match error {
        StoreError::Full => ("RateStoreFull", "flow control is tracking as many keys as it can; retry later"),
        _ => ("RateStoreUnavailable", "flow control is unavailable"),
    };
    Rejection::new(StatusCode::SERVICE_UNAVAILABLE, code, message)
        .with_policy("flow")
        .with_grpc_code(GrpcCode::Unavailable)
}

/// The refusal code when a policy with a per-IP limit cannot tell the client's address.
pub const CODE_IP_UNRESOLVED: &str = "IpUnresolved";
/// The refusal code when a rate-key parameter is given more than once.
pub const CODE_AMBIGUOUS_PARAMETER: &str = "AmbiguousParameter";
/// The refusal code when a rate-key parameter (or the path) holds a malformed escape.
pub const CODE_MALFORMED_PARAMETER: &str = "MalformedParameter";

/// 403 `IpUnresolved`: the request would escape the per-IP limit, never be keyed as its
/// proxy.
pub(crate) fn ip_unresolved() -> Rejection {
    Rejection::new(StatusCode::FORBIDDEN, CODE_IP_UNRESOLVED, "the client's IP address could not be determined")
        .with_policy("flow")
        .with_grpc_code(GrpcCode::PermissionDenied)
}

/// 400: a rate key the backend could read another way than flow control would.
pub(crate) fn bad_parameter(error: &ParamError) -> Rejection {
    let code = match error {
        ParamError::Repeated(_) => CODE_AMBIGUOUS_PARAMETER,
        _ => CODE_MALFORMED_PARAMETER,
    };
    Rejection::new(StatusCode::BAD_REQUEST, code, error.to_string())
        .with_policy("flow")
        .with_grpc_code(GrpcCode::InvalidArgument)
}
