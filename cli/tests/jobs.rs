//! Issue 14: `switchyard backfill --jobs N` copies several batches at once,
//! of several tenants and of one tenant's successive pages.
//! Driven through the binary into PostgreSQL and MariaDB, as an operator
//! runs it: the copy is identical per `switchyard verify`, a run SIGKILLed
//! again and again at random moments resumes exactly (every record counted
//! once, a rerun copies nothing), and `--jobs 1` still copies as before.
//! Each test gets fresh databases (a `skipped:` line when a server is
//! missing, a failure with SWITCHYARD_REQUIRE_DATABASES=1).

mod common;

use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::*;

/// The verify report of `source` against `target`, which must be identical;
/// returns the number of source records.
fn identical(dir: &Path, source: &str, target: &str) -> u64 {
    let report = json(&run_quiet(
        dir,
        &between("verify", source, target, &["--json"]),
    ));
    assert_eq!(
        report["identical"],
        true,
        "not identical: {}",
        verify_summary(&report)
    );
    let counts = verify_counts(&report);
    for (entity, s, t) in &counts {
        assert!(*s > 0 && s == t, "{entity}: {s} vs {t}");
    }
    counts.iter().map(|(_, s, _)| s).sum()
}

/// Backfills `source` into `target` with `--jobs 4`, verifies, and reruns.
fn four_jobs(dir: &Path, source: &str, target: &str) {
    let first = json(&run_ok(
        dir,
        &between(
            "backfill",
            source,
            target,
            &["--jobs", "4", "--batch-size", "40", "--json"],
        ),
    ));
    let (copied, skipped, failed) = backfill_totals(&first);
    assert_eq!((skipped, failed), (0, 0), "{first}");
    let records = identical(dir, source, target);
    assert_eq!(copied, records, "every record copied once");
    let second = json(&run_ok(
        dir,
        &between("backfill", source, target, &["--jobs", "4", "--json"]),
    ));
    assert_eq!(backfill_totals(&second), (0, records, 0));
}

#[test]
fn four_jobs_copy_a_multi_tenant_store_into_postgres_and_mariadb_identically() {
    let (Some(pg), Some(my)) = (postgres(), mysql()) else {
        return;
    };
    let (dir, source, _) = seeded_source(0, 7, 60);
    four_jobs(dir.path(), &source, &store_url(backend(1), &pg));
    four_jobs(dir.path(), &source, &store_url(backend(2), &my));
    // And between the two servers: MariaDB's copy into a fresh PostgreSQL.
    let Some(pg2) = postgres() else {
        return;
    };
    four_jobs(
        dir.path(),
        &store_url(backend(2), &my),
        &store_url(backend(0), &pg2),
    );
}

/// A small pseudo-random sequence (xorshift), seeded from the clock and
/// printed, so that a failing run can be told apart.
struct Moments(u64);

impl Moments {
    fn new() -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64);
        eprintln!("kill moments seeded with {nanos}");
        Self(nanos | 1)
    }

    /// A duration between `low` and `high` milliseconds.
    fn between(&mut self, low: u64, high: u64) -> Duration {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        Duration::from_millis(low + self.0 % (high - low))
    }
}

