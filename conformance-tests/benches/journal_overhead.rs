//! What the durable journal costs, on real databases, side by side in one
//! run: 8 concurrent callers update users through
//!
//! - the bare primary (sqlx on PostgreSQL);
//! - a non-blocking passthrough (PostgreSQL primary, MariaDB secondary),
//!   timed until the callers return and until replication has completed;
//! - a blocking passthrough, against a hand-written "write the primary, then
//!   the secondary" loop over the same two stores.
//!
//! Run: `cargo bench -p switchyard-identity-conformance --bench journal_overhead`
//! (needs SWITCHYARD_POSTGRES_URL and SWITCHYARD_MYSQL_URL; `BENCH_WRITES`
//! sets the number of writes, default 4000; `BENCH_POOL` the primary's pool
//! size, default 16; `BENCH_RTT_MS` a network round trip between the
//! bench and each database, emulated by a loopback proxy that delays each
//! direction by half of it, default 0: straight to the servers). It prints
//! p50/p99 latency, the CPU each write cost the bench process and the two
//! servers (from `/proc`), throughput and the ratios; report them with the
//! machine and the date.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use adapter_interfaces::{DataAdapters, TenantInsert, UserInsert, UserPatch};
use conformance_tests::provision;
use passthrough::{OnFailure, Passthrough, SecondaryOptions};

const CALLERS: usize = 8;
const USERS: usize = 200;

/// The primary's pool: `BENCH_POOL`, default twice the callers.
fn pool_size() -> u32 {
    std::env::var("BENCH_POOL")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2 * CALLERS as u32)
}

struct Run {
    latencies: Vec<Duration>,
    wall: Duration,
    /// CPU the phase cost this process, PostgreSQL and MariaDB.
    cpu: Cpu,
}

/// CPU time in clock ticks (1/100 s on Linux) of this process and of every
/// PostgreSQL and MariaDB server process, read from `/proc` (zero where it
/// is not available). Other work on the same servers counts too: the
/// figures are for a quiet machine.
#[derive(Clone, Copy, Default)]
struct Cpu {
    bench: u64,
    postgres: u64,
    mariadb: u64,
}

impl Cpu {
    fn now() -> Self {
        let mut cpu = Cpu::default();
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return cpu;
        };
        let me = std::process::id().to_string();
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !name.bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            // `pid (comm) state ... utime stime` (fields 14 and 15).
            let Some((head, tail)) = stat.rsplit_once(") ") else {
                continue;
            };
            let comm = head.split_once(" (").map_or("", |(_, c)| c);
            let fields: Vec<&str> = tail.split_whitespace().collect();
            let ticks = fields
                .get(11)
                .and_then(|u| u.parse::<u64>().ok())
                .unwrap_or(0)
                + fields
                    .get(12)
                    .and_then(|s| s.parse::<u64>().ok())
                    .unwrap_or(0);
            if name == me {
                cpu.bench += ticks;
            } else if comm.starts_with("postgres") {
                cpu.postgres += ticks;
            } else if comm.starts_with("mariadbd") || comm.starts_with("mysqld") {
                cpu.mariadb += ticks;
            }
        }
        cpu
    }

    fn since(self, start: Cpu) -> Cpu {
        Cpu {
            bench: self.bench.saturating_sub(start.bench),
            postgres: self.postgres.saturating_sub(start.postgres),
            mariadb: self.mariadb.saturating_sub(start.mariadb),
        }
    }
}

impl Run {
    fn percentile(&self, p: f64) -> Duration {
        let mut sorted = self.latencies.clone();
        sorted.sort();
        let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
        sorted.get(index).copied().unwrap_or_default()
    }

    fn throughput(&self) -> f64 {
        self.latencies.len() as f64 / self.wall.as_secs_f64()
    }
}

async fn seed(db: &DataAdapters) {
    let _ = db
        .tenants
        .create(TenantInsert {
            id: Some("bench".into()),
            friendly_name: "Bench".into(),
            ..Default::default()
        })
        .await;
    for i in 0..USERS {
        let _ = db
            .users
            .create(
                "bench",
                UserInsert {
                    user_id: Some(format!("auth0|b{i}")),
                    email: Some(format!("b{i}@bench.example")),
                    connection: "db".into(),
                    ..Default::default()
                },
            )
            .await;
    }
}

/// `writes` updates by `CALLERS` concurrent callers through `write`.
async fn run<F, Fut>(writes: usize, write: F) -> Run
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let write = Arc::new(write);
    let cpu = Cpu::now();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for caller in 0..CALLERS {
        let write = write.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut i = caller;
            while i < writes {
                let t = Instant::now();
                write(i).await;
                latencies.push(t.elapsed());
                i += CALLERS;
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.unwrap());
    }
    Run {
        latencies,
        wall: started.elapsed(),
        cpu: Cpu::now().since(cpu),
    }
}

fn patch(i: usize) -> UserPatch {
    UserPatch {
        nickname: Some(Some(format!("n{i}"))),
        ..Default::default()
    }
}

