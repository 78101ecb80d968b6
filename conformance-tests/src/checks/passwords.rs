//! Passwords: at most one current per user, rotated atomically.

use adapter_interfaces::{
    DataAdapters, EntityKind, EntityStore, ListParams, Password, PasswordAlgorithm, PasswordInsert,
    Secret, Timestamp,
};
use futures::future::BoxFuture;

use super::generic::{self, Fixture, expected};
use super::support::*;

fn base(id: &str, user: &str, current: bool) -> PasswordInsert {
    PasswordInsert {
        id: Some(id.into()),
        is_current: current,
        created_at: Some(at(0)),
        updated_at: Some(at(0)),
        ..PasswordInsert::new(user, format!("$2b$10${id}-hash"), PasswordAlgorithm::Bcrypt)
    }
}

impl Fixture for Password {
    fn store(db: &DataAdapters) -> &dyn EntityStore<Self> {
        &*db.passwords
    }

    // None is current: creating them must not demote one another.
    fn samples() -> Vec<PasswordInsert> {
        vec![
            base("pw-1", PARENT, false),
            PasswordInsert {
                algorithm: PasswordAlgorithm::Argon2id,
                created_at: Some(at(1)),
                updated_at: Some(at(2)),
                ..base("pw-2", PARENT, false)
            },
            PasswordInsert {
                created_at: Some(at(1)),
                updated_at: Some(at(1)),
                ..base("pw-3", PARENT2, false)
            },
            PasswordInsert {
                algorithm: PasswordAlgorithm::Argon2id,
                ..base("PW-4", PARENT2, false)
            },
            PasswordInsert {
                created_at: Some(at(3)),
                updated_at: Some(at(3)),
                ..base("pw-5", PARENT, false)
            },
            base("pw-6", PARENT, false),
        ]
    }

    fn one(key: &str) -> PasswordInsert {
        base(key, PARENT, false)
    }

    fn clash_with(existing: &Password) -> Option<Password> {
        Some(Password {
            id: "pw-orphan".into(),
            user_id: "auth0|ghost".into(),
            ..existing.clone()
        })
    }

    fn remove<'a>(
        db: &'a DataAdapters,
        t: &'a str,
        id: &'a str,
    ) -> Option<BoxFuture<'a, adapter_interfaces::Result<bool>>> {
        Some(db.passwords.remove(t, id))
    }
}

async fn list_of(db: &DataAdapters, user: &str) -> Vec<Password> {
    let params = ListParams::default().with_q(format!("user_id:{}", quote(user)));
    ok(db.passwords.list(T1, &params).await, "list").items
}

/// Every field round-trips, current or not, with either algorithm.
pub async fn passwords_create_round_trip(db: &DataAdapters) {
    generic::create_round_trip::<Password>(db).await;
    let full = Password {
        id: "pw-full".into(),
        user_id: PARENT.into(),
        password: Secret::new("$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA"),
        algorithm: PasswordAlgorithm::Argon2id,
        is_current: true,
        created_at: ts("2020-02-02T02:02:02.002Z"),
        updated_at: ts("2020-02-02T02:02:02.003Z"),
    };
    generic::full_round_trip(db, &full).await;
    assert_eq!(
        current_password(db, T2, PARENT).await,
        Some(full),
        "get_current"
    );
    // Every algorithm, its parameters in the hash string, stored exactly.
    for (i, &algorithm) in PasswordAlgorithm::ALL.iter().enumerate() {
        let record = Password {
            id: format!("pw-alg-{i}"),
            algorithm,
            is_current: false,
            password: Secret::new(format!(
                "${algorithm}$sp=suffix,pe=utf16le$c2FsdA$aGFzaC{i}"
            )),
            ..current_password(db, T2, PARENT).await.expect("current")
        };
        generic::full_round_trip(db, &record).await;
    }
}

/// A password of an unknown user is `NotFound` of the user and writes nothing.
pub async fn passwords_create_unknown_user_writes_nothing(db: &DataAdapters) {
    prepare(db).await;
    let current = created(&*db.passwords, T1, base("pw-1", PARENT, true)).await;
    let result = db
        .passwords
        .create(T1, base("pw-2", "auth0|ghost", true))
        .await;
    expect_not_found(
        result,
        EntityKind::User,
        "auth0|ghost",
        "a password of an unknown user",
    );
    assert_records(
        &all_in(&*db.passwords, T1).await,
        &[current],
        "passwords after a rejected create",
    );
}

/// Upsert checks the user too.
pub async fn passwords_upsert_unknown_user(db: &DataAdapters) {
    generic::upsert_unknown_user::<Password>(db, expected(&base("pw-1", "auth0|ghost", true)))
        .await;
}

