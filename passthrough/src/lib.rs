//! # passthrough
//!
//! Dual-write composition of Switchyard adapters, for moving an identity
//! store from one database or ORM to another with zero downtime.
//!
//! A passthrough wraps a **primary** and any number of **secondaries** (each a
//! [`DataAdapters`] bundle) and is itself a [`DataAdapters`]:
//!
//! - Reads go to the primary ([`ReadPolicy`] adds fallback on a miss, with
//!   read-repair, and sampled shadow reads compared field by field).
//! - Writes go to the primary first; if it fails, the caller gets its error
//!   and no secondary is touched. Every state-changing method is replicated
//!   (create, update, upsert, remove, `codes.consume`, `codes.cleanup`,
//!   password rotation), and secondaries receive the primary's **resulting
//!   records** through `upsert`, so ids, timestamps and generated values are
//!   identical everywhere (and retries are idempotent).
//! - Each secondary has one ordered queue, over all entities, applied by one
//!   worker in the primary's order, retried with backoff; what still fails is
//!   parked in a dead-letter list ([`Passthrough::dead_letters`],
//!   [`Passthrough::replay_dead_letters`]). [`Passthrough::flush`] waits for
//!   everything pending. [`SecondaryOptions`] documents the full-queue policy.
//! - **A retry or a replay never re-applies a snapshot**: the first attempt
//!   writes the primary's record as it was at that point of its order; every
//!   retry (from the second attempt on) and every dead-letter replay instead
//!   reconciles each key the write touched with the primary's *current*
//!   state: the primary's record is upserted, or, when the primary no longer
//!   has it, the key is removed on the secondary (a record the secondary
//!   lacks too is settled; a log, which has no removal and leaves the
//!   primary only with its tenant, is settled, the tenant's own replicated
//!   removal cascading on the secondary). Writes with side effects reconcile
//!   what those touched as well: a tenant or user removal removes on the
//!   secondary (cascading) and copies back whatever the primary has under
//!   that id again; a password write reconciles all of that user's
//!   passwords (a current one demotes the others); `codes.cleanup`
//!   reconciles, key by key, the secondary's codes that expire before the
//!   cut-off (listed with a `q` filter), never a blind cleanup. Copying the
//!   current state ahead of the queue is safe, because every later primary
//!   write of those keys is still queued behind and is itself an exact copy
//!   of a later state; the queue stays head-of-line.
//! - Blocking secondaries are awaited; per secondary, a failure is reported
//!   ([`OnFailure::Report`]: `on_error` runs, the call succeeds) or fails the
//!   call with [`AdapterError::SecondaryWrite`] ([`OnFailure::FailCall`]: the
//!   primary write is committed). Either way the write stays queued for retry.
//! - Statistics per store, entity and method go to the `metrics` facade and
//!   into a serialisable [`StatusReport`] (the seed's `/migration-status`).
//! - A migration passthrough ([`Passthrough::migration`]) has two stores,
//!   `old` and `new`, and a shared [`MigrationController`] whose [`Stage`]
//!   (off, dual-write, shadow, live, ramp-down, complete) decides, call by
//!   call, which is primary; switch-over and roll-back are one call.
//!
//! Secrets never leave: `on_error`, logs and reports carry the entity, the
//! method, the key and the error, never a record (codes, which are bearer
//! tokens, show only a key prefix).
//!
//! ```
//! use passthrough::{Passthrough, SecondaryOptions};
//! use adapter_interfaces::{memory, TenantInsert};
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let (old, new) = (memory::adapters(), memory::adapters());
//! let passthrough = Passthrough::builder("old", old.clone())
//!     .secondary("new", new.clone(), SecondaryOptions::non_blocking())
//!     .build()?;
//! let db = passthrough.adapters();
//! let acme = db.tenants.create(TenantInsert { friendly_name: "Acme".into(), ..Default::default() }).await?;
//! passthrough.flush().await;
//! assert_eq!(new.tenants.get(&acme.id).await?, Some(acme));
//! # Ok(()) }
//! ```

mod compare;
mod config;
mod core;
mod entity;
mod fault;
mod op;
mod reconcile;
mod stage;
mod stats;
mod store;

use std::sync::Arc;

use adapter_interfaces::{
    Application, Code, Connection, DataAdapters, EntityKind, Log, Password, Session, Tenant, User,
};

pub use adapter_interfaces::AdapterError;
pub use compare::{Difference, diff_records, differing_fields};
pub use config::{
    OnError, OnFailure, ReadPolicy, RetryPolicy, SecondaryFailure, SecondaryOptions, WriteMode,
};
pub use entity::{BoxFuture, Entity, TenantStore};
pub use fault::{FaultSwitch, Faulty, with_faults};
pub use op::Mismatch;
pub use stage::{MigrationController, Side, Stage, StageChange, SwitchError};
pub use stats::{DeadLetter, Health, OperationStats, Role, SecondaryStatus, StatusReport};
pub use store::PassthroughStore;

