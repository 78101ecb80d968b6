//! What an adapter supports, declared once: [`Capabilities`].
//!
//! Most adapters support the whole contract, and need to declare nothing:
//! [`Capabilities::default`] is everything. An adapter that supports only
//! part of it (an HTTP adapter over a hosted identity provider that cannot
//! write some entities, a key-value store without transactions, an API
//! without search on some fields) declares what it lacks, once, and answers
//! every call it cannot serve with [`AdapterError::NotSupported`]: a typed
//! error, never a silent success.
//!
//! The declaration is read by whoever drives the adapter generically: the
//! conformance suite runs the checks that apply and says which it skipped
//! and why; its model-based tests generate no operation the declaration
//! excludes.
//!
//! ```
//! use adapter_interfaces::{Capabilities, EntityKind};
//!
//! // Users and applications come from a read-only API without search on
//! // applications; logs are written one by one, without a transaction.
//! let capabilities = Capabilities::default()
//!     .read_only(EntityKind::User)
//!     .read_only(EntityKind::Application)
//!     .without_q(EntityKind::Application)
//!     .without_atomic_batches(EntityKind::Log);
//! assert!(!capabilities.is_writable(EntityKind::User));
//! assert!(capabilities.is_writable(EntityKind::Session));
//! assert!(!capabilities.has_atomic_batches(EntityKind::Log));
//! assert!(capabilities.supports_q_on(EntityKind::User, "email"));
//! assert!(!capabilities.supports_q_on(EntityKind::Application, "name"));
//! assert!(Capabilities::default().is_complete());
//! ```
//!
//! [`AdapterError::NotSupported`]: crate::AdapterError::NotSupported

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::error::EntityKind;

/// Which `q` filters an adapter answers for one entity.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum QSupport {
    /// Every form of `q` the contract defines (the default).
    #[default]
    All,
    /// Only field terms (`field:value`, ranges, `_exists_:field`) on these
    /// fields; bare terms (which search every searchable field) and any
    /// other field are [`NotSupported`](crate::AdapterError::NotSupported).
    Fields(BTreeSet<String>),
    /// No `q` at all: a listing with `q` is
    /// [`NotSupported`](crate::AdapterError::NotSupported).
    None,
}

/// What an adapter supports, per entity: whether it writes the entity,
/// whether its `upsert_many` is atomic (all or nothing), and which `q`
/// filters it answers. The default is everything, so an adapter that
/// supports the whole contract declares nothing.
///
/// What an adapter declares unsupported it must refuse with
/// [`AdapterError::NotSupported`](crate::AdapterError::NotSupported) and
/// without writing anything; the conformance suite checks that for
/// read-only entities. See the [module docs](self) for an example.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Capabilities {
    read_only: BTreeSet<EntityKind>,
    non_atomic_batches: BTreeSet<EntityKind>,
    q: BTreeMap<EntityKind, QSupport>,
}

impl Capabilities {
    /// Everything supported: the same as [`Capabilities::default`].
    pub fn all() -> Self {
        Self::default()
    }

    /// Declares `entity` read-only: `get`, `list` (and `get_current` of
    /// passwords) work; `create`, `update`, `remove`, `upsert`,
    /// `upsert_many` (and `consume`, `cleanup` of codes) are refused.
    pub fn read_only(mut self, entity: EntityKind) -> Self {
        self.read_only.insert(entity);
        self
    }

    /// Declares that `upsert_many` of `entity` is not atomic: it may write
    /// some records of a batch it then rejects (a store without
    /// transactions). Callers that need all or nothing must not rely on it.
    pub fn without_atomic_batches(mut self, entity: EntityKind) -> Self {
        self.non_atomic_batches.insert(entity);
        self
    }

    /// Declares that listings of `entity` take no `q` at all.
    pub fn without_q(mut self, entity: EntityKind) -> Self {
        self.q.insert(entity, QSupport::None);
        self
    }

    /// Declares that listings of `entity` take `q` only as field terms on
    /// `fields` (see [`QSupport::Fields`]).
    pub fn with_q_fields<I, S>(mut self, entity: EntityKind, fields: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let fields = fields.into_iter().map(Into::into).collect();
        self.q.insert(entity, QSupport::Fields(fields));
        self
    }

    /// Whether the adapter writes `entity`.
    pub fn is_writable(&self, entity: EntityKind) -> bool {
        !self.read_only.contains(&entity)
    }

