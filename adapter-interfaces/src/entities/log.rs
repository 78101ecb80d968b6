use serde::{Deserialize, Serialize};

use crate::error::{EntityKind, Result};
use crate::patch::NoPatch;
use crate::record::{
    Column, Record, canonicalize_json_object, generate_id, record_from_insert, validate_id,
};
use crate::timestamp::Timestamp;

use super::{JsonObject, MAX_ID_CHARS};

/// An audit log event. Applications only append logs; removing one is for
/// the tools that make a copy agree with its source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Log {
    /// Log id (time-ordered when generated).
    pub log_id: String,
    /// Auth0 event code: `s` (success login), `f` (failed login), `ss` (signup), ...
    #[serde(rename = "type")]
    pub log_type: String,
    /// When it happened.
    pub date: Timestamp,
    /// Human-readable description.
    pub description: Option<String>,
    /// Client IP.
    pub ip: Option<String>,
    /// Client user agent.
    pub user_agent: Option<String>,
    /// The user involved.
    pub user_id: Option<String>,
    /// The user's name or email.
    pub user_name: Option<String>,
    /// The connection involved.
    pub connection: Option<String>,
    /// The application involved.
    pub client_id: Option<String>,
    /// The application's name.
    pub client_name: Option<String>,
    /// Event-specific details.
    #[serde(default)]
    pub details: JsonObject,
}

/// A new log event.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LogInsert {
    /// Log id; generated when absent.
    pub log_id: Option<String>,
    /// Auth0 event code (required).
    #[serde(rename = "type")]
    pub log_type: String,
    /// When it happened; now when absent.
    pub date: Option<Timestamp>,
    /// Description.
    pub description: Option<String>,
    /// Client IP.
    pub ip: Option<String>,
    /// Client user agent.
    pub user_agent: Option<String>,
    /// The user involved.
    pub user_id: Option<String>,
    /// The user's name or email.
    pub user_name: Option<String>,
    /// The connection involved.
    pub connection: Option<String>,
    /// The application involved.
    pub client_id: Option<String>,
    /// The application's name.
    pub client_name: Option<String>,
    /// Event-specific details.
    pub details: JsonObject,
}

impl Record for Log {
    type Insert = LogInsert;
    type Patch = NoPatch;
    const KIND: EntityKind = EntityKind::Log;
    const COLUMNS: &'static [Column] = &[
        Column::text("log_id", MAX_ID_CHARS).sort(),
        Column::text("type", 32).non_empty().filter(),
        Column::timestamp("date").sort(),
        Column::text("description", 2048).nullable().search(),
        Column::text("ip", 64).nullable().filter(),
        Column::text("user_agent", 1024).nullable(),
        Column::text("user_id", MAX_ID_CHARS).nullable().filter(),
        Column::text("user_name", 255).nullable().search(),
        Column::text("connection", 128).nullable().filter(),
        Column::text("client_id", MAX_ID_CHARS).nullable().filter(),
        Column::text("client_name", 255).nullable().filter(),
        Column::json("details"),
    ];

    fn key(&self) -> &str {
        &self.log_id
    }

    fn from_insert(insert: LogInsert, now: Timestamp) -> Result<Self> {
        record_from_insert::<Self>(&insert, |_| generate_id(), now)
    }

    fn normalize(&mut self) {
        canonicalize_json_object(&mut self.details);
    }

    fn validate_extra(&self) -> Result<()> {
        validate_id("log_id", &self.log_id, MAX_ID_CHARS)
    }
}
