//! Property tests of origin matching: case-insensitivity of scheme and host, wildcard
//! subdomains that never match the bare domain or a look-alike suffix, exact ports with
//! default ports normalised, no substring matching, and no panic on any input.

use proptest::prelude::*;
use tollgate_cors::AllowedOrigins;

/// A DNS label: letters, digits, inner hyphens.
fn label() -> impl Strategy<Value = String> {
    "[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?"
}

/// A registered-looking name: two or three labels.
fn domain() -> impl Strategy<Value = String> {
    prop::collection::vec(label(), 2..=3).prop_map(|l| l.join("."))
}

fn scheme() -> impl Strategy<Value = &'static str> {
    prop_oneof![Just("http"), Just("https")]
}

/// Flips the case of the letters whose bit in `mask` is set.
fn recase(s: &str, mask: u64) -> String {
    s.chars().enumerate().map(|(i, c)| if mask >> (i % 64) & 1 == 1 { c.to_ascii_uppercase() } else { c }).collect()
}

fn default_port(scheme: &str) -> u16 {
    if scheme == "https" { 443 } else { 80 }
}

/// `:port`, or nothing when `port` is `None`.
fn port_text(port: Option<u16>) -> String {
    port.map(|p| format!(":{p}")).unwrap_or_default()
}

fn port() -> impl Strategy<Value = Option<u16>> {
    prop_oneof![
        Just(None),
        Just(Some(80)),
        Just(Some(443)),
        (1u16..=65535).prop_map(Some),
        (8079u16..=8081).prop_map(Some)
    ]
}

/// Asserts that `list` allows `origin` or not, naming the origin when it fails.
fn expect(list: &AllowedOrigins, origin: String, allowed: bool) -> Result<(), TestCaseError> {
    prop_assert_eq!(list.allows(&origin), allowed, "{} in {:?}", origin, list);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Scheme and host compare case-insensitively, on either side.
    #[test]
    fn case_insensitive(scheme in scheme(), host in domain(), port in port(), m1 in any::<u64>(), m2 in any::<u64>()) {
        let origin = format!("{scheme}://{host}{}", port_text(port));
        let configured = AllowedOrigins::parse([recase(&origin, m1)]).unwrap();
        expect(&configured, recase(&origin, m2), true)?;
        expect(&configured, origin.to_ascii_uppercase(), true)?;
    }

    /// Ports match exactly, with the scheme's default port the same as none.
    #[test]
    fn ports_exact(scheme in scheme(), host in domain(), configured in port(), requested in port()) {
        let list = AllowedOrigins::parse([format!("{scheme}://{host}{}", port_text(configured))]).unwrap();
        let norm = |p: Option<u16>| p.unwrap_or(default_port(scheme));
        let request = format!("{scheme}://{host}{}", port_text(requested));
        expect(&list, request, norm(configured) == norm(requested))?;
    }

    /// The other scheme never matches.
    #[test]
    fn scheme_exact(host in domain(), port in port()) {
        let list = AllowedOrigins::parse([format!("https://{host}{}", port_text(port))]).unwrap();
        expect(&list, format!("http://{host}{}", port_text(port)), false)?;
    }

    /// `*.domain` matches every subdomain, and never the bare domain, a name that merely
    /// ends with the same characters, a longer suffix, another port or scheme.
    #[test]
    fn wildcard_subdomains(scheme in scheme(), base in domain(), sub in prop::collection::vec(label(), 1..=3),
                           glue in "[a-z0-9-]", evil in label(), mask in any::<u64>()) {
        let list = AllowedOrigins::parse([format!("{scheme}://*.{base}")]).unwrap();
        let sub = sub.join(".");
        expect(&list, format!("{scheme}://{sub}.{base}"), true)?;
        expect(&list, recase(&format!("{scheme}://{sub}.{base}"), mask), true)?;
        expect(&list, format!("{scheme}://{sub}.{base}:{}", default_port(scheme)), true)?;
        expect(&list, format!("{scheme}://{base}"), false)?;
        // `https://evil-example.com` for `*.example.com`
        expect(&list, format!("{scheme}://{evil}{glue}{base}"), false)?;
        // a longer suffix is refused, unless it happens to end in the base again
        // (`0.4.4` + `.4` is `0.4.4.4`, a true subdomain of `*.4.4`)
        let longer = format!("{sub}.{base}.{evil}");
        expect(&list, format!("{scheme}://{longer}"), longer.ends_with(&format!(".{base}")))?;
        expect(&list, format!("{scheme}://{sub}.{base}{glue}"), false)?;
        expect(&list, format!("{scheme}://{sub}.{base}:8443"), false)?;
        let other = if scheme == "https" { "http" } else { "https" };
        expect(&list, format!("{other}://{sub}.{base}"), false)?;
    }

    /// An exact origin is never matched as a substring or prefix.
    #[test]
    fn no_substring(scheme in scheme(), host in domain(), evil in label(), glue in "[a-z0-9.-]") {
        let origin = format!("{scheme}://{host}");
        let list = AllowedOrigins::parse([&origin]).unwrap();
        expect(&list, format!("{origin}.{evil}.net"), false)?;
        expect(&list, format!("{origin}{glue}{evil}"), false)?;
        expect(&list, format!("{scheme}://{evil}{glue}{host}"), false)?;
        expect(&list, format!("{origin}/"), false)?;
        expect(&list, "null".to_owned(), false)?;
    }

    /// Neither parsing nor matching panics, whatever the text.
    #[test]
    fn no_panic(entries in prop::collection::vec(".{0,40}", 0..4), origin in ".{0,60}",
                wild in "[a-zA-Z0-9:/.*\\[\\]^$-]{0,40}") {
        for list in [AllowedOrigins::parse(&entries), AllowedOrigins::parse_aliyun(&entries),
                     AllowedOrigins::parse([&wild]), AllowedOrigins::parse_aliyun([&wild])].into_iter().flatten() {
            let _ = list.allows(&origin);
            let _ = list.allows(&wild);
        }
    }
}
