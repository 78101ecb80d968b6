use serde::{Deserialize, Serialize};

use crate::error::{AdapterError, EntityKind, Result};
use crate::patch::nullable;
use crate::record::{
    Column, Record, UniqueKey, canonicalize_json_object, generate_id, record_from_insert,
    validate_id,
};
use crate::timestamp::Timestamp;

use super::{JsonObject, MAX_ID_CHARS, MAX_URL_CHARS};

/// A user of a tenant, one per identity (`provider|id`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    /// `provider|id`, e.g. `auth0|64f1…` or `google-oauth2|1234`.
    pub user_id: String,
    /// Email address, stored lowercased.
    pub email: Option<String>,
    /// Whether the email was verified.
    #[serde(default)]
    pub email_verified: bool,
    /// Username (unique within the connection).
    pub username: Option<String>,
    /// Phone number.
    pub phone_number: Option<String>,
    /// Whether the phone number was verified.
    #[serde(default)]
    pub phone_verified: bool,
    /// Full name.
    pub name: Option<String>,
    /// Given name.
    pub given_name: Option<String>,
    /// Family name.
    pub family_name: Option<String>,
    /// Nickname.
    pub nickname: Option<String>,
    /// Picture URL.
    pub picture: Option<String>,
    /// Locale, e.g. `en-GB`.
    pub locale: Option<String>,
    /// Identity provider, e.g. `auth0`, `google-oauth2`.
    pub provider: String,
    /// Connection name, e.g. `Username-Password-Authentication`.
    pub connection: String,
    /// Whether the identity comes from a social provider.
    #[serde(default)]
    pub is_social: bool,
    /// Whether the user is blocked.
    #[serde(default)]
    pub blocked: bool,
    /// The primary user this one is linked to.
    pub linked_to: Option<String>,
    /// IP of the last login.
    pub last_ip: Option<String>,
    /// Time of the last login.
    pub last_login: Option<Timestamp>,
    /// Number of logins.
    #[serde(default)]
    pub login_count: i64,
    /// Metadata the user cannot change.
    #[serde(default)]
    pub app_metadata: JsonObject,
    /// Metadata the user can change.
    #[serde(default)]
    pub user_metadata: JsonObject,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last update time.
    pub updated_at: Timestamp,
}

/// A new user. `connection` is required; `provider` defaults to the prefix of
/// `user_id`, or `auth0`; `user_id` defaults to `provider|<generated>`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct UserInsert {
    /// `provider|id`; generated when absent.
    pub user_id: Option<String>,
    /// Email address (lowercased on write).
    pub email: Option<String>,
    /// Whether the email was verified.
    pub email_verified: bool,
    /// Username.
    pub username: Option<String>,
    /// Phone number.
    pub phone_number: Option<String>,
    /// Whether the phone number was verified.
    pub phone_verified: bool,
    /// Full name.
    pub name: Option<String>,
    /// Given name.
    pub given_name: Option<String>,
    /// Family name.
    pub family_name: Option<String>,
    /// Nickname.
    pub nickname: Option<String>,
    /// Picture URL.
    pub picture: Option<String>,
    /// Locale.
    pub locale: Option<String>,
    /// Identity provider; see the type's docs for the default.
    pub provider: Option<String>,
    /// Connection name (required).
    pub connection: String,
    /// Whether the identity comes from a social provider.
    pub is_social: bool,
    /// Whether the user is blocked.
    pub blocked: bool,
    /// The primary user this one is linked to.
    pub linked_to: Option<String>,
    /// IP of the last login.
    pub last_ip: Option<String>,
    /// Time of the last login.
    pub last_login: Option<Timestamp>,
    /// Number of logins.
    pub login_count: i64,
    /// Metadata the user cannot change.
    pub app_metadata: JsonObject,
    /// Metadata the user can change.
    pub user_metadata: JsonObject,
    /// Creation time, for exact copies; now when absent.
    pub created_at: Option<Timestamp>,
    /// Update time, for exact copies; `created_at` when absent.
    pub updated_at: Option<Timestamp>,
}

