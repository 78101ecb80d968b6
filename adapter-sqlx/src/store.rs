//! The generic store: every trait of `adapter-interfaces`, implemented once
//! over any [`Backend`] and any [`Record`].

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use adapter_interfaces::bulk::{self, OnKey};
use adapter_interfaces::error::BoxError;
use adapter_interfaces::record::{self, Column, ColumnKind, Record, Value};
use adapter_interfaces::retry;
use adapter_interfaces::schema::{self, Dialect, is_tenant_scoped};
use adapter_interfaces::{
    AdapterError, Application, Code, CodesAdapter, ConnectOptions, Connection, EntityKind,
    EntityStore, ListParams, ListPlan, Log, LogsAdapter, MutableStore, Page, Password,
    PasswordsAdapter, Result, Session, Tenant, TenantInsert, TenantPatch, TenantsAdapter,
    Timestamp, User, async_trait,
};
use sqlx::error::ErrorKind as DbErrorKind;
use sqlx::{Pool, QueryBuilder};

use crate::backend::Backend;
use crate::sql::Sql;

/// Per-entity behaviour on top of the generic writes.
pub(crate) trait Entity: Record {
    /// For a password that is current: its user, id and `updated_at`, so that the
    /// user's other passwords are demoted in the same transaction.
    fn current_password(&self) -> Option<(&str, &str, Timestamp)> {
        None
    }
}

/// Entities with `update` and `remove` ([`MutableStore`]).
pub(crate) trait Mutable: Entity {}

impl Entity for Tenant {}
impl Entity for User {}
impl Entity for Application {}
impl Entity for Connection {}
impl Entity for Session {}
impl Entity for Code {}
impl Entity for Log {}
impl Entity for Password {
    fn current_password(&self) -> Option<(&str, &str, Timestamp)> {
        self.is_current
            .then_some((self.user_id.as_str(), self.id.as_str(), self.updated_at))
    }
}
impl Mutable for User {}
impl Mutable for Application {}
impl Mutable for Connection {}
impl Mutable for Session {}

/// How a write treats an existing key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// A taken key is a conflict.
    Create,
    /// A taken key is overwritten in place.
    Upsert,
}

/// Whether a failed write may run again: the database aborted it for
/// concurrency's sake ([`Backend::is_transient`]).
fn is_retryable<DB: Backend>(error: &sqlx::Error) -> bool {
    DB::is_transient(error)
}

/// A database error of one attempt of a write, with the record it tried to
/// write (to explain a constraint violation once the retries are over).
struct Failed<R> {
    error: sqlx::Error,
    attempted: Option<R>,
}

impl<R> std::fmt::Display for Failed<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

const COUNT: Column = Column::int("count").nullable();

/// Unique-key values looked up per statement when naming a conflict (at most
/// two columns each: well under every database's bind limit).
const CLASH_PROBES_PER_STATEMENT: usize = 400;

/// A pool and its dialect; implements every adapter trait.
pub(crate) struct Db<DB: Backend> {
    pub(crate) pool: Pool<DB>,
    pub(crate) sql: Sql,
    /// The options it was opened with: the connect timeout of the fresh
    /// connection that explains a pool timeout ([`Db::failed`]).
    options: ConnectOptions,
    /// Rows written per table since the store opened, and the count at which
    /// PostgreSQL's statistics are refreshed next.
    written: Mutex<HashMap<EntityKind, (u64, u64)>>,
}

/// Rows written to a table before its statistics are first refreshed; the
/// threshold doubles after each refresh.
const ANALYZE_AFTER: u64 = 10_000;

/// An error of a statement on a connection already taken (never a pool
/// timeout); see [`Db::failed`] for calls that take one from the pool.
fn backend_error(what: &str, error: impl Into<BoxError>) -> AdapterError {
    AdapterError::backend(what, error)
}

impl<DB: Backend> Db<DB> {
    pub(crate) fn new(pool: Pool<DB>, dialect: Dialect, options: &ConnectOptions) -> Self {
        Self {
            pool,
            sql: Sql { dialect },
            options: *options,
            written: Mutex::new(HashMap::new()),
        }
    }

