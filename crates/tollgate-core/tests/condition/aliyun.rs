//! Aliyun's dialect: the spec's expressions and plug-in examples verbatim, every operator,
//! `null`, `like`, `in_cidr`, operand pairs, the parameters map and its phase checks, system
//! parameters, templates, and build errors with their offsets.

use std::borrow::Cow;
use std::time::{Duration, UNIX_EPOCH};

use http::HeaderValue;
use tollgate_core::condition::{AliyunLocation, AliyunParameters, Phase, Template, Variables};
use tollgate_core::{ParamError, RequestId, SystemParam, SystemValues, TokenClaims};

use super::*;

/// The parameters most rows read.
fn params() -> AliyunParameters {
    AliyunParameters::from_pairs([
        ("userType", "Header:x-user-type"),
        ("userId", "Query:user"),
        ("pathUserId", "path:userId"),
        ("ClientVersion", "Header:x-version"),
        ("qty", "Form:qty"),
        ("action", "Query:action"),
        ("method", "Method"),
        ("path", "Path"),
        ("missing", "Header:x-missing"),
        ("first", "XFF:0"),
        ("last", "XFF:-1"),
        ("role", "Token:role"),
    ])
    .unwrap()
    .for_request()
    .unwrap()
}

/// A request with a value for most of them.
fn aliyun_request() -> (Request<()>, &'static [u8]) {
    let mut req = Request::post("https://api.example.com/users/1230?user=1230&action=list")
        .header("x-user-type", "admin")
        .header("x-version", "2.0.4")
        .header("x-forwarded-for", "198.51.100.1, 10.0.0.2")
        .header("x-forwarded-for", "10.0.0.3")
        .header("user-agent", "curl/8")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(())
        .unwrap();
    req.extensions_mut().insert(ClientIp::direct("106.11.31.7".parse().unwrap()));
    req.extensions_mut().insert(Caller::new("AK1").with_app_id("123456"));
    req.extensions_mut().insert(PathTemplate::parse("/users/{userId}").unwrap().matches("/users/1230").unwrap());
    req.extensions_mut().insert(TokenClaims::new(serde_json::json!({"role": "ops", "n": 3})));
    req.extensions_mut().insert(RequestId::new(HeaderValue::from_static("req-1")).unwrap());
    (req, b"qty=3")
}

