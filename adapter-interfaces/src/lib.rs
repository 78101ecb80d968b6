//! # adapter-interfaces
//!
//! The contract every Switchyard data adapter implements: the entities of an
//! Auth0-compatible identity model, one async trait per entity, listing with
//! pagination, sort, keyset cursors and a Lucene-style `q`, one error type,
//! the canonical schema, and an in-memory reference adapter.
//!
//! - [`entities`]: [`Tenant`], [`User`], [`Application`], [`Connection`],
//!   [`Session`], [`Code`], [`Password`], [`Log`], each with an insert and a
//!   patch type (serde, Auth0 field names).
//! - [`traits`]: [`TenantsAdapter`], the generic [`EntityStore`] /
//!   [`MutableStore`] and the per-entity names ([`UsersAdapter`],
//!   [`CodesAdapter`], ...), bundled as [`DataAdapters`].
//! - [`list`] and [`query`]: [`ListParams`] → [`ListPlan`] → [`Page`]; every
//!   backend runs the same plan, so all of them filter, sort and page alike.
//! - [`record`]: column metadata and validation shared by all backends.
//! - [`schema`]: the DDL of the one shared schema, for each dialect.
//! - [`journal`]: the durable replication journal and the shared migration
//!   stage that passthroughs of every instance share ([`ReplicationJournal`]).
//! - [`retry`]: the bounded, jittered retry of writes a database aborted
//!   for concurrency (deadlocks, lock waits, busy SQLite), shared by the backends.
//! - [`capabilities`]: what a partial adapter declares it supports
//!   ([`Capabilities`]; the default is everything), answering the rest with
//!   [`AdapterError::NotSupported`].
//! - [`memory`]: the in-memory adapter, the reference of the conformance suite.
//!
//! ## Canonical values
//!
//! Whatever the backend, the same writes read back as byte-identical records:
//! timestamps are UTC milliseconds ([`Timestamp`]), strings compare and sort
//! by bytes, JSON round-trips as `serde_json::Value`, lists keep their order,
//! emails are stored lowercased, and the default order is the primary key.
//! Ids and `created_at`/`updated_at` may come from the caller (exact copies)
//! or are generated. Secrets ([`Secret`]) never show in `Debug` output.
//!
//! ```
//! use adapter_interfaces::{ListParams, Sort, TenantInsert, UserInsert};
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> adapter_interfaces::Result<()> {
//! let db = adapter_interfaces::memory::adapters();
//! let acme = db.tenants.create(TenantInsert { id: Some("acme".into()), friendly_name: "Acme".into(), ..Default::default() }).await?;
//! for email in ["b@x.io", "a@x.io"] {
//!     db.users.create(&acme.id, UserInsert { email: Some(email.into()), connection: "db".into(), ..Default::default() }).await?;
//! }
//! let page = db.users.list(&acme.id, &ListParams::default().with_sort(Sort::asc("email")).with_per_page(1)).await?;
//! assert_eq!(page.items[0].email.as_deref(), Some("a@x.io"));
//! let rest = db.users.list(&acme.id, &ListParams::default().with_sort(Sort::asc("email")).with_from(page.next.unwrap())).await?;
//! assert_eq!(rest.items[0].email.as_deref(), Some("b@x.io"));
//! # Ok(()) }
//! ```

pub mod bulk;
pub mod capabilities;
pub mod connect;
pub mod entities;
pub mod error;
pub mod journal;
pub mod list;
pub mod memory;
pub mod patch;
pub mod query;
pub mod record;
pub mod retry;
pub mod schema;
pub mod secret;
pub mod timestamp;
pub mod traits;

pub use capabilities::{Capabilities, QSupport};
pub use connect::{ConnectError, ConnectOptions, PoolTimeout};
pub use entities::*;
pub use error::{AdapterError, BoxError, EntityKind, ErrorKind, Result};
pub use journal::ReplicationJournal;
pub use list::{ListParams, ListPlan, Page, Sort, SortOrder};
pub use patch::NoPatch;
pub use query::Filter;
pub use record::{Column, ColumnKind, Record, Value};
pub use secret::Secret;
pub use timestamp::Timestamp;
pub use traits::{
    ApplicationsAdapter, CodesAdapter, ConnectionsAdapter, DataAdapters, EntityStore, LogsAdapter,
    MutableStore, PasswordsAdapter, SessionsAdapter, TenantsAdapter, UsersAdapter,
};

pub use async_trait::async_trait;
