//! The limits property test: random short sequences of writes and look-ups
//! of every entity with values at and just past each limit (timestamps at
//! and one millisecond past the ends of the storable range and the type's
//! extremes, JSON documents at and past the depth and size limits, texts at
//! and past their length, NUL characters in values, ids, tenant ids and
//! `q`, `codes.cleanup` at extreme cut-offs), run against every subject and
//! the in-memory reference: every answer (the value, or the error's variant
//! and field) and the final contents must agree, and no call may fail with
//! a `Backend` error.
//!
//! Writes carry exact keys and timestamps, so records compare whole; a
//! record that a successful `update` stamped is compared without its
//! `updated_at`.

use std::cell::Cell;
use std::collections::BTreeSet;
use std::fmt;

use adapter_interfaces::record::{ColumnKind, MAX_JSON_BYTES, MAX_JSON_DEPTH};
use adapter_interfaces::{
    AdapterError, Application, Code, Connection, DataAdapters, EntityKind, ListParams, Log,
    Password, Record, Result, Session, Tenant, TenantInsert, Timestamp, User,
};
use futures::future::BoxFuture;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::{
    Config as ProptestConfig, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner,
};
use serde_json::{Value as Json, json};

use super::{Config, Instance, Report, SEED_VAR, Subject, case, snapshot};
use crate::checks::generic::{Fixture, insert_of};
use crate::checks::limits::{nested, sized, unstorable_instants};
use crate::checks::support::{PARENT, PARENT2, T1, T2, at, with_field};

/// How a write reaches the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Path {
    /// `create` of an insert carrying every field.
    Create,
    /// `upsert` of the record.
    Upsert,
    /// `upsert_many` of a valid record, then this one.
    UpsertMany,
    /// `update` with a patch of the one field.
    Update,
}

/// What a look-up with a NUL asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    /// `get`.
    Get,
    /// `remove`.
    Remove,
    /// `update` with an empty patch.
    Update,
    /// `list` with totals under the tenant.
    List,
    /// `list` with a `q` that holds a NUL.
    Query,
    /// `codes.consume`.
    Consume,
    /// `passwords.get_current`.
    GetCurrent,
}

/// One operation of a sequence. Fields and values are indices, resolved
/// against the entity's columns when the operation runs (so that
/// sequences shrink).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EdgeOp {
    /// A write of record `key` of `entity` with one field at an edge.
    Write {
        /// The entity.
        entity: EntityKind,
        /// How it is written.
        path: Path,
        /// Which of a few keys.
        key: u8,
        /// Which of the entity's edge fields.
        field: usize,
        /// Which of the field's edge values.
        value: usize,
    },
    /// A look-up with a NUL in the id (or else in the tenant id).
    Lookup {
        /// The entity.
        entity: EntityKind,
        /// What is asked.
        lookup: Lookup,
        /// Which of a few keys.
        key: u8,
        /// Whether the NUL is in the tenant id rather than the id.
        in_tenant: bool,
    },
    /// `codes.cleanup` of the first tenant with an edge cut-off.
    Cleanup {
        /// Which cut-off.
        cut_off: usize,
    },
}

impl fmt::Display for EdgeOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EdgeOp::Write {
                entity,
                path,
                key,
                field,
                value,
            } => {
                let (name, shown) = resolve(*entity, *field, *value)
                    .map(|(n, v)| (n, short(&v)))
                    .unwrap_or(("?", "?".into()));
                write!(f, "{path:?} {entity} #{key} with `{name}` = {shown}")
            }
            EdgeOp::Lookup {
                entity,
                lookup,
                key,
                in_tenant,
            } => {
                let place = if *in_tenant { "tenant id" } else { "id" };
                write!(f, "{lookup:?} {entity} #{key} with a NUL in the {place}")
            }
            EdgeOp::Cleanup { cut_off } => {
                write!(
                    f,
                    "codes.cleanup at {}",
                    cut_offs()[cut_off % cut_offs().len()]
                )
            }
        }
    }
}

fn short(value: &Json) -> String {
    let text = value.to_string();
    if text.len() > 50 {
        format!("{}… ({} bytes)", &text[..30], text.len())
    } else {
        text
    }
}

/// The timestamps at and past the ends of the storable range.
fn edge_instants() -> Vec<Timestamp> {
    let mut all = vec![
        Timestamp::FIRST_STORABLE,
        Timestamp::LAST_STORABLE,
        Timestamp::FIRST_STORABLE.plus_millis(1),
        Timestamp::LAST_STORABLE.plus_millis(-1),
    ];
    all.extend(unstorable_instants());
    all
}

