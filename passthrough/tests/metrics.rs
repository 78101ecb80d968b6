//! Statistics reach the `metrics` facade with entity, method and store labels.
#![allow(clippy::unwrap_used)]

use adapter_interfaces::{TenantInsert, memory};
use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use passthrough::{Passthrough, ReplicationOptions, SecondaryOptions};

#[test]
fn calls_latency_and_journal_depth_are_exported() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || {
        // A current-thread runtime keeps the copies on this thread, under the local recorder.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let pt = Passthrough::builder("a", memory::adapters())
                .secondary("b", memory::adapters(), SecondaryOptions::non_blocking())
                .options(ReplicationOptions {
                    relay_poll: std::time::Duration::from_millis(5),
                    ..ReplicationOptions::default()
                })
                .build()
                .unwrap();
            for n in 0..3 {
                pt.adapters()
                    .tenants
                    .create(TenantInsert {
                        id: Some(format!("t{n}")),
                        friendly_name: "T".into(),
                        ..Default::default()
                    })
                    .await
                    .unwrap();
            }
            pt.flush().await.unwrap();
            // The journal's depth is exported when the status is read.
            assert_eq!(pt.status().await.pending, 0);
        });
    });
    let snapshot = snapshotter.snapshot().into_vec();
    let find = |name: &str, store: &str, method: &str| {
        snapshot
            .iter()
            .find(|(key, ..)| {
                let key = key.key();
                key.name() == name
                    && key
                        .labels()
                        .any(|l| l.key() == "store" && l.value() == store)
                    && key
                        .labels()
                        .any(|l| l.key() == "entity" && l.value() == "tenant")
                    && key
                        .labels()
                        .any(|l| l.key() == "method" && l.value() == method)
            })
            .map(|(_, _, _, value)| value)
    };
    assert!(matches!(
        find("switchyard_passthrough_calls_total", "a", "create"),
        Some(DebugValue::Counter(3))
    ));
    // The secondary receives copies of the journaled keys.
    assert!(matches!(
        find("switchyard_passthrough_calls_total", "b", "copy"),
        Some(DebugValue::Counter(3))
    ));
    assert!(
        matches!(find("switchyard_passthrough_latency_seconds", "b", "copy"), Some(DebugValue::Histogram(h)) if h.len() == 3)
    );
    // Each create ran alone on its key: copied from its own result ahead of
    // its `finish`, which settled it in the same statement. No `settle`.
    let step = |step: &str| {
        snapshot.iter().any(|(key, ..)| {
            key.key().name() == "switchyard_journal_batch_calls"
                && key
                    .key()
                    .labels()
                    .any(|l| l.key() == "step" && l.value() == step)
        })
    };
    assert!(
        step("begin") && step("finish"),
        "the journal steps are measured"
    );
    assert!(!step("settle"), "lone writes need no settle");
    let gauge = |name: &str| {
        snapshot
            .iter()
            .find(|(key, ..)| key.key().name() == name)
            .map(|(_, _, _, value)| value)
    };
    for name in [
        "switchyard_journal_pending",
        "switchyard_journal_dead_letters",
        "switchyard_journal_oldest_pending_seconds",
    ] {
        assert!(
            matches!(gauge(name), Some(DebugValue::Gauge(g)) if g.into_inner() == 0.0),
            "{name}"
        );
    }
}
