//! Fresh databases for this crate's own integration tests: SQLite in memory
//! and in a file, PostgreSQL and MariaDB (from `SWITCHYARD_POSTGRES_URL` /
//! `SWITCHYARD_MYSQL_URL`, else the local defaults), each test in its own
//! uniquely named database.

#![allow(dead_code)]

use adapter_seaorm::SeaOrmStore;
use sea_orm::{ConnectionTrait, Database};

/// A migrated store on a fresh database, and how to remove that database.
pub struct Fresh {
    pub store: SeaOrmStore,
    cleanup: Cleanup,
}

enum Cleanup {
    None,
    File(std::path::PathBuf),
    Server { admin_url: String, drop: String },
}

fn required() -> bool {
    std::env::var("SWITCHYARD_REQUIRE_DATABASES").is_ok_and(|v| v == "1")
}

fn unique_name() -> String {
    format!("sy_seaorm_{}", uuid::Uuid::new_v4().simple())
}

fn with_database(url: &str, name: &str) -> String {
    let (base, _) = url
        .rsplit_once('/')
        .expect("a server URL ends with /database");
    format!("{base}/{name}")
}

impl Fresh {
    pub async fn sqlite_memory() -> Option<Self> {
        Self::open("sqlite::memory:", Cleanup::None).await
    }

    pub async fn sqlite_file() -> Option<Self> {
        let path = std::env::temp_dir().join(format!("{}.db", unique_name()));
        Self::open(&format!("sqlite://{}", path.display()), Cleanup::File(path)).await
    }

    pub async fn postgres() -> Option<Self> {
        let admin = std::env::var("SWITCHYARD_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        Self::server(
            &admin,
            |n| format!("CREATE DATABASE \"{n}\""),
            |n| format!("DROP DATABASE IF EXISTS \"{n}\" WITH (FORCE)"),
        )
        .await
    }

    pub async fn mysql() -> Option<Self> {
        let admin = std::env::var("SWITCHYARD_MYSQL_URL")
            .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/mysql".into());
        Self::server(
            &admin,
            |n| format!("CREATE DATABASE `{n}`"),
            |n| format!("DROP DATABASE IF EXISTS `{n}`"),
        )
        .await
    }

    async fn server(
        admin_url: &str,
        create: impl Fn(&str) -> String,
        drop: impl Fn(&str) -> String,
    ) -> Option<Self> {
        let admin = match Database::connect(admin_url).await {
            Ok(admin) => admin,
            Err(e) if !required() => {
                println!("skipped: no database at the admin URL ({e})");
                return None;
            }
            Err(e) => panic!("database required but unavailable: {e}"),
        };
        let name = unique_name();
        admin
            .execute_unprepared(&create(&name))
            .await
            .expect("create database");
        let _ = admin.close().await;
        let cleanup = Cleanup::Server {
            admin_url: admin_url.to_owned(),
            drop: drop(&name),
        };
        Self::open(&with_database(admin_url, &name), cleanup).await
    }

    async fn open(url: &str, cleanup: Cleanup) -> Option<Self> {
        let store = adapter_seaorm::connect(url).await.expect("connect");
        store.migrate().await.expect("migrate");
        Some(Self { store, cleanup })
    }

    /// Closes the store and removes its database.
    pub async fn finish(self) {
        let Fresh { store, cleanup } = self;
        let _ = store.connection().clone().close().await;
        match cleanup {
            Cleanup::None => {}
            Cleanup::File(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
            }
            Cleanup::Server { admin_url, drop } => {
                if let Ok(admin) = Database::connect(&admin_url).await {
                    let _ = admin.execute_unprepared(&drop).await;
                    let _ = admin.close().await;
                }
            }
        }
    }
}

/// Runs `$scenario(&Fresh)` on every database, as one test per database.
#[macro_export]
macro_rules! on_every_database {
    ($($scenario:ident),* $(,)?) => {
        mod sqlite_memory { $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $scenario() {
                if let Some(db) = $crate::common::Fresh::sqlite_memory().await {
                    super::$scenario(&db).await;
                    db.finish().await;
                }
            }
        )* }
        mod sqlite_file { $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $scenario() {
                if let Some(db) = $crate::common::Fresh::sqlite_file().await {
                    super::$scenario(&db).await;
                    db.finish().await;
                }
            }
        )* }
        #[cfg(feature = "postgres")]
        mod postgres { $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $scenario() {
                if let Some(db) = $crate::common::Fresh::postgres().await {
                    super::$scenario(&db).await;
                    db.finish().await;
                }
            }
        )* }
        #[cfg(feature = "mysql")]
        mod mysql { $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $scenario() {
                if let Some(db) = $crate::common::Fresh::mysql().await {
                    super::$scenario(&db).await;
                    db.finish().await;
                }
            }
        )* }
    };
}
