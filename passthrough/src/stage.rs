//! Migration stages, shared by every instance through the journal, and the
//! fenced switch between them.
//!
//! ## How a switch stays safe across a fleet
//!
//! The stage of a scope is stored beside each store's journal, with a
//! generation that every switch increases. Every instance caches it and
//! re-reads it every [`crate::ReplicationOptions::follow_interval`]; each
//! write records its keys in the primary's journal only if that journal's
//! stage row still has the generation the write was routed by (the *fence*,
//! see [`adapter_interfaces::journal`]). A switch that changes the primary
//! from `P` to `Q`:
//!
//! 1. waits, without holding anything, until `P`'s journal owes `Q` nothing
//!    (relays and this process copy what is left); a switch never promotes
//!    a store with dead letters for it (replay or discard them first, or
//!    force);
//! 2. bumps the generation in `P`'s stage row: from now on no write can
//!    begin on `P` under the old routing; instances that read the new stage
//!    route to `Q`, whose row still has the old generation, so their writes
//!    wait (briefly) instead of writing `Q` early;
//! 3. waits until the writes in flight on `P` are done and `P`'s journal
//!    owes `Q` nothing again;
//! 4. bumps `Q`'s row: writes go to `Q`.
//!
//! So no write is acknowledged under the old routing after one was written
//! under the new one, and `Q` has every write `P` took before it serves as
//! primary. If step 1 or 3 runs out of time the switch fails, saying what is
//! pending, and the stage stays (step 3 restores `P`'s routing under a new
//! generation). Writes are held back only during steps 2 to 4, which step 1
//! keeps short; a failing secondary makes step 1 fail, never stalls writes.
//! A switch that keeps the primary bumps both rows; one that adds a
//! secondary (`off` to `dual_write`) returns only after every instance has
//! had time to follow, so that a backfill started afterwards sees every write.

use std::str::FromStr;
use std::sync::atomic::{AtomicI64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

use adapter_interfaces::journal::{Fence, ReplicationJournal, StageRecord};
use adapter_interfaces::{AdapterError, EntityKind, Result};
use serde::{Deserialize, Serialize};

use crate::config::ReplicationOptions;
use crate::entity::BoxFuture;

/// Where a migration stands, after LaunchDarkly's six migration stages.
///
/// | stage | primary (reads, first write) | secondary (replicated writes) | compared reads |
/// | --- | --- | --- | --- |
/// | `Off` | old | - | no |
/// | `DualWrite` | old | new | no |
/// | `Shadow` | old | new | yes |
/// | `Live` | new | old | yes |
/// | `RampDown` | new | old | no |
/// | `Complete` | new | - | no |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Old store only.
    Off,
    /// Old primary, new secondary.
    DualWrite,
    /// As `DualWrite`, plus sampled reads compared against the new store.
    Shadow,
    /// New primary, old secondary, reads compared against the old store.
    Live,
    /// New primary, old secondary.
    RampDown,
    /// New store only.
    Complete,
}

/// One of the two stores of a migration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// The store being migrated from.
    Old,
    /// The store being migrated to.
    New,
}

impl Side {
    /// Position of the store in a migration passthrough's targets.
    pub(crate) fn index(self) -> usize {
        match self {
            Side::Old => 0,
            Side::New => 1,
        }
    }

    /// The store's name in journals and reports (`old`, `new`).
    pub fn name(self) -> &'static str {
        match self {
            Side::Old => "old",
            Side::New => "new",
        }
    }
}

impl Stage {
    /// Every stage, in migration order.
    pub const ALL: [Stage; 6] = [
        Stage::Off,
        Stage::DualWrite,
        Stage::Shadow,
        Stage::Live,
        Stage::RampDown,
        Stage::Complete,
    ];

    /// The store that serves reads and takes writes first.
    pub fn primary(self) -> Side {
        match self {
            Stage::Off | Stage::DualWrite | Stage::Shadow => Side::Old,
            Stage::Live | Stage::RampDown | Stage::Complete => Side::New,
        }
    }

