//! The canonical text form of every supported hash, parsed into a
//! [`ParsedHash`] and written back byte for byte.
//!
//! The forms (the `password` column; the `algorithm` column names the kind):
//!
//! - `bcrypt`: the modular crypt string, `$2a$`, `$2b$` or `$2y$`.
//! - `argon2id`, `argon2i`, `argon2d`: the PHC string, as the `argon2` crate reads it.
//! - `pbkdf2`: the PHC string `$pbkdf2-<digest>$i=<iterations>,l=<key length>$<salt>$<hash>`,
//!   both parameters always written.
//! - `scrypt`: the PHC string `$scrypt$ln=<log2 N>,r=<r>,p=<p>$<salt>$<hash>`.
//! - `ldap`: RFC 2307 `{SCHEME}<base64>`, the scheme upper-case, padded base64.
//! - `md4`, `md5`, `sha1`, `sha256`, `sha512`: PHC syntax with this crate's
//!   parameters, `$<algorithm>$sp=<prefix|suffix|none>,pe=<utf8|utf16le|latin1>$<salt>$<hash>`
//!   (the salt empty when `sp=none`), since no standard string exists for them.
//! - `hmac`: `$hmac-<digest>$k=<key>,sp=…,pe=…$<salt>$<hash>`.
//!
//! Salts, keys and hashes are PHC base64 (standard alphabet, unpadded)
//! everywhere but in LDAP values.

use adapter_interfaces::PasswordAlgorithm;

use crate::encoding::{PasswordEncoding, padded_decode, padded_encode, phc_decode, phc_encode};
use crate::error::HashError;

/// A digest function, for PBKDF2, HMAC and the plain salted digests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Digest {
    /// MD4.
    Md4,
    /// MD5.
    Md5,
    /// SHA-1.
    Sha1,
    /// SHA-224.
    Sha224,
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl Digest {
    /// Parses a digest name: the canonical one, or one of OpenSSL's aliases
    /// that Auth0 accepts (`RSA-SHA256`, `sha256WithRSAEncryption`, ...).
    pub fn parse(name: &str) -> Result<Self, HashError> {
        let lower = name.to_ascii_lowercase();
        let base = lower
            .strip_prefix("rsa-")
            .or_else(|| lower.strip_suffix("withrsaencryption"))
            .unwrap_or(&lower);
        match base {
            "md4" => Ok(Self::Md4),
            "md5" => Ok(Self::Md5),
            "sha1" => Ok(Self::Sha1),
            "sha224" => Ok(Self::Sha224),
            "sha256" => Ok(Self::Sha256),
            "sha384" => Ok(Self::Sha384),
            "sha512" => Ok(Self::Sha512),
            _ => Err(HashError::unsupported("digest", name)),
        }
    }

    /// The canonical name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Md4 => "md4",
            Self::Md5 => "md5",
            Self::Sha1 => "sha1",
            Self::Sha224 => "sha224",
            Self::Sha256 => "sha256",
            Self::Sha384 => "sha384",
            Self::Sha512 => "sha512",
        }
    }

    /// Output length in bytes.
    pub fn output_len(self) -> usize {
        match self {
            Self::Md4 | Self::Md5 => 16,
            Self::Sha1 => 20,
            Self::Sha224 => 28,
            Self::Sha256 => 32,
            Self::Sha384 => 48,
            Self::Sha512 => 64,
        }
    }

    /// The digest of a plain salted-digest algorithm.
    pub fn of_plain(algorithm: PasswordAlgorithm) -> Option<Self> {
        match algorithm {
            PasswordAlgorithm::Md4 => Some(Self::Md4),
            PasswordAlgorithm::Md5 => Some(Self::Md5),
            PasswordAlgorithm::Sha1 => Some(Self::Sha1),
            PasswordAlgorithm::Sha256 => Some(Self::Sha256),
            PasswordAlgorithm::Sha512 => Some(Self::Sha512),
            _ => None,
        }
    }

    /// The plain salted-digest algorithm of this digest, if there is one.
    pub fn plain_algorithm(self) -> Option<PasswordAlgorithm> {
        PasswordAlgorithm::ALL
            .iter()
            .copied()
            .find(|&a| Self::of_plain(a) == Some(self))
    }
}

