//! Helpers shared by the checks: fixtures, assertions on errors, listing.

use std::cmp::Ordering;
use std::fmt::Debug;

use adapter_interfaces::record::{self, ColumnKind, Record, Value};
use adapter_interfaces::{
    AdapterError, DataAdapters, EntityKind, EntityStore, ListParams, Page, Password, Result,
    SortOrder, Tenant, TenantInsert, TenantsAdapter, Timestamp, UserInsert,
};
use futures::future::BoxFuture;
use serde_json::Value as Json;

/// The tenant most checks write to.
pub(crate) const T1: &str = "tenant-a";
/// A second tenant, for isolation.
pub(crate) const T2: &str = "tenant-b";
/// A tenant that never exists.
pub(crate) const GHOST: &str = "no-such-tenant";
/// The users sessions and passwords belong to (created by [`prepare`]).
pub(crate) const PARENT: &str = "auth0|parent";
/// A second parent user.
pub(crate) const PARENT2: &str = "auth0|parent-2";

/// Parses a timestamp literal.
pub(crate) fn ts(text: &str) -> Timestamp {
    text.parse()
        .unwrap_or_else(|e| panic!("bad timestamp literal {text}: {e}"))
}

/// A fixed instant plus `minutes`.
pub(crate) fn at(minutes: i64) -> Timestamp {
    ts("2024-03-01T10:00:00.000Z").plus_millis(minutes * 60_000 + 7)
}

/// A JSON object from a `json!` literal.
pub(crate) fn obj(value: Json) -> serde_json::Map<String, Json> {
    match value {
        Json::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

/// Creates tenant `id`.
pub(crate) async fn tenant(db: &DataAdapters, id: &str) -> Tenant {
    db.tenants
        .create(TenantInsert {
            id: Some(id.into()),
            friendly_name: format!("Tenant {id}"),
            ..Default::default()
        })
        .await
        .unwrap_or_else(|e| panic!("tenants.create({id}) failed: {e:?}"))
}

/// Creates `insert` in `tenant`, which must succeed: the setup of a check.
pub(crate) async fn created<R: Record>(
    store: &dyn EntityStore<R>,
    tenant: &str,
    insert: R::Insert,
) -> R {
    ok(store.create(tenant, insert).await, "create")
}

/// Creates a user with `user_id` in `tenant_id`.
pub(crate) async fn user(db: &DataAdapters, tenant_id: &str, user_id: &str) {
    db.users
        .create(
            tenant_id,
            UserInsert {
                user_id: Some(user_id.into()),
                connection: "Username-Password-Authentication".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap_or_else(|e| panic!("users.create({user_id}) failed: {e:?}"));
}

/// Creates tenants [`T1`] and [`T2`] and, in both, the [`PARENT`] users.
pub(crate) async fn prepare(db: &DataAdapters) {
    for t in [T1, T2] {
        tenant(db, t).await;
        user(db, t, PARENT).await;
        user(db, t, PARENT2).await;
    }
}

/// The current password of `user` in `tenant`.
pub(crate) async fn current_password(
    db: &DataAdapters,
    tenant: &str,
    user: &str,
) -> Option<Password> {
    ok(db.passwords.get_current(tenant, user).await, "get_current")
}

/// Panics unless `result` is `InvalidInput` on `field`.
#[track_caller]
pub(crate) fn expect_invalid<T: Debug>(result: Result<T>, field: &str, what: &str) {
    match result {
        Err(AdapterError::InvalidInput { field: f, .. }) if f == field => {}
        other => panic!("{what}: expected InvalidInput on `{field}`, got {other:?}"),
    }
}

/// Panics unless `result` is `NotFound` of `entity` `id`.
#[track_caller]
pub(crate) fn expect_not_found<T: Debug>(
    result: Result<T>,
    entity: EntityKind,
    id: &str,
    what: &str,
) {
    match result {
        Err(AdapterError::NotFound { entity: e, id: i }) if e == entity && i == id => {}
        other => panic!("{what}: expected NotFound {{ {entity}, `{id}` }}, got {other:?}"),
    }
}

/// Panics unless `result` is `Conflict` of `entity` on `field`.
#[track_caller]
pub(crate) fn expect_conflict<T: Debug>(
    result: Result<T>,
    entity: EntityKind,
    field: &str,
    what: &str,
) {
    match result {
        Err(AdapterError::Conflict {
            entity: e,
            field: f,
        }) if e == entity && f == field => {}
        other => panic!("{what}: expected Conflict {{ {entity}, `{field}` }}, got {other:?}"),
    }
}

/// Unwraps an adapter result, naming the call on failure.
#[track_caller]
pub(crate) fn ok<T>(result: Result<T>, what: &str) -> T {
    result.unwrap_or_else(|e| panic!("{what} failed: {e:?}"))
}

/// Asserts that `at` lies within `[before, after]`, with a second of slack
/// for a database clock.
#[track_caller]
pub(crate) fn assert_plausible(at: Timestamp, before: Timestamp, after: Timestamp, what: &str) {
    assert!(
        at >= before.plus_millis(-1000) && at <= after.plus_millis(1000),
        "{what}: {at} is not the time of the call ({before} .. {after})"
    );
}

/// Anything that lists records of `R`: a tenant-scoped store or the tenants.
pub(crate) trait Lister<R>: Sync {
    /// Lists with `params`.
    fn list<'a>(&'a self, params: &'a ListParams) -> BoxFuture<'a, Result<Page<R>>>;
}

/// The records of one tenant in a tenant-scoped store.
pub(crate) struct Scoped<'a, R: Record> {
    pub store: &'a dyn EntityStore<R>,
    pub tenant: &'a str,
}

impl<R: Record> Lister<R> for Scoped<'_, R> {
    fn list<'a>(&'a self, params: &'a ListParams) -> BoxFuture<'a, Result<Page<R>>> {
        self.store.list(self.tenant, params)
    }
}

/// The tenants.
pub(crate) struct Tenants<'a>(pub &'a dyn TenantsAdapter);

impl Lister<Tenant> for Tenants<'_> {
    fn list<'a>(&'a self, params: &'a ListParams) -> BoxFuture<'a, Result<Page<Tenant>>> {
        self.0.list(params)
    }
}

