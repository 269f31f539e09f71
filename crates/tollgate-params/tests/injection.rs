//! Parameter injection: constants, system parameters, every mapping direction, and callers
//! trying to smuggle values in under injected names.

mod common;

use std::time::Duration;

use common::{both, get, inject, request};
use http::{HeaderValue, Request};
use tollgate_core::{Caller, ClientIp, ErrorStyle, ManualClock, RequestId};
use tollgate_params::{
    ConfigError, Injection, Param, ParamInjectionConfig, ParamInjectionLayer, ParamMapping, ParamValidationConfig,
    ParamValidationLayer, Position, SystemParam,
};

fn layer(config: ParamInjectionConfig) -> ParamInjectionLayer {
    ParamInjectionLayer::from_config(&config).unwrap()
}

fn values<'a>(headers: &'a http::HeaderMap, name: &str) -> Vec<&'a str> {
    headers.get_all(name).iter().map(|v| v.to_str().unwrap()).collect()
}

fn config_error(config: ParamInjectionConfig) -> ConfigError {
    Injection::new(&config).unwrap_err()
}

#[tokio::test]
async fn constants_are_added_to_every_request() {
    let l = layer(ParamInjectionConfig::new().constant(Position::Header, "x-env", "prod").constant(
        Position::Query,
        "source",
        "api gateway",
    ));
    let out = inject(&l, get("/a?b=1")).await;
    assert_eq!(out.seen().uri, "/a?b=1&source=api+gateway");
    assert_eq!(values(&out.seen().headers, "x-env"), ["prod"]);
    let out = inject(&l, get("/a")).await;
    assert_eq!(out.seen().uri, "/a?source=api+gateway");
}

#[tokio::test]
async fn incoming_values_under_injected_names_are_replaced_never_merged() {
    let l = layer(
        ParamInjectionConfig::new()
            .constant(Position::Header, "x-env", "prod")
            .constant(Position::Query, "role", "user")
            .system(Position::Header, "x-client-ip", SystemParam::ClientIp),
    );
    let mut req = request(
        "GET",
        "/p?role=admin&x=1&role=root&%72ole=su&rol%65=x&role",
        &[
            ("x-env", "dev"),
            ("X-Env", "test"),
            ("x_env", "underscored"),
            ("X_CLIENT_IP", "6.6.6.6"),
            ("x-client-ip", "7.7.7.7"),
        ],
        "",
    );
    req.extensions_mut().insert(ClientIp::direct("203.0.113.9".parse().unwrap()));
    let out = inject(&l, req).await;
    let seen = out.seen();
    assert_eq!(seen.uri, "/p?x=1&role=user", "every spelling of the key is gone");
    assert_eq!(values(&seen.headers, "x-env"), ["prod"]);
    assert!(!seen.headers.contains_key("x_env"));
    assert_eq!(values(&seen.headers, "x-client-ip"), ["203.0.113.9"]);
    assert!(!seen.headers.contains_key("x_client_ip"));
}

#[tokio::test]
async fn an_unknown_fact_leaves_the_name_absent_not_the_callers_value() {
    let l = layer(ParamInjectionConfig::new().system(Position::Query, "appKey", SystemParam::AppKey));
    let out = inject(&l, get("/?appKey=forged")).await;
    assert_eq!(out.seen().uri, "/");
}

#[tokio::test]
async fn an_unknown_client_ip_refuses_the_request() {
    // the peer may be a proxy whose forwarding header could not be read: neither its
    // address nor the caller's header may stand in for the client's
    let l = layer(ParamInjectionConfig::new().system(Position::Header, "x-client-ip", SystemParam::ClientIp));
    let out = inject(&l, request("GET", "/", &[("x-client-ip", "1.2.3.4")], "")).await;
    assert_eq!(out.status, 403);
    assert_eq!(out.code(), "IpUnresolved");
    assert!(out.seen.is_none());
}

