use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{EntityKind, Result};
use crate::patch::NoPatch;
use crate::record::{Column, Record, generate_secret_id, record_from_insert, validate_id};
use crate::timestamp::Timestamp;

use super::{MAX_ID_CHARS, MAX_URL_CHARS};

/// What a [`Code`] is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CodeType {
    /// A password-reset link.
    PasswordReset,
    /// An email-verification link.
    EmailVerification,
    /// A one-time password.
    Otp,
    /// An OAuth authorization code.
    AuthorizationCode,
    /// An OAuth `state` value.
    Oauth2State,
    /// A ticket (e.g. an invitation).
    Ticket,
}

impl CodeType {
    /// The stored name, e.g. `password_reset`.
    pub fn as_str(self) -> &'static str {
        match self {
            CodeType::PasswordReset => "password_reset",
            CodeType::EmailVerification => "email_verification",
            CodeType::Otp => "otp",
            CodeType::AuthorizationCode => "authorization_code",
            CodeType::Oauth2State => "oauth2_state",
            CodeType::Ticket => "ticket",
        }
    }
}

impl fmt::Display for CodeType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A single-use code. [`crate::CodesAdapter::consume`] marks it used atomically.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Code {
    /// The code itself (generated with 122 random bits when not supplied).
    pub code_id: String,
    /// What the code is for.
    pub code_type: CodeType,
    /// The login transaction it belongs to.
    pub login_id: Option<String>,
    /// The user it is for (not checked: a code may precede its user).
    pub user_id: Option<String>,
    /// Expiry.
    pub expires_at: Timestamp,
    /// When it was consumed.
    pub used_at: Option<Timestamp>,
    /// Redirect URI (authorization codes).
    pub redirect_uri: Option<String>,
    /// PKCE challenge.
    pub code_challenge: Option<String>,
    /// PKCE method (`S256`, `plain`).
    pub code_challenge_method: Option<String>,
    /// OAuth state.
    pub state: Option<String>,
    /// OpenID nonce.
    pub nonce: Option<String>,
    /// Creation time.
    pub created_at: Timestamp,
}

/// A new code.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CodeInsert {
    /// The code; generated when absent.
    #[serde(default)]
    pub code_id: Option<String>,
    /// What the code is for (required).
    pub code_type: CodeType,
    /// The login transaction.
    #[serde(default)]
    pub login_id: Option<String>,
    /// The user.
    #[serde(default)]
    pub user_id: Option<String>,
    /// Expiry (required).
    pub expires_at: Timestamp,
    /// When it was consumed (for exact copies).
    #[serde(default)]
    pub used_at: Option<Timestamp>,
    /// Redirect URI.
    #[serde(default)]
    pub redirect_uri: Option<String>,
    /// PKCE challenge.
    #[serde(default)]
    pub code_challenge: Option<String>,
    /// PKCE method.
    #[serde(default)]
    pub code_challenge_method: Option<String>,
    /// OAuth state.
    #[serde(default)]
    pub state: Option<String>,
    /// OpenID nonce.
    #[serde(default)]
    pub nonce: Option<String>,
    /// Creation time, for exact copies; now when absent.
    #[serde(default)]
    pub created_at: Option<Timestamp>,
}

impl CodeInsert {
    /// A code of the given type that expires at `expires_at`, everything else empty.
    pub fn new(code_type: CodeType, expires_at: Timestamp) -> Self {
        Self {
            code_id: None,
            code_type,
            login_id: None,
            user_id: None,
            expires_at,
            used_at: None,
            redirect_uri: None,
            code_challenge: None,
            code_challenge_method: None,
            state: None,
            nonce: None,
            created_at: None,
        }
    }
}

impl Record for Code {
    type Insert = CodeInsert;
    type Patch = NoPatch;
    const KIND: EntityKind = EntityKind::Code;
    const COLUMNS: &'static [Column] = &[
        Column::text("code_id", MAX_ID_CHARS).sort(),
        Column::text("code_type", 32).filter(),
        Column::text("login_id", MAX_ID_CHARS).nullable().filter(),
        Column::text("user_id", MAX_ID_CHARS).nullable().filter(),
        Column::timestamp("expires_at").sort(),
        Column::timestamp("used_at").nullable().filter(),
        Column::text("redirect_uri", MAX_URL_CHARS).nullable(),
        Column::text("code_challenge", 255).nullable(),
        Column::text("code_challenge_method", 16).nullable(),
        Column::text("state", MAX_URL_CHARS).nullable(),
        Column::text("nonce", 255).nullable(),
        Column::timestamp("created_at").sort(),
    ];

    fn key(&self) -> &str {
        &self.code_id
    }

    fn from_insert(insert: CodeInsert, now: Timestamp) -> Result<Self> {
        record_from_insert::<Self>(&insert, |_| generate_secret_id(), now)
    }

    fn validate_extra(&self) -> Result<()> {
        validate_id("code_id", &self.code_id, MAX_ID_CHARS)
    }
}
