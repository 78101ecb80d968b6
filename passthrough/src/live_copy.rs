//! Copying while the application writes: how a backfill, a prune or a
//! repair brings a key range of a target to the source's current state
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
//! 1. **writes the target** in one batch from what the caller read (upsert
//!    the source's record, or remove the key);
//! 2. **reads the source again**, after that write;
//! 3. for each key whose current source state is not what it wrote (the
//!    application changed or removed it meanwhile), **copies the key again
//!    under its claim** in the source's replication journal, exactly as a
//!    relay does ([`ReplicationJournal::claim_keys`], then the relay's own
//!    copy of the key's subject, then settle). When another copier holds
//!    the key, or a write of it is in flight, it waits until the two stores
//!    agree (or until its lease, then the key is *deferred*: the journal
//!    still owes it).
//!
//! **Why no newer record is overwritten and no removed one comes back.** If
//! the source still holds, after the batch write, what the batch wrote,
//! then the target holds the source's current state as of that read, and
//! every later write of the key is journaled and copied after it. If it
//! does not, the key changed after the caller's read: step 3 copies its
//! current state under the key's claim, which is the journal's own rule
//! (the copy reads the source after its claim; a newer write keeps the row
//! for another copy). A copier that held the key and copied it before the
//! batch write is why step 3 waits for agreement instead of leaving the key
//! to that copier. A password's subject is every password of its user, so a
//! stale current password that demoted a newer one is undone with the
//! user's whole set; a code that a `codes.cleanup` removed after the caller's
//! read is removed again, as the relay's copy of a code does.
//!
//! On a quiet store the price is one more read of the source per batch: no
//! journal row is written unless a key changed while it was copied.
//!
//! Without a journal ([`LiveCopy::offline`]) steps 2 and 3 are skipped: the
//! copy is then correct only while nothing writes the two stores.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use adapter_interfaces::journal::{Failure, JournalKey, ReplicationJournal, Subject};
use adapter_interfaces::{AdapterError, DataAdapters, EntityStore, ErrorKind, ListParams};
use serde::Serialize;

use crate::copy::copy_subject;
use crate::entity::{Entity, display_key};
use crate::reconcile::{Pair, upsert_with_parents, user_password_set};
use crate::stage::{DEFAULT_SCOPE, Side, Stage};

/// How long a copy waits, per key, for another copier of it (and how long
/// its claims last).
pub const DEFAULT_COPY_LEASE: Duration = Duration::from_secs(30);

/// Brings key ranges of a target to a source's current state, safely while
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

/// How the source is read again after the batch write.
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
    /// Count what would change; write nothing.
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
    /// Keys already identical.
    pub unchanged: u64,
    /// Records written to the target.
    pub copied: u64,
    /// Records removed from the target (pruned, or removed from the source meanwhile).
    pub removed: u64,
    /// Keys that changed while they were copied and were copied again.
    pub recopied: u64,
    /// Keys still owed by the journal when the copy gave up waiting for
    /// their copier (a dead letter, a target that refuses them).
    pub deferred: u64,
    /// Keys the target refused.
    pub failed: Vec<KeyFailure>,
}

impl Reconciled {
    /// Adds another reconciliation's counts.
    pub fn add(&mut self, other: Reconciled) {
        self.unchanged += other.unchanged;
        self.copied += other.copied;
        self.removed += other.removed;
        self.recopied += other.recopied;
        self.deferred += other.deferred;
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
    /// down or failing, not refusing the data.
    #[error("the target failed every write: {0}")]
    Target(#[source] AdapterError),
    /// The source's replication journal failed.
    #[error("the replication journal failed: {0}")]
    Journal(#[source] AdapterError),
    /// The migration stage moved: the source is no longer the primary, so
    /// copying from it would overwrite newer writes.
    #[error(
        "the migration stage is now `{stage}`: the source is no longer the primary, so copying from it would overwrite newer writes; copy (or verify --repair) from the new primary instead"
    )]
    StageMoved {
        /// The stage found.
        stage: String,
    },
}

/// What the batch write left on the target for a key: the record, or nothing.
type Written<R> = BTreeMap<String, (Option<R>, String)>;

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

