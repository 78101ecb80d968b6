//! Concurrent writers: many writes of one tenant at once, as parallel
//! replication relays and a fleet of app instances make them.
//!
//! Every write is a spawned task, released together by a barrier so that the
//! runtime's workers (and the adapter's pool) really run them side by side.
//! A write may fail only for a reason the caller could act on (none here):
//! a deadlock, a lock wait or a serialization failure is the adapter's to
//! avoid or retry. Afterwards every record must read back exactly as one of
//! the versions written for its key.

use std::collections::HashMap;
use std::sync::Arc;

use adapter_interfaces::{
    Code, CodeInsert, CodeType, DataAdapters, Log, LogInsert, Password, PasswordAlgorithm,
    PasswordInsert, Record, Result, Session, SessionInsert, Timestamp, User, UserInsert, UserPatch,
};
use futures::future::BoxFuture;
use serde_json::json;

use super::support::*;

/// Concurrent writes of the first check: the figure of the issue.
const WRITERS: usize = 200;

/// The users that own the sessions and passwords of the children check.
const OWNERS: usize = 4;

/// One write, ready to be spawned.
type Write = BoxFuture<'static, Result<()>>;

/// Runs every write in a task of its own, all released at once; returns the
/// outcomes in the order of `writes`.
async fn race(writes: Vec<Write>) -> Vec<Result<()>> {
    let start = Arc::new(tokio::sync::Barrier::new(writes.len()));
    let tasks: Vec<_> = writes
        .into_iter()
        .map(|write| {
            let start = Arc::clone(&start);
            tokio::spawn(async move {
                start.wait().await;
                write.await
            })
        })
        .collect();
    let mut outcomes = Vec::with_capacity(tasks.len());
    for task in tasks {
        outcomes.push(task.await.expect("a concurrent writer panicked"));
    }
    outcomes
}

/// Panics unless every write succeeded, with the count of failures and the
/// first few errors.
#[track_caller]
fn assert_all_succeeded(outcomes: &[Result<()>], what: &str) {
    let failures: Vec<String> = outcomes
        .iter()
        .filter_map(|o| o.as_ref().err())
        .map(|e| format!("{e:?}"))
        .collect();
    assert!(
        failures.is_empty(),
        "{what}: {} of {} concurrent writes failed; first errors: {:#?}",
        failures.len(),
        outcomes.len(),
        &failures[..failures.len().min(3)]
    );
}

/// Every version written, by key.
struct Versions<R>(HashMap<String, Vec<R>>);

impl<R: Record> Versions<R> {
    fn new() -> Self {
        Self(HashMap::new())
    }

    /// Notes `record` as written and returns it.
    fn wrote(&mut self, record: R) -> R {
        self.0
            .entry(record.key().to_owned())
            .or_default()
            .push(record.clone());
        record
    }

    /// Panics unless `stored` holds exactly one record per written key, each
    /// one of the versions written for it.
    #[track_caller]
    fn assert_stored(&self, stored: &[R], what: &str) {
        let mut seen: Vec<&str> = stored.iter().map(Record::key).collect();
        seen.sort_unstable();
        let mut written: Vec<&str> = self.0.keys().map(String::as_str).collect();
        written.sort_unstable();
        assert_eq!(
            seen, written,
            "{what}: the stored keys are not the written ones"
        );
        for record in stored {
            assert!(
                self.0[record.key()].contains(record),
                "{what}: {} reads back as no version written for it: {record:?}",
                record.key()
            );
        }
    }
}

fn record<R: Record>(insert: R::Insert) -> R {
    ok(R::from_insert(insert, at(0)), "building a record")
}

fn a_user(id: &str, version: usize) -> User {
    record(UserInsert {
        user_id: Some(id.to_owned()),
        email: Some(format!("{}-v{version}@example.com", id.replace('|', "-"))),
        username: Some(format!("{}-v{version}", id.replace('|', "-"))),
        name: Some(format!("{id} version {version}")),
        connection: "Username-Password-Authentication".into(),
        login_count: i64::try_from(version).unwrap_or(0),
        app_metadata: obj(json!({ "version": version })),
        created_at: Some(at(0)),
        updated_at: Some(at(i64::try_from(version).unwrap_or(0))),
        ..Default::default()
    })
}

