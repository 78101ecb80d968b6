//! The `users` table.

use sea_orm::entity::prelude::*;

use crate::value::{DbJson, DbTimestamp};

/// A row of `users`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    /// The owning tenant; with the record key, the primary key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    /// Column `user_id`: [`adapter_interfaces::User`]'s field of that name.
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: String,
    /// Column `email`: [`adapter_interfaces::User`]'s field of that name.
    pub email: Option<String>,
    /// Column `email_verified`: [`adapter_interfaces::User`]'s field of that name.
    pub email_verified: bool,
    /// Column `username`: [`adapter_interfaces::User`]'s field of that name.
    pub username: Option<String>,
    /// Column `phone_number`: [`adapter_interfaces::User`]'s field of that name.
    pub phone_number: Option<String>,
    /// Column `phone_verified`: [`adapter_interfaces::User`]'s field of that name.
    pub phone_verified: bool,
    /// Column `name`: [`adapter_interfaces::User`]'s field of that name.
    pub name: Option<String>,
    /// Column `given_name`: [`adapter_interfaces::User`]'s field of that name.
    pub given_name: Option<String>,
    /// Column `family_name`: [`adapter_interfaces::User`]'s field of that name.
    pub family_name: Option<String>,
    /// Column `nickname`: [`adapter_interfaces::User`]'s field of that name.
    pub nickname: Option<String>,
    /// Column `picture`: [`adapter_interfaces::User`]'s field of that name.
    pub picture: Option<String>,
    /// Column `locale`: [`adapter_interfaces::User`]'s field of that name.
    pub locale: Option<String>,
    /// Column `provider`: [`adapter_interfaces::User`]'s field of that name.
    pub provider: String,
    /// Column `connection`: [`adapter_interfaces::User`]'s field of that name.
    pub connection: String,
    /// Column `is_social`: [`adapter_interfaces::User`]'s field of that name.
    pub is_social: bool,
    /// Column `blocked`: [`adapter_interfaces::User`]'s field of that name.
    pub blocked: bool,
    /// Column `linked_to`: [`adapter_interfaces::User`]'s field of that name.
    pub linked_to: Option<String>,
    /// Column `last_ip`: [`adapter_interfaces::User`]'s field of that name.
    pub last_ip: Option<String>,
    /// Column `last_login`: [`adapter_interfaces::User`]'s field of that name.
    pub last_login: Option<DbTimestamp>,
    /// Column `login_count`: [`adapter_interfaces::User`]'s field of that name.
    pub login_count: i64,
    /// Column `app_metadata`: [`adapter_interfaces::User`]'s field of that name.
    pub app_metadata: DbJson,
    /// Column `user_metadata`: [`adapter_interfaces::User`]'s field of that name.
    pub user_metadata: DbJson,
    /// Column `created_at`: [`adapter_interfaces::User`]'s field of that name.
    pub created_at: DbTimestamp,
    /// Column `updated_at`: [`adapter_interfaces::User`]'s field of that name.
    pub updated_at: DbTimestamp,
    /// Column `name_folded`: `name` ASCII-folded, derived when written (schema v3).
    pub name_folded: Option<String>,
    /// Column `given_name_folded`: `given_name` ASCII-folded, derived when written.
    pub given_name_folded: Option<String>,
    /// Column `family_name_folded`: `family_name` ASCII-folded, derived when written.
    pub family_name_folded: Option<String>,
    /// Column `nickname_folded`: `nickname` ASCII-folded, derived when written.
    pub nickname_folded: Option<String>,
}

/// No relations are declared: the foreign keys live in the shared DDL.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
