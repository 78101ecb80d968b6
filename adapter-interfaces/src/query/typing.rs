//! [`Query`] to [`Filter`] for one entity: field names resolved (aliases,
//! virtual fields, the whitelist), values typed by the field, wildcards and
//! ranges turned into comparisons every backend translates the same way.

use chrono::{Datelike, Months, NaiveDate};

use super::ast::{Bound, Query, Term};
use super::metadata::{self, JsonTest};
use super::{CompareOp, Filter, q_error};
use crate::error::{EntityKind, Result};
use crate::record::{Column, ColumnKind, Record, Value, ascii_fold};
use crate::timestamp::Timestamp;

/// Auth0's names for fields this model spells differently, per entity.
const ALIASES: &[(EntityKind, &str, &str)] = &[(EntityKind::User, "logins_count", "login_count")];

/// Lowers a query for entity `R`.
pub(crate) fn lower<R: Record>(query: &Query) -> Result<Filter> {
    Ok(match query {
        Query::And(items) => Filter::And(items.iter().map(lower::<R>).collect::<Result<_>>()?),
        Query::Or(items) => Filter::Or(items.iter().map(lower::<R>).collect::<Result<_>>()?),
        Query::Not(inner) => Filter::Not(Box::new(lower::<R>(inner)?)),
        Query::Exists(field) => {
            if R::KIND == EntityKind::User && metadata::is_metadata_field(field) {
                json_filter::<R>(field, |_| Ok(JsonTest::Exists))?
            } else if field == "email.domain" {
                Filter::Exists(filterable_column::<R>("email")?.name)
            } else {
                Filter::Exists(filterable_column::<R>(field)?.name)
            }
        }
        Query::Term { field: None, term } => bare::<R>(term)?,
        Query::Term {
            field: Some(field),
            term,
        } => fielded::<R>(field, term)?,
    })
}

