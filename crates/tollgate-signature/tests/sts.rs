//! Temporary credentials (auth.md §4): a request signed with a temporary key passes only with
//! a token the secret store says goes with that key now, and is refused with the exact codes
//! of each cloud otherwise; a token is checked after the signature, whichever key it comes
//! with; a store that knows no tokens refuses every token; stores that must be awaited
//! decide as the in-memory one does.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use tollgate_core::{Caller, ManualClock, StoreError};
use tollgate_signature::aliyun_apigw::AliyunApiGateway;
use tollgate_signature::aliyun_rpc::AliyunRpc;
use tollgate_signature::tencent_cloud::TencentCloud;
use tollgate_signature::{
    HmacAlg, KeyRecord, MemorySecretStore, Scheme, SecretStore, SignatureLayer, Signer, TokenStatus,
};
use tower::{ServiceExt, service_fn};
use tower_layer::Layer;

const NOW: u64 = 1_795_364_129;
const TEMP: &str = "STS.NUgYrLnoC37mZZCNnAbez";
const TEMP_SECRET: &str = "tempSecret-0001";
const TOKEN: &str = "CAIS9AF1q6Ft5B2yfSjIr5bSEsKHi+Vz0aO+d0==";
const OTHER: &str = "STS.OtherTemporaryKey0000";
const OTHER_TOKEN: &str = "CAISotherTokenOfOtherKey";
const OLD_TOKEN: &str = "CAISexpiredTokenOfTempKey";
const PERM: &str = "LTAI5tPermanentKey0000000";
const PERM_SECRET: &str = "permSecret-0001";

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(NOW)
}

fn store() -> MemorySecretStore {
    MemorySecretStore::new()
        .with_temporary_key(TEMP, TEMP_SECRET, TOKEN, now() + Duration::from_secs(3600))
        .with_token(TEMP, OLD_TOKEN, now())
        .with_temporary_key(OTHER, "otherSecret", OTHER_TOKEN, now() + Duration::from_secs(3600))
        .with_key(PERM, PERM_SECRET)
}

/// The cloud's answer: status and code (`ok` and the caller's key id when the handler ran).
#[derive(Debug, PartialEq, Eq)]
struct Answer {
    status: u16,
    code: String,
}

fn answer(status: u16, code: &str) -> Answer {
    Answer { status, code: code.to_owned() }
}

/// Which of the token-carrying schemes signs, and how its request looks.
#[derive(Debug, Clone, Copy)]
enum Client {
    AliyunRpc,
    Tc3,
    V1(HmacAlg),
}

impl Client {
    const ALL: [Client; 4] = [Client::AliyunRpc, Client::Tc3, Client::V1(HmacAlg::Sha1), Client::V1(HmacAlg::Sha256)];

    fn request(self) -> (http::request::Parts, Bytes) {
        let (parts, body) = match self {
            Client::AliyunRpc => {
                (Request::get("http://ecs.aliyuncs.com/?Action=DescribeRegions&Version=2014-05-26"), "")
            }
            Client::Tc3 => (
                Request::post("https://cvm.tencentcloudapi.com/")
                    .header("content-type", "application/json")
                    .header("x-tc-action", "DescribeInstances"),
                r#"{"Limit":1}"#,
            ),
            Client::V1(_) => {
                (Request::post("https://cvm.tencentcloudapi.com/"), "Action=DescribeInstances&Version=2017-03-12")
            }
        };
        (parts.body(()).unwrap().into_parts().0, Bytes::from_static(body.as_bytes()))
    }

    fn sign(self, key: &str, secret: &str, token: Option<&str>) -> (http::request::Parts, Bytes) {
        let (mut parts, mut body) = self.request();
        let secret = secret.into();
        let signed = match self {
            Client::AliyunRpc => AliyunRpc::new().sign_with_token(&mut parts, &mut body, key, &secret, token, now()),
            Client::Tc3 => TencentCloud::new().sign_with_token(&mut parts, &mut body, key, &secret, token, now()),
            Client::V1(alg) => {
                TencentCloud::new().sign_v1(alg).sign_with_token(&mut parts, &mut body, key, &secret, token, now())
            }
        };
        signed.unwrap();
        (parts, body)
    }

