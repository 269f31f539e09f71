//! CORS conformance table: each row is one request (method, path, headers) to a layer with a
//! named configuration, the status expected, whether the handler is reached, and the exact
//! CORS and `Vary` headers of the response — nothing more, nothing less.

use std::convert::Infallible;
use std::time::Duration;

use http::{HeaderMap, Request, Response};
use tollgate_cors::{CorsLayer, CorsPlugin};
use tower::{ServiceExt, service_fn};

/// The handler: 200 with a few headers of its own; `/own-cors` also sets CORS headers, which
/// the layer must replace or remove.
async fn handler(req: Request<String>) -> Result<Response<String>, Infallible> {
    let mut resp = Response::new(String::from("handler"));
    let h = resp.headers_mut();
    h.insert("x-handler", "1".parse().unwrap());
    h.insert("x-api-id", "42".parse().unwrap());
    h.insert("content-type", "text/plain".parse().unwrap());
    if req.uri().path() == "/own-cors" {
        h.insert("access-control-allow-origin", "*".parse().unwrap());
        h.insert("access-control-allow-credentials", "true".parse().unwrap());
    }
    Ok(resp)
}

fn layer(name: &str) -> CorsLayer {
    match name {
        // credentials, exact + wildcard-subdomain origins, listed methods and headers
        "creds" => CorsLayer::new()
            .allow_origin(["https://app.example.com", "https://*.example.org", "http://localhost:8080"])
            .unwrap()
            .allow_methods(["GET", "PUT"])
            .unwrap()
            .allow_headers(["X-Api-ID", "Content-Type"])
            .unwrap()
            .expose_headers(["X-Api-ID"])
            .unwrap()
            .allow_credentials(true)
            .max_age(Duration::from_secs(600))
            .unwrap(),
        // a public API from Tencent's plugin JSON: `*` everywhere, no credentials
        "public" => CorsLayer::from_plugin(
            &serde_json::from_str::<CorsPlugin>(
                r#"{"allow_origin":["*"],"allow_methods":["GET","POST"],"allow_headers":["*"],
                    "expose_headers":["*"],"max_age":60}"#,
            )
            .unwrap(),
        )
        .unwrap(),
        // `*` everywhere with credentials: everything echoed
        "wild_creds" => CorsLayer::new()
            .allow_origin(["*"])
            .unwrap()
            .allow_methods(["*"])
            .unwrap()
            .allow_headers(["*"])
            .unwrap()
            .expose_headers(["*"])
            .unwrap()
            .allow_credentials(true),
        "null_listed" => CorsLayer::new().allow_origin(["null"]).unwrap(),
        "switch" => CorsLayer::switch(),
        "off" => CorsLayer::off(),
        other => panic!("no configuration {other}"),
    }
}

const PREFLIGHT_VARY: &str = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers";

struct Row {
    config: &'static str,
    method: &'static str,
    path: &'static str,
    headers: &'static [(&'static str, &'static str)],
    status: u16,
    reaches_handler: bool,
    expect: &'static [(&'static str, &'static str)],
}

const fn row(
    config: &'static str,
    method: &'static str,
    headers: &'static [(&'static str, &'static str)],
    status: u16,
    expect: &'static [(&'static str, &'static str)],
) -> Row {
    Row { config, method, path: "/", headers, status, reaches_handler: status == 200, expect }
}

const ORIGIN_APP: (&str, &str) = ("origin", "https://app.example.com");
const VARY_ORIGIN: (&str, &str) = ("vary", "Origin");
const VARY_PREFLIGHT: (&str, &str) = ("vary", PREFLIGHT_VARY);

