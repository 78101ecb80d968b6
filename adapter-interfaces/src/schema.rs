//! The one logical schema, as DDL for each dialect.
//!
//! Every backend applies exactly these statements through its own migration
//! tool, so all of them create the same tables, columns, types, keys and
//! indexes, and any backend reads what another wrote. Every statement is
//! idempotent (`IF NOT EXISTS`, inline MySQL indexes), so migrating a
//! database that another backend already migrated is a no-op.
//!
//! Storage rules:
//! - text: `VARCHAR(n)` up to 512 characters, `TEXT` beyond, compared by
//!   bytes (`COLLATE "C"`; MariaDB `utf8mb4_nopad_bin`, MySQL 8
//!   `utf8mb4_0900_bin`: binary and without PAD SPACE, so `'a'` and `'a '`
//!   differ as they do elsewhere; SQLite's default `BINARY`);
//! - timestamps: `TIMESTAMPTZ(3)`, `DATETIME(3)` (UTC), and on SQLite `TEXT`
//!   in the canonical form `YYYY-MM-DDTHH:MM:SS.mmmZ` (which sorts as time);
//! - JSON (objects, lists, maps): `JSONB`, `JSON`, SQLite `TEXT`;
//! - booleans: `BOOLEAN`, `BOOLEAN` (`TINYINT(1)`), SQLite `INTEGER` 0/1;
//! - integers: `BIGINT` (SQLite `INTEGER`).
//!
//! Keys: tenant-scoped tables have `tenant_id` first and the primary key
//! `(tenant_id, <id>)`, a foreign key to `tenants` with `ON DELETE CASCADE`,
//! and sessions and passwords reference `users (tenant_id, user_id)` with
//! `ON DELETE CASCADE`. SQLite connections must enable `PRAGMA foreign_keys = ON`.
//! Every sortable column has an index `(tenant_id, column, <id>)` that serves
//! both the sort and its keyset scan.

use std::fmt::Write;

use crate::entities::{Application, Code, Connection, Log, Password, Session, Tenant, User};
use crate::error::EntityKind;
use crate::record::{Column, ColumnKind, Record};

/// The latest schema version; every applied version is a row of `switchyard_schema`.
pub const SCHEMA_VERSION: i64 = 2;

/// One version of the schema: what a backend's migration tool applies as
/// one migration, in order of `version`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaMigration {
    /// The version (1, 2, …); also the migration's number in each tool.
    pub version: i64,
    /// A short name (`entities`, `replication_journal`).
    pub name: &'static str,
    /// Its statements, in order, each idempotent.
    pub statements: Vec<String>,
}

/// Every version of the schema for `dialect`, oldest first:
/// 1. the entities' tables and the version table;
/// 2. the replication journal and the shared stage ([`crate::journal`]).
pub fn migrations(dialect: Dialect) -> Vec<SchemaMigration> {
    let mut journal = crate::journal::sql::schema_statements(dialect);
    journal.push(record_version(dialect, 2));
    vec![
        SchemaMigration {
            version: 1,
            name: "entities",
            statements: entity_statements(dialect),
        },
        SchemaMigration {
            version: 2,
            name: "replication_journal",
            statements: journal,
        },
    ]
}

fn record_version(dialect: Dialect, version: i64) -> String {
    let q = |i: &str| dialect.quote(i);
    match dialect {
        Dialect::MariaDb | Dialect::MySql => format!(
            "INSERT IGNORE INTO {} ({}) VALUES ({version})",
            q(VERSION_TABLE),
            q("version")
        ),
        Dialect::Postgres | Dialect::Sqlite => format!(
            "INSERT INTO {} ({}) VALUES ({version}) ON CONFLICT DO NOTHING",
            q(VERSION_TABLE),
            q("version")
        ),
    }
}

/// The table that records the schema version (one row per applied version).
pub const VERSION_TABLE: &str = "switchyard_schema";

/// A SQL dialect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// PostgreSQL 13+.
    Postgres,
    /// MariaDB 10.11+.
    MariaDb,
    /// MySQL 8.
    MySql,
    /// SQLite 3.35+.
    Sqlite,
}

impl Dialect {
    /// Quotes an identifier.
    pub fn quote(self, ident: &str) -> String {
        match self {
            Dialect::MariaDb | Dialect::MySql => format!("`{ident}`"),
            Dialect::Postgres | Dialect::Sqlite => format!("\"{ident}\""),
        }
    }

    /// The MySQL-family dialect for a server's `SELECT VERSION()` string.
    pub fn mysql_from_version(version: &str) -> Self {
        if version.to_ascii_lowercase().contains("mariadb") {
            Dialect::MariaDb
        } else {
            Dialect::MySql
        }
    }

