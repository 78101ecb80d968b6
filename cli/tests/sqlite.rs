//! The binary on SQLite files: demo, backfill and verify across backends,
//! idempotency, a killed backfill, single-field differences, bad input.

mod common;

use std::time::{Duration, Instant};

use common::*;

#[test]
fn demo_succeeds_from_an_empty_directory() {
    let dir = temp_dir();
    let out = run_ok(
        dir.path(),
        &["demo", "--dir", "demo", "--users-per-tenant", "25"],
    );
    let text = stdout(&out);
    for phase in [
        "setup",
        "seed",
        "dual-write",
        "backfill",
        "replay",
        "verify",
        "switch-over",
        "verify again",
    ] {
        assert!(text.contains(phase), "no phase {phase}: {text}");
    }
    assert!(!text.contains("FAIL"), "{text}");
    assert!(text.contains("migration complete"), "{text}");
    assert!(dir.path().join("demo/old.db").exists());
    assert!(dir.path().join("demo/new.db").exists());
    // The same directory again is refused rather than mixed up.
    let again = run(dir.path(), &["demo", "--dir", "demo"]);
    assert_eq!(again.status.code(), Some(2));
    assert!(stderr(&again).contains("empty directory"));
}

#[test]
fn backfill_then_verify_is_identical_across_every_backend_pair_and_a_rerun_copies_nothing() {
    let dir = temp_dir();
    let source = sqlite(backend(0), dir.path(), "source.db");
    seed(dir.path(), &source, 2, 40, &[]);
    for (i, name) in backends().iter().enumerate() {
        let target = sqlite(name, dir.path(), &format!("target-{i}.db"));
        // A dry run reports everything and creates nothing.
        let dry = run_ok(
            dir.path(),
            &between("backfill", &source, &target, &["--dry-run", "--json"]),
        );
        let (to_copy, skipped, _) = backfill_totals(&json(&dry));
        assert!(to_copy > 200 && skipped == 0, "{}", stdout(&dry));
        assert!(!dir.path().join(format!("target-{i}.db")).exists());
        let first = run_ok(
            dir.path(),
            &between(
                "backfill",
                &source,
                &target,
                &["--batch-size", "37", "--json"],
            ),
        );
        let first = json(&first);
        assert_eq!(backfill_totals(&first), (to_copy, 0, 0));
        assert_eq!(first["migrated_target"], true);
        let verified = run_ok(
            dir.path(),
            &between("verify", &source, &target, &["--json"]),
        );
        let report = json(&verified);
        assert_eq!(report["identical"], true);
        for (entity, s, t) in verify_counts(&report) {
            assert!(s > 0, "no {entity} records");
            assert_eq!(s, t, "{entity}");
        }
        let second = run_ok(
            dir.path(),
            &between("backfill", &source, &target, &["--json"]),
        );
        assert_eq!(
            backfill_totals(&json(&second)),
            (0, to_copy, 0),
            "the rerun copied again"
        );
        // Back the other way, between two backends, is identical too.
        let back = sqlite(backend(i + 1), dir.path(), &format!("back-{i}.db"));
        run_ok(dir.path(), &between("backfill", &target, &back, &[]));
        run_ok(dir.path(), &between("verify", &source, &back, &[]));
    }
    // Every checkpoint is gone after the successful runs.
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(".switchyard-backfill")
        })
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn a_backfill_killed_part_way_resumes_and_ends_identical() {
    let (dir, source, target) = seeded_source(1, 2, 1500);
    let checkpoint = dir.path().join("cp.json");
    let args = between(
        "backfill",
        &source,
        &target,
        &["--batch-size", "20", "--checkpoint", "cp.json", "--json"],
    );
    let mut child = switchyard(dir.path()).args(&args).spawn().unwrap();
    let started = Instant::now();
    while !checkpoint.exists() {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no checkpoint appeared"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the backfill ended before it was killed"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // Let it get into the users, then SIGKILL it.
    std::thread::sleep(Duration::from_millis(700));
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(
        !status.success(),
        "it finished before the kill; make the data bigger"
    );
    assert!(checkpoint.exists(), "the checkpoint survives the kill");
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&checkpoint).unwrap()).unwrap();
    assert!(!saved["source"].as_str().unwrap().is_empty());
    let resumed = json(&run_ok(dir.path(), &args));
    assert_eq!(resumed["resumed"], true);
    assert!(!checkpoint.exists());
    let verified = json(&run_ok(
        dir.path(),
        &between("verify", &source, &target, &["--json"]),
    ));
    assert_eq!(verified["identical"], true);
    // Counts match exactly: every source record once, none twice.
    let (copied, skipped, failed) = backfill_totals(&resumed);
    let source_total: u64 = verify_counts(&verified).iter().map(|(_, s, _)| s).sum();
    let target_total: u64 = verify_counts(&verified).iter().map(|(_, _, t)| t).sum();
    assert_eq!(failed, 0);
    assert_eq!(source_total, target_total);
    // At most the one batch in flight at the kill is seen again (as already there).
    assert_eq!(copied + skipped, source_total);
    assert!(skipped <= 20, "skipped {skipped}");
    // --restart starts over: everything is there, so all of it is skipped.
    let restarted = json(&run_ok(dir.path(), &[&args[..], &["--restart"]].concat()));
    assert_eq!(restarted["resumed"], false);
    assert_eq!(backfill_totals(&restarted), (0, source_total, 0));
}

