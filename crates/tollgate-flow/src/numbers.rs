//! The rate headers' numbers as header values: those up to [`TABLE`] from a table made once
//! per process, so that writing `X-RateLimit-Limit: 100` and `X-RateLimit-Remaining: 42`
//! allocates nothing (a value rendered per request is an allocation, and another when the
//! response is dropped); a larger number is rendered.

use std::sync::OnceLock;

use bytes::Bytes;
use http::HeaderValue;

/// The largest number kept in the table: every allowance of a usual limit (100 a second,
/// 1,000 a minute) and the last 1,024 of any. The table is about 45 KB for the process.
const TABLE: u32 = 1_024;

/// `n` as a header value.
pub(crate) fn header_value(n: u32) -> HeaderValue {
    static VALUES: OnceLock<Box<[HeaderValue]>> = OnceLock::new();
    match VALUES.get_or_init(table).get(n as usize) {
        // a value over `'static` bytes: its clone is a copy, no allocation or reference count
        Some(value) => value.clone(),
        None => HeaderValue::from(n),
    }
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
}
