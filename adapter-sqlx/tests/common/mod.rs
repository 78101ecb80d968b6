//! Fresh, migrated stores for the integration tests: SQLite in memory, and
//! SQLite files, PostgreSQL and MariaDB databases from
//! `conformance_tests::provision` (dropped when the test ends, pass or fail).

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use adapter_sqlx::SqlxStore;
use conformance_tests::provision::{self, TestDatabase};

/// A migrated store on a fresh database, and the database's guard.
pub struct Fresh {
    pub store: SqlxStore,
    pub url: String,
    // Dropped after the store's pool is closed in `finish` (or on unwinding).
    database: Option<TestDatabase>,
}

impl Fresh {
    pub async fn finish(self) {
        self.store.close().await;
        drop(self.database);
    }

    /// Keeps the database (for a look at it after the test).
    pub fn keep(self) {
        std::mem::forget(self.database);
    }
}

async fn open(url: String, database: Option<TestDatabase>) -> Fresh {
    let store = adapter_sqlx::connect(&url).await.expect("connect");
    store.migrate().await.expect("migrate");
    Fresh {
        store,
        url,
        database,
    }
}

pub async fn sqlite_memory() -> Option<Fresh> {
    Some(open("sqlite::memory:".into(), None).await)
}

pub async fn sqlite_file() -> Option<Fresh> {
    let db = provision::sqlite_file();
    Some(open(db.url().to_owned(), Some(db)).await)
}

pub async fn postgres() -> Option<Fresh> {
    let db = provision::postgres().await?;
    Some(open(db.url().to_owned(), Some(db)).await)
}

pub async fn mysql() -> Option<Fresh> {
    let db = provision::mysql().await?;
    Some(open(db.url().to_owned(), Some(db)).await)
}

/// One `#[tokio::test]` per database for each scenario.
#[macro_export]
macro_rules! on_every_database {
    ($($scenario:ident),* $(,)?) => {
        mod sqlite_memory { $( $crate::on_every_database!(@one sqlite_memory $scenario); )* }
        mod sqlite_file { $( $crate::on_every_database!(@one sqlite_file $scenario); )* }
        #[cfg(feature = "postgres")]
        mod postgres { $( $crate::on_every_database!(@one postgres $scenario); )* }
        #[cfg(feature = "mysql")]
        mod mysql { $( $crate::on_every_database!(@one mysql $scenario); )* }
    };
    (@one $db:ident $scenario:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $scenario() {
            let Some(fresh) = $crate::common::$db().await else { return };
            super::$scenario(&fresh).await;
            fresh.finish().await;
        }
    };
}
