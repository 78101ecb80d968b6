//! The replication journal on this crate's pools: the shared statements of
//! [`adapter_interfaces::journal::sql`], run with `sql_query` and dynamic
//! binds, their rows read column by column as nullable text.

use adapter_interfaces::journal::sql::{JournalSql, SqlValue, TextRow, is_retryable, retrying};
use adapter_interfaces::schema::Dialect;
use adapter_interfaces::{AdapterError, Result, async_trait};
use diesel::backend::Backend;
use diesel::deserialize::{FromSql, QueryableByName};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::row::{Field, NamedRow, Row};
use diesel::sql_types::{BigInt, Nullable, Text};

use crate::conn::Conn;
use crate::store::DieselStore;

/// The store's pool seen as the journal's executor.
pub(crate) struct JournalPool {
    store: DieselStore,
}

impl JournalPool {
    pub(crate) fn new(store: DieselStore) -> Self {
        Self { store }
    }
}

/// A row of a journal query: every column, by position, as nullable text
/// (the statements cast every column they select to text).
struct TextColumns(TextRow);

impl<DB: Backend> QueryableByName<DB> for TextColumns
where
    Option<String>: FromSql<Nullable<Text>, DB>,
{
    fn build<'a>(row: &impl NamedRow<'a, DB>) -> diesel::deserialize::Result<Self> {
        (0..Row::field_count(row))
            .map(|i| {
                let field = Row::get(row, i).ok_or("a journal column vanished")?;
                <Option<String> as FromSql<Nullable<Text>, DB>>::from_nullable_sql(field.value())
            })
            .collect::<diesel::deserialize::Result<TextRow>>()
            .map(TextColumns)
    }
}

/// Whether Diesel reports an error where the statement may simply run again.
fn is_transient(error: &DieselError) -> bool {
    match error {
        DieselError::DatabaseError(kind, info) => {
            let code = matches!(kind, DatabaseErrorKind::SerializationFailure).then_some("40001");
            is_retryable(code, info.message())
        }
        _ => false,
    }
}

fn journal_error(error: DieselError) -> AdapterError {
    AdapterError::backend("writing the replication journal", error)
}

/// `$sql` with `$params` bound, as a boxed query for backend `$db`.
macro_rules! bound {
    ($db:ty, $sql:expr, $params:expr) => {{
        let mut query = diesel::sql_query($sql.to_owned()).into_boxed::<$db>();
        for param in $params {
            query = match param {
                SqlValue::Int(i) => query.bind::<BigInt, _>(*i),
                SqlValue::Text(t) => query.bind::<Text, _>(t.clone()),
            };
        }
        query
    }};
}

/// Runs `bound!(…).$method(c)` on the concrete connection of `$conn`.
macro_rules! run {
    ($conn:expr, $sql:expr, $params:expr, $($method:tt)+) => {{
        use diesel_async::RunQueryDsl;
        match $conn {
            #[cfg(feature = "postgres")]
            Conn::Postgres(c) => bound!(diesel::pg::Pg, $sql, $params).$($method)+(&mut **c).await,
            #[cfg(feature = "mysql")]
            Conn::Mysql(c) => bound!(diesel::mysql::Mysql, $sql, $params).$($method)+(&mut **c).await,
            #[cfg(feature = "sqlite")]
            Conn::Sqlite(c) => bound!(diesel::sqlite::Sqlite, $sql, $params).$($method)+(&mut **c).await,
        }
    }};
}

/// A failed try of a journal statement.
enum Failed {
    /// No connection (the pool's error, already described).
    Pool(AdapterError),
    /// The statement failed.
    Statement(DieselError),
}

impl Failed {
    fn retryable(&self) -> bool {
        matches!(self, Failed::Statement(e) if is_transient(e))
    }

    fn into_error(self) -> AdapterError {
        match self {
            Failed::Pool(e) => e,
            Failed::Statement(e) => journal_error(e),
        }
    }
}

/// Runs `run!(conn, $sql, $params, $method)` on a pooled connection of
/// `$pool`, retrying what may simply run again; on SQLite, serialised with
/// the store's own writes (one writer at a time, as they are).
macro_rules! retried {
    ($pool:expr, $sql:expr, $params:expr, $($method:tt)+) => {{
        let _guard = $pool.store.write_guard().await;
        retrying(
            || async {
                let mut conn = $pool.store.conn().await.map_err(Failed::Pool)?;
                run!(&mut conn, $sql, $params, $($method)+).map_err(Failed::Statement)
            },
            Failed::retryable,
            tokio::time::sleep,
        )
        .await
        .map_err(Failed::into_error)
    }};
}

#[async_trait]
impl JournalSql for JournalPool {
    fn dialect(&self) -> Dialect {
        match self.store.dialect() {
            // The statements only tell MySQL-family from the others.
            Dialect::MariaDb => Dialect::MySql,
            other => other,
        }
    }

    async fn execute(&self, sql: &str, params: Vec<SqlValue>) -> Result<u64> {
        let affected = retried!(self, sql, &params, execute)?;
        Ok(affected as u64)
    }

    async fn fetch(
        &self,
        sql: &str,
        params: Vec<SqlValue>,
        columns: usize,
    ) -> Result<Vec<TextRow>> {
        let rows: Vec<TextColumns> = retried!(self, sql, &params, load::<TextColumns>)?;
        Ok(rows
            .into_iter()
            .map(|TextColumns(mut row)| {
                row.resize(columns, None);
                row
            })
            .collect())
    }
}
