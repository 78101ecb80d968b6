//! The `q` language: a small Lucene subset, parsed once into a [`Filter`].
//!
//! | form | meaning |
//! | --- | --- |
//! | `field:value`, `field:"two words"` | equal |
//! | `-field:value` | not equal (a record without the field matches) |
//! | `field:>v` `field:>=v` `field:<v` `field:<=v` | comparisons (text by bytes) |
//! | `_exists_:field` | the field is not null |
//! | `term`, `"a phrase"` | substring (case-sensitive) of any searchable field |
//! | `a b` or `a AND b` | both |
//! | `a OR b` | either (binds tighter than the implicit AND) |
//!
//! Values are typed by the field: integers, `true`/`false`, timestamps
//! (RFC 3339 or `YYYY-MM-DD`). Unknown fields, bad values and malformed
//! queries are [`AdapterError::InvalidInput`] on field `q`.
//!
//! ```
//! use adapter_interfaces::{User, query::parse_q};
//! let filter = parse_q::<User>(r#"email_verified:true -blocked:true name:"Ada L" OR login_count:>3"#)
//!     .unwrap()
//!     .unwrap();
//! assert!(parse_q::<User>("password:secret").is_err()); // not a user field
//! # let _ = filter;
//! ```

use crate::error::{AdapterError, Result};
use crate::record::{Column, ColumnKind, Record, Value};
use crate::timestamp::Timestamp;

/// Longest accepted `q`, in bytes.
pub const MAX_Q_BYTES: usize = 1024;
/// Most terms in one `q`.
pub const MAX_Q_TERMS: usize = 32;

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompareOp {
    /// `=`
    Eq,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `<`
    Lt,
    /// `<=`
    Le,
}

impl CompareOp {
    /// The SQL operator.
    pub fn sql(self) -> &'static str {
        match self {
            CompareOp::Eq => "=",
            CompareOp::Gt => ">",
            CompareOp::Ge => ">=",
            CompareOp::Lt => "<",
            CompareOp::Le => "<=",
        }
    }
}

/// A boolean filter over an entity's columns, in two-valued logic.
///
/// Backends translate it to SQL with every value bound; to agree with the
/// in-memory reference they must keep NULL out of the logic:
/// - `Compare` on a NULL column is false: `(col IS NOT NULL AND col op ?)`
///   for a nullable column;
/// - `Contains` is a case-sensitive substring test, false on NULL:
///   `strpos(col, ?) > 0` (PostgreSQL), `LOCATE(?, col) > 0` on a binary
///   collation (MySQL), `instr(col, ?) > 0` (SQLite), never `LIKE`;
/// - `Not` is then a plain `NOT (...)`.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// All of them (true when empty).
    And(Vec<Filter>),
    /// Any of them (false when empty).
    Or(Vec<Filter>),
    /// The negation.
    Not(Box<Filter>),
    /// `column op value`; false when the column is NULL.
    Compare {
        /// The column name.
        column: &'static str,
        /// The operator.
        op: CompareOp,
        /// The bound value (never NULL).
        value: Value,
    },
    /// The column is not NULL.
    Exists(&'static str),
    /// Any of the columns contains `term` (case-sensitive).
    Contains {
        /// The searched columns.
        columns: Vec<&'static str>,
        /// The substring.
        term: String,
    },
}

impl Filter {
    /// Evaluates the filter; `column` returns a column's value by name.
    pub fn matches(&self, column: &dyn Fn(&str) -> Value) -> bool {
        match self {
            Filter::And(all) => all.iter().all(|f| f.matches(column)),
            Filter::Or(any) => any.iter().any(|f| f.matches(column)),
            Filter::Not(inner) => !inner.matches(column),
            Filter::Compare {
                column: name,
                op,
                value,
            } => {
                let actual = column(name);
                if actual.is_null() {
                    return false;
                }
                let ordering = actual.canonical_cmp(value);
                match op {
                    CompareOp::Eq => ordering.is_eq(),
                    CompareOp::Gt => ordering.is_gt(),
                    CompareOp::Ge => ordering.is_ge(),
                    CompareOp::Lt => ordering.is_lt(),
                    CompareOp::Le => ordering.is_le(),
                }
            }
            Filter::Exists(name) => !column(name).is_null(),
            Filter::Contains { columns, term } => columns.iter().any(
                |name| matches!(column(name), Value::Text(text) if text.contains(term.as_str())),
            ),
        }
    }

