//! Column metadata and the generic record machinery every adapter shares.
//!
//! Each entity describes its columns once ([`Record::COLUMNS`]); the listing
//! planner, the `q` parser, validation, the in-memory adapter and the SQL
//! backends all work from that description, so the rules live in one place.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};
use std::fmt;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

use crate::error::{AdapterError, EntityKind, Result};
use crate::timestamp::Timestamp;

/// How a column is stored and compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ColumnKind {
    /// A string of at most `max_chars` Unicode scalar values, compared by bytes.
    Text {
        /// The longest value accepted (in characters).
        max_chars: usize,
    },
    /// A signed 64-bit integer.
    Int,
    /// A boolean.
    Bool,
    /// A [`Timestamp`].
    Timestamp,
    /// A JSON document (objects, lists and maps are stored this way).
    Json,
}

/// One column of an entity's table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Column {
    /// The field and column name.
    pub name: &'static str,
    /// Storage type.
    pub kind: ColumnKind,
    /// Whether the column may be NULL.
    pub nullable: bool,
    /// Usable in `q` as `field:value` and in comparisons.
    pub filterable: bool,
    /// Usable as a sort field.
    pub sortable: bool,
    /// Searched by bare `q` terms (substring match).
    pub searchable: bool,
    /// Holds a secret: never logged, never in error messages.
    pub secret: bool,
    /// Must not be an empty string.
    pub non_empty: bool,
    /// Stored lowercased (emails); `q` values for it are lowercased too.
    pub lowercase: bool,
    /// A derived column: the ASCII-folded copy ([`ascii_fold`]) of the named
    /// column, written from it by [`to_values`] and ignored by
    /// [`from_values`]; the record type does not carry it. `q` compares it
    /// (with the folded query value) where the named column is searched, so
    /// that the search is case-insensitive and still served by an index.
    pub folds: Option<&'static str>,
}

impl Column {
    const fn new(name: &'static str, kind: ColumnKind) -> Self {
        Self {
            name,
            kind,
            nullable: false,
            filterable: false,
            sortable: false,
            searchable: false,
            secret: false,
            non_empty: false,
            lowercase: false,
            folds: None,
        }
    }
    /// A text column of at most `max_chars` characters.
    pub const fn text(name: &'static str, max_chars: usize) -> Self {
        Self::new(name, ColumnKind::Text { max_chars })
    }
    /// An integer column.
    pub const fn int(name: &'static str) -> Self {
        Self::new(name, ColumnKind::Int)
    }
    /// A boolean column.
    pub const fn bool(name: &'static str) -> Self {
        Self::new(name, ColumnKind::Bool)
    }
    /// A timestamp column.
    pub const fn timestamp(name: &'static str) -> Self {
        Self::new(name, ColumnKind::Timestamp)
    }
    /// A JSON column.
    pub const fn json(name: &'static str) -> Self {
        Self::new(name, ColumnKind::Json)
    }
    /// Marks the column nullable.
    pub const fn nullable(mut self) -> Self {
        self.nullable = true;
        self
    }
    /// Marks the column usable in `q`.
    pub const fn filter(mut self) -> Self {
        self.filterable = true;
        self
    }
    /// Marks the column sortable (and filterable).
    pub const fn sort(mut self) -> Self {
        self.sortable = true;
        self.filterable = true;
        self
    }
    /// Marks the column searched by bare terms (and filterable).
    pub const fn search(mut self) -> Self {
        self.searchable = true;
        self.filterable = true;
        self
    }
    /// Marks the column secret.
    pub const fn secret(mut self) -> Self {
        self.secret = true;
        self
    }
    /// Marks the column as stored lowercased.
    pub const fn lowercase(mut self) -> Self {
        self.lowercase = true;
        self
    }
    /// Marks the column as rejecting the empty string.
    pub const fn non_empty(mut self) -> Self {
        self.non_empty = true;
        self
    }
    /// Makes the column the stored ASCII-folded copy of column `source`
    /// (see [`Column::folds`]): nullable as any copy of a nullable column,
    /// and neither a field of `q` nor of a sort by its own name.
    pub const fn folds(mut self, source: &'static str) -> Self {
        self.folds = Some(source);
        self.nullable = true;
        self
    }
}

