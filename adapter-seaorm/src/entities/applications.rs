//! The `applications` table.

use sea_orm::entity::prelude::*;

use crate::value::{DbJson, DbSecret, DbTimestamp};

/// A row of `applications`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "applications")]
pub struct Model {
    /// The owning tenant; with the record key, the primary key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    /// Column `client_id`: [`adapter_interfaces::Application`]'s field of that name.
    #[sea_orm(primary_key, auto_increment = false)]
    pub client_id: String,
    /// Column `name`: [`adapter_interfaces::Application`]'s field of that name.
    pub name: String,
    /// Column `client_secret`: [`adapter_interfaces::Application`]'s field of that name.
    pub client_secret: Option<DbSecret>,
    /// Column `app_type`: [`adapter_interfaces::Application`]'s field of that name.
    pub app_type: Option<String>,
    /// Column `callbacks`: [`adapter_interfaces::Application`]'s field of that name.
    pub callbacks: DbJson,
    /// Column `allowed_origins`: [`adapter_interfaces::Application`]'s field of that name.
    pub allowed_origins: DbJson,
    /// Column `web_origins`: [`adapter_interfaces::Application`]'s field of that name.
    pub web_origins: DbJson,
    /// Column `allowed_logout_urls`: [`adapter_interfaces::Application`]'s field of that name.
    pub allowed_logout_urls: DbJson,
    /// Column `grant_types`: [`adapter_interfaces::Application`]'s field of that name.
    pub grant_types: DbJson,
    /// Column `is_first_party`: [`adapter_interfaces::Application`]'s field of that name.
    pub is_first_party: bool,
    /// Column `client_metadata`: [`adapter_interfaces::Application`]'s field of that name.
    pub client_metadata: DbJson,
    /// Column `created_at`: [`adapter_interfaces::Application`]'s field of that name.
    pub created_at: DbTimestamp,
    /// Column `updated_at`: [`adapter_interfaces::Application`]'s field of that name.
    pub updated_at: DbTimestamp,
}

/// No relations are declared: the foreign keys live in the shared DDL.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
