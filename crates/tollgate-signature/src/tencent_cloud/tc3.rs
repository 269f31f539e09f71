//! TC3-HMAC-SHA256: the `Authorization` header's grammar, the canonical request and string
//! to sign (shared by verifier and signer), the derived signing key, and the signer.

use std::borrow::Cow;
use std::sync::Arc;

use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use http::{HeaderMap, HeaderValue, Method, Uri};
use sha2::{Digest, Sha256};
use tollgate_core::Rejection;

use super::{Parsed, invalid_authorization, not_a_header_value};
use crate::HmacAlg;
use crate::byte_search::{has_ascii_uppercase, split_ascii};
use crate::header_text::header_text;
use crate::hex::decode_hex;
use crate::mac::hmac;
use crate::scheme::{Credentials, SignError};

pub(super) const ALGORITHM: &str = "TC3-HMAC-SHA256";
// Header names as constants: looking one up by `&str` parses and validates it every time.
const X_TC_TIMESTAMP: http::HeaderName = http::HeaderName::from_static("x-tc-timestamp");
pub(super) const X_TC_CONTENT_SHA256: http::HeaderName = http::HeaderName::from_static("x-tc-content-sha256");
pub(super) const UNSIGNED: &str = "UNSIGNED-PAYLOAD";

/// The SHA-256 of nothing, in hex.
const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// Reads an `Authorization` value (trimmed) of the TC3 grammar.
pub(super) fn parse(value: &str) -> Result<Parsed<'_>, Rejection> {
    let rest = value.strip_prefix(ALGORITHM).ok_or_else(|| invalid_authorization("expected TC3-HMAC-SHA256"))?;
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for part in split_ascii(rest, b',') {
        let part = part.trim_ascii();
        let Some(eq) = part.bytes().position(|b| b == b'=') else {
            return Err(invalid_authorization("expected Credential=..., SignedHeaders=..., Signature=..."));
        };
        let (k, v) = (part[..eq].trim_ascii(), part[eq + 1..].trim_ascii());
        match k {
            "Credential" => credential = Some(v),
            "SignedHeaders" => signed = Some(v),
            "Signature" => signature = Some(v),
            _ => {}
        }
    }
    let credential = credential.ok_or_else(|| invalid_authorization("no Credential"))?;
    let signed = signed.filter(|s| !s.is_empty()).ok_or_else(|| invalid_authorization("no SignedHeaders"))?;
    let mut digest = [0u8; 32];
    signature
        .and_then(|s| decode_hex(s.as_bytes(), &mut digest))
        .ok_or_else(|| invalid_authorization("Signature is not 64 hex digits"))?;
    let mut scope = split_ascii(credential, b'/');
    let (Some(key), Some(date), Some(service), Some("tc3_request"), None) =
        (scope.next(), scope.next(), scope.next(), scope.next(), scope.next())
    else {
        return Err(invalid_authorization("Credential is not SecretId/Date/Service/tc3_request"));
    };
    if key.is_empty() || service.is_empty() || date.len() != 10 {
        return Err(invalid_authorization("Credential is not SecretId/Date/Service/tc3_request"));
    }
    let signed_headers = match has_ascii_uppercase(signed) {
        true => Cow::Owned(signed.to_ascii_lowercase()),
        false => Cow::Borrowed(signed),
    };
    // Tencent requires both (every SDK signs them): an unsigned Content-Type would let the
    // signed body be read as another kind, an unsigned Host let it go to another service.
    let listed = |name: &str| split_ascii(&signed_headers, b';').any(|n| n == name);
    if !listed("content-type") || !listed("host") {
        return Err(invalid_authorization("SignedHeaders must include content-type and host"));
    }
    Ok(Parsed::Tc3 { key, date, service, signed_headers, signature: digest })
}

/// The TC3 canonical request, shared by verifier and signer.
pub fn tc3_canonical_request(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    signed_headers: &str,
    body: &[u8],
) -> String {
    let canonical = write_tc3_canonical_request(method, uri, headers, signed_headers, body);
    // written from text only
    String::from_utf8_lossy(&canonical.bytes).into_owned()
}

/// A TC3 canonical request, and what the pass over the headers that wrote it found.
pub(super) struct Canonical<'h> {
    pub(super) bytes: Vec<u8>,
    /// The `X-TC-Timestamp` value.
    pub(super) timestamp: Option<&'h HeaderValue>,
    /// A header the verifier reads (a signed one, `X-TC-Timestamp`, `X-TC-Content-SHA256`)
    /// sent more than once: only one value is signed, and a backend may read another.
    pub(super) repeated: Option<&'h str>,
}

