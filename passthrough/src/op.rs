//! Replicated operations: what a secondary's queue carries.

use std::sync::Arc;

use adapter_interfaces::{DataAdapters, EntityKind, EntityStore, Result, Timestamp, async_trait};
use serde::Serialize;

use crate::compare::{Difference, diff_records};
use crate::entity::{BoxFuture, Entity, display_key};
use crate::reconcile;

/// Where an operation applies, as reports show it (never the record itself).
#[derive(Debug, Clone)]
pub(crate) struct OpInfo {
    pub entity: EntityKind,
    pub method: &'static str,
    pub tenant_id: String,
    /// The key as reports may show it (see [`display_key`]).
    pub key: String,
}

/// A sampled read whose primary and secondary answers differ.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mismatch {
    /// The secondary compared.
    pub secondary: String,
    /// The entity read.
    pub entity: EntityKind,
    /// The read method (`get`, `list`, `get_current`).
    pub method: &'static str,
    /// The tenant.
    pub tenant_id: String,
    /// The key read, or a description of the list.
    pub key: String,
    /// What differs: missing or extra records, field names (never values).
    pub differences: Vec<Difference>,
    /// When it was seen.
    pub at: Timestamp,
}

/// What applying an operation produced.
pub(crate) enum Outcome {
    Applied,
    Compared(Option<Mismatch>),
}

/// An operation a queue worker applies to its secondary.
#[async_trait]
pub(crate) trait Op: Send + Sync {
    fn info(&self) -> &OpInfo;
    async fn apply(&self) -> Result<Outcome>;
    /// The operation that reconciles what this one changed with the
    /// source's current state (what a retry from the second attempt on, and
    /// a dead-letter replay, run: never the original snapshot). `None` for reads.
    fn resync(&self) -> Option<Box<dyn Op>>;
    /// The keys it writes, for the fallback's "unsettled" check.
    fn keys(&self) -> Vec<String>;
    fn is_read(&self) -> bool {
        false
    }
}

/// A change to replicate.
#[derive(Clone)]
pub(crate) enum Action<R> {
    /// Write this exact record.
    Upsert(R),
    /// Write these exact records.
    UpsertMany(Vec<R>),
    /// Delete by key.
    Remove(String),
    /// Delete expired records (codes).
    Cleanup(Timestamp),
    /// Copy the source's current version of these keys (upsert, or settle as absent).
    Resync(Vec<String>),
    /// Reconcile the removal of a tenant or a user, which cascades: remove
    /// it on the target, then copy the source's current record (if it was
    /// created again) with everything under it.
    ResyncRemoval(String),
    /// Reconcile these password keys, and every password of these users
    /// (writing a current password demotes the user's others).
    ResyncPasswords {
        /// The passwords written.
        keys: Vec<String>,
        /// Their users.
        users: Vec<String>,
    },
    /// Reconcile, key by key, the target's codes that expire before this cut-off.
    ResyncExpired(Timestamp),
}

/// Every store of the passthrough, and which are this operation's target and
/// source: a reconciliation may reach other entities (a cascade's children).
#[derive(Clone)]
pub(crate) struct Link {
    pub bundles: Arc<Vec<DataAdapters>>,
    pub target: usize,
    pub source: usize,
}

pub(crate) struct WriteOp<R: Entity> {
    pub info: OpInfo,
    pub target: Arc<R::Store>,
    pub source: Arc<R::Store>,
    pub link: Link,
    pub action: Action<R>,
}

impl<R: Entity> WriteOp<R> {
    pub fn new(
        method: &'static str,
        tenant_id: &str,
        (target, source): (Arc<R::Store>, Arc<R::Store>),
        link: Link,
        action: Action<R>,
    ) -> Self {
        let key = match &action {
            Action::Upsert(r) => display_key::<R>(r.key()),
            Action::UpsertMany(rs) => format!("{} records", rs.len()),
            Action::Remove(k) | Action::ResyncRemoval(k) => display_key::<R>(k),
            Action::Cleanup(t) | Action::ResyncExpired(t) => format!("expired before {t}"),
            Action::Resync(keys) | Action::ResyncPasswords { keys, .. } => match keys.as_slice() {
                [one] => display_key::<R>(one),
                many => format!("{} records", many.len()),
            },
        };
        Self {
            info: OpInfo {
                entity: R::KIND,
                method,
                tenant_id: tenant_id.to_owned(),
                key,
            },
            target,
            source,
            link,
            action,
        }
    }

