//! Migration stages and the controller that switches them at run time.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, Weak};

use serde::{Deserialize, Serialize};

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

    fn from_u8(value: u8) -> Stage {
        Stage::ALL
            .get(usize::from(value))
            .copied()
            .unwrap_or(Stage::Off)
    }

    fn as_u8(self) -> u8 {
        match self {
            Stage::Off => 0,
            Stage::DualWrite => 1,
            Stage::Shadow => 2,
            Stage::Live => 3,
            Stage::RampDown => 4,
            Stage::Complete => 5,
        }
    }
}

/// What a passthrough exposes to a controller so that a switch can drain it first.
pub(crate) trait Member: Send + Sync {
    /// Waits until every queued write is applied or dead-lettered.
    fn flush(&self) -> BoxFuture<'_, ()>;
    /// Dead letters waiting for the given side.
    fn dead_letters_for(&self, side: Side) -> usize;
}

/// Why a stage change was refused.
#[derive(Debug, thiserror::Error)]
pub enum SwitchError {
    /// The store about to become primary misses writes that are parked in the
    /// dead-letter list; replay (or discard) them first, or force the switch.
    #[error(
        "the {side:?} store has {count} dead-lettered writes; replay them before it becomes primary"
    )]
    DeadLetters {
        /// The store that would become primary.
        side: Side,
        /// How many writes it misses.
        count: usize,
    },
}

/// A completed stage change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageChange {
    /// The stage before.
    pub from: Stage,
    /// The stage now.
    pub to: Stage,
}

/// The shared switch of a migration: every entity passthrough built on it
/// reads the stage on each call (one atomic load), so a change takes effect
/// on the next call, without a restart.
///
/// [`MigrationController::set_stage`] is the safe switch: it holds new writes
/// back while the writes in flight finish, drains every replication queue of
/// the passthroughs built on it (so a store never becomes primary while
/// writes for it are still queued), refuses to promote a store that has
/// dead-lettered writes, and then switches. Roll-back is the same call with
/// an earlier stage.
#[derive(Debug)]
pub struct MigrationController {
    stage: AtomicU8,
    gate: tokio::sync::RwLock<()>,
    members: Mutex<Vec<Weak<dyn Member>>>,
}

impl std::fmt::Debug for dyn Member {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Member")
    }
}

impl MigrationController {
    /// A controller at `stage`.
    pub fn new(stage: Stage) -> Arc<Self> {
        Arc::new(Self {
            stage: AtomicU8::new(stage.as_u8()),
            gate: tokio::sync::RwLock::new(()),
            members: Mutex::new(Vec::new()),
        })
    }

    /// The current stage.
    pub fn stage(&self) -> Stage {
        Stage::from_u8(self.stage.load(Ordering::Acquire))
    }

    /// Switches to `stage` after draining (see the type's docs); refuses when
    /// the store that becomes primary has dead-lettered writes.
    pub async fn set_stage(&self, stage: Stage) -> Result<StageChange, SwitchError> {
        self.switch(stage, false).await
    }

    /// Switches to `stage` after draining, even if the new primary misses
    /// dead-lettered writes (they stay in the list for replay).
    pub async fn force_stage(&self, stage: Stage) -> StageChange {
        match self.switch(stage, true).await {
            Ok(change) => change,
            // Unreachable with force, but a change report is always truthful.
            Err(_) => StageChange {
                from: self.stage(),
                to: self.stage(),
            },
        }
    }

    async fn switch(&self, to: Stage, force: bool) -> Result<StageChange, SwitchError> {
        let _exclusive = self.gate.write().await;
        let from = self.stage();
        let members: Vec<Arc<dyn Member>> = self.members().into_iter().collect();
        for member in &members {
            member.flush().await;
        }
        let side = to.primary();
        let count: usize = members.iter().map(|m| m.dead_letters_for(side)).sum();
        if count > 0 && !force && side != from.primary() {
            return Err(SwitchError::DeadLetters { side, count });
        }
        self.stage.store(to.as_u8(), Ordering::Release);
        tracing::info!(?from, ?to, "migration stage changed");
        metrics::gauge!("switchyard_passthrough_stage").set(f64::from(to.as_u8()));
        Ok(StageChange { from, to })
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

    /// Held (shared) by every write for its duration, so a switch waits for writes in flight.
    pub(crate) async fn enter(&self) -> tokio::sync::RwLockReadGuard<'_, ()> {
        self.gate.read().await
    }
}
