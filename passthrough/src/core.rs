//! The machinery shared by every entity of a passthrough: copying journaled
//! keys to the secondaries (the fast path of the writing process, and the
//! relay that drains what any process left behind), statistics, compared
//! reads and the status report.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use adapter_interfaces::journal::{
    Backlog, Claim, EntryFilter, Failure, JournalEntry, JournalKey, ReplicationJournal,
};
use adapter_interfaces::{AdapterError, DataAdapters, EntityKind, ErrorKind, Result};
use futures::StreamExt;
use tokio::sync::{Notify, Semaphore};

use crate::compare::Mismatch;
use crate::config::{
    ReadPolicy, ReplicationOptions, SecondaryFailure, SecondaryOptions, WriteMode,
};
use crate::copy::copy_subject;
use crate::entity::BoxFuture;
use crate::group_commit::GroupCommit;
use crate::stage::{Member, MigrationController, Owed, Side, owed_by};
use crate::stats::{
    DeadLetter, Event, Health, JournalStatus, Role, SecondaryStatus, Stats, StatusReport,
};

/// How many recent mismatches are kept.
const MISMATCH_LOG: usize = 1000;
/// Keys one relay claim takes at most.
const RELAY_BATCH: usize = 64;

/// One store of the passthrough.
pub(crate) struct Target {
    pub name: String,
    pub options: SecondaryOptions,
    fast: Arc<Semaphore>,
    retrying: AtomicBool,
}

/// Which store is primary, per entity (fixed, or as the stages say).
pub(crate) enum Routing {
    /// Store 0 is the primary of everything.
    Fixed,
    /// A migration: per entity, its controller's stage.
    Staged(Vec<(EntityKind, Arc<MigrationController>)>),
}

/// The shared core of one passthrough.
pub(crate) struct Core {
    pub targets: Vec<Target>,
    pub read_policy: ReadPolicy,
    pub options: ReplicationOptions,
    /// Every store's bundle, by index (with its journal).
    pub bundles: Arc<Vec<DataAdapters>>,
    pub routing: Routing,
    instance: String,
    tokens: AtomicU64,
    stats: Stats,
    mismatches: Mutex<VecDeque<Mismatch>>,
    mismatch_count: AtomicU64,
    compared: AtomicU64,
    lagging: AtomicU64,
    errors: Mutex<BTreeMap<EntityKind, u64>>,
    shadow: Arc<Semaphore>,
    samples: AtomicU64,
    /// Copies this process is running (fast path, blocking waits).
    copying: AtomicUsize,
    idle: Notify,
    /// Wakes the relay (a fast path gave keys back).
    wake: Notify,
    /// Each store's journal, its per-write steps coalesced across callers.
    journals: Vec<Arc<dyn ReplicationJournal>>,
}

/// Counts one copy in progress for as long as it lives (even if its future is dropped).
struct Copying<'a>(&'a Core);

impl<'a> Copying<'a> {
    fn new(core: &'a Core) -> Self {
        core.copying.fetch_add(1, Ordering::AcqRel);
        Self(core)
    }
}

