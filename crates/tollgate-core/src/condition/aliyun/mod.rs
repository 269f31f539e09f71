//! Aliyun's dialect: the `parameters` map ([`AliyunParameters`]), the values of parameters
//! ([`Variables`], read from a request by [`RequestView`](super::RequestView)), `like`
//! patterns, and `${name}` templates ([`Template`]).

mod json_path;
mod like;
mod params;
mod template;
mod values;

use std::cmp::Ordering;

pub(super) use like::LikePattern;
pub use params::{AliyunLocation, AliyunParameters, Phase};
pub use template::Template;
pub use values::Variables;

use super::number::Decimal;

/// Aliyun's order of two values: as numbers when both read as numbers, else as text (byte
/// by byte, which for UTF-8 is code-point order).
pub(super) fn collate(a: &str, b: &str) -> Ordering {
    match (Decimal::parse(a), Decimal::parse(b)) {
        (Some(x), Some(y)) => x.cmp(&y),
        _ => a.cmp(b),
    }
}