/// The cut-offs of `codes.cleanup`.
fn cut_offs() -> Vec<Timestamp> {
    let mut all = edge_instants();
    all.push(at(0));
    all.push(Timestamp::LAST_STORABLE.plus_millis(2));
    all
}

/// JSON documents at and past the depth and size limits.
fn edge_documents() -> Vec<Json> {
    vec![
        nested(MAX_JSON_DEPTH),
        nested(MAX_JSON_DEPTH + 1),
        nested(MAX_JSON_DEPTH - 1),
        nested(31),
        nested(32),
        nested(100),
        nested(129),
        sized(MAX_JSON_BYTES),
        sized(MAX_JSON_BYTES + 1),
        json!({ "k": "a\0b" }),
    ]
}

/// The record of an insert, stamped (where it leaves times out) with a
/// fixed instant: the same for the reference and every subject.
fn exact<R: Record>(insert: R::Insert) -> R {
    R::from_insert(insert, at(0)).expect("a valid fixture")
}

/// A few keys per entity (the caller's part).
const KEYS: [&str; 3] = ["edge-a", "edge-b", "edge-c"];

/// What the property test needs of an entity: a valid exact record, and
/// its calls.
trait Edge: Record {
    fn base(key: &str) -> Self;
    fn long_text(column: &str, chars: usize) -> String;
    fn create<'a>(db: &'a DataAdapters, insert: Self::Insert) -> BoxFuture<'a, Result<Self>>;
    fn upsert<'a>(db: &'a DataAdapters, tenant: &'a str, r: Self) -> BoxFuture<'a, Result<()>>;
    fn upsert_many<'a>(
        db: &'a DataAdapters,
        tenant: &'a str,
        rs: Vec<Self>,
    ) -> BoxFuture<'a, Result<()>>;
    fn update<'a>(
        db: &'a DataAdapters,
        tenant: &'a str,
        id: &'a str,
        patch: Self::Patch,
    ) -> Option<BoxFuture<'a, Result<Self>>>;
    fn get<'a>(
        db: &'a DataAdapters,
        tenant: &'a str,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Self>>>;
    fn remove<'a>(
        db: &'a DataAdapters,
        tenant: &'a str,
        id: &'a str,
    ) -> Option<BoxFuture<'a, Result<bool>>>;
    fn list<'a>(
        db: &'a DataAdapters,
        tenant: &'a str,
        params: &'a ListParams,
    ) -> BoxFuture<'a, Result<adapter_interfaces::Page<Self>>>;
}

macro_rules! edge_via_fixture {
    ($($record:ty),*) => {$(
        impl Edge for $record {
            fn base(key: &str) -> Self {
                exact(<$record as Fixture>::one(key))
            }
            fn long_text(column: &str, chars: usize) -> String {
                <$record as Fixture>::long_text(column, chars)
            }
            fn create<'a>(db: &'a DataAdapters, insert: Self::Insert) -> BoxFuture<'a, Result<Self>> {
                <$record as Fixture>::store(db).create(T1, insert)
            }
            fn upsert<'a>(db: &'a DataAdapters, tenant: &'a str, r: Self) -> BoxFuture<'a, Result<()>> {
                <$record as Fixture>::store(db).upsert(tenant, r)
            }
            fn upsert_many<'a>(db: &'a DataAdapters, tenant: &'a str, rs: Vec<Self>) -> BoxFuture<'a, Result<()>> {
                <$record as Fixture>::store(db).upsert_many(tenant, rs)
            }
            fn update<'a>(db: &'a DataAdapters, tenant: &'a str, id: &'a str, patch: Self::Patch) -> Option<BoxFuture<'a, Result<Self>>> {
                Some(<$record as Fixture>::mutable(db)?.update(tenant, id, patch))
            }
            fn get<'a>(db: &'a DataAdapters, tenant: &'a str, id: &'a str) -> BoxFuture<'a, Result<Option<Self>>> {
                <$record as Fixture>::store(db).get(tenant, id)
            }
            fn remove<'a>(db: &'a DataAdapters, tenant: &'a str, id: &'a str) -> Option<BoxFuture<'a, Result<bool>>> {
                <$record as Fixture>::remove(db, tenant, id)
            }
            fn list<'a>(db: &'a DataAdapters, tenant: &'a str, params: &'a ListParams) -> BoxFuture<'a, Result<adapter_interfaces::Page<Self>>> {
                <$record as Fixture>::store(db).list(tenant, params)
            }
        }
    )*};
}
edge_via_fixture!(User, Application, Connection, Session, Code, Password, Log);

