//! Fresh databases for backend tests: one uniquely named database per test,
//! dropped when its [`TestDatabase`] drops.
//!
//! Where a server comes from, in order:
//!
//! 1. `SWITCHYARD_POSTGRES_URL` / `SWITCHYARD_MYSQL_URL`, the URL of a
//!    server and an existing database to connect to for administration
//!    (`postgres://postgres@127.0.0.1:5432/postgres`,
//!    `mysql://root@127.0.0.1:3306/mysql`). A URL that is set but does not
//!    work fails the test: it is a configuration error, not a skip.
//! 2. A container started with testcontainers, when a Docker engine answers
//!    (`DOCKER_HOST`, or a Docker socket that accepts a connection). The
//!    tests of one process that run at the same time share one container,
//!    each with its own database in it; it is removed when the last of them
//!    drops its database.
//! 3. Otherwise the function prints one line such as
//!    `skipped: no PostgreSQL (set SWITCHYARD_POSTGRES_URL or start Docker)`
//!    and returns `None`, so that the test passes without running; with
//!    `SWITCHYARD_REQUIRE_DATABASES=1` it panics instead.
//!
//! ```no_run
//! # async fn demo() -> Option<()> {
//! let db = conformance_tests::provision::postgres().await?;
//! println!("connect to {}", db.url()); // postgres://…/sy_0f3c…
//! drop(db); // the database is gone
//! # Some(()) }
//! ```

use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use sqlx::{AssertSqlSafe, Connection, MySqlConnection, PgConnection};

/// The variable naming the PostgreSQL server.
pub const POSTGRES_URL_VAR: &str = "SWITCHYARD_POSTGRES_URL";
/// The variable naming the MySQL/MariaDB server.
pub const MYSQL_URL_VAR: &str = "SWITCHYARD_MYSQL_URL";
/// Set to `1` to make a missing database fail the test instead of skipping it.
pub const REQUIRE_VAR: &str = "SWITCHYARD_REQUIRE_DATABASES";

/// How long creating or dropping a database may take.
const ADMIN_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a container may take to start (including the image pull).
const CONTAINER_TIMEOUT: Duration = Duration::from_secs(300);

/// A database server kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// PostgreSQL.
    Postgres,
    /// MySQL or MariaDB.
    MySql,
}

impl Engine {
    fn label(self) -> &'static str {
        match self {
            Engine::Postgres => "PostgreSQL",
            Engine::MySql => "MySQL",
        }
    }

    fn url_var(self) -> &'static str {
        match self {
            Engine::Postgres => POSTGRES_URL_VAR,
            Engine::MySql => MYSQL_URL_VAR,
        }
    }
}

/// A fresh database for one test, dropped (with its file, for SQLite) when
/// this value drops.
pub struct TestDatabase {
    url: String,
    name: String,
    kind: Kind,
}

enum Kind {
    Server {
        engine: Engine,
        admin_url: String,
        // Dropped after the database (fields drop after `Drop::drop`).
        _lease: Option<ContainerLease>,
    },
    Sqlite {
        _dir: tempfile::TempDir,
    },
}

impl TestDatabase {
    /// The URL of the database: give it to your adapter's `connect`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The database's name (`sy_<uuid>`); for SQLite, the file's stem.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The server kind, or `None` for SQLite.
    pub fn engine(&self) -> Option<Engine> {
        match &self.kind {
            Kind::Server { engine, .. } => Some(*engine),
            Kind::Sqlite { .. } => None,
        }
    }
}

impl std::fmt::Debug for TestDatabase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may carry a password: show only the name.
        f.debug_struct("TestDatabase")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Kind::Server {
            engine, admin_url, ..
        } = &self.kind
        else {
            return; // the temp dir removes the file
        };
        let (engine, admin_url, name) = (*engine, admin_url.clone(), self.name.clone());
        // Drop may run inside a runtime (even one shutting down) or outside any:
        // a short-lived thread with its own runtime works in every case.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                match tokio::time::timeout(ADMIN_TIMEOUT, drop_database(engine, &admin_url, &name))
                    .await
                {
                    Ok(result) => result.map_err(std::io::Error::other),
                    Err(_) => Err(std::io::Error::other("timed out")),
                }
            })
        })
        .join();
        match dropped {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("warning: could not drop test database {}: {e}", self.name),
            Err(_) => eprintln!("warning: dropping test database {} panicked", self.name),
        }
    }
}

