//! Applications.

use std::collections::BTreeMap;

use adapter_interfaces::{
    Application, ApplicationInsert, ApplicationPatch, DataAdapters, EntityKind, EntityStore,
    MutableStore, Secret,
};

use super::generic::{self, Fixture, MutableFixture, check_update, insert_of};
use super::support::*;

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

fn metadata(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn base(id: &str, name: &str) -> ApplicationInsert {
    ApplicationInsert {
        client_id: Some(id.into()),
        name: name.into(),
        created_at: Some(at(0)),
        updated_at: Some(at(0)),
        ..Default::default()
    }
}

impl Fixture for Application {
    fn store(db: &DataAdapters) -> &dyn EntityStore<Self> {
        &*db.applications
    }

    fn samples() -> Vec<ApplicationInsert> {
        vec![
            ApplicationInsert {
                client_secret: Some(Secret::new("secret-zeta")),
                app_type: Some("spa".into()),
                callbacks: strings(&["https://z.example/cb", "https://a.example/cb"]),
                allowed_origins: strings(&["https://z.example"]),
                web_origins: strings(&["https://z.example", "http://localhost:3000"]),
                allowed_logout_urls: strings(&["https://z.example/bye"]),
                grant_types: strings(&["authorization_code", "refresh_token"]),
                is_first_party: true,
                client_metadata: metadata(&[("tier", "gold"), ("owner", "ops")]),
                updated_at: Some(at(9)),
                ..base("app-1", "Zeta")
            },
            ApplicationInsert {
                created_at: Some(at(1)),
                updated_at: Some(at(1)),
                ..base("app-2", "alpha")
            },
            ApplicationInsert {
                app_type: Some("native".into()),
                grant_types: strings(&["implicit"]),
                ..base("app-3", "Alpha")
            },
            ApplicationInsert {
                app_type: Some("spa".into()),
                client_secret: Some(Secret::new("another")),
                callbacks: strings(&["b", "a", "c"]),
                created_at: Some(at(2)),
                updated_at: Some(at(2)),
                ..base("app-4", "émoji 🚀 app")
            },
            ApplicationInsert {
                app_type: Some("regular_web".into()),
                is_first_party: true,
                client_metadata: metadata(&[("k", "v")]),
                created_at: Some(at(1)),
                updated_at: Some(at(3)),
                ..base("APP-5", "alpha")
            },
            ApplicationInsert {
                app_type: Some(String::new()),
                ..base("app-6", "Beta \"quoted\" \\ name")
            },
        ]
    }

    fn one(key: &str) -> ApplicationInsert {
        base(key, &format!("App {key}"))
    }

    fn mutable(db: &DataAdapters) -> Option<&dyn MutableStore<Self>> {
        Some(&*db.applications)
    }

    fn valid_patch() -> Option<ApplicationPatch> {
        Some(ApplicationPatch {
            is_first_party: Some(true),
            ..Default::default()
        })
    }
}

impl MutableFixture for Application {
    fn invalid_patch() -> (ApplicationPatch, &'static str) {
        (
            ApplicationPatch {
                name: Some(String::new()),
                ..Default::default()
            },
            "name",
        )
    }
}

fn full() -> Application {
    Application {
        client_id: "full-app".into(),
        name: "Full App".into(),
        client_secret: Some(Secret::new("s3cr3t-value")),
        app_type: Some("regular_web".into()),
        callbacks: strings(&[
            "https://b.example/cb",
            "https://a.example/cb",
            "https://b.example/cb",
        ]),
        allowed_origins: strings(&["https://o.example"]),
        web_origins: strings(&["https://w.example"]),
        allowed_logout_urls: strings(&["https://l.example", "https://k.example"]),
        grant_types: strings(&["client_credentials"]),
        is_first_party: true,
        client_metadata: metadata(&[("b", "2"), ("a", "1"), ("empty", "")]),
        created_at: ts("2022-12-31T23:59:59.999Z"),
        updated_at: ts("2023-01-01T00:00:00.001Z"),
    }
}

/// Every field (lists in order, with duplicates; the secret; the metadata map) round-trips.
pub async fn applications_create_round_trip(db: &DataAdapters) {
    generic::create_round_trip::<Application>(db).await;
    generic::full_round_trip(db, &full()).await;
}

/// A patch of every field changes exactly those fields and `updated_at`.
pub async fn applications_update_every_field(db: &DataAdapters) {
    tenant(db, T1).await;
    let original = created(&*db.applications, T1, base("a1", "Before")).await;
    let patch = ApplicationPatch {
        name: Some("After".into()),
        client_secret: Some(Some(Secret::new("rotated"))),
        app_type: Some(Some("spa".into())),
        callbacks: Some(strings(&["https://2", "https://1"])),
        allowed_origins: Some(strings(&["https://o"])),
        web_origins: Some(strings(&["https://w"])),
        allowed_logout_urls: Some(strings(&["https://l"])),
        grant_types: Some(strings(&["password"])),
        is_first_party: Some(true),
        client_metadata: Some(metadata(&[("x", "y")])),
    };
    let want = Application {
        name: "After".into(),
        client_secret: Some(Secret::new("rotated")),
        app_type: Some("spa".into()),
        callbacks: strings(&["https://2", "https://1"]),
        allowed_origins: strings(&["https://o"]),
        web_origins: strings(&["https://w"]),
        allowed_logout_urls: strings(&["https://l"]),
        grant_types: strings(&["password"]),
        is_first_party: true,
        client_metadata: metadata(&[("x", "y")]),
        ..original.clone()
    };
    let got = check_update::<Application>(db, "a1", patch, want, "update of every field").await;
    let patch = ApplicationPatch {
        callbacks: Some(Vec::new()),
        ..Default::default()
    };
    let want = Application {
        callbacks: Vec::new(),
        ..got
    };
    check_update::<Application>(db, "a1", patch, want, "update emptying a list").await;
}

/// `Some(None)` clears the nullable fields.
pub async fn applications_update_clears_fields(db: &DataAdapters) {
    tenant(db, T1).await;
    let app = created(&*db.applications, T1, insert_of(&full())).await;
    let patch = ApplicationPatch {
        client_secret: Some(None),
        app_type: Some(None),
        ..Default::default()
    };
    let want = Application {
        client_secret: None,
        app_type: None,
        ..app
    };
    check_update::<Application>(
        db,
        "full-app",
        patch,
        want,
        "update clearing the nullable fields",
    )
    .await;
}

/// Client secrets never appear in errors or in `Debug` output.
pub async fn applications_errors_hide_secret(db: &DataAdapters) {
    tenant(db, T1).await;
    let secret = "TOPSECRET-4f1d9a";
    let insert = ApplicationInsert {
        client_secret: Some(Secret::new(secret)),
        ..base("a1", "App")
    };
    let app = created(&*db.applications, T1, insert.clone()).await;
    assert!(
        !format!("{app:?}").contains(secret),
        "Debug shows the client secret"
    );
    let conflict = db.applications.create(T1, insert.clone()).await;
    assert!(
        !error_text(&conflict).contains(secret),
        "a conflict error shows the client secret"
    );
    expect_conflict(
        conflict,
        EntityKind::Application,
        "client_id",
        "a second create",
    );
    let long = format!("{secret}{}", "S".repeat(1100));
    let oversize = ApplicationInsert {
        client_secret: Some(Secret::new(long.clone())),
        ..base("a2", "App")
    };
    let result = db.applications.create(T1, oversize).await;
    assert!(
        !error_text(&result).contains(secret),
        "a validation error shows the client secret"
    );
    expect_invalid(result, "client_secret", "an oversize client secret");
    let result = db
        .applications
        .upsert(
            T1,
            Application {
                client_secret: Some(Secret::new(long)),
                ..app
            },
        )
        .await;
    assert!(
        !error_text(&result).contains(secret),
        "a validation error of upsert shows the client secret"
    );
    expect_invalid(
        result,
        "client_secret",
        "upsert with an oversize client secret",
    );
    expect_invalid(
        db.applications
            .list(
                T1,
                &adapter_interfaces::ListParams::default()
                    .with_q(format!("client_secret:{secret}")),
            )
            .await,
        "q",
        "q on the client secret",
    );
}
