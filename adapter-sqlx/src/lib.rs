//! # adapter-sqlx
//!
//! Switchyard's data adapters on [sqlx](https://docs.rs/sqlx) 0.9, for
//! PostgreSQL (feature `postgres`), MySQL 8 / MariaDB 10.11+ (feature
//! `mysql`) and SQLite (feature `sqlite`, on by default). One generic
//! implementation, driven by each entity's column metadata
//! ([`adapter_interfaces::Record::COLUMNS`]), serves all eight entities on
//! all three databases; every value reaches the database as a bound
//! parameter.
//!
//! [`connect`] picks the database from the URL and fails within a few
//! seconds ([`connect_with`] takes a [`ConnectOptions`] timeout) with the
//! database's own reason; [`SqlxStore::migrate`]
//! applies the shared schema (through sqlx's migrator, bookkept in its own
//! table `switchyard_sqlx_migrations`; a database that another backend
//! migrated is left as it is), and [`SqlxStore::adapters`] hands out the
//! [`DataAdapters`] bundle. Stores can also wrap an existing pool
//! ([`SqlxStore::from_sqlite_pool`], [`SqlxStore::from_postgres_pool`],
//! [`SqlxStore::from_mysql_pool`]).
//!
//! ## SQLite
//!
//! ```
//! use adapter_interfaces::{ListParams, TenantInsert, UserInsert};
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> adapter_interfaces::Result<()> {
//! let store = adapter_sqlx::connect("sqlite::memory:").await?;
//! store.migrate().await?;
//! assert_eq!(store.schema_version().await?, Some(adapter_interfaces::schema::SCHEMA_VERSION));
//! let db = store.adapters();
//! let acme = db.tenants.create(TenantInsert { id: Some("acme".into()), friendly_name: "Acme".into(), ..Default::default() }).await?;
//! let ada = db.users.create(&acme.id, UserInsert {
//!     email: Some("Ada@Example.com".into()),
//!     connection: "Username-Password-Authentication".into(),
//!     ..Default::default()
//! }).await?;
//! assert_eq!(ada.email.as_deref(), Some("ada@example.com"));
//! let page = db.users.list(&acme.id, &ListParams::default().with_q("email:ada@example.com")).await?;
//! assert_eq!(page.items, vec![ada]);
//! # Ok(()) }
//! ```
//!
//! A file: `sqlite://switchyard.db` (relative to the working directory,
//! created if missing; WAL journal, foreign keys on, 5 s busy timeout).
//!
//! ## PostgreSQL
//!
//! ```no_run
//! # #[cfg(feature = "postgres")]
//! # async fn example() -> adapter_interfaces::Result<()> {
//! let store = adapter_sqlx::connect("postgres://postgres@127.0.0.1:5432/switchyard").await?;
//! store.migrate().await?;
//! let db = store.adapters();
//! let tenants = db.tenants.list(&Default::default()).await?;
//! # let _ = tenants; Ok(()) }
//! ```
//!
//! Or from a pool the application already has:
//!
//! ```no_run
//! # #[cfg(feature = "postgres")]
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! let pool = sqlx::PgPool::connect("postgres://postgres@127.0.0.1:5432/switchyard").await?;
//! let store = adapter_sqlx::SqlxStore::from_postgres_pool(pool);
//! store.migrate().await?;
//! # Ok(()) }
//! ```
//!
//! ## MySQL and MariaDB
//!
//! ```no_run
//! # #[cfg(feature = "mysql")]
//! # async fn example() -> adapter_interfaces::Result<()> {
//! // `mariadb://` works as well.
//! let store = adapter_sqlx::connect("mysql://root@127.0.0.1:3306/switchyard").await?;
//! store.migrate().await?;
//! let db = store.adapters();
//! let page = db.tenants.list(&Default::default()).await?;
//! # let _ = page; Ok(()) }
//! ```
//!
//! ## What is normalised, per database
//!
//! - Timestamps are whole UTC milliseconds everywhere: `TIMESTAMPTZ(3)` on
//!   PostgreSQL, `DATETIME(3)` holding UTC wall-clock time on MySQL (bound and
//!   read as naive UTC, so the session time zone never applies), and the
//!   canonical text `2024-01-01T00:00:00.000Z` on SQLite.
//! - Text compares and sorts by bytes through the schema's collations
//!   (`COLLATE "C"`, `utf8mb4_nopad_bin`/`utf8mb4_0900_bin`, SQLite `BINARY`);
//!   substring search uses `strpos`/`LOCATE`/`instr`, never `LIKE`.
//! - JSON: `JSONB` on PostgreSQL; on MariaDB (LONGTEXT) and SQLite it is
//!   stored as text and parsed on read; values compare as `serde_json::Value`.
//! - NULL order: ascending puts NULLs first as MySQL and SQLite do;
//!   PostgreSQL gets `NULLS FIRST`/`NULLS LAST` where a nullable column is
//!   sorted and NULLs can occur in the page.
//! - No `RETURNING` (MySQL lacks it): `codes.consume` is an `UPDATE ... WHERE
//!   used_at IS NULL AND expires_at > now` followed by a read in the same
//!   transaction, on every database.
//! - Upserts never delete: `ON CONFLICT (tenant_id, key) DO UPDATE` on
//!   PostgreSQL and SQLite; on MySQL one multi-row `INSERT … ON DUPLICATE
//!   KEY UPDATE` per batch (the shared `adapter_interfaces::bulk::
//!   insert_values`, also what SeaORM and Diesel send), whose first
//!   assignment fails the statement when a row lands on another record
//!   through a unique key other than the primary key (a user's email), so
//!   that such a clash is a conflict, as elsewhere. The new values are
//!   `VALUES(col)`, which MariaDB and MySQL both parse (MySQL 8.0.20+ with
//!   a deprecation warning).
//! - `upsert_many` writes multi-row `INSERT`s in one transaction, in batches
//!   under each database's bind-parameter limit (65535, 65535, 32766) and
//!   about 4 MiB of values (MariaDB's `max_allowed_packet`); on PostgreSQL
//!   a batch is one statement with one JSON parameter, the shared
//!   `adapter_interfaces::bulk::insert_rows` that SeaORM and Diesel run too.
//!   The demotions of a batch of passwords are one `UPDATE` (one per user
//!   only when a batch holds several current passwords of one user).
//! - Concurrent writers: SQLite write transactions start with `BEGIN
//!   IMMEDIATE`, so they wait for each other (busy timeout) instead of
//!   failing. On MySQL an upsert is one statement per batch with no
//!   look-up before it (so no race between a look-up and the write); a
//!   batch writes its records in key order, and a password rotation locks
//!   its user rows first (sorted). A write the database aborts anyway
//!   (deadlock victim 1213/40P01, serialization failure 40001, lock wait
//!   timeout 1205, SQLITE_BUSY) runs again whole with
//!   `adapter_interfaces::retry`'s bounded, jittered backoff (the `backon`
//!   crate); so do updates and removals.
//! - Keyset pages seek the `(tenant_id, column, key)` index: a row comparison
//!   `(column, key) > (?, ?)` on PostgreSQL, the implied `column >= ?` range
//!   plus the exact condition elsewhere, so a full scan is linear. After many
//!   rows are written through one store, PostgreSQL gets an `ANALYZE` of the
//!   table (at 10 000 rows, then at every doubling): with the statistics of an
//!   empty table its planner sorts every page instead of reading the index.

// Built without any database feature, the crate only reports that it has none.
#![cfg_attr(
    not(any(feature = "postgres", feature = "mysql", feature = "sqlite")),
    allow(unused)
)]