fn aliyun(text: &str) -> Condition {
    Condition::parse_aliyun(text, &params()).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn aliyun_holds(text: &str) -> bool {
    let (req, body) = aliyun_request();
    let cond = aliyun(text);
    let view = RequestView::from_request(&req).with_body(body);
    let held = cond.check(&view).unwrap_or_else(|e| panic!("{text}: {e}"));
    // the printed form reads back to the same condition, which means the same
    let printed = cond.to_string();
    let again = Condition::parse_aliyun(&printed, &params()).unwrap_or_else(|e| panic!("{text} -> {printed}: {e}"));
    assert_eq!(again, cond, "{text} printed as {printed}");
    assert_eq!(again.to_string(), printed);
    assert_eq!(again.check(&view), Ok(held), "{text} printed as {printed}");
    held
}

fn aliyun_table(rows: &[(&str, bool)]) {
    for (text, want) in rows {
        assert_eq!(aliyun_holds(text), *want, "{text}");
    }
}

/// The spec's expressions (§A3.4, §A3.5), verbatim, with the parameters they need.
#[test]
fn spec_expressions_verbatim() {
    let params = AliyunParameters::from_pairs([
        ("userType", "Header:x-user-type"),
        ("userId", "Query:userId"),
        ("pathUserId", "Parameter:userId"),
        ("statusCode", "StatusCode"),
        ("resultCode", "BodyJsonField:$.result_code"),
        ("ClientVersion", "Header:x-client-version"),
    ])
    .unwrap();
    let texts = [
        "$userType = 'admin'",
        "$userId = $pathUserId",
        "$statusCode = 200 and $resultCode <> 'OK'",
        "$CaAppId = 123456",
        "$CaAppId = 4534463 or $CaAppId = 86734572",
        "$userId like '%0'",
        "$CaClientIp in_cidr '106.11.31.0/24'",
        "$resultCode != null and $resultCode != 'OK'",
        "${statusCode} = 200",
        "1 = 1",
        "$ClientVersion < '2.0.5'",
    ];
    for text in texts {
        Condition::parse_aliyun(text, &params).unwrap_or_else(|e| panic!("{text}: {e}"));
    }

    // request phase, on a request that makes each of them true, then false
    let req = |user: &str, path_user: &str, app: &str, ip: &str, version: &str, kind: &str| {
        let mut req = Request::get(format!("/u/{path_user}?userId={user}"))
            .header("x-user-type", kind)
            .header("x-client-version", version)
            .body(())
            .unwrap();
        req.extensions_mut().insert(Caller::new("AK").with_app_id(app));
        req.extensions_mut().insert(ClientIp::direct(ip.parse().unwrap()));
        let bound = PathTemplate::parse("/u/{userId}").unwrap().matches(&format!("/u/{path_user}")).unwrap();
        req.extensions_mut().insert(bound);
        req
    };
    let yes = req("100", "100", "4534463", "106.11.31.200", "2.0.4", "admin");
    let no = req("101", "102", "123457", "106.11.32.1", "2.1", "user");
    let eval = |text: &str, r: &Request<()>| {
        Condition::parse_aliyun(text, &params).unwrap().check(&RequestView::from_request(r))
    };
    for text in [
        "$userType = 'admin'",
        "$userId = $pathUserId",
        "$CaAppId = 4534463 or $CaAppId = 86734572",
        "$userId like '%0'",
        "$CaClientIp in_cidr '106.11.31.0/24'",
        "$ClientVersion < '2.0.5'",
    ] {
        assert_eq!(eval(text, &yes), Ok(true), "{text}");
        assert_eq!(eval(text, &no), Ok(false), "{text}");
    }
    // neither is a number, so they compare as text, not as versions: `2.0.10` < `2.0.5`
    let ten = req("1", "1", "1", "10.0.0.1", "2.0.10", "x");
    assert_eq!(eval("$ClientVersion < '2.0.5'", &ten), Ok(true));
    let app = req("1", "1", "123456", "10.0.0.1", "1", "x");
    assert_eq!(eval("$CaAppId = 123456", &app), Ok(true));
    assert_eq!(eval("$CaAppId = 123456", &yes), Ok(false));
    assert_eq!(eval("1 = 1", &no), Ok(true));

    // response phase: the caller gives StatusCode and BodyJsonField
    struct Response {
        status: u16,
        result: Option<&'static str>,
    }
    impl Variables for Response {
        fn value(&self, location: &AliyunLocation) -> Result<Option<Cow<'_, str>>, ParamError> {
            Ok(match location {
                AliyunLocation::StatusCode => Some(Cow::Owned(self.status.to_string())),
                AliyunLocation::BodyJsonField(path) if path == "$.result_code" => self.result.map(Cow::Borrowed),
                _ => None,
            })
        }
    }
    let empty = Request::new(());
    let view = RequestView::from_request(&empty);
    let on = |text: &str, status, result| {
        Condition::parse_aliyun(text, &params).unwrap().check_with(&view, &Response { status, result })
    };
    let mapped = "$statusCode = 200 and $resultCode <> 'OK'";
    assert_eq!(on(mapped, 200, Some("ROLE_NOT_EXISTS")), Ok(true));
    assert_eq!(on(mapped, 200, Some("OK")), Ok(false));
    assert_eq!(on(mapped, 500, Some("ROLE_NOT_EXISTS")), Ok(false));
    let not_null = "$resultCode != null and $resultCode != 'OK'";
    assert_eq!(on(not_null, 200, Some("X")), Ok(true));
    assert_eq!(on(not_null, 200, None), Ok(false));
    assert_eq!(on(not_null, 200, Some("OK")), Ok(false));
    assert_eq!(on("${statusCode} = 200", 200, None), Ok(true));
    assert_eq!(on("${statusCode} = 200", 201, None), Ok(false));
}