/// ASCII case folding: `A`-`Z` become `a`-`z`, every other character stays
/// (`Jöhn ÖSTER` is `jöhn Öster`).
///
/// This, not Unicode folding, is what the case-insensitive fields of `q`
/// compare, because it is the one folding that every database computes
/// identically (see [`crate::schema::ascii_fold_sql`], which back-fills the
/// folded columns with the same function in SQL).
pub fn ascii_fold(text: &str) -> String {
    text.to_ascii_lowercase()
}

/// A column value, as adapters bind and read it.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "t", content = "v", rename_all = "snake_case")]
pub enum Value {
    /// SQL NULL.
    Null,
    /// A text value.
    Text(String),
    /// An integer value.
    Int(i64),
    /// A boolean value.
    Bool(bool),
    /// A timestamp value.
    Timestamp(Timestamp),
    /// A JSON value.
    Json(Json),
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("NULL"),
            Value::Text(s) => write!(f, "{s:?}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Timestamp(t) => write!(f, "{t}"),
            Value::Json(j) => write!(f, "{j}"),
        }
    }
}

impl Value {
    /// Whether the value is NULL.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The canonical total order of the backends: NULL first, then by value
    /// (text by bytes, `false` before `true`). Values of different kinds
    /// never meet in one column; they order by kind.
    pub fn canonical_cmp(&self, other: &Value) -> Ordering {
        fn rank(v: &Value) -> u8 {
            match v {
                Value::Null => 0,
                Value::Text(_) => 1,
                Value::Int(_) => 2,
                Value::Bool(_) => 3,
                Value::Timestamp(_) => 4,
                Value::Json(_) => 5,
            }
        }
        match (self, other) {
            (Value::Text(a), Value::Text(b)) => a.as_bytes().cmp(b.as_bytes()),
            (Value::Int(a), Value::Int(b)) => a.cmp(b),
            (Value::Bool(a), Value::Bool(b)) => a.cmp(b),
            (Value::Timestamp(a), Value::Timestamp(b)) => a.cmp(b),
            (Value::Json(a), Value::Json(b)) => a.to_string().cmp(&b.to_string()),
            _ => rank(self).cmp(&rank(other)),
        }
    }

    /// The text, if this is a text value.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Value::Text(s) => Some(s),
            _ => None,
        }
    }
}

/// An entity type: its table, columns, keys and the conversions all adapters share.
///
/// Implemented by the eight entity records; backends use it to write one
/// generic implementation instead of eight.
pub trait Record:
    Clone + fmt::Debug + PartialEq + Serialize + DeserializeOwned + Send + Sync + 'static
{
    /// What the caller passes to `create`.
    type Insert: Clone + fmt::Debug + Serialize + DeserializeOwned + Send + Sync + 'static;
    /// What the caller passes to `update` (entities that can be updated).
    type Patch: Clone + fmt::Debug + Serialize + DeserializeOwned + Send + Sync + 'static;

    /// The entity kind.
    const KIND: EntityKind;
    /// Every column, the key first, in table order. Tenant-scoped tables also
    /// have a leading `tenant_id` column that is not listed here. Derived
    /// columns ([`Column::folds`]) come last: they are stored, not fields.
    const COLUMNS: &'static [Column];
    /// Groups of columns that must be unique within a tenant, with the field
    /// reported in the [`AdapterError::Conflict`] (the primary key is implied).
    const UNIQUE: &'static [UniqueKey] = &[];
    /// The parent this entity references, if any (besides its tenant).
    const PARENT: Option<ParentRef> = None;

    /// The primary key value (unique within a tenant).
    fn key(&self) -> &str;

    /// Builds the record a `create` stores: generates what the insert leaves
    /// out (id, timestamps), normalises (lowercased email) and validates.
    fn from_insert(insert: Self::Insert, now: Timestamp) -> Result<Self>;

    /// Entity-specific rules beyond the column metadata (email syntax, id
    /// format, ...). The default accepts everything.
    fn validate_extra(&self) -> Result<()> {
        Ok(())
    }

    /// Normalises a caller-supplied record the way `from_insert` would (used by
    /// `upsert`). The default leaves it unchanged.
    fn normalize(&mut self) {}

    /// The primary key column.
    fn key_column() -> &'static Column {
        &Self::COLUMNS[0]
    }

    /// Looks a column up by name.
    fn column(name: &str) -> Option<&'static Column> {
        Self::COLUMNS.iter().find(|c| c.name == name)
    }

    /// The derived column that holds the ASCII-folded copy of column
    /// `name`, if the entity has one ([`Column::folds`]).
    fn folded_column(name: &str) -> Option<&'static Column> {
        Self::COLUMNS.iter().find(|c| c.folds == Some(name))
    }
}

