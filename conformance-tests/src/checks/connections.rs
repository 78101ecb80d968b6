//! Connections.

use adapter_interfaces::{
    Connection, ConnectionInsert, ConnectionPatch, DataAdapters, EntityKind, EntityStore,
    MutableStore,
};
use serde_json::json;

use super::generic::{self, Fixture, MutableFixture, check_update, insert_of, is_hex32};
use super::support::*;

fn base(id: &str, name: &str, strategy: &str) -> ConnectionInsert {
    ConnectionInsert {
        id: Some(id.into()),
        name: name.into(),
        strategy: strategy.into(),
        created_at: Some(at(0)),
        updated_at: Some(at(0)),
        ..Default::default()
    }
}

impl Fixture for Connection {
    fn store(db: &DataAdapters) -> &dyn EntityStore<Self> {
        &*db.connections
    }

    fn samples() -> Vec<ConnectionInsert> {
        vec![
            ConnectionInsert {
                display_name: Some("Database".into()),
                options: obj(json!({"passwordPolicy": "good", "mfa": {"active": true}})),
                enabled_clients: vec!["app-2".into(), "app-1".into()],
                updated_at: Some(at(5)),
                ..base("con_1", "Username-Password-Authentication", "auth0")
            },
            ConnectionInsert {
                display_name: Some("Google".into()),
                created_at: Some(at(1)),
                updated_at: Some(at(1)),
                ..base("con_2", "google-oauth2", "google-oauth2")
            },
            base("con_3", "Main", "auth0"),
            ConnectionInsert {
                display_name: Some("main lower".into()),
                created_at: Some(at(2)),
                updated_at: Some(at(2)),
                ..base("con_4", "main", "samlp")
            },
            ConnectionInsert {
                created_at: Some(at(1)),
                updated_at: Some(at(3)),
                ..base("con_5", "main ", "auth0")
            },
            ConnectionInsert {
                display_name: Some("Ünïcödé".into()),
                enabled_clients: vec!["x".into()],
                ..base("con_6", "ünïcode", "oidc")
            },
        ]
    }

    fn one(key: &str) -> ConnectionInsert {
        base(key, &format!("conn-{key}"), "auth0")
    }

    fn key_shape_ok(key: &str) -> bool {
        key.strip_prefix("con_").is_some_and(is_hex32)
    }

    fn clash_with(existing: &Connection) -> Option<Connection> {
        Some(Connection {
            id: "con_clash".into(),
            ..existing.clone()
        })
    }

    fn mutable(db: &DataAdapters) -> Option<&dyn MutableStore<Self>> {
        Some(&*db.connections)
    }

    fn valid_patch() -> Option<ConnectionPatch> {
        Some(ConnectionPatch {
            strategy: Some("oidc".into()),
            ..Default::default()
        })
    }
}

impl MutableFixture for Connection {
    fn invalid_patch() -> (ConnectionPatch, &'static str) {
        (
            ConnectionPatch {
                strategy: Some("  ".into()),
                ..Default::default()
            },
            "strategy",
        )
    }
}

fn full() -> Connection {
    Connection {
        id: "con_full".into(),
        name: "full".into(),
        strategy: "waad".into(),
        display_name: Some("Full Connection".into()),
        options: obj(json!({"domain": "example.com", "scopes": ["openid", "email"], "n": 1.5})),
        enabled_clients: vec!["c".into(), "a".into(), "b".into()],
        created_at: ts("2021-01-01T00:00:00.000Z"),
        updated_at: ts("2021-01-01T00:00:00.001Z"),
    }
}

/// Every field round-trips.
pub async fn connections_create_round_trip(db: &DataAdapters) {
    generic::create_round_trip::<Connection>(db).await;
    generic::full_round_trip(db, &full()).await;
}