mod backend;
mod bulk;
mod journal;
mod sql;
mod store;

use std::sync::Arc;

pub use adapter_interfaces::ConnectOptions;
use adapter_interfaces::journal::sql::SqlJournal;
use adapter_interfaces::schema::{self, Dialect};
use adapter_interfaces::{AdapterError, DataAdapters, Result};

use crate::backend::Backend;
use crate::store::Db;

/// Connections per pool for PostgreSQL and MySQL.
#[cfg(any(feature = "postgres", feature = "mysql"))]
const POOL_SIZE: u32 = 8;

/// The table in which sqlx's migrator records what this crate applied (its
/// own, so that an application's `_sqlx_migrations` is not disturbed).
pub const MIGRATIONS_TABLE: &str = "switchyard_sqlx_migrations";

/// A connection pool to one database, with the shared schema's adapters.
///
/// Cheap to clone (the pool is shared).
#[derive(Clone)]
pub struct SqlxStore {
    inner: Inner,
}

#[derive(Clone)]
enum Inner {
    #[cfg(feature = "postgres")]
    Postgres(Arc<Db<sqlx::Postgres>>),
    #[cfg(feature = "mysql")]
    MySql(Arc<Db<sqlx::MySql>>),
    #[cfg(feature = "sqlite")]
    Sqlite(Arc<Db<sqlx::Sqlite>>),
}

