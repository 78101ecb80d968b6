//! Read policies: primary only, fallback with read-repair, shadow reads.
#![allow(clippy::unwrap_used)]

mod common;

use adapter_interfaces::{
    DataAdapters, ListParams, PasswordAlgorithm, PasswordInsert, TenantInsert, UserInsert,
    UserPatch, memory,
};
use std::time::{Duration, Instant};

use common::{compared, flush, quick_options, quick_retry};
use passthrough::{
    Difference, OnFailure, Passthrough, ReadPolicy, ReplicationOptions, SecondaryOptions,
    with_faults,
};

async fn seeded() -> (DataAdapters, DataAdapters) {
    let (a, b) = (memory::adapters(), memory::adapters());
    for db in [&a, &b] {
        db.tenants
            .create(TenantInsert {
                id: Some("t".into()),
                friendly_name: "T".into(),
                ..Default::default()
            })
            .await
            .unwrap();
    }
    (a, b)
}

/// A passthrough from `a` to a non-blocking `b` whose faults the switch
/// controls, retried once, with this read policy.
fn behind_a_faulty_secondary(
    a: &DataAdapters,
    b: &DataAdapters,
    policy: ReadPolicy,
) -> (Passthrough, passthrough::FaultSwitch) {
    let (faulty_b, switch) = with_faults(b);
    let pt = Passthrough::builder("a", a.clone())
        .secondary(
            "b",
            faulty_b,
            SecondaryOptions::non_blocking().retry(quick_retry(1)),
        )
        .read_policy(policy)
        .options(quick_options())
        .build()
        .unwrap();
    (pt, switch)
}

