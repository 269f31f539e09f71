//! The whole canonical stack as one layer (feature `gateway`): [`Gateway`], built in code or
//! from a JSON, YAML or TOML file.
//!
//! A gateway puts a request id and the client address on every request, finds the API the
//! request belongs to (by method and an nginx-like path pattern), and sends it through that
//! API's policies in the canonical order — CORS, IP access control, flow control by API and
//! IP, signature verification, the replay guard, parameter access control, flow control by
//! app or parameter — however
//! they were declared. A path that is not in normal form (`//`, `/./`, `/../`, `%61`, `%2F`,
//! ...) is refused with 400 `InvalidPath` before any API is chosen (see [`Api`](crate::gateway::Api)). It is one
//! [`GatewayLayer`]: `Router::layer` it onto an axum app, or
//! wrap any tower service.
//!
//! ```
//! use axum::{Router, body::Body, routing::get};
//! use http::{Request, StatusCode};
//! use tollgate::gateway::{Format, Gateway};
//! use tower::ServiceExt;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let gateway = Gateway::from_config(r#"
//! apis:
//!   - path: "= /health"
//!   - path: /orders/
//!     method: [GET, POST]
//!     ip_access: {type: white_list, blocks: "127.0.0.1\n10.0.0.0/8"}
//!     basic_flow_control: {expire_type: minute, api_rate_limit: 1}
//! "#, Format::Yaml)?;
//! let app = Router::new()
//!     .route("/health", get(|| async { "ok" }))
//!     .route("/orders/{id}", get(|| async { "order" }))
//!     .layer(gateway.into_layer());
//!
//! let from = |path: &str| {
//!     let mut req = Request::get(path).body(Body::empty()).unwrap();
//!     req.extensions_mut().insert(tollgate::PeerAddr("127.0.0.1:5000".parse().unwrap()));
//!     req
//! };
//! assert_eq!(app.clone().oneshot(from("/orders/1")).await?.status(), StatusCode::OK);
//! assert_eq!(app.clone().oneshot(from("/orders/2")).await?.status(), StatusCode::TOO_MANY_REQUESTS);
//! assert_eq!(app.clone().oneshot(from("/health")).await?.status(), StatusCode::OK);
//! assert_eq!(app.oneshot(from("/elsewhere")).await?.status(), StatusCode::NOT_FOUND);
//! # Ok(())
//! # }
//! ```
//!
//! # The configuration file
//!
//! Plugins are written in the reference's plugin JSON, field for field (the types of the
//! policy crates read them), in JSON, YAML or TOML:
//!
//! ```yaml
//! # global blocks, all optional
//! request_id: true                 # or false, or {reuse_incoming: [x-request-id], response_header: x-request-id}
//! trusted_proxies: [10.0.0.0/8]    # believe X-Forwarded-For from these peers only (default: none)
//! forwarding_header: x-forwarded-for   # or forwarded, x-real-ip
//! error_style: problem_json        # aliyun_api_gateway, aliyun_rpc, tencent_cloud, tencent_api_gateway, grpc
//! unmatched: not_found             # a request no API matches: 404 (405 if only the method differs), or `pass`;
//!                                  # in the aliyun_api_gateway style, 400 `Invalid Url` (`Invalid HttpMethod`)
//! allow_encoded_slashes: false     # true lets %2F / %5C in paths through (default: 400 InvalidPath)
//!
//! apis:
//!   - name: health                 # optional; names the API's flow-control keys
//!     method: GET                  # optional: one method or a list; none means any
//!     path: "= /health"            # exact | "^~ /prefix/" | "/users/{id}" (or Aliyun's "/users/[id]")
//!                                  # | "~ ^regex$" | "/prefix/"
//!
//!   - path: /users/{id}
//!     method: [GET, PUT]
//!     error_style: tencent_api_gateway      # optional, for this API's refusals
//!     cors:                                 # true (the switch), {switch, plugin}, or the plugin itself
//!       allow_origin: [https://app.example.com]
//!       allow_methods: [GET, PUT]
//!       max_age: 600
//!     ip_access: {type: white_list, blocks: "10.0.0.0/8\n127.0.0.1"}   # Tencent or Aliyun plugin
//!     basic_flow_control: {expire_type: minute, api_rate_limit: 600, ip_rate_limit: 60}
//!     signature:
//!       scheme: aliyun-apigw                # aliyun-rpc, tencent-cloud, tencent-apigw
//!       keys: {"203467890": "app-secret"}   # id: secret, id: [old, new], or [{id, secret(s), app_id, disabled}]
//!                                           # (an empty secret is refused)
//!       window: 15m                         # optional: seconds or "5m", at most a day
//!       # remember_signatures: true         # tencent-cloud / tencent-apigw: accept each signature once
//!     replay: true                          # or false, or {require_nonce: false} (default true: a request
//!                                           # without its scheme's nonce is refused), or {headers: aliyun-apigw},
//!                                           # or {timestamp: x-ts, format: epoch_millis, window: 5m, nonce: x-nonce, per_key: x-key}
//!     # ONE flow-control plug-in per API (as Tencent binds one); instead of basic_flow_control:
//!     # param_flow_control:                 # Tencent's parameter plugin
//!     #   default_window: 60
//!     #   default_rate_limit: 100
//!     #   strategies: [...]
//!     # aliyun_flow_control:                # Aliyun's trafficControl plug-in (basic template), pasted:
//!     #   unit: SECOND                      # SECOND (or SENCOND), MINUTE, HOUR, DAY; required
//!     #   apiDefault: 1000                  # required; userDefault <= apiDefault, appDefault <= userDefault
//!     #   userDefault: 30
//!     #   appDefault: 30
//!     #   controlMode: FIX_WINDOW           # the only value; absent: token bucket at SECOND, fixed window else
//!     #   blockingMode: QUICK_RETURN        # the only value (queueing is not offered); absent: the same
//!     #   specials:                         # own limit (<= apiDefault) instead of the app and user limits;
//!     #     - type: APP                     #   APP or USER; a key listed twice: the later value
//!     #       policies: [{key: 10123123, value: 10}]
//!     #   statusCode: 429                   # ours: the refusal status (default 403, Aliyun's error table)
//!     #   # or the OpenAPI's PascalCase: {Unit, ApiDefault, UserDefault, AppDefault, SpecialControls}
//!     # params:                             # parameter rules (tollgate-params' configs)
//!     #   validation: {path: ..., params: [...], schema: ..., strict: false}
//!     #   injection: {constants: [...], system: [...], mappings: [...]}
//!     # access_control:                     # Aliyun's accessControl plug-in, pasted as it is
//!     #   parameters: {userType: "Token:userType"}   # (or its text, YAML or JSON, in a string)
//!     #   rules: [{name: admin, condition: "$userType = 'admin'", ifTrue: ALLOW}]
//!     # error_mapping:                      # Aliyun's errorMapping plug-in, verbatim (camelCase)
//!     #   parameters: {statusCode: StatusCode, resultCode: "BodyJsonField:$.result_code"}
//!     #   errorCondition: "$statusCode = 200 and $resultCode <> 'OK'"
//!     #   errorCode: resultCode
//!     #   mappings: [{code: ROLE_NOT_EXISTS, statusCode: 404, errorMessage: "Role Not Exists"}]
//!     # backend_signature:                  # Aliyun's backendSignature plug-in, verbatim: signs what
//!     #   type: APIGW_BACKEND               #   the handler receives (X-Ca-Proxy-Signature*), for a
//!     #   key: SampleKey                    #   BackendSignatureLayer in front of it
//!     #   secret: SampleSecret
//!
//!   # Tencent's CreateApi request, pasted as it is (PascalCase): the fields below act; the
//!   # others of CreateApi about the back end or documentation (ServiceId, ServiceType,
//!   # ServiceTimeout, Protocol, ApiDesc, ApiType, ServiceConfig, ServiceMockReturnMessage,
//!   # ResponseType, ResponseSuccessExample, ResponseFailExample, ResponseErrorCodes) are
//!   # read and not used; any other is an error.
//!   - ApiName: GetUser                      # = name
//!     RequestConfig: {Path: "/user/{userId}", Method: GET} # = path and method; a path with no
//!                                           # parameter is exact (= /path), as Tencent matches it
//!     AuthType: NONE                        # or SECRET with a signature block, or OAUTH with
//!                                           # OauthConfig {PublicKey, TokenLocation, LoginRedirectUrl};
//!                                           # others refused
//!     EnableCORS: true                      # the CORS switch; alone, it answers preflights too
//!                                           # (any origin, method, header; no credentials)
//!     RequestParameters:                    # front-end parameters (validation): Position header
//!       - {Name: userId, Position: path, Type: int, DefaultValue: "", Required: true, Desc: ""}
//!       - {Name: page, Position: query, Type: int, DefaultValue: "1", Required: false}
//!     ConstantParameters:                   # added toward the handler (DefaultValue: the value)
//!       - {Name: source, Desc: "", Position: query, DefaultValue: apigateway}
//!     ServiceParameters:                    # a front-end parameter under its back-end name
//!       - {Name: x-user-id, Position: header, RelevantRequestParameterPosition: path,
//!          RelevantRequestParameterName: userId, DefaultValue: ""}
//!
//!   # Plug-ins in the clouds' CreatePlugin envelope, PluginData as text (JSON, or YAML for
//!   # Aliyun) or as an object; each is read as the block its type names:
//!   # IPControl / ipControl -> ip_access, TrafficControl -> basic_flow_control,
//!   # TrafficControlByParameter -> param_flow_control, trafficControl -> aliyun_flow_control,
//!   # Cors / cors -> cors, accessControl -> access_control, errorMapping -> error_mapping,
//!   # jwtAuth -> jwt.
//!   # backendSignature -> backend_signature.
//!   # Types are case-sensitive; one tollgate does not implement
//!   # (CustomReq, Routing, caching, basicAuth, ...) is an error, and so
//!   # is a block given twice (two envelopes of a type, or an envelope beside the block).
//!   - path: /orders/
//!     plugins:
//!       - PluginType: IPControl
//!         PluginData: '{"type": "white_list", "blocks": "10.0.0.0/8"}'
//!       - PluginType: cors
//!         PluginData: |
//!           allowOrigins: api.foo.com
//!           allowMethods: GET,POST
//! ```
//!
//! Tencent's parameter blocks are read by `tollgate::params::TencentApiDefinition` (whose
//! docs say how each field
//! is read, e.g. that a required parameter's `DefaultValue` is never used) and placed where
//! the `params` block's are (an API gives one or the other). Errors inside an envelope name
//! the path into its data (`apis[0].plugins[1].PluginData.api_rate_limit`); those of the
//! parameter blocks name Tencent's fields (`apis[0].RequestParameters[1].Type`).
//!
//! Where each block sits: `cors` 2nd, `ip_access` 3rd, `basic_flow_control` 4th (7th when it
//! has app limits, which read the caller the signature layer finds), `signature` 5th,
//! `jwt` (Aliyun's `jwtAuth`) 5th beside it (an API with both requires both: the token is
//! checked inside the signature, whose app stays the caller), `replay` 6th, `access_control` after it (its rules may read the caller and a token's
//! claims, and refuse in the Aliyun style unless the API names another),
//! `param_flow_control` and `aliyun_flow_control` 7th, `params` 8th and 9th,
//! `error_mapping` last, next to the handler (it maps the handler's responses, never a
//! refusal of the blocks above), and `backend_signature` inside it (it signs what the
//! handler receives, after injection). An API takes one of the three flow-control blocks: two are
//! an error naming the API (`apis[1]: an API takes one flow-control plug-in, got both ...`);
//! stack two by hand in code if you mean it. (Aliyun's plug-in has no block of its own named
//! `traffic_control`: Tencent's basic plug-in is also called `TrafficControl`, so the name
//! would read two ways.) Each API has its own
//! rate stores: its limits are its own. The replay guards of all APIs share one nonce store,
//! set at the top of the file:
//!
//! ```yaml
//! nonce_store:
//!   capacity: 1000000   # live nonces kept (default); when full, signed requests get 503
//!                       # NonceStoreFull. Size it as peak signed requests per second times
//!                       # twice the window plus a second (1,801 s for 15 minutes).
//!   max_share: 0.5      # the most one key may hold (default 0.5), so one key cannot fill it;
//!                       # a service with a single client key sets 1
//! ```
//!
//! Errors name the file, the field and what was expected:
//! `gateway.yaml: apis[2].basic_flow_control.api_rate_limit: expected a positive integer
//! up to 4294967295, got 0`. Each format needs its feature: `yaml` (with `serde_norway`, the
//! maintained fork of the deprecated `serde_yaml`) and `toml`, both on by default.
//!
//! # Live reload
//!
//! [`GatewayLayer::reload_handle`] gives a [`ReloadHandle`](crate::gateway::ReloadHandle) that reads the file again and
//! swaps the new configuration in atomically, keeping the rate counters and nonces of the
//! blocks that did not change; a bad file is refused and the old configuration stays. See
//! [`reload`](crate::gateway::reload).
//!
//! # Cost
//!
//! The policy crates are zero-cost on their own. So that one type holds any configuration,
//! the gateway erases each policy's type: a request costs one boxed future per policy it
//! crosses, and nothing else is built per request. See [`GatewayLayer`].

mod builder;
mod config;
pub mod reload;
mod routes;
mod stack;

pub use builder::{Api, Gateway, GatewayLayer, GatewayService, Unmatched};
pub use config::{ConfigError, Format};
pub use reload::ReloadHandle;
pub use stack::{BoxError, GatewayFuture, Next, PolicyLayer};
