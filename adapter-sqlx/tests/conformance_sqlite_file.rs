//! The whole conformance suite against the sqlx adapter on a SQLite file (WAL, a pool of several connections).

#![cfg(feature = "sqlite")]
#![allow(clippy::expect_used)]

async fn fresh_store() -> Option<conformance_tests::TestStore> {
    let db = conformance_tests::provision::sqlite_file();
    let store = adapter_sqlx::connect(db.url()).await.expect("connect");
    store.migrate().await.expect("migrate");
    Some(conformance_tests::TestStore::new(store.adapters()).with_guard(db))
}

conformance_tests::conformance_suite!(fresh_store);
