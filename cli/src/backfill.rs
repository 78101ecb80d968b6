//! Backfill: copies every record of a source store into a target store,
//! exactly (ids and timestamps), in dependency order, a keyset page at a
//! time, while the application may go on writing through a passthrough.
//!
//! For each entity in [`EntityKind::ALL`] order (tenants first, users before
//! their sessions and passwords), and for each tenant of the source in key
//! order, the source is read in keyset pages of `batch_size` records and the
//! target's records of the same key range are read beside them. The keys
//! that differ (and with [`BackfillOptions::prune`], the keys only the
//! target has) are reconciled by [`passthrough::LiveCopy`]: written in one
//! batch, then read again from the source; a key the application changed
//! or removed meanwhile is copied again under its claim in the source's
//! replication journal, as a relay copies it. That is what makes a backfill
//! safe beside live dual-writes, from this process or any other: it never
//! leaves a record older than the one replication wrote, and never brings
//! back one removed meanwhile (the guarantee and its reasons are in the
//! `live_copy` module docs). On a quiet store it costs one more read of the
//! source per batch.
//!
//! A rerun copies nothing twice and counts copied and skipped records. A
//! record the target refuses goes to the errors file (its key, a code's as
//! a prefix, and the reason; never its values) and the run goes on. A batch that fails at the driver stops the run (the
//! target is down, not the data bad), and a rerun starts at that batch.
//! After every batch the position is saved in a checkpoint (written only
//! for its owner: its cursor holds a whole key), so that a run killed at any
//! moment continues where it was.
//!
//! With [`BackfillOptions::jobs`] above 1, up to that many batches are
//! compared and written at once: of several tenants of one entity (each
//! scope exactly as above, with its own keyset cursor) and of one tenant's
//! successive pages, so that a store with a single tenant copies as fast as
//! one with many. Batches share no key (a password's user may span two
//! pages, and the live copy's re-read undoes a demotion either made of the
//! other's, as it undoes one made by a relay). A scope's batches reach the
//! checkpoint in page order. Entities still go one after the other: a
//! session needs its user on the target. The checkpoint holds every scope in
//! progress with its cursor, and a scope leaves it in the same write as its
//! last batch; it is written after every batch of any scope (one writer, a
//! save that a later one already covers is skipped). A batch's counts, its
//! cursor and the length of the errors file with its failures change in
//! one step under one lock, so a resumed run counts every record once and
//! lists every failure once, however the scopes interleaved before the kill.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use futures::StreamExt;
use futures::stream::FuturesUnordered;

use adapter_interfaces::{AdapterError, DataAdapters, EntityKind, ErrorKind, ListParams};
use passthrough::Side;
use passthrough::live_copy::{KeyFailure, LiveCopy, LiveCopyError, ReconcileOptions, SourceRead};
use serde::Serialize;

use crate::checkpoint::Checkpoint;
use crate::entity::{Entity, GLOBAL, KeysetScan, count};
use crate::progress::Progress;
use crate::report::{BackfillReport, Counts, EntityBackfill};

/// Default records per batch.
pub const DEFAULT_BATCH_SIZE: u32 = 500;

/// How to backfill.
#[derive(Debug, Clone)]
pub struct BackfillOptions {
    /// Records per page and per write (1 to 1000).
    pub batch_size: u32,
    /// Compare and report only; write nothing (no checkpoint either).
    pub dry_run: bool,
    /// The checkpoint file; `None` runs without one.
    pub checkpoint: Option<PathBuf>,
    /// Ignore an existing checkpoint and start over.
    pub restart: bool,
    /// Where failed records go, one JSON line each; `None`: only counted and logged.
    pub errors: Option<PathBuf>,
    /// Identifies the source and target pair in the checkpoint.
    pub fingerprint: String,
    /// The source, masked, for the checkpoint.
    pub source_name: String,
    /// The target, masked, for the checkpoint.
    pub target_name: String,
    /// Stop with [`BackfillError::Interrupted`] after this many batches (tests of resumption).
    pub stop_after_batches: Option<u64>,
    /// Also remove the target's records that the source lacks, in the
    /// tenants copied (and tenants the source lacks, with everything in them).
    pub prune: bool,
    /// How the copy keeps out of replication's way; `None` copies without
    /// coordination, which is correct only while nothing writes the stores.
    pub coordination: Option<Coordination>,
    /// Batches compared and written at once, of several tenants of an
    /// entity and of one tenant's pages (at least 1; 1 copies one batch at
    /// a time, the tenants in key order).
    pub jobs: usize,
}

/// How a backfill coordinates with live replication through the source's
/// replication journal (the journal in the source store's database).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coordination {
    /// The target's name in that journal: `new` or `old` for a migration
    /// (the side opposite the primary), a secondary's name otherwise.
    pub target_name: String,
    /// Stop if the migration stage stops making this side the primary.
    pub source_side: Option<Side>,
}

impl Coordination {
    /// A migration's backfill from its primary `source` to the other side.
    pub fn migration(source: Side) -> Self {
        let target = match source {
            Side::Old => Side::New,
            Side::New => Side::Old,
        };
        Self {
            target_name: target.name().to_owned(),
            source_side: Some(source),
        }
    }
}

impl Default for BackfillOptions {
    fn default() -> Self {
        Self {
            batch_size: DEFAULT_BATCH_SIZE,
            dry_run: false,
            checkpoint: None,
            restart: false,
            errors: None,
            fingerprint: String::new(),
            source_name: "source".into(),
            target_name: "target".into(),
            stop_after_batches: None,
            prune: false,
            coordination: Some(Coordination::migration(Side::Old)),
            jobs: 1,
        }
    }
}

