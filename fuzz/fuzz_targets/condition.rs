//! Condition expressions: no panic on any input; whatever parses prints to a text that parses
//! back to the same condition, prints the same again (a fixed point), and evaluates alike.
#![no_main]

use std::net::{IpAddr, Ipv6Addr};

use http::Request;
use libfuzzer_sys::fuzz_target;
use tollgate_core::condition::RequestView;
use tollgate_core::{Caller, ClientIp, Condition, PathTemplate};

/// A request that has a value for most operands.
fn request() -> (Request<()>, &'static [u8]) {
    let mut req = Request::post("https://api.example.com/v1/orders/42?id=2&user=u%201&n=-3.5&tag=a&tag=b&empty=")
        .header("user", "1001")
        .header("x-user-level", "vip")
        .header("user-agent", "Mozilla/5.0")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(())
        .unwrap();
    req.extensions_mut().insert(ClientIp::direct(IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1))));
    req.extensions_mut().insert(Caller::new("AKID1"));
    req.extensions_mut().insert(PathTemplate::parse("/v1/orders/{id}").unwrap().matches("/v1/orders/42").unwrap());
    (req, b"qty=3&name=a+b&note=caf%C3%A9")
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Ok(cond) = Condition::parse(&text) else { return };
    let printed = cond.to_string();
    let again = match Condition::parse(&printed) {
        Ok(again) => again,
        Err(e) => panic!("{text:?} printed as {printed:?}, which does not parse: {e}"),
    };
    assert_eq!(again, cond, "{text:?} printed as {printed:?}");
    assert_eq!(again.to_string(), printed, "printing is not a fixed point for {text:?}");
    assert_eq!(again.needs_form_body(), cond.needs_form_body());
    assert_eq!(again.uses_random(), cond.uses_random());

    let (req, body) = request();
    let view = RequestView::from_request(&req).with_body(body);
    let a = cond.with_random(|| 0.25).evaluate(&view);
    let b = again.with_random(|| 0.25).evaluate(&view);
    assert_eq!(a, b, "{text:?} and {printed:?} disagree");
    let _ = Condition::parse(&printed).map(|c| c.evaluate(&RequestView::from_request(&Request::new(()))));
});
