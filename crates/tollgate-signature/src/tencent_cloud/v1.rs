//! The v1 signature (`Signature` parameter, HmacSHA1 or HmacSHA256): the parameters read
//! once and sorted, the string to sign written from them as sent or decoded, and the signer.

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HOST};
use http::{HeaderValue, Method};
use tollgate_core::Rejection;

use super::{Parsed, V1Params, not_a_header_value, refusal, repeated_header};
use crate::HmacAlg;
use crate::form::{AmbiguousParams, decode_component, decode_step, decoded_pairs, each_param, form_body};
use crate::mac::{SignatureBytes, base64_encode, hmac};
use crate::name_order::{NameOrder, Sought};
use crate::raw_params::RawParam;
use crate::scheme::{Credentials, RequestView, SignError};
use crate::sorted_params::Params;

/// Reads a request without an `Authorization` header: its `Signature` and the parameters
/// it signs.
pub(super) fn parse<'r>(req: &RequestView<'r>) -> Result<Parsed<'r>, Rejection> {
    // v1 signs the host, and the parameters of a body that is a form
    for name in [HOST, CONTENT_TYPE] {
        if req.headers.get_all(&name).iter().nth(1).is_some() {
            return Err(repeated_header(name.as_str()));
        }
    }
    let params = Params::sorted(req.uri.query().unwrap_or(""), form_body(req), NameOrder::UnderscoreAsDot)
        .map_err(ambiguous_params)?;
    const SOUGHT: [Sought; 5] = [
        Sought::new("Signature"),
        Sought::new("SignatureMethod"),
        Sought::new("SecretId"),
        Sought::new("Timestamp"),
        Sought::new("Nonce"),
    ];
    let [signature, method, key, timestamp, nonce] = params.first_of_each(&SOUGHT);
    // a value read once is decoded on the stack; one kept, only if it needs it
    let mut buf = [0u8; 128];
    let Some(signature) = params.read(signature, &mut buf).map(|s| SignatureBytes::from_base64(&s)) else {
        return Err(refusal(
            "MissingParameter",
            "The request has neither an Authorization header (TC3-HMAC-SHA256) nor a `Signature` parameter.",
        ));
    };
    let alg = match params.read(method, &mut buf).as_deref() {
        None | Some("HmacSHA1") => HmacAlg::Sha1,
        Some("HmacSHA256") => HmacAlg::Sha256,
        Some(other) => {
            return Err(refusal(
                "InvalidParameter",
                format!("SignatureMethod {other:?} is not HmacSHA1 or HmacSHA256."),
            ));
        }
    };
    let Some(key) = params.keep(key).filter(|k| !k.is_empty()) else {
        return Err(refusal("MissingParameter", "The parameter `SecretId` is required."));
    };
    let (timestamp, nonce) = (params.keep(timestamp), params.keep(nonce));
    Ok(Parsed::V1 { alg, signature, key, timestamp, nonce, params: V1Params(params) })
}

/// The refusal of v1 parameters that can be read more than one way.
fn ambiguous_params(ambiguity: AmbiguousParams) -> Rejection {
    let message = match ambiguity {
        AmbiguousParams::QueryAndForm => "A parameter is in both the query and the form body.",
        AmbiguousParams::Repeated => "A parameter is given more than once (`_` in a name is signed as `.`).",
        AmbiguousParams::NotUtf8 => "A parameter is not UTF-8 once percent-decoded.",
    };
    refusal("InvalidParameter", message)
}

/// The v1 string to sign: method, host, path, `?`, the decoded parameters sorted by name
/// with `_` in names written `.`, as the SDK signs them.
pub fn v1_string_to_sign<K: AsRef<str>, V: AsRef<str>>(
    method: &Method,
    host: &str,
    path: &str,
    params: &[(K, V)],
) -> String {
    let mut pairs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (k.as_ref(), v.as_ref())).collect();
    pairs.sort_by(|a, b| cmp_v1(a.0, b.0));
    // written from text only
    String::from_utf8_lossy(&v1_write_sorted(method, host, path, &pairs)).into_owned()
}

