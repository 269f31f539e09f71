//! The rules themselves, with no tower types: which rule fires for a request, and what it
//! answers.

use http::header::CONTENT_TYPE;
use http::{HeaderMap, Request, StatusCode};
use tollgate_core::condition::{AliyunLocation, AliyunParameters, RequestView};
use tollgate_core::{Condition, ConfigError, GrpcCode, ParamError, Rejection, SystemValues};

use crate::config::{AccessControlConfig, Action, Rule};
use crate::response::Deny;

/// The refusal code when a parameter a rule reads is given more than once.
pub const CODE_AMBIGUOUS_PARAMETER: &str = "AmbiguousParameter";
/// The refusal code when a parameter a rule reads holds a malformed escape.
pub const CODE_MALFORMED_PARAMETER: &str = "MalformedParameter";

/// What a rule does for one outcome of its condition.
#[derive(Debug, Clone)]
enum Decision {
    Allow,
    Deny(Box<Deny>),
}

/// One compiled rule.
#[derive(Debug, Clone)]
struct Compiled {
    name: String,
    condition: Condition,
    if_true: Option<Decision>,
    if_false: Option<Decision>,
}

impl Compiled {
    fn denials(&self) -> impl Iterator<Item = &Deny> {
        [&self.if_true, &self.if_false].into_iter().filter_map(|d| match d {
            Some(Decision::Deny(deny)) => Some(&**deny),
            _ => None,
        })
    }
}

/// The compiled plug-in: its parameters and its rules in order.
#[derive(Debug, Clone)]
pub(crate) struct Policy {
    rules: Vec<Compiled>,
    needs_body: bool,
    /// Whether a parameter is a path parameter (`Parameter:NAME`, `path:NAME`).
    reads_path_params: bool,
    /// The form fields a parameter reads, with the query parameter of the same name.
    form_fields: Vec<(String, AliyunLocation)>,
    /// The system parameters the gateway cannot know (`CaStage`, `CaInstanceId`, ...).
    pub(crate) system: SystemValues,
}

impl Policy {
    /// Checks and compiles the plug-in; errors name the field (`rules[1].condition`).
    pub(crate) fn compile(config: &AccessControlConfig) -> Result<Self, ConfigError> {
        let parameters = config.parameters.clone().for_request()?;
        if config.rules.is_empty() {
            return Err(ConfigError::new("rules", "expected at least one rule: without one, every request passes"));
        }
        let rules = config
            .rules
            .iter()
            .enumerate()
            .map(|(i, rule)| compile_rule(rule, &parameters).map_err(|e| e.within(format_args!("rules[{i}]"))))
            .collect::<Result<Vec<_>, _>>()?;
        let needs_body = rules.iter().any(|r| r.condition.needs_form_body() || r.denials().any(Deny::reads_form));
        let reads_path_params = parameters.iter().any(|(_, l)| matches!(l, AliyunLocation::Parameter(_)));
        let form_fields = parameters
            .iter()
            .filter_map(|(_, l)| match l {
                AliyunLocation::Form(name) => Some((name.clone(), AliyunLocation::Query(name.clone()))),
                _ => None,
            })
            .collect();
        Ok(Self { rules, needs_body, reads_path_params, form_fields, system: SystemValues::new() })
    }

    /// Whether a parameter is a path parameter, bound by a router.
    pub(crate) fn reads_path_params(&self) -> bool {
        self.reads_path_params
    }

    /// Whether some rule may read a form field.
    pub(crate) fn needs_body(&self) -> bool {
        self.needs_body
    }

