//! The passthrough of one entity, written once over [`Entity`].

use std::future::Future;
use std::ops::Range;
use std::sync::Arc;
use std::time::Instant;

use adapter_interfaces::journal::{Begun, Claim, Fence, JournalKey, Mark, Subject};
use adapter_interfaces::{
    AdapterError, Code, CodesAdapter, EntityKind, EntityStore, ListParams, Log, LogsAdapter,
    MutableStore, Page, Password, PasswordsAdapter, Result, Tenant, TenantInsert, TenantPatch,
    TenantsAdapter, Timestamp, async_trait,
};

use crate::compare::{Mismatch, diff_records};
use crate::config::{OnFailure, WriteMode};
use crate::copy::known_record;
use crate::core::{ComparedRead, CopyWith, Core};
use crate::entity::{BoxFuture, Entity, display_key, with_key};
use crate::stage::MigrationController;
use crate::stats::Role;

/// The fence of a passthrough with a fixed primary (its stage never moves).
const FIXED_SCOPE: &str = "fixed";

/// How an entity passthrough picks its primary and secondaries.
#[derive(Clone)]
pub(crate) enum Route {
    /// Store 0 is the primary, the others are secondaries.
    Fixed,
    /// Stores 0 (old) and 1 (new), as the controller's stage says.
    Staged(Arc<MigrationController>),
}

/// The stores a call uses, and the fence its writes carry.
struct Plan {
    primary: usize,
    secondaries: Range<usize>,
    compare: bool,
    fence: Fence,
}

/// The passthrough of one entity: reads from the primary; writes journal
/// their keys in the primary's journal, write the primary, and copy the
/// keys' current state to the secondaries. Built by [`crate::Passthrough`];
/// implements the entity's trait.
pub struct PassthroughStore<R: Entity> {
    core: Arc<Core>,
    stores: Vec<Arc<R::Store>>,
    route: Route,
}

fn backend(message: String) -> AdapterError {
    AdapterError::Backend {
        message,
        source: None,
    }
}

impl<R: Entity> PassthroughStore<R> {
    pub(crate) fn new(core: Arc<Core>, stores: Vec<Arc<R::Store>>, route: Route) -> Self {
        Self {
            core,
            stores,
            route,
        }
    }

    fn plan(&self) -> Plan {
        match &self.route {
            Route::Fixed => Plan {
                primary: 0,
                secondaries: 1..self.stores.len(),
                compare: true,
                fence: Fence {
                    scope: FIXED_SCOPE.into(),
                    generation: 0,
                    stage: FIXED_SCOPE.into(),
                },
            },
            Route::Staged(controller) => {
                let (stage, fence) = controller.fence();
                let secondaries = stage.secondary().map_or(0..0, |s| s.index()..s.index() + 1);
                Plan {
                    primary: stage.primary().index(),
                    secondaries,
                    compare: stage.compares_reads(),
                    fence,
                }
            }
        }
    }

    /// Records the write's keys in the primary's journal under the current
    /// routing, following a stage that moved and waiting out a switch in
    /// progress (at most the switch timeout).
    async fn begin(
        &self,
        tenant_id: &str,
        subjects: &[Subject],
    ) -> Result<(Plan, Vec<JournalKey>, Vec<Mark>)> {
        let started = Instant::now();
        loop {
            let plan = self.plan();
            let keys: Vec<JournalKey> = plan
                .secondaries
                .clone()
                .flat_map(|index| {
                    subjects.iter().map(move |subject| {
                        JournalKey::new(
                            self.core.targets[index].name.clone(),
                            tenant_id,
                            subject.clone(),
                        )
                    })
                })
                .collect();
            if keys.is_empty() {
                return Ok((plan, keys, Vec::new()));
            }
            let journal = self.core.journal(plan.primary);
            let lease = self.core.options.lease;
            let record = match journal.begin(&plan.fence, &keys, lease).await? {
                Begun::Recorded(marks) => return Ok((plan, keys, marks)),
                Begun::StageMoved(record) => record,
            };
            let Route::Staged(controller) = &self.route else {
                return Err(backend(format!(
                    "the journal's `{FIXED_SCOPE}` stage row was changed by hand; a passthrough with a fixed primary cannot write"
                )));
            };
            let behind = record
                .as_ref()
                .is_some_and(|r| r.generation < plan.fence.generation);
            controller.observe(record.as_ref());
            if started.elapsed() > controller.options().switch_timeout {
                return Err(backend(format!(
                    "a stage switch has been in progress for {:?}; the write was not made, retry it",
                    started.elapsed()
                )));
            }
            if behind {
                // The store this routing promotes is not open yet: a switch is
                // copying what it still misses.
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                controller.refresh().await;
            }
        }
    }

