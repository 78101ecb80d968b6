//! The one generic bridge between `adapter_interfaces` records and SeaORM
//! models: column lookup, model → record, record → active model, and the
//! translation of a [`Filter`] into a sea-query [`Condition`].

use adapter_interfaces::query::metadata::{self, SqlPiece};
use adapter_interfaces::query::{CompareOp, JsonTest};
use adapter_interfaces::record::{self, Column, Value};
use adapter_interfaces::schema::Dialect;
use adapter_interfaces::{
    AdapterError, Application, Code, Connection, Filter, Log, Password, Record, Result, Session,
    SortOrder, Tenant, User,
};
use sea_orm::sea_query::{Expr, ExprTrait, Func, NullOrdering, Order};
use sea_orm::{
    ActiveModelBehavior, ActiveModelTrait, ColumnTrait, Condition, DbBackend, EntityTrait,
    FromQueryResult, IdenStatic, Iterable, ModelTrait, QueryOrder, Select, Value as DbValue,
};

use crate::entities;
use crate::value::{from_db, to_db};

/// A record type and the SeaORM entity of its table.
pub(crate) trait Mapped: Record {
    /// The entity of the record's table.
    type Entity: EntityTrait<Model = Self::Row, ActiveModel = Self::Active> + Default;
    /// Its model (a row).
    type Row: ModelTrait<Entity = Self::Entity> + FromQueryResult + Send + Sync;
    /// Its active model (a write).
    type Active: ActiveModelTrait<Entity = Self::Entity> + ActiveModelBehavior + Send + Sync;
}

macro_rules! mapped {
    ($($record:ty => $module:ident),* $(,)?) => {$(
        impl Mapped for $record {
            type Entity = entities::$module::Entity;
            type Row = entities::$module::Model;
            type Active = entities::$module::ActiveModel;
        }
    )*};
}

mapped! {
    Tenant => tenants,
    User => users,
    Application => applications,
    Connection => connections,
    Session => sessions,
    Code => codes,
    Password => passwords,
    Log => logs,
}

/// An entity's column enum.
pub(crate) type Col<R> = <<R as Mapped>::Entity as EntityTrait>::Column;

/// Whether records of `R` carry a `tenant_id` column.
pub(crate) fn scoped<R: Record>() -> bool {
    adapter_interfaces::schema::is_tenant_scoped(R::KIND)
}

fn schema_mismatch<R: Record>(detail: impl std::fmt::Display) -> AdapterError {
    AdapterError::Backend {
        message: format!(
            "the {} entity does not match its table: {detail}",
            R::KIND.table()
        ),
        source: None,
    }
}

/// The entity column named `name`.
pub(crate) fn col<R: Mapped>(name: &str) -> Result<Col<R>> {
    Col::<R>::iter()
        .find(|c| c.as_str() == name)
        .ok_or_else(|| schema_mismatch::<R>(format!("no column `{name}`")))
}

/// The entity columns of `R::COLUMNS`, in that order.
pub(crate) fn record_cols<R: Mapped>() -> Result<Vec<(&'static Column, Col<R>)>> {
    R::COLUMNS
        .iter()
        .map(|c| Ok((c, col::<R>(c.name)?)))
        .collect()
}

