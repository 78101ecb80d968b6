//! The adapters the model tests run against: the in-memory adapter, and
//! each backend (sqlx, SeaORM, Diesel) on each database this machine has (SQLite
//! always; PostgreSQL and MariaDB from `SWITCHYARD_POSTGRES_URL` /
//! `SWITCHYARD_MYSQL_URL`, skipped with a notice when absent, a failure
//! with `SWITCHYARD_REQUIRE_DATABASES=1`).
//!
//! A module of the `model_backends`, differential, cross-backend and
//! passthrough test targets.

#![allow(dead_code)]

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use adapter_interfaces::DataAdapters;
use conformance_tests::TestStore;
use conformance_tests::provision::{self, TestDatabase};

/// A future that builds a fresh, empty store (`None`: not available here).
pub type StoreFuture = Pin<Box<dyn Future<Output = Option<TestStore>>>>;

/// A configured adapter: a name such as `sqlx+postgres`, and its factory.
#[derive(Clone)]
pub struct Backend {
    /// `backend+database`.
    pub name: String,
    /// Builds a fresh, empty, migrated store.
    pub factory: Arc<dyn Fn() -> StoreFuture>,
}

impl Backend {
    fn new(name: &str, factory: impl Fn() -> StoreFuture + 'static) -> Self {
        Self {
            name: name.to_owned(),
            factory: Arc::new(factory),
        }
    }
}

/// A future that connects one backend to a URL and migrates it.
type ConnectFuture = Pin<Box<dyn Future<Output = DataAdapters>>>;

/// Connects one backend to a URL and migrates it.
type Connector = fn(String) -> ConnectFuture;

/// Connects a backend crate (`connect(url)`, `migrate()`, `adapters()`) to
/// a URL; a backend that cannot connect to a database that is there fails
/// the test.
macro_rules! connector {
    ($krate:ident) => {
        |url: String| -> ConnectFuture {
            Box::pin(async move {
                let store = $krate::connect(&url)
                    .await
                    .unwrap_or_else(|e| panic!("{} connects: {e}", stringify!($krate)));
                store
                    .migrate()
                    .await
                    .unwrap_or_else(|e| panic!("{} migrates: {e}", stringify!($krate)));
                store.adapters()
            })
        }
    };
}

/// How many backend crates there are.
pub fn backend_count() -> usize {
    backend_crates().len()
}

/// The backend crates' short names (`sqlx`, ...), in the order of
/// [`Shared::adapters`].
pub fn backend_names() -> Vec<&'static str> {
    backend_crates().into_iter().map(|(name, _)| name).collect()
}

/// Every backend crate: its short name and its connector.
fn backend_crates() -> Vec<(&'static str, Connector)> {
    vec![
        ("sqlx", connector!(adapter_sqlx)),
        ("seaorm", connector!(adapter_seaorm)),
        ("diesel", connector!(adapter_diesel)),
    ]
}

/// The databases the backends run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Database {
    /// SQLite: in memory for a single backend, a temporary file when shared.
    Sqlite,
    /// PostgreSQL, from `SWITCHYARD_POSTGRES_URL`.
    Postgres,
    /// MySQL/MariaDB, from `SWITCHYARD_MYSQL_URL`.
    Mysql,
}

impl Database {
    const ALL: [Database; 3] = [Database::Sqlite, Database::Postgres, Database::Mysql];

    fn name(self) -> &'static str {
        match self {
            Database::Sqlite => "sqlite",
            Database::Postgres => "postgres",
            Database::Mysql => "mysql",
        }
    }

    /// A fresh database: its URL and what keeps it alive (`None`: not available here).
    async fn provision(self, shared: bool) -> Option<(String, Option<TestDatabase>)> {
        let db = match self {
            // One connection per in-memory store: a database of its own.
            Database::Sqlite if !shared => return Some(("sqlite::memory:".into(), None)),
            Database::Sqlite => provision::sqlite_file(),
            Database::Postgres => provision::postgres().await?,
            Database::Mysql => provision::mysql().await?,
        };
        Some((db.url().to_owned(), Some(db)))
    }
}

/// Every configured adapter, the in-memory one first, then every backend on
/// every database (`sqlx+postgres`, ...).
pub fn configured() -> Vec<Backend> {
    let mut all = vec![Backend::new("memory", || {
        Box::pin(async { Some(TestStore::new(adapter_interfaces::memory::adapters())) })
    })];
    for database in Database::ALL {
        for (backend, connect) in backend_crates() {
            all.push(Backend::new(
                &format!("{backend}+{}", database.name()),
                move || {
                    Box::pin(async move {
                        let (url, guard) = database.provision(false).await?;
                        let store = TestStore::new(connect(url).await);
                        Some(match guard {
                            Some(db) => store.with_guard(db),
                            None => store,
                        })
                    })
                },
            ));
        }
    }
    all
}

/// Several adapters over one database: what cross-backend reads need.
pub struct Shared {
    /// The database's name (`sqlite`, `postgres`, `mysql`, `memory`).
    pub database: String,
    /// Each backend's adapters, all on that database, by backend name.
    pub adapters: Vec<(String, adapter_interfaces::DataAdapters)>,
    /// What must outlive the adapters (the database, the backends' pools).
    pub guard: TestStore,
}

/// A future that opens every backend on one fresh database (`None`: not available here).
pub type SharedFuture = Pin<Box<dyn Future<Output = Option<Shared>>>>;

/// For each database this machine has, a way to open every backend on one
/// fresh copy of it (each backend runs its own migrations on it in turn:
/// migrating a database another backend migrated is a no-op).
pub fn shared_databases() -> Vec<(String, Arc<dyn Fn() -> SharedFuture>)> {
    Database::ALL
        .into_iter()
        .map(|database| {
            let open: Arc<dyn Fn() -> SharedFuture> = Arc::new(move || {
                Box::pin(async move {
                    let (url, guard) = database.provision(true).await?;
                    let mut adapters = Vec::new();
                    for (backend, connect) in backend_crates() {
                        adapters.push((backend.to_owned(), connect(url.clone()).await));
                    }
                    let first = adapters[0].1.clone();
                    Some(Shared {
                        database: database.name().into(),
                        adapters,
                        guard: TestStore::new(first).with_guard(guard),
                    })
                })
            });
            (database.name().to_owned(), open)
        })
        .collect()
}
