//! Error-code mapping as a tower layer: Aliyun API Gateway's `errorMapping` plug-in, the one
//! response-phase policy. A backend that answers `200 {"result_code": "ROLE_NOT_EXISTS"}`
//! reaches the client as `404` with `X-Ca-Error-Message: Role Not Exists`.
//!
//! ```
//! use axum::{Router, http::StatusCode, routing::get};
//! use tollgate_error_mapping::{ErrorMappingConfig, ErrorMappingLayer};
//! use tower::ServiceExt;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // Aliyun's plug-in, verbatim (YAML or JSON)
//! let config: ErrorMappingConfig = serde_norway::from_str(r#"
//! parameters:
//!   statusCode: "StatusCode"
//!   resultCode: "BodyJsonField:$.result_code"
//!   resultId: "BodyJsonField:$.req_msg_id"
//! errorCondition: "$statusCode = 200 and $resultCode <> 'OK'"
//! errorCode: "resultCode"
//! mappings:
//!   - code: "ROLE_NOT_EXISTS"
//!     statusCode: 404
//!     errorMessage: "Role Not Exists, RequestId=${resultId}"
//! "#)?;
//!
//! let app = Router::new()
//!     .route("/role", get(|| async {
//!         ([("content-type", "application/json")], r#"{"result_code":"ROLE_NOT_EXISTS","req_msg_id":"r1"}"#)
//!     }))
//!     .layer(ErrorMappingLayer::from_config(&config)?);
//!
//! let resp = app.oneshot(axum::http::Request::get("/role").body(axum::body::Body::empty())?).await?;
//! assert_eq!(resp.status(), StatusCode::NOT_FOUND);
//! assert_eq!(resp.headers()["x-ca-error-message"], "Role Not Exists, RequestId=r1");
//! # Ok(())
//! # }
//! ```
//!
//! # What it does
//!
//! For each response of the service it wraps (the handler's, never a refusal of a policy
//! outside it: stack it innermost, next to the handler):
//!
//! 1. the `parameters` are read: `StatusCode` the response's status, `Header:NAME` the
//!    response's header (its first value; absent if not UTF-8), `BodyJsonField:$.PATH` a
//!    field of its JSON body, `ErrorCode` its `X-Ca-Error-Code` header, and from the request
//!    that led to it `System:NAME` and `Token:NAME` (taken when the request went in);
//! 2. when `errorCondition` holds (core's [`Condition`](tollgate_core::Condition), Aliyun's
//!    dialect), the value of the parameter `errorCode` names is looked up in `mappings`, in
//!    order; the first whose `code` equals it applies, else `defaultMapping`, else nothing;
//! 3. the mapping sets the status to its `statusCode` and `X-Ca-Error-Message` to its
//!    `errorMessage`, each `${name}` replaced by that parameter's value (an absent one by
//!    nothing).
//!
//! Every configuration error is found when the layer is built, naming the field:
//! `parameters.resultCode` (a bad location or JSONPath, or a request-only one such as
//! `Query:x`), `errorCondition`, `errorCode`, `mappings[1].statusCode`, `mappings[2].code`.
//!
//! # The body
//!
//! The layer reads a response body only when a `BodyJsonField` parameter is used (by the
//! condition, `errorCode` or a message) **and** the response is JSON (`application/json`, `application/…+json`, `text/json`): up to a limit
//! ([`DEFAULT_BODY_LIMIT`], 64 KiB; `bodyLimit` in the configuration or
//! [`ErrorMappingLayer::body_limit`]), then the body is rebuilt from the bytes read. Every
//! other body passes through untouched, streamed. A body is never lost or cut: one over the
//! limit (reading stops at the frame that crosses it; a body declared larger, by
//! `Content-Length` or its size hint, is not read at all) is handed on as the bytes read
//! followed by the rest, streamed; one that fails half-way is handed on as its bytes then the error.
//!
//! # Settled where Aliyun's documentation is unclear
//!
//! - **The body of a mapped response** is kept as the backend sent it: only the status and
//!   `X-Ca-Error-Message` change. Aliyun's clients read the message from the header, and the
//!   backend's body still carries what it explains (`req_msg_id`); dropping it would lose
//!   information nobody asked to lose.
//! - **A mapping without `code`** maps every code: a catch-all at its place in the list (a
//!   `defaultMapping` that sits among the others). An entry after it, or with a code an
//!   earlier entry has, would never apply and is refused; so is a `code` without
//!   `errorCode`, which has nothing to match. `defaultMapping` takes no `code`.
//! - **`ErrorCode`** is "the gateway's system error code", which a plain backend response
//!   does not have: it is read from the response's `X-Ca-Error-Code` header, where Aliyun's
//!   gateway puts it and where a backend that speaks Aliyun's error vocabulary can too.
//! - **JSONPath**: the subset Aliyun's examples use, `$` then `.name`, `['name']` or
//!   `[index]` steps (`$.data.items[0].code`), read by core
//!   ([`AliyunLocation::select_json`](tollgate_core::condition::AliyunLocation::select_json));
//!   wildcards, `..` and filters are refused when the layer is built. **A JSON value that is
//!   not a string** is its compact JSON text (`404`, `true`, `{"a":1}`); `null` and a missing
//!   field are absent (`null` in a condition).
//! - **A body the condition cannot read** — not JSON, over the limit, cut short by an
//!   error, or not valid JSON (invalid UTF-8 included) — leaves the response unchanged when
//!   the condition reads a `BodyJsonField`: the mapping is for error bodies the plug-in can
//!   read, and judging an unread body would turn a large or non-JSON success into an
//!   error. A condition that reads no body field is judged as usual; its message's body
//!   fields are then empty.
//! - **Duplicate keys** in a JSON body: serde_json keeps the last, and so the plug-in reads
//!   the last (`{"result_code":"OK","result_code":"ROLE_NOT_EXISTS"}` maps). Most JSON
//!   parsers a client uses (JavaScript's `JSON.parse`, Python's `json`) read the last too.
//! - **Statuses** are 200 to 599: a 1xx cannot end a response.
//! - **The message header** cannot carry a line break: control characters in the rendered
//!   message (values come from the backend's body) become spaces, and it is cut at
//!   [`MAX_MESSAGE_BYTES`]; UTF-8 is sent as it is.
//! - Unknown fields are refused, naming them: a misspelt `statuscode` would otherwise map
//!   nothing, silently. (Aliyun's list of entry fields is cut off in its documentation after
//!   `code`; those three are the ones its examples use.)
//! - A compressed body (a `Content-Encoding` other than `identity`) is not decoded nor read:
//!   its fields are unreadable.

mod body;
pub mod config;
mod layer;
mod policy;

pub use body::MappedBody;
pub use config::{ConfigError, DEFAULT_BODY_LIMIT, ErrorMappingConfig, MappingConfig};
pub use layer::{ErrorMapping, ErrorMappingLayer, ResponseFuture};
pub use policy::{MAX_MESSAGE_BYTES, X_CA_ERROR_CODE};
