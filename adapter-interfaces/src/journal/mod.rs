//! The replication journal: what a passthrough still owes its secondaries,
//! kept in a database the operator already runs, so that no crash, restart
//! or redeploy of an application instance loses a replicated write, and so
//! that any number of instances (and `switchyard relay` processes) share it.
//!
//! ## The contract
//!
//! The journal holds one row per **key owed to a target**: `(target,
//! subject, tenant)`, where the subject is a record, a cascading removal,
//! every password of a user, or the codes that expire before a cut-off
//! ([`Subject`]). A row never holds a record, only its key: whoever applies
//! it copies the source's *current* state of that key (upsert it, or remove
//! it where the source no longer has it). Because such a copy is idempotent
//! and does not depend on the order of the writes that led to it, rows need
//! no sequence numbers across keys, any number of appliers can run, and a
//! row may be applied again at any time without harm.
//!
//! A write goes through three steps, each one statement on the journal:
//!
//! 1. [`ReplicationJournal::begin`], **before** the source write: records
//!    the keys and marks a write *in flight* on each (a counter, with a
//!    lease), but only if the [`Fence`] still holds: the stage generation
//!    the caller routes by is the one stored beside the journal. A switch of
//!    stage bumps that generation first, so no write can begin under an old
//!    routing once the switch has started.
//! 2. [`ReplicationJournal::finish`], after the source write returned
//!    (committed or not): the in-flight mark is dropped, and the caller
//!    claims each key that nobody else is applying, for its own fast path.
//! 3. [`ReplicationJournal::settle`] after a successful copy, or
//!    [`ReplicationJournal::fail`] after a failed one.
//!
//! Relays pick up the rest with [`ReplicationJournal::claim`]: keys with no
//! write in flight (or whose writers' lease ran out: the writer died), not
//! claimed by anyone (or whose claim's lease ran out), due for an attempt.
//!
//! **Why nothing is lost.** A row is deleted only by `settle`, and only when
//! (a) the settling caller holds the key's claim, (b) the key's `seq` is the
//! one it saw when it claimed (every `begin` and `finish` changes it), and
//! (c) no write of the key is in flight. The caller read the source after it
//! claimed, so every source write that had finished by then is in its copy,
//! and any write that begins or finishes later changes `seq` and keeps the
//! row. A process that dies leaves its rows behind; their leases run out and
//! a relay applies them. A claim's holder that loses its lease (it stalled
//! for longer than the lease) cannot settle; `settle` then marks the key
//! again, so that a copy it may have written late is itself copied over.
//!
//! **Change counter.** `seq` is per row: a new row starts at 1, and every
//! `begin` and `finish` of its key (and the re-mark of a lost claim) raises
//! it by exactly one; claims, settles and failures leave it alone. So a
//! writer whose `finish` claim has `seq` equal to its [`Mark`]'s plus one
//! knows that no other write of the key began or finished between its two
//! steps, so its copy may use what its own source write returned instead of
//! reading the source again. A writer may even copy that result *before*
//! its `finish` ([`ReplicationJournal::finish_copied`]): the row is then
//! deleted at once if it is still exactly as the writer's `begin` left it
//! (the same `seq`, no other write in flight, no claim), one statement
//! instead of a `finish` and a `settle`. That copy can be stale only if another write
//! commits after it: one that was already in flight at the `begin` has not
//! finished yet, and one that begins later changes `seq`; either way the
//! `settle` (which needs no write in flight and an unchanged `seq`) keeps
//! the row, and the key is copied again from the source.
//!
//! **Dead letters.** A failure is either transient (the target is
//! unreachable, a timeout, a deadlock: retried with backoff for as long as
//! it takes) or a rejection (the target refuses the record: a constraint, a
//! bad value), which after a few attempts marks the row *dead*: it stays in
//! the journal, counted by every instance's status, until it is replayed
//! ([`ReplicationJournal::revive`]) or discarded. A new write of a dead key
//! revives it (the new copy may well succeed).
//!
//! **The stage** lives beside the journal, one row per scope, with a
//! generation number that every switch increases ([`StageRecord`]).
//!
//! The database journal ([`sql::SqlJournal`]) is written once for every
//! dialect over a small executor trait ([`sql::JournalSql`]) that each
//! backend implements on its own connection type; the in-memory journal
//! ([`MemoryJournal`]) has the same semantics for tests and for processes
//! that accept losing replication with the process.

