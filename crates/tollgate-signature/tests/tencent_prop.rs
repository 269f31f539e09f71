//! Sign then verify, for random requests with awkward values: the Tencent Cloud schemes (TC3,
//! v1 HmacSHA1 / HmacSHA256) accept what their signer produced and refuse any change to the
//! method, the path, a signed parameter, a signed header or a covered body; the Tencent API
//! Gateway key pair covers exactly the listed headers (a changed query still passes, as
//! documented).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::request::Parts;
use http::{HeaderValue, Method, Request, Uri};
use proptest::prelude::*;
use tollgate_core::Rejection;
use tollgate_signature::HmacAlg;
use tollgate_signature::tencent_apigw::TencentApiGateway;
use tollgate_signature::tencent_cloud::TencentCloud;
use tollgate_signature::{RequestView, Scheme, Secret, Signer, Verified};

const KEY_ID: &str = "AKIDprop000000000000000000000000001";
const SECRET: &str = "propSecret-0000000000000000000000001";
const NOW: u64 = 1_795_364_129;

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(NOW)
}

/// Verifies as `SignatureLayer` does: the body only when the scheme asks for it.
fn verify<Sc: Scheme>(scheme: &Sc, parts: &Parts, body: &[u8], at: SystemTime) -> Result<Verified, Rejection> {
    let body = scheme.needs_body(&parts.method, &parts.headers).then_some(body);
    let view = RequestView { method: &parts.method, uri: &parts.uri, headers: &parts.headers, body };
    let parsed = scheme.parse(&view)?;
    if scheme.key_id(&parsed) != KEY_ID {
        return Err(scheme.unknown_key(scheme.key_id(&parsed)));
    }
    scheme.verify(&view, &parsed, &[Secret::from(SECRET)], at)
}

fn sign<Sg: Signer>(signer: &Sg, parts: &mut Parts, body: &mut Bytes) {
    signer.sign(parts, body, KEY_ID, &Secret::from(SECRET), now()).expect("signs");
}

/// Awkward text: non-ASCII with spaces, `+ * ~ / = &`, `%`, `_`, an emoji, or nothing.
fn awkward() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("张三 李四"),
        Just("+"),
        Just("*"),
        Just("~"),
        Just("/"),
        Just("="),
        Just("&"),
        Just("%"),
        Just("%2B"),
        Just("_"),
        Just(" "),
        Just("😀"),
        Just("a"),
        Just("Z9"),
        Just("é"),
    ];
    prop::collection::vec(piece, 0..5).prop_map(|p| p.concat())
}

/// Parameter names: never one of the signature's own (`Signature`, `SecretId`, ...).
fn name() -> impl Strategy<Value = String> {
    (prop_oneof![Just("p"), Just("Filters_"), Just("Limit."), Just("名")], awkward())
        .prop_map(|(a, b)| format!("{a}{b}"))
}

fn params() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::vec((name(), awkward()), 1..6)
}

/// A path of awkward segments, percent-encoded as a client would send it.
fn path() -> impl Strategy<Value = String> {
    prop::collection::vec(awkward(), 0..3).prop_map(|segments| {
        let encoded: Vec<String> = segments
            .iter()
            .map(|s| percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string())
            .collect();
        format!("/{}", encoded.join("/"))
    })
}

fn form(params: &[(String, String)]) -> String {
    form_urlencoded::Serializer::new(String::new()).extend_pairs(params).finish()
}

#[derive(Debug, Clone, Copy)]
enum Shape {
    Get,
    PostJson,
    PostForm,
    /// v1 only: a form body and a query, each with some of the parameters.
    PostFormAndQuery,
}

fn shape() -> impl Strategy<Value = Shape> {
    prop_oneof![Just(Shape::Get), Just(Shape::PostJson), Just(Shape::PostForm)]
}

/// The unsigned request: parameters in the query (GET), a JSON body or a form body (POST).
fn request(shape: Shape, path: &str, params: &[(String, String)]) -> (Parts, Bytes) {
    let (method, target, content_type, body) = match shape {
        Shape::Get => {
            (Method::GET, format!("{path}?{}", form(params)), "application/x-www-form-urlencoded", Bytes::new())
        }
        Shape::PostJson => {
            let object: serde_json::Map<String, serde_json::Value> =
                params.iter().map(|(k, v)| (k.clone(), serde_json::Value::from(v.as_str()))).collect();
            (Method::POST, path.to_owned(), "application/json", Bytes::from(serde_json::to_vec(&object).unwrap()))
        }
        Shape::PostForm => {
            (Method::POST, path.to_owned(), "application/x-www-form-urlencoded", Bytes::from(form(params)))
        }
        Shape::PostFormAndQuery => {
            let (query, body) = params.split_at(params.len() / 2);
            let target = format!("{path}?{}", form(query));
            (Method::POST, target, "application/x-www-form-urlencoded", Bytes::from(form(body)))
        }
    };
    let (parts, ()) = Request::builder()
        .method(method)
        .uri(target)
        .header("host", "cvm.tencentcloudapi.com")
        .header("content-type", content_type)
        .body(())
        .unwrap()
        .into_parts();
    (parts, body)
}

