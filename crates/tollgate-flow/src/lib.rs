//! Flow control for tower services: Tencent API Gateway's basic and parameter flow-control
//! plugins and Aliyun API Gateway's API / user / app tiers, as layers.
//!
//! ```
//! use std::convert::Infallible;
//! use http::{Request, Response, StatusCode};
//! use tollgate_flow::{BasicFlowControlConfig, BasicFlowControlLayer};
//! use tower::{Service, ServiceBuilder, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // Tencent's plugin JSON, pasted as is: 2 requests per minute to this API
//! let config: BasicFlowControlConfig =
//!     serde_json::from_str(r#"{"expire_type": "minute", "api_rate_limit": 2}"#)?;
//! let mut svc = ServiceBuilder::new()
//!     .layer(BasicFlowControlLayer::from_config(&config)?)
//!     .service(service_fn(|_req: Request<()>| async { Ok::<_, Infallible>(Response::new("hello")) }));
//!
//! for expected in [StatusCode::OK, StatusCode::OK, StatusCode::TOO_MANY_REQUESTS] {
//!     let response = svc.ready().await?.call(Request::new(())).await?;
//!     assert_eq!(response.status(), expected);
//!     assert_eq!(response.headers()["x-ratelimit-limit"], "2");
//! }
//! # Ok(())
//! # }
//! ```
//!
//! # Policies
//!
//! | layer | policy | plugin JSON |
//! |---|---|---|
//! | [`BasicFlowControlLayer`] | [`BasicLimits`]: the API; each app ([`Caller`](tollgate_core::Caller)); each client IP ([`ClientIp`](tollgate_core::ClientIp)); special apps and IPs instead of the general app / IP limits | [`BasicFlowControlConfig`] |
//! | [`ParamFlowControlLayer`] | [`ParamLimits`]: a default API limit, then up to 10 strategies by descending weight, each keyed by a header, query parameter or the path, guarded by a [`Condition`](tollgate_core::Condition) | [`ParamFlowControlConfig`] |
//! | [`AliyunFlowControlLayer`] | [`AliyunLimits`]: API, user and app tiers, app <= user <= API, special users and apps | [`AliyunFlowControlConfig`]: the `trafficControl` plug-in's YAML/JSON or the OpenAPI's fields |
//! | [`KeyedFlowControlLayer`] | [`KeyedLimit`]: one limit per client IP, per app or per value of a header, nothing else: `FlowControlLayer::per_client_ip(100, Duration::from_secs(60))?` | (code only) |
//!
//! All limits that apply to a request are taken from the [`RateStore`](tollgate_core::RateStore)
//! at once, all or nothing: the smallest decides, and a request refused by one limit uses
//! up none of the others (an app over its own limit does not drain the API's allowance).
//!
//! # Specials
//!
//! A special app or IP (Tencent) or a special app or user (Aliyun) has its own limit; the
//! API limit always applies to it. Which general limits it replaces follows each cloud's
//! console text:
//!
//! | special | replaces | still applies |
//! |---|---|---|
//! | Tencent special app | the app limit | the API and IP limits |
//! | Tencent special ClientIP | the IP limit and the app limit ("App 流量限制和 ClientIP 流量限制对该应用失效") | the API limit, a special app's own limit |
//! | Aliyun special app | the app and user limits ("基础的APP流量限制和用户流量限制对该 APP 或用户失效") | the API limit, a special user's own limit |
//! | Aliyun special user | the user and app limits | the API limit, a special app's own limit |
//!
//! # Aliyun's `trafficControl` plug-in
//!
//! The basic template reads as the console writes it, YAML or JSON:
//!
//! ```
//! use tollgate_flow::{AliyunFlowControlConfig, AliyunFlowControlLayer};
//!
//! let config: AliyunFlowControlConfig = serde_norway::from_str("
//! unit: SECOND
//! apiDefault: 1000
//! controlMode: FIX_WINDOW
//! appDefault: 30
//! blockingMode: QUICK_RETURN
//! specials:
//!   - type: APP
//!     policies:
//!       - {key: 10123123, value: 10}
//! ")?;
//! let layer = AliyunFlowControlLayer::from_config(&config)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! What the documentation leaves open, settled as an Aliyun user would expect:
//!
//! - `unit` and `apiDefault` are required, the rest optional (as the OpenAPI has it);
//!   `SENCOND`, one doc version's spelling, is a second.
//! - `controlMode: FIX_WINDOW` is a fixed calendar window; absent, the unit's default (a
//!   token bucket for SECOND, a fixed window otherwise). `FIX_WINDOW` is the only value the
//!   documentation shows: any other is a configuration error naming `controlMode`.
//! - `blockingMode: QUICK_RETURN` is what every limit here does (no token: refused at once);
//!   absent means the same. Aliyun's default queues a request for the next token; queueing is
//!   not offered, and any other value is an error naming `blockingMode`.
//! - A special's `key` is the AppId or account id; YAML's `key: 10123123` (a number) is read as
//!   its digits. A special may not exceed `apiDefault`. A key listed twice (as in the
//!   CreatePlugin example) takes its later value, as `AddTrafficSpecialControl` overwrites.
//! - Refusals are 403 with `X-Ca-Error-Message: Throttled by APP Flow Control` (`API`,
//!   `USER`) as Aliyun's error table has it; the plug-in documentation says 429, which
//!   `statusCode: 429` (ours) gives.
//! - The OpenAPI spelling (`Unit`, `ApiDefault`, `SpecialControls`, ...) still reads; one
//!   configuration in both spellings is refused. Errors name fields as they were written.
//!
//! # Algorithms
//!
//! | `algorithm` | what passes | in any window-long stretch |
//! |---|---|---|
//! | `fixed_window` (default for minute, hour, day) | N per calendar window (UTC, or shifted by `utc_offset_hours`), reset at the boundary | up to 2N across a boundary |
//! | `gcra` (default for a second) | a burst of N, then one more every window/N (the arithmetic of [`governor`](https://docs.rs/governor), tested against it) | up to 2N after an idle stretch |
//! | `sliding_window` | never more than N; requests are forgotten between 1 and 1.1 windows after they passed | N |
//!
//! # Responses
//!
//! A passing response carries `X-RateLimit-Limit` (the smallest limit that applied) and
//! `X-RateLimit-Remaining`; [`FlowControlLayer::ietf_headers`] adds the IETF draft's
//! `RateLimit-Policy` and `RateLimit`. A refusal carries them too, and `Retry-After` in
//! whole seconds, rounded up. [`FlowControlLayer::rate_headers`]`(false)` leaves passing
//! responses as the handler made them (tower_governor's default), and refusals with
//! `Retry-After` alone.
//!
//! | style | status | words |
//! |---|---|---|
//! | problem+json (default) | 429 | `Throttled.Api`, `Throttled.App`, `Throttled.Ip`, `Throttled.User`, `Throttled.Parameter` |
//! | Aliyun API Gateway | 403 ([`FlowControlLayer::aliyun_status`] to change) | `X-Ca-Error-Message: Throttled by API Flow Control` (`USER`, `APP`; `IP` is ours) |
//! | Aliyun RPC | 400 | `Throttling.API`, `Throttling.User`, `Throttling` |
//! | Tencent Cloud API | 200 | `RequestLimitExceeded` |
//! | Tencent API Gateway | 429 | `API rate limit exceeded` |
//! | gRPC | | `RESOURCE_EXHAUSTED` |
//!
//! A request whose key cannot be read one way only is refused before any limit is taken:
//! 403 `IpUnresolved` when a policy limits by client IP and the address is unknown
//! ([`BasicLimits::pass_unresolved`] to let it past the IP limit); 400 `AmbiguousParameter`
//! when a rate-key parameter is repeated (`?user=a&user=b`, two header lines); 400
//! `MalformedParameter` when it (or the path, for a path strategy) holds a malformed
//! percent-escape. Keys are the values a backend reads: decoded query values, the decoded
//! and normalised path, an IPv6 client's /64 ([`BasicLimits::ipv6_prefix`]).
//!
//! # Memory
//!
//! The in-memory store keeps each key as a 64-bit fingerprint with its state, bounded
//! (1,000,000 keys by default) and dropped once idle for a window, so memory stays flat
//! under millions of distinct IPs or parameter values (figures in `benches/README.md`).
//! A key whose window has not ended is never forgotten: when the store is full of such
//! keys, a request that needs a new one is refused, 503 `RateStoreFull` (so flooding
//! distinct values cannot reset a throttled one);
//! [`MemoryRateStore::evict_when_full`](tollgate_core::MemoryRateStore::evict_when_full)
//! prefers availability. A store that cannot answer gives 503 `RateStoreUnavailable`.

