//! A reload from arbitrary bytes over a gateway from arbitrary bytes, in each format: the
//! reload is refused exactly when a start would be, with the same error, and then the
//! configuration in force stays; never a panic. The input is two texts split at the first
//! NUL: the configuration in force, then the one reloaded.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate::gateway::{Format, Gateway};

fuzz_target!(|data: &[u8]| {
    let (first, second) = match data.iter().position(|&b| b == 0) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, data),
    };
    let (first, second) = (String::from_utf8_lossy(first), String::from_utf8_lossy(second));
    for format in [Format::Json, Format::Yaml, Format::Toml] {
        let gateway = Gateway::from_config(&first, format).unwrap_or_default();
        let reload = gateway.into_layer().reload_handle();
        let at_start = Gateway::from_config(&second, format).map(|_| ()).map_err(|e| e.to_string());
        let on_reload = reload.reload_from(&second, format).map_err(|e| e.to_string());
        assert_eq!(on_reload, at_start);
        // the same text again: every store is kept, nothing else changes
        assert_eq!(reload.reload_from(&second, format).map_err(|e| e.to_string()), at_start);
    }
});