/// §A3.1's parameters map, verbatim.
#[test]
fn parameters_map_verbatim() {
    let yaml = r#"
parameters:
  method: "Method"
  appId: "System:CaAppId"
  action: "Query:action"
  userId: "Token:UserId"
"#;
    #[derive(serde::Deserialize)]
    struct Plugin {
        parameters: AliyunParameters,
    }
    let plugin: Plugin = serde_norway::from_str(yaml).unwrap();
    let params = plugin.parameters.for_request().unwrap();
    let entries: Vec<(&str, &AliyunLocation)> = params.iter().collect();
    assert_eq!(
        entries,
        [
            ("method", &AliyunLocation::Method),
            ("appId", &AliyunLocation::System(SystemParam::AppId)),
            ("action", &AliyunLocation::Query("action".into())),
            ("userId", &AliyunLocation::Token("UserId".into())),
        ]
    );
    let cond =
        Condition::parse_aliyun("$method = 'POST' and $appId = 7 and $action = 'buy' and $userId = 'u1'", &params)
            .unwrap();
    let mut req = Request::post("/?action=buy").body(()).unwrap();
    req.extensions_mut().insert(Caller::new("AK").with_app_id("7"));
    req.extensions_mut().insert(TokenClaims::new(serde_json::json!({"UserId": "u1"})));
    assert_eq!(cond.check(&RequestView::from_request(&req)), Ok(true));
    req.extensions_mut().insert(TokenClaims::new(serde_json::json!({"UserId": "u2"})));
    assert_eq!(cond.check(&RequestView::from_request(&req)), Ok(false));
}

/// §A4's access-control example, verbatim: its parameters, conditions and messages.
#[test]
fn access_control_example_verbatim() {
    let yaml = include_str!("../../../../tests/fixtures/cloud-plugins/aliyun-access-control.yaml");
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Rule {
        condition: String,
        error_message: Option<String>,
        response_body: Option<String>,
    }
    #[derive(serde::Deserialize)]
    struct Plugin {
        parameters: AliyunParameters,
        rules: Vec<Rule>,
    }
    let plugin: Plugin = serde_norway::from_str(yaml).unwrap();
    let params = plugin.parameters.for_request().unwrap();
    assert_eq!(params.get("pathUserId"), Some(&AliyunLocation::Parameter("userId".into())));
    let admin = Condition::parse_aliyun(&plugin.rules[0].condition, &params).unwrap();
    let user = Condition::parse_aliyun(&plugin.rules[1].condition, &params).unwrap();
    let message = Template::parse(plugin.rules[1].error_message.as_deref().unwrap(), &params).unwrap();
    let body = Template::parse(plugin.rules[1].response_body.as_deref().unwrap(), &params).unwrap();

    let request = |claims: serde_json::Value, path_user: &str| {
        let path = format!("/users/{path_user}");
        let mut req = Request::get(&path).body(()).unwrap();
        req.extensions_mut().insert(TokenClaims::new(claims));
        req.extensions_mut().insert(PathTemplate::parse("/users/{userId}").unwrap().matches(&path).unwrap());
        req
    };
    let owner = request(serde_json::json!({"userId": "42", "userType": "user"}), "42");
    let other = request(serde_json::json!({"userId": "42", "userType": "user"}), "43");
    let boss = request(serde_json::json!({"userId": "1", "userType": "admin"}), "43");
    let view = |r| RequestView::from_request(r);
    assert_eq!(admin.check(&view(&owner)), Ok(false));
    assert_eq!(user.check(&view(&owner)), Ok(true));
    assert_eq!(user.check(&view(&other)), Ok(false));
    assert_eq!(admin.check(&view(&boss)), Ok(true));
    assert_eq!(message.render(&view(&other)).unwrap(), "Path not match 42 vs /43");
    assert_eq!(body.render(&view(&other)).unwrap(), "<Reason>Path not match 42 vs /43</Reason>");
    assert_eq!(message.to_string(), "Path not match ${userId} vs /${pathUserId}");
    // without a token, neither side has a value: `=` does not hold, so the rule denies
    let anonymous = Request::get("/users/43").body(()).unwrap();
    assert_eq!(user.check(&view(&anonymous)), Ok(false));
    assert_eq!(message.render(&view(&anonymous)).unwrap(), "Path not match  vs /");
}

