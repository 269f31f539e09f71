//! The response body after the mapping: the backend's body streamed untouched, or replayed
//! from the bytes read to look into it (then the rest, if the read stopped at the limit).

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use http::HeaderMap;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

pin_project! {
    #[project = KindProj]
    enum Kind<B: Body> {
        Streamed { #[pin] body: B },
        Replayed {
            // what was read, handed back first
            read: Option<Bytes>,
            // the trailers that ended a body read to its end
            trailers: Option<HeaderMap>,
            // the error that stopped the read, handed back after the bytes before it
            error: Option<B::Error>,
            // the part not read (a body over the limit), streamed after `read`
            rest: Option<Pin<Box<B>>>,
        },
    }
}

pin_project! {
    /// The response body of [`ErrorMapping`](crate::ErrorMapping): the backend's bytes, always
    /// all of them, in order. Either the backend's body itself, streamed (no `BodyJsonField`
    /// parameter, not JSON, or declared larger than the limit), or the bytes read to look
    /// into it followed by whatever was not read, its trailers or the error that cut it short.
    pub struct MappedBody<B: Body> {
        #[pin]
        kind: Kind<B>,
    }
}

impl<B: Body> MappedBody<B> {
    /// The backend's body, untouched.
    pub(crate) fn streamed(body: B) -> Self {
        Self { kind: Kind::Streamed { body } }
    }

    /// Whether the body is the backend's own, streamed untouched (`false`: it was read to
    /// look into it, and is replayed).
    pub fn is_streamed(&self) -> bool {
        matches!(self.kind, Kind::Streamed { .. })
    }
}

impl<B: Body> std::fmt::Debug for MappedBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.is_streamed() { "MappedBody::Streamed" } else { "MappedBody::Replayed" })
    }
}

