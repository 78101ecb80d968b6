//! Codes: single use, consumed atomically.

use std::sync::Arc;

use adapter_interfaces::{Code, CodeInsert, CodeType, DataAdapters, EntityStore, Timestamp};
use futures::future::BoxFuture;

use super::generic::{self, Fixture, expected};
use super::support::*;

/// Far enough in the future to be valid whenever the suite runs.
fn future() -> Timestamp {
    ts("2099-01-01T00:00:00.000Z")
}

fn base(id: &str, code_type: CodeType) -> CodeInsert {
    CodeInsert {
        code_id: Some(id.into()),
        created_at: Some(at(0)),
        ..CodeInsert::new(code_type, future())
    }
}

impl Fixture for Code {
    fn store(db: &DataAdapters) -> &dyn EntityStore<Self> {
        &*db.codes
    }

    fn samples() -> Vec<CodeInsert> {
        vec![
            CodeInsert {
                login_id: Some("login-1".into()),
                user_id: Some(PARENT.into()),
                redirect_uri: Some("https://app.example/callback?x=1".into()),
                code_challenge: Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into()),
                code_challenge_method: Some("S256".into()),
                state: Some("xyz".into()),
                nonce: Some("n-0S6_WzA2Mj".into()),
                ..base("code-1", CodeType::AuthorizationCode)
            },
            CodeInsert {
                user_id: Some("auth0|not-yet-a-user".into()),
                created_at: Some(at(1)),
                ..base("code-2", CodeType::PasswordReset)
            },
            CodeInsert {
                expires_at: at(30),
                used_at: Some(at(3)),
                ..base("code-3", CodeType::Otp)
            },
            CodeInsert {
                login_id: Some("login-1".into()),
                expires_at: at(30),
                created_at: Some(at(2)),
                ..base("Code-4", CodeType::Oauth2State)
            },
            base("code-5", CodeType::EmailVerification),
            CodeInsert {
                expires_at: at(-10),
                created_at: Some(at(1)),
                ..base("code-6", CodeType::Ticket)
            },
        ]
    }

    fn one(key: &str) -> CodeInsert {
        base(key, CodeType::Otp)
    }

    fn remove<'a>(
        db: &'a DataAdapters,
        t: &'a str,
        id: &'a str,
    ) -> Option<BoxFuture<'a, adapter_interfaces::Result<bool>>> {
        Some(db.codes.remove(t, id))
    }
}

/// Every field round-trips, including every code type.
pub async fn codes_create_round_trip(db: &DataAdapters) {
    generic::create_round_trip::<Code>(db).await;
    let full = Code {
        code_id: "full".into(),
        code_type: CodeType::AuthorizationCode,
        login_id: Some("l".into()),
        user_id: Some("auth0|u".into()),
        expires_at: ts("2099-12-31T23:59:59.999Z"),
        used_at: Some(ts("2024-01-01T00:00:00.001Z")),
        redirect_uri: Some("https://r.example/cb".into()),
        code_challenge: Some("challenge".into()),
        code_challenge_method: Some("plain".into()),
        state: Some("st".into()),
        nonce: Some("no".into()),
        created_at: ts("2023-12-31T23:59:59.998Z"),
    };
    generic::full_round_trip(db, &full).await;
    // Every type, in a tenant of its own.
    const T3: &str = "tenant-c";
    tenant(db, T3).await;
    for (i, code_type) in [
        CodeType::PasswordReset,
        CodeType::EmailVerification,
        CodeType::Otp,
        CodeType::AuthorizationCode,
        CodeType::Oauth2State,
        CodeType::Ticket,
    ]
    .into_iter()
    .enumerate()
    {
        let code = created(&*db.codes, T3, base(&format!("type-{i}"), code_type)).await;
        assert_eq!(code.code_type, code_type, "code type");
        let page = ok(
            db.codes
                .list(
                    T3,
                    &adapter_interfaces::ListParams::default()
                        .with_q(format!("code_type:{code_type}")),
                )
                .await,
            "list",
        );
        assert_eq!(
            keys(&page.items),
            vec![format!("type-{i}")],
            "q code_type:{code_type}"
        );
    }
}

/// `consume` marks an unused, unexpired code used, once.
pub async fn codes_consume(db: &DataAdapters) {
    prepare(db).await;
    let code = created(&*db.codes, T1, base("c1", CodeType::Otp)).await;
    created(&*db.codes, T1, base("c2", CodeType::Otp)).await;
    let before = Timestamp::now();
    let consumed =
        ok(db.codes.consume(T1, "c1").await, "consume").expect("the first consume must win");
    let after = Timestamp::now();
    let used_at = consumed.used_at.expect("a consumed code has used_at");
    assert_plausible(used_at, before, after, "used_at");
    assert_eq!(
        consumed,
        Code {
            used_at: Some(used_at),
            ..code
        },
        "consume changed more than used_at"
    );
    assert_eq!(
        ok(db.codes.get(T1, "c1").await, "get"),
        Some(consumed),
        "get after consume"
    );
    assert_eq!(
        ok(db.codes.consume(T1, "c1").await, "consume"),
        None,
        "a second consume won too"
    );
    assert_eq!(
        ok(db.codes.get(T1, "c2").await, "get").and_then(|c| c.used_at),
        None,
        "consume used another code"
    );
}

