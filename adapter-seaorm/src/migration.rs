//! The schema, through `sea-orm-migration`.
//!
//! One migration applies the canonical DDL of
//! [`adapter_interfaces::schema::statements`] for the connection's dialect.
//! Every statement is idempotent, so migrating a database that another
//! backend already migrated only records the migration in SeaORM's own
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
        vec![Box::new(SchemaV1), Box::new(SchemaV2)]
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

/// Applies version `version` of [`schema::migrations`].
async fn apply(manager: &SchemaManager<'_>, version: i64) -> Result<(), DbErr> {
    let db = manager.get_connection();
    let dialect = dialect(db).await?;
    for migration in schema::migrations(dialect) {
        if migration.version == version {
            for statement in migration.statements {
                db.execute_unprepared(&statement).await?;
            }
        }
    }
    Ok(())
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