    /// Conjunction of two optional filters.
    pub fn and(a: Option<Filter>, b: Option<Filter>) -> Option<Filter> {
        match (a, b) {
            (Some(a), Some(b)) => Some(Filter::And(vec![a, b])),
            (a, None) => a,
            (None, b) => b,
        }
    }
}

fn q_error(reason: impl Into<String>) -> AdapterError {
    AdapterError::invalid("q", reason)
}

/// Parses `q` for entity `R`. `Ok(None)` for an empty or blank query.
pub fn parse_q<R: Record>(q: &str) -> Result<Option<Filter>> {
    if q.len() > MAX_Q_BYTES {
        return Err(q_error(format!("is longer than {MAX_Q_BYTES} bytes")));
    }
    let tokens = tokenize(q)?;
    if tokens.len() > MAX_Q_TERMS * 2 {
        return Err(q_error(format!("has more than {MAX_Q_TERMS} terms")));
    }
    // Groups of OR-ed terms, AND-ed together.
    let mut groups: Vec<Vec<Filter>> = Vec::new();
    let mut pending_or = false;
    let mut terms = 0;
    for token in tokens {
        match token {
            Token::Or => {
                if groups.is_empty() || pending_or {
                    return Err(q_error("`OR` must stand between two terms"));
                }
                pending_or = true;
            }
            Token::And => {
                if groups.is_empty() || pending_or {
                    return Err(q_error("`AND` must stand between two terms"));
                }
            }
            Token::Term(term) => {
                terms += 1;
                if terms > MAX_Q_TERMS {
                    return Err(q_error(format!("has more than {MAX_Q_TERMS} terms")));
                }
                let filter = term_filter::<R>(term)?;
                match groups.last_mut() {
                    Some(group) if pending_or => group.push(filter),
                    _ => groups.push(vec![filter]),
                }
                pending_or = false;
            }
        }
    }
    if pending_or {
        return Err(q_error("`OR` must stand between two terms"));
    }
    let mut conjuncts: Vec<Filter> = groups
        .into_iter()
        .map(|mut g| {
            if g.len() == 1 {
                g.remove(0)
            } else {
                Filter::Or(g)
            }
        })
        .collect();
    Ok(match conjuncts.len() {
        0 => None,
        1 => conjuncts.pop(),
        _ => Some(Filter::And(conjuncts)),
    })
}

#[derive(Debug)]
enum Token {
    Term(Term),
    Or,
    And,
}

#[derive(Debug)]
struct Term {
    negated: bool,
    field: Option<String>,
    op: CompareOp,
    value: String,
}

fn tokenize(q: &str) -> Result<Vec<Token>> {
    let mut tokens = Vec::new();
    let mut rest = q;
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            return Ok(tokens);
        }
        let mut negated = false;
        if let Some(after) = rest.strip_prefix('-') {
            negated = true;
            rest = after;
            if rest.is_empty() || rest.starts_with(char::is_whitespace) {
                return Err(q_error("`-` must be followed by a term"));
            }
        }
        // `field:` prefix?
        let ident_len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        let (field, after_field) = if ident_len > 0 && rest[ident_len..].starts_with(':') {
            (Some(rest[..ident_len].to_owned()), &rest[ident_len + 1..])
        } else {
            (None, rest)
        };
        let mut value_src = after_field;
        let mut op = CompareOp::Eq;
        if field.is_some() {
            for (prefix, candidate) in [
                (">=", CompareOp::Ge),
                ("<=", CompareOp::Le),
                (">", CompareOp::Gt),
                ("<", CompareOp::Lt),
            ] {
                if let Some(after) = value_src.strip_prefix(prefix) {
                    op = candidate;
                    value_src = after;
                    break;
                }
            }
        }
        let (value, quoted, remaining) = read_value(value_src)?;
        rest = remaining;
        if field.is_some() && value.is_empty() && !quoted {
            return Err(q_error("a `field:` needs a value"));
        }
        if field.is_none() && !negated && !quoted {
            match value.as_str() {
                "OR" => {
                    tokens.push(Token::Or);
                    continue;
                }
                "AND" => {
                    tokens.push(Token::And);
                    continue;
                }
                _ => {}
            }
        }
        tokens.push(Token::Term(Term {
            negated,
            field,
            op,
            value,
        }));
    }
}

