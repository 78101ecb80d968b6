//! The suite can fail: deliberately broken adapters, each wrapping the
//! in-memory reference and breaking one thing, are each caught.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use adapter_interfaces::{
    Application, ApplicationPatch, Code, CodesAdapter, DataAdapters, EntityStore, ListParams, Log,
    MutableStore, Page, Result, SortOrder, Timestamp, User, async_trait,
};
use futures::FutureExt;

/// Runs every check against a fresh store from `make`; returns the names of those that failed.
async fn failing_checks(make: fn() -> DataAdapters) -> Vec<&'static str> {
    let mut failed = Vec::new();
    for (name, check) in conformance_tests::CHECKS {
        let db = make();
        if AssertUnwindSafe(check(&db)).catch_unwind().await.is_err() {
            failed.push(*name);
        }
    }
    failed
}

async fn assert_caught(make: fn() -> DataAdapters, must_fail: &[&str]) {
    let failed = failing_checks(make).await;
    assert!(!failed.is_empty(), "no check caught the broken adapter");
    for name in must_fail {
        assert!(
            failed.contains(name),
            "`{name}` did not catch the broken adapter; failed: {failed:?}"
        );
    }
    println!("caught by {} checks: {failed:?}", failed.len());
}

/// Users whose `get` ignores the tenant: it finds a user of any tenant.
struct TenantBlindUsers(
    Arc<dyn adapter_interfaces::UsersAdapter>,
    Arc<dyn adapter_interfaces::TenantsAdapter>,
);

#[async_trait]
impl EntityStore<User> for TenantBlindUsers {
    async fn create(&self, t: &str, insert: adapter_interfaces::UserInsert) -> Result<User> {
        self.0.create(t, insert).await
    }
    async fn get(&self, t: &str, id: &str) -> Result<Option<User>> {
        if let Some(user) = self.0.get(t, id).await? {
            return Ok(Some(user));
        }
        for tenant in self
            .1
            .list(&ListParams::default().with_per_page(1000))
            .await?
            .items
        {
            if let Some(user) = self.0.get(&tenant.id, id).await? {
                return Ok(Some(user));
            }
        }
        Ok(None)
    }
    async fn list(&self, t: &str, params: &ListParams) -> Result<Page<User>> {
        self.0.list(t, params).await
    }
    async fn upsert(&self, t: &str, record: User) -> Result<()> {
        self.0.upsert(t, record).await
    }
    async fn upsert_many(&self, t: &str, records: Vec<User>) -> Result<()> {
        self.0.upsert_many(t, records).await
    }
}

#[async_trait]
impl MutableStore<User> for TenantBlindUsers {
    async fn update(
        &self,
        t: &str,
        id: &str,
        patch: adapter_interfaces::UserPatch,
    ) -> Result<User> {
        self.0.update(t, id, patch).await
    }
    async fn remove(&self, t: &str, id: &str) -> Result<bool> {
        self.0.remove(t, id).await
    }
}

/// Applications whose `update` loses the new callbacks.
struct ForgetfulApplications(Arc<dyn adapter_interfaces::ApplicationsAdapter>);

#[async_trait]
impl EntityStore<Application> for ForgetfulApplications {
    async fn create(
        &self,
        t: &str,
        insert: adapter_interfaces::ApplicationInsert,
    ) -> Result<Application> {
        self.0.create(t, insert).await
    }
    async fn get(&self, t: &str, id: &str) -> Result<Option<Application>> {
        self.0.get(t, id).await
    }
    async fn list(&self, t: &str, params: &ListParams) -> Result<Page<Application>> {
        self.0.list(t, params).await
    }
    async fn upsert(&self, t: &str, record: Application) -> Result<()> {
        self.0.upsert(t, record).await
    }
}

#[async_trait]
impl MutableStore<Application> for ForgetfulApplications {
    async fn update(&self, t: &str, id: &str, patch: ApplicationPatch) -> Result<Application> {
        self.0
            .update(
                t,
                id,
                ApplicationPatch {
                    callbacks: None,
                    ..patch
                },
            )
            .await
    }
    async fn remove(&self, t: &str, id: &str) -> Result<bool> {
        self.0.remove(t, id).await
    }
}

