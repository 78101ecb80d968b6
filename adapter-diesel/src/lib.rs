//! # adapter-diesel
//!
//! Switchyard's data adapters on [Diesel](https://diesel.rs) 2.3, for
//! PostgreSQL, MySQL/MariaDB and SQLite. The schema is declared with
//! `table!`, queries are written in Diesel's DSL (the dynamic `q` filter and
//! sort are query-builder nodes with every value bound), and the traits are
//! async through diesel-async: pure-Rust drivers for PostgreSQL and MySQL (no
//! libpq, no libmysqlclient) and, for SQLite, synchronous Diesel on Tokio's
//! blocking pool (`SyncConnectionWrapper`), each behind a deadpool pool.
//!
//! Cargo features: `sqlite` (default, bundled SQLite), `postgres`, `mysql`.
//!
//! [`connect`] takes one connection at once and fails within a few seconds
//! ([`connect_with`] takes a [`ConnectOptions`] timeout) with the database's
//! own reason and what to check.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> adapter_interfaces::Result<()> {
//! use adapter_interfaces::{ListParams, TenantInsert, UserInsert};
//!
//! let store = adapter_diesel::connect("sqlite::memory:").await?;
//! store.migrate().await?;
//! assert_eq!(store.schema_version().await?, Some(adapter_interfaces::schema::SCHEMA_VERSION));
//! let db = store.adapters();
//! let tenant = db.tenants.create(TenantInsert { friendly_name: "Acme".into(), ..Default::default() }).await?;
//! db.users.create(&tenant.id, UserInsert {
//!     email: Some("Ada@Example.com".into()),
//!     connection: "Username-Password-Authentication".into(),
//!     ..Default::default()
//! }).await?;
//! let page = db.users.list(&tenant.id, &ListParams::default().with_q("email:ada@example.com")).await?;
//! assert_eq!(page.items[0].email.as_deref(), Some("ada@example.com"));
//! # Ok(()) }
//! ```
//!
//! PostgreSQL (feature `postgres`):
//!
//! ```no_run
//! # #[cfg(feature = "postgres")]
//! # async fn example() -> adapter_interfaces::Result<()> {
//! let store = adapter_diesel::connect("postgres://postgres@127.0.0.1:5432/identity").await?;
//! store.migrate().await?;
//! let db = store.adapters();
//! # let _ = db; Ok(()) }
//! ```
//!
//! MySQL or MariaDB (feature `mysql`; `mariadb://` works too):
//!
//! ```no_run
//! # #[cfg(feature = "mysql")]
//! # async fn example() -> adapter_interfaces::Result<()> {
//! let store = adapter_diesel::connect("mysql://root@127.0.0.1:3306/identity").await?;
//! store.migrate().await?;
//! let db = store.adapters();
//! # let _ = db; Ok(()) }
//! ```
//!
//! An existing deadpool pool of diesel-async connections works as well:
//! [`DieselStore::from_pool`] with an [`AnyPool`].
//!
//! ## Schema
//!
//! [`DieselStore::migrate`] runs `adapter_interfaces::schema::statements`
//! as one diesel_migrations migration, recorded in
//! `__diesel_schema_migrations`; it is idempotent and succeeds on a database
//! that another backend already migrated. Storage follows
//! `docs/ADAPTER-GUIDE.md`: on SQLite timestamps are canonical text and JSON
//! is text; on MariaDB JSON is LONGTEXT, read as text and parsed.
//!
//! ## What this adapter normalises
//!
//! - Timestamps are bound as UTC (`TIMESTAMPTZ`, `DATETIME(3)` holding UTC,
//!   canonical text on SQLite) and read back as millisecond [`Timestamp`]s.
//! - PostgreSQL gets `NULLS FIRST`/`NULLS LAST` on nullable sort columns so
//!   that NULLs order as on the other databases.
//! - `upsert_many` writes multi-row `INSERT … ON CONFLICT … DO UPDATE`
//!   statements (PostgreSQL, SQLite) or, on MySQL, the shared guarded
//!   multi-row `INSERT … ON DUPLICATE KEY UPDATE`
//!   (`adapter_interfaces::bulk::insert_values`, the bytes sqlx and SeaORM
//!   send; `VALUES(col)`, the MariaDB form, which MySQL 8 still accepts
//!   with a deprecation warning), in one transaction, in batches of at most
//!   500 rows (well under every bind-parameter limit and MySQL's packet
//!   budget). Its guard turns a row that lands on another record through a
//!   unique key other than the primary key (a user's email) into a
//!   conflict instead of an overwrite.
//!   On PostgreSQL a batch is one statement with one JSON parameter (the
//!   shared `adapter_interfaces::bulk::insert_rows`, run through
//!   `sql_query`), and a batch's password demotions are one `UPDATE` on
//!   every database: what sqlx and SeaORM send too.
//!   A batch that repeats a key is applied record by record instead, so the
//!   result is always that of upserting the records one after the other.
//! - On SQLite the store runs one write at a time (reads run in parallel).
//! - Concurrent writers: on MySQL an upsert is one statement per batch, with
//!   no look-up of its keys before it; a batch writes its records in key
//!   order; a password write locks its user
//!   rows first. A create, upsert, update or removal that the database
//!   aborts anyway (a serialization failure, a deadlock victim or lock wait
//!   timeout, known on MySQL by the server's "try restarting transaction",
//!   a busy SQLite database) runs again whole with
//!   `adapter_interfaces::retry`'s bounded, jittered backoff (the `backon`
//!   crate); a clash on another unique key stays a `Conflict`.
//!
//! [`Timestamp`]: adapter_interfaces::Timestamp

