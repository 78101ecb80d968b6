//! # conformance-tests
//!
//! The conformance suite of Switchyard: example-based checks of every method
//! of every entity (round trips of every field, updates, removals, listing
//! with pages, totals, sort orders, keyset scans and every `q` form,
//! uniqueness conflicts, tenant isolation, the consume race, password
//! rotation, concurrent writers (`concurrency_*`: 200 concurrent upserts of
//! new users, upserts of children, writers racing on one key, none of which
//! may fail), and bad input that must be rejected with the typed error and
//! write nothing), plus database provisioning for backend tests.
//!
//! ## Running the suite against your adapter
//!
//! Write a factory that returns a fresh, **empty** store (`None` when the
//! database it needs is unavailable), and call [`conformance_suite!`] with
//! it in an integration test. Every check becomes its own `#[test]`, named
//! after the check (`users_update_every_field`, `codes_consume_race`, ...),
//! so `cargo test users_` runs a subset and a failure names what broke.
//!
//! ```
//! // tests/conformance.rs of your adapter crate
//! async fn fresh_store() -> Option<conformance_tests::TestStore> {
//!     // A database-backed adapter would provision a database first, and keep
//!     // it alive with the store:
//!     //   let db = conformance_tests::provision::postgres().await?;
//!     //   let adapters = my_adapter::connect(db.url()).await.expect("connect");
//!     //   Some(conformance_tests::TestStore::new(adapters).with_guard(db))
//!     Some(conformance_tests::TestStore::new(adapter_interfaces::memory::adapters()))
//! }
//!
//! conformance_tests::conformance_suite!(fresh_store);
//! # fn main() {}
//! ```
//!
//! The factory may also return `Option<DataAdapters>`. Each test builds its
//! own multi-threaded Tokio runtime (two workers, so that the races of
//! `codes_consume_race` really run in parallel); your crate needs no Tokio
//! test macros.
//!
//! To run the checks some other way (one database for all of them, a custom
//! harness), [`CHECKS`] lists every check by name, [`run_suite_check`] runs
//! one on a fresh store (skipping it when the store's capabilities exclude
//! it), and [`run_suite`] runs them all and reports each outcome.
//!
//! ## Partial adapters
//!
//! An adapter that supports only part of the contract (read-only entities,
//! no atomic `upsert_many`, no `q` or `q` on some fields only) declares it
//! once as [`Capabilities`](adapter_interfaces::Capabilities) and gives the
//! declaration to the suite with its store; an adapter with read-only
//! entities also gives the writable store it reads them from, through which
//! the checks write what they read back:
//!
//! ```
//! use adapter_interfaces::{Capabilities, EntityKind};
//!
//! async fn fresh_store() -> Option<conformance_tests::TestStore> {
//!     let inner = adapter_interfaces::memory::adapters();
//!     // `my_adapter::over(&inner)` in a real crate: the partial adapter.
//!     let adapters = inner.clone();
//!     let declared = Capabilities::default().without_atomic_batches(EntityKind::Log);
//!     Some(
//!         conformance_tests::TestStore::new(adapters)
//!             .with_capabilities(declared)
//!             .with_seed_store(inner),
//!     )
//! }
//!
//! conformance_tests::conformance_suite!(fresh_store);
//! # fn main() {}
//! ```
//!
//! Each check declares what it needs ([`capabilities::NEEDS`]); a check the
//! declaration excludes prints `skipped <check>: <reason>` and passes, the
//! others run as usual. In place of a check skipped because its entity is
//! read-only, the suite checks that every write of the entity is
//! `NotSupported` and writes nothing. [`run_suite`] runs every check and
//! reports which were skipped, to assert on. The model tests generate only
//! what the declaration allows. See [`capabilities`] and the adapter guide
//! (`docs/ADAPTER-GUIDE.md`, "Partial adapters").
//!
//! ## Databases
//!
//! [`provision`] creates a fresh, uniquely named PostgreSQL or MySQL/MariaDB
//! database per test (from `SWITCHYARD_POSTGRES_URL` / `SWITCHYARD_MYSQL_URL`,
//! or a testcontainers container when a Docker engine answers) and drops it
//! afterwards; without either it prints a `skipped:` line, or fails when
//! `SWITCHYARD_REQUIRE_DATABASES=1`.
//!
//! ## What the checks assume
//!
//! Only the contract of `adapter-interfaces` (its trait docs and
//! `docs/ADAPTER-GUIDE.md`): records are compared whole, with timestamps in
//! milliseconds; where a check needs exact timestamps it supplies them, and
//! generated ids and timestamps are checked for shape and plausibility.

