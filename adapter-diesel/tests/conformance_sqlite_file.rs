//! The conformance suite on a SQLite file per test.

async fn fresh_store() -> Option<conformance_tests::TestStore> {
    let db = conformance_tests::provision::sqlite_file();
    let store = adapter_diesel::connect(db.url()).await.expect("connect");
    store.migrate().await.expect("migrate");
    Some(conformance_tests::TestStore::new(store.adapters()).with_guard(db))
}

conformance_tests::conformance_suite!(fresh_store);
