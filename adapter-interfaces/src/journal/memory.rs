//! The in-memory journal: the journal's contract in one process, for tests
//! and for deployments that accept losing replication with the process.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use super::{
    Backlog, Begun, Claim, EntryFilter, Failure, Fence, JournalEntry, JournalKey, Mark,
    ReplicationJournal, RowId, StageRecord, delay_millis, lease_millis, merged_keys,
};
use crate::error::{AdapterError, Result};
use crate::timestamp::Timestamp;

#[derive(Debug, Clone)]
struct Row {
    key: JournalKey,
    seq: i64,
    pending_writes: u64,
    writes_until: i64,
    claimed_by: Option<String>,
    claim_until: i64,
    attempts: u32,
    next_attempt: i64,
    dead: bool,
    last_error: Option<String>,
    created: i64,
}

impl Row {
    fn new(key: JournalKey, seq: i64, now: i64) -> Self {
        Self {
            key,
            seq,
            pending_writes: 0,
            writes_until: now,
            claimed_by: None,
            claim_until: now,
            attempts: 0,
            next_attempt: now,
            dead: false,
            last_error: None,
            created: now,
        }
    }

    fn claim_free(&self, now: i64) -> bool {
        self.claimed_by.is_none() || self.claim_until < now
    }

    fn writes_done(&self, now: i64) -> bool {
        self.pending_writes == 0 || self.writes_until < now
    }

    fn merge(&mut self, key: &JournalKey) {
        if key.subject.cascades() && !self.key.subject.cascades() {
            self.key = key.clone();
        }
    }

    fn claim(&self) -> Option<Claim> {
        Some(Claim {
            key: self.key.clone(),
            token: self.claimed_by.clone()?,
            seq: self.seq,
            attempts: self.attempts,
            since: stamp(self.created),
        })
    }
}

#[derive(Debug, Default)]
struct State {
    rows: BTreeMap<RowId, Row>,
    stages: HashMap<String, StageRecord>,
}

impl State {
    /// The row of `key` after a change: a new row starts at `seq` 1, an
    /// existing one advances by one (as the database journal counts).
    fn changed(&mut self, key: &JournalKey, now: i64) -> &mut Row {
        let row = self
            .rows
            .entry(key.row_id())
            .and_modify(|row| row.seq += 1)
            .or_insert_with(|| Row::new(key.clone(), 1, now));
        row.merge(key);
        row
    }

    /// Marks a key changed (a lost claim's late copy is copied over again).
    fn mark(&mut self, key: &JournalKey, now: i64) {
        self.changed(key, now);
    }
}

/// The journal in process memory (see [`crate::journal`] for the contract).
#[derive(Debug, Default)]
pub struct MemoryJournal {
    state: Mutex<State>,
}

impl MemoryJournal {
    /// An empty journal.
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> Result<std::sync::MutexGuard<'_, State>> {
        self.state.lock().map_err(|_| AdapterError::Backend {
            message: "the in-memory journal's lock is poisoned".into(),
            source: None,
        })
    }
}

fn now_millis() -> i64 {
    Timestamp::now().as_millis()
}

fn stamp(millis: i64) -> Timestamp {
    Timestamp::from_millis(millis).unwrap_or_else(Timestamp::now)
}

fn after(now: i64, duration: Duration) -> i64 {
    now.saturating_add(lease_millis(duration))
}

#[async_trait::async_trait]
impl ReplicationJournal for MemoryJournal {
    async fn begin(&self, fence: &Fence, keys: &[JournalKey], lease: Duration) -> Result<Begun> {
        let mut state = self.state()?;
        let now = now_millis();
        let stored = state.stages.get(&fence.scope).cloned();
        if stored.as_ref().map_or(0, |s| s.generation) != fence.generation {
            return Ok(Begun::StageMoved(stored));
        }
        if stored.is_none() {
            state.stages.insert(
                fence.scope.clone(),
                StageRecord {
                    scope: fence.scope.clone(),
                    stage: fence.stage.clone(),
                    generation: 0,
                    changed_at: stamp(now),
                },
            );
        }
        let mut marks = Vec::new();
        for key in merged_keys(keys) {
            let row = state.changed(&key, now);
            row.pending_writes = if row.writes_until < now {
                1
            } else {
                row.pending_writes + 1
            };
            row.writes_until = after(now, lease);
            row.dead = false;
            row.attempts = 0;
            row.next_attempt = now;
            marks.push(Mark {
                key: row.key.clone(),
                seq: row.seq,
            });
        }
        Ok(Begun::Recorded(marks))
    }

