//! Store URLs: `BACKEND+DATABASE_URL`, e.g. `sqlx+postgres://postgres@127.0.0.1/app`.
//!
//! The backend names the ORM (`sqlx`, `seaorm`, `diesel`); the rest is the
//! database URL that backend's `connect` receives. Passwords never leave this
//! module unmasked except through [`StoreUrl::database_url`], which is only
//! handed to the driver.

use std::fmt;
use std::str::FromStr;

/// The ORM that serves a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// `adapter-sqlx`.
    Sqlx,
    /// `adapter-seaorm`.
    SeaOrm,
    /// `adapter-diesel`.
    Diesel,
}

impl Backend {
    /// Every backend, in the order they are listed in messages.
    pub const ALL: [Backend; 3] = [Backend::Sqlx, Backend::SeaOrm, Backend::Diesel];

    /// The name used in URLs.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlx => "sqlx",
            Backend::SeaOrm => "seaorm",
            Backend::Diesel => "diesel",
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The database family of a store URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Database {
    /// `postgres://` or `postgresql://`.
    Postgres,
    /// `mysql://` or `mariadb://`.
    MySql,
    /// `sqlite://path` or `sqlite::memory:`.
    Sqlite,
}

/// Why a store URL was rejected. Messages never contain the password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    /// No `BACKEND+` prefix.
    #[error(
        "`{0}` is not a store URL: expected BACKEND+DATABASE_URL, e.g. sqlx+postgres://postgres@127.0.0.1/app, seaorm+mysql://root@127.0.0.1/app or diesel+sqlite://data/app.db"
    )]
    MissingBackend(String),
    /// A backend name that is not one of ours.
    #[error("unknown backend `{backend}` in `{url}`: use one of sqlx, seaorm, diesel")]
    UnknownBackend {
        /// The name given.
        backend: String,
        /// The masked URL.
        url: String,
    },
    /// A database scheme no backend serves.
    #[error(
        "unsupported database in `{0}`: the database URL must start with postgres://, postgresql://, mysql://, mariadb:// or sqlite://"
    )]
    UnknownDatabase(String),
    /// A backend this build was compiled without.
    #[error(
        "backend `{backend}` is not compiled into this switchyard (`{url}`): rebuild the cli crate with feature `{backend}`"
    )]
    BackendDisabled {
        /// The backend.
        backend: Backend,
        /// The masked URL.
        url: String,
    },
}

/// A parsed `BACKEND+DATABASE_URL`.
#[derive(Clone, PartialEq, Eq)]
pub struct StoreUrl {
    backend: Backend,
    database: Database,
    database_url: String,
}

impl StoreUrl {
    /// The backend.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The database family.
    pub fn database(&self) -> Database {
        self.database
    }

    /// The database URL, password included: pass it to the driver only.
    pub fn database_url(&self) -> &str {
        &self.database_url
    }

    /// The SQLite file this URL names (`None` for other databases and in-memory SQLite).
    pub fn sqlite_path(&self) -> Option<&str> {
        if self.database != Database::Sqlite {
            return None;
        }
        let rest = self.database_url.strip_prefix("sqlite:")?;
        if rest.starts_with(":memory:") {
            return None;
        }
        let path = rest.strip_prefix("//").unwrap_or(rest);
        Some(path.split('?').next().unwrap_or(path))
    }

    /// The whole URL with its password masked: what messages show.
    pub fn masked(&self) -> String {
        format!("{}+{}", self.backend, mask_password(&self.database_url))
    }
}

impl fmt::Display for StoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl fmt::Debug for StoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StoreUrl({})", self.masked())
    }
}

impl FromStr for StoreUrl {
    type Err = UrlError;

