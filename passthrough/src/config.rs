//! How each secondary is written to and how reads are served.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use adapter_interfaces::{AdapterError, EntityKind};

/// What [`SecondaryOptions::on_error`] receives for each failed attempt at a
/// secondary. It never carries the record (which may hold a password hash or
/// a client secret), only where the failure happened.
#[derive(Debug)]
pub struct SecondaryFailure<'a> {
    /// The secondary's name.
    pub secondary: &'a str,
    /// The entity written.
    pub entity: EntityKind,
    /// The method replicated (`create`, `update`, `consume`, `cleanup`, ...).
    pub method: &'static str,
    /// The tenant.
    pub tenant_id: &'a str,
    /// The record's key (codes show only a prefix: a code is a bearer token).
    pub key: &'a str,
    /// What the secondary reported.
    pub error: &'a AdapterError,
    /// Which attempt failed (1 is the first).
    pub attempt: u32,
    /// Whether the write was given up and parked in the dead-letter list.
    pub dead_lettered: bool,
}

/// The error callback: `on_error(failure)`.
pub type OnError = Arc<dyn Fn(&SecondaryFailure<'_>) + Send + Sync>;

/// How a blocking secondary's failure reaches the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnFailure {
    /// The call succeeds; `on_error` runs and the key stays in the journal for retry.
    Report,
    /// The call fails with [`AdapterError::SecondaryWrite`] (the primary write
    /// is committed); the key stays in the journal for retry all the same.
    FailCall,
}

/// Whether the caller waits for a secondary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    /// The caller waits for the secondary's copy (at most
    /// [`SecondaryOptions::blocking_timeout`]).
    Blocking(OnFailure),
    /// The copy runs in the background; the caller does not wait.
    NonBlocking,
}

/// Retries of a failed replicated write, with exponential backoff.
///
/// A **transient** failure (the secondary is unreachable, times out, or
/// reports a backend error) is retried for as long as it takes, never
/// dead-lettered. A **rejection** (the secondary refuses the copy: a unique
/// conflict, invalid input, a missing parent that copying it did not cure)
/// is retried until `max_attempts` attempts failed, then the key becomes a
/// dead letter in the journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included, before a rejected key is dead-lettered.
    pub max_attempts: u32,
    /// Wait after the first failure; doubled after each further one.
    pub initial_backoff: Duration,
    /// The longest wait between two attempts.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_secs(2),
        }
    }
}

impl RetryPolicy {
    /// The wait after failed attempt number `attempt` (1-based).
    pub fn backoff(&self, attempt: u32) -> Duration {
        let factor = 1u32
            .checked_shl(attempt.saturating_sub(1))
            .unwrap_or(u32::MAX);
        self.initial_backoff
            .saturating_mul(factor)
            .min(self.max_backoff)
    }
}

/// How one secondary is written to.
///
/// Every write through the passthrough records the keys it touches in the
/// primary's replication journal before it writes the primary (see
/// [`adapter_interfaces::journal`]); the write is then copied to the
/// secondary by the caller's own process right away (the fast path, at most
/// [`SecondaryOptions::max_in_flight`] copies at once per secondary) or, if
/// that process dies or is busy, by any relay. A copy always brings the key
/// to the primary's *current* state, so copies of one key may run in any
/// order, in any process, any number of times.
#[derive(Clone)]
pub struct SecondaryOptions {
    /// Blocking or not.
    pub mode: WriteMode,
    /// Called for each failed attempt.
    pub on_error: Option<OnError>,
    /// Retries and backoff.
    pub retry: RetryPolicy,
    /// Fast-path copies in flight at most; beyond, keys wait in the journal for a relay.
    pub max_in_flight: usize,
    /// How long a blocking caller waits for the secondary's copy; past it the
    /// copy counts as failed for the caller (the key stays in the journal).
    pub blocking_timeout: Duration,
}

impl fmt::Debug for SecondaryOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecondaryOptions")
            .field("mode", &self.mode)
            .field("on_error", &self.on_error.as_ref().map(|_| "Fn"))
            .field("retry", &self.retry)
            .field("max_in_flight", &self.max_in_flight)
            .field("blocking_timeout", &self.blocking_timeout)
            .finish()
    }
}

