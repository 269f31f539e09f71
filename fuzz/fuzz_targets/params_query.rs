//! Query strings, form bodies and JSON bodies from arbitrary bytes, parsed and validated
//! against fixed definition sets: no panic; the fast pair parser agrees with core's; key
//! removal agrees with parsing; and a request that passed, once its defaults are written
//! in, passes again with nothing left to write; an injected query parameter is, after
//! injection, the only pair of its name, and a body naming it is refused, never a panic.
#![no_main]

use std::borrow::Cow;
use std::sync::OnceLock;

use bytes::Bytes;
use http::{Request, Uri};
use libfuzzer_sys::fuzz_target;
use serde_json::json;
use tollgate_core::parse_urlencoded;
use tollgate_params::urlencoded::{pairs, remove_keys};
use tollgate_params::{
    Injection, Param, ParamInjectionConfig, ParamRequest, ParamRules, ParamType, ParamValidationConfig, Position,
};

fn injection() -> &'static Injection {
    static INJECTION: OnceLock<Injection> = OnceLock::new();
    INJECTION.get_or_init(|| {
        Injection::new(&ParamInjectionConfig::new().constant(Position::Query, "client_ip", "gw")).unwrap()
    })
}

fn rule_sets() -> &'static [(ParamRules, &'static str)] {
    static RULES: OnceLock<Vec<(ParamRules, &'static str)>> = OnceLock::new();
    RULES.get_or_init(|| {
        let query = ParamValidationConfig::new()
            .param(Param::query("a").int().min(-5).max(500).default(1))
            .param(Param::query("b").array_of(ParamType::Double).max(1e9))
            .param(Param::query("c").regex("[a-z]{1,3}").min_length(1))
            .param(Param::query("d").boolean().default(false))
            .param(Param::query("e").one_of(["x", "y z"]))
            .param(Param::header("x-n").long().default(7))
            .strict(true);
        let form = ParamValidationConfig::new()
            .param(Param::form("a").int().default(3))
            .param(Param::form("t").array_of(ParamType::String).max_length(4))
            .param(Param::query("q").float());
        let json = ParamValidationConfig::new()
            .schema(json!({"type": "object", "properties": {"n": {"type": "integer", "maximum": 10}}}))
            .param(Param::json("n", "/n").int().default(2))
            .param(Param::json("deep", "/x/y/0/z").boolean().default(true))
            .param(Param::body("s").max_length(5))
            .strict(true);
        vec![
            (ParamRules::new(&query).unwrap(), ""),
            (ParamRules::new(&form).unwrap(), "application/x-www-form-urlencoded"),
            (ParamRules::new(&json).unwrap(), "application/json"),
        ]
    })
}

fn owned<'a>(it: impl Iterator<Item = (Cow<'a, str>, Cow<'a, str>)>) -> Vec<(String, String)> {
    it.map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    let (query_bytes, body) = (&data[..split], data.get(split + 1..).unwrap_or_default());
    let query = String::from_utf8_lossy(query_bytes);

    assert_eq!(owned(pairs(&query)), owned(parse_urlencoded(query.as_bytes())));
    let kept = remove_keys(&query, |k| k == "a");
    let expected: Vec<(String, String)> =
        owned(parse_urlencoded(query.as_bytes())).into_iter().filter(|(k, _)| k != "a").collect();
    assert_eq!(owned(pairs(kept.as_deref().unwrap_or(&query))), expected);

    let uri = format!("/p?{query}").parse::<Uri>().unwrap_or_else(|_| {
        let encoded: String = form_urlencoded::byte_serialize(query_bytes).collect();
        format!("/p?{encoded}").parse().unwrap()
    });
    // injection: whatever spelling the client used, the handler's query holds the injected
    // pair once, under its exact name, and nothing else a backend reads as it
    let mut req = Request::post(uri.clone()).body(()).unwrap();
    if injection().apply(&mut req, &[]).is_ok() {
        let query = req.uri().query().unwrap_or("");
        let exact: Vec<(String, String)> =
            owned(parse_urlencoded(query.as_bytes())).into_iter().filter(|(k, _)| k == "client_ip").collect();
        assert_eq!(exact, vec![("client_ip".to_owned(), "gw".to_owned())], "{query}");
    }
    for content_type in ["application/x-www-form-urlencoded", "application/json", "multipart/form-data; boundary=x"] {
        let mut headers = http::HeaderMap::new();
        headers.insert("content-type", http::HeaderValue::from_static(content_type));
        let _ = injection().check_body(&headers, body);
    }

    for (rules, content_type) in rule_sets() {
        let mut req = Request::post(uri.clone()).body(()).unwrap();
        if !content_type.is_empty() {
            req.headers_mut().insert("content-type", http::HeaderValue::from_static(content_type));
        }
        if let Ok(v) = http::HeaderValue::from_bytes(query_bytes) {
            req.headers_mut().insert("x-n", v);
        }
        let view = ParamRequest::new(req.uri(), req.headers()).with_body(body);
        let Ok(fixes) = rules.check(&view) else { continue };
        let new_body = fixes.apply(&mut req).unwrap_or_else(|| Bytes::copy_from_slice(body));
        let again = rules.check(&ParamRequest::new(req.uri(), req.headers()).with_body(&new_body));
        match again {
            Ok(more) => assert!(more.is_empty(), "defaults written twice: {more:?}"),
            Err(report) => panic!("a passing request failed once its defaults were written: {report}"),
        }
    }
});