use crate::core::Core;
use crate::stage::Member;
use crate::store::Route;

/// Why a passthrough could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The replication workers are Tokio tasks: build inside a runtime.
    #[error("a passthrough must be built inside a Tokio runtime")]
    NoRuntime,
}

/// A running passthrough: its [`DataAdapters`], and the operator's handles
/// (flush, status, dead letters, mismatches).
///
/// Dropping every clone of it and of its adapters stops the workers once
/// their queues are empty; call [`Passthrough::flush`] first on shutdown.
#[derive(Clone)]
pub struct Passthrough {
    core: Arc<Core>,
    adapters: DataAdapters,
    secondaries: Vec<usize>,
}

impl std::fmt::Debug for Passthrough {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.core.targets.iter().map(|t| t.name.as_str()).collect();
        f.debug_struct("Passthrough")
            .field("stores", &names)
            .finish()
    }
}

impl Passthrough {
    /// A passthrough with a fixed primary, named `name`; add secondaries to the builder.
    pub fn builder(name: impl Into<String>, primary: DataAdapters) -> PassthroughBuilder {
        PassthroughBuilder {
            stores: vec![(name.into(), primary, SecondaryOptions::non_blocking())],
            read_policy: ReadPolicy::default(),
        }
    }

    /// A migration passthrough between `old` and `new`, routed by `controller`'s stage.
    pub fn migration(
        old: DataAdapters,
        new: DataAdapters,
        controller: Arc<MigrationController>,
    ) -> MigrationBuilder {
        MigrationBuilder {
            old,
            new,
            old_options: SecondaryOptions::blocking(OnFailure::Report),
            new_options: SecondaryOptions::non_blocking(),
            controller,
            per_entity: Vec::new(),
            read_policy: ReadPolicy::default().with_shadow_reads(1.0),
        }
    }

    /// The composed adapters: what the application uses.
    pub fn adapters(&self) -> DataAdapters {
        self.adapters.clone()
    }

    /// Waits until every queued write (and compared read) is applied or dead-lettered.
    pub async fn flush(&self) {
        self.core.flush().await;
    }

    /// The status report (serialise it for a `/migration-status` endpoint).
    pub fn status(&self) -> StatusReport {
        self.core.status(&self.secondaries)
    }

    /// The writes parked in the dead-letter list, oldest first.
    pub fn dead_letters(&self) -> Vec<DeadLetter> {
        self.core.dead_letters()
    }

    /// Replays every dead letter, oldest first, through its secondary's queue.
    /// A replay reconciles each key the write touched with the primary's
    /// *current* state (see the crate docs: upsert, removal, cascades,
    /// cleanups key by key), so it never brings back a stale value.
    /// Returns how many were queued; [`Passthrough::flush`] waits for them,
    /// and any that fail again return to the list.
    pub async fn replay_dead_letters(&self) -> usize {
        self.core.replay(|_| true).await
    }

    /// Replays the dead letters `select` accepts (see [`Passthrough::replay_dead_letters`]).
    pub async fn replay_dead_letters_where(&self, select: impl Fn(&DeadLetter) -> bool) -> usize {
        self.core.replay(select).await
    }

    /// Drops the dead letters `select` accepts (after a manual fix); returns how many.
    pub fn discard_dead_letters(&self, select: impl Fn(&DeadLetter) -> bool) -> usize {
        self.core.discard(select)
    }

    /// The latest compared reads that differed (at most 1000).
    pub fn mismatches(&self) -> Vec<Mismatch> {
        self.core.mismatches()
    }
}

/// Builds a passthrough with a fixed primary ([`Passthrough::builder`]).
pub struct PassthroughBuilder {
    stores: Vec<(String, DataAdapters, SecondaryOptions)>,
    read_policy: ReadPolicy,
}

impl PassthroughBuilder {
    /// Adds a secondary.
    pub fn secondary(
        mut self,
        name: impl Into<String>,
        adapters: DataAdapters,
        options: SecondaryOptions,
    ) -> Self {
        self.stores.push((name.into(), adapters, options));
        self
    }

    /// Sets the read policy.
    pub fn read_policy(mut self, policy: ReadPolicy) -> Self {
        self.read_policy = policy;
        self
    }

    /// Starts the workers and composes the adapters (inside a Tokio runtime).
    pub fn build(self) -> Result<Passthrough, BuildError> {
        let secondaries = (1..self.stores.len()).collect();
        assemble(
            self.stores,
            self.read_policy,
            secondaries,
            |_| Route::Fixed,
            Vec::new(),
        )
    }
}

