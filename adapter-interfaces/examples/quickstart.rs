//! A tour of the data model on the in-memory adapter: tenants, users,
//! listing with `q`, sort and keyset pages, codes and password rotation.
//!
//! Run with `cargo run -p switchyard-identity-interfaces --example quickstart`.

use adapter_interfaces::{
    AdapterError, CodeInsert, CodeType, ListParams, PasswordAlgorithm, PasswordInsert, Sort,
    TenantInsert, Timestamp, UserInsert, UserPatch,
};

#[tokio::main]
async fn main() -> Result<(), AdapterError> {
    let db = adapter_interfaces::memory::adapters();

    let tenant = db
        .tenants
        .create(TenantInsert {
            id: Some("acme".into()),
            friendly_name: "Acme Inc.".into(),
            ..Default::default()
        })
        .await?;
    println!("tenant   {} ({})", tenant.id, tenant.friendly_name);

    for (i, name) in [
        "Grace Hopper",
        "Ada Lovelace",
        "Alan Turing",
        "Edsger Dijkstra",
    ]
    .iter()
    .enumerate()
    {
        let email = format!("{}@Example.com", name.split(' ').next().unwrap_or("x"));
        let user = db
            .users
            .create(
                &tenant.id,
                UserInsert {
                    email: Some(email),
                    name: Some((*name).into()),
                    connection: "Username-Password-Authentication".into(),
                    login_count: i as i64,
                    ..Default::default()
                },
            )
            .await?;
        println!(
            "user     {} <{}>",
            user.user_id,
            user.email.as_deref().unwrap_or("")
        );
    }

    // A taken email is a typed conflict, not a string to parse.
    let clash = db
        .users
        .create(
            &tenant.id,
            UserInsert {
                email: Some("ada@example.com".into()),
                connection: "Username-Password-Authentication".into(),
                ..Default::default()
            },
        )
        .await;
    println!(
        "conflict {}",
        clash.expect_err("emails are unique per connection")
    );

    let params = ListParams::default()
        .with_q("login_count:>=1 -name:\"Alan Turing\"")
        .with_sort(Sort::asc("email"))
        .with_totals();
    let page = db.users.list(&tenant.id, &params).await?;
    println!(
        "q        {} of {:?} match: {:?}",
        page.items.len(),
        page.total,
        page.items
            .iter()
            .map(|u| u.email.clone().unwrap_or_default())
            .collect::<Vec<_>>()
    );

    // Keyset scan, two at a time.
    let mut params = ListParams::default()
        .with_per_page(2)
        .with_sort(Sort::desc("created_at"));
    let mut pages = 0;
    loop {
        let page = db.users.list(&tenant.id, &params).await?;
        pages += 1;
        match page.next {
            Some(cursor) => params = params.with_from(cursor),
            None => break,
        }
    }
    println!("keyset   {pages} pages");

    let ada = db
        .users
        .list(
            &tenant.id,
            &ListParams::default().with_q("email:ada@example.com"),
        )
        .await?
        .items
        .remove(0);
    let ada = db
        .users
        .update(
            &tenant.id,
            &ada.user_id,
            UserPatch {
                blocked: Some(true),
                ..Default::default()
            },
        )
        .await?;
    println!(
        "update   blocked={} updated_at={}",
        ada.blocked, ada.updated_at
    );

    let code = db
        .codes
        .create(
            &tenant.id,
            CodeInsert::new(
                CodeType::EmailVerification,
                Timestamp::now().plus_millis(60_000),
            ),
        )
        .await?;
    let first = db.codes.consume(&tenant.id, &code.code_id).await?;
    let second = db.codes.consume(&tenant.id, &code.code_id).await?;
    println!(
        "consume  first={} second={}",
        first.is_some(),
        second.is_some()
    );

    let old = db
        .passwords
        .create(
            &tenant.id,
            PasswordInsert::new(&ada.user_id, "$2b$10$old", PasswordAlgorithm::Bcrypt),
        )
        .await?;
    let new = db
        .passwords
        .create(
            &tenant.id,
            PasswordInsert::new(&ada.user_id, "$2b$10$new", PasswordAlgorithm::Bcrypt),
        )
        .await?;
    let current = db.passwords.get_current(&tenant.id, &ada.user_id).await?;
    println!(
        "password current is the new one: {} (old record: {:?})",
        current.map(|p| p.id) == Some(new.id),
        old.password
    );
    Ok(())
}
