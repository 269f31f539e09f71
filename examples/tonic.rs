//! A gRPC service (tonic) behind tollgate: IP access control, flow control and a signature
//! check on the request's metadata (Tencent API Gateway's key pair), every refusal rendered
//! as a gRPC status. Serves on 127.0.0.1:50051 (`--listen ADDR` to change), then calls
//! itself as a client: signed, unsigned, and past the limit.
//!
//! ```text
//! cargo run --example tonic --features tonic
//! ```

#[path = "../tests/support/greeter.rs"]
mod greeter;

use std::time::Duration;

use tollgate::flow::{BasicLimits, FlowControlLayer};
use tollgate::prelude::*;
use tollgate::signature::tencent_apigw::TencentApiGateway;
use tollgate::{ErrorStyle, RequestBody};
use tonic::body::Body;
use tower::ServiceBuilder;

const KEY_ID: &str = "AKIDdemo";
const SECRET: &str = "tonic-demo-secret";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let listen = std::env::args().skip_while(|a| a != "--listen").nth(1).unwrap_or_else(|| "127.0.0.1:50051".into());
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    let addr = listener.local_addr()?;

    // Outermost first, as in the canonical stack; every refusal is a gRPC status.
    let layers = ServiceBuilder::new()
        .layer(RequestIdLayer::new())
        .layer(ClientIpLayer::new())
        .layer(IpAccessLayer::allow(["127.0.0.1", "::1"])?.error_style(ErrorStyle::Grpc))
        .layer(FlowControlLayer::new(BasicLimits::new(3, Duration::from_secs(60), None)?).error_style(ErrorStyle::Grpc))
        .layer(
            SignatureLayer::new(TencentApiGateway::new(), MemorySecretStore::new().with_key(KEY_ID, SECRET))
                .error_style(ErrorStyle::Grpc),
        );
    let server = tonic::transport::Server::builder()
        .layer(layers)
        .add_service(greeter::Greeter)
        .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener));
    let server = tokio::spawn(server);
    println!("listening on http://{addr}");

    let channel = tonic::transport::Channel::from_shared(format!("http://{addr}"))?.connect().await?;
    // the client signs each call's metadata with the key pair, as Tencent's gateway expects
    let signed = ServiceBuilder::new()
        .layer(SigningLayer::new(TencentApiGateway::new(), KEY_ID, SECRET))
        .map_request(|r: http::Request<RequestBody<Body>>| r.map(Body::new))
        .service(channel.clone());

    println!("unsigned: {:?}", greeter::say_hello(channel.clone(), "anonymous").await.map_err(|s| s.code()));
    // 3 calls a minute to the API, and the unsigned one counted: flow control by API runs
    // before the signature check (cheap checks first), so the third signed call is refused
    println!("(the API allows 3 calls a minute; flow control by API counts before the signature check)");
    for i in 1..=4 {
        match greeter::say_hello(signed.clone(), "alice").await {
            Ok(reply) => println!("signed #{i}: {}", reply.message),
            Err(status) => println!("signed #{i}: {:?} {}", status.code(), status.message()),
        }
    }
    println!("serving until Ctrl-C");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        result = server => result??,
    }
    Ok(())
}
