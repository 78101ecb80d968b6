//! The eight entities of the identity data model, with their insert and patch types.
//!
//! Field names follow Auth0's Management API. Every entity except
//! [`Tenant`] belongs to a tenant; its tenant id is not a field of the
//! record but the first argument of every adapter method.

mod application;
mod code;
mod connection;
mod log;
mod password;
mod session;
mod tenant;
mod user;

pub use application::{Application, ApplicationInsert, ApplicationPatch};
pub use code::{Code, CodeInsert, CodeType};
pub use connection::{Connection, ConnectionInsert, ConnectionPatch};
pub use log::{Log, LogInsert};
pub use password::{Password, PasswordAlgorithm, PasswordInsert, UnknownAlgorithm};
pub use session::{Session, SessionInsert, SessionPatch};
pub use tenant::{Tenant, TenantInsert, TenantPatch};
pub use user::{User, UserInsert, UserPatch};

/// Longest id of any record (other than tenants).
pub const MAX_ID_CHARS: usize = 255;
/// Longest tenant id.
pub const MAX_TENANT_ID_CHARS: usize = 64;
/// Longest URL.
pub const MAX_URL_CHARS: usize = 2048;

/// A JSON object (metadata, options, device, details).
pub type JsonObject = serde_json::Map<String, serde_json::Value>;
