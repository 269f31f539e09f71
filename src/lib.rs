//! # tollgate
//!
//! The request policies of a cloud API gateway — Aliyun API Gateway and Tencent Cloud API
//! Gateway — as tower layers that any axum or tonic app, or any tower-based gateway, stacks
//! with `.layer(...)` in front of its own handlers, one policy at a time.
//!
//! Each policy is its own crate, re-exported here behind a cargo feature:
//!
//! | feature | module | policy |
//! |---|---|---|
//! | `ip` (default) | [`ip`] | IP access control: allow and deny lists, per app |
//! | `signature` (default) | [`signature`] | signature verification and signing: Aliyun API Gateway, Aliyun RPC, Tencent Cloud API (TC3, v1), Tencent API Gateway |
//! | `replay` (default) | [`replay`] | replay protection: timestamp window and nonce-once |
//! | `flow` (default) | [`flow`] | flow control: Tencent's basic and parameter plugins, Aliyun's API / user / app tiers |
//! | `cors` (default) | [`cors`] | CORS: Tencent's plugin rules, Aliyun's plug-in, the "support CORS" switch |
//! | `redis` (default) | [`redis`] | Redis-backed nonce and rate stores, so a fleet shares one limit and one nonce history |
//! | `gateway`, `yaml`, `toml` (default) | [`gateway`] | the whole canonical stack as one layer, per API, from code or a JSON, YAML or TOML file |
//! | `watch` | [`gateway::ReloadHandle::watch`] | reload a gateway when its configuration file changes |
//! | `params` (default) | [`params`] | parameters: validation (types, ranges, lengths, enums, regexes, JSON Schema), constant and system parameters, mapping |
//! | `access` (default) | [`access`] | Aliyun parameter access control (`accessControl`): ordered rules on the request's parameters, ALLOW / DENY with a response of one's own |
//! | `error-mapping` (default) | [`error_mapping`] | error-code mapping: Aliyun's `errorMapping` plug-in, a backend's error status, header or JSON field mapped to the status and message the client sees |
//! | `token` (default) | [`token`] | token authentication: Aliyun's JWT plug-in (`jwtAuth`), claims to `Caller`, `Claims` and the backend |
//!
//! The shared vocabulary — [`Rejection`], [`ErrorStyle`], [`RequestId`], [`ClientIp`],
//! [`Caller`], the stores and clocks — is re-exported at the root from `tollgate-core`.
//!
//! ```
//! use axum::{Router, routing::get};
//! use tollgate::prelude::*;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // Layers added later wrap the ones before: the last `.layer` runs first.
//! let app: Router = Router::new()
//!     .route("/", get(|| async { "hello" }))
//!     .layer(IpAccessLayer::allow(["127.0.0.1", "::1"])?)
//!     .layer(ClientIpLayer::new())
//!     .layer(RequestIdLayer::new());
//! # Ok(())
//! # }
//! ```
//!
//! ## The canonical stack
//!
//! Outermost first: request id; CORS; IP access control; flow control by API and client IP;
//! signature verification; replay guard; parameter access control; flow control by app and
//! parameter flow control; parameter validation; parameter injection and mapping; error-code
//! mapping (it sees your handler's responses, not tollgate's refusals); your handler. Cheap
//! refusals run
//! before cryptography, and only authenticated requests can burn a nonce.

pub use tollgate_core::*;

/// IP access control (feature `ip`): see [`tollgate_ip`].
#[cfg(feature = "ip")]
pub mod ip {
    pub use tollgate_ip::*;
}

/// Signature verification and signing (feature `signature`): see [`tollgate_signature`].
#[cfg(feature = "signature")]
pub mod signature {
    pub use tollgate_signature::*;
}

/// Replay protection (feature `replay`): see [`tollgate_replay`].
#[cfg(feature = "replay")]
pub mod replay {
    pub use tollgate_replay::*;
}

/// Flow control (feature `flow`): see [`tollgate_flow`].
#[cfg(feature = "flow")]
pub mod flow {
    pub use tollgate_flow::*;
}

/// CORS (feature `cors`): see [`tollgate_cors`].
#[cfg(feature = "cors")]
pub mod cors {
    pub use tollgate_cors::*;
}

/// Redis-backed stores for fleets (feature `redis`): see [`tollgate_redis`].
#[cfg(feature = "redis")]
pub mod redis {
    pub use tollgate_redis::*;
}

/// Parameter validation, constant and system parameters, parameter mapping (feature
/// `params`): see [`tollgate_params`].
#[cfg(feature = "params")]
pub mod params {
    pub use tollgate_params::*;
}

/// Aliyun parameter access control (feature `access`): see [`tollgate_access`].
#[cfg(feature = "access")]
pub mod access {
    pub use tollgate_access::*;
}

/// Error-code mapping, Aliyun's `errorMapping` plug-in (feature `error-mapping`): see
/// [`tollgate_error_mapping`].
#[cfg(feature = "error-mapping")]
pub mod error_mapping {
    pub use tollgate_error_mapping::*;
}

/// Token authentication, Aliyun's `jwtAuth` plug-in (feature `token`): see
/// [`tollgate_token`].
#[cfg(feature = "token")]
pub mod token {
    pub use tollgate_token::*;
}

/// The whole canonical stack as one layer, from code or a configuration file (feature
/// `gateway`): see [`Gateway`].
#[cfg(feature = "gateway")]
pub mod gateway;
#[cfg(feature = "gateway")]
pub use gateway::{Gateway, GatewayLayer};

/// The types most programs use.
pub mod prelude {
    #[cfg(feature = "gateway")]
    pub use crate::gateway::{Api, Gateway, GatewayLayer};
    #[cfg(feature = "access")]
    pub use tollgate_access::AccessControlLayer;
    pub use tollgate_core::{
        Caller, ClientIp, ClientIpLayer, ErrorStyle, ForwardingHeader, ManualClock, PeerAddr, RateQuota, Rejection,
        RequestId, RequestIdLayer, SystemClock, TimeWindow,
    };
    #[cfg(feature = "cors")]
    pub use tollgate_cors::CorsLayer;
    #[cfg(feature = "error-mapping")]
    pub use tollgate_error_mapping::ErrorMappingLayer;
    #[cfg(feature = "flow")]
    pub use tollgate_flow::{AliyunFlowControlLayer, BasicFlowControlLayer, ParamFlowControlLayer};
    #[cfg(feature = "ip")]
    pub use tollgate_ip::{IpAccessConfig, IpAccessLayer};
    #[cfg(feature = "params")]
    pub use tollgate_params::{ParamInjectionLayer, ParamValidationLayer};
    #[cfg(feature = "replay")]
    pub use tollgate_replay::{HeaderRule, ReplayGuardLayer};
    #[cfg(feature = "signature")]
    pub use tollgate_signature::{KeyRecord, MemorySecretStore, Secret, SignatureLayer, SigningLayer};
    #[cfg(feature = "token")]
    pub use tollgate_token::TokenLayer;
}
