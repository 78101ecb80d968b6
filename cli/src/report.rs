//! What the commands report: counts, per-entity results, and their text form.

use std::fmt;

use adapter_interfaces::EntityKind;
use serde::{Deserialize, Serialize};

/// Records copied, skipped (already identical) and failed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Written to the target (or, in a dry run, that would be).
    pub copied: u64,
    /// Already identical in the target.
    pub skipped: u64,
    /// Rejected by the target (see the errors file).
    pub failed: u64,
    /// Removed from the target: pruned, or removed from the source while copying.
    #[serde(default)]
    pub removed: u64,
    /// Changed while copied and still owed by the journal when the copy gave
    /// up waiting for its copier (see `switchyard journal status`).
    #[serde(default)]
    pub deferred: u64,
}

impl Counts {
    /// All records seen.
    pub fn total(&self) -> u64 {
        self.copied + self.skipped + self.failed + self.deferred
    }

    /// Adds another count.
    pub fn add(&mut self, other: Counts) {
        self.copied += other.copied;
        self.skipped += other.skipped;
        self.failed += other.failed;
        self.removed += other.removed;
        self.deferred += other.deferred;
    }
}

/// The backfill result of one entity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntityBackfill {
    /// The entity.
    pub entity: EntityKind,
    /// Counts over the whole backfill (including the runs it resumed).
    pub counts: Counts,
    /// Records processed by this run.
    pub processed: u64,
    /// Seconds this run spent on the entity.
    pub seconds: f64,
}

impl EntityBackfill {
    /// Records processed per second in this run.
    pub fn rows_per_second(&self) -> f64 {
        if self.seconds > 0.0 {
            self.processed as f64 / self.seconds
        } else {
            0.0
        }
    }
}

/// The result of a backfill.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BackfillReport {
    /// Nothing was written.
    pub dry_run: bool,
    /// The run continued from a checkpoint.
    pub resumed: bool,
    /// The target had no schema and was migrated first.
    pub migrated_target: bool,
    /// Per entity, in copy order.
    pub entities: Vec<EntityBackfill>,
    /// Seconds for the whole run.
    pub seconds: f64,
}

impl BackfillReport {
    /// Counts over all entities.
    pub fn totals(&self) -> Counts {
        let mut total = Counts::default();
        for entity in &self.entities {
            total.add(entity.counts);
        }
        total
    }
}

impl fmt::Display for BackfillReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let copied = if self.dry_run { "to copy" } else { "copied" };
        let removed = if self.dry_run { "to remove" } else { "removed" };
        writeln!(
            f,
            "{:<13} {:>10} {:>10} {:>8} {:>10} {:>9} {:>12}",
            "entity", copied, "skipped", "failed", removed, "deferred", "rows/s"
        )?;
        let row = |f: &mut fmt::Formatter<'_>, name: &str, c: &Counts, rate: f64| {
            write!(
                f,
                "{:<13} {:>10} {:>10} {:>8} {:>10} {:>9} {:>12.0}",
                name, c.copied, c.skipped, c.failed, c.removed, c.deferred, rate
            )
        };
        for e in &self.entities {
            row(f, e.entity.table(), &e.counts, e.rows_per_second())?;
            writeln!(f)?;
        }
        let t = self.totals();
        let rate = if self.seconds > 0.0 {
            self.entities.iter().map(|e| e.processed).sum::<u64>() as f64 / self.seconds
        } else {
            0.0
        };
        row(f, "total", &t, rate)?;
        if t.deferred > 0 {
            write!(
                f,
                "\n({} keys changed while copied and are still owed by the journal: `switchyard journal status` shows them)",
                t.deferred
            )?;
        }
        if self.dry_run {
            write!(f, "\n(dry run: nothing was written)")?;
        }
        Ok(())
    }
}

/// One field that differs between the two sides.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldDiff {
    /// The field.
    pub field: String,
    /// The source's value (`"[REDACTED]"` for secrets).
    pub source: serde_json::Value,
    /// The target's value (`"[REDACTED]"` for secrets).
    pub target: serde_json::Value,
}

/// A record present on both sides whose fields differ.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordDiff {
    /// The tenant (empty for tenants themselves).
    pub tenant: String,
    /// The record's key.
    pub key: String,
    /// The differing fields.
    pub fields: Vec<FieldDiff>,
}

/// A record present on one side only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MissingRecord {
    /// The tenant (empty for tenants themselves).
    pub tenant: String,
    /// The record's key.
    pub key: String,
}

