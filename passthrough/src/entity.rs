//! Per-entity glue: how the generic machinery reaches each entity's store.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use adapter_interfaces::journal::Subject;
use adapter_interfaces::{
    AdapterError, Application, Code, CodesAdapter, Connection, DataAdapters, EntityKind,
    EntityStore, ErrorKind, ListParams, Log, MutableStore, Page, Password, PasswordsAdapter,
    Record, Result, Session, Tenant, TenantPatch, TenantsAdapter, Timestamp, User, async_trait,
};

/// A boxed, sendable future (the glue returns these so the trait stays object-free and simple).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// An entity the passthrough can replicate: where its store sits in a
/// [`DataAdapters`], and the few methods that are not in [`EntityStore`].
///
/// Implemented for the eight entities; tenants go through [`TenantStore`],
/// which presents a [`TenantsAdapter`] as a store whose tenant id is ignored.
pub trait Entity: Record {
    /// The store's trait object (`dyn UsersAdapter`, ...).
    type Store: ?Sized + EntityStore<Self> + 'static;

    /// Whether the key itself is a secret (a code is a bearer token): then
    /// reports and logs show only a prefix of it.
    const KEY_IS_SECRET: bool = false;

    /// This entity's store in a bundle.
    fn store(adapters: &DataAdapters) -> Arc<Self::Store>;

    /// Deletes a record by key.
    fn remove<'a>(
        store: &'a Self::Store,
        tenant_id: &'a str,
        key: &'a str,
    ) -> BoxFuture<'a, Result<bool>>;

    /// Makes `store` agree that the source no longer has `key`: what a
    /// retry or a dead-letter replay does when the primary's current state
    /// of a key is "absent". Removes the record; a record (or tenant) the
    /// store does not have either is settled, not an error.
    fn remove_absent<'a>(
        store: &'a Self::Store,
        tenant_id: &'a str,
        key: &'a str,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            match Self::remove(store, tenant_id, key).await {
                Ok(_) => Ok(()),
                Err(error) if error.kind() == ErrorKind::NotFound => Ok(()),
                Err(error) => Err(error),
            }
        })
    }

    /// Deletes expired records (codes only).
    fn cleanup<'a>(
        _store: &'a Self::Store,
        _tenant_id: &'a str,
        _older_than: Timestamp,
    ) -> BoxFuture<'a, Result<u64>> {
        Box::pin(async {
            Err(AdapterError::invalid(
                "method",
                format!("{} has no cleanup", Self::KIND),
            ))
        })
    }

    /// The key that orders concurrent writes of one create: the record's own
    /// key when the caller supplies it, the user for a password (creating a
    /// current password changes the user's other passwords).
    fn order_key(insert: &Self::Insert) -> Option<&str>;

    /// The same ordering key for an exact record (see [`Entity::order_key`]).
    fn record_order_key(record: &Self) -> &str {
        record.key()
    }

    /// What a write of the record with this key and ordering key must copy:
    /// the record, or for a password every password of its user (a current
    /// password demotes the others).
    fn write_subject(key: &str, order_key: &str) -> Subject {
        match Self::KIND {
            EntityKind::Password => Subject::UserPasswords {
                user_id: order_key.to_owned(),
            },
            kind => Subject::Record {
                entity: kind,
                key: key.to_owned(),
            },
        }
    }

    /// What the removal of `key` must copy: tenants and users cascade.
    fn removal_subject(key: &str) -> Subject {
        match Self::KIND {
            kind @ (EntityKind::Tenant | EntityKind::User) => Subject::Cascade {
                entity: kind,
                key: key.to_owned(),
            },
            kind => Subject::Record {
                entity: kind,
                key: key.to_owned(),
            },
        }
    }
}

/// Gives an insert without a key the key the adapter would have generated,
/// so that the write's key is journaled before the primary write.
pub(crate) fn with_key<R: Record>(insert: R::Insert) -> Result<(R::Insert, String)> {
    let invalid = |e: serde_json::Error| AdapterError::invalid(R::KIND.singular(), e.to_string());
    let mut json = serde_json::to_value(&insert).map_err(invalid)?;
    let column = R::key_column().name;
    if let Some(key) = json.get(column).and_then(|v| v.as_str()) {
        let key = key.to_owned();
        return Ok((insert, key));
    }
    let record = R::from_insert(insert, Timestamp::now())?;
    let key = record.key().to_owned();
    if let serde_json::Value::Object(object) = &mut json {
        object.insert(column.into(), serde_json::Value::String(key.clone()));
    }
    let insert = serde_json::from_value(json).map_err(invalid)?;
    Ok((insert, key))
}