// This crate is test code: a check reports a failure by panicking with a
// message that says what the adapter did wrong, like any assertion.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::future::Future;
use std::pin::Pin;

use adapter_interfaces::DataAdapters;

pub mod capabilities;
pub mod checks;
pub mod journal;
/// Model-based property tests: random operation sequences compared with the
/// in-memory reference, differential and cross-backend runs.
pub mod model;
pub mod provision;
pub mod proxy;
mod store;

pub use store::TestStore;

/// The future of one check.
pub type CheckFuture<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// A check: runs against an empty store and panics when the adapter misbehaves.
pub type CheckFn = for<'a> fn(&'a DataAdapters) -> CheckFuture<'a>;

/// Calls `$callback! { [$extra] Record { check_a, check_b: generic_fn, ... } ... }`
/// with the name of every check, grouped by entity: the one list from which
/// [`CHECKS`], [`conformance_suite!`] and the generic checks' instantiations
/// are built, so they cannot drift apart. Every name is a function of
/// [`checks`]; `name: generic_fn` defines it as `checks::generic::generic_fn`
/// over the group's record type, a bare name is written by hand.
#[doc(hidden)]
#[macro_export]
macro_rules! __for_each_check {
    ([$($callback:tt)+] $($extra:tt)*) => {
        $($callback)+ ! { [$($extra)*]
            // tenants
            Tenant {
                tenants_create_round_trip,
                tenants_create_generates_id_and_timestamps,
                tenants_create_conflict,
                tenants_get_missing,
                tenants_update_every_field,
                tenants_update_missing,
                tenants_update_invalid_writes_nothing,
                tenants_remove,
                tenants_remove_cascades,
                tenants_upsert_exact,
                tenants_upsert_many,
                tenants_list_pages_and_totals: list_pages,
                tenants_list_sort_orders: list_sort_orders,
                tenants_list_keyset_scans: list_keyset_scans,
                tenants_list_q_forms: list_q_forms,
                tenants_list_bad_params: list_bad_params,
                tenants_bad_input_writes_nothing,
                tenants_timestamps_at_the_limits,
                tenants_nul_lookups,
            }
            // users
            User {
                users_create_round_trip,
                users_create_generates_id_and_timestamps: create_generates_id_and_timestamps,
                users_provider_defaults,
                users_json_round_trip,
                users_email_lowercased,
                users_get_missing: get_missing,
                users_create_unknown_tenant: create_unknown_tenant,
                users_create_conflict_on_key: create_conflict_on_key,
                users_email_unique_per_connection,
                users_username_unique_per_connection,
                users_clash_on_two_keys_names_the_first,
                users_unique_keys_compare_bytes,
                users_update_every_field,
                users_update_clears_fields,
                users_update_empty_patch: update_empty_patch,
                users_update_conflict_writes_nothing,
                users_update_missing: update_missing,
                users_update_invalid_writes_nothing: update_invalid_writes_nothing,
                users_remove: remove,
                users_remove_cascades,
                users_upsert_exact: upsert_exact,
                users_upsert_keeps_children,
                users_upsert_unknown_tenant: upsert_unknown_tenant,
                users_upsert_conflict_on_unique,
                users_upsert_many: upsert_many,
                users_upsert_many_is_atomic: upsert_many_is_atomic,
                users_tenant_isolation: tenant_isolation,
                users_list_pages_and_totals: list_pages,
                users_list_sort_orders: list_sort_orders,
                users_list_keyset_scans: list_keyset_scans,
                users_list_q_forms: list_q_forms,
                users_list_q_examples,
                users_list_unknown_tenant: list_unknown_tenant,
                users_list_bad_params: list_bad_params,
                users_bad_strings_write_nothing: bad_strings_write_nothing,
                users_max_lengths_round_trip: max_lengths_round_trip,
                users_timestamps_at_the_limits: timestamps_at_the_limits,
                users_json_depth_limit: json_depth_limit,
                users_nul_lookups: nul_lookups,
                users_upsert_many_names_a_clash_in_linear_time,
                users_invalid_email_writes_nothing,
                users_invalid_user_id_writes_nothing,
                users_search_auth0_examples,
                users_search_ranges,
                users_search_grouping,
                users_search_wildcards_are_literal,
                users_search_metadata,
                users_search_case,
                users_search_unsupported_is_invalid,
            }
            // applications
            Application {
                applications_create_round_trip,
                applications_create_generates_id_and_timestamps: create_generates_id_and_timestamps,
                applications_get_missing: get_missing,
                applications_create_unknown_tenant: create_unknown_tenant,
                applications_create_conflict_on_key: create_conflict_on_key,
                applications_update_every_field,
                applications_update_clears_fields,
                applications_update_empty_patch: update_empty_patch,
                applications_update_missing: update_missing,
                applications_update_invalid_writes_nothing: update_invalid_writes_nothing,
                applications_remove: remove,
                applications_upsert_exact: upsert_exact,
                applications_upsert_unknown_tenant: upsert_unknown_tenant,
                applications_upsert_many: upsert_many,
                applications_upsert_many_is_atomic: upsert_many_is_atomic,
                applications_tenant_isolation: tenant_isolation,
                applications_list_pages_and_totals: list_pages,
                applications_list_sort_orders: list_sort_orders,
                applications_list_keyset_scans: list_keyset_scans,
                applications_list_q_forms: list_q_forms,
                applications_list_unknown_tenant: list_unknown_tenant,
                applications_list_bad_params: list_bad_params,
                applications_bad_strings_write_nothing: bad_strings_write_nothing,
                applications_max_lengths_round_trip: max_lengths_round_trip,
                applications_timestamps_at_the_limits: timestamps_at_the_limits,
                applications_nul_lookups: nul_lookups,
                applications_errors_hide_secret,
            }
            // connections
            Connection {
                connections_create_round_trip,
                connections_create_generates_id_and_timestamps: create_generates_id_and_timestamps,
                connections_get_missing: get_missing,
                connections_create_unknown_tenant: create_unknown_tenant,
                connections_create_conflict_on_key: create_conflict_on_key,
                connections_name_unique,
                connections_names_compare_bytes,
                connections_update_every_field,
                connections_update_clears_fields,
                connections_update_empty_patch: update_empty_patch,
                connections_update_conflict_writes_nothing,
                connections_update_missing: update_missing,
                connections_update_invalid_writes_nothing: update_invalid_writes_nothing,
                connections_remove: remove,
                connections_upsert_exact: upsert_exact,
                connections_upsert_unknown_tenant: upsert_unknown_tenant,
                connections_upsert_many: upsert_many,
                connections_upsert_many_is_atomic: upsert_many_is_atomic,
                connections_tenant_isolation: tenant_isolation,
                connections_list_pages_and_totals: list_pages,
                connections_list_sort_orders: list_sort_orders,
                connections_list_keyset_scans: list_keyset_scans,
                connections_list_q_forms: list_q_forms,
                connections_list_unknown_tenant: list_unknown_tenant,
                connections_list_bad_params: list_bad_params,
                connections_bad_strings_write_nothing: bad_strings_write_nothing,
                connections_max_lengths_round_trip: max_lengths_round_trip,
                connections_timestamps_at_the_limits: timestamps_at_the_limits,
                connections_json_depth_limit: json_depth_limit,
                connections_nul_lookups: nul_lookups,
            }
            // sessions
            Session {
                sessions_create_round_trip,
                sessions_create_generates_id_and_timestamps: create_generates_id_and_timestamps,
                sessions_get_missing: get_missing,
                sessions_create_unknown_tenant: create_unknown_tenant,
                sessions_create_unknown_user_writes_nothing,
                sessions_create_conflict_on_key: create_conflict_on_key,
                sessions_update_every_field,
                sessions_update_clears_fields,
                sessions_update_empty_patch: update_empty_patch,
                sessions_update_missing: update_missing,
                sessions_update_invalid_writes_nothing: update_invalid_writes_nothing,
                sessions_remove: remove,
                sessions_upsert_exact: upsert_exact,
                sessions_upsert_unknown_tenant: upsert_unknown_tenant,
                sessions_upsert_unknown_user,
                sessions_upsert_many: upsert_many,
                sessions_upsert_many_is_atomic: upsert_many_is_atomic,
                sessions_tenant_isolation: tenant_isolation,
                sessions_list_pages_and_totals: list_pages,
                sessions_list_sort_orders: list_sort_orders,
                sessions_list_keyset_scans: list_keyset_scans,
                sessions_list_q_forms: list_q_forms,
                sessions_list_unknown_tenant: list_unknown_tenant,
                sessions_list_bad_params: list_bad_params,
                sessions_bad_strings_write_nothing: bad_strings_write_nothing,
                sessions_max_lengths_round_trip: max_lengths_round_trip,
                sessions_timestamps_at_the_limits: timestamps_at_the_limits,
                sessions_json_depth_limit: json_depth_limit,
                sessions_nul_lookups: nul_lookups,
            }
            // codes
            Code {
                codes_create_round_trip,
                codes_create_generates_id_and_timestamps: create_generates_id_and_timestamps,
                codes_get_missing: get_missing,
                codes_create_unknown_tenant: create_unknown_tenant,
                codes_create_conflict_on_key: create_conflict_on_key,
                codes_consume,
                codes_consume_expired_used_or_missing,
                codes_consume_other_tenant,
                codes_consume_race,
                codes_cleanup,
                codes_remove: remove,
                codes_upsert_exact: upsert_exact,
                codes_upsert_unknown_tenant: upsert_unknown_tenant,
                codes_upsert_many: upsert_many,
                codes_upsert_many_is_atomic: upsert_many_is_atomic,
                codes_tenant_isolation: tenant_isolation,
                codes_list_pages_and_totals: list_pages,
                codes_list_sort_orders: list_sort_orders,
                codes_list_keyset_scans: list_keyset_scans,
                codes_list_q_forms: list_q_forms,
                codes_list_unknown_tenant: list_unknown_tenant,
                codes_list_bad_params: list_bad_params,
                codes_bad_strings_write_nothing: bad_strings_write_nothing,
                codes_max_lengths_round_trip: max_lengths_round_trip,
                codes_timestamps_at_the_limits: timestamps_at_the_limits,
                codes_nul_lookups: nul_lookups,
                codes_cleanup_extreme_cutoffs,
                codes_and_passwords_nul_lookups,
            }
            // passwords
            Password {
                passwords_create_round_trip,
                passwords_create_generates_id_and_timestamps: create_generates_id_and_timestamps,
                passwords_get_missing: get_missing,
                passwords_create_unknown_tenant: create_unknown_tenant,
                passwords_create_unknown_user_writes_nothing,
                passwords_create_conflict_on_key: create_conflict_on_key,
                passwords_rotation,
                passwords_rotation_by_upsert,
                passwords_non_current_keeps_current,
                passwords_concurrent_rotation,
                passwords_get_current_isolation,
                passwords_remove: remove,
                passwords_upsert_exact: upsert_exact,
                passwords_upsert_unknown_tenant: upsert_unknown_tenant,
                passwords_upsert_unknown_user,
                passwords_upsert_many: upsert_many,
                passwords_upsert_many_is_atomic: upsert_many_is_atomic,
                passwords_tenant_isolation: tenant_isolation,
                passwords_list_pages_and_totals: list_pages,
                passwords_list_sort_orders: list_sort_orders,
                passwords_list_keyset_scans: list_keyset_scans,
                passwords_list_q_forms: list_q_forms,
                passwords_list_unknown_tenant: list_unknown_tenant,
                passwords_list_bad_params: list_bad_params,
                passwords_bad_strings_write_nothing: bad_strings_write_nothing,
                passwords_max_lengths_round_trip: max_lengths_round_trip,
                passwords_timestamps_at_the_limits: timestamps_at_the_limits,
                passwords_nul_lookups: nul_lookups,
                passwords_errors_hide_secret,
            }
            // logs
            Log {
                logs_create_round_trip,
                logs_create_generates_id_and_timestamps: create_generates_id_and_timestamps,
                logs_get_missing: get_missing,
                logs_create_unknown_tenant: create_unknown_tenant,
                logs_create_conflict_on_key: create_conflict_on_key,
                logs_remove: remove,
                logs_upsert_exact: upsert_exact,
                logs_upsert_unknown_tenant: upsert_unknown_tenant,
                logs_upsert_many: upsert_many,
                logs_upsert_many_is_atomic: upsert_many_is_atomic,
                logs_tenant_isolation: tenant_isolation,
                logs_list_pages_and_totals: list_pages,
                logs_list_sort_orders: list_sort_orders,
                logs_list_keyset_scans: list_keyset_scans,
                logs_list_q_forms: list_q_forms,
                logs_list_newest_first_scan,
                logs_list_unknown_tenant: list_unknown_tenant,
                logs_list_bad_params: list_bad_params,
                logs_bad_strings_write_nothing: bad_strings_write_nothing,
                logs_max_lengths_round_trip: max_lengths_round_trip,
                logs_timestamps_at_the_limits: timestamps_at_the_limits,
                logs_json_depth_limit: json_depth_limit,
                logs_nul_lookups: nul_lookups,
            }
            // concurrency: many writers at once (the group's record is not used)
            User {
                concurrency_upserts_of_new_users,
                concurrency_creates_and_updates,
                concurrency_upserts_of_children,
                concurrency_upserts_of_one_key,
            }
        }
    };
}

