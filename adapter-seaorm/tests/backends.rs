//! Focused checks of the SeaORM adapters on every database, most of them
//! differential: the same calls go to the in-memory reference adapter and
//! the results must be identical.

// Test code: a failed expectation panics, like any assertion.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use adapter_interfaces::{
    AdapterError, Application, Code, CodeInsert, CodeType, Connection, DataAdapters, EntityKind,
    ListParams, Log, Password, PasswordAlgorithm, PasswordInsert, Session, SessionInsert, Sort,
    Tenant, TenantInsert, Timestamp, User, UserInsert, UserPatch, memory,
};
use common::Fresh;
use serde_json::json;

fn record<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> T {
    serde_json::from_value(value).unwrap()
}

fn tenant(id: &str) -> Tenant {
    record(json!({
        "id": id, "friendly_name": format!("Tenant {id}"), "audience": "https://api.example.com",
        "sender_email": "no-reply@example.com", "sender_name": "Ex", "support_url": "https://help",
        "session_lifetime": 3600, "created_at": "2024-01-01T00:00:00.000Z",
        "updated_at": "2024-01-02T00:00:00.123Z"
    }))
}

fn user(n: usize) -> User {
    let email = if n.is_multiple_of(5) {
        json!(null)
    } else {
        json!(format!("u{:03}@x.io", (n * 37) % 101))
    };
    record(json!({
        "user_id": format!("auth0|{n:04}"), "email": email, "email_verified": n.is_multiple_of(2),
        "username": if n.is_multiple_of(3) { json!(null) } else { json!(format!("name-{:03}", (n * 7) % 90)) },
        "phone_number": "+4412345", "phone_verified": false,
        "name": if n.is_multiple_of(4) { json!(null) } else { json!(format!("Name {} é", n % 7)) },
        "given_name": "G", "family_name": "F", "nickname": format!("Nick{n}"), "picture": "https://p/x.png",
        "locale": "en-GB", "provider": "auth0", "connection": format!("conn-{}", n % 2),
        "is_social": n.is_multiple_of(7), "blocked": n.is_multiple_of(11), "linked_to": null, "last_ip": "10.0.0.1",
        "last_login": if n.is_multiple_of(6) { json!(null) } else { json!(format!("2024-03-{:02}T10:00:00.{:03}Z", 1 + n % 28, n % 1000)) },
        "login_count": (n * 13) % 9,
        "app_metadata": {"plan": "pro", "n": n, "nested": {"list": [1, 2.5, "x", null, true]}},
        "user_metadata": {},
        "created_at": format!("2024-02-{:02}T00:00:00.000Z", 1 + n % 3),
        "updated_at": "2024-05-01T00:00:00.000Z"
    }))
}

async fn both(db: &Fresh) -> (DataAdapters, DataAdapters) {
    (db.store.adapters(), memory::adapters())
}

