//! A keyset scan of a large table costs the same per page at its end as at
//! its start. Ignored by default (it writes a million rows); run with
//! `cargo test -p switchyard-identity-sqlx --features postgres --test scale -- --ignored --nocapture`
//! (`SWITCHYARD_SCALE_ROWS` sets the size, `SWITCHYARD_SCALE_DB` picks `sqlite`,
//! `postgres` or `mysql`; `SWITCHYARD_SCALE_KEEP=1` keeps the database for EXPLAIN).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Instant;

use adapter_interfaces::{ListParams, Record, Sort, TenantInsert, Timestamp, User, UserInsert};

async fn scan(fresh: &common::Fresh, sort: Option<Sort>, rows: usize) {
    let db = fresh.store.adapters();
    let per_page = 1000;
    let mut params = ListParams::default().with_per_page(per_page);
    params.sort = sort.clone();
    let started = Instant::now();
    let mut page_times = Vec::new();
    let mut seen = 0;
    loop {
        let t = Instant::now();
        let page = db.users.list("big", &params).await.unwrap();
        page_times.push(t.elapsed());
        seen += page.items.len();
        match page.next {
            Some(next) => {
                params = ListParams {
                    from: Some(next),
                    page: 0,
                    ..params.clone()
                }
            }
            None => break,
        }
    }
    assert_eq!(seen, rows);
    let n = page_times.len();
    let tenth = (n / 10).max(1);
    let first: f64 = page_times[..tenth]
        .iter()
        .map(|d| d.as_secs_f64())
        .sum::<f64>()
        / tenth as f64;
    let last: f64 = page_times[n - tenth..]
        .iter()
        .map(|d| d.as_secs_f64())
        .sum::<f64>()
        / tenth as f64;
    println!(
        "{sort:?}: {seen} rows in {n} pages, {:.1?} total; mean page {:.2} ms in the first tenth, {:.2} ms in the last",
        started.elapsed(),
        first * 1e3,
        last * 1e3
    );
    // Quadratic scans get slower page after page; linear ones do not.
    assert!(
        last < first * 3.0 + 0.005,
        "pages slow down: {first} s -> {last} s"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "writes a million rows"]
async fn keyset_scan_is_linear() {
    let rows: usize = std::env::var("SWITCHYARD_SCALE_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let fresh = match std::env::var("SWITCHYARD_SCALE_DB").as_deref() {
        #[cfg(feature = "postgres")]
        Ok("postgres") => common::postgres().await,
        #[cfg(feature = "mysql")]
        Ok("mysql") => common::mysql().await,
        _ => common::sqlite_file().await,
    };
    let Some(fresh) = fresh else { return };
    let db = fresh.store.adapters();
    db.tenants
        .create(TenantInsert {
            id: Some("big".into()),
            friendly_name: "Big".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let started = Instant::now();
    let base = Timestamp::from_millis(1_700_000_000_000).unwrap();
    for chunk in (0..rows).collect::<Vec<_>>().chunks(20_000) {
        let users: Vec<User> = chunk
            .iter()
            .map(|i| {
                let insert = UserInsert {
                    user_id: Some(format!("auth0|{i:08}")),
                    email: Some(format!("u{i}@example.com")),
                    connection: "db".into(),
                    created_at: Some(base.plus_millis((*i as i64 * 7919) % 100_000_000)),
                    ..Default::default()
                };
                User::from_insert(insert, base).unwrap()
            })
            .collect();
        db.users.upsert_many("big", users).await.unwrap();
    }
    println!(
        "wrote {rows} users with upsert_many in {:.1?}",
        started.elapsed()
    );
    scan(&fresh, None, rows).await;
    scan(&fresh, Some(Sort::desc("created_at")), rows).await;
    scan(&fresh, Some(Sort::asc("email")), rows).await;
    if std::env::var("SWITCHYARD_SCALE_KEEP").is_ok() {
        println!("kept the database: {}", fresh.url);
        fresh.keep();
    } else {
        fresh.finish().await;
    }
}
