//! The passthrough of one entity, written once over [`Entity`].

use std::future::Future;
use std::ops::Range;
use std::sync::Arc;
use std::time::Instant;

use adapter_interfaces::{
    AdapterError, Code, CodesAdapter, EntityStore, ListParams, MutableStore, Page, Password,
    PasswordsAdapter, Result, Tenant, TenantInsert, TenantPatch, TenantsAdapter, Timestamp,
    async_trait,
};

use crate::config::{OnFailure, WriteMode};
use crate::core::Core;
use crate::entity::{BoxFuture, Entity, display_key};
use crate::op::{Action, CompareOp, Link, OpInfo, Query, WriteOp};
use crate::stage::MigrationController;

/// How an entity passthrough picks its primary and secondaries.
#[derive(Clone)]
pub(crate) enum Route {
    /// Store 0 is the primary, the others are secondaries.
    Fixed,
    /// Stores 0 (old) and 1 (new), as the controller's stage says.
    Staged(Arc<MigrationController>),
}

/// The stores a call uses.
struct Plan {
    primary: usize,
    secondaries: Range<usize>,
    compare: bool,
}

/// The passthrough of one entity: reads from the primary, writes to the
/// primary first and replicates the resulting records to the secondaries.
/// Built by [`crate::Passthrough`]; implements the entity's trait.
pub struct PassthroughStore<R: Entity> {
    core: Arc<Core>,
    stores: Vec<Arc<R::Store>>,
    route: Route,
}

impl<R: Entity> PassthroughStore<R> {
    pub(crate) fn new(core: Arc<Core>, stores: Vec<Arc<R::Store>>, route: Route) -> Self {
        Self {
            core,
            stores,
            route,
        }
    }

    fn plan(&self) -> Plan {
        match &self.route {
            Route::Fixed => Plan {
                primary: 0,
                secondaries: 1..self.stores.len(),
                compare: true,
            },
            Route::Staged(controller) => {
                let stage = controller.stage();
                let secondaries = stage.secondary().map_or(0..0, |s| s.index()..s.index() + 1);
                Plan {
                    primary: stage.primary().index(),
                    secondaries,
                    compare: stage.compares_reads(),
                }
            }
        }
    }

    /// Writes to the primary, then replicates what `actions` derives from its
    /// result. The primary write and the enqueueing happen under the key's
    /// ordering lock, so the queues see writes of a key in the primary's order.
    async fn write<T, F, Fut>(
        &self,
        method: &'static str,
        tenant_id: &str,
        order_key: Option<&str>,
        call: F,
        actions: impl FnOnce(&T) -> Vec<Action<R>> + Send,
    ) -> Result<T>
    where
        T: Send,
        F: FnOnce(Arc<R::Store>) -> Fut + Send,
        Fut: Future<Output = Result<T>> + Send,
    {
        let _stage = match &self.route {
            Route::Staged(controller) => Some(controller.enter().await),
            Route::Fixed => None,
        };
        let plan = self.plan();
        let order = match order_key {
            Some(key) => Some(self.core.stripe(R::KIND, tenant_id, key).lock().await),
            None => None,
        };
        let primary = self.stores[plan.primary].clone();
        let started = Instant::now();
        let result = call(primary).await;
        self.core
            .record_primary(plan.primary, R::KIND, method, result.is_ok(), started);
        let value = result?;
        if plan.secondaries.is_empty() {
            return Ok(value);
        }
        let mut waits = Vec::new();
        for action in actions(&value) {
            for index in plan.secondaries.clone() {
                let blocking = matches!(
                    self.core.targets[index].options.mode,
                    WriteMode::Blocking(_)
                );
                let op = WriteOp::<R>::new(
                    method,
                    tenant_id,
                    (
                        self.stores[index].clone(),
                        self.stores[plan.primary].clone(),
                    ),
                    Link {
                        bundles: self.core.bundles.clone(),
                        target: index,
                        source: plan.primary,
                    },
                    action.clone(),
                );
                if let Some(first) = self.core.enqueue(index, Box::new(op), blocking).await {
                    waits.push((index, first));
                }
            }
        }
        drop(order);
        let mut failure = None;
        for (index, first) in waits {
            let target = &self.core.targets[index];
            let outcome = match tokio::time::timeout(target.options.blocking_timeout, first).await {
                Ok(Ok(outcome)) => outcome,
                Ok(Err(_)) => Err(backend("the replication worker stopped".into())),
                Err(_) => Err(backend(format!(
                    "no answer within {:?}; the write stays queued",
                    target.options.blocking_timeout
                ))),
            };
            if let Err(error) = outcome
                && target.options.mode == WriteMode::Blocking(OnFailure::FailCall)
                && failure.is_none()
            {
                failure = Some(AdapterError::SecondaryWrite {
                    secondary: target.name.clone(),
                    source: Box::new(error),
                });
            }
        }
        match failure {
            Some(error) => Err(error),
            None => Ok(value),
        }
    }

