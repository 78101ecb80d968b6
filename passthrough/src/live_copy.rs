//! Copying while the application writes: how a backfill, a prune or a
//! repair brings chosen keys of a target to the source's current state
//! without racing the replication of the passthroughs that write the same
//! keys (in this process or in any other).
//!
//! ## The contract
//!
//! [`LiveCopy::reconcile`] is given the records of one key range of one
//! entity as the caller read them from both stores, possibly a while ago.
//! For every key where the two differ (and, with
//! [`ReconcileOptions::prune`], every key only the target has) it:
//!
//! 1. **claims the key** in the source's replication journal with
//!    [`ReplicationJournal::claim_keys`], the journal in which every
//!    passthrough whose primary is the source records its writes, under
//!    the subject those writes use (a password's subject is every password
//!    of its user, as for a password write);
//! 2. **reads the source again**, after the claim;
//! 3. **writes the target** from that read: upserts the current record, or
//!    removes the key where the source no longer has it;
//! 4. **settles** the claims ([`ReplicationJournal::settle_many`]).
//!
//! A key whose claim it does not win is left alone and counted as
//! *deferred*: a write of it is in flight, or another copier holds it, or it
//! is a dead letter. In each case the journal's own rule applies: the row
//! stays until a copy that read the source after every write of the key is
//! settled.
//!
//! **Why no newer record is overwritten and no removed one comes back.** The
//! copy reads the source after its claim, so it writes a state at least as
//! new as every source write that had finished by then. A write that begins
//! later changes the key's `seq`, so the settle fails and the key stays owed:
//! a relay copies its current state again after this copy's write. A write
//! that began earlier either is still in flight (the claim is refused) or
//! has finished, and then the re-read sees it. A claim that outlives its
//! lease cannot settle, and its settle marks the key again, so a copy
//! written late is itself copied over. The copy is therefore never the last
//! word on a key that changed after it read the source; replication is.
//! What replication does not journal key by key is closed here: a
//! `codes.cleanup` removes codes by cut-off, so after writing codes the
//! source is read once more and codes it no longer has are removed again (as
//! the relay's copy of a code does); a write that fails because its parent
//! is gone is checked against the source (a record the source no longer has
//! is not a failure, it is settled as absent), and a parent the target lacks
//! is copied first.
//!
//! Without a journal ([`LiveCopy::offline`]) steps 1 and 4 are skipped: the
//! copy is then correct only while nothing writes the two stores.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use adapter_interfaces::journal::{Claim, Failure, JournalKey, ReplicationJournal, Subject};
use adapter_interfaces::{
    AdapterError, DataAdapters, EntityKind, EntityStore, ErrorKind, ListParams,
};
use serde::Serialize;

use crate::entity::{Entity, display_key};
use crate::reconcile::{Pair, upsert_with_parents};
use crate::stage::{DEFAULT_SCOPE, Side, Stage};

/// How long a copy's claims last by default (a batch takes far less).
pub const DEFAULT_COPY_LEASE: Duration = Duration::from_secs(60);

/// Brings chosen keys of a target to a source's current state, safely while
/// passthroughs write the same keys (see the module docs).
#[derive(Clone)]
pub struct LiveCopy {
    source: DataAdapters,
    target: DataAdapters,
    journal: Option<JournalLink>,
}

#[derive(Clone)]
struct JournalLink {
    journal: Arc<dyn ReplicationJournal>,
    target_name: String,
    lease: Duration,
    primary: Option<Side>,
}

/// How the source is read again after the claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceRead {
    /// The keyset range the caller read: from the cursor `from` (`None`: the
    /// scope's start) through the key `through` (`None`: the scope's end).
    Range {
        /// The cursor the caller's page started at.
        from: Option<String>,
        /// The last key of the range.
        through: Option<String>,
    },
    /// Each key by itself (sparse keys, as verify finds them).
    EachKey,
}

/// What [`LiveCopy::reconcile`] may do.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReconcileOptions {
    /// Also remove the target's records of the range that the source lacks.
    pub prune: bool,
    /// Count what would change; claim and write nothing.
    pub dry_run: bool,
}

/// One key the target refused (never the record's values; a code's key is
/// shown as a prefix).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyFailure {
    /// The key as reports may show it.
    pub key: String,
    /// The error's kind.
    pub kind: ErrorKind,
    /// The error, as text.
    pub error: String,
}

