//! One SeaORM entity per table of the shared schema.
//!
//! Each model has the table's columns with the same names: `tenant_id` first
//! (except on `tenants`), then the columns of the matching record's
//! `Record::COLUMNS`. Timestamps, JSON and secrets use the value types of
//! [`crate::value`], which bind and read the representation each database
//! stores. The schema itself comes from `adapter_interfaces::schema`, never
//! from these entities.

pub mod applications;
pub mod codes;
pub mod connections;
pub mod logs;
pub mod passwords;
pub mod sessions;
pub mod tenants;
pub mod users;
