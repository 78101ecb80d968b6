//! Adapter combinators for the model tests: [`split`] sends writes to one
//! bundle and reads to another (cross-backend reads on one database), and
//! [`tampered`] alters what a bundle reads back (deliberately broken
//! adapters that prove the model tests catch real mistakes).

use std::sync::Arc;

use adapter_interfaces::{
    Application, Code, CodesAdapter, Connection, DataAdapters, EntityKind, EntityStore, ListParams,
    Log, LogsAdapter, MutableStore, Page, Password, PasswordsAdapter, Result, Session, Tenant,
    TenantInsert, TenantPatch, TenantsAdapter, Timestamp, User, async_trait,
};
use passthrough::Entity;
use serde_json::Value as Json;

/// A deliberate fault in what an adapter reads back, applied to records as JSON.
pub trait Tamper: Send + Sync + 'static {
    /// Alters one record (from `get`, `list`, `create`, `update`, ...).
    fn record(&self, _entity: EntityKind, _record: &mut Json) {}
    /// Alters the items of a page, after [`Tamper::record`] ran on each.
    fn page(&self, _entity: EntityKind, _params: &ListParams, _items: &mut Vec<Json>) {}
}

struct Wrapped<R: Entity> {
    write: Arc<R::Store>,
    read: Arc<R::Store>,
    tamper: Option<Arc<dyn Tamper>>,
}

impl<R: Entity> Wrapped<R> {
    fn record(&self, record: R) -> R {
        let Some(tamper) = &self.tamper else {
            return record;
        };
        let Ok(mut json) = serde_json::to_value(&record) else {
            return record;
        };
        tamper.record(R::KIND, &mut json);
        serde_json::from_value(json).unwrap_or(record)
    }

    fn page(&self, params: &ListParams, mut page: Page<R>) -> Page<R> {
        let Some(tamper) = &self.tamper else {
            return page;
        };
        let mut items: Vec<Json> = page
            .items
            .drain(..)
            .map(|r| self.record(r))
            .filter_map(|r| serde_json::to_value(r).ok())
            .collect();
        tamper.page(R::KIND, params, &mut items);
        page.items = items
            .into_iter()
            .filter_map(|j| serde_json::from_value(j).ok())
            .collect();
        page
    }
}

#[async_trait]
impl<R: Entity> EntityStore<R> for Wrapped<R> {
    async fn create(&self, tenant_id: &str, insert: R::Insert) -> Result<R> {
        Ok(self.record(self.write.create(tenant_id, insert).await?))
    }
    async fn get(&self, tenant_id: &str, id: &str) -> Result<Option<R>> {
        Ok(self.read.get(tenant_id, id).await?.map(|r| self.record(r)))
    }
    async fn list(&self, tenant_id: &str, params: &ListParams) -> Result<Page<R>> {
        Ok(self.page(params, self.read.list(tenant_id, params).await?))
    }
    async fn upsert(&self, tenant_id: &str, record: R) -> Result<()> {
        self.write.upsert(tenant_id, record).await
    }
    async fn upsert_many(&self, tenant_id: &str, records: Vec<R>) -> Result<()> {
        self.write.upsert_many(tenant_id, records).await
    }
}

#[async_trait]
impl<R: Entity> MutableStore<R> for Wrapped<R>
where
    R::Store: MutableStore<R>,
{
    async fn update(&self, tenant_id: &str, id: &str, patch: R::Patch) -> Result<R> {
        Ok(self.record(self.write.update(tenant_id, id, patch).await?))
    }
    async fn remove(&self, tenant_id: &str, id: &str) -> Result<bool> {
        R::remove(&self.write, tenant_id, id).await
    }
}

#[async_trait]
impl LogsAdapter for Wrapped<Log> {
    async fn remove(&self, tenant_id: &str, log_id: &str) -> Result<bool> {
        self.write.remove(tenant_id, log_id).await
    }
}

#[async_trait]
impl CodesAdapter for Wrapped<Code> {
    async fn remove(&self, tenant_id: &str, code_id: &str) -> Result<bool> {
        self.write.remove(tenant_id, code_id).await
    }
    async fn consume(&self, tenant_id: &str, code_id: &str) -> Result<Option<Code>> {
        Ok(self
            .write
            .consume(tenant_id, code_id)
            .await?
            .map(|c| self.record(c)))
    }
    async fn cleanup(&self, tenant_id: &str, older_than: Timestamp) -> Result<u64> {
        self.write.cleanup(tenant_id, older_than).await
    }
}

#[async_trait]
impl PasswordsAdapter for Wrapped<Password> {
    async fn get_current(&self, tenant_id: &str, user_id: &str) -> Result<Option<Password>> {
        Ok(self
            .read
            .get_current(tenant_id, user_id)
            .await?
            .map(|p| self.record(p)))
    }
    async fn remove(&self, tenant_id: &str, id: &str) -> Result<bool> {
        self.write.remove(tenant_id, id).await
    }
}

#[async_trait]
impl TenantsAdapter for Wrapped<Tenant> {
    async fn create(&self, tenant: TenantInsert) -> Result<Tenant> {
        EntityStore::create(self, "", tenant).await
    }
    async fn get(&self, id: &str) -> Result<Option<Tenant>> {
        EntityStore::get(self, "", id).await
    }
    async fn list(&self, params: &ListParams) -> Result<Page<Tenant>> {
        EntityStore::list(self, "", params).await
    }
    async fn update(&self, id: &str, patch: TenantPatch) -> Result<Tenant> {
        MutableStore::update(self, "", id, patch).await
    }
    async fn remove(&self, id: &str) -> Result<bool> {
        MutableStore::remove(self, "", id).await
    }
    async fn upsert(&self, tenant: Tenant) -> Result<()> {
        EntityStore::upsert(self, "", tenant).await
    }
    async fn upsert_many(&self, tenants: Vec<Tenant>) -> Result<()> {
        EntityStore::upsert_many(self, "", tenants).await
    }
}

fn compose(
    write: &DataAdapters,
    read: &DataAdapters,
    tamper: Option<Arc<dyn Tamper>>,
) -> DataAdapters {
    fn part<R: Entity>(
        write: &DataAdapters,
        read: &DataAdapters,
        tamper: &Option<Arc<dyn Tamper>>,
    ) -> Arc<Wrapped<R>> {
        Arc::new(Wrapped {
            write: R::store(write),
            read: R::store(read),
            tamper: tamper.clone(),
        })
    }
    DataAdapters {
        tenants: part::<Tenant>(write, read, &tamper),
        users: part::<User>(write, read, &tamper),
        applications: part::<Application>(write, read, &tamper),
        connections: part::<Connection>(write, read, &tamper),
        sessions: part::<Session>(write, read, &tamper),
        codes: part::<Code>(write, read, &tamper),
        passwords: part::<Password>(write, read, &tamper),
        logs: part::<Log>(write, read, &tamper),
        journal: write.journal.clone(),
    }
}

/// A bundle whose writes (and the records they return) go to `write` and
/// whose reads (`get`, `list`, `get_current`) go to `read`: with two
/// backends on one database, every read checks that one backend reads what
/// the other wrote.
pub fn split(write: &DataAdapters, read: &DataAdapters) -> DataAdapters {
    compose(write, read, None)
}

/// `inner`, with everything it reads back altered by `tamper`.
pub fn tampered(inner: &DataAdapters, tamper: impl Tamper) -> DataAdapters {
    compose(inner, inner, Some(Arc::new(tamper)))
}
