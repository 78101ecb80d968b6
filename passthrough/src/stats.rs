//! Statistics: kept in memory for the status report and exported through the `metrics` facade.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use adapter_interfaces::{EntityKind, Timestamp};
use serde::Serialize;

use crate::compare::Mismatch;
use crate::stage::Stage;

/// The part a store plays in a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Served the read or took the write first.
    Primary,
    /// Received a replicated write or a compared read.
    Secondary,
}

impl Role {
    fn as_str(self) -> &'static str {
        match self {
            Role::Primary => "primary",
            Role::Secondary => "secondary",
        }
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct Counters {
    ok: u64,
    failed: u64,
    retried: u64,
    dead_lettered: u64,
    latency_total: Duration,
    latency_max: Duration,
}

type StatKey = (usize, Role, EntityKind, &'static str);

/// The metric handles of one key, registered once (label strings are built
/// on first use only, so the hot path allocates nothing).
struct Handles {
    ok: metrics::Counter,
    failed: metrics::Counter,
    latency: metrics::Histogram,
    retried: metrics::Counter,
    dead_lettered: metrics::Counter,
}

impl Handles {
    fn new(store: &str, role: Role, entity: EntityKind, method: &'static str) -> Self {
        let labels = [
            ("store", store.to_owned()),
            ("role", role.as_str().to_owned()),
            ("entity", entity.singular().to_owned()),
            ("method", method.to_owned()),
        ];
        let with_outcome = |outcome: &'static str| {
            let mut all = labels.to_vec();
            all.push(("outcome", outcome.to_owned()));
            all
        };
        Self {
            ok: metrics::counter!("switchyard_passthrough_calls_total", &with_outcome("ok")),
            failed: metrics::counter!(
                "switchyard_passthrough_calls_total",
                &with_outcome("failed")
            ),
            latency: metrics::histogram!("switchyard_passthrough_latency_seconds", &labels),
            retried: metrics::counter!("switchyard_passthrough_retries_total", &labels),
            dead_lettered: metrics::counter!("switchyard_passthrough_dead_letters_total", &labels),
        }
    }
}

/// Per store, role, entity and method counters.
pub(crate) struct Stats {
    names: Vec<String>,
    entries: Mutex<HashMap<StatKey, (Counters, Handles)>>,
}

/// The outcome of one attempt, for [`Stats::record`].
#[derive(Debug, Clone, Copy)]
pub(crate) enum Event {
    Ok(Duration),
    Failed(Duration),
    Retried,
    DeadLettered,
}

impl Stats {
    pub(crate) fn new(names: Vec<String>) -> Self {
        Self {
            names,
            entries: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn record(
        &self,
        store: usize,
        role: Role,
        entity: EntityKind,
        method: &'static str,
        event: Event,
    ) {
        let Ok(mut map) = self.entries.lock() else {
            return;
        };
        let (c, h) = map.entry((store, role, entity, method)).or_insert_with(|| {
            let name = self.names.get(store).map_or("?", String::as_str);
            (
                Counters::default(),
                Handles::new(name, role, entity, method),
            )
        });
        match event {
            Event::Ok(latency) | Event::Failed(latency) => {
                if matches!(event, Event::Ok(_)) {
                    c.ok += 1;
                    h.ok.increment(1);
                } else {
                    c.failed += 1;
                    h.failed.increment(1);
                }
                c.latency_total += latency;
                c.latency_max = c.latency_max.max(latency);
                h.latency.record(latency.as_secs_f64());
            }
            Event::Retried => {
                c.retried += 1;
                h.retried.increment(1);
            }
            Event::DeadLettered => {
                c.dead_lettered += 1;
                h.dead_lettered.increment(1);
            }
        }
    }

    pub(crate) fn operations(&self) -> Vec<OperationStats> {
        let Ok(map) = self.entries.lock() else {
            return Vec::new();
        };
        let mut all: Vec<OperationStats> = map
            .iter()
            .map(|((store, role, entity, method), (c, _))| {
                let calls = c.ok + c.failed;
                OperationStats {
                    store: self.names.get(*store).cloned().unwrap_or_default(),
                    role: *role,
                    entity: *entity,
                    method,
                    ok: c.ok,
                    failed: c.failed,
                    retried: c.retried,
                    dead_lettered: c.dead_lettered,
                    latency_avg_us: if calls == 0 {
                        0
                    } else {
                        u64::try_from(c.latency_total.as_micros() / u128::from(calls))
                            .unwrap_or(u64::MAX)
                    },
                    latency_max_us: u64::try_from(c.latency_max.as_micros()).unwrap_or(u64::MAX),
                }
            })
            .collect();
        all.sort_by(|a, b| {
            (&a.store, a.role, a.entity, a.method).cmp(&(&b.store, b.role, b.entity, b.method))
        });
        all
    }
}

/// Counters of one store, role, entity and method.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OperationStats {
    /// The store's name.
    pub store: String,
    /// Its role in these calls.
    pub role: Role,
    /// The entity.
    pub entity: EntityKind,
    /// The method.
    pub method: &'static str,
    /// Attempts that succeeded.
    pub ok: u64,
    /// Attempts that failed.
    pub failed: u64,
    /// Copies that failed and are retried later.
    pub retried: u64,
    /// Copies given up and parked as dead letters.
    pub dead_lettered: u64,
    /// Mean latency of an attempt, in microseconds.
    pub latency_avg_us: u64,
    /// Longest attempt, in microseconds.
    pub latency_max_us: u64,
}

/// A key that a secondary rejected on every attempt, parked in the journal
/// (durable, shared by the fleet) until it is replayed or discarded. It
/// names the key, never a record's values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeadLetter {
    /// The secondary that misses the key.
    pub secondary: String,
    /// The entity.
    pub entity: EntityKind,
    /// The journal's subject (`user`, `user_passwords`, `expired_codes`, …).
    pub subject: &'static str,
    /// The tenant.
    pub tenant_id: String,
    /// The key (codes show only a prefix).
    pub key: String,
    /// The last error's message.
    pub error: String,
    /// Attempts made.
    pub attempts: u32,
    /// When its oldest uncopied write was recorded.
    pub since: Timestamp,
}

/// Health, as the seed's `/migration-status` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    /// No dead letters, no secondary failing, every journal readable.
    Healthy,
    /// Some secondary misses keys (dead letters), is failing, or a journal is unreadable.
    Errors,
}

