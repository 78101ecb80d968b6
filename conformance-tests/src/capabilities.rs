//! Partial adapters: what each check needs, and which checks the suite
//! skips for an adapter that declares less than everything.
//!
//! An adapter that supports only part of the contract declares it once, as
//! [`Capabilities`] (see [`adapter_interfaces::capabilities`]), and hands the
//! declaration to the suite with its store:
//! [`TestStore::with_capabilities`]. An adapter with read-only entities
//! reads them from some writable store; it hands that one over too
//! ([`TestStore::with_seed_store`]), and the checks write the records they
//! read back through it.
//!
//! Every check declares what it needs in [`NEEDS`]: the entity it is about,
//! whether it checks writes of that entity or only reads records it wrote
//! to have something to read, whether it lists with `q`, and whether it
//! relies on an atomic `upsert_many`. [`skip_reason`] compares that with the
//! declaration; the runner ([`crate::run_suite_check`]) prints one line per
//! skipped check, such as
//!
//! ```text
//! skipped users_create_round_trip: users are read-only in this adapter's capabilities (checked instead: every write of users is NotSupported and writes nothing)
//! skipped logs_upsert_many_is_atomic: upsert_many of logs is not atomic in this adapter's capabilities
//! ```
//!
//! and runs the rest, against [`TestStore::harness`]: the adapters under
//! test, with the writes of read-only entities sent to the seed store. In
//! place of each check skipped because its entity is read-only it checks
//! that every write of the entity fails with
//! [`AdapterError::NotSupported`](adapter_interfaces::AdapterError::NotSupported)
//! and writes nothing. The model-based tests ([`crate::model`]) generate no
//! operation the declaration excludes.
//!
//! A skipped capability is not a skipped database: a factory that returns
//! `None` (no database here) still prints its own `skipped:` line, and
//! fails under `SWITCHYARD_REQUIRE_DATABASES=1`, as before.
//!
//! ```
//! use adapter_interfaces::{Capabilities, EntityKind};
//! use conformance_tests::{Outcome, TestStore};
//!
//! let store = || async {
//!     let inner = adapter_interfaces::memory::adapters();
//!     // A real partial adapter would wrap `inner` here and refuse what it
//!     // declares; the memory adapter supports more than declared.
//!     Some(
//!         TestStore::new(inner.clone())
//!             .with_capabilities(Capabilities::default().without_atomic_batches(EntityKind::Log))
//!             .with_seed_store(inner),
//!     )
//! };
//! let outcome = conformance_tests::run_suite_check("logs_upsert_many_is_atomic", store);
//! assert!(matches!(outcome, Outcome::Skipped(reason) if reason.contains("not atomic")));
//! assert_eq!(conformance_tests::run_suite_check("logs_upsert_many", store), Outcome::Passed);
//! ```

use adapter_interfaces::{Capabilities, EntityKind, QSupport};

use crate::TestStore;

/// What a check needs of the adapter under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Needs {
    /// The entity the check is about.
    pub entity: EntityKind,
    /// Whether it checks writes of [`Needs::entity`]; `false` when it only
    /// writes records (through the seed store of a read-only entity) to read
    /// them back.
    pub writes: bool,
    /// Whether it lists [`Needs::entity`] with every form of `q`.
    pub q: bool,
    /// Whether it relies on `upsert_many` of [`Needs::entity`] being atomic.
    pub atomic_batches: bool,
}

impl Needs {
    /// The same needs, and every form of `q`.
    pub const fn q(mut self) -> Self {
        self.q = true;
        self
    }

    /// The same needs, and an atomic `upsert_many`.
    pub const fn atomic_batches(mut self) -> Self {
        self.atomic_batches = true;
        self
    }
}

/// A check of writes of `entity`.
pub const fn writes(entity: EntityKind) -> Needs {
    Needs {
        entity,
        writes: true,
        q: false,
        atomic_batches: false,
    }
}

