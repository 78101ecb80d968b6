//! SQL text for every statement the store runs, generic over the record and
//! the driver. Identifiers come from the column metadata and are quoted;
//! every value is bound.

use adapter_interfaces::list::OrderBy;
use adapter_interfaces::query::metadata::{self, SqlPiece};
use adapter_interfaces::query::{CompareOp, Filter};
use adapter_interfaces::record::{ClashProbe, Column, ColumnKind, Record, Value, to_values};
use adapter_interfaces::schema::{Dialect, is_tenant_scoped};
use adapter_interfaces::{ListPlan, SortOrder};
use sqlx::QueryBuilder;

use crate::backend::Backend;

/// The column that scopes tenant-owned tables.
pub(crate) const TENANT_ID: &str = "tenant_id";

/// The tenant-id column's kind, for binding.
const TENANT_KIND: ColumnKind = ColumnKind::Text { max_chars: 64 };

/// Largest statement, in estimated bytes of bound values, that a batch builds:
/// well under MariaDB's default `max_allowed_packet` (16 MiB).
const MAX_BATCH_BYTES: usize = 4 * 1024 * 1024;

/// SQL building for one dialect.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sql {
    pub(crate) dialect: Dialect,
}

impl Sql {
    pub(crate) fn q(self, ident: &str) -> String {
        self.dialect.quote(ident)
    }

    fn table<R: Record>(self) -> String {
        self.q(R::KIND.table())
    }

