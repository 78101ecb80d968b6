//! The adapters the model tests run against: the in-memory adapter, and
//! each backend on each database this machine has (SQLite always;
//! PostgreSQL and MariaDB from `SWITCHYARD_POSTGRES_URL` /
//! `SWITCHYARD_MYSQL_URL`, skipped with a notice when absent, a failure
//! with `SWITCHYARD_REQUIRE_DATABASES=1`).
//!
//! Included as a module by the differential, cross-backend and passthrough
//! tests; as a test target of its own it checks that every configured
//! adapter starts empty.

#![allow(dead_code)]

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use conformance_tests::TestStore;

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

/// Every configured adapter, the in-memory one first.
pub fn configured() -> Vec<Backend> {
    vec![Backend::new("memory", || {
        Box::pin(async { Some(TestStore::new(adapter_interfaces::memory::adapters())) })
    })]
}

#[test]
fn every_configured_adapter_starts_empty() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        for backend in configured() {
            let Some(store) = (backend.factory)().await else {
                continue;
            };
            let contents = conformance_tests::model::snapshot(store.adapters())
                .await
                .expect("a snapshot");
            assert!(contents.is_empty(), "{} is not empty", backend.name);
            println!("{} starts empty", backend.name);
        }
    });
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

/// For each database this machine has, a way to open every backend on one fresh copy of it.
pub fn shared_databases() -> Vec<(String, Arc<dyn Fn() -> SharedFuture>)> {
    let memory: Arc<dyn Fn() -> SharedFuture> = Arc::new(|| {
        Box::pin(async {
            // Two bundles over one in-memory store see the same data, like
            // two backends on one database.
            let store = adapter_interfaces::memory::MemoryStore::new();
            Some(Shared {
                database: "memory".into(),
                adapters: vec![
                    ("memory-a".into(), store.adapters()),
                    ("memory-b".into(), store.adapters()),
                ],
                guard: TestStore::new(store.adapters()),
            })
        })
    });
    vec![("memory".into(), memory)]
}
