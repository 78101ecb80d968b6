//! Verify: compares two stores entity by entity, streaming both sides in key
//! order (a merge join of two keyset scans, one page of each in memory).

use std::cmp::Ordering;
use std::time::Instant;

use adapter_interfaces::{AdapterError, DataAdapters, EntityKind, Record, Tenant};
use serde_json::Value as Json;

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
}

impl Default for VerifyOptions {
    fn default() -> Self {
        Self {
            batch_size: crate::backfill::DEFAULT_BATCH_SIZE,
            sample: 1,
            max_reported: 10,
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

/// The redacted stand-in for a secret value.
pub const REDACTED: &str = "[REDACTED]";

/// Compares every entity of `source` and `target`.
pub async fn verify(
    source: &DataAdapters,
    target: &DataAdapters,
    options: &VerifyOptions,
    progress: &dyn Progress,
) -> Result<VerifyReport, VerifyError> {
    let started = Instant::now();
    let mut report = VerifyReport {
        identical: true,
        sample: options.sample.max(1),
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
        crate::dispatch!(kind, R => job.entity::<R>(&mut result).await)?;
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
    async fn entity<R: Entity>(&self, result: &mut EntityVerify) -> Result<(), VerifyError> {
        if R::KIND == EntityKind::Tenant {
            return self.scope::<R>(GLOBAL, result).await;
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
            self.scope::<R>(&tenant, result).await?;
        }
    }

    async fn scope<R: Entity>(
        &self,
        scope: &str,
        result: &mut EntityVerify,
    ) -> Result<(), VerifyError> {
        let batch = self.options.batch_size;
        let sample = self.options.sample.max(1);
        let max = self.options.max_reported;
        let mut left = KeysetScan::<R>::new(self.source, scope, batch, None);
        let mut right = KeysetScan::<R>::new(self.target, scope, batch, None);
        let missing = |key: &str| MissingRecord {
            tenant: scope.to_owned(),
            key: key.to_owned(),
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
                            key: a.key().to_owned(),
                            fields,
                        });
                    }
                }
            }
        }
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
    use adapter_interfaces::{DataAdapters, EntityKind, ListParams, Tenant, memory};

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
