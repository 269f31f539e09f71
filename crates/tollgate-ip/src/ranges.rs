//! [`IpRanges`]: an IP list compiled to sorted, merged ranges and searched in O(log n).

use std::net::IpAddr;

use ipnet::IpNet;
use tollgate_core::canonical_network;

/// A compiled IP list: IPv4 and IPv6 kept apart as sorted, disjoint, non-adjacent inclusive
/// ranges, looked up by binary search. IPv4-mapped IPv6 (`::ffff:a.b.c.d`), in the list or
/// in a lookup, counts as IPv4.
///
/// ```
/// use tollgate_ip::IpRanges;
///
/// let ranges = IpRanges::new(["10.0.0.0/25", "10.0.0.128/25", "2001:db8::/32"].map(|s| s.parse().unwrap()));
/// assert_eq!(ranges.range_count(), 2); // the two halves merged
/// assert!(ranges.contains("10.0.0.200".parse().unwrap()));
/// assert!(ranges.contains("::ffff:10.0.0.1".parse().unwrap()));
/// assert!(!ranges.contains("10.0.1.0".parse().unwrap()));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IpRanges {
    v4_starts: Box<[u32]>,
    v4_ends: Box<[u32]>,
    v6_starts: Box<[u128]>,
    v6_ends: Box<[u128]>,
}

/// Sorts and merges inclusive ranges, joining overlapping and adjacent ones.
fn merge<T: Copy + Ord>(mut ranges: Vec<(T, T)>, next: impl Fn(T) -> Option<T>) -> (Box<[T]>, Box<[T]>) {
    ranges.sort_unstable();
    let mut merged: Vec<(T, T)> = Vec::with_capacity(ranges.len());
    for (start, end) in ranges {
        match merged.last_mut() {
            // `last.1 + 1 >= start`, written so the maximum address cannot overflow
            Some(last) if next(last.1).is_none_or(|n| n >= start) => last.1 = last.1.max(end),
            _ => merged.push((start, end)),
        }
    }
    let (starts, ends): (Vec<T>, Vec<T>) = merged.into_iter().unzip();
    (starts.into_boxed_slice(), ends.into_boxed_slice())
}

/// Whether one of the sorted ranges holds `x`.
fn holds<T: Copy + Ord>(starts: &[T], ends: &[T], x: T) -> bool {
    // the last range starting at or before x is the only candidate
    let i = starts.partition_point(|&s| s <= x);
    i > 0 && ends[i - 1] >= x
}

impl IpRanges {
    /// Compiles a list of networks.
    pub fn new(nets: impl IntoIterator<Item = IpNet>) -> Self {
        let (mut v4, mut v6) = (Vec::new(), Vec::new());
        for net in nets {
            match canonical_network(net) {
                IpNet::V4(n) => v4.push((u32::from(n.network()), u32::from(n.broadcast()))),
                IpNet::V6(n) => v6.push((u128::from(n.network()), u128::from(n.broadcast()))),
            }
        }
        let (v4_starts, v4_ends) = merge(v4, |x: u32| x.checked_add(1));
        let (v6_starts, v6_ends) = merge(v6, |x: u128| x.checked_add(1));
        Self { v4_starts, v4_ends, v6_starts, v6_ends }
    }

