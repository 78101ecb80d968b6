//! What differs between the three sqlx drivers, behind one trait.
//!
//! Everything else (SQL text, batching, error mapping) is generic over
//! [`Backend`]; an implementation only says how a [`Value`] is bound and read
//! back for its database, and runs a built query on a connection (which needs
//! the concrete executor type).

use std::future::Future;

use adapter_interfaces::record::{Column, ColumnKind, Value};
use adapter_interfaces::{BoxError, Timestamp};
use sqlx::{Database, Pool, QueryBuilder, Transaction};

/// A database that the generic store runs on.
pub(crate) trait Backend: Database + Sized {
    /// The most bind parameters one statement may carry.
    const MAX_BINDS: usize;
    /// Whether `SELECT ... FOR UPDATE` exists (SQLite locks the whole database instead).
    const FOR_UPDATE: bool;

    /// Binds one value of a column of kind `kind` (NULL typed after the column).
    fn push_value(qb: &mut QueryBuilder<Self>, kind: ColumnKind, value: &Value);

    /// The most rows one multi-row `INSERT` of `binds_per_row` columns may carry.
    fn max_insert_rows(binds_per_row: usize) -> usize {
        (Self::MAX_BINDS / binds_per_row.max(1)).max(1)
    }

    /// Pushes the rows of a multi-row `INSERT` after its column list; `kinds`
    /// are the columns' kinds and every row holds one value per column. By
    /// default `VALUES (..), (..)`, one bound parameter per value.
    fn push_rows(qb: &mut QueryBuilder<Self>, kinds: &[ColumnKind], rows: Vec<Vec<Value>>) {
        qb.push(" VALUES ");
        for (index, row) in rows.iter().enumerate() {
            qb.push(if index == 0 { "(" } else { ", (" });
            for (i, (kind, value)) in kinds.iter().zip(row).enumerate() {
                if i > 0 {
                    qb.push(", ");
                }
                Self::push_value(qb, *kind, value);
            }
            qb.push(")");
        }
    }

    /// Reads column `index` of `row` as a [`Value`] of `column`'s kind.
    fn read_value(row: &Self::Row, index: usize, column: &Column) -> Result<Value, BoxError>;

    /// Runs a statement; returns the number of rows it changed (matched, on MySQL).
    fn execute<'a>(
        conn: &'a mut Self::Connection,
        qb: &'a mut QueryBuilder<Self>,
    ) -> impl Future<Output = Result<u64, sqlx::Error>> + Send + 'a;

    /// Runs a query and returns all its rows.
    fn fetch_all<'a>(
        conn: &'a mut Self::Connection,
        qb: &'a mut QueryBuilder<Self>,
    ) -> impl Future<Output = Result<Vec<Self::Row>, sqlx::Error>> + Send + 'a;

    /// Whether the database aborted a statement or transaction to resolve
    /// concurrency (a deadlock victim, a serialization failure, a lock wait
    /// that timed out, a busy database): the transaction was rolled back
    /// whole and may run again. By default SQLSTATE 40001 and 40P01.
    fn is_transient(error: &sqlx::Error) -> bool {
        error
            .as_database_error()
            .and_then(|db| db.code())
            .is_some_and(|code| code == "40001" || code == "40P01")
    }

    /// Starts a transaction that will write.
    fn begin_write(
        pool: &Pool<Self>,
    ) -> impl Future<Output = Result<Transaction<'static, Self>, sqlx::Error>> + Send {
        pool.begin()
    }
}

#[cfg(any(feature = "mysql", feature = "sqlite"))]
fn json_from_text(text: String) -> Result<Value, BoxError> {
    Ok(Value::Json(serde_json::from_str(&text)?))
}

/// Implements the executor plumbing, identical for every driver but for the
/// concrete connection type.
macro_rules! executor_methods {
    () => {
        fn execute<'a>(
            conn: &'a mut Self::Connection,
            qb: &'a mut QueryBuilder<Self>,
        ) -> impl Future<Output = Result<u64, sqlx::Error>> + Send + 'a {
            async move { Ok(qb.build().execute(conn).await?.rows_affected()) }
        }

        fn fetch_all<'a>(
            conn: &'a mut Self::Connection,
            qb: &'a mut QueryBuilder<Self>,
        ) -> impl Future<Output = Result<Vec<Self::Row>, sqlx::Error>> + Send + 'a {
            async move { qb.build().fetch_all(conn).await }
        }
    };
}

