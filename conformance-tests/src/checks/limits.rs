//! Bad input at the edges (see `docs/ADAPTER-GUIDE.md`, "Limits"): one
//! typed answer from every adapter, nothing half-written, no panic.
//!
//! - Timestamps: the storable range is [`Timestamp::FIRST_STORABLE`] to
//!   [`Timestamp::LAST_STORABLE`] (the years 1000 to 9999). Both ends store
//!   and read back exactly; one millisecond past either end, and the type's
//!   own extremes, are `InvalidInput` on the field on every write path.
//! - JSON: documents nested [`record::MAX_JSON_DEPTH`] levels deep and
//!   [`record::MAX_JSON_BYTES`] long store and read back; one level or one
//!   byte more is `InvalidInput` on the field.
//! - NUL characters: no stored text holds one, so a look-up by an id or a
//!   tenant id with a NUL answers as for any id that does not exist, and a
//!   `q` or a cursor with one is `InvalidInput` (on `q`, on `from`).
//! - `codes.cleanup` with any cut-off, the type's minimum and maximum
//!   included, deletes what the reference deletes.
//! - Naming the key a large `upsert_many` clashes on takes time in
//!   proportion to the batch.

use adapter_interfaces::record::{self, Column, ColumnKind, MAX_JSON_BYTES, MAX_JSON_DEPTH};
use adapter_interfaces::{
    CodeInsert, CodeType, DataAdapters, EntityKind, ListParams, Page, Record, Tenant, TenantPatch,
    Timestamp, UserInsert,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value as Json, json};

use super::generic::{Fixture, assert_unchanged, expected, setup, snapshot};
use super::support::*;

/// The instants no write may store: one millisecond past each end of the
/// storable range, and the type's own minimum and maximum.
pub(crate) fn unstorable_instants() -> [Timestamp; 4] {
    [
        Timestamp::FIRST_STORABLE.plus_millis(-1),
        Timestamp::LAST_STORABLE.plus_millis(1),
        Timestamp::MIN,
        Timestamp::MAX,
    ]
}

/// A JSON object nested `depth` levels deep (objects and arrays in turn).
pub(crate) fn nested(depth: usize) -> Json {
    let mut doc = json!(1);
    for level in (1..=depth.max(1)).rev() {
        doc = if level % 2 == 1 {
            json!({ "k": doc })
        } else {
            json!([doc])
        };
    }
    doc
}

