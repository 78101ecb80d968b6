//! Fresh databases for the integration tests: SQLite in memory or in a temp
//! file, and uniquely named PostgreSQL / MariaDB databases from
//! `SWITCHYARD_POSTGRES_URL` / `SWITCHYARD_MYSQL_URL` (skipped when unset,
//! unless `SWITCHYARD_REQUIRE_DATABASES=1`).

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use adapter_sqlx::SqlxStore;
use sqlx::Connection as _;

/// A migrated store on a fresh database, and what removes that database.
pub struct Fresh {
    pub store: SqlxStore,
    pub url: String,
    cleanup: Option<(String, String)>,
    file: Option<std::path::PathBuf>,
}

impl Fresh {
    pub async fn finish(self) {
        self.store.close().await;
        if let Some((admin, name)) = self.cleanup {
            drop_database(&admin, &name).await;
        }
        if let Some(file) = self.file {
            for suffix in ["", "-wal", "-shm"] {
                let mut path = file.clone().into_os_string();
                path.push(suffix);
                let _ = std::fs::remove_file(path);
            }
        }
    }
}

fn required() -> bool {
    std::env::var("SWITCHYARD_REQUIRE_DATABASES")
        .is_ok_and(|v| matches!(v.trim(), "1" | "true" | "yes"))
}

fn admin_url(var: &str) -> Option<String> {
    match std::env::var(var).ok().filter(|u| !u.trim().is_empty()) {
        Some(url) => Some(url),
        None if required() => panic!("{var} is not set but SWITCHYARD_REQUIRE_DATABASES=1"),
        None => {
            eprintln!("skipped: {var} is not set");
            None
        }
    }
}

fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let (scheme, rest) = base.split_once("://").unwrap();
    let host = rest.split('/').next().unwrap();
    let mut out = format!("{scheme}://{host}/{name}");
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

async fn admin_execute(admin: &str, sql: &str) {
    if admin.starts_with("postgres") {
        let mut conn = sqlx::PgConnection::connect(admin)
            .await
            .expect("connect to PostgreSQL");
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
            .execute(&mut conn)
            .await
            .expect(sql);
        let _ = conn.close().await;
    } else {
        let mut conn = sqlx::MySqlConnection::connect(admin)
            .await
            .expect("connect to MySQL");
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
            .execute(&mut conn)
            .await
            .expect(sql);
        let _ = conn.close().await;
    }
}

async fn drop_database(admin: &str, name: &str) {
    let sql = if admin.starts_with("postgres") {
        format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")
    } else {
        format!("DROP DATABASE IF EXISTS `{name}`")
    };
    admin_execute(admin, &sql).await;
}

fn unique_name() -> String {
    format!("sy_sqlx_{}", uuid::Uuid::new_v4().simple())
}

async fn migrated(store: SqlxStore) -> SqlxStore {
    store.migrate().await.expect("migrate");
    store
}

pub async fn sqlite_memory() -> Option<Fresh> {
    let store = migrated(
        adapter_sqlx::connect("sqlite::memory:")
            .await
            .expect("connect"),
    )
    .await;
    Some(Fresh {
        store,
        url: "sqlite::memory:".into(),
        cleanup: None,
        file: None,
    })
}

pub async fn sqlite_file() -> Option<Fresh> {
    let file = std::env::temp_dir().join(format!("{}.db", unique_name()));
    let url = format!("sqlite://{}", file.display());
    let store = migrated(adapter_sqlx::connect(&url).await.expect("connect")).await;
    assert!(file.exists(), "connect creates the file");
    Some(Fresh {
        store,
        url,
        cleanup: None,
        file: Some(file),
    })
}

pub async fn postgres() -> Option<Fresh> {
    let admin = admin_url("SWITCHYARD_POSTGRES_URL")?;
    let name = unique_name();
    admin_execute(&admin, &format!("CREATE DATABASE \"{name}\"")).await;
    let url = with_database(&admin, &name);
    let store = migrated(adapter_sqlx::connect(&url).await.expect("connect")).await;
    Some(Fresh {
        store,
        url,
        cleanup: Some((admin, name)),
        file: None,
    })
}

pub async fn mysql() -> Option<Fresh> {
    let admin = admin_url("SWITCHYARD_MYSQL_URL")?;
    let name = unique_name();
    admin_execute(
        &admin,
        &format!("CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin"),
    )
    .await;
    let url = with_database(&admin, &name);
    let store = migrated(adapter_sqlx::connect(&url).await.expect("connect")).await;
    Some(Fresh {
        store,
        url,
        cleanup: Some((admin, name)),
        file: None,
    })
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