    /// Whether the body of a request with these headers must be read: a rule reads a form
    /// field and the body is a form.
    pub(crate) fn needs_body_of(&self, headers: &HeaderMap) -> bool {
        self.needs_body
            && headers
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(';').next())
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"))
    }

    /// Runs the rules in order: the first that fires decides. `Ok` when one ALLOWs or none
    /// fires; the rule's refusal when one DENYs. `body` is the buffered form body, if read.
    pub(crate) fn decide<B>(&self, req: &Request<B>, body: Option<&[u8]>) -> Result<(), Rejection> {
        if self.needs_body && is_multipart(req.headers()) {
            // a backend reading multipart fields as its form would see fields the rules never read
            return Err(multipart_refused());
        }
        let mut view = RequestView::from_request(req).with_system_values(&self.system);
        if let Some(body) = body {
            view = view.with_body(body);
            // a field in the body and in the query: frameworks that merge them (PHP's
            // $_REQUEST, Flask's request.values) may read the one no rule read
            for (name, in_query) in &self.form_fields {
                if let Ok(Some(_)) | Err(_) = view.aliyun_value(in_query) {
                    return Err(bad_parameter(&ParamError::Repeated(format!("form {name} (also in the query)"))));
                }
            }
        }
        for rule in &self.rules {
            // a value with two readings refuses the request: else a client could make a
            // condition false with a value the handler never reads (`?role=guest&role=root`)
            let holds = rule.condition.check(&view).map_err(|e| bad_parameter(&e))?;
            match if holds { &rule.if_true } else { &rule.if_false } {
                None => continue,
                Some(Decision::Allow) => {
                    tracing::trace!(rule = rule.name, holds, "access control: allowed");
                    tollgate_core::observe::accepted("access");
                    return Ok(());
                }
                Some(Decision::Deny(deny)) => {
                    tracing::debug!(rule = rule.name, holds, "access control: denied");
                    return Err(deny.rejection(&view).map_err(|e| bad_parameter(&e))?);
                }
            }
        }
        // no rule fired: the plug-in has nothing against the request
        tollgate_core::observe::accepted("access");
        Ok(())
    }
}

fn compile_rule(rule: &Rule, parameters: &AliyunParameters) -> Result<Compiled, ConfigError> {
    for (field, set) in [
        ("assertParameterName", rule.assert_parameter_name.is_some()),
        ("assertInDataset", rule.assert_in_dataset.is_some()),
    ] {
        if set {
            return Err(ConfigError::new(
                field,
                "datasets are not supported (they live in Aliyun's dedicated instances): write the values \
                 into the condition instead",
            ));
        }
    }
    if rule.if_true.is_none() && rule.if_false.is_none() {
        return Err(ConfigError::new(
            "",
            "expected ifTrue or ifFalse (ALLOW or DENY): a rule with neither never decides anything",
        ));
    }
    let condition =
        Condition::parse_aliyun(&rule.condition, parameters).map_err(|e| ConfigError::new("condition", e))?;
    let deny = if rule.can_deny() {
        Some(Box::new(Deny::compile(rule, parameters)?))
    } else {
        // a response nobody can see is a mistake, not a setting to ignore
        let unused = [
            ("statusCode", rule.status_code.is_some()),
            ("errorMessage", rule.error_message.is_some()),
            ("responseHeaders", !rule.response_headers.is_empty()),
            ("responseBody", rule.response_body.is_some()),
        ];
        if let Some((field, _)) = unused.iter().find(|(_, set)| *set) {
            return Err(ConfigError::new(*field, "only a rule that can DENY answers with a response"));
        }
        None
    };
    let decision = |action: Option<Action>| -> Option<Decision> {
        match action? {
            Action::Allow => Some(Decision::Allow),
            Action::Deny => deny.clone().map(Decision::Deny),
        }
    };
    Ok(Compiled {
        name: rule.name.clone().unwrap_or_default(),
        condition,
        if_true: decision(rule.if_true),
        if_false: decision(rule.if_false),
    })
}

/// The refusal code when a rule reads form fields and the body is `multipart/form-data`.
pub const CODE_UNSUPPORTED_FORM: &str = "UnsupportedFormType";

fn is_multipart(headers: &HeaderMap) -> bool {
    headers
        .get_all(CONTENT_TYPE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.trim_start().get(..10).is_some_and(|t| t.eq_ignore_ascii_case("multipart/")))
}

/// 415: form fields the rules read only in `application/x-www-form-urlencoded` bodies.
fn multipart_refused() -> Rejection {
    let message = "form parameters are read from application/x-www-form-urlencoded bodies only";
    Rejection::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, CODE_UNSUPPORTED_FORM, message)
        .with_policy("access")
        .with_aliyun_api_gateway(StatusCode::UNSUPPORTED_MEDIA_TYPE, message)
        .with_grpc_code(GrpcCode::InvalidArgument)
}

