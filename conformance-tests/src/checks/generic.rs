//! Checks that every tenant-scoped entity must pass, written once over
//! [`Fixture`] and instantiated per entity from the list of checks in the
//! crate root (see `checks/mod.rs`).

use adapter_interfaces::record::{self, ColumnKind, Record, Value};
use adapter_interfaces::{
    DataAdapters, EntityKind, EntityStore, ListParams, MutableStore, Result, Sort, SortOrder,
    Timestamp,
};
use futures::future::BoxFuture;
use serde_json::{Value as Json, json};

use super::support::*;

// The generic checks of bad input at the edges, instantiated per entity like these.
pub(crate) use super::limits::{json_depth_limit, nul_lookups, timestamps_at_the_limits};

/// What the generic checks need to know about an entity.
pub(crate) trait Fixture: Record {
    /// The entity's adapter, as its generic store.
    fn store(db: &DataAdapters) -> &dyn EntityStore<Self>;

    /// Varied inserts with explicit keys and timestamps: NULLs, ties, case
    /// and non-ASCII differences, so that sorting and filtering are tested.
    /// They reference [`PARENT`] / [`PARENT2`] where the entity has a parent.
    fn samples() -> Vec<Self::Insert>;

    /// A valid insert with key `key` (and explicit timestamps).
    fn one(key: &str) -> Self::Insert;

    /// Whether a generated key has the shape `from_insert` gives it.
    fn key_shape_ok(key: &str) -> bool {
        is_hex32(key)
    }

    /// A valid text of exactly `chars` characters for `column`.
    fn long_text(_column: &str, chars: usize) -> String {
        "é".repeat(chars)
    }

    /// A record with another key that the database must reject given that
    /// `existing` is stored (a unique clash, a missing parent), if the entity has one.
    fn clash_with(_existing: &Self) -> Option<Self> {
        None
    }

    /// The entity's adapter as a mutable store, for entities that can be updated.
    fn mutable(_db: &DataAdapters) -> Option<&dyn MutableStore<Self>> {
        None
    }

    /// A valid non-empty patch, for entities that can be updated.
    fn valid_patch() -> Option<Self::Patch> {
        None
    }

    /// Removes a record, for entities that can be removed: through the
    /// mutable store, where the entity has one (codes and passwords, which
    /// can be removed but not updated, say so themselves).
    fn remove<'a>(
        db: &'a DataAdapters,
        tenant: &'a str,
        id: &'a str,
    ) -> Option<BoxFuture<'a, Result<bool>>> {
        Some(Self::mutable(db)?.remove(tenant, id))
    }

    /// Applies [`Fixture::valid_patch`], for entities that can be updated.
    fn update<'a>(
        db: &'a DataAdapters,
        tenant: &'a str,
        id: &'a str,
    ) -> Option<BoxFuture<'a, Result<Self>>> {
        Some(Self::mutable(db)?.update(tenant, id, Self::valid_patch()?))
    }
}

/// The mutable store of an entity with updates.
fn mutable<R: Fixture>(db: &DataAdapters) -> &dyn MutableStore<R> {
    R::mutable(db).expect("an entity with updates")
}

