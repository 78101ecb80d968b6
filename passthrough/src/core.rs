//! The machinery shared by every entity of a passthrough: one ordered queue
//! and worker per secondary, dead letters, mismatches and statistics.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use adapter_interfaces::{AdapterError, DataAdapters, EntityKind, Result, Timestamp};
use tokio::sync::{Notify, mpsc, oneshot};

use crate::config::{ReadPolicy, SecondaryFailure, SecondaryOptions, WriteMode};
use crate::entity::BoxFuture;
use crate::op::{Mismatch, Op, Outcome};
use crate::stage::{Member, Side};
use crate::stats::{DeadLetter, Event, Health, Role, SecondaryStatus, Stats, StatusReport};

/// How many recent mismatches are kept.
const MISMATCH_LOG: usize = 1000;
/// Stripes of the per-key ordering locks.
const STRIPES: usize = 256;

/// What a blocking caller is told about the first attempt.
pub(crate) type FirstAttempt = oneshot::Receiver<Result<()>>;

struct Envelope {
    op: Box<dyn Op>,
    done: Option<oneshot::Sender<Result<()>>>,
}

/// A key that has replicated writes not yet applied on a target.
type SettleKey = (EntityKind, String, String);

/// One store of the passthrough and, when it acts as a secondary, its queue.
pub(crate) struct Target {
    pub name: String,
    pub options: SecondaryOptions,
    sender: mpsc::Sender<Envelope>,
    state: Arc<TargetState>,
}

struct TargetState {
    index: usize,
    name: String,
    options: SecondaryOptions,
    pending: AtomicUsize,
    retrying: AtomicBool,
    /// Keys with writes queued or dead-lettered (kept only when reads fall back).
    unsettled: Option<Mutex<HashMap<SettleKey, u32>>>,
}

struct DeadEntry {
    report: DeadLetter,
    target: usize,
    op: Box<dyn Op>,
}

/// State the workers share with the passthrough.
struct Shared {
    stats: Stats,
    dead_letters: Mutex<Vec<DeadEntry>>,
    mismatches: Mutex<VecDeque<Mismatch>>,
    mismatch_count: AtomicU64,
    compared: AtomicU64,
    errors: Mutex<BTreeMap<EntityKind, u64>>,
    pending: AtomicUsize,
    idle: Notify,
    next_id: AtomicU64,
}

/// The shared core of one passthrough.
pub(crate) struct Core {
    pub targets: Vec<Target>,
    pub read_policy: ReadPolicy,
    shared: Arc<Shared>,
    stripes: Vec<tokio::sync::Mutex<()>>,
    samples: AtomicU64,
    /// Per-entity stages, filled for a migration passthrough (for the report).
    pub stages: Vec<(EntityKind, Arc<crate::stage::MigrationController>)>,
    /// Every store's bundle, by index: a reconciliation may reach entities
    /// other than the one written (a removal's cascade).
    pub bundles: Arc<Vec<DataAdapters>>,
}

impl Core {
    /// Builds the core and starts one worker per store on `runtime`.
    pub(crate) fn start(
        stores: Vec<(String, SecondaryOptions)>,
        bundles: Vec<DataAdapters>,
        read_policy: ReadPolicy,
        runtime: &tokio::runtime::Handle,
    ) -> Self {
        let names = stores.iter().map(|(name, _)| name.clone()).collect();
        let shared = Arc::new(Shared {
            stats: Stats::new(names),
            dead_letters: Mutex::new(Vec::new()),
            mismatches: Mutex::new(VecDeque::new()),
            mismatch_count: AtomicU64::new(0),
            compared: AtomicU64::new(0),
            errors: Mutex::new(BTreeMap::new()),
            pending: AtomicUsize::new(0),
            idle: Notify::new(),
            next_id: AtomicU64::new(1),
        });
        let targets = stores
            .into_iter()
            .enumerate()
            .map(|(index, (name, options))| {
                let (sender, receiver) = mpsc::channel(options.queue_capacity.max(1));
                let state = Arc::new(TargetState {
                    index,
                    name: name.clone(),
                    options: options.clone(),
                    pending: AtomicUsize::new(0),
                    retrying: AtomicBool::new(false),
                    unsettled: read_policy.fallback.then(|| Mutex::new(HashMap::new())),
                });
                runtime.spawn(worker(receiver, state.clone(), shared.clone()));
                Target {
                    name,
                    options,
                    sender,
                    state,
                }
            })
            .collect();
        Self {
            targets,
            read_policy,
            shared,
            stripes: (0..STRIPES).map(|_| tokio::sync::Mutex::new(())).collect(),
            samples: AtomicU64::new(0),
            stages: Vec::new(),
            bundles: Arc::new(bundles),
        }
    }