/// Where the salt goes relative to the password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaltPosition {
    /// `salt + password`.
    Prefix,
    /// `password + salt`.
    Suffix,
}

impl SaltPosition {
    /// The name, as Auth0 and the canonical form spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Prefix => "prefix",
            Self::Suffix => "suffix",
        }
    }
}

/// How the bytes a digest runs over are made: the salt, its position and
/// the password's encoding.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Salting {
    /// The salt and where it goes; `None`: unsalted.
    pub salt: Option<(Vec<u8>, SaltPosition)>,
    /// The password's encoding.
    pub encoding: PasswordEncoding,
}

impl Salting {
    /// The bytes the digest runs over.
    pub(crate) fn input(&self, password: &str) -> Vec<u8> {
        let password = self.encoding.encode(password);
        match &self.salt {
            None => password,
            Some((salt, SaltPosition::Prefix)) => [salt.as_slice(), &password].concat(),
            Some((salt, SaltPosition::Suffix)) => [password.as_slice(), salt].concat(),
        }
    }
}

/// An RFC 2307 scheme: a digest, salted (`{SSHA}`) or not (`{SHA}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LdapScheme {
    /// The digest.
    pub digest: Digest,
    /// Whether the value carries a salt after the digest.
    pub salted: bool,
}

impl LdapScheme {
    /// Parses a scheme name (between the braces), any case.
    pub fn parse(name: &str) -> Result<Self, HashError> {
        let upper = name.to_ascii_uppercase();
        let (salted, base) = match upper.as_str() {
            "SMD5" | "SSHA" | "SSHA224" | "SSHA256" | "SSHA384" | "SSHA512" => (true, &upper[1..]),
            _ => (false, upper.as_str()),
        };
        let digest = match base {
            "MD5" => Digest::Md5,
            "SHA" => Digest::Sha1,
            "SHA224" => Digest::Sha224,
            "SHA256" => Digest::Sha256,
            "SHA384" => Digest::Sha384,
            "SHA512" => Digest::Sha512,
            _ => return Err(HashError::unsupported("ldap scheme", name)),
        };
        Ok(Self { digest, salted })
    }

    /// The canonical (upper-case) name.
    pub fn name(self) -> String {
        let base = match self.digest {
            Digest::Md5 => "MD5",
            Digest::Sha1 => "SHA",
            Digest::Sha224 => "SHA224",
            Digest::Sha256 => "SHA256",
            Digest::Sha384 => "SHA384",
            Digest::Sha512 => "SHA512",
            Digest::Md4 => "MD4",
        };
        if self.salted {
            format!("S{base}")
        } else {
            base.to_owned()
        }
    }
}

/// A hash in one of the supported forms, with every parameter. It holds
/// secrets, so its `Debug` names the algorithm only.
#[derive(Clone, PartialEq, Eq)]
pub enum ParsedHash {
    /// A bcrypt modular crypt string, checked by the `bcrypt` crate.
    Bcrypt(String),
    /// An Argon2 PHC string, checked by the `argon2` crate.
    Argon2 {
        /// Which Argon2.
        algorithm: PasswordAlgorithm,
        /// The PHC string.
        phc: String,
    },
    /// PBKDF2 with HMAC-`digest`.
    Pbkdf2 {
        /// The HMAC digest.
        digest: Digest,
        /// Iterations.
        iterations: u32,
        /// Salt.
        salt: Vec<u8>,
        /// Derived key (its length is the key length).
        hash: Vec<u8>,
    },
    /// scrypt.
    Scrypt {
        /// log2 of the cost N.
        log_n: u8,
        /// Block size.
        r: u32,
        /// Parallelization.
        p: u32,
        /// Salt.
        salt: Vec<u8>,
        /// Derived key (its length is the key length).
        hash: Vec<u8>,
    },
    /// RFC 2307 `{SCHEME}base64(digest || salt)`.
    Ldap {
        /// The scheme.
        scheme: LdapScheme,
        /// The digest.
        digest: Vec<u8>,
        /// The salt (empty for an unsalted scheme).
        salt: Vec<u8>,
    },
    /// `digest(salted password)`.
    Plain {
        /// The digest (MD4, MD5, SHA-1, SHA-256 or SHA-512).
        digest: Digest,
        /// Salt, position and password encoding.
        salting: Salting,
        /// The digest's output.
        hash: Vec<u8>,
    },
    /// `HMAC-digest(key, salted password)`.
    Hmac {
        /// The digest.
        digest: Digest,
        /// The HMAC key.
        key: Vec<u8>,
        /// Salt, position and password encoding.
        salting: Salting,
        /// The MAC.
        hash: Vec<u8>,
    },
}

