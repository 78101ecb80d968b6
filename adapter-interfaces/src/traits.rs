//! The async traits every adapter implements, and the [`DataAdapters`] bundle.
//!
//! Tenant-scoped entities share two generic traits, [`EntityStore`] (create,
//! get, list, upsert) and [`MutableStore`] (update, remove); the per-entity
//! traits ([`UsersAdapter`], [`CodesAdapter`], ...) name those bundles and
//! add what is special to an entity. A backend can therefore implement the
//! common methods once, generically over [`Record`], and the per-entity names
//! come for free. All traits are object safe and used as `Arc<dyn …>`.

use std::sync::Arc;

use async_trait::async_trait;

use crate::entities::{
    Application, Code, Connection, Log, Password, Session, Tenant, TenantInsert, TenantPatch, User,
};
use crate::error::Result;
use crate::list::{ListParams, Page};
use crate::record::Record;
use crate::timestamp::Timestamp;

/// Tenants: the one entity that is not tenant-scoped.
#[async_trait]
pub trait TenantsAdapter: Send + Sync {
    /// Creates a tenant; `Conflict` on `id` if it exists.
    async fn create(&self, tenant: TenantInsert) -> Result<Tenant>;
    /// The tenant, or `None`.
    async fn get(&self, id: &str) -> Result<Option<Tenant>>;
    /// Lists tenants.
    async fn list(&self, params: &ListParams) -> Result<Page<Tenant>>;
    /// Applies a patch; `NotFound` if missing. Sets `updated_at`.
    async fn update(&self, id: &str, patch: TenantPatch) -> Result<Tenant>;
    /// Deletes the tenant and everything it owns; `false` if it did not exist.
    async fn remove(&self, id: &str) -> Result<bool>;
    /// Writes this exact record, inserting or replacing (backfill, replication).
    async fn upsert(&self, tenant: Tenant) -> Result<()>;
    /// [`TenantsAdapter::upsert`] for many records, atomically (all or none);
    /// backends write them in batches in one transaction. The default writes
    /// one at a time and is *not* atomic: the conformance suite's atomicity
    /// checks fail for an adapter that keeps it.
    async fn upsert_many(&self, tenants: Vec<Tenant>) -> Result<()> {
        for tenant in tenants {
            self.upsert(tenant).await?;
        }
        Ok(())
    }
}

/// Create, read, list and exact writes of a tenant-scoped entity.
///
/// Every write validates its input first and writes nothing when it is
/// rejected; every write under a tenant that does not exist is
/// `NotFound { entity: Tenant }`, and one whose parent record is missing
/// (a session's user) is `NotFound` of the parent.
#[async_trait]
pub trait EntityStore<R: Record>: Send + Sync {
    /// Creates a record, generating what the insert leaves out; `Conflict` on a taken key.
    async fn create(&self, tenant_id: &str, insert: R::Insert) -> Result<R>;
    /// The record, or `None` (also when the tenant does not exist).
    async fn get(&self, tenant_id: &str, id: &str) -> Result<Option<R>>;
    /// Lists the tenant's records.
    async fn list(&self, tenant_id: &str, params: &ListParams) -> Result<Page<R>>;
    /// Writes this exact record (ids, timestamps and all), inserting or
    /// replacing by key: what backfill and replication use.
    async fn upsert(&self, tenant_id: &str, record: R) -> Result<()>;
    /// [`EntityStore::upsert`] for many records, atomically (all or none);
    /// backends write them in batches in one transaction. The default writes
    /// one at a time and is *not* atomic: the conformance suite's atomicity
    /// checks fail for an adapter that keeps it.
    async fn upsert_many(&self, tenant_id: &str, records: Vec<R>) -> Result<()> {
        for record in records {
            self.upsert(tenant_id, record).await?;
        }
        Ok(())
    }
}

/// Updates and removals of a tenant-scoped entity.
#[async_trait]
pub trait MutableStore<R: Record>: EntityStore<R> {
    /// Applies a patch and sets `updated_at`; `NotFound` if missing.
    async fn update(&self, tenant_id: &str, id: &str, patch: R::Patch) -> Result<R>;
    /// Deletes the record (and its children); `false` if it did not exist.
    async fn remove(&self, tenant_id: &str, id: &str) -> Result<bool>;
}

/// Users: [`MutableStore`] of [`User`]. Removing a user removes its sessions and passwords.
pub trait UsersAdapter: MutableStore<User> {}
impl<T: MutableStore<User> + ?Sized> UsersAdapter for T {}