/// The signed headers a TC3 request is read for in one pass, with room for this many
/// before a vector is needed.
const SIGNED_ON_STACK: usize = 8;

/// The canonical request as bytes, with the `X-TC-Timestamp` and any repeated header met
/// on the way: one pass over the request's headers finds the signed ones, the payload flag
/// and the time, rather than a hashed lookup by text each (a name given as `&str` is
/// parsed on every lookup).
pub(super) fn write_tc3_canonical_request<'h>(
    method: &Method,
    uri: &Uri,
    headers: &'h HeaderMap,
    signed_headers: &str,
    body: &[u8],
) -> Canonical<'h> {
    let query = if method == Method::GET { uri.query().unwrap_or("") } else { "" };
    let mut out = Vec::with_capacity(256);
    for part in [method.as_str(), "\n", uri.path(), "\n", query, "\n"] {
        out.extend_from_slice(part.as_bytes());
    }
    let mut on_stack = [("", None); SIGNED_ON_STACK];
    let mut spilled = Vec::new();
    let count = split_ascii(signed_headers, b';').count();
    let signed: &mut [(&str, Option<&HeaderValue>)] = if count <= SIGNED_ON_STACK {
        &mut on_stack[..count]
    } else {
        spilled.resize(count, ("", None));
        &mut spilled
    };
    for (slot, name) in signed.iter_mut().zip(split_ascii(signed_headers, b';')) {
        slot.0 = name;
    }
    let (mut content_sha256, mut timestamp, mut repeated) = (None, None, None);
    let mut keep = |slot: &mut Option<&'h HeaderValue>, name: &'h str, value: &'h HeaderValue| match slot {
        Some(_) => _ = repeated.get_or_insert(name),
        None => *slot = Some(value),
    };
    for (name, value) in headers {
        let name = name.as_str();
        if name == X_TC_CONTENT_SHA256.as_str() {
            keep(&mut content_sha256, name, value);
        } else if name == X_TC_TIMESTAMP.as_str() {
            keep(&mut timestamp, name, value);
        }
        // a name listed twice is one header: each of its slots is filled once per value
        for (wanted, slot) in signed.iter_mut() {
            if wanted.len() == name.len() && wanted.eq_ignore_ascii_case(name) {
                keep(slot, name, value);
            }
        }
    }
    for &(name, value) in signed.iter() {
        out.extend_from_slice(name.as_bytes());
        out.push(b':');
        if let Some(v) = value {
            match header_text(v) {
                // visible ASCII, nearly always: lower-cased in place
                Some(text) => {
                    let start = out.len();
                    out.extend_from_slice(text.trim_ascii().as_bytes());
                    out[start..].make_ascii_lowercase();
                }
                None => {
                    let text = String::from_utf8_lossy(v.as_bytes());
                    out.extend(text.trim().chars().flat_map(char::to_lowercase).collect::<String>().bytes());
                }
            }
        }
        out.push(b'\n');
    }
    out.push(b'\n');
    out.extend_from_slice(signed_headers.as_bytes());
    out.push(b'\n');
    let unsigned = content_sha256.and_then(header_text).is_some_and(|v| v.trim_ascii() == UNSIGNED);
    push_hex_sha256(&mut out, if unsigned { UNSIGNED.as_bytes() } else { body });
    Canonical { bytes: out, timestamp, repeated }
}

/// The lower-case hex of the SHA-256 of `data`.
fn push_hex_sha256(out: &mut Vec<u8>, data: &[u8]) {
    if data.is_empty() {
        // the common bodiless GET: a constant
        out.extend_from_slice(EMPTY_SHA256.as_bytes());
        return;
    }
    let mut hex = [0u8; 64];
    // 32 bytes always fit 64 hex digits; written as bytes, with no `from_utf8` after
    let _ = hex::encode_to_slice(Sha256::digest(data), &mut hex);
    out.extend_from_slice(&hex);
}

/// The TC3 string to sign.
pub fn tc3_string_to_sign(timestamp: u64, date: &str, service: &str, canonical_request: &str) -> String {
    // written from text only
    String::from_utf8_lossy(&write_tc3_string_to_sign(timestamp, date, service, canonical_request.as_bytes()))
        .into_owned()
}

pub(super) fn write_tc3_string_to_sign(timestamp: u64, date: &str, service: &str, canonical_request: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(ALGORITHM.len() + 24 + date.len() + service.len() + 13 + 64);
    out.extend_from_slice(ALGORITHM.as_bytes());
    out.push(b'\n');
    push_decimal(&mut out, timestamp);
    out.push(b'\n');
    for part in [date, "/", service, "/tc3_request\n"] {
        out.extend_from_slice(part.as_bytes());
    }
    push_hex_sha256(&mut out, canonical_request);
    out
}

