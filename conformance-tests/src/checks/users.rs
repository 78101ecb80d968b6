//! Users.

use adapter_interfaces::{
    DataAdapters, EntityKind, EntityStore, ListParams, MutableStore, PasswordAlgorithm,
    PasswordInsert, SessionInsert, User, UserInsert, UserPatch,
};
use serde_json::json;

use super::generic::{self, Fixture, MutableFixture, check_update, expected, insert_of, is_hex32};
use super::support::*;

const DB: &str = "Username-Password-Authentication";

fn base(id: &str) -> UserInsert {
    UserInsert {
        user_id: Some(id.into()),
        connection: DB.into(),
        created_at: Some(at(0)),
        updated_at: Some(at(0)),
        ..Default::default()
    }
}

impl Fixture for User {
    fn store(db: &DataAdapters) -> &dyn EntityStore<Self> {
        &*db.users
    }

    fn samples() -> Vec<UserInsert> {
        vec![
            UserInsert {
                email: Some("Ada@Example.com".into()),
                email_verified: true,
                username: Some("ada".into()),
                name: Some("Ada Lovelace".into()),
                given_name: Some("Ada".into()),
                family_name: Some("Lovelace".into()),
                nickname: Some("ada".into()),
                picture: Some("https://example.com/ada.png".into()),
                locale: Some("en-GB".into()),
                last_ip: Some("10.0.0.1".into()),
                last_login: Some(at(5)),
                login_count: 3,
                app_metadata: obj(json!({"roles": ["admin"], "plan": {"tier": 2}})),
                user_metadata: obj(json!({"theme": "dark"})),
                updated_at: Some(at(10)),
                ..base("auth0|ada")
            },
            UserInsert {
                email: Some("bob@example.com".into()),
                username: Some("Bob".into()),
                name: Some("bob".into()),
                phone_number: Some("+15550001".into()),
                phone_verified: true,
                blocked: true,
                created_at: Some(at(1)),
                updated_at: Some(at(1)),
                ..base("auth0|bob")
            },
            UserInsert {
                email: Some("zoe@example.org".into()),
                username: Some("bob".into()),
                name: Some("Émile Zola".into()),
                login_count: 9_007_199_254_740_993,
                last_login: Some(at(5)),
                last_ip: Some("10.0.0.2".into()),
                ..base("auth0|bob2")
            },
            UserInsert {
                email: Some("ada@example.com".into()),
                name: Some("Ada Lovelace".into()),
                connection: "google-oauth2".into(),
                is_social: true,
                email_verified: true,
                login_count: 3,
                last_login: Some(at(7)),
                created_at: Some(at(2)),
                updated_at: Some(at(4)),
                ..base("google-oauth2|123")
            },
            UserInsert {
                login_count: -1,
                created_at: Some(at(1)),
                updated_at: Some(at(1)),
                ..base("auth0|nobody")
            },
            UserInsert {
                email: Some("émile@example.com".into()),
                username: Some("émile".into()),
                name: Some("Zed".into()),
                given_name: Some(String::new()),
                nickname: Some("Mile".into()),
                locale: Some("fr".into()),
                linked_to: Some("auth0|ada".into()),
                created_at: Some(at(3)),
                updated_at: Some(at(3)),
                ..base("auth0|émile")
            },
        ]
    }

    fn one(key: &str) -> UserInsert {
        UserInsert {
            email: Some(format!("{key}@example.com").replace('|', ".")),
            ..base(&format!("auth0|{key}"))
        }
    }

    fn key_shape_ok(key: &str) -> bool {
        key.strip_prefix("auth0|").is_some_and(is_hex32)
    }

    fn long_text(column: &str, chars: usize) -> String {
        match column {
            "user_id" => format!("auth0|{}", "é".repeat(chars - 6)),
            "email" => format!("{}@x.io", "é".repeat(chars - 5)),
            _ => "é".repeat(chars),
        }
    }

    fn clash_with(existing: &User) -> Option<User> {
        Some(User {
            user_id: "auth0|clash".into(),
            ..existing.clone()
        })
    }

    fn mutable(db: &DataAdapters) -> Option<&dyn MutableStore<Self>> {
        Some(&*db.users)
    }

    fn valid_patch() -> Option<UserPatch> {
        Some(UserPatch {
            blocked: Some(true),
            ..Default::default()
        })
    }
}

