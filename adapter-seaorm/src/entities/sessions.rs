//! The `sessions` table.

use sea_orm::entity::prelude::*;

use crate::value::{DbJson, DbTimestamp};

/// A row of `sessions`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "sessions")]
pub struct Model {
    /// The owning tenant; with the record key, the primary key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    /// Column `id`: [`adapter_interfaces::Session`]'s field of that name.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Column `user_id`: [`adapter_interfaces::Session`]'s field of that name.
    pub user_id: String,
    /// Column `login_session_id`: [`adapter_interfaces::Session`]'s field of that name.
    pub login_session_id: Option<String>,
    /// Column `device`: [`adapter_interfaces::Session`]'s field of that name.
    pub device: DbJson,
    /// Column `clients`: [`adapter_interfaces::Session`]'s field of that name.
    pub clients: DbJson,
    /// Column `expires_at`: [`adapter_interfaces::Session`]'s field of that name.
    pub expires_at: Option<DbTimestamp>,
    /// Column `idle_expires_at`: [`adapter_interfaces::Session`]'s field of that name.
    pub idle_expires_at: Option<DbTimestamp>,
    /// Column `authenticated_at`: [`adapter_interfaces::Session`]'s field of that name.
    pub authenticated_at: Option<DbTimestamp>,
    /// Column `last_interaction_at`: [`adapter_interfaces::Session`]'s field of that name.
    pub last_interaction_at: Option<DbTimestamp>,
    /// Column `used_at`: [`adapter_interfaces::Session`]'s field of that name.
    pub used_at: Option<DbTimestamp>,
    /// Column `revoked_at`: [`adapter_interfaces::Session`]'s field of that name.
    pub revoked_at: Option<DbTimestamp>,
    /// Column `created_at`: [`adapter_interfaces::Session`]'s field of that name.
    pub created_at: DbTimestamp,
    /// Column `updated_at`: [`adapter_interfaces::Session`]'s field of that name.
    pub updated_at: DbTimestamp,
}

/// No relations are declared: the foreign keys live in the shared DDL.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
