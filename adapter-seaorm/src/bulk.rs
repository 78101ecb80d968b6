//! The shared batch statements ([`adapter_interfaces::bulk`]) on SeaORM's
//! connections: the statement's text as a raw [`sea_orm::Statement`], every
//! parameter bound as this adapter binds a column of its kind, in the
//! caller's transaction.

use adapter_interfaces::bulk::{self, Statement};
use adapter_interfaces::schema::Dialect;
use sea_orm::{ConnectionTrait, DbBackend, DbErr, ExecResult};

use crate::value::to_db;

/// Runs `statement` on `conn`.
pub(crate) async fn execute(
    conn: &impl ConnectionTrait,
    statement: Statement,
) -> Result<ExecResult, DbErr> {
    let backend = conn.get_database_backend();
    let (sql, binds) = statement.into_sql(dialect(backend));
    let values = binds
        .into_iter()
        .map(|(kind, value)| to_db(backend, &bulk::parameter_column(kind), value));
    conn.execute_raw(sea_orm::Statement::from_sql_and_values(
        backend, sql, values,
    ))
    .await
}

/// The dialect of a SeaORM backend (MySQL and MariaDB quote and bind alike).
pub(crate) fn dialect(backend: DbBackend) -> Dialect {
    match backend {
        DbBackend::Postgres => Dialect::Postgres,
        DbBackend::MySql => Dialect::MariaDb,
        _ => Dialect::Sqlite,
    }
}
