use serde::{Deserialize, Serialize};

use crate::error::{AdapterError, EntityKind, Result};
use crate::patch::nullable;
use crate::record::{Column, Record, generate_id, record_from_insert};
use crate::timestamp::Timestamp;

use super::{MAX_TENANT_ID_CHARS, MAX_URL_CHARS};

/// A tenant: the unit of isolation that owns every other record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tenant {
    /// Tenant id: 1 to 64 characters of `A-Z a-z 0-9 _ -`.
    pub id: String,
    /// Display name (required).
    pub friendly_name: String,
    /// Default API audience.
    pub audience: Option<String>,
    /// From-address of emails.
    pub sender_email: Option<String>,
    /// From-name of emails.
    pub sender_name: Option<String>,
    /// Support page URL.
    pub support_url: Option<String>,
    /// Session lifetime in seconds.
    pub session_lifetime: Option<i64>,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last update time.
    pub updated_at: Timestamp,
}

/// A new tenant.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TenantInsert {
    /// Tenant id; generated when absent.
    pub id: Option<String>,
    /// Display name (required).
    pub friendly_name: String,
    /// Default API audience.
    pub audience: Option<String>,
    /// From-address of emails.
    pub sender_email: Option<String>,
    /// From-name of emails.
    pub sender_name: Option<String>,
    /// Support page URL.
    pub support_url: Option<String>,
    /// Session lifetime in seconds.
    pub session_lifetime: Option<i64>,
    /// Creation time, for exact copies; now when absent.
    pub created_at: Option<Timestamp>,
    /// Update time, for exact copies; `created_at` when absent.
    pub updated_at: Option<Timestamp>,
}

/// Changes to a tenant: absent fields stay, `Some(None)` clears.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TenantPatch {
    /// New display name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub friendly_name: Option<String>,
    /// New audience.
    #[serde(skip_serializing_if = "Option::is_none", with = "nullable")]
    pub audience: Option<Option<String>>,
    /// New sender email.
    #[serde(skip_serializing_if = "Option::is_none", with = "nullable")]
    pub sender_email: Option<Option<String>>,
    /// New sender name.
    #[serde(skip_serializing_if = "Option::is_none", with = "nullable")]
    pub sender_name: Option<Option<String>>,
    /// New support URL.
    #[serde(skip_serializing_if = "Option::is_none", with = "nullable")]
    pub support_url: Option<Option<String>>,
    /// New session lifetime.
    #[serde(skip_serializing_if = "Option::is_none", with = "nullable")]
    pub session_lifetime: Option<Option<i64>>,
}

impl Record for Tenant {
    type Insert = TenantInsert;
    type Patch = TenantPatch;
    const KIND: EntityKind = EntityKind::Tenant;
    const COLUMNS: &'static [Column] = &[
        Column::text("id", MAX_TENANT_ID_CHARS).sort(),
        Column::text("friendly_name", 255)
            .non_empty()
            .sort()
            .search(),
        Column::text("audience", MAX_URL_CHARS).nullable().filter(),
        Column::text("sender_email", 320).nullable().filter(),
        Column::text("sender_name", 255).nullable(),
        Column::text("support_url", MAX_URL_CHARS).nullable(),
        Column::int("session_lifetime").nullable().filter(),
        Column::timestamp("created_at").sort(),
        Column::timestamp("updated_at").sort(),
    ];

    fn key(&self) -> &str {
        &self.id
    }

    fn from_insert(insert: TenantInsert, now: Timestamp) -> Result<Self> {
        record_from_insert::<Self>(&insert, |_| generate_id(), now)
    }

    fn validate_extra(&self) -> Result<()> {
        validate_tenant_id("id", &self.id)
    }
}

/// Checks a tenant id: 1 to 64 characters of `A-Z a-z 0-9 _ -`.
pub fn validate_tenant_id(field: &str, id: &str) -> Result<()> {
    if id.is_empty() || id.len() > MAX_TENANT_ID_CHARS {
        return Err(AdapterError::invalid(
            field,
            format!("must be 1 to {MAX_TENANT_ID_CHARS} characters long"),
        ));
    }
    if !id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(AdapterError::invalid(
            field,
            "may contain only letters, digits, `_` and `-`",
        ));
    }
    Ok(())
}
