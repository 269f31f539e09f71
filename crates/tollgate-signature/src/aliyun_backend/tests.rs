//! Each rule of the string to sign, against the line of Aliyun's demo it comes from, and
//! the configuration's checks.

use std::cmp::Ordering;

use base64::Engine as _;
use http::{HeaderMap, HeaderValue, Method, Uri};
use md5::{Digest, Md5};

use super::string_to_sign::java_order;
use super::*;
use crate::RequestView;

/// The string for a request, or why there is none.
fn string(method: &str, uri: &str, headers: &[(&str, &[u8])], body: Option<&[u8]>) -> Result<String, Unsignable> {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        map.append(http::HeaderName::from_bytes(name.as_bytes()).unwrap(), HeaderValue::from_bytes(value).unwrap());
    }
    let method = Method::from_bytes(method.as_bytes()).unwrap();
    let uri: Uri = uri.parse().unwrap();
    let view = RequestView { method: &method, uri: &uri, headers: &map, body };
    string_to_sign(&view).map(|s| String::from_utf8(s).unwrap())
}

const FORM: (&str, &[u8]) = ("content-type", b"application/x-www-form-urlencoded; charset=UTF-8");
const LIST: &str = "x-ca-proxy-signature-headers";

fn md5(body: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(Md5::digest(body))
}

/// `Sign.java` `main` (lines 76–101): the demo's request, its string and its signature.
#[test]
fn the_demo_request_signs_as_the_demo() {
    let headers: &[(&str, &[u8])] =
        &[(LIST, b"HeaderKey1,HeaderKey2"), ("HeaderKey1", b"HeaderValue1"), ("HeaderKey2", b"HeaderValue2"), FORM];
    let expected = "POST\n\nheaderkey1:HeaderValue1\nheaderkey2:HeaderValue2\n/demo/uri?FormKey1=FormValue1&FormKey2=FormValue2&QueryKey1=QueryValue1&QueryKey2=QueryValue2";
    let query = "/demo/uri?QueryKey1=QueryValue1&QueryKey2=QueryValue2";
    let form = b"FormKey1=FormValue1&FormKey2=FormValue2";
    assert_eq!(string("POST", query, headers, Some(form)).unwrap(), expected);
    let mac = crate::mac::hmac(crate::HmacAlg::Sha256, b"DemoSecret1", expected.as_bytes());
    assert_eq!(crate::mac::base64_encode(&mac), "C7Lqfn8Spz0DxQTfUJq0NrkEbwNUuTNtC9p3SzRWgv0=");
    // the demo's map holds query and form alike: all four in the query sign the same
    let all = "/demo/uri?QueryKey2=QueryValue2&FormKey1=FormValue1&QueryKey1=QueryValue1&FormKey2=FormValue2";
    assert_eq!(string("POST", all, &headers[..3], Some(b"")).unwrap(), expected);
}

/// Line 226: the method as sent; line 142: the body rule ignores its case.
#[test]
fn the_method_is_written_as_sent() {
    let s = string("post", "/p", &[], Some(b"{}")).unwrap();
    assert_eq!(s, format!("post\n{}\n/p", md5(b"{}")));
    assert_eq!(string("DELETE", "/p", &[], None).unwrap(), "DELETE\n\n/p");
}

/// Lines 137–152, 227–230: the digest of a non-form, non-empty POST or PUT body; else empty.
#[test]
fn content_md5_only_for_a_post_or_put_body_that_is_not_a_form() {
    assert_eq!(string("POST", "/p", &[], Some(b"{\"a\":1}")).unwrap(), format!("POST\n{}\n/p", md5(b"{\"a\":1}")));
    assert_eq!(string("PUT", "/p", &[], Some(b"x")).unwrap(), format!("PUT\n{}\n/p", md5(b"x")));
    assert_eq!(string("POST", "/p", &[], Some(b"")).unwrap(), "POST\n\n/p");
    assert_eq!(string("POST", "/p", &[], None).unwrap(), "POST\n\n/p");
    // PATCH: the body is not signed, whatever it holds
    assert_eq!(string("PATCH", "/p", &[], Some(b"x")).unwrap(), "PATCH\n\n/p");
    assert_eq!(string("PATCH", "/p", &[FORM], Some(b"a=1")).unwrap(), "PATCH\n\n/p");
    // a form: its parameters, no digest
    assert_eq!(string("POST", "/p", &[FORM], Some(b"a=1")).unwrap(), "POST\n\n/p?a=1");
    // a multipart body is not a form to the servlet's parameter map: digested
    let multipart: (&str, &[u8]) = ("content-type", b"multipart/form-data; boundary=x");
    assert_eq!(string("POST", "/p", &[multipart], Some(b"--x--")).unwrap(), format!("POST\n{}\n/p", md5(b"--x--")));
}

