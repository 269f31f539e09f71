//! Secrets and where they are kept.

use std::collections::HashMap;
use std::fmt;
use std::future::{Future, Ready, ready};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::SystemTime;

use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::Sha256;

use tollgate_core::StoreError;

use crate::HmacAlg;

/// A signing secret. Never printed: `Debug` shows `Secret(***)`.
///
/// Clones share one secret and the HMAC key schedules computed from it: a scheme's MAC is
/// keyed once per secret, not once per request.
#[derive(Clone)]
pub struct Secret(Arc<Keys>);

/// The secret's bytes and, computed on first use, its HMAC key states.
struct Keys {
    bytes: Box<[u8]>,
    plain_sha1: OnceLock<Hmac<Sha1>>,
    plain_sha256: OnceLock<Hmac<Sha256>>,
    amp_sha1: OnceLock<Hmac<Sha1>>,
    amp_sha256: OnceLock<Hmac<Sha256>>,
    /// The signing keys derived last, with the context each was derived for.
    derived: Mutex<DerivedKeys>,
}

/// How many derived keys a secret keeps. TC3 derives one per day and service: an endpoint
/// that serves a few services, around midnight UTC when clients sign with either date, needs
/// a few at once, and re-deriving one costs four HMACs (about 1 µs).
const DERIVED_KEPT: usize = 4;

/// Derived keys by context, the oldest replaced first.
#[derive(Default)]
struct DerivedKeys {
    entries: [Option<(String, Hmac<Sha256>)>; DERIVED_KEPT],
    next: usize,
}

impl DerivedKeys {
    /// The key kept for `context`.
    fn get(&self, context: &[&str]) -> Option<Hmac<Sha256>> {
        let kept = self.entries.iter().flatten().find(|(ctx, _)| is_concatenation(ctx, context));
        kept.map(|(_, mac)| mac.clone())
    }

    /// Keeps `mac` for `context`, in place of the oldest.
    fn keep(&mut self, context: &[&str], mac: &Hmac<Sha256>) {
        self.entries[self.next] = Some((context.concat(), mac.clone()));
        self.next = (self.next + 1) % DERIVED_KEPT;
    }
}

/// How a scheme turns the secret into its HMAC key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyForm {
    /// The secret as it is.
    Plain,
    /// The secret followed by `&` (Aliyun RPC).
    Ampersand,
}

impl Secret {
    /// Wraps secret bytes (usually the UTF-8 of the secret string the console shows).
    pub fn new(bytes: impl AsRef<[u8]>) -> Self {
        Self(Arc::new(Keys {
            bytes: Box::from(bytes.as_ref()),
            plain_sha1: OnceLock::new(),
            plain_sha256: OnceLock::new(),
            amp_sha1: OnceLock::new(),
            amp_sha256: OnceLock::new(),
            derived: Mutex::new(DerivedKeys::default()),
        }))
    }

    /// The secret's bytes, for computing a MAC.
    pub fn expose(&self) -> &[u8] {
        &self.0.bytes
    }

    fn key(&self, form: KeyForm) -> Vec<u8> {
        let mut key = self.0.bytes.to_vec();
        if form == KeyForm::Ampersand {
            key.push(b'&');
        }
        key
    }

    /// Whether `claimed` is the HMAC of `data` under this secret (in `form`), compared in
    /// constant time.
    pub fn verify_hmac(&self, alg: HmacAlg, form: KeyForm, data: &[u8], claimed: &[u8]) -> bool {
        let keyed = |cell: &OnceLock<Hmac<Sha1>>| {
            cell.get_or_init(|| Hmac::new_from_slice(&self.key(form)).expect("HMAC takes any key length")).clone()
        };
        let keyed256 = |cell: &OnceLock<Hmac<Sha256>>| {
            cell.get_or_init(|| Hmac::new_from_slice(&self.key(form)).expect("HMAC takes any key length")).clone()
        };
        let k = &self.0;
        match (alg, form) {
            (HmacAlg::Sha1, f) => {
                let mut mac = keyed(if f == KeyForm::Plain { &k.plain_sha1 } else { &k.amp_sha1 });
                mac.update(data);
                same_mac(&mac.finalize().into_bytes(), claimed)
            }
            (HmacAlg::Sha256, f) => {
                let mut mac = keyed256(if f == KeyForm::Plain { &k.plain_sha256 } else { &k.amp_sha256 });
                mac.update(data);
                same_mac(&mac.finalize().into_bytes(), claimed)
            }
        }
    }
}