impl MutableFixture for User {
    fn invalid_patch() -> (UserPatch, &'static str) {
        (
            UserPatch {
                email: Some(Some("not-an-email".into())),
                ..Default::default()
            },
            "email",
        )
    }
}

fn full_user() -> User {
    User {
        user_id: "auth0|full".into(),
        email: Some("full@example.com".into()),
        email_verified: true,
        username: Some("full".into()),
        phone_number: Some("+441234567890".into()),
        phone_verified: true,
        name: Some("Full Name".into()),
        given_name: Some("Full".into()),
        family_name: Some("Name".into()),
        nickname: Some("fully".into()),
        picture: Some("https://example.com/p.png?x=1&y=2".into()),
        locale: Some("de-CH".into()),
        provider: "auth0".into(),
        connection: DB.into(),
        is_social: true,
        blocked: true,
        linked_to: Some("auth0|primary".into()),
        last_ip: Some("2001:db8::1".into()),
        last_login: Some(ts("2024-02-29T23:59:59.999Z")),
        login_count: 42,
        app_metadata: obj(json!({"roles": ["a", "b"], "n": 1})),
        user_metadata: obj(json!({"lang": "de"})),
        created_at: ts("2023-01-02T03:04:05.678Z"),
        updated_at: ts("2023-06-07T08:09:10.111Z"),
    }
}

/// Every field round-trips through create, get and list; so do the samples.
pub async fn users_create_round_trip(db: &DataAdapters) {
    generic::create_round_trip::<User>(db).await;
    generic::full_round_trip(db, &full_user()).await;
}

/// `provider` and `user_id` defaults.
pub async fn users_provider_defaults(db: &DataAdapters) {
    tenant(db, T1).await;
    let plain = UserInsert {
        connection: DB.into(),
        ..Default::default()
    };
    let u = created(&*db.users, T1, plain.clone()).await;
    assert_eq!(u.provider, "auth0", "default provider");
    assert!(
        User::key_shape_ok(&u.user_id),
        "generated user_id {}",
        u.user_id
    );
    let g = created(
        &*db.users,
        T1,
        UserInsert {
            user_id: Some("google-oauth2|42".into()),
            ..plain.clone()
        },
    )
    .await;
    assert_eq!(g.provider, "google-oauth2", "provider from the user_id");
    let h = created(
        &*db.users,
        T1,
        UserInsert {
            provider: Some("github".into()),
            ..plain
        },
    )
    .await;
    assert!(
        h.user_id.strip_prefix("github|").is_some_and(is_hex32),
        "user_id from the provider: {}",
        h.user_id
    );
    assert_eq!(
        ok(db.users.get(T1, &h.user_id).await, "get"),
        Some(h),
        "get"
    );
}

/// JSON metadata round-trips as values: nesting, numbers at the limits, unicode, nulls.
pub async fn users_json_round_trip(db: &DataAdapters) {
    tenant(db, T1).await;
    let app = obj(json!({
        "z": 1, "a": [1, "two", null, true, {"deep": {"deeper": []}}],
        "max": i64::MAX, "min": i64::MIN, "float": 0.1, "big": 1e300, "neg": -2.5,
        "unicode": "żółw 🐢 \"quoted\" \\ back\nslash\t", "empty": {}, "nothing": null,
        "": "empty key"
    }));
    let meta = obj(json!({"k": {"b": 2, "a": 1}}));
    let insert = UserInsert {
        app_metadata: app.clone(),
        user_metadata: meta.clone(),
        ..base("auth0|json")
    };
    let created = created(&*db.users, T1, insert).await;
    assert_eq!(created.app_metadata, app, "app_metadata as created");
    let got = ok(db.users.get(T1, "auth0|json").await, "get").expect("the user");
    assert_eq!(got.app_metadata, app, "app_metadata did not round-trip");
    assert_eq!(got.user_metadata, meta, "user_metadata did not round-trip");
    let replaced = obj(json!({"only": [3, 2, 1]}));
    let updated = ok(
        db.users
            .update(
                T1,
                "auth0|json",
                UserPatch {
                    app_metadata: Some(replaced.clone()),
                    ..Default::default()
                },
            )
            .await,
        "update",
    );
    assert_eq!(
        updated.app_metadata, replaced,
        "a metadata patch replaces the whole object"
    );
    assert_eq!(
        ok(db.users.get(T1, "auth0|json").await, "get")
            .expect("the user")
            .app_metadata,
        replaced,
        "metadata after update"
    );
}

