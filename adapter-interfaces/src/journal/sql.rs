//! The journal in a SQL database, written once for PostgreSQL, MySQL/MariaDB
//! and SQLite over [`JournalSql`], a three-method executor that each backend
//! implements on its own connection type (sqlx pool, SeaORM connection,
//! Diesel pool).
//!
//! Every step of the contract (see [`crate::journal`]) is one statement per
//! chunk of keys. MySQL has no `RETURNING`: it reads back what a step won
//! (two statements), and `settle_many` reads, deletes and reads again
//! (three), which tells a row it deleted from one another holder had
//! already settled. Times are the database's own
//! clock in epoch milliseconds, so the instances' clocks do not matter.
//! Concurrency rests on the database:
//! - `begin` is `INSERT … SELECT … WHERE EXISTS (stage row at the fenced
//!   generation, share-locked)`, so it waits for a switch that is changing
//!   the stage row and then sees the new generation;
//! - a relay's `claim` picks rows with `FOR UPDATE SKIP LOCKED` on
//!   PostgreSQL; MySQL claims with one `UPDATE … ORDER BY … LIMIT` (rows are
//!   locked in index order, so two relays wait for each other instead of
//!   deadlocking) and reads back what its token won; SQLite has one writer.
//!
//! **Durability on PostgreSQL.** A commit normally waits for its WAL flush,
//! the price of most of a small statement. Only `mark` and the stage
//! statements keep that wait; every other step sets `synchronous_commit =
//! off` for its own transaction, from inside the statement (`set_config`, so
//! that the same text serves sqlx, SeaORM and Diesel), because none of them
//! can lose anything in a server crash:
//! - `begin` precedes the source write, which runs on the same server (a
//!   store's journal lives in the store's own database) and commits with the
//!   flush: WAL is flushed in order, so a source write that committed carries
//!   its `begin` with it, and a `begin` lost with a write that never
//!   committed owed nothing;
//! - a lost `finish`, `claim`, `claim_keys`, `release` or `fail` leaves a
//!   row in flight or claimed until its lease runs out, and a relay then
//!   applies it; a lost `settle` leaves a row that is applied once more
//!   (applying is idempotent).
//!
//! MySQL/MariaDB and SQLite have no per-transaction switch for this and keep
//! the server's setting.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::time::Duration;

use super::{
    Backlog, Begun, Claim, EntryFilter, Failure, Fence, JOURNAL_TABLE, JournalEntry, JournalKey,
    Mark, ReplicationJournal, RowId, STAGE_TABLE, StageRecord, Subject, delay_millis, lease_millis,
    merged_keys,
};
use crate::error::{AdapterError, Result};
use crate::schema::Dialect;
use crate::timestamp::Timestamp;

/// The columns of [`Statement::claim_columns`].
const CLAIM_COLUMNS: usize = 9;

/// Sets `synchronous_commit` to `off` for the current transaction only.
const LAZY_FLUSH: &str = "set_config('synchronous_commit', 'off', true)";

/// How many keys one statement carries at most (5 parameters each).
const KEYS_PER_STATEMENT: usize = 1000;

/// A parameter of a journal statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SqlValue {
    /// A 64-bit integer.
    Int(i64),
    /// A text value.
    Text(String),
}

/// A row of a journal query: every column as text (the statements cast), or NULL.
pub type TextRow = Vec<Option<String>>;

/// What a backend provides so that [`SqlJournal`] can run on its connections.
///
/// Placeholders are `$1, $2, …` on PostgreSQL and `?` elsewhere, in the order
/// of `params`; every column a query selects is text or NULL, and is named
/// `c0`, `c1`, … in order (read them by index or by those names).
#[async_trait::async_trait]
pub trait JournalSql: Send + Sync {
    /// The database's dialect.
    fn dialect(&self) -> Dialect;
    /// Runs a statement; returns the rows it affected.
    async fn execute(&self, sql: &str, params: Vec<SqlValue>) -> Result<u64>;
    /// Runs a query that selects `columns` columns, each text or NULL; returns its rows.
    async fn fetch(&self, sql: &str, params: Vec<SqlValue>, columns: usize)
    -> Result<Vec<TextRow>>;
}

/// How often an executor tries a journal statement that may simply run
/// again (see [`is_retryable`]).
pub const MAX_ATTEMPTS: u32 = 5;

/// Whether a database error is one where the statement may simply run
/// again: the database rolled it back to break a deadlock or a
/// serialization conflict (SQLSTATE 40001 on every database, 40P01 on
/// PostgreSQL, MySQL 1213), gave up waiting for a lock (MySQL 1205), or
/// SQLite was busy or locked (codes 5 and 6). `code` is the SQLSTATE or
/// SQLite's code where the driver reports one; the message decides otherwise.
pub fn is_retryable(code: Option<&str>, message: &str) -> bool {
    let by_code = matches!(code, Some("40001" | "40P01" | "5" | "6" | "1213" | "1205"));
    let by_message = [
        "deadlock",
        "Deadlock",
        "Lock wait timeout",
        "could not serialize",
        "database is locked",
        "database table is locked",
    ]
    .iter()
    .any(|needle| message.contains(needle));
    by_code || by_message
}

/// Runs `run` until it succeeds, fails for good, or was tried
/// [`MAX_ATTEMPTS`] times; between tries it waits with `sleep` (a growing
/// backoff). The executors share it over their own error types and runtimes.
pub async fn retrying<T, E, Run, Fut, Sleep, Slept>(
    mut run: Run,
    retryable: impl Fn(&E) -> bool,
    sleep: Sleep,
) -> std::result::Result<T, E>
where
    Run: FnMut() -> Fut,
    Fut: std::future::Future<Output = std::result::Result<T, E>>,
    Sleep: Fn(Duration) -> Slept,
    Slept: std::future::Future<Output = ()>,
{
    let mut attempt = 0;
    loop {
        attempt += 1;
        match run().await {
            Err(error) if attempt < MAX_ATTEMPTS && retryable(&error) => {
                sleep(Duration::from_millis(5 << attempt)).await;
            }
            outcome => return outcome,
        }
    }
}

/// The pieces of `sql` around its placeholders (one more than there are
/// parameters), for executors that bind as they build (sqlx's `QueryBuilder`).
pub fn split_placeholders(dialect: Dialect, sql: &str) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut start = 0;
    let bytes = sql.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let placeholder_end = match (dialect, bytes[i]) {
            (Dialect::Postgres, b'$') => {
                let digits = bytes[i + 1..]
                    .iter()
                    .take_while(|b| b.is_ascii_digit())
                    .count();
                (digits > 0).then_some(i + 1 + digits)
            }
            (Dialect::Postgres, _) => None,
            (_, b'?') => Some(i + 1),
            _ => None,
        };
        match placeholder_end {
            Some(end) => {
                pieces.push(&sql[start..i]);
                start = end;
                i = end;
            }
            None => i += 1,
        }
    }
    pieces.push(&sql[start..]);
    pieces
}

