//! Aliyun's condition dialect, templates and parameter locations: no panic on any input;
//! whatever parses prints to a text that parses back to the same condition, prints the same
//! again, and evaluates alike.
#![no_main]

use std::net::{IpAddr, Ipv4Addr};

use http::Request;
use libfuzzer_sys::fuzz_target;
use tollgate_core::condition::{AliyunLocation, AliyunParameters, RequestView, Template};
use tollgate_core::{Caller, ClientIp, Condition, PathTemplate, TokenClaims};

fn params() -> AliyunParameters {
    AliyunParameters::from_pairs([
        ("userType", "Header:x-user-type"),
        ("userId", "Query:user"),
        ("pathUserId", "path:userId"),
        ("qty", "Form:qty"),
        ("m", "Method"),
        ("p", "Path"),
        ("first", "XFF:0"),
        ("last", "XFF:-1"),
        ("role", "Token:role"),
        ("app", "System:CaAppId"),
    ])
    .unwrap()
}

/// A request that has a value for most parameters.
fn request() -> (Request<()>, &'static [u8]) {
    let mut req = Request::post("https://api.example.com/users/1230?user=1230&tag=a&tag=b")
        .header("x-user-type", "admin")
        .header("x-forwarded-for", "198.51.100.1, 10.0.0.2")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(())
        .unwrap();
    req.extensions_mut().insert(ClientIp::direct(IpAddr::V4(Ipv4Addr::new(106, 11, 31, 7))));
    req.extensions_mut().insert(Caller::new("AK1").with_app_id("123456"));
    req.extensions_mut().insert(PathTemplate::parse("/users/{userId}").unwrap().matches("/users/1230").unwrap());
    req.extensions_mut().insert(TokenClaims::new(serde_json::json!({"role": "ops"})));
    (req, b"qty=3")
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let params = params();
    let (req, body) = request();
    let view = RequestView::from_request(&req).with_body(body);

    let _ = text.parse::<AliyunLocation>();
    if let Ok(template) = Template::parse(&text, &params) {
        let _ = template.render(&view);
        let again = Template::parse(&template.to_string(), &params).expect("a template prints as one");
        assert_eq!(again, template, "{text:?}");
    }

    let Ok(cond) = Condition::parse_aliyun(&text, &params) else { return };
    let printed = cond.to_string();
    let again = match Condition::parse_aliyun(&printed, &params) {
        Ok(again) => again,
        Err(e) => panic!("{text:?} printed as {printed:?}, which does not parse: {e}"),
    };
    assert_eq!(again, cond, "{text:?} printed as {printed:?}");
    assert_eq!(again.to_string(), printed, "printing is not a fixed point for {text:?}");
    assert_eq!(again.needs_form_body(), cond.needs_form_body());
    assert_eq!(cond.check(&view), again.check(&view), "{text:?} and {printed:?} disagree");
    let _ = cond.check(&RequestView::from_request(&Request::new(())));
});
