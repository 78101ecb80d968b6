//! Connecting to a database: one options type every backend's `connect_with`
//! takes, and one error that says why a connection failed in plain words.
//!
//! Contract: a backend's `connect` opens one connection first, within
//! [`ConnectOptions::timeout`], so that a wrong URL fails at once with the
//! database's own reason (connection refused, unknown host, authentication
//! failed, no such database, a SQLite file that cannot be opened) rather than
//! after a pool's retries. [`within`] runs that first connection and turns its
//! failure into a [`ConnectError`]; the reason is read from the driver's
//! error chain ([`ConnectReason::classify`]), so the logic is written once for
//! every driver. Messages never contain the URL's password.
//!
//! After that first connection, a query waits at most
//! [`ConnectOptions::acquire_timeout`] for a pooled connection. A pool that
//! gives up says only that it timed out (sqlx retries a refused connection
//! silently until then), so a backend that sees it opens one fresh
//! connection and passes the outcome to [`PoolTimeout::diagnose`]: the
//! database's reason when it has stopped answering, or that the pool's
//! connections were all busy when it still answers.

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::time::Duration;

/// How long a first connection may take by default.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a query waits for a pooled connection by default.
///
/// A third of sqlx's 30 s: a database that went away is reported in about
/// ten seconds rather than half a minute, while a busy pool still has room.
/// Switchyard's statements are short (a page, one batch of at most about
/// 4 MiB, one transaction), so a query that waits this long for one of a
/// pool's connections is a sign of too many concurrent tasks, which the
/// error then says, not normal queueing.
pub const DEFAULT_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// Options of a backend's `connect_with` (and `connect_lazy_with`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectOptions {
    /// How long the first connection may take, and a fresh connection that
    /// explains a pool's timeout (see [`PoolTimeout`]).
    pub timeout: Duration,
    /// How long a query waits for a pooled connection: for one to come free
    /// under load, or for the database to accept a new one (a store opened
    /// lazily, or one whose database went away). Then the query fails with
    /// [`crate::AdapterError::PoolTimeout`], which says why.
    pub acquire_timeout: Duration,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        Self {
            timeout: DEFAULT_CONNECT_TIMEOUT,
            acquire_timeout: DEFAULT_ACQUIRE_TIMEOUT,
        }
    }
}

impl ConnectOptions {
    /// The defaults with another connect timeout.
    pub fn with_timeout(timeout: Duration) -> Self {
        Self {
            timeout,
            ..Self::default()
        }
    }

    /// These options with another acquire timeout.
    #[must_use]
    pub fn with_acquire_timeout(self, acquire_timeout: Duration) -> Self {
        Self {
            acquire_timeout,
            ..self
        }
    }
}

/// The database family a connection was for, as messages name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseKind {
    /// PostgreSQL.
    Postgres,
    /// MySQL or MariaDB.
    MySql,
    /// SQLite.
    Sqlite,
}

impl DatabaseKind {
    /// The family of a database URL's scheme, `None` for an unknown scheme.
    pub fn of_url(url: &str) -> Option<Self> {
        let scheme = url.split_once(':')?.0.to_ascii_lowercase();
        match scheme.as_str() {
            "postgres" | "postgresql" => Some(Self::Postgres),
            "mysql" | "mariadb" => Some(Self::MySql),
            "sqlite" => Some(Self::Sqlite),
            _ => None,
        }
    }
}

impl fmt::Display for DatabaseKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Postgres => "PostgreSQL",
            Self::MySql => "MySQL/MariaDB",
            Self::Sqlite => "SQLite",
        })
    }
}

/// Why a connection failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectReason {
    /// Nothing listens at the host and port.
    Refused,
    /// The host name does not resolve.
    UnknownHost,
    /// The server refused the user or the password.
    Authentication,
    /// The server has no database of that name.
    UnknownDatabase,
    /// A SQLite file that cannot be opened or created there.
    CannotOpenFile,
    /// No answer within the timeout.
    TimedOut,
    /// Anything else the driver reported.
    Other,
}

