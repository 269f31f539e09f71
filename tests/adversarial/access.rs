//! Adversarial tests: Aliyun parameter access control. What a client sends so that a rule
//! reads one value and the handler another: repeated names, header case, percent-escapes,
//! paths with dot segments, forged forwarding headers, missing tokens, values that would
//! rewrite the refusal's body.

use std::convert::Infallible;

use axum::body::Body;
use http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use tollgate::access::AccessControlLayer;
use tollgate::gateway::{Format, Gateway};
use tollgate::{PathTemplate, PeerAddr, TokenClaims};
use tower::{Layer, ServiceExt, service_fn};

/// Guests are refused; anyone else passes.
const GUESTS_OUT: &str = r#"
parameters:
  role: "Query:role"
  level: "Header:x-level"
rules:
  - name: guests
    condition: "$role = 'guest' or $level = 'guest'"
    ifTrue: "DENY"
"#;

async fn call(layer: &AccessControlLayer, req: Request<Body>) -> (StatusCode, String, Option<String>) {
    let handler = service_fn(|_req: Request<_>| async { Ok::<_, Infallible>(Response::new(Body::from("handler"))) });
    let resp = layer.layer(handler).oneshot(req).await.unwrap();
    let status = resp.status();
    let message = resp.headers().get("x-ca-error-message").map(|v| v.to_str().unwrap().to_owned());
    let body = String::from_utf8(resp.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
    (status, body, message)
}

fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).unwrap()
}

/// `?role=root&role=guest`: Aliyun reads the first; a handler may read the last (or a list).
/// Judging either one lets the other through, so the request is refused as ambiguous.
#[tokio::test]
async fn a_repeated_query_name_or_header_line_is_refused_not_judged_on_one_reading() {
    let layer = AccessControlLayer::from_plugin(GUESTS_OUT).unwrap();
    for uri in ["/?role=root&role=guest", "/?role=guest&role=root", "/?role=root&r%6Fle=guest"] {
        let (status, _, message) = call(&layer, get(uri)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}");
        assert!(message.unwrap().contains("query role"), "{uri}");
    }
    let mut req = get("/");
    req.headers_mut().append("x-level", "root".parse().unwrap());
    req.headers_mut().append("X-Level", "guest".parse().unwrap());
    let (status, _, message) = call(&layer, req).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message.unwrap().contains("header x-level"));
}

/// A name a lenient backend folds into the one a rule reads (CGI's `x_level` for `x-level`,
/// ASP.NET's `Role` for `role`, PHP's `role[]`) would carry a value the rule never judged:
/// refused, even when the exact name is absent.
#[tokio::test]
async fn a_name_a_backend_folds_into_the_rules_name_is_refused() {
    let layer = AccessControlLayer::from_plugin(GUESTS_OUT).unwrap();
    let mut req = get("/");
    req.headers_mut().insert("x_level", "guest".parse().unwrap());
    assert_eq!(call(&layer, req).await.0, StatusCode::BAD_REQUEST, "x_level alone");
    for uri in ["/?Role=guest", "/?role[]=guest", "/?role=root&ROLE=guest"] {
        assert_eq!(call(&layer, get(uri)).await.0, StatusCode::BAD_REQUEST, "{uri}");
    }
}

