//! The statements on each entity's table, in Diesel's DSL.
//!
//! [`DieselRecord`] is implemented for the eight entities by one macro whose
//! bodies are written once and compiled for every backend (through
//! [`on_conn!`](crate::conn::on_conn)). Rows travel as `Vec<Value>` in
//! `Record::COLUMNS` order, so the conversion to and from entities is the
//! generic `record::to_values` / `record::from_values`.

use adapter_interfaces::{
    Application, Code, Connection, Log, Password, Record, Session, Tenant, Timestamp, User, Value,
};
use async_trait::async_trait;
use diesel::prelude::*;
use diesel::result::QueryResult;
#[cfg(any(feature = "postgres", feature = "sqlite"))]
use diesel::upsert::excluded;
use diesel_async::RunQueryDsl;

use crate::conn::{Conn, on_conn};
use crate::expr::{Cond, Order};
use crate::schema;
use crate::types::Val;

/// The statements a store runs on one entity's table. `tenant` scopes every
/// statement (it is ignored for the tenants table itself).
#[async_trait]
pub(crate) trait DieselRecord: Record {
    /// The column names as the `table!` declares them, key first, without `tenant_id`.
    #[cfg(test)]
    const TABLE_COLUMNS: &'static [&'static str];

    /// The row with this key, locked for update when asked (PostgreSQL and MySQL).
    async fn fetch(
        conn: &mut Conn,
        tenant: &str,
        key: &str,
        lock: bool,
    ) -> QueryResult<Option<Vec<Value>>>;
    /// `SELECT … WHERE cond ORDER BY order LIMIT limit OFFSET offset`.
    async fn select(
        conn: &mut Conn,
        tenant: &str,
        cond: Cond,
        order: Order,
        limit: i64,
        offset: i64,
    ) -> QueryResult<Vec<Vec<Value>>>;
    /// `SELECT COUNT(*) … WHERE cond`.
    async fn count(conn: &mut Conn, tenant: &str, cond: Cond) -> QueryResult<i64>;
    /// Which of these keys exist; their rows locked for update when asked
    /// (PostgreSQL and MySQL), which serialises writes that depend on them.
    async fn existing(
        conn: &mut Conn,
        tenant: &str,
        keys: Vec<String>,
        lock: bool,
    ) -> QueryResult<Vec<String>>;
    /// One multi-row `INSERT`.
    async fn insert(conn: &mut Conn, tenant: &str, rows: Vec<Vec<Value>>) -> QueryResult<usize>;
    /// Inserts or replaces by key, never deleting: `ON CONFLICT … DO UPDATE`
    /// (PostgreSQL, SQLite); on MySQL the shared `INSERT … ON DUPLICATE KEY
    /// UPDATE` (`bulk::insert_value_rows`), whose guard fails the statement
    /// when a row would land on another record through a secondary unique key.
    async fn upsert(conn: &mut Conn, tenant: &str, rows: Vec<Vec<Value>>) -> QueryResult<()>;
    /// Writes every column of the row with the row's key.
    async fn update(conn: &mut Conn, tenant: &str, row: Vec<Value>) -> QueryResult<usize>;
    /// Deletes the row with this key.
    async fn delete(conn: &mut Conn, tenant: &str, key: &str) -> QueryResult<usize>;
}

/// `Val` once per column, to spell a row type.
macro_rules! val_of {
    ($x:ident) => {
        Val
    };
}

/// The scope of a statement: `tenant_id = ?` on tenant-scoped tables.
macro_rules! scoped {
    ($table:ident, (), $tenant:expr, $q:expr) => {{
        let _ = $tenant;
        $q
    }};
    ($table:ident, ($tcol:ident), $tenant:expr, $q:expr) => {
        $q.filter(schema::$table::$tcol.eq(Val::text($tenant)))
    };
}

