//! The one logical schema, as DDL for each dialect.
//!
//! Every backend applies exactly these statements through its own migration
//! tool, so all of them create the same tables, columns, types, keys and
//! indexes, and any backend reads what another wrote. Every statement is
//! idempotent (`IF NOT EXISTS`, inline MySQL indexes), so migrating a
//! database that another backend already migrated is a no-op.
//!
//! A statement that cannot be idempotent (SQLite and MySQL 8 have no
//! `ADD COLUMN IF NOT EXISTS`) belongs to a [`SchemaMigration::guarded`]
//! version, which a backend's tool applies only while `switchyard_schema`
//! does not record it ([`SchemaMigration::statements_to_apply`]).
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
pub const SCHEMA_VERSION: i64 = 3;

/// One version of the schema: what a backend's migration tool applies as
/// one migration, in order of `version`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaMigration {
    /// The version (1, 2, …); also the migration's number in each tool.
    pub version: i64,
    /// A short name (`entities`, `replication_journal`).
    pub name: &'static str,
    /// Its statements, in order; each idempotent unless the version is
    /// [`guarded`](Self::guarded).
    pub statements: Vec<String>,
    /// Whether some statements are not idempotent (an `ALTER TABLE ... ADD
    /// COLUMN` on SQLite or MySQL 8), so that they must not run again over a
    /// database where another backend's tool already applied this version:
    /// each tool has its own bookkeeping, and `switchyard_schema` is the
    /// record they share. See [`Self::statements_to_apply`].
    pub guarded: bool,
}

impl SchemaMigration {
    /// What a backend's tool runs for this migration, given the highest
    /// version `switchyard_schema` records before it starts (`None` on a
    /// database without the schema): every statement, except for a
    /// [`guarded`](Self::guarded) version already recorded there, which
    /// the tool then only records in its own bookkeeping.
    pub fn statements_to_apply(&self, recorded: Option<i64>) -> &[String] {
        if self.guarded && recorded.is_some_and(|v| v >= self.version) {
            &[]
        } else {
            &self.statements
        }
    }
}

/// Every version of the schema for `dialect`, oldest first:
/// 1. the entities' tables and the version table;
/// 2. the replication journal and the shared stage ([`crate::journal`]);
/// 3. the users' ASCII-folded copies of `name`, `given_name`, `family_name`
///    and `nickname` ([`Column::folds`]), back-filled and indexed, which
///    `q` compares to match those fields case-insensitively.
pub fn migrations(dialect: Dialect) -> Vec<SchemaMigration> {
    let mut journal = crate::journal::sql::schema_statements(dialect);
    journal.push(record_version(dialect, 2));
    vec![
        SchemaMigration {
            version: 1,
            name: "entities",
            statements: entity_statements(dialect),
            guarded: false,
        },
        SchemaMigration {
            version: 2,
            name: "replication_journal",
            statements: journal,
            guarded: false,
        },
        SchemaMigration {
            version: 3,
            name: "case_folding",
            statements: folded_column_statements::<User>(dialect, 3),
            guarded: true,
        },
    ]
}

/// SQL that folds the text `column` (an SQL expression, already quoted) the
/// way [`crate::record::ascii_fold`] does: `A`-`Z` to `a`-`z` and nothing
/// else, identically on every database, non-ASCII text included.
///
/// - PostgreSQL: `translate(col, 'A..Z', 'a..z')` (its `lower()` folds by
///   the collation's rules);
/// - MySQL, MariaDB: 26 nested `REPLACE(col, 'A', 'a')` (`REPLACE` matches
///   case-sensitively; `LOWER()` folds Unicode even under a binary collation);
/// - SQLite: `lower(col)`, which folds ASCII only (without the ICU extension,
///   which this project never loads).
///
/// NULL stays NULL everywhere.
pub fn ascii_fold_sql(dialect: Dialect, column: &str) -> String {
    const UPPER: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    match dialect {
        Dialect::Postgres => {
            format!(
                "translate({column}, '{UPPER}', '{}')",
                UPPER.to_ascii_lowercase()
            )
        }
        Dialect::MariaDb | Dialect::MySql => {
            let mut sql = column.to_owned();
            for upper in UPPER.chars() {
                sql = format!(
                    "REPLACE({sql}, '{upper}', '{}')",
                    upper.to_ascii_lowercase()
                );
            }
            sql
        }
        Dialect::Sqlite => format!("lower({column})"),
    }
}