    /// The error of a call that takes a connection from the pool: the one
    /// place where a pool timeout, which says nothing of its cause, is
    /// explained by a fresh connection ([`crate::pool_timeout`]): the
    /// database's reason, or that the pool was busy.
    pub(crate) async fn failed(&self, what: &str, error: sqlx::Error) -> AdapterError {
        match error {
            sqlx::Error::PoolTimedOut => AdapterError::PoolTimeout {
                doing: what.to_owned(),
                diagnosis: Box::new(crate::pool_timeout(&self.pool, &self.options).await),
            },
            error => backend_error(what, error),
        }
    }

    /// Counts rows written; on PostgreSQL, refreshes the table's statistics when
    /// it has grown a lot. Right after a bulk load the planner believes the
    /// table tiny and sorts every keyset page instead of reading the index in
    /// order, which makes a full scan quadratic (autovacuum catches up only
    /// later).
    async fn wrote<R: Record>(&self, rows: usize) {
        if self.sql.dialect != Dialect::Postgres {
            return;
        }
        let due = {
            let mut written = self.written.lock().unwrap_or_else(|p| p.into_inner());
            let entry = written.entry(R::KIND).or_insert((0, ANALYZE_AFTER));
            entry.0 += rows as u64;
            if entry.0 >= entry.1 {
                entry.1 = entry.0.saturating_mul(2);
                true
            } else {
                false
            }
        };
        if due {
            let mut qb = QueryBuilder::new(format!("ANALYZE {}", self.sql.q(R::KIND.table())));
            let outcome = match self.pool.acquire().await {
                Ok(mut conn) => DB::execute(&mut conn, &mut qb).await.map(drop),
                Err(e) => Err(e),
            };
            match outcome {
                Ok(()) => tracing::debug!(table = R::KIND.table(), "refreshed planner statistics"),
                // Only an optimisation (and it needs table ownership): the write stands.
                Err(e) => tracing::debug!(table = R::KIND.table(), error = %e, "ANALYZE failed"),
            }
        }
    }

    async fn acquire(&self) -> Result<sqlx::pool::PoolConnection<DB>> {
        match self.pool.acquire().await {
            Ok(conn) => Ok(conn),
            Err(e) => Err(self.failed("acquiring a connection", e).await),
        }
    }

