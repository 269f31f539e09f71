//! Bodies: the response body every policy returns, and buffering for the few policies that
//! must read the request body.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::CONTENT_LENGTH;
use http::{Request, Response, StatusCode};
use http_body::{Body, Frame, SizeHint};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use pin_project_lite::pin_project;

use crate::rejection::Rejection;

pin_project! {
    #[project = EitherProj]
    enum Either<B> {
        Buffered { #[pin] body: Full<Bytes> },
        Inner { #[pin] body: B },
    }
}

impl<B> Either<B>
where
    B: Body<Data = Bytes>,
{
    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        match self.project() {
            EitherProj::Buffered { body } => body.poll_frame(cx).map_err(|never| match never {}),
            EitherProj::Inner { body } => body.poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Self::Buffered { body } => body.is_end_stream(),
            Self::Inner { body } => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Self::Buffered { body } => body.size_hint(),
            Self::Inner { body } => body.size_hint(),
        }
    }
}

pin_project! {
    /// The response body of every tollgate policy: the inner service's body, or the body of
    /// a refusal the policy rendered.
    pub struct ResponseBody<B> {
        #[pin]
        inner: Either<B>,
    }
}

impl<B> ResponseBody<B> {
    /// The inner service's body, passed through.
    pub fn inner(body: B) -> Self {
        Self { inner: Either::Inner { body } }
    }

    /// A body the policy wrote itself.
    pub fn full(body: Full<Bytes>) -> Self {
        Self { inner: Either::Buffered { body } }
    }

    /// Turns a rendered refusal into a response with this body type.
    pub fn rejection(response: Response<Full<Bytes>>) -> Response<Self> {
        response.map(Self::full)
    }
}

pin_project! {
    /// The request body after a policy that may read it: either the original, streaming
    /// untouched, or the bytes the policy buffered, replayed exactly as received.
    pub struct RequestBody<B> {
        #[pin]
        inner: Either<B>,
    }
}

impl<B> RequestBody<B> {
    /// The original body, untouched.
    pub fn streaming(body: B) -> Self {
        Self { inner: Either::Inner { body } }
    }

    /// A body replaying `bytes`.
    pub fn buffered(bytes: Bytes) -> Self {
        Self { inner: Either::Buffered { body: Full::new(bytes) } }
    }
}

/// Both body types are the same two-way choice under different names; one impl serves both.
macro_rules! either_body {
    ($name:ident) => {
        impl<B> Body for $name<B>
        where
            B: Body<Data = Bytes>,
        {
            type Data = Bytes;
            type Error = B::Error;

            fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
                self.project().inner.poll_frame(cx)
            }

            fn is_end_stream(&self) -> bool {
                self.inner.is_end_stream()
            }

            fn size_hint(&self) -> SizeHint {
                self.inner.size_hint()
            }
        }

        impl<B> $name<B> {
            /// The body passed through (`Ok`), or the bytes a policy put in its place
            /// (`Err`): lets a caller that unifies body types keep the original body as it
            /// is instead of wrapping it once more.
            pub fn into_inner(self) -> Result<B, Full<Bytes>> {
                match self.inner {
                    Either::Inner { body } => Ok(body),
                    Either::Buffered { body } => Err(body),
                }
            }
        }

        impl<B> std::fmt::Debug for $name<B> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(stringify!($name))
            }
        }
    };
}

either_body!(ResponseBody);
either_body!(RequestBody);

/// Default body limit of the buffering policies: 8 MiB.
pub const DEFAULT_BODY_LIMIT: usize = 8 * 1024 * 1024;

