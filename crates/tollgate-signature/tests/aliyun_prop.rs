//! For random requests with awkward names and values, what the Aliyun signers sign the
//! verifiers accept, and any change to the method, path, a signed parameter, a signed header
//! or a covered body is refused; the strings to sign equal independent models of what the
//! official clients compute (npm `aliyun-api-gateway`, `aliyun-python-sdk-core`).

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::request::Parts;
use http::{HeaderName, HeaderValue, Method, Request};
use proptest::prelude::*;
use tollgate_core::Rejection;
use tollgate_signature::HmacAlg;
use tollgate_signature::aliyun_apigw::{self, AliyunApiGateway};
use tollgate_signature::aliyun_rpc::{self, AliyunRpc};
use tollgate_signature::fuzzing::decoded_pairs;
use tollgate_signature::{RequestView, Scheme, Secret, Signer, Verified};

const KEY_ID: &str = "203999001";
const SECRET: &str = "prop-secret";
const NOW: u64 = 1_795_364_154;

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(NOW)
}

/// Values users really send: non-ASCII, spaces, `+ * ~ / = &`, emoji, empty.
fn awkward() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("张三 李四".to_owned()),
        Just("a+b".to_owned()),
        Just("x*y~z/w".to_owned()),
        Just("a=b&c d".to_owned()),
        Just("😀".to_owned()),
        Just("%41%zz%".to_owned()),
        "[a-zA-Z0-9 +*~/=&%.-]{0,12}",
        "\\PC{0,6}",
    ]
}

/// Parameter names: mostly plain, some awkward (non-ASCII, `+`, `~`, `*`, space).
fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-z][a-zA-Z0-9_]{0,7}",
        1 => "[a-z][a-z~*+ .é张😀\u{FF01}-]{0,5}",
    ]
}

/// Distinct names, so "change a parameter" changes what is signed.
fn params() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::btree_map(name(), awkward(), 0..6).prop_map(|m| m.into_iter().collect())
}

fn encode(pairs: &[(String, String)]) -> String {
    form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish()
}

#[derive(Debug, Clone)]
struct Case {
    method: Method,
    path: String,
    query: Vec<(String, String)>,
    /// Repeat the first query parameter with this value.
    repeat: Option<String>,
    body: Body,
    header: Option<String>,
    sha1: bool,
}

#[derive(Debug, Clone)]
enum Body {
    None,
    Form(Vec<(String, String)>),
    Json(String),
}

fn case() -> impl Strategy<Value = Case> {
    (
        prop_oneof![Just(Method::GET), Just(Method::POST), Just(Method::PUT), Just(Method::DELETE)],
        prop::collection::vec("[a-zA-Z0-9_.~-]{1,8}|%E5%BC%A0|%20", 0..4).prop_map(|s| format!("/{}", s.join("/"))),
        params(),
        prop::option::weighted(0.2, awkward()),
        prop_oneof![
            Just(Body::None),
            params().prop_map(Body::Form),
            awkward().prop_map(|v| Body::Json(serde_json::json!({ "v": v }).to_string())),
        ],
        prop::option::of("[a-zA-Z0-9 ]{1,10}"),
        any::<bool>(),
    )
        .prop_map(|(method, path, query, repeat, body, header, sha1)| Case {
            method,
            path,
            query,
            repeat,
            body,
            header,
            sha1,
        })
}

fn build(c: &Case) -> (Parts, Bytes) {
    let mut query = c.query.clone();
    if let (Some(extra), Some((first, _))) = (&c.repeat, c.query.first()) {
        query.push((first.clone(), extra.clone()));
    }
    let target = if query.is_empty() { c.path.clone() } else { format!("{}?{}", c.path, encode(&query)) };
    let mut b = Request::builder().method(c.method.clone()).uri(target).header("accept", "application/json");
    let body = match &c.body {
        Body::None => Bytes::new(),
        Body::Form(p) => {
            b = b.header("content-type", "application/x-www-form-urlencoded; charset=UTF-8");
            Bytes::from(encode(p))
        }
        Body::Json(j) => {
            b = b.header("content-type", "application/json; charset=UTF-8");
            Bytes::from(j.clone())
        }
    };
    if let Some(h) = &c.header {
        b = b.header("x-custom", h.as_str());
    }
    (b.body(()).unwrap().into_parts().0, body)
}

