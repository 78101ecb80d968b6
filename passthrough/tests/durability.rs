//! What the journal makes true and the in-memory queues did not: a caller
//! that gives up loses nothing and leaks nothing, every write method is
//! ordered per key under concurrent writers, and a restarted process copies
//! what the one before it still owed.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use adapter_interfaces::{
    CodeInsert, CodeType, DataAdapters, PasswordAlgorithm, PasswordInsert, SessionInsert,
    Timestamp, UserInsert, UserPatch, memory,
};
use common::{assert_same, flush, quick_options, quick_retry, tenant};
use passthrough::{
    Health, MigrationController, OnFailure, Passthrough, ReplicationOptions, SecondaryOptions,
    Stage, with_faults,
};

fn user(id: &str) -> UserInsert {
    UserInsert {
        user_id: Some(id.into()),
        connection: "db".into(),
        ..Default::default()
    }
}

/// Callers that give up (a request timeout, a `select!` that takes another
/// branch) while the primary write or the blocking copy is under way: the
/// committed primary writes are all replicated, nothing stays owed (`flush`
/// returns), and a stage switch, which waits for the journal, goes through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_that_gives_up_mid_write_loses_and_leaks_nothing() {
    let (old, new) = (memory::adapters(), memory::adapters());
    let (slow_old, old_switch) = with_faults(&old);
    let (slow_new, new_switch) = with_faults(&new);
    old_switch.delay_writes(Duration::from_millis(20));
    new_switch.delay_writes(Duration::from_millis(20));
    let control = MigrationController::new(Stage::DualWrite);
    let pt = Passthrough::migration(slow_old, slow_new, control.clone())
        .new_options(SecondaryOptions::blocking(OnFailure::FailCall))
        .options(ReplicationOptions {
            switch_timeout: Duration::from_secs(2),
            ..quick_options()
        })
        .build()
        .unwrap();
    let db = pt.adapters();
    db.tenants.create(tenant("t")).await.unwrap();
    let mut gave_up = 0;
    for n in 0..30u64 {
        let id = format!("auth0|u{n}");
        // 2 to 60 ms: during and after the journal's first step, the primary
        // write and the copy. (A caller that gives up before the first step
        // returned made no write at all: nothing to check.)
        let patience = Duration::from_millis((n + 1) * 2);
        let created = tokio::time::timeout(patience, db.users.create("t", user(&id))).await;
        gave_up += u32::from(created.is_err());
        let update = db.users.update(
            "t",
            &id,
            UserPatch {
                login_count: Some(1),
                ..Default::default()
            },
        );
        tokio::select! {
            _ = update => {}
            _ = tokio::time::sleep(patience) => gave_up += 1,
        }
    }
    assert!(gave_up > 20, "most callers gave up ({gave_up})");
    let started = Instant::now();
    pt.flush_within(Duration::from_secs(3)).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(
        old.users
            .list("t", &Default::default())
            .await
            .unwrap()
            .items
            .len(),
        30,
        "every abandoned create was committed on the primary"
    );
    assert_same(&old, &new).await;
    let owed = pt.owed().await.unwrap();
    assert_eq!((owed.pending, owed.dead), (0, 0));
    let change = control.set_stage(Stage::Live).await.unwrap();
    assert_eq!(change.to, Stage::Live);
    db.tenants.create(tenant("after")).await.unwrap();
    flush(&pt).await;
    assert_same(&new, &old).await;
}

