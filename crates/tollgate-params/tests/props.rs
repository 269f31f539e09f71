//! Property tests: query/form encoding round-trips through the parser every policy uses,
//! key removal agrees with parsing, the path template matcher binds exactly what a path
//! built from it holds, and validation never panics on any query.

use http::Request;
use proptest::prelude::*;
use tollgate_core::{PathTemplate, parse_urlencoded};
use tollgate_params::urlencoded::{encode_pairs, join, pairs, remove_keys};
use tollgate_params::{Param, ParamRequest, ParamRules, ParamType, ParamValidationConfig};

fn pairs_of(input: &str) -> Vec<(String, String)> {
    parse_urlencoded(input.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

/// Text rich in the characters that matter to the encoding.
fn text() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[a-zA-Z0-9 &=+%?#;/~_.\\-\u{e9}\u{4f60}\u{1f600}]{0,12}").unwrap()
}

/// Raw query strings, including malformed escapes.
fn raw_query() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[a-c=&%+0-9A-F\u{e9}]{0,40}").unwrap()
}

fn segment() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[a-z0-9._~-]{1,6}").unwrap()
}

/// A path segment value, any text but empty.
fn value() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[a-zA-Z0-9 /?%#&=+\u{e9}\u{4f60}]{1,8}").unwrap()
}

const SEGMENT: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

proptest! {
    #[test]
    fn encoded_pairs_parse_back(pairs in proptest::collection::vec((text(), text()), 0..6)) {
        let encoded = encode_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        // pairs with an empty name or value come back too
        prop_assert_eq!(pairs_of(&encoded), pairs);
    }

    #[test]
    fn joined_lists_parse_as_both(a in proptest::collection::vec((text(), text()), 0..4),
                                  b in proptest::collection::vec((text(), text()), 0..4)) {
        let ea = encode_pairs(a.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let eb = encode_pairs(b.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let mut both = a.clone();
        both.extend(b);
        prop_assert_eq!(pairs_of(&join(&ea, &eb)), both);
    }

    #[test]
    fn the_fast_parser_agrees_with_the_reference(query in raw_query()) {
        let fast: Vec<(String, String)> = pairs(&query).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
        prop_assert_eq!(fast, pairs_of(&query));
    }

    #[test]
    fn removal_agrees_with_parsing(query in raw_query(), doomed in "[a-c]{1,2}") {
        let kept = remove_keys(&query, |k| k == doomed);
        let expected: Vec<(String, String)> = pairs_of(&query).into_iter().filter(|(k, _)| *k != doomed).collect();
        let after = kept.clone().unwrap_or_else(|| query.clone());
        prop_assert_eq!(pairs_of(&after), expected);
        // nothing removed: the query is left exactly as it was
        if kept.is_none() {
            prop_assert!(pairs_of(&query).iter().all(|(k, _)| *k != doomed));
        }
    }

    #[test]
    fn templates_bind_what_the_path_holds(
        parts in proptest::collection::vec((segment(), proptest::option::of(value())), 1..5),
    ) {
        let mut template = String::new();
        let mut path = String::new();
        let mut expected = Vec::new();
        for (i, (literal, param)) in parts.iter().enumerate() {
            template.push('/');
            path.push('/');
            match param {
                Some(v) => {
                    let name = format!("p{i}");
                    template.push_str(&format!("{{{name}}}"));
                    path.push_str(&percent_encoding::utf8_percent_encode(v, SEGMENT).to_string());
                    expected.push((name, v.clone()));
                }
                None => {
                    template.push_str(literal);
                    path.push_str(literal);
                }
            }
        }
        let t = PathTemplate::parse(&template).unwrap();
        let bound = t.matches(&path).expect("a path built from the template matches it");
        let got: Vec<(String, String)> = bound.iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
        prop_assert_eq!(got, expected);
        // one segment more or less never matches
        let longer = format!("{path}/x");
        prop_assert!(t.matches(&longer).is_none());
        if let Some(cut) = path.rfind('/').filter(|&i| i > 0) {
            prop_assert!(t.matches(&path[..cut]).is_none());
        }
    }

    #[test]
    fn templates_never_panic(template in "[/{}a-z%]{0,16}", path in "[/{}a-z%0-9]{0,16}") {
        if let Ok(t) = PathTemplate::parse(&template) {
            if let Some(bound) = t.matches(&path) {
                prop_assert!(bound.iter().all(|(_, v)| !v.is_empty()));
            }
        }
    }

    #[test]
    fn validation_never_panics_and_reports_each_broken_definition(query in raw_query(), strict in any::<bool>()) {
        let config = ParamValidationConfig::new()
            .param(Param::query("a").int().min(0).default(0))
            .param(Param::query("b").array_of(ParamType::Double))
            .param(Param::query("c").regex("[0-9A-F]+").max_length(4))
            .strict(strict);
        let rules = ParamRules::new(&config).unwrap();
        let uri = format!("/?{}", query.replace('\u{e9}', "%C3%A9"));
        let Ok(req) = Request::get(uri.as_str()).body(()) else { return Ok(()) };
        match rules.check(&ParamRequest::new(req.uri(), req.headers())) {
            Ok(fixes) => {
                let a_present = pairs_of(req.uri().query().unwrap_or("")).iter().any(|(k, _)| k == "a");
                prop_assert_eq!(fixes.query() == "a=0", !a_present);
            }
            Err(report) => prop_assert!(!report.problems().is_empty()),
        }
    }
}
