//! The dynamic parts of a listing as Diesel expressions: the `q`/keyset
//! [`Filter`] as a [`Cond`] and the plan's order as an [`Order`].
//!
//! Both are query-builder nodes that plug into the typed DSL
//! (`table.filter(cond).order_by(order)`); identifiers are quoted by the
//! backend and every value is a bound parameter, so no input ever becomes SQL.
//! Column names come from the entities' metadata (already checked by
//! [`ListPlan`]), never from the caller.

use adapter_interfaces::list::OrderBy;
use adapter_interfaces::query::CompareOp;
use adapter_interfaces::query::metadata::{self, SqlPiece};
use adapter_interfaces::schema::Dialect;
use adapter_interfaces::{Filter, ListPlan, Record, SortOrder, Value};
use diesel::backend::Backend;
use diesel::expression::{AppearsOnTable, Expression, ValidGrouping, is_aggregate};
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::result::{Error as DieselError, QueryResult};
use diesel::serialize::ToSql;
use diesel::sql_types::{BigInt, Bool, HasSqlType, Text};

use crate::types::{Ts, Val};

/// A backend this crate runs on: its dialect, and the binds a condition needs.
pub(crate) trait SyBackend:
    Backend + HasSqlType<Text> + HasSqlType<BigInt> + HasSqlType<Bool> + HasSqlType<Ts>
{
    /// The SQL dialect.
    const DIALECT: Dialect;
}

#[cfg(feature = "postgres")]
impl SyBackend for diesel::pg::Pg {
    const DIALECT: Dialect = Dialect::Postgres;
}
#[cfg(feature = "mysql")]
impl SyBackend for diesel::mysql::Mysql {
    // MariaDB and MySQL 8 spell these conditions alike.
    const DIALECT: Dialect = Dialect::MariaDb;
}
#[cfg(feature = "sqlite")]
impl SyBackend for diesel::sqlite::Sqlite {
    const DIALECT: Dialect = Dialect::Sqlite;
}

/// A column reference with what the translation needs to know about it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Col {
    name: &'static str,
    nullable: bool,
}

fn col<R: Record>(name: &'static str) -> Col {
    Col {
        name,
        nullable: R::column(name).is_none_or(|c| c.nullable),
    }
}

/// A boolean condition over one table, in two-valued logic (see [`Filter`]).
#[derive(Debug, Clone)]
pub(crate) enum Cond {
    /// All of them (`1=1` when empty).
    All(Vec<Cond>),
    /// Any of them (`1=0` when empty).
    Any(Vec<Cond>),
    /// Negation.
    Not(Box<Cond>),
    /// `column op ?`, false on NULL.
    Compare(Col, CompareOp, Val),
    /// `column IS NOT NULL`.
    Exists(Col),
    /// Case-sensitive substring of any of the columns, false on NULL.
    Contains(Vec<Col>, Val),
    /// The column ends with the text (of this many characters), false on NULL.
    EndsWith(Col, Val, usize),
    /// A test inside a JSON column: SQL text and binds from
    /// [`metadata::sql`], made for each dialect up front (binds are
    /// borrowed by the query, so they must live in the condition).
    Json(Box<JsonPieces>),
}

/// A [`Cond::Json`] per dialect.
#[derive(Debug, Clone)]
pub(crate) struct JsonPieces {
    postgres: Vec<Piece>,
    mysql: Vec<Piece>,
    sqlite: Vec<Piece>,
}

/// One piece of a [`Cond::Json`].
#[derive(Debug, Clone)]
pub(crate) enum Piece {
    /// SQL text (ours, never input).
    Sql(String),
    /// A bound text or integer.
    Bind(Val),
}

impl Cond {
    /// Translates a filter of entity `R`; `None` is "everything".
    pub fn from_filter<R: Record>(filter: Option<&Filter>) -> Cond {
        match filter {
            None => Cond::All(Vec::new()),
            Some(f) => Self::translate::<R>(f),
        }
    }

