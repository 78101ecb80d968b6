//! The replication journal on this crate's connection: the shared statements
//! of [`adapter_interfaces::journal::sql`], run as raw SeaORM statements with
//! bound values.

use std::sync::Arc;

use adapter_interfaces::journal::sql::{JournalSql, SqlValue, TextRow, is_retryable, retrying};
use adapter_interfaces::schema::Dialect;
use adapter_interfaces::{AdapterError, ConnectOptions, Result, async_trait};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, RuntimeErr, Statement};

/// The connection seen as the journal's executor.
pub(crate) struct JournalConnection {
    db: Arc<DatabaseConnection>,
    dialect: Dialect,
    /// The store's options, to explain a pool timeout.
    options: ConnectOptions,
}

impl JournalConnection {
    /// An executor over `db`, whose schema dialect is `dialect` (MariaDB and
    /// MySQL differ only in DDL, which the journal's statements do not use).
    pub(crate) fn new(db: Arc<DatabaseConnection>, options: ConnectOptions) -> Self {
        let dialect = match db.get_database_backend() {
            DbBackend::Postgres => Dialect::Postgres,
            DbBackend::MySql => Dialect::MySql,
            _ => Dialect::Sqlite,
        };
        Self {
            db,
            dialect,
            options,
        }
    }

    fn statement(&self, sql: &str, params: &[SqlValue]) -> Statement {
        let values = params.iter().map(|param| match param {
            SqlValue::Int(i) => sea_orm::Value::BigInt(Some(*i)),
            SqlValue::Text(t) => sea_orm::Value::String(Some(t.clone())),
        });
        Statement::from_sql_and_values(self.db.get_database_backend(), sql, values)
    }
}

/// Whether SeaORM reports a driver error where the statement may simply run again.
fn is_transient(error: &DbErr) -> bool {
    match error {
        DbErr::Exec(RuntimeErr::SqlxError(e))
        | DbErr::Query(RuntimeErr::SqlxError(e))
        | DbErr::Conn(RuntimeErr::SqlxError(e)) => e
            .as_database_error()
            .is_some_and(|db| is_retryable(db.code().as_deref(), db.message())),
        _ => false,
    }
}

/// What a failed journal statement was doing.
const JOURNAL: &str = "writing the replication journal";

#[async_trait]
impl JournalSql for JournalConnection {
    fn dialect(&self) -> Dialect {
        self.dialect
    }

    async fn execute(&self, sql: &str, params: Vec<SqlValue>) -> Result<u64> {
        match retrying(
            || self.db.execute_raw(self.statement(sql, &params)),
            is_transient,
            tokio::time::sleep,
        )
        .await
        {
            Ok(done) => Ok(done.rows_affected()),
            Err(e) => Err(crate::pool::failed(&self.db, &self.options, JOURNAL, e).await),
        }
    }

    async fn fetch(
        &self,
        sql: &str,
        params: Vec<SqlValue>,
        columns: usize,
    ) -> Result<Vec<TextRow>> {
        let rows = match retrying(
            || self.db.query_all_raw(self.statement(sql, &params)),
            is_transient,
            tokio::time::sleep,
        )
        .await
        {
            Ok(rows) => rows,
            Err(e) => return Err(crate::pool::failed(&self.db, &self.options, JOURNAL, e).await),
        };
        rows.iter()
            .map(|row| {
                (0..columns)
                    .map(|i| row.try_get_by_index::<Option<String>>(i))
                    .collect::<std::result::Result<TextRow, DbErr>>()
                    .map_err(|e| AdapterError::backend("reading the replication journal", e))
            })
            .collect()
    }
}