/// One secondary's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SecondaryStatus {
    /// Its name.
    pub name: String,
    /// `blocking` or `non_blocking`.
    pub mode: &'static str,
    /// Keys the journal owes it (the whole fleet's).
    pub pending: u64,
    /// Keys it rejected, parked as dead letters.
    pub dead_letters: u64,
    /// When the oldest key it is owed was recorded.
    pub oldest_pending: Option<Timestamp>,
    /// Whether this process's last copy to it failed and is being retried.
    pub retrying: bool,
}

/// The serialisable status of a passthrough (the seed's `/migration-status`, extended).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatusReport {
    /// `healthy` or `errors`.
    pub status: Health,
    /// The stage of each entity, for a migration passthrough.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub stages: BTreeMap<EntityKind, Stage>,
    /// The generation of each entity's stage (0: never stored).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub stage_generations: BTreeMap<EntityKind, i64>,
    /// Failed attempts at secondaries since start (retried or not).
    pub total_errors: u64,
    /// The same, by entity.
    pub errors_by_entity: BTreeMap<EntityKind, u64>,
    /// Keys the journals owe the secondaries (the whole fleet's).
    pub pending: u64,
    /// Keys parked as dead letters (the whole fleet's).
    pub dead_letters: u64,
    /// The journals' state.
    pub journal: JournalStatus,
    /// Compared reads whose answers differed, since start.
    pub mismatches: u64,
    /// Compared reads, since start.
    pub compared_reads: u64,
    /// Compared reads that differed on a key the journal still owed the
    /// secondary (replication lag, not counted as mismatches).
    pub lagging_reads: u64,
    /// Each secondary.
    pub secondaries: Vec<SecondaryStatus>,
    /// Counters by store, role, entity and method.
    pub operations: Vec<OperationStats>,
    /// The oldest dead letters (at most 20).
    pub dead_letter_sample: Vec<DeadLetter>,
    /// The latest mismatches (at most 20).
    pub recent_mismatches: Vec<Mismatch>,
}

/// What the journals hold, beyond the counts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct JournalStatus {
    /// How long the oldest pending key has waited, in milliseconds.
    pub oldest_pending_age_ms: Option<u64>,
    /// Journals that could not be read (the store is down).
    pub errors: Vec<String>,
}
