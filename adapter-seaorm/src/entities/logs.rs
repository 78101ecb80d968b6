//! The `logs` table.

use sea_orm::entity::prelude::*;

use crate::value::{DbJson, DbTimestamp};

/// A row of `logs`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "logs")]
pub struct Model {
    /// The owning tenant; with the record key, the primary key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    /// Column `log_id`: [`adapter_interfaces::Log`]'s field of that name.
    #[sea_orm(primary_key, auto_increment = false)]
    pub log_id: String,
    /// The Auth0 event code (column `type`).
    #[sea_orm(column_name = "type")]
    pub log_type: String,
    /// Column `date`: [`adapter_interfaces::Log`]'s field of that name.
    pub date: DbTimestamp,
    /// Column `description`: [`adapter_interfaces::Log`]'s field of that name.
    pub description: Option<String>,
    /// Column `ip`: [`adapter_interfaces::Log`]'s field of that name.
    pub ip: Option<String>,
    /// Column `user_agent`: [`adapter_interfaces::Log`]'s field of that name.
    pub user_agent: Option<String>,
    /// Column `user_id`: [`adapter_interfaces::Log`]'s field of that name.
    pub user_id: Option<String>,
    /// Column `user_name`: [`adapter_interfaces::Log`]'s field of that name.
    pub user_name: Option<String>,
    /// Column `connection`: [`adapter_interfaces::Log`]'s field of that name.
    pub connection: Option<String>,
    /// Column `client_id`: [`adapter_interfaces::Log`]'s field of that name.
    pub client_id: Option<String>,
    /// Column `client_name`: [`adapter_interfaces::Log`]'s field of that name.
    pub client_name: Option<String>,
    /// Column `details`: [`adapter_interfaces::Log`]'s field of that name.
    pub details: DbJson,
}

/// No relations are declared: the foreign keys live in the shared DDL.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
