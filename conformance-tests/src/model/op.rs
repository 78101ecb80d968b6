//! The operations of a model sequence, and how a failing sequence is printed.
//!
//! Operations are data: inserts, patches and exact records are JSON objects
//! (deserialised into the entity's insert, patch or record type when the
//! operation runs), so that one generic executor serves all eight entities
//! and a shrunk sequence prints as something a person can read and replay.
//!
//! References to other records are placeholders resolved when the operation
//! runs: `"@user#3"` in a field means "the 4th user the model knows (of the
//! operation's tenant if it has any)", so shrinking (which removes operations)
//! never leaves a dangling literal id behind.

use std::fmt;

use adapter_interfaces::{EntityKind, SortOrder, Timestamp};
use serde_json::{Map, Value as Json};

/// A reference to a record the model knows: the `n`-th key of its entity
/// (modulo how many there are), preferring those of the operation's tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRef {
    /// The `n`-th known key.
    Pool(u8),
    /// A key that was never created.
    Missing,
}

impl fmt::Display for KeyRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyRef::Pool(n) => write!(f, "#{n}"),
            KeyRef::Missing => f.write_str("<missing>"),
        }
    }
}

/// The tenant an operation runs under: the `n`-th tenant the model knows
/// (including removed ones), or one that never existed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TenantRef {
    /// The `n`-th known tenant.
    Pool(u8),
    /// A tenant that was never created.
    Missing,
}

impl fmt::Display for TenantRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TenantRef::Pool(n) => write!(f, "tenant#{n}"),
            TenantRef::Missing => f.write_str("tenant<missing>"),
        }
    }
}

/// One term of a generated `q`.
#[derive(Debug, Clone, PartialEq)]
pub enum QTerm {
    /// `[-]field:[op]value`.
    Field {
        /// Negated with `-`.
        negated: bool,
        /// The field (a filterable column, or anything for bad input).
        field: String,
        /// `""`, `">"`, `">="`, `"<"` or `"<="`.
        op: &'static str,
        /// The value.
        value: QValue,
    },
    /// `[-]_exists_:field`.
    Exists {
        /// Negated with `-`.
        negated: bool,
        /// The field.
        field: String,
    },
    /// A quoted bare term (substring of any searchable field).
    Bare {
        /// Negated with `-`.
        negated: bool,
        /// The term.
        value: QValue,
    },
    /// A search inside users' metadata, at a path and with a value taken
    /// from a record (so that it finds something).
    Meta {
        /// Negated with `-`.
        negated: bool,
        /// `_exists_:<column>.<path>` rather than `<column>.<path>:value`.
        exists: bool,
        /// `user_metadata` or `app_metadata`.
        column: &'static str,
        /// The `n`-th record of the tenant whose metadata gives path and value.
        record: u8,
        /// Which of that record's (path, value) places.
        place: u8,
        /// A literal value instead of the record's.
        literal: Option<&'static str>,
    },
}

/// A value in a generated `q`.
#[derive(Debug, Clone, PartialEq)]
pub enum QValue {
    /// This text, as is.
    Literal(String),
    /// The value of the term's field in the `n`-th record of the tenant
    /// (a literal fallback when it is NULL or stamped by the clock).
    FromRecord(u8),
    /// A piece of the `n`-th record's first non-empty searchable field:
    /// characters `start..start+len` (modulo its length).
    Substring(u8, u8, u8),
    /// [`QValue::FromRecord`] with the case of every letter swapped
    /// (Unicode's mappings, so `Zoë` is `zOË`): it still finds the record
    /// on a case-insensitive field when only ASCII letters differ, and is a
    /// near miss otherwise.
    SwappedFromRecord(u8),
    /// [`QValue::Substring`] with the case of every letter swapped.
    SwappedSubstring(u8, u8, u8),
}

/// `text` with every uppercase letter lowercased and every lowercase
/// letter uppercased (by Unicode's full mappings: `ß` is `SS`).
pub fn swap_case(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            let swapped: Vec<char> = if c.is_uppercase() {
                c.to_lowercase().collect()
            } else if c.is_lowercase() {
                c.to_uppercase().collect()
            } else {
                vec![c]
            };
            swapped
        })
        .collect()
}

