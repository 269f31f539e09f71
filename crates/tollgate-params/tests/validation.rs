//! Parameter validation: every type and rule, defaults in every position, strict mode,
//! multi-problem reports, bodies and schemas, path templates, configuration errors.

mod common;

use common::{get, request, validate};
use http::{HeaderValue, Request};
use serde_json::json;
use tollgate_core::{ErrorStyle, PathParams, PathTemplate};
use tollgate_params::{
    ConfigError, Fixes, Param, ParamRequest, ParamRules, ParamType, ParamValidationConfig, ParamValidationLayer,
    ProblemKind, Report,
};

fn rules(params: impl IntoIterator<Item = Param>) -> ParamRules {
    let mut config = ParamValidationConfig::new();
    for p in params {
        config = config.param(p);
    }
    ParamRules::new(&config).unwrap()
}

fn check_uri(rules: &ParamRules, uri: &str) -> Result<Fixes, Report> {
    let req = Request::get(uri).body(()).unwrap();
    rules.check(&ParamRequest::new(req.uri(), req.headers()))
}

/// Whether `?{name}={value}` passes a single parameter `param`.
fn passes(param: Param, value: &str) -> bool {
    let name = param.name.clone();
    let r = rules([param]);
    let query = tollgate_params::urlencoded::encode_pairs([(name.as_str(), value)]);
    check_uri(&r, &format!("/?{query}")).is_ok()
}

fn rule_of(param: Param, value: &str) -> String {
    let name = param.name.clone();
    let r = rules([param]);
    let query = tollgate_params::urlencoded::encode_pairs([(name.as_str(), value)]);
    let report = check_uri(&r, &format!("/?{query}")).unwrap_err();
    assert_eq!(report.problems().len(), 1);
    report.problems()[0].rule.clone()
}

fn layer(config: ParamValidationConfig) -> ParamValidationLayer {
    ParamValidationLayer::from_config(&config).unwrap()
}

fn config_error(config: ParamValidationConfig) -> ConfigError {
    ParamRules::new(&config).unwrap_err()
}

#[test]
fn types() {
    let q = || Param::query("v");
    for ok in ["", "any text", "你好"] {
        assert!(passes(q().string(), ok));
    }
    for (ok, bad) in [("-2147483648", "2147483648"), ("+7", "1.0"), ("007", "seven"), ("0", " 1")] {
        assert!(passes(q().int(), ok), "{ok}");
        assert!(!passes(q().int(), bad), "{bad}");
    }
    assert!(passes(q().long(), "9223372036854775807"));
    assert!(!passes(q().long(), "9223372036854775808"));
    for ok in ["1.5", "-2e3", "3", ".5"] {
        assert!(passes(q().float(), ok), "{ok}");
        assert!(passes(q().double(), ok), "{ok}");
    }
    for bad in ["NaN", "inf", "-infinity", "1,5", "0x10", ""] {
        assert!(!passes(q().float(), bad), "{bad}");
        assert!(!passes(q().double(), bad), "{bad}");
    }
    assert!(!passes(q().float(), "1e39"), "beyond f32");
    assert!(passes(q().double(), "1e39"));
    for ok in ["true", "FALSE", "True"] {
        assert!(passes(q().boolean(), ok));
    }
    for bad in ["1", "yes", "t", ""] {
        assert!(!passes(q().boolean(), bad));
    }
    assert_eq!(rule_of(q().int(), "x"), "expected an int (32-bit integer)");
    assert_eq!(rule_of(q().boolean(), "x"), "expected a boolean (true or false)");
}