/// The rule's own spelling of a name does not matter, nor the client's: header names in any
/// case, query values and names percent-decoded as the handler decodes them.
#[tokio::test]
async fn case_and_escapes_do_not_hide_a_value() {
    let layer = AccessControlLayer::from_plugin(GUESTS_OUT).unwrap();
    for uri in ["/?role=gu%65st", "/?r%6Fle=guest", "/?role=%67%75%65%73%74", "/?x=1&role=guest"] {
        assert_eq!(call(&layer, get(uri)).await.0, StatusCode::FORBIDDEN, "{uri}");
    }
    let mut req = get("/");
    req.headers_mut().insert("X-LEVEL", "guest".parse().unwrap());
    assert_eq!(call(&layer, req).await.0, StatusCode::FORBIDDEN);
    // a malformed escape is two readings too (kept as written, or rejected)
    let (status, _, _) = call(&layer, get("/?role=gu%zzest")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // `+` is a space to every form decoder: `guest+` is not `guest`, and the handler agrees
    assert_eq!(call(&layer, get("/?role=guest+")).await.0, StatusCode::OK);
}

/// `Path` is the path the backend routes: dot segments, doubled slashes and escapes resolved.
#[tokio::test]
async fn the_path_is_read_as_the_backend_routes_it() {
    let layer = AccessControlLayer::from_plugin(
        r#"{"parameters": {"p": "Path"}, "rules": [{"condition": "$p = '/admin'", "ifTrue": "DENY"}]}"#,
    )
    .unwrap();
    for uri in ["/admin", "/x/../admin", "//admin", "/./admin", "/%61dmin"] {
        let status = call(&layer, get(uri)).await.0;
        assert_ne!(status, StatusCode::OK, "{uri} reached the handler");
    }
    assert_eq!(call(&layer, get("/admins")).await.0, StatusCode::OK);
}

/// Without a token verifier before the layer every `Token:` value is null, whatever the
/// client writes in headers or the query: a rule that must see a token to ALLOW refuses, a
/// rule that must see a bad claim to DENY does not fire (documented; stack the verifier first).
#[tokio::test]
async fn token_values_come_only_from_a_verifier() {
    let layer = AccessControlLayer::from_plugin(
        r#"
parameters:
  userType: "Token:userType"
rules:
  - condition: "$userType = 'admin'"
    ifTrue: "ALLOW"
    ifFalse: "DENY"
"#,
    )
    .unwrap();
    let mut forged = get("/?userType=admin&Token:userType=admin");
    forged.headers_mut().insert("usertype", "admin".parse().unwrap());
    forged.headers_mut().insert("token", "admin".parse().unwrap());
    assert_eq!(call(&layer, forged).await.0, StatusCode::FORBIDDEN);
    let mut verified = get("/");
    verified.extensions_mut().insert(TokenClaims::new(serde_json::json!({"userType": "admin"})));
    assert_eq!(call(&layer, verified).await.0, StatusCode::OK);
    // a claim that is not a string is compared as its JSON text, never as `admin`
    let mut odd = get("/");
    odd.extensions_mut().insert(TokenClaims::new(serde_json::json!({"userType": ["admin"]})));
    assert_eq!(call(&layer, odd).await.0, StatusCode::FORBIDDEN);
}

/// `XFF:i` is the raw header: out of range it is null; from an untrusted client it is
/// whatever the client wrote (the documented risk), while `$CaClientIp` is the connection's
/// address unless a trusted proxy vouches for the header.
#[tokio::test]
async fn forwarding_headers_grant_nothing_through_the_client_address() {
    let office_only = r#"
apis:
  - path: /
    access_control:
      rules:
        - condition: "$CaClientIp in_cidr '10.0.0.0/8'"
          ifFalse: "DENY"
"#;
    let gateway = Gateway::from_config(office_only, Format::Yaml).unwrap();
    let svc = gateway
        .into_layer()
        .layer(service_fn(|_req: Request<Body>| async { Ok::<_, Infallible>(Response::new(Body::from("handler"))) }));
    let from = |peer: &str, xff: Option<&str>| {
        let mut req = get("/");
        req.extensions_mut().insert(PeerAddr(format!("{peer}:4000").parse().unwrap()));
        if let Some(x) = xff {
            req.headers_mut().insert("x-forwarded-for", x.parse().unwrap());
        }
        req
    };
    assert_eq!(svc.clone().oneshot(from("10.1.2.3", None)).await.unwrap().status(), 200);
    let spoofed = svc.clone().oneshot(from("203.0.113.9", Some("10.1.2.3"))).await.unwrap();
    assert_eq!(spoofed.status(), 403, "a forged X-Forwarded-For moved the client into the office");

    // the raw header, as Aliyun reads it: the client's own words (see the crate docs)
    let by_xff = AccessControlLayer::from_plugin(
        r#"{"parameters": {"first": "XFF:0", "far": "XFF:5", "back": "XFF:-9"},
            "rules": [{"condition": "$first = '10.1.2.3' and $far = null and $back = null", "ifTrue": "DENY"}]}"#,
    )
    .unwrap();
    let mut req = get("/");
    req.headers_mut().insert("x-forwarded-for", "10.1.2.3, 198.51.100.7".parse().unwrap());
    assert_eq!(call(&by_xff, req).await.0, StatusCode::FORBIDDEN, "out of range is null");
}

