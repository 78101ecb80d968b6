//! A keyset scan over a large table costs the same per page at the end as at
//! the start (linear in all). Ignored by default (it writes 200k rows); run with
//! `SWITCHYARD_SCALE_URL=postgres://… cargo test -p switchyard-identity-diesel --all-features --test keyset_scale -- --ignored --nocapture`
//! (any URL `connect` accepts; an in-memory SQLite database without it).

use std::time::Instant;

use adapter_interfaces::{ListParams, Sort, TenantInsert, Timestamp, User};

const ROWS: usize = 200_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "writes 200k rows"]
async fn keyset_scan_is_linear() {
    let url = std::env::var("SWITCHYARD_SCALE_URL").unwrap_or_else(|_| "sqlite::memory:".into());
    let store = adapter_diesel::connect(&url).await.expect("connect");
    store.migrate().await.expect("migrate");
    let db = store.adapters();
    let tenant = db
        .tenants
        .create(TenantInsert {
            friendly_name: "Scale".into(),
            ..Default::default()
        })
        .await
        .expect("tenant");
    let now = Timestamp::now();
    let started = Instant::now();
    for chunk in 0..ROWS / 10_000 {
        let users: Vec<User> = (0..10_000)
            .map(|i| {
                let n = chunk * 10_000 + i;
                serde_json::from_value(serde_json::json!({
                    "user_id": format!("auth0|{n:08}"),
                    "email": format!("u{n}@example.com"),
                    "provider": "auth0",
                    "connection": "db",
                    "created_at": now.plus_millis((n % 5000) as i64).to_string(),
                    "updated_at": now.to_string(),
                }))
                .expect("user")
            })
            .collect();
        db.users
            .upsert_many(&tenant.id, users)
            .await
            .expect("upsert_many");
    }
    println!("upsert_many: {ROWS} users in {:?}", started.elapsed());

    for sort in [None, Some(Sort::asc("created_at"))] {
        let mut params = ListParams::default().with_per_page(1000);
        if let Some(sort) = &sort {
            params = params.with_sort(sort.clone());
        }
        let mut seen = 0;
        let mut page_times = Vec::new();
        loop {
            let started = Instant::now();
            let page = db.users.list(&tenant.id, &params).await.expect("page");
            page_times.push(started.elapsed());
            seen += page.items.len();
            match page.next {
                Some(next) => params = params.with_from(next),
                None => break,
            }
        }
        assert_eq!(seen, ROWS);
        let first: std::time::Duration = page_times.iter().take(20).sum();
        let last: std::time::Duration = page_times.iter().rev().take(20).sum();
        println!(
            "{sort:?}: {} pages; first 20 {first:?}, last 20 {last:?}",
            page_times.len()
        );
        assert!(
            last < first * 4 + std::time::Duration::from_millis(200),
            "later pages cost more: {first:?} vs {last:?}"
        );
    }
}
