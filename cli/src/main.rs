//! `switchyard`: migrate, seed, backfill and verify Switchyard stores, and a
//! demo of a whole migration. Stores are named by `BACKEND+DATABASE_URL`
//! (`sqlx+postgres://…`, `seaorm+mysql://…`, `diesel+sqlite://file.db`).

use std::path::PathBuf;
use std::process::ExitCode;

use std::time::Duration;

use adapter_interfaces::journal::EntryFilter;
use clap::{Args, Parser, Subcommand};
use passthrough::{ReplicationOptions, Stage};
use switchyard_cli::commands::{self, BackfillArgs};
use switchyard_cli::operate::{self, parse_duration};
use switchyard_cli::progress::{self, Progress, Silent};
use switchyard_cli::seed::SeedOptions;
use switchyard_cli::traffic::{self, TrafficOptions};
use switchyard_cli::verify::VerifyOptions;

/// Offline steps of a zero-downtime migration between Switchyard stores.
///
/// A store is named by BACKEND+DATABASE_URL, BACKEND one of sqlx, seaorm,
/// diesel: sqlx+postgres://postgres@127.0.0.1/app, seaorm+mysql://root@127.0.0.1/app,
/// diesel+sqlite://data/app.db (a relative SQLite path is relative to the
/// working directory).
#[derive(Debug, Parser)]
#[command(name = "switchyard", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    output: Output,
    /// How long connecting to a database may take before the command fails
    /// (5s, 500ms, or plain seconds).
    #[arg(long, global = true, env = "SWITCHYARD_CONNECT_TIMEOUT", default_value = "5s", value_parser = parse_duration)]
    connect_timeout: Duration,
    /// How long a query waits for one of a store's pooled connections
    /// before the command fails, saying why: the database stopped answering
    /// (and its reason), or every connection stayed busy (10s, 2s, or plain
    /// seconds).
    #[arg(long, global = true, env = "SWITCHYARD_ACQUIRE_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    acquire_timeout: Duration,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Apply the schema to a store.
    Migrate {
        /// The store.
        #[arg(long, env = "SWITCHYARD_TARGET")]
        target: String,
    },
    /// Fill a store with realistic generated data (deterministic for a seed).
    Seed {
        /// The store (migrated first if it has no schema).
        #[arg(long, env = "SWITCHYARD_TARGET")]
        target: String,
        /// Number of tenants.
        #[arg(long, default_value_t = 3)]
        tenants: u32,
        /// Users per tenant (each with passwords, sessions, codes and logs).
        #[arg(long, default_value_t = 100)]
        users_per_tenant: u32,
        /// Random seed.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Records per write.
        #[arg(long, default_value_t = 500)]
        batch_size: usize,
    },
    /// Copy every record from source to target: exact, idempotent, resumable.
    Backfill {
        /// The store to copy from.
        #[arg(long, env = "SWITCHYARD_SOURCE")]
        source: String,
        /// The store to copy to (migrated first if it has no schema).
        #[arg(long, env = "SWITCHYARD_TARGET")]
        target: String,
        /// Records per page and per write (1 to 1000).
        #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=1000))]
        batch_size: u32,
        /// Report what would be copied; write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Ignore the checkpoint of an earlier run and start over.
        #[arg(long)]
        restart: bool,
        /// Write each record that fails, with its reason, as a JSON line to this file.
        #[arg(long)]
        errors: Option<PathBuf>,
        /// The checkpoint file (default: .switchyard-backfill-<fingerprint>.json here).
        #[arg(long)]
        checkpoint: Option<PathBuf>,
        /// Also remove the target's records that the source lacks (in the
        /// tenants copied, and tenants the source lacks with all they hold).
        #[arg(long)]
        prune: bool,
        /// The target's name in the source's replication journal (default:
        /// the side opposite the stored stage's primary, `new` if none).
        #[arg(long)]
        journal_target: Option<String>,
        /// Do not coordinate with live replication: only while nothing
        /// writes either store.
        #[arg(long)]
        offline: bool,
        /// Batches compared and written at once, of several tenants and of
        /// one tenant's successive pages (entities still go in dependency
        /// order). Default: 4 into PostgreSQL or MySQL/MariaDB (within the
        /// smallest pool of 8), 1 into SQLite (one writer at a time).
        /// `--jobs 1` copies one batch at a time, the tenants in key order.
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=64))]
        jobs: Option<u32>,
    },
    /// Compare two stores: counts, missing and extra ids, every field.
    /// Exit status 0 when identical, 1 when different, 2 on error.
    Verify {
        /// The reference store.
        #[arg(long, env = "SWITCHYARD_SOURCE")]
        source: String,
        /// The store to check.
        #[arg(long, env = "SWITCHYARD_TARGET")]
        target: String,
        /// Compare the fields of every Nth record only (counts and ids are always complete).
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
        sample: u64,
        /// Records per page read from each side.
        #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=1000))]
        batch_size: u32,
        /// How many differences to name per entity.
        #[arg(long, default_value_t = 10)]
        max_differences: usize,
        /// Re-check rounds: the keys found different are read again on both
        /// sides after half a second, this many times; those that agree by
        /// then were being written while compared (live stores), not different.
        #[arg(long, default_value_t = 1)]
        settle: u32,
        /// Bring the keys that still differ to the source's current state
        /// (coordinated with live replication, as backfill is) and report
        /// what changed. Without it, verify never writes.
        #[arg(long)]
        repair: bool,
        /// With --repair: the target's name in the source's replication journal.
        #[arg(long, requires = "repair")]
        journal_target: Option<String>,
        /// With --repair: write without coordinating with live replication.
        #[arg(long, requires = "repair")]
        offline: bool,
    },
    /// Show or switch the migration's stage, shared by every instance.
    Stage {
        #[command(subcommand)]
        command: StageCommand,
    },
    /// Inspect the replication journal: what the stores still owe each other.
    Journal {
        #[command(subcommand)]
        command: JournalCommand,
    },
    /// Drain the replication journal (any number of relays may run at once).
    /// With --until-empty: exit 0 once nothing is pending, 1 if dead letters remain.
    Relay {
        #[command(flatten)]
        stores: MigrationArgs,
        /// Stop once nothing is pending (dead letters aside).
        #[arg(long)]
        until_empty: bool,
        /// Keys copied at once.
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
        /// How long a claimed key is held (a relay that dies delays its keys by at most this).
        #[arg(long, default_value = "30s", value_parser = parse_duration)]
        lease: Duration,
        /// Serve Prometheus metrics on this address (GET /metrics), e.g. 127.0.0.1:9464.
        #[arg(long)]
        metrics_addr: Option<std::net::SocketAddr>,
    },
    /// Play an application instance: write and read traffic (every entity and
    /// method) through a migration passthrough that follows the shared stage.
    Traffic {
        #[command(flatten)]
        stores: MigrationArgs,
        /// Concurrent writers.
        #[arg(long, default_value_t = 4)]
        writers: usize,
        /// Operations per second for the whole process (default: unlimited).
        #[arg(long)]
        rate: Option<f64>,
        /// How long to run (30s, 2m, or plain seconds).
        #[arg(long, default_value = "30s", value_parser = parse_duration)]
        duration: Duration,
        /// Tenants written (traffic-0, traffic-1, …; created when missing).
        #[arg(long, default_value_t = 2)]
        tenants: usize,
        /// Users per tenant in the key pool every instance shares.
        #[arg(long, default_value_t = 200)]
        users: usize,
        /// Random seed (give each instance its own).
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// How long a write in flight holds its journal row: when an instance
        /// is killed, a relay copies its last writes after at most this.
        #[arg(long, default_value = "30s", value_parser = parse_duration)]
        lease: Duration,
        /// Serve Prometheus metrics on this address (GET /metrics), e.g. 127.0.0.1:9464.
        #[arg(long)]
        metrics_addr: Option<std::net::SocketAddr>,
    },
    /// Import users and their password hashes from another system's file
    /// (idempotent, resumable). Exit status 1 when records were refused.
    Import {
        /// The file's format.
        #[arg(long, value_enum)]
        format: FileFormat,
        /// The file: a JSON array (Auth0's bulk import) or NDJSON (a user export).
        #[arg(long)]
        file: PathBuf,
        /// The store (migrated first if it has no schema).
        #[arg(long, env = "SWITCHYARD_TARGET")]
        target: String,
        /// The tenant (created when missing).
        #[arg(long)]
        tenant: String,
        /// The connection the users belong to.
        #[arg(long, default_value = switchyard_cli::auth0::DEFAULT_CONNECTION)]
        connection: String,
        /// Check and count; write nothing to the store.
        #[arg(long)]
        dry_run: bool,
        /// Write each refused record (position, line, reason) as a JSON line to this file.
        #[arg(long)]
        errors: Option<PathBuf>,
        /// The checkpoint file (default: .switchyard-import-<fingerprint>.json here).
        #[arg(long)]
        checkpoint: Option<PathBuf>,
        /// Ignore the checkpoint of an earlier run and start over.
        #[arg(long)]
        restart: bool,
        /// Records per write.
        #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=1000))]
        batch_size: u32,
    },
    /// Export a tenant's users with their password hashes as another system's
    /// file (readable by its owner only: it holds the hashes).
    Export {
        /// The file's format.
        #[arg(long, value_enum)]
        format: FileFormat,
        /// The store.
        #[arg(long, env = "SWITCHYARD_SOURCE")]
        source: String,
        /// The tenant.
        #[arg(long)]
        tenant: String,
        /// The file to write (replaced once complete).
        #[arg(long)]
        file: PathBuf,
        /// Only the users of this connection.
        #[arg(long)]
        connection: Option<String>,
        /// Users per page read.
        #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=1000))]
        batch_size: u32,
    },
    /// Run a whole migration on SQLite files with no set-up, and report each phase.
    Demo {
        /// Where to put the SQLite files (default: a new temporary directory).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Users per tenant in the old store.
        #[arg(long, default_value_t = 200)]
        users_per_tenant: u32,
    },
}

