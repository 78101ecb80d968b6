//! Auth0's bulk-import password fields: `password_hash` (bcrypt) and the
//! `custom_password_hash` object, to and from [`ParsedHash`].
//!
//! The object's rules are Auth0's: `bcrypt`, `argon2`, `pbkdf2` and `ldap`
//! take a `utf8` string (a bcrypt `$2a$`/`$2b$`/`$2y$` string, PHC strings,
//! an RFC 2307 value) and no salt; `md4`, `md5`, `sha1`, `sha256`, `sha512`
//! and `hmac` take a `hex` or `base64` digest, an optional salt with its
//! encoding and position, and the password's encoding; `hmac` also a
//! `digest` and a `key` inside `hash`; `scrypt` a `hex` or `base64` key with
//! a salt and, beside `hash` at the top of the object as Auth0's schema puts
//! them, `keylen` (required), `cost` (N, default 16384), `blockSize` (r,
//! default 8) and `parallelization` (p, default 1). Unknown fields are
//! refused.
//!
//! Where this differs from Auth0: HMAC digests `ripemd160` and `whirlpool`
//! are not supported, nor is a bcrypt hash with an extra salt (Auth0 accepts
//! `salt` beside a bcrypt string); both are refused with a typed error
//! naming them.
//!
//! Export writes every hash so that importing it again gives the same
//! canonical string: digests, salts and keys as `base64`.

use serde::{Deserialize, Serialize};

use crate::canonical::{Digest, ParsedHash, SaltPosition, Salting};
use crate::encoding::{PasswordEncoding, ValueEncoding};
use crate::error::HashError;
use adapter_interfaces::PasswordAlgorithm;
use base64::Engine;

/// Auth0's `custom_password_hash` object. Its `Debug` shows the algorithm only.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomPasswordHash {
    /// `argon2`, `bcrypt`, `hmac`, `ldap`, `md4`, `md5`, `sha1`, `sha256`, `sha512`, `pbkdf2` or `scrypt`.
    pub algorithm: String,
    /// The hash and its parameters.
    pub hash: HashValue,
    /// The salt, for the digest algorithms and scrypt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub salt: Option<SaltValue>,
    /// How the password was encoded before hashing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<PasswordOptions>,
    /// scrypt: the key length in bytes (required for scrypt).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keylen: Option<u64>,
    /// scrypt: N, a power of two (default 16384).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<u64>,
    /// scrypt: r (default 8).
    #[serde(default, rename = "blockSize", skip_serializing_if = "Option::is_none")]
    pub block_size: Option<u64>,
    /// scrypt: p (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallelization: Option<u64>,
}

impl std::fmt::Debug for CustomPasswordHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CustomPasswordHash({}, [REDACTED])", self.algorithm)
    }
}

/// `custom_password_hash.hash`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HashValue {
    /// The hash.
    pub value: String,
    /// `base64`, `hex` or `utf8`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<String>,
    /// The HMAC digest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// The HMAC key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<KeyValue>,
}

/// `custom_password_hash.hash.key`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyValue {
    /// The key.
    pub value: String,
    /// `base64`, `hex` or `utf8` (default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<String>,
}

/// `custom_password_hash.salt`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SaltValue {
    /// The salt.
    pub value: String,
    /// `base64`, `hex` or `utf8` (default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<String>,
    /// `prefix` (default) or `suffix`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<String>,
}

/// `custom_password_hash.password`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordOptions {
    /// `utf8` (default), `utf16le`, `ucs2`, `latin1`, `binary` or `ascii`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<String>,
}

/// Auth0's top-level `password_hash`: a bcrypt `$2a$` or `$2b$` string.
pub fn from_password_hash(value: &str) -> Result<ParsedHash, HashError> {
    bcrypt_string(value, &["$2a$", "$2b$"])
}