impl std::fmt::Debug for ParsedHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ParsedHash({}, [REDACTED])", self.algorithm())
    }
}

/// Splits `$id$params$salt$hash` into its four parts (empty parts allowed).
fn four_parts<'a>(
    algorithm: &'static str,
    text: &'a str,
) -> Result<(&'a str, &'a str, &'a str, &'a str), HashError> {
    let rest = text
        .strip_prefix('$')
        .ok_or_else(|| HashError::malformed(algorithm, "it must start with `$`"))?;
    let parts: Vec<&str> = rest.split('$').collect();
    match parts.as_slice() {
        [id, params, salt, hash] => Ok((id, params, salt, hash)),
        // PBKDF2 strings may leave out every parameter (Auth0's defaults).
        [id, salt, hash] if algorithm == "pbkdf2" => Ok((id, "", salt, hash)),
        _ => Err(HashError::malformed(
            algorithm,
            "it must have the form `$id$params$salt$hash`",
        )),
    }
}

/// Parses `name=value,...` into pairs, refusing repeated or unknown names.
fn params<'a>(
    algorithm: &'static str,
    text: &'a str,
    known: &[&str],
) -> Result<Vec<(&'a str, &'a str)>, HashError> {
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    if text.is_empty() {
        return Ok(pairs);
    }
    for pair in text.split(',') {
        let (name, value) = pair
            .split_once('=')
            .ok_or_else(|| HashError::malformed(algorithm, "a parameter lacks `=`"))?;
        if !known.contains(&name) {
            return Err(HashError::malformed(
                algorithm,
                format!(
                    "unknown parameter `{}`",
                    name.chars().take(16).collect::<String>()
                ),
            ));
        }
        if pairs.iter().any(|(n, _)| *n == name) {
            return Err(HashError::malformed(
                algorithm,
                format!("parameter `{name}` is repeated"),
            ));
        }
        pairs.push((name, value));
    }
    Ok(pairs)
}

fn param<'a>(pairs: &[(&str, &'a str)], name: &str) -> Option<&'a str> {
    pairs.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
}

fn number<T: std::str::FromStr>(
    algorithm: &'static str,
    name: &str,
    text: &str,
) -> Result<T, HashError> {
    // Canonical numbers: decimal, no sign, no leading zero.
    if text.is_empty()
        || !text.bytes().all(|b| b.is_ascii_digit())
        || (text.len() > 1 && text.starts_with('0'))
    {
        return Err(HashError::malformed(
            algorithm,
            format!("`{name}` is not a decimal number"),
        ));
    }
    text.parse()
        .map_err(|_| HashError::malformed(algorithm, format!("`{name}` is out of range")))
}

