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
//!   and the secondaries get nothing but, at most, a copy of the primary's
//!   unchanged state. Every state-changing method is replicated
//!   (create, update, upsert, remove, `codes.consume`, `codes.cleanup`,
//!   password rotation), and secondaries receive the primary's **resulting
//!   records** through `upsert`, so ids, timestamps and generated values are
//!   identical everywhere (and retries are idempotent).
//! - **Nothing owed lives only in memory.** Before a write reaches the
//!   primary, the keys it touches are recorded in the primary's replication
//!   journal ([`adapter_interfaces::journal`], a table in the primary's own
//!   database, created by every backend's migrations); after it, the writing
//!   process copies each key's *current* state from the primary to the
//!   secondaries and deletes the row once nothing newer arrived. A process
//!   that dies, is redeployed or whose caller gives up leaves its rows; any
//!   instance's background relay (or `switchyard relay`) copies them. See
//!   `docs/DEPLOYMENT.md` for the deployment model.
//! - **Why intent-then-reconcile and not a transactional outbox.** An outbox
//!   row written in the primary's transaction needs every adapter to expose
//!   its transactions (and ties the journal to the primary's ORM); recording
//!   the intent first and copying the *current* state afterwards needs no
//!   shared transaction, works on any adapter, and makes every copy
//!   idempotent and order-free, so several relays and instances can copy at
//!   once with one claim per key. The price is one journal statement before
//!   and one after each write, and one to settle the copy. A copy reads the
//!   primary's current state, except when the journal proves that no other
//!   write of the key ran beside the writer's own (its change counter moved
//!   by exactly the writer's two steps): then the writer's own result is the
//!   current state and is copied as it is, with no read. Under
//!   concurrent writers those statements are shared (group commit: the
//!   `begin`, `finish` and `settle` calls that arrive while one of the same
//!   step is in flight go as one statement, never merging two writes of a
//!   key), so their cost per write falls with the number of writers.
//! - **Transient failures** (an unreachable secondary) are retried for as
//!   long as it takes; **rejections** (a conflict, an invalid value) become
//!   dead letters in the journal after [`RetryPolicy::max_attempts`],
//!   counted by every instance, replayed or discarded by filter.
//! - **Copies reconcile, never replay a snapshot**: the primary's current
//!   record is upserted, or, when the primary no longer has it, the key is
//!   removed on the secondary. Writes with side effects reconcile what those
//!   touched as well: a tenant or user removal removes on the secondary
//!   (cascading) and copies back whatever the primary has under that id
//!   again; a password write reconciles all of that user's passwords (a
//!   current one demotes the others); `codes.cleanup` reconciles, key by
//!   key, the secondary's codes that expire before the cut-off, never a
//!   blind cleanup; a missing parent is copied first.
//! - **Ordering per key holds across instances**: every method (creates with
//!   a generated id get their key before the write, `upsert_many`,
//!   `cleanup`, password writes and removals) journals its keys, and a key
//!   is copied only under its claim, from the primary's state read after the
//!   claim; a newer write keeps the row for another copy.
//! - Blocking secondaries are awaited; per secondary, a failure is reported
//!   ([`OnFailure::Report`]: `on_error` runs, the call succeeds) or fails the
//!   call with [`AdapterError::SecondaryWrite`] ([`OnFailure::FailCall`]: the
//!   primary write is committed). Either way the key stays in the journal.
//! - Shadow reads run beside the write path, bounded
//!   ([`ReplicationOptions::shadow_concurrency`]); a sampled read beyond the
//!   bound is skipped, never queued in front of a write. A difference on a
//!   key the journal still owes the secondary is replication lag: it is
//!   counted in [`StatusReport::lagging_reads`], not as a mismatch, and is
//!   not logged as a warning.
//! - Statistics per store, entity and method go to the `metrics` facade and
//!   into a serialisable [`StatusReport`] (the seed's `/migration-status`),
//!   whose backlog and dead letters are the whole fleet's, read from the journals.
//! - A migration passthrough ([`Passthrough::migration`]) has two stores,
//!   `old` and `new`, and a [`MigrationController`] whose [`Stage`] (off,
//!   dual-write, shadow, live, ramp-down, complete) decides, call by call,
//!   which is primary. The stage is stored beside both journals with a
//!   generation; every instance follows a switch within
//!   [`ReplicationOptions::follow_interval`]; a switch is fenced (see the
//!   `stage` module docs, and `docs/DEPLOYMENT.md`).
//!
//! Crates chosen: `tokio` tasks for the relay, `futures` for bounded
//! concurrency, `metrics` and `tracing` facades; the backends retry
//! deadlocks with `backon` (through `adapter_interfaces::retry`).
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
//! passthrough.flush().await?;
//! assert_eq!(new.tenants.get(&acme.id).await?, Some(acme));
//! # Ok(()) }
//! ```

