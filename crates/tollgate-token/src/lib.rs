//! Token authentication as a tower layer: Aliyun API Gateway's JWT plug-in (`jwtAuth`), and
//! the clouds' other token policies (Aliyun's API-level OpenID Connect, Tencent's OAuth 2.0
//! business APIs) as profiles of the same layer.
//!
//! The plug-in's text pastes as it is (auth.md §1's example, with a real key):
//!
//! ```
//! use http::{Request, Response, StatusCode};
//! use tollgate_core::{Caller, Claims};
//! use tollgate_token::TokenLayer;
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let layer = TokenLayer::from_plugin(r#"
//! parameter: Authorization
//! parameterLocation: header
//! claimParameters:
//!   - claimName: userId
//!     parameterName: X-User-Id
//!     location: header
//! jwk:
//!   kty: OKP
//!   crv: Ed25519
//!   kid: ed-1
//!   x: 11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo
//! "#)?;
//! let service = ServiceBuilder::new().layer(layer).service(service_fn(|req: Request<_>| async move {
//!     let caller = Caller::from_extensions(req.extensions()).map(|c| c.key_id().to_owned());
//!     let user = req.headers().get("x-user-id").map(|v| v.to_str().unwrap().to_owned());
//!     assert!(Claims::from_extensions(req.extensions()).is_some());
//!     assert_eq!((caller.as_deref(), user.as_deref()), (Some("alice"), Some("u-1")));
//!     Ok::<_, std::convert::Infallible>(Response::new(String::new()))
//! }));
//!
//! // RFC 8037's example key signed this token: {"sub":"alice","userId":"u-1"}
//! let token = concat!(
//!     "eyJhbGciOiJFZERTQSIsImtpZCI6ImVkLTEiLCJ0eXAiOiJKV1QifQ.eyJzdWIiOiJhbGljZSIsInVzZXJJZCI6InUtMSJ9.",
//!     "LTR2_nupBmGOyPKz0hEdzTD9twBkxA4mOCaotX1Vf8mUWuGVRYg7qO0gozdjY4ZLb4NhKgRRL_UUJqWcx20gBA",
//! );
//! let ok = service.clone().oneshot(
//!     Request::get("/").header("authorization", format!("Bearer {token}"))
//!         .header("x-user-id", "smuggled").body(String::new())?,
//! ).await?;
//! assert_eq!(ok.status(), StatusCode::OK);
//!
//! let refused = service.oneshot(Request::get("/").body(String::new())?).await?;
//! assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
//! assert_eq!(refused.headers()["x-ca-error-message"], "JWT required");
//! # Ok(())
//! # }
//! ```
//!
//! # `jwtAuth`, field by field
//!
//! | field | what it does here |
//! |---|---|
//! | `parameter`, `parameterLocation` | the header (default `Authorization`; `Bearer ` stripped when present), query parameter or cookie holding the token; two copies there are refused (400) |
//! | `jwk` / `jwks` | one JWK, a JWK set `{"keys": [...]}` or a list, under either name (the multi-key layout is UNCERTAIN in the documentation; all are accepted); keys with and without `kid` |
//! | `bypassEmptyToken` | no token: the request goes on without claims or caller (a token that is present but bad is still refused) |
//! | `ignoreExpirationCheck` | `exp` is not checked (`nbf` still is) |
//! | `preventJtiReplay` | a `jti` is accepted once while its token lives (until `exp` plus the leeway; a day for a token without `exp`), through core's `NonceStore` ([`TokenLayer::jti_store`] for Redis); a token without `jti` is refused |
//! | `claimParameters` | claims forwarded as `header`, `query`, `path` (core's `PathParams`) or `formData` (url-encoded bodies; a multipart body is refused); every client-sent copy of those names, in any spelling a lenient backend folds together, is removed first, with or without a token |
//! | `leeway` (ours) | seconds of clock skew tolerated on `exp` and `nbf`; default 0, as the plug-in has none |
//! | `callerClaim` (ours) | the claim that becomes the `Caller`; default `sub` |
//! | `algorithms` (ours) | narrows the keys' algorithms |
//!
//! Algorithms: RS256/384/512, PS256/384/512, ES256, ES384, EdDSA, and HS256/384/512 only for an
//! `oct` JWK that names its `alg` (the configuration says so). A key verifies only its own
//! algorithms (its JWK's `alg`, else its type's); the token's `alg` never chooses beyond
//! them, and `none` is always refused. Refusals follow [`aliyun_jwt::REFUSALS`], one table.
//!
//! Claims go into the request's extensions as core's [`Claims`] (also named `TokenClaims`:
//! one type), which Aliyun's `Token:NAME` conditions, flow-control keys and injection read,
//! and as a [`Caller`](tollgate_core::Caller).
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

pub mod aliyun_jwt;
mod config;
mod forward;
pub mod keys;
mod layer;
mod location;
pub mod profile;
mod replay;
pub mod verify;

pub use aliyun_jwt::AliyunJwt;
pub use config::{ClaimParameter, ClaimPlace, JwtAuthConfig, TokenPlace};
pub use jsonwebtoken::Algorithm;
pub use keys::{Key, KeySet, KeySource};
pub use layer::{ResponseFuture, Token, TokenLayer};
pub use location::{TokenLocation, strip_bearer};
pub use profile::Profile;
pub use replay::JTI_TTL_WITHOUT_EXP;
pub use tollgate_core::{Claims, ConfigError};
pub use verify::{TokenError, TokenHead, Verified, Verifier};

// the clouds' other profiles, and keys from a JWKS URL
pub mod aliyun_oidc;
pub mod jwks;
pub mod tencent_oauth;
pub use aliyun_oidc::{AliyunOidc, OpenIdConnectConfig};
pub use jwks::{JwksError, RemoteKeySet};
pub use tencent_oauth::{OauthConfig, TencentOauth};