/// Loads rows, with `FOR UPDATE` where the database has it (SQLite writes are serialised by the store).
macro_rules! load_locked {
    (sqlite, $c:ident, $q:expr, $lock:expr, $row:ty) => {{
        let _ = $lock;
        $q.load::<$row>($c).await
    }};
    ($d:ident, $c:ident, $q:expr, $lock:expr, $row:ty) => {
        if $lock {
            $q.for_update().load::<$row>($c).await
        } else {
            $q.load::<$row>($c).await
        }
    };
}

/// The bodies of [`DieselRecord`]'s methods, per backend.
macro_rules! table_op {
    (@tuples $table:ident, ($($tcol:ident)?), $key:ident, [$($col:ident),*], $tenant:ident, $rows:expr) => {{
        let _ = $tenant;
        $rows
            .into_iter()
            .map(|row: Vec<Value>| {
                let mut values = row.into_iter();
                let mut next = move || Val(values.next().unwrap_or(Value::Null));
                (
                    $( schema::$table::$tcol.eq(Val::text($tenant)), )?
                    schema::$table::$key.eq(next()),
                    $( schema::$table::$col.eq(next()), )*
                )
            })
            .collect::<Vec<_>>()
    }};
    // Diesel's multi-row INSERT on SQLite exists for its synchronous connection only:
    // run it on the wrapper's blocking thread, inside the same transaction.
    (sqlite, $c:ident, insert_rows, $table:ident, ($($tcol:ident)?), $key:ident, [$($col:ident),*], $tenant:ident, $rows:expr) => {{
        let tuples = table_op!(@tuples $table, ($($tcol)?), $key, [$($col),*], $tenant, $rows);
        if tuples.is_empty() {
            Ok(0)
        } else {
            $c.spawn_blocking(move |sync| {
                diesel::RunQueryDsl::execute(diesel::insert_into(schema::$table::table).values(tuples), sync)
            })
            .await
        }
    }};
    ($d:ident, $c:ident, insert_rows, $table:ident, ($($tcol:ident)?), $key:ident, [$($col:ident),*], $tenant:ident, $rows:expr) => {{
        let tuples = table_op!(@tuples $table, ($($tcol)?), $key, [$($col),*], $tenant, $rows);
        if tuples.is_empty() {
            Ok(0)
        } else {
            diesel::insert_into(schema::$table::table).values(tuples).execute($c).await
        }
    }};
    ($d:ident, $c:ident, update_row, $table:ident, ($($tcol:ident)?), $key:ident, [$($col:ident),*], $tenant:ident, $row:expr) => {{
        let mut values = $row.into_iter();
        let mut next = move || Val(values.next().unwrap_or(Value::Null));
        let key = next();
        let target = scoped!($table, ($($tcol)?), $tenant, schema::$table::table.filter(schema::$table::$key.eq(key)));
        diesel::update(target)
            .set(( $( schema::$table::$col.eq(next()), )* ))
            .execute($c)
            .await
    }};
    ($d:ident, $c:ident, fetch, $table:ident, ($($tcol:ident)?), $key:ident, [$($col:ident),*], $tenant:ident, $keyv:ident, $lock:ident) => {{
        let q = scoped!($table, ($($tcol)?), $tenant, schema::$table::table.filter(schema::$table::$key.eq(Val::text($keyv))))
            .select((schema::$table::$key, $( schema::$table::$col, )*))
            .limit(1);
        let rows = load_locked!($d, $c, q, $lock, (Val, $( val_of!($col), )*))?;
        Ok(rows.into_iter().next().map(|(k, $($col,)*)| vec![k.0, $($col.0,)*]))
    }};
    ($d:ident, $c:ident, select, $table:ident, ($($tcol:ident)?), $key:ident, [$($col:ident),*], $tenant:ident, $cond:ident, $order:ident, $limit:ident, $offset:ident) => {{
        let rows = scoped!($table, ($($tcol)?), $tenant, schema::$table::table.filter($cond))
            .select((schema::$table::$key, $( schema::$table::$col, )*))
            .order_by($order)
            .limit($limit)
            .offset($offset)
            .load::<(Val, $( val_of!($col), )*)>($c)
            .await?;
        Ok(rows.into_iter().map(|(k, $($col,)*)| vec![k.0, $($col.0,)*]).collect())
    }};
    ($d:ident, $c:ident, count, $table:ident, ($($tcol:ident)?), $key:ident, [$($col:ident),*], $tenant:ident, $cond:ident) => {
        scoped!($table, ($($tcol)?), $tenant, schema::$table::table.filter($cond))
            .count()
            .get_result::<i64>($c)
            .await
    };
    ($d:ident, $c:ident, existing, $table:ident, ($($tcol:ident)?), $key:ident, [$($col:ident),*], $tenant:ident, $keys:ident, $lock:ident) => {{
        let keys: Vec<Val> = $keys.into_iter().map(Val::text).collect();
        let q = scoped!($table, ($($tcol)?), $tenant, schema::$table::table.filter(schema::$table::$key.eq_any(keys)))
            .select(schema::$table::$key);
        let found = load_locked!($d, $c, q, $lock, Val)?;
        Ok(found.into_iter().filter_map(|v| match v.0 { Value::Text(s) => Some(s), _ => None }).collect())
    }};
    // The shared guarded `INSERT … ON DUPLICATE KEY UPDATE` of sqlx and SeaORM
    // (`bulk::insert_value_rows`): one statement for the rows, which the store
    // splits within MySQL's bind limit and packet budget.
    (mysql, $c:ident, upsert, $table:ident, ($($tcol:ident)?), $key:ident, [$($col:ident),*], $tenant:ident, $rows:ident) => {{
        if $rows.is_empty() {
            Ok(())
        } else {
            let statement = adapter_interfaces::bulk::insert_value_rows::<Self>(
                adapter_interfaces::schema::Dialect::MariaDb,
                $tenant,
                $rows,
                adapter_interfaces::bulk::OnKey::Update,
            );
            let (sql, binds) = statement.into_sql(adapter_interfaces::schema::Dialect::MariaDb);
            crate::bulk::run_statement!(mysql, $c, sql, binds).map(|_| ())
        }
    }};
    (sqlite, $c:ident, upsert, $table:ident, ($($tcol:ident)?), $key:ident, [$($col:ident),*], $tenant:ident, $rows:ident) => {{
        let tuples = table_op!(@tuples $table, ($($tcol)?), $key, [$($col),*], $tenant, $rows);
        if !tuples.is_empty() {
            $c.spawn_blocking(move |sync| {
                diesel::RunQueryDsl::execute(
                    diesel::insert_into(schema::$table::table)
                        .values(tuples)
                        .on_conflict(($( schema::$table::$tcol, )? schema::$table::$key))
                        .do_update()
                        .set(( $( schema::$table::$col.eq(excluded(schema::$table::$col)), )* )),
                    sync,
                )
            })
            .await?;
        }
        Ok(())
    }};
    ($d:ident, $c:ident, upsert, $table:ident, ($($tcol:ident)?), $key:ident, [$($col:ident),*], $tenant:ident, $rows:ident) => {{
        let tuples = table_op!(@tuples $table, ($($tcol)?), $key, [$($col),*], $tenant, $rows);
        if !tuples.is_empty() {
            diesel::insert_into(schema::$table::table)
                .values(tuples)
                .on_conflict(($( schema::$table::$tcol, )? schema::$table::$key))
                .do_update()
                .set(( $( schema::$table::$col.eq(excluded(schema::$table::$col)), )* ))
                .execute($c)
                .await?;
        }
        Ok(())
    }};
    ($d:ident, $c:ident, delete, $table:ident, ($($tcol:ident)?), $key:ident, [$($col:ident),*], $tenant:ident, $keyv:ident) => {
        diesel::delete(scoped!($table, ($($tcol)?), $tenant, schema::$table::table.filter(schema::$table::$key.eq(Val::text($keyv)))))
            .execute($c)
            .await
    };
}

