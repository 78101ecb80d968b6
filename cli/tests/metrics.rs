//! The Prometheus endpoint (issue 17): a running `switchyard traffic
//! --metrics-addr` serves the passthrough's figures on `GET /metrics`.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{backend, run_ok, spawn_logged, sqlite, temp_dir};

/// `GET /metrics` over plain HTTP/1.1, or `None` while nothing answers.
fn scrape(port: u16) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    Some(response)
}

#[test]
fn a_running_traffic_serves_the_passthroughs_metrics() {
    let dir = temp_dir();
    let old = sqlite(backend(0), dir.path(), "old.db");
    let new = sqlite(backend(1), dir.path(), "new.db");
    run_ok(dir.path(), &["migrate", "--target", &old]);
    run_ok(dir.path(), &["migrate", "--target", &new]);
    run_ok(
        dir.path(),
        &["stage", "set", "dual-write", "--old", &old, "--new", &new],
    );
    // A free port: bound, then released for the binary.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let addr = format!("127.0.0.1:{port}");
    let mut child = spawn_logged(
        dir.path(),
        &[
            "traffic",
            "--old",
            &old,
            "--new",
            &new,
            "--duration",
            "30s",
            "--users",
            "10",
            "--metrics-addr",
            &addr,
        ],
        "traffic.out",
        "traffic.err",
    );
    let deadline = Instant::now() + Duration::from_secs(25);
    let mut last = String::new();
    let found = loop {
        if let Some(body) = scrape(port) {
            if body.contains("switchyard_passthrough_calls_total{")
                && body.contains("switchyard_passthrough_latency_seconds_bucket{")
            {
                break true;
            }
            last = body;
        }
        if Instant::now() > deadline {
            break false;
        }
        std::thread::sleep(Duration::from_millis(300));
    };
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        found,
        "no passthrough metrics on /metrics; last answer:\n{last}"
    );
    assert!(
        last.is_empty() || last.starts_with("HTTP/1.1 200"),
        "{last}"
    );
}

/// Every metric the Grafana dashboard queries is one the passthrough records.
#[test]
fn the_dashboard_queries_the_passthroughs_metric_names() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dashboard = std::fs::read_to_string(root.join("docs/grafana/passthrough.json"))
        .expect("docs/grafana/passthrough.json");
    let parsed: serde_json::Value = serde_json::from_str(&dashboard).expect("valid JSON");
    assert!(parsed["panels"].as_array().is_some_and(|p| !p.is_empty()));
    let stats = std::fs::read_to_string(root.join("passthrough/src/stats.rs")).expect("stats.rs");
    let mut names: Vec<&str> = dashboard
        .match_indices("switchyard_passthrough_")
        .map(|(at, _)| {
            let rest = &dashboard[at..];
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            rest[..end].trim_end_matches("_bucket")
        })
        // `switchyard_passthrough_*` in the description names them all.
        .filter(|name| !name.ends_with('_'))
        .collect();
    names.sort_unstable();
    names.dedup();
    assert!(names.len() >= 4, "{names:?}");
    for name in names {
        assert!(
            stats.contains(&format!("\"{name}\"")),
            "{name} is not recorded"
        );
    }
}