/// Collects a request's body, up to `limit` bytes, and rebuilds the request around the
/// bytes so the next service reads exactly what was sent.
///
/// A body over the limit is refused with 413 (`PayloadTooLarge`) — at once when
/// `Content-Length` says so, else as soon as the limit is passed; a body that fails to
/// arrive is refused with 400 (`InvalidRequestBody`). Only policies that need the bytes call
/// this; every other request streams through untouched.
///
/// ```
/// use bytes::Bytes;
/// use http::Request;
/// use http_body_util::{BodyExt, Full};
/// use tollgate_core::buffer_request;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let req = Request::post("/").body(Full::new(Bytes::from_static(b"a=1"))).unwrap();
/// let (req, bytes) = buffer_request(req, 1024).await.unwrap();
/// assert_eq!(bytes, "a=1");
/// assert_eq!(req.into_body().collect().await.unwrap().to_bytes(), "a=1");
///
/// let big = Request::post("/").body(Full::new(Bytes::from(vec![0u8; 2048]))).unwrap();
/// assert_eq!(buffer_request(big, 1024).await.unwrap_err().status(), 413);
/// # }
/// ```
pub async fn buffer_request<B>(req: Request<B>, limit: usize) -> Result<(Request<RequestBody<B>>, Bytes), Rejection>
where
    B: Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let declared = req.headers().get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large(limit));
    }
    let (parts, body) = req.into_parts();
    let bytes = match Limited::new(body, limit).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.is::<LengthLimitError>() => return Err(too_large(limit)),
        Err(e) => {
            return Err(Rejection::new(
                StatusCode::BAD_REQUEST,
                "InvalidRequestBody",
                format!("the request body could not be read: {e}"),
            )
            .with_aliyun_api_gateway(StatusCode::BAD_REQUEST, "Invalid Request Body"));
        }
    };
    Ok((Request::from_parts(parts, RequestBody::buffered(bytes.clone())), bytes))
}

fn too_large(limit: usize) -> Rejection {
    Rejection::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "PayloadTooLarge",
        format!("the request body is larger than {limit} bytes"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::StreamBody;

    #[tokio::test]
    async fn streamed_body_over_limit_is_413() {
        let chunks = (0..10).map(|_| Ok::<_, std::io::Error>(Frame::data(Bytes::from(vec![1u8; 100]))));
        let body = StreamBody::new(futures_stream(chunks.collect()));
        let req = Request::post("/").body(body).unwrap();
        let err = buffer_request(req, 500).await.unwrap_err();
        assert_eq!(err.code(), "PayloadTooLarge");
    }

    #[tokio::test]
    async fn declared_length_over_limit_is_413_without_reading() {
        let req = Request::post("/").header("content-length", "999999").body(Full::new(Bytes::new())).unwrap();
        assert_eq!(buffer_request(req, 10).await.unwrap_err().status(), 413);
    }

    #[tokio::test]
    async fn body_error_is_400() {
        let chunks = vec![Err::<Frame<Bytes>, _>(std::io::Error::other("reset"))];
        let req = Request::post("/").body(StreamBody::new(futures_stream(chunks))).unwrap();
        let err = buffer_request(req, 10).await.unwrap_err();
        assert_eq!((err.status().as_u16(), err.code()), (400, "InvalidRequestBody"));
    }

    #[tokio::test]
    async fn response_body_passes_inner_through() {
        let body = ResponseBody::inner(Full::new(Bytes::from_static(b"hi")));
        assert_eq!(body.collect().await.unwrap().to_bytes(), "hi");
    }

    #[tokio::test]
    async fn into_inner_tells_the_original_from_the_replacement() {
        let inner = Full::new(Bytes::from_static(b"hi"));
        assert!(ResponseBody::inner(inner.clone()).into_inner().is_ok());
        assert!(RequestBody::streaming(inner).into_inner().is_ok());
        let replaced = RequestBody::<Full<Bytes>>::buffered(Bytes::from_static(b"ho")).into_inner().unwrap_err();
        assert_eq!(replaced.collect().await.unwrap().to_bytes(), "ho");
        let refusal = ResponseBody::<Full<Bytes>>::full(Full::new(Bytes::from_static(b"no")));
        assert!(refusal.into_inner().is_err());
    }

    fn futures_stream<T>(items: Vec<T>) -> futures_util::stream::Iter<std::vec::IntoIter<T>> {
        futures_util::stream::iter(items)
    }
}