/// A [`TenantsAdapter`] seen as an [`EntityStore`]/[`MutableStore`] of
/// [`Tenant`]; the `tenant_id` argument is ignored.
pub struct TenantStore(pub Arc<dyn TenantsAdapter>);

#[async_trait]
impl EntityStore<Tenant> for TenantStore {
    async fn create(
        &self,
        _tenant_id: &str,
        insert: adapter_interfaces::TenantInsert,
    ) -> Result<Tenant> {
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

#[async_trait]
impl MutableStore<Tenant> for TenantStore {
    async fn update(&self, _tenant_id: &str, id: &str, patch: TenantPatch) -> Result<Tenant> {
        self.0.update(id, patch).await
    }
    async fn remove(&self, _tenant_id: &str, id: &str) -> Result<bool> {
        self.0.remove(id).await
    }
}

impl Entity for Tenant {
    type Store = TenantStore;
    fn store(adapters: &DataAdapters) -> Arc<TenantStore> {
        Arc::new(TenantStore(adapters.tenants.clone()))
    }
    fn remove<'a>(
        store: &'a TenantStore,
        _t: &'a str,
        key: &'a str,
    ) -> BoxFuture<'a, Result<bool>> {
        store.0.remove(key)
    }
    fn order_key(insert: &Self::Insert) -> Option<&str> {
        insert.id.as_deref()
    }
}

/// The four entities whose store is a [`MutableStore`].
macro_rules! mutable_entity {
    ($record:ty, $store:ident, $field:ident, $key:ident) => {
        impl Entity for $record {
            type Store = dyn adapter_interfaces::$store;
            fn store(adapters: &DataAdapters) -> Arc<Self::Store> {
                adapters.$field.clone()
            }
            fn remove<'a>(
                store: &'a Self::Store,
                t: &'a str,
                key: &'a str,
            ) -> BoxFuture<'a, Result<bool>> {
                MutableStore::remove(store, t, key)
            }
            fn order_key(insert: &Self::Insert) -> Option<&str> {
                insert.$key.as_deref()
            }
        }
    };
}

mutable_entity!(User, UsersAdapter, users, user_id);
mutable_entity!(Application, ApplicationsAdapter, applications, client_id);
mutable_entity!(Connection, ConnectionsAdapter, connections, id);
mutable_entity!(Session, SessionsAdapter, sessions, id);

impl Entity for Code {
    type Store = dyn CodesAdapter;
    const KEY_IS_SECRET: bool = true;
    fn store(adapters: &DataAdapters) -> Arc<Self::Store> {
        adapters.codes.clone()
    }
    fn remove<'a>(store: &'a Self::Store, t: &'a str, key: &'a str) -> BoxFuture<'a, Result<bool>> {
        CodesAdapter::remove(store, t, key)
    }
    fn cleanup<'a>(
        store: &'a Self::Store,
        t: &'a str,
        older_than: Timestamp,
    ) -> BoxFuture<'a, Result<u64>> {
        store.cleanup(t, older_than)
    }
    fn order_key(insert: &Self::Insert) -> Option<&str> {
        insert.code_id.as_deref()
    }
}

impl Entity for Password {
    type Store = dyn PasswordsAdapter;
    fn store(adapters: &DataAdapters) -> Arc<Self::Store> {
        adapters.passwords.clone()
    }
    fn remove<'a>(store: &'a Self::Store, t: &'a str, key: &'a str) -> BoxFuture<'a, Result<bool>> {
        PasswordsAdapter::remove(store, t, key)
    }
    fn order_key(insert: &Self::Insert) -> Option<&str> {
        Some(&insert.user_id)
    }
    fn record_order_key(record: &Self) -> &str {
        &record.user_id
    }
}

impl Entity for Log {
    type Store = dyn adapter_interfaces::LogsAdapter;
    fn store(adapters: &DataAdapters) -> Arc<Self::Store> {
        adapters.logs.clone()
    }
    fn remove<'a>(store: &'a Self::Store, t: &'a str, key: &'a str) -> BoxFuture<'a, Result<bool>> {
        adapter_interfaces::LogsAdapter::remove(store, t, key)
    }
    fn order_key(insert: &Self::Insert) -> Option<&str> {
        insert.log_id.as_deref()
    }
}

/// The key as reports and logs may show it: whole, or a short prefix for secret keys.
pub fn display_key<R: Entity>(key: &str) -> String {
    if R::KEY_IS_SECRET {
        let prefix: String = key.chars().take(4).collect();
        format!("{prefix}…")
    } else {
        key.to_owned()
    }
}