/// Every record, by a keyset scan in default order.
pub(crate) async fn all<R: Record>(lister: &dyn Lister<R>) -> Vec<R> {
    all_from(lister, ListParams::default().with_per_page(1000)).await
}

/// Every record `params` selects, following the cursors from its first page.
pub(crate) async fn all_from<R: Record>(lister: &dyn Lister<R>, params: ListParams) -> Vec<R> {
    let mut out = Vec::new();
    let mut params = params;
    loop {
        let page = ok(lister.list(&params).await, "list (full scan)");
        out.extend(page.items);
        match page.next {
            Some(next) => params = params.with_from(next),
            None => return out,
        }
    }
}

/// Every record of `tenant` in a tenant-scoped store, by a keyset scan.
pub(crate) async fn all_in<R: Record>(store: &dyn EntityStore<R>, tenant: &str) -> Vec<R> {
    all(&Scoped { store, tenant }).await
}

/// Records sorted by key (bytes): the default order.
pub(crate) fn by_key<R: Record>(mut records: Vec<R>) -> Vec<R> {
    records.sort_by(|a, b| a.key().as_bytes().cmp(b.key().as_bytes()));
    records
}

/// Records in the canonical order of `column` (NULLs first ascending, last
/// descending), ties broken by the key in the same direction.
pub(crate) fn sorted_by<R: Record>(records: &[R], column: &str, order: SortOrder) -> Vec<R> {
    let mut out = records.to_vec();
    out.sort_by(|a, b| {
        let ordering = record::column_value(a, column)
            .canonical_cmp(&record::column_value(b, column))
            .then_with(|| a.key().as_bytes().cmp(b.key().as_bytes()));
        if order == SortOrder::Desc {
            ordering.reverse()
        } else {
            ordering
        }
    });
    out
}

