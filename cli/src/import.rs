//! `switchyard import`: users and their password hashes from another
//! system's user file into one tenant of a store. The one format is
//! Auth0's ([`crate::auth0`]): its bulk-import JSON array or the NDJSON of
//! a user export.
//!
//! The file is streamed ([`crate::auth0::reader`]), each record checked
//! against Auth0's schema and mapped onto a user and its current password,
//! and the valid ones written in batches (`upsert_many`, users then
//! passwords). A record that fails the schema goes to the errors file with
//! its position, line and reason (never its hash) and the run goes on; a
//! file that stops being JSON ends the run with an error naming the record.
//!
//! Idempotent: user ids (given, or derived from connection and email) and
//! password ids (derived from the user id) are stable, and a record whose
//! user or password is already in the store is not written again. Resumable:
//! after every batch the position in the file is saved in a checkpoint
//! (atomically, [`crate::checkpoint::write_private`]), so a run killed at
//! any moment starts again at the batch it was writing; the existence checks
//! make that batch's second write a no-op.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use adapter_interfaces::{
    AdapterError, DataAdapters, EntityKind, EntityStore, ErrorKind, TenantInsert, Timestamp,
};
use serde::{Deserialize, Serialize};

use crate::auth0::reader::{self, Item, OpenError};
use crate::auth0::record::{self, Imported};
use crate::checkpoint;
use crate::entity::Entity;
use crate::progress::Progress;

/// Default records per batch.
pub const DEFAULT_BATCH_SIZE: usize = 500;

/// Format version of the import checkpoint.
const FORMAT: u32 = 1;

/// How to import.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// The tenant the users go to (created when missing).
    pub tenant: String,
    /// The connection the users belong to.
    pub connection: String,
    /// Records per write.
    pub batch_size: usize,
    /// Check and count only; write nothing to the store.
    pub dry_run: bool,
    /// Where refused records go, one JSON line each.
    pub errors: Option<PathBuf>,
    /// The checkpoint file; `None` runs without one.
    pub checkpoint: Option<PathBuf>,
    /// Ignore an existing checkpoint.
    pub restart: bool,
    /// Identifies the file, store, tenant and connection in the checkpoint.
    pub fingerprint: String,
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ImportReport {
    /// Records read (in this run and the runs it resumes).
    pub records: u64,
    /// Users written.
    pub users_imported: u64,
    /// Passwords written.
    pub passwords_imported: u64,
    /// Records whose user was already in the store.
    pub users_existing: u64,
    /// Passwords already in the store.
    pub passwords_existing: u64,
    /// Records refused by the schema (see the errors file).
    pub invalid: u64,
    /// Valid records the store refused (a clash with another user, ...).
    pub failed: u64,
    /// Whether this run resumed an interrupted one.
    #[serde(default)]
    pub resumed: bool,
    /// Whether nothing was written.
    #[serde(default)]
    pub dry_run: bool,
    /// Whether the tenant had to be created.
    #[serde(default)]
    pub created_tenant: bool,
    /// Whether the store had no schema and was migrated first.
    #[serde(default)]
    pub migrated_target: bool,
    /// Seconds this run took.
    #[serde(default)]
    pub seconds: f64,
}

impl std::fmt::Display for ImportReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let verb = if self.dry_run {
            "to import"
        } else {
            "imported"
        };
        write!(
            f,
            "{} records: {} users and {} passwords {verb}, {} users and {} passwords already there, {} invalid, {} refused by the store ({:.1}s)",
            self.records,
            self.users_imported,
            self.passwords_imported,
            self.users_existing,
            self.passwords_existing,
            self.invalid,
            self.failed,
            self.seconds
        )
    }
}