mod memory;
pub mod sql;

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{EntityKind, Result};
use crate::timestamp::Timestamp;

pub use memory::MemoryJournal;

/// The journal table.
pub const JOURNAL_TABLE: &str = "switchyard_journal";
/// The stage table.
pub const STAGE_TABLE: &str = "switchyard_stage";

/// What one journal row asks a target to bring to the source's current state.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Subject {
    /// One record: copied as the source has it now, or removed.
    Record {
        /// The entity.
        entity: EntityKind,
        /// The record's key.
        key: String,
    },
    /// A tenant or a user whose removal cascades: removed on the target, then
    /// copied back with everything under it if the source has it again.
    Cascade {
        /// [`EntityKind::Tenant`] or [`EntityKind::User`].
        entity: EntityKind,
        /// The record's key.
        key: String,
    },
    /// Every password of one user (writing a current password demotes the others).
    UserPasswords {
        /// The user.
        user_id: String,
    },
    /// Every code of the target that expires before a cut-off (a `codes.cleanup`).
    ExpiredCodes {
        /// The cut-off.
        before: Timestamp,
    },
}

impl Subject {
    /// The `entity` column: the entity's singular name, or `user_passwords`, `expired_codes`.
    pub fn entity_column(&self) -> &'static str {
        match self {
            Subject::Record { entity, .. } | Subject::Cascade { entity, .. } => entity.singular(),
            Subject::UserPasswords { .. } => "user_passwords",
            Subject::ExpiredCodes { .. } => "expired_codes",
        }
    }

    /// The `record_key` column.
    pub fn key_column(&self) -> String {
        match self {
            Subject::Record { key, .. } | Subject::Cascade { key, .. } => key.clone(),
            Subject::UserPasswords { user_id } => user_id.clone(),
            Subject::ExpiredCodes { before } => before.as_millis().to_string(),
        }
    }

    /// Whether the row cascades (merged with the strongest of the writes of the key).
    pub fn cascades(&self) -> bool {
        matches!(self, Subject::Cascade { .. })
    }

    /// The subject of a row; `None` for a row this version does not know.
    pub fn from_columns(entity: &str, key: &str, cascade: bool) -> Option<Self> {
        match entity {
            "user_passwords" => Some(Subject::UserPasswords {
                user_id: key.to_owned(),
            }),
            "expired_codes" => Some(Subject::ExpiredCodes {
                before: Timestamp::from_millis(key.parse().ok()?)?,
            }),
            other => {
                let entity = EntityKind::ALL
                    .into_iter()
                    .find(|kind| kind.singular() == other)?;
                let key = key.to_owned();
                Some(if cascade {
                    Subject::Cascade { entity, key }
                } else {
                    Subject::Record { entity, key }
                })
            }
        }
    }

    /// The entity whose records the subject touches.
    pub fn entity(&self) -> EntityKind {
        match self {
            Subject::Record { entity, .. } | Subject::Cascade { entity, .. } => *entity,
            Subject::UserPasswords { .. } => EntityKind::Password,
            Subject::ExpiredCodes { .. } => EntityKind::Code,
        }
    }

    /// The key as logs and reports may show it: a code id is a bearer token,
    /// so only a prefix of it is ever shown.
    pub fn display_key(&self) -> String {
        match self {
            Subject::Record {
                entity: EntityKind::Code,
                key,
            } => {
                let prefix: String = key.chars().take(4).collect();
                format!("{prefix}…")
            }
            Subject::ExpiredCodes { before } => format!("expired before {before}"),
            other => other.key_column(),
        }
    }
}