/// Logs that sort ascending whatever the requested order.
struct MisSortingLogs(Arc<dyn adapter_interfaces::LogsAdapter>);

#[async_trait]
impl EntityStore<Log> for MisSortingLogs {
    async fn create(&self, t: &str, insert: adapter_interfaces::LogInsert) -> Result<Log> {
        self.0.create(t, insert).await
    }
    async fn get(&self, t: &str, id: &str) -> Result<Option<Log>> {
        self.0.get(t, id).await
    }
    async fn list(&self, t: &str, params: &ListParams) -> Result<Page<Log>> {
        let mut params = params.clone();
        if let Some(sort) = &mut params.sort {
            sort.order = SortOrder::Asc;
        }
        self.0.list(t, &params).await
    }
    async fn upsert(&self, t: &str, record: Log) -> Result<()> {
        self.0.upsert(t, record).await
    }
}

#[async_trait]
impl adapter_interfaces::LogsAdapter for MisSortingLogs {
    async fn remove(&self, t: &str, id: &str) -> Result<bool> {
        self.0.remove(t, id).await
    }
}

/// Codes whose `consume` reads, waits, then writes: not atomic.
struct RacyCodes(Arc<dyn CodesAdapter>);

#[async_trait]
impl EntityStore<Code> for RacyCodes {
    async fn create(&self, t: &str, insert: adapter_interfaces::CodeInsert) -> Result<Code> {
        self.0.create(t, insert).await
    }
    async fn get(&self, t: &str, id: &str) -> Result<Option<Code>> {
        self.0.get(t, id).await
    }
    async fn list(&self, t: &str, params: &ListParams) -> Result<Page<Code>> {
        self.0.list(t, params).await
    }
    async fn upsert(&self, t: &str, record: Code) -> Result<()> {
        self.0.upsert(t, record).await
    }
}

#[async_trait]
impl CodesAdapter for RacyCodes {
    async fn remove(&self, t: &str, id: &str) -> Result<bool> {
        self.0.remove(t, id).await
    }
    async fn consume(&self, t: &str, id: &str) -> Result<Option<Code>> {
        let now = Timestamp::now();
        match self.0.get(t, id).await? {
            Some(code) if code.used_at.is_none() && code.expires_at > now => {
                tokio::time::sleep(Duration::from_millis(5)).await;
                let used = Code {
                    used_at: Some(now),
                    ..code
                };
                self.0.upsert(t, used.clone()).await?;
                Ok(Some(used))
            }
            _ => Ok(None),
        }
    }
    async fn cleanup(&self, t: &str, older_than: Timestamp) -> Result<u64> {
        self.0.cleanup(t, older_than).await
    }
}

fn memory() -> DataAdapters {
    adapter_interfaces::memory::adapters()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_passes_every_check() {
    assert_eq!(failing_checks(memory).await, Vec::<&str>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_get_that_ignores_the_tenant_is_caught() {
    assert_caught(
        || {
            let db = memory();
            DataAdapters {
                users: Arc::new(TenantBlindUsers(db.users.clone(), db.tenants.clone())),
                ..db
            }
        },
        &["users_tenant_isolation"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_that_loses_a_field_is_caught() {
    assert_caught(
        || {
            let db = memory();
            DataAdapters {
                applications: Arc::new(ForgetfulApplications(db.applications.clone())),
                ..db
            }
        },
        &["applications_update_every_field"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_sort_order_is_caught() {
    assert_caught(
        || {
            let db = memory();
            DataAdapters {
                logs: Arc::new(MisSortingLogs(db.logs.clone())),
                ..db
            }
        },
        &[
            "logs_list_sort_orders",
            "logs_list_keyset_scans",
            "logs_list_newest_first_scan",
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consume_that_is_not_atomic_is_caught() {
    assert_caught(
        || {
            let db = memory();
            DataAdapters {
                codes: Arc::new(RacyCodes(db.codes.clone())),
                ..db
            }
        },
        &["codes_consume_race"],
    )
    .await;
}