/// Why an import stopped.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file cannot be read as a user file.
    #[error(transparent)]
    Open(#[from] OpenError),
    /// The file stops being JSON at a record: what came before is imported.
    #[error(
        "{file}: record #{index} (line {line}) is not valid JSON: {reason}; the records before it are imported, nothing of it or after it"
    )]
    Broken {
        /// The file.
        file: String,
        /// The record's position.
        index: u64,
        /// The line.
        line: u64,
        /// serde_json's reason.
        reason: String,
    },
    /// The store failed (not the data): a rerun resumes at this batch.
    #[error(
        "the store failed while writing records #{first} to #{last}: {source}; rerun to resume"
    )]
    Store {
        /// The batch's first record.
        first: u64,
        /// Its last.
        last: u64,
        /// The adapter's error.
        source: AdapterError,
    },
    /// The tenant could not be read or created.
    #[error("tenant `{tenant}`: {source}")]
    Tenant {
        /// The tenant.
        tenant: String,
        /// The adapter's error.
        source: AdapterError,
    },
    /// The checkpoint or errors file could not be used.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// The position of an import: every record up to `done` is handled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct ImportCheckpoint {
    format: u32,
    fingerprint: String,
    /// The last record handled.
    done: u64,
    /// The counts so far.
    report: ImportReport,
}

/// A short fingerprint of an import: the file (path and size), the store,
/// the tenant and the connection (FNV-1a through [`checkpoint::fingerprint`]).
pub fn fingerprint(file: &Path, target_masked: &str, tenant: &str, connection: &str) -> String {
    let size = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
    let file = std::fs::canonicalize(file).unwrap_or_else(|_| file.to_owned());
    checkpoint::fingerprint(
        &format!("import\n{}\n{size}", file.display()),
        &format!("{target_masked}\n{tenant}\n{connection}"),
    )
}

/// The default checkpoint file of an import, in the working directory.
pub fn default_checkpoint(fingerprint: &str) -> PathBuf {
    PathBuf::from(format!(".switchyard-import-{fingerprint}.json"))
}

fn load(path: &Path, fingerprint: &str) -> std::io::Result<Option<ImportCheckpoint>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let invalid = |why: String| std::io::Error::new(std::io::ErrorKind::InvalidData, why);
    let checkpoint: ImportCheckpoint = serde_json::from_str(&text).map_err(|e| {
        invalid(format!(
            "checkpoint {} is not readable ({e}); remove it or pass --restart",
            path.display()
        ))
    })?;
    if checkpoint.format != FORMAT || checkpoint.fingerprint != fingerprint {
        return Err(invalid(format!(
            "checkpoint {} belongs to another import (another file, size, store, tenant or connection); remove it or pass --restart",
            path.display()
        )));
    }
    Ok(Some(checkpoint))
}

/// One refused record, as a line of the errors file: never a value of it
/// but its user id.
#[derive(Debug, Serialize)]
struct Refused<'a> {
    record: u64,
    line: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_kind: Option<ErrorKind>,
    reason: String,
}

/// A valid record waiting in a batch.
struct Pending {
    index: u64,
    line: u64,
    imported: Imported,
}

struct Run<'a> {
    db: &'a DataAdapters,
    options: &'a ImportOptions,
    progress: &'a dyn Progress,
    report: ImportReport,
    errors: Option<BufWriter<File>>,
    checkpoint_path: Option<PathBuf>,
}

