//! Overhead of a non-blocking passthrough over the bare primary, on the
//! in-memory adapter (where the store itself costs least, so the overhead
//! shows most). Run with `cargo bench -p switchyard-identity-passthrough --bench overhead`.

use std::time::{Duration, Instant};

use adapter_interfaces::{DataAdapters, TenantInsert, UserInsert, memory};
use passthrough::{Passthrough, ReadPolicy, SecondaryOptions};

const N: usize = 20_000;

async fn creates(db: &DataAdapters, tenant: &str) -> (Duration, Vec<String>) {
    let started = Instant::now();
    let mut ids = Vec::with_capacity(N);
    // No email or username: the in-memory adapter's unique-key scan would dominate.
    for _ in 0..N {
        let user = db
            .users
            .create(
                tenant,
                UserInsert {
                    connection: "db".into(),
                    ..Default::default()
                },
            )
            .await
            .map(|u| u.user_id);
        if let Ok(id) = user {
            ids.push(id);
        }
    }
    (started.elapsed(), ids)
}

async fn gets(db: &DataAdapters, tenant: &str, ids: &[String]) -> Duration {
    let started = Instant::now();
    for id in ids {
        let _ = db.users.get(tenant, id).await;
    }
    started.elapsed()
}

async fn tenant(db: &DataAdapters) -> String {
    db.tenants
        .create(TenantInsert {
            friendly_name: "Bench".into(),
            ..Default::default()
        })
        .await
        .map(|t| t.id)
        .unwrap_or_default()
}

/// Waits for replication; a bench that cannot finish it reports and goes on.
async fn flush(pt: &Passthrough) {
    if let Err(error) = pt.flush().await {
        eprintln!("flush: {error}");
    }
}

fn per_op(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6 / N as f64
}

async fn run() {
    let bare = memory::adapters();
    let t = tenant(&bare).await;
    let (bare_create, ids) = creates(&bare, &t).await;
    let bare_get = gets(&bare, &t, &ids).await;

    let (primary, secondary) = (memory::adapters(), memory::adapters());
    let pt = Passthrough::builder("primary", primary)
        .secondary("secondary", secondary, SecondaryOptions::non_blocking())
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let db = pt.adapters();
    let t = tenant(&db).await;
    let started = Instant::now();
    let (pt_create, ids) = creates(&db, &t).await;
    flush(&pt).await;
    let pt_create_flushed = started.elapsed();
    let pt_get = gets(&db, &t, &ids).await;

    let shadow = Passthrough::builder("primary", memory::adapters())
        .secondary(
            "secondary",
            memory::adapters(),
            SecondaryOptions::non_blocking(),
        )
        .read_policy(ReadPolicy::default().with_shadow_reads(1.0))
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let sdb = shadow.adapters();
    let st = tenant(&sdb).await;
    let (_, sids) = creates(&sdb, &st).await;
    flush(&shadow).await;
    let shadow_get = gets(&sdb, &st, &sids).await;

    println!("{N} operations each, µs per operation (in-memory adapter):");
    println!(
        "  create  bare {:>7.2}  passthrough {:>7.2} (caller)  {:>7.2} (until replicated)",
        per_op(bare_create),
        per_op(pt_create),
        per_op(pt_create_flushed)
    );
    println!(
        "  get     bare {:>7.2}  passthrough {:>7.2}  with every read shadowed {:>7.2}",
        per_op(bare_get),
        per_op(pt_get),
        per_op(shadow_get)
    );
}

fn main() {
    for (name, runtime) in [
        (
            "current-thread",
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build(),
        ),
        (
            "multi-thread",
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build(),
        ),
    ] {
        println!("runtime: {name}");
        match runtime {
            Ok(runtime) => runtime.block_on(run()),
            Err(e) => eprintln!("no runtime: {e}"),
        }
    }
}