/// A new current password demotes the previous one, which takes the new one's `updated_at`.
pub async fn passwords_rotation(db: &DataAdapters) {
    prepare(db).await;
    assert_eq!(
        current_password(db, T1, PARENT).await,
        None,
        "current password of a user without any"
    );
    let first = created(
        &*db.passwords,
        T1,
        PasswordInsert::new(PARENT, "$2b$10$first", PasswordAlgorithm::Bcrypt),
    )
    .await;
    assert!(first.is_current, "a new password is current by default");
    let other_user = created(
        &*db.passwords,
        T1,
        PasswordInsert::new(PARENT2, "$2b$10$other", PasswordAlgorithm::Bcrypt),
    )
    .await;
    assert_eq!(
        current_password(db, T1, PARENT).await,
        Some(first.clone()),
        "get_current after the first password"
    );
    let before = Timestamp::now();
    let second = created(
        &*db.passwords,
        T1,
        PasswordInsert::new(PARENT, "$argon2id$second", PasswordAlgorithm::Argon2id),
    )
    .await;
    assert_plausible(
        second.updated_at,
        before,
        Timestamp::now(),
        "updated_at of the new password",
    );
    assert_eq!(
        current_password(db, T1, PARENT).await,
        Some(second.clone()),
        "get_current after rotation"
    );
    let demoted = Password {
        is_current: false,
        updated_at: second.updated_at,
        ..first
    };
    assert_eq!(
        ok(db.passwords.get(T1, &demoted.id).await, "get"),
        Some(demoted.clone()),
        "the previous password was not demoted exactly"
    );
    assert_eq!(
        current_password(db, T1, PARENT2).await,
        Some(other_user.clone()),
        "rotation touched another user"
    );
    let mut want = vec![demoted, second];
    want.sort_by(|a, b| a.id.cmp(&b.id));
    assert_records(
        &list_of(db, PARENT).await,
        &want,
        "the user's passwords after rotation",
    );
    let page = ok(
        db.passwords
            .list(
                T1,
                &ListParams::default()
                    .with_q("is_current:true")
                    .with_totals(),
            )
            .await,
        "list",
    );
    assert_eq!(page.total, Some(2), "one current password per user");
    // Removing the current password leaves none current (nothing is promoted).
    assert!(
        ok(
            db.passwords
                .remove(T1, &want.iter().find(|p| p.is_current).unwrap().id)
                .await,
            "remove"
        ),
        "remove"
    );
    assert_eq!(
        current_password(db, T1, PARENT).await,
        None,
        "a password was promoted after removing the current one"
    );
}

/// Upsert and upsert_many of a current password demote the others the same way.
pub async fn passwords_rotation_by_upsert(db: &DataAdapters) {
    prepare(db).await;
    let first: Password = expected(&base("pw-1", PARENT, true));
    ok(db.passwords.upsert(T1, first.clone()).await, "upsert");
    let second: Password = expected(&PasswordInsert {
        updated_at: Some(at(7)),
        ..base("pw-2", PARENT, true)
    });
    ok(db.passwords.upsert(T1, second.clone()).await, "upsert");
    let demoted = Password {
        is_current: false,
        updated_at: at(7),
        ..first.clone()
    };
    assert_eq!(
        ok(db.passwords.get(T1, "pw-1").await, "get"),
        Some(demoted.clone()),
        "upsert did not demote the previous password"
    );
    assert_eq!(
        current_password(db, T1, PARENT).await,
        Some(second.clone()),
        "get_current after upsert"
    );
    let third: Password = expected(&PasswordInsert {
        updated_at: Some(at(9)),
        ..base("pw-3", PARENT, true)
    });
    ok(
        db.passwords.upsert_many(T1, vec![third.clone()]).await,
        "upsert_many",
    );
    let demoted2 = Password {
        is_current: false,
        updated_at: at(9),
        ..second
    };
    assert_eq!(
        ok(db.passwords.get(T1, "pw-2").await, "get"),
        Some(demoted2.clone()),
        "upsert_many did not demote the previous password"
    );
    assert_eq!(
        ok(db.passwords.get(T1, "pw-1").await, "get"),
        Some(demoted),
        "an already demoted password changed"
    );
    assert_records(
        &list_of(db, PARENT).await,
        &[demoted_first(&first), demoted2, third],
        "passwords after upserts",
    );
}

fn demoted_first(first: &Password) -> Password {
    Password {
        is_current: false,
        updated_at: at(7),
        ..first.clone()
    }
}

