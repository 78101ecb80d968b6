//! Pools and pooled connections of the three backends, behind one enum so
//! that the store's logic is written once.

use diesel::result::QueryResult;
use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_async::{AsyncConnection, TransactionManager};

#[cfg(feature = "mysql")]
pub(crate) use diesel_async::AsyncMysqlConnection;
#[cfg(feature = "postgres")]
pub(crate) use diesel_async::AsyncPgConnection;

/// The SQLite connection: synchronous Diesel run on Tokio's blocking pool.
#[cfg(feature = "sqlite")]
pub type SqliteConn =
    diesel_async::sync_connection_wrapper::SyncConnectionWrapper<diesel::SqliteConnection>;

/// A pool of one of the backends.
#[derive(Clone)]
pub enum AnyPool {
    /// PostgreSQL.
    #[cfg(feature = "postgres")]
    Postgres(Pool<AsyncPgConnection>),
    /// MySQL or MariaDB.
    #[cfg(feature = "mysql")]
    Mysql(Pool<AsyncMysqlConnection>),
    /// SQLite.
    #[cfg(feature = "sqlite")]
    Sqlite(Pool<SqliteConn>),
}

impl AnyPool {
    /// Takes one connection and gives it back, for the driver's reason when
    /// the database cannot be reached (the pool creates connections lazily).
    /// Every pool error is flattened to its message: the reason is read from
    /// the text (see `adapter_interfaces::connect`).
    pub(crate) async fn first_connection(&self) -> Result<(), std::io::Error> {
        use diesel_async::pooled_connection::deadpool::PoolError;
        fn message(error: PoolError) -> std::io::Error {
            match error {
                // Not deadpool's "error occurred while creating a new object: " prefix.
                PoolError::Backend(error) => std::io::Error::other(error.to_string()),
                other => std::io::Error::other(other.to_string()),
            }
        }
        match self {
            // See `first_postgres_connection`.
            #[cfg(feature = "postgres")]
            AnyPool::Postgres(_) => Ok(()),
            #[cfg(feature = "mysql")]
            AnyPool::Mysql(pool) => pool.get().await.map(drop).map_err(message),
            #[cfg(feature = "sqlite")]
            AnyPool::Sqlite(pool) => pool.get().await.map(drop).map_err(message),
        }
    }
}

impl AnyPool {
    /// How many connections the pool may hold.
    pub(crate) fn max_size(&self) -> usize {
        match self {
            #[cfg(feature = "postgres")]
            AnyPool::Postgres(pool) => pool.status().max_size,
            #[cfg(feature = "mysql")]
            AnyPool::Mysql(pool) => pool.status().max_size,
            #[cfg(feature = "sqlite")]
            AnyPool::Sqlite(pool) => pool.status().max_size,
        }
    }

    /// Opens and closes one connection to `url` outside the pool, of the
    /// pool's kind (PostgreSQL has `first_postgres_connection`, whose error
    /// keeps its cause).
    pub(crate) async fn fresh_connection(&self, url: &str) -> Result<(), diesel::ConnectionError> {
        match self {
            #[cfg(feature = "postgres")]
            AnyPool::Postgres(_) => AsyncPgConnection::establish(url).await.map(drop),
            #[cfg(feature = "mysql")]
            AnyPool::Mysql(_) => AsyncMysqlConnection::establish(url).await.map(drop),
            #[cfg(feature = "sqlite")]
            AnyPool::Sqlite(_) => {
                let path = crate::sqlite_path(url)
                    .map_err(|e| diesel::ConnectionError::BadConnection(e.to_string()))?;
                SqliteConn::establish(&path).await.map(drop)
            }
        }
    }
}

/// The first PostgreSQL connection, opened as diesel-async opens its own
/// (`tokio_postgres::connect` without TLS), but with the driver's error kept
/// whole: diesel-async reduces it to "error connecting to server".
#[cfg(feature = "postgres")]
pub(crate) async fn first_postgres_connection(url: &str) -> Result<(), tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    drop(client);
    // The connection ends once the client is gone.
    let _ = connection.await;
    Ok(())
}

/// A connection taken from an [`AnyPool`].
// One lives briefly per call; boxing the larger variants would buy nothing.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Conn {
    #[cfg(feature = "postgres")]
    Postgres(Object<AsyncPgConnection>),
    #[cfg(feature = "mysql")]
    Mysql(Object<AsyncMysqlConnection>),
    #[cfg(feature = "sqlite")]
    Sqlite(Object<SqliteConn>),
}

/// Runs `$m!(dialect, c, args..)` with `c` the concrete connection of `$conn`:
/// the macro's body is written once and compiled for each backend.
macro_rules! on_conn {
    ($conn:expr, $m:ident ! ( $($args:tt)* )) => {
        match $conn {
            #[cfg(feature = "postgres")]
            $crate::conn::Conn::Postgres(c) => {
                let c: &mut $crate::conn::AsyncPgConnection = &mut **c;
                $m!(pg, c, $($args)*)
            }
            #[cfg(feature = "mysql")]
            $crate::conn::Conn::Mysql(c) => {
                let c: &mut $crate::conn::AsyncMysqlConnection = &mut **c;
                $m!(mysql, c, $($args)*)
            }
            #[cfg(feature = "sqlite")]
            $crate::conn::Conn::Sqlite(c) => {
                let c: &mut $crate::conn::SqliteConn = &mut **c;
                $m!(sqlite, c, $($args)*)
            }
        }
    };
}
pub(crate) use on_conn;

async fn begin<C: AsyncConnection>(c: &mut C) -> QueryResult<()> {
    C::TransactionManager::begin_transaction(c).await
}
async fn commit<C: AsyncConnection>(c: &mut C) -> QueryResult<()> {
    C::TransactionManager::commit_transaction(c).await
}
async fn rollback<C: AsyncConnection>(c: &mut C) -> QueryResult<()> {
    C::TransactionManager::rollback_transaction(c).await
}

macro_rules! tx_step {
    ($d:ident, $c:ident, $f:ident) => {
        $f($c).await
    };
}

impl Conn {
    /// Opens a transaction. Diesel's transaction manager tracks it, so a
    /// connection dropped mid-transaction is discarded by the pool, not reused.
    pub(crate) async fn begin(&mut self) -> QueryResult<()> {
        on_conn!(self, tx_step!(begin))
    }

    /// Commits the open transaction.
    pub(crate) async fn commit(&mut self) -> QueryResult<()> {
        on_conn!(self, tx_step!(commit))
    }

    /// Rolls the open transaction back.
    pub(crate) async fn rollback(&mut self) -> QueryResult<()> {
        on_conn!(self, tx_step!(rollback))
    }
}