mod bulk;
mod conn;
mod expr;
mod journal;
mod migrate;
pub mod schema;
mod store;
mod tables;
pub mod types;

pub use conn::AnyPool;
#[cfg(feature = "sqlite")]
pub use conn::SqliteConn;
pub use store::DieselStore;

pub use adapter_interfaces::ConnectOptions;
use adapter_interfaces::{AdapterError, Result};
use diesel::result::Error as DieselError;
use diesel_async::pooled_connection::AsyncDieselConnectionManager;
use diesel_async::pooled_connection::deadpool::Pool;

/// Connections per pool for PostgreSQL and MySQL.
#[cfg(any(feature = "postgres", feature = "mysql"))]
const POOL_SIZE: usize = 8;
/// Connections per pool for a SQLite file (writes are serialised anyway).
#[cfg(feature = "sqlite")]
const SQLITE_POOL_SIZE: usize = 4;

fn url_error(reason: impl Into<String>) -> AdapterError {
    AdapterError::invalid("url", reason)
}

/// Connects to the database a URL names: `postgres://` or `postgresql://`,
/// `mysql://` or `mariadb://`, `sqlite://path` (relative to the working
/// directory, created if missing) or `sqlite::memory:`, with the default
/// [`ConnectOptions`] (see [`connect_with`]).
///
/// Call [`DieselStore::migrate`] to create the schema. A scheme whose cargo
/// feature is off is an [`AdapterError::InvalidInput`] on `url` that names
/// the feature.
pub async fn connect(url: &str) -> Result<DieselStore> {
    connect_with(url, &ConnectOptions::default()).await
}

/// As [`connect`], with options. The pool opens connections lazily, so one
/// is taken at once, within `options.timeout`: a wrong URL fails here, as
/// [`AdapterError::Connect`] with the database's reason and what to check,
/// not at the first query.
///
/// Later, a call waits at most `options.acquire_timeout` for a pooled
/// connection (deadpool reports a refused one at once, and would wait for a
/// free one without end); then it fails with [`AdapterError::PoolTimeout`],
/// which one fresh connection explains.
pub async fn connect_with(url: &str, options: &ConnectOptions) -> Result<DieselStore> {
    let store = match scheme(url).as_str() {
        "sqlite" => connect_sqlite(url, options),
        _ => connect_lazy_with(url, options),
    }?;
    #[cfg(feature = "postgres")]
    if let AnyPool::Postgres(_) = store.pool() {
        adapter_interfaces::connect::within(
            url,
            options,
            |error: &tokio_postgres::Error| error.code().map(|code| code.code().to_owned()),
            conn::first_postgres_connection(url),
        )
        .await
        .map_err(AdapterError::Connect)?;
        return Ok(store);
    }
    adapter_interfaces::connect::within(url, options, |_| None, store.pool().first_connection())
        .await
        .map_err(AdapterError::Connect)?;
    Ok(store)
}