/// How the v1 string to sign orders names: as signed, `_` as `.`.
fn cmp_v1(a: &str, b: &str) -> std::cmp::Ordering {
    NameOrder::UnderscoreAsDot.cmp(a, b)
}

/// The v1 string to sign of a request's sorted parameters, written from their values as
/// sent where it can be.
pub(super) fn write_string_to_sign(method: &Method, host: &str, path: &str, params: &Params<'_>) -> Vec<u8> {
    match params {
        Params::Raw(params) => v1_write_sorted_raw(method, host, path, params),
        Params::Decoded(params) => v1_write_sorted(method, host, path, params),
    }
}

/// Method, host, path and `?`, with room for pairs whose names and values add up to
/// `text_len` bytes.
fn v1_start(method: &Method, host: &str, path: &str, pairs: usize, text_len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(method.as_str().len() + host.len() + path.len() + 1 + text_len + 2 * pairs);
    for part in [method.as_str(), host, path, "?"] {
        out.extend_from_slice(part.as_bytes());
    }
    out
}

/// Writes `name=` as signed (`_` as `.`), after a `&` unless it is the first pair.
fn push_v1_name(out: &mut Vec<u8>, first: bool, name: &str) {
    if !first {
        out.push(b'&');
    }
    match name.contains('_') {
        true => out.extend(name.bytes().map(|b| if b == b'_' { b'.' } else { b })),
        false => out.extend_from_slice(name.as_bytes()),
    }
    out.push(b'=');
}

/// The v1 string to sign over decoded pairs sorted by [`cmp_v1`] (stably): `Signature` is
/// left out, and the pairs of one signed name are put in value order here.
fn v1_write_sorted<K: AsRef<str>, V: AsRef<str>>(method: &Method, host: &str, path: &str, pairs: &[(K, V)]) -> Vec<u8> {
    let text_len = pairs.iter().map(|(k, v)| k.as_ref().len() + v.as_ref().len()).sum();
    let mut out = v1_start(method, host, path, pairs.len(), text_len);
    let start = out.len();
    let write = |out: &mut Vec<u8>, k: &str, v: &str| {
        if k != "Signature" {
            let first = out.len() == start;
            push_v1_name(out, first, k);
            out.extend_from_slice(v.as_bytes());
        }
    };
    let mut i = 0;
    while i < pairs.len() {
        let name = pairs[i].0.as_ref();
        let run = 1 + pairs[i + 1..].iter().take_while(|(k, _)| cmp_v1(k.as_ref(), name).is_eq()).count();
        if run == 1 {
            write(&mut out, name, pairs[i].1.as_ref());
        } else {
            let mut run: Vec<(&str, &str)> = pairs[i..i + run].iter().map(|(k, v)| (k.as_ref(), v.as_ref())).collect();
            run.sort_by(|a, b| a.1.cmp(b.1));
            run.into_iter().for_each(|(k, v)| write(&mut out, k, v));
        }
        i += run;
    }
    out
}

/// [`v1_write_sorted`] from parameters as sent (sorted, no two names equal in the order),
/// decoding values only where they hold an escape.
fn v1_write_sorted_raw(method: &Method, host: &str, path: &str, params: &[RawParam<'_>]) -> Vec<u8> {
    let text_len = params.iter().map(|p| p.name.len() + p.value.len()).sum();
    let mut out = v1_start(method, host, path, params.len(), text_len);
    let start = out.len();
    for p in params.iter().filter(|p| p.name != "Signature") {
        let first = out.len() == start;
        push_v1_name(&mut out, first, p.name);
        if p.plain {
            out.extend_from_slice(p.value.as_bytes());
            continue;
        }
        let value = out.len();
        if !push_decoded(&mut out, p.value) {
            // an escape of a byte above ASCII: the decoded text decides (it may not be UTF-8)
            out.truncate(value);
            out.extend_from_slice(decode_component(p.value).as_bytes());
        }
    }
    out
}

/// Writes `raw` decoded (`+` a space, `%XX` a byte) as `params` decodes it, straight from
/// `raw`; `false` at an escape of a byte above ASCII, which only the whole decoded text
/// can place (it may not be UTF-8).
fn push_decoded(out: &mut Vec<u8>, raw: &str) -> bool {
    let bytes = raw.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        // most values have nothing to decode: copied in runs
        let run = bytes[i..].iter().position(|&b| b == b'%' || b == b'+').unwrap_or(bytes.len() - i);
        out.extend_from_slice(&bytes[i..i + run]);
        i += run;
        if i == bytes.len() {
            break;
        }
        let (b, width) = decode_step(bytes, i);
        if width == 3 && !b.is_ascii() {
            return false;
        }
        out.push(b);
        i += width;
    }
    true
}

