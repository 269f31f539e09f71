//! IP access control: an allow list or a deny list of IPs and CIDR networks, optionally per
//! app, as a tower layer — the "IP access control" plugin of Tencent Cloud API Gateway and
//! Aliyun API Gateway.
//!
//! ```
//! use axum::{Router, routing::get};
//! use tollgate_ip::IpAccessLayer;
//!
//! # fn main() -> Result<(), tollgate_ip::ConfigError> {
//! let app: Router = Router::new()
//!     .route("/", get(|| async { "hello" }))
//!     .layer(IpAccessLayer::allow(["127.0.0.1", "::1", "10.0.0.0/8"])?);
//! # Ok(())
//! # }
//! ```
//!
//! Configuration can be pasted from either cloud (see [`IpAccessConfig`]):
//!
//! ```
//! use tollgate_ip::{IpAccessConfig, IpAccessLayer};
//!
//! let config: IpAccessConfig = serde_json::from_str(
//!     r#"{"type": "black_list", "blocks": "192.0.2.0/24\n2001:db8::/32"}"#,
//! ).unwrap();
//! let layer = IpAccessLayer::from_config(&config).unwrap();
//! ```
//!
//! The client's address is core's [`ClientIp`](tollgate_core::ClientIp): the connection's
//! peer, unless a [`ClientIpLayer`](tollgate_core::ClientIpLayer) outside this layer was told
//! to trust the proxy in front. Stack it after the request id and CORS layers and before
//! flow control and signature verification; per-app entries need the `Caller` a signature
//! layer provides, so a layer with them goes inside the signature layer.

pub mod config;
mod layer;
mod policy;
pub mod ranges;

pub use config::{AppRule, ConfigError, IpAccessConfig, Mode, parse_ip_list};
pub use layer::{ALIYUN_MESSAGE, CODE_DENIED, CODE_UNRESOLVED, IpAccess, IpAccessLayer};
pub use ranges::IpRanges;