    async fn begin(&self) -> Result<sqlx::Transaction<'static, DB>> {
        match DB::begin_write(&self.pool).await {
            Ok(tx) => Ok(tx),
            Err(e) => Err(self.failed("starting a transaction", e).await),
        }
    }

    /// Runs a query and rebuilds the records from its rows.
    async fn fetch<R: Record>(
        conn: &mut DB::Connection,
        qb: &mut QueryBuilder<DB>,
    ) -> Result<Vec<R>> {
        let rows = DB::fetch_all(conn, qb)
            .await
            .map_err(|e| backend_error(&format!("reading {}", R::KIND.table()), e))?;
        rows.iter().map(row_to_record::<DB, R>).collect()
    }

    /// Runs a query whose one row holds one integer (a count, a maximum).
    pub(crate) async fn scalar(&self, mut qb: QueryBuilder<DB>, what: &str) -> Result<Option<i64>> {
        let mut conn = self.acquire().await?;
        let rows = DB::fetch_all(&mut conn, &mut qb)
            .await
            .map_err(|e| backend_error(what, e))?;
        match rows.first() {
            Some(row) => {
                match DB::read_value(row, 0, &COUNT).map_err(|e| backend_error(what, e))? {
                    Value::Int(n) => Ok(Some(n)),
                    _ => Ok(None),
                }
            }
            None => Ok(None),
        }
    }

    async fn tenant_exists(&self, tenant: &str) -> Result<bool> {
        let qb = self.sql.tenant_exists::<DB>(tenant);
        let mut conn = self.acquire().await?;
        let mut qb = qb;
        let rows = DB::fetch_all(&mut conn, &mut qb)
            .await
            .map_err(|e| backend_error("looking the tenant up", e))?;
        Ok(!rows.is_empty())
    }

    pub(crate) async fn get<R: Record>(&self, tenant: &str, key: &str) -> Result<Option<R>> {
        if record::unstorable_text(tenant) || record::unstorable_text(key) {
            return Ok(None);
        }
        let mut qb = self.sql.select_key::<DB, R>(tenant, key, false);
        let mut conn = self.acquire().await?;
        Ok(Self::fetch::<R>(&mut conn, &mut qb).await?.pop())
    }

    pub(crate) async fn list<R: Record>(
        &self,
        tenant: &str,
        params: &ListParams,
    ) -> Result<Page<R>> {
        let plan = ListPlan::new::<R>(params)?;
        if record::unstorable_text(tenant) {
            return Ok(plan.finish(Vec::new(), Some(0)));
        }
        let mut qb = self.sql.list::<DB, R>(tenant, &plan);
        let rows = {
            let mut conn = self.acquire().await?;
            Self::fetch::<R>(&mut conn, &mut qb).await?
        };
        let total = if plan.include_totals {
            let qb = self.sql.count::<DB, R>(tenant, plan.filter.as_ref());
            let count = self.scalar(qb, "counting records").await?.unwrap_or(0);
            Some(u64::try_from(count).unwrap_or(0))
        } else {
            None
        };
        Ok(plan.finish(rows, total))
    }

    pub(crate) async fn create<R: Entity>(&self, tenant: &str, insert: R::Insert) -> Result<R> {
        let record = R::from_insert(insert, Timestamp::now())?;
        self.write(tenant, std::slice::from_ref(&record), Mode::Create)
            .await?;
        Ok(record)
    }

    pub(crate) async fn upsert_many<R: Entity>(
        &self,
        tenant: &str,
        mut records: Vec<R>,
    ) -> Result<()> {
        for record in &mut records {
            record.normalize();
            record::validate(record)?;
        }
        if records.is_empty() {
            return Ok(());
        }
        self.write(tenant, &records, Mode::Upsert).await
    }

    /// Writes validated records in one transaction, run again (with
    /// backoff, [`retry::transient`]) when the database aborted it for
    /// concurrency's sake; maps a failure to the error the reference reports.
    async fn write<R: Entity>(&self, tenant: &str, records: &[R], mode: Mode) -> Result<()> {
        if is_tenant_scoped(R::KIND) && record::unstorable_text(tenant) {
            return Err(AdapterError::not_found(EntityKind::Tenant, tenant));
        }
        let outcome = retry::transient(
            R::KIND.table(),
            || async {
                let mut tx = DB::begin_write(&self.pool).await?;
                match self.write_in(&mut tx, tenant, records, mode).await {
                    Ok(()) => tx.commit().await,
                    Err(e) => {
                        // Best effort: the connection is discarded if the rollback fails.
                        let _ = tx.rollback().await;
                        Err(e)
                    }
                }
            },
            |e| is_retryable::<DB>(e),
        )
        .await;
        match outcome {
            Ok(()) => {
                self.wrote::<R>(records.len()).await;
                Ok(())
            }
            Err(e) => Err(self.diagnose(tenant, records, mode, e).await),
        }
    }

    async fn write_in<R: Entity>(
        &self,
        conn: &mut DB::Connection,
        tenant: &str,
        records: &[R],
        mode: Mode,
    ) -> std::result::Result<(), sqlx::Error> {
        // An upsert of the same key twice in one call: the last one wins, as if
        // written one at a time.
        let mut seen = HashSet::new();
        let mut unique: Vec<&R> = records
            .iter()
            .rev()
            .filter(|r| seen.insert(r.key()))
            .collect();
        unique.reverse();
        let mut users = HashSet::new();
        let sequential = unique.len() != records.len()
            || records
                .iter()
                .filter_map(|r| r.current_password())
                .any(|(user, _, _)| !users.insert(user));
        if sequential && records.iter().any(|r| r.current_password().is_some()) {
            // Several current passwords of one user in one batch: each demotes the
            // ones before it, so apply them in order.
            self.lock_users(conn, tenant, records).await?;
            for record in records {
                self.write_rows(conn, tenant, &[record], mode).await?;
                self.demote(conn, tenant, &[record]).await?;
            }
            return Ok(());
        }
        // Distinct keys: their order does not change the outcome, and one order
        // (the key's) for every writer means row locks are taken in one order.
        unique.sort_unstable_by(|a, b| a.key().cmp(b.key()));
        self.lock_users(conn, tenant, records).await?;
        self.write_rows(conn, tenant, &unique, mode).await?;
        self.demote(conn, tenant, &unique).await
    }

    async fn write_rows<R: Entity>(
        &self,
        conn: &mut DB::Connection,
        tenant: &str,
        records: &[&R],
        mode: Mode,
    ) -> std::result::Result<(), sqlx::Error> {
        let on_key = if mode == Mode::Upsert {
            OnKey::Update
        } else {
            OnKey::Fail
        };
        match self.sql.dialect {
            Dialect::Postgres => {
                for batch in Sql::batches::<DB, R>(records) {
                    let mut qb =
                        crate::bulk::query::<DB>(bulk::insert_rows::<R>(tenant, batch, on_key));
                    DB::execute(conn, &mut qb).await?;
                }
            }
            Dialect::MariaDb | Dialect::MySql => {
                // One guarded `INSERT … ON DUPLICATE KEY UPDATE` per batch, shared
                // with SeaORM and Diesel: a row that would take another record's
                // unique key fails the statement (see `diagnose`).
                for batch in bulk::mysql_batches(records) {
                    let statement =
                        bulk::insert_values::<R>(self.sql.dialect, tenant, batch, on_key);
                    let mut qb = crate::bulk::query::<DB>(statement);
                    DB::execute(conn, &mut qb).await?;
                }
            }
            Dialect::Sqlite => {
                for batch in Sql::batches::<DB, R>(records) {
                    let mut qb = self
                        .sql
                        .insert::<DB, R>(tenant, batch, mode == Mode::Upsert);
                    DB::execute(conn, &mut qb).await?;
                }
            }
        }
        Ok(())
    }

    /// Locks the users whose current password `records` replace, so that
    /// concurrent rotations of one user queue up instead of deadlocking on
    /// the index gaps their inserts and demotions touch.
    async fn lock_users<R: Entity>(
        &self,
        conn: &mut DB::Connection,
        tenant: &str,
        records: &[R],
    ) -> std::result::Result<(), sqlx::Error> {
        if !DB::FOR_UPDATE {
            return Ok(()); // SQLite: the transaction already holds the write lock.
        }
        let mut users: Vec<&str> = records
            .iter()
            .filter_map(|r| r.current_password())
            .map(|(user, _, _)| user)
            .collect();
        users.sort_unstable();
        users.dedup();
        for part in users.chunks(1000) {
            let mut qb =
                self.sql
                    .select_existing::<DB, User>(tenant, User::key_column(), part, true);
            DB::fetch_all(conn, &mut qb).await?;
        }
        Ok(())
    }

    /// Makes the users' other passwords not current (at most one current
    /// record per user in `records`).
    async fn demote<R: Entity>(
        &self,
        conn: &mut DB::Connection,
        tenant: &str,
        records: &[&R],
    ) -> std::result::Result<(), sqlx::Error> {
        let current: Vec<(String, String, Timestamp)> = records
            .iter()
            .filter_map(|r| r.current_password())
            .map(|(user, id, at)| (user.to_owned(), id.to_owned(), at))
            .collect();
        for part in current.chunks(bulk::DEMOTIONS_PER_STATEMENT) {
            if let Some(statement) = bulk::demote_passwords(self.sql.dialect, tenant, part) {
                let mut qb = crate::bulk::query::<DB>(statement);
                DB::execute(conn, &mut qb).await?;
            }
        }
        Ok(())
    }

    /// The error the reference reports for a failed write: a missing tenant,
    /// then a missing parent, then the unique key, else the driver's error.
    async fn diagnose<R: Record>(
        &self,
        tenant: &str,
        records: &[R],
        mode: Mode,
        error: sqlx::Error,
    ) -> AdapterError {
        let (kind, message) = match error.as_database_error() {
            // MySQL's upsert guard ([`bulk::insert_values`]): a record took a
            // stored record's unique key other than the primary key.
            Some(db)
                if matches!(self.sql.dialect, Dialect::MariaDb | Dialect::MySql)
                    && db.code().as_deref() == Some(bulk::MYSQL_CLASH_GUARD_SQLSTATE) =>
            {
                (Some(DbErrorKind::UniqueViolation), db.message().to_owned())
            }
            Some(db) => (Some(db.kind()), db.message().to_owned()),
            None => (None, String::new()),
        };
        let constraint = matches!(
            kind,
            Some(DbErrorKind::UniqueViolation | DbErrorKind::ForeignKeyViolation)
        );
        if !constraint {
            // The transaction may not have begun: a pool timeout.
            return self
                .failed(&format!("writing {}", R::KIND.table()), error)
                .await;
        }
        if is_tenant_scoped(R::KIND) {
            match self.tenant_exists(tenant).await {
                Ok(false) => return AdapterError::not_found(EntityKind::Tenant, tenant),
                Err(e) => return e,
                Ok(true) => {}
            }
        }
        if let Some(parent) = R::PARENT
            && parent.parent == EntityKind::User
        {
            match self
                .missing_parent::<R>(tenant, parent.column, records)
                .await
            {
                Ok(Some(id)) => return AdapterError::not_found(EntityKind::User, id),
                Err(e) => return e,
                Ok(None) => {}
            }
        }
        if kind == Some(DbErrorKind::UniqueViolation) {
            // Several keys may clash at once and databases report different ones:
            // name the first in the reference's order (the key, then R::UNIQUE).
            let field = match self.first_clash(tenant, records, mode).await {
                Ok(Some(field)) => field,
                Ok(None) => schema::conflict_field::<R>(&message),
                Err(e) => return e,
            };
            return AdapterError::conflict(R::KIND, field);
        }
        backend_error(&format!("writing {}", R::KIND.table()), error)
    }

    /// The first unique key that `records`, written in order, would take
    /// from a stored record or from an earlier one of them: the stored
    /// records holding any of their keys are read (a few statements per
    /// thousand records), then [`record::first_clash`] decides.
    async fn first_clash<R: Record>(
        &self,
        tenant: &str,
        records: &[R],
        mode: Mode,
    ) -> Result<Option<&'static str>> {
        let with_primary = mode == Mode::Create;
        let probes = record::clash_probes(records, with_primary);
        let mut stored = Vec::new();
        let mut conn = self.acquire().await?;
        for part in probes.chunks(CLASH_PROBES_PER_STATEMENT) {
            let mut qb = self.sql.holders::<DB, R>(tenant, part);
            stored.extend(Self::fetch::<R>(&mut conn, &mut qb).await?);
        }
        Ok(record::first_clash(records, with_primary, &stored))
    }

    /// The first parent (user) id referenced by `records` that does not exist.
    async fn missing_parent<R: Record>(
        &self,
        tenant: &str,
        column: &str,
        records: &[R],
    ) -> Result<Option<String>> {
        let ids: Vec<String> = records
            .iter()
            .filter_map(|r| match record::column_value(r, column) {
                Value::Text(id) => Some(id),
                _ => None,
            })
            .collect();
        let mut found = HashSet::new();
        let mut conn = self.acquire().await?;
        let mut distinct: Vec<&str> = ids.iter().map(String::as_str).collect();
        distinct.sort_unstable();
        distinct.dedup();
        for part in distinct.chunks(1000) {
            let mut qb =
                self.sql
                    .select_existing::<DB, User>(tenant, User::key_column(), part, false);
            let rows = DB::fetch_all(&mut conn, &mut qb)
                .await
                .map_err(|e| backend_error("looking users up", e))?;
            for row in &rows {
                if let Ok(Value::Text(id)) = DB::read_value(row, 0, User::key_column()) {
                    found.insert(id);
                }
            }
        }
        Ok(ids.into_iter().find(|id| !found.contains(id)))
    }

    pub(crate) async fn update<R: Entity>(
        &self,
        tenant: &str,
        key: &str,
        patch: &R::Patch,
    ) -> Result<R> {
        if record::unstorable_text(tenant) || record::unstorable_text(key) {
            return Err(AdapterError::not_found(R::KIND, key));
        }
        let outcome = retry::transient(
            R::KIND.table(),
            || self.update_once::<R>(tenant, key, patch),
            |failed| is_retryable::<DB>(&failed.error),
        )
        .await;
        match outcome {
            Ok(result) => result,
            Err(Failed {
                error,
                attempted: Some(updated),
            }) => Err(self
                .diagnose(tenant, std::slice::from_ref(&updated), Mode::Upsert, error)
                .await),
            Err(Failed { error, .. }) => Err(self
                .failed(&format!("updating {}", R::KIND.table()), error)
                .await),
        }
    }

    /// One attempt of [`Db::update`]: the outer error is the database's (to
    /// retry or explain), the inner one final (not found, a bad patch).
    async fn update_once<R: Entity>(
        &self,
        tenant: &str,
        key: &str,
        patch: &R::Patch,
    ) -> std::result::Result<Result<R>, Failed<R>> {
        let failed = |error, attempted| Failed { error, attempted };
        let mut tx = DB::begin_write(&self.pool)
            .await
            .map_err(|e| failed(e, None))?;
        let mut qb = self.sql.select_key::<DB, R>(tenant, key, true);
        let existing = match DB::fetch_all(&mut tx, &mut qb).await {
            Ok(rows) => rows.first().map(row_to_record::<DB, R>),
            Err(e) => {
                let _ = tx.rollback().await;
                return Err(failed(e, None));
            }
        };
        let updated = match existing.map(|existing| {
            existing.and_then(|existing| record::apply_patch(&existing, patch, Timestamp::now()))
        }) {
            Some(Ok(updated)) => updated,
            Some(Err(e)) => {
                let _ = tx.rollback().await;
                return Ok(Err(e));
            }
            None => {
                let _ = tx.rollback().await;
                return Ok(Err(AdapterError::not_found(R::KIND, key)));
            }
        };
        let mut qb = self.sql.update::<DB, R>(tenant, &updated);
        let outcome = match DB::execute(&mut tx, &mut qb).await {
            Ok(_) => tx.commit().await,
            Err(e) => {
                let _ = tx.rollback().await;
                Err(e)
            }
        };
        match outcome {
            Ok(()) => Ok(Ok(updated)),
            Err(e) => Err(failed(e, Some(updated))),
        }
    }

    pub(crate) async fn remove<R: Record>(&self, tenant: &str, key: &str) -> Result<bool> {
        if record::unstorable_text(tenant) || record::unstorable_text(key) {
            return Ok(false);
        }
        // A removal cascades to the user's children, and can be a deadlock victim
        // of writers adding to them.
        let deleted = match retry::transient(
            R::KIND.table(),
            || async {
                let mut qb = self.sql.delete_key::<DB, R>(tenant, key);
                let mut conn = self.pool.acquire().await?;
                DB::execute(&mut conn, &mut qb).await
            },
            DB::is_transient,
        )
        .await
        {
            Ok(deleted) => deleted,
            Err(e) => {
                return Err(self
                    .failed(&format!("deleting from {}", R::KIND.table()), e)
                    .await);
            }
        };
        Ok(deleted > 0)
    }

    async fn consume(&self, tenant: &str, code_id: &str) -> Result<Option<Code>> {
        if record::unstorable_text(tenant) || record::unstorable_text(code_id) {
            return Ok(None);
        }
        let now = Timestamp::now();
        let mut tx = self.begin().await?;
        let mut qb = self.sql.consume::<DB>(tenant, code_id, now);
        let outcome = async {
            let changed = DB::execute(&mut tx, &mut qb).await?;
            if changed == 0 {
                return Ok(None);
            }
            let mut qb = self.sql.select_key::<DB, Code>(tenant, code_id, false);
            let rows = DB::fetch_all(&mut tx, &mut qb).await?;
            Ok::<_, sqlx::Error>(rows.first().map(row_to_record::<DB, Code>))
        }
        .await;
        match outcome {
            Ok(code) => {
                tx.commit()
                    .await
                    .map_err(|e| backend_error("consuming a code", e))?;
                code.transpose()
            }
            Err(e) => {
                let _ = tx.rollback().await;
                Err(backend_error("consuming a code", e))
            }
        }
    }

    async fn cleanup(&self, tenant: &str, older_than: Timestamp) -> Result<u64> {
        // Only storable instants are bound (MySQL's driver panics on others).
        let Some(bound) = older_than.last_storable_before() else {
            return Ok(0);
        };
        if record::unstorable_text(tenant) {
            return Ok(0);
        }
        let mut qb = self.sql.cleanup::<DB>(tenant, bound);
        let mut conn = self.acquire().await?;
        DB::execute(&mut conn, &mut qb)
            .await
            .map_err(|e| backend_error("deleting expired codes", e))
    }

    async fn current_password(&self, tenant: &str, user_id: &str) -> Result<Option<Password>> {
        if record::unstorable_text(tenant) || record::unstorable_text(user_id) {
            return Ok(None);
        }
        let mut qb = self.sql.current_password::<DB>(tenant, user_id);
        let mut conn = self.acquire().await?;
        Ok(Self::fetch::<Password>(&mut conn, &mut qb).await?.pop())
    }
}