/// Changes to a user: absent fields stay, `Some(None)` clears.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct UserPatch {
    /// New email (lowercased).
    #[serde(skip_serializing_if = "Option::is_none", with = "nullable")]
    pub email: Option<Option<String>>,
    /// New email verification flag.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
    /// New username.
    #[serde(skip_serializing_if = "Option::is_none", with = "nullable")]
    pub username: Option<Option<String>>,
    /// New phone number.
    #[serde(skip_serializing_if = "Option::is_none", with = "nullable")]
    pub phone_number: Option<Option<String>>,
    /// New phone verification flag.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone_verified: Option<bool>,
    /// New full name.
    #[serde(skip_serializing_if = "Option::is_none", with = "nullable")]
    pub name: Option<Option<String>>,
    /// New given name.
    #[serde(skip_serializing_if = "Option::is_none", with = "nullable")]
    pub given_name: Option<Option<String>>,
    /// New family name.
    #[serde(skip_serializing_if = "Option::is_none", with = "nullable")]
    pub family_name: Option<Option<String>>,
    /// New nickname.
    #[serde(skip_serializing_if = "Option::is_none", with = "nullable")]
    pub nickname: Option<Option<String>>,
    /// New picture URL.
    #[serde(skip_serializing_if = "Option::is_none", with = "nullable")]
    pub picture: Option<Option<String>>,
    /// New locale.
    #[serde(skip_serializing_if = "Option::is_none", with = "nullable")]
    pub locale: Option<Option<String>>,
    /// New blocked flag.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blocked: Option<bool>,
    /// New link target.
    #[serde(skip_serializing_if = "Option::is_none", with = "nullable")]
    pub linked_to: Option<Option<String>>,
    /// New last-login IP.
    #[serde(skip_serializing_if = "Option::is_none", with = "nullable")]
    pub last_ip: Option<Option<String>>,
    /// New last-login time.
    #[serde(skip_serializing_if = "Option::is_none", with = "nullable")]
    pub last_login: Option<Option<Timestamp>>,
    /// New login count.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub login_count: Option<i64>,
    /// New app metadata (replaces the whole object).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_metadata: Option<JsonObject>,
    /// New user metadata (replaces the whole object).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_metadata: Option<JsonObject>,
}

impl Record for User {
    type Insert = UserInsert;
    type Patch = UserPatch;
    const KIND: EntityKind = EntityKind::User;
    const COLUMNS: &'static [Column] = &[
        Column::text("user_id", MAX_ID_CHARS).sort(),
        Column::text("email", 320)
            .nullable()
            .lowercase()
            .sort()
            .search(),
        Column::bool("email_verified").filter(),
        Column::text("username", 128).nullable().sort().search(),
        Column::text("phone_number", 32).nullable().search(),
        Column::bool("phone_verified").filter(),
        Column::text("name", 255).nullable().sort().search(),
        Column::text("given_name", 255).nullable().filter(),
        Column::text("family_name", 255).nullable().filter(),
        Column::text("nickname", 255).nullable().search(),
        Column::text("picture", MAX_URL_CHARS).nullable(),
        Column::text("locale", 32).nullable().filter(),
        Column::text("provider", 64).non_empty().filter(),
        Column::text("connection", 128).non_empty().filter(),
        Column::bool("is_social").filter(),
        Column::bool("blocked").filter(),
        Column::text("linked_to", MAX_ID_CHARS).nullable().filter(),
        Column::text("last_ip", 64).nullable().filter(),
        Column::timestamp("last_login").nullable().sort(),
        Column::int("login_count").sort(),
        Column::json("app_metadata"),
        Column::json("user_metadata"),
        Column::timestamp("created_at").sort(),
        Column::timestamp("updated_at").sort(),
        // Derived (schema version 3): what `q` compares for these four
        // fields, which match case-insensitively as in Auth0.
        Column::text("name_folded", 255).folds("name"),
        Column::text("given_name_folded", 255).folds("given_name"),
        Column::text("family_name_folded", 255).folds("family_name"),
        Column::text("nickname_folded", 255).folds("nickname"),
    ];
    const UNIQUE: &'static [UniqueKey] = &[
        UniqueKey {
            columns: &["connection", "email"],
            field: "email",
        },
        UniqueKey {
            columns: &["connection", "username"],
            field: "username",
        },
    ];

    fn key(&self) -> &str {
        &self.user_id
    }

    fn from_insert(mut insert: UserInsert, now: Timestamp) -> Result<Self> {
        let provider = insert
            .provider
            .clone()
            .or_else(|| {
                insert
                    .user_id
                    .as_deref()
                    .and_then(|id| id.split_once('|'))
                    .map(|(p, _)| p.into())
            })
            .unwrap_or_else(|| "auth0".into());
        insert.provider = Some(provider.clone());
        record_from_insert::<Self>(&insert, |_| format!("{provider}|{}", generate_id()), now)
    }

    fn normalize(&mut self) {
        canonicalize_json_object(&mut self.app_metadata);
        canonicalize_json_object(&mut self.user_metadata);
        if let Some(email) = &mut self.email {
            *email = email.to_lowercase();
        }
    }

    fn validate_extra(&self) -> Result<()> {
        validate_id("user_id", &self.user_id, MAX_ID_CHARS)?;
        match self.user_id.split_once('|') {
            Some((provider, id)) if !provider.is_empty() && !id.is_empty() => {}
            _ => {
                return Err(AdapterError::invalid(
                    "user_id",
                    "must have the form `provider|id`, e.g. `auth0|123`",
                ));
            }
        }
        if let Some(email) = &self.email {
            validate_email(email)?;
        }
        Ok(())
    }
}

/// A deliberately simple email check: one `@`, a non-empty local part, a
/// domain with a dot, no whitespace.
pub fn validate_email(email: &str) -> Result<()> {
    let valid = match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        }
        None => false,
    };
    if valid {
        Ok(())
    } else {
        Err(AdapterError::invalid(
            "email",
            "is not a valid email address",
        ))
    }
}