impl Drop for Copying<'_> {
    fn drop(&mut self) {
        if self.0.copying.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

/// A copy whose source state the writer already holds (its own write's
/// result, proven current by the journal's change counter): given the
/// target's index, the future that writes that state there.
pub(crate) type KnownCopy = Box<dyn FnOnce(usize) -> BoxFuture<'static, Result<()>> + Send>;

/// What [`Core::apply`] copies for a claimed key.
pub(crate) enum CopyWith {
    /// The source's current state, read now.
    Current,
    /// A state the writer already holds.
    Known(KnownCopy),
    /// Nothing: the writer's copy ahead of its `finish` already failed;
    /// that failure is recorded as this attempt's.
    FailedAhead(AdapterError),
}

/// How a failed copy is handled: retried for ever, or dead after a few tries.
fn is_rejection(error: &AdapterError) -> bool {
    matches!(
        error.kind(),
        ErrorKind::Conflict | ErrorKind::InvalidInput | ErrorKind::NotFound
    )
}

impl Core {
    pub(crate) fn new(
        stores: Vec<(String, SecondaryOptions)>,
        bundles: Vec<DataAdapters>,
        read_policy: ReadPolicy,
        options: ReplicationOptions,
        routing: Routing,
    ) -> Self {
        let names = stores.iter().map(|(name, _)| name.clone()).collect();
        let targets = stores
            .into_iter()
            .map(|(name, options)| Target {
                fast: Arc::new(Semaphore::new(options.max_in_flight.max(1))),
                name,
                options,
                retrying: AtomicBool::new(false),
            })
            .collect();
        let journals = bundles
            .iter()
            .map(|bundle| {
                Arc::new(GroupCommit::new(bundle.journal.clone())) as Arc<dyn ReplicationJournal>
            })
            .collect();
        Self {
            journals,
            targets,
            read_policy,
            options,
            bundles: Arc::new(bundles),
            routing,
            instance: uuid::Uuid::new_v4().simple().to_string()[..12].to_owned(),
            tokens: AtomicU64::new(0),
            stats: Stats::new(names),
            mismatches: Mutex::new(VecDeque::new()),
            mismatch_count: AtomicU64::new(0),
            compared: AtomicU64::new(0),
            lagging: AtomicU64::new(0),
            errors: Mutex::new(BTreeMap::new()),
            shadow: Arc::new(Semaphore::new(options.shadow_concurrency.max(1))),
            samples: AtomicU64::new(0),
            copying: AtomicUsize::new(0),
            idle: Notify::new(),
            wake: Notify::new(),
        }
    }

    /// A claim token unique to this process and call.
    pub(crate) fn token(&self) -> String {
        let n = self.tokens.fetch_add(1, Ordering::Relaxed);
        format!("{}:{n}", self.instance)
    }

    /// The journal in store `index`'s database.
    pub(crate) fn journal(&self, index: usize) -> Arc<dyn ReplicationJournal> {
        self.journals[index].clone()
    }

    /// The primary of `entity` right now.
    pub(crate) fn primary_of(&self, entity: EntityKind) -> usize {
        match &self.routing {
            Routing::Fixed => 0,
            Routing::Staged(stages) => stages
                .iter()
                .find(|(kind, _)| *kind == entity)
                .map_or(0, |(_, c)| c.stage().primary().index()),
        }
    }

    fn index_of(&self, name: &str) -> Option<usize> {
        self.targets.iter().position(|t| t.name == name)
    }

    /// Whether the store named `name` is written before a call returns.
    pub(crate) fn is_blocking(&self, name: &str) -> bool {
        self.targets
            .iter()
            .find(|t| t.name == name)
            .is_some_and(|t| matches!(t.options.mode, WriteMode::Blocking(_)))
    }

    /// Whether this read is compared (deterministic sampling at the configured rate).
    pub(crate) fn sample(&self) -> bool {
        let rate = self.read_policy.shadow_sample_rate;
        if rate <= 0.0 {
            return false;
        }
        if rate >= 1.0 {
            return true;
        }
        let n = self.samples.fetch_add(1, Ordering::Relaxed) as f64;
        ((n + 1.0) * rate).floor() > (n * rate).floor()
    }

    pub(crate) fn record_call(
        &self,
        index: usize,
        role: Role,
        entity: EntityKind,
        method: &'static str,
        ok: bool,
        started: Instant,
    ) {
        let latency = started.elapsed();
        let event = if ok {
            Event::Ok(latency)
        } else {
            Event::Failed(latency)
        };
        self.stats.record(index, role, entity, method, event);
    }

    /// Copies one claimed key from `source` to the claim's target (the
    /// source's current state, or the `known` one), then settles it (or
    /// records the failure). The error is the copy's.
    pub(crate) async fn apply(&self, source: usize, claim: &Claim, with: CopyWith) -> Result<()> {
        let Some(target) = self.index_of(&claim.key.target) else {
            return Err(AdapterError::invalid(
                "target",
                format!(
                    "the journal names a store `{}` this passthrough lacks",
                    claim.key.target
                ),
            ));
        };
        let _copying = Copying::new(self);
        let entity = claim.key.subject.entity();
        let started = Instant::now();
        let copy: BoxFuture<'_, Result<()>> = match with {
            CopyWith::Known(known) => known(target),
            CopyWith::Current => Box::pin(copy_subject(
                &self.bundles[source],
                &self.bundles[target],
                &claim.key.tenant_id,
                &claim.key.subject,
            )),
            CopyWith::FailedAhead(error) => Box::pin(std::future::ready(Err(error))),
        };
        let outcome = self.within_budget(copy).await;
        let journal = self.journal(source);
        let state = &self.targets[target];
        match outcome {
            Ok(()) => {
                self.stats.record(
                    target,
                    Role::Secondary,
                    entity,
                    "copy",
                    Event::Ok(started.elapsed()),
                );
                state.retrying.store(false, Ordering::Release);
                journal.settle(claim).await?;
                Ok(())
            }
            Err(error) => {
                self.stats.record(
                    target,
                    Role::Secondary,
                    entity,
                    "copy",
                    Event::Failed(started.elapsed()),
                );
                let attempt = claim.attempts + 1;
                let retry = state.options.retry;
                let dead = is_rejection(&error) && attempt >= retry.max_attempts.max(1);
                self.report_failure(state, claim, &error, attempt, dead);
                state.retrying.store(!dead, Ordering::Release);
                let failure = Failure {
                    error: error.to_string(),
                    dead,
                    retry_in: retry.backoff(attempt),
                };
                if let Err(journal_error) = journal.fail(claim, &failure).await {
                    tracing::warn!(error = %journal_error, "recording a failed copy in the journal failed; its lease will expire");
                }
                Err(error)
            }
        }
    }

    /// Runs `known`, a writer's copy of its own result to store `target`,
    /// ahead of the writer's `finish` (see the journal's `finish_copied`).
    /// `None` when it did not run: a non-blocking secondary's copies stay
    /// within its in-flight bound, and with no room the key goes the usual
    /// way. A failure is returned for the write's claim of the key to record
    /// as its attempt ([`CopyWith::FailedAhead`]).
    pub(crate) async fn copy_ahead(
        &self,
        target: &str,
        entity: EntityKind,
        known: KnownCopy,
    ) -> Option<Result<()>> {
        let index = self.index_of(target)?;
        let state = &self.targets[index];
        let _permit = match state.options.mode {
            WriteMode::NonBlocking => Some(state.fast.clone().try_acquire_owned().ok()?),
            WriteMode::Blocking(_) => None,
        };
        let _copying = Copying::new(self);
        let started = Instant::now();
        let outcome = self.within_budget(known(index)).await;
        if outcome.is_ok() {
            self.stats.record(
                index,
                Role::Secondary,
                entity,
                "copy",
                Event::Ok(started.elapsed()),
            );
            state.retrying.store(false, Ordering::Release);
        }
        Some(outcome)
    }

    /// A copy, cut off at half the lease (so that its claim outlives it).
    async fn within_budget(&self, copy: BoxFuture<'_, Result<()>>) -> Result<()> {
        let budget = self.options.lease / 2;
        match tokio::time::timeout(budget, copy).await {
            Ok(outcome) => outcome,
            Err(_) => Err(AdapterError::Backend {
                message: format!("the copy took longer than {budget:?}"),
                source: None,
            }),
        }
    }

    fn report_failure(
        &self,
        target: &Target,
        claim: &Claim,
        error: &AdapterError,
        attempt: u32,
        dead: bool,
    ) {
        let entity = claim.key.subject.entity();
        if let Ok(mut errors) = self.errors.lock() {
            *errors.entry(entity).or_default() += 1;
        }
        let key = claim.key.subject.display_key();
        if dead {
            self.stats.record(
                self.index_of(&target.name).unwrap_or(0),
                Role::Secondary,
                entity,
                "copy",
                Event::DeadLettered,
            );
        } else {
            self.stats.record(
                self.index_of(&target.name).unwrap_or(0),
                Role::Secondary,
                entity,
                "copy",
                Event::Retried,
            );
        }
        tracing::warn!(
            secondary = %target.name,
            %entity,
            tenant_id = %claim.key.tenant_id,
            key = %key,
            attempt,
            dead_lettered = dead,
            %error,
            "replicated copy failed"
        );
        if let Some(on_error) = &target.options.on_error {
            on_error(&SecondaryFailure {
                secondary: &target.name,
                entity,
                method: "copy",
                tenant_id: &claim.key.tenant_id,
                key: &key,
                error,
                attempt,
                dead_lettered: dead,
            });
        }
    }

    /// The fast path of a non-blocking secondary: copies the claims in the
    /// background, as far as the secondary's in-flight bound allows; the
    /// rest go back to the journal for the relay.
    pub(crate) fn copy_in_background(
        self: &Arc<Self>,
        source: usize,
        claims: Vec<(Claim, CopyWith)>,
    ) {
        for (claim, with) in claims {
            let Some(target) = self.index_of(&claim.key.target) else {
                continue;
            };
            // Recording a failed copy ahead copies nothing: it needs no room.
            let permit = match with {
                CopyWith::FailedAhead(_) => Ok(None),
                _ => self.targets[target]
                    .fast
                    .clone()
                    .try_acquire_owned()
                    .map(Some),
            };
            let core = self.clone();
            match permit {
                Ok(permit) => {
                    self.copying.fetch_add(1, Ordering::AcqRel);
                    tokio::spawn(async move {
                        let _ = core.apply(source, &claim, with).await;
                        drop(permit);
                        if core.copying.fetch_sub(1, Ordering::AcqRel) == 1 {
                            core.idle.notify_waiters();
                        }
                    });
                }
                Err(_) => {
                    tokio::spawn(async move {
                        let _ = core.journal(source).release(&claim).await;
                        core.wake.notify_one();
                    });
                }
            }
        }
    }

    /// The (journal store, target) pairs this passthrough drains.
    fn relay_pairs(&self) -> Vec<(usize, usize)> {
        match &self.routing {
            Routing::Fixed => (1..self.targets.len()).map(|t| (0, t)).collect(),
            Routing::Staged(_) => vec![(0, 1), (1, 0)],
        }
    }

    /// One relay pass over every journal this passthrough drains: claims
    /// due keys and copies them (at most `relay_concurrency` at once).
    /// Returns how many keys it copied or tried.
    pub(crate) async fn relay_pass(&self) -> usize {
        let mut done = 0;
        for (source, target) in self.relay_pairs() {
            let journal = self.journal(source);
            let token = self.token();
            let claims = match journal
                .claim(
                    &token,
                    &self.targets[target].name,
                    RELAY_BATCH,
                    self.options.lease,
                )
                .await
            {
                Ok(claims) => claims,
                Err(error) => {
                    tracing::debug!(%error, store = %self.targets[source].name, "relay could not read the journal");
                    continue;
                }
            };
            let mut copy = Vec::new();
            for claim in claims {
                // A key journaled by a store that is no longer the entity's
                // primary is not copied from it (it would overwrite newer
                // writes); a switch drains such keys before it promotes.
                if self.primary_of(claim.key.subject.entity()) == source {
                    copy.push(claim);
                } else {
                    let _ = journal.release(&claim).await;
                }
            }
            done += copy.len();
            futures::stream::iter(copy)
                .for_each_concurrent(self.options.relay_concurrency.max(1), |claim| async move {
                    let _ = self.apply(source, &claim, CopyWith::Current).await;
                })
                .await;
        }
        done
    }

    /// Runs relay passes until `stop` is dropped, resting when the journal is idle.
    pub(crate) async fn relay_loop(core: Weak<Core>) {
        loop {
            let Some(this) = core.upgrade() else {
                return;
            };
            let copied = this.relay_pass().await;
            if copied == 0 {
                // Holding the core for one poll at most: a dropped
                // passthrough's relay ends within that time.
                let poll = this.options.relay_poll;
                let _ = tokio::time::timeout(poll, this.wake.notified()).await;
            }
        }
    }

    /// Waits until nothing this process copies is in flight.
    async fn quiesce(&self) {
        loop {
            let idle = self.idle.notified();
            tokio::pin!(idle);
            idle.as_mut().enable();
            if self.copying.load(Ordering::Acquire) == 0 {
                return;
            }
            idle.await;
        }
    }

    /// What the journals this passthrough drains still owe its secondaries.
    pub(crate) async fn owed(&self) -> Result<Owed> {
        let mut total = Owed::default();
        let mut seen = Vec::new();
        for (source, target) in self.relay_pairs() {
            if !seen.contains(&source) {
                seen.push(source);
            }
            let backlog = self.journal(source).backlog().await?;
            for b in backlog
                .iter()
                .filter(|b| b.target == self.targets[target].name)
            {
                total.pending += b.pending;
                total.dead += b.dead;
            }
        }
        Ok(total)
    }

    /// Copies until nothing is owed (dead letters aside) or `timeout` passes.
    pub(crate) async fn flush(&self, timeout: Duration) -> Result<Owed> {
        let deadline = Instant::now() + timeout;
        loop {
            let _ = tokio::time::timeout_at(deadline.into(), self.quiesce()).await;
            let owed = self.owed().await?;
            if owed.pending == 0 || Instant::now() >= deadline {
                return Ok(owed);
            }
            if self.relay_pass().await == 0 {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }

    /// Dead letters of every journal this passthrough drains, oldest first (at most `limit`).
    pub(crate) async fn dead_letters(&self, limit: usize) -> Result<Vec<DeadLetter>> {
        let mut all = Vec::new();
        for source in self.journal_stores() {
            let filter = EntryFilter::dead_letters();
            let entries = self.journal(source).entries(&filter, limit).await?;
            all.extend(entries.into_iter().map(|e| dead_letter(&e)));
        }
        all.sort_by_key(|d| d.since);
        all.truncate(limit);
        Ok(all)
    }

    fn journal_stores(&self) -> Vec<usize> {
        let mut stores: Vec<usize> = self.relay_pairs().into_iter().map(|(s, _)| s).collect();
        stores.dedup();
        stores
    }

    /// Makes the dead letters `select` accepts due again; returns how many.
    pub(crate) async fn replay(&self, select: impl Fn(&DeadLetter) -> bool) -> Result<u64> {
        self.for_dead_letters(select, |journal, filter| {
            Box::pin(async move { journal.revive(&filter).await })
        })
        .await
    }

    /// Deletes the dead letters `select` accepts; returns how many.
    pub(crate) async fn discard(&self, select: impl Fn(&DeadLetter) -> bool) -> Result<u64> {
        self.for_dead_letters(select, |journal, filter| {
            Box::pin(async move { journal.discard(&filter).await })
        })
        .await
    }

    async fn for_dead_letters(
        &self,
        select: impl Fn(&DeadLetter) -> bool,
        act: impl Fn(Arc<dyn ReplicationJournal>, EntryFilter) -> BoxFuture<'static, Result<u64>>,
    ) -> Result<u64> {
        let mut count = 0;
        for source in self.journal_stores() {
            let journal = self.journal(source);
            let entries = journal
                .entries(&EntryFilter::dead_letters(), usize::MAX >> 1)
                .await?;
            for entry in entries.iter().filter(|e| select(&dead_letter(e))) {
                let filter = exact(&entry.key, true);
                count += act(journal.clone(), filter).await?;
            }
        }
        self.wake.notify_one();
        Ok(count)
    }

    /// Whether the journal still owes target `index` this key (reads must
    /// not fall back to it), or with no key any key of the entity in the tenant.
    pub(crate) async fn owes(
        &self,
        index: usize,
        entity: EntityKind,
        tenant: &str,
        key: Option<&str>,
    ) -> bool {
        for source in self.journal_stores() {
            let filter = EntryFilter {
                target: Some(self.targets[index].name.clone()),
                entity: Some(entity.singular().to_owned()),
                tenant_id: Some(tenant.to_owned()),
                record_key: key.map(str::to_owned),
                dead: None,
            };
            match self.journal(source).entries(&filter, 1).await {
                Ok(entries) if entries.is_empty() => {}
                // Unknown counts as owed: a fallback must never serve a removed record.
                _ => return true,
            }
        }
        false
    }

    /// Runs a compared read in the background if there is room (never on the write path).
    ///
    /// A difference on a key the journal still owes the secondary (`read`
    /// names it; a list names only its tenant) is replication lag, not a
    /// divergence: it is counted as `lagging`, without a warning, so that a
    /// secondary that is merely behind does not flood the logs.
    pub(crate) fn compare(
        self: &Arc<Self>,
        compare: BoxFuture<'static, Result<Option<Mismatch>>>,
        secondary: usize,
        read: ComparedRead,
    ) {
        let Ok(permit) = self.shadow.clone().try_acquire_owned() else {
            metrics::counter!("switchyard_passthrough_shadow_reads_total", "outcome" => "skipped")
                .increment(1);
            return;
        };
        let core = self.clone();
        tokio::spawn(async move {
            let outcome = match compare.await {
                Ok(Some(_))
                    if core
                        .owes(secondary, read.entity, &read.tenant, read.key.as_deref())
                        .await =>
                {
                    Err(Lagging)
                }
                outcome => Ok(outcome),
            };
            drop(permit);
            core.record_comparison(outcome, secondary, &read);
        });
    }

    fn record_comparison(
        &self,
        outcome: std::result::Result<Result<Option<Mismatch>>, Lagging>,
        secondary: usize,
        read: &ComparedRead,
    ) {
        let (entity, method) = (read.entity, read.method);
        let name = self.targets[secondary].name.clone();
        let mismatch = match outcome {
            Err(Lagging) => {
                self.compared.fetch_add(1, Ordering::Relaxed);
                self.lagging.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(secondary = %name, %entity, method, "shadow read differs on a key still being replicated");
                metrics::counter!(
                    "switchyard_passthrough_shadow_reads_total",
                    "secondary" => name,
                    "entity" => entity.singular(),
                    "method" => method,
                    "outcome" => "lagging"
                )
                .increment(1);
                return;
            }
            Ok(Ok(mismatch)) => mismatch,
            Ok(Err(error)) => {
                tracing::warn!(secondary = %name, %entity, %error, "shadow read failed");
                metrics::counter!("switchyard_passthrough_shadow_reads_total", "outcome" => "error").increment(1);
                return;
            }
        };
        self.compared.fetch_add(1, Ordering::Relaxed);
        let outcome = if mismatch.is_some() {
            "mismatch"
        } else {
            "match"
        };
        metrics::counter!(
            "switchyard_passthrough_shadow_reads_total",
            "secondary" => name.clone(),
            "entity" => entity.singular(),
            "method" => method,
            "outcome" => outcome
        )
        .increment(1);
        if let Some(mismatch) = mismatch {
            tracing::warn!(secondary = %name, %entity, method, key = %mismatch.key,
                differences = mismatch.differences.len(), "shadow read mismatch");
            self.mismatch_count.fetch_add(1, Ordering::Relaxed);
            if let Ok(mut log) = self.mismatches.lock() {
                if log.len() == MISMATCH_LOG {
                    log.pop_front();
                }
                log.push_back(mismatch);
            }
        }
    }

    pub(crate) fn mismatches(&self) -> Vec<Mismatch> {
        self.mismatches
            .lock()
            .map(|m| m.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// The status report: this process's counters, and the fleet's backlog read from the journals.
    pub(crate) async fn status(&self, secondaries: &[usize]) -> StatusReport {
        let mut journals = Vec::new();
        let mut journal_errors = Vec::new();
        for source in self.journal_stores() {
            match self.journal(source).backlog().await {
                Ok(backlog) => journals.push((source, backlog)),
                Err(error) => {
                    journal_errors.push(format!("{}: {error}", self.targets[source].name))
                }
            }
        }
        let owed_to = |name: &str| -> (u64, u64, Option<adapter_interfaces::Timestamp>) {
            let mut acc = (0, 0, None);
            for (_, backlog) in &journals {
                for b in backlog.iter().filter(|b: &&Backlog| b.target == name) {
                    acc.0 += b.pending;
                    acc.1 += b.dead;
                    acc.2 = match (acc.2, b.oldest_pending) {
                        (Some(a), Some(b)) => Some(std::cmp::min(a, b)),
                        (a, b) => a.or(b),
                    };
                }
            }
            acc
        };
        let secondary_status: Vec<SecondaryStatus> = secondaries
            .iter()
            .map(|&i| {
                let t = &self.targets[i];
                let (pending, dead, oldest) = owed_to(&t.name);
                SecondaryStatus {
                    name: t.name.clone(),
                    mode: match t.options.mode {
                        WriteMode::Blocking(_) => "blocking",
                        WriteMode::NonBlocking => "non_blocking",
                    },
                    pending,
                    dead_letters: dead,
                    oldest_pending: oldest,
                    retrying: t.retrying.load(Ordering::Acquire),
                }
            })
            .collect();
        let pending = secondary_status.iter().map(|s| s.pending).sum();
        let dead_letters = secondary_status.iter().map(|s| s.dead_letters).sum();
        let oldest = secondary_status
            .iter()
            .filter_map(|s| s.oldest_pending)
            .min();
        let retrying = secondary_status.iter().any(|s| s.retrying);
        let errors_by_entity = self.errors.lock().map(|e| e.clone()).unwrap_or_default();
        let mut recent_mismatches = self.mismatches();
        let skip = recent_mismatches.len().saturating_sub(20);
        recent_mismatches.drain(..skip);
        let (stages, generations) = match &self.routing {
            Routing::Fixed => (BTreeMap::new(), BTreeMap::new()),
            Routing::Staged(stages) => (
                stages.iter().map(|(k, c)| (*k, c.stage())).collect(),
                stages.iter().map(|(k, c)| (*k, c.generation())).collect(),
            ),
        };
        metrics::gauge!("switchyard_journal_pending").set(pending as f64);
        metrics::gauge!("switchyard_journal_dead_letters").set(dead_letters as f64);
        let age = oldest.map(|o| {
            (adapter_interfaces::Timestamp::now().as_millis() - o.as_millis()).max(0) as u64
        });
        metrics::gauge!("switchyard_journal_oldest_pending_seconds")
            .set(age.map_or(0.0, |ms| ms as f64 / 1000.0));
        StatusReport {
            status: if dead_letters > 0 || retrying || !journal_errors.is_empty() {
                Health::Errors
            } else {
                Health::Healthy
            },
            stages,
            stage_generations: generations,
            total_errors: errors_by_entity.values().sum(),
            errors_by_entity,
            pending,
            dead_letters,
            journal: JournalStatus {
                oldest_pending_age_ms: age,
                errors: journal_errors,
            },
            mismatches: self.mismatch_count.load(Ordering::Acquire),
            compared_reads: self.compared.load(Ordering::Acquire),
            lagging_reads: self.lagging.load(Ordering::Acquire),
            secondaries: secondary_status,
            operations: self.stats.operations(),
            dead_letter_sample: self.dead_letters(20).await.unwrap_or_default(),
            recent_mismatches,
        }
    }
}

impl Member for Core {
    fn drain(&self, side: Side, timeout: Duration) -> BoxFuture<'_, Result<Owed>> {
        Box::pin(async move {
            let source = match side {
                Side::New => 0,
                Side::Old => 1,
            };
            let deadline = Instant::now() + timeout;
            loop {
                let owed = owed_by(self.journal(source).as_ref(), side).await?;
                if owed.pending == 0 || Instant::now() >= deadline {
                    return Ok(owed);
                }
                if self.relay_pass().await == 0 {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        })
    }
}

/// An operator's view of a dead journal row.
/// What a compared read read: where to look for replication it still waits on.
pub(crate) struct ComparedRead {
    /// The entity read.
    pub(crate) entity: EntityKind,
    /// The read method (`get`, `list`, ...).
    pub(crate) method: &'static str,
    /// The tenant.
    pub(crate) tenant: String,
    /// The key read; `None` for a list.
    pub(crate) key: Option<String>,
}

/// A compared read whose difference is replication still owed.
struct Lagging;

fn dead_letter(entry: &JournalEntry) -> DeadLetter {
    DeadLetter {
        secondary: entry.key.target.clone(),
        entity: entry.key.subject.entity(),
        subject: entry.key.subject.entity_column(),
        tenant_id: entry.key.tenant_id.clone(),
        key: entry.key.subject.display_key(),
        error: entry.last_error.clone().unwrap_or_default(),
        attempts: entry.attempts,
        since: entry.since,
    }
}

/// The filter that selects exactly one row.
fn exact(key: &JournalKey, dead: bool) -> EntryFilter {
    EntryFilter {
        target: Some(key.target.clone()),
        entity: Some(key.subject.entity_column().to_owned()),
        tenant_id: Some(key.tenant_id.clone()),
        record_key: Some(key.subject.key_column()),
        dead: Some(dead),
    }
}