impl Secret {
    /// Whether `claimed` is the HMAC-SHA256 of `data` under a key derived from this secret
    /// for `context` by `derive`; the derived key state is kept for the next request with
    /// the same context. The context is given in parts (TC3: the date and the service),
    /// compared as their concatenation, so a caller need not join them per request.
    pub fn verify_derived_sha256(
        &self,
        context: &[&str],
        derive: impl FnOnce(&[u8]) -> Vec<u8>,
        data: &[u8],
        claimed: &[u8],
    ) -> bool {
        let kept = || self.0.derived.lock().unwrap_or_else(|e| e.into_inner());
        // bound first: a guard in a `match` scrutinee would be held through the match
        let found = kept().get(context);
        let mut mac = match found {
            Some(mac) => mac,
            None => {
                // derived outside the lock, so that other requests for this secret do not
                // wait on it; two derivations of one key at once are merely redundant
                let mac = Hmac::<Sha256>::new_from_slice(&derive(&self.0.bytes)).expect("HMAC takes any key length");
                kept().keep(context, &mac);
                mac
            }
        };
        mac.update(data);
        same_mac(&mac.finalize().into_bytes(), claimed)
    }
}

/// Whether a computed MAC is the claimed one, compared in constant time by `subtle` (the
/// lengths, which are public, may be compared first).
fn same_mac(computed: &[u8], claimed: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    bool::from(computed.ct_eq(claimed))
}

/// Whether `whole` is `parts` written one after another.
fn is_concatenation(whole: &str, parts: &[&str]) -> bool {
    let mut rest = whole;
    for part in parts {
        match rest.strip_prefix(part) {
            Some(after) => rest = after,
            None => return false,
        }
    }
    rest.is_empty()
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        self.0.bytes == other.0.bytes
    }
}

impl Eq for Secret {}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Self::new(s)
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Self::new(s)
    }
}

/// What a [`SecretStore`] knows about one key id.
#[derive(Debug, Clone)]
pub struct KeyRecord {
    secrets: Vec<Secret>,
    disabled: bool,
    temporary: bool,
    app_id: Option<Arc<str>>,
    /// The key id the record was first found by, shared by the `Caller` and claims of every
    /// request signed with it rather than copied for each (not part of what the record says).
    key_id: OnceLock<Arc<str>>,
}

impl PartialEq for KeyRecord {
    fn eq(&self, other: &Self) -> bool {
        (&self.secrets, self.disabled, self.temporary, &self.app_id)
            == (&other.secrets, other.disabled, other.temporary, &other.app_id)
    }
}

impl Eq for KeyRecord {}

impl KeyRecord {
    /// A key with one active secret.
    pub fn new(secret: impl Into<Secret>) -> Self {
        Self { secrets: vec![secret.into()], disabled: false, temporary: false, app_id: None, key_id: OnceLock::new() }
    }

    /// `key_id` (the id this record was found by) as a shared string: the one kept from the
    /// first request, unless a store returns one record under several ids.
    pub(crate) fn shared_key_id(&self, key_id: &str) -> Arc<str> {
        let kept = self.key_id.get_or_init(|| Arc::from(key_id));
        if **kept == *key_id { kept.clone() } else { Arc::from(key_id) }
    }

