//! The shared schema as a diesel_migrations migration.
//!
//! The DDL is `adapter_interfaces::schema::statements(dialect)`, served by a
//! programmatic [`MigrationSource`], so Diesel's harness records it in
//! `__diesel_schema_migrations` like any migration. Every statement is
//! idempotent, or its version guarded (run only while `switchyard_schema`
//! does not record it), so a database another backend already migrated
//! gains only that bookkeeping row.

use std::fmt;

use adapter_interfaces::schema::{self, Dialect};
use diesel::backend::Backend;
use diesel::connection::BoxableConnection;
use diesel::migration::{
    self, Migration, MigrationMetadata, MigrationName, MigrationSource, MigrationVersion,
};

/// One version of the shared schema ([`schema::migrations`]).
#[derive(Debug, Clone)]
pub(crate) struct SchemaMigration {
    dialect: Dialect,
    version: String,
    name: &'static str,
    statements: Vec<String>,
}

/// Serves [`SchemaMigration`] to Diesel's migration harness.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SchemaSource {
    dialect: Dialect,
    /// The version `switchyard_schema` recorded before migrating
    /// ([`schema::SchemaMigration::statements_to_apply`]).
    recorded: Option<i64>,
}

impl SchemaSource {
    pub(crate) fn new(dialect: Dialect, recorded: Option<i64>) -> Self {
        Self { dialect, recorded }
    }
}

impl<DB: Backend> MigrationSource<DB> for SchemaSource {
    fn migrations(&self) -> migration::Result<Vec<Box<dyn Migration<DB>>>> {
        Ok(schema::migrations(self.dialect)
            .into_iter()
            .map(|m| {
                Box::new(SchemaMigration {
                    dialect: self.dialect,
                    version: format!("{:014}", m.version),
                    name: m.name,
                    statements: m.statements_to_apply(self.recorded).to_vec(),
                }) as Box<dyn Migration<DB>>
            })
            .collect())
    }
}

impl fmt::Display for SchemaMigration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.name == "entities" {
            // Version 1's name, as databases migrated before version 2 recorded it.
            write!(f, "{}_switchyard_schema", self.version)
        } else {
            write!(f, "{}_switchyard_{}", self.version, self.name)
        }
    }
}

impl MigrationName for SchemaMigration {
    fn version(&self) -> MigrationVersion<'_> {
        MigrationVersion::from(self.version.clone())
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
        for statement in &self.statements {
            conn.batch_execute(statement)?;
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