    /// The store that receives replicated writes, if any.
    pub fn secondary(self) -> Option<Side> {
        match self {
            Stage::DualWrite | Stage::Shadow => Some(Side::New),
            Stage::Live | Stage::RampDown => Some(Side::Old),
            Stage::Off | Stage::Complete => None,
        }
    }

    /// Whether sampled reads are compared against the secondary.
    pub fn compares_reads(self) -> bool {
        matches!(self, Stage::Shadow | Stage::Live)
    }

    /// The stage's name as stored and typed (`off`, `dual_write`, …; `dual-write` is accepted too).
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Off => "off",
            Stage::DualWrite => "dual_write",
            Stage::Shadow => "shadow",
            Stage::Live => "live",
            Stage::RampDown => "ramp_down",
            Stage::Complete => "complete",
        }
    }

    fn from_u8(value: u8) -> Stage {
        Stage::ALL
            .get(usize::from(value))
            .copied()
            .unwrap_or(Stage::Off)
    }

    fn as_u8(self) -> u8 {
        Stage::ALL.iter().position(|s| *s == self).unwrap_or(0) as u8
    }
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stage name that is none of the six.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown stage `{0}`: expected one of off, dual-write, shadow, live, ramp-down, complete")]
pub struct UnknownStage(pub String);

impl FromStr for Stage {
    type Err = UnknownStage;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let normal = s.trim().to_ascii_lowercase().replace('-', "_");
        Stage::ALL
            .into_iter()
            .find(|stage| stage.as_str() == normal)
            .ok_or_else(|| UnknownStage(s.to_owned()))
    }
}

/// What a passthrough exposes to a controller so that a switch can drain it first.
pub(crate) trait Member: Send + Sync {
    /// Copies what the journals owe `side`, for at most `timeout`; the keys still owed.
    fn drain(&self, side: Side, timeout: Duration) -> BoxFuture<'_, Result<Owed>>;
}

/// What the journal of a switch's current primary still owes the other store.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Owed {
    /// Keys waiting to be copied (or being copied).
    pub pending: u64,
    /// Dead letters.
    pub dead: u64,
}

/// Why a stage change was refused; the stage stays as it was.
#[derive(Debug, thiserror::Error)]
pub enum SwitchError {
    /// The store about to become primary misses writes that are parked as
    /// dead letters; replay (or discard) them first, or force the switch.
    #[error(
        "the {side:?} store has {count} dead-lettered keys; run `switchyard journal replay` (or discard them) before it becomes primary"
    )]
    DeadLetters {
        /// The store that would become primary.
        side: Side,
        /// How many keys it misses.
        count: u64,
    },
    /// The store about to become primary did not catch up in time (it may be
    /// unreachable): nothing changed; retry when the journal has drained.
    #[error(
        "the {side:?} store still misses {pending} keys after {waited:?}; the stage stays {stage} (check `switchyard journal status` and that the store is reachable)"
    )]
    Pending {
        /// The store that would become primary.
        side: Side,
        /// Keys still owed to it.
        pending: u64,
        /// How long the switch waited.
        waited: Duration,
        /// The stage that stays.
        stage: Stage,
    },
    /// Another switch changed the stage meanwhile.
    #[error(
        "another switch changed the stage meanwhile (now {now} at generation {generation}); read it again and retry"
    )]
    Concurrent {
        /// The stage now.
        now: Stage,
        /// Its generation.
        generation: i64,
    },
    /// The stage could not be read or written.
    #[error("the shared stage could not be read or written: {0}")]
    Store(#[from] AdapterError),
}

/// A completed stage change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageChange {
    /// The stage before.
    pub from: Stage,
    /// The stage now.
    pub to: Stage,
    /// The generation now.
    pub generation: i64,
}

/// The two journals a migration's stage lives beside.
struct Shared {
    old: Arc<dyn ReplicationJournal>,
    new: Arc<dyn ReplicationJournal>,
    options: ReplicationOptions,
}

