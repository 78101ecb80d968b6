//! The replication journal on this crate's pools: the shared statements of
//! [`adapter_interfaces::journal::sql`], executed through sqlx.

use std::sync::Arc;

use adapter_interfaces::journal::sql::{
    JournalSql, SqlValue, TextRow, is_retryable, retrying, split_placeholders,
};
use adapter_interfaces::record::{Column, ColumnKind, Value};
use adapter_interfaces::schema::Dialect;
use adapter_interfaces::{AdapterError, Result, async_trait};
use sqlx::{QueryBuilder, Row as _};

use crate::backend::Backend;
use crate::store::Db;

/// Every journal column reads back as text (the statements cast).
const TEXT: Column = Column::text("journal", 4096).nullable();

/// A pool seen as the journal's executor.
pub(crate) struct JournalPool<DB: Backend> {
    db: Arc<Db<DB>>,
}

impl<DB: Backend> JournalPool<DB> {
    pub(crate) fn new(db: Arc<Db<DB>>) -> Self {
        Self { db }
    }

    fn build(&self, sql: &str, params: &[SqlValue]) -> QueryBuilder<DB> {
        let pieces = split_placeholders(self.db.sql.dialect, sql);
        let mut qb = QueryBuilder::new(pieces.first().copied().unwrap_or_default());
        for (piece, param) in pieces.iter().skip(1).zip(params) {
            match param {
                SqlValue::Int(i) => DB::push_value(&mut qb, ColumnKind::Int, &Value::Int(*i)),
                SqlValue::Text(t) => DB::push_value(
                    &mut qb,
                    ColumnKind::Text { max_chars: 4096 },
                    &Value::Text(t.clone()),
                ),
            }
            qb.push(*piece);
        }
        qb
    }
}

/// Whether sqlx reports an error where the statement may simply run again.
fn is_transient(error: &sqlx::Error) -> bool {
    error
        .as_database_error()
        .is_some_and(|db| is_retryable(db.code().as_deref(), db.message()))
}

/// What a failed journal statement was doing.
const JOURNAL: &str = "writing the replication journal";

#[async_trait]
impl<DB: Backend> JournalSql for JournalPool<DB> {
    fn dialect(&self) -> Dialect {
        self.db.sql.dialect
    }

    async fn execute(&self, sql: &str, params: Vec<SqlValue>) -> Result<u64> {
        match retrying(
            || async {
                let mut qb = self.build(sql, &params);
                let mut conn = self.db.pool.acquire().await?;
                DB::execute(&mut conn, &mut qb).await
            },
            is_transient,
            tokio::time::sleep,
        )
        .await
        {
            Ok(changed) => Ok(changed),
            Err(e) => Err(self.db.failed(JOURNAL, e).await),
        }
    }

    async fn fetch(
        &self,
        sql: &str,
        params: Vec<SqlValue>,
        columns: usize,
    ) -> Result<Vec<TextRow>> {
        let rows = match retrying(
            || async {
                let mut qb = self.build(sql, &params);
                let mut conn = self.db.pool.acquire().await?;
                DB::fetch_all(&mut conn, &mut qb).await
            },
            is_transient,
            tokio::time::sleep,
        )
        .await
        {
            Ok(rows) => rows,
            Err(e) => return Err(self.db.failed(JOURNAL, e).await),
        };
        rows.iter()
            .map(|row| {
                (0..columns.min(row.len()))
                    .map(|i| match DB::read_value(row, i, &TEXT) {
                        Ok(Value::Text(text)) => Ok(Some(text)),
                        Ok(_) => Ok(None),
                        Err(error) => Err(AdapterError::Backend {
                            message: "reading the replication journal".into(),
                            source: Some(error),
                        }),
                    })
                    .collect()
            })
            .collect()
    }
}