/// How terms are joined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Join {
    /// Juxtaposition (implicit AND).
    Space,
    /// ` AND `.
    And,
    /// ` OR `.
    Or,
}

/// A generated `q`: terms and the joins between them.
#[derive(Debug, Clone, PartialEq)]
pub struct QSpec {
    /// The first term.
    pub first: QTerm,
    /// Further terms, each with the join before it.
    pub rest: Vec<(Join, QTerm)>,
}

/// Listing parameters as generated (sort by field name, `q` unresolved).
#[derive(Debug, Clone, PartialEq)]
pub struct ListSpec {
    /// Zero-based page.
    pub page: u32,
    /// Page size (0 and huge values are bad input on purpose).
    pub per_page: u32,
    /// Whether to ask for the total.
    pub include_totals: bool,
    /// Sort field and order.
    pub sort: Option<(String, SortOrder)>,
    /// Filter.
    pub q: Option<QSpec>,
}

/// One operation of a model sequence.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// `create` with this insert (a JSON object of the entity's insert type).
    Create {
        /// The entity.
        entity: EntityKind,
        /// The tenant (ignored for tenants).
        tenant: TenantRef,
        /// The insert.
        insert: Map<String, Json>,
    },
    /// `get`.
    Get {
        /// The entity.
        entity: EntityKind,
        /// The tenant.
        tenant: TenantRef,
        /// The key.
        key: KeyRef,
    },
    /// `update` with this patch.
    Update {
        /// The entity (tenants, users, applications, connections, sessions).
        entity: EntityKind,
        /// The tenant.
        tenant: TenantRef,
        /// The key.
        key: KeyRef,
        /// The patch (a JSON object of the entity's patch type).
        patch: Map<String, Json>,
    },
    /// `remove`.
    Remove {
        /// The entity.
        entity: EntityKind,
        /// The tenant.
        tenant: TenantRef,
        /// The key.
        key: KeyRef,
    },
    /// `upsert` of one exact record, or `upsert_many` of several.
    Upsert {
        /// The entity.
        entity: EntityKind,
        /// The tenant.
        tenant: TenantRef,
        /// The records (JSON objects of the entity's record type).
        records: Vec<Map<String, Json>>,
    },
    /// `codes.consume`.
    Consume {
        /// The tenant.
        tenant: TenantRef,
        /// The code.
        key: KeyRef,
    },
    /// `codes.cleanup`.
    Cleanup {
        /// The tenant.
        tenant: TenantRef,
        /// Codes that expired before this go.
        older_than: Timestamp,
    },
    /// `passwords.get_current`.
    GetCurrent {
        /// The tenant.
        tenant: TenantRef,
        /// The user.
        user: KeyRef,
    },
    /// One `list` call.
    List {
        /// The entity.
        entity: EntityKind,
        /// The tenant.
        tenant: TenantRef,
        /// The parameters.
        params: ListSpec,
    },
    /// A whole keyset scan: `list` with `from` until the last page.
    Scan {
        /// The entity.
        entity: EntityKind,
        /// The tenant.
        tenant: TenantRef,
        /// Page size, sort and filter (page is 0).
        params: ListSpec,
    },
}

fn compact(object: &Map<String, Json>) -> String {
    // Secrets stay out of printed sequences like everywhere else; the value is
    // generated test data, but the rule is simpler without exceptions.
    let shown: Map<String, Json> = object
        .iter()
        .map(|(k, v)| {
            let v = match (k.as_str(), v) {
                ("password" | "client_secret", Json::String(s)) => {
                    Json::String(format!("<secret: {} chars>", s.chars().count()))
                }
                _ => v.clone(),
            };
            (k.clone(), v)
        })
        .collect();
    Json::Object(shown).to_string()
}