/// Runs `$body` with `$db` bound to the store of whichever database `$store` holds.
macro_rules! dispatch {
    ($store:expr, $db:ident => $body:expr) => {
        match $store.inner {
            #[cfg(feature = "postgres")]
            Inner::Postgres(ref $db) => $body,
            #[cfg(feature = "mysql")]
            Inner::MySql(ref $db) => $body,
            #[cfg(feature = "sqlite")]
            Inner::Sqlite(ref $db) => $body,
        }
    };
}

impl std::fmt::Debug for SqlxStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlxStore")
            .field("dialect", &self.dialect())
            .finish_non_exhaustive()
    }
}

fn bundle<DB: Backend>(db: &Arc<Db<DB>>) -> DataAdapters {
    DataAdapters {
        tenants: db.clone(),
        users: db.clone(),
        applications: db.clone(),
        connections: db.clone(),
        sessions: db.clone(),
        codes: db.clone(),
        passwords: db.clone(),
        logs: db.clone(),
        journal: Arc::new(SqlJournal::new(journal::JournalPool::new(db.clone()))),
    }
}

fn url_error(reason: impl Into<String>) -> AdapterError {
    AdapterError::invalid("url", reason)
}

/// The URL with any password replaced by `***`, for logs and messages.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// Connects to the database a URL names: `postgres://` / `postgresql://`,
/// `mysql://` / `mariadb://`, `sqlite://path` (relative to the working
/// directory, created if missing) or `sqlite::memory:`, with the default
/// [`ConnectOptions`] (see [`connect_with`]).
///
/// An unknown scheme, or one whose cargo feature is off, is
/// [`AdapterError::InvalidInput`] on `url`. Does not migrate: call
/// [`SqlxStore::migrate`].
pub async fn connect(url: &str) -> Result<SqlxStore> {
    connect_with(url, &ConnectOptions::default()).await
}

/// As [`connect`], with options. The first connection is opened directly,
/// within `options.timeout`: a pool would retry a refused connection until
/// its acquire timeout and then report only that it timed out. A failure is
/// [`AdapterError::Connect`], with the database's reason and what to check.
///
/// Later, a query waits at most `options.acquire_timeout` for a pooled
/// connection; when none comes, it fails with [`AdapterError::PoolTimeout`],
/// which one fresh connection explains: the database's reason when it went
/// away, or that the pool's connections were all busy.
pub async fn connect_with(url: &str, options: &ConnectOptions) -> Result<SqlxStore> {
    let scheme = url
        .split_once(':')
        .map(|(s, _)| s.to_ascii_lowercase())
        .unwrap_or_default();
    tracing::debug!(url = %redact_url(url), "connecting");
    match scheme.as_str() {
        "postgres" | "postgresql" => connect_postgres(url, options).await,
        "mysql" | "mariadb" => connect_mysql(url, options).await,
        "sqlite" => connect_sqlite(url, options).await,
        _ => Err(url_error(
            "unsupported scheme; use postgres://, postgresql://, mysql://, mariadb://, sqlite://path or sqlite::memory:",
        )),
    }
}

