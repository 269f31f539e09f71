//! Aliyun API Gateway's parameter access control (`accessControl`, 参数访问控制) as a tower
//! layer: ordered rules, each a condition on the request's parameters, that let a request
//! through (`ALLOW`) or refuse it (`DENY`) with a status, message, headers and body of the
//! operator's choosing.
//!
//! The plug-in's text pastes as it is (here the example of Aliyun's documentation):
//!
//! ```
//! use http::{Request, Response, StatusCode};
//! use tollgate_access::AccessControlLayer;
//! use tollgate_core::{PathTemplate, TokenClaims};
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let layer = AccessControlLayer::from_plugin(r#"
//! parameters:
//!   userId: "Token:userId"
//!   userType: "Token:userType"
//!   pathUserId: "path:userId"
//! rules:
//!   - name: admin
//!     condition: "$userType = 'admin'"
//!     ifTrue: "ALLOW"
//!   - name: user
//!     condition: "$userId = $pathUserId"
//!     ifFalse: "DENY"
//!     statusCode: 403
//!     errorMessage: "Path not match ${userId} vs /${pathUserId}"
//!     responseHeaders:
//!       Content-Type: application/xml
//!     responseBody:
//!       <Reason>Path not match ${userId} vs /${pathUserId}</Reason>
//! "#)?;
//! let service = ServiceBuilder::new()
//!     .layer(layer)
//!     .service(service_fn(|_req| async { Ok::<_, std::convert::Infallible>(Response::new(String::from("hello"))) }));
//!
//! // a token verifier puts the claims in the extensions, a router the path's parameters
//! let route = PathTemplate::parse("/users/{userId}")?;
//! let call = |user_type: &str, user_id: &str, path_user: &str| {
//!     let path = format!("/users/{path_user}");
//!     let mut req = Request::get(&path).body(String::new()).unwrap();
//!     let claims = serde_json::json!({"userId": user_id, "userType": user_type});
//!     req.extensions_mut().insert(TokenClaims::new(claims));
//!     req.extensions_mut().insert(route.matches(&path).unwrap());
//!     service.clone().oneshot(req)
//! };
//! assert_eq!(call("admin", "1", "2").await?.status(), StatusCode::OK); // rule `admin` allows
//! assert_eq!(call("user", "7", "7").await?.status(), StatusCode::OK); // no rule fires
//! let refused = call("user", "7", "8").await?;
//! assert_eq!(refused.status(), StatusCode::FORBIDDEN);
//! assert_eq!(refused.headers()["x-ca-error-message"], "Path not match 7 vs /8");
//! assert_eq!(refused.headers()["content-type"], "application/xml");
//! # Ok(())
//! # }
//! ```
//!
//! # The rules
//!
//! Rules are tried in order. A rule's condition that holds applies its `ifTrue`, one that
//! does not its `ifFalse`; `ALLOW` lets the request through at once (later rules are not
//! tried), `DENY` refuses it at once, and a rule without an action for the outcome passes
//! the request on to the next rule. The conditions, the `parameters` map and the `${name}`
//! templates are tollgate-core's Aliyun dialect (see `tollgate_core::condition`), compiled
//! when the layer is built. A parameter the request lacks is `null`: `$x = null` holds, and
//! two absent values are not equal (`$userId = $pathUserId` does not hold without a token, so
//! the documentation's example refuses such a request). An empty value is not `null`.
//!
//! Settled where the reference leaves it open (each marked UNCERTAIN in our reading of it):
//!
//! - **No rule fires**: the request passes. The plug-in is a list of exceptions; the
//!   documentation's own example lets an ordinary user through by no rule at all.
//! - **`statusCode`** defaults to **403** (the cloud-native gateway's documented default; the
//!   example uses 403). 200 to 599 are accepted: a 1xx is not a final answer.
//! - **`errorMessage`** is the refusal's message: `X-Ca-Error-Message` in the Aliyun API
//!   Gateway style (this layer's default), the message of any other [`ErrorStyle`]
//!   (problem+json `detail`, ...). Without one: `Access denied by Parameter Access Control`
//!   ([`DEFAULT_MESSAGE`], our wording). The refusal's code is `ParameterAccessDenied`.
//! - **`responseBody`** and **`responseHeaders`** replace the style's body and its headers of
//!   the same names, in every style but gRPC (trailers-only). Headers that frame the body or
//!   the connection (`Content-Length`, `Transfer-Encoding`, `Connection`, ...) are refused at
//!   build. `${name}` is interpolated in `errorMessage` and `responseBody` only.
//! - **Interpolated values are escaped for the body's type**: with a `Content-Type` of XML or
//!   HTML a value's `<>&"'` become character references, with JSON it is escaped as the inside
//!   of a string; any other body takes it as it is. A client cannot change the structure of
//!   the refusal (`/users/</Reason><Admin>true</Admin>`) through a value it echoes. In the
//!   `X-Ca-Error-Message` header line breaks become `#` and other control characters spaces,
//!   so no value can add a header; text beyond ASCII (a message in Chinese) goes as UTF-8.
//! - **Datasets** (`assertParameterName`, `assertInDataset`: dedicated instances only) are
//!   refused when the layer is built, naming the field, rather than silently ignored.
//! - A rule with neither `ifTrue` nor `ifFalse`, response fields on a rule that cannot DENY,
//!   an unknown field, and an empty `rules` list are refused at build too: each would be a
//!   rule that silently never applies.
//!
//! # What a rule reads, and what an attacker sends
//!
//! A rule must judge what the handler will read. Where a request offers two readings the
//! request is refused (400) rather than judged on one of them: a header line or a query or
//! form name a rule reads that is given twice (`AmbiguousParameter`; Aliyun reads the first,
//! but frameworks differ and a handler taking the last would see what the rule never
//! judged), a name a lenient backend reads as the rule's (`x_user` for the header `x-user`,
//! `ID` or `id[]` for the query name `id`), or a malformed percent-escape
//! (`MalformedParameter`). Header names match in any case; query and form values are
//! percent-decoded as backends decode them. `Form:` fields are read from
//! `application/x-www-form-urlencoded` bodies; when a rule reads one, a `multipart/*` body is
//! refused (415 `UnsupportedFormType`): a backend reading its parts as the form would see
//! fields no rule read; and so is a form whose field a rule reads when the query carries the
//! same name (a backend merging the two may read either). A rule reading `Query:x` does not
//! read the body, though: declare `Form:x` too for a backend that merges forms into its query.
//!
//! - **`Token:NAME`** reads the claims a token verifier put in the extensions
//!   ([`TokenClaims`](tollgate_core::TokenClaims)); without a verifier inside the stack before
//!   this layer, every `Token:` parameter is `null`. Stack the verifier first: a rule such as
//!   `$userId = $pathUserId` with `ifFalse: DENY` refuses a request without a token (null is
//!   not equal to a path), but a rule written `$userType = 'banned'` with `ifTrue: DENY` lets
//!   such a request through.
//! - **`XFF:i`** reads the raw `X-Forwarded-For` header, as Aliyun does behind its own
//!   proxies: **any client can write that header**. Unless the connection comes from a proxy
//!   that replaces or appends to it (and you index from the right, `XFF:-1`, to read what
//!   your proxy wrote), never let an `XFF:` value grant access; for the client's address use
//!   `System:CaClientIp`, which is core's [`ClientIp`](tollgate_core::ClientIp) (forwarding
//!   headers believed only from trusted proxies). An index outside the list is `null`.
//! - **`Path`** is the path as the backend routes it; a path parameter
//!   (`Parameter:userId`, and `path:userId` as the documentation's example writes it) is the
//!   segment a route template bound ([`PathParams`](tollgate_core::PathParams)), decoded: a
//!   `Gateway`'s API path, a `ParamValidationLayer`'s template, or (feature `axum`) the axum
//!   route the layer is on (`Router::route_layer`).
//!
//! # Where it goes
//!
//! After authentication and the replay guard (its rules read the caller and a token's
//! claims), before flow control by app: the `Gateway` puts its `access_control` block there.
//!
//! [`ErrorStyle`]: tollgate_core::ErrorStyle

pub mod config;
pub mod grants;
mod layer;
mod policy;
mod response;

pub use config::{AccessControlConfig, Action, ConfigError, Rule};
pub use grants::{Grant, GrantsLayer};
pub use layer::{AccessControl, AccessControlLayer, BoxResponseFuture, ResponseFuture};
pub use policy::{CODE_AMBIGUOUS_PARAMETER, CODE_MALFORMED_PARAMETER, CODE_UNSUPPORTED_FORM};
pub use response::{CODE_DENIED, DEFAULT_MESSAGE};