/// What one reconciliation did, key by key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Reconciled {
    /// Keys already identical (or that became identical meanwhile).
    pub unchanged: u64,
    /// Records written to the target.
    pub copied: u64,
    /// Records removed from the target (pruned, or removed from the source meanwhile).
    pub removed: u64,
    /// Keys left to replication: a write in flight, another copier, a dead letter.
    pub deferred: u64,
    /// Records only the target has that cannot be removed one by one (logs
    /// are append-only; they go with their tenant).
    pub unprunable: u64,
    /// Keys the target refused.
    pub failed: Vec<KeyFailure>,
}

impl Reconciled {
    /// Adds another reconciliation's counts.
    pub fn add(&mut self, other: Reconciled) {
        self.unchanged += other.unchanged;
        self.copied += other.copied;
        self.removed += other.removed;
        self.deferred += other.deferred;
        self.unprunable += other.unprunable;
        self.failed.extend(other.failed);
    }
}

/// Why a reconciliation stopped.
#[derive(Debug, thiserror::Error)]
pub enum LiveCopyError {
    /// Reading the source failed.
    #[error("reading the source failed: {0}")]
    Source(#[source] AdapterError),
    /// The target failed every write of the batch at the driver: it is
    /// down or failing, not refusing the data. Nothing was settled; what was
    /// claimed is left to replication.
    #[error("the target failed every write: {0}")]
    Target(#[source] AdapterError),
    /// The source's replication journal failed.
    #[error("the replication journal failed: {0}")]
    Journal(#[source] AdapterError),
    /// The migration stage moved: the source is no longer the primary, so
    /// copying from it would overwrite newer writes.
    #[error(
        "the migration stage is now `{stage}`: the source is no longer the primary, so copying from it would overwrite newer writes; copy from the new primary instead"
    )]
    StageMoved {
        /// The stage found.
        stage: String,
    },
}

/// The journal subject of a record's key: its own key, or for a password
/// every password of its user (as a password write journals it).
fn subject_of<R: Entity>(key: &str, order_key: &str) -> Subject {
    R::write_subject(key, order_key)
}

/// A subject's row identity (entity column, key column).
fn row_of(subject: &Subject) -> (&'static str, String) {
    (subject.entity_column(), subject.key_column())
}

impl LiveCopy {
    /// A copy coordinated through `journal` (the source's replication
    /// journal), where the target is called `target_name` (a migration's
    /// `old` or `new`, a secondary's name).
    pub fn new(
        source: DataAdapters,
        target: DataAdapters,
        journal: Arc<dyn ReplicationJournal>,
        target_name: impl Into<String>,
    ) -> Self {
        Self {
            source,
            target,
            journal: Some(JournalLink {
                journal,
                target_name: target_name.into(),
                lease: DEFAULT_COPY_LEASE,
                primary: None,
            }),
        }
    }

    /// A copy without coordination: correct only while nothing writes the stores.
    pub fn offline(source: DataAdapters, target: DataAdapters) -> Self {
        Self {
            source,
            target,
            journal: None,
        }
    }

    /// How long each batch's claims last (default [`DEFAULT_COPY_LEASE`]).
    pub fn lease(mut self, lease: Duration) -> Self {
        if let Some(link) = &mut self.journal {
            link.lease = lease;
        }
        self
    }

    /// Stops with [`LiveCopyError::StageMoved`] when the migration stage
    /// stored beside the journal no longer makes `source` the primary
    /// (checked after every claim, so a switch cannot complete under a copy).
    pub fn expect_primary(mut self, source: Side) -> Self {
        if let Some(link) = &mut self.journal {
            link.primary = Some(source);
        }
        self
    }

    /// Whether the copy is coordinated through a journal.
    pub fn is_coordinated(&self) -> bool {
        self.journal.is_some()
    }