/// Emails are stored lowercased by create, update and upsert, and `q` finds them in any case.
pub async fn users_email_lowercased(db: &DataAdapters) {
    tenant(db, T1).await;
    let u = created(
        &*db.users,
        T1,
        UserInsert {
            email: Some("MiXeD@Example.COM".into()),
            ..base("auth0|m")
        },
    )
    .await;
    assert_eq!(
        u.email.as_deref(),
        Some("mixed@example.com"),
        "create did not lowercase the email"
    );
    let u = ok(
        db.users
            .update(
                T1,
                "auth0|m",
                UserPatch {
                    email: Some(Some("NEW@X.IO".into())),
                    ..Default::default()
                },
            )
            .await,
        "update",
    );
    assert_eq!(
        u.email.as_deref(),
        Some("new@x.io"),
        "update did not lowercase the email"
    );
    let exact = User {
        user_id: "auth0|u".into(),
        email: Some("UP@SERT.IO".into()),
        ..expected::<User>(&base("auth0|u"))
    };
    ok(db.users.upsert(T1, exact).await, "upsert");
    let got = ok(db.users.get(T1, "auth0|u").await, "get").expect("the upserted user");
    assert_eq!(
        got.email.as_deref(),
        Some("up@sert.io"),
        "upsert did not lowercase the email"
    );
    let page = ok(
        db.users
            .list(T1, &ListParams::default().with_q("email:NEW@X.IO"))
            .await,
        "list",
    );
    assert_eq!(
        keys(&page.items),
        vec!["auth0|m"],
        "q by an uppercase email"
    );
}

async fn unique_per_connection(db: &DataAdapters, field: &str) {
    tenant(db, T1).await;
    let set = |insert: UserInsert, value: &str| with_field(&insert, field, json!(value)).unwrap();
    let first = created(&*db.users, T1, set(base("auth0|1"), "same@example.com")).await;
    let before = all_in(&*db.users, T1).await;
    let upper = if field == "email" {
        "SAME@example.com"
    } else {
        "same@example.com"
    };
    expect_conflict(
        db.users.create(T1, set(base("auth0|2"), upper)).await,
        EntityKind::User,
        field,
        &format!("a second user with the same {field}"),
    );
    assert_records(
        &all_in(&*db.users, T1).await,
        &before,
        "users after a conflict",
    );
    // Another connection, or no value at all, is no conflict.
    let other = UserInsert {
        connection: "other".into(),
        ..set(base("auth0|3"), "same@example.com")
    };
    ok(
        db.users.create(T1, other).await,
        &format!("the same {field} in another connection"),
    );
    ok(
        db.users.create(T1, base("auth0|4")).await,
        "a user without the field",
    );
    ok(
        db.users.create(T1, base("auth0|5")).await,
        "a second user without the field",
    );
    // The same in another tenant is no conflict either.
    tenant(db, T2).await;
    ok(
        db.users
            .create(T2, set(base("auth0|9"), "same@example.com"))
            .await,
        "the same value in another tenant",
    );
    assert_eq!(
        ok(db.users.get(T1, "auth0|1").await, "get"),
        Some(first),
        "the first user changed"
    );
}

