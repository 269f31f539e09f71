//! IP lists and IP access configurations: no panic on any input, and a list that parses
//! compiles to ranges that agree with a plain scan over the networks.
#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use libfuzzer_sys::fuzz_target;
use tollgate_ip::{IpAccessConfig, IpAccessLayer, IpRanges, Mode, parse_ip_list};

/// Addresses to check: the ends of the address spaces, each network's edges and their
/// neighbours (IPv4 ones also written as mapped IPv6), and a few taken from the input.
fn probes(nets: &[ipnet::IpNet], data: &[u8]) -> Vec<IpAddr> {
    let mut out = vec![
        IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        IpAddr::V4(Ipv4Addr::BROADCAST),
        IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        IpAddr::V6(Ipv6Addr::from(u128::MAX)),
    ];
    for n in nets {
        for edge in [n.network(), n.broadcast()] {
            match edge {
                IpAddr::V4(a) => {
                    let x = u32::from(a);
                    for y in [x.wrapping_sub(1), x, x.wrapping_add(1)] {
                        out.push(IpAddr::V4(Ipv4Addr::from(y)));
                    }
                    out.push(IpAddr::V6(a.to_ipv6_mapped()));
                }
                IpAddr::V6(a) => {
                    let x = u128::from(a);
                    for y in [x.wrapping_sub(1), x, x.wrapping_add(1)] {
                        out.push(IpAddr::V6(Ipv6Addr::from(y)));
                    }
                }
            }
        }
    }
    for chunk in data.chunks_exact(4).take(4) {
        out.push(IpAddr::V4(Ipv4Addr::new(chunk[0], chunk[1], chunk[2], chunk[3])));
    }
    if let Some(bytes) = data.first_chunk::<16>() {
        out.push(IpAddr::V6(Ipv6Addr::from(*bytes)));
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(nets) = parse_ip_list(&text) {
        let ranges = IpRanges::new(nets.iter().copied());
        assert!(ranges.range_count() <= nets.len());
        assert_eq!(ranges.is_empty(), nets.is_empty());
        for ip in probes(&nets, data) {
            // parse_ip_list already made mapped networks IPv4, so a plain scan is the truth
            let naive = nets.iter().any(|n| n.contains(&ip.to_canonical()));
            assert_eq!(ranges.contains(ip), naive, "{ip} in {nets:?}");
        }
    }
    if let Ok(config) = serde_json::from_slice::<IpAccessConfig>(data) {
        let entries = config.general.len() + config.apps.iter().map(|a| a.nets.len()).sum::<usize>();
        assert!(config.mode == Mode::Deny || entries > 0, "an empty allow list was accepted: {config:?}");
        let _ = IpAccessLayer::from_config(&config);
    }
});
