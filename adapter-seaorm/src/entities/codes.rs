//! The `codes` table.

use sea_orm::entity::prelude::*;

use crate::value::DbTimestamp;

/// A row of `codes`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "codes")]
pub struct Model {
    /// The owning tenant; with the record key, the primary key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    /// Column `code_id`: [`adapter_interfaces::Code`]'s field of that name.
    #[sea_orm(primary_key, auto_increment = false)]
    pub code_id: String,
    /// Column `code_type`: [`adapter_interfaces::Code`]'s field of that name.
    pub code_type: String,
    /// Column `login_id`: [`adapter_interfaces::Code`]'s field of that name.
    pub login_id: Option<String>,
    /// Column `user_id`: [`adapter_interfaces::Code`]'s field of that name.
    pub user_id: Option<String>,
    /// Column `expires_at`: [`adapter_interfaces::Code`]'s field of that name.
    pub expires_at: DbTimestamp,
    /// Column `used_at`: [`adapter_interfaces::Code`]'s field of that name.
    pub used_at: Option<DbTimestamp>,
    /// Column `redirect_uri`: [`adapter_interfaces::Code`]'s field of that name.
    pub redirect_uri: Option<String>,
    /// Column `code_challenge`: [`adapter_interfaces::Code`]'s field of that name.
    pub code_challenge: Option<String>,
    /// Column `code_challenge_method`: [`adapter_interfaces::Code`]'s field of that name.
    pub code_challenge_method: Option<String>,
    /// Column `state`: [`adapter_interfaces::Code`]'s field of that name.
    pub state: Option<String>,
    /// Column `nonce`: [`adapter_interfaces::Code`]'s field of that name.
    pub nonce: Option<String>,
    /// Column `created_at`: [`adapter_interfaces::Code`]'s field of that name.
    pub created_at: DbTimestamp,
}

/// No relations are declared: the foreign keys live in the shared DDL.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
