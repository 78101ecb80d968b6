//! Logs: applications append them; `remove` serves a migration's prune and repair.

use adapter_interfaces::{DataAdapters, EntityStore, ListParams, Log, LogInsert, Sort};
use futures::future::BoxFuture;
use serde_json::json;

use super::generic::{self, Fixture};
use super::support::*;

fn base(id: &str, log_type: &str) -> LogInsert {
    LogInsert {
        log_id: Some(id.into()),
        log_type: log_type.into(),
        date: Some(at(0)),
        ..Default::default()
    }
}

impl Fixture for Log {
    fn store(db: &DataAdapters) -> &dyn EntityStore<Self> {
        &*db.logs
    }

    fn remove<'a>(
        db: &'a DataAdapters,
        t: &'a str,
        id: &'a str,
    ) -> Option<BoxFuture<'a, adapter_interfaces::Result<bool>>> {
        Some(db.logs.remove(t, id))
    }

    fn samples() -> Vec<LogInsert> {
        vec![
            LogInsert {
                description: Some("Successful login".into()),
                ip: Some("10.0.0.1".into()),
                user_agent: Some("Mozilla/5.0".into()),
                user_id: Some(PARENT.into()),
                user_name: Some("ada@example.com".into()),
                connection: Some("Username-Password-Authentication".into()),
                client_id: Some("app-1".into()),
                client_name: Some("My App".into()),
                details: obj(json!({"prompts": [{"name": "login", "elapsedTime": 42}]})),
                ..base("log-1", "s")
            },
            LogInsert {
                description: Some("Wrong password".into()),
                ip: Some("10.0.0.2".into()),
                date: Some(at(1)),
                ..base("log-2", "f")
            },
            LogInsert {
                description: Some("successful signup".into()),
                user_name: Some("Bob".into()),
                ..base("log-3", "ss")
            },
            LogInsert {
                date: Some(at(2)),
                client_name: Some("Other".into()),
                ..base("Log-4", "s")
            },
            LogInsert {
                description: Some("Failed password change".into()),
                date: Some(at(1)),
                ..base("log-5", "fp")
            },
            LogInsert {
                user_name: Some("émile".into()),
                date: Some(at(-5)),
                ..base("log-6", "s")
            },
        ]
    }

    fn one(key: &str) -> LogInsert {
        base(key, "s")
    }
}

/// Every field round-trips (`type` under its Auth0 name).
pub async fn logs_create_round_trip(db: &DataAdapters) {
    generic::create_round_trip::<Log>(db).await;
    let full = Log {
        log_id: "log-full".into(),
        log_type: "sapi".into(),
        date: ts("2024-12-31T23:59:59.999Z"),
        description: Some("Update a client".into()),
        ip: Some("2001:db8::2".into()),
        user_agent: Some("curl/8.0".into()),
        user_id: Some("auth0|x".into()),
        user_name: Some("x@example.com".into()),
        connection: Some("db".into()),
        client_id: Some("cid".into()),
        client_name: Some("CLI".into()),
        details: obj(
            json!({"request": {"method": "PATCH", "path": "/api/v2/clients/cid"}, "response": {"statusCode": 200}}),
        ),
    };
    assert_eq!(
        serde_json::to_value(&full).unwrap().get("type"),
        Some(&json!("sapi")),
        "a log serialises its type as `type`"
    );
    generic::full_round_trip(db, &full).await;
}

/// The Auth0 way of reading logs: newest first, by keyset, over many equal dates.
pub async fn logs_list_newest_first_scan(db: &DataAdapters) {
    prepare(db).await;
    let mut written = Vec::new();
    for i in 0..37 {
        let insert = LogInsert {
            date: Some(at(i / 5)),
            ..base(&format!("log-{i:03}"), if i % 3 == 0 { "f" } else { "s" })
        };
        written.push(created(&*db.logs, T1, insert).await);
    }
    let params = ListParams::default()
        .with_sort(Sort::desc("date"))
        .with_per_page(10)
        .with_q("type:s");
    let seen = all_from(&generic::scoped::<Log>(db, T1), params).await;
    let successes: Vec<Log> = written.into_iter().filter(|l| l.log_type == "s").collect();
    assert_records(
        &seen,
        &sorted_by(&successes, "date", adapter_interfaces::SortOrder::Desc),
        "newest-first keyset scan of successes",
    );
}