/// The switch of a migration, shared by every passthrough built on it and,
/// through the journals of the two stores, by every instance of the fleet.
///
/// [`MigrationController::stage`] is a cached read (one atomic load per
/// call); a follower task refreshes it from the journals. The controller's
/// initial stage applies until a stage is stored (generation 0): set it
/// once with [`MigrationController::set_stage`] (or `switchyard stage set`)
/// before a fleet rolls out, so that every instance agrees.
/// [`MigrationController::set_stage`] is the fenced switch described in the
/// module docs; roll-back is the same call with an earlier stage.
pub struct MigrationController {
    scope: Mutex<String>,
    stage: AtomicU8,
    generation: AtomicI64,
    shared: OnceLock<Shared>,
    members: Mutex<Vec<Weak<dyn Member>>>,
    switching: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for MigrationController {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MigrationController")
            .field("scope", &self.scope())
            .field("stage", &self.stage())
            .field("generation", &self.generation())
            .finish()
    }
}

/// The scope of the controller every entity follows unless given its own.
pub const DEFAULT_SCOPE: &str = "default";

impl MigrationController {
    /// A controller at `stage` (until a stored stage says otherwise), scope `default`.
    pub fn new(stage: Stage) -> Arc<Self> {
        Self::scoped(DEFAULT_SCOPE, stage)
    }

    /// A controller of its own scope (for an entity that moves separately).
    pub fn scoped(scope: impl Into<String>, stage: Stage) -> Arc<Self> {
        Arc::new(Self {
            scope: Mutex::new(scope.into()),
            stage: AtomicU8::new(stage.as_u8()),
            generation: AtomicI64::new(0),
            shared: OnceLock::new(),
            members: Mutex::new(Vec::new()),
            switching: tokio::sync::Mutex::new(()),
        })
    }

    /// The current stage (as last read).
    pub fn stage(&self) -> Stage {
        Stage::from_u8(self.stage.load(Ordering::Acquire))
    }

    /// The current stage's generation (0: never stored).
    pub fn generation(&self) -> i64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The scope the stage is stored under.
    pub fn scope(&self) -> String {
        self.scope
            .lock()
            .map(|s| s.clone())
            .unwrap_or_else(|_| DEFAULT_SCOPE.into())
    }

    pub(crate) fn set_scope_if_default(&self, scope: &str) {
        if let Ok(mut current) = self.scope.lock()
            && *current == DEFAULT_SCOPE
        {
            *current = scope.to_owned();
        }
    }

    /// The fence a write routed by the current stage carries.
    pub(crate) fn fence(&self) -> (Stage, Fence) {
        // The generation first: a concurrent refresh stores the stage before
        // the generation, so this pair is never newer-stage-older-generation.
        let generation = self.generation();
        let stage = self.stage();
        (
            stage,
            Fence {
                scope: self.scope(),
                generation,
                stage: stage.as_str().to_owned(),
            },
        )
    }

    /// Attaches the journals of the two stores (once; later calls are ignored).
    pub(crate) fn attach(
        &self,
        old: Arc<dyn ReplicationJournal>,
        new: Arc<dyn ReplicationJournal>,
        options: ReplicationOptions,
    ) {
        let _ = self.shared.set(Shared { old, new, options });
    }

    pub(crate) fn options(&self) -> ReplicationOptions {
        self.shared
            .get()
            .map_or_else(ReplicationOptions::default, |s| s.options)
    }

    fn adopt(&self, record: &StageRecord) -> bool {
        let Ok(stage) = record.stage.parse::<Stage>() else {
            tracing::warn!(scope = %record.scope, stage = %record.stage, "unknown stored stage ignored");
            return false;
        };
        if record.generation <= self.generation() {
            return false;
        }
        let from = self.stage();
        self.stage.store(stage.as_u8(), Ordering::Release);
        self.generation.store(record.generation, Ordering::Release);
        if from != stage {
            tracing::info!(scope = %record.scope, %from, to = %stage, generation = record.generation, "migration stage followed");
        }
        metrics::gauge!("switchyard_passthrough_stage", "scope" => record.scope.clone())
            .set(f64::from(stage.as_u8()));
        metrics::gauge!("switchyard_passthrough_stage_generation", "scope" => record.scope.clone())
            .set(record.generation as f64);
        true
    }

