use serde::{Deserialize, Serialize};

use crate::error::{EntityKind, Result};
use crate::patch::nullable;
use crate::record::{
    Column, Record, UniqueKey, canonicalize_json_object, generate_id, record_from_insert,
    validate_id,
};
use crate::timestamp::Timestamp;

use super::{JsonObject, MAX_ID_CHARS};

/// A connection: a source of identities (a database, a social provider, ...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Connection {
    /// Connection id.
    pub id: String,
    /// Name, unique within the tenant.
    pub name: String,
    /// Strategy: `auth0`, `google-oauth2`, `samlp`, ...
    pub strategy: String,
    /// Display name.
    pub display_name: Option<String>,
    /// Strategy options.
    #[serde(default)]
    pub options: JsonObject,
    /// Client ids of the applications that may use it, in order.
    #[serde(default)]
    pub enabled_clients: Vec<String>,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last update time.
    pub updated_at: Timestamp,
}

/// A new connection.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ConnectionInsert {
    /// Connection id; generated (`con_…`) when absent.
    pub id: Option<String>,
    /// Name (required, unique within the tenant).
    pub name: String,
    /// Strategy (required).
    pub strategy: String,
    /// Display name.
    pub display_name: Option<String>,
    /// Strategy options.
    pub options: JsonObject,
    /// Enabled client ids.
    pub enabled_clients: Vec<String>,
    /// Creation time, for exact copies; now when absent.
    pub created_at: Option<Timestamp>,
    /// Update time, for exact copies; `created_at` when absent.
    pub updated_at: Option<Timestamp>,
}

/// Changes to a connection: absent fields stay, `Some(None)` clears.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ConnectionPatch {
    /// New name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// New strategy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strategy: Option<String>,
    /// New display name.
    #[serde(skip_serializing_if = "Option::is_none", with = "nullable")]
    pub display_name: Option<Option<String>>,
    /// New options (replace the whole object).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub options: Option<JsonObject>,
    /// New enabled client ids.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled_clients: Option<Vec<String>>,
}

impl Record for Connection {
    type Insert = ConnectionInsert;
    type Patch = ConnectionPatch;
    const KIND: EntityKind = EntityKind::Connection;
    const COLUMNS: &'static [Column] = &[
        Column::text("id", MAX_ID_CHARS).sort(),
        Column::text("name", 128).non_empty().sort().search(),
        Column::text("strategy", 64).non_empty().sort(),
        Column::text("display_name", 255).nullable().search(),
        Column::json("options"),
        Column::json("enabled_clients"),
        Column::timestamp("created_at").sort(),
        Column::timestamp("updated_at").sort(),
    ];
    const UNIQUE: &'static [UniqueKey] = &[UniqueKey {
        columns: &["name"],
        field: "name",
    }];

    fn key(&self) -> &str {
        &self.id
    }

    fn from_insert(insert: ConnectionInsert, now: Timestamp) -> Result<Self> {
        record_from_insert::<Self>(&insert, |_| format!("con_{}", generate_id()), now)
    }

    fn normalize(&mut self) {
        canonicalize_json_object(&mut self.options);
    }

    fn validate_extra(&self) -> Result<()> {
        validate_id("id", &self.id, MAX_ID_CHARS)
    }
}
