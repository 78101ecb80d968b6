//! Progress of long runs: a bar per entity on a terminal, plain lines otherwise.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use adapter_interfaces::EntityKind;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Receives the progress of a run, entity by entity.
pub trait Progress: Send + Sync {
    /// An entity starts: `total` records expected (if known), `done` already done before.
    fn begin(&self, kind: EntityKind, total: Option<u64>, done: u64);
    /// `n` more records are done.
    fn advance(&self, kind: EntityKind, n: u64);
    /// The entity is finished; `summary` is a one-line result.
    fn end(&self, kind: EntityKind, summary: &str);
}

/// Reports nothing (tests, `--json`).
#[derive(Debug, Default)]
pub struct Silent;

impl Progress for Silent {
    fn begin(&self, _: EntityKind, _: Option<u64>, _: u64) {}
    fn advance(&self, _: EntityKind, _: u64) {}
    fn end(&self, _: EntityKind, _: &str) {}
}

/// The right reporter for stderr: bars on a terminal, plain lines otherwise.
pub fn for_stderr() -> Box<dyn Progress> {
    if std::io::stderr().is_terminal() {
        Box::new(Bars::default())
    } else {
        Box::new(Lines::default())
    }
}

/// Plain lines on stderr (a file or a pipe): at most one per entity every few
/// seconds while it runs, with its count so far, and one when it ends. Nothing
/// when it starts: a `0/?` line says nothing.
#[derive(Debug, Default)]
pub struct Lines {
    state: Mutex<LineState>,
}

#[derive(Debug, Default)]
struct LineState {
    done: u64,
    total: Option<u64>,
    last: Option<Instant>,
}

const LINE_EVERY: Duration = Duration::from_secs(5);

impl Lines {
    fn state(&self) -> std::sync::MutexGuard<'_, LineState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Progress for Lines {
    fn begin(&self, kind: EntityKind, total: Option<u64>, done: u64) {
        let mut state = self.state();
        let _ = kind;
        *state = LineState {
            done,
            total,
            last: Some(Instant::now()),
        };
    }

    fn advance(&self, kind: EntityKind, n: u64) {
        let mut state = self.state();
        state.done += n;
        if state.last.is_none_or(|last| last.elapsed() >= LINE_EVERY) {
            state.last = Some(Instant::now());
            match state.total {
                Some(total) => eprintln!("{}: {}/{total}", kind.table(), state.done),
                None => eprintln!("{}: {} so far", kind.table(), state.done),
            }
        }
    }

    fn end(&self, kind: EntityKind, summary: &str) {
        eprintln!("{}: {summary}", kind.table());
        let _ = std::io::stderr().flush();
    }
}

/// One indicatif bar per entity on stderr.
#[derive(Debug, Default)]
pub struct Bars {
    bar: Mutex<Option<ProgressBar>>,
}

impl Bars {
    fn bar(&self) -> std::sync::MutexGuard<'_, Option<ProgressBar>> {
        self.bar.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Progress for Bars {
    fn begin(&self, kind: EntityKind, total: Option<u64>, done: u64) {
        let bar = match total {
            Some(total) => ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr())
                .with_style(
                    ProgressStyle::with_template(
                        "{prefix:>13} [{bar:30}] {pos}/{len} {per_sec} eta {eta}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
                ),
            None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()).with_style(
                ProgressStyle::with_template("{prefix:>13} {spinner} {pos} records {per_sec}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            ),
        };
        bar.set_prefix(kind.table());
        bar.set_position(done);
        bar.enable_steady_tick(Duration::from_millis(200));
        *self.bar() = Some(bar);
    }

    fn advance(&self, _kind: EntityKind, n: u64) {
        if let Some(bar) = &*self.bar() {
            bar.inc(n);
        }
    }

    fn end(&self, kind: EntityKind, summary: &str) {
        if let Some(bar) = self.bar().take() {
            bar.finish_and_clear();
        }
        eprintln!("{:>13} {summary}", kind.table());
    }
}
