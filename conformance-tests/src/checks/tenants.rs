//! Tenants.

use adapter_interfaces::record::{ColumnKind, Record};
use adapter_interfaces::{
    Application, Code, Connection, DataAdapters, EntityKind, Log, Password, Session, Tenant,
    TenantInsert, TenantPatch, Timestamp,
};
use futures::future::BoxFuture;
use serde_json::json;

use super::generic::{self, Listed, create_one, is_hex32};
use super::support::*;

fn base(id: &str, name: &str) -> TenantInsert {
    TenantInsert {
        id: Some(id.into()),
        friendly_name: name.into(),
        created_at: Some(at(0)),
        updated_at: Some(at(0)),
        ..Default::default()
    }
}

fn samples() -> Vec<TenantInsert> {
    vec![
        TenantInsert {
            audience: Some("https://api.acme.example".into()),
            sender_email: Some("no-reply@acme.example".into()),
            sender_name: Some("Acme".into()),
            support_url: Some("https://acme.example/help".into()),
            session_lifetime: Some(3600),
            updated_at: Some(at(4)),
            ..base("acme", "Acme Corp")
        },
        TenantInsert {
            session_lifetime: Some(-1),
            created_at: Some(at(1)),
            updated_at: Some(at(1)),
            ..base("Acme", "acme corp")
        },
        TenantInsert {
            audience: Some(String::new()),
            session_lifetime: Some(86_400),
            ..base("beta", "Beta")
        },
        TenantInsert {
            sender_email: Some("ops@z.example".into()),
            created_at: Some(at(2)),
            updated_at: Some(at(2)),
            ..base("z-corp", "Zeta Ünïcode")
        },
        TenantInsert {
            session_lifetime: Some(3600),
            created_at: Some(at(1)),
            updated_at: Some(at(3)),
            ..base("_under", "Acme Corp")
        },
        base("0-day", "émigré"),
    ]
}

fn expected_tenant(insert: &TenantInsert) -> Tenant {
    generic::expected::<Tenant>(insert)
}

async fn seed(db: &DataAdapters) -> Vec<Tenant> {
    let mut out = Vec::new();
    for insert in samples() {
        let want = expected_tenant(&insert);
        let got = ok(db.tenants.create(insert).await, "create");
        assert_eq!(
            got, want,
            "create returned another tenant than it was given"
        );
        out.push(got);
    }
    by_key(out)
}

async fn tenants(db: &DataAdapters) -> Vec<Tenant> {
    all(&Tenants(&*db.tenants)).await
}

/// Asserts that the store holds exactly the tenants `want`, in key order.
async fn assert_tenants(db: &DataAdapters, want: &[Tenant], what: &str) {
    assert_records(&tenants(db).await, want, what);
}

/// Every field round-trips through create, get and list.
pub async fn tenants_create_round_trip(db: &DataAdapters) {
    let records = seed(db).await;
    for t in &records {
        assert_eq!(
            ok(db.tenants.get(&t.id).await, "get").as_ref(),
            Some(t),
            "get does not return what create stored"
        );
    }
    assert_tenants(db, &records, "list after create").await;
}

/// A tenant without id or timestamps gets generated ones.
pub async fn tenants_create_generates_id_and_timestamps(db: &DataAdapters) {
    let bare = || TenantInsert {
        friendly_name: "A".into(),
        ..Default::default()
    };
    let before = Timestamp::now();
    let a = ok(db.tenants.create(bare()).await, "create");
    let b = ok(db.tenants.create(bare()).await, "create");
    let after = Timestamp::now();
    for t in [&a, &b] {
        assert!(is_hex32(&t.id), "generated tenant id `{}`", t.id);
        assert_plausible(t.created_at, before, after, "created_at");
        assert_eq!(t.updated_at, t.created_at, "updated_at of a new tenant");
        assert_eq!(
            ok(db.tenants.get(&t.id).await, "get").as_ref(),
            Some(t),
            "get"
        );
    }
    assert_ne!(a.id, b.id, "two creates generated the same id");
    // A copy with created_at but no updated_at takes created_at for both.
    let copy = ok(
        db.tenants
            .create(TenantInsert {
                updated_at: None,
                ..base("copy", "Copy")
            })
            .await,
        "create",
    );
    assert_eq!(copy.updated_at, at(0), "updated_at of a copy without one");
}

