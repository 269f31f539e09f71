//! The compiled lookup agrees with a naive scan over `ipnet` networks, and the list parser
//! never panics, reads back what was written and names a bad entry; configurations never
//! make deserialization panic.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use proptest::prelude::*;
use tollgate_ip::{IpAccessConfig, IpRanges, Mode, parse_ip_list};

fn v4_net() -> impl Strategy<Value = IpNet> {
    (any::<u32>(), prop_oneof![Just(0u8), Just(32u8), 8u8..=32])
        .prop_map(|(a, p)| IpNet::V4(Ipv4Net::new(Ipv4Addr::from(a), p).unwrap()))
}

fn v6_net() -> impl Strategy<Value = IpNet> {
    (any::<u128>(), prop_oneof![Just(0u8), Just(128u8), 16u8..=128])
        .prop_map(|(a, p)| IpNet::V6(Ipv6Net::new(Ipv6Addr::from(a), p).unwrap()))
}

/// An IPv4 network written as IPv4-mapped IPv6.
fn mapped_net() -> impl Strategy<Value = IpNet> {
    (any::<u32>(), 8u8..=32)
        .prop_map(|(a, p)| IpNet::V6(Ipv6Net::new(Ipv4Addr::from(a).to_ipv6_mapped(), 96 + p).unwrap()))
}

fn nets() -> impl Strategy<Value = Vec<IpNet>> {
    prop::collection::vec(prop_oneof![4 => v4_net(), 3 => v6_net(), 1 => mapped_net()], 0..40)
}

/// What a list means, by a plain scan: mapped networks and addresses count as IPv4.
fn naive(nets: &[IpNet], ip: IpAddr) -> bool {
    let ip = ip.to_canonical();
    nets.iter().any(|n| match n {
        IpNet::V6(v6) if v6.prefix_len() >= 96 && v6.network().to_ipv4_mapped().is_some() => {
            let v4 = Ipv4Net::new(v6.network().to_ipv4_mapped().unwrap(), v6.prefix_len() - 96).unwrap();
            IpNet::V4(v4).contains(&ip)
        }
        n => n.contains(&ip),
    })
}

/// Addresses at and around every range edge, plus random ones.
fn probes(nets: &[IpNet], extra: &[IpAddr]) -> Vec<IpAddr> {
    let mut out = extra.to_vec();
    for n in nets {
        match n {
            IpNet::V4(v4) => {
                for x in [u32::from(v4.network()), u32::from(v4.broadcast())] {
                    out.extend([x.wrapping_sub(1), x, x.wrapping_add(1)].map(|y| IpAddr::V4(Ipv4Addr::from(y))));
                }
            }
            IpNet::V6(v6) => {
                for x in [u128::from(v6.network()), u128::from(v6.broadcast())] {
                    out.extend([x.wrapping_sub(1), x, x.wrapping_add(1)].map(|y| IpAddr::V6(Ipv6Addr::from(y))));
                    if let Some(v4) = v6.network().to_ipv4_mapped() {
                        out.push(IpAddr::V4(v4));
                    }
                }
            }
        }
    }
    out
}

