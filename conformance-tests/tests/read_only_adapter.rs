//! The conformance suite and the model tests on a partial adapter
//! (`examples/read_only/adapter.rs`): users and applications read-only over
//! the in-memory adapter, no `q` on applications, logs without atomic
//! batches. The suite must skip exactly the checks the declaration excludes
//! (saying why), pass the rest, and check that refused writes are
//! `NotSupported` and write nothing.

#![allow(clippy::expect_used, clippy::panic)]

#[path = "../examples/read_only/adapter.rs"]
mod adapter;

use std::collections::BTreeSet;

use adapter_interfaces::EntityKind;
use conformance_tests::model::{self, Config, Subject, strategy};
use conformance_tests::{CHECKS, TestStore};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;

/// The partial adapter over a fresh in-memory store, which is also the seed store.
async fn fresh_store() -> Option<TestStore> {
    let inner = adapter_interfaces::memory::adapters();
    Some(
        TestStore::new(adapter::read_only(&inner))
            .with_capabilities(adapter::capabilities())
            .with_seed_store(inner),
    )
}

/// Every check as its own test, as an adapter crate would run the suite.
mod suite {
    use super::fresh_store;

    conformance_tests::conformance_suite!(fresh_store);
}

/// The checks of read-only users and applications that still run: they only
/// read records, written through the seed store (applications' without `q`).
const READS_THAT_RUN: &[&str] = &[
    "users_get_missing",
    "users_list_pages_and_totals",
    "users_list_sort_orders",
    "users_list_keyset_scans",
    "users_list_q_forms",
    "users_list_q_examples",
    "users_list_unknown_tenant",
    "users_list_bad_params",
    "users_search_auth0_examples",
    "users_search_ranges",
    "users_search_grouping",
    "users_search_wildcards_are_literal",
    "users_search_metadata",
    "users_search_unsupported_is_invalid",
    "users_search_case",
    "applications_get_missing",
    "applications_list_pages_and_totals",
    "applications_list_sort_orders",
    "applications_list_unknown_tenant",
];

/// Checks of writable entities that the declaration still excludes.
const OTHER_SKIPS: &[&str] = &[
    "logs_upsert_many_is_atomic",
    "logs_timestamps_at_the_limits",
    "logs_json_depth_limit",
];

/// Written out rather than derived from `conformance_tests::capabilities`,
/// so that a change there that skips too much or too little fails here.
fn expected_skips() -> BTreeSet<&'static str> {
    CHECKS
        .iter()
        .map(|(name, _)| *name)
        .filter(|name| {
            let read_only = name.starts_with("users_")
                || name.starts_with("applications_")
                // They write users.
                || name.starts_with("concurrency_");
            (read_only && !READS_THAT_RUN.contains(name)) || OTHER_SKIPS.contains(name)
        })
        .collect()
}

#[test]
fn the_suite_skips_exactly_what_the_capabilities_exclude() {
    let report = conformance_tests::run_suite(fresh_store);
    println!("{report}");
    assert!(
        report.failed.is_empty(),
        "checks failed on the read-only adapter: {:#?}",
        report.failed
    );
    assert!(
        report.unavailable.is_empty(),
        "the memory store is always available"
    );
    let skipped: BTreeSet<&str> = report.skipped.iter().map(|(name, _)| *name).collect();
    let expected = expected_skips();
    assert_eq!(
        skipped.difference(&expected).collect::<Vec<_>>(),
        Vec::<&&str>::new(),
        "skipped, but should have run"
    );
    assert_eq!(
        expected.difference(&skipped).collect::<Vec<_>>(),
        Vec::<&&str>::new(),
        "ran, but should have been skipped"
    );
    assert_eq!(report.passed.len() + report.skipped.len(), CHECKS.len());
    for (name, reason) in &report.skipped {
        let why = if OTHER_SKIPS.contains(name) {
            "upsert_many of logs is not atomic"
        } else if name.starts_with("applications_") && !reason.contains("read-only") {
            "every form of q on applications"
        } else if name.starts_with("applications_") {
            "applications are read-only"
        } else {
            "users are read-only"
        };
        assert!(
            reason.contains(why),
            "{name} skipped for {reason:?}, expected {why:?}"
        );
        if why.ends_with("read-only") {
            assert!(
                reason.contains("is NotSupported and writes nothing"),
                "{name}: the refused writes were not checked instead ({reason:?})"
            );
        }
    }
    // Applications' q checks are skipped for q, not because they are read-only.
    for name in [
        "applications_list_q_forms",
        "applications_list_keyset_scans",
    ] {
        let (_, reason) = report
            .skipped
            .iter()
            .find(|(n, _)| *n == name)
            .expect("skipped");
        assert!(reason.contains("no q"), "{name}: {reason}");
    }
}

