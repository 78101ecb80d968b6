//! `backfill --prune` and `verify --repair` through the binary, on every
//! backend pair the other binary tests cover: a target with extra records
//! of every entity (and a whole extra tenant), a changed record and a
//! missing one. Each test gets fresh databases (a `skipped:` line when a
//! server is missing, a failure with SWITCHYARD_REQUIRE_DATABASES=1).

mod common;

use adapter_interfaces::{
    Application, Code, Connection, DataAdapters, EntityStore, ListParams, Log, Password, Session,
    TenantInsert, User,
};
use common::*;
use switchyard_cli::entity::Entity;
use switchyard_cli::store::Store;

fn block_on<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(future)
}

/// The first record of `R` in `tenant` of `db`.
async fn first<R: Entity>(db: &DataAdapters, tenant: &str) -> R {
    let page = R::store(db)
        .list(tenant, &ListParams::default().with_per_page(1))
        .await
        .expect("list");
    page.items.into_iter().next().expect("a record")
}

/// What the target was given beyond the source.
struct Planted {
    /// Records only the target has, the extra tenant counted once.
    extras: u64,
}

/// Writes into `target` (through the library, as another tool would): an
/// extra tenant, one extra record of every entity in a tenant both have, a
/// changed user and a removed session.
fn plant(target: &str) -> Planted {
    block_on(async {
        let url = switchyard_cli::commands::parse(target).expect("url");
        let store = Store::connect(&url, true).await.expect("connect");
        let db = store.adapters();
        let tenants = db
            .tenants
            .list(&ListParams::default())
            .await
            .expect("tenants");
        let tenant = tenants.items[0].id.clone();
        db.tenants
            .create(TenantInsert {
                friendly_name: "Only on the target".into(),
                ..Default::default()
            })
            .await
            .expect("extra tenant");
        let mut user: User = first(&db, &tenant).await;
        let mut changed = user.clone();
        changed.login_count += 5;
        db.users.upsert(&tenant, changed).await.expect("change");
        user.user_id = "auth0|only-on-target".into();
        user.email = Some("only-on-target@example.com".into());
        user.username = None;
        user.phone_number = None;
        db.users.upsert(&tenant, user).await.expect("extra user");
        let mut app: Application = first(&db, &tenant).await;
        app.client_id = "only-on-target-app".into();
        db.applications.upsert(&tenant, app).await.expect("app");
        let mut connection: Connection = first(&db, &tenant).await;
        connection.id = "con_only_on_target".into();
        connection.name = "only-on-target".into();
        db.connections
            .upsert(&tenant, connection)
            .await
            .expect("connection");
        let session: Session = first(&db, &tenant).await;
        db.sessions
            .remove(&tenant, &session.id)
            .await
            .expect("remove");
        let mut extra_session = session;
        extra_session.id = "only-on-target-session".into();
        db.sessions
            .upsert(&tenant, extra_session)
            .await
            .expect("session");
        let mut code: Code = first(&db, &tenant).await;
        code.code_id = "only-on-target-code-secret".into();
        db.codes.upsert(&tenant, code).await.expect("code");
        let mut password: Password = first(&db, &tenant).await;
        password.id = "only-on-target-password".into();
        password.is_current = false;
        db.passwords
            .upsert(&tenant, password)
            .await
            .expect("password");
        let mut log: Log = first(&db, &tenant).await;
        log.log_id = "only-on-target-log".into();
        db.logs.upsert(&tenant, log).await.expect("log");
        Planted { extras: 8 }
    })
}

fn totals(report: &serde_json::Value, field: &str) -> u64 {
    report["entities"]
        .as_array()
        .expect("entities")
        .iter()
        .map(|e| e[field].as_u64().unwrap_or(0))
        .sum()
}

fn backfill_count(report: &serde_json::Value, field: &str) -> u64 {
    report["entities"]
        .as_array()
        .expect("entities")
        .iter()
        .map(|e| e["counts"][field].as_u64().unwrap_or(0))
        .sum()
}