macro_rules! registry {
    ([] $($record:ident { $($name:ident $(: $generic:ident)?),* $(,)? })*) => {
        /// Every check of the suite, by name, in a stable order.
        pub const CHECKS: &[(&str, CheckFn)] = &[
            $($((stringify!($name), |db| Box::pin(checks::$name(db))),)*)*
        ];
    };
}
__for_each_check!([registry]);

/// Expands to one `#[test]` per check of the suite, each running the check
/// against a fresh store from `$factory`.
///
/// `$factory` is an `async fn() -> Option<S>` (or any expression callable
/// that way) where `S` is a [`TestStore`] or a
/// [`DataAdapters`](adapter_interfaces::DataAdapters); `None`
/// skips the test (the factory says why, e.g. the provisioner's `skipped:`
/// line). Use it once per test target; it defines functions named after the
/// checks in the calling module. See the crate docs for an example.
#[macro_export]
macro_rules! conformance_suite {
    ($factory:expr $(,)?) => {
        $crate::__for_each_check!([$crate::__conformance_tests] $factory);
    };
}

/// Defines the tests of [`conformance_suite!`]; not for direct use.
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_tests {
    ([$factory:expr] $($record:ident { $($name:ident $(: $generic:ident)?),* $(,)? })*) => {
        $($(
            #[test]
            fn $name() {
                $crate::run_suite_check(stringify!($name), || $factory());
            }
        )*)*
    };
}

