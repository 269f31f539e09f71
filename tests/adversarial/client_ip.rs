//! Adversarial tests: the client's address behind a trusted proxy. The test client connects
//! from 127.0.0.1 and plays the trusted proxy, forwarding what a hostile client sent with its
//! own hop appended, as nginx's `$proxy_add_x_forwarded_for` does. Whatever the client writes,
//! no policy may read the proxy's own address as the client's.

use axum::{Json, Router, extract::Extension, routing::get};
use http::HeaderValue;
use serde_json::{Value, json};
use tollgate::gateway::{Format, Gateway};
use tollgate::prelude::*;

use crate::http_support::{client_from, serve};

async fn whoami(ip: Option<Extension<ClientIp>>) -> Json<Value> {
    Json(json!({"client_ip": ip.map(|Extension(c)| c.ip().to_string())}))
}

/// `layer` behind a `ClientIpLayer` that trusts loopback (the test client) as its proxy.
fn behind_proxy(layer: IpAccessLayer, header: ForwardingHeader) -> Router {
    let client_ip = ClientIpLayer::new().trust_proxies(["127.0.0.0/8"]).unwrap().forwarding_header(header);
    Router::new().route("/", get(whoami)).layer(layer).layer(client_ip)
}

/// Sends `value` in `name` from the trusted proxy; the status and the body's `code`.
async fn send(addr: std::net::SocketAddr, name: &str, value: &[u8]) -> (u16, Value) {
    let resp = client_from("127.0.0.1")
        .get(format!("http://{addr}/"))
        .header(name, HeaderValue::from_bytes(value).unwrap())
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// The proxy appended the real client (6.6.6.6) after the client's own unreadable entry: the
/// client is 6.6.6.6, so a deny list holding it refuses. Before, the whole line was dropped as
/// non-UTF-8 and the client read as the proxy (127.0.0.1), passing the deny list.
#[tokio::test]
async fn a_non_utf8_entry_does_not_hide_the_hop_the_proxy_appended() {
    let deny = IpAccessLayer::deny(["6.6.6.6"]).unwrap();
    let addr = serve(behind_proxy(deny, ForwardingHeader::XForwardedFor)).await;
    let (status, body) = send(addr, "x-forwarded-for", b"\xff, 6.6.6.6").await;
    assert_eq!((status, body["code"].as_str()), (403, Some("IpAccessDenied")), "{body}");

    // and an honest client next to it is read as itself
    let open = IpAccessLayer::deny(["203.0.113.0/24"]).unwrap();
    let addr = serve(behind_proxy(open, ForwardingHeader::XForwardedFor)).await;
    let (status, body) = send(addr, "x-forwarded-for", b"\xff, 6.6.6.6").await;
    assert_eq!((status, body["client_ip"].as_str()), (200, Some("6.6.6.6")), "{body}");
}

/// When the hop that would be the client is unreadable, the client is unresolved and refused:
/// an allow list of the proxy's own network must not admit it.
#[tokio::test]
async fn an_unreadable_client_hop_is_refused_not_read_as_the_proxy() {
    let allow_proxy_net = || IpAccessLayer::allow(["127.0.0.0/8"]).unwrap();
    let addr = serve(behind_proxy(allow_proxy_net(), ForwardingHeader::XForwardedFor)).await;
    for value in [&b"\xff"[..], b"6.6.6.6, \xff", b"unknown", b"6.6.6.6,", b"6.6.6.6, 1.2.3.4:x"] {
        let (status, body) = send(addr, "x-forwarded-for", value).await;
        assert_eq!((status, body["code"].as_str()), (403, Some("IpUnresolved")), "{value:?}: {body}");
    }

    // Forwarded: an unterminated quote swallows the element the proxy appended
    let addr = serve(behind_proxy(allow_proxy_net(), ForwardingHeader::Forwarded)).await;
    for value in [&br#"for="x, for=6.6.6.6"#[..], br#"for=6.6.6.6, for="[::1"#, b"for=\xff", b"for=_hidden"] {
        let (status, body) = send(addr, "forwarded", value).await;
        assert_eq!((status, body["code"].as_str()), (403, Some("IpUnresolved")), "{value:?}: {body}");
    }
    // the same header with the proxy's element well formed still resolves
    let (status, body) = send(addr, "forwarded", br#"for="[2001:db8::7]:80", for=127.0.0.9"#).await;
    assert_eq!(status, 403, "2001:db8::7 is not in the allow list: {body}");
    assert_eq!(body["code"], "IpAccessDenied");
}

/// What every policy reads behind an unresolved chain is nothing, not the proxy: before,
/// `ClientIp::from_extensions` fell back to the peer, which is the proxy.
#[tokio::test]
async fn the_handler_never_sees_the_proxy_as_the_client() {
    async fn as_policies_read_it(req: axum::extract::Request) -> Json<Value> {
        let ip = ClientIp::from_extensions(req.extensions()).map(|c| c.ip().to_string());
        Json(json!({"client_ip": ip}))
    }
    let client_ip = ClientIpLayer::new().trust_proxies(["127.0.0.0/8"]).unwrap();
    let app = Router::new().route("/", get(as_policies_read_it)).layer(client_ip);
    let addr = serve(app).await;
    let (status, body) = send(addr, "x-forwarded-for", b"\xff").await;
    assert_eq!((status, &body["client_ip"]), (200, &Value::Null), "{body}");
}

/// The same through a gateway read from configuration: trusted proxies and an allow list of
/// the proxy's network.
#[tokio::test]
async fn a_gateway_refuses_an_unresolved_client() {
    let config = r#"
trusted_proxies: [127.0.0.0/8]
apis:
  - path: /
    ip_access: {type: white_list, blocks: "127.0.0.0/8"}
"#;
    let gateway = Gateway::from_config(config, Format::Yaml).unwrap();
    let app = Router::new().route("/", get(whoami)).layer(gateway.into_layer());
    let addr = serve(app).await;
    let (status, _) = send(addr, "x-forwarded-for", b"\xff").await;
    assert_eq!(status, 403);
    let (status, body) = send(addr, "x-forwarded-for", b"127.0.0.8").await;
    assert_eq!((status, body["client_ip"].as_str()), (200, Some("127.0.0.8")), "{body}");
}
