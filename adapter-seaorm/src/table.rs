//! The adapters: one generic implementation over [`Mapped`] records, plus
//! what is special to tenants, codes and passwords.

use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::Arc;

use adapter_interfaces::bulk::{self as batch_sql, OnKey};
use adapter_interfaces::record::{self, Value};
use adapter_interfaces::retry;
use adapter_interfaces::schema::conflict_field;
use adapter_interfaces::{
    AdapterError, Code, CodesAdapter, ConnectOptions, EntityKind, EntityStore, ListParams,
    ListPlan, Log, LogsAdapter, MutableStore, Page, Password, PasswordsAdapter, Record, Result,
    Tenant, TenantInsert, TenantPatch, TenantsAdapter, Timestamp, User,
};
use async_trait::async_trait;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection,
    DatabaseTransaction, DbBackend, DbErr, EntityTrait, Order, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, RuntimeErr, SqlErr, SqliteTransactionMode, TransactionOptions,
    TransactionTrait,
};

use crate::mapping::{
    Col, Mapped, col, condition, key_condition, keyset_bound, order, record_cols, scoped,
    tenant_condition, to_active, to_record,
};
use crate::value::to_db;

/// Bind parameters one statement may carry.
fn bind_limit(backend: DbBackend) -> usize {
    match backend {
        DbBackend::Postgres | DbBackend::MySql => 65_535,
        _ => 32_766,
    }
}

/// Rows per multi-row statement: under the bind limit, and at most this many.
const MAX_BATCH_ROWS: usize = 1000;

/// An error of a statement in a transaction already open (never a pool
/// timeout); see [`Table::failed`] for calls on the pool.
fn backend_error(doing: impl Into<String>, err: DbErr) -> AdapterError {
    AdapterError::backend(doing, err)
}

/// A failure inside a write transaction: either final, or a database error
/// to be explained (which parent is missing, which key is taken) once the
/// transaction is rolled back.
enum Failure {
    Final(AdapterError),
    Db(DbErr),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Final(e) => e.fmt(f),
            Failure::Db(e) => e.fmt(f),
        }
    }
}

/// MySQL's deadlock victim and lock wait timeout.
const ER_LOCK_DEADLOCK: u16 = 1213;
const ER_LOCK_WAIT_TIMEOUT: u16 = 1205;
/// SQLite's busy and locked primary result codes.
const SQLITE_BUSY: i64 = 5;
const SQLITE_LOCKED: i64 = 6;

/// Whether the database aborted the transaction for concurrency's sake (a
/// deadlock victim, a serialization failure, a lock wait that timed out, a
/// busy SQLite database), so that it may run again.
fn is_transient(err: &DbErr, backend: DbBackend) -> bool {
    let (DbErr::Exec(RuntimeErr::SqlxError(e))
    | DbErr::Query(RuntimeErr::SqlxError(e))
    | DbErr::Conn(RuntimeErr::SqlxError(e))) = err
    else {
        return false;
    };
    let Some(db) = e.as_database_error() else {
        return false;
    };
    let code = db.code().unwrap_or_default();
    match backend {
        DbBackend::Postgres => code == "40001" || code == "40P01",
        // 1205 has no SQLSTATE of its own (HY000): look at the error number.
        DbBackend::MySql => {
            mysql_number(db).is_some_and(|n| matches!(n, ER_LOCK_DEADLOCK | ER_LOCK_WAIT_TIMEOUT))
        }
        // The extended result code, whose low byte is the primary one.
        _ => code
            .parse::<i64>()
            .is_ok_and(|c| matches!(c & 0xff, SQLITE_BUSY | SQLITE_LOCKED)),
    }
}

#[cfg(feature = "mysql")]
fn mysql_number(db: &dyn sea_orm::sqlx::error::DatabaseError) -> Option<u16> {
    db.try_downcast_ref::<sea_orm::sqlx::mysql::MySqlDatabaseError>()
        .map(|e| e.number())
}

#[cfg(not(feature = "mysql"))]
fn mysql_number(_: &dyn sea_orm::sqlx::error::DatabaseError) -> Option<u16> {
    None
}

/// Whether a failed write may run again: the database aborted it
/// ([`is_transient`]).
fn is_retryable(failure: &Failure, backend: DbBackend) -> bool {
    let Failure::Db(err) = failure else {
        return false;
    };
    is_transient(err, backend)
}