/// Reads a quoted or bare value; returns (value, was quoted, rest).
fn read_value(src: &str) -> Result<(String, bool, &str)> {
    if let Some(body) = src.strip_prefix('"') {
        let mut value = String::new();
        let mut chars = body.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    let rest = &body[i + 1..];
                    if !(rest.is_empty() || rest.starts_with(char::is_whitespace)) {
                        return Err(q_error("a closing quote must be followed by a space"));
                    }
                    return Ok((value, true, rest));
                }
                '\\' => match chars.next() {
                    Some((_, escaped)) => value.push(escaped),
                    None => break,
                },
                c => value.push(c),
            }
        }
        Err(q_error("has an unterminated quote"))
    } else {
        let end = src.find(char::is_whitespace).unwrap_or(src.len());
        let value = &src[..end];
        if value.contains('"') {
            return Err(q_error("quotes must enclose a whole value"));
        }
        Ok((value.to_owned(), false, &src[end..]))
    }
}

fn term_filter<R: Record>(term: Term) -> Result<Filter> {
    let filter = match term.field.as_deref() {
        Some("_exists_") => {
            if term.op != CompareOp::Eq {
                return Err(q_error("`_exists_` takes a field name"));
            }
            Filter::Exists(filterable_column::<R>(&term.value)?.name)
        }
        Some(field) => {
            let column = filterable_column::<R>(field)?;
            let value = typed_value(column, term.op, &term.value)?;
            Filter::Compare {
                column: column.name,
                op: term.op,
                value,
            }
        }
        None => {
            let columns: Vec<&'static str> = R::COLUMNS
                .iter()
                .filter(|c| c.searchable)
                .map(|c| c.name)
                .collect();
            if columns.is_empty() {
                return Err(q_error(format!(
                    "{} have no free-text fields; use field:value",
                    R::KIND.table()
                )));
            }
            if term.value.is_empty() {
                return Err(q_error("an empty phrase matches nothing useful"));
            }
            Filter::Contains {
                columns,
                term: term.value,
            }
        }
    };
    Ok(if term.negated {
        Filter::Not(Box::new(filter))
    } else {
        filter
    })
}

fn filterable_column<R: Record>(field: &str) -> Result<&'static Column> {
    match R::column(field) {
        Some(column) if column.filterable && !column.secret => Ok(column),
        _ => {
            let allowed: Vec<&str> = R::COLUMNS
                .iter()
                .filter(|c| c.filterable && !c.secret)
                .map(|c| c.name)
                .collect();
            Err(q_error(format!(
                "`{field}` is not a searchable field of {}; use one of: {}",
                R::KIND.table(),
                allowed.join(", ")
            )))
        }
    }
}