/// A unique key over one or more columns (within a tenant).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UniqueKey {
    /// The columns; a NULL in any of them makes the row exempt, as in SQL.
    pub columns: &'static [&'static str],
    /// The field named in the conflict error.
    pub field: &'static str,
}

/// A reference from a record to a parent record of the same tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParentRef {
    /// The referencing column (e.g. `user_id`).
    pub column: &'static str,
    /// The parent kind; deleting a parent deletes its children.
    pub parent: EntityKind,
}

fn schema_error(kind: EntityKind, detail: impl fmt::Display) -> AdapterError {
    AdapterError::Backend {
        message: format!("{kind} record does not match its schema: {detail}"),
        source: None,
    }
}

/// The column values of a record, in [`Record::COLUMNS`] order: the
/// record's fields, and the derived columns ([`Column::folds`]) computed
/// from them, so that every write of every adapter stores them.
pub fn to_values<R: Record>(record: &R) -> Vec<Value> {
    let json = serde_json::to_value(record).unwrap_or(Json::Null);
    R::COLUMNS.iter().map(|c| stored_value(c, &json)).collect()
}

/// The value of one column of a record (a derived column included).
pub fn column_value<R: Record>(record: &R, column: &str) -> Value {
    let json = serde_json::to_value(record).unwrap_or(Json::Null);
    match R::column(column) {
        Some(c) => stored_value(c, &json),
        None => Value::Null,
    }
}

/// The stored value of `column` for a record serialised as `json`.
fn stored_value(column: &Column, json: &Json) -> Value {
    let field = column.folds.unwrap_or(column.name);
    match json_to_value(column, json.get(field).cloned().unwrap_or(Json::Null)) {
        Value::Text(text) if column.folds.is_some() => Value::Text(ascii_fold(&text)),
        value => value,
    }
}

fn json_to_value(column: &Column, json: Json) -> Value {
    match (column.kind, json) {
        (_, Json::Null) if column.kind != ColumnKind::Json || column.nullable => Value::Null,
        (ColumnKind::Json, j) => Value::Json(j),
        (ColumnKind::Text { .. }, Json::String(s)) => Value::Text(s),
        (ColumnKind::Int, Json::Number(n)) => n.as_i64().map(Value::Int).unwrap_or(Value::Null),
        (ColumnKind::Bool, Json::Bool(b)) => Value::Bool(b),
        // Any year, so that an unstorable instant reaches validation as itself.
        (ColumnKind::Timestamp, Json::String(s)) => Timestamp::parse_any_year(&s)
            .map(Value::Timestamp)
            .unwrap_or(Value::Null),
        _ => Value::Null,
    }
}

/// Rebuilds a record from its column values (in [`Record::COLUMNS`] order),
/// as a backend reads them from a row. The values of derived columns
/// ([`Column::folds`]) are ignored: the record is its own fields.
pub fn from_values<R: Record>(values: Vec<Value>) -> Result<R> {
    if values.len() != R::COLUMNS.len() {
        return Err(schema_error(
            R::KIND,
            format!(
                "expected {} columns, got {}",
                R::COLUMNS.len(),
                values.len()
            ),
        ));
    }
    let mut object = Map::with_capacity(values.len());
    for (column, value) in R::COLUMNS.iter().zip(values) {
        if column.folds.is_some() {
            // Derived from another column when written; the record has no such field.
            continue;
        }
        let json = match value {
            Value::Null => Json::Null,
            Value::Text(s) => Json::String(s),
            Value::Int(i) => Json::from(i),
            Value::Bool(b) => Json::Bool(b),
            Value::Timestamp(t) => Json::String(t.to_canonical_string()),
            Value::Json(j) => j,
        };
        object.insert(column.name.to_owned(), json);
    }
    serde_json::from_value(Json::Object(object)).map_err(|e| schema_error(R::KIND, e))
}

