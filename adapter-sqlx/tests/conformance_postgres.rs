//! The whole conformance suite against the sqlx adapter on PostgreSQL (a fresh database per test, from SWITCHYARD_POSTGRES_URL).

#![cfg(feature = "postgres")]
#![allow(clippy::expect_used)]

async fn fresh_store() -> Option<conformance_tests::TestStore> {
    let db = conformance_tests::provision::postgres().await?;
    let store = adapter_sqlx::connect(db.url()).await.expect("connect");
    store.migrate().await.expect("migrate");
    Some(conformance_tests::TestStore::new(store.adapters()).with_guard(db))
}

conformance_tests::conformance_suite!(fresh_store);