#[cfg(feature = "postgres")]
mod postgres {
    use super::*;
    use sqlx::Row as _;
    use sqlx::postgres::{PgRow, Postgres};

    type DateTime = chrono::DateTime<chrono::Utc>;

    impl Backend for Postgres {
        // The protocol counts parameters in an unsigned 16-bit field.
        const MAX_BINDS: usize = 65_535;
        const FOR_UPDATE: bool = true;

        fn push_value(qb: &mut QueryBuilder<Self>, kind: ColumnKind, value: &Value) {
            match (kind, value) {
                (_, Value::Text(s)) => qb.push_bind(s.clone()),
                (_, Value::Int(i)) => qb.push_bind(*i),
                (_, Value::Bool(b)) => qb.push_bind(*b),
                (_, Value::Timestamp(t)) => qb.push_bind(t.as_datetime()),
                (_, Value::Json(j)) => qb.push_bind(j.clone()),
                (ColumnKind::Text { .. }, Value::Null) => qb.push_bind(None::<String>),
                (ColumnKind::Int, Value::Null) => qb.push_bind(None::<i64>),
                (ColumnKind::Bool, Value::Null) => qb.push_bind(None::<bool>),
                (ColumnKind::Timestamp, Value::Null) => qb.push_bind(None::<DateTime>),
                (ColumnKind::Json, Value::Null) => qb.push_bind(None::<serde_json::Value>),
            };
        }

        // A batch is one JSON parameter (`crate::bulk`), whatever its rows.
        fn max_insert_rows(_binds_per_row: usize) -> usize {
            usize::MAX
        }

        fn read_value(row: &PgRow, index: usize, column: &Column) -> Result<Value, BoxError> {
            Ok(match column.kind {
                ColumnKind::Text { .. } => {
                    row.try_get::<Option<String>, _>(index)?.map(Value::Text)
                }
                ColumnKind::Int => row.try_get::<Option<i64>, _>(index)?.map(Value::Int),
                ColumnKind::Bool => row.try_get::<Option<bool>, _>(index)?.map(Value::Bool),
                ColumnKind::Timestamp => row
                    .try_get::<Option<DateTime>, _>(index)?
                    .map(|t| Value::Timestamp(Timestamp::from_datetime(t))),
                ColumnKind::Json => row
                    .try_get::<Option<serde_json::Value>, _>(index)?
                    .map(Value::Json),
            }
            .unwrap_or(Value::Null))
        }

        executor_methods!();
    }
}

#[cfg(feature = "mysql")]
mod mysql {
    use super::*;
    use sqlx::Row as _;
    use sqlx::mysql::{MySql, MySqlRow};

    type DateTime = chrono::NaiveDateTime;

    /// MySQL's deadlock victim and lock wait timeout.
    const ER_LOCK_DEADLOCK: u16 = 1213;
    const ER_LOCK_WAIT_TIMEOUT: u16 = 1205;

    impl Backend for MySql {
        const MAX_BINDS: usize = 65_535;
        const FOR_UPDATE: bool = true;

        // 1205 has no SQLSTATE of its own (HY000): look at the error number.
        fn is_transient(error: &sqlx::Error) -> bool {
            error
                .as_database_error()
                .and_then(|db| db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>())
                .is_some_and(|db| matches!(db.number(), ER_LOCK_DEADLOCK | ER_LOCK_WAIT_TIMEOUT))
        }

        fn push_value(qb: &mut QueryBuilder<Self>, kind: ColumnKind, value: &Value) {
            match (kind, value) {
                (_, Value::Text(s)) => qb.push_bind(s.clone()),
                (_, Value::Int(i)) => qb.push_bind(*i),
                (_, Value::Bool(b)) => qb.push_bind(*b),
                // DATETIME has no zone: it holds UTC wall-clock time, never converted.
                (_, Value::Timestamp(t)) => qb.push_bind(t.as_datetime().naive_utc()),
                // MariaDB's JSON is LONGTEXT; MySQL 8 parses the text into its JSON type.
                (_, Value::Json(j)) => qb.push_bind(j.to_string()),
                (ColumnKind::Text { .. } | ColumnKind::Json, Value::Null) => {
                    qb.push_bind(None::<String>)
                }
                (ColumnKind::Int, Value::Null) => qb.push_bind(None::<i64>),
                (ColumnKind::Bool, Value::Null) => qb.push_bind(None::<bool>),
                (ColumnKind::Timestamp, Value::Null) => qb.push_bind(None::<DateTime>),
            };
        }

