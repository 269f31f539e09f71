//! `RemoteKeySet` against a JWKS server on 127.0.0.1: first fetch, refresh, rotation, a flood
//! of unknown `kid`s, an unreachable, broken, slow or oversized server.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tollgate_core::{ManualClock, SharedClock};
use tollgate_token::{Algorithm, JwksError, KeySource, RemoteKeySet, TokenError};

const IDP_1: &str = include_str!("fixtures/clouds/idp-1.jwk.json");
const IDP_2: &str = include_str!("fixtures/clouds/idp-2.jwk.json");

fn jwks(keys: &[&str]) -> String {
    format!("{{\"keys\": [{}]}}", keys.join(","))
}

/// What the test server answers, changed by the test as it goes.
struct Served {
    status: StatusCode,
    body: String,
    delay: Duration,
}

#[derive(Clone)]
struct Server {
    served: Arc<Mutex<Served>>,
    hits: Arc<AtomicUsize>,
}

impl Server {
    fn set(&self, status: StatusCode, body: impl Into<String>) {
        let mut s = self.served.lock().unwrap();
        s.status = status;
        s.body = body.into();
    }
    fn delay(&self, delay: Duration) {
        self.served.lock().unwrap().delay = delay;
    }
    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

async fn serve_jwks(State(server): State<Server>) -> Response {
    server.hits.fetch_add(1, Ordering::SeqCst);
    let (status, body, delay) = {
        let s = server.served.lock().unwrap();
        (s.status, s.body.clone(), s.delay)
    };
    tokio::time::sleep(delay).await;
    let mut resp = (status, body).into_response();
    // no pooled connection outlives the server: "unreachable" really is unreachable
    resp.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    if status.is_redirection() {
        resp.headers_mut().insert(header::LOCATION, HeaderValue::from_static("/elsewhere"));
    }
    resp
}

/// A JWKS server on 127.0.0.1 serving `body`; the task's handle stops it.
async fn start(body: String) -> (Server, SocketAddr, tokio::task::JoinHandle<()>) {
    let server = Server {
        served: Arc::new(Mutex::new(Served { status: StatusCode::OK, body, delay: Duration::ZERO })),
        hits: Arc::new(AtomicUsize::new(0)),
    };
    let app = Router::new().route("/jwks.json", get(serve_jwks)).with_state(server.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (server, addr, task)
}

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::at_unix(Duration::from_secs(1_700_000_000)))
}

fn remote(addr: SocketAddr, clock: &Arc<ManualClock>) -> RemoteKeySet {
    RemoteKeySet::new(&format!("http://{addr}/jwks.json"))
        .unwrap()
        .refresh_interval(Duration::from_secs(300))
        .refetch_interval(Duration::from_secs(30))
        .timeout(Duration::from_secs(2))
        .clock(clock.clone() as SharedClock)
}

/// A port nothing listens on.
async fn closed_port() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap()
}