/// A fresh PostgreSQL database, or `None` (after printing a `skipped:` line)
/// when no server is available. See the [module docs](self).
pub async fn postgres() -> Option<TestDatabase> {
    provision(Engine::Postgres).await
}

/// A fresh MySQL/MariaDB database (`utf8mb4` with a binary, no-pad
/// collation), or `None` (after printing a `skipped:` line) when no server is
/// available. See the [module docs](self).
pub async fn mysql() -> Option<TestDatabase> {
    provision(Engine::MySql).await
}

/// A fresh SQLite database file in a new temporary directory, as
/// `sqlite://<dir>/<name>.db`; the file exists (empty) and is removed, with
/// its directory, when the value drops.
pub fn sqlite_file() -> TestDatabase {
    let dir = tempfile::Builder::new()
        .prefix("switchyard-")
        .tempdir()
        .expect("cannot create a temporary directory for a SQLite database");
    let name = database_name();
    let path = dir.path().join(format!("{name}.db"));
    std::fs::File::create(&path).expect("cannot create the SQLite database file");
    TestDatabase {
        url: format!("sqlite://{}", path.display()),
        name,
        kind: Kind::Sqlite { _dir: dir },
    }
}

/// Whether `SWITCHYARD_REQUIRE_DATABASES` asks for databases to be present.
pub fn databases_required() -> bool {
    std::env::var(REQUIRE_VAR)
        .map(|v| matches!(v.trim(), "1" | "true" | "yes"))
        .unwrap_or(false)
}

fn database_name() -> String {
    format!("sy_{}", uuid::Uuid::new_v4().simple())
}

async fn provision(engine: Engine) -> Option<TestDatabase> {
    let var = engine.url_var();
    if let Some(admin_url) = std::env::var(var).ok().filter(|u| !u.trim().is_empty()) {
        return match create(engine, admin_url.trim(), None, false).await {
            Ok(db) => Some(db),
            Err(e) => panic!(
                "cannot create a {} test database through {var}: {e}",
                engine.label()
            ),
        };
    }
    if !docker_answers() {
        return unavailable(engine, None);
    }
    let lease = match ContainerLease::acquire(engine).await {
        Ok(lease) => lease,
        Err(e) => return unavailable(engine, Some(format!("its container did not start: {e}"))),
    };
    let admin_url = lease.admin_url.clone();
    match create(engine, &admin_url, Some(lease), true).await {
        Ok(db) => Some(db),
        Err(e) => unavailable(engine, Some(format!("its container did not answer: {e}"))),
    }
}

fn unavailable(engine: Engine, detail: Option<String>) -> Option<TestDatabase> {
    let line = format!(
        "no {} (set {} or start Docker){}",
        engine.label(),
        engine.url_var(),
        detail.map(|d| format!(": {d}")).unwrap_or_default()
    );
    if databases_required() {
        panic!("{REQUIRE_VAR}=1 but there is {line}");
    }
    println!("skipped: {line}");
    None
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Creates a fresh database on the server of `admin_url`.
async fn create(
    engine: Engine,
    admin_url: &str,
    lease: Option<ContainerLease>,
    retry: bool,
) -> Result<TestDatabase, BoxError> {
    let name = database_name();
    let mut url = url::Url::parse(admin_url)?;
    url.set_path(&format!("/{name}"));
    let attempts = if retry { 30 } else { 1 };
    let mut last_error: BoxError = "no attempt".into();
    for attempt in 0..attempts {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        match tokio::time::timeout(ADMIN_TIMEOUT, create_database(engine, admin_url, &name)).await {
            Ok(Ok(())) => {
                return Ok(TestDatabase {
                    url: url.to_string(),
                    name,
                    kind: Kind::Server {
                        engine,
                        admin_url: admin_url.to_owned(),
                        _lease: lease,
                    },
                });
            }
            Ok(Err(e)) => last_error = e,
            Err(_) => last_error = "timed out".into(),
        }
    }
    Err(last_error)
}

async fn create_database(engine: Engine, admin_url: &str, name: &str) -> Result<(), BoxError> {
    match engine {
        Engine::Postgres => {
            let mut conn = PgConnection::connect(admin_url).await?;
            // template0 with the C locale accepts UTF8 whatever the server's
            // default locale; the schema sets COLLATE "C" per column anyway.
            let sql = format!(
                "CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8' \
                 LC_COLLATE 'C' LC_CTYPE 'C'"
            );
            sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut conn).await?;
            conn.close().await?;
        }
        Engine::MySql => {
            let mut conn = MySqlConnection::connect(admin_url).await?;
            let version: String = sqlx::query_scalar("SELECT VERSION()")
                .fetch_one(&mut conn)
                .await?;
            // Binary, no-pad collations: strings compare by bytes, as on the other backends.
            let collation = match adapter_interfaces::schema::Dialect::mysql_from_version(&version)
            {
                adapter_interfaces::schema::Dialect::MariaDb => "utf8mb4_nopad_bin",
                _ => "utf8mb4_0900_bin",
            };
            let sql = format!("CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE {collation}");
            sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut conn).await?;
            conn.close().await?;
        }
    }
    Ok(())
}