    /// Reads the stored stage (the newer of the two stores' rows; an
    /// unreachable store is skipped) and follows it. Returns the stage now.
    pub async fn refresh(&self) -> Stage {
        let Some(shared) = self.shared.get() else {
            return self.stage();
        };
        let scope = self.scope();
        let (old, new) = tokio::join!(shared.old.stage(&scope), shared.new.stage(&scope));
        for record in [old, new].into_iter().filter_map(|r| r.ok().flatten()) {
            self.adopt(&record);
        }
        self.stage()
    }

    /// Follows what a journal said when it refused a write's fence.
    pub(crate) fn observe(&self, record: Option<&StageRecord>) {
        if let Some(record) = record {
            self.adopt(record);
        }
    }

    /// Switches to `stage` (the fenced switch of the module docs); refuses
    /// when the store that becomes primary has dead letters.
    pub async fn set_stage(&self, stage: Stage) -> Result<StageChange, SwitchError> {
        self.switch(stage, false).await
    }

    /// As [`MigrationController::set_stage`], even if the new primary misses
    /// dead-lettered keys (they stay in the journal; replaying them later
    /// copies the old primary's state over the new one, so discard them
    /// unless that is what you want). It still waits for the live backlog.
    pub async fn force_stage(&self, stage: Stage) -> Result<StageChange, SwitchError> {
        self.switch(stage, true).await
    }

    fn members(&self) -> Vec<Arc<dyn Member>> {
        match self.members.lock() {
            Ok(mut list) => {
                list.retain(|m| m.strong_count() > 0);
                list.iter().filter_map(Weak::upgrade).collect()
            }
            Err(_) => Vec::new(),
        }
    }

    pub(crate) fn register(&self, member: Weak<dyn Member>) {
        if let Ok(mut list) = self.members.lock() {
            list.push(member);
        }
    }