/// The comparison of one entity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntityVerify {
    /// The entity.
    pub entity: EntityKind,
    /// Records in the source.
    pub source_count: u64,
    /// Records in the target.
    pub target_count: u64,
    /// Records on both sides whose fields were compared.
    pub compared: u64,
    /// Compared records that differ.
    pub differing: u64,
    /// Records missing from the target.
    pub missing_in_target: u64,
    /// Records only in the target.
    pub extra_in_target: u64,
    /// The first records missing from the target.
    pub first_missing: Vec<MissingRecord>,
    /// The first records only in the target.
    pub first_extra: Vec<MissingRecord>,
    /// The first differing records.
    pub first_differences: Vec<RecordDiff>,
    /// Keys that differed when scanned but agreed when read again: they
    /// were being written while compared (not counted as different).
    #[serde(default)]
    pub changed_while_compared: u64,
    /// Differences beyond the re-check limit, reported as scanned.
    #[serde(default)]
    pub not_rechecked: u64,
    /// Keys `--repair` wrote or removed.
    #[serde(default)]
    pub repaired: u64,
    /// Keys `--repair` left to replication (a write of them was in flight).
    #[serde(default)]
    pub repair_deferred: u64,
    /// Keys `--repair` could not fix (refused by the target, or logs that
    /// cannot be removed one by one).
    #[serde(default)]
    pub repair_failed: u64,
}

impl EntityVerify {
    /// An empty comparison of `entity`.
    pub fn new(entity: EntityKind) -> Self {
        Self {
            entity,
            source_count: 0,
            target_count: 0,
            compared: 0,
            differing: 0,
            missing_in_target: 0,
            extra_in_target: 0,
            first_missing: Vec::new(),
            first_extra: Vec::new(),
            first_differences: Vec::new(),
            changed_while_compared: 0,
            not_rechecked: 0,
            repaired: 0,
            repair_deferred: 0,
            repair_failed: 0,
        }
    }

    /// Whether both sides are identical for this entity.
    pub fn identical(&self) -> bool {
        self.differing == 0
            && self.missing_in_target == 0
            && self.extra_in_target == 0
            && self.source_count == self.target_count
    }
}

/// The result of a verify.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VerifyReport {
    /// Whether every entity is identical.
    pub identical: bool,
    /// Every `sample`-th common record had its fields compared (1: all).
    pub sample: u64,
    /// Per entity.
    pub entities: Vec<EntityVerify>,
    /// Seconds for the whole run.
    pub seconds: f64,
    /// `--repair` ran: the counts are those found after it.
    #[serde(default)]
    pub repaired: bool,
}

impl VerifyReport {
    /// Records read from both sides per second.
    pub fn rows_per_second(&self) -> f64 {
        let rows: u64 = self
            .entities
            .iter()
            .map(|e| e.source_count + e.target_count)
            .sum();
        if self.seconds > 0.0 {
            rows as f64 / self.seconds
        } else {
            0.0
        }
    }
}

fn scoped(tenant: &str, key: &str) -> String {
    if tenant.is_empty() {
        key.to_owned()
    } else {
        format!("{tenant}/{key}")
    }
}

impl fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:<13} {:>10} {:>10} {:>10} {:>10} {:>10}",
            "entity", "source", "target", "missing", "extra", "differing"
        )?;
        for e in &self.entities {
            let name = e.entity.table();
            writeln!(
                f,
                "{:<13} {:>10} {:>10} {:>10} {:>10} {:>10}",
                name,
                e.source_count,
                e.target_count,
                e.missing_in_target,
                e.extra_in_target,
                e.differing
            )?;
        }
        for e in &self.entities {
            let name = e.entity.singular();
            for m in &e.first_missing {
                writeln!(f, "missing in target: {name} {}", scoped(&m.tenant, &m.key))?;
            }
            for m in &e.first_extra {
                writeln!(f, "only in target: {name} {}", scoped(&m.tenant, &m.key))?;
            }
            for d in &e.first_differences {
                for field in &d.fields {
                    writeln!(
                        f,
                        "differs: {name} {} field `{}`: source {} target {}",
                        scoped(&d.tenant, &d.key),
                        field.field,
                        field.source,
                        field.target
                    )?;
                }
            }
        }
        for e in &self.entities {
            let name = e.entity.table();
            if e.changed_while_compared > 0 {
                writeln!(
                    f,
                    "{name}: {} records were being written while compared and agree now",
                    e.changed_while_compared
                )?;
            }
            if e.not_rechecked > 0 {
                writeln!(
                    f,
                    "{name}: {} more differences were not read again (too many: run `switchyard backfill`)",
                    e.not_rechecked
                )?;
            }
            if self.repaired && (e.repaired + e.repair_deferred + e.repair_failed) > 0 {
                writeln!(
                    f,
                    "{name}: repaired {}, left to replication {}, not repaired {}",
                    e.repaired, e.repair_deferred, e.repair_failed
                )?;
            }
        }
        if self.sample > 1 {
            writeln!(
                f,
                "(fields compared on every {}th common record; counts and ids on all)",
                self.sample
            )?;
        }
        write!(
            f,
            "{} ({:.0} rows/s)",
            if self.identical {
                "IDENTICAL"
            } else {
                "DIFFERENT"
            },
            self.rows_per_second()
        )
    }
}
