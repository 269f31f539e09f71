//! The token policy's parsers from arbitrary bytes: a token checked against fixed keys, JWK
//! text, the `jwtAuth` plug-in's text, and (when that builds) a request through the layer with
//! the rest of the input as its token, cookie and query (claims forwarded, copies removed).
//! No panic.
#![no_main]

use std::future::Future;
use std::sync::LazyLock;
use std::task::{Context, Poll, Waker};

use libfuzzer_sys::fuzz_target;
use tollgate_token::{KeySet, TokenLayer, TokenLocation, Verifier};
use tower_layer::Layer;
use tower_service::Service;

static KEYS: LazyLock<KeySet> =
    LazyLock::new(|| KeySet::from_jwk_text(include_str!("../../crates/tollgate-token/tests/fixtures/jwks.json")).unwrap());

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let text = String::from_utf8_lossy(rest);
    match mode % 4 {
        0 => {
            let _ = Verifier::new().head(&text);
            let _ = Verifier::new().verify(&text, &KEYS);
            let _ = Verifier::new().ignore_exp().require_exp(std::time::Duration::from_secs(60)).verify(&text, &KEYS);
        }
        1 => {
            if let Ok(keys) = KeySet::from_jwk_text(&text) {
                let _ = keys.find(Some("k"), tollgate_token::Algorithm::RS256).map(|c| c.count());
            }
        }
        2 => {
            let value = http::HeaderValue::from_bytes(rest).ok();
            let mut headers = http::HeaderMap::new();
            if let Some(v) = value {
                headers.append(http::header::COOKIE, v.clone());
                headers.append(http::header::AUTHORIZATION, v);
            }
            let uri = format!("/?{}", text.chars().filter(|c| c.is_ascii_graphic()).collect::<String>())
                .parse::<http::Uri>()
                .unwrap_or_default();
            for place in [
                TokenLocation::Cookie("jwt".into()),
                TokenLocation::Query("token".into()),
                TokenLocation::Header(http::header::AUTHORIZATION),
            ] {
                let _ = place.read(&headers, &uri);
            }
        }
        _ => {
            let split = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
            let (config, input) = rest.split_at(split);
            let Ok(config) = std::str::from_utf8(config) else { return };
            let Ok(layer) = TokenLayer::from_plugin(config) else { return };
            let input = String::from_utf8_lossy(input);
            let graphic: String = input.chars().filter(|c| c.is_ascii_graphic()).collect();
            let uri = format!("/?{graphic}").parse::<http::Uri>().unwrap_or_default();
            let mut req = http::Request::get(uri).body(http_body_util::Empty::<bytes::Bytes>::new()).unwrap();
            if let Ok(v) = http::HeaderValue::from_str(&graphic) {
                req.headers_mut().insert(http::header::AUTHORIZATION, v.clone());
                req.headers_mut().insert(http::header::COOKIE, v);
            }
            let mut svc = layer.layer(tower_service_fn());
            // a bodiless request with static keys is settled in `call`: one poll answers
            let mut future = std::pin::pin!(svc.call(req));
            let _ = future.as_mut().poll(&mut Context::from_waker(Waker::noop()));
        }
    }
});

/// The handler: answers at once.
fn tower_service_fn<B>() -> impl Service<
    http::Request<B>,
    Response = http::Response<http_body_util::Empty<bytes::Bytes>>,
    Error = std::convert::Infallible,
    Future = std::future::Ready<Result<http::Response<http_body_util::Empty<bytes::Bytes>>, std::convert::Infallible>>,
> + Clone
+ Send
+ 'static {
    #[derive(Clone)]
    struct Answer;
    impl<B> Service<http::Request<B>> for Answer {
        type Response = http::Response<http_body_util::Empty<bytes::Bytes>>;
        type Error = std::convert::Infallible;
        type Future = std::future::Ready<Result<Self::Response, Self::Error>>;
        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            Poll::Ready(Ok(()))
        }
        fn call(&mut self, _: http::Request<B>) -> Self::Future {
            std::future::ready(Ok(http::Response::new(http_body_util::Empty::new())))
        }
    }
    Answer
}