    /// Adds another active secret: during a roll-over the old and the new are both accepted.
    pub fn with_secret(mut self, secret: impl Into<Secret>) -> Self {
        self.secrets.push(secret.into());
        self
    }

    /// Marks the key disabled: requests signed with it are refused.
    pub fn disabled(mut self, disabled: bool) -> Self {
        self.disabled = disabled;
        self
    }

    /// Marks the key temporary (an STS key): a request signed with it must carry a security
    /// token the store vouches for ([`SecretStore::check_token`]), or it is refused as
    /// missing one (Aliyun `MissingSecurityToken`). A key that is not temporary may still
    /// be sent with a token, which is then checked all the same.
    pub fn temporary(mut self, temporary: bool) -> Self {
        self.temporary = temporary;
        self
    }

    /// Names the app that owns the key (put in [`Caller`](tollgate_core::Caller)).
    pub fn with_app_id(mut self, app_id: impl Into<Arc<str>>) -> Self {
        self.app_id = Some(app_id.into());
        self
    }

    /// The active secrets, newest last.
    pub fn secrets(&self) -> &[Secret] {
        &self.secrets
    }

    /// Whether the key is disabled.
    pub fn is_disabled(&self) -> bool {
        self.disabled
    }

    /// The owning app's id, if known.
    pub fn app_id(&self) -> Option<&Arc<str>> {
        self.app_id.as_ref()
    }

    /// Whether the key is temporary: usable only with a security token.
    pub fn is_temporary(&self) -> bool {
        self.temporary
    }
}

/// What a [`SecretStore`] says of a security token presented with a key id.
///
/// What a token proves (who issued it, for which role, with which policy) is the issuer's
/// business: tollgate only asks the store whether this token goes with this key now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenStatus {
    /// The token was issued for this key and has not expired: the request may pass.
    Valid,
    /// The token was issued for this key, and its time has passed.
    Expired,
    /// The token is known, but was issued for another key.
    OtherKey,
    /// The store knows no such token (or knows no tokens at all).
    Unknown,
}

/// Looks up key ids. Implement it over a database or a vault; [`MemorySecretStore`] is the
/// in-memory map.
pub trait SecretStore: Send + Sync + 'static {
    /// The key's record, or `None` for an unknown key id.
    fn lookup(&self, key_id: &str) -> impl Future<Output = Result<Option<Arc<KeyRecord>>, StoreError>> + Send;

    /// [`lookup`](Self::lookup) answered at once, for a store that never waits (the
    /// in-memory one), so the signature layer can verify inside its `call`. `None`, the
    /// default, says the store must be awaited.
    fn lookup_at_once(&self, key_id: &str) -> Option<Result<Option<Arc<KeyRecord>>, StoreError>> {
        let _ = key_id;
        None
    }

    /// Whether `token` (a security token, sent as Aliyun's `SecurityToken` or Tencent's
    /// `X-TC-Token` / `Token`) goes with `key_id` at time `now`. Asked only after the
    /// request's signature was verified with the key's secret, so only a holder of the
    /// secret learns what the store says of a token.
    ///
    /// The default answers [`TokenStatus::Unknown`] to every token: a store that knows no
    /// tokens refuses a request that carries one rather than ignore it, since a backend that
    /// reads the token would take it as checked. Existing stores keep working for requests
    /// without a token, and refuse those with one until they implement this.
    fn check_token(
        &self,
        key_id: &str,
        token: &str,
        now: SystemTime,
    ) -> impl Future<Output = Result<TokenStatus, StoreError>> + Send {
        let _ = (key_id, token, now);
        ready(Ok(TokenStatus::Unknown))
    }

    /// [`check_token`](Self::check_token) answered at once, for a store that never waits.
    /// `None`, the default, says the store must be awaited (which is always right, also for
    /// a store that implements only `check_token`).
    fn check_token_at_once(
        &self,
        key_id: &str,
        token: &str,
        now: SystemTime,
    ) -> Option<Result<TokenStatus, StoreError>> {
        let _ = (key_id, token, now);
        None
    }
}

