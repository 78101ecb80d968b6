//! [`TestStore`]: the adapters under test plus whatever must outlive them.

use std::any::Any;
use std::ops::Deref;

use adapter_interfaces::{Capabilities, DataAdapters, EntityKind};

/// The adapters a check runs against, and the guards (a provisioned
/// [`TestDatabase`](crate::provision::TestDatabase), a temp dir, ...) that
/// must stay alive while they are used.
///
/// A partial adapter also gives its [`Capabilities`] (the suite skips what
/// they exclude, see [`crate::capabilities`]) and, when it has read-only
/// entities, the writable store it reads from ([`TestStore::with_seed_store`]),
/// through which the checks write what they then read back.
///
/// The adapters are dropped before the guards, so that connection pools let
/// go of a database before it is dropped.
pub struct TestStore {
    // Field order is drop order: adapters first, then the guards.
    adapters: DataAdapters,
    harness: DataAdapters,
    seed: Option<DataAdapters>,
    capabilities: Capabilities,
    guards: Vec<Box<dyn Any + Send>>,
}

impl TestStore {
    /// A store over `adapters` (which must be fresh and empty), supporting
    /// everything.
    pub fn new(adapters: DataAdapters) -> Self {
        Self {
            harness: adapters.clone(),
            adapters,
            seed: None,
            capabilities: Capabilities::default(),
            guards: Vec::new(),
        }
    }

    /// Declares what the adapters support; the default is everything.
    pub fn with_capabilities(mut self, capabilities: Capabilities) -> Self {
        self.capabilities = capabilities;
        self.rebuild_harness();
        self
    }

    /// The writable store that the adapters' read-only entities read from
    /// (for an adapter that wraps another store): the checks and the model
    /// tests write those entities through it, and read them back through
    /// the adapters under test. Without one, every check that needs records
    /// of a read-only entity is skipped.
    pub fn with_seed_store(mut self, seed: DataAdapters) -> Self {
        self.seed = Some(seed);
        self.rebuild_harness();
        self
    }

    fn rebuild_harness(&mut self) {
        self.harness = match &self.seed {
            Some(seed) if !self.read_only().is_empty() => {
                seeded(&self.adapters, seed, &self.capabilities)
            }
            _ => self.adapters.clone(),
        };
    }

    /// The declared capabilities.
    pub fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }

    /// The writable store behind the read-only entities, if one was given.
    pub fn seed_store(&self) -> Option<&DataAdapters> {
        self.seed.as_ref()
    }

    /// The entities the capabilities declare read-only.
    pub fn read_only(&self) -> Vec<EntityKind> {
        EntityKind::ALL
            .into_iter()
            .filter(|e| !self.capabilities.is_writable(*e))
            .collect()
    }

    /// What the checks run against: the adapters under test, except that
    /// writes of read-only entities go to the seed store (when there is
    /// one); every read goes to the adapters under test.
    pub fn harness(&self) -> &DataAdapters {
        &self.harness
    }

    /// Keeps `guard` alive as long as the store; guards drop after the
    /// adapters, in the order they were added.
    pub fn with_guard(mut self, guard: impl Any + Send) -> Self {
        self.guards.push(Box::new(guard));
        self
    }

    /// The adapters under test.
    pub fn adapters(&self) -> &DataAdapters {
        &self.adapters
    }
}

impl Deref for TestStore {
    type Target = DataAdapters;

    fn deref(&self) -> &DataAdapters {
        &self.adapters
    }
}

impl From<DataAdapters> for TestStore {
    fn from(adapters: DataAdapters) -> Self {
        Self::new(adapters)
    }
}

impl std::fmt::Debug for TestStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestStore")
            .field("guards", &self.guards.len())
            .finish_non_exhaustive()
    }
}

/// `adapters` with the writes of its read-only entities sent to `seed`.
fn seeded(
    adapters: &DataAdapters,
    seed: &DataAdapters,
    capabilities: &Capabilities,
) -> DataAdapters {
    // `split` sends every write to `seed` and every read to `adapters`; the
    // writable entities then get the adapters' own stores back.
    let mut harness = crate::model::split(seed, adapters);
    let writable = |entity| capabilities.is_writable(entity);
    if writable(EntityKind::Tenant) {
        harness.tenants = adapters.tenants.clone();
    }
    if writable(EntityKind::User) {
        harness.users = adapters.users.clone();
    }
    if writable(EntityKind::Application) {
        harness.applications = adapters.applications.clone();
    }
    if writable(EntityKind::Connection) {
        harness.connections = adapters.connections.clone();
    }
    if writable(EntityKind::Session) {
        harness.sessions = adapters.sessions.clone();
    }
    if writable(EntityKind::Code) {
        harness.codes = adapters.codes.clone();
    }
    if writable(EntityKind::Password) {
        harness.passwords = adapters.passwords.clone();
    }
    if writable(EntityKind::Log) {
        harness.logs = adapters.logs.clone();
    }
    harness.journal = adapters.journal.clone();
    harness
}