mod compare;
mod config;
mod copy;
mod core;
mod entity;
mod fault;
mod group_commit;
pub mod live_copy;
mod reconcile;
mod stage;
mod stats;
mod store;

use std::sync::Arc;
use std::time::Duration;

use adapter_interfaces::{
    Application, Code, Connection, DataAdapters, EntityKind, Log, Password, Session, Tenant, User,
};

pub use adapter_interfaces::AdapterError;
pub use compare::{Difference, Mismatch, diff_records, differing_fields};
pub use config::{
    OnError, OnFailure, ReadPolicy, ReplicationOptions, RetryPolicy, SecondaryFailure,
    SecondaryOptions, WriteMode,
};
pub use entity::{BoxFuture, Entity, TenantStore, display_key};
pub use fault::{FaultSwitch, Faulty, with_faults};
pub use live_copy::{
    KeyFailure, LiveCopy, LiveCopyError, ReconcileOptions, Reconciled, SourceRead,
};
pub use stage::{
    DEFAULT_SCOPE, MigrationController, Owed, Side, Stage, StageChange, SwitchError, UnknownStage,
};
pub use stats::{
    DeadLetter, Health, JournalStatus, OperationStats, Role, SecondaryStatus, StatusReport,
};
pub use store::PassthroughStore;

use crate::core::{Core, Routing};
use crate::stage::Member;
use crate::store::Route;

/// Why a passthrough could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The relay and the stage follower are Tokio tasks: build inside a runtime.
    #[error("a passthrough must be built inside a Tokio runtime")]
    NoRuntime,
}

/// [`Passthrough::flush`] ran out of time with keys still owed.
#[derive(Debug, thiserror::Error)]
#[error(
    "{pending} keys are still owed to the secondaries after {waited:?} ({dead} dead letters); is every secondary reachable? `switchyard journal status` shows them"
)]
pub struct PendingError {
    /// Keys still owed (dead letters excluded).
    pub pending: u64,
    /// Dead letters.
    pub dead: u64,
    /// How long the flush waited.
    pub waited: Duration,
}