/// An in-memory [`SecretStore`], with the security tokens of its temporary keys.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use tollgate_signature::{KeyRecord, MemorySecretStore, TokenStatus};
///
/// let now = SystemTime::now();
/// let store = MemorySecretStore::new()
///     .with_key("203753741", "secret-of-app-1")
///     // rolling a secret over: both are accepted until the old one is removed
///     .with_record("AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE", KeyRecord::new("old").with_secret("new"))
///     .with_record("AKIDdisabled", KeyRecord::new("x").disabled(true))
///     // an STS key: usable only with its token, until the token expires
///     .with_temporary_key("STS.NUgYrLnoC37mZZCNnAbez", "sts-secret", "CAIS...token", now + Duration::from_secs(3600));
/// assert_eq!(store.len(), 4);
/// assert_eq!(store.token_status("STS.NUgYrLnoC37mZZCNnAbez", "CAIS...token", now), TokenStatus::Valid);
/// assert_eq!(store.token_status("203753741", "CAIS...token", now), TokenStatus::OtherKey);
/// ```
#[derive(Debug, Clone, Default)]
pub struct MemorySecretStore {
    keys: HashMap<String, Arc<KeyRecord>>,
    /// Security tokens: the key each was issued for, and when it expires.
    tokens: HashMap<String, (String, SystemTime)>,
}

impl MemorySecretStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a key with one secret (replacing any record of that key id).
    pub fn with_key(self, key_id: impl Into<String>, secret: impl Into<Secret>) -> Self {
        self.with_record(key_id, KeyRecord::new(secret))
    }

    /// Adds a key's full record (replacing any record of that key id).
    pub fn with_record(mut self, key_id: impl Into<String>, record: KeyRecord) -> Self {
        self.keys.insert(key_id.into(), Arc::new(record));
        self
    }

    /// Adds a security token issued for `key_id`, valid until `expires_at` (excluded). A token
    /// names one key: added again, it names the last. The key itself is added apart (with
    /// [`KeyRecord::temporary`] so that it cannot be used without a token), or at once with
    /// [`with_temporary_key`](Self::with_temporary_key).
    pub fn with_token(mut self, key_id: impl Into<String>, token: impl Into<String>, expires_at: SystemTime) -> Self {
        self.tokens.insert(token.into(), (key_id.into(), expires_at));
        self
    }

    /// Adds a temporary key (an STS AccessKeyId or a Tencent temporary SecretId) with its
    /// secret and its one token, valid until `expires_at`: requests signed with the key must
    /// carry the token.
    pub fn with_temporary_key(
        self,
        key_id: impl Into<String>,
        secret: impl Into<Secret>,
        token: impl Into<String>,
        expires_at: SystemTime,
    ) -> Self {
        let key_id = key_id.into();
        self.with_record(key_id.clone(), KeyRecord::new(secret).temporary(true)).with_token(key_id, token, expires_at)
    }

    /// What the store says of `token` sent with `key_id` at `now` (the synchronous
    /// [`SecretStore::check_token`]).
    pub fn token_status(&self, key_id: &str, token: &str, now: SystemTime) -> TokenStatus {
        match self.tokens.get(token) {
            None => TokenStatus::Unknown,
            Some((issued_for, _)) if issued_for != key_id => TokenStatus::OtherKey,
            Some((_, expires_at)) if now >= *expires_at => TokenStatus::Expired,
            Some(_) => TokenStatus::Valid,
        }
    }

    /// A store from a map of key ids to secrets (as in a JSON credentials file).
    pub fn from_map<K: Into<String>, S: Into<Secret>>(map: impl IntoIterator<Item = (K, S)>) -> Self {
        map.into_iter().fold(Self::new(), |store, (k, s)| store.with_key(k, s))
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether there are no keys.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The synchronous lookup.
    pub fn get(&self, key_id: &str) -> Option<Arc<KeyRecord>> {
        self.keys.get(key_id).cloned()
    }
}