/// Builds a migration passthrough ([`Passthrough::migration`]).
pub struct MigrationBuilder {
    old: DataAdapters,
    new: DataAdapters,
    old_options: SecondaryOptions,
    new_options: SecondaryOptions,
    controller: Arc<MigrationController>,
    per_entity: Vec<(EntityKind, Arc<MigrationController>)>,
    read_policy: ReadPolicy,
}

impl MigrationBuilder {
    /// How the old store is written while it is the secondary (live, ramp-down).
    /// Default: blocking, failures reported, so a roll-back finds it current.
    pub fn old_options(mut self, options: SecondaryOptions) -> Self {
        self.old_options = options;
        self
    }

    /// How the new store is written while it is the secondary (dual-write, shadow).
    /// Default: non-blocking.
    pub fn new_options(mut self, options: SecondaryOptions) -> Self {
        self.new_options = options;
        self
    }

    /// Gives one entity its own controller, so entities move through the
    /// stages separately (logs first, users last). Replication order across
    /// entities still holds: each store has one queue for all of them.
    pub fn entity_controller(
        mut self,
        entity: EntityKind,
        controller: Arc<MigrationController>,
    ) -> Self {
        self.per_entity.retain(|(kind, _)| *kind != entity);
        self.per_entity.push((entity, controller));
        self
    }

    /// Sets the read policy; its shadow sample rate applies in the shadow and
    /// live stages (default 1: every read is compared; lower it in production).
    pub fn read_policy(mut self, policy: ReadPolicy) -> Self {
        self.read_policy = policy;
        self
    }

    /// Starts the workers and composes the adapters (inside a Tokio runtime).
    pub fn build(self) -> Result<Passthrough, BuildError> {
        let controller_of = |kind: EntityKind| {
            self.per_entity
                .iter()
                .find(|(k, _)| *k == kind)
                .map_or_else(|| self.controller.clone(), |(_, c)| c.clone())
        };
        let stages: Vec<(EntityKind, Arc<MigrationController>)> = EntityKind::ALL
            .iter()
            .map(|&kind| (kind, controller_of(kind)))
            .collect();
        let passthrough = assemble(
            vec![
                ("old".into(), self.old, self.old_options),
                ("new".into(), self.new, self.new_options),
            ],
            self.read_policy,
            vec![0, 1],
            |kind| Route::Staged(controller_of(kind)),
            stages.clone(),
        )?;
        let member: Arc<dyn Member> = passthrough.core.clone();
        let mut registered: Vec<*const MigrationController> = Vec::new();
        for (_, controller) in &stages {
            if !registered.contains(&Arc::as_ptr(controller)) {
                registered.push(Arc::as_ptr(controller));
                controller.register(Arc::downgrade(&member));
            }
        }
        Ok(passthrough)
    }
}

fn assemble(
    stores: Vec<(String, DataAdapters, SecondaryOptions)>,
    read_policy: ReadPolicy,
    secondaries: Vec<usize>,
    route: impl Fn(EntityKind) -> Route,
    stages: Vec<(EntityKind, Arc<MigrationController>)>,
) -> Result<Passthrough, BuildError> {
    let runtime = tokio::runtime::Handle::try_current().map_err(|_| BuildError::NoRuntime)?;
    let (configs, bundles): (Vec<_>, Vec<_>) = stores
        .into_iter()
        .map(|(name, adapters, options)| ((name, options), adapters))
        .unzip();
    let mut core = Core::start(configs, bundles.clone(), read_policy, &runtime);
    core.stages = stages;
    let core = Arc::new(core);
    fn part<R: Entity>(
        core: &Arc<Core>,
        bundles: &[DataAdapters],
        route: Route,
    ) -> Arc<PassthroughStore<R>> {
        Arc::new(PassthroughStore::new(
            core.clone(),
            bundles.iter().map(R::store).collect(),
            route,
        ))
    }
    let adapters = DataAdapters {
        tenants: part::<Tenant>(&core, &bundles, route(EntityKind::Tenant)),
        users: part::<User>(&core, &bundles, route(EntityKind::User)),
        applications: part::<Application>(&core, &bundles, route(EntityKind::Application)),
        connections: part::<Connection>(&core, &bundles, route(EntityKind::Connection)),
        sessions: part::<Session>(&core, &bundles, route(EntityKind::Session)),
        codes: part::<Code>(&core, &bundles, route(EntityKind::Code)),
        passwords: part::<Password>(&core, &bundles, route(EntityKind::Password)),
        logs: part::<Log>(&core, &bundles, route(EntityKind::Log)),
        journal: bundles[0].journal.clone(),
    };
    Ok(Passthrough {
        core,
        adapters,
        secondaries,
    })
}