/// The lowercased scheme of `url`.
fn scheme(url: &str) -> String {
    url.split_once(':')
        .map(|(s, _)| s.to_ascii_lowercase())
        .unwrap_or_default()
}

/// As [`connect_with`], but opens no connection until the first query: for
/// a store that may be down when the process starts (a migration's
/// secondary: its replication waits in the journal until it is back).
/// PostgreSQL and MySQL/MariaDB only; open SQLite with [`connect_with`].
pub fn connect_lazy(url: &str) -> Result<DieselStore> {
    connect_lazy_with(url, &ConnectOptions::default())
}

/// As [`connect_lazy`], with options: a call waits at most
/// `options.acquire_timeout` for a pooled connection.
pub fn connect_lazy_with(url: &str, options: &ConnectOptions) -> Result<DieselStore> {
    match scheme(url).as_str() {
        "postgres" | "postgresql" => connect_postgres(url, options),
        "mysql" | "mariadb" => connect_mysql(url, options),
        "sqlite" => Err(url_error(
            "a lazy connection needs postgres:// or mysql://; open SQLite with connect",
        )),
        _ => Err(url_error(
            "unsupported scheme; use postgres://, postgresql://, mysql://, mariadb://, sqlite://path or sqlite::memory:",
        )),
    }
}

#[cfg(feature = "postgres")]
fn connect_postgres(url: &str, options: &ConnectOptions) -> Result<DieselStore> {
    let manager = AsyncDieselConnectionManager::<diesel_async::AsyncPgConnection>::new(url);
    let pool = Pool::builder(manager)
        .max_size(POOL_SIZE)
        .build()
        .map_err(|e| AdapterError::backend("building the PostgreSQL pool", e))?;
    Ok(DieselStore::new(
        AnyPool::Postgres(pool),
        options,
        Some(url),
    ))
}

#[cfg(not(feature = "postgres"))]
fn connect_postgres(_url: &str, _options: &ConnectOptions) -> Result<DieselStore> {
    Err(url_error(
        "PostgreSQL support is off: enable the `postgres` feature of adapter-diesel",
    ))
}

#[cfg(feature = "mysql")]
fn connect_mysql(url: &str, options: &ConnectOptions) -> Result<DieselStore> {
    // The driver knows only mysql://.
    let url = match url.split_once("://") {
        Some((_, rest)) => format!("mysql://{rest}"),
        None => return Err(url_error("expected mysql://user@host:port/database")),
    };
    let manager =
        AsyncDieselConnectionManager::<diesel_async::AsyncMysqlConnection>::new(url.as_str());
    let pool = Pool::builder(manager)
        .max_size(POOL_SIZE)
        .build()
        .map_err(|e| AdapterError::backend("building the MySQL pool", e))?;
    Ok(DieselStore::new(AnyPool::Mysql(pool), options, Some(&url)))
}

#[cfg(not(feature = "mysql"))]
fn connect_mysql(_url: &str, _options: &ConnectOptions) -> Result<DieselStore> {
    Err(url_error(
        "MySQL/MariaDB support is off: enable the `mysql` feature of adapter-diesel",
    ))
}

/// The SQLite path of a URL: `sqlite::memory:`, `sqlite://path`, `sqlite:path`.
#[cfg(any(feature = "sqlite", test))]
fn sqlite_path(url: &str) -> Result<String> {
    let rest = url.get("sqlite:".len()..).unwrap_or("");
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let path = rest.split_once('?').map_or(rest, |(path, _)| path);
    match path {
        "" => Err(url_error("expected sqlite://path or sqlite::memory:")),
        ":memory:" => Ok(":memory:".into()),
        path => Ok(path.into()),
    }
}

