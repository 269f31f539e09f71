//! Path templates and paths from arbitrary bytes: parsing and matching never panic; a
//! match binds every template parameter, in order, to a non-empty value; and a path built
//! from a template with values taken from the input matches it and binds those values.
//! Both spellings of a parameter are fuzzed: `{name}` and Aliyun's `[name]`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use tollgate_core::PathTemplate;

/// The name a template segment binds: `{name}` or `[name]`.
fn param(segment: &str) -> Option<&str> {
    segment
        .strip_prefix('{')
        .and_then(|s| s.strip_suffix('}'))
        .or_else(|| segment.strip_prefix('[').and_then(|s| s.strip_suffix(']')))
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (template, rest) = text.split_once('\n').unwrap_or((&text, ""));
    let Ok(t) = PathTemplate::parse(template) else { return };
    let names: Vec<&str> = template.split('/').skip(1).filter_map(param).collect();
    assert_eq!(t.names().collect::<Vec<_>>(), names);
    if let Some(bound) = t.matches(rest) {
        let got: Vec<&str> = bound.iter().map(|(k, _)| k).collect();
        assert_eq!(got, names);
        assert!(bound.iter().all(|(_, v)| !v.is_empty()));
    }
    // fill the template with values cut from the rest of the input
    let mut values = rest.split('\n').filter(|v| !v.is_empty()).cycle();
    let mut path = String::new();
    let mut expected = Vec::new();
    for segment in template.split('/').skip(1) {
        path.push('/');
        match param(segment) {
            Some(name) => {
                let value = values.next().unwrap_or("v");
                path.push_str(&utf8_percent_encode(value, NON_ALPHANUMERIC).to_string());
                expected.push((name.to_owned(), value.to_owned()));
            }
            None => path.push_str(segment),
        }
    }
    let bound = t.matches(&path).expect("a path built from its template matches");
    let got: Vec<(String, String)> = bound.iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
    assert_eq!(got, expected);
});
