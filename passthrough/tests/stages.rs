//! Migration stages switched at run time on a shared controller.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use adapter_interfaces::{EntityKind, LogInsert, TenantInsert, UserInsert, memory};
use common::{assert_same, dump, quick_retry, workload};
use passthrough::{
    MigrationController, OnFailure, Passthrough, RetryPolicy, SecondaryOptions, Side, Stage,
    SwitchError, with_faults,
};

fn tenant(id: &str) -> TenantInsert {
    TenantInsert {
        id: Some(id.into()),
        friendly_name: id.into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn stages_route_reads_and_writes_and_switch_without_restart() {
    let (old, new) = (memory::adapters(), memory::adapters());
    let control = MigrationController::new(Stage::Off);
    let pt = Passthrough::migration(old.clone(), new.clone(), control.clone())
        .build()
        .unwrap();
    let db = pt.adapters();

    db.tenants.create(tenant("off")).await.unwrap();
    pt.flush().await;
    assert!(old.tenants.get("off").await.unwrap().is_some());
    assert!(dump(&new).await.is_empty(), "off: old only");

    // Backfill what existed before dual-write, then dual-write.
    new.tenants
        .upsert(old.tenants.get("off").await.unwrap().unwrap())
        .await
        .unwrap();
    control.set_stage(Stage::DualWrite).await.unwrap();
    workload(&db, "dual").await;
    pt.flush().await;
    assert_same(&old, &new).await;
    assert_eq!(pt.status().compared_reads, 0, "dual-write compares nothing");

    control.set_stage(Stage::Shadow).await.unwrap();
    db.tenants.get("dual").await.unwrap();
    pt.flush().await;
    assert_eq!(pt.status().compared_reads, 1);
    assert!(pt.mismatches().is_empty());

    // Live: the new store answers reads and takes writes first; the old one follows.
    control.set_stage(Stage::Live).await.unwrap();
    new.tenants.create(tenant("only-new")).await.unwrap();
    assert!(
        db.tenants.get("only-new").await.unwrap().is_some(),
        "live reads the new store"
    );
    new.tenants.remove("only-new").await.unwrap();
    workload(&db, "live").await;
    pt.flush().await;
    assert_same(&new, &old).await;
    assert_eq!(pt.status().compared_reads, 3);

    // Roll-back is one call, and writes made while live are in the old store.
    control.set_stage(Stage::DualWrite).await.unwrap();
    assert!(db.tenants.get("live").await.unwrap().is_some());
    control.set_stage(Stage::RampDown).await.unwrap();
    db.tenants.create(tenant("ramp")).await.unwrap();
    pt.flush().await;
    assert_same(&new, &old).await;

    control.set_stage(Stage::Complete).await.unwrap();
    db.tenants.create(tenant("done")).await.unwrap();
    pt.flush().await;
    assert!(new.tenants.get("done").await.unwrap().is_some());
    assert!(
        old.tenants.get("done").await.unwrap().is_none(),
        "complete: new only"
    );
    let report = pt.status();
    assert_eq!(report.stages.get(&EntityKind::User), Some(&Stage::Complete));
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["status"], "healthy");
    assert_eq!(json["stages"]["user"], "complete");
}

#[tokio::test]
async fn a_switch_drains_the_queue_and_refuses_a_primary_with_dead_letters() {
    let (old, new) = (memory::adapters(), memory::adapters());
    let (faulty_new, switch) = with_faults(&new);
    let control = MigrationController::new(Stage::DualWrite);
    let pt = Passthrough::migration(old.clone(), faulty_new, control.clone())
        .new_options(SecondaryOptions::non_blocking().retry(RetryPolicy {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(10),
        }))
        .build()
        .unwrap();
    let db = pt.adapters();
    // Slow, failing-then-succeeding writes are still queued when the switch starts.
    switch.fail_next_writes(3);
    for n in 0..5 {
        db.tenants.create(tenant(&format!("t{n}"))).await.unwrap();
    }
    assert!(pt.status().pending > 0);
    control.set_stage(Stage::Live).await.unwrap();
    assert_eq!(pt.status().pending, 0, "the switch waited for the queue");
    assert_same(&old, &new).await;

    // Back to dual-write; a write the new store never gets blocks its promotion.
    control.set_stage(Stage::DualWrite).await.unwrap();
    switch.fail_writes(true);
    db.tenants.create(tenant("lost")).await.unwrap();
    match control.set_stage(Stage::Live).await {
        Err(SwitchError::DeadLetters {
            side: Side::New,
            count: 1,
        }) => {}
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(control.stage(), Stage::DualWrite);
    switch.fail_writes(false);
    pt.replay_dead_letters().await;
    control.set_stage(Stage::Live).await.unwrap();
    assert_same(&old, &new).await;
}

#[tokio::test]
async fn the_old_store_stays_current_while_live_for_a_roll_back() {
    let (old, new) = (memory::adapters(), memory::adapters());
    let (faulty_old, switch) = with_faults(&old);
    let control = MigrationController::new(Stage::Live);
    let pt = Passthrough::migration(faulty_old, new.clone(), control.clone())
        .old_options(SecondaryOptions::blocking(OnFailure::FailCall).retry(quick_retry(3)))
        .build()
        .unwrap();
    let db = pt.adapters();
    db.tenants.create(tenant("t")).await.unwrap();
    switch.fail_next_writes(1);
    let error = db
        .users
        .create(
            "t",
            UserInsert {
                connection: "db".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert!(
        matches!(error, passthrough::AdapterError::SecondaryWrite { ref secondary, .. } if secondary == "old")
    );
    control.set_stage(Stage::DualWrite).await.unwrap();
    assert_same(&new, &old).await;
}

#[tokio::test]
async fn entities_can_move_through_the_stages_separately() {
    let (old, new) = (memory::adapters(), memory::adapters());
    for db in [&old, &new] {
        db.tenants.create(tenant("t")).await.unwrap();
    }
    let everything = MigrationController::new(Stage::DualWrite);
    let logs = MigrationController::new(Stage::Live);
    let pt = Passthrough::migration(old.clone(), new.clone(), everything.clone())
        .entity_controller(EntityKind::Log, logs.clone())
        .build()
        .unwrap();
    let db = pt.adapters();
    new.logs
        .create(
            "t",
            LogInsert {
                log_id: Some("only-new".into()),
                log_type: "s".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    new.users
        .create(
            "t",
            UserInsert {
                user_id: Some("auth0|only-new".into()),
                connection: "db".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(
        db.logs.get("t", "only-new").await.unwrap().is_some(),
        "logs are live: read from new"
    );
    assert!(
        db.users.get("t", "auth0|only-new").await.unwrap().is_none(),
        "users are not: read from old"
    );
    let status = pt.status();
    assert_eq!(status.stages[&EntityKind::Log], Stage::Live);
    assert_eq!(status.stages[&EntityKind::User], Stage::DualWrite);
    logs.set_stage(Stage::Complete).await.unwrap();
    db.logs
        .create(
            "t",
            LogInsert {
                log_type: "f".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    pt.flush().await;
    assert_eq!(
        old.logs
            .list("t", &Default::default())
            .await
            .unwrap()
            .items
            .len(),
        0
    );
    assert_eq!(
        new.logs
            .list("t", &Default::default())
            .await
            .unwrap()
            .items
            .len(),
        2
    );
}
