//! The current schema over a database a release before it left: at
//! version 1 (before the replication journal) or version 2 (before the
//! folded name columns). Each backend's own migration tool creates the
//! journal and stage tables (which then work), adds the users' ASCII-folded
//! name columns, back-fills the
//! rows already there with SQL that folds exactly as Rust does
//! (`record::ascii_fold`), and `q` then finds those rows case-insensitively
//! (ASCII only: `Ö` is not `ö`). A second backend's tool then migrates the
//! same database as a no-op (the version is guarded) and reads alike.
//!
//! On SQLite always; on PostgreSQL and MariaDB when their URLs are set
//! (required with `SWITCHYARD_REQUIRE_DATABASES=1`).

use std::time::Duration;

use adapter_interfaces::journal::{Begun, Fence, JournalKey, Subject};
use adapter_interfaces::record::ascii_fold;
use adapter_interfaces::schema::{self, Dialect};
use adapter_interfaces::{DataAdapters, EntityKind, ListParams, UserInsert};
use conformance_tests::provision::{self, TestDatabase};
use sea_orm::{ConnectionTrait, DbBackend, Statement};

/// Users written at version 2, before the folded columns exist: `(user_id,
/// name, given_name, family_name, nickname)`.
const ROWS: &[(&str, &str, &str, &str, &str)] = &[
    ("auth0|oster", "Jöhn ÖSTER", "Jöhn", "ÖSTER", "JÖHNNY"),
    ("auth0|lower", "jöhn öster", "jöhn", "öster", "jöhnny"),
    ("auth0|ada", "Ada LOVELACE", "ADA", "Lovelace", "AdA"),
    (
        "auth0|letters",
        "ABCDEFGHIJKLMNOPQRSTUVWXYZ abcdefghijklmnopqrstuvwxyz ÀÉÎÕÜ ß İ Σς ǅ Ⅻ ＡＢ 0-9 %_",
        "İSTANBUL",
        "ǄǅǆΣ",
        "ＡＢＣ",
    ),
];

/// The backends, by name: connect (without migrating).
async fn connect(backend: &str, url: &str) -> Backend {
    match backend {
        "sqlx" => Backend::Sqlx(adapter_sqlx::connect(url).await.expect("sqlx connects")),
        "seaorm" => Backend::SeaOrm(adapter_seaorm::connect(url).await.expect("seaorm connects")),
        _ => Backend::Diesel(adapter_diesel::connect(url).await.expect("diesel connects")),
    }
}

enum Backend {
    Sqlx(adapter_sqlx::SqlxStore),
    SeaOrm(adapter_seaorm::SeaOrmStore),
    Diesel(adapter_diesel::DieselStore),
}

impl Backend {
    async fn migrate(&self) {
        match self {
            Backend::Sqlx(s) => s.migrate().await.expect("sqlx migrates"),
            Backend::SeaOrm(s) => s.migrate().await.expect("seaorm migrates"),
            Backend::Diesel(s) => s.migrate().await.expect("diesel migrates"),
        }
    }
    async fn version(&self) -> Option<i64> {
        match self {
            Backend::Sqlx(s) => s.schema_version().await.expect("version"),
            Backend::SeaOrm(s) => s.schema_version().await.expect("version"),
            Backend::Diesel(s) => s.schema_version().await.expect("version"),
        }
    }
    fn adapters(&self) -> DataAdapters {
        match self {
            Backend::Sqlx(s) => s.adapters(),
            Backend::SeaOrm(s) => s.adapters(),
            Backend::Diesel(s) => s.adapters(),
        }
    }
}

/// The dialect of a raw connection (MariaDB and MySQL 8 differ).
async fn dialect(raw: &sea_orm::DatabaseConnection) -> Dialect {
    match raw.get_database_backend() {
        DbBackend::Postgres => Dialect::Postgres,
        DbBackend::Sqlite => Dialect::Sqlite,
        _ => {
            let row = raw
                .query_one_raw(Statement::from_string(DbBackend::MySql, "SELECT VERSION()"))
                .await
                .expect("version")
                .expect("a row");
            Dialect::mysql_from_version(&row.try_get_by_index::<String>(0).expect("text"))
        }
    }
}

