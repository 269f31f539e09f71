//! The clouds' own API definitions in a gateway configuration, over real HTTP: Tencent's
//! `CreateApi` parameter blocks and `EnableCORS`, the `{PluginType, PluginData}` envelope of
//! both clouds with each cloud's example as the data, Aliyun's `/users/[userId]` paths, and
//! unmatched requests answered as Aliyun does.

use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::routing::any;
use http::{HeaderMap, Request, Uri};
use tollgate::PeerAddr;
use tollgate::gateway::{Format, Gateway};
use tower::ServiceExt;

#[path = "support/http.rs"]
mod http_support;
use http_support::{client_from, serve};

/// The handler: the URI it got, and the headers the definitions write.
async fn echo(uri: Uri, headers: HeaderMap) -> String {
    let h = |n: &str| headers.get(n).map_or("-", |v| v.to_str().unwrap()).to_owned();
    format!("{uri} x-user-id={} x-token={}", h("x-user-id"), h("x-token"))
}

async fn serve_config(text: &str, format: Format) -> SocketAddr {
    let gateway = Gateway::from_config(text, format).unwrap();
    serve(Router::new().route("/", any(echo)).route("/{*rest}", any(echo)).layer(gateway.into_layer())).await
}

fn config_error(text: &str, format: Format) -> tollgate::gateway::ConfigError {
    Gateway::from_config(text, format).unwrap_err()
}

// ---------------------------------------------------------------------------------------
// Tencent's CreateApi

/// A `CreateApi` request body, built from the fields the API documents (2018-08-08:
/// `CreateApiRequest`, `ApiRequestConfig`, `RequestParameter`, `ConstantParameter`,
/// `ServiceParameter`; the docs' own example shows no parameter blocks).
const CREATE_API: &str = r#"{
  "ServiceId": "service-ody35h5e",
  "ServiceType": "HTTP",
  "ServiceTimeout": 15,
  "Protocol": "HTTP",
  "RequestConfig": {"Path": "/user/{userId}", "Method": "GET"},
  "ApiName": "GetUser",
  "ApiDesc": "reads a user",
  "AuthType": "NONE",
  "EnableCORS": true,
  "RequestParameters": [
    {"Name": "userId", "Position": "PATH", "Type": "int", "DefaultValue": "", "Required": true, "Desc": "user id"},
    {"Name": "page", "Position": "QUERY", "Type": "int", "DefaultValue": "1", "Required": false, "Desc": "page number"},
    {"Name": "X-Token", "Position": "HEADER", "Type": "string", "DefaultValue": "", "Required": true, "Desc": "session token"}
  ],
  "ConstantParameters": [
    {"Name": "source", "Desc": "who called", "Position": "QUERY", "DefaultValue": "apigateway"}
  ],
  "ServiceConfig": {"Url": "http://127.0.0.1:8080", "Path": "/user/{userId}", "Method": "GET"},
  "ServiceParameters": [
    {"Name": "x-user-id", "Position": "HEADER", "RelevantRequestParameterPosition": "PATH",
     "RelevantRequestParameterName": "userId", "DefaultValue": "", "RelevantRequestParameterDesc": "user id",
     "RelevantRequestParameterType": "int"},
    {"Name": "token", "Position": "QUERY", "RelevantRequestParameterPosition": "HEADER",
     "RelevantRequestParameterName": "X-Token", "DefaultValue": "", "RelevantRequestParameterDesc": "session token",
     "RelevantRequestParameterType": "string"}
  ],
  "ResponseType": "JSON",
  "ResponseSuccessExample": "{\"name\": \"tom\"}",
  "ResponseFailExample": "{\"error\": \"no such user\"}"
}"#;

