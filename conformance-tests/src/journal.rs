//! The replication journal's contract suite: every behaviour that
//! [`adapter_interfaces::journal`] promises, checked against any
//! [`ReplicationJournal`] on a fresh, migrated, empty database.
//!
//! ## Running it against your journal
//!
//! Write a factory that returns a fresh journal (`None` when its database is
//! unavailable) and call [`journal_suite!`](crate::journal_suite!) with it in an integration test:
//! every check becomes its own `#[test]`, named after the check
//! (`journal_lost_claim_settle_marks_again`, ...).
//!
//! ```
//! // tests/journal.rs of your adapter crate
//! async fn fresh_journal() -> Option<conformance_tests::journal::TestJournal> {
//!     // A database-backed journal would provision and migrate a database
//!     // first, and keep it alive with the journal:
//!     //   let db = conformance_tests::provision::postgres().await?;
//!     //   let store = my_adapter::connect(db.url()).await.expect("connect");
//!     //   store.migrate().await.expect("migrate");
//!     //   Some(conformance_tests::TestStore::new(store.adapters()).with_guard(db).into())
//!     let journal: std::sync::Arc<dyn adapter_interfaces::ReplicationJournal> =
//!         std::sync::Arc::new(adapter_interfaces::journal::MemoryJournal::new());
//!     Some(journal.into())
//! }
//!
//! conformance_tests::journal_suite!(fresh_journal);
//! # fn main() {}
//! ```
//!
//! The factory may return anything that converts into a [`TestJournal`]: a
//! [`TestStore`] or [`DataAdapters`] (their `journal` is tested), or an
//! `Arc<dyn ReplicationJournal>`. [`JOURNAL_CHECKS`] lists the checks by
//! name and [`run_journal_check`] runs one, for other harnesses.
//!
//! Leases are short ([`LEASE`]), so the checks that wait for one to run out
//! stay fast; they assume the database's clock and the test's agree on how
//! long a sleep is, not on the time of day.

use std::any::Any;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use adapter_interfaces::journal::{
    Backlog, Begun, Claim, EntryFilter, Failure, Fence, JournalEntry, JournalKey, Subject,
};
use adapter_interfaces::{DataAdapters, EntityKind, ReplicationJournal, Timestamp};

use crate::TestStore;

/// The lease of the writes and claims of the checks: long enough that the
/// few statements a check runs while a lease must hold fit in it on a
/// loaded CI machine (200 ms did not: a claim ran out between two steps).
pub const LEASE: Duration = Duration::from_millis(1000);

/// Longer than [`LEASE`] with a margin for a slow database.
const AFTER_LEASE: Duration = Duration::from_millis(1300);

/// A lease no check outlives.
const LONG: Duration = Duration::from_secs(60);

/// The target the checks owe keys to.
const TARGET: &str = "new";

/// The stage scope of the checks.
const SCOPE: &str = "default";

/// A journal under test and whatever must outlive it (its database).
pub struct TestJournal {
    // Field order is drop order: the journal before its database.
    journal: Arc<dyn ReplicationJournal>,
    _guard: Option<Box<dyn Any + Send>>,
}

impl TestJournal {
    /// A journal with nothing else to keep alive.
    pub fn new(journal: Arc<dyn ReplicationJournal>) -> Self {
        Self {
            journal,
            _guard: None,
        }
    }

    /// The journal under test.
    pub fn journal(&self) -> &Arc<dyn ReplicationJournal> {
        &self.journal
    }
}

impl From<Arc<dyn ReplicationJournal>> for TestJournal {
    fn from(journal: Arc<dyn ReplicationJournal>) -> Self {
        Self::new(journal)
    }
}

impl From<DataAdapters> for TestJournal {
    fn from(adapters: DataAdapters) -> Self {
        Self::new(adapters.journal)
    }
}

impl From<TestStore> for TestJournal {
    fn from(store: TestStore) -> Self {
        Self {
            journal: store.adapters().journal.clone(),
            _guard: Some(Box::new(store)),
        }
    }
}

impl std::fmt::Debug for TestJournal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestJournal").finish_non_exhaustive()
    }
}

/// The future of one journal check.
pub type JournalCheckFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A journal check: runs against an empty journal and panics when it misbehaves.
pub type JournalCheckFn = fn(Arc<dyn ReplicationJournal>) -> JournalCheckFuture;

/// Calls `$callback! { [$extra] check_a, check_b, ... }` with every journal
/// check's name: the one list [`JOURNAL_CHECKS`] and [`journal_suite!`](crate::journal_suite!) are
/// built from.
#[doc(hidden)]
#[macro_export]
macro_rules! __for_each_journal_check {
    ([$($callback:tt)+] $($extra:tt)*) => {
        $($callback)+ ! { [$($extra)*]
            journal_starts_empty,
            journal_write_settles,
            journal_write_in_flight_blocks_relays_until_its_lease_runs_out,
            journal_late_finish_records_again,
            journal_newer_write_keeps_the_row,
            journal_seq_counts_each_begin_and_finish,
            journal_finish_copied_settles_only_an_untouched_row,
            journal_claim_is_exclusive_until_its_lease_runs_out,
            journal_lost_claim_settle_marks_again,
            journal_release_gives_a_claim_back_untried,
            journal_claim_returns_only_what_it_won,
            journal_claim_order_limit_and_target,
            journal_transient_failure_is_retried_later,
            journal_dead_letter_is_counted_revived_and_discarded,
            journal_new_write_revives_a_dead_letter,
            journal_rejection_after_a_newer_write_stays_live,
            journal_subjects_round_trip,
            journal_cascade_merges_over_record,
            journal_entries_and_backlog_filter_per_target,
            journal_claim_keys_records_and_claims_keys_with_no_row,
            journal_claim_keys_skips_busy_and_dead_keys,
            journal_claim_keys_is_not_a_write,
            journal_claim_keys_keeps_the_rows_subject,
            journal_claim_keys_above_a_chunk_and_with_duplicates,
            journal_settle_many_answers_as_settle_does,
            journal_settle_many_above_a_chunk,
            journal_settle_many_of_one_claim_twice_answers_as_settle_does,
            journal_concurrent_claim_keys_never_share_a_key,
            journal_stage_fence,
            journal_stage_is_compare_and_set,
            journal_concurrent_relays_never_share_a_key,
            journal_concurrent_writes_stay_consistent,
            journal_begin_racing_a_switch_is_fenced,
        }
    };
}

macro_rules! journal_registry {
    ([] $($name:ident),* $(,)?) => {
        /// Every journal check, by name, in a stable order.
        pub const JOURNAL_CHECKS: &[(&str, JournalCheckFn)] = &[
            $((stringify!($name), |journal| Box::pin($name(journal))),)*
        ];
    };
}
__for_each_journal_check!([journal_registry]);

/// Expands to one `#[test]` per journal check, each running it against a
/// fresh journal from `$factory`, an `async fn() -> Option<J>` where `J`
/// converts into a [`TestJournal`]; `None` skips the test (the factory says
/// why). Use it once per module: it defines functions named after the checks.
#[macro_export]
macro_rules! journal_suite {
    ($factory:expr $(,)?) => {
        $crate::__for_each_journal_check!([$crate::__journal_tests] $factory);
    };
}

/// Defines the tests of [`journal_suite!`](crate::journal_suite!); not for direct use.
#[doc(hidden)]
#[macro_export]
macro_rules! __journal_tests {
    ([$factory:expr] $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                $crate::journal::run_journal_check(
                    || $factory(),
                    |journal| ::std::boxed::Box::pin($crate::journal::$name(journal)),
                );
            }
        )*
    };
}

/// Runs one journal check against a fresh journal from `factory`, on a new
/// multi-threaded Tokio runtime with two workers (the concurrency checks run
/// really in parallel); returns without running it when the factory yields
/// `None`. Panics when the check fails.
pub fn run_journal_check<F, Fut, J>(factory: F, check: JournalCheckFn)
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Option<J>>,
    J: Into<TestJournal>,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("cannot build a Tokio runtime for the check");
    runtime.block_on(async {
        let Some(journal) = factory().await else {
            return;
        };
        let journal: TestJournal = journal.into();
        check(journal.journal.clone()).await;
        // Dropped inside the runtime, so that pools close normally.
        drop(journal);
    });
}

// ---------------------------------------------------------------- helpers

type Journal = Arc<dyn ReplicationJournal>;

/// The fence of a scope whose stage was never set.
fn fresh_fence() -> Fence {
    fence(0)
}

fn fence(generation: i64) -> Fence {
    Fence {
        scope: SCOPE.into(),
        generation,
        stage: "dual_write".into(),
    }
}

/// User `n` of tenant `t1`, owed to [`TARGET`].
fn user(n: usize) -> JournalKey {
    JournalKey::new(
        TARGET,
        "t1",
        Subject::Record {
            entity: EntityKind::User,
            key: format!("u{n}"),
        },
    )
}

fn token(name: &str) -> String {
    format!("{name}-{}", uuid::Uuid::new_v4())
}

async fn begin(journal: &Journal, keys: &[JournalKey], lease: Duration) {
    let begun = journal
        .begin(&fresh_fence(), keys, lease)
        .await
        .expect("begin");
    assert!(
        matches!(begun, Begun::Recorded(_)),
        "begin under the current fence: {begun:?}"
    );
}