/// §A6's error-mapping example, verbatim: its parameters are response-phase, its condition
/// and messages build against them, and a request-phase check refuses them.
#[test]
fn error_mapping_example_verbatim() {
    let yaml = include_str!("../../../../tests/fixtures/cloud-plugins/aliyun-error-mapping.yaml");
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Mapping {
        error_message: String,
    }
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Plugin {
        parameters: AliyunParameters,
        error_condition: String,
        mappings: Vec<Mapping>,
        default_mapping: Mapping,
    }
    let plugin: Plugin = serde_norway::from_str(yaml).unwrap();
    let err = plugin.parameters.clone().for_request().unwrap_err();
    assert_eq!(err.field, "parameters.statusCode", "{err}");
    let params = plugin.parameters.for_response().unwrap();
    let cond = Condition::parse_aliyun(&plugin.error_condition, &params).unwrap();

    struct Body(serde_json::Value, u16);
    impl Variables for Body {
        fn value(&self, location: &AliyunLocation) -> Result<Option<Cow<'_, str>>, ParamError> {
            Ok(match location {
                AliyunLocation::StatusCode => Some(Cow::Owned(self.1.to_string())),
                AliyunLocation::BodyJsonField(_) => location.select_json(&self.0),
                _ => None,
            })
        }
    }
    let body = Body(serde_json::json!({"result_code": "ROLE_NOT_EXISTS", "req_msg_id": "m-9"}), 200);
    let req = Request::new(());
    let view = RequestView::from_request(&req);
    assert_eq!(cond.check_with(&view, &body), Ok(true));
    assert_eq!(cond.check_with(&view, &Body(serde_json::json!({"result_code": "OK"}), 200)), Ok(false));
    let messages: Vec<String> = plugin
        .mappings
        .iter()
        .chain([&plugin.default_mapping])
        .map(|m| Template::parse(&m.error_message, &params).unwrap().render(&body).unwrap())
        .collect();
    assert_eq!(
        messages,
        [
            "Role Not Exists, RequestId=m-9",
            "Invalid Parameter, RequestId=m-9",
            "Unknown Error, ROLE_NOT_EXISTS, RequestId=m-9"
        ]
    );
}

#[test]
fn each_operator() {
    aliyun_table(&[
        ("$userType = 'admin'", true),
        ("$userType = \"admin\"", true),
        ("$userType == 'admin'", true),
        ("$userType = 'Admin'", false),
        ("$userType <> 'admin'", false),
        ("$userType != 'user'", true),
        ("$userId = 1230", true),
        ("$userId = 1230.0", true),
        ("$userId = '01230'", true),
        ("$userId < 1231", true),
        ("$userId <= 1230", true),
        ("$userId > 999", true),
        ("$userId >= 1231", false),
        ("$ClientVersion < '2.0.5'", true),
        ("$ClientVersion > '2.0.10'", true),
        ("$ClientVersion >= '2.0.4'", true),
        ("'2.0.5' > $ClientVersion", true),
        ("1231 > $userId", true),
        ("1230 = $userId", true),
        ("$userId = $pathUserId", true),
        ("$userId <> $pathUserId", false),
        ("$userId <= $pathUserId", true),
        ("$userId < $pathUserId", false),
        ("$qty = 3", true),
        ("$method = 'POST'", true),
        ("$path = '/users/1230'", true),
        ("$userId like '%0'", true),
        ("$userId like '12_0'", true),
        ("$userId like '12_'", false),
        ("$userId like '%3%'", true),
        ("$userType like 'ad%'", true),
        ("$userType like 'AD%'", false),
        ("$CaClientIp in_cidr '106.11.31.0/24'", true),
        ("$CaClientIp in_cidr '106.11.32.0/24'", false),
        ("$CaClientIp in_cidr '106.11.31.7'", true),
        ("$first in_cidr '198.51.100.0/24'", true),
        ("$userType in_cidr '0.0.0.0/0'", false),
        ("$first = '198.51.100.1'", true),
        ("$last = '10.0.0.3'", true),
        ("$role = 'ops'", true),
        ("$missing = null", true),
        ("$missing != null", false),
        ("$missing <> null", false),
        ("null = $missing", true),
        ("$userType = null", false),
        ("$userType != null", true),
        ("1 = 1", true),
        ("1 = 2", false),
        ("'a' < 'b'", true),
        ("2 > 10", false),
        ("'2' > '10'", false),
        ("true", true),
        ("false or $userType = 'admin'", true),
    ]);
}

#[test]
fn absent_values() {
    // a parameter the request lacks: every comparison false, except != and <>
    aliyun_table(&[
        ("$missing = 'x'", false),
        ("$missing != 'x'", true),
        ("$missing <> 'x'", true),
        ("$missing < 'x'", false),
        ("$missing > 'x'", false),
        ("$missing like '%'", false),
        ("$missing in_cidr '0.0.0.0/0'", false),
        ("$missing = $missing", false),
        ("$missing != $userType", true),
        ("$userType = $missing", false),
    ]);
}