    fn from_str(url: &str) -> Result<Self, UrlError> {
        let url = url.trim();
        let Some((backend, database_url)) = url.split_once('+') else {
            return Err(UrlError::MissingBackend(mask_password(url)));
        };
        let backend = match backend.to_ascii_lowercase().as_str() {
            "sqlx" => Backend::Sqlx,
            "seaorm" | "sea-orm" => Backend::SeaOrm,
            "diesel" => Backend::Diesel,
            _ if backend.contains("://") => {
                // `postgres+ssl://…` and the like: the URL has no backend prefix at all.
                return Err(UrlError::MissingBackend(mask_password(url)));
            }
            other => {
                return Err(UrlError::UnknownBackend {
                    backend: other.to_owned(),
                    url: mask_password(url),
                });
            }
        };
        let scheme = database_url
            .split_once(':')
            .map(|(scheme, _)| scheme.to_ascii_lowercase());
        let database = match scheme.as_deref() {
            Some("postgres" | "postgresql") if database_url.contains("://") => Database::Postgres,
            Some("mysql" | "mariadb") if database_url.contains("://") => Database::MySql,
            Some("sqlite") => Database::Sqlite,
            _ => return Err(UrlError::UnknownDatabase(mask_password(url))),
        };
        Ok(Self {
            backend,
            database,
            database_url: database_url.to_owned(),
        })
    }
}

/// Masks the password of a URL (`user:secret@host` and `?password=secret`) with `***`.
pub fn mask_password(url: &str) -> String {
    let (head, query) = match url.split_once('?') {
        Some((head, query)) => (head, Some(query)),
        None => (url, None),
    };
    let mut out = match head.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = match rest.find('/') {
                Some(i) => rest.split_at(i),
                None => (rest, ""),
            };
            let authority = match authority.rsplit_once('@') {
                Some((userinfo, host)) => match userinfo.split_once(':') {
                    Some((user, _password)) => format!("{user}:***@{host}"),
                    None => authority.to_owned(),
                },
                None => authority.to_owned(),
            };
            format!("{scheme}://{authority}{path}")
        }
        None => head.to_owned(),
    };
    if let Some(query) = query {
        let params: Vec<String> = query
            .split('&')
            .map(|param| match param.split_once('=') {
                Some((name, _)) if is_secret_param(name) => format!("{name}=***"),
                _ => param.to_owned(),
            })
            .collect();
        out.push('?');
        out.push_str(&params.join("&"));
    }
    out
}

fn is_secret_param(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name.contains("password") || name.contains("secret") || name == "pass" || name == "pwd"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_backend_and_database() {
        let url: StoreUrl = "sqlx+postgres://postgres@127.0.0.1/app".parse().unwrap();
        assert_eq!(url.backend(), Backend::Sqlx);
        assert_eq!(url.database(), Database::Postgres);
        assert_eq!(url.database_url(), "postgres://postgres@127.0.0.1/app");
        let url: StoreUrl = "seaorm+mysql://root@127.0.0.1/app".parse().unwrap();
        assert_eq!(
            (url.backend(), url.database()),
            (Backend::SeaOrm, Database::MySql)
        );
        let url: StoreUrl = "diesel+sqlite://data/app.db".parse().unwrap();
        assert_eq!(
            (url.backend(), url.database()),
            (Backend::Diesel, Database::Sqlite)
        );
        assert_eq!(url.sqlite_path(), Some("data/app.db"));
        let url: StoreUrl = "sqlx+sqlite::memory:".parse().unwrap();
        assert_eq!(url.sqlite_path(), None);
    }

    #[test]
    fn rejects_bad_urls_with_clear_messages() {
        let err = "postgres://u:hunter2@h/db".parse::<StoreUrl>().unwrap_err();
        assert!(matches!(err, UrlError::MissingBackend(_)));
        assert!(!err.to_string().contains("hunter2"));
        let err = "hibernate+postgres://u:hunter2@h/db"
            .parse::<StoreUrl>()
            .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("unknown backend `hibernate`"), "{text}");
        assert!(text.contains("sqlx, seaorm, diesel"), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
        let err = "sqlx+oracle://u:hunter2@h/db"
            .parse::<StoreUrl>()
            .unwrap_err();
        assert!(matches!(err, UrlError::UnknownDatabase(_)));
        assert!(!err.to_string().contains("hunter2"));
    }

    #[test]
    fn masks_passwords_everywhere() {
        let url: StoreUrl =
            "sqlx+postgres://admin:s3cr%40t@db.local:5432/app?sslmode=require&password=x"
                .parse()
                .unwrap();
        assert_eq!(
            url.masked(),
            "sqlx+postgres://admin:***@db.local:5432/app?sslmode=require&password=***"
        );
        assert!(!format!("{url:?}").contains("s3cr"));
        assert_eq!(
            mask_password("mysql://root@127.0.0.1/app"),
            "mysql://root@127.0.0.1/app"
        );
        assert_eq!(mask_password("sqlite://a/b.db"), "sqlite://a/b.db");
    }
}
