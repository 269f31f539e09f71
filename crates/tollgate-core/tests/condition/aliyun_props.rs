//! Properties of Aliyun's dialect: parsing never panics and printed conditions read back the
//! same; where the dialects overlap (`=`, `and`, `or`, string and number literals, header and
//! query operands) an expression written in both evaluates the same on random requests; and
//! ordering, pairs and `like` agree with plain models.

use std::cmp::Ordering;

use tollgate_core::condition::AliyunParameters;

use super::properties::{GenReq, request};
use super::*;

/// An expression over the overlap of the two dialects.
#[derive(Debug, Clone)]
enum Overlap {
    /// header (true) or query (false), name index, literal, style
    Eq(bool, usize, Lit, u8),
    And(Vec<Overlap>, u8),
    Or(Vec<Overlap>, u8),
}

#[derive(Debug, Clone)]
enum Lit {
    Str(&'static str),
    Num(&'static str),
}

const HEADERS: [&str; 4] = ["a", "B", "user", "x-id"];
const QUERIES: [&str; 3] = ["a", "b", "id"];
const STRS: &[&str] = &["1", "2", "01", "1.0", "-1", "10", "x", "X", "a b", "vip", "", "true", "10.1"];
const NUMS: &[&str] = &["1", "2", "-1", "0.5", "10", "1.00", "0", "10.1"];

fn lit() -> impl Strategy<Value = Lit> {
    prop_oneof![prop::sample::select(STRS).prop_map(Lit::Str), prop::sample::select(NUMS).prop_map(Lit::Num)]
}

fn overlap() -> impl Strategy<Value = Overlap> {
    let leaf = (any::<bool>(), 0..4usize, lit(), any::<u8>())
        .prop_map(|(header, i, l, s)| Overlap::Eq(header, if header { i } else { i % 3 }, l, s));
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            (prop::collection::vec(inner.clone(), 2..4), any::<u8>()).prop_map(|(v, s)| Overlap::And(v, s)),
            (prop::collection::vec(inner, 2..4), any::<u8>()).prop_map(|(v, s)| Overlap::Or(v, s)),
        ]
    })
}

/// The Aliyun parameter for an operand: `h_x_id` is `Header:x-id`.
fn var_name(header: bool, i: usize) -> String {
    if header { format!("h_{}", HEADERS[i].replace('-', "_")) } else { format!("q_{}", QUERIES[i]) }
}

fn overlap_params() -> AliyunParameters {
    let headers = HEADERS.iter().enumerate().map(|(i, h)| (var_name(true, i), format!("Header:{h}")));
    let queries = QUERIES.iter().enumerate().map(|(i, q)| (var_name(false, i), format!("Query:{q}")));
    AliyunParameters::from_pairs(headers.chain(queries)).unwrap().for_request().unwrap()
}

fn keyword(word: &str, style: u8) -> String {
    match style % 3 {
        0 => word.to_owned(),
        1 => word.to_uppercase(),
        _ => word[..1].to_uppercase() + &word[1..],
    }
}

fn render_lit(l: &Lit, style: u8) -> String {
    match l {
        Lit::Num(n) => (*n).to_owned(),
        Lit::Str(s) if style % 2 == 0 => format!("'{s}'"),
        Lit::Str(s) => format!("\"{s}\""),
    }
}

/// The same expression in Tencent's dialect (`aliyun == false`) or Aliyun's.
fn render(g: &Overlap, aliyun: bool) -> String {
    match g {
        Overlap::Eq(header, i, l, style) => {
            let operand = match (aliyun, header) {
                (false, true) => format!("header.{}", HEADERS[*i]),
                (false, false) => format!("query.{}", QUERIES[*i]),
                (true, h) if style % 4 == 3 => format!("${{{}}}", var_name(*h, *i)),
                (true, h) => format!("${}", var_name(*h, *i)),
            };
            let spaced = if style % 5 == 0 { "=" } else { " = " };
            format!("{operand}{spaced}{}", render_lit(l, *style / 2))
        }
        Overlap::And(items, style) | Overlap::Or(items, style) => {
            let word = if matches!(g, Overlap::And(..)) { "and" } else { "or" };
            let sep = format!(" {} ", keyword(word, *style));
            let parts: Vec<String> = items.iter().map(|item| format!("({})", render(item, aliyun))).collect();
            parts.join(&sep)
        }
    }
}