#[cfg(feature = "sqlite")]
fn connect_sqlite(url: &str, options: &ConnectOptions) -> Result<DieselStore> {
    use diesel_async::pooled_connection::ManagerConfig;
    use diesel_async::{AsyncConnection, SimpleAsyncConnection};

    let path = sqlite_path(url)?;
    let memory = path == ":memory:";
    let mut config = ManagerConfig::<SqliteConn>::default();
    config.custom_setup = Box::new(|path| {
        let path = path.to_owned();
        Box::pin(async move {
            let mut conn = SqliteConn::establish(&path).await?;
            // Cascades need foreign keys; WAL lets readers run beside the writer.
            conn.batch_execute(
                "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;",
            )
            .await
            .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
            Ok(conn)
        })
    });
    let manager = AsyncDieselConnectionManager::<SqliteConn>::new_with_config(path, config);
    // Every connection to :memory: is its own database: keep exactly one.
    let size = if memory { 1 } else { SQLITE_POOL_SIZE };
    let pool = Pool::builder(manager)
        .max_size(size)
        .build()
        .map_err(|e| AdapterError::backend("building the SQLite pool", e))?;
    Ok(DieselStore::new(AnyPool::Sqlite(pool), options, Some(url)))
}

#[cfg(not(feature = "sqlite"))]
fn connect_sqlite(_url: &str, _options: &ConnectOptions) -> Result<DieselStore> {
    Err(url_error(
        "SQLite support is off: enable the `sqlite` feature of adapter-diesel",
    ))
}

diesel::define_sql_function! {
    /// The server's version string (MySQL/MariaDB).
    fn version() -> diesel::sql_types::Text;
}

impl DieselStore {
    /// A store over an existing pool. SQLite connections of the pool must
    /// have `PRAGMA foreign_keys = ON` (cascades rely on it); [`connect`] sets it up.
    /// A call waits at most the default acquire timeout for a connection.
    pub fn from_pool(pool: AnyPool) -> Self {
        DieselStore::new(pool, &ConnectOptions::default(), None)
    }

    /// Creates the shared schema through diesel_migrations (see the crate docs).
    pub async fn migrate(&self) -> Result<()> {
        #[cfg(any(feature = "postgres", feature = "mysql"))]
        let failed = |e: Box<dyn std::error::Error + Send + Sync>| AdapterError::Backend {
            message: "running the schema migration".into(),
            source: Some(e),
        };
        #[cfg(any(feature = "postgres", feature = "mysql"))]
        let joined =
            |e: tokio::task::JoinError| AdapterError::backend("running the schema migration", e);
        // What `switchyard_schema` records before we start: a guarded version
        // that another backend's tool applied is only recorded in Diesel's table.
        let recorded = self.schema_version().await?;
        let conn = self.conn().await?;
        match conn {
            #[cfg(feature = "postgres")]
            conn::Conn::Postgres(object) => run_async_migration!(
                object,
                adapter_interfaces::schema::Dialect::Postgres,
                recorded
            )
            .map_err(joined)?
            .map_err(failed),
            #[cfg(feature = "mysql")]
            conn::Conn::Mysql(mut object) => {
                use diesel_async::RunQueryDsl;
                let server: String = diesel::select(version())
                    .get_result(&mut *object)
                    .await
                    .map_err(|e| AdapterError::backend("asking the server version", e))?;
                let dialect = adapter_interfaces::schema::Dialect::mysql_from_version(&server);
                run_async_migration!(object, dialect, recorded)
                    .map_err(joined)?
                    .map_err(failed)
            }
            #[cfg(feature = "sqlite")]
            conn::Conn::Sqlite(mut object) => {
                use diesel_migrations::MigrationHarness;
                let _guard = self.write_guard().await;
                object
                    .spawn_blocking(move |sqlite| {
                        sqlite
                            .run_pending_migrations(migrate::SchemaSource::new(
                                adapter_interfaces::schema::Dialect::Sqlite,
                                recorded,
                            ))
                            .map(drop)
                            .map_err(DieselError::QueryBuilderError)
                    })
                    .await
                    .map_err(|e| AdapterError::backend("running the schema migration", e))
            }
        }
    }