/// A check of reads of `entity` (its writes only set up what it reads).
pub const fn reads(entity: EntityKind) -> Needs {
    Needs {
        writes: false,
        ..writes(entity)
    }
}

use EntityKind::{Application, Code, Connection, Log, Password, Session, Tenant, User};

/// What every check of [`crate::CHECKS`] needs, by name. A check missing
/// here runs only against adapters that support everything.
pub const NEEDS: &[(&str, Needs)] = &[
    ("tenants_create_round_trip", writes(Tenant)),
    ("tenants_create_generates_id_and_timestamps", writes(Tenant)),
    ("tenants_create_conflict", writes(Tenant)),
    ("tenants_get_missing", reads(Tenant)),
    ("tenants_update_every_field", writes(Tenant)),
    ("tenants_update_missing", writes(Tenant)),
    ("tenants_update_invalid_writes_nothing", writes(Tenant)),
    ("tenants_remove", writes(Tenant)),
    ("tenants_remove_cascades", writes(Tenant)),
    ("tenants_upsert_exact", writes(Tenant)),
    ("tenants_upsert_many", writes(Tenant).atomic_batches()),
    ("tenants_list_pages_and_totals", reads(Tenant)),
    ("tenants_list_sort_orders", reads(Tenant)),
    ("tenants_list_keyset_scans", reads(Tenant).q()),
    ("tenants_list_q_forms", reads(Tenant).q()),
    ("tenants_list_bad_params", reads(Tenant).q()),
    ("tenants_bad_input_writes_nothing", writes(Tenant)),
    (
        "tenants_timestamps_at_the_limits",
        writes(Tenant).atomic_batches(),
    ),
    ("tenants_nul_lookups", writes(Tenant).q()),
    ("users_create_round_trip", writes(User)),
    ("users_create_generates_id_and_timestamps", writes(User)),
    ("users_provider_defaults", writes(User)),
    ("users_json_round_trip", writes(User)),
    ("users_email_lowercased", writes(User).q()),
    ("users_get_missing", reads(User)),
    ("users_create_unknown_tenant", writes(User)),
    ("users_create_conflict_on_key", writes(User)),
    ("users_email_unique_per_connection", writes(User)),
    ("users_username_unique_per_connection", writes(User)),
    ("users_clash_on_two_keys_names_the_first", writes(User)),
    ("users_unique_keys_compare_bytes", writes(User).q()),
    ("users_update_every_field", writes(User)),
    ("users_update_clears_fields", writes(User)),
    ("users_update_empty_patch", writes(User)),
    ("users_update_conflict_writes_nothing", writes(User)),
    ("users_update_missing", writes(User)),
    ("users_update_invalid_writes_nothing", writes(User)),
    ("users_remove", writes(User)),
    ("users_remove_cascades", writes(User)),
    ("users_upsert_exact", writes(User)),
    ("users_upsert_keeps_children", writes(User)),
    ("users_upsert_unknown_tenant", writes(User)),
    ("users_upsert_conflict_on_unique", writes(User)),
    ("users_upsert_many", writes(User)),
    ("users_upsert_many_is_atomic", writes(User).atomic_batches()),
    ("users_tenant_isolation", writes(User).q()),
    ("users_list_pages_and_totals", reads(User)),
    ("users_list_sort_orders", reads(User)),
    ("users_list_keyset_scans", reads(User).q()),
    ("users_list_q_forms", reads(User).q()),
    ("users_list_q_examples", reads(User).q()),
    ("users_list_unknown_tenant", reads(User)),
    ("users_list_bad_params", reads(User).q()),
    ("users_bad_strings_write_nothing", writes(User)),
    ("users_max_lengths_round_trip", writes(User)),
    (
        "users_timestamps_at_the_limits",
        writes(User).atomic_batches(),
    ),
    ("users_json_depth_limit", writes(User).atomic_batches()),
    ("users_nul_lookups", writes(User).q()),
    (
        "users_upsert_many_names_a_clash_in_linear_time",
        writes(User).atomic_batches(),
    ),
    ("users_invalid_email_writes_nothing", writes(User)),
    ("users_invalid_user_id_writes_nothing", writes(User)),
    ("users_search_auth0_examples", reads(User).q()),
    ("users_search_ranges", reads(User).q()),
    ("users_search_grouping", reads(User).q()),
    ("users_search_wildcards_are_literal", reads(User).q()),
    ("users_search_metadata", reads(User).q()),
    ("users_search_unsupported_is_invalid", reads(User).q()),
    ("users_search_case", reads(User).q()),
    ("applications_create_round_trip", writes(Application)),
    (
        "applications_create_generates_id_and_timestamps",
        writes(Application),
    ),
    ("applications_get_missing", reads(Application)),
    ("applications_create_unknown_tenant", writes(Application)),
    ("applications_create_conflict_on_key", writes(Application)),
    ("applications_update_every_field", writes(Application)),
    ("applications_update_clears_fields", writes(Application)),
    ("applications_update_empty_patch", writes(Application)),
    ("applications_update_missing", writes(Application)),
    (
        "applications_update_invalid_writes_nothing",
        writes(Application),
    ),
    ("applications_remove", writes(Application)),
    ("applications_upsert_exact", writes(Application)),
    ("applications_upsert_unknown_tenant", writes(Application)),
    ("applications_upsert_many", writes(Application)),
    (
        "applications_upsert_many_is_atomic",
        writes(Application).atomic_batches(),
    ),
    ("applications_tenant_isolation", writes(Application).q()),
    ("applications_list_pages_and_totals", reads(Application)),
    ("applications_list_sort_orders", reads(Application)),
    ("applications_list_keyset_scans", reads(Application).q()),
    ("applications_list_q_forms", reads(Application).q()),
    ("applications_list_unknown_tenant", reads(Application)),
    ("applications_list_bad_params", reads(Application).q()),
    (
        "applications_bad_strings_write_nothing",
        writes(Application),
    ),
    ("applications_max_lengths_round_trip", writes(Application)),
    (
        "applications_timestamps_at_the_limits",
        writes(Application).atomic_batches(),
    ),
    ("applications_nul_lookups", writes(Application).q()),
    ("applications_errors_hide_secret", writes(Application).q()),
    ("connections_create_round_trip", writes(Connection)),
    (
        "connections_create_generates_id_and_timestamps",
        writes(Connection),
    ),
    ("connections_get_missing", reads(Connection)),
    ("connections_create_unknown_tenant", writes(Connection)),
    ("connections_create_conflict_on_key", writes(Connection)),
    ("connections_name_unique", writes(Connection)),
    ("connections_names_compare_bytes", writes(Connection).q()),
    ("connections_update_every_field", writes(Connection)),
    ("connections_update_clears_fields", writes(Connection)),
    ("connections_update_empty_patch", writes(Connection)),
    (
        "connections_update_conflict_writes_nothing",
        writes(Connection),
    ),
    ("connections_update_missing", writes(Connection)),
    (
        "connections_update_invalid_writes_nothing",
        writes(Connection),
    ),
    ("connections_remove", writes(Connection)),
    ("connections_upsert_exact", writes(Connection)),
    ("connections_upsert_unknown_tenant", writes(Connection)),
    ("connections_upsert_many", writes(Connection)),
    (
        "connections_upsert_many_is_atomic",
        writes(Connection).atomic_batches(),
    ),
    ("connections_tenant_isolation", writes(Connection).q()),
    ("connections_list_pages_and_totals", reads(Connection)),
    ("connections_list_sort_orders", reads(Connection)),
    ("connections_list_keyset_scans", reads(Connection).q()),
    ("connections_list_q_forms", reads(Connection).q()),
    ("connections_list_unknown_tenant", reads(Connection)),
    ("connections_list_bad_params", reads(Connection).q()),
    ("connections_bad_strings_write_nothing", writes(Connection)),
    ("connections_max_lengths_round_trip", writes(Connection)),
    (
        "connections_timestamps_at_the_limits",
        writes(Connection).atomic_batches(),
    ),
    (
        "connections_json_depth_limit",
        writes(Connection).atomic_batches(),
    ),
    ("connections_nul_lookups", writes(Connection).q()),
    ("sessions_create_round_trip", writes(Session)),
    (
        "sessions_create_generates_id_and_timestamps",
        writes(Session),
    ),
    ("sessions_get_missing", reads(Session)),
    ("sessions_create_unknown_tenant", writes(Session)),
    (
        "sessions_create_unknown_user_writes_nothing",
        writes(Session),
    ),
    ("sessions_create_conflict_on_key", writes(Session)),
    ("sessions_update_every_field", writes(Session)),
    ("sessions_update_clears_fields", writes(Session)),
    ("sessions_update_empty_patch", writes(Session)),
    ("sessions_update_missing", writes(Session)),
    ("sessions_update_invalid_writes_nothing", writes(Session)),
    ("sessions_remove", writes(Session)),
    ("sessions_upsert_exact", writes(Session)),
    ("sessions_upsert_unknown_tenant", writes(Session)),
    ("sessions_upsert_unknown_user", writes(Session)),
    ("sessions_upsert_many", writes(Session)),
    (
        "sessions_upsert_many_is_atomic",
        writes(Session).atomic_batches(),
    ),
    ("sessions_tenant_isolation", writes(Session).q()),
    ("sessions_list_pages_and_totals", reads(Session)),
    ("sessions_list_sort_orders", reads(Session)),
    ("sessions_list_keyset_scans", reads(Session).q()),
    ("sessions_list_q_forms", reads(Session).q()),
    ("sessions_list_unknown_tenant", reads(Session)),
    ("sessions_list_bad_params", reads(Session).q()),
    ("sessions_bad_strings_write_nothing", writes(Session)),
    ("sessions_max_lengths_round_trip", writes(Session)),
    (
        "sessions_timestamps_at_the_limits",
        writes(Session).atomic_batches(),
    ),
    (
        "sessions_json_depth_limit",
        writes(Session).atomic_batches(),
    ),
    ("sessions_nul_lookups", writes(Session).q()),
    ("codes_create_round_trip", writes(Code).q()),
    ("codes_create_generates_id_and_timestamps", writes(Code)),
    ("codes_get_missing", reads(Code)),
    ("codes_create_unknown_tenant", writes(Code)),
    ("codes_create_conflict_on_key", writes(Code)),
    ("codes_consume", writes(Code)),
    ("codes_consume_expired_used_or_missing", writes(Code)),
    ("codes_consume_other_tenant", writes(Code)),
    ("codes_consume_race", writes(Code)),
    ("codes_cleanup", writes(Code)),
    ("codes_remove", writes(Code)),
    ("codes_upsert_exact", writes(Code)),
    ("codes_upsert_unknown_tenant", writes(Code)),
    ("codes_upsert_many", writes(Code)),
    ("codes_upsert_many_is_atomic", writes(Code).atomic_batches()),
    ("codes_tenant_isolation", writes(Code).q()),
    ("codes_list_pages_and_totals", reads(Code)),
    ("codes_list_sort_orders", reads(Code)),
    ("codes_list_keyset_scans", reads(Code).q()),
    ("codes_list_q_forms", reads(Code).q()),
    ("codes_list_unknown_tenant", reads(Code)),
    ("codes_list_bad_params", reads(Code).q()),
    ("codes_bad_strings_write_nothing", writes(Code)),
    ("codes_max_lengths_round_trip", writes(Code)),
    (
        "codes_timestamps_at_the_limits",
        writes(Code).atomic_batches(),
    ),
    ("codes_nul_lookups", writes(Code).q()),
    ("codes_cleanup_extreme_cutoffs", writes(Code)),
    ("codes_and_passwords_nul_lookups", writes(Code).q()),
    ("passwords_create_round_trip", writes(Password)),
    (
        "passwords_create_generates_id_and_timestamps",
        writes(Password),
    ),
    ("passwords_get_missing", reads(Password)),
    ("passwords_create_unknown_tenant", writes(Password)),
    (
        "passwords_create_unknown_user_writes_nothing",
        writes(Password),
    ),
    ("passwords_create_conflict_on_key", writes(Password)),
    ("passwords_rotation", writes(Password).q()),
    ("passwords_rotation_by_upsert", writes(Password).q()),
    ("passwords_non_current_keeps_current", writes(Password)),
    ("passwords_concurrent_rotation", writes(Password).q()),
    ("passwords_get_current_isolation", writes(Password)),
    ("passwords_remove", writes(Password)),
    ("passwords_upsert_exact", writes(Password)),
    ("passwords_upsert_unknown_tenant", writes(Password)),
    ("passwords_upsert_unknown_user", writes(Password)),
    ("passwords_upsert_many", writes(Password)),
    (
        "passwords_upsert_many_is_atomic",
        writes(Password).atomic_batches(),
    ),
    ("passwords_tenant_isolation", writes(Password).q()),
    ("passwords_list_pages_and_totals", reads(Password)),
    ("passwords_list_sort_orders", reads(Password)),
    ("passwords_list_keyset_scans", reads(Password).q()),
    ("passwords_list_q_forms", reads(Password).q()),
    ("passwords_list_unknown_tenant", reads(Password)),
    ("passwords_list_bad_params", reads(Password).q()),
    ("passwords_bad_strings_write_nothing", writes(Password)),
    ("passwords_max_lengths_round_trip", writes(Password)),
    (
        "passwords_timestamps_at_the_limits",
        writes(Password).atomic_batches(),
    ),
    ("passwords_nul_lookups", writes(Password).q()),
    ("passwords_errors_hide_secret", writes(Password).q()),
    ("logs_create_round_trip", writes(Log)),
    ("logs_create_generates_id_and_timestamps", writes(Log)),
    ("logs_get_missing", reads(Log)),
    ("logs_create_unknown_tenant", writes(Log)),
    ("logs_create_conflict_on_key", writes(Log)),
    ("logs_remove", writes(Log)),
    ("logs_upsert_exact", writes(Log)),
    ("logs_upsert_unknown_tenant", writes(Log)),
    ("logs_upsert_many", writes(Log)),
    ("logs_upsert_many_is_atomic", writes(Log).atomic_batches()),
    ("logs_tenant_isolation", writes(Log).q()),
    ("logs_list_pages_and_totals", reads(Log)),
    ("logs_list_sort_orders", reads(Log)),
    ("logs_list_keyset_scans", reads(Log).q()),
    ("logs_list_q_forms", reads(Log).q()),
    ("logs_list_newest_first_scan", reads(Log).q()),
    ("logs_list_unknown_tenant", reads(Log)),
    ("logs_list_bad_params", reads(Log).q()),
    ("logs_bad_strings_write_nothing", writes(Log)),
    ("logs_max_lengths_round_trip", writes(Log)),
    (
        "logs_timestamps_at_the_limits",
        writes(Log).atomic_batches(),
    ),
    ("logs_json_depth_limit", writes(Log).atomic_batches()),
    ("logs_nul_lookups", writes(Log).q()),
    ("concurrency_upserts_of_new_users", writes(User)),
    ("concurrency_creates_and_updates", writes(User)),
    ("concurrency_upserts_of_children", writes(User)),
    ("concurrency_upserts_of_one_key", writes(User)),
];

