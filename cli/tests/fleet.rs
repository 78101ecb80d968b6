//! A migration rehearsed as an operator would, through the binary: three
//! `switchyard traffic` instances write the same tenants through a
//! dual-write passthrough; one is SIGKILLed and restarted several times; the
//! new store's database is cut off for a few seconds (a loopback proxy that
//! refuses connections) while they write; the stage is switched from
//! dual-write to live part-way; then the traffic stops, `switchyard relay
//! --until-empty` drains the journal and `switchyard verify` must find the
//! two stores identical, with no dead letter left.
//!
//! The instances reach the new store through another backend than sqlx
//! (Diesel, SeaORM), and one of them is restarted while the new store is
//! cut off: an instance must start with its secondary down, whatever the
//! backend.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use conformance_tests::provision::TestDatabase;
use conformance_tests::proxy::TcpProxy;

fn host_port(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = &rest[..rest.find(['/', '?']).unwrap_or(rest.len())];
    authority
        .rsplit_once('@')
        .map_or(authority, |(_, h)| h)
        .to_owned()
}

/// Starts one traffic instance (its output goes to `log`).
fn traffic(dir: &std::path::Path, old: &str, new: &str, seed: u64, seconds: f64) -> Child {
    let log = std::fs::File::create(dir.join(format!("traffic-{seed}.log"))).expect("log file");
    let mut command: Command = switchyard(dir);
    command
        .args([
            "traffic",
            "--old",
            old,
            "--new",
            new,
            "--writers",
            "3",
            "--tenants",
            "2",
            "--users",
            "60",
            "--lease",
            "2s",
            "--seed",
            &seed.to_string(),
            "--duration",
            &format!("{seconds:.1}"),
        ])
        .stdout(Stdio::from(log.try_clone().expect("log")))
        .stderr(Stdio::from(log));
    command.spawn().expect("cannot start switchyard traffic")
}

/// `new_backend`: the backend the instances reach the new store through.
fn rehearse(old_db: &TestDatabase, new_db: &TestDatabase, new_backend: &str, seed: u64) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let proxy = runtime
        .block_on(TcpProxy::start(&host_port(new_db.url())))
        .expect("proxy");
    let dir = temp_dir();
    let dir = dir.path();
    let old = format!("sqlx+{}", old_db.url());
    let new = format!("sqlx+{}", new_db.url());
    let new_behind_proxy = format!("{new_backend}+{}", proxy.rewrite(new_db.url()));
    run_ok(dir, &["migrate", "--target", &old]);
    run_ok(dir, &["migrate", "--target", &new]);
    run_ok(
        dir,
        &["stage", "set", "dual-write", "--old", &old, "--new", &new],
    );

    let started = Instant::now();
    let total = 14.0;
    let mut instances: Vec<Child> = (0..3)
        .map(|i| traffic(dir, &old, &new_behind_proxy, seed * 10 + i, total))
        .collect();
    let mut kills = 0;
    let mut restarts_while_cut = 0;
    let mut next_seed = seed * 10 + 3;
    let mut cut = false;
    let mut switched = false;
    while started.elapsed() < Duration::from_secs_f64(total) {
        std::thread::sleep(Duration::from_millis(500));
        let t = started.elapsed().as_secs_f64();
        // SIGKILL instance 0 every ~2.5 s and start a new one in its place.
        if t > 1.5 + 2.5 * f64::from(kills) && kills < 4 && t < total - 3.0 {
            // An instance that already ended (one that could not start, say) failed.
            if let Some(status) = instances[0].try_wait().expect("try_wait") {
                panic!("a traffic instance ended before it was killed: {status:?}");
            }
            instances[0].kill().expect("SIGKILL");
            let _ = instances[0].wait();
            instances[0] = traffic(dir, &old, &new_behind_proxy, next_seed, total - t);
            next_seed += 1;
            kills += 1;
            restarts_while_cut += u32::from(proxy.is_cut());
        }
        if !cut && t > 3.0 {
            proxy.cut();
            cut = true;
        }
        if cut && proxy.is_cut() && t > 6.0 {
            proxy.restore();
        }
        if !switched && t > 8.0 {
            // Promoting the new store waits until it has caught up.
            run_ok(
                dir,
                &[
                    "stage",
                    "set",
                    "live",
                    "--old",
                    &old,
                    "--new",
                    &new,
                    "--timeout",
                    "60s",
                ],
            );
            switched = true;
        }
    }
    assert!(
        restarts_while_cut > 0,
        "no instance was restarted while the new store was down"
    );
    for mut instance in instances {
        let status = instance.wait().expect("wait");
        assert!(status.success(), "a traffic instance failed: {status:?}");
    }
    proxy.restore();
    let relay = run(
        dir,
        &["relay", "--old", &old, "--new", &new, "--until-empty"],
    );
    assert_eq!(relay.status.code(), Some(0), "dead letters remain");
    let status = json(&run_ok(
        dir,
        &["journal", "status", "--old", &old, "--new", &new, "--json"],
    ));
    assert_eq!(status["pending"], 0, "{status}");
    assert_eq!(status["dead"], 0, "{status}");
    assert_eq!(status["stage"]["stage"], "live", "{status}");
    let report = json(&run_ok(dir, &between("verify", &new, &old, &["--json"])));
    assert_eq!(report["identical"], true, "{report}");
    let mut writes = 0u64;
    for entry in std::fs::read_dir(dir).expect("dir").flatten() {
        let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
        if let Some(line) = text.lines().find(|l| l.starts_with("traffic: ")) {
            writes += line
                .split_whitespace()
                .nth(1)
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    let records: u64 = verify_counts(&report).iter().map(|(_, s, _)| s).sum();
    eprintln!(
        "rehearsal seed {seed} (new store through {new_backend}): {writes} operations by the instances that finished, {kills} SIGKILLs, 3 s outage of the new store, switch to live; verify: identical ({records} records)"
    );
    assert!(
        writes > 100 && records > 50,
        "too little traffic to mean anything"
    );
}

#[test]
fn a_fleet_rehearsal_loses_nothing_postgres_to_mariadb() {
    for seed in [1, 2] {
        let (Some(old), Some(new)) = (postgres(), mysql()) else {
            return;
        };
        rehearse(&old, &new, "diesel", seed);
    }
}

#[test]
fn a_fleet_rehearsal_loses_nothing_mariadb_to_postgres() {
    let (Some(old), Some(new)) = (mysql(), postgres()) else {
        return;
    };
    rehearse(&old, &new, "seaorm", 3);
}
