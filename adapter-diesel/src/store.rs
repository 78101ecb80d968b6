//! [`DieselStore`]: the handle, and the eight traits implemented once,
//! generically over the entity.

use std::collections::HashSet;
use std::sync::Arc;

use adapter_interfaces::bulk::{self as batch_sql, OnKey};
use adapter_interfaces::record::{self, column_value, from_values, to_values};
use adapter_interfaces::retry;
use adapter_interfaces::schema::{self, Dialect, conflict_field};
use adapter_interfaces::{
    AdapterError, Code, CodesAdapter, ConnectOptions, DataAdapters, EntityKind, EntityStore,
    ListParams, ListPlan, Log, LogsAdapter, MutableStore, Page, Password, PasswordsAdapter,
    PoolTimeout, Record, Result, SortOrder, Tenant, TenantInsert, TenantPatch, TenantsAdapter,
    Timestamp, User, Value,
};
use async_trait::async_trait;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

use crate::conn::{AnyPool, Conn};
use crate::expr::{Cond, Order};
use crate::tables::{DieselRecord, cleanup_codes, consume_code, demote_passwords};

/// Rows per multi-row statement: under every database's bind-parameter
/// limit (SQLite's 32766 is the smallest) for the widest table, and small
/// enough to keep statements of large JSON documents reasonable.
const MAX_BATCH_ROWS: usize = 500;
const MAX_BIND_PARAMS: usize = 32_766;
/// Unique-key values looked up per statement when naming a conflict (at most
/// two columns each: well under every database's bind limit).
const CLASH_PROBES_PER_STATEMENT: usize = 400;

/// A Switchyard store on Diesel: a connection pool of one database, and the
/// entity adapters over it ([`DieselStore::adapters`]).
///
/// Cloning is cheap and shares the pool.
#[derive(Clone)]
pub struct DieselStore {
    inner: Arc<Inner>,
}

struct Inner {
    pool: AnyPool,
    /// How long a call waits for a pooled connection, and (with the
    /// connect timeout) how a timeout is explained ([`DieselStore::conn`]).
    options: ConnectOptions,
    /// The URL the pool was opened with, to open the fresh connection that
    /// explains a timeout; `None` for a pool the application built.
    url: Option<String>,
    /// SQLite runs one write transaction at a time: serialising them here
    /// avoids lock upgrades between pooled connections failing with `SQLITE_BUSY`.
    writes: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for DieselStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DieselStore")
            .field("dialect", &self.dialect())
            .finish_non_exhaustive()
    }
}

/// Wraps a driver error with what was being done.
fn backend(what: &'static str) -> impl FnOnce(DieselError) -> AdapterError {
    move |e| AdapterError::backend(what, e)
}

const FOREIGN_KEY: &str = "foreign key violation";

/// Maps the error of a write of `R`: a unique violation is a conflict on the
/// field its constraint names; a foreign-key violation is resolved by the
/// caller (which parent is missing is looked up, not guessed).
fn write_error<R: Record>(what: &'static str) -> impl FnOnce(DieselError) -> AdapterError {
    move |e| match &e {
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
            let text = format!(
                "{} {}",
                info.message(),
                info.constraint_name().unwrap_or("")
            );
            AdapterError::conflict(R::KIND, conflict_field::<R>(&text))
        }
        DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _) => {
            AdapterError::backend(FOREIGN_KEY, e)
        }
        // MySQL's upsert guard (`bulk::insert_values`): a record took a stored
        // record's unique key other than the primary key; which one is looked
        // up (`resolve_write_error`), this names a secondary key to ask for it.
        DieselError::DatabaseError(_, info) if batch_sql::is_mysql_clash_guard(info.message()) => {
            let field = R::UNIQUE.first().map_or(R::key_column().name, |u| u.field);
            AdapterError::conflict(R::KIND, field)
        }
        _ => AdapterError::backend(what, e),
    }
}

fn is_foreign_key_error(error: &AdapterError) -> bool {
    matches!(error, AdapterError::Backend { message, .. } if message == FOREIGN_KEY)
}

