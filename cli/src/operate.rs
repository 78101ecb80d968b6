//! The operator's side of a running migration, over its two stores (`--old`,
//! `--new`): the shared stage, the replication journal, the relay.
//!
//! The journal and the stage live in the two stores' own databases (schema
//! version 2, created by `switchyard migrate`): each store's journal holds
//! what the writes it took as primary still owe the other store, and each
//! holds a copy of the stage, fenced by a generation (see the `passthrough`
//! crate docs). So every command here takes just the two store URLs.

use std::sync::Arc;
use std::time::{Duration, Instant};

use adapter_interfaces::journal::{Backlog, EntryFilter, JournalEntry, StageRecord};
use adapter_interfaces::{DataAdapters, Timestamp};
use passthrough::{
    DEFAULT_SCOPE, MigrationController, Passthrough, ReplicationOptions, Side, Stage, StageChange,
};
use serde::Serialize;

use crate::commands::{CommandError, parse};
use crate::store::Store;

/// The two stores of a migration, connected and checked.
pub struct MigrationStores {
    old: Store,
    new: Store,
}

/// Connects to both stores and checks that both have this build's schema
/// (the journal and the stage need version 2: `switchyard migrate` creates them).
pub async fn open(old: &str, new: &str) -> Result<MigrationStores, CommandError> {
    let (old_url, new_url) = (parse(old)?, parse(new)?);
    if old_url.database_url() == new_url.database_url() {
        return Err(CommandError::SameStore(new_url.masked()));
    }
    let old = Store::connect(&old_url, true).await?;
    old.require_schema().await?;
    let new = Store::connect(&new_url, true).await?;
    new.require_schema().await?;
    Ok(MigrationStores { old, new })
}

/// As [`open`], for an application instance (`switchyard traffic`): the new
/// store may be unreachable when it starts, as the old one may be once the
/// new one is primary. The store that is down is opened lazily (on every
/// backend; a SQLite file is never down) and its schema is not checked: writes still
/// go through, and what the store misses waits in the journal.
pub async fn open_for_instance(old: &str, new: &str) -> Result<MigrationStores, CommandError> {
    match open(old, new).await {
        Ok(stores) => Ok(stores),
        Err(CommandError::Store(error))
            if matches!(
                error,
                crate::store::StoreError::Connect { .. } | crate::store::StoreError::Backend { .. }
            ) =>
        {
            tracing::warn!(%error, "a store is unreachable; starting anyway, its copies wait in the journal");
            let (old_url, new_url) = (parse(old)?, parse(new)?);
            let old = match Store::connect(&old_url, true).await {
                Ok(store) => store,
                Err(_) => Store::connect_lazy(&old_url).await?,
            };
            let new = match Store::connect(&new_url, true).await {
                Ok(store) => store,
                Err(_) => Store::connect_lazy(&new_url).await?,
            };
            Ok(MigrationStores { old, new })
        }
        Err(error) => Err(error),
    }
}

impl MigrationStores {
    /// The old store's adapters.
    pub fn old(&self) -> DataAdapters {
        self.old.adapters()
    }

    /// The new store's adapters.
    pub fn new_store(&self) -> DataAdapters {
        self.new.adapters()
    }

    fn journal_of(&self, side: Side) -> Arc<dyn adapter_interfaces::ReplicationJournal> {
        match side {
            Side::Old => self.old.adapters().journal,
            Side::New => self.new.adapters().journal,
        }
    }

    /// A migration passthrough over the two stores and its controller, which
    /// has read the stored stage (if any).
    async fn following(
        &self,
        options: ReplicationOptions,
    ) -> Result<(Passthrough, Arc<MigrationController>), CommandError> {
        let controller = MigrationController::new(Stage::Off);
        let passthrough = Passthrough::migration(self.old(), self.new_store(), controller.clone())
            .options(options)
            .build()
            .map_err(|e| CommandError::Operate(e.to_string()))?;
        controller.refresh().await;
        Ok((passthrough, controller))
    }

