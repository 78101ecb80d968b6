//! Every copy (first attempt, retry, dead-letter replay) brings each key to
//! the primary's current state: never a stale snapshot, never a blind
//! cleanup, and a removal's cascade (or a password's demotion of the
//! others) is not lost. Transient faults are retried; rejections
//! ([`FaultSwitch::reject_next_writes`]) are dead-lettered and replayed.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use adapter_interfaces::{
    CodeInsert, CodeType, DataAdapters, LogInsert, PasswordAlgorithm, PasswordInsert,
    SessionInsert, TenantInsert, Timestamp, UserInsert, memory,
};
use common::{assert_same, flush, quick_options, quick_retry};
use passthrough::{FaultSwitch, Passthrough, RetryPolicy, SecondaryOptions, with_faults};

/// A passthrough from a memory primary to a faulty memory secondary.
fn setup(retry: RetryPolicy) -> (Passthrough, DataAdapters, DataAdapters, FaultSwitch) {
    let (a, b) = (memory::adapters(), memory::adapters());
    let (faulty_b, switch) = with_faults(&b);
    let pt = Passthrough::builder("a", a.clone())
        .secondary("b", faulty_b, SecondaryOptions::non_blocking().retry(retry))
        .options(quick_options())
        .build()
        .unwrap();
    (pt, a, b, switch)
}

/// Creates tenants `t` and `keep` (the latter so that the stores are never empty).
async fn tenants(db: &DataAdapters) {
    for id in ["t", "keep"] {
        db.tenants.create(tenant(id, id)).await.unwrap();
    }
}

fn tenant(id: &str, friendly_name: &str) -> TenantInsert {
    TenantInsert {
        id: Some(id.into()),
        friendly_name: friendly_name.into(),
        ..Default::default()
    }
}

/// A session of user `auth0|u`.
fn session(id: &str) -> SessionInsert {
    SessionInsert {
        id: Some(id.into()),
        user_id: "auth0|u".into(),
        ..Default::default()
    }
}

fn log(id: &str) -> LogInsert {
    LogInsert {
        log_id: Some(id.into()),
        log_type: "s".into(),
        ..Default::default()
    }
}

fn user(id: &str) -> UserInsert {
    UserInsert {
        user_id: Some(id.into()),
        connection: "db".into(),
        ..Default::default()
    }
}

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

/// A log whose first copy fails (the secondary is briefly down), and whose
/// tenant is gone from the primary (by cascade, the log too) by its retry:
/// the retry settles it (the primary's current state is "absent"), instead
/// of retrying a snapshot for ever.
#[tokio::test]
async fn a_retried_log_whose_tenant_was_removed_settles() {
    let retry = RetryPolicy {
        max_attempts: 3,
        initial_backoff: Duration::from_millis(30),
        max_backoff: Duration::from_millis(30),
    };
    let (pt, a, b, switch) = setup(retry);
    let db = pt.adapters();
    tenants(&db).await;
    flush(&pt).await;
    switch.fail_next_writes(1);
    db.logs.create("t", log("l1")).await.unwrap();
    // While the log's copy backs off, the tenant (and its log, by cascade) leaves the primary.
    assert!(db.tenants.remove("t").await.unwrap());
    flush(&pt).await;
    assert_eq!(switch.injected(), 1);
    assert!(pt.dead_letters(100).await.unwrap().is_empty());
    assert_same(&a, &b).await;
}

/// A dead-lettered log whose tenant is then removed: its replay finds no
/// log on the primary, and that is settled (logs have no removal; the
/// tenant's removal cascaded on the target), not "logs are append-only".
#[tokio::test]
async fn a_replayed_log_whose_tenant_was_removed_settles() {
    let (pt, a, b, switch) = setup(quick_retry(1));
    let db = pt.adapters();
    tenants(&db).await;
    flush(&pt).await;
    switch.reject_next_writes(1);
    db.logs.create("t", log("l1")).await.unwrap();
    flush(&pt).await;
    assert_eq!(pt.dead_letters(100).await.unwrap().len(), 1);
    assert!(db.tenants.remove("t").await.unwrap());
    flush(&pt).await;
    assert_eq!(pt.replay_dead_letters().await.unwrap(), 1);
    flush(&pt).await;
    assert!(
        pt.dead_letters(100).await.unwrap().is_empty(),
        "{:?}",
        pt.dead_letters(100).await.unwrap()
    );
    assert_same(&a, &b).await;
}