#[test]
fn arrays_check_every_occurrence() {
    let r = rules([Param::query("ids").array_of(ParamType::Int).max(100)]);
    assert!(check_uri(&r, "/?ids=1&ids=2&ids=100").is_ok());
    assert!(check_uri(&r, "/?ids=1").is_ok());
    let report = check_uri(&r, "/?ids=1&ids=x").unwrap_err();
    assert_eq!(report.problems()[0].rule, "each value expected an int (32-bit integer)");
    let report = check_uri(&r, "/?ids=1&ids=101").unwrap_err();
    assert_eq!(report.problems()[0].rule, "each value must be at most 100");
    // repeated headers are an array's values too
    let r = rules([Param::header("x-tag").array_of(ParamType::String).one_of(["a", "b"])]);
    let req = Request::get("/").header("x-tag", "a").header("x-tag", "b").body(()).unwrap();
    assert!(r.check(&ParamRequest::new(req.uri(), req.headers())).is_ok());
    let req = Request::get("/").header("x-tag", "a").header("x-tag", "c").body(()).unwrap();
    assert!(r.check(&ParamRequest::new(req.uri(), req.headers())).is_err());
}

#[test]
fn a_single_value_given_twice_is_refused() {
    let r = rules([Param::query("page").int().min(1)]);
    let report = check_uri(&r, "/?page=1&page=-5").unwrap_err();
    assert_eq!(report.problems()[0].kind, ProblemKind::Invalid);
    assert_eq!(report.problems()[0].rule, "given 2 times; expected one value");
    let r = rules([Param::header("x-a")]);
    let req = Request::get("/").header("x-a", "1").header("x-a", "2").body(()).unwrap();
    assert!(r.check(&ParamRequest::new(req.uri(), req.headers())).is_err());
}

#[test]
fn ranges_are_inclusive() {
    let p = || Param::query("n").int().min(1).max(10);
    assert!(passes(p(), "1") && passes(p(), "10"));
    assert!(!passes(p(), "0") && !passes(p(), "11"));
    assert_eq!(rule_of(p(), "0"), "must be at least 1");
    assert_eq!(rule_of(p(), "11"), "must be at most 10");
    let d = || Param::query("x").double().min(0.5).max(2);
    assert!(passes(d(), "0.5") && passes(d(), "2") && passes(d(), "2.0"));
    assert!(!passes(d(), "0.49") && !passes(d(), "2.0001"));
    // a float bound written as 5.0 is fine for an int
    assert!(passes(Param::query("n").int().min(5.0), "5"));
    let l = || Param::query("n").long().min(i64::MIN).max(i64::MAX);
    assert!(passes(l(), "-9223372036854775808"));
}

#[test]
fn lengths_count_characters() {
    let p = || Param::query("s").min_length(2).max_length(3);
    assert!(passes(p(), "ab") && passes(p(), "你好吗"));
    assert!(!passes(p(), "a") && !passes(p(), "abcd"));
    assert_eq!(rule_of(p(), "a"), "must be at least 2 characters long");
    assert_eq!(rule_of(p(), "abcd"), "must be at most 3 characters long");
}