/// What `check` needs, if it is declared in [`NEEDS`].
pub fn needs(check: &str) -> Option<Needs> {
    NEEDS
        .iter()
        .find(|(name, _)| *name == check)
        .map(|(_, n)| *n)
}

fn describe_q(q: &QSupport) -> String {
    match q {
        QSupport::All => "every form".to_owned(),
        QSupport::None => "no q".to_owned(),
        QSupport::Fields(fields) => {
            let fields: Vec<&str> = fields.iter().map(String::as_str).collect();
            format!("q only on {}", fields.join(", "))
        }
    }
}

/// Why `check` does not apply to `store`, or `None` when it runs.
pub fn skip_reason(check: &str, store: &TestStore) -> Option<String> {
    let capabilities = store.capabilities();
    if capabilities.is_complete() {
        return None;
    }
    let Some(needs) = needs(check) else {
        return Some(format!(
            "the check declares no needs in conformance_tests::capabilities::NEEDS, so it runs only against adapters that support everything (this one: {capabilities})"
        ));
    };
    skip_reason_for(&needs, capabilities, store.seed_store().is_some())
}

/// [`skip_reason`] for declared `needs`, given whether the store has a seed store.
pub fn skip_reason_for(needs: &Needs, capabilities: &Capabilities, seeded: bool) -> Option<String> {
    let entity = needs.entity;
    let table = entity.table();
    if needs.writes && !capabilities.is_writable(entity) {
        return Some(format!(
            "{table} are read-only in this adapter's capabilities"
        ));
    }
    let read_only: Vec<&str> = EntityKind::ALL
        .into_iter()
        .filter(|e| !capabilities.is_writable(*e))
        .map(EntityKind::table)
        .collect();
    if !seeded && !read_only.is_empty() {
        return Some(format!(
            "{} are read-only in this adapter's capabilities and the store has no seed store (TestStore::with_seed_store) to write the records the check reads",
            read_only.join(", ")
        ));
    }
    if needs.atomic_batches && !capabilities.has_atomic_batches(entity) {
        return Some(format!(
            "upsert_many of {table} is not atomic in this adapter's capabilities"
        ));
    }
    if needs.q && !capabilities.supports_all_q(entity) {
        return Some(format!(
            "the check needs every form of q on {table}; this adapter's capabilities allow {}",
            describe_q(capabilities.q(entity))
        ));
    }
    None
}