/// A key owed to one target.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct JournalKey {
    /// The name of the store that must catch up (`old`, `new`, a secondary's name).
    pub target: String,
    /// The tenant (empty for tenants themselves).
    pub tenant_id: String,
    /// What to bring up to date.
    pub subject: Subject,
}

/// A journal row's identity: `(target, tenant, entity column, key column)`.
/// Two keys of one row differ at most in whether they cascade.
pub type RowId = (String, String, &'static str, String);

impl JournalKey {
    /// The identity of the journal row this key is.
    pub fn row_id(&self) -> RowId {
        (
            self.target.clone(),
            self.tenant_id.clone(),
            self.subject.entity_column(),
            self.subject.key_column(),
        )
    }

    /// A key owed to `target`.
    pub fn new(target: impl Into<String>, tenant_id: impl Into<String>, subject: Subject) -> Self {
        Self {
            target: target.into(),
            tenant_id: tenant_id.into(),
            subject,
        }
    }
}

/// The routing a write was planned under: it may begin only while the
/// journal's stage row for `scope` still has `generation`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fence {
    /// The stage scope (`default`, or an entity's own scope).
    pub scope: String,
    /// The generation the caller routes by (0: the stage was never set).
    pub generation: i64,
    /// The caller's stage, stored when the scope has no row yet (generation 0).
    pub stage: String,
}

/// A key that [`ReplicationJournal::begin`] marked, with its `seq` right
/// after the mark.
///
/// A writer whose [`ReplicationJournal::finish`] claim of the same key comes
/// back with `seq` exactly one higher knows that no other write of the key
/// began or finished in between (see the module docs, "Change counter").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mark {
    /// The key (with the row's own subject: a pending cascade stays one).
    pub key: JournalKey,
    /// The key's change counter after this `begin`.
    pub seq: i64,
}

/// The answer of [`ReplicationJournal::begin`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Begun {
    /// The keys are recorded; the write may go ahead. The marks, where the
    /// journal can return them from the same statement (the database journal
    /// on PostgreSQL and SQLite, the memory journal); empty where it cannot
    /// (MySQL/MariaDB have no `RETURNING` on an upsert). A key without a
    /// mark is simply never proven alone.
    Recorded(Vec<Mark>),
    /// The stage moved on: nothing was recorded; re-plan with this stage.
    StageMoved(Option<StageRecord>),
}

/// A key claimed for applying: only its holder may settle it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// The key.
    pub key: JournalKey,
    /// The claim's token (unique per claim).
    pub token: String,
    /// The key's change counter when it was claimed.
    pub seq: i64,
    /// Failed attempts so far.
    pub attempts: u32,
    /// When the oldest unapplied write of the key was recorded.
    pub since: Timestamp,
}

/// A failed attempt, for [`ReplicationJournal::fail`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// What went wrong (never a record's value).
    pub error: String,
    /// Park the key as a dead letter (the target rejects it) instead of retrying.
    pub dead: bool,
    /// When to try again (ignored when dead).
    pub retry_in: Duration,
}

/// Which rows an operator command applies to; every field narrows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EntryFilter {
    /// Only keys owed to this target.
    pub target: Option<String>,
    /// Only this `entity` column (`user`, `user_passwords`, ...).
    pub entity: Option<String>,
    /// Only this tenant.
    pub tenant_id: Option<String>,
    /// Only this `record_key` column (a record's key, a user id, a cut-off).
    pub record_key: Option<String>,
    /// Only dead letters (`Some(true)`) or only live rows (`Some(false)`).
    pub dead: Option<bool>,
}

impl EntryFilter {
    /// Every dead letter.
    pub fn dead_letters() -> Self {
        Self {
            dead: Some(true),
            ..Self::default()
        }
    }

