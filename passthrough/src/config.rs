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
    /// The call succeeds; `on_error` runs and the write stays queued for retry.
    Report,
    /// The call fails with [`AdapterError::SecondaryWrite`] (the primary write
    /// is committed); the write stays queued for retry all the same.
    FailCall,
}

/// Whether the caller waits for a secondary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    /// The caller waits for the secondary's first attempt (at most
    /// [`SecondaryOptions::blocking_timeout`]).
    Blocking(OnFailure),
    /// The write is queued; the caller does not wait.
    NonBlocking,
}

/// Retries of a failed replicated write, with exponential backoff.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included, before the write is dead-lettered.
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
/// Every secondary has one ordered queue that carries all its writes, of all
/// entities, in the primary's order; a worker applies them one at a time and
/// retries a failed one (with backoff) before it moves on, so a create is
/// never overtaken by its own update or delete and a child never arrives
/// before its parent.
///
/// **When the queue is full** the caller waits for room (backpressure), at
/// most [`SecondaryOptions::enqueue_timeout`]; after that the write is not
/// queued but parked directly in the dead-letter list, `on_error` runs, and
/// the status turns to `errors`. Nothing is dropped silently: a replay of the
/// dead letter copies the primary's current record.
#[derive(Clone)]
pub struct SecondaryOptions {
    /// Blocking or not.
    pub mode: WriteMode,
    /// Called for each failed attempt.
    pub on_error: Option<OnError>,
    /// Retries and backoff.
    pub retry: RetryPolicy,
    /// Queue capacity (writes).
    pub queue_capacity: usize,
    /// How long a caller waits for room in a full queue.
    pub enqueue_timeout: Duration,
    /// How long a blocking caller waits for the secondary's first attempt;
    /// past it the attempt counts as failed for the caller (the write stays queued).
    pub blocking_timeout: Duration,
}

impl fmt::Debug for SecondaryOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecondaryOptions")
            .field("mode", &self.mode)
            .field("on_error", &self.on_error.as_ref().map(|_| "Fn"))
            .field("retry", &self.retry)
            .field("queue_capacity", &self.queue_capacity)
            .field("enqueue_timeout", &self.enqueue_timeout)
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
    /// A non-blocking secondary with default retries and a queue of 10 000 writes.
    pub fn non_blocking() -> Self {
        Self {
            mode: WriteMode::NonBlocking,
            on_error: None,
            retry: RetryPolicy::default(),
            queue_capacity: 10_000,
            enqueue_timeout: Duration::from_secs(1),
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

    /// Sets the queue capacity (at least 1).
    pub fn queue_capacity(mut self, capacity: usize) -> Self {
        self.queue_capacity = capacity.max(1);
        self
    }

    /// Sets how long a caller waits for room in a full queue.
    pub fn enqueue_timeout(mut self, timeout: Duration) -> Self {
        self.enqueue_timeout = timeout;
        self
    }

    /// Sets how long a blocking caller waits for the first attempt.
    pub fn blocking_timeout(mut self, timeout: Duration) -> Self {
        self.blocking_timeout = timeout;
        self
    }
}

/// How reads are served. The default reads the primary only.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReadPolicy {
    /// On a primary miss (`get` → `None`), ask the secondaries in order.
    /// A secondary is skipped for a key that still has queued or
    /// dead-lettered writes for it (it may hold a removed record).
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