/// Whether MySQL's upsert guard ([`batch_sql::insert_values`]) failed the
/// statement: a record took a stored record's unique key other than the
/// primary key, a conflict to explain like a unique violation.
fn is_clash_guard(err: &DbErr) -> bool {
    let (DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e))) = err
    else {
        return false;
    };
    e.as_database_error().is_some_and(|db| {
        db.code().as_deref() == Some(batch_sql::MYSQL_CLASH_GUARD_SQLSTATE)
            && batch_sql::is_mysql_clash_guard(db.message())
    })
}

impl From<AdapterError> for Failure {
    fn from(e: AdapterError) -> Self {
        Failure::Final(e)
    }
}

impl From<DbErr> for Failure {
    fn from(e: DbErr) -> Self {
        Failure::Db(e)
    }
}

/// The adapter of one entity over a shared connection.
pub(crate) struct Table<R> {
    db: Arc<DatabaseConnection>,
    /// The store's options: the connect timeout of the fresh connection
    /// that explains a pool timeout.
    options: ConnectOptions,
    _record: PhantomData<fn() -> R>,
}

impl<R> Table<R> {
    pub(crate) fn new(db: &Arc<DatabaseConnection>, options: &ConnectOptions) -> Self {
        Self {
            db: Arc::clone(db),
            options: *options,
            _record: PhantomData,
        }
    }

    /// The error of a call on the pool (see [`crate::pool::failed`]).
    async fn failed(&self, doing: impl Into<String>, err: DbErr) -> AdapterError {
        crate::pool::failed(&self.db, &self.options, doing, err).await
    }
}

/// How a batch is written.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Plain inserts: a taken key is a conflict.
    Insert,
    /// Insert or update by primary key, never delete.
    Upsert,
}

impl<R: Mapped> Table<R> {
    fn backend(&self) -> DbBackend {
        self.db.get_database_backend()
    }