/// A write taking one user's email and another user's username breaks two
/// unique keys at once. Databases report either one; every adapter names the
/// first in `User::UNIQUE` order, `email`, on create, upsert, upsert_many and
/// update alike, and writes nothing.
pub async fn users_clash_on_two_keys_names_the_first(db: &DataAdapters) {
    let users = generic::seed::<User>(db).await;
    let before = all_in(&*db.users, T1).await;
    let of = |id: &str| users.iter().find(|u| u.user_id == id).unwrap();
    // ada@example.com / "ada" and bob@example.com / "Bob" belong to two users.
    let (ada, bob) = (of("auth0|ada"), of("auth0|bob"));
    let insert = UserInsert {
        email: bob.email.clone(),
        username: ada.username.clone(),
        ..base("auth0|both")
    };
    expect_conflict(
        db.users.create(T1, insert).await,
        EntityKind::User,
        "email",
        "create taking one user's email and another's username",
    );
    let newcomer = User {
        user_id: "auth0|both".into(),
        email: bob.email.clone(),
        ..ada.clone()
    };
    expect_conflict(
        db.users.upsert(T1, newcomer.clone()).await,
        EntityKind::User,
        "email",
        "upsert taking one user's email and another's username",
    );
    expect_conflict(
        db.users.upsert_many(T1, vec![newcomer]).await,
        EntityKind::User,
        "email",
        "upsert_many taking one user's email and another's username",
    );
    let patch = UserPatch {
        email: Some(bob.email.clone()),
        username: Some(ada.username.clone()),
        ..Default::default()
    };
    expect_conflict(
        db.users.update(T1, "auth0|bob2", patch).await,
        EntityKind::User,
        "email",
        "update taking one user's email and another's username",
    );
    assert_records(
        &all_in(&*db.users, T1).await,
        &before,
        "users after writes that broke two unique keys",
    );
}

/// Two users of one connection cannot share an email (case-insensitively, as emails are lowercased).
pub async fn users_email_unique_per_connection(db: &DataAdapters) {
    unique_per_connection(db, "email").await;
}

/// Two users of one connection cannot share a username.
pub async fn users_username_unique_per_connection(db: &DataAdapters) {
    unique_per_connection(db, "username").await;
}

/// Uniqueness compares bytes: case, trailing spaces and accents make different usernames.
pub async fn users_unique_keys_compare_bytes(db: &DataAdapters) {
    tenant(db, T1).await;
    let names = ["bob", "Bob", "BOB", "bob ", "böb", "bob\u{301}", "ss", "ß"];
    for (i, name) in names.iter().enumerate() {
        let insert = UserInsert {
            username: Some((*name).into()),
            ..base(&format!("auth0|u{i}"))
        };
        ok(
            db.users.create(T1, insert).await,
            &format!("username {name:?} next to the others"),
        );
    }
    assert_q_finds_each(&*db.users, "username", &names, |i| format!("auth0|u{i}")).await;
}

/// A patch of every field changes exactly those fields and `updated_at`.
pub async fn users_update_every_field(db: &DataAdapters) {
    tenant(db, T1).await;
    let original = created(&*db.users, T1, base("auth0|x")).await;
    let patch = UserPatch {
        email: Some(Some("Changed@Example.com".into())),
        email_verified: Some(true),
        username: Some(Some("changed".into())),
        phone_number: Some(Some("+1555".into())),
        phone_verified: Some(true),
        name: Some(Some("Changed Name".into())),
        given_name: Some(Some("Changed".into())),
        family_name: Some(Some("Name".into())),
        nickname: Some(Some("chg".into())),
        picture: Some(Some("https://example.com/c.png".into())),
        locale: Some(Some("it".into())),
        blocked: Some(true),
        linked_to: Some(Some("auth0|other".into())),
        last_ip: Some(Some("192.0.2.1".into())),
        last_login: Some(Some(ts("2024-05-05T05:05:05.505Z"))),
        login_count: Some(7),
        app_metadata: Some(obj(json!({"a": 1}))),
        user_metadata: Some(obj(json!({"b": [2]}))),
    };
    let want = User {
        email: Some("changed@example.com".into()),
        email_verified: true,
        username: Some("changed".into()),
        phone_number: Some("+1555".into()),
        phone_verified: true,
        name: Some("Changed Name".into()),
        given_name: Some("Changed".into()),
        family_name: Some("Name".into()),
        nickname: Some("chg".into()),
        picture: Some("https://example.com/c.png".into()),
        locale: Some("it".into()),
        blocked: true,
        linked_to: Some("auth0|other".into()),
        last_ip: Some("192.0.2.1".into()),
        last_login: Some(ts("2024-05-05T05:05:05.505Z")),
        login_count: 7,
        app_metadata: obj(json!({"a": 1})),
        user_metadata: obj(json!({"b": [2]})),
        ..original.clone()
    };
    let got = check_update::<User>(db, "auth0|x", patch, want, "update of every field").await;
    assert_eq!(
        got.created_at, original.created_at,
        "update changed created_at"
    );
    // Partial patches keep everything else.
    let partial = UserPatch {
        name: Some(Some("Only Name".into())),
        ..Default::default()
    };
    let want = User {
        name: Some("Only Name".into()),
        ..got
    };
    check_update::<User>(db, "auth0|x", partial, want, "update of one field").await;
}

