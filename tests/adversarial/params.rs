//! Adversarial tests: params. A caller sends its own value under a name the gateway injects,
//! spelled the way some common backend still reads as that name (ASP.NET ignores case, PHP
//! folds `.` and spaces to `_` and reads `name[]` as `name`, C stops at a NUL, older Python
//! and Go split on `;`, PHP's `$_REQUEST` and Rails let the body override the query); the
//! handler must only ever see the injected value, or the request is refused. The backends'
//! readings are modelled here, separately from the library's own folding.

use std::convert::Infallible;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::Request;
use http::StatusCode;
use http_body_util::BodyExt;
use proptest::prelude::*;
use serde_json::{Value, json};
use tollgate::params::{ParamInjectionConfig, ParamInjectionLayer, Position, SystemParam};
use tower::{Layer, ServiceExt, service_fn};

use crate::http_support::serve;

// ---------------------------------------------------------------------------------------
// how common backends read a query string

fn decode(text: &str) -> String {
    form_urlencoded::parse(format!("{text}=").as_bytes()).next().map(|(k, _)| k.into_owned()).unwrap_or_default()
}

fn pairs<'a>(query: &'a str, separators: &'a [char]) -> impl Iterator<Item = (String, String)> + 'a {
    query.split(separators).filter(|s| !s.is_empty()).map(|s| {
        let (k, v) = s.split_once('=').unwrap_or((s, ""));
        (decode(k), decode(v))
    })
}

/// ASP.NET: `&` only, names compared ignoring case (as Java's `equalsIgnoreCase`: a
/// character matches when its upper or lower case does).
fn aspnet(query: &str, name: &str) -> Vec<String> {
    let same = |a: &str| {
        a.chars().count() == name.chars().count()
            && a.chars()
                .zip(name.chars())
                .all(|(x, y)| x.to_uppercase().eq(y.to_uppercase()) || x.to_lowercase().eq(y.to_lowercase()))
    };
    pairs(query, &['&']).filter(|(k, _)| same(k)).map(|(_, v)| v).collect()
}

/// PHP: `&` only; a name stops at a NUL, loses its leading spaces, has `.` and spaces turned
/// into `_`, and `name[...]` is the array `name`.
fn php(query: &str, name: &str) -> Vec<String> {
    let fold = |k: &str| {
        let k = k.split('\0').next().unwrap_or("").trim_start_matches(' ');
        let k = match (k.find('['), k.find(']')) {
            (Some(open), Some(close)) if open > 0 && close > open => &k[..open],
            _ => k,
        };
        k.replace(['.', ' '], "_")
    };
    pairs(query, &['&']).filter(|(k, _)| fold(k) == name).map(|(_, v)| v).collect()
}

/// Python before 3.10 (`parse_qsl`) and Go before 1.17: `&` and `;` both separate pairs.
fn legacy(query: &str, name: &str) -> Vec<String> {
    pairs(query, &['&', ';']).filter(|(k, _)| k == name).map(|(_, v)| v).collect()
}

/// Every backend reading of `name` in `query` sees exactly `expected`.
fn only(query: &str, name: &str, expected: &str) {
    for (backend, seen) in
        [("asp.net", aspnet(query, name)), ("php", php(query, name)), ("legacy", legacy(query, name))]
    {
        assert_eq!(seen, [expected], "{backend} reads {name} from {query:?}");
    }
}

// ---------------------------------------------------------------------------------------
// the app: the client IP injected into the query as `client_ip`, and an echo handler

async fn echo(req: Request) -> axum::Json<Value> {
    let (parts, body) = req.into_parts();
    let body: Bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    let length = parts.headers.get("content-length").map(|v| v.to_str().unwrap().to_owned());
    axum::Json(json!({
        "query": parts.uri.query().unwrap_or(""),
        "body": String::from_utf8_lossy(&body),
        "length": length,
        "received": body.len(),
    }))
}

