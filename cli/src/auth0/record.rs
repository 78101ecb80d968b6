//! One Auth0 user record: checked against Auth0's bulk-import schema (and
//! the extra fields of its NDJSON export), mapped onto a user and its
//! password, and written back the way Auth0 imports it.
//!
//! Accepted fields: those of the bulk-import schema (`email` required,
//! `email_verified`, `user_id`, `username`, `given_name`, `family_name`,
//! `name`, `nickname`, `picture`, `blocked`, `password_hash`,
//! `custom_password_hash`, `app_metadata`, `user_metadata`), the phone
//! fields (`phone_number`, `phone_verified`), and the fields of a user
//! export (`created_at`, `updated_at`, `last_login`, `last_ip`,
//! `logins_count`, `locale`). Any other field is refused, as Auth0 does.
//!
//! A `user_id` without a provider gets `auth0|` in front (Auth0 prepends the
//! connection's strategy); a record without one gets a stable id derived
//! from its connection and email, so that importing the file again finds it.
//! The password record's id is derived from the user id, for the same reason.

use adapter_interfaces::{
    JsonObject, Password, PasswordInsert, Record, Secret, Timestamp, User, UserInsert,
};
use password_hashes::ParsedHash;
use password_hashes::auth0::{self as hashes, CustomPasswordHash};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// The connection users are imported into when none is named.
pub const DEFAULT_CONNECTION: &str = "Username-Password-Authentication";

/// Keys Auth0 forbids in `app_metadata`.
const RESERVED_APP_METADATA: &[&str] = &[
    "__tenant",
    "_id",
    "blocked",
    "clientID",
    "created_at",
    "email_verified",
    "email",
    "globalClientID",
    "global_client_id",
    "identities",
    "lastIP",
    "lastLogin",
    "loginsCount",
    "metadata",
    "multifactor_last_modified",
    "multifactor",
    "updated_at",
    "user_id",
];

/// Why a record was refused: the field, and a reason that never holds a
/// hash, a salt or a key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{reason}", field.as_ref().map(|f| format!("{f}: ")).unwrap_or_default())]
pub struct RecordError {
    /// The field at fault, if one is.
    pub field: Option<String>,
    /// Why.
    pub reason: String,
}

impl RecordError {
    fn new(field: &str, reason: impl Into<String>) -> Self {
        Self {
            field: Some(field.to_owned()),
            reason: reason.into(),
        }
    }

    fn record(reason: impl Into<String>) -> Self {
        Self {
            field: None,
            reason: reason.into(),
        }
    }
}

/// A record mapped onto the store's entities, both validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Imported {
    /// The user.
    pub user: User,
    /// Its current password, if the record has a hash.
    pub password: Option<Password>,
}

/// Removes the quoted strings (values) from a serde message, keeping its
/// shape (`invalid type: string "…", expected a boolean`): a value may be a hash.
fn redact(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut inside = false;
    for c in message.chars() {
        if c == '"' {
            if !inside {
                out.push_str("\"…\"");
            }
            inside = !inside;
        } else if !inside {
            out.push(c);
        }
    }
    out
}

fn text(field: &str, value: Value) -> Result<String, RecordError> {
    match value {
        Value::String(s) => Ok(s),
        _ => Err(RecordError::new(field, "must be a string")),
    }
}

fn flag(field: &str, value: Value) -> Result<bool, RecordError> {
    value
        .as_bool()
        .ok_or_else(|| RecordError::new(field, "must be a boolean"))
}

fn object(field: &str, value: Value) -> Result<JsonObject, RecordError> {
    match value {
        Value::Object(map) => Ok(map),
        _ => Err(RecordError::new(field, "must be an object")),
    }
}

fn time(field: &str, value: Value) -> Result<Timestamp, RecordError> {
    text(field, value)?
        .parse()
        .map_err(|_| RecordError::new(field, "must be an ISO 8601 date-time"))
}

/// A hex id of 24 characters derived from `parts` (stable across runs).
fn derived_id(parts: &[&str]) -> String {
    let mut hash = Sha256::new();
    for part in parts {
        hash.update(part.as_bytes());
        hash.update([0u8]);
    }
    let digest = hash.finalize();
    digest.iter().take(12).map(|b| format!("{b:02x}")).collect()
}

/// The password record id of a user.
pub fn password_id(user_id: &str) -> String {
    format!("auth0-{}", derived_id(&["password", user_id]))
}