/// A taken id is a conflict and changes nothing.
pub async fn tenants_create_conflict(db: &DataAdapters) {
    let records = seed(db).await;
    expect_conflict(
        db.tenants.create(base("acme", "Another")).await,
        EntityKind::Tenant,
        "id",
        "create with a taken id",
    );
    assert_tenants(db, &records, "tenants after a conflict").await;
    // Ids compare by bytes: `Acme` and `acme` are two tenants (both in the samples).
    assert!(
        records.iter().any(|t| t.id == "Acme") && records.iter().any(|t| t.id == "acme"),
        "case-distinct ids"
    );
}

/// Missing tenants read as `None`.
pub async fn tenants_get_missing(db: &DataAdapters) {
    seed(db).await;
    for id in ["missing", "ACME", "acme ", ""] {
        assert_eq!(ok(db.tenants.get(id).await, "get"), None, "get({id:?})");
    }
}

/// A patch of every field changes exactly those fields and `updated_at`; `Some(None)` clears.
pub async fn tenants_update_every_field(db: &DataAdapters) {
    let original = ok(db.tenants.create(base("t", "Before")).await, "create");
    let patch = TenantPatch {
        friendly_name: Some("After".into()),
        audience: Some(Some("https://aud".into())),
        sender_email: Some(Some("s@e.io".into())),
        sender_name: Some(Some("Sender".into())),
        support_url: Some(Some("https://support".into())),
        session_lifetime: Some(Some(60)),
    };
    let want = Tenant {
        friendly_name: "After".into(),
        audience: Some("https://aud".into()),
        sender_email: Some("s@e.io".into()),
        sender_name: Some("Sender".into()),
        support_url: Some("https://support".into()),
        session_lifetime: Some(60),
        ..original.clone()
    };
    let got = update_and_check(db, "t", patch, want, "update of every field").await;
    let clear = TenantPatch {
        audience: Some(None),
        sender_email: Some(None),
        sender_name: Some(None),
        support_url: Some(None),
        session_lifetime: Some(None),
        ..Default::default()
    };
    let want = Tenant {
        audience: None,
        sender_email: None,
        sender_name: None,
        support_url: None,
        session_lifetime: None,
        ..got
    };
    let got = update_and_check(db, "t", clear, want, "update clearing every nullable field").await;
    update_and_check(db, "t", TenantPatch::default(), got, "an empty patch").await;
}

async fn update_and_check(
    db: &DataAdapters,
    id: &str,
    patch: TenantPatch,
    want: Tenant,
    what: &str,
) -> Tenant {
    let before = Timestamp::now();
    let got = ok(db.tenants.update(id, patch).await, what);
    assert_plausible(
        got.updated_at,
        before,
        Timestamp::now(),
        &format!("{what}: updated_at"),
    );
    let want = Tenant {
        updated_at: got.updated_at,
        ..want
    };
    assert_eq!(got, want, "{what}: update returned the wrong tenant");
    assert_eq!(
        ok(db.tenants.get(id).await, "get").as_ref(),
        Some(&want),
        "{what}: get after update"
    );
    got
}

/// An update of a missing tenant is `NotFound` and creates nothing.
pub async fn tenants_update_missing(db: &DataAdapters) {
    let records = seed(db).await;
    let patch = TenantPatch {
        friendly_name: Some("X".into()),
        ..Default::default()
    };
    expect_not_found(
        db.tenants.update("missing", patch).await,
        EntityKind::Tenant,
        "missing",
        "update of a missing tenant",
    );
    let invalid = TenantPatch {
        friendly_name: Some(String::new()),
        ..Default::default()
    };
    expect_not_found(
        db.tenants.update("missing", invalid).await,
        EntityKind::Tenant,
        "missing",
        "invalid update of a missing tenant",
    );
    assert_tenants(db, &records, "tenants after a failed update").await;
}

/// Invalid patches are rejected and write nothing.
pub async fn tenants_update_invalid_writes_nothing(db: &DataAdapters) {
    let records = seed(db).await;
    let cases = [
        (
            TenantPatch {
                friendly_name: Some(String::new()),
                ..Default::default()
            },
            "friendly_name",
        ),
        (
            TenantPatch {
                friendly_name: Some(" \t".into()),
                ..Default::default()
            },
            "friendly_name",
        ),
        (
            TenantPatch {
                friendly_name: Some("x".repeat(256)),
                ..Default::default()
            },
            "friendly_name",
        ),
        (
            TenantPatch {
                audience: Some(Some("a".repeat(2049))),
                ..Default::default()
            },
            "audience",
        ),
        (
            TenantPatch {
                sender_name: Some(Some("nul\0".into())),
                ..Default::default()
            },
            "sender_name",
        ),
    ];
    for (patch, field) in cases {
        expect_invalid(
            db.tenants.update("acme", patch).await,
            field,
            &format!("update with a bad {field}"),
        );
    }
    assert_tenants(db, &records, "tenants after rejected updates").await;
}