fn injecting() -> ParamInjectionConfig {
    ParamInjectionConfig::new().system(Position::Query, "client_ip", SystemParam::ClientIp)
}

async fn app() -> std::net::SocketAddr {
    let injection = ParamInjectionLayer::from_config(&injecting()).unwrap();
    serve(Router::new().fallback(axum::routing::any(echo)).layer(injection)).await
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// The issue's spellings and a few more, each as a query pair or field name.
const SPELLINGS: [&str; 14] = [
    "Client_IP",
    "CLIENT_IP",
    "client-ip",
    "client.ip",
    "client+ip",
    "client%20ip",
    "client_ip[]",
    "client_ip%5B%5D",
    "client_ip[x]",
    "client_ip%00",
    "client_ip%00x",
    "%63lient_ip",
    "+client_ip",
    "cl%C4%B1ent_ip",
];

#[tokio::test]
async fn query_spellings_of_an_injected_name_never_reach_the_handler() {
    let addr = app().await;
    let mut queries: Vec<String> = SPELLINGS.iter().map(|s| format!("a=2&{s}=6.6.6.6")).collect();
    queries.push("a=2;client_ip=6.6.6.6".to_owned());
    queries.push("a=2&b=1;client_ip=6.6.6.6".to_owned());
    queries.push("a=2&client_ip=6.6.6.6&CLIENT-IP=7.7.7.7".to_owned());
    for query in queries {
        let resp = client().get(format!("http://{addr}/p?{query}")).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{query}");
        let seen: Value = resp.json().await.unwrap();
        let seen = seen["query"].as_str().unwrap();
        only(seen, "client_ip", "127.0.0.1");
        assert!(seen.starts_with("a=2&") || seen.starts_with("client_ip="), "{query} became {seen}");
    }
}

#[tokio::test]
async fn body_fields_named_like_an_injected_query_parameter_are_refused() {
    let addr = app().await;
    let post = |content_type: &'static str, body: String| {
        client().post(format!("http://{addr}/p?a=1")).header("content-type", content_type).body(body).send()
    };
    let mut forms: Vec<String> = SPELLINGS.iter().map(|s| format!("a=1&{s}=6.6.6.6")).collect();
    forms.extend(["client_ip=6.6.6.6".to_owned(), "a=1;client_ip=6.6.6.6".to_owned()]);
    for form in forms {
        let resp = post("application/x-www-form-urlencoded; charset=UTF-8", form.clone()).await.unwrap();
        assert_eq!(resp.status(), 400, "{form}");
        let problem: Value = resp.json().await.unwrap();
        assert_eq!(problem["code"], "ReservedParameter", "{form}");
        assert_eq!(problem["detail"], "form client_ip: is set by the gateway in the query; the body must not carry it");
    }
    for body in [r#"{"client_ip":"6.6.6.6"}"#, r#"{"a":1,"Client-IP":"6.6.6.6"}"#, r#"{"client\u005fip":1}"#] {
        let resp = post("application/json", body.to_owned()).await.unwrap();
        assert_eq!(resp.status(), 400, "{body}");
        assert_eq!(resp.json::<Value>().await.unwrap()["code"], "ReservedParameter", "{body}");
    }
    let resp = post("application/vnd.api+json", "{\"client_ip\": 1".to_owned()).await.unwrap();
    assert_eq!(resp.json::<Value>().await.unwrap()["code"], "InvalidRequestBody", "unreadable JSON is not waved on");
    let multipart = "--XyZ\r\nContent-Disposition: form-data; name=\"Client.IP\"\r\n\r\n6.6.6.6\r\n--XyZ--\r\n";
    let resp = post("multipart/form-data; boundary=XyZ", multipart.to_owned()).await.unwrap();
    assert_eq!(resp.json::<Value>().await.unwrap()["code"], "ReservedParameter");
    // two Content-Types: backends disagree on which counts, so the body is read as either
    let resp = client()
        .post(format!("http://{addr}/p"))
        .header("content-type", "text/plain")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("client_ip=6.6.6.6")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
}

