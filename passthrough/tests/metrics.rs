//! Statistics reach the `metrics` facade with entity, method and store labels.
#![allow(clippy::unwrap_used)]

use adapter_interfaces::{TenantInsert, memory};
use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use passthrough::{Passthrough, SecondaryOptions};

#[test]
fn calls_latency_and_pending_are_exported() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || {
        // A current-thread runtime keeps the workers on this thread, under the local recorder.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let pt = Passthrough::builder("a", memory::adapters())
                .secondary("b", memory::adapters(), SecondaryOptions::non_blocking())
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
            pt.flush().await;
        });
    });
    let snapshot = snapshotter.snapshot().into_vec();
    let find = |name: &str, store: &str| {
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
                        .any(|l| l.key() == "method" && l.value() == "create")
            })
            .map(|(_, _, _, value)| value)
    };
    assert!(matches!(
        find("switchyard_passthrough_calls_total", "a"),
        Some(DebugValue::Counter(3))
    ));
    assert!(matches!(
        find("switchyard_passthrough_calls_total", "b"),
        Some(DebugValue::Counter(3))
    ));
    assert!(
        matches!(find("switchyard_passthrough_latency_seconds", "b"), Some(DebugValue::Histogram(h)) if h.len() == 3)
    );
    assert!(
        matches!(find("switchyard_passthrough_pending", "b"), Some(DebugValue::Gauge(g)) if g.into_inner() == 0.0)
    );
}