impl Edge for Tenant {
    fn base(key: &str) -> Self {
        let insert = TenantInsert {
            id: Some(format!("t-{key}")),
            friendly_name: format!("Tenant {key}"),
            created_at: Some(at(0)),
            updated_at: Some(at(1)),
            ..Default::default()
        };
        exact(insert)
    }
    fn long_text(_column: &str, chars: usize) -> String {
        "é".repeat(chars)
    }
    fn create<'a>(db: &'a DataAdapters, insert: TenantInsert) -> BoxFuture<'a, Result<Self>> {
        db.tenants.create(insert)
    }
    fn upsert<'a>(db: &'a DataAdapters, _: &'a str, r: Self) -> BoxFuture<'a, Result<()>> {
        db.tenants.upsert(r)
    }
    fn upsert_many<'a>(
        db: &'a DataAdapters,
        _: &'a str,
        rs: Vec<Self>,
    ) -> BoxFuture<'a, Result<()>> {
        db.tenants.upsert_many(rs)
    }
    fn update<'a>(
        db: &'a DataAdapters,
        _: &'a str,
        id: &'a str,
        patch: Self::Patch,
    ) -> Option<BoxFuture<'a, Result<Self>>> {
        Some(db.tenants.update(id, patch))
    }
    fn get<'a>(
        db: &'a DataAdapters,
        _: &'a str,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Self>>> {
        db.tenants.get(id)
    }
    fn remove<'a>(
        db: &'a DataAdapters,
        _: &'a str,
        id: &'a str,
    ) -> Option<BoxFuture<'a, Result<bool>>> {
        Some(db.tenants.remove(id))
    }
    fn list<'a>(
        db: &'a DataAdapters,
        _: &'a str,
        params: &'a ListParams,
    ) -> BoxFuture<'a, Result<adapter_interfaces::Page<Self>>> {
        db.tenants.list(params)
    }
}

/// Runs `$body` with `$R` the record type of `$entity`.
macro_rules! by_entity {
    ($entity:expr, $R:ident => $body:expr) => {
        match $entity {
            EntityKind::Tenant => {
                type $R = Tenant;
                $body
            }
            EntityKind::User => {
                type $R = User;
                $body
            }
            EntityKind::Application => {
                type $R = Application;
                $body
            }
            EntityKind::Connection => {
                type $R = Connection;
                $body
            }
            EntityKind::Session => {
                type $R = Session;
                $body
            }
            EntityKind::Code => {
                type $R = Code;
                $body
            }
            EntityKind::Password => {
                type $R = Password;
                $body
            }
            EntityKind::Log => {
                type $R = Log;
                $body
            }
        }
    };
}

/// The fields of `R` that have edges, with their edge values: every
/// timestamp, every JSON document field, every text field (at its length,
/// one past, with a NUL).
fn edge_fields<R: Edge>() -> Vec<(&'static str, Vec<Json>)> {
    let base = R::base(KEYS[0]);
    let settable = |name: &str, value: &Json| with_field(&base, name, value.clone()).is_some();
    let mut out = Vec::new();
    for column in R::COLUMNS {
        let values: Vec<Json> = match column.kind {
            ColumnKind::Timestamp => edge_instants().into_iter().map(|t| json!(t)).collect(),
            ColumnKind::Json if settable(column.name, &nested(2)) => edge_documents(),
            ColumnKind::Text { max_chars } if column.name != R::key_column().name => vec![
                json!(R::long_text(column.name, max_chars)),
                json!(R::long_text(column.name, max_chars + 1)),
                json!("nul\0char"),
            ],
            _ => continue,
        };
        let values: Vec<Json> = values
            .into_iter()
            .filter(|v| settable(column.name, v))
            .collect();
        if !values.is_empty() {
            out.push((column.name, values));
        }
    }
    out
}

fn resolve(entity: EntityKind, field: usize, value: usize) -> Option<(&'static str, Json)> {
    let fields = by_entity!(entity, R => edge_fields::<R>());
    if fields.is_empty() {
        return None;
    }
    let (name, values) = &fields[field % fields.len()];
    Some((name, values[value % values.len()].clone()))
}

