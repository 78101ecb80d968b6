//! Value generators: the strings, timestamps and JSON documents that break
//! databases (case, collation, padding, multibyte and combining characters,
//! emoji, quotes and backslashes, strings at their length limit, sub-
//! millisecond timestamps, extreme years, large integers, nested JSON, empty
//! lists).
//!
//! Two rules keep comparisons deterministic (see the module docs of
//! [`crate::model`]): caller-supplied keys never start with a character
//! between `0` and `f` (so they order the same way against every adapter's
//! generated keys, 32 hex digits after a fixed prefix), and exact timestamps
//! never fall between 2020 and 2040 (so they order the same way against
//! every clock-stamped value).

use std::collections::BTreeMap;

use adapter_interfaces::Timestamp;
use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::Value as Json;

/// Words that collide under case folding, trailing-space padding, Unicode
/// normalisation or `LIKE` wildcards, and that need quoting in SQL or JSON.
pub const WORDS: &[&str] = &[
    "ada",
    "Ada",
    "ADA",
    "ada ",
    "aDa",
    "b",
    "B",
    "bob",
    "Bob",
    "",
    " ",
    "Zoë",
    "zoë",
    "ZOË",
    "Ünïcödé",
    "straße",
    "STRASSE",
    "İstanbul",
    "istanbul",
    "e\u{301}",
    "\u{e9}",
    "ǅ",
    "👩\u{200d}💻",
    "🦀",
    "東京",
    "שלום",
    "O'Brien",
    "\"quoted\"",
    "back\\slash",
    "50%_off",
    "a_b",
    "line\nbreak",
    "tab\there",
    "null",
    "NULL",
    "OR",
    "*",
];

/// Caller ids: no whitespace or control characters, and never a first
/// character between `0` and `f` (see the module docs), so mixed case comes
/// after the first character.
pub const ID_WORDS: &[&str] = &[
    "gAda",
    "gada",
    "gADA",
    "x'q",
    "x\"q",
    "x\\q",
    "ñandú",
    "Ω",
    "🦀",
    "zz",
    "k-1",
    "k_1",
    "ǅ",
    "~Zed",
    "~zed",
    "zoë",
    "zOË",
    "~tilde",
    "x%_y",
    "u@x.io",
    "Ñ\u{301}",
    "-dash",
    "!bang",
];

/// Short values of fields that are unique or compared often (connection
/// names, usernames, strategies), so that collisions happen.
pub const SHORT_WORDS: &[&str] = &[
    "db", "Db", "DB", "db ", "google", "Google", "ñ", "🦀", "x", "ß", "SS",
];

/// Emails, valid unless noted; several collide once lowercased.
pub const EMAILS: &[&str] = &[
    "ada@example.com",
    "Ada@Example.com",
    "ADA@EXAMPLE.COM",
    "zoë@ünï.de",
    "ZOË@ÜNÏ.DE",
    "o'brien@x.io",
    "\"q\"@x.io",
    "back\\slash@x.io",
    "🦀@crab.rs",
    "a+b@x.io",
    "İ@x.io",
    "a@b.co",
];

const URLS: &[&str] = &[
    "https://example.com/cb",
    "https://EXAMPLE.com/Cb?x=1&y='2'",
    "http://localhost:3000",
    "https://δοκιμή.example/ü?q=\"x\"",
    "urn:ietf:wg:oauth:2.0:oob",
    "",
];

/// How a text field is generated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Anything: [`WORDS`], random printable text, or a string at its limit.
    Free,
    /// [`SHORT_WORDS`] (collisions wanted).
    Short,
    /// [`EMAILS`].
    Email,
    /// URLs.
    Url,
    /// Ids ([`ID_WORDS`]).
    Id,
    /// A password hash or client secret.
    Secret,
}

fn words(list: &'static [&'static str]) -> BoxedStrategy<String> {
    select(list).prop_map(str::to_owned).boxed()
}

/// A string of exactly `max` characters, of a character that is wide in UTF-8.
fn at_limit(max: usize) -> BoxedStrategy<String> {
    select(&['z', 'é', '🦀', '\'', '\\', '東'][..])
        .prop_map(move |c| c.to_string().repeat(max))
        .boxed()
}

/// Text for a column of at most `max` characters. Invalid values (one
/// character too long, a NUL) come rarely, so that most writes succeed.
pub fn text(max: usize, style: Style) -> BoxedStrategy<String> {
    let valid = match style {
        Style::Free => prop_oneof![
            8 => words(WORDS),
            3 => "\\PC{0,12}",
            1 => at_limit(max),
        ]
        .boxed(),
        Style::Short => words(SHORT_WORDS),
        Style::Email => {
            prop_oneof![12 => words(EMAILS), 1 => Just("no-at-sign".to_owned())].boxed()
        }
        Style::Url => prop_oneof![
            6 => words(URLS),
            1 => Just(format!("https://x.io/{}", "é".repeat(max.saturating_sub(13)))),
        ]
        .boxed(),
        Style::Id => id_word(max),
        Style::Secret => prop_oneof![
            "\\$2b\\$10\\$[A-Za-z0-9./]{8,53}",
            Just("$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$'\"\\".to_owned()),
        ]
        .boxed(),
    };
    prop_oneof![
        300 => valid,
        1 => Just("x".repeat(max + 1)),
        1 => Just("nul\0byte".to_owned()),
    ]
    .boxed()
}