    /// The action that reconciles what this one changed with the source's
    /// current state (see the `reconcile` module for why each is right).
    fn reconciling(&self) -> Action<R> {
        match &self.action {
            Action::Cleanup(t) => Action::ResyncExpired(*t),
            Action::Remove(key) if matches!(R::KIND, EntityKind::Tenant | EntityKind::User) => {
                Action::ResyncRemoval(key.clone())
            }
            Action::Upsert(_) | Action::UpsertMany(_) if R::KIND == EntityKind::Password => {
                let records = match &self.action {
                    Action::Upsert(r) => std::slice::from_ref(r),
                    Action::UpsertMany(rs) => rs.as_slice(),
                    _ => &[],
                };
                let mut users: Vec<String> = records
                    .iter()
                    .map(|r| R::record_order_key(r).to_owned())
                    .collect();
                users.sort();
                users.dedup();
                Action::ResyncPasswords {
                    keys: self.keys(),
                    users,
                }
            }
            Action::Upsert(_) | Action::UpsertMany(_) | Action::Remove(_) => {
                Action::Resync(self.keys())
            }
            reconciling => reconciling.clone(),
        }
    }
}

#[async_trait]
impl<R: Entity> Op for WriteOp<R> {
    fn info(&self) -> &OpInfo {
        &self.info
    }

    async fn apply(&self) -> Result<Outcome> {
        let tenant = self.info.tenant_id.as_str();
        let pair = reconcile::Pair {
            target: &self.link.bundles[self.link.target],
            source: &self.link.bundles[self.link.source],
        };
        let stores = (&*self.target, &*self.source);
        match &self.action {
            Action::Upsert(record) => self.target.upsert(tenant, record.clone()).await?,
            Action::UpsertMany(records) => self.target.upsert_many(tenant, records.clone()).await?,
            Action::Remove(key) => {
                R::remove(&self.target, tenant, key).await?;
            }
            Action::Cleanup(older_than) => {
                R::cleanup(&self.target, tenant, *older_than).await?;
            }
            Action::Resync(keys) => {
                for key in keys {
                    reconcile::resync_key::<R>(pair, stores, tenant, key).await?;
                }
            }
            Action::ResyncRemoval(key) => match R::KIND {
                EntityKind::Tenant => reconcile::tenant_removal(pair, key).await?,
                EntityKind::User => reconcile::user_removal(pair, tenant, key).await?,
                _ => reconcile::resync_key::<R>(pair, stores, tenant, key).await?,
            },
            Action::ResyncPasswords { keys, users } => {
                for key in keys {
                    reconcile::resync_key::<R>(pair, stores, tenant, key).await?;
                }
                for user in users {
                    reconcile::user_passwords(pair, tenant, user).await?;
                }
            }
            Action::ResyncExpired(older_than) => {
                reconcile::expired_codes(pair, tenant, *older_than).await?
            }
        }
        Ok(Outcome::Applied)
    }

    fn resync(&self) -> Option<Box<dyn Op>> {
        let mut op = WriteOp::<R>::new(
            self.info.method,
            &self.info.tenant_id,
            (self.target.clone(), self.source.clone()),
            self.link.clone(),
            self.reconciling(),
        );
        // Reports show the original write's key (a cleanup's cut-off, a batch's size).
        op.info.key = self.info.key.clone();
        Some(Box::new(op))
    }

    fn keys(&self) -> Vec<String> {
        match &self.action {
            Action::Upsert(r) => vec![r.key().to_owned()],
            Action::UpsertMany(rs) => rs.iter().map(|r| r.key().to_owned()).collect(),
            Action::Remove(k) | Action::ResyncRemoval(k) => vec![k.clone()],
            Action::Cleanup(_) | Action::ResyncExpired(_) => Vec::new(),
            Action::Resync(keys) | Action::ResyncPasswords { keys, .. } => keys.clone(),
        }
    }
}

/// A read re-run on a secondary, compared with the primary's answer.
pub(crate) type Query<R> =
    Arc<dyn Fn(Arc<<R as Entity>::Store>) -> BoxFuture<'static, Result<Vec<R>>> + Send + Sync>;

pub(crate) struct CompareOp<R: Entity> {
    pub info: OpInfo,
    pub secondary: String,
    pub target: Arc<R::Store>,
    pub expected: Vec<R>,
    pub query: Query<R>,
}

#[async_trait]
impl<R: Entity> Op for CompareOp<R> {
    fn info(&self) -> &OpInfo {
        &self.info
    }

    async fn apply(&self) -> Result<Outcome> {
        let actual = (self.query)(self.target.clone()).await?;
        let differences = diff_records(&self.expected, &actual);
        Ok(Outcome::Compared((!differences.is_empty()).then(|| {
            Mismatch {
                secondary: self.secondary.clone(),
                entity: self.info.entity,
                method: self.info.method,
                tenant_id: self.info.tenant_id.clone(),
                key: self.info.key.clone(),
                differences,
                at: Timestamp::now(),
            }
        })))
    }

    fn resync(&self) -> Option<Box<dyn Op>> {
        None
    }

    fn keys(&self) -> Vec<String> {
        Vec::new()
    }

    fn is_read(&self) -> bool {
        true
    }
}
