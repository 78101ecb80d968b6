//! A partial adapter in a few lines: users and applications read-only over
//! another store, no `q` on applications, logs without atomic batches (see
//! `adapter.rs`). Its conformance run is `tests/read_only_adapter.rs`.
//!
//! `cargo run -p switchyard-identity-conformance --example read_only`

#![allow(clippy::expect_used)]

mod adapter;

use adapter_interfaces::{AdapterError, ListParams, TenantInsert, UserInsert};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let inner = adapter_interfaces::memory::adapters();
    let db = adapter::read_only(&inner);
    println!("capabilities: {}", adapter::capabilities());

    // Tenants are delegated: writable through the adapter.
    let tenant = db
        .tenants
        .create(TenantInsert {
            id: Some("acme".into()),
            friendly_name: "Acme".into(),
            ..Default::default()
        })
        .await
        .expect("create a tenant");

    // Users are read-only: written elsewhere (here: the inner store) ...
    let ada = UserInsert {
        email: Some("ada@example.com".into()),
        connection: "db".into(),
        ..Default::default()
    };
    inner
        .users
        .create(&tenant.id, ada.clone())
        .await
        .expect("create a user in the inner store");
    // ... read through the adapter, and refused with a typed error.
    let page = db
        .users
        .list(
            &tenant.id,
            &ListParams::default().with_q("email:ada@example.com"),
        )
        .await
        .expect("list users");
    println!("users found through the adapter: {}", page.items.len());
    match db.users.create(&tenant.id, ada).await {
        Err(e @ AdapterError::NotSupported { .. }) => println!("create a user: {e}"),
        other => panic!("expected NotSupported, got {other:?}"),
    }
}
