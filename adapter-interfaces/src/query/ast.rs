//! The syntax tree of a `q` query, before field names and values are typed.
//!
//! Grouping is kept as written: `(a AND b) AND c` is `And[And[a, b], c]`,
//! and a field-scoped group `email:(a OR b)` is `Or[email:a, email:b]`
//! (the field is distributed over the group's terms when it is parsed).
//! [`Query`]'s `Display` prints a query that parses back to the same tree.

use std::fmt;

use super::CompareOp;

/// A parsed query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query {
    /// All of them (two or more).
    And(Vec<Query>),
    /// Any of them (two or more).
    Or(Vec<Query>),
    /// `NOT q` or `-q`.
    Not(Box<Query>),
    /// `field:term`, or a bare `term` (`field` is `None`).
    Term {
        /// The field as written (alias or virtual field included).
        field: Option<String>,
        /// What the field must match.
        term: Term,
    },
    /// `_exists_:field`.
    Exists(String),
}

/// What one field (or a bare term) must match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Term {
    /// A word or a `"quoted phrase"` (wildcards in a phrase are literal).
    Exact(String),
    /// `value*`.
    Prefix(String),
    /// `*value`.
    Suffix(String),
    /// `[a TO b]`, `{a TO b}`, mixed or with `*` ends.
    Range {
        /// The lower end.
        lower: Bound,
        /// The upper end.
        upper: Bound,
    },
    /// v2's `field:>v`, `>=`, `<`, `<=` (never [`CompareOp::Eq`]).
    Compare(CompareOp, String),
}

/// One end of a range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bound {
    /// `*`: unbounded.
    Open,
    /// `[v` or `v]`.
    Inclusive(String),
    /// `{v` or `v}`.
    Exclusive(String),
}

/// Characters that a bare word must escape with a backslash to mean themselves.
pub(crate) fn is_special(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '\\' | '"'
                | '('
                | ')'
                | '['
                | ']'
                | '{'
                | '}'
                | '^'
                | '~'
                | '*'
                | '?'
                | ':'
                | '!'
                | '+'
                | '-'
                | '/'
                | '<'
                | '>'
                | '='
                | '&'
                | '|'
        )
}

fn write_escaped(f: &mut fmt::Formatter<'_>, text: &str) -> fmt::Result {
    for c in text.chars() {
        if is_special(c) {
            f.write_str("\\")?;
        }
        write!(f, "{c}")?;
    }
    Ok(())
}

fn write_quoted(f: &mut fmt::Formatter<'_>, text: &str) -> fmt::Result {
    f.write_str("\"")?;
    for c in text.chars() {
        if c == '"' || c == '\\' {
            f.write_str("\\")?;
        }
        write!(f, "{c}")?;
    }
    f.write_str("\"")
}

impl fmt::Display for Term {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Term::Exact(text) => write_quoted(f, text),
            Term::Prefix(text) => {
                write_escaped(f, text)?;
                f.write_str("*")
            }
            Term::Suffix(text) => {
                f.write_str("*")?;
                write_escaped(f, text)
            }
            Term::Range { lower, upper } => {
                match lower {
                    Bound::Open => f.write_str("[*")?,
                    Bound::Inclusive(v) => {
                        f.write_str("[")?;
                        write_quoted(f, v)?;
                    }
                    Bound::Exclusive(v) => {
                        f.write_str("{")?;
                        write_quoted(f, v)?;
                    }
                }
                f.write_str(" TO ")?;
                match upper {
                    Bound::Open => f.write_str("*]"),
                    Bound::Inclusive(v) => {
                        write_quoted(f, v)?;
                        f.write_str("]")
                    }
                    Bound::Exclusive(v) => {
                        write_quoted(f, v)?;
                        f.write_str("}")
                    }
                }
            }
            Term::Compare(op, v) => {
                f.write_str(op.sql())?;
                write_quoted(f, v)
            }
        }
    }
}

impl Query {
    fn write_operand(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Query::And(_) | Query::Or(_) => write!(f, "({self})"),
            _ => write!(f, "{self}"),
        }
    }
}

impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Query::And(items) | Query::Or(items) => {
                let joint = if matches!(self, Query::And(_)) {
                    " AND "
                } else {
                    " OR "
                };
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(joint)?;
                    }
                    item.write_operand(f)?;
                }
                Ok(())
            }
            Query::Not(inner) => {
                f.write_str("NOT ")?;
                inner.write_operand(f)
            }
            Query::Term { field, term } => {
                if let Some(field) = field {
                    write!(f, "{field}:")?;
                }
                write!(f, "{term}")
            }
            Query::Exists(field) => write!(f, "_exists_:{field}"),
        }
    }
}
