//! The whole suite against the in-memory reference adapter.

async fn fresh_store() -> Option<conformance_tests::TestStore> {
    Some(conformance_tests::TestStore::new(
        adapter_interfaces::memory::adapters(),
    ))
}

conformance_tests::conformance_suite!(fresh_store);