/// An answer, as compared: the value, or the error's variant and what it names.
fn outcome<T: serde::Serialize>(result: &Result<T>) -> String {
    match result {
        Ok(value) => serde_json::to_string(value).unwrap_or_default(),
        Err(AdapterError::InvalidInput { field, .. }) => format!("InvalidInput on `{field}`"),
        Err(AdapterError::NotFound { entity, id }) => format!("NotFound {entity} {id:?}"),
        Err(AdapterError::Conflict { entity, field }) => format!("Conflict {entity} on `{field}`"),
        Err(e) => format!("{:?} error: {e}", e.kind()),
    }
}

fn key_of<R: Edge>(key: u8) -> String {
    R::base(KEYS[usize::from(key) % KEYS.len()])
        .key()
        .to_owned()
}

/// Runs one operation; returns its answer and, for a successful update,
/// the record it stamped.
async fn run_op(db: &DataAdapters, op: &EdgeOp) -> (String, Option<(EntityKind, String)>) {
    match op {
        EdgeOp::Write {
            entity,
            path,
            key,
            field,
            value,
        } => by_entity!(*entity, R => write::<R>(db, *path, *key, *field, *value).await),
        EdgeOp::Lookup {
            entity,
            lookup,
            key,
            in_tenant,
        } => (
            by_entity!(*entity, R => lookup_nul::<R>(db, *lookup, *key, *in_tenant).await),
            None,
        ),
        EdgeOp::Cleanup { cut_off } => {
            let cut_offs = cut_offs();
            let t = cut_offs[cut_off % cut_offs.len()];
            (outcome(&db.codes.cleanup(T1, t).await), None)
        }
    }
}

async fn write<R: Edge>(
    db: &DataAdapters,
    path: Path,
    key: u8,
    field: usize,
    value: usize,
) -> (String, Option<(EntityKind, String)>) {
    let Some((name, value)) = resolve(R::KIND, field, value) else {
        return ("no edge field".into(), None);
    };
    let base = R::base(KEYS[usize::from(key) % KEYS.len()]);
    let Some(record) = with_field(&base, name, value.clone()) else {
        return ("not settable".into(), None);
    };
    match path {
        Path::Create => (outcome(&R::create(db, insert_of(&record)).await), None),
        Path::Upsert => (outcome(&R::upsert(db, T1, record).await), None),
        Path::UpsertMany => {
            let other = R::base(KEYS[(usize::from(key) + 1) % KEYS.len()]);
            (
                outcome(&R::upsert_many(db, T1, vec![other, record]).await),
                None,
            )
        }
        Path::Update => {
            let empty: R::Patch = serde_json::from_value(json!({})).expect("an empty patch");
            let Some(patch) = with_field(&empty, name, value) else {
                return ("no such patch".into(), None);
            };
            let id = base.key().to_owned();
            match R::update(db, T1, &id, patch) {
                Some(call) => {
                    let result = call.await;
                    // `updated_at` is the adapter's clock: not compared.
                    let shown = match &result {
                        Ok(_) => "updated".to_owned(),
                        Err(_) => outcome(&result),
                    };
                    let stamped = result.is_ok().then(|| (R::KIND, base.key().to_owned()));
                    (shown, stamped)
                }
                None => ("no update".into(), None),
            }
        }
    }
}

async fn lookup_nul<R: Edge>(
    db: &DataAdapters,
    lookup: Lookup,
    key: u8,
    in_tenant: bool,
) -> String {
    let key = key_of::<R>(key);
    let nul_tenant = format!("{T1}\0");
    let (tenant, id) = if in_tenant {
        (nul_tenant.as_str(), key.clone())
    } else {
        (T1, format!("{key}\0"))
    };
    // Tenants have no tenant id: the NUL goes into the id.
    let id = if R::KIND == EntityKind::Tenant && in_tenant {
        format!("\0{key}")
    } else {
        id
    };
    match lookup {
        Lookup::Get => outcome(&R::get(db, tenant, &id).await),
        Lookup::Remove => match R::remove(db, tenant, &id) {
            Some(call) => outcome(&call.await),
            None => "no remove".into(),
        },
        Lookup::Update => {
            let empty: R::Patch = serde_json::from_value(json!({})).expect("an empty patch");
            match R::update(db, tenant, &id, empty) {
                Some(call) => outcome(&call.await.map(|_| "updated")),
                None => "no update".into(),
            }
        }
        Lookup::List => outcome(&R::list(db, tenant, &ListParams::default().with_totals()).await),
        Lookup::Query => {
            let q = format!("{}:\"{id}\"", R::key_column().name);
            outcome(&R::list(db, T1, &ListParams::default().with_q(q)).await)
        }
        Lookup::Consume => outcome(&db.codes.consume(tenant, &id).await),
        Lookup::GetCurrent => {
            let user = if in_tenant {
                PARENT.to_owned()
            } else {
                format!("{PARENT}\0")
            };
            outcome(&db.passwords.get_current(tenant, &user).await)
        }
    }
}

