//! # switchyard (crate `cli`)
//!
//! The offline steps of a migration between any two Switchyard stores, each
//! named by a URL `BACKEND+DATABASE_URL` (see [`url`]):
//!
//! - [`seed`]: realistic generated data, deterministic for a seed;
//! - [`backfill`]: an exact, idempotent, resumable copy, streaming in keyset
//!   pages with batched writes;
//! - [`verify`]: a streaming comparison of counts, ids and every field;
//! - [`demo`]: the whole migration on SQLite files, through a passthrough;
//! - [`operate`]: the running migration's shared stage, replication journal
//!   and relay (`switchyard stage`, `journal`, `relay`);
//! - [`traffic`]: an application instance in a box, for rehearsals and tests;
//! - [`import`] and [`export`]: users and password hashes from and to
//!   another system's files (Auth0's, through [`auth0`]).
//!
//! The engines take [`adapter_interfaces::DataAdapters`], so they run on any
//! adapter, the in-memory one included:
//!
//! ```
//! use adapter_interfaces::memory;
//! use switchyard_cli::{backfill, progress::Silent, seed, verify};
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let (old, new) = (memory::adapters(), memory::adapters());
//! let options = seed::SeedOptions { tenants: 1, users_per_tenant: 20, ..Default::default() };
//! seed::seed(&old, &options, &Silent).await?;
//! let copied = backfill::backfill(&old, &new, &Default::default(), &Silent).await?;
//! assert_eq!(copied.totals().failed, 0);
//! let report = verify::verify(&old, &new, &Default::default(), &Silent).await?;
//! assert!(report.identical);
//! # Ok(()) }
//! ```

pub mod auth0;
pub mod backfill;
pub mod checkpoint;
pub mod commands;
pub mod demo;
pub mod entity;
pub mod export;
pub mod import;
pub mod metrics;
pub mod operate;
pub mod progress;
pub mod report;
pub mod seed;
pub mod store;
pub mod traffic;
pub mod url;
pub mod verify;
