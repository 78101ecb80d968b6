//! Fault injection: a store that fails or stalls on demand, to test
//! replication failure paths (and to rehearse them before a real migration).
//!
//! Two kinds of failure, because replication treats them differently: a
//! *transient* fault ([`FaultSwitch::fail_writes`], a backend error: the
//! store is unreachable) is retried for as long as it takes, a *rejection*
//! ([`FaultSwitch::reject_next_writes`], invalid input: the store refuses the
//! record) becomes a dead letter after the retry policy's attempts.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use adapter_interfaces::{
    AdapterError, Application, Code, CodesAdapter, Connection, DataAdapters, EntityStore,
    ListParams, Log, LogsAdapter, MutableStore, Page, Password, PasswordsAdapter, Result, Session,
    Tenant, TenantInsert, TenantPatch, TenantsAdapter, Timestamp, User, async_trait,
};

use crate::entity::{Entity, TenantStore};

/// Turns failures of a [`with_faults`] bundle on and off. Clones share state.
#[derive(Debug, Clone, Default)]
pub struct FaultSwitch {
    state: Arc<FaultState>,
}

#[derive(Debug, Default)]
struct FaultState {
    writes: AtomicBool,
    reads: AtomicBool,
    next_writes: AtomicU64,
    next_rejections: AtomicU64,
    read_delay_ms: AtomicU64,
    write_delay_ms: AtomicU64,
    injected: AtomicU64,
}

/// Takes one from a countdown; `true` if it was not yet at zero.
fn take_one(counter: &AtomicU64) -> bool {
    counter
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
}

