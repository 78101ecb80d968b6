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

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::time::Instant;

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
        tracing::info!(entity = %checkpoint.entity, tenant = ?checkpoint.tenant, "resuming from checkpoint");
    }
    let errors = match (&options.errors, options.dry_run) {
        (Some(path), false) => {
            let file = OpenOptions::new()
                .create(true)
                .write(true)
                .append(is_resumed)
                .truncate(!is_resumed)
                .open(path)?;
            Some(BufWriter::new(file))
        }
        _ => None,
    };
    let copy = live_copy(source, target, options.coordination.as_ref());
    let mut run = Run {
        source,
        target,
        copy,
        options,
        progress,
        checkpoint,
        checkpoint_path: checkpoint_path.cloned(),
        errors,
        batches: 0,
        processed: 0,
    };
    let mut report = BackfillReport {
        dry_run: options.dry_run,
        resumed: is_resumed,
        ..Default::default()
    };
    let first = EntityKind::ALL
        .iter()
        .position(|k| *k == run.checkpoint.entity)
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
    for kind in EntityKind::ALL.into_iter().skip(first) {
        if kind != run.checkpoint.entity {
            run.checkpoint.entity = kind;
            run.checkpoint.tenant_page = None;
            run.checkpoint.tenant = None;
            run.checkpoint.cursor = None;
        }
        let entity_started = Instant::now();
        run.processed = 0;
        crate::dispatch!(kind, R => run.copy_entity::<R>().await)?;
        let counts = run.counts(kind);
        let seconds = entity_started.elapsed().as_secs_f64();
        let entity = EntityBackfill {
            entity: kind,
            counts,
            processed: run.processed,
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
    if let Some(errors) = &mut run.errors {
        errors.flush()?;
    }
    if let Some(path) = &run.checkpoint_path {
        Checkpoint::remove(path)?;
    }
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

struct Run<'a> {
    source: &'a DataAdapters,
    target: &'a DataAdapters,
    copy: LiveCopy,
    options: &'a BackfillOptions,
    progress: &'a dyn Progress,
    checkpoint: Checkpoint,
    checkpoint_path: Option<PathBuf>,
    errors: Option<BufWriter<File>>,
    batches: u64,
    processed: u64,
}

impl Run<'_> {
    fn counts(&self, kind: EntityKind) -> Counts {
        self.checkpoint
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

    async fn copy_entity<R: Entity>(&mut self) -> Result<(), BackfillError> {
        let total = self
            .count_source::<R>()
            .await
            .map_err(Self::source_error(R::KIND))?;
        let done = self.counts(R::KIND).total();
        self.progress.begin(R::KIND, Some(total.max(done)), done);
        if R::KIND == EntityKind::Tenant {
            let from = self.checkpoint.cursor.clone();
            return self.copy_scope::<R>(GLOBAL, from).await;
        }
        let resume_tenant = self.checkpoint.tenant.clone();
        let mut resume_cursor = self.checkpoint.cursor.take();
        let mut tenant_page = self.checkpoint.tenant_page.clone();
        loop {
            let mut params = ListParams::default().with_per_page(self.options.batch_size);
            params.from = tenant_page.clone();
            let page = self
                .source
                .tenants
                .list(&params)
                .await
                .map_err(Self::source_error(EntityKind::Tenant))?;
            for tenant in page.items {
                if let Some(resume) = &resume_tenant
                    && tenant.id.as_bytes() < resume.as_bytes()
                {
                    continue;
                }
                let from = if resume_tenant.as_ref() == Some(&tenant.id) {
                    resume_cursor.take()
                } else {
                    None
                };
                self.checkpoint.tenant_page = tenant_page.clone();
                self.checkpoint.tenant = Some(tenant.id.clone());
                self.copy_scope::<R>(&tenant.id, from).await?;
            }
            match page.next {
                Some(next) => tenant_page = Some(next),
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

    async fn copy_scope<R: Entity>(
        &mut self,
        scope: &str,
        from: Option<String>,
    ) -> Result<(), BackfillError> {
        self.checkpoint.cursor = from.clone();
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
        let mut scan = KeysetScan::<R>::new(self.source, scope, self.options.batch_size, from);
        let mut page = scan
            .next_page()
            .await
            .map_err(Self::source_error(R::KIND))?;
        loop {
            let page_from = self.checkpoint.cursor.clone();
            let Some((items, next)) = page else {
                return Ok(());
            };
            let n = items.len() as u64;
            // Read the next source page while this one is compared and written:
            // the source and the target work at the same time, and memory
            // holds two pages at most.
            let (following, counts) = tokio::join!(
                scan.next_page(),
                self.copy_batch::<R>(scope, page_from, items, next.is_none(), target_empty)
            );
            let counts = counts?;
            self.checkpoint
                .counts
                .entry(R::KIND)
                .or_default()
                .add(counts);
            self.checkpoint.cursor = next;
            self.processed += n;
            self.progress.advance(R::KIND, n);
            if let Some(path) = &self.checkpoint_path {
                if let Some(errors) = &mut self.errors {
                    // Failures of a batch reach the disk before the checkpoint moves past it.
                    errors.flush()?;
                }
                // The fsyncs of a save would block a runtime thread.
                let (checkpoint, path) = (self.checkpoint.clone(), path.clone());
                tokio::task::spawn_blocking(move || checkpoint.save(&path))
                    .await
                    .map_err(std::io::Error::other)??;
            }
            self.batches += 1;
            if self
                .options
                .stop_after_batches
                .is_some_and(|stop| self.batches >= stop)
            {
                return Err(BackfillError::Interrupted(self.batches));
            }
            // A failed read of the next page surfaces only now, after this
            // page's checkpoint: a rerun goes on from there.
            page = following.map_err(Self::source_error(R::KIND))?;
        }
    }

    /// Reconciles one source page with the target's records of the same
    /// key range (none when `target_empty`: read already), under the
    /// journal's claims (see [`passthrough::live_copy`]).
    async fn copy_batch<R: Entity>(
        &mut self,
        scope: &str,
        page_from: Option<String>,
        items: Vec<R>,
        last_page: bool,
        target_empty: bool,
    ) -> Result<Counts, BackfillError> {
        // The range ends at the page's last key, or with the scope on its
        // last page (where the target's records beyond the source's last
        // key are the range's too: prune sees them).
        let through = if last_page {
            None
        } else {
            items.last().map(|r| r.key().to_owned())
        };
        if items.is_empty() && !self.options.prune {
            return Ok(Counts::default());
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
        for failure in &done.failed {
            self.record_failure::<R>(scope, failure)?;
        }
        Ok(Counts {
            copied: done.copied,
            skipped: done.unchanged,
            failed: done.failed.len() as u64,
            removed: done.removed,
            deferred: done.deferred,
        })
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

    fn record_failure<R: Entity>(
        &mut self,
        scope: &str,
        failure: &KeyFailure,
    ) -> Result<(), BackfillError> {
        tracing::warn!(entity = %R::KIND, tenant = scope, key = %failure.key, error = %failure.error, "record not copied");
        if let Some(errors) = &mut self.errors {
            let line = FailedRecord {
                entity: R::KIND,
                tenant: scope,
                key: &failure.key,
                error_kind: failure.kind,
                error: failure.error.clone(),
            };
            serde_json::to_writer(&mut *errors, &line).map_err(std::io::Error::from)?;
            errors.write_all(b"\n")?;
        }
        Ok(())
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
