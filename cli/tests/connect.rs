//! Connecting fails fast and says why (issue 17): a refused port, an unknown
//! database, a rejected password and an unwritable SQLite path each fail
//! within a few seconds, through every backend, with the database's reason
//! and what to check, said once, and never the URL's password.

mod common;

use std::process::Output;
use std::time::{Duration, Instant};

use common::{backends, stderr, switchyard, temp_dir};
use sqlx::Connection as _;

/// Well under sqlx's 30 s pool timeout, which hid every cause before.
const BOUND: Duration = Duration::from_secs(10);

/// Runs `switchyard migrate --target URL` (plus `extra` arguments) and
/// returns its output and how long it took.
fn migrate(url: &str, extra: &[&str]) -> (Output, Duration) {
    let dir = temp_dir();
    let started = Instant::now();
    let output = switchyard(dir.path())
        .args(extra)
        .args(["migrate", "--target", url])
        .output()
        .expect("cannot run switchyard");
    let elapsed = started.elapsed();
    eprintln!(
        "$ switchyard migrate --target <url> -> {:?} in {elapsed:?}\n{}",
        output.status.code(),
        stderr(&output)
    );
    (output, elapsed)
}

/// Checks a failed connect: exit 2 within `bound`, the reason and the
/// advice once each, no repeated chain, no `secret`.
fn assert_fails(url: &str, bound: Duration, reason: &str, advice: &str, secret: Option<&str>) {
    let (output, elapsed) = migrate(url, &[]);
    assert_eq!(output.status.code(), Some(2), "{url}: exit status");
    assert!(elapsed < bound, "{url}: took {elapsed:?}");
    let text = stderr(&output);
    assert!(text.contains(reason), "{url}: no `{reason}` in {text}");
    assert!(text.contains(advice), "{url}: no `{advice}` in {text}");
    assert_eq!(
        text.matches("cannot connect").count(),
        1,
        "said once: {text}"
    );
    assert!(!text.contains("backend error"), "no wrapper chain: {text}");
    assert!(!text.contains("pool timed out"), "{text}");
    if let Some(secret) = secret {
        assert!(!text.contains(secret), "the password leaked: {text}");
    }
}

/// The server's address of an admin URL from the environment, with another
/// user, password and database: `postgres://user:pw@host:port/db`.
fn server_url(var: &str, user: &str, password: Option<&str>, database: &str) -> Option<String> {
    let Some(admin) = std::env::var(var).ok().filter(|u| !u.trim().is_empty()) else {
        eprintln!("skipped: {var} is not set");
        assert!(
            !conformance_tests::provision::databases_required(),
            "{var} is required"
        );
        return None;
    };
    let (scheme, rest) = admin.trim().split_once("://")?;
    let rest = rest.split(['/', '?']).next()?;
    let host = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    let userinfo = match password {
        Some(password) => format!("{user}:{password}"),
        None => user.to_owned(),
    };
    Some(format!("{scheme}://{userinfo}@{host}/{database}"))
}

fn unique(prefix: &str) -> String {
    format!(
        "{prefix}_{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    )
}

#[test]
fn a_refused_port_fails_at_once_with_the_reason() {
    for backend in backends() {
        for database in [
            "postgres://postgres:s3cret-pw@127.0.0.1:1/x",
            "mysql://root:s3cret-pw@127.0.0.1:1/x",
        ] {
            assert_fails(
                &format!("{backend}+{database}"),
                BOUND,
                "refused the connection",
                "check that the server is running and that the host and port in the URL are right",
                Some("s3cret-pw"),
            );
        }
    }
}

#[test]
fn an_unknown_host_fails_at_once_with_the_reason() {
    for backend in backends() {
        assert_fails(
            &format!("{backend}+postgres://postgres@no-such-host.invalid:5432/x"),
            BOUND,
            "is unknown",
            "check the host name in the URL",
            None,
        );
    }
}

#[test]
fn a_server_that_never_answers_fails_after_the_connect_timeout() {
    // Accepts connections (the kernel's backlog) but never speaks.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    for backend in backends() {
        let url = format!("{backend}+postgres://postgres@127.0.0.1:{port}/x");
        let (output, elapsed) = migrate(&url, &["--connect-timeout", "1s"]);
        let text = stderr(&output);
        assert_eq!(output.status.code(), Some(2));
        assert!(
            elapsed >= Duration::from_secs(1) && elapsed < Duration::from_secs(6),
            "{elapsed:?}"
        );
        assert!(text.contains("did not answer within 1s"), "{text}");
        assert!(text.contains("allow a longer connect timeout"), "{text}");
    }
    drop(listener);
}

