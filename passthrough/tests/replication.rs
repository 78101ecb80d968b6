//! Replication: exact records, blocking and non-blocking failures (transient
//! ones retried until they succeed, rejections dead-lettered and replayed),
//! the fast path's bound, statistics and secrets.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use adapter_interfaces::{
    AdapterError, DataAdapters, EntityKind, ErrorKind, PasswordAlgorithm, PasswordInsert,
    UserInsert, UserPatch, memory,
};
use common::{
    CLIENT_SECRET, HASH, assert_same, dump, flush, quick_options, quick_retry, tenant, workload,
};
use passthrough::{
    Health, OnFailure, Passthrough, ReplicationOptions, Role, SecondaryOptions, with_faults,
};

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
        .options(quick_options())
        .build()
        .unwrap();
    workload(&pt.adapters(), "acme").await;
    flush(&pt).await;
    // Ids, timestamps, generated values, demoted passwords, used codes: all identical.
    assert_same(&a, &b).await;
    assert_same(&a, &c).await;
    let status = pt.status().await;
    assert_eq!(status.status, Health::Healthy);
    assert_eq!(status.pending, 0);
    assert_eq!(status.dead_letters, 0);
    // Every state-changing method went through the passthrough's write path
    // (journaled, then copied) ...
    let written: BTreeSet<(EntityKind, &str)> = status
        .operations
        .iter()
        .filter(|o| o.role == Role::Primary && o.store == "a" && o.ok > 0)
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
            written.contains(&expected),
            "{expected:?} not written: {written:?}"
        );
    }
    // ... and every entity was copied to each secondary.
    for store in ["b", "c"] {
        let copied: BTreeSet<EntityKind> = status
            .operations
            .iter()
            .filter(|o| {
                o.role == Role::Secondary && o.store == store && o.method == "copy" && o.ok > 0
            })
            .map(|o| o.entity)
            .collect();
        assert_eq!(
            copied,
            EntityKind::ALL.into_iter().collect::<BTreeSet<_>>(),
            "{store}"
        );
    }
}