#[rustfmt::skip]
const ROWS: &[Row] = &[
    // --- credentials, listed origins/methods/headers ---
    // 0: preflight, everything allowed
    row("creds", "OPTIONS", &[ORIGIN_APP, ("access-control-request-method", "PUT"), ("access-control-request-headers", "x-api-id,content-type")], 204, &[
        VARY_PREFLIGHT, ("access-control-allow-origin", "https://app.example.com"), ("access-control-allow-credentials", "true"),
        ("access-control-allow-methods", "GET, PUT"), ("access-control-allow-headers", "x-api-id, content-type"), ("access-control-max-age", "600")]),
    // 1: scheme and host case-insensitive, default port normalised; the value is echoed as sent
    row("creds", "OPTIONS", &[("origin", "HTTPS://App.Example.com:443"), ("access-control-request-method", "GET")], 204, &[
        VARY_PREFLIGHT, ("access-control-allow-origin", "HTTPS://App.Example.com:443"), ("access-control-allow-credentials", "true"),
        ("access-control-allow-methods", "GET, PUT"), ("access-control-allow-headers", "x-api-id, content-type"), ("access-control-max-age", "600")]),
    // 2: wildcard subdomain, two levels deep
    row("creds", "OPTIONS", &[("origin", "https://a.b.example.org"), ("access-control-request-method", "PUT")], 204, &[
        VARY_PREFLIGHT, ("access-control-allow-origin", "https://a.b.example.org"), ("access-control-allow-credentials", "true"),
        ("access-control-allow-methods", "GET, PUT"), ("access-control-allow-headers", "x-api-id, content-type"), ("access-control-max-age", "600")]),
    // 3-8: disallowed origins: no grants, not forwarded
    row("creds", "OPTIONS", &[("origin", "https://evil.example.com"), ("access-control-request-method", "PUT")], 204, &[VARY_PREFLIGHT]),
    row("creds", "OPTIONS", &[("origin", "https://example.org"), ("access-control-request-method", "PUT")], 204, &[VARY_PREFLIGHT]),
    row("creds", "OPTIONS", &[("origin", "https://evil-example.org"), ("access-control-request-method", "PUT")], 204, &[VARY_PREFLIGHT]),
    row("creds", "OPTIONS", &[("origin", "https://app.example.com.attacker.net"), ("access-control-request-method", "PUT")], 204, &[VARY_PREFLIGHT]),
    row("creds", "OPTIONS", &[("origin", "http://app.example.com"), ("access-control-request-method", "PUT")], 204, &[VARY_PREFLIGHT]),
    row("creds", "OPTIONS", &[("origin", "http://localhost:8081"), ("access-control-request-method", "PUT")], 204, &[VARY_PREFLIGHT]),
    // 9: the right port
    row("creds", "OPTIONS", &[("origin", "http://localhost:8080"), ("access-control-request-method", "PUT")], 204, &[
        VARY_PREFLIGHT, ("access-control-allow-origin", "http://localhost:8080"), ("access-control-allow-credentials", "true"),
        ("access-control-allow-methods", "GET, PUT"), ("access-control-allow-headers", "x-api-id, content-type"), ("access-control-max-age", "600")]),
    // 10-11: method not allowed; methods are case-sensitive
    row("creds", "OPTIONS", &[ORIGIN_APP, ("access-control-request-method", "DELETE")], 204, &[VARY_PREFLIGHT]),
    row("creds", "OPTIONS", &[ORIGIN_APP, ("access-control-request-method", "put")], 204, &[VARY_PREFLIGHT]),
    // 12: a header not allowed
    row("creds", "OPTIONS", &[ORIGIN_APP, ("access-control-request-method", "PUT"), ("access-control-request-headers", "x-api-id, x-other")], 204, &[VARY_PREFLIGHT]),
    // 13: header names are case-insensitive
    row("creds", "OPTIONS", &[ORIGIN_APP, ("access-control-request-method", "PUT"), ("access-control-request-headers", "X-API-ID")], 204, &[
        VARY_PREFLIGHT, ("access-control-allow-origin", "https://app.example.com"), ("access-control-allow-credentials", "true"),
        ("access-control-allow-methods", "GET, PUT"), ("access-control-allow-headers", "x-api-id, content-type"), ("access-control-max-age", "600")]),
    // 14: null is refused unless listed
    row("creds", "OPTIONS", &[("origin", "null"), ("access-control-request-method", "GET")], 204, &[VARY_PREFLIGHT]),
    // 15: OPTIONS without Access-Control-Request-Method is no preflight: the handler answers
    row("creds", "OPTIONS", &[ORIGIN_APP], 200, &[
        VARY_ORIGIN, ("access-control-allow-origin", "https://app.example.com"), ("access-control-allow-credentials", "true"),
        ("access-control-expose-headers", "x-api-id")]),
    // 16: nor is OPTIONS without Origin
    row("creds", "OPTIONS", &[("access-control-request-method", "PUT")], 200, &[VARY_ORIGIN]),
    // 17: simple GET from an allowed origin
    row("creds", "GET", &[ORIGIN_APP], 200, &[
        VARY_ORIGIN, ("access-control-allow-origin", "https://app.example.com"), ("access-control-allow-credentials", "true"),
        ("access-control-expose-headers", "x-api-id")]),
    // 18-20: disallowed, missing and malformed origins: no grants, but Vary
    row("creds", "GET", &[("origin", "https://evil.example.com")], 200, &[VARY_ORIGIN]),
    row("creds", "GET", &[], 200, &[VARY_ORIGIN]),
    row("creds", "GET", &[("origin", "not an origin")], 200, &[VARY_ORIGIN]),
    // 21: a method only a preflight would be judged by: a simple POST is judged by origin
    row("creds", "POST", &[ORIGIN_APP], 200, &[
        VARY_ORIGIN, ("access-control-allow-origin", "https://app.example.com"), ("access-control-allow-credentials", "true"),
        ("access-control-expose-headers", "x-api-id")]),

    // --- public: `*` everywhere, no credentials ---
    // 22: literal `*` origin; requested headers echoed (`*` would not cover Authorization)
    row("public", "OPTIONS", &[("origin", "https://x.test"), ("access-control-request-method", "POST"), ("access-control-request-headers", "x-anything, authorization")], 204, &[
        VARY_PREFLIGHT, ("access-control-allow-origin", "*"), ("access-control-allow-methods", "GET, POST"),
        ("access-control-allow-headers", "x-anything, authorization"), ("access-control-max-age", "60")]),
    // 23: method not listed
    row("public", "OPTIONS", &[("origin", "https://x.test"), ("access-control-request-method", "PUT")], 204, &[VARY_PREFLIGHT]),
    // 24-25: `*` needs no Vary, with or without Origin
    row("public", "GET", &[("origin", "https://x.test")], 200, &[("access-control-allow-origin", "*"), ("access-control-expose-headers", "*")]),
    row("public", "GET", &[], 200, &[("access-control-allow-origin", "*"), ("access-control-expose-headers", "*")]),
    // 26: but `*` does not grant null
    row("public", "GET", &[("origin", "null")], 200, &[VARY_ORIGIN]),

    // --- `*` everywhere with credentials: echoed, never `*` ---
    // 27: preflight: origin, method and headers echoed
    row("wild_creds", "OPTIONS", &[("origin", "https://x.test"), ("access-control-request-method", "DELETE"), ("access-control-request-headers", "x-a,x-b")], 204, &[
        VARY_PREFLIGHT, ("access-control-allow-origin", "https://x.test"), ("access-control-allow-credentials", "true"),
        ("access-control-allow-methods", "DELETE"), ("access-control-allow-headers", "x-a,x-b")]),
    // 28: a requested method that is not a token
    row("wild_creds", "OPTIONS", &[("origin", "https://x.test"), ("access-control-request-method", "GE T")], 204, &[VARY_PREFLIGHT]),
    // 29: exposed: the response's own non-safelisted header names
    row("wild_creds", "GET", &[("origin", "https://x.test")], 200, &[
        VARY_ORIGIN, ("access-control-allow-origin", "https://x.test"), ("access-control-allow-credentials", "true"),
        ("access-control-expose-headers", "x-handler, x-api-id")]),
    row("wild_creds", "GET", &[("origin", "null")], 200, &[VARY_ORIGIN]),

    // --- null, when listed ---
    row("null_listed", "GET", &[("origin", "null")], 200, &[VARY_ORIGIN, ("access-control-allow-origin", "null")]),

    // --- the switch: `*` on every response, nothing else ---
    row("switch", "GET", &[("origin", "https://x.test")], 200, &[("access-control-allow-origin", "*")]),
    row("switch", "GET", &[], 200, &[("access-control-allow-origin", "*")]),
    row("switch", "OPTIONS", &[("origin", "https://x.test"), ("access-control-request-method", "PUT")], 200, &[("access-control-allow-origin", "*")]),

    // --- off: untouched ---
    row("off", "OPTIONS", &[("origin", "https://x.test"), ("access-control-request-method", "PUT")], 200, &[]),
];