/// Rebuilds a record from a model.
pub(crate) fn to_record<R: Mapped>(
    cols: &[(&'static Column, Col<R>)],
    model: &R::Row,
) -> Result<R> {
    let values = cols
        .iter()
        .map(|(meta, c)| from_db(R::KIND, meta, model.get(*c)))
        .collect::<Result<Vec<Value>>>()?;
    record::from_values(values)
}

/// The active model that writes `record` (under `tenant`) with every column set.
pub(crate) fn to_active<R: Mapped>(
    backend: DbBackend,
    tenant: Option<&str>,
    record: &R,
) -> Result<R::Active> {
    let mut active = <R::Active as ActiveModelTrait>::default();
    // The error of a mismatch could show the value (a secret); report the column only.
    let mut set = |name: &str, value: DbValue| {
        active
            .try_set(col::<R>(name)?, value)
            .map_err(|_| schema_mismatch::<R>(format!("column `{name}` has another type")))
    };
    if let Some(tenant) = tenant {
        set("tenant_id", DbValue::String(Some(tenant.to_owned())))?;
    }
    for (meta, value) in R::COLUMNS.iter().zip(record::to_values(record)) {
        set(meta.name, to_db(backend, meta, value))?;
    }
    Ok(active)
}

/// `tenant_id = ?` when `R` is tenant-scoped (always true otherwise).
pub(crate) fn tenant_condition<R: Mapped>(tenant: Option<&str>) -> Result<Condition> {
    let mut condition = Condition::all();
    if let Some(tenant) = tenant {
        condition = condition.add(col::<R>("tenant_id")?.eq(tenant));
    }
    Ok(condition)
}

/// The primary-key condition of one record.
pub(crate) fn key_condition<R: Mapped>(tenant: Option<&str>, key: &str) -> Result<Condition> {
    Ok(tenant_condition::<R>(tenant)?.add(col::<R>(R::key_column().name)?.eq(key)))
}

fn meta<R: Record>(name: &str) -> Result<&'static Column> {
    R::column(name).ok_or_else(|| schema_mismatch::<R>(format!("no field `{name}`")))
}

/// Translates a [`Filter`] to a condition, every value bound, in the
/// two-valued logic of the reference: comparisons and substring tests are
/// false on NULL, so that `NOT` negates them exactly.
pub(crate) fn condition<R: Mapped>(filter: &Filter, backend: DbBackend) -> Result<Condition> {
    Ok(match filter {
        Filter::And(all) => {
            let mut condition = Condition::all();
            for f in all {
                condition = condition.add(self::condition::<R>(f, backend)?);
            }
            condition
        }
        Filter::Or(any) if any.is_empty() => Condition::all().add(Expr::val(1).eq(0)),
        Filter::Or(any) => {
            let mut condition = Condition::any();
            for f in any {
                condition = condition.add(self::condition::<R>(f, backend)?);
            }
            condition
        }
        Filter::Not(inner) => self::condition::<R>(inner, backend)?.not(),
        Filter::Compare { column, op, value } => {
            let meta = meta::<R>(column)?;
            let c = col::<R>(column)?;
            let value = to_db(backend, meta, value.clone());
            let compare = match op {
                CompareOp::Eq => c.eq(value),
                CompareOp::Gt => c.gt(value),
                CompareOp::Ge => c.gte(value),
                CompareOp::Lt => c.lt(value),
                CompareOp::Le => c.lte(value),
            };
            not_null_and::<R>(meta, c, compare)
        }
        Filter::Exists(column) => Condition::all().add(col::<R>(column)?.is_not_null()),
        Filter::EndsWith { column, suffix } => {
            let meta = meta::<R>(column)?;
            let c = col::<R>(column)?;
            let target = Expr::col((R::Entity::default(), c));
            // The last n characters compared, never LIKE: `%` and `_` stay literal.
            let n = i64::try_from(suffix.chars().count()).unwrap_or(i64::MAX);
            let tail = match backend {
                DbBackend::Sqlite => Func::cust("substr")
                    .arg(target)
                    .arg(Expr::cust(format!("-{n}"))),
                _ => Func::cust("right")
                    .arg(target)
                    .arg(Expr::cust(n.to_string())),
            };
            not_null_and::<R>(meta, c, Expr::expr(tail).eq(suffix.as_str()))
        }
        Filter::Contains { columns, term } => {
            let mut condition = Condition::any();
            for column in columns {
                let meta = meta::<R>(column)?;
                let c = col::<R>(column)?;
                let target = Expr::col((R::Entity::default(), c));
                let term = Expr::val(term.as_str());
                // Case-sensitive substring tests, never LIKE (wildcards, collations).
                let position = match backend {
                    DbBackend::Postgres => Func::cust("strpos").arg(target).arg(term),
                    DbBackend::MySql => Func::cust("LOCATE").arg(term).arg(target),
                    _ => Func::cust("instr").arg(target).arg(term),
                };
                condition = condition.add(not_null_and::<R>(meta, c, Expr::expr(position).gt(0)));
            }
            condition
        }
        Filter::Json { column, keys, test } => {
            let column = col::<R>(column)?;
            Condition::all().add(json_condition(backend, column.as_str(), keys, test))
        }
    })
}

/// [`metadata::sql`] as a custom expression: its text with sea-query's
/// placeholders (`$n` on PostgreSQL, `?` elsewhere), its values bound.
fn json_condition(backend: DbBackend, column: &str, keys: &[String], test: &JsonTest) -> Expr {
    let dialect = match backend {
        DbBackend::Postgres => Dialect::Postgres,
        DbBackend::Sqlite => Dialect::Sqlite,
        // MariaDB and MySQL 8 spell these conditions alike.
        _ => Dialect::MariaDb,
    };
    let mut text = String::new();
    let mut values: Vec<DbValue> = Vec::new();
    for piece in metadata::sql(dialect, &dialect.quote(column), keys, test) {
        let value = match piece {
            SqlPiece::Sql(sql) => {
                text.push_str(&sql);
                continue;
            }
            SqlPiece::BindText(s) => DbValue::String(Some(s)),
            SqlPiece::BindInt(i) => DbValue::BigInt(Some(i)),
        };
        values.push(value);
        if dialect == Dialect::Postgres {
            text.push_str(&format!("${}", values.len()));
        } else {
            text.push('?');
        }
    }
    Expr::cust_with_values(text, values)
}

fn not_null_and<R: Mapped>(meta: &Column, c: Col<R>, test: Expr) -> Condition {
    let condition = Condition::all();
    if meta.nullable {
        condition.add(c.is_not_null()).add(test)
    } else {
        condition.add(test)
    }
}

/// A condition implied by a keyset filter that the database can use as an
/// index range start: `col >= v` for `col > v OR (col = v AND key > k)`
/// (and `<=` descending). Without it PostgreSQL and SQLite scan the tenant's
/// rows from the beginning on every page, and a full scan is quadratic.
pub(crate) fn keyset_bound(keyset: &Filter) -> Option<Filter> {
    let Filter::Or(arms) = keyset else {
        return None;
    };
    match arms.as_slice() {
        [Filter::Compare { column, op, value }, Filter::And(_)] => {
            let op = match op {
                CompareOp::Gt => CompareOp::Ge,
                CompareOp::Lt => CompareOp::Le,
                _ => return None,
            };
            Some(Filter::Compare {
                column,
                op,
                value: value.clone(),
            })
        }
        _ => None,
    }
}

/// Adds the plan's `ORDER BY` terms: ascending puts NULLs first and
/// descending last, which is MySQL's and SQLite's default; PostgreSQL needs
/// it spelled out, and only for nullable columns so that the
/// `(tenant_id, column, key)` indexes still serve the other sorts.
pub(crate) fn order<R: Mapped>(
    mut select: Select<R::Entity>,
    order: &[adapter_interfaces::list::OrderBy],
    backend: DbBackend,
) -> Result<Select<R::Entity>> {
    for term in order {
        let c = col::<R>(term.column.name)?;
        let (direction, nulls) = match term.order {
            SortOrder::Asc => (Order::Asc, NullOrdering::First),
            SortOrder::Desc => (Order::Desc, NullOrdering::Last),
        };
        select = if backend == DbBackend::Postgres && term.column.nullable {
            select.order_by_with_nulls(c, direction, nulls)
        } else {
            select.order_by(c, direction)
        };
    }
    Ok(select)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::EntityName;

    fn assert_columns_match<R: Mapped>() {
        let names: Vec<&str> = Col::<R>::iter().map(|c| c.as_str()).collect();
        let mut expected: Vec<&str> = Vec::new();
        if scoped::<R>() {
            expected.push("tenant_id");
        }
        expected.extend(R::COLUMNS.iter().map(|c| c.name));
        assert_eq!(names, expected, "{}", R::KIND.table());
        assert_eq!(R::Entity::default().table_name(), R::KIND.table());
    }

    #[test]
    fn every_entity_has_the_columns_of_its_record() {
        assert_columns_match::<Tenant>();
        assert_columns_match::<User>();
        assert_columns_match::<Application>();
        assert_columns_match::<Connection>();
        assert_columns_match::<Session>();
        assert_columns_match::<Code>();
        assert_columns_match::<Password>();
        assert_columns_match::<Log>();
    }

    #[test]
    fn keyset_bound_is_implied_by_the_keyset_filter() {
        let v = Value::Text("m".into());
        let key = || Filter::Compare {
            column: "user_id",
            op: CompareOp::Gt,
            value: v.clone(),
        };
        let keyset = Filter::Or(vec![
            Filter::Compare {
                column: "email",
                op: CompareOp::Gt,
                value: v.clone(),
            },
            Filter::And(vec![key()]),
        ]);
        assert_eq!(
            keyset_bound(&keyset),
            Some(Filter::Compare {
                column: "email",
                op: CompareOp::Ge,
                value: v.clone()
            })
        );
        assert_eq!(keyset_bound(&key()), None);
    }
}