/// Applications: [`MutableStore`] of [`Application`].
pub trait ApplicationsAdapter: MutableStore<Application> {}
impl<T: MutableStore<Application> + ?Sized> ApplicationsAdapter for T {}

/// Connections: [`MutableStore`] of [`Connection`].
pub trait ConnectionsAdapter: MutableStore<Connection> {}
impl<T: MutableStore<Connection> + ?Sized> ConnectionsAdapter for T {}

/// Sessions: [`MutableStore`] of [`Session`].
pub trait SessionsAdapter: MutableStore<Session> {}
impl<T: MutableStore<Session> + ?Sized> SessionsAdapter for T {}

/// Logs: [`EntityStore`] of [`Log`]. Applications only append logs (`upsert`
/// exists for exact copies); `remove` is for the tools that make a copy
/// agree with its source (a migration's prune and repair) and for retention.
#[async_trait]
pub trait LogsAdapter: EntityStore<Log> {
    /// Deletes a log record; `false` if it did not exist.
    async fn remove(&self, tenant_id: &str, log_id: &str) -> Result<bool>;
}

/// Single-use codes.
#[async_trait]
pub trait CodesAdapter: EntityStore<Code> {
    /// Deletes a code; `false` if it did not exist.
    async fn remove(&self, tenant_id: &str, code_id: &str) -> Result<bool>;
    /// Marks the code used, atomically: returns it with `used_at` set if this
    /// call used it; `None` if it is missing, already used or expired. Of
    /// concurrent consumers exactly one gets `Some`.
    async fn consume(&self, tenant_id: &str, code_id: &str) -> Result<Option<Code>>;
    /// Deletes the tenant's codes that expired before `older_than`; returns how many.
    async fn cleanup(&self, tenant_id: &str, older_than: Timestamp) -> Result<u64>;
}

/// Password hashes. `create` (and `upsert`) of a current password demotes the
/// user's other passwords in the same transaction, setting their `updated_at`
/// to the new record's.
#[async_trait]
pub trait PasswordsAdapter: EntityStore<Password> {
    /// The user's current password, if any.
    async fn get_current(&self, tenant_id: &str, user_id: &str) -> Result<Option<Password>>;
    /// Deletes a password record; `false` if it did not exist.
    async fn remove(&self, tenant_id: &str, id: &str) -> Result<bool>;
}

/// One adapter per entity: what an application holds.
///
/// ```
/// use adapter_interfaces::{DataAdapters, TenantInsert, UserInsert, ListParams};
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> adapter_interfaces::Result<()> {
/// let db: DataAdapters = adapter_interfaces::memory::adapters();
/// let tenant = db.tenants.create(TenantInsert { friendly_name: "Acme".into(), ..Default::default() }).await?;
/// let user = db.users.create(&tenant.id, UserInsert {
///     email: Some("Ada@Example.com".into()),
///     connection: "Username-Password-Authentication".into(),
///     ..Default::default()
/// }).await?;
/// assert_eq!(user.email.as_deref(), Some("ada@example.com"));
/// assert!(user.user_id.starts_with("auth0|"));
/// let page = db.users.list(&tenant.id, &ListParams::default().with_q("email:ada@example.com")).await?;
/// assert_eq!(page.items, vec![user]);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct DataAdapters {
    /// Tenants.
    pub tenants: Arc<dyn TenantsAdapter>,
    /// Users.
    pub users: Arc<dyn UsersAdapter>,
    /// Applications.
    pub applications: Arc<dyn ApplicationsAdapter>,
    /// Connections.
    pub connections: Arc<dyn ConnectionsAdapter>,
    /// Sessions.
    pub sessions: Arc<dyn SessionsAdapter>,
    /// Codes.
    pub codes: Arc<dyn CodesAdapter>,
    /// Passwords.
    pub passwords: Arc<dyn PasswordsAdapter>,
    /// Logs.
    pub logs: Arc<dyn LogsAdapter>,
    /// The replication journal and migration stage in the same database
    /// ([`crate::journal`]): where a passthrough whose primary is this store
    /// records what it owes its secondaries. It must share the stores'
    /// database server: on PostgreSQL a write's first journal step is made
    /// durable by the store's own commit ([`crate::journal::sql`]).
    pub journal: Arc<dyn crate::journal::ReplicationJournal>,
}

impl std::fmt::Debug for DataAdapters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataAdapters { .. }")
    }
}
