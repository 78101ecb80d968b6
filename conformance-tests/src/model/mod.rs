//! Model-based property tests: random sequences of operations over all eight
//! entities, run against the adapters under test and the in-memory
//! reference ([`adapter_interfaces::memory`]); every answer and the final
//! contents must agree.
//!
//! A sequence starts with two tenants whose ids differ only in case and goes
//! on with creates (caller ids and generated ones), updates with random
//! patches, removals (tenant and user removals cascade), exact `upsert` and
//! `upsert_many`, `codes.consume` and `cleanup`, password rotations and
//! `get_current`, single `list` calls with random pages, page sizes, totals,
//! sorts and `q` filters drawn from the grammar, and whole keyset scans.
//! Values come from [`values`]: mixed case, trailing spaces, combining
//! characters, emoji, strings at their length limit, quotes and backslashes,
//! timestamps with sub-millisecond digits at the edges of the storable years,
//! nested JSON with large integers, empty lists. Failing sequences are
//! shrunk and printed one operation per line.
//!
//! ```no_run
//! // tests/model.rs of an adapter crate
//! use conformance_tests::model::{self, Subject};
//!
//! #[test]
//! fn model() {
//!     model::check(
//!         &model::Config::from_env(),
//!         vec![Subject::new("my-adapter", || async {
//!             // Provision a database and connect, as for the conformance suite.
//!             Some(adapter_interfaces::memory::adapters())
//!         })],
//!     );
//! }
//! ```
//!
//! A subject whose store declares [`Capabilities`](adapter_interfaces::Capabilities)
//! ([`TestStore::with_capabilities`]) gets no operation they exclude: no `q`
//! (or only on the declared fields) where `q` is limited, no `upsert_many`
//! of several records where batches are not atomic, and no write of a
//! read-only entity, unless the store has a seed store
//! ([`TestStore::with_seed_store`]), through which those writes then go
//! while every read goes to the adapter under test. In a differential run a
//! sequence holds only what every subject supports.
//!
//! Several subjects in one call form a differential run: each sequence runs
//! against all of them, each compared with the reference. Each subject's
//! factory is called once; the store is emptied between cases by removing
//! every tenant (which must cascade), and that the store is then empty is
//! checked too.
//!
//! ## Settings
//!
//! - `SWITCHYARD_PROPTEST_CASES`: sequences per run (default 16; thousands for a soak).
//! - `SWITCHYARD_PROPTEST_OPS`: the most operations in a sequence (default 50).
//! - `SWITCHYARD_PROPTEST_SEED`: the seed (a number); a failure prints the
//!   seed it ran with, so that it can be replayed.
//!
//! Each run prints a summary line such as
//! `model: 2 configurations, 16 sequences, 1210 operations, 0 divergences`.
//!
//! ## What "agree" means when clocks and id generators are involved
//!
//! Adapters stamp `created_at`/`updated_at`/`date`/`used_at` with their own
//! clock and generate their own ids, so two adapters never agree on those
//! byte for byte. The rules:
//!
//! - Most creates are exact: they carry a caller id and every timestamp, and
//!   the record must then match the reference's exactly, every field.
//! - A generated key must look like the reference's (same prefix, then 32
//!   hex digits); from then on a translation table maps the subject's key to
//!   the reference's (in creation order) wherever it appears: keys, foreign
//!   keys, lists of ids, error messages, `q` values.
//! - A clock-stamped field (the model tracks which: a create without
//!   timestamps, every update's `updated_at`, a consumed code's `used_at`, a
//!   password demoted by one whose `updated_at` was stamped) must hold a
//!   time during the run, and is otherwise not compared.
//! - Caller keys never start with a character between `0` and `f` (after
//!   the fixed prefix of generated keys, `auth0|` or `con_`; tenant ids,
//!   generated as time-ordered UUIDs that start with `0`, only avoid `0`),
//!   and exact timestamps
//!   never fall between 2020 and 2040, so a generated key or a stamped time
//!   orders against exact values the same way everywhere. A listing is
//!   compared item by item, in order, unless two of the matching records
//!   have stamped values in the sort column (or tie on it with generated
//!   keys); then its items are compared as a set (each must be a matching
//!   record, equal to the reference's), with the same counts, totals and
//!   page structure. A `q` with a range over a column of ids, once any id
//!   was generated, only has to succeed.
//! - Errors compare by variant and by entity and field (or translated id).

use std::cell::Cell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use adapter_interfaces::record::Column;
use adapter_interfaces::{
    Application, Code, Connection, DataAdapters, EntityKind, Log, Password, Record, Session,
    Tenant, User,
};
use proptest::test_runner::{
    Config as ProptestConfig, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner,
};
use serde_json::Value as Json;

