//! The condition language: conformance (Tencent's examples verbatim, every operator, the
//! absent-operand rules, CIDRs, synonyms, precedence), error offsets, nesting bounds, and
//! properties: parsing never panics, printed conditions parse back to the same meaning (and
//! agree with a plain model of the semantics), and printing is a fixed point.
//!
//! `conformance.rs` holds the tables and examples; `properties.rs` the generators, a plain
//! model of the semantics and the properties checked against it. `aliyun.rs` does the same
//! for Aliyun's dialect (the spec's expressions and plug-in examples verbatim, parameters,
//! system parameters, templates), `aliyun_props.rs` its properties (among them, that the two
//! dialects agree where they overlap), and `adversarial.rs` what a hostile client sends to
//! have a condition read one value while the backend reads another.

mod adversarial;
mod aliyun;
mod aliyun_props;
mod conformance;
mod properties;

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use http::Request;
use proptest::prelude::*;
use tollgate_core::condition::RequestView;
use tollgate_core::{Caller, ClientIp, Condition, ParamLocation, ParamSource, PathParams, PathTemplate};

/// The request most conformance rows run against.
fn sample() -> (Request<()>, &'static [u8]) {
    let mut req = Request::post("/test?id=2&user=u%201&n=10&neg=-3.5&empty=&tag=a&tag=b&big=123456789012345678901")
        .header("user", "1001")
        .header("a", "x")
        .header("X-User-Level", "vip")
        .header("user-agent", "Mozilla/5.0 (tollgate test)")
        .header("host", "API.example.com:8443")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(())
        .unwrap();
    req.extensions_mut().insert(ClientIp::direct("10.1.2.3".parse().unwrap()));
    req.extensions_mut().insert(Caller::new("AKID1").with_app_id("app-7"));
    req.extensions_mut().insert(PathTemplate::parse("/{seg}").unwrap().matches("/test").unwrap());
    (req, b"qty=3&name=a+b&note=caf%C3%A9")
}

fn holds(text: &str) -> bool {
    let (req, body) = sample();
    let cond = Condition::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
    cond.evaluate(&RequestView::from_request(&req).with_body(body))
}

fn holds_on(text: &str, req: &Request<()>) -> bool {
    Condition::parse(text).unwrap_or_else(|e| panic!("{text}: {e}")).evaluate(&RequestView::from_request(req))
}

fn printed(text: &str) -> String {
    Condition::parse(text).unwrap_or_else(|e| panic!("{text}: {e}")).to_string()
}

fn check_table(rows: &[(&str, bool)]) {
    for (text, want) in rows {
        assert_eq!(holds(text), *want, "{text}");
        // the printed form means the same
        assert_eq!(holds(&printed(text)), *want, "{text} printed as {}", printed(text));
    }
}