/// The records every sequence starts from: both tenants, their parent
/// users, and one valid record of each entity in the first tenant.
async fn prelude(db: &DataAdapters) -> Result<()> {
    for t in [T1, T2] {
        let tenant: Tenant = exact(TenantInsert {
            id: Some(t.into()),
            friendly_name: format!("Tenant {t}"),
            created_at: Some(at(0)),
            updated_at: Some(at(0)),
            ..Default::default()
        });
        db.tenants.upsert(tenant).await?;
        for parent in [PARENT, PARENT2] {
            let user: User = exact(adapter_interfaces::UserInsert {
                user_id: Some(parent.into()),
                connection: "Username-Password-Authentication".into(),
                ..Default::default()
            });
            db.users.upsert(t, user).await?;
        }
    }
    db.applications
        .upsert(T1, Application::base(KEYS[0]))
        .await?;
    db.connections.upsert(T1, Connection::base(KEYS[0])).await?;
    db.sessions.upsert(T1, Session::base(KEYS[0])).await?;
    db.codes.upsert(T1, Code::base(KEYS[0])).await?;
    db.passwords.upsert(T1, Password::base(KEYS[0])).await?;
    db.logs.upsert(T1, Log::base(KEYS[0])).await?;
    db.users.upsert(T1, User::base(KEYS[0])).await?;
    Ok(())
}

/// The generator of one operation.
pub fn edge_op() -> BoxedStrategy<EdgeOp> {
    let entity = proptest::sample::select(EntityKind::ALL.to_vec());
    let path = proptest::sample::select(vec![
        Path::Create,
        Path::Upsert,
        Path::UpsertMany,
        Path::Update,
    ]);
    let lookup = proptest::sample::select(vec![
        Lookup::Get,
        Lookup::Remove,
        Lookup::Update,
        Lookup::List,
        Lookup::Query,
        Lookup::Consume,
        Lookup::GetCurrent,
    ]);
    prop_oneof![
        8 => (entity.clone(), path, 0u8..3, 0usize..64, 0usize..64).prop_map(
            |(entity, path, key, field, value)| EdgeOp::Write { entity, path, key, field, value }
        ),
        2 => (entity, lookup, 0u8..3, any::<bool>()).prop_map(|(entity, lookup, key, in_tenant)| {
            EdgeOp::Lookup { entity, lookup, key, in_tenant }
        }),
        1 => (0usize..16).prop_map(|cut_off| EdgeOp::Cleanup { cut_off }),
    ]
    .boxed()
}

/// Strips `updated_at` from the stamped records of a snapshot.
fn unstamp(snapshot: &mut super::Snapshot, stamped: &BTreeSet<(EntityKind, String)>) {
    for ((entity, _, key), record) in snapshot.iter_mut() {
        if stamped.contains(&(*entity, key.clone()))
            && let Json::Object(map) = record
        {
            map.remove("updated_at");
        }
    }
}

