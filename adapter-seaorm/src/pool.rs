//! A pool that timed out, explained: the one place where a SeaORM error of
//! a call on the pool becomes an [`AdapterError`] ([`failed`]).
//!
//! SeaORM reports sqlx's pool timeout as `ConnectionAcquire(Timeout)`, with
//! no cause (sqlx retries a refused connection silently until then). One
//! fresh connection with the pool's own options tells why; the diagnosis and
//! its words are [`PoolTimeout::diagnose`]'s, shared with the other backends.

use adapter_interfaces::{AdapterError, ConnectOptions, PoolTimeout};
use sea_orm::{ConnAcquireErr, DatabaseConnection, DbBackend, DbErr};

/// The server's SQLSTATE of a sqlx error, where it has one.
pub(crate) fn sqlstate(error: &sea_orm::sqlx::Error) -> Option<String> {
    error
        .as_database_error()
        .and_then(|db| db.code())
        .map(|code| code.into_owned())
}

/// The error of a call on `db`'s pool: a pool timeout is explained by a
/// fresh connection (within `options.timeout`); any other error is wrapped
/// with what was being done.
pub(crate) async fn failed(
    db: &DatabaseConnection,
    options: &ConnectOptions,
    doing: impl Into<String>,
    err: DbErr,
) -> AdapterError {
    if matches!(err, DbErr::ConnectionAcquire(ConnAcquireErr::Timeout))
        && let Some(diagnosis) = diagnose(db, options).await
    {
        return AdapterError::PoolTimeout {
            doing: doing.into(),
            diagnosis: Box::new(diagnosis),
        };
    }
    AdapterError::backend(doing, err)
}

/// The diagnosis of the sqlx pool under `db`.
async fn diagnose(db: &DatabaseConnection, options: &ConnectOptions) -> Option<PoolTimeout> {
    let _ = options;
    match db.get_database_backend() {
        #[cfg(feature = "postgres")]
        DbBackend::Postgres => Some(probe(db.get_postgres_connection_pool(), options).await),
        #[cfg(feature = "mysql")]
        DbBackend::MySql => Some(probe(db.get_mysql_connection_pool(), options).await),
        #[cfg(feature = "sqlite")]
        DbBackend::Sqlite => Some(probe(db.get_sqlite_connection_pool(), options).await),
        #[allow(unreachable_patterns)]
        _ => None,
    }
}

/// One fresh connection with `pool`'s options. The URL rebuilt from them
/// only names the target and the password to hide.
#[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
async fn probe<DB: sea_orm::sqlx::Database>(
    pool: &sea_orm::sqlx::Pool<DB>,
    options: &ConnectOptions,
) -> PoolTimeout {
    use sea_orm::sqlx::ConnectOptions as _;
    let connect_options = pool.connect_options();
    let url = connect_options.to_url_lossy().to_string();
    let fresh = async {
        let connection = connect_options.connect().await?;
        // Only a probe: the pool opens its own connections.
        let _ = sea_orm::sqlx::Connection::close(connection).await;
        Ok::<_, sea_orm::sqlx::Error>(())
    };
    PoolTimeout::diagnose(
        &url,
        options,
        pool.options().get_max_connections(),
        pool.options().get_acquire_timeout(),
        sqlstate,
        fresh,
    )
    .await
}
