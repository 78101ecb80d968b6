//! The journal contract suite ([`conformance_tests::journal`]) against the
//! in-memory journal and every backend's journal on every database: SQLite
//! (a file, so that several connections really race), PostgreSQL and
//! MariaDB (fresh databases from `SWITCHYARD_POSTGRES_URL` /
//! `SWITCHYARD_MYSQL_URL`; skipped with a notice when absent). Run one
//! configuration with its module's name: `cargo test --test journal -- sqlx_postgres`.

#![allow(clippy::expect_used)]

mod memory {
    async fn fresh() -> Option<conformance_tests::TestStore> {
        Some(conformance_tests::TestStore::new(
            adapter_interfaces::memory::adapters(),
        ))
    }

    conformance_tests::journal_suite!(fresh);
}

/// A module `$module` running the suite on backend crate `$krate` over the
/// database `$database` provisions, connected and migrated the way an
/// application would.
macro_rules! journal_on {
    ($module:ident, $krate:ident, $database:expr) => {
        mod $module {
            async fn fresh() -> Option<conformance_tests::TestStore> {
                let db: conformance_tests::provision::TestDatabase = $database?;
                let store = $krate::connect(db.url()).await.expect("connect");
                store.migrate().await.expect("migrate");
                Some(conformance_tests::TestStore::new(store.adapters()).with_guard(db))
            }

            conformance_tests::journal_suite!(fresh);
        }
    };
}

journal_on!(
    sqlx_sqlite,
    adapter_sqlx,
    Some(conformance_tests::provision::sqlite_file())
);
journal_on!(
    sqlx_postgres,
    adapter_sqlx,
    conformance_tests::provision::postgres().await
);
journal_on!(
    sqlx_mysql,
    adapter_sqlx,
    conformance_tests::provision::mysql().await
);
journal_on!(
    seaorm_sqlite,
    adapter_seaorm,
    Some(conformance_tests::provision::sqlite_file())
);
journal_on!(
    seaorm_postgres,
    adapter_seaorm,
    conformance_tests::provision::postgres().await
);
journal_on!(
    seaorm_mysql,
    adapter_seaorm,
    conformance_tests::provision::mysql().await
);
journal_on!(
    diesel_sqlite,
    adapter_diesel,
    Some(conformance_tests::provision::sqlite_file())
);
journal_on!(
    diesel_postgres,
    adapter_diesel,
    conformance_tests::provision::postgres().await
);
journal_on!(
    diesel_mysql,
    adapter_diesel,
    conformance_tests::provision::mysql().await
);

/// What the journal costs per write on PostgreSQL: begin + finish + settle
/// of one key (three statements, as the passthrough's fast path runs them)
/// against one plain single-row INSERT, through the same sqlx pool.
/// A measurement, not a test: `cargo test --test journal -- --ignored --nocapture journal_cost`.
#[test]
#[ignore = "a measurement: run it by name"]
fn journal_cost_on_postgres() {
    use std::time::{Duration, Instant};

    use adapter_interfaces::EntityKind;
    use adapter_interfaces::journal::{Fence, JournalKey, Subject};

    const ROUNDS: usize = 2000;
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let Some(db) = conformance_tests::provision::postgres().await else {
            return;
        };
        let store = adapter_sqlx::connect(db.url()).await.expect("connect");
        store.migrate().await.expect("migrate");
        let journal = store.adapters().journal;
        let pool = sqlx::PgPool::connect(db.url()).await.expect("pool");
        sqlx::query("CREATE TABLE bench (id BIGINT PRIMARY KEY, body TEXT NOT NULL)")
            .execute(&pool)
            .await
            .expect("create");
        let fence = Fence {
            scope: "default".into(),
            generation: 0,
            stage: "dual_write".into(),
        };
        let summary = |mut laps: Vec<Duration>| {
            laps.sort();
            let p = |q: f64| laps[((laps.len() as f64 - 1.0) * q) as usize].as_micros();
            let mean = laps.iter().sum::<Duration>().as_micros() / laps.len() as u128;
            (mean, p(0.5), p(0.99))
        };
        let mut journal_laps = Vec::new();
        let mut insert_laps = Vec::new();
        for round in 0..ROUNDS {
            let key = JournalKey::new(
                "new",
                "t1",
                Subject::Record {
                    entity: EntityKind::User,
                    key: format!("u{round}"),
                },
            );
            let keys = std::slice::from_ref(&key);
            let start = Instant::now();
            journal
                .begin(&fence, keys, Duration::from_secs(30))
                .await
                .expect("begin");
            let claims = journal
                .finish("bench", keys, Duration::from_secs(30))
                .await
                .expect("finish");
            for claim in &claims {
                assert!(journal.settle(claim).await.expect("settle"));
            }
            journal_laps.push(start.elapsed());

            let start = Instant::now();
            sqlx::query("INSERT INTO bench (id, body) VALUES ($1, $2)")
                .bind(round as i64)
                .bind("a user record of a realistic size")
                .execute(&pool)
                .await
                .expect("insert");
            insert_laps.push(start.elapsed());
        }
        let (jm, j50, j99) = summary(journal_laps);
        let (im, i50, i99) = summary(insert_laps);
        println!(
            "journal begin+finish+settle: mean {jm} µs, p50 {j50} µs, p99 {j99} µs; \
             plain INSERT: mean {im} µs, p50 {i50} µs, p99 {i99} µs; ratio (mean) {:.2}x",
            jm as f64 / im as f64
        );
        pool.close().await;
    });
}
