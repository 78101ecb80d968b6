//! Auth0's user files: the bulk-import JSON array and the NDJSON of a user
//! export job, read as a stream ([`reader`]) and mapped record by record onto
//! a [`adapter_interfaces::User`] and its current
//! [`adapter_interfaces::Password`] ([`record`]), and back for an export.
//!
//! Password hashes go through the `password-hashes` crate, which owns their
//! canonical forms; nothing here ever prints one.

pub mod reader;
pub mod record;

pub use record::{DEFAULT_CONNECTION, Imported, RecordError};
