//! A gateway configuration from arbitrary bytes, in each format: refused with an error
//! naming the field, or built; never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate::gateway::{Format, Gateway};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for format in [Format::Json, Format::Yaml, Format::Toml] {
        if let Err(e) = Gateway::from_config(&text, format) {
            assert!(!e.to_string().is_empty());
        }
    }
});
