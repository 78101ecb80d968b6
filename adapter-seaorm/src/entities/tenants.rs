//! The `tenants` table.

use sea_orm::entity::prelude::*;

use crate::value::DbTimestamp;

/// A row of `tenants`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "tenants")]
pub struct Model {
    /// Column `id`: [`adapter_interfaces::Tenant`]'s field of that name.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Column `friendly_name`: [`adapter_interfaces::Tenant`]'s field of that name.
    pub friendly_name: String,
    /// Column `audience`: [`adapter_interfaces::Tenant`]'s field of that name.
    pub audience: Option<String>,
    /// Column `sender_email`: [`adapter_interfaces::Tenant`]'s field of that name.
    pub sender_email: Option<String>,
    /// Column `sender_name`: [`adapter_interfaces::Tenant`]'s field of that name.
    pub sender_name: Option<String>,
    /// Column `support_url`: [`adapter_interfaces::Tenant`]'s field of that name.
    pub support_url: Option<String>,
    /// Column `session_lifetime`: [`adapter_interfaces::Tenant`]'s field of that name.
    pub session_lifetime: Option<i64>,
    /// Column `created_at`: [`adapter_interfaces::Tenant`]'s field of that name.
    pub created_at: DbTimestamp,
    /// Column `updated_at`: [`adapter_interfaces::Tenant`]'s field of that name.
    pub updated_at: DbTimestamp,
}

/// No relations are declared: the foreign keys live in the shared DDL.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