/// The copier that writes `target` from `source`, coordinated through the
/// source's journal when `coordination` says so.
pub(crate) fn live_copy(
    source: &DataAdapters,
    target: &DataAdapters,
    coordination: Option<&Coordination>,
) -> LiveCopy {
    let Some(coordination) = coordination else {
        return LiveCopy::offline(source.clone(), target.clone());
    };
    let copy = LiveCopy::new(
        source.clone(),
        target.clone(),
        source.journal.clone(),
        coordination.target_name.clone(),
    );
    match coordination.source_side {
        Some(side) => copy.expect_primary(side),
        None => copy,
    }
}

/// Why a backfill stopped.
#[derive(Debug, thiserror::Error)]
pub enum BackfillError {
    /// Reading the source failed.
    #[error("reading {entity} records from the source failed: {source}")]
    Source {
        /// The entity.
        entity: EntityKind,
        /// The adapter's error.
        source: AdapterError,
    },
    /// Reading the target failed, or the target rejected a whole batch as unreachable.
    #[error("the target failed on {entity} records: {source}")]
    Target {
        /// The entity.
        entity: EntityKind,
        /// The adapter's error.
        source: AdapterError,
    },
    /// The checkpoint or errors file could not be used.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The migration stage moved while copying (see the message).
    #[error("{0}")]
    Stage(String),
    /// Stopped on purpose by [`BackfillOptions::stop_after_batches`].
    #[error("stopped after {0} batches as asked")]
    Interrupted(u64),
}

/// One failed record, as a line of the errors file. Never holds a record's values.
#[derive(Debug, Serialize)]
struct FailedRecord<'a> {
    entity: EntityKind,
    tenant: &'a str,
    key: &'a str,
    error_kind: ErrorKind,
    error: String,
}

/// Copies every entity from `source` to `target`.
pub async fn backfill(
    source: &DataAdapters,
    target: &DataAdapters,
    options: &BackfillOptions,
    progress: &dyn Progress,
) -> Result<BackfillReport, BackfillError> {
    let started = Instant::now();
    let checkpoint_path = options.checkpoint.as_ref().filter(|_| !options.dry_run);
    let mut resumed = None;
    if let Some(path) = checkpoint_path {
        if options.restart {
            Checkpoint::remove(path)?;
        } else {
            resumed = Checkpoint::load(path, &options.fingerprint)?;
        }
    }
    let is_resumed = resumed.is_some();
    let checkpoint = resumed.unwrap_or_else(|| {
        Checkpoint::start(
            options.fingerprint.clone(),
            options.source_name.clone(),
            options.target_name.clone(),
        )
    });
    if is_resumed {
        tracing::info!(
            entity = %checkpoint.entity,
            started = ?checkpoint.started,
            in_progress = checkpoint.in_progress.len(),
            "resuming from checkpoint"
        );
    }
    let errors = match (&options.errors, options.dry_run) {
        (Some(path), false) => {
            // Only the file the checkpoint measured is cut back.
            let keep = checkpoint
                .errors_bytes
                .filter(|_| checkpoint.errors_file.as_ref() == Some(path));
            Some(ErrorsFile::open(path, is_resumed, keep)?)
        }
        _ => None,
    };
    let copy = live_copy(source, target, options.coordination.as_ref());
    let run = Run {
        source,
        target,
        copy,
        options,
        progress,
        jobs: options.jobs.max(1),
        slots: tokio::sync::Semaphore::new(options.jobs.max(1)),
        checkpoint_path: checkpoint_path.cloned(),
        state: Mutex::new(Shared {
            checkpoint,
            errors,
            batches: 0,
            processed: 0,
            version: 0,
        }),
        saved: tokio::sync::Mutex::new(0),
    };
    let mut report = BackfillReport {
        dry_run: options.dry_run,
        resumed: is_resumed,
        ..Default::default()
    };
    let resumed_entity = run.state().checkpoint.entity;
    let first = EntityKind::ALL
        .iter()
        .position(|k| *k == resumed_entity)
        .unwrap_or(0);
    // Entities a previous run finished: their counts, nothing processed now.
    for kind in EntityKind::ALL.into_iter().take(first) {
        report.entities.push(EntityBackfill {
            entity: kind,
            counts: run.counts(kind),
            processed: 0,
            seconds: 0.0,
        });
    }
    // One entity after the other (children need their parents on the
    // target); the tenants of one entity concurrently, up to `jobs`.
    for kind in EntityKind::ALL.into_iter().skip(first) {
        {
            let mut state = run.state();
            let checkpoint = &mut state.checkpoint;
            if kind != checkpoint.entity {
                checkpoint.entity = kind;
                checkpoint.tenant_page = None;
                checkpoint.started = None;
                checkpoint.in_progress.clear();
            }
            state.processed = 0;
        }
        let entity_started = Instant::now();
        crate::dispatch!(kind, R => run.copy_entity::<R>().await)?;
        let counts = run.counts(kind);
        let seconds = entity_started.elapsed().as_secs_f64();
        let entity = EntityBackfill {
            entity: kind,
            counts,
            processed: run.state().processed,
            seconds,
        };
        progress.end(
            kind,
            &format!(
                "{} {}, {} skipped, {} failed ({:.0} rows/s)",
                counts.copied,
                if options.dry_run { "to copy" } else { "copied" },
                counts.skipped,
                counts.failed,
                entity.rows_per_second()
            ),
        );
        report.entities.push(entity);
    }
    if let Some(errors) = &mut run.state().errors {
        errors.writer.flush()?;
    }
    if let Some(path) = &run.checkpoint_path {
        Checkpoint::remove(path)?;
    }
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// The errors file, and how long it is (what the checkpoint records).
struct ErrorsFile {
    writer: BufWriter<File>,
    bytes: u64,
}

impl ErrorsFile {
    /// Opens the errors file: empty for a new run; for a resumed one, cut
    /// back to the length its checkpoint recorded (the lines after it are
    /// failures of batches the checkpoint does not count, which this run
    /// copies, and lists, again).
    fn open(path: &PathBuf, resumed: bool, keep: Option<u64>) -> std::io::Result<Self> {
        let file = OpenOptions::new()
            .create(true)
            .write(true)
            .append(resumed)
            .truncate(!resumed)
            .open(path)?;
        let mut bytes = file.metadata()?.len();
        if let Some(keep) = keep.filter(|keep| *keep < bytes) {
            file.set_len(keep)?;
            bytes = keep;
        }
        Ok(Self {
            writer: BufWriter::new(file),
            bytes,
        })
    }

    fn write_line(&mut self, line: &FailedRecord<'_>) -> std::io::Result<()> {
        let mut bytes = serde_json::to_vec(line).map_err(std::io::Error::from)?;
        bytes.push(b'\n');
        self.writer.write_all(&bytes)?;
        self.bytes += bytes.len() as u64;
        Ok(())
    }
}

/// What the concurrent scopes of a run share, behind one lock: the
/// checkpoint, the errors file and the counters.
struct Shared {
    checkpoint: Checkpoint,
    errors: Option<ErrorsFile>,
    /// Batches done by this run (all scopes).
    batches: u64,
    /// Records processed by this run in the current entity.
    processed: u64,
    /// Bumped by every change of `checkpoint`: which state a save wrote.
    version: u64,
}

struct Run<'a> {
    source: &'a DataAdapters,
    target: &'a DataAdapters,
    copy: LiveCopy,
    options: &'a BackfillOptions,
    progress: &'a dyn Progress,
    /// Scopes copied at once, and batches of one scope at once.
    jobs: usize,
    /// One per batch being compared and written, `jobs` in all: however
    /// many scopes run, the run writes at most `jobs` batches at once.
    slots: tokio::sync::Semaphore,
    checkpoint_path: Option<PathBuf>,
    state: Mutex<Shared>,
    /// Held while the checkpoint is written (one writer: two would share
    /// its temporary file); holds the version last written.
    saved: tokio::sync::Mutex<u64>,
}