/// An id of at most `max` characters (the caller's part of a key).
pub fn id_word(max: usize) -> BoxedStrategy<String> {
    prop_oneof![
        10 => words(ID_WORDS),
        1 => Just(format!("z{}", "é".repeat(max.saturating_sub(1)))),
    ]
    .boxed()
}

/// Milliseconds since the epoch of 1000-01-01T00:00:00Z.
const YEAR_1000: i64 = -30_610_224_000_000;
/// 2020-01-01T00:00:00Z: exact timestamps stay before it ...
const YEAR_2020: i64 = 1_577_836_800_000;
/// ... or from 2040-01-01T00:00:00Z on, away from the clock.
const YEAR_2040: i64 = 2_208_988_800_000;
/// 9999-12-31T23:59:59.999Z.
const YEAR_9999_END: i64 = 253_402_300_799_999;

/// An exact timestamp (never between 2020 and 2040), often at an edge.
pub fn exact_timestamp() -> BoxedStrategy<Timestamp> {
    prop_oneof![
        2 => select(vec![
            YEAR_1000,
            YEAR_9999_END,
            0,
            -1,
            951_827_696_789,  // 2000-02-29T12:34:56.789Z
            YEAR_2020 - 1,
            YEAR_2040,
            YEAR_2040 + 1,
        ]),
        3 => YEAR_1000..YEAR_2020,
        3 => YEAR_2040..=YEAR_9999_END,
    ]
    .prop_filter_map("representable", Timestamp::from_millis)
    .boxed()
}

/// An exact timestamp as JSON text, sometimes with sub-millisecond digits
/// or a `+00:00` offset (deserialisation truncates them, as every adapter must).
pub fn timestamp_json() -> BoxedStrategy<Json> {
    (exact_timestamp(), 0u32..4, 0u32..1000)
        .prop_map(|(t, form, micros)| {
            let canonical = t.to_canonical_string();
            let base = canonical.trim_end_matches('Z');
            Json::String(match form {
                0 => format!("{base}{micros:03}Z"),
                1 => format!("{base}{micros:03}999+00:00"),
                _ => canonical,
            })
        })
        .boxed()
}

/// A timestamp as a `q` value: sub-millisecond RFC 3339, or a bare date.
pub fn q_timestamp() -> BoxedStrategy<String> {
    (exact_timestamp(), any::<bool>(), 0u32..1000)
        .prop_map(|(t, date_only, micros)| {
            let canonical = t.to_canonical_string();
            if date_only {
                canonical[..10].to_owned()
            } else {
                format!("{}{micros:03}Z", canonical.trim_end_matches('Z'))
            }
        })
        .boxed()
}

/// An integer, often at an edge.
pub fn integer() -> BoxedStrategy<i64> {
    prop_oneof![
        3 => select(vec![0, 1, -1, 42, i64::MAX, i64::MIN, 9_007_199_254_740_993]),
        1 => any::<i64>(),
    ]
    .boxed()
}

fn json_key() -> BoxedStrategy<String> {
    prop_oneof![
        3 => select(vec!["a", "A", "ä", "", "with space", "quo\"te", "back\\slash", "🦀", "dot.ted", "$ref"])
            .prop_map(str::to_owned),
        1 => "[a-z]{1,6}",
    ]
    .boxed()
}

/// A JSON value: nested arrays and objects, large integers, floats, text.
pub fn json_value() -> BoxedStrategy<Json> {
    let leaf = prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::Bool),
        integer().prop_map(Json::from),
        select(vec![
            0.5f64,
            -1.25,
            1e-7,
            std::f64::consts::PI,
            1.797_693_134_862_315_7e308,
            // Whole floats: kept as written below 1e16, turned into integers
            // from there (PostgreSQL's jsonb would), beyond 64 bits floats again.
            1.0,
            -0.0,
            1e15,
            1e16,
            -1e16,
            1.5e19,
            1e20,
        ])
        .prop_map(Json::from),
        text(40, Style::Free).prop_map(Json::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(Json::Array),
            btree_map(json_key(), inner, 0..4).prop_map(|m| Json::Object(m.into_iter().collect())),
        ]
    })
    .boxed()
}

/// A JSON object (metadata, options, device, details).
pub fn json_object() -> BoxedStrategy<Json> {
    btree_map(json_key(), json_value(), 0..4)
        .prop_map(|m| Json::Object(m.into_iter().collect()))
        .boxed()
}

/// A list of strings (callbacks, grant types): often empty, order significant.
pub fn string_list(style: Style) -> BoxedStrategy<Json> {
    vec(text(200, style), 0..4)
        .prop_map(|v| Json::Array(v.into_iter().map(Json::String).collect()))
        .boxed()
}

/// A map of strings to strings (client metadata).
pub fn string_map() -> BoxedStrategy<Json> {
    btree_map(json_key(), text(100, Style::Free), 0..3)
        .prop_map(|m: BTreeMap<String, String>| {
            Json::Object(m.into_iter().map(|(k, v)| (k, Json::String(v))).collect())
        })
        .boxed()
}