/// A value the refusal repeats cannot change the refusal's structure: escaped for its XML,
/// and kept on one header line.
#[tokio::test]
async fn an_echoed_value_cannot_rewrite_the_refusal() {
    let layer = AccessControlLayer::from_plugin(
        r#"
parameters:
  userId: "Token:userId"
  pathUserId: "path:userId"
rules:
  - name: user
    condition: "$userId = $pathUserId"
    ifFalse: "DENY"
    errorMessage: "Path not match ${userId} vs /${pathUserId}"
    responseHeaders:
      Content-Type: application/xml
    responseBody:
      <Reason>Path not match ${userId} vs /${pathUserId}</Reason>
"#,
    )
    .unwrap();
    let hostile = "</Reason><Admin>true</Admin><Reason>";
    let path = "/users/%3C%2FReason%3E%3CAdmin%3Etrue%3C%2FAdmin%3E%3CReason%3E";
    let mut req = get(path);
    req.extensions_mut().insert(TokenClaims::new(serde_json::json!({"userId": "1\r\nX-Injected: yes"})));
    req.extensions_mut().insert(PathTemplate::parse("/users/{userId}").unwrap().matches(path).unwrap());
    let handler = service_fn(|_req: Request<_>| async { Ok::<_, Infallible>(Response::new(Body::from("handler"))) });
    let resp = layer.layer(handler).oneshot(req).await.unwrap();
    assert_eq!(resp.status(), 403);
    assert!(resp.headers().get("x-injected").is_none());
    let message = resp.headers()["x-ca-error-message"].to_str().unwrap().to_owned();
    assert!(!message.contains('\n') && !message.contains('\r'), "{message}");
    let body = String::from_utf8(resp.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
    assert!(!body.contains(hostile), "{body}");
    assert_eq!(body.matches('<').count(), 2, "only the template's own tags: {body}");
    assert!(body.contains("&lt;/Reason&gt;&lt;Admin&gt;true"), "{body}");
}

/// A form field read for a rule: a repeated name is refused, and so are the name in the query
/// as well and a multipart body; the body the handler gets is the one the rule read, byte
/// for byte.
#[tokio::test]
async fn a_repeated_form_field_or_a_multipart_body_is_refused() {
    let layer = AccessControlLayer::from_plugin(
        r#"{"parameters": {"act": "Form:action"}, "rules": [{"condition": "$act = 'drop'", "ifTrue": "DENY"}]}"#,
    )
    .unwrap();
    let form = |body: &'static str| {
        Request::post("/")
            .header("content-type", "application/x-www-form-urlencoded; charset=utf-8")
            .body(Body::from(body))
            .unwrap()
    };
    assert_eq!(call(&layer, form("action=read&action=drop")).await.0, StatusCode::BAD_REQUEST);
    assert_eq!(call(&layer, form("action=dro%70")).await.0, StatusCode::FORBIDDEN);
    assert_eq!(call(&layer, form("action=read")).await, (StatusCode::OK, "handler".to_owned(), None));
    // the same name in the query: a backend merging query and form may read `drop`
    let both = Request::post("/?action=drop")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from("action=read"))
        .unwrap();
    assert_eq!(call(&layer, both).await.0, StatusCode::BAD_REQUEST);
    // the same field as a multipart part: a backend reading parts as its form sees `drop`
    let multipart = Request::post("/")
        .header("content-type", "Multipart/Form-Data; boundary=b")
        .body(Body::from("--b\r\nContent-Disposition: form-data; name=\"action\"\r\n\r\ndrop\r\n--b--\r\n"))
        .unwrap();
    assert_eq!(call(&layer, multipart).await.0, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // an API whose rules read no form field takes multipart as before
    let query_only = AccessControlLayer::from_plugin(GUESTS_OUT).unwrap();
    let upload = Request::post("/").header("content-type", "multipart/form-data; boundary=b").body(Body::empty());
    assert_eq!(call(&query_only, upload.unwrap()).await.0, StatusCode::OK);
}