impl<B> Body for MappedBody<B>
where
    B: Body<Data = Bytes>,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        match self.project().kind.project() {
            KindProj::Streamed { body } => body.poll_frame(cx),
            KindProj::Replayed { read, trailers, error, rest } => {
                if let Some(bytes) = read.take().filter(|b| !b.is_empty()) {
                    return Poll::Ready(Some(Ok(Frame::data(bytes))));
                }
                if let Some(e) = error.take() {
                    return Poll::Ready(Some(Err(e)));
                }
                if let Some(body) = rest {
                    return body.as_mut().poll_frame(cx);
                }
                Poll::Ready(trailers.take().map(|t| Ok(Frame::trailers(t))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Streamed { body } => body.is_end_stream(),
            Kind::Replayed { read, trailers, error, rest } => {
                read.as_ref().is_none_or(Bytes::is_empty)
                    && trailers.is_none()
                    && error.is_none()
                    && rest.as_ref().is_none_or(|b| b.is_end_stream())
            }
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Streamed { body } => body.size_hint(),
            Kind::Replayed { read, rest, .. } => {
                let read = read.as_ref().map_or(0, |b| b.len() as u64);
                match rest {
                    None => SizeHint::with_exact(read),
                    Some(body) => {
                        let inner = body.size_hint();
                        let mut hint = SizeHint::new();
                        hint.set_lower(inner.lower().saturating_add(read));
                        if let Some(upper) = inner.upper().and_then(|u| u.checked_add(read)) {
                            hint.set_upper(upper);
                        }
                        hint
                    }
                }
            }
        }
    }
}

/// How reading a body for inspection ended.
pub(crate) enum Read {
    /// Still reading.
    Pending,
    /// The whole body (and its trailers): its JSON fields can be read.
    Whole,
    /// Stopped: over the limit, or the body failed. Its fields are absent.
    Stopped,
}

/// A body being read, up to a limit, to look into it; becomes a [`MappedBody`] that gives
/// every byte back.
pub(crate) struct Reading<B: Body> {
    body: Pin<Box<B>>,
    buf: BytesMut,
    limit: usize,
    trailers: Option<HeaderMap>,
    error: Option<B::Error>,
    over: bool,
}

impl<B> Reading<B>
where
    B: Body<Data = Bytes>,
{
    pub(crate) fn new(body: B, limit: usize) -> Self {
        Self { body: Box::pin(body), buf: BytesMut::new(), limit, trailers: None, error: None, over: false }
    }

    /// Reads on until the body ends, fails or passes the limit.
    pub(crate) fn poll(&mut self, cx: &mut Context<'_>) -> Read {
        loop {
            match self.body.as_mut().poll_frame(cx) {
                Poll::Pending => return Read::Pending,
                Poll::Ready(None) => return Read::Whole,
                Poll::Ready(Some(Err(e))) => {
                    self.error = Some(e);
                    return Read::Stopped;
                }
                Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                    Ok(data) => {
                        // the chunk that passes the limit is kept: it is handed back first
                        self.buf.extend_from_slice(&data);
                        if self.buf.len() > self.limit {
                            self.over = true;
                            return Read::Stopped;
                        }
                    }
                    Err(frame) => {
                        if let Ok(trailers) = frame.into_trailers() {
                            self.trailers = Some(trailers);
                            return Read::Whole;
                        }
                        // a frame of another kind: not ours to read, nor to drop
                        self.over = true;
                        return Read::Stopped;
                    }
                },
            }
        }
    }

    /// The bytes read so far.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.buf
    }

    /// The body that gives back every byte: those read, then the rest or how it ended.
    pub(crate) fn into_body(self) -> MappedBody<B> {
        let ended = !self.over && self.error.is_none();
        MappedBody {
            kind: Kind::Replayed {
                read: Some(self.buf.freeze()),
                trailers: self.trailers,
                error: self.error,
                rest: if ended { None } else { Some(self.body) },
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{BodyExt, Full, StreamBody};

    type Chunk = Result<Frame<Bytes>, std::io::Error>;
    type Chunks = StreamBody<futures_util::stream::Iter<std::vec::IntoIter<Chunk>>>;

    fn stream(chunks: Vec<Chunk>) -> Chunks {
        StreamBody::new(futures_util::stream::iter(chunks))
    }

    fn read_all<B: Body<Data = Bytes>>(body: B, limit: usize) -> (bool, MappedBody<B>) {
        let mut reading = Reading::new(body, limit);
        let waker = std::task::Waker::noop();
        let whole = match reading.poll(&mut Context::from_waker(waker)) {
            Read::Whole => true,
            Read::Stopped => false,
            Read::Pending => panic!("a ready body waited"),
        };
        (whole, reading.into_body())
    }

    #[tokio::test]
    async fn a_body_under_the_limit_is_replayed_with_its_trailers() {
        let mut trailers = HeaderMap::new();
        trailers.insert("grpc-status", "0".parse().unwrap());
        let chunks = vec![
            Ok(Frame::data(Bytes::from_static(b"ab"))),
            Ok(Frame::data(Bytes::from_static(b"cd"))),
            Ok(Frame::trailers(trailers.clone())),
        ];
        let (whole, body) = read_all(stream(chunks), 10);
        assert!(whole && !body.is_streamed());
        let collected = body.collect().await.unwrap();
        assert_eq!(collected.trailers(), Some(&trailers));
        assert_eq!(collected.to_bytes(), "abcd");
    }

    #[tokio::test]
    async fn a_body_over_the_limit_is_the_bytes_read_then_the_rest() {
        let chunks = (0..10u8).map(|i| Ok(Frame::data(Bytes::from(vec![i; 7])))).collect();
        let (whole, body) = read_all(stream(chunks), 20);
        assert!(!whole);
        let expected: Vec<u8> = (0..10u8).flat_map(|i| [i; 7]).collect();
        assert_eq!(body.collect().await.unwrap().to_bytes(), expected);
    }

    #[tokio::test]
    async fn a_failing_body_gives_its_bytes_then_the_error() {
        let chunks = vec![Ok(Frame::data(Bytes::from_static(b"par"))), Err(std::io::Error::other("reset"))];
        let (whole, mut body) = read_all(stream(chunks), 100);
        assert!(!whole);
        assert_eq!(body.frame().await.unwrap().unwrap().into_data().unwrap(), "par");
        assert_eq!(body.frame().await.unwrap().unwrap_err().to_string(), "reset");
    }

    #[test]
    fn size_hints_count_what_was_read() {
        let (_, body) = read_all(Full::new(Bytes::from_static(b"hello")), 100);
        assert_eq!(body.size_hint().exact(), Some(5));
        assert!(!body.is_end_stream());
        let (_, body) = read_all(Full::new(Bytes::new()), 100);
        assert!(body.is_end_stream());
    }
}
