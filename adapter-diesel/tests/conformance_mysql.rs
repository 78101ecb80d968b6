//! The conformance suite on a fresh MySQL/MariaDB database per test.
#![cfg(feature = "mysql")]

async fn fresh_store() -> Option<conformance_tests::TestStore> {
    let db = conformance_tests::provision::mysql().await?;
    let store = adapter_diesel::connect(db.url()).await.expect("connect");
    store.migrate().await.expect("migrate");
    Some(conformance_tests::TestStore::new(store.adapters()).with_guard(db))
}

conformance_tests::conformance_suite!(fresh_store);