fn row_to_record<DB: Backend, R: Record>(row: &DB::Row) -> Result<R> {
    let values = R::COLUMNS
        .iter()
        .enumerate()
        .map(|(i, column)| {
            DB::read_value(row, i, column).map_err(|e| {
                backend_error(
                    &format!("reading column {}.{}", R::KIND.table(), column.name),
                    e,
                )
            })
        })
        .collect::<Result<Vec<_>>>()?;
    record::from_values(values)
}

impl Sql {
    /// Marks an unused, unexpired code used.
    pub(crate) fn consume<DB: Backend>(
        self,
        tenant: &str,
        code_id: &str,
        now: Timestamp,
    ) -> QueryBuilder<DB> {
        let text = ColumnKind::Text { max_chars: 0 };
        let q = |i: &str| self.q(i);
        let mut qb = QueryBuilder::new(format!("UPDATE {} SET {} = ", q("codes"), q("used_at")));
        DB::push_value(&mut qb, ColumnKind::Timestamp, &Value::Timestamp(now));
        qb.push(format!(" WHERE {} = ", q(crate::sql::TENANT_ID)));
        DB::push_value(&mut qb, text, &Value::Text(tenant.to_owned()));
        qb.push(format!(" AND {} = ", q("code_id")));
        DB::push_value(&mut qb, text, &Value::Text(code_id.to_owned()));
        qb.push(format!(
            " AND {} IS NULL AND {} > ",
            q("used_at"),
            q("expires_at")
        ));
        DB::push_value(&mut qb, ColumnKind::Timestamp, &Value::Timestamp(now));
        qb
    }

