//! Migrations are idempotent, a no-op on a database another backend migrated,
//! and rows another backend wrote read back exactly.

use adapter_interfaces::schema::{self, Dialect};
use adapter_interfaces::{TenantInsert, Timestamp};
use diesel::Connection;
use diesel::connection::SimpleConnection;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_twice_and_over_another_backends_schema() {
    let db = conformance_tests::provision::sqlite_file();
    let path = db.url().trim_start_matches("sqlite://").to_owned();
    // Another backend's tool: the same DDL, its own bookkeeping, and a row written its way.
    {
        let mut other = diesel::SqliteConnection::establish(&path).expect("open");
        for statement in schema::statements(Dialect::Sqlite) {
            other.batch_execute(&statement).expect("ddl");
        }
        other
            .batch_execute(
                "INSERT INTO tenants (id, friendly_name, created_at, updated_at) \
                 VALUES ('other', 'Written elsewhere', '2024-01-02T03:04:05.678Z', '2024-01-02T03:04:05.678Z')",
            )
            .expect("insert");
    }
    let store = adapter_diesel::connect(db.url()).await.expect("connect");
    store
        .migrate()
        .await
        .expect("migrate over another backend's schema");
    store.migrate().await.expect("migrate again");
    assert_eq!(
        store.schema_version().await.expect("version"),
        Some(adapter_interfaces::schema::SCHEMA_VERSION)
    );

    let db_adapters = store.adapters();
    let tenant = db_adapters
        .tenants
        .get("other")
        .await
        .expect("get")
        .expect("row");
    assert_eq!(tenant.friendly_name, "Written elsewhere");
    assert_eq!(
        tenant.created_at,
        "2024-01-02T03:04:05.678Z".parse::<Timestamp>().expect("ts")
    );

    // And what this adapter writes is the canonical text the others read.
    db_adapters
        .tenants
        .create(TenantInsert {
            id: Some("mine".into()),
            friendly_name: "Mine".into(),
            created_at: Some("2025-05-06T07:08:09.010Z".parse().expect("ts")),
            ..Default::default()
        })
        .await
        .expect("create");
    let mut raw = diesel::SqliteConnection::establish(&path).expect("open");
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        created_at: String,
    }
    let rows: Vec<Row> = diesel::RunQueryDsl::load(
        diesel::sql_query("SELECT created_at FROM tenants WHERE id = 'mine'"),
        &mut raw,
    )
    .expect("select");
    assert_eq!(rows[0].created_at, "2025-05-06T07:08:09.010Z");
    let applied: i64 = diesel::RunQueryDsl::get_result(
        diesel::dsl::sql::<diesel::sql_types::BigInt>(
            "SELECT COUNT(*) FROM __diesel_schema_migrations",
        ),
        &mut raw,
    )
    .expect("bookkeeping");
    assert_eq!(
        applied,
        adapter_interfaces::schema::SCHEMA_VERSION,
        "each schema version is recorded once"
    );
}

#[tokio::test]
async fn schema_version_is_none_before_migrating() {
    let store = adapter_diesel::connect("sqlite::memory:")
        .await
        .expect("connect");
    assert_eq!(store.schema_version().await.expect("version"), None);
}

/// Migrating twice on a server database, and reading the version back.
#[cfg(any(feature = "postgres", feature = "mysql"))]
async fn migrate_twice(db: conformance_tests::provision::TestDatabase) {
    let store = adapter_diesel::connect(db.url()).await.expect("connect");
    assert_eq!(store.schema_version().await.expect("version"), None);
    store.migrate().await.expect("migrate");
    store.migrate().await.expect("migrate again");
    assert_eq!(
        store.schema_version().await.expect("version"),
        Some(adapter_interfaces::schema::SCHEMA_VERSION)
    );
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_migrates_idempotently() {
    if let Some(db) = conformance_tests::provision::postgres().await {
        migrate_twice(db).await;
    }
}

#[cfg(feature = "mysql")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_migrates_idempotently() {
    if let Some(db) = conformance_tests::provision::mysql().await {
        migrate_twice(db).await;
    }
}