    /// Whether a row matches.
    pub fn matches(&self, key: &JournalKey, dead: bool) -> bool {
        self.target.as_ref().is_none_or(|t| *t == key.target)
            && self
                .entity
                .as_deref()
                .is_none_or(|e| e == key.subject.entity_column())
            && self.tenant_id.as_ref().is_none_or(|t| *t == key.tenant_id)
            && self
                .record_key
                .as_ref()
                .is_none_or(|k| *k == key.subject.key_column())
            && self.dead.is_none_or(|d| d == dead)
    }
}

/// One row, as operators see it (no record values; code ids shortened by [`Subject::display_key`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalEntry {
    /// The key.
    pub key: JournalKey,
    /// Failed attempts.
    pub attempts: u32,
    /// Whether it is parked as a dead letter.
    pub dead: bool,
    /// The last error.
    pub last_error: Option<String>,
    /// When its oldest unapplied write was recorded.
    pub since: Timestamp,
    /// Whether a write of it is in flight.
    pub in_flight: bool,
}

/// What one target still has to catch up on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Backlog {
    /// The target.
    pub target: String,
    /// Keys waiting (or being applied), dead letters excluded.
    pub pending: u64,
    /// Dead letters.
    pub dead: u64,
    /// When the oldest pending key was first recorded.
    pub oldest_pending: Option<Timestamp>,
}

/// The stage of one scope, as stored beside the journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageRecord {
    /// The scope.
    pub scope: String,
    /// The stage's name (`off`, `dual_write`, `shadow`, `live`, `ramp_down`, `complete`).
    pub stage: String,
    /// Increased by every switch.
    pub generation: i64,
    /// When it was last switched.
    pub changed_at: Timestamp,
}

/// A durable, shared replication journal (see the module docs for the contract).
#[async_trait::async_trait]
pub trait ReplicationJournal: Send + Sync {
    /// Step 1 of a write, before the source write: records `keys` with a
    /// write in flight on each (for at most `lease`), if `fence` holds.
    async fn begin(&self, fence: &Fence, keys: &[JournalKey], lease: Duration) -> Result<Begun>;

    /// Step 2, after the source write returned: drops the in-flight marks of
    /// `keys` (recording them again if a relay already took them) and claims,
    /// under `token`, each that nobody else holds. Returns the claims won.
    async fn finish(&self, token: &str, keys: &[JournalKey], lease: Duration)
    -> Result<Vec<Claim>>;

    /// Step 2 for a writer that already copied some of its keys from its
    /// own result, before this step (see "Change counter" in the module
    /// docs): each key of `copied` is settled at once, its row deleted, if
    /// the row is still as the writer's `begin` left it (`seq` is the mark's,
    /// this write is the only one in flight, no live claim, not dead), which
    /// proves that the copy holds the source's current state. Every other key
    /// of `keys` is finished as [`ReplicationJournal::finish`] does, and the
    /// claims won are returned.
    ///
    /// The default settles nothing early and finishes every key: correct (a
    /// key copied early is only copied again), only slower.
    async fn finish_copied(
        &self,
        token: &str,
        keys: &[JournalKey],
        copied: &[Mark],
        lease: Duration,
    ) -> Result<Vec<Claim>> {
        let _ = copied;
        self.finish(token, keys, lease).await
    }

    /// A relay's claim: up to `limit` keys owed to `target` that are due, oldest first.
    async fn claim(
        &self,
        token: &str,
        target: &str,
        limit: usize,
        lease: Duration,
    ) -> Result<Vec<Claim>>;

    /// A copier's claim on chosen keys (a backfill, a repair): records each
    /// key that has no row and claims, under `token`, each that is not a dead
    /// letter, has no write in flight and no live claim. The keys' `seq` does
    /// not change: this is not a write. Returns the claims won, each with the
    /// row's own subject (a pending cascade stays a cascade).
    ///
    /// A key whose live claim `token` already holds is returned again, its
    /// lease unchanged.
    ///
    /// A key not won needs nothing from the caller: its row stays until a
    /// copy that read the source after every write of the key is settled
    /// (a dead letter stays until it is replayed or discarded).
    async fn claim_keys(
        &self,
        token: &str,
        keys: &[JournalKey],
        lease: Duration,
    ) -> Result<Vec<Claim>>;

