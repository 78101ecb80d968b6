//! Why a hash could not be used. No message ever holds the hash, its salt
//! or key, or a password: only the names of algorithms and fields.

/// A hash string (or an Auth0 `custom_password_hash`) that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HashError {
    /// An algorithm, digest, encoding or scheme this crate does not verify.
    #[error("unsupported {what} `{name}`")]
    Unsupported {
        /// What kind of name (`algorithm`, `hmac digest`, `ldap scheme`, ...).
        what: &'static str,
        /// The name given (at most 32 characters of it).
        name: String,
    },
    /// The hash does not parse; `reason` says which part and why.
    #[error("the {algorithm} hash does not parse: {reason}")]
    Malformed {
        /// The algorithm the hash was given for.
        algorithm: &'static str,
        /// Which part is wrong (never its value).
        reason: String,
    },
    /// A combination the algorithm does not allow (a salt for bcrypt, ...).
    #[error("invalid {algorithm} hash: {reason}")]
    Invalid {
        /// The algorithm the hash was given for.
        algorithm: &'static str,
        /// What is not allowed.
        reason: String,
    },
}

impl HashError {
    /// An unsupported name, cut to 32 characters (it came from a file).
    pub(crate) fn unsupported(what: &'static str, name: &str) -> Self {
        Self::Unsupported {
            what,
            name: name.chars().take(32).collect(),
        }
    }

    /// A hash of `algorithm` that does not parse.
    pub(crate) fn malformed(algorithm: &'static str, reason: impl Into<String>) -> Self {
        Self::Malformed {
            algorithm,
            reason: reason.into(),
        }
    }

    /// A hash of `algorithm` with something it does not allow.
    pub(crate) fn invalid(algorithm: &'static str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            algorithm,
            reason: reason.into(),
        }
    }
}