/// Runs `$body` (an expression of type `Result<T>` using `$conn`) in a transaction.
macro_rules! transaction {
    ($conn:ident, $body:expr) => {{
        $conn.begin().await.map_err(backend("beginning a transaction"))?;
        let outcome: Result<_> = async { $body }.await;
        match outcome {
            Ok(value) => {
                $conn.commit().await.map_err(backend("committing a transaction"))?;
                Ok(value)
            }
            Err(error) => {
                if let Err(rollback) = $conn.rollback().await {
                    tracing::warn!(error = %rollback, "rollback failed");
                }
                Err(error)
            }
        }
    }};
}

/// Whether the database aborted a write for concurrency's sake, so that it
/// may run again: a serialization failure, a deadlock victim or a lock wait
/// that timed out, a busy SQLite database. diesel-async keeps only the
/// message of a MySQL error (not its number), so MySQL's 1213 and 1205 are
/// known by the advice both end with.
fn is_transient(error: &AdapterError) -> bool {
    let AdapterError::Backend {
        source: Some(source),
        ..
    } = error
    else {
        return false;
    };
    let Some(DieselError::DatabaseError(kind, info)) = source.downcast_ref::<DieselError>() else {
        return false;
    };
    let message = info.message();
    matches!(kind, DatabaseErrorKind::SerializationFailure)
        || message.ends_with("try restarting transaction") // MySQL 1213, 1205
        || message.starts_with("deadlock detected") // PostgreSQL 40P01
        || message.starts_with("database is locked") // SQLITE_BUSY
        || message.starts_with("database table is locked") // SQLITE_LOCKED
}

fn text_of<R: Record>(record: &R, column: &str) -> Option<String> {
    match column_value(record, column) {
        Value::Text(s) => Some(s),
        _ => None,
    }
}