/// `remove` deletes once, and only the tenant named.
pub async fn tenants_remove(db: &DataAdapters) {
    let records = seed(db).await;
    assert!(
        ok(db.tenants.remove("acme").await, "remove"),
        "remove of an existing tenant"
    );
    assert_eq!(
        ok(db.tenants.get("acme").await, "get"),
        None,
        "the tenant is still there"
    );
    assert!(
        !ok(db.tenants.remove("acme").await, "remove"),
        "a second remove reported a deletion"
    );
    assert!(
        !ok(db.tenants.remove("missing").await, "remove"),
        "remove of a missing tenant"
    );
    let rest: Vec<Tenant> = records.into_iter().filter(|t| t.id != "acme").collect();
    assert_tenants(db, &rest, "tenants after remove").await;
}

/// Removing a tenant removes everything it owns, and nothing of other tenants.
pub async fn tenants_remove_cascades(db: &DataAdapters) {
    prepare(db).await;
    for t in [T1, T2] {
        create_one::<Application>(db, t, "a").await;
        create_one::<Connection>(db, t, "c").await;
        create_one::<Session>(db, t, "s").await;
        create_one::<Code>(db, t, "k").await;
        create_one::<Password>(db, t, "p").await;
        create_one::<Log>(db, t, "l").await;
    }
    assert!(ok(db.tenants.remove(T1).await, "remove"), "remove");
    let counts = |t: &'static str| async move {
        [
            all_in(&*db.users, t).await.len(),
            all_in(&*db.applications, t).await.len(),
            all_in(&*db.connections, t).await.len(),
            all_in(&*db.sessions, t).await.len(),
            all_in(&*db.codes, t).await.len(),
            all_in(&*db.passwords, t).await.len(),
            all_in(&*db.logs, t).await.len(),
        ]
    };
    assert_eq!(
        counts(T2).await,
        [2, 1, 1, 1, 1, 1, 1],
        "records of the other tenant after remove"
    );
    // Recreating the tenant shows nothing of the old one.
    tenant(db, T1).await;
    assert_eq!(
        counts(T1).await,
        [0; 7],
        "records of a removed tenant survived"
    );
    assert_eq!(
        ok(db.users.get(T1, PARENT).await, "get"),
        None,
        "a user of a removed tenant survived"
    );
}

/// Upsert writes the exact tenant, inserting or replacing, and validates.
pub async fn tenants_upsert_exact(db: &DataAdapters) {
    let first = expected_tenant(&samples()[0]);
    ok(db.tenants.upsert(first.clone()).await, "upsert (insert)");
    assert_eq!(
        ok(db.tenants.get("acme").await, "get").as_ref(),
        Some(&first),
        "upsert did not insert the exact tenant"
    );
    let replacement = Tenant {
        id: "acme".into(),
        created_at: ts("1000-01-01T00:00:00.000Z"),
        updated_at: ts("9999-12-31T23:59:59.999Z"),
        ..expected_tenant(&samples()[1])
    };
    ok(
        db.tenants.upsert(replacement.clone()).await,
        "upsert (replace)",
    );
    assert_eq!(
        ok(db.tenants.get("acme").await, "get").as_ref(),
        Some(&replacement),
        "upsert did not replace the tenant exactly"
    );
    assert_tenants(
        db,
        std::slice::from_ref(&replacement),
        "tenants after upserts",
    )
    .await;
    // Replacing a tenant keeps what it owns.
    user(db, "acme", "auth0|kept").await;
    ok(
        db.tenants.upsert(first.clone()).await,
        "upsert (replace back)",
    );
    assert!(
        ok(db.users.get("acme", "auth0|kept").await, "get").is_some(),
        "upsert of a tenant deleted its users"
    );
    let bad = Tenant {
        friendly_name: String::new(),
        ..first.clone()
    };
    expect_invalid(
        db.tenants.upsert(bad).await,
        "friendly_name",
        "upsert with an empty name",
    );
    let bad = Tenant {
        id: "bad id".into(),
        ..first.clone()
    };
    expect_invalid(db.tenants.upsert(bad).await, "id", "upsert with a bad id");
    assert_tenants(db, &[first], "tenants after rejected upserts").await;
}