/// Whether `s` is 32 lower-case hex digits (a simple UUID).
pub(crate) fn is_hex32(s: &str) -> bool {
    s.len() == 32
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The record `create` must return for an insert with explicit key and timestamps.
pub(crate) fn expected<R: Record>(insert: &R::Insert) -> R {
    ok(
        R::from_insert(insert.clone(), Timestamp::now()),
        "building the expected record",
    )
}

/// An insert carrying every field of `record`, key and timestamps included.
pub(crate) fn insert_of<R: Record>(record: &R) -> R::Insert {
    serde_json::from_value(serde_json::to_value(record).expect("a record serialises"))
        .expect("a record reads as an insert")
}

/// Creates `want` from an insert of all its fields in [`T2`] and reads it
/// back: the entity's hand-written record with every field set, which the
/// samples cannot cover all at once.
pub(crate) async fn full_round_trip<R: Fixture>(db: &DataAdapters, want: &R) {
    let store = R::store(db);
    assert_eq!(
        &ok(store.create(T2, insert_of(want)).await, "create"),
        want,
        "create did not store every field"
    );
    assert_eq!(
        ok(store.get(T2, want.key()).await, "get").as_ref(),
        Some(want),
        "get did not return every field"
    );
}

/// The records of `R` in `tenant`, as a [`Lister`].
pub(crate) fn scoped<'a, R: Fixture>(db: &'a DataAdapters, tenant: &'a str) -> Scoped<'a, R> {
    Scoped {
        store: R::store(db),
        tenant,
    }
}

/// Creates the tenants, and the parent users when `R` has a parent.
pub(crate) async fn setup<R: Fixture>(db: &DataAdapters) {
    if R::PARENT.is_some() {
        prepare(db).await;
    } else {
        tenant(db, T1).await;
        tenant(db, T2).await;
    }
}

/// Everything a rejected call could have touched: the records of both
/// tenants, and the tenants.
pub(crate) type Snapshot<R> = (Vec<R>, Vec<R>, Vec<adapter_interfaces::Tenant>);

/// Takes a [`Snapshot`].
pub(crate) async fn snapshot<R: Fixture>(db: &DataAdapters) -> Snapshot<R> {
    (
        all_in(R::store(db), T1).await,
        all_in(R::store(db), T2).await,
        all(&Tenants(&*db.tenants)).await,
    )
}

/// Panics with `failure` unless the store is still as in `before`.
pub(crate) async fn assert_unchanged<R: Fixture>(
    db: &DataAdapters,
    before: &Snapshot<R>,
    failure: &str,
) {
    assert!(snapshot::<R>(db).await == *before, "{failure}");
}

/// Creates the record [`Fixture::one`] gives for `key` in `tenant`.
pub(crate) async fn create_one<R: Fixture>(db: &DataAdapters, tenant: &str, key: &str) -> R {
    let what = format!("create {}", R::KIND);
    ok(R::store(db).create(tenant, R::one(key)).await, &what)
}

/// Creates the samples in [`T1`] (and, to prove lists stay within their
/// tenant, the first two in [`T2`]); returns those of `T1` in key order.
pub(crate) async fn seed<R: Fixture>(db: &DataAdapters) -> Vec<R> {
    setup::<R>(db).await;
    let store = R::store(db);
    let mut out = Vec::new();
    for insert in R::samples() {
        let want: R = expected(&insert);
        let got = ok(store.create(T1, insert).await, "create (sample)");
        assert_eq!(
            got, want,
            "create returned another record than it was given"
        );
        out.push(got);
    }
    for insert in R::samples().into_iter().take(2) {
        ok(
            store.create(T2, insert).await,
            "create (sample in the second tenant)",
        );
    }
    by_key(out)
}

pub(crate) async fn create_round_trip<R: Fixture>(db: &DataAdapters) {
    let records = seed::<R>(db).await;
    let store = R::store(db);
    for r in &records {
        let got = ok(store.get(T1, r.key()).await, "get");
        assert_eq!(
            got.as_ref(),
            Some(r),
            "get does not return what create stored"
        );
    }
    assert_records(
        &all_in(R::store(db), T1).await,
        &records,
        "list after create",
    );
}

pub(crate) async fn create_generates_id_and_timestamps<R: Fixture>(db: &DataAdapters) {
    setup::<R>(db).await;
    let store = R::store(db);
    let bare = |key: &str| {
        let mut insert = R::one(key);
        for column in R::COLUMNS {
            let generated = column.name == R::key_column().name
                || matches!(column.name, "created_at" | "updated_at" | "date");
            if generated {
                insert = with_field(&insert, column.name, Json::Null)
                    .unwrap_or_else(|| panic!("cannot leave `{}` out of an insert", column.name));
            }
        }
        insert
    };
    let before = Timestamp::now();
    let first = ok(store.create(T1, bare("gen1")).await, "create without key");
    let second = ok(
        store.create(T1, bare("gen2")).await,
        "second create without key",
    );
    let after = Timestamp::now();
    for r in [&first, &second] {
        assert!(
            R::key_shape_ok(r.key()),
            "generated key `{}` has the wrong shape",
            r.key()
        );
        let mut stamps = Vec::new();
        for column in R::COLUMNS {
            if matches!(column.name, "created_at" | "updated_at" | "date") {
                let Value::Timestamp(t) = record::column_value(r, column.name) else {
                    panic!("`{}` was not generated", column.name);
                };
                assert_plausible(t, before, after, column.name);
                stamps.push(t);
            }
        }
        assert!(
            stamps.windows(2).all(|w| w[0] == w[1]),
            "created_at and updated_at differ: {stamps:?}"
        );
        assert_eq!(
            ok(store.get(T1, r.key()).await, "get").as_ref(),
            Some(r),
            "get after create"
        );
    }
    assert_ne!(
        first.key(),
        second.key(),
        "two creates generated the same key"
    );
}

pub(crate) async fn get_missing<R: Fixture>(db: &DataAdapters) {
    let records = seed::<R>(db).await;
    let store = R::store(db);
    assert_eq!(
        ok(store.get(T1, "missing-key").await, "get"),
        None,
        "get of a missing key"
    );
    assert_eq!(
        ok(store.get(GHOST, records[0].key()).await, "get"),
        None,
        "get under an unknown tenant"
    );
    assert_eq!(
        ok(store.get(T1, "").await, "get"),
        None,
        "get of the empty key"
    );
}

pub(crate) async fn create_unknown_tenant<R: Fixture>(db: &DataAdapters) {
    setup::<R>(db).await;
    let before = snapshot::<R>(db).await;
    let result = R::store(db).create(GHOST, R::one("k1")).await;
    expect_not_found(
        result,
        EntityKind::Tenant,
        GHOST,
        "create under an unknown tenant",
    );
    assert_unchanged(db, &before, "a rejected create wrote something").await;
    assert_eq!(
        ok(db.tenants.get(GHOST).await, "get tenant"),
        None,
        "the tenant appeared"
    );
    assert!(
        all_in(R::store(db), GHOST).await.is_empty(),
        "a record appeared under the unknown tenant"
    );
}

pub(crate) async fn create_conflict_on_key<R: Fixture>(db: &DataAdapters) {
    let records = seed::<R>(db).await;
    let store = R::store(db);
    let first = &records[0];
    let before = snapshot::<R>(db).await;
    // A fresh record's values (clashing on nothing else) under a taken key.
    let clash = with_field(&R::one("fresh"), R::key_column().name, json!(first.key()))
        .expect("set the key");
    let result = store.create(T1, clash).await;
    expect_conflict(
        result,
        R::KIND,
        R::key_column().name,
        "create with a taken key",
    );
    assert_unchanged(db, &before, "a rejected create changed the store").await;
    if let Some(clash) = R::clash_with(first) {
        assert!(
            store.create(T1, insert_of(&clash)).await.is_err(),
            "a clashing create was accepted"
        );
        assert_unchanged(db, &before, "a rejected create changed the store").await;
    }
}

pub(crate) async fn upsert_exact<R: Fixture>(db: &DataAdapters) {
    setup::<R>(db).await;
    let store = R::store(db);
    let samples = R::samples();
    let first: R = expected(&samples[0]);
    ok(store.upsert(T1, first.clone()).await, "upsert (insert)");
    assert_eq!(
        ok(store.get(T1, first.key()).await, "get").as_ref(),
        Some(&first),
        "upsert did not insert the exact record"
    );
    // Replace it with other values, and timestamps at the edges of the storable range.
    let mut replacement: R = expected(&samples[1]);
    for (name, value) in [
        (R::key_column().name, json!(first.key())),
        ("created_at", json!("1000-01-01T00:00:00.000Z")),
        ("date", json!("1000-01-01T00:00:00.000Z")),
        ("updated_at", json!("9999-12-31T23:59:59.999Z")),
    ] {
        if let Some(r) = with_field(&replacement, name, value) {
            replacement = r;
        }
    }
    ok(
        store.upsert(T1, replacement.clone()).await,
        "upsert (replace)",
    );
    assert_eq!(
        ok(store.get(T1, first.key()).await, "get").as_ref(),
        Some(&replacement),
        "upsert did not replace the record exactly"
    );
    assert_records(
        &all_in(R::store(db), T1).await,
        std::slice::from_ref(&replacement),
        "list after upserts",
    );
    // The same key in another tenant is another record.
    ok(
        store.upsert(T2, first.clone()).await,
        "upsert in the second tenant",
    );
    assert_eq!(
        ok(store.get(T1, first.key()).await, "get").as_ref(),
        Some(&replacement),
        "an upsert in another tenant changed this one"
    );
    assert_eq!(
        ok(store.get(T2, first.key()).await, "get").as_ref(),
        Some(&first),
        "upsert in the second tenant"
    );
    // Invalid records are rejected and write nothing.
    let before = snapshot::<R>(db).await;
    let bad = with_field(&first, R::key_column().name, json!("")).expect("empty key");
    expect_invalid(
        store.upsert(T1, bad).await,
        R::key_column().name,
        "upsert with an empty key",
    );
    assert_unchanged(db, &before, "a rejected upsert changed the store").await;
}

pub(crate) async fn upsert_unknown_tenant<R: Fixture>(db: &DataAdapters) {
    setup::<R>(db).await;
    let before = snapshot::<R>(db).await;
    let record: R = expected(&R::one("k1"));
    expect_not_found(
        R::store(db).upsert(GHOST, record.clone()).await,
        EntityKind::Tenant,
        GHOST,
        "upsert under an unknown tenant",
    );
    expect_not_found(
        R::store(db).upsert_many(GHOST, vec![record]).await,
        EntityKind::Tenant,
        GHOST,
        "upsert_many under an unknown tenant",
    );
    assert_unchanged(db, &before, "a rejected upsert changed the store").await;
    assert_eq!(
        ok(db.tenants.get(GHOST).await, "get tenant"),
        None,
        "the tenant appeared"
    );
}

/// Upsert and upsert_many of `orphan`, whose user `auth0|ghost` does not
/// exist, are `NotFound` of that user and write nothing (sessions and
/// passwords: a parent the database checks, not the adapter's validation).
pub(crate) async fn upsert_unknown_user<R: Fixture>(db: &DataAdapters, orphan: R) {
    prepare(db).await;
    let store = R::store(db);
    let noun = R::KIND.to_string();
    expect_not_found(
        store.upsert(T1, orphan.clone()).await,
        EntityKind::User,
        "auth0|ghost",
        &format!("upsert of a {noun} of an unknown user"),
    );
    expect_not_found(
        store.upsert_many(T1, vec![orphan]).await,
        EntityKind::User,
        "auth0|ghost",
        &format!("upsert_many of a {noun} of an unknown user"),
    );
    assert!(
        all_in(R::store(db), T1).await.is_empty(),
        "a rejected {noun} was written"
    );
}

pub(crate) async fn upsert_many<R: Fixture>(db: &DataAdapters) {
    setup::<R>(db).await;
    let store = R::store(db);
    let records: Vec<R> = R::samples().iter().map(expected::<R>).collect();
    ok(
        store.upsert_many(T1, Vec::new()).await,
        "upsert_many of nothing",
    );
    assert!(
        all_in(R::store(db), T1).await.is_empty(),
        "upsert_many of nothing wrote something"
    );
    ok(store.upsert_many(T1, records.clone()).await, "upsert_many");
    assert_records(
        &all_in(R::store(db), T1).await,
        &by_key(records.clone()),
        "list after upsert_many",
    );
    // Again: an idempotent replace.
    ok(
        store.upsert_many(T1, records.clone()).await,
        "upsert_many again",
    );
    assert_records(
        &all_in(R::store(db), T1).await,
        &by_key(records),
        "list after a repeated upsert_many",
    );
    assert!(
        all_in(R::store(db), T2).await.is_empty(),
        "upsert_many wrote to another tenant"
    );
}

pub(crate) async fn upsert_many_is_atomic<R: Fixture>(db: &DataAdapters) {
    setup::<R>(db).await;
    let store = R::store(db);
    let samples = R::samples();
    let good: Vec<R> = samples.iter().take(2).map(expected::<R>).collect();
    let before = snapshot::<R>(db).await;
    // Invalid last, so that a one-by-one write would have written the others.
    let mut batch = good.clone();
    batch.push(
        with_field(&expected::<R>(&samples[2]), R::key_column().name, json!(""))
            .expect("empty key"),
    );
    expect_invalid(
        store.upsert_many(T1, batch).await,
        R::key_column().name,
        "upsert_many with an invalid record",
    );
    assert_unchanged(db, &before, "a rejected upsert_many wrote some records").await;
    // A failure only the database sees (a unique clash, a missing parent).
    if let Some(clash) = R::clash_with(&good[0]) {
        let mut batch = good.clone();
        batch.push(clash);
        assert!(
            store.upsert_many(T1, batch).await.is_err(),
            "upsert_many with a clashing record succeeded"
        );
        assert_unchanged(db, &before, "a failed upsert_many wrote some records").await;
    }
}

pub(crate) async fn tenant_isolation<R: Fixture>(db: &DataAdapters) {
    setup::<R>(db).await;
    let store = R::store(db);
    let insert = R::samples().remove(0);
    let original = ok(store.create(T1, insert.clone()).await, "create");
    let key = original.key().to_owned();
    let key_q = format!("{}:{}", R::key_column().name, quote(&key));
    // Nothing of T1 is visible through T2 ...
    assert_eq!(
        ok(store.get(T2, &key).await, "get"),
        None,
        "get through another tenant saw the record"
    );
    let page = ok(
        store.list(T2, &ListParams::default().with_totals()).await,
        "list",
    );
    assert!(
        page.items.is_empty() && page.total == Some(0),
        "list of another tenant shows {:?}",
        keys(&page.items)
    );
    let page = ok(
        store
            .list(T2, &ListParams::default().with_q(key_q.clone()))
            .await,
        "list with q",
    );
    assert!(
        page.items.is_empty(),
        "q through another tenant found the record"
    );
    // ... nor changeable through it.
    if let Some(update) = R::update(db, T2, &key) {
        expect_not_found(update.await, R::KIND, &key, "update through another tenant");
    }
    if let Some(remove) = R::remove(db, T2, &key) {
        assert!(
            !ok(remove.await, "remove"),
            "remove through another tenant reported a deletion"
        );
    }
    assert_eq!(
        ok(store.get(T1, &key).await, "get").as_ref(),
        Some(&original),
        "the record changed through another tenant"
    );
    // Keys are per tenant: T2 may hold the same key, independently.
    let twin = ok(
        store.create(T2, insert).await,
        "create of the same key in another tenant",
    );
    assert_eq!(
        twin, original,
        "the same insert gave another record in another tenant"
    );
    if let Some(remove) = R::remove(db, T2, &key) {
        assert!(ok(remove.await, "remove"), "remove in the second tenant");
        assert_eq!(
            ok(store.get(T1, &key).await, "get").as_ref(),
            Some(&original),
            "remove in one tenant removed the other's record"
        );
    }
    let page = ok(
        store.list(T1, &ListParams::default().with_q(key_q)).await,
        "list with q",
    );
    assert_records(
        &page.items,
        std::slice::from_ref(&original),
        "q by key in the owning tenant",
    );
}

pub(crate) async fn list_unknown_tenant<R: Fixture>(db: &DataAdapters) {
    seed::<R>(db).await;
    let page = ok(
        R::store(db)
            .list(GHOST, &ListParams::default().with_totals())
            .await,
        "list under an unknown tenant",
    );
    assert!(
        page.items.is_empty(),
        "list under an unknown tenant returned records"
    );
    assert_eq!(page.total, Some(0), "total under an unknown tenant");
    assert_eq!(page.next, None, "cursor under an unknown tenant");
}

/// What the listing checks list: seeded records, and where they are
/// listed (a tenant of a tenant-scoped entity, or the tenants themselves).
pub(crate) trait Listed: Record {
    /// Writes the samples; returns those the [`Listed::lister`] lists, in key order.
    fn seeded(db: &DataAdapters) -> BoxFuture<'_, Vec<Self>>;

    /// Where the seeded records are listed.
    fn lister(db: &DataAdapters) -> Box<dyn Lister<Self> + Send + '_>;
}

impl<R: Fixture> Listed for R {
    fn seeded(db: &DataAdapters) -> BoxFuture<'_, Vec<R>> {
        Box::pin(seed::<R>(db))
    }

    fn lister(db: &DataAdapters) -> Box<dyn Lister<R> + Send + '_> {
        Box::new(scoped::<R>(db, T1))
    }
}

