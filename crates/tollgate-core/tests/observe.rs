//! Refusals rendered through an error style are counted per policy and code; acceptances
//! are counted when a policy reports them.

use http::{Request, StatusCode};
use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use tollgate_core::observe::{DECISIONS, accepted};
use tollgate_core::{ErrorStyle, Rejection};

#[test]
fn decisions_are_counted_by_policy_outcome_and_code() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || {
        let refusal = Rejection::new(StatusCode::FORBIDDEN, "IpAccessDenied", "no").with_policy("ip");
        for _ in 0..3 {
            ErrorStyle::default().respond(&refusal, &Request::new(()));
        }
        accepted("ip");
        accepted("flow");
        accepted("flow");
    });
    let mut counts: Vec<(String, u64)> = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .filter(|(key, ..)| key.key().name() == DECISIONS)
        .map(|(key, _, _, value)| {
            let labels: Vec<String> = key.key().labels().map(|l| format!("{}={}", l.key(), l.value())).collect();
            let DebugValue::Counter(n) = value else { panic!("not a counter") };
            (labels.join(","), n)
        })
        .collect();
    counts.sort();
    assert_eq!(
        counts,
        [
            ("policy=flow,outcome=accepted".to_owned(), 2),
            ("policy=ip,outcome=accepted".to_owned(), 1),
            ("policy=ip,outcome=refused,code=IpAccessDenied".to_owned(), 3),
        ]
    );
}