/// Names are unique per tenant, on create and upsert.
pub async fn connections_name_unique(db: &DataAdapters) {
    prepare(db).await;
    let first = created(&*db.connections, T1, base("c1", "shared", "auth0")).await;
    expect_conflict(
        db.connections
            .create(T1, base("c2", "shared", "samlp"))
            .await,
        EntityKind::Connection,
        "name",
        "a second connection with the name",
    );
    let clash = Connection {
        id: "c3".into(),
        ..first.clone()
    };
    expect_conflict(
        db.connections.upsert(T1, clash).await,
        EntityKind::Connection,
        "name",
        "upsert of a new connection with the name",
    );
    assert_records(
        &all_in(&*db.connections, T1).await,
        std::slice::from_ref(&first),
        "connections after conflicts",
    );
    ok(
        db.connections
            .create(T2, base("c2", "shared", "auth0"))
            .await,
        "the name in another tenant",
    );
}

/// Names compare by bytes: case, trailing spaces and accents make different names.
pub async fn connections_names_compare_bytes(db: &DataAdapters) {
    tenant(db, T1).await;
    let names = [
        "main", "Main", "MAIN", "main ", " main", "maïn", "strasse", "straße",
    ];
    for (i, name) in names.iter().enumerate() {
        ok(
            db.connections
                .create(T1, base(&format!("c{i}"), name, "auth0"))
                .await,
            &format!("connection {name:?} next to the others"),
        );
    }
    assert_q_finds_each(&*db.connections, "name", &names, |i| format!("c{i}")).await;
}

/// A patch of every field changes exactly those fields and `updated_at`.
pub async fn connections_update_every_field(db: &DataAdapters) {
    tenant(db, T1).await;
    let original = created(&*db.connections, T1, base("c1", "before", "auth0")).await;
    let patch = ConnectionPatch {
        name: Some("after".into()),
        strategy: Some("samlp".into()),
        display_name: Some(Some("After".into())),
        options: Some(obj(json!({"signInEndpoint": "https://idp.example/sso"}))),
        enabled_clients: Some(vec!["z".into(), "y".into()]),
    };
    let want = Connection {
        name: "after".into(),
        strategy: "samlp".into(),
        display_name: Some("After".into()),
        options: obj(json!({"signInEndpoint": "https://idp.example/sso"})),
        enabled_clients: vec!["z".into(), "y".into()],
        ..original
    };
    let got = check_update::<Connection>(db, "c1", patch, want, "update of every field").await;
    let patch = ConnectionPatch {
        options: Some(obj(json!({}))),
        ..Default::default()
    };
    let want = Connection {
        options: obj(json!({})),
        ..got
    };
    check_update::<Connection>(db, "c1", patch, want, "update replacing the options").await;
}

/// `Some(None)` clears the display name.
pub async fn connections_update_clears_fields(db: &DataAdapters) {
    tenant(db, T1).await;
    let c = created(&*db.connections, T1, insert_of(&full())).await;
    let patch = ConnectionPatch {
        display_name: Some(None),
        ..Default::default()
    };
    let want = Connection {
        display_name: None,
        ..c
    };
    check_update::<Connection>(
        db,
        "con_full",
        patch,
        want,
        "update clearing the display name",
    )
    .await;
}

/// Renaming onto a taken name is a conflict and changes nothing; keeping one's own name is fine.
pub async fn connections_update_conflict_writes_nothing(db: &DataAdapters) {
    let records = generic::seed::<Connection>(db).await;
    let before = all_in(&*db.connections, T1).await;
    let patch = ConnectionPatch {
        name: Some("main".into()),
        ..Default::default()
    };
    expect_conflict(
        db.connections.update(T1, "con_3", patch).await,
        EntityKind::Connection,
        "name",
        "rename onto a taken name",
    );
    assert_records(
        &all_in(&*db.connections, T1).await,
        &before,
        "connections after a rejected rename",
    );
    let me = records.iter().find(|c| c.id == "con_3").unwrap().clone();
    let patch = ConnectionPatch {
        name: Some(me.name.clone()),
        ..Default::default()
    };
    check_update::<Connection>(db, "con_3", patch, me, "rename to one's own name").await;
}
