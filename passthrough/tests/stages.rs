//! Migration stages switched at run time on a shared controller, stored
//! beside the journals, with a fenced switch that never stalls writes.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use adapter_interfaces::{EntityKind, LogInsert, UserInsert, memory};
use common::{assert_same, compared, dump, flush, quick_options, quick_retry, tenant, workload};
use passthrough::{
    MigrationController, OnFailure, Passthrough, ReplicationOptions, RetryPolicy, SecondaryOptions,
    Side, Stage, SwitchError, with_faults,
};

#[tokio::test]
async fn stages_route_reads_and_writes_and_switch_without_restart() {
    let (old, new) = (memory::adapters(), memory::adapters());
    let control = MigrationController::new(Stage::Off);
    let pt = Passthrough::migration(old.clone(), new.clone(), control.clone())
        .options(quick_options())
        .build()
        .unwrap();
    let db = pt.adapters();

    db.tenants.create(tenant("off")).await.unwrap();
    flush(&pt).await;
    assert!(old.tenants.get("off").await.unwrap().is_some());
    assert!(dump(&new).await.is_empty(), "off: old only");

    // Backfill what existed before dual-write, then dual-write.
    new.tenants
        .upsert(old.tenants.get("off").await.unwrap().unwrap())
        .await
        .unwrap();
    let change = control.set_stage(Stage::DualWrite).await.unwrap();
    assert_eq!((change.from, change.to), (Stage::Off, Stage::DualWrite));
    assert!(change.generation > 0);
    workload(&db, "dual").await;
    flush(&pt).await;
    assert_same(&old, &new).await;
    assert_eq!(
        pt.status().await.compared_reads,
        0,
        "dual-write compares nothing"
    );

    control.set_stage("shadow".parse().unwrap()).await.unwrap();
    db.tenants.get("dual").await.unwrap();
    assert_eq!(compared(&pt, 1).await, 1);
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
    flush(&pt).await;
    assert_same(&new, &old).await;
    assert_eq!(compared(&pt, 3).await, 3);

    // Roll-back is one call, and writes made while live are in the old store.
    control.set_stage(Stage::DualWrite).await.unwrap();
    assert!(db.tenants.get("live").await.unwrap().is_some());
    control.set_stage(Stage::RampDown).await.unwrap();
    db.tenants.create(tenant("ramp")).await.unwrap();
    flush(&pt).await;
    assert_same(&new, &old).await;

    let change = control.set_stage(Stage::Complete).await.unwrap();
    db.tenants.create(tenant("done")).await.unwrap();
    flush(&pt).await;
    assert!(new.tenants.get("done").await.unwrap().is_some());
    assert!(
        old.tenants.get("done").await.unwrap().is_none(),
        "complete: new only"
    );
    let report = pt.status().await;
    assert_eq!(report.stages.get(&EntityKind::User), Some(&Stage::Complete));
    assert_eq!(
        report.stage_generations.get(&EntityKind::User),
        Some(&change.generation)
    );
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["status"], "healthy");
    assert_eq!(json["stages"]["user"], "complete");
}

