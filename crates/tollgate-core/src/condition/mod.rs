//! [`Condition`]: a small expression language that decides on a request's attributes,
//! compiled once and evaluated without allocation, in two dialects: ours and Tencent's
//! ([`Condition::parse`]), and Aliyun's ([`Condition::parse_aliyun`], see
//! [below](#aliyuns-dialect)).
//!
//! Feature `condition` of `tollgate-core` (it brings `regex` and `httpdate`); tollgate-flow
//! enables it.
//!
//! ```
//! use std::net::{IpAddr, Ipv4Addr};
//! use http::Request;
//! use tollgate_core::{ClientIp, Condition, condition::RequestView};
//!
//! let vip = Condition::parse(r#"header.x-user-level == "vip" && client_ip in ["10.0.0.0/8", "192.168.1.7"]"#)?;
//! // Tencent's conditional-routing dialect is the same language
//! let tencent = Condition::parse("header.user=1001 and query.id=2")?;
//!
//! let mut req = Request::get("/orders?id=2").header("X-User-Level", "vip").header("user", "1001").body(())?;
//! req.extensions_mut().insert(ClientIp::direct(IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3))));
//!
//! let view = RequestView::from_request(&req);
//! assert!(vip.evaluate(&view));
//! assert!(tencent.evaluate(&view));
//! assert_eq!(tencent.to_string(), r#"header.user == 1001 && query.id == 2"#);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # The language
//!
//! ```text
//! expr       := or
//! or         := and ( ("||" | "or") and )*
//! and        := not ( ("&&" | "and") not )*
//! not        := ("!" | "not") not | atom
//! atom       := "(" expr ")" | "exists" "(" operand ")" | "regex" "(" operand "," STRING ")"
//!             | BOOLEAN | comparison
//! comparison := operand op literal
//! op         := "=" | "==" | "!=" | ">" | ">=" | "<" | "<=" | "~=" | "in" | "!in" | "contains"
//! literal    := STRING | NUMBER | BOOLEAN | "[" literal ( "," literal )* "]"
//! ```
//!
//! Two dialects are one language: Tencent's conditional routing (`=`, `and`, `or`,
//! `sysparam.clientIp`, `Random()`, `regex(...)`) and ours (`==`, `&&`, `||`, `!`, `client_ip`,
//! `~=`). Keywords, `Random()` and the location word of an operand (`header`, `sysparam`, ...)
//! are case-insensitive; `&&` binds tighter than `||`. Strings take single or double quotes,
//! with escapes `\"`, `\'`, `\\`, `\n`, `\t`; a backslash before anything else is kept, so
//! `"^\d+$"` is the regular expression `^\d+$`. Numbers are `-?[0-9]+(\.[0-9]+)?`.
//!
//! | operand | value |
//! |---|---|
//! | `header.NAME` | the first value of the header (name in any case); absent if not UTF-8 |
//! | `query.NAME`, `form.NAME` | the first value of the query / form parameter, percent-decoded (`+` is a space); a form is read only when the body was given to the view and is `application/x-www-form-urlencoded` |
//! | `path` | the whole request path, as sent (`/test`) |
//! | `path.NAME` | a parameter bound by a [`PathTemplate`](crate::PathTemplate) ([`PathParams`](crate::PathParams)) |
//! | `method` | `GET`, `POST`, ... |
//! | `host` | the URI authority, else the `Host` header, without the port; compared ignoring case |
//! | `client_ip`, `sysparam.clientIp` | the [`ClientIp`](crate::ClientIp) |
//! | `caller` | the key id of the [`Caller`](crate::Caller) (app key / secret id) |
//! | `sysparam.httpScheme` | `HTTP` or `HTTPS`; compared ignoring case |
//! | `sysparam.clientUa` | the `User-Agent` header |
//! | `Random()` | a fresh number in [0, 1) for each occurrence at each evaluation ([`Condition::with_random`]) |
//!
//! # Meaning
//!
//! - `==` / `=`, `!=`, `in`, `!in`: compare as numbers when both the request's value and the
//!   literal read as numbers (`query.id == 2` holds for `id=2.0`, exactly, whatever the
//!   digits), else as text (`true` / `false` ignoring case). For `client_ip` the literals
//!   are IP addresses or CIDR networks (IPv4 and IPv6), and `==` means "within".
//! - `>`, `>=`, `<`, `<=`: numeric; false when the request's value is not a number. The
//!   literal must be a number (or a string that is one).
//! - `contains`: substring. `~=` and `regex(x, "p")`: regular expression search (Rust
//!   [`regex`](https://docs.rs/regex) syntax; anchor with `^` / `$` for a whole match).
//! - A value the request lacks makes every comparison on it false, except `!=` and `!in`,
//!   which are true. `exists(x)` tests presence. So Tencent's "`param.unknown = 1` is false"
//!   holds for any parameter the request lacks (`header.unknown = 1`); an operand that is
//!   not in the table above, though, is a build error.
//! - `regex(operand, "pattern")` is our reading of Tencent's published example, which is cut
//!   short where it would show the arguments; it prints as `operand ~= "pattern"`.
//!
//! Build errors ([`ConditionError`]), each with its byte offset: syntax, unknown operands,
//! invalid regular expressions, bad addresses or CIDRs compared with `client_ip`, a literal
//! of the wrong type (`>` with a non-number, `in` without a list, `~=` without a string),
//! `Random()` with `~=` / `contains`, and nesting deeper than 64 levels.
//!
//! # Aliyun's dialect
//!
//! [`Condition::parse_aliyun`] reads the conditions of Aliyun's plug-ins (access control,
//! parameter flow control, routing, error mapping) into the same syntax tree, evaluated by
//! the same evaluator. Operands are the parameters a plug-in declares in its `parameters`
//! map ([`AliyunParameters`]), written `$name` or `${name}`, and literals.
//!
//! ```
//! use std::net::{IpAddr, Ipv4Addr};
//! use http::Request;
//! use tollgate_core::{Caller, ClientIp, Condition, PathTemplate};
//! use tollgate_core::condition::{AliyunParameters, RequestView};
//!
//! let params = AliyunParameters::from_pairs([("userId", "Query:userId"), ("pathUserId", "path:userId")])?
//!     .for_request()?;
//! let own = Condition::parse_aliyun("$userId = $pathUserId", &params)?;
//! let office = Condition::parse_aliyun("$CaClientIp in_cidr '106.11.31.0/24' and $userId like '%0'", &params)?;
//! let apps = Condition::parse_aliyun("$CaAppId = 4534463 or $CaAppId = 86734572", &params)?;
//!
//! let mut req = Request::get("/users/100?userId=100").body(())?;
//! req.extensions_mut().insert(PathTemplate::parse("/users/{userId}")?.matches("/users/100").unwrap());
//! req.extensions_mut().insert(ClientIp::direct(IpAddr::V4(Ipv4Addr::new(106, 11, 31, 9))));
//! req.extensions_mut().insert(Caller::new("AK").with_app_id("86734572"));
//! let view = RequestView::from_request(&req);
//! assert!(own.evaluate(&view) && office.evaluate(&view) && apps.evaluate(&view));
//! assert_eq!(own.to_string(), "$userId == $pathUserId");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ```text
//! expr       := or
//! or         := and ( ("or" | "||") and )*
//! and        := not ( ("and" | "&&") not )*
//! not        := ("not" | "!") not | atom
//! atom       := "(" expr ")" | "true" | "false" | side op side
//! side       := "$" NAME | "${" NAME "}" | STRING | NUMBER | "null"
//! op         := "=" | "==" | "<>" | "!=" | "<" | "<=" | ">" | ">=" | "like" | "in_cidr"
//! ```
//!
//! Keywords ignore case (`AND`, `Like`); `not` applies to the comparison or parenthesis
//! after it, and `and` binds tighter than `or`. `NAME` is `[A-Za-z0-9_]+`: a parameter declared in
//! `parameters`, else one of the fifteen system parameters by Aliyun's name (`$CaAppId`,
//! `$CaClientIp`, see [`SystemParam`](crate::SystemParam)); a declared name wins. Any other
//! name is a build error at its offset. Strings take single or double quotes, with the
//! escapes above. The symbolic spellings of our dialect (`==`, `&&`, `||`, `!`) are accepted
//! too, so that the printed form reads back.
//!
//! Where a parameter's value comes from, and what a request-phase plug-in reads, is
//! [`RequestView::aliyun_value`], the one routine for every Aliyun plug-in; a response-phase
//! plug-in gives `StatusCode`, `ErrorCode`, response headers and `BodyJsonField` through
//! [`Variables`] and [`Condition::check_with`]. `${name}` in messages and bodies is
//! [`Template`].
//!
//! Meaning:
//!
//! - `=`, `<>` / `!=`, `<`, `<=`, `>`, `>=`: as numbers when both sides read as numbers
//!   (`-?[0-9]+(\.[0-9]+)?`, exactly: `$userId = 1230` holds for `01230`), otherwise as text,
//!   byte by byte and case-sensitive (`$ClientVersion < '2.0.5'` compares text: `2.0.10` is
//!   less, as it is for Aliyun's string comparison; the host and scheme ignore case, as in
//!   Tencent's). Both sides may be parameters (`$userId = $pathUserId`) or literals
//!   (`1 = 1`, decided when built); `'2.0.5' > $v` is `$v < '2.0.5'`. Mind the numbers
//!   between two request values: `$userId = $pathUserId` holds for `42` and `042`, so where
//!   a backend keys users by the id's text, bind the path parameter to digits without a
//!   leading zero (or compare `$pathUserId like '0%'` to refuse those).
//! - `null`: `$x = null` holds when the request has no value for `$x`, `$x != null` /
//!   `$x <> null` when it has one; `null` compares only for equality, and only with a
//!   parameter.
//! - A parameter without a value makes every other comparison false, except `!=` / `<>`,
//!   which hold (as in Tencent's dialect): with two parameters, `=` holds only when both
//!   have values, so `$userId = $pathUserId` does not hold for a request with neither.
//! - `like 'PATTERN'`: the whole value matches; `%` any run of characters, `_` one
//!   character, `\` makes the next one literal; case-sensitive.
//! - `in_cidr 'CIDR'`: the value is an IP address (IPv4 or IPv6; `::ffff:a.b.c.d` read as
//!   IPv4) within the network (a bare address is a /32 or /128); a value that is not an
//!   address is not within. A bad CIDR is a build error.
//! - A value the request gives in two readings (a repeated header, query or form name, a
//!   name some backend reads as the same one, a malformed escape) fails
//!   [`check`](Condition::check) rather than be guessed.
//!
//! Settled where the spec is UNCERTAIN (§A3.4, §A3.5): system parameters are usable without
//! a declaration (`$CaAppId`), as a documentation copy shows; `${name}` is accepted in
//! conditions as in `successCondition: "${statusCode} = 200"`; `not`, `>`, `>=`, `<=` and the
//! precedence above are the usual ones though no example shows them; `in (...)`, functions
//! and Tencent's `exists()` / `regex()` / `~=` are not part of this dialect (nothing shows
//! them) and are build errors. `<>` is also accepted by our dialect, as `!=`.
//!
//! # Printing
//!
//! [`Display`](std::fmt::Display) gives the canonical form: `==`, `&&`, `||`, `!`,
//! `client_ip`, `~=`, double-quoted strings, and parentheses around an `&&` inside an `||` and
//! around a negated comparison, `&&` or `||` (`!(header.a == 1)`). Parsing the printed text
//! gives an equal condition, which prints the same. An Aliyun condition prints its
//! parameters as `$name`, `null` tests as `$x != null` (negated for `= null`), `like` and
//! `in_cidr` as written, and a constant comparison (`1 = 1`) as `true`; it reads back with
//! [`Condition::parse_aliyun`] and the same parameters.

