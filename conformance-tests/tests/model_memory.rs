//! Model-based property tests of the in-memory adapter against itself: a
//! fresh reference store compared with another, through the whole model
//! (the harness's own sanity check, and the fastest run of it).

use adapter_interfaces::memory;
use conformance_tests::model::{self, Config, Subject};

#[test]
fn memory_agrees_with_the_reference() {
    let report = model::check(
        &Config::from_env(),
        vec![Subject::new("memory", || async {
            Some(memory::adapters())
        })],
    );
    assert_eq!(report.configurations, 1);
    assert!(report.operations > 0);
}
