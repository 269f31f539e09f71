//! [`Report`]: every problem of a refused request, and the [`Rejection`] it becomes in each
//! client ecosystem's words.

use std::fmt;

use http::StatusCode;
use tollgate_core::Rejection;

use crate::config::Position;

/// At most this many problems are spelled out in a refusal's message.
pub const MAX_LISTED_PROBLEMS: usize = 20;

/// What kind of rule a request broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProblemKind {
    /// A required parameter is absent (`Missing{Name}`).
    Missing,
    /// A value breaks its definition: type, range, length, enumeration, pattern, or a
    /// single-valued parameter given several times (`Invalid{Name}`).
    Invalid,
    /// Strict mode: a parameter no definition names (`Invalid{Name}`).
    Undefined,
    /// Body parameters or a schema are defined and the body is empty (`Empty Request Body`).
    EmptyBody,
    /// The body is not valid JSON, or breaks the JSON Schema (`Invalid Request Body`).
    InvalidBody,
    /// The body is not of the kind the body parameters are read from (`Invalid Param Location`).
    InvalidLocation,
    /// A multipart body where form fields are defined (`Unsupported Multipart`).
    UnsupportedMultipart,
    /// The body carries a field a backend would read as a parameter the gateway injects
    /// into the query (`ReservedParameter`).
    Reserved,
}

/// One broken rule: the parameter, where it is, and what it broke.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// What kind of rule.
    pub kind: ProblemKind,
    /// The parameter's name; `body` for the body as a whole; the instance path
    /// (`/order/qty`) for a JSON Schema error.
    pub name: String,
    /// Where the parameter is (none for the body as a whole).
    pub position: Option<Position>,
    /// The rule broken, in words (`must be at least 1`); a value the caller sent is never
    /// repeated.
    pub rule: String,
}

/// `name` with its first letter in upper case, as OpenAPI codes spell parameter names.
fn code_name(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

impl Problem {
    /// The stable machine code: `Missing{Name}`, `Invalid{Name}` (the name with its first
    /// letter in upper case), `EmptyRequestBody`, `InvalidRequestBody`,
    /// `InvalidParamLocation`, `UnsupportedMultipart` or `ReservedParameter`.
    pub fn code(&self) -> String {
        match self.kind {
            ProblemKind::Missing => format!("Missing{}", code_name(&self.name)),
            ProblemKind::Invalid | ProblemKind::Undefined => format!("Invalid{}", code_name(&self.name)),
            ProblemKind::EmptyBody => "EmptyRequestBody".to_owned(),
            ProblemKind::InvalidBody => "InvalidRequestBody".to_owned(),
            ProblemKind::InvalidLocation => "InvalidParamLocation".to_owned(),
            ProblemKind::UnsupportedMultipart => "UnsupportedMultipart".to_owned(),
            ProblemKind::Reserved => "ReservedParameter".to_owned(),
        }
    }

    /// The reference wording: `{Name} is mandatory for this action.`, `Specified parameter
    /// {Name} is not valid.`, `Empty Request Body`, `Invalid Request Body`, `Invalid Param
    /// Location`, `Unsupported Multipart`, `Reserved Parameter`.
    pub fn aliyun_message(&self) -> String {
        match self.kind {
            ProblemKind::Missing => format!("{} is mandatory for this action.", self.name),
            ProblemKind::Invalid | ProblemKind::Undefined => format!("Specified parameter {} is not valid.", self.name),
            ProblemKind::EmptyBody => "Empty Request Body".to_owned(),
            ProblemKind::InvalidBody => "Invalid Request Body".to_owned(),
            ProblemKind::InvalidLocation => "Invalid Param Location".to_owned(),
            ProblemKind::UnsupportedMultipart => "Unsupported Multipart".to_owned(),
            ProblemKind::Reserved => "Reserved Parameter".to_owned(),
        }
    }

    /// Tencent Cloud API's common error code for this kind.
    pub fn tencent_code(&self) -> &'static str {
        match self.kind {
            ProblemKind::Missing => "MissingParameter",
            ProblemKind::Invalid => "InvalidParameterValue",
            ProblemKind::Undefined => "UnknownParameter",
            _ => "InvalidParameter",
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.position, self.kind) {
            (None, _) => write!(f, "{}: {}", self.name, self.rule),
            (Some(_), ProblemKind::InvalidBody) => write!(f, "body {}: {}", self.name, self.rule),
            (Some(position), _) => write!(f, "{position} {}: {}", self.name, self.rule),
        }
    }
}