impl ConnectReason {
    /// Reads the reason from a driver's error chain: I/O error kinds where the
    /// driver keeps them, else the server's standard codes (`sqlstate`, when
    /// the driver exposes it) and message texts, which every driver repeats.
    pub fn classify(error: &(dyn StdError + 'static), sqlstate: Option<&str>) -> Self {
        match sqlstate {
            Some("28000" | "28P01") => return Self::Authentication,
            Some("3D000") => return Self::UnknownDatabase,
            _ => {}
        }
        let mut text = String::new();
        let mut next: Option<&(dyn StdError + 'static)> = Some(error);
        while let Some(error) = next {
            if let Some(io) = error.downcast_ref::<std::io::Error>()
                && io.kind() == std::io::ErrorKind::ConnectionRefused
            {
                return Self::Refused;
            }
            text.push_str(&error.to_string().to_ascii_lowercase());
            text.push('\n');
            next = error.source();
        }
        let any = |needles: &[&str]| needles.iter().any(|needle| text.contains(needle));
        if any(&["connection refused", "os error 111", "os error 61"]) {
            Self::Refused
        } else if any(&[
            "failed to lookup address",
            "name or service not known",
            "nodename nor servname",
            "temporary failure in name resolution",
            "no such host",
            "unknown host",
            "dns error",
        ]) {
            Self::UnknownHost
        } else if any(&[
            "password authentication failed",
            "access denied for user",
            "authentication failed",
            "no pg_hba.conf entry",
            "(1045)",
        ]) || (text.contains("role") && text.contains("does not exist"))
        {
            Self::Authentication
        } else if text.contains("unknown database")
            || text.contains("(1049)")
            || (text.contains("database") && text.contains("does not exist"))
        {
            Self::UnknownDatabase
        } else if any(&["unable to open database file", "readonly database"]) {
            Self::CannotOpenFile
        } else {
            Self::Other
        }
    }
}

/// A connection that failed: where, why, the driver's words (password
/// removed) and what to check. Its message is complete; it has no source, so
/// a printed error chain says it once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectError {
    /// The database family.
    pub database: DatabaseKind,
    /// Where: `host:port/database` or the SQLite path (never the password).
    pub target: String,
    /// Why.
    pub reason: ConnectReason,
    /// The driver's message, password removed (empty when it adds nothing).
    pub detail: String,
    /// The timeout in force.
    pub timeout: Duration,
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self {
            database, target, ..
        } = self;
        let detail = if self.detail.is_empty() {
            String::new()
        } else {
            format!(" ({})", self.detail)
        };
        match self.reason {
            ConnectReason::Refused => write!(
                f,
                "{database} at {target} refused the connection{detail}; check that the server is running and that the host and port in the URL are right"
            ),
            ConnectReason::UnknownHost => write!(
                f,
                "the host of {target} is unknown{detail}; check the host name in the URL"
            ),
            ConnectReason::Authentication => write!(
                f,
                "{database} at {target} refused the user or password{detail}; check the user and password in the URL"
            ),
            ConnectReason::UnknownDatabase => write!(
                f,
                "{database} at {target}: the database does not exist{detail}; check its name in the URL, or create it first"
            ),
            ConnectReason::CannotOpenFile => write!(
                f,
                "SQLite cannot open or create `{target}`{detail}; check that its directory exists and is writable"
            ),
            ConnectReason::TimedOut => write!(
                f,
                "{database} at {target} did not answer within {:?}; check the host, the port and any firewall between, or allow a longer connect timeout",
                self.timeout
            ),
            ConnectReason::Other => write!(
                f,
                "cannot connect to {database} at {target}{detail}; check the URL and that the server accepts connections"
            ),
        }
    }
}

impl StdError for ConnectError {}

/// Where a database URL points, for messages: `host:port/database`, or the
/// SQLite path; user and password left out.
pub fn target_of(url: &str) -> String {
    let rest = match url.split_once("://") {
        Some((_, rest)) => rest,
        None => url.split_once(':').map_or(url, |(_, rest)| rest),
    };
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    match rest.rsplit_once('@') {
        Some((_, host)) => host.to_owned(),
        None => rest.to_owned(),
    }
}