/// `Some(None)` clears every nullable field.
pub async fn users_update_clears_fields(db: &DataAdapters) {
    tenant(db, T1).await;
    let full = created(&*db.users, T1, insert_of(&full_user())).await;
    let patch = UserPatch {
        email: Some(None),
        username: Some(None),
        phone_number: Some(None),
        name: Some(None),
        given_name: Some(None),
        family_name: Some(None),
        nickname: Some(None),
        picture: Some(None),
        locale: Some(None),
        linked_to: Some(None),
        last_ip: Some(None),
        last_login: Some(None),
        ..Default::default()
    };
    let want = User {
        email: None,
        username: None,
        phone_number: None,
        name: None,
        given_name: None,
        family_name: None,
        nickname: None,
        picture: None,
        locale: None,
        linked_to: None,
        last_ip: None,
        last_login: None,
        ..full
    };
    check_update::<User>(
        db,
        "auth0|full",
        patch,
        want,
        "update clearing every nullable field",
    )
    .await;
}

/// An update onto another user's email or username is a conflict and changes nothing.
pub async fn users_update_conflict_writes_nothing(db: &DataAdapters) {
    let users = generic::seed::<User>(db).await;
    let before = all_in(&*db.users, T1).await;
    let patch = UserPatch {
        email: Some(Some("ADA@example.com".into())),
        ..Default::default()
    };
    expect_conflict(
        db.users.update(T1, "auth0|bob", patch).await,
        EntityKind::User,
        "email",
        "update onto a taken email",
    );
    let patch = UserPatch {
        username: Some(Some("ada".into())),
        ..Default::default()
    };
    expect_conflict(
        db.users.update(T1, "auth0|bob", patch).await,
        EntityKind::User,
        "username",
        "update onto a taken username",
    );
    assert_records(
        &all_in(&*db.users, T1).await,
        &before,
        "users after rejected updates",
    );
    // Keeping one's own values is no conflict.
    let me = users
        .iter()
        .find(|u| u.user_id == "auth0|ada")
        .unwrap()
        .clone();
    let patch = UserPatch {
        email: Some(me.email.clone()),
        username: Some(me.username.clone()),
        ..Default::default()
    };
    check_update::<User>(
        db,
        "auth0|ada",
        patch,
        me,
        "update to one's own email and username",
    )
    .await;
}

/// Removing a user removes its sessions and passwords, and nothing else.
pub async fn users_remove_cascades(db: &DataAdapters) {
    prepare(db).await;
    for (id, user) in [("s1", PARENT), ("s2", PARENT), ("s3", PARENT2)] {
        let insert = SessionInsert {
            id: Some(id.into()),
            user_id: user.into(),
            ..Default::default()
        };
        ok(
            db.sessions.create(T1, insert.clone()).await,
            "create session",
        );
        ok(
            db.sessions.create(T2, insert).await,
            "create session in the second tenant",
        );
    }
    for (id, user) in [("p1", PARENT), ("p2", PARENT2)] {
        let insert = PasswordInsert {
            id: Some(id.into()),
            ..PasswordInsert::new(user, "$2b$10$hash", PasswordAlgorithm::Bcrypt)
        };
        ok(db.passwords.create(T1, insert).await, "create password");
    }
    assert!(
        ok(db.users.remove(T1, PARENT).await, "remove"),
        "remove of a user"
    );
    let sessions = all_in(&*db.sessions, T1).await;
    assert_eq!(
        keys(&sessions),
        vec!["s3"],
        "sessions after removing their user"
    );
    let passwords = all_in(&*db.passwords, T1).await;
    assert_eq!(
        keys(&passwords),
        vec!["p2"],
        "passwords after removing their user"
    );
    assert_eq!(
        current_password(db, T1, PARENT).await,
        None,
        "current password of a removed user"
    );
    assert!(
        ok(db.users.get(T1, PARENT2).await, "get").is_some(),
        "another user was removed"
    );
    assert_eq!(
        all_in(&*db.sessions, T2).await.len(),
        3,
        "sessions of the other tenant"
    );
}

