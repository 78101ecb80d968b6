//! The one error type every adapter returns.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A boxed error from a driver or an ORM, kept as the `source` of [`AdapterError::Backend`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The result type of every adapter method.
pub type Result<T, E = AdapterError> = std::result::Result<T, E>;

/// The kinds of entity, used in errors, metrics and reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    /// [`crate::Tenant`]
    Tenant,
    /// [`crate::User`]
    User,
    /// [`crate::Application`]
    Application,
    /// [`crate::Connection`]
    Connection,
    /// [`crate::Session`]
    Session,
    /// [`crate::Code`]
    Code,
    /// [`crate::Password`]
    Password,
    /// [`crate::Log`]
    Log,
}

impl EntityKind {
    /// Every kind, parents before children: the order in which a backfill copies them.
    pub const ALL: [EntityKind; 8] = [
        EntityKind::Tenant,
        EntityKind::User,
        EntityKind::Application,
        EntityKind::Connection,
        EntityKind::Session,
        EntityKind::Code,
        EntityKind::Password,
        EntityKind::Log,
    ];

    /// The table (and plural) name: `users`, `logs`, ...
    pub fn table(self) -> &'static str {
        match self {
            EntityKind::Tenant => "tenants",
            EntityKind::User => "users",
            EntityKind::Application => "applications",
            EntityKind::Connection => "connections",
            EntityKind::Session => "sessions",
            EntityKind::Code => "codes",
            EntityKind::Password => "passwords",
            EntityKind::Log => "logs",
        }
    }

    /// The singular name: `user`, `log`, ...
    pub fn singular(self) -> &'static str {
        match self {
            EntityKind::Tenant => "tenant",
            EntityKind::User => "user",
            EntityKind::Application => "application",
            EntityKind::Connection => "connection",
            EntityKind::Session => "session",
            EntityKind::Code => "code",
            EntityKind::Password => "password",
            EntityKind::Log => "log",
        }
    }
}

impl fmt::Display for EntityKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.singular())
    }
}

/// What went wrong, in the same variant whichever backend reports it.
///
/// Messages never contain secret values: validation reports the field and the
/// rule, not the value, for secret fields.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdapterError {
    /// The operation needs a record that does not exist (an update of a missing
    /// user, a session for an unknown user, any write under an unknown tenant).
    #[error("{entity} `{id}` not found")]
    NotFound {
        /// Which kind of record is missing.
        entity: EntityKind,
        /// Its id.
        id: String,
    },
    /// A unique key is taken (the primary key, or e.g. a user's email within its connection).
    #[error("{entity} conflict: another {entity} already has this {field}")]
    Conflict {
        /// The entity whose key collides.
        entity: EntityKind,
        /// The field that must be unique (`user_id`, `email`, `name`, ...).
        field: String,
    },
    /// The input breaks a rule; nothing was written.
    #[error("invalid {field}: {reason}")]
    InvalidInput {
        /// The offending field (or `q`, `sort`, `from`, `per_page`, ...).
        field: String,
        /// What is wrong with it and, where it helps, what is allowed.
        reason: String,
    },
    /// The primary write is committed, but a blocking secondary that is configured to
    /// fail the call did not apply it (passthrough only). Do not retry the call blindly:
    /// the primary already holds the change.
    #[error("the primary write is committed, but secondary `{secondary}` failed: {source}")]
    SecondaryWrite {
        /// The secondary's name.
        secondary: String,
        /// What the secondary reported.
        #[source]
        source: Box<AdapterError>,
    },
    /// The adapter does not support this operation, as its
    /// [`Capabilities`](crate::Capabilities) declare (a write of a read-only
    /// entity, a `q` it cannot answer); nothing was written. Retrying will
    /// not help: the adapter never does it.
    #[error("`{operation}` on {} is not supported by this adapter", .entity.table())]
    NotSupported {
        /// The entity the call was about.
        entity: EntityKind,
        /// What was asked: the method (`create`, `upsert_many`, ...) or the
        /// part of it (`q`, `q on name`).
        operation: String,
    },
    /// A connection to the database failed (the first one, or one that a
    /// Diesel pool opened later): the message says why and what to check,
    /// once (the error has no source to repeat it).
    #[error("{0}")]
    Connect(crate::connect::ConnectError),
    /// A query got no pooled connection within the acquire timeout
    /// ([`crate::ConnectOptions::acquire_timeout`]): the message says why
    /// (the database stopped answering, with its reason, or the pool's
    /// connections were all busy) and what to do, once.
    #[error("{doing}: {diagnosis}")]
    PoolTimeout {
        /// A short description of what was being done.
        doing: String,
        /// Why no connection came (boxed: it would make every `Result` large).
        diagnosis: Box<crate::connect::PoolTimeout>,
    },
    /// The database, driver or ORM failed (connection lost, timeout, ...).
    #[error("backend error: {message}")]
    Backend {
        /// A short description of what was being done.
        message: String,
        /// The driver's error.
        #[source]
        source: Option<BoxError>,
    },
}

/// The variant of an [`AdapterError`] without its payload, for comparing
/// outcomes across adapters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// [`AdapterError::NotFound`]
    NotFound,
    /// [`AdapterError::Conflict`]
    Conflict,
    /// [`AdapterError::InvalidInput`]
    InvalidInput,
    /// [`AdapterError::SecondaryWrite`]
    SecondaryWrite,
    /// [`AdapterError::Backend`]
    Backend,
    /// [`AdapterError::NotSupported`]
    NotSupported,
}

impl AdapterError {
    /// An [`AdapterError::InvalidInput`].
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::InvalidInput {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// An [`AdapterError::NotFound`].
    pub fn not_found(entity: EntityKind, id: impl Into<String>) -> Self {
        Self::NotFound {
            entity,
            id: id.into(),
        }
    }

    /// An [`AdapterError::Conflict`].
    pub fn conflict(entity: EntityKind, field: impl Into<String>) -> Self {
        Self::Conflict {
            entity,
            field: field.into(),
        }
    }

    /// An [`AdapterError::NotSupported`] of `operation` on `entity`.
    pub fn not_supported(entity: EntityKind, operation: impl Into<String>) -> Self {
        Self::NotSupported {
            entity,
            operation: operation.into(),
        }
    }

    /// An [`AdapterError::Backend`] wrapping a driver error.
    pub fn backend(message: impl Into<String>, source: impl Into<BoxError>) -> Self {
        Self::Backend {
            message: message.into(),
            source: Some(source.into()),
        }
    }

    /// The variant, without payload.
    pub fn kind(&self) -> ErrorKind {
        match self {
            AdapterError::NotFound { .. } => ErrorKind::NotFound,
            AdapterError::Conflict { .. } => ErrorKind::Conflict,
            AdapterError::InvalidInput { .. } => ErrorKind::InvalidInput,
            AdapterError::SecondaryWrite { .. } => ErrorKind::SecondaryWrite,
            AdapterError::NotSupported { .. } => ErrorKind::NotSupported,
            AdapterError::Backend { .. }
            | AdapterError::Connect(_)
            | AdapterError::PoolTimeout { .. } => ErrorKind::Backend,
        }
    }

    /// Whether retrying the same call later may succeed (a backend failure).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            AdapterError::Backend { .. }
                | AdapterError::Connect(_)
                | AdapterError::PoolTimeout { .. }
        )
    }
}
