//! Millisecond-precision UTC timestamps, the only time type entities carry.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, NaiveDate, SecondsFormat, TimeZone, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::AdapterError;

/// A UTC instant truncated to whole milliseconds.
///
/// Every backend stores milliseconds, so the type makes finer precision
/// impossible to express: constructing a `Timestamp` from a more precise
/// instant truncates it (towards the past), the same way everywhere. It
/// serialises as Auth0 does, `2024-01-01T00:00:00.000Z`.
///
/// ```
/// use adapter_interfaces::Timestamp;
/// let t: Timestamp = "2024-01-01T00:00:00.123456Z".parse().unwrap();
/// assert_eq!(t.to_string(), "2024-01-01T00:00:00.123Z");
/// assert_eq!(t.as_millis(), 1_704_067_200_123);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(DateTime<Utc>);

impl Timestamp {
    /// The earliest instant any backend stores: `1000-01-01T00:00:00.000Z` (MySQL's `DATETIME` floor).
    pub const MIN_YEAR: i32 = 1000;
    /// The latest year any backend stores (four-digit years keep text timestamps sortable).
    pub const MAX_YEAR: i32 = 9999;

    /// The earliest instant the type holds (`chrono`'s minimum, in the year -262143).
    pub const MIN: Timestamp = Timestamp(DateTime::<Utc>::MIN_UTC);
    /// The latest instant the type holds (`chrono`'s maximum, in the year 262142,
    /// truncated to milliseconds).
    pub const MAX: Timestamp = Self::from_millis_const(DateTime::<Utc>::MAX_UTC.timestamp_millis());
    /// The earliest storable instant, `1000-01-01T00:00:00.000Z`.
    pub const FIRST_STORABLE: Timestamp = Self::from_millis_const(-30_610_224_000_000);
    /// The latest storable instant, `9999-12-31T23:59:59.999Z`.
    pub const LAST_STORABLE: Timestamp = Self::from_millis_const(253_402_300_799_999);

    const fn from_millis_const(millis: i64) -> Self {
        match DateTime::from_timestamp_millis(millis) {
            Some(instant) => Self(instant),
            None => panic!("a millisecond count outside chrono's range"),
        }
    }

    /// The current time, truncated to milliseconds.
    pub fn now() -> Self {
        Self::from_datetime(Utc::now())
    }

    /// Truncates a `chrono` instant to milliseconds.
    pub fn from_datetime(instant: DateTime<Utc>) -> Self {
        Self::from_millis(instant.timestamp_millis()).unwrap_or(Self(instant))
    }

    /// Milliseconds since the Unix epoch; `None` when out of `chrono`'s range.
    pub fn from_millis(millis: i64) -> Option<Self> {
        Utc.timestamp_millis_opt(millis).single().map(Self)
    }

    /// Milliseconds since the Unix epoch.
    pub fn as_millis(&self) -> i64 {
        self.0.timestamp_millis()
    }

    /// The instant as a `chrono` value (always whole milliseconds).
    pub fn as_datetime(&self) -> DateTime<Utc> {
        self.0
    }

    /// Whether every backend can store this instant (years 1000 to 9999, from
    /// [`Timestamp::FIRST_STORABLE`] to [`Timestamp::LAST_STORABLE`]). Writes
    /// reject the others with `InvalidInput` on the field.
    pub fn is_storable(&self) -> bool {
        (Self::MIN_YEAR..=Self::MAX_YEAR).contains(&self.0.year())
    }

    /// The latest storable instant strictly before this one, `None` when no
    /// storable instant precedes it (this one is at or before
    /// [`Timestamp::FIRST_STORABLE`]).
    ///
    /// Stored timestamps are storable, so `stored < self` holds exactly when
    /// `stored <= self.last_storable_before()`: what lets a backend answer a
    /// comparison with any cut-off (`codes.cleanup(Timestamp::MAX)`) by
    /// binding only values its database accepts.
    ///
    /// ```
    /// use adapter_interfaces::Timestamp;
    /// assert_eq!(Timestamp::MAX.last_storable_before(), Some(Timestamp::LAST_STORABLE));
    /// assert_eq!(Timestamp::MIN.last_storable_before(), None);
    /// assert_eq!(Timestamp::FIRST_STORABLE.last_storable_before(), None);
    /// let t: Timestamp = "2024-01-01T00:00:00.000Z".parse().unwrap();
    /// assert_eq!(t.last_storable_before().unwrap().to_string(), "2023-12-31T23:59:59.999Z");
    /// ```
    pub fn last_storable_before(&self) -> Option<Timestamp> {
        if *self <= Self::FIRST_STORABLE {
            None
        } else {
            Some(self.plus_millis(-1).min(Self::LAST_STORABLE))
        }
    }

    /// The canonical text form, `YYYY-MM-DDTHH:MM:SS.mmmZ`: what SQLite columns hold,
    /// and what sorts chronologically as text.
    pub fn to_canonical_string(&self) -> String {
        self.0.to_rfc3339_opts(SecondsFormat::Millis, true)
    }

    /// Adds a signed number of milliseconds (saturating at `chrono`'s range).
    pub fn plus_millis(&self, millis: i64) -> Self {
        Self::from_millis(self.as_millis().saturating_add(millis)).unwrap_or(*self)
    }
}

impl From<DateTime<Utc>> for Timestamp {
    fn from(instant: DateTime<Utc>) -> Self {
        Self::from_datetime(instant)
    }
}

