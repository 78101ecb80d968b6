//! The model tests catch real mistakes: deliberately broken adapters (the
//! in-memory reference with one fault of the kind real backends make) must
//! be reported as divergences.

use adapter_interfaces::{EntityKind, ListParams, SortOrder, Timestamp, memory};
use conformance_tests::model::{self, Config, Report, Subject, Tamper};
use serde_json::Value as Json;

/// Sorts each page case-insensitively, as MySQL's default collation would.
struct CaseInsensitiveSort;

impl Tamper for CaseInsensitiveSort {
    fn page(&self, _entity: EntityKind, params: &ListParams, items: &mut Vec<Json>) {
        let Some(sort) = &params.sort else {
            return;
        };
        let folded = |item: &Json| {
            item.get(&sort.field)
                .and_then(Json::as_str)
                .map(str::to_lowercase)
        };
        items.sort_by(|a, b| {
            let ordering = folded(a).cmp(&folded(b));
            if sort.order == SortOrder::Desc {
                ordering.reverse()
            } else {
                ordering
            }
        });
    }
}

/// Reads every timestamp back truncated to whole seconds, as a `DATETIME`
/// column without fractional digits would.
struct SecondsOnly;

impl Tamper for SecondsOnly {
    fn record(&self, _entity: EntityKind, record: &mut Json) {
        let Json::Object(fields) = record else {
            return;
        };
        for value in fields.values_mut() {
            if let Some(t) = value.as_str().and_then(|s| s.parse::<Timestamp>().ok())
                && value
                    .as_str()
                    .is_some_and(|s| s.len() == 24 && s.ends_with('Z'))
            {
                let seconds = t.as_millis().div_euclid(1000) * 1000;
                if let Some(truncated) = Timestamp::from_millis(seconds) {
                    *value = Json::String(truncated.to_canonical_string());
                }
            }
        }
    }
}

/// Runs the model against `tamper` over a fresh memory store, with enough
/// sequences that the fault shows, and returns the report.
fn run_broken(name: &str, tamper: impl Tamper + Clone) -> Report {
    // The run stops at the first failing sequence, so a generous number of
    // cases costs little when the fault is found early.
    let config = Config::from_env().with_cases(400);
    let report = model::run(
        &config,
        vec![Subject::new(name, move || async move {
            Some(model::tampered(&memory::adapters(), tamper))
        })],
    );
    println!("{report} [{name}]");
    if let Some(failure) = &report.failure {
        println!("{failure}");
    }
    report
}

impl Clone for CaseInsensitiveSort {
    fn clone(&self) -> Self {
        Self
    }
}

impl Clone for SecondsOnly {
    fn clone(&self) -> Self {
        Self
    }
}

#[test]
fn case_insensitive_sorting_is_caught() {
    let report = run_broken("memory with case-insensitive sort", CaseInsensitiveSort);
    assert_eq!(report.divergences, 1, "{report}");
    let failure = report.failure.expect("a failure description");
    assert!(failure.contains("sort="), "{failure}");
    assert!(failure.contains("minimal sequence"), "{failure}");
}

#[test]
fn timestamps_truncated_to_seconds_are_caught() {
    let report = run_broken("memory with timestamps in seconds", SecondsOnly);
    assert_eq!(report.divergences, 1, "{report}");
    let failure = report.failure.expect("a failure description");
    assert!(failure.contains("got \""), "{failure}");
}

#[test]
fn the_reference_itself_agrees() {
    // The same wrapper without a fault: no divergence, so the faults above
    // are what the model tests catch, not the wrapper.
    struct Nothing;
    impl Tamper for Nothing {}
    let report = model::run(
        &Config::from_env().with_cases(32),
        vec![Subject::new("memory through a no-op wrapper", || async {
            Some(model::tampered(&memory::adapters(), Nothing))
        })],
    );
    println!("{report}");
    assert_eq!(report.failure, None);
    assert_eq!(report.sequences, 32);
}
