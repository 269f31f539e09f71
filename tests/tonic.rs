//! A tonic server behind IP access, flow control and a metadata signature check, called by
//! a real tonic client over HTTP/2 on loopback: each refusal arrives as its gRPC status.

#[path = "support/greeter.rs"]
mod greeter;

use std::net::SocketAddr;
use std::time::Duration;

use tollgate::flow::{BasicLimits, FlowControlLayer};
use tollgate::params::{Param, ParamValidationConfig};
use tollgate::prelude::*;
use tollgate::signature::tencent_apigw::TencentApiGateway;
use tollgate::{ErrorStyle, RequestBody};
use tonic::Code;
use tonic::body::Body;
use tower::ServiceBuilder;

const KEY_ID: &str = "AKIDtest";
const SECRET: &str = "tonic-test-secret";

async fn serve(allow: &str, limit: u32) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let layers = ServiceBuilder::new()
        .layer(RequestIdLayer::new())
        .layer(ClientIpLayer::new())
        .layer(IpAccessLayer::allow([allow]).unwrap().error_style(ErrorStyle::Grpc))
        .layer(
            FlowControlLayer::new(BasicLimits::new(limit, Duration::from_secs(3_600), None).unwrap())
                .error_style(ErrorStyle::Grpc),
        )
        .layer(
            SignatureLayer::new(TencentApiGateway::new(), MemorySecretStore::new().with_key(KEY_ID, SECRET))
                .error_style(ErrorStyle::Grpc),
        )
        // metadata is headers: an optional `x-tenant` must be an integer
        .layer(
            ParamValidationLayer::from_config(&ParamValidationConfig::new().param(Param::header("x-tenant").int()))
                .unwrap()
                .error_style(ErrorStyle::Grpc),
        );
    let server = tonic::transport::Server::builder()
        .layer(layers)
        .add_service(greeter::Greeter)
        .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener));
    tokio::spawn(server);
    addr
}

async fn channel(addr: SocketAddr) -> tonic::transport::Channel {
    tonic::transport::Channel::from_shared(format!("http://{addr}")).unwrap().connect().await.unwrap()
}

fn signed(
    channel: tonic::transport::Channel,
    secret: &str,
) -> impl tonic::client::GrpcService<
    Body,
    Error = impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ResponseBody = impl http_body::Body<
        Data = bytes::Bytes,
        Error = impl Into<Box<dyn std::error::Error + Send + Sync>> + Send,
    > + Send
                   + 'static,
> + Clone {
    ServiceBuilder::new()
        .layer(SigningLayer::new(TencentApiGateway::new(), KEY_ID, secret.to_owned()))
        .map_request(|r: http::Request<RequestBody<Body>>| r.map(Body::new))
        .service(channel)
}

#[tokio::test]
async fn a_signed_call_passes_and_names_its_caller() {
    let addr = serve("127.0.0.1", 100).await;
    let reply = greeter::say_hello(signed(channel(addr).await, SECRET), "alice").await.unwrap();
    assert_eq!(reply.message, "hello alice, signed by AKIDtest");
}

#[tokio::test]
async fn unsigned_and_forged_calls_are_unauthenticated() {
    let addr = serve("127.0.0.1", 100).await;
    let unsigned = greeter::say_hello(channel(addr).await, "mallory").await.unwrap_err();
    assert_eq!(unsigned.code(), Code::Unauthenticated, "{unsigned:?}");
    let forged = greeter::say_hello(signed(channel(addr).await, "not-the-secret"), "mallory").await.unwrap_err();
    assert_eq!(forged.code(), Code::Unauthenticated, "{forged:?}");
    assert!(!forged.message().is_empty());
}

#[tokio::test]
async fn a_denied_address_is_permission_denied() {
    let addr = serve("10.0.0.0/8", 100).await;
    let denied = greeter::say_hello(signed(channel(addr).await, SECRET), "alice").await.unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied, "{denied:?}");
}

#[tokio::test]
async fn past_the_limit_is_resource_exhausted() {
    let addr = serve("127.0.0.1", 2).await;
    let client = signed(channel(addr).await, SECRET);
    for _ in 0..2 {
        greeter::say_hello(client.clone(), "alice").await.unwrap();
    }
    let limited = greeter::say_hello(client, "alice").await.unwrap_err();
    assert_eq!(limited.code(), Code::ResourceExhausted, "{limited:?}");
}

#[tokio::test]
async fn malformed_metadata_is_invalid_argument() {
    let addr = serve("127.0.0.1", 100).await;
    let client = signed(channel(addr).await, SECRET);
    let ok = greeter::say_hello_with(client.clone(), "alice", &[("x-tenant", "42")]).await.unwrap();
    assert_eq!(ok.message, "hello alice, signed by AKIDtest");
    let bad = greeter::say_hello_with(client, "alice", &[("x-tenant", "forty-two")]).await.unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument, "{bad:?}");
    assert!(bad.message().contains("x-tenant"), "{}", bad.message());
}
