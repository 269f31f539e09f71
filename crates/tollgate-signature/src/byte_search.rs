//! Splitting, searching and comparing the short texts of headers and parameter names with
//! plain byte loops, eight bytes at a time where it pays: cheaper than the calls into the
//! standard library's searchers they replace, each checked against them by property test.

/// The parts of `text` between the ASCII byte `sep`, as `str::split` gives them, found by
/// a plain byte loop: for the few short parts of a header, `split(char)`'s searcher cost
/// more than the parsing around it.
pub(crate) fn split_ascii(text: &str, sep: u8) -> impl Iterator<Item = &str> {
    debug_assert!(sep.is_ascii());
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let current = rest?;
        let at = find_byte(current.as_bytes(), sep);
        // `sep` is ASCII, so both sides of it are whole text
        rest = current.get(at + 1..);
        Some(&current[..at])
    })
}

/// Where the first `needle` is in `bytes` (their length if none), found eight bytes at a
/// time without a call: the long parts of an `Authorization` header. (`memchr::memchr` in
/// its place, measured: TC3 and the Aliyun gateway 13–28 ns slower per request, a call per
/// short part; benches/README.md, sixth session.)
#[inline]
fn find_byte(bytes: &[u8], needle: u8) -> usize {
    const LOW: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let pattern = LOW * u64::from(needle);
    let mut chunks = bytes.chunks_exact(8);
    let mut at = 0;
    for chunk in chunks.by_ref() {
        let word = u64::from_le_bytes(chunk.try_into().unwrap_or_default()) ^ pattern;
        // a zero byte is a match; the lowest flagged byte is the first zero (a borrow only
        // flags bytes above one)
        let zero = word.wrapping_sub(LOW) & !word & HIGH;
        if zero != 0 {
            return at + (zero.trailing_zeros() / 8) as usize;
        }
        at += 8;
    }
    at + chunks.remainder().iter().take_while(|&&b| b != needle).count()
}

/// The words of `text` between runs of ASCII whitespace, as `split_ascii_whitespace` gives
/// them, found by a plain byte loop (see [`split_ascii`]).
pub(crate) fn ascii_words(text: &str) -> impl Iterator<Item = &str> {
    split_where(text, |b| b.is_ascii_whitespace()).filter(|word| !word.is_empty())
}

/// The parts of `text` between ASCII bytes for which `is_sep` holds.
fn split_where(text: &str, is_sep: impl Fn(u8) -> bool) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let current = rest?;
        match current.bytes().position(&is_sep) {
            Some(at) => {
                // `sep` is ASCII, so both sides of it are whole text
                rest = Some(&current[at + 1..]);
                Some(&current[..at])
            }
            None => {
                rest = None;
                Some(current)
            }
        }
    })
}

/// Where `a` and `b` first differ (the shorter one's length if one begins the other),
/// found eight bytes at a time.
#[inline]
pub(crate) fn first_difference(a: &[u8], b: &[u8]) -> usize {
    // most parameter names differ in their first byte
    if let (Some(x), Some(y)) = (a.first(), b.first()) {
        if x != y {
            return 0;
        }
    }
    let mut at = 0;
    for (x, y) in a.chunks_exact(8).zip(b.chunks_exact(8)) {
        let diff =
            u64::from_le_bytes(x.try_into().unwrap_or_default()) ^ u64::from_le_bytes(y.try_into().unwrap_or_default());
        if diff != 0 {
            return at + (diff.trailing_zeros() / 8) as usize;
        }
        at += 8;
    }
    at + a[at..].iter().zip(&b[at..]).take_while(|(x, y)| x == y).count()
}

/// Byte order of two texts, from where they first differ. Parameter names are short and
/// share long prefixes (`SignatureMethod`, `SignatureNonce`, ...): a call into `memcmp` per
/// comparison was a seventh of a verification, most of it the call.
#[inline]
pub(crate) fn cmp_text(a: &str, b: &str) -> std::cmp::Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let at = first_difference(a, b);
    match (a.get(at), b.get(at)) {
        (Some(x), Some(y)) => x.cmp(y),
        _ => a.len().cmp(&b.len()),
    }
}

/// Whether `text` holds an ASCII capital, looked for without an early exit: the loop
/// becomes a few vector instructions, where `any` tested and branched on every byte of the
/// usually all-lower-case lists of signed headers.
#[inline]
pub(crate) fn has_ascii_uppercase(text: &str) -> bool {
    text.bytes().fold(false, |found, b| found | b.is_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// `split_ascii` is `str::split` on an ASCII separator.
        #[test]
        fn split_ascii_is_split(text in "[a;,/é \t\r\n]{0,20}") {
            for sep in [b';', b',', b'/'] {
                let ours: Vec<_> = split_ascii(&text, sep).collect();
                let reference: Vec<_> = text.split(char::from(sep)).collect();
                proptest::prop_assert_eq!(ours, reference);
            }
            let words: Vec<_> = ascii_words(&text).collect();
            proptest::prop_assert_eq!(words, text.split_ascii_whitespace().collect::<Vec<_>>());
        }
    }

    proptest::proptest! {
        /// `first_difference` is where the bytes first differ.
        #[test]
        fn first_difference_is_the_first_unequal_byte(a in "[ab]{0,20}", b in "[ab]{0,20}") {
            let expected = a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count();
            proptest::prop_assert_eq!(first_difference(a.as_bytes(), b.as_bytes()), expected);
        }
    }

    proptest::proptest! {
        /// `find_byte` finds the first `&`.
        #[test]
        fn find_byte_finds_the_first(bytes in proptest::collection::vec(proptest::sample::select(b"a&\x00\x27\x25\xff\x80".to_vec()), 0..40)) {
            let expected = bytes.iter().take_while(|&&b| b != b'&').count();
            proptest::prop_assert_eq!(find_byte(&bytes, b'&'), expected);
        }
    }

    proptest::proptest! {
        /// The eight-at-a-time comparison is byte order.
        #[test]
        fn cmp_text_is_byte_order(a in "[a-cAZ@\\[\\x00é]{0,20}", b in "[a-cAZ@\\[\\x00é]{0,20}") {
            proptest::prop_assert_eq!(cmp_text(&a, &b), a.as_bytes().cmp(b.as_bytes()));
            proptest::prop_assert_eq!(cmp_text(&a, &a), std::cmp::Ordering::Equal);
            proptest::prop_assert_eq!(has_ascii_uppercase(&a), a.bytes().any(|b| b.is_ascii_uppercase()));
        }
    }
}