    fn table() -> &'static str {
        R::KIND.table()
    }

    /// Starts a write transaction; on SQLite an IMMEDIATE one, so that a
    /// read followed by a write cannot fail with SQLITE_BUSY halfway.
    async fn begin(&self) -> Result<DatabaseTransaction> {
        let mut options = TransactionOptions::default();
        if self.backend() == DbBackend::Sqlite {
            options.sqlite_transaction_mode = Some(SqliteTransactionMode::Immediate);
        }
        match self.db.begin_with_options(options).await {
            Ok(txn) => Ok(txn),
            Err(e) => Err(self
                .failed(format!("starting a transaction on {}", Self::table()), e)
                .await),
        }
    }

    /// Commits on success; otherwise rolls back and explains a database
    /// error in terms of the records involved.
    async fn finish<T>(
        &self,
        txn: DatabaseTransaction,
        tenant: Option<&str>,
        records: &[R],
        mode: Mode,
        outcome: std::result::Result<T, Failure>,
    ) -> Result<T> {
        match outcome {
            Ok(value) => {
                txn.commit().await.map_err(|e| {
                    backend_error(format!("committing a write to {}", Self::table()), e)
                })?;
                Ok(value)
            }
            Err(failure) => {
                // Roll back before diagnosing: PostgreSQL rejects every
                // statement of a failed transaction, and an in-memory SQLite
                // store has a single connection.
                let _ = txn.rollback().await;
                match failure {
                    Failure::Final(e) => Err(e),
                    Failure::Db(e) => Err(self.explain(tenant, records, mode, e).await),
                }
            }
        }
    }

    /// Explains a failed write of `records`, in the reference's order: the
    /// tenant, then the first record (in order) whose parent is missing or
    /// whose key is taken.
    async fn explain(
        &self,
        tenant: Option<&str>,
        records: &[R],
        mode: Mode,
        err: DbErr,
    ) -> AdapterError {
        if err.sql_err().is_none() && !is_clash_guard(&err) {
            return backend_error(format!("writing {}", Self::table()), err);
        }
        if let [record] = records {
            return self
                .diagnose(self.db.as_ref(), tenant, record, mode, err)
                .await;
        }
        // A batch failed: replay it one record at a time, each under a
        // savepoint, to find and explain the record that fails first (as
        // sequential upserts would), then roll everything back.
        let txn = match self.begin().await {
            Ok(txn) => txn,
            Err(e) => return e,
        };
        let mut explained = None;
        for (i, record) in records.iter().enumerate() {
            let savepoint = match txn.begin().await {
                Ok(savepoint) => savepoint,
                Err(e) => {
                    explained = Some(backend_error("replaying a failed batch", e));
                    break;
                }
            };
            let one = std::slice::from_ref(record);
            match self
                .write_in(&savepoint, tenant, one, mode, &records[i + 1..])
                .await
            {
                Ok(()) => {
                    if let Err(e) = savepoint.commit().await {
                        explained = Some(backend_error("replaying a failed batch", e));
                        break;
                    }
                }
                Err(failure) => {
                    let _ = savepoint.rollback().await;
                    explained = Some(match failure {
                        Failure::Final(e) => e,
                        Failure::Db(e) => self.diagnose(&txn, tenant, record, mode, e).await,
                    });
                    break;
                }
            }
        }
        let _ = txn.rollback().await;
        // Without a failing record, a concurrent writer interfered: report the batch's error.
        explained.unwrap_or_else(|| backend_error(format!("writing {}", Self::table()), err))
    }

    /// Explains a constraint violation of one record's write, checking in
    /// the reference's order rather than trusting which constraint the
    /// database happened to test first.
    async fn diagnose<C: ConnectionTrait>(
        &self,
        conn: &C,
        tenant: Option<&str>,
        record: &R,
        mode: Mode,
        err: DbErr,
    ) -> AdapterError {
        let violation = err.sql_err();
        if violation.is_none() && !is_clash_guard(&err) {
            return backend_error(format!("writing {}", Self::table()), err);
        }
        match find_cause(conn, tenant, record, mode).await {
            Ok(Some(cause)) => cause,
            Ok(None) => match violation {
                Some(SqlErr::UniqueConstraintViolation(message)) => {
                    AdapterError::conflict(R::KIND, conflict_field::<R>(&message))
                }
                _ => backend_error(format!("writing {}", Self::table()), err),
            },
            Err(e) => e,
        }
    }

    /// Writes `records` in `txn`: multi-row statements in batches, then the
    /// passwords' demotions. `later` are the records a replay writes after
    /// these (a demotion leaves them alone, as sequential writes would).
    async fn write_in(
        &self,
        txn: &impl ConnectionTrait,
        tenant: Option<&str>,
        records: &[R],
        mode: Mode,
        later: &[R],
    ) -> std::result::Result<(), Failure> {
        let backend = self.backend();
        // The last write of a key wins, as with sequential upserts; one
        // statement must not touch a row twice.
        let mut last: HashMap<&str, usize> = HashMap::with_capacity(records.len());
        for (i, record) in records.iter().enumerate() {
            last.insert(record.key(), i);
        }
        let unique: Vec<&R> = records
            .iter()
            .enumerate()
            .filter(|(i, r)| last[r.key()] == *i)
            .map(|(_, r)| r)
            .collect();
        // Distinct keys: their order does not change the outcome, and one order
        // (the key's) for every writer means row locks are taken in one order.
        let mut unique = unique;
        unique.sort_unstable_by(|a, b| a.key().cmp(b.key()));
        if R::KIND == EntityKind::Password && backend != DbBackend::Sqlite {
            lock_users_of_current_passwords(txn, tenant, records).await?;
        }
        let width = R::COLUMNS.len() + usize::from(tenant.is_some());
        let rows = (bind_limit(backend) / width).clamp(1, MAX_BATCH_ROWS);
        let on_key = match mode {
            Mode::Insert => OnKey::Fail,
            Mode::Upsert => OnKey::Update,
        };
        for batch in unique.chunks(rows) {
            match (mode, backend) {
                (_, DbBackend::Postgres) => {
                    // One statement, one parameter: the shared bulk insert.
                    let statement =
                        batch_sql::insert_rows::<R>(tenant.unwrap_or(""), batch, on_key);
                    crate::bulk::execute(txn, statement).await?;
                }
                (_, DbBackend::MySql) => {
                    // The shared guarded `INSERT … ON DUPLICATE KEY UPDATE`, split
                    // within the bind limit and the packet budget.
                    for part in batch_sql::mysql_batches(batch) {
                        let statement = batch_sql::insert_values::<R>(
                            crate::bulk::dialect(backend),
                            tenant.unwrap_or(""),
                            part,
                            on_key,
                        );
                        crate::bulk::execute(txn, statement).await?;
                    }
                }
                (Mode::Insert, _) => {
                    let models = batch
                        .iter()
                        .map(|r| to_active(backend, tenant, *r))
                        .collect::<Result<Vec<_>>>()?;
                    R::Entity::insert_many(models)
                        .exec_without_returning(txn)
                        .await?;
                }
                (Mode::Upsert, _) => {
                    let models = batch
                        .iter()
                        .map(|r| to_active(backend, tenant, *r))
                        .collect::<Result<Vec<_>>>()?;
                    let key_cols = key_cols::<R>()?;
                    let others = crate::mapping::record_cols::<R>()?
                        .into_iter()
                        .skip(1)
                        .map(|(_, c)| c)
                        .collect::<Vec<_>>();
                    let on_conflict = OnConflict::columns(key_cols)
                        .update_columns(others)
                        .to_owned();
                    R::Entity::insert_many(models)
                        .on_conflict(on_conflict)
                        .exec_without_returning(txn)
                        .await?;
                }
            }
        }
        if R::KIND == EntityKind::Password {
            let all: Vec<&R> = records.iter().collect();
            match batch_sql::current_passwords(&all).filter(|_| later.is_empty()) {
                // At most one current password per user: one statement demotes them all.
                Some(current) => {
                    let (tenant, dialect) = (tenant.unwrap_or(""), crate::bulk::dialect(backend));
                    for part in current.chunks(batch_sql::DEMOTIONS_PER_STATEMENT) {
                        if let Some(statement) = batch_sql::demote_passwords(dialect, tenant, part)
                        {
                            crate::bulk::execute(txn, statement).await?;
                        }
                    }
                }
                None => self.demote_passwords(txn, tenant, records, later).await?,
            }
        }
        Ok(())
    }

    /// A current password demotes the user's other current passwords, which
    /// take its `updated_at`; applied in the order of the writes.
    async fn demote_passwords(
        &self,
        txn: &impl ConnectionTrait,
        tenant: Option<&str>,
        records: &[R],
        later: &[R],
    ) -> std::result::Result<(), Failure> {
        let backend = self.backend();
        let text = |r: &R, name: &str| record::column_value(r, name).as_text().map(str::to_owned);
        for (i, record) in records.iter().enumerate() {
            if record::column_value(record, "is_current") != Value::Bool(true) {
                continue;
            }
            let user_id = text(record, "user_id");
            // Records written after this one replace whatever it does to them.
            let after: Vec<&str> = records[i + 1..]
                .iter()
                .chain(later)
                .filter(|r| text(r, "user_id") == user_id)
                .map(|r| r.key())
                .collect();
            let updated_at = record::column_value(record, "updated_at");
            let updated_meta = R::column("updated_at").ok_or_else(|| AdapterError::Backend {
                message: "passwords have no updated_at".into(),
                source: None,
            })?;
            let key_col = col::<R>(R::key_column().name)?;
            let mut filter = tenant_condition::<R>(tenant)?
                .add(col::<R>("user_id")?.eq(user_id))
                .add(key_col.ne(record.key()))
                .add(col::<R>("is_current")?.eq(true));
            if !after.is_empty() {
                filter = filter.add(key_col.is_not_in(after));
            }
            R::Entity::update_many()
                .col_expr(col::<R>("is_current")?, Expr::val(false))
                .col_expr(
                    col::<R>("updated_at")?,
                    Expr::val(to_db(backend, updated_meta, updated_at)),
                )
                .filter(filter)
                .exec(txn)
                .await?;
        }
        Ok(())
    }

    /// Writes `records` in one transaction, run again (with backoff,
    /// [`retry::transient`]) when the database aborted it for concurrency's
    /// sake; explains a final failure.
    async fn write(&self, tenant: Option<&str>, records: Vec<R>, mode: Mode) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        if let Some(tenant) = tenant.filter(|t| record::unstorable_text(t)) {
            return Err(AdapterError::not_found(EntityKind::Tenant, tenant));
        }
        let records = &records;
        let outcome = self
            .retried(|| async move {
                let txn = self.begin().await?;
                let outcome = self.write_in(&txn, tenant, records, mode, &[]).await;
                Ok((txn, outcome))
            })
            .await;
        self.explained(tenant, records, mode, outcome).await
    }

    /// The error of a write that failed for good: explained in terms of
    /// `records` when the database rejected it.
    async fn explained<T>(
        &self,
        tenant: Option<&str>,
        records: &[R],
        mode: Mode,
        outcome: std::result::Result<T, Failure>,
    ) -> Result<T> {
        match outcome {
            Ok(value) => Ok(value),
            Err(Failure::Final(e)) => Err(e),
            Err(Failure::Db(e)) => Err(self.explain(tenant, records, mode, e).await),
        }
    }

    /// Runs `attempt` (which opens a transaction and does its work in it),
    /// then commits; runs it all again when the database aborted it for
    /// concurrency's sake, with [`retry::transient`]'s backoff; rolls back a
    /// failure.
    async fn retried<T, F, Fut>(&self, mut attempt: F) -> std::result::Result<T, Failure>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<
                Output = Result<(DatabaseTransaction, std::result::Result<T, Failure>)>,
            >,
    {
        let backend = self.backend();
        retry::transient(
            Self::table(),
            || {
                let attempt = attempt();
                async move {
                    let (txn, outcome) = attempt.await?;
                    match outcome {
                        Ok(value) => {
                            txn.commit().await?;
                            Ok(value)
                        }
                        Err(failure) => {
                            // Roll back before diagnosing: PostgreSQL rejects every
                            // statement of a failed transaction, and an in-memory
                            // SQLite store has a single connection.
                            let _ = txn.rollback().await;
                            Err(failure)
                        }
                    }
                }
            },
            |failure| is_retryable(failure, backend),
        )
        .await
    }

    pub(crate) async fn create_record(&self, tenant: Option<&str>, insert: R::Insert) -> Result<R> {
        let record = R::from_insert(insert, Timestamp::now())?;
        let records = vec![record];
        self.write(tenant, records.clone(), Mode::Insert).await?;
        records
            .into_iter()
            .next()
            .ok_or_else(|| AdapterError::Backend {
                message: "lost the created record".into(),
                source: None,
            })
    }

    pub(crate) async fn get_record(&self, tenant: Option<&str>, key: &str) -> Result<Option<R>> {
        if unstorable(tenant, key) {
            return Ok(None);
        }
        let cols = record_cols::<R>()?;
        let model = match R::Entity::find()
            .filter(key_condition::<R>(tenant, key)?)
            .one(self.db.as_ref())
            .await
        {
            Ok(model) => model,
            Err(e) => return Err(self.failed(format!("reading {}", Self::table()), e).await),
        };
        model.map(|m| to_record::<R>(&cols, &m)).transpose()
    }

    pub(crate) async fn list_records(
        &self,
        tenant: Option<&str>,
        params: &ListParams,
    ) -> Result<Page<R>> {
        let plan = ListPlan::new::<R>(params)?;
        if unstorable(tenant, "") {
            return Ok(plan.finish(Vec::new(), Some(0)));
        }
        let backend = self.backend();
        let cols = record_cols::<R>()?;
        let scope = tenant_condition::<R>(tenant)?;
        let mut page_condition = scope.clone();
        if let Some(filter) = plan.page_filter() {
            page_condition = page_condition.add(condition::<R>(&filter, backend)?);
        }
        if let Some(bound) = plan.keyset.as_ref().and_then(keyset_bound) {
            page_condition = page_condition.add(condition::<R>(&bound, backend)?);
        }
        let mut select = R::Entity::find().filter(page_condition).limit(plan.limit);
        if plan.offset > 0 {
            select = select.offset(plan.offset);
        }
        let select = order::<R>(select, &plan.order, backend)?;
        let models = match select.all(self.db.as_ref()).await {
            Ok(models) => models,
            Err(e) => return Err(self.failed(format!("listing {}", Self::table()), e).await),
        };
        let rows = models
            .iter()
            .map(|m| to_record::<R>(&cols, m))
            .collect::<Result<Vec<R>>>()?;
        let total = if plan.include_totals {
            let mut count_condition = scope;
            if let Some(filter) = &plan.filter {
                count_condition = count_condition.add(condition::<R>(filter, backend)?);
            }
            match R::Entity::find()
                .filter(count_condition)
                .count(self.db.as_ref())
                .await
            {
                Ok(count) => Some(count),
                Err(e) => return Err(self.failed(format!("counting {}", Self::table()), e).await),
            }
        } else {
            None
        };
        Ok(plan.finish(rows, total))
    }

    pub(crate) async fn upsert_records(&self, tenant: Option<&str>, records: Vec<R>) -> Result<()> {
        let records = records
            .into_iter()
            .map(|mut r| {
                r.normalize();
                record::validate(&r)?;
                Ok(r)
            })
            .collect::<Result<Vec<R>>>()?;
        self.write(tenant, records, Mode::Upsert).await
    }

    pub(crate) async fn update_record(
        &self,
        tenant: Option<&str>,
        key: &str,
        patch: &R::Patch,
    ) -> Result<R> {
        if unstorable(tenant, key) {
            return Err(AdapterError::not_found(R::KIND, key));
        }
        let backend = self.backend();
        let cols = record_cols::<R>()?;
        // The record the last attempt tried to write, to explain its failure.
        let attempted: std::sync::Mutex<Option<R>> = std::sync::Mutex::new(None);
        let outcome = self
            .retried(|| async {
                let txn = self.begin().await?;
                let outcome: std::result::Result<R, Failure> = async {
                    let mut find = R::Entity::find().filter(key_condition::<R>(tenant, key)?);
                    if backend != DbBackend::Sqlite {
                        find = find.lock_exclusive();
                    }
                    let Some(model) = find.one(&txn).await? else {
                        return Err(AdapterError::not_found(R::KIND, key).into());
                    };
                    let existing = to_record::<R>(&cols, &model)?;
                    let updated = record::apply_patch(&existing, patch, Timestamp::now())?;
                    *attempted.lock().unwrap_or_else(|p| p.into_inner()) = Some(updated.clone());
                    let mut active = to_active(backend, tenant, &updated)?;
                    for c in key_cols::<R>()? {
                        active.not_set(c);
                    }
                    R::Entity::update_many()
                        .set(active)
                        .filter(key_condition::<R>(tenant, key)?)
                        .exec(&txn)
                        .await?;
                    Ok(updated)
                }
                .await;
                Ok((txn, outcome))
            })
            .await;
        let attempted: Vec<R> = attempted
            .into_inner()
            .unwrap_or_else(|p| p.into_inner())
            .into_iter()
            .collect();
        self.explained(tenant, &attempted, Mode::Upsert, outcome)
            .await
    }

    pub(crate) async fn remove_record(&self, tenant: Option<&str>, key: &str) -> Result<bool> {
        if unstorable(tenant, key) {
            return Ok(false);
        }
        // A removal cascades to the user's children, and can be a deadlock victim
        // of writers adding to them.
        let condition = key_condition::<R>(tenant, key)?;
        let backend = self.backend();
        let result = match retry::transient(
            Self::table(),
            || {
                R::Entity::delete_many()
                    .filter(condition.clone())
                    .exec(self.db.as_ref())
            },
            |e| is_transient(e, backend),
        )
        .await
        {
            Ok(result) => result,
            Err(e) => {
                return Err(self
                    .failed(format!("deleting from {}", Self::table()), e)
                    .await);
            }
        };
        Ok(result.rows_affected > 0)
    }
}

