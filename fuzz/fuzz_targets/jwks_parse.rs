//! What tollgate-token's cloud profiles read from outside: a JWKS document as a server sends
//! it, Tencent's `Authorization: Bearer id_token="..."` value, and the two clouds' API
//! configurations (`OauthConfig`, `OpenIdConnectConfig`). The first byte picks which. No
//! panic on any input; a header value accepted holds one JWT-shaped token found verbatim in it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate_token::aliyun_oidc::{AliyunOidc, OpenIdConnectConfig};
use tollgate_token::jwks::parse_jwks;
use tollgate_token::tencent_oauth::{OauthConfig, TencentOauth, parse_id_token_header};

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else { return };
    match which % 4 {
        0 => {
            if let Ok(keys) = parse_jwks(rest) {
                assert!(!keys.is_empty() && !keys.has_secrets());
            }
        }
        1 => {
            let Ok(text) = std::str::from_utf8(rest) else { return };
            if let Ok(token) = parse_id_token_header(text) {
                assert!(!token.is_empty() && text.contains(token));
                assert!(token.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)));
            }
        }
        2 => {
            if let Ok(config) = serde_json::from_slice::<OauthConfig>(rest) {
                let _ = TencentOauth::from_config(&config);
            }
        }
        _ => {
            if let Ok(config) = serde_json::from_slice::<OpenIdConnectConfig>(rest) {
                let _ = AliyunOidc::from_config(&config);
            }
        }
    }
});
