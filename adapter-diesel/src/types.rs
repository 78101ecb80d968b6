//! The SQL types of the shared schema and [`Val`], the one Rust value every
//! column is read into and bound from.
//!
//! Timestamps and JSON are stored differently per database (see
//! `docs/ADAPTER-GUIDE.md`), so they get their own SQL types whose storage
//! is chosen per backend: `TIMESTAMPTZ`/`DATETIME(3)`/canonical `TEXT` and
//! `JSONB`/`JSON` (LONGTEXT on MariaDB)/`TEXT`. Text, integers and booleans
//! use Diesel's own types.

use adapter_interfaces::{Timestamp, Value};
use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql, FromSqlRow};
use diesel::expression::AsExpression;
use diesel::serialize::{self, IsNull, Output, ToSql};
use diesel::sql_types::{BigInt, Bool, Nullable, Text};

/// A timestamp column: `TIMESTAMPTZ(3)`, `DATETIME(3)` in UTC, or canonical text on SQLite.
#[derive(
    Debug, Clone, Copy, Default, diesel::sql_types::SqlType, diesel::query_builder::QueryId,
)]
#[cfg_attr(
    feature = "postgres",
    diesel(postgres_type(oid = 1184, array_oid = 1185))
)]
#[cfg_attr(feature = "mysql", diesel(mysql_type(name = "DateTime")))]
#[cfg_attr(feature = "sqlite", diesel(sqlite_type(name = "Text")))]
pub struct Ts;

/// A JSON column: `JSONB`, `JSON` (text on the wire), or text on SQLite.
#[derive(
    Debug, Clone, Copy, Default, diesel::sql_types::SqlType, diesel::query_builder::QueryId,
)]
#[cfg_attr(
    feature = "postgres",
    diesel(postgres_type(oid = 3802, array_oid = 3807))
)]
#[cfg_attr(feature = "mysql", diesel(mysql_type(name = "String")))]
#[cfg_attr(feature = "sqlite", diesel(sqlite_type(name = "Text")))]
pub struct Json;

/// One column value as Diesel binds and loads it: an `adapter_interfaces`
/// [`Value`] whose variant is decided by the column's SQL type.
#[derive(Debug, Clone, PartialEq, AsExpression, FromSqlRow)]
#[diesel(sql_type = Text)]
#[diesel(sql_type = BigInt)]
#[diesel(sql_type = Bool)]
#[diesel(sql_type = Ts)]
#[diesel(sql_type = Json)]
pub struct Val(pub Value);

impl Val {
    /// A text value.
    pub fn text(s: impl Into<String>) -> Self {
        Val(Value::Text(s.into()))
    }
}

fn mismatch(expected: &str, got: &Value) -> Box<dyn std::error::Error + Send + Sync> {
    // Only the variant: values may be secrets.
    let kind = match got {
        Value::Null => "null",
        Value::Text(_) => "text",
        Value::Int(_) => "integer",
        Value::Bool(_) => "boolean",
        Value::Timestamp(_) => "timestamp",
        Value::Json(_) => "json",
    };
    format!("cannot bind a {kind} value as {expected}").into()
}

/// `FromSql` for a SQL type and its `Nullable`, given how to read a non-null value.
macro_rules! from_sql_both {
    ($st:ty, $db:ty, |$raw:ident| $read:expr) => {
        impl FromSql<$st, $db> for Val {
            fn from_sql($raw: <$db as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
                $read
            }
        }
        impl FromSql<Nullable<$st>, $db> for Val {
            fn from_sql(raw: <$db as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
                <Val as FromSql<$st, $db>>::from_sql(raw)
            }
            fn from_nullable_sql(
                raw: Option<<$db as Backend>::RawValue<'_>>,
            ) -> deserialize::Result<Self> {
                match raw {
                    Some(raw) => <Val as FromSql<$st, $db>>::from_sql(raw),
                    None => Ok(Val(Value::Null)),
                }
            }
        }
    };
}

/// Text, integers and booleans read and bind the same way on every backend.
macro_rules! plain_types {
    ($db:ty) => {
        from_sql_both!(Text, $db, |raw| Ok(Val(Value::Text(
            <String as FromSql<Text, $db>>::from_sql(raw)?
        ))));
        from_sql_both!(BigInt, $db, |raw| Ok(Val(Value::Int(<i64 as FromSql<
            BigInt,
            $db,
        >>::from_sql(raw)?))));
        from_sql_both!(Bool, $db, |raw| Ok(Val(Value::Bool(<bool as FromSql<
            Bool,
            $db,
        >>::from_sql(raw)?))));

        impl ToSql<Text, $db> for Val {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, $db>) -> serialize::Result {
                match &self.0 {
                    Value::Null => Ok(IsNull::Yes),
                    Value::Text(s) => <str as ToSql<Text, $db>>::to_sql(s.as_str(), out),
                    other => Err(mismatch("text", other)),
                }
            }
        }
        impl ToSql<BigInt, $db> for Val {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, $db>) -> serialize::Result {
                match &self.0 {
                    Value::Null => Ok(IsNull::Yes),
                    Value::Int(i) => <i64 as ToSql<BigInt, $db>>::to_sql(i, out),
                    other => Err(mismatch("integer", other)),
                }
            }
        }
        impl ToSql<Bool, $db> for Val {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, $db>) -> serialize::Result {
                match &self.0 {
                    Value::Null => Ok(IsNull::Yes),
                    Value::Bool(b) => <bool as ToSql<Bool, $db>>::to_sql(b, out),
                    other => Err(mismatch("boolean", other)),
                }
            }
        }
    };
}