/// A bcrypt string with one of the prefixes Auth0 takes in that field
/// (`password_hash` takes fewer than `custom_password_hash`).
fn bcrypt_string(value: &str, prefixes: &[&str]) -> Result<ParsedHash, HashError> {
    if !prefixes.iter().any(|prefix| value.starts_with(prefix)) {
        return Err(HashError::invalid(
            "bcrypt",
            format!("Auth0 takes `{}` strings only here", prefixes.join("`, `")),
        ));
    }
    ParsedHash::parse_lenient(PasswordAlgorithm::Bcrypt, value)
}

fn refuse(algorithm: &'static str, present: bool, what: &str) -> Result<(), HashError> {
    if present {
        Err(HashError::invalid(
            algorithm,
            format!("{what} is not allowed"),
        ))
    } else {
        Ok(())
    }
}

/// A digest given as `hex` or `base64` (required for the digest algorithms).
fn binary_hash(algorithm: &'static str, hash: &HashValue) -> Result<Vec<u8>, HashError> {
    let encoding = match hash.encoding.as_deref() {
        Some(name @ ("hex" | "base64")) => ValueEncoding::parse(name)?,
        Some(other) => {
            return Err(HashError::invalid(
                algorithm,
                format!(
                    "hash.encoding must be hex or base64, not `{}`",
                    other.chars().take(16).collect::<String>()
                ),
            ));
        }
        None => {
            return Err(HashError::invalid(
                algorithm,
                "hash.encoding (hex or base64) is required",
            ));
        }
    };
    encoding.decode(algorithm, "hash", &hash.value)
}

fn salt_bytes(algorithm: &'static str, salt: &SaltValue) -> Result<Vec<u8>, HashError> {
    let encoding = ValueEncoding::parse(salt.encoding.as_deref().unwrap_or("utf8"))?;
    let bytes = encoding.decode(algorithm, "salt", &salt.value)?;
    if bytes.is_empty() {
        return Err(HashError::invalid(algorithm, "salt.value is empty"));
    }
    Ok(bytes)
}

fn salting(algorithm: &'static str, custom: &CustomPasswordHash) -> Result<Salting, HashError> {
    let salt = match &custom.salt {
        None => None,
        Some(salt) => {
            let position = match salt.position.as_deref() {
                None | Some("prefix") => SaltPosition::Prefix,
                Some("suffix") => SaltPosition::Suffix,
                Some(other) => return Err(HashError::unsupported("salt position", other)),
            };
            Some((salt_bytes(algorithm, salt)?, position))
        }
    };
    let encoding = PasswordEncoding::parse(password_encoding(custom))?;
    Ok(Salting { salt, encoding })
}

fn password_encoding(custom: &CustomPasswordHash) -> &str {
    custom
        .password
        .as_ref()
        .and_then(|p| p.encoding.as_deref())
        .unwrap_or("utf8")
}