/// Keys of records, for readable failure messages.
pub(crate) fn keys<R: Record>(records: &[R]) -> Vec<String> {
    records.iter().map(|r| r.key().to_owned()).collect()
}

/// Asserts that two record lists are equal, showing keys first.
#[track_caller]
pub(crate) fn assert_records<R: Record>(actual: &[R], expected: &[R], what: &str) {
    assert_eq!(
        keys(actual),
        keys(expected),
        "{what}: wrong records or order"
    );
    assert_eq!(actual, expected, "{what}: records differ");
}

/// Asserts that `q` `field:"name"` in [`T1`] finds exactly the record
/// `key(i)` for the `i`-th of `names`: equality on a unique text field
/// compares bytes, so no collation may fold case, spaces or accents.
pub(crate) async fn assert_q_finds_each<R: Record>(
    store: &dyn EntityStore<R>,
    field: &str,
    names: &[&str],
    key: impl Fn(usize) -> String,
) {
    for (i, name) in names.iter().enumerate() {
        let params = ListParams::default().with_q(format!("{field}:{}", quote(name)));
        let page = ok(store.list(T1, &params).await, "list");
        assert_eq!(
            keys(&page.items),
            vec![key(i)],
            "q {field}:{name:?} compares bytes"
        );
    }
}

/// Replaces one field of a serialisable value (an insert, a patch, a record);
/// `None` when the result does not deserialise (an enum field given text).
pub(crate) fn with_field<T>(value: &T, field: &str, new: Json) -> Option<T>
where
    T: serde::Serialize + serde::de::DeserializeOwned,
{
    let mut json = serde_json::to_value(value).ok()?;
    json.as_object_mut()?.insert(field.to_owned(), new.clone());
    let back: T = serde_json::from_value(json).ok()?;
    // A field the type does not have is silently dropped: report that as None.
    let check = serde_json::to_value(&back).ok()?;
    (check.get(field) == Some(&new)).then_some(back)
}

/// The `q` literal for a value.
pub(crate) fn q_literal(value: &Value) -> String {
    match value {
        Value::Text(s) => quote(s),
        Value::Int(i) => i.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Timestamp(t) => quote(&t.to_canonical_string()),
        Value::Null | Value::Json(_) => panic!("no q literal for {value:?}"),
    }
}

/// A quoted `q` value.
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::from('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// `actual op value` in two-valued logic (false on NULL).
pub(crate) fn compare(actual: &Value, op: &str, value: &Value) -> bool {
    if actual.is_null() {
        return false;
    }
    let ordering = actual.canonical_cmp(value);
    match op {
        "" => ordering == Ordering::Equal,
        ">" => ordering == Ordering::Greater,
        ">=" => ordering != Ordering::Less,
        "<" => ordering == Ordering::Less,
        "<=" => ordering != Ordering::Greater,
        _ => unreachable!("operator {op}"),
    }
}

/// Whether a column's values can be ordered in `q` (`>`, `<`, ...).
pub(crate) fn orderable(kind: ColumnKind) -> bool {
    matches!(
        kind,
        ColumnKind::Text { .. } | ColumnKind::Int | ColumnKind::Timestamp
    )
}

/// The error text of a result, for checks that secrets do not leak.
pub(crate) fn error_text<T>(result: &Result<T>) -> String {
    match result {
        Ok(_) => String::new(),
        Err(e) => {
            let mut text = format!("{e} {e:?}");
            let mut source = std::error::Error::source(e);
            while let Some(s) = source {
                text.push_str(&format!(" {s} {s:?}"));
                source = s.source();
            }
            text
        }
    }
}
