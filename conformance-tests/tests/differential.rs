//! Differential runs: the same sequences against every configured adapter
//! (each backend on each database, and the in-memory adapter) at once, each
//! compared with the reference after every operation: the same sequence
//! gives the same answers everywhere.

mod backends;

use conformance_tests::model::{self, Config, Subject};

#[test]
fn every_adapter_gives_the_same_answers() {
    let subjects: Vec<Subject> = backends::configured()
        .into_iter()
        .map(|backend| {
            let factory = backend.factory.clone();
            Subject::new(backend.name, move || factory())
        })
        .collect();
    let expected = subjects.len();
    let report = model::check(&Config::from_env(), subjects);
    assert_eq!(report.configurations, expected, "{report}");
}