#[tokio::test]
async fn system_parameters() {
    let clock = ManualClock::at_unix(Duration::from_secs(784_111_777));
    let l = layer(
        ParamInjectionConfig::new()
            .api_name("GetOrder")
            .stage("PRE")
            .system(Position::Header, "x-ip", SystemParam::ClientIp)
            .system(Position::Header, "x-rid", SystemParam::RequestId)
            .system(Position::Header, "x-app-key", SystemParam::AppKey)
            .system(Position::Query, "appId", SystemParam::AppId)
            .system(Position::Header, "x-api", SystemParam::ApiName)
            .system(Position::Header, "x-stage", SystemParam::Stage)
            .system(Position::Header, "x-host", SystemParam::Host)
            .system(Position::Header, "x-scheme", SystemParam::Scheme)
            .system(Position::Query, "ua", SystemParam::UserAgent)
            .system(Position::Header, "x-time", SystemParam::RequestTime),
    )
    .clock(clock);
    let mut req = request("GET", "/o", &[("host", "api.example.com"), ("user-agent", "curl/8.0 (x&y)")], "");
    req.extensions_mut().insert(ClientIp::direct("2001:db8::1".parse().unwrap()));
    req.extensions_mut().insert(RequestId::new(HeaderValue::from_static("req-42")).unwrap());
    req.extensions_mut().insert(Caller::new("203753741").with_app_id("110840611"));
    let out = inject(&l, req).await;
    let h = &out.seen().headers;
    assert_eq!(h["x-ip"], "2001:db8::1");
    assert_eq!(h["x-rid"], "req-42");
    assert_eq!(h["x-app-key"], "203753741");
    assert_eq!(h["x-api"], "GetOrder");
    assert_eq!(h["x-stage"], "PRE");
    assert_eq!(h["x-host"], "api.example.com");
    assert_eq!(h["x-scheme"], "http");
    assert_eq!(h["x-time"], "Sun, 06 Nov 1994 08:49:37 GMT");
    assert_eq!(out.seen().uri, "/o?appId=110840611&ua=curl%2F8.0+%28x%26y%29");
    // the URI's own scheme and authority win when it has them (HTTP/2)
    let with_ip = |mut req: Request<_>| {
        req.extensions_mut().insert(ClientIp::direct("192.0.2.1".parse().unwrap()));
        req
    };
    let out = inject(&l, with_ip(get("https://h2.example.com/o"))).await;
    assert_eq!(out.seen().headers["x-scheme"], "https");
    assert_eq!(out.seen().headers["x-host"], "h2.example.com");
    // a caller without an app id: its key
    let mut req = with_ip(get("/o"));
    req.extensions_mut().insert(Caller::new("AKID1"));
    assert_eq!(inject(&l, req).await.seen().uri, "/o?appId=AKID1");
    let https = layer(ParamInjectionConfig::new().default_scheme("https").system(
        Position::Header,
        "x-scheme",
        SystemParam::Scheme,
    ));
    assert_eq!(inject(&https, get("/")).await.seen().headers["x-scheme"], "https");
}

#[tokio::test]
async fn mapping_path_to_query_and_header() {
    let l = layer(
        ParamInjectionConfig::new()
            .path("/users/{uid}/orders/{oid}")
            .mapping(ParamMapping::new((Position::Path, "uid"), (Position::Query, "user_id")))
            .mapping(ParamMapping::new((Position::Path, "oid"), (Position::Header, "x-order-id"))),
    );
    let out = inject(&l, request("GET", "/users/ann%20b/orders/12?user_id=eve", &[("x-order-id", "99")], "")).await;
    assert_eq!(out.seen().uri, "/users/ann%20b/orders/12?user_id=ann+b", "the path stays, the caller's user_id goes");
    assert_eq!(values(&out.seen().headers, "x-order-id"), ["12"]);
    // a path that does not match binds nothing: the names are still cleared
    let out = inject(&l, request("GET", "/other?user_id=eve", &[("x-order-id", "99")], "")).await;
    assert_eq!(out.seen().uri, "/other");
    assert!(!out.seen().headers.contains_key("x-order-id"));
}

#[tokio::test]
async fn mapping_headers_and_query_both_ways() {
    let l = layer(
        ParamInjectionConfig::new()
            .mapping(ParamMapping::new((Position::Header, "x-token"), (Position::Header, "authorization")))
            .mapping(ParamMapping::new((Position::Query, "uid"), (Position::Header, "x-user-id")))
            .mapping(ParamMapping::new((Position::Header, "x-page"), (Position::Query, "page")))
            .mapping(ParamMapping::new((Position::Query, "q"), (Position::Query, "search")))
            .mapping(
                ParamMapping::new((Position::Header, "x-trace"), (Position::Header, "x-b3-traceid")).keep_original(),
            ),
    );
    let req = request(
        "GET",
        "/?uid=7&uid=8&q=a+b&keep=1",
        &[
            ("x-token", "t1"),
            ("authorization", "Bearer forged"),
            ("x-page", "3"),
            ("x-trace", "abc"),
            ("x-user-id", "forged"),
        ],
        "",
    );
    let out = inject(&l, req).await;
    let seen = out.seen();
    assert_eq!(values(&seen.headers, "authorization"), ["t1"]);
    assert!(!seen.headers.contains_key("x-token"));
    assert_eq!(values(&seen.headers, "x-user-id"), ["7", "8"], "repeated values are carried over");
    assert_eq!(seen.uri, "/?keep=1&page=3&search=a+b");
    assert!(!seen.headers.contains_key("x-page"));
    assert_eq!(values(&seen.headers, "x-trace"), ["abc"], "kept");
    assert_eq!(values(&seen.headers, "x-b3-traceid"), ["abc"]);
}

#[tokio::test]
async fn a_mapped_value_a_header_cannot_carry_is_refused() {
    let l = layer(
        ParamInjectionConfig::new().mapping(ParamMapping::new((Position::Query, "uid"), (Position::Header, "x-uid"))),
    );
    let out = inject(&l, get("/?uid=1%0D%0AX-Admin:%20true")).await;
    assert_eq!(out.status, 400);
    assert_eq!(out.code(), "InvalidUid");
    assert_eq!(out.detail(), "query uid: the value cannot be carried in header x-uid");
    let aliyun = l.error_style(ErrorStyle::AliyunApiGateway);
    assert_eq!(
        inject(&aliyun, get("/?uid=%00")).await.headers["x-ca-error-message"],
        "Specified parameter uid is not valid."
    );
}