/// A whole write by `writer`: begin, then finish; the claims it won.
async fn write(journal: &Journal, writer: &str, keys: &[JournalKey]) -> Vec<Claim> {
    begin(journal, keys, LONG).await;
    journal.finish(writer, keys, LEASE).await.expect("finish")
}

async fn claim(journal: &Journal, token: &str, lease: Duration) -> Vec<Claim> {
    journal
        .claim(token, TARGET, 100, lease)
        .await
        .expect("claim")
}

async fn entries(journal: &Journal) -> Vec<JournalEntry> {
    journal
        .entries(&EntryFilter::default(), 1000)
        .await
        .expect("entries")
}

/// The keys of the journal's rows, sorted.
async fn keys(journal: &Journal) -> Vec<JournalKey> {
    let mut keys: Vec<JournalKey> = entries(journal).await.into_iter().map(|e| e.key).collect();
    keys.sort();
    keys
}

async fn backlog(journal: &Journal) -> Vec<Backlog> {
    journal.backlog().await.expect("backlog")
}

/// `(pending, dead)` of [`TARGET`] (`(0, 0)` when it has no row).
async fn counts(journal: &Journal) -> (u64, u64) {
    backlog(journal)
        .await
        .into_iter()
        .find(|b| b.target == TARGET)
        .map_or((0, 0), |b| (b.pending, b.dead))
}

fn claimed_keys(claims: &[Claim]) -> Vec<JournalKey> {
    let mut keys: Vec<JournalKey> = claims.iter().map(|c| c.key.clone()).collect();
    keys.sort();
    keys
}

fn transient(retry_in: Duration) -> Failure {
    Failure {
        error: "target unreachable".into(),
        dead: false,
        retry_in,
    }
}

fn rejected() -> Failure {
    Failure {
        error: "constraint violated".into(),
        dead: true,
        retry_in: Duration::ZERO,
    }
}

/// The only claim of `claims`, for `key`.
fn only(claims: Vec<Claim>, key: &JournalKey, what: &str) -> Claim {
    assert_eq!(claimed_keys(&claims), vec![key.clone()], "{what}");
    claims.into_iter().next().expect("one claim")
}

/// A copier's claim on `keys` under `token`; the claims it won.
async fn claim_keys(
    journal: &Journal,
    token: &str,
    keys: &[JournalKey],
    lease: Duration,
) -> Vec<Claim> {
    journal
        .claim_keys(token, keys, lease)
        .await
        .expect("claim_keys")
}

/// settle_many, with one answer per claim.
async fn settle_many(journal: &Journal, claims: &[Claim]) -> Vec<bool> {
    let settled = journal.settle_many(claims).await.expect("settle_many");
    assert_eq!(settled.len(), claims.len(), "one answer per claim");
    settled
}

/// Leaves `keys` pending and unclaimed: a whole write whose writer gave its
/// claims back (it had no capacity for the copy).
async fn leave_pending(journal: &Journal, keys: &[JournalKey]) {
    begin(journal, keys, LONG).await;
    let claims = journal
        .finish(&token("w"), keys, LONG)
        .await
        .expect("finish");
    assert_eq!(claims.len(), keys.len(), "the writer claims every key");
    for c in &claims {
        journal.release(c).await.expect("release");
    }
}

/// The claim of `key` among `claims`.
fn claim_of<'c>(claims: &'c [Claim], key: &JournalKey) -> &'c Claim {
    claims
        .iter()
        .find(|c| c.key == *key)
        .unwrap_or_else(|| panic!("no claim of {key:?} in {claims:?}"))
}

/// A relay claims and settles until nothing is due; returns how many it settled.
async fn drain(journal: &Journal) -> usize {
    let relay = token("drain");
    let mut settled = 0;
    loop {
        let claims = claim(journal, &relay, LONG).await;
        if claims.is_empty() {
            return settled;
        }
        for c in &claims {
            assert!(
                journal.settle(c).await.expect("settle"),
                "a relay's claim of a quiet key settles"
            );
            settled += 1;
        }
    }
}

// ---------------------------------------------------------------- checks

/// A fresh journal has no rows, no backlog and no stage.
pub async fn journal_starts_empty(journal: Journal) {
    assert!(entries(&journal).await.is_empty(), "no rows");
    assert_eq!(counts(&journal).await, (0, 0), "no backlog");
    assert_eq!(journal.stage(SCOPE).await.expect("stage"), None, "no stage");
    assert!(claim(&journal, &token("relay"), LEASE).await.is_empty());
}

/// begin records the key with a write in flight; finish drops the mark and
/// hands the writer the claim; its settle deletes the row.
pub async fn journal_write_settles(journal: Journal) {
    let key = user(1);
    begin(&journal, std::slice::from_ref(&key), LONG).await;
    let rows = entries(&journal).await;
    assert_eq!(rows.len(), 1, "begin records one row");
    assert_eq!(rows[0].key, key);
    assert!(rows[0].in_flight, "begin marks a write in flight");
    assert!(!rows[0].dead);
    assert_eq!(counts(&journal).await, (1, 0), "a begun key is pending");

    let writer = token("writer");
    let claims = journal
        .finish(&writer, std::slice::from_ref(&key), LEASE)
        .await
        .expect("finish");
    let claim = only(claims, &key, "finish claims the key for its writer");
    assert_eq!(claim.token, writer, "the claim is under the writer's token");
    assert_eq!(claim.attempts, 0);
    let rows = entries(&journal).await;
    assert!(!rows[0].in_flight, "finish drops the in-flight mark");

    assert!(
        journal.settle(&claim).await.expect("settle"),
        "a claim held, with nothing newer, settles"
    );
    assert!(entries(&journal).await.is_empty(), "settle deletes the row");
    assert_eq!(counts(&journal).await, (0, 0));
}

/// A write in flight (begin without finish) keeps relays off the key until
/// its lease runs out (the writer died); then a relay claims and settles it.
pub async fn journal_write_in_flight_blocks_relays_until_its_lease_runs_out(journal: Journal) {
    let key = user(1);
    begin(&journal, std::slice::from_ref(&key), LEASE).await;
    let relay = token("relay");
    assert!(
        claim(&journal, &relay, LONG).await.is_empty(),
        "a relay must not claim a key whose write is in flight"
    );
    tokio::time::sleep(AFTER_LEASE).await;
    let entries = entries(&journal).await;
    assert!(
        !entries[0].in_flight,
        "an expired write is no longer in flight"
    );
    let claims = claim(&journal, &relay, LONG).await;
    let claim = only(
        claims,
        &key,
        "a relay claims a key whose writer's lease ran out",
    );
    assert!(journal.settle(&claim).await.expect("settle"));
    assert_eq!(counts(&journal).await, (0, 0));
}

/// A writer that finishes after a relay already applied and deleted its key
/// (its lease ran out first) records the key again, and wins its claim.
pub async fn journal_late_finish_records_again(journal: Journal) {
    let key = user(1);
    begin(&journal, std::slice::from_ref(&key), LEASE).await;
    tokio::time::sleep(AFTER_LEASE).await;
    let relay = token("relay");
    let claim = only(claim(&journal, &relay, LONG).await, &key, "relay claims");
    assert!(journal.settle(&claim).await.expect("settle"));
    assert_eq!(counts(&journal).await, (0, 0));

    let writer = token("writer");
    let claims = journal
        .finish(&writer, std::slice::from_ref(&key), LEASE)
        .await
        .expect("late finish");
    let claim = only(claims, &key, "a late finish records and claims the key");
    assert_eq!(
        counts(&journal).await,
        (1, 0),
        "the late write is owed again"
    );
    assert!(journal.settle(&claim).await.expect("settle"));
}

/// A begin or a finish after a claim changes the key: the claim's settle
/// keeps the row (and releases it), and the key is applied again.
pub async fn journal_newer_write_keeps_the_row(journal: Journal) {
    let key = user(1);
    let first = only(
        write(&journal, &token("w1"), std::slice::from_ref(&key)).await,
        &key,
        "first writer claims",
    );

    // A newer begin (still in flight): the first settle must not delete it.
    begin(&journal, std::slice::from_ref(&key), LONG).await;
    assert!(
        !journal.settle(&first).await.expect("settle"),
        "a settle after a newer begin keeps the row"
    );
    assert_eq!(keys(&journal).await, vec![key.clone()]);

    // The newer write finishes: its writer wins the (released) claim.
    let second = only(
        journal
            .finish(&token("w2"), std::slice::from_ref(&key), LEASE)
            .await
            .expect("finish"),
        &key,
        "the settle that kept the row released its claim",
    );

    // A third write's finish while the second holds the claim: not won, but the row changes.
    begin(&journal, std::slice::from_ref(&key), LONG).await;
    let third = journal
        .finish(&token("w3"), std::slice::from_ref(&key), LEASE)
        .await
        .expect("finish");
    assert!(
        third.is_empty(),
        "a held claim is not handed to another writer"
    );
    assert!(
        !journal.settle(&second).await.expect("settle"),
        "a settle after a newer finish keeps the row"
    );
    assert_eq!(counts(&journal).await, (1, 0));
    assert_eq!(drain(&journal).await, 1, "a relay applies the newer write");
}

