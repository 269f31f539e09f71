//! Hex digits decoded by table, without a branch per digit.

/// Each hex digit's value, or 0xFF for a byte that is none.
pub(crate) const HEX_VALUE: [u8; 256] = {
    let mut table = [0xFF; 256];
    let mut i = 0;
    while i < 10 {
        table[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        table[b'a' as usize + i] = 10 + i as u8;
        table[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    table
};

/// Decodes hex (either case) into `out`, which must be half as long as `text`; `None` if a
/// byte is not a hex digit. What `hex::decode_to_slice` does, without its per-digit
/// branching: TC3's 64-digit signature took a tenth of its verification there.
pub(crate) fn decode_hex(text: &[u8], out: &mut [u8]) -> Option<()> {
    if text.len() != 2 * out.len() {
        return None;
    }
    let mut bad = 0u8;
    for (byte, pair) in out.iter_mut().zip(text.chunks_exact(2)) {
        let (high, low) = (HEX_VALUE[usize::from(pair[0])], HEX_VALUE[usize::from(pair[1])]);
        bad |= high | low;
        *byte = high << 4 | (low & 0x0F);
    }
    // a digit's value is below 16; 0xFF sets the high bits
    (bad & 0xF0 == 0).then_some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// `decode_hex` decodes what the `hex` crate decodes and refuses what it refuses.
        #[test]
        fn decode_hex_is_hex(text in proptest::collection::vec(proptest::sample::select(b"09afAFgG z\xff".to_vec()), 0..12)) {
            let mut ours = vec![0u8; text.len() / 2];
            let mut reference = vec![0u8; text.len() / 2];
            let ours_ok = decode_hex(&text, &mut ours).is_some();
            let reference_ok = hex::decode_to_slice(&text, &mut reference).is_ok();
            proptest::prop_assert_eq!(ours_ok, reference_ok);
            if ours_ok {
                proptest::prop_assert_eq!(ours, reference);
            }
        }
    }
}