    /// A migration passthrough over the two stores, following the stored stage.
    /// Fails when no stage was ever stored (set one first).
    pub async fn passthrough(
        &self,
        options: ReplicationOptions,
    ) -> Result<(Passthrough, Arc<MigrationController>), CommandError> {
        let (passthrough, controller) = self.following(options).await?;
        if controller.generation() == 0 {
            return Err(CommandError::Operate(format!(
                "no migration stage is stored in {} or {} yet: run `switchyard stage set dual-write --old {} --new {}` first",
                self.old.url().masked(),
                self.new.url().masked(),
                self.old.url().masked(),
                self.new.url().masked()
            )));
        }
        Ok((passthrough, controller))
    }
}

/// One store's copy of the stage.
#[derive(Debug, Clone, Serialize)]
pub struct StoredStage {
    /// `old` or `new`.
    pub store: &'static str,
    /// The stored row, if any.
    pub stage: Option<StageRecord>,
    /// Why it could not be read.
    pub error: Option<String>,
}

/// What `switchyard stage show` prints.
#[derive(Debug, Clone, Serialize)]
pub struct StageReport {
    /// The stage in force: the newer of the two copies (`None`: never set).
    pub stage: Option<String>,
    /// Its generation.
    pub generation: i64,
    /// Each store's copy.
    pub stores: Vec<StoredStage>,
}

impl std::fmt::Display for StageReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.stage {
            Some(stage) => writeln!(f, "stage: {stage} (generation {})", self.generation)?,
            None => writeln!(
                f,
                "stage: never set (instances use their configured stage); set it with `switchyard stage set`"
            )?,
        }
        for store in &self.stores {
            match (&store.stage, &store.error) {
                (Some(s), _) => writeln!(
                    f,
                    "  {:<4} {} (generation {}, changed {})",
                    store.store, s.stage, s.generation, s.changed_at
                )?,
                (None, Some(e)) => writeln!(f, "  {:<4} unreadable: {e}", store.store)?,
                (None, None) => writeln!(f, "  {:<4} not set", store.store)?,
            }
        }
        Ok(())
    }
}

/// `switchyard stage show`.
pub async fn stage_show(stores: &MigrationStores) -> StageReport {
    let mut report = StageReport {
        stage: None,
        generation: 0,
        stores: Vec::new(),
    };
    for side in [Side::Old, Side::New] {
        let read = stores.journal_of(side).stage(DEFAULT_SCOPE).await;
        let (stage, error) = match read {
            Ok(stage) => (stage, None),
            Err(e) => (None, Some(e.to_string())),
        };
        if let Some(s) = &stage
            && (report.stage.is_none() || s.generation > report.generation)
        {
            report.stage = Some(s.stage.clone());
            report.generation = s.generation;
        }
        report.stores.push(StoredStage {
            store: side.name(),
            stage,
            error,
        });
    }
    report
}

/// `switchyard stage set`: the fenced switch; `timeout` bounds how long it
/// waits for the store it promotes to catch up.
pub async fn stage_set(
    stores: &MigrationStores,
    stage: Stage,
    timeout: Duration,
    force: bool,
) -> Result<StageChange, CommandError> {
    let options = ReplicationOptions {
        switch_timeout: timeout,
        relay: false,
        ..ReplicationOptions::default()
    };
    // The passthrough drains what the promoted store misses during the switch.
    let (_passthrough, controller) = stores.following(options).await?;
    let change = if force {
        controller.force_stage(stage).await
    } else {
        controller.set_stage(stage).await
    };
    change.map_err(|e| CommandError::Operate(e.to_string()))
}

/// One journal's backlog.
#[derive(Debug, Clone, Serialize)]
pub struct JournalBacklog {
    /// The store whose database holds the journal.
    pub store: &'static str,
    /// What it owes each target.
    pub backlog: Vec<Backlog>,
    /// Why it could not be read.
    pub error: Option<String>,
}