/// Locks the users whose current password a write changes, so that
/// concurrent rotations of one user's password run one after the other
/// (otherwise neither sees the other's new row and both stay current on
/// PostgreSQL, or they deadlock on MySQL's gap locks). SQLite's IMMEDIATE
/// transactions already serialize writers. PostgreSQL locks `FOR NO KEY
/// UPDATE`: it queues rotations as `FOR UPDATE` does, without blocking the
/// `FOR KEY SHARE` that another transaction's foreign-key check takes on
/// the same users (two batches of passwords sharing users deadlocked so).
async fn lock_users_of_current_passwords<R: Record>(
    txn: &impl ConnectionTrait,
    tenant: Option<&str>,
    records: &[R],
) -> std::result::Result<(), Failure> {
    let mut user_ids: Vec<String> = records
        .iter()
        .filter(|r| record::column_value(*r, "is_current") == Value::Bool(true))
        .filter_map(|r| {
            record::column_value(r, "user_id")
                .as_text()
                .map(str::to_owned)
        })
        .collect();
    // One lock order for everyone.
    user_ids.sort();
    user_ids.dedup();
    let user_col = col::<User>("user_id")?;
    for chunk in user_ids.chunks(MAX_BATCH_ROWS) {
        let _locked: Vec<String> = <User as Mapped>::Entity::find()
            .select_only()
            .column(user_col)
            .filter(tenant_condition::<User>(tenant)?.add(user_col.is_in(chunk.iter().cloned())))
            .order_by(user_col, Order::Asc)
            .lock(match txn.get_database_backend() {
                DbBackend::Postgres => sea_orm::sea_query::LockType::NoKeyUpdate,
                _ => sea_orm::sea_query::LockType::Update,
            })
            .into_tuple()
            .all(txn)
            .await?;
    }
    Ok(())
}

