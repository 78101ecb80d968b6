//! Column value types whose storage differs by database, and the one place
//! where `adapter_interfaces` values become SeaORM values and back.
//!
//! The shared schema stores timestamps as `TIMESTAMPTZ(3)` (PostgreSQL),
//! `DATETIME(3)` in UTC (MySQL/MariaDB) and canonical text (SQLite), and JSON
//! as `JSONB`, `JSON` (text on MariaDB) and text (SQLite). A SeaORM field type
//! has one Rust type for all databases, so [`DbTimestamp`] and [`DbJson`]
//! remember which representation they carry: values are built for the
//! connection's backend at the boundary ([`to_db`]) and bound exactly as the
//! other backends write them.

use std::fmt;

use adapter_interfaces::record::{Column, ColumnKind, Value};
use adapter_interfaces::{AdapterError, EntityKind, Result, Timestamp};
use chrono::{DateTime, NaiveDateTime, Utc};
use sea_orm::sea_query::{ArrayType, Nullable, ValueType, ValueTypeErr};
use sea_orm::{
    ColIdx, ColumnType, DbBackend, DbErr, QueryResult, TryGetError, TryGetable, Value as DbValue,
};

/// How a value is represented on the wire for one backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Repr {
    /// PostgreSQL's native type (`TIMESTAMPTZ`, `JSONB`).
    Native,
    /// MySQL: `DATETIME` (naive UTC) for timestamps, text for JSON.
    MySql,
    /// SQLite: canonical text.
    Text,
}

impl Repr {
    fn of(backend: DbBackend) -> Self {
        match backend {
            DbBackend::Postgres => Repr::Native,
            DbBackend::MySql => Repr::MySql,
            _ => Repr::Text,
        }
    }
}

/// Which backend produced a row (to decode it the way that backend stores values).
fn row_backend(res: &QueryResult) -> Option<DbBackend> {
    #[cfg(feature = "postgres")]
    if res.try_as_pg_row().is_some() {
        return Some(DbBackend::Postgres);
    }
    #[cfg(feature = "mysql")]
    if res.try_as_mysql_row().is_some() {
        return Some(DbBackend::MySql);
    }
    #[cfg(feature = "sqlite")]
    if res.try_as_sqlite_row().is_some() {
        return Some(DbBackend::Sqlite);
    }
    let _ = res;
    None
}

fn decode_error(what: &str, detail: impl fmt::Display) -> TryGetError {
    TryGetError::DbErr(DbErr::Type(format!("cannot decode {what}: {detail}")))
}

/// A timestamp column value ([`Timestamp`], whole milliseconds, UTC) in the
/// representation of the database it is bound to or was read from.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct DbTimestamp {
    value: Timestamp,
    repr: Repr,
}

impl DbTimestamp {
    /// The value as `backend` stores it.
    pub fn new(value: Timestamp, backend: DbBackend) -> Self {
        Self {
            value,
            repr: Repr::of(backend),
        }
    }

    /// The timestamp.
    pub fn value(&self) -> Timestamp {
        self.value
    }
}

impl fmt::Debug for DbTimestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.value)
    }
}

impl From<DbTimestamp> for DbValue {
    fn from(t: DbTimestamp) -> Self {
        match t.repr {
            Repr::Native => DbValue::ChronoDateTimeUtc(Some(t.value.as_datetime())),
            Repr::MySql => DbValue::ChronoDateTime(Some(t.value.as_datetime().naive_utc())),
            Repr::Text => DbValue::String(Some(t.value.to_canonical_string())),
        }
    }
}

impl ValueType for DbTimestamp {
    fn try_from(v: DbValue) -> Result<Self, ValueTypeErr> {
        match v {
            DbValue::ChronoDateTimeUtc(Some(t)) => Ok(Self {
                value: t.into(),
                repr: Repr::Native,
            }),
            DbValue::ChronoDateTime(Some(t)) => Ok(Self {
                value: t.and_utc().into(),
                repr: Repr::MySql,
            }),
            DbValue::String(Some(s)) => Ok(Self {
                value: s.parse().map_err(|_| ValueTypeErr)?,
                repr: Repr::Text,
            }),
            _ => Err(ValueTypeErr),
        }
    }

    fn type_name() -> String {
        "DbTimestamp".into()
    }

    fn array_type() -> ArrayType {
        ArrayType::ChronoDateTimeUtc
    }

    fn column_type() -> ColumnType {
        ColumnType::TimestampWithTimeZone
    }
}

impl Nullable for DbTimestamp {
    // A typed NULL: PostgreSQL rejects a text NULL in a TIMESTAMPTZ column;
    // MySQL and SQLite accept any NULL.
    fn null() -> DbValue {
        DbValue::ChronoDateTimeUtc(None)
    }
}