/// Applies a patch: every field the patch carries replaces the record's
/// (`null` clears a nullable field), and `updated_at` becomes `now` if the
/// entity has one. The result is validated.
pub fn apply_patch<R: Record>(record: &R, patch: &R::Patch, now: Timestamp) -> Result<R> {
    let mut json = serde_json::to_value(record).map_err(|e| schema_error(R::KIND, e))?;
    let patch = serde_json::to_value(patch).map_err(|e| schema_error(R::KIND, e))?;
    if let (Json::Object(target), Json::Object(changes)) = (&mut json, patch) {
        for (field, value) in changes {
            if field == R::key_column().name {
                continue;
            }
            target.insert(field, value);
        }
        if target.contains_key("updated_at") {
            target.insert("updated_at".into(), Json::String(now.to_canonical_string()));
        }
    }
    let mut updated: R = serde_json::from_value(json)
        .map_err(|e| AdapterError::invalid(R::KIND.singular(), e.to_string()))?;
    updated.normalize();
    validate(&updated)?;
    Ok(updated)
}

/// Builds a record from an insert serialised as a JSON object: fills the
/// key with `generated_key` when absent and `created_at`/`updated_at` (or
/// `date`) with `now` when the entity has them and the insert does not.
/// Used by the entities' [`Record::from_insert`].
pub fn record_from_insert<R: Record>(
    insert: &R::Insert,
    generated_key: impl FnOnce(&Map<String, Json>) -> String,
    now: Timestamp,
) -> Result<R> {
    let mut json = serde_json::to_value(insert)
        .map_err(|e| AdapterError::invalid(R::KIND.singular(), e.to_string()))?;
    if let Json::Object(object) = &mut json {
        let key = R::key_column().name;
        if object.get(key).is_none_or(Json::is_null) {
            let generated = generated_key(object);
            object.insert(key.into(), Json::String(generated));
        }
        let created = object.get("created_at").filter(|v| !v.is_null()).cloned();
        for column in R::COLUMNS {
            let stamp = match column.name {
                "created_at" | "date" => Json::String(now.to_canonical_string()),
                // A copy that carries created_at but no updated_at gets created_at.
                "updated_at" => created
                    .clone()
                    .unwrap_or_else(|| Json::String(now.to_canonical_string())),
                _ => continue,
            };
            if object.get(column.name).is_none_or(Json::is_null) {
                object.insert(column.name.into(), stamp);
            }
        }
    }
    let mut record: R = serde_json::from_value(json)
        .map_err(|e| AdapterError::invalid(R::KIND.singular(), e.to_string()))?;
    record.normalize();
    validate(&record)?;
    Ok(record)
}

/// Rewrites, in place, the JSON numbers that databases would not keep as
/// written, so that every backend stores and returns the same document.
///
/// A float with a whole value from 10^16 up (which serde_json writes in
/// exponent form, `1e16`) becomes the integer of that value when it fits in
/// 64 bits: PostgreSQL's `jsonb` keeps numbers as decimals and returns such a
/// float as `10000000000000000`, an integer, so without this a document read
/// back from PostgreSQL would differ from the one written elsewhere. JSON (and
/// JavaScript) make no difference between the two spellings. Every other
/// number is left alone.
///
/// ```
/// use adapter_interfaces::record::canonicalize_json_numbers;
/// use serde_json::json;
///
/// let mut doc = json!({"big": 1e16, "small": 1.5, "list": [2e18, 1e300]});
/// canonicalize_json_numbers(&mut doc);
/// assert_eq!(doc, json!({"big": 10_000_000_000_000_000_u64, "small": 1.5,
///                        "list": [2_000_000_000_000_000_000_u64, 1e300]}));
/// ```
pub fn canonicalize_json_numbers(json: &mut Json) {
    // Below this magnitude serde_json prints a whole float with ".0", which
    // PostgreSQL's numeric keeps as a decimal (read back as a float).
    const EXPONENT_FORM: f64 = 1e16;
    // 2^63 and 2^64, exactly representable as f64.
    const I64_END: f64 = 9_223_372_036_854_775_808.0;
    const U64_END: f64 = 18_446_744_073_709_551_616.0;
    match json {
        Json::Number(n) if n.is_f64() => {
            let Some(f) = n.as_f64() else { return };
            if f.fract() != 0.0 || f.abs() < EXPONENT_FORM {
                return;
            }
            // The casts are exact: f is whole and inside the target's range.
            if (-I64_END..I64_END).contains(&f) {
                *json = Json::from(f as i64);
            } else if (0.0..U64_END).contains(&f) {
                *json = Json::from(f as u64);
            }
        }
        Json::Array(items) => items.iter_mut().for_each(canonicalize_json_numbers),
        Json::Object(map) => map.values_mut().for_each(canonicalize_json_numbers),
        _ => {}
    }
}