fn salting(
    algorithm: &'static str,
    pairs: &[(&str, &str)],
    salt: &str,
) -> Result<Salting, HashError> {
    let position = match param(pairs, "sp") {
        Some("prefix") => Some(SaltPosition::Prefix),
        Some("suffix") => Some(SaltPosition::Suffix),
        Some("none") => None,
        _ => {
            return Err(HashError::malformed(
                algorithm,
                "`sp` must be prefix, suffix or none",
            ));
        }
    };
    let encoding = match param(pairs, "pe") {
        Some(name) => PasswordEncoding::parse(name).and_then(|e| {
            if e.as_str() == name {
                Ok(e)
            } else {
                Err(HashError::malformed(algorithm, "`pe` is not canonical"))
            }
        })?,
        None => return Err(HashError::malformed(algorithm, "`pe` is missing")),
    };
    let salt = match position {
        None if salt.is_empty() => None,
        None => {
            return Err(HashError::malformed(
                algorithm,
                "a salt is given with `sp=none`",
            ));
        }
        Some(_) if salt.is_empty() => {
            return Err(HashError::malformed(algorithm, "the salt is empty"));
        }
        Some(position) => Some((phc_decode(algorithm, "salt", salt)?, position)),
    };
    Ok(Salting { salt, encoding })
}

fn salting_params(salting: &Salting) -> (String, String) {
    let (sp, salt) = match &salting.salt {
        None => ("none", String::new()),
        Some((salt, position)) => (position.as_str(), phc_encode(salt)),
    };
    (format!("sp={sp},pe={}", salting.encoding.as_str()), salt)
}

fn check_len(algorithm: &'static str, digest: Digest, hash: &[u8]) -> Result<(), HashError> {
    if hash.len() == digest.output_len() {
        Ok(())
    } else {
        Err(HashError::malformed(
            algorithm,
            format!(
                "the hash is {} bytes long, but {} gives {}",
                hash.len(),
                digest.as_str(),
                digest.output_len()
            ),
        ))
    }
}

impl ParsedHash {
    /// The algorithm (the `algorithm` column).
    pub fn algorithm(&self) -> PasswordAlgorithm {
        match self {
            Self::Bcrypt(_) => PasswordAlgorithm::Bcrypt,
            Self::Argon2 { algorithm, .. } => *algorithm,
            Self::Pbkdf2 { .. } => PasswordAlgorithm::Pbkdf2,
            Self::Scrypt { .. } => PasswordAlgorithm::Scrypt,
            Self::Ldap { .. } => PasswordAlgorithm::Ldap,
            Self::Hmac { .. } => PasswordAlgorithm::Hmac,
            Self::Plain { digest, .. } => {
                digest.plain_algorithm().unwrap_or(PasswordAlgorithm::Md5)
            }
        }
    }

    /// Parses the canonical form of `algorithm`. A string that is not in the
    /// canonical form (though it may mean the same hash) is refused, so that
    /// every stored hash has exactly one spelling.
    pub fn parse(algorithm: PasswordAlgorithm, text: &str) -> Result<Self, HashError> {
        let parsed = Self::parse_lenient(algorithm, text)?;
        if parsed.to_canonical() != text {
            return Err(HashError::malformed(
                algorithm.as_str(),
                "it is not in the canonical form",
            ));
        }
        Ok(parsed)
    }