impl TryGetable for DbTimestamp {
    fn try_get_by<I: ColIdx>(res: &QueryResult, index: I) -> Result<Self, TryGetError> {
        let from_text = |res: &QueryResult| -> Result<Self, TryGetError> {
            let text = String::try_get_by(res, index)?;
            let value = text
                .parse::<Timestamp>()
                .map_err(|e| decode_error("timestamp", e))?;
            Ok(Self {
                value,
                repr: Repr::Text,
            })
        };
        match row_backend(res) {
            Some(DbBackend::Postgres) => {
                let t = DateTime::<Utc>::try_get_by(res, index)?;
                Ok(Self {
                    value: t.into(),
                    repr: Repr::Native,
                })
            }
            Some(DbBackend::MySql) => {
                let t = NaiveDateTime::try_get_by(res, index)?;
                Ok(Self {
                    value: t.and_utc().into(),
                    repr: Repr::MySql,
                })
            }
            _ => from_text(res),
        }
    }
}

/// A JSON column value in the representation of the database it is bound
/// to or was read from (`JSONB` on PostgreSQL, text elsewhere: MariaDB's
/// `JSON` is `LONGTEXT`, and MySQL 8 parses text into `JSON`).
#[derive(Clone, PartialEq)]
pub struct DbJson {
    value: serde_json::Value,
    repr: Repr,
}

impl DbJson {
    /// The value as `backend` stores it.
    pub fn new(value: serde_json::Value, backend: DbBackend) -> Self {
        Self {
            value,
            repr: Repr::of(backend),
        }
    }

    /// The JSON value.
    pub fn value(&self) -> &serde_json::Value {
        &self.value
    }
}

impl fmt::Debug for DbJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.value)
    }
}

impl From<DbJson> for DbValue {
    fn from(j: DbJson) -> Self {
        match j.repr {
            Repr::Native => DbValue::Json(Some(Box::new(j.value))),
            Repr::MySql | Repr::Text => DbValue::String(Some(j.value.to_string())),
        }
    }
}

impl ValueType for DbJson {
    fn try_from(v: DbValue) -> Result<Self, ValueTypeErr> {
        match v {
            DbValue::Json(Some(j)) => Ok(Self {
                value: *j,
                repr: Repr::Native,
            }),
            DbValue::String(Some(s)) => Ok(Self {
                value: serde_json::from_str(&s).map_err(|_| ValueTypeErr)?,
                repr: Repr::Text,
            }),
            _ => Err(ValueTypeErr),
        }
    }

    fn type_name() -> String {
        "DbJson".into()
    }

    fn array_type() -> ArrayType {
        ArrayType::Json
    }

    fn column_type() -> ColumnType {
        ColumnType::JsonBinary
    }
}

impl Nullable for DbJson {
    fn null() -> DbValue {
        DbValue::Json(None)
    }
}

impl TryGetable for DbJson {
    fn try_get_by<I: ColIdx>(res: &QueryResult, index: I) -> Result<Self, TryGetError> {
        let parse = |text: String, repr| -> Result<Self, TryGetError> {
            let value = serde_json::from_str(&text).map_err(|e| decode_error("JSON", e))?;
            Ok(Self { value, repr })
        };
        match row_backend(res) {
            Some(DbBackend::Postgres) => {
                let value = serde_json::Value::try_get_by(res, index)?;
                Ok(Self {
                    value,
                    repr: Repr::Native,
                })
            }
            // MariaDB's JSON is LONGTEXT; MySQL 8 reports a JSON column type.
            Some(DbBackend::MySql) => match String::try_get_by(res, index) {
                Ok(text) => parse(text, Repr::MySql),
                Err(TryGetError::Null(col)) => Err(TryGetError::Null(col)),
                Err(_) => {
                    let value = serde_json::Value::try_get_by(res, index)?;
                    Ok(Self {
                        value,
                        repr: Repr::MySql,
                    })
                }
            },
            _ => parse(String::try_get_by(res, index)?, Repr::Text),
        }
    }
}

/// A secret text column (password hash, client secret): bound and read as
/// text, but never shown by `Debug`, so models and active models can be logged.
#[derive(Clone, PartialEq, Eq)]
pub struct DbSecret(String);

impl DbSecret {
    /// The secret value.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for DbSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

impl From<DbSecret> for DbValue {
    fn from(s: DbSecret) -> Self {
        DbValue::String(Some(s.0))
    }
}

impl ValueType for DbSecret {
    fn try_from(v: DbValue) -> Result<Self, ValueTypeErr> {
        match v {
            DbValue::String(Some(s)) => Ok(Self(s)),
            _ => Err(ValueTypeErr),
        }
    }

    fn type_name() -> String {
        "DbSecret".into()
    }

    fn array_type() -> ArrayType {
        ArrayType::String
    }