/// As [`connect`], but opens no connection until the first query: for a
/// store that may be down when the process starts (a migration's secondary:
/// its replication waits in the journal until it is back). A MySQL-family
/// URL's flavour is taken from its scheme (`mariadb://` or `mysql://`); it
/// only matters to [`SqlxStore::migrate`], so migrate through [`connect`].
pub fn connect_lazy(url: &str) -> Result<SqlxStore> {
    connect_lazy_with(url, &ConnectOptions::default())
}

/// As [`connect_lazy`], with options: a query waits at most
/// `options.acquire_timeout` for a connection, then fails with
/// [`AdapterError::PoolTimeout`] and the database's reason.
pub fn connect_lazy_with(url: &str, options: &ConnectOptions) -> Result<SqlxStore> {
    let scheme = url
        .split_once(':')
        .map(|(s, _)| s.to_ascii_lowercase())
        .unwrap_or_default();
    let _ = options;
    match scheme.as_str() {
        #[cfg(feature = "postgres")]
        "postgres" | "postgresql" => {
            let pool = sqlx::postgres::PgPoolOptions::new()
                .max_connections(POOL_SIZE)
                .acquire_timeout(options.acquire_timeout)
                .connect_lazy_with(postgres_options(url)?);
            Ok(SqlxStore::postgres(pool, options))
        }
        #[cfg(feature = "mysql")]
        "mysql" | "mariadb" => {
            let dialect = if scheme == "mariadb" {
                Dialect::MariaDb
            } else {
                Dialect::MySql
            };
            let pool = sqlx::mysql::MySqlPoolOptions::new()
                .max_connections(POOL_SIZE)
                .acquire_timeout(options.acquire_timeout)
                .connect_lazy_with(mysql_options(url)?);
            Ok(SqlxStore::mysql(pool, dialect, options))
        }
        _ => Err(url_error(
            "a lazy connection needs postgres:// or mysql:// (with its feature on); open SQLite with connect",
        )),
    }
}

#[cfg(not(feature = "postgres"))]
async fn connect_postgres(_url: &str, _options: &ConnectOptions) -> Result<SqlxStore> {
    Err(url_error(
        "PostgreSQL support is off: enable the `postgres` feature of adapter-sqlx",
    ))
}

#[cfg(not(feature = "mysql"))]
async fn connect_mysql(_url: &str, _options: &ConnectOptions) -> Result<SqlxStore> {
    Err(url_error(
        "MySQL support is off: enable the `mysql` feature of adapter-sqlx",
    ))
}

#[cfg(not(feature = "sqlite"))]
async fn connect_sqlite(_url: &str, _options: &ConnectOptions) -> Result<SqlxStore> {
    Err(url_error(
        "SQLite support is off: enable the `sqlite` feature of adapter-sqlx",
    ))
}

/// Opens one connection within the timeout, for its error: see [`connect_with`].
#[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
async fn first_connection<C: sqlx::ConnectOptions>(
    url: &str,
    options: &ConnectOptions,
    connect_options: &C,
) -> Result<()>
where
    C::Connection: Sized,
{
    let connection =
        adapter_interfaces::connect::within(url, options, sqlstate, connect_options.connect())
            .await
            .map_err(AdapterError::Connect)?;
    // The pool opens its own connections; this one only proved the URL.
    let _ = sqlx::Connection::close(connection).await;
    Ok(())
}

/// The server's SQLSTATE of a sqlx error, where it has one.
fn sqlstate(error: &sqlx::Error) -> Option<String> {
    error
        .as_database_error()
        .and_then(|db| db.code())
        .map(|code| code.into_owned())
}