mod aliyun;
mod basic;
mod config;
mod keyed;
mod layer;
mod numbers;
mod param;
mod policy;
mod refusal;

pub use aliyun::{
    AliyunFlowControlConfig, AliyunForm, AliyunLimits, AliyunPolicy, AliyunSpecial, AliyunSpecialType, AliyunSpecials,
    AliyunUnit, MAX_API_DEFAULT,
};
pub use basic::{BasicLimits, DEFAULT_IPV6_PREFIX, MAX_SPECIALS};
pub use config::{
    AlgorithmChoice, BasicFlowControlConfig, ConfigError, ParamFlowControlConfig, ParameterConfig, ParameterKind,
    SpecialApp, SpecialIp, StrategyConfig, WindowUnit,
};
pub use keyed::KeyedLimit;
pub use layer::{
    AliyunFlowControlLayer, BasicFlowControlLayer, FlowControl, FlowControlLayer, KeyedFlowControlLayer,
    ParamFlowControlLayer, RATELIMIT, RATELIMIT_POLICY, ResponseFuture, X_RATELIMIT_LIMIT, X_RATELIMIT_REMAINING,
};
pub use param::{MAX_NAME_CHARS, MAX_STRATEGIES, ParamLimits};
pub use policy::{Check, Checks, FlowPolicy, FlowRequest, Tier};
pub use refusal::{CODE_AMBIGUOUS_PARAMETER, CODE_IP_UNRESOLVED, CODE_MALFORMED_PARAMETER};
