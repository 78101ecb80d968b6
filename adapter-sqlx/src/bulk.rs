//! The shared batch statements ([`adapter_interfaces::bulk`]) on sqlx: a
//! [`Statement`] rendered into a `QueryBuilder`, every parameter bound as
//! the backend binds a column of its kind.

use adapter_interfaces::bulk::{Part, Statement};
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
