//! The demo: a whole migration on SQLite files, with no set-up.
//!
//! 1. setup: an old store (one backend) and a new store (another backend),
//!    both migrated;
//! 2. seed the old store;
//! 3. dual-write: a migration passthrough (old primary, new secondary) takes
//!    write traffic; a write under a tenant the new store does not have yet
//!    is copied with its parents (the tenant, the user) first, and a tenant
//!    created during the phase replicates whole;
//! 4. backfill old → new (what replication already brought is skipped);
//! 5. any dead letters (a record the new store refused) are replayed;
//! 6. verify: identical;
//! 7. switch-over: the stage becomes `live` (new primary, old secondary) and
//!    more traffic runs;
//! 8. verify again: identical.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use adapter_interfaces::{
    CodeInsert, CodeType, DataAdapters, EntityKind, ListParams, LogInsert, PasswordAlgorithm,
    PasswordInsert, SessionInsert, TenantInsert, Timestamp, UserInsert, UserPatch,
};
use passthrough::{MigrationController, Passthrough, RetryPolicy, SecondaryOptions, Stage};

use crate::backfill::{BackfillOptions, backfill};
use crate::commands::CommandError;
use crate::progress::Progress;
use crate::seed::{SeedOptions, seed};
use crate::store::Store;
use crate::url::{Backend, StoreUrl};
use crate::verify::{VerifyOptions, verify};

/// One phase of the demo.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Phase {
    /// Its name.
    pub name: &'static str,
    /// What happened.
    pub detail: String,
    /// Whether it went as it should.
    pub ok: bool,
    /// Seconds taken.
    pub seconds: f64,
}

/// What the demo did, phase by phase.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct DemoReport {
    /// Where the SQLite files are.
    pub dir: PathBuf,
    /// The phases, in order.
    pub phases: Vec<Phase>,
}

impl DemoReport {
    /// Whether every phase went as it should.
    pub fn success(&self) -> bool {
        !self.phases.is_empty() && self.phases.iter().all(|p| p.ok)
    }
}

impl fmt::Display for DemoReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "switchyard demo in {}", self.dir.display())?;
        for (i, phase) in self.phases.iter().enumerate() {
            writeln!(
                f,
                "{}. {:<12} {} {} ({:.2}s)",
                i + 1,
                phase.name,
                if phase.ok { "ok  " } else { "FAIL" },
                phase.detail,
                phase.seconds
            )?;
        }
        write!(
            f,
            "{}",
            if self.success() {
                "migration complete: the new store is primary and identical to the old one"
            } else {
                "the demo FAILED"
            }
        )
    }
}

fn compiled_backends() -> Vec<Backend> {
    let mut backends = Vec::new();
    if cfg!(feature = "sqlx") {
        backends.push(Backend::Sqlx);
    }
    if cfg!(feature = "seaorm") {
        backends.push(Backend::SeaOrm);
    }
    if cfg!(feature = "diesel") {
        backends.push(Backend::Diesel);
    }
    backends
}

fn demo_error(message: impl fmt::Display) -> CommandError {
    CommandError::Demo(message.to_string())
}

fn fresh_dir() -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    std::env::temp_dir().join(format!("switchyard-demo-{}-{nanos}", std::process::id()))
}

fn sqlite_url(backend: Backend, path: &Path) -> Result<StoreUrl, CommandError> {
    Ok(format!("{backend}+sqlite://{}", path.display()).parse()?)
}

struct Timer {
    started: Instant,
}

impl Timer {
    fn start() -> Self {
        Self {
            started: Instant::now(),
        }
    }

    fn phase(&self, name: &'static str, ok: bool, detail: String) -> Phase {
        Phase {
            name,
            detail,
            ok,
            seconds: self.started.elapsed().as_secs_f64(),
        }
    }
}

/// Runs the demo in `dir` (default: a new temporary directory).
pub async fn run(
    dir: Option<PathBuf>,
    users_per_tenant: u32,
    progress: &dyn Progress,
) -> Result<DemoReport, CommandError> {
    let dir = dir.unwrap_or_else(fresh_dir);
    std::fs::create_dir_all(&dir)?;
    let dir = dir.canonicalize()?;
    let (old_path, new_path) = (dir.join("old.db"), dir.join("new.db"));
    for path in [&old_path, &new_path] {
        if path.exists() {
            return Err(demo_error(format!(
                "{} exists already; give --dir an empty directory",
                path.display()
            )));
        }
    }
    let backends = compiled_backends();
    let old_backend = *backends
        .first()
        .ok_or_else(|| demo_error("no backend is compiled in"))?;
    let new_backend = backends.get(1).copied().unwrap_or(old_backend);
    let mut report = DemoReport {
        dir: dir.clone(),
        phases: Vec::new(),
    };

    // 1. Setup.
    let timer = Timer::start();
    let old_url = sqlite_url(old_backend, &old_path)?;
    let new_url = sqlite_url(new_backend, &new_path)?;
    let old_store = Store::connect(&old_url, false).await?;
    let new_store = Store::connect(&new_url, false).await?;
    old_store.migrate().await?;
    new_store.migrate().await?;
    report.phases.push(timer.phase(
        "setup",
        true,
        format!("old store {old_url}, new store {new_url}, both migrated"),
    ));
    migrate_between(
        &mut report,
        &old_store.adapters(),
        &new_store.adapters(),
        users_per_tenant,
        progress,
    )
    .await?;
    Ok(report)
}

