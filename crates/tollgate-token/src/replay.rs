//! `preventJtiReplay`: each `jti` accepted once while its token lives, through core's
//! [`NonceStore`] (the in-memory default, or Redis for a fleet).

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use tollgate_core::{NonceStore, StoreError};

use crate::verify::{TokenError, Verified};

/// How long a `jti` is remembered when its token has no `exp`, or its `exp` is ignored: such
/// a token lives on, so its `jti` is kept this long (a day) and refused again after.
pub const JTI_TTL_WITHOUT_EXP: Duration = Duration::from_secs(86_400);

/// The tenant of a token's `jti` in the store: one per signing key, so one issuer's ids never
/// collide with another's.
pub(crate) fn tenant(verified: &Verified) -> String {
    format!("jwt\u{1f}{}", verified.header.kid.as_deref().unwrap_or(""))
}

type StoreFuture = Pin<Box<dyn Future<Output = Result<bool, StoreError>> + Send>>;

/// A [`NonceStore`] behind a pointer (its future type erased), so the layer keeps one type.
pub(crate) trait JtiStore: Send + Sync + 'static {
    fn insert_at_once(&self, tenant: &str, jti: &str, ttl: Duration) -> Option<Result<bool, StoreError>>;
    fn insert(&self, tenant: &str, jti: &str, ttl: Duration) -> StoreFuture;
}

impl<N: NonceStore> JtiStore for N {
    fn insert_at_once(&self, tenant: &str, jti: &str, ttl: Duration) -> Option<Result<bool, StoreError>> {
        self.insert_if_absent_at_once(tenant, jti, ttl)
    }

    fn insert(&self, tenant: &str, jti: &str, ttl: Duration) -> StoreFuture {
        Box::pin(self.insert_if_absent(tenant, jti, ttl))
    }
}

/// What the store is asked for one token: `(tenant, jti, ttl)`, or why the token is refused
/// before asking (no `jti`).
pub(crate) fn question(
    verified: &Verified,
    check_exp: bool,
    leeway: u64,
) -> Result<(String, String, Duration), TokenError> {
    let jti = match verified.claims.get("jti") {
        Some(serde_json::Value::String(s)) if !s.is_empty() => s.clone(),
        Some(serde_json::Value::Number(n)) => n.to_string(),
        _ => return Err(TokenError::MissingClaim("jti")),
    };
    let now = jsonwebtoken::get_current_timestamp();
    let ttl = match verified.exp() {
        // the nonce lives as long as the token could still be accepted
        Some(exp) if check_exp => Duration::from_secs(exp.saturating_add(leeway).saturating_sub(now).max(1)),
        _ => JTI_TTL_WITHOUT_EXP,
    };
    Ok((tenant(verified), jti, ttl))
}

pub(crate) fn answer(result: Result<bool, StoreError>, jti: String) -> Result<(), TokenError> {
    match result {
        Ok(true) => Ok(()),
        Ok(false) => Err(TokenError::Replayed(jti)),
        Err(e) => Err(TokenError::StoreUnavailable(e.to_string())),
    }
}