#[test]
fn precedence_and_keywords() {
    aliyun_table(&[
        // and binds tighter than or
        ("$userType = 'x' and 1 = 2 or 1 = 1", true),
        ("$userType = 'x' and (1 = 2 or 1 = 1)", false),
        ("1 = 1 or 1 = 2 and 1 = 2", true),
        // not binds tighter than and / or, and negates a comparison
        ("not $userType = 'x'", true),
        ("not $userType = 'admin' or 1 = 1", true),
        ("not ($userType = 'admin' or 1 = 1)", false),
        ("NOT $missing = null", false),
        ("! ($userType = 'admin')", false),
        ("$userType = 'admin' AND $userId LIKE '%0' Or 1 = 2", true),
        ("$userType = 'admin' && $userId = 1230 || 1 = 2", true),
    ]);
}

#[test]
fn system_parameters_all_fifteen() {
    let (req, _) = aliyun_request();
    let values = SystemValues::new()
        .set(SystemParam::ApiName, "GetUser")
        .set(SystemParam::InstanceId, "apigateway-hz-1")
        .set(SystemParam::SourceVpcId, "vpc-1")
        .set(SystemParam::CloudMarketInstanceId, "cmapi-1")
        .set(SystemParam::AppExtendInfo, "gold");
    let time = UNIX_EPOCH + Duration::from_secs(784_111_777);
    let view = RequestView::from_request(&req).with_system_values(&values).with_time(time);
    let expected = [
        ("CaClientIp", "106.11.31.7"),
        ("CaDomain", "api.example.com"),
        ("CaRequestHandleTime", "Sun, 06 Nov 1994 08:49:37 GMT"),
        ("CaAppId", "123456"),
        ("CaRequestId", "req-1"),
        ("CaHttpSchema", "HTTPS"),
        ("CaProxy", "AliCloudApiGateway"),
        ("CaApiName", "GetUser"),
        ("CaClientUa", "curl/8"),
        ("CaCloudMarketInstanceId", "cmapi-1"),
        ("CaAppKey", "AK1"),
        ("CaAppExtendInfo", "gold"),
        ("CaStage", "RELEASE"),
        ("CaInstanceId", "apigateway-hz-1"),
        ("CaSourceVpcId", "vpc-1"),
    ];
    assert_eq!(expected.len(), SystemParam::all().len());
    for (name, value) in expected {
        let param = SystemParam::from_aliyun_name(name).unwrap();
        let location = AliyunLocation::System(param);
        assert_eq!(view.aliyun_value(&location).unwrap().as_deref(), Some(value), "{name}");
        // used directly, and through System:NAME
        let direct = Condition::parse_aliyun(&format!("${name} = '{value}'"), &AliyunParameters::new()).unwrap();
        assert_eq!(direct.check(&view), Ok(true), "{name}");
        let declared = AliyunParameters::from_pairs([("p", format!("System:{name}"))]).unwrap();
        let via = Condition::parse_aliyun(&format!("$p = '{value}'"), &declared).unwrap();
        assert_eq!(via.check(&view), Ok(true), "{name}");
    }
    // without configured values: the defaults, and null for the rest
    let bare = RequestView::from_request(&req);
    let cond = |t: &str| Condition::parse_aliyun(t, &AliyunParameters::new()).unwrap().check(&bare);
    assert_eq!(cond("$CaStage = 'RELEASE' and $CaProxy = 'AliCloudApiGateway'"), Ok(true));
    assert_eq!(cond("$CaInstanceId = null and $CaApiName = null and $CaSourceVpcId = null"), Ok(true));
    // the scheme and the domain compare ignoring case, as Tencent's
    assert_eq!(cond("$CaHttpSchema = 'https' and $CaDomain = 'API.example.com'"), Ok(true));
    // a declared name wins over a system parameter's
    let shadow = AliyunParameters::from_pairs([("CaAppId", "Query:user")]).unwrap();
    assert_eq!(Condition::parse_aliyun("$CaAppId = 1230", &shadow).unwrap().check(&bare), Ok(true));
}

