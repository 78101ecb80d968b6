//! The conformance suite on a fresh PostgreSQL database per test.
#![cfg(feature = "postgres")]

async fn fresh_store() -> Option<conformance_tests::TestStore> {
    let db = conformance_tests::provision::postgres().await?;
    let store = adapter_diesel::connect(db.url()).await.expect("connect");
    store.migrate().await.expect("migrate");
    Some(conformance_tests::TestStore::new(store.adapters()).with_guard(db))
}

conformance_tests::conformance_suite!(fresh_store);