/// The file formats of `import` and `export`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum FileFormat {
    /// Auth0's bulk-import JSON array (import also reads its NDJSON user export).
    Auth0,
}

/// How every command prints its result (global: before or after the command).
#[derive(Debug, Clone, Copy, Args)]
struct Output {
    /// Print the result as one JSON document on stdout, and no progress.
    #[arg(long, global = true)]
    json: bool,
    /// Print no progress, notes or report: errors only; the exit status
    /// tells the result. With --json, the JSON document is still printed.
    #[arg(long, global = true)]
    quiet: bool,
}

/// The two stores of a migration.
#[derive(Debug, Args)]
struct MigrationArgs {
    /// The store being migrated from.
    #[arg(long, env = "SWITCHYARD_OLD")]
    old: String,
    /// The store being migrated to.
    #[arg(long, env = "SWITCHYARD_NEW")]
    new: String,
}

#[derive(Debug, Subcommand)]
enum StageCommand {
    /// Print the stage in force, with its generation, and each store's copy.
    Show {
        #[command(flatten)]
        stores: MigrationArgs,
    },
    /// Switch to STAGE: off, dual-write, shadow, live, ramp-down or complete.
    /// A switch that promotes a store waits (at most --timeout) until it has
    /// every write; it fails, leaving the stage as it was, if it does not.
    Set {
        /// The stage.
        stage: Stage,
        #[command(flatten)]
        stores: MigrationArgs,
        /// How long to wait for the promoted store to catch up.
        #[arg(long, default_value = "30s", value_parser = parse_duration)]
        timeout: Duration,
        /// Promote even if the promoted store has dead letters.
        #[arg(long)]
        force: bool,
    },
}