#[test]
fn two_readings_are_an_error_not_a_guess() {
    let params = AliyunParameters::from_pairs([("h", "Header:x-a"), ("q", "Query:a")]).unwrap();
    let cond = Condition::parse_aliyun("$h = '1' or $q = '1'", &params).unwrap();
    let req = Request::get("/?a=2").header("x-a", "1").header("x-a", "2").body(()).unwrap();
    assert!(matches!(cond.check(&RequestView::from_request(&req)), Err(ParamError::Repeated(_))));
    assert!(!cond.evaluate(&RequestView::from_request(&req)));
    let req = Request::get("/?a=1&a=2").body(()).unwrap();
    assert!(cond.check(&RequestView::from_request(&req)).is_err());
    let req = Request::get("/?a=%zz").body(()).unwrap();
    assert!(matches!(cond.check(&RequestView::from_request(&req)), Err(ParamError::MalformedEscape(_))));
    // the path is read as a backend routes it
    let p = AliyunParameters::from_pairs([("path", "Path")]).unwrap();
    let cond = Condition::parse_aliyun("$path = '/admin'", &p).unwrap();
    let req = Request::get("/public/..//%61dmin").body(()).unwrap();
    assert_eq!(cond.check(&RequestView::from_request(&req)), Ok(true));
}

#[test]
fn build_errors_with_offsets() {
    let cases: &[(&str, usize, &str)] = &[
        ("$nobody = 1", 0, "a parameter declared in parameters"),
        ("$userType = $nobody", 12, "a parameter declared in parameters"),
        ("${nobody} = 1", 0, "a parameter declared in parameters"),
        ("$ = 1", 1, "a parameter name after"),
        ("${userType = 1", 10, "\"}\" closing"),
        ("$userType", 9, "a comparison operator"),
        ("$userType = ", 12, "a parameter ($name or ${name})"),
        ("$userType like 1", 15, "a quoted pattern"),
        ("$userType like $userId", 15, "a quoted pattern"),
        ("'x' like '%'", 0, "a parameter before like"),
        ("$CaClientIp in_cidr '106.11.31.0/33'", 20, "an IP address or CIDR network"),
        ("$CaClientIp in_cidr 10", 20, "a quoted CIDR"),
        ("$userType < null", 10, "null compares only for equality"),
        ("null = 1", 7, "a parameter (null compares with one)"),
        ("1 = null", 0, "a parameter (null compares with one)"),
        ("header.a = 1", 0, "a parameter ($name"),
        ("$userType = 'a' and", 19, "a parameter ($name"),
        ("$userType = 'a' $userId = 1", 16, "&&, || or the end"),
        ("($userType = 'a'", 16, "&&, || or \")\""),
        ("", 0, "an expression"),
    ];
    for (text, offset, expected) in cases {
        let err = Condition::parse_aliyun(text, &params()).unwrap_err();
        assert_eq!(err.offset(), *offset, "{text}: {err}");
        assert!(err.expected().contains(expected), "{text}: {err}");
    }
    // our dialect knows no $name
    let err = Condition::parse("$userType = 'a'").unwrap_err();
    assert_eq!(err.offset(), 0);
    // nesting is bounded as in the other dialect
    let deep = format!("{}1 = 1{}", "(".repeat(200), ")".repeat(200));
    assert!(Condition::parse_aliyun(&deep, &params()).is_err());
    let deep = format!("{}1 = 1", "not ".repeat(200));
    assert!(Condition::parse_aliyun(&deep, &params()).is_err());
}