fn user(id: &str) -> UserInsert {
    UserInsert {
        user_id: Some(id.into()),
        connection: "db".into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn reads_come_from_the_primary_only_by_default() {
    let (a, b) = seeded().await;
    b.users.create("t", user("auth0|only-b")).await.unwrap();
    let pt = Passthrough::builder("a", a)
        .secondary("b", b, SecondaryOptions::non_blocking())
        .options(quick_options())
        .build()
        .unwrap();
    assert!(
        pt.adapters()
            .users
            .get("t", "auth0|only-b")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(pt.status().await.compared_reads, 0);
}

#[tokio::test]
async fn fallback_serves_a_primary_miss_and_repairs_when_asked() {
    let (a, b) = seeded().await;
    let only_b = b.users.create("t", user("auth0|only-b")).await.unwrap();
    let pw = b
        .passwords
        .create(
            "t",
            PasswordInsert::new("auth0|only-b", "h", PasswordAlgorithm::Bcrypt),
        )
        .await
        .unwrap();

    let no_repair = Passthrough::builder("a", a.clone())
        .secondary("b", b.clone(), SecondaryOptions::non_blocking())
        .read_policy(ReadPolicy::default().with_fallback(false))
        .options(quick_options())
        .build()
        .unwrap();
    assert_eq!(
        no_repair
            .adapters()
            .users
            .get("t", &only_b.user_id)
            .await
            .unwrap(),
        Some(only_b.clone())
    );
    assert!(
        a.users.get("t", &only_b.user_id).await.unwrap().is_none(),
        "no repair asked"
    );
    assert!(
        no_repair
            .adapters()
            .users
            .get("t", "auth0|nowhere")
            .await
            .unwrap()
            .is_none()
    );

    let repair = Passthrough::builder("a", a.clone())
        .secondary("b", b.clone(), SecondaryOptions::non_blocking())
        .read_policy(ReadPolicy::default().with_fallback(true))
        .options(quick_options())
        .build()
        .unwrap();
    let db = repair.adapters();
    assert_eq!(
        db.users.get("t", &only_b.user_id).await.unwrap(),
        Some(only_b.clone())
    );
    assert_eq!(
        a.users.get("t", &only_b.user_id).await.unwrap(),
        Some(only_b),
        "repaired into the primary"
    );
    assert_eq!(
        db.passwords.get_current("t", "auth0|only-b").await.unwrap(),
        Some(pw.clone())
    );
    assert_eq!(a.passwords.get("t", &pw.id).await.unwrap(), Some(pw));
    flush(&repair).await;
}

#[tokio::test]
async fn fallback_never_resurrects_a_record_whose_removal_is_pending() {
    let (a, b) = seeded().await;
    let (pt, switch) = behind_a_faulty_secondary(&a, &b, ReadPolicy::default().with_fallback(true));
    let db = pt.adapters();
    db.users.create("t", user("auth0|u")).await.unwrap();
    flush(&pt).await;
    switch.fail_writes(true);
    assert!(db.users.remove("t", "auth0|u").await.unwrap());
    let pending = pt
        .flush_within(Duration::from_millis(50))
        .await
        .unwrap_err();
    assert_eq!((pending.pending, pending.dead), (1, 0));
    assert!(
        b.users.get("t", "auth0|u").await.unwrap().is_some(),
        "the secondary still has it"
    );
    assert!(
        db.users.get("t", "auth0|u").await.unwrap().is_none(),
        "but the fallback does not serve it"
    );
    assert!(
        a.users.get("t", "auth0|u").await.unwrap().is_none(),
        "nor repair it into the primary"
    );
    switch.fail_writes(false);
    flush(&pt).await;
    assert!(b.users.get("t", "auth0|u").await.unwrap().is_none());
}

#[tokio::test]
async fn shadow_reads_record_mismatches_with_field_names_only() {
    let (a, b) = seeded().await;
    let pt = Passthrough::builder("a", a.clone())
        .secondary("b", b.clone(), SecondaryOptions::non_blocking())
        .read_policy(ReadPolicy::default().with_shadow_reads(1.0))
        .options(quick_options())
        .build()
        .unwrap();
    let db = pt.adapters();
    let u = db
        .users
        .create(
            "t",
            UserInsert {
                email: Some("x@y.io".into()),
                ..user("auth0|u")
            },
        )
        .await
        .unwrap();
    db.passwords
        .create(
            "t",
            PasswordInsert::new("auth0|u", "secret-hash", PasswordAlgorithm::Bcrypt),
        )
        .await
        .unwrap();
    flush(&pt).await;
    db.users.get("t", &u.user_id).await.unwrap();
    db.users.list("t", &ListParams::default()).await.unwrap();
    assert_eq!(compared(&pt, 2).await, 2);
    assert!(pt.mismatches().is_empty(), "{:?}", pt.mismatches());

    // Diverge the secondary behind the passthrough's back.
    let mut changed = u.clone();
    changed.name = Some("Mallory".into());
    changed.login_count = 9;
    b.users.upsert("t", changed).await.unwrap();
    b.users.create("t", user("auth0|extra")).await.unwrap();
    let mut pw = b
        .passwords
        .get_current("t", "auth0|u")
        .await
        .unwrap()
        .unwrap();
    pw.password = "other-hash".into();
    b.passwords.upsert("t", pw).await.unwrap();
    db.users.get("t", &u.user_id).await.unwrap();
    db.users.list("t", &ListParams::default()).await.unwrap();
    db.passwords.get_current("t", "auth0|u").await.unwrap();
    assert_eq!(compared(&pt, 5).await, 5);
    // Compared reads run concurrently: their order is not the reads' order.
    let mut mismatches = pt.mismatches();
    mismatches.sort_by_key(|m| {
        ["get", "list", "get_current"]
            .iter()
            .position(|n| *n == m.method)
    });
    assert_eq!(mismatches.len(), 3, "{mismatches:?}");
    assert_eq!(mismatches[0].method, "get");
    assert_eq!(
        mismatches[0].differences,
        vec![Difference::Fields {
            key: "auth0|u".into(),
            fields: vec!["login_count".into(), "name".into()]
        }]
    );
    assert_eq!(mismatches[1].method, "list");
    assert!(
        mismatches[1]
            .differences
            .contains(&Difference::OnlyOnSecondary {
                key: "auth0|extra".into()
            })
    );
    assert_eq!(mismatches[2].method, "get_current");
    let json = serde_json::to_string(&pt.status().await).unwrap();
    assert!(
        json.contains("\"password\"") && !json.contains("hash"),
        "field names, never values: {json}"
    );
    assert_eq!(pt.status().await.mismatches, 3);
}

#[tokio::test]
async fn shadow_reads_are_sampled() {
    let (a, b) = seeded().await;
    let pt = Passthrough::builder("a", a)
        .secondary("b", b, SecondaryOptions::non_blocking())
        .read_policy(ReadPolicy::default().with_shadow_reads(0.25))
        .options(quick_options())
        .build()
        .unwrap();
    let db = pt.adapters();
    for _ in 0..100 {
        db.users.get("t", "auth0|x").await.unwrap();
    }
    assert_eq!(compared(&pt, 25).await, 25);
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(pt.status().await.compared_reads, 25);
}

/// Every read compared against a secondary that answers reads slowly: the
/// compared reads run beside the write path (bounded, the surplus skipped),
/// so a write, even one that waits for that secondary's copy, is not
/// delayed by them, and replication does not fall behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shadow_reads_of_a_slow_secondary_never_delay_writes() {
    let (a, b) = seeded().await;
    let (slow_b, switch) = with_faults(&b);
    let pt = Passthrough::builder("a", a.clone())
        .secondary("b", slow_b, SecondaryOptions::blocking(OnFailure::FailCall))
        .read_policy(ReadPolicy::default().with_shadow_reads(1.0))
        .options(ReplicationOptions {
            shadow_concurrency: 8,
            ..quick_options()
        })
        .build()
        .unwrap();
    let db = pt.adapters();
    db.users.create("t", user("auth0|u")).await.unwrap();
    flush(&pt).await;
    switch.delay_reads(Duration::from_millis(400));
    for _ in 0..100 {
        db.users.get("t", "auth0|u").await.unwrap();
    }
    let started = Instant::now();
    let mut slowest = Duration::ZERO;
    for n in 0..20 {
        let write = Instant::now();
        db.users
            .update(
                "t",
                "auth0|u",
                UserPatch {
                    login_count: Some(n),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        slowest = slowest.max(write.elapsed());
    }
    flush(&pt).await;
    let replicated = started.elapsed();
    assert!(
        slowest < Duration::from_millis(200),
        "a write waited {slowest:?} behind compared reads"
    );
    assert!(
        replicated < Duration::from_millis(400),
        "replication took {replicated:?}"
    );
    assert_eq!(
        b.users.get("t", "auth0|u").await.unwrap(),
        a.users.get("t", "auth0|u").await.unwrap()
    );
    // The compared reads did happen, at most the bound at once.
    let done = compared(&pt, 8).await;
    assert!((8..100).contains(&done), "{done} compared");
}

/// A secondary that is only behind (the journal still owes it the key) is
/// not diverged: its compared reads count as lagging, not as mismatches.
#[tokio::test]
async fn shadow_reads_of_keys_still_owed_count_as_lagging() {
    let (a, b) = seeded().await;
    let (pt, switch) =
        behind_a_faulty_secondary(&a, &b, ReadPolicy::default().with_shadow_reads(1.0));
    let db = pt.adapters();
    db.users.create("t", user("auth0|u")).await.unwrap();
    flush(&pt).await;
    switch.fail_writes(true);
    let patch = UserPatch {
        nickname: Some(Some("behind".into())),
        ..Default::default()
    };
    db.users.update("t", "auth0|u", patch).await.unwrap();
    db.users.get("t", "auth0|u").await.unwrap();
    db.users.list("t", &ListParams::default()).await.unwrap();
    assert_eq!(compared(&pt, 2).await, 2);
    let status = pt.status().await;
    assert_eq!(
        (status.mismatches, status.lagging_reads),
        (0, 2),
        "{status:?}"
    );
    assert!(pt.mismatches().is_empty());

    // Once replication caught up, a real divergence is still a mismatch.
    switch.fail_writes(false);
    flush(&pt).await;
    let mut diverged = a.users.get("t", "auth0|u").await.unwrap().unwrap();
    diverged.login_count = 42;
    b.users.upsert("t", diverged).await.unwrap();
    db.users.get("t", "auth0|u").await.unwrap();
    assert_eq!(compared(&pt, 3).await, 3);
    let status = pt.status().await;
    assert_eq!(
        (status.mismatches, status.lagging_reads),
        (1, 2),
        "{status:?}"
    );
}
