//! Verify: compares two stores entity by entity, streaming both sides in key
//! order (a merge join of two keyset scans, one page of each in memory).

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use adapter_interfaces::{AdapterError, DataAdapters, EntityKind, EntityStore, Record, Tenant};
use passthrough::display_key;
use passthrough::live_copy::{LiveCopyError, ReconcileOptions, SourceRead};
use serde_json::Value as Json;

use crate::backfill::{Coordination, live_copy};
use crate::entity::{Entity, GLOBAL, KeysetScan};
use crate::progress::Progress;
use crate::report::{EntityVerify, FieldDiff, MissingRecord, RecordDiff, VerifyReport};

/// How to verify.
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// Records per page read from each side.
    pub batch_size: u32,
    /// Compare the fields of every `sample`-th record present on both sides (1: all).
    pub sample: u64,
    /// How many missing, extra and differing records to name per entity.
    pub max_reported: usize,
    /// Re-check rounds: each waits [`VerifyOptions::settle_interval`], then
    /// reads every key found different again on both sides; a key that
    /// agrees now was changing while compared, not different.
    pub settle_rounds: u32,
    /// The wait before each re-check round.
    pub settle_interval: Duration,
    /// Keys re-checked (and repaired) per entity at most; beyond, the
    /// differences are reported as found.
    pub recheck_limit: usize,
    /// Bring the keys that still differ to the source's current state
    /// (`None`: never write).
    pub repair: Option<Repair>,
}

/// How `verify --repair` writes: as a backfill does, through
/// [`passthrough::LiveCopy`], coordinated with live replication.
#[derive(Debug, Clone, Default)]
pub struct Repair {
    /// Through the source's journal (`None`: only while nothing writes).
    pub coordination: Option<Coordination>,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        Self {
            batch_size: crate::backfill::DEFAULT_BATCH_SIZE,
            sample: 1,
            max_reported: 10,
            settle_rounds: 1,
            settle_interval: Duration::from_millis(500),
            recheck_limit: 10_000,
            repair: None,
        }
    }
}

/// A side that could not be read.
#[derive(Debug, thiserror::Error)]
#[error("reading {entity} records from the {side} failed: {source}")]
pub struct VerifyError {
    /// `source` or `target`.
    pub side: &'static str,
    /// The entity.
    pub entity: EntityKind,
    /// The adapter's error.
    pub source: AdapterError,
}

/// A repair that could not run.
#[derive(Debug, thiserror::Error)]
#[error("repairing {entity} records failed: {source}")]
pub struct RepairError {
    /// The entity.
    pub entity: EntityKind,
    /// What stopped it.
    pub source: LiveCopyError,
}

