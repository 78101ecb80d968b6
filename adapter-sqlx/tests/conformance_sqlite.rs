//! The whole conformance suite against the sqlx adapter on SQLite in memory (one connection, so each store is a database of its own).

#![cfg(feature = "sqlite")]
#![allow(clippy::expect_used)]

async fn fresh_store() -> Option<conformance_tests::TestStore> {
    let store = adapter_sqlx::connect("sqlite::memory:")
        .await
        .expect("connect");
    store.migrate().await.expect("migrate");
    Some(conformance_tests::TestStore::new(store.adapters()))
}

conformance_tests::conformance_suite!(fresh_store);