/// Every field of every entity survives a write and a read, as in the reference.
async fn round_trips_every_entity(db: &Fresh) {
    let (sea, mem) = both(db).await;
    let t = tenant("acme");
    let u = user(1);
    let app: Application = record(json!({
        "client_id": "app1", "name": "App", "client_secret": "s3cret-value", "app_type": "spa",
        "callbacks": ["https://a/cb", "https://b/cb"], "allowed_origins": ["https://a"],
        "web_origins": [], "allowed_logout_urls": ["https://a/bye"], "grant_types": ["authorization_code", "refresh_token"],
        "is_first_party": true, "client_metadata": {"k": "v", "z": "a"},
        "created_at": "2024-01-01T00:00:00.001Z", "updated_at": "2024-01-01T00:00:00.002Z"
    }));
    let conn: Connection = record(json!({
        "id": "con1", "name": "Username-Password-Authentication", "strategy": "auth0",
        "display_name": "DB", "options": {"passwordPolicy": "good", "mfa": {"active": true}},
        "enabled_clients": ["app1", "app0"],
        "created_at": "2024-01-01T00:00:00.000Z", "updated_at": "2024-01-01T00:00:00.000Z"
    }));
    let session: Session = record(json!({
        "id": "sess1", "user_id": u.user_id, "login_session_id": "ls1",
        "device": {"ua": "Firefox", "ip": "1.2.3.4"}, "clients": ["app1"],
        "expires_at": "2030-01-01T00:00:00.000Z", "idle_expires_at": "2029-01-01T00:00:00.000Z",
        "authenticated_at": "2024-01-01T00:00:00.000Z", "last_interaction_at": "2024-01-01T00:00:01.000Z",
        "used_at": null, "revoked_at": "2024-01-03T00:00:00.999Z",
        "created_at": "2024-01-01T00:00:00.000Z", "updated_at": "2024-01-01T00:00:00.000Z"
    }));
    let code: Code = record(json!({
        "code_id": "code1", "code_type": "authorization_code", "login_id": "l1", "user_id": u.user_id,
        "expires_at": "2030-01-01T00:00:00.000Z", "used_at": null, "redirect_uri": "https://a/cb",
        "code_challenge": "abc", "code_challenge_method": "S256", "state": "st", "nonce": "no",
        "created_at": "2024-01-01T00:00:00.000Z"
    }));
    let password: Password = record(json!({
        "id": "pw1", "user_id": u.user_id, "password": "$2b$10$hash", "algorithm": "bcrypt",
        "is_current": true, "created_at": "2024-01-01T00:00:00.000Z", "updated_at": "2024-01-01T00:00:00.000Z"
    }));
    let log: Log = record(json!({
        "log_id": "log1", "type": "s", "date": "2024-01-01T00:00:00.000Z", "description": "Success",
        "ip": "1.2.3.4", "user_agent": "UA", "user_id": u.user_id, "user_name": "ada",
        "connection": "db", "client_id": "app1", "client_name": "App", "details": {"x": [1, {"y": 2}]}
    }));
    for db in [&sea, &mem] {
        db.tenants.upsert(t.clone()).await.unwrap();
        db.users.upsert("acme", u.clone()).await.unwrap();
        db.applications.upsert("acme", app.clone()).await.unwrap();
        db.connections.upsert("acme", conn.clone()).await.unwrap();
        db.sessions.upsert("acme", session.clone()).await.unwrap();
        db.codes.upsert("acme", code.clone()).await.unwrap();
        db.passwords.upsert("acme", password.clone()).await.unwrap();
        db.logs.upsert("acme", log.clone()).await.unwrap();
    }
    assert_eq!(sea.tenants.get("acme").await.unwrap(), Some(t));
    assert_eq!(
        sea.users.get("acme", &u.user_id).await.unwrap(),
        Some(u.clone())
    );
    assert_eq!(
        sea.applications.get("acme", "app1").await.unwrap(),
        Some(app)
    );
    assert_eq!(
        sea.connections.get("acme", "con1").await.unwrap(),
        Some(conn)
    );
    assert_eq!(
        sea.sessions.get("acme", "sess1").await.unwrap(),
        Some(session)
    );
    assert_eq!(sea.codes.get("acme", "code1").await.unwrap(), Some(code));
    assert_eq!(
        sea.passwords.get("acme", "pw1").await.unwrap(),
        Some(password)
    );
    assert_eq!(sea.logs.get("acme", "log1").await.unwrap(), Some(log));
    assert_eq!(sea.users.get("other", &u.user_id).await.unwrap(), None);

    // Generated values through create, then read back identically.
    let created = sea
        .users
        .create(
            "acme",
            UserInsert {
                email: Some("New@X.io".into()),
                connection: "db".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(created.email.as_deref(), Some("new@x.io"));
    assert_eq!(
        sea.users.get("acme", &created.user_id).await.unwrap(),
        Some(created)
    );
}

/// Listing with every sort, q form, offset pages and full keyset scans gives
/// the reference's pages.
async fn listing_matches_the_reference(db: &Fresh) {
    let (sea, mem) = both(db).await;
    let users: Vec<User> = (0..90).map(user).collect();
    for db in [&sea, &mem] {
        db.tenants.upsert(tenant("t1")).await.unwrap();
        db.tenants.upsert(tenant("t2")).await.unwrap();
        db.users.upsert_many("t1", users.clone()).await.unwrap();
        db.users
            .upsert_many("t2", users[..5].to_vec())
            .await
            .unwrap();
    }
    let sorts = [
        None,
        Some(Sort::asc("email")),
        Some(Sort::desc("email")),
        Some(Sort::asc("name")),
        Some(Sort::desc("name")),
        Some(Sort::asc("last_login")),
        Some(Sort::desc("last_login")),
        Some(Sort::asc("login_count")),
        Some(Sort::desc("login_count")),
        Some(Sort::desc("created_at")),
        Some(Sort::desc("user_id")),
        Some(Sort::asc("username")),
    ];
    let queries = [
        None,
        Some("email_verified:true"),
        Some("-email_verified:true"),
        Some("-name:\"Name 3 é\""),
        Some("login_count:>3 OR blocked:true"),
        Some("login_count:<=2 -blocked:true"),
        Some("_exists_:last_login"),
        Some("-_exists_:email"),
        Some("Nick1"),
        Some("\"me 2\""),
        Some("-Nick1"),
        Some("email:>u050@x.io"),
        Some("last_login:>=2024-03-10"),
        Some("connection:conn-1 username:name-3"),
        Some("email:U007@X.IO"),
    ];
    for sort in &sorts {
        for q in &queries {
            let mut params = ListParams::default().with_per_page(7).with_totals();
            params.sort = sort.clone();
            params.q = q.map(str::to_owned);
            // Offset pages.
            for page in [0, 1, 5] {
                let p = params.clone().with_page(page);
                let a = sea.users.list("t1", &p).await.unwrap();
                let b = mem.users.list("t1", &p).await.unwrap();
                assert_eq!(a.items, b.items, "sort {sort:?} q {q:?} page {page}");
                assert_eq!(a.total, b.total, "sort {sort:?} q {q:?}");
            }
            // A full keyset scan.
            let (mut a_next, mut b_next) = (None::<String>, None::<String>);
            let mut scanned = 0;
            loop {
                let mut pa = params.clone();
                pa.from = a_next.clone();
                let mut pb = params.clone();
                pb.from = b_next.clone();
                let a = sea.users.list("t1", &pa).await.unwrap();
                let b = mem.users.list("t1", &pb).await.unwrap();
                assert_eq!(
                    a.items, b.items,
                    "keyset sort {sort:?} q {q:?} after {scanned}"
                );
                scanned += a.items.len();
                assert_eq!(a.next.is_some(), b.next.is_some());
                match a.next {
                    Some(next) => {
                        a_next = Some(next);
                        b_next = b.next;
                    }
                    None => break,
                }
            }
        }
    }
    let page = sea
        .users
        .list("t2", &ListParams::default().with_totals())
        .await
        .unwrap();
    assert_eq!(page.total, Some(5));
    let page = sea
        .users
        .list("nobody", &ListParams::default())
        .await
        .unwrap();
    assert!(page.items.is_empty());
    // Tenants list too (not tenant-scoped).
    let a = sea
        .tenants
        .list(&ListParams::default().with_sort(Sort::desc("friendly_name")))
        .await
        .unwrap();
    let b = mem
        .tenants
        .list(&ListParams::default().with_sort(Sort::desc("friendly_name")))
        .await
        .unwrap();
    assert_eq!(a, b);
    let bad = sea
        .users
        .list(
            "t1",
            &ListParams::default().with_sort(Sort::asc("password")),
        )
        .await;
    assert!(matches!(bad, Err(AdapterError::InvalidInput { .. })));
    let bad = sea
        .users
        .list("t1", &ListParams::default().with_q("drop:table"))
        .await;
    assert!(matches!(bad, Err(AdapterError::InvalidInput { .. })));
}

fn kind_of<T: std::fmt::Debug>(r: &Result<T, AdapterError>) -> String {
    match r {
        Ok(v) => format!("ok {v:?}"),
        Err(AdapterError::NotFound { entity, id }) => format!("not found {entity} {id}"),
        Err(AdapterError::Conflict { entity, field }) => format!("conflict {entity} {field}"),
        Err(e) => format!("{:?}", e.kind()),
    }
}

/// Conflicts, missing tenants and parents, in the reference's order; a
/// rejected write writes nothing.
async fn errors_match_the_reference(db: &Fresh) {
    let (sea, mem) = both(db).await;
    for db in [&sea, &mem] {
        db.tenants.upsert(tenant("t")).await.unwrap();
        db.users.upsert("t", user(1)).await.unwrap();
        db.users.upsert("t", user(2)).await.unwrap();
    }
    macro_rules! same {
        ($call:expr) => {{
            let a = $call(sea.clone()).await;
            let b = $call(mem.clone()).await;
            assert_eq!(kind_of(&a), kind_of(&b), "{}", stringify!($call));
        }};
    }
    let u1 = user(1);
    let mut clash = user(3);
    clash.email = u1.email.clone();
    clash.connection = u1.connection.clone();
    let mut orphan: Session = record(json!({
        "id": "s", "user_id": "auth0|nobody", "device": {}, "clients": [],
        "created_at": "2024-01-01T00:00:00.000Z", "updated_at": "2024-01-01T00:00:00.000Z"
    }));
    same!(|db: DataAdapters| {
        let u = u1.clone();
        async move {
            db.users
                .create("t", record::<UserInsert>(serde_json::to_value(u).unwrap()))
                .await
                .map(|_| ())
        }
    });
    same!(|db: DataAdapters| {
        let c = clash.clone();
        async move { db.users.upsert("t", c).await }
    });
    same!(|db: DataAdapters| {
        let c = user(9);
        async move { db.users.upsert("missing-tenant", c).await }
    });
    same!(|db: DataAdapters| {
        let s = orphan.clone();
        async move { db.sessions.upsert("t", s).await }
    });
    orphan.user_id = u1.user_id.clone();
    same!(|db: DataAdapters| {
        let s = orphan.clone();
        async move { db.sessions.upsert("missing", s).await }
    });
    same!(|db: DataAdapters| async move {
        db.sessions
            .create(
                "t",
                SessionInsert {
                    user_id: "auth0|ghost".into(),
                    ..Default::default()
                },
            )
            .await
            .map(|_| ())
    });
    // A batch whose third record clashes writes nothing.
    same!(|db: DataAdapters| {
        let batch = vec![user(10), user(11), clash.clone(), user(12)];
        async move { db.users.upsert_many("t", batch).await }
    });
    same!(|db: DataAdapters| {
        let sessions = vec![
            orphan.clone(),
            record::<Session>(json!({
                "id": "s2", "user_id": "auth0|ghost2", "device": {}, "clients": [],
                "created_at": "2024-01-01T00:00:00.000Z", "updated_at": "2024-01-01T00:00:00.000Z"
            })),
        ];
        async move { db.sessions.upsert_many("t", sessions).await }
    });
    assert_eq!(sea.users.get("t", &user(10).user_id).await.unwrap(), None);
    assert_eq!(sea.sessions.get("t", "s").await.unwrap(), None);
    // Updates: missing, invalid, conflicting.
    same!(|db: DataAdapters| async move {
        db.users
            .update(
                "t",
                "auth0|ghost",
                UserPatch {
                    email: Some(Some("bad".into())),
                    ..Default::default()
                },
            )
            .await
    });
    same!(|db: DataAdapters| async move {
        db.users
            .update(
                "t",
                &user(2).user_id,
                UserPatch {
                    email: Some(Some("bad".into())),
                    ..Default::default()
                },
            )
            .await
    });
    same!(|db: DataAdapters| {
        let patch = UserPatch {
            email: Some(u1.email.clone()),
            ..Default::default()
        };
        async move {
            db.users
                .update("t", &user(3).user_id, patch)
                .await
                .map(|_| ())
        }
    });
    let before = sea.users.get("t", &user(2).user_id).await.unwrap();
    let mut u2 = user(2);
    u2.connection = u1.connection.clone();
    sea.users.upsert("t", u2.clone()).await.unwrap();
    mem.users.upsert("t", u2.clone()).await.unwrap();
    same!(|db: DataAdapters| {
        let patch = UserPatch {
            email: Some(u1.email.clone()),
            ..Default::default()
        };
        let id = u2.user_id.clone();
        async move { db.users.update("t", &id, patch).await.map(|_| ()) }
    });
    assert_ne!(sea.users.get("t", &user(2).user_id).await.unwrap(), before);
    assert_eq!(sea.users.get("t", &u2.user_id).await.unwrap(), Some(u2));
    same!(|db: DataAdapters| async move {
        db.tenants
            .create(TenantInsert {
                id: Some("t".into()),
                friendly_name: "x".into(),
                ..Default::default()
            })
            .await
            .map(|_| ())
    });
}

/// Of concurrent consumers exactly one wins; expired and used codes are not
/// consumed; cleanup deletes expired codes only.
async fn codes_consume_and_cleanup(db: &Fresh) {
    let sea = db.store.adapters();
    sea.tenants.upsert(tenant("t")).await.unwrap();
    let soon = Timestamp::now().plus_millis(60_000);
    let code = sea
        .codes
        .create("t", CodeInsert::new(CodeType::Otp, soon))
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let codes = sea.codes.clone();
        let id = code.code_id.clone();
        tasks.push(tokio::spawn(async move {
            codes.consume("t", &id).await.unwrap()
        }));
    }
    let mut winners = Vec::new();
    for task in tasks {
        if let Some(c) = task.await.unwrap() {
            winners.push(c);
        }
    }
    assert_eq!(winners.len(), 1);
    let used = winners.pop().unwrap();
    assert!(used.used_at.is_some());
    assert_eq!(sea.codes.get("t", &code.code_id).await.unwrap(), Some(used));
    let past = Timestamp::now().plus_millis(-1000);
    let expired = sea
        .codes
        .create("t", CodeInsert::new(CodeType::Ticket, past))
        .await
        .unwrap();
    assert_eq!(
        sea.codes.consume("t", &expired.code_id).await.unwrap(),
        None
    );
    assert_eq!(sea.codes.consume("t", "missing").await.unwrap(), None);
    assert_eq!(sea.codes.cleanup("t", Timestamp::now()).await.unwrap(), 1);
    assert_eq!(sea.codes.get("t", &expired.code_id).await.unwrap(), None);
    assert!(sea.codes.get("t", &code.code_id).await.unwrap().is_some());
    assert!(CodesRemove::remove(&sea, &code.code_id).await);
}

struct CodesRemove;
impl CodesRemove {
    async fn remove(db: &DataAdapters, id: &str) -> bool {
        db.codes.remove("t", id).await.unwrap() && !db.codes.remove("t", id).await.unwrap()
    }
}

/// Password rotation demotes the previous current password, in the reference's way,
/// for single writes and batches alike.
async fn password_rotation(db: &Fresh) {
    let (sea, mem) = both(db).await;
    let u = user(1);
    for db in [&sea, &mem] {
        db.tenants.upsert(tenant("t")).await.unwrap();
        db.users.upsert("t", u.clone()).await.unwrap();
    }
    let first = sea
        .passwords
        .create(
            "t",
            PasswordInsert::new(&u.user_id, "$2b$one", PasswordAlgorithm::Bcrypt),
        )
        .await
        .unwrap();
    let second = sea
        .passwords
        .create(
            "t",
            PasswordInsert::new(&u.user_id, "$argon2id$two", PasswordAlgorithm::Argon2id),
        )
        .await
        .unwrap();
    let demoted = sea.passwords.get("t", &first.id).await.unwrap().unwrap();
    assert!(!demoted.is_current);
    assert_eq!(demoted.updated_at, second.updated_at);
    assert_eq!(
        sea.passwords.get_current("t", &u.user_id).await.unwrap(),
        Some(second.clone())
    );
    assert!(sea.passwords.remove("t", &second.id).await.unwrap());
    assert_eq!(
        sea.passwords.get_current("t", &u.user_id).await.unwrap(),
        None
    );

    // A batch with several current passwords, as sequential upserts do it.
    let u = user(2);
    for db in [&sea, &mem] {
        db.users.upsert("t", u.clone()).await.unwrap();
    }
    let pw = |id: &str, current: bool, at: &str| -> Password {
        record(
            json!({"id": id, "user_id": u.user_id, "password": format!("$h${id}"), "algorithm": "bcrypt",
            "is_current": current, "created_at": at, "updated_at": at}),
        )
    };
    let batch = vec![
        pw("a", true, "2024-01-01T00:00:00.000Z"),
        pw("b", false, "2024-01-02T00:00:00.000Z"),
        pw("c", true, "2024-01-03T00:00:00.000Z"),
        pw("d", true, "2024-01-04T00:00:00.000Z"),
        pw("a", true, "2024-01-05T00:00:00.000Z"),
    ];
    for db in [&sea, &mem] {
        db.passwords.upsert_many("t", batch.clone()).await.unwrap();
    }
    let params = ListParams::default().with_q(format!("user_id:\"{}\"", u.user_id));
    assert_eq!(
        sea.passwords.list("t", &params).await.unwrap().items,
        mem.passwords.list("t", &params).await.unwrap().items
    );
    assert_eq!(
        sea.passwords.get_current("t", &u.user_id).await.unwrap(),
        mem.passwords.get_current("t", &u.user_id).await.unwrap()
    );
}

/// Removing a user removes its sessions and passwords; removing a tenant removes everything.
async fn cascades(db: &Fresh) {
    let sea = db.store.adapters();
    sea.tenants.upsert(tenant("t")).await.unwrap();
    let u = user(1);
    sea.users.upsert("t", u.clone()).await.unwrap();
    let s = sea
        .sessions
        .create(
            "t",
            SessionInsert {
                user_id: u.user_id.clone(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let p = sea
        .passwords
        .create(
            "t",
            PasswordInsert::new(&u.user_id, "$h", PasswordAlgorithm::Bcrypt),
        )
        .await
        .unwrap();
    assert!(sea.users.remove("t", &u.user_id).await.unwrap());
    assert!(!sea.users.remove("t", &u.user_id).await.unwrap());
    assert_eq!(sea.sessions.get("t", &s.id).await.unwrap(), None);
    assert_eq!(sea.passwords.get("t", &p.id).await.unwrap(), None);
    sea.users.upsert("t", u.clone()).await.unwrap();
    sea.logs
        .create("t", record(json!({"type": "s"})))
        .await
        .unwrap();
    assert!(sea.tenants.remove("t").await.unwrap());
    assert_eq!(sea.users.get("t", &u.user_id).await.unwrap(), None);
    assert!(
        sea.logs
            .list("t", &ListParams::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert!(!sea.tenants.remove("t").await.unwrap());
}

/// upsert_many writes thousands of rows in batches, is idempotent, updates
/// in place (without deleting children) and scans back completely.
async fn bulk_upserts(db: &Fresh) {
    let sea = db.store.adapters();
    sea.tenants.upsert(tenant("t")).await.unwrap();
    let users: Vec<User> = (0..2500)
        .map(|n| {
            let mut u = user(n);
            u.email = Some(format!("bulk{n}@x.io"));
            u.username = None;
            u
        })
        .collect();
    sea.users.upsert_many("t", users.clone()).await.unwrap();
    let s = sea
        .sessions
        .create(
            "t",
            SessionInsert {
                user_id: users[7].user_id.clone(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    // Again, with one change: idempotent, and the user's session survives.
    let mut again = users.clone();
    again[7].name = Some("Changed".into());
    sea.users.upsert_many("t", again.clone()).await.unwrap();
    assert_eq!(
        sea.users.get("t", &users[7].user_id).await.unwrap(),
        Some(again[7].clone())
    );
    assert!(sea.sessions.get("t", &s.id).await.unwrap().is_some());
    let mut seen = Vec::new();
    let mut params = ListParams::default()
        .with_per_page(1000)
        .with_sort(Sort::asc("created_at"));
    loop {
        let page = sea.users.list("t", &params).await.unwrap();
        seen.extend(page.items.into_iter().map(|u| u.user_id));
        match page.next {
            Some(next) => params = params.with_from(next),
            None => break,
        }
    }
    assert_eq!(seen.len(), 2500);
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 2500);
}

/// Migrating twice is a no-op; the version is recorded; SQLite stores the
/// canonical text forms that every backend writes.
async fn migrations_and_storage(db: &Fresh) {
    db.store.migrate().await.unwrap();
    assert_eq!(
        db.store.schema_version().await.unwrap(),
        Some(adapter_interfaces::schema::SCHEMA_VERSION)
    );
    let sea = db.store.adapters();
    sea.tenants.upsert(tenant("t")).await.unwrap();
    let u = user(1);
    sea.users.upsert("t", u.clone()).await.unwrap();
    if db.store.backend() == sea_orm::DbBackend::Sqlite {
        use sea_orm::{ConnectionTrait, Statement};
        let row = db
            .store
            .connection()
            .query_one_raw(Statement::from_string(
                sea_orm::DbBackend::Sqlite,
                "SELECT created_at, last_login, app_metadata, email_verified FROM users",
            ))
            .await
            .unwrap()
            .unwrap();
        let created: String = row.try_get_by_index(0).unwrap();
        assert_eq!(created, u.created_at.to_canonical_string());
        let last: String = row.try_get_by_index(1).unwrap();
        assert_eq!(last, u.last_login.unwrap().to_canonical_string());
        let meta: String = row.try_get_by_index(2).unwrap();
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&meta).unwrap(),
            json!(u.app_metadata)
        );
        let verified: i64 = row.try_get_by_index(3).unwrap();
        assert_eq!(verified, 0);
    }
    assert_eq!(
        kind_of(&sea.users.get("t", &u.user_id).await.map(|u| u.is_some())),
        "ok true"
    );
    let _ = EntityKind::User;
}

/// A database that another backend migrated (no SeaORM bookkeeping) migrates
/// as a no-op, and rows written in the shared representations (as the sqlx and
/// Diesel backends write them) read back exactly.
async fn reads_what_another_backend_wrote(db: &Fresh) {
    use sea_orm::{ConnectionTrait, DbBackend};
    let conn = db.store.connection();
    conn.execute_unprepared("DROP TABLE seaql_migrations")
        .await
        .unwrap();
    db.store.migrate().await.unwrap();
    assert_eq!(
        db.store.schema_version().await.unwrap(),
        Some(adapter_interfaces::schema::SCHEMA_VERSION)
    );
    let backend = db.store.backend();
    let (yes, no, stamp, login) = match backend {
        DbBackend::Sqlite => (
            "1",
            "0",
            "'2024-01-01T00:00:00.123Z'",
            "'2024-02-03T04:05:06.789Z'",
        ),
        DbBackend::MySql => (
            "TRUE",
            "FALSE",
            "'2024-01-01 00:00:00.123'",
            "'2024-02-03 04:05:06.789'",
        ),
        _ => (
            "TRUE",
            "FALSE",
            "'2024-01-01T00:00:00.123Z'",
            "'2024-02-03T04:05:06.789Z'",
        ),
    };
    conn.execute_unprepared(&format!(
        "INSERT INTO tenants (id, friendly_name, created_at, updated_at) VALUES ('x', 'X', {stamp}, {stamp})"
    ))
    .await
    .unwrap();
    conn.execute_unprepared(&format!(
        "INSERT INTO users (tenant_id, user_id, email, email_verified, phone_verified, provider, connection, \
         is_social, blocked, last_login, login_count, app_metadata, user_metadata, created_at, updated_at) \
         VALUES ('x', 'auth0|1', 'a@x.io', {yes}, {no}, 'auth0', 'db', {no}, {yes}, {login}, 3, \
         '{{\"a\": [1, 2.5, \"z\"], \"b\": {{\"c\": null}}}}', '{{}}', {stamp}, {stamp})"
    ))
    .await
    .unwrap();
    let expected: User = record(json!({
        "user_id": "auth0|1", "email": "a@x.io", "email_verified": true, "username": null,
        "phone_number": null, "phone_verified": false, "name": null, "given_name": null,
        "family_name": null, "nickname": null, "picture": null, "locale": null, "provider": "auth0",
        "connection": "db", "is_social": false, "blocked": true, "linked_to": null, "last_ip": null,
        "last_login": "2024-02-03T04:05:06.789Z", "login_count": 3,
        "app_metadata": {"a": [1, 2.5, "z"], "b": {"c": null}}, "user_metadata": {},
        "created_at": "2024-01-01T00:00:00.123Z", "updated_at": "2024-01-01T00:00:00.123Z"
    }));
    let sea = db.store.adapters();
    assert_eq!(
        sea.users.get("x", "auth0|1").await.unwrap(),
        Some(expected.clone())
    );
    let page = sea
        .users
        .list(
            "x",
            &ListParams::default().with_q("last_login:>=2024-02-03"),
        )
        .await
        .unwrap();
    assert_eq!(page.items, vec![expected]);
}

on_every_database!(
    reads_what_another_backend_wrote,
    round_trips_every_entity,
    listing_matches_the_reference,
    errors_match_the_reference,
    codes_consume_and_cleanup,
    password_rotation,
    cascades,
    bulk_upserts,
    migrations_and_storage,
);