/// The replication journal in the database `sql` reaches.
#[derive(Debug, Clone)]
pub struct SqlJournal<E> {
    sql: E,
}

impl<E: JournalSql> SqlJournal<E> {
    /// A journal over `sql`. The tables come from [`crate::schema::statements`].
    pub fn new(sql: E) -> Self {
        Self { sql }
    }
}

/// A column of a select list ([`Statement::columns`]).
#[derive(Clone, Copy)]
enum Col<'a> {
    /// A text column, read as it is.
    Text(&'a str),
    /// An integer expression, read as text.
    Int(&'a str),
    /// Whether a write of the row is in flight (1 or 0).
    InFlight,
    /// The database's clock plus a lease.
    Until(Duration),
}

/// The columns that name a row's key, as [`key_of`] reads them.
const KEY_COLUMNS: [Col<'static>; 5] = [
    Col::Text("target"),
    Col::Text("entity"),
    Col::Text("tenant_id"),
    Col::Text("record_key"),
    Col::Int("cascades"),
];

/// One statement being written: its text and its parameters, in order.
struct Statement {
    dialect: Dialect,
    text: String,
    params: Vec<SqlValue>,
}

impl Statement {
    fn new(dialect: Dialect) -> Self {
        Self {
            dialect,
            text: String::new(),
            params: Vec::new(),
        }
    }

    /// Appends SQL text.
    fn sql(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Appends a placeholder bound to `value`.
    fn bind(&mut self, value: SqlValue) -> &mut Self {
        self.params.push(value);
        if self.dialect == Dialect::Postgres {
            let _ = write!(self.text, "${}", self.params.len());
        } else {
            self.text.push('?');
        }
        self
    }

    fn text(&mut self, value: &str) -> &mut Self {
        self.bind(SqlValue::Text(value.to_owned()))
    }

    fn int(&mut self, value: i64) -> &mut Self {
        self.bind(SqlValue::Int(value))
    }

    /// The database's clock, in epoch milliseconds.
    fn now(&mut self) -> &mut Self {
        let now = match self.dialect {
            Dialect::Postgres => "(CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT))",
            Dialect::MariaDb | Dialect::MySql => "(CAST(UNIX_TIMESTAMP(NOW(3)) * 1000 AS SIGNED))",
            Dialect::Sqlite => "(CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER))",
        };
        self.sql(now)
    }

    /// `now + lease` (a lease is at least 1 ms).
    fn now_plus(&mut self, lease: Duration) -> &mut Self {
        self.now_plus_millis(lease_millis(lease))
    }

    /// `now + millis`.
    fn now_plus_millis(&mut self, millis: i64) -> &mut Self {
        self.sql("(").now().sql(" + ").int(millis).sql(")")
    }

    /// On PostgreSQL, ` AND <true>` that also makes this statement's commit
    /// skip the wait for its WAL flush (`synchronous_commit = off` for this
    /// transaction only; see the module docs for why the steps that use it
    /// lose nothing). Evaluated for every row the statement changes.
    fn lazy_flush_condition(&mut self) -> &mut Self {
        if self.dialect == Dialect::Postgres {
            self.sql(" AND ").sql(LAZY_FLUSH).sql(" IS NOT NULL");
        }
        self
    }

    /// [`Statement::lazy_flush_condition`] as one more `RETURNING` column
    /// (after the columns the caller reads, so it is never read).
    fn lazy_flush_column(&mut self) -> &mut Self {
        if self.dialect == Dialect::Postgres {
            self.sql(", ").sql(LAZY_FLUSH);
        }
        self
    }

    /// An integer column as text.
    fn as_text(&mut self, column: &str) -> &mut Self {
        self.as_text_expr(|s| {
            s.sql(column);
        })
    }

    /// The type an integer is cast to, to read it as text.
    fn text_type(&self) -> &'static str {
        if self.dialect.is_mysql() {
            "CHAR"
        } else {
            "TEXT"
        }
    }

    /// An integer expression, written by `expr`, as text.
    fn as_text_expr(&mut self, expr: impl FnOnce(&mut Self)) -> &mut Self {
        self.sql("CAST(");
        expr(self);
        let cast = format!(" AS {})", self.text_type());
        self.sql(&cast)
    }

    /// The larger of two expressions.
    fn greatest(&self, a: &str, b: &str) -> String {
        match self.dialect {
            Dialect::Sqlite => format!("MAX({a}, {b})"),
            _ => format!("GREATEST({a}, {b})"),
        }
    }

    /// `WHERE`-able condition on one row's primary key.
    fn key_is(&mut self, key: &JournalKey) -> &mut Self {
        self.sql("target = ")
            .text(&key.target)
            .sql(" AND entity = ")
            .text(key.subject.entity_column())
            .sql(" AND tenant_id = ")
            .text(&key.tenant_id)
            .sql(" AND record_key = ")
            .text(&key.subject.key_column())
    }

    /// The conditions of an operator's filter (after a `WHERE 1 = 1`).
    fn filter(&mut self, filter: &EntryFilter) -> &mut Self {
        if let Some(target) = &filter.target {
            self.sql(" AND target = ").text(target);
        }
        if let Some(entity) = &filter.entity {
            self.sql(" AND entity = ").text(entity);
        }
        if let Some(tenant) = &filter.tenant_id {
            self.sql(" AND tenant_id = ").text(tenant);
        }
        if let Some(key) = &filter.record_key {
            self.sql(" AND record_key = ").text(key);
        }
        if let Some(dead) = filter.dead {
            self.sql(" AND dead = ").int(i64::from(dead));
        }
        self
    }

    /// `INSERT INTO journal (columns)`.
    fn insert_into(&mut self) -> &mut Self {
        let text = format!(
            "INSERT INTO {JOURNAL_TABLE} (target, entity, tenant_id, record_key, cascades, seq, \
             pending_writes, writes_until, claimed_by, claim_until, attempts, next_attempt_at, \
             dead, last_error, created_at, updated_at) "
        );
        self.sql(&text)
    }

    /// The head of the upsert clause, up to the first assignment.
    fn on_conflict(&mut self) -> &mut Self {
        let text = if self.dialect.is_mysql() {
            " ON DUPLICATE KEY UPDATE ".to_owned()
        } else {
            " ON CONFLICT (target, entity, tenant_id, record_key) DO UPDATE SET ".to_owned()
        };
        self.sql(&text)
    }

    /// How an upsert names the row being updated and the row proposed.
    fn old(&self, column: &str) -> String {
        format!("{JOURNAL_TABLE}.{column}")
    }

    fn new_value(&self, column: &str) -> String {
        if self.dialect.is_mysql() {
            format!("VALUES({column})")
        } else {
            format!("excluded.{column}")
        }
    }

    /// The assignments every upsert of a key makes: a change of `seq`, and
    /// the strongest subject of the writes merged into the row.
    fn marked(&mut self) -> &mut Self {
        let seq = format!("seq = {} + 1, ", self.old("seq"));
        let cascades = format!(
            "cascades = {}, ",
            self.greatest(&self.old("cascades"), &self.new_value("cascades"))
        );
        self.sql(&seq).sql(&cascades).sql("updated_at = ").now()
    }

    /// The columns a claim returns, as text.
    fn claim_columns(&mut self) -> &mut Self {
        self.key_columns(&[
            Col::Int("seq"),
            Col::Int("attempts"),
            Col::Int("created_at"),
            Col::Text("claimed_by"),
        ])
    }

    /// The key's columns ([`KEY_COLUMNS`]), then `more`.
    fn key_columns(&mut self, more: &[Col<'_>]) -> &mut Self {
        let all: Vec<Col<'_>> = KEY_COLUMNS.iter().chain(more).copied().collect();
        self.columns(&all)
    }

    /// A select list: each column (integers cast to text) named `c0`, `c1`, …
    /// in order, so that executors that read columns by name (Diesel's
    /// `sql_query`) find them.
    fn columns(&mut self, columns: &[Col<'_>]) -> &mut Self {
        for (i, column) in columns.iter().enumerate() {
            if i > 0 {
                self.sql(", ");
            }
            match column {
                Col::Text(name) => self.sql(name),
                Col::Int(expr) => self.as_text(expr),
                Col::InFlight => self.as_text_expr(|s| {
                    s.sql("CASE WHEN pending_writes > 0 AND writes_until >= ")
                        .now()
                        .sql(" THEN 1 ELSE 0 END");
                }),
                Col::Until(lease) => self.as_text_expr(|s| {
                    s.now_plus(*lease);
                }),
            };
            let alias = format!(" AS c{i}");
            self.sql(&alias);
        }
        self
    }

    /// A list of rows `(t, e, k, r)` for `(target, entity, tenant_id,
    /// record_key) IN …`.
    fn key_list(&mut self, keys: &[JournalKey]) -> &mut Self {
        self.row_list(keys.iter().map(|key| (key, None)))
    }

    /// A list of rows `(t, e, k, r)`, or `(t, e, k, r, seq)` where a `seq` is
    /// given, for `IN`: a `VALUES` table where SQLite asks for one (it takes
    /// no list of row values), a list of row constructors on MySQL.
    fn row_list<'k>(
        &mut self,
        rows: impl Iterator<Item = (&'k JournalKey, Option<i64>)>,
    ) -> &mut Self {
        self.sql(if self.dialect.is_mysql() {
            "("
        } else {
            "(VALUES "
        });
        for (i, (key, seq)) in rows.enumerate() {
            if i > 0 {
                self.sql(", ");
            }
            self.sql("(")
                .text(&key.target)
                .sql(", ")
                .text(key.subject.entity_column())
                .sql(", ")
                .text(&key.tenant_id)
                .sql(", ")
                .text(&key.subject.key_column());
            if let Some(seq) = seq {
                self.sql(", ").int(seq);
            }
            self.sql(")");
        }
        self.sql(")")
    }
}

fn bad_row(what: &str) -> AdapterError {
    AdapterError::Backend {
        message: format!("the replication journal returned an unreadable {what}"),
        source: None,
    }
}

fn column(row: &TextRow, index: usize) -> Option<&str> {
    row.get(index).and_then(|c| c.as_deref())
}

fn int_column(row: &TextRow, index: usize) -> Result<i64> {
    column(row, index)
        .and_then(|v| v.parse::<i64>().ok())
        .ok_or_else(|| bad_row("number"))
}

fn stamp_column(row: &TextRow, index: usize) -> Result<Timestamp> {
    Timestamp::from_millis(int_column(row, index)?).ok_or_else(|| bad_row("time"))
}

/// The key of a row whose first five columns are target, entity, tenant, key, cascades.
fn key_of(row: &TextRow) -> Result<JournalKey> {
    let (Some(target), Some(entity), Some(tenant), Some(key)) = (
        column(row, 0),
        column(row, 1),
        column(row, 2),
        column(row, 3),
    ) else {
        return Err(bad_row("key"));
    };
    let cascade = int_column(row, 4)? != 0;
    let subject = Subject::from_columns(entity, key, cascade).ok_or_else(|| bad_row("subject"))?;
    Ok(JournalKey::new(target, tenant, subject))
}

/// A claim from a row of [`Statement::claim_columns`], if `token` holds it.
fn claim_of(row: &TextRow, token: &str) -> Result<Option<Claim>> {
    if column(row, 8) != Some(token) {
        return Ok(None);
    }
    Ok(Some(Claim {
        key: key_of(row)?,
        token: token.to_owned(),
        seq: int_column(row, 5)?,
        attempts: u32::try_from(int_column(row, 6)?).unwrap_or(u32::MAX),
        since: stamp_column(row, 7)?,
    }))
}

impl<E: JournalSql> SqlJournal<E> {
    fn dialect(&self) -> Dialect {
        self.sql.dialect()
    }

    async fn execute(&self, statement: Statement) -> Result<u64> {
        self.sql.execute(&statement.text, statement.params).await
    }

    async fn fetch(&self, statement: Statement, columns: usize) -> Result<Vec<TextRow>> {
        self.sql
            .fetch(&statement.text, statement.params, columns)
            .await
    }

    /// The rows proposed by an insert of `keys`: `(target, entity, tenant, key, cascades)`,
    /// as a derived table `v` with columns `v_target` … `v_cascades`.
    fn proposed(s: &mut Statement, keys: &[JournalKey]) {
        let mysql = s.dialect.is_mysql();
        s.sql("(");
        if !mysql {
            s.sql("VALUES ");
        }
        for (i, key) in keys.iter().enumerate() {
            match (i, mysql) {
                (0, true) => s.sql("SELECT "),
                (_, true) => s.sql(" UNION ALL SELECT "),
                (0, false) => s.sql("("),
                (_, false) => s.sql(", ("),
            };
            let names = ["v_target", "v_entity", "v_tenant", "v_key", "v_cascades"];
            let values = [
                SqlValue::Text(key.target.clone()),
                SqlValue::Text(key.subject.entity_column().to_owned()),
                SqlValue::Text(key.tenant_id.clone()),
                SqlValue::Text(key.subject.key_column()),
                SqlValue::Int(i64::from(key.subject.cascades())),
            ];
            for (j, (value, name)) in values.into_iter().zip(names).enumerate() {
                if j > 0 {
                    s.sql(", ");
                }
                if s.dialect == Dialect::Postgres && j == 4 {
                    s.sql("CAST(").bind(value).sql(" AS BIGINT)");
                } else {
                    s.bind(value);
                }
                if mysql && i == 0 {
                    s.sql(&format!(" AS {name}"));
                }
            }
            if !mysql {
                s.sql(")");
            }
        }
        s.sql(") AS v");
        if s.dialect == Dialect::Postgres {
            s.sql("(v_target, v_entity, v_tenant, v_key, v_cascades)");
        }
    }

    /// `begin` for one chunk of keys: `None` when the fence did not hold
    /// (nothing recorded), else the marks (none on MySQL/MariaDB, whose
    /// upsert returns no rows).
    async fn begin_chunk(
        &self,
        fence: &Fence,
        keys: &[JournalKey],
        lease: Duration,
    ) -> Result<Option<Vec<Mark>>> {
        let dialect = self.dialect();
        let mut s = Statement::new(dialect);
        s.insert_into().sql("SELECT ");
        if dialect == Dialect::Sqlite {
            s.sql("column1, column2, column3, column4, column5");
        } else {
            s.sql("v_target, v_entity, v_tenant, v_key, v_cascades");
        }
        s.sql(", 1, 1, ")
            .now_plus(lease)
            .sql(", NULL, 0, 0, ")
            .now();
        s.sql(", 0, NULL, ").now().sql(", ").now().sql(" FROM ");
        if dialect == Dialect::Sqlite {
            // SQLite names the columns of a VALUES table column1, column2, …
            let mut values = Statement::new(dialect);
            Self::proposed(&mut values, keys);
            let text = values.text.replacen(") AS v", ")", 1);
            s.sql(&text);
            s.params.extend(values.params);
        } else {
            Self::proposed(&mut s, keys);
        }
        let lock = match dialect {
            Dialect::Postgres => " FOR SHARE",
            Dialect::MariaDb | Dialect::MySql => " LOCK IN SHARE MODE",
            Dialect::Sqlite => "",
        };
        let stage = format!(" WHERE EXISTS (SELECT 1 FROM {STAGE_TABLE} WHERE scope = ");
        s.sql(&stage)
            .text(&fence.scope)
            .sql(" AND generation = ")
            .int(fence.generation)
            .sql(lock)
            .sql(")");
        s.lazy_flush_condition();
        s.on_conflict();
        // MySQL assigns left to right with the values already assigned, so
        // each assignment reads only columns that are still unchanged.
        let pending = format!("pending_writes = CASE WHEN {} < ", s.old("writes_until"));
        s.sql(&pending).now();
        let rest = format!(
            " THEN 1 ELSE {} + 1 END, writes_until = {}, dead = 0, attempts = 0, next_attempt_at = ",
            s.old("pending_writes"),
            s.new_value("writes_until")
        );
        s.sql(&rest).now().sql(", ").marked();
        if dialect.is_mysql() {
            return Ok((self.execute(s).await? > 0).then(Vec::new));
        }
        s.sql(" RETURNING ")
            .key_columns(&[Col::Int("seq")])
            .lazy_flush_column();
        let rows = self.fetch(s, KEY_COLUMNS.len() + 1).await?;
        if rows.is_empty() {
            return Ok(None);
        }
        rows.iter()
            .map(|row| {
                Ok(Mark {
                    key: key_of(row)?,
                    seq: int_column(row, KEY_COLUMNS.len())?,
                })
            })
            .collect::<Result<Vec<_>>>()
            .map(Some)
    }

    /// `begin` for the first chunk of keys: the one whose outcome decides
    /// whether the write may go ahead.
    async fn begin_first(
        &self,
        fence: &Fence,
        keys: &[JournalKey],
        lease: Duration,
    ) -> Result<Begun> {
        // Nothing recorded means the fence did not hold when the statement
        // ran; read the stage to tell why. A scope never stored counts as
        // generation 0: store it and try again. A stage row that a
        // concurrent first write stored meanwhile at the fenced generation
        // means try again too (it did not exist when ours looked).
        for _ in 0..3 {
            if let Some(marks) = self.begin_chunk(fence, keys, lease).await? {
                return Ok(Begun::Recorded(marks));
            }
            match self.stage(&fence.scope).await? {
                None if fence.generation == 0 => self.ensure_stage_row(fence).await?,
                Some(stored) if stored.generation == fence.generation => {}
                stored => return Ok(Begun::StageMoved(stored)),
            }
        }
        Ok(Begun::StageMoved(self.stage(&fence.scope).await?))
    }

    /// `INSERT … VALUES` of new rows for `keys`, no write in flight,
    /// claimed by `token` for `lease` (the head of `finish` and `claim_keys`).
    fn claimed_rows(s: &mut Statement, token: &str, keys: &[JournalKey], lease: Duration) {
        s.insert_into().sql("VALUES ");
        for (i, key) in keys.iter().enumerate() {
            if i > 0 {
                s.sql(", ");
            }
            s.sql("(")
                .text(&key.target)
                .sql(", ")
                .text(key.subject.entity_column())
                .sql(", ")
                .text(&key.tenant_id)
                .sql(", ")
                .text(&key.subject.key_column())
                .sql(", ")
                .int(i64::from(key.subject.cascades()))
                .sql(", 1, 0, ")
                .now()
                .sql(", ")
                .text(token)
                .sql(", ")
                .now_plus(lease)
                .sql(", 0, ")
                .now()
                .sql(", 0, NULL, ")
                .now()
                .sql(", ")
                .now()
                .sql(")");
        }
    }

    /// The part of `finish_copied` that settles: deletes the rows of
    /// `marks` still as their writer's `begin` left them (same `seq`, that
    /// write alone in flight, no live claim, not dead) and returns their
    /// keys. Only where `DELETE … RETURNING` exists: a MySQL journal returns
    /// no marks, so it is never asked.
    async fn settle_lone_chunk(&self, marks: &[Mark]) -> Result<Vec<RowId>> {
        let dialect = self.dialect();
        if marks.is_empty() || dialect.is_mysql() {
            return Ok(Vec::new());
        }
        let mut s = Statement::new(dialect);
        s.sql(&format!(
            "DELETE FROM {JOURNAL_TABLE} WHERE (target, entity, tenant_id, record_key, seq) IN "
        ))
        .row_list(marks.iter().map(|m| (&m.key, Some(m.seq))))
        .sql(" AND pending_writes = 1 AND dead = 0 AND claim_until < ")
        .now()
        .lazy_flush_condition()
        .sql(" RETURNING ")
        .key_columns(&[])
        .lazy_flush_column();
        let rows = self.fetch(s, KEY_COLUMNS.len()).await?;
        rows.iter().map(|row| Ok(key_of(row)?.row_id())).collect()
    }

    /// `finish` (or a re-mark, `claim: false`) for one chunk of keys.
    async fn finish_chunk(
        &self,
        token: &str,
        keys: &[JournalKey],
        lease: Duration,
    ) -> Result<Vec<Claim>> {
        let dialect = self.dialect();
        let mut s = Statement::new(dialect);
        Self::claimed_rows(&mut s, token, keys, lease);
        s.on_conflict();
        let pending = format!(
            "pending_writes = {}, ",
            s.greatest(&format!("{} - 1", s.old("pending_writes")), "0")
        );
        s.sql(&pending);
        if dialect.is_mysql() {
            // claimed_by first (it reads the old claim_until), then claim_until
            // (it reads the claimed_by just assigned: ours only if we won).
            s.sql("claimed_by = CASE WHEN claim_until < ")
                .now()
                .sql(" THEN VALUES(claimed_by) ELSE claimed_by END, ")
                .sql("claim_until = CASE WHEN claimed_by = VALUES(claimed_by) THEN VALUES(claim_until) ELSE claim_until END, ");
        } else {
            let (old_until, new_by, old_by, new_until) = (
                s.old("claim_until"),
                s.new_value("claimed_by"),
                s.old("claimed_by"),
                s.new_value("claim_until"),
            );
            s.sql(&format!("claimed_by = CASE WHEN {old_until} < "))
                .now()
                .sql(&format!(" THEN {new_by} ELSE {old_by} END, "))
                .sql(&format!("claim_until = CASE WHEN {old_until} < "))
                .now()
                .sql(&format!(" THEN {new_until} ELSE {old_until} END, "));
        }
        s.marked();
        self.claims_of_upsert(s, token, keys).await
    }

    /// Runs an upsert of `keys` that claims rows for `token`, and returns the
    /// claims it won: through `RETURNING`, or on MySQL by reading the rows back.
    async fn claims_of_upsert(
        &self,
        mut upsert: Statement,
        token: &str,
        keys: &[JournalKey],
    ) -> Result<Vec<Claim>> {
        let dialect = self.dialect();
        let rows = if dialect.is_mysql() {
            self.execute(upsert).await?;
            let mut read = Statement::new(dialect);
            read.sql("SELECT ").claim_columns();
            read.sql(&format!(
                " FROM {JOURNAL_TABLE} WHERE (target, entity, tenant_id, record_key) IN "
            ))
            .key_list(keys);
            self.fetch(read, CLAIM_COLUMNS).await?
        } else {
            upsert
                .sql(" RETURNING ")
                .claim_columns()
                .lazy_flush_column();
            self.fetch(upsert, CLAIM_COLUMNS).await?
        };
        let mut claims = Vec::new();
        for row in &rows {
            claims.extend(claim_of(row, token)?);
        }
        Ok(claims)
    }

    /// `claim_keys` for one chunk of keys.
    async fn claim_keys_chunk(
        &self,
        token: &str,
        keys: &[JournalKey],
        lease: Duration,
    ) -> Result<Vec<Claim>> {
        let dialect = self.dialect();
        let mut s = Statement::new(dialect);
        Self::claimed_rows(&mut s, token, keys, lease);
        s.on_conflict();
        // A row is taken only when it is free: not dead, no write in flight,
        // no live claim. Nothing else changes, `seq` least of all.
        let free = |s: &mut Statement, qualify: &dyn Fn(&str) -> String| {
            s.sql(&format!("{} < ", qualify("claim_until")))
                .now()
                .sql(&format!(
                    " AND {} = 0 AND ({} = 0 OR {} < ",
                    qualify("dead"),
                    qualify("pending_writes"),
                    qualify("writes_until")
                ))
                .now()
                .sql(")");
        };
        if dialect.is_mysql() {
            // MySQL assigns left to right: `free` reads only columns that
            // are still unchanged when each assignment runs (claim_until is
            // read before it is assigned), so a claim the token already
            // holds keeps its lease, as on the other databases.
            s.sql("claimed_by = CASE WHEN ");
            free(&mut s, &|c| c.to_owned());
            s.sql(" THEN VALUES(claimed_by) ELSE claimed_by END, claim_until = CASE WHEN ");
            free(&mut s, &|c| c.to_owned());
            s.sql(" THEN VALUES(claim_until) ELSE claim_until END");
        } else {
            let old = |c: &str| format!("{JOURNAL_TABLE}.{c}");
            s.sql("claimed_by = CASE WHEN ");
            free(&mut s, &old);
            s.sql(" THEN excluded.claimed_by ELSE ")
                .sql(&old("claimed_by"))
                .sql(" END, claim_until = CASE WHEN ");
            free(&mut s, &old);
            s.sql(" THEN excluded.claim_until ELSE ")
                .sql(&old("claim_until"))
                .sql(" END");
        }
        self.claims_of_upsert(s, token, keys).await
    }

    /// `settle_many` for one chunk of claims that share one token: one
    /// `DELETE` of the rows that may go (on MySQL, between a read of those
    /// rows and a read of what is left); the rest as `settle` does them.
    async fn settle_chunk(&self, token: &str, claims: &[Claim]) -> Result<Vec<bool>> {
        let dialect = self.dialect();
        // What `settle` deletes, for every claim of the chunk at once.
        let deletable = |s: &mut Statement| {
            s.sql("claimed_by = ")
                .text(token)
                .sql(" AND (pending_writes = 0 OR writes_until < ")
                .now()
                .sql(") AND (target, entity, tenant_id, record_key, seq) IN ")
                .row_list(claims.iter().map(|c| (&c.key, Some(c.seq))));
        };
        let id_columns = [
            Col::Text("target"),
            Col::Text("entity"),
            Col::Text("tenant_id"),
            Col::Text("record_key"),
            Col::Int("seq"),
        ];
        type Id = (String, String, String, String, String);
        let id_of = |claim: &Claim| -> Id {
            (
                claim.key.target.clone(),
                claim.key.subject.entity_column().to_owned(),
                claim.key.tenant_id.clone(),
                claim.key.subject.key_column(),
                claim.seq.to_string(),
            )
        };
        let row_id = |row: &TextRow| -> Id {
            let text = |i| column(row, i).unwrap_or_default().to_owned();
            (text(0), text(1), text(2), text(3), text(4))
        };
        let mut settled: HashSet<Id> = if dialect == Dialect::MySql {
            // No `DELETE … RETURNING`. A row is settled if it could be
            // deleted before the delete and is gone after it: a row merely
            // absent (another holder settled it after this claim was lost)
            // is not, so it is marked again as `settle` marks it. A row gone
            // between the two reads without this delete was taken over after
            // this copy was written (so the new holder's copy is the later
            // one) or discarded: nothing to copy again. A row written again
            // since the delete is taken for one left, which costs one more
            // copy, never a lost one.
            let mut read = Statement::new(dialect);
            read.sql("SELECT ")
                .columns(&id_columns)
                .sql(&format!(" FROM {JOURNAL_TABLE} WHERE "));
            deletable(&mut read);
            let candidates: Vec<Id> = self.fetch(read, 5).await?.iter().map(row_id).collect();
            if candidates.is_empty() {
                HashSet::new()
            } else {
                let mut delete = Statement::new(dialect);
                delete.sql(&format!("DELETE FROM {JOURNAL_TABLE} WHERE "));
                deletable(&mut delete);
                self.execute(delete).await?;
                let mut read = Statement::new(dialect);
                read.sql("SELECT ").columns(&id_columns).sql(&format!(
                    " FROM {JOURNAL_TABLE} WHERE (target, entity, tenant_id, record_key) IN "
                ));
                let keys: Vec<JournalKey> = claims
                    .iter()
                    .filter(|c| candidates.contains(&id_of(c)))
                    .map(|c| c.key.clone())
                    .collect();
                read.key_list(&keys);
                let left: HashSet<(String, String, String, String)> = self
                    .fetch(read, 5)
                    .await?
                    .iter()
                    .map(|row| {
                        let (t, e, k, r, _) = row_id(row);
                        (t, e, k, r)
                    })
                    .collect();
                candidates
                    .into_iter()
                    .filter(|(t, e, k, r, _)| {
                        !left.contains(&(t.clone(), e.clone(), k.clone(), r.clone()))
                    })
                    .collect()
            }
        } else {
            let mut delete = Statement::new(dialect);
            delete.sql(&format!("DELETE FROM {JOURNAL_TABLE} WHERE "));
            deletable(&mut delete);
            delete
                .lazy_flush_condition()
                .sql(" RETURNING ")
                .columns(&id_columns);
            self.fetch(delete, 5).await?.iter().map(row_id).collect()
        };
        let mut out = Vec::with_capacity(claims.len());
        for claim in claims {
            // Each deleted row settles one claim: the same claim given again
            // finds the row gone, as a second `settle` would.
            if settled.remove(&id_of(claim)) {
                out.push(true);
                continue;
            }
            if !self.release_held(claim).await? {
                self.mark(&claim.key).await?;
            }
            out.push(false);
        }
        Ok(out)
    }

    /// Marks `key` changed, so that it is applied again (see `settle`).
    async fn mark(&self, key: &JournalKey) -> Result<()> {
        let mut s = Statement::new(self.dialect());
        s.insert_into()
            .sql("VALUES (")
            .text(&key.target)
            .sql(", ")
            .text(key.subject.entity_column())
            .sql(", ")
            .text(&key.tenant_id)
            .sql(", ")
            .text(&key.subject.key_column())
            .sql(", ")
            .int(i64::from(key.subject.cascades()))
            .sql(", 1, 0, ")
            .now()
            .sql(", NULL, 0, 0, ")
            .now()
            .sql(", 0, NULL, ")
            .now()
            .sql(", ")
            .now()
            .sql(")")
            .on_conflict()
            .marked();
        self.execute(s).await.map(|_| ())
    }

    /// Releases `claim` (a newer write arrived, or a write is in flight); `false` if not held.
    async fn release_held(&self, claim: &Claim) -> Result<bool> {
        let mut s = Statement::new(self.dialect());
        s.sql(&format!(
            "UPDATE {JOURNAL_TABLE} SET claim_until = 0, claimed_by = NULL WHERE "
        ))
        .key_is(&claim.key)
        .sql(" AND claimed_by = ")
        .text(&claim.token)
        .lazy_flush_condition();
        Ok(self.execute(s).await? > 0)
    }

    async fn ensure_stage_row(&self, fence: &Fence) -> Result<()> {
        let mut s = Statement::new(self.dialect());
        let head = if self.dialect().is_mysql() {
            format!(
                "INSERT IGNORE INTO {STAGE_TABLE} (scope, stage, generation, changed_at) VALUES ("
            )
        } else {
            format!("INSERT INTO {STAGE_TABLE} (scope, stage, generation, changed_at) VALUES (")
        };
        s.sql(&head)
            .text(&fence.scope)
            .sql(", ")
            .text(&fence.stage)
            .sql(", 0, ")
            .now()
            .sql(")");
        if !self.dialect().is_mysql() {
            s.sql(" ON CONFLICT (scope) DO NOTHING");
        }
        self.execute(s).await.map(|_| ())
    }
}

#[async_trait::async_trait]
impl<E: JournalSql> ReplicationJournal for SqlJournal<E> {
    async fn begin(&self, fence: &Fence, keys: &[JournalKey], lease: Duration) -> Result<Begun> {
        let keys = merged_keys(keys);
        let mut marks = Vec::new();
        for (index, chunk) in keys.chunks(KEYS_PER_STATEMENT).enumerate() {
            if index == 0 {
                match self.begin_first(fence, chunk, lease).await? {
                    Begun::Recorded(first) => {
                        marks.extend(first);
                        continue;
                    }
                    moved => return Ok(moved),
                }
            }
            if let Some(more) = self.begin_chunk(fence, chunk, lease).await? {
                marks.extend(more);
                continue;
            }
            let stored = self.stage(&fence.scope).await?;
            // A switch between two chunks of one write: the first chunks are
            // recorded, so the write must go ahead under its old routing
            // only if the rest can be recorded too; record them unfenced
            // (the switch waits for them, as for any write in flight).
            let open = Fence {
                generation: stored.map_or(0, |s| s.generation),
                ..fence.clone()
            };
            marks.extend(
                self.begin_chunk(&open, chunk, lease)
                    .await?
                    .unwrap_or_default(),
            );
        }
        Ok(Begun::Recorded(marks))
    }

    async fn finish(
        &self,
        token: &str,
        keys: &[JournalKey],
        lease: Duration,
    ) -> Result<Vec<Claim>> {
        let keys = merged_keys(keys);
        let mut claims = Vec::new();
        for chunk in keys.chunks(KEYS_PER_STATEMENT) {
            claims.extend(self.finish_chunk(token, chunk, lease).await?);
        }
        Ok(claims)
    }

    async fn finish_copied(
        &self,
        token: &str,
        keys: &[JournalKey],
        copied: &[Mark],
        lease: Duration,
    ) -> Result<Vec<Claim>> {
        let mut settled = std::collections::HashSet::new();
        for chunk in copied.chunks(KEYS_PER_STATEMENT) {
            settled.extend(self.settle_lone_chunk(chunk).await?);
        }
        let rest: Vec<JournalKey> = merged_keys(keys)
            .into_iter()
            .filter(|key| !settled.contains(&key.row_id()))
            .collect();
        let mut claims = Vec::new();
        for chunk in rest.chunks(KEYS_PER_STATEMENT) {
            claims.extend(self.finish_chunk(token, chunk, lease).await?);
        }
        Ok(claims)
    }

    async fn claim(
        &self,
        token: &str,
        target: &str,
        limit: usize,
        lease: Duration,
    ) -> Result<Vec<Claim>> {
        let dialect = self.dialect();
        let limit = i64::try_from(limit.max(1)).unwrap_or(i64::MAX);
        let due = |s: &mut Statement| {
            s.sql("target = ")
                .text(target)
                .sql(" AND dead = 0 AND next_attempt_at <= ")
                .now()
                .sql(" AND claim_until < ")
                .now()
                .sql(" AND (pending_writes = 0 OR writes_until < ")
                .now()
                .sql(")");
        };
        let mut s = Statement::new(dialect);
        s.sql(&format!("UPDATE {JOURNAL_TABLE} SET claimed_by = "))
            .text(token)
            .sql(", claim_until = ")
            .now_plus(lease)
            .sql(" WHERE ");
        let rows = if dialect.is_mysql() {
            // Without RETURNING, the read-back must tell this call's rows from
            // those the same token already holds: they are the ones whose
            // claim runs until this call's deadline, read from the database's
            // clock first (two claims of one token within a millisecond
            // would share it: give each call its own token).
            let mut clock = Statement::new(dialect);
            clock.sql("SELECT ").columns(&[Col::Until(lease)]);
            let until = self
                .fetch(clock, 1)
                .await?
                .first()
                .map(|row| int_column(row, 0))
                .ok_or_else(|| bad_row("clock"))??;
            let mut s = Statement::new(dialect);
            s.sql(&format!("UPDATE {JOURNAL_TABLE} SET claimed_by = "))
                .text(token)
                .sql(", claim_until = ")
                .int(until)
                .sql(" WHERE ");
            due(&mut s);
            s.sql(" ORDER BY created_at LIMIT ").int(limit);
            self.execute(s).await?;
            let mut read = Statement::new(dialect);
            read.sql("SELECT ").claim_columns();
            read.sql(&format!(" FROM {JOURNAL_TABLE} WHERE target = "))
                .text(target)
                .sql(" AND claimed_by = ")
                .text(token)
                .sql(" AND claim_until = ")
                .int(until);
            self.fetch(read, CLAIM_COLUMNS).await?
        } else {
            s.sql(&format!(
                "(target, entity, tenant_id, record_key) IN (SELECT target, entity, tenant_id, record_key FROM {JOURNAL_TABLE} WHERE "
            ));
            due(&mut s);
            s.sql(" ORDER BY created_at LIMIT ").int(limit);
            if dialect == Dialect::Postgres {
                s.sql(" FOR UPDATE SKIP LOCKED");
            }
            s.sql(") RETURNING ").claim_columns().lazy_flush_column();
            self.fetch(s, CLAIM_COLUMNS).await?
        };
        let mut claims = Vec::new();
        for row in &rows {
            claims.extend(claim_of(row, token)?);
        }
        claims.sort_by_key(|c| c.since);
        Ok(claims)
    }

    async fn claim_keys(
        &self,
        token: &str,
        keys: &[JournalKey],
        lease: Duration,
    ) -> Result<Vec<Claim>> {
        let keys = merged_keys(keys);
        let mut claims = Vec::new();
        for chunk in keys.chunks(KEYS_PER_STATEMENT) {
            claims.extend(self.claim_keys_chunk(token, chunk, lease).await?);
        }
        Ok(claims)
    }

    async fn settle_many(&self, claims: &[Claim]) -> Result<Vec<bool>> {
        let mut out = Vec::with_capacity(claims.len());
        // Consecutive claims of one token go together (a copier's batch has one).
        let mut start = 0;
        while start < claims.len() {
            let token = &claims[start].token;
            let end = claims[start..]
                .iter()
                .take(KEYS_PER_STATEMENT)
                .position(|c| c.token != *token)
                .map_or((start + KEYS_PER_STATEMENT).min(claims.len()), |n| {
                    start + n
                });
            out.extend(self.settle_chunk(token, &claims[start..end]).await?);
            start = end;
        }
        Ok(out)
    }

    async fn settle(&self, claim: &Claim) -> Result<bool> {
        let mut s = Statement::new(self.dialect());
        s.sql(&format!("DELETE FROM {JOURNAL_TABLE} WHERE "))
            .key_is(&claim.key)
            .sql(" AND claimed_by = ")
            .text(&claim.token)
            .sql(" AND seq = ")
            .int(claim.seq)
            .sql(" AND (pending_writes = 0 OR writes_until < ")
            .now()
            .sql(")")
            .lazy_flush_condition();
        if self.execute(s).await? > 0 {
            return Ok(true);
        }
        if !self.release_held(claim).await? {
            // The claim was lost: what this holder copied may be late; copy again.
            self.mark(&claim.key).await?;
        }
        Ok(false)
    }

    async fn fail(&self, claim: &Claim, failure: &Failure) -> Result<()> {
        let mut s = Statement::new(self.dialect());
        s.sql(&format!(
            "UPDATE {JOURNAL_TABLE} SET attempts = attempts + 1, dead = CASE WHEN seq = "
        ))
        .int(claim.seq)
        .sql(" THEN ")
        .int(i64::from(failure.dead))
        .sql(" ELSE 0 END, last_error = ")
        .text(&failure.error)
        .sql(", next_attempt_at = ")
        .now_plus_millis(delay_millis(failure.retry_in))
        .sql(", claim_until = 0, claimed_by = NULL WHERE ")
        .key_is(&claim.key)
        .sql(" AND claimed_by = ")
        .text(&claim.token)
        .lazy_flush_condition();
        if self.execute(s).await? == 0 {
            self.mark(&claim.key).await?;
        }
        Ok(())
    }

    async fn release(&self, claim: &Claim) -> Result<()> {
        self.release_held(claim).await.map(|_| ())
    }

    async fn entries(&self, filter: &EntryFilter, limit: usize) -> Result<Vec<JournalEntry>> {
        let mut s = Statement::new(self.dialect());
        s.sql("SELECT ")
            .key_columns(&[
                Col::Int("attempts"),
                Col::Int("dead"),
                Col::Text("last_error"),
                Col::Int("created_at"),
                Col::InFlight,
            ])
            .sql(&format!(" FROM {JOURNAL_TABLE} WHERE 1 = 1"))
            .filter(filter)
            .sql(" ORDER BY created_at LIMIT ")
            .int(i64::try_from(limit).unwrap_or(i64::MAX));
        let rows = self.fetch(s, 10).await?;
        rows.iter()
            .map(|row| {
                Ok(JournalEntry {
                    key: key_of(row)?,
                    attempts: u32::try_from(int_column(row, 5)?).unwrap_or(u32::MAX),
                    dead: int_column(row, 6)? != 0,
                    last_error: column(row, 7).map(str::to_owned),
                    since: stamp_column(row, 8)?,
                    in_flight: int_column(row, 9)? != 0,
                })
            })
            .collect()
    }

    async fn revive(&self, filter: &EntryFilter) -> Result<u64> {
        let mut s = Statement::new(self.dialect());
        s.sql(&format!(
            "UPDATE {JOURNAL_TABLE} SET dead = 0, attempts = 0, next_attempt_at = "
        ))
        .now()
        .sql(", claim_until = 0, claimed_by = NULL WHERE dead = 1")
        .filter(filter);
        self.execute(s).await
    }

    async fn discard(&self, filter: &EntryFilter) -> Result<u64> {
        let mut s = Statement::new(self.dialect());
        s.sql(&format!("DELETE FROM {JOURNAL_TABLE} WHERE 1 = 1"))
            .filter(filter);
        self.execute(s).await
    }

    async fn backlog(&self) -> Result<Vec<Backlog>> {
        let mut s = Statement::new(self.dialect());
        s.sql("SELECT ")
            .columns(&[
                Col::Text("target"),
                Col::Int("SUM(CASE WHEN dead = 0 THEN 1 ELSE 0 END)"),
                Col::Int("SUM(dead)"),
                Col::Int("MIN(CASE WHEN dead = 0 THEN created_at END)"),
            ])
            .sql(&format!(
                " FROM {JOURNAL_TABLE} GROUP BY target ORDER BY target"
            ));
        let rows = self.fetch(s, 4).await?;
        rows.iter()
            .map(|row| {
                let count = |i| {
                    column(row, i)
                        .and_then(|v| v.split('.').next())
                        .and_then(|v| v.parse::<u64>().ok())
                        .unwrap_or(0)
                };
                Ok(Backlog {
                    target: column(row, 0).ok_or_else(|| bad_row("target"))?.to_owned(),
                    pending: count(1),
                    dead: count(2),
                    oldest_pending: column(row, 3)
                        .and_then(|v| v.parse::<i64>().ok())
                        .and_then(Timestamp::from_millis),
                })
            })
            .collect()
    }

    async fn stage(&self, scope: &str) -> Result<Option<StageRecord>> {
        let mut s = Statement::new(self.dialect());
        s.sql("SELECT ")
            .columns(&[
                Col::Text("scope"),
                Col::Text("stage"),
                Col::Int("generation"),
                Col::Int("changed_at"),
            ])
            .sql(&format!(" FROM {STAGE_TABLE} WHERE scope = "))
            .text(scope);
        let rows = self.fetch(s, 4).await?;
        let Some(row) = rows.first() else {
            return Ok(None);
        };
        Ok(Some(StageRecord {
            scope: column(row, 0).ok_or_else(|| bad_row("scope"))?.to_owned(),
            stage: column(row, 1).ok_or_else(|| bad_row("stage"))?.to_owned(),
            generation: int_column(row, 2)?,
            changed_at: stamp_column(row, 3)?,
        }))
    }

    async fn set_stage(
        &self,
        scope: &str,
        expected: i64,
        stage: &str,
        generation: i64,
    ) -> Result<bool> {
        let mut s = Statement::new(self.dialect());
        s.sql(&format!("UPDATE {STAGE_TABLE} SET stage = "))
            .text(stage)
            .sql(", generation = ")
            .int(generation)
            .sql(", changed_at = ")
            .now()
            .sql(" WHERE scope = ")
            .text(scope)
            .sql(" AND generation = ")
            .int(expected);
        if self.execute(s).await? > 0 {
            return Ok(true);
        }
        if expected != 0 || self.stage(scope).await?.is_some() {
            return Ok(false);
        }
        let mut s = Statement::new(self.dialect());
        let head = if self.dialect().is_mysql() {
            format!(
                "INSERT IGNORE INTO {STAGE_TABLE} (scope, stage, generation, changed_at) VALUES ("
            )
        } else {
            format!("INSERT INTO {STAGE_TABLE} (scope, stage, generation, changed_at) VALUES (")
        };
        s.sql(&head)
            .text(scope)
            .sql(", ")
            .text(stage)
            .sql(", ")
            .int(generation)
            .sql(", ")
            .now()
            .sql(")");
        if !self.dialect().is_mysql() {
            s.sql(" ON CONFLICT (scope) DO NOTHING");
        }
        Ok(self.execute(s).await? > 0)
    }
}

/// The DDL of the journal and stage tables for `dialect` (part of
/// [`crate::schema::statements`]).
pub fn schema_statements(dialect: Dialect) -> Vec<String> {
    let options = match dialect {
        Dialect::MariaDb => " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin",
        Dialect::MySql => " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_0900_bin",
        _ => "",
    };
    let due_index = "switchyard_journal_due_idx";
    let mysql_index = if dialect.is_mysql() {
        format!(",\n  KEY {due_index} (target, dead, created_at)")
    } else {
        String::new()
    };
    let mut out = vec![
        format!(
            "CREATE TABLE IF NOT EXISTS {JOURNAL_TABLE} (\n  target VARCHAR(64) NOT NULL,\n  \
             entity VARCHAR(32) NOT NULL,\n  tenant_id VARCHAR(255) NOT NULL,\n  \
             record_key VARCHAR(255) NOT NULL,\n  cascades BIGINT NOT NULL,\n  seq BIGINT NOT NULL,\n  \
             pending_writes BIGINT NOT NULL,\n  writes_until BIGINT NOT NULL,\n  \
             claimed_by VARCHAR(128) NULL,\n  claim_until BIGINT NOT NULL,\n  \
             attempts BIGINT NOT NULL,\n  next_attempt_at BIGINT NOT NULL,\n  dead BIGINT NOT NULL,\n  \
             last_error TEXT NULL,\n  created_at BIGINT NOT NULL,\n  updated_at BIGINT NOT NULL,\n  \
             PRIMARY KEY (target, entity, tenant_id, record_key){mysql_index}\n){options}"
        ),
        format!(
            "CREATE TABLE IF NOT EXISTS {STAGE_TABLE} (\n  scope VARCHAR(64) NOT NULL,\n  \
             stage VARCHAR(32) NOT NULL,\n  generation BIGINT NOT NULL,\n  \
             changed_at BIGINT NOT NULL,\n  PRIMARY KEY (scope)\n){options}"
        ),
    ];
    if !dialect.is_mysql() {
        out.push(format!(
            "CREATE INDEX IF NOT EXISTS {due_index} ON {JOURNAL_TABLE} (target, dead, created_at)"
        ));
    }
    out
}
