//! A keyset scan of a large table costs the same per page at its end as at
//! its start (linear in the table size overall). Ignored by default because
//! it seeds many rows; run it with
//! `SWITCHYARD_SCAN_ROWS=1000000 cargo test -p switchyard-identity-seaorm --release --all-features --test keyset_scan -- --ignored --nocapture`
//! (`SWITCHYARD_SCAN_URL` picks the database; SQLite in memory by default).

// Test code: a failed expectation panics, like any assertion.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use adapter_interfaces::{ListParams, Log, Sort, TenantInsert, Timestamp};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "seeds a large table; run by hand"]
async fn keyset_scan_is_linear() {
    let rows: usize = std::env::var("SWITCHYARD_SCAN_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    let url = std::env::var("SWITCHYARD_SCAN_URL").unwrap_or_else(|_| "sqlite::memory:".into());
    let store = adapter_seaorm::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    let db = store.adapters();
    let tenant = format!("scan{}", std::process::id());
    db.tenants
        .create(TenantInsert {
            id: Some(tenant.clone()),
            friendly_name: "Scan".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let start = Timestamp::now().plus_millis(-(rows as i64));
    let seeding = Instant::now();
    for chunk in (0..rows).collect::<Vec<_>>().chunks(10_000) {
        let logs: Vec<Log> = chunk
            .iter()
            .map(|n| {
                serde_json::from_value(serde_json::json!({
                    "log_id": format!("log{n:08}"), "type": "s",
                    // Ties every 4 rows, so that the key tie-break matters.
                    "date": start.plus_millis((*n / 4) as i64).to_canonical_string(),
                    "details": {"n": n}
                }))
                .unwrap()
            })
            .collect();
        db.logs.upsert_many(&tenant, logs).await.unwrap();
    }
    println!("seeded {rows} logs in {:?}", seeding.elapsed());
    for sort in [None, Some(Sort::desc("date"))] {
        let mut params = ListParams::default().with_per_page(1000);
        params.sort = sort.clone();
        let mut times: Vec<Duration> = Vec::new();
        let mut seen = 0;
        let scan = Instant::now();
        loop {
            let page_start = Instant::now();
            let page = db.logs.list(&tenant, &params).await.unwrap();
            times.push(page_start.elapsed());
            seen += page.items.len();
            match page.next {
                Some(next) => params = params.with_from(next),
                None => break,
            }
        }
        assert_eq!(seen, rows);
        let k = 10.min(times.len() / 2).max(1);
        let first: Duration = times[..k].iter().sum();
        let last: Duration = times[times.len() - k..].iter().sum();
        println!(
            "sort {sort:?}: {} pages in {:?}; first {k} pages {:?}, last {k} pages {:?}",
            times.len(),
            scan.elapsed(),
            first,
            last
        );
        assert!(
            last < first * 4 + Duration::from_millis(50),
            "the scan slows down: {first:?} then {last:?}"
        );
    }
}
