//! Property tests for the parsers of untrusted input in core: forwarding headers, query
//! strings, path templates.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use http::{HeaderValue, Request};
use proptest::prelude::*;
use tollgate_core::{
    ClientIpLayer, ForwardingHeader, ParamLocation, ParamSource, PathTemplate, PeerAddr, parse_forwarded,
    parse_x_forwarded_for,
};

fn any_ip() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        any::<u32>().prop_map(|n| IpAddr::V4(Ipv4Addr::from(n))),
        any::<u128>().prop_map(|n| IpAddr::V6(Ipv6Addr::from(n))),
        // a few from a small pool, so trusted and untrusted addresses meet
        (0u8..8).prop_map(|n| IpAddr::V4(Ipv4Addr::new(10, 0, 0, n))),
        (0u8..8).prop_map(|n| IpAddr::V4(Ipv4Addr::new(203, 0, 113, n))),
    ]
}

/// How an address may be written in X-Forwarded-For.
fn written(ip: IpAddr, style: u8) -> String {
    match (ip, style % 3) {
        (IpAddr::V4(v4), 1) => format!("{v4}:8080"),
        (IpAddr::V6(v6), 1) => format!("[{v6}]:443"),
        (IpAddr::V6(v6), 2) => format!("[{v6}]"),
        (ip, _) => ip.to_string(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parsers_never_panic(s in ".*") {
        let _ = parse_x_forwarded_for(&s);
        let _ = parse_forwarded(&s);
        let _ = PathTemplate::parse(&s);
        let uri = format!("/?{}", s.replace(['#', ' '], "")).parse::<http::Uri>();
        if let Ok(uri) = uri {
            let headers = http::HeaderMap::new();
            let src = ParamSource::new(&uri, &headers);
            let _ = src.get_all(&ParamLocation::Query(s.clone()));
        }
    }

    #[test]
    fn forwarded_for_round_trips(chain in prop::collection::vec((any_ip(), any::<u8>()), 0..8)) {
        let text = chain.iter().map(|(ip, st)| written(*ip, *st)).collect::<Vec<_>>().join(", ");
        let parsed = parse_x_forwarded_for(&text);
        if chain.is_empty() {
            prop_assert_eq!(parsed, vec![None]);
        } else {
            let expected: Vec<_> = chain.iter().map(|(ip, _)| Some(ip.to_canonical())).collect();
            prop_assert_eq!(parsed, expected);
        }
    }

    #[test]
    fn forwarded_header_round_trips(chain in prop::collection::vec(any_ip(), 1..8)) {
        let text = chain
            .iter()
            .map(|ip| match ip {
                IpAddr::V4(v4) => format!("for={v4};proto=https"),
                IpAddr::V6(v6) => format!("for=\"[{v6}]:4711\";by=_hidden"),
            })
            .collect::<Vec<_>>()
            .join(", ");
        let parsed = parse_forwarded(&text);
        let expected: Vec<_> = chain.iter().map(|ip| Some(ip.to_canonical())).collect();
        prop_assert_eq!(parsed, expected);
    }

    /// The resolved client is what a plain model says: the peer if untrusted, else the
    /// rightmost hop not in a trusted network (or the leftmost if all are trusted).
    #[test]
    fn resolution_matches_model(chain in prop::collection::vec(any_ip(), 0..6), peer in any_ip()) {
        let trusted = ["10.0.0.0/29"];
        let is_trusted = |ip: IpAddr| matches!(ip.to_canonical(), IpAddr::V4(v4) if v4.octets()[..3] == [10, 0, 0] && v4.octets()[3] < 8);
        let layer = ClientIpLayer::new().trust_proxies(trusted).unwrap().forwarding_header(ForwardingHeader::XForwardedFor);
        let mut req = Request::new(());
        if !chain.is_empty() {
            let text = chain.iter().map(|ip| ip.to_string()).collect::<Vec<_>>().join(",");
            req.headers_mut().insert("x-forwarded-for", HeaderValue::from_str(&text).unwrap());
        }
        req.extensions_mut().insert(PeerAddr(SocketAddr::new(peer, 1)));
        let got = layer.resolve(&req).map(|c| c.ip());

        let expected = if !is_trusted(peer) {
            peer.to_canonical()
        } else {
            let mut client = peer.to_canonical();
            for ip in chain.iter().rev() {
                client = ip.to_canonical();
                if !is_trusted(client) { break; }
            }
            client
        };
        prop_assert_eq!(got, Some(expected));
    }

    /// Behind a trusted proxy, whatever bytes the client writes before the hops the proxies
    /// appended: the client is the rightmost untrusted hop when those hops are readable, and
    /// never the proxy itself unless the chain names it; a client-written hop that would be
    /// the client leaves it unresolved.
    #[test]
    fn client_written_bytes_never_make_the_proxy_the_client(
        junk in prop::collection::vec(any::<u8>(), 0..24),
        appended in prop::collection::vec(any_ip(), 0..3),
        header in prop_oneof![Just(ForwardingHeader::XForwardedFor), Just(ForwardingHeader::Forwarded)],
    ) {
        let peer: IpAddr = "10.0.0.1".parse().unwrap();
        let is_trusted = |ip: IpAddr| matches!(ip.to_canonical(), IpAddr::V4(v4) if v4.octets()[..3] == [10, 0, 0] && v4.octets()[3] < 8);
        let (name, hop) = match header {
            ForwardingHeader::Forwarded => ("forwarded", "for=\""),
            _ => ("x-forwarded-for", ""),
        };
        let mut value = junk.clone();
        for ip in &appended {
            value.extend_from_slice(format!(", {hop}{}", match (header, ip) {
                (ForwardingHeader::Forwarded, IpAddr::V6(v6)) => format!("[{v6}]\""),
                (ForwardingHeader::Forwarded, ip) => format!("{ip}\""),
                (_, ip) => ip.to_string(),
            }).as_bytes());
        }
        let Ok(value) = HeaderValue::from_bytes(&value) else { return Ok(()) };
        let layer = ClientIpLayer::new().trust_proxies(["10.0.0.0/29"]).unwrap().forwarding_header(header);
        let mut req = Request::new(());
        req.headers_mut().insert(name, value.clone());
        req.extensions_mut().insert(PeerAddr(SocketAddr::new(peer, 1)));
        let got = layer.resolve(&req).map(|c| c.ip());
        let hops = match header {
            ForwardingHeader::Forwarded => parse_forwarded(value.as_bytes()),
            _ => parse_x_forwarded_for(value.as_bytes()),
        };
        if let Some(ip) = got {
            prop_assert!(hops.contains(&Some(ip)), "{} is in no hop of {:?}", ip, value);
        }
        // an untrusted address the proxy appended is always found, whatever came before
        if header == ForwardingHeader::XForwardedFor
            && let Some(last) = appended.iter().rposition(|ip| !is_trusted(*ip))
            && appended[last + 1..].iter().all(|ip| is_trusted(*ip))
        {
            prop_assert_eq!(got, Some(appended[last].to_canonical()));
        }
    }

    #[test]
    fn template_binds_what_it_was_given(values in prop::collection::vec("[a-zA-Z0-9 %é/]{1,12}", 1..4)) {
        let names: Vec<String> = (0..values.len()).map(|i| format!("p{i}")).collect();
        let template = names.iter().map(|n| format!("/x/{{{n}}}")).collect::<String>();
        let t = PathTemplate::parse(&template).unwrap();
        let path: String = values
            .iter()
            .map(|v| format!("/x/{}", percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC)))
            .collect();
        let bound = t.matches(&path).unwrap();
        for (n, v) in names.iter().zip(&values) {
            prop_assert_eq!(bound.get(n), Some(v.as_str()));
        }
    }
}