    /// Deletes the tenant's codes that expired at or before `bound` (a
    /// storable instant: see [`Timestamp::last_storable_before`]).
    pub(crate) fn cleanup<DB: Backend>(self, tenant: &str, bound: Timestamp) -> QueryBuilder<DB> {
        let q = |i: &str| self.q(i);
        let mut qb = QueryBuilder::new(format!(
            "DELETE FROM {} WHERE {} = ",
            q("codes"),
            q(crate::sql::TENANT_ID)
        ));
        DB::push_value(
            &mut qb,
            ColumnKind::Text { max_chars: 0 },
            &Value::Text(tenant.to_owned()),
        );
        qb.push(format!(" AND {} <= ", q("expires_at")));
        DB::push_value(&mut qb, ColumnKind::Timestamp, &Value::Timestamp(bound));
        qb
    }

    /// The user's current password.
    pub(crate) fn current_password<DB: Backend>(
        self,
        tenant: &str,
        user_id: &str,
    ) -> QueryBuilder<DB> {
        let mut qb = self.select::<DB, Password>(tenant);
        qb.push(format!(" AND {} = ", self.q("user_id")));
        DB::push_value(
            &mut qb,
            ColumnKind::Text { max_chars: 0 },
            &Value::Text(user_id.to_owned()),
        );
        qb.push(format!(" AND {} = ", self.q("is_current")));
        DB::push_value(&mut qb, ColumnKind::Bool, &Value::Bool(true));
        // Several current ones cannot arise through this API; pick as the reference does.
        qb.push(format!(
            " ORDER BY {} DESC, {} DESC LIMIT 1",
            self.q("created_at"),
            self.q("id")
        ));
        qb
    }
}

