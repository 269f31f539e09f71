//! IP lists and IP access configurations: no panic on any input, and a list that parses
//! compiles to ranges that agree with a plain scan.
#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use libfuzzer_sys::fuzz_target;
use tollgate_ip::{IpAccessConfig, IpAccessLayer, IpRanges, parse_ip_list};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(nets) = parse_ip_list(&text) {
        let ranges = IpRanges::new(nets.iter().copied());
        let mut probes = vec![IpAddr::V4(Ipv4Addr::from(0)), IpAddr::V4(Ipv4Addr::BROADCAST), IpAddr::V6(Ipv6Addr::UNSPECIFIED)];
        for n in &nets {
            probes.push(n.network());
            probes.push(n.broadcast());
        }
        if data.len() >= 4 {
            probes.push(IpAddr::V4(Ipv4Addr::new(data[0], data[1], data[2], data[3])));
        }
        for ip in probes {
            // parse_ip_list already normalised mapped networks, so a plain scan is the truth
            let naive = nets.iter().any(|n| n.contains(&ip.to_canonical()));
            assert_eq!(ranges.contains(ip), naive, "{ip} in {nets:?}");
        }
    }
    if let Ok(config) = serde_json::from_slice::<IpAccessConfig>(data) {
        let _ = IpAccessLayer::from_config(config);
    }
});
