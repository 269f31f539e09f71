//! The shared vocabulary of the tollgate policies.
//!
//! Every tollgate policy (signature, replay, IP access, flow control, CORS, parameters) is
//! its own crate and depends on this one, never on another policy. They meet only through
//! the types here, most of them carried in request extensions:
//!
//! | type | what it is |
//! |---|---|
//! | [`Rejection`] | why a request was refused: status, stable code, message, per-ecosystem wording |
//! | [`ErrorStyle`] | how a refusal is rendered: problem+json (default), Aliyun, Tencent, gRPC, or your own |
//! | [`RequestId`] / [`RequestIdLayer`] | one id per request, echoed on every response |
//! | [`ClientIp`] / [`ClientIpLayer`] | the caller's address; forwarding headers only from trusted proxies |
//! | [`Caller`], [`SignedClaims`] | the authenticated key id / app, and the verified nonce and timestamp, set by a signature verifier |
//! | [`TimeWindow`], [`Clock`] | "per minute", and what time it is (a [`ManualClock`] for tests) |
//! | [`ParamLocation`], [`ParamSource`] | where a parameter lives and the one routine that reads it |
//! | [`SystemParam`], [`SystemValues`] | the system parameters (Aliyun's fifteen, Tencent's three), and those only configuration knows |
//! | [`TokenClaims`] | the claims of a verified token (Aliyun's `Token:NAME`) |
//! | [`Condition`] | a compiled condition expression (`header.x-level == "vip" && client_ip in ["10.0.0.0/8"]`, Aliyun's `$userId = $pathUserId`), see [`condition`] (feature `condition`) |
//! | [`NonceStore`], [`RateStore`] | where nonces and rate allowances live; bounded in-memory defaults |
//! | [`buffer_request`], [`ResponseBody`], [`PolicyFuture`], [`MaybeBoxedFuture`] | body and future plumbing shared by the policies |
//!
//! ```
//! use std::net::SocketAddr;
//! use http::{Request, Response};
//! use tollgate_core::{ClientIp, ClientIpLayer, PeerAddr, RequestIdLayer};
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let svc = ServiceBuilder::new()
//!     .layer(RequestIdLayer::new())
//!     .layer(ClientIpLayer::new())
//!     .service(service_fn(|req: Request<()>| async move {
//!         let ip = ClientIp::from_extensions(req.extensions()).map(|c| c.ip().to_string());
//!         Ok::<_, std::convert::Infallible>(Response::new(ip.unwrap_or_default()))
//!     }));
//!
//! let mut req = Request::new(());
//! req.extensions_mut().insert(PeerAddr("127.0.0.1:5000".parse::<SocketAddr>().unwrap()));
//! let resp = svc.oneshot(req).await.unwrap();
//! assert_eq!(resp.body(), "127.0.0.1");
//! assert!(resp.headers().contains_key("x-request-id"));
//! # }
//! ```
//!
//! # Cargo features
//!
//! Every policy crate depends on this one with `default-features = false` and names the
//! features it uses, so each compiles only what it needs: tollgate-ip compiles neither `regex`
//! nor `metrics`. `serde_json` and `uuid` are always here: every refusal is rendered by an
//! [`ErrorStyle`], most of them as JSON, with a request id generated when no
//! [`RequestIdLayer`] ran.
//!
//! | feature | default | what it adds | enabled by |
//! |---|---|---|---|
//! | `metrics` | yes | decisions counted through the `metrics` facade ([`observe`]); without it the counts do nothing | the `tollgate` facade, always |
//! | `condition` | no | [`Condition`] and the [`condition`] module (brings `regex` and `httpdate`) | tollgate-flow |
//! | `axum` | no | the peer address read from axum's `ConnectInfo<SocketAddr>`; [`Caller`], [`ClientIp`] and [`RequestId`] as axum extractors, refused with an [`ExtractRejection`] | the facade's `axum` feature |
//! | `tonic` | no | the peer address read from tonic's `TcpConnectInfo` | the facade's `tonic` feature |
//!
//! A program that uses a policy crate alone and wants its decisions counted enables
//! `tollgate-core/metrics`; feature unification turns it on for every policy.
//!
// Without its feature an item is not there to link to: point at the table above instead.
#![cfg_attr(feature = "condition", doc = "[`Condition`]: crate::Condition\n[`condition`]: crate::condition")]
#![cfg_attr(not(feature = "condition"), doc = "[`Condition`]: #cargo-features\n[`condition`]: #cargo-features")]
#![cfg_attr(feature = "axum", doc = "[`ExtractRejection`]: crate::ExtractRejection")]
#![cfg_attr(not(feature = "axum"), doc = "[`ExtractRejection`]: #cargo-features")]

mod body;
mod caller;
mod claims;
mod client_ip;
#[cfg(feature = "condition")]
pub mod condition;
mod config_error;
#[cfg(feature = "axum")]
mod extract;
mod future;
pub mod observe;
mod param;
mod rejection;
mod request_id;
mod store;
mod style;
mod system_param;
mod time;
mod token_claims;

pub use body::{DEFAULT_BODY_LIMIT, RequestBody, ResponseBody, buffer_request};
pub use caller::Caller;
pub use claims::{MAX_WINDOW, ReplayRefusals, SignedClaims};
pub use client_ip::{
    BadNetwork, ClientIp, ClientIpLayer, ClientIpService, ForwardingHeader, Hop, PeerAddr, TrustedProxies,
    UnresolvedClient, canonical_network, forwarding_hops, parse_forwarded, parse_network, parse_x_forwarded_for,
    peer_ip,
};
#[cfg(feature = "condition")]
pub use condition::{Condition, ConditionError};
pub use config_error::ConfigError;
#[cfg(feature = "axum")]
pub use extract::ExtractRejection;
pub use future::{BoxResponseFuture, MaybeBoxedFuture, PolicyFuture};
pub use param::{
    ParamError, ParamLocation, ParamSource, PathParams, PathTemplate, TemplateError, lenient_name, normalize_path,
    parse_urlencoded,
};
pub use rejection::{Ecosystem, Rejection, Wording};
pub use request_id::{RequestId, RequestIdLayer, RequestIdService, ResponseFuture as RequestIdFuture, X_REQUEST_ID};
pub use store::{
    Algorithm, MemoryNonceStore, MemoryRateStore, NonceStore, RateDecision, RateKey, RateQuota, RateState, RateStore,
    RateTake, SLIDING_SUBWINDOWS, StoreError,
};
pub use style::{
    ErrorStyle, GrpcCode, RenderContext, RenderRejection, X_API_REQUEST_ID, X_CA_ERROR_MESSAGE, X_CA_REQUEST_ID,
};
pub use system_param::{DEFAULT_PROXY, SystemParam, SystemValues};
pub use time::{Clock, ManualClock, SharedClock, SystemClock, TimeWindow, WindowUnit, time_apart};
pub use token_claims::TokenClaims;
/// The claims of a verified token: the name the token policy uses for [`TokenClaims`] (one
/// type, two names).
pub use token_claims::TokenClaims as Claims;