/// Why a verify stopped.
#[derive(Debug, thiserror::Error)]
pub enum VerifyFailure {
    /// A side could not be read.
    #[error(transparent)]
    Read(#[from] VerifyError),
    /// The repair could not run.
    #[error(transparent)]
    Repair(#[from] RepairError),
}

/// The redacted stand-in for a secret value.
pub const REDACTED: &str = "[REDACTED]";

/// Compares every entity of `source` and `target`.
pub async fn verify(
    source: &DataAdapters,
    target: &DataAdapters,
    options: &VerifyOptions,
    progress: &dyn Progress,
) -> Result<VerifyReport, VerifyFailure> {
    let started = Instant::now();
    let mut report = VerifyReport {
        identical: true,
        sample: options.sample.max(1),
        repaired: options.repair.is_some(),
        ..Default::default()
    };
    for kind in EntityKind::ALL {
        progress.begin(kind, None, 0);
        let mut result = EntityVerify::new(kind);
        let job = Job {
            source,
            target,
            options,
            progress,
        };
        let mut suspects = Vec::new();
        crate::dispatch!(kind, R => {
            job.entity::<R>(&mut result, &mut suspects).await?;
            job.recheck::<R>(&mut result, suspects).await?;
        });
        progress.end(
            kind,
            &format!(
                "{} source, {} target, {} missing, {} extra, {} differing",
                result.source_count,
                result.target_count,
                result.missing_in_target,
                result.extra_in_target,
                result.differing
            ),
        );
        report.identical &= result.identical();
        report.entities.push(result);
    }
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

struct Job<'a> {
    source: &'a DataAdapters,
    target: &'a DataAdapters,
    options: &'a VerifyOptions,
    progress: &'a dyn Progress,
}

fn side_error(side: &'static str, entity: EntityKind) -> impl FnOnce(AdapterError) -> VerifyError {
    move |source| VerifyError {
        side,
        entity,
        source,
    }
}

fn key_order(a: &str, b: &str) -> Ordering {
    a.as_bytes().cmp(b.as_bytes())
}

impl Job<'_> {
    async fn entity<R: Entity>(
        &self,
        result: &mut EntityVerify,
        suspects: &mut Vec<Suspect>,
    ) -> Result<(), VerifyError> {
        if R::KIND == EntityKind::Tenant {
            return self.scope::<R>(GLOBAL, result, suspects).await;
        }
        // Every tenant of either side, in key order.
        let batch = self.options.batch_size;
        let mut left = KeysetScan::<Tenant>::new(self.source, GLOBAL, batch, None);
        let mut right = KeysetScan::<Tenant>::new(self.target, GLOBAL, batch, None);
        loop {
            let l = left
                .peek()
                .await
                .map_err(side_error("source", EntityKind::Tenant))?
                .map(|t| t.id.clone());
            let r = right
                .peek()
                .await
                .map_err(side_error("target", EntityKind::Tenant))?
                .map(|t| t.id.clone());
            let tenant = match (l, r) {
                (None, None) => return Ok(()),
                (Some(l), None) => {
                    left.pop().await.map_err(side_error("source", R::KIND))?;
                    l
                }
                (None, Some(r)) => {
                    right.pop().await.map_err(side_error("target", R::KIND))?;
                    r
                }
                (Some(l), Some(r)) => match key_order(&l, &r) {
                    Ordering::Less => {
                        left.pop().await.map_err(side_error("source", R::KIND))?;
                        l
                    }
                    Ordering::Greater => {
                        right.pop().await.map_err(side_error("target", R::KIND))?;
                        r
                    }
                    Ordering::Equal => {
                        left.pop().await.map_err(side_error("source", R::KIND))?;
                        right.pop().await.map_err(side_error("target", R::KIND))?;
                        l
                    }
                },
            };
            self.scope::<R>(&tenant, result, suspects).await?;
        }
    }

    async fn scope<R: Entity>(
        &self,
        scope: &str,
        result: &mut EntityVerify,
        suspects: &mut Vec<Suspect>,
    ) -> Result<(), VerifyError> {
        let batch = self.options.batch_size;
        let sample = self.options.sample.max(1);
        let max = self.options.max_reported;
        let mut left = KeysetScan::<R>::new(self.source, scope, batch, None);
        let mut right = KeysetScan::<R>::new(self.target, scope, batch, None);
        let missing = |key: &str| MissingRecord {
            tenant: scope.to_owned(),
            key: display_key::<R>(key),
        };
        let limit = self.options.recheck_limit;
        let mut suspect = |key: &str, class: Class, result: &mut EntityVerify| {
            if suspects.len() < limit {
                suspects.push(Suspect {
                    scope: scope.to_owned(),
                    key: key.to_owned(),
                    class,
                });
            } else {
                result.not_rechecked += 1;
            }
        };
        loop {
            let l = left
                .peek()
                .await
                .map_err(side_error("source", R::KIND))?
                .map(|r| r.key().to_owned());
            let r = right
                .peek()
                .await
                .map_err(side_error("target", R::KIND))?
                .map(|r| r.key().to_owned());
            let order = match (&l, &r) {
                (None, None) => return Ok(()),
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (Some(l), Some(r)) => key_order(l, r),
            };
            match order {
                Ordering::Less => {
                    let key = l.unwrap_or_default();
                    left.pop().await.map_err(side_error("source", R::KIND))?;
                    result.source_count += 1;
                    result.missing_in_target += 1;
                    if result.first_missing.len() < max {
                        result.first_missing.push(missing(&key));
                    }
                    suspect(&key, Class::Missing, result);
                    self.progress.advance(R::KIND, 1);
                }
                Ordering::Greater => {
                    let key = r.unwrap_or_default();
                    right.pop().await.map_err(side_error("target", R::KIND))?;
                    result.target_count += 1;
                    result.extra_in_target += 1;
                    if result.first_extra.len() < max {
                        result.first_extra.push(missing(&key));
                    }
                    suspect(&key, Class::Extra, result);
                }
                Ordering::Equal => {
                    let a = left.pop().await.map_err(side_error("source", R::KIND))?;
                    let b = right.pop().await.map_err(side_error("target", R::KIND))?;
                    result.source_count += 1;
                    result.target_count += 1;
                    self.progress.advance(R::KIND, 1);
                    let (Some(a), Some(b)) = (a, b) else { continue };
                    // Counted from the first common record, so that sample 1 compares all.
                    let common = result.source_count - result.missing_in_target;
                    if !(common - 1).is_multiple_of(sample) {
                        continue;
                    }
                    result.compared += 1;
                    if a == b {
                        continue;
                    }
                    let fields = field_diffs(&a, &b);
                    if fields.is_empty() {
                        continue;
                    }
                    result.differing += 1;
                    if result.first_differences.len() < max {
                        result.first_differences.push(RecordDiff {
                            tenant: scope.to_owned(),
                            key: display_key::<R>(a.key()),
                            fields,
                        });
                    }
                    suspect(a.key(), Class::Differs, result);
                }
            }
        }
    }
}

/// How a key stands on the two sides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// Only the source has it.
    Missing,
    /// Only the target has it.
    Extra,
    /// Both have it, with different fields.
    Differs,
}

