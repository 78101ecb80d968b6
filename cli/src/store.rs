//! Connecting to a store named by a [`StoreUrl`], whatever its backend, and
//! the schema checks every command makes before it writes.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use adapter_interfaces::schema::SCHEMA_VERSION;
use adapter_interfaces::{AdapterError, ConnectOptions, DataAdapters};

use crate::url::{Database, StoreUrl, UrlError};

/// Why a store could not be used. Messages show masked URLs only.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The URL is malformed or names a backend this build lacks.
    #[error(transparent)]
    Url(#[from] UrlError),
    /// The database did not answer, or refused the connection. The backend's
    /// message is part of this one (not a source), so a printed chain says
    /// the reason once.
    #[error("cannot connect to {url}: {error}")]
    Connect {
        /// The masked URL.
        url: String,
        /// The backend's error: why, and what to check.
        error: AdapterError,
    },
    /// A SQLite source file that does not exist (connecting would create it).
    #[error("cannot open {url}: the SQLite file `{path}` does not exist")]
    MissingFile {
        /// The masked URL.
        url: String,
        /// The path.
        path: String,
    },
    /// A SQLite file whose directory does not exist (SQLite creates files, not directories).
    #[error(
        "cannot open {url}: the directory `{path}` does not exist; create it first or check the path"
    )]
    MissingDirectory {
        /// The masked URL.
        url: String,
        /// The directory.
        path: String,
    },
    /// The store has no Switchyard schema.
    #[error("{url} has no Switchyard schema; run `switchyard migrate --target {url}` first")]
    NoSchema {
        /// The masked URL.
        url: String,
    },
    /// The store's schema version differs from this build's.
    #[error(
        "{url} has schema version {found}, but this switchyard uses version {expected}; nothing was written{}",
        if found < expected { format!(" (run `switchyard migrate --target {url}` to upgrade it: version 2 adds the replication journal and the shared stage, version 3 the users' case-folded name columns)") } else { String::new() }
    )]
    SchemaVersion {
        /// The masked URL.
        url: String,
        /// The version found.
        found: i64,
        /// The version expected.
        expected: i64,
    },
    /// Any other backend failure (its message included, as for `Connect`).
    #[error("{url}: {error}")]
    Backend {
        /// The masked URL.
        url: String,
        /// The backend's error.
        error: AdapterError,
    },
}

/// The connect timeout of this process, in milliseconds (0: the default).
/// The binary sets it once from `--connect-timeout`, before it opens a store;
/// a process-wide setting, so that every command's many `Store::connect`
/// calls need no extra argument.
static CONNECT_TIMEOUT_MS: AtomicU64 = AtomicU64::new(0);

/// The acquire timeout of this process, in milliseconds (0: the default);
/// set once from `--acquire-timeout`, as the connect timeout is.
static ACQUIRE_TIMEOUT_MS: AtomicU64 = AtomicU64::new(0);

/// At least one millisecond (0 stands for the default).
fn millis(timeout: Duration) -> u64 {
    u64::try_from(timeout.as_millis())
        .unwrap_or(u64::MAX)
        .max(1)
}

/// Sets how long every later [`Store::connect`] may take to reach its database.
pub fn set_connect_timeout(timeout: Duration) {
    CONNECT_TIMEOUT_MS.store(millis(timeout), Ordering::Relaxed);
}

/// Sets how long a query of every later store waits for a pooled
/// connection before it fails with the reason
/// ([`ConnectOptions::acquire_timeout`]).
pub fn set_acquire_timeout(timeout: Duration) {
    ACQUIRE_TIMEOUT_MS.store(millis(timeout), Ordering::Relaxed);
}

/// A backend's connection failure at `url`, its password masked.
fn connect_error(url: &StoreUrl) -> impl Fn(AdapterError) -> StoreError + '_ {
    |error| StoreError::Connect {
        url: url.masked(),
        error,
    }
}

/// The options every backend's `connect_with` receives.
fn connect_options() -> ConnectOptions {
    let options = match CONNECT_TIMEOUT_MS.load(Ordering::Relaxed) {
        0 => ConnectOptions::default(),
        millis => ConnectOptions::with_timeout(Duration::from_millis(millis)),
    };
    match ACQUIRE_TIMEOUT_MS.load(Ordering::Relaxed) {
        0 => options,
        millis => options.with_acquire_timeout(Duration::from_millis(millis)),
    }
}

enum Inner {
    #[cfg(feature = "sqlx")]
    Sqlx(adapter_sqlx::SqlxStore),
    #[cfg(feature = "seaorm")]
    SeaOrm(adapter_seaorm::SeaOrmStore),
    #[cfg(feature = "diesel")]
    Diesel(adapter_diesel::DieselStore),
}

/// An open store: its URL, its backend handle and its adapters.
pub struct Store {
    url: StoreUrl,
    inner: Inner,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Store({})", self.url)
    }
}

/// Runs `$body` with `$store` bound to the backend handle, whichever it is.
macro_rules! with_inner {
    ($inner:expr, $store:ident => $body:expr) => {
        match *$inner {
            #[cfg(feature = "sqlx")]
            Inner::Sqlx(ref $store) => $body,
            #[cfg(feature = "seaorm")]
            Inner::SeaOrm(ref $store) => $body,
            #[cfg(feature = "diesel")]
            Inner::Diesel(ref $store) => $body,
        }
    };
}