    /// Whether `ip` lies in the list.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match ip.to_canonical() {
            IpAddr::V4(v4) => holds(&self.v4_starts, &self.v4_ends, u32::from(v4)),
            IpAddr::V6(v6) => holds(&self.v6_starts, &self.v6_ends, u128::from(v6)),
        }
    }

    /// Number of ranges after merging.
    pub fn range_count(&self) -> usize {
        self.v4_starts.len() + self.v6_starts.len()
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.range_count() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(list: &[&str]) -> IpRanges {
        IpRanges::new(crate::parse_ip_list(&list.join(";")).unwrap())
    }

    fn has(r: &IpRanges, ip: &str) -> bool {
        r.contains(ip.parse().unwrap())
    }

    #[test]
    fn edges_of_the_address_space() {
        let all = r(&["0.0.0.0/0", "::/0"]);
        for ip in ["0.0.0.0", "255.255.255.255", "::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"] {
            assert!(has(&all, ip));
        }
        let ends = r(&["0.0.0.0/32", "255.255.255.255/32", "::/128", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128"]);
        assert!(has(&ends, "0.0.0.0") && has(&ends, "255.255.255.255"));
        assert!(!has(&ends, "0.0.0.1") && !has(&ends, "255.255.255.254"));
        assert!(has(&ends, "::") && !has(&ends, "::1"));
        assert_eq!(r(&["255.255.255.254/32", "255.255.255.255/32"]).range_count(), 1);
    }

    #[test]
    fn merge_adjacent_and_overlapping() {
        assert_eq!(r(&["10.0.0.0/25", "10.0.0.128/25"]).range_count(), 1);
        assert_eq!(r(&["10.0.0.0/8", "10.1.0.0/16", "10.2.3.4"]).range_count(), 1);
        assert_eq!(r(&["10.0.0.0/24", "10.0.2.0/24"]).range_count(), 2);
        let gap = r(&["10.0.0.0/24", "10.0.2.0/24"]);
        assert!(has(&gap, "10.0.0.255") && !has(&gap, "10.0.1.0") && has(&gap, "10.0.2.0"));
    }

    #[test]
    fn host_bits_truncated() {
        let x = r(&["10.9.9.9/8"]);
        assert!(has(&x, "10.0.0.0") && has(&x, "10.255.255.255") && !has(&x, "11.0.0.0"));
    }

    #[test]
    fn mapped_both_ways() {
        let v4 = r(&["192.0.2.0/24"]);
        assert!(has(&v4, "::ffff:192.0.2.7"));
        let mapped = r(&["::ffff:192.0.2.0/120"]);
        assert!(has(&mapped, "192.0.2.7"));
        assert!(!has(&mapped, "192.0.3.1"));
        // the mapped /96 itself is all of IPv4
        assert!(has(&r(&["::ffff:0:0/96"]), "8.8.8.8"));
        // IPv6 networks stay IPv6, even one wide enough to span the mapped block
        assert!(!has(&r(&["::/64"]), "8.8.8.8"));
    }

    #[test]
    fn families_kept_apart() {
        let v4_all = r(&["0.0.0.0/0"]);
        assert!(has(&v4_all, "0.0.0.0") && has(&v4_all, "255.255.255.255") && has(&v4_all, "::ffff:8.8.8.8"));
        assert!(!has(&v4_all, "::") && !has(&v4_all, "::1") && !has(&v4_all, "2001:db8::1"));
        let v6_all = r(&["::/0"]);
        assert!(has(&v6_all, "::") && has(&v6_all, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));
        // a mapped address is IPv4, and an IPv6 list does not hold IPv4
        assert!(!has(&v6_all, "8.8.8.8") && !has(&v6_all, "::ffff:8.8.8.8"));
        // ::1.2.3.4 (IPv4-compatible, deprecated) is not mapped: it stays IPv6
        assert!(!has(&r(&["1.2.3.4"]), "::1.2.3.4"));
        assert_eq!(r(&["0.0.0.0/0", "::/0", "10.0.0.0/8", "2001:db8::/32"]).range_count(), 2);
    }

    #[test]
    fn unsorted_nested_and_chained() {
        // given in any order; a small range after a wide one that already covers it
        let x = r(&["11.0.0.0/8", "10.5.0.0/16", "10.0.0.0/8", "10.255.255.255"]);
        assert_eq!(x.range_count(), 1);
        assert!(has(&x, "10.0.0.0") && has(&x, "11.255.255.255") && !has(&x, "12.0.0.0") && !has(&x, "9.255.255.255"));
        // a wide range after narrower ones that start earlier: its end wins
        let y = r(&["10.0.0.0/32", "10.0.0.0/16", "10.0.1.0/24"]);
        assert_eq!(y.range_count(), 1);
        assert!(has(&y, "10.0.255.255") && !has(&y, "10.1.0.0"));
        // the same ranges compile to the same value, whatever the order or the redundancy
        assert_eq!(r(&["10.0.0.0/25", "10.0.0.128/25", "::1"]), r(&["::1/128", "10.0.0.0/24", "10.0.0.7"]));
        let v6 = r(&["2001:db8::/33", "2001:db8:8000::/33", "2001:db9::/32"]);
        assert_eq!(v6.range_count(), 1);
        assert!(has(&v6, "2001:db9:ffff:ffff:ffff:ffff:ffff:ffff") && !has(&v6, "2001:dba::"));
    }

    #[test]
    fn mapped_edges() {
        // wider than ::ffff:0:0/96: stays IPv6 and holds no IPv4 address
        let wide = r(&["::ffff:0:0/95"]);
        assert!(!has(&wide, "0.0.0.0") && !has(&wide, "255.255.255.255"));
        assert!(has(&wide, "::fffe:0:0") && has(&wide, "::fffe:ffff:ffff"));
        let all = r(&["::ffff:0:0/96"]);
        assert!(has(&all, "0.0.0.0") && has(&all, "::ffff:255.255.255.255") && !has(&all, "::fffe:ffff:ffff"));
        assert_eq!(r(&["::ffff:0.0.0.0/128", "0.0.0.1"]).range_count(), 1);
    }

    #[test]
    fn empty() {
        let e = IpRanges::default();
        assert!(e.is_empty() && e.range_count() == 0 && !has(&e, "1.2.3.4") && !has(&e, "::1"));
        assert_eq!(IpRanges::new([]), e);
        assert!(!r(&["::1"]).is_empty());
    }
}
