//! Token authentication as a tower layer: Aliyun API Gateway's JWT plug-in (`jwtAuth`), with
//! room for the clouds' other token policies (Aliyun's API-level OpenID Connect, Tencent's
//! OAuth 2.0 business APIs) as profiles of the same layer.
//!
//! # The JWT library
//!
//! The cryptography and the claim checks are `jsonwebtoken`'s (version 12, its RustCrypto
//! backend: pure Rust, no C build, unlike its `aws_lc_rs` backend). Compared:
//!
//! - `jsonwebtoken` 12: the most used Rust JWT crate, maintained; JWK parsing
//!   (`DecodingKey::from_jwk`), every algorithm the plug-in needs (RS/PS/ES/EdDSA/HS), leeway,
//!   and since 12.0 refuses unknown `crit` headers and empty HMAC keys and reads `sub`/`iss`/
//!   `aud` without type confusion. Its 10.x line shares the workspace's RustCrypto versions
//!   (sha2 0.10, hmac 0.12) but has none of those fixes: the security fixes win over a second
//!   copy of two hash crates.
//! - `jwt-simple`: good, but typed key pairs per algorithm, no JWK parsing of its own.
//! - `josekit`: OpenSSL underneath (a C build and a system library).
//! - `jwt-compact`: fewer users, a smaller JWK surface.
//!
//! # Modules
//!
//! - [`keys`]: [`KeySet`] (JWKs parsed once; each key with its `kid` and its algorithms) and
//!   [`KeySource`] (where a request's keys come from).
//! - [`verify`]: [`Verifier`], the one check every profile uses, and [`TokenError`].
//! - [`profile`]: [`Profile`], the seam where a cloud's policy reads the token and words
//!   refusals.
//! - [`jwks`]: [`RemoteKeySet`], keys from a JWKS URL (cached, refreshed, rotation-friendly).
//! - [`aliyun_oidc`]: [`AliyunOidc`], Aliyun's API-level OpenID Connect.
//! - [`tencent_oauth`]: [`TencentOauth`], Tencent API Gateway's OAuth 2.0 business APIs.

pub mod keys;
mod location;
pub mod profile;
pub mod verify;

pub use jsonwebtoken::Algorithm;
pub use keys::{Key, KeySet, KeySource};
pub use location::{TokenLocation, strip_bearer};
pub use profile::Profile;
pub use tollgate_core::{Claims, ConfigError};
pub use verify::{TokenError, TokenHead, Verified, Verifier};

// the clouds' other profiles, and keys from a JWKS URL
pub mod aliyun_oidc;
pub mod jwks;
pub mod tencent_oauth;
pub use aliyun_oidc::{AliyunOidc, OpenIdConnectConfig};
pub use jwks::{JwksError, RemoteKeySet};
pub use tencent_oauth::{OauthConfig, TencentOauth};
