//! Resident memory of this process, for the memory figures of the benches.

/// Resident memory of this process in bytes, from /proc (Linux); 0 elsewhere.
pub(crate) fn rss() -> isize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<isize>().ok())
        .map_or(0, |kb| kb * 1024)
}