fn a_session(id: &str, user: &str, version: usize) -> Session {
    record(SessionInsert {
        id: Some(id.to_owned()),
        user_id: user.to_owned(),
        login_session_id: Some(format!("login-{version}")),
        clients: vec![format!("client-{version}")],
        device: obj(json!({ "version": version })),
        expires_at: Some(at(60)),
        created_at: Some(at(0)),
        updated_at: Some(at(i64::try_from(version).unwrap_or(0))),
        ..Default::default()
    })
}

fn a_password(id: &str, user: &str, current: bool, minute: i64) -> Password {
    record(PasswordInsert {
        id: Some(id.to_owned()),
        is_current: current,
        created_at: Some(at(minute)),
        updated_at: Some(at(minute)),
        ..PasswordInsert::new(
            user,
            format!("$2b$10${id}-{minute}"),
            PasswordAlgorithm::Bcrypt,
        )
    })
}

fn a_code(id: &str, user: &str, version: usize) -> Code {
    record(CodeInsert {
        code_id: Some(id.to_owned()),
        user_id: Some(user.to_owned()),
        state: Some(format!("state-{version}")),
        created_at: Some(at(0)),
        ..CodeInsert::new(CodeType::Otp, at(60))
    })
}

fn a_log(id: &str, user: &str, version: usize) -> Log {
    record(LogInsert {
        log_id: Some(id.to_owned()),
        log_type: "s".into(),
        date: Some(at(i64::try_from(version).unwrap_or(0))),
        user_id: Some(user.to_owned()),
        description: Some(format!("version {version}")),
        ..Default::default()
    })
}

fn upsert_user(db: &DataAdapters, user: User) -> Write {
    let users = Arc::clone(&db.users);
    Box::pin(async move { users.upsert(T1, user).await })
}

fn upsert_users(db: &DataAdapters, batch: Vec<User>) -> Write {
    let users = Arc::clone(&db.users);
    Box::pin(async move { users.upsert_many(T1, batch).await })
}

fn upsert_session(db: &DataAdapters, session: Session) -> Write {
    let sessions = Arc::clone(&db.sessions);
    Box::pin(async move { sessions.upsert(T1, session).await })
}

fn upsert_sessions(db: &DataAdapters, batch: Vec<Session>) -> Write {
    let sessions = Arc::clone(&db.sessions);
    Box::pin(async move { sessions.upsert_many(T1, batch).await })
}

fn upsert_password(db: &DataAdapters, password: Password) -> Write {
    let passwords = Arc::clone(&db.passwords);
    Box::pin(async move { passwords.upsert(T1, password).await })
}

fn upsert_code(db: &DataAdapters, code: Code) -> Write {
    let codes = Arc::clone(&db.codes);
    Box::pin(async move { codes.upsert(T1, code).await })
}

fn upsert_log(db: &DataAdapters, log: Log) -> Write {
    let logs = Arc::clone(&db.logs);
    Box::pin(async move { logs.upsert(T1, log).await })
}

/// 200 concurrent upserts of new users in one tenant all succeed and read
/// back exactly; then 200 concurrent writers replace them, one user each or
/// in overlapping `upsert_many` batches mixed with new users, and every user
/// is one of the versions written for it.
pub async fn concurrency_upserts_of_new_users(db: &DataAdapters) {
    tenant(db, T1).await;
    let mut versions = Versions::new();
    let id = |i: usize| format!("auth0|concurrent-{i:03}");
    let writes = (0..WRITERS)
        .map(|i| upsert_user(db, versions.wrote(a_user(&id(i), 0))))
        .collect();
    assert_all_succeeded(&race(writes).await, "upserts of new users");
    let stored = all_in(&*db.users, T1).await;
    versions.assert_stored(&stored, "after upserts of new users");
    assert_records(
        &stored,
        &by_key(versions.0.values().flatten().cloned().collect()),
        "after upserts of new users",
    );

    // Replacements of existing users and more new ones, one at a time and in
    // batches that overlap each other in opposite orders.
    let mut writes = Vec::new();
    for i in 0..WRITERS {
        writes.push(if i % 4 == 3 {
            let mut batch: Vec<User> = (0..4)
                .map(|k| versions.wrote(a_user(&id((i + k * 7) % WRITERS), i + 1)))
                .collect();
            batch.push(versions.wrote(a_user(&id(WRITERS + i), i + 1)));
            if i % 8 == 7 {
                batch.reverse();
            }
            upsert_users(db, batch)
        } else {
            upsert_user(db, versions.wrote(a_user(&id(i), i + 1)))
        });
    }
    assert_all_succeeded(&race(writes).await, "replacing upserts and batches");
    versions.assert_stored(&all_in(&*db.users, T1).await, "after replacing upserts");
}