#[cfg(any(feature = "mysql", feature = "sqlite"))]
fn json_from_text(text: &[u8]) -> deserialize::Result<Val> {
    Ok(Val(Value::Json(serde_json::from_slice(text)?)))
}

#[cfg(feature = "postgres")]
mod pg {
    use super::*;
    use chrono::{DateTime, Utc};
    use diesel::pg::Pg;
    use diesel::sql_types::{Jsonb, Timestamptz};

    plain_types!(Pg);
    from_sql_both!(Ts, Pg, |raw| Ok(Val(Value::Timestamp(
        Timestamp::from_datetime(<DateTime<Utc> as FromSql<Timestamptz, Pg>>::from_sql(raw)?)
    ))));
    from_sql_both!(Json, Pg, |raw| Ok(Val(Value::Json(
        <serde_json::Value as FromSql<Jsonb, Pg>>::from_sql(raw)?
    ))));

    impl ToSql<Ts, Pg> for Val {
        fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
            match &self.0 {
                Value::Null => Ok(IsNull::Yes),
                Value::Timestamp(t) => <DateTime<Utc> as ToSql<Timestamptz, Pg>>::to_sql(
                    &t.as_datetime(),
                    &mut out.reborrow(),
                ),
                other => Err(mismatch("timestamp", other)),
            }
        }
    }
    impl ToSql<Json, Pg> for Val {
        fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
            match &self.0 {
                Value::Json(j) => <serde_json::Value as ToSql<Jsonb, Pg>>::to_sql(j, out),
                other => Err(mismatch("json", other)),
            }
        }
    }
}

#[cfg(feature = "mysql")]
mod mysql {
    use super::*;
    use diesel::mysql::Mysql;
    use diesel::sql_types::Datetime;

    plain_types!(Mysql);
    from_sql_both!(Ts, Mysql, |raw| {
        let naive = <chrono::NaiveDateTime as FromSql<Datetime, Mysql>>::from_sql(raw)?;
        Ok(Val(Value::Timestamp(Timestamp::from_datetime(
            naive.and_utc(),
        ))))
    });
    // MariaDB's JSON is LONGTEXT, MySQL's arrives as text too: parse it.
    from_sql_both!(Json, Mysql, |raw| json_from_text(raw.as_bytes()));

    impl ToSql<Ts, Mysql> for Val {
        fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Mysql>) -> serialize::Result {
            match &self.0 {
                Value::Null => Ok(IsNull::Yes),
                Value::Timestamp(t) => <chrono::NaiveDateTime as ToSql<Datetime, Mysql>>::to_sql(
                    &t.as_datetime().naive_utc(),
                    &mut out.reborrow(),
                ),
                other => Err(mismatch("timestamp", other)),
            }
        }
    }
    impl ToSql<Json, Mysql> for Val {
        fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Mysql>) -> serialize::Result {
            match &self.0 {
                Value::Json(j) => {
                    let text = j.to_string();
                    <str as ToSql<Text, Mysql>>::to_sql(text.as_str(), &mut out.reborrow())
                }
                other => Err(mismatch("json", other)),
            }
        }
    }
}

#[cfg(feature = "sqlite")]
mod sqlite {
    use super::*;
    use diesel::sqlite::Sqlite;

    plain_types!(Sqlite);
    from_sql_both!(Ts, Sqlite, |raw| {
        let text = <String as FromSql<Text, Sqlite>>::from_sql(raw)?;
        Ok(Val(Value::Timestamp(text.parse::<Timestamp>()?)))
    });
    from_sql_both!(Json, Sqlite, |raw| {
        let text = <String as FromSql<Text, Sqlite>>::from_sql(raw)?;
        json_from_text(text.as_bytes())
    });

    impl ToSql<Ts, Sqlite> for Val {
        fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
            match &self.0 {
                Value::Null => Ok(IsNull::Yes),
                // The canonical text sorts chronologically and is what every backend writes.
                Value::Timestamp(t) => {
                    out.set_value(t.to_canonical_string());
                    Ok(IsNull::No)
                }
                other => Err(mismatch("timestamp", other)),
            }
        }
    }
    impl ToSql<Json, Sqlite> for Val {
        fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
            match &self.0 {
                Value::Json(j) => {
                    out.set_value(j.to_string());
                    Ok(IsNull::No)
                }
                other => Err(mismatch("json", other)),
            }
        }
    }
}