/// Why `pool` gave no connection within its acquire timeout: one fresh
/// connection with the pool's own options, within `options.timeout`, tells
/// (see [`adapter_interfaces::PoolTimeout::diagnose`]). The URL rebuilt
/// from those options only names the target and the password to hide.
pub(crate) async fn pool_timeout<DB: sqlx::Database>(
    pool: &sqlx::Pool<DB>,
    options: &ConnectOptions,
) -> adapter_interfaces::PoolTimeout {
    use sqlx::ConnectOptions as _;
    let connect_options = pool.connect_options();
    let url = connect_options.to_url_lossy().to_string();
    let fresh = async {
        let connection = connect_options.connect().await?;
        // Only a probe: the pool opens its own connections.
        let _ = sqlx::Connection::close(connection).await;
        Ok::<_, sqlx::Error>(())
    };
    adapter_interfaces::PoolTimeout::diagnose(
        &url,
        options,
        pool.options().get_max_connections(),
        pool.options().get_acquire_timeout(),
        sqlstate,
        fresh,
    )
    .await
}

/// A pool's failure after the first connection succeeded (rare: the server
/// went away in between), with the same plain reason.
#[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
fn pool_error(url: &str, options: &ConnectOptions, error: sqlx::Error) -> AdapterError {
    let code = sqlstate(&error);
    AdapterError::Connect(adapter_interfaces::ConnectError::from_driver(
        url,
        options,
        &error,
        code.as_deref(),
    ))
}

#[cfg(any(feature = "postgres", feature = "mysql"))]
fn parse_error(error: sqlx::Error) -> AdapterError {
    // Not the driver's message: it may quote the URL.
    let _ = error;
    url_error("is not a valid database URL")
}

#[cfg(feature = "postgres")]
fn postgres_options(url: &str) -> Result<sqlx::postgres::PgConnectOptions> {
    use std::str::FromStr;
    sqlx::postgres::PgConnectOptions::from_str(url).map_err(parse_error)
}

#[cfg(feature = "postgres")]
async fn connect_postgres(url: &str, options: &ConnectOptions) -> Result<SqlxStore> {
    let connect_options = postgres_options(url)?;
    first_connection(url, options, &connect_options).await?;
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(POOL_SIZE)
        .acquire_timeout(options.acquire_timeout)
        .connect_with(connect_options)
        .await
        .map_err(|e| pool_error(url, options, e))?;
    Ok(SqlxStore::postgres(pool, options))
}

#[cfg(feature = "mysql")]
fn mysql_options(url: &str) -> Result<sqlx::mysql::MySqlConnectOptions> {
    use std::str::FromStr;
    let url = match url.split_once("://") {
        Some((_, rest)) => format!("mysql://{rest}"),
        None => url.to_owned(),
    };
    Ok(sqlx::mysql::MySqlConnectOptions::from_str(&url)
        .map_err(parse_error)?
        .charset("utf8mb4")
        // Only TIMESTAMP would be converted; DATETIME(3) columns hold UTC anyway.
        .timezone(Some("+00:00".to_owned())))
}

#[cfg(feature = "mysql")]
async fn connect_mysql(url: &str, options: &ConnectOptions) -> Result<SqlxStore> {
    let connect_options = mysql_options(url)?;
    first_connection(url, options, &connect_options).await?;
    let pool = sqlx::mysql::MySqlPoolOptions::new()
        .max_connections(POOL_SIZE)
        .acquire_timeout(options.acquire_timeout)
        .connect_with(connect_options)
        .await
        .map_err(|e| pool_error(url, options, e))?;
    let dialect = SqlxStore::mysql_dialect(&pool).await?;
    Ok(SqlxStore::mysql(pool, dialect, options))
}

#[cfg(feature = "sqlite")]
async fn connect_sqlite(url: &str, options: &ConnectOptions) -> Result<SqlxStore> {
    use std::str::FromStr;
    use std::time::Duration;

    use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};

    let connect_options = SqliteConnectOptions::from_str(url)
        .map_err(|_| url_error("is not a valid SQLite URL"))?
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(5));
    let in_memory = url.contains(":memory:") || url.contains("mode=memory");
    let pool = if in_memory {
        // Every connection to `:memory:` opens a database of its own: keep exactly
        // one, forever.
        SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect_options)
            .await
    } else {
        let connect_options = connect_options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal);
        first_connection(url, options, &connect_options).await?;
        SqlitePoolOptions::new()
            .max_connections(4)
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect_options)
            .await
    }
    .map_err(|e| pool_error(url, options, e))?;
    Ok(SqlxStore {
        inner: Inner::Sqlite(Arc::new(Db::new(pool, Dialect::Sqlite, options))),
    })
}