    /// Whether `upsert_many` of `entity` is atomic (all or nothing).
    pub fn has_atomic_batches(&self, entity: EntityKind) -> bool {
        !self.non_atomic_batches.contains(&entity)
    }

    /// Which `q` filters listings of `entity` take.
    pub fn q(&self, entity: EntityKind) -> &QSupport {
        const ALL: &QSupport = &QSupport::All;
        self.q.get(&entity).unwrap_or(ALL)
    }

    /// Whether listings of `entity` take every form of `q`.
    pub fn supports_all_q(&self, entity: EntityKind) -> bool {
        *self.q(entity) == QSupport::All
    }

    /// Whether listings of `entity` take field terms on `field`.
    pub fn supports_q_on(&self, entity: EntityKind, field: &str) -> bool {
        match self.q(entity) {
            QSupport::All => true,
            QSupport::Fields(fields) => fields.contains(field),
            QSupport::None => false,
        }
    }

    /// Whether everything is supported (nothing was declared missing).
    pub fn is_complete(&self) -> bool {
        self.read_only.is_empty()
            && self.non_atomic_batches.is_empty()
            && self.q.values().all(|q| *q == QSupport::All)
    }

    /// What both `self` and `other` support: for driving two adapters with
    /// the same calls (a differential test, a copy from one to the other).
    pub fn intersection(&self, other: &Capabilities) -> Capabilities {
        let mut q = self.q.clone();
        for (entity, theirs) in &other.q {
            let mine = self.q(*entity).clone();
            let both = match (mine, theirs) {
                (QSupport::None, _) | (_, QSupport::None) => QSupport::None,
                (QSupport::All, other) => other.clone(),
                (mine, QSupport::All) => mine,
                (QSupport::Fields(a), QSupport::Fields(b)) => {
                    QSupport::Fields(a.intersection(b).cloned().collect())
                }
            };
            q.insert(*entity, both);
        }
        Capabilities {
            read_only: self.read_only.union(&other.read_only).copied().collect(),
            non_atomic_batches: self
                .non_atomic_batches
                .union(&other.non_atomic_batches)
                .copied()
                .collect(),
            q,
        }
    }
}

/// One line per limitation, e.g. `users: read-only; logs: upsert_many not
/// atomic`, or `everything supported`.
impl fmt::Display for Capabilities {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        for entity in EntityKind::ALL {
            let mut limits = Vec::new();
            if !self.is_writable(entity) {
                limits.push("read-only".to_owned());
            }
            if !self.has_atomic_batches(entity) {
                limits.push("upsert_many not atomic".to_owned());
            }
            match self.q(entity) {
                QSupport::All => {}
                QSupport::None => limits.push("no q".to_owned()),
                QSupport::Fields(fields) => {
                    let fields: Vec<&str> = fields.iter().map(String::as_str).collect();
                    limits.push(format!("q only on {}", fields.join(", ")));
                }
            }
            if !limits.is_empty() {
                parts.push(format!("{}: {}", entity.table(), limits.join(", ")));
            }
        }
        if parts.is_empty() {
            f.write_str("everything supported")
        } else {
            f.write_str(&parts.join("; "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intersection_keeps_the_smaller_support() {
        let a = Capabilities::default()
            .read_only(EntityKind::User)
            .with_q_fields(EntityKind::Log, ["type", "ip"]);
        let b = Capabilities::default()
            .without_atomic_batches(EntityKind::Code)
            .with_q_fields(EntityKind::Log, ["ip", "date"])
            .without_q(EntityKind::Session);
        let both = a.intersection(&b);
        assert!(!both.is_writable(EntityKind::User));
        assert!(!both.has_atomic_batches(EntityKind::Code));
        assert!(both.supports_q_on(EntityKind::Log, "ip"));
        assert!(!both.supports_q_on(EntityKind::Log, "type"));
        assert!(!both.supports_q_on(EntityKind::Log, "date"));
        assert_eq!(*both.q(EntityKind::Session), QSupport::None);
        assert!(both.supports_all_q(EntityKind::User));
        assert_eq!(both, b.intersection(&a));
        assert_eq!(
            both.to_string(),
            "users: read-only; sessions: no q; codes: upsert_many not atomic; logs: q only on ip"
        );
    }

    #[test]
    fn the_default_is_complete() {
        assert!(Capabilities::all().is_complete());
        assert_eq!(Capabilities::all().to_string(), "everything supported");
        assert!(
            !Capabilities::all()
                .without_q(EntityKind::User)
                .is_complete()
        );
    }
}