/// Brings a fresh database to version `from` (as a release before the
/// next version left it) and writes [`ROWS`] into it with SQL.
async fn at_version(raw: &sea_orm::DatabaseConnection, dialect: Dialect, from: i64) {
    for migration in schema::migrations(dialect) {
        if migration.version <= from {
            for statement in &migration.statements {
                raw.execute_unprepared(statement)
                    .await
                    .expect("the DDL of the versions up to `from`");
            }
        }
    }
    let (no, stamp) = match dialect {
        Dialect::Sqlite => ("0", "'2024-01-01T00:00:00.000Z'"),
        Dialect::MariaDb | Dialect::MySql => ("FALSE", "'2024-01-01 00:00:00.000'"),
        Dialect::Postgres => ("FALSE", "'2024-01-01T00:00:00.000Z'"),
    };
    raw.execute_unprepared(&format!(
        "INSERT INTO tenants (id, friendly_name, created_at, updated_at) VALUES ('t', 'T', {stamp}, {stamp})"
    ))
    .await
    .expect("tenant");
    for (id, name, given, family, nickname) in ROWS {
        raw.execute_unprepared(&format!(
            "INSERT INTO users (tenant_id, user_id, email_verified, phone_verified, name, given_name, \
             family_name, nickname, provider, connection, is_social, blocked, login_count, \
             app_metadata, user_metadata, created_at, updated_at) \
             VALUES ('t', '{id}', {no}, {no}, '{name}', '{given}', '{family}', '{nickname}', 'auth0', \
             'db', {no}, {no}, 0, '{{}}', '{{}}', {stamp}, {stamp})"
        ))
        .await
        .expect("a user at the old version");
    }
}

/// Every stored folded column equals Rust's folding of its source column.
async fn folded_as_rust_folds(raw: &sea_orm::DatabaseConnection, what: &str) {
    let sql = "SELECT user_id, name, name_folded, given_name, given_name_folded, \
               family_name, family_name_folded, nickname, nickname_folded FROM users";
    let rows = raw
        .query_all_raw(Statement::from_string(raw.get_database_backend(), sql))
        .await
        .expect("select the folded columns");
    assert!(rows.len() >= ROWS.len(), "{what}: the rows are there");
    for row in rows {
        let id: String = row.try_get_by_index(0).expect("user_id");
        for pair in 0..4 {
            let source: Option<String> = row.try_get_by_index(1 + 2 * pair).expect("source");
            let folded: Option<String> = row.try_get_by_index(2 + 2 * pair).expect("folded");
            assert_eq!(
                folded,
                source.as_deref().map(ascii_fold),
                "{what}: {id}, column pair {pair}"
            );
        }
    }
}

/// What `q` finds in tenant `t`, sorted.
async fn found(db: &DataAdapters, q: &str) -> Vec<String> {
    let page = db
        .users
        .list("t", &ListParams::default().with_q(q).with_per_page(100))
        .await
        .unwrap_or_else(|e| panic!("q `{q}`: {e}"));
    let mut ids: Vec<String> = page.items.into_iter().map(|u| u.user_id).collect();
    ids.sort();
    ids
}

