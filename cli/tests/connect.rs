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