/// Verifies as `SignatureLayer` does: the body only when the scheme asks for it.
fn verify<S: Scheme>(s: &S, parts: &Parts, body: &[u8]) -> Result<Verified, Rejection> {
    let body = s.needs_body(&parts.method, &parts.headers).then_some(body);
    let view = RequestView { method: &parts.method, uri: &parts.uri, headers: &parts.headers, body };
    let parsed = s.parse(&view)?;
    if s.key_id(&parsed) != KEY_ID {
        return Err(s.unknown_key(s.key_id(&parsed)));
    }
    s.verify(&view, &parsed, &[Secret::from(SECRET)], now())
}

/// Whether the case's parameters can be read more than one way: a name in both the query
/// and a form body, or (`repeats_too`) a name repeated in the query. The verifiers refuse such
/// requests, so the signers refuse to sign them. The API Gateway accepts a repeated name, the
/// form its official clients send a list in, and signs its values in order.
fn ambiguous(c: &Case, repeats_too: bool) -> bool {
    let in_form = |name: &String| matches!(&c.body, Body::Form(f) if f.iter().any(|(k, _)| k == name));
    (repeats_too && c.repeat.is_some() && !c.query.is_empty()) || c.query.iter().any(|(k, _)| in_form(k))
}

/// Signing an ambiguous case fails; `true` if it was one.
fn refuses_ambiguous<S: Signer>(s: &S, c: &Case, repeats_too: bool) -> bool {
    if !ambiguous(c, repeats_too) {
        return false;
    }
    let (mut parts, mut body) = build(c);
    assert!(s.sign(&mut parts, &mut body, KEY_ID, &Secret::from(SECRET), now()).is_err(), "signed {c:?}");
    true
}

fn sign<S: Signer>(s: &S, c: &Case) -> (Parts, Bytes) {
    let (mut parts, mut body) = build(c);
    s.sign(&mut parts, &mut body, KEY_ID, &Secret::from(SECRET), now()).unwrap();
    (parts, body)
}

fn with_query(parts: &Parts, q: &[(String, String)]) -> Parts {
    let mut p = parts.clone();
    p.uri = format!("{}?{}", parts.uri.path(), encode(q)).parse().unwrap();
    p
}

/// Every way of changing a signed request that both schemes cover (`path` only for the
/// API Gateway: the RPC string to sign has no path).
fn tampered(parts: &Parts, body: &Bytes, c: &Case, with_path: bool) -> Vec<(String, Parts, Bytes)> {
    let mut out = Vec::new();
    let mut p = parts.clone();
    p.method = if parts.method == Method::PATCH { Method::GET } else { Method::PATCH };
    out.push(("method".into(), p, body.clone()));
    if with_path {
        let mut p = parts.clone();
        let pq = parts.uri.path_and_query().unwrap().as_str();
        p.uri = format!("/x{pq}").parse().unwrap();
        out.push(("path".into(), p, body.clone()));
    }
    let wire: Vec<(String, String)> = decoded_pairs(parts.uri.query().unwrap_or("").as_bytes());
    let form_names: Vec<String> = match &c.body {
        Body::Form(f) => f.iter().map(|(k, _)| k.clone()).collect(),
        _ => Vec::new(),
    };
    // (a name in both places is refused before it is signed: see `ambiguous`)
    if let Some((name, _)) = c.query.iter().find(|(k, _)| !form_names.contains(k)) {
        let mut q = wire.clone();
        q.iter_mut().find(|(k, _)| k == name).unwrap().1.push('!');
        out.push((format!("query value {name}"), with_query(parts, &q), body.clone()));
        let mut q = wire.clone();
        let i = q.iter().position(|(k, _)| k == name).unwrap();
        let dup = q[i].clone();
        q.insert(i + 1, (dup.0, format!("{}?", dup.1)));
        out.push((format!("query value added under {name}"), with_query(parts, &q), body.clone()));
        let mut q = wire.clone();
        q.retain(|(k, _)| k != name);
        out.push((format!("query {name} removed"), with_query(parts, &q), body.clone()));
    }
    let mut q = wire.clone();
    q.push(("zz-added".into(), "1".into()));
    out.push(("query parameter added".into(), with_query(parts, &q), body.clone()));
    if !body.is_empty() {
        let mut b = body.to_vec();
        let i = b.len() / 2;
        b[i] = if b[i] == b'0' { b'1' } else { b'0' };
        if decoded_pairs(&b) != decoded_pairs(body) || !matches!(c.body, Body::Form(_)) {
            out.push(("body byte".into(), parts.clone(), Bytes::from(b)));
        }
    }
    out
}

