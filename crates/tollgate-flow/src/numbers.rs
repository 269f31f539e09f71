//! The rate headers' numbers as header values: those up to [`TABLE`] from a table made once
//! per process, so that writing `X-RateLimit-Limit: 100` and `X-RateLimit-Remaining: 42`
//! allocates nothing (a value rendered per request is an allocation, and another when the
//! response is dropped); a larger number is rendered, unless it is a configured limit, kept
//! when the layer is built ([`kept`]).

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock, PoisonError};

use bytes::Bytes;
use http::HeaderValue;

/// The largest number kept in the table: every allowance of a usual limit (100 a second,
/// 1,000 a minute) and the last 1,024 of any. The table is about 45 KB for the process.
const TABLE: u32 = 1_024;

/// The table: a value over `'static` bytes, whose clone is a copy (no allocation or
/// reference count), for each number up to [`TABLE`].
fn values() -> &'static [HeaderValue] {
    static VALUES: OnceLock<Box<[HeaderValue]>> = OnceLock::new();
    VALUES.get_or_init(table)
}

/// `n` as a header value.
pub(crate) fn header_value(n: u32) -> HeaderValue {
    match values().get(n as usize) {
        Some(value) => value.clone(),
        None => HeaderValue::from(n),
    }
}

/// `n` as a header value kept for the life of the process, for a configured limit: from the
/// table, or made once per distinct number (so a configuration reloaded with the same limits
/// adds nothing). Called when a layer is built, never per request.
pub(crate) fn kept(n: u32) -> &'static HeaderValue {
    static KEPT: OnceLock<Mutex<HashMap<u32, &'static HeaderValue>>> = OnceLock::new();
    if let Some(value) = values().get(n as usize) {
        return value;
    }
    let mut kept = KEPT.get_or_init(Default::default).lock().unwrap_or_else(PoisonError::into_inner);
    kept.entry(n).or_insert_with(|| {
        let text: &'static str = n.to_string().leak();
        let value = HeaderValue::from_maybe_shared(Bytes::from_static(text.as_bytes()))
            .unwrap_or_else(|_| HeaderValue::from(n));
        Box::leak(Box::new(value))
    })
}

fn table() -> Box<[HeaderValue]> {
    // one text for all the digits, kept for the life of the process
    let digits: &'static str = (0..=TABLE).map(|n| n.to_string()).collect::<String>().leak();
    let mut at = 0;
    (0..=TABLE)
        .map(|n| {
            let len = n.checked_ilog10().unwrap_or(0) as usize + 1;
            let text = &digits[at..at + len];
            at += len;
            HeaderValue::from_maybe_shared(Bytes::from_static(text.as_bytes())).unwrap_or_else(|_| HeaderValue::from(n))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_number_reads_as_it_is_written() {
        for n in (0..=TABLE + 2).chain([u32::MAX - 1, u32::MAX, 9_999, 10_000, 100_000]) {
            assert_eq!(header_value(n).to_str().unwrap(), n.to_string(), "{n}");
        }
    }

    #[test]
    fn a_number_in_the_table_is_not_allocated_again() {
        let (a, b) = (header_value(42), header_value(42));
        assert_eq!(a.as_bytes().as_ptr(), b.as_bytes().as_ptr());
        let (c, d) = (header_value(TABLE + 1), header_value(TABLE + 1));
        assert_ne!(c.as_bytes().as_ptr(), d.as_bytes().as_ptr(), "rendered each time above the table");
    }

    #[test]
    fn a_kept_limit_is_made_once() {
        for n in [0, 7, TABLE, TABLE + 1, 4_000_000_000, u32::MAX] {
            assert_eq!(kept(n).to_str().unwrap(), n.to_string(), "{n}");
            assert!(std::ptr::eq(kept(n), kept(n)), "{n}: one value per distinct number");
            assert_eq!(kept(n).clone().as_bytes().as_ptr(), kept(n).as_bytes().as_ptr(), "{n}: a clone is a copy");
        }
    }
}
