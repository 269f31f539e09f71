//! Adversarial tests: gateway routing. `/admin/` is allow-listed for an address the test
//! client does not have, `/` is open; a path that a backend reads as `/admin/...` but the
//! gateway could match to `/` would reach the admin handler unchecked. Paths are written
//! on the wire byte for byte (an HTTP client library would normalise them first).

use std::net::SocketAddr;

use axum::Router;
use axum::extract::Request;
use axum::routing::any;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tollgate::gateway::{Format, Gateway};

use crate::http_support::serve;

const CONFIG: &str = r#"
apis:
  - path: /admin/
    ip_access: {type: white_list, blocks: "10.0.0.1"}
  - path: /users/{id}
  - path: /
"#;

/// The handler answers 200 with the path it was given.
async fn gateway(extra: &str) -> SocketAddr {
    let gateway = Gateway::from_config(&format!("{extra}{CONFIG}"), Format::Yaml).unwrap();
    let app = Router::new().fallback(any(|req: Request| async move { req.uri().path().to_owned() }));
    serve(app.layer(gateway.into_layer())).await
}

/// Sends `GET {target}` exactly as written; the status and body of the answer.
async fn raw_get(addr: SocketAddr, target: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!("GET {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = answer.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    (status, body)
}

#[tokio::test]
async fn non_normal_paths_never_reach_the_open_api() {
    let addr = gateway("").await;
    assert_eq!(raw_get(addr, "/admin/users").await.0, 403, "the allow list holds");
    assert_eq!(raw_get(addr, "/users").await, (200, "/users".to_owned()));
    for path in [
        "//admin/users",
        "/%61dmin/users",
        "/x/../admin/users",
        "/./admin/users",
        "/admin%2Fusers",
        "/admin%2fusers",
        "/admin%5Cusers",
        "/admin\\users",
        "/%2e/admin/users",
        "/x/%2E%2E/admin/users",
        "/admin;x/users",
        "/..;/admin/users",
        "/x/..%2Fadmin/users",
        "/admin%00/users",
        "/admin%zz",
        "/admin%",
        "/../admin/users",
        "///admin/users",
    ] {
        let (status, body) = raw_get(addr, path).await;
        assert!(status == 400 || status == 403, "{path} answered {status} {body}");
        if status == 400 && body.contains("code") {
            assert!(body.contains("InvalidPath"), "{path}: {body}");
        }
    }
}

#[tokio::test]
async fn the_refusal_is_precise() {
    let addr = gateway("").await;
    let (status, body) = raw_get(addr, "/x/../admin/users").await;
    assert_eq!(status, 400);
    let problem: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(problem["code"], "InvalidPath");
    assert_eq!(problem["detail"], "the path is not in normal form: it holds a '.' or '..' segment");
}

#[tokio::test]
async fn normal_paths_route_and_reach_the_handler_as_sent() {
    let addr = gateway("").await;
    for path in ["/", "/users/7", "/users/%C3%A9", "/a%20b/", "/~u/a-b_c.d", "/admin"] {
        assert_eq!(raw_get(addr, path).await, (200, path.to_owned()), "{path}");
    }
    // matching is by bytes, case-sensitive: a case-insensitive backend needs `~*`
    assert_eq!(raw_get(addr, "/Admin/users").await.0, 200);
}

#[tokio::test]
async fn encoded_slashes_pass_only_when_allowed_and_then_as_sent() {
    let addr = gateway("allow_encoded_slashes: true\n").await;
    assert_eq!(raw_get(addr, "/admin%2Fusers").await, (200, "/admin%2Fusers".to_owned()));
    assert_eq!(raw_get(addr, "/x/../admin/users").await.0, 400, "the other rules still hold");
}