    /// Reconciles one key range of `R` in `scope` (empty for tenants), given
    /// what the caller read of it from the source and from the target.
    pub async fn reconcile<R: Entity>(
        &self,
        scope: &str,
        read: SourceRead,
        source_seen: &[R],
        target_seen: Vec<R>,
        options: ReconcileOptions,
    ) -> Result<Reconciled, LiveCopyError> {
        let mut out = Reconciled::default();
        let target_seen: HashMap<String, R> = target_seen
            .into_iter()
            .map(|r| (r.key().to_owned(), r))
            .collect();
        let source_keys: HashSet<&str> = source_seen.iter().map(|r| r.key()).collect();
        // Key -> the key of its journal subject's row.
        let mut candidates: BTreeMap<String, String> = BTreeMap::new();
        for record in source_seen {
            if target_seen.get(record.key()) == Some(record) {
                out.unchanged += 1;
            } else {
                candidates.insert(
                    record.key().to_owned(),
                    R::record_order_key(record).to_owned(),
                );
            }
        }
        if options.prune {
            for (key, record) in &target_seen {
                if !source_keys.contains(key.as_str()) {
                    candidates.insert(key.clone(), R::record_order_key(record).to_owned());
                }
            }
        }
        if candidates.is_empty() {
            return Ok(out);
        }
        if options.dry_run {
            for key in candidates.keys() {
                if source_keys.contains(key.as_str()) {
                    out.copied += 1;
                } else if R::KIND == EntityKind::Log {
                    out.unprunable += 1;
                } else {
                    out.removed += 1;
                }
            }
            return Ok(out);
        }
        let (ours, claims) = self.claim::<R>(scope, &candidates, &mut out).await?;
        if ours.is_empty() {
            return Ok(out);
        }
        let outcome = self
            .copy_claimed::<R>(scope, &read, &ours, &target_seen, &mut out)
            .await;
        let failed: HashMap<String, (ErrorKind, String)> = match outcome {
            Ok(failed) => failed,
            Err(error) => {
                self.give_back(&claims).await;
                return Err(error);
            }
        };
        self.settle(&claims, &ours, &failed).await?;
        Ok(out)
    }

