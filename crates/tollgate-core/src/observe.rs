//! What the policies decided, counted through the `metrics` facade: the reference's
//! "front-end errors" figure, per policy and outcome, for whatever recorder the application
//! installs (Prometheus, StatsD, ...). Without a recorder a count costs an atomic load.
//!
//! The counts are made with core's `metrics` feature (a default of `tollgate-core` and always
//! on in the `tollgate` facade). The policy crates report here without asking for it, so a
//! program that uses them alone enables `tollgate-core/metrics` to be counted; without the
//! feature both functions do nothing.
//!
//! One counter, [`DECISIONS`], with labels `policy` (`ip`, `signature`, `replay`, `flow`,
//! ...), `outcome` (`accepted` or `refused`) and, for refusals, `code` (the [`Rejection`]'s
//! stable code: `IpAccessDenied`, `Throttled.App`, ...). Every refusal a policy renders
//! through an [`ErrorStyle`](crate::ErrorStyle) is counted there; the policies count what
//! they let through with [`accepted`].
//!
//! ```
//! // with metrics-exporter-prometheus installed, a scrape shows lines like
//! // tollgate_decisions_total{policy="flow",outcome="refused",code="Throttled.Ip"} 17
//! tollgate_core::observe::accepted("ip");
//! ```

use crate::Rejection;

/// The counter's name.
pub const DECISIONS: &str = "tollgate_decisions_total";

// `accepted` spells the name out for its static keys; keep the two the same
const _: () = assert!(matches!(DECISIONS.as_bytes(), b"tollgate_decisions_total"));

/// Counts a request `policy` let through.
#[cfg(feature = "metrics")]
#[inline] // so that a caller's literal picks its static key at compile time, not by comparing strings
pub fn accepted(policy: &'static str) {
    // Labels written as literals become one static key; a label from a variable costs an
    // allocation and a free on every call, recorder or not, and this runs for every request
    // through every policy.
    macro_rules! count {
        ($($known:literal),*) => {
            match policy {
                // the name written out too, so the whole key is one static, hashed once
                $($known => metrics::counter!("tollgate_decisions_total", "policy" => $known, "outcome" => "accepted"),)*
                other => metrics::counter!(DECISIONS, "policy" => other, "outcome" => "accepted"),
            }
        };
    }
    count!("ip", "signature", "replay", "flow", "cors", "params").increment(1);
}

/// Counts a refusal (called by [`ErrorStyle::respond`](crate::ErrorStyle::respond)).
#[cfg(feature = "metrics")]
pub fn refused(rejection: &Rejection) {
    metrics::counter!(
        DECISIONS,
        "policy" => rejection.policy(),
        "outcome" => "refused",
        "code" => rejection.code().to_owned()
    )
    .increment(1);
}

/// Counts a request `policy` let through (nothing to count with: feature `metrics` is off).
#[cfg(not(feature = "metrics"))]
#[inline(always)]
pub fn accepted(_policy: &'static str) {}

/// Counts a refusal (nothing to count with: feature `metrics` is off).
#[cfg(not(feature = "metrics"))]
#[inline(always)]
pub fn refused(_rejection: &Rejection) {}