/// Runs a `--jobs 4` backfill of `source` (holding `tenants` tenants) into
/// `target`, SIGKILLs it at random moments `kills` times (resuming each
/// time), lets the last run finish, and checks that the copy is identical
/// and counted exactly.
fn killed_again_and_again(dir: &Path, source: &str, target: &str, tenants: usize, kills: usize) {
    const BATCH: u64 = 20;
    let checkpoint = dir.join("cp.json");
    let args = between(
        "backfill",
        source,
        target,
        &[
            "--jobs",
            "4",
            "--batch-size",
            "20",
            "--checkpoint",
            "cp.json",
            "--json",
        ],
    );
    let mut moments = Moments::new();
    let (mut killed, mut widest) = (0, 0);
    // The report of the run that finished (a run may end before its kill).
    let mut finished = None;
    while killed < kills {
        let mut child = spawn_logged(dir, &args, "run.json", "run.err");
        // Into the run: past the schema check and the first checkpoint
        // (a kill before any checkpoint tests nothing), then a random moment.
        let started = Instant::now();
        while !checkpoint.exists() && child.try_wait().expect("status").is_none() {
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "no checkpoint"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        // Later and later, so that the kills reach the later entities too.
        std::thread::sleep(moments.between(50, 800 + 1200 * killed as u64));
        if let Some(status) = child.try_wait().expect("status") {
            assert!(status.success(), "{}", log_text(dir, "run.err"));
            finished = Some(serde_json::from_str(&log_text(dir, "run.json")).expect("a report"));
            break;
        }
        child.kill().expect("SIGKILL");
        child.wait().expect("wait");
        killed += 1;
        let saved: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&checkpoint).expect("a checkpoint"))
                .expect("the checkpoint is whole after a SIGKILL");
        assert_eq!(saved["format"], 2);
        let in_progress = saved["in_progress"].as_object().expect("scopes").len();
        assert!(in_progress <= 4.min(tenants), "{saved}");
        widest = widest.max(in_progress);
        eprintln!(
            "kill {killed}: {} at {} scopes in progress",
            saved["entity"], in_progress
        );
    }
    assert!(
        killed >= kills.min(3),
        "the backfill finished after {killed} kills: make the data bigger"
    );
    if tenants > 1 {
        assert!(widest > 1, "no kill found two scopes in progress at once");
    }
    let last: serde_json::Value = finished.unwrap_or_else(|| json(&run_ok(dir, &args)));
    assert_eq!(last["resumed"], true, "{last}");
    assert!(!checkpoint.exists(), "the checkpoint is removed at the end");
    let records = identical(dir, source, target);
    let (copied, skipped, failed) = backfill_totals(&last);
    assert_eq!(failed, 0);
    // Every source record counted exactly once over all the runs; a record
    // seen again is one whose batch was written but not yet in the
    // checkpoint when the run was killed: per kill, at most 4 batches (a
    // scope's batches in progress or done ahead of an earlier one) in each
    // scope in progress.
    assert_eq!(copied + skipped, records, "{last}");
    assert!(
        skipped <= killed as u64 * 4 * 4.min(tenants) as u64 * BATCH,
        "skipped {skipped} after {killed} kills"
    );
    eprintln!("{killed} kills: {copied} copied, {skipped} seen again, {records} records");
    let rerun = json(&run_ok(
        dir,
        &between("backfill", source, target, &["--jobs", "4", "--json"]),
    ));
    assert_eq!(backfill_totals(&rerun), (0, records, 0), "copied twice");
}

#[test]
fn a_four_jobs_backfill_killed_again_and_again_into_postgres_resumes_exactly() {
    let Some(pg) = postgres() else {
        return;
    };
    let (dir, source, _) = seeded_source(0, 10, 200);
    killed_again_and_again(dir.path(), &source, &store_url(backend(1), &pg), 10, 5);
}

#[test]
fn a_four_jobs_backfill_killed_again_and_again_into_mariadb_resumes_exactly() {
    let Some(my) = mysql() else {
        return;
    };
    let (dir, source, _) = seeded_source(0, 10, 200);
    killed_again_and_again(dir.path(), &source, &store_url(backend(2), &my), 10, 5);
}

/// One tenant: its successive pages are the only work copied side by side.
#[test]
fn a_four_jobs_backfill_of_one_tenant_killed_again_and_again_resumes_exactly() {
    let (Some(pg), Some(my)) = (postgres(), mysql()) else {
        return;
    };
    let (dir, source, _) = seeded_source(0, 1, 2000);
    killed_again_and_again(dir.path(), &source, &store_url(backend(0), &pg), 1, 4);
    std::fs::remove_file(dir.path().join("cp.json")).ok();
    killed_again_and_again(dir.path(), &source, &store_url(backend(1), &my), 1, 4);
}

#[test]
fn one_job_copies_one_tenant_at_a_time() {
    let Some(pg) = postgres() else {
        return;
    };
    let (dir, source, _) = seeded_source(0, 4, 200);
    let target = store_url(backend(0), &pg);
    let checkpoint = dir.path().join("cp.json");
    let args = between(
        "backfill",
        &source,
        &target,
        &[
            "--jobs",
            "1",
            "--batch-size",
            "10",
            "--checkpoint",
            "cp.json",
            "--json",
        ],
    );
    let mut child = switchyard(dir.path())
        .args(&args)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Every checkpoint it writes holds one scope in progress at most.
    let started = Instant::now();
    let mut seen = 0;
    while child.try_wait().unwrap().is_none() {
        assert!(started.elapsed() < Duration::from_secs(300), "too slow");
        if let Ok(text) = std::fs::read_to_string(&checkpoint)
            && let Ok(saved) = serde_json::from_str::<serde_json::Value>(&text)
        {
            let in_progress = saved["in_progress"].as_object().map_or(0, |m| m.len());
            assert!(in_progress <= 1, "{saved}");
            seen += 1;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(seen > 10, "only {seen} checkpoints read");
    let records = identical(dir.path(), &source, &target);
    let rerun = json(&run_ok(
        dir.path(),
        &between("backfill", &source, &target, &["--jobs", "1", "--json"]),
    ));
    assert_eq!(backfill_totals(&rerun), (0, records, 0));
}