/// A running passthrough: its [`DataAdapters`], and the operator's handles
/// (flush, status, dead letters, mismatches).
///
/// Dropping every clone of it and of its adapters stops its relay; the
/// journal keeps whatever is still owed for the next process.
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
            options: ReplicationOptions::default(),
        }
    }

    /// A migration passthrough between `old` and `new`, routed by `controller`'s
    /// stage, which every instance shares through the two stores' journals.
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
            options: ReplicationOptions::default(),
        }
    }

    /// The composed adapters: what the application uses.
    pub fn adapters(&self) -> DataAdapters {
        self.adapters.clone()
    }

    /// Copies until the journals owe the secondaries nothing (dead letters
    /// aside), at most [`ReplicationOptions::flush_timeout`].
    pub async fn flush(&self) -> Result<(), PendingError> {
        self.flush_within(self.core.options.flush_timeout).await
    }

    /// [`Passthrough::flush`], waiting at most `timeout`.
    pub async fn flush_within(&self, timeout: Duration) -> Result<(), PendingError> {
        let started = std::time::Instant::now();
        let owed = self.core.flush(timeout).await.map_err(|_| PendingError {
            pending: u64::MAX,
            dead: 0,
            waited: started.elapsed(),
        })?;
        if owed.pending == 0 {
            Ok(())
        } else {
            Err(PendingError {
                pending: owed.pending,
                dead: owed.dead,
                waited: started.elapsed(),
            })
        }
    }

    /// One relay pass: claims the keys that are due (whoever wrote them) and
    /// copies them; returns how many it took. The background relay runs this
    /// in a loop; `switchyard relay` and tests may drive it by hand.
    pub async fn relay_once(&self) -> usize {
        self.core.relay_pass().await
    }

    /// What the journals owe the secondaries (the whole fleet's).
    pub async fn owed(&self) -> Result<Owed, AdapterError> {
        self.core.owed().await
    }

    /// The status report (serialise it for a `/migration-status` endpoint):
    /// this process's counters, and the fleet's backlog from the journals.
    pub async fn status(&self) -> StatusReport {
        self.core.status(&self.secondaries).await
    }

    /// The dead letters, oldest first (at most `limit`).
    pub async fn dead_letters(&self, limit: usize) -> Result<Vec<DeadLetter>, AdapterError> {
        self.core.dead_letters(limit).await
    }

    /// Makes every dead letter due again: the next copy brings the key to the
    /// primary's *current* state, so a replay never brings back a stale value.
    /// Returns how many; [`Passthrough::flush`] waits for them.
    pub async fn replay_dead_letters(&self) -> Result<u64, AdapterError> {
        self.core.replay(|_| true).await
    }

    /// Replays the dead letters `select` accepts (see [`Passthrough::replay_dead_letters`]).
    pub async fn replay_dead_letters_where(
        &self,
        select: impl Fn(&DeadLetter) -> bool,
    ) -> Result<u64, AdapterError> {
        self.core.replay(select).await
    }

    /// Drops the dead letters `select` accepts (after a manual fix); returns how many.
    pub async fn discard_dead_letters(
        &self,
        select: impl Fn(&DeadLetter) -> bool,
    ) -> Result<u64, AdapterError> {
        self.core.discard(select).await
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
    options: ReplicationOptions,
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

    /// Sets how replication runs (lease, relay, timeouts).
    pub fn options(mut self, options: ReplicationOptions) -> Self {
        self.options = options;
        self
    }

    /// Starts the relay and composes the adapters (inside a Tokio runtime).
    pub fn build(self) -> Result<Passthrough, BuildError> {
        let secondaries = (1..self.stores.len()).collect();
        assemble(
            self.stores,
            self.read_policy,
            self.options,
            secondaries,
            |_| Route::Fixed,
            Routing::Fixed,
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
    options: ReplicationOptions,
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
    /// stages separately (logs first, users last). A controller made with
    /// [`MigrationController::new`] is stored under the entity's own scope
    /// (`entity:user`, …).
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

    /// Sets how replication runs (lease, relay, follow interval, timeouts).
    pub fn options(mut self, options: ReplicationOptions) -> Self {
        self.options = options;
        self
    }

    /// Starts the relay and the stage follower, and composes the adapters
    /// (inside a Tokio runtime).
    pub fn build(self) -> Result<Passthrough, BuildError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| BuildError::NoRuntime)?;
        for (kind, controller) in &self.per_entity {
            if !Arc::ptr_eq(controller, &self.controller) {
                controller.set_scope_if_default(&stage::entity_scope(*kind));
            }
        }
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
        let mut distinct: Vec<Arc<MigrationController>> = Vec::new();
        for (_, controller) in &stages {
            if !distinct.iter().any(|c| Arc::ptr_eq(c, controller)) {
                distinct.push(controller.clone());
            }
        }
        for controller in &distinct {
            controller.attach(
                self.old.journal.clone(),
                self.new.journal.clone(),
                self.options,
            );
        }
        let passthrough = assemble(
            vec![
                (Side::Old.name().into(), self.old, self.old_options),
                (Side::New.name().into(), self.new, self.new_options),
            ],
            self.read_policy,
            self.options,
            vec![0, 1],
            |kind| Route::Staged(controller_of(kind)),
            Routing::Staged(stages),
        )?;
        let member: Arc<dyn Member> = passthrough.core.clone();
        for controller in distinct {
            controller.register(Arc::downgrade(&member));
            let weak = Arc::downgrade(&controller);
            let interval = self.options.follow_interval;
            runtime.spawn(async move {
                while let Some(controller) = weak.upgrade() {
                    controller.refresh().await;
                    drop(controller);
                    tokio::time::sleep(interval).await;
                }
            });
        }
        Ok(passthrough)
    }
}

fn assemble(
    stores: Vec<(String, DataAdapters, SecondaryOptions)>,
    read_policy: ReadPolicy,
    options: ReplicationOptions,
    secondaries: Vec<usize>,
    route: impl Fn(EntityKind) -> Route,
    routing: Routing,
) -> Result<Passthrough, BuildError> {
    let runtime = tokio::runtime::Handle::try_current().map_err(|_| BuildError::NoRuntime)?;
    let (configs, bundles): (Vec<_>, Vec<_>) = stores
        .into_iter()
        .map(|(name, adapters, options)| ((name, options), adapters))
        .unzip();
    let core = Arc::new(Core::new(
        configs,
        bundles.clone(),
        read_policy,
        options,
        routing,
    ));
    if options.relay {
        runtime.spawn(Core::relay_loop(Arc::downgrade(&core)));
    }
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
