//! One generic view of the eight entities, so that seed, backfill and verify
//! are written once over [`Entity`] and dispatched per [`EntityKind`].

use std::collections::VecDeque;
use std::sync::Arc;

use adapter_interfaces::{DataAdapters, EntityKind, EntityStore, ListParams, Result};

/// An entity the tools copy, compare and seed: the passthrough's own view
/// of the eight entities (its store in a bundle, its journal subjects, its
/// removal), so that the backfill copies under the same rules as replication.
pub use passthrough::Entity;

/// The scope of tenants themselves (their store ignores the tenant id).
pub const GLOBAL: &str = "";

/// Evaluates `$body` with the type alias `$R` bound to the record type of `$kind`.
#[macro_export]
#[doc(hidden)]
macro_rules! dispatch {
    ($kind:expr, $R:ident => $body:expr) => {{
        use adapter_interfaces::EntityKind as K;
        match $kind {
            K::Tenant => {
                type $R = adapter_interfaces::Tenant;
                $body
            }
            K::User => {
                type $R = adapter_interfaces::User;
                $body
            }
            K::Application => {
                type $R = adapter_interfaces::Application;
                $body
            }
            K::Connection => {
                type $R = adapter_interfaces::Connection;
                $body
            }
            K::Session => {
                type $R = adapter_interfaces::Session;
                $body
            }
            K::Code => {
                type $R = adapter_interfaces::Code;
                $body
            }
            K::Password => {
                type $R = adapter_interfaces::Password;
                $body
            }
            K::Log => {
                type $R = adapter_interfaces::Log;
                $body
            }
        }
    }};
}

/// A keyset scan of one entity in one scope, in key order, one page in memory.
pub struct KeysetScan<R: Entity> {
    store: Arc<R::Store>,
    scope: String,
    per_page: u32,
    buffer: VecDeque<R>,
    /// The cursor of the next page to fetch; `None` once the last page is in.
    next: Option<String>,
    started: bool,
}

impl<R: Entity> KeysetScan<R> {
    /// Starts a scan of `scope` in `db` after `from` (a cursor of a previous page), or at the start.
    pub fn new(db: &DataAdapters, scope: &str, per_page: u32, from: Option<String>) -> Self {
        Self {
            store: R::store(db),
            scope: scope.to_owned(),
            per_page: per_page.clamp(1, adapter_interfaces::list::MAX_PER_PAGE),
            buffer: VecDeque::new(),
            next: from,
            started: false,
        }
    }

    /// Fetches the next page: its records and the cursor after it (`None` at the end).
    /// Returns `None` when the scan is over.
    pub async fn next_page(&mut self) -> Result<Option<(Vec<R>, Option<String>)>> {
        if self.started && self.next.is_none() {
            return Ok(None);
        }
        self.started = true;
        let mut params = ListParams::default().with_per_page(self.per_page);
        params.from = self.next.take();
        let page = self.store.list(&self.scope, &params).await?;
        self.next = page.next.clone();
        Ok(Some((page.items, page.next)))
    }

    /// The next record without consuming it.
    pub async fn peek(&mut self) -> Result<Option<&R>> {
        self.fill().await?;
        Ok(self.buffer.front())
    }

    /// The next record.
    pub async fn pop(&mut self) -> Result<Option<R>> {
        self.fill().await?;
        Ok(self.buffer.pop_front())
    }

    async fn fill(&mut self) -> Result<()> {
        while self.buffer.is_empty() {
            match self.next_page().await? {
                Some((items, _)) => self.buffer.extend(items),
                None => break,
            }
        }
        Ok(())
    }
}

/// Counts the records of one scope (one small query with `include_totals`).
pub async fn count<R: Entity>(db: &DataAdapters, scope: &str) -> Result<u64> {
    let params = ListParams::default().with_per_page(1).with_totals();
    let page = R::store(db).list(scope, &params).await?;
    Ok(page.total.unwrap_or(page.items.len() as u64))
}

/// Whether `kind` is stored per tenant.
pub fn is_scoped(kind: EntityKind) -> bool {
    kind != EntityKind::Tenant
}