/// `seq` is per row and counts each `begin` and `finish` by one (claims do
/// not count): a writer proves it wrote alone when its claim's `seq` is its
/// mark's plus one. A journal that returns marks returns one per key.
pub async fn journal_seq_counts_each_begin_and_finish(journal: Journal) {
    let key = user(1);
    let marks = |begun: Begun| match begun {
        Begun::Recorded(marks) => marks,
        moved => panic!("the fence holds: {moved:?}"),
    };
    let begin_marks = |journal: &Journal| {
        let journal = journal.clone();
        let key = key.clone();
        async move {
            marks(
                journal
                    .begin(&fresh_fence(), std::slice::from_ref(&key), LONG)
                    .await
                    .expect("begin"),
            )
        }
    };

    // A lone writer: begin (a new row, seq 1), finish (seq 2).
    let lone = begin_marks(&journal).await;
    assert!(lone.len() <= 1, "one mark per key: {lone:?}");
    if let Some(mark) = lone.first() {
        assert_eq!(mark.key, key);
        assert_eq!(mark.seq, 1, "a new row starts at 1");
    }
    let claim = only(
        journal
            .finish(&token("lone"), std::slice::from_ref(&key), LEASE)
            .await
            .expect("finish"),
        &key,
        "the lone writer claims",
    );
    assert_eq!(claim.seq, 2, "begin and finish each count one");
    assert!(journal.settle(&claim).await.expect("settle"));

    // Two overlapping writers: neither claim is its mark plus one.
    let first = begin_marks(&journal).await;
    let second = begin_marks(&journal).await;
    if let (Some(a), Some(b)) = (first.first(), second.first()) {
        assert_eq!(
            (a.seq, b.seq),
            (1, 2),
            "the row was deleted, so it starts again"
        );
    }
    let claim = only(
        journal
            .finish(&token("a"), std::slice::from_ref(&key), LEASE)
            .await
            .expect("finish"),
        &key,
        "the first to finish claims",
    );
    assert_eq!(claim.seq, 3, "another begin came between: {claim:?}");
    let late = journal
        .claim(&token("relay"), TARGET, 10, LEASE)
        .await
        .expect("claim");
    assert!(late.is_empty(), "a write is still in flight");
    assert!(
        journal
            .finish(&token("b"), std::slice::from_ref(&key), LEASE)
            .await
            .expect("finish")
            .is_empty(),
        "the claim is held"
    );
    assert!(
        !journal.settle(&claim).await.expect("settle"),
        "a newer finish keeps the row"
    );
    let relay = journal
        .claim(&token("relay"), TARGET, 10, LEASE)
        .await
        .expect("claim");
    assert_eq!(relay.len(), 1);
    assert_eq!(relay[0].seq, 4, "a relay's claim does not count");
    assert!(journal.settle(&relay[0]).await.expect("settle"));
}

/// `finish_copied` settles a key copied ahead of `finish` only when its row
/// is exactly as the writer's `begin` left it; otherwise it finishes the key
/// as `finish` does. A journal that returns no marks is asked with none and
/// then behaves as `finish`.
pub async fn journal_finish_copied_settles_only_an_untouched_row(journal: Journal) {
    let key = user(1);
    let one = std::slice::from_ref(&key);
    let marks = |begun: Begun| match begun {
        Begun::Recorded(marks) => marks,
        moved => panic!("the fence holds: {moved:?}"),
    };
    let begin_marks = || async {
        marks(
            journal
                .begin(&fresh_fence(), one, LONG)
                .await
                .expect("begin"),
        )
    };

    // A lone write copied ahead: settled, nothing left, nothing claimed.
    let lone = begin_marks().await;
    let claims = journal
        .finish_copied(&token("lone"), one, &lone, LEASE)
        .await
        .expect("finish_copied");
    if lone.is_empty() {
        // No marks (MySQL/MariaDB): a plain finish.
        let claim = only(claims, &key, "with no mark, finish_copied finishes");
        assert!(journal.settle(&claim).await.expect("settle"));
        return;
    }
    assert!(
        claims.is_empty(),
        "a settled key is not claimed: {claims:?}"
    );
    assert_eq!(counts(&journal).await, (0, 0), "the untouched row is gone");

    // Another write began after ours: the row stays, ours finishes and claims.
    let first = begin_marks().await;
    let _second = begin_marks().await;
    let claim = only(
        journal
            .finish_copied(&token("first"), one, &first, LEASE)
            .await
            .expect("finish_copied"),
        &key,
        "a touched row is finished as finish does",
    );
    assert_eq!(counts(&journal).await, (1, 0), "the key stays owed");
    assert!(
        journal
            .finish_copied(&token("second"), one, &[], LEASE)
            .await
            .expect("finish")
            .is_empty(),
        "the first writer holds the claim"
    );
    assert!(!journal.settle(&claim).await.expect("settle"));
    assert_eq!(drain(&journal).await, 1, "a relay copies the newer write");

    // A copier's live claim: a write copied ahead does not settle under it.
    let copier = token("copier");
    let held = only(
        journal
            .claim_keys(&copier, one, LEASE)
            .await
            .expect("claim_keys"),
        &key,
        "a key with no row is claimed",
    );
    let third = begin_marks().await;
    assert!(
        journal
            .finish_copied(&token("third"), one, &third, LEASE)
            .await
            .expect("finish_copied")
            .is_empty(),
        "the copier holds the claim"
    );
    assert_eq!(
        counts(&journal).await,
        (1, 0),
        "a claimed row is not settled early"
    );
    assert!(
        !journal.settle(&held).await.expect("settle"),
        "the write changed the row"
    );
    assert_eq!(drain(&journal).await, 1);
}

/// A held claim keeps other claimants off the key until its lease runs out;
/// then another token takes it, and only the new holder settles.
pub async fn journal_claim_is_exclusive_until_its_lease_runs_out(journal: Journal) {
    let key = user(1);
    begin(&journal, std::slice::from_ref(&key), LEASE).await;
    tokio::time::sleep(AFTER_LEASE).await;
    let r1 = token("r1");
    let first = only(claim(&journal, &r1, LEASE).await, &key, "r1 claims");
    assert_eq!(first.token, r1);
    let r2 = token("r2");
    assert!(
        claim(&journal, &r2, LEASE).await.is_empty(),
        "a held claim is exclusive"
    );
    let w = journal
        .finish(&token("w"), std::slice::from_ref(&key), LEASE)
        .await
        .expect("finish");
    assert!(w.is_empty(), "a finish does not take a held claim");
    tokio::time::sleep(AFTER_LEASE).await;
    let second = only(
        claim(&journal, &r2, LONG).await,
        &key,
        "an expired claim is taken",
    );
    assert_eq!(second.token, r2);
    assert!(
        journal.settle(&second).await.expect("settle"),
        "the new holder settles"
    );
    assert_eq!(counts(&journal).await, (0, 0));
}

/// A holder that lost its claim cannot settle: its settle marks the key
/// again, so that what it may have copied late is copied over.
pub async fn journal_lost_claim_settle_marks_again(journal: Journal) {
    let key = user(1);
    begin(&journal, std::slice::from_ref(&key), LEASE).await;
    tokio::time::sleep(AFTER_LEASE).await;
    let stale = only(
        claim(&journal, &token("r1"), LEASE).await,
        &key,
        "r1 claims",
    );
    tokio::time::sleep(AFTER_LEASE).await;
    let fresh = only(
        claim(&journal, &token("r2"), LONG).await,
        &key,
        "r2 takes over",
    );
    assert!(journal.settle(&fresh).await.expect("settle"), "r2 settles");
    assert_eq!(counts(&journal).await, (0, 0));

    assert!(
        !journal.settle(&stale).await.expect("stale settle"),
        "a lost claim never settles"
    );
    assert_eq!(
        keys(&journal).await,
        vec![key.clone()],
        "a lost claim's settle marks the key again"
    );
    assert_eq!(drain(&journal).await, 1, "the marked key is claimable");

    // The same while the new holder still holds it: its settle must fail too.
    begin(&journal, std::slice::from_ref(&key), LEASE).await;
    tokio::time::sleep(AFTER_LEASE).await;
    let stale = only(
        claim(&journal, &token("r3"), LEASE).await,
        &key,
        "r3 claims",
    );
    tokio::time::sleep(AFTER_LEASE).await;
    let fresh = only(
        claim(&journal, &token("r4"), LONG).await,
        &key,
        "r4 takes over",
    );
    assert!(!journal.settle(&stale).await.expect("stale settle"));
    assert!(
        !journal.settle(&fresh).await.expect("settle"),
        "after a lost claim's late settle, the key is applied once more"
    );
    assert_eq!(drain(&journal).await, 1);
}

/// `release` gives a held claim back untried: another relay takes it at
/// once, with no attempt counted; a release by a token that no longer holds
/// the claim changes nothing.
pub async fn journal_release_gives_a_claim_back_untried(journal: Journal) {
    let key = user(1);
    let first = only(
        write(&journal, &token("w"), std::slice::from_ref(&key)).await,
        &key,
        "w",
    );
    journal.release(&first).await.expect("release");
    let relay = token("relay");
    let taken = only(
        claim(&journal, &relay, LONG).await,
        &key,
        "released: due at once",
    );
    assert_eq!(taken.attempts, 0, "a release is not a failed attempt");
    journal.release(&first).await.expect("stale release");
    assert!(
        claim(&journal, &token("r2"), LONG).await.is_empty(),
        "a stale release does not free another holder's claim"
    );
    assert!(journal.settle(&taken).await.expect("settle"));
    assert_eq!(counts(&journal).await, (0, 0));
}

