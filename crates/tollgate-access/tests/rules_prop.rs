//! Property tests: the rules decide as a plain reading of Aliyun's description would (first
//! rule with an action for its outcome decides; none: pass), and no configuration text, valid
//! or not, makes building panic.

use http::Request;
use proptest::prelude::*;
use tollgate_access::{AccessControlConfig, AccessControlLayer, Action, Rule};

/// An atom on one of two headers: `$a = 'x'` or `$a = null`.
#[derive(Debug, Clone)]
enum Atom {
    Equals(usize, &'static str),
    IsNull(usize),
}

#[derive(Debug, Clone)]
enum Cond {
    Atom(Atom),
    And(Atom, Atom),
    Or(Atom, Atom),
}

const VARS: [&str; 2] = ["a", "b"];
const VALUES: [&str; 2] = ["x", "y"];

fn atom() -> impl Strategy<Value = Atom> {
    prop_oneof![
        (0..2usize, 0..2usize).prop_map(|(v, k)| Atom::Equals(v, VALUES[k])),
        (0..2usize).prop_map(Atom::IsNull),
    ]
}

fn cond() -> impl Strategy<Value = Cond> {
    prop_oneof![
        atom().prop_map(Cond::Atom),
        (atom(), atom()).prop_map(|(l, r)| Cond::And(l, r)),
        (atom(), atom()).prop_map(|(l, r)| Cond::Or(l, r)),
    ]
}

fn action() -> impl Strategy<Value = Option<Action>> {
    prop_oneof![Just(None), Just(Some(Action::Allow)), Just(Some(Action::Deny))]
}

fn atom_text(a: &Atom) -> String {
    match a {
        Atom::Equals(v, k) => format!("${} = '{k}'", VARS[*v]),
        Atom::IsNull(v) => format!("${} = null", VARS[*v]),
    }
}

fn cond_text(c: &Cond) -> String {
    match c {
        Cond::Atom(a) => atom_text(a),
        Cond::And(l, r) => format!("{} and {}", atom_text(l), atom_text(r)),
        Cond::Or(l, r) => format!("{} or {}", atom_text(l), atom_text(r)),
    }
}

fn atom_holds(a: &Atom, values: &[Option<&str>; 2]) -> bool {
    match a {
        Atom::Equals(v, k) => values[*v] == Some(*k),
        Atom::IsNull(v) => values[*v].is_none(),
    }
}

fn cond_holds(c: &Cond, values: &[Option<&str>; 2]) -> bool {
    match c {
        Cond::Atom(a) => atom_holds(a, values),
        Cond::And(l, r) => atom_holds(l, values) && atom_holds(r, values),
        Cond::Or(l, r) => atom_holds(l, values) || atom_holds(r, values),
    }
}

/// The model: the first rule with an action for its outcome decides; none passes. A refusal
/// is named by its status, 460 + the rule's index.
fn model(rules: &[(Cond, Option<Action>, Option<Action>)], values: &[Option<&str>; 2]) -> Result<(), u16> {
    for (i, (c, t, f)) in rules.iter().enumerate() {
        match if cond_holds(c, values) { t } else { f } {
            None => continue,
            Some(Action::Allow) => return Ok(()),
            Some(Action::Deny) => return Err(460 + i as u16),
        }
    }
    Ok(())
}

fn value() -> impl Strategy<Value = Option<&'static str>> {
    prop_oneof![Just(None), Just(Some("x")), Just(Some("y"))]
}

proptest! {
    #[test]
    fn rules_decide_as_described(
        rules in prop::collection::vec((cond(), action(), action()), 1..6),
        a in value(),
        b in value(),
    ) {
        let mut config = AccessControlConfig::new()
            .parameter("a", "Header:x-a").unwrap()
            .parameter("b", "Header:x-b").unwrap();
        for (i, (c, t, f)) in rules.iter().enumerate() {
            let mut rule = Rule::new(cond_text(c));
            rule.if_true = *t;
            rule.if_false = *f;
            if rule.can_deny() {
                rule = rule.status_code(460 + i as u16);
            }
            config = config.rule(rule);
        }
        let built = AccessControlLayer::from_config(&config);
        if rules.iter().any(|(_, t, f)| t.is_none() && f.is_none()) {
            // a rule that never decides is refused at build, naming it
            let err = built.unwrap_err();
            prop_assert!(err.field.starts_with("rules["), "{}", err);
            return Ok(());
        }
        let layer = built.unwrap();
        let mut req = Request::get("/");
        if let Some(a) = a { req = req.header("x-a", a); }
        if let Some(b) = b { req = req.header("x-b", b); }
        let req = req.body(()).unwrap();
        let got = layer.check(&req, None).map_err(|r| r.status().as_u16());
        prop_assert_eq!(got, model(&rules, &[a, b]));
    }

    #[test]
    fn no_plugin_text_panics(text in "\\PC{0,200}") {
        let _ = AccessControlLayer::from_plugin(&text);
    }

    #[test]
    fn no_condition_or_template_panics_and_errors_name_the_field(
        condition in "[$a-z0-9 ='<>!()%_.{}\\[\\]-]{0,40}",
        message in "[$a-z{} ]{0,20}",
    ) {
        let plugin = serde_json::json!({
            "parameters": {"a": "Query:a"},
            "rules": [{"condition": condition, "ifTrue": "DENY", "errorMessage": message}],
        });
        match AccessControlLayer::from_plugin(&plugin.to_string()) {
            Ok(layer) => {
                let req = Request::get("/?a=1").body(()).unwrap();
                let _ = layer.check(&req, None);
            }
            Err(e) => prop_assert!(
                e.field == "rules[0].condition" || e.field == "rules[0].errorMessage",
                "{}", e
            ),
        }
    }
}