/// [`canonicalize_json_numbers`] over every value of a JSON object field.
pub fn canonicalize_json_object(object: &mut Map<String, Json>) {
    object.values_mut().for_each(canonicalize_json_numbers);
}

/// The largest JSON document a column accepts, serialised.
pub const MAX_JSON_BYTES: usize = 64 * 1024;

/// The deepest JSON document a column accepts: arrays and objects nested at
/// most this many levels (`{}` and `[1]` are one level, `{"a": []}` two).
///
/// MariaDB's JSON check rejects documents of 32 levels or more, and
/// serde_json stops reading text at 128; 20 stays below both with room for
/// a document that is itself stored inside another one.
pub const MAX_JSON_DEPTH: usize = 20;

/// How deeply `json` nests arrays and objects (a scalar is 0), counted no
/// further than `limit + 1`: the recursion stays that shallow whatever the
/// document.
pub fn json_depth(json: &Json, limit: usize) -> usize {
    fn depth(json: &Json, budget: usize) -> usize {
        let children: Box<dyn Iterator<Item = &Json>> = match json {
            Json::Array(items) => Box::new(items.iter()),
            Json::Object(map) => Box::new(map.values()),
            _ => return 0,
        };
        if budget == 0 {
            return 1;
        }
        1 + children.map(|c| depth(c, budget - 1)).max().unwrap_or(0)
    }
    depth(json, limit)
}

/// Checks a record against its column metadata and entity rules.
pub fn validate<R: Record>(record: &R) -> Result<()> {
    for (column, value) in R::COLUMNS.iter().zip(to_values(record)) {
        validate_value(column, &value)?;
    }
    record.validate_extra()
}

/// Checks one value against its column.
pub fn validate_value(column: &Column, value: &Value) -> Result<()> {
    let field = column.name;
    match (column.kind, value) {
        (_, Value::Null) if column.nullable => Ok(()),
        (_, Value::Null) => Err(AdapterError::invalid(field, "is required")),
        (ColumnKind::Text { max_chars }, Value::Text(s)) => validate_text(column, s, max_chars),
        (ColumnKind::Timestamp, Value::Timestamp(t)) if !t.is_storable() => Err(
            AdapterError::invalid(field, "must be between the years 1000 and 9999"),
        ),
        (ColumnKind::Json, Value::Json(j)) => validate_json(field, j),
        _ => Ok(()),
    }
}

fn validate_text(column: &Column, s: &str, max_chars: usize) -> Result<()> {
    let field = column.name;
    if column.non_empty && s.trim().is_empty() {
        return Err(AdapterError::invalid(field, "must not be empty"));
    }
    if s.contains('\0') {
        return Err(AdapterError::invalid(
            field,
            "must not contain NUL characters",
        ));
    }
    let chars = s.chars().count();
    if chars > max_chars {
        return Err(AdapterError::invalid(
            field,
            format!("is {chars} characters long; the maximum is {max_chars}"),
        ));
    }
    Ok(())
}