#[tokio::test]
async fn a_switch_drains_the_journal_and_refuses_a_primary_with_dead_letters() {
    let (old, new) = (memory::adapters(), memory::adapters());
    let (faulty_new, switch) = with_faults(&new);
    let control = MigrationController::new(Stage::DualWrite);
    let pt = Passthrough::migration(old.clone(), faulty_new, control.clone())
        .new_options(SecondaryOptions::non_blocking().retry(RetryPolicy {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(10),
        }))
        .options(quick_options())
        .build()
        .unwrap();
    let db = pt.adapters();
    // The new store is down while these are written: they are owed when the switch starts.
    switch.fail_writes(true);
    for n in 0..5 {
        db.tenants.create(tenant(&format!("t{n}"))).await.unwrap();
    }
    assert_eq!(pt.status().await.pending, 5);
    switch.fail_writes(false);
    control.set_stage(Stage::Live).await.unwrap();
    assert_eq!(
        pt.status().await.pending,
        0,
        "the switch waited for the journal"
    );
    assert_same(&old, &new).await;

    // Back to dual-write; a write the new store rejects blocks its promotion.
    control.set_stage(Stage::DualWrite).await.unwrap();
    switch.reject_next_writes(4);
    db.tenants.create(tenant("lost")).await.unwrap();
    flush(&pt).await;
    let generation = control.generation();
    match control.set_stage(Stage::Live).await {
        Err(SwitchError::DeadLetters {
            side: Side::New,
            count: 1,
        }) => {}
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(control.stage(), Stage::DualWrite);
    assert_eq!(control.generation(), generation, "nothing was switched");
    assert_eq!(pt.replay_dead_letters().await.unwrap(), 1);
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
        .options(quick_options())
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
        .options(quick_options())
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
    let status = pt.status().await;
    assert_eq!(status.stages[&EntityKind::Log], Stage::Live);
    assert_eq!(status.stages[&EntityKind::User], Stage::DualWrite);
    assert_eq!(
        logs.scope(),
        "entity:log",
        "stored under the entity's scope"
    );
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
    flush(&pt).await;
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

/// A switch that would promote a secondary that is down: it waits at most
/// the switch timeout without holding writes back (each write still takes
/// milliseconds), then fails saying what is pending, and the stage stays.
/// The same for a roll-back to an old store that is down.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_switch_to_a_failing_store_never_stalls_writes_and_fails_in_time() {
    let (old, new) = (memory::adapters(), memory::adapters());
    let (faulty_old, old_switch) = with_faults(&old);
    let (faulty_new, new_switch) = with_faults(&new);
    let control = MigrationController::new(Stage::DualWrite);
    let timeout = Duration::from_millis(400);
    let pt = Passthrough::migration(faulty_old, faulty_new, control.clone())
        .old_options(SecondaryOptions::blocking(OnFailure::Report).retry(quick_retry(3)))
        .new_options(SecondaryOptions::non_blocking().retry(quick_retry(3)))
        .options(ReplicationOptions {
            switch_timeout: timeout,
            ..quick_options()
        })
        .build()
        .unwrap();
    let db = pt.adapters();
    control.set_stage(Stage::DualWrite).await.unwrap();
    for (from, to, failing, side) in [
        (Stage::DualWrite, Stage::Live, &new_switch, Side::New),
        (Stage::Live, Stage::DualWrite, &old_switch, Side::Old),
    ] {
        assert_eq!(control.stage(), from);
        let generation = control.generation();
        failing.fail_writes(true);
        db.tenants
            .create(tenant(&format!("{from}-0")))
            .await
            .unwrap();
        let started = Instant::now();
        let switching = {
            let control = control.clone();
            tokio::spawn(async move { control.set_stage(to).await })
        };
        let mut slowest = Duration::ZERO;
        let mut n = 1;
        while !switching.is_finished() {
            let write = Instant::now();
            db.tenants
                .create(tenant(&format!("{from}-{n}")))
                .await
                .unwrap();
            slowest = slowest.max(write.elapsed());
            n += 1;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let waited = started.elapsed();
        match switching.await.unwrap() {
            Err(SwitchError::Pending {
                side: s,
                pending,
                stage,
                ..
            }) => {
                assert_eq!(s, side);
                assert!(pending > 0);
                assert_eq!(stage, from, "the error says the stage stays");
            }
            other => panic!("expected Pending, got {other:?}"),
        }
        assert!(n > 10, "writes went on during the switch ({n})");
        assert!(
            slowest < Duration::from_millis(150),
            "a write waited {slowest:?} during the switch"
        );
        assert!(
            waited >= timeout && waited < timeout * 4,
            "the switch took {waited:?}"
        );
        assert_eq!(control.stage(), from, "the stage stays");
        assert_eq!(control.generation(), generation);
        // Once the store is back, the same switch goes through.
        failing.fail_writes(false);
        let change = control.set_stage(to).await.unwrap();
        assert_eq!(change.to, to);
        flush(&pt).await;
        assert_same(&old, &new).await;
    }
}