/// Runs `writers` concurrent tasks of `rounds` rounds each.
async fn concurrently<F, Fut>(writers: usize, rounds: usize, write: F)
where
    F: Fn(usize, usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let tasks: Vec<_> = (0..writers)
        .map(|w| {
            let write = write.clone();
            tokio::spawn(async move {
                for r in 0..rounds {
                    write(w, r).await;
                    tokio::task::yield_now().await;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
}

/// A passthrough to a secondary whose writes are a little slow (so that
/// copies of one key overlap), with tenant `t` and user `auth0|u` everywhere.
async fn racing() -> (Passthrough, DataAdapters, DataAdapters) {
    let (a, b) = (memory::adapters(), memory::adapters());
    let (slow_b, switch) = with_faults(&b);
    switch.delay_writes(Duration::from_millis(1));
    let pt = Passthrough::builder("a", a.clone())
        .secondary("b", slow_b, SecondaryOptions::non_blocking())
        .options(quick_options())
        .build()
        .unwrap();
    let db = pt.adapters();
    db.tenants.create(tenant("t")).await.unwrap();
    db.users.create("t", user("auth0|u")).await.unwrap();
    flush(&pt).await;
    (pt, a, b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn upsert_many_is_ordered_per_key() {
    let (pt, a, b) = racing().await;
    let db = pt.adapters();
    let mut base = Vec::new();
    for n in 0..8 {
        base.push(
            db.users
                .create("t", user(&format!("auth0|m{n}")))
                .await
                .unwrap(),
        );
    }
    concurrently(6, 15, move |w, r| {
        let (db, mut records) = (db.clone(), base.clone());
        async move {
            records.rotate_left(w);
            for record in &mut records {
                record.nickname = Some(format!("w{w}r{r}"));
            }
            db.users.upsert_many("t", records).await.unwrap();
        }
    })
    .await;
    flush(&pt).await;
    assert_same(&a, &b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn codes_cleanup_is_ordered_per_key() {
    let (pt, a, b) = racing().await;
    let db = pt.adapters();
    concurrently(6, 15, move |w, r| {
        let db = db.clone();
        async move {
            if w % 3 == 0 {
                db.codes.cleanup("t", Timestamp::now()).await.unwrap();
            } else {
                // Expired already (the cleanups remove them) or not.
                let offset = if w % 3 == 1 { -60_000 } else { 60_000 };
                let code = CodeInsert {
                    code_id: Some(format!("c{w}-{r}")),
                    ..CodeInsert::new(CodeType::Otp, Timestamp::now().plus_millis(offset))
                };
                db.codes.create("t", code).await.unwrap();
            }
        }
    })
    .await;
    flush(&pt).await;
    assert_same(&a, &b).await;
}

/// A create without a key (the adapter generates it), updated or removed
/// by another writer as soon as it is known.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn creates_with_a_generated_id_are_ordered_per_key() {
    let (pt, a, b) = racing().await;
    let db = pt.adapters();
    let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel::<(String, String)>();
    let creator = {
        let db = db.clone();
        tokio::spawn(async move {
            for n in 0..40 {
                let session = db
                    .sessions
                    .create(
                        "t",
                        SessionInsert {
                            user_id: "auth0|u".into(),
                            ..Default::default()
                        },
                    )
                    .await
                    .unwrap();
                let user = db
                    .users
                    .create(
                        "t",
                        UserInsert {
                            email: Some(format!("g{n}@x.io")),
                            connection: "db".into(),
                            ..Default::default()
                        },
                    )
                    .await
                    .unwrap();
                sender.send((session.id, user.user_id)).unwrap();
            }
        })
    };
    let mut n = 0;
    while let Some((session, user)) = receiver.recv().await {
        let (db2, db3) = (db.clone(), db.clone());
        let patch = UserPatch {
            login_count: Some(n),
            ..Default::default()
        };
        let (removed, updated) = tokio::join!(
            async move {
                if n % 2 == 0 {
                    db2.sessions.remove("t", &session).await.map(|_| ())
                } else {
                    Ok(())
                }
            },
            async move { db3.users.update("t", &user, patch).await.map(|_| ()) }
        );
        removed.unwrap();
        updated.unwrap();
        n += 1;
    }
    creator.await.unwrap();
    flush(&pt).await;
    assert_same(&a, &b).await;
}

/// A password removal racing a password upsert (and new current passwords)
/// of the same user.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn password_removals_and_upserts_of_one_user_are_ordered() {
    let (pt, a, b) = racing().await;
    let db = pt.adapters();
    let first = db
        .passwords
        .create(
            "t",
            PasswordInsert {
                id: Some("p".into()),
                ..PasswordInsert::new("auth0|u", "h", PasswordAlgorithm::Bcrypt)
            },
        )
        .await
        .unwrap();
    concurrently(6, 15, move |w, r| {
        let (db, mut record) = (db.clone(), first.clone());
        async move {
            match w % 3 {
                0 => {
                    record.password = format!("h{w}-{r}").into();
                    record.is_current = true;
                    db.passwords.upsert("t", record).await.unwrap();
                }
                1 => {
                    db.passwords.remove("t", "p").await.unwrap();
                }
                _ => {
                    db.passwords
                        .create(
                            "t",
                            PasswordInsert::new(
                                "auth0|u",
                                format!("n{w}-{r}"),
                                PasswordAlgorithm::Argon2id,
                            ),
                        )
                        .await
                        .unwrap();
                }
            }
        }
    })
    .await;
    flush(&pt).await;
    assert_same(&a, &b).await;
}

/// Builds a passthrough from `a` to the faulty `b`, as an application
/// (re)starting over the same stores would.
fn instance(a: &DataAdapters, b: &DataAdapters, relay: bool) -> Passthrough {
    Passthrough::builder("a", a.clone())
        .secondary(
            "b",
            b.clone(),
            SecondaryOptions::non_blocking().retry(quick_retry(1)),
        )
        .options(ReplicationOptions {
            relay,
            ..quick_options()
        })
        .build()
        .unwrap()
}

/// A process that stops while the secondary is down (and that ran no
/// relay): the next process over the same stores reports what it owed
/// (pending, dead) before doing anything, and copies it once the store is
/// back; the dead letter waits for a replay.
#[tokio::test]
async fn a_restarted_passthrough_copies_what_the_previous_one_owed() {
    let (a, b) = (memory::adapters(), memory::adapters());
    let (faulty_b, switch) = with_faults(&b);
    let first = instance(&a, &faulty_b, false);
    let db = first.adapters();
    db.tenants.create(tenant("t")).await.unwrap();
    for n in 0..20 {
        db.users
            .create("t", user(&format!("auth0|u{n}")))
            .await
            .unwrap();
    }
    flush(&first).await;
    // One rejected copy: a user the secondary already has under another id.
    b.users
        .create(
            "t",
            UserInsert {
                email: Some("taken@x.io".into()),
                ..user("auth0|squatter")
            },
        )
        .await
        .unwrap();
    db.users
        .create(
            "t",
            UserInsert {
                email: Some("taken@x.io".into()),
                ..user("auth0|dup")
            },
        )
        .await
        .unwrap();
    flush(&first).await;
    // Then the secondary goes down: 20 updates and a removal stay owed.
    switch.fail_writes(true);
    for n in 0..20 {
        db.users
            .update(
                "t",
                &format!("auth0|u{n}"),
                UserPatch {
                    login_count: Some(7),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
    }
    assert!(db.users.remove("t", "auth0|u0").await.unwrap());
    let owed = first.owed().await.unwrap();
    assert_eq!((owed.pending, owed.dead), (20, 1));
    drop(db);
    drop(first);

    let second = instance(&a, &faulty_b, true);
    let status = second.status().await;
    assert_eq!(status.status, Health::Errors);
    assert_eq!((status.pending, status.dead_letters), (20, 1));
    assert!(status.secondaries[0].oldest_pending.is_some());
    let letters = second.dead_letters(10).await.unwrap();
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].key, "auth0|dup");
    // The secondary comes back: this process's relay copies everything owed.
    switch.fail_writes(false);
    wait_until_owed(&second, 0).await;
    assert!(b.users.get("t", "auth0|u0").await.unwrap().is_none());
    assert_eq!(
        b.users.get("t", "auth0|u5").await.unwrap(),
        a.users.get("t", "auth0|u5").await.unwrap()
    );
    assert!(b.users.remove("t", "auth0|squatter").await.unwrap());
    assert_eq!(second.replay_dead_letters().await.unwrap(), 1);
    flush(&second).await;
    assert_eq!(second.status().await.status, Health::Healthy);
    assert_same(&a, &b).await;
}

/// Polls until the journal owes `pending` keys (at most 5 s), without flushing.
async fn wait_until_owed(pt: &Passthrough, pending: u64) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let owed = pt.owed().await.unwrap().pending;
        if owed == pending {
            return;
        }
        assert!(Instant::now() < deadline, "still {owed} owed");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A process killed in the middle of writes (its runtime shut down while
/// the primary writes were under way, so they never finished): the keys
/// it had journaled are copied by the next process once their lease runs
/// out, whatever the primary ended up with.
#[test]
fn a_process_killed_mid_write_leaves_nothing_stuck_past_the_lease() {
    let (a, b) = (memory::adapters(), memory::adapters());
    let (slow_a, slow) = with_faults(&a);
    let lease = Duration::from_millis(400);
    let options = ReplicationOptions {
        lease,
        ..quick_options()
    };
    let build = |primary: &DataAdapters| {
        Passthrough::builder("a", primary.clone())
            .secondary("b", b.clone(), SecondaryOptions::non_blocking())
            .options(options)
            .build()
            .unwrap()
    };
    let killed = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    killed.block_on(async {
        let pt = build(&slow_a);
        let db = pt.adapters();
        db.tenants.create(tenant("t")).await.unwrap();
        flush(&pt).await;
        slow.delay_writes(Duration::from_millis(200));
        for n in 0..5 {
            let db = db.clone();
            tokio::spawn(async move { db.users.create("t", user(&format!("auth0|k{n}"))).await });
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        drop(pt);
    });
    // The OOM killer: nothing of that process runs any more.
    killed.shutdown_background();
    slow.delay_writes(Duration::ZERO);
    // Something the primary got after the kill (the last write of u1 wins).
    let primary = a.clone();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        primary.users.create("t", user("auth0|k1")).await.unwrap();
        let pt = build(&primary);
        let owed = pt.owed().await.unwrap();
        assert_eq!(
            owed.pending, 5,
            "the journal kept the keys of the killed writes"
        );
        let started = Instant::now();
        wait_until_owed(&pt, 0).await;
        assert!(
            started.elapsed() < lease * 4,
            "copied within a few leases: {:?}",
            started.elapsed()
        );
        assert_same(&primary, &b).await;
        assert!(b.users.get("t", "auth0|k1").await.unwrap().is_some());
    });
}

/// The race `codes_cleanup_is_ordered_per_key` found, made deterministic: a
/// code's copy reads it from the primary, a `codes.cleanup` then removes it
/// there and its own copy finds nothing to remove on the secondary (the
/// code's copy has not landed yet), then the code's copy lands. A cleanup
/// journals its cut-off, not each code it removes, so the journal's
/// per-key check alone cannot catch this.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_copied_while_a_cleanup_removes_it_does_not_stay_behind() {
    let (a, b) = (memory::adapters(), memory::adapters());
    let (slow_b, switch) = with_faults(&b);
    let pt = Passthrough::builder("a", a.clone())
        .secondary("b", slow_b, SecondaryOptions::non_blocking())
        .options(quick_options())
        .build()
        .unwrap();
    let db = pt.adapters();
    db.tenants.create(tenant("t")).await.unwrap();
    flush(&pt).await;
    switch.delay_writes(Duration::from_millis(150));
    let expired = CodeInsert {
        code_id: Some("expired".into()),
        ..CodeInsert::new(CodeType::Otp, Timestamp::now().plus_millis(-60_000))
    };
    db.codes.create("t", expired).await.unwrap();
    tokio::time::sleep(Duration::from_millis(30)).await;
    assert_eq!(db.codes.cleanup("t", Timestamp::now()).await.unwrap(), 1);
    flush(&pt).await;
    assert!(b.codes.get("t", "expired").await.unwrap().is_none());
    assert_same(&a, &b).await;
}