/// A dead-lettered `codes.cleanup` replayed after the primary wrote a code
/// that expires before the cut-off: the replay keeps that code (the primary
/// has it) and still removes the ones the primary's cleanup removed.
#[tokio::test]
async fn a_replayed_cleanup_keeps_codes_the_primary_still_has() {
    let (pt, a, b, switch) = setup(quick_retry(1));
    let db = pt.adapters();
    tenants(&db).await;
    let code = |id: &str, expires: &str| CodeInsert {
        code_id: Some(id.into()),
        ..CodeInsert::new(CodeType::Otp, at(expires))
    };
    db.codes
        .create("t", code("old-expired", "2001-01-01T00:00:00Z"))
        .await
        .unwrap();
    db.codes
        .create("t", code("live", "2999-01-01T00:00:00Z"))
        .await
        .unwrap();
    flush(&pt).await;
    switch.reject_next_writes(1);
    let cut = at("2010-01-01T00:00:00Z");
    assert_eq!(db.codes.cleanup("t", cut).await.unwrap(), 1);
    flush(&pt).await;
    assert_eq!(pt.dead_letters(100).await.unwrap().len(), 1);
    // Written after the cleanup, expiring before its cut-off.
    db.codes
        .create("t", code("again", "2002-02-02T00:00:00Z"))
        .await
        .unwrap();
    flush(&pt).await;
    assert_eq!(pt.replay_dead_letters().await.unwrap(), 1);
    flush(&pt).await;
    assert!(
        pt.dead_letters(100).await.unwrap().is_empty(),
        "{:?}",
        pt.dead_letters(100).await.unwrap()
    );
    assert!(b.codes.get("t", "again").await.unwrap().is_some());
    assert!(b.codes.get("t", "old-expired").await.unwrap().is_none());
    assert_same(&a, &b).await;
}

/// A dead-lettered user removal, then the user created again (same id, new
/// session): that write revives the key, and its copy must still cascade:
/// the old user's sessions and passwords go, the new user's stay.
#[tokio::test]
async fn a_replayed_user_removal_cascades_even_if_the_user_came_back() {
    let (pt, a, b, switch) = setup(quick_retry(1));
    let db = pt.adapters();
    tenants(&db).await;
    db.users.create("t", user("auth0|u")).await.unwrap();
    for id in ["old-1", "old-2"] {
        db.sessions.create("t", session(id)).await.unwrap();
    }
    db.passwords
        .create(
            "t",
            PasswordInsert::new("auth0|u", "h-old", PasswordAlgorithm::Bcrypt),
        )
        .await
        .unwrap();
    flush(&pt).await;
    switch.reject_next_writes(1);
    assert!(db.users.remove("t", "auth0|u").await.unwrap());
    flush(&pt).await;
    assert_eq!(pt.dead_letters(100).await.unwrap().len(), 1);
    // A new write of the key revives its dead letter; its copy still cascades.
    db.users.create("t", user("auth0|u")).await.unwrap();
    db.sessions.create("t", session("new")).await.unwrap();
    flush(&pt).await;
    assert_eq!(pt.replay_dead_letters().await.unwrap(), 0);
    assert!(
        pt.dead_letters(100).await.unwrap().is_empty(),
        "{:?}",
        pt.dead_letters(100).await.unwrap()
    );
    assert!(b.sessions.get("t", "old-1").await.unwrap().is_none());
    assert!(b.sessions.get("t", "new").await.unwrap().is_some());
    assert_same(&a, &b).await;
}

/// A dead-lettered tenant removal, then the tenant created again: what the
/// old tenant owned (a log too, which has no removal of its own) must go,
/// what the new one owns must stay.
#[tokio::test]
async fn a_replayed_tenant_removal_cascades_even_if_the_tenant_came_back() {
    let (pt, a, b, switch) = setup(quick_retry(1));
    let db = pt.adapters();
    tenants(&db).await;
    db.logs.create("t", log("old-log")).await.unwrap();
    db.users.create("t", user("auth0|old")).await.unwrap();
    flush(&pt).await;
    switch.reject_next_writes(1);
    assert!(db.tenants.remove("t").await.unwrap());
    flush(&pt).await;
    assert_eq!(pt.dead_letters(100).await.unwrap().len(), 1);
    // Writing the tenant again revives the key; its copy still cascades.
    db.tenants.create(tenant("t", "t again")).await.unwrap();
    db.logs.create("t", log("new-log")).await.unwrap();
    db.users.create("t", user("auth0|new")).await.unwrap();
    flush(&pt).await;
    assert_eq!(pt.replay_dead_letters().await.unwrap(), 0);
    assert!(
        pt.dead_letters(100).await.unwrap().is_empty(),
        "{:?}",
        pt.dead_letters(100).await.unwrap()
    );
    assert!(b.logs.get("t", "old-log").await.unwrap().is_none());
    assert!(b.logs.get("t", "new-log").await.unwrap().is_some());
    assert_same(&a, &b).await;
}

