//! The condition language: conformance (Tencent's examples verbatim, every operator, the
//! absent-operand rules, CIDRs, synonyms, precedence), error offsets, nesting bounds, and
//! properties: parsing never panics, printed conditions parse back to the same meaning (and
//! agree with a plain model of the semantics), and printing is a fixed point.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use http::Request;
use proptest::prelude::*;
use tollgate_core::condition::RequestView;
use tollgate_core::{Caller, ClientIp, Condition, ParamLocation, ParamSource, PathParams, PathTemplate};

/// The request most conformance rows run against.
fn sample() -> (Request<()>, &'static [u8]) {
    let mut req = Request::post("/test?id=2&user=u%201&n=10&neg=-3.5&empty=&tag=a&tag=b&big=123456789012345678901")
        .header("user", "1001")
        .header("a", "x")
        .header("X-User-Level", "vip")
        .header("user-agent", "Mozilla/5.0 (tollgate test)")
        .header("host", "API.example.com:8443")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(())
        .unwrap();
    req.extensions_mut().insert(ClientIp::direct("10.1.2.3".parse().unwrap()));
    req.extensions_mut().insert(Caller::new("AKID1").with_app_id("app-7"));
    req.extensions_mut().insert(PathTemplate::parse("/{seg}").unwrap().matches("/test").unwrap());
    (req, b"qty=3&name=a+b&note=caf%C3%A9")
}

fn holds(text: &str) -> bool {
    let (req, body) = sample();
    let cond = Condition::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
    cond.evaluate(&RequestView::from_request(&req).with_body(body))
}

fn holds_on(text: &str, req: &Request<()>) -> bool {
    Condition::parse(text).unwrap_or_else(|e| panic!("{text}: {e}")).evaluate(&RequestView::from_request(req))
}

fn printed(text: &str) -> String {
    Condition::parse(text).unwrap_or_else(|e| panic!("{text}: {e}")).to_string()
}

fn check_table(rows: &[(&str, bool)]) {
    for (text, want) in rows {
        assert_eq!(holds(text), *want, "{text}");
        // the printed form means the same
        assert_eq!(holds(&printed(text)), *want, "{text} printed as {}", printed(text));
    }
}

