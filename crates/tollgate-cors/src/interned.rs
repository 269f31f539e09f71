//! Configured header values kept for the life of the process, once per distinct value, so
//! that a response's copy of one is a pointer copy rather than a reference count.
//!
//! A preflight's answer is a clone of headers rendered when the layer was built. A value
//! made at run time (`HeaderValue::from_str`) is reference-counted, and each clone and drop
//! is an atomic operation on one count that every core shares; a `'static` value's is not.
//! Interning rather than leaking keeps the memory bounded by the distinct values ever
//! configured: rebuilding a layer (a configuration reloaded live) with the same rule adds
//! nothing.

use std::collections::HashSet;
use std::sync::{Mutex, OnceLock, PoisonError};

use bytes::Bytes;
use http::HeaderValue;

/// `value` with `'static` bytes: the same bytes, sensitivity and meaning.
pub(crate) fn interned(value: &HeaderValue) -> HeaderValue {
    static SEEN: OnceLock<Mutex<HashSet<&'static [u8]>>> = OnceLock::new();
    let mut seen = SEEN.get_or_init(Default::default).lock().unwrap_or_else(PoisonError::into_inner);
    let bytes: &'static [u8] = match seen.get(value.as_bytes()) {
        Some(&kept) => kept,
        None => {
            let kept: &'static [u8] = Box::leak(value.as_bytes().into());
            seen.insert(kept);
            kept
        }
    };
    // the bytes of a valid value are valid: the fallback is never taken
    let mut out = HeaderValue::from_maybe_shared(Bytes::from_static(bytes)).unwrap_or_else(|_| value.clone());
    out.set_sensitive(value.is_sensitive());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_interned_value_is_the_same_value_and_kept_once() {
        let value = HeaderValue::from_str("GET, PUT, X-Interned-Test").unwrap();
        let a = interned(&value);
        let b = interned(&HeaderValue::from_str("GET, PUT, X-Interned-Test").unwrap());
        assert_eq!(a, value);
        assert_eq!(a.as_bytes().as_ptr(), b.as_bytes().as_ptr(), "one copy per distinct value");
        let other = interned(&HeaderValue::from_static("600"));
        assert_eq!(other, "600");
        let mut secret = HeaderValue::from_static("s");
        secret.set_sensitive(true);
        assert!(interned(&secret).is_sensitive());
    }
}
