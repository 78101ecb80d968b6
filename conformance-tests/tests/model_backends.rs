//! The configurations the model tests run on (see `backends/mod.rs`) can
//! be built here: every configured adapter starts empty, and every backend
//! opens (and migrates, after the others) one shared database per kind.

mod backends;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
}

#[test]
fn every_configured_adapter_starts_empty() {
    runtime().block_on(async {
        let mut ran = 0;
        for backend in backends::configured() {
            let Some(store) = (backend.factory)().await else {
                continue;
            };
            let contents = conformance_tests::model::snapshot(store.adapters())
                .await
                .expect("a snapshot");
            assert!(contents.is_empty(), "{} is not empty", backend.name);
            println!("{} starts empty", backend.name);
            ran += 1;
        }
        // The memory adapter and every backend on SQLite run everywhere.
        assert!(ran > backends::backend_count(), "only {ran} configurations");
    });
}

#[test]
fn every_backend_opens_each_shared_database() {
    runtime().block_on(async {
        for (database, open) in backends::shared_databases() {
            let Some(shared) = open().await else {
                continue;
            };
            assert_eq!(shared.database, database);
            assert_eq!(
                shared.adapters.len(),
                backends::backend_count(),
                "{database}"
            );
            for (name, adapters) in &shared.adapters {
                let contents = conformance_tests::model::snapshot(adapters)
                    .await
                    .unwrap_or_else(|e| panic!("{name} on {database}: {e}"));
                assert!(contents.is_empty(), "{name} on {database} is not empty");
            }
        }
    });
}
