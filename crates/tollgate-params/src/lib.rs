//! Front-end parameter validation, constant and system parameters, and parameter mapping —
//! the API definitions of Tencent Cloud and Aliyun API Gateway — as tower layers.
//!
//! ```
//! use std::convert::Infallible;
//! use http::{Request, Response, StatusCode};
//! use tollgate_core::RequestBody;
//! use tollgate_params::{
//!     Param, ParamInjectionConfig, ParamInjectionLayer, ParamValidationConfig, ParamValidationLayer, Position,
//! };
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let validation = ParamValidationLayer::from_config(
//!     &ParamValidationConfig::new()
//!         .path("/orders/{id}")
//!         .param(Param::path("id").int())
//!         .param(Param::query("page").int().default(1).min(1)),
//! )?;
//! let injection = ParamInjectionLayer::from_config(
//!     &ParamInjectionConfig::new().constant(Position::Header, "x-env", "prod"),
//! )?;
//! let svc = ServiceBuilder::new().layer(validation).layer(injection).service(service_fn(
//!     |req: Request<RequestBody<RequestBody<String>>>| async move {
//!         // the handler sees the default page and the constant; a caller's x-env is gone
//!         let env = req.headers()["x-env"].to_str().unwrap().to_owned();
//!         Ok::<_, Infallible>(Response::new(format!("{} {env}", req.uri())))
//!     },
//! ));
//!
//! let ok = svc.clone().oneshot(Request::get("/orders/7").header("x-env", "dev").body(String::new())?).await?;
//! assert_eq!(ok.status(), StatusCode::OK);
//! assert_eq!(http_body_util::BodyExt::collect(ok.into_body()).await?.to_bytes(), "/orders/7?page=1 prod");
//!
//! let bad = svc.oneshot(Request::get("/orders/x?page=0").body(String::new())?).await?;
//! assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
//! assert_eq!(bad.headers()["content-type"], "application/problem+json");
//! // both problems in one refusal: "2 problems: path id: expected an int ...; query page: must be at least 1"
//! # Ok(())
//! # }
//! ```
//!
//! # Validation: [`ParamValidationLayer`]
//!
//! Each [`Param`] names a parameter, its [`Position`] (header, query, path, form field, a
//! JSON value by pointer, or the references' `body`), its [`ParamType`] (`string`, `int`,
//! `long`, `float`, `double`, `boolean`, `array` of one of those), and its rules:
//! `required`, `default`, `min`/`max`, `min_length`/`max_length`, `enum`, `regex`. A JSON
//! Schema ([`jsonschema`], draft 2020-12 unless the schema names another) checks whole JSON
//! bodies. Everything is compiled once, when the layer is built; a bad definition is a
//! [`ConfigError`] naming the field.
//!
//! - Undefined parameters pass through untouched, as the reference gateways let them;
//!   [`ParamValidationConfig::strict`] refuses undefined query parameters, form fields and
//!   top-level JSON keys (never headers).
//! - A single-valued parameter given twice (`?page=1&page=2`) is refused: a handler that
//!   reads the other occurrence would otherwise see an unchecked value.
//! - Defaults are written into the request. A path parameter has none (a matching path
//!   always binds it, and the path is never rewritten); a required one neither.
//! - A refusal is HTTP 400 and lists every problem, each with the parameter, its position
//!   and the rule broken — never the value sent. Its code is the first problem's:
//!
//! | problem | code | Aliyun wording |
//! |---|---|---|
//! | a required parameter is absent | `Missing{Name}` | `{Name} is mandatory for this action.` |
//! | a value breaks its definition, or strict mode meets an undefined one | `Invalid{Name}` | `Specified parameter {Name} is not valid.` |
//! | body parameters or a schema, and no body | `EmptyRequestBody` | `Empty Request Body` |
//! | the body is not JSON, or breaks the schema | `InvalidRequestBody` | `Invalid Request Body` |
//! | the body is not the kind its parameters are read from | `InvalidParamLocation` | `Invalid Param Location` |
//! | a multipart body where form fields are defined | `UnsupportedMultipart` | `Unsupported Multipart` |
//!
//! `{Name}` in a code is the name with its first letter in upper case (`page` →
//! `MissingPage`). Tencent Cloud codes are `MissingParameter`, `InvalidParameterValue`,
//! `UnknownParameter` and `InvalidParameter`. A body over the limit is refused with 413.
//!
//! ## Path parameters and axum
//!
//! With a path template the layer matches the path itself, so it works without a router,
//! and a request whose path does not match is another API's: it passes unchecked. Without
//! a template, path parameters come from core's [`PathParams`](tollgate_core::PathParams)
//! in the extensions or, with feature `axum`, from the router's matched route (axum's
//! `RawPathParams`; the layer must then be added with `Router::layer` or `route_layer`, which
//! run after routing).
//!
//! # Injection: [`ParamInjectionLayer`]
//!
//! - Constant parameters: a header or query parameter with the same value on every request.
//! - System parameters ([`SystemParam`], core's): the client IP, request id, the caller's app
//!   key and app id, the API name, the stage, host, scheme, user agent and request time, and
//!   what only configuration knows (Aliyun's `CaProxy`, `CaInstanceId`, `CaSourceVpcId`,
//!   `CaCloudMarketInstanceId`, `CaAppExtendInfo`: [`ParamInjectionConfig::system_value`]),
//!   each under a name and position of the user's choice; named ours (`client_ip`),
//!   Aliyun's (`CaClientIp`) or Tencent's (`clientIp`, `httpScheme`, `clientUa`).
//! - Mappings ([`ParamMapping`]): a header, query or path parameter passed on under another
//!   name or position (path to query, header rename, query to header, ...), the original
//!   removed unless kept.
//!
//! Nothing can be smuggled in under an injected name: every incoming value a common backend
//! would read under it (repeated headers and headers spelled with `_` for `-`; query pairs
//! whose name differs only in case, separators, encoding, a PHP `[]`, a NUL tail, or hidden
//! behind a `;`) is removed before the injected value is added, and a form, JSON or
//! multipart body carrying a field of a name injected into the query is refused (400
//! `ReservedParameter`); see [`Injection`] for the exact rules. A fact that is
//! unknown for a request (no [`Caller`](tollgate_core::Caller)) leaves its name absent,
//! never the caller's value; an unknown [`ClientIp`](tollgate_core::ClientIp) refuses the
//! request (403 [`CODE_UNRESOLVED`]), since the peer may be a proxy.
//!
//! # Tencent's API definitions: [`TencentApiDefinition`]
//!
//! Tencent Cloud API Gateway's `CreateApi` blocks as its API spells them —
//! `RequestParameters`, `ConstantParameters`, `ServiceParameters` (PascalCase) — read with
//! serde and turned into the two configurations above; see the [`tencent`] module.
//!
//! # The policies alone
//!
//! [`ParamRules`] and [`Injection`] are the policies without tower: check a
//! [`ParamRequest`], apply to an `http::Request`.

mod config;
mod inject;
mod layer;
mod names;
mod report;
mod rules;
pub mod tencent;
pub mod urlencoded;

pub use config::{
    ConfigError, ConstantParam, Limit, Location, Param, ParamInjectionConfig, ParamMapping, ParamType,
    ParamValidationConfig, Position, SystemParam, SystemParamConfig, SystemValues,
};
pub use inject::{CODE_UNRESOLVED, Injection};
pub use layer::{ParamInjection, ParamInjectionLayer, ParamValidation, ParamValidationLayer, ResponseFuture};
pub use report::{MAX_LISTED_PROBLEMS, Problem, ProblemKind, Report};
pub use rules::{Fixes, ParamRequest, ParamRules};
pub use tencent::TencentApiDefinition;
