//! `switchyard export`: the users of one tenant, with their current
//! password hashes, as a file another system imports. The one format is
//! Auth0's bulk-import JSON array ([`crate::auth0::record::to_auth0`]), so
//! that the way back to the provider exists too; importing the file again
//! ([`crate::import`]) gives the same users and passwords, bar what Auth0's
//! import does not carry (timestamps, login counters, last IP, locale,
//! phone verification).
//!
//! The users are read in keyset pages and written as they come; the file
//! appears under its name only once complete (a temporary file renamed), and
//! only its owner may read it, since it holds the password hashes.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use adapter_interfaces::{AdapterError, DataAdapters, EntityKind, User};
use serde::Serialize;

use crate::auth0::record;
use crate::entity::{KeysetScan, count};
use crate::progress::Progress;

/// How to export.
#[derive(Debug, Clone)]
pub struct ExportOptions {
    /// The tenant whose users are exported.
    pub tenant: String,
    /// Only the users of this connection (default: all).
    pub connection: Option<String>,
    /// Users per page read.
    pub batch_size: u32,
}

/// What an export wrote.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ExportReport {
    /// Users written.
    pub users: u64,
    /// Of those, users written with their password hash.
    pub passwords: u64,
    /// Users left out (of another connection, or that Auth0 cannot take).
    pub skipped: u64,
    /// Up to ten users left out, by id, with the reason.
    pub skipped_examples: Vec<(String, String)>,
    /// Seconds taken.
    pub seconds: f64,
}

impl std::fmt::Display for ExportReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exported {} users ({} with a password hash), skipped {} ({:.1}s)",
            self.users, self.passwords, self.skipped, self.seconds
        )?;
        for (id, why) in &self.skipped_examples {
            write!(f, "\n  skipped {id}: {why}")?;
        }
        Ok(())
    }
}

/// Why an export failed; the file is then not written.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The tenant does not exist.
    #[error("tenant `{0}` does not exist")]
    NoTenant(String),
    /// Reading the store failed.
    #[error("reading the store: {0}")]
    Store(#[from] AdapterError),
    /// Writing the file failed.
    #[error("writing {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

/// Writes the users of `options.tenant` in `db` to `file`.
pub async fn export(
    db: &DataAdapters,
    file: &Path,
    options: &ExportOptions,
    progress: &dyn Progress,
) -> Result<ExportReport, ExportError> {
    let started = Instant::now();
    let tenant = options.tenant.as_str();
    if db.tenants.get(tenant).await?.is_none() {
        return Err(ExportError::NoTenant(tenant.to_owned()));
    }
    let io = |source| ExportError::Io {
        path: file.display().to_string(),
        source,
    };
    let mut tmp = file.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let _ = std::fs::remove_file(&tmp);
    let mut open = std::fs::OpenOptions::new();
    open.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut open, 0o600);
    let mut out = BufWriter::new(open.open(&tmp).map_err(io)?);
    let result = write_users(db, &mut out, options, progress).await;
    let finished = match result {
        Ok(report) => out
            .into_inner()
            .map_err(|e| e.into_error())
            .and_then(|f: File| f.sync_all())
            .and_then(|()| std::fs::rename(&tmp, file))
            .map(|()| report)
            .map_err(io),
        Err(e) => Err(e),
    };
    if finished.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    let mut report = finished?;
    report.seconds = started.elapsed().as_secs_f64();
    progress.end(EntityKind::User, &report.to_string());
    Ok(report)
}

async fn write_users(
    db: &DataAdapters,
    out: &mut BufWriter<File>,
    options: &ExportOptions,
    progress: &dyn Progress,
) -> Result<ExportReport, ExportError> {
    let tenant = options.tenant.as_str();
    let io = |source| ExportError::Io {
        path: "the export".into(),
        source,
    };
    let total = count::<User>(db, tenant).await?;
    progress.begin(EntityKind::User, Some(total), 0);
    let mut report = ExportReport::default();
    let mut scan = KeysetScan::<User>::new(db, tenant, options.batch_size, None);
    out.write_all(b"[").map_err(io)?;
    while let Some(user) = scan.pop().await? {
        progress.advance(EntityKind::User, 1);
        if options
            .connection
            .as_ref()
            .is_some_and(|c| *c != user.connection)
        {
            report.skipped += 1;
            continue;
        }
        let password = db.passwords.get_current(tenant, &user.user_id).await?;
        match record::to_auth0(&user, password.as_ref()) {
            Ok(map) => {
                out.write_all(if report.users == 0 { b"\n  " } else { b",\n  " })
                    .map_err(io)?;
                serde_json::to_writer(&mut *out, &map).map_err(|e| io(e.into()))?;
                report.users += 1;
                report.passwords += u64::from(password.is_some());
            }
            Err(skip) => {
                tracing::warn!(user_id = %user.user_id, reason = %skip, "user left out of the export");
                report.skipped += 1;
                if report.skipped_examples.len() < 10 {
                    report
                        .skipped_examples
                        .push((user.user_id.clone(), skip.to_string()));
                }
            }
        }
    }
    out.write_all(b"\n]\n").map_err(io)?;
    Ok(report)
}