/// The password of a database URL, if it has one (to remove it from driver messages).
fn password_of(url: &str) -> Option<&str> {
    let (_, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let (userinfo, _) = authority.rsplit_once('@')?;
    let (_, password) = userinfo.split_once(':')?;
    (!password.is_empty()).then_some(password)
}

/// `%XX` escapes decoded (invalid ones kept as they are).
fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The message of a driver's error without the URL's password.
pub fn scrub(url: &str, message: &str) -> String {
    let mut message = message.to_owned();
    if let Some(password) = password_of(url) {
        // A URL rebuilt from a driver's options holds the password
        // percent-encoded; the driver's words would hold it decoded.
        for form in [percent_decoded(password), password.to_owned()] {
            if !form.is_empty() {
                message = message.replace(&form, "***");
            }
        }
    }
    for (name, value) in url
        .split_once('?')
        .map(|(_, query)| query)
        .unwrap_or_default()
        .split('&')
        .filter_map(|param| param.split_once('='))
    {
        if name.to_ascii_lowercase().contains("password") && !value.is_empty() {
            message = message.replace(value, "***");
        }
    }
    message
}

/// An error's message followed by those of its sources that it does not
/// already contain (some drivers say only "db error" and keep the server's
/// words in the source).
fn chain_text(error: &(dyn StdError + 'static)) -> String {
    let mut text = error.to_string();
    let mut next = error.source();
    while let Some(source) = next {
        let message = source.to_string();
        if !text.contains(&message) {
            text.push_str(": ");
            text.push_str(&message);
        }
        next = source.source();
    }
    text
}

impl ConnectError {
    /// A failure the driver reported for a connection to `url`.
    pub fn from_driver(
        url: &str,
        options: &ConnectOptions,
        error: &(dyn StdError + 'static),
        sqlstate: Option<&str>,
    ) -> Self {
        let database = DatabaseKind::of_url(url).unwrap_or(DatabaseKind::Postgres);
        let mut reason = ConnectReason::classify(error, sqlstate);
        if database == DatabaseKind::Sqlite && reason == ConnectReason::Other {
            reason = ConnectReason::CannotOpenFile;
        }
        Self {
            database,
            target: target_of(url),
            reason,
            detail: scrub(url, &chain_text(error)),
            timeout: options.timeout,
        }
    }

    /// No answer from `url` within the options' timeout.
    pub fn timed_out(url: &str, options: &ConnectOptions) -> Self {
        Self {
            database: DatabaseKind::of_url(url).unwrap_or(DatabaseKind::Postgres),
            target: target_of(url),
            reason: ConnectReason::TimedOut,
            detail: String::new(),
            timeout: options.timeout,
        }
    }
}

/// A query that got no pooled connection within the acquire timeout, and
/// why: the outcome of one fresh connection opened to find out (a pool that
/// times out keeps no reason). Its message is complete, without the password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolTimeout {
    /// The database family.
    pub database: DatabaseKind,
    /// Where: `host:port/database` or the SQLite path (never the password).
    pub target: String,
    /// How long the query waited: the pool's acquire timeout.
    pub waited: Duration,
    /// How many connections the pool may hold.
    pub pool_size: u32,
    /// Why the fresh connection failed too: the database stopped answering.
    /// `None`: it succeeded, so the pool's connections were all busy.
    pub cause: Option<ConnectError>,
}

impl fmt::Display for PoolTimeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self {
            database,
            target,
            waited,
            pool_size,
            ..
        } = self;
        match &self.cause {
            Some(cause) => write!(
                f,
                "the database stopped answering: no connection within {waited:?} (the acquire timeout), and a new one failed: {cause}"
            ),
            None => write!(
                f,
                "all {pool_size} connections of the pool to {database} at {target} were busy for {waited:?} (the acquire timeout), though the database accepts new connections; raise the acquire timeout (`ConnectOptions::with_acquire_timeout`, switchyard's `--acquire-timeout`) or run fewer tasks at once"
            ),
        }
    }
}

impl StdError for PoolTimeout {}

impl PoolTimeout {
    /// Explains a pool's timeout after `waited` by one fresh connection to
    /// `url`, opened by `fresh` within the options' connect timeout (as
    /// [`within`] does): its failure is the database's reason, its success
    /// means that the pool's `pool_size` connections were all busy. `url`
    /// only names the target and the password to keep out of messages.
    pub async fn diagnose<T, E, F>(
        url: &str,
        options: &ConnectOptions,
        pool_size: u32,
        waited: Duration,
        sqlstate: impl Fn(&E) -> Option<String>,
        fresh: F,
    ) -> Self
    where
        E: StdError + 'static,
        F: Future<Output = Result<T, E>>,
    {
        let cause = within(url, options, sqlstate, fresh).await.err();
        Self {
            database: DatabaseKind::of_url(url).unwrap_or(DatabaseKind::Postgres),
            target: target_of(url),
            waited,
            pool_size,
            cause,
        }
    }
}