/// Whether no stored record has this tenant and key (one of them holds a
/// NUL): a look-up finds nothing, and PostgreSQL could not bind it.
fn unstorable(tenant: Option<&str>, key: &str) -> bool {
    tenant.is_some_and(record::unstorable_text) || record::unstorable_text(key)
}

/// Whether a row of `R` matches `condition`.
async fn exists<R: Mapped, C: ConnectionTrait>(conn: &C, condition: Condition) -> Result<bool> {
    let count = R::Entity::find()
        .filter(condition)
        .count(conn)
        .await
        .map_err(|e| backend_error(format!("reading {}", R::KIND.table()), e))?;
    Ok(count > 0)
}

/// The reference's verdict on writing `record`: missing tenant, missing
/// parent, taken key (the primary key for inserts), taken unique key.
async fn find_cause<R: Mapped, C: ConnectionTrait>(
    conn: &C,
    tenant: Option<&str>,
    record: &R,
    mode: Mode,
) -> Result<Option<AdapterError>> {
    if let Some(tenant) = tenant
        && !exists::<Tenant, C>(conn, key_condition::<Tenant>(None, tenant)?).await?
    {
        return Ok(Some(AdapterError::not_found(EntityKind::Tenant, tenant)));
    }
    if let Some(parent) = R::PARENT
        && parent.parent == EntityKind::User
        && let Value::Text(parent_id) = record::column_value(record, parent.column)
        && !exists::<User, C>(conn, key_condition::<User>(tenant, &parent_id)?).await?
    {
        return Ok(Some(AdapterError::not_found(parent.parent, parent_id)));
    }
    let key_col = col::<R>(R::key_column().name)?;
    if mode == Mode::Insert
        && exists::<R, C>(conn, key_condition::<R>(tenant, record.key())?).await?
    {
        return Ok(Some(AdapterError::conflict(R::KIND, R::key_column().name)));
    }
    let backend = conn.get_database_backend();
    'keys: for unique in R::UNIQUE {
        let mut same = tenant_condition::<R>(tenant)?.add(key_col.ne(record.key()));
        for name in unique.columns {
            let value = record::column_value(record, name);
            let Some(meta) = R::column(name) else {
                continue 'keys;
            };
            if value.is_null() {
                continue 'keys;
            }
            same = same.add(col::<R>(name)?.eq(to_db(backend, meta, value)));
        }
        if exists::<R, C>(conn, same).await? {
            return Ok(Some(AdapterError::conflict(R::KIND, unique.field)));
        }
    }
    Ok(None)
}