    /// Claims the candidates' subjects; returns the keys this copy may
    /// write (key -> subject row) and the claims won.
    async fn claim<R: Entity>(
        &self,
        scope: &str,
        candidates: &BTreeMap<String, String>,
        out: &mut Reconciled,
    ) -> Result<(BTreeMap<String, (&'static str, String)>, Vec<Claim>), LiveCopyError> {
        let mut ours = BTreeMap::new();
        let Some(link) = &self.journal else {
            for (key, order_key) in candidates {
                ours.insert(key.clone(), row_of(&subject_of::<R>(key, order_key)));
            }
            return Ok((ours, Vec::new()));
        };
        let mut subjects: BTreeMap<(&'static str, String), Subject> = BTreeMap::new();
        for (key, order_key) in candidates {
            let subject = subject_of::<R>(key, order_key);
            subjects.insert(row_of(&subject), subject);
        }
        let keys: Vec<JournalKey> = subjects
            .values()
            .map(|subject| JournalKey::new(link.target_name.clone(), scope, subject.clone()))
            .collect();
        let token = format!("copy-{}", uuid::Uuid::new_v4().simple());
        let won = link
            .journal
            .claim_keys(&token, &keys, link.lease)
            .await
            .map_err(LiveCopyError::Journal)?;
        let mut claims = Vec::with_capacity(won.len());
        for claim in won {
            // A pending cascade (a removal of the tenant or user) is more
            // than a copy of one record: leave it to the relay.
            if claim.key.subject.cascades() {
                link.journal
                    .release(&claim)
                    .await
                    .map_err(LiveCopyError::Journal)?;
            } else {
                claims.push(claim);
            }
        }
        let held: HashSet<(&'static str, String)> =
            claims.iter().map(|c| row_of(&c.key.subject)).collect();
        for (key, order_key) in candidates {
            let row = row_of(&subject_of::<R>(key, order_key));
            if held.contains(&row) {
                ours.insert(key.clone(), row);
            } else {
                out.deferred += 1;
            }
        }
        if let Some(primary) = link.primary {
            let stored = link.journal.stage(DEFAULT_SCOPE).await;
            let moved = match &stored {
                Ok(Some(record)) => record
                    .stage
                    .parse::<Stage>()
                    .map_or(Some(record.stage.clone()), |stage| {
                        (stage.primary() != primary).then(|| record.stage.clone())
                    }),
                Ok(None) => None,
                Err(_) => None,
            };
            if let Err(error) = stored {
                self.give_back(&claims).await;
                return Err(LiveCopyError::Journal(error));
            }
            if let Some(stage) = moved {
                self.give_back(&claims).await;
                return Err(LiveCopyError::StageMoved { stage });
            }
        }
        Ok((ours, claims))
    }

    /// Gives claims back untried (best effort: a claim not given back runs
    /// out with its lease).
    async fn give_back(&self, claims: &[Claim]) {
        let Some(link) = &self.journal else { return };
        for claim in claims {
            if let Err(error) = link.journal.release(claim).await {
                tracing::debug!(%error, "a copy's claim was not given back; it runs out with its lease");
                return;
            }
        }
    }

    /// The source's current records of `keys`, read after the claims.
    async fn reread<R: Entity>(
        &self,
        scope: &str,
        read: &SourceRead,
        keys: &BTreeMap<String, (&'static str, String)>,
    ) -> Result<HashMap<String, R>, LiveCopyError> {
        let source = R::store(&self.source);
        let mut fresh = HashMap::with_capacity(keys.len());
        match read {
            SourceRead::EachKey => {
                for key in keys.keys() {
                    if let Some(record) = source
                        .get(scope, key)
                        .await
                        .map_err(LiveCopyError::Source)?
                    {
                        fresh.insert(key.clone(), record);
                    }
                }
            }
            SourceRead::Range { from, through } => {
                let mut cursor = from.clone();
                loop {
                    let mut params =
                        ListParams::default().with_per_page(adapter_interfaces::list::MAX_PER_PAGE);
                    params.from = cursor.take();
                    let page = source
                        .list(scope, &params)
                        .await
                        .map_err(LiveCopyError::Source)?;
                    let mut past_end = false;
                    for record in page.items {
                        if through
                            .as_deref()
                            .is_some_and(|last| record.key().as_bytes() > last.as_bytes())
                        {
                            past_end = true;
                            break;
                        }
                        if keys.contains_key(record.key()) {
                            fresh.insert(record.key().to_owned(), record);
                        }
                    }
                    match page.next {
                        Some(next) if !past_end => cursor = Some(next),
                        _ => break,
                    }
                }
            }
        }
        Ok(fresh)
    }

    /// Writes the claimed keys from a fresh read of the source; returns the
    /// keys that failed.
    async fn copy_claimed<R: Entity>(
        &self,
        scope: &str,
        read: &SourceRead,
        ours: &BTreeMap<String, (&'static str, String)>,
        target_seen: &HashMap<String, R>,
        out: &mut Reconciled,
    ) -> Result<HashMap<String, (ErrorKind, String)>, LiveCopyError> {
        let fresh = self.reread::<R>(scope, read, ours).await?;
        let mut upserts = Vec::new();
        let mut removals = Vec::new();
        for key in ours.keys() {
            match fresh.get(key) {
                Some(record) if target_seen.get(key) == Some(record) => out.unchanged += 1,
                Some(record) => upserts.push(record.clone()),
                None if target_seen.contains_key(key) => removals.push(key.clone()),
                None => out.unchanged += 1,
            }
        }
        let target = R::store(&self.target);
        let mut failed = HashMap::new();
        let mut attempts = 0u64;
        let mut driver = DriverFailures::default();
        let mut written = Vec::new();
        if !upserts.is_empty() {
            attempts += upserts.len() as u64;
            let keys: Vec<String> = upserts.iter().map(|r| r.key().to_owned()).collect();
            match target.upsert_many(scope, upserts.clone()).await {
                Ok(()) => {
                    out.copied += upserts.len() as u64;
                    written = keys;
                }
                Err(batch_error) => {
                    tracing::debug!(entity = %R::KIND, tenant = scope, error = %batch_error, "batch refused; writing its records one by one");
                    for record in upserts {
                        let key = record.key().to_owned();
                        match self.upsert_one::<R>(&*target, scope, record).await {
                            Ok(true) => {
                                out.copied += 1;
                                written.push(key);
                            }
                            Ok(false) => out.unchanged += 1,
                            Err(error) => {
                                note_failure::<R>(key, error, out, &mut failed, &mut driver);
                            }
                        }
                    }
                }
            }
        }
        for key in removals {
            attempts += 1;
            if R::KIND == EntityKind::Log {
                // Logs are append-only: an extra one goes with its tenant only.
                out.unprunable += 1;
                continue;
            }
            match R::remove_absent(&target, scope, &key).await {
                Ok(()) => out.removed += 1,
                Err(error) => note_failure::<R>(key, error, out, &mut failed, &mut driver),
            }
        }
        if attempts > 0
            && driver.count == attempts
            && let Some(error) = driver.first
        {
            // Every write failed at the driver: the target is down, not the data bad.
            out.failed.clear();
            return Err(LiveCopyError::Target(error));
        }
        if R::KIND == EntityKind::Code && !written.is_empty() {
            // A `codes.cleanup` is journaled by cut-off, not per code: a code
            // it removed after the re-read was just written back. Read again.
            let written: BTreeMap<String, (&'static str, String)> = written
                .into_iter()
                .map(|key| (key, ("", String::new())))
                .collect();
            let still = self.reread::<R>(scope, read, &written).await?;
            for key in written.keys().filter(|k| !still.contains_key(*k)) {
                R::remove_absent(&target, scope, key)
                    .await
                    .map_err(LiveCopyError::Target)?;
                out.copied -= 1;
                out.removed += 1;
            }
        }
        Ok(failed)
    }

    /// Upserts one record (copying a parent the target lacks first);
    /// `Ok(false)` when the write failed because the source no longer has the
    /// record (it was removed meanwhile; the target is made to agree).
    async fn upsert_one<R: Entity>(
        &self,
        target: &R::Store,
        scope: &str,
        record: R,
    ) -> Result<bool, AdapterError> {
        let key = record.key().to_owned();
        let pair = Pair {
            target: &self.target,
            source: &self.source,
        };
        let error = match upsert_with_parents(pair, target, scope, record).await {
            Ok(()) => return Ok(true),
            Err(error) => error,
        };
        if error.kind() == ErrorKind::Backend {
            return Err(error);
        }
        match R::store(&self.source).get(scope, &key).await? {
            None => {
                R::remove_absent(target, scope, &key).await?;
                Ok(false)
            }
            Some(_) => Err(error),
        }
    }

    /// Settles the claims whose keys were all written; fails the others
    /// (a refusal becomes a dead letter, visible to every instance and to
    /// the switch; a driver error is retried by the relay).
    async fn settle(
        &self,
        claims: &[Claim],
        ours: &BTreeMap<String, (&'static str, String)>,
        failed: &HashMap<String, (ErrorKind, String)>,
    ) -> Result<(), LiveCopyError> {
        let Some(link) = &self.journal else {
            return Ok(());
        };
        let mut failed_rows: HashMap<(&'static str, String), &(ErrorKind, String)> = HashMap::new();
        for (key, failure) in failed {
            if let Some(row) = ours.get(key) {
                failed_rows.entry(row.clone()).or_insert(failure);
            }
        }
        let (done, refused): (Vec<&Claim>, Vec<&Claim>) = claims
            .iter()
            .partition(|c| !failed_rows.contains_key(&row_of(&c.key.subject)));
        let done: Vec<Claim> = done.into_iter().cloned().collect();
        link.journal
            .settle_many(&done)
            .await
            .map_err(LiveCopyError::Journal)?;
        for claim in refused {
            let (kind, error) = failed_rows[&row_of(&claim.key.subject)];
            let dead = *kind != ErrorKind::Backend;
            link.journal
                .fail(
                    claim,
                    &Failure {
                        error: error.clone(),
                        dead,
                        retry_in: Duration::from_secs(1),
                    },
                )
                .await
                .map_err(LiveCopyError::Journal)?;
        }
        Ok(())
    }
}

/// The writes of a batch that failed at the driver.
#[derive(Default)]
struct DriverFailures {
    count: u64,
    first: Option<AdapterError>,
}

/// Records a key the target refused (or failed at the driver).
fn note_failure<R: Entity>(
    key: String,
    error: AdapterError,
    out: &mut Reconciled,
    failed: &mut HashMap<String, (ErrorKind, String)>,
    driver: &mut DriverFailures,
) {
    let (kind, text) = (error.kind(), error.to_string());
    out.failed.push(KeyFailure {
        key: display_key::<R>(&key),
        kind,
        error: text.clone(),
    });
    failed.insert(key, (kind, text));
    if kind == ErrorKind::Backend {
        driver.count += 1;
        driver.first.get_or_insert(error);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use adapter_interfaces::journal::MemoryJournal;
    use adapter_interfaces::{TenantInsert, User, UserInsert, memory};

    async fn tenant(db: &DataAdapters) -> String {
        db.tenants
            .create(TenantInsert {
                friendly_name: "Acme".into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .id
    }

    fn user(id: &str, name: &str) -> UserInsert {
        UserInsert {
            user_id: Some(id.into()),
            email: Some(format!("{}@example.com", id.replace('|', "-"))),
            name: Some(name.into()),
            connection: "Username-Password-Authentication".into(),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn a_copy_writes_what_the_source_has_after_its_claim() {
        let (source, target) = (memory::adapters(), memory::adapters());
        let t = tenant(&source).await;
        target
            .tenants
            .upsert(source.tenants.get(&t).await.unwrap().unwrap())
            .await
            .unwrap();
        let a = source
            .users
            .create(&t, user("auth0|a", "first"))
            .await
            .unwrap();
        let b = source
            .users
            .create(&t, user("auth0|b", "first"))
            .await
            .unwrap();
        let seen = vec![a.clone(), b.clone()];
        // After the caller's read: `a` changes, `b` is removed.
        let newer = source
            .users
            .update(
                &t,
                "auth0|a",
                adapter_interfaces::UserPatch {
                    name: Some(Some("second".into())),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        source.users.remove(&t, "auth0|b").await.unwrap();
        let journal: Arc<dyn ReplicationJournal> = Arc::new(MemoryJournal::new());
        let copy = LiveCopy::new(source.clone(), target.clone(), journal.clone(), "new");
        let done = copy
            .reconcile::<User>(
                &t,
                SourceRead::Range {
                    from: None,
                    through: Some("auth0|b".into()),
                },
                &seen,
                Vec::new(),
                ReconcileOptions::default(),
            )
            .await
            .unwrap();
        assert_eq!((done.copied, done.removed, done.unchanged), (1, 0, 1));
        assert_eq!(target.users.get(&t, "auth0|a").await.unwrap(), Some(newer));
        assert_eq!(target.users.get(&t, "auth0|b").await.unwrap(), None);
        assert!(
            journal
                .backlog()
                .await
                .unwrap()
                .iter()
                .all(|b| b.pending == 0)
        );
    }

    #[tokio::test]
    async fn a_key_with_a_write_in_flight_is_left_to_replication() {
        use adapter_interfaces::journal::{Begun, Fence};
        let (source, target) = (memory::adapters(), memory::adapters());
        let t = tenant(&source).await;
        let a = source
            .users
            .create(&t, user("auth0|a", "first"))
            .await
            .unwrap();
        let journal: Arc<dyn ReplicationJournal> = Arc::new(MemoryJournal::new());
        // A passthrough began a write of the user and has not finished it.
        let fence = Fence {
            scope: DEFAULT_SCOPE.into(),
            generation: 0,
            stage: "dual_write".into(),
        };
        let key = JournalKey::new(
            "new",
            t.as_str(),
            Subject::Record {
                entity: EntityKind::User,
                key: "auth0|a".into(),
            },
        );
        let begun = journal
            .begin(&fence, std::slice::from_ref(&key), Duration::from_secs(30))
            .await
            .unwrap();
        assert_eq!(begun, Begun::Recorded);
        let copy = LiveCopy::new(source.clone(), target.clone(), journal.clone(), "new");
        let done = copy
            .reconcile::<User>(
                &t,
                SourceRead::EachKey,
                std::slice::from_ref(&a),
                Vec::new(),
                ReconcileOptions::default(),
            )
            .await
            .unwrap();
        assert_eq!((done.copied, done.deferred), (0, 1));
        assert_eq!(target.users.get(&t, "auth0|a").await.unwrap(), None);
        // The writer's row is still there for replication to apply.
        assert_eq!(journal.backlog().await.unwrap()[0].pending, 1);
    }

    #[tokio::test]
    async fn the_copy_stops_when_the_stage_moves_the_primary_away() {
        let (source, target) = (memory::adapters(), memory::adapters());
        let t = tenant(&source).await;
        let a = source
            .users
            .create(&t, user("auth0|a", "first"))
            .await
            .unwrap();
        let journal: Arc<dyn ReplicationJournal> = Arc::new(MemoryJournal::new());
        assert!(
            journal
                .set_stage(DEFAULT_SCOPE, 0, "live", 3)
                .await
                .unwrap()
        );
        let copy = LiveCopy::new(source.clone(), target.clone(), journal.clone(), "new")
            .expect_primary(Side::Old);
        let error = copy
            .reconcile::<User>(
                &t,
                SourceRead::EachKey,
                std::slice::from_ref(&a),
                Vec::new(),
                ReconcileOptions::default(),
            )
            .await
            .unwrap_err();
        assert!(matches!(error, LiveCopyError::StageMoved { .. }), "{error}");
        assert_eq!(target.users.get(&t, "auth0|a").await.unwrap(), None);
        // Its claim was given back: a relay may take the key at once.
        let claims = journal
            .claim("relay", "new", 10, Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(claims.len(), 1);
    }
}