/// Signs `parts` with v1 and `alg` for `host` at `ts` (Unix seconds): the parameters go in
/// the form body of a request other than GET, in the query of a GET. A query on a request
/// other than GET stays where it is and is signed with the form, as the verifier reads both.
pub(super) fn sign(
    alg: HmacAlg,
    parts: &mut http::request::Parts,
    body: &mut Bytes,
    credentials: Credentials<'_>,
    ts: u64,
    host: &str,
) -> Result<(), SignError> {
    let Credentials { key_id, secret, token } = credentials;
    let form = parts.method != Method::GET;
    let query = parts.uri.query().unwrap_or("").as_bytes();
    let sources: &[&[u8]] = if form { &[query, &body[..]] } else { &[query] };
    // what the verifier refuses as readable more than one way is not signed
    for source in sources {
        each_param(source, |_, _| {}).map_err(|ambiguity| SignError::Invalid(ambiguity.to_string()))?;
    }
    let own = |k: &str| {
        matches!(k, "Signature" | "SecretId" | "Timestamp" | "Nonce" | "SignatureMethod")
            || (k == "Token" && token.is_some())
    };
    let mut params = decoded_pairs(query);
    if form && params.iter().any(|(k, _)| own(k)) {
        // the signer writes its own into the form; a copy left in the query is ambiguous
        return Err(SignError::Invalid("the query of a v1 form request holds a signature parameter".into()));
    }
    params.retain(|(k, _)| !own(k));
    // a form request's query stays as sent, and is signed: the verifier reads both
    let in_query = if form { params.len() } else { 0 };
    if form {
        params.extend(decoded_pairs(body).into_iter().filter(|(k, _)| !own(k)));
    }
    let mut names: Vec<&str> = params.iter().map(|(k, _)| k.as_str()).collect();
    names.sort_by(|a, b| cmp_v1(a, b));
    if names.windows(2).any(|w| cmp_v1(w[0], w[1]).is_eq()) {
        // the verifier refuses it: which value an application reads is its own choice
        return Err(SignError::Invalid(
            "a parameter is given more than once, or in both the query and the form (`_` in a name is signed as `.`)"
                .into(),
        ));
    }
    params.extend([
        ("SecretId".to_owned(), key_id.to_owned()),
        ("Timestamp".to_owned(), ts.to_string()),
        ("Nonce".to_owned(), (uuid::Uuid::new_v4().as_u128() as u32).to_string()),
    ]);
    if alg == HmacAlg::Sha256 {
        params.push(("SignatureMethod".to_owned(), "HmacSHA256".to_owned()));
    }
    if let Some(token) = token {
        // signed, as the SDK's `Credential(id, key, token)` sends it
        params.push(("Token".to_owned(), token.to_owned()));
    }
    let sts = v1_string_to_sign(&parts.method, host, parts.uri.path(), &params);
    params.push(("Signature".to_owned(), base64_encode(&hmac(alg, secret.expose(), sts.as_bytes()))));
    let encoded = form_urlencoded::Serializer::new(String::new()).extend_pairs(&params[in_query..]).finish();
    if form {
        *body = Bytes::from(encoded);
        parts.headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/x-www-form-urlencoded"));
        parts.headers.insert(http::header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    } else {
        let target = format!("{}?{encoded}", parts.uri.path());
        let mut uri = http::uri::Builder::new();
        if let Some(s) = parts.uri.scheme() {
            uri = uri.scheme(s.clone());
        }
        if let Some(a) = parts.uri.authority() {
            uri = uri.authority(a.clone());
        }
        parts.uri = uri.path_and_query(target).build().map_err(|e| SignError::Invalid(e.to_string()))?;
    }
    if !parts.headers.contains_key(HOST) {
        parts.headers.insert(HOST, HeaderValue::from_str(host).map_err(|_| not_a_header_value("the host"))?);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    #[test]
    fn documented_v1_example() {
        let text = "Action=DescribeInstances&InstanceIds.0=ins-09dx96dg&Limit=20&Nonce=11886&Offset=0&Region=ap-guangzhou&SecretId=AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE&Timestamp=1465185768&Version=2017-03-12";
        let params = decoded_pairs(text.as_bytes());
        let key = b"Gu5t9xGARNpq86cd98joQYCN3EXAMPLE";
        let sts = v1_string_to_sign(&Method::GET, "cvm.tencentcloudapi.com", "/", &params);
        assert_eq!(sts, format!("GETcvm.tencentcloudapi.com/?{text}"));
        assert_eq!(base64_encode(&hmac(HmacAlg::Sha1, key, sts.as_bytes())), "EliP9YW3pW28FpsEdkXt/+WcGeI=");
        let sts = v1_string_to_sign(&Method::GET, "cvm.finance.cloud.tencent.com", "/", &params);
        assert_eq!(base64_encode(&hmac(HmacAlg::Sha1, key, sts.as_bytes())), "e4PAN3/ywhfo/YEh/VuuPBQK8yA=");
    }

    #[test]
    fn a_form_requests_query_is_signed_where_it_is_unless_it_is_ambiguous() {
        let sign_post = |target: &str, form: &'static str| {
            let (mut parts, ()) = http::Request::post(target).body(()).unwrap().into_parts();
            let mut body = Bytes::from_static(form.as_bytes());
            let secret = Secret::from("s");
            sign(
                HmacAlg::Sha1,
                &mut parts,
                &mut body,
                Credentials { key_id: "id", secret: &secret, token: None },
                1_700_000_000,
                "h",
            )
            .map(|()| (parts, body))
        };
        let (parts, body) = sign_post("/?q=1", "f=2").unwrap();
        assert_eq!(parts.uri.query(), Some("q=1"), "the query stays where it was");
        assert!(body.starts_with(b"f=2&SecretId=id&"), "{body:?}");
        for (target, form) in [("/?SecretId=x", "f=2"), ("/?Nonce=1", "f=2"), ("/?f=1", "f=2"), ("/?f_a=1", "f.a=2")] {
            assert!(sign_post(target, form).is_err(), "{target} with {form}");
        }
    }

    #[test]
    fn underscores_are_signed_as_dots() {
        let params = vec![("Filters_0_Name".to_owned(), "zone".to_owned()), ("A".to_owned(), "1".to_owned())];
        assert_eq!(v1_string_to_sign(&Method::POST, "h", "/", &params), "POSTh/?A=1&Filters.0.Name=zone");
    }

    proptest::proptest! {
        /// The v1 string to sign written from values as sent is the one written from their
        /// decoded text, whatever their escapes.
        #[test]
        fn v1_raw_values_sign_as_decoded_ones(
            names in proptest::collection::btree_set("[A-Za-z.~*]{1,6}", 0..6),
            values in proptest::collection::vec(crate::testing::any_value(), 6),
        ) {
            let query = crate::testing::query_of(&names, &values);
            let (raw, decoded) = crate::testing::raw_and_decoded(&query, NameOrder::UnderscoreAsDot).expect("plain, distinct names");
            proptest::prop_assert_eq!(
                v1_write_sorted_raw(&Method::GET, "h", "/", &raw),
                v1_write_sorted(&Method::GET, "h", "/", &decoded)
            );
        }
    }

    proptest::proptest! {
        /// Names are ordered as their signed forms (`_` as `.`) are.
        #[test]
        fn v1_names_order_as_signed(a in "[a._Z]{0,10}", b in "[a._Z]{0,10}") {
            let signed = |s: &str| s.replace('_', ".");
            proptest::prop_assert_eq!(cmp_v1(&a, &b), signed(&a).cmp(&signed(&b)));
        }
    }
}