/// Runs a backend's first connection to `url` within the options' timeout.
/// `sqlstate` reads the server's SQLSTATE from the driver's error, where the
/// driver exposes it.
pub async fn within<T, E, F>(
    url: &str,
    options: &ConnectOptions,
    sqlstate: impl Fn(&E) -> Option<String>,
    connecting: F,
) -> Result<T, ConnectError>
where
    E: StdError + 'static,
    F: Future<Output = Result<T, E>>,
{
    match tokio::time::timeout(options.timeout, connecting).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(ConnectError::from_driver(
            url,
            options,
            &error,
            sqlstate(&error).as_deref(),
        )),
        Err(_) => Err(ConnectError::timed_out(url, options)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn io(kind: std::io::ErrorKind, text: &str) -> std::io::Error {
        std::io::Error::new(kind, text.to_owned())
    }

    #[test]
    fn reasons_come_from_kinds_codes_and_texts() {
        let refused = io(std::io::ErrorKind::ConnectionRefused, "nope");
        assert_eq!(
            ConnectReason::classify(&refused, None),
            ConnectReason::Refused
        );
        let other = io(std::io::ErrorKind::Other, "x");
        assert_eq!(
            ConnectReason::classify(&other, Some("28P01")),
            ConnectReason::Authentication
        );
        assert_eq!(
            ConnectReason::classify(&other, Some("3D000")),
            ConnectReason::UnknownDatabase
        );
        for (text, reason) in [
            (
                "failed to lookup address information: Name or service not known",
                ConnectReason::UnknownHost,
            ),
            (
                "Access denied for user 'u'@'localhost' (using password: YES)",
                ConnectReason::Authentication,
            ),
            ("Unknown database 'nope'", ConnectReason::UnknownDatabase),
            (
                "database \"nope\" does not exist",
                ConnectReason::UnknownDatabase,
            ),
            (
                "role \"nope\" does not exist",
                ConnectReason::Authentication,
            ),
            (
                "unable to open database file: /x/y.db",
                ConnectReason::CannotOpenFile,
            ),
            ("something else", ConnectReason::Other),
        ] {
            assert_eq!(
                ConnectReason::classify(&io(std::io::ErrorKind::Other, text), None),
                reason,
                "{text}"
            );
        }
    }

    #[test]
    fn messages_name_the_target_never_the_password() {
        let url = "postgres://app:hunter2@db.local:5433/app?sslmode=disable";
        assert_eq!(target_of(url), "db.local:5433/app");
        assert_eq!(target_of("sqlite://data/app.db"), "data/app.db");
        assert_eq!(target_of("sqlite:app.db?mode=rwc"), "app.db");
        let error = io(
            std::io::ErrorKind::Other,
            "password authentication failed for user \"app\" (hunter2)",
        );
        let error = ConnectError::from_driver(url, &ConnectOptions::default(), &error, None);
        let text = error.to_string();
        assert_eq!(error.reason, ConnectReason::Authentication);
        assert!(text.contains("db.local:5433/app"), "{text}");
        assert!(text.contains("check the user and password"), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
        assert!(
            !scrub("mysql://u@h/d?password=s3cret", "bad s3cret").contains("s3cret"),
            "query passwords are removed too"
        );
    }

    #[tokio::test]
    async fn a_pool_timeout_says_why_from_a_fresh_connection() {
        let url = "postgres://app:p%40ss@db.local:5433/app";
        let options = ConnectOptions::default().with_acquire_timeout(Duration::from_secs(2));
        assert_eq!(options.acquire_timeout, Duration::from_secs(2));
        assert_eq!(options.timeout, DEFAULT_CONNECT_TIMEOUT);
        let refused =
            PoolTimeout::diagnose(url, &options, 8, Duration::from_secs(2), |_| None, async {
                Err::<(), _>(io(std::io::ErrorKind::ConnectionRefused, "refused, p@ss"))
            })
            .await;
        let text = refused.to_string();
        assert_eq!(
            refused.cause.as_ref().map(|c| c.reason),
            Some(ConnectReason::Refused)
        );
        assert!(text.starts_with("the database stopped answering"), "{text}");
        assert!(text.contains("refused the connection"), "{text}");
        assert!(!text.contains("p@ss") && !text.contains("p%40ss"), "{text}");
        let busy = PoolTimeout::diagnose(
            url,
            &options,
            8,
            Duration::from_secs(2),
            |_: &std::io::Error| None,
            async { Ok(()) },
        )
        .await;
        let text = busy.to_string();
        assert!(busy.cause.is_none());
        assert!(text.contains("all 8 connections"), "{text}");
        assert!(text.contains("db.local:5433/app"), "{text}");
        assert!(text.contains("raise the acquire timeout"), "{text}");
    }

    #[tokio::test]
    async fn a_first_connection_that_hangs_times_out() {
        let options = ConnectOptions::with_timeout(Duration::from_millis(50));
        let never = std::future::pending::<Result<(), std::io::Error>>();
        let error = within("postgres://h:1/d", &options, |_| None, never)
            .await
            .unwrap_err();
        assert_eq!(error.reason, ConnectReason::TimedOut);
        assert!(error.to_string().contains("did not answer within 50ms"));
    }
}
