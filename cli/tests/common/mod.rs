//! Helpers of the binary's tests: run `switchyard`, make databases.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use conformance_tests::provision::{self, TestDatabase};

/// The backends compiled into the binary under test.
pub fn backends() -> Vec<&'static str> {
    let mut out = Vec::new();
    if cfg!(feature = "sqlx") {
        out.push("sqlx");
    }
    if cfg!(feature = "seaorm") {
        out.push("seaorm");
    }
    if cfg!(feature = "diesel") {
        out.push("diesel");
    }
    out
}

/// The `i`-th compiled backend, cycling.
pub fn backend(i: usize) -> &'static str {
    let all = backends();
    all[i % all.len()]
}

/// The binary, run in `dir`.
pub fn switchyard(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_switchyard"));
    command.current_dir(dir);
    command.env_remove("SWITCHYARD_SOURCE");
    command.env_remove("SWITCHYARD_TARGET");
    command
}

/// Runs the binary with `args` in `dir`.
pub fn run(dir: &Path, args: &[&str]) -> Output {
    let output = switchyard(dir)
        .args(args)
        .output()
        .expect("cannot run switchyard");
    eprintln!(
        "$ switchyard {}\n-> {:?}\n{}{}",
        args.join(" "),
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Runs and checks the exit status.
pub fn run_ok(dir: &Path, args: &[&str]) -> Output {
    let output = run(dir, args);
    assert_eq!(output.status.code(), Some(0), "switchyard {args:?} failed");
    output
}

/// The arguments `VERB --source SOURCE --target TARGET EXTRA...` of the
/// commands that read one store and write or compare another.
pub fn between<'a>(
    verb: &'a str,
    source: &'a str,
    target: &'a str,
    extra: &[&'a str],
) -> Vec<&'a str> {
    [&[verb, "--source", source, "--target", target][..], extra].concat()
}

/// Seeds `target` with `tenants` tenants of `users_per_tenant` users (and
/// `extra` options), checking that it succeeds.
pub fn seed(dir: &Path, target: &str, tenants: u32, users_per_tenant: u32, extra: &[&str]) {
    let (tenants, users) = (tenants.to_string(), users_per_tenant.to_string());
    let args = [
        &[
            "seed",
            "--target",
            target,
            "--tenants",
            &tenants,
            "--users-per-tenant",
            &users,
        ][..],
        extra,
    ]
    .concat();
    run_ok(dir, &args);
}

/// Standard output as text.
pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Standard error as text.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Standard output as JSON.
pub fn json(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout).expect("stdout is not JSON")
}

/// A fresh temporary directory.
pub fn temp_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("switchyard-cli-")
        .tempdir()
        .expect("temp dir")
}

/// A store URL of a SQLite file in `dir`.
pub fn sqlite(backend: &str, dir: &Path, name: &str) -> String {
    format!("{backend}+sqlite://{}", dir.join(name).display())
}

/// The file of the target of [`seeded_source`], in its directory.
pub const TARGET_FILE: &str = "target.db";

/// A fresh directory; the URL of a SQLite source there (the first backend)
/// seeded with `tenants` tenants of `users_per_tenant` users; and the URL of
/// a target [`TARGET_FILE`] there (backend `target_backend`), not created yet.
pub fn seeded_source(
    target_backend: usize,
    tenants: u32,
    users_per_tenant: u32,
) -> (tempfile::TempDir, String, String) {
    let dir = temp_dir();
    let source = sqlite(backend(0), dir.path(), "source.db");
    let target = sqlite(backend(target_backend), dir.path(), TARGET_FILE);
    seed(dir.path(), &source, tenants, users_per_tenant, &[]);
    (dir, source, target)
}

/// A fresh PostgreSQL database (or `None`, after a skip line).
pub fn postgres() -> Option<TestDatabase> {
    runtime().block_on(provision::postgres())
}

/// A fresh MySQL/MariaDB database (or `None`, after a skip line).
pub fn mysql() -> Option<TestDatabase> {
    runtime().block_on(provision::mysql())
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// Sums a backfill JSON report's counts.
pub fn backfill_totals(report: &serde_json::Value) -> (u64, u64, u64) {
    let mut totals = (0, 0, 0);
    for entity in report["entities"].as_array().expect("entities") {
        totals.0 += entity["counts"]["copied"].as_u64().expect("a count");
        totals.1 += entity["counts"]["skipped"].as_u64().expect("a count");
        totals.2 += entity["counts"]["failed"].as_u64().expect("a count");
    }
    totals
}

/// Per entity, the source and target counts of a verify JSON report.
pub fn verify_counts(report: &serde_json::Value) -> Vec<(String, u64, u64)> {
    report["entities"]
        .as_array()
        .expect("entities")
        .iter()
        .map(|e| {
            (
                e["entity"].as_str().expect("an entity").to_owned(),
                e["source_count"].as_u64().expect("a count"),
                e["target_count"].as_u64().expect("a count"),
            )
        })
        .collect()
}

/// Runs SQL on a SQLite file.
pub fn sqlite_exec(path: &Path, sql: &str) {
    use sqlx::{Connection, SqliteConnection};
    let url = format!("sqlite://{}", path.display());
    runtime().block_on(async {
        let mut conn = SqliteConnection::connect(&url).await.expect("open sqlite");
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
            .execute(&mut conn)
            .await
            .expect("sql");
        conn.close().await.expect("close");
    });
}

/// The path of `name` in `dir`.
pub fn path(dir: &Path, name: &str) -> PathBuf {
    dir.join(name)
}
