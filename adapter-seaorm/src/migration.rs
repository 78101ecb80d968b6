//! The schema, through `sea-orm-migration`.
//!
//! One migration per version of [`adapter_interfaces::schema::migrations`]
//! applies its DDL for the connection's dialect. Every statement is
//! idempotent, or its version guarded (run only while `switchyard_schema`
//! does not record it), so migrating a database that another backend
//! already migrated only records the migrations in SeaORM's own
//! bookkeeping table (`seaql_migrations`).

use adapter_interfaces::schema::{self, Dialect};
use async_trait::async_trait;
use sea_orm::sea_query::{Func, Query};
use sea_orm::{ConnectionTrait, DbBackend, DbErr};
use sea_orm_migration::{MigrationName, MigrationTrait, MigratorTrait, SchemaManager};

/// The migrator of the shared schema.
#[derive(Debug, Clone, Copy, Default)]
pub struct Migrator;

#[async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(SchemaV1), Box::new(SchemaV2), Box::new(SchemaV3)]
    }
}

/// Version 1 of the shared schema.
#[derive(Debug, Clone, Copy)]
pub struct SchemaV1;

impl MigrationName for SchemaV1 {
    fn name(&self) -> &str {
        "m20261101_000001_switchyard_schema_v1"
    }
}

/// Version 2: the replication journal and the shared migration stage.
#[derive(Debug, Clone, Copy)]
pub struct SchemaV2;

impl MigrationName for SchemaV2 {
    fn name(&self) -> &str {
        "m20261202_000002_switchyard_replication_journal"
    }
}

/// Version 3: the users' ASCII-folded name columns, back-filled and indexed.
#[derive(Debug, Clone, Copy)]
pub struct SchemaV3;

impl MigrationName for SchemaV3 {
    fn name(&self) -> &str {
        "m20261203_000003_switchyard_case_folding"
    }
}

/// Applies version `version` of [`schema::migrations`]; a guarded version
/// that `switchyard_schema` already records (another backend's tool applied
/// it) is only recorded in SeaORM's table.
async fn apply(manager: &SchemaManager<'_>, version: i64) -> Result<(), DbErr> {
    let db = manager.get_connection();
    let dialect = dialect(db).await?;
    let mut recorded = None;
    for migration in schema::migrations(dialect) {
        if migration.version == version {
            if migration.guarded {
                recorded = recorded_version(db, dialect).await?;
            }
            for statement in migration.statements_to_apply(recorded) {
                db.execute_unprepared(statement).await?;
            }
        }
    }
    Ok(())
}

/// The highest version `switchyard_schema` records (the table exists from
/// version 1 on, which a guarded version follows).
async fn recorded_version<C: ConnectionTrait>(
    db: &C,
    dialect: Dialect,
) -> Result<Option<i64>, DbErr> {
    let sql = format!(
        "SELECT MAX({}) FROM {}",
        dialect.quote("version"),
        dialect.quote(schema::VERSION_TABLE)
    );
    match db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            sql,
        ))
        .await?
    {
        Some(row) => row.try_get_by_index::<Option<i64>>(0),
        None => Ok(None),
    }
}

fn not_reverted() -> DbErr {
    // Other backends may share these tables: dropping them is a DBA's decision.
    DbErr::Migration("the shared Switchyard schema is not dropped by a migration".into())
}

#[async_trait]
impl MigrationTrait for SchemaV1 {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        apply(manager, 1).await
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Err(not_reverted())
    }
}

#[async_trait]
impl MigrationTrait for SchemaV2 {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        apply(manager, 2).await
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Err(not_reverted())
    }
}

#[async_trait]
impl MigrationTrait for SchemaV3 {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        apply(manager, 3).await
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Err(not_reverted())
    }
}

/// The schema dialect of a connection (MariaDB and MySQL 8 differ in collations).
pub(crate) async fn dialect<C: ConnectionTrait>(db: &C) -> Result<Dialect, DbErr> {
    Ok(match db.get_database_backend() {
        DbBackend::Postgres => Dialect::Postgres,
        DbBackend::MySql => {
            let query = Query::select().expr(Func::cust("VERSION")).to_owned();
            let version: String = match db.query_one(&query).await? {
                Some(row) => row.try_get_by_index(0)?,
                None => String::new(),
            };
            Dialect::mysql_from_version(&version)
        }
        _ => Dialect::Sqlite,
    })
}