/// A dead-lettered current password, removed afterwards: on the primary its
/// create had demoted the user's previous password, and the copy of the
/// user's passwords must carry that demotion over although the password
/// itself is gone.
#[tokio::test]
async fn a_replayed_password_write_carries_its_demotion_over() {
    let (pt, a, b, switch) = setup(quick_retry(1));
    let db = pt.adapters();
    tenants(&db).await;
    db.users.create("t", user("auth0|u")).await.unwrap();
    let first = db
        .passwords
        .create(
            "t",
            PasswordInsert::new("auth0|u", "h1", PasswordAlgorithm::Bcrypt),
        )
        .await
        .unwrap();
    flush(&pt).await;
    switch.reject_next_writes(1);
    let second = db
        .passwords
        .create(
            "t",
            PasswordInsert::new("auth0|u", "h2", PasswordAlgorithm::Bcrypt),
        )
        .await
        .unwrap();
    flush(&pt).await;
    assert_eq!(pt.dead_letters(100).await.unwrap().len(), 1);
    // The removal writes the same key (the user's passwords), reviving it.
    assert!(db.passwords.remove("t", &second.id).await.unwrap());
    flush(&pt).await;
    assert_eq!(pt.replay_dead_letters().await.unwrap(), 0);
    assert!(
        pt.dead_letters(100).await.unwrap().is_empty(),
        "{:?}",
        pt.dead_letters(100).await.unwrap()
    );
    assert!(
        !b.passwords
            .get("t", &first.id)
            .await
            .unwrap()
            .unwrap()
            .is_current
    );
    assert_same(&a, &b).await;
}

/// A retried removal of a user that the primary created again before the
/// retry ran: the retry must still cascade (the old sessions go) and end
/// with the primary's current user and sessions.
#[tokio::test]
async fn a_retried_user_removal_cascades_even_if_the_user_came_back() {
    let retry = RetryPolicy {
        max_attempts: 3,
        initial_backoff: Duration::from_millis(30),
        max_backoff: Duration::from_millis(30),
    };
    let (pt, a, b, switch) = setup(retry);
    let db = pt.adapters();
    tenants(&db).await;
    db.users.create("t", user("auth0|u")).await.unwrap();
    db.sessions.create("t", session("old")).await.unwrap();
    flush(&pt).await;
    switch.fail_next_writes(1);
    assert!(db.users.remove("t", "auth0|u").await.unwrap());
    db.users.create("t", user("auth0|u")).await.unwrap();
    db.sessions.create("t", session("new")).await.unwrap();
    flush(&pt).await;
    assert!(
        pt.dead_letters(100).await.unwrap().is_empty(),
        "{:?}",
        pt.dead_letters(100).await.unwrap()
    );
    assert!(b.sessions.get("t", "old").await.unwrap().is_none());
    assert_same(&a, &b).await;
}

/// Replays copy the primary's current records, which may need a parent that
/// another dead letter creates: a password (same id as one removed earlier)
/// of a user whose own create was dead-lettered too. Whichever replay runs
/// first, the password's copies the missing user ahead instead of failing.
#[tokio::test]
async fn a_replay_copies_a_parent_that_a_younger_dead_letter_creates() {
    let (pt, a, b, switch) = setup(quick_retry(1));
    let db = pt.adapters();
    tenants(&db).await;
    db.users.create("t", user("auth0|one")).await.unwrap();
    flush(&pt).await;
    let password = |user_id: &str| PasswordInsert {
        id: Some("p".into()),
        ..PasswordInsert::new(user_id, "h", PasswordAlgorithm::Bcrypt)
    };
    switch.reject_next_writes(1);
    db.passwords
        .create("t", password("auth0|one"))
        .await
        .unwrap();
    flush(&pt).await;
    assert_eq!(pt.dead_letters(100).await.unwrap().len(), 1);
    assert!(db.passwords.remove("t", "p").await.unwrap());
    flush(&pt).await;
    assert!(
        pt.dead_letters(100).await.unwrap().is_empty(),
        "revived and settled"
    );
    switch.reject_next_writes(2);
    db.users.create("t", user("auth0|two")).await.unwrap();
    db.passwords
        .create("t", password("auth0|two"))
        .await
        .unwrap();
    flush(&pt).await;
    assert_eq!(pt.dead_letters(100).await.unwrap().len(), 2);
    assert_eq!(pt.replay_dead_letters().await.unwrap(), 2);
    flush(&pt).await;
    assert!(
        pt.dead_letters(100).await.unwrap().is_empty(),
        "{:?}",
        pt.dead_letters(100).await.unwrap()
    );
    assert_same(&a, &b).await;
}
