//! Forwarding headers, query strings, paths and path templates: no panic on any input; a
//! resolved client is always an address that appeared in the request; a normalised path is
//! normal (normalising it again changes nothing).
#![no_main]

use std::net::SocketAddr;

use http::{HeaderValue, Request};
use libfuzzer_sys::fuzz_target;
use tollgate_core::{
    ClientIpLayer, ForwardingHeader, ParamLocation, ParamSource, PathTemplate, PeerAddr, normalize_path,
    parse_forwarded, parse_x_forwarded_for,
};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // the parsers read the header's bytes as sent, not a lossy copy
    let xff = parse_x_forwarded_for(data);
    let fwd = parse_forwarded(data);

    if let Ok(value) = HeaderValue::from_bytes(data) {
        for (header, name, hops) in [
            (ForwardingHeader::XForwardedFor, "x-forwarded-for", &xff),
            (ForwardingHeader::Forwarded, "forwarded", &fwd),
        ] {
            let layer = ClientIpLayer::new().trust_proxies(["10.0.0.0/8", "::1"]).unwrap().forwarding_header(header);
            let mut req = Request::new(());
            req.headers_mut().insert(name, value.clone());
            let peer: SocketAddr = "10.1.1.1:80".parse().unwrap();
            req.extensions_mut().insert(PeerAddr(peer));
            // the peer is a trusted proxy and a header is present: the client is an address
            // the chain names, never the proxy by default
            if let Some(client) = layer.resolve(&req) {
                let ip = client.ip();
                assert!(hops.contains(&Some(ip)), "{ip} came from nowhere");
            }
        }
    }

    if let Ok(path) = normalize_path(&format!("/{text}")) {
        let again = normalize_path(&path).expect("a normalised path normalises");
        assert_eq!(again, path, "normalising twice changed the path");
    }

    if let Ok(t) = PathTemplate::parse(&text) {
        let _ = t.matches(&text);
    }
    let _ = PathTemplate::parse("/a/{x}").unwrap().matches(&text);

    if let Ok(uri) = format!("/?{}", text.replace(['#', ' '], "")).parse::<http::Uri>() {
        let headers = http::HeaderMap::new();
        let src = ParamSource::new(&uri, &headers).with_body(data);
        let _ = src.get_all(&ParamLocation::Query("a".into()));
        let _ = src.get_unique(&ParamLocation::Query("a".into()));
        let _ = src.get_unique(&ParamLocation::Form("a".into()));
        let _ = src.get(&ParamLocation::Json("/a/0".into()));
    }
});