use crate::TestStore;

mod case;
mod exec;
pub mod limits;
pub mod op;
pub mod strategy;
pub mod values;
mod wrap;

pub use wrap::{Tamper, split, tampered};

/// The variable that sets the number of sequences per run.
pub const CASES_VAR: &str = "SWITCHYARD_PROPTEST_CASES";
/// The variable that sets the most operations in a sequence.
pub const OPS_VAR: &str = "SWITCHYARD_PROPTEST_OPS";
/// The variable that fixes the seed.
pub const SEED_VAR: &str = "SWITCHYARD_PROPTEST_SEED";

/// How many sequences, how long, and from which seed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Sequences to run.
    pub cases: u32,
    /// The most generated operations in a sequence (after the two tenants of the prelude).
    pub max_ops: usize,
    /// The seed of the generator.
    pub seed: u64,
    /// The most shrinking steps after a failure (each replays a sequence).
    pub max_shrink_iters: u32,
}

fn env_number<T: std::str::FromStr>(name: &str) -> Option<T> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

impl Config {
    /// The settings from the environment (see the module docs), with small defaults for CI.
    pub fn from_env() -> Self {
        let seed = env_number(SEED_VAR).unwrap_or_else(|| {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or(Duration::ZERO);
            now.as_nanos() as u64 ^ u64::from(std::process::id()).rotate_left(32)
        });
        Self {
            cases: env_number(CASES_VAR).unwrap_or(16).max(1),
            max_ops: env_number(OPS_VAR).unwrap_or(50).max(1),
            seed,
            max_shrink_iters: 300,
        }
    }

    /// The same settings with `cases` sequences.
    pub fn with_cases(mut self, cases: u32) -> Self {
        self.cases = cases.max(1);
        self
    }

    /// The same settings with at most `max_ops` operations per sequence.
    pub fn with_max_ops(mut self, max_ops: usize) -> Self {
        self.max_ops = max_ops.max(1);
        self
    }

    /// The same settings with this seed.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The same settings with `cases` divided by `divisor` (at least 1): for
    /// runs that repeat the test over many configurations.
    pub fn fraction(mut self, divisor: u32) -> Self {
        self.cases = (self.cases / divisor.max(1)).max(1);
        self
    }
}

/// A boxed future.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

type BeforeOp = Box<dyn Fn(usize) + Send + Sync>;
type AfterSequence = Box<dyn Fn() -> BoxFuture<'static, Result<(), String>> + Send + Sync>;

/// A store under test, with optional hooks (fault injection before an
/// operation; a check after each sequence, such as a passthrough's flush
/// and secondary comparison).
pub struct Instance {
    store: TestStore,
    before_op: Option<BeforeOp>,
    after_sequence: Option<AfterSequence>,
}

impl Instance {
    /// An instance over `store` (which must start empty).
    pub fn new(store: impl Into<TestStore>) -> Self {
        Self {
            store: store.into(),
            before_op: None,
            after_sequence: None,
        }
    }

    /// Runs `hook` with the operation's index before each operation.
    pub fn before_op(mut self, hook: impl Fn(usize) + Send + Sync + 'static) -> Self {
        self.before_op = Some(Box::new(hook));
        self
    }

    /// Runs `check` after each sequence (before the store is emptied); an
    /// `Err` is a divergence.
    pub fn after_sequence<F, Fut>(mut self, check: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        self.after_sequence = Some(Box::new(move || Box::pin(check())));
        self
    }
}

impl From<TestStore> for Instance {
    fn from(store: TestStore) -> Self {
        Self::new(store)
    }
}

impl From<DataAdapters> for Instance {
    fn from(adapters: DataAdapters) -> Self {
        Self::new(adapters)
    }
}

impl fmt::Debug for Instance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Instance")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

type Factory = Box<dyn FnOnce() -> Pin<Box<dyn Future<Output = Option<Instance>>>>>;

/// A named configuration under test and the factory of its store; the
/// factory returns `None` (having said why) when it cannot run here.
pub struct Subject {
    name: String,
    factory: Factory,
}

impl Subject {
    /// A subject named `name` (`sqlx+postgres`, ...) built by `factory`.
    pub fn new<F, Fut, S>(name: impl Into<String>, factory: F) -> Self
    where
        F: FnOnce() -> Fut + 'static,
        Fut: Future<Output = Option<S>> + 'static,
        S: Into<Instance>,
    {
        Self {
            name: name.into(),
            factory: Box::new(move || Box::pin(async move { factory().await.map(Into::into) })),
        }
    }