/// 400: a parameter the backend could read another way than the rules did.
fn bad_parameter(error: &ParamError) -> Rejection {
    let code = match error {
        ParamError::Repeated(_) => CODE_AMBIGUOUS_PARAMETER,
        _ => CODE_MALFORMED_PARAMETER,
    };
    Rejection::new(StatusCode::BAD_REQUEST, code, error.to_string())
        .with_policy("access")
        .with_aliyun_api_gateway(StatusCode::BAD_REQUEST, error.to_string())
        .with_grpc_code(GrpcCode::InvalidArgument)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Rule;

    fn policy(parameters: &[(&str, &str)], rules: Vec<Rule>) -> Policy {
        let mut config = AccessControlConfig::new();
        for (name, location) in parameters {
            config = config.parameter(name, location).unwrap();
        }
        for rule in rules {
            config = config.rule(rule);
        }
        Policy::compile(&config).unwrap()
    }

    /// What the crate docs say of null: an absent value equals only the literal `null`; two
    /// absent values are not equal, so `$userId = $pathUserId` (`ifFalse: DENY`) refuses a
    /// request with neither.
    #[test]
    fn null_compares_equal_only_to_null() {
        let p = policy(&[("a", "Header:x-a"), ("b", "Header:x-b")], vec![Rule::new("$a = $b").if_true(Action::Deny)]);
        let req = |a: Option<&str>, b: Option<&str>| {
            let mut r = Request::get("/");
            if let Some(a) = a {
                r = r.header("x-a", a);
            }
            if let Some(b) = b {
                r = r.header("x-b", b);
            }
            r.body(()).unwrap()
        };
        assert!(p.decide(&req(Some("1"), Some("1")), None).is_err());
        assert!(p.decide(&req(Some("1"), None), None).is_ok());
        assert!(p.decide(&req(None, Some("1")), None).is_ok());
        assert!(p.decide(&req(None, None), None).is_ok(), "null = null does not hold");
        let literal = policy(&[("a", "Header:x-a")], vec![Rule::new("$a = null").if_true(Action::Deny)]);
        assert!(literal.decide(&req(None, None), None).is_err());
        assert!(literal.decide(&req(Some(""), None), None).is_ok(), "an empty value is not null");
    }

    #[test]
    fn the_body_is_read_only_for_forms_a_rule_reads() {
        let form = policy(&[("f", "Form:f")], vec![Rule::new("$f = 1").if_true(Action::Deny)]);
        let by_message = policy(
            &[("f", "Form:f"), ("q", "Query:q")],
            vec![Rule::new("$q = 1").if_true(Action::Deny).error_message("form said ${f}")],
        );
        let query = policy(&[("q", "Query:q")], vec![Rule::new("$q = 1").if_true(Action::Deny)]);
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, "application/x-www-form-urlencoded".parse().unwrap());
        assert!(form.needs_body_of(&headers) && by_message.needs_body_of(&headers));
        assert!(!query.needs_body_of(&headers));
        headers.insert(CONTENT_TYPE, "application/json".parse().unwrap());
        assert!(!form.needs_body_of(&headers), "a JSON body has no form fields");
        assert!(form.needs_body() && !query.needs_body());
    }

    #[test]
    fn path_parameters_are_asked_of_the_router_only_when_read() {
        let path = policy(&[("u", "Parameter:u")], vec![Rule::new("$u = 1").if_true(Action::Deny)]);
        let query = policy(&[("q", "Query:q")], vec![Rule::new("$q = 1").if_true(Action::Deny)]);
        assert!(path.reads_path_params() && !query.reads_path_params());
    }

    /// Values with two readings: a repeated name, a form field also in the query, a form
    /// the rules cannot read (multipart) when a rule reads the form.
    #[test]
    fn two_readings_refuse_with_their_codes() {
        let form = policy(&[("f", "Form:f")], vec![Rule::new("$f = 1").if_true(Action::Deny)]);
        let query = policy(&[("q", "Query:q")], vec![Rule::new("$q = 1").if_true(Action::Deny)]);
        let post = |target: &str, content_type: &str| {
            Request::post(target).header(CONTENT_TYPE, content_type).body(()).unwrap()
        };
        let urlencoded = "application/x-www-form-urlencoded";
        let both = form.decide(&post("/?f=2", urlencoded), Some(b"f=1")).unwrap_err();
        assert_eq!(both.code(), CODE_AMBIGUOUS_PARAMETER);
        assert!(form.decide(&post("/?g=2", urlencoded), Some(b"f=2")).is_ok());
        let repeated = query.decide(&post("/?q=2&q=1", urlencoded), None).unwrap_err();
        assert_eq!(repeated.code(), CODE_AMBIGUOUS_PARAMETER);
        let multipart = "multipart/form-data; boundary=x";
        assert_eq!(form.decide(&post("/", multipart), None).unwrap_err().code(), CODE_UNSUPPORTED_FORM);
        assert!(query.decide(&post("/", multipart), None).is_ok(), "no rule reads the form");
    }
}
