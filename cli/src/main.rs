//! `switchyard`: migrate, seed, backfill and verify Switchyard stores, and a
//! demo of a whole migration. Stores are named by `BACKEND+DATABASE_URL`
//! (`sqlx+postgres://…`, `seaorm+mysql://…`, `diesel+sqlite://file.db`).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use switchyard_cli::commands::{self, BackfillArgs};
use switchyard_cli::progress::{self, Progress, Silent};
use switchyard_cli::seed::SeedOptions;
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
        /// Print the summary as JSON on stdout.
        #[arg(long)]
        json: bool,
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
        /// Print the report as JSON on stdout.
        #[arg(long)]
        json: bool,
        /// Compare the fields of every Nth record only (counts and ids are always complete).
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
        sample: u64,
        /// Records per page read from each side.
        #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=1000))]
        batch_size: u32,
        /// How many differences to name per entity.
        #[arg(long, default_value_t = 10)]
        max_differences: usize,
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

fn progress_for(json: bool) -> Box<dyn Progress> {
    if json {
        Box::new(Silent)
    } else {
        progress::for_stderr()
    }
}

fn print_json<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Migrate { target } => {
            println!("{}", commands::migrate(&target).await?);
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
            let report = commands::seed(&target, &options, &*progress_for(false)).await?;
            println!("{report}");
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
            json,
        } => {
            let args = BackfillArgs {
                batch_size,
                dry_run,
                restart,
                errors: errors.clone(),
                checkpoint,
            };
            let report = commands::backfill(&source, &target, &args, &*progress_for(json)).await?;
            if json {
                print_json(&report)?;
            } else {
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
            json,
            sample,
            batch_size,
            max_differences,
        } => {
            let options = VerifyOptions {
                batch_size,
                sample,
                max_reported: max_differences,
            };
            let report = commands::verify(&source, &target, &options, &*progress_for(json)).await?;
            if json {
                print_json(&report)?;
            } else {
                println!("{report}");
            }
            Ok(ExitCode::from(if report.identical { 0 } else { 1 }))
        }
        Command::Demo {
            dir,
            users_per_tenant,
        } => {
            let report =
                switchyard_cli::demo::run(dir, users_per_tenant, &*progress_for(false)).await?;
            println!("{report}");
            Ok(if report.success() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
    }
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SWITCHYARD_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let cli = Cli::parse();
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
