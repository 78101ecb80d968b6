//! Byte encodings: the PHC strings' base64, the encodings Auth0 files use
//! for hashes, salts and keys, and the password encodings a hash was made with.

use base64::Engine;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

use crate::error::HashError;

/// PHC strings' base64: standard alphabet, no padding (padding tolerated on input).
const PHC_B64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Standard base64 with padding (LDAP values), padding optional on input.
const PADDED_B64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_encode_padding(true)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// URL-safe base64, which Auth0 accepts wherever it accepts base64.
const URL_B64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Encodes bytes as PHC base64.
pub(crate) fn phc_encode(bytes: &[u8]) -> String {
    PHC_B64.encode(bytes)
}

/// Decodes PHC base64; `part` names the field in the error.
pub(crate) fn phc_decode(
    algorithm: &'static str,
    part: &str,
    text: &str,
) -> Result<Vec<u8>, HashError> {
    PHC_B64
        .decode(text)
        .map_err(|_| HashError::malformed(algorithm, format!("the {part} is not valid base64")))
}

/// Encodes bytes as padded standard base64.
pub(crate) fn padded_encode(bytes: &[u8]) -> String {
    PADDED_B64.encode(bytes)
}

/// Decodes standard base64, padded or not.
pub(crate) fn padded_decode(
    algorithm: &'static str,
    part: &str,
    text: &str,
) -> Result<Vec<u8>, HashError> {
    PADDED_B64
        .decode(text)
        .map_err(|_| HashError::malformed(algorithm, format!("the {part} is not valid base64")))
}

/// How a value is written in an Auth0 file (`hash.encoding`, `salt.encoding`, `key.encoding`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueEncoding {
    /// Base64, standard or URL-safe, padded or not.
    Base64,
    /// Hexadecimal, either case.
    Hex,
    /// The UTF-8 bytes of the text itself.
    Utf8,
}

impl ValueEncoding {
    /// Parses Auth0's name of an encoding.
    pub fn parse(name: &str) -> Result<Self, HashError> {
        match name {
            "base64" => Ok(Self::Base64),
            "hex" => Ok(Self::Hex),
            "utf8" => Ok(Self::Utf8),
            other => Err(HashError::unsupported("value encoding", other)),
        }
    }

    /// Auth0's name of the encoding.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Base64 => "base64",
            Self::Hex => "hex",
            Self::Utf8 => "utf8",
        }
    }

    /// The bytes `text` stands for.
    pub(crate) fn decode(
        self,
        algorithm: &'static str,
        part: &str,
        text: &str,
    ) -> Result<Vec<u8>, HashError> {
        match self {
            Self::Utf8 => Ok(text.as_bytes().to_vec()),
            Self::Hex => hex::decode(text).map_err(|_| {
                HashError::malformed(algorithm, format!("the {part} is not valid hex"))
            }),
            Self::Base64 => {
                let engine = if text.contains(['-', '_']) {
                    &URL_B64
                } else {
                    &PADDED_B64
                };
                engine.decode(text).map_err(|_| {
                    HashError::malformed(algorithm, format!("the {part} is not valid base64"))
                })
            }
        }
    }
}

/// How the password's text was turned into bytes before hashing (Auth0's
/// `password.encoding`, with Node.js's meanings: `ucs2` is `utf16le`, and
/// `ascii` and `binary` are `latin1`, the low byte of each UTF-16 unit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PasswordEncoding {
    /// UTF-8 (the default).
    #[default]
    Utf8,
    /// UTF-16, little-endian.
    Utf16Le,
    /// One byte per UTF-16 unit, its low byte.
    Latin1,
}

impl PasswordEncoding {
    /// Parses a name, Auth0's aliases included.
    pub fn parse(name: &str) -> Result<Self, HashError> {
        match name {
            "utf8" => Ok(Self::Utf8),
            "utf16le" | "ucs2" => Ok(Self::Utf16Le),
            "latin1" | "binary" | "ascii" => Ok(Self::Latin1),
            other => Err(HashError::unsupported("password encoding", other)),
        }
    }

    /// The canonical name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Utf8 => "utf8",
            Self::Utf16Le => "utf16le",
            Self::Latin1 => "latin1",
        }
    }

    /// The bytes the hash was computed over for `password`.
    pub(crate) fn encode(self, password: &str) -> Vec<u8> {
        match self {
            Self::Utf8 => password.as_bytes().to_vec(),
            Self::Utf16Le => password.encode_utf16().flat_map(u16::to_le_bytes).collect(),
            Self::Latin1 => password
                .encode_utf16()
                .map(|unit| unit.to_le_bytes()[0])
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_encodings_follow_node() {
        assert_eq!(PasswordEncoding::Utf8.encode("é"), vec![0xc3, 0xa9]);
        assert_eq!(PasswordEncoding::Utf16Le.encode("é"), vec![0xe9, 0x00]);
        assert_eq!(PasswordEncoding::Latin1.encode("é"), vec![0xe9]);
        assert_eq!(
            PasswordEncoding::parse("ucs2"),
            Ok(PasswordEncoding::Utf16Le)
        );
        assert!(PasswordEncoding::parse("ebcdic").is_err());
    }

    #[test]
    fn auth0_value_encodings() {
        let e = |enc: ValueEncoding, text: &str| enc.decode("md5", "hash", text);
        assert_eq!(e(ValueEncoding::Hex, "0aFF"), Ok(vec![0x0a, 0xff]));
        assert_eq!(e(ValueEncoding::Base64, "-_8"), Ok(vec![0xfb, 0xff]));
        assert_eq!(e(ValueEncoding::Base64, "+/8="), Ok(vec![0xfb, 0xff]));
        assert!(e(ValueEncoding::Hex, "xyz").is_err());
    }
}
