//! The binary on PostgreSQL and MariaDB: backfill then verify across
//! databases and backends. Each test gets fresh databases (a `skipped:` line
//! when a server is missing, a failure with SWITCHYARD_REQUIRE_DATABASES=1).

mod common;

use common::*;

/// Seeds `source`, backfills it into `target`, verifies, and reruns.
fn round_trip(dir: &std::path::Path, source: &str, target: &str) {
    run_ok(dir, &["migrate", "--target", source]);
    seed(dir, source, 2, 60, &["--seed", "9"]);
    let first = json(&run_ok(
        dir,
        &between(
            "backfill",
            source,
            target,
            &["--batch-size", "50", "--json"],
        ),
    ));
    let (copied, skipped, failed) = backfill_totals(&first);
    assert!(copied > 300 && skipped == 0 && failed == 0, "{first}");
    let report = json(&run_ok(
        dir,
        &between("verify", source, target, &["--json"]),
    ));
    assert_eq!(report["identical"], true);
    for (entity, s, t) in verify_counts(&report) {
        assert!(s > 0 && s == t, "{entity}: {s} vs {t}");
    }
    let second = json(&run_ok(
        dir,
        &between("backfill", source, target, &["--json"]),
    ));
    assert_eq!(backfill_totals(&second), (0, copied, 0));
}

#[test]
fn postgres_to_mariadb_and_back_across_backends() {
    let (Some(pg), Some(my), Some(pg2)) = (postgres(), mysql(), postgres()) else {
        return;
    };
    let dir = temp_dir();
    round_trip(
        dir.path(),
        &store_url(backend(0), &pg),
        &store_url(backend(1), &my),
    );
    // MariaDB back into a fresh PostgreSQL through a third backend.
    let back = store_url(backend(2), &pg2);
    run_ok(
        dir.path(),
        &between("backfill", &store_url(backend(1), &my), &back, &[]),
    );
    run_ok(
        dir.path(),
        &between("verify", &store_url(backend(0), &pg), &back, &[]),
    );
}

#[test]
fn sqlite_to_postgres_and_mariadb_to_sqlite() {
    let (Some(pg), Some(my)) = (postgres(), mysql()) else {
        return;
    };
    let dir = temp_dir();
    let file = sqlite(backend(1), dir.path(), "s.db");
    round_trip(dir.path(), &file, &store_url(backend(2), &pg));
    run_ok(
        dir.path(),
        &between(
            "backfill",
            &store_url(backend(0), &pg),
            &store_url(backend(0), &my),
            &[],
        ),
    );
    let back = sqlite(backend(2), dir.path(), "back.db");
    run_ok(
        dir.path(),
        &between("backfill", &store_url(backend(0), &my), &back, &[]),
    );
    run_ok(dir.path(), &between("verify", &file, &back, &[]));
    // Through every hop the data stayed identical.
    let out = run(
        dir.path(),
        &between("verify", &file, &store_url(backend(1), &my), &[]),
    );
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn an_unknown_database_on_a_live_server_is_a_clear_error() {
    let Some(pg) = postgres() else {
        return;
    };
    let dir = temp_dir();
    let missing = pg
        .url()
        .rsplit_once('/')
        .map(|(server, _)| format!("{}+{server}/sy_does_not_exist", backend(0)))
        .unwrap();
    let out = run(
        dir.path(),
        &between("verify", &missing, &store_url(backend(0), &pg), &[]),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("cannot connect"), "{}", stderr(&out));
}