    /// The lock that orders writes of one key (primary write and enqueue happen under it).
    pub(crate) fn stripe(
        &self,
        entity: EntityKind,
        tenant_id: &str,
        key: &str,
    ) -> &tokio::sync::Mutex<()> {
        let mut hasher = DefaultHasher::new();
        (entity, tenant_id, key).hash(&mut hasher);
        let index = usize::try_from(hasher.finish() % STRIPES as u64).unwrap_or(0);
        &self.stripes[index]
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

    pub(crate) fn record_primary(
        &self,
        index: usize,
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
        self.shared
            .stats
            .record(index, Role::Primary, entity, method, event);
    }

    pub(crate) fn record_fallback(
        &self,
        index: usize,
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
        self.shared
            .stats
            .record(index, Role::Secondary, entity, method, event);
    }

    /// Queues a write for target `index`. With `wait`, returns the receiver of
    /// the first attempt's outcome. A full queue makes the caller wait up to
    /// the enqueue timeout, then the write is dead-lettered.
    pub(crate) async fn enqueue(
        &self,
        index: usize,
        op: Box<dyn Op>,
        wait: bool,
    ) -> Option<FirstAttempt> {
        let target = &self.targets[index];
        let (done, receiver) = if wait {
            let (tx, rx) = oneshot::channel();
            (Some(tx), Some(rx))
        } else {
            (None, None)
        };
        self.shared.track(&target.state, op.as_ref());
        let envelope = Envelope { op, done };
        let rejected = match target.sender.try_send(envelope) {
            Ok(()) => None,
            Err(mpsc::error::TrySendError::Full(envelope)) => {
                match target
                    .sender
                    .send_timeout(envelope, target.options.enqueue_timeout)
                    .await
                {
                    Ok(()) => None,
                    Err(mpsc::error::SendTimeoutError::Timeout(envelope))
                    | Err(mpsc::error::SendTimeoutError::Closed(envelope)) => Some(envelope),
                }
            }
            Err(mpsc::error::TrySendError::Closed(envelope)) => Some(envelope),
        };
        if let Some(envelope) = rejected {
            let error = AdapterError::Backend {
                message: format!(
                    "the replication queue of `{}` stayed full for {:?}",
                    target.name, target.options.enqueue_timeout
                ),
                source: None,
            };
            self.shared
                .fail(&target.state, envelope.op.as_ref(), &error, 0, true);
            self.shared
                .dead_letter(&target.state, envelope.op, error.to_string(), 0);
            if let Some(done) = envelope.done {
                let _ = done.send(Err(error));
            }
        }
        receiver
    }

    /// Queues a compared read if there is room (reads never wait, never dead-letter).
    pub(crate) fn enqueue_read(&self, index: usize, op: Box<dyn Op>) {
        let target = &self.targets[index];
        self.shared.pending.fetch_add(1, Ordering::AcqRel);
        if target.sender.try_send(Envelope { op, done: None }).is_err() {
            self.shared.settle_pending();
            metrics::counter!("switchyard_passthrough_shadow_reads_total", "outcome" => "skipped")
                .increment(1);
        }
    }

    /// Whether target `index` has writes of this key queued or dead-lettered.
    pub(crate) fn is_unsettled(
        &self,
        index: usize,
        entity: EntityKind,
        tenant_id: &str,
        key: &str,
    ) -> bool {
        let Some(unsettled) = &self.targets[index].state.unsettled else {
            return false;
        };
        unsettled
            .lock()
            .map(|map| map.contains_key(&(entity, tenant_id.to_owned(), key.to_owned())))
            .unwrap_or(true)
    }

    /// Waits until every queued operation is applied or dead-lettered.
    pub(crate) async fn flush(&self) {
        loop {
            let idle = self.shared.idle.notified();
            tokio::pin!(idle);
            idle.as_mut().enable();
            if self.shared.pending.load(Ordering::Acquire) == 0 {
                return;
            }
            idle.await;
        }
    }

    pub(crate) fn dead_letters(&self) -> Vec<DeadLetter> {
        self.shared
            .dead_letters
            .lock()
            .map(|list| list.iter().map(|e| e.report.clone()).collect())
            .unwrap_or_default()
    }

    pub(crate) fn dead_letter_count(&self, target: Option<usize>) -> usize {
        self.shared
            .dead_letters
            .lock()
            .map(|list| {
                list.iter()
                    .filter(|e| target.is_none_or(|t| t == e.target))
                    .count()
            })
            .unwrap_or(0)
    }

    /// Queues a resync of every dead letter (oldest first) that `select`
    /// accepts: each copies the source's current version of its keys, so a
    /// replay never brings back a stale record. Returns how many were queued.
    pub(crate) async fn replay(&self, select: impl Fn(&DeadLetter) -> bool) -> usize {
        let taken: Vec<DeadEntry> = match self.shared.dead_letters.lock() {
            Ok(mut list) => {
                let (take, keep): (Vec<_>, Vec<_>) =
                    list.drain(..).partition(|e| select(&e.report));
                *list = keep;
                take
            }
            Err(_) => Vec::new(),
        };
        let mut queued = 0;
        for entry in taken {
            let state = &self.targets[entry.target].state;
            self.shared.unsettle(state, entry.op.as_ref());
            if let Some(op) = entry.op.resync() {
                self.enqueue(entry.target, op, false).await;
                queued += 1;
            }
        }
        queued
    }

    /// Drops the dead letters `select` accepts; returns how many.
    pub(crate) fn discard(&self, select: impl Fn(&DeadLetter) -> bool) -> usize {
        let Ok(mut list) = self.shared.dead_letters.lock() else {
            return 0;
        };
        let before = list.len();
        let mut dropped = Vec::new();
        list.retain_mut(|e| {
            let keep = !select(&e.report);
            if !keep {
                dropped.push((
                    e.target,
                    e.op.keys(),
                    e.op.info().entity,
                    e.op.info().tenant_id.clone(),
                ));
            }
            keep
        });
        let count = before - list.len();
        drop(list);
        for (target, keys, entity, tenant) in dropped {
            self.shared
                .unsettle_keys(&self.targets[target].state, entity, &tenant, keys);
        }
        count
    }

    pub(crate) fn mismatches(&self) -> Vec<Mismatch> {
        self.shared
            .mismatches
            .lock()
            .map(|m| m.iter().cloned().collect())
            .unwrap_or_default()
    }

    pub(crate) fn status(&self, secondaries: &[usize]) -> StatusReport {
        let dead_letters = self.dead_letter_count(None);
        let secondary_status: Vec<SecondaryStatus> = secondaries
            .iter()
            .map(|&i| {
                let t = &self.targets[i];
                SecondaryStatus {
                    name: t.name.clone(),
                    mode: match t.options.mode {
                        WriteMode::Blocking(_) => "blocking",
                        WriteMode::NonBlocking => "non_blocking",
                    },
                    pending: t.state.pending.load(Ordering::Acquire),
                    dead_letters: self.dead_letter_count(Some(i)),
                    retrying: t.state.retrying.load(Ordering::Acquire),
                }
            })
            .collect();
        let retrying = self
            .targets
            .iter()
            .any(|t| t.state.retrying.load(Ordering::Acquire));
        let errors_by_entity = self
            .shared
            .errors
            .lock()
            .map(|e| e.clone())
            .unwrap_or_default();
        let mut recent_mismatches = self.mismatches();
        let skip = recent_mismatches.len().saturating_sub(20);
        recent_mismatches.drain(..skip);
        StatusReport {
            status: if dead_letters > 0 || retrying {
                Health::Errors
            } else {
                Health::Healthy
            },
            stages: self
                .stages
                .iter()
                .map(|(kind, c)| (*kind, c.stage()))
                .collect(),
            total_errors: errors_by_entity.values().sum(),
            errors_by_entity,
            pending: self
                .targets
                .iter()
                .map(|t| t.state.pending.load(Ordering::Acquire))
                .sum(),
            dead_letters,
            mismatches: self.shared.mismatch_count.load(Ordering::Acquire),
            compared_reads: self.shared.compared.load(Ordering::Acquire),
            secondaries: secondary_status,
            operations: self.shared.stats.operations(),
            dead_letter_sample: self.dead_letters().into_iter().take(20).collect(),
            recent_mismatches,
        }
    }
}

impl Member for Core {
    fn flush(&self) -> BoxFuture<'_, ()> {
        Box::pin(Core::flush(self))
    }