/// The capabilities the model tests generate operations for, for `store`:
/// its declaration, except that a read-only entity is written (through the
/// seed store) when the store has one.
pub fn generation_capabilities(store: &TestStore) -> Capabilities {
    let declared = store.capabilities();
    let seeded = store.seed_store().is_some();
    let mut out = Capabilities::default();
    for entity in EntityKind::ALL {
        if !declared.is_writable(entity) && !seeded {
            out = out.read_only(entity);
        }
        if !declared.has_atomic_batches(entity) {
            out = out.without_atomic_batches(entity);
        }
        match declared.q(entity) {
            QSupport::All => {}
            QSupport::None => out = out.without_q(entity),
            QSupport::Fields(fields) => out = out.with_q_fields(entity, fields.iter().cloned()),
        }
    }
    out
}

/// `docs/ADAPTER-GUIDE.md`, whose example of a partial adapter runs as a
/// doc test of this crate.
#[cfg(doctest)]
#[doc = include_str!("../../docs/ADAPTER-GUIDE.md")]
pub struct AdapterGuide;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_check_declares_its_needs_once() {
        for (name, _) in crate::CHECKS {
            assert_eq!(
                NEEDS.iter().filter(|(n, _)| n == name).count(),
                1,
                "{name} must appear once in NEEDS"
            );
        }
        for (name, _) in NEEDS {
            assert!(
                crate::CHECKS.iter().any(|(n, _)| n == name),
                "NEEDS names {name}, which is no check"
            );
        }
    }
}