pub(crate) async fn list_pages<R: Listed>(db: &DataAdapters) {
    let records = R::seeded(db).await;
    pages_and_totals(&*R::lister(db), &records).await;
}

pub(crate) async fn list_sort_orders<R: Listed>(db: &DataAdapters) {
    let records = R::seeded(db).await;
    sort_orders(&*R::lister(db), &records).await;
}

pub(crate) async fn list_keyset_scans<R: Listed>(db: &DataAdapters) {
    let records = R::seeded(db).await;
    keyset_scans(&*R::lister(db), &records).await;
}

pub(crate) async fn list_q_forms<R: Listed>(db: &DataAdapters) {
    let records = R::seeded(db).await;
    q_forms(&*R::lister(db), &records).await;
}

pub(crate) async fn list_bad_params<R: Listed>(db: &DataAdapters) {
    R::seeded(db).await;
    bad_params(&*R::lister(db)).await;
}

/// Offset pages of every size, with and without totals.
pub(crate) async fn pages_and_totals<R: Record>(lister: &dyn Lister<R>, records: &[R]) {
    let n = records.len();
    let expected = by_key(records.to_vec());
    let first = ok(lister.list(&ListParams::default()).await, "list");
    assert_records(&first.items, &expected, "default list (key order)");
    assert_eq!(first.total, None, "a total nobody asked for");
    assert_eq!(
        (first.page, first.per_page),
        (0, 50),
        "default paging fields"
    );
    assert_eq!(first.next, None, "a cursor after the last page");
    for per_page in [1u32, 2, 4, n as u32] {
        let pages = n.div_ceil(per_page as usize);
        for page in 0..=pages as u32 {
            let params = ListParams::default()
                .with_per_page(per_page)
                .with_page(page)
                .with_totals();
            let got = ok(lister.list(&params).await, "list page");
            let start = (page * per_page) as usize;
            let want: Vec<R> = expected
                .iter()
                .skip(start)
                .take(per_page as usize)
                .cloned()
                .collect();
            let what = format!("page {page} of {per_page}");
            assert_records(&got.items, &want, &what);
            assert_eq!(got.total, Some(n as u64), "{what}: total");
            assert_eq!(
                (got.page, got.per_page),
                (page, per_page),
                "{what}: paging fields"
            );
            assert_eq!(
                got.next.is_some(),
                start + (per_page as usize) < n,
                "{what}: next cursor"
            );
        }
    }
}

