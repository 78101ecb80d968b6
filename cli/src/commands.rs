//! The commands of the binary, over store URLs: parse, connect, check the
//! schema, then run an engine. Every check happens before the first write.

use std::path::PathBuf;

use adapter_interfaces::schema::SCHEMA_VERSION;

use passthrough::{Side, Stage};

use crate::backfill::{BackfillError, BackfillOptions, Coordination};
use crate::checkpoint;
use crate::progress::Progress;
use crate::report::{BackfillReport, VerifyReport};
use crate::seed::{SeedError, SeedOptions, SeedReport};
use crate::store::{Store, StoreError};
use crate::url::{StoreUrl, UrlError};
use crate::verify::{Repair, VerifyFailure, VerifyOptions};

/// Why a command failed. Messages carry masked URLs only.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// A malformed URL or an unknown backend.
    #[error(transparent)]
    Url(#[from] UrlError),
    /// A store could not be opened or has the wrong schema.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Source and target are the same store.
    #[error("source and target are the same store ({0}); nothing to do")]
    SameStore(String),
    /// Seeding failed.
    #[error(transparent)]
    Seed(#[from] SeedError),
    /// Backfill failed.
    #[error(transparent)]
    Backfill(#[from] BackfillError),
    /// Verify failed.
    #[error(transparent)]
    Verify(#[from] VerifyFailure),
    /// A file could not be used.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The demo went wrong.
    #[error("demo: {0}")]
    Demo(String),
    /// A command on a running migration (stage, journal, relay, traffic) failed.
    #[error("{0}")]
    Operate(String),
    /// An import failed.
    #[error(transparent)]
    Import(#[from] crate::import::ImportError),
    /// An export failed.
    #[error(transparent)]
    Export(#[from] crate::export::ExportError),
}

/// Parses a store URL.
pub fn parse(url: &str) -> Result<StoreUrl, CommandError> {
    Ok(url.parse()?)
}

/// `switchyard migrate`: applies the schema; returns what happened.
pub async fn migrate(target: &str) -> Result<String, CommandError> {
    let url = parse(target)?;
    let store = Store::connect(&url, false).await?;
    match store.schema_version().await? {
        Some(SCHEMA_VERSION) => {
            // Still run it: the backend's own bookkeeping may be missing (another ORM migrated).
            store.migrate().await?;
            Ok(format!(
                "{url}: schema version {SCHEMA_VERSION} is already applied"
            ))
        }
        Some(found) if found < SCHEMA_VERSION => {
            store.migrate().await?;
            Ok(format!(
                "{url}: upgraded the schema from version {found} to {SCHEMA_VERSION} (2: the replication journal and the shared stage; 3: the users' case-folded name columns)"
            ))
        }
        Some(found) => Err(StoreError::SchemaVersion {
            url: url.masked(),
            found,
            expected: SCHEMA_VERSION,
        }
        .into()),
        None => {
            store.migrate().await?;
            Ok(format!("{url}: applied schema version {SCHEMA_VERSION}"))
        }
    }
}

/// `switchyard seed`: generated data into the target (migrated first if it has no schema).
pub async fn seed(
    target: &str,
    options: &SeedOptions,
    progress: &dyn Progress,
) -> Result<SeedReport, CommandError> {
    let url = parse(target)?;
    let store = Store::connect(&url, false).await?;
    if store.require_or_migrate().await? {
        tracing::info!(target = %url, "the target had no schema: migrated it");
    }
    Ok(crate::seed::seed(&store.adapters(), options, progress).await?)
}

/// What `switchyard backfill` is asked to do, beyond the two URLs.
#[derive(Debug, Clone, Default)]
pub struct BackfillArgs {
    /// Records per batch.
    pub batch_size: u32,
    /// Report only.
    pub dry_run: bool,
    /// Ignore the checkpoint.
    pub restart: bool,
    /// The errors file.
    pub errors: Option<PathBuf>,
    /// The checkpoint file (default: derived from the source and target).
    pub checkpoint: Option<PathBuf>,
    /// Also remove the target's records that the source lacks.
    pub prune: bool,
    /// The target's name in the source's replication journal (default: the
    /// side opposite the stored stage's primary, else `new`).
    pub journal_target: Option<String>,
    /// Copy without coordinating with live replication (only while nothing
    /// writes the stores).
    pub offline: bool,
    /// Tenants copied at once; `None` (or 0): [`default_jobs`] of the target.
    pub jobs: Option<usize>,
}

/// Batches a backfill writes at once unless told: 1 into SQLite (one
/// writer at a time: concurrent batches would only wait on its lock, or
/// fail on it), 4 into a server. Four because each batch in progress holds
/// one connection of the source's pool (its live copy's re-read or journal
/// claim) and each tenant in progress one more (its read-ahead of the next
/// page), and the smallest pool a backend opens to a server is 8
/// connections (sqlx and diesel; SeaORM's is 10): more jobs would queue on
/// the pool, not copy faster.
pub fn default_jobs(target: &StoreUrl) -> usize {
    if target.database() == crate::url::Database::Sqlite {
        1
    } else {
        4
    }
}

/// How a copy from `source` coordinates with live replication: through the
/// source's journal, where the target is `journal_target` or, by default,
/// the side opposite the primary of the stage stored there (`new` when no
/// stage was ever stored).
async fn coordination(
    source: &Store,
    journal_target: Option<&str>,
    offline: bool,
) -> Result<Option<Coordination>, CommandError> {
    if offline {
        return Ok(None);
    }
    if let Some(name) = journal_target {
        return Ok(Some(Coordination {
            target_name: name.to_owned(),
            source_side: None,
        }));
    }
    let stored = source
        .adapters()
        .journal
        .stage(passthrough::DEFAULT_SCOPE)
        .await
        .map_err(|e| {
            CommandError::Operate(format!("reading the stage stored in the source: {e}"))
        })?;
    let Some(record) = stored else {
        return Ok(Some(Coordination::migration(Side::Old)));
    };
    let stage: Stage = record
        .stage
        .parse()
        .map_err(|e| CommandError::Operate(format!("the stage stored in the source: {e}")))?;
    if stage.secondary().is_none() {
        tracing::warn!(
            stage = stage.as_str(),
            "the stored stage replicates nothing: writes made while copying reach only the primary (set the stage to dual-write first for an online copy)"
        );
    }
    Ok(Some(Coordination::migration(stage.primary())))
}

/// A store a command writes to, open.
struct WriteTarget {
    /// Keeps the connection open while the adapters are used.
    _store: Option<Store>,
    /// The store's adapters (an empty in-memory store in some dry runs).
    adapters: adapter_interfaces::DataAdapters,
    /// Whether it had no schema and was migrated.
    migrated: bool,
}

/// Opens a store to write to. A store with another schema version is
/// refused; one with no schema at all (an empty database) is migrated
/// first, because writing into it is then safe and that is what the
/// operator asked for. A dry run never migrates nor creates a SQLite file:
/// an empty in-memory store stands for such a target.
async fn open_target(url: &StoreUrl, dry_run: bool) -> Result<WriteTarget, CommandError> {
    let missing_file = url
        .sqlite_path()
        .is_some_and(|path| !std::path::Path::new(path).exists());
    if dry_run && missing_file {
        return Ok(WriteTarget {
            _store: None,
            adapters: adapter_interfaces::memory::adapters(),
            migrated: false,
        });
    }
    let store = Store::connect(url, false).await?;
    let (adapters, migrated) = match store.schema_version().await? {
        Some(SCHEMA_VERSION) => (store.adapters(), false),
        Some(found) => {
            return Err(StoreError::SchemaVersion {
                url: url.masked(),
                found,
                expected: SCHEMA_VERSION,
            }
            .into());
        }
        None if dry_run => (adapter_interfaces::memory::adapters(), false),
        None => {
            store.migrate().await?;
            (store.adapters(), true)
        }
    };
    Ok(WriteTarget {
        _store: Some(store),
        adapters,
        migrated,
    })
}

/// `switchyard backfill`.
///
/// The source must have this build's schema. A target with another schema
/// version is refused; a target with no schema at all (an empty database) is
/// migrated first, because copying into it is then safe and that is what the
/// operator asked for. A dry run never migrates: it compares with an empty target.
pub async fn backfill(
    source: &str,
    target: &str,
    args: &BackfillArgs,
    progress: &dyn Progress,
) -> Result<BackfillReport, CommandError> {
    let source_url = parse(source)?;
    let target_url = parse(target)?;
    if source_url.database_url() == target_url.database_url() {
        return Err(CommandError::SameStore(target_url.masked()));
    }
    let source_store = Store::connect(&source_url, true).await?;
    source_store.require_schema().await?;
    let target_store = open_target(&target_url, args.dry_run).await?;
    let fingerprint = checkpoint::fingerprint(&source_url.masked(), &target_url.masked());
    let options = BackfillOptions {
        batch_size: if args.batch_size == 0 {
            crate::backfill::DEFAULT_BATCH_SIZE
        } else {
            args.batch_size
        },
        dry_run: args.dry_run,
        checkpoint: Some(
            args.checkpoint
                .clone()
                .unwrap_or_else(|| checkpoint::default_path(&fingerprint)),
        ),
        restart: args.restart,
        errors: args.errors.clone(),
        fingerprint,
        source_name: source_url.masked(),
        target_name: target_url.masked(),
        stop_after_batches: None,
        prune: args.prune,
        coordination: coordination(&source_store, args.journal_target.as_deref(), args.offline)
            .await?,
        jobs: args
            .jobs
            .filter(|jobs| *jobs > 0)
            .unwrap_or_else(|| default_jobs(&target_url)),
    };
    let mut report = crate::backfill::backfill(
        &source_store.adapters(),
        &target_store.adapters,
        &options,
        progress,
    )
    .await?;
    report.migrated_target = target_store.migrated;
    Ok(report)
}

/// `switchyard verify`: both stores must exist and have this build's schema.
pub async fn verify(
    source: &str,
    target: &str,
    options: &VerifyOptions,
    repair: Option<&RepairArgs>,
    progress: &dyn Progress,
) -> Result<VerifyReport, CommandError> {
    let source_url = parse(source)?;
    let target_url = parse(target)?;
    let source_store = Store::connect(&source_url, true).await?;
    source_store.require_schema().await?;
    let target_store = Store::connect(&target_url, true).await?;
    target_store.require_schema().await?;
    let mut options = options.clone();
    if let Some(repair) = repair {
        options.repair = Some(Repair {
            coordination: coordination(
                &source_store,
                repair.journal_target.as_deref(),
                repair.offline,
            )
            .await?,
        });
    }
    Ok(crate::verify::verify(
        &source_store.adapters(),
        &target_store.adapters(),
        &options,
        progress,
    )
    .await?)
}

/// How `switchyard verify --repair` coordinates its writes (as `backfill` does).
#[derive(Debug, Clone, Default)]
pub struct RepairArgs {
    /// The target's name in the source's replication journal.
    pub journal_target: Option<String>,
    /// Write without coordinating with live replication.
    pub offline: bool,
}

/// `switchyard import --format auth0`: the file is checked to be JSON before
/// the store is opened; a store without a schema is migrated first (a dry
/// run reads an empty store instead, and writes nothing).
pub async fn import(
    file: &std::path::Path,
    target: &str,
    options: crate::import::ImportOptions,
    progress: &dyn Progress,
) -> Result<crate::import::ImportReport, CommandError> {
    let url = parse(target)?;
    crate::auth0::reader::layout(file).map_err(crate::import::ImportError::from)?;
    let target = open_target(&url, options.dry_run).await?;
    let fingerprint =
        crate::import::fingerprint(file, &url.masked(), &options.tenant, &options.connection);
    let options = crate::import::ImportOptions {
        checkpoint: Some(
            options
                .checkpoint
                .clone()
                .unwrap_or_else(|| crate::import::default_checkpoint(&fingerprint)),
        ),
        fingerprint,
        ..options
    };
    let mut report = crate::import::import(&target.adapters, file, &options, progress).await?;
    report.migrated_target = target.migrated;
    Ok(report)
}

/// `switchyard export --format auth0`: the source must have this build's schema.
pub async fn export(
    source: &str,
    file: &std::path::Path,
    options: &crate::export::ExportOptions,
    progress: &dyn Progress,
) -> Result<crate::export::ExportReport, CommandError> {
    let url = parse(source)?;
    let store = Store::connect(&url, true).await?;
    store.require_schema().await?;
    Ok(crate::export::export(&store.adapters(), file, options, progress).await?)
}