fn any_ip() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        any::<u32>().prop_map(|n| IpAddr::V4(Ipv4Addr::from(n))),
        any::<u128>().prop_map(|n| IpAddr::V6(Ipv6Addr::from(n))),
        any::<u32>().prop_map(|n| IpAddr::V6(Ipv4Addr::from(n).to_ipv6_mapped())),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn compiled_agrees_with_naive_scan(nets in nets(), extra in prop::collection::vec(any_ip(), 0..32)) {
        let ranges = IpRanges::new(nets.iter().copied());
        prop_assert!(ranges.range_count() <= nets.len());
        for ip in probes(&nets, &extra) {
            prop_assert_eq!(ranges.contains(ip), naive(&nets, ip), "ip {} nets {:?}", ip, nets);
        }
    }

    #[test]
    fn parser_never_panics(text in ".*") {
        let _ = parse_ip_list(&text);
    }

    #[test]
    fn parser_never_panics_on_address_like_text(text in "[0-9a-fA-F:./;, \n]{0,64}") {
        let _ = parse_ip_list(&text);
    }

    #[test]
    fn order_and_redundancy_do_not_matter(nets in nets(), seed in any::<u64>()) {
        let ranges = IpRanges::new(nets.iter().copied());
        // reversed, rotated and with every network twice: the same compiled value
        let mut other: Vec<IpNet> = nets.iter().rev().copied().chain(nets.iter().copied()).collect();
        if !other.is_empty() {
            let k = (seed % other.len() as u64) as usize;
            other.rotate_left(k);
        }
        prop_assert_eq!(IpRanges::new(other), ranges.clone());
        prop_assert_eq!(ranges.is_empty(), nets.is_empty());
    }

    #[test]
    fn parser_reads_back_what_was_written(
        nets in prop::collection::vec(prop_oneof![3 => v4_net(), 3 => v6_net(), 1 => mapped_net()], 1..20),
        seps in prop::collection::vec(
            prop_oneof![Just(";"), Just(","), Just("\n"), Just("\r\n"), Just(" ; "), Just("\t"), Just(", "), Just(";;"), Just("\n\n  ")],
            20,
        ),
        lead in prop_oneof![Just(""), Just("\n"), Just(" ;")],
    ) {
        let mut text = String::from(lead);
        for (i, n) in nets.iter().enumerate() {
            if i > 0 { text.push_str(seps[i % seps.len()]); }
            // a host network is written as a bare address, as users do
            if n.prefix_len() == n.max_prefix_len() { text.push_str(&n.addr().to_string()) } else { text.push_str(&n.to_string()) }
        }
        text.push_str(lead);
        let parsed = parse_ip_list(&text).unwrap();
        let expected: Vec<IpNet> = nets.iter().map(|n| {
            let t = n.trunc();
            match t {
                IpNet::V6(v6) if v6.prefix_len() >= 96 && v6.network().to_ipv4_mapped().is_some() =>
                    IpNet::V4(Ipv4Net::new(v6.network().to_ipv4_mapped().unwrap(), v6.prefix_len() - 96).unwrap()),
                t => t,
            }
        }).collect();
        prop_assert_eq!(parsed, expected);
    }

    #[test]
    fn a_bad_entry_is_named_with_its_position(
        nets in prop::collection::vec(prop_oneof![v4_net(), v6_net()], 0..10),
        bad in prop_oneof![Just("300.1.1.1"), Just("1.2.3.4/33"), Just("::1/129"), Just("x"), Just("1.2.3"), Just("::g")],
    ) {
        let mut entries: Vec<String> = nets.iter().map(ToString::to_string).collect();
        entries.push(bad.to_owned());
        let err = parse_ip_list(&entries.join(";")).unwrap_err();
        // the list's own error names no field: its caller places it (`blocks`, `ips`)
        prop_assert!(err.field.is_empty() && err.file.is_none(), "{:?}", err);
        let message = err.to_string();
        let expected = format!("entry {} ({:?}) is not an IP address or CIDR network", entries.len(), bad);
        prop_assert!(message.starts_with(&expected), "{}", message);
    }

    #[test]
    fn config_never_panics_on_json_values(value in json_value()) {
        if let Ok(config) = serde_json::from_value::<IpAccessConfig>(value) {
            // an allow list that would let everyone in is refused
            let entries = config.general.len() + config.apps.iter().map(|a| a.nets.len()).sum::<usize>();
            prop_assert!(config.mode == Mode::Deny || entries > 0, "{:?}", config);
        }
    }
}

/// JSON values shaped like configurations, with fields right and wrong.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        prop_oneof![
            Just("white_list"),
            Just("BLACK"),
            Just("ALLOW"),
            Just("refuse"),
            Just("deny"),
            Just("XFF:-1"),
            Just("1.1.1.1\n10.0.0.0/8"),
            Just("::ffff:1.2.3.4/120"),
            Just(""),
            Just("2001:db8::/32;x"),
        ]
        .prop_map(Value::from),
        "[0-9a-fA-F:./;, \n]{0,24}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        let key = prop_oneof![
            Just("type"),
            Just("mode"),
            Just("blocks"),
            Just("ips"),
            Just("items"),
            Just("resource"),
            Just("descriptions"),
            Just("appId"),
            Just("app_id"),
            Just("bogus"),
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::Array),
            prop::collection::vec((key, inner), 0..6).prop_map(|fields| {
                serde_json::Value::Object(fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
            }),
        ]
    })
}
