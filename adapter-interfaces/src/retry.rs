//! Retries of writes that the database aborted for concurrency's sake: a
//! deadlock victim (MySQL 1213, PostgreSQL 40P01), a serialization failure
//! (40001), a lock wait that timed out (MySQL 1205), a busy SQLite database,
//! or a lost race between two inserts of one key in an upsert.
//!
//! The database rolled such a transaction back whole, so running it again
//! is safe and, once the other writer is done, succeeds. Every backend
//! classifies its driver's errors (only it knows their shape) and hands the
//! rest to [`transient`]: one bounded, jittered exponential backoff for the
//! whole workspace, on the [`backon`] crate (`ExponentialBuilder` with
//! jitter, slept on Tokio's timer). Jitter matters: writers that collided
//! once and retried after the same delay would collide again.

use std::fmt::Display;
use std::future::Future;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};

/// Attempts of one write after the first.
pub const MAX_RETRIES: usize = 10;

/// The first delay; each next one doubles, plus up to as much again of jitter.
pub const MIN_DELAY: Duration = Duration::from_millis(2);

/// The longest delay between two attempts (before jitter).
pub const MAX_DELAY: Duration = Duration::from_millis(250);

/// The backoff between attempts: exponential from [`MIN_DELAY`] to
/// [`MAX_DELAY`], jittered, at most [`MAX_RETRIES`] retries (about 1.3 s of
/// waiting before jitter, in all).
pub fn policy() -> ExponentialBuilder {
    ExponentialBuilder::default()
        .with_min_delay(MIN_DELAY)
        .with_max_delay(MAX_DELAY)
        .with_factor(2.0)
        .with_max_times(MAX_RETRIES)
        .with_jitter()
}

/// Runs `attempt` until it succeeds, fails with an error `is_transient`
/// rejects, or the retries of [`policy`] run out (then the last error is
/// returned). `attempt` must be a whole transaction: each call starts from
/// scratch. `what` names the write in the debug log of each retry.
pub async fn transient<T, E, F, Fut>(
    what: &str,
    attempt: F,
    is_transient: impl Fn(&E) -> bool,
) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
    E: Display,
{
    attempt
        .retry(policy())
        .when(|e| is_transient(e))
        .notify(|error, delay| {
            tracing::debug!(write = what, %error, ?delay, "retrying a write the database aborted");
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn retries_transient_errors_only_and_boundedly() {
        let calls = AtomicUsize::new(0);
        let outcome: Result<u32, String> = transient(
            "test",
            || async {
                let n = calls.fetch_add(1, Ordering::SeqCst);
                if n < 3 {
                    Err("deadlock".to_owned())
                } else {
                    Ok(7)
                }
            },
            |e| e == "deadlock",
        )
        .await;
        assert_eq!(outcome, Ok(7));
        assert_eq!(calls.load(Ordering::SeqCst), 4);

        calls.store(0, Ordering::SeqCst);
        let outcome: Result<u32, String> = transient(
            "test",
            || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err("conflict".to_owned())
            },
            |e| e == "deadlock",
        )
        .await;
        assert_eq!(outcome, Err("conflict".to_owned()));
        assert_eq!(
            calls.load(Ordering::SeqCst),
            1,
            "a final error is not retried"
        );

        calls.store(0, Ordering::SeqCst);
        let outcome: Result<u32, String> = transient(
            "test",
            || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err("deadlock".to_owned())
            },
            |e| e == "deadlock",
        )
        .await;
        assert_eq!(outcome, Err("deadlock".to_owned()));
        assert_eq!(
            calls.load(Ordering::SeqCst),
            MAX_RETRIES + 1,
            "retries are bounded"
        );
    }
}