/// Expired, used and missing codes cannot be consumed, and stay as they are.
pub async fn codes_consume_expired_used_or_missing(db: &DataAdapters) {
    prepare(db).await;
    let expired = created(
        &*db.codes,
        T1,
        CodeInsert {
            expires_at: at(-60),
            ..base("expired", CodeType::Otp)
        },
    )
    .await;
    let used = created(
        &*db.codes,
        T1,
        CodeInsert {
            used_at: Some(at(1)),
            ..base("used", CodeType::Otp)
        },
    )
    .await;
    let just_expired = Timestamp::now().plus_millis(-1);
    let edge = created(
        &*db.codes,
        T1,
        CodeInsert {
            expires_at: just_expired,
            ..base("edge", CodeType::Otp)
        },
    )
    .await;
    for (id, code) in [("expired", &expired), ("used", &used), ("edge", &edge)] {
        assert_eq!(
            ok(db.codes.consume(T1, id).await, "consume"),
            None,
            "consumed the {id} code"
        );
        assert_eq!(
            ok(db.codes.get(T1, id).await, "get").as_ref(),
            Some(code),
            "consume changed the {id} code"
        );
    }
    assert_eq!(
        ok(db.codes.consume(T1, "missing").await, "consume"),
        None,
        "consumed a missing code"
    );
    assert_eq!(
        ok(db.codes.consume(GHOST, "used").await, "consume"),
        None,
        "consumed under an unknown tenant"
    );
    assert_eq!(
        all_in(&*db.codes, T1).await.len(),
        3,
        "consume created a code"
    );
}

/// A code cannot be consumed through another tenant.
pub async fn codes_consume_other_tenant(db: &DataAdapters) {
    prepare(db).await;
    let code = created(&*db.codes, T1, base("c1", CodeType::Otp)).await;
    assert_eq!(
        ok(db.codes.consume(T2, "c1").await, "consume"),
        None,
        "consumed through another tenant"
    );
    assert_eq!(
        ok(db.codes.get(T1, "c1").await, "get"),
        Some(code),
        "consume through another tenant changed the code"
    );
    assert!(
        ok(db.codes.consume(T1, "c1").await, "consume").is_some(),
        "the owner could not consume the code"
    );
}

/// Of concurrent consumers of one code, exactly one wins (tried on several codes).
pub async fn codes_consume_race(db: &DataAdapters) {
    prepare(db).await;
    const CODES: usize = 10;
    const CONSUMERS: usize = 8;
    for i in 0..CODES {
        created(
            &*db.codes,
            T1,
            base(&format!("race-{i}"), CodeType::AuthorizationCode),
        )
        .await;
    }
    let codes = Arc::clone(&db.codes);
    for i in 0..CODES {
        let id = format!("race-{i}");
        let barrier = Arc::new(tokio::sync::Barrier::new(CONSUMERS));
        let tasks: Vec<_> = (0..CONSUMERS)
            .map(|_| {
                let (codes, id, barrier) = (Arc::clone(&codes), id.clone(), Arc::clone(&barrier));
                tokio::spawn(async move {
                    barrier.wait().await;
                    codes.consume(T1, &id).await
                })
            })
            .collect();
        let mut winners = Vec::new();
        for task in tasks {
            if let Some(code) = ok(
                task.await.expect("a consumer panicked"),
                "concurrent consume",
            ) {
                winners.push(code);
            }
        }
        assert_eq!(
            winners.len(),
            1,
            "{CONSUMERS} concurrent consumers of {id}: {} won",
            winners.len()
        );
        let stored = ok(db.codes.get(T1, &id).await, "get").expect("the code");
        assert_eq!(
            Some(&stored),
            winners.first(),
            "the stored code differs from the winner's"
        );
    }
}

/// `cleanup` deletes the tenant's codes that expired before the instant, and counts them.
pub async fn codes_cleanup(db: &DataAdapters) {
    prepare(db).await;
    for (id, expires) in [
        ("old-1", at(-100)),
        ("old-2", at(-50)),
        ("edge", at(0)),
        ("new", at(100)),
    ] {
        let insert = CodeInsert {
            expires_at: expires,
            ..base(id, CodeType::Otp)
        };
        created(&*db.codes, T1, insert.clone()).await;
        ok(
            db.codes.create(T2, insert).await,
            "create in the second tenant",
        );
    }
    assert_eq!(
        ok(db.codes.cleanup(T1, at(-200)).await, "cleanup"),
        0,
        "cleanup before every expiry"
    );
    assert_eq!(
        ok(db.codes.cleanup(T1, at(0)).await, "cleanup"),
        2,
        "cleanup count (expires_at < older_than, strictly)"
    );
    assert_eq!(
        keys(&all_in(&*db.codes, T1).await),
        vec!["edge", "new"],
        "codes left after cleanup"
    );
    assert_eq!(
        all_in(&*db.codes, T2).await.len(),
        4,
        "cleanup touched another tenant"
    );
    assert_eq!(
        ok(db.codes.cleanup(T1, at(0)).await, "cleanup"),
        0,
        "a repeated cleanup"
    );
    assert_eq!(
        ok(db.codes.cleanup(GHOST, at(1000)).await, "cleanup"),
        0,
        "cleanup under an unknown tenant"
    );
    assert_eq!(
        ok(db.codes.cleanup(T2, at(1000)).await, "cleanup"),
        4,
        "cleanup of everything"
    );
    assert!(
        all_in(&*db.codes, T2).await.is_empty(),
        "codes left after a full cleanup"
    );
    let kept: Code = expected(&CodeInsert {
        expires_at: at(100),
        ..base("new", CodeType::Otp)
    });
    assert_eq!(
        ok(db.codes.get(T1, "new").await, "get"),
        Some(kept),
        "cleanup changed a kept code"
    );
}