    /// A write: journal the keys `subjects` names, write the primary, copy to
    /// the secondaries. Everything after the journal's first step runs in a
    /// task of its own, so a caller that gives up (a request timeout) never
    /// leaves a committed primary write unjournaled or a copy half-done.
    ///
    /// When no key is owed to a blocking secondary, the caller has its answer
    /// as soon as the primary write returns: the journal's `begin` already
    /// holds every key, so the `finish` step and the copies need not delay it.
    ///
    /// `image` names the record a successful call left on the primary (a
    /// create's or an update's answer), if it returns one: when the journal
    /// proves that no other write of that key ran beside this one, the copy
    /// writes it without reading the primary again.
    async fn write<T, F, Fut>(
        &self,
        method: &'static str,
        tenant_id: &str,
        subjects: Vec<Subject>,
        image: fn(&T) -> Option<R>,
        call: F,
    ) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(Arc<R::Store>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T>> + Send + 'static,
    {
        let (plan, keys, marks) = self.begin(tenant_id, &subjects).await?;
        let tenant = tenant_id.to_owned();
        let core = self.core.clone();
        let primary = self.stores[plan.primary].clone();
        let blocking = keys.iter().any(|key| core.is_blocking(&key.target));
        let (answer, answered) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            let started = Instant::now();
            let result = call(primary).await;
            core.record_call(
                plan.primary,
                Role::Primary,
                R::KIND,
                method,
                result.is_ok(),
                started,
            );
            let succeeded = result.is_ok();
            let image = result.as_ref().ok().and_then(image);
            // The answer waits for the blocking copies only.
            let mut held = Some((answer, result));
            if keys.is_empty() || !blocking {
                if let Some((answer, result)) = held.take() {
                    let _ = answer.send(result);
                }
                if keys.is_empty() {
                    return;
                }
            }
            let journal = core.journal(plan.primary);
            let token = core.token();
            // Copies ahead of `finish`, from the write's own result: a key
            // whose row is still as this write's `begin` left it is settled
            // by the same statement that finishes the write.
            // (A failed write has no image.)
            let ahead = match &image {
                Some(record) => copy_ahead::<R>(&core, plan.primary, &tenant, record, &marks).await,
                None => Ahead::default(),
            };
            let (copied, mut failed_ahead) = (ahead.copied, ahead.failed);
            let finished = journal
                .finish_copied(&token, &keys, &copied, core.options.lease)
                .await;
            let claims = match finished {
                Ok(claims) => claims,
                Err(error) => {
                    // The keys stay marked in flight; when their lease runs
                    // out a relay copies them.
                    tracing::warn!(%error, entity = %R::KIND, method, "the journal could not record the end of a write");
                    Vec::new()
                }
            };
            if !succeeded {
                // Nothing to copy unless the write half-happened: let a relay check.
                for claim in &claims {
                    let _ = journal.release(claim).await;
                }
                if let Some((answer, result)) = held {
                    let _ = answer.send(result);
                }
                return;
            }
            let copies = claims.into_iter().map(|claim| {
                if let Some(at) = failed_ahead.iter().position(|(key, _)| *key == claim.key) {
                    let (_, error) = failed_ahead.swap_remove(at);
                    return (claim, CopyWith::FailedAhead(error));
                }
                let with = match &image {
                    Some(record) if wrote_alone::<R>(&claim, &marks, record.key()) => {
                        CopyWith::Known(known_record(
                            core.bundles.clone(),
                            plan.primary,
                            tenant.clone(),
                            record.clone(),
                        ))
                    }
                    _ => CopyWith::Current,
                };
                (claim, with)
            });
            let (blocking, background): (Vec<_>, Vec<_>) =
                copies.partition(|(claim, _)| core.is_blocking(&claim.key.target));
            core.copy_in_background(plan.primary, background);
            let failure = copy_blocking(&core, plan.primary, blocking).await;
            if let Some((answer, result)) = held {
                let _ = answer.send(match failure {
                    Some(error) => Err(error),
                    None => result,
                });
            }
        });
        answered.await.unwrap_or_else(|_| {
            Err(backend(
                "the write's task failed before it answered".to_owned(),
            ))
        })
    }

    /// `get`, or any read of one record, through the read policy.
    async fn read_one(
        &self,
        method: &'static str,
        tenant_id: &str,
        key: &str,
        query: ReadOne<R>,
    ) -> Result<Option<R>> {
        let plan = self.plan();
        let started = Instant::now();
        let found = query(self.stores[plan.primary].clone(), tenant_id, key).await;
        self.core.record_call(
            plan.primary,
            Role::Primary,
            R::KIND,
            method,
            found.is_ok(),
            started,
        );
        let found = found?;
        if plan.compare && self.core.sample() {
            for index in plan.secondaries.clone() {
                let (store, tenant, owned_key) = (
                    self.stores[index].clone(),
                    tenant_id.to_owned(),
                    key.to_owned(),
                );
                let expected: Vec<R> = found.iter().cloned().collect();
                let secondary = self.core.targets[index].name.clone();
                let shown = display_key::<R>(key);
                let compare = Box::pin(async move {
                    let actual: Vec<R> = query(store, &tenant, &owned_key)
                        .await?
                        .into_iter()
                        .collect();
                    Ok(mismatch(
                        &secondary, method, &tenant, shown, &expected, &actual,
                    ))
                });
                let read = ComparedRead {
                    entity: R::KIND,
                    method,
                    tenant: tenant_id.to_owned(),
                    key: Some(key.to_owned()),
                };
                self.core.compare(compare, index, read);
            }
        }
        if found.is_some() || !self.core.read_policy.fallback {
            return Ok(found);
        }
        for index in plan.secondaries.clone() {
            let started = Instant::now();
            let answer = query(self.stores[index].clone(), tenant_id, key).await;
            self.core.record_call(
                index,
                Role::Secondary,
                R::KIND,
                method,
                answer.is_ok(),
                started,
            );
            let record = match answer {
                Ok(Some(record)) => record,
                Ok(None) => continue,
                Err(error) => {
                    tracing::warn!(entity = %R::KIND, method, %error, "fallback read failed");
                    continue;
                }
            };
            // A secondary the journal still owes this key may hold a record the primary removed.
            let subject = R::write_subject(record.key(), R::record_order_key(&record));
            if self
                .core
                .owes(
                    index,
                    subject.entity(),
                    tenant_id,
                    Some(&subject.key_column()),
                )
                .await
            {
                continue;
            }
            if self.core.read_policy.read_repair {
                let copy = record.clone();
                let tenant = tenant_id.to_owned();
                let repaired = self
                    .write(
                        "read_repair",
                        tenant_id,
                        vec![subject],
                        |_| None,
                        move |store| async move { store.upsert(&tenant, copy).await },
                    )
                    .await;
                if let Err(error) = repaired {
                    tracing::warn!(entity = %R::KIND, %error, "read repair failed");
                }
            }
            return Ok(Some(record));
        }
        Ok(None)
    }

    async fn remove_key(&self, tenant_id: &str, key: &str) -> Result<bool> {
        let subject = if R::KIND == EntityKind::Password {
            // A password removal changes what its user's passwords are:
            // journal the user (the primary says whose it is).
            let plan = self.plan();
            match self.stores[plan.primary].get(tenant_id, key).await? {
                Some(record) => R::write_subject(key, R::record_order_key(&record)),
                None => Subject::Record {
                    entity: EntityKind::Password,
                    key: key.to_owned(),
                },
            }
        } else {
            R::removal_subject(key)
        };
        let (tenant, owned) = (tenant_id.to_owned(), key.to_owned());
        // Replicated even when the primary had nothing: it costs little and heals a stray copy.
        self.write(
            "remove",
            tenant_id,
            vec![subject],
            |_| None,
            move |store| async move { R::remove(&store, &tenant, &owned).await },
        )
        .await
    }
}