#[tokio::test]
async fn a_failed_primary_write_leaves_the_secondary_as_the_primary() {
    let (a, b) = (memory::adapters(), memory::adapters());
    let (faulty_a, switch) = with_faults(&a);
    let pt = Passthrough::builder("a", faulty_a)
        .secondary(
            "b",
            b.clone(),
            SecondaryOptions::blocking(OnFailure::FailCall),
        )
        .options(quick_options())
        .build()
        .unwrap();
    let db = pt.adapters();
    switch.fail_writes(true);
    let error = db.tenants.create(tenant("t")).await.unwrap_err();
    assert_eq!(
        error.kind(),
        ErrorKind::Backend,
        "the primary's error, as is"
    );
    switch.fail_writes(false);
    db.tenants.create(tenant("t")).await.unwrap();
    // The primary's own error (a conflict) comes back as is.
    let conflict = db.tenants.create(tenant("t")).await.unwrap_err();
    assert_eq!(conflict.kind(), ErrorKind::Conflict);
    let missing = db
        .users
        .update("t", "auth0|nobody", UserPatch::default())
        .await
        .unwrap_err();
    assert_eq!(missing.kind(), ErrorKind::NotFound);
    flush(&pt).await;
    // The keys of the failed writes were journaled before the primary
    // refused them; their copies (the primary's current state: no user, the
    // first tenant) leave the secondary exactly as the primary.
    assert_eq!(dump(&b).await.len(), 1);
    assert_same(&a, &b).await;
    let status = pt.status().await;
    assert_eq!((status.pending, status.dead_letters), (0, 0));
    let failed_on_secondary: u64 = status
        .operations
        .iter()
        .filter(|o| o.role == Role::Secondary)
        .map(|o| o.failed)
        .sum();
    assert_eq!(failed_on_secondary, 0);
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
        .options(quick_options())
        .build()
        .unwrap();
    let db = pt.adapters();
    db.tenants.create(tenant("t")).await.unwrap();
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
    flush(&pt).await;
    assert_same(&a, &b).await;
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(
        seen[0].starts_with(&format!("b|user|copy|{}|1|false", user.user_id)),
        "{seen:?}"
    );
    assert!(
        seen[1].starts_with(&format!("b|user|copy|{}|2|false", user.user_id)),
        "{seen:?}"
    );
    let stats = pt.status().await;
    let op = stats
        .operations
        .iter()
        .find(|o| o.store == "b" && o.entity == EntityKind::User && o.method == "copy")
        .unwrap();
    assert_eq!(
        (op.ok, op.failed, op.retried, op.dead_lettered),
        (1, 2, 2, 0)
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
    flush(&pt).await;
    assert_same(&a, &b).await;
}

/// A secondary that is down is retried for as long as it takes: nothing is
/// dead-lettered, every key stays owed (and `flush` says so when it runs out
/// of time), the status says `errors`, and once the store is back every key
/// is copied.
#[tokio::test]
async fn transient_failures_stay_pending_until_the_secondary_is_back() {
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
        .options(quick_options())
        .build()
        .unwrap();
    switch.fail_writes(true);
    workload(&pt.adapters(), "acme").await;
    let error = pt
        .flush_within(Duration::from_millis(300))
        .await
        .unwrap_err();
    // One row per key: every key whose copy has to write something (a
    // cleanup or a password removal that finds nothing to do on the empty
    // secondary is settled without writing).
    assert_eq!(error.pending, 16, "every written key is owed: {error}");
    assert_eq!(error.dead, 0, "a transient failure is never a dead letter");
    let status = pt.status().await;
    assert_eq!(status.status, Health::Errors);
    assert_eq!(status.pending, error.pending);
    assert_eq!(status.dead_letters, 0);
    assert!(status.secondaries[0].retrying);
    assert!(status.secondaries[0].oldest_pending.is_some());
    assert!(status.journal.oldest_pending_age_ms.is_some());
    assert!(pt.dead_letters(100).await.unwrap().is_empty());
    // Retried well past the three attempts a rejection gets.
    assert!(
        status.total_errors > 3 * error.pending,
        "{} errors",
        status.total_errors
    );
    assert!(status.errors_by_entity.contains_key(&EntityKind::Password));
    assert!(dump(&b).await.is_empty());
    let callbacks = seen.lock().unwrap().join("\n");
    assert!(!callbacks.contains("|true|"), "nothing dead-lettered");
    // Code keys are bearer tokens: only a prefix shows.
    let code_keys: Vec<String> = seen
        .lock()
        .unwrap()
        .iter()
        .filter(|s| s.starts_with("b|code|"))
        .map(|s| s.split('|').nth(3).unwrap().to_owned())
        .collect();
    assert!(
        !code_keys.is_empty()
            && code_keys
                .iter()
                .all(|k| k.ends_with('…') && k.chars().count() == 5),
        "{code_keys:?}"
    );
    // Nothing leaks: reports and on_error never show a hash or a client secret.
    let report = serde_json::to_string(&status).unwrap();
    for text in [&report, &callbacks] {
        assert!(
            !text.contains(HASH) && !text.contains(CLIENT_SECRET),
            "secret leaked: {text}"
        );
    }

    switch.fail_writes(false);
    flush(&pt).await;
    let status = pt.status().await;
    assert_eq!(status.status, Health::Healthy);
    assert_eq!((status.pending, status.dead_letters), (0, 0));
    assert_same(&a, &b).await;
}

/// A user written directly into the secondary, holding the email another
/// user gets on the primary: the secondary refuses that user (a unique
/// conflict), and so everything that needs it as a parent.
async fn squatter(secondary: &DataAdapters, tenant_id: &str, email: &str) {
    secondary
        .users
        .create(
            tenant_id,
            UserInsert {
                user_id: Some(format!("auth0|squatter-{email}")),
                email: Some(email.into()),
                connection: "db".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
}

async fn unsquat(secondary: &DataAdapters, tenant_id: &str, email: &str) {
    let id = format!("auth0|squatter-{email}");
    assert!(secondary.users.remove(tenant_id, &id).await.unwrap());
}

#[tokio::test]
async fn rejected_copies_are_dead_lettered_then_replayed() {
    let (a, b) = (memory::adapters(), memory::adapters());
    let (seen, on_error) = recorder();
    let pt = Passthrough::builder("a", a.clone())
        .secondary(
            "b",
            b.clone(),
            SecondaryOptions::non_blocking()
                .retry(quick_retry(3))
                .on_error(on_error),
        )
        .options(quick_options())
        .build()
        .unwrap();
    b.tenants.create(tenant("acme")).await.unwrap();
    squatter(&b, "acme", "bob@example.com").await;
    workload(&pt.adapters(), "acme").await;
    flush(&pt).await;
    let status = pt.status().await;
    let letters = pt.dead_letters(100).await.unwrap();
    let bob = a
        .users
        .list("acme", &Default::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .find(|u| u.email.as_deref() == Some("bob@example.com"))
        .unwrap();
    let parked: BTreeSet<(&str, &str)> = letters
        .iter()
        .map(|l| (l.subject, l.key.as_str()))
        .collect();
    assert!(
        parked.contains(&("user", bob.user_id.as_str())),
        "{letters:?}"
    );
    assert!(
        letters.iter().all(|l| l.attempts == 3
            && l.secondary == "b"
            && l.tenant_id == "acme"
            && l.error.to_lowercase().contains("email")),
        "{letters:?}"
    );
    assert!(
        letters.windows(2).all(|w| w[0].since <= w[1].since),
        "oldest first"
    );
    assert_eq!(status.dead_letters, letters.len() as u64);
    assert_eq!(status.pending, 0);
    assert_eq!(status.status, Health::Errors);
    assert_eq!(status.dead_letter_sample, letters);
    assert!(
        seen.lock()
            .unwrap()
            .iter()
            .filter(|s| s.contains("|3|true|"))
            .count()
            >= letters.len()
    );
    // The rest was copied: only bob (and what hangs on him) is missing.
    assert!(b.users.get("acme", &bob.user_id).await.unwrap().is_none());
    assert_eq!(
        b.tenants.get("acme").await.unwrap(),
        a.tenants.get("acme").await.unwrap()
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

    // After the manual fix, a replay copies the primary's current state.
    unsquat(&b, "acme", "bob@example.com").await;
    let replayed = pt.replay_dead_letters().await.unwrap();
    assert_eq!(replayed, letters.len() as u64);
    flush(&pt).await;
    assert!(pt.dead_letters(100).await.unwrap().is_empty());
    assert_eq!(pt.status().await.status, Health::Healthy);
    assert_same(&a, &b).await;
}

#[tokio::test]
async fn a_replay_copies_the_current_record_never_a_stale_one() {
    let (a, b) = (memory::adapters(), memory::adapters());
    let pt = Passthrough::builder("a", a.clone())
        .secondary(
            "b",
            b.clone(),
            SecondaryOptions::non_blocking().retry(quick_retry(1)),
        )
        .options(quick_options())
        .build()
        .unwrap();
    let db = pt.adapters();
    db.tenants.create(tenant("t")).await.unwrap();
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
    flush(&pt).await;
    squatter(&b, "t", "taken@x.io").await;
    let patch = |name: &str| UserPatch {
        name: Some(Some(name.into())),
        email: Some(Some("taken@x.io".into())),
        ..Default::default()
    };
    db.users
        .update("t", &user.user_id, patch("v1"))
        .await
        .unwrap();
    flush(&pt).await;
    assert_eq!(pt.dead_letters(10).await.unwrap().len(), 1);
    db.users
        .update("t", &user.user_id, patch("v2"))
        .await
        .unwrap();
    flush(&pt).await;
    assert_eq!(
        pt.dead_letters(10).await.unwrap().len(),
        1,
        "one row per key"
    );
    // Replaying must copy v2, the primary's current record, not v1.
    unsquat(&b, "t", "taken@x.io").await;
    assert_eq!(pt.replay_dead_letters().await.unwrap(), 1);
    flush(&pt).await;
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
    // A removal of a dead-lettered key revives it and is copied as a removal.
    squatter(&b, "t", "again@x.io").await;
    db.users
        .update(
            "t",
            "auth0|u",
            UserPatch {
                email: Some(Some("again@x.io".into())),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    flush(&pt).await;
    assert_eq!(pt.dead_letters(10).await.unwrap().len(), 1);
    assert!(db.users.remove("t", "auth0|u").await.unwrap());
    flush(&pt).await;
    assert!(pt.dead_letters(10).await.unwrap().is_empty());
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
        .options(quick_options())
        .build()
        .unwrap();
    let db = pt.adapters();
    let mut tasks = Vec::new();
    for n in 0..16 {
        let (db, switch) = (db.clone(), switch.clone());
        tasks.push(tokio::spawn(async move {
            let t = format!("t{n}");
            db.tenants.create(tenant(&t)).await.unwrap();
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
    flush(&pt).await;
    assert!(switch.injected() > 0, "failures were injected");
    let letters = pt.dead_letters(100).await.unwrap();
    assert!(letters.is_empty(), "{letters:?}");
    assert_same(&a, &b).await;
}

/// Beyond `max_in_flight` fast-path copies, keys are left in the journal for
/// a relay: none is dropped, even with this process's relay off (`flush`
/// copies them).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_beyond_the_fast_paths_bound_wait_in_the_journal() {
    let (a, b) = (memory::adapters(), memory::adapters());
    let (slow_b, switch) = with_faults(&b);
    switch.delay_writes(Duration::from_millis(20));
    let pt = Passthrough::builder("a", a.clone())
        .secondary(
            "b",
            slow_b,
            SecondaryOptions::non_blocking().max_in_flight(1),
        )
        .options(ReplicationOptions {
            relay: false,
            ..quick_options()
        })
        .build()
        .unwrap();
    let db = pt.adapters();
    let writes = (0..20).map(|n| {
        let db = db.clone();
        async move { db.tenants.create(tenant(&format!("t{n}"))).await.unwrap() }
    });
    futures::future::join_all(writes).await;
    assert!(pt.owed().await.unwrap().pending > 0, "left for the relay");
    flush(&pt).await;
    assert_same(&a, &b).await;
}

#[tokio::test]
async fn discarded_dead_letters_leave_the_list() {
    let (a, b) = (memory::adapters(), memory::adapters());
    let pt = Passthrough::builder("a", a)
        .secondary(
            "b",
            b.clone(),
            SecondaryOptions::non_blocking().retry(quick_retry(1)),
        )
        .options(quick_options())
        .build()
        .unwrap();
    let db = pt.adapters();
    db.tenants.create(tenant("t")).await.unwrap();
    flush(&pt).await;
    for n in 0..3 {
        let email = format!("u{n}@x.io");
        squatter(&b, "t", &email).await;
        db.users
            .create(
                "t",
                UserInsert {
                    user_id: Some(format!("auth0|u{n}")),
                    email: Some(email),
                    connection: "db".into(),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
    }
    flush(&pt).await;
    assert_eq!(pt.dead_letters(10).await.unwrap().len(), 3);
    assert_eq!(
        pt.discard_dead_letters(|l| l.key == "auth0|u1")
            .await
            .unwrap(),
        1
    );
    let mut left: Vec<String> = pt
        .dead_letters(10)
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.key)
        .collect();
    left.sort();
    assert_eq!(left, ["auth0|u0", "auth0|u2"]);
    assert_eq!(pt.status().await.dead_letters, 2);
}
