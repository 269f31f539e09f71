//! Request signatures of the Aliyun and Tencent cloud gateways, verified (server side) and
//! produced (client side) by one canonical-string builder per scheme, so the two never drift.
//!
//! | module | scheme | clients |
//! |---|---|---|
//! | [`aliyun_apigw`] | Aliyun API Gateway `X-Ca-*` (HmacSHA256 / HmacSHA1) | npm `aliyun-api-gateway`, Aliyun's API Gateway SDKs |
//! | [`aliyun_rpc`] | Aliyun RPC / POP signature v1 | `aliyun-python-sdk-core` and the other POP SDKs |
//! | [`tencent_cloud`] | Tencent Cloud API TC3-HMAC-SHA256, and v1 HmacSHA1 / HmacSHA256 | `tencentcloud-sdk-*` |
//! | [`tencent_apigw`] | Tencent API Gateway key pair (`Authorization: hmac ...`) | Tencent's API Gateway samples |
//! | [`aliyun_backend`] | Aliyun API Gateway's signature for its backend (`X-Ca-Proxy-Signature`) | Aliyun's gateway itself, toward a backend |
//!
//! [`SignatureLayer`] verifies one scheme against a [`SecretStore`] and puts the
//! [`Caller`](tollgate_core::Caller) and [`SignedClaims`](tollgate_core::SignedClaims) in the
//! request's extensions; [`SigningLayer`] signs outgoing requests.
//!
//! Temporary credentials (an STS key and its security token: Aliyun RPC's `SecurityToken`,
//! Tencent's `X-TC-Token` / `Token`): the store is asked whether the token goes with the key
//! ([`SecretStore::check_token`], [`MemorySecretStore::with_temporary_key`]); a temporary key
//! without one, and any token the store does not vouch for, are refused in the cloud's words.
//! The API gateways' app signatures carry no token. Signers send one with
//! [`Signer::sign_with_token`] or [`SigningLayer::security_token`].

pub mod aliyun_apigw;
pub mod aliyun_backend;
pub mod aliyun_rpc;
pub mod tencent_apigw;
pub mod tencent_cloud;

mod layer;
mod scheme;
mod secret;

// What the schemes share, one concern a module.
mod byte_search;
mod form;
mod header_text;
mod hex;
mod mac;
mod name_order;
mod raw_params;
mod sorted_params;
#[cfg(test)]
mod testing;

#[cfg(feature = "fuzzing")]
pub mod fuzzing;

pub use layer::{
    BoxResponseFuture, ResponseFuture, SignatureLayer, SignatureService, SigningError, SigningLayer, SigningService,
};
pub use mac::{HmacAlg, SignatureBytes};
pub use scheme::{RequestView, Scheme, SignError, Signer, TokenProblem, Verified, sign_request};
pub use secret::{KeyForm, KeyRecord, MemorySecretStore, Secret, SecretStore, TokenStatus};

/// The old home of [`HmacAlg`], kept so that `tollgate_signature::util::HmacAlg` still
/// compiles; the shared helpers that lived beside it are private now.
#[doc(hidden)]
#[deprecated(note = "use `tollgate_signature::HmacAlg`")]
pub mod util {
    pub use crate::mac::HmacAlg;
}