/// Aliyun's order of two texts, plainly: numbers when both are, else text.
fn model_collate(a: &str, b: &str) -> Ordering {
    let number = |s: &str| {
        let digits = s.strip_prefix('-').unwrap_or(s);
        let ok = match digits.split_once('.') {
            Some((i, f)) => !i.is_empty() && !f.is_empty() && (i.to_owned() + f).bytes().all(|b| b.is_ascii_digit()),
            None => !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()),
        };
        if ok { s.parse::<f64>().ok() } else { None }
    };
    match (number(a), number(b)) {
        (Some(x), Some(y)) => x.partial_cmp(&y).unwrap(),
        _ => a.cmp(b),
    }
}

/// A `like` pattern as an anchored regular expression, the model of `like`.
fn like_regex(pattern: &str) -> regex_model::Regex {
    regex_model::Regex::new(pattern)
}

/// A tiny backtracking matcher over `%`, `_` and literal characters, independent of the
/// library's greedy one.
mod regex_model {
    pub(super) struct Regex(Vec<Option<Option<char>>>);

    impl Regex {
        /// `None` is `%`, `Some(None)` is `_`, `Some(Some(c))` is `c`.
        pub(super) fn new(pattern: &str) -> Self {
            let mut out = Vec::new();
            let mut chars = pattern.chars();
            while let Some(c) = chars.next() {
                out.push(match c {
                    '%' => None,
                    '_' => Some(None),
                    '\\' => Some(Some(chars.next().unwrap_or('\\'))),
                    c => Some(Some(c)),
                });
            }
            Self(out)
        }

        pub(super) fn is_match(&self, text: &str) -> bool {
            let text: Vec<char> = text.chars().collect();
            fn go(p: &[Option<Option<char>>], t: &[char]) -> bool {
                match p.split_first() {
                    None => t.is_empty(),
                    Some((None, rest)) => (0..=t.len()).any(|k| go(rest, &t[k..])),
                    Some((Some(None), rest)) => !t.is_empty() && go(rest, &t[1..]),
                    Some((Some(Some(c)), rest)) => t.first() == Some(c) && go(rest, &t[1..]),
                }
            }
            go(&self.0, &text)
        }
    }
}

/// Pieces that make token soup likelier to reach deep into Aliyun's parser.
fn aliyun_soup() -> impl Strategy<Value = String> {
    let piece = prop::sample::select(
        &[
            "(",
            ")",
            "not",
            "!",
            "and",
            "or",
            "AND",
            "&&",
            "||",
            "=",
            "==",
            "<>",
            "!=",
            "<",
            "<=",
            ">",
            ">=",
            "like",
            "in_cidr",
            "null",
            "true",
            "$userType",
            "$userId",
            "${userId}",
            "$CaAppId",
            "$CaClientIp",
            "$nobody",
            "$",
            "${",
            "}",
            "'%0'",
            "'_'",
            "'10.0.0.0/8'",
            "'2.0.5'",
            "1",
            "-2.5",
            "\"x\"",
            "'y",
            "\\",
            " ",
            "é",
            "header.a",
            "exists(",
        ][..],
    );
    prop::collection::vec(piece, 0..24).prop_map(|v| v.join(" "))
}