    fn translate<R: Record>(filter: &Filter) -> Cond {
        match filter {
            Filter::And(all) => Cond::All(all.iter().map(Self::translate::<R>).collect()),
            Filter::Or(any) => Cond::Any(any.iter().map(Self::translate::<R>).collect()),
            Filter::Not(inner) => Cond::Not(Box::new(Self::translate::<R>(inner))),
            Filter::Compare { column, op, value } => {
                Cond::Compare(col::<R>(column), *op, Val(value.clone()))
            }
            Filter::Exists(column) => Cond::Exists(col::<R>(column)),
            Filter::EndsWith { column, suffix } => Cond::EndsWith(
                col::<R>(column),
                Val(Value::Text(suffix.clone())),
                suffix.chars().count(),
            ),
            Filter::Contains { columns, term } => Cond::Contains(
                columns.iter().map(|c| col::<R>(c)).collect(),
                Val(Value::Text(term.clone())),
            ),
            Filter::Json { column, keys, test } => {
                let pieces = |dialect: Dialect| {
                    metadata::sql(dialect, &dialect.quote(column), keys, test)
                        .into_iter()
                        .map(|piece| match piece {
                            SqlPiece::Sql(text) => Piece::Sql(text),
                            SqlPiece::BindText(text) => Piece::Bind(Val(Value::Text(text))),
                            SqlPiece::BindInt(int) => Piece::Bind(Val(Value::Int(int))),
                        })
                        .collect()
                };
                Cond::Json(Box::new(JsonPieces {
                    postgres: pieces(Dialect::Postgres),
                    mysql: pieces(Dialect::MariaDb),
                    sqlite: pieces(Dialect::Sqlite),
                }))
            }
        }
    }

    /// The `WHERE` of a page: the plan's filter and keyset, plus a redundant
    /// lower (or upper) bound on the sort column that lets every database
    /// start the index range scan at the cursor instead of the tenant's
    /// first row, so that a keyset scan stays linear.
    /// Also returns whether that bound excludes NULLs of the sort column.
    pub fn for_page<R: Record>(plan: &ListPlan) -> (Cond, bool) {
        let mut all = Vec::new();
        let mut bounded = false;
        if let Some(filter) = &plan.filter {
            all.push(Self::translate::<R>(filter));
        }
        if let Some(keyset) = &plan.keyset {
            if let Some(bound) = range_hint::<R>(keyset) {
                all.push(bound);
                bounded = true;
            }
            all.push(Self::translate::<R>(keyset));
        }
        (Cond::All(all), bounded)
    }

    /// `column = value` on entity `R`.
    pub fn eq<R: Record>(column: &'static str, value: Value) -> Cond {
        Cond::Compare(col::<R>(column), CompareOp::Eq, Val(value))
    }
}

/// For a keyset `sort > v OR (sort = v AND key > k)` (or `<`), the implied `sort >= v` (or `<=`).
fn range_hint<R: Record>(keyset: &Filter) -> Option<Cond> {
    let Filter::Or(any) = keyset else { return None };
    let [
        Filter::Compare { column, op, value },
        Filter::And(_),
        rest @ ..,
    ] = any.as_slice()
    else {
        return None;
    };
    if !rest.is_empty() {
        return None; // descending over a nullable column: NULLs follow, no single bound
    }
    let op = match op {
        CompareOp::Gt => CompareOp::Ge,
        CompareOp::Lt => CompareOp::Le,
        _ => return None,
    };
    Some(Cond::Compare(col::<R>(column), op, Val(value.clone())))
}

fn push_bind<'b, DB: SyBackend>(out: &mut AstPass<'_, 'b, DB>, value: &'b Val) -> QueryResult<()>
where
    Val: ToSql<Text, DB> + ToSql<BigInt, DB> + ToSql<Bool, DB> + ToSql<Ts, DB>,
{
    match &value.0 {
        Value::Text(_) => out.push_bind_param::<Text, Val>(value),
        Value::Int(_) => out.push_bind_param::<BigInt, Val>(value),
        Value::Bool(_) => out.push_bind_param::<Bool, Val>(value),
        Value::Timestamp(_) => out.push_bind_param::<Ts, Val>(value),
        Value::Null | Value::Json(_) => Err(DieselError::QueryBuilderError(
            "a filter compares only text, integers, booleans and timestamps".into(),
        )),
    }
}

