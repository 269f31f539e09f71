//! How a scheme orders parameter names in its string to sign, and the sixteen-byte sort
//! keys that settle most comparisons without reading the names.

use crate::byte_search::{cmp_text, first_difference};

/// How a scheme orders parameter names in its string to sign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NameOrder {
    /// Byte order (code-point order).
    Bytes,
    /// Byte order with `_` read as `.` (Tencent Cloud v1 signs `_` as `.`).
    UnderscoreAsDot,
}

impl NameOrder {
    #[inline]
    pub(crate) fn cmp(self, a: &str, b: &str) -> std::cmp::Ordering {
        match self {
            NameOrder::Bytes => cmp_text(a, b),
            NameOrder::UnderscoreAsDot => cmp_underscore_as_dot(a, b),
        }
    }

    /// The sort key of the name `text[start..end]`: names with unequal keys compare as
    /// their keys do.
    #[inline]
    pub(crate) fn key(self, text: &[u8], start: usize, end: usize) -> u128 {
        // Sixteen bytes read at once, from the name on (or the text's last sixteen, shifted
        // up to the name), those past the name masked off: copying a name of any length
        // into a buffer first cost more than the sort it serves.
        let window = match (text.get(start..start + 16), text.len().checked_sub(16)) {
            (Some(window), _) => u128::from_be_bytes(window.try_into().unwrap_or([0; 16])),
            (None, Some(last)) => {
                let window = u128::from_be_bytes(text[last..].try_into().unwrap_or([0; 16]));
                window << (8 * (start - last))
            }
            (None, None) => {
                let mut bytes = [0u8; 16];
                bytes[..text.len() - start].copy_from_slice(&text[start..]);
                u128::from_be_bytes(bytes)
            }
        };
        let kept = (end - start).min(16) as u32;
        let key = window & u128::MAX.checked_shl(128 - 8 * kept).unwrap_or(0);
        match self {
            NameOrder::Bytes => key,
            NameOrder::UnderscoreAsDot => {
                // each `_` byte turned into `.`, all sixteen at once: a byte of `t` is zero
                // exactly where the key holds `_` (exact, since no sum crosses a byte)
                const EACH: u128 = u128::MAX / 0xFF;
                let t = key ^ (EACH * u128::from(b'_'));
                let low7 = EACH * 0x7F;
                let underscores = !(((t & low7) + low7) | t) & (EACH << 7);
                key ^ ((underscores >> 7) * u128::from(b'_' ^ b'.'))
            }
        }
    }
}

/// Byte order with `_` read as `.`. Byte order, unless the first bytes that differ involve a `_`.
pub(crate) fn cmp_underscore_as_dot(a: &str, b: &str) -> std::cmp::Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let at = first_difference(a, b);
    match (a.get(at), b.get(at)) {
        (Some(&x), Some(&y)) if x != b'_' && y != b'_' => x.cmp(&y),
        (Some(_), Some(_)) => {
            let signed = |c: &u8| if *c == b'_' { b'.' } else { *c };
            a[at..].iter().map(signed).cmp(b[at..].iter().map(signed))
        }
        _ => a.len().cmp(&b.len()),
    }
}

/// A parameter name a scheme reads, with its sort key worked out when the program is
/// built: comparing keys is cheaper than comparing the text.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sought {
    pub(crate) name: &'static str,
    /// The name's key under either order, where equal keys and lengths mean equal names:
    /// up to sixteen bytes, none of them `_` or `.` (which one order reads alike).
    pub(crate) key: Option<u128>,
}

impl Sought {
    pub(crate) const fn new(name: &'static str) -> Self {
        let bytes = name.as_bytes();
        if bytes.len() > 16 {
            return Self { name, key: None };
        }
        let mut key = 0u128;
        let mut i = 0;
        while i < 16 {
            let byte = if i < bytes.len() { bytes[i] } else { 0 };
            if byte == b'_' || byte == b'.' {
                return Self { name, key: None };
            }
            key = key << 8 | byte as u128;
            i += 1;
        }
        Self { name, key: Some(key) }
    }
}

#[cfg(test)]
mod tests {
    use crate::raw_params::raw_params;
    use crate::testing::any_order;

    proptest::proptest! {
        /// Sort keys agree with their order wherever they differ, and equal names have
        /// equal keys, whether a name's sixteen bytes are read at once or copied (near the
        /// end of the text).
        #[test]
        fn sort_keys_agree_with_the_order(
            names in proptest::collection::vec("[ab_.\\x00]{0,18}", 1..6),
            order in any_order(),
        ) {
            let query = names.iter().map(|n| format!("{n}=")).collect::<Vec<_>>().join("&");
            let raw = raw_params(&query, b"", order).expect("no name needs decoding");
            proptest::prop_assert_eq!(raw.len(), names.len());
            for a in &raw {
                for b in &raw {
                    if a.key != b.key {
                        proptest::prop_assert_eq!(a.key.cmp(&b.key), order.cmp(a.name, b.name), "{:?} {:?}", a, b);
                    }
                    if a.name == b.name {
                        proptest::prop_assert_eq!(a.key, b.key);
                    }
                }
            }
        }
    }
}
