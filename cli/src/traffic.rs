//! `switchyard traffic`: an application instance in a box. Realistic write
//! and read traffic, every entity and every method (removals, consumes,
//! password rotations, cleanups, batch upserts), through a migration
//! passthrough that follows the shared stage, so that operators can
//! rehearse a migration and tests can run, kill and restart instances.
//!
//! Writers of every process share the same key pools (user ids, session
//! ids, application and connection ids per tenant), so several instances
//! really race on the same records, as a fleet behind a load balancer does.
//! An answer that says the record is missing or taken (another writer got
//! there first) is part of that story and counted as such, not as a failure.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use adapter_interfaces::{
    AdapterError, ApplicationInsert, ApplicationPatch, CodeInsert, CodeType, ConnectionInsert,
    ConnectionPatch, DataAdapters, ErrorKind, ListParams, LogInsert, PasswordAlgorithm,
    PasswordInsert, Record, SessionInsert, SessionPatch, TenantInsert, TenantPatch, Timestamp,
    User, UserInsert, UserPatch,
};
use passthrough::ReplicationOptions;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::commands::CommandError;
use crate::operate::MigrationStores;

/// What `switchyard traffic` is asked to do.
#[derive(Debug, Clone)]
pub struct TrafficOptions {
    /// Concurrent writers in this process.
    pub writers: usize,
    /// Operations per second for the whole process (`None`: as fast as possible).
    pub rate: Option<f64>,
    /// How long to run.
    pub duration: Duration,
    /// Tenants written (`traffic-0` …), created when missing.
    pub tenants: usize,
    /// Users per tenant in the shared key pool.
    pub users: usize,
    /// Random seed (give each process its own).
    pub seed: u64,
    /// How replication runs (its lease bounds how long a killed instance's
    /// writes wait before a relay copies them).
    pub replication: ReplicationOptions,
}

impl Default for TrafficOptions {
    fn default() -> Self {
        Self {
            writers: 4,
            rate: None,
            duration: Duration::from_secs(30),
            tenants: 2,
            users: 200,
            seed: 1,
            replication: ReplicationOptions::default(),
        }
    }
}

/// How operations of one kind went.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Outcomes {
    /// Succeeded.
    pub ok: u64,
    /// Answered "missing" or "taken" (another writer got there first).
    pub raced: u64,
    /// Failed otherwise.
    pub failed: u64,
}

/// What a traffic run did.
#[derive(Debug, Clone, Serialize)]
pub struct TrafficReport {
    /// Operations by kind.
    pub operations: BTreeMap<&'static str, Outcomes>,
    /// How long it ran, in seconds.
    pub seconds: f64,
    /// Keys the journals still owed when it stopped (a relay copies them).
    pub pending: u64,
    /// Dead letters when it stopped.
    pub dead: u64,
    /// The first few failure messages (never a record's values).
    pub failures: Vec<String>,
}

impl TrafficReport {
    /// All operations.
    pub fn total(&self) -> Outcomes {
        self.operations
            .values()
            .fold(Outcomes::default(), |a, o| Outcomes {
                ok: a.ok + o.ok,
                raced: a.raced + o.raced,
                failed: a.failed + o.failed,
            })
    }
}

impl std::fmt::Display for TrafficReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let total = self.total();
        let all = total.ok + total.raced + total.failed;
        writeln!(
            f,
            "traffic: {all} operations in {:.1} s ({:.0}/s): {} ok, {} raced (missing or taken), {} failed; journal: {} pending, {} dead letters",
            self.seconds,
            all as f64 / self.seconds.max(0.001),
            total.ok,
            total.raced,
            total.failed,
            self.pending,
            self.dead
        )?;
        for (kind, o) in &self.operations {
            writeln!(
                f,
                "  {kind:<22} {:>7} ok {:>6} raced {:>5} failed",
                o.ok, o.raced, o.failed
            )?;
        }
        for failure in &self.failures {
            writeln!(f, "  failure: {failure}")?;
        }
        Ok(())
    }
}