    fn columns<R: Record>(self) -> String {
        R::COLUMNS
            .iter()
            .map(|c| self.q(c.name))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// `"tenant_id" = ?` for tenant-scoped tables (`1 = 1` for tenants).
    fn push_scope<DB: Backend, R: Record>(self, qb: &mut QueryBuilder<DB>, tenant: &str) {
        if is_tenant_scoped(R::KIND) {
            qb.push(self.q(TENANT_ID)).push(" = ");
            DB::push_value(qb, TENANT_KIND, &Value::Text(tenant.to_owned()));
        } else {
            qb.push("1 = 1");
        }
    }

    fn push_key<DB: Backend, R: Record>(self, qb: &mut QueryBuilder<DB>, tenant: &str, key: &str) {
        self.push_scope::<DB, R>(qb, tenant);
        let column = R::key_column();
        qb.push(" AND ").push(self.q(column.name)).push(" = ");
        DB::push_value(qb, column.kind, &Value::Text(key.to_owned()));
    }

    /// `SELECT <columns> FROM <table> WHERE <scope>`, ready for more conditions.
    pub(crate) fn select<DB: Backend, R: Record>(self, tenant: &str) -> QueryBuilder<DB> {
        let mut qb = QueryBuilder::new(format!(
            "SELECT {} FROM {} WHERE ",
            self.columns::<R>(),
            self.table::<R>()
        ));
        self.push_scope::<DB, R>(&mut qb, tenant);
        qb
    }

    /// One record by key, locked for update where the database can.
    pub(crate) fn select_key<DB: Backend, R: Record>(
        self,
        tenant: &str,
        key: &str,
        for_update: bool,
    ) -> QueryBuilder<DB> {
        let mut qb = QueryBuilder::new(format!(
            "SELECT {} FROM {} WHERE ",
            self.columns::<R>(),
            self.table::<R>()
        ));
        self.push_key::<DB, R>(&mut qb, tenant, key);
        if for_update && DB::FOR_UPDATE {
            qb.push(" FOR UPDATE");
        }
        qb
    }

    /// Which of `keys` exist; with `for_update`, locked in key order where
    /// the database can. PostgreSQL takes `FOR NO KEY UPDATE`: it queues
    /// other lockers of the same rows as `FOR UPDATE` does, but not the
    /// `FOR KEY SHARE` that a foreign-key check of another transaction takes
    /// on them (two batches of passwords sharing users otherwise deadlocked,
    /// each one's insert waiting on a user the other had locked).
    pub(crate) fn select_existing<DB: Backend, R: Record>(
        self,
        tenant: &str,
        column: &Column,
        keys: &[&str],
        for_update: bool,
    ) -> QueryBuilder<DB> {
        let mut qb = QueryBuilder::new(format!(
            "SELECT {} FROM {} WHERE ",
            self.q(column.name),
            self.table::<R>()
        ));
        self.push_scope::<DB, R>(&mut qb, tenant);
        qb.push(" AND ").push(self.q(column.name)).push(" IN (");
        for (i, key) in keys.iter().enumerate() {
            if i > 0 {
                qb.push(", ");
            }
            DB::push_value(&mut qb, column.kind, &Value::Text((*key).to_owned()));
        }
        qb.push(")");
        if for_update && DB::FOR_UPDATE {
            qb.push(" ORDER BY ").push(self.q(column.name));
            qb.push(match self.dialect {
                Dialect::Postgres => " FOR NO KEY UPDATE",
                _ => " FOR UPDATE",
            });
        }
        qb
    }

    /// The tenant's records that hold the values of any of `probes`:
    /// `SELECT <columns> … WHERE <scope> AND ((c1 = ? AND c2 = ?) OR …)`.
    pub(crate) fn holders<DB: Backend, R: Record>(
        self,
        tenant: &str,
        probes: &[ClashProbe],
    ) -> QueryBuilder<DB> {
        let mut qb = self.select::<DB, R>(tenant);
        qb.push(" AND (");
        for (i, probe) in probes.iter().enumerate() {
            qb.push(if i == 0 { "(" } else { " OR (" });
            let columns = probe.columns.iter().filter_map(|name| R::column(name));
            for (j, (column, value)) in columns.zip(&probe.values).enumerate() {
                if j > 0 {
                    qb.push(" AND ");
                }
                qb.push(format!("{} = ", self.q(column.name)));
                DB::push_value(&mut qb, column.kind, value);
            }
            qb.push(")");
        }
        if probes.is_empty() {
            qb.push("1 = 0");
        }
        qb.push(")");
        qb
    }

    /// `SELECT 1 FROM tenants WHERE id = ?`.
    pub(crate) fn tenant_exists<DB: Backend>(self, tenant: &str) -> QueryBuilder<DB> {
        let mut qb = QueryBuilder::new(format!(
            "SELECT 1 FROM {} WHERE {} = ",
            self.q("tenants"),
            self.q("id")
        ));
        DB::push_value(&mut qb, TENANT_KIND, &Value::Text(tenant.to_owned()));
        qb
    }

    /// `DELETE FROM <table> WHERE <scope> AND <key> = ?`.
    pub(crate) fn delete_key<DB: Backend, R: Record>(
        self,
        tenant: &str,
        key: &str,
    ) -> QueryBuilder<DB> {
        let mut qb = QueryBuilder::new(format!("DELETE FROM {} WHERE ", self.table::<R>()));
        self.push_key::<DB, R>(&mut qb, tenant, key);
        qb
    }

    /// `UPDATE <table> SET <every non-key column> WHERE <scope> AND <key> = ?`.
    pub(crate) fn update<DB: Backend, R: Record>(
        self,
        tenant: &str,
        record: &R,
    ) -> QueryBuilder<DB> {
        let mut qb = QueryBuilder::new(format!("UPDATE {} SET ", self.table::<R>()));
        for (i, (column, value)) in R::COLUMNS.iter().zip(to_values(record)).enumerate().skip(1) {
            if i > 1 {
                qb.push(", ");
            }
            qb.push(self.q(column.name)).push(" = ");
            DB::push_value(&mut qb, column.kind, &value);
        }
        qb.push(" WHERE ");
        self.push_key::<DB, R>(&mut qb, tenant, record.key());
        qb
    }

    /// A multi-row `INSERT`; with `upsert`, rows whose key exists are
    /// overwritten in place (`ON CONFLICT ... DO UPDATE`, never a delete).
    pub(crate) fn insert<DB: Backend, R: Record>(
        self,
        tenant: &str,
        records: &[&R],
        upsert: bool,
    ) -> QueryBuilder<DB> {
        let scoped = is_tenant_scoped(R::KIND);
        let mut head = format!("INSERT INTO {} (", self.table::<R>());
        if scoped {
            head.push_str(&self.q(TENANT_ID));
            head.push_str(", ");
        }
        head.push_str(&self.columns::<R>());
        head.push(')');
        let mut qb = QueryBuilder::new(head);
        let mut kinds = Vec::with_capacity(adapter_interfaces::bulk::binds_per_row::<R>());
        if scoped {
            kinds.push(TENANT_KIND);
        }
        kinds.extend(R::COLUMNS.iter().map(|c| c.kind));
        let rows = records
            .iter()
            .map(|record| {
                let mut row = Vec::with_capacity(kinds.len());
                if scoped {
                    row.push(Value::Text(tenant.to_owned()));
                }
                row.extend(to_values(*record));
                row
            })
            .collect();
        DB::push_rows(&mut qb, &kinds, rows);
        if upsert {
            let mut target = Vec::new();
            if scoped {
                target.push(self.q(TENANT_ID));
            }
            target.push(self.q(R::key_column().name));
            let sets: Vec<String> = R::COLUMNS[1..]
                .iter()
                .map(|c| format!("{0} = excluded.{0}", self.q(c.name)))
                .collect();
            qb.push(format!(
                " ON CONFLICT ({}) DO UPDATE SET {}",
                target.join(", "),
                sets.join(", ")
            ));
        }
        qb
    }

    /// Splits `records` into batches that stay under the bind-parameter
    /// limit and a size budget.
    pub(crate) fn batches<'a, DB: Backend, R: Record>(records: &'a [&'a R]) -> Vec<&'a [&'a R]> {
        let max_rows = DB::max_insert_rows(adapter_interfaces::bulk::binds_per_row::<R>());
        adapter_interfaces::bulk::batches_within(records, max_rows, MAX_BATCH_BYTES)
    }

    /// The page query of a listing.
    pub(crate) fn list<DB: Backend, R: Record>(
        self,
        tenant: &str,
        plan: &ListPlan,
    ) -> QueryBuilder<DB> {
        let mut qb = self.select::<DB, R>(tenant);
        if let Some(filter) = &plan.filter {
            qb.push(" AND ");
            self.push_filter::<DB, R>(&mut qb, filter);
        }
        let mut nulls_matter = true;
        if let Some(keyset) = &plan.keyset {
            qb.push(" AND ");
            // The keyset must be a range the (tenant_id, column, key) index can seek
            // to, so that each page costs its own rows and a full scan is linear:
            // the OR of the plan alone is not sargable.
            match keyset_parts(keyset)
                .and_then(|k| Some((R::column(k.column)?, R::column(k.key_column)?, k)))
            {
                Some((column, key_column, k)) if self.dialect == Dialect::Postgres => {
                    // A row comparison is an index condition with good estimates; a
                    // NULL sort value makes it false, and those rows are behind us.
                    qb.push(format!(
                        "({}, {}) {} (",
                        self.q(column.name),
                        self.q(key_column.name),
                        k.op.sql()
                    ));
                    DB::push_value(&mut qb, column.kind, k.value);
                    qb.push(", ");
                    DB::push_value(&mut qb, key_column.kind, k.key);
                    qb.push(")");
                    nulls_matter = false;
                }
                Some((column, _, k)) => {
                    // MySQL does not turn row comparisons into ranges: add the implied
                    // `column >= value` (or `<=`) as the range.
                    let guard = if k.op == CompareOp::Gt {
                        CompareOp::Ge
                    } else {
                        CompareOp::Le
                    };
                    self.push_compare::<DB>(&mut qb, column, guard, k.value);
                    qb.push(" AND ");
                    self.push_filter::<DB, R>(&mut qb, keyset);
                    nulls_matter = false;
                }
                None => self.push_filter::<DB, R>(&mut qb, keyset),
            }
            // Where the keyset excludes NULLs, their placement cannot change the
            // order, and leaving NULLS FIRST/LAST out lets PostgreSQL read the index
            // in order.
        }
        qb.push(" ORDER BY ");
        self.push_order(&mut qb, &plan.order, nulls_matter);
        qb.push(format!(" LIMIT {}", plan.limit));
        if plan.offset > 0 {
            qb.push(format!(" OFFSET {}", plan.offset));
        }
        qb
    }

    /// The total of a listing: `SELECT COUNT(*) ... WHERE <scope> AND <filter>`.
    pub(crate) fn count<DB: Backend, R: Record>(
        self,
        tenant: &str,
        filter: Option<&Filter>,
    ) -> QueryBuilder<DB> {
        let mut qb =
            QueryBuilder::new(format!("SELECT COUNT(*) FROM {} WHERE ", self.table::<R>()));
        self.push_scope::<DB, R>(&mut qb, tenant);
        if let Some(filter) = filter {
            qb.push(" AND ");
            self.push_filter::<DB, R>(&mut qb, filter);
        }
        qb
    }

    fn push_order<DB: Backend>(
        self,
        qb: &mut QueryBuilder<DB>,
        order: &[OrderBy],
        nulls_matter: bool,
    ) {
        for (i, term) in order.iter().enumerate() {
            if i > 0 {
                qb.push(", ");
            }
            qb.push(self.q(term.column.name));
            qb.push(match term.order {
                SortOrder::Asc => " ASC",
                SortOrder::Desc => " DESC",
            });
            // PostgreSQL sorts NULLs last ascending; the canonical order (and MySQL's
            // and SQLite's) puts them first.
            if self.dialect == Dialect::Postgres && term.column.nullable && nulls_matter {
                qb.push(match term.order {
                    SortOrder::Asc => " NULLS FIRST",
                    SortOrder::Desc => " NULLS LAST",
                });
            }
        }
    }

    /// Translates a [`Filter`] in two-valued logic: every atom is false, never
    /// NULL, on a NULL column, so `NOT` can stay a plain `NOT`.
    pub(crate) fn push_filter<DB: Backend, R: Record>(
        self,
        qb: &mut QueryBuilder<DB>,
        filter: &Filter,
    ) {
        match filter {
            Filter::And(all) if all.is_empty() => {
                qb.push("1 = 1");
            }
            Filter::Or(any) if any.is_empty() => {
                qb.push("1 = 0");
            }
            Filter::And(items) | Filter::Or(items) => {
                let joint = if matches!(filter, Filter::And(_)) {
                    " AND "
                } else {
                    " OR "
                };
                qb.push("(");
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        qb.push(joint);
                    }
                    self.push_filter::<DB, R>(qb, item);
                }
                qb.push(")");
            }
            Filter::Not(inner) => {
                qb.push("NOT (");
                self.push_filter::<DB, R>(qb, inner);
                qb.push(")");
            }
            Filter::Compare { column, op, value } => match R::column(column) {
                Some(column) => self.push_compare::<DB>(qb, column, *op, value),
                None => {
                    qb.push("1 = 0");
                }
            },
            Filter::Exists(column) => {
                qb.push(self.q(column)).push(" IS NOT NULL");
            }
            Filter::EndsWith { column, suffix } => {
                let col = self.q(column);
                // A comparison of the last n characters, never LIKE: `%` and `_`
                // in the suffix are literal. n is our count, not user text.
                let n = suffix.chars().count();
                qb.push(format!("({col} IS NOT NULL AND "));
                qb.push(match self.dialect {
                    Dialect::Sqlite => format!("substr({col}, -{n}) = "),
                    _ => format!("right({col}, {n}) = "),
                });
                DB::push_value(
                    qb,
                    ColumnKind::Text { max_chars: 0 },
                    &Value::Text(suffix.clone()),
                );
                qb.push(")");
            }
            Filter::Contains { columns, term } => {
                qb.push("(");
                for (i, name) in columns.iter().enumerate() {
                    if i > 0 {
                        qb.push(" OR ");
                    }
                    let nullable = R::column(name).is_none_or(|c| c.nullable);
                    let col = self.q(name);
                    if nullable {
                        qb.push(format!("({col} IS NOT NULL AND "));
                    }
                    let term = Value::Text(term.clone());
                    let text = ColumnKind::Text { max_chars: 0 };
                    // Case-sensitive substring tests (the columns compare by bytes).
                    match self.dialect {
                        Dialect::Postgres => {
                            qb.push(format!("strpos({col}, "));
                            DB::push_value(qb, text, &term);
                            qb.push(") > 0");
                        }
                        Dialect::MariaDb | Dialect::MySql => {
                            qb.push("LOCATE(");
                            DB::push_value(qb, text, &term);
                            qb.push(format!(", {col}) > 0"));
                        }
                        Dialect::Sqlite => {
                            qb.push(format!("instr({col}, "));
                            DB::push_value(qb, text, &term);
                            qb.push(") > 0");
                        }
                    }
                    if nullable {
                        qb.push(")");
                    }
                }
                qb.push(")");
            }
            Filter::Json { column, keys, test } => {
                for piece in metadata::sql(self.dialect, &self.q(column), keys, test) {
                    match piece {
                        SqlPiece::Sql(text) => {
                            qb.push(text);
                        }
                        SqlPiece::BindText(text) => DB::push_value(
                            qb,
                            ColumnKind::Text { max_chars: 0 },
                            &Value::Text(text),
                        ),
                        SqlPiece::BindInt(int) => {
                            DB::push_value(qb, ColumnKind::Int, &Value::Int(int))
                        }
                    }
                }
            }
        }
    }

