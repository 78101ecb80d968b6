//! The backfill checkpoint: where a run is, written atomically after every batch.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use adapter_interfaces::EntityKind;
use serde::{Deserialize, Serialize};

use crate::report::Counts;

/// Format version of the checkpoint file.
const FORMAT: u32 = 1;

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
    /// The cursor of the tenant page that holds `tenant` (`None`: the first page).
    pub tenant_page: Option<String>,
    /// The tenant being copied (`None` for tenants themselves, or before the first tenant).
    pub tenant: Option<String>,
    /// The cursor after the last copied batch of `tenant` (`None`: its start).
    pub cursor: Option<String>,
    /// The counts so far, per entity.
    pub counts: BTreeMap<EntityKind, Counts>,
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
            tenant: None,
            cursor: None,
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
        let checkpoint: Self = serde_json::from_str(&text).map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "checkpoint {} is not readable ({e}); remove it or pass --restart",
                    path.display()
                ),
            )
        })?;
        if checkpoint.format != FORMAT || checkpoint.fingerprint != fingerprint {
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
        cp.tenant = Some("t1".into());
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