    /// After a primary read of one record: falls back on a miss, queues the
    /// sampled comparisons.
    async fn after_read(
        &self,
        plan: Plan,
        method: &'static str,
        tenant_id: &str,
        key: &str,
        found: Option<R>,
        query: BoundReadOne<R>,
    ) -> Result<Option<R>> {
        if plan.compare && self.core.sample() {
            let expected: Vec<R> = found.iter().cloned().collect();
            let list_query = query.clone();
            let as_list: Query<R> = Arc::new(move |store| {
                let query = list_query.clone();
                Box::pin(async move { query(store).await.map(|r| r.into_iter().collect()) })
            });
            self.compare(
                &plan,
                method,
                tenant_id,
                display_key::<R>(key),
                expected,
                as_list,
            );
        }
        if found.is_some() || !self.core.read_policy.fallback {
            return Ok(found);
        }
        for index in plan.secondaries.clone() {
            let started = Instant::now();
            let answer = query(self.stores[index].clone()).await;
            self.core
                .record_fallback(index, R::KIND, method, answer.is_ok(), started);
            let record = match answer {
                Ok(Some(record)) => record,
                Ok(None) => continue,
                Err(error) => {
                    tracing::warn!(entity = %R::KIND, method, %error, "fallback read failed");
                    continue;
                }
            };
            // A secondary still waiting for writes of this key may hold a record the primary removed.
            if self
                .core
                .is_unsettled(index, R::KIND, tenant_id, record.key())
            {
                continue;
            }
            if self.core.read_policy.read_repair {
                let copy = record.clone();
                let repaired = self
                    .write(
                        "read_repair",
                        tenant_id,
                        Some(R::record_order_key(&record)),
                        |store| async move { store.upsert(tenant_id, copy).await },
                        |_| vec![Action::Upsert(record.clone())],
                    )
                    .await;
                if let Err(error) = repaired {
                    tracing::warn!(entity = %R::KIND, %error, "read repair failed");
                }
            }
            return Ok(Some(record));
        }
        Ok(None)
    }

    fn compare(
        &self,
        plan: &Plan,
        method: &'static str,
        tenant_id: &str,
        key: String,
        expected: Vec<R>,
        query: Query<R>,
    ) {
        for index in plan.secondaries.clone() {
            let op = CompareOp::<R> {
                info: OpInfo {
                    entity: R::KIND,
                    method,
                    tenant_id: tenant_id.to_owned(),
                    key: key.clone(),
                },
                secondary: self.core.targets[index].name.clone(),
                target: self.stores[index].clone(),
                expected: expected.clone(),
                query: query.clone(),
            };
            self.core.enqueue_read(index, Box::new(op));
        }
    }

    /// `get`, or any read of one record, through the read policy.
    async fn read_one(
        &self,
        method: &'static str,
        tenant_id: &str,
        key: &str,
        query: ReadOne<R>,
    ) -> Result<Option<R>> {
        let plan = self.plan();
        let started = Instant::now();
        let found = query(self.stores[plan.primary].clone(), tenant_id, key).await;
        self.core
            .record_primary(plan.primary, R::KIND, method, found.is_ok(), started);
        let found = found?;
        let wants_fallback = found.is_none() && self.core.read_policy.fallback;
        if plan.secondaries.is_empty() || !(wants_fallback || plan.compare) {
            return Ok(found);
        }
        let (tenant, owned_key) = (tenant_id.to_owned(), key.to_owned());
        let bound = Arc::new(move |store| {
            let (tenant, key) = (tenant.clone(), owned_key.clone());
            Box::pin(async move { query(store, &tenant, &key).await }) as BoxFuture<'static, _>
        });
        self.after_read(plan, method, tenant_id, key, found, bound)
            .await
    }

    async fn remove_key(&self, tenant_id: &str, key: &str) -> Result<bool> {
        self.write(
            "remove",
            tenant_id,
            Some(key),
            |store| async move { R::remove(&store, tenant_id, key).await },
            // Replicated even when the primary had nothing: it costs little and heals a stray copy.
            |_| vec![Action::Remove(key.to_owned())],
        )
        .await
    }
}

/// A read of one record by (tenant, key), as a plain function so it can be re-run on a secondary.
type ReadOne<R> =
    for<'a> fn(Arc<<R as Entity>::Store>, &'a str, &'a str) -> BoxFuture<'a, Result<Option<R>>>;

/// A [`ReadOne`] bound to its arguments, to re-run on any store.
type BoundReadOne<R> =
    Arc<dyn Fn(Arc<<R as Entity>::Store>) -> BoxFuture<'static, Result<Option<R>>> + Send + Sync>;

fn get_one<'a, R: Entity>(
    store: Arc<R::Store>,
    tenant_id: &'a str,
    key: &'a str,
) -> BoxFuture<'a, Result<Option<R>>> {
    Box::pin(async move { store.get(tenant_id, key).await })
}