/// The primary-key columns: `tenant_id` (when scoped) and the key.
fn key_cols<R: Mapped>() -> Result<Vec<Col<R>>> {
    let mut cols = Vec::with_capacity(2);
    if scoped::<R>() {
        cols.push(col::<R>("tenant_id")?);
    }
    cols.push(col::<R>(R::key_column().name)?);
    Ok(cols)
}

#[async_trait]
impl<R: Mapped> EntityStore<R> for Table<R> {
    async fn create(&self, tenant_id: &str, insert: R::Insert) -> Result<R> {
        self.create_record(Some(tenant_id), insert).await
    }

    async fn get(&self, tenant_id: &str, id: &str) -> Result<Option<R>> {
        self.get_record(Some(tenant_id), id).await
    }

    async fn list(&self, tenant_id: &str, params: &ListParams) -> Result<Page<R>> {
        self.list_records(Some(tenant_id), params).await
    }

    async fn upsert(&self, tenant_id: &str, record: R) -> Result<()> {
        self.upsert_records(Some(tenant_id), vec![record]).await
    }

    async fn upsert_many(&self, tenant_id: &str, records: Vec<R>) -> Result<()> {
        self.upsert_records(Some(tenant_id), records).await
    }
}

#[async_trait]
impl<R: Mapped> MutableStore<R> for Table<R> {
    async fn update(&self, tenant_id: &str, id: &str, patch: R::Patch) -> Result<R> {
        self.update_record(Some(tenant_id), id, &patch).await
    }

