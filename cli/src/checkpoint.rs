//! The backfill checkpoint: where a run is, written atomically after every batch.
//!
//! Format 2 holds, for the entity being copied, every scope (tenant) in
//! progress with its own cursor, so that scopes copied concurrently
//! (`--jobs`) each resume where they were. Scopes are started in key order,
//! so "every scope up to `started` that is not in progress is finished"
//! describes the finished ones in a size bounded by the number of jobs,
//! however many tenants there are. Format 1 (one tenant, one cursor) is
//! still read: it is the same position with at most one scope in progress.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use adapter_interfaces::EntityKind;
use serde::{Deserialize, Serialize};

use crate::report::Counts;

/// Format version of the checkpoint file.
const FORMAT: u32 = 2;

/// The format of the single-cursor checkpoints of earlier releases, still read.
const FORMAT_SINGLE_CURSOR: u32 = 1;

/// The position of a backfill: everything before it is copied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// File format version.
    pub format: u32,
    /// Identifies the source and target pair (passwords removed).
    pub fingerprint: String,
    /// The source URL, masked (for people reading the file).
    pub source: String,
    /// The target URL, masked.
    pub target: String,
    /// The entity being copied.
    pub entity: EntityKind,
    /// The cursor of the tenant page that holds `started` (`None`: the first page).
    pub tenant_page: Option<String>,
    /// The last scope of `entity` started, in key order (the tenant; `""`
    /// for tenants themselves); `None`: none yet. Every scope up to it is
    /// finished unless it is in `in_progress`.
    pub started: Option<String>,
    /// The scopes started and not finished, each with the cursor after its
    /// last copied batch (`None`: its start).
    pub in_progress: BTreeMap<String, Option<String>>,
    /// The length of the errors file that holds the failures of exactly the
    /// batches counted here (`None`: not known, as in format 1). A resumed
    /// run cuts the file back to it, so that the failures of a batch copied
    /// again after a kill are not listed twice.
    #[serde(default)]
    pub errors_bytes: Option<u64>,
    /// The errors file `errors_bytes` measures, as given: a resumed run
    /// with another `--errors` file leaves that file's lines alone.
    #[serde(default)]
    pub errors_file: Option<PathBuf>,
    /// The counts so far, per entity.
    pub counts: BTreeMap<EntityKind, Counts>,
}

/// A format 1 checkpoint: one tenant in progress, one cursor.
#[derive(Debug, Deserialize)]
struct SingleCursor {
    fingerprint: String,
    source: String,
    target: String,
    entity: EntityKind,
    tenant_page: Option<String>,
    tenant: Option<String>,
    cursor: Option<String>,
    counts: BTreeMap<EntityKind, Counts>,
}

impl From<SingleCursor> for Checkpoint {
    /// Format 1 copied tenants one at a time in key order: the tenants
    /// before `tenant` are finished and `tenant` is at `cursor`.
    fn from(old: SingleCursor) -> Self {
        let scope = if old.entity == EntityKind::Tenant {
            Some(String::new())
        } else {
            old.tenant
        };
        let mut in_progress = BTreeMap::new();
        if let Some(scope) = &scope {
            in_progress.insert(scope.clone(), old.cursor);
        }
        Self {
            format: FORMAT,
            fingerprint: old.fingerprint,
            source: old.source,
            target: old.target,
            entity: old.entity,
            tenant_page: old.tenant_page,
            started: scope,
            in_progress,
            errors_bytes: None,
            errors_file: None,
            counts: old.counts,
        }
    }
}