    /// The answer when every token problem is refused: Aliyun's code per problem, Tencent's one.
    fn refused(self, aliyun: Answer) -> Answer {
        match self {
            Client::AliyunRpc => aliyun,
            _ => answer(200, "AuthFailure.TokenFailure"),
        }
    }

    fn signature_mismatch(self) -> Answer {
        match self {
            Client::AliyunRpc => answer(400, "SignatureDoesNotMatch"),
            _ => answer(200, "AuthFailure.SignatureFailure"),
        }
    }
}

fn missing() -> Answer {
    answer(400, "MissingSecurityToken")
}
fn expired() -> Answer {
    answer(403, "InvalidSecurityToken.Expired")
}
fn mismatch() -> Answer {
    answer(403, "InvalidSecurityToken.MismatchWithAccessKey")
}
fn malformed() -> Answer {
    answer(400, "InvalidSecurityToken.Malformed")
}

async fn handler(req: Request<tollgate_core::RequestBody<Full<Bytes>>>) -> Result<Response<String>, Infallible> {
    let caller = req.extensions().get::<Caller>().expect("a verified request carries its caller");
    Ok(Response::new(format!("ok {}", caller.key_id())))
}

async fn send_to(
    client: Client,
    store: impl SecretStore,
    parts: http::request::Parts,
    body: Bytes,
) -> (Answer, String) {
    let clock = ManualClock::at_unix(Duration::from_secs(NOW));
    let response = match client {
        Client::AliyunRpc => {
            let layer = SignatureLayer::new(AliyunRpc::new(), store).clock(clock);
            layer.layer(service_fn(handler)).oneshot(Request::from_parts(parts, Full::new(body))).await.unwrap()
        }
        _ => {
            let layer = SignatureLayer::new(TencentCloud::new(), store).clock(clock);
            layer.layer(service_fn(handler)).oneshot(Request::from_parts(parts, Full::new(body))).await.unwrap()
        }
    };
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8_lossy(&body).into_owned();
    if let Some(caller) = text.strip_prefix("ok ") {
        return (Answer { status, code: "ok".into() }, caller.to_owned());
    }
    let json: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"));
    let (code, message) = match client {
        Client::AliyunRpc => (&json["Code"], &json["Message"]),
        _ => (&json["Response"]["Error"]["Code"], &json["Response"]["Error"]["Message"]),
    };
    (Answer { status, code: code.as_str().unwrap().to_owned() }, message.as_str().unwrap().to_owned())
}

async fn send(
    client: Client,
    store: impl SecretStore,
    key: &str,
    secret: &str,
    token: Option<&str>,
) -> (Answer, String) {
    let (parts, body) = client.sign(key, secret, token);
    send_to(client, store, parts, body).await
}