mod aliyun;
mod ast;
mod error;
mod eval;
mod lenient;
mod lexer;
mod number;
mod parser;
mod print;
mod random;
mod request;

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use ast::{Expr, Operand};

pub use aliyun::{AliyunLocation, AliyunParameters, Phase, Template, Variables};
pub use error::ConditionError;
pub use request::RequestView;

/// A compiled condition expression; see the [module documentation](self) for the language.
///
/// Cheap to clone (the compiled form is shared) and `Send + Sync`. Equality compares the
/// expressions, not the random sources.
#[derive(Clone)]
pub struct Condition {
    expr: Arc<Expr>,
    random: Option<Arc<dyn Fn() -> f64 + Send + Sync>>,
    needs_form_body: bool,
    uses_random: bool,
}

impl Condition {
    /// Parses and builds a condition. Every literal is checked and compiled here (regular
    /// expressions, networks, numbers), so evaluation cannot fail.
    ///
    /// An empty or blank text is an error, not a condition: where a configuration makes the
    /// condition optional, it maps `""` to [`Condition::always`] itself (parameter flow
    /// control does).
    ///
    /// ```
    /// use tollgate_core::Condition;
    ///
    /// assert!(Condition::parse(r#"path ~= "^/v1/orders/[0-9]+$" || !exists(header.authorization)"#).is_ok());
    /// let err = Condition::parse("param.unknown = 1").unwrap_err();
    /// assert_eq!(err.offset(), 0);
    /// assert!(Condition::parse("").is_err());
    /// ```
    pub fn parse(text: &str) -> Result<Self, ConditionError> {
        parser::parse(text).map(Self::from_expr)
    }