/// Checks and maps one record. `now` stands for the timestamps the record
/// lacks.
pub fn from_auth0(value: Value, connection: &str, now: Timestamp) -> Result<Imported, RecordError> {
    let Value::Object(map) = value else {
        return Err(RecordError::record("the record is not a JSON object"));
    };
    let mut insert = UserInsert {
        connection: connection.to_owned(),
        ..UserInsert::default()
    };
    let mut hash: Option<ParsedHash> = None;
    let mut seen_hash_field: Option<&'static str> = None;
    for (field, value) in map {
        match field.as_str() {
            "email" => insert.email = Some(text(&field, value)?),
            "email_verified" => insert.email_verified = flag(&field, value)?,
            "user_id" => insert.user_id = Some(text(&field, value)?),
            "username" => insert.username = Some(text(&field, value)?),
            "given_name" => insert.given_name = Some(text(&field, value)?),
            "family_name" => insert.family_name = Some(text(&field, value)?),
            "name" => insert.name = Some(text(&field, value)?),
            "nickname" => insert.nickname = Some(text(&field, value)?),
            "picture" => insert.picture = Some(text(&field, value)?),
            "blocked" => insert.blocked = flag(&field, value)?,
            "phone_number" => insert.phone_number = Some(text(&field, value)?),
            "phone_verified" => insert.phone_verified = flag(&field, value)?,
            "locale" => insert.locale = Some(text(&field, value)?),
            "last_ip" => insert.last_ip = Some(text(&field, value)?),
            "last_login" => insert.last_login = Some(time(&field, value)?),
            "created_at" => insert.created_at = Some(time(&field, value)?),
            "updated_at" => insert.updated_at = Some(time(&field, value)?),
            "logins_count" => {
                insert.login_count = value
                    .as_u64()
                    .and_then(|n| i64::try_from(n).ok())
                    .ok_or_else(|| RecordError::new(&field, "must be a non-negative integer"))?;
            }
            "app_metadata" => {
                let metadata = object(&field, value)?;
                if let Some(key) = RESERVED_APP_METADATA
                    .iter()
                    .find(|key| metadata.contains_key(**key))
                {
                    return Err(RecordError::new(
                        &field,
                        format!("must not contain `{key}` (Auth0 reserves it)"),
                    ));
                }
                insert.app_metadata = metadata;
            }
            "user_metadata" => insert.user_metadata = object(&field, value)?,
            "password_hash" | "custom_password_hash" => {
                let name: &'static str = if field == "password_hash" {
                    "password_hash"
                } else {
                    "custom_password_hash"
                };
                if let Some(other) = seen_hash_field {
                    return Err(RecordError::new(
                        name,
                        format!("{other} and {name} are mutually exclusive"),
                    ));
                }
                seen_hash_field = Some(name);
                let parsed = if name == "password_hash" {
                    hashes::from_password_hash(&text(name, value)?)
                } else {
                    let custom: CustomPasswordHash = serde_json::from_value(value)
                        .map_err(|e| RecordError::new(name, redact(&e.to_string())))?;
                    hashes::from_custom(&custom)
                };
                hash = Some(parsed.map_err(|e| RecordError::new(name, e.to_string()))?);
            }
            other => {
                return Err(RecordError::new(
                    other,
                    "is not a field of Auth0's user schema",
                ));
            }
        }
    }
    let Some(email) = insert.email.clone() else {
        return Err(RecordError::new("email", "is required"));
    };
    let user_id = match insert.user_id.take() {
        Some(id) if id.is_empty() => return Err(RecordError::new("user_id", "must not be empty")),
        Some(id) if id.contains('|') => id,
        Some(id) => format!("auth0|{id}"),
        None => format!(
            "auth0|{}",
            derived_id(&["user", connection, &email.to_lowercase()])
        ),
    };
    let provider = user_id
        .split_once('|')
        .map(|(p, _)| p.to_owned())
        .unwrap_or_else(|| "auth0".into());
    insert.is_social = !matches!(provider.as_str(), "auth0" | "email" | "sms");
    insert.provider = Some(provider);
    insert.user_id = Some(user_id.clone());
    let created_at = *insert.created_at.get_or_insert(now);
    let user = User::from_insert(insert, now).map_err(adapter_error)?;
    let password = hash
        .map(|hash| {
            Password::from_insert(
                PasswordInsert {
                    id: Some(password_id(&user_id)),
                    created_at: Some(created_at),
                    updated_at: Some(created_at),
                    ..PasswordInsert::new(
                        &user_id,
                        Secret::new(hash.to_canonical()),
                        hash.algorithm(),
                    )
                },
                now,
            )
        })
        .transpose()
        .map_err(adapter_error)?;
    Ok(Imported { user, password })
}

/// An adapter's validation error as a record error (its messages name
/// fields and limits, never values).
fn adapter_error(error: adapter_interfaces::AdapterError) -> RecordError {
    match error {
        adapter_interfaces::AdapterError::InvalidInput { field, reason } => RecordError {
            field: Some(field),
            reason,
        },
        other => RecordError::record(other.to_string()),
    }
}

/// Why a user was left out of an export.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExportSkip {
    /// Auth0 requires an email.
    #[error("it has no email, which Auth0's import requires")]
    NoEmail,
    /// The stored hash is not in a form this build reads.
    #[error("its password hash cannot be exported: {0}")]
    Hash(String),
}