/// A password created as not current leaves the current one alone.
pub async fn passwords_non_current_keeps_current(db: &DataAdapters) {
    prepare(db).await;
    let current = created(&*db.passwords, T1, base("pw-1", PARENT, true)).await;
    let old = created(&*db.passwords, T1, base("pw-0", PARENT, false)).await;
    assert!(!old.is_current, "is_current false was not kept");
    assert_eq!(
        ok(db.passwords.get(T1, "pw-1").await, "get"),
        Some(current.clone()),
        "a non-current password demoted the current one"
    );
    assert_eq!(
        current_password(db, T1, PARENT).await,
        Some(current),
        "get_current"
    );
}

/// Concurrent rotations of one user's password leave exactly one current.
pub async fn passwords_concurrent_rotation(db: &DataAdapters) {
    prepare(db).await;
    created(&*db.passwords, T1, base("pw-start", PARENT, true)).await;
    for round in 0..5 {
        let tasks: Vec<_> = (0..6)
            .map(|i| {
                let passwords = std::sync::Arc::clone(&db.passwords);
                let insert = PasswordInsert {
                    id: Some(format!("pw-{round}-{i}")),
                    ..PasswordInsert::new(PARENT, "$2b$10$x", PasswordAlgorithm::Bcrypt)
                };
                tokio::spawn(async move { passwords.create(T1, insert).await })
            })
            .collect();
        for task in tasks {
            ok(task.await.expect("a writer panicked"), "concurrent create");
        }
        let current: Vec<Password> = list_of(db, PARENT)
            .await
            .into_iter()
            .filter(|p| p.is_current)
            .collect();
        assert_eq!(
            current.len(),
            1,
            "round {round}: {} current passwords after concurrent rotations: {:?}",
            current.len(),
            keys(&current)
        );
        assert_eq!(
            current_password(db, T1, PARENT).await.as_ref(),
            current.first(),
            "get_current"
        );
    }
}

/// `get_current` only sees the tenant's and the user's own passwords.
pub async fn passwords_get_current_isolation(db: &DataAdapters) {
    prepare(db).await;
    let mine = created(&*db.passwords, T1, base("pw-1", PARENT, true)).await;
    assert_eq!(
        current_password(db, T2, PARENT).await,
        None,
        "get_current through another tenant"
    );
    assert_eq!(
        current_password(db, T1, PARENT2).await,
        None,
        "get_current of another user"
    );
    assert_eq!(
        current_password(db, GHOST, PARENT).await,
        None,
        "get_current under an unknown tenant"
    );
    let theirs = ok(
        db.passwords.create(T2, base("pw-1", PARENT, true)).await,
        "create in the second tenant",
    );
    assert_eq!(
        ok(db.passwords.get(T1, "pw-1").await, "get"),
        Some(mine.clone()),
        "a password of another tenant demoted this one"
    );
    assert_eq!(
        current_password(db, T1, PARENT).await,
        Some(mine),
        "get_current"
    );
    assert_eq!(
        current_password(db, T2, PARENT).await,
        Some(theirs),
        "get_current in the second tenant"
    );
}

/// Password hashes never appear in errors or in `Debug` output.
pub async fn passwords_errors_hide_secret(db: &DataAdapters) {
    prepare(db).await;
    let hash = "$2b$10$SECRETHASHVALUE";
    let insert = PasswordInsert {
        id: Some("pw-1".into()),
        ..PasswordInsert::new(PARENT, hash, PasswordAlgorithm::Bcrypt)
    };
    let pw = created(&*db.passwords, T1, insert.clone()).await;
    assert!(!format!("{pw:?}").contains(hash), "Debug shows the hash");
    let conflict = db.passwords.create(T1, insert.clone()).await;
    assert!(
        !error_text(&conflict).contains(hash),
        "a conflict error shows the hash"
    );
    expect_conflict(conflict, EntityKind::Password, "id", "a second create");
    let orphan = PasswordInsert {
        id: Some("pw-2".into()),
        ..PasswordInsert::new("auth0|ghost", hash, PasswordAlgorithm::Bcrypt)
    };
    let missing = db.passwords.create(T1, orphan).await;
    assert!(
        !error_text(&missing).contains(hash),
        "a NotFound error shows the hash"
    );
    let long = format!("{hash}{}", "x".repeat(1100));
    let oversize = PasswordInsert {
        id: Some("pw-3".into()),
        ..PasswordInsert::new(PARENT, long, PasswordAlgorithm::Bcrypt)
    };
    let result = db.passwords.create(T1, oversize).await;
    assert!(
        !error_text(&result).contains(hash),
        "a validation error shows the hash"
    );
    expect_invalid(result, "password", "an oversize hash");
    expect_invalid(
        db.passwords
            .list(
                T1,
                &ListParams::default().with_q(format!("password:{}", quote(hash))),
            )
            .await,
        "q",
        "q on the hash",
    );
}
