//! One generic view of the eight entities, so that seed, backfill and verify
//! are written once over [`Entity`] and dispatched per [`EntityKind`].

use std::collections::VecDeque;
use std::sync::Arc;

use adapter_interfaces::{
    Application, Code, Connection, DataAdapters, EntityKind, EntityStore, ListParams, Log, Page,
    Password, Record, Result, Session, Tenant, TenantInsert, TenantsAdapter, User, async_trait,
};

/// An entity whose records can be listed and written through a [`DataAdapters`] bundle.
///
/// Tenants are not tenant-scoped; they are served through the same
/// [`EntityStore`] shape with an ignored tenant id (use [`GLOBAL`]).
pub trait Entity: Record {
    /// The entity's store in `db`.
    fn store(db: &DataAdapters) -> Arc<dyn EntityStore<Self>>;
}

/// The scope of tenants themselves (their store ignores the tenant id).
pub const GLOBAL: &str = "";

/// Wraps [`TenantsAdapter`] as an [`EntityStore`] whose tenant id is ignored.
struct TenantStore(Arc<dyn TenantsAdapter>);

#[async_trait]
impl EntityStore<Tenant> for TenantStore {
    async fn create(&self, _tenant_id: &str, insert: TenantInsert) -> Result<Tenant> {
        self.0.create(insert).await
    }
    async fn get(&self, _tenant_id: &str, id: &str) -> Result<Option<Tenant>> {
        self.0.get(id).await
    }
    async fn list(&self, _tenant_id: &str, params: &ListParams) -> Result<Page<Tenant>> {
        self.0.list(params).await
    }
    async fn upsert(&self, _tenant_id: &str, record: Tenant) -> Result<()> {
        self.0.upsert(record).await
    }
    async fn upsert_many(&self, _tenant_id: &str, records: Vec<Tenant>) -> Result<()> {
        self.0.upsert_many(records).await
    }
}

impl Entity for Tenant {
    fn store(db: &DataAdapters) -> Arc<dyn EntityStore<Self>> {
        Arc::new(TenantStore(db.tenants.clone()))
    }
}

macro_rules! scoped_entity {
    ($($record:ty => $field:ident),* $(,)?) => {$(
        impl Entity for $record {
            fn store(db: &DataAdapters) -> Arc<dyn EntityStore<Self>> {
                db.$field.clone()
            }
        }
    )*};
}

scoped_entity!(
    User => users,
    Application => applications,
    Connection => connections,
    Session => sessions,
    Code => codes,
    Password => passwords,
    Log => logs,
);

/// Evaluates `$body` with the type alias `$R` bound to the record type of `$kind`.
#[macro_export]
#[doc(hidden)]
macro_rules! dispatch {
    ($kind:expr, $R:ident => $body:expr) => {{
        use adapter_interfaces::EntityKind as K;
        match $kind {
            K::Tenant => {
                type $R = adapter_interfaces::Tenant;
                $body
            }
            K::User => {
                type $R = adapter_interfaces::User;
                $body
            }
            K::Application => {
                type $R = adapter_interfaces::Application;
                $body
            }
            K::Connection => {
                type $R = adapter_interfaces::Connection;
                $body
            }
            K::Session => {
                type $R = adapter_interfaces::Session;
                $body
            }
            K::Code => {
                type $R = adapter_interfaces::Code;
                $body
            }
            K::Password => {
                type $R = adapter_interfaces::Password;
                $body
            }
            K::Log => {
                type $R = adapter_interfaces::Log;
                $body
            }
        }
    }};
}

/// A keyset scan of one entity in one scope, in key order, one page in memory.
pub struct KeysetScan<R: Entity> {
    store: Arc<dyn EntityStore<R>>,
    scope: String,
    per_page: u32,
    buffer: VecDeque<R>,
    /// The cursor of the next page to fetch; `None` once the last page is in.
    next: Option<String>,
    started: bool,
}

impl<R: Entity> KeysetScan<R> {
    /// Starts a scan of `scope` in `db` after `from` (a cursor of a previous page), or at the start.
    pub fn new(db: &DataAdapters, scope: &str, per_page: u32, from: Option<String>) -> Self {
        Self {
            store: R::store(db),
            scope: scope.to_owned(),
            per_page: per_page.clamp(1, adapter_interfaces::list::MAX_PER_PAGE),
            buffer: VecDeque::new(),
            next: from,
            started: false,
        }
    }

    /// Fetches the next page: its records and the cursor after it (`None` at the end).
    /// Returns `None` when the scan is over.
    pub async fn next_page(&mut self) -> Result<Option<(Vec<R>, Option<String>)>> {
        if self.started && self.next.is_none() {
            return Ok(None);
        }
        self.started = true;
        let mut params = ListParams::default().with_per_page(self.per_page);
        params.from = self.next.take();
        let page = self.store.list(&self.scope, &params).await?;
        self.next = page.next.clone();
        Ok(Some((page.items, page.next)))
    }

    /// The next record without consuming it.
    pub async fn peek(&mut self) -> Result<Option<&R>> {
        self.fill().await?;
        Ok(self.buffer.front())
    }

    /// The next record.
    pub async fn pop(&mut self) -> Result<Option<R>> {
        self.fill().await?;
        Ok(self.buffer.pop_front())
    }

    async fn fill(&mut self) -> Result<()> {
        while self.buffer.is_empty() {
            match self.next_page().await? {
                Some((items, _)) => self.buffer.extend(items),
                None => break,
            }
        }
        Ok(())
    }
}

/// Counts the records of one scope (one small query with `include_totals`).
pub async fn count<R: Entity>(db: &DataAdapters, scope: &str) -> Result<u64> {
    let params = ListParams::default().with_per_page(1).with_totals();
    let page = R::store(db).list(scope, &params).await?;
    Ok(page.total.unwrap_or(page.items.len() as u64))
}

/// Whether `kind` is stored per tenant.
pub fn is_scoped(kind: EntityKind) -> bool {
    kind != EntityKind::Tenant
}