    /// `SELECT MAX(version) FROM switchyard_schema`; `None` before any backend migrated.
    pub async fn schema_version(&self) -> Result<Option<i64>> {
        use diesel::dsl::max;
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;

        macro_rules! max_version {
            ($d:ident, $c:ident,) => {
                schema::switchyard_schema::table
                    .select(max(schema::switchyard_schema::version))
                    .get_result::<Option<i64>>($c)
                    .await
            };
        }
        let mut conn = self.conn().await?;
        match conn::on_conn!(&mut conn, max_version!()) {
            Ok(version) => Ok(version),
            Err(DieselError::DatabaseError(_, info)) if is_missing_table(info.message()) => {
                Ok(None)
            }
            Err(e) => Err(AdapterError::backend("reading the schema version", e)),
        }
    }
}

fn is_missing_table(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    message.contains("no such table")
        || message.contains("does not exist")
        || message.contains("doesn't exist")
}

/// Runs Diesel's (synchronous) migration harness over a pooled async
/// connection, on the blocking pool so that the runtime is never blocked.
#[cfg(any(feature = "postgres", feature = "mysql"))]
macro_rules! run_async_migration {
    ($object:expr, $dialect:expr, $recorded:expr) => {{
        use diesel_migrations::MigrationHarness;
        let object = $object;
        let dialect = $dialect;
        let recorded = $recorded;
        tokio::task::spawn_blocking(move || {
            let mut wrapper =
                diesel_async::async_connection_wrapper::AsyncConnectionWrapper::<_>::from(object);
            wrapper
                .run_pending_migrations(migrate::SchemaSource::new(dialect, recorded))
                .map(drop)
        })
        .await
    }};
}
#[cfg(any(feature = "postgres", feature = "mysql"))]
use run_async_migration;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls() {
        assert_eq!(sqlite_path("sqlite::memory:").unwrap(), ":memory:");
        assert_eq!(sqlite_path("sqlite://:memory:").unwrap(), ":memory:");
        assert_eq!(
            sqlite_path("sqlite://data/x.db?mode=rwc").unwrap(),
            "data/x.db"
        );
        assert_eq!(sqlite_path("sqlite:///tmp/x.db").unwrap(), "/tmp/x.db");
        assert!(sqlite_path("sqlite://").is_err());
    }

    #[tokio::test]
    async fn unknown_schemes_are_invalid_urls() {
        let err = connect("oracle://scott:tiger@db/x").await.unwrap_err();
        assert!(
            matches!(err, AdapterError::InvalidInput { ref field, .. } if field == "url"),
            "{err:?}"
        );
        assert!(!err.to_string().contains("tiger"));
    }

    #[cfg(feature = "postgres")]
    #[tokio::test]
    async fn a_lazy_store_opens_while_its_server_is_down_and_fails_its_queries() {
        // Port 1 refuses connections.
        let store = connect_lazy("postgres://u:s3cret@127.0.0.1:1/x")
            .expect("a lazy store opens without its server");
        let err = store.adapters().tenants.get("acme").await.unwrap_err();
        assert!(!format!("{err} {err:?}").contains("s3cret"));
        // diesel-async drops the cause; a fresh connection tells it.
        assert!(matches!(err, AdapterError::Connect(_)), "{err:?}");
        assert!(err.to_string().contains("refused the connection"), "{err}");
        let Err(err) = connect_lazy("sqlite::memory:") else {
            panic!("SQLite is not lazy");
        };
        assert!(matches!(err, AdapterError::InvalidInput { ref field, .. } if field == "url"));
    }
}