    /// The subject's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl fmt::Debug for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subject")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Subjects that ran (the reference not counted).
    pub configurations: usize,
    /// Sequences run, shrinking replays included.
    pub sequences: u64,
    /// Operations applied to subjects.
    pub operations: u64,
    /// Subjects that diverged in the minimal failing sequence.
    pub divergences: usize,
    /// The minimal failing sequence and what diverged, if any.
    pub failure: Option<String>,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "model: {} configurations, {} sequences, {} operations, {} divergences",
            self.configurations, self.sequences, self.operations, self.divergences
        )
    }
}

/// The placeholder for the `n`-th known key of `entity` (see [`op`]).
pub fn placeholder(entity: EntityKind, n: u8) -> String {
    format!("@{}#{n}", entity.singular())
}

fn parse_placeholder(text: &str) -> Option<(EntityKind, u8)> {
    let (name, n) = text.strip_prefix('@')?.split_once('#')?;
    let entity = EntityKind::ALL.into_iter().find(|e| e.singular() == name)?;
    Some((entity, n.parse().ok()?))
}

/// The columns of an entity.
fn columns(entity: EntityKind) -> &'static [Column] {
    match entity {
        EntityKind::Tenant => Tenant::COLUMNS,
        EntityKind::User => User::COLUMNS,
        EntityKind::Application => Application::COLUMNS,
        EntityKind::Connection => Connection::COLUMNS,
        EntityKind::Session => Session::COLUMNS,
        EntityKind::Code => Code::COLUMNS,
        EntityKind::Password => Password::COLUMNS,
        EntityKind::Log => Log::COLUMNS,
    }
}

/// A record as JSON text, with secrets replaced.
fn redact(value: &Json) -> String {
    let mut value = value.clone();
    if let Json::Object(map) = &mut value {
        for field in ["password", "client_secret"] {
            if let Some(v) = map.get_mut(field)
                && !v.is_null()
            {
                *v = Json::String("<secret>".into());
            }
        }
    }
    value.to_string()
}

async fn run_case(
    ops: &[op::Op],
    instances: &[(String, Instance)],
    operations: &Cell<u64>,
) -> Vec<String> {
    let reference = case::reference();
    let mut model = case::Model::new();
    let mut lanes: Vec<case::Lane<'_>> = instances
        .iter()
        .map(|(name, instance)| case::Lane::new(name, instance))
        .collect();
    for lane in &mut lanes {
        let adapters = lane.instance.store.harness();
        let empty = matches!(exec::all_records(adapters, EntityKind::Tenant, "").await, Ok(t) if t.is_empty());
        if !empty && let Err(e) = case::reset(adapters).await {
            lane.divergence = Some(format!("the store is not empty at the start: {e}"));
        }
    }
    for (step, op) in ops.iter().enumerate() {
        for lane in &lanes {
            if let Some(hook) = &lane.instance.before_op {
                hook(step);
            }
        }
        let prepared = model.prepare(op, &reference).await;
        let want = exec::run(&reference, prepared.call()).await;
        model.apply(&prepared, &want, &reference).await;
        let label = format!("step {step}: {op}");
        let active = lanes.iter().filter(|l| l.divergence.is_none()).count() as u64;
        operations.set(operations.get() + active);
        futures::future::join_all(
            lanes
                .iter_mut()
                .map(|lane| lane.step(&model, &prepared, &want, &label)),
        )
        .await;
    }
    for lane in &mut lanes {
        lane.final_contents(&model, &reference).await;
        if let Some(check) = &lane.instance.after_sequence
            && let Err(e) = check().await
            && lane.divergence.is_none()
        {
            lane.divergence = Some(format!("after the sequence: {e}"));
        }
        if let Err(e) = case::reset(lane.instance.store.harness()).await
            && lane.divergence.is_none()
        {
            lane.divergence = Some(format!("emptying the store: {e}"));
        }
    }
    lanes
        .into_iter()
        .filter_map(|lane| {
            lane.divergence
                .map(|d| format!("{} diverged at {d}", lane.name))
        })
        .collect()
}