/// A JSON object of exactly `bytes` bytes, serialised.
pub(crate) fn sized(bytes: usize) -> Json {
    json!({ "k": "x".repeat(bytes - r#"{"k":""}"#.len()) })
}

fn empty_patch<R: Record>() -> R::Patch {
    serde_json::from_value(json!({})).expect("an empty patch")
}

/// The record of `insert` with `column` set to `value`; the field must be
/// settable (every timestamp and JSON object field is).
#[track_caller]
fn record_with<R: Fixture>(key: &str, column: &str, value: &Json) -> R {
    with_field(&expected::<R>(&R::one(key)), column, value.clone()).unwrap_or_else(|| {
        panic!(
            "a {} with `{column}` = {} does not deserialise",
            R::KIND,
            short(value)
        )
    })
}

fn short(value: &Json) -> String {
    let text = value.to_string();
    if text.len() > 60 {
        format!("{}… ({} bytes)", &text[..40], text.len())
    } else {
        text
    }
}

/// Runs every write path with `column` = `value` and expects `InvalidInput`
/// on `column` from each, writing nothing.
async fn expect_rejected_everywhere<R: Fixture>(db: &DataAdapters, column: &str, value: &Json) {
    let store = R::store(db);
    let before = snapshot::<R>(db).await;
    let what = format!("`{column}` = {}", short(value));
    if let Some(insert) = with_field(&R::one("probe"), column, value.clone()) {
        expect_invalid(
            store.create(T1, insert).await,
            column,
            &format!("create with {what}"),
        );
    }
    let probe: R = record_with("probe", column, value);
    expect_invalid(
        store.upsert(T1, probe.clone()).await,
        column,
        &format!("upsert with {what}"),
    );
    let fine: R = expected(&R::one("fine"));
    expect_invalid(
        store.upsert_many(T1, vec![fine, probe]).await,
        column,
        &format!("upsert_many with {what} in its second record"),
    );
    if column != R::key_column().name {
        let over: R = record_with("base", column, value);
        expect_invalid(
            store.upsert(T1, over).await,
            column,
            &format!("upsert over an existing record with {what}"),
        );
    }
    if let Some(mutable) = R::mutable(db)
        && let Some(patch) = with_field(&empty_patch::<R>(), column, value.clone())
    {
        let key = expected::<R>(&R::one("base")).key().to_owned();
        expect_invalid(
            mutable.update(T1, &key, patch).await,
            column,
            &format!("update with {what}"),
        );
    }
    assert_unchanged(
        db,
        &before,
        &format!("a rejected write with {what} changed the store"),
    )
    .await;
}

/// Writes `record` with `upsert` and reads it back exactly.
async fn assert_stored<R: Fixture>(db: &DataAdapters, record: R, what: &str) {
    let store = R::store(db);
    ok(store.upsert(T1, record.clone()).await, what);
    assert_eq!(
        ok(store.get(T1, record.key()).await, "get").as_ref(),
        Some(&record),
        "{what}: read back differently"
    );
}

/// Every timestamp field: both ends of the storable range store and read
/// back exactly (through `create` and `upsert`); one millisecond past
/// either end, and the type's extremes, are `InvalidInput` on that field on
/// `create`, `upsert`, `upsert_many`, an upsert over an existing record and
/// `update`, and write nothing (they used to be stored as NULL).
pub(crate) async fn timestamps_at_the_limits<R: Fixture>(db: &DataAdapters) {
    setup::<R>(db).await;
    ok(R::store(db).create(T1, R::one("base")).await, "create");
    let columns: Vec<&Column> = R::COLUMNS
        .iter()
        .filter(|c| c.kind == ColumnKind::Timestamp)
        .collect();
    assert!(!columns.is_empty(), "{} has no timestamp", R::KIND);
    for (end, at) in [
        ("first", Timestamp::FIRST_STORABLE),
        ("last", Timestamp::LAST_STORABLE),
    ] {
        for column in &columns {
            let value = json!(at);
            let key = format!("{end}-{}", column.name.replace('_', "-"));
            let record: R = record_with(&key, column.name, &value);
            assert_stored(
                db,
                record.clone(),
                &format!(
                    "upsert with `{}` at the {end} storable instant",
                    column.name
                ),
            )
            .await;
            let created_key = format!("c-{key}");
            if let Some(insert) = with_field(&R::one(&created_key), column.name, value.clone()) {
                let want: R = expected(&insert);
                let got = ok(
                    R::store(db).create(T2, insert).await,
                    &format!(
                        "create with `{}` at the {end} storable instant",
                        column.name
                    ),
                );
                // Fields the insert leaves out (a stamped `updated_at`) are not compared.
                assert_eq!(
                    record::column_value(&got, column.name),
                    record::column_value(&want, column.name),
                    "create with `{}` at the {end} storable instant",
                    column.name
                );
            }
        }
    }
    for column in &columns {
        for t in unstorable_instants() {
            expect_rejected_everywhere::<R>(db, column.name, &json!(t)).await;
        }
    }
}

/// The JSON fields that hold any document (metadata, options, device,
/// details): not the lists of strings nor the maps of strings.
fn document_columns<R: Fixture>() -> Vec<&'static Column> {
    R::COLUMNS
        .iter()
        .filter(|c| c.kind == ColumnKind::Json)
        .filter(|c| with_field(&expected::<R>(&R::one("x")), c.name, nested(3)).is_some())
        .collect()
}

/// Every JSON document field: a document nested exactly
/// [`MAX_JSON_DEPTH`] levels deep, and one of exactly [`MAX_JSON_BYTES`],
/// store and read back; one level deeper (and far deeper: 100 and 200
/// levels, past MariaDB's JSON check and serde_json's recursion limit), or
/// one byte more, is `InvalidInput` on that field on every write path.
pub(crate) async fn json_depth_limit<R: Fixture>(db: &DataAdapters) {
    setup::<R>(db).await;
    ok(R::store(db).create(T1, R::one("base")).await, "create");
    let columns = document_columns::<R>();
    assert!(
        !columns.is_empty(),
        "{} has no JSON document field",
        R::KIND
    );
    for column in &columns {
        let name = column.name.replace('_', "-");
        for (i, (what, doc)) in [
            (
                format!("{MAX_JSON_DEPTH} levels deep"),
                nested(MAX_JSON_DEPTH),
            ),
            (format!("of {MAX_JSON_BYTES} bytes"), sized(MAX_JSON_BYTES)),
        ]
        .into_iter()
        .enumerate()
        {
            let record: R = record_with(&format!("edge-{i}-{name}"), column.name, &doc);
            assert_stored(db, record, &format!("upsert with `{}` {what}", column.name)).await;
            let key = format!("c-{i}-{name}");
            if let Some(insert) = with_field(&R::one(&key), column.name, doc) {
                let want: R = expected(&insert);
                let got = ok(
                    R::store(db).create(T2, insert).await,
                    &format!("create with `{}` {what}", column.name),
                );
                assert_eq!(
                    record::column_value(&got, column.name),
                    record::column_value(&want, column.name),
                    "create with `{}` {what}",
                    column.name
                );
            }
        }
        for depth in [MAX_JSON_DEPTH + 1, 32, 100, 200] {
            expect_rejected_everywhere::<R>(db, column.name, &nested(depth)).await;
        }
        expect_rejected_everywhere::<R>(db, column.name, &sized(MAX_JSON_BYTES + 1)).await;
    }
    // The tenant still reads and lists (no stored record poisons it).
    all_in(R::store(db), T1).await;
}

/// A keyset cursor of `page` with a NUL appended to its key.
fn cursor_with_nul<T>(page: &Page<T>) -> String {
    let cursor = page.next.as_ref().expect("a first page with a next cursor");
    let bytes = URL_SAFE_NO_PAD.decode(cursor).expect("a base64 cursor");
    let mut json: Json = serde_json::from_slice(&bytes).expect("a JSON cursor");
    if let Some(Json::String(k)) = json.get_mut("k") {
        k.push('\0');
    }
    URL_SAFE_NO_PAD.encode(json.to_string())
}

/// The same cursor with its sort value replaced by `value`.
fn cursor_with_value<T>(page: &Page<T>, value: Json) -> String {
    let cursor = page.next.as_ref().expect("a first page with a next cursor");
    let bytes = URL_SAFE_NO_PAD.decode(cursor).expect("a base64 cursor");
    let mut json: Json = serde_json::from_slice(&bytes).expect("a JSON cursor");
    json["v"] = value;
    URL_SAFE_NO_PAD.encode(json.to_string())
}

/// Checks the answers to `q` and cursors with a NUL (and a cursor with an
/// unstorable timestamp): `InvalidInput` on `q` and on `from`.
async fn nul_in_list_params<R: Record>(lister: &dyn Lister<R>, field: &str, sortable_time: &str) {
    for q in [
        format!("{field}:\"a\0b\""),
        "a\0".to_owned(),
        format!("NOT {field}:\"a\0\""),
        format!("{field}:>\"a\0\""),
    ] {
        let params = ListParams::default().with_q(q.clone());
        expect_invalid(lister.list(&params).await, "q", &format!("q {q:?}"));
    }
    let first = ok(
        lister.list(&ListParams::default().with_per_page(1)).await,
        "list",
    );
    let params = ListParams::default()
        .with_per_page(1)
        .with_from(cursor_with_nul(&first));
    expect_invalid(
        lister.list(&params).await,
        "from",
        "a cursor whose key holds a NUL",
    );
    let sorted = ListParams::default()
        .with_per_page(1)
        .with_sort(adapter_interfaces::Sort::asc(sortable_time));
    let first = ok(lister.list(&sorted).await, "list sorted by time");
    for t in unstorable_instants() {
        let params = sorted.clone().with_from(cursor_with_value(
            &first,
            json!({ "t": "timestamp", "v": t }),
        ));
        expect_invalid(
            lister.list(&params).await,
            "from",
            &format!("a cursor at {t}"),
        );
    }
}

/// Look-ups with a NUL in the id or the tenant id answer as for ids that
/// do not exist (`None`, `NotFound`, `false`, an empty page) and a `q` or a
/// cursor with a NUL is `InvalidInput`; nothing is written, nothing fails
/// in the database (PostgreSQL cannot bind a NUL).
pub(crate) async fn nul_lookups<R: Fixture>(db: &DataAdapters) {
    setup::<R>(db).await;
    let store = R::store(db);
    let base = ok(store.create(T1, R::one("base")).await, "create");
    ok(store.create(T1, R::one("more")).await, "create");
    let key = base.key().to_owned();
    let nul_key = format!("{key}\0");
    let nul_tenant = format!("{T1}\0");
    let before = snapshot::<R>(db).await;
    for (tenant, id) in [
        (T1, nul_key.as_str()),
        (T1, "\0"),
        (nul_tenant.as_str(), key.as_str()),
    ] {
        let what = format!("(tenant {tenant:?}, id {id:?})");
        assert_eq!(
            ok(store.get(tenant, id).await, &format!("get {what}")),
            None,
            "get {what}"
        );
        if let Some(remove) = R::remove(db, tenant, id) {
            assert!(
                !ok(remove.await, &format!("remove {what}")),
                "remove {what}"
            );
        }
        if let Some(mutable) = R::mutable(db) {
            expect_not_found(
                mutable.update(tenant, id, empty_patch::<R>()).await,
                R::KIND,
                id,
                &format!("update {what}"),
            );
        }
    }
    let page = ok(
        store
            .list(&nul_tenant, &ListParams::default().with_totals())
            .await,
        "list under a tenant id with a NUL",
    );
    assert!(
        page.items.is_empty() && page.total == Some(0) && page.next.is_none(),
        "list under a tenant id with a NUL: {} items, total {:?}",
        page.items.len(),
        page.total
    );
    expect_not_found(
        store.create(&nul_tenant, R::one("probe")).await,
        EntityKind::Tenant,
        &nul_tenant,
        "create under a tenant id with a NUL",
    );
    let probe: R = expected(&R::one("probe"));
    expect_not_found(
        store.upsert(&nul_tenant, probe.clone()).await,
        EntityKind::Tenant,
        &nul_tenant,
        "upsert under a tenant id with a NUL",
    );
    expect_not_found(
        store.upsert_many(&nul_tenant, vec![probe]).await,
        EntityKind::Tenant,
        &nul_tenant,
        "upsert_many under a tenant id with a NUL",
    );
    let time = R::COLUMNS
        .iter()
        .find(|c| c.kind == ColumnKind::Timestamp && c.sortable)
        .map_or("created_at", |c| c.name);
    nul_in_list_params::<R>(&Scoped { store, tenant: T1 }, R::key_column().name, time).await;
    assert_unchanged(db, &before, "a look-up with a NUL changed the store").await;
}

/// Tenants: timestamps at and past the storable range, like the other
/// entities' (`create`, `upsert`, `upsert_many`, `update` where it applies).
pub async fn tenants_timestamps_at_the_limits(db: &DataAdapters) {
    let base = tenant(db, T1).await;
    for (end, at) in [
        ("first", Timestamp::FIRST_STORABLE),
        ("last", Timestamp::LAST_STORABLE),
    ] {
        for column in ["created_at", "updated_at"] {
            let record: Tenant = with_field(
                &Tenant {
                    id: format!("{end}-{column}"),
                    ..base.clone()
                },
                column,
                json!(at),
            )
            .expect("a tenant with an exact timestamp");
            ok(db.tenants.upsert(record.clone()).await, "upsert");
            assert_eq!(
                ok(db.tenants.get(&record.id).await, "get"),
                Some(record),
                "a tenant with `{column}` at the {end} storable instant"
            );
        }
    }
    let before = all(&Tenants(&*db.tenants)).await;
    for column in ["created_at", "updated_at"] {
        for t in unstorable_instants() {
            let what = format!("`{column}` = {t}");
            let record: Tenant = with_field(
                &Tenant {
                    id: "probe".into(),
                    ..base.clone()
                },
                column,
                json!(t),
            )
            .unwrap_or_else(|| panic!("a tenant with {what} does not deserialise"));
            expect_invalid(
                db.tenants.upsert(record.clone()).await,
                column,
                &format!("upsert with {what}"),
            );
            expect_invalid(
                db.tenants.upsert_many(vec![record]).await,
                column,
                &format!("upsert_many with {what}"),
            );
            let over = with_field(&base, column, json!(t)).expect("a tenant");
            expect_invalid(
                db.tenants.upsert(over).await,
                column,
                &format!("upsert over an existing tenant with {what}"),
            );
            let insert = with_field(
                &adapter_interfaces::TenantInsert {
                    id: Some("probe".into()),
                    friendly_name: "Probe".into(),
                    ..Default::default()
                },
                column,
                json!(t),
            );
            if let Some(insert) = insert {
                expect_invalid(
                    db.tenants.create(insert).await,
                    column,
                    &format!("create with {what}"),
                );
            }
            assert_eq!(
                all(&Tenants(&*db.tenants)).await,
                before,
                "a rejected write with {what} changed the tenants"
            );
        }
    }
}

/// Tenants: look-ups by an id with a NUL find nothing; `q` and cursors
/// with a NUL are `InvalidInput`.
pub async fn tenants_nul_lookups(db: &DataAdapters) {
    tenant(db, T1).await;
    tenant(db, T2).await;
    let before = all(&Tenants(&*db.tenants)).await;
    for id in [format!("{T1}\0"), "\0".to_owned()] {
        assert_eq!(ok(db.tenants.get(&id).await, "get"), None, "get {id:?}");
        assert!(!ok(db.tenants.remove(&id).await, "remove"), "remove {id:?}");
        expect_not_found(
            db.tenants.update(&id, TenantPatch::default()).await,
            EntityKind::Tenant,
            &id,
            &format!("update {id:?}"),
        );
    }
    nul_in_list_params::<Tenant>(&Tenants(&*db.tenants), "id", "created_at").await;
    assert_eq!(
        all(&Tenants(&*db.tenants)).await,
        before,
        "a look-up with a NUL changed the tenants"
    );
}

fn code(id: &str, expires_at: Timestamp) -> CodeInsert {
    CodeInsert {
        code_id: Some(id.into()),
        created_at: Some(at(0)),
        ..CodeInsert::new(CodeType::Otp, expires_at)
    }
}

/// `cleanup` with any cut-off gives the reference's count: before every
/// storable instant (the type's minimum, the first storable instant)
/// nothing, past all of them (the type's maximum) every code left; codes
/// that expire at the ends of the storable range are compared like any.
pub async fn codes_cleanup_extreme_cutoffs(db: &DataAdapters) {
    prepare(db).await;
    let first = Timestamp::FIRST_STORABLE;
    let last = Timestamp::LAST_STORABLE;
    for tenant in [T1, T2] {
        for (id, expires) in [
            ("at-first", first),
            ("old", at(-100)),
            ("new", at(100)),
            ("at-last", last),
        ] {
            ok(
                db.codes.create(tenant, code(id, expires)).await,
                "create a code",
            );
        }
    }
    let left = |tenant: &'static str| async move { keys(&all_in(&*db.codes, tenant).await) };
    for (cut_off, deleted, what) in [
        (Timestamp::MIN, 0, "the type's minimum"),
        (first.plus_millis(-1), 0, "just before the storable range"),
        (first, 0, "the first storable instant"),
        (
            first.plus_millis(1),
            1,
            "just after the first storable instant",
        ),
        (at(0), 1, "an ordinary instant"),
        (last, 1, "the last storable instant"),
    ] {
        assert_eq!(
            ok(db.codes.cleanup(T1, cut_off).await, "cleanup"),
            deleted,
            "cleanup at {what} ({cut_off})"
        );
    }
    assert_eq!(left(T1).await, vec!["at-last"], "codes left");
    assert_eq!(
        ok(db.codes.cleanup(T1, last.plus_millis(1)).await, "cleanup"),
        1,
        "cleanup just after the last storable instant"
    );
    assert_eq!(
        ok(db.codes.cleanup(T2, Timestamp::MAX).await, "cleanup"),
        4,
        "cleanup at the type's maximum deletes every code"
    );
    assert!(left(T1).await.is_empty() && left(T2).await.is_empty());
    assert_eq!(
        ok(db.codes.cleanup(GHOST, Timestamp::MAX).await, "cleanup"),
        0,
        "cleanup at the maximum under an unknown tenant"
    );
}

/// Codes and passwords: `consume`, `cleanup` and `get_current` with a NUL
/// in the id or the tenant id find nothing.
pub async fn codes_and_passwords_nul_lookups(db: &DataAdapters) {
    prepare(db).await;
    let live = code("live", ts("2099-01-01T00:00:00.000Z"));
    ok(db.codes.create(T1, live).await, "create a code");
    let nul_tenant = format!("{T1}\0");
    for (tenant, id) in [(T1, "live\0"), (nul_tenant.as_str(), "live")] {
        assert_eq!(
            ok(db.codes.consume(tenant, id).await, "consume"),
            None,
            "consume (tenant {tenant:?}, id {id:?})"
        );
    }
    assert_eq!(
        ok(
            db.codes.cleanup(&nul_tenant, Timestamp::MAX).await,
            "cleanup"
        ),
        0,
        "cleanup under a tenant id with a NUL"
    );
    assert_eq!(
        keys(&all_in(&*db.codes, T1).await),
        vec!["live"],
        "codes after look-ups with a NUL"
    );
    assert!(
        ok(db.codes.get(T1, "live").await, "get")
            .expect("the code")
            .used_at
            .is_none(),
        "a consume with a NUL used the code"
    );
    let password = adapter_interfaces::PasswordInsert {
        id: Some("pw".into()),
        is_current: true,
        ..adapter_interfaces::PasswordInsert::new(
            PARENT,
            "$2b$10$abcdefghijklmnopqrstuv",
            adapter_interfaces::PasswordAlgorithm::Bcrypt,
        )
    };
    ok(db.passwords.create(T1, password).await, "create a password");
    let nul_user = format!("{PARENT}\0");
    for (tenant, user) in [(T1, nul_user.as_str()), (nul_tenant.as_str(), PARENT)] {
        assert_eq!(
            ok(db.passwords.get_current(tenant, user).await, "get_current"),
            None,
            "get_current (tenant {tenant:?}, user {user:?})"
        );
    }
    assert!(
        ok(db.passwords.get_current(T1, PARENT).await, "get_current").is_some(),
        "the current password is gone"
    );
}

/// How many users the clash check writes at once.
pub const CLASH_BATCH: usize = 2_000;
/// The smaller batch the clash check compares [`CLASH_BATCH`] with.
pub const CLASH_SMALL_BATCH: usize = 250;
/// How much longer naming the clash in [`CLASH_BATCH`] users may take than
/// in [`CLASH_SMALL_BATCH`]: the batch is 8 times larger, so a linear search
/// takes at most about 8 times as long (less, with the fixed cost of a
/// statement), a quadratic one about 64 times.
pub const CLASH_MAX_GROWTH: f64 = 24.0;

/// An `upsert_many` whose last user takes a stored user's email is
/// `Conflict` on `email` and writes nothing, at [`CLASH_SMALL_BATCH`] and at
/// [`CLASH_BATCH`] users; naming the key is proportional to the batch: the
/// large batch takes at most [`CLASH_MAX_GROWTH`] times the small one. The
/// bound is a ratio of two runs on the same store, not a time, so a slow or
/// loaded machine slows both alike; one outlier is measured again.
pub async fn users_upsert_many_names_a_clash_in_linear_time(db: &DataAdapters) {
    tenant(db, T1).await;
    let user = |id: String, email: String| -> adapter_interfaces::User {
        expected(&UserInsert {
            user_id: Some(id),
            email: Some(email),
            username: None,
            connection: "Username-Password-Authentication".into(),
            created_at: Some(at(0)),
            updated_at: Some(at(0)),
            ..Default::default()
        })
    };
    let stored = user("auth0|stored".into(), "taken@example.com".into());
    ok(db.users.upsert(T1, stored.clone()).await, "upsert");
    let clash = |size: usize| {
        let mut batch: Vec<_> = (0..size - 1)
            .map(|i| {
                user(
                    format!("auth0|bulk-{i:05}"),
                    format!("bulk-{i:05}@example.com"),
                )
            })
            .collect();
        batch.push(user("auth0|late".into(), "taken@example.com".into()));
        batch
    };
    let timed = |size: usize| {
        let batch = clash(size);
        async move {
            let started = std::time::Instant::now();
            let outcome = db.users.upsert_many(T1, batch).await;
            let took = started.elapsed();
            expect_conflict(
                outcome,
                EntityKind::User,
                "email",
                &format!("a batch of {size} whose last user takes a stored email"),
            );
            // A floor, so that an in-memory store's sub-millisecond answers do not
            // turn scheduler noise into a ratio.
            took.as_secs_f64().max(0.01)
        }
    };
    let mut growth = 0.0;
    for _attempt in 0..2 {
        let small = timed(CLASH_SMALL_BATCH).await;
        let large = timed(CLASH_BATCH).await;
        growth = large / small;
        if growth <= CLASH_MAX_GROWTH {
            break;
        }
    }
    assert!(
        growth <= CLASH_MAX_GROWTH,
        "naming the clashing key of {CLASH_BATCH} users took {growth:.1} times as long as of \
         {CLASH_SMALL_BATCH} (at most {CLASH_MAX_GROWTH}): it grows faster than the batch"
    );
    assert_eq!(
        all_in(&*db.users, T1).await,
        vec![stored],
        "a rejected batch wrote users"
    );
}