/// Runs the traffic through a passthrough over `stores` that follows the stored stage.
pub async fn run(
    stores: &MigrationStores,
    options: &TrafficOptions,
) -> Result<TrafficReport, CommandError> {
    let (passthrough, _controller) = stores.passthrough(options.replication).await?;
    let db = passthrough.adapters();
    let tenants: Vec<String> = (0..options.tenants.max(1))
        .map(|i| format!("traffic-{i}"))
        .collect();
    for tenant in &tenants {
        let created = db
            .tenants
            .create(TenantInsert {
                id: Some(tenant.clone()),
                friendly_name: format!("Traffic {tenant}"),
                ..Default::default()
            })
            .await;
        match created {
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::Conflict => {}
            Err(e) => {
                return Err(CommandError::Operate(format!(
                    "creating tenant {tenant}: {e}"
                )));
            }
        }
    }
    let started = Instant::now();
    let deadline = started + options.duration;
    let writers = options.writers.max(1);
    let interval = options
        .rate
        .filter(|r| *r > 0.0)
        .map(|rate| Duration::from_secs_f64(writers as f64 / rate));
    let mut tasks = Vec::new();
    for w in 0..writers {
        let writer = Writer {
            db: db.clone(),
            tenants: tenants.clone(),
            users: options.users.max(1),
            rng: ChaCha8Rng::seed_from_u64(options.seed.wrapping_mul(1000).wrapping_add(w as u64)),
            codes: VecDeque::new(),
            tally: BTreeMap::new(),
            failures: Vec::new(),
            name: format!("{}-{w}", options.seed),
        };
        tasks.push(tokio::spawn(writer.run(deadline, interval)));
    }
    let mut report = TrafficReport {
        operations: BTreeMap::new(),
        seconds: 0.0,
        pending: 0,
        dead: 0,
        failures: Vec::new(),
    };
    for task in tasks {
        let (tally, failures) = task
            .await
            .map_err(|e| CommandError::Operate(format!("a traffic writer failed: {e}")))?;
        for (kind, o) in tally {
            let entry = report.operations.entry(kind).or_default();
            entry.ok += o.ok;
            entry.raced += o.raced;
            entry.failed += o.failed;
        }
        for failure in failures {
            if report.failures.len() < 10 {
                report.failures.push(failure);
            }
        }
    }
    report.seconds = started.elapsed().as_secs_f64();
    // Copy what this process still owes for a moment; whatever is left
    // stays in the journal for the next relay.
    let _ = passthrough.flush_within(Duration::from_secs(5)).await;
    if let Ok(owed) = passthrough.owed().await {
        report.pending = owed.pending;
        report.dead = owed.dead;
    }
    Ok(report)
}

type Tally = BTreeMap<&'static str, Outcomes>;

struct Writer {
    db: DataAdapters,
    tenants: Vec<String>,
    users: usize,
    rng: ChaCha8Rng,
    codes: VecDeque<(String, String)>,
    tally: Tally,
    failures: Vec<String>,
    name: String,
}

/// The operations, with their weights.
const MIX: &[(&str, u32)] = &[
    ("user.create_or_update", 10),
    ("user.update", 14),
    ("user.create_generated", 2),
    ("user.remove", 3),
    ("user.upsert_many", 2),
    ("password.rotate", 8),
    ("password.remove", 2),
    ("session.create", 6),
    ("session.update", 4),
    ("session.remove", 2),
    ("code.create", 5),
    ("code.consume", 4),
    ("code.remove", 1),
    ("code.cleanup", 1),
    ("application.write", 2),
    ("application.remove", 1),
    ("connection.write", 1),
    ("log.create", 8),
    ("tenant.update", 1),
    ("read", 20),
];