/// Imports `file` into `db`.
pub async fn import(
    db: &DataAdapters,
    file: &Path,
    options: &ImportOptions,
    progress: &dyn Progress,
) -> Result<ImportReport, ImportError> {
    let started = Instant::now();
    let layout = reader::layout(file)?;
    let checkpoint_path = options.checkpoint.clone().filter(|_| !options.dry_run);
    let mut resumed = None;
    if let Some(path) = &checkpoint_path {
        if options.restart {
            checkpoint::Checkpoint::remove(path)?;
        } else {
            resumed = load(path, &options.fingerprint)?;
        }
    }
    let done = resumed.as_ref().map_or(0, |c| c.done);
    let mut report = resumed.map(|c| c.report).unwrap_or_default();
    report.resumed = done > 0;
    report.dry_run = options.dry_run;
    let errors = match &options.errors {
        Some(path) => Some(BufWriter::new(
            OpenOptions::new()
                .create(true)
                .write(true)
                .append(report.resumed)
                .truncate(!report.resumed)
                .open(path)?,
        )),
        None => None,
    };
    report.created_tenant |= ensure_tenant(db, &options.tenant, options.dry_run).await?;
    let mut run = Run {
        db,
        options,
        progress,
        report,
        errors,
        checkpoint_path,
    };
    progress.begin(EntityKind::User, None, done);
    let batch_size = options.batch_size.max(1);
    let mut receiver = reader::stream(file, layout, batch_size * 2)?;
    let now = Timestamp::now();
    let mut batch: Vec<Pending> = Vec::with_capacity(batch_size);
    let mut last = done;
    while let Some(item) = receiver.recv().await {
        match item {
            Item::Record { index, .. } if index <= done => {}
            Item::Record { index, line, value } => {
                last = index;
                run.report.records += 1;
                let user_id = value
                    .get("user_id")
                    .and_then(|v| v.as_str())
                    .map(str::to_owned);
                match record::from_auth0(value, &options.connection, now) {
                    Ok(imported) => batch.push(Pending {
                        index,
                        line,
                        imported,
                    }),
                    Err(error) => {
                        run.report.invalid += 1;
                        run.refuse(Refused {
                            record: index,
                            line,
                            user_id: user_id.as_deref(),
                            field: error.field.as_deref(),
                            error_kind: None,
                            reason: error.reason.clone(),
                        })?;
                    }
                }
                if batch.len() >= batch_size {
                    run.flush(std::mem::take(&mut batch), last).await?;
                }
            }
            Item::Broken {
                index,
                line,
                reason,
            } => {
                run.flush(std::mem::take(&mut batch), last).await?;
                return Err(ImportError::Broken {
                    file: file.display().to_string(),
                    index,
                    line,
                    reason,
                });
            }
        }
    }
    run.flush(batch, last).await?;
    if let Some(errors) = &mut run.errors {
        errors.flush()?;
    }
    if let Some(path) = &run.checkpoint_path {
        checkpoint::Checkpoint::remove(path)?;
    }
    let mut report = run.report;
    report.seconds = started.elapsed().as_secs_f64();
    progress.end(EntityKind::User, &report.to_string());
    Ok(report)
}

/// Creates the tenant when it does not exist; returns whether it did (or,
/// in a dry run, would).
async fn ensure_tenant(
    db: &DataAdapters,
    tenant: &str,
    dry_run: bool,
) -> Result<bool, ImportError> {
    let error = |source| ImportError::Tenant {
        tenant: tenant.to_owned(),
        source,
    };
    if db.tenants.get(tenant).await.map_err(error)?.is_some() {
        return Ok(false);
    }
    if !dry_run {
        db.tenants
            .create(TenantInsert {
                id: Some(tenant.to_owned()),
                friendly_name: tenant.to_owned(),
                ..TenantInsert::default()
            })
            .await
            .map_err(error)?;
    }
    Ok(true)
}

/// Whether an error is the data's (a rerun would fail the same way), not the store's.
fn is_data_error(error: &AdapterError) -> bool {
    matches!(
        error.kind(),
        ErrorKind::Conflict | ErrorKind::InvalidInput | ErrorKind::NotFound
    )
}