/// A claim returns the keys that call won, and only those, even when the
/// token already holds others.
pub async fn journal_claim_returns_only_what_it_won(journal: Journal) {
    let (a, b) = (user(1), user(2));
    begin(&journal, std::slice::from_ref(&a), LEASE).await;
    begin(&journal, std::slice::from_ref(&b), LEASE).await;
    tokio::time::sleep(AFTER_LEASE).await;
    let relay = token("relay");
    let first = journal.claim(&relay, TARGET, 1, LONG).await.expect("claim");
    assert_eq!(
        claimed_keys(&first),
        vec![a.clone()],
        "oldest first, at most 1"
    );
    let second = journal.claim(&relay, TARGET, 1, LONG).await.expect("claim");
    assert_eq!(
        claimed_keys(&second),
        vec![b.clone()],
        "a second claim by the same token returns only what it won"
    );
    let third = journal
        .claim(&relay, TARGET, 10, LONG)
        .await
        .expect("claim");
    assert!(third.is_empty(), "nothing left to win: {third:?}");
}

/// A relay claims the oldest due keys of its target, at most `limit`.
pub async fn journal_claim_order_limit_and_target(journal: Journal) {
    let other = JournalKey::new("old", "t1", user(9).subject);
    for n in 1..=3 {
        begin(&journal, &[user(n)], LEASE).await;
        // Distinct creation times, so that "oldest first" is defined.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    begin(&journal, std::slice::from_ref(&other), LEASE).await;
    tokio::time::sleep(AFTER_LEASE).await;
    let relay = token("relay");
    let claims = journal.claim(&relay, TARGET, 2, LONG).await.expect("claim");
    let got: Vec<JournalKey> = claims.iter().map(|c| c.key.clone()).collect();
    assert_eq!(got, vec![user(1), user(2)], "the two oldest, oldest first");
    assert!(claims.iter().all(|c| c.token == relay));
    let rest = claim(&journal, &relay, LONG).await;
    assert_eq!(
        claimed_keys(&rest),
        vec![user(3)],
        "never another target's key"
    );
    let olds = journal.claim(&relay, "old", 10, LONG).await.expect("claim");
    assert_eq!(claimed_keys(&olds), vec![other]);
}

/// A transient failure releases the key, counts the attempt and keeps it
/// pending (never dead) until its next attempt is due.
pub async fn journal_transient_failure_is_retried_later(journal: Journal) {
    let key = user(1);
    let first = only(
        write(&journal, &token("w"), std::slice::from_ref(&key)).await,
        &key,
        "w",
    );
    journal
        .fail(&first, &transient(AFTER_LEASE))
        .await
        .expect("fail");
    let rows = entries(&journal).await;
    assert_eq!(rows.len(), 1, "a failed key stays");
    assert_eq!(rows[0].attempts, 1, "the attempt is counted");
    assert!(!rows[0].dead, "a transient failure is never a dead letter");
    assert_eq!(rows[0].last_error.as_deref(), Some("target unreachable"));
    assert_eq!(counts(&journal).await, (1, 0));

    let relay = token("relay");
    assert!(
        claim(&journal, &relay, LONG).await.is_empty(),
        "not due before its next attempt"
    );
    tokio::time::sleep(AFTER_LEASE + Duration::from_millis(50)).await;
    let again = only(claim(&journal, &relay, LONG).await, &key, "due again");
    assert_eq!(again.attempts, 1, "the claim carries the attempts so far");
    journal
        .fail(&again, &transient(Duration::ZERO))
        .await
        .expect("fail");
    let third = only(claim(&journal, &relay, LONG).await, &key, "retry at once");
    assert_eq!(third.attempts, 2);
    assert!(journal.settle(&third).await.expect("settle"));
}

/// A rejection makes a dead letter: never claimed, counted as dead (not
/// pending), listed; `revive` makes it due again, `discard` deletes it.
pub async fn journal_dead_letter_is_counted_revived_and_discarded(journal: Journal) {
    let (key, live) = (user(1), user(2));
    let first = only(
        write(&journal, &token("w"), std::slice::from_ref(&key)).await,
        &key,
        "w",
    );
    journal.fail(&first, &rejected()).await.expect("fail");
    begin(&journal, std::slice::from_ref(&live), LONG).await;
    assert_eq!(
        counts(&journal).await,
        (1, 1),
        "one pending, one dead letter"
    );
    let dead = journal
        .entries(&EntryFilter::dead_letters(), 10)
        .await
        .expect("entries");
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].key, key);
    assert!(dead[0].dead);
    assert_eq!(dead[0].last_error.as_deref(), Some("constraint violated"));
    let relay = token("relay");
    assert!(
        claim(&journal, &relay, LONG).await.is_empty(),
        "a dead letter is never claimed"
    );

    assert_eq!(
        journal
            .revive(&EntryFilter::dead_letters())
            .await
            .expect("revive"),
        1
    );
    assert_eq!(counts(&journal).await, (2, 0), "revived: pending again");
    let revived = only(claim(&journal, &relay, LONG).await, &key, "revived is due");
    assert_eq!(revived.attempts, 0, "revive resets the attempts");
    journal.fail(&revived, &rejected()).await.expect("fail");

    let narrow = EntryFilter {
        tenant_id: Some("other".into()),
        ..EntryFilter::dead_letters()
    };
    assert_eq!(journal.discard(&narrow).await.expect("discard"), 0);
    assert_eq!(journal.revive(&narrow).await.expect("revive"), 0);
    assert_eq!(
        journal
            .discard(&EntryFilter::dead_letters())
            .await
            .expect("discard"),
        1
    );
    assert_eq!(keys(&journal).await, vec![live], "discard keeps live rows");
    assert_eq!(counts(&journal).await, (1, 0));
}

/// A new write of a dead key revives it.
pub async fn journal_new_write_revives_a_dead_letter(journal: Journal) {
    let key = user(1);
    let first = only(
        write(&journal, &token("w"), std::slice::from_ref(&key)).await,
        &key,
        "w",
    );
    journal.fail(&first, &rejected()).await.expect("fail");
    assert_eq!(counts(&journal).await, (0, 1));
    begin(&journal, std::slice::from_ref(&key), LONG).await;
    assert_eq!(
        counts(&journal).await,
        (1, 0),
        "a new begin revives the dead letter"
    );
    let rows = entries(&journal).await;
    assert!(!rows[0].dead);
    assert_eq!(rows[0].attempts, 0);
    let again = journal
        .finish(&token("w2"), std::slice::from_ref(&key), LEASE)
        .await
        .expect("finish");
    let again = only(again, &key, "the revived key is claimed by its writer");
    assert!(journal.settle(&again).await.expect("settle"));
}

/// A rejection of a copy older than the key's last write does not park it:
/// the newer write may well succeed.
pub async fn journal_rejection_after_a_newer_write_stays_live(journal: Journal) {
    let key = user(1);
    let first = only(
        write(&journal, &token("w"), std::slice::from_ref(&key)).await,
        &key,
        "w",
    );
    begin(&journal, std::slice::from_ref(&key), LONG).await;
    journal
        .finish(&token("w2"), std::slice::from_ref(&key), LEASE)
        .await
        .expect("finish");
    journal.fail(&first, &rejected()).await.expect("fail");
    assert_eq!(
        counts(&journal).await,
        (1, 0),
        "not dead: a newer write came"
    );
    assert_eq!(drain(&journal).await, 1);
}

/// Every kind of subject comes back as it was recorded, from entries and claims.
pub async fn journal_subjects_round_trip(journal: Journal) {
    let before = Timestamp::from_millis(1_700_000_000_123).expect("timestamp");
    let mut subjects = vec![
        JournalKey::new(
            TARGET,
            "",
            Subject::Cascade {
                entity: EntityKind::Tenant,
                key: "acme".into(),
            },
        ),
        JournalKey::new(
            TARGET,
            "acme",
            Subject::UserPasswords {
                user_id: "auth0|ü 1".into(),
            },
        ),
        JournalKey::new(TARGET, "acme", Subject::ExpiredCodes { before }),
        JournalKey::new(
            TARGET,
            "acme",
            Subject::Cascade {
                entity: EntityKind::User,
                key: "auth0|2".into(),
            },
        ),
    ];
    for entity in EntityKind::ALL {
        subjects.push(JournalKey::new(
            TARGET,
            "acme",
            Subject::Record {
                entity,
                key: format!("{}-'quoted' key", entity.singular()),
            },
        ));
    }
    subjects.sort();
    let claims = write(&journal, &token("w"), &subjects).await;
    assert_eq!(
        claimed_keys(&claims),
        subjects,
        "finish claims every subject"
    );
    assert_eq!(
        keys(&journal).await,
        subjects,
        "entries return every subject"
    );
    for c in &claims {
        journal
            .fail(c, &transient(Duration::ZERO))
            .await
            .expect("fail");
    }
    let claims = claim(&journal, &token("relay"), LONG).await;
    assert_eq!(
        claimed_keys(&claims),
        subjects,
        "claims return every subject"
    );
}

