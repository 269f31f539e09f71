//! [`Decimal`]: exact comparison of decimal numbers written as text, without allocation.

use std::cmp::Ordering;

/// A decimal number `-?[0-9]+(\.[0-9]+)?` read from text, normalised so that equal numbers
/// have equal parts: no leading zeros in the integer part, no trailing zeros in the
/// fraction, and zero never negative. Compares exactly, whatever the number of digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Decimal<'a> {
    negative: bool,
    int: &'a str,
    frac: &'a str,
}

impl<'a> Decimal<'a> {
    /// Reads `text` as a decimal number; `None` for anything else (no exponent, no `+`, no
    /// surrounding spaces).
    pub(super) fn parse(text: &'a str) -> Option<Self> {
        let (negative, digits) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (int, frac) = match digits.split_once('.') {
            Some((int, frac)) => (int, frac),
            None => (digits, "0"),
        };
        let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !all_digits(int) || !all_digits(frac) {
            return None;
        }
        let int = int.trim_start_matches('0');
        let frac = frac.trim_end_matches('0');
        let negative = negative && !(int.is_empty() && frac.is_empty());
        Some(Self { negative, int, frac })
    }
}

impl Ord for Decimal<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self.negative, other.negative) {
            (false, true) => Ordering::Greater,
            (true, false) => Ordering::Less,
            (negative, _) => {
                let magnitude = self
                    .int
                    .len()
                    .cmp(&other.int.len())
                    .then_with(|| self.int.cmp(other.int))
                    .then_with(|| self.frac.cmp(other.frac));
                if negative { magnitude.reverse() } else { magnitude }
            }
        }
    }
}

impl PartialOrd for Decimal<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_orders() {
        let d = |s| Decimal::parse(s).unwrap();
        assert_eq!(d("007"), d("7"));
        assert_eq!(d("1.50"), d("1.5"));
        assert_eq!(d("-0.0"), d("0"));
        assert!(d("-2") < d("-1.5"));
        assert!(d("0.05") < d("0.5"));
        assert!(d("0.5") < d("0.51"));
        assert!(d("99") < d("100"));
        assert!(d("123456789012345678901234567890") > d("123456789012345678901234567889.99"));
        for bad in ["", "-", "1.", ".5", "+1", "1e3", " 1", "1 ", "--1", "1.2.3", "0x10"] {
            assert!(Decimal::parse(bad).is_none(), "{bad}");
        }
    }
}