#[test]
fn enumerations_compare_by_type() {
    let s = || Param::query("s").one_of(["asc", "desc"]);
    assert!(passes(s(), "asc") && !passes(s(), "ASC"));
    assert_eq!(rule_of(s(), "up"), r#"must be one of "asc", "desc""#);
    let n = || Param::query("n").double().one_of([1, 2]);
    assert!(passes(n(), "1.0") && passes(n(), "2") && !passes(n(), "3"));
    let b = || Param::query("b").boolean().one_of([true]);
    assert!(passes(b(), "TRUE") && !passes(b(), "false"));
}

#[test]
fn regexes_match_the_whole_value() {
    let p = || Param::query("code").regex("[A-Z]{3}");
    assert!(passes(p(), "ABC"));
    assert!(!passes(p(), "xABC") && !passes(p(), "ABCD") && !passes(p(), "AB"));
    assert_eq!(rule_of(p(), "ab"), "must match the pattern [A-Z]{3}");
    assert!(passes(Param::query("n").int().regex("[0-9]+"), "42"));
}

#[test]
fn required_parameters_in_each_position() {
    let config = ParamValidationConfig::new()
        .path("/users/{id}")
        .param(Param::header("x-token").required())
        .param(Param::query("regionId").required());
    let r = ParamRules::new(&config).unwrap();
    let report = check_uri(&r, "/users/1").unwrap_err();
    let codes: Vec<String> = report.problems().iter().map(|p| p.code()).collect();
    assert_eq!(codes, ["MissingX-token", "MissingRegionId"]);
    assert_eq!(report.problems()[1].aliyun_message(), "regionId is mandatory for this action.");
    // an empty value is present
    let req = Request::get("/users/1?regionId=").header("x-token", "").body(()).unwrap();
    assert!(r.check(&ParamRequest::new(req.uri(), req.headers())).is_ok());
}

#[test]
fn headers_that_are_not_text_are_invalid() {
    let r = rules([Param::header("x-name")]);
    let mut req = Request::get("/").body(()).unwrap();
    req.headers_mut().insert("x-name", HeaderValue::from_bytes(b"caf\xe9").unwrap());
    let report = r.check(&ParamRequest::new(req.uri(), req.headers())).unwrap_err();
    assert_eq!(report.problems()[0].rule, "the value is not valid text");
}

#[tokio::test]
async fn every_problem_is_reported_together() {
    let l = layer(
        ParamValidationConfig::new()
            .path("/orders/{id}")
            .param(Param::path("id").int())
            .param(Param::header("x-client").required())
            .param(Param::query("page").int().min(1))
            .param(Param::query("sort").one_of(["asc", "desc"])),
    );
    let out = validate(&l, get("/orders/x?page=0&sort=up")).await;
    assert_eq!(out.status, 400);
    assert_eq!(out.headers["content-type"], "application/problem+json");
    assert_eq!(out.code(), "InvalidId");
    assert_eq!(out.json["policy"], "params");
    assert_eq!(
        out.detail(),
        "4 problems: path id: expected an int (32-bit integer); header x-client: is required; \
         query page: must be at least 1; query sort: must be one of \"asc\", \"desc\""
    );
    // the same refusal in other ecosystems' words
    let aliyun = validate(&l.clone().error_style(ErrorStyle::AliyunApiGateway), get("/orders/x")).await;
    assert_eq!(aliyun.status, 400);
    assert_eq!(aliyun.headers["x-ca-error-message"], "Specified parameter id is not valid.");
    let rpc = validate(&l.clone().error_style(ErrorStyle::AliyunRpc), get("/orders/1")).await;
    assert_eq!(
        (rpc.json["Code"].as_str(), rpc.json["Message"].as_str()),
        (Some("MissingX-client"), Some("x-client is mandatory for this action."))
    );
    let tencent = validate(&l.clone().error_style(ErrorStyle::TencentCloud), get("/orders/1")).await;
    assert_eq!(tencent.json["Response"]["Error"]["Code"], "MissingParameter");
    assert_eq!(tencent.json["Response"]["Error"]["Message"], "header x-client: is required");
}

#[tokio::test]
async fn refusals_never_repeat_the_value() {
    let l = layer(ParamValidationConfig::new().param(Param::query("token").regex("[a-f0-9]{8}")));
    let out = validate(&l, get("/?token=s3cr3t-value")).await;
    assert_eq!(out.status, 400);
    assert!(!out.json.to_string().contains("s3cr3t"), "{}", out.json);
}

#[tokio::test]
async fn defaults_are_written_for_the_handler() {
    let l = layer(
        ParamValidationConfig::new()
            .param(Param::header("x-lang").default("en"))
            .param(Param::query("page").int().default(1).min(1))
            .param(Param::query("tag").array_of(ParamType::String).default(json!(["a b", "c"]))),
    );
    let out = validate(&l, get("/list?q=x")).await;
    assert_eq!(out.status, 200);
    let seen = out.seen();
    assert_eq!(seen.uri, "/list?q=x&page=1&tag=a+b&tag=c");
    assert_eq!(seen.headers["x-lang"], "en");
    // present values are left alone, and the request is otherwise as sent
    let out = validate(&l, request("GET", "/list?page=3&tag=z", &[("x-lang", "fr")], "")).await;
    assert_eq!(out.seen().uri, "/list?page=3&tag=z");
    assert_eq!(out.seen().headers["x-lang"], "fr");
    let out = validate(&l, get("/list")).await;
    assert_eq!(out.seen().uri, "/list?page=1&tag=a+b&tag=c");
}

#[tokio::test]
async fn form_defaults_rewrite_the_body_and_its_length() {
    let l = layer(
        ParamValidationConfig::new()
            .param(Param::form("qty").int().default(1))
            .param(Param::form("note").max_length(5)),
    );
    let form = [("content-type", "application/x-www-form-urlencoded"), ("content-length", "7")];
    let out = validate(&l, request("POST", "/", &form, "note=hi")).await;
    assert_eq!(out.status, 200);
    assert_eq!(out.seen().body, "note=hi&qty=1");
    assert_eq!(out.seen().headers["content-length"], "13");
    let out = validate(&l, request("POST", "/", &form, "note=toolong")).await;
    assert_eq!((out.status.as_u16(), out.code()), (400, "InvalidNote"));
    // no default needed: the body arrives byte for byte
    let out = validate(&l, request("POST", "/", &form[..1], "qty=2&note=%68i&zz")).await;
    assert_eq!(out.seen().body, "qty=2&note=%68i&zz");
}

#[tokio::test]
async fn json_defaults_are_set_at_their_pointer() {
    let l = layer(
        ParamValidationConfig::new()
            .param(Param::json("qty", "/order/qty").int().default(1).min(1))
            .param(Param::json("gift", "/order/gift").boolean().default(false))
            .param(Param::json("tags", "/tags").array_of(ParamType::String).default(json!(["x"]))),
    );
    let json_ct = [("content-type", "application/json")];
    let out = validate(&l, request("POST", "/", &json_ct, r#"{"order": {"sku": "a"}}"#)).await;
    assert_eq!(out.status, 200);
    let body: serde_json::Value = serde_json::from_slice(&out.seen().body).unwrap();
    assert_eq!(body, json!({"order": {"sku": "a", "qty": 1, "gift": false}, "tags": ["x"]}));
    assert_eq!(out.seen().headers["content-length"], out.seen().body.len().to_string());
    // an empty JSON body becomes one holding the defaults
    let out = validate(&l, request("POST", "/", &json_ct, "")).await;
    let body: serde_json::Value = serde_json::from_slice(&out.seen().body).unwrap();
    assert_eq!(body, json!({"order": {"qty": 1, "gift": false}, "tags": ["x"]}));
    // typed JSON checks
    let out = validate(&l, request("POST", "/", &json_ct, r#"{"order": {"qty": "2", "gift": 1}, "tags": [1]}"#)).await;
    assert_eq!(out.status, 400);
    assert_eq!(
        out.detail(),
        "3 problems: json qty: expected an int (32-bit integer); json gift: expected a boolean (true or false); \
         json tags: each value expected a string"
    );
    let out = validate(&l, request("POST", "/", &json_ct, r#"{"order": {"qty": 0}, "tags": "x"}"#)).await;
    assert_eq!(out.detail(), "2 problems: json qty: must be at least 1; json tags: expected an array of strings");
    // null counts as absent: the default replaces it
    let out = validate(&l, request("POST", "/", &json_ct, r#"{"order": {"qty": null}, "tags": []}"#)).await;
    let body: serde_json::Value = serde_json::from_slice(&out.seen().body).unwrap();
    assert_eq!(body["order"]["qty"], 1);
}

#[tokio::test]
async fn body_parameters_follow_the_content_type() {
    let l = layer(ParamValidationConfig::new().param(Param::body("count").int().required()));
    let form = request("POST", "/", &[("content-type", "application/x-www-form-urlencoded")], "count=3");
    assert_eq!(validate(&l, form).await.status, 200);
    let json = request("POST", "/", &[("content-type", "application/json; charset=utf-8")], r#"{"count": 3}"#);
    assert_eq!(validate(&l, json).await.status, 200);
    let json = request("POST", "/", &[("content-type", "application/json")], r#"{"count": "x"}"#);
    assert_eq!(validate(&l, json).await.code(), "InvalidCount");
    let text = request("POST", "/", &[("content-type", "text/plain")], "count=3");
    let out = validate(&l, text).await;
    assert_eq!(out.code(), "InvalidParamLocation");
    let aliyun = l.clone().error_style(ErrorStyle::AliyunApiGateway);
    let out = validate(&aliyun, request("POST", "/", &[("content-type", "text/plain")], "x")).await;
    assert_eq!(out.headers["x-ca-error-message"], "Invalid Param Location");
    let out =
        validate(&aliyun, request("POST", "/", &[("content-type", "multipart/form-data; boundary=x")], "--x")).await;
    assert_eq!(out.headers["x-ca-error-message"], "Unsupported Multipart");
    let out = validate(&aliyun, request("POST", "/", &[("content-type", "application/json")], "")).await;
    assert_eq!(out.headers["x-ca-error-message"], "Empty Request Body");
    let out = validate(&aliyun, request("POST", "/", &[("content-type", "application/json")], "{nope")).await;
    assert_eq!(out.headers["x-ca-error-message"], "Invalid Request Body");
}

#[tokio::test]
async fn form_and_json_parameters_want_their_own_kind_of_body() {
    let form = layer(ParamValidationConfig::new().param(Param::form("a")));
    let out = validate(&form, request("POST", "/", &[("content-type", "application/json")], "{}")).await;
    assert_eq!(out.code(), "InvalidParamLocation");
    // without a Content-Type, a body is read as the kind its parameters want
    let out = validate(&form, request("POST", "/", &[], "a=1")).await;
    assert_eq!(out.status, 200);
    let json = layer(ParamValidationConfig::new().param(Param::json("a", "/a").int()));
    let out =
        validate(&json, request("POST", "/", &[("content-type", "application/x-www-form-urlencoded")], "a=1")).await;
    assert_eq!(out.code(), "InvalidParamLocation");
    let out = validate(&json, request("POST", "/", &[], r#"{"a": 1}"#)).await;
    assert_eq!(out.status, 200);
    let out = validate(&json, request("POST", "/", &[("content-type", "multipart/form-data")], "x")).await;
    assert_eq!(out.code(), "InvalidParamLocation");
    // optional body parameters and no body: the request passes
    assert_eq!(validate(&json, get("/")).await.status, 200);
}

#[tokio::test]
async fn a_json_schema_checks_the_whole_body() {
    let schema = json!({
        "type": "object",
        "required": ["sku", "qty"],
        "properties": {"sku": {"type": "string", "minLength": 3}, "qty": {"type": "integer", "minimum": 1}},
        "additionalProperties": false
    });
    let l = layer(ParamValidationConfig::new().schema(schema));
    let ct = [("content-type", "application/json")];
    assert_eq!(validate(&l, request("POST", "/", &ct, r#"{"sku": "abc", "qty": 2}"#)).await.status, 200);
    let out = validate(&l, request("POST", "/", &ct, r#"{"sku": "ab", "qty": 0"#)).await;
    assert_eq!(out.code(), "InvalidRequestBody", "not JSON at all");
    let out = validate(&l, request("POST", "/", &ct, r#"{"sku": "zz", "qty": 0, "extra": "hush-hush"}"#)).await;
    assert_eq!(out.status, 400);
    assert_eq!(out.code(), "InvalidRequestBody");
    let detail = out.detail();
    assert!(detail.starts_with("3 problems: "), "{detail}");
    assert!(detail.contains("body /sku: value is shorter than 3 characters"), "{detail}");
    assert!(detail.contains("body /qty: value is less than the minimum of 1"), "{detail}");
    assert!(detail.contains("body: Additional properties are not allowed"), "{detail}");
    assert!(!detail.contains("hush-hush") && !detail.contains("\"zz\""), "values are masked: {detail}");
    let out = validate(&l, request("POST", "/", &ct, "")).await;
    assert_eq!(out.code(), "EmptyRequestBody");
    let out = validate(&l, request("POST", "/", &ct, "[1]")).await;
    assert_eq!(out.detail(), "body: value is not of type \"object\"");
}

#[tokio::test]
async fn a_schema_follows_its_declared_draft() {
    // draft 4's exclusiveMaximum is a boolean (a number from draft 6 on)
    let draft4 = json!({"$schema": "http://json-schema.org/draft-04/schema#", "maximum": 5, "exclusiveMaximum": true});
    let l = layer(ParamValidationConfig::new().schema(draft4));
    let ct = [("content-type", "application/json")];
    assert_eq!(validate(&l, request("POST", "/", &ct, "4")).await.status, 200);
    assert_eq!(validate(&l, request("POST", "/", &ct, "5")).await.status, 400);
    let l = layer(ParamValidationConfig::new().schema(json!({"prefixItems": [{"type": "integer"}]})));
    assert_eq!(validate(&l, request("POST", "/", &ct, r#"["x"]"#)).await.status, 400, "2020-12 keyword");
}

#[tokio::test]
async fn bodies_over_the_limit_are_refused_with_413() {
    let l = layer(ParamValidationConfig::new().param(Param::form("a"))).body_limit(16);
    let ct = [("content-type", "application/x-www-form-urlencoded")];
    let out = validate(&l, request("POST", "/", &ct, &"a".repeat(17))).await;
    assert_eq!(out.status, 413);
    assert_eq!(out.json["policy"], "params");
    assert_eq!(validate(&l, request("POST", "/", &ct, "a=1")).await.status, 200);
}

#[tokio::test]
async fn bodies_are_not_read_without_body_parameters() {
    let l = layer(ParamValidationConfig::new().param(Param::query("a")));
    assert!(!l.rules().needs_body());
    let big = "x".repeat(100_000);
    let out = validate(&l.body_limit(10), request("POST", "/?a=1", &[("content-type", "text/plain")], &big)).await;
    assert_eq!(out.status, 200);
    assert_eq!(out.seen().body.len(), 100_000);
}

#[tokio::test]
async fn strict_mode_refuses_undefined_parameters() {
    let base = ParamValidationConfig::new().param(Param::query("a")).param(Param::header("x-h"));
    let lenient = layer(base.clone());
    let strict = layer(base.strict(true));
    let out = validate(&lenient, get("/?a=1&b=2&c=3")).await;
    assert_eq!(out.seen().uri, "/?a=1&b=2&c=3", "undefined parameters pass through untouched");
    let out = validate(&strict, request("GET", "/?a=1&b=2&b=3&%63=4", &[("x-other", "1")], "")).await;
    assert_eq!(out.status, 400);
    assert_eq!(out.code(), "InvalidB");
    assert_eq!(out.detail(), "2 problems: query b: is not a defined parameter; query c: is not a defined parameter");
    let tencent = validate(&strict.clone().error_style(ErrorStyle::TencentCloud), get("/?zz=1")).await;
    assert_eq!(tencent.json["Response"]["Error"]["Code"], "UnknownParameter");
    assert_eq!(validate(&strict, request("GET", "/?a=1", &[("x-unlisted", "1")], "")).await.status, 200);
    // form fields and top-level JSON keys
    let form = layer(ParamValidationConfig::new().param(Param::form("f")).strict(true));
    let out =
        validate(&form, request("POST", "/", &[("content-type", "application/x-www-form-urlencoded")], "f=1&g=2"))
            .await;
    assert_eq!(out.detail(), "form g: is not a defined parameter");
    let json = layer(
        ParamValidationConfig::new()
            .param(Param::json("qty", "/order/qty"))
            .schema(json!({"properties": {"note": {}}}))
            .strict(true),
    );
    let ct = [("content-type", "application/json")];
    assert_eq!(validate(&json, request("POST", "/", &ct, r#"{"order": {"x": 1}, "note": 1}"#)).await.status, 200);
    let out = validate(&json, request("POST", "/", &ct, r#"{"order": {}, "admin": true}"#)).await;
    assert_eq!(out.detail(), "json admin: is not a defined parameter");
}

#[tokio::test]
async fn the_path_template_binds_and_scopes() {
    let l = layer(
        ParamValidationConfig::new()
            .path("/users/{uid}/orders/{oid}")
            .param(Param::path("uid").regex("[a-z]+"))
            .param(Param::path("oid").long().min(1))
            .param(Param::query("page").int().required()),
    );
    let out = validate(&l, get("/users/ann/orders/12?page=1")).await;
    assert_eq!(out.status, 200);
    assert_eq!(
        out.seen().path_params.as_deref(),
        Some(&[("uid".to_owned(), "ann".to_owned()), ("oid".to_owned(), "12".to_owned())][..])
    );
    let out = validate(&l, get("/users/ANN/orders/0?page=1")).await;
    assert_eq!(out.detail(), "2 problems: path uid: must match the pattern [a-z]+; path oid: must be at least 1");
    // percent-decoded before the check
    assert_eq!(validate(&l, get("/users/%61nn/orders/%31?page=1")).await.status, 200);
    // another API's path passes unchecked (no page, no path parameters)
    let out = validate(&l, get("/health")).await;
    assert_eq!(out.status, 200);
    assert_eq!(out.seen().path_params, None);
}

#[tokio::test]
async fn without_a_template_path_parameters_come_from_the_extensions() {
    let l = layer(ParamValidationConfig::new().param(Param::path("id").int().required()));
    let mut req = get("/whatever/7");
    let bound = PathTemplate::parse("/whatever/{id}").unwrap().matches("/whatever/7").unwrap();
    req.extensions_mut().insert::<PathParams>(bound);
    assert_eq!(validate(&l, req).await.status, 200);
    let out = validate(&l, get("/whatever/7")).await;
    assert_eq!(out.code(), "MissingId");
}

#[test]
fn configuration_errors_name_the_field() {
    let one = |p: Param| config_error(ParamValidationConfig::new().param(p));
    let cases = [
        (one(Param::header("bad header")), "params[0].name"),
        (one(Param::query("")), "params[0].name"),
        (one(Param::query("a").required().default("x")), "params[0].default"),
        (one(Param::query("a").int().default("x")), "params[0].default"),
        (one(Param::query("a").int().min(5).default(1)), "params[0].default"),
        (one(Param::query("a").min(1)), "params[0].min"),
        (one(Param::query("a").int().max_length(3)), "params[0].max_length"),
        (one(Param::query("a").int().min(5).max(1)), "params[0].min"),
        (one(Param::query("a").min_length(5).max_length(1)), "params[0].min_length"),
        (one(Param::query("a").int().min(1.5)), "params[0].min"),
        (one(Param::query("a").double().max(f64::NAN)), "params[0].max"),
        (one(Param::query("a").regex("(")), "params[0].regex"),
        (one(Param::query("a").int().one_of(["x"])), "params[0].enum[0]"),
        (one(Param::query("a").one_of([json!({})])), "params[0].enum[0]"),
        (one(Param::query("a").array_of(ParamType::Array)), "params[0].items"),
        (one(Param { items: Some(ParamType::Int), ..Param::query("a") }), "params[0].items"),
        (one(Param::json("a", "a")), "params[0].pointer"),
        (one(Param::query("a").pointer("/a")), "params[0].pointer"),
        (one(Param::path("a").default("x")), "params[0].default"),
        (one(Param::path("a").array_of(ParamType::Int)), "params[0].type"),
        (one(Param::header("x-a").default("a\nb")), "params[0].default"),
        (one(Param::query("a").default(json!([]))), "params[0].default"),
    ];
    for (err, field) in cases {
        assert_eq!(err.field, field, "{err}");
    }
    let err = config_error(ParamValidationConfig::new().path("/users/{id}").param(Param::path("uid")));
    assert_eq!(err.to_string(), "params[0].name: the path template \"/users/{id}\" has no {uid} segment");
    assert_eq!(config_error(ParamValidationConfig::new().path("users")).field, "path");
    let err = config_error(ParamValidationConfig::new().param(Param::form("a")).param(Param::json("b", "/b")));
    assert_eq!(err.field, "params[0].position");
    let err = config_error(ParamValidationConfig::new().param(Param::form("a")).schema(json!({})));
    assert_eq!(err.field, "params[0].position");
    assert_eq!(config_error(ParamValidationConfig::new().schema(json!({"type": 5}))).field, "schema");
    let err = config_error(ParamValidationConfig::new().schema(json!({"$ref": "https://example.com/s.json"})));
    assert_eq!(err.field, "schema", "remote references are never fetched");
    let err = config_error(ParamValidationConfig::new().param(Param::header("X-A")).param(Param::header("x-a")));
    assert_eq!(err.to_string(), "params[1].name: header x-a is defined twice");
    // the same name in different positions is fine
    assert!(ParamRules::new(&ParamValidationConfig::new().param(Param::query("a")).param(Param::header("a"))).is_ok());
}

#[test]
fn serde_configuration_reads_the_references_shapes() {
    let config: ParamValidationConfig = serde_json::from_value(json!({
        "path": "/user/{userid}",
        "params": [
            {"name": "userid", "position": "PATH", "type": "Long", "required": true, "desc": "the user"},
            {"name": "X-Trace", "position": "HEAD", "type": "String", "regex": "[0-9a-f]{16}"},
            {"name": "tags", "position": "QUERY", "type": "Array", "items": "Int", "enum": [1, 2, 3]},
            {"name": "ratio", "position": "QUERY", "type": "Double", "min": 0, "max": 1, "defaultValue": 0.5}
        ]
    }))
    .unwrap();
    let r = ParamRules::new(&config).unwrap();
    let fixes = check_uri_with_path(&r, "/user/9?tags=1&tags=3", &[("userid", "9")]).unwrap();
    assert_eq!(fixes.query(), "ratio=0.5");
    assert!(check_uri_with_path(&r, "/user/9?tags=4", &[("userid", "9")]).is_err());
}

fn check_uri_with_path(rules: &ParamRules, uri: &str, path: &[(&str, &str)]) -> Result<Fixes, Report> {
    let req = Request::get(uri).body(()).unwrap();
    let path: Vec<(String, String)> = path.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    rules.check(&ParamRequest::new(req.uri(), req.headers()).with_path_params(&path))
}

#[test]
fn a_declared_name_spelled_another_way_is_refused_once() {
    let r = rules([Param::query("page").int().min(1), Param::query("sort").one_of(["asc", "desc"])]);
    // names no backend reads as `page`: longer ones, a space inside
    for ok in ["/?page=2", "/?page=2&pages=-5&page_size=3", "/?sort=asc&page=3", "/?page=2&p+age=-1", "/?"] {
        assert!(check_uri(&r, ok).is_ok(), "{ok}");
    }
    // another spelling a lenient backend reads as `page`: case, brackets, escapes, a second
    // separator; each refused however the exact name's value reads
    for shadowed in [
        "/?page=2&Page=-5",
        "/?Page=2",
        "/?PAGE=-5",
        "/?page=2&page[]=-5",
        "/?page=2&x=1;page=-5",
        "/?page=2&pa%67e%5B%5D=-5",
        "/?page=2&pa%67e=3",
    ] {
        let report = check_uri(&r, shadowed).expect_err(shadowed);
        let about_page = report.problems().iter().filter(|p| p.name == "page").count();
        assert_eq!(about_page, 1, "{shadowed}: one problem for page, {:?}", report.problems());
    }
    // two other spellings still make one problem, and the other declared name is its own
    let report = check_uri(&r, "/?Page=1&PAGE=2&Sort=asc").unwrap_err();
    let names: Vec<&str> = report.problems().iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names.iter().filter(|n| **n == "page").count(), 1, "{names:?}");
    assert_eq!(names.iter().filter(|n| **n == "sort").count(), 1, "{names:?}");
}