/// Seeds `source`, copies it to `target`, plants differences, then prunes
/// and repairs them through the binary.
fn prune_and_repair(dir: &std::path::Path, source: &str, target: &str) {
    run_ok(dir, &["migrate", "--target", source]);
    seed(dir, source, 2, 25, &["--seed", "4"]);
    run_ok(dir, &between("backfill", source, target, &[]));

    // Prune: a dry run names what would go and removes nothing.
    let planted = plant(target);
    let dry = json(&run_ok(
        dir,
        &between(
            "backfill",
            source,
            target,
            &["--prune", "--dry-run", "--json"],
        ),
    ));
    assert_eq!(backfill_count(&dry, "removed"), planted.extras, "{dry}");
    let before = json(&run(dir, &between("verify", source, target, &["--json"])));
    assert_eq!(before["identical"], false);
    assert_eq!(
        totals(&before, "extra_in_target"),
        planted.extras,
        "{before}"
    );
    let pruned = json(&run_ok(
        dir,
        &between("backfill", source, target, &["--prune", "--json"]),
    ));
    assert_eq!(
        backfill_count(&pruned, "removed"),
        planted.extras,
        "{pruned}"
    );
    // The prune removed every extra; the same pass copied the changed user
    // and the removed session again.
    let after = run(dir, &between("verify", source, target, &["--json"]));
    assert_eq!(after.status.code(), Some(0), "{}", stdout(&after));
    assert_eq!(json(&after)["identical"], true);
    // Code ids are bearer tokens: shown as a prefix only.
    assert!(!stdout(&run(dir, &between("verify", source, target, &[]))).contains("secret"));
}

/// Copies `source` to a fresh `target`, plants differences, and lets verify
/// repair them.
fn repair(dir: &std::path::Path, source: &str, target: &str) {
    run_ok(dir, &between("backfill", source, target, &[]));
    plant(target);
    let plain = run(dir, &between("verify", source, target, &["--json"]));
    assert_eq!(plain.status.code(), Some(1));
    // The same differences again: a plain verify wrote nothing.
    let again = run(dir, &between("verify", source, target, &["--json"]));
    assert_eq!(json(&again)["entities"], json(&plain)["entities"]);
    let repaired = run(
        dir,
        &between("verify", source, target, &["--repair", "--json"]),
    );
    assert_eq!(repaired.status.code(), Some(0), "{}", stdout(&repaired));
    let repaired = json(&repaired);
    assert_eq!(repaired["identical"], true, "{repaired}");
    // Eight extras (the tenant once), the changed user, the missing session.
    assert_eq!(totals(&repaired, "repaired"), 10, "{repaired}");
    run_ok(dir, &between("verify", source, target, &[]));
}

#[test]
fn prune_and_repair_between_sqlite_files_of_every_backend() {
    let dir = temp_dir();
    let all = backends();
    for (i, name) in all.iter().enumerate() {
        let source = sqlite(name, dir.path(), &format!("source-{i}.db"));
        let target = sqlite(backend(i + 1), dir.path(), &format!("target-{i}.db"));
        prune_and_repair(dir.path(), &source, &target);
        let second = sqlite(backend(i + 2), dir.path(), &format!("repair-{i}.db"));
        repair(dir.path(), &source, &second);
    }
}

#[test]
fn prune_and_repair_postgres_to_mariadb_and_back() {
    let (Some(pg), Some(my), Some(pg2), Some(my2)) = (postgres(), mysql(), postgres(), mysql())
    else {
        return;
    };
    let dir = temp_dir();
    let (source, target) = (store_url(backend(0), &pg), store_url(backend(1), &my));
    prune_and_repair(dir.path(), &source, &target);
    repair(dir.path(), &source, &store_url(backend(2), &my2));
    // And MariaDB as the source, PostgreSQL as the target.
    repair(dir.path(), &target, &store_url(backend(1), &pg2));
}
