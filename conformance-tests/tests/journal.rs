//! The journal contract suite ([`conformance_tests::journal`]) against the
//! in-memory journal and every backend's journal on every database: SQLite
//! (a file, so that several connections really race), PostgreSQL and
//! MariaDB (fresh databases from `SWITCHYARD_POSTGRES_URL` /
//! `SWITCHYARD_MYSQL_URL`; skipped with a notice when absent). Run one
//! configuration with its module's name: `cargo test --test journal -- sqlx_postgres`.

#![allow(clippy::expect_used)]

mod memory {
    async fn fresh() -> Option<conformance_tests::TestStore> {
        Some(conformance_tests::TestStore::new(
            adapter_interfaces::memory::adapters(),
        ))
    }

    conformance_tests::journal_suite!(fresh);
}

/// A module `$module` running the suite on backend crate `$krate` over the
/// database `$database` provisions, connected and migrated the way an
/// application would.
macro_rules! journal_on {
    ($module:ident, $krate:ident, $database:expr) => {
        mod $module {
            async fn fresh() -> Option<conformance_tests::TestStore> {
                let db: conformance_tests::provision::TestDatabase = $database?;
                let store = $krate::connect(db.url()).await.expect("connect");
                store.migrate().await.expect("migrate");
                Some(conformance_tests::TestStore::new(store.adapters()).with_guard(db))
            }

            conformance_tests::journal_suite!(fresh);
        }
    };
}

journal_on!(
    sqlx_sqlite,
    adapter_sqlx,
    Some(conformance_tests::provision::sqlite_file())
);
journal_on!(
    sqlx_postgres,
    adapter_sqlx,
    conformance_tests::provision::postgres().await
);
journal_on!(
    sqlx_mysql,
    adapter_sqlx,
    conformance_tests::provision::mysql().await
);
journal_on!(
    seaorm_sqlite,
    adapter_seaorm,
    Some(conformance_tests::provision::sqlite_file())
);
journal_on!(
    seaorm_postgres,
    adapter_seaorm,
    conformance_tests::provision::postgres().await
);
journal_on!(
    seaorm_mysql,
    adapter_seaorm,
    conformance_tests::provision::mysql().await
);
journal_on!(
    diesel_sqlite,
    adapter_diesel,
    Some(conformance_tests::provision::sqlite_file())
);
journal_on!(
    diesel_postgres,
    adapter_diesel,
    conformance_tests::provision::postgres().await
);
journal_on!(
    diesel_mysql,
    adapter_diesel,
    conformance_tests::provision::mysql().await
);
