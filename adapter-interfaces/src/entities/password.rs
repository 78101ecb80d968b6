use serde::{Deserialize, Serialize};

use crate::error::{EntityKind, Result};
use crate::patch::NoPatch;
use crate::record::{Column, ParentRef, Record, generate_id, record_from_insert, validate_id};
use crate::secret::Secret;
use crate::timestamp::Timestamp;

use super::MAX_ID_CHARS;

/// The hash algorithm of a [`Password`], stored as its snake_case name in
/// the `algorithm` column (at most 16 characters).
///
/// Every parameter the algorithm needs (salt, its position, the password's
/// encoding, cost, key length, an HMAC key, ...) lives in the hash string
/// itself, in one canonical text form per algorithm (a PHC string where one
/// exists), so that the schema needs no column per parameter and every
/// backend stores the same two texts. The `password-hashes` crate of this
/// workspace parses, verifies and converts these forms:
///
/// | algorithm | canonical hash string |
/// |---|---|
/// | `bcrypt` | `$2a$`, `$2b$` or `$2y$` modular crypt string |
/// | `argon2id`, `argon2i`, `argon2d` | PHC string, `$argon2id$v=19$m=…,t=…,p=…$salt$hash` |
/// | `pbkdf2` | PHC string, `$pbkdf2-sha256$i=…,l=…$salt$hash` |
/// | `scrypt` | PHC string, `$scrypt$ln=…,r=…,p=…$salt$hash` |
/// | `ldap` | RFC 2307 `{SCHEME}base64`, e.g. `{SSHA}…` |
/// | `md4`, `md5`, `sha1`, `sha256`, `sha512` | `$md5[$sp=prefix\|suffix][,pe=…]$salt$hash` (PHC syntax) |
/// | `hmac` | `$hmac-sha256$k=key[,sp=…][,pe=…]$salt$hash` (PHC syntax) |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PasswordAlgorithm {
    /// bcrypt.
    Bcrypt,
    /// Argon2id (the default for new hashes).
    Argon2id,
    /// Argon2i.
    Argon2i,
    /// Argon2d.
    Argon2d,
    /// PBKDF2 with an HMAC digest.
    Pbkdf2,
    /// scrypt.
    Scrypt,
    /// An RFC 2307 LDAP `userPassword` value.
    Ldap,
    /// HMAC of the (salted) password under a key.
    Hmac,
    /// MD4 of the (salted) password.
    Md4,
    /// MD5 of the (salted) password.
    Md5,
    /// SHA-1 of the (salted) password.
    Sha1,
    /// SHA-256 of the (salted) password.
    Sha256,
    /// SHA-512 of the (salted) password.
    Sha512,
}

impl PasswordAlgorithm {
    /// Every algorithm, in declaration order.
    pub const ALL: &'static [Self] = &[
        Self::Bcrypt,
        Self::Argon2id,
        Self::Argon2i,
        Self::Argon2d,
        Self::Pbkdf2,
        Self::Scrypt,
        Self::Ldap,
        Self::Hmac,
        Self::Md4,
        Self::Md5,
        Self::Sha1,
        Self::Sha256,
        Self::Sha512,
    ];

    /// The stored name (the `algorithm` column, and its serde form).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bcrypt => "bcrypt",
            Self::Argon2id => "argon2id",
            Self::Argon2i => "argon2i",
            Self::Argon2d => "argon2d",
            Self::Pbkdf2 => "pbkdf2",
            Self::Scrypt => "scrypt",
            Self::Ldap => "ldap",
            Self::Hmac => "hmac",
            Self::Md4 => "md4",
            Self::Md5 => "md5",
            Self::Sha1 => "sha1",
            Self::Sha256 => "sha256",
            Self::Sha512 => "sha512",
        }
    }
}

impl std::fmt::Display for PasswordAlgorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for PasswordAlgorithm {
    type Err = UnknownAlgorithm;

    fn from_str(name: &str) -> std::result::Result<Self, Self::Err> {
        Self::ALL
            .iter()
            .copied()
            .find(|algorithm| algorithm.as_str() == name)
            .ok_or_else(|| UnknownAlgorithm(name.chars().take(32).collect()))
    }
}

/// A name that is no [`PasswordAlgorithm`] (the first 32 characters of it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown password algorithm `{0}`")]
pub struct UnknownAlgorithm(pub String);

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fit_the_column_and_match_serde() {
        for &algorithm in PasswordAlgorithm::ALL {
            let name = algorithm.as_str();
            assert!(name.len() <= 16, "{name} does not fit text(16)");
            assert_eq!(
                serde_json::to_value(algorithm).ok(),
                Some(serde_json::Value::String(name.into()))
            );
            assert_eq!(name.parse::<PasswordAlgorithm>(), Ok(algorithm));
        }
        assert!("rot13".parse::<PasswordAlgorithm>().is_err());
    }
}
