//! The checks, one `pub async fn <entity>_<what>(db)` each.
//!
//! Every check starts from an empty store, creates what it needs, and panics
//! with a message naming the misbehaviour. [`crate::CHECKS`] lists them all.
//! Many are generic over the entity (written once in a private module and
//! instantiated per entity); the rest are specific to one entity.

mod applications;
mod codes;
mod connections;
pub(crate) mod generic;
mod logs;
mod passwords;
mod sessions;
pub(crate) mod support;
mod tenants;
mod users;

pub use applications::*;
pub use codes::*;
pub use connections::*;
pub use logs::*;
pub use passwords::*;
pub use sessions::*;
pub use tenants::*;
pub use users::*;