    /// How long the copy waits for another copier of a key, and how long
    /// its claims last (default [`DEFAULT_COPY_LEASE`]).
    pub fn lease(mut self, lease: Duration) -> Self {
        if let Some(link) = &mut self.journal {
            link.lease = lease;
        }
        self
    }

    /// Stops with [`LiveCopyError::StageMoved`] when the migration stage
    /// stored beside the journal no longer makes `source` the primary
    /// (checked before each batch is written and after it is checked).
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
        let mut target_seen: HashMap<String, R> = target_seen
            .into_iter()
            .map(|r| (r.key().to_owned(), r))
            .collect();
        let mut upserts = Vec::new();
        for record in source_seen {
            match target_seen.remove(record.key()) {
                Some(existing) if existing == *record => out.unchanged += 1,
                _ => upserts.push(record.clone()),
            }
        }
        // What is left of the target's range is what only the target has.
        let mut removals: Vec<(String, String)> = Vec::new();
        if options.prune {
            for (key, record) in target_seen {
                removals.push((key, R::record_order_key(&record).to_owned()));
            }
            removals.sort();
        }
        if upserts.is_empty() && removals.is_empty() {
            return Ok(out);
        }
        if options.dry_run {
            out.copied += upserts.len() as u64;
            out.removed += removals.len() as u64;
            return Ok(out);
        }
        self.check_stage().await?;
        let written = self.write::<R>(scope, upserts, removals, &mut out).await?;
        let Some(link) = &self.journal else {
            return Ok(out);
        };
        if written.is_empty() {
            return Ok(out);
        }
        let fresh = self.reread::<R>(scope, &read, &written).await?;
        for (key, (left, order_key)) in &written {
            if fresh.get(key) == left.as_ref() {
                continue;
            }
            self.recopy::<R>(link, scope, key, order_key, &mut out)
                .await?;
        }
        self.check_stage().await?;
        Ok(out)
    }

    /// Fails when the stored stage no longer makes the expected side primary.
    async fn check_stage(&self) -> Result<(), LiveCopyError> {
        let Some(link) = &self.journal else {
            return Ok(());
        };
        let Some(primary) = link.primary else {
            return Ok(());
        };
        let stored = link
            .journal
            .stage(DEFAULT_SCOPE)
            .await
            .map_err(LiveCopyError::Journal)?;
        let Some(record) = stored else {
            return Ok(());
        };
        match record.stage.parse::<Stage>() {
            Ok(stage) if stage.primary() == primary => Ok(()),
            _ => Err(LiveCopyError::StageMoved {
                stage: record.stage,
            }),
        }
    }

    /// Writes the batch; returns what it left on the target, per key.
    async fn write<R: Entity>(
        &self,
        scope: &str,
        upserts: Vec<R>,
        removals: Vec<(String, String)>,
        out: &mut Reconciled,
    ) -> Result<Written<R>, LiveCopyError> {
        let target = R::store(&self.target);
        let mut written: Written<R> = BTreeMap::new();
        let mut attempts = 0u64;
        let mut driver = DriverFailures::default();
        if !upserts.is_empty() {
            attempts += upserts.len() as u64;
            match target.upsert_many(scope, upserts.clone()).await {
                Ok(()) => {
                    out.copied += upserts.len() as u64;
                    for record in upserts {
                        let order = R::record_order_key(&record).to_owned();
                        written.insert(record.key().to_owned(), (Some(record), order));
                    }
                }
                Err(batch_error) => {
                    tracing::debug!(entity = %R::KIND, tenant = scope, error = %batch_error, "batch refused; writing its records one by one");
                    for record in upserts {
                        let key = record.key().to_owned();
                        let order = R::record_order_key(&record).to_owned();
                        match self.upsert_one::<R>(&target, scope, record.clone()).await {
                            Ok(true) => {
                                out.copied += 1;
                                written.insert(key, (Some(record), order));
                            }
                            Ok(false) => {
                                out.removed += 1;
                                written.insert(key, (None, order));
                            }
                            Err(error) => note_failure::<R>(key, error, out, &mut driver),
                        }
                    }
                }
            }
        }
        for (key, order) in removals {
            attempts += 1;
            match R::remove_absent(&target, scope, &key).await {
                Ok(()) => {
                    out.removed += 1;
                    written.insert(key, (None, order));
                }
                Err(error) => note_failure::<R>(key, error, out, &mut driver),
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
        Ok(written)
    }

    /// The source's current records of the written keys, read after the write.
    async fn reread<R: Entity>(
        &self,
        scope: &str,
        read: &SourceRead,
        keys: &Written<R>,
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

    /// Copies a key that changed while it was copied, under its claim, as
    /// a relay would; waits for another copier of it until the two stores
    /// agree, for at most the lease.
    async fn recopy<R: Entity>(
        &self,
        link: &JournalLink,
        scope: &str,
        key: &str,
        order_key: &str,
        out: &mut Reconciled,
    ) -> Result<(), LiveCopyError> {
        let subject = R::write_subject(key, order_key);
        let journal_key = JournalKey::new(link.target_name.clone(), scope, subject);
        let deadline = Instant::now() + link.lease;
        let mut pause = Duration::from_millis(20);
        loop {
            let token = format!("copy-{}", uuid::Uuid::new_v4().simple());
            let claims = link
                .journal
                .claim_keys(&token, std::slice::from_ref(&journal_key), link.lease)
                .await
                .map_err(LiveCopyError::Journal)?;
            if let Some(claim) = claims.into_iter().next() {
                match copy_subject(&self.source, &self.target, scope, &claim.key.subject).await {
                    Ok(()) => {
                        link.journal
                            .settle(&claim)
                            .await
                            .map_err(LiveCopyError::Journal)?;
                        out.recopied += 1;
                    }
                    Err(error) => {
                        let failure = Failure {
                            error: error.to_string(),
                            dead: !error.is_transient(),
                            retry_in: Duration::from_secs(1),
                        };
                        link.journal
                            .fail(&claim, &failure)
                            .await
                            .map_err(LiveCopyError::Journal)?;
                        note_failure::<R>(
                            key.to_owned(),
                            error,
                            out,
                            &mut DriverFailures::default(),
                        );
                    }
                }
                return Ok(());
            }
            // Another copier holds the key, or a write of it is in flight:
            // it copies the key's current state, unless it did so before
            // this copy's write. Done once the two stores agree on the
            // whole subject: a stale current password demotes its user's
            // other passwords, so another copier that fixed the password
            // itself may still leave a sibling demoted.
            if self.agree::<R>(scope, key, &journal_key.subject).await? {
                out.recopied += 1;
                return Ok(());
            }
            if Instant::now() >= deadline {
                out.deferred += 1;
                return Ok(());
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(500));
        }
    }

    /// Whether the two stores hold the same state of the key's subject now:
    /// the record, or every password of the user.
    async fn agree<R: Entity>(
        &self,
        scope: &str,
        key: &str,
        subject: &Subject,
    ) -> Result<bool, LiveCopyError> {
        if let Subject::UserPasswords { user_id } = subject {
            let source = user_password_set(&*self.source.passwords, scope, user_id)
                .await
                .map_err(LiveCopyError::Source)?;
            let target = user_password_set(&*self.target.passwords, scope, user_id)
                .await
                .map_err(LiveCopyError::Target)?;
            return Ok(source == target);
        }
        let source = R::store(&self.source)
            .get(scope, key)
            .await
            .map_err(LiveCopyError::Source)?;
        let target = R::store(&self.target)
            .get(scope, key)
            .await
            .map_err(LiveCopyError::Target)?;
        Ok(source == target)
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
    driver: &mut DriverFailures,
) {
    let kind = error.kind();
    out.failed.push(KeyFailure {
        key: display_key::<R>(&key),
        kind,
        error: error.to_string(),
    });
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
    async fn a_key_changed_after_the_read_is_copied_again_under_its_claim() {
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
        // Both were written as read, found changed, and copied again.
        assert_eq!((done.copied, done.recopied, done.deferred), (2, 2, 0));
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
    async fn a_key_with_a_write_in_flight_is_copied_and_stays_owed() {
        use adapter_interfaces::journal::{Begun, Fence, Subject};
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
                entity: adapter_interfaces::EntityKind::User,
                key: "auth0|a".into(),
            },
        );
        let begun = journal
            .begin(&fence, std::slice::from_ref(&key), Duration::from_secs(30))
            .await
            .unwrap();
        assert!(matches!(begun, Begun::Recorded(_)), "{begun:?}");
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
        // The source still holds what was copied: nothing to copy again.
        assert_eq!((done.copied, done.recopied), (1, 0));
        assert_eq!(target.users.get(&t, "auth0|a").await.unwrap(), Some(a));
        // The writer's row is still there: its own copy follows.
        assert_eq!(journal.backlog().await.unwrap()[0].pending, 1);
    }

    /// A stale current password written by the batch demotes its user's
    /// newer current one on the target. Another copier, holding the user's
    /// claim, then fixes the stale password itself but not its sibling: the
    /// copy must not take that for agreement.
    #[tokio::test]
    async fn a_stale_current_password_is_undone_with_its_whole_user() {
        use adapter_interfaces::journal::Subject;
        use adapter_interfaces::{Password, PasswordAlgorithm, PasswordInsert};
        let (source, target) = (memory::adapters(), memory::adapters());
        let t = tenant(&source).await;
        target
            .tenants
            .upsert(source.tenants.get(&t).await.unwrap().unwrap())
            .await
            .unwrap();
        let u = source.users.create(&t, user("auth0|u", "u")).await.unwrap();
        target.users.upsert(&t, u).await.unwrap();
        let hash = |n: &str| {
            PasswordInsert::new("auth0|u", format!("$2b$10${n}"), PasswordAlgorithm::Bcrypt)
        };
        let older = source.passwords.create(&t, hash("older")).await.unwrap();
        // What the backfill read, before the rotation below demoted it.
        let stale = older.clone();
        let newer = source.passwords.create(&t, hash("newer")).await.unwrap();
        let demoted = source.passwords.get(&t, &older.id).await.unwrap().unwrap();
        assert!(!demoted.is_current && newer.is_current);
        // The rotation's copy reached the target already.
        target.passwords.upsert(&t, newer.clone()).await.unwrap();
        target.passwords.upsert(&t, demoted.clone()).await.unwrap();
        // A relay holds the user's claim: it wrote the target, and its last
        // write (the demoted password) lands after the backfill's.
        let journal: Arc<dyn ReplicationJournal> = Arc::new(MemoryJournal::new());
        let key = JournalKey::new(
            "new",
            t.as_str(),
            Subject::UserPasswords {
                user_id: "auth0|u".into(),
            },
        );
        let held = journal
            .claim_keys("relay", std::slice::from_ref(&key), Duration::from_secs(30))
            .await
            .unwrap();
        assert_eq!(held.len(), 1);
        let relay = {
            let (target, journal, t) = (target.clone(), journal.clone(), t.clone());
            let (stale, demoted) = (stale.clone(), demoted.clone());
            tokio::spawn(async move {
                while target.passwords.get(&t, &stale.id).await.unwrap() != Some(stale.clone()) {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                target.passwords.upsert(&t, demoted).await.unwrap();
                tokio::time::sleep(Duration::from_millis(300)).await;
                journal.settle(&held[0]).await.unwrap();
            })
        };
        let copy = LiveCopy::new(source.clone(), target.clone(), journal.clone(), "new")
            .lease(Duration::from_secs(10));
        let done = copy
            .reconcile::<Password>(
                &t,
                SourceRead::EachKey,
                std::slice::from_ref(&stale),
                Vec::new(),
                ReconcileOptions::default(),
            )
            .await
            .unwrap();
        relay.await.unwrap();
        assert_eq!((done.copied, done.recopied, done.deferred), (1, 1, 0));
        let set = |db: DataAdapters| {
            let t = t.clone();
            async move {
                user_password_set(&*db.passwords, &t, "auth0|u")
                    .await
                    .unwrap()
            }
        };
        assert_eq!(set(target.clone()).await, set(source.clone()).await);
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
    }
}
