use serde::{Deserialize, Serialize};

use crate::error::{EntityKind, Result};
use crate::patch::nullable;
use crate::record::{
    Column, ParentRef, Record, canonicalize_json_object, generate_id, record_from_insert,
    validate_id,
};
use crate::timestamp::Timestamp;

use super::{JsonObject, MAX_ID_CHARS};

/// A login session of a user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    /// Session id.
    pub id: String,
    /// The user (must exist in the same tenant; deleting the user deletes the session).
    pub user_id: String,
    /// The login transaction that created it.
    pub login_session_id: Option<String>,
    /// Device information (user agent, IPs, ...).
    #[serde(default)]
    pub device: JsonObject,
    /// Client ids that used the session, in order.
    #[serde(default)]
    pub clients: Vec<String>,
    /// Absolute expiry.
    pub expires_at: Option<Timestamp>,
    /// Idle expiry.
    pub idle_expires_at: Option<Timestamp>,
    /// When the user authenticated.
    pub authenticated_at: Option<Timestamp>,
    /// Last interaction.
    pub last_interaction_at: Option<Timestamp>,
    /// Last use.
    pub used_at: Option<Timestamp>,
    /// Revocation time.
    pub revoked_at: Option<Timestamp>,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last update time.
    pub updated_at: Timestamp,
}

/// A new session.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SessionInsert {
    /// Session id; generated when absent.
    pub id: Option<String>,
    /// The user (required, must exist).
    pub user_id: String,
    /// The login transaction.
    pub login_session_id: Option<String>,
    /// Device information.
    pub device: JsonObject,
    /// Client ids.
    pub clients: Vec<String>,
    /// Absolute expiry.
    pub expires_at: Option<Timestamp>,
    /// Idle expiry.
    pub idle_expires_at: Option<Timestamp>,
    /// When the user authenticated.
    pub authenticated_at: Option<Timestamp>,
    /// Last interaction.
    pub last_interaction_at: Option<Timestamp>,
    /// Last use.
    pub used_at: Option<Timestamp>,
    /// Revocation time.
    pub revoked_at: Option<Timestamp>,
    /// Creation time, for exact copies; now when absent.
    pub created_at: Option<Timestamp>,
    /// Update time, for exact copies; `created_at` when absent.
    pub updated_at: Option<Timestamp>,
}

/// Changes to a session: absent fields stay, `Some(None)` clears.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SessionPatch {
    /// New device information.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device: Option<JsonObject>,
    /// New client ids.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clients: Option<Vec<String>>,
    /// New absolute expiry.
    #[serde(skip_serializing_if = "Option::is_none", with = "nullable")]
    pub expires_at: Option<Option<Timestamp>>,
    /// New idle expiry.
    #[serde(skip_serializing_if = "Option::is_none", with = "nullable")]
    pub idle_expires_at: Option<Option<Timestamp>>,
    /// New last interaction.
    #[serde(skip_serializing_if = "Option::is_none", with = "nullable")]
    pub last_interaction_at: Option<Option<Timestamp>>,
    /// New last use.
    #[serde(skip_serializing_if = "Option::is_none", with = "nullable")]
    pub used_at: Option<Option<Timestamp>>,
    /// New revocation time.
    #[serde(skip_serializing_if = "Option::is_none", with = "nullable")]
    pub revoked_at: Option<Option<Timestamp>>,
}

impl Record for Session {
    type Insert = SessionInsert;
    type Patch = SessionPatch;
    const KIND: EntityKind = EntityKind::Session;
    const COLUMNS: &'static [Column] = &[
        Column::text("id", MAX_ID_CHARS).sort(),
        Column::text("user_id", MAX_ID_CHARS).non_empty().filter(),
        Column::text("login_session_id", MAX_ID_CHARS)
            .nullable()
            .filter(),
        Column::json("device"),
        Column::json("clients"),
        Column::timestamp("expires_at").nullable().sort(),
        Column::timestamp("idle_expires_at").nullable().filter(),
        Column::timestamp("authenticated_at").nullable().filter(),
        Column::timestamp("last_interaction_at").nullable().sort(),
        Column::timestamp("used_at").nullable().filter(),
        Column::timestamp("revoked_at").nullable().filter(),
        Column::timestamp("created_at").sort(),
        Column::timestamp("updated_at").sort(),
    ];
    const PARENT: Option<ParentRef> = Some(ParentRef {
        column: "user_id",
        parent: EntityKind::User,
    });

    fn key(&self) -> &str {
        &self.id
    }

    fn from_insert(insert: SessionInsert, now: Timestamp) -> Result<Self> {
        record_from_insert::<Self>(&insert, |_| generate_id(), now)
    }

    fn normalize(&mut self) {
        canonicalize_json_object(&mut self.device);
    }

    fn validate_extra(&self) -> Result<()> {
        validate_id("id", &self.id, MAX_ID_CHARS)
    }
}
