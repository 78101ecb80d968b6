//! The replication journal on real databases: what a passthrough owes an
//! unreachable secondary survives the process that owed it, and a stage
//! switch never promotes the store that misses it. The outage is real: the
//! secondary is reached through a loopback proxy that is cut and restored.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use adapter_interfaces::{DataAdapters, ListParams, TenantInsert, User, UserInsert, UserPatch};
use conformance_tests::provision::{self, TestDatabase};
use conformance_tests::proxy::TcpProxy;
use passthrough::{MigrationController, Passthrough, ReplicationOptions, Stage, SwitchError};

fn options() -> ReplicationOptions {
    ReplicationOptions {
        lease: Duration::from_secs(2),
        relay_poll: Duration::from_millis(50),
        flush_timeout: Duration::from_secs(60),
        follow_interval: Duration::from_millis(200),
        switch_timeout: Duration::from_secs(2),
        ..ReplicationOptions::default()
    }
}

async fn connect(url: &str) -> DataAdapters {
    let store = adapter_sqlx::connect(url).await.expect("connect");
    store.migrate().await.expect("migrate");
    store.adapters()
}

async fn users(db: &DataAdapters, tenant: &str) -> Vec<User> {
    let mut out = Vec::new();
    let mut params = ListParams::default().with_per_page(1000);
    loop {
        let page = db.users.list(tenant, &params).await.expect("list");
        out.extend(page.items);
        match page.next {
            Some(next) => params = ListParams::default().with_per_page(1000).with_from(next),
            None => return out,
        }
    }
}

fn host_port(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = &rest[..rest.find(['/', '?']).unwrap_or(rest.len())];
    authority
        .rsplit_once('@')
        .map_or(authority, |(_, h)| h)
        .to_owned()
}