/// The tenants of the source in key order, a page at a time, after the
/// last one a previous run started.
struct TenantFeed {
    /// The cursor of the page to fetch next.
    next_page: Option<String>,
    /// The cursor of the page `buffer` came from.
    page: Option<String>,
    buffer: VecDeque<String>,
    last: bool,
    after: Option<String>,
}

impl TenantFeed {
    fn new(page: Option<String>, after: Option<String>) -> Self {
        Self {
            next_page: page,
            page: None,
            buffer: VecDeque::new(),
            last: false,
            after,
        }
    }

    /// The next tenant to start, with the cursor of its page.
    async fn next(
        &mut self,
        source: &DataAdapters,
        per_page: u32,
    ) -> Result<Option<(String, Option<String>)>, AdapterError> {
        loop {
            if let Some(id) = self.buffer.pop_front() {
                return Ok(Some((id, self.page.clone())));
            }
            if self.last {
                return Ok(None);
            }
            let mut params = ListParams::default().with_per_page(per_page);
            params.from = self.next_page.take();
            let listed = source.tenants.list(&params).await?;
            self.page = params.from;
            let after = self.after.as_deref();
            self.buffer = listed
                .items
                .into_iter()
                .map(|tenant| tenant.id)
                .filter(|id| after.is_none_or(|after| id.as_bytes() > after.as_bytes()))
                .collect();
            match listed.next {
                Some(next) => self.next_page = Some(next),
                None => self.last = true,
            }
        }
    }
}