/// Runs one check against a fresh store from `factory`, on a new
/// multi-threaded Tokio runtime with two workers; returns without running it
/// when the factory yields `None`. Panics when the check fails.
///
/// The check runs whatever the store's capabilities (against
/// [`TestStore::harness`]); [`run_suite_check`] also skips what they exclude.
pub fn run_check<F, Fut, S>(factory: F, check: CheckFn)
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Option<S>>,
    S: Into<TestStore>,
{
    with_runtime(async {
        let Some(store) = factory().await else {
            return;
        };
        let store: TestStore = store.into();
        check(store.harness()).await;
        // The store (and the database it guards) is dropped here, inside the
        // runtime, so that pools can close their connections normally.
        drop(store);
    });
}

fn with_runtime<T>(work: impl Future<Output = T>) -> T {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("cannot build a Tokio runtime for the check");
    runtime.block_on(work)
}

/// What [`run_suite_check`] did with a check (a failure panics).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The check ran and passed.
    Passed,
    /// The store's capabilities exclude what the check needs; the reason,
    /// as printed in its `skipped` line.
    Skipped(String),
    /// The factory returned `None` (no database here; it said why).
    Unavailable,
}

/// Runs the check named `name` of [`CHECKS`] against a fresh store from
/// `factory`, as [`run_check`] does, unless the store's
/// [`capabilities`](TestStore::with_capabilities) exclude what it needs
/// ([`capabilities::NEEDS`]): then it prints
/// `skipped <name>: <reason>` and, when the reason is a read-only entity,
/// checks instead that every write of that entity is `NotSupported` and
/// writes nothing. Panics when the check fails or `name` is no check.
pub fn run_suite_check<F, Fut, S>(name: &str, factory: F) -> Outcome
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Option<S>>,
    S: Into<TestStore>,
{
    let Some((_, check)) = CHECKS.iter().find(|(n, _)| *n == name) else {
        panic!("`{name}` is no check of the suite");
    };
    with_runtime(async {
        let Some(store) = factory().await else {
            return Outcome::Unavailable;
        };
        let store: TestStore = store.into();
        let outcome = match capabilities::skip_reason(name, &store) {
            None => {
                check(store.harness()).await;
                Outcome::Passed
            }
            Some(mut reason) => {
                let refused = capabilities::needs(name)
                    .filter(|n| n.writes && !store.capabilities().is_writable(n.entity))
                    .map(|n| n.entity);
                if let Some(entity) = refused
                    && store.seed_store().is_some()
                {
                    checks::capabilities::read_only_writes_refused(
                        entity,
                        store.adapters(),
                        store.harness(),
                    )
                    .await;
                    reason.push_str(&format!(
                        " (checked instead: every write of {} is NotSupported and writes nothing)",
                        entity.table()
                    ));
                }
                println!("skipped {name}: {reason}");
                Outcome::Skipped(reason)
            }
        };
        // Dropped inside the runtime, as in `run_check`.
        drop(store);
        outcome
    })
}