macro_rules! diesel_record {
    ($record:ty, $table:ident, ($($tcol:ident)?), $key:ident, [$($col:ident),* $(,)?]) => {
        #[async_trait]
        impl DieselRecord for $record {
            #[cfg(test)]
            const TABLE_COLUMNS: &'static [&'static str] = &[
                <schema::$table::$key as diesel::Column>::NAME,
                $( <schema::$table::$col as diesel::Column>::NAME, )*
            ];

            async fn fetch(conn: &mut Conn, tenant: &str, key: &str, lock: bool) -> QueryResult<Option<Vec<Value>>> {
                on_conn!(conn, table_op!(fetch, $table, ($($tcol)?), $key, [$($col),*], tenant, key, lock))
            }
            async fn select(conn: &mut Conn, tenant: &str, cond: Cond, order: Order, limit: i64, offset: i64) -> QueryResult<Vec<Vec<Value>>> {
                on_conn!(conn, table_op!(select, $table, ($($tcol)?), $key, [$($col),*], tenant, cond, order, limit, offset))
            }
            async fn count(conn: &mut Conn, tenant: &str, cond: Cond) -> QueryResult<i64> {
                on_conn!(conn, table_op!(count, $table, ($($tcol)?), $key, [$($col),*], tenant, cond))
            }
            async fn existing(conn: &mut Conn, tenant: &str, keys: Vec<String>, lock: bool) -> QueryResult<Vec<String>> {
                on_conn!(conn, table_op!(existing, $table, ($($tcol)?), $key, [$($col),*], tenant, keys, lock))
            }
            async fn insert(conn: &mut Conn, tenant: &str, rows: Vec<Vec<Value>>) -> QueryResult<usize> {
                on_conn!(conn, table_op!(insert_rows, $table, ($($tcol)?), $key, [$($col),*], tenant, rows))
            }
            async fn upsert(conn: &mut Conn, tenant: &str, rows: Vec<Vec<Value>>) -> QueryResult<()> {
                on_conn!(conn, table_op!(upsert, $table, ($($tcol)?), $key, [$($col),*], tenant, rows))
            }
            async fn update(conn: &mut Conn, tenant: &str, row: Vec<Value>) -> QueryResult<usize> {
                on_conn!(conn, table_op!(update_row, $table, ($($tcol)?), $key, [$($col),*], tenant, row))
            }
            async fn delete(conn: &mut Conn, tenant: &str, key: &str) -> QueryResult<usize> {
                on_conn!(conn, table_op!(delete, $table, ($($tcol)?), $key, [$($col),*], tenant, key))
            }
        }
    };
}