/// Lines 202, 204–210, 245–248: names split on `,`, sorted as listed (Java order), written
/// lower-cased; a listed header that is absent gets no line.
#[test]
fn signed_headers_are_sorted_as_listed_then_lower_cased() {
    let h = |list: &'static [u8]| -> Vec<(&'static str, &'static [u8])> {
        vec![(LIST, list), ("b", b"2"), ("a", b"1"), ("x-ca-proxy-signature", b"sig")]
    };
    assert_eq!(string("GET", "/", &h(b"b,a"), None).unwrap(), "GET\n\na:1\nb:2\n/");
    // upper case sorts before lower case in Java, before the names are lower-cased
    assert_eq!(string("GET", "/", &h(b"a,B"), None).unwrap(), "GET\n\nb:2\na:1\n/");
    // absent: no line
    assert_eq!(string("GET", "/", &h(b"a,missing"), None).unwrap(), "GET\n\na:1\n/");
    // an empty list (Java's `"".split(",")` is `[""]`): none
    assert_eq!(string("GET", "/", &h(b""), None).unwrap(), "GET\n\n/");
    // no list: none
    assert_eq!(string("GET", "/", &[("a", b"1")], None).unwrap(), "GET\n\n/");
}

/// Line 195, 247: the value's bytes as sent (UTF-8 stays UTF-8), nothing trimmed inside.
#[test]
fn header_values_are_signed_as_sent() {
    let value = "张三 x".as_bytes();
    let s = string("GET", "/", &[(LIST, b"x-name"), ("x-name", value)], None).unwrap();
    assert_eq!(s, "GET\n\nx-name:张三 x\n/");
}

/// Lines 106, 263–264: the path as received; lines 157–190, 266–275: parameters decoded,
/// sorted, joined, nothing encoded.
#[test]
fn the_path_is_raw_and_the_parameters_decoded() {
    let s = string("GET", "/a%20b/c?b=%E5%BC%A0&a=x+y&c=%2F", &[], None).unwrap();
    assert_eq!(s, "GET\n\n/a%20b/c?a=x y&b=张&c=/");
    assert_eq!(string("GET", "/p?", &[], None).unwrap(), "GET\n\n/p");
}

/// Lines 168–185 read by a servlet: `?flag` and `?flag=` are both `[""]`, written `flag=`.
#[test]
fn a_name_without_value_is_written_with_its_equals_sign() {
    assert_eq!(string("GET", "/p?flag", &[], None).unwrap(), "GET\n\n/p?flag=");
    assert_eq!(string("GET", "/p?flag=", &[], None).unwrap(), "GET\n\n/p?flag=");
    assert_eq!(string("GET", "/p?b&a=1", &[], None).unwrap(), "GET\n\n/p?a=1&b=");
}

/// `TreeMap` over Java strings: UTF-16 units, so a character beyond U+FFFF (a surrogate
/// pair, 0xD800…) sorts before U+FF5E, where code-point order puts it after.
#[test]
fn names_sort_in_java_order() {
    assert_eq!(java_order("\u{1F600}", "\u{FF5E}"), Ordering::Less);
    assert_eq!("\u{1F600}".cmp("\u{FF5E}"), Ordering::Greater);
    assert_eq!(java_order("B", "a"), Ordering::Less);
    assert_eq!(java_order("ab", "a"), Ordering::Greater);
    let s = string("GET", "/p?%EF%BD%9E=1&%F0%9F%98%80=2", &[], None).unwrap();
    assert_eq!(s, "GET\n\n/p?\u{1F600}=2&\u{FF5E}=1");
}