/// Every sortable field, both directions, in one page and in pages of two.
pub(crate) async fn sort_orders<R: Record>(lister: &dyn Lister<R>, records: &[R]) {
    for column in R::COLUMNS.iter().filter(|c| c.sortable) {
        for order in [SortOrder::Asc, SortOrder::Desc] {
            let sort = Sort {
                field: column.name.into(),
                order,
            };
            let expected = sorted_by(records, column.name, order);
            let what = format!("sort {} {order:?}", column.name);
            let params = ListParams::default().with_sort(sort.clone()).with_totals();
            let got = ok(lister.list(&params).await, &what);
            assert_records(&got.items, &expected, &what);
            assert_eq!(got.total, Some(records.len() as u64), "{what}: total");
            let mut paged = Vec::new();
            for page in 0..records.len().div_ceil(2) as u32 {
                let params = ListParams::default()
                    .with_sort(sort.clone())
                    .with_per_page(2)
                    .with_page(page);
                paged.extend(ok(lister.list(&params).await, &what).items);
            }
            assert_records(&paged, &expected, &format!("{what}, in pages of 2"));
        }
    }
}

/// Keyset scans in pages of two over every sort, with and without a filter.
pub(crate) async fn keyset_scans<R: Record>(lister: &dyn Lister<R>, records: &[R]) {
    for column in R::COLUMNS.iter().filter(|c| c.sortable) {
        for order in [SortOrder::Asc, SortOrder::Desc] {
            let sort = Sort {
                field: column.name.into(),
                order,
            };
            let what = format!("keyset scan by {} {order:?}", column.name);
            let scanned = scan(lister, ListParams::default().with_sort(sort.clone()), &what).await;
            assert_records(&scanned, &sorted_by(records, column.name, order), &what);
        }
    }
    // With a filter: every record but the first.
    let key = R::key_column().name;
    let first = by_key(records.to_vec()).remove(0);
    let q = format!("-{key}:{}", quote(first.key()));
    let filtered: Vec<R> = records
        .iter()
        .filter(|r| r.key() != first.key())
        .cloned()
        .collect();
    let scanned = scan(
        lister,
        ListParams::default()
            .with_q(q.clone())
            .with_sort(Sort::desc(key)),
        "keyset scan with q",
    )
    .await;
    assert_records(
        &scanned,
        &sorted_by(&filtered, key, SortOrder::Desc),
        "keyset scan with q",
    );
    // A cursor belongs to its sort.
    let page = ok(
        lister.list(&ListParams::default().with_per_page(1)).await,
        "list",
    );
    let cursor = page.next.expect("a cursor after a page of one");
    let other_sort = R::COLUMNS
        .iter()
        .find(|c| c.sortable && c.name != key)
        .expect("a second sort field");
    let params = ListParams::default()
        .with_from(cursor)
        .with_sort(Sort::asc(other_sort.name));
    expect_invalid(
        lister.list(&params).await,
        "from",
        "a cursor with another sort",
    );
}

