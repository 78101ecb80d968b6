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
        vec![Box::new(SchemaV1)]
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

#[async_trait]
impl MigrationTrait for SchemaV1 {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let dialect = dialect(db).await?;
        for statement in schema::statements(dialect) {
            db.execute_unprepared(&statement).await?;
        }
        Ok(())
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        // Other backends may share these tables: dropping them is a DBA's decision.
        Err(DbErr::Migration(
            "the shared Switchyard schema is not dropped by a migration".into(),
        ))
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