    /// Parses and builds a condition of Aliyun's dialect (see the
    /// [module documentation](self#aliyuns-dialect)): `$name` and `${name}` name a parameter
    /// declared in `params` or a system parameter (`$CaAppId`); any other is an error.
    ///
    /// ```
    /// use http::Request;
    /// use tollgate_core::{Condition, condition::{AliyunParameters, RequestView}};
    ///
    /// let params = AliyunParameters::from_pairs([("userType", "Header:x-user-type")])?.for_request()?;
    /// let admin = Condition::parse_aliyun("$userType = 'admin'", &params)?;
    /// let req = Request::get("/").header("x-user-type", "admin").body(())?;
    /// assert!(admin.evaluate(&RequestView::from_request(&req)));
    ///
    /// let err = Condition::parse_aliyun("$userKind = 'admin'", &params).unwrap_err();
    /// assert_eq!(err.offset(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn parse_aliyun(text: &str, params: &AliyunParameters) -> Result<Self, ConditionError> {
        parser::parse_aliyun(text, params).map(Self::from_expr)
    }

    /// The condition that always holds (it prints as `true`).
    pub fn always() -> Self {
        Self::from_expr(Expr::Bool(true))
    }

    fn from_expr(expr: Expr) -> Self {
        let needs_form_body = expr.any_operand(&|o| match o {
            Operand::Form(_) => true,
            Operand::Var(v) => matches!(v.location, AliyunLocation::Form(_)),
            _ => false,
        });
        let uses_random = expr.any_operand(&|o| *o == Operand::Random);
        Self { expr: Arc::new(expr), random: None, needs_form_body, uses_random }
    }

    /// Replaces the source of `Random()` (by default a fast per-thread generator). The
    /// source should return numbers in [0, 1); tests pass a fixed sequence.
    ///
    /// ```
    /// use http::Request;
    /// use tollgate_core::{Condition, condition::RequestView};
    ///
    /// let sample = Condition::parse("Random() < 0.1")?.with_random(|| 0.05);
    /// let req = Request::new(());
    /// assert!(sample.evaluate(&RequestView::from_request(&req)));
    /// # Ok::<(), tollgate_core::ConditionError>(())
    /// ```
    pub fn with_random(mut self, source: impl Fn() -> f64 + Send + Sync + 'static) -> Self {
        self.random = Some(Arc::new(source));
        self
    }

    /// Whether the condition holds for the request; `false` when an operand it reads has two
    /// readings (see [`check`](Self::check)).
    pub fn evaluate(&self, request: &RequestView<'_>) -> bool {
        self.check(request).unwrap_or(false)
    }

    /// Whether the condition holds for the request, or why the request cannot be judged: an
    /// operand it reads is given twice (a repeated query or form name, a repeated header
    /// line, or the same parameter again under a name a lenient backend folds into it:
    /// `x_user` beside the header `x-user`, CGI-style; `ID`, `id[]` or a `;id=` pair beside the
    /// query `id`, as ASP.NET, PHP or older Python and Go read them), holds a malformed
    /// percent-escape, or is a path that cannot be normalised.
    /// Frameworks differ on which reading a backend takes, so a policy acting on a condition
    /// refuses such a request rather than judge one reading ([`evaluate`](Self::evaluate)
    /// would let it escape a rule whose condition it makes false).
    ///
    /// Query and form values are decoded as backends decode them; `path` is the path a
    /// backend routes (escapes decoded, dot segments and doubled slashes resolved).
    ///
    /// ```
    /// use http::Request;
    /// use tollgate_core::{Condition, condition::RequestView};
    ///
    /// let free = Condition::parse(r#"query.tier == "free""#)?;
    /// let req = Request::get("/?tier=gold&tier=free").body(()).unwrap();
    /// assert!(free.check(&RequestView::from_request(&req)).is_err());
    /// let req = Request::get("/?tier=fr%65e").body(()).unwrap();
    /// assert_eq!(free.check(&RequestView::from_request(&req)), Ok(true));
    /// # Ok::<(), tollgate_core::ConditionError>(())
    /// ```
    ///
    /// An Aliyun condition's `$name`s are read from the request
    /// ([`RequestView::aliyun_value`]); in the response phase, see
    /// [`check_with`](Self::check_with).
    pub fn check(&self, request: &RequestView<'_>) -> Result<bool, crate::ParamError> {
        self.check_with(request, request)
    }

    /// Like [`check`](Self::check), the values of Aliyun's `$name`s given by `vars` (a
    /// response-phase plug-in gives `StatusCode`, `BodyJsonField`, ...).
    pub fn check_with(&self, request: &RequestView<'_>, vars: &dyn Variables) -> Result<bool, crate::ParamError> {
        match &self.random {
            Some(source) => self.expr.eval(request, vars, source.as_ref()),
            None => self.expr.eval(request, vars, &random::thread_random),
        }
    }

    /// Like [`evaluate`](Self::evaluate), the values of Aliyun's `$name`s given by `vars`;
    /// `false` when [`check_with`](Self::check_with) fails.
    pub fn evaluate_with(&self, request: &RequestView<'_>, vars: &dyn Variables) -> bool {
        self.check_with(request, vars).unwrap_or(false)
    }

    /// Whether the condition reads `form.NAME` operands, so that a policy must buffer the
    /// body and give it to the view ([`RequestView::with_body`]).
    pub fn needs_form_body(&self) -> bool {
        self.needs_form_body
    }

    /// Whether the condition draws `Random()`, so that two evaluations of one request may
    /// differ.
    pub fn uses_random(&self) -> bool {
        self.uses_random
    }

    /// Whether this is the condition `true` ([`Condition::always`]), which a policy may skip.
    pub fn is_always(&self) -> bool {
        *self.expr == Expr::Bool(true)
    }

    /// The locations of the Aliyun `$name`s the condition reads, each once, in the order
    /// written: a response-phase plug-in learns from it what to take from the request
    /// (`System:`, `Token:`) before the response comes, and whether the condition reads the
    /// body (`BodyJsonField`).
    ///
    /// ```
    /// use tollgate_core::Condition;
    /// use tollgate_core::condition::{AliyunLocation, AliyunParameters};
    ///
    /// let params = AliyunParameters::from_pairs([("code", "BodyJsonField:$.code")])?.for_response()?;
    /// let cond = Condition::parse_aliyun("$code <> 'OK' and $CaAppId = 1 or $code = 'X'", &params)?;
    /// let read: Vec<String> = cond.aliyun_locations().iter().map(|l| l.to_string()).collect();
    /// assert_eq!(read, ["BodyJsonField:$.code", "System:CaAppId"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn aliyun_locations(&self) -> Vec<AliyunLocation> {
        let found = std::cell::RefCell::new(Vec::<AliyunLocation>::new());
        self.expr.any_operand(&|o| {
            // (no let chains: the policy crates build on Rust 1.85)
            let var = match o {
                Operand::Var(v) => Some(v),
                _ => None,
            };
            if let Some(v) = var.filter(|v| !found.borrow().contains(&v.location)) {
                found.borrow_mut().push(v.location.clone());
            }
            false // visit every operand
        });
        found.into_inner()
    }
}

impl PartialEq for Condition {
    fn eq(&self, other: &Self) -> bool {
        self.expr == other.expr
    }
}

impl fmt::Display for Condition {
    /// The canonical text, which parses back to an equal condition.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.expr.fmt(f)
    }
}

impl fmt::Debug for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Condition").field(&format_args!("{}", self.expr)).finish()
    }
}

impl FromStr for Condition {
    type Err = ConditionError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}