/// A text value ASCII-folded (`A`-`Z` to `a`-`z`), anything else as it is.
fn ascii_folded(value: &Value) -> Value {
    match value {
        Value::Text(t) => Value::Text(t.to_ascii_lowercase()),
        other => other.clone(),
    }
}

async fn scan<R: Record>(lister: &dyn Lister<R>, params: ListParams, what: &str) -> Vec<R> {
    let mut out = Vec::new();
    let mut params = params.with_per_page(2);
    for _ in 0..100 {
        let page = ok(lister.list(&params).await, what);
        assert!(page.items.len() <= 2, "{what}: a page larger than per_page");
        out.extend(page.items);
        match page.next {
            Some(next) => {
                params = ListParams {
                    from: Some(next),
                    ..params
                }
            }
            None => return out,
        }
    }
    panic!("{what}: the scan does not end");
}

/// Every `q` form over every filterable field, against an evaluation of the
/// data here.
pub(crate) async fn q_forms<R: Record>(lister: &dyn Lister<R>, records: &[R]) {
    let check = |q: String, want: Vec<R>| async move {
        let params = ListParams::default()
            .with_q(q.clone())
            .with_totals()
            .with_per_page(1000);
        let got = ok(lister.list(&params).await, &format!("q `{q}`"));
        let want = by_key(want);
        assert_records(&got.items, &want, &format!("q `{q}`"));
        assert_eq!(got.total, Some(want.len() as u64), "q `{q}`: total");
    };
    let matching = |pred: &dyn Fn(&R) -> bool| {
        records
            .iter()
            .filter(|r| pred(r))
            .cloned()
            .collect::<Vec<R>>()
    };
    let mut eq_queries: Vec<(String, Vec<R>)> = Vec::new();
    for column in R::COLUMNS
        .iter()
        .filter(|c| c.filterable && !c.secret && c.kind != ColumnKind::Json)
    {
        let name = column.name;
        // A case-insensitive field (one with a folded copy) compares folded
        // values: `compare` sees both sides folded.
        let folded = R::folded_column(name).is_some();
        let compare = |actual: &Value, op: &str, value: &Value| {
            if folded {
                compare(&ascii_folded(actual), op, &ascii_folded(value))
            } else {
                compare(actual, op, value)
            }
        };
        let mut values: Vec<Value> = Vec::new();
        for r in records {
            let v = record::column_value(r, name);
            if !v.is_null() && !values.contains(&v) {
                values.push(v);
            }
        }
        for value in values.iter().take(3) {
            let lit = q_literal(value);
            let eq = matching(&|r| compare(&record::column_value(r, name), "", value));
            eq_queries.push((format!("{name}:{lit}"), eq.clone()));
            check(format!("{name}:{lit}"), eq).await;
            check(
                format!("-{name}:{lit}"),
                matching(&|r| !compare(&record::column_value(r, name), "", value)),
            )
            .await;
            if (column.lowercase || folded)
                && let Value::Text(text) = value
            {
                let upper = quote(&if folded {
                    text.to_ascii_uppercase()
                } else {
                    text.to_uppercase()
                });
                check(
                    format!("{name}:{upper}"),
                    matching(&|r| compare(&record::column_value(r, name), "", value)),
                )
                .await;
            }
            if orderable(column.kind) {
                for op in [">", ">=", "<", "<="] {
                    check(
                        format!("{name}:{op}{lit}"),
                        matching(&|r| compare(&record::column_value(r, name), op, value)),
                    )
                    .await;
                }
            }
        }
        check(
            format!("_exists_:{name}"),
            matching(&|r| !record::column_value(r, name).is_null()),
        )
        .await;
        check(
            format!("-_exists_:{name}"),
            matching(&|r| record::column_value(r, name).is_null()),
        )
        .await;
    }
    // OR, implicit AND and explicit AND, over the first equality queries.
    let union_of = |a: &[R], b: &[R]| {
        let mut out = a.to_vec();
        out.extend(b.iter().filter(|r| !a.contains(r)).cloned());
        out
    };
    let both = |a: &[R], b: &[R]| {
        a.iter()
            .filter(|r| b.contains(r))
            .cloned()
            .collect::<Vec<R>>()
    };
    for pair in eq_queries.windows(2).step_by(3) {
        let ((qa, a), (qb, b)) = (&pair[0], &pair[1]);
        check(format!("{qa} OR {qb}"), union_of(a, b)).await;
        check(format!("{qa} {qb}"), both(a, b)).await;
        check(format!("{qa} AND {qb}"), both(a, b)).await;
        check(
            format!("-{qa} {qb}"),
            b.iter().filter(|r| !a.contains(r)).cloned().collect(),
        )
        .await;
    }
    // Bare terms: a substring of any searchable field, by the field's case
    // rule (lowercased emails, ASCII-folded names, others as written).
    let searchable: Vec<&str> = R::COLUMNS
        .iter()
        .filter(|c| c.searchable)
        .map(|c| c.name)
        .collect();
    let contains = |term: &str| {
        matching(&|r| {
            searchable.iter().any(|c| {
                let Value::Text(t) = record::column_value(r, c) else {
                    return false;
                };
                match R::column(c) {
                    Some(column) if column.lowercase => t.contains(&term.to_lowercase()),
                    _ if R::folded_column(c).is_some() => {
                        t.to_ascii_lowercase().contains(&term.to_ascii_lowercase())
                    }
                    _ => t.contains(term),
                }
            })
        })
    };
    for column in &searchable {
        let Some(text) = records
            .iter()
            .find_map(|r| match record::column_value(r, column) {
                Value::Text(t) if t.chars().count() > 2 => Some(t),
                _ => None,
            })
        else {
            continue;
        };
        let chars: Vec<char> = text.chars().collect();
        let middle: String = chars[1..chars.len() - 1].iter().collect();
        check(quote(&middle), contains(&middle)).await;
        let swapped: String = middle
            .chars()
            .map(|c| {
                if c.is_uppercase() {
                    c.to_lowercase().next().unwrap_or(c)
                } else {
                    c.to_uppercase().next().unwrap_or(c)
                }
            })
            .collect();
        check(quote(&swapped), contains(&swapped)).await;
        let word: String = middle.chars().take_while(|c| c.is_alphanumeric()).collect();
        if word.chars().count() > 1 && word != "OR" && word != "AND" {
            check(word.clone(), contains(&word)).await;
            check(
                format!("-{word}"),
                matching(&|r| !contains(&word).contains(r)),
            )
            .await;
        }
    }
    check(String::new(), records.to_vec()).await;
    check("   ".into(), records.to_vec()).await;
}

