//! [`TestStore`]: the adapters under test plus whatever must outlive them.

use std::any::Any;
use std::ops::Deref;

use adapter_interfaces::DataAdapters;

/// The adapters a check runs against, and the guards (a provisioned
/// [`TestDatabase`](crate::provision::TestDatabase), a temp dir, ...) that
/// must stay alive while they are used.
///
/// The adapters are dropped before the guards, so that connection pools let
/// go of a database before it is dropped.
pub struct TestStore {
    // Field order is drop order: adapters first, then the guards.
    adapters: DataAdapters,
    guards: Vec<Box<dyn Any + Send>>,
}

impl TestStore {
    /// A store over `adapters` (which must be fresh and empty).
    pub fn new(adapters: DataAdapters) -> Self {
        Self {
            adapters,
            guards: Vec::new(),
        }
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
