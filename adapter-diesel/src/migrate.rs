//! The shared schema as a diesel_migrations migration.
//!
//! The DDL is `adapter_interfaces::schema::statements(dialect)`, served by a
//! programmatic [`MigrationSource`], so Diesel's harness records it in
//! `__diesel_schema_migrations` like any migration. Every statement is
//! idempotent, so a database another backend already migrated gains only
//! that bookkeeping row.

use std::fmt;

use adapter_interfaces::schema::{self, Dialect, SCHEMA_VERSION};
use diesel::backend::Backend;
use diesel::connection::BoxableConnection;
use diesel::migration::{
    self, Migration, MigrationMetadata, MigrationName, MigrationSource, MigrationVersion,
};

/// The one migration: the whole schema of [`SCHEMA_VERSION`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct SchemaMigration {
    dialect: Dialect,
}

/// Serves [`SchemaMigration`] to Diesel's migration harness.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SchemaSource {
    dialect: Dialect,
}

impl SchemaSource {
    pub(crate) fn new(dialect: Dialect) -> Self {
        Self { dialect }
    }
}

impl<DB: Backend> MigrationSource<DB> for SchemaSource {
    fn migrations(&self) -> migration::Result<Vec<Box<dyn Migration<DB>>>> {
        Ok(vec![Box::new(SchemaMigration {
            dialect: self.dialect,
        })])
    }
}

impl fmt::Display for SchemaMigration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:014}_switchyard_schema", SCHEMA_VERSION)
    }
}

impl MigrationName for SchemaMigration {
    fn version(&self) -> MigrationVersion<'_> {
        MigrationVersion::from(format!("{:014}", SCHEMA_VERSION))
    }
}

impl MigrationMetadata for SchemaMigration {
    fn run_in_transaction(&self) -> bool {
        // MySQL commits around DDL anyway; elsewhere the schema lands atomically.
        !matches!(self.dialect, Dialect::MariaDb | Dialect::MySql)
    }
}

impl<DB: Backend> Migration<DB> for SchemaMigration {
    fn run(&self, conn: &mut dyn BoxableConnection<DB>) -> migration::Result<()> {
        for statement in schema::statements(self.dialect) {
            conn.batch_execute(&statement)?;
        }
        Ok(())
    }

    fn revert(&self, _conn: &mut dyn BoxableConnection<DB>) -> migration::Result<()> {
        // The schema is shared with the other backends: one of them must not drop it.
        Err("the shared Switchyard schema is not reverted by a backend".into())
    }

    fn metadata(&self) -> &dyn MigrationMetadata {
        self
    }

    fn name(&self) -> &dyn MigrationName {
        self
    }
}