/// Malformed listings: each an `InvalidInput` on the right field.
pub(crate) async fn bad_params<R: Record>(lister: &dyn Lister<R>) {
    let cases: Vec<(ListParams, &str, String)> = {
        let mut cases = vec![
            (
                ListParams::default().with_sort(Sort::asc("no_such_field")),
                "sort",
                "unknown sort field".to_owned(),
            ),
            (
                ListParams::default().with_per_page(0),
                "per_page",
                "per_page 0".into(),
            ),
            (
                ListParams::default().with_per_page(1001),
                "per_page",
                "per_page 1001".into(),
            ),
            (
                ListParams::default().with_per_page(1000).with_page(101),
                "page",
                "offset beyond 100000".into(),
            ),
            (
                ListParams::default().with_from("not a cursor"),
                "from",
                "garbage cursor".into(),
            ),
            (
                ListParams::default().with_from("eyJ4IjoxfQ"),
                "from",
                "a cursor of the wrong shape".into(),
            ),
        ];
        if let Some(c) = R::COLUMNS.iter().find(|c| !c.sortable) {
            cases.push((
                ListParams::default().with_sort(Sort::desc(c.name)),
                "sort",
                format!("non-sortable `{}`", c.name),
            ));
        }
        for q in [
            "no_such_field:x",
            "- x",
            "name:\"unterminated",
            "OR",
            "a OR",
            "OR a",
            "_exists_:no_such_field",
            "x\"y",
            "field:",
        ] {
            cases.push((
                ListParams::default().with_q(q),
                "q",
                format!("malformed q `{q}`"),
            ));
        }
        for c in R::COLUMNS {
            if c.secret || c.kind == ColumnKind::Json {
                cases.push((
                    ListParams::default().with_q(format!("{}:x", c.name)),
                    "q",
                    format!("q on `{}`", c.name),
                ));
            }
            match c.kind {
                ColumnKind::Int if c.filterable => cases.push((
                    ListParams::default().with_q(format!("{}:many", c.name)),
                    "q",
                    "q with a non-integer".into(),
                )),
                ColumnKind::Bool if c.filterable => {
                    cases.push((
                        ListParams::default().with_q(format!("{}:yes", c.name)),
                        "q",
                        "q with a non-boolean".into(),
                    ));
                    cases.push((
                        ListParams::default().with_q(format!("{}:>true", c.name)),
                        "q",
                        "q comparing a boolean".into(),
                    ));
                }
                ColumnKind::Timestamp if c.filterable => cases.push((
                    ListParams::default().with_q(format!("{}:soon", c.name)),
                    "q",
                    "q with a non-timestamp".into(),
                )),
                _ => {}
            }
        }
        cases.push((
            ListParams::default().with_q("x ".repeat(40)),
            "q",
            "too many terms".into(),
        ));
        cases.push((
            ListParams::default().with_q("x".repeat(2000)),
            "q",
            "too long".into(),
        ));
        cases
    };
    // A valid cursor with a page number.
    let page = ok(
        lister.list(&ListParams::default().with_per_page(1)).await,
        "list",
    );
    let cursor = page.next.expect("a cursor after a page of one");
    expect_invalid(
        lister
            .list(
                &ListParams::default()
                    .with_per_page(1)
                    .with_from(cursor)
                    .with_page(1),
            )
            .await,
        "page",
        "from with a page",
    );
    for (params, field, what) in cases {
        expect_invalid(lister.list(&params).await, field, &what);
    }
}