    /// Whether this is MySQL or MariaDB.
    pub fn is_mysql(self) -> bool {
        matches!(self, Dialect::MariaDb | Dialect::MySql)
    }

    fn column_type(self, column: &Column) -> String {
        match (self, column.kind) {
            (Dialect::Sqlite, ColumnKind::Text { .. }) => "TEXT".into(),
            (Dialect::Postgres, ColumnKind::Text { max_chars }) if max_chars <= 512 => {
                format!("VARCHAR({max_chars}) COLLATE \"C\"")
            }
            (Dialect::Postgres, ColumnKind::Text { .. }) => "TEXT COLLATE \"C\"".into(),
            (_, ColumnKind::Text { max_chars }) if max_chars <= 512 => {
                format!("VARCHAR({max_chars})")
            }
            (_, ColumnKind::Text { .. }) => "TEXT".into(),
            (Dialect::Sqlite, ColumnKind::Int | ColumnKind::Bool) => "INTEGER".into(),
            (_, ColumnKind::Int) => "BIGINT".into(),
            (_, ColumnKind::Bool) => "BOOLEAN".into(),
            (Dialect::Postgres, ColumnKind::Timestamp) => "TIMESTAMPTZ(3)".into(),
            (Dialect::Sqlite, ColumnKind::Timestamp) => "TEXT".into(),
            (_, ColumnKind::Timestamp) => "DATETIME(3)".into(),
            (Dialect::Postgres, ColumnKind::Json) => "JSONB".into(),
            (Dialect::Sqlite, ColumnKind::Json) => "TEXT".into(),
            (_, ColumnKind::Json) => "JSON".into(),
        }
    }

    fn table_options(self) -> &'static str {
        match self {
            Dialect::MariaDb => " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin",
            Dialect::MySql => " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_0900_bin",
            _ => "",
        }
    }
}

/// Every statement of every schema version for `dialect`, in order
/// (tenants first), each idempotent: the whole schema in one list.
pub fn statements(dialect: Dialect) -> Vec<String> {
    migrations(dialect)
        .into_iter()
        .flat_map(|m| m.statements)
        .collect()
}

/// Version 1: the entities' tables and the version table.
fn entity_statements(dialect: Dialect) -> Vec<String> {
    let mut out = Vec::new();
    out.extend(table_ddl::<Tenant>(dialect));
    out.extend(table_ddl::<User>(dialect));
    out.extend(table_ddl::<Application>(dialect));
    out.extend(table_ddl::<Connection>(dialect));
    out.extend(table_ddl::<Session>(dialect));
    out.extend(table_ddl::<Code>(dialect));
    out.extend(table_ddl::<Password>(dialect));
    out.extend(table_ddl::<Log>(dialect));
    let q = |i: &str| dialect.quote(i);
    out.push(format!(
        "CREATE TABLE IF NOT EXISTS {} ({} BIGINT NOT NULL, PRIMARY KEY ({})){}",
        q(VERSION_TABLE),
        q("version"),
        q("version"),
        dialect.table_options()
    ));
    out.push(record_version(dialect, 1));
    out
}