    async fn finish(
        &self,
        token: &str,
        keys: &[JournalKey],
        lease: Duration,
    ) -> Result<Vec<Claim>> {
        let mut state = self.state()?;
        let now = now_millis();
        let mut claims = Vec::new();
        for key in merged_keys(keys) {
            let row = state.changed(&key, now);
            row.pending_writes = row.pending_writes.saturating_sub(1);
            if row.claim_free(now) {
                row.claimed_by = Some(token.to_owned());
                row.claim_until = after(now, lease);
            }
            if row.claimed_by.as_deref() == Some(token) {
                claims.extend(row.claim());
            }
        }
        Ok(claims)
    }

    async fn finish_copied(
        &self,
        token: &str,
        keys: &[JournalKey],
        copied: &[Mark],
        lease: Duration,
    ) -> Result<Vec<Claim>> {
        let rest: Vec<JournalKey> = {
            let mut state = self.state()?;
            let now = now_millis();
            let mut settled = Vec::new();
            for mark in copied {
                let id = mark.key.row_id();
                let lone = state.rows.get(&id).is_some_and(|row| {
                    row.seq == mark.seq
                        && row.pending_writes == 1
                        && !row.dead
                        && row.claim_free(now)
                });
                if lone {
                    state.rows.remove(&id);
                    settled.push(id);
                }
            }
            keys.iter()
                .filter(|key| !settled.contains(&key.row_id()))
                .cloned()
                .collect()
        };
        self.finish(token, &rest, lease).await
    }

    async fn claim(
        &self,
        token: &str,
        target: &str,
        limit: usize,
        lease: Duration,
    ) -> Result<Vec<Claim>> {
        let mut state = self.state()?;
        let now = now_millis();
        let mut due: Vec<&mut Row> = state
            .rows
            .values_mut()
            .filter(|r| {
                r.key.target == target
                    && !r.dead
                    && r.next_attempt <= now
                    && r.claim_free(now)
                    && r.writes_done(now)
            })
            .collect();
        due.sort_by_key(|r| r.created);
        Ok(due
            .into_iter()
            .take(limit)
            .filter_map(|row| {
                row.claimed_by = Some(token.to_owned());
                row.claim_until = after(now, lease);
                row.claim()
            })
            .collect())
    }

    async fn claim_keys(
        &self,
        token: &str,
        keys: &[JournalKey],
        lease: Duration,
    ) -> Result<Vec<Claim>> {
        let mut state = self.state()?;
        let now = now_millis();
        let mut claims = Vec::new();
        for key in merged_keys(keys) {
            let id = key.row_id();
            if !state.rows.contains_key(&id) {
                state.rows.insert(id.clone(), Row::new(key.clone(), 1, now));
            }
            let Some(row) = state.rows.get_mut(&id) else {
                continue;
            };
            if !row.dead && row.writes_done(now) && row.claim_free(now) {
                row.claimed_by = Some(token.to_owned());
                row.claim_until = after(now, lease);
                claims.extend(row.claim());
            } else if row.claimed_by.as_deref() == Some(token) && !row.claim_free(now) {
                // Already this token's: returned again, its lease unchanged.
                claims.extend(row.claim());
            }
        }
        Ok(claims)
    }

    async fn settle(&self, claim: &Claim) -> Result<bool> {
        let mut state = self.state()?;
        let now = now_millis();
        let id = claim.key.row_id();
        let Some(row) = state.rows.get_mut(&id) else {
            state.mark(&claim.key, now);
            return Ok(false);
        };
        if row.claimed_by.as_deref() != Some(claim.token.as_str()) {
            state.mark(&claim.key, now);
            return Ok(false);
        }
        if row.seq == claim.seq && row.writes_done(now) {
            state.rows.remove(&id);
            return Ok(true);
        }
        row.claimed_by = None;
        Ok(false)
    }

