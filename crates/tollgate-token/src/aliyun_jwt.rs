//! [`AliyunJwt`]: the profile of Aliyun's `jwtAuth` plug-in, and its refusal table.

use std::borrow::Cow;

use http::{HeaderMap, StatusCode, Uri};
use tollgate_core::{ErrorStyle, Rejection};

use crate::location::TokenLocation;
use crate::profile::Profile;
use crate::verify::TokenError;

/// How `jwtAuth` refuses, one row per [`TokenError::kind`]: status, stable code, and the
/// `X-Ca-Error-Message` text, where `{reason}` is the error's own words and `{time}` the
/// token's `exp` (UTC, RFC 3339).
///
/// The texts are from memory of Aliyun's table (auth.md §1, UNCERTAIN): correct them here,
/// in one place. `jti` rows, the `Ambiguous` and `TooLong` rows and the 503 rows are ours.
pub const REFUSALS: &[(&str, u16, &str, &str)] = &[
    ("missing", 400, "JwtRequired", "JWT required"),
    ("ambiguous", 400, "JwtAmbiguous", "Invalid JWT: the token is given more than once"),
    ("bad_location", 400, "JwtRequired", "JWT required: {reason}"),
    ("too_long", 400, "JwtDeserializeFailed", "deserialize failed: {reason}"),
    ("malformed_header", 400, "JwtDeserializeFailed", "deserialize failed"),
    ("malformed_payload", 400, "JwtDeserializeFailed", "deserialize failed"),
    ("alg_not_allowed", 403, "JwtInvalid", "Invalid JWT: {reason}"),
    ("no_key_for_kid", 403, "JwtNoMatchingJwk", "no matching JWK"),
    ("bad_signature", 403, "JwtInvalid", "Invalid JWT: signature verification failed"),
    ("expired", 403, "JwtExpired", "JWT is expired at {time}"),
    ("not_yet_valid", 403, "JwtInvalid", "Invalid JWT: {reason}"),
    ("missing_claim", 403, "JwtInvalid", "Invalid JWT: {reason}"),
    ("exp_too_far", 403, "JwtInvalid", "Invalid JWT: {reason}"),
    ("replayed", 403, "JwtReplayed", "Invalid JWT: jti replayed"),
    ("profile", 403, "JwtInvalid", "Invalid JWT: {reason}"),
    ("keys_unavailable", 503, "{code}", "JWT keys unavailable"),
    ("store_unavailable", 503, "JwtReplayStoreUnavailable", "JWT replay store unavailable"),
];

/// Aliyun's `jwtAuth` plug-in: the token where `parameter` / `parameterLocation` say, refusals
/// in the Aliyun API Gateway style with [`REFUSALS`]' texts.
#[derive(Debug, Clone)]
pub struct AliyunJwt {
    location: TokenLocation,
    bypass_empty: bool,
}

impl AliyunJwt {
    /// Reads the token at `location`; `bypass_empty` lets a request without one through.
    pub fn new(location: TokenLocation, bypass_empty: bool) -> Self {
        Self { location, bypass_empty }
    }
}

impl Profile for AliyunJwt {
    fn name(&self) -> &'static str {
        "jwt"
    }

    fn token<'r>(&self, headers: &'r HeaderMap, uri: &'r Uri) -> Result<Option<Cow<'r, str>>, TokenError> {
        // the one place configured: a token elsewhere is not looked at, so not ambiguous
        self.location.read(headers, uri)
    }

    fn bypass_empty(&self) -> bool {
        self.bypass_empty
    }

    fn rejection(&self, error: &TokenError) -> Rejection {
        refusal(error)
    }

    fn error_style(&self) -> ErrorStyle {
        ErrorStyle::AliyunApiGateway
    }
}

/// The [`REFUSALS`] row of `error`, filled in.
pub fn refusal(error: &TokenError) -> Rejection {
    let kind = error.kind();
    let (_, status, code, text) =
        REFUSALS.iter().find(|row| row.0 == kind).copied().unwrap_or(("", 403, "JwtInvalid", "Invalid JWT: {reason}"));
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::FORBIDDEN);
    let code: Cow<'static, str> = match (code, error) {
        ("{code}", TokenError::KeysUnavailable { code, .. }) => Cow::Borrowed(code),
        (code, _) => Cow::Borrowed(code),
    };
    let message = fill(text, error);
    Rejection::new(status, code, message.clone()).with_policy("jwt").with_aliyun_api_gateway(status, message)
}

fn fill(text: &str, error: &TokenError) -> String {
    let mut out = text.to_owned();
    if out.contains("{reason}") {
        out = out.replace("{reason}", &error.to_string());
    }
    if out.contains("{time}") {
        let exp = match error {
            TokenError::Expired { exp } => *exp,
            _ => 0,
        };
        out = out.replace("{time}", &rfc3339(exp));
    }
    out
}

/// Seconds since the epoch as `2024-01-31T12:00:00Z`.
pub(crate) fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // civil from days (Howard Hinnant's algorithm)
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tollgate_core::Ecosystem;

    #[test]
    fn every_error_kind_has_a_row() {
        let errors = [
            TokenError::Missing,
            TokenError::Ambiguous,
            TokenError::BadLocation("x".into()),
            TokenError::TooLong { len: 2, max: 1 },
            TokenError::MalformedHeader("x".into()),
            TokenError::MalformedPayload("x".into()),
            TokenError::AlgNotAllowed { alg: "none".into() },
            TokenError::NoKeyForKid { kid: None },
            TokenError::KeysUnavailable { code: "JwksUnavailable.Timeout", reason: "x".into() },
            TokenError::BadSignature,
            TokenError::Expired { exp: 0 },
            TokenError::NotYetValid { nbf: 0 },
            TokenError::MissingClaim("jti"),
            TokenError::ExpTooFar { exp: 0, max_ahead: std::time::Duration::ZERO },
            TokenError::Replayed("j".into()),
            TokenError::StoreUnavailable("x".into()),
            TokenError::Profile("x".into()),
        ];
        for e in &errors {
            assert!(REFUSALS.iter().any(|row| row.0 == e.kind()), "{e:?}");
        }
        assert_eq!(REFUSALS.len(), errors.len());
    }

    #[test]
    fn the_spec_texts() {
        let r = refusal(&TokenError::Missing);
        assert_eq!((r.status().as_u16(), r.message_for(Ecosystem::AliyunApiGateway)), (400, "JWT required"));
        let r = refusal(&TokenError::Expired { exp: 1_700_000_000 });
        assert_eq!(r.message(), "JWT is expired at 2023-11-14T22:13:20Z");
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        let r = refusal(&TokenError::NoKeyForKid { kid: Some("k".into()) });
        assert_eq!(r.message(), "no matching JWK");
        let r = refusal(&TokenError::MalformedPayload("x".into()));
        assert_eq!((r.status().as_u16(), r.message()), (400, "deserialize failed"));
        let r = refusal(&TokenError::KeysUnavailable { code: "JwksUnavailable.Timeout", reason: "x".into() });
        assert_eq!((r.status().as_u16(), r.code()), (503, "JwksUnavailable.Timeout"));
        let r = refusal(&TokenError::AlgNotAllowed { alg: "none".into() });
        assert_eq!(r.message(), "Invalid JWT: algorithm \"none\" not allowed");
    }

    #[test]
    fn dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(4_102_444_800), "2100-01-01T00:00:00Z");
    }
}