async fn drop_database(engine: Engine, admin_url: &str, name: &str) -> Result<(), BoxError> {
    match engine {
        Engine::Postgres => {
            let mut conn = PgConnection::connect(admin_url).await?;
            // FORCE (PostgreSQL 13+) closes connections a pool may still hold.
            let forced = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
            if sqlx::raw_sql(AssertSqlSafe(forced))
                .execute(&mut conn)
                .await
                .is_err()
            {
                sqlx::query(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                     WHERE datname = $1 AND pid <> pg_backend_pid()",
                )
                .bind(name)
                .execute(&mut conn)
                .await?;
                let plain = format!("DROP DATABASE IF EXISTS \"{name}\"");
                sqlx::raw_sql(AssertSqlSafe(plain))
                    .execute(&mut conn)
                    .await?;
            }
            conn.close().await?;
        }
        Engine::MySql => {
            let mut conn = MySqlConnection::connect(admin_url).await?;
            // Connections left in the database could hold locks that block the drop.
            let ids: Vec<i64> = sqlx::query_scalar(
                "SELECT CAST(ID AS SIGNED) FROM information_schema.PROCESSLIST \
                 WHERE DB = ? AND ID <> CONNECTION_ID()",
            )
            .bind(name)
            .fetch_all(&mut conn)
            .await?;
            for id in ids {
                // The connection may have gone meanwhile.
                let _ = sqlx::raw_sql(AssertSqlSafe(format!("KILL {id}")))
                    .execute(&mut conn)
                    .await;
            }
            let sql = format!("DROP DATABASE IF EXISTS `{name}`");
            sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut conn).await?;
            conn.close().await?;
        }
    }
    Ok(())
}

/// Whether a Docker engine answers, checked once per process and cheaply:
/// no container is started to find out.
fn docker_answers() -> bool {
    static ANSWERS: OnceLock<bool> = OnceLock::new();
    *ANSWERS.get_or_init(|| {
        if let Some(host) = std::env::var("DOCKER_HOST").ok().filter(|h| !h.is_empty()) {
            if let Some(path) = host.strip_prefix("unix://") {
                return socket_answers(path);
            }
            if let Some(address) = host.strip_prefix("tcp://") {
                use std::net::ToSocketAddrs;
                let address = address.trim_end_matches('/');
                return address
                    .to_socket_addrs()
                    .ok()
                    .and_then(|mut a| a.next())
                    .is_some_and(|a| {
                        std::net::TcpStream::connect_timeout(&a, Duration::from_secs(1)).is_ok()
                    });
            }
            return true; // another transport: let testcontainers try
        }
        let mut candidates = vec!["/var/run/docker.sock".to_owned()];
        if let Ok(home) = std::env::var("HOME") {
            candidates.push(format!("{home}/.docker/run/docker.sock"));
            candidates.push(format!("{home}/.docker/desktop/docker.sock"));
        }
        if let Ok(runtime_dir) = std::env::var("XDG_RUNTIME_DIR") {
            candidates.push(format!("{runtime_dir}/docker.sock"));
        }
        candidates.iter().any(|path| socket_answers(path))
    })
}

#[cfg(unix)]
fn socket_answers(path: &str) -> bool {
    std::os::unix::net::UnixStream::connect(path).is_ok()
}