fn scoped<R: Record>() -> bool {
    schema::is_tenant_scoped(R::KIND)
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl DieselStore {
    pub(crate) fn new(pool: AnyPool, options: &ConnectOptions, url: Option<&str>) -> Self {
        Self {
            inner: Arc::new(Inner {
                pool,
                options: *options,
                url: url.map(str::to_owned),
                writes: tokio::sync::Mutex::new(()),
            }),
        }
    }

    /// The pool this store uses.
    pub fn pool(&self) -> &AnyPool {
        &self.inner.pool
    }

    /// The dialect family (`MariaDb` stands for MySQL and MariaDB until [`DieselStore::migrate`] asks the server).
    pub fn dialect(&self) -> Dialect {
        match &self.inner.pool {
            #[cfg(feature = "postgres")]
            AnyPool::Postgres(_) => Dialect::Postgres,
            #[cfg(feature = "mysql")]
            AnyPool::Mysql(_) => Dialect::MariaDb,
            #[cfg(feature = "sqlite")]
            AnyPool::Sqlite(_) => Dialect::Sqlite,
        }
    }

    /// The eight entity adapters over this store.
    pub fn adapters(&self) -> DataAdapters {
        let store = Arc::new(self.clone());
        DataAdapters {
            tenants: store.clone(),
            users: store.clone(),
            applications: store.clone(),
            connections: store.clone(),
            sessions: store.clone(),
            codes: store.clone(),
            passwords: store.clone(),
            logs: store,
            journal: Arc::new(adapter_interfaces::journal::sql::SqlJournal::new(
                crate::journal::JournalPool::new(self.clone()),
            )),
        }
    }

    /// A pooled connection, within the acquire timeout. deadpool does not
    /// retry: a connection it cannot open fails at once, but diesel-async
    /// keeps only the text of PostgreSQL's error (not "refused"), so that
    /// failure is explained by one fresh connection, as a
    /// [`AdapterError::Connect`]. It waits without end for a free
    /// connection, or for one that hangs: that wait is bounded here and
    /// explained the same way, as a [`AdapterError::PoolTimeout`].
    pub(crate) async fn conn(&self) -> Result<Conn> {
        const DOING: &str = "taking a database connection";
        let taken = tokio::time::timeout(self.inner.options.acquire_timeout, async {
            match &self.inner.pool {
                #[cfg(feature = "postgres")]
                AnyPool::Postgres(pool) => pool.get().await.map(Conn::Postgres),
                #[cfg(feature = "mysql")]
                AnyPool::Mysql(pool) => pool.get().await.map(Conn::Mysql),
                #[cfg(feature = "sqlite")]
                AnyPool::Sqlite(pool) => pool.get().await.map(Conn::Sqlite),
            }
        })
        .await;
        let error = match taken {
            Ok(Ok(conn)) => return Ok(conn),
            Ok(Err(error)) => error,
            Err(_) => {
                return Err(match self.pool_timeout().await {
                    Some(diagnosis) => AdapterError::PoolTimeout {
                        doing: DOING.to_owned(),
                        diagnosis: Box::new(diagnosis),
                    },
                    // A pool the application built: no URL to try a fresh connection with.
                    None => AdapterError::Backend {
                        message: format!(
                            "{DOING}: none came within {:?} (the acquire timeout)",
                            self.inner.options.acquire_timeout
                        ),
                        source: None,
                    },
                });
            }
        };
        if let diesel_async::pooled_connection::deadpool::PoolError::Backend(_) = error
            && let Some(PoolTimeout {
                cause: Some(cause), ..
            }) = self.pool_timeout().await
        {
            return Err(AdapterError::Connect(cause));
        }
        Err(AdapterError::backend(DOING, error))
    }

    /// Why no connection came within the acquire timeout: the outcome of a
    /// fresh connection outside the pool (see [`PoolTimeout::diagnose`]);
    /// `None` without the URL.
    async fn pool_timeout(&self) -> Option<PoolTimeout> {
        let Inner {
            pool, options, url, ..
        } = &*self.inner;
        let url = url.as_deref()?;
        let size = u32::try_from(pool.max_size()).unwrap_or(u32::MAX);
        let waited = options.acquire_timeout;
        Some(match pool {
            #[cfg(feature = "postgres")]
            AnyPool::Postgres(_) => {
                PoolTimeout::diagnose(
                    url,
                    options,
                    size,
                    waited,
                    |error: &tokio_postgres::Error| error.code().map(|code| code.code().to_owned()),
                    crate::conn::first_postgres_connection(url),
                )
                .await
            }
            _ => {
                PoolTimeout::diagnose(
                    url,
                    options,
                    size,
                    waited,
                    |_: &diesel::ConnectionError| None,
                    pool.fresh_connection(url),
                )
                .await
            }
        })
    }

    /// Serialises writes on SQLite; a no-op elsewhere.
    pub(crate) async fn write_guard(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        match self.dialect() {
            Dialect::Sqlite => Some(self.inner.writes.lock().await),
            _ => None,
        }
    }

    /// Runs `attempt` (a whole transaction) again, with [`retry::transient`]'s
    /// backoff, while the database aborts it for concurrency's sake.
    async fn retried<R: Record, T, F, Fut>(&self, attempt: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        retry::transient(R::KIND.table(), attempt, is_transient).await
    }

    /// `NotFound` of the tenant, then of a record's missing parent, in the reference order.
    async fn check_parents<R: DieselRecord>(
        conn: &mut Conn,
        tenant: &str,
        records: &[R],
    ) -> Result<()> {
        if !scoped::<R>() {
            return Ok(());
        }
        if record::unstorable_text(tenant) {
            return Err(AdapterError::not_found(EntityKind::Tenant, tenant));
        }
        let tenants = Tenant::existing(conn, "", vec![tenant.to_owned()], false)
            .await
            .map_err(backend("looking the tenant up"))?;
        if tenants.is_empty() {
            return Err(AdapterError::not_found(EntityKind::Tenant, tenant));
        }
        let Some(parent) = R::PARENT else {
            return Ok(());
        };
        let wanted: Vec<String> = records
            .iter()
            .filter_map(|r| text_of(r, parent.column))
            .collect();
        let mut distinct: Vec<String> = wanted.clone();
        distinct.sort();
        distinct.dedup();
        if distinct.is_empty() {
            return Ok(());
        }
        let found: HashSet<String> = match parent.parent {
            // Locking the user serialises concurrent password rotations: each one's
            // demotion then sees the others' committed rows.
            EntityKind::User => {
                User::existing(conn, tenant, distinct, R::KIND == EntityKind::Password)
                    .await
                    .map_err(backend("looking parents up"))?
                    .into_iter()
                    .collect()
            }
            _ => return Ok(()),
        };
        match wanted.into_iter().find(|id| !found.contains(id)) {
            Some(missing) => Err(AdapterError::not_found(parent.parent, missing)),
            None => Ok(()),
        }
    }

    /// After a foreign-key violation (a parent removed concurrently): which parent is gone.
    async fn resolve_write_error<R: DieselRecord>(
        &self,
        tenant: &str,
        records: &[R],
        error: AdapterError,
    ) -> AdapterError {
        let conflict_on_unique = matches!(&error, AdapterError::Conflict { field, .. }
            if R::UNIQUE.len() > 1 && *field != R::key_column().name);
        if !is_foreign_key_error(&error) && !conflict_on_unique {
            return error;
        }
        let mut conn = match self.conn().await {
            Ok(conn) => conn,
            Err(_) => return error,
        };
        if conflict_on_unique {
            // The database names one of the keys that clash; the reference
            // names the first in `R::UNIQUE` order (SQLite reports `username`
            // where the reference, like PostgreSQL, says `email`).
            return match Self::first_unique_clash(&mut conn, tenant, records).await {
                Ok(Some(field)) => AdapterError::conflict(R::KIND, field),
                Ok(None) | Err(_) => error,
            };
        }
        match Self::check_parents(&mut conn, tenant, records).await {
            Err(found) => found,
            Ok(()) => error,
        }
    }

    /// The first unique key (other than the primary key) that `records`,
    /// written in order, would take from a stored record or an earlier one of
    /// them: the stored records holding any of their keys are read (a few
    /// statements per thousand records), then [`record::first_clash`] decides.
    async fn first_unique_clash<R: DieselRecord>(
        conn: &mut Conn,
        tenant: &str,
        records: &[R],
    ) -> Result<Option<&'static str>> {
        let probes = record::clash_probes(records, false);
        let mut stored = Vec::new();
        for part in probes.chunks(CLASH_PROBES_PER_STATEMENT) {
            let any = part
                .iter()
                .map(|probe| {
                    Cond::All(
                        probe
                            .columns
                            .iter()
                            .zip(&probe.values)
                            .map(|(c, v)| Cond::eq::<R>(c, v.clone()))
                            .collect(),
                    )
                })
                .collect();
            let order = Order::of::<R>(&[(R::key_column().name, SortOrder::Asc)]);
            let rows = R::select(conn, tenant, Cond::Any(any), order, i64::MAX, 0)
                .await
                .map_err(backend("looking for a clashing record"))?;
            for row in rows {
                stored.push(from_values::<R>(row)?);
            }
        }
        Ok(record::first_clash(records, false, &stored))
    }

    /// Passwords: a current record demotes the user's other current passwords,
    /// as if the records were written one after the other.
    async fn after_write<R: Record>(conn: &mut Conn, tenant: &str, records: &[R]) -> Result<()> {
        if R::KIND != EntityKind::Password {
            return Ok(());
        }
        let all: Vec<&R> = records.iter().collect();
        if let Some(current) = batch_sql::current_passwords(&all) {
            // At most one current password per user: one statement demotes them all.
            let dialect = crate::bulk::dialect(conn);
            for part in current.chunks(batch_sql::DEMOTIONS_PER_STATEMENT) {
                if let Some(statement) = batch_sql::demote_passwords(dialect, tenant, part) {
                    crate::bulk::execute(conn, dialect, statement)
                        .await
                        .map_err(backend("demoting the previous passwords"))?;
                }
            }
            return Ok(());
        }
        let is_current = |r: &R| column_value(r, "is_current") == Value::Bool(true);
        for (i, current) in records.iter().enumerate().filter(|(_, r)| is_current(r)) {
            let (Some(user_id), Value::Timestamp(at)) = (
                text_of(current, "user_id"),
                column_value(current, "updated_at"),
            ) else {
                continue;
            };
            // Later current records of the same user are written after this one.
            let mut keep = vec![current.key().to_owned()];
            keep.extend(
                records[i + 1..]
                    .iter()
                    .filter(|r| {
                        is_current(r) && text_of(*r, "user_id").as_deref() == Some(&user_id)
                    })
                    .map(|r| r.key().to_owned()),
            );
            demote_passwords(conn, tenant, &user_id, keep, at)
                .await
                .map_err(backend("demoting the previous passwords"))?;
        }
        Ok(())
    }

    async fn create_record<R: DieselRecord>(&self, tenant: &str, record: R) -> Result<R> {
        let _guard = self.write_guard().await;
        let records = std::slice::from_ref(&record);
        let outcome: Result<()> = self
            .retried::<R, _, _, _>(|| async {
                let mut conn = self.conn().await?;
                transaction!(conn, {
                    Self::check_parents(&mut conn, tenant, records).await?;
                    if R::fetch(&mut conn, tenant, record.key(), false)
                        .await
                        .map_err(backend("looking the key up"))?
                        .is_some()
                    {
                        return Err(AdapterError::conflict(R::KIND, R::key_column().name));
                    }
                    R::insert(&mut conn, tenant, vec![to_values(&record)])
                        .await
                        .map_err(write_error::<R>("inserting"))?;
                    Self::after_write(&mut conn, tenant, records).await
                })
            })
            .await;
        match outcome {
            Ok(()) => Ok(record),
            Err(e) => Err(self.resolve_write_error(tenant, records, e).await),
        }
    }

    async fn get_record<R: DieselRecord>(&self, tenant: &str, id: &str) -> Result<Option<R>> {
        if record::unstorable_text(tenant) || record::unstorable_text(id) {
            return Ok(None);
        }
        let mut conn = self.conn().await?;
        let row = R::fetch(&mut conn, tenant, id, false)
            .await
            .map_err(backend("reading"))?;
        row.map(from_values::<R>).transpose()
    }

    async fn list_records<R: DieselRecord>(
        &self,
        tenant: &str,
        params: &ListParams,
    ) -> Result<Page<R>> {
        let plan = ListPlan::new::<R>(params)?;
        if record::unstorable_text(tenant) {
            return Ok(plan.finish(Vec::new(), Some(0)));
        }
        let mut conn = self.conn().await?;
        let (cond, non_null) = Cond::for_page::<R>(&plan);
        let rows = R::select(
            &mut conn,
            tenant,
            cond,
            Order::from_plan::<R>(&plan.order, non_null),
            to_i64(plan.limit),
            to_i64(plan.offset),
        )
        .await
        .map_err(backend("listing"))?;
        let records = rows
            .into_iter()
            .map(from_values::<R>)
            .collect::<Result<Vec<R>>>()?;
        let total = if plan.include_totals {
            let count = R::count(
                &mut conn,
                tenant,
                Cond::from_filter::<R>(plan.filter.as_ref()),
            )
            .await
            .map_err(backend("counting"))?;
            Some(u64::try_from(count).unwrap_or(0))
        } else {
            None
        };
        Ok(plan.finish(records, total))
    }

    async fn upsert_records<R: DieselRecord>(&self, tenant: &str, records: Vec<R>) -> Result<()> {
        let records = records
            .into_iter()
            .map(|mut r| {
                r.normalize();
                record::validate(&r)?;
                Ok(r)
            })
            .collect::<Result<Vec<R>>>()?;
        if records.is_empty() {
            return Ok(());
        }
        let _guard = self.write_guard().await;
        let mut keys = HashSet::new();
        let distinct = records.iter().all(|r| keys.insert(r.key().to_owned()));
        // Distinct keys are written in the key's order: the outcome is the same,
        // and every writer then takes its row locks in one order.
        let mut sorted: Vec<&R> = records.iter().collect();
        sorted.sort_unstable_by(|a, b| a.key().cmp(b.key()));
        let columns = R::COLUMNS.len() + 1;
        let batch = MAX_BATCH_ROWS.min(MAX_BIND_PARAMS / columns).max(1);
        let (records, sorted) = (&records, &sorted);
        let outcome: Result<()> = self
            .retried::<R, _, _, _>(|| async move {
                let mut conn = self.conn().await?;
                transaction!(conn, {
                    Self::check_parents(&mut conn, tenant, records).await?;
                    if distinct {
                        for chunk in sorted.chunks(batch) {
                            if crate::bulk::dialect(&conn) == Dialect::Postgres {
                                // One statement, one parameter: the shared bulk insert.
                                let statement =
                                    batch_sql::insert_rows::<R>(tenant, chunk, OnKey::Update);
                                crate::bulk::execute(&mut conn, Dialect::Postgres, statement)
                                    .await
                                    .map_err(write_error::<R>("upserting"))?;
                                continue;
                            }
                            // MySQL: one shared guarded statement per part, within its
                            // bind limit and packet budget; SQLite: the whole chunk.
                            let parts = match crate::bulk::dialect(&conn) {
                                Dialect::MariaDb | Dialect::MySql => {
                                    batch_sql::mysql_batches(chunk)
                                }
                                _ => vec![chunk],
                            };
                            for part in parts {
                                R::upsert(
                                    &mut conn,
                                    tenant,
                                    part.iter().map(|r| to_values(*r)).collect(),
                                )
                                .await
                                .map_err(write_error::<R>("upserting"))?;
                            }
                        }
                        Self::after_write(&mut conn, tenant, records).await
                    } else {
                        // A key repeated within the batch: apply the records in order,
                        // exactly as one upsert after the other would.
                        for record in records {
                            R::upsert(&mut conn, tenant, vec![to_values(record)])
                                .await
                                .map_err(write_error::<R>("upserting"))?;
                            Self::after_write(&mut conn, tenant, std::slice::from_ref(record))
                                .await?;
                        }
                        Ok(())
                    }
                })
            })
            .await;
        match outcome {
            Ok(()) => Ok(()),
            Err(e) => Err(self.resolve_write_error(tenant, records, e).await),
        }
    }

    async fn update_record<R: DieselRecord>(
        &self,
        tenant: &str,
        id: &str,
        patch: &R::Patch,
    ) -> Result<R> {
        if record::unstorable_text(tenant) || record::unstorable_text(id) {
            return Err(AdapterError::not_found(R::KIND, id));
        }
        let _guard = self.write_guard().await;
        // The record the last attempt tried to write, to explain its failure.
        let attempted = std::sync::Mutex::new(None);
        let outcome: Result<R> = self
            .retried::<R, _, _, _>(|| async {
                // Each attempt's connection is back in the pool before the look-ups
                // below (in-memory SQLite has one).
                let mut conn = self.conn().await?;
                transaction!(conn, {
                    let row = R::fetch(&mut conn, tenant, id, true)
                        .await
                        .map_err(backend("reading for update"))?
                        .ok_or_else(|| AdapterError::not_found(R::KIND, id))?;
                    let existing = from_values::<R>(row)?;
                    let updated = record::apply_patch(&existing, patch, Timestamp::now())?;
                    *attempted.lock().unwrap_or_else(|p| p.into_inner()) = Some(updated.clone());
                    R::update(&mut conn, tenant, to_values(&updated))
                        .await
                        .map_err(write_error::<R>("updating"))?;
                    Ok(updated)
                })
            })
            .await;
        let attempted = attempted.into_inner().unwrap_or_else(|p| p.into_inner());
        match (outcome, attempted) {
            (Err(e), Some(updated)) => Err(self
                .resolve_write_error(tenant, std::slice::from_ref(&updated), e)
                .await),
            (outcome, _) => outcome,
        }
    }

    async fn remove_record<R: DieselRecord>(&self, tenant: &str, id: &str) -> Result<bool> {
        if record::unstorable_text(tenant) || record::unstorable_text(id) {
            return Ok(false);
        }
        let _guard = self.write_guard().await;
        // A removal cascades to the user's children, and can be a deadlock victim
        // of writers adding to them.
        let removed = self
            .retried::<R, _, _, _>(|| async {
                let mut conn = self.conn().await?;
                R::delete(&mut conn, tenant, id)
                    .await
                    .map_err(backend("deleting"))
            })
            .await?;
        Ok(removed > 0)
    }
}

