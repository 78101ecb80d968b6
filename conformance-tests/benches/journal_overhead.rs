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
//! size, default 16). It prints p50/p99 latency,
//! throughput and the ratios; report them with the machine and the date.

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
    }
}

fn patch(i: usize) -> UserPatch {
    UserPatch {
        nickname: Some(Some(format!("n{i}"))),
        ..Default::default()
    }
}

fn line(name: &str, run: &Run, base: f64) {
    println!(
        "{name:<44} p50 {:>8.2} ms  p99 {:>8.2} ms  {:>8.0} writes/s  ratio {:.2}",
        run.percentile(0.5).as_secs_f64() * 1e3,
        run.percentile(0.99).as_secs_f64() * 1e3,
        run.throughput(),
        base / run.throughput()
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
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(pool_size())
        .connect(pg.url())
        .await
        .unwrap();
    let primary = adapter_sqlx::SqlxStore::from_postgres_pool(pool);
    primary.migrate().await.unwrap();
    let secondary = adapter_sqlx::connect(my.url()).await.unwrap();
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
        "{writes} user updates by {CALLERS} callers; primary PostgreSQL (pool of {}), secondary MariaDB (sqlx)",
        pool_size()
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
    println!(
        "blocking passthrough: {:.0} writes/s, ratio {:.2} against by hand",
        blocked.throughput(),
        hand / blocked.throughput()
    );
}