/// Phases 2 to 8 of the demo between any two empty stores (the in-memory
/// adapter included), appended to `report`.
pub async fn migrate_between(
    report: &mut DemoReport,
    old: &DataAdapters,
    new: &DataAdapters,
    users_per_tenant: u32,
    progress: &dyn Progress,
) -> Result<(), CommandError> {
    // 2. Seed the old store.
    let timer = Timer::start();
    let seeded = seed(
        old,
        &SeedOptions {
            tenants: 2,
            users_per_tenant,
            seed: 2024,
            batch_size: 500,
        },
        progress,
    )
    .await?;
    report
        .phases
        .push(timer.phase("seed", true, seeded.to_string()));

    // 3. Dual-write through a migration passthrough.
    let timer = Timer::start();
    let controller = MigrationController::new(Stage::DualWrite);
    let quick_retry = RetryPolicy {
        max_attempts: 2,
        initial_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(5),
    };
    let passthrough = Passthrough::migration(old.clone(), new.clone(), controller.clone())
        .new_options(SecondaryOptions::non_blocking().retry(quick_retry))
        .old_options(SecondaryOptions::blocking(passthrough::OnFailure::Report).retry(quick_retry))
        .build()
        .map_err(demo_error)?;
    let app = passthrough.adapters();
    let tenants: Vec<String> = old
        .tenants
        .list(&ListParams::default())
        .await
        .map_err(demo_error)?
        .items
        .into_iter()
        .map(|t| t.id)
        .collect();
    let writes = traffic(&app, &tenants, Some("tenant-dual-write"), 1)
        .await
        .map_err(demo_error)?;
    let flushed = passthrough.flush().await;
    let status = passthrough.status().await;
    report.phases.push(timer.phase(
        "dual-write",
        flushed.is_ok(),
        format!(
            "{writes} writes through the passthrough (old primary, new secondary), each journaled \
             and copied to the new store with its parents ({} pending, {} dead letters)",
            status.pending, status.dead_letters
        ),
    ));

    // 4. Backfill.
    let timer = Timer::start();
    let copied = backfill(old, new, &BackfillOptions::default(), progress).await?;
    let totals = copied.totals();
    report.phases.push(timer.phase(
        "backfill",
        totals.failed == 0,
        format!(
            "{} records copied, {} already there (replicated), {} failed",
            totals.copied, totals.skipped, totals.failed
        ),
    ));

    // 5. Replay the dead letters.
    let timer = Timer::start();
    let replayed = passthrough
        .replay_dead_letters()
        .await
        .map_err(demo_error)?;
    passthrough.flush().await.map_err(demo_error)?;
    let left = passthrough
        .dead_letters(1000)
        .await
        .map_err(demo_error)?
        .len();
    report.phases.push(timer.phase(
        "replay",
        left == 0,
        format!("{replayed} dead letters replayed, {left} left"),
    ));

    // 6. Verify.
    let timer = Timer::start();
    let verified = verify(old, new, &VerifyOptions::default(), progress).await?;
    report
        .phases
        .push(timer.phase("verify", verified.identical, verify_line(&verified)));

    // 7. Switch-over.
    let timer = Timer::start();
    let errors_before = passthrough.status().await.total_errors;
    let change = controller.set_stage(Stage::Live).await;
    let switched = change.is_ok();
    let writes = traffic(&app, &tenants, None, 2).await.map_err(demo_error)?;
    passthrough.flush().await.map_err(demo_error)?;
    let status = passthrough.status().await;
    report.phases.push(timer.phase(
        "switch-over",
        switched && status.dead_letters == 0,
        match change {
            Ok(change) => format!(
                "stage {} -> {} (generation {}): the new store is primary; {writes} more writes, replicated to the old store ({} replication errors)",
                change.from,
                change.to,
                change.generation,
                status.total_errors.saturating_sub(errors_before)
            ),
            Err(e) => format!("refused: {e}"),
        },
    ));

    // 8. Verify again.
    let timer = Timer::start();
    let verified = verify(old, new, &VerifyOptions::default(), progress).await?;
    report
        .phases
        .push(timer.phase("verify again", verified.identical, verify_line(&verified)));
    Ok(())
}