#[async_trait]
impl<R: DieselRecord> EntityStore<R> for DieselStore {
    async fn create(&self, tenant_id: &str, insert: R::Insert) -> Result<R> {
        let record = R::from_insert(insert, Timestamp::now())?;
        self.create_record(tenant_id, record).await
    }

    async fn get(&self, tenant_id: &str, id: &str) -> Result<Option<R>> {
        self.get_record(tenant_id, id).await
    }

    async fn list(&self, tenant_id: &str, params: &ListParams) -> Result<Page<R>> {
        self.list_records(tenant_id, params).await
    }

    async fn upsert(&self, tenant_id: &str, record: R) -> Result<()> {
        self.upsert_records(tenant_id, vec![record]).await
    }

    async fn upsert_many(&self, tenant_id: &str, records: Vec<R>) -> Result<()> {
        self.upsert_records(tenant_id, records).await
    }
}

#[async_trait]
impl<R: DieselRecord> MutableStore<R> for DieselStore {
    async fn update(&self, tenant_id: &str, id: &str, patch: R::Patch) -> Result<R> {
        self.update_record::<R>(tenant_id, id, &patch).await
    }

    async fn remove(&self, tenant_id: &str, id: &str) -> Result<bool> {
        self.remove_record::<R>(tenant_id, id).await
    }
}