/// Converts a `custom_password_hash` to the canonical form, checking every
/// rule; a hash that does not parse is an error naming the part.
pub fn from_custom(custom: &CustomPasswordHash) -> Result<ParsedHash, HashError> {
    let hash = &custom.hash;
    let algorithm: &'static str = match custom.algorithm.as_str() {
        "argon2" => "argon2",
        "bcrypt" => "bcrypt",
        "hmac" => "hmac",
        "ldap" => "ldap",
        "md4" => "md4",
        "md5" => "md5",
        "sha1" => "sha1",
        "sha256" => "sha256",
        "sha512" => "sha512",
        "pbkdf2" => "pbkdf2",
        "scrypt" => "scrypt",
        other => return Err(HashError::unsupported("algorithm", other)),
    };
    let scrypt_params = custom.keylen.is_some()
        || custom.cost.is_some()
        || custom.block_size.is_some()
        || custom.parallelization.is_some();
    if algorithm != "scrypt" {
        refuse(
            algorithm,
            scrypt_params,
            "keylen, cost, blockSize or parallelization",
        )?;
    }
    if algorithm != "hmac" {
        refuse(algorithm, hash.digest.is_some(), "hash.digest")?;
        refuse(algorithm, hash.key.is_some(), "hash.key")?;
    }
    match algorithm {
        "bcrypt" | "argon2" | "pbkdf2" | "ldap" => {
            if algorithm == "bcrypt" && custom.salt.is_some() {
                // Auth0 takes it (a salt folded into bcrypt's 72-byte input);
                // the canonical bcrypt string has no place for it.
                return Err(HashError::unsupported("bcrypt option", "salt"));
            }
            refuse(algorithm, custom.salt.is_some(), "a salt")?;
            if hash.encoding.as_deref().is_some_and(|e| e != "utf8") {
                return Err(HashError::invalid(algorithm, "hash.encoding must be utf8"));
            }
            refuse(
                algorithm,
                password_encoding(custom) != "utf8",
                "a password encoding other than utf8",
            )?;
            let value = hash.value.as_str();
            match algorithm {
                "bcrypt" => bcrypt_string(value, &["$2a$", "$2b$", "$2y$"]),
                "argon2" => {
                    let variant = if value.starts_with("$argon2id$") {
                        PasswordAlgorithm::Argon2id
                    } else if value.starts_with("$argon2i$") {
                        PasswordAlgorithm::Argon2i
                    } else if value.starts_with("$argon2d$") {
                        PasswordAlgorithm::Argon2d
                    } else {
                        return Err(HashError::malformed(
                            algorithm,
                            "it must be a PHC string `$argon2id$…`, `$argon2i$…` or `$argon2d$…`",
                        ));
                    };
                    ParsedHash::parse_lenient(variant, value)
                }
                "pbkdf2" => ParsedHash::parse_lenient(PasswordAlgorithm::Pbkdf2, value),
                _ => ParsedHash::parse_lenient(PasswordAlgorithm::Ldap, value),
            }
        }
        "hmac" => {
            let digest = hash
                .digest
                .as_deref()
                .ok_or_else(|| HashError::invalid(algorithm, "hash.digest is required"))?;
            let digest =
                Digest::parse(digest).map_err(|_| HashError::unsupported("hmac digest", digest))?;
            let key = hash
                .key
                .as_ref()
                .ok_or_else(|| HashError::invalid(algorithm, "hash.key is required"))?;
            let key = ValueEncoding::parse(key.encoding.as_deref().unwrap_or("utf8"))?
                .decode(algorithm, "key", &key.value)?;
            if key.is_empty() {
                return Err(HashError::invalid(algorithm, "hash.key.value is empty"));
            }
            let parsed = ParsedHash::Hmac {
                digest,
                key,
                salting: salting(algorithm, custom)?,
                hash: binary_hash(algorithm, hash)?,
            };
            // Checks the digest's length, through the one parser.
            ParsedHash::parse(PasswordAlgorithm::Hmac, &parsed.to_canonical())
        }
        "scrypt" => {
            refuse(
                algorithm,
                password_encoding(custom) != "utf8",
                "a password encoding other than utf8",
            )?;
            let salt = custom
                .salt
                .as_ref()
                .ok_or_else(|| HashError::invalid(algorithm, "a salt is required"))?;
            refuse(algorithm, salt.position.is_some(), "salt.position")?;
            let salt = salt_bytes(algorithm, salt)?;
            let derived = binary_hash(algorithm, hash)?;
            let keylen = custom
                .keylen
                .ok_or_else(|| HashError::invalid(algorithm, "keylen is required"))?;
            if keylen != derived.len() as u64 {
                return Err(HashError::malformed(
                    algorithm,
                    format!(
                        "keylen is {keylen} but the hash is {} bytes long",
                        derived.len()
                    ),
                ));
            }
            let cost = custom.cost.unwrap_or(16_384);
            if cost < 2 || !cost.is_power_of_two() {
                return Err(HashError::invalid(algorithm, "cost must be a power of two"));
            }
            let r = u32::try_from(custom.block_size.unwrap_or(8))
                .map_err(|_| HashError::invalid(algorithm, "blockSize is out of range"))?;
            let p = u32::try_from(custom.parallelization.unwrap_or(1))
                .map_err(|_| HashError::invalid(algorithm, "parallelization is out of range"))?;
            let parsed = ParsedHash::Scrypt {
                log_n: cost.trailing_zeros() as u8,
                r,
                p,
                salt,
                hash: derived,
            };
            ParsedHash::parse(PasswordAlgorithm::Scrypt, &parsed.to_canonical())
        }
        _ => {
            let digest = Digest::parse(algorithm)?;
            let plain_algorithm = digest
                .plain_algorithm()
                .ok_or_else(|| HashError::unsupported("algorithm", algorithm))?;
            let parsed = ParsedHash::Plain {
                digest,
                salting: salting(algorithm, custom)?,
                hash: binary_hash(algorithm, hash)?,
            };
            ParsedHash::parse(plain_algorithm, &parsed.to_canonical())
        }
    }
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn value(value: String, encoding: &str) -> HashValue {
    HashValue {
        value,
        encoding: Some(encoding.to_owned()),
        digest: None,
        key: None,
    }
}