#[test]
fn without_a_seed_store_every_check_is_skipped_and_says_why() {
    let outcome = conformance_tests::run_suite_check("sessions_create_round_trip", || async {
        let inner = adapter_interfaces::memory::adapters();
        Some(TestStore::new(adapter::read_only(&inner)).with_capabilities(adapter::capabilities()))
    });
    match outcome {
        conformance_tests::Outcome::Skipped(reason) => {
            assert!(reason.contains("no seed store"), "{reason}")
        }
        other => panic!("expected a skip, got {other:?}"),
    }
}

#[test]
fn the_model_tests_run_on_the_read_only_adapter() {
    let report = model::check(
        &Config::from_env(),
        vec![Subject::new("read-only", fresh_store)],
    );
    assert_eq!(report.configurations, 1);
    assert!(report.operations > 0);
}

/// The model generates nothing the declaration excludes: no `q` on
/// applications, no `upsert_many` of several logs, and (without a seed
/// store) no write of users or applications.
#[test]
fn the_model_generates_only_what_is_declared() {
    let declared = adapter::capabilities();
    let mut runner = TestRunner::deterministic();
    let mut writes_of = BTreeSet::new();
    let mut saw_q = false;
    let mut saw_batches = false;
    for _ in 0..300 {
        let ops = strategy::sequence_for(30, &declared)
            .new_tree(&mut runner)
            .expect("a sequence")
            .current();
        for op in ops {
            match op {
                model::op::Op::List { entity, params, .. }
                | model::op::Op::Scan { entity, params, .. } => {
                    assert!(
                        !(entity == EntityKind::Application && params.q.is_some()),
                        "a q on applications: {params}"
                    );
                    saw_q |= params.q.is_some();
                }
                model::op::Op::Upsert {
                    entity, records, ..
                } => {
                    assert!(
                        !(entity == EntityKind::Log && records.len() > 1),
                        "an upsert_many of several logs"
                    );
                    saw_batches |= records.len() > 1;
                    writes_of.insert(entity);
                }
                model::op::Op::Create { entity, .. }
                | model::op::Op::Update { entity, .. }
                | model::op::Op::Remove { entity, .. } => {
                    writes_of.insert(entity);
                }
                _ => {}
            }
        }
    }
    assert!(
        saw_q && saw_batches,
        "the strategy still generates q and batches elsewhere"
    );
    assert!(
        !writes_of.contains(&EntityKind::User),
        "a write of read-only users"
    );
    assert!(
        !writes_of.contains(&EntityKind::Application),
        "a write of read-only applications"
    );
    assert!(writes_of.contains(&EntityKind::Tenant));
}

/// The limits property test probes every write path, `q` and atomic
/// batches, so a partial adapter sits it out (printing why) rather than
/// failing on what it declared unsupported.
#[test]
fn the_limits_property_test_skips_a_partial_adapter() {
    let report = model::limits::check_limits(
        &Config::from_env().with_cases(2),
        vec![Subject::new("read-only", fresh_store)],
    );
    assert_eq!(report.configurations, 0);
    assert_eq!(report.failure, None);
}