    async fn remove(&self, tenant_id: &str, id: &str) -> Result<bool> {
        self.remove_record(Some(tenant_id), id).await
    }
}

#[async_trait]
impl TenantsAdapter for Table<Tenant> {
    async fn create(&self, tenant: TenantInsert) -> Result<Tenant> {
        self.create_record(None, tenant).await
    }

    async fn get(&self, id: &str) -> Result<Option<Tenant>> {
        self.get_record(None, id).await
    }

    async fn list(&self, params: &ListParams) -> Result<Page<Tenant>> {
        self.list_records(None, params).await
    }

    async fn update(&self, id: &str, patch: TenantPatch) -> Result<Tenant> {
        self.update_record(None, id, &patch).await
    }

    async fn remove(&self, id: &str) -> Result<bool> {
        self.remove_record(None, id).await
    }

    async fn upsert(&self, tenant: Tenant) -> Result<()> {
        self.upsert_records(None, vec![tenant]).await
    }

    async fn upsert_many(&self, tenants: Vec<Tenant>) -> Result<()> {
        self.upsert_records(None, tenants).await
    }
}

#[async_trait]
impl LogsAdapter for Table<Log> {
    async fn remove(&self, tenant_id: &str, log_id: &str) -> Result<bool> {
        self.remove_record(Some(tenant_id), log_id).await
    }
}