/// Each scheme, each case, against the in-memory store (settled in `call`) and against a
/// store that must be awaited (the boxed path): the same answers.
#[tokio::test]
async fn each_token_case_is_answered_as_its_cloud_does() {
    let ok = || answer(200, "ok");
    for client in Client::ALL {
        let cases: [(&str, &str, &str, Option<&str>, Answer); 11] = [
            ("temporary key with its token", TEMP, TEMP_SECRET, Some(TOKEN), ok()),
            ("temporary key without a token", TEMP, TEMP_SECRET, None, client.refused(missing())),
            ("temporary key with its expired token", TEMP, TEMP_SECRET, Some(OLD_TOKEN), client.refused(expired())),
            (
                "temporary key with another key's token",
                TEMP,
                TEMP_SECRET,
                Some(OTHER_TOKEN),
                client.refused(mismatch()),
            ),
            (
                "temporary key with an unknown token",
                TEMP,
                TEMP_SECRET,
                Some("CAISnotIssued"),
                client.refused(malformed()),
            ),
            ("temporary key with an empty token", TEMP, TEMP_SECRET, Some(""), client.refused(malformed())),
            ("permanent key without a token", PERM, PERM_SECRET, None, ok()),
            ("permanent key with a temporary key's token", PERM, PERM_SECRET, Some(TOKEN), client.refused(mismatch())),
            (
                "permanent key with an unknown token",
                PERM,
                PERM_SECRET,
                Some("CAISnotIssued"),
                client.refused(malformed()),
            ),
            // the signature first: a token's worth is told only to a holder of the secret
            ("wrong secret, valid token", TEMP, "notTheSecret", Some(TOKEN), client.signature_mismatch()),
            ("wrong secret, expired token", TEMP, "notTheSecret", Some(OLD_TOKEN), client.signature_mismatch()),
        ];
        for (name, key, secret, token, expected) in cases {
            let (got, detail) = send(client, store(), key, secret, token).await;
            assert_eq!(got, expected, "{client:?}: {name}: {detail}");
            if got.code == "ok" {
                assert_eq!(detail, key, "{client:?}: {name}: the caller is the key");
            }
            let (awaited, _) = send(client, Awaited(store()), key, secret, token).await;
            assert_eq!(awaited, expected, "{client:?}: {name}, awaited store");
        }
    }
}

#[tokio::test]
async fn aliyun_messages_are_the_references() {
    let message = |token| async move { send(Client::AliyunRpc, store(), TEMP, TEMP_SECRET, token).await.1 };
    assert_eq!(message(None).await, "SecurityToken is mandatory for this action.");
    assert_eq!(message(Some(OLD_TOKEN)).await, "Specified SecurityToken is expired.");
    assert_eq!(message(Some(OTHER_TOKEN)).await, "Specified SecurityToken mismatch with the AccessKey.");
    assert_eq!(message(Some("x")).await, "Specified SecurityToken is malformed.");
    let tencent = send(Client::Tc3, store(), TEMP, TEMP_SECRET, Some(OLD_TOKEN)).await.1;
    assert!(tencent.starts_with("token error"), "{tencent}");
}

/// A token expires at its expiry exactly, by the layer's clock.
#[tokio::test]
async fn a_token_expires_at_its_time() {
    for (expires_in, expected) in [(1, answer(200, "ok")), (0, expired())] {
        let store = MemorySecretStore::new().with_temporary_key(
            TEMP,
            TEMP_SECRET,
            TOKEN,
            now() + Duration::from_secs(expires_in),
        );
        assert_eq!(send(Client::AliyunRpc, store, TEMP, TEMP_SECRET, Some(TOKEN)).await.0, expected, "{expires_in}");
    }
}

/// A store written before tokens existed (only `lookup`): requests without a token pass, a
/// request with one is refused rather than passed unchecked.
#[tokio::test]
async fn a_store_that_knows_no_tokens_refuses_them() {
    for client in Client::ALL {
        let (got, _) = send(client, KnowsNoTokens(store()), PERM, PERM_SECRET, None).await;
        assert_eq!(got, answer(200, "ok"), "{client:?}");
        let (got, _) = send(client, KnowsNoTokens(store()), PERM, PERM_SECRET, Some(TOKEN)).await;
        assert_eq!(got, client.refused(malformed()), "{client:?}");
        let (got, _) = send(client, KnowsNoTokens(store()), TEMP, TEMP_SECRET, Some(TOKEN)).await;
        assert_eq!(got, client.refused(malformed()), "{client:?}: even the key's own");
    }
}

#[tokio::test]
async fn a_store_that_fails_on_the_token_is_unavailable() {
    let (got, _) = send(Client::AliyunRpc, FailsOnTokens(store()), TEMP, TEMP_SECRET, Some(TOKEN)).await;
    assert_eq!(got.status, 503);
    let (got, _) = send(Client::AliyunRpc, FailsOnTokens(store()), PERM, PERM_SECRET, None).await;
    assert_eq!(got, answer(200, "ok"), "not asked without a token");
}