impl SqlxStore {
    /// Wraps an existing PostgreSQL pool. Its own acquire timeout applies;
    /// a pool timeout is explained by a fresh connection within the default
    /// connect timeout.
    #[cfg(feature = "postgres")]
    pub fn from_postgres_pool(pool: sqlx::PgPool) -> Self {
        Self::postgres(pool, &ConnectOptions::default())
    }

    #[cfg(feature = "postgres")]
    fn postgres(pool: sqlx::PgPool, options: &ConnectOptions) -> Self {
        Self {
            inner: Inner::Postgres(Arc::new(Db::new(pool, Dialect::Postgres, options))),
        }
    }

    /// Wraps an existing MySQL or MariaDB pool; asks the server which one it is.
    #[cfg(feature = "mysql")]
    pub async fn from_mysql_pool(pool: sqlx::MySqlPool) -> Result<Self> {
        let dialect = Self::mysql_dialect(&pool).await?;
        Ok(Self::from_mysql_pool_with_dialect(pool, dialect))
    }

    /// MariaDB or MySQL, as the server says.
    #[cfg(feature = "mysql")]
    async fn mysql_dialect(pool: &sqlx::MySqlPool) -> Result<Dialect> {
        let version: String = sqlx::query_scalar("SELECT VERSION()")
            .fetch_one(pool)
            .await
            .map_err(|e| AdapterError::backend("reading the server version", e))?;
        Ok(Dialect::mysql_from_version(&version))
    }

    /// Wraps an existing MySQL-family pool whose flavour is known
    /// ([`Dialect::MariaDb`] or [`Dialect::MySql`]; it only changes the DDL).
    #[cfg(feature = "mysql")]
    pub fn from_mysql_pool_with_dialect(pool: sqlx::MySqlPool, dialect: Dialect) -> Self {
        Self::mysql(pool, dialect, &ConnectOptions::default())
    }

    #[cfg(feature = "mysql")]
    fn mysql(pool: sqlx::MySqlPool, dialect: Dialect, options: &ConnectOptions) -> Self {
        Self {
            inner: Inner::MySql(Arc::new(Db::new(pool, dialect, options))),
        }
    }

    /// Wraps an existing SQLite pool. Its connections must enforce foreign
    /// keys (sqlx's default) for deletes to cascade.
    #[cfg(feature = "sqlite")]
    pub fn from_sqlite_pool(pool: sqlx::SqlitePool) -> Self {
        Self {
            inner: Inner::Sqlite(Arc::new(Db::new(
                pool,
                Dialect::Sqlite,
                &ConnectOptions::default(),
            ))),
        }
    }

    /// The SQL dialect of the database.
    pub fn dialect(&self) -> Dialect {
        dispatch!(self, db => db.sql.dialect)
    }

    /// The eight adapters, sharing this store's pool.
    pub fn adapters(&self) -> DataAdapters {
        dispatch!(self, db => bundle(db))
    }

    /// Applies the shared schema ([`adapter_interfaces::schema::migrations`]),
    /// each version as the sqlx migration of that number, recorded in
    /// [`MIGRATIONS_TABLE`]. Idempotent; on a database that another backend
    /// already migrated it changes nothing but that record.
    pub async fn migrate(&self) -> Result<()> {
        dispatch!(self, db => migrate(db).await)
    }

    /// The schema version recorded in `switchyard_schema`; `None` before any migration.
    pub async fn schema_version(&self) -> Result<Option<i64>> {
        dispatch!(self, db => schema_version(db).await)
    }

    /// Closes the pool, waiting for connections in use to be returned.
    pub async fn close(&self) {
        dispatch!(self, db => db.pool.close().await)
    }
}

