//! Helpers shared by the passthrough tests: a full dump of a store, a
//! record-by-record comparison, and a workload that touches every method.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::time::Duration;

use adapter_interfaces::{
    ApplicationInsert, ApplicationPatch, CodeInsert, CodeType, ConnectionInsert, DataAdapters,
    ListParams, LogInsert, Page, PasswordAlgorithm, PasswordInsert, Record, Secret, SessionInsert,
    SessionPatch, TenantInsert, TenantPatch, Timestamp, UserInsert, UserPatch,
};
use passthrough::{Passthrough, ReplicationOptions, RetryPolicy};

/// A password hash and a client secret the tests look for in reports.
pub const HASH: &str = "$2b$10$SECRET-HASH-never-in-reports";
pub const CLIENT_SECRET: &str = "client-secret-never-in-reports";

/// Fast retries, so failure tests do not sleep long.
pub fn quick_retry(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(5),
    }
}

/// Short leases, polls and timeouts, so the suite stays fast (a copy may
/// take up to half the lease: the tests' slow stores stay well below it).
pub fn quick_options() -> ReplicationOptions {
    ReplicationOptions {
        lease: Duration::from_secs(2),
        relay_poll: Duration::from_millis(5),
        flush_timeout: Duration::from_secs(10),
        follow_interval: Duration::from_millis(20),
        switch_timeout: Duration::from_secs(5),
        ..ReplicationOptions::default()
    }
}

/// Flushes, failing the test if anything is still owed (dead letters aside).
pub async fn flush(pt: &Passthrough) {
    if let Err(error) = pt.flush().await {
        panic!("flush: {error}");
    }
}