/// What the token is signed with: RPC's and v1's are signed (changed, the signature fails),
/// TC3's is not (the SDK does not sign it): swapped for another key's token, it is a mismatch.
#[tokio::test]
async fn a_token_changed_in_flight() {
    for client in [Client::AliyunRpc, Client::V1(HmacAlg::Sha1)] {
        let (mut parts, body) = client.sign(TEMP, TEMP_SECRET, Some(TOKEN));
        let body = match client {
            Client::AliyunRpc => {
                let target = parts.uri.to_string().replace("SecurityToken=CAIS9", "SecurityToken=CAIS8");
                assert_ne!(target, parts.uri.to_string());
                parts.uri = target.parse().unwrap();
                body
            }
            _ => {
                let text = String::from_utf8(body.to_vec()).unwrap();
                assert!(text.contains("Token=CAIS9"), "{text}");
                Bytes::from(text.replace("Token=CAIS9", "Token=CAIS8"))
            }
        };
        assert_eq!(send_to(client, store(), parts, body).await.0, client.signature_mismatch(), "{client:?}");
    }
    let (mut parts, body) = Client::Tc3.sign(TEMP, TEMP_SECRET, Some(TOKEN));
    parts.headers.insert("x-tc-token", HeaderValue::from_static(OTHER_TOKEN));
    assert_eq!(send_to(Client::Tc3, store(), parts, body).await.0, answer(200, "AuthFailure.TokenFailure"));
}

/// A scheme whose clients send no token (the API Gateway app signature) cannot be used with
/// a temporary key, and its signer will not drop a token it was given.
#[tokio::test]
async fn a_scheme_without_tokens_refuses_temporary_keys() {
    let (mut parts, ()) = Request::get("http://api.example.com/orders").body(()).unwrap().into_parts();
    let mut body = Bytes::new();
    let mut body_bytes = Bytes::new();
    let secret = TEMP_SECRET.into();
    let err = AliyunApiGateway::new().sign_with_token(&mut parts, &mut body_bytes, TEMP, &secret, Some(TOKEN), now());
    assert!(err.is_err(), "the app signature has no token to send");
    AliyunApiGateway::new().sign_with_token(&mut parts, &mut body_bytes, TEMP, &secret, None, now()).unwrap();
    let layer =
        SignatureLayer::new(AliyunApiGateway::new(), store()).clock(ManualClock::at_unix(Duration::from_secs(NOW)));
    let response = layer
        .layer(service_fn(handler))
        .oneshot(Request::from_parts(parts.clone(), Full::new(body_bytes.clone())))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST, "refused as the scheme refuses an unknown key");
    assert_eq!(
        AliyunApiGateway::new().token_refused(TEMP, tollgate_signature::TokenProblem::Missing).status(),
        AliyunApiGateway::new().unknown_key(TEMP).status()
    );
    // the same request signed with a permanent key passes
    let (mut parts, ()) = Request::get("http://api.example.com/orders").body(()).unwrap().into_parts();
    AliyunApiGateway::new().sign(&mut parts, &mut body, PERM, &PERM_SECRET.into(), now()).unwrap();
    let layer =
        SignatureLayer::new(AliyunApiGateway::new(), store()).clock(ManualClock::at_unix(Duration::from_secs(NOW)));
    let response = layer.layer(service_fn(handler)).oneshot(Request::from_parts(parts, Full::new(body))).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[test]