#[test]
fn verify_exits_1_on_a_single_changed_field_in_any_entity() {
    let (dir, source, target) = seeded_source(2, 1, 30);
    run_ok(dir.path(), &between("backfill", &source, &target, &[]));
    run_ok(dir.path(), &between("verify", &source, &target, &[]));
    let file = dir.path().join(TARGET_FILE);
    let changes = [
        ("tenants", "friendly_name", "'Changed'", "id"),
        ("users", "nickname", "'changed'", "user_id"),
        ("applications", "app_type", "'changed'", "client_id"),
        ("connections", "display_name", "'Changed'", "id"),
        ("sessions", "login_session_id", "'changed'", "id"),
        ("codes", "nonce", "'changed'", "code_id"),
        (
            "passwords",
            "password",
            "'$2b$10$changedchangedchanged'",
            "id",
        ),
        ("logs", "ip", "'198.51.100.7'", "log_id"),
    ];
    for (table, column, value, key) in changes {
        let backup = format!("{table}_backup");
        sqlite_exec(
            &file,
            &format!("CREATE TABLE {backup} AS SELECT * FROM {table}"),
        );
        sqlite_exec(
            &file,
            &format!(
                "UPDATE {table} SET {column} = {value} WHERE {key} = (SELECT MIN({key}) FROM {table})"
            ),
        );
        let out = run(dir.path(), &between("verify", &source, &target, &[]));
        assert_eq!(out.status.code(), Some(1), "{table}.{column} not seen");
        let text = stdout(&out);
        assert!(text.contains(&format!("field `{column}`")), "{text}");
        assert!(text.contains("DIFFERENT"));
        let report = json(&run(
            dir.path(),
            &between("verify", &source, &target, &["--json"]),
        ));
        let differing: u64 = report["entities"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["differing"].as_u64().unwrap())
            .sum();
        assert_eq!(differing, 1, "{table}");
        if column == "password" {
            assert!(
                text.contains("[REDACTED]") && !text.contains("changedchanged"),
                "{text}"
            );
            assert!(!report.to_string().contains("changedchanged"));
        }
        sqlite_exec(
            &file,
            &format!(
                "UPDATE {table} SET {column} = (SELECT b.{column} FROM {backup} b WHERE b.{key} = {table}.{key}); DROP TABLE {backup}"
            ),
        );
        run_ok(dir.path(), &between("verify", &source, &target, &[]));
    }
    // A missing record is named too, and sampling still counts it.
    sqlite_exec(
        &file,
        "DELETE FROM logs WHERE log_id = (SELECT MAX(log_id) FROM logs)",
    );
    let out = run(
        dir.path(),
        &between("verify", &source, &target, &["--sample", "5"]),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("missing in target: log"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn bad_urls_unknown_backends_and_unreachable_databases_are_clear_errors() {
    let dir = temp_dir();
    let good = sqlite(backend(0), dir.path(), "good.db");
    run_ok(dir.path(), &["migrate", "--target", &good]);
    let unreachable = format!("{}+postgres://u:hunter2@127.0.0.1:1/app", backend(0));
    let unreachable_masked = format!(
        "cannot connect to {}+postgres://u:***@127.0.0.1:1/app",
        backend(0)
    );
    let cases: [(&[&str], &str); 5] = [
        (
            &between("verify", "postgres://u:hunter2@127.0.0.1/app", &good, &[]),
            "expected BACKEND+DATABASE_URL",
        ),
        (
            &between(
                "backfill",
                "hibernate+postgres://u:hunter2@127.0.0.1/app",
                &good,
                &[],
            ),
            "use one of sqlx, seaorm, diesel",
        ),
        (
            &between(
                "backfill",
                &good,
                "sqlx+oracle://u:hunter2@127.0.0.1/app",
                &[],
            ),
            "unsupported database",
        ),
        (
            &between("backfill", &good, &unreachable, &[]),
            &unreachable_masked,
        ),
        (
            &between("verify", "sqlx+sqlite://nowhere/missing.db", &good, &[]),
            "does not exist",
        ),
    ];
    for (args, expected) in cases {
        let out = run(dir.path(), args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = stderr(&out);
        assert!(err.contains(expected), "{args:?}: {err}");
        assert!(!err.contains("hunter2"), "password shown: {err}");
    }
    assert!(!dir.path().join("nowhere").exists());
    // A source without the schema is refused, and nothing is written to the target.
    let empty = sqlite(backend(0), dir.path(), "empty.db");
    run_ok(dir.path(), &["migrate", "--target", &good]);
    std::fs::File::create(dir.path().join("empty.db")).unwrap();
    let out = run(
        dir.path(),
        &between(
            "backfill",
            &empty,
            &sqlite(backend(0), dir.path(), "t.db"),
            &[],
        ),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("has no Switchyard schema"),
        "{}",
        stderr(&out)
    );
    assert!(!dir.path().join("t.db").exists());
}

#[test]
fn a_target_with_another_schema_version_is_refused_with_nothing_written() {
    let (dir, source, target) = seeded_source(1, 1, 5);
    run_ok(dir.path(), &["migrate", "--target", &target]);
    sqlite_exec(
        &dir.path().join(TARGET_FILE),
        "INSERT INTO switchyard_schema (version) VALUES (99)",
    );
    let out = run(dir.path(), &between("backfill", &source, &target, &[]));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("schema version 99"),
        "{}",
        stderr(&out)
    );
    sqlite_exec(
        &dir.path().join(TARGET_FILE),
        "DELETE FROM switchyard_schema WHERE version = 99",
    );
    // Nothing was written: verify sees an empty target.
    let report = json(&run(
        dir.path(),
        &between("verify", &source, &target, &["--json"]),
    ));
    assert!(
        verify_counts(&report).iter().all(|(_, _, t)| *t == 0),
        "{report}"
    );
    // A relative SQLite path is relative to the working directory.
    let relative = format!("{}+sqlite://{TARGET_FILE}", backend(1));
    let out = run(dir.path(), &between("verify", &source, &relative, &[]));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
}