diesel_record!(
    Tenant,
    tenants,
    (),
    id,
    [
        friendly_name,
        audience,
        sender_email,
        sender_name,
        support_url,
        session_lifetime,
        created_at,
        updated_at,
    ]
);
diesel_record!(
    User,
    users,
    (tenant_id),
    user_id,
    [
        email,
        email_verified,
        username,
        phone_number,
        phone_verified,
        name,
        given_name,
        family_name,
        nickname,
        picture,
        locale,
        provider,
        connection,
        is_social,
        blocked,
        linked_to,
        last_ip,
        last_login,
        login_count,
        app_metadata,
        user_metadata,
        created_at,
        updated_at,
        name_folded,
        given_name_folded,
        family_name_folded,
        nickname_folded,
    ]
);
diesel_record!(
    Application,
    applications,
    (tenant_id),
    client_id,
    [
        name,
        client_secret,
        app_type,
        callbacks,
        allowed_origins,
        web_origins,
        allowed_logout_urls,
        grant_types,
        is_first_party,
        client_metadata,
        created_at,
        updated_at,
    ]
);
diesel_record!(
    Connection,
    connections,
    (tenant_id),
    id,
    [
        name,
        strategy,
        display_name,
        options,
        enabled_clients,
        created_at,
        updated_at,
    ]
);
diesel_record!(
    Session,
    sessions,
    (tenant_id),
    id,
    [
        user_id,
        login_session_id,
        device,
        clients,
        expires_at,
        idle_expires_at,
        authenticated_at,
        last_interaction_at,
        used_at,
        revoked_at,
        created_at,
        updated_at,
    ]
);
diesel_record!(
    Code,
    codes,
    (tenant_id),
    code_id,
    [
        code_type,
        login_id,
        user_id,
        expires_at,
        used_at,
        redirect_uri,
        code_challenge,
        code_challenge_method,
        state,
        nonce,
        created_at,
    ]
);
diesel_record!(
    Password,
    passwords,
    (tenant_id),
    id,
    [
        user_id, password, algorithm, is_current, created_at, updated_at,
    ]
);
diesel_record!(
    Log,
    logs,
    (tenant_id),
    log_id,
    [
        log_type,
        date,
        description,
        ip,
        user_agent,
        user_id,
        user_name,
        connection,
        client_id,
        client_name,
        details,
    ]
);