/// Upserting over an existing user replaces it without deleting its sessions and passwords.
pub async fn users_upsert_keeps_children(db: &DataAdapters) {
    prepare(db).await;
    ok(
        db.sessions
            .create(
                T1,
                SessionInsert {
                    id: Some("s1".into()),
                    user_id: PARENT.into(),
                    ..Default::default()
                },
            )
            .await,
        "create session",
    );
    let pw = ok(
        db.passwords
            .create(
                T1,
                PasswordInsert::new(PARENT, "$2b$10$hash", PasswordAlgorithm::Bcrypt),
            )
            .await,
        "create password",
    );
    let user = ok(db.users.get(T1, PARENT).await, "get").expect("the parent user");
    let replaced = User {
        name: Some("Replaced".into()),
        ..user
    };
    ok(db.users.upsert(T1, replaced.clone()).await, "upsert");
    ok(
        db.users.upsert_many(T1, vec![replaced.clone()]).await,
        "upsert_many",
    );
    assert_eq!(
        ok(db.users.get(T1, PARENT).await, "get"),
        Some(replaced),
        "the replaced user"
    );
    assert!(
        ok(db.sessions.get(T1, "s1").await, "get").is_some(),
        "upsert of a user deleted its session"
    );
    assert_eq!(
        current_password(db, T1, PARENT).await,
        Some(pw),
        "upsert of a user deleted its password"
    );
}

/// An upsert of a new user onto another user's email is a conflict, not an overwrite.
pub async fn users_upsert_conflict_on_unique(db: &DataAdapters) {
    let users = generic::seed::<User>(db).await;
    let before = all_in(&*db.users, T1).await;
    let ada = users.iter().find(|u| u.user_id == "auth0|ada").unwrap();
    let clash = User {
        user_id: "auth0|newcomer".into(),
        username: None,
        ..ada.clone()
    };
    expect_conflict(
        db.users.upsert(T1, clash.clone()).await,
        EntityKind::User,
        "email",
        "upsert onto a taken email",
    );
    expect_conflict(
        db.users.upsert_many(T1, vec![clash]).await,
        EntityKind::User,
        "email",
        "upsert_many onto a taken email",
    );
    let clash = User {
        user_id: "auth0|newcomer".into(),
        email: None,
        ..ada.clone()
    };
    expect_conflict(
        db.users.upsert(T1, clash).await,
        EntityKind::User,
        "username",
        "upsert onto a taken username",
    );
    // An existing user taking another's email by upsert is a conflict too.
    let bob = users.iter().find(|u| u.user_id == "auth0|bob").unwrap();
    let steal = User {
        email: ada.email.clone(),
        ..bob.clone()
    };
    expect_conflict(
        db.users.upsert(T1, steal).await,
        EntityKind::User,
        "email",
        "upsert of a user onto another's email",
    );
    assert_records(
        &all_in(&*db.users, T1).await,
        &before,
        "users after rejected upserts",
    );
}