/// Concurrent creates of distinct users, then concurrent updates of them
/// and creates of their sessions, all succeed and read back as returned.
pub async fn concurrency_creates_and_updates(db: &DataAdapters) {
    tenant(db, T1).await;
    let count = WRITERS / 2;
    let id = |i: usize| format!("auth0|created-{i:03}");
    let writes = (0..count)
        .map(|i| {
            let users = Arc::clone(&db.users);
            let insert = UserInsert {
                user_id: Some(id(i)),
                email: Some(format!("created-{i}@example.com")),
                connection: "Username-Password-Authentication".into(),
                ..Default::default()
            };
            Box::pin(async move { users.create(T1, insert).await.map(drop) }) as Write
        })
        .collect();
    assert_all_succeeded(&race(writes).await, "creates of distinct users");

    let mut writes: Vec<Write> = Vec::new();
    for i in 0..count {
        let users = Arc::clone(&db.users);
        let patch = UserPatch {
            name: Some(Some(format!("updated {i}"))),
            login_count: Some(i64::try_from(i).unwrap_or(0)),
            ..Default::default()
        };
        let key = id(i);
        writes.push(Box::pin(async move {
            users.update(T1, &key, patch).await.map(drop)
        }));
        let sessions = Arc::clone(&db.sessions);
        let insert = SessionInsert {
            id: Some(format!("created-session-{i:03}")),
            user_id: id(i % OWNERS),
            ..Default::default()
        };
        writes.push(Box::pin(async move {
            sessions.create(T1, insert).await.map(drop)
        }));
    }
    assert_all_succeeded(
        &race(writes).await,
        "updates of distinct users and creates of sessions",
    );
    let users = all_in(&*db.users, T1).await;
    assert_eq!(users.len(), count, "users after concurrent creates");
    for (i, user) in users.iter().enumerate() {
        assert_eq!(
            (user.name.as_deref(), user.login_count),
            (
                Some(format!("updated {i}").as_str()),
                i64::try_from(i).unwrap_or(0)
            ),
            "{} after a concurrent update",
            user.user_id
        );
    }
    assert_eq!(
        all_in(&*db.sessions, T1).await.len(),
        count,
        "sessions after concurrent creates"
    );
}

/// Concurrent upserts of the children of a few users (sessions, one at a
/// time and in batches, passwords that demote the user's other current
/// one, codes, logs) mixed with upserts of the users themselves all succeed;
/// every record is one of its written versions and each user ends with
/// exactly one current password, one it was given.
pub async fn concurrency_upserts_of_children(db: &DataAdapters) {
    tenant(db, T1).await;
    let owner = |i: usize| format!("auth0|owner-{}", i % OWNERS);
    let mut users = Versions::new();
    for i in 0..OWNERS {
        let user = users.wrote(a_user(&owner(i), 0));
        ok(db.users.upsert(T1, user).await, "upsert of an owner");
    }
    let mut sessions = Versions::new();
    let mut passwords: Vec<Password> = Vec::new();
    let mut codes = Versions::new();
    let mut logs = Versions::new();
    let mut writes = Vec::new();
    for i in 0..WRITERS {
        let user = owner(i);
        writes.push(match i % 10 {
            0 | 1 => upsert_session(
                db,
                sessions.wrote(a_session(&format!("s-{i:03}"), &user, i)),
            ),
            2 => {
                // A batch of new sessions and of sessions other writers write too.
                let batch = (0..3)
                    .map(|k| {
                        let key = format!("s-{:03}", (i + k * 10) % WRITERS);
                        sessions.wrote(a_session(&key, &owner(i + k), i))
                    })
                    .collect();
                upsert_sessions(db, batch)
            }
            3..=5 => {
                let password = a_password(
                    &format!("pw-{i:03}"),
                    &user,
                    true,
                    i64::try_from(i).unwrap_or(0),
                );
                passwords.push(password.clone());
                upsert_password(db, password)
            }
            6 => {
                let password = a_password(&format!("pw-{i:03}"), &user, false, 0);
                passwords.push(password.clone());
                upsert_password(db, password)
            }
            7 => upsert_code(db, codes.wrote(a_code(&format!("code-{i:03}"), &user, i))),
            8 => upsert_log(db, logs.wrote(a_log(&format!("log-{i:03}"), &user, i))),
            _ => upsert_user(db, users.wrote(a_user(&user, i))),
        });
    }
    assert_all_succeeded(&race(writes).await, "upserts of children");
    users.assert_stored(&all_in(&*db.users, T1).await, "users");
    sessions.assert_stored(&all_in(&*db.sessions, T1).await, "sessions");
    codes.assert_stored(&all_in(&*db.codes, T1).await, "codes");
    logs.assert_stored(&all_in(&*db.logs, T1).await, "logs");

    let stored = all_in(&*db.passwords, T1).await;
    assert_eq!(
        keys(&stored),
        keys(&by_key(passwords.clone())),
        "passwords: the stored keys are not the written ones"
    );
    for i in 0..OWNERS {
        let user = owner(i);
        let current_times: Vec<Timestamp> = passwords
            .iter()
            .filter(|p| p.user_id == user && p.is_current)
            .map(|p| p.updated_at)
            .collect();
        let mine: Vec<&Password> = stored.iter().filter(|p| p.user_id == user).collect();
        let current: Vec<&Password> = mine.iter().copied().filter(|p| p.is_current).collect();
        assert_eq!(
            current.len(),
            1,
            "{user}: {} current passwords after concurrent rotations",
            current.len()
        );
        for p in &mine {
            let written = passwords
                .iter()
                .find(|w| w.id == p.id)
                .expect("a stored password was written");
            // As written, or demoted by another current one (which gave it its time).
            let demoted = !p.is_current && current_times.contains(&p.updated_at);
            let as_written = Password {
                is_current: p.is_current,
                updated_at: p.updated_at,
                ..written.clone()
            } == **p;
            assert!(
                as_written && (*p == written || demoted),
                "{}: reads back as neither its written version nor a demoted one: {p:?}",
                p.id
            );
        }
        assert_eq!(
            current_password(db, T1, &user).await.as_ref(),
            current.first().copied(),
            "{user}: get_current"
        );
    }
}

