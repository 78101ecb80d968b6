//! A partial adapter: read-only users and applications over another store
//! (as an adapter over a hosted identity provider's API would be), no `q` on
//! applications (that API has no search of clients), and logs written one
//! by one (a store without transactions); everything else delegated.
//!
//! Shared by the example (`cargo run -p switchyard-identity-conformance
//! --example read_only`) and the test that runs the conformance suite on it
//! (`tests/read_only_adapter.rs`).

use std::sync::Arc;

use adapter_interfaces::{
    AdapterError, Application, ApplicationPatch, Capabilities, DataAdapters, EntityKind,
    EntityStore, ListParams, Log, LogsAdapter, MutableStore, Page, Record, Result, User, UserPatch,
    async_trait,
};

/// What this adapter supports: the declaration the suite reads.
pub fn capabilities() -> Capabilities {
    Capabilities::default()
        .read_only(EntityKind::User)
        .read_only(EntityKind::Application)
        .without_q(EntityKind::Application)
        .without_atomic_batches(EntityKind::Log)
}

/// The adapter over `inner`: reads of users and applications come from it,
/// their writes are refused; the other entities are `inner`'s own.
pub fn read_only(inner: &DataAdapters) -> DataAdapters {
    DataAdapters {
        users: Arc::new(ReadOnly {
            inner: inner.users.clone(),
            q: true,
        }),
        applications: Arc::new(ReadOnly {
            inner: inner.applications.clone(),
            q: false,
        }),
        logs: Arc::new(OneByOne {
            inner: inner.logs.clone(),
        }),
        ..inner.clone()
    }
}

/// Reads through `inner`; every write is `NotSupported`.
struct ReadOnly<S: ?Sized> {
    inner: Arc<S>,
    /// Whether listings take `q`.
    q: bool,
}

fn refused<T, R: Record>(operation: &str) -> Result<T> {
    Err(AdapterError::not_supported(R::KIND, operation))
}

#[async_trait]
impl<R, S> EntityStore<R> for ReadOnly<S>
where
    R: Record,
    S: EntityStore<R> + ?Sized,
{
    async fn create(&self, _tenant_id: &str, _insert: R::Insert) -> Result<R> {
        refused::<_, R>("create")
    }
    async fn get(&self, tenant_id: &str, id: &str) -> Result<Option<R>> {
        self.inner.get(tenant_id, id).await
    }
    async fn list(&self, tenant_id: &str, params: &ListParams) -> Result<Page<R>> {
        if !self.q && params.q.is_some() {
            return refused::<_, R>("q");
        }
        self.inner.list(tenant_id, params).await
    }
    async fn upsert(&self, _tenant_id: &str, _record: R) -> Result<()> {
        refused::<_, R>("upsert")
    }
    async fn upsert_many(&self, _tenant_id: &str, _records: Vec<R>) -> Result<()> {
        refused::<_, R>("upsert_many")
    }
}

// `MutableStore` is implemented per entity: its `Patch` type differs.
macro_rules! read_only_mutable {
    ($($record:ty, $patch:ty;)*) => {$(
        #[async_trait]
        impl<S: MutableStore<$record> + ?Sized> MutableStore<$record> for ReadOnly<S> {
            async fn update(&self, _tenant_id: &str, _id: &str, _patch: $patch) -> Result<$record> {
                refused::<_, $record>("update")
            }
            async fn remove(&self, _tenant_id: &str, _id: &str) -> Result<bool> {
                refused::<_, $record>("remove")
            }
        }
    )*};
}
read_only_mutable! {
    User, UserPatch;
    Application, ApplicationPatch;
}

/// Logs through `inner`, but `upsert_many` as the trait's default: one
/// `upsert` after the other, so a rejected record leaves the ones before it
/// written (declared with `without_atomic_batches`).
struct OneByOne {
    inner: Arc<dyn LogsAdapter>,
}

#[async_trait]
impl EntityStore<Log> for OneByOne {
    async fn create(&self, tenant_id: &str, insert: <Log as Record>::Insert) -> Result<Log> {
        self.inner.create(tenant_id, insert).await
    }
    async fn get(&self, tenant_id: &str, id: &str) -> Result<Option<Log>> {
        self.inner.get(tenant_id, id).await
    }
    async fn list(&self, tenant_id: &str, params: &ListParams) -> Result<Page<Log>> {
        self.inner.list(tenant_id, params).await
    }
    async fn upsert(&self, tenant_id: &str, record: Log) -> Result<()> {
        self.inner.upsert(tenant_id, record).await
    }
}

#[async_trait]
impl LogsAdapter for OneByOne {
    async fn remove(&self, tenant_id: &str, log_id: &str) -> Result<bool> {
        self.inner.remove(tenant_id, log_id).await
    }
}