/// What [`run_suite`] found: each check of [`CHECKS`] by outcome, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SuiteReport {
    /// Checks that ran and passed.
    pub passed: Vec<&'static str>,
    /// Checks the capabilities excluded, with the reason.
    pub skipped: Vec<(&'static str, String)>,
    /// Checks that failed, with the panic message.
    pub failed: Vec<(&'static str, String)>,
    /// Checks whose factory returned `None`.
    pub unavailable: Vec<&'static str>,
}

impl std::fmt::Display for SuiteReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "suite: {} passed, {} skipped, {} failed, {} unavailable",
            self.passed.len(),
            self.skipped.len(),
            self.failed.len(),
            self.unavailable.len()
        )
    }
}

/// Runs every check of [`CHECKS`] with [`run_suite_check`], one after the
/// other, each on a fresh store from `factory`, and reports each outcome
/// (a failing check is reported, not propagated): for a custom harness,
/// and for asserting which checks a partial adapter skips.
pub fn run_suite<F, Fut, S>(factory: F) -> SuiteReport
where
    F: Fn() -> Fut,
    Fut: Future<Output = Option<S>>,
    S: Into<TestStore>,
{
    let mut report = SuiteReport::default();
    for (name, _) in CHECKS {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            run_suite_check(name, &factory)
        }));
        match outcome {
            Ok(Outcome::Passed) => report.passed.push(name),
            Ok(Outcome::Skipped(reason)) => report.skipped.push((name, reason)),
            Ok(Outcome::Unavailable) => report.unavailable.push(name),
            Err(panic) => {
                let message = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_else(|| "a panic without a message".to_owned());
                report.failed.push((name, message));
            }
        }
    }
    report
}
