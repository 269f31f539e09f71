//! Loopback HTTP plumbing shared by the integration tests.

use std::net::{IpAddr, SocketAddr};

/// Serves `app` on an ephemeral loopback port, with the peer address in each request's
/// extensions; the server stops with the test's runtime.
pub(crate) async fn serve(app: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await.unwrap();
    });
    addr
}

/// A client whose connections come from `source` (any 127.0.0.0/8 address works on Linux
/// loopback, which lets one machine play several peers).
#[allow(dead_code)] // not every test binary that includes this module needs it
pub(crate) fn client_from(source: &str) -> reqwest::Client {
    reqwest::Client::builder().local_address(source.parse::<IpAddr>().unwrap()).no_proxy().build().unwrap()
}