/// A cascade and a plain record of one key are one row, and the cascade wins
/// whichever came first, in one call or across writes.
pub async fn journal_cascade_merges_over_record(journal: Journal) {
    let record = |key: &str| {
        JournalKey::new(
            TARGET,
            "t1",
            Subject::Record {
                entity: EntityKind::User,
                key: key.into(),
            },
        )
    };
    let cascade = |key: &str| {
        JournalKey::new(
            TARGET,
            "t1",
            Subject::Cascade {
                entity: EntityKind::User,
                key: key.into(),
            },
        )
    };
    write(&journal, &token("w"), &[record("a")]).await;
    write(&journal, &token("w"), &[cascade("a")]).await;
    write(&journal, &token("w"), &[cascade("b")]).await;
    write(&journal, &token("w"), &[record("b")]).await;
    write(
        &journal,
        &token("w"),
        &[record("c"), cascade("c"), record("c")],
    )
    .await;
    assert_eq!(
        keys(&journal).await,
        vec![cascade("a"), cascade("b"), cascade("c")],
        "one row per key, the cascade merged over the record"
    );
}

/// Entries and backlog per target and filter; oldest first; limits.
pub async fn journal_entries_and_backlog_filter_per_target(journal: Journal) {
    let old_key = JournalKey::new("old", "t2", user(5).subject);
    let passwords = JournalKey::new(
        TARGET,
        "t1",
        Subject::UserPasswords {
            user_id: "u1".into(),
        },
    );
    let start = Timestamp::now();
    begin(&journal, &[user(1)], LONG).await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    begin(&journal, std::slice::from_ref(&passwords), LONG).await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    begin(&journal, std::slice::from_ref(&old_key), LONG).await;

    let all = entries(&journal).await;
    let order: Vec<JournalKey> = all.iter().map(|e| e.key.clone()).collect();
    assert_eq!(
        order,
        vec![user(1), passwords.clone(), old_key.clone()],
        "oldest first"
    );
    let first_two = journal
        .entries(&EntryFilter::default(), 2)
        .await
        .expect("entries");
    assert_eq!(first_two.len(), 2, "limit");
    let filter = |target: Option<&str>, entity: Option<&str>, tenant: Option<&str>| EntryFilter {
        target: target.map(str::to_owned),
        entity: entity.map(str::to_owned),
        tenant_id: tenant.map(str::to_owned),
        ..EntryFilter::default()
    };
    let select = |f: EntryFilter| {
        let journal = journal.clone();
        async move {
            let mut keys: Vec<JournalKey> = journal
                .entries(&f, 100)
                .await
                .expect("entries")
                .into_iter()
                .map(|e| e.key)
                .collect();
            keys.sort();
            keys
        }
    };
    let mut owed_new = vec![user(1), passwords.clone()];
    owed_new.sort();
    assert_eq!(select(filter(Some(TARGET), None, None)).await, owed_new);
    assert_eq!(
        select(filter(None, Some("user_passwords"), None)).await,
        vec![passwords.clone()]
    );
    assert_eq!(
        select(filter(None, None, Some("t2"))).await,
        vec![old_key.clone()]
    );
    assert_eq!(
        select(filter(Some("old"), Some("user"), Some("t1"))).await,
        vec![]
    );
    let by_key = EntryFilter {
        record_key: Some("u1".into()),
        ..EntryFilter::default()
    };
    let mut u1 = vec![user(1), passwords.clone()];
    u1.sort();
    assert_eq!(
        select(by_key).await,
        u1,
        "the record_key column: a key or a user id"
    );
    let live = EntryFilter {
        dead: Some(false),
        ..EntryFilter::default()
    };
    assert_eq!(select(live).await.len(), 3);

    let backlog = backlog(&journal).await;
    let targets: Vec<&str> = backlog.iter().map(|b| b.target.as_str()).collect();
    assert_eq!(
        targets,
        vec!["new", "old"],
        "one backlog per target, by name"
    );
    assert_eq!((backlog[0].pending, backlog[0].dead), (2, 0));
    assert_eq!((backlog[1].pending, backlog[1].dead), (1, 0));
    let oldest = backlog[0].oldest_pending.expect("oldest pending");
    assert!(
        oldest >= start.plus_millis(-5000) && oldest <= Timestamp::now().plus_millis(5000),
        "oldest pending {oldest} is about when the first key was recorded ({start})"
    );
    assert_eq!(backlog[0].oldest_pending, Some(all[0].since));
}

// ------------------------------------------------- claim_keys, settle_many

/// claim_keys records keys that have no row and claims them all for the
/// copier: pending, not in flight, not dead. Nobody else takes them while
/// its lease lives (another copier, a relay); once it ran out, another
/// copier wins them, at the same `seq` (claim_keys is not a write).
pub async fn journal_claim_keys_records_and_claims_keys_with_no_row(journal: Journal) {
    let wanted: Vec<JournalKey> = (1..=3).map(user).collect();
    let start = Timestamp::now();
    let copier = token("copier");
    let first = claim_keys(&journal, &copier, &wanted, LEASE).await;
    assert_eq!(claimed_keys(&first), wanted, "every key with no row is won");
    for c in &first {
        assert_eq!(c.token, copier, "the claims are under the copier's token");
        assert_eq!(c.attempts, 0);
        assert!(
            c.since >= start.plus_millis(-5000) && c.since <= Timestamp::now().plus_millis(5000),
            "since {} is about when the key was recorded ({start})",
            c.since
        );
    }
    let rows = entries(&journal).await;
    assert_eq!(keys(&journal).await, wanted, "claim_keys records the keys");
    assert!(
        rows.iter()
            .all(|e| !e.in_flight && !e.dead && e.attempts == 0),
        "recorded as pending, with no write in flight: {rows:?}"
    );
    assert_eq!(counts(&journal).await, (3, 0), "the recorded keys are owed");

    assert!(
        claim_keys(&journal, &token("copier2"), &wanted, LONG)
            .await
            .is_empty(),
        "a live claim keeps another copier off the keys"
    );
    assert!(
        claim(&journal, &token("relay"), LONG).await.is_empty(),
        "and keeps relays off them"
    );
    // The holder asking again gets its claims back, their lease unchanged
    // (so the copier below still wins once LEASE has run out).
    let again = claim_keys(&journal, &copier, &wanted, LONG).await;
    assert_eq!(
        claimed_keys(&again),
        wanted,
        "a key the token already holds is returned again"
    );

    tokio::time::sleep(AFTER_LEASE).await;
    let copier2 = token("copier2");
    let second = claim_keys(&journal, &copier2, &wanted, LONG).await;
    assert_eq!(
        claimed_keys(&second),
        wanted,
        "claims whose lease ran out are won"
    );
    for c in &second {
        assert_eq!(c.token, copier2);
        assert_eq!(
            c.seq,
            claim_of(&first, &c.key).seq,
            "claim_keys never changes a key's seq"
        );
    }
    assert_eq!(settle_many(&journal, &second).await, vec![true; 3]);
    assert_eq!(counts(&journal).await, (0, 0), "the settled keys are gone");
}

/// claim_keys skips a key with a write in flight (until the write's lease
/// runs out), a key a writer's finish holds and a dead letter, and changes
/// none of them; it claims a key left pending and a key with no row.
pub async fn journal_claim_keys_skips_busy_and_dead_keys(journal: Journal) {
    let (fresh, in_flight, held, pending, dead) = (user(1), user(2), user(3), user(4), user(5));
    let letter = only(
        write(&journal, &token("w"), std::slice::from_ref(&dead)).await,
        &dead,
        "w",
    );
    journal.fail(&letter, &rejected()).await.expect("fail");
    leave_pending(&journal, std::slice::from_ref(&pending)).await;
    begin(&journal, std::slice::from_ref(&held), LONG).await;
    let writer = token("writer");
    let held_claim = only(
        journal
            .finish(&writer, std::slice::from_ref(&held), LONG)
            .await
            .expect("finish"),
        &held,
        "the writer claims its key",
    );
    // Last, so that its lease still lives when claim_keys runs.
    begin(&journal, std::slice::from_ref(&in_flight), LEASE).await;

    let asked = [
        fresh.clone(),
        in_flight.clone(),
        held.clone(),
        pending.clone(),
        dead.clone(),
    ];
    let copier = token("copier");
    let won = claim_keys(&journal, &copier, &asked, LONG).await;
    let mut expected = vec![fresh.clone(), pending.clone()];
    expected.sort();
    assert_eq!(
        claimed_keys(&won),
        expected,
        "only the key with no row and the key left pending are free"
    );
    assert_eq!(counts(&journal).await, (4, 1), "the dead letter stays dead");
    let rows = entries(&journal).await;
    let row = |key: &JournalKey| {
        rows.iter()
            .find(|e| e.key == *key)
            .unwrap_or_else(|| panic!("no row of {key:?}"))
            .clone()
    };
    assert!(row(&in_flight).in_flight, "the write is still in flight");
    assert!(row(&dead).dead, "claim_keys does not revive a dead letter");

    tokio::time::sleep(AFTER_LEASE).await;
    let late = claim_keys(
        &journal,
        &token("copier2"),
        &[in_flight.clone(), held.clone(), dead.clone()],
        LONG,
    )
    .await;
    assert_eq!(
        claimed_keys(&late),
        vec![in_flight.clone()],
        "a write whose lease ran out (its writer died) no longer keeps the key"
    );
    assert!(
        journal.settle(&held_claim).await.expect("settle"),
        "the writer's claim settles: claim_keys changed nothing on the key"
    );
    let mut all = won;
    all.extend(late);
    assert_eq!(settle_many(&journal, &all).await, vec![true; 3]);
    assert_eq!(
        counts(&journal).await,
        (0, 1),
        "only the dead letter is left"
    );
}

