//! Field-level comparison of the records two stores return.

use std::collections::HashMap;

use adapter_interfaces::{EntityKind, Timestamp};
use serde::Serialize;
use serde_json::Value as Json;

use crate::entity::{Entity, display_key};

/// One difference between a primary's and a secondary's answer. Field
/// names only: values (which may be secrets) are never copied into reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Difference {
    /// The primary returned the record; the secondary did not.
    MissingOnSecondary {
        /// The record's key.
        key: String,
    },
    /// The secondary returned a record the primary did not.
    OnlyOnSecondary {
        /// The record's key.
        key: String,
    },
    /// Both returned the record, with these fields differing.
    Fields {
        /// The record's key.
        key: String,
        /// The differing fields.
        fields: Vec<String>,
    },
    /// Same records, different order.
    Order,
}

/// The differences between two answers, record by record (matched by key).
pub fn diff_records<R: Entity>(expected: &[R], actual: &[R]) -> Vec<Difference> {
    let mut differences = Vec::new();
    let by_key: HashMap<&str, &R> = actual.iter().map(|r| (r.key(), r)).collect();
    for record in expected {
        match by_key.get(record.key()) {
            None => differences.push(Difference::MissingOnSecondary {
                key: display_key::<R>(record.key()),
            }),
            Some(other) if *other != record => differences.push(Difference::Fields {
                key: display_key::<R>(record.key()),
                fields: differing_fields(record, other),
            }),
            Some(_) => {}
        }
    }
    let expected_keys: HashMap<&str, ()> = expected.iter().map(|r| (r.key(), ())).collect();
    for record in actual {
        if !expected_keys.contains_key(record.key()) {
            differences.push(Difference::OnlyOnSecondary {
                key: display_key::<R>(record.key()),
            });
        }
    }
    if differences.is_empty()
        && !expected
            .iter()
            .map(|r| r.key())
            .eq(actual.iter().map(|r| r.key()))
    {
        differences.push(Difference::Order);
    }
    differences
}

/// The names of the fields whose values differ.
pub fn differing_fields<R: Entity>(a: &R, b: &R) -> Vec<String> {
    let (Ok(Json::Object(a)), Ok(Json::Object(b))) =
        (serde_json::to_value(a), serde_json::to_value(b))
    else {
        return vec!["<record>".to_owned()];
    };
    let mut fields: Vec<String> = a
        .iter()
        .filter(|(name, value)| b.get(name.as_str()) != Some(value))
        .map(|(name, _)| name.clone())
        .chain(
            b.keys()
                .filter(|name| !a.contains_key(name.as_str()))
                .cloned(),
        )
        .collect();
    fields.sort();
    fields
}

/// A sampled read whose primary and secondary answers differ.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mismatch {
    /// The secondary compared.
    pub secondary: String,
    /// The entity read.
    pub entity: EntityKind,
    /// The read method (`get`, `list`, `get_current`).
    pub method: &'static str,
    /// The tenant.
    pub tenant_id: String,
    /// The key read, or a description of the list.
    pub key: String,
    /// What differs: missing or extra records, field names (never values).
    pub differences: Vec<Difference>,
    /// When it was seen.
    pub at: Timestamp,
}