impl SecretStore for MemorySecretStore {
    fn lookup(&self, key_id: &str) -> impl Future<Output = Result<Option<Arc<KeyRecord>>, StoreError>> + Send {
        let found: Ready<_> = ready(Ok(self.get(key_id)));
        found
    }

    fn lookup_at_once(&self, key_id: &str) -> Option<Result<Option<Arc<KeyRecord>>, StoreError>> {
        Some(Ok(self.get(key_id)))
    }

    fn check_token(
        &self,
        key_id: &str,
        token: &str,
        now: SystemTime,
    ) -> impl Future<Output = Result<TokenStatus, StoreError>> + Send {
        ready(Ok(self.token_status(key_id, token, now)))
    }

    fn check_token_at_once(
        &self,
        key_id: &str,
        token: &str,
        now: SystemTime,
    ) -> Option<Result<TokenStatus, StoreError>> {
        Some(Ok(self.token_status(key_id, token, now)))
    }
}

impl<T: SecretStore> SecretStore for Arc<T> {
    fn lookup(&self, key_id: &str) -> impl Future<Output = Result<Option<Arc<KeyRecord>>, StoreError>> + Send {
        T::lookup(self, key_id)
    }

    fn lookup_at_once(&self, key_id: &str) -> Option<Result<Option<Arc<KeyRecord>>, StoreError>> {
        T::lookup_at_once(self, key_id)
    }

    fn check_token(
        &self,
        key_id: &str,
        token: &str,
        now: SystemTime,
    ) -> impl Future<Output = Result<TokenStatus, StoreError>> + Send {
        T::check_token(self, key_id, token, now)
    }