    async fn fail(&self, claim: &Claim, failure: &Failure) -> Result<()> {
        let mut state = self.state()?;
        let now = now_millis();
        match state.rows.get_mut(&claim.key.row_id()) {
            Some(row) if row.claimed_by.as_deref() == Some(claim.token.as_str()) => {
                row.attempts = row.attempts.saturating_add(1);
                row.dead = failure.dead && row.seq == claim.seq;
                row.last_error = Some(failure.error.clone());
                row.next_attempt = now.saturating_add(delay_millis(failure.retry_in));
                row.claimed_by = None;
            }
            _ => state.mark(&claim.key, now),
        }
        Ok(())
    }

    async fn release(&self, claim: &Claim) -> Result<()> {
        let mut state = self.state()?;
        if let Some(row) = state.rows.get_mut(&claim.key.row_id())
            && row.claimed_by.as_deref() == Some(claim.token.as_str())
        {
            row.claimed_by = None;
        }
        Ok(())
    }

    async fn entries(&self, filter: &EntryFilter, limit: usize) -> Result<Vec<JournalEntry>> {
        let state = self.state()?;
        let now = now_millis();
        let mut rows: Vec<&Row> = state
            .rows
            .values()
            .filter(|r| filter.matches(&r.key, r.dead))
            .collect();
        rows.sort_by_key(|r| r.created);
        Ok(rows
            .into_iter()
            .take(limit)
            .map(|r| JournalEntry {
                key: r.key.clone(),
                attempts: r.attempts,
                dead: r.dead,
                last_error: r.last_error.clone(),
                since: stamp(r.created),
                in_flight: !r.writes_done(now),
            })
            .collect())
    }

    async fn revive(&self, filter: &EntryFilter) -> Result<u64> {
        let mut state = self.state()?;
        let now = now_millis();
        let mut count = 0;
        for row in state.rows.values_mut() {
            if row.dead && filter.matches(&row.key, true) {
                row.dead = false;
                row.attempts = 0;
                row.next_attempt = now;
                row.claimed_by = None;
                count += 1;
            }
        }
        Ok(count)
    }

    async fn discard(&self, filter: &EntryFilter) -> Result<u64> {
        let mut state = self.state()?;
        let before = state.rows.len();
        state.rows.retain(|_, r| !filter.matches(&r.key, r.dead));
        Ok((before - state.rows.len()) as u64)
    }

    async fn backlog(&self) -> Result<Vec<Backlog>> {
        let state = self.state()?;
        let mut targets: BTreeMap<String, Backlog> = BTreeMap::new();
        for row in state.rows.values() {
            let entry = targets
                .entry(row.key.target.clone())
                .or_insert_with(|| Backlog {
                    target: row.key.target.clone(),
                    pending: 0,
                    dead: 0,
                    oldest_pending: None,
                });
            if row.dead {
                entry.dead += 1;
            } else {
                entry.pending += 1;
                let since = stamp(row.created);
                entry.oldest_pending = Some(entry.oldest_pending.map_or(since, |o| o.min(since)));
            }
        }
        Ok(targets.into_values().collect())
    }

    async fn stage(&self, scope: &str) -> Result<Option<StageRecord>> {
        Ok(self.state()?.stages.get(scope).cloned())
    }

    async fn set_stage(
        &self,
        scope: &str,
        expected: i64,
        stage: &str,
        generation: i64,
    ) -> Result<bool> {
        let mut state = self.state()?;
        let current = state.stages.get(scope).map_or(0, |s| s.generation);
        if current != expected {
            return Ok(false);
        }
        state.stages.insert(
            scope.to_owned(),
            StageRecord {
                scope: scope.to_owned(),
                stage: stage.to_owned(),
                generation,
                changed_at: Timestamp::now(),
            },
        );
        Ok(true)
    }
}