fn typed_value(column: &Column, op: CompareOp, raw: &str) -> Result<Value> {
    let bad = |what: &str| q_error(format!("`{}` takes {what}", column.name));
    match column.kind {
        ColumnKind::Text { .. } => Ok(Value::Text(if column.lowercase {
            raw.to_lowercase()
        } else {
            raw.to_owned()
        })),
        ColumnKind::Int => raw.parse().map(Value::Int).map_err(|_| bad("an integer")),
        ColumnKind::Bool => {
            if op != CompareOp::Eq {
                return Err(bad("`true` or `false`, not a comparison"));
            }
            match raw {
                "true" => Ok(Value::Bool(true)),
                "false" => Ok(Value::Bool(false)),
                _ => Err(bad("`true` or `false`")),
            }
        }
        ColumnKind::Timestamp => raw
            .parse::<Timestamp>()
            .map(Value::Timestamp)
            .map_err(|_| bad("a timestamp (RFC 3339 or YYYY-MM-DD)")),
        ColumnKind::Json => Err(bad("no value: JSON fields cannot be searched")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Code, User};

    fn parse(q: &str) -> Result<Option<Filter>> {
        parse_q::<User>(q)
    }

    fn cmp(column: &'static str, op: CompareOp, value: Value) -> Filter {
        Filter::Compare { column, op, value }
    }

    #[test]
    fn empty_query_is_no_filter() {
        assert_eq!(parse("").unwrap(), None);
        assert_eq!(parse("   ").unwrap(), None);
    }

    #[test]
    fn field_value_and_typed_values() {
        assert_eq!(
            parse("email:Ada@Example.com").unwrap(),
            Some(cmp(
                "email",
                CompareOp::Eq,
                Value::Text("ada@example.com".into())
            ))
        );
        assert_eq!(
            parse("login_count:>=3").unwrap(),
            Some(cmp("login_count", CompareOp::Ge, Value::Int(3)))
        );
        assert_eq!(
            parse("blocked:true").unwrap(),
            Some(cmp("blocked", CompareOp::Eq, Value::Bool(true)))
        );
        assert_eq!(
            parse("created_at:<2024-01-02").unwrap(),
            Some(cmp(
                "created_at",
                CompareOp::Lt,
                Value::Timestamp("2024-01-02T00:00:00Z".parse().unwrap())
            ))
        );
    }

    #[test]
    fn quoted_values_negation_exists_and_bare_terms() {
        assert_eq!(
            parse(r#"name:"Ada \"the\" Lovelace""#).unwrap(),
            Some(cmp(
                "name",
                CompareOp::Eq,
                Value::Text(r#"Ada "the" Lovelace"#.into())
            ))
        );
        assert_eq!(
            parse("-connection:db").unwrap(),
            Some(Filter::Not(Box::new(cmp(
                "connection",
                CompareOp::Eq,
                Value::Text("db".into())
            ))))
        );
        assert_eq!(
            parse("_exists_:email").unwrap(),
            Some(Filter::Exists("email"))
        );
        match parse(r#""Ada L""#).unwrap() {
            Some(Filter::Contains { columns, term }) => {
                assert_eq!(term, "Ada L");
                assert!(columns.contains(&"email") && columns.contains(&"name"));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn or_binds_tighter_than_implicit_and() {
        let parsed = parse("blocked:true OR blocked:false login_count:1").unwrap();
        assert_eq!(
            parsed,
            Some(Filter::And(vec![
                Filter::Or(vec![
                    cmp("blocked", CompareOp::Eq, Value::Bool(true)),
                    cmp("blocked", CompareOp::Eq, Value::Bool(false)),
                ]),
                cmp("login_count", CompareOp::Eq, Value::Int(1)),
            ]))
        );
        assert_eq!(
            parse("login_count:1 AND login_count:2").unwrap(),
            Some(Filter::And(vec![
                cmp("login_count", CompareOp::Eq, Value::Int(1)),
                cmp("login_count", CompareOp::Eq, Value::Int(2)),
            ]))
        );
    }

    #[test]
    fn malformed_queries_are_invalid_input_on_q() {
        for q in [
            "password:x",
            "unknown:x",
            "app_metadata:x",
            "login_count:many",
            "blocked:>true",
            "blocked:yes",
            "created_at:soon",
            "name:\"open",
            "OR name:x",
            "name:x OR",
            "name:x OR OR name:y",
            "- name:x",
            "name:",
            "_exists_:nope",
            "na\"me",
        ] {
            let err = parse(q).expect_err(q);
            assert!(
                matches!(&err, AdapterError::InvalidInput { field, .. } if field == "q"),
                "{q}: {err:?}"
            );
        }
        assert!(
            parse_q::<Code>("free text").is_err(),
            "codes have no searchable fields"
        );
        assert!(parse(&"a ".repeat(600)).is_err());
        assert!(parse(&"a ".repeat(40)).is_err());
    }

    #[test]
    fn evaluation_is_two_valued() {
        let filter = parse("-email:a@b.co").unwrap().unwrap();
        assert!(
            filter.matches(&|_| Value::Null),
            "a missing field matches a negation"
        );
        let filter = parse("email:>a").unwrap().unwrap();
        assert!(!filter.matches(&|_| Value::Null));
        assert!(filter.matches(&|_| Value::Text("b".into())));
    }
}
