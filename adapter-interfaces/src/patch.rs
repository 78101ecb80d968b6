//! Serde support for patch fields that can be set, cleared or left alone.

/// `Option<Option<T>>` where an absent field means "leave as is" (`None`),
/// `null` means "clear" (`Some(None)`) and a value means "set" (`Some(Some(v))`).
///
/// Use with `#[serde(default, skip_serializing_if = "Option::is_none", with = "nullable")]`.
pub mod nullable {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    /// Serialises `Some(None)` as `null` and `Some(Some(v))` as `v`.
    pub fn serialize<T: Serialize, S: Serializer>(
        value: &Option<Option<T>>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(inner) => inner.serialize(serializer),
            None => serializer.serialize_none(),
        }
    }

    /// Deserialises a present field (even `null`) as `Some(..)`.
    pub fn deserialize<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Option<T>>, D::Error> {
        Option::<T>::deserialize(deserializer).map(Some)
    }
}

/// The patch type of entities that are never updated field by field (codes,
/// passwords, logs). It carries no change.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NoPatch {}