async fn migrate<DB: Backend>(db: &Db<DB>) -> Result<()>
where
    DB::Connection: sqlx::migrate::Migrate,
{
    use sqlx::SqlSafeStr;
    use sqlx::migrate::{Migration, MigrationType, Migrator};

    let dialect = db.sql.dialect;
    // What `switchyard_schema` records before we start: a guarded version
    // that another backend's tool applied is only recorded in our table.
    let recorded = schema_version(db).await?;
    let migrations = schema::migrations(dialect)
        .into_iter()
        .map(|m| {
            let script: String = m.statements.iter().map(|s| format!("{s};\n")).collect();
            let mut migration = Migration::new(
                m.version,
                format!("switchyard {}", m.name).into(),
                MigrationType::Simple,
                sqlx::AssertSqlSafe(script).into_sql_str(),
                false,
            );
            if m.statements_to_apply(recorded).is_empty() {
                // The checksum stays the full script's, which sqlx compares on
                // every later run whichever way the version was applied.
                migration.sql = sqlx::AssertSqlSafe("SELECT 1".to_owned()).into_sql_str();
            }
            migration
        })
        .collect();
    let mut migrator = Migrator::with_migrations(migrations);
    migrator.dangerous_set_table_name(MIGRATIONS_TABLE);
    // A newer release may have applied later migrations; they are not ours to judge.
    migrator.set_ignore_missing(true);
    const DOING: &str = "applying the schema migration";
    match migrator.run(&db.pool).await {
        Ok(()) => {}
        // The migrator takes its connection from the pool.
        Err(sqlx::migrate::MigrateError::Execute(e)) => return Err(db.failed(DOING, e).await),
        Err(e) => return Err(AdapterError::backend(DOING, e)),
    }
    tracing::info!(
        ?dialect,
        version = schema::SCHEMA_VERSION,
        "schema migrated"
    );
    Ok(())
}

async fn schema_version<DB: Backend>(db: &Db<DB>) -> Result<Option<i64>> {
    let table = schema::VERSION_TABLE;
    let exists = match db.sql.dialect {
        Dialect::Postgres => format!(
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = '{table}'"
        ),
        Dialect::MariaDb | Dialect::MySql => format!(
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = '{table}'"
        ),
        Dialect::Sqlite => {
            format!("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '{table}'")
        }
    };
    let found = db
        .scalar(
            sqlx::QueryBuilder::new(exists),
            "looking for the schema table",
        )
        .await?;
    if found.unwrap_or(0) == 0 {
        return Ok(None);
    }
    let max = format!(
        "SELECT MAX({}) FROM {}",
        db.sql.dialect.quote("version"),
        db.sql.dialect.quote(table)
    );
    db.scalar(sqlx::QueryBuilder::new(max), "reading the schema version")
        .await
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

    /// A lazy pool retries a refused connection until its acquire timeout
    /// and then says only that it timed out: the query's error must say why.
    #[cfg(feature = "postgres")]
    #[tokio::test]
    async fn a_lazy_store_whose_server_is_down_fails_in_time_with_the_reason() {
        let options = ConnectOptions::with_timeout(Duration::from_millis(500))
            .with_acquire_timeout(Duration::from_millis(500));
        // Port 1 refuses connections.
        let store = connect_lazy_with("postgres://u:s3cret@127.0.0.1:1/x", &options)
            .expect("a lazy store opens without its server");
        let started = Instant::now();
        let err = store.adapters().tenants.get("acme").await.unwrap_err();
        let elapsed = started.elapsed();
        assert!(
            elapsed >= Duration::from_millis(450) && elapsed < Duration::from_secs(5),
            "{elapsed:?}"
        );
        let text = err.to_string();
        assert!(matches!(err, AdapterError::PoolTimeout { .. }), "{err:?}");
        assert!(text.contains("the database stopped answering"), "{text}");
        assert!(text.contains("refused the connection"), "{text}");
        assert!(text.contains("127.0.0.1:1/x"), "{text}");
        assert!(!format!("{err} {err:?}").contains("s3cret"), "{err:?}");
    }
}
