//! Replicated operations: what a secondary's queue carries.

use std::sync::Arc;

use adapter_interfaces::{EntityKind, EntityStore, Result, Timestamp, async_trait};
use serde::Serialize;

use crate::compare::{Difference, diff_records};
use crate::entity::{BoxFuture, Entity, display_key};

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
    /// The operation that brings the target's copy up to date from the
    /// source's current state (what a dead-letter replay runs). `None` for reads.
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
    /// Copy the source's current version of these keys (upsert, or remove when gone).
    Resync(Vec<String>),
}

pub(crate) struct WriteOp<R: Entity> {
    pub info: OpInfo,
    pub target: Arc<R::Store>,
    pub source: Arc<R::Store>,
    pub action: Action<R>,
}

impl<R: Entity> WriteOp<R> {
    pub fn new(
        method: &'static str,
        tenant_id: &str,
        target: Arc<R::Store>,
        source: Arc<R::Store>,
        action: Action<R>,
    ) -> Self {
        let key = match &action {
            Action::Upsert(r) => display_key::<R>(r.key()),
            Action::UpsertMany(rs) => format!("{} records", rs.len()),
            Action::Remove(k) => display_key::<R>(k),
            Action::Cleanup(t) => format!("expired before {t}"),
            Action::Resync(keys) => match keys.as_slice() {
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
            action,
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
                    match self.source.get(tenant, key).await? {
                        Some(record) => self.target.upsert(tenant, record).await?,
                        None => {
                            R::remove(&self.target, tenant, key).await?;
                        }
                    }
                }
            }
        }
        Ok(Outcome::Applied)
    }

    fn resync(&self) -> Option<Box<dyn Op>> {
        let action = match &self.action {
            Action::Cleanup(t) => Action::Cleanup(*t),
            _ => Action::Resync(self.keys()),
        };
        let mut op = WriteOp::<R>::new(
            self.info.method,
            &self.info.tenant_id,
            self.target.clone(),
            self.source.clone(),
            action,
        );
        op.info.method = self.info.method;
        Some(Box::new(op))
    }

    fn keys(&self) -> Vec<String> {
        match &self.action {
            Action::Upsert(r) => vec![r.key().to_owned()],
            Action::UpsertMany(rs) => rs.iter().map(|r| r.key().to_owned()).collect(),
            Action::Remove(k) => vec![k.clone()],
            Action::Cleanup(_) => Vec::new(),
            Action::Resync(keys) => keys.clone(),
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