impl<DB: SyBackend> QueryFragment<DB> for Cond
where
    Val: ToSql<Text, DB> + ToSql<BigInt, DB> + ToSql<Bool, DB> + ToSql<Ts, DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        // Values differ between executions, so the statement is not cached by shape alone.
        out.unsafe_to_cache_prepared();
        match self {
            Cond::All(all) | Cond::Any(all) if all.is_empty() => {
                out.push_sql(if matches!(self, Cond::All(_)) {
                    "1=1"
                } else {
                    "1=0"
                });
            }
            Cond::All(all) | Cond::Any(all) => {
                let joiner = if matches!(self, Cond::All(_)) {
                    " AND "
                } else {
                    " OR "
                };
                out.push_sql("(");
                for (i, cond) in all.iter().enumerate() {
                    if i > 0 {
                        out.push_sql(joiner);
                    }
                    cond.walk_ast(out.reborrow())?;
                }
                out.push_sql(")");
            }
            Cond::Not(inner) => {
                out.push_sql("NOT (");
                inner.walk_ast(out.reborrow())?;
                out.push_sql(")");
            }
            Cond::Compare(column, op, value) => {
                out.push_sql("(");
                if column.nullable {
                    out.push_identifier(column.name)?;
                    out.push_sql(" IS NOT NULL AND ");
                }
                out.push_identifier(column.name)?;
                out.push_sql(" ");
                out.push_sql(op.sql());
                out.push_sql(" ");
                push_bind(&mut out, value)?;
                out.push_sql(")");
            }
            Cond::Exists(column) => {
                if column.nullable {
                    out.push_identifier(column.name)?;
                    out.push_sql(" IS NOT NULL");
                } else {
                    out.push_sql("1=1");
                }
            }
            Cond::EndsWith(column, suffix, n) => {
                // The last n characters compared, never LIKE: `%` and `_` stay literal.
                out.push_sql("(");
                out.push_identifier(column.name)?;
                out.push_sql(" IS NOT NULL AND ");
                out.push_sql(match DB::DIALECT {
                    Dialect::Sqlite => "substr(",
                    _ => "right(",
                });
                out.push_identifier(column.name)?;
                out.push_sql(&match DB::DIALECT {
                    Dialect::Sqlite => format!(", -{n}) = "),
                    _ => format!(", {n}) = "),
                });
                out.push_bind_param::<Text, Val>(suffix)?;
                out.push_sql(")");
            }
            Cond::Contains(columns, term) => {
                out.push_sql("(");
                for (i, column) in columns.iter().enumerate() {
                    if i > 0 {
                        out.push_sql(" OR ");
                    }
                    out.push_sql("(");
                    out.push_identifier(column.name)?;
                    out.push_sql(" IS NOT NULL AND ");
                    // Substring positions, never LIKE: case-sensitive and no wildcards.
                    out.push_sql(match DB::DIALECT {
                        Dialect::Postgres => "strpos(",
                        _ => "instr(",
                    });
                    out.push_identifier(column.name)?;
                    out.push_sql(", ");
                    out.push_bind_param::<Text, Val>(term)?;
                    out.push_sql(") > 0)");
                }
                out.push_sql(")");
            }
            Cond::Json(all) => {
                let pieces = match DB::DIALECT {
                    Dialect::Postgres => &all.postgres,
                    Dialect::MariaDb | Dialect::MySql => &all.mysql,
                    Dialect::Sqlite => &all.sqlite,
                };
                for piece in pieces {
                    match piece {
                        Piece::Sql(text) => out.push_sql(text),
                        Piece::Bind(value) => push_bind(&mut out, value)?,
                    }
                }
            }
        }
        Ok(())
    }
}

impl Expression for Cond {
    type SqlType = Bool;
}

impl<QS> AppearsOnTable<QS> for Cond {}

impl ValidGrouping<()> for Cond {
    type IsAggregate = is_aggregate::Never;
}

impl QueryId for Cond {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

/// An `ORDER BY` list: ascending puts NULLs first, descending last, on every database.
#[derive(Debug, Clone)]
pub(crate) struct Order(Vec<(Col, SortOrder)>);

impl Order {
    /// The plan's order. `non_null` says the page's condition already excludes
    /// NULLs of the sort column: then where NULLs would sort does not matter, and
    /// PostgreSQL is not told, so that the `(tenant_id, column, key)` index
    /// (NULLS LAST) serves the order.
    pub fn from_plan<R: Record>(order: &[OrderBy], non_null: bool) -> Order {
        Order(
            order
                .iter()
                .enumerate()
                .map(|(i, o)| {
                    let mut column = col::<R>(o.column.name);
                    if i == 0 && non_null {
                        column.nullable = false;
                    }
                    (column, o.order)
                })
                .collect(),
        )
    }

    /// An explicit order of entity `R`.
    pub fn of<R: Record>(terms: &[(&'static str, SortOrder)]) -> Order {
        Order(terms.iter().map(|(c, o)| (col::<R>(c), *o)).collect())
    }
}

impl<DB: SyBackend> QueryFragment<DB> for Order {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        for (i, (column, order)) in self.0.iter().enumerate() {
            if i > 0 {
                out.push_sql(", ");
            }
            out.push_identifier(column.name)?;
            out.push_sql(match order {
                SortOrder::Asc => " ASC",
                SortOrder::Desc => " DESC",
            });
            // PostgreSQL sorts NULLs the other way round; say it only for nullable
            // columns, so that NOT NULL sorts still match the indexes.
            if DB::DIALECT == Dialect::Postgres && column.nullable {
                out.push_sql(match order {
                    SortOrder::Asc => " NULLS FIRST",
                    SortOrder::Desc => " NULLS LAST",
                });
            }
        }
        Ok(())
    }
}

impl Expression for Order {
    type SqlType = diesel::sql_types::Untyped;
}

impl<QS> AppearsOnTable<QS> for Order {}

impl ValidGrouping<()> for Order {
    type IsAggregate = is_aggregate::Never;
}

impl QueryId for Order {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}