/// claim_keys does not change a key's seq, so its claim on a finished key
/// settles when nothing else happened; a begin after it keeps the row
/// (through settle and settle_many alike), released and pending, so that a
/// relay takes it once the write is done.
pub async fn journal_claim_keys_is_not_a_write(journal: Journal) {
    let (quiet, rewritten, rewritten_many) = (user(1), user(2), user(3));
    let all = [quiet.clone(), rewritten.clone(), rewritten_many.clone()];
    leave_pending(&journal, &all).await;
    let copier = token("copier");
    let claims = claim_keys(&journal, &copier, &all, LONG).await;
    assert_eq!(
        claimed_keys(&claims),
        all.to_vec(),
        "every pending key is won"
    );

    assert!(
        journal
            .settle(claim_of(&claims, &quiet))
            .await
            .expect("settle"),
        "a claim_keys claim on a finished key settles when nothing else happened"
    );
    assert_eq!(
        keys(&journal).await,
        vec![rewritten.clone(), rewritten_many.clone()]
    );

    let began = std::time::Instant::now();
    begin(
        &journal,
        &[rewritten.clone(), rewritten_many.clone()],
        LEASE,
    )
    .await;
    assert!(
        !journal
            .settle(claim_of(&claims, &rewritten))
            .await
            .expect("settle"),
        "a begin after claim_keys keeps the row (settle)"
    );
    assert_eq!(
        settle_many(&journal, &[claim_of(&claims, &rewritten_many).clone()]).await,
        vec![false],
        "a begin after claim_keys keeps the row (settle_many)"
    );
    let rows = entries(&journal).await;
    assert_eq!(rows.len(), 2);
    // On a loaded machine the short lease may already have run out; the
    // relay's claim below then still shows the rows were kept.
    let within_lease = began.elapsed() < LEASE;
    assert!(
        rows.iter()
            .all(|e| (e.in_flight || !within_lease) && !e.dead),
        "the kept rows are pending, their write in flight: {rows:?}"
    );

    tokio::time::sleep(AFTER_LEASE).await;
    let relay = token("relay");
    let taken = claim(&journal, &relay, LONG).await;
    assert_eq!(
        claimed_keys(&taken),
        vec![rewritten.clone(), rewritten_many.clone()],
        "the settles that kept the rows released them"
    );
    assert_eq!(settle_many(&journal, &taken).await, vec![true, true]);
    assert_eq!(counts(&journal).await, (0, 0));
}

/// claim_keys claims a row with the row's own subject: a pending cascade
/// asked for as a plain record comes back as a cascade (and stays one), a
/// pending record asked for as a cascade comes back as a record.
pub async fn journal_claim_keys_keeps_the_rows_subject(journal: Journal) {
    let removal = JournalKey::new(
        TARGET,
        "",
        Subject::Cascade {
            entity: EntityKind::Tenant,
            key: "acme".into(),
        },
    );
    let asked_as_record = JournalKey::new(
        TARGET,
        "",
        Subject::Record {
            entity: EntityKind::Tenant,
            key: "acme".into(),
        },
    );
    let record = user(1);
    let asked_as_cascade = JournalKey::new(
        TARGET,
        "t1",
        Subject::Cascade {
            entity: EntityKind::User,
            key: "u1".into(),
        },
    );
    leave_pending(&journal, &[removal.clone(), record.clone()]).await;

    let cascade = only(
        claim_keys(&journal, &token("copier"), &[asked_as_record], LONG).await,
        &removal,
        "a pending cascade is claimed as a cascade",
    );
    let plain = only(
        claim_keys(&journal, &token("copier"), &[asked_as_cascade], LONG).await,
        &record,
        "a pending record is claimed as a record",
    );
    let mut expected = vec![removal, record];
    expected.sort();
    assert_eq!(
        keys(&journal).await,
        expected,
        "claim_keys changes no row's subject"
    );
    assert_eq!(
        settle_many(&journal, &[cascade, plain]).await,
        vec![true, true]
    );
    assert_eq!(counts(&journal).await, (0, 0));
}

/// claim_keys on more keys than one statement carries, each asked twice
/// (and one asked as a record and as a cascade): one claim per key, the busy
/// keys skipped wherever they fall, the cascade merged over the record for
/// a key with no row.
pub async fn journal_claim_keys_above_a_chunk_and_with_duplicates(journal: Journal) {
    const KEYS: usize = 1500;
    let mut all: Vec<JournalKey> = (0..KEYS).map(user).collect();
    all.sort();
    // One busy key near each end, so that both statements skip one.
    let (in_flight, held) = (all[10].clone(), all[KEYS - 10].clone());
    begin(&journal, std::slice::from_ref(&in_flight), LONG).await;
    begin(&journal, std::slice::from_ref(&held), LONG).await;
    let held_claim = only(
        journal
            .finish(&token("writer"), std::slice::from_ref(&held), LONG)
            .await
            .expect("finish"),
        &held,
        "the writer claims its key",
    );
    let subject = |cascade: bool| {
        let key = "both".to_owned();
        let entity = EntityKind::User;
        JournalKey::new(
            TARGET,
            "t1",
            if cascade {
                Subject::Cascade { entity, key }
            } else {
                Subject::Record { entity, key }
            },
        )
    };
    let mut asked = all.clone();
    asked.extend(all.iter().rev().cloned());
    asked.extend([subject(false), subject(true), subject(false)]);

    let copier = token("copier");
    let won = claim_keys(&journal, &copier, &asked, LONG).await;
    let mut expected: Vec<JournalKey> = all
        .iter()
        .filter(|k| **k != in_flight && **k != held)
        .cloned()
        .chain([subject(true)])
        .collect();
    expected.sort();
    assert_eq!(won.len(), expected.len(), "one claim per key won");
    assert_eq!(
        claimed_keys(&won),
        expected,
        "every free key, once; the busy ones skipped; the cascade merged"
    );
    assert!(won.iter().all(|c| c.token == copier));
    assert_eq!(
        counts(&journal).await,
        (KEYS as u64 + 1, 0),
        "one row per key"
    );

    let settled = settle_many(&journal, &won).await;
    assert!(settled.iter().all(|s| *s), "every claim won settles");
    assert!(journal.settle(&held_claim).await.expect("settle"));
    assert_eq!(
        keys(&journal).await,
        vec![in_flight],
        "only the write in flight is left"
    );
}

/// The keys of one run of [`journal_settle_many_answers_as_settle_does`],
/// from `base`, and the batch to settle, in its order.
struct SettleRun {
    quiet: [JournalKey; 2],
    rewritten: JournalKey,
    lost_held: JournalKey,
    lost_gone: JournalKey,
}

impl SettleRun {
    fn new(base: usize) -> Self {
        Self {
            quiet: [user(base + 1), user(base + 2)],
            rewritten: user(base + 3),
            lost_held: user(base + 4),
            lost_gone: user(base + 5),
        }
    }

    /// The batch, mixing the two copiers' tokens.
    fn batch(&self, claims: &[Claim]) -> Vec<Claim> {
        [
            &self.quiet[0],
            &self.lost_held,
            &self.quiet[1],
            &self.rewritten,
            &self.lost_gone,
        ]
        .into_iter()
        .map(|k| claim_of(claims, k).clone())
        .collect()
    }
}

/// settle_many gives, claim by claim, the answers of settle one by one, and
/// leaves the journal as they do: untouched claims settle; a claim whose key
/// was written again keeps the row, released; a lost claim (its lease ran
/// out, another token took the key) never settles and marks the key again,
/// whether the new holder still holds it or has settled it meanwhile.
pub async fn journal_settle_many_answers_as_settle_does(journal: Journal) {
    let runs = [SettleRun::new(0), SettleRun::new(10)];
    // One quiet key has a finished row, the other none.
    for run in &runs {
        leave_pending(&journal, std::slice::from_ref(&run.quiet[1])).await;
    }
    let (copier_a, copier_b) = (token("copier-a"), token("copier-b"));
    let long_keys: Vec<JournalKey> = runs
        .iter()
        .flat_map(|r| [r.quiet[0].clone(), r.quiet[1].clone(), r.rewritten.clone()])
        .collect();
    let short_keys: Vec<JournalKey> = runs
        .iter()
        .flat_map(|r| [r.lost_held.clone(), r.lost_gone.clone()])
        .collect();
    let mut claims = claim_keys(&journal, &copier_a, &long_keys, LONG).await;
    assert_eq!(claims.len(), long_keys.len(), "copier a wins its keys");
    let short = claim_keys(&journal, &copier_b, &short_keys, LEASE).await;
    assert_eq!(short.len(), short_keys.len(), "copier b wins its keys");
    claims.extend(short);
    let rewritten: Vec<JournalKey> = runs.iter().map(|r| r.rewritten.clone()).collect();
    begin(&journal, &rewritten, LONG).await;

    tokio::time::sleep(AFTER_LEASE).await;
    let relay = token("relay");
    let taken = claim(&journal, &relay, LONG).await;
    let mut lost = short_keys.clone();
    lost.sort();
    assert_eq!(
        claimed_keys(&taken),
        lost,
        "a relay takes the keys whose claims ran out"
    );
    for run in &runs {
        assert!(
            journal
                .settle(claim_of(&taken, &run.lost_gone))
                .await
                .expect("settle"),
            "the new holder settles"
        );
    }

    let expected = vec![true, false, true, false, false];
    let mut one_by_one = Vec::new();
    for c in runs[0].batch(&claims) {
        one_by_one.push(journal.settle(&c).await.expect("settle"));
    }
    assert_eq!(one_by_one, expected, "settle, claim by claim");
    let many = settle_many(&journal, &runs[1].batch(&claims)).await;
    assert_eq!(many, one_by_one, "settle_many answers as settle does");

    // Both runs left the journal the same way.
    let mut left: Vec<JournalKey> = runs
        .iter()
        .flat_map(|r| {
            [
                r.rewritten.clone(),
                r.lost_held.clone(),
                r.lost_gone.clone(),
            ]
        })
        .collect();
    left.sort();
    assert_eq!(
        keys(&journal).await,
        left,
        "the quiet keys are settled; the others still owed (a settled lost key marked again)"
    );
    for run in &runs {
        assert!(
            !journal
                .settle(claim_of(&taken, &run.lost_held))
                .await
                .expect("settle"),
            "the lost claim's settle marked the key again: its new holder copies it once more"
        );
    }
    let writer = token("writer");
    let finished = journal
        .finish(&writer, &rewritten, LONG)
        .await
        .expect("finish");
    let mut rewritten_sorted = rewritten.clone();
    rewritten_sorted.sort();
    assert_eq!(
        claimed_keys(&finished),
        rewritten_sorted,
        "the rewritten keys' claims were released"
    );
    assert_eq!(settle_many(&journal, &finished).await, vec![true, true]);
    assert_eq!(
        drain(&journal).await,
        4,
        "the lost keys are owed and claimable"
    );
    assert_eq!(counts(&journal).await, (0, 0));
}