/// Sleeps for a delay in milliseconds, if any.
async fn stall(delay_ms: &AtomicU64) {
    let ms = delay_ms.load(Ordering::SeqCst);
    if ms > 0 {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
}

impl FaultSwitch {
    /// Makes every write fail (`true`) or succeed (`false`).
    pub fn fail_writes(&self, on: bool) {
        self.state.writes.store(on, Ordering::SeqCst);
    }

    /// Makes every read fail (`true`) or succeed (`false`).
    pub fn fail_reads(&self, on: bool) {
        self.state.reads.store(on, Ordering::SeqCst);
    }

    /// Makes the next `count` writes fail.
    pub fn fail_next_writes(&self, count: u64) {
        self.state.next_writes.store(count, Ordering::SeqCst);
    }

    /// Makes the next `count` writes fail with a rejection
    /// ([`AdapterError::InvalidInput`]), as a store refusing a record would.
    pub fn reject_next_writes(&self, count: u64) {
        self.state.next_rejections.store(count, Ordering::SeqCst);
    }

    /// Makes every read take `delay` longer (zero: no delay), as a slow store would.
    pub fn delay_reads(&self, delay: Duration) {
        let ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        self.state.read_delay_ms.store(ms, Ordering::SeqCst);
    }

    /// Makes every write take `delay` longer (zero: no delay).
    pub fn delay_writes(&self, delay: Duration) {
        let ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        self.state.write_delay_ms.store(ms, Ordering::SeqCst);
    }

    /// How many failures (transient or rejections) were injected so far.
    pub fn injected(&self) -> u64 {
        self.state.injected.load(Ordering::SeqCst)
    }

    async fn write(&self) -> Result<()> {
        stall(&self.state.write_delay_ms).await;
        if take_one(&self.state.next_rejections) {
            self.state.injected.fetch_add(1, Ordering::SeqCst);
            return Err(AdapterError::invalid("fault", "injected rejection"));
        }
        if take_one(&self.state.next_writes) || self.state.writes.load(Ordering::SeqCst) {
            return Err(self.injected_error());
        }
        Ok(())
    }

    async fn read(&self) -> Result<()> {
        stall(&self.state.read_delay_ms).await;
        if self.state.reads.load(Ordering::SeqCst) {
            return Err(self.injected_error());
        }
        Ok(())
    }

    fn injected_error(&self) -> AdapterError {
        self.state.injected.fetch_add(1, Ordering::SeqCst);
        AdapterError::Backend {
            message: "injected fault".into(),
            source: None,
        }
    }
}

/// Wraps a bundle so that its reads and writes fail (or stall) when the returned switch says so.
pub fn with_faults(adapters: &DataAdapters) -> (DataAdapters, FaultSwitch) {
    let switch = FaultSwitch::default();
    fn wrap<R: Entity>(adapters: &DataAdapters, switch: &FaultSwitch) -> Arc<Faulty<R>> {
        Arc::new(Faulty {
            inner: R::store(adapters),
            switch: switch.clone(),
        })
    }
    let faulty = DataAdapters {
        tenants: wrap::<Tenant>(adapters, &switch),
        users: wrap::<User>(adapters, &switch),
        applications: wrap::<Application>(adapters, &switch),
        connections: wrap::<Connection>(adapters, &switch),
        sessions: wrap::<Session>(adapters, &switch),
        codes: wrap::<Code>(adapters, &switch),
        passwords: wrap::<Password>(adapters, &switch),
        logs: wrap::<Log>(adapters, &switch),
        journal: adapters.journal.clone(),
    };
    (faulty, switch)
}

/// One entity's store behind a [`FaultSwitch`].
pub struct Faulty<R: Entity> {
    inner: Arc<R::Store>,
    switch: FaultSwitch,
}

#[async_trait]
impl<R: Entity> EntityStore<R> for Faulty<R> {
    async fn create(&self, tenant_id: &str, insert: R::Insert) -> Result<R> {
        self.switch.write().await?;
        self.inner.create(tenant_id, insert).await
    }
    async fn get(&self, tenant_id: &str, id: &str) -> Result<Option<R>> {
        self.switch.read().await?;
        self.inner.get(tenant_id, id).await
    }
    async fn list(&self, tenant_id: &str, params: &ListParams) -> Result<Page<R>> {
        self.switch.read().await?;
        self.inner.list(tenant_id, params).await
    }
    async fn upsert(&self, tenant_id: &str, record: R) -> Result<()> {
        self.switch.write().await?;
        self.inner.upsert(tenant_id, record).await
    }
    async fn upsert_many(&self, tenant_id: &str, records: Vec<R>) -> Result<()> {
        self.switch.write().await?;
        self.inner.upsert_many(tenant_id, records).await
    }
}

#[async_trait]
impl<R: Entity> MutableStore<R> for Faulty<R>
where
    R::Store: MutableStore<R>,
{
    async fn update(&self, tenant_id: &str, id: &str, patch: R::Patch) -> Result<R> {
        self.switch.write().await?;
        self.inner.update(tenant_id, id, patch).await
    }
    async fn remove(&self, tenant_id: &str, id: &str) -> Result<bool> {
        self.switch.write().await?;
        R::remove(&self.inner, tenant_id, id).await
    }
}

#[async_trait]
impl LogsAdapter for Faulty<Log> {
    async fn remove(&self, tenant_id: &str, log_id: &str) -> Result<bool> {
        self.switch.write().await?;
        self.inner.remove(tenant_id, log_id).await
    }
}

#[async_trait]
impl CodesAdapter for Faulty<Code> {
    async fn remove(&self, tenant_id: &str, code_id: &str) -> Result<bool> {
        self.switch.write().await?;
        self.inner.remove(tenant_id, code_id).await
    }
    async fn consume(&self, tenant_id: &str, code_id: &str) -> Result<Option<Code>> {
        self.switch.write().await?;
        self.inner.consume(tenant_id, code_id).await
    }
    async fn cleanup(&self, tenant_id: &str, older_than: Timestamp) -> Result<u64> {
        self.switch.write().await?;
        self.inner.cleanup(tenant_id, older_than).await
    }
}

#[async_trait]
impl PasswordsAdapter for Faulty<Password> {
    async fn get_current(&self, tenant_id: &str, user_id: &str) -> Result<Option<Password>> {
        self.switch.read().await?;
        self.inner.get_current(tenant_id, user_id).await
    }
    async fn remove(&self, tenant_id: &str, id: &str) -> Result<bool> {
        self.switch.write().await?;
        self.inner.remove(tenant_id, id).await
    }
}

#[async_trait]
impl TenantsAdapter for Faulty<Tenant> {
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

// Keeps the import used when only the tenant shim needs it.
const _: fn(&TenantStore) = |_| {};