#[cfg(not(unix))]
fn socket_answers(_path: &str) -> bool {
    false
}

/// The runtime that owns containers: their Docker client must outlive the
/// runtime of any single test.
fn docker_runtime() -> Option<&'static tokio::runtime::Runtime> {
    static RUNTIME: OnceLock<Option<tokio::runtime::Runtime>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("switchyard-docker")
                .enable_all()
                .build()
                .ok()
        })
        .as_ref()
}

type Removal = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A running container and the tests using it.
struct Running {
    admin_url: String,
    users: usize,
    remove: Removal,
}

/// One shared container per engine.
struct ContainerSlot {
    // Serialises starts, so that concurrent tests share one container.
    gate: tokio::sync::Mutex<()>,
    running: Mutex<Option<Running>>,
}

impl ContainerSlot {
    const fn new() -> Self {
        Self {
            gate: tokio::sync::Mutex::const_new(()),
            running: Mutex::new(None),
        }
    }

    fn for_engine(engine: Engine) -> &'static ContainerSlot {
        static POSTGRES: ContainerSlot = ContainerSlot::new();
        static MYSQL: ContainerSlot = ContainerSlot::new();
        match engine {
            Engine::Postgres => &POSTGRES,
            Engine::MySql => &MYSQL,
        }
    }
}

/// A test's share of a container; the last lease to drop removes it.
struct ContainerLease {
    slot: &'static ContainerSlot,
    admin_url: String,
}

impl ContainerLease {
    async fn acquire(engine: Engine) -> Result<Self, BoxError> {
        let slot = ContainerSlot::for_engine(engine);
        let _gate = slot.gate.lock().await;
        {
            let mut running = slot.running.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(running) = running.as_mut() {
                running.users += 1;
                return Ok(Self {
                    slot,
                    admin_url: running.admin_url.clone(),
                });
            }
        }
        let runtime = docker_runtime().ok_or("cannot build a runtime for containers")?;
        let started = runtime.spawn(async move {
            tokio::time::timeout(CONTAINER_TIMEOUT, start_container(engine)).await
        });
        let (admin_url, remove) = match started.await {
            Ok(Ok(result)) => result?,
            Ok(Err(_)) => return Err("timed out".into()),
            Err(e) => return Err(e.into()),
        };
        let mut running = slot.running.lock().unwrap_or_else(|p| p.into_inner());
        *running = Some(Running {
            admin_url: admin_url.clone(),
            users: 1,
            remove,
        });
        Ok(Self { slot, admin_url })
    }
}

impl Drop for ContainerLease {
    fn drop(&mut self) {
        let removal = {
            let mut running = self.slot.running.lock().unwrap_or_else(|p| p.into_inner());
            match running.as_mut() {
                Some(r) if r.users > 1 => {
                    r.users -= 1;
                    None
                }
                Some(_) => running.take().map(|r| r.remove),
                None => None,
            }
        };
        if let (Some(removal), Some(runtime)) = (removal, docker_runtime()) {
            // Block until it is gone, from a thread outside any runtime.
            let _ = std::thread::spawn(move || runtime.block_on(removal)).join();
        }
    }
}

async fn start_container(engine: Engine) -> Result<(String, Removal), BoxError> {
    use testcontainers_modules::testcontainers::ImageExt;
    use testcontainers_modules::testcontainers::runners::AsyncRunner;
    match engine {
        Engine::Postgres => {
            // 16 rather than the module's default 11: DROP DATABASE ... WITH (FORCE).
            let container = testcontainers_modules::postgres::Postgres::default()
                .with_host_auth()
                .with_tag("16-alpine")
                .start()
                .await?;
            let host = container.get_host().await?;
            let port = container.get_host_port_ipv4(5432).await?;
            let url = format!("postgres://postgres@{host}:{port}/postgres");
            Ok((
                url,
                Box::pin(async move {
                    let _ = container.rm().await;
                }),
            ))
        }
        Engine::MySql => {
            let container = testcontainers_modules::mysql::Mysql::default()
                .start()
                .await?;
            let host = container.get_host().await?;
            let port = container.get_host_port_ipv4(3306).await?;
            let url = format!("mysql://root@{host}:{port}/mysql");
            Ok((
                url,
                Box::pin(async move {
                    let _ = container.rm().await;
                }),
            ))
        }
    }
}