fn soup_params() -> AliyunParameters {
    AliyunParameters::from_pairs([("userType", "Header:a"), ("userId", "Query:id")]).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn aliyun_parse_never_panics(text in ".*") {
        if let Ok(cond) = Condition::parse_aliyun(&text, &soup_params()) {
            let again = Condition::parse_aliyun(&cond.to_string(), &soup_params());
            prop_assert!(again.is_ok(), "{} -> {}", text, cond);
        }
        let _ = tollgate_core::condition::Template::parse(&text, &soup_params());
    }

    #[test]
    fn aliyun_soup_never_panics_and_round_trips(text in aliyun_soup()) {
        if let Ok(cond) = Condition::parse_aliyun(&text, &soup_params()) {
            let printed = cond.to_string();
            let again = Condition::parse_aliyun(&printed, &soup_params())
                .map_err(|e| TestCaseError::fail(format!("{text} -> {printed}: {e}")))?;
            prop_assert_eq!(&again, &cond);
            prop_assert_eq!(again.to_string(), printed);
            let (req, body) = sample();
            let view = RequestView::from_request(&req).with_body(body);
            prop_assert_eq!(cond.check(&view), again.check(&view));
        }
    }

    /// One expression, written in Tencent's dialect and in Aliyun's, means the same on every
    /// request (errors included: a repeated name is refused alike).
    #[test]
    fn dialects_agree_where_they_overlap(g in overlap(), reqs in prop::collection::vec(request(), 1..6)) {
        let tencent_text = render(&g, false);
        let aliyun_text = render(&g, true);
        let tencent = Condition::parse(&tencent_text).map_err(|e| TestCaseError::fail(format!("{tencent_text}: {e}")))?;
        let aliyun = Condition::parse_aliyun(&aliyun_text, &overlap_params())
            .map_err(|e| TestCaseError::fail(format!("{aliyun_text}: {e}")))?;
        for r in &reqs {
            let r: &GenReq = r;
            let (req, body) = r.build();
            let view = RequestView::from_request(&req).with_body(&body);
            let t = tencent.check(&view).map_err(drop);
            let a = aliyun.check(&view).map_err(drop);
            prop_assert_eq!(t, a, "{} vs {} on {:?}", tencent_text, aliyun_text, r);
        }
    }

    /// `<`, `<=`, `>`, `>=`, `=`, `<>` compare as numbers when both sides are, else as text,
    /// whether the sides are a parameter and a literal, two parameters, or two literals.
    #[test]
    fn ordering_is_numbers_or_text(
        a in prop_oneof!["-?[0-9]{1,3}(\\.[0-9]{1,2})?", "[0-9a-c.]{0,5}"],
        b in prop_oneof!["-?[0-9]{1,3}(\\.[0-9]{1,2})?", "[0-9a-c.]{0,5}"],
        op in prop::sample::select(&["<", "<=", ">", ">=", "=", "<>", "!="][..]),
    ) {
        let want = {
            let ord = model_collate(&a, &b);
            match op {
                "<" => ord.is_lt(),
                "<=" => ord.is_le(),
                ">" => ord.is_gt(),
                ">=" => ord.is_ge(),
                "=" => ord.is_eq(),
                _ => ord.is_ne(),
            }
        };
        let params = AliyunParameters::from_pairs([("x", "Header:x-a"), ("y", "Header:x-b")]).unwrap();
        let req = Request::get("/").header("x-a", a.as_str()).header("x-b", b.as_str()).body(()).unwrap();
        let view = RequestView::from_request(&req);
        for text in [format!("$x {op} '{b}'"), format!("'{a}' {op} $y"), format!("$x {op} $y"), format!("'{a}' {op} '{b}'")] {
            let cond = Condition::parse_aliyun(&text, &params).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
            prop_assert_eq!(cond.check(&view), Ok(want), "{}", text);
        }
    }

    /// `like` agrees with a plain backtracking model.
    #[test]
    fn like_matches_the_model(pattern in "[ab%_\\\\]{0,8}", value in "[ab%_\\\\]{0,10}") {
        let params = AliyunParameters::from_pairs([("x", "Header:x-a")]).unwrap();
        let quoted = pattern.replace('\\', "\\\\");
        let cond = Condition::parse_aliyun(&format!("$x like '{quoted}'"), &params).unwrap();
        let req = Request::get("/").header("x-a", value.as_str()).body(()).unwrap();
        prop_assert_eq!(cond.check(&RequestView::from_request(&req)), Ok(like_regex(&pattern).is_match(&value)), "{:?} like {:?}", value, pattern);
    }
}