/// A short, stable fingerprint of a source and target pair (FNV-1a, 64 bits, hex).
pub fn fingerprint(source_masked: &str, target_masked: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in source_masked
        .bytes()
        .chain(std::iter::once(b'\n'))
        .chain(target_masked.bytes())
    {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

/// The default checkpoint file of a fingerprint, in the working directory.
pub fn default_path(fingerprint: &str) -> PathBuf {
    PathBuf::from(format!(".switchyard-backfill-{fingerprint}.json"))
}

/// Writes `bytes` to `path` atomically and readable by its owner only: a
/// temporary file, fsync, rename, fsync of the directory. Every checkpoint
/// of the tool (backfill, import) is written through it, so that a run
/// killed at any moment leaves the old file or the new one, never half.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    // A leftover temporary file keeps its old mode: start from none.
    let _ = fs::remove_file(&tmp);
    {
        let mut options = fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
    }
    fs::rename(&tmp, path)?;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    // Makes the rename itself durable; not every platform lets a directory be opened.
    if let Ok(dir) = File::open(dir) {
        let _ = dir.sync_all();
    }
    Ok(())
}

impl Checkpoint {
    /// A checkpoint at the very start.
    pub fn start(fingerprint: String, source: String, target: String) -> Self {
        Self {
            format: FORMAT,
            fingerprint,
            source,
            target,
            entity: EntityKind::Tenant,
            tenant_page: None,
            started: None,
            in_progress: BTreeMap::new(),
            errors_bytes: None,
            errors_file: None,
            counts: BTreeMap::new(),
        }
    }

    /// Reads the checkpoint at `path` if it exists and belongs to `fingerprint`.
    /// A checkpoint of another pair is an error (a wrong `--checkpoint`); an
    /// unreadable one too, rather than silently starting over.
    pub fn load(path: &Path, fingerprint: &str) -> std::io::Result<Option<Self>> {
        let text = match fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let unreadable = |e: serde_json::Error| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "checkpoint {} is not readable ({e}); remove it or pass --restart",
                    path.display()
                ),
            )
        };
        let value: serde_json::Value = serde_json::from_str(&text).map_err(unreadable)?;
        let checkpoint: Self = match value.get("format").and_then(serde_json::Value::as_u64) {
            Some(f) if f == u64::from(FORMAT) => {
                serde_json::from_value(value).map_err(unreadable)?
            }
            Some(f) if f == u64::from(FORMAT_SINGLE_CURSOR) => {
                serde_json::from_value::<SingleCursor>(value)
                    .map_err(unreadable)?
                    .into()
            }
            found => {
                // A newer switchyard's position cannot be guessed: resuming
                // from a misread one could skip records.
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!(
                        "checkpoint {} has format {}, which this switchyard does not know (it reads {FORMAT_SINGLE_CURSOR} and {FORMAT}); resume with the switchyard that wrote it, or pass --restart to start over",
                        path.display(),
                        found.map_or_else(|| "none".to_owned(), |f| f.to_string()),
                    ),
                ));
            }
        };
        if checkpoint.fingerprint != fingerprint {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "checkpoint {} belongs to another backfill ({} -> {}); remove it or pass --restart",
                    path.display(),
                    checkpoint.source,
                    checkpoint.target
                ),
            ));
        }
        Ok(Some(checkpoint))
    }

    /// Writes the checkpoint atomically (see [`write_private`]).
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        // The cursor holds a whole key, and a code's key is a bearer token.
        write_private(path, &serde_json::to_vec_pretty(self)?)
    }

    /// Removes the checkpoint file (a finished run).
    pub fn remove(path: &Path) -> std::io::Result<()> {
        match fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_another_pair() {
        let dir = std::env::temp_dir().join(format!("switchyard-cp-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("cp.json");
        let fp = fingerprint("sqlx+sqlite://a.db", "seaorm+sqlite://b.db");
        assert_eq!(fp.len(), 16);
        assert_ne!(
            fp,
            fingerprint("sqlx+sqlite://a.db", "seaorm+sqlite://c.db")
        );
        let mut cp = Checkpoint::start(fp.clone(), "a".into(), "b".into());
        cp.entity = EntityKind::Session;
        cp.started = Some("t3".into());
        cp.in_progress.insert("t2".into(), None);
        cp.in_progress.insert("t3".into(), Some("cursor".into()));
        cp.errors_bytes = Some(120);
        cp.errors_file = Some(PathBuf::from("errors.jsonl"));
        cp.counts.insert(
            EntityKind::User,
            Counts {
                copied: 3,
                skipped: 1,
                ..Counts::default()
            },
        );
        cp.save(&path).unwrap();
        assert_eq!(Checkpoint::load(&path, &fp).unwrap(), Some(cp));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(
                mode & 0o077,
                0,
                "the checkpoint is readable by others: {mode:o}"
            );
        }
        assert!(Checkpoint::load(&path, "0000000000000000").is_err());
        Checkpoint::remove(&path).unwrap();
        assert_eq!(Checkpoint::load(&path, &fp).unwrap(), None);
        fs::remove_dir_all(&dir).unwrap();
    }
}

#[cfg(test)]
mod format_tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("switchyard-cpf-{name}-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_single_cursor_checkpoint_resumes_its_tenant_at_its_cursor() {
        let dir = dir("v1");
        let path = dir.join("cp.json");
        let v1 = serde_json::json!({
            "format": 1, "fingerprint": "f", "source": "a", "target": "b",
            "entity": "session", "tenant_page": "page2", "tenant": "t7",
            "cursor": "c9", "counts": {"user": {"copied": 4, "skipped": 0, "failed": 0}}
        });
        fs::write(&path, v1.to_string()).unwrap();
        let cp = Checkpoint::load(&path, "f").unwrap().unwrap();
        assert_eq!(cp.format, FORMAT);
        assert_eq!(cp.entity, EntityKind::Session);
        assert_eq!(cp.tenant_page.as_deref(), Some("page2"));
        assert_eq!(cp.started.as_deref(), Some("t7"));
        assert_eq!(
            cp.in_progress,
            BTreeMap::from([("t7".to_owned(), Some("c9".to_owned()))])
        );
        assert_eq!(cp.counts[&EntityKind::User].copied, 4);
        // Tenants themselves: the one global scope, at its cursor.
        let v1 = serde_json::json!({
            "format": 1, "fingerprint": "f", "source": "a", "target": "b",
            "entity": "tenant", "tenant_page": null, "tenant": null,
            "cursor": "c1", "counts": {}
        });
        fs::write(&path, v1.to_string()).unwrap();
        let cp = Checkpoint::load(&path, "f").unwrap().unwrap();
        assert_eq!(
            cp.in_progress,
            BTreeMap::from([(String::new(), Some("c1".to_owned()))])
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_checkpoint_of_an_unknown_format_is_refused_naming_restart() {
        let dir = dir("v9");
        let path = dir.join("cp.json");
        let mut cp =
            serde_json::to_value(Checkpoint::start("f".into(), "a".into(), "b".into())).unwrap();
        cp["format"] = 9.into();
        fs::write(&path, cp.to_string()).unwrap();
        let err = Checkpoint::load(&path, "f").unwrap_err().to_string();
        assert!(
            err.contains("format 9") && err.contains("--restart"),
            "{err}"
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}