/// Waits (at most 5 s) until the passthrough has compared `at_least` reads:
/// compared reads run in the background and `flush` does not wait for them.
pub async fn compared(pt: &Passthrough, at_least: u64) -> u64 {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let done = pt.status().await.compared_reads;
        if done >= at_least || std::time::Instant::now() > deadline {
            return done;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A tenant insert with this id.
pub fn tenant(id: &str) -> TenantInsert {
    TenantInsert {
        id: Some(id.into()),
        friendly_name: id.into(),
        ..Default::default()
    }
}

async fn all<R, F, Fut>(mut page: F) -> Vec<R>
where
    F: FnMut(ListParams) -> Fut,
    Fut: std::future::Future<Output = adapter_interfaces::Result<Page<R>>>,
{
    let mut params = ListParams::default().with_per_page(1000);
    let mut out = Vec::new();
    loop {
        let p = page(params.clone()).await.unwrap();
        out.extend(p.items);
        match p.next {
            Some(next) => params = ListParams::default().with_per_page(1000).with_from(next),
            None => return out,
        }
    }
}

/// Every record of a store, as `entity/tenant/key → JSON`.
pub async fn dump(db: &DataAdapters) -> BTreeMap<String, serde_json::Value> {
    let mut out = BTreeMap::new();
    fn put<R: Record>(
        out: &mut BTreeMap<String, serde_json::Value>,
        tenant: &str,
        records: Vec<R>,
    ) {
        for r in records {
            out.insert(
                format!("{}/{tenant}/{}", R::KIND.table(), r.key()),
                serde_json::to_value(&r).unwrap(),
            );
        }
    }
    let tenants = all(|p| async move { db.tenants.list(&p).await }).await;
    for tenant in &tenants {
        let t = tenant.id.as_str();
        put(
            &mut out,
            t,
            all(|p| async move { db.users.list(t, &p).await }).await,
        );
        put(
            &mut out,
            t,
            all(|p| async move { db.applications.list(t, &p).await }).await,
        );
        put(
            &mut out,
            t,
            all(|p| async move { db.connections.list(t, &p).await }).await,
        );
        put(
            &mut out,
            t,
            all(|p| async move { db.sessions.list(t, &p).await }).await,
        );
        put(
            &mut out,
            t,
            all(|p| async move { db.codes.list(t, &p).await }).await,
        );
        put(
            &mut out,
            t,
            all(|p| async move { db.passwords.list(t, &p).await }).await,
        );
        put(
            &mut out,
            t,
            all(|p| async move { db.logs.list(t, &p).await }).await,
        );
    }
    put(&mut out, "", tenants);
    out
}

/// Asserts both stores hold exactly the same records, naming the first differences.
pub async fn assert_same(primary: &DataAdapters, secondary: &DataAdapters) {
    let (a, b) = (dump(primary).await, dump(secondary).await);
    let mut problems = Vec::new();
    for (key, value) in &a {
        match b.get(key) {
            None => problems.push(format!("missing on secondary: {key}")),
            Some(other) if other != value => {
                problems.push(format!("differs: {key}: {value} vs {other}"))
            }
            Some(_) => {}
        }
    }
    for key in b.keys().filter(|k| !a.contains_key(*k)) {
        problems.push(format!("only on secondary: {key}"));
    }
    assert!(
        problems.is_empty(),
        "{} differences:\n{}",
        problems.len(),
        problems.join("\n")
    );
    assert!(!a.is_empty(), "the comparison must cover some records");
}

/// Runs every state-changing method of every entity once (or more) through `db`.
/// Returns the number of records the workload leaves.
pub async fn workload(db: &DataAdapters, tenant_id: &str) {
    let tenant = db
        .tenants
        .create(TenantInsert {
            id: Some(tenant_id.into()),
            friendly_name: "Acme".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    db.tenants
        .update(
            &tenant.id,
            TenantPatch {
                sender_name: Some(Some("Acme Support".into())),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let t = tenant.id.as_str();
    let ada = db
        .users
        .create(
            t,
            UserInsert {
                email: Some("Ada@Example.com".into()),
                connection: "db".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    db.users
        .update(
            t,
            &ada.user_id,
            UserPatch {
                name: Some(Some("Ada".into())),
                login_count: Some(3),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let bob = db
        .users
        .create(
            t,
            UserInsert {
                email: Some("bob@example.com".into()),
                connection: "db".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let app = db
        .applications
        .create(
            t,
            ApplicationInsert {
                name: "web".into(),
                client_secret: Some(Secret::new(CLIENT_SECRET)),
                callbacks: vec!["https://b.example/cb".into(), "https://a.example/cb".into()],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    db.applications
        .update(
            t,
            &app.client_id,
            ApplicationPatch {
                name: Some("web app".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    db.connections
        .create(
            t,
            ConnectionInsert {
                name: "db".into(),
                strategy: "auth0".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let session = db
        .sessions
        .create(
            t,
            SessionInsert {
                user_id: ada.user_id.clone(),
                clients: vec![app.client_id.clone()],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    db.sessions
        .update(
            t,
            &session.id,
            SessionPatch {
                revoked_at: Some(Some(Timestamp::now())),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let gone = db
        .sessions
        .create(
            t,
            SessionInsert {
                user_id: ada.user_id.clone(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(db.sessions.remove(t, &gone.id).await.unwrap());
    // Password rotation: the second current password demotes the first.
    db.passwords
        .create(
            t,
            PasswordInsert::new(&ada.user_id, HASH, PasswordAlgorithm::Bcrypt),
        )
        .await
        .unwrap();
    db.passwords
        .create(
            t,
            PasswordInsert::new(
                &ada.user_id,
                format!("{HASH}-2"),
                PasswordAlgorithm::Argon2id,
            ),
        )
        .await
        .unwrap();
    let bob_pw = db
        .passwords
        .create(
            t,
            PasswordInsert::new(&bob.user_id, HASH, PasswordAlgorithm::Bcrypt),
        )
        .await
        .unwrap();
    assert!(db.passwords.remove(t, &bob_pw.id).await.unwrap());
    // Codes: consume, cleanup, remove.
    let later = Timestamp::now().plus_millis(3_600_000);
    let code = db
        .codes
        .create(t, CodeInsert::new(CodeType::PasswordReset, later))
        .await
        .unwrap();
    assert!(db.codes.consume(t, &code.code_id).await.unwrap().is_some());
    let expired = Timestamp::now().plus_millis(-3_600_000);
    db.codes
        .create(t, CodeInsert::new(CodeType::Otp, expired))
        .await
        .unwrap();
    assert_eq!(db.codes.cleanup(t, Timestamp::now()).await.unwrap(), 1);
    let other = db
        .codes
        .create(t, CodeInsert::new(CodeType::Otp, later))
        .await
        .unwrap();
    assert!(db.codes.remove(t, &other.code_id).await.unwrap());
    db.codes
        .create(t, CodeInsert::new(CodeType::Ticket, later))
        .await
        .unwrap();
    // Logs, and exact copies through upsert / upsert_many.
    let log = db
        .logs
        .create(
            t,
            LogInsert {
                log_type: "s".into(),
                user_id: Some(ada.user_id.clone()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let mut copy = log.clone();
    copy.log_id = format!("{}-copy", log.log_id);
    db.logs.upsert(t, copy).await.unwrap();
    let mut bob_again = db.users.get(t, &bob.user_id).await.unwrap().unwrap();
    bob_again.nickname = Some("bobby".into());
    db.users.upsert_many(t, vec![bob_again]).await.unwrap();
    // A user removal cascades to its sessions and passwords, on every store.
    let carol = db
        .users
        .create(
            t,
            UserInsert {
                email: Some("carol@example.com".into()),
                connection: "db".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    db.sessions
        .create(
            t,
            SessionInsert {
                user_id: carol.user_id.clone(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(db.users.remove(t, &carol.user_id).await.unwrap());
}