/// Writers racing on the same keys (a new key, then an existing one; users,
/// sessions and current passwords; single upserts and batches in opposite
/// orders) all succeed, and each key ends as one of the versions written.
pub async fn concurrency_upserts_of_one_key(db: &DataAdapters) {
    tenant(db, T1).await;
    user(db, T1, PARENT).await;
    const RACERS: usize = 8;
    for round in 0..6 {
        // Rounds 0..3 race on new keys, the others on the keys of the round before.
        let key = round % 3;
        let mut users = Versions::new();
        let mut sessions = Versions::new();
        let mut passwords = Versions::new();
        let mut writes = Vec::new();
        for racer in 0..RACERS {
            let version = round * RACERS + racer;
            let user_key = format!("auth0|same-{key}");
            writes.push(upsert_user(db, users.wrote(a_user(&user_key, version))));
            let session_key = format!("same-session-{key}");
            writes.push(upsert_session(
                db,
                sessions.wrote(a_session(&session_key, PARENT, version)),
            ));
            let minute = i64::try_from(version).unwrap_or(0);
            let password = a_password(&format!("same-pw-{key}"), PARENT, true, minute);
            writes.push(upsert_password(db, passwords.wrote(password)));
            // Two batches over the same three keys, in opposite orders.
            let mut batch: Vec<Session> = (0..3)
                .map(|k| sessions.wrote(a_session(&format!("same-batch-{k}"), PARENT, version)))
                .collect();
            if racer % 2 == 1 {
                batch.reverse();
            }
            writes.push(upsert_sessions(db, batch));
        }
        assert_all_succeeded(
            &race(writes).await,
            &format!("round {round}: same-key upserts"),
        );
        let what = format!("round {round}");
        let stored_users: Vec<User> = all_in(&*db.users, T1)
            .await
            .into_iter()
            .filter(|u| users.0.contains_key(&u.user_id))
            .collect();
        users.assert_stored(&stored_users, &what);
        let stored_sessions: Vec<Session> = all_in(&*db.sessions, T1)
            .await
            .into_iter()
            .filter(|s| sessions.0.contains_key(&s.id))
            .collect();
        sessions.assert_stored(&stored_sessions, &what);
        let stored_passwords: Vec<Password> = all_in(&*db.passwords, T1)
            .await
            .into_iter()
            .filter(|p| passwords.0.contains_key(&p.id))
            .collect();
        passwords.assert_stored(&stored_passwords, &what);
    }
}