fn bare<R: Record>(term: &Term) -> Result<Filter> {
    let columns: Vec<&'static Column> = R::COLUMNS.iter().filter(|c| c.searchable).collect();
    if columns.is_empty() {
        return Err(q_error(format!(
            "{} have no free-text fields; use field:value",
            R::KIND.table()
        )));
    }
    // Each field keeps its case rule: the column `q` compares for it, and
    // the term as that column holds it (lowercased, ASCII-folded, as written).
    let targets: Vec<(&'static str, String)> = match term {
        Term::Exact(text) | Term::Prefix(text) | Term::Suffix(text) => columns
            .iter()
            .map(|c| {
                let target = search_column::<R>(c);
                (target.name, text_as_stored(target, text))
            })
            .collect(),
        Term::Range { .. } | Term::Compare(..) => Vec::new(),
    };
    match term {
        Term::Exact(text) => {
            if text.is_empty() {
                return Err(q_error("an empty phrase matches nothing useful"));
            }
            // One test per distinct spelling of the term, over its columns.
            let mut groups: Vec<(String, Vec<&'static str>)> = Vec::new();
            for (column, term) in targets {
                match groups.iter_mut().find(|(t, _)| *t == term) {
                    Some((_, columns)) => columns.push(column),
                    None => groups.push((term, vec![column])),
                }
            }
            let mut tests: Vec<Filter> = groups
                .into_iter()
                .map(|(term, columns)| Filter::Contains { columns, term })
                .collect();
            Ok(if tests.len() == 1 {
                tests.remove(0)
            } else {
                Filter::Or(tests)
            })
        }
        Term::Prefix(_) => Ok(Filter::Or(
            targets.iter().map(|(c, text)| prefix(c, text)).collect(),
        )),
        Term::Suffix(_) => Ok(Filter::Or(
            targets
                .into_iter()
                .map(|(column, suffix)| Filter::EndsWith { column, suffix })
                .collect(),
        )),
        Term::Range { .. } | Term::Compare(..) => {
            Err(q_error("a range or comparison needs a field"))
        }
    }
}

/// The column `q` compares for field `column`: its ASCII-folded copy
/// ([`Column::folds`]) when it has one (the field is case-insensitive),
/// otherwise itself.
fn search_column<R: Record>(column: &'static Column) -> &'static Column {
    R::folded_column(column.name).unwrap_or(column)
}

/// A query's text as `column` stores it: lowercased for a lowercased
/// column (emails), ASCII-folded for a folded copy, otherwise as written.
fn text_as_stored(column: &Column, raw: &str) -> String {
    if column.lowercase {
        raw.to_lowercase()
    } else if column.folds.is_some() {
        ascii_fold(raw)
    } else {
        raw.to_owned()
    }
}

/// `column` starts with `text`: the range `text <= column < successor`,
/// exact because text compares by code points everywhere, and served by
/// the column's index.
fn prefix(column: &'static str, text: &str) -> Filter {
    let lower = Filter::Compare {
        column,
        op: CompareOp::Ge,
        value: Value::Text(text.to_owned()),
    };
    match prefix_successor(text) {
        Some(upper) => Filter::And(vec![
            lower,
            Filter::Compare {
                column,
                op: CompareOp::Lt,
                value: Value::Text(upper),
            },
        ]),
        None => lower,
    }
}

/// The least string greater than every string that starts with `text`, if any.
pub(crate) fn prefix_successor(text: &str) -> Option<String> {
    let mut chars: Vec<char> = text.chars().collect();
    while let Some(last) = chars.pop() {
        let mut code = u32::from(last) + 1;
        while code <= u32::from(char::MAX) {
            if let Some(next) = char::from_u32(code) {
                chars.push(next);
                return Some(chars.into_iter().collect());
            }
            code += 1; // skip the surrogate range
        }
    }
    None
}

/// `field` inside a user's metadata, with the test `test` makes of it.
fn json_filter<R: Record>(
    field: &str,
    test: impl FnOnce(&str) -> Result<JsonTest>,
) -> Result<Filter> {
    let (column, keys) = metadata::path(field)?;
    match R::column(column) {
        Some(c) if c.kind == ColumnKind::Json => Ok(Filter::Json {
            column: c.name,
            keys,
            test: test(field)?,
        }),
        _ => Err(q_error(format!("`{field}` is not a searchable field"))),
    }
}

fn fielded<R: Record>(field: &str, term: &Term) -> Result<Filter> {
    if R::KIND == EntityKind::User {
        if field == "email.domain" {
            return email_domain::<R>(term);
        }
        if metadata::is_metadata_field(field) {
            return json_filter::<R>(field, |field| metadata::test(field, term));
        }
    }
    // A case-insensitive field is searched through its folded copy, with
    // every value folded alike: exact, wildcards and ranges.
    let column = search_column::<R>(filterable_column::<R>(field)?);
    let name = column.name;
    let text_value = |raw: &str| text_as_stored(column, raw);
    match term {
        Term::Exact(raw) => compare(column, CompareOp::Eq, raw),
        Term::Compare(op, raw) => compare(column, *op, raw),
        Term::Prefix(raw) | Term::Suffix(raw) => {
            if !matches!(column.kind, ColumnKind::Text { .. }) {
                return Err(q_error(format!(
                    "wildcards apply to text fields, and `{field}` is not one"
                )));
            }
            Ok(match term {
                Term::Prefix(_) => prefix(name, &text_value(raw)),
                _ => Filter::EndsWith {
                    column: name,
                    suffix: text_value(raw),
                },
            })
        }
        Term::Range { lower, upper } => {
            if column.kind == ColumnKind::Bool {
                return Err(q_error(format!(
                    "`{field}` is a boolean: ranges do not apply"
                )));
            }
            let mut parts = Vec::new();
            match lower {
                Bound::Open => {}
                Bound::Inclusive(v) => parts.push(compare(column, CompareOp::Ge, v)?),
                Bound::Exclusive(v) => parts.push(compare(column, CompareOp::Gt, v)?),
            }
            match upper {
                Bound::Open => {}
                Bound::Inclusive(v) => parts.push(compare(column, CompareOp::Le, v)?),
                Bound::Exclusive(v) => parts.push(compare(column, CompareOp::Lt, v)?),
            }
            Ok(match parts.len() {
                // `[* TO *]`: any value, as in Lucene.
                0 => Filter::Exists(name),
                1 => parts.remove(0),
                _ => Filter::And(parts),
            })
        }
    }
}

/// `email.domain:example.com`: the part after the `@`, which (an email
/// having one `@`, and the domain none) is "ends with `@example.com`";
/// `email.domain:*example.com` is "ends with `example.com`".
fn email_domain<R: Record>(term: &Term) -> Result<Filter> {
    let column = filterable_column::<R>("email")?.name;
    let domain = match term {
        Term::Exact(d) | Term::Suffix(d) => d.to_lowercase(),
        _ => {
            return Err(q_error(
                "`email.domain` takes a domain or `*suffix`, not a prefix, range or comparison",
            ));
        }
    };
    if domain.contains('@') || domain.is_empty() {
        return Err(q_error("`email.domain` takes a domain without `@`"));
    }
    Ok(Filter::EndsWith {
        column,
        suffix: if matches!(term, Term::Exact(_)) {
            format!("@{domain}")
        } else {
            domain
        },
    })
}

pub(crate) fn filterable_column<R: Record>(field: &str) -> Result<&'static Column> {
    let name = ALIASES
        .iter()
        .find(|(kind, alias, _)| *kind == R::KIND && *alias == field)
        .map_or(field, |(_, _, name)| name);
    match R::column(name) {
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

/// A timestamp value: an instant (RFC 3339), or a period (`YYYY`,
/// `YYYY-MM`, `YYYY-MM-DD`, UTC) from `start` up to `end` (exclusive;
/// `None` when past the storable range).
enum Moment {
    Instant(Timestamp),
    Period {
        start: Timestamp,
        end: Option<Timestamp>,
    },
}

fn moment(raw: &str) -> Option<Moment> {
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    let parts: Vec<&str> = raw.split('-').collect();
    let (start, end) = match parts.as_slice() {
        [y] if digits(y, 4) => {
            let start = NaiveDate::from_ymd_opt(y.parse().ok()?, 1, 1)?;
            (start, start.with_year(start.year() + 1))
        }
        [y, m] if digits(y, 4) && digits(m, 2) => {
            let start = NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, 1)?;
            (start, start.checked_add_months(Months::new(1)))
        }
        [y, m, d] if digits(y, 4) && digits(m, 2) && digits(d, 2) => {
            let start = NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?)?;
            (start, start.succ_opt())
        }
        _ => return raw.parse::<Timestamp>().ok().map(Moment::Instant),
    };
    let at = |date: NaiveDate| {
        date.and_hms_opt(0, 0, 0)
            .map(|t| Timestamp::from_datetime(t.and_utc()))
    };
    let start = at(start).filter(Timestamp::is_storable)?;
    let end = end.and_then(at).filter(Timestamp::is_storable);
    Some(Moment::Period { start, end })
}

/// `column op raw`, typed by the column; for a period, `=` is "within",
/// `>` "after its end", `<=` "before its end" (Elasticsearch's rounding).
fn compare(column: &'static Column, op: CompareOp, raw: &str) -> Result<Filter> {
    let name = column.name;
    let bad = |what: &str| q_error(format!("`{name}` takes {what}"));
    let cmp = |op: CompareOp, value: Value| Filter::Compare {
        column: name,
        op,
        value,
    };
    Ok(match column.kind {
        ColumnKind::Text { .. } => cmp(op, Value::Text(text_as_stored(column, raw))),
        ColumnKind::Int => cmp(
            op,
            raw.parse().map(Value::Int).map_err(|_| bad("an integer"))?,
        ),
        ColumnKind::Bool => {
            if op != CompareOp::Eq {
                return Err(bad("`true` or `false`, not a comparison"));
            }
            match raw {
                "true" => cmp(op, Value::Bool(true)),
                "false" => cmp(op, Value::Bool(false)),
                _ => return Err(bad("`true` or `false`")),
            }
        }
        ColumnKind::Timestamp => {
            let moment = moment(raw).ok_or_else(|| {
                bad("a timestamp (RFC 3339, or a date YYYY-MM-DD, YYYY-MM or YYYY)")
            })?;
            match moment {
                Moment::Instant(t) => cmp(op, Value::Timestamp(t)),
                Moment::Period { start, end } => {
                    let start_cmp = |op| cmp(op, Value::Timestamp(start));
                    // Before the end; with no storable end, any value is.
                    let before_end = || match end {
                        Some(end) => cmp(CompareOp::Lt, Value::Timestamp(end)),
                        None => Filter::Exists(name),
                    };
                    match op {
                        CompareOp::Eq => Filter::And(vec![start_cmp(CompareOp::Ge), before_end()]),
                        CompareOp::Ge => start_cmp(CompareOp::Ge),
                        CompareOp::Lt => start_cmp(CompareOp::Lt),
                        CompareOp::Le => before_end(),
                        CompareOp::Gt => match end {
                            Some(end) => cmp(CompareOp::Ge, Value::Timestamp(end)),
                            None => Filter::Or(Vec::new()),
                        },
                    }
                }
            }
        }
        ColumnKind::Json => return Err(bad("no value: JSON fields cannot be searched")),
    })
}