fn get_current<'a>(
    store: Arc<dyn PasswordsAdapter>,
    tenant_id: &'a str,
    user_id: &'a str,
) -> BoxFuture<'a, Result<Option<Password>>> {
    Box::pin(async move { store.get_current(tenant_id, user_id).await })
}

fn backend(message: String) -> AdapterError {
    AdapterError::Backend {
        message,
        source: None,
    }
}

#[async_trait]
impl<R: Entity> EntityStore<R> for PassthroughStore<R> {
    async fn create(&self, tenant_id: &str, insert: R::Insert) -> Result<R> {
        let order = R::order_key(&insert).map(str::to_owned);
        self.write(
            "create",
            tenant_id,
            order.as_deref(),
            |store| async move { store.create(tenant_id, insert).await },
            |record| vec![Action::Upsert(record.clone())],
        )
        .await
    }

    async fn get(&self, tenant_id: &str, id: &str) -> Result<Option<R>> {
        // The fast path (no fallback, no comparison) costs one boxed future more than a direct call.
        self.read_one("get", tenant_id, id, get_one::<R>).await
    }

    async fn list(&self, tenant_id: &str, params: &ListParams) -> Result<Page<R>> {
        let plan = self.plan();
        let started = Instant::now();
        let page = self.stores[plan.primary].list(tenant_id, params).await;
        self.core
            .record_primary(plan.primary, R::KIND, "list", page.is_ok(), started);
        let page = page?;
        if !plan.secondaries.is_empty() && plan.compare && self.core.sample() {
            let (tenant, params) = (tenant_id.to_owned(), params.clone());
            let query: Query<R> = Arc::new(move |store| {
                let (tenant, params) = (tenant.clone(), params.clone());
                Box::pin(async move { store.list(&tenant, &params).await.map(|page| page.items) })
            });
            self.compare(
                &plan,
                "list",
                tenant_id,
                "list".to_owned(),
                page.items.clone(),
                query,
            );
        }
        Ok(page)
    }

    async fn upsert(&self, tenant_id: &str, record: R) -> Result<()> {
        let order = R::record_order_key(&record).to_owned();
        let copy = record.clone();
        self.write(
            "upsert",
            tenant_id,
            Some(&order),
            |store| async move { store.upsert(tenant_id, copy).await },
            |_| vec![Action::Upsert(record)],
        )
        .await
    }

    async fn upsert_many(&self, tenant_id: &str, records: Vec<R>) -> Result<()> {
        let copy = records.clone();
        self.write(
            "upsert_many",
            tenant_id,
            None,
            |store| async move { store.upsert_many(tenant_id, copy).await },
            |_| vec![Action::UpsertMany(records)],
        )
        .await
    }
}

#[async_trait]
impl<R: Entity> MutableStore<R> for PassthroughStore<R>
where
    R::Store: MutableStore<R>,
{
    async fn update(&self, tenant_id: &str, id: &str, patch: R::Patch) -> Result<R> {
        self.write(
            "update",
            tenant_id,
            Some(id),
            |store| async move { store.update(tenant_id, id, patch).await },
            |record| vec![Action::Upsert(record.clone())],
        )
        .await
    }

    async fn remove(&self, tenant_id: &str, id: &str) -> Result<bool> {
        self.remove_key(tenant_id, id).await
    }
}

#[async_trait]
impl CodesAdapter for PassthroughStore<Code> {
    async fn remove(&self, tenant_id: &str, code_id: &str) -> Result<bool> {
        self.remove_key(tenant_id, code_id).await
    }

    async fn consume(&self, tenant_id: &str, code_id: &str) -> Result<Option<Code>> {
        self.write(
            "consume",
            tenant_id,
            Some(code_id),
            |store| async move { store.consume(tenant_id, code_id).await },
            // The secondary gets the used code as the primary stored it (same used_at).
            |used| used.iter().cloned().map(Action::Upsert).collect(),
        )
        .await
    }

    async fn cleanup(&self, tenant_id: &str, older_than: Timestamp) -> Result<u64> {
        self.write(
            "cleanup",
            tenant_id,
            None,
            |store| async move { store.cleanup(tenant_id, older_than).await },
            |_| vec![Action::Cleanup(older_than)],
        )
        .await
    }
}

#[async_trait]
impl PasswordsAdapter for PassthroughStore<Password> {
    async fn get_current(&self, tenant_id: &str, user_id: &str) -> Result<Option<Password>> {
        self.read_one("get_current", tenant_id, user_id, get_current)
            .await
    }

    async fn remove(&self, tenant_id: &str, id: &str) -> Result<bool> {
        self.remove_key(tenant_id, id).await
    }
}

#[async_trait]
impl TenantsAdapter for PassthroughStore<Tenant> {
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
        self.remove_key("", id).await
    }
    async fn upsert(&self, tenant: Tenant) -> Result<()> {
        EntityStore::upsert(self, "", tenant).await
    }
    async fn upsert_many(&self, tenants: Vec<Tenant>) -> Result<()> {
        EntityStore::upsert_many(self, "", tenants).await
    }
}