/// The whole schema as one readable script (the statements joined with `;`).
pub fn script(dialect: Dialect) -> String {
    statements(dialect)
        .iter()
        .map(|s| format!("{s};\n"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Whether the records of `kind` carry a `tenant_id` column.
pub fn is_tenant_scoped(kind: EntityKind) -> bool {
    kind != EntityKind::Tenant
}

fn table_ddl<R: Record>(dialect: Dialect) -> Vec<String> {
    let table = R::KIND.table();
    let q = |i: &str| dialect.quote(i);
    let scoped = is_tenant_scoped(R::KIND);
    let key = R::key_column().name;
    let scope = |cols: &[&str]| {
        let mut all: Vec<String> = Vec::new();
        if scoped {
            all.push(q("tenant_id"));
        }
        all.extend(cols.iter().map(|c| q(c)));
        all.join(", ")
    };
    let mut ddl = format!("CREATE TABLE IF NOT EXISTS {} (\n", q(table));
    if scoped {
        let tenant_column = Tenant::key_column();
        let _ = writeln!(
            ddl,
            "  {} {} NOT NULL,",
            q("tenant_id"),
            dialect.column_type(tenant_column)
        );
    }
    for column in R::COLUMNS {
        let null = if column.nullable { "NULL" } else { "NOT NULL" };
        let _ = writeln!(
            ddl,
            "  {} {} {null},",
            q(column.name),
            dialect.column_type(column)
        );
    }
    let mut constraints = vec![format!("  PRIMARY KEY ({})", scope(&[key]))];
    for unique in R::UNIQUE {
        constraints.push(format!(
            "  CONSTRAINT {} UNIQUE ({})",
            q(&format!("{table}_{}_key", unique.field)),
            scope(unique.columns)
        ));
    }
    let mut indexes: Vec<(String, String)> = Vec::new();
    if let Some(parent) = R::PARENT {
        let name = format!("{table}_{}_idx", parent.column);
        indexes.push((name, scope(&[parent.column])));
    }
    for column in R::COLUMNS.iter().filter(|c| c.sortable && c.name != key) {
        let name = format!("{table}_{}_idx", column.name);
        let mut columns = scope(&[column.name, key]);
        if dialect == Dialect::Postgres && column.nullable {
            // PostgreSQL orders NULLs last by default; the canonical order puts
            // them first ascending (last descending, a backward scan), and only
            // an index built that way serves both without a sort.
            let quoted = q(column.name);
            columns = columns.replacen(&quoted, &format!("{quoted} NULLS FIRST"), 1);
        }
        indexes.push((name, columns));
    }
    if dialect.is_mysql() {
        for (name, columns) in &indexes {
            constraints.push(format!("  KEY {} ({columns})", q(name)));
        }
    }
    if scoped {
        constraints.push(format!(
            "  CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {} ({}) ON DELETE CASCADE",
            q(&format!("{table}_tenant_fk")),
            q("tenant_id"),
            q("tenants"),
            q("id")
        ));
    }
    if let Some(parent) = R::PARENT {
        let parent_table = parent.parent.table();
        let parent_key = match parent.parent {
            EntityKind::User => User::key_column().name,
            _ => "id",
        };
        constraints.push(format!(
            "  CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {} ({}) ON DELETE CASCADE",
            q(&format!("{table}_{}_fk", parent.column)),
            scope(&[parent.column]),
            q(parent_table),
            scope(&[parent_key])
        ));
    }
    ddl.push_str(&constraints.join(",\n"));
    ddl.push_str("\n)");
    ddl.push_str(dialect.table_options());
    let mut out = vec![ddl];
    if !dialect.is_mysql() {
        for (name, columns) in indexes {
            out.push(format!(
                "CREATE INDEX IF NOT EXISTS {} ON {} ({columns})",
                q(&name),
                q(table)
            ));
        }
    }
    out
}

/// The field to report for a unique-key violation of entity `R`, read from a
/// database error message (constraint names like `users_email_key` on
/// PostgreSQL and MySQL, column lists like `users.tenant_id, users.connection,
/// users.email` on SQLite). Falls back to the primary key.
pub fn conflict_field<R: Record>(message: &str) -> &'static str {
    let table = R::KIND.table();
    for unique in R::UNIQUE {
        let constraint = format!("{table}_{}_key", unique.field);
        let sqlite_columns = unique
            .columns
            .iter()
            .map(|c| format!("{table}.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        if message.contains(&constraint) || message.contains(&sqlite_columns) {
            return unique.field;
        }
    }
    R::key_column().name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_dialect_creates_every_table_idempotently() {
        for dialect in [
            Dialect::Postgres,
            Dialect::MariaDb,
            Dialect::MySql,
            Dialect::Sqlite,
        ] {
            let script = script(dialect);
            for kind in EntityKind::ALL {
                assert!(
                    script.contains(&format!(
                        "CREATE TABLE IF NOT EXISTS {}",
                        dialect.quote(kind.table())
                    )),
                    "{dialect:?} {kind}"
                );
            }
            for statement in statements(dialect) {
                assert!(
                    statement.contains("IF NOT EXISTS")
                        || statement.contains("IGNORE")
                        || statement.contains("DO NOTHING"),
                    "{statement}"
                );
            }
        }
    }

    #[test]
    fn conflict_field_reads_constraint_names_and_sqlite_columns() {
        assert_eq!(
            conflict_field::<User>(
                "duplicate key value violates unique constraint \"users_email_key\""
            ),
            "email"
        );
        assert_eq!(
            conflict_field::<User>(
                "UNIQUE constraint failed: users.tenant_id, users.connection, users.username"
            ),
            "username"
        );
        assert_eq!(
            conflict_field::<User>("Duplicate entry 'x' for key 'PRIMARY'"),
            "user_id"
        );
        assert_eq!(
            conflict_field::<Connection>("Duplicate entry 'a-b' for key 'connections_name_key'"),
            "name"
        );
    }
}
