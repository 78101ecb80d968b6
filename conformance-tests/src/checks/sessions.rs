//! Sessions.

use adapter_interfaces::{
    DataAdapters, EntityKind, EntityStore, MutableStore, Session, SessionInsert, SessionPatch,
};
use serde_json::json;

use super::generic::{self, Fixture, MutableFixture, check_update, expected, insert_of};
use super::support::*;

fn base(id: &str, user: &str) -> SessionInsert {
    SessionInsert {
        id: Some(id.into()),
        user_id: user.into(),
        created_at: Some(at(0)),
        updated_at: Some(at(0)),
        ..Default::default()
    }
}

impl Fixture for Session {
    fn store(db: &DataAdapters) -> &dyn EntityStore<Self> {
        &*db.sessions
    }

    fn samples() -> Vec<SessionInsert> {
        vec![
            SessionInsert {
                login_session_id: Some("login-1".into()),
                device: obj(json!({"last_ip": "10.0.0.1", "last_user_agent": "Firefox"})),
                clients: vec!["app-2".into(), "app-1".into()],
                expires_at: Some(at(60)),
                idle_expires_at: Some(at(30)),
                authenticated_at: Some(at(0)),
                last_interaction_at: Some(at(5)),
                used_at: Some(at(5)),
                updated_at: Some(at(5)),
                ..base("ses-1", PARENT)
            },
            SessionInsert {
                expires_at: Some(at(60)),
                created_at: Some(at(1)),
                updated_at: Some(at(1)),
                ..base("ses-2", PARENT2)
            },
            SessionInsert {
                last_interaction_at: Some(at(2)),
                revoked_at: Some(at(3)),
                ..base("ses-3", PARENT)
            },
            SessionInsert {
                login_session_id: Some("login-2".into()),
                expires_at: Some(at(90)),
                last_interaction_at: Some(at(5)),
                created_at: Some(at(2)),
                updated_at: Some(at(2)),
                ..base("Ses-4", PARENT2)
            },
            base("ses-5", PARENT),
            SessionInsert {
                clients: vec!["c".into()],
                created_at: Some(at(1)),
                updated_at: Some(at(4)),
                ..base("ses-6", PARENT)
            },
        ]
    }

    fn one(key: &str) -> SessionInsert {
        base(key, PARENT)
    }

    fn clash_with(existing: &Session) -> Option<Session> {
        Some(Session {
            id: "ses-orphan".into(),
            user_id: "auth0|ghost".into(),
            ..existing.clone()
        })
    }

    fn mutable(db: &DataAdapters) -> Option<&dyn MutableStore<Self>> {
        Some(&*db.sessions)
    }

    fn valid_patch() -> Option<SessionPatch> {
        Some(SessionPatch {
            revoked_at: Some(Some(at(99))),
            ..Default::default()
        })
    }
}

impl MutableFixture for Session {
    fn invalid_patch() -> (SessionPatch, &'static str) {
        (
            SessionPatch {
                expires_at: Some(Some(ts("0999-01-01T00:00:00.000Z"))),
                ..Default::default()
            },
            "expires_at",
        )
    }
}

fn full() -> Session {
    Session {
        id: "ses-full".into(),
        user_id: PARENT.into(),
        login_session_id: Some("login-full".into()),
        device: obj(json!({"initial_ip": "192.0.2.7", "asn": 64500, "ua": {"name": "Safari"}})),
        clients: vec!["b".into(), "a".into()],
        expires_at: Some(ts("2030-01-01T00:00:00.000Z")),
        idle_expires_at: Some(ts("2029-12-01T00:00:00.500Z")),
        authenticated_at: Some(ts("2029-11-30T12:00:00.123Z")),
        last_interaction_at: Some(ts("2029-11-30T12:30:00.456Z")),
        used_at: Some(ts("2029-11-30T12:31:00.789Z")),
        revoked_at: Some(ts("2029-11-30T13:00:00.000Z")),
        created_at: ts("2029-11-30T12:00:00.001Z"),
        updated_at: ts("2029-11-30T13:00:00.002Z"),
    }
}

/// Every field round-trips.
pub async fn sessions_create_round_trip(db: &DataAdapters) {
    generic::create_round_trip::<Session>(db).await;
    generic::full_round_trip(db, &full()).await;
}

/// A session of an unknown user (or of a user of another tenant) is `NotFound` of the user and writes nothing.
pub async fn sessions_create_unknown_user_writes_nothing(db: &DataAdapters) {
    prepare(db).await;
    user(db, T2, "auth0|only-in-b").await;
    for user_id in ["auth0|ghost", "auth0|only-in-b"] {
        let result = db.sessions.create(T1, base("s1", user_id)).await;
        expect_not_found(
            result,
            EntityKind::User,
            user_id,
            "a session of an unknown user",
        );
    }
    assert!(
        all_in(&*db.sessions, T1).await.is_empty(),
        "a rejected session was written"
    );
}

/// Upsert checks the user too.
pub async fn sessions_upsert_unknown_user(db: &DataAdapters) {
    generic::upsert_unknown_user::<Session>(db, expected(&base("s1", "auth0|ghost"))).await;
}

/// A patch of every field changes exactly those fields and `updated_at`.
pub async fn sessions_update_every_field(db: &DataAdapters) {
    prepare(db).await;
    let original = created(&*db.sessions, T1, base("s1", PARENT)).await;
    let patch = SessionPatch {
        device: Some(obj(json!({"last_ip": "198.51.100.1"}))),
        clients: Some(vec!["z".into(), "a".into()]),
        expires_at: Some(Some(at(100))),
        idle_expires_at: Some(Some(at(50))),
        last_interaction_at: Some(Some(at(20))),
        used_at: Some(Some(at(21))),
        revoked_at: Some(Some(at(22))),
    };
    let want = Session {
        device: obj(json!({"last_ip": "198.51.100.1"})),
        clients: vec!["z".into(), "a".into()],
        expires_at: Some(at(100)),
        idle_expires_at: Some(at(50)),
        last_interaction_at: Some(at(20)),
        used_at: Some(at(21)),
        revoked_at: Some(at(22)),
        ..original
    };
    let got = check_update::<Session>(db, "s1", patch, want, "update of every field").await;
    let patch = SessionPatch {
        last_interaction_at: Some(Some(at(30))),
        ..Default::default()
    };
    let want = Session {
        last_interaction_at: Some(at(30)),
        ..got
    };
    check_update::<Session>(db, "s1", patch, want, "update of one field").await;
}

/// `Some(None)` clears every nullable field.
pub async fn sessions_update_clears_fields(db: &DataAdapters) {
    prepare(db).await;
    let s = created(&*db.sessions, T1, insert_of(&full())).await;
    let patch = SessionPatch {
        expires_at: Some(None),
        idle_expires_at: Some(None),
        last_interaction_at: Some(None),
        used_at: Some(None),
        revoked_at: Some(None),
        ..Default::default()
    };
    let want = Session {
        expires_at: None,
        idle_expires_at: None,
        last_interaction_at: None,
        used_at: None,
        revoked_at: None,
        ..s
    };
    check_update::<Session>(
        db,
        "ses-full",
        patch,
        want,
        "update clearing the nullable fields",
    )
    .await;
}