/// settle_many on more claims than one statement carries: every answer in
/// its place, in both statements.
pub async fn journal_settle_many_above_a_chunk(journal: Journal) {
    const KEYS: usize = 1200;
    let all: Vec<JournalKey> = (0..KEYS).map(user).collect();
    let mut claims = claim_keys(&journal, &token("copier"), &all, LONG).await;
    assert_eq!(claims.len(), KEYS, "every key won");
    claims.sort_by(|a, b| a.key.cmp(&b.key));
    // One key rewritten in each of the two statements' claims.
    let rewritten = [7, KEYS - 93];
    let keys_rewritten: Vec<JournalKey> =
        rewritten.iter().map(|&i| claims[i].key.clone()).collect();
    begin(&journal, &keys_rewritten, LONG).await;

    let settled = settle_many(&journal, &claims).await;
    let expected: Vec<bool> = (0..KEYS).map(|i| !rewritten.contains(&i)).collect();
    assert_eq!(settled, expected, "each answer belongs to its claim");
    let mut left = keys_rewritten;
    left.sort();
    assert_eq!(
        keys(&journal).await,
        left,
        "only the rewritten keys are left"
    );
}

/// A claim given twice to settle_many answers as two settles of it: the
/// first settles, the second finds the row gone and marks the key again.
pub async fn journal_settle_many_of_one_claim_twice_answers_as_settle_does(journal: Journal) {
    let (one_by_one, many) = (user(1), user(2));
    let claims = claim_keys(
        &journal,
        &token("copier"),
        &[one_by_one.clone(), many.clone()],
        LONG,
    )
    .await;
    let (a, b) = (claim_of(&claims, &one_by_one), claim_of(&claims, &many));
    let settled = vec![
        journal.settle(a).await.expect("settle"),
        journal.settle(a).await.expect("settle"),
    ];
    assert_eq!(settled, vec![true, false], "settle twice");
    assert_eq!(
        settle_many(&journal, &[b.clone(), b.clone()]).await,
        settled,
        "settle_many of one claim twice answers as settle twice"
    );
    assert_eq!(
        keys(&journal).await,
        vec![one_by_one, many],
        "both keys are marked again"
    );
    assert_eq!(drain(&journal).await, 2);
}

/// Copiers' claim_keys on overlapping keys, racing relays' claims, never
/// hand one key to two holders while a claim lives, and leave none unclaimed.
pub async fn journal_concurrent_claim_keys_never_share_a_key(journal: Journal) {
    const KEYS: usize = 120;
    const COPIERS: usize = 4;
    const RELAYS: usize = 2;
    let all: Vec<JournalKey> = (0..KEYS).map(user).collect();
    // Half the keys have a row (free once the write's lease ran out), half none.
    begin(&journal, &all[..KEYS / 2], LEASE).await;
    tokio::time::sleep(AFTER_LEASE).await;
    let held: Arc<Mutex<HashMap<JournalKey, String>>> = Arc::default();
    let record = |held: &Mutex<HashMap<JournalKey, String>>, claims: &[Claim]| {
        let mut held = held.lock().expect("lock");
        for c in claims {
            let previous = held.insert(c.key.clone(), c.token.clone());
            assert!(
                previous.is_none(),
                "{:?} claimed by {} while {previous:?} held it",
                c.key,
                c.token
            );
        }
    };
    let mut tasks = Vec::new();
    for n in 0..COPIERS {
        let (journal, held, all) = (journal.clone(), held.clone(), all.clone());
        tasks.push(tokio::spawn(async move {
            let mut won = Vec::new();
            // Overlapping windows of 30 keys, in an order that varies per copier.
            for round in 0..KEYS / 10 {
                let start = (round * 10 + n * 7) % KEYS;
                let mut keys: Vec<JournalKey> =
                    (0..30).map(|i| all[(start + i) % KEYS].clone()).collect();
                if n % 2 == 1 {
                    keys.reverse();
                }
                let token = token(&format!("copier{n}"));
                let claims = journal
                    .claim_keys(&token, &keys, LONG)
                    .await
                    .expect("claim_keys");
                record(&held, &claims);
                won.extend(claims);
                tokio::task::yield_now().await;
            }
            won
        }));
    }
    for r in 0..RELAYS {
        let (journal, held) = (journal.clone(), held.clone());
        tasks.push(tokio::spawn(async move {
            let mut won = Vec::new();
            for _ in 0..KEYS / 10 {
                let token = token(&format!("relay{r}"));
                let claims = journal.claim(&token, TARGET, 5, LONG).await.expect("claim");
                record(&held, &claims);
                won.extend(claims);
                tokio::task::yield_now().await;
            }
            won
        }));
    }
    let mut claims = Vec::new();
    for task in tasks {
        claims.extend(task.await.expect("claim task"));
    }
    // Whatever the copiers' windows missed, one more copier takes.
    let rest = claim_keys(&journal, &token("last"), &all, LONG).await;
    record(&held, &rest);
    claims.extend(rest);
    let mut won = claimed_keys(&claims);
    won.dedup();
    assert_eq!(won.len(), claims.len(), "no key won twice");
    let mut expected = all.clone();
    expected.sort();
    assert_eq!(won, expected, "every key claimed exactly once");
    let settled = settle_many(&journal, &claims).await;
    assert!(settled.iter().all(|s| *s), "every claim settles");
    assert_eq!(counts(&journal).await, (0, 0));
}

/// begin under a stale generation records nothing and answers StageMoved
/// with the stored stage; generation 0 works on a scope never stored (and
/// stores the caller's stage); a fresh generation on a never-stored scope is stale.
pub async fn journal_stage_fence(journal: Journal) {
    let moved = journal
        .begin(&fence(3), &[user(1)], LONG)
        .await
        .expect("begin");
    assert_eq!(
        moved,
        Begun::StageMoved(None),
        "generation 3 of a scope never stored"
    );
    assert!(
        entries(&journal).await.is_empty(),
        "a fenced-off begin records nothing"
    );

    begin(&journal, &[user(1)], LONG).await;
    let stored = journal.stage(SCOPE).await.expect("stage").expect("stored");
    assert_eq!(
        (
            stored.scope.as_str(),
            stored.stage.as_str(),
            stored.generation
        ),
        (SCOPE, "dual_write", 0),
        "a begin at generation 0 stores the caller's stage"
    );

    assert!(
        journal
            .set_stage(SCOPE, 0, "live", 1)
            .await
            .expect("set_stage")
    );
    let moved = journal
        .begin(&fence(0), &[user(2)], LONG)
        .await
        .expect("begin");
    let Begun::StageMoved(Some(stage)) = moved else {
        panic!(
            "a begin under generation 0 after the switch to 1 answers StageMoved, got {moved:?}"
        );
    };
    assert_eq!((stage.stage.as_str(), stage.generation), ("live", 1));
    assert_eq!(
        keys(&journal).await,
        vec![user(1)],
        "nothing recorded under the old generation"
    );
    let begun = journal
        .begin(&fence(1), &[user(2)], LONG)
        .await
        .expect("begin");
    assert!(
        matches!(begun, Begun::Recorded(_)),
        "the current generation records: {begun:?}"
    );
    assert_eq!(keys(&journal).await, vec![user(1), user(2)]);

    // Scopes are independent.
    let other = Fence {
        scope: "users".into(),
        ..fence(0)
    };
    let begun = journal
        .begin(&other, &[user(3)], LONG)
        .await
        .expect("begin");
    assert!(
        matches!(begun, Begun::Recorded(_)),
        "another scope, never stored, is at generation 0: {begun:?}"
    );
}

