//! The shared batch statements ([`adapter_interfaces::bulk`]) on sqlx: a
//! [`Statement`] rendered into a `QueryBuilder`, every parameter bound as
//! the backend binds a column of its kind.

use adapter_interfaces::Record;
use adapter_interfaces::bulk::{self, OnKey, Part, Statement};
use sqlx::QueryBuilder;

use crate::backend::Backend;

/// The statement as a query of `DB`.
pub(crate) fn query<DB: Backend>(statement: Statement) -> QueryBuilder<DB> {
    let mut qb = QueryBuilder::new("");
    for part in statement.into_parts() {
        match part {
            Part::Sql(text) => {
                qb.push(text);
            }
            Part::Bind(kind, value) => DB::push_value(&mut qb, kind, &value),
        }
    }
    qb
}

/// PostgreSQL's insert of a whole batch in one parameter ([`bulk::insert_rows`]).
pub(crate) fn insert_rows<DB: Backend, R: Record>(
    tenant: &str,
    records: &[&R],
    upsert: bool,
) -> QueryBuilder<DB> {
    let on_key = if upsert { OnKey::Update } else { OnKey::Fail };
    query(bulk::insert_rows::<R>(tenant, records, on_key))
}