    fn push_compare<DB: Backend>(
        self,
        qb: &mut QueryBuilder<DB>,
        column: &Column,
        op: CompareOp,
        value: &Value,
    ) {
        let col = self.q(column.name);
        if column.nullable {
            qb.push(format!("({col} IS NOT NULL AND {col} {} ", op.sql()));
            DB::push_value(qb, column.kind, value);
            qb.push(")");
        } else {
            qb.push(format!("{col} {} ", op.sql()));
            DB::push_value(qb, column.kind, value);
        }
    }
}

/// The keyset condition `col > v OR (col = v AND key > k)` (or `<`), taken
/// apart: `None` for other shapes (the key alone is already a range; cursors
/// on NULL, or descending over a nullable column, admit NULL rows).
struct Keyset<'a> {
    column: &'static str,
    /// `>` or `<`.
    op: CompareOp,
    value: &'a Value,
    key_column: &'static str,
    key: &'a Value,
}

fn keyset_parts(keyset: &Filter) -> Option<Keyset<'_>> {
    let Filter::Or(any) = keyset else { return None };
    let [Filter::Compare { column, op, value }, Filter::And(tie)] = any.as_slice() else {
        return None;
    };
    let [
        Filter::Compare {
            column: tie_column,
            op: CompareOp::Eq,
            value: tie_value,
        },
        Filter::Compare {
            column: key_column,
            op: key_op,
            value: key,
        },
    ] = tie.as_slice()
    else {
        return None;
    };
    if tie_column != column || tie_value != value || key_op != op {
        return None;
    }
    matches!(op, CompareOp::Gt | CompareOp::Lt).then_some(Keyset {
        column,
        op: *op,
        value,
        key_column,
        key,
    })
}