/// upsert_many writes them all, or none when one is invalid.
pub async fn tenants_upsert_many(db: &DataAdapters) {
    let records: Vec<Tenant> = samples().iter().map(expected_tenant).collect();
    ok(
        db.tenants.upsert_many(Vec::new()).await,
        "upsert_many of nothing",
    );
    let mut bad = records.clone();
    bad.push(Tenant {
        id: String::new(),
        ..records[0].clone()
    });
    expect_invalid(
        db.tenants.upsert_many(bad).await,
        "id",
        "upsert_many with an invalid tenant",
    );
    assert!(
        tenants(db).await.is_empty(),
        "a rejected upsert_many wrote tenants"
    );
    ok(db.tenants.upsert_many(records.clone()).await, "upsert_many");
    ok(
        db.tenants.upsert_many(records.clone()).await,
        "upsert_many again",
    );
    assert_tenants(db, &by_key(records), "tenants after upsert_many").await;
}

/// The listing checks list the samples among the tenants.
impl Listed for Tenant {
    fn seeded(db: &DataAdapters) -> BoxFuture<'_, Vec<Tenant>> {
        Box::pin(seed(db))
    }

    fn lister(db: &DataAdapters) -> Box<dyn Lister<Tenant> + Send + '_> {
        Box::new(Tenants(&*db.tenants))
    }
}

/// Bad ids, empty, oversize and NUL strings, unstorable timestamps: each
/// rejected by create and upsert on the right field, writing nothing.
pub async fn tenants_bad_input_writes_nothing(db: &DataAdapters) {
    let records = seed(db).await;
    let probe = base("probe", "Probe");
    let probe_record = expected_tenant(&probe);
    let mut cases: Vec<(&str, serde_json::Value)> = vec![
        ("id", json!("")),
        ("id", json!("has space")),
        ("id", json!("dot.ted")),
        ("id", json!("pipe|d")),
        ("id", json!("é")),
        ("id", json!("x".repeat(65))),
    ];
    for column in Tenant::COLUMNS {
        match column.kind {
            ColumnKind::Text { max_chars } => {
                if column.name != "id" {
                    cases.push((column.name, json!("é".repeat(max_chars + 1))));
                    cases.push((column.name, json!("a\0b")));
                }
                if column.non_empty {
                    cases.push((column.name, json!("")));
                    cases.push((column.name, json!("  ")));
                }
            }
            ColumnKind::Timestamp => cases.push((column.name, json!("0999-12-31T23:59:59.999Z"))),
            _ => {}
        }
    }
    for (field, value) in cases {
        let what = format!(
            "`{field}` = {}",
            if value.to_string().len() > 30 {
                "an oversize value".into()
            } else {
                value.to_string()
            }
        );
        let insert = with_field(&probe, field, value.clone()).expect("a tenant field");
        expect_invalid(
            db.tenants.create(insert).await,
            field,
            &format!("create with {what}"),
        );
        let record = with_field(&probe_record, field, value.clone()).expect("a tenant field");
        expect_invalid(
            db.tenants.upsert(record.clone()).await,
            field,
            &format!("upsert with {what}"),
        );
        expect_invalid(
            db.tenants.upsert_many(vec![record]).await,
            field,
            &format!("upsert_many with {what}"),
        );
        assert_tenants(
            db,
            &records,
            &format!("tenants after rejected writes with {what}"),
        )
        .await;
    }
    // Every text at its maximum length (in two-byte characters) round-trips.
    let mut long = probe;
    for column in Tenant::COLUMNS {
        if let ColumnKind::Text { max_chars } = column.kind
            && column.name != "id"
        {
            long = with_field(&long, column.name, json!("é".repeat(max_chars)))
                .expect("a tenant field");
        }
    }
    long.id = Some("x".repeat(64));
    let want = expected_tenant(&long);
    assert_eq!(
        ok(db.tenants.create(long).await, "create with maximal fields"),
        want,
        "a maximal tenant"
    );
    assert_eq!(
        ok(db.tenants.get(&want.id).await, "get").as_ref(),
        Some(&want),
        "a maximal tenant did not read back"
    );
}