#[test]
fn parameters_map_errors_name_the_entry() {
    /// The pairs of a map, the field its error names, and words of its problem.
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);
    let cases: &[Case<'_>] = &[
        (&[("a", "Cookie:x")], "parameters.a", "unknown location"),
        (&[("a", "Query")], "parameters.a", "takes a name"),
        (&[("a", "Method:x")], "parameters.a", "takes no name"),
        (&[("a", "Header:bad name")], "parameters.a", "not a header name"),
        (&[("a", "System:CaNothing")], "parameters.a", "unknown system parameter"),
        (&[("a", "XFF:first")], "parameters.a", "not an index"),
        (&[("a", "BodyJsonField:result")], "parameters.a", "not a JSONPath"),
        (&[("a", "BodyJsonField:$.a[*]")], "parameters.a", "neither an index"),
        (&[("a", "Host:sub")], "parameters.a", "System:CaDomain"),
        (&[("1a", "Method")], "parameters.1a", "a parameter name"),
        (&[("a-b", "Method")], "parameters.a-b", "a parameter name"),
        (&[("a", "Method"), ("a", "Path")], "parameters.a", "declared twice"),
    ];
    for (pairs, field, problem) in cases {
        let err = AliyunParameters::from_pairs(pairs.iter().copied()).unwrap_err();
        assert_eq!(err.field, *field, "{pairs:?}: {err}");
        assert!(err.problem.contains(problem), "{pairs:?}: {err}");
    }
    // location words ignore case; names keep theirs
    let p =
        AliyunParameters::from_pairs([("a", "query:Q"), ("b", "HEADER:X-A"), ("c", "bodyJson:$.x"), ("d", "xff:-2")])
            .unwrap();
    assert_eq!(p.get("a"), Some(&AliyunLocation::Query("Q".into())));
    assert_eq!(p.get("b").unwrap().to_string(), "Header:x-a");
    assert_eq!(p.get("c"), Some(&AliyunLocation::BodyJsonField("$.x".into())));
    assert_eq!(p.get("d"), Some(&AliyunLocation::Xff(-2)));
    // the phase checks
    for (location, request, response) in [
        ("Method", true, false),
        ("Path", true, false),
        ("Query:a", true, false),
        ("Form:a", true, false),
        ("Parameter:a", true, false),
        ("XFF:0", true, false),
        ("StatusCode", false, true),
        ("ErrorCode", false, true),
        ("BodyJsonField:$.a", false, true),
        ("Header:a", true, true),
        ("System:CaAppId", true, true),
        ("Token:a", true, true),
    ] {
        let p = AliyunParameters::from_pairs([("v", location)]).unwrap();
        assert_eq!(p.clone().for_request().is_ok(), request, "{location}");
        assert_eq!(p.clone().for_phase(Phase::Response).is_ok(), response, "{location}");
        if let Err(e) = p.for_response() {
            assert_eq!(e.field, "parameters.v");
        }
    }
    // serde: a bad location names the entry through a path-tracking deserializer
    let json = r#"{"parameters": {"ok": "Method", "bad": "Cookie:x"}}"#;
    #[derive(Debug, serde::Deserialize)]
    struct Plugin {
        #[allow(dead_code)]
        parameters: AliyunParameters,
    }
    let err = serde_path_to_error::deserialize::<_, Plugin>(&mut serde_json::Deserializer::from_str(json)).unwrap_err();
    assert_eq!(err.path().to_string(), "parameters.bad");
    assert!(err.inner().to_string().starts_with("unknown location \"Cookie\""), "{err}");
    let json = r#"{"parameters": {"a": "Method", "a": "Path"}}"#;
    let err = serde_json::from_str::<Plugin>(json).unwrap_err();
    assert!(err.to_string().starts_with("parameters.a: the name is declared twice"), "{err}");
    // and serializes back to the same map
    let p = params();
    let text = serde_json::to_string(&p).unwrap();
    assert_eq!(serde_json::from_str::<AliyunParameters>(&text).unwrap(), p);
}

#[test]
fn templates() {
    let p = params();
    let (req, _) = aliyun_request();
    let view = RequestView::from_request(&req);
    let t = Template::parse("${userType}:${userId}/${CaAppId} $notavar ${missing}.", &p).unwrap();
    assert_eq!(t.render(&view).unwrap(), "admin:1230/123456 $notavar .");
    assert!(!t.is_constant());
    assert_eq!(t.locations().count(), 4);
    assert!(Template::parse("plain", &p).unwrap().is_constant());
    assert_eq!(Template::parse("", &p).unwrap().render(&view).unwrap(), "");
    for (text, offset) in [("a ${nobody}", 2), ("${userType", 0), ("x ${} y", 2), ("${user Type}", 0)] {
        let err = Template::parse(text, &p).unwrap_err();
        assert_eq!(err.offset(), offset, "{text}: {err}");
    }
    // a value with two readings is an error, not a pick
    let twice = Request::get("/?user=1&user=2").body(()).unwrap();
    assert!(t.render(&RequestView::from_request(&twice)).is_err());
}

#[test]
fn reads_the_form_only_when_asked() {
    let cond = aliyun("$qty = 3");
    assert!(cond.needs_form_body());
    assert!(!aliyun("$userId = 3").needs_form_body());
    let (req, body) = aliyun_request();
    assert_eq!(cond.check(&RequestView::from_request(&req)), Ok(false));
    assert_eq!(cond.check(&RequestView::from_request(&req).with_body(body)), Ok(true));
}