#[test]
fn an_unknown_database_fails_with_the_reason() {
    let name = unique("sy_missing");
    for (var, user) in [
        ("SWITCHYARD_POSTGRES_URL", "postgres"),
        ("SWITCHYARD_MYSQL_URL", "root"),
    ] {
        let Some(url) = server_url(var, user, None, &name) else {
            continue;
        };
        for backend in backends() {
            assert_fails(
                &format!("{backend}+{url}"),
                BOUND,
                "the database does not exist",
                "check its name in the URL, or create it first",
                None,
            );
        }
    }
}

/// Creates a user with a password on both servers, connects with a wrong
/// one, and drops the user.
#[test]
fn a_rejected_password_fails_with_the_reason_and_never_shows_it() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let user = unique("sy_pw");
    let wrong = "wrong-pass-0d1f";
    // MariaDB: a real password check.
    if let Some(admin) = server_url("SWITCHYARD_MYSQL_URL", "root", None, "mysql") {
        runtime.block_on(async {
            let mut conn = sqlx::MySqlConnection::connect(&admin).await.expect("admin");
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "CREATE USER '{user}'@'%' IDENTIFIED BY 'right-pass-9c2e'; CREATE USER '{user}'@'localhost' IDENTIFIED BY 'right-pass-9c2e'"
            )))
            .execute(&mut conn)
            .await
            .expect("create user");
        });
        let url = server_url("SWITCHYARD_MYSQL_URL", &user, Some(wrong), "mysql").expect("url");
        for backend in backends() {
            assert_fails(
                &format!("{backend}+{url}"),
                BOUND,
                "refused the user or password",
                "check the user and password in the URL",
                Some(wrong),
            );
        }
        runtime.block_on(async {
            let mut conn = sqlx::MySqlConnection::connect(&admin).await.expect("admin");
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "DROP USER '{user}'@'%'; DROP USER '{user}'@'localhost'"
            )))
            .execute(&mut conn)
            .await
            .expect("drop user");
        });
    }
    // PostgreSQL: a CI server trusts local connections (any password is
    // accepted), so the role has a password but may not log in: the server
    // rejects it at authentication (SQLSTATE 28000), as it would a wrong
    // password under password authentication.
    if let Some(admin) = server_url("SWITCHYARD_POSTGRES_URL", "postgres", None, "postgres") {
        runtime.block_on(async {
            let mut conn = sqlx::PgConnection::connect(&admin).await.expect("admin");
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "CREATE ROLE {user} NOLOGIN PASSWORD 'right-pass-9c2e'"
            )))
            .execute(&mut conn)
            .await
            .expect("create role");
        });
        let url =
            server_url("SWITCHYARD_POSTGRES_URL", &user, Some(wrong), "postgres").expect("url");
        for backend in backends() {
            assert_fails(
                &format!("{backend}+{url}"),
                BOUND,
                "refused the user or password",
                "check the user and password in the URL",
                Some(wrong),
            );
        }
        runtime.block_on(async {
            let mut conn = sqlx::PgConnection::connect(&admin).await.expect("admin");
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP ROLE {user}")))
                .execute(&mut conn)
                .await
                .expect("drop role");
        });
    }
}

#[test]
fn an_unwritable_sqlite_path_fails_with_the_reason() {
    let dir = temp_dir();
    // A regular file where a directory should be: unwritable even for root.
    let file = dir.path().join("plain-file");
    std::fs::write(&file, b"not a directory").expect("write");
    for backend in backends() {
        assert_fails(
            &format!("{backend}+sqlite://{}/app.db", file.display()),
            BOUND,
            "SQLite cannot open or create",
            "check that its directory exists and is writable",
            None,
        );
    }
    // A missing directory is named as such before any backend runs.
    let (output, _) = migrate(
        &format!("sqlx+sqlite://{}/no-such-dir/app.db", dir.path().display()),
        &[],
    );
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(2));
    assert!(text.contains("no-such-dir` does not exist"), "{text}");
}

