//! The `connections` table.

use sea_orm::entity::prelude::*;

use crate::value::{DbJson, DbTimestamp};

/// A row of `connections`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "connections")]
pub struct Model {
    /// The owning tenant; with the record key, the primary key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    /// Column `id`: [`adapter_interfaces::Connection`]'s field of that name.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Column `name`: [`adapter_interfaces::Connection`]'s field of that name.
    pub name: String,
    /// Column `strategy`: [`adapter_interfaces::Connection`]'s field of that name.
    pub strategy: String,
    /// Column `display_name`: [`adapter_interfaces::Connection`]'s field of that name.
    pub display_name: Option<String>,
    /// Column `options`: [`adapter_interfaces::Connection`]'s field of that name.
    pub options: DbJson,
    /// Column `enabled_clients`: [`adapter_interfaces::Connection`]'s field of that name.
    pub enabled_clients: DbJson,
    /// Column `created_at`: [`adapter_interfaces::Connection`]'s field of that name.
    pub created_at: DbTimestamp,
    /// Column `updated_at`: [`adapter_interfaces::Connection`]'s field of that name.
    pub updated_at: DbTimestamp,
}

/// No relations are declared: the foreign keys live in the shared DDL.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