    /// Parses `algorithm`'s form, also accepting spellings that are not
    /// canonical (defaults left out, padded base64, lower-case LDAP schemes,
    /// digest aliases); [`ParsedHash::to_canonical`] then writes the one spelling.
    pub fn parse_lenient(algorithm: PasswordAlgorithm, text: &str) -> Result<Self, HashError> {
        let name = algorithm.as_str();
        match algorithm {
            PasswordAlgorithm::Bcrypt => {
                let parts: bcrypt::HashParts = text.parse().map_err(|_| {
                    HashError::malformed(name, "it is not a bcrypt string `$2b$NN$…`")
                })?;
                let _ = parts;
                if !["$2a$", "$2b$", "$2y$"].iter().any(|p| text.starts_with(p)) {
                    return Err(HashError::unsupported(
                        "bcrypt version",
                        text.get(..4).unwrap_or(""),
                    ));
                }
                Ok(Self::Bcrypt(text.to_owned()))
            }
            PasswordAlgorithm::Argon2id
            | PasswordAlgorithm::Argon2i
            | PasswordAlgorithm::Argon2d => {
                let phc = argon2::PasswordHash::new(text)
                    .map_err(|_| HashError::malformed(name, "it is not a PHC string"))?;
                let found = match phc.algorithm.as_str() {
                    "argon2id" => PasswordAlgorithm::Argon2id,
                    "argon2i" => PasswordAlgorithm::Argon2i,
                    "argon2d" => PasswordAlgorithm::Argon2d,
                    other => return Err(HashError::unsupported("argon2 variant", other)),
                };
                if found != algorithm {
                    return Err(HashError::invalid(
                        name,
                        format!("the string is of {found}"),
                    ));
                }
                argon2::Params::try_from(&phc)
                    .map_err(|_| HashError::malformed(name, "its parameters are invalid"))?;
                if phc.salt.is_none() || phc.hash.is_none() {
                    return Err(HashError::malformed(name, "it lacks a salt or a hash"));
                }
                Ok(Self::Argon2 {
                    algorithm,
                    phc: text.to_owned(),
                })
            }
            PasswordAlgorithm::Pbkdf2 => {
                let (id, params_text, salt, hash) = four_parts(name, text)?;
                let digest = id
                    .strip_prefix("pbkdf2-")
                    .ok_or_else(|| HashError::malformed(name, "the id must be `pbkdf2-<digest>`"))
                    .and_then(Digest::parse)?;
                let pairs = params(name, params_text, &["i", "l"])?;
                // Auth0's defaults when a parameter is left out.
                let iterations =
                    param(&pairs, "i").map_or(Ok(100_000), |v| number(name, "i", v))?;
                let key_len: usize = param(&pairs, "l").map_or(Ok(64), |v| number(name, "l", v))?;
                if iterations == 0 {
                    return Err(HashError::malformed(name, "`i` must be at least 1"));
                }
                let salt = phc_decode(name, "salt", salt)?;
                let hash = phc_decode(name, "hash", hash)?;
                if salt.is_empty() || hash.is_empty() {
                    return Err(HashError::malformed(name, "the salt or hash is empty"));
                }
                if hash.len() != key_len {
                    return Err(HashError::malformed(
                        name,
                        format!("`l={key_len}` but the hash is {} bytes long", hash.len()),
                    ));
                }
                Ok(Self::Pbkdf2 {
                    digest,
                    iterations,
                    salt,
                    hash,
                })
            }
            PasswordAlgorithm::Scrypt => {
                let (id, params_text, salt, hash) = four_parts(name, text)?;
                if id != "scrypt" {
                    return Err(HashError::malformed(name, "the id must be `scrypt`"));
                }
                let pairs = params(name, params_text, &["ln", "r", "p"])?;
                let get = |n: &str| {
                    param(&pairs, n)
                        .ok_or_else(|| HashError::malformed(name, format!("`{n}` is missing")))
                };
                let log_n: u8 = number(name, "ln", get("ln")?)?;
                let r: u32 = number(name, "r", get("r")?)?;
                let p: u32 = number(name, "p", get("p")?)?;
                scrypt::Params::new(log_n, r, p)
                    .map_err(|_| HashError::malformed(name, "its parameters are out of range"))?;
                let salt = phc_decode(name, "salt", salt)?;
                let hash = phc_decode(name, "hash", hash)?;
                if hash.is_empty() {
                    return Err(HashError::malformed(name, "the hash is empty"));
                }
                Ok(Self::Scrypt {
                    log_n,
                    r,
                    p,
                    salt,
                    hash,
                })
            }
            PasswordAlgorithm::Ldap => {
                let rest = text
                    .strip_prefix('{')
                    .ok_or_else(|| HashError::malformed(name, "it must start with `{SCHEME}`"))?;
                let (scheme, value) = rest
                    .split_once('}')
                    .ok_or_else(|| HashError::malformed(name, "the scheme lacks its `}`"))?;
                let scheme = LdapScheme::parse(scheme)?;
                let bytes = padded_decode(name, "value", value)?;
                let len = scheme.digest.output_len();
                if bytes.len() < len || (!scheme.salted && bytes.len() != len) {
                    return Err(HashError::malformed(
                        name,
                        format!(
                            "the value is {} bytes long, which {{{}}} does not allow",
                            bytes.len(),
                            scheme.name()
                        ),
                    ));
                }
                let (digest, salt) = bytes.split_at(len);
                if scheme.salted && salt.is_empty() {
                    return Err(HashError::malformed(name, "a salted scheme without a salt"));
                }
                Ok(Self::Ldap {
                    scheme,
                    digest: digest.to_vec(),
                    salt: salt.to_vec(),
                })
            }
            PasswordAlgorithm::Md4
            | PasswordAlgorithm::Md5
            | PasswordAlgorithm::Sha1
            | PasswordAlgorithm::Sha256
            | PasswordAlgorithm::Sha512 => {
                let (id, params_text, salt, hash) = four_parts(name, text)?;
                if id != name {
                    return Err(HashError::malformed(
                        name,
                        format!("the id must be `{name}`"),
                    ));
                }
                let digest = Digest::of_plain(algorithm)
                    .ok_or_else(|| HashError::unsupported("algorithm", name))?;
                let pairs = params(name, params_text, &["sp", "pe"])?;
                let salting = salting(name, &pairs, salt)?;
                let hash = phc_decode(name, "hash", hash)?;
                check_len(name, digest, &hash)?;
                Ok(Self::Plain {
                    digest,
                    salting,
                    hash,
                })
            }
            PasswordAlgorithm::Hmac => {
                let (id, params_text, salt, hash) = four_parts(name, text)?;
                let digest = id
                    .strip_prefix("hmac-")
                    .ok_or_else(|| HashError::malformed(name, "the id must be `hmac-<digest>`"))
                    .and_then(Digest::parse)?;
                let pairs = params(name, params_text, &["k", "sp", "pe"])?;
                let key = param(&pairs, "k")
                    .ok_or_else(|| HashError::malformed(name, "the key `k` is missing"))?;
                let key = phc_decode(name, "key", key)?;
                if key.is_empty() {
                    return Err(HashError::malformed(name, "the key is empty"));
                }
                let salting = salting(name, &pairs, salt)?;
                let hash = phc_decode(name, "hash", hash)?;
                check_len(name, digest, &hash)?;
                Ok(Self::Hmac {
                    digest,
                    key,
                    salting,
                    hash,
                })
            }
        }
    }

