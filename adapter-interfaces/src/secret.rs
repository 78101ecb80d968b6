//! A string that never shows itself in `Debug` or `Display` output.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A secret value (a password hash, a client secret).
///
/// It serialises as the plain string, because adapters must store and copy
/// it exactly, but its `Debug` and `Display` print `[REDACTED]`, so a record
/// logged with `{:?}` or an error built from it never leaks the value.
///
/// ```
/// use adapter_interfaces::Secret;
/// let s = Secret::new("$2b$10$hash");
/// assert_eq!(format!("{s:?}"), "Secret([REDACTED])");
/// assert_eq!(s.expose(), "$2b$10$hash");
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself; call it only where the value must leave the process
    /// (a database bind, a hash comparison).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([REDACTED])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}