#[async_trait]
impl CodesAdapter for Table<Code> {
    async fn remove(&self, tenant_id: &str, code_id: &str) -> Result<bool> {
        self.remove_record(Some(tenant_id), code_id).await
    }

    async fn consume(&self, tenant_id: &str, code_id: &str) -> Result<Option<Code>> {
        if unstorable(Some(tenant_id), code_id) {
            return Ok(None);
        }
        let backend = self.backend();
        let now = Timestamp::now();
        let cols = record_cols::<Code>()?;
        let now_value = |name: &str| {
            let meta = Code::column(name).ok_or_else(|| AdapterError::Backend {
                message: format!("codes have no {name}"),
                source: None,
            })?;
            Ok::<_, AdapterError>(to_db(backend, meta, Value::Timestamp(now)))
        };
        let txn = self.begin().await?;
        let outcome: std::result::Result<Option<Code>, Failure> = async {
            // One conditional statement: of concurrent consumers exactly one changes the row.
            let used = <Code as Mapped>::Entity::update_many()
                .col_expr(col::<Code>("used_at")?, Expr::val(now_value("used_at")?))
                .filter(
                    key_condition::<Code>(Some(tenant_id), code_id)?
                        .add(col::<Code>("used_at")?.is_null())
                        .add(col::<Code>("expires_at")?.gt(now_value("expires_at")?)),
                )
                .exec(&txn)
                .await?;
            if used.rows_affected != 1 {
                return Ok(None);
            }
            let model = <Code as Mapped>::Entity::find()
                .filter(key_condition::<Code>(Some(tenant_id), code_id)?)
                .one(&txn)
                .await?;
            Ok(model.map(|m| to_record::<Code>(&cols, &m)).transpose()?)
        }
        .await;
        self.finish(txn, Some(tenant_id), &[], Mode::Upsert, outcome)
            .await
    }

    async fn cleanup(&self, tenant_id: &str, older_than: Timestamp) -> Result<u64> {
        // Only storable instants are bound: databases reject the others.
        let Some(bound) = older_than.last_storable_before() else {
            return Ok(0);
        };
        if unstorable(Some(tenant_id), "") {
            return Ok(0);
        }
        let backend = self.backend();
        let meta = Code::column("expires_at").ok_or_else(|| AdapterError::Backend {
            message: "codes have no expires_at".into(),
            source: None,
        })?;
        let result =
            match <Code as Mapped>::Entity::delete_many()
                .filter(tenant_condition::<Code>(Some(tenant_id))?.add(
                    col::<Code>("expires_at")?.lte(to_db(backend, meta, Value::Timestamp(bound))),
                ))
                .exec(self.db.as_ref())
                .await
            {
                Ok(result) => result,
                Err(e) => return Err(self.failed("deleting expired codes", e).await),
            };
        Ok(result.rows_affected)
    }
}

#[async_trait]
impl PasswordsAdapter for Table<Password> {
    async fn get_current(&self, tenant_id: &str, user_id: &str) -> Result<Option<Password>> {
        if unstorable(Some(tenant_id), user_id) {
            return Ok(None);
        }
        let cols = record_cols::<Password>()?;
        let model = <Password as Mapped>::Entity::find()
            .filter(
                tenant_condition::<Password>(Some(tenant_id))?
                    .add(col::<Password>("user_id")?.eq(user_id))
                    .add(col::<Password>("is_current")?.eq(true)),
            )
            .order_by(col::<Password>("created_at")?, Order::Desc)
            .order_by(col::<Password>("id")?, Order::Desc)
            .one(self.db.as_ref())
            .await;
        let model = match model {
            Ok(model) => model,
            Err(e) => return Err(self.failed("reading passwords", e).await),
        };
        model.map(|m| to_record::<Password>(&cols, &m)).transpose()
    }

    async fn remove(&self, tenant_id: &str, id: &str) -> Result<bool> {
        self.remove_record(Some(tenant_id), id).await
    }
}