impl From<Timestamp> for DateTime<Utc> {
    fn from(t: Timestamp) -> Self {
        t.0
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_canonical_string())
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_canonical_string())
    }
}

impl FromStr for Timestamp {
    type Err = AdapterError;

    /// Parses RFC 3339 (any offset, any precision) or a bare date `YYYY-MM-DD` (midnight UTC).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Ok(instant) = DateTime::parse_from_rfc3339(s) {
            return Ok(Self::from_datetime(instant.with_timezone(&Utc)));
        }
        if let Ok(date) = NaiveDate::parse_from_str(s, "%Y-%m-%d")
            && let Some(midnight) = date.and_hms_opt(0, 0, 0)
        {
            return Ok(Self::from_datetime(midnight.and_utc()));
        }
        Err(AdapterError::invalid(
            "timestamp",
            format!("`{s}` is not an RFC 3339 timestamp or a YYYY-MM-DD date"),
        ))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_canonical_string())
    }
}

impl Timestamp {
    /// Parses what [`Timestamp::from_str`] does, and also the canonical form
    /// of the instants outside the years 0 to 9999, which carry a sign and
    /// may have more than four digits (`+10000-01-01T00:00:00.000Z`,
    /// `-0001-12-31T23:59:59.999Z`): every `Timestamp` serialises to text
    /// that deserialises back to it, so that a record holding an unstorable
    /// instant reaches validation (and its `InvalidInput` on that field)
    /// instead of failing to deserialise or losing the value.
    pub fn parse_any_year(text: &str) -> Result<Self, AdapterError> {
        if let Ok(t) = text.parse() {
            return Ok(t);
        }
        let with_offset = text.strip_suffix('Z').map(|rest| format!("{rest}+00:00"));
        DateTime::parse_from_str(
            with_offset.as_deref().unwrap_or(text),
            "%Y-%m-%dT%H:%M:%S%.f%:z",
        )
        .map(|instant| Self::from_datetime(instant.with_timezone(&Utc)))
        .map_err(|_| {
            AdapterError::invalid(
                "timestamp",
                format!("`{text}` is not an RFC 3339 timestamp or a YYYY-MM-DD date"),
            )
        })
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse_any_year(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncates_sub_millisecond_parts_towards_the_past() {
        let t: Timestamp = "2024-05-06T07:08:09.999999+02:00".parse().unwrap();
        assert_eq!(t.to_string(), "2024-05-06T05:08:09.999Z");
        let before_epoch: Timestamp = "1969-12-31T23:59:59.9995Z".parse().unwrap();
        assert_eq!(before_epoch.to_string(), "1969-12-31T23:59:59.999Z");
    }

    #[test]
    fn parses_dates_and_rejects_garbage() {
        let t: Timestamp = "2024-01-02".parse().unwrap();
        assert_eq!(t.to_string(), "2024-01-02T00:00:00.000Z");
        assert!("yesterday".parse::<Timestamp>().is_err());
    }

    #[test]
    fn serde_round_trip_is_canonical() {
        let t = Timestamp::from_millis(1_700_000_000_123).unwrap();
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(json, "\"2023-11-14T22:13:20.123Z\"");
        assert_eq!(serde_json::from_str::<Timestamp>(&json).unwrap(), t);
    }

    #[test]
    fn every_instant_round_trips_through_serde() {
        for t in [
            Timestamp::MIN,
            Timestamp::MAX,
            Timestamp::FIRST_STORABLE,
            Timestamp::LAST_STORABLE,
            Timestamp::FIRST_STORABLE.plus_millis(-1),
            Timestamp::LAST_STORABLE.plus_millis(1),
            Timestamp::from_millis(-62_167_219_200_001).unwrap(), // just before year 0
        ] {
            let json = serde_json::to_string(&t).unwrap();
            assert_eq!(
                serde_json::from_str::<Timestamp>(&json).unwrap(),
                t,
                "{json}"
            );
        }
        assert_eq!(
            Timestamp::LAST_STORABLE.plus_millis(1).to_string(),
            "+10000-01-01T00:00:00.000Z"
        );
        // The text form of `q` values stays four-digit.
        assert!("+10000-01-01T00:00:00.000Z".parse::<Timestamp>().is_err());
    }

    #[test]
    fn storable_bounds() {
        assert_eq!(
            Timestamp::FIRST_STORABLE.to_string(),
            "1000-01-01T00:00:00.000Z"
        );
        assert_eq!(
            Timestamp::LAST_STORABLE.to_string(),
            "9999-12-31T23:59:59.999Z"
        );
        assert!(Timestamp::FIRST_STORABLE.is_storable());
        assert!(Timestamp::LAST_STORABLE.is_storable());
        assert!(!Timestamp::FIRST_STORABLE.plus_millis(-1).is_storable());
        assert!(!Timestamp::LAST_STORABLE.plus_millis(1).is_storable());
        assert!(!Timestamp::MIN.is_storable() && !Timestamp::MAX.is_storable());
        assert_eq!(
            Timestamp::LAST_STORABLE
                .plus_millis(1)
                .last_storable_before(),
            Some(Timestamp::LAST_STORABLE)
        );
        assert_eq!(
            Timestamp::FIRST_STORABLE
                .plus_millis(1)
                .last_storable_before(),
            Some(Timestamp::FIRST_STORABLE)
        );
    }

    #[test]
    fn storable_range() {
        assert!(Timestamp::now().is_storable());
        assert!(
            !"0999-12-31T00:00:00Z"
                .parse::<Timestamp>()
                .unwrap()
                .is_storable()
        );
    }
}
