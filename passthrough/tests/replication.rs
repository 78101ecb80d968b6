//! Replication: exact records, ordering, blocking and non-blocking failures,
//! dead letters and replay, full queues, statistics and secrets.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use adapter_interfaces::{
    AdapterError, EntityKind, ErrorKind, PasswordAlgorithm, PasswordInsert, TenantInsert,
    UserInsert, UserPatch, memory,
};
use common::{CLIENT_SECRET, HASH, assert_same, dump, quick_retry, workload};
use passthrough::{Health, OnFailure, Passthrough, Role, SecondaryOptions, with_faults};

#[tokio::test]
async fn every_method_replicates_the_primarys_exact_records() {
    let (a, b, c) = (memory::adapters(), memory::adapters(), memory::adapters());
    let pt = Passthrough::builder("a", a.clone())
        .secondary("b", b.clone(), SecondaryOptions::non_blocking())
        .secondary(
            "c",
            c.clone(),
            SecondaryOptions::blocking(OnFailure::FailCall),
        )
        .build()
        .unwrap();
    workload(&pt.adapters(), "acme").await;
    pt.flush().await;
    // Ids, timestamps, generated values, demoted passwords, used codes: all identical.
    assert_same(&a, &b).await;
    assert_same(&a, &c).await;
    let status = pt.status();
    assert_eq!(status.status, Health::Healthy);
    assert_eq!(status.pending, 0);
    assert_eq!(status.dead_letters, 0);
    // Every state-changing method reached the secondaries.
    let replicated: std::collections::BTreeSet<(EntityKind, &str)> = status
        .operations
        .iter()
        .filter(|o| o.role == Role::Secondary && o.store == "b" && o.ok > 0)
        .map(|o| (o.entity, o.method))
        .collect();
    for expected in [
        (EntityKind::Tenant, "create"),
        (EntityKind::Tenant, "update"),
        (EntityKind::User, "update"),
        (EntityKind::User, "remove"),
        (EntityKind::User, "upsert_many"),
        (EntityKind::Session, "remove"),
        (EntityKind::Code, "consume"),
        (EntityKind::Code, "cleanup"),
        (EntityKind::Code, "remove"),
        (EntityKind::Password, "create"),
        (EntityKind::Password, "remove"),
        (EntityKind::Log, "upsert"),
    ] {
        assert!(
            replicated.contains(&expected),
            "{expected:?} not replicated: {replicated:?}"
        );
    }
}

#[tokio::test]
async fn a_failed_primary_write_touches_no_secondary() {
    let (a, b) = (memory::adapters(), memory::adapters());
    let (faulty_a, switch) = with_faults(&a);
    let pt = Passthrough::builder("a", faulty_a)
        .secondary(
            "b",
            b.clone(),
            SecondaryOptions::blocking(OnFailure::FailCall),
        )
        .build()
        .unwrap();
    let db = pt.adapters();
    let tenant = TenantInsert {
        id: Some("t".into()),
        friendly_name: "T".into(),
        ..Default::default()
    };
    switch.fail_writes(true);
    let error = db.tenants.create(tenant.clone()).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Backend);
    switch.fail_writes(false);
    db.tenants.create(tenant.clone()).await.unwrap();
    // The primary's own error (a conflict) comes back as is, and nothing is replicated.
    let conflict = db.tenants.create(tenant).await.unwrap_err();
    assert_eq!(conflict.kind(), ErrorKind::Conflict);
    let missing = db
        .users
        .update("t", "auth0|nobody", UserPatch::default())
        .await
        .unwrap_err();
    assert_eq!(missing.kind(), ErrorKind::NotFound);
    pt.flush().await;
    assert_eq!(dump(&b).await.len(), 1);
    let secondary_calls: u64 = pt
        .status()
        .operations
        .iter()
        .filter(|o| o.role == Role::Secondary)
        .map(|o| o.ok + o.failed)
        .sum();
    assert_eq!(
        secondary_calls, 1,
        "only the successful create reaches the secondary"
    );
}

type Seen = Arc<Mutex<Vec<String>>>;

fn recorder() -> (
    Seen,
    impl Fn(&passthrough::SecondaryFailure<'_>) + Send + Sync + 'static,
) {
    let seen: Seen = Arc::default();
    let sink = seen.clone();
    (seen, move |f: &passthrough::SecondaryFailure<'_>| {
        sink.lock().unwrap().push(format!(
            "{}|{}|{}|{}|{}|{}|{:?}",
            f.secondary, f.entity, f.method, f.key, f.attempt, f.dead_lettered, f
        ));
    })
}