    /// [`ReplicationJournal::settle`] for many claims, in their order; the
    /// database journal does it in a few statements per thousand claims.
    async fn settle_many(&self, claims: &[Claim]) -> Result<Vec<bool>> {
        let mut settled = Vec::with_capacity(claims.len());
        for claim in claims {
            settled.push(self.settle(claim).await?);
        }
        Ok(settled)
    }

    /// After a successful copy: removes the row when nothing changed since
    /// the claim; otherwise leaves it for another pass (marking it again
    /// when the claim was lost). `true` when the key is settled.
    async fn settle(&self, claim: &Claim) -> Result<bool>;

    /// After a failed copy: records the error and releases the claim, for a
    /// retry later or as a dead letter.
    async fn fail(&self, claim: &Claim, failure: &Failure) -> Result<()>;

    /// Gives a claim back untried (its holder has no capacity for it now), so
    /// that a relay takes it at once.
    async fn release(&self, claim: &Claim) -> Result<()>;

    /// Rows the filter selects, oldest first (at most `limit`).
    async fn entries(&self, filter: &EntryFilter, limit: usize) -> Result<Vec<JournalEntry>>;

    /// Makes the dead letters the filter selects due again; returns how many.
    async fn revive(&self, filter: &EntryFilter) -> Result<u64>;

    /// Deletes the rows the filter selects; returns how many.
    async fn discard(&self, filter: &EntryFilter) -> Result<u64>;

    /// What each target still has to catch up on.
    async fn backlog(&self) -> Result<Vec<Backlog>>;

    /// The stage of `scope`, if it was ever stored.
    async fn stage(&self, scope: &str) -> Result<Option<StageRecord>>;

    /// Stores `stage` at `generation` for `scope` if its generation is still
    /// `expected` (0 also matches a scope never stored). `true` when stored.
    async fn set_stage(
        &self,
        scope: &str,
        expected: i64,
        stage: &str,
        generation: i64,
    ) -> Result<bool>;
}

/// A lease in whole milliseconds (at least 1).
pub(crate) fn lease_millis(lease: Duration) -> i64 {
    delay_millis(lease).max(1)
}

/// A delay in whole milliseconds; a retry in zero is due at once.
pub(crate) fn delay_millis(delay: Duration) -> i64 {
    i64::try_from(delay.as_millis()).unwrap_or(i64::MAX)
}

/// The keys with duplicates merged (one per row; a cascade wins over a plain record).
pub(crate) fn merged_keys(keys: &[JournalKey]) -> Vec<JournalKey> {
    let mut rows: std::collections::BTreeMap<RowId, JournalKey> = std::collections::BTreeMap::new();
    for key in keys {
        match rows.get_mut(&key.row_id()) {
            Some(existing) if key.subject.cascades() => *existing = key.clone(),
            Some(_) => {}
            None => {
                rows.insert(key.row_id(), key.clone());
            }
        }
    }
    rows.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_round_trip_through_their_columns() {
        let subjects = [
            Subject::Record {
                entity: EntityKind::User,
                key: "auth0|1".into(),
            },
            Subject::Cascade {
                entity: EntityKind::Tenant,
                key: "acme".into(),
            },
            Subject::UserPasswords {
                user_id: "auth0|1".into(),
            },
            Subject::ExpiredCodes {
                before: Timestamp::from_millis(1_700_000_000_123).unwrap_or_else(Timestamp::now),
            },
        ];
        for subject in subjects {
            let back = Subject::from_columns(
                subject.entity_column(),
                &subject.key_column(),
                subject.cascades(),
            );
            assert_eq!(back, Some(subject));
        }
        assert_eq!(Subject::from_columns("nonsense", "x", false), None);
    }

    #[test]
    fn code_ids_never_show_whole() {
        let subject = Subject::Record {
            entity: EntityKind::Code,
            key: "secret-bearer-token".into(),
        };
        assert_eq!(subject.display_key(), "secr…");
    }
}