fn with_target(parts: &Parts, target: &str) -> Parts {
    let mut p = parts.clone();
    p.uri = target.parse::<Uri>().unwrap();
    p
}

/// Every way of changing a signed request that must be refused, with a name for the report.
fn tampered(parts: &Parts, body: &Bytes, covers_content_type: bool) -> Vec<(&'static str, Parts, Bytes)> {
    let mut out = Vec::new();
    let target = parts.uri.path_and_query().unwrap().as_str().to_owned();

    let mut p = parts.clone();
    p.method = if p.method == Method::GET { Method::PUT } else { Method::GET };
    out.push(("method", p, body.clone()));

    out.push(("path", with_target(parts, &target.replacen('/', "/x", 1)), body.clone()));

    let mut p = parts.clone();
    p.headers.insert("host", HeaderValue::from_static("cbs.tencentcloudapi.com"));
    out.push(("host header", p, body.clone()));

    if covers_content_type {
        let mut p = parts.clone();
        p.headers.insert("content-type", HeaderValue::from_static("text/plain"));
        out.push(("content-type header", p, body.clone()));
    }

    // a signed parameter: the first value of the query or the body gains a character
    let mark = |text: &str| text.replacen('=', "=%21", 1);
    if parts.uri.query().is_some_and(|q| q.contains('=')) {
        out.push(("query parameter", with_target(parts, &mark(&target)), body.clone()));
    }
    if parts.method == Method::GET {
        // the query is its only place
    } else if body.first() == Some(&b'{') {
        let text = String::from_utf8(body.to_vec()).unwrap();
        out.push(("JSON body", parts.clone(), Bytes::from(text.replacen("\":\"", "\":\"!", 1))));
    } else {
        let text = String::from_utf8(body.to_vec()).unwrap();
        out.push(("form parameter", parts.clone(), Bytes::from(mark(&text))));
    }

    if parts.method != Method::GET && !body.is_empty() {
        // (prepended: a v1 form ends with its own, unsigned, `Signature`)
        let mut b = vec![b'x'];
        b.extend_from_slice(body);
        out.push(("body byte prepended", parts.clone(), Bytes::from(b)));
    }
    out
}