/// The measured defect of issue 12: 200 updates (and 20 removals) made while
/// the secondary is unreachable, then the process dies; a new process over
/// the same stores must still know and copy all of them.
async fn restart_loses_nothing(old_db: TestDatabase, new_db: TestDatabase) {
    let proxy = TcpProxy::start(&host_port(new_db.url())).await.unwrap();
    let old = connect(old_db.url()).await;
    let new_direct = connect(new_db.url()).await;
    let tenant = "durable";
    {
        let controller = MigrationController::new(Stage::DualWrite);
        let first = Passthrough::migration(old.clone(), new_direct.clone(), controller.clone())
            .options(options())
            .build()
            .unwrap();
        controller.set_stage(Stage::DualWrite).await.unwrap();
        let db = first.adapters();
        db.tenants
            .create(TenantInsert {
                id: Some(tenant.into()),
                friendly_name: "Durable".into(),
                ..Default::default()
            })
            .await
            .unwrap();
        for i in 0..200 {
            db.users
                .create(
                    tenant,
                    UserInsert {
                        user_id: Some(format!("auth0|u{i}")),
                        email: Some(format!("u{i}@example.com")),
                        connection: "db".into(),
                        ..Default::default()
                    },
                )
                .await
                .unwrap();
        }
        first.flush().await.unwrap();
        assert_eq!(users(&new_direct, tenant).await.len(), 200);
    }

    // An instance that writes while the new store is cut off, then dies.
    proxy.cut();
    let old_url = old_db.url().to_owned();
    let proxied = proxy.rewrite(new_db.url());
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let old = adapter_sqlx::connect(&old_url).await.unwrap().adapters();
            let new = adapter_sqlx::connect_lazy(&proxied).unwrap().adapters();
            let controller = MigrationController::new(Stage::DualWrite);
            let doomed = Passthrough::migration(old, new, controller)
                .options(options())
                .build()
                .unwrap();
            let db = doomed.adapters();
            for i in 0..200 {
                let patch = UserPatch {
                    name: Some(Some(format!("changed during the outage {i}"))),
                    ..Default::default()
                };
                db.users
                    .update(tenant, &format!("auth0|u{i}"), patch)
                    .await
                    .unwrap();
            }
            for i in 0..20 {
                assert!(
                    db.users
                        .remove(tenant, &format!("auth0|u{i}"))
                        .await
                        .unwrap()
                );
            }
        });
        // The process dies: no flush, no goodbye.
        runtime.shutdown_background();
    })
    .join()
    .unwrap();

    // A new instance over the same stores knows what is owed.
    let new_proxied = adapter_sqlx::connect_lazy(&proxy.rewrite(new_db.url()))
        .unwrap()
        .adapters();
    let controller = MigrationController::new(Stage::DualWrite);
    let second = Passthrough::migration(old.clone(), new_proxied, controller.clone())
        .options(options())
        .build()
        .unwrap();
    let status = second.status().await;
    assert!(
        status.pending >= 200,
        "a restarted instance must see what is owed: {status:?}"
    );
    // Promoting the store that misses the writes is refused, and the stage stays.
    let refused = controller.set_stage(Stage::Live).await;
    assert!(
        matches!(refused, Err(SwitchError::Pending { .. })),
        "{refused:?}"
    );
    assert_eq!(controller.stage(), Stage::DualWrite);

    proxy.restore();
    second
        .flush()
        .await
        .expect("everything owed is copied once the store is back");
    let (on_old, on_new) = (users(&old, tenant).await, users(&new_direct, tenant).await);
    assert_eq!(on_old.len(), 180);
    assert_eq!(
        on_old, on_new,
        "the new store must have every update and removal"
    );
    let status = second.status().await;
    assert_eq!((status.pending, status.dead_letters), (0, 0), "{status:?}");
    controller
        .set_stage(Stage::Live)
        .await
        .expect("now the switch goes through");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_loses_nothing_postgres_to_mariadb() {
    let (Some(old), Some(new)) = (provision::postgres().await, provision::mysql().await) else {
        return;
    };
    restart_loses_nothing(old, new).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_loses_nothing_mariadb_to_postgres() {
    let (Some(old), Some(new)) = (provision::mysql().await, provision::postgres().await) else {
        return;
    };
    restart_loses_nothing(old, new).await;
}

/// A write that ran alone on its key is copied from its own result: the
/// journal's change counter proves the primary still holds what the write
/// returned, so the copy needs no read of the primary. Here every read of
/// the primary fails, so each key replicates only through that proof; a
/// copy that read the primary would be retried for ever.
async fn a_lone_write_needs_no_read_of_the_primary(primary_db: TestDatabase, other: TestDatabase) {
    let primary = connect(primary_db.url()).await;
    let secondary = connect(other.url()).await;
    let (faulty, switch) = passthrough::with_faults(&primary);
    let pt = Passthrough::builder("primary", faulty)
        .secondary(
            "secondary",
            secondary.clone(),
            passthrough::SecondaryOptions::non_blocking(),
        )
        .options(options())
        .build()
        .unwrap();
    switch.fail_reads(true);
    let db = pt.adapters();
    let tenant = "alone";
    // Each step waits for the last one's copies: a write that follows a
    // copy of its own key still in flight does not win the key's claim
    // (the copy holds it), and the relay that copies it then reads.
    let flushed = |step: &'static str| {
        let pt = &pt;
        async move {
            let flushed = pt.flush_within(Duration::from_secs(20)).await;
            assert!(
                flushed.is_ok(),
                "{step}: lone writes replicate without reading the primary: {flushed:?}"
            );
        }
    };
    db.tenants
        .create(TenantInsert {
            id: Some(tenant.into()),
            friendly_name: "Alone".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    flushed("the tenant").await;
    let ids: Vec<String> = (0..20).map(|i| format!("auth0|alone{i}")).collect();
    for (i, id) in ids.iter().enumerate() {
        db.users
            .create(
                tenant,
                UserInsert {
                    user_id: Some(id.clone()),
                    email: Some(format!("alone{i}@example.com")),
                    connection: "Username-Password-Authentication".into(),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
    }
    flushed("the creates").await;
    for (i, id) in ids.iter().enumerate() {
        db.users
            .update(
                tenant,
                id,
                UserPatch {
                    nickname: Some(Some(format!("nick {i}"))),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
    }
    flushed("the updates").await;
    switch.fail_reads(false);
    let (want, got) = (
        users(&primary, tenant).await,
        users(&secondary, tenant).await,
    );
    assert_eq!(want.len(), 20);
    assert_eq!(want, got, "the copies are the primary's exact records");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lone_write_needs_no_read_of_the_primary_postgres() {
    let (Some(primary), Some(secondary)) = (provision::postgres().await, provision::mysql().await)
    else {
        return;
    };
    a_lone_write_needs_no_read_of_the_primary(primary, secondary).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lone_write_needs_no_read_of_the_primary_sqlite() {
    let Some(secondary) = provision::postgres().await else {
        return;
    };
    a_lone_write_needs_no_read_of_the_primary(provision::sqlite_file(), secondary).await;
}