/// Copies the claims of blocking secondaries and waits (each at most its
/// blocking timeout); the error a `FailCall` secondary gives the caller.
async fn copy_blocking(
    core: &Arc<Core>,
    source: usize,
    claims: Vec<(Claim, CopyWith)>,
) -> Option<AdapterError> {
    let mut waits = Vec::new();
    for (claim, with) in claims {
        let core2 = core.clone();
        let target = claim.key.target.clone();
        // In a task: a timeout here must not cut the copy (and its settle) short.
        let copy = tokio::spawn(async move { core2.apply(source, &claim, with).await });
        waits.push((target, copy));
    }
    let mut failure = None;
    for (name, copy) in waits {
        let Some(target) = core.targets.iter().find(|t| t.name == name) else {
            continue;
        };
        let outcome = match tokio::time::timeout(target.options.blocking_timeout, copy).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(join)) => Err(backend(format!("the copy's task failed: {join}"))),
            Err(_) => Err(backend(format!(
                "no answer within {:?}; the key stays in the journal",
                target.options.blocking_timeout
            ))),
        };
        if let Err(error) = outcome
            && target.options.mode == WriteMode::Blocking(OnFailure::FailCall)
            && failure.is_none()
        {
            failure = Some(AdapterError::SecondaryWrite {
                secondary: target.name.clone(),
                source: Box::new(error),
            });
        }
    }
    failure
}