async fn searches(db: &DataAdapters, what: &str) {
    let cases: &[(&str, &[&str])] = &[
        (r#"name:"JöHN ÖSTER""#, &["auth0|oster"]),
        (r#"name:"JÖHN ÖSTER""#, &[]),
        (r#"name:"jöhn öster""#, &["auth0|lower"]),
        ("given_name:JÖHN", &[]),
        ("given_name:jÖhn", &[]),
        ("given_name:JöHN", &["auth0|lower", "auth0|oster"]),
        ("family_name:Öster", &["auth0|oster"]),
        ("family_name:öster", &["auth0|lower"]),
        ("nickname:JÖ*", &["auth0|oster"]),
        ("name:ada*", &["auth0|ada"]),
        ("name:*lovelace", &["auth0|ada"]),
        ("given_name:ada", &["auth0|ada"]),
        ("family_name:LOVELACE", &["auth0|ada"]),
        ("nickname:ada", &["auth0|ada"]),
        ("lovelace", &["auth0|ada"]),
        ("ÖSTER", &["auth0|oster"]),
        ("name:abcdefghijklmnopqrstuvwxyz*", &["auth0|letters"]),
        ("given_name:\"İstanbul\"", &["auth0|letters"]),
        ("given_name:\"istanbul\"", &[]),
    ];
    for (q, want) in cases {
        assert_eq!(found(db, q).await, *want, "{what}: q `{q}`");
    }
}

/// The replication journal and the stage table of an upgraded database
/// work: a key is recorded, owed, claimed and settled; a stage is stored.
async fn journal_works(db: &DataAdapters, what: &str) {
    let journal = &db.journal;
    let key = JournalKey::new(
        "new",
        "t",
        Subject::Record {
            entity: EntityKind::User,
            key: "auth0|ada".into(),
        },
    );
    let fence = Fence {
        scope: "default".into(),
        generation: 0,
        stage: "dual_write".into(),
    };
    let lease = Duration::from_secs(30);
    let begun = journal
        .begin(&fence, std::slice::from_ref(&key), lease)
        .await;
    assert!(
        matches!(begun, Ok(Begun::Recorded(_))),
        "{what}: the journal records: {begun:?}"
    );
    let claims = journal
        .finish("upgrade", std::slice::from_ref(&key), lease)
        .await
        .unwrap_or_else(|e| panic!("{what}: finish: {e}"));
    assert_eq!(claims.len(), 1, "{what}: the writer claims its key");
    let owed: u64 = journal
        .backlog()
        .await
        .unwrap_or_else(|e| panic!("{what}: backlog: {e}"))
        .iter()
        .map(|b| b.pending)
        .sum();
    assert_eq!(owed, 1, "{what}: the key is owed");
    assert!(
        journal.settle(&claims[0]).await.unwrap_or(false),
        "{what}: the copy settles"
    );
    assert!(
        journal
            .set_stage("default", 0, "live", 1)
            .await
            .unwrap_or_else(|e| panic!("{what}: set_stage: {e}")),
        "{what}: a stage is stored"
    );
    assert_eq!(
        journal
            .stage("default")
            .await
            .ok()
            .flatten()
            .map(|s| (s.stage, s.generation)),
        Some(("live".to_owned(), 1)),
        "{what}"
    );
}

/// The upgrade from version `from` by `upgrader`'s tool, then `other`'s over it.
async fn upgrade(db: TestDatabase, from: i64, upgrader: &str, other: &str) {
    let what = format!(
        "{upgrader} upgrades from version {from}, {other} follows ({})",
        db.name()
    );
    let raw = adapter_seaorm::connect(db.url())
        .await
        .expect("raw connection");
    let dialect = dialect(raw.connection()).await;
    at_version(raw.connection(), dialect, from).await;

    let first = connect(upgrader, db.url()).await;
    assert_eq!(
        first.version().await,
        Some(from),
        "{what}: at version {from}"
    );
    first.migrate().await;
    assert_eq!(
        first.version().await,
        Some(schema::SCHEMA_VERSION),
        "{what}"
    );
    if from < 2 {
        journal_works(&first.adapters(), &what).await;
    }
    folded_as_rust_folds(raw.connection(), &format!("{what}: back-filled")).await;
    searches(&first.adapters(), &what).await;

    // Another tool finds version 3 recorded: no column added twice.
    let second = connect(other, db.url()).await;
    second.migrate().await;
    second.migrate().await;
    assert_eq!(
        second.version().await,
        Some(schema::SCHEMA_VERSION),
        "{what}"
    );
    searches(&second.adapters(), &format!("{what}, read by {other}")).await;
    // What it writes carries its folded columns, computed in Rust.
    second
        .adapters()
        .users
        .create(
            "t",
            UserInsert {
                user_id: Some("auth0|new".into()),
                connection: "db".into(),
                name: Some("ÅSA Öberg-SMITH".into()),
                given_name: Some("ÅSA".into()),
                ..Default::default()
            },
        )
        .await
        .expect("create after the upgrade");
    folded_as_rust_folds(raw.connection(), &format!("{what}: written after")).await;
    assert_eq!(
        found(&first.adapters(), "name:*-smith").await,
        vec!["auth0|new".to_owned()],
        "{what}"
    );
}

const PAIRS: [(&str, &str); 3] = [("sqlx", "diesel"), ("seaorm", "sqlx"), ("diesel", "seaorm")];

/// Each database, from each older version, with each pair of tools.
async fn upgrades(db: impl AsyncFn() -> Option<TestDatabase>) {
    for from in [1, 2] {
        for (upgrader, other) in PAIRS {
            let Some(db) = db().await else {
                return;
            };
            upgrade(db, from, upgrader, other).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_upgrades_to_the_current_version() {
    upgrades(async || Some(provision::sqlite_file())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_upgrades_to_the_current_version() {
    upgrades(provision::postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_upgrades_to_the_current_version() {
    upgrades(provision::mysql).await;
}