/// The derived columns of entity `R` ([`Column::folds`]), added to its table
/// by schema version `version`: the columns, a back-fill of the rows already
/// there with [`ascii_fold_sql`], an index `(tenant_id, column)` per column
/// (which serves the exact and prefix searches on it), and the version row.
///
/// PostgreSQL and MariaDB add columns and indexes `IF NOT EXISTS`; SQLite
/// and MySQL 8 cannot, so the version is [`SchemaMigration::guarded`].
fn folded_column_statements<R: Record>(dialect: Dialect, version: i64) -> Vec<String> {
    let q = |i: &str| dialect.quote(i);
    let table = q(R::KIND.table());
    let derived: Vec<&Column> = R::COLUMNS.iter().filter(|c| c.folds.is_some()).collect();
    let mut out = Vec::new();
    let add = |c: &Column| {
        let guard = match dialect {
            Dialect::Postgres | Dialect::MariaDb => "IF NOT EXISTS ",
            Dialect::MySql | Dialect::Sqlite => "",
        };
        format!(
            "ADD COLUMN {guard}{} {} NULL",
            q(c.name),
            dialect.column_type(c)
        )
    };
    match dialect {
        // One statement: a MySQL table is rebuilt once, not once per column.
        Dialect::Postgres | Dialect::MariaDb | Dialect::MySql => out.push(format!(
            "ALTER TABLE {table} {}",
            derived
                .iter()
                .map(|c| add(c))
                .collect::<Vec<_>>()
                .join(", ")
        )),
        // SQLite adds one column per statement.
        Dialect::Sqlite => {
            out.extend(
                derived
                    .iter()
                    .map(|c| format!("ALTER TABLE {table} {}", add(c))),
            );
        }
    }
    let sets: Vec<String> = derived
        .iter()
        .filter_map(|c| {
            let source = q(c.folds?);
            Some(format!(
                "{} = {}",
                q(c.name),
                ascii_fold_sql(dialect, &source)
            ))
        })
        .collect();
    let any_source: Vec<String> = derived
        .iter()
        .filter_map(|c| Some(format!("{} IS NOT NULL", q(c.folds?))))
        .collect();
    if !sets.is_empty() {
        out.push(format!(
            "UPDATE {table} SET {} WHERE {}",
            sets.join(", "),
            any_source.join(" OR ")
        ));
    }
    let scope = if is_tenant_scoped(R::KIND) {
        format!("{}, ", q("tenant_id"))
    } else {
        String::new()
    };
    let index = |c: &Column| q(&format!("{}_{}_idx", R::KIND.table(), c.name));
    match dialect {
        Dialect::Postgres | Dialect::Sqlite => {
            out.extend(derived.iter().map(|c| {
                format!(
                    "CREATE INDEX IF NOT EXISTS {} ON {table} ({scope}{})",
                    index(c),
                    q(c.name)
                )
            }));
        }
        Dialect::MariaDb | Dialect::MySql => {
            let guard = if dialect == Dialect::MariaDb {
                "IF NOT EXISTS "
            } else {
                ""
            };
            out.push(format!(
                "ALTER TABLE {table} {}",
                derived
                    .iter()
                    .map(|c| format!("ADD INDEX {guard}{} ({scope}{})", index(c), q(c.name)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    out.push(record_version(dialect, version));
    out
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
    // Derived columns are version 3's (`folded_column_statements`), on a
    // new database as on one created before it.
    for column in R::COLUMNS.iter().filter(|c| c.folds.is_none()) {
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
            for statement in migrations(dialect)
                .into_iter()
                .filter(|m| !m.guarded)
                .flat_map(|m| m.statements)
            {
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
    fn version_three_adds_the_folded_columns_after_version_one() {
        for dialect in [
            Dialect::Postgres,
            Dialect::MariaDb,
            Dialect::MySql,
            Dialect::Sqlite,
        ] {
            let all = migrations(dialect);
            assert_eq!(all.last().map(|m| m.version), Some(SCHEMA_VERSION));
            let v1 = all[0].statements.join("\n");
            assert!(!v1.contains("name_folded"), "{dialect:?}: v1 is as it was");
            let v3 = &all[2];
            assert!(v3.guarded);
            let text = v3.statements.join("\n");
            for column in [
                "name_folded",
                "given_name_folded",
                "family_name_folded",
                "nickname_folded",
            ] {
                assert!(
                    text.contains(&dialect.quote(column)),
                    "{dialect:?} {column}"
                );
                assert!(
                    text.contains(&dialect.quote(&format!("users_{column}_idx"))),
                    "{dialect:?} {column} index"
                );
            }
            assert!(text.contains(&ascii_fold_sql(dialect, &dialect.quote("name"))));
            assert!(v3.statements_to_apply(None).len() == v3.statements.len());
            assert!(v3.statements_to_apply(Some(2)).len() == v3.statements.len());
            assert!(v3.statements_to_apply(Some(3)).is_empty());
            assert_eq!(
                all[1].statements_to_apply(Some(3)).len(),
                all[1].statements.len(),
                "an unguarded version always runs (it is idempotent)"
            );
        }
    }

    #[test]
    fn ascii_fold_sql_names_every_letter() {
        let pg = ascii_fold_sql(Dialect::Postgres, "\"name\"");
        assert_eq!(
            pg,
            "translate(\"name\", 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')"
        );
        let my = ascii_fold_sql(Dialect::MariaDb, "`name`");
        assert_eq!(my.matches("REPLACE(").count(), 26);
        assert!(my.starts_with("REPLACE(REPLACE(") && my.ends_with(", 'Z', 'z')"));
        assert!(my.contains("REPLACE(`name`, 'A', 'a')"));
        assert_eq!(
            ascii_fold_sql(Dialect::Sqlite, "\"name\""),
            "lower(\"name\")"
        );
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
