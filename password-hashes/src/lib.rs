//! # password-hashes
//!
//! Password hashes made by other systems, for Switchyard's `passwords`
//! entity: parsed from and written to one canonical text form per algorithm
//! ([`canonical`]), verified against a plaintext in constant time
//! ([`ParsedHash::verify`]), converted from and to Auth0's bulk-import
//! `custom_password_hash` objects ([`auth0`]), and upgraded on login to the
//! default algorithm, Argon2id ([`hash_default`]).
//!
//! Every primitive comes from a well-kept crate, none is written here:
//! RustCrypto's `argon2`, `pbkdf2`, `scrypt`, `hmac`, `md4`, `md-5`, `sha1`,
//! `sha2` and `subtle` (constant-time comparison), and the `bcrypt` crate.
//!
//! ```
//! use adapter_interfaces::{PasswordAlgorithm, Secret};
//! // MD5("salt" + "password"), as Auth0's docs describe a prefix salt.
//! let stored = Secret::new("$md5$sp=prefix,pe=utf8$c2FsdA$Z6Hgm7H4P1AH3BGcFNZjqg");
//! let hash = password_hashes::parse(PasswordAlgorithm::Md5, &stored).unwrap();
//! let outcome = hash.verify("password").unwrap();
//! assert!(outcome.matches && outcome.needs_rehash);
//! assert!(!hash.verify("wrong").unwrap().matches);
//! assert_eq!(format!("{hash:?}"), "ParsedHash(md5, [REDACTED])");
//! ```

pub mod auth0;
pub mod canonical;
pub mod encoding;
mod error;
mod verify;

pub use adapter_interfaces::{PasswordAlgorithm, Secret};
pub use canonical::{Digest, LdapScheme, ParsedHash, SaltPosition, Salting};
pub use encoding::{PasswordEncoding, ValueEncoding};
pub use error::HashError;
pub use verify::{MIN_ARGON2_MEMORY_KIB, MIN_ARGON2_PASSES, Verification};

/// Parses a stored hash (its canonical form) of `algorithm`.
pub fn parse(algorithm: PasswordAlgorithm, hash: &Secret) -> Result<ParsedHash, HashError> {
    ParsedHash::parse(algorithm, hash.expose())
}

/// Verifies `plaintext` against a stored hash.
pub fn verify(
    algorithm: PasswordAlgorithm,
    hash: &Secret,
    plaintext: &str,
) -> Result<Verification, HashError> {
    parse(algorithm, hash)?.verify(plaintext)
}

/// A new hash of `plaintext` with the default algorithm (Argon2id, the
/// `argon2` crate's default parameters, a random salt), to replace one that
/// [`Verification::needs_rehash`].
pub fn hash_default(plaintext: &str) -> Result<(PasswordAlgorithm, Secret), HashError> {
    use argon2::PasswordHasher;
    let hash = argon2::Argon2::default()
        .hash_password(plaintext.as_bytes())
        .map_err(|_| HashError::invalid("argon2id", "hashing failed"))?;
    Ok((PasswordAlgorithm::Argon2id, Secret::new(hash.to_string())))
}
