//! What a hostile client can send that a condition might read one way and a backend
//! another, in both dialects: a parameter given again under a spelling some backend folds
//! into it is refused, never judged on one reading.

use tollgate_core::ParamError;
use tollgate_core::condition::AliyunParameters;

use super::*;

fn both(tencent: &str, aliyun: &str) -> [Condition; 2] {
    let params =
        AliyunParameters::from_pairs([("role", "Header:x-role"), ("action", "Query:action"), ("qty", "Form:qty")])
            .unwrap();
    [Condition::parse(tencent).unwrap(), Condition::parse_aliyun(aliyun, &params).unwrap()]
}

fn refused(cond: &Condition, req: &Request<()>, body: &[u8]) -> bool {
    matches!(cond.check(&RequestView::from_request(req).with_body(body)), Err(ParamError::Repeated(_)))
}

/// A deny rule on `x-role: guest` must not be escaped by sending the role twice, once as
/// `x_role` (CGI, WSGI and Rack read both as `HTTP_X_ROLE`, the later winning).
#[test]
fn a_header_under_an_underscore_spelling_is_a_second_reading() {
    for cond in both("header.x-role = 'guest'", "$role = 'guest'") {
        for (first, second) in [("x-role", "x_role"), ("x_role", "x-role")] {
            let req = Request::get("/").header(first, "admin").header(second, "guest").body(()).unwrap();
            assert!(refused(&cond, &req, b""), "{cond} with {first} and {second}");
        }
        let req = Request::get("/").header("x-role", "guest").header("x-roles", "admin").body(()).unwrap();
        assert_eq!(cond.check(&RequestView::from_request(&req)), Ok(true), "{cond}");
    }
}

/// A deny rule on `action=delete` must not be escaped by hiding the action where ASP.NET
/// (any case), PHP (`[]`, `.`), C (NUL) or older Python and Go (`;`) still read it.
#[test]
fn a_query_or_form_name_a_backend_folds_is_a_second_reading() {
    for cond in both("query.action = 'delete'", "$action = 'delete'") {
        for query in [
            "action=list&ACTION=delete",
            "action=list&Action=delete",
            "action=list&action[]=delete",
            "action=list;action=delete",
            "x=1;action=delete",
            "action%00=delete&action=list",
            "action=list&%20action=delete",
        ] {
            let req = Request::get(format!("/?{query}")).body(()).unwrap();
            assert!(refused(&cond, &req, b""), "{cond} with {query}");
        }
        // a value holding a `;` is read whole, as today's frameworks read it
        let req = Request::get("/?action=delete;x").body(()).unwrap();
        assert_eq!(cond.check(&RequestView::from_request(&req)), Ok(false));
        let req = Request::get("/?action=delete&actions=list").body(()).unwrap();
        assert_eq!(cond.check(&RequestView::from_request(&req)), Ok(true));
    }
    for cond in both("form.qty = 1", "$qty = 1") {
        let req = Request::post("/").header("content-type", "application/x-www-form-urlencoded").body(()).unwrap();
        assert!(refused(&cond, &req, b"qty=1&QTY=100"), "{cond}");
        assert!(refused(&cond, &req, b"qty=1;qty=100"), "{cond}");
        assert_eq!(cond.check(&RequestView::from_request(&req).with_body(b"qty=1")), Ok(true));
    }
}

/// An IPv4 client seen through an IPv6 socket (`::ffff:a.b.c.d`) is within its IPv4 network,
/// so an allow-list cannot be escaped, nor a deny-list, by the socket's family.
#[test]
fn a_mapped_address_is_its_ipv4_address() {
    let cond = Condition::parse_aliyun("$CaClientIp in_cidr '106.11.31.0/24'", &AliyunParameters::new()).unwrap();
    let mut req = Request::new(());
    req.extensions_mut().insert(ClientIp::direct("::ffff:106.11.31.7".parse().unwrap()));
    assert_eq!(cond.check(&RequestView::from_request(&req)), Ok(true));
    let params = AliyunParameters::from_pairs([("hop", "XFF:0")]).unwrap();
    let cond = Condition::parse_aliyun("$hop in_cidr '106.11.31.0/24'", &params).unwrap();
    for (xff, within) in
        [("::ffff:106.11.31.7", true), (" 106.11.31.7 ", true), ("106.11.31.7:80", false), ("x", false)]
    {
        let req = Request::get("/").header("x-forwarded-for", xff).body(()).unwrap();
        assert_eq!(cond.check(&RequestView::from_request(&req)), Ok(within), "{xff}");
    }
}

/// The path a condition compares is the path a backend routes: dot segments, doubled
/// slashes and escapes cannot dress `/admin` as something else.
#[test]
fn a_dressed_up_path_is_the_path_it_routes_to() {
    let params = AliyunParameters::from_pairs([("p", "Path")]).unwrap();
    let cond = Condition::parse_aliyun("$p like '/admin%'", &params).unwrap();
    for path in ["/admin", "//admin/x", "/public/../admin", "/%61dmin", "/./admin"] {
        let req = Request::get(path).body(()).unwrap();
        assert_eq!(cond.check(&RequestView::from_request(&req)), Ok(true), "{path}");
    }
    let req = Request::get("/adm%zzin").body(()).unwrap();
    assert!(cond.check(&RequestView::from_request(&req)).is_err());
}