    /// The canonical text form (what the `password` column holds).
    pub fn to_canonical(&self) -> String {
        match self {
            Self::Bcrypt(text) | Self::Argon2 { phc: text, .. } => text.clone(),
            Self::Pbkdf2 {
                digest,
                iterations,
                salt,
                hash,
            } => format!(
                "$pbkdf2-{}$i={iterations},l={}${}${}",
                digest.as_str(),
                hash.len(),
                phc_encode(salt),
                phc_encode(hash)
            ),
            Self::Scrypt {
                log_n,
                r,
                p,
                salt,
                hash,
            } => format!(
                "$scrypt$ln={log_n},r={r},p={p}${}${}",
                phc_encode(salt),
                phc_encode(hash)
            ),
            Self::Ldap {
                scheme,
                digest,
                salt,
            } => format!(
                "{{{}}}{}",
                scheme.name(),
                padded_encode(&[digest.as_slice(), salt].concat())
            ),
            Self::Plain {
                digest,
                salting,
                hash,
            } => {
                let (params, salt) = salting_params(salting);
                format!("${}${params}${salt}${}", digest.as_str(), phc_encode(hash))
            }
            Self::Hmac {
                digest,
                key,
                salting,
                hash,
            } => {
                let (params, salt) = salting_params(salting);
                format!(
                    "$hmac-{}$k={},{params}${salt}${}",
                    digest.as_str(),
                    phc_encode(key),
                    phc_encode(hash)
                )
            }
        }
    }
}
