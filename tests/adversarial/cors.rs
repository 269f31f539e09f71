//! Adversarial tests: CORS origins a hostile page can send. An origin is allowed only when the
//! whole of it matches an entry; nothing is matched by prefix, suffix or substring.

use axum::{Router, routing::get};
use tollgate::cors::CorsLayer;

use crate::http_support::serve;

/// The `Access-Control-Allow-Origin` a simple GET from `origin` gets.
async fn allowed(addr: std::net::SocketAddr, origin: &str) -> Option<String> {
    let resp = reqwest::Client::new().get(format!("http://{addr}/")).header("origin", origin).send().await.unwrap();
    resp.headers().get("access-control-allow-origin").map(|v| v.to_str().unwrap().to_owned())
}

/// A regex entry anchored at both ends, with a top-level alternation: before, `^a|b$` left the
/// first branch unanchored at its end and the second at its start, so origins that merely
/// began with one allowed origin, or ended with the other, were granted (with credentials).
#[tokio::test]
async fn an_anchored_alternation_matches_whole_origins_only() {
    let cors = CorsLayer::new()
        .allow_origin([r"^https://app\.example\.com|https://admin\.example\.com$"])
        .unwrap()
        .allow_credentials(true);
    let addr = serve(Router::new().route("/", get(|| async { "ok" })).layer(cors)).await;

    for origin in ["https://app.example.com", "https://admin.example.com"] {
        assert_eq!(allowed(addr, origin).await.as_deref(), Some(origin), "{origin}");
    }
    for origin in [
        "https://app.example.com.evil.net",
        "https://app.example.comevil.net",
        "https://evil-https://admin.example.com",
        "https://xadmin.example.com",
        "http://evil.net#https://admin.example.com",
        "null",
    ] {
        assert_eq!(allowed(addr, origin).await, None, "{origin} was granted");
    }
}

/// Wildcard subdomains and exact origins against look-alikes.
#[tokio::test]
async fn look_alike_origins_are_not_granted() {
    let cors =
        CorsLayer::new().allow_origin(["https://*.example.com", "https://partner.io"]).unwrap().allow_credentials(true);
    let addr = serve(Router::new().route("/", get(|| async { "ok" })).layer(cors)).await;
    assert_eq!(allowed(addr, "https://a.example.com").await.as_deref(), Some("https://a.example.com"));
    for origin in [
        "https://example.com",
        "https://evil-example.com",
        "https://example.com.evil.net",
        "https://a.example.com.",
        "https://a.example.com:8443",
        "http://a.example.com",
        "https://partner.io.evil.net",
        "https://partner.io@evil.net",
        "https://evilpartner.io",
        "https://partner.io/",
    ] {
        assert_eq!(allowed(addr, origin).await, None, "{origin} was granted");
    }
}
