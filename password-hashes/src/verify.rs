//! Checking a plaintext against a [`ParsedHash`], in constant time, and
//! deciding whether a hash should be replaced by the project's default.

use hmac::{KeyInit, Mac};
use sha2::Digest as _;
use subtle::ConstantTimeEq;

use adapter_interfaces::PasswordAlgorithm;
use argon2::PasswordVerifier;

use crate::canonical::{Digest, ParsedHash};
use crate::error::HashError;

/// The outcome of a verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verification {
    /// Whether the plaintext is the password.
    pub matches: bool,
    /// Whether, the password being right, the hash should be replaced by
    /// one of the default algorithm ([`crate::hash_default`]) now that the
    /// plaintext is at hand (rehash on login).
    pub needs_rehash: bool,
}

/// The memory, in KiB, below which an Argon2id hash is upgraded: the
/// `argon2` crate's default (OWASP's minimum for Argon2id).
pub const MIN_ARGON2_MEMORY_KIB: u32 = argon2::Params::DEFAULT_M_COST;
/// The passes below which an Argon2id hash is upgraded.
pub const MIN_ARGON2_PASSES: u32 = argon2::Params::DEFAULT_T_COST;

fn digest_of(digest: Digest, input: &[u8]) -> Vec<u8> {
    match digest {
        Digest::Md4 => md4::Md4::digest(input).to_vec(),
        Digest::Md5 => md5::Md5::digest(input).to_vec(),
        Digest::Sha1 => sha1::Sha1::digest(input).to_vec(),
        Digest::Sha224 => sha2::Sha224::digest(input).to_vec(),
        Digest::Sha256 => sha2::Sha256::digest(input).to_vec(),
        Digest::Sha384 => sha2::Sha384::digest(input).to_vec(),
        Digest::Sha512 => sha2::Sha512::digest(input).to_vec(),
    }
}

fn hmac_of(digest: Digest, key: &[u8], input: &[u8]) -> Option<Vec<u8>> {
    fn mac<M: Mac + KeyInit>(key: &[u8], input: &[u8]) -> Option<Vec<u8>> {
        let mut mac = <M as KeyInit>::new_from_slice(key).ok()?;
        mac.update(input);
        Some(mac.finalize().into_bytes().to_vec())
    }
    match digest {
        Digest::Md4 => mac::<hmac::Hmac<md4::Md4>>(key, input),
        Digest::Md5 => mac::<hmac::Hmac<md5::Md5>>(key, input),
        Digest::Sha1 => mac::<hmac::Hmac<sha1::Sha1>>(key, input),
        Digest::Sha224 => mac::<hmac::Hmac<sha2::Sha224>>(key, input),
        Digest::Sha256 => mac::<hmac::Hmac<sha2::Sha256>>(key, input),
        Digest::Sha384 => mac::<hmac::Hmac<sha2::Sha384>>(key, input),
        Digest::Sha512 => mac::<hmac::Hmac<sha2::Sha512>>(key, input),
    }
}

fn pbkdf2_of(digest: Digest, password: &[u8], salt: &[u8], rounds: u32, out: &mut [u8]) {
    match digest {
        Digest::Md4 => pbkdf2::pbkdf2_hmac::<md4::Md4>(password, salt, rounds, out),
        Digest::Md5 => pbkdf2::pbkdf2_hmac::<md5::Md5>(password, salt, rounds, out),
        Digest::Sha1 => pbkdf2::pbkdf2_hmac::<sha1::Sha1>(password, salt, rounds, out),
        Digest::Sha224 => pbkdf2::pbkdf2_hmac::<sha2::Sha224>(password, salt, rounds, out),
        Digest::Sha256 => pbkdf2::pbkdf2_hmac::<sha2::Sha256>(password, salt, rounds, out),
        Digest::Sha384 => pbkdf2::pbkdf2_hmac::<sha2::Sha384>(password, salt, rounds, out),
        Digest::Sha512 => pbkdf2::pbkdf2_hmac::<sha2::Sha512>(password, salt, rounds, out),
    }
}

/// Constant-time equality of two byte strings (their lengths are public).
fn same(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

impl ParsedHash {
    /// Whether `plaintext` is the password, comparing in constant time.
    pub fn matches(&self, plaintext: &str) -> Result<bool, HashError> {
        let algorithm = self.algorithm().as_str();
        match self {
            Self::Bcrypt(text) => bcrypt::verify(plaintext, text)
                .map_err(|_| HashError::malformed(algorithm, "the bcrypt crate refused it")),
            Self::Argon2 { phc, .. } => {
                let hash = argon2::PasswordHash::new(phc)
                    .map_err(|_| HashError::malformed(algorithm, "it is not a PHC string"))?;
                match argon2::Argon2::default().verify_password(plaintext.as_bytes(), &hash) {
                    Ok(()) => Ok(true),
                    Err(argon2::password_hash::Error::PasswordInvalid) => Ok(false),
                    Err(_) => Err(HashError::malformed(
                        algorithm,
                        "its parameters are invalid",
                    )),
                }
            }
            Self::Pbkdf2 {
                digest,
                iterations,
                salt,
                hash,
            } => {
                let mut out = vec![0u8; hash.len()];
                pbkdf2_of(*digest, plaintext.as_bytes(), salt, *iterations, &mut out);
                Ok(same(&out, hash))
            }
            Self::Scrypt {
                log_n,
                r,
                p,
                salt,
                hash,
            } => {
                let params = scrypt::Params::new(*log_n, *r, *p).map_err(|_| {
                    HashError::malformed(algorithm, "its parameters are out of range")
                })?;
                let mut out = vec![0u8; hash.len()];
                scrypt::scrypt(plaintext.as_bytes(), salt, &params, &mut out).map_err(|_| {
                    HashError::malformed(algorithm, "its key length is out of range")
                })?;
                Ok(same(&out, hash))
            }
            Self::Ldap {
                scheme,
                digest,
                salt,
            } => {
                let input = [plaintext.as_bytes(), salt].concat();
                Ok(same(&digest_of(scheme.digest, &input), digest))
            }
            Self::Plain {
                digest,
                salting,
                hash,
            } => Ok(same(&digest_of(*digest, &salting.input(plaintext)), hash)),
            Self::Hmac {
                digest,
                key,
                salting,
                hash,
            } => {
                let mac = hmac_of(*digest, key, &salting.input(plaintext))
                    .ok_or_else(|| HashError::malformed(algorithm, "the key is unusable"))?;
                Ok(same(&mac, hash))
            }
        }
    }

    /// Whether the hash falls short of the default: anything but Argon2id
    /// with at least the default memory and passes.
    pub fn needs_rehash(&self) -> bool {
        match self {
            Self::Argon2 {
                algorithm: PasswordAlgorithm::Argon2id,
                phc,
            } => argon2::PasswordHash::new(phc)
                .ok()
                .and_then(|hash| argon2::Params::try_from(&hash).ok())
                .is_none_or(|params| {
                    params.m_cost() < MIN_ARGON2_MEMORY_KIB || params.t_cost() < MIN_ARGON2_PASSES
                }),
            _ => true,
        }
    }

    /// [`ParsedHash::matches`] and [`ParsedHash::needs_rehash`] together.
    pub fn verify(&self, plaintext: &str) -> Result<Verification, HashError> {
        let matches = self.matches(plaintext)?;
        Ok(Verification {
            matches,
            needs_rehash: matches && self.needs_rehash(),
        })
    }
}
