//! Helpers of the binary's tests: run `switchyard`, make databases.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

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

/// The store URL of `backend` (`sqlx`, `seaorm`, `diesel`) on a test database.
pub fn store_url(backend: &str, db: &TestDatabase) -> String {
    format!("{backend}+{}", db.url())
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

/// Starts the binary with `args` in `dir`, its standard output going to the
/// file `out` there and its standard error to `err` (the same file if equal).
pub fn spawn_logged(dir: &Path, args: &[&str], out: &str, err: &str) -> Child {
    let stdout = std::fs::File::create(dir.join(out)).expect("log file");
    let stderr = if err == out {
        stdout.try_clone().expect("log file")
    } else {
        std::fs::File::create(dir.join(err)).expect("log file")
    };
    switchyard(dir)
        .args(args)
        .stdout(Stdio::from(stdout))
        .stderr(Stdio::from(stderr))
        .spawn()
        .expect("cannot start switchyard")
}

/// The text of the file `log` in `dir` (empty if there is none).
pub fn log_text(dir: &Path, log: &str) -> String {
    std::fs::read_to_string(dir.join(log)).unwrap_or_default()
}

/// The operations reported by the `switchyard traffic` runs whose logs (in
/// `dir`, named `prefix…`) end with a summary; a killed run has none.
pub fn traffic_operations(dir: &Path, prefix: &str) -> u64 {
    let mut total = 0;
    for entry in std::fs::read_dir(dir).expect("dir").flatten() {
        if !entry.file_name().to_string_lossy().starts_with(prefix) {
            continue;
        }
        let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
        if let Some(line) = text.lines().find(|l| l.starts_with("traffic: ")) {
            total += line
                .split_whitespace()
                .nth(1)
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    total
}

/// A verify JSON report's sums over entities: records in the source,
/// differing, missing in the target, extra in the target.
pub fn verify_totals(report: &serde_json::Value) -> (u64, u64, u64, u64) {
    let mut totals = (0, 0, 0, 0);
    for e in report["entities"].as_array().expect("entities") {
        let n = |field: &str| e[field].as_u64().expect("a count");
        totals.0 += n("source_count");
        totals.1 += n("differing");
        totals.2 += n("missing_in_target");
        totals.3 += n("extra_in_target");
    }
    totals
}

/// The entities a verify JSON report finds different, with their counts and
/// the names of the fields that differ: never keys or values, which may be
/// code ids (secrets are redacted, but the summary needs neither).
pub fn verify_summary(report: &serde_json::Value) -> String {
    let mut parts = Vec::new();
    for e in report["entities"].as_array().expect("entities") {
        let n = |field: &str| e[field].as_u64().unwrap_or(0);
        let (differing, missing, extra) =
            (n("differing"), n("missing_in_target"), n("extra_in_target"));
        if differing + missing + extra == 0 && n("source_count") == n("target_count") {
            continue;
        }
        let mut fields: Vec<&str> = e["first_differences"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|d| d["fields"].as_array().into_iter().flatten())
            .filter_map(|f| f["field"].as_str())
            .collect();
        fields.sort_unstable();
        fields.dedup();
        parts.push(format!(
            "{}: {differing} differing ({}), {missing} missing, {extra} extra ({} vs {})",
            e["entity"].as_str().unwrap_or("?"),
            fields.join(", "),
            n("source_count"),
            n("target_count")
        ));
    }
    parts.join("; ")
}

/// Runs the binary with `args` in `dir` and shows only the command and its
/// exit status (for output that names keys, such as a verify report).
pub fn run_quiet(dir: &Path, args: &[&str]) -> Output {
    let output = switchyard(dir)
        .args(args)
        .output()
        .expect("cannot run switchyard");
    eprintln!(
        "$ switchyard {}\n-> {:?}",
        args.join(" "),
        output.status.code()
    );
    output
}