/// `n` in decimal, without the formatting machinery (`format!` was a tenth of a TC3
/// verification).
fn push_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

/// A TC3 request's nonce: its signature (the scheme has no nonce of its own).
pub(super) fn nonce_of(signature: &[u8; 32]) -> Arc<str> {
    let mut text = *b"tc3:0000000000000000000000000000000000000000000000000000000000000000";
    // 32 bytes always fit 64 hex digits
    let _ = hex::encode_to_slice(signature, &mut text[4..]);
    Arc::from(std::str::from_utf8(&text).unwrap_or_default())
}

/// The TC3 signing key for `secret` on `date` for `service`.
pub fn tc3_signing_key(secret: &[u8], date: &str, service: &str) -> Vec<u8> {
    let mut key = b"TC3".to_vec();
    key.extend_from_slice(secret);
    let k_date = hmac(HmacAlg::Sha256, &key, date.as_bytes());
    let k_service = hmac(HmacAlg::Sha256, &k_date, service.as_bytes());
    hmac(HmacAlg::Sha256, &k_service, b"tc3_request")
}

/// `YYYY-MM-DD` of `seconds` since the epoch, in UTC, written into a buffer (no allocation
/// per request).
pub(super) fn utc_date(seconds: u64) -> DateText {
    // Days to civil date (H. Hinnant's `civil_from_days`), for days since 1970 that are
    // never negative: formatting a whole RFC 3339 time to keep ten bytes of it cost more
    // than the rest of the time check.
    let z = seconds / 86_400 + 719_468;
    let (era, doe) = (z / 146_097, z % 146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    let mut text = *b"0000-00-00";
    for (at, value, width) in [(0, year, 4), (5, month, 2), (8, day, 2)] {
        let mut v = value;
        for i in (at..at + width).rev() {
            text[i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    }
    DateText(text)
}

/// What [`utc_date`] wrote: `YYYY-MM-DD`.
pub(super) struct DateText([u8; 10]);

impl DateText {
    pub(super) fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

/// Signs `parts` with TC3 for `host` at `ts` (Unix seconds), naming `service` (by default
/// the host's first label).
pub(super) fn sign(
    service: Option<&str>,
    parts: &mut http::request::Parts,
    body: &Bytes,
    credentials: Credentials<'_>,
    ts: u64,
    host: &str,
) -> Result<(), SignError> {
    let Credentials { key_id, secret, token } = credentials;
    if let Some(token) = token {
        // not among the signed headers, as the SDK sends it
        let value = HeaderValue::from_str(token).map_err(|_| not_a_header_value("the security token"))?;
        parts.headers.insert(super::X_TC_TOKEN, value);
    }
    if !parts.headers.contains_key(HOST) {
        parts.headers.insert(HOST, HeaderValue::from_str(host).map_err(|_| not_a_header_value("the host"))?);
    }
    if !parts.headers.contains_key(CONTENT_TYPE) {
        let ct = if parts.method == Method::GET { "application/x-www-form-urlencoded" } else { "application/json" };
        parts.headers.insert(CONTENT_TYPE, HeaderValue::from_static(ct));
    }
    let service = match service {
        Some(s) => s.to_owned(),
        None => host
            .split('.')
            .next()
            .filter(|l| !l.is_empty() && !l.chars().all(|c| c.is_ascii_digit()))
            .map(str::to_owned)
            .ok_or_else(|| SignError::Invalid("the host names no service; set TencentCloud::sign_service".into()))?,
    };
    let date = utc_date(ts);
    let date = date.as_str();
    parts.headers.insert("x-tc-timestamp", HeaderValue::from(ts));
    let signed = "content-type;host";
    if parts.method != Method::GET && parts.uri.query().is_some_and(|q| !q.is_empty()) {
        return Err(SignError::Invalid("TC3 signs no query string but a GET's".into()));
    }
    let canonical = write_tc3_canonical_request(&parts.method, &parts.uri, &parts.headers, signed, body);
    if let Some(name) = canonical.repeated {
        return Err(SignError::Invalid(format!("the header {name} is sent more than once")));
    }
    // written from text only
    let canonical = String::from_utf8_lossy(&canonical.bytes).into_owned();
    let sts = tc3_string_to_sign(ts, date, &service, &canonical);
    let signature =
        hex::encode(hmac(HmacAlg::Sha256, &tc3_signing_key(secret.expose(), date, &service), sts.as_bytes()));
    let auth = format!(
        "{ALGORITHM} Credential={key_id}/{date}/{service}/tc3_request, SignedHeaders={signed}, Signature={signature}"
    );
    parts.headers.insert(AUTHORIZATION, HeaderValue::from_str(&auth).map_err(|_| not_a_header_value("the key id"))?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;
    use tollgate_core::Ecosystem;

    use super::*;
    use crate::tencent_cloud::LAST_SECOND_OF_9999;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn authorization_parser_refuses_malformed() {
        for bad in [
            "TC3-HMAC-SHA256",
            "TC3-HMAC-SHA256 Credential=a/2026-01-01/cvm/tc3_request, SignedHeaders=host",
            "TC3-HMAC-SHA256 Credential=a/2026-01-01/cvm, SignedHeaders=host, Signature=00",
            "TC3-HMAC-SHA256 Credential=a/2026-01-01/cvm/tc3_request, SignedHeaders=host, Signature=zz",
            "Basic dXNlcjpwYXNz",
            "TC3-HMAC-SHA256 garbage",
        ] {
            let err = parse(bad).unwrap_err();
            assert_eq!(err.code_for(Ecosystem::TencentCloud), "AuthFailure.InvalidAuthorization", "{bad}");
        }
        // content-type and host must be signed (Tencent requires both)
        for signed in ["host", "content-type;x-host", "x-tc-timestamp"] {
            let auth = format!(
                "TC3-HMAC-SHA256 Credential=a/2026-01-01/cvm/tc3_request, SignedHeaders={signed}, Signature={}",
                "ab".repeat(32)
            );
            let err = parse(&auth).unwrap_err();
            assert_eq!(
                err.message_for(Ecosystem::TencentCloud),
                "The Authorization header is malformed: SignedHeaders must include content-type and host."
            );
        }
        let ok = format!(
            "TC3-HMAC-SHA256 Credential=AKID/2026-11-22/cvm/tc3_request, SignedHeaders=content-type;host, Signature={}",
            "ab".repeat(32)
        );
        assert!(matches!(parse(&ok).unwrap(), Parsed::Tc3 { service, .. } if service == "cvm"));
    }

    proptest::proptest! {
        /// The canonical request lists each signed header's first value, trimmed and lower
        /// case (empty when absent), however many are signed, and the pass that finds them
        /// also finds the first `X-TC-Timestamp` and any header of these sent twice.
        #[test]
        fn tc3_canonical_request_reads_headers_as_looked_up(
            signed in proptest::collection::vec("x-[a-c]|host|Content-Type|X-TC-Timestamp", 1..14),
            present in proptest::collection::vec(("x-[a-c]|host|content-type|x-tc-timestamp", "[ -~]{0,12}"), 0..10),
        ) {
            let mut headers = HeaderMap::new();
            for (name, value) in &present {
                headers.append(http::HeaderName::from_bytes(name.as_bytes()).unwrap(), HeaderValue::from_str(value).unwrap());
            }
            let list = signed.join(";");
            let uri: Uri = "/p?a=1".parse().unwrap();
            let Canonical { bytes, timestamp, repeated } = write_tc3_canonical_request(&Method::GET, &uri, &headers, &list, b"");
            let mut expected = String::from("GET\n/p\na=1\n");
            for name in &signed {
                let value = headers.get(name.to_ascii_lowercase()).map(|v| v.to_str().unwrap().trim().to_ascii_lowercase());
                expected += &format!("{name}:{}\n", value.unwrap_or_default());
            }
            expected += &format!("\n{list}\n{EMPTY_SHA256}");
            proptest::prop_assert_eq!(String::from_utf8(bytes).unwrap(), expected);
            proptest::prop_assert_eq!(timestamp, headers.get("x-tc-timestamp"));
            // a header read (signed, or the timestamp) and sent more than once is named
            let read = |name: &str| name == "x-tc-timestamp" || signed.iter().any(|s| s.eq_ignore_ascii_case(name));
            let twice = headers.keys().find(|name| read(name.as_str()) && headers.get_all(*name).iter().count() > 1);
            proptest::prop_assert_eq!(repeated.is_some(), twice.is_some());
        }
    }

    #[test]
    fn utc_dates() {
        for seconds in (0..LAST_SECOND_OF_9999).step_by(86_400 * 7 + 3_607).chain([951_782_400, 4_107_542_399]) {
            let rfc3339 = humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(seconds)).to_string();
            assert_eq!(utc_date(seconds).as_str(), &rfc3339[..10], "{seconds}");
        }
        assert_eq!(utc_date(1_795_364_129).as_str(), "2026-11-22");
        assert_eq!(utc_date(0).as_str(), "1970-01-01");
        assert_eq!(utc_date(LAST_SECOND_OF_9999).as_str(), "9999-12-31");
    }
}