#[tokio::test]
async fn tencent_create_api_pasted_as_an_api() {
    let addr = serve_config(&format!(r#"{{"apis": [{CREATE_API}]}}"#), Format::Json).await;
    let client = client_from("127.0.0.1");
    let get = |path: &str| client.get(format!("http://{addr}{path}"));

    // a required parameter missing: refused, the handler never called
    let resp = get("/user/42").send().await.unwrap();
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.unwrap().contains("X-Token"));
    // a path parameter of the wrong type: refused
    assert_eq!(get("/user/tom").header("x-token", "t1").send().await.unwrap().status(), 400);

    // the default applied, the constant added, both mappings done (the originals moved)
    let resp = get("/user/42").header("x-token", "t1").send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), "/user/42?page=1&source=apigateway&token=t1 x-user-id=42 x-token=-");
    // a caller cannot set the constant, nor the mapped names
    let resp = get("/user/7?page=3&source=evil").header("x-token", "t2").header("x-user-id", "1").send().await.unwrap();
    assert_eq!(resp.text().await.unwrap(), "/user/7?page=3&source=apigateway&token=t2 x-user-id=7 x-token=-");

    // RequestConfig binds the path and the method: POST is not this API's
    assert_eq!(client.post(format!("http://{addr}/user/42")).send().await.unwrap().status(), 405);
    // a path without parameters is exact in Tencent's RequestConfig
    assert_eq!(get("/user/42/more").header("x-token", "t").send().await.unwrap().status(), 404);

    // EnableCORS: the switch answers a browser
    let resp = client
        .request(reqwest::Method::OPTIONS, format!("http://{addr}/user/42"))
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "x-token")
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{}", resp.status());
    assert_eq!(resp.headers()["access-control-allow-origin"], "*");
    assert!(resp.headers().contains_key("access-control-allow-headers"));
    let resp = get("/user/42").header("x-token", "t").header("origin", "https://app.example.com").send().await.unwrap();
    assert_eq!(resp.headers()["access-control-allow-origin"], "*");
}

