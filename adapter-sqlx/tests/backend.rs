//! The sqlx adapter on every database: round trips, listing, conflicts,
//! codes, passwords, cascades, bulk writes and migrations.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;

use adapter_interfaces::{
    AdapterError, ApplicationInsert, CodeInsert, CodeType, ConnectionInsert, EntityKind,
    ListParams, LogInsert, PasswordAlgorithm, PasswordInsert, SessionInsert, Sort, TenantInsert,
    Timestamp, User, UserInsert, UserPatch,
};
use common::Fresh;
use serde_json::json;

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

async fn tenant(fresh: &Fresh, id: &str) {
    fresh
        .store
        .adapters()
        .tenants
        .create(TenantInsert {
            id: Some(id.into()),
            friendly_name: id.into(),
            ..Default::default()
        })
        .await
        .unwrap();
}

fn full_user(id: &str, email: &str) -> UserInsert {
    let mut meta = serde_json::Map::new();
    meta.insert(
        "plan".into(),
        json!({"tier": "gold", "seats": 12, "ratio": 0.25, "tags": ["a", "b"], "none": null}),
    );
    UserInsert {
        user_id: Some(id.into()),
        email: Some(email.into()),
        email_verified: true,
        username: Some(format!("u-{id}")),
        phone_number: Some("+15551234".into()),
        phone_verified: true,
        name: Some("Ada Lovelace ✓".into()),
        given_name: Some("Ada".into()),
        family_name: Some("Lovelace".into()),
        nickname: Some("ada".into()),
        picture: Some("https://example.com/a.png".into()),
        locale: Some("en-GB".into()),
        provider: None,
        connection: "db".into(),
        is_social: true,
        blocked: true,
        linked_to: Some("auth0|other".into()),
        last_ip: Some("10.0.0.1".into()),
        last_login: Some(ts("2024-02-03T04:05:06.789Z")),
        login_count: 9_007_199_254_740_993,
        app_metadata: meta.clone(),
        user_metadata: meta,
        created_at: Some(ts("2024-01-01T00:00:00.001Z")),
        updated_at: Some(ts("2024-01-02T00:00:00.999Z")),
    }
}

async fn migrations_are_idempotent(fresh: &Fresh) {
    assert_eq!(
        fresh.store.schema_version().await.unwrap(),
        Some(adapter_interfaces::schema::SCHEMA_VERSION)
    );
    fresh.store.migrate().await.unwrap();
    fresh.store.migrate().await.unwrap();
    assert_eq!(
        fresh.store.schema_version().await.unwrap(),
        Some(adapter_interfaces::schema::SCHEMA_VERSION)
    );
    if !fresh.url.contains(":memory:") {
        // Another store (another process) on the same database finds it migrated.
        let other = adapter_sqlx::connect(&fresh.url).await.unwrap();
        other.migrate().await.unwrap();
        assert_eq!(
            other.schema_version().await.unwrap(),
            Some(adapter_interfaces::schema::SCHEMA_VERSION)
        );
        other.close().await;
    }
}

async fn user_round_trip_and_update(fresh: &Fresh) {
    let db = fresh.store.adapters();
    tenant(fresh, "t1").await;
    let user = db
        .users
        .create("t1", full_user("auth0|ada", "Ada@Example.COM"))
        .await
        .unwrap();
    assert_eq!(user.email.as_deref(), Some("ada@example.com"));
    assert_eq!(user.provider, "auth0");
    let read = db.users.get("t1", "auth0|ada").await.unwrap().unwrap();
    assert_eq!(read, user);
    assert_eq!(db.users.get("t2", "auth0|ada").await.unwrap(), None);

    let patch = UserPatch {
        name: Some(None),
        login_count: Some(-5),
        last_login: Some(Some(ts("1000-01-01T00:00:00.000Z"))),
        ..Default::default()
    };
    let updated = db.users.update("t1", "auth0|ada", patch).await.unwrap();
    assert_eq!(updated.name, None);
    assert_eq!(updated.login_count, -5);
    assert!(updated.updated_at > user.updated_at);
    assert_eq!(
        db.users.get("t1", "auth0|ada").await.unwrap().unwrap(),
        updated
    );

    let missing = db
        .users
        .update("t1", "auth0|nobody", UserPatch::default())
        .await
        .unwrap_err();
    assert!(
        matches!(
            missing,
            AdapterError::NotFound {
                entity: EntityKind::User,
                ..
            }
        ),
        "{missing:?}"
    );
}