/// The response's CORS and Vary headers, sorted, multi-valued ones joined with " | ".
fn cors_headers(h: &HeaderMap) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = h
        .keys()
        .filter(|n| n.as_str().starts_with("access-control-") || n.as_str() == "vary")
        .map(|n| {
            let values: Vec<&str> = h.get_all(n).iter().map(|v| v.to_str().unwrap()).collect();
            (n.as_str().to_owned(), values.join(" | "))
        })
        .collect();
    out.sort();
    out
}

async fn run(row: &Row, path: &str) -> (u16, bool, Vec<(String, String)>) {
    let mut req = Request::builder().method(row.method).uri(path);
    for (name, value) in row.headers {
        req = req.header(*name, *value);
    }
    let svc = tower::Layer::layer(&layer(row.config), service_fn(handler));
    let resp = svc.oneshot(req.body(String::new()).unwrap()).await.unwrap();
    (resp.status().as_u16(), resp.headers().contains_key("x-handler"), cors_headers(resp.headers()))
}

#[tokio::test]
async fn conformance_table() {
    let mut failures = Vec::new();
    for (i, row) in ROWS.iter().enumerate() {
        let got = run(row, row.path).await;
        let mut want: Vec<(String, String)> =
            row.expect.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect();
        want.sort();
        if got != (row.status, row.reaches_handler, want.clone()) {
            failures.push(format!(
                "row {i} ({} {} {:?}):\n  want {} handler={} {want:?}\n  got  {} handler={} {:?}",
                row.config, row.method, row.headers, row.status, row.reaches_handler, got.0, got.1, got.2
            ));
        }
    }
    assert!(failures.is_empty(), "{} of {} rows differ:\n{}", failures.len(), ROWS.len(), failures.join("\n"));
}