impl Default for SecondaryOptions {
    fn default() -> Self {
        Self::non_blocking()
    }
}

impl SecondaryOptions {
    /// A non-blocking secondary with default retries and 256 copies in flight.
    pub fn non_blocking() -> Self {
        Self {
            mode: WriteMode::NonBlocking,
            on_error: None,
            retry: RetryPolicy::default(),
            max_in_flight: 256,
            blocking_timeout: Duration::from_secs(5),
        }
    }

    /// A blocking secondary whose failures are handled as `on_failure` says.
    pub fn blocking(on_failure: OnFailure) -> Self {
        Self {
            mode: WriteMode::Blocking(on_failure),
            ..Self::non_blocking()
        }
    }

    /// Sets the error callback.
    pub fn on_error(
        mut self,
        callback: impl Fn(&SecondaryFailure<'_>) + Send + Sync + 'static,
    ) -> Self {
        self.on_error = Some(Arc::new(callback));
        self
    }

    /// Sets the retry policy.
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Sets how many fast-path copies may be in flight (at least 1).
    pub fn max_in_flight(mut self, copies: usize) -> Self {
        self.max_in_flight = copies.max(1);
        self
    }

    /// Sets how long a blocking caller waits for the copy.
    pub fn blocking_timeout(mut self, timeout: Duration) -> Self {
        self.blocking_timeout = timeout;
        self
    }
}

/// How replication runs, for the whole passthrough.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplicationOptions {
    /// How long a write in flight, or a claim, holds its journal row: a
    /// process that dies holding one delays that key's copy by at most this.
    /// A copy that takes longer than half of it is abandoned (and retried).
    pub lease: Duration,
    /// Whether this process runs a relay in the background (drains the
    /// journal of what other processes left behind). Default on.
    pub relay: bool,
    /// Keys a relay copies at once.
    pub relay_concurrency: usize,
    /// How long an idle relay waits before it looks at the journal again.
    pub relay_poll: Duration,
    /// Compared reads in flight at most; a sampled read beyond it is skipped.
    pub shadow_concurrency: usize,
    /// How long [`crate::Passthrough::flush`] waits.
    pub flush_timeout: Duration,
    /// How often a migration's stage is read from the journal (a switch made
    /// by any instance is followed within this time).
    pub follow_interval: Duration,
    /// How long a stage switch waits for the store it promotes to catch up,
    /// and how long a write waits for a switch in progress.
    pub switch_timeout: Duration,
}

impl Default for ReplicationOptions {
    fn default() -> Self {
        Self {
            lease: Duration::from_secs(30),
            relay: true,
            relay_concurrency: 16,
            relay_poll: Duration::from_millis(200),
            shadow_concurrency: 32,
            flush_timeout: Duration::from_secs(60),
            follow_interval: Duration::from_secs(1),
            switch_timeout: Duration::from_secs(30),
        }
    }
}

/// How reads are served. The default reads the primary only.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReadPolicy {
    /// On a primary miss (`get` → `None`), ask the secondaries in order.
    /// A secondary is skipped for a key that the journal still owes it (it
    /// may hold a removed record).
    pub fallback: bool,
    /// With `fallback`: copy a record found on a secondary into the primary
    /// (and the other secondaries).
    pub read_repair: bool,
    /// Fraction of reads (0 to 1) compared against each secondary. In a
    /// migration passthrough this applies in the `Shadow` and `Live` stages only.
    pub shadow_sample_rate: f64,
}

impl Default for ReadPolicy {
    fn default() -> Self {
        Self {
            fallback: false,
            read_repair: false,
            shadow_sample_rate: 0.0,
        }
    }
}

impl ReadPolicy {
    /// Primary only.
    pub fn primary_only() -> Self {
        Self::default()
    }

    /// Falls back to the secondaries on a primary miss, repairing the primary if asked.
    pub fn with_fallback(mut self, read_repair: bool) -> Self {
        self.fallback = true;
        self.read_repair = read_repair;
        self
    }

    /// Compares this fraction of reads (clamped to 0..=1) against the secondaries.
    pub fn with_shadow_reads(mut self, sample_rate: f64) -> Self {
        self.shadow_sample_rate = if sample_rate.is_nan() {
            0.0
        } else {
            sample_rate.clamp(0.0, 1.0)
        };
        self
    }
}