impl Store {
    /// Connects to `url`. For a SQLite file that must already exist (a
    /// source), pass `must_exist`, so that a typo does not create an empty file.
    #[allow(unreachable_code, unused_variables)]
    pub async fn connect(url: &StoreUrl, must_exist: bool) -> Result<Self, StoreError> {
        if must_exist
            && let Some(path) = url.sqlite_path()
            && !std::path::Path::new(path).exists()
        {
            return Err(StoreError::MissingFile {
                url: url.masked(),
                path: path.to_owned(),
            });
        }
        if url.database() == Database::Sqlite
            && let Some(parent) = url
                .sqlite_path()
                .and_then(|path| std::path::Path::new(path).parent())
            && !parent.as_os_str().is_empty()
            && !parent.exists()
        {
            return Err(StoreError::MissingDirectory {
                url: url.masked(),
                path: parent.display().to_string(),
            });
        }
        let options = connect_options();
        let connect_error = connect_error(url);
        let inner = match url.backend() {
            #[cfg(feature = "sqlx")]
            crate::url::Backend::Sqlx => Inner::Sqlx(
                adapter_sqlx::connect_with(url.database_url(), &options)
                    .await
                    .map_err(connect_error)?,
            ),
            #[cfg(feature = "seaorm")]
            crate::url::Backend::SeaOrm => Inner::SeaOrm(
                adapter_seaorm::connect_with(url.database_url(), &options)
                    .await
                    .map_err(connect_error)?,
            ),
            #[cfg(feature = "diesel")]
            crate::url::Backend::Diesel => Inner::Diesel(
                adapter_diesel::connect_with(url.database_url(), &options)
                    .await
                    .map_err(connect_error)?,
            ),
            #[allow(unreachable_patterns)]
            backend => {
                let _ = connect_error;
                return Err(UrlError::BackendDisabled {
                    backend,
                    url: url.masked(),
                }
                .into());
            }
        };
        Ok(Self {
            url: url.clone(),
            inner,
        })
    }

    /// Opens `url` without connecting until the first query, for a store that
    /// may be down when the process starts (a migration's secondary, whose
    /// copies wait in the journal). A server opens lazily on every backend;
    /// SQLite (a file, never "down") connects at once, as [`Store::connect`] does.
    #[allow(unreachable_code, unused_variables)]
    pub async fn connect_lazy(url: &StoreUrl) -> Result<Self, StoreError> {
        if url.database() == Database::Sqlite {
            return Self::connect(url, true).await;
        }
        let connect_error = connect_error(url);
        let inner = match url.backend() {
            #[cfg(feature = "sqlx")]
            crate::url::Backend::Sqlx => Inner::Sqlx(
                adapter_sqlx::connect_lazy_with(url.database_url(), &connect_options())
                    .map_err(connect_error)?,
            ),
            #[cfg(feature = "seaorm")]
            crate::url::Backend::SeaOrm => Inner::SeaOrm(
                adapter_seaorm::connect_lazy_with(url.database_url(), &connect_options())
                    .await
                    .map_err(connect_error)?,
            ),
            #[cfg(feature = "diesel")]
            crate::url::Backend::Diesel => Inner::Diesel(
                adapter_diesel::connect_lazy_with(url.database_url(), &connect_options())
                    .map_err(connect_error)?,
            ),
            #[allow(unreachable_patterns)]
            _ => return Self::connect(url, true).await,
        };
        Ok(Self {
            url: url.clone(),
            inner,
        })
    }

    /// The store's URL.
    pub fn url(&self) -> &StoreUrl {
        &self.url
    }

    /// The adapters of this store.
    #[allow(unreachable_code)]
    pub fn adapters(&self) -> DataAdapters {
        with_inner!(&self.inner, store => store.adapters())
    }

    /// Applies the schema (idempotent).
    #[allow(unreachable_code)]
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let result: Result<(), AdapterError> =
            with_inner!(&self.inner, store => store.migrate().await);
        result.map_err(|source| self.backend_error(source))
    }

    /// The schema version, `None` when the store has no schema.
    #[allow(unreachable_code)]
    pub async fn schema_version(&self) -> Result<Option<i64>, StoreError> {
        let result: Result<Option<i64>, AdapterError> =
            with_inner!(&self.inner, store => store.schema_version().await);
        result.map_err(|source| self.backend_error(source))
    }

    /// Checks that the store has this build's schema version.
    pub async fn require_schema(&self) -> Result<(), StoreError> {
        match self.schema_version().await? {
            Some(SCHEMA_VERSION) => Ok(()),
            Some(found) => Err(self.version_error(found)),
            None => Err(StoreError::NoSchema {
                url: self.url.masked(),
            }),
        }
    }

    /// Checks the schema version, migrating first when the store has none
    /// (an empty database). Returns whether it migrated.
    pub async fn require_or_migrate(&self) -> Result<bool, StoreError> {
        match self.schema_version().await? {
            Some(SCHEMA_VERSION) => Ok(false),
            Some(found) => Err(self.version_error(found)),
            None => {
                self.migrate().await?;
                Ok(true)
            }
        }
    }

    fn version_error(&self, found: i64) -> StoreError {
        StoreError::SchemaVersion {
            url: self.url.masked(),
            found,
            expected: SCHEMA_VERSION,
        }
    }

    fn backend_error(&self, error: AdapterError) -> StoreError {
        StoreError::Backend {
            url: self.url.masked(),
            error,
        }
    }
}
