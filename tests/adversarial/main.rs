//! Adversarial tests: what a hostile client can send that a policy might read one way and the
//! handler (or a common backend framework) another. Each module attacks one policy; each test
//! is a regression test for a bypass or a wrongful refusal, kept so it cannot come back.
//! SECURITY.md lists, per policy, what these tests try.

#[path = "../support/http.rs"]
mod http_support;

mod access;
mod backend_signature;
mod client_ip;
mod cors;
mod definitions;
mod error_mapping;
mod flow;
mod grants;
mod ip;
mod params;
mod redis;
mod reload;
mod replay;
mod routing;
mod signature;
mod sts;
mod token;
mod token_clouds;