/// Whether `claim`, won by a write's `finish`, proves that the write ran
/// alone on record `key`: its row is that record's (not a cascade, not a
/// user's passwords), and its `seq` is the write's mark plus one, so no
/// other write of the key began or finished between the two steps (see the
/// journal's "Change counter"). Codes are left out: a `codes.cleanup`
/// removes codes without journaling each, so a code's copy must read the
/// primary again.
fn wrote_alone<R: Entity>(claim: &Claim, marks: &[Mark], key: &str) -> bool {
    copies_own_result::<R>(&claim.key, key)
        && marks
            .iter()
            .any(|mark| mark.key == claim.key && claim.seq == mark.seq + 1)
}

/// Whether journal key `journaled` may be copied from a write's own result
/// `key` of entity `R`: it is that record's row (not a cascade, not a user's
/// passwords), and not a code's (see [`wrote_alone`]).
fn copies_own_result<R: Entity>(journaled: &JournalKey, key: &str) -> bool {
    R::KIND != EntityKind::Code
        && matches!(
            &journaled.subject,
            Subject::Record { entity, key: claimed } if *entity == R::KIND && claimed == key
        )
}

/// What a write copied ahead of its `finish`.
#[derive(Default)]
struct Ahead {
    /// The marks of the copies that succeeded, for `finish_copied`.
    copied: Vec<Mark>,
    /// The keys whose copy failed, with the failure: recorded as the first
    /// attempt of the key's claim.
    failed: Vec<(JournalKey, AdapterError)>,
}

/// Copies `record`, a write's own result, to every store whose row of it
/// this write's `begin` marked, before the write's `finish`, for
/// `finish_copied` to settle the rows that nothing else touched meanwhile.
/// A copy that finds no room within a non-blocking secondary's in-flight
/// bound is left to the usual path (claimed at `finish`, copied, retried).
async fn copy_ahead<R: Entity>(
    core: &Arc<Core>,
    source: usize,
    tenant: &str,
    record: &R,
    marks: &[Mark],
) -> Ahead {
    let copies = marks
        .iter()
        .filter(|mark| copies_own_result::<R>(&mark.key, record.key()))
        .map(|mark| {
            let known = known_record(
                core.bundles.clone(),
                source,
                tenant.to_owned(),
                record.clone(),
            );
            async move {
                let outcome = core.copy_ahead(&mark.key.target, R::KIND, known).await;
                (mark, outcome)
            }
        });
    let mut ahead = Ahead::default();
    for (mark, outcome) in futures::future::join_all(copies).await {
        match outcome {
            Some(Ok(())) => ahead.copied.push(mark.clone()),
            Some(Err(error)) => ahead.failed.push((mark.key.clone(), error)),
            None => {}
        }
    }
    ahead
}