/// The Auth0 bulk-import record of a user and its current password: what
/// [`from_auth0`] maps back onto the same user and password (bar the
/// timestamps, login counters, last IP, locale and phone verification,
/// which Auth0's import does not take).
pub fn to_auth0(
    user: &User,
    password: Option<&Password>,
) -> Result<Map<String, Value>, ExportSkip> {
    let email = user.email.clone().ok_or(ExportSkip::NoEmail)?;
    let mut map = Map::new();
    let id = user
        .user_id
        .strip_prefix("auth0|")
        .unwrap_or(&user.user_id)
        .to_owned();
    map.insert("user_id".into(), Value::String(id));
    map.insert("email".into(), Value::String(email));
    map.insert("email_verified".into(), Value::Bool(user.email_verified));
    let optional = [
        ("username", &user.username),
        ("given_name", &user.given_name),
        ("family_name", &user.family_name),
        ("name", &user.name),
        ("nickname", &user.nickname),
        ("picture", &user.picture),
        ("phone_number", &user.phone_number),
    ];
    for (field, value) in optional {
        if let Some(value) = value {
            map.insert(field.into(), Value::String(value.clone()));
        }
    }
    map.insert("blocked".into(), Value::Bool(user.blocked));
    if !user.app_metadata.is_empty() {
        map.insert(
            "app_metadata".into(),
            Value::Object(user.app_metadata.clone()),
        );
    }
    if !user.user_metadata.is_empty() {
        map.insert(
            "user_metadata".into(),
            Value::Object(user.user_metadata.clone()),
        );
    }
    if let Some(password) = password {
        let parsed = password_hashes::parse(password.algorithm, &password.password)
            .map_err(|e| ExportSkip::Hash(e.to_string()))?;
        let custom = hashes::to_custom(&parsed);
        let value =
            serde_json::to_value(custom).map_err(|e| ExportSkip::Hash(redact(&e.to_string())))?;
        map.insert("custom_password_hash".into(), value);
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> Timestamp {
        "2026-01-02T03:04:05.006Z".parse().expect("a timestamp")
    }

    #[test]
    fn maps_every_field_and_back() {
        let record = json!({
            "user_id": "64f1", "email": "Ada@Example.com", "email_verified": true,
            "username": "ada", "given_name": "Ada", "family_name": "Lovelace",
            "name": "Ada Lovelace", "nickname": "countess", "picture": "https://example.com/a.png",
            "blocked": true, "phone_number": "+441234567890",
            "app_metadata": {"plan": "premium", "roles": ["admin"]},
            "user_metadata": {"theme": "dark"},
            "custom_password_hash": {"algorithm": "md5",
                "hash": {"value": "Z6Hgm7H4P1AH3BGcFNZjqg==", "encoding": "base64"},
                "salt": {"value": "salt", "position": "prefix"}}
        });
        let imported = from_auth0(record, DEFAULT_CONNECTION, now()).expect("valid");
        let user = &imported.user;
        assert_eq!(user.user_id, "auth0|64f1");
        assert_eq!(user.email.as_deref(), Some("ada@example.com"));
        assert_eq!(user.connection, DEFAULT_CONNECTION);
        assert!(user.blocked && user.email_verified && !user.is_social);
        let password = imported.password.as_ref().expect("a password");
        assert_eq!(password.id, password_id("auth0|64f1"));
        assert!(
            password_hashes::verify(password.algorithm, &password.password, "password")
                .expect("parses")
                .matches
        );
        let back = to_auth0(user, Some(password)).expect("exports");
        let again = from_auth0(Value::Object(back), DEFAULT_CONNECTION, now()).expect("valid");
        assert_eq!(again, imported);
    }

    #[test]
    fn refuses_what_auth0_refuses_without_showing_hashes() {
        let hash = "$2b$10$nFguVi9LsCAcvTZFKQlRKeLVydo8ETv483lkNsSFI/Wl1Rz1Ypo1K";
        let cases = [
            (
                json!({"email": "a@example.com", "pepper": 1}),
                "pepper: is not a field",
            ),
            (json!({"user_id": "x"}), "email: is required"),
            (
                json!({"email": "nope"}),
                "email: is not a valid email address",
            ),
            (
                json!({"email": "a@example.com", "blocked": "yes"}),
                "blocked: must be a boolean",
            ),
            (
                json!({"email": "a@example.com", "app_metadata": {"email": "x"}}),
                "must not contain `email`",
            ),
            (
                json!({"email": "a@example.com", "password_hash": hash,
                    "custom_password_hash": {"algorithm": "bcrypt", "hash": {"value": hash}}}),
                "mutually exclusive",
            ),
            (
                json!({"email": "a@example.com", "custom_password_hash": {"algorithm": "bcrypt", "hash": hash}}),
                "custom_password_hash: invalid type",
            ),
            (
                json!({"email": "a@example.com", "custom_password_hash": {"algorithm": "crc32", "hash": {"value": hash}}}),
                "unsupported algorithm `crc32`",
            ),
            (
                json!({"email": "a@example.com", "password_hash": "$2y$10$x"}),
                "password_hash: invalid bcrypt",
            ),
            (json!([1, 2]), "not a JSON object"),
        ];
        for (record, expected) in cases {
            let error = from_auth0(record.clone(), DEFAULT_CONNECTION, now())
                .expect_err("refused")
                .to_string();
            assert!(
                error.contains(expected),
                "{record}: `{error}` lacks `{expected}`"
            );
            assert!(
                !error.contains("nFguVi9"),
                "the error shows the hash: {error}"
            );
        }
    }
}