async fn every_entity_round_trips(fresh: &Fresh) {
    let db = fresh.store.adapters();
    tenant(fresh, "t1").await;
    db.users
        .create("t1", full_user("auth0|u1", "u1@x.io"))
        .await
        .unwrap();
    let mut metadata = BTreeMap::new();
    metadata.insert("k".to_owned(), "v".to_owned());
    let app = db
        .applications
        .create(
            "t1",
            ApplicationInsert {
                name: "App".into(),
                client_secret: Some("s3cret".into()),
                callbacks: vec!["https://b".into(), "https://a".into()],
                grant_types: vec!["authorization_code".into()],
                client_metadata: metadata,
                is_first_party: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        db.applications
            .get("t1", &app.client_id)
            .await
            .unwrap()
            .unwrap(),
        app
    );

    let mut options = serde_json::Map::new();
    options.insert("n".into(), json!(1.5e300));
    let conn = db
        .connections
        .create(
            "t1",
            ConnectionInsert {
                name: "db".into(),
                strategy: "auth0".into(),
                options,
                enabled_clients: vec![app.client_id.clone()],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        db.connections.get("t1", &conn.id).await.unwrap().unwrap(),
        conn
    );

    let session = db
        .sessions
        .create(
            "t1",
            SessionInsert {
                user_id: "auth0|u1".into(),
                clients: vec!["c2".into(), "c1".into()],
                expires_at: Some(ts("2999-01-01T00:00:00.000Z")),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        db.sessions.get("t1", &session.id).await.unwrap().unwrap(),
        session
    );

    let code = db
        .codes
        .create(
            "t1",
            CodeInsert {
                nonce: Some("n".into()),
                ..CodeInsert::new(CodeType::Otp, ts("2999-01-01"))
            },
        )
        .await
        .unwrap();
    assert_eq!(
        db.codes.get("t1", &code.code_id).await.unwrap().unwrap(),
        code
    );

    let mut details = serde_json::Map::new();
    details.insert("deep".into(), json!({"list": [1, "two", {"three": 3}]}));
    let log = db
        .logs
        .create(
            "t1",
            LogInsert {
                log_type: "s".into(),
                details,
                description: Some("ok".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(db.logs.get("t1", &log.log_id).await.unwrap().unwrap(), log);
}

async fn errors_follow_the_reference(fresh: &Fresh) {
    let db = fresh.store.adapters();
    tenant(fresh, "t1").await;
    let err = db
        .users
        .create("nope", full_user("auth0|a", "a@x.io"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AdapterError::NotFound { entity: EntityKind::Tenant, id } if id == "nope"),
        "{err:?}"
    );
    db.users
        .create("t1", full_user("auth0|a", "a@x.io"))
        .await
        .unwrap();
    let err = db
        .users
        .create("t1", full_user("auth0|a", "other@x.io"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AdapterError::Conflict { field, .. } if field == "user_id"),
        "{err:?}"
    );
    let mut dup = full_user("auth0|b", "A@x.io");
    dup.username = None;
    let err = db.users.create("t1", dup).await.unwrap_err();
    assert!(
        matches!(&err, AdapterError::Conflict { field, .. } if field == "email"),
        "{err:?}"
    );
    let err = db
        .sessions
        .create(
            "t1",
            SessionInsert {
                user_id: "auth0|ghost".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AdapterError::NotFound { entity: EntityKind::User, id } if id == "auth0|ghost"),
        "{err:?}"
    );
    // Upsert of another user with a taken email is a conflict, and writes nothing.
    let mut other = db.users.get("t1", "auth0|a").await.unwrap().unwrap();
    other.user_id = "auth0|c".into();
    other.username = None;
    let err = db.users.upsert("t1", other).await.unwrap_err();
    assert!(
        matches!(&err, AdapterError::Conflict { field, .. } if field == "email"),
        "{err:?}"
    );
    assert_eq!(db.users.get("t1", "auth0|c").await.unwrap(), None);
    let err = db
        .users
        .list(
            "t1",
            &ListParams::default().with_sort(Sort::asc("password")),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AdapterError::InvalidInput { field, .. } if field == "sort"),
        "{err:?}"
    );
}

async fn listing_sorts_filters_and_scans(fresh: &Fresh) {
    let db = fresh.store.adapters();
    tenant(fresh, "t1").await;
    tenant(fresh, "t2").await;
    let names = ["b", "B", "a", "é", "a ", "Z"];
    for (i, name) in names.iter().enumerate() {
        let mut u = full_user(&format!("auth0|{i:02}"), &format!("user{i}@x.io"));
        u.name = if i == 4 { None } else { Some((*name).into()) };
        u.login_count = (i as i64) % 3;
        db.users.create("t1", u).await.unwrap();
    }
    db.users
        .create("t2", full_user("auth0|zz", "zz@x.io"))
        .await
        .unwrap();

    let all = db
        .users
        .list("t1", &ListParams::default().with_totals())
        .await
        .unwrap();
    assert_eq!(all.total, Some(6));
    let keys: Vec<_> = all.items.iter().map(|u| u.user_id.as_str()).collect();
    assert_eq!(
        keys,
        [
            "auth0|00", "auth0|01", "auth0|02", "auth0|03", "auth0|04", "auth0|05"
        ]
    );

    // Byte order, NULL first ascending, ties on the key; scanned two at a time.
    for sort in [
        Sort::asc("name"),
        Sort::desc("name"),
        Sort::asc("login_count"),
        Sort::desc("login_count"),
    ] {
        let full = db
            .users
            .list("t1", &ListParams::default().with_sort(sort.clone()))
            .await
            .unwrap();
        let mut expected = full.items.clone();
        let key = |u: &User| match sort.field.as_str() {
            "name" => (u.name.clone().map(|n| n.into_bytes()), 0, u.user_id.clone()),
            _ => (None, u.login_count, u.user_id.clone()),
        };
        expected.sort_by_key(key);
        if sort.order == adapter_interfaces::SortOrder::Desc {
            expected.reverse();
        }
        assert_eq!(full.items, expected, "{sort:?}");
        let mut scanned = Vec::new();
        let mut params = ListParams::default()
            .with_sort(sort.clone())
            .with_per_page(2);
        loop {
            let page = db.users.list("t1", &params).await.unwrap();
            scanned.extend(page.items);
            match page.next {
                Some(next) => {
                    params = ListParams::default()
                        .with_sort(sort.clone())
                        .with_per_page(2)
                        .with_from(next)
                }
                None => break,
            }
        }
        assert_eq!(scanned, expected, "keyset {sort:?}");
    }

    let q = |q: &str| ListParams::default().with_q(q).with_totals();
    // `name` matches by ASCII folding (docs/SEARCH.md, "Case"): "b" and "B".
    assert_eq!(
        db.users.list("t1", &q("name:b")).await.unwrap().total,
        Some(2)
    );
    // The user without a name is not "b" either.
    assert_eq!(
        db.users.list("t1", &q("-name:b")).await.unwrap().total,
        Some(4)
    );
    // Folded: "b", "B", "z" and "é" (its bytes sort after ASCII) are above "a".
    assert_eq!(
        db.users.list("t1", &q("name:>a")).await.unwrap().total,
        Some(4)
    );
    assert_eq!(
        db.users
            .list("t1", &q("_exists_:name"))
            .await
            .unwrap()
            .total,
        Some(5)
    );
    assert_eq!(db.users.list("t1", &q("é")).await.unwrap().total, Some(1));
    // Every user's nickname is "ada", which holds "A" case-insensitively.
    assert_eq!(db.users.list("t1", &q("-A")).await.unwrap().total, Some(0));
    assert_eq!(
        db.users
            .list("t1", &q("login_count:1 OR login_count:2"))
            .await
            .unwrap()
            .total,
        Some(4)
    );
    assert_eq!(
        db.users
            .list("t1", &q("blocked:true login_count:<1"))
            .await
            .unwrap()
            .total,
        Some(2)
    );
    assert_eq!(
        db.users
            .list("t1", &q("created_at:>=2024-01-01"))
            .await
            .unwrap()
            .total,
        Some(6)
    );
    let page = db
        .users
        .list("t1", &ListParams::default().with_page(1).with_per_page(4))
        .await
        .unwrap();
    assert_eq!(page.items.len(), 2);

    // The same data in the reference adapter answers every listing identically.
    let reference = adapter_interfaces::memory::adapters();
    reference
        .tenants
        .upsert_many(db.tenants.list(&ListParams::default()).await.unwrap().items)
        .await
        .unwrap();
    reference
        .users
        .upsert_many("t1", all.items.clone())
        .await
        .unwrap();
    let queries = [
        "",
        "name:b",
        "-name:b",
        "name:>=B",
        "name:<b",
        "_exists_:name",
        "-_exists_:name",
        "a",
        "\"a \"",
        "é",
        "-A",
        "ada",
        "login_count:>0 OR name:Z",
        "-login_count:1 -name:a",
        "email:USER1@X.IO",
        "last_login:>2024-02-03T04:05:06.788Z",
        "blocked:false",
        "username:u-auth0|01",
    ];
    for q in queries {
        for sort in [
            None,
            Some(Sort::asc("name")),
            Some(Sort::desc("email")),
            Some(Sort::desc("last_login")),
        ] {
            let mut params = ListParams::default()
                .with_q(q)
                .with_totals()
                .with_per_page(3);
            params.sort = sort.clone();
            let ours = db.users.list("t1", &params).await.unwrap();
            let theirs = reference.users.list("t1", &params).await.unwrap();
            assert_eq!(ours, theirs, "q={q:?} sort={sort:?}");
            if let Some(next) = ours.next {
                let params = ListParams {
                    from: Some(next),
                    ..params
                };
                let ours = db.users.list("t1", &params).await.unwrap();
                let theirs = reference.users.list("t1", &params).await.unwrap();
                assert_eq!(ours, theirs, "page 2 q={q:?} sort={sort:?}");
            }
        }
    }
}

async fn codes_consume_once(fresh: &Fresh) {
    let db = fresh.store.adapters();
    tenant(fresh, "t1").await;
    let code = db
        .codes
        .create(
            "t1",
            CodeInsert::new(CodeType::AuthorizationCode, ts("2999-01-01")),
        )
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let codes = db.codes.clone();
        let id = code.code_id.clone();
        tasks.push(tokio::spawn(async move {
            codes.consume("t1", &id).await.unwrap()
        }));
    }
    let mut winners = 0;
    for task in tasks {
        if let Some(used) = task.await.unwrap() {
            winners += 1;
            assert!(used.used_at.is_some());
        }
    }
    assert_eq!(winners, 1);
    let expired = db
        .codes
        .create("t1", CodeInsert::new(CodeType::Otp, ts("2001-01-01")))
        .await
        .unwrap();
    assert_eq!(
        db.codes.consume("t1", &expired.code_id).await.unwrap(),
        None
    );
    assert_eq!(db.codes.cleanup("t1", ts("2002-01-01")).await.unwrap(), 1);
    assert_eq!(db.codes.get("t1", &expired.code_id).await.unwrap(), None);
}

async fn passwords_rotate_and_cascade(fresh: &Fresh) {
    let db = fresh.store.adapters();
    tenant(fresh, "t1").await;
    db.users
        .create("t1", full_user("auth0|u", "u@x.io"))
        .await
        .unwrap();
    let first = db
        .passwords
        .create(
            "t1",
            PasswordInsert {
                created_at: Some(ts("2024-01-01")),
                ..PasswordInsert::new("auth0|u", "h1", PasswordAlgorithm::Bcrypt)
            },
        )
        .await
        .unwrap();
    let second = db
        .passwords
        .create(
            "t1",
            PasswordInsert {
                created_at: Some(ts("2024-02-01")),
                ..PasswordInsert::new("auth0|u", "h2", PasswordAlgorithm::Argon2id)
            },
        )
        .await
        .unwrap();
    assert_eq!(
        db.passwords.get_current("t1", "auth0|u").await.unwrap(),
        Some(second.clone())
    );
    let old = db.passwords.get("t1", &first.id).await.unwrap().unwrap();
    assert!(!old.is_current);
    assert_eq!(old.updated_at, second.updated_at);
    let session = db
        .sessions
        .create(
            "t1",
            SessionInsert {
                user_id: "auth0|u".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    // An upsert of the user overwrites in place: its children stay.
    let user = db.users.get("t1", "auth0|u").await.unwrap().unwrap();
    db.users
        .upsert(
            "t1",
            User {
                nickname: Some("changed".into()),
                ..user
            },
        )
        .await
        .unwrap();
    assert!(db.sessions.get("t1", &session.id).await.unwrap().is_some());
    assert!(db.users.remove("t1", "auth0|u").await.unwrap());
    assert!(!db.users.remove("t1", "auth0|u").await.unwrap());
    assert_eq!(db.sessions.get("t1", &session.id).await.unwrap(), None);
    assert_eq!(db.passwords.get("t1", &second.id).await.unwrap(), None);
    assert!(db.tenants.remove("t1").await.unwrap());
    assert_eq!(db.tenants.get("t1").await.unwrap(), None);
}

async fn bulk_upserts_in_batches(fresh: &Fresh) {
    let db = fresh.store.adapters();
    tenant(fresh, "t1").await;
    let users: Vec<User> = (0..5000)
        .map(|i| {
            let mut insert = full_user(&format!("auth0|{i:05}"), &format!("u{i}@x.io"));
            insert.username = Some(format!("name{i}"));
            adapter_interfaces::Record::from_insert(insert, Timestamp::now()).unwrap()
        })
        .collect();
    db.users.upsert_many("t1", users.clone()).await.unwrap();
    // Again, changed: idempotent, in place.
    let changed: Vec<User> = users
        .iter()
        .map(|u| User {
            login_count: 1,
            ..u.clone()
        })
        .collect();
    db.users.upsert_many("t1", changed.clone()).await.unwrap();
    let mut scanned = Vec::new();
    let mut params = ListParams::default().with_per_page(1000);
    loop {
        let page = db.users.list("t1", &params).await.unwrap();
        scanned.extend(page.items);
        match page.next {
            Some(next) => params = ListParams::default().with_per_page(1000).with_from(next),
            None => break,
        }
    }
    assert_eq!(scanned, changed);
    // All or nothing: one bad record (a taken email) rejects the batch.
    let mut bad = vec![users[0].clone()];
    bad[0].user_id = "auth0|new".into();
    bad[0].username = None;
    let mut fresh_one = users[1].clone();
    fresh_one.user_id = "auth0|new2".into();
    fresh_one.email = Some("new2@x.io".into());
    fresh_one.username = None;
    bad.insert(0, fresh_one);
    let err = db.users.upsert_many("t1", bad).await.unwrap_err();
    assert!(
        matches!(&err, AdapterError::Conflict { field, .. } if field == "email"),
        "{err:?}"
    );
    assert_eq!(db.users.get("t1", "auth0|new2").await.unwrap(), None);
}

on_every_database!(
    migrations_are_idempotent,
    user_round_trip_and_update,
    every_entity_round_trips,
    errors_follow_the_reference,
    listing_sorts_filters_and_scans,
    codes_consume_once,
    passwords_rotate_and_cascade,
    bulk_upserts_in_batches,
);

#[tokio::test]
async fn urls_are_checked_and_passwords_never_echoed() {
    let err = adapter_sqlx::connect("redis://localhost")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AdapterError::InvalidInput { field, .. } if field == "url"),
        "{err:?}"
    );
    #[cfg(not(feature = "postgres"))]
    {
        let err = adapter_sqlx::connect("postgres://localhost/x")
            .await
            .unwrap_err();
        assert!(err.to_string().contains("`postgres` feature"), "{err}");
    }
    assert_eq!(
        adapter_sqlx::redact_url("mysql://root:hunter2@db:3306/app?ssl-mode=required"),
        "mysql://root:***@db:3306/app?ssl-mode=required"
    );
    assert_eq!(
        adapter_sqlx::redact_url("sqlite::memory:"),
        "sqlite::memory:"
    );
    // A refused connection: neither the error nor its sources show the password.
    for url in [
        "postgres://u:hunter2@127.0.0.1:1/x",
        "mysql://u:hunter2@127.0.0.1:1/x",
        "postgres://u:hunter2@[bad",
    ] {
        if let Err(err) = adapter_sqlx::connect(url).await {
            let mut text = format!("{err} {err:?}");
            let mut source = std::error::Error::source(&err);
            while let Some(s) = source {
                text.push_str(&format!(" {s} {s:?}"));
                source = s.source();
            }
            assert!(!text.contains("hunter2"), "{text}");
        }
    }
}