/// Hand-written `q` queries and their answers.
pub async fn users_list_q_examples(db: &DataAdapters) {
    generic::seed::<User>(db).await;
    for (q, want) in [
        (
            "email:ada@example.com",
            vec!["auth0|ada", "google-oauth2|123"],
        ),
        (
            "email:ADA@EXAMPLE.COM connection:google-oauth2",
            vec!["google-oauth2|123"],
        ),
        (
            "-connection:google-oauth2 email_verified:true",
            vec!["auth0|ada"],
        ),
        (
            "blocked:true OR login_count:<0",
            vec!["auth0|bob", "auth0|nobody"],
        ),
        ("login_count:>3", vec!["auth0|bob2"]),
        (
            "login_count:>=3 -is_social:true",
            vec!["auth0|ada", "auth0|bob2"],
        ),
        ("login_count:9007199254740993", vec!["auth0|bob2"]),
        (
            "last_login:>2024-03-01T10:05:00.007Z",
            vec!["google-oauth2|123"],
        ),
        (
            "last_login:<=2024-03-01T10:05:00.007Z",
            vec!["auth0|ada", "auth0|bob2"],
        ),
        (
            "created_at:<2024-03-02",
            vec![
                "auth0|ada",
                "auth0|bob",
                "auth0|bob2",
                "auth0|nobody",
                "auth0|émile",
                "google-oauth2|123",
            ],
        ),
        ("_exists_:linked_to", vec!["auth0|émile"]),
        ("-_exists_:email", vec!["auth0|nobody"]),
        ("username:bob", vec!["auth0|bob2"]),
        ("username:Bob", vec!["auth0|bob"]),
        (
            "name:\"Ada Lovelace\"",
            vec!["auth0|ada", "google-oauth2|123"],
        ),
        ("\"Ada L\"", vec!["auth0|ada", "google-oauth2|123"]),
        ("Lovelace", vec!["auth0|ada", "google-oauth2|123"]),
        // Names match by ASCII folding, usernames as written.
        ("lovelace", vec!["auth0|ada", "google-oauth2|123"]),
        ("mile", vec!["auth0|bob2", "auth0|émile"]),
        ("Mile", vec!["auth0|bob2", "auth0|émile"]),
        // É is not é in a name (ASCII folding); emails are lowercased by Unicode.
        ("émile", vec!["auth0|émile"]),
        ("ÉMILE", vec!["auth0|bob2", "auth0|émile"]),
        ("BOB", vec!["auth0|bob"]),
        ("example.org", vec!["auth0|bob2"]),
        ("given_name:\"\"", vec!["auth0|émile"]),
        ("username:>b username:<c", vec!["auth0|bob2"]),
        ("username:>z", vec!["auth0|émile"]),
        ("name:<a", vec![]),
        ("name:<B", vec!["auth0|ada", "google-oauth2|123"]),
        (
            "locale:fr OR locale:en-GB OR blocked:true",
            vec!["auth0|ada", "auth0|bob", "auth0|émile"],
        ),
        ("email_verified:true AND is_social:false", vec!["auth0|ada"]),
    ] {
        let page = ok(
            db.users
                .list(T1, &ListParams::default().with_q(q).with_totals())
                .await,
            q,
        );
        assert_eq!(keys(&page.items), want, "q `{q}`");
        assert_eq!(page.total, Some(want.len() as u64), "q `{q}`: total");
    }
}

/// Invalid emails are rejected by create, update and upsert, writing nothing.
pub async fn users_invalid_email_writes_nothing(db: &DataAdapters) {
    tenant(db, T1).await;
    let user = created(&*db.users, T1, base("auth0|x")).await;
    for email in [
        "",
        "plain",
        "@example.com",
        "a@b",
        "a@.com",
        "a@com.",
        "a b@c.io",
        "a@b@c.io",
        "a@x.io\n",
    ] {
        let what = format!("email {email:?}");
        expect_invalid(
            db.users
                .create(
                    T1,
                    UserInsert {
                        email: Some(email.into()),
                        ..base("auth0|y")
                    },
                )
                .await,
            "email",
            &format!("create with {what}"),
        );
        let patch = UserPatch {
            email: Some(Some(email.into())),
            ..Default::default()
        };
        expect_invalid(
            db.users.update(T1, "auth0|x", patch).await,
            "email",
            &format!("update with {what}"),
        );
        let record = User {
            email: Some(email.into()),
            ..user.clone()
        };
        expect_invalid(
            db.users.upsert(T1, record).await,
            "email",
            &format!("upsert with {what}"),
        );
    }
    assert_records(
        &all_in(&*db.users, T1).await,
        &[user],
        "users after rejected emails",
    );
}

/// User ids must have the form `provider|id`.
pub async fn users_invalid_user_id_writes_nothing(db: &DataAdapters) {
    tenant(db, T1).await;
    for id in ["nopipe", "|x", "auth0|", "auth0|a b", "", "auth0|tab\t"] {
        let what = format!("user_id {id:?}");
        let insert = UserInsert {
            provider: Some("auth0".into()),
            ..base(id)
        };
        expect_invalid(
            db.users.create(T1, insert).await,
            "user_id",
            &format!("create with {what}"),
        );
        let record = User {
            user_id: id.into(),
            ..expected::<User>(&base("auth0|ok"))
        };
        expect_invalid(
            db.users.upsert(T1, record).await,
            "user_id",
            &format!("upsert with {what}"),
        );
    }
    assert!(
        all_in(&*db.users, T1).await.is_empty(),
        "a rejected user was written"
    );
}