    fn check_token_at_once(
        &self,
        key_id: &str,
        token: &str,
        now: SystemTime,
    ) -> Option<Result<TokenStatus, StoreError>> {
        T::check_token_at_once(self, key_id, token, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::HmacAlg;
    use crate::mac::hmac;

    #[test]
    fn a_record_shares_the_key_id_it_was_found_by() {
        let record = KeyRecord::new("s");
        let first = record.shared_key_id("203753741");
        assert!(Arc::ptr_eq(&first, &record.shared_key_id("203753741")), "kept, not copied");
        // one record under another id (a store may alias keys): that id, not the kept one
        assert_eq!(&*record.shared_key_id("203753742"), "203753742");
        assert_eq!(record, KeyRecord::new("s"), "what the record says is unchanged");
        assert_ne!(record, KeyRecord::new("s").disabled(true));
    }

    #[test]
    fn macs_are_the_same_only_byte_for_byte() {
        let mac = hmac(HmacAlg::Sha256, b"k", b"data");
        assert!(same_mac(&mac, &mac.clone()));
        for i in 0..mac.len() {
            for bit in 0..8 {
                let mut other = mac.clone();
                other[i] ^= 1 << bit;
                assert!(!same_mac(&mac, &other), "byte {i} bit {bit}");
            }
        }
        assert!(!same_mac(&mac, &mac[..31]));
        assert!(!same_mac(&mac[..31], &mac));
        assert!(!same_mac(&mac, &[mac.as_slice(), &[0]].concat()));
        assert!(!same_mac(&mac, &[]));
    }

    /// Threads racing over more contexts than are kept (derivations outside the lock,
    /// evictions under it) still get each MAC right.
    #[test]
    fn derived_keys_are_right_under_racing_threads() {
        let secret = Secret::from("key");
        let services = ["cvm", "cbs", "cdb", "clb", "vpc", "tke"];
        std::thread::scope(|scope| {
            for t in 0..8 {
                let secret = &secret;
                scope.spawn(move || {
                    for i in 0..300 {
                        let service = services[(t + i) % services.len()];
                        let context = format!("2026-11-22/{service}");
                        let mac = hmac(HmacAlg::Sha256, &[b"key", context.as_bytes()].concat(), b"data");
                        let derive = |bytes: &[u8]| [bytes, context.as_bytes()].concat();
                        assert!(secret.verify_derived_sha256(&["2026-11-22", "/", service], derive, b"data", &mac));
                        let derive = |bytes: &[u8]| [bytes, context.as_bytes()].concat();
                        assert!(!secret.verify_derived_sha256(&["2026-11-22", "/", service], derive, b"other", &mac));
                    }
                });
            }
        });
    }

    #[test]
    fn a_derived_key_is_reused_only_for_the_same_context() {
        let secret = Secret::from("key");
        let derivations = std::cell::Cell::new(0);
        let check = |parts: &[&str], context: &str| {
            let mac = hmac(HmacAlg::Sha256, &[b"key", context.as_bytes()].concat(), b"data");
            let derive = |bytes: &[u8]| {
                derivations.set(derivations.get() + 1);
                [bytes, context.as_bytes()].concat()
            };
            secret.verify_derived_sha256(parts, derive, b"data", &mac)
        };
        assert!(check(&["2026-11-22", "/", "cvm"], "2026-11-22/cvm"));
        assert!(check(&["2026-11-22", "/", "cvm"], "2026-11-22/cvm"));
        assert_eq!(derivations.get(), 1, "the same context reads the cached key");
        // a context whose parts differ is a new key, even when it starts the same
        assert!(check(&["2026-11-22", "/", "cv"], "2026-11-22/cv"));
        assert!(check(&["2026-11-22", "/", "cvmx"], "2026-11-22/cvmx"));
        assert!(check(&["2026-11-23", "/", "cvm"], "2026-11-23/cvm"));
        assert_eq!(derivations.get(), 4);
        // parts split differently but written out alike name the same context
        assert!(check(&["2026-11-23/", "cvm"], "2026-11-23/cvm"));
        assert_eq!(derivations.get(), 4);
        // the contexts kept so far are still read from the cache, a fifth replaces the oldest
        let derived = derivations.get();
        for (parts, context) in [
            (["2026-11-22", "/", "cvm"], "2026-11-22/cvm"),
            (["2026-11-22", "/", "cvmx"], "2026-11-22/cvmx"),
            (["2026-11-23", "/", "cvm"], "2026-11-23/cvm"),
            (["2026-11-22", "/", "cv"], "2026-11-22/cv"),
        ] {
            assert!(check(&parts, context));
        }
        assert_eq!(derivations.get(), derived, "four contexts are kept");
        assert!(check(&["2026-11-24", "/", "cvm"], "2026-11-24/cvm"));
        assert!(check(&["2026-11-24", "/", "cvm"], "2026-11-24/cvm"));
        assert_eq!(derivations.get(), derived + 1);
        // the oldest (2026-11-22/cvm) made way; the newer ones stayed
        assert!(check(&["2026-11-22", "/", "cvmx"], "2026-11-22/cvmx"));
        assert_eq!(derivations.get(), derived + 1);
        assert!(check(&["2026-11-22", "/", "cvm"], "2026-11-22/cvm"));
        assert_eq!(derivations.get(), derived + 2);
        // a wrong MAC is refused whether the key was kept or derived
        let wrong = [0u8; 32];
        assert!(!secret.verify_derived_sha256(&["2026-11-24", "/", "cvm"], |_| unreachable!(), b"data", &wrong));
        assert!(!secret.verify_derived_sha256(&["2026-11-25", "/", "cvm"], |b| b.to_vec(), b"data", &wrong));
        assert!(
            is_concatenation("ab", &["a", "b"])
                && !is_concatenation("ab", &["a"])
                && !is_concatenation("a", &["a", "b"])
        );
    }
}
