use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{EntityKind, Result};
use crate::patch::nullable;
use crate::record::{Column, Record, generate_id, record_from_insert, validate_id};
use crate::secret::Secret;
use crate::timestamp::Timestamp;

use super::MAX_ID_CHARS;

/// An application (an OAuth client).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Application {
    /// Client id.
    pub client_id: String,
    /// Display name (required).
    pub name: String,
    /// Client secret (redacted from `Debug`).
    pub client_secret: Option<Secret>,
    /// `spa`, `native`, `regular_web`, `non_interactive`, ...
    pub app_type: Option<String>,
    /// Allowed callback URLs, in order.
    #[serde(default)]
    pub callbacks: Vec<String>,
    /// Allowed CORS origins.
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    /// Allowed web origins.
    #[serde(default)]
    pub web_origins: Vec<String>,
    /// Allowed logout URLs.
    #[serde(default)]
    pub allowed_logout_urls: Vec<String>,
    /// Allowed grant types.
    #[serde(default)]
    pub grant_types: Vec<String>,
    /// Whether the application is first party.
    #[serde(default)]
    pub is_first_party: bool,
    /// String metadata.
    #[serde(default)]
    pub client_metadata: BTreeMap<String, String>,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last update time.
    pub updated_at: Timestamp,
}

/// A new application.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ApplicationInsert {
    /// Client id; generated when absent.
    pub client_id: Option<String>,
    /// Display name (required).
    pub name: String,
    /// Client secret.
    pub client_secret: Option<Secret>,
    /// Application type.
    pub app_type: Option<String>,
    /// Allowed callback URLs.
    pub callbacks: Vec<String>,
    /// Allowed CORS origins.
    pub allowed_origins: Vec<String>,
    /// Allowed web origins.
    pub web_origins: Vec<String>,
    /// Allowed logout URLs.
    pub allowed_logout_urls: Vec<String>,
    /// Allowed grant types.
    pub grant_types: Vec<String>,
    /// Whether the application is first party.
    pub is_first_party: bool,
    /// String metadata.
    pub client_metadata: BTreeMap<String, String>,
    /// Creation time, for exact copies; now when absent.
    pub created_at: Option<Timestamp>,
    /// Update time, for exact copies; `created_at` when absent.
    pub updated_at: Option<Timestamp>,
}

/// Changes to an application: absent fields stay, `Some(None)` clears.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ApplicationPatch {
    /// New name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// New client secret.
    #[serde(skip_serializing_if = "Option::is_none", with = "nullable")]
    pub client_secret: Option<Option<Secret>>,
    /// New application type.
    #[serde(skip_serializing_if = "Option::is_none", with = "nullable")]
    pub app_type: Option<Option<String>>,
    /// New callback URLs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub callbacks: Option<Vec<String>>,
    /// New CORS origins.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_origins: Option<Vec<String>>,
    /// New web origins.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub web_origins: Option<Vec<String>>,
    /// New logout URLs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_logout_urls: Option<Vec<String>>,
    /// New grant types.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grant_types: Option<Vec<String>>,
    /// New first-party flag.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_first_party: Option<bool>,
    /// New metadata (replaces the whole map).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_metadata: Option<BTreeMap<String, String>>,
}

impl Record for Application {
    type Insert = ApplicationInsert;
    type Patch = ApplicationPatch;
    const KIND: EntityKind = EntityKind::Application;
    const COLUMNS: &'static [Column] = &[
        Column::text("client_id", MAX_ID_CHARS).sort(),
        Column::text("name", 255).non_empty().sort().search(),
        Column::text("client_secret", 1024).nullable().secret(),
        Column::text("app_type", 32).nullable().filter(),
        Column::json("callbacks"),
        Column::json("allowed_origins"),
        Column::json("web_origins"),
        Column::json("allowed_logout_urls"),
        Column::json("grant_types"),
        Column::bool("is_first_party").filter(),
        Column::json("client_metadata"),
        Column::timestamp("created_at").sort(),
        Column::timestamp("updated_at").sort(),
    ];

    fn key(&self) -> &str {
        &self.client_id
    }

    fn from_insert(insert: ApplicationInsert, now: Timestamp) -> Result<Self> {
        record_from_insert::<Self>(&insert, |_| generate_id(), now)
    }

    fn validate_extra(&self) -> Result<()> {
        validate_id("client_id", &self.client_id, MAX_ID_CHARS)
    }
}