/// A dead letter as the operator sees it (no record values; code ids shortened).
#[derive(Debug, Clone, Serialize)]
pub struct DeadLetterLine {
    /// The store whose journal holds it.
    pub journal: &'static str,
    /// The store that misses it.
    pub target: String,
    /// The subject (`user`, `user_passwords`, …).
    pub subject: &'static str,
    /// The tenant.
    pub tenant_id: String,
    /// The key (code ids shortened).
    pub key: String,
    /// Attempts.
    pub attempts: u32,
    /// The last error.
    pub error: Option<String>,
    /// Since when it is owed.
    pub since: Timestamp,
}

impl DeadLetterLine {
    fn new(journal: &'static str, entry: &JournalEntry) -> Self {
        Self {
            journal,
            target: entry.key.target.clone(),
            subject: entry.key.subject.entity_column(),
            tenant_id: entry.key.tenant_id.clone(),
            key: entry.key.subject.display_key(),
            attempts: entry.attempts,
            error: entry.last_error.clone(),
            since: entry.since,
        }
    }
}

/// What `switchyard journal status` prints.
#[derive(Debug, Clone, Serialize)]
pub struct JournalReport {
    /// The stage.
    pub stage: StageReport,
    /// Each journal.
    pub journals: Vec<JournalBacklog>,
    /// Keys owed in all (dead letters excluded).
    pub pending: u64,
    /// Dead letters in all.
    pub dead: u64,
    /// How long the oldest pending key has waited, in milliseconds.
    pub oldest_pending_age_ms: Option<i64>,
    /// The oldest dead letters.
    pub dead_letters: Vec<DeadLetterLine>,
}

impl std::fmt::Display for JournalReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.stage)?;
        writeln!(
            f,
            "journal: {} keys pending, {} dead letters{}",
            self.pending,
            self.dead,
            self.oldest_pending_age_ms
                .map_or_else(String::new, |ms| format!(
                    ", oldest waiting {:.1} s",
                    ms as f64 / 1000.0
                ))
        )?;
        for journal in &self.journals {
            if let Some(error) = &journal.error {
                writeln!(f, "  in {}: unreadable: {error}", journal.store)?;
            }
            for b in &journal.backlog {
                writeln!(
                    f,
                    "  in {} for {}: {} pending, {} dead",
                    journal.store, b.target, b.pending, b.dead
                )?;
            }
        }
        for d in &self.dead_letters {
            writeln!(
                f,
                "  dead: {} {}/{} for {} after {} attempts: {}",
                d.subject,
                d.tenant_id,
                d.key,
                d.target,
                d.attempts,
                d.error.as_deref().unwrap_or("")
            )?;
        }
        Ok(())
    }
}

/// `switchyard journal status`.
pub async fn journal_status(stores: &MigrationStores, limit: usize) -> JournalReport {
    let stage = stage_show(stores).await;
    let mut report = JournalReport {
        stage,
        journals: Vec::new(),
        pending: 0,
        dead: 0,
        oldest_pending_age_ms: None,
        dead_letters: Vec::new(),
    };
    let now = Timestamp::now().as_millis();
    for side in [Side::Old, Side::New] {
        let journal = stores.journal_of(side);
        match journal.backlog().await {
            Ok(backlog) => {
                for b in &backlog {
                    report.pending += b.pending;
                    report.dead += b.dead;
                    if let Some(oldest) = b.oldest_pending {
                        let age = now - oldest.as_millis();
                        report.oldest_pending_age_ms =
                            Some(report.oldest_pending_age_ms.map_or(age, |a| a.max(age)));
                    }
                }
                report.journals.push(JournalBacklog {
                    store: side.name(),
                    backlog,
                    error: None,
                });
            }
            Err(e) => report.journals.push(JournalBacklog {
                store: side.name(),
                backlog: Vec::new(),
                error: Some(e.to_string()),
            }),
        }
        if let Ok(entries) = journal.entries(&EntryFilter::dead_letters(), limit).await {
            report
                .dead_letters
                .extend(entries.iter().map(|e| DeadLetterLine::new(side.name(), e)));
        }
    }
    report.dead_letters.sort_by_key(|d| d.since);
    report.dead_letters.truncate(limit);
    report
}