/// Empty, oversize and NUL strings, oversize and NUL JSON, unstorable
/// timestamps: each rejected by create and upsert with the column's name,
/// writing nothing.
pub(crate) async fn bad_strings_write_nothing<R: Fixture>(db: &DataAdapters) {
    setup::<R>(db).await;
    let store = R::store(db);
    let base = R::one("base");
    let base_record: R = expected(&base);
    ok(store.create(T1, base.clone()).await, "create");
    let probe = R::one("probe");
    let probe_record: R = expected(&probe);
    let before = snapshot::<R>(db).await;
    for column in R::COLUMNS {
        let mut bad: Vec<Json> = Vec::new();
        match column.kind {
            ColumnKind::Text { max_chars } => {
                bad.push(json!(R::long_text(column.name, max_chars + 1)));
                bad.push(json!("a\0b"));
                if column.non_empty || column.name == R::key_column().name {
                    bad.push(json!(""));
                }
                if column.non_empty {
                    bad.push(json!("   "));
                }
            }
            ColumnKind::Json => {
                let big = "x".repeat(record::MAX_JSON_BYTES);
                let nul = "a\0b";
                match serde_json::to_value(&base).unwrap().get(column.name) {
                    Some(Json::Array(_)) => {
                        bad.push(json!([big]));
                        bad.push(json!([nul]));
                    }
                    _ => {
                        bad.push(json!({ "k": big }));
                        bad.push(json!({ "k": nul }));
                    }
                }
            }
            ColumnKind::Timestamp => {
                bad.push(json!("0999-12-31T23:59:59.999Z"));
            }
            ColumnKind::Int | ColumnKind::Bool => {}
        }
        for value in bad {
            let shown = match &value {
                Json::String(s) if s.len() > 20 => {
                    format!("a {}-character string", s.chars().count())
                }
                Json::String(s) => format!("{s:?}"),
                _ if value.to_string().len() > 40 => "an oversize JSON value".into(),
                _ => value.to_string(),
            };
            let what = format!("`{}` = {shown}", column.name);
            if let Some(insert) = with_field(&probe, column.name, value.clone()) {
                expect_invalid(
                    store.create(T1, insert).await,
                    column.name,
                    &format!("create with {what}"),
                );
            }
            if let Some(record) = with_field(&probe_record, column.name, value.clone()) {
                expect_invalid(
                    store.upsert(T1, record.clone()).await,
                    column.name,
                    &format!("upsert with {what}"),
                );
                expect_invalid(
                    store.upsert_many(T1, vec![record]).await,
                    column.name,
                    &format!("upsert_many with {what}"),
                );
            }
            if column.name != R::key_column().name
                && let Some(record) = with_field(&base_record, column.name, value)
            {
                expect_invalid(
                    store.upsert(T1, record).await,
                    column.name,
                    &format!("upsert over an existing record with {what}"),
                );
            }
            assert_unchanged(
                db,
                &before,
                &format!("a rejected write with {what} changed the store"),
            )
            .await;
        }
    }
}