impl Run<'_> {
    fn state(&self) -> MutexGuard<'_, Shared> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn counts(&self, kind: EntityKind) -> Counts {
        self.state()
            .checkpoint
            .counts
            .get(&kind)
            .copied()
            .unwrap_or_default()
    }

    fn source_error(kind: EntityKind) -> impl FnOnce(AdapterError) -> BackfillError {
        move |source| BackfillError::Source {
            entity: kind,
            source,
        }
    }

    async fn copy_entity<R: Entity>(&self) -> Result<(), BackfillError> {
        let total = self
            .count_source::<R>()
            .await
            .map_err(Self::source_error(R::KIND))?;
        let done = self.counts(R::KIND).total();
        self.progress.begin(R::KIND, Some(total.max(done)), done);
        if R::KIND == EntityKind::Tenant {
            let from = {
                let mut state = self.state();
                let checkpoint = &mut state.checkpoint;
                if checkpoint.started.is_some() && !checkpoint.in_progress.contains_key(GLOBAL) {
                    // Finished before the previous run stopped.
                    return Ok(());
                }
                checkpoint.started = Some(GLOBAL.to_owned());
                checkpoint
                    .in_progress
                    .entry(GLOBAL.to_owned())
                    .or_default()
                    .clone()
            };
            return self.copy_scope::<R>(GLOBAL, from).await;
        }
        // The scopes a previous run left unfinished go first, each at its
        // cursor; then the tenants after the last one it started.
        let (mut resumed, mut feed) = {
            let state = self.state();
            let checkpoint = &state.checkpoint;
            let resumed: VecDeque<(String, Option<String>)> = checkpoint
                .in_progress
                .iter()
                .map(|(scope, cursor)| (scope.clone(), cursor.clone()))
                .collect();
            let feed = TenantFeed::new(checkpoint.tenant_page.clone(), checkpoint.started.clone());
            (resumed, feed)
        };
        let mut running = FuturesUnordered::new();
        loop {
            while running.len() < self.jobs {
                if let Some((scope, from)) = resumed.pop_front() {
                    running.push(self.copy_owned_scope::<R>(scope, from));
                    continue;
                }
                let Some((tenant, page)) = feed
                    .next(self.source, self.options.batch_size)
                    .await
                    .map_err(Self::source_error(EntityKind::Tenant))?
                else {
                    break;
                };
                {
                    // Saved with the next batch of any scope: a run killed
                    // before that has not started this tenant.
                    let mut state = self.state();
                    let checkpoint = &mut state.checkpoint;
                    checkpoint.tenant_page = page;
                    checkpoint.started = Some(tenant.clone());
                    checkpoint.in_progress.insert(tenant.clone(), None);
                    state.version += 1;
                }
                running.push(self.copy_owned_scope::<R>(tenant, None));
            }
            // The first failure stops the run: the scopes still running are
            // dropped mid-batch, and their batches are not in the checkpoint.
            match running.next().await {
                Some(result) => result?,
                None => return Ok(()),
            }
        }
    }

    /// The number of source records of `R` (summed over tenants).
    async fn count_source<R: Entity>(&self) -> Result<u64, AdapterError> {
        if R::KIND == EntityKind::Tenant {
            return count::<R>(self.source, GLOBAL).await;
        }
        let mut total = 0;
        let mut tenants = KeysetScan::<adapter_interfaces::Tenant>::new(
            self.source,
            GLOBAL,
            self.options.batch_size,
            None,
        );
        while let Some((page, _)) = tenants.next_page().await? {
            for tenant in page {
                total += count::<R>(self.source, &tenant.id).await?;
            }
        }
        Ok(total)
    }

    /// [`Self::copy_scope`] of an owned scope: one future type for every
    /// scope of an entity, so that they run side by side.
    async fn copy_owned_scope<R: Entity>(
        &self,
        scope: String,
        from: Option<String>,
    ) -> Result<(), BackfillError> {
        self.copy_scope::<R>(&scope, from).await
    }

    async fn copy_scope<R: Entity>(
        &self,
        scope: &str,
        from: Option<String>,
    ) -> Result<(), BackfillError> {
        // A first copy of the scope: the target holds nothing from here on,
        // so every page's target range is known empty without reading it.
        // That read counts as the target's side of every page (the live
        // copy's contract allows a read from a while ago): a record the
        // application writes to the target meanwhile is overwritten with
        // what the source held and then copied again under its claim, as
        // any record changed after a read is. Prune must see the target's
        // extras, so it reads every range.
        let target_empty = !self.options.prune
            && self
                .target_holds_nothing_from::<R>(scope, from.clone())
                .await
                .map_err(|source| BackfillError::Target {
                    entity: R::KIND,
                    source,
                })?;
        let scan = KeysetScan::<R>::new(self.source, scope, self.options.batch_size, from.clone());
        // Pages are read one after the other (each starts at the previous
        // one's cursor), one page ahead of the batches, while up to `jobs`
        // batches of the scope are compared and written at once (each
        // holding one of the run's `jobs` slots, shared by every scope).
        // Their results are taken in page order: a batch reaches the
        // checkpoint only after every batch before it, so the scope's
        // cursor never passes a batch that is not done, and a batch done
        // ahead of an unfinished one is compared again (and found
        // identical) by a resumed run, not counted twice.
        // A page waits for its slot before it joins the batches in progress:
        // memory holds, per scope, the page read ahead and the one waiting,
        // besides the `jobs` pages being written in all.
        let (pages, pages_read) = futures::channel::mpsc::channel(0);
        let read = read_pages(scan, from, pages);
        let write = async {
            let batches = pages_read
                // The slots are never closed: `ok()` is always `Some`.
                .then(|page| async move { (page, self.slots.acquire().await.ok()) })
                .map(|(page, slot)| async move {
                    let _slot = slot;
                    let (page_from, items, next) = page.map_err(Self::source_error(R::KIND))?;
                    let n = items.len() as u64;
                    let last_page = next.is_none();
                    let (counts, failures) = self
                        .copy_batch::<R>(scope, page_from, items, last_page, target_empty)
                        .await?;
                    Ok::<_, BackfillError>((n, counts, failures, next))
                })
                .buffered(self.jobs);
            let mut batches = std::pin::pin!(batches);
            // A failed read surfaces only after the batches before it are
            // in the checkpoint: a rerun goes on from there.
            while let Some(done) = batches.next().await {
                let (n, counts, failures, next) = done?;
                let (version, stop) = self.batch_done::<R>(scope, n, counts, &failures, next)?;
                self.save(version).await?;
                if let Some(batches) = stop {
                    return Err(BackfillError::Interrupted(batches));
                }
            }
            Ok(())
        };
        // Dropping `write` (a failure) drops the receiver: the reader's next
        // send fails and it stops.
        let ((), written) = tokio::join!(read, write);
        written
    }

    /// Records a batch of `scope`, in one step under the lock: its failures
    /// in the errors file, its counts, and the scope's new cursor (`next`;
    /// `None`: the scope is finished). Returns the state's version, and the
    /// batches done when [`BackfillOptions::stop_after_batches`] is reached.
    fn batch_done<R: Entity>(
        &self,
        scope: &str,
        n: u64,
        counts: Counts,
        failures: &[KeyFailure],
        next: Option<String>,
    ) -> Result<(u64, Option<u64>), BackfillError> {
        let mut state = self.state();
        let state = &mut *state;
        for failure in failures {
            tracing::warn!(entity = %R::KIND, tenant = scope, key = %failure.key, error = %failure.error, "record not copied");
            if let Some(errors) = &mut state.errors {
                errors.write_line(&FailedRecord {
                    entity: R::KIND,
                    tenant: scope,
                    key: &failure.key,
                    error_kind: failure.kind,
                    error: failure.error.clone(),
                })?;
            }
        }
        let checkpoint = &mut state.checkpoint;
        checkpoint.errors_bytes = state.errors.as_ref().map(|errors| errors.bytes);
        checkpoint.errors_file = self
            .options
            .errors
            .clone()
            .filter(|_| state.errors.is_some());
        checkpoint.counts.entry(R::KIND).or_default().add(counts);
        match next {
            Some(cursor) => {
                checkpoint
                    .in_progress
                    .insert(scope.to_owned(), Some(cursor));
            }
            // Finished in the same write as its last batch: a resumed run
            // never copies a finished scope again.
            None => {
                checkpoint.in_progress.remove(scope);
            }
        }
        state.processed += n;
        self.progress.advance(R::KIND, n);
        state.batches += 1;
        state.version += 1;
        let stop = self
            .options
            .stop_after_batches
            .filter(|stop| state.batches >= *stop)
            .map(|_| state.batches);
        Ok((state.version, stop))
    }

    /// Writes the checkpoint as of `version` or later, unless a later one is
    /// written already (the scopes' saves coalesce: one file, one writer).
    async fn save(&self, version: u64) -> Result<(), BackfillError> {
        let Some(path) = &self.checkpoint_path else {
            return Ok(());
        };
        let mut saved = self.saved.lock().await;
        if *saved >= version {
            return Ok(());
        }
        let (checkpoint, version) = {
            let mut state = self.state();
            if let Some(errors) = &mut state.errors {
                // Failures of a batch reach the disk before the checkpoint moves past it.
                errors.writer.flush()?;
            }
            (state.checkpoint.clone(), state.version)
        };
        // The fsyncs of a save would block a runtime thread.
        let path = path.clone();
        tokio::task::spawn_blocking(move || checkpoint.save(&path))
            .await
            .map_err(std::io::Error::other)??;
        *saved = version;
        Ok(())
    }

    /// Reconciles one source page with the target's records of the same
    /// key range (none when `target_empty`: read already), under the
    /// journal's claims (see [`passthrough::live_copy`]). Returns its counts
    /// and the records the target refused.
    async fn copy_batch<R: Entity>(
        &self,
        scope: &str,
        page_from: Option<String>,
        items: Vec<R>,
        last_page: bool,
        target_empty: bool,
    ) -> Result<(Counts, Vec<KeyFailure>), BackfillError> {
        // The range ends at the page's last key, or with the scope on its
        // last page (where the target's records beyond the source's last
        // key are the range's too: prune sees them).
        let through = if last_page {
            None
        } else {
            items.last().map(|r| r.key().to_owned())
        };
        if items.is_empty() && !self.options.prune {
            return Ok((Counts::default(), Vec::new()));
        }
        let target_error = |source| BackfillError::Target {
            entity: R::KIND,
            source,
        };
        let existing = if target_empty {
            Vec::new()
        } else {
            self.target_range::<R>(scope, page_from.clone(), through.as_deref())
                .await
                .map_err(target_error)?
        };
        let options = ReconcileOptions {
            prune: self.options.prune,
            dry_run: self.options.dry_run,
        };
        let read = SourceRead::Range {
            from: page_from,
            through,
        };
        let done = self
            .copy
            .reconcile::<R>(scope, read, &items, existing, options)
            .await
            .map_err(|error| match error {
                LiveCopyError::Source(source) | LiveCopyError::Journal(source) => {
                    BackfillError::Source {
                        entity: R::KIND,
                        source,
                    }
                }
                LiveCopyError::Target(source) => target_error(source),
                moved @ LiveCopyError::StageMoved { .. } => BackfillError::Stage(moved.to_string()),
            })?;
        let counts = Counts {
            copied: done.copied,
            skipped: done.unchanged,
            failed: done.failed.len() as u64,
            removed: done.removed,
            deferred: done.deferred,
        };
        Ok((counts, done.failed))
    }

    /// The target's records of the key range that starts at the cursor
    /// `from` and ends at `through` (`None`: the scope's end).
    async fn target_range<R: Entity>(
        &self,
        scope: &str,
        from: Option<String>,
        through: Option<&str>,
    ) -> Result<Vec<R>, AdapterError> {
        let mut existing = Vec::new();
        let mut scan = KeysetScan::<R>::new(self.target, scope, self.options.batch_size, from);
        while let Some((page, next)) = scan.next_page().await? {
            let mut past_end = false;
            for record in page {
                if through.is_some_and(|last| record.key().as_bytes() > last.as_bytes()) {
                    past_end = true;
                    break;
                }
                // The range's last key: no need to read a page beyond it.
                past_end = through.is_some_and(|last| record.key() == last);
                existing.push(record);
                if past_end {
                    break;
                }
            }
            if past_end || next.is_none() {
                break;
            }
        }
        Ok(existing)
    }

    /// Whether the target holds no record of `R` in `scope` from the cursor
    /// `from` on: one read of one record.
    async fn target_holds_nothing_from<R: Entity>(
        &self,
        scope: &str,
        from: Option<String>,
    ) -> Result<bool, AdapterError> {
        let mut scan = KeysetScan::<R>::new(self.target, scope, 1, from);
        Ok(scan.peek().await?.is_none())
    }
}

