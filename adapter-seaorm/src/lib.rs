//! # adapter-seaorm
//!
//! Switchyard data adapters on [SeaORM](https://www.sea-ql.org/SeaORM/) 2.x
//! for PostgreSQL, MySQL/MariaDB and SQLite: every trait of
//! `adapter_interfaces`, behaving exactly like the in-memory reference
//! adapter, on the one schema that the sqlx and Diesel backends share.
//!
//! - [`connect`] fails within a few seconds ([`connect_with`] takes a
//!   [`ConnectOptions`] timeout) with the database's own reason.
//! - [`connect`] picks the database from the URL (`postgres://`,
//!   `postgresql://`, `mysql://`, `mariadb://`, `sqlite://path`,
//!   `sqlite::memory:`); [`SeaOrmStore::from_connection`] wraps an existing
//!   [`DatabaseConnection`].
//! - [`SeaOrmStore::migrate`] applies the canonical schema through
//!   `sea-orm-migration` ([`migration::Migrator`]): idempotent, and a no-op
//!   on a database that another backend already migrated.
//! - [`SeaOrmStore::adapters`] gives the [`DataAdapters`] bundle.
//!
//! Cargo features: `sqlite` (default), `postgres`, `mysql`. A URL whose
//! feature is off is an `InvalidInput` error on `url` naming the feature.
//!
//! ## SQLite
//!
//! ```
//! use adapter_interfaces::{ListParams, TenantInsert, UserInsert};
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> adapter_interfaces::Result<()> {
//! let store = adapter_seaorm::connect("sqlite::memory:").await?;
//! store.migrate().await?;
//! assert_eq!(store.schema_version().await?, Some(adapter_interfaces::schema::SCHEMA_VERSION));
//! let db = store.adapters();
//! let tenant = db.tenants.create(TenantInsert { friendly_name: "Acme".into(), ..Default::default() }).await?;
//! let user = db.users.create(&tenant.id, UserInsert {
//!     email: Some("Ada@Example.com".into()),
//!     connection: "Username-Password-Authentication".into(),
//!     ..Default::default()
//! }).await?;
//! assert_eq!(user.email.as_deref(), Some("ada@example.com"));
//! let page = db.users.list(&tenant.id, &ListParams::default().with_q("email:ada@example.com")).await?;
//! assert_eq!(page.items, vec![user]);
//! # Ok(()) }
//! ```
//!
//! ## PostgreSQL (feature `postgres`)
//!
//! ```no_run
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> adapter_interfaces::Result<()> {
//! let store = adapter_seaorm::connect("postgres://postgres@127.0.0.1:5432/switchyard").await?;
//! store.migrate().await?;
//! let db = store.adapters();
//! assert!(db.tenants.get("acme").await?.is_none());
//! # Ok(()) }
//! ```
//!
//! ## MySQL / MariaDB (feature `mysql`)
//!
//! ```no_run
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> adapter_interfaces::Result<()> {
//! // `mariadb://` is accepted too; an existing connection works as well:
//! let connection = sea_orm::Database::connect("mysql://root@127.0.0.1:3306/switchyard")
//!     .await
//!     .map_err(|e| adapter_interfaces::AdapterError::backend("connecting", e))?;
//! let store = adapter_seaorm::SeaOrmStore::from_connection(connection);
//! store.migrate().await?;
//! let db = store.adapters();
//! assert!(db.tenants.get("acme").await?.is_none());
//! # Ok(()) }
//! ```
//!
//! ## How it maps onto SeaORM, and what it normalises
//!
//! - One `DeriveEntityModel` entity per table ([`entities`]), with the
//!   record's column names; records and models meet in one generic place,
//!   through `adapter_interfaces::record::{to_values, from_values}`.
//! - Timestamps and JSON use value types ([`value::DbTimestamp`],
//!   [`value::DbJson`]) that bind what each database stores in the shared
//!   schema: `TIMESTAMPTZ` / naive-UTC `DATETIME` / canonical text
//!   (`2024-01-01T00:00:00.000Z`) on SQLite; `JSONB` / JSON text. So every
//!   backend reads the rows this one writes, and the other way round.
//! - Secrets (password hashes, client secrets) are [`value::DbSecret`] in
//!   the models, redacted from `Debug`, and never part of an error message.
//! - `q` filters become sea-query conditions with every value bound;
//!   substring terms use `strpos` / `LOCATE` / `instr` (case-sensitive,
//!   never `LIKE`); comparisons are false on NULL. Descending/ascending NULL
//!   placement follows the reference (`NULLS FIRST/LAST` on PostgreSQL).
//! - Keyset pages add the implied bound `col >= v` (`<=` descending) to the
//!   cursor condition so that the `(tenant_id, col, key)` index serves each
//!   page from its start: a full scan is linear.
//! - `upsert_many` writes multi-row `insert_many` statements in one
//!   transaction, in batches under each database's bind-parameter limit,
//!   with `ON CONFLICT (tenant_id, key) DO UPDATE` on SQLite; on MySQL the
//!   shared multi-row `INSERT … ON DUPLICATE KEY UPDATE`
//!   (`adapter_interfaces::bulk::insert_values`, the bytes sqlx and Diesel
//!   send; `VALUES(col)`, the MariaDB form, which MySQL 8 still accepts with
//!   a deprecation warning), split within the bind limit and a 4 MiB packet
//!   budget, whose first assignment fails the statement when a row would
//!   land on another record through a unique key other than the primary key
//!   (`ON DUPLICATE KEY UPDATE` fires on any unique key): that is explained
//!   as the conflict it is. A batch writes its records in key order.
//!   On PostgreSQL a batch is instead one statement with one JSON parameter
//!   (the shared `adapter_interfaces::bulk::insert_rows`, as a raw
//!   statement), and a batch's password demotions are one `UPDATE` on every
//!   database: what sqlx and Diesel send too.
//! - A write, an update or a removal that the database aborts for
//!   concurrency (deadlock victim 1213/40P01, serialization failure 40001,
//!   lock wait timeout 1205, SQLITE_BUSY) runs again whole with
//!   `adapter_interfaces::retry`'s bounded, jittered backoff (the `backon`
//!   crate); a clash on another unique key stays a `Conflict`.
//! - Constraint violations are explained after rolling back, in the
//!   reference's order (missing tenant, missing parent user, taken key); a
//!   failed batch is replayed record by record to report the first failure.
//! - SQLite connections enable foreign keys, use WAL (files) and a busy
//!   timeout, and take write transactions with `BEGIN IMMEDIATE`; an
//!   in-memory database lives on one connection that is never recycled.

mod bulk;
pub mod entities;
mod journal;
mod mapping;
pub mod migration;
mod pool;
mod table;
pub mod value;

use std::sync::Arc;

use adapter_interfaces::schema::VERSION_TABLE;
use adapter_interfaces::{
    AdapterError, Application, Code, Connection, DataAdapters, Log, Password, Result, Session,
    Tenant, User,
};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
use sea_orm::{ConnectionTrait, DbBackend};
use sea_orm_migration::{MigratorTrait, SchemaManager};

pub use adapter_interfaces::ConnectOptions;
pub use sea_orm::DatabaseConnection;

use crate::table::Table;

/// A handle on one database: migrations, schema version and the adapters.
/// Clones share the connection pool.
#[derive(Clone)]
pub struct SeaOrmStore {
    db: Arc<DatabaseConnection>,
    /// The connect timeout of the fresh connection that explains a pool
    /// timeout ([`pool::failed`]).
    options: ConnectOptions,
}

impl std::fmt::Debug for SeaOrmStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SeaOrmStore")
            .field("backend", &self.backend())
            .finish_non_exhaustive()
    }
}

impl SeaOrmStore {
    /// Wraps an existing SeaORM connection. SQLite connections must have
    /// foreign keys enabled (sqlx's default) for cascades to work. Its pool's
    /// acquire timeout applies; a pool timeout is explained by a fresh
    /// connection within the default connect timeout.
    pub fn from_connection(db: DatabaseConnection) -> Self {
        Self::with_options(db, &ConnectOptions::default())
    }

    fn with_options(db: DatabaseConnection, options: &ConnectOptions) -> Self {
        Self {
            db: Arc::new(db),
            options: *options,
        }
    }

    /// The underlying connection.
    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    /// The database kind.
    pub fn backend(&self) -> DbBackend {
        self.db.get_database_backend()
    }

    /// Applies the shared schema through [`migration::Migrator`]. Idempotent.
    pub async fn migrate(&self) -> Result<()> {
        match migration::Migrator::up(self.db.as_ref(), None).await {
            Ok(()) => Ok(()),
            Err(e) => {
                Err(
                    pool::failed(&self.db, &self.options, "applying the Switchyard schema", e)
                        .await,
                )
            }
        }
    }

    /// `MAX(version)` of the schema version table; `None` if it is absent.
    pub async fn schema_version(&self) -> Result<Option<i64>> {
        const DOING: &str = "reading the schema version";
        let manager = SchemaManager::new(self.db.as_ref());
        match manager.has_table(VERSION_TABLE).await {
            Ok(true) => {}
            Ok(false) => return Ok(None),
            Err(e) => return Err(pool::failed(&self.db, &self.options, DOING, e).await),
        }
        let query = Query::select()
            .expr(Expr::col(Alias::new("version")).max())
            .from(Alias::new(VERSION_TABLE))
            .to_owned();
        match self.db.query_one(&query).await {
            Ok(Some(row)) => row
                .try_get_by_index::<Option<i64>>(0)
                .map_err(|e| AdapterError::backend(DOING, e)),
            Ok(None) => Ok(None),
            Err(e) => Err(pool::failed(&self.db, &self.options, DOING, e).await),
        }
    }

    /// The adapters of all eight entities over this store.
    pub fn adapters(&self) -> DataAdapters {
        DataAdapters {
            tenants: Arc::new(Table::<Tenant>::new(&self.db, &self.options)),
            users: Arc::new(Table::<User>::new(&self.db, &self.options)),
            applications: Arc::new(Table::<Application>::new(&self.db, &self.options)),
            connections: Arc::new(Table::<Connection>::new(&self.db, &self.options)),
            sessions: Arc::new(Table::<Session>::new(&self.db, &self.options)),
            codes: Arc::new(Table::<Code>::new(&self.db, &self.options)),
            passwords: Arc::new(Table::<Password>::new(&self.db, &self.options)),
            logs: Arc::new(Table::<Log>::new(&self.db, &self.options)),
            journal: Arc::new(adapter_interfaces::journal::sql::SqlJournal::new(
                journal::JournalConnection::new(self.db.clone(), self.options),
            )),
        }
    }
}

/// Connects to the database named by `url` (see the crate docs for the
/// schemes). Does not migrate: call [`SeaOrmStore::migrate`].
pub async fn connect(url: &str) -> Result<SeaOrmStore> {
    connect_with(url, &ConnectOptions::default()).await
}

/// As [`connect`], with options. One connection is opened directly first,
/// within `options.timeout` (SeaORM's pool would retry a refused connection
/// until its acquire timeout and report only that): a failure is
/// [`AdapterError::Connect`], with the database's reason and what to check.
///
/// Later, a query waits at most `options.acquire_timeout` for a pooled
/// connection; when none comes, it fails with [`AdapterError::PoolTimeout`],
/// which one fresh connection explains: the database's reason when it went
/// away, or that the pool's connections were all busy.
pub async fn connect_with(url: &str, options: &ConnectOptions) -> Result<SeaOrmStore> {
    urls::open(url, options)
        .await
        .map(|db| SeaOrmStore::with_options(db, options))
}

/// As [`connect_with`], but opens no connection until the first query: for
/// a store that may be down when the process starts (a migration's
/// secondary: its replication waits in the journal until it is back). A
/// query then waits at most `options.acquire_timeout` for a connection, and
/// fails with [`AdapterError::PoolTimeout`] and the database's reason.
/// PostgreSQL and MySQL/MariaDB only; open SQLite with [`connect_with`].
pub async fn connect_lazy_with(url: &str, options: &ConnectOptions) -> Result<SeaOrmStore> {
    urls::open_lazy(url, options)
        .await
        .map(|db| SeaOrmStore::with_options(db, options))
}

mod urls {
    //! URL handling and pool set-up.

    use adapter_interfaces::{AdapterError, ConnectError, ConnectOptions, Result};
    use sea_orm::DatabaseConnection;

    enum Target {
        Postgres,
        MySql,
        Sqlite,
    }

    /// The database kind of `url`, and the URL its driver wants.
    fn parse(url: &str) -> Result<(Target, String)> {
        let scheme = url
            .split_once(':')
            .map(|(s, _)| s.to_ascii_lowercase())
            .unwrap_or_default();
        match scheme.as_str() {
            "postgres" | "postgresql" => Ok((Target::Postgres, url.to_owned())),
            "mysql" => Ok((Target::MySql, url.to_owned())),
            // sqlx knows MariaDB by the MySQL scheme.
            "mariadb" => Ok((Target::MySql, format!("mysql{}", &url["mariadb".len()..]))),
            "sqlite" => Ok((Target::Sqlite, url.to_owned())),
            _ => Err(AdapterError::invalid(
                "url",
                "unsupported scheme; use postgres://, postgresql://, mysql://, mariadb://, \
                 sqlite://path or sqlite::memory:",
            )),
        }
    }

    /// A URL the driver cannot parse (its message may quote the URL: not kept).
    fn parse_error(err: impl std::fmt::Display) -> AdapterError {
        let _ = err.to_string();
        AdapterError::invalid("url", "is not a valid database URL")
    }

    /// A failure of the pool after the first connection succeeded.
    fn pool_error(
        url: &str,
        options: &ConnectOptions,
        err: &(dyn std::error::Error + 'static),
    ) -> AdapterError {
        AdapterError::Connect(ConnectError::from_driver(url, options, err, None))
    }

    /// Opens one connection within the timeout, for its error.
    async fn first_connection<C: sea_orm::sqlx::ConnectOptions>(
        url: &str,
        options: &ConnectOptions,
        connect_options: &C,
    ) -> Result<()>
    where
        C::Connection: Sized,
    {
        let connection = adapter_interfaces::connect::within(
            url,
            options,
            crate::pool::sqlstate,
            connect_options.connect(),
        )
        .await
        .map_err(AdapterError::Connect)?;
        let _ = sea_orm::sqlx::Connection::close(connection).await;
        Ok(())
    }

    #[cfg(not(all(feature = "postgres", feature = "mysql", feature = "sqlite")))]
    fn feature_off(database: &str, feature: &str) -> AdapterError {
        AdapterError::invalid(
            "url",
            format!(
                "{database} support is not compiled in; enable the `{feature}` feature of adapter-seaorm"
            ),
        )
    }

    #[cfg(feature = "postgres")]
    async fn postgres(url: &str, options: &ConnectOptions) -> Result<DatabaseConnection> {
        use std::str::FromStr;
        let connect_options =
            sea_orm::sqlx::postgres::PgConnectOptions::from_str(url).map_err(parse_error)?;
        first_connection(url, options, &connect_options).await?;
        server(url, options).await
    }

    #[cfg(feature = "mysql")]
    async fn mysql(url: &str, options: &ConnectOptions) -> Result<DatabaseConnection> {
        use std::str::FromStr;
        let connect_options =
            sea_orm::sqlx::mysql::MySqlConnectOptions::from_str(url).map_err(parse_error)?;
        first_connection(url, options, &connect_options).await?;
        server(url, options).await
    }

    #[cfg(any(feature = "postgres", feature = "mysql"))]
    async fn server(url: &str, options: &ConnectOptions) -> Result<DatabaseConnection> {
        pool(url, options, false).await
    }

    /// SeaORM's pool for a server URL; `lazy`: no connection until the first query.
    #[cfg(any(feature = "postgres", feature = "mysql"))]
    async fn pool(url: &str, options: &ConnectOptions, lazy: bool) -> Result<DatabaseConnection> {
        let mut pool_options = sea_orm::ConnectOptions::new(url.to_owned());
        // sqlx logs statements at INFO; keep them out of application logs.
        // SeaORM's `connect_timeout` is sqlx's acquire timeout too; the
        // explicit one below wins. The first connection (`first_connection`)
        // and the probe of a pool timeout have their own `options.timeout`.
        pool_options
            .sqlx_logging(false)
            .connect_timeout(options.timeout)
            .acquire_timeout(options.acquire_timeout)
            .connect_lazy(lazy);
        sea_orm::Database::connect(pool_options)
            .await
            .map_err(|e| pool_error(url, options, &e))
    }

    /// A server URL's pool without connecting (see [`super::connect_lazy_with`]).
    pub(super) async fn open_lazy(
        url: &str,
        options: &ConnectOptions,
    ) -> Result<DatabaseConnection> {
        let (target, url) = parse(url)?;
        match target {
            #[cfg(feature = "postgres")]
            Target::Postgres => pool(&url, options, true).await,
            #[cfg(feature = "mysql")]
            Target::MySql => pool(&url, options, true).await,
            #[allow(unreachable_patterns)]
            _ => Err(AdapterError::invalid(
                "url",
                "a lazy connection needs postgres:// or mysql:// (with its feature on); open SQLite with connect",
            )),
        }
    }

    #[cfg(feature = "sqlite")]
    async fn sqlite(url: &str, options: &ConnectOptions) -> Result<DatabaseConnection> {
        use std::str::FromStr;
        use std::time::Duration;

        use sea_orm::SqlxSqliteConnector;
        use sea_orm::sqlx::ConnectOptions;
        use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};

        let memory = url.contains(":memory:") || url.contains("mode=memory");
        let mut connect_options = SqliteConnectOptions::from_str(url)
            .map_err(parse_error)?
            .create_if_missing(true)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(30))
            .disable_statement_logging();
        let pool = if memory {
            // Every connection would open its own empty database: keep one, forever.
            SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
        } else {
            connect_options = connect_options.journal_mode(SqliteJournalMode::Wal);
            first_connection(url, options, &connect_options).await?;
            SqlitePoolOptions::new().max_connections(8)
        };
        let pool = pool
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect_options)
            .await
            .map_err(|e| pool_error(url, options, &e))?;
        Ok(SqlxSqliteConnector::from_sqlx_sqlite_pool(pool))
    }

    pub(super) async fn open(url: &str, options: &ConnectOptions) -> Result<DatabaseConnection> {
        let (target, url) = parse(url)?;
        let _ = &url;
        match target {
            #[cfg(feature = "postgres")]
            Target::Postgres => postgres(&url, options).await,
            #[cfg(not(feature = "postgres"))]
            Target::Postgres => Err(feature_off("PostgreSQL", "postgres")),
            #[cfg(feature = "mysql")]
            Target::MySql => mysql(&url, options).await,
            #[cfg(not(feature = "mysql"))]
            Target::MySql => Err(feature_off("MySQL/MariaDB", "mysql")),
            #[cfg(feature = "sqlite")]
            Target::Sqlite => sqlite(&url, options).await,
            #[cfg(not(feature = "sqlite"))]
            Target::Sqlite => Err(feature_off("SQLite", "sqlite")),
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn connect_errors_drop_passwords() {
            let driver = std::io::Error::other("auth failed for s3cret");
            let e = pool_error("mysql://u:s3cret@h/db", &ConnectOptions::default(), &driver);
            assert!(!format!("{e} {:?}", e).contains("s3cret"));
        }

        #[tokio::test]
        async fn unknown_schemes_are_invalid_input_on_url() {
            let err = open("oracle://scott:tiger@h/db", &ConnectOptions::default())
                .await
                .unwrap_err();
            assert!(matches!(err, AdapterError::InvalidInput { ref field, .. } if field == "url"));
            assert!(!err.to_string().contains("tiger"));
        }

        #[cfg(feature = "postgres")]
        #[tokio::test]
        async fn a_lazy_store_opens_while_its_server_is_down_and_fails_its_queries_in_time() {
            use std::time::{Duration, Instant};
            let options = ConnectOptions::with_timeout(Duration::from_millis(500))
                .with_acquire_timeout(Duration::from_millis(500));
            // Port 1 refuses connections.
            let store = crate::connect_lazy_with("postgres://u:s3cret@127.0.0.1:1/x", &options)
                .await
                .expect("a lazy store opens without its server");
            let started = Instant::now();
            let err = store.adapters().tenants.get("acme").await.unwrap_err();
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "{:?}",
                started.elapsed()
            );
            assert!(!format!("{err} {err:?}").contains("s3cret"));
            // The pool says only that it timed out; a fresh connection says why.
            assert!(matches!(err, AdapterError::PoolTimeout { .. }), "{err:?}");
            assert!(err.to_string().contains("refused the connection"), "{err}");
            let err = open_lazy("sqlite::memory:", &options).await.unwrap_err();
            assert!(matches!(err, AdapterError::InvalidInput { ref field, .. } if field == "url"));
        }
    }
}