fn validate_json(field: &str, json: &Json) -> Result<()> {
    fn has_nul(j: &Json) -> bool {
        match j {
            Json::String(s) => s.contains('\0'),
            Json::Array(items) => items.iter().any(has_nul),
            Json::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
            _ => false,
        }
    }
    // First, so that the recursive checks below never go deeper than the limit.
    let depth = json_depth(json, MAX_JSON_DEPTH);
    if depth > MAX_JSON_DEPTH {
        return Err(AdapterError::invalid(
            field,
            format!(
                "nests more than {MAX_JSON_DEPTH} levels of arrays and objects; the maximum is {MAX_JSON_DEPTH}"
            ),
        ));
    }
    if has_nul(json) {
        // PostgreSQL's jsonb cannot store \u0000; reject it everywhere alike.
        return Err(AdapterError::invalid(
            field,
            "must not contain NUL characters",
        ));
    }
    let size = json.to_string().len();
    if size > MAX_JSON_BYTES {
        return Err(AdapterError::invalid(
            field,
            format!("is {size} bytes of JSON; the maximum is {MAX_JSON_BYTES}"),
        ));
    }
    Ok(())
}

/// Validates an id the caller supplied: not empty, at most `max_chars`
/// characters, no whitespace or control characters.
pub fn validate_id(field: &str, id: &str, max_chars: usize) -> Result<()> {
    if id.is_empty() {
        return Err(AdapterError::invalid(field, "must not be empty"));
    }
    if id.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(AdapterError::invalid(
            field,
            "must not contain whitespace or control characters",
        ));
    }
    let chars = id.chars().count();
    if chars > max_chars {
        return Err(AdapterError::invalid(
            field,
            format!("is {chars} characters long; the maximum is {max_chars}"),
        ));
    }
    Ok(())
}

/// A fresh random id (UUID v7, lower-case hex without dashes): unique, and
/// roughly time-ordered so that default listing order follows creation.
pub fn generate_id() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

/// A fresh id with 122 random bits (UUID v4), for values that must not be guessable (codes).
pub fn generate_secret_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Whether no stored record can hold `text` in a text column: it contains a
/// NUL, which validation rejects in every text field (PostgreSQL could not
/// even store it).
///
/// A look-up by such an id or tenant id therefore finds nothing, and every
/// adapter answers it as for any id that does not exist (`None`, `false`,
/// `NotFound`, an empty page, 0) without sending it to a database: a
/// PostgreSQL driver fails to bind it.
///
/// ```
/// use adapter_interfaces::record::unstorable_text;
/// assert!(unstorable_text("auth0|a\0b"));
/// assert!(!unstorable_text("auth0|ab"));
/// ```
pub fn unstorable_text(text: &str) -> bool {
    text.contains('\0')
}

/// One unique key's values that a batch write takes: what a backend looks
/// up (the stored records holding them) before [`first_clash`] names the key
/// a failed write clashes on. See [`clash_probes`].
#[derive(Debug, Clone, PartialEq)]
pub struct ClashProbe {
    /// The field a conflict on this key names.
    pub field: &'static str,
    /// The key's columns.
    pub columns: Vec<&'static str>,
    /// Their values, in the same order (none of them NULL).
    pub values: Vec<Value>,
}

/// A unique key as positions in [`Record::COLUMNS`].
struct KeyColumns {
    field: &'static str,
    primary: bool,
    names: Vec<&'static str>,
    positions: Vec<usize>,
}

fn key_columns<R: Record>(with_primary: bool) -> Vec<KeyColumns> {
    let position = |name: &str| R::COLUMNS.iter().position(|c| c.name == name);
    let mut keys = Vec::with_capacity(R::UNIQUE.len() + 1);
    if with_primary {
        keys.push(KeyColumns {
            field: R::key_column().name,
            primary: true,
            names: vec![R::key_column().name],
            positions: vec![0],
        });
    }
    for unique in R::UNIQUE {
        let positions: Vec<usize> = unique.columns.iter().filter_map(|c| position(c)).collect();
        if positions.len() == unique.columns.len() {
            keys.push(KeyColumns {
                field: unique.field,
                primary: false,
                names: unique.columns.to_vec(),
                positions,
            });
        }
    }
    keys
}

/// The values of each key of `keys` in a record's column values (`None`
/// where one of them is NULL: the row is exempt, as in SQL).
fn key_values(values: &[Value], keys: &[KeyColumns]) -> Vec<Option<Vec<Value>>> {
    keys.iter()
        .map(|key| {
            let taken: Vec<Value> = key.positions.iter().map(|&i| values[i].clone()).collect();
            (!taken.iter().any(Value::is_null)).then_some(taken)
        })
        .collect()
}