fn verify_line(report: &crate::report::VerifyReport) -> String {
    let records: u64 = report.entities.iter().map(|e| e.source_count).sum();
    if report.identical {
        format!("identical: {records} records in 8 entities, every field compared")
    } else {
        let different: Vec<&str> = report
            .entities
            .iter()
            .filter(|e| !e.identical())
            .map(|e| e.entity.table())
            .collect();
        format!("DIFFERENT in {}", different.join(", "))
    }
}

/// Application-like writes: users signing up (with a password, a session, a
/// log line and a consumed code), existing users logging in, a password
/// rotation. Returns the number of writes.
async fn traffic(
    db: &DataAdapters,
    tenants: &[String],
    new_tenant: Option<&str>,
    round: u32,
) -> adapter_interfaces::Result<u64> {
    let mut writes = 0;
    let mut all = tenants.to_vec();
    if let Some(id) = new_tenant {
        db.tenants
            .create(TenantInsert {
                id: Some(id.to_owned()),
                friendly_name: "Created during dual-write".into(),
                ..Default::default()
            })
            .await?;
        writes += 1;
        all.push(id.to_owned());
    }
    let now = Timestamp::now();
    for tenant in &all {
        for i in 0..5 {
            let user = db
                .users
                .create(
                    tenant,
                    UserInsert {
                        email: Some(format!("signup-{round}-{i}@demo.example")),
                        connection: "Username-Password-Authentication".into(),
                        name: Some(format!("Signup {round}.{i}")),
                        ..Default::default()
                    },
                )
                .await?;
            db.passwords
                .create(
                    tenant,
                    PasswordInsert::new(
                        &user.user_id,
                        format!("$2b$10$demo{round}{i}{}", "x".repeat(48)),
                        PasswordAlgorithm::Bcrypt,
                    ),
                )
                .await?;
            db.sessions
                .create(
                    tenant,
                    SessionInsert {
                        user_id: user.user_id.clone(),
                        expires_at: Some(now.plus_millis(86_400_000)),
                        ..Default::default()
                    },
                )
                .await?;
            db.logs
                .create(
                    tenant,
                    LogInsert {
                        log_type: "ss".into(),
                        description: Some("Successful signup".into()),
                        user_id: Some(user.user_id.clone()),
                        ..Default::default()
                    },
                )
                .await?;
            let mut code = CodeInsert::new(CodeType::EmailVerification, now.plus_millis(600_000));
            code.user_id = Some(user.user_id.clone());
            let code = db.codes.create(tenant, code).await?;
            db.codes.consume(tenant, &code.code_id).await?;
            writes += 6;
        }
        // Existing users log in again; one of them changes password.
        let existing = db
            .users
            .list(tenant, &ListParams::default().with_per_page(3))
            .await?;
        for user in existing.items {
            db.users
                .update(
                    tenant,
                    &user.user_id,
                    UserPatch {
                        login_count: Some(user.login_count + 1),
                        last_login: Some(Some(now)),
                        ..Default::default()
                    },
                )
                .await?;
            writes += 1;
        }
        let auth0_users = db
            .users
            .list(
                tenant,
                &ListParams::default()
                    .with_per_page(1)
                    .with_q("connection:Username-Password-Authentication"),
            )
            .await?;
        if let Some(user) = auth0_users.items.first() {
            db.passwords
                .create(
                    tenant,
                    PasswordInsert::new(
                        &user.user_id,
                        format!("$argon2id$v=19$m=19456,t=2,p=1$rotated{round}"),
                        PasswordAlgorithm::Argon2id,
                    ),
                )
                .await?;
            writes += 1;
        }
    }
    tracing::debug!(writes, entity = %EntityKind::User, "traffic round done");
    Ok(writes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::Silent;
    use adapter_interfaces::memory;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_phase_succeeds_between_two_memory_stores() {
        let (old, new) = (memory::adapters(), memory::adapters());
        let mut report = DemoReport::default();
        migrate_between(&mut report, &old, &new, 20, &Silent)
            .await
            .unwrap();
        assert!(report.success(), "{report}");
        let names: Vec<&str> = report.phases.iter().map(|p| p.name).collect();
        assert_eq!(
            names,
            [
                "seed",
                "dual-write",
                "backfill",
                "replay",
                "verify",
                "switch-over",
                "verify again"
            ]
        );
        // The tenant created during dual-write was replicated, not backfilled.
        assert!(
            new.tenants
                .get("tenant-dual-write")
                .await
                .unwrap()
                .is_some()
        );
        let text = report.to_string();
        assert!(text.contains("dead letters"), "{text}");
    }
}
