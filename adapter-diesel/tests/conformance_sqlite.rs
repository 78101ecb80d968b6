//! The conformance suite on an in-memory SQLite database per test.

async fn fresh_store() -> Option<conformance_tests::TestStore> {
    let store = adapter_diesel::connect("sqlite::memory:")
        .await
        .expect("connect");
    store.migrate().await.expect("migrate");
    Some(conformance_tests::TestStore::new(store.adapters()))
}

conformance_tests::conformance_suite!(fresh_store);
