//! The in-memory adapter: the reference every other adapter is compared with,
//! and a real choice for unit tests of applications.
//!
//! All data sits behind one lock, so every method is atomic and the adapter
//! is safe to share between tasks; cascades (a tenant's records, a user's
//! sessions and passwords) happen under the same lock. Listing evaluates the
//! same [`ListPlan`] the SQL backends run, with the canonical order of
//! [`Value::canonical_cmp`].
//!
//! ```
//! use adapter_interfaces::{memory::MemoryStore, TenantInsert};
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> adapter_interfaces::Result<()> {
//! let store = MemoryStore::new();
//! let db = store.adapters();
//! db.tenants.create(TenantInsert { id: Some("t1".into()), friendly_name: "T1".into(), ..Default::default() }).await?;
//! // A second bundle over the same store sees the same data.
//! assert!(store.adapters().tenants.get("t1").await?.is_some());
//! # Ok(()) }
//! ```

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use async_trait::async_trait;

use crate::entities::{
    Application, Code, Connection, Log, Password, Session, Tenant, TenantInsert, TenantPatch, User,
};
use crate::error::{AdapterError, EntityKind, Result};
use crate::list::{ListParams, ListPlan, Page, SortOrder};
use crate::record::{self, Record, UniqueIndex, Value};
use crate::timestamp::Timestamp;
use crate::traits::{
    CodesAdapter, DataAdapters, EntityStore, LogsAdapter, MutableStore, PasswordsAdapter,
    TenantsAdapter,
};

/// A fresh, empty in-memory store as a [`DataAdapters`] bundle.
pub fn adapters() -> DataAdapters {
    MemoryStore::new().adapters()
}

/// Records of one entity, keyed by (tenant id, record key).
type Table<R> = BTreeMap<(String, String), R>;

#[derive(Default, Clone)]
struct State {
    tenants: BTreeMap<String, Tenant>,
    users: Table<User>,
    applications: Table<Application>,
    connections: Table<Connection>,
    sessions: Table<Session>,
    codes: Table<Code>,
    passwords: Table<Password>,
    logs: Table<Log>,
}

impl State {
    fn remove_tenant_records(&mut self, tenant_id: &str) {
        fn prune<R>(table: &mut Table<R>, tenant_id: &str) {
            table.retain(|(tenant, _), _| tenant != tenant_id);
        }
        prune(&mut self.users, tenant_id);
        prune(&mut self.applications, tenant_id);
        prune(&mut self.connections, tenant_id);
        prune(&mut self.sessions, tenant_id);
        prune(&mut self.codes, tenant_id);
        prune(&mut self.passwords, tenant_id);
        prune(&mut self.logs, tenant_id);
    }
}

/// How a tenant-scoped record lives in the [`State`]: its table, and what a
/// write or a removal does to other records.
trait MemoryRecord: Record {
    fn table(state: &State) -> &Table<Self>;
    fn table_mut(state: &mut State) -> &mut Table<Self>;
    /// Side effects of writing `record` (already stored).
    fn after_write(_state: &mut State, _tenant_id: &str, _record: &Self) {}
    /// Side effects of removing `record`.
    fn after_remove(_state: &mut State, _tenant_id: &str, _record: &Self) {}
}

macro_rules! memory_record {
    ($record:ty, $field:ident) => {
        memory_record!($record, $field, {});
    };
    ($record:ty, $field:ident, { $($hooks:tt)* }) => {
        impl MemoryRecord for $record {
            fn table(state: &State) -> &Table<Self> {
                &state.$field
            }
            fn table_mut(state: &mut State) -> &mut Table<Self> {
                &mut state.$field
            }
            $($hooks)*
        }
    };
}

memory_record!(User, users, {
    fn after_remove(state: &mut State, tenant_id: &str, user: &Self) {
        state
            .sessions
            .retain(|(t, _), s| !(t == tenant_id && s.user_id == user.user_id));
        state
            .passwords
            .retain(|(t, _), p| !(t == tenant_id && p.user_id == user.user_id));
    }
});
memory_record!(Application, applications);
memory_record!(Connection, connections);
memory_record!(Session, sessions);
memory_record!(Code, codes);
memory_record!(Log, logs);
memory_record!(Password, passwords, {
    fn after_write(state: &mut State, tenant_id: &str, new: &Self) {
        if !new.is_current {
            return;
        }
        for ((t, _), other) in state.passwords.iter_mut() {
            if t == tenant_id
                && other.user_id == new.user_id
                && other.id != new.id
                && other.is_current
            {
                other.is_current = false;
                other.updated_at = new.updated_at;
            }
        }
    }
});

/// The in-memory store. Clones share the same data.
#[derive(Clone, Default)]
pub struct MemoryStore {
    state: Arc<RwLock<State>>,
    journal: Arc<crate::journal::MemoryJournal>,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MemoryStore { .. }")
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// A [`DataAdapters`] bundle over this store.
    pub fn adapters(&self) -> DataAdapters {
        DataAdapters {
            tenants: Arc::new(self.clone()),
            users: Arc::new(MemoryTable::<User>::new(self)),
            applications: Arc::new(MemoryTable::<Application>::new(self)),
            connections: Arc::new(MemoryTable::<Connection>::new(self)),
            sessions: Arc::new(MemoryTable::<Session>::new(self)),
            codes: Arc::new(MemoryTable::<Code>::new(self)),
            passwords: Arc::new(MemoryTable::<Password>::new(self)),
            logs: Arc::new(MemoryTable::<Log>::new(self)),
            journal: self.journal.clone(),
        }
    }

    // A panic while holding the lock cannot leave a half-applied write
    // (writes are applied after all checks), so a poisoned lock is still sound.
    fn read(&self) -> RwLockReadGuard<'_, State> {
        self.state
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.state
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The adapter of one tenant-scoped entity over a [`MemoryStore`].
pub struct MemoryTable<R> {
    store: MemoryStore,
    _record: PhantomData<fn() -> R>,
}

impl<R> MemoryTable<R> {
    /// The adapter of entity `R` over `store`.
    pub fn new(store: &MemoryStore) -> Self {
        Self {
            store: store.clone(),
            _record: PhantomData,
        }
    }
}

/// Runs a [`ListPlan`] over records (already restricted to one tenant).
fn run_plan<'a, R: Record>(
    records: impl Iterator<Item = &'a R>,
    params: &ListParams,
) -> Result<Page<R>> {
    let plan = ListPlan::new::<R>(params)?;
    let rows: Vec<(Vec<Value>, &R)> = records.map(|r| (record::to_values(r), r)).collect();
    let lookup = |values: &Vec<Value>| {
        let values = values.clone();
        move |name: &str| {
            R::COLUMNS
                .iter()
                .position(|c| c.name == name)
                .map(|i| values[i].clone())
                .unwrap_or(Value::Null)
        }
    };
    let matches = |filter: &Option<crate::Filter>, values: &Vec<Value>| {
        filter.as_ref().is_none_or(|f| f.matches(&lookup(values)))
    };
    let total = plan.include_totals.then(|| {
        rows.iter()
            .filter(|(values, _)| matches(&plan.filter, values))
            .count() as u64
    });
    let page_filter = plan.page_filter();
    let mut selected: Vec<&(Vec<Value>, &R)> = rows
        .iter()
        .filter(|(values, _)| matches(&page_filter, values))
        .collect();
    let positions: Vec<(usize, SortOrder)> = plan
        .order
        .iter()
        .filter_map(|o| {
            R::COLUMNS
                .iter()
                .position(|c| c.name == o.column.name)
                .map(|i| (i, o.order))
        })
        .collect();
    selected.sort_by(|(a, _), (b, _)| {
        positions
            .iter()
            .map(|&(i, order)| {
                let ordering = a[i].canonical_cmp(&b[i]);
                if order == SortOrder::Desc {
                    ordering.reverse()
                } else {
                    ordering
                }
            })
            .find(|o| *o != Ordering::Equal)
            .unwrap_or(Ordering::Equal)
    });
    let items: Vec<R> = selected
        .into_iter()
        .skip(plan.offset as usize)
        .take(plan.limit as usize)
        .map(|(_, r)| (*r).clone())
        .collect();
    Ok(plan.finish(items, total))
}

fn column_text<R: Record>(record: &R, column: &str) -> Option<String> {
    match record::column_value(record, column) {
        Value::Text(s) => Some(s),
        _ => None,
    }
}

/// The checks of a write, in the reference order: tenant, parent, keys.
fn check_write<R: MemoryRecord>(
    state: &State,
    tenant_id: &str,
    record: &R,
    replacing: bool,
) -> Result<()> {
    check_parents(state, tenant_id, record)?;
    let table = R::table(state);
    if !replacing && table.contains_key(&(tenant_id.to_owned(), record.key().to_owned())) {
        return Err(AdapterError::conflict(R::KIND, R::key_column().name));
    }
    check_unique(table, tenant_id, record)
}

/// The first checks of a write: the tenant exists, then the parent.
fn check_parents<R: MemoryRecord>(state: &State, tenant_id: &str, record: &R) -> Result<()> {
    if !state.tenants.contains_key(tenant_id) {
        return Err(AdapterError::not_found(EntityKind::Tenant, tenant_id));
    }
    if let Some(parent) = R::PARENT
        && let Some(parent_id) = column_text(record, parent.column)
    {
        let exists = match parent.parent {
            EntityKind::User => state
                .users
                .contains_key(&(tenant_id.to_owned(), parent_id.clone())),
            _ => true,
        };
        if !exists {
            return Err(AdapterError::not_found(parent.parent, parent_id));
        }
    }
    Ok(())
}

fn check_unique<R: Record>(table: &Table<R>, tenant_id: &str, record: &R) -> Result<()> {
    for unique in R::UNIQUE {
        let values: Vec<Value> = unique
            .columns
            .iter()
            .map(|c| record::column_value(record, c))
            .collect();
        if values.iter().any(Value::is_null) {
            continue;
        }
        let clash = table.iter().any(|((t, key), other)| {
            t == tenant_id
                && key != record.key()
                && unique
                    .columns
                    .iter()
                    .zip(&values)
                    .all(|(c, v)| record::column_value(other, c) == *v)
        });
        if clash {
            return Err(AdapterError::conflict(R::KIND, unique.field));
        }
    }
    Ok(())
}

fn store_record<R: MemoryRecord>(state: &mut State, tenant_id: &str, record: R) {
    let key = (tenant_id.to_owned(), record.key().to_owned());
    R::table_mut(state).insert(key, record.clone());
    R::after_write(state, tenant_id, &record);
}

fn prepare_exact<R: Record>(mut record: R) -> Result<R> {
    record.normalize();
    record::validate(&record)?;
    Ok(record)
}

#[async_trait]
impl<R: MemoryRecord> EntityStore<R> for MemoryTable<R> {
    async fn create(&self, tenant_id: &str, insert: R::Insert) -> Result<R> {
        let record = R::from_insert(insert, Timestamp::now())?;
        let mut state = self.store.write();
        check_write(&state, tenant_id, &record, false)?;
        store_record(&mut state, tenant_id, record.clone());
        Ok(record)
    }

    async fn get(&self, tenant_id: &str, id: &str) -> Result<Option<R>> {
        let state = self.store.read();
        Ok(R::table(&state)
            .get(&(tenant_id.to_owned(), id.to_owned()))
            .cloned())
    }

    async fn list(&self, tenant_id: &str, params: &ListParams) -> Result<Page<R>> {
        let state = self.store.read();
        let records = R::table(&state)
            .range((tenant_id.to_owned(), String::new())..)
            .take_while(|((t, _), _)| t == tenant_id)
            .map(|(_, r)| r);
        run_plan(records, params)
    }

    async fn upsert(&self, tenant_id: &str, record: R) -> Result<()> {
        let record = prepare_exact(record)?;
        let mut state = self.store.write();
        check_write(&state, tenant_id, &record, true)?;
        store_record(&mut state, tenant_id, record);
        Ok(())
    }

    async fn upsert_many(&self, tenant_id: &str, records: Vec<R>) -> Result<()> {
        let records = records
            .into_iter()
            .map(prepare_exact)
            .collect::<Result<Vec<R>>>()?;
        let mut state = self.store.write();
        // All or nothing: apply to a copy and keep it only if every record passes.
        let mut scratch = state.clone();
        // The tenant's unique keys, kept up to date as the batch is written:
        // checking each record against the whole table would be quadratic.
        let mut unique = UniqueIndex::new(
            false,
            R::table(&scratch)
                .range((tenant_id.to_owned(), String::new())..)
                .take_while(|((t, _), _)| t == tenant_id)
                .map(|(_, r)| r),
        );
        for record in records {
            check_parents(&scratch, tenant_id, &record)?;
            if let Some(field) = unique.clash(&record) {
                return Err(AdapterError::conflict(R::KIND, field));
            }
            unique.place(&record);
            store_record(&mut scratch, tenant_id, record);
        }
        *state = scratch;
        Ok(())
    }
}

#[async_trait]
impl<R: MemoryRecord> MutableStore<R> for MemoryTable<R> {
    async fn update(&self, tenant_id: &str, id: &str, patch: R::Patch) -> Result<R> {
        let mut state = self.store.write();
        let key = (tenant_id.to_owned(), id.to_owned());
        let existing = R::table(&state)
            .get(&key)
            .ok_or_else(|| AdapterError::not_found(R::KIND, id))?;
        let updated = record::apply_patch(existing, &patch, Timestamp::now())?;
        check_unique(R::table(&state), tenant_id, &updated)?;
        store_record(&mut state, tenant_id, updated.clone());
        Ok(updated)
    }

    async fn remove(&self, tenant_id: &str, id: &str) -> Result<bool> {
        let mut state = self.store.write();
        remove_record::<R>(&mut state, tenant_id, id)
    }
}

fn remove_record<R: MemoryRecord>(state: &mut State, tenant_id: &str, id: &str) -> Result<bool> {
    match R::table_mut(state).remove(&(tenant_id.to_owned(), id.to_owned())) {
        Some(record) => {
            R::after_remove(state, tenant_id, &record);
            Ok(true)
        }
        None => Ok(false),
    }
}

#[async_trait]
impl CodesAdapter for MemoryTable<Code> {
    async fn remove(&self, tenant_id: &str, code_id: &str) -> Result<bool> {
        let mut state = self.store.write();
        remove_record::<Code>(&mut state, tenant_id, code_id)
    }

    async fn consume(&self, tenant_id: &str, code_id: &str) -> Result<Option<Code>> {
        let now = Timestamp::now();
        let mut state = self.store.write();
        match state
            .codes
            .get_mut(&(tenant_id.to_owned(), code_id.to_owned()))
        {
            Some(code) if code.used_at.is_none() && code.expires_at > now => {
                code.used_at = Some(now);
                Ok(Some(code.clone()))
            }
            _ => Ok(None),
        }
    }

    async fn cleanup(&self, tenant_id: &str, older_than: Timestamp) -> Result<u64> {
        let mut state = self.store.write();
        let before = state.codes.len();
        state
            .codes
            .retain(|(t, _), code| !(t == tenant_id && code.expires_at < older_than));
        Ok((before - state.codes.len()) as u64)
    }
}

#[async_trait]
impl LogsAdapter for MemoryTable<Log> {
    async fn remove(&self, tenant_id: &str, log_id: &str) -> Result<bool> {
        let mut state = self.store.write();
        remove_record::<Log>(&mut state, tenant_id, log_id)
    }
}

#[async_trait]
impl PasswordsAdapter for MemoryTable<Password> {
    async fn get_current(&self, tenant_id: &str, user_id: &str) -> Result<Option<Password>> {
        let state = self.store.read();
        Ok(state
            .passwords
            .iter()
            .filter(|((t, _), p)| t == tenant_id && p.user_id == user_id && p.is_current)
            .map(|(_, p)| p)
            .max_by(|a, b| {
                a.created_at
                    .cmp(&b.created_at)
                    .then_with(|| a.id.cmp(&b.id))
            })
            .cloned())
    }

    async fn remove(&self, tenant_id: &str, id: &str) -> Result<bool> {
        let mut state = self.store.write();
        remove_record::<Password>(&mut state, tenant_id, id)
    }
}

#[async_trait]
impl TenantsAdapter for MemoryStore {
    async fn create(&self, insert: TenantInsert) -> Result<Tenant> {
        let tenant = Tenant::from_insert(insert, Timestamp::now())?;
        let mut state = self.write();
        if state.tenants.contains_key(&tenant.id) {
            return Err(AdapterError::conflict(EntityKind::Tenant, "id"));
        }
        state.tenants.insert(tenant.id.clone(), tenant.clone());
        Ok(tenant)
    }

    async fn get(&self, id: &str) -> Result<Option<Tenant>> {
        Ok(self.read().tenants.get(id).cloned())
    }

    async fn list(&self, params: &ListParams) -> Result<Page<Tenant>> {
        let state = self.read();
        run_plan(state.tenants.values(), params)
    }

    async fn update(&self, id: &str, patch: TenantPatch) -> Result<Tenant> {
        let mut state = self.write();
        let existing = state
            .tenants
            .get(id)
            .ok_or_else(|| AdapterError::not_found(EntityKind::Tenant, id))?;
        let updated = record::apply_patch(existing, &patch, Timestamp::now())?;
        state.tenants.insert(id.to_owned(), updated.clone());
        Ok(updated)
    }

    async fn remove(&self, id: &str) -> Result<bool> {
        let mut state = self.write();
        let existed = state.tenants.remove(id).is_some();
        if existed {
            state.remove_tenant_records(id);
        }
        Ok(existed)
    }

    async fn upsert(&self, tenant: Tenant) -> Result<()> {
        let tenant = prepare_exact(tenant)?;
        self.write().tenants.insert(tenant.id.clone(), tenant);
        Ok(())
    }

    async fn upsert_many(&self, tenants: Vec<Tenant>) -> Result<()> {
        let tenants = tenants
            .into_iter()
            .map(prepare_exact)
            .collect::<Result<Vec<_>>>()?;
        let mut state = self.write();
        for tenant in tenants {
            state.tenants.insert(tenant.id.clone(), tenant);
        }
        Ok(())
    }
}