    fn column_type() -> ColumnType {
        ColumnType::Text
    }
}

impl Nullable for DbSecret {
    fn null() -> DbValue {
        DbValue::String(None)
    }
}

impl TryGetable for DbSecret {
    fn try_get_by<I: ColIdx>(res: &QueryResult, index: I) -> Result<Self, TryGetError> {
        String::try_get_by(res, index).map(Self)
    }
}

/// An interfaces value as the SeaORM value `backend` binds for `column`
/// (typed NULLs included).
pub(crate) fn to_db(backend: DbBackend, column: &Column, value: Value) -> DbValue {
    match (column.kind, value) {
        (ColumnKind::Text { .. }, Value::Text(s)) => DbValue::String(Some(s)),
        (ColumnKind::Text { .. }, _) => DbValue::String(None),
        (ColumnKind::Int, Value::Int(i)) => DbValue::BigInt(Some(i)),
        (ColumnKind::Int, _) => DbValue::BigInt(None),
        (ColumnKind::Bool, Value::Bool(b)) => DbValue::Bool(Some(b)),
        (ColumnKind::Bool, _) => DbValue::Bool(None),
        (ColumnKind::Timestamp, Value::Timestamp(t)) => DbTimestamp::new(t, backend).into(),
        (ColumnKind::Timestamp, _) => DbTimestamp::null(),
        (ColumnKind::Json, Value::Json(j)) => DbJson::new(j, backend).into(),
        (ColumnKind::Json, _) => DbJson::null(),
    }
}

fn mismatch(kind: EntityKind, column: &Column) -> AdapterError {
    AdapterError::Backend {
        message: format!(
            "{} column `{}` holds a value of an unexpected type",
            kind.table(),
            column.name
        ),
        source: None,
    }
}

/// A SeaORM value read from a model, as the interfaces value of `column`.
pub(crate) fn from_db(kind: EntityKind, column: &Column, value: DbValue) -> Result<Value> {
    Ok(match value {
        DbValue::String(None)
        | DbValue::BigInt(None)
        | DbValue::Bool(None)
        | DbValue::ChronoDateTimeUtc(None)
        | DbValue::ChronoDateTime(None)
        | DbValue::Json(None) => Value::Null,
        DbValue::String(Some(s)) => match column.kind {
            ColumnKind::Timestamp => {
                Value::Timestamp(s.parse().map_err(|_| mismatch(kind, column))?)
            }
            ColumnKind::Json => {
                Value::Json(serde_json::from_str(&s).map_err(|_| mismatch(kind, column))?)
            }
            _ => Value::Text(s),
        },
        DbValue::BigInt(Some(i)) => Value::Int(i),
        DbValue::Bool(Some(b)) => Value::Bool(b),
        DbValue::ChronoDateTimeUtc(Some(t)) => Value::Timestamp(t.into()),
        DbValue::ChronoDateTime(Some(t)) => Value::Timestamp(t.and_utc().into()),
        DbValue::Json(Some(j)) => Value::Json(*j),
        _ => return Err(mismatch(kind, column)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_bind_as_each_database_stores_them() {
        let t: Timestamp = "2024-01-02T03:04:05.678Z".parse().unwrap();
        let column = Column::timestamp("created_at");
        assert_eq!(
            to_db(DbBackend::Sqlite, &column, Value::Timestamp(t)),
            DbValue::String(Some("2024-01-02T03:04:05.678Z".into()))
        );
        assert_eq!(
            to_db(DbBackend::Postgres, &column, Value::Timestamp(t)),
            DbValue::ChronoDateTimeUtc(Some(t.as_datetime()))
        );
        assert_eq!(
            to_db(DbBackend::MySql, &column, Value::Timestamp(t)),
            DbValue::ChronoDateTime(Some(t.as_datetime().naive_utc()))
        );
        for backend in [DbBackend::Sqlite, DbBackend::Postgres, DbBackend::MySql] {
            let db = to_db(backend, &column, Value::Timestamp(t));
            assert_eq!(
                from_db(EntityKind::User, &column, db).unwrap(),
                Value::Timestamp(t)
            );
        }
    }

    #[test]
    fn json_binds_natively_on_postgres_and_as_text_elsewhere() {
        let column = Column::json("details");
        let json = serde_json::json!({"a": [1, 2.5, "x"]});
        assert_eq!(
            to_db(DbBackend::Sqlite, &column, Value::Json(json.clone())),
            DbValue::String(Some(json.to_string()))
        );
        assert_eq!(
            to_db(DbBackend::Postgres, &column, Value::Json(json.clone())),
            DbValue::Json(Some(Box::new(json.clone())))
        );
        let back = from_db(
            EntityKind::Log,
            &column,
            to_db(DbBackend::MySql, &column, Value::Json(json.clone())),
        );
        assert_eq!(back.unwrap(), Value::Json(json));
    }

    #[test]
    fn secrets_do_not_show_in_debug_output() {
        let secret = <DbSecret as ValueType>::try_from(DbValue::String(Some("hash".into())));
        let secret = secret.unwrap();
        assert_eq!(format!("{secret:?}"), "[REDACTED]");
        assert_eq!(secret.expose(), "hash");
    }
}