/// Why a request was refused: every problem found, in definition order (then undefined
/// parameters, then the body's).
///
/// Its [`Rejection`] (HTTP 400) carries the first problem's code, and a message listing
/// them all (up to [`MAX_LISTED_PROBLEMS`]): problem+json's `detail`, Tencent's `Message`.
/// The Aliyun styles word the first problem as the reference does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    problems: Vec<Problem>,
}

impl Report {
    /// A report of `problems` (at least one).
    pub fn new(problems: Vec<Problem>) -> Self {
        Self { problems }
    }

    /// Every problem.
    pub fn problems(&self) -> &[Problem] {
        &self.problems
    }

    /// The refusal: HTTP 400, policy `params`.
    pub fn rejection(&self) -> Rejection {
        let detail = self.to_string();
        let Some(first) = self.problems.first() else {
            return Rejection::new(StatusCode::BAD_REQUEST, "InvalidParameter", detail).with_policy("params");
        };
        let code = first.code();
        let aliyun = first.aliyun_message();
        Rejection::new(StatusCode::BAD_REQUEST, code.clone(), detail.clone())
            .with_policy("params")
            .with_aliyun_api_gateway(StatusCode::BAD_REQUEST, aliyun.clone())
            .with_aliyun_rpc(StatusCode::BAD_REQUEST, code, aliyun)
            .with_tencent_cloud(first.tencent_code(), detail.clone())
            .with_tencent_api_gateway(StatusCode::BAD_REQUEST, detail)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.problems.as_slice() {
            [] => f.write_str("invalid parameters"),
            [one] => write!(f, "{one}"),
            many => {
                write!(f, "{} problems: ", many.len())?;
                for (i, p) in many.iter().take(MAX_LISTED_PROBLEMS).enumerate() {
                    if i > 0 {
                        f.write_str("; ")?;
                    }
                    write!(f, "{p}")?;
                }
                if many.len() > MAX_LISTED_PROBLEMS {
                    write!(f, "; and {} more", many.len() - MAX_LISTED_PROBLEMS)?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for Report {}

#[cfg(test)]
mod tests {
    use super::*;
    use tollgate_core::Ecosystem;

    fn problem(kind: ProblemKind, name: &str) -> Problem {
        Problem { kind, name: name.to_owned(), position: Some(Position::Query), rule: "is required".to_owned() }
    }

    #[test]
    fn codes_and_wordings() {
        let r = Report::new(vec![problem(ProblemKind::Missing, "regionId"), problem(ProblemKind::Invalid, "x")])
            .rejection();
        assert_eq!(r.code(), "MissingRegionId");
        assert_eq!(r.status(), 400);
        assert_eq!(r.message(), "2 problems: query regionId: is required; query x: is required");
        assert_eq!(r.message_for(Ecosystem::AliyunApiGateway), "regionId is mandatory for this action.");
        assert_eq!(r.code_for(Ecosystem::AliyunRpc), "MissingRegionId");
        assert_eq!(r.code_for(Ecosystem::TencentCloud), "MissingParameter");
        let invalid = problem(ProblemKind::Invalid, "page");
        assert_eq!(invalid.code(), "InvalidPage");
        assert_eq!(invalid.aliyun_message(), "Specified parameter page is not valid.");
        assert_eq!(problem(ProblemKind::Undefined, "z").tencent_code(), "UnknownParameter");
    }

    #[test]
    fn long_reports_are_capped() {
        let many: Vec<Problem> = (0..25).map(|i| problem(ProblemKind::Undefined, &format!("p{i}"))).collect();
        let text = Report::new(many).to_string();
        assert!(text.starts_with("25 problems: "));
        assert!(text.ends_with("; and 5 more"), "{text}");
    }
}
