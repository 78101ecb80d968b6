//! The checks, one `pub async fn <entity>_<what>(db)` each.
//!
//! Every check starts from an empty store, creates what it needs, and panics
//! with a message naming the misbehaviour. [`crate::CHECKS`] lists them all.
//! Many are generic over the entity (written once in a private module and
//! instantiated per entity here, from the list of [`crate::CHECKS`]); the
//! rest are specific to one entity.

mod applications;
pub(crate) mod capabilities;
mod codes;
mod concurrency;
mod connections;
pub(crate) mod generic;
pub(crate) mod limits;
mod logs;
mod passwords;
mod search;
mod sessions;
pub(crate) mod support;
mod tenants;
mod users;

pub use applications::*;
pub use codes::*;
pub use concurrency::*;
pub use connections::*;
pub use limits::{
    codes_and_passwords_nul_lookups, codes_cleanup_extreme_cutoffs, tenants_nul_lookups,
    tenants_timestamps_at_the_limits, users_upsert_many_names_a_clash_in_linear_time,
};
pub use logs::*;
pub use passwords::*;
pub use search::*;
pub use sessions::*;
pub use tenants::*;
pub use users::*;

/// Defines every check the list maps to a generic one (`name: generic_fn` in
/// the group of `Record`) as `generic::generic_fn::<Record>`.
macro_rules! generic_checks {
    ([] $($record:ident { $($name:ident $(: $generic:ident)?),* $(,)? })*) => {
        $($($(
            #[doc = concat!(
                "Generic check `", stringify!($generic), "` for `", stringify!($record), "`."
            )]
            pub async fn $name(db: &adapter_interfaces::DataAdapters) {
                generic::$generic::<adapter_interfaces::$record>(db).await
            }
        )?)*)*
    };
}
crate::__for_each_check!([generic_checks]);