impl fmt::Display for QValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QValue::Literal(s) => write!(f, "{s:?}"),
            QValue::FromRecord(n) => write!(f, "<value of record #{n}>"),
            QValue::Substring(n, start, len) => {
                write!(f, "<chars {start}..+{len} of record #{n}>")
            }
            QValue::SwappedFromRecord(n) => write!(f, "<value of record #{n}, case swapped>"),
            QValue::SwappedSubstring(n, start, len) => {
                write!(f, "<chars {start}..+{len} of record #{n}, case swapped>")
            }
        }
    }
}

impl fmt::Display for QTerm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let neg = |n: bool| if n { "-" } else { "" };
        match self {
            QTerm::Field {
                negated,
                field,
                op,
                value,
            } => write!(f, "{}{field}:{op}{value}", neg(*negated)),
            QTerm::Exists { negated, field } => write!(f, "{}_exists_:{field}", neg(*negated)),
            QTerm::Bare { negated, value } => write!(f, "{}{value}", neg(*negated)),
            QTerm::Meta {
                negated,
                exists,
                column,
                record,
                place,
                literal,
            } => write!(
                f,
                "{}{}{column}.<place {place} of record #{record}>{}",
                neg(*negated),
                if *exists { "_exists_:" } else { "" },
                match literal {
                    Some(v) => format!(":{v:?}"),
                    None if *exists => String::new(),
                    None => ":<its value>".to_owned(),
                }
            ),
        }
    }
}

impl fmt::Display for QSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.first)?;
        for (join, term) in &self.rest {
            let join = match join {
                Join::Space => " ",
                Join::And => " AND ",
                Join::Or => " OR ",
            };
            write!(f, "{join}{term}")?;
        }
        Ok(())
    }
}

impl fmt::Display for ListSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "page={} per_page={}", self.page, self.per_page)?;
        if self.include_totals {
            f.write_str(" totals")?;
        }
        if let Some((field, order)) = &self.sort {
            let dir = if *order == SortOrder::Asc { "1" } else { "-1" };
            write!(f, " sort={field}:{dir}")?;
        }
        if let Some(q) = &self.q {
            write!(f, " q=[{q}]")?;
        }
        Ok(())
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::Create {
                entity: EntityKind::Tenant,
                insert,
                ..
            } => write!(f, "tenants.create({})", compact(insert)),
            Op::Create {
                entity,
                tenant,
                insert,
            } => write!(
                f,
                "{}.create({tenant}, {})",
                entity.table(),
                compact(insert)
            ),
            Op::Get {
                entity,
                tenant,
                key,
            } => write!(f, "{}.get({tenant}, {}{key})", entity.table(), entity),
            Op::Update {
                entity,
                tenant,
                key,
                patch,
            } => write!(
                f,
                "{}.update({tenant}, {}{key}, {})",
                entity.table(),
                entity,
                compact(patch)
            ),
            Op::Remove {
                entity,
                tenant,
                key,
            } => write!(f, "{}.remove({tenant}, {}{key})", entity.table(), entity),
            Op::Upsert {
                entity,
                tenant,
                records,
            } => {
                let method = if records.len() == 1 {
                    "upsert"
                } else {
                    "upsert_many"
                };
                let shown: Vec<String> = records.iter().map(compact).collect();
                write!(
                    f,
                    "{}.{method}({tenant}, [{}])",
                    entity.table(),
                    shown.join(", ")
                )
            }
            Op::Consume { tenant, key } => write!(f, "codes.consume({tenant}, code{key})"),
            Op::Cleanup { tenant, older_than } => {
                write!(f, "codes.cleanup({tenant}, {older_than})")
            }
            Op::GetCurrent { tenant, user } => {
                write!(f, "passwords.get_current({tenant}, user{user})")
            }
            Op::List {
                entity,
                tenant,
                params,
            } => write!(f, "{}.list({tenant}, {params})", entity.table()),
            Op::Scan {
                entity,
                tenant,
                params,
            } => write!(f, "{}.scan({tenant}, {params})", entity.table()),
        }
    }
}

/// A sequence, printed one numbered operation per line.
#[derive(Debug, Clone, PartialEq)]
pub struct Sequence(pub Vec<Op>);

impl fmt::Display for Sequence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, op) in self.0.iter().enumerate() {
            writeln!(f, "  {i:>3}. {op}")?;
        }
        Ok(())
    }
}