#[async_trait]
impl TenantsAdapter for DieselStore {
    async fn create(&self, tenant: TenantInsert) -> Result<Tenant> {
        let record = Tenant::from_insert(tenant, Timestamp::now())?;
        self.create_record("", record).await
    }

    async fn get(&self, id: &str) -> Result<Option<Tenant>> {
        self.get_record("", id).await
    }

    async fn list(&self, params: &ListParams) -> Result<Page<Tenant>> {
        self.list_records("", params).await
    }

    async fn update(&self, id: &str, patch: TenantPatch) -> Result<Tenant> {
        self.update_record::<Tenant>("", id, &patch).await
    }

    async fn remove(&self, id: &str) -> Result<bool> {
        self.remove_record::<Tenant>("", id).await
    }

    async fn upsert(&self, tenant: Tenant) -> Result<()> {
        self.upsert_records("", vec![tenant]).await
    }

    async fn upsert_many(&self, tenants: Vec<Tenant>) -> Result<()> {
        self.upsert_records("", tenants).await
    }
}

#[async_trait]
impl LogsAdapter for DieselStore {
    async fn remove(&self, tenant_id: &str, log_id: &str) -> Result<bool> {
        self.remove_record::<Log>(tenant_id, log_id).await
    }
}

#[async_trait]
impl CodesAdapter for DieselStore {
    async fn remove(&self, tenant_id: &str, code_id: &str) -> Result<bool> {
        self.remove_record::<Code>(tenant_id, code_id).await
    }