fn salt_value(salting: &Salting) -> Option<SaltValue> {
    salting.salt.as_ref().map(|(salt, position)| SaltValue {
        value: b64(salt),
        encoding: Some("base64".into()),
        position: Some(position.as_str().into()),
    })
}

fn password_options(salting: &Salting) -> Option<PasswordOptions> {
    (salting.encoding != PasswordEncoding::Utf8).then(|| PasswordOptions {
        encoding: Some(salting.encoding.as_str().into()),
    })
}

/// The `custom_password_hash` of a hash; importing it gives the same hash.
pub fn to_custom(hash: &ParsedHash) -> CustomPasswordHash {
    let plain = |algorithm: &str, hash: HashValue| CustomPasswordHash {
        algorithm: algorithm.into(),
        hash,
        salt: None,
        password: None,
        keylen: None,
        cost: None,
        block_size: None,
        parallelization: None,
    };
    match hash {
        ParsedHash::Bcrypt(_) => plain("bcrypt", value(hash.to_canonical(), "utf8")),
        ParsedHash::Argon2 { .. } => plain("argon2", value(hash.to_canonical(), "utf8")),
        ParsedHash::Pbkdf2 { .. } => plain("pbkdf2", value(hash.to_canonical(), "utf8")),
        ParsedHash::Ldap { .. } => plain("ldap", value(hash.to_canonical(), "utf8")),
        ParsedHash::Scrypt {
            log_n,
            r,
            p,
            salt,
            hash,
        } => CustomPasswordHash {
            salt: Some(SaltValue {
                value: b64(salt),
                encoding: Some("base64".into()),
                position: None,
            }),
            keylen: Some(hash.len() as u64),
            cost: Some(1u64 << log_n),
            block_size: Some(u64::from(*r)),
            parallelization: Some(u64::from(*p)),
            ..plain("scrypt", value(b64(hash), "base64"))
        },
        ParsedHash::Plain {
            digest,
            salting,
            hash,
        } => CustomPasswordHash {
            salt: salt_value(salting),
            password: password_options(salting),
            ..plain(digest.as_str(), value(b64(hash), "base64"))
        },
        ParsedHash::Hmac {
            digest,
            key,
            salting,
            hash,
        } => CustomPasswordHash {
            salt: salt_value(salting),
            password: password_options(salting),
            ..plain(
                "hmac",
                HashValue {
                    digest: Some(digest.as_str().into()),
                    key: Some(KeyValue {
                        value: b64(key),
                        encoding: Some("base64".into()),
                    }),
                    ..value(b64(hash), "base64")
                },
            )
        },
    }
}