#[async_trait]
impl<DB: Backend> TenantsAdapter for Db<DB> {
    async fn create(&self, tenant: TenantInsert) -> Result<Tenant> {
        Db::create::<Tenant>(self, "", tenant).await
    }
    async fn get(&self, id: &str) -> Result<Option<Tenant>> {
        Db::get::<Tenant>(self, "", id).await
    }
    async fn list(&self, params: &ListParams) -> Result<Page<Tenant>> {
        Db::list::<Tenant>(self, "", params).await
    }
    async fn update(&self, id: &str, patch: TenantPatch) -> Result<Tenant> {
        Db::update::<Tenant>(self, "", id, &patch).await
    }
    async fn remove(&self, id: &str) -> Result<bool> {
        Db::remove::<Tenant>(self, "", id).await
    }
    async fn upsert(&self, tenant: Tenant) -> Result<()> {
        Db::upsert_many(self, "", vec![tenant]).await
    }
    async fn upsert_many(&self, tenants: Vec<Tenant>) -> Result<()> {
        Db::upsert_many(self, "", tenants).await
    }
}

#[async_trait]
impl<DB: Backend, R: Entity> EntityStore<R> for Db<DB> {
    async fn create(&self, tenant_id: &str, insert: R::Insert) -> Result<R> {
        Db::create::<R>(self, tenant_id, insert).await
    }
    async fn get(&self, tenant_id: &str, id: &str) -> Result<Option<R>> {
        Db::get::<R>(self, tenant_id, id).await
    }
    async fn list(&self, tenant_id: &str, params: &ListParams) -> Result<Page<R>> {
        Db::list::<R>(self, tenant_id, params).await
    }
    async fn upsert(&self, tenant_id: &str, record: R) -> Result<()> {
        Db::upsert_many(self, tenant_id, vec![record]).await
    }
    async fn upsert_many(&self, tenant_id: &str, records: Vec<R>) -> Result<()> {
        Db::upsert_many(self, tenant_id, records).await
    }
}