/// A key found different by the scan, to read again.
struct Suspect {
    scope: String,
    key: String,
    class: Class,
}

/// What the last reads of a suspect found.
struct Standing<R> {
    source: Option<R>,
    target: Option<R>,
}

impl<R: Record> Standing<R> {
    /// The difference, if the two sides still disagree.
    fn class(&self) -> Option<Class> {
        match (&self.source, &self.target) {
            (None, None) => None,
            (Some(_), None) => Some(Class::Missing),
            (None, Some(_)) => Some(Class::Extra),
            (Some(a), Some(b)) if a == b || field_diffs(a, b).is_empty() => None,
            (Some(_), Some(_)) => Some(Class::Differs),
        }
    }
}

impl EntityVerify {
    fn count(&mut self, class: Class, by: i64) {
        let counter = match class {
            Class::Missing => &mut self.missing_in_target,
            Class::Extra => &mut self.extra_in_target,
            Class::Differs => &mut self.differing,
        };
        *counter = counter.saturating_add_signed(by);
    }
}

/// Whether each side has a record of that class.
fn presence(class: Class) -> (bool, bool) {
    match class {
        Class::Missing => (true, false),
        Class::Extra => (false, true),
        Class::Differs => (true, true),
    }
}

impl Job<'_> {
    /// Both sides' current records of one key.
    async fn read_both<R: Entity>(&self, suspect: &Suspect) -> Result<Standing<R>, VerifyError> {
        let source = R::store(self.source)
            .get(&suspect.scope, &suspect.key)
            .await
            .map_err(side_error("source", R::KIND))?;
        let target = R::store(self.target)
            .get(&suspect.scope, &suspect.key)
            .await
            .map_err(side_error("target", R::KIND))?;
        Ok(Standing { source, target })
    }

    /// Re-reads the keys the scan found different, after a wait, for
    /// [`VerifyOptions::settle_rounds`] rounds; repairs those that still
    /// differ when asked (and looks once more); then rewrites `result` from
    /// what the last reads found.
    async fn recheck<R: Entity>(
        &self,
        result: &mut EntityVerify,
        suspects: Vec<Suspect>,
    ) -> Result<(), VerifyFailure> {
        let rounds = self.options.settle_rounds;
        if suspects.is_empty() || (rounds == 0 && self.options.repair.is_none()) {
            return Ok(());
        }
        let mut open: Vec<(Suspect, Option<Standing<R>>)> =
            suspects.into_iter().map(|s| (s, None)).collect();
        let mut settled: Vec<(Suspect, Standing<R>)> = Vec::new();
        for _ in 0..rounds {
            tokio::time::sleep(self.options.settle_interval).await;
            open = self.look::<R>(open, &mut settled, result, true).await?;
            if open.is_empty() {
                break;
            }
        }
        if let Some(repair) = &self.options.repair
            && !open.is_empty()
        {
            let keys: Vec<&Suspect> = open.iter().map(|(s, _)| s).collect();
            self.repair::<R>(repair, &keys, result).await?;
            // What the repair left to replication lands within a moment.
            tokio::time::sleep(self.options.settle_interval).await;
            open = self.look::<R>(open, &mut settled, result, false).await?;
        }
        // Rewrite the counts and the lists from the last reads.
        let max = self.options.max_reported;
        let rechecked: std::collections::HashSet<(String, String)> = open
            .iter()
            .map(|(s, _)| s)
            .chain(settled.iter().map(|(s, _)| s))
            .map(|s| (s.scope.clone(), display_key::<R>(&s.key)))
            .collect();
        let listed =
            |tenant: &str, key: &str| rechecked.contains(&(tenant.to_owned(), key.to_owned()));
        result.first_missing.retain(|m| !listed(&m.tenant, &m.key));
        result.first_extra.retain(|m| !listed(&m.tenant, &m.key));
        result
            .first_differences
            .retain(|d| !listed(&d.tenant, &d.key));
        let all = open
            .into_iter()
            .filter_map(|(s, standing)| standing.map(|st| (s, st)))
            .chain(settled);
        for (suspect, standing) in all {
            let (s0, t0) = presence(suspect.class);
            result.count(suspect.class, -1);
            result.source_count = result
                .source_count
                .saturating_add_signed(i64::from(standing.source.is_some()) - i64::from(s0));
            result.target_count = result
                .target_count
                .saturating_add_signed(i64::from(standing.target.is_some()) - i64::from(t0));
            let Some(class) = standing.class() else {
                continue;
            };
            result.count(class, 1);
            let shown = MissingRecord {
                tenant: suspect.scope.clone(),
                key: display_key::<R>(&suspect.key),
            };
            match (class, &standing.source, &standing.target) {
                (Class::Missing, _, _) if result.first_missing.len() < max => {
                    result.first_missing.push(shown);
                }
                (Class::Extra, _, _) if result.first_extra.len() < max => {
                    result.first_extra.push(shown);
                }
                (Class::Differs, Some(a), Some(b)) if result.first_differences.len() < max => {
                    result.first_differences.push(RecordDiff {
                        tenant: shown.tenant,
                        key: shown.key,
                        fields: field_diffs(a, b),
                    });
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// One look at the open suspects: those that agree now move to
    /// `settled` (counted as changing while compared, or as repaired).
    async fn look<R: Entity>(
        &self,
        open: Vec<(Suspect, Option<Standing<R>>)>,
        settled: &mut Vec<(Suspect, Standing<R>)>,
        result: &mut EntityVerify,
        before_repair: bool,
    ) -> Result<Vec<(Suspect, Option<Standing<R>>)>, VerifyError> {
        let mut still = Vec::with_capacity(open.len());
        for (suspect, _) in open {
            let standing = self.read_both::<R>(&suspect).await?;
            if standing.class().is_none() {
                if before_repair {
                    result.changed_while_compared += 1;
                }
                settled.push((suspect, standing));
            } else {
                still.push((suspect, Some(standing)));
            }
        }
        Ok(still)
    }

    /// Brings the suspects that still differ to the source's current state,
    /// scope by scope, as a backfill with prune would.
    async fn repair<R: Entity>(
        &self,
        repair: &Repair,
        suspects: &[&Suspect],
        result: &mut EntityVerify,
    ) -> Result<(), RepairError> {
        let copy = live_copy(self.source, self.target, repair.coordination.as_ref());
        let mut by_scope: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for suspect in suspects {
            by_scope
                .entry(&suspect.scope)
                .or_default()
                .push(&suspect.key);
        }
        let stop = |source| RepairError {
            entity: R::KIND,
            source,
        };
        for (scope, keys) in by_scope {
            let (mut source_now, mut target_now) = (Vec::new(), Vec::new());
            for key in &keys {
                let standing = self
                    .read_both::<R>(&Suspect {
                        scope: scope.to_owned(),
                        key: (*key).to_owned(),
                        class: Class::Differs,
                    })
                    .await
                    .map_err(|e| stop(LiveCopyError::Source(e.source)))?;
                source_now.extend(standing.source);
                target_now.extend(standing.target);
            }
            let options = ReconcileOptions {
                prune: true,
                dry_run: false,
            };
            let done = copy
                .reconcile::<R>(scope, SourceRead::EachKey, &source_now, target_now, options)
                .await
                .map_err(stop)?;
            result.repaired += done.copied + done.removed;
            result.repair_deferred += done.deferred;
            result.repair_failed += done.failed.len() as u64;
            for failure in &done.failed {
                tracing::warn!(entity = %R::KIND, tenant = scope, key = %failure.key, error = %failure.error, "not repaired");
            }
        }
        Ok(())
    }
}

/// The fields in which two records of the same key differ, secrets redacted.
pub fn field_diffs<R: Record>(a: &R, b: &R) -> Vec<FieldDiff> {
    let a = serde_json::to_value(a).unwrap_or(Json::Null);
    let b = serde_json::to_value(b).unwrap_or(Json::Null);
    R::COLUMNS
        .iter()
        .filter_map(|column| {
            let x = a.get(column.name).cloned().unwrap_or(Json::Null);
            let y = b.get(column.name).cloned().unwrap_or(Json::Null);
            if x == y {
                return None;
            }
            let (x, y) = if column.secret {
                (Json::from(REDACTED), Json::from(REDACTED))
            } else {
                (x, y)
            };
            Some(FieldDiff {
                field: column.name.to_owned(),
                source: x,
                target: y,
            })
        })
        .collect()
}

/// Helpers shared by the unit tests of verify and backfill: seeded stores,
/// a default verify, and the records of a store the tests pick and change.
#[cfg(test)]
pub(crate) mod testing {
    use adapter_interfaces::{DataAdapters, EntityKind, EntityStore, ListParams, Tenant, memory};

    use super::{VerifyOptions, verify};
    use crate::entity::{Entity, GLOBAL};
    use crate::progress::Silent;
    use crate::report::{EntityVerify, VerifyReport};
    use crate::seed::{SeedOptions, seed};

    /// An in-memory source seeded with `options`, and an empty in-memory target.
    pub(crate) async fn seeded(options: &SeedOptions) -> (DataAdapters, DataAdapters) {
        let (source, target) = (memory::adapters(), memory::adapters());
        seed(&source, options, &Silent).await.unwrap();
        (source, target)
    }

    /// Verifies `target` against `source` with the default options.
    pub(crate) async fn verified(source: &DataAdapters, target: &DataAdapters) -> VerifyReport {
        verify(source, target, &VerifyOptions::default(), &Silent)
            .await
            .unwrap()
    }

    /// The part of a verify report about `kind`.
    pub(crate) fn entity_of(report: &VerifyReport, kind: EntityKind) -> &EntityVerify {
        report.entities.iter().find(|e| e.entity == kind).unwrap()
    }

    /// The `i`-th record of `R`, in key order, in `scope` of `db`.
    pub(crate) async fn nth<R: Entity>(db: &DataAdapters, scope: &str, i: usize) -> R {
        let page = R::store(db).list(scope, &ListParams::default()).await;
        page.unwrap().items.into_iter().nth(i).expect("a record")
    }

    /// The id of the `i`-th tenant, in key order, of `db`.
    pub(crate) async fn tenant_id(db: &DataAdapters, i: usize) -> String {
        nth::<Tenant>(db, GLOBAL, i).await.id
    }
}

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;
    use crate::backfill::{BackfillOptions, backfill};
    use crate::progress::Silent;
    use crate::seed::SeedOptions;
    use adapter_interfaces::{Log, User, memory};

    async fn pair() -> (DataAdapters, DataAdapters) {
        let options = SeedOptions {
            tenants: 2,
            users_per_tenant: 12,
            seed: 3,
            batch_size: 50,
        };
        let (source, target) = seeded(&options).await;
        backfill(&source, &target, &BackfillOptions::default(), &Silent)
            .await
            .unwrap();
        (source, target)
    }

    async fn check(target: &DataAdapters, source: &DataAdapters, kind: EntityKind, field: &str) {
        let report = verified(source, target).await;
        assert!(!report.identical, "{kind}: {report}");
        let entity = entity_of(&report, kind);
        assert_eq!(entity.differing, 1, "{kind}: {report}");
        assert_eq!(entity.first_differences[0].fields[0].field, field);
        for other in report.entities.iter().filter(|e| e.entity != kind) {
            assert!(other.identical(), "{report}");
        }
    }

    /// Changes one field of the first record of `$R` in the target and checks that verify names it.
    macro_rules! one_change {
        ($source:expr, $target:expr, $R:ty, $field:literal, |$r:ident| $change:expr) => {{
            let (source, target): (&DataAdapters, &DataAdapters) = (&$source, &$target);
            let tenant = tenant_id(target, 0).await;
            let store = <$R as Entity>::store(target);
            let scope = if <$R>::KIND == EntityKind::Tenant {
                GLOBAL
            } else {
                &tenant
            };
            let mut $r = nth::<$R>(target, scope, 0).await;
            let original = $r.clone();
            $change;
            store.upsert(scope, $r).await.unwrap();
            check(target, source, <$R>::KIND, $field).await;
            store.upsert(scope, original).await.unwrap();
        }};
    }

    #[tokio::test]
    async fn a_single_changed_field_in_any_entity_is_found() {
        use adapter_interfaces::*;
        let (source, target) = pair().await;
        let report = verified(&source, &target).await;
        assert!(report.identical, "{report}");
        one_change!(source, target, Tenant, "friendly_name", |r| r
            .friendly_name
            .push('!'));
        one_change!(source, target, User, "login_count", |r| r.login_count += 1);
        one_change!(source, target, Application, "callbacks", |r| r
            .callbacks
            .push("https://x.example/cb".into()));
        one_change!(source, target, Connection, "display_name", |r| r
            .display_name =
            Some("Other".into()));
        one_change!(source, target, Session, "revoked_at", |r| r.revoked_at =
            Some(Timestamp::from_millis(1).unwrap()));
        one_change!(source, target, Code, "nonce", |r| r.nonce =
            Some("n-other".into()));
        one_change!(source, target, Log, "description", |r| r.description =
            Some("changed".into()));
        // The password hash differs: reported, but never printed.
        let tenant = tenant_id(&target, 0).await;
        let mut p = nth::<Password>(&target, &tenant, 0).await;
        let hash = p.password.expose().to_owned();
        p.password = Secret::new("$2b$10$different");
        target.passwords.upsert(&tenant, p).await.unwrap();
        let report = verified(&source, &target).await;
        assert!(!report.identical);
        let text = format!("{report}");
        let json = serde_json::to_string(&report).unwrap();
        assert!(text.contains("field `password`"), "{text}");
        assert!(text.contains(REDACTED));
        for shown in [&text, &json] {
            assert!(
                !shown.contains(&hash) && !shown.contains("different"),
                "{shown}"
            );
        }
    }

    #[tokio::test]
    async fn a_key_written_while_compared_is_not_reported_as_different() {
        let (source, target) = pair().await;
        let tenant = tenant_id(&source, 0).await;
        let mut user = nth::<User>(&source, &tenant, 0).await;
        user.login_count += 1;
        source.users.upsert(&tenant, user.clone()).await.unwrap();
        // Replication catches up while verify runs: after its scan, before its re-check.
        let (late, scope) = (target.clone(), tenant.clone());
        let catch_up = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(150)).await;
            late.users.upsert(&scope, user).await.unwrap();
        });
        let options = VerifyOptions {
            settle_interval: Duration::from_millis(600),
            ..VerifyOptions::default()
        };
        let report = verify(&source, &target, &options, &Silent).await.unwrap();
        catch_up.await.unwrap();
        assert!(report.identical, "{report}");
        let users = entity_of(&report, EntityKind::User);
        assert_eq!(users.changed_while_compared, 1, "{report}");
        assert_eq!(users.differing, 0);
        assert!(format!("{report}").contains("being written while compared"));
        // Without a re-check, the same moment is a difference.
        let mut user = nth::<User>(&source, &tenant, 0).await;
        user.login_count += 1;
        source.users.upsert(&tenant, user).await.unwrap();
        let options = VerifyOptions {
            settle_rounds: 0,
            ..VerifyOptions::default()
        };
        let report = verify(&source, &target, &options, &Silent).await.unwrap();
        assert_eq!(entity_of(&report, EntityKind::User).differing, 1);
    }

    #[tokio::test]
    async fn repair_brings_every_difference_to_the_source_and_plain_verify_never_writes() {
        use adapter_interfaces::{Code, Session};
        let (source, target) = pair().await;
        let tenant = tenant_id(&source, 0).await;
        let mut user = nth::<User>(&target, &tenant, 0).await;
        user.login_count += 7;
        target.users.upsert(&tenant, user).await.unwrap();
        let session = nth::<Session>(&target, &tenant, 0).await;
        target.sessions.remove(&tenant, &session.id).await.unwrap();
        let mut code = nth::<Code>(&target, &tenant, 0).await;
        code.code_id = "extra-code-0123456789".into();
        target.codes.upsert(&tenant, code).await.unwrap();
        let fast = VerifyOptions {
            settle_interval: Duration::from_millis(10),
            ..VerifyOptions::default()
        };
        let plain = verify(&source, &target, &fast, &Silent).await.unwrap();
        assert!(!plain.identical);
        let shown = format!("{plain}");
        assert!(
            shown.contains("extr…") && !shown.contains("extra-code-0123456789"),
            "{shown}"
        );
        // A plain verify wrote nothing: the same differences again.
        let again = verify(&source, &target, &fast, &Silent).await.unwrap();
        assert_eq!(again.entities, plain.entities);
        let options = VerifyOptions {
            repair: Some(Repair {
                coordination: Some(crate::backfill::Coordination::migration(
                    passthrough::Side::Old,
                )),
            }),
            ..fast.clone()
        };
        let repaired = verify(&source, &target, &options, &Silent).await.unwrap();
        assert!(repaired.identical, "{repaired}");
        let total: u64 = repaired.entities.iter().map(|e| e.repaired).sum();
        assert_eq!(total, 3, "{repaired}");
        assert!(verified(&source, &target).await.identical);
        assert!(
            source
                .journal
                .backlog()
                .await
                .unwrap()
                .iter()
                .all(|b| b.pending == 0 && b.dead == 0),
            "the repair settled its claims"
        );
    }

    #[tokio::test]
    async fn missing_and_extra_records_are_named() {
        let (source, target) = pair().await;
        let tenant = tenant_id(&source, 1).await;
        let log = nth::<Log>(&source, &tenant, 0).await;
        // Logs are append-only: drop the record on the source side instead.
        let fresh = memory::adapters();
        backfill(&target, &fresh, &BackfillOptions::default(), &Silent)
            .await
            .unwrap();
        let mut extra = log.clone();
        extra.log_id = "zzzz-extra".into();
        fresh.logs.upsert(&tenant, extra).await.unwrap();
        let report = verified(&source, &fresh).await;
        let logs = entity_of(&report, EntityKind::Log);
        assert_eq!(logs.extra_in_target, 1);
        assert_eq!(logs.first_extra[0].key, "zzzz-extra");
        assert_eq!(logs.target_count, logs.source_count + 1);
        let user = nth::<User>(&source, &tenant, 0).await;
        fresh.users.remove(&tenant, user.key()).await.unwrap();
        let report = verified(&source, &fresh).await;
        let u = entity_of(&report, EntityKind::User);
        assert_eq!(u.missing_in_target, 1);
        assert_eq!(u.first_missing[0].key, user.user_id);
        assert!(!report.identical);
    }
}