async fn run_sequence(
    ops: &[EdgeOp],
    instances: &[(String, Instance)],
    operations: &Cell<u64>,
) -> Vec<String> {
    let reference = case::reference();
    let mut failures = Vec::new();
    if let Err(e) = prelude(&reference).await {
        return vec![format!("the reference rejects the prelude: {e}")];
    }
    let mut broken: Vec<Option<String>> = vec![None; instances.len()];
    for (lane, (_, instance)) in instances.iter().enumerate() {
        let db = instance.store.harness();
        if let Err(e) = case::reset(db).await {
            broken[lane] = Some(format!("emptying the store: {e}"));
        } else if let Err(e) = prelude(db).await {
            broken[lane] = Some(format!("the prelude: {e}"));
        }
    }
    let mut stamped = BTreeSet::new();
    for (step, op) in ops.iter().enumerate() {
        let (want, stamp) = run_op(&reference, op).await;
        stamped.extend(stamp);
        for (lane, (_, instance)) in instances.iter().enumerate() {
            if broken[lane].is_some() {
                continue;
            }
            operations.set(operations.get() + 1);
            let (got, _) = run_op(instance.store.harness(), op).await;
            if got != want {
                broken[lane] = Some(format!(
                    "step {step}: {op}: got {}, the reference {}",
                    short(&Json::String(got)),
                    short(&Json::String(want.clone()))
                ));
            }
        }
    }
    let want = snapshot(&reference).await.map(|mut s| {
        unstamp(&mut s, &stamped);
        s
    });
    for (lane, (name, instance)) in instances.iter().enumerate() {
        let db = instance.store.harness();
        if broken[lane].is_none() {
            let got = snapshot(db).await.map(|mut s| {
                unstamp(&mut s, &stamped);
                s
            });
            broken[lane] = match (&got, &want) {
                (Ok(g), Ok(w)) => super::compare_snapshots(g, w)
                    .err()
                    .map(|d| format!("the final contents: {d}")),
                (Err(e), _) => Some(format!("reading the final contents: {e}")),
                (_, Err(e)) => Some(format!("the reference's final contents: {e}")),
            };
        }
        if let Err(e) = case::reset(db).await
            && broken[lane].is_none()
        {
            broken[lane] = Some(format!("emptying the store: {e}"));
        }
        if let Some(why) = &broken[lane] {
            failures.push(format!("{name} diverged at {why}"));
        }
    }
    failures
}

/// Runs `config.cases` sequences (of at most 12 operations) of edge writes
/// and look-ups against every subject and the reference; prints the
/// summary line and panics with the minimal failing sequence if any
/// subject diverged.
pub fn check_limits(config: &Config, subjects: Vec<Subject>) -> Report {
    let names: Vec<String> = subjects.iter().map(|s| s.name.clone()).collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a Tokio runtime");
    let instances: Vec<(String, Instance)> = runtime.block_on(async {
        let mut built = Vec::new();
        for subject in subjects {
            if let Some(instance) = (subject.factory)().await {
                // The edge operations are not filtered by capabilities (every
                // one probes a write path, `q` or an atomic batch): a subject
                // that lacks some sits this test out, and says so.
                let capabilities = crate::capabilities::generation_capabilities(&instance.store);
                if capabilities.is_complete() {
                    built.push((subject.name, instance));
                } else {
                    println!(
                        "skipped {} in the limits property test: it needs every capability, and this adapter declares {capabilities}",
                        subject.name
                    );
                }
            }
        }
        built
    });
    let mut report = Report {
        configurations: instances.len(),
        ..Report::default()
    };
    let sequences = Cell::new(0u64);
    let operations = Cell::new(0u64);
    let divergences = Cell::new(0usize);
    let mut seed = [0u8; 32];
    for (i, chunk) in seed.chunks_mut(8).enumerate() {
        chunk.copy_from_slice(&config.seed.rotate_left(i as u32 * 16 + 7).to_le_bytes());
    }
    let mut runner = TestRunner::new_with_rng(
        ProptestConfig {
            cases: config.cases,
            failure_persistence: None,
            max_shrink_iters: config.max_shrink_iters,
            max_shrink_time: 300_000,
            ..ProptestConfig::default()
        },
        TestRng::from_seed(RngAlgorithm::ChaCha, &seed),
    );
    let max_ops = config.max_ops.clamp(1, 12);
    let result = runner.run(&vec(edge_op(), 1..=max_ops), |ops| {
        sequences.set(sequences.get() + 1);
        let failures = runtime.block_on(run_sequence(&ops, &instances, &operations));
        if failures.is_empty() {
            Ok(())
        } else {
            divergences.set(failures.len());
            Err(TestCaseError::fail(failures.join("\n")))
        }
    });
    report.sequences = sequences.get();
    report.operations = operations.get();
    match result {
        Ok(()) => {}
        Err(TestError::Fail(reason, ops)) => {
            report.divergences = divergences.get();
            let lines: Vec<String> = ops.iter().map(|op| format!("  {op}")).collect();
            report.failure = Some(format!(
                "{reason}\nminimal sequence ({} operations, seed {SEED_VAR}={}):\n{}",
                ops.len(),
                config.seed,
                lines.join("\n")
            ));
        }
        Err(TestError::Abort(reason)) => report.failure = Some(format!("aborted: {reason}")),
    }
    runtime.block_on(async move { drop(instances) });
    println!("limits {report} [{}]", names.join(", "));
    if let Some(failure) = &report.failure {
        panic!("the limits property test found a divergence:\n{failure}\n{report}");
    }
    report
}