    fn dead_letters_for(&self, side: Side) -> usize {
        self.dead_letter_count(Some(side.index()))
    }
}

impl Shared {
    fn track(&self, target: &TargetState, op: &dyn Op) {
        self.pending.fetch_add(1, Ordering::AcqRel);
        target.pending.fetch_add(1, Ordering::AcqRel);
        let info = op.info();
        self.stats.record(
            target.index,
            Role::Secondary,
            info.entity,
            info.method,
            Event::Queued,
        );
        if let Some(unsettled) = &target.unsettled
            && let Ok(mut map) = unsettled.lock()
        {
            for key in op.keys() {
                *map.entry((info.entity, info.tenant_id.clone(), key))
                    .or_default() += 1;
            }
        }
    }

    /// One queued operation is done (applied, or dead-lettered).
    fn settle(&self, target: &TargetState, op: &dyn Op) {
        self.unsettle(target, op);
        let info = op.info();
        self.settle_counts(target, info.entity, info.method);
    }

    fn settle_counts(&self, target: &TargetState, entity: EntityKind, method: &'static str) {
        self.stats.record(
            target.index,
            Role::Secondary,
            entity,
            method,
            Event::Settled,
        );
        target.pending.fetch_sub(1, Ordering::AcqRel);
        self.settle_pending();
    }