/// The npm client's `buildUrl`: query (Node's `querystring.parse`, repeated names as arrays)
/// `Object.assign`-ed with the form fields, keys sorted in UTF-16 order, `key=value` (arrays
/// joined by commas) or `key` when the value is empty.
fn npm_path_and_params(path: &str, query: &str, form: Option<&[u8]>) -> String {
    let mut merged: BTreeMap<Vec<u16>, (String, Vec<String>)> = BTreeMap::new();
    let mut add = |source: &[(String, String)], replace: bool| {
        let mut this: BTreeMap<Vec<u16>, (String, Vec<String>)> = BTreeMap::new();
        for (k, v) in source {
            this.entry(k.encode_utf16().collect()).or_insert_with(|| (k.clone(), Vec::new())).1.push(v.clone());
        }
        for (key, value) in this {
            if replace || !merged.contains_key(&key) {
                merged.insert(key, value);
            }
        }
    };
    add(&decoded_pairs(query.as_bytes()), true);
    if let Some(form) = form {
        add(&decoded_pairs(form), true);
    }
    let list: Vec<String> = merged
        .values()
        .map(|(k, values)| {
            let joined = values.join(",");
            if joined.is_empty() { k.clone() } else { format!("{k}={joined}") }
        })
        .collect();
    if list.is_empty() { path.to_owned() } else { format!("{path}?{}", list.join("&")) }
}