#[test]
fn what_has_two_readings_has_no_string() {
    use Unsignable::*;
    let s = |uri, headers: &[(&str, &[u8])], body| string("POST", uri, headers, body);
    assert_eq!(s("/p?a=1&a=2", &[], None), Err(RepeatedParam("a".into())));
    assert_eq!(s("/p?a=1&a=1", &[], None), Err(RepeatedParam("a".into())));
    assert_eq!(s("/p", &[FORM], Some(b"a=1&a=2")), Err(RepeatedParam("a".into())));
    assert_eq!(s("/p?a=1", &[FORM], Some(b"a=1")), Err(QueryAndForm("a".into())));
    // names that decode alike are one name
    assert_eq!(s("/p?a=1&%61=2", &[], None), Err(RepeatedParam("a".into())));
    assert_eq!(s("/p?a=x%26b%3Dy", &[], None), Err(Separator("a".into())));
    assert_eq!(s("/p?a%3Db=1", &[], None), Err(Separator("a=b".into())));
    assert_eq!(s("/p?a%26b=1", &[], None), Err(Separator("a&b".into())));
    // `=` in a value is not ambiguous once names cannot hold one
    assert_eq!(s("/p?a=b%3Dc", &[], None).unwrap(), "POST\n\n/p?a=b=c");
    assert_eq!(s("/p?a=%FF", &[], None), Err(NotUtf8));
    assert_eq!(s("/p", &[FORM], Some(b"%FE=1")), Err(NotUtf8));

    let repeated: &[(&str, &[u8])] = &[(LIST, b"a"), ("a", b"1"), ("a", b"2")];
    assert_eq!(s("/p", repeated, None), Err(RepeatedHeader("a".into())));
    let twice: &[(&str, &[u8])] = &[(LIST, b"a,b,A"), ("a", b"1")];
    assert_eq!(s("/p", twice, None), Err(HeaderListedTwice("A".into())));
    let twice_absent: &[(&str, &[u8])] = &[(LIST, b"z,z")];
    assert_eq!(s("/p", twice_absent, None), Err(HeaderListedTwice("z".into())));
    let itself: &[(&str, &[u8])] = &[(LIST, b"a,X-Ca-Proxy-Signature"), ("x-ca-proxy-signature", b"s")];
    assert_eq!(s("/p", itself, None), Err(ListsTheSignature));
    for bad in [&b"a,"[..], b",a", b"a,,b", b"a, b", b"a b", b"a\tb"] {
        let list: &[(&str, &[u8])] = &[(LIST, bad)];
        assert!(matches!(s("/p", list, None), Err(BadHeaderList(_))), "{:?}", String::from_utf8_lossy(bad));
    }
    let lists: &[(&str, &[u8])] = &[(LIST, b"a"), (LIST, b"b")];
    assert_eq!(s("/p", lists, None), Err(RepeatedHeader("X-Ca-Proxy-Signature-Headers".into())));
}

#[test]
fn each_reason_has_a_stable_code() {
    use Unsignable::*;
    assert_eq!(BadHeaderList(String::new()).code(), "InvalidSignatureHeaders");
    assert_eq!(HeaderListedTwice(String::new()).code(), "InvalidSignatureHeaders");
    assert_eq!(ListsTheSignature.code(), "InvalidSignatureHeaders");
    assert_eq!(RepeatedHeader(String::new()).code(), "RepeatedHeader");
    for reason in [RepeatedParam(String::new()), QueryAndForm(String::new()), NotUtf8, Separator(String::new())] {
        assert_eq!(reason.code(), "AmbiguousParameter");
    }
}

#[test]
fn keys_are_checked_when_the_layer_is_built() {
    let err = |keys: &[(&str, &str)]| BackendSignatureLayer::new(keys.iter().copied()).unwrap_err();
    assert_eq!(err(&[]).field, "keys");
    let e = err(&[("K1", "S1"), ("K1", "S2")]);
    assert_eq!((e.field.as_str(), e.problem.contains("must differ")), ("keys[1].key", true));
    let e = err(&[("K1", "S1"), ("K2", "S2"), ("K3", "S1")]);
    assert_eq!((e.field.as_str(), e.problem.contains("keys[0]")), ("keys[2].secret", true));
    assert_eq!(err(&[("K1", "")]).field, "keys[0].secret");
    assert_eq!(err(&[("", "S")]).field, "keys[0].key");
    assert_eq!(err(&[("K 1", "S")]).field, "keys[0].key");
    assert_eq!(err(&[("键", "S")]).field, "keys[0].key");
    let layer = BackendSignatureLayer::new([("K1", "Secret1"), ("K2", "Secret2")]).unwrap();
    // the key names are shown, the secrets never
    let shown = format!("{layer:?}");
    assert!(shown.contains("K1") && shown.contains("K2") && !shown.contains("Secret"), "{shown}");
    let service = tower_layer::Layer::layer(&layer, ());
    assert_eq!(format!("{service:?}"), "BackendSignatureService { .. }");

    let mut config = BackendSignatureConfig::new("SampleKey", "SampleSecret");
    assert!(BackendSigningLayer::from_config(&config).is_ok());
    config.kind = "HMAC".into();
    let e = BackendSigningLayer::from_config(&config).unwrap_err();
    assert_eq!(e.field, "type");
    assert!(!format!("{config:?}").contains("SampleSecret"));
    assert!(BackendSigningLayer::new("SampleKey", "").is_err());
}
