use serde::{Deserialize, Serialize};

use crate::error::{EntityKind, Result};
use crate::patch::NoPatch;
use crate::record::{Column, ParentRef, Record, generate_id, record_from_insert, validate_id};
use crate::secret::Secret;
use crate::timestamp::Timestamp;

use super::MAX_ID_CHARS;

/// The hash algorithm of a [`Password`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PasswordAlgorithm {
    /// bcrypt.
    Bcrypt,
    /// Argon2id.
    Argon2id,
}

/// A password hash of a user. At most one per user is current: creating a
/// current one demotes the others atomically, and the demoted records get
/// the new record's `updated_at` (so that replicas stay identical).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Password {
    /// Password record id.
    pub id: String,
    /// The user (must exist; deleting the user deletes its passwords).
    pub user_id: String,
    /// The hash (redacted from `Debug`).
    pub password: Secret,
    /// The hash algorithm.
    pub algorithm: PasswordAlgorithm,
    /// Whether this is the user's current password.
    pub is_current: bool,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last update time.
    pub updated_at: Timestamp,
}

/// A new password hash; current unless `is_current` is `false`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PasswordInsert {
    /// Record id; generated when absent.
    #[serde(default)]
    pub id: Option<String>,
    /// The user (required, must exist).
    pub user_id: String,
    /// The hash (required).
    pub password: Secret,
    /// The hash algorithm.
    pub algorithm: PasswordAlgorithm,
    /// Whether it becomes the current password (default `true`).
    #[serde(default = "default_true")]
    pub is_current: bool,
    /// Creation time, for exact copies; now when absent.
    #[serde(default)]
    pub created_at: Option<Timestamp>,
    /// Update time, for exact copies; `created_at` when absent.
    #[serde(default)]
    pub updated_at: Option<Timestamp>,
}

fn default_true() -> bool {
    true
}

impl PasswordInsert {
    /// A new current password hash for `user_id`.
    pub fn new(
        user_id: impl Into<String>,
        hash: impl Into<Secret>,
        algorithm: PasswordAlgorithm,
    ) -> Self {
        Self {
            id: None,
            user_id: user_id.into(),
            password: hash.into(),
            algorithm,
            is_current: true,
            created_at: None,
            updated_at: None,
        }
    }
}

impl Record for Password {
    type Insert = PasswordInsert;
    type Patch = NoPatch;
    const KIND: EntityKind = EntityKind::Password;
    const COLUMNS: &'static [Column] = &[
        Column::text("id", MAX_ID_CHARS).sort(),
        Column::text("user_id", MAX_ID_CHARS).non_empty().filter(),
        Column::text("password", 1024).non_empty().secret(),
        Column::text("algorithm", 16).filter(),
        Column::bool("is_current").filter(),
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

    fn from_insert(insert: PasswordInsert, now: Timestamp) -> Result<Self> {
        record_from_insert::<Self>(&insert, |_| generate_id(), now)
    }

    fn validate_extra(&self) -> Result<()> {
        validate_id("id", &self.id, MAX_ID_CHARS)
    }
}
