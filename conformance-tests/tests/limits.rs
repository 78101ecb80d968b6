//! The limits property test (see `conformance_tests::model::limits`):
//! sequences of writes and look-ups with values at and just past every
//! limit, against every configured adapter (each backend on each database,
//! and the in-memory adapter) at once, each compared with the reference.

mod backends;

use conformance_tests::model::{Config, Subject, limits};

#[test]
fn every_adapter_gives_the_reference_answer_at_the_limits() {
    let subjects: Vec<Subject> = backends::configured()
        .into_iter()
        .map(|backend| {
            let factory = backend.factory.clone();
            Subject::new(backend.name, move || factory())
        })
        .collect();
    let expected = subjects.len();
    let report = limits::check_limits(&Config::from_env(), subjects);
    assert_eq!(report.configurations, expected, "{report}");
    assert!(report.operations > 0, "{report}");
}