/// set_stage stores only over the expected generation (0 also matches a
/// scope never stored) and reads back what it stored.
pub async fn journal_stage_is_compare_and_set(journal: Journal) {
    assert!(
        !journal
            .set_stage(SCOPE, 4, "live", 5)
            .await
            .expect("set_stage"),
        "a never-stored scope is not at generation 4"
    );
    assert_eq!(journal.stage(SCOPE).await.expect("stage"), None);
    let before = Timestamp::now();
    assert!(
        journal
            .set_stage(SCOPE, 0, "shadow", 1)
            .await
            .expect("set_stage")
    );
    let stored = journal.stage(SCOPE).await.expect("stage").expect("stored");
    assert_eq!(
        (
            stored.scope.as_str(),
            stored.stage.as_str(),
            stored.generation
        ),
        (SCOPE, "shadow", 1)
    );
    assert!(
        stored.changed_at >= before.plus_millis(-5000),
        "changed_at {} is about now ({before})",
        stored.changed_at
    );
    assert!(
        !journal
            .set_stage(SCOPE, 0, "live", 2)
            .await
            .expect("set_stage"),
        "a switch from a stale generation fails"
    );
    assert!(
        journal
            .set_stage(SCOPE, 1, "live", 2)
            .await
            .expect("set_stage")
    );
    assert!(
        !journal
            .set_stage(SCOPE, 1, "off", 2)
            .await
            .expect("set_stage")
    );
    let stored = journal.stage(SCOPE).await.expect("stage").expect("stored");
    assert_eq!((stored.stage.as_str(), stored.generation), ("live", 2));

    // Two switches racing from the same generation: exactly one wins.
    let a = journal.clone();
    let b = journal.clone();
    let (x, y) = tokio::join!(
        tokio::spawn(async move { a.set_stage(SCOPE, 2, "ramp_down", 3).await }),
        tokio::spawn(async move { b.set_stage(SCOPE, 2, "complete", 3).await }),
    );
    let (x, y) = (
        x.expect("task").expect("set_stage"),
        y.expect("task").expect("set_stage"),
    );
    assert!(x ^ y, "exactly one of two racing switches wins ({x}, {y})");
    // Two first switches of a never-stored scope: exactly one wins too.
    let a = journal.clone();
    let b = journal.clone();
    let (x, y) = tokio::join!(
        tokio::spawn(async move { a.set_stage("fresh", 0, "shadow", 1).await }),
        tokio::spawn(async move { b.set_stage("fresh", 0, "live", 1).await }),
    );
    let (x, y) = (
        x.expect("task").expect("set_stage"),
        y.expect("task").expect("set_stage"),
    );
    assert!(x ^ y, "exactly one of two first switches wins ({x}, {y})");
}

/// Relays claiming concurrently never hold the same key at once.
pub async fn journal_concurrent_relays_never_share_a_key(journal: Journal) {
    const KEYS: usize = 200;
    const RELAYS: usize = 8;
    let all: Vec<JournalKey> = (0..KEYS).map(user).collect();
    begin(&journal, &all, LEASE).await;
    tokio::time::sleep(AFTER_LEASE).await;
    let held: Arc<Mutex<HashMap<JournalKey, String>>> = Arc::default();
    let mut relays = Vec::new();
    for r in 0..RELAYS {
        let journal = journal.clone();
        let held = held.clone();
        relays.push(tokio::spawn(async move {
            let mut won = Vec::new();
            loop {
                // A fresh token per call, as the contract asks.
                let token = token(&format!("relay{r}"));
                let claims = journal.claim(&token, TARGET, 7, LONG).await.expect("claim");
                if claims.is_empty() {
                    return won;
                }
                for c in claims {
                    let previous = held
                        .lock()
                        .expect("lock")
                        .insert(c.key.clone(), c.token.clone());
                    assert!(
                        previous.is_none(),
                        "{:?} claimed by {} while {previous:?} held it",
                        c.key,
                        c.token
                    );
                    won.push(c);
                }
                tokio::task::yield_now().await;
            }
        }));
    }
    let mut claims = Vec::new();
    for relay in relays {
        claims.extend(relay.await.expect("relay task"));
    }
    assert_eq!(claims.len(), KEYS, "every key claimed exactly once");
    let settles = claims.iter().map(|c| journal.settle(c));
    for settled in futures::future::join_all(settles).await {
        assert!(settled.expect("settle"), "every claim settles");
    }
    assert_eq!(counts(&journal).await, (0, 0));
}

/// 200 concurrent writes of overlapping keys (begin, finish, settle what
/// they won), in varied orders, never fail (a deadlock is retried or
/// avoided), leave no write in flight, and leave every key still owed
/// claimable, so that a relay drains the journal.
pub async fn journal_concurrent_writes_stay_consistent(journal: Journal) {
    const WRITES: usize = 200;
    const KEYS: usize = 20;
    let mut tasks = Vec::new();
    for w in 0..WRITES {
        let journal = journal.clone();
        tasks.push(tokio::spawn(async move {
            // Three overlapping keys per write, in an order that varies.
            let mut keys: Vec<JournalKey> = (0..3).map(|i| user((w * 7 + i * 5) % KEYS)).collect();
            if w % 2 == 1 {
                keys.reverse();
            }
            let writer = token(&format!("w{w}"));
            let begun = journal
                .begin(&fresh_fence(), &keys, LONG)
                .await
                .map_err(|e| format!("begin of write {w}: {e}"))?;
            if !matches!(begun, Begun::Recorded(_)) {
                return Err(format!("write {w}: {begun:?}"));
            }
            tokio::task::yield_now().await;
            let claims = journal
                .finish(&writer, &keys, LONG)
                .await
                .map_err(|e| format!("finish of write {w}: {e}"))?;
            let mut settled = Vec::new();
            for c in claims {
                if journal
                    .settle(&c)
                    .await
                    .map_err(|e| format!("settle of write {w}: {e}"))?
                {
                    settled.push(c.key);
                }
            }
            Ok::<_, String>((keys, settled))
        }));
    }
    let mut errors = Vec::new();
    let mut touched = BTreeSet::new();
    for task in tasks {
        match task.await.expect("write task") {
            Ok((keys, _)) => touched.extend(keys),
            Err(e) => errors.push(e),
        }
    }
    assert!(
        errors.is_empty(),
        "{} writes failed: {:?}",
        errors.len(),
        &errors[..errors.len().min(5)]
    );
    let rows = entries(&journal).await;
    let in_flight: Vec<&JournalEntry> = rows.iter().filter(|e| e.in_flight).collect();
    assert!(
        in_flight.is_empty(),
        "every write finished, yet {} keys show a write in flight",
        in_flight.len()
    );
    assert!(rows.iter().all(|e| touched.contains(&e.key) && !e.dead));
    let unique: HashSet<&JournalKey> = rows.iter().map(|e| &e.key).collect();
    assert_eq!(unique.len(), rows.len(), "one row per key");
    let (pending, dead) = counts(&journal).await;
    assert_eq!(
        (pending as usize, dead),
        (rows.len(), 0),
        "backlog counts the rows"
    );
    // Every key left is a claim released by a settle that saw a newer write:
    // a relay takes and settles each (a writer's claims, under LONG leases,
    // were all settled or released).
    assert_eq!(
        drain(&journal).await,
        rows.len(),
        "every key left is claimable"
    );
    assert_eq!(counts(&journal).await, (0, 0));
}

/// begins racing a stage switch: each either is recorded before the switch
/// commits (visible to a reader right after it) or answers StageMoved; none
/// is recorded under the old generation after the switch.
pub async fn journal_begin_racing_a_switch_is_fenced(journal: Journal) {
    const WRITERS: usize = 8;
    // Store the scope at generation 0.
    begin(&journal, &[user(10_000)], LONG).await;
    // Set once the switch returned: a begin that starts later must be fenced off.
    let switched = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let journal = journal.clone();
        let switched = switched.clone();
        writers.push(tokio::spawn(async move {
            let mut recorded = Vec::new();
            let mut n = 0;
            loop {
                // Yield, so that an instant journal leaves the switch its turn.
                tokio::task::yield_now().await;
                assert!(n < 100_000, "writer {w}: the switch never fenced its begins off");
                let key = user(w * 100_000 + n);
                n += 1;
                let late = switched.load(std::sync::atomic::Ordering::SeqCst);
                let begun = journal
                    .begin(&fence(0), std::slice::from_ref(&key), LONG)
                    .await
                    .expect("begin");
                match begun {
                    Begun::Recorded(_) => {
                        assert!(
                            !late,
                            "a begin under generation 0 that started after the switch returned was recorded"
                        );
                        recorded.push(key);
                    }
                    Begun::StageMoved(stage) => {
                        let stage = stage.expect("the stored stage");
                        assert_eq!(stage.generation, 1, "moved to the switch's generation");
                        return (recorded, n);
                    }
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        journal
            .set_stage(SCOPE, 0, "live", 1)
            .await
            .expect("set_stage")
    );
    switched.store(true, std::sync::atomic::Ordering::SeqCst);
    // What a switch that waits for writes in flight sees right after it committed.
    let seen: HashSet<JournalKey> = journal
        .entries(&EntryFilter::default(), usize::MAX)
        .await
        .expect("entries")
        .into_iter()
        .map(|e| e.key)
        .collect();
    let mut attempts = 0;
    for writer in writers {
        let (recorded, n) = writer.await.expect("writer task");
        attempts += n;
        for key in recorded {
            assert!(
                seen.contains(&key),
                "{key:?} was recorded under generation 0 after the switch committed"
            );
        }
    }
    assert!(
        attempts > WRITERS,
        "the writers raced the switch ({attempts} begins)"
    );
    let after = journal
        .begin(&fence(0), &[user(1)], LONG)
        .await
        .expect("begin");
    assert!(matches!(after, Begun::StageMoved(Some(_))));
}