fn check_round_trip(
    scheme: &TencentCloud,
    signer: &TencentCloud,
    shape: Shape,
    path: &str,
    params: &[(String, String)],
    tc3: bool,
) -> Result<(), TestCaseError> {
    let (mut parts, mut body) = request(shape, path, params);
    sign(signer, &mut parts, &mut body);
    let verified = verify(scheme, &parts, &body, now() + Duration::from_secs(30));
    prop_assert!(verified.is_ok(), "signed request refused: {:?}\n{:?}", verified.err(), parts);
    let verified = verified.unwrap();
    // v1 has its Nonce; TC3 none, unless told to remember signatures
    prop_assert_eq!(verified.nonce.is_some(), !tc3);
    prop_assert_eq!(verified.timestamp, Some(now()));

    for (what, p, b) in tampered(&parts, &body, tc3) {
        let r = verify(scheme, &p, &b, now());
        prop_assert!(r.is_err(), "{} changed but accepted: {:?} {:?}", what, p, b);
    }
    let r = verify(scheme, &parts, &body, now() + Duration::from_secs(301));
    let code = r.unwrap_err().code().to_owned();
    prop_assert_eq!(code, "AuthFailure.SignatureExpire");
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(192))]

    #[test]
    fn tc3_sign_then_verify(shape in shape(), path in path(), params in params()) {
        let scheme = TencentCloud::new();
        check_round_trip(&scheme, &TencentCloud::new().sign_service("cvm"), shape, &path, &params, true)?;
    }

    #[test]
    fn v1_sign_then_verify(
        shape in prop_oneof![Just(Shape::Get), Just(Shape::PostForm), Just(Shape::PostFormAndQuery)],
        sha256 in any::<bool>(),
        path in path(),
        params in params(),
    ) {
        // The SDK sends v1 parameters in the query (GET) or a form body (POST), each name
        // once; a POST may also carry some in its query, signed with the form (names signed alike, `_` as `.`, are refused: see `v1_refuses_names_signed_alike`).
        let mut seen = std::collections::HashSet::new();
        let params: Vec<(String, String)> = params.into_iter().filter(|(k, _)| seen.insert(k.replace('_', "."))).collect();
        let alg = if sha256 { HmacAlg::Sha256 } else { HmacAlg::Sha1 };
        check_round_trip(&TencentCloud::new(), &TencentCloud::new().sign_v1(alg), shape, &path, &params, false)?;
    }

    #[test]
    fn v1_refuses_names_signed_alike(get in any::<bool>(), path in path(), params in params(), underscore in any::<bool>()) {
        // a name given twice, or beside its `_`/`.` twin: the signer refuses, and so does the
        // verifier, the repeated pair added to a request signed without it
        let (name, value) = params[0].clone();
        let twin = if underscore { name.replace('_', ".") } else { name.clone() };
        let mut repeated = params.clone();
        repeated.push((twin, value));
        let shape = if get { Shape::Get } else { Shape::PostForm };
        let signer = TencentCloud::new().sign_v1(HmacAlg::Sha1);
        let (mut parts, mut body) = request(shape, &path, &repeated);
        prop_assert!(signer.sign(&mut parts, &mut body, KEY_ID, &Secret::from(SECRET), now()).is_err());
        let mut seen = std::collections::HashSet::new();
        let distinct: Vec<(String, String)> = params.into_iter().filter(|(k, _)| seen.insert(k.replace('_', "."))).collect();
        let (mut parts, mut body) = request(shape, &path, &distinct);
        sign(&signer, &mut parts, &mut body);
        let extra = form(&repeated[repeated.len() - 1..]);
        let (parts, body) = match shape {
            Shape::Get => (with_target(&parts, &format!("{}&{extra}", parts.uri.path_and_query().unwrap())), body),
            _ => (parts, Bytes::from(format!("{}&{extra}", String::from_utf8_lossy(&body)))),
        };
        let refused = verify(&TencentCloud::new(), &parts, &body, now()).unwrap_err();
        prop_assert_eq!(refused.code(), "InvalidParameter");
    }

    #[test]
    fn tc3_unsigned_payload_covers_the_head_only(path in path(), params in params(), extra in awkward()) {
        let (mut parts, mut body) = request(Shape::PostJson, &path, &params);
        parts.headers.insert("x-tc-content-sha256", HeaderValue::from_static("UNSIGNED-PAYLOAD"));
        sign(&TencentCloud::new().sign_service("cvm"), &mut parts, &mut body);
        let scheme = TencentCloud::new();
        prop_assert!(!Scheme::needs_body(&scheme, &parts.method, &parts.headers));
        let mut other = body.to_vec();
        other.extend_from_slice(extra.as_bytes());
        prop_assert!(verify(&scheme, &parts, &other, now()).is_ok());
        let mut p = parts.clone();
        p.headers.insert("host", HeaderValue::from_static("cbs.tencentcloudapi.com"));
        prop_assert!(verify(&scheme, &p, &body, now()).is_err());
    }

    #[test]
    fn key_pair_covers_exactly_the_listed_headers(
        source in "[ -~]{0,24}",
        custom in "[!-~]([ -~]{0,16}[!-~])?",
        sha256 in any::<bool>(),
        params in params(),
        path in path(),
    ) {
        let alg = if sha256 { HmacAlg::Sha256 } else { HmacAlg::Sha1 };
        let signer = TencentApiGateway::new().algorithm(alg).sign_header(http::HeaderName::from_static("source")).sign_header(http::HeaderName::from_static("x-custom"));
        let (mut parts, ()) = Request::get(format!("{path}?{}", form(&params)))
            .header("source", source.trim())
            .header("x-custom", custom.as_str())
            .body(())
            .unwrap()
            .into_parts();
        let mut body = Bytes::new();
        sign(&signer, &mut parts, &mut body);
        let auth = parts.headers["authorization"].to_str().unwrap().to_owned();
        prop_assert!(auth.contains(r#"headers="x-date source x-custom""#), "{}", auth);

        let scheme = TencentApiGateway::new();
        prop_assert!(verify(&scheme, &parts, &body, now() + Duration::from_secs(60)).is_ok());

        // Not covered, by design: the query, the path, the method, the body, other headers.
        let mut p = with_target(&parts, &format!("/other?{}&extra=1", form(&params)));
        p.method = Method::POST;
        p.headers.insert("x-unsigned", HeaderValue::from_static("anything"));
        prop_assert!(verify(&scheme, &p, b"a body", now()).is_ok());

        // Covered: each listed header, and the date.
        for (name, value) in [("source", "changed"), ("x-custom", "changed"), ("x-date", "Mon, 23 Nov 2026 00:00:00 GMT")] {
            let mut p = parts.clone();
            p.headers.insert(name, HeaderValue::from_static(value));
            if parts.headers[name] != value {
                prop_assert!(verify(&scheme, &p, &body, now()).is_err(), "{} changed but accepted", name);
            }
        }
        let mut p = parts.clone();
        p.headers.remove("x-custom");
        prop_assert!(verify(&scheme, &p, &body, now()).is_err());
        prop_assert!(verify(&scheme, &parts, &body, now() + Duration::from_secs(901)).is_err());
    }
}
