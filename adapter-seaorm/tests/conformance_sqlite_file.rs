//! The whole conformance suite against the SeaORM adapters on a SQLite file.

use conformance_tests::TestStore;

async fn fresh_store() -> Option<TestStore> {
    let db = conformance_tests::provision::sqlite_file();
    let store = adapter_seaorm::connect(db.url()).await.expect("connect");
    store.migrate().await.expect("migrate");
    Some(TestStore::new(store.adapters()).with_guard(db))
}

conformance_tests::conformance_suite!(fresh_store);
