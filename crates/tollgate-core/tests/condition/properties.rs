//! Properties: parsing never panics; a printed condition parses back to the same meaning and
//! agrees with a plain model of the semantics; printing is a fixed point.

use super::*;

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
pub(super) struct GenReq {
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

pub(super) fn request() -> impl Strategy<Value = GenReq> {
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
    pub(super) fn build(&self) -> (Request<()>, Vec<u8>) {
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