/// One source page of a scope: the cursor it started at, its records, and
/// the cursor after it (`None` on the scope's last page).
type Page<R> = (Option<String>, Vec<R>, Option<String>);

/// Sends the scope's pages, in order, until the last one, a failed read
/// (sent too), or the receiver going away.
async fn read_pages<R: Entity>(
    mut scan: KeysetScan<R>,
    from: Option<String>,
    mut pages: futures::channel::mpsc::Sender<Result<Page<R>, AdapterError>>,
) {
    use futures::SinkExt;
    let mut cursor = from;
    loop {
        let page = match scan.next_page().await {
            Ok(Some((items, next))) => Ok((cursor.take(), items, next)),
            Ok(None) => return,
            Err(error) => Err(error),
        };
        let more = match &page {
            Ok((_, _, next)) => {
                cursor = next.clone();
                next.is_some()
            }
            Err(_) => false,
        };
        if pages.send(page).await.is_err() || !more {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::Silent;
    use crate::seed::SeedOptions;
    use crate::verify::testing::{nth, seeded, tenant_id, verified};
    use adapter_interfaces::User;

    fn small() -> SeedOptions {
        SeedOptions {
            tenants: 2,
            users_per_tenant: 30,
            seed: 7,
            batch_size: 16,
        }
    }

    #[tokio::test]
    async fn copies_everything_and_a_rerun_copies_nothing() {
        let (source, target) = seeded(&small()).await;
        let options = BackfillOptions {
            batch_size: 7,
            ..Default::default()
        };
        let first = backfill(&source, &target, &options, &Silent).await.unwrap();
        let totals = first.totals();
        assert!(totals.copied > 100, "{first}");
        assert_eq!((totals.skipped, totals.failed), (0, 0));
        for entity in &first.entities {
            assert!(entity.counts.copied > 0, "{:?} got nothing", entity.entity);
        }
        let report = verified(&source, &target).await;
        assert!(report.identical, "{report}");
        let second = backfill(&source, &target, &options, &Silent).await.unwrap();
        assert_eq!(second.totals().copied, 0, "{second}");
        assert_eq!(second.totals().skipped, totals.copied);
    }

    #[tokio::test]
    async fn resumes_from_the_checkpoint_after_an_interruption() {
        let (source, target) = seeded(&small()).await;
        let dir = std::env::temp_dir().join(format!("switchyard-bf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("cp.json");
        let mut options = BackfillOptions {
            batch_size: 5,
            checkpoint: Some(path.clone()),
            fingerprint: "f".into(),
            stop_after_batches: Some(9),
            ..Default::default()
        };
        let err = backfill(&source, &target, &options, &Silent)
            .await
            .unwrap_err();
        assert!(matches!(err, BackfillError::Interrupted(9)));
        let cp = Checkpoint::load(&path, "f").unwrap().unwrap();
        assert_ne!(cp.entity, EntityKind::Tenant, "{cp:?}");
        options.stop_after_batches = None;
        let report = backfill(&source, &target, &options, &Silent).await.unwrap();
        assert!(report.resumed);
        // Nothing was copied twice: the counts add up to the source's records exactly.
        let total: u64 = report.entities.iter().map(|e| e.counts.total()).sum();
        let verify_report = verified(&source, &target).await;
        let source_total: u64 = verify_report.entities.iter().map(|e| e.source_count).sum();
        assert_eq!(total, source_total);
        assert_eq!(report.totals().skipped, 0, "{report}");
        assert!(verify_report.identical, "{verify_report}");
        assert!(!path.exists(), "the checkpoint is removed at the end");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn a_rejected_record_goes_to_the_errors_file_and_the_run_goes_on() {
        let (source, target) = seeded(&small()).await;
        // A user in the target that takes the email of a source user under another id.
        let tenant = tenant_id(&source, 0).await;
        let victim = nth::<User>(&source, &tenant, 3).await;
        target
            .tenants
            .upsert(source.tenants.get(&tenant).await.unwrap().unwrap())
            .await
            .unwrap();
        let mut squatter = victim.clone();
        squatter.user_id = "auth0|squatter".into();
        target.users.upsert(&tenant, squatter).await.unwrap();
        let dir = std::env::temp_dir().join(format!("switchyard-err-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let errors = dir.join("errors.jsonl");
        let options = BackfillOptions {
            batch_size: 10,
            errors: Some(errors.clone()),
            ..Default::default()
        };
        let report = backfill(&source, &target, &options, &Silent).await.unwrap();
        let users = report
            .entities
            .iter()
            .find(|e| e.entity == EntityKind::User)
            .unwrap();
        assert_eq!(users.counts.failed, 1, "{report}");
        let text = std::fs::read_to_string(&errors).unwrap();
        let line: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(line["entity"], "user");
        assert_eq!(line["key"], victim.user_id.as_str());
        assert_eq!(line["error_kind"], "conflict");
        // The user's sessions and passwords fail too (their parent is missing); the rest is copied.
        assert!(report.totals().copied > 100);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn with_batches_of_one_a_target_outage_stops_the_run_and_keeps_its_place() {
        let (source, target) = seeded(&small()).await;
        let (faulty, switch) = passthrough::with_faults(&target);
        let dir = std::env::temp_dir().join(format!("switchyard-outage-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("cp.json");
        let mut options = BackfillOptions {
            batch_size: 1,
            checkpoint: Some(path.clone()),
            fingerprint: "f".into(),
            ..Default::default()
        };
        options.stop_after_batches = Some(3);
        let err = backfill(&source, &faulty, &options, &Silent)
            .await
            .unwrap_err();
        assert!(matches!(err, BackfillError::Interrupted(3)), "{err}");
        let before = Checkpoint::load(&path, "f").unwrap().expect("a checkpoint");
        options.stop_after_batches = None;
        switch.fail_writes(true);
        let err = backfill(&source, &faulty, &options, &Silent)
            .await
            .unwrap_err();
        assert!(matches!(err, BackfillError::Target { .. }), "{err}");
        // The run stopped at the record it could not write: nothing counted
        // as failed, the checkpoint did not move past it.
        let after = Checkpoint::load(&path, "f")
            .unwrap()
            .expect("the checkpoint stays");
        assert_eq!(after, before);
        switch.fail_writes(false);
        let report = backfill(&source, &faulty, &options, &Silent).await.unwrap();
        assert_eq!(report.totals().failed, 0, "{report}");
        assert!(verified(&source, &target).await.identical);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn prune_removes_what_only_the_target_has() {
        use adapter_interfaces::*;
        let (source, target) = seeded(&small()).await;
        backfill(&source, &target, &BackfillOptions::default(), &Silent)
            .await
            .unwrap();
        // Extras on the target: a whole tenant, and one record of every
        // entity in a tenant both have.
        let other = target
            .tenants
            .create(TenantInsert {
                friendly_name: "Only here".into(),
                ..Default::default()
            })
            .await
            .unwrap();
        let tenant = tenant_id(&source, 0).await;
        let mut user = nth::<User>(&target, &tenant, 0).await;
        user.user_id = "auth0|extra".into();
        user.email = Some("extra@example.com".into());
        user.username = None;
        user.phone_number = None;
        target.users.upsert(&tenant, user).await.unwrap();
        macro_rules! extra {
            ($R:ty, |$r:ident| $change:expr) => {{
                let mut $r = nth::<$R>(&target, &tenant, 0).await;
                $change;
                <$R as Entity>::store(&target)
                    .upsert(&tenant, $r)
                    .await
                    .unwrap();
            }};
        }
        extra!(Application, |r| {
            r.client_id = "extra-app".into();
        });
        extra!(Connection, |r| {
            r.id = "con_extra".into();
            r.name = "extra-connection".into();
        });
        extra!(Session, |r| r.id = "extra-session".into());
        extra!(Code, |r| r.code_id = "extra-code".into());
        extra!(Password, |r| {
            r.id = "extra-password".into();
            r.is_current = false;
        });
        extra!(Log, |r| r.log_id = "extra-log".into());
        let report = verified(&source, &target).await;
        assert!(!report.identical);
        let options = BackfillOptions {
            prune: true,
            ..Default::default()
        };
        let dry = backfill(
            &source,
            &target,
            &BackfillOptions {
                dry_run: true,
                ..options.clone()
            },
            &Silent,
        )
        .await
        .unwrap();
        assert_eq!(dry.totals().removed, 8, "{dry}");
        assert!(target.tenants.get(&other.id).await.unwrap().is_some());
        let pruned = backfill(&source, &target, &options, &Silent).await.unwrap();
        // One extra record of each of the seven entities, and the tenant.
        assert_eq!(pruned.totals().removed, 8, "{pruned}");
        assert!(target.tenants.get(&other.id).await.unwrap().is_none());
        let report = verified(&source, &target).await;
        assert!(report.identical, "{report}");
    }

    /// Runs the backfill until it finishes, stopping it after a few batches
    /// each time (`stops` runs at most); returns the last report, how many
    /// times it stopped, and the most scopes a checkpoint had in progress.
    async fn interrupted_again_and_again(
        source: &DataAdapters,
        target: &DataAdapters,
        options: &mut BackfillOptions,
        stops: usize,
    ) -> (BackfillReport, usize, usize) {
        let path = options.checkpoint.clone().unwrap();
        let (mut interruptions, mut widest) = (0, 0);
        loop {
            options.stop_after_batches = Some(5 + (interruptions as u64 * 7) % 11);
            match backfill(source, target, options, &Silent).await {
                Ok(report) => return (report, interruptions, widest),
                Err(BackfillError::Interrupted(_)) => {
                    interruptions += 1;
                    assert!(interruptions < stops, "it never finished");
                    let cp = Checkpoint::load(&path, "f").unwrap().expect("a checkpoint");
                    assert!(cp.in_progress.len() <= options.jobs, "{cp:?}");
                    widest = widest.max(cp.in_progress.len());
                }
                Err(e) => panic!("{e}"),
            }
        }
    }

    #[tokio::test]
    async fn with_four_jobs_a_run_stopped_again_and_again_counts_every_record_once() {
        let (source, target) = seeded(&SeedOptions {
            tenants: 6,
            users_per_tenant: 12,
            seed: 3,
            batch_size: 16,
        })
        .await;
        let dir = std::env::temp_dir().join(format!("switchyard-jobs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut options = BackfillOptions {
            batch_size: 4,
            jobs: 4,
            checkpoint: Some(dir.join("cp.json")),
            fingerprint: "f".into(),
            ..Default::default()
        };
        let (report, interruptions, widest) =
            interrupted_again_and_again(&source, &target, &mut options, 1000).await;
        assert!(interruptions > 5, "stopped only {interruptions} times");
        assert!(widest > 1, "the scopes never ran side by side");
        let verify_report = verified(&source, &target).await;
        assert!(verify_report.identical, "{verify_report}");
        let source_total: u64 = verify_report.entities.iter().map(|e| e.source_count).sum();
        // Every source record counted once: a batch is counted in the same
        // checkpoint as its cursor (one written but not yet counted when
        // the run stopped is seen again as skipped, and counted then).
        let total: u64 = report.entities.iter().map(|e| e.counts.total()).sum();
        assert_eq!(total, source_total, "{report}");
        // What a stop leaves done but not counted: at most 4 batches of 4
        // records in each of the (at most 4) scopes in progress.
        assert!(
            report.totals().skipped <= (interruptions * 4 * 4 * 4) as u64,
            "{report}"
        );
        options.stop_after_batches = None;
        let rerun = backfill(&source, &target, &options, &Silent).await.unwrap();
        assert_eq!(rerun.totals().copied, 0, "{rerun}");
        assert_eq!(rerun.totals().skipped, source_total);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// One tenant: its pages are the scopes' only source of parallel work.
    #[tokio::test]
    async fn with_four_jobs_one_tenant_stopped_again_and_again_counts_every_record_once() {
        let (source, target) = seeded(&SeedOptions {
            tenants: 1,
            users_per_tenant: 40,
            seed: 11,
            batch_size: 16,
        })
        .await;
        let dir = std::env::temp_dir().join(format!("switchyard-jobs1-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut options = BackfillOptions {
            batch_size: 3,
            jobs: 4,
            checkpoint: Some(dir.join("cp.json")),
            fingerprint: "f".into(),
            ..Default::default()
        };
        let (report, interruptions, widest) =
            interrupted_again_and_again(&source, &target, &mut options, 1000).await;
        assert!(interruptions > 5, "stopped only {interruptions} times");
        assert_eq!(widest, 1, "one tenant is one scope");
        let verify_report = verified(&source, &target).await;
        assert!(verify_report.identical, "{verify_report}");
        let source_total: u64 = verify_report.entities.iter().map(|e| e.source_count).sum();
        let total: u64 = report.entities.iter().map(|e| e.counts.total()).sum();
        assert_eq!(total, source_total, "{report}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn with_four_jobs_stopped_again_and_again_each_failure_is_listed_once() {
        let (source, target) = seeded(&SeedOptions {
            tenants: 5,
            users_per_tenant: 10,
            seed: 5,
            batch_size: 16,
        })
        .await;
        // In three tenants, a target user that takes a source user's email.
        for t in 0..3 {
            let tenant = tenant_id(&source, t).await;
            let victim = nth::<User>(&source, &tenant, 2).await;
            target
                .tenants
                .upsert(source.tenants.get(&tenant).await.unwrap().unwrap())
                .await
                .unwrap();
            let mut squatter = victim;
            squatter.user_id = "auth0|squatter".into();
            target.users.upsert(&tenant, squatter).await.unwrap();
        }
        let dir = std::env::temp_dir().join(format!("switchyard-jobs-err-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let errors = dir.join("errors.jsonl");
        let mut options = BackfillOptions {
            batch_size: 3,
            jobs: 4,
            checkpoint: Some(dir.join("cp.json")),
            errors: Some(errors.clone()),
            fingerprint: "f".into(),
            ..Default::default()
        };
        let (report, interruptions, _) =
            interrupted_again_and_again(&source, &target, &mut options, 1000).await;
        assert!(interruptions > 5, "stopped only {interruptions} times");
        let text = std::fs::read_to_string(&errors).unwrap();
        let mut lines: Vec<(String, String, String)> = text
            .lines()
            .map(|line| {
                let v: serde_json::Value = serde_json::from_str(line).unwrap();
                let s = |f: &str| v[f].as_str().unwrap().to_owned();
                (s("entity"), s("tenant"), s("key"))
            })
            .collect();
        let users = lines.iter().filter(|(e, _, _)| e == "user").count();
        assert_eq!(users, 3, "{lines:?}");
        assert_eq!(lines.len() as u64, report.totals().failed, "{report}");
        lines.sort();
        lines.dedup();
        assert_eq!(
            lines.len() as u64,
            report.totals().failed,
            "a failure listed twice"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_resumed_run_cuts_the_errors_file_back_to_its_checkpoint() {
        let dir = std::env::temp_dir().join(format!("switchyard-errcut-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("errors.jsonl");
        // Two lines counted by the checkpoint, then one a killed run flushed
        // for a batch the checkpoint does not count (copied again, listed again).
        std::fs::write(&path, "{\"a\":1}\n{\"b\":2}\n{\"c\":3}\n").unwrap();
        let file = ErrorsFile::open(&path, true, Some(16)).unwrap();
        assert_eq!(file.bytes, 16);
        drop(file);
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "{\"a\":1}\n{\"b\":2}\n"
        );
        // A checkpoint that knows no length (format 1) keeps the file whole.
        let file = ErrorsFile::open(&path, true, None).unwrap();
        assert_eq!(file.bytes, 16);
        // A shorter file than recorded is never extended.
        let file = ErrorsFile::open(&path, true, Some(40)).unwrap();
        assert_eq!(file.bytes, 16);
        drop(file);
        // A new run starts it empty.
        let file = ErrorsFile::open(&path, false, Some(16)).unwrap();
        assert_eq!(file.bytes, 0);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn a_dry_run_writes_nothing() {
        let (source, target) = seeded(&small()).await;
        let options = BackfillOptions {
            dry_run: true,
            ..Default::default()
        };
        let report = backfill(&source, &target, &options, &Silent).await.unwrap();
        assert!(report.totals().copied > 100);
        let page = target.tenants.list(&ListParams::default()).await.unwrap();
        assert!(page.items.is_empty());
    }
}