    fn settle_pending(&self) {
        if self.pending.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.idle.notify_waiters();
        }
    }

    fn unsettle(&self, target: &TargetState, op: &dyn Op) {
        let info = op.info();
        self.unsettle_keys(target, info.entity, &info.tenant_id, op.keys());
    }

    fn unsettle_keys(
        &self,
        target: &TargetState,
        entity: EntityKind,
        tenant_id: &str,
        keys: Vec<String>,
    ) {
        let Some(unsettled) = &target.unsettled else {
            return;
        };
        let Ok(mut map) = unsettled.lock() else {
            return;
        };
        for key in keys {
            let slot = (entity, tenant_id.to_owned(), key);
            if let Some(count) = map.get_mut(&slot) {
                *count -= 1;
                if *count == 0 {
                    map.remove(&slot);
                }
            }
        }
    }

    /// Reports a failed attempt: statistics, log, `on_error`.
    fn fail(
        &self,
        target: &TargetState,
        op: &dyn Op,
        error: &AdapterError,
        attempt: u32,
        dead_lettered: bool,
    ) {
        let info = op.info();
        if let Ok(mut errors) = self.errors.lock() {
            *errors.entry(info.entity).or_default() += 1;
        }
        tracing::warn!(
            secondary = %target.name,
            entity = %info.entity,
            method = info.method,
            tenant_id = %info.tenant_id,
            key = %info.key,
            attempt,
            dead_lettered,
            %error,
            "replicated write failed"
        );
        if let Some(on_error) = &target.options.on_error {
            on_error(&SecondaryFailure {
                secondary: &target.name,
                entity: info.entity,
                method: info.method,
                tenant_id: &info.tenant_id,
                key: &info.key,
                error,
                attempt,
                dead_lettered,
            });
        }
    }

    fn dead_letter(&self, target: &TargetState, op: Box<dyn Op>, error: String, attempts: u32) {
        let info = op.info().clone();
        self.stats.record(
            target.index,
            Role::Secondary,
            info.entity,
            info.method,
            Event::DeadLettered,
        );
        let report = DeadLetter {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            secondary: target.name.clone(),
            entity: info.entity,
            method: info.method,
            tenant_id: info.tenant_id,
            key: info.key,
            error,
            attempts,
            at: Timestamp::now(),
        };
        if let Ok(mut list) = self.dead_letters.lock() {
            list.push(DeadEntry {
                report,
                target: target.index,
                op,
            });
        }
        // Settled after parking, so a flush that wakes up sees the dead letter.
        self.settle_counts(target, info.entity, info.method);
    }

    fn record_mismatch(&self, mismatch: Option<Mismatch>, target: &TargetState, op: &dyn Op) {
        self.compared.fetch_add(1, Ordering::Relaxed);
        let info = op.info();
        let outcome = if mismatch.is_some() {
            "mismatch"
        } else {
            "match"
        };
        metrics::counter!(
            "switchyard_passthrough_shadow_reads_total",
            "secondary" => target.name.clone(),
            "entity" => info.entity.singular(),
            "method" => info.method,
            "outcome" => outcome
        )
        .increment(1);
        if let Some(mismatch) = mismatch {
            tracing::warn!(secondary = %target.name, entity = %info.entity, method = info.method,
                key = %info.key, differences = mismatch.differences.len(), "shadow read mismatch");
            self.mismatch_count.fetch_add(1, Ordering::Relaxed);
            if let Ok(mut log) = self.mismatches.lock() {
                if log.len() == MISMATCH_LOG {
                    log.pop_front();
                }
                log.push_back(mismatch);
            }
        }
    }
}