fn line(name: &str, run: &Run, base: f64) {
    // Ticks of 10 ms, per write, in microseconds.
    let per_write = |ticks: u64| ticks as f64 * 10_000.0 / run.latencies.len().max(1) as f64;
    println!(
        "{name:<46} p50 {:>6.2} ms  p99 {:>6.2} ms  {:>6.0} writes/s  ratio {:.2}  CPU per write: bench {:>4.0} µs, PostgreSQL {:>4.0} µs, MariaDB {:>4.0} µs",
        run.percentile(0.5).as_secs_f64() * 1e3,
        run.percentile(0.99).as_secs_f64() * 1e3,
        run.throughput(),
        base / run.throughput(),
        per_write(run.cpu.bench),
        per_write(run.cpu.postgres),
        per_write(run.cpu.mariadb),
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let writes: usize = std::env::var("BENCH_WRITES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4000);
    let (Some(pg), Some(my)) = (provision::postgres().await, provision::mysql().await) else {
        println!("skipped: the benchmark needs PostgreSQL and MariaDB");
        return;
    };
    // The journal's steps and the fast-path copies share the primary's pool
    // with the callers: size it for both, as the deployment guide says
    // (the bare primary's 8 callers never use more than 8 of them).
    // With a round trip to emulate, both databases are reached through a
    // delaying proxy (kept alive for the whole run).
    let rtt = Duration::from_micros(
        std::env::var("BENCH_RTT_MS")
            .ok()
            .and_then(|v| v.parse::<f64>().ok())
            .map_or(0, |ms| (ms * 1000.0) as u64),
    );
    let through = |url: &str| {
        let url = url.to_owned();
        async move {
            if rtt.is_zero() {
                return (url, None);
            }
            let rest = url.split_once("://").map_or(url.as_str(), |(_, r)| r);
            let authority = &rest[..rest.find(['/', '?']).unwrap_or(rest.len())];
            let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            let proxy = conformance_tests::proxy::TcpProxy::start_with_latency(host, rtt / 2)
                .await
                .unwrap();
            (proxy.rewrite(&url), Some(proxy))
        }
    };
    let (pg_url, _pg_proxy) = through(pg.url()).await;
    let (my_url, _my_proxy) = through(my.url()).await;
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(pool_size())
        .connect(&pg_url)
        .await
        .unwrap();
    let primary = adapter_sqlx::SqlxStore::from_postgres_pool(pool);
    primary.migrate().await.unwrap();
    let secondary = adapter_sqlx::connect(&my_url).await.unwrap();
    secondary.migrate().await.unwrap();
    let (p, s) = (primary.adapters(), secondary.adapters());
    seed(&p).await;
    seed(&s).await;

    let db = p.clone();
    let bare = run(writes, move |i| {
        let db = db.clone();
        async move {
            db.users
                .update("bench", &format!("auth0|b{}", i % USERS), patch(i))
                .await
                .unwrap();
        }
    })
    .await;

    let (db1, db2) = (p.clone(), s.clone());
    let by_hand = run(writes, move |i| {
        let (db1, db2) = (db1.clone(), db2.clone());
        async move {
            let key = format!("auth0|b{}", i % USERS);
            let user = db1.users.update("bench", &key, patch(i)).await.unwrap();
            db2.users.upsert("bench", user).await.unwrap();
        }
    })
    .await;

    let non_blocking = Passthrough::builder("primary", p.clone())
        .secondary("secondary", s.clone(), SecondaryOptions::non_blocking())
        .build()
        .unwrap();
    let db = non_blocking.adapters();
    let replication_cpu = Cpu::now();
    let started = Instant::now();
    let callers = run(writes, move |i| {
        let db = db.clone();
        async move {
            db.users
                .update("bench", &format!("auth0|b{}", i % USERS), patch(i))
                .await
                .unwrap();
        }
    })
    .await;
    non_blocking.flush().await.unwrap();
    let replicated = Run {
        latencies: callers.latencies.clone(),
        wall: started.elapsed(),
        cpu: Cpu::now().since(replication_cpu),
    };

    let blocking = Passthrough::builder("primary", p.clone())
        .secondary(
            "secondary",
            s.clone(),
            SecondaryOptions::blocking(OnFailure::FailCall),
        )
        .build()
        .unwrap();
    let db = blocking.adapters();
    let blocked = run(writes, move |i| {
        let db = db.clone();
        async move {
            db.users
                .update("bench", &format!("auth0|b{}", i % USERS), patch(i))
                .await
                .unwrap();
        }
    })
    .await;

    println!(
        "{writes} user updates by {CALLERS} callers; primary PostgreSQL (pool of {}), secondary MariaDB (sqlx); round trip to each database: {rtt:?}{}",
        pool_size(),
        if rtt.is_zero() {
            " (loopback)"
        } else {
            " (emulated by a delaying proxy)"
        }
    );
    let base = bare.throughput();
    line("bare primary", &bare, base);
    line(
        "non-blocking passthrough, until callers return",
        &callers,
        base,
    );
    line(
        "non-blocking passthrough, until replicated",
        &replicated,
        base,
    );
    let hand = by_hand.throughput();
    line("primary then secondary, by hand", &by_hand, base);
    line("blocking passthrough", &blocked, base);
    println!(
        "blocking passthrough against by hand: ratio {:.2}",
        hand / blocked.throughput()
    );
}