        fn read_value(row: &MySqlRow, index: usize, column: &Column) -> Result<Value, BoxError> {
            Ok(match column.kind {
                ColumnKind::Text { .. } => {
                    row.try_get::<Option<String>, _>(index)?.map(Value::Text)
                }
                ColumnKind::Int => row.try_get::<Option<i64>, _>(index)?.map(Value::Int),
                ColumnKind::Bool => row.try_get::<Option<bool>, _>(index)?.map(Value::Bool),
                ColumnKind::Timestamp => row
                    .try_get::<Option<DateTime>, _>(index)?
                    .map(|t| Value::Timestamp(Timestamp::from_datetime(t.and_utc()))),
                // Unchecked: MySQL 8 reports the JSON type, MariaDB a text type; both send text.
                ColumnKind::Json => match row.try_get_unchecked::<Option<String>, _>(index)? {
                    Some(text) => Some(json_from_text(text)?),
                    None => None,
                },
            }
            .unwrap_or(Value::Null))
        }

        executor_methods!();
    }
}

#[cfg(feature = "sqlite")]
mod sqlite {
    use super::*;
    use sqlx::Row as _;
    use sqlx::sqlite::{Sqlite, SqliteRow};

    /// SQLITE_BUSY and SQLITE_LOCKED, the primary codes of every busy variant.
    const SQLITE_BUSY: i64 = 5;
    const SQLITE_LOCKED: i64 = 6;

    impl Backend for Sqlite {
        // SQLITE_MAX_VARIABLE_NUMBER's default since 3.32.
        const MAX_BINDS: usize = 32_766;
        const FOR_UPDATE: bool = false;

        // The busy timeout ran out (another connection held the write lock that
        // long): sqlx reports the extended result code, whose low byte is the
        // primary one.
        fn is_transient(error: &sqlx::Error) -> bool {
            error
                .as_database_error()
                .and_then(|db| db.code())
                .and_then(|code| code.parse::<i64>().ok())
                .is_some_and(|code| matches!(code & 0xff, SQLITE_BUSY | SQLITE_LOCKED))
        }

        fn push_value(qb: &mut QueryBuilder<Self>, kind: ColumnKind, value: &Value) {
            match (kind, value) {
                (_, Value::Text(s)) => qb.push_bind(s.clone()),
                (_, Value::Int(i)) => qb.push_bind(*i),
                (_, Value::Bool(b)) => qb.push_bind(*b),
                // The canonical text sorts chronologically and is what every backend writes.
                (_, Value::Timestamp(t)) => qb.push_bind(t.to_canonical_string()),
                (_, Value::Json(j)) => qb.push_bind(j.to_string()),
                (ColumnKind::Int | ColumnKind::Bool, Value::Null) => qb.push_bind(None::<i64>),
                (_, Value::Null) => qb.push_bind(None::<String>),
            };
        }

        fn read_value(row: &SqliteRow, index: usize, column: &Column) -> Result<Value, BoxError> {
            Ok(match column.kind {
                ColumnKind::Text { .. } => {
                    row.try_get::<Option<String>, _>(index)?.map(Value::Text)
                }
                ColumnKind::Int => row.try_get::<Option<i64>, _>(index)?.map(Value::Int),
                ColumnKind::Bool => row
                    .try_get::<Option<i64>, _>(index)?
                    .map(|i| Value::Bool(i != 0)),
                ColumnKind::Timestamp => match row.try_get::<Option<String>, _>(index)? {
                    Some(text) => Some(Value::Timestamp(text.parse::<Timestamp>()?)),
                    None => None,
                },
                ColumnKind::Json => match row.try_get::<Option<String>, _>(index)? {
                    Some(text) => Some(json_from_text(text)?),
                    None => None,
                },
            }
            .unwrap_or(Value::Null))
        }

        executor_methods!();

        fn begin_write(
            pool: &Pool<Self>,
        ) -> impl Future<Output = Result<Transaction<'static, Self>, sqlx::Error>> + Send {
            // Take the write lock up front: a deferred transaction that reads and then
            // writes fails with SQLITE_BUSY when another writer got in between.
            pool.begin_with("BEGIN IMMEDIATE")
        }
    }
}