#[tokio::test]
async fn first_use_fetches_then_the_cache_serves() {
    let (server, addr, _task) = start(jwks(&[IDP_1])).await;
    let clock = clock();
    let keys = remote(addr, &clock);
    assert_eq!(server.hits(), 0, "nothing fetched before the first request");

    let set = keys.keys(Some("idp-1")).await.unwrap();
    assert!(set.knows_kid("idp-1"));
    assert_eq!(server.hits(), 1);

    clock.advance(Duration::from_secs(299));
    for _ in 0..10 {
        keys.keys(Some("idp-1")).await.unwrap();
        keys.keys(None).await.unwrap();
    }
    assert_eq!(server.hits(), 1, "fresh keys are not fetched again");
    // clones share the cache
    keys.clone().keys(None).await.unwrap();
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn stale_keys_are_refreshed() {
    let (server, addr, _task) = start(jwks(&[IDP_1])).await;
    let clock = clock();
    let keys = remote(addr, &clock);
    keys.keys(None).await.unwrap();

    server.set(StatusCode::OK, jwks(&[IDP_2]));
    clock.advance(Duration::from_secs(300));
    let set = keys.keys(None).await.unwrap();
    assert_eq!(server.hits(), 2);
    assert!(set.knows_kid("idp-2") && !set.knows_kid("idp-1"), "the refreshed set replaces the old one");
}

#[tokio::test]
async fn a_new_kid_triggers_one_refetch() {
    let (server, addr, _task) = start(jwks(&[IDP_1])).await;
    let clock = clock();
    let keys = remote(addr, &clock);
    keys.keys(Some("idp-1")).await.unwrap();

    // the provider publishes idp-2 and a token signed with it arrives
    server.set(StatusCode::OK, jwks(&[IDP_1, IDP_2]));
    clock.advance(Duration::from_secs(30));
    let set = keys.keys(Some("idp-2")).await.unwrap();
    assert!(set.knows_kid("idp-2"));
    assert_eq!(server.hits(), 2);
    // known now: no more fetching
    keys.keys(Some("idp-2")).await.unwrap();
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn a_new_kid_within_the_refetch_interval_waits_for_it() {
    let (server, addr, _task) = start(jwks(&[IDP_1])).await;
    let clock = clock();
    let keys = remote(addr, &clock);
    keys.keys(None).await.unwrap();
    server.set(StatusCode::OK, jwks(&[IDP_1, IDP_2]));

    clock.advance(Duration::from_secs(29));
    let set = keys.keys(Some("idp-2")).await.unwrap();
    assert!(!set.knows_kid("idp-2"), "29 s after a fetch, no refetch");
    assert_eq!(server.hits(), 1);
    clock.advance(Duration::from_secs(1));
    assert!(keys.keys(Some("idp-2")).await.unwrap().knows_kid("idp-2"));
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn a_flood_of_unknown_kids_fetches_once_per_interval() {
    let (server, addr, _task) = start(jwks(&[IDP_1])).await;
    let clock = clock();
    let keys = remote(addr, &clock);
    keys.keys(None).await.unwrap();
    // a slow provider, so that the flood really arrives while the one fetch is in flight
    server.delay(Duration::from_millis(200));
    clock.advance(Duration::from_secs(30));

    let flood: Vec<_> = (0..64)
        .map(|i| {
            let keys = keys.clone();
            tokio::spawn(async move { keys.keys(Some(&format!("forged-{i}"))).await.map(|s| s.len()) })
        })
        .collect();
    for task in flood {
        assert_eq!(task.await.unwrap().unwrap(), 1, "every request still gets the cached keys");
    }
    assert_eq!(server.hits(), 2, "64 concurrent unknown kids: one shared fetch");

    server.delay(Duration::ZERO);
    for i in 0..100 {
        keys.keys(Some(&format!("forged-again-{i}"))).await.unwrap();
    }
    assert_eq!(server.hits(), 2, "and none more within the interval");

    clock.advance(Duration::from_secs(30));
    for i in 0..100 {
        keys.keys(Some(&format!("next-{i}"))).await.unwrap();
    }
    assert_eq!(server.hits(), 3, "one per interval");
}

#[tokio::test]
async fn concurrent_first_requests_share_one_fetch() {
    let (server, addr, _task) = start(jwks(&[IDP_1])).await;
    server.delay(Duration::from_millis(200));
    let clock = clock();
    let keys = remote(addr, &clock);
    let first: Vec<_> = (0..32)
        .map(|_| {
            let keys = keys.clone();
            tokio::spawn(async move { keys.keys(Some("idp-1")).await.map(|s| s.len()) })
        })
        .collect();
    for task in first {
        assert_eq!(task.await.unwrap().unwrap(), 1);
    }
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn an_unreachable_server_leaves_the_cached_keys_working() {
    let (server, addr, task) = start(jwks(&[IDP_1])).await;
    let clock = clock();
    let keys = remote(addr, &clock);
    keys.keys(Some("idp-1")).await.unwrap();
    assert_eq!(server.hits(), 1);

    task.abort();
    let _ = task.await;
    // stale, and a new kid: both would fetch; the server is gone
    clock.advance(Duration::from_secs(600));
    let set = keys.keys(None).await.unwrap();
    assert!(set.knows_kid("idp-1"));
    let set = keys.keys(Some("idp-2")).await.unwrap();
    assert!(set.knows_kid("idp-1") && !set.knows_kid("idp-2"));
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn no_server_and_no_cache_is_a_503_naming_the_cause() {
    let addr = closed_port().await;
    let clock = clock();
    let keys = remote(addr, &clock);
    let err = keys.keys(Some("idp-1")).await.unwrap_err();
    assert!(matches!(err, JwksError::Connect(_)), "{err:?}");
    let r = err.rejection();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.code(), "JwksUnavailable.Connect");
    assert!(!r.message().contains(&addr.to_string()), "the URL is the operator's, not the caller's");

    // within the refetch interval the failure is answered from memory, without a connection
    let started = std::time::Instant::now();
    assert_eq!(keys.keys(None).await.unwrap_err(), err);
    assert!(started.elapsed() < Duration::from_millis(50));
}

#[tokio::test]
async fn a_server_coming_back_is_used_after_the_refetch_interval() {
    let (server, addr, _task) = start(String::new()).await;
    server.set(StatusCode::INTERNAL_SERVER_ERROR, "oops");
    let clock = clock();
    let keys = remote(addr, &clock);
    assert_eq!(keys.keys(None).await.unwrap_err(), JwksError::Status(StatusCode::INTERNAL_SERVER_ERROR));
    server.set(StatusCode::OK, jwks(&[IDP_1]));
    assert!(keys.keys(None).await.is_err(), "not asked again within the interval");
    assert_eq!(server.hits(), 1);
    clock.advance(Duration::from_secs(30));
    assert!(keys.keys(None).await.unwrap().knows_kid("idp-1"));
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn a_set_built_afresh_falls_back_on_the_keys_its_url_last_served() {
    let (server, addr, _task) = start(jwks(&[IDP_1])).await;
    let clock = clock();
    let before = remote(addr, &clock);
    assert!(before.keys(Some("idp-1")).await.unwrap().knows_kid("idp-1"));

    // the provider fails; a reloaded configuration builds a new set for the same URL
    server.set(StatusCode::INTERNAL_SERVER_ERROR, "down");
    clock.advance(Duration::from_secs(600));
    let after = remote(addr, &clock);
    let set = after.keys(Some("idp-1")).await.unwrap();
    assert!(set.knows_kid("idp-1"), "the keys the URL last served");
    assert_eq!(server.hits(), 2, "its own first fetch was tried, and failed");
    after.keys(None).await.unwrap();
    assert_eq!(server.hits(), 2, "stale, but not asked again within the refetch interval");
    assert!(after.keys_now(None).is_none(), "as old as they are: not fresh");

    // a set keeping other algorithms would not have fetched those keys: nothing to fall back on
    let other = remote(addr, &clock).algorithms(&[Algorithm::ES256]);
    assert_eq!(other.keys(None).await.unwrap_err(), JwksError::Status(StatusCode::INTERNAL_SERVER_ERROR));

    // the provider back: the new set's keys are refreshed like any stale ones
    server.set(StatusCode::OK, jwks(&[IDP_2]));
    clock.advance(Duration::from_secs(30));
    let set = after.keys(None).await.unwrap();
    assert!(set.knows_kid("idp-2") && !set.knows_kid("idp-1"));
}

#[tokio::test]
async fn a_broken_body_is_refused_and_the_cache_kept() {
    let (server, addr, _task) = start(jwks(&[IDP_1])).await;
    let clock = clock();
    let keys = remote(addr, &clock);
    keys.keys(None).await.unwrap();

    for broken in ["<html>login</html>", "{\"keys\": []}", "{\"keys\": {}}", "{}", "[1,2]", "\u{feff}{"] {
        server.set(StatusCode::OK, broken);
        clock.advance(Duration::from_secs(300));
        let set = keys.keys(Some("idp-2")).await.unwrap();
        assert!(set.knows_kid("idp-1"), "{broken}: the old keys stay");
    }

    // and with no cache, the precise 503
    let (_server, addr, _task) = start("{\"keys\": []}".into()).await;
    let err = remote(addr, &clock).keys(None).await.unwrap_err();
    assert_eq!(err.code(), "JwksUnavailable.Malformed");
}

#[tokio::test]
async fn error_statuses_and_redirects_are_failures() {
    for status in [StatusCode::NOT_FOUND, StatusCode::FOUND, StatusCode::SERVICE_UNAVAILABLE] {
        let (server, addr, _task) = start(jwks(&[IDP_1])).await;
        server.set(status, jwks(&[IDP_1]));
        let err = remote(addr, &clock()).keys(None).await.unwrap_err();
        assert_eq!(err, JwksError::Status(status));
        assert_eq!(err.code(), "JwksUnavailable.Status");
    }
}

#[tokio::test]
async fn an_oversized_body_is_refused() {
    let (server, addr, _task) = start(jwks(&[IDP_1, IDP_2])).await;
    let clock = clock();
    let keys = remote(addr, &clock).max_body(IDP_1.len() + 20);
    assert_eq!(keys.keys(None).await.unwrap_err(), JwksError::TooLarge(IDP_1.len() + 20));
    // one key fits
    server.set(StatusCode::OK, jwks(&[IDP_1]));
    clock.advance(Duration::from_secs(30));
    assert!(keys.keys(None).await.is_ok());
}

#[tokio::test]
async fn an_oversized_body_without_content_length_is_refused() {
    // a chunked body announces no length: the limit is counted while reading
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new().route(
        "/jwks.json",
        get(|| async {
            let chunks = (0..64).map(|_| Ok::<_, std::io::Error>(bytes::Bytes::from(vec![b' '; 1024])));
            axum::body::Body::from_stream(futures_util::stream::iter(chunks))
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let err = remote(addr, &clock()).max_body(4096).keys(None).await.unwrap_err();
    assert_eq!(err, JwksError::TooLarge(4096));
}

#[tokio::test]
async fn a_slow_server_times_out() {
    let (server, addr, _task) = start(jwks(&[IDP_1])).await;
    server.delay(Duration::from_secs(5));
    let started = std::time::Instant::now();
    let err = remote(addr, &clock()).timeout(Duration::from_millis(300)).keys(None).await.unwrap_err();
    assert_eq!(err, JwksError::Timeout(Duration::from_millis(300)));
    assert_eq!(err.code(), "JwksUnavailable.Timeout");
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn stale_keys_serve_while_one_request_refreshes() {
    let (server, addr, _task) = start(jwks(&[IDP_1])).await;
    let clock = clock();
    let keys = remote(addr, &clock);
    keys.keys(None).await.unwrap();
    server.delay(Duration::from_millis(500));
    server.set(StatusCode::OK, jwks(&[IDP_2]));
    clock.advance(Duration::from_secs(300));

    let refreshing = {
        let keys = keys.clone();
        tokio::spawn(async move { keys.keys(None).await.unwrap() })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = std::time::Instant::now();
    let set = keys.keys(None).await.unwrap();
    assert!(started.elapsed() < Duration::from_millis(250), "not queued behind the refresh");
    assert!(set.knows_kid("idp-1"), "the stale keys meanwhile");
    assert!(refreshing.await.unwrap().knows_kid("idp-2"));
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn as_a_key_source_it_answers_at_once_only_from_a_fresh_cache() {
    let (server, addr, _task) = start(jwks(&[IDP_1])).await;
    let clock = clock();
    let source = KeySource::remote(remote(addr, &clock));
    assert!(source.keys_at_once(Some("idp-1")).is_none(), "nothing cached: must wait");
    assert!(source.keys(Some("idp-1")).await.unwrap().knows_kid("idp-1"));
    assert!(source.keys_at_once(Some("idp-1")).is_some());
    assert!(source.keys_at_once(None).is_some());
    assert!(source.keys_at_once(Some("idp-2")).is_none(), "an unknown kid may be fetched");
    clock.advance(Duration::from_secs(300));
    assert!(source.keys_at_once(Some("idp-1")).is_none(), "stale: may be refreshed");
    assert_eq!(server.hits(), 1);

    // no server: the token error carries the cause's code to the 503
    let source = KeySource::remote(remote(closed_port().await, &clock));
    let err = source.keys(None).await.unwrap_err();
    let TokenError::KeysUnavailable { code, .. } = &err else { panic!("{err:?}") };
    assert_eq!(*code, "JwksUnavailable.Connect");
}

#[tokio::test]
async fn a_profile_s_algorithms_apply_to_fetched_keys() {
    let ec = r#"{"kty": "EC", "crv": "P-256", "kid": "ec", "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}"#;
    let (_server, addr, _task) = start(jwks(&[IDP_1, ec])).await;
    let clock = clock();
    let set = remote(addr, &clock).algorithms(&[Algorithm::RS256]).keys(None).await.unwrap();
    assert_eq!(set.len(), 1, "the EC key verifies no RS256");
    assert_eq!(set.keys()[0].algorithms(), [Algorithm::RS256]);

    let (_server, addr, _task) = start(jwks(&[ec])).await;
    let err = remote(addr, &clock).algorithms(&[Algorithm::RS256]).keys(None).await.unwrap_err();
    assert_eq!(err.code(), "JwksUnavailable.Malformed");
}

// --- the jwtAuth plug-in with `jwksUrl` ---

#[test]
fn jwt_auth_takes_keys_from_a_jwks_url() {
    use tollgate_token::{JwtAuthConfig, TokenLayer};
    let plugin = |extra: &str| format!("parameter: Authorization\nparameterLocation: header\n{extra}");
    let layer = TokenLayer::from_plugin(&plugin(
        "jwksUrl: http://127.0.0.1:9/jwks.json\njwksRefreshInterval: 600\njwksRefetchInterval: 5\n",
    ))
    .unwrap();
    assert!(layer.static_keys().is_none(), "remote keys");
    assert!(TokenLayer::from_plugin(&plugin("jwks_url: http://127.0.0.1:9/jwks.json\n")).is_ok());

    let field = |extra: &str| JwtAuthConfig::from_plugin(&plugin(extra)).unwrap_err().field;
    assert_eq!(field("jwksUrl: http://idp.example.com/jwks.json\n"), "jwksUrl");
    assert_eq!(field("jwksUrl: not a url\n"), "jwksUrl");
    let both = format!(r#"{{"parameter": "Authorization", "jwksUrl": "http://127.0.0.1:9/jwks", "jwk": {IDP_1}}}"#);
    assert_eq!(JwtAuthConfig::from_plugin(&both).unwrap_err().field, "jwksUrl");
    assert_eq!(field("jwksUrl: http://127.0.0.1:9/jwks\njwksRefreshInterval: 0\n"), "jwksRefreshInterval");
    assert_eq!(field("jwksUrl: http://127.0.0.1:9/jwks\nalgorithms: [none]\n"), "algorithms[0]");
}

#[tokio::test]
async fn jwt_auth_follows_a_rotation_at_its_jwks_url() {
    use http::Request;
    use jsonwebtoken::{EncodingKey, Header};
    use tollgate_core::RequestBody;
    use tollgate_token::TokenLayer;
    use tower::{ServiceBuilder, ServiceExt, service_fn};

    let (server, addr, _task) = start(jwks(&[IDP_1])).await;
    let layer = TokenLayer::from_plugin(&format!(
        "parameter: Authorization\nparameterLocation: header\njwksUrl: http://{addr}/jwks.json\njwksRefetchInterval: 0\nalgorithms: [RS256]\n"
    ))
    .unwrap();
    let mint = |pem: &[u8], kid: &str| {
        let mut header = Header::new(jsonwebtoken::Algorithm::RS256);
        header.kid = Some(kid.to_owned());
        let exp = jsonwebtoken::get_current_timestamp() + 600;
        jsonwebtoken::encode(
            &header,
            &serde_json::json!({"sub": "u", "exp": exp}),
            &EncodingKey::from_rsa_pem(pem).unwrap(),
        )
        .unwrap()
    };
    let status = |token: String| {
        let svc =
            ServiceBuilder::new().layer(layer.clone()).service(service_fn(|_r: Request<RequestBody<String>>| async {
                Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
            }));
        async move {
            let req = Request::get("/").header("authorization", format!("Bearer {token}")).body(String::new()).unwrap();
            svc.oneshot(req).await.unwrap().status()
        }
    };
    let idp_1 = include_bytes!("fixtures/clouds/idp-1.pem");
    let idp_2 = include_bytes!("fixtures/clouds/idp-2.pem");
    assert_eq!(status(mint(idp_1, "idp-1")).await, StatusCode::OK);
    assert_eq!(status(mint(idp_2, "idp-2")).await, StatusCode::FORBIDDEN);
    server.set(StatusCode::OK, jwks(&[IDP_1, IDP_2]));
    assert_eq!(status(mint(idp_2, "idp-2")).await, StatusCode::OK);
    assert_eq!(server.hits(), 3);

    // the server gone and nothing cached: 503, the cause's code
    let layer = TokenLayer::from_plugin(&format!(
        "parameter: Authorization\nparameterLocation: header\njwksUrl: http://{}/jwks.json\n",
        closed_port().await
    ))
    .unwrap();
    let svc = ServiceBuilder::new().layer(layer).service(service_fn(|_r: Request<RequestBody<String>>| async {
        Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
    }));
    let req = Request::get("/")
        .header("authorization", format!("Bearer {}", mint(idp_1, "idp-1")))
        .body(String::new())
        .unwrap();
    let resp = svc.oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn a_setting_on_a_shared_set_makes_a_new_one() {
    let (server, addr, _task) = start(jwks(&[IDP_1])).await;
    let clock = clock();
    let shared = remote(addr, &clock);
    shared.keys(None).await.unwrap();
    // changed after cloning: a set of its own, its cache empty; the first keeps its cache
    let other = shared.clone().timeout(Duration::from_secs(1));
    other.keys(None).await.unwrap();
    assert_eq!(server.hits(), 2);
    shared.keys(None).await.unwrap();
    assert_eq!(server.hits(), 2);
}