    async fn consume(&self, tenant_id: &str, code_id: &str) -> Result<Option<Code>> {
        if record::unstorable_text(tenant_id) || record::unstorable_text(code_id) {
            return Ok(None);
        }
        let now = Timestamp::now();
        let used = {
            let _guard = self.write_guard().await;
            let mut conn = self.conn().await?;
            consume_code(&mut conn, tenant_id, code_id, now)
                .await
                .map_err(backend("consuming a code"))?
        };
        if used == 0 {
            return Ok(None);
        }
        self.get_record::<Code>(tenant_id, code_id).await
    }

    async fn cleanup(&self, tenant_id: &str, older_than: Timestamp) -> Result<u64> {
        // Only storable instants are bound: databases reject the others.
        let Some(bound) = older_than.last_storable_before() else {
            return Ok(0);
        };
        if record::unstorable_text(tenant_id) {
            return Ok(0);
        }
        let _guard = self.write_guard().await;
        let mut conn = self.conn().await?;
        let removed = cleanup_codes(&mut conn, tenant_id, bound)
            .await
            .map_err(backend("deleting expired codes"))?;
        Ok(removed as u64)
    }
}

#[async_trait]
impl PasswordsAdapter for DieselStore {
    async fn get_current(&self, tenant_id: &str, user_id: &str) -> Result<Option<Password>> {
        if record::unstorable_text(tenant_id) || record::unstorable_text(user_id) {
            return Ok(None);
        }
        let mut conn = self.conn().await?;
        let cond = Cond::All(vec![
            Cond::eq::<Password>("user_id", Value::Text(user_id.to_owned())),
            Cond::eq::<Password>("is_current", Value::Bool(true)),
        ]);
        let order =
            Order::of::<Password>(&[("created_at", SortOrder::Desc), ("id", SortOrder::Desc)]);
        let rows = Password::select(&mut conn, tenant_id, cond, order, 1, 0)
            .await
            .map_err(backend("reading the current password"))?;
        rows.into_iter()
            .next()
            .map(from_values::<Password>)
            .transpose()
    }

    async fn remove(&self, tenant_id: &str, id: &str) -> Result<bool> {
        self.remove_record::<Password>(tenant_id, id).await
    }
}