/// Which journal rows an operator command touches.
#[derive(Debug, Args)]
struct JournalFilterArgs {
    /// Only keys owed to this store (old or new).
    #[arg(long)]
    target: Option<String>,
    /// Only this subject (user, session, …, user_passwords, expired_codes).
    #[arg(long)]
    entity: Option<String>,
    /// Only this tenant.
    #[arg(long)]
    tenant: Option<String>,
}

impl JournalFilterArgs {
    fn filter(self, dead: Option<bool>) -> EntryFilter {
        EntryFilter {
            target: self.target,
            entity: self.entity,
            tenant_id: self.tenant,
            record_key: None,
            dead,
        }
    }
}

#[derive(Debug, Subcommand)]
enum JournalCommand {
    /// Keys pending and dead letters, per store, with the oldest pending age.
    Status {
        #[command(flatten)]
        stores: MigrationArgs,
        /// How many dead letters to list.
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// Make dead letters due again (the relay copies the primary's current state).
    Replay {
        #[command(flatten)]
        stores: MigrationArgs,
        #[command(flatten)]
        filter: JournalFilterArgs,
    },
    /// Delete dead letters (after fixing the records by hand).
    Discard {
        #[command(flatten)]
        stores: MigrationArgs,
        #[command(flatten)]
        filter: JournalFilterArgs,
        /// Also delete keys still pending (their copies are then lost: verify afterwards).
        #[arg(long)]
        include_pending: bool,
    },
}

fn progress_for(out: Output) -> Box<dyn Progress> {
    if out.json || out.quiet {
        Box::new(Silent)
    } else {
        progress::for_stderr()
    }
}

fn print_json<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// Starts the Prometheus endpoint when `--metrics-addr` asks for one.
async fn serve_metrics(addr: Option<std::net::SocketAddr>) -> anyhow::Result<()> {
    if let Some(addr) = addr {
        switchyard_cli::metrics::serve(addr).await?;
    }
    Ok(())
}

/// Prints a command's result as `--json` and `--quiet` say, the same way on
/// every command: the JSON document, nothing, or the text.
fn show<T: serde::Serialize>(
    out: Output,
    value: &T,
    text: impl std::fmt::Display,
) -> anyhow::Result<()> {
    if out.json {
        print_json(value)?;
    } else if !out.quiet {
        println!("{text}");
    }
    Ok(())
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let out = cli.output;
    match cli.command {
        Command::Migrate { target } => {
            let message = commands::migrate(&target).await?;
            show(out, &serde_json::json!({ "message": message }), &message)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Seed {
            target,
            tenants,
            users_per_tenant,
            seed,
            batch_size,
        } => {
            let options = SeedOptions {
                tenants,
                users_per_tenant,
                seed,
                batch_size,
            };
            let report = commands::seed(&target, &options, &*progress_for(out)).await?;
            show(out, &report, &report)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Backfill {
            source,
            target,
            batch_size,
            dry_run,
            restart,
            errors,
            checkpoint,
            prune,
            journal_target,
            offline,
            jobs,
        } => {
            let args = BackfillArgs {
                batch_size,
                dry_run,
                restart,
                errors: errors.clone(),
                checkpoint,
                prune,
                journal_target,
                offline,
                jobs: jobs.map(|jobs| jobs as usize),
            };
            let report = commands::backfill(&source, &target, &args, &*progress_for(out)).await?;
            if out.json {
                print_json(&report)?;
            } else if !out.quiet {
                if report.migrated_target {
                    println!("the target had no schema: migrated it first");
                }
                if report.resumed {
                    println!("resumed from the checkpoint of an interrupted run");
                }
                println!("{report}");
            }
            let failed = report.totals().failed;
            if failed > 0 {
                let to = errors.map_or_else(String::new, |p| format!(" (see {})", p.display()));
                eprintln!("{failed} records could not be copied{to}");
                return Ok(ExitCode::from(1));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Verify {
            source,
            target,
            sample,
            batch_size,
            max_differences,
            settle,
            repair,
            journal_target,
            offline,
        } => {
            let options = VerifyOptions {
                batch_size,
                sample,
                max_reported: max_differences,
                settle_rounds: settle,
                ..VerifyOptions::default()
            };
            let repair = repair.then_some(commands::RepairArgs {
                journal_target,
                offline,
            });
            let report = commands::verify(
                &source,
                &target,
                &options,
                repair.as_ref(),
                &*progress_for(out),
            )
            .await?;
            if out.json {
                print_json(&report)?;
            } else if !out.quiet {
                println!("{report}");
            }
            Ok(ExitCode::from(if report.identical { 0 } else { 1 }))
        }
        Command::Stage { command } => match command {
            StageCommand::Show { stores } => {
                let pair = operate::open(&stores.old, &stores.new).await?;
                let report = operate::stage_show(&pair).await;
                if out.json {
                    print_json(&report)?;
                } else if !out.quiet {
                    print!("{report}");
                }
                Ok(ExitCode::SUCCESS)
            }
            StageCommand::Set {
                stage,
                stores,
                timeout,
                force,
            } => {
                let pair = operate::open(&stores.old, &stores.new).await?;
                let change = operate::stage_set(&pair, stage, timeout, force).await?;
                let text = format!(
                    "stage {} -> {} (generation {})",
                    change.from, change.to, change.generation
                );
                show(out, &change, text)?;
                Ok(ExitCode::SUCCESS)
            }
        },
        Command::Journal { command } => match command {
            JournalCommand::Status { stores, limit } => {
                let pair = operate::open(&stores.old, &stores.new).await?;
                let report = operate::journal_status(&pair, limit).await;
                if out.json {
                    print_json(&report)?;
                } else if !out.quiet {
                    print!("{report}");
                }
                Ok(ExitCode::SUCCESS)
            }
            JournalCommand::Replay { stores, filter } => {
                let pair = operate::open(&stores.old, &stores.new).await?;
                let count = operate::journal_replay(&pair, &filter.filter(Some(true))).await?;
                show(
                    out,
                    &serde_json::json!({ "replayed": count }),
                    format!("{count} dead letters are due again; a relay copies them"),
                )?;
                Ok(ExitCode::SUCCESS)
            }
            JournalCommand::Discard {
                stores,
                filter,
                include_pending,
            } => {
                let pair = operate::open(&stores.old, &stores.new).await?;
                let dead = if include_pending { None } else { Some(true) };
                let count = operate::journal_discard(&pair, &filter.filter(dead)).await?;
                show(
                    out,
                    &serde_json::json!({ "discarded": count }),
                    format!("{count} journal rows discarded"),
                )?;
                Ok(ExitCode::SUCCESS)
            }
        },
        Command::Relay {
            stores,
            until_empty,
            concurrency,
            lease,
            metrics_addr,
        } => {
            serve_metrics(metrics_addr).await?;
            let pair = operate::open(&stores.old, &stores.new).await?;
            let options = ReplicationOptions {
                relay_concurrency: concurrency.max(1),
                lease,
                ..ReplicationOptions::default()
            };
            let stop = async {
                let _ = tokio::signal::ctrl_c().await;
            };
            let report = operate::relay(&pair, options, until_empty, stop).await?;
            if out.json {
                print_json(&report)?;
            } else if !out.quiet {
                println!("{report}");
            }
            Ok(ExitCode::from(if report.dead > 0 { 1 } else { 0 }))
        }
        Command::Traffic {
            stores,
            writers,
            rate,
            duration,
            tenants,
            users,
            seed,
            lease,
            metrics_addr,
        } => {
            serve_metrics(metrics_addr).await?;
            let pair = operate::open_for_instance(&stores.old, &stores.new).await?;
            let options = TrafficOptions {
                writers,
                rate,
                duration,
                tenants,
                users,
                seed,
                replication: ReplicationOptions {
                    lease,
                    ..ReplicationOptions::default()
                },
            };
            let report = traffic::run(&pair, &options).await?;
            if out.json {
                print_json(&report)?;
            } else if !out.quiet {
                print!("{report}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Import {
            format: FileFormat::Auth0,
            file,
            target,
            tenant,
            connection,
            dry_run,
            errors,
            checkpoint,
            restart,
            batch_size,
        } => {
            let options = switchyard_cli::import::ImportOptions {
                tenant,
                connection,
                batch_size: batch_size as usize,
                dry_run,
                errors: errors.clone(),
                checkpoint,
                restart,
                fingerprint: String::new(),
            };
            let report = commands::import(&file, &target, options, &*progress_for(out)).await?;
            show(out, &report, &report)?;
            let refused = report.invalid + report.failed;
            if refused > 0 {
                let to = errors.map_or_else(String::new, |p| format!(" (see {})", p.display()));
                eprintln!("{refused} records were refused{to}");
                return Ok(ExitCode::from(1));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Export {
            format: FileFormat::Auth0,
            source,
            tenant,
            file,
            connection,
            batch_size,
        } => {
            let options = switchyard_cli::export::ExportOptions {
                tenant,
                connection,
                batch_size,
            };
            let report = commands::export(&source, &file, &options, &*progress_for(out)).await?;
            show(out, &report, &report)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo {
            dir,
            users_per_tenant,
        } => {
            let report =
                switchyard_cli::demo::run(dir, users_per_tenant, &*progress_for(out)).await?;
            show(out, &report, &report)?;
            Ok(if report.success() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
    }
}

/// Logs on stderr: colour only on a terminal and without `NO_COLOR`. The
/// demo's story includes replication failures (writes under a tenant the new
/// store lacks yet), which its report tells: the passthrough's warnings about
/// them stay out of its output unless `SWITCHYARD_LOG` asks for them.
fn init_logs(command: &Command, quiet: bool) {
    use std::io::IsTerminal;
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let default = match command {
        _ if quiet => "error",
        Command::Demo { .. } => "warn,passthrough=error",
        _ => "warn",
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal() && !no_color)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SWITCHYARD_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default)),
        )
        .init();
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logs(&cli.command, cli.output.quiet);
    switchyard_cli::store::set_connect_timeout(cli.connect_timeout);
    switchyard_cli::store::set_acquire_timeout(cli.acquire_timeout);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