/// Runs `config.cases` sequences against every subject that can run here
/// and the reference; returns what happened (it does not panic).
pub fn run(config: &Config, subjects: Vec<Subject>) -> Report {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            return Report {
                failure: Some(format!("cannot build a Tokio runtime: {e}")),
                ..Report::default()
            };
        }
    };
    let instances: Vec<(String, Instance)> = runtime.block_on(async {
        let mut built = Vec::new();
        for subject in subjects {
            if let Some(instance) = (subject.factory)().await {
                built.push((subject.name, instance));
            }
        }
        built
    });
    let mut report = Report {
        configurations: instances.len(),
        ..Report::default()
    };
    if instances.is_empty() {
        return report;
    }
    let sequences = Cell::new(0u64);
    let operations = Cell::new(0u64);
    let last_divergences = Cell::new(0usize);
    let proptest_config = ProptestConfig {
        cases: config.cases,
        failure_persistence: None,
        max_shrink_iters: config.max_shrink_iters,
        max_shrink_time: 300_000,
        ..ProptestConfig::default()
    };
    let mut seed = [0u8; 32];
    for (i, chunk) in seed.chunks_mut(8).enumerate() {
        chunk.copy_from_slice(&config.seed.rotate_left(i as u32 * 16).to_le_bytes());
    }
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &seed);
    let mut runner = TestRunner::new_with_rng(proptest_config, rng);
    // One sequence runs against every subject: it may only hold what all of
    // them support.
    let capabilities = instances
        .iter()
        .map(|(_, i)| crate::capabilities::generation_capabilities(&i.store))
        .fold(adapter_interfaces::Capabilities::default(), |all, c| {
            all.intersection(&c)
        });
    let result = runner.run(
        &strategy::sequence_for(config.max_ops, &capabilities),
        |ops| {
            sequences.set(sequences.get() + 1);
            let divergences = runtime.block_on(run_case(&ops, &instances, &operations));
            if divergences.is_empty() {
                Ok(())
            } else {
                last_divergences.set(divergences.len());
                Err(TestCaseError::fail(divergences.join("\n")))
            }
        },
    );
    report.sequences = sequences.get();
    report.operations = operations.get();
    match result {
        Ok(()) => {}
        Err(TestError::Fail(reason, ops)) => {
            report.divergences = last_divergences.get();
            report.failure = Some(format!(
                "{reason}\nminimal sequence ({} operations, seed {}={}):\n{}",
                ops.len(),
                SEED_VAR,
                config.seed,
                op::Sequence(ops)
            ));
        }
        Err(TestError::Abort(reason)) => {
            report.failure = Some(format!("the run was aborted: {reason}"));
        }
    }
    // Pools close their connections inside the runtime that opened them.
    runtime.block_on(async move { drop(instances) });
    report
}

/// [`run`], then prints the summary line, and panics with the minimal
/// failing sequence if any subject diverged.
pub fn check(config: &Config, subjects: Vec<Subject>) -> Report {
    let names: Vec<String> = subjects.iter().map(|s| s.name.clone()).collect();
    let report = run(config, subjects);
    println!("{report} [{}]", names.join(", "));
    if let Some(failure) = &report.failure {
        panic!("the model tests found a divergence:\n{failure}\n{report}");
    }
    report
}

/// Empties a store by removing every tenant (which removes everything else),
/// and checks that nothing is left.
pub async fn clear(adapters: &DataAdapters) -> Result<(), String> {
    case::reset(adapters).await
}

/// Every record of a store: (entity, tenant id or `""`, key) → record as JSON.
pub type Snapshot = std::collections::BTreeMap<(EntityKind, String, String), Json>;

/// Reads every record of every entity of every tenant.
pub async fn snapshot(adapters: &DataAdapters) -> Result<Snapshot, String> {
    let mut all = Snapshot::new();
    let tenants = exec::all_records(adapters, EntityKind::Tenant, "").await?;
    for tenant in &tenants {
        let id = tenant
            .get("id")
            .and_then(Json::as_str)
            .unwrap_or_default()
            .to_owned();
        all.insert(
            (EntityKind::Tenant, String::new(), id.clone()),
            tenant.clone(),
        );
        for entity in &EntityKind::ALL[1..] {
            let key = columns(*entity)[0].name;
            for record in exec::all_records(adapters, *entity, &id).await? {
                let k = record
                    .get(key)
                    .and_then(Json::as_str)
                    .unwrap_or_default()
                    .to_owned();
                all.insert((*entity, id.clone(), k), record);
            }
        }
    }
    Ok(all)
}

/// Compares two snapshots exactly; `Err` describes the first few differences
/// (secrets redacted).
pub fn compare_snapshots(got: &Snapshot, want: &Snapshot) -> Result<(), String> {
    let mut differences = Vec::new();
    for (key, w) in want {
        match got.get(key) {
            None => differences.push(format!(
                "missing {} {:?} of tenant {:?}",
                key.0, key.2, key.1
            )),
            Some(g) if g != w => differences.push(case::describe_difference(g, w)),
            Some(_) => {}
        }
    }
    for key in got.keys().filter(|k| !want.contains_key(*k)) {
        differences.push(format!("extra {} {:?} of tenant {:?}", key.0, key.2, key.1));
    }
    if differences.is_empty() {
        Ok(())
    } else {
        let shown: Vec<&String> = differences.iter().take(5).collect();
        Err(format!(
            "{} differences: {}",
            differences.len(),
            shown
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join("; ")
        ))
    }
}