/// The statements that only codes and passwords have.
macro_rules! special_op {
    ($d:ident, $c:ident, consume, $tenant:ident, $id:ident, $now:ident) => {{
        use schema::codes::dsl as t;
        diesel::update(
            t::codes
                .filter(t::tenant_id.eq(Val::text($tenant)))
                .filter(t::code_id.eq(Val::text($id)))
                .filter(t::used_at.is_null())
                .filter(t::expires_at.gt(Val(Value::Timestamp($now)))),
        )
        .set(t::used_at.eq(Val(Value::Timestamp($now))))
        .execute($c)
        .await
    }};
    ($d:ident, $c:ident, cleanup, $tenant:ident, $bound:ident) => {{
        use schema::codes::dsl as t;
        diesel::delete(
            t::codes
                .filter(t::tenant_id.eq(Val::text($tenant)))
                .filter(t::expires_at.le(Val(Value::Timestamp($bound)))),
        )
        .execute($c)
        .await
    }};
    ($d:ident, $c:ident, demote, $tenant:ident, $user_id:ident, $keep:ident, $at:ident) => {{
        use schema::passwords::dsl as t;
        let keep: Vec<Val> = $keep.into_iter().map(Val::text).collect();
        diesel::update(
            t::passwords
                .filter(t::tenant_id.eq(Val::text($tenant)))
                .filter(t::user_id.eq(Val::text($user_id)))
                .filter(t::id.ne_all(keep))
                .filter(t::is_current.eq(Val(Value::Bool(true)))),
        )
        .set((
            t::is_current.eq(Val(Value::Bool(false))),
            t::updated_at.eq(Val(Value::Timestamp($at))),
        ))
        .execute($c)
        .await
    }};
}

/// Marks an unused, unexpired code used; the number of rows changed (0 or 1).
pub(crate) async fn consume_code(
    conn: &mut Conn,
    tenant: &str,
    code_id: &str,
    now: Timestamp,
) -> QueryResult<usize> {
    on_conn!(conn, special_op!(consume, tenant, code_id, now))
}

/// Deletes the tenant's codes that expired at or before `bound` (a storable
/// instant: see [`Timestamp::last_storable_before`]).
pub(crate) async fn cleanup_codes(
    conn: &mut Conn,
    tenant: &str,
    bound: Timestamp,
) -> QueryResult<usize> {
    on_conn!(conn, special_op!(cleanup, tenant, bound))
}

/// Makes the user's current passwords other than `keep` not current, with `updated_at = at`.
pub(crate) async fn demote_passwords(
    conn: &mut Conn,
    tenant: &str,
    user_id: &str,
    keep: Vec<String>,
    at: Timestamp,
) -> QueryResult<usize> {
    on_conn!(conn, special_op!(demote, tenant, user_id, keep, at))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_matches<R: DieselRecord>() {
        let names: Vec<&str> = R::COLUMNS.iter().map(|c| c.name).collect();
        assert_eq!(R::TABLE_COLUMNS, names.as_slice(), "{}", R::KIND);
    }

    #[test]
    fn table_definitions_match_the_entities() {
        assert_matches::<Tenant>();
        assert_matches::<User>();
        assert_matches::<Application>();
        assert_matches::<Connection>();
        assert_matches::<Session>();
        assert_matches::<Code>();
        assert_matches::<Password>();
        assert_matches::<Log>();
    }
}