/// A loopback TCP proxy to a database that can be killed, as a server that
/// goes away: its listener closes (a new connection is refused, the kernel's
/// ECONNREFUSED) and every connection through it is dropped.
struct KillableProxy {
    port: u16,
    accepting: tokio::task::JoinHandle<()>,
    piping: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>>,
}

impl KillableProxy {
    /// Listens on a free loopback port and forwards to `upstream` (`host:port`).
    async fn start(upstream: String) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the proxy");
        let port = listener.local_addr().expect("address").port();
        let piping = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let pipes = piping.clone();
        let accepting = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let upstream = upstream.clone();
                let pipe = tokio::spawn(async move {
                    if let Ok(mut server) = tokio::net::TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                pipes
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(pipe.abort_handle());
            }
        });
        Self {
            port,
            accepting,
            piping,
        }
    }

    /// Closes the listener and every connection; returns once the port refuses.
    async fn kill(self) {
        self.accepting.abort();
        let _ = self.accepting.await;
        for pipe in self
            .piping
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain(..)
        {
            pipe.abort();
        }
        // The pipes drop their sockets when aborted; wait until the port refuses.
        let started = Instant::now();
        while tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .is_ok()
        {
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "the port still accepts"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// `url` with its `host:port` replaced by `127.0.0.1:port`, and the host
/// and port it had.
fn through(url: &str, port: u16) -> (String, String) {
    let (scheme, rest) = url.split_once("://").expect("a server URL");
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let (userinfo, host) = match authority.rsplit_once('@') {
        Some((userinfo, host)) => (format!("{userinfo}@"), host),
        None => (String::new(), authority),
    };
    (
        format!("{scheme}://{userinfo}127.0.0.1:{port}{tail}"),
        host.to_owned(),
    )
}

/// The acquire timeout the store below runs with.
const ACQUIRE: Duration = Duration::from_secs(2);

/// Connects `backend+url` through a proxy, reads the schema version (the
/// pool now holds a live connection), kills the proxy and reads again:
/// the query must fail within a few seconds of the acquire timeout, say
/// that the database stopped answering and why (refused), and not show
/// `password`.
async fn fails_after_the_database_went_away(backend: &str, url: &str, password: &str) {
    use switchyard_cli::store::Store;
    use switchyard_cli::url::StoreUrl;

    let (_, upstream) = through(url, 0);
    let proxy = KillableProxy::start(upstream).await;
    let (mut proxied, _) = through(url, proxy.port);
    if backend == "diesel" && proxied.starts_with("mysql:") {
        // mysql_async (under diesel-async) moves a connection to 127.0.0.1
        // onto the server's Unix socket, which bypasses the proxy.
        proxied.push_str("?prefer_socket=false");
    }
    let store_url: StoreUrl = format!("{backend}+{proxied}").parse().expect("store URL");
    let store = Store::connect(&store_url, false)
        .await
        .unwrap_or_else(|e| panic!("{backend}: connect through the proxy: {e}"));
    store
        .schema_version()
        .await
        .unwrap_or_else(|e| panic!("{backend}: a query through the proxy: {e}"));
    proxy.kill().await;
    let started = Instant::now();
    let error = store
        .schema_version()
        .await
        .expect_err("the database went away");
    let elapsed = started.elapsed();
    // As the binary prints it: the error and its sources.
    let mut text = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    eprintln!("{}: failed after {elapsed:?}: {text}", store_url.masked());
    assert!(
        elapsed < ACQUIRE + Duration::from_secs(3),
        "{backend}: took {elapsed:?}: {text}"
    );
    assert!(text.contains("refused"), "{backend}: no reason in {text}");
    if backend == "diesel" {
        // deadpool does not retry: the refused connection fails at once,
        // and a fresh one tells the reason diesel-async drops.
        assert!(elapsed < Duration::from_secs(1), "{elapsed:?}");
    } else {
        // sqlx retries until the acquire timeout (not its own 30 s).
        assert!(
            elapsed >= ACQUIRE - Duration::from_millis(100),
            "{backend}: {elapsed:?}"
        );
        assert!(text.contains("the database stopped answering"), "{text}");
    }
    assert!(
        !text.contains(password),
        "{backend}: the password leaked: {text}"
    );
    assert!(
        !format!("{error:?}").contains(password),
        "{backend}: the password leaked in {error:?}"
    );
    assert!(!text.contains("pool timed out"), "{backend}: {text}");
}

/// Issue 17's last case: a store that connected, whose database then went
/// away. A pool would wait sqlx's 30 s and say only that it timed out;
/// every backend now fails the query within a few seconds of the acquire
/// timeout with the database's reason, on PostgreSQL and MariaDB.
#[test]
fn a_database_that_goes_away_after_connecting_fails_with_the_reason() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    switchyard_cli::store::set_connect_timeout(Duration::from_secs(1));
    switchyard_cli::store::set_acquire_timeout(ACQUIRE);
    let password = "s3cret-acq-7f";
    let user = unique("sy_acq");
    let mut servers = Vec::new();
    // PostgreSQL trusts local connections: any password is accepted.
    if let Some(url) = server_url(
        "SWITCHYARD_POSTGRES_URL",
        "postgres",
        Some(password),
        "postgres",
    ) {
        servers.push(url);
    }
    // MariaDB checks it: a user with that password, for this test only.
    let mysql_admin = server_url("SWITCHYARD_MYSQL_URL", "root", None, "mysql");
    if let Some(admin) = &mysql_admin {
        runtime.block_on(async {
            let mut conn = sqlx::MySqlConnection::connect(admin).await.expect("admin");
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "CREATE DATABASE {user}; CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'; CREATE USER '{user}'@'localhost' IDENTIFIED BY '{password}'; GRANT ALL ON {user}.* TO '{user}'@'%'; GRANT ALL ON {user}.* TO '{user}'@'localhost'"
            )))
            .execute(&mut conn)
            .await
            .expect("create user");
        });
        servers.extend(server_url(
            "SWITCHYARD_MYSQL_URL",
            &user,
            Some(password),
            &user,
        ));
    }
    let mut failures = Vec::new();
    for url in &servers {
        for backend in backends() {
            let outcome = runtime.block_on(async {
                tokio::spawn({
                    let (backend, url) = (backend.to_owned(), url.clone());
                    async move { fails_after_the_database_went_away(&backend, &url, password).await }
                })
                .await
            });
            if let Err(panic) = outcome {
                failures.push(format!("{backend} {url}: {panic}"));
            }
        }
    }
    if let Some(admin) = &mysql_admin {
        runtime.block_on(async {
            let mut conn = sqlx::MySqlConnection::connect(admin).await.expect("admin");
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "DROP USER '{user}'@'%'; DROP USER '{user}'@'localhost'; DROP DATABASE {user}"
            )))
            .execute(&mut conn)
            .await
            .expect("drop user");
        });
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// A pool whose connections are all taken while the database answers: the
/// query fails after the acquire timeout and says so, and what to raise.
#[test]
fn a_pool_whose_connections_stay_busy_says_so() {
    let Some(url) = server_url("SWITCHYARD_POSTGRES_URL", "postgres", None, "postgres") else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(1))
            .connect(&url)
            .await
            .expect("pool");
        let store = adapter_sqlx::SqlxStore::from_postgres_pool(pool.clone());
        let held = pool.acquire().await.expect("the one connection");
        let started = Instant::now();
        let error = store
            .schema_version()
            .await
            .expect_err("no free connection");
        let elapsed = started.elapsed();
        let text = error.to_string();
        eprintln!("busy: failed after {elapsed:?}: {text}");
        assert!(
            matches!(error, adapter_interfaces::AdapterError::PoolTimeout { .. }),
            "{error:?}"
        );
        assert!(
            elapsed >= Duration::from_millis(900) && elapsed < Duration::from_secs(5),
            "{elapsed:?}"
        );
        assert!(text.contains("all 1 connections of the pool"), "{text}");
        assert!(text.contains("were busy for 1s"), "{text}");
        assert!(text.contains("raise the acquire timeout"), "{text}");
        drop(held);
        assert_eq!(store.schema_version().await.ok().map(|_| ()), Some(()));
    });
}
