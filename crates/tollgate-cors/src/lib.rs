//! CORS as a tower layer: the Tencent Cloud API Gateway CORS plugin, Aliyun API Gateway's
//! CORS plug-in and the "support CORS" switch, correct by the WHATWG Fetch standard.
//!
//! ```
//! use axum::{Router, routing::get};
//! use http::Method;
//! use tollgate_cors::CorsLayer;
//!
//! # fn main() -> Result<(), tollgate_cors::ConfigError> {
//! let app: Router = Router::new()
//!     .route("/items", get(|| async { "[]" }).put(|| async { "saved" }))
//!     .layer(
//!         CorsLayer::new()
//!             .allow_origin(["https://app.example.com", "https://*.example.org", "http://localhost:8080"])?
//!             .allow_methods([Method::GET, Method::PUT])?
//!             .allow_headers(["X-Api-ID", "Content-Type"])?
//!             .expose_headers(["X-Api-ID"])?
//!             .allow_credentials(true),
//!     );
//! # Ok(())
//! # }
//! ```
//!
//! The same rule from Tencent's plugin JSON (Aliyun's `allowOrigins`/`allowMethods`/... form
//! is read too, see [`CorsPlugin`]), and the API's switch next to it — the plugin wins, as in
//! the gateway:
//!
//! ```
//! use tollgate_cors::{CorsConfig, CorsLayer, CorsMode};
//!
//! let config: CorsConfig = serde_json::from_str(r#"{
//!     "switch": true,
//!     "plugin": {
//!         "allow_origin": ["https://app.example.com", "http://localhost:8080"],
//!         "allow_methods": ["GET", "PUT", "POST", "DELETE", "HEAD"],
//!         "allow_headers": ["X-Api-ID"],
//!         "expose_headers": ["X-Api-ID"],
//!         "allow_credentials": true,
//!         "max_age": 600
//!     }
//! }"#).unwrap();
//! let layer = CorsLayer::from_config(&config).unwrap();
//! assert_eq!(layer.mode(), CorsMode::Rules);
//!
//! // The switch alone only adds `Access-Control-Allow-Origin: *`.
//! assert_eq!(CorsLayer::switch().mode(), CorsMode::Switch);
//! ```
//!
//! What the layer answers (details on [`CorsLayer`]):
//!
//! - preflights (`OPTIONS` + `Origin` + `Access-Control-Request-Method`) are answered here,
//!   `204`, and never forwarded; a disallowed origin, method or header gets no grants;
//! - other requests, plain `OPTIONS` included, reach the handler; an allowed origin's
//!   response gets the grants, any other gets none;
//! - with credentials on, wildcards are echoed (origin, method, requested headers), never
//!   sent as a `*` browsers would refuse, and `Vary` says so;
//! - origins match exactly (scheme and host case-insensitively, port exactly, default ports
//!   normalised), or by `https://*.example.com` subdomains, or by anchored regex — never by
//!   substring, as [`AllowedOrigins`] explains; `null` only when listed.
//!
//! Every configuration error is found when the layer is built — a [`ConfigError`] naming
//! the field (`allow_origin[1]`, `max_age`) — and nothing panics, at build time or on any
//! request. Stack this layer outside IP access control, flow control and signature
//! verification: a preflight carries no credentials and must be answered before them.

pub mod config;
mod interned;
mod layer;
mod origin;
mod policy;

pub use config::{ConfigError, CorsConfig, CorsPlugin, Dialect};
pub use layer::{Cors, CorsLayer, ResponseFuture};
pub use origin::{AllowedOrigins, OriginError};
pub use policy::CorsMode;