impl Writer {
    async fn run(mut self, deadline: Instant, interval: Option<Duration>) -> (Tally, Vec<String>) {
        let mut ticker = interval.map(|i| {
            let mut t = tokio::time::interval(i);
            t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            t
        });
        let total: u32 = MIX.iter().map(|(_, w)| w).sum();
        while Instant::now() < deadline {
            if let Some(ticker) = &mut ticker {
                ticker.tick().await;
            }
            let mut pick = self.rng.random_range(0..total);
            let mut kind = MIX[0].0;
            for (name, weight) in MIX {
                if pick < *weight {
                    kind = name;
                    break;
                }
                pick -= weight;
            }
            let outcome = self.one(kind).await;
            let entry = self.tally.entry(kind).or_default();
            match outcome {
                Ok(()) => entry.ok += 1,
                Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::Conflict) => {
                    entry.raced += 1
                }
                Err(e) => {
                    entry.failed += 1;
                    if self.failures.len() < 10 {
                        self.failures.push(format!("{kind}: {e}"));
                    }
                }
            }
        }
        (self.tally, self.failures)
    }

    fn tenant(&mut self) -> String {
        let i = self.rng.random_range(0..self.tenants.len());
        self.tenants[i].clone()
    }

    fn user_id(&mut self) -> String {
        format!("auth0|traffic-{}", self.rng.random_range(0..self.users))
    }

    fn user_insert(id: &str) -> UserInsert {
        let local = id.trim_start_matches("auth0|");
        UserInsert {
            user_id: Some(id.to_owned()),
            email: Some(format!("{local}@traffic.example")),
            connection: "Username-Password-Authentication".into(),
            name: Some(format!("User {local}")),
            ..Default::default()
        }
    }

    async fn one(&mut self, kind: &str) -> adapter_interfaces::Result<()> {
        let db = self.db.clone();
        let tenant = self.tenant();
        let now = Timestamp::now();
        match kind {
            "user.create_or_update" => {
                let id = self.user_id();
                match db.users.get(&tenant, &id).await? {
                    Some(_) => {
                        let patch = UserPatch {
                            name: Some(Some(format!("Renamed by {}", self.name))),
                            ..Default::default()
                        };
                        db.users.update(&tenant, &id, patch).await.map(|_| ())
                    }
                    None => db
                        .users
                        .create(&tenant, Self::user_insert(&id))
                        .await
                        .map(|_| ()),
                }
            }
            "user.update" => {
                let id = self.user_id();
                let patch = UserPatch {
                    nickname: Some(Some(format!("n{}", self.rng.random_range(0..1000)))),
                    email_verified: Some(self.rng.random_bool(0.5)),
                    ..Default::default()
                };
                db.users.update(&tenant, &id, patch).await.map(|_| ())
            }
            "user.create_generated" => {
                let n: u64 = self.rng.random();
                let insert = UserInsert {
                    email: Some(format!("signup-{n:x}@traffic.example")),
                    connection: "Username-Password-Authentication".into(),
                    ..Default::default()
                };
                db.users.create(&tenant, insert).await.map(|_| ())
            }
            "user.remove" => {
                let id = self.user_id();
                db.users.remove(&tenant, &id).await.map(|_| ())
            }
            "user.upsert_many" => {
                let mut records = Vec::new();
                for _ in 0..3 {
                    let id = self.user_id();
                    if records.iter().any(|u: &User| u.user_id == id) {
                        continue;
                    }
                    records.push(User::from_insert(Self::user_insert(&id), now)?);
                }
                db.users.upsert_many(&tenant, records).await
            }
            "password.rotate" => {
                let user = self.user_id();
                let hash = format!("$2b$10${}", "t".repeat(53));
                db.passwords
                    .create(
                        &tenant,
                        PasswordInsert::new(&user, hash, PasswordAlgorithm::Bcrypt),
                    )
                    .await
                    .map(|_| ())
            }
            "password.remove" => {
                let user = self.user_id();
                match db.passwords.get_current(&tenant, &user).await? {
                    Some(p) => db.passwords.remove(&tenant, &p.id).await.map(|_| ()),
                    None => Err(AdapterError::NotFound {
                        entity: adapter_interfaces::EntityKind::Password,
                        id: user,
                    }),
                }
            }
            "session.create" => {
                let user = self.user_id();
                let id = format!(
                    "s-{}-{}",
                    user.trim_start_matches("auth0|"),
                    self.rng.random_range(0..3)
                );
                let insert = SessionInsert {
                    id: Some(id),
                    user_id: user,
                    expires_at: Some(now.plus_millis(3_600_000)),
                    ..Default::default()
                };
                db.sessions.create(&tenant, insert).await.map(|_| ())
            }
            "session.update" | "session.remove" => {
                let user = self.user_id();
                let id = format!(
                    "s-{}-{}",
                    user.trim_start_matches("auth0|"),
                    self.rng.random_range(0..3)
                );
                if kind == "session.remove" {
                    return db.sessions.remove(&tenant, &id).await.map(|_| ());
                }
                let patch = SessionPatch {
                    last_interaction_at: Some(Some(now)),
                    ..Default::default()
                };
                db.sessions.update(&tenant, &id, patch).await.map(|_| ())
            }
            "code.create" => {
                // Some already expired, for the cleanups to find.
                let expires_at = now.plus_millis(self.rng.random_range(-60_000..600_000));
                let insert = CodeInsert {
                    user_id: Some(self.user_id()),
                    ..CodeInsert::new(CodeType::AuthorizationCode, expires_at)
                };
                let code = db.codes.create(&tenant, insert).await?;
                self.codes.push_back((tenant, code.code_id));
                if self.codes.len() > 200 {
                    self.codes.pop_front();
                }
                Ok(())
            }
            "code.consume" | "code.remove" => {
                let Some((tenant, code)) = self.codes.pop_front() else {
                    return Ok(());
                };
                if kind == "code.remove" {
                    return db.codes.remove(&tenant, &code).await.map(|_| ());
                }
                db.codes.consume(&tenant, &code).await.map(|_| ())
            }
            "code.cleanup" => db.codes.cleanup(&tenant, now).await.map(|_| ()),
            "application.write" | "application.remove" => {
                let id = format!("app-{}", self.rng.random_range(0..10));
                if kind == "application.remove" {
                    return db.applications.remove(&tenant, &id).await.map(|_| ());
                }
                match db.applications.get(&tenant, &id).await? {
                    Some(_) => {
                        let patch = ApplicationPatch {
                            callbacks: Some(vec![format!(
                                "https://app.example/cb/{}",
                                self.rng.random_range(0..100)
                            )]),
                            ..Default::default()
                        };
                        db.applications
                            .update(&tenant, &id, patch)
                            .await
                            .map(|_| ())
                    }
                    None => {
                        let insert = ApplicationInsert {
                            client_id: Some(id.clone()),
                            name: format!("App {id}"),
                            ..Default::default()
                        };
                        db.applications.create(&tenant, insert).await.map(|_| ())
                    }
                }
            }
            "connection.write" => {
                let id = format!("con-{}", self.rng.random_range(0..5));
                match db.connections.get(&tenant, &id).await? {
                    Some(_) => {
                        let patch = ConnectionPatch {
                            display_name: Some(Some(format!(
                                "Conn {}",
                                self.rng.random_range(0..100)
                            ))),
                            ..Default::default()
                        };
                        db.connections.update(&tenant, &id, patch).await.map(|_| ())
                    }
                    None => {
                        let insert = ConnectionInsert {
                            id: Some(id.clone()),
                            name: id.clone(),
                            strategy: "auth0".into(),
                            ..Default::default()
                        };
                        db.connections.create(&tenant, insert).await.map(|_| ())
                    }
                }
            }
            "log.create" => {
                let insert = LogInsert {
                    log_type: "s".into(),
                    description: Some("Success Login".into()),
                    user_id: Some(self.user_id()),
                    ..Default::default()
                };
                db.logs.create(&tenant, insert).await.map(|_| ())
            }
            "tenant.update" => {
                let patch = TenantPatch {
                    friendly_name: Some(format!(
                        "Traffic {tenant} ({})",
                        self.rng.random_range(0..100)
                    )),
                    ..Default::default()
                };
                db.tenants.update(&tenant, patch).await.map(|_| ())
            }
            _ => {
                let id = self.user_id();
                db.users.get(&tenant, &id).await?;
                db.passwords.get_current(&tenant, &id).await?;
                db.users
                    .list(
                        &tenant,
                        &ListParams::default()
                            .with_per_page(10)
                            .with_q("email_verified:true"),
                    )
                    .await
                    .map(|_| ())
            }
        }
    }
}
