//! Database provisioning: fresh databases exist while their `TestDatabase`
//! lives and are gone after; a missing server is a skip, or a failure with
//! SWITCHYARD_REQUIRE_DATABASES=1.

// Test helpers: a failed database call should fail the test on the spot.
#![allow(clippy::unwrap_used)]

use conformance_tests::provision::{self, MYSQL_URL_VAR, POSTGRES_URL_VAR, REQUIRE_VAR};
use sqlx::{Connection, MySqlConnection, PgConnection};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

async fn pg_exists(admin: &str, name: &str) -> bool {
    let mut conn = PgConnection::connect(admin).await.unwrap();
    let found: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
        .bind(name)
        .fetch_optional(&mut conn)
        .await
        .unwrap();
    found.is_some()
}

async fn mysql_collation(admin: &str, name: &str) -> Option<String> {
    let mut conn = MySqlConnection::connect(admin).await.unwrap();
    sqlx::query_scalar(
        "SELECT DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?",
    )
    .bind(name)
    .fetch_optional(&mut conn)
    .await
    .unwrap()
}

#[test]
fn postgres_databases_are_fresh_and_dropped() {
    let rt = runtime();
    let Some(db) = rt.block_on(provision::postgres()) else {
        return;
    };
    let Ok(admin) = std::env::var(POSTGRES_URL_VAR) else {
        return; // a container: nothing to compare with from here
    };
    let other = rt
        .block_on(provision::postgres())
        .expect("a second database");
    assert_ne!(db.name(), other.name(), "two tests got the same database");
    assert!(
        db.name().starts_with("sy_") && db.url().ends_with(db.name()),
        "{:?}",
        db.name()
    );
    rt.block_on(async {
        assert!(
            pg_exists(&admin, db.name()).await,
            "the database does not exist"
        );
        let mut conn = PgConnection::connect(db.url()).await.unwrap();
        let current: String = sqlx::query_scalar("SELECT current_database()")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(current, db.name());
        let tables: i64 =
            sqlx::query_scalar("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
                .fetch_one(&mut conn)
                .await
                .unwrap();
        assert_eq!(tables, 0, "a fresh database is empty");
        // A connection left open does not stop the drop.
        std::mem::forget(conn);
    });
    let name = db.name().to_owned();
    // Dropped inside the runtime ...
    rt.block_on(async move { drop(db) });
    assert!(
        !rt.block_on(pg_exists(&admin, &name)),
        "the database survived its TestDatabase"
    );
    // ... and outside any runtime, after it shut down.
    let other_name = other.name().to_owned();
    drop(rt);
    drop(other);
    assert!(
        !runtime().block_on(pg_exists(&admin, &other_name)),
        "the database survived its TestDatabase"
    );
}

#[test]
fn mysql_databases_are_fresh_binary_and_dropped() {
    let rt = runtime();
    let Some(db) = rt.block_on(provision::mysql()) else {
        return;
    };
    let Ok(admin) = std::env::var(MYSQL_URL_VAR) else {
        return;
    };
    let collation = rt
        .block_on(mysql_collation(&admin, db.name()))
        .expect("the database exists");
    assert!(
        matches!(collation.as_str(), "utf8mb4_nopad_bin" | "utf8mb4_0900_bin"),
        "collation {collation}"
    );
    rt.block_on(async {
        let mut conn = MySqlConnection::connect(db.url()).await.unwrap();
        let current: String = sqlx::query_scalar("SELECT DATABASE()")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(current, db.name());
        std::mem::forget(conn);
    });
    let name = db.name().to_owned();
    drop(db);
    assert_eq!(
        rt.block_on(mysql_collation(&admin, &name)),
        None,
        "the database survived its TestDatabase"
    );
}

#[test]
fn sqlite_files_are_removed_on_drop() {
    let db = provision::sqlite_file();
    let path = db
        .url()
        .strip_prefix("sqlite://")
        .expect("a sqlite:// URL")
        .to_owned();
    assert!(path.ends_with(&format!("{}.db", db.name())), "{path}");
    assert!(
        std::path::Path::new(&path).is_file(),
        "the file does not exist"
    );
    let other = provision::sqlite_file();
    assert_ne!(other.url(), db.url());
    drop(db);
    assert!(
        !std::path::Path::new(&path).exists(),
        "the file survived its TestDatabase"
    );
}

/// Run by `missing_servers_skip_or_fail` in a child process with a controlled environment.
#[test]
#[ignore = "run as a child process by missing_servers_skip_or_fail"]
fn provision_child() {
    assert!(runtime().block_on(provision::postgres()).is_none());
    assert!(runtime().block_on(provision::mysql()).is_none());
}

#[test]
fn missing_servers_skip_or_fail() {
    let run = |require: Option<&str>| {
        let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
        cmd.args([
            "provision_child",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env_remove(POSTGRES_URL_VAR)
        .env_remove(MYSQL_URL_VAR)
        .env_remove(REQUIRE_VAR)
        // No Docker engine answers here.
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock");
        if let Some(value) = require {
            cmd.env(REQUIRE_VAR, value);
        }
        let out = cmd.output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let (ok, output) = run(None);
    assert!(ok, "without servers the child must skip: {output}");
    assert!(
        output.contains("skipped: no PostgreSQL (set SWITCHYARD_POSTGRES_URL or start Docker)"),
        "{output}"
    );
    assert!(
        output.contains("skipped: no MySQL (set SWITCHYARD_MYSQL_URL or start Docker)"),
        "{output}"
    );
    let (ok, output) = run(Some("1"));
    assert!(
        !ok,
        "with {REQUIRE_VAR}=1 a missing server must fail: {output}"
    );
    assert!(
        output.contains("SWITCHYARD_REQUIRE_DATABASES=1 but there is no PostgreSQL"),
        "{output}"
    );
}