#[tokio::test]
async fn validation_outside_injection_hands_over_path_parameters_and_defaults() {
    let v = ParamValidationLayer::from_config(
        &ParamValidationConfig::new()
            .path("/orders/{id}")
            .param(Param::path("id").int())
            .param(Param::query("page").int().default(1)),
    )
    .unwrap();
    let i = layer(
        ParamInjectionConfig::new()
            .mapping(ParamMapping::new((Position::Path, "id"), (Position::Header, "x-order-id")))
            .mapping(ParamMapping::new((Position::Query, "page"), (Position::Header, "x-page"))),
    );
    let out = both(&v, &i, request("GET", "/orders/5", &[("x-order-id", "1")], "")).await;
    assert_eq!(values(&out.seen().headers, "x-order-id"), ["5"]);
    assert_eq!(values(&out.seen().headers, "x-page"), ["1"], "the default, then mapped");
    assert_eq!(out.seen().uri, "/orders/5");
}

#[test]
fn the_policy_alone() {
    let injection = Injection::new(&ParamInjectionConfig::new().constant(Position::Header, "x-a", "1")).unwrap();
    let mut req = Request::get("/").header("x-a", "0").body(()).unwrap();
    injection.apply(&mut req, &[]).unwrap();
    assert_eq!(req.headers()["x-a"], "1");
}

#[test]
fn configuration_errors_name_the_field() {
    let q = |name: &str| (Position::Query, name.to_owned());
    let cases = [
        (config_error(ParamInjectionConfig::new().constant(Position::Path, "a", "1")), "constants[0].position"),
        (config_error(ParamInjectionConfig::new().constant(Position::Json, "a", "1")), "constants[0].position"),
        (config_error(ParamInjectionConfig::new().constant(Position::Header, "bad name", "1")), "constants[0].name"),
        (config_error(ParamInjectionConfig::new().constant(Position::Header, "x-a", "a\r\nb")), "constants[0].value"),
        (
            config_error(ParamInjectionConfig::new().constant(Position::Header, "Content-Length", "1")),
            "constants[0].name",
        ),
        (config_error(ParamInjectionConfig::new().constant(Position::Query, "", "1")), "constants[0].name"),
        (
            config_error(ParamInjectionConfig::new().system(Position::Header, "host", SystemParam::Host)),
            "system[0].name",
        ),
        (
            config_error(ParamInjectionConfig::new().system(Position::Header, "x-api", SystemParam::ApiName)),
            "system[0].param",
        ),
        (
            config_error(ParamInjectionConfig::new().mapping(ParamMapping::new((Position::Form, "a"), q("b")))),
            "mappings[0].from.position",
        ),
        (
            config_error(ParamInjectionConfig::new().mapping(ParamMapping::new(q("a"), (Position::Path, "b")))),
            "mappings[0].to.position",
        ),
        (
            config_error(ParamInjectionConfig::new().mapping(ParamMapping::new((Position::Header, "host"), q("h")))),
            "mappings[0].keep_original",
        ),
        (
            config_error(
                ParamInjectionConfig::new().path("/u/{id}").mapping(ParamMapping::new((Position::Path, "uid"), q("u"))),
            ),
            "mappings[0].from.name",
        ),
        (config_error(ParamInjectionConfig::new().path("u/{id}")), "path"),
    ];
    for (err, field) in cases {
        assert_eq!(err.field, field, "{err}");
    }
    let err = config_error(ParamInjectionConfig::new().constant(Position::Header, "X-A", "1").system(
        Position::Header,
        "x-a",
        SystemParam::Stage,
    ));
    assert_eq!(err.problem, "x-a is injected twice (names a backend reads as one count as one)");
    assert!(
        Injection::new(&ParamInjectionConfig::new().mapping(
            ParamMapping::new((Position::Header, "host"), (Position::Header, "x-original-host")).keep_original()
        ))
        .is_ok()
    );
}

#[test]
fn serde_configuration() {
    let config: ParamInjectionConfig = serde_json::from_str(
        r#"{
        "api_name": "GetOrder", "stage": "TEST",
        "constants": [{"name": "x-env", "position": "HEADER", "value": "prod"}],
        "system": [{"name": "CaAppId", "position": "query", "param": "CaAppId"},
                   {"name": "x-time", "position": "header", "param": "request_time"}],
        "mappings": [{"from": {"position": "path", "name": "id"}, "to": {"position": "query", "name": "orderId"},
                      "keep_original": true}]
    }"#,
    )
    .unwrap();
    assert_eq!(config.system[0].param, SystemParam::AppId);
    assert!(config.mappings[0].keep_original);
    assert!(Injection::new(&config).is_ok());
}