#[test]
fn tencent_examples_verbatim() {
    check_table(&[
        ("path='/test'", true),
        ("header.user=1001 and query.id=2", true),
        ("(header.a='x' or query.b='y') and path='/p'", false),
        ("header.unknown = 1", false),
        ("sysparam.clientIp = '10.1.2.3'", true),
        ("sysparam.httpScheme = 'HTTP'", true),
        ("sysparam.clientUa = 'Mozilla/5.0 (tollgate test)'", true),
        ("regex(path, '^/te')", true),
    ]);
    let req = Request::get("/p?b=y").body(()).unwrap();
    assert!(holds_on("(header.a='x' or query.b='y') and path='/p'", &req));
    let req = Request::get("/p?b=n").header("a", "x").body(()).unwrap();
    assert!(holds_on("(header.a='x' or query.b='y') and path='/p'", &req));

    let sampled = |draw: f64| {
        let cond = Condition::parse("Random() < 0.1").unwrap().with_random(move || draw);
        cond.evaluate(&RequestView::from_request(&Request::new(())))
    };
    assert!(sampled(0.0));
    assert!(sampled(0.099));
    assert!(!sampled(0.1));
    assert!(!sampled(0.7));
    assert_eq!(printed("path='/test'"), r#"path == "/test""#);
    assert_eq!(printed("header.user=1001 and query.id=2"), "header.user == 1001 && query.id == 2");
    assert_eq!(
        printed("(header.a='x' or query.b='y') and path='/p'"),
        r#"(header.a == "x" || query.b == "y") && path == "/p""#
    );
    assert_eq!(printed("Random() < 0.1"), "Random() < 0.1");
    // an unknown location is a build error, not a silently false condition
    assert_eq!(Condition::parse("param.unknown = 1").unwrap_err().offset(), 0);
}

#[test]
fn spec_examples() {
    check_table(&[
        (r#"header.x-user-level == "vip""#, true),
        (r#"query.amount >= 1000 && method == "POST""#, false),
        (r#"query.n >= 10 && method == "POST""#, true),
        (r#"client_ip in ["10.0.0.0/8", "192.168.1.7"]"#, true),
        (r#"path ~= "^/v1/orders/[0-9]+$" || !exists(header.authorization)"#, true),
    ]);
}

#[test]
fn each_operator() {
    check_table(&[
        // == and != (text, and numbers when both sides are numbers)
        (r#"header.a == "x""#, true),
        (r#"header.a == "X""#, false),
        (r#"header.a != "x""#, false),
        (r#"header.a != "y""#, true),
        ("query.id == 2.0", true),
        (r#"query.id == "02""#, true),
        ("query.id == 3", false),
        ("query.id != 2", false),
        ("query.big == 123456789012345678901", true),
        ("query.big == 123456789012345678902", false),
        ("query.big > 123456789012345678900.5", true),
        (r#"query.user == "u 1""#, true),
        (r#"query.empty == """#, true),
        // a repeated name has two readings: no comparison holds (and `check` refuses it)
        (r#"query.tag == "a""#, false),
        (r#"query.tag == "b""#, false),
        // ordering
        ("query.n > 9", true),
        ("query.n > 10", false),
        ("query.n >= 10", true),
        ("query.n < 10.5", true),
        ("query.n <= 9.99", false),
        ("query.neg < -3", true),
        ("query.neg >= -3.5", true),
        (r#"query.n > "9""#, true),
        ("query.tag > 1", false), // not a number
        ("query.tag < 1", false),
        ("query.empty <= 0", false),
        // regex search
        (r#"header.x-user-level ~= "^v""#, true),
        (r#"header.x-user-level ~= "ip""#, true),
        (r#"header.x-user-level ~= "^ip""#, false),
        (r#"path ~= "^/\w+$""#, true),
        (r#"regex(sysparam.clientUa, "Mozilla/[0-9.]+")"#, true),
        // membership
        (r#"method in ["GET", "POST"]"#, true),
        (r#"method in ["GET", "PUT"]"#, false),
        (r#"method !in ["GET", "PUT"]"#, true),
        (r#"method !in ["POST"]"#, false),
        ("query.id in [1, 2, 3]", true),
        ("query.id in [1.5, 2.0]", true),
        // contains
        (r#"sysparam.clientUa contains "tollgate""#, true),
        (r#"sysparam.clientUa contains "Tollgate""#, false),
        (r#"header.user contains 00"#, true),
        // booleans
        ("true", true),
        ("false", false),
        ("!false && true", true),
        // the other operands
        (r#"host == "api.example.com""#, true),
        (r#"host contains "API.EXAMPLE""#, true),
        (r#"sysparam.httpScheme == "http""#, true),
        (r#"caller == "AKID1""#, true),
        (r#"caller == "app-7""#, false),
        (r#"path.seg == "test""#, true),
        ("form.qty == 3", true),
        (r#"form.name == "a b""#, true),
        (r#"form.note == "café""#, true),
        ("exists(form.qty) && !exists(form.nope)", true),
        ("exists(path.seg) && !exists(path.other)", true),
        ("exists(client_ip) && exists(caller) && exists(host)", true),
    ]);
}

#[test]
fn absent_operands() {
    let req = Request::new(());
    let ops = ["== 1", r#"== "x""#, "> 1", ">= 1", "< 1", "<= 1", r#"~= ".*""#, "in [1]", r#"contains """#];
    for operand in ["header.missing", "query.missing", "form.missing", "path.missing", "caller", "host"] {
        for op in ops {
            let text = format!("{operand} {op}");
            assert!(!holds_on(&text, &req), "{text}");
            assert!(holds_on(&format!("!({text})"), &req), "!({text})");
        }
    }
    for text in
        [r#"client_ip == "10.0.0.1""#, r#"client_ip ~= ".*""#, r#"client_ip in ["::/0"]"#, r#"client_ip contains """#]
    {
        assert!(!holds_on(text, &req), "{text}");
    }
    for text in ["header.missing != 1", "query.missing !in [1, 2]", r#"client_ip != "10.0.0.1""#, "caller != \"x\""] {
        assert!(holds_on(text, &req), "{text}");
    }
    assert!(holds_on(r#"client_ip !in ["10.0.0.0/8"]"#, &req));
    assert!(!holds_on(r#"client_ip in ["0.0.0.0/0", "::/0"]"#, &req));
    assert!(!holds_on("exists(header.missing)", &req));
    assert!(!holds_on("exists(client_ip)", &req));
    assert!(!holds_on("exists(host)", &req));
    // a form body is read only when given and of the form content type
    let (req, body) = sample();
    let cond = Condition::parse("form.qty == 3").unwrap();
    assert!(cond.needs_form_body());
    assert!(!cond.evaluate(&RequestView::from_request(&req)));
    let plain = Request::post("/").header("content-type", "text/plain").body(()).unwrap();
    assert!(!cond.evaluate(&RequestView::from_request(&plain).with_body(body)));
}

#[test]
fn cidr_membership_v4_and_v6() {
    let at = |ip: &str| {
        let mut req = Request::new(());
        req.extensions_mut().insert(ClientIp::direct(ip.parse().unwrap()));
        req
    };
    let list = r#"client_ip in ["10.0.0.0/8", "192.168.1.7", "2001:db8::/32", "::1"]"#;
    for (ip, want) in [
        ("10.255.0.1", true),
        ("11.0.0.1", false),
        ("192.168.1.7", true),
        ("192.168.1.8", false),
        ("2001:db8:ffff::1", true),
        ("2001:db9::1", false),
        ("::1", true),
        ("::ffff:10.1.1.1", true), // mapped IPv4 is IPv4
    ] {
        assert_eq!(holds_on(list, &at(ip)), want, "{ip}");
        assert_eq!(holds_on(&list.replace(" in ", " !in "), &at(ip)), !want, "{ip}");
    }
    assert!(holds_on(r#"client_ip == "10.0.0.0/8""#, &at("10.9.9.9")));
    assert!(holds_on(r#"client_ip == "10.9.9.9""#, &at("10.9.9.9")));
    assert!(!holds_on(r#"client_ip == "10.9.9.9""#, &at("10.9.9.8")));
    assert!(holds_on(r#"client_ip in ["::ffff:10.0.0.0/104"]"#, &at("10.1.2.3")));
    assert!(holds_on(r#"client_ip contains "db8""#, &at("2001:db8::1")));
    assert!(holds_on(r#"sysparam.clientIp ~= "^10\.""#, &at("10.0.0.1")));
    // the view may be told the address
    let req = Request::new(());
    let cond = Condition::parse(list).unwrap();
    assert!(cond.evaluate(&RequestView::from_request(&req).with_client_ip("10.0.0.1".parse().unwrap())));
    // bad networks are build errors, each pointing at its entry
    let err = Condition::parse(r#"client_ip in ["10.0.0.0/8", "10.0.0.0/33"]"#).unwrap_err();
    assert_eq!((err.offset(), err.expected()), (28, "an IP address or CIDR network"));
    assert!(Condition::parse(r#"client_ip in ["example.com"]"#).is_err());
    assert!(Condition::parse("client_ip in [10]").is_err());
    assert!(Condition::parse(r#"client_ip == "300.1.1.1""#).is_err());
}

#[test]
fn synonyms_print_alike() {
    for group in [
        &["header.a = 'x'", r#"header.a == "x""#, r#"HEADER.A == "x""#, r#"Header.a=="x""#][..],
        &["header.a == 1 and query.b == 2", "header.a == 1 && query.b == 2", "header.a==1 AND query.b==2"],
        &["header.a == 1 or query.b == 2", "header.a == 1 || query.b == 2", "header.a==1 Or query.b==2"],
        &["not exists(header.a)", "!exists(header.a)", "NOT exists(header.a)", "! exists ( header.a )"],
        &[
            r#"sysparam.clientIp in ["10.0.0.0/8"]"#,
            r#"client_ip in ['10.0.0.0/8']"#,
            r#"SYSPARAM.CLIENTIP IN ["10.0.0.0/8"]"#,
            r#"Client_IP in ["10.0.0.0/8"]"#,
        ],
        &[r#"regex(header.a, "^x")"#, r#"header.a ~= "^x""#, r#"REGEX( header.a , '^x' )"#],
        &["Random() < 0.5", "random() < 0.5", "RANDOM ( ) < 0.5"],
        &["sysparam.httpscheme == 'https'", r#"sysparam.httpScheme == "https""#],
        &["header.a !in [1, 2]", "header.a !IN [1,2]"],
    ] {
        let first = printed(group[0]);
        for text in group {
            assert_eq!(printed(text), first, "{text}");
            assert_eq!(Condition::parse(text).unwrap(), Condition::parse(group[0]).unwrap());
        }
    }
    // the canonical forms
    assert_eq!(printed("not exists(header.a)"), "!exists(header.a)");
    assert_eq!(printed("sysparam.clientIp in ['10.0.0.0/8']"), r#"client_ip in ["10.0.0.0/8"]"#);
    assert_eq!(printed("regex(header.a, '^x')"), r#"header.a ~= "^x""#);
    assert_eq!(printed("SysParam.ClientUa contains 'x'"), r#"sysparam.clientUa contains "x""#);
    assert_eq!(printed("header.X-Api-Key != ''"), r#"header.x-api-key != """#);
    assert_eq!(printed(r#"header.a == 'say "hi"\n\t\\ \q'"#), r#"header.a == "say \"hi\"\n\t\\ \\q""#);
    assert_eq!(printed("not header.a == 1"), "!(header.a == 1)");
    // header names match in any case
    check_table(&[("header.X-USER-LEVEL == 'vip'", true), ("HEADER.x-user-level == 'vip'", true)]);
}

#[test]
fn precedence() {
    // && binds tighter than ||, ! tighter than both
    check_table(&[
        ("true || false && false", true),
        ("(true || false) && false", false),
        ("false && false || true", true),
        ("!true || true", true),
        ("!(true || true)", false),
        ("not false and false", false),
        ("header.a == 'x' || header.a == 'y' && false", true),
    ]);
}

#[test]
fn canonical_parentheses() {
    for (text, want) in [
        ("header.a == 1 || header.b == 2 && header.c == 3", "header.a == 1 || (header.b == 2 && header.c == 3)"),
        ("(header.a == 1 || header.b == 2) && header.c == 3", "(header.a == 1 || header.b == 2) && header.c == 3"),
        ("((true)) && ((false || true))", "true && (false || true)"),
        ("true && (true && (false && true))", "true && true && false && true"),
        ("true || (false || true)", "true || false || true"),
        ("!(true && false)", "!(true && false)"),
        ("!!exists(header.a)", "!!exists(header.a)"),
        ("not not true", "!!true"),
    ] {
        assert_eq!(printed(text), want, "{text}");
        assert_eq!(printed(want), want, "{want}");
    }
}

#[test]
fn error_offsets() {
    for (text, offset, expected) in [
        ("", 0, "an expression"),
        ("   ", 3, "an expression"),
        ("query.id == == 2", 12, "a value (string, number, boolean or list)"),
        ("param.unknown = 1", 0, "an operand (header.NAME"),
        ("header.a ==", 11, "a value"),
        (r#"header.a == "x"#, 14, "a closing \" for the string opened at byte 12"),
        (r#"path ~= "[a-""#, 8, "a valid regular expression"),
        (r#"regex(path, "(")"#, 12, "a valid regular expression"),
        (r#"client_ip in ["10.0.0.0/33"]"#, 14, "an IP address or CIDR network"),
        (r#"query.n > "abc""#, 10, "a number"),
        ("query.n < true", 10, "a number"),
        (r#"query.n in "a""#, 11, "a list"),
        ("query.n == [1]", 11, "a single value"),
        ("query.n ~= 1", 11, "a string (a regular expression)"),
        (r#"(path == "/a""#, 13, "&&, || or \")\""),
        (r#"path == "/a" path"#, 13, "&&, || or the end of the expression"),
        ("path @ 1", 5, "an operand, an operator, a value or a parenthesis"),
        ("path", 4, "a comparison operator"),
        ("sysparam.foo == 1", 9, "clientIp, httpScheme or clientUa"),
        ("header. == 1", 0, "a name after \"header.\""),
        (r#"Random() ~= "x""#, 9, "a numeric comparison"),
        (r#"Random() == "x""#, 12, "a number"),
        (r#"client_ip > "1.2.3.4""#, 10, "==, !=, in, !in, contains or ~= after client_ip"),
        ("path == [1, [2]]", 12, "a string, number or boolean (lists do not nest)"),
        ("path in []", 9, "a string, number or boolean"),
        ("path in [1,]", 11, "a string, number or boolean"),
        ("path in [1 2]", 11, "\",\" or \"]\""),
        ("header.a == 1 &", 14, "\"&&\""),
        ("header.a == 1 | true", 14, "\"||\""),
        ("header.a ~ 1", 9, "\"~=\""),
        ("exists(Random())", 7, "a request parameter"),
        ("exists(header.a", 15, "\")\""),
        ("exists header.a", 7, "\"(\" after exists"),
        ("regex(path '^/')", 11, "\",\" and a pattern"),
        ("regex(path, 1)", 12, "a string (a regular expression)"),
        ("Random( < 1", 8, "\")\" (Random takes no arguments)"),
        ("query.a == -x", 12, "a digit after \"-\""),
        ("path == 'x' &&", 14, "an operand"),
        ("== 1", 0, "an operand"),
        ("header.a b 1", 9, "a comparison operator"),
        ("ünïcode == 1", 0, "an operand, an operator"),
    ] {
        let err = Condition::parse(text).expect_err(text);
        assert_eq!(err.offset(), offset, "{text}: {err}");
        assert!(err.expected().starts_with(expected), "{text}: {err}");
        assert!(err.to_string().starts_with(&format!("at byte {offset}: expected ")), "{err}");
    }
    assert_eq!(
        Condition::parse("path == 'x' && == 3").unwrap_err().to_string(),
        r#"at byte 15: expected an operand, found "==""#
    );
    assert_eq!(Condition::parse("path ==").unwrap_err().found(), "end of input");
    let err = Condition::parse(r#"path ~= "a{""#).unwrap_err();
    assert!(err.found().starts_with(r#""\"a{\"" ("#), "{}", err.found());
    assert!(!err.to_string().contains('\n'), "{err}");
    let long = format!("path ~= '({}'", "x".repeat(500));
    assert!(Condition::parse(&long).unwrap_err().to_string().len() < 200);
}

#[test]
fn nesting_is_bounded() {
    let nested = |n: usize| format!("{}true{}", "(".repeat(n), ")".repeat(n));
    assert!(Condition::parse(&nested(64)).is_ok());
    let err = Condition::parse(&nested(65)).unwrap_err();
    assert_eq!(err.offset(), 64);
    assert!(err.expected().contains("64 levels"), "{err}");
    assert!(Condition::parse(&format!("{}true", "!".repeat(64))).is_ok());
    for deep in [
        "(".repeat(100_000),
        "!".repeat(100_000) + "true",
        "not ".repeat(50_000) + "true",
        "(!".repeat(50_000) + "true",
        nested(100_000),
    ] {
        let err = Condition::parse(&deep).unwrap_err();
        assert!(err.expected().contains("levels"), "{err}");
    }
    // long flat chains are fine: they do not nest
    let chain = vec!["true"; 20_000].join(" && ");
    let cond = Condition::parse(&chain).unwrap();
    assert!(cond.evaluate(&RequestView::from_request(&Request::new(()))));
    assert_eq!(cond.to_string(), chain);
}

/// The canonical text puts a negated comparison in parentheses; at the depth limit that
/// must not make a parsed condition's own text too deep to parse (found by the `condition`
/// fuzz target).
#[test]
fn conditions_at_the_depth_limit_parse_again_once_printed() {
    let bangs = |n: usize| "!".repeat(n);
    for text in [
        format!("{}host<0", bangs(64)),
        format!("{}(host < 0)", bangs(64)),
        format!("{}(query.a == 1 || query.b == 2)", bangs(63)),
        format!("{}!(header.x == 'y'){}", "(".repeat(31), ")".repeat(31)),
        format!("{}true{}", "(!".repeat(32), ")".repeat(32)),
    ] {
        let cond = Condition::parse(&text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        let printed = cond.to_string();
        let again = Condition::parse(&printed).unwrap_or_else(|e| panic!("{text:?} printed as {printed:?}: {e}"));
        assert_eq!(again, cond, "{text:?} printed as {printed:?}");
        assert_eq!(again.to_string(), printed);
    }
    // a negated parenthesis is one level, a negation or parenthesis more is still too many
    for text in
        [format!("{}host<0", bangs(65)), format!("{}(host < 0)", bangs(65)), format!("({}(host < 0))", bangs(64))]
    {
        let err = Condition::parse(&text).unwrap_err();
        assert!(err.expected().contains("64 levels"), "{text:?}: {err}");
    }
}

#[test]
fn random_is_injectable() {
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    let draws = [0.9, 0.05];
    let cond = Condition::parse("Random() < 0.1 || Random() < 0.1")
        .unwrap()
        .with_random(move || draws[seen.fetch_add(1, Ordering::Relaxed) % 2]);
    assert!(cond.uses_random());
    let req = Request::new(());
    assert!(cond.evaluate(&RequestView::from_request(&req))); // 0.9 then 0.05
    assert_eq!(calls.load(Ordering::Relaxed), 2);
    check_table(&[("Random() >= 0", true), ("Random() < 1", true), ("Random() in [2, 3]", false)]);
    assert!(!Condition::parse("header.a == 1").unwrap().uses_random());
    // the default source samples about the asked share
    let cond = Condition::parse("Random() < 0.25").unwrap();
    let view = RequestView::from_request(&req);
    let hits = (0..20_000).filter(|_| cond.evaluate(&view)).count();
    assert!((4_000..6_000).contains(&hits), "{hits}");
}

#[test]
fn always_and_the_rest_of_the_api() {
    let always = Condition::always();
    assert!(always.is_always());
    assert_eq!(always.to_string(), "true");
    assert_eq!(always, Condition::parse("true").unwrap());
    assert!(!Condition::parse("false").unwrap().is_always());
    assert!(!Condition::parse("true && true").unwrap().is_always());
    assert!(always.evaluate(&RequestView::from_request(&Request::new(()))));
    let cond: Condition = "header.a == 1".parse().unwrap();
    assert_eq!(format!("{cond:?}"), r#"Condition(header.a == 1)"#);
    assert!(!cond.needs_form_body());
    fn send_sync<T: Send + Sync + Clone>() {}
    send_sync::<Condition>();

    // views from parts, with the scheme from the URI or the connection
    let (parts, ()) = Request::get("https://h.example/x").body(()).unwrap().into_parts();
    let https = Condition::parse("sysparam.httpScheme == 'HTTPS'").unwrap();
    assert!(https.evaluate(&RequestView::from_parts(&parts)));
    assert!(https.evaluate(&RequestView::from_parts(&parts).with_https(false)));
    let req = Request::get("/x").body(()).unwrap();
    assert!(!https.evaluate(&RequestView::from_request(&req)));
    assert!(https.evaluate(&RequestView::from_request(&req).with_https(true)));
    let params: PathParams = PathTemplate::parse("/u/{id}").unwrap().matches("/u/7").unwrap();
    let view = RequestView::from_request(&req).with_path_params(&params).with_caller("k1");
    assert!(Condition::parse("path.id == 7 && caller == 'k1'").unwrap().evaluate(&view));
}

// ---------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------

/// An operand, as the generator sees it.
#[derive(Debug, Clone, PartialEq)]
enum Opnd {
    Header(&'static str),
    Query(&'static str),
    PathParam(&'static str),
    Form(&'static str),
    Method,
    Path,
    Host,
    ClientIp,
    Caller,
    Scheme,
    Ua,
    Random,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    Match,
    In,
    NotIn,
    Contains,
}

#[derive(Debug, Clone, PartialEq)]
enum Lit {
    Str(String),
    Num(&'static str),
    Bool(bool),
    List(Vec<Lit>),
}

/// A condition, with a style number that picks how it is written.
#[derive(Debug, Clone)]
enum Gen {
    Bool(bool, u8),
    Not(Box<Gen>, u8),
    And(Vec<Gen>, u8),
    Or(Vec<Gen>, u8),
    Exists(Opnd, u8),
    Cmp(Opnd, Op, Lit, u8),
}

const TEXTS: &[&str] = &["1", "2", "01", "1.0", "-1", "10", "x", "X", "a b", "/p", "true", "TRUE", "vip", "", "é\"'\\"];
const NUMS: &[&str] = &["1", "2", "-1", "0.5", "10", "1.00", "0"];
const REGEXES: &[&str] = &["^1", "x", "^/p$", "(?i)vip", r"\d+", "^$", "a b", r"^10\.", ":"];
const NETS: &[&str] = &["10.0.0.0/8", "10.1.2.3", "192.168.0.0/16", "2001:db8::/32", "::1", "0.0.0.0/0"];
const IPS: &[&str] = &["10.1.2.3", "192.168.1.7", "2001:db8::1", "127.0.0.1", "::1"];

fn text_lit() -> impl Strategy<Value = Lit> {
    prop_oneof![
        prop::sample::select(TEXTS).prop_map(|s| Lit::Str(s.to_owned())),
        prop::sample::select(NUMS).prop_map(Lit::Num),
        any::<bool>().prop_map(Lit::Bool),
    ]
}

fn operand() -> impl Strategy<Value = Opnd> {
    prop_oneof![
        prop::sample::select(&["a", "b", "user", "X-Id"][..]).prop_map(Opnd::Header),
        prop::sample::select(&["a", "b", "id"][..]).prop_map(Opnd::Query),
        Just(Opnd::PathParam("id")),
        prop::sample::select(&["a", "f"][..]).prop_map(Opnd::Form),
        Just(Opnd::Method),
        Just(Opnd::Path),
        Just(Opnd::Host),
        Just(Opnd::ClientIp),
        Just(Opnd::Caller),
        Just(Opnd::Scheme),
        Just(Opnd::Ua),
        Just(Opnd::Random),
    ]
}

/// A comparison whose literal suits its operator and operand.
fn comparison() -> impl Strategy<Value = (Opnd, Op, Lit)> {
    use Op::*;
    let list = |item: BoxedStrategy<Lit>| prop::collection::vec(item, 1..4).prop_map(Lit::List).boxed();
    operand().prop_flat_map(move |o| {
        let (ops, scalar): (Vec<Op>, BoxedStrategy<Lit>) = match o {
            Opnd::Random => {
                (vec![Eq, Ne, Gt, Ge, Lt, Le, In, NotIn], prop::sample::select(NUMS).prop_map(Lit::Num).boxed())
            }
            Opnd::ClientIp => (
                vec![Eq, Ne, In, NotIn, Contains, Match],
                prop::sample::select(NETS).prop_map(|s| Lit::Str(s.to_owned())).boxed(),
            ),
            _ => (vec![Eq, Ne, Gt, Ge, Lt, Le, In, NotIn, Contains, Match], text_lit().boxed()),
        };
        let o2 = o.clone();
        (prop::sample::select(ops), Just(scalar)).prop_flat_map(move |(op, scalar)| {
            let lit: BoxedStrategy<Lit> = match op {
                In | NotIn => list(scalar),
                Gt | Ge | Lt | Le => prop::sample::select(NUMS).prop_map(Lit::Num).boxed(),
                Match => prop::sample::select(REGEXES).prop_map(|s| Lit::Str(s.to_owned())).boxed(),
                Contains if o2 == Opnd::ClientIp => {
                    prop::sample::select(&["10.", ":", "1", "db8"][..]).prop_map(|s| Lit::Str(s.to_owned())).boxed()
                }
                _ => scalar,
            };
            (Just(o2.clone()), Just(op), lit)
        })
    })
}

fn condition() -> impl Strategy<Value = Gen> {
    let leaf = prop_oneof![
        1 => (any::<bool>(), any::<u8>()).prop_map(|(b, s)| Gen::Bool(b, s)),
        2 => (operand().prop_filter("exists takes a parameter", |o| *o != Opnd::Random), any::<u8>())
            .prop_map(|(o, s)| Gen::Exists(o, s)),
        8 => (comparison(), any::<u8>()).prop_map(|((o, op, l), s)| Gen::Cmp(o, op, l, s)),
    ];
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            (inner.clone(), any::<u8>()).prop_map(|(g, s)| Gen::Not(Box::new(g), s)),
            (prop::collection::vec(inner.clone(), 2..4), any::<u8>()).prop_map(|(v, s)| Gen::And(v, s)),
            (prop::collection::vec(inner, 2..4), any::<u8>()).prop_map(|(v, s)| Gen::Or(v, s)),
        ]
    })
}

/// Case variants of a keyword, chosen by a style bit.
fn kw(word: &str, style: u8) -> String {
    match style % 3 {
        0 => word.to_owned(),
        1 => word.to_ascii_uppercase(),
        _ => {
            let mut c = word.chars();
            c.next().map(|f| f.to_ascii_uppercase().to_string() + c.as_str()).unwrap_or_default()
        }
    }
}

fn quote(text: &str, style: u8) -> String {
    let q = if style & 1 == 0 { '"' } else { '\'' };
    let mut out = String::from(q);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            c if c == q => {
                out.push('\\');
                out.push(c);
            }
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push(q);
    out
}

fn render_lit(lit: &Lit, style: u8) -> String {
    match lit {
        Lit::Str(s) => quote(s, style),
        Lit::Num(n) => (*n).to_owned(),
        Lit::Bool(b) => kw(&b.to_string(), style),
        Lit::List(items) => {
            let sep = if style & 2 == 0 { ", " } else { "," };
            format!("[{}]", items.iter().map(|l| render_lit(l, style)).collect::<Vec<_>>().join(sep))
        }
    }
}

fn render_operand(o: &Opnd, style: u8) -> String {
    match o {
        Opnd::Header(n) => format!("{}.{n}", kw("header", style)),
        Opnd::Query(n) => format!("{}.{n}", kw("query", style)),
        Opnd::PathParam(n) => format!("{}.{n}", kw("path", style)),
        Opnd::Form(n) => format!("{}.{n}", kw("form", style)),
        Opnd::Method => kw("method", style),
        Opnd::Path => kw("path", style),
        Opnd::Host => kw("host", style),
        Opnd::ClientIp if style & 4 == 0 => kw("client_ip", style),
        Opnd::ClientIp => format!("{}.{}", kw("sysparam", style), kw("clientIp", style >> 3)),
        Opnd::Caller => kw("caller", style),
        Opnd::Scheme => format!("sysparam.{}", kw("httpScheme", style)),
        Opnd::Ua => format!("{}.clientUa", kw("sysparam", style)),
        Opnd::Random => format!("{}()", kw("Random", style)),
    }
}

/// Writes a generated condition in one of its many spellings.
fn render(g: &Gen) -> String {
    let wrap = |g: &Gen, force: bool, style: u8| {
        let text = render(g);
        if force || style & 16 != 0 { format!("({text})") } else { text }
    };
    match g {
        Gen::Bool(b, s) => kw(&b.to_string(), *s),
        Gen::Exists(o, s) => format!("{}({})", kw("exists", *s), render_operand(o, *s >> 1)),
        Gen::Not(inner, s) => {
            let atomic = matches!(**inner, Gen::Bool(..) | Gen::Exists(..) | Gen::Cmp(..) | Gen::Not(..));
            let body = wrap(inner, !atomic, *s);
            if s & 1 == 0 { format!("!{body}") } else { format!("{} {body}", kw("not", *s >> 1)) }
        }
        Gen::And(items, s) => {
            let sep = if s & 1 == 0 { " && ".to_owned() } else { format!(" {} ", kw("and", *s >> 1)) };
            let parts: Vec<_> = items.iter().map(|i| wrap(i, matches!(i, Gen::Or(..)), *s)).collect();
            parts.join(&sep)
        }
        Gen::Or(items, s) => {
            let sep = if s & 1 == 0 { " || ".to_owned() } else { format!(" {} ", kw("or", *s >> 1)) };
            let parts: Vec<_> = items.iter().map(|i| wrap(i, false, *s >> 3)).collect();
            parts.join(&sep)
        }
        Gen::Cmp(o, Op::Match, Lit::Str(p), s) if s & 8 != 0 => {
            format!("{}({}, {})", kw("regex", *s), render_operand(o, *s >> 1), quote(p, *s >> 2))
        }
        Gen::Cmp(o, op, lit, s) => {
            let op = match op {
                Op::Eq if s & 1 == 0 => "=".to_owned(),
                Op::Eq => "==".to_owned(),
                Op::Ne => "!=".to_owned(),
                Op::Gt => ">".to_owned(),
                Op::Ge => ">=".to_owned(),
                Op::Lt => "<".to_owned(),
                Op::Le => "<=".to_owned(),
                Op::Match => "~=".to_owned(),
                Op::In => kw("in", *s),
                Op::NotIn => format!("!{}", kw("in", *s)),
                Op::Contains => kw("contains", *s),
            };
            let space = if s & 32 == 0 { " " } else { "" };
            let space =
                if op.starts_with(|c: char| c.is_ascii_alphabetic()) || op.starts_with("!i") { " " } else { space };
            format!("{}{space}{op}{space}{}", render_operand(o, *s >> 2), render_lit(lit, *s >> 1))
        }
    }
}

/// A generated request.
#[derive(Debug, Clone)]
struct GenReq {
    method: &'static str,
    path: &'static str,
    query: Vec<(&'static str, &'static str, bool)>,
    headers: Vec<(&'static str, &'static str)>,
    form: Option<(Vec<(&'static str, &'static str)>, bool)>,
    path_id: Option<&'static str>,
    ip: Option<&'static str>,
    caller: Option<&'static str>,
    absolute_https: Option<bool>,
    https: bool,
    host: Option<&'static str>,
    ua: Option<&'static str>,
}

fn value_text() -> impl Strategy<Value = &'static str> {
    prop::sample::select(&["1", "2", "01", "1.0", "-1", "10", "x", "X", "a b", "vip", "", "true", "10.1"][..])
}

fn request() -> impl Strategy<Value = GenReq> {
    (
        prop::sample::select(&["GET", "POST", "put"][..]),
        prop::sample::select(&["/", "/p", "/test", "/v1/orders/12"][..]),
        prop::collection::vec((prop::sample::select(&["a", "b", "id"][..]), value_text(), any::<bool>()), 0..4),
        prop::collection::vec((prop::sample::select(&["a", "B", "user", "x-id"][..]), value_text()), 0..4),
        prop::option::of((
            prop::collection::vec((prop::sample::select(&["a", "f"][..]), value_text()), 0..3),
            any::<bool>(),
        )),
        prop::option::of(value_text()),
        prop::option::of(prop::sample::select(IPS)),
        prop::option::of(prop::sample::select(&["1", "AKID", "x"][..])),
        prop::option::of(any::<bool>()),
        any::<bool>(),
        prop::option::of(prop::sample::select(&["X", "api.example.com", "h:80", "[::1]:8"][..])),
        prop::option::of(prop::sample::select(&["vip", "Mozilla/5.0", "1"][..])),
    )
        .prop_map(|(method, path, query, headers, form, path_id, ip, caller, absolute_https, https, host, ua)| {
            GenReq { method, path, query, headers, form, path_id, ip, caller, absolute_https, https, host, ua }
        })
}

fn encode(text: &str, percent: bool) -> String {
    let mut out = String::new();
    for c in text.chars() {
        match c {
            ' ' if percent => out.push_str("%20"),
            ' ' => out.push('+'),
            c if percent && c.is_ascii_alphanumeric() => out.push_str(&format!("%{:02X}", c as u8)),
            c => out.push(c),
        }
    }
    out
}

impl GenReq {
    /// The request, and the body for the view.
    fn build(&self) -> (Request<()>, Vec<u8>) {
        let query: Vec<String> = self.query.iter().map(|(k, v, pct)| format!("{k}={}", encode(v, *pct))).collect();
        let mut uri = match self.absolute_https {
            Some(https) => format!("{}://api.example.com{}", if https { "https" } else { "http" }, self.path),
            None => self.path.to_owned(),
        };
        if !query.is_empty() {
            uri = format!("{uri}?{}", query.join("&"));
        }
        let mut builder = Request::builder().method(self.method).uri(uri);
        for (name, value) in &self.headers {
            builder = builder.header(*name, *value);
        }
        if let Some(host) = self.host {
            builder = builder.header("host", host);
        }
        if let Some(ua) = self.ua {
            builder = builder.header("user-agent", ua);
        }
        let mut body = Vec::new();
        if let Some((fields, is_form)) = &self.form {
            let ct = if *is_form { "application/x-www-form-urlencoded" } else { "text/plain" };
            builder = builder.header("content-type", ct);
            body = fields
                .iter()
                .map(|(k, v)| format!("{k}={}", encode(v, false)))
                .collect::<Vec<_>>()
                .join("&")
                .into_bytes();
        }
        let mut req = builder.body(()).unwrap();
        if let Some(id) = self.path_id.filter(|id| !id.is_empty()) {
            let path = format!("/{}", encode(id, true));
            req.extensions_mut().insert(PathTemplate::parse("/{id}").unwrap().matches(&path).unwrap());
        }
        if let Some(ip) = self.ip {
            req.extensions_mut().insert(ClientIp::direct(ip.parse().unwrap()));
        }
        if let Some(caller) = self.caller {
            req.extensions_mut().insert(Caller::new(caller));
        }
        (req, body)
    }
}

/// A deterministic `Random()` source.
fn seeded(seed: u64) -> impl Fn() -> f64 + Send + Sync + 'static {
    let state = AtomicU64::new(seed | 1);
    move || {
        let mut x = state.load(Ordering::Relaxed);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        state.store(x, Ordering::Relaxed);
        (x >> 11) as f64 / (1u64 << 53) as f64
    }
}

// --- the model: the spec's meaning, written plainly ---------------------------------------

enum MVal {
    Text(String),
    Ip(IpAddr),
    Num(f64),
}

fn model_number(text: &str) -> Option<f64> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    let (int, frac) = digits.split_once('.').unwrap_or((digits, "0"));
    let ok = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    (ok(int) && ok(frac)).then(|| text.parse().unwrap())
}

/// `Err` when the request gives the operand two readings (a repeated name or header, a bad
/// escape): the model of `Condition::check`'s refusal.
fn model_value(
    o: &Opnd,
    r: &GenReq,
    req: &Request<()>,
    body: &[u8],
    rnd: &dyn Fn() -> f64,
) -> Result<Option<MVal>, ()> {
    let params = req.extensions().get::<PathParams>();
    let mut src = ParamSource::new(req.uri(), req.headers()).with_body(body);
    if let Some(p) = params {
        src = src.with_path_params(p);
    }
    let text = |loc: ParamLocation| Ok(src.get_unique(&loc).map_err(drop)?.map(|v| MVal::Text(v.into_owned())));
    Ok(match o {
        Opnd::Header(n) => return text(ParamLocation::Header((*n).to_owned())),
        Opnd::Query(n) => return text(ParamLocation::Query((*n).to_owned())),
        Opnd::PathParam(n) => return text(ParamLocation::Path((*n).to_owned())),
        Opnd::Form(n) => return text(ParamLocation::Form((*n).to_owned())),
        Opnd::Method => Some(MVal::Text(r.method.to_owned())),
        Opnd::Path => Some(MVal::Text(tollgate_core::normalize_path(r.path).map_err(drop)?.into_owned())),
        Opnd::Host => match r.absolute_https {
            Some(_) => Some(MVal::Text("api.example.com".into())),
            None => r.host.map(|h| {
                let h = if h.starts_with('[') { &h[..=h.find(']').unwrap()] } else { h.split(':').next().unwrap() };
                MVal::Text(h.to_owned())
            }),
        },
        Opnd::ClientIp => r.ip.map(|ip| MVal::Ip(ip.parse().unwrap())),
        Opnd::Caller => r.caller.map(|c| MVal::Text(c.to_owned())),
        Opnd::Scheme => {
            let https = r.absolute_https.unwrap_or(r.https);
            Some(MVal::Text(if https { "HTTPS" } else { "HTTP" }.into()))
        }
        Opnd::Ua => r.ua.map(|u| MVal::Text(u.to_owned())),
        Opnd::Random => Some(MVal::Num(rnd())),
    })
}

fn lit_text(l: &Lit) -> String {
    match l {
        Lit::Str(s) => s.clone(),
        Lit::Num(n) => (*n).to_owned(),
        Lit::Bool(b) => b.to_string(),
        Lit::List(_) => unreachable!(),
    }
}

fn model_eq(v: &MVal, l: &Lit, fold: bool) -> bool {
    let lt = lit_text(l);
    match v {
        MVal::Num(x) => model_number(&lt) == Some(*x),
        MVal::Ip(ip) => tollgate_core::parse_network(&lt).is_some_and(|n| n.contains(ip)),
        MVal::Text(t) => match (model_number(t), model_number(&lt)) {
            _ if matches!(l, Lit::Bool(_)) => t.eq_ignore_ascii_case(&lt),
            (Some(a), Some(b)) => a == b,
            _ if fold => t.eq_ignore_ascii_case(&lt),
            _ => *t == lt,
        },
    }
}

fn model_eval(g: &Gen, r: &GenReq, req: &Request<()>, body: &[u8], rnd: &dyn Fn() -> f64) -> Result<bool, ()> {
    Ok(match g {
        Gen::Bool(b, _) => *b,
        Gen::Not(inner, _) => !model_eval(inner, r, req, body, rnd)?,
        // evaluation stops at the first item that settles it, as the evaluator's does
        Gen::And(items, _) => {
            for i in items {
                if !model_eval(i, r, req, body, rnd)? {
                    return Ok(false);
                }
            }
            true
        }
        Gen::Or(items, _) => {
            for i in items {
                if model_eval(i, r, req, body, rnd)? {
                    return Ok(true);
                }
            }
            false
        }
        Gen::Exists(o, _) => model_value(o, r, req, body, rnd)?.is_some(),
        Gen::Cmp(o, op, lit, _) => {
            let Some(v) = model_value(o, r, req, body, rnd)? else {
                return Ok(matches!(op, Op::Ne | Op::NotIn));
            };
            let fold = matches!(o, Opnd::Host | Opnd::Scheme);
            let text = |v: &MVal| match v {
                MVal::Text(t) => t.clone(),
                MVal::Ip(ip) => ip.to_string(),
                MVal::Num(x) => x.to_string(),
            };
            let items = || match lit {
                Lit::List(items) => items.clone(),
                _ => unreachable!(),
            };
            match op {
                Op::Eq => model_eq(&v, lit, fold),
                Op::Ne => !model_eq(&v, lit, fold),
                Op::In => items().iter().any(|l| model_eq(&v, l, fold)),
                Op::NotIn => !items().iter().any(|l| model_eq(&v, l, fold)),
                Op::Gt | Op::Ge | Op::Lt | Op::Le => {
                    let x = match &v {
                        MVal::Num(x) => Some(*x),
                        other => model_number(&text(other)),
                    };
                    let y = model_number(&lit_text(lit)).unwrap();
                    x.is_some_and(|x| match op {
                        Op::Gt => x > y,
                        Op::Ge => x >= y,
                        Op::Lt => x < y,
                        _ => x <= y,
                    })
                }
                Op::Match => regex::Regex::new(&lit_text(lit)).unwrap().is_match(&text(&v)),
                Op::Contains if fold => text(&v).to_ascii_lowercase().contains(&lit_text(lit).to_ascii_lowercase()),
                Op::Contains => text(&v).contains(&lit_text(lit)),
            }
        }
    })
}

/// Fragments that make token soup likelier to reach deep into the parser than random text.
fn soup() -> impl Strategy<Value = String> {
    let piece = prop::sample::select(
        &[
            "(",
            ")",
            "[",
            "]",
            ",",
            "!",
            "not",
            "&&",
            "||",
            "and",
            "or",
            "==",
            "=",
            "!=",
            ">",
            ">=",
            "<",
            "<=",
            "~=",
            "in",
            "!in",
            "contains",
            "exists",
            "regex",
            "Random",
            "()",
            "header.a",
            "query.",
            "path",
            "path.id",
            "client_ip",
            "sysparam.clientIp",
            "sysparam.x",
            "true",
            "false",
            "1",
            "-2.5",
            "\"x\"",
            "'y",
            "\"[\"",
            "\"10.0.0.0/8\"",
            "\\",
            "\"",
            " ",
            "é",
            "-",
        ][..],
    );
    prop::collection::vec(piece, 0..24).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn parse_never_panics(text in ".*") {
        if let Ok(cond) = Condition::parse(&text) {
            let again = Condition::parse(&cond.to_string());
            prop_assert!(again.is_ok(), "{} -> {}", text, cond);
        }
    }

    #[test]
    fn token_soup_never_panics_and_round_trips(text in soup()) {
        if let Ok(cond) = Condition::parse(&text) {
            let printed = cond.to_string();
            let again = Condition::parse(&printed).unwrap();
            prop_assert_eq!(&again, &cond);
            prop_assert_eq!(again.to_string(), printed);
            let (req, body) = sample();
            let _ = cond.evaluate(&RequestView::from_request(&req).with_body(body));
        }
    }

    /// A generated condition, written in any mix of the dialects, parses; its printed form
    /// parses to an equal condition that prints the same (a fixed point); and both agree
    /// with the model on generated requests.
    #[test]
    fn printed_conditions_mean_the_same(g in condition(), reqs in prop::collection::vec(request(), 1..6), seed in any::<u64>()) {
        let text = render(&g);
        let cond = Condition::parse(&text).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        let printed = cond.to_string();
        let again = Condition::parse(&printed).map_err(|e| TestCaseError::fail(format!("{printed}: {e}")))?;
        prop_assert_eq!(&again, &cond, "{} printed as {}", text, printed);
        prop_assert_eq!(again.to_string(), printed.clone());
        for r in &reqs {
            let (req, body) = r.build();
            let view = RequestView::from_request(&req).with_body(&body).with_https(r.https);
            let a = cond.clone().with_random(seeded(seed)).check(&view).map_err(drop);
            let b = again.clone().with_random(seeded(seed)).check(&view).map_err(drop);
            let model_rnd = seeded(seed);
            let m = model_eval(&g, r, &req, &body, &model_rnd);
            prop_assert_eq!(a, b, "{} vs {} on {:?}", text, printed, r);
            prop_assert_eq!(a, m, "{} (model) on {:?}", text, r);
        }
    }
}