/// A hashable form of key values.
fn key_text(values: &[Value]) -> String {
    serde_json::to_string(values).unwrap_or_default()
}

/// Every distinct unique-key value that writing `records` takes (the
/// primary key too when `with_primary`, as for a `create`), in the order
/// [`first_clash`] considers them: a backend reads the stored records that
/// hold any of them (`WHERE (c1 = ? AND c2 = ?) OR …`, in as many statements
/// as its bind limit needs) and passes them to [`first_clash`]. Linear in
/// the batch.
pub fn clash_probes<R: Record>(records: &[R], with_primary: bool) -> Vec<ClashProbe> {
    let keys = key_columns::<R>(with_primary);
    let mut seen = HashSet::new();
    let mut probes = Vec::new();
    for record in records {
        let values = to_values(record);
        for (key, taken) in keys.iter().zip(key_values(&values, &keys)) {
            let Some(taken) = taken else { continue };
            if seen.insert((key.field, key_text(&taken))) {
                probes.push(ClashProbe {
                    field: key.field,
                    columns: key.names.clone(),
                    values: taken,
                });
            }
        }
    }
    probes
}

/// The unique keys held by a set of records (one tenant's), kept up to date
/// as records are written: what names the key a write clashes on, in time
/// proportional to the records instead of their square.
///
/// Built from the stored records (at least those that may clash), it
/// answers [`UniqueIndex::clash`] for a record about to be written and
/// learns it with [`UniqueIndex::place`]; a record that replaces another of
/// the same key replaces its values. The in-memory adapter checks batches
/// with it, and [`first_clash`] (what the SQL backends run after a failed
/// write) is built on it.
pub struct UniqueIndex<R> {
    keys: Vec<KeyColumns>,
    /// For each key: its values (as text) -> the records holding them.
    holders: Vec<HashMap<String, HashSet<String>>>,
    /// For each record: the values (as text) of each key it holds.
    current: HashMap<String, Vec<Option<String>>>,
    _record: std::marker::PhantomData<fn() -> R>,
}

impl<R: Record> fmt::Debug for UniqueIndex<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UniqueIndex")
            .field("entity", &R::KIND)
            .field("records", &self.current.len())
            .finish()
    }
}

impl<R: Record> UniqueIndex<R> {
    /// The index of `stored`, over [`Record::UNIQUE`] and, when
    /// `with_primary`, the primary key too (a `create`'s first check).
    pub fn new<'a>(with_primary: bool, stored: impl IntoIterator<Item = &'a R>) -> Self {
        let keys = key_columns::<R>(with_primary);
        let mut index = Self {
            holders: vec![HashMap::new(); keys.len()],
            keys,
            current: HashMap::new(),
            _record: std::marker::PhantomData,
        };
        for record in stored {
            index.place(record);
        }
        index
    }

    fn texts(&self, record: &R) -> Vec<Option<String>> {
        key_values(&to_values(record), &self.keys)
            .into_iter()
            .map(|taken| taken.map(|v| key_text(&v)))
            .collect()
    }

    /// The first key (the primary key when the index has it, then
    /// [`Record::UNIQUE`] in order) whose values `record` would take from
    /// another record; `None` when it takes none.
    pub fn clash(&self, record: &R) -> Option<&'static str> {
        let texts = self.texts(record);
        for ((key, held), text) in self.keys.iter().zip(&self.holders).zip(&texts) {
            let Some(text) = text else { continue };
            let taken = held.get(text).is_some_and(|set| {
                if key.primary {
                    !set.is_empty()
                } else {
                    set.iter().any(|other| other != record.key())
                }
            });
            if taken {
                return Some(key.field);
            }
        }
        None
    }

    /// Records `record` as written (replacing the values of its key).
    pub fn place(&mut self, record: &R) {
        let texts = self.texts(record);
        let key = record.key();
        if let Some(old) = self.current.insert(key.to_owned(), texts.clone()) {
            for (held, text) in self.holders.iter_mut().zip(old) {
                if let Some(set) = text.and_then(|t| held.get_mut(&t)) {
                    set.remove(key);
                }
            }
        }
        for (held, text) in self.holders.iter_mut().zip(texts) {
            if let Some(text) = text {
                held.entry(text).or_default().insert(key.to_owned());
            }
        }
    }
}