/// The mismatch between what the primary and a secondary answered, if any.
fn mismatch<R: Entity>(
    secondary: &str,
    method: &'static str,
    tenant_id: &str,
    key: String,
    expected: &[R],
    actual: &[R],
) -> Option<Mismatch> {
    let differences = diff_records(expected, actual);
    (!differences.is_empty()).then(|| Mismatch {
        secondary: secondary.to_owned(),
        entity: R::KIND,
        method,
        tenant_id: tenant_id.to_owned(),
        key,
        differences,
        at: Timestamp::now(),
    })
}

/// A read of one record by (tenant, key), as a plain function so it can be re-run on a secondary.
type ReadOne<R> =
    for<'a> fn(Arc<<R as Entity>::Store>, &'a str, &'a str) -> BoxFuture<'a, Result<Option<R>>>;

fn get_one<'a, R: Entity>(
    store: Arc<R::Store>,
    tenant_id: &'a str,
    key: &'a str,
) -> BoxFuture<'a, Result<Option<R>>> {
    Box::pin(async move { store.get(tenant_id, key).await })
}

fn get_current<'a>(
    store: Arc<dyn PasswordsAdapter>,
    tenant_id: &'a str,
    user_id: &'a str,
) -> BoxFuture<'a, Result<Option<Password>>> {
    Box::pin(async move { store.get_current(tenant_id, user_id).await })
}

#[async_trait]
impl<R: Entity> EntityStore<R> for PassthroughStore<R> {
    async fn create(&self, tenant_id: &str, insert: R::Insert) -> Result<R> {
        // The key is journaled before the primary write, so a create without
        // one gets the key the adapter would have generated.
        let (insert, subject) = match R::order_key(&insert).map(str::to_owned) {
            Some(order) if R::KIND == EntityKind::Password => {
                (insert, R::write_subject("", &order))
            }
            _ => {
                let (insert, key) = with_key::<R>(insert)?;
                let subject = R::write_subject(&key, &key);
                (insert, subject)
            }
        };
        let tenant = tenant_id.to_owned();
        self.write(
            "create",
            tenant_id,
            vec![subject],
            |record: &R| Some(record.clone()),
            move |store| async move { store.create(&tenant, insert).await },
        )
        .await
    }

    async fn get(&self, tenant_id: &str, id: &str) -> Result<Option<R>> {
        self.read_one("get", tenant_id, id, get_one::<R>).await
    }

    async fn list(&self, tenant_id: &str, params: &ListParams) -> Result<Page<R>> {
        let plan = self.plan();
        let started = Instant::now();
        let page = self.stores[plan.primary].list(tenant_id, params).await;
        self.core.record_call(
            plan.primary,
            Role::Primary,
            R::KIND,
            "list",
            page.is_ok(),
            started,
        );
        let page = page?;
        if plan.compare && self.core.sample() {
            for index in plan.secondaries.clone() {
                let (store, tenant, params) = (
                    self.stores[index].clone(),
                    tenant_id.to_owned(),
                    params.clone(),
                );
                let expected = page.items.clone();
                let secondary = self.core.targets[index].name.clone();
                let compare = Box::pin(async move {
                    let actual = store.list(&tenant, &params).await?.items;
                    Ok(mismatch(
                        &secondary,
                        "list",
                        &tenant,
                        "list".into(),
                        &expected,
                        &actual,
                    ))
                });
                let read = ComparedRead {
                    entity: R::KIND,
                    method: "list",
                    tenant: tenant_id.to_owned(),
                    key: None,
                };
                self.core.compare(compare, index, read);
            }
        }
        Ok(page)
    }