/// A handler's own CORS headers are replaced on an allowed origin's response and removed
/// on any other.
#[tokio::test]
async fn handler_cors_headers_are_the_layers() {
    let allowed = Row { path: "/own-cors", ..row("creds", "GET", &[("origin", "http://localhost:8080")], 200, &[]) };
    let (_, _, got) = run(&allowed, allowed.path).await;
    assert!(got.contains(&("access-control-allow-origin".into(), "http://localhost:8080".into())), "{got:?}");
    let refused = Row { path: "/own-cors", ..row("creds", "GET", &[("origin", "https://evil.test")], 200, &[]) };
    let (_, _, got) = run(&refused, refused.path).await;
    assert_eq!(got, vec![("vary".to_owned(), "Origin".to_owned())]);
    // no credentials configured: a handler's Allow-Credentials does not survive either
    let public = Row { path: "/own-cors", ..row("public", "GET", &[("origin", "https://x.test")], 200, &[]) };
    let (_, _, got) = run(&public, public.path).await;
    assert!(!got.iter().any(|(n, _)| n == "access-control-allow-credentials"), "{got:?}");
}

/// `Vary: Origin` is merged with the handler's own `Vary`, never duplicated.
#[tokio::test]
async fn vary_is_merged() {
    let svc = tower::Layer::layer(
        &layer("creds"),
        service_fn(|_req: Request<String>| async {
            let mut resp = Response::new(String::new());
            resp.headers_mut().append("vary", "Accept-Encoding".parse().unwrap());
            Ok::<_, Infallible>(resp)
        }),
    );
    let resp = svc.oneshot(Request::get("/").header("origin", "https://app.example.com").body(String::new()).unwrap());
    let resp = resp.await.unwrap();
    let vary: Vec<_> = resp.headers().get_all("vary").iter().collect();
    assert_eq!(vary, ["Accept-Encoding", "Origin"]);
}