#[tokio::test]
async fn honest_bodies_pass_byte_for_byte() {
    let addr = app().await;
    for (content_type, body) in [
        ("application/x-www-form-urlencoded", "a=1&client_ipv6=x&name=client_ip"),
        ("application/json", r#"{"a":{"client_ip":"nested"},"b":[1,2]}"#),
        (
            "multipart/form-data; boundary=B",
            "--B\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nx\r\n--B--\r\n",
        ),
        ("text/plain", "client_ip=6.6.6.6"),
    ] {
        let resp = client()
            .post(format!("http://{addr}/p?a=1"))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{content_type}");
        let seen: Value = resp.json().await.unwrap();
        assert_eq!(seen["body"], body);
        assert_eq!(seen["length"], body.len().to_string());
        assert_eq!(seen["query"], "a=1&client_ip=127.0.0.1");
    }
}

#[test]
fn names_a_backend_reads_as_one_cannot_both_be_injected() {
    let twice = ParamInjectionConfig::new().constant(Position::Query, "client_ip", "a").constant(
        Position::Query,
        "Client-IP",
        "b",
    );
    let err = ParamInjectionLayer::from_config(&twice).unwrap_err();
    assert_eq!(err.field, "constants, system, mappings");
}

async fn empty<B>(_req: http::Request<B>) -> Result<http::Response<Body>, Infallible> {
    Ok(http::Response::new(Body::empty()))
}

async fn query_of<B>(req: http::Request<B>) -> Result<http::Response<Body>, Infallible> {
    Ok(http::Response::new(Body::from(req.uri().query().unwrap_or("").to_owned())))
}

#[tokio::test]
async fn an_unresolved_client_ip_is_refused_not_left_absent() {
    let svc = ParamInjectionLayer::from_config(&injecting()).unwrap().layer(service_fn(empty));
    // no peer address, no ClientIp: the gateway does not know who is calling
    let resp =
        svc.clone().oneshot(http::Request::get("/p?client_ip=6.6.6.6").body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    let problem: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(problem["code"], "IpUnresolved");
    // a header target too
    let header = ParamInjectionLayer::from_config(&ParamInjectionConfig::new().system(
        Position::Header,
        "x-client-ip",
        SystemParam::ClientIp,
    ))
    .unwrap()
    .layer(service_fn(empty));
    let resp = header.oneshot(http::Request::get("/").header("x-client-ip", "6.6.6.6").body(Body::empty()).unwrap());
    assert_eq!(resp.await.unwrap().status(), StatusCode::FORBIDDEN);
}

// ---------------------------------------------------------------------------------------
// property: any injected name, any spelling a backend folds back to it

/// A spelling of `name` (letters and `_`) that a backend above reads as `name`.
fn spelling() -> impl Strategy<Value = (String, String)> {
    let word = "[a-z]{1,5}";
    (proptest::collection::vec(word, 1..4), any::<u64>(), 0..6u8).prop_map(|(words, bits, variant)| {
        let name = words.join("_");
        let mut bit = 0;
        let mut flip = || {
            bit = (bit + 1) % 64;
            bits >> bit & 1 == 1
        };
        let cased: String = name
            .chars()
            .map(|c| match (c, flip()) {
                ('_', true) => ['-', '.', '+'][(bits % 3) as usize],
                ('_', false) => '_',
                (c, true) => c.to_ascii_uppercase(),
                (c, false) => c,
            })
            .collect();
        let escaped: String = cased
            .chars()
            .map(|c| if flip() && c.is_ascii_alphabetic() { format!("%{:02X}", c as u32) } else { c.to_string() })
            .collect();
        let spelled = match variant {
            0 => escaped,
            1 => format!("{escaped}[]"),
            2 => format!("{escaped}%00tail"),
            3 => format!("x=1;{escaped}"),
            4 => format!("%20{escaped}"),
            _ => format!("{escaped}[k]"),
        };
        (name, spelled)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn no_spelling_of_an_injected_name_reaches_the_handler((name, spelled) in spelling()) {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let svc = ParamInjectionLayer::from_config(&ParamInjectionConfig::new().constant(Position::Query, &name, "gw"))
            .unwrap()
            .layer(service_fn(query_of));
        let uri = format!("/p?{spelled}=evil&other=1");
        let resp = rt.block_on(svc.oneshot(http::Request::get(uri.as_str()).body(Body::empty()).unwrap())).unwrap();
        let seen = rt.block_on(resp.into_body().collect()).unwrap().to_bytes();
        let seen = std::str::from_utf8(&seen).unwrap();
        only(seen, &name, "gw");
    }
}

#[tokio::test]
async fn through_the_gateway_an_unknown_client_is_refused_and_a_known_one_injected() {
    use tollgate::gateway::{Format, Gateway};
    let gateway = Gateway::from_config(
        r#"
apis:
  - path: /
    params:
      injection:
        system: [{param: client_ip, name: client_ip, position: query}]
"#,
        Format::Yaml,
    )
    .unwrap();
    let svc = gateway.into_layer().layer(service_fn(query_of));
    // no connection address reached the gateway: nobody knows who is calling
    let resp = svc.clone().oneshot(http::Request::get("/?client_ip=6.6.6.6").body(Body::empty()).unwrap()).await;
    assert_eq!(resp.unwrap().status(), StatusCode::FORBIDDEN);
    let mut req = http::Request::get("/?CLIENT_IP=6.6.6.6").body(Body::empty()).unwrap();
    req.extensions_mut().insert(tollgate::PeerAddr("192.0.2.7:4000".parse().unwrap()));
    let resp = svc.oneshot(req).await.unwrap();
    assert_eq!(resp.into_body().collect().await.unwrap().to_bytes(), "client_ip=192.0.2.7");
}

// ---------------------------------------------------------------------------------------
// validation: a checked name sent under another spelling

/// Validation checked `page` by its exact name while a lenient backend also read `Page=`,
/// `page[]=` (ASP.NET, PHP) or `x=1;page=` (older Python and Go): `?page=1&Page=-5` passed
/// with `page >= 1` checked and the backend reading -5. A declared name sent under another
/// spelling a backend reads as it is now refused.
#[tokio::test]
async fn a_validated_name_cannot_be_shadowed_by_another_spelling() {
    use tollgate::params::{Param, ParamValidationConfig, ParamValidationLayer};
    let config =
        ParamValidationConfig::new().param(Param::query("page").int().min(1)).param(Param::form("amount").int().min(1));
    let validation = ParamValidationLayer::from_config(&config).unwrap();
    let app = Router::new()
        .route("/", axum::routing::any(|req: Request| async move { req.uri().query().unwrap_or("").to_owned() }))
        .layer(validation);
    let addr = serve(app).await;
    let client = reqwest::Client::new();
    let get = |q: &'static str| client.get(format!("http://{addr}/?{q}")).send();
    assert_eq!(get("page=2").await.unwrap().status(), 200);
    for q in ["page=2&Page=-5", "page=2&page[]=-5", "page=2&x=1;page=-5", "PAGE=-5", "page=2&pa%67e%5B%5D=-5"] {
        let resp = get(q).await.unwrap();
        assert_eq!(resp.status(), 400, "{q} reached the handler");
    }
    let post = |body: &'static str| {
        client
            .post(format!("http://{addr}/?page=2"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    assert_eq!(post("amount=10").await.unwrap().status(), 200);
    for body in ["amount=10&Amount=-1", "amount=10&amount[x]=-1", "note=a;amount=-1&amount=10"] {
        assert_eq!(post(body).await.unwrap().status(), 400, "{body} reached the handler");
    }
    // other names may look alike without being read as a declared one
    assert_eq!(get("page=2&pages=-5&page_size=3").await.unwrap().status(), 200);
}