#[async_trait]
impl<DB: Backend, R: Mutable> MutableStore<R> for Db<DB> {
    async fn update(&self, tenant_id: &str, id: &str, patch: R::Patch) -> Result<R> {
        Db::update::<R>(self, tenant_id, id, &patch).await
    }
    async fn remove(&self, tenant_id: &str, id: &str) -> Result<bool> {
        Db::remove::<R>(self, tenant_id, id).await
    }
}

#[async_trait]
impl<DB: Backend> CodesAdapter for Db<DB> {
    async fn remove(&self, tenant_id: &str, code_id: &str) -> Result<bool> {
        Db::remove::<Code>(self, tenant_id, code_id).await
    }
    async fn consume(&self, tenant_id: &str, code_id: &str) -> Result<Option<Code>> {
        Db::consume(self, tenant_id, code_id).await
    }
    async fn cleanup(&self, tenant_id: &str, older_than: Timestamp) -> Result<u64> {
        Db::cleanup(self, tenant_id, older_than).await
    }
}

#[async_trait]
impl<DB: Backend> LogsAdapter for Db<DB> {
    async fn remove(&self, tenant_id: &str, log_id: &str) -> Result<bool> {
        Db::remove::<Log>(self, tenant_id, log_id).await
    }
}

#[async_trait]
impl<DB: Backend> PasswordsAdapter for Db<DB> {
    async fn get_current(&self, tenant_id: &str, user_id: &str) -> Result<Option<Password>> {
        Db::current_password(self, tenant_id, user_id).await
    }
    async fn remove(&self, tenant_id: &str, id: &str) -> Result<bool> {
        Db::remove::<Password>(self, tenant_id, id).await
    }
}