#[test]
fn tencent_definition_errors_name_the_field() {
    let cases = [
        // a path parameter the path does not bind
        (
            r#"{"apis": [{"path": "/user/{id}", "RequestParameters": [{"Name": "userId", "Position": "path", "Required": true}]}]}"#,
            "apis[0].RequestParameters[0].Name",
        ),
        (
            r#"{"apis": [{"path": "/u/", "RequestParameters": [{"Name": "n", "Position": "query", "Type": "int", "DefaultValue": "x"}]}]}"#,
            "apis[0].RequestParameters[0].DefaultValue",
        ),
        (
            r#"{"apis": [{"path": "/u/", "RequestParameters": [{"Name": "n", "Position": "query", "Type": "date"}]}]}"#,
            "apis[0].RequestParameters[0].Type",
        ),
        (
            r#"{"apis": [{"path": "/u/", "ConstantParameters": [{"Name": "bad name", "Position": "header", "DefaultValue": "1"}]}]}"#,
            "apis[0].ConstantParameters[0].Name",
        ),
        (
            r#"{"apis": [{"path": "/u/", "ServiceParameters": [{"Name": "a", "Position": "query",
                "RelevantRequestParameterPosition": "query", "RelevantRequestParameterName": "b"}]}]}"#,
            "apis[0].ServiceParameters[0].RelevantRequestParameterName",
        ),
        (
            r#"{"apis": [{"path": "/u/", "RequestParameters": [{"Name": "a", "Position": "query"}],
                "params": {"validation": {"params": []}}}]}"#,
            "apis[0].RequestParameters",
        ),
        // OAUTH is implemented (tests/token_clouds_http.rs): a business API needs its OauthConfig
        (r#"{"apis": [{"path": "/u/", "AuthType": "OAUTH"}]}"#, "apis[0].OauthConfig"),
        (r#"{"apis": [{"path": "/u/", "AuthType": "APP"}]}"#, "apis[0].AuthType"),
        (r#"{"apis": [{"path": "/u/", "AuthType": "SECRET"}]}"#, "apis[0].AuthType"),
        (r#"{"apis": [{"path": "/u/", "EnableCORS": true, "cors": false}]}"#, "apis[0].EnableCORS"),
        (r#"{"apis": [{"path": "/u/", "RequestConfig": {"Path": "/u/"}}]}"#, "apis[0].RequestConfig"),
        (r#"{"apis": [{"RequestConfig": {"Path": "u"}}]}"#, "apis[0].RequestConfig.Path"),
        (r#"{"apis": [{"RequestConfig": {"Path": "/u", "Method": "GET"}, "method": "GET"}]}"#, "apis[0].method"),
        (r#"{"apis": [{"name": "x"}]}"#, "apis[0].path"),
        (r#"{"apis": [{"path": "/u/", "name": "x", "ApiName": "y"}]}"#, "apis[0].ApiName"),
    ];
    for (json, field) in cases {
        let e = config_error(json, Format::Json);
        assert_eq!(e.field, field, "{json}: {e}");
    }
}

// ---------------------------------------------------------------------------------------
// the plug-in envelope, with each cloud's example (shared/specs/cloud-plugins.md) as the data

/// One API at `/p/` carrying one envelope.
fn with_plugin(plugin_type: &str, data: &str) -> String {
    let data = data.lines().map(|l| format!("          {l}")).collect::<Vec<_>>().join("\n");
    format!("apis:\n  - path: /p/\n    plugins:\n      - PluginType: {plugin_type}\n        PluginData: |\n{data}\n")
}

const TENCENT_IP_CONTROL: &str = r#"{
  "type": "white_list",
  "blocks": "1.1.1.1\n1.1.1.0/24",
  "descriptions": {"1.1.1.1": "desc", "1.1.1.0/24": "desc"}
}"#;

const TENCENT_TRAFFIC_CONTROL: &str = r#"{
  "expire_type": "hour",
  "expire": 1,
  "api_rate_limit": 500,
  "app_rate_limit": 1,
  "ip_rate_limit": 2,
  "spec_app_rate_limits": [{"app_id": "app-3q9l4909", "rate_limit": 10}],
  "spec_ip_rate_limits":  [{"ip_key": "172.16.0.1",   "rate_limit": 10}]
}"#;

const TENCENT_CORS: &str = r#"{
  "allow_origin": ["*"],
  "allow_methods": ["PUT", "GET", "POST", "DELETE", "HEAD"],
  "allow_headers": ["X-Api-ID"],
  "expose_headers": ["X-Api-ID"],
  "allow_credentials": true,
  "max_age": 600
}"#;

/// shared/specs/flow-control.md (the TCE manual's keys).
const TENCENT_PARAM_FLOW: &str = r#"{
  "default_window": 60, "default_rate_limit": 5,
  "strategies": [
    {"name": "a", "strategy_weight": 0,
     "parameters": [{"type": "query", "name": "a"}],
     "rate_limit": 1, "window": 1,
     "condition": ""}
  ]
}"#;

const ALIYUN_IP_CONTROL: &str = r#"---
type: ALLOW            # ALLOW = whitelist, REFUSE = blacklist
resource: "XFF:-1"     # optional; take client IP from X-Forwarded-For (here: last entry)
items:
  - blocks:            # list of CIDR blocks / IPs
      - 61.3.XX.XX/24
    appId: 219810      # optional; item applies only to this app
  - blocks:
      - 79.11.XX.XX    # single IP
  - blocks:
      - 192.168.XX.XX/32   # dedicated instance: source address seen from user VPC
"#;

const ALIYUN_CORS: &str = r#"---
allowOrigins: api.foo.com,api2.foo.com,*.foo.com   # comma-separated; default *
allowMethods: GET,POST,PUT                          # comma-separated
allowHeaders: X-Ca-RequestId                        # comma-separated
exposeHeaders: X-RC1,X-RC2                          # comma-separated, exposed to XHR
allowCredentials: true                              # whether cookies are allowed
maxAge: 172800                                      # seconds (preflight cache)
"#;

const ALIYUN_ACCESS_CONTROL: &str = include_str!("fixtures/cloud-plugins/aliyun-access-control.yaml");

/// A preflight for `method` from `origin`.
async fn preflight(addr: SocketAddr, origin: &str, method: &str) -> reqwest::Response {
    client_from("127.0.0.1")
        .request(reqwest::Method::OPTIONS, format!("http://{addr}/p/x"))
        .header("origin", origin)
        .header("access-control-request-method", method)
        .send()
        .await
        .unwrap()
}

/// `EnableCORS` beside a CORS plug-in: the plug-in's rules win, as in Tencent's console;
/// its errors name the envelope's data.
#[tokio::test]
async fn enable_cors_beside_a_cors_plugin() {
    let config = format!("{}    EnableCORS: true\n", with_plugin("Cors", TENCENT_CORS));
    let addr = serve_config(&config, Format::Yaml).await;
    let resp = preflight(addr, "https://app.example.com", "PUT").await;
    assert_eq!(resp.headers()["access-control-max-age"], "600");
    let bad = format!(
        "{}    EnableCORS: true\n",
        with_plugin("Cors", r#"{"allow_origin": ["*"], "allow_methods": ["GET"], "max_age": 0}"#)
    );
    let e = config_error(&bad, Format::Yaml);
    assert_eq!(e.field, "apis[0].plugins[0].PluginData.max_age", "{e}");
}

#[tokio::test]
async fn tencent_ip_control_envelope() {
    let addr = serve_config(&with_plugin("IPControl", TENCENT_IP_CONTROL), Format::Yaml).await;
    // 127.0.0.1 is not on the white list
    let resp = client_from("127.0.0.1").get(format!("http://{addr}/p/x")).send().await.unwrap();
    assert_eq!(resp.status(), 403);
    // elsewhere, no plug-in: the unmatched path is refused by the gateway, not the list
    let resp = client_from("127.0.0.1").get(format!("http://{addr}/elsewhere")).send().await.unwrap();
    assert_eq!(resp.status(), 404);
}

#[tokio::test]
async fn tencent_traffic_control_envelope() {
    let addr = serve_config(&with_plugin("TrafficControl", TENCENT_TRAFFIC_CONTROL), Format::Yaml).await;
    let client = client_from("127.0.0.1");
    let mut codes = Vec::new();
    for _ in 0..3 {
        codes.push(client.get(format!("http://{addr}/p/x")).send().await.unwrap().status().as_u16());
    }
    // ip_rate_limit 2 per hour
    assert_eq!(codes, [200, 200, 429]);
}

#[tokio::test]
async fn tencent_cors_envelope() {
    let addr = serve_config(&with_plugin("Cors", TENCENT_CORS), Format::Yaml).await;
    let resp = preflight(addr, "https://app.example.com", "PUT").await;
    assert!(resp.status().is_success());
    assert_eq!(resp.headers()["access-control-max-age"], "600");
    // credentials on: the wildcard origin is echoed
    assert_eq!(resp.headers()["access-control-allow-origin"], "https://app.example.com");
    // PATCH is not allowed
    let resp = preflight(addr, "https://app.example.com", "PATCH").await;
    assert!(!resp.headers().contains_key("access-control-allow-methods"));
}

#[tokio::test]
async fn tencent_param_flow_envelope() {
    let addr = serve_config(&with_plugin("TrafficControlByParameter", TENCENT_PARAM_FLOW), Format::Yaml).await;
    let client = client_from("127.0.0.1");
    let get = |q: &str| client.get(format!("http://{addr}/p/x?a={q}")).send();
    // one per second for each value of `a`
    assert_eq!(get("1").await.unwrap().status(), 200);
    assert_eq!(get("1").await.unwrap().status(), 429);
    assert_eq!(get("2").await.unwrap().status(), 200);
}

#[tokio::test]
async fn aliyun_ip_control_envelope() {
    // verbatim, the documentation's masked addresses are refused, naming the entry
    let e = config_error(&with_plugin("ipControl", ALIYUN_IP_CONTROL), Format::Yaml);
    assert_eq!(e.field, "apis[0].plugins[0].PluginData.items[0].blocks", "{e}");
    assert!(e.problem.starts_with("entry 1 (\"61.3.XX.XX/24\")"), "{e}");
    // unmasked, a white list that does not hold 127.0.0.1
    let unmasked = ALIYUN_IP_CONTROL.replace("XX.XX", "0.1");
    let addr = serve_config(&with_plugin("ipControl", &unmasked), Format::Yaml).await;
    let resp = client_from("127.0.0.1").get(format!("http://{addr}/p/x")).send().await.unwrap();
    assert_eq!(resp.status(), 403);
    // the same list as a refusal list lets it through
    let refuse = unmasked.replace("type: ALLOW", "type: REFUSE");
    let addr = serve_config(&with_plugin("ipControl", &refuse), Format::Yaml).await;
    let resp = client_from("127.0.0.1").get(format!("http://{addr}/p/x")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn aliyun_cors_envelope() {
    let addr = serve_config(&with_plugin("cors", ALIYUN_CORS), Format::Yaml).await;
    let resp = preflight(addr, "https://api.foo.com", "PUT").await;
    assert!(resp.status().is_success());
    assert_eq!(resp.headers()["access-control-allow-origin"], "https://api.foo.com");
    assert_eq!(resp.headers()["access-control-max-age"], "172800");
    let resp = preflight(addr, "https://evil.example", "PUT").await;
    assert!(!resp.headers().contains_key("access-control-allow-origin"));
}

#[tokio::test]
async fn aliyun_traffic_control_envelope_in_the_openapi_form() {
    let data = "{\"Unit\": \"MINUTE\", \"ApiDefault\": 2}";
    let addr = serve_config(&with_plugin("trafficControl", data), Format::Yaml).await;
    let client = client_from("127.0.0.1");
    let mut codes = Vec::new();
    for _ in 0..3 {
        let resp = client.get(format!("http://{addr}/p/x")).send().await.unwrap();
        codes.push(resp.status().as_u16());
        if resp.status() != 200 {
            assert_eq!(resp.headers()["x-ca-error-message"], "Throttled by API Flow Control");
        }
    }
    assert_eq!(codes[..2], [200, 200]);
    assert_ne!(codes[2], 200);
}

/// shared/specs/cloud-plugins.md §A1.1, verbatim: the plug-in form is read by the
/// `aliyun_flow_control` block.
#[tokio::test]
async fn aliyun_traffic_control_envelope_verbatim() {
    const ALIYUN_TRAFFIC_CONTROL: &str = include_str!("fixtures/cloud-plugins/aliyun-traffic-control.yaml");
    let addr = serve_config(&with_plugin("trafficControl", ALIYUN_TRAFFIC_CONTROL), Format::Yaml).await;
    let resp = client_from("127.0.0.1").get(format!("http://{addr}/p/x")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn aliyun_access_control_envelope_verbatim() {
    // the spec's plug-in as PluginData, on an Aliyun path: with no token its `userId` is
    // null, so the `user` rule's condition is false and it denies with its own answer
    let data = ALIYUN_ACCESS_CONTROL.lines().map(|l| format!("          {l}")).collect::<Vec<_>>().join("\n");
    let config = format!(
        "apis:\n  - path: /users/[userId]\n    plugins:\n      - PluginType: accessControl\n        PluginData: |\n{data}\n"
    );
    let addr = serve_config(&config, Format::Yaml).await;
    let resp = client_from("127.0.0.1").get(format!("http://{addr}/users/7")).send().await.unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(resp.headers()["content-type"], "application/xml");
    let message = resp.headers()["x-ca-error-message"].to_str().unwrap().to_owned();
    assert!(message.starts_with("Path not match") && message.ends_with("vs /7"), "{message}");
    assert!(resp.text().await.unwrap().contains("vs /7</Reason>"));
    // the same plug-in twice, as an envelope and as the block: an error naming both
    let twice = format!("{config}    access_control: {{parameters: {{}}, rules: []}}\n");
    let e = config_error(&twice, Format::Yaml);
    assert!(e.to_string().contains("access_control"), "{e}");
}

#[tokio::test]
async fn aliyun_error_mapping_envelope() {
    let data = r#"{"parameters": {"statusCode": "StatusCode"}, "errorCondition": "$statusCode = 200",
        "mappings": [], "defaultMapping": {"statusCode": 418, "errorMessage": "mapped ${statusCode}"}}"#;
    let addr = serve_config(&with_plugin("errorMapping", data), Format::Yaml).await;
    let resp = client_from("127.0.0.1").get(format!("http://{addr}/p/x")).send().await.unwrap();
    assert_eq!(resp.status(), 418);
    assert_eq!(resp.headers()["x-ca-error-message"], "mapped 200");
    // the handler's body is kept as sent
    assert!(resp.text().await.unwrap().starts_with("/p/x"));
}

#[test]
fn envelope_errors_name_the_field() {
    // an error inside the data names the path into it
    let e =
        config_error(&with_plugin("TrafficControl", r#"{"expire_type": "minute", "api_rate_limit": 0}"#), Format::Yaml);
    assert_eq!(e.field, "apis[0].plugins[0].PluginData.api_rate_limit");
    let e = config_error(
        &with_plugin("IPControl", r#"{"type": "white_list", "blocks": "1.1.1.1\n10.0.0.300"}"#),
        Format::Yaml,
    );
    assert_eq!(e.field, "apis[0].plugins[0].PluginData.blocks", "{e}");
    let e = config_error(&with_plugin("IPControl", r#"{"type": "white_list", "blockz": "1.1.1.1"}"#), Format::Yaml);
    assert!(e.field.starts_with("apis[0].plugins[0].PluginData"), "{e}");
    // types tollgate does not implement, or does not know, are named
    for ty in ["CustomReq", "Routing", "caching", "basicAuth", "ipcontrol", "Unknown"] {
        let e = config_error(&with_plugin(ty, "{}"), Format::Yaml);
        assert_eq!(e.field, "apis[0].plugins[0].PluginType", "{ty}");
        assert!(e.problem.contains(ty), "{e}");
    }
    // the same type twice, or an envelope beside its block: both named
    let twice = r#"{"apis": [{"path": "/p/", "plugins": [
        {"PluginType": "Cors", "PluginData": {"allow_origin": ["*"], "allow_methods": ["GET"], "max_age": 1}},
        {"PluginType": "IPControl", "PluginData": "{\"type\": \"black_list\", \"blocks\": \"10.0.0.1\"}"},
        {"PluginType": "cors", "PluginData": "allowMethods: GET"}]}]}"#;
    let e = config_error(twice, Format::Json);
    assert_eq!(e.field, "apis[0].plugins[2].PluginType");
    assert!(e.problem.contains("plugins[0]") && e.problem.contains("plugins[2]"), "{e}");
    let beside = r#"{"apis": [{"path": "/p/", "ip_access": {"type": "black_list", "blocks": "10.0.0.2"},
        "plugins": [{"PluginType": "IPControl", "PluginData": "{\"type\": \"black_list\", \"blocks\": \"10.0.0.1\"}"}]}]}"#;
    let e = config_error(beside, Format::Json);
    assert_eq!(e.field, "apis[0].plugins[0].PluginType");
    assert!(e.problem.contains("ip_access") && e.problem.contains("plugins[0]"), "{e}");
    // data that is neither text nor an object; JSON that breaks
    let e = config_error(
        r#"{"apis": [{"path": "/p/", "plugins": [{"PluginType": "Cors", "PluginData": 7}]}]}"#,
        Format::Json,
    );
    assert_eq!(e.field, "apis[0].plugins[0].PluginData");
    let e = config_error(
        r#"{"apis": [{"path": "/p/", "plugins": [{"PluginType": "Cors", "PluginData": "{\"allow"}]}]}"#,
        Format::Json,
    );
    assert_eq!(e.field, "apis[0].plugins[0].PluginData");
    assert!(e.problem.starts_with("invalid JSON"), "{e}");
}

#[test]
fn envelope_in_toml() {
    let text = r#"
[[apis]]
path = "/p/"
[[apis.plugins]]
PluginType = "IPControl"
PluginData = '{"type": "white_list", "blocks": "10.0.0.0/8"}'
"#;
    Gateway::from_config(text, Format::Toml).unwrap();
}

// ---------------------------------------------------------------------------------------
// Aliyun's path syntax, and unmatched requests in its style

#[tokio::test]
async fn aliyun_bracket_paths_route_and_bind() {
    let addr = serve_config(
        r#"
apis:
  - path: /users/[userId]/orders/[orderId]
    method: GET
    params:
      injection:
        mappings: [{from: {position: path, name: userId}, to: {position: header, name: x-user-id}}]
"#,
        Format::Yaml,
    )
    .await;
    let client = client_from("127.0.0.1");
    let resp = client.get(format!("http://{addr}/users/u%201/orders/9")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), "/users/u%201/orders/9 x-user-id=u 1 x-token=-");
    let resp = client.get(format!("http://{addr}/users/u1/orders")).send().await.unwrap();
    assert_eq!(resp.status(), 404);
    // Tencent's parameter blocks read a bracket template as well
    let json = r#"{"apis": [{"path": "/users/[userId]", "RequestParameters": [
        {"Name": "userId", "Position": "path", "Type": "int", "Required": true}]}]}"#;
    let addr = serve_config(json, Format::Json).await;
    assert_eq!(client.get(format!("http://{addr}/users/7")).send().await.unwrap().status(), 200);
    assert_eq!(client.get(format!("http://{addr}/users/x")).send().await.unwrap().status(), 400);
}