impl Run<'_> {
    fn refuse(&mut self, refused: Refused<'_>) -> std::io::Result<()> {
        tracing::debug!(record = refused.record, line = refused.line, reason = %refused.reason, "record refused");
        if let Some(errors) = &mut self.errors {
            serde_json::to_writer(&mut *errors, &refused).map_err(std::io::Error::from)?;
            errors.write_all(b"\n")?;
        }
        Ok(())
    }

    /// Writes a batch's new users and passwords, then saves the position.
    async fn flush(&mut self, batch: Vec<Pending>, last: u64) -> Result<(), ImportError> {
        let first = batch.first().map_or(last, |p| p.index);
        let store_error = |source| ImportError::Store {
            first,
            last,
            source,
        };
        let tenant = self.options.tenant.as_str();
        let mut users: Vec<&Pending> = Vec::new();
        let mut passwords: Vec<&Pending> = Vec::new();
        let mut seen = std::collections::HashMap::new();
        for pending in &batch {
            let user = &pending.imported.user;
            if let Some(first) = seen.insert(user.user_id.clone(), pending.index) {
                self.report.failed += 1;
                self.refuse(Refused {
                    record: pending.index,
                    line: pending.line,
                    user_id: Some(&user.user_id),
                    field: Some("user_id"),
                    error_kind: Some(ErrorKind::Conflict),
                    reason: format!("repeats the user of record #{first}"),
                })?;
                continue;
            }
            if self
                .db
                .users
                .get(tenant, &user.user_id)
                .await
                .map_err(store_error)?
                .is_some()
            {
                self.report.users_existing += 1;
            } else {
                users.push(pending);
            }
            if let Some(password) = &pending.imported.password {
                if self
                    .db
                    .passwords
                    .get(tenant, &password.id)
                    .await
                    .map_err(store_error)?
                    .is_some()
                {
                    self.report.passwords_existing += 1;
                } else {
                    passwords.push(pending);
                }
            }
        }
        let mut refused_users = std::collections::HashSet::new();
        if self.options.dry_run {
            self.report.users_imported += users.len() as u64;
            self.report.passwords_imported += passwords.len() as u64;
        } else {
            let written = self
                .write(
                    &users,
                    |p| Some(p.imported.user.clone()),
                    &mut refused_users,
                    store_error,
                )
                .await?;
            self.report.users_imported += written;
            let passwords: Vec<&Pending> = passwords
                .into_iter()
                .filter(|p| !refused_users.contains(&p.index))
                .collect();
            let written = self
                .write(
                    &passwords,
                    |p| p.imported.password.clone(),
                    &mut refused_users,
                    store_error,
                )
                .await?;
            self.report.passwords_imported += written;
            self.save(last)?;
        }
        self.progress.advance(EntityKind::User, batch.len() as u64);
        Ok(())
    }

    /// Writes `records` in one batch; when the store refuses the batch for
    /// its data, one by one, the refused ones to the errors file.
    async fn write<R>(
        &mut self,
        pending: &[&Pending],
        record: impl Fn(&Pending) -> Option<R>,
        refused: &mut std::collections::HashSet<u64>,
        store_error: impl Fn(AdapterError) -> ImportError,
    ) -> Result<u64, ImportError>
    where
        R: Entity,
    {
        let records: Vec<R> = pending.iter().filter_map(|p| record(p)).collect();
        if records.is_empty() {
            return Ok(0);
        }
        let count = records.len() as u64;
        match R::store(self.db)
            .upsert_many(&self.options.tenant, records)
            .await
        {
            Ok(()) => return Ok(count),
            Err(e) if !is_data_error(&e) => return Err(store_error(e)),
            Err(_) => {}
        }
        let mut written = 0;
        for p in pending {
            let Some(one) = record(p) else { continue };
            match R::store(self.db)
                .upsert_many(&self.options.tenant, vec![one])
                .await
            {
                Ok(()) => written += 1,
                Err(e) if is_data_error(&e) => {
                    self.report.failed += 1;
                    refused.insert(p.index);
                    self.refuse(Refused {
                        record: p.index,
                        line: p.line,
                        user_id: Some(&p.imported.user.user_id),
                        field: None,
                        error_kind: Some(e.kind()),
                        reason: e.to_string(),
                    })?;
                }
                Err(e) => return Err(store_error(e)),
            }
        }
        Ok(written)
    }

    fn save(&mut self, done: u64) -> std::io::Result<()> {
        if let Some(errors) = &mut self.errors {
            errors.flush()?;
        }
        let Some(path) = &self.checkpoint_path else {
            return Ok(());
        };
        let checkpoint = ImportCheckpoint {
            format: FORMAT,
            fingerprint: self.options.fingerprint.clone(),
            done,
            report: ImportReport {
                seconds: 0.0,
                ..self.report.clone()
            },
        };
        checkpoint::write_private(path, &serde_json::to_vec_pretty(&checkpoint)?)
    }
}
