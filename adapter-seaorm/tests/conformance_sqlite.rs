//! The whole conformance suite against the SeaORM adapters on SQLite in memory.

use conformance_tests::TestStore;

async fn fresh_store() -> Option<TestStore> {
    // A fresh in-memory database per test: nothing to provision.
    let store = adapter_seaorm::connect("sqlite::memory:")
        .await
        .expect("connect");
    store.migrate().await.expect("migrate");
    Some(TestStore::new(store.adapters()))
}

conformance_tests::conformance_suite!(fresh_store);
