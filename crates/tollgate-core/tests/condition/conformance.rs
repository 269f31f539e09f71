//! Conformance: Tencent's examples verbatim, every operator, absent operands, CIDRs, synonyms,
//! precedence, error offsets and nesting bounds.

use super::*;

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