#[tokio::test]
async fn unmatched_in_the_aliyun_style() {
    let config = "error_style: aliyun_api_gateway\napis:\n  - {path: \"/users/[id]\", method: GET}\n";
    let addr = serve_config(config, Format::Yaml).await;
    let client = client_from("127.0.0.1");
    let resp = client.get(format!("http://{addr}/nowhere")).send().await.unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(resp.headers()["x-ca-error-message"], "Invalid Url");
    assert!(resp.headers().contains_key("x-ca-request-id"));
    let resp = client.post(format!("http://{addr}/users/7")).send().await.unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(resp.headers()["x-ca-error-message"], "Invalid HttpMethod");
    assert_eq!(client.get(format!("http://{addr}/users/7")).send().await.unwrap().status(), 200);

    // other styles keep 404 and 405
    for (style, header) in [("tencent_api_gateway", "x-api-requestid"), ("problem_json", "content-type")] {
        let config = format!("error_style: {style}\napis:\n  - {{path: \"/users/[id]\", method: GET}}\n");
        let svc = Gateway::from_config(&config, Format::Yaml).unwrap().into_layer();
        let svc = tower::Layer::layer(
            &svc,
            tower::service_fn(|_: Request<Body>| async {
                Ok::<_, std::convert::Infallible>(http::Response::new(Body::empty()))
            }),
        );
        let req = |method: &str, path: &str| {
            let mut req = Request::builder().method(method).uri(path).body(Body::empty()).unwrap();
            req.extensions_mut().insert(PeerAddr("127.0.0.1:5000".parse().unwrap()));
            req
        };
        let resp = svc.clone().oneshot(req("GET", "/nowhere")).await.unwrap();
        assert_eq!(resp.status(), 404, "{style}");
        assert!(resp.headers().contains_key(header), "{style}");
        let resp = svc.clone().oneshot(req("DELETE", "/users/7")).await.unwrap();
        assert_eq!(resp.status(), 405, "{style}");
        assert_eq!(resp.headers()["allow"], "GET");
    }
}