/// Applies a secondary's queue in order; a failed write is retried with
/// backoff before the next one starts, so order holds (head-of-line).
///
/// The first attempt applies the write as queued (the primary's record at
/// that point of its order). Every later attempt applies the write's
/// reconciliation instead ([`Op::resync`]): by then the primary may have
/// moved on (the record changed, was removed, or its tenant was removed
/// with it), and a snapshot that can no longer be written (a log under a
/// tenant that is gone) would fail until it is dead-lettered. Copying the
/// primary's current state of the keys ahead of the queue is safe: every
/// later primary write of them is queued behind this one and is an exact
/// copy of a later state, so the target still ends at the primary's.
async fn worker(
    mut receiver: mpsc::Receiver<Envelope>,
    state: Arc<TargetState>,
    shared: Arc<Shared>,
) {
    while let Some(Envelope { op, mut done }) = receiver.recv().await {
        let info = op.info().clone();
        if op.is_read() {
            match op.apply().await {
                Ok(Outcome::Compared(mismatch)) => {
                    shared.record_mismatch(mismatch, &state, op.as_ref())
                }
                Ok(Outcome::Applied) => {}
                Err(error) => {
                    tracing::warn!(secondary = %state.name, entity = %info.entity, %error, "shadow read failed");
                    metrics::counter!("switchyard_passthrough_shadow_reads_total", "outcome" => "error").increment(1);
                }
            }
            shared.settle_pending();
            continue;
        }
        let retry = state.options.retry;
        let mut attempt = 0;
        // Built on the first failure; the dead letter keeps the original
        // write (a replay derives its own reconciliation from it).
        let mut reconcile: Option<Box<dyn Op>> = None;
        loop {
            attempt += 1;
            let started = Instant::now();
            if attempt == 2 {
                reconcile = op.resync();
            }
            let applying = reconcile.as_deref().unwrap_or(op.as_ref());
            match applying.apply().await {
                Ok(_) => {
                    shared.stats.record(
                        state.index,
                        Role::Secondary,
                        info.entity,
                        info.method,
                        Event::Ok(started.elapsed()),
                    );
                    if let Some(done) = done.take() {
                        let _ = done.send(Ok(()));
                    }
                    state.retrying.store(false, Ordering::Release);
                    shared.settle(&state, op.as_ref());
                    break;
                }
                Err(error) => {
                    shared.stats.record(
                        state.index,
                        Role::Secondary,
                        info.entity,
                        info.method,
                        Event::Failed(started.elapsed()),
                    );
                    let give_up = attempt >= retry.max_attempts.max(1);
                    shared.fail(&state, op.as_ref(), &error, attempt, give_up);
                    let message = error.to_string();
                    if let Some(done) = done.take() {
                        let _ = done.send(Err(error));
                    }
                    if give_up {
                        state.retrying.store(false, Ordering::Release);
                        shared.dead_letter(&state, op, message, attempt);
                        break;
                    }
                    state.retrying.store(true, Ordering::Release);
                    shared.stats.record(
                        state.index,
                        Role::Secondary,
                        info.entity,
                        info.method,
                        Event::Retried,
                    );
                    tokio::time::sleep(retry.backoff(attempt)).await;
                }
            }
        }
    }
}