/// `switchyard journal replay`: makes the dead letters the filter selects due
/// again (the relay then copies the primary's current state); returns how many.
pub async fn journal_replay(
    stores: &MigrationStores,
    filter: &EntryFilter,
) -> Result<u64, CommandError> {
    let mut count = 0;
    for side in [Side::Old, Side::New] {
        count += stores
            .journal_of(side)
            .revive(filter)
            .await
            .map_err(|e| CommandError::Operate(e.to_string()))?;
    }
    Ok(count)
}

/// `switchyard journal discard`: deletes the rows the filter selects (dead
/// letters only unless the filter says otherwise); returns how many.
pub async fn journal_discard(
    stores: &MigrationStores,
    filter: &EntryFilter,
) -> Result<u64, CommandError> {
    let mut count = 0;
    for side in [Side::Old, Side::New] {
        count += stores
            .journal_of(side)
            .discard(filter)
            .await
            .map_err(|e| CommandError::Operate(e.to_string()))?;
    }
    Ok(count)
}

/// What a relay run did.
#[derive(Debug, Clone, Serialize)]
pub struct RelayReport {
    /// Keys it took and copied (or tried).
    pub copied: u64,
    /// Keys still owed when it stopped.
    pub pending: u64,
    /// Dead letters left.
    pub dead: u64,
    /// How long it ran, in seconds.
    pub seconds: f64,
}

impl std::fmt::Display for RelayReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "relay: {} keys copied in {:.1} s; {} pending, {} dead letters left",
            self.copied, self.seconds, self.pending, self.dead
        )
    }
}

/// `switchyard relay`: drains the journals. With `until_empty` it returns
/// once nothing is pending (dead letters aside), otherwise when `stop` resolves.
pub async fn relay(
    stores: &MigrationStores,
    options: ReplicationOptions,
    until_empty: bool,
    stop: impl std::future::Future<Output = ()>,
) -> Result<RelayReport, CommandError> {
    let options = ReplicationOptions {
        relay: false,
        ..options
    };
    let (passthrough, _controller) = stores.passthrough(options).await?;
    let started = Instant::now();
    let mut copied = 0u64;
    tokio::pin!(stop);
    let mut last_line = Instant::now();
    loop {
        let done = tokio::select! {
            n = passthrough.relay_once() => n,
            () = &mut stop => break,
        };
        copied += done as u64;
        if done == 0 {
            if until_empty {
                let owed = passthrough
                    .owed()
                    .await
                    .map_err(|e| CommandError::Operate(e.to_string()))?;
                if owed.pending == 0 {
                    break;
                }
            }
            tokio::select! {
                () = tokio::time::sleep(options.relay_poll) => {}
                () = &mut stop => break,
            }
        }
        if last_line.elapsed() > Duration::from_secs(5) {
            last_line = Instant::now();
            tracing::info!(copied, "relay running");
        }
    }
    let owed = passthrough
        .owed()
        .await
        .map_err(|e| CommandError::Operate(e.to_string()))?;
    Ok(RelayReport {
        copied,
        pending: owed.pending,
        dead: owed.dead,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Parses a duration: `30s`, `2m`, `500ms`, `1h 30m`, or plain seconds (`30`, `1.5`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if let Ok(seconds) = text.parse::<f64>() {
        if seconds.is_finite() && seconds >= 0.0 {
            return Ok(Duration::from_secs_f64(seconds));
        }
        return Err(format!("`{text}` is not a duration"));
    }
    humantime::parse_duration(text).map_err(|e| {
        format!("`{text}` is not a duration ({e}); use e.g. 30s, 2m, 500ms or plain seconds")
    })
}

#[cfg(test)]
mod tests {
    use super::parse_duration;
    use std::time::Duration;

    #[test]
    fn durations_take_units_or_plain_seconds() {
        assert_eq!(parse_duration("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("-3").is_err());
    }
}