/// Every text field at its maximum length, in two-byte characters, round-trips.
pub(crate) async fn max_lengths_round_trip<R: Fixture>(db: &DataAdapters) {
    setup::<R>(db).await;
    let store = R::store(db);
    let mut insert = R::one("placeholder");
    let parent = R::PARENT.map(|p| p.column);
    for column in R::COLUMNS {
        if let ColumnKind::Text { max_chars } = column.kind
            && parent != Some(column.name)
            && let Some(changed) = with_field(
                &insert,
                column.name,
                json!(R::long_text(column.name, max_chars)),
            )
        {
            insert = changed;
        }
    }
    let want: R = expected(&insert);
    let created = ok(
        store.create(T1, insert).await,
        "create with every text at its maximum length",
    );
    assert_eq!(created, want, "create changed a maximal record");
    assert_eq!(
        ok(store.get(T1, created.key()).await, "get").as_ref(),
        Some(&want),
        "a maximal record did not read back"
    );
    ok(
        store.upsert(T2, want.clone()).await,
        "upsert of a maximal record",
    );
    assert_eq!(
        ok(store.get(T2, want.key()).await, "get").as_ref(),
        Some(&want),
        "a maximal record did not upsert exactly"
    );
}

/// What the generic update checks need besides [`Fixture::mutable`].
pub(crate) trait MutableFixture: Fixture {
    /// A patch the entity must reject, and the field it names.
    fn invalid_patch() -> (Self::Patch, &'static str);
}

fn empty_patch<R: Record>() -> R::Patch {
    serde_json::from_value(json!({})).expect("an empty patch")
}

/// Runs `update` and checks the result against `want` (whose `updated_at`
/// is replaced by the time of the call), then reads it back.
pub(crate) async fn check_update<R: MutableFixture>(
    db: &DataAdapters,
    id: &str,
    patch: R::Patch,
    want: R,
    what: &str,
) -> R {
    let store = mutable::<R>(db);
    let before = Timestamp::now();
    let got = ok(store.update(T1, id, patch).await, what);
    let after = Timestamp::now();
    let Value::Timestamp(updated_at) = record::column_value(&got, "updated_at") else {
        panic!("{what}: no updated_at");
    };
    assert_plausible(updated_at, before, after, &format!("{what}: updated_at"));
    let want = with_field(&want, "updated_at", json!(updated_at)).expect("set updated_at");
    assert_eq!(got, want, "{what}: update returned the wrong record");
    assert_eq!(
        ok(store.get(T1, id).await, "get").as_ref(),
        Some(&want),
        "{what}: get after update"
    );
    got
}

pub(crate) async fn update_missing<R: MutableFixture>(db: &DataAdapters) {
    let records = seed::<R>(db).await;
    let store = mutable::<R>(db);
    let before = snapshot::<R>(db).await;
    expect_not_found(
        store.update(T1, "missing-key", empty_patch::<R>()).await,
        R::KIND,
        "missing-key",
        "update of a missing record",
    );
    let (invalid, _) = R::invalid_patch();
    expect_not_found(
        store.update(T1, "missing-key", invalid).await,
        R::KIND,
        "missing-key",
        "invalid update of a missing record",
    );
    let key = records[0].key();
    expect_not_found(
        store.update(GHOST, key, empty_patch::<R>()).await,
        R::KIND,
        key,
        "update under an unknown tenant",
    );
    assert_unchanged(db, &before, "a failed update changed the store").await;
}

pub(crate) async fn update_invalid_writes_nothing<R: MutableFixture>(db: &DataAdapters) {
    let records = seed::<R>(db).await;
    let before = snapshot::<R>(db).await;
    let (patch, field) = R::invalid_patch();
    expect_invalid(
        mutable::<R>(db).update(T1, records[0].key(), patch).await,
        field,
        "an invalid update",
    );
    assert_unchanged(db, &before, "a rejected update changed the store").await;
}

pub(crate) async fn update_empty_patch<R: MutableFixture>(db: &DataAdapters) {
    let records = seed::<R>(db).await;
    let r = records[0].clone();
    check_update::<R>(db, r.key(), empty_patch::<R>(), r.clone(), "an empty patch").await;
    let others: Vec<R> = all_in(R::store(db), T1)
        .await
        .into_iter()
        .filter(|x| x.key() != r.key())
        .collect();
    assert_records(&others, &records[1..], "other records after an update");
}

pub(crate) async fn remove<R: Fixture>(db: &DataAdapters) {
    let records = seed::<R>(db).await;
    let store = R::store(db);
    let key = records[0].key();
    let remove = |t: &'static str| R::remove(db, t, key).expect("a removable entity");
    let t2_before = all_in(R::store(db), T2).await;
    assert!(
        !ok(remove(GHOST).await, "remove"),
        "remove under an unknown tenant reported a deletion"
    );
    assert!(
        ok(remove(T1).await, "remove"),
        "remove of an existing record reported nothing deleted"
    );
    assert_eq!(
        ok(store.get(T1, key).await, "get"),
        None,
        "the record is still there after remove"
    );
    assert_records(
        &all_in(R::store(db), T1).await,
        &records[1..],
        "list after remove",
    );
    assert!(
        !ok(remove(T1).await, "remove"),
        "a second remove reported a deletion"
    );
    let missing = R::remove(db, T1, "missing-key").expect("a removable entity");
    assert!(
        !ok(missing.await, "remove"),
        "remove of a missing key reported a deletion"
    );
    assert_records(
        &all_in(R::store(db), T2).await,
        &t2_before,
        "the other tenant after remove",
    );
}
