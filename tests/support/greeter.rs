//! A gRPC service written by hand, so no `protoc` is needed: `tollgate.Greeter/SayHello`
//! with prost messages, its server side as a plain tower service (what tonic's code
//! generator would write) and a client call. Shared by `examples/tonic.rs` and
//! `tests/tonic.rs`.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::uri::PathAndQuery;
use tollgate::Caller;
use tonic::body::Body;
use tonic::client::GrpcService;
use tonic_prost::ProstCodec;

/// The request message.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct HelloRequest {
    /// Who to greet.
    #[prost(string, tag = "1")]
    pub(crate) name: String,
}

/// The reply message.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct HelloReply {
    /// The greeting, naming the authenticated caller.
    #[prost(string, tag = "1")]
    pub(crate) message: String,
}

/// The service's path.
pub(crate) const SAY_HELLO: &str = "/tollgate.Greeter/SayHello";

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// The Greeter service.
#[derive(Debug, Clone, Default)]
pub(crate) struct Greeter;

impl tonic::server::NamedService for Greeter {
    const NAME: &'static str = "tollgate.Greeter";
}

struct SayHello;

impl tonic::server::UnaryService<HelloRequest> for SayHello {
    type Response = HelloReply;
    type Future = BoxFuture<Result<tonic::Response<HelloReply>, tonic::Status>>;

    fn call(&mut self, request: tonic::Request<HelloRequest>) -> Self::Future {
        // what the signature layer verified travels in the request's extensions
        let caller = request.extensions().get::<Caller>().map_or("nobody".to_owned(), |c| c.key_id().to_owned());
        let name = request.into_inner().name;
        Box::pin(async move {
            Ok(tonic::Response::new(HelloReply { message: format!("hello {name}, signed by {caller}") }))
        })
    }
}

impl tower::Service<http::Request<Body>> for Greeter {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        Box::pin(async move {
            if request.uri().path() != SAY_HELLO {
                return Ok(tonic::Status::unimplemented("no such method").into_http());
            }
            let mut grpc = tonic::server::Grpc::new(ProstCodec::<HelloReply, HelloRequest>::default());
            Ok(grpc.unary(SayHello, request).await)
        })
    }
}

/// Calls `SayHello` over `channel` (any gRPC transport: a tonic `Channel`, or one wrapped
/// in a signing layer).
pub(crate) async fn say_hello<T>(channel: T, name: &str) -> Result<HelloReply, tonic::Status>
where
    T: GrpcService<Body>,
    T::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    T::ResponseBody: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    <T::ResponseBody as http_body::Body>::Error: Into<Box<dyn std::error::Error + Send + Sync>> + Send,
{
    say_hello_with(channel, name, &[]).await
}

/// Calls `SayHello` with extra metadata (ASCII keys and values).
#[allow(dead_code)] // the example does not send metadata
pub(crate) async fn say_hello_with<T>(
    channel: T,
    name: &str,
    metadata: &[(&'static str, &'static str)],
) -> Result<HelloReply, tonic::Status>
where
    T: GrpcService<Body>,
    T::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    T::ResponseBody: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    <T::ResponseBody as http_body::Body>::Error: Into<Box<dyn std::error::Error + Send + Sync>> + Send,
{
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.map_err(|e| tonic::Status::unknown(format!("not ready: {}", e.into())))?;
    let mut request = tonic::Request::new(HelloRequest { name: name.to_owned() });
    for (key, value) in metadata {
        request.metadata_mut().insert(*key, tonic::metadata::MetadataValue::from_static(value));
    }
    let codec = ProstCodec::<HelloRequest, HelloReply>::default();
    grpc.unary(request, PathAndQuery::from_static(SAY_HELLO), codec).await.map(tonic::Response::into_inner)
}