/// Python's `quote_plus` then the SDK's `__pop_standard_urlencode`, then `pathname2url`
/// (`quote` with `/` safe) and the replacements again: the Python SDK's canonical string.
fn python_string_to_sign(method: &Method, params: &[(String, String)]) -> String {
    fn quote(s: &str, safe: &[u8], plus: bool) -> String {
        let mut out = String::new();
        for &b in s.as_bytes() {
            if b.is_ascii_alphanumeric() || b"_.-~".contains(&b) || safe.contains(&b) {
                out.push(char::from(b));
            } else if plus && b == b' ' {
                out.push('+');
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        }
        out
    }
    fn pop_standard(s: &str) -> String {
        s.replace('+', "%20").replace('*', "%2A").replace("%7E", "~")
    }
    let mut sorted: Vec<&(String, String)> = params.iter().filter(|(k, _)| k != "Signature").collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let urlencoded: Vec<String> =
        sorted.iter().map(|(k, v)| format!("{}={}", quote(k, b"", true), quote(v, b"", true))).collect();
    let sorted_query = pop_standard(&urlencoded.join("&"));
    format!("{method}&%2F&{}", pop_standard(&quote(&sorted_query, b"/", false)))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn aliyun_api_gateway_sign_then_verify(c in case()) {
        let alg = if c.sha1 { HmacAlg::Sha1 } else { HmacAlg::Sha256 };
        let scheme = AliyunApiGateway::new().signature_method(alg).sign_header(HeaderName::from_static("x-custom"));
        if refuses_ambiguous(&scheme, &c, false) {
            return Ok(());
        }
        let (parts, body) = sign(&scheme, &c);
        let v = verify(&scheme, &parts, &body);
        prop_assert!(v.is_ok(), "{:?}: {:?}", c, v);
        let nonce = v.unwrap().nonce;
        prop_assert_eq!(nonce.as_deref(), parts.headers["x-ca-nonce"].to_str().ok());
        prop_assert_eq!(parts.headers.contains_key("content-md5"), matches!(&c.body, Body::Json(_)));
        let mut changes = tampered(&parts, &body, &c, true);
        if c.header.is_some() {
            let mut p = parts.clone();
            p.headers.insert("x-custom", HeaderValue::from_static("changed"));
            changes.push(("signed header".into(), p, body.clone()));
        }
        for name in ["x-ca-timestamp", "x-ca-nonce", "x-ca-key", "accept"] {
            let mut p = parts.clone();
            let mut value = p.headers[name].as_bytes().to_vec();
            value.push(b'0');
            p.headers.insert(name, HeaderValue::from_bytes(&value).unwrap());
            changes.push((format!("header {name}"), p, body.clone()));
        }
        for (what, p, b) in changes {
            let r = verify(&scheme, &p, &b);
            prop_assert!(r.is_err(), "changed {} but verified: {:?}", what, c);
        }
        // an unsigned header is free
        let mut p = parts.clone();
        p.headers.insert("x-unsigned", HeaderValue::from_static("1"));
        prop_assert!(verify(&scheme, &p, &body).is_ok());
    }

    #[test]
    fn aliyun_api_gateway_string_is_the_node_clients(c in case()) {
        let (parts, body) = build(&c);
        let form = matches!(c.body, Body::Form(_)).then_some(&body[..]);
        let sts = aliyun_apigw::string_to_sign(&parts.method, &parts.uri, &parts.headers, Some(&body), &[]);
        let last = sts.rsplit('\n').next().unwrap().to_owned();
        let model = npm_path_and_params(parts.uri.path(), parts.uri.query().unwrap_or(""), form);
        prop_assert_eq!(last, model);
    }

    #[test]
    fn aliyun_rpc_sign_then_verify(c in case()) {
        // RPC signs parameters, not the path or a JSON body
        let c = Case { path: "/".into(), body: match c.body { Body::Json(_) => Body::None, b => b }, ..c };
        let alg = if c.sha1 { HmacAlg::Sha1 } else { HmacAlg::Sha256 };
        let scheme = AliyunRpc::new().signature_method(alg);
        if refuses_ambiguous(&scheme, &c, true) {
            return Ok(());
        }
        let (parts, body) = sign(&scheme, &c);
        let v = verify(&scheme, &parts, &body);
        prop_assert!(v.is_ok(), "{:?}: {:?}", c, v);
        prop_assert!(v.unwrap().nonce.is_some_and(|n| n.len() == 32));
        let mut changes = tampered(&parts, &body, &c, false);
        let wire = decoded_pairs(parts.uri.query().unwrap().as_bytes());
        for name in ["AccessKeyId", "SignatureNonce", "SignatureMethod", "SignatureVersion", "Format"] {
            let mut q = wire.clone();
            q.iter_mut().find(|(k, _)| k == name).unwrap().1.push('0');
            changes.push((format!("parameter {name}"), with_query(&parts, &q), body.clone()));
        }
        for (what, p, b) in changes {
            let r = verify(&scheme, &p, &b);
            prop_assert!(r.is_err(), "changed {} but verified: {:?}", what, c);
            // a mismatch on a known key carries the server's string, which the SDK reads
            if let Err(e) = r {
                prop_assert!(e.code() != "SignatureDoesNotMatch" || e.message().contains("server string to sign is:"));
            }
        }
    }

    #[test]
    fn aliyun_rpc_string_is_the_python_sdks(params in params(), post in any::<bool>()) {
        let method = if post { Method::POST } else { Method::GET };
        prop_assert_eq!(aliyun_rpc::string_to_sign(&method, &params), python_string_to_sign(&method, &params));
    }
}
