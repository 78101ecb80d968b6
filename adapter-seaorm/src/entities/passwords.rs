//! The `passwords` table.

use sea_orm::entity::prelude::*;

use crate::value::{DbSecret, DbTimestamp};

/// A row of `passwords` (the hash is a [`DbSecret`], redacted from `Debug`).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "passwords")]
pub struct Model {
    /// The owning tenant; with the record key, the primary key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    /// Column `id`: [`adapter_interfaces::Password`]'s field of that name.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Column `user_id`: [`adapter_interfaces::Password`]'s field of that name.
    pub user_id: String,
    /// Column `password`: [`adapter_interfaces::Password`]'s field of that name.
    pub password: DbSecret,
    /// Column `algorithm`: [`adapter_interfaces::Password`]'s field of that name.
    pub algorithm: String,
    /// Column `is_current`: [`adapter_interfaces::Password`]'s field of that name.
    pub is_current: bool,
    /// Column `created_at`: [`adapter_interfaces::Password`]'s field of that name.
    pub created_at: DbTimestamp,
    /// Column `updated_at`: [`adapter_interfaces::Password`]'s field of that name.
    pub updated_at: DbTimestamp,
}

/// No relations are declared: the foreign keys live in the shared DDL.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