fn the_memory_store_answers_by_key_token_and_time() {
    let s = store();
    assert_eq!(s.token_status(TEMP, TOKEN, now()), TokenStatus::Valid);
    assert_eq!(s.token_status(TEMP, OLD_TOKEN, now()), TokenStatus::Expired);
    assert_eq!(s.token_status(TEMP, OLD_TOKEN, now() - Duration::from_secs(1)), TokenStatus::Valid);
    assert_eq!(s.token_status(OTHER, TOKEN, now()), TokenStatus::OtherKey);
    assert_eq!(s.token_status(TEMP, "", now()), TokenStatus::Unknown);
    assert_eq!(s.token_status(TEMP, &TOKEN[1..], now()), TokenStatus::Unknown);
    assert!(s.get(TEMP).unwrap().is_temporary());
    assert!(!s.get(PERM).unwrap().is_temporary());
    assert_ne!(KeyRecord::new("s").temporary(true), KeyRecord::new("s"), "a temporary record is another record");
}

/// The in-memory store, answering only when awaited: the layer's boxed path.
struct Awaited(MemorySecretStore);

impl SecretStore for Awaited {
    fn lookup(&self, key_id: &str) -> impl Future<Output = Result<Option<Arc<KeyRecord>>, StoreError>> + Send {
        let found = self.0.get(key_id);
        async move {
            tokio::task::yield_now().await;
            Ok(found)
        }
    }

    fn check_token(
        &self,
        key_id: &str,
        token: &str,
        now: SystemTime,
    ) -> impl Future<Output = Result<TokenStatus, StoreError>> + Send {
        let status = self.0.token_status(key_id, token, now);
        async move {
            tokio::task::yield_now().await;
            Ok(status)
        }
    }
}

/// A store that implements only what existed before tokens, answering at once.
struct KnowsNoTokens(MemorySecretStore);

impl SecretStore for KnowsNoTokens {
    fn lookup(&self, key_id: &str) -> impl Future<Output = Result<Option<Arc<KeyRecord>>, StoreError>> + Send {
        std::future::ready(Ok(self.0.get(key_id)))
    }

    fn lookup_at_once(&self, key_id: &str) -> Option<Result<Option<Arc<KeyRecord>>, StoreError>> {
        Some(Ok(self.0.get(key_id)))
    }
}

/// A store whose token check fails.
struct FailsOnTokens(MemorySecretStore);

impl SecretStore for FailsOnTokens {
    fn lookup(&self, key_id: &str) -> impl Future<Output = Result<Option<Arc<KeyRecord>>, StoreError>> + Send {
        std::future::ready(Ok(self.0.get(key_id)))
    }

    fn check_token(
        &self,
        _: &str,
        _: &str,
        _: SystemTime,
    ) -> impl Future<Output = Result<TokenStatus, StoreError>> + Send {
        std::future::ready(Err(StoreError::Unavailable("token service down".into())))
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]

    /// Any token a client can send (any text in the signed parameters, visible ASCII in
    /// TC3's header): the one issued passes, any other is refused as malformed, none panics.
    #[test]
    fn only_the_issued_token_passes(issued in "[ -~]{1,60}", sent in "\\PC{0,60}", scheme in 0usize..4) {
        let client = Client::ALL[scheme];
        let sent = match client {
            Client::Tc3 => sent.chars().filter(|c| (' '..='~').contains(c)).collect::<String>(),
            _ => sent,
        };
        let issued_trimmed = issued.trim();
        proptest::prop_assume!(!issued_trimmed.is_empty());
        let store = MemorySecretStore::new().with_temporary_key(TEMP, TEMP_SECRET, issued_trimmed, now() + Duration::from_secs(60));
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let (got, _) = runtime.block_on(send(client, store.clone(), TEMP, TEMP_SECRET, Some(issued_trimmed)));
        proptest::prop_assert_eq!(got, answer(200, "ok"));
        let sent_read = match client {
            Client::Tc3 => sent.trim(),
            _ => sent.as_str(),
        };
        if sent_read != issued_trimmed {
            let (got, _) = runtime.block_on(send(client, store, TEMP, TEMP_SECRET, Some(&sent)));
            proptest::prop_assert_eq!(got, client.refused(malformed()));
        }
    }
}
