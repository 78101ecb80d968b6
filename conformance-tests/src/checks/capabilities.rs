//! What a partial adapter must do with what it declares unsupported: refuse
//! it with the typed [`AdapterError::NotSupported`] and write nothing. The
//! runner runs these in place of the checks it skips because an entity is
//! read-only (see [`crate::capabilities`]).

use std::fmt::Debug;

use adapter_interfaces::{
    AdapterError, Application, Code, Connection, DataAdapters, EntityKind, Log, Password, Result,
    Session, Tenant, TenantInsert, TenantPatch, Timestamp, User,
};

use super::generic::{Fixture, expected, seed, snapshot};
use super::support::*;

/// Panics unless `result` is `NotSupported` for `entity`.
#[track_caller]
pub(crate) fn expect_not_supported<T: Debug>(result: Result<T>, entity: EntityKind, what: &str) {
    match result {
        Err(AdapterError::NotSupported { entity: e, .. }) if e == entity => {}
        other => panic!(
            "{what} of a read-only {entity}: expected NotSupported {{ {entity}, .. }}, got {other:?}"
        ),
    }
}

/// Every write of `R` through `under_test` is `NotSupported`, and none of
/// them changes what `harness` (which seeds through the writable store and
/// reads through the adapters under test) lists.
async fn writes_refused<R: Fixture>(under_test: &DataAdapters, harness: &DataAdapters) {
    let records = seed::<R>(harness).await;
    let before = snapshot::<R>(harness).await;
    let store = R::store(under_test);
    let kind = R::KIND;
    let existing = records[0].clone();
    let key = existing.key().to_owned();
    expect_not_supported(store.create(T1, R::one("refused")).await, kind, "create");
    let fresh: R = expected(&R::one("refused"));
    expect_not_supported(store.upsert(T1, fresh.clone()).await, kind, "upsert");
    expect_not_supported(
        store.upsert(T1, existing.clone()).await,
        kind,
        "upsert over an existing record",
    );
    expect_not_supported(
        store.upsert_many(T1, vec![fresh, existing]).await,
        kind,
        "upsert_many",
    );
    if let Some(update) = R::update(under_test, T1, &key) {
        expect_not_supported(update.await, kind, "update");
    }
    if let Some(remove) = R::remove(under_test, T1, &key) {
        expect_not_supported(remove.await, kind, "remove");
    }
    if kind == EntityKind::Code {
        expect_not_supported(under_test.codes.consume(T1, &key).await, kind, "consume");
        expect_not_supported(
            under_test.codes.cleanup(T1, Timestamp::MAX).await,
            kind,
            "cleanup",
        );
    }
    assert!(
        snapshot::<R>(harness).await == before,
        "a refused write of a read-only {kind} changed the store"
    );
}

/// Tenants' [`writes_refused`].
async fn tenant_writes_refused(under_test: &DataAdapters, harness: &DataAdapters) {
    let existing = tenant(harness, T1).await;
    let before = all(&Tenants(&*harness.tenants)).await;
    let tenants = &under_test.tenants;
    let kind = EntityKind::Tenant;
    let insert = TenantInsert {
        id: Some("refused".into()),
        friendly_name: "Refused".into(),
        ..Default::default()
    };
    expect_not_supported(tenants.create(insert).await, kind, "create");
    let fresh = Tenant {
        id: "refused".into(),
        ..existing.clone()
    };
    expect_not_supported(tenants.upsert(fresh.clone()).await, kind, "upsert");
    expect_not_supported(
        tenants.upsert_many(vec![fresh, existing.clone()]).await,
        kind,
        "upsert_many",
    );
    expect_not_supported(
        tenants.update(T1, TenantPatch::default()).await,
        kind,
        "update",
    );
    expect_not_supported(tenants.remove(T1).await, kind, "remove");
    assert!(
        all(&Tenants(&*harness.tenants)).await == before,
        "a refused write of a read-only tenant changed the store"
    );
}

/// The check that runs in place of the skipped write checks of a read-only
/// `entity`: every write of it through `under_test` fails with
/// `NotSupported` and writes nothing.
pub(crate) async fn read_only_writes_refused(
    entity: EntityKind,
    under_test: &DataAdapters,
    harness: &DataAdapters,
) {
    match entity {
        EntityKind::Tenant => tenant_writes_refused(under_test, harness).await,
        EntityKind::User => writes_refused::<User>(under_test, harness).await,
        EntityKind::Application => writes_refused::<Application>(under_test, harness).await,
        EntityKind::Connection => writes_refused::<Connection>(under_test, harness).await,
        EntityKind::Session => writes_refused::<Session>(under_test, harness).await,
        EntityKind::Code => writes_refused::<Code>(under_test, harness).await,
        EntityKind::Password => writes_refused::<Password>(under_test, harness).await,
        EntityKind::Log => writes_refused::<Log>(under_test, harness).await,
    }
}
