//! The whole conformance suite against the SeaORM adapters on PostgreSQL.
#![cfg(feature = "postgres")]

use conformance_tests::TestStore;

async fn fresh_store() -> Option<TestStore> {
    let db = conformance_tests::provision::postgres().await?;
    let store = adapter_seaorm::connect(db.url()).await.expect("connect");
    store.migrate().await.expect("migrate");
    Some(TestStore::new(store.adapters()).with_guard(db))
}

conformance_tests::conformance_suite!(fresh_store);
