//! The shared batch statements ([`adapter_interfaces::bulk`]) on Diesel's
//! connections: the statement's text through `sql_query`, every parameter
//! bound as [`Val`] of its column kind's SQL type, in the caller's
//! transaction.

use adapter_interfaces::bulk::Statement;
use adapter_interfaces::schema::Dialect;
use diesel::result::QueryResult;

use crate::conn::{Conn, on_conn};

/// Diesel's backend type of an `on_conn!` dialect name.
macro_rules! backend_of {
    (pg) => {
        diesel::pg::Pg
    };
    (mysql) => {
        diesel::mysql::Mysql
    };
    (sqlite) => {
        diesel::sqlite::Sqlite
    };
}

macro_rules! run_statement {
    // Paths in full: the table code expands this too.
    ($d:ident, $c:ident, $sql:ident, $binds:ident) => {{
        use adapter_interfaces::record::ColumnKind;
        use diesel::sql_types::{BigInt, Bool, Text};
        let mut query = diesel::sql_query($sql).into_boxed::<$crate::bulk::backend_of!($d)>();
        for (kind, value) in $binds {
            let value = $crate::types::Val(value);
            query = match kind {
                ColumnKind::Text { .. } => query.bind::<Text, _>(value),
                ColumnKind::Int => query.bind::<BigInt, _>(value),
                ColumnKind::Bool => query.bind::<Bool, _>(value),
                ColumnKind::Timestamp => query.bind::<$crate::types::Ts, _>(value),
                ColumnKind::Json => query.bind::<$crate::types::Json, _>(value),
            };
        }
        diesel_async::RunQueryDsl::execute(query, $c).await
    }};
}

// For the table code, which runs the shared statements on a concrete connection.
pub(crate) use {backend_of, run_statement};

/// Runs `statement` on `conn` (in its open transaction); returns the rows it changed.
pub(crate) async fn execute(
    conn: &mut Conn,
    dialect: Dialect,
    statement: Statement,
) -> QueryResult<usize> {
    let (sql, binds) = statement.into_sql(dialect);
    on_conn!(conn, run_statement!(sql, binds))
}

/// The dialect of a connection.
pub(crate) fn dialect(conn: &Conn) -> Dialect {
    match conn {
        #[cfg(feature = "postgres")]
        Conn::Postgres(_) => Dialect::Postgres,
        #[cfg(feature = "mysql")]
        Conn::Mysql(_) => Dialect::MariaDb,
        #[cfg(feature = "sqlite")]
        Conn::Sqlite(_) => Dialect::Sqlite,
    }
}