    async fn upsert(&self, tenant_id: &str, record: R) -> Result<()> {
        let subject = R::write_subject(record.key(), R::record_order_key(&record));
        let tenant = tenant_id.to_owned();
        self.write(
            "upsert",
            tenant_id,
            vec![subject],
            |_| None,
            move |store| async move { store.upsert(&tenant, record).await },
        )
        .await
    }

    async fn upsert_many(&self, tenant_id: &str, records: Vec<R>) -> Result<()> {
        let subjects = records
            .iter()
            .map(|r| R::write_subject(r.key(), R::record_order_key(r)))
            .collect();
        let tenant = tenant_id.to_owned();
        self.write(
            "upsert_many",
            tenant_id,
            subjects,
            |_| None,
            move |store| async move { store.upsert_many(&tenant, records).await },
        )
        .await
    }
}

#[async_trait]
impl<R: Entity> MutableStore<R> for PassthroughStore<R>
where
    R::Store: MutableStore<R>,
{
    async fn update(&self, tenant_id: &str, id: &str, patch: R::Patch) -> Result<R> {
        let subject = R::write_subject(id, id);
        let (tenant, id) = (tenant_id.to_owned(), id.to_owned());
        self.write(
            "update",
            tenant_id,
            vec![subject],
            |record: &R| Some(record.clone()),
            move |store| async move { store.update(&tenant, &id, patch).await },
        )
        .await
    }

    async fn remove(&self, tenant_id: &str, id: &str) -> Result<bool> {
        self.remove_key(tenant_id, id).await
    }
}

#[async_trait]
impl LogsAdapter for PassthroughStore<Log> {
    async fn remove(&self, tenant_id: &str, log_id: &str) -> Result<bool> {
        self.remove_key(tenant_id, log_id).await
    }
}

#[async_trait]
impl CodesAdapter for PassthroughStore<Code> {
    async fn remove(&self, tenant_id: &str, code_id: &str) -> Result<bool> {
        self.remove_key(tenant_id, code_id).await
    }

    async fn consume(&self, tenant_id: &str, code_id: &str) -> Result<Option<Code>> {
        let subject = Code::write_subject(code_id, code_id);
        let (tenant, code) = (tenant_id.to_owned(), code_id.to_owned());
        self.write(
            "consume",
            tenant_id,
            vec![subject],
            |_| None,
            move |store| async move { store.consume(&tenant, &code).await },
        )
        .await
    }

    async fn cleanup(&self, tenant_id: &str, older_than: Timestamp) -> Result<u64> {
        let subject = Subject::ExpiredCodes { before: older_than };
        let tenant = tenant_id.to_owned();
        self.write(
            "cleanup",
            tenant_id,
            vec![subject],
            |_| None,
            move |store| async move { store.cleanup(&tenant, older_than).await },
        )
        .await
    }
}

#[async_trait]
impl PasswordsAdapter for PassthroughStore<Password> {
    async fn get_current(&self, tenant_id: &str, user_id: &str) -> Result<Option<Password>> {
        self.read_one("get_current", tenant_id, user_id, get_current)
            .await
    }

    async fn remove(&self, tenant_id: &str, id: &str) -> Result<bool> {
        self.remove_key(tenant_id, id).await
    }
}

#[async_trait]
impl TenantsAdapter for PassthroughStore<Tenant> {
    async fn create(&self, tenant: TenantInsert) -> Result<Tenant> {
        EntityStore::create(self, "", tenant).await
    }
    async fn get(&self, id: &str) -> Result<Option<Tenant>> {
        EntityStore::get(self, "", id).await
    }
    async fn list(&self, params: &ListParams) -> Result<Page<Tenant>> {
        EntityStore::list(self, "", params).await
    }
    async fn update(&self, id: &str, patch: TenantPatch) -> Result<Tenant> {
        MutableStore::update(self, "", id, patch).await
    }
    async fn remove(&self, id: &str) -> Result<bool> {
        self.remove_key("", id).await
    }
    async fn upsert(&self, tenant: Tenant) -> Result<()> {
        EntityStore::upsert(self, "", tenant).await
    }
    async fn upsert_many(&self, tenants: Vec<Tenant>) -> Result<()> {
        EntityStore::upsert_many(self, "", tenants).await
    }
}