    /// What `from`'s journal owes `to`, after the members copied for up to `timeout`.
    async fn owed(&self, to: Side, timeout: Duration) -> Result<Owed, SwitchError> {
        let members = self.members();
        if let Some(member) = members.first() {
            return Ok(member.drain(to, timeout).await?);
        }
        // No passthrough in this process: count what the journal holds.
        let Some(shared) = self.shared.get() else {
            return Ok(Owed::default());
        };
        let journal = match to {
            Side::New => &shared.old,
            Side::Old => &shared.new,
        };
        let deadline = Instant::now() + timeout;
        loop {
            let owed = owed_by(journal.as_ref(), to).await?;
            if owed.pending == 0 || Instant::now() >= deadline {
                return Ok(owed);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn switch(&self, to: Stage, force: bool) -> Result<StageChange, SwitchError> {
        let _one_at_a_time = self.switching.lock().await;
        self.refresh().await;
        let from = self.stage();
        let generation = self.generation();
        let next = generation + 1;
        let Some(shared) = self.shared.get() else {
            // Not attached to any store: a process-local switch.
            self.store_local(to, next);
            return Ok(StageChange {
                from,
                to,
                generation: next,
            });
        };
        let timeout = shared.options.switch_timeout;
        let scope = self.scope();
        let (primary_before, primary_after) = (from.primary(), to.primary());
        let journal_of = |side: Side| match side {
            Side::Old => shared.old.clone(),
            Side::New => shared.new.clone(),
        };
        if primary_before != primary_after {
            // 1. Let the store to promote catch up, writes going on.
            let started = Instant::now();
            let owed = self.owed(primary_after, timeout).await?;
            if owed.dead > 0 && !force {
                return Err(SwitchError::DeadLetters {
                    side: primary_after,
                    count: owed.dead,
                });
            }
            if owed.pending > 0 {
                return Err(SwitchError::Pending {
                    side: primary_after,
                    pending: owed.pending,
                    waited: started.elapsed(),
                    stage: from,
                });
            }
            // 2. Close the old primary to writes under the old routing.
            let closing = journal_of(primary_before);
            if !closing
                .set_stage(&scope, generation, to.as_str(), next)
                .await?
            {
                return Err(self.concurrent().await);
            }
            // 3. Wait for the writes in flight there, and copy what they left.
            let started = Instant::now();
            let owed = self.owed(primary_after, timeout).await;
            let pending = match owed {
                Ok(owed) if owed.pending == 0 => None,
                Ok(owed) => Some(owed.pending),
                Err(_) => Some(u64::MAX),
            };
            if let Some(pending) = pending {
                // Restore the old routing under a generation of its own.
                closing
                    .set_stage(&scope, next, from.as_str(), next + 1)
                    .await?;
                let opened = journal_of(primary_after);
                let current = opened.stage(&scope).await?.map_or(0, |s| s.generation);
                opened
                    .set_stage(&scope, current, from.as_str(), next + 1)
                    .await?;
                self.refresh().await;
                return Err(SwitchError::Pending {
                    side: primary_after,
                    pending,
                    waited: started.elapsed(),
                    stage: from,
                });
            }
            // 4. Open the new primary.
            let opened = journal_of(primary_after);
            let current = opened.stage(&scope).await?.map_or(0, |s| s.generation);
            opened.set_stage(&scope, current, to.as_str(), next).await?;
        } else {
            let primary = journal_of(primary_before);
            if !primary
                .set_stage(&scope, generation, to.as_str(), next)
                .await?
            {
                return Err(self.concurrent().await);
            }
            let other = journal_of(match primary_before {
                Side::Old => Side::New,
                Side::New => Side::Old,
            });
            // The other store may be down (it is only a secondary here): the
            // primary's row is the one writes are fenced by.
            match other.stage(&scope).await {
                Ok(record) => {
                    let current = record.map_or(0, |s| s.generation);
                    if let Err(error) = other.set_stage(&scope, current, to.as_str(), next).await {
                        tracing::warn!(%error, "the secondary's copy of the stage was not updated");
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, "the secondary's copy of the stage was not updated")
                }
            }
        }
        self.store_local(to, next);
        tracing::info!(%scope, %from, %to, generation = next, "migration stage changed");
        if from.secondary().is_none() && to.secondary().is_some() {
            // Let every instance follow before a backfill starts copying.
            tokio::time::sleep(shared.options.follow_interval * 2).await;
        }
        Ok(StageChange {
            from,
            to,
            generation: next,
        })
    }

    fn store_local(&self, stage: Stage, generation: i64) {
        self.stage.store(stage.as_u8(), Ordering::Release);
        self.generation.store(generation, Ordering::Release);
        metrics::gauge!("switchyard_passthrough_stage", "scope" => self.scope())
            .set(f64::from(stage.as_u8()));
        metrics::gauge!("switchyard_passthrough_stage_generation", "scope" => self.scope())
            .set(generation as f64);
    }

    async fn concurrent(&self) -> SwitchError {
        self.refresh().await;
        SwitchError::Concurrent {
            now: self.stage(),
            generation: self.generation(),
        }
    }
}

/// What `journal` (the journal of the store opposite `to`) owes `to`.
pub(crate) async fn owed_by(journal: &dyn ReplicationJournal, to: Side) -> Result<Owed> {
    let backlog = journal.backlog().await?;
    Ok(backlog
        .iter()
        .filter(|b| b.target == to.name())
        .fold(Owed::default(), |acc, b| Owed {
            pending: acc.pending + b.pending,
            dead: acc.dead + b.dead,
        }))
}

/// The entity's scope name for a controller given to one entity.
pub(crate) fn entity_scope(kind: EntityKind) -> String {
    format!("entity:{}", kind.singular())
}