/// The first unique key that `records`, written in order over `stored`,
/// would take from another record: the field the reference names in its
/// `Conflict` (record by record; for each, the primary key when
/// `with_primary`, then [`Record::UNIQUE`] in order). `None`: no clash.
///
/// `stored` must hold at least every stored record (of the tenant) that
/// holds one of the [`clash_probes`] of `records`; any others are ignored.
/// A stored record that an earlier record of the batch overwrites counts
/// with its new values, as when writing one record at a time. Linear in the
/// batch and in `stored`: one pure computation for every backend, each of
/// which only runs its look-up.
///
/// ```
/// use adapter_interfaces::record::{clash_probes, first_clash};
/// use adapter_interfaces::{Connection, ConnectionInsert, Record, Timestamp};
///
/// let now = Timestamp::now();
/// let connection = |id: &str, name: &str| {
///     let insert = ConnectionInsert {
///         id: Some(id.into()),
///         name: name.into(),
///         strategy: "auth0".into(),
///         ..Default::default()
///     };
///     Connection::from_insert(insert, now).unwrap()
/// };
/// let stored = vec![connection("con_1", "db")];
/// let batch = vec![connection("con_2", "google"), connection("con_3", "db")];
/// assert_eq!(clash_probes(&batch, false).len(), 2);
/// assert_eq!(first_clash(&batch, false, &stored), Some("name"));
/// // Renaming the stored one first frees its name.
/// let batch = vec![connection("con_1", "google"), connection("con_3", "db")];
/// assert_eq!(first_clash(&batch, false, &stored), None);
/// ```
pub fn first_clash<R: Record>(
    records: &[R],
    with_primary: bool,
    stored: &[R],
) -> Option<&'static str> {
    let mut index = UniqueIndex::new(with_primary, stored);
    for record in records {
        if let Some(field) = index.clash(record) {
            return Some(field);
        }
        index.place(record);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entities::User;

    #[test]
    fn ascii_fold_folds_ascii_letters_only() {
        assert_eq!(ascii_fold("Jöhn ÖSTER"), "jöhn Öster");
        assert_eq!(
            ascii_fold("ABC xyz 09 %_ İ ß Σ ǅ ＡＢ"),
            "abc xyz 09 %_ İ ß Σ ǅ ＡＢ"
        );
    }

    #[test]
    fn folded_columns_are_written_and_not_read() {
        let user: User = serde_json::from_value(serde_json::json!({
            "user_id": "auth0|1", "email": null, "username": null, "phone_number": null,
            "name": "Jöhn ÖSTER", "given_name": "Jöhn", "family_name": null,
            "nickname": "JJ", "picture": null, "locale": null, "provider": "auth0",
            "connection": "db", "linked_to": null, "last_ip": null, "last_login": null,
            "created_at": "2024-01-01T00:00:00Z", "updated_at": "2024-01-01T00:00:00Z"
        }))
        .expect("a user");
        let values = to_values(&user);
        assert_eq!(values.len(), User::COLUMNS.len());
        let at = |name: &str| {
            let i = User::COLUMNS
                .iter()
                .position(|c| c.name == name)
                .expect(name);
            values[i].clone()
        };
        assert_eq!(at("name_folded"), Value::Text("jöhn Öster".into()));
        assert_eq!(at("given_name_folded"), Value::Text("jöhn".into()));
        assert_eq!(at("family_name_folded"), Value::Null);
        assert_eq!(at("nickname_folded"), Value::Text("jj".into()));
        assert_eq!(
            column_value(&user, "nickname_folded"),
            Value::Text("jj".into())
        );
        assert_eq!(
            User::folded_column("name").map(|c| c.name),
            Some("name_folded")
        );
        assert_eq!(User::folded_column("username"), None);
        // Whatever a row holds in them, the record is its own fields.
        let mut read = values.clone();
        let i = User::COLUMNS
            .iter()
            .position(|c| c.name == "name_folded")
            .expect("column");
        read[i] = Value::Text("something else".into());
        assert_eq!(from_values::<User>(read).expect("read"), user);
    }
}