#[tokio::test]
async fn a_blocking_secondary_that_reports_calls_on_error_and_retries() {
    let (a, b) = (memory::adapters(), memory::adapters());
    let (faulty_b, switch) = with_faults(&b);
    let (seen, on_error) = recorder();
    let pt = Passthrough::builder("a", a.clone())
        .secondary(
            "b",
            faulty_b,
            SecondaryOptions::blocking(OnFailure::Report)
                .retry(quick_retry(5))
                .on_error(on_error),
        )
        .build()
        .unwrap();
    let db = pt.adapters();
    db.tenants
        .create(TenantInsert {
            id: Some("t".into()),
            friendly_name: "T".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    switch.fail_next_writes(2);
    let user = db
        .users
        .create(
            "t",
            UserInsert {
                email: Some("a@x.io".into()),
                connection: "db".into(),
                ..Default::default()
            },
        )
        .await
        .expect("a reported failure does not fail the call");
    pt.flush().await;
    assert_same(&a, &b).await;
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(
        seen[0].starts_with(&format!("b|user|create|{}|1|false", user.user_id)),
        "{seen:?}"
    );
    assert!(
        seen[1].starts_with(&format!("b|user|create|{}|2|false", user.user_id)),
        "{seen:?}"
    );
    let stats = pt.status();
    let op = stats
        .operations
        .iter()
        .find(|o| o.store == "b" && o.entity == EntityKind::User && o.method == "create")
        .unwrap();
    assert_eq!(
        (op.ok, op.failed, op.retried, op.pending, op.dead_lettered),
        (1, 2, 2, 0, 0)
    );
    assert_eq!(stats.total_errors, 2);
    assert_eq!(stats.errors_by_entity.get(&EntityKind::User), Some(&2));
    assert_eq!(stats.status, Health::Healthy, "recovered after the retry");
}

#[tokio::test]
async fn a_blocking_secondary_that_fails_the_call_says_the_primary_is_committed() {
    let (a, b) = (memory::adapters(), memory::adapters());
    let (faulty_b, switch) = with_faults(&b);
    let pt = Passthrough::builder("a", a.clone())
        .secondary(
            "b",
            faulty_b,
            SecondaryOptions::blocking(OnFailure::FailCall).retry(quick_retry(5)),
        )
        .build()
        .unwrap();
    let db = pt.adapters();
    db.tenants
        .create(TenantInsert {
            id: Some("t".into()),
            friendly_name: "T".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    switch.fail_next_writes(1);
    let error = db
        .users
        .create(
            "t",
            UserInsert {
                user_id: Some("auth0|u1".into()),
                connection: "db".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    match &error {
        AdapterError::SecondaryWrite { secondary, source } => {
            assert_eq!(secondary, "b");
            assert_eq!(source.kind(), ErrorKind::Backend);
        }
        other => panic!("expected SecondaryWrite, got {other:?}"),
    }
    assert!(error.to_string().contains("primary write is committed"));
    assert!(
        a.users.get("t", "auth0|u1").await.unwrap().is_some(),
        "the primary holds the write"
    );
    pt.flush().await;
    assert_same(&a, &b).await;
}

#[tokio::test]
async fn non_blocking_failures_are_dead_lettered_then_replayed() {
    let (a, b) = (memory::adapters(), memory::adapters());
    let (faulty_b, switch) = with_faults(&b);
    let (seen, on_error) = recorder();
    let pt = Passthrough::builder("a", a.clone())
        .secondary(
            "b",
            faulty_b,
            SecondaryOptions::non_blocking()
                .retry(quick_retry(3))
                .on_error(on_error),
        )
        .build()
        .unwrap();
    switch.fail_writes(true);
    workload(&pt.adapters(), "acme").await;
    pt.flush().await;
    let status = pt.status();
    let writes: u64 = status
        .operations
        .iter()
        .filter(|o| o.role == Role::Secondary)
        .map(|o| o.dead_lettered)
        .sum();
    assert!(
        writes > 20,
        "every replicated write is dead-lettered, not dropped ({writes})"
    );
    assert_eq!(status.dead_letters as u64, writes);
    assert_eq!(status.status, Health::Errors);
    assert_eq!(status.pending, 0);
    // Three attempts each, except the cleanup: its retry reconciles the
    // target's expired codes with the primary, and the target has none (every
    // write failed), so the second attempt has nothing to write and succeeds.
    let cleanup = status
        .operations
        .iter()
        .find(|o| o.role == Role::Secondary && o.method == "cleanup")
        .unwrap();
    assert_eq!(
        (cleanup.failed, cleanup.ok, cleanup.dead_lettered),
        (1, 1, 0)
    );
    assert_eq!(status.total_errors, writes * 3 + 1, "three attempts each");
    assert!(status.errors_by_entity.contains_key(&EntityKind::Password));
    assert!(dump(&b).await.is_empty());
    let letters = pt.dead_letters();
    assert!(
        letters
            .iter()
            .all(|l| l.attempts == 3 && l.secondary == "b" && l.error.contains("injected fault"))
    );
    assert!(
        letters.windows(2).all(|w| w[0].id < w[1].id),
        "oldest first"
    );
    assert_eq!(
        seen.lock()
            .unwrap()
            .iter()
            .filter(|s| s.contains("|3|true|"))
            .count() as u64,
        writes
    );

    // Nothing leaks: reports, dead letters and on_error never show a hash or a client secret.
    let report =
        serde_json::to_string(&status).unwrap() + &serde_json::to_string(&letters).unwrap();
    let callbacks = seen.lock().unwrap().join("\n");
    for text in [&report, &callbacks, &format!("{letters:?}")] {
        assert!(
            !text.contains(HASH) && !text.contains(CLIENT_SECRET),
            "secret leaked: {text}"
        );
    }
    // Code keys are bearer tokens: only a prefix shows.
    let codes: Vec<_> = letters
        .iter()
        .filter(|l| l.entity == EntityKind::Code && l.method == "create")
        .collect();
    assert!(
        !codes.is_empty()
            && codes
                .iter()
                .all(|l| l.key.ends_with('…') && l.key.chars().count() == 5)
    );

    switch.fail_writes(false);
    let replayed = pt.replay_dead_letters().await;
    assert_eq!(replayed as u64, writes);
    pt.flush().await;
    assert!(pt.dead_letters().is_empty());
    assert_eq!(pt.status().status, Health::Healthy);
    assert_same(&a, &b).await;
}

#[tokio::test]
async fn a_replay_copies_the_current_record_never_a_stale_one() {
    let (a, b) = (memory::adapters(), memory::adapters());
    let (faulty_b, switch) = with_faults(&b);
    let pt = Passthrough::builder("a", a.clone())
        .secondary(
            "b",
            faulty_b,
            SecondaryOptions::non_blocking().retry(quick_retry(1)),
        )
        .build()
        .unwrap();
    let db = pt.adapters();
    db.tenants
        .create(TenantInsert {
            id: Some("t".into()),
            friendly_name: "T".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let user = db
        .users
        .create(
            "t",
            UserInsert {
                user_id: Some("auth0|u".into()),
                connection: "db".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    pt.flush().await;
    switch.fail_next_writes(1);
    db.users
        .update(
            "t",
            &user.user_id,
            UserPatch {
                name: Some(Some("v1".into())),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    pt.flush().await;
    assert_eq!(pt.dead_letters().len(), 1);
    db.users
        .update(
            "t",
            &user.user_id,
            UserPatch {
                name: Some(Some("v2".into())),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    pt.flush().await;
    // Replaying the v1 update must not roll the secondary back from v2.
    assert_eq!(pt.replay_dead_letters().await, 1);
    pt.flush().await;
    assert_eq!(
        b.users
            .get("t", "auth0|u")
            .await
            .unwrap()
            .unwrap()
            .name
            .as_deref(),
        Some("v2")
    );
    assert_same(&a, &b).await;
    // A dead-lettered removal replays as a removal.
    switch.fail_next_writes(1);
    assert!(db.users.remove("t", "auth0|u").await.unwrap());
    pt.flush().await;
    assert!(b.users.get("t", "auth0|u").await.unwrap().is_some());
    assert_eq!(pt.replay_dead_letters().await, 1);
    pt.flush().await;
    assert!(b.users.get("t", "auth0|u").await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn order_holds_under_retries_and_concurrency() {
    let (a, b) = (memory::adapters(), memory::adapters());
    let (faulty_b, switch) = with_faults(&b);
    let pt = Passthrough::builder("a", a.clone())
        .secondary(
            "b",
            faulty_b,
            SecondaryOptions::non_blocking().retry(quick_retry(50)),
        )
        .build()
        .unwrap();
    let db = pt.adapters();
    let mut tasks = Vec::new();
    for n in 0..16 {
        let (db, switch) = (db.clone(), switch.clone());
        tasks.push(tokio::spawn(async move {
            let t = format!("t{n}");
            db.tenants
                .create(TenantInsert {
                    id: Some(t.clone()),
                    friendly_name: t.clone(),
                    ..Default::default()
                })
                .await
                .unwrap();
            // Writes fail now and then: a retried create must still precede its updates,
            // and a user its sessions and passwords.
            switch.fail_next_writes(2);
            let user = db
                .users
                .create(
                    &t,
                    UserInsert {
                        email: Some(format!("u{n}@x.io")),
                        connection: "db".into(),
                        ..Default::default()
                    },
                )
                .await
                .unwrap();
            for round in 0..5 {
                db.users
                    .update(
                        &t,
                        &user.user_id,
                        UserPatch {
                            login_count: Some(round),
                            ..Default::default()
                        },
                    )
                    .await
                    .unwrap();
                db.passwords
                    .create(
                        &t,
                        PasswordInsert::new(
                            &user.user_id,
                            format!("h{round}"),
                            PasswordAlgorithm::Bcrypt,
                        ),
                    )
                    .await
                    .unwrap();
                tokio::task::yield_now().await;
            }
            db.sessions
                .create(
                    &t,
                    adapter_interfaces::SessionInsert {
                        user_id: user.user_id.clone(),
                        ..Default::default()
                    },
                )
                .await
                .unwrap();
            if n % 2 == 0 {
                db.users.remove(&t, &user.user_id).await.unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    pt.flush().await;
    assert!(switch.injected() > 0, "failures were injected");
    assert!(pt.dead_letters().is_empty(), "{:?}", pt.dead_letters());
    assert_same(&a, &b).await;
}

#[tokio::test]
async fn a_full_queue_dead_letters_instead_of_dropping() {
    let (a, b) = (memory::adapters(), memory::adapters());
    let (faulty_b, switch) = with_faults(&b);
    let pt = Passthrough::builder("a", a.clone())
        .secondary(
            "b",
            faulty_b,
            SecondaryOptions::non_blocking()
                .queue_capacity(2)
                .enqueue_timeout(Duration::from_millis(5))
                .retry(passthrough::RetryPolicy {
                    max_attempts: 3,
                    initial_backoff: Duration::from_millis(100),
                    max_backoff: Duration::from_millis(100),
                }),
        )
        .build()
        .unwrap();
    let db = pt.adapters();
    switch.fail_writes(true);
    for n in 0..10 {
        db.tenants
            .create(TenantInsert {
                id: Some(format!("t{n}")),
                friendly_name: "T".into(),
                ..Default::default()
            })
            .await
            .unwrap();
    }
    let immediate: Vec<_> = pt
        .dead_letters()
        .into_iter()
        .filter(|l| l.attempts == 0)
        .collect();
    assert!(
        immediate.len() >= 5,
        "writes that found the queue full are parked: {immediate:?}"
    );
    assert!(immediate[0].error.contains("stayed full"));
    assert_eq!(pt.status().status, Health::Errors);
    pt.flush().await;
    assert_eq!(
        pt.dead_letters().len(),
        10,
        "every write is queued or parked, none dropped"
    );
    switch.fail_writes(false);
    pt.replay_dead_letters().await;
    pt.flush().await;
    assert_same(&a, &b).await;
}

#[tokio::test]
async fn discarded_dead_letters_leave_the_list() {
    let (a, b) = (memory::adapters(), memory::adapters());
    let (faulty_b, switch) = with_faults(&b);
    let pt = Passthrough::builder("a", a)
        .secondary(
            "b",
            faulty_b,
            SecondaryOptions::non_blocking().retry(quick_retry(1)),
        )
        .build()
        .unwrap();
    switch.fail_writes(true);
    let db = pt.adapters();
    for n in 0..3 {
        db.tenants
            .create(TenantInsert {
                id: Some(format!("t{n}")),
                friendly_name: "T".into(),
                ..Default::default()
            })
            .await
            .unwrap();
    }
    pt.flush().await;
    assert_eq!(pt.discard_dead_letters(|l| l.key == "t1"), 1);
    assert_eq!(
        pt.dead_letters()
            .iter()
            .map(|l| l.key.as_str())
            .collect::<Vec<_>>(),
        ["t0", "t2"]
    );
}
