//! The `q` language: Auth0's user-search syntax (search engine v3, a
//! Lucene subset), parsed once into a [`Filter`] that every backend
//! translates the same way.
//!
//! The whole table of constructs, with examples, what each matches and
//! where this project differs from Auth0, is `docs/SEARCH.md` in the
//! repository. In short:
//!
//! | form | meaning |
//! | --- | --- |
//! | `field:value`, `field:"two words"` | equal (a date `YYYY[-MM[-DD]]` on a timestamp: within it) |
//! | `field:jo*`, `field:*son` | starts with, ends with (text fields; `%` and `_` are literal; a suffix has at least 3 characters, as in Auth0) |
//! | `field:[a TO b]`, `{a TO b}`, `[a TO *]`, mixed | ranges, inclusive `[]`, exclusive `{}`, `*` open |
//! | `field:>v` `field:>=v` `field:<v` `field:<=v` | comparisons (v2's forms, kept as an extension) |
//! | `_exists_:field` | the field is not null |
//! | `term`, `"a phrase"`, `jo*`, `*son` | substring (or prefix, suffix) of any searchable field, by its case rule |
//! | `a b`, `a AND b`, `a OR b`, `NOT a`, `-a`, `( ... )`, `field:(a OR b)` | boolean logic, Lucene's precedence: `NOT` > `AND` > `OR` > juxtaposition |
//! | `logins_count`, `email.domain` | Auth0's name of `login_count`; the part of `email` after the `@` |
//! | `user_metadata.a.b:v`, `_exists_:app_metadata.a` | users' metadata: a value (or an array element) equal by its JSON type; present ([`metadata`]) |
//!
//! Values are typed by the field: integers, `true`/`false`, timestamps
//! (RFC 3339, or the dates `YYYY-MM-DD`, `YYYY-MM`, `YYYY`); text compares
//! by code points; backslash escapes any character. `name`, `given_name`,
//! `family_name` and `nickname` match case-insensitively by ASCII folding
//! (their stored folded copies, [`crate::record::Column::folds`]), `email`
//! is lowercased, every other field is case-sensitive. Unknown fields, bad
//! values, malformed queries and every Lucene construct this project does
//! not implement (fuzzy `~`, boosts `^`, `?`, regular expressions, infix
//! wildcards, ranges or wildcards on metadata, ...) are
//! [`AdapterError::InvalidInput`] on field `q` naming what is wrong: never
//! a silently wider result.
//!
//! ## Why a hand-written parser
//!
//! The grammar is small (a dozen token kinds, five precedence levels) and
//! the work is in the checks around it: every unsupported Lucene construct
//! rejected by name, Auth0's wildcard rules, the byte and term limits, no
//! panic and no deep recursion on any input. A combinator crate (nom,
//! winnow, chumsky) or a PEG (pest) would make the grammar a little
//! shorter but not those checks, would turn their messages into the
//! library's, and would add a dependency to the crate every adapter
//! depends on; so the lexer, the syntax tree ([`ast`]), the
//! recursive-descent parser and the typing stay hand-written, each in its
//! own module.
//!
//! ```
//! use adapter_interfaces::{User, query::parse_q};
//! let filter = parse_q::<User>(
//!     r#"(email.domain:"example.com" OR name:jo*) -blocked:true logins_count:[3 TO *]"#,
//! )
//! .unwrap()
//! .unwrap();
//! assert!(parse_q::<User>("password:secret").is_err()); // not a user field
//! assert!(parse_q::<User>("name:jon~").is_err()); // fuzzy search: not supported
//! # let _ = filter;
//! ```

pub mod ast;
mod lexer;
pub mod metadata;
mod parser;
mod typing;

pub use ast::{Bound, Query, Term};
pub use metadata::{JsonScalar, JsonTest};
pub use parser::MAX_Q_DEPTH;

use crate::error::{AdapterError, Result};
use crate::record::{Record, Value};

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
/// - `EndsWith` is a case-sensitive suffix test, false on NULL, never
///   `LIKE`: `right(col, n) = ?` (PostgreSQL, MySQL), `substr(col, -n) = ?`
///   (SQLite), `n` the suffix's length in characters;
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
    /// The column ends with `suffix` (case-sensitive, never empty); false on NULL.
    EndsWith {
        /// The column name.
        column: &'static str,
        /// The suffix.
        suffix: String,
    },
    /// Any of the columns contains `term` (case-sensitive: a bare term on a
    /// case-insensitive field names its folded column, with a folded term).
    Contains {
        /// The searched columns.
        columns: Vec<&'static str>,
        /// The substring.
        term: String,
    },
    /// A test at a path inside a JSON column (the users' metadata), with
    /// the semantics of [`metadata`]; its SQL is [`metadata::sql`].
    Json {
        /// The JSON column.
        column: &'static str,
        /// The object keys to follow (validated: ASCII letters, digits, `_`).
        keys: Vec<String>,
        /// What the value there must be.
        test: JsonTest,
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
            Filter::EndsWith {
                column: name,
                suffix,
            } => matches!(column(name), Value::Text(text) if text.ends_with(suffix.as_str())),
            Filter::Contains { columns, term } => columns.iter().any(
                |name| matches!(column(name), Value::Text(text) if text.contains(term.as_str())),
            ),
            Filter::Json {
                column: name,
                keys,
                test,
            } => metadata::matches(&column(name), keys, test),
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

pub(crate) fn q_error(reason: impl Into<String>) -> AdapterError {
    AdapterError::invalid("q", reason)
}

/// Parses `q` into its syntax tree, without looking at field names or
/// values. `Ok(None)` for an empty or blank query.
pub fn parse_query(q: &str) -> Result<Option<Query>> {
    if q.len() > MAX_Q_BYTES {
        return Err(q_error(format!("is longer than {MAX_Q_BYTES} bytes")));
    }
    parser::parse(lexer::tokenize(q)?)
}

/// Parses `q` for entity `R`. `Ok(None)` for an empty or blank query.
pub fn parse_q<R: Record>(q: &str) -> Result<Option<Filter>> {
    parse_query(q)?
        .map(|query| typing::lower::<R>(&query))
        .transpose()
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
                "name_folded",
                CompareOp::Eq,
                Value::Text(r#"ada "the" lovelace"#.into())
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
        // Each searchable field by its case rule: email lowercased, the
        // names folded (the same text here), the others as written.
        assert_eq!(
            parse(r#""Ada L""#).unwrap(),
            Some(Filter::Or(vec![
                Filter::Contains {
                    columns: vec!["email", "name_folded", "nickname_folded"],
                    term: "ada l".into()
                },
                Filter::Contains {
                    columns: vec!["username", "phone_number"],
                    term: "Ada L".into()
                },
            ]))
        );
        assert_eq!(
            parse(r#""ÖSTER""#).unwrap(),
            Some(Filter::Or(vec![
                Filter::Contains {
                    columns: vec!["email"],
                    term: "öster".into()
                },
                Filter::Contains {
                    columns: vec!["username", "phone_number"],
                    term: "ÖSTER".into()
                },
                Filter::Contains {
                    columns: vec!["name_folded", "nickname_folded"],
                    term: "Öster".into()
                },
            ])),
            "ASCII folding leaves Ö as it is"
        );
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
            "user_metadata.plan:gold*",
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

    fn ts(text: &str) -> Value {
        Value::Timestamp(text.parse().unwrap())
    }

    fn text(column: &'static str, op: CompareOp, v: &str) -> Filter {
        cmp(column, op, Value::Text(v.into()))
    }

    fn ast(q: &str) -> Query {
        parse_query(q).unwrap().unwrap()
    }

    fn field(f: &str, term: Term) -> Query {
        Query::Term {
            field: Some(f.into()),
            term,
        }
    }

    fn exact(v: &str) -> Term {
        Term::Exact(v.into())
    }

    fn invalid_naming(q: &str, words: &str) {
        match parse(q) {
            Err(AdapterError::InvalidInput { field, reason }) => {
                assert_eq!(field, "q", "{q}");
                assert!(
                    reason.contains(words),
                    "{q}: `{reason}` does not name `{words}`"
                );
            }
            other => panic!("{q}: expected InvalidInput on q, got {other:?}"),
        }
    }

    /// The examples of Auth0's user-search documentation that this model can answer.
    #[test]
    fn auth0_documentation_examples_parse() {
        for q in [
            r#"name:"jane smith""#,
            "jane",
            r#""green apple""#,
            r#"email:"john@contoso.com""#,
            r#"email:("john@contoso.com" OR "jane@contoso.com")"#,
            "name:john*",
            "name:j*",
            "name:*smith",
            "name:*usa",
            "user_id:auth0*",
            r#"email.domain:"contoso.com""#,
            "email.domain:contoso.com",
            "logins_count:[100 TO 200]",
            "logins_count:[100 TO *]",
            "logins_count:{100 TO 200}",
            "logins_count:[* TO 10}",
            "logins_count:{100 TO *]",
            "last_login:[* TO 2017-11-13]",
            "created_at:[2019-01-01 TO *]",
            "last_login:[2017-11 TO 2017-12]",
            "last_login:[2017 TO 2018}",
            "_exists_:email",
            "NOT _exists_:email",
            "-_exists_:email",
            "email_verified:false",
            "phone_verified:true",
            "blocked:true",
            r#"name:"jane smith" AND email_verified:true"#,
            "(name:john* OR name:jane*) AND blocked:false",
            "name:john* OR -_exists_:last_login",
            r#"user_id:"auth0|12345""#,
            r#"user_id:auth0\|12345"#,
            r#"last_login:<"2026-01-01T00:00:00.000Z""#,
        ] {
            parse(q).unwrap_or_else(|e| panic!("{q}: {e}"));
        }
    }

    #[test]
    fn precedence_is_not_and_or_then_juxtaposition() {
        let a = || field("name", exact("a"));
        let b = || field("name", exact("b"));
        let c = || field("name", exact("c"));
        assert_eq!(
            ast("name:a AND name:b OR name:c"),
            Query::Or(vec![Query::And(vec![a(), b()]), c()])
        );
        assert_eq!(
            ast("name:a OR name:b AND name:c"),
            Query::Or(vec![a(), Query::And(vec![b(), c()])])
        );
        assert_eq!(
            ast("NOT name:a OR name:b"),
            Query::Or(vec![Query::Not(Box::new(a())), b()])
        );
        assert_eq!(
            ast("name:a OR name:b name:c"),
            Query::And(vec![Query::Or(vec![a(), b()]), c()])
        );
        // Grouping is kept as written.
        assert_eq!(
            ast("(name:a AND name:b) AND name:c"),
            Query::And(vec![Query::And(vec![a(), b()]), c()])
        );
        assert_eq!(
            ast("name:a AND (name:b OR NOT name:c)"),
            Query::And(vec![a(), Query::Or(vec![b(), Query::Not(Box::new(c()))])])
        );
        // A field-scoped group distributes the field over its terms.
        assert_eq!(
            ast("name:(a OR (b AND NOT c))"),
            Query::Or(vec![a(), Query::And(vec![b(), Query::Not(Box::new(c()))])])
        );
        // Negation and `_exists_` inside OR.
        assert_eq!(
            ast("-name:a OR _exists_:email"),
            Query::Or(vec![
                Query::Not(Box::new(a())),
                Query::Exists("email".into())
            ])
        );
    }

    #[test]
    fn wildcards_are_prefix_and_suffix_ranges_and_ends() {
        assert_eq!(
            parse("name:Jo*").unwrap(),
            Some(Filter::And(vec![
                text("name_folded", CompareOp::Ge, "jo"),
                text("name_folded", CompareOp::Lt, "jp"),
            ])),
            "names compare their ASCII-folded copies"
        );
        assert_eq!(
            parse("family_name:*SMITH").unwrap(),
            Some(Filter::EndsWith {
                column: "family_name_folded",
                suffix: "smith".into()
            })
        );
        assert_eq!(
            parse("given_name:JÖHN").unwrap(),
            Some(text("given_name_folded", CompareOp::Eq, "jÖhn"))
        );
        assert_eq!(
            parse("username:Jo*").unwrap(),
            Some(Filter::And(vec![
                text("username", CompareOp::Ge, "Jo"),
                text("username", CompareOp::Lt, "Jp"),
            ])),
            "other fields stay case-sensitive"
        );
        assert_eq!(
            parse("_exists_:nickname").unwrap(),
            Some(Filter::Exists("nickname"))
        );
        assert!(
            parse("name_folded:x").is_err(),
            "a folded copy is not a field"
        );
        assert_eq!(
            parse("email:ADA*").unwrap(),
            Some(Filter::And(vec![
                text("email", CompareOp::Ge, "ada"),
                text("email", CompareOp::Lt, "adb"),
            ])),
            "email values are lowercased"
        );
        assert_eq!(
            parse("name:*50%_off").unwrap(),
            Some(Filter::EndsWith {
                column: "name_folded",
                suffix: "50%_off".into()
            })
        );
        assert_eq!(
            parse(r#"name:a\*b*"#).unwrap(),
            Some(Filter::And(vec![
                text("name_folded", CompareOp::Ge, "a*b"),
                text("name_folded", CompareOp::Lt, "a*c"),
            ])),
            "an escaped `*` is literal"
        );
        assert_eq!(
            parse(r#"name:"jo*""#).unwrap(),
            Some(text("name_folded", CompareOp::Eq, "jo*")),
            "a `*` in a phrase is literal"
        );
        assert_eq!(
            typing::prefix_successor("a\u{D7FF}"),
            Some("a\u{E000}".into())
        );
        assert_eq!(typing::prefix_successor("a\u{10FFFF}"), Some("b".into()));
        assert_eq!(typing::prefix_successor("\u{10FFFF}"), None);
        match parse("jo*").unwrap() {
            Some(Filter::Or(arms)) => assert_eq!(arms.len(), 5, "one per searchable field"),
            other => panic!("bare prefix: {other:?}"),
        }
    }

    #[test]
    fn ranges_and_partial_dates() {
        assert_eq!(
            parse("logins_count:[100 TO 200]").unwrap(),
            Some(Filter::And(vec![
                cmp("login_count", CompareOp::Ge, Value::Int(100)),
                cmp("login_count", CompareOp::Le, Value::Int(200)),
            ]))
        );
        assert_eq!(
            parse("login_count:{100 TO *]").unwrap(),
            Some(cmp("login_count", CompareOp::Gt, Value::Int(100)))
        );
        assert_eq!(
            parse("login_count:[* TO *]").unwrap(),
            Some(Filter::Exists("login_count"))
        );
        // A month is the period from its first instant to the next month's.
        assert_eq!(
            parse("last_login:[2017-11 TO 2017-12]").unwrap(),
            Some(Filter::And(vec![
                cmp("last_login", CompareOp::Ge, ts("2017-11-01")),
                cmp("last_login", CompareOp::Lt, ts("2018-01-01")),
            ]))
        );
        assert_eq!(
            parse("last_login:{2017 TO 2019-02-03}").unwrap(),
            Some(Filter::And(vec![
                cmp("last_login", CompareOp::Ge, ts("2018-01-01")),
                cmp("last_login", CompareOp::Lt, ts("2019-02-03")),
            ]))
        );
        assert_eq!(
            parse("created_at:2024-02").unwrap(),
            Some(Filter::And(vec![
                cmp("created_at", CompareOp::Ge, ts("2024-02-01")),
                cmp("created_at", CompareOp::Lt, ts("2024-03-01")),
            ]))
        );
        assert_eq!(
            parse(r#"created_at:["2024-01-02T03:04:05Z" TO *]"#).unwrap(),
            Some(cmp("created_at", CompareOp::Ge, ts("2024-01-02T03:04:05Z")))
        );
        assert_eq!(
            parse("name:[a TO b}").unwrap(),
            Some(Filter::And(vec![
                text("name_folded", CompareOp::Ge, "a"),
                text("name_folded", CompareOp::Lt, "b"),
            ]))
        );
    }

    #[test]
    fn email_domain_aliases_and_escapes() {
        assert_eq!(
            parse("email.domain:Example.COM").unwrap(),
            Some(Filter::EndsWith {
                column: "email",
                suffix: "@example.com".into()
            })
        );
        assert_eq!(
            parse("email.domain:*.example.com").unwrap(),
            Some(Filter::EndsWith {
                column: "email",
                suffix: ".example.com".into()
            })
        );
        assert_eq!(
            parse("logins_count:>2").unwrap(),
            parse("login_count:>2").unwrap()
        );
        assert_eq!(
            parse(r#"name:a\ b\(c\)\:d\\"#).unwrap(),
            Some(text("name_folded", CompareOp::Eq, r"a b(c):d\"))
        );
        assert_eq!(
            parse("name:OR").unwrap(),
            Some(text("name_folded", CompareOp::Eq, "or")),
            "a keyword after `field:` is a value"
        );
        assert_eq!(
            parse("name:a and name:b").unwrap(),
            Some(Filter::And(vec![
                text("name_folded", CompareOp::Eq, "a"),
                Filter::Contains {
                    columns: vec![
                        "email",
                        "username",
                        "phone_number",
                        "name_folded",
                        "nickname_folded"
                    ],
                    term: "and".into()
                },
                text("name_folded", CompareOp::Eq, "b"),
            ])),
            "lowercase `and` is a word, as in Auth0"
        );
    }

    #[test]
    fn unsupported_constructs_are_named() {
        for (q, words) in [
            ("name:jo?n", "`?`"),
            ("name:john~", "fuzzy"),
            ("name:john~2", "fuzzy"),
            (r#"name:"john smith"~3"#, "proximity"),
            ("name:john^2", "boosting"),
            ("name:/jo.n/", "regular expressions"),
            ("name:*oh*", "infix"),
            ("name:j*n", "at the start"),
            ("name:*", "lone `*`"),
            ("name:*sa", "at least 3 characters"),
            (r"name:*\*a", "at least 3 characters"),
            ("+name:john", "`+`"),
            ("!name:john", "`!`"),
            ("name:a && name:b", "`&&`"),
            ("name:a || name:b", "`||`"),
            (
                "user_metadata.plan:gold*",
                "wildcard searches are not available",
            ),
            (
                "user_metadata.plan:*gold",
                "wildcard searches are not available",
            ),
            ("user_metadata.age:[1 TO 2]", "range searches"),
            ("user_metadata.age:>=1", "range searches"),
            ("user_metadata.age:1.5", "fraction"),
            ("user_metadata.age:-2e5", "exponent"),
            ("user_metadata.age:9007199254740992", "2^53"),
            ("user_metadata:gold", "needs a key"),
            ("_exists_:user_metadata", "needs a key"),
            ("user_metadata.a..b:1", "metadata keys"),
            ("user_metadata.a.:1", "metadata keys"),
            ("user_metadata.a.b.c.d.e.f.g.h.i:1", "at most 8 keys"),
            ("login_count:1*", "wildcards apply to text"),
            ("blocked:[false TO true]", "boolean"),
            ("logins_count:[1 TO]", "range"),
            ("logins_count:[1 2]", "range"),
            ("logins_count:[1 TO 2", "range"),
            ("[1 TO 2]", "needs a field"),
            (">3", "needs a field"),
            ("email.domain:exa*", "email.domain"),
            ("email.domain:a@b.co", "without `@`"),
            ("name:(a email:b)", "field-scoped"),
            ("(name:a", "without its `)`"),
            ("name:a)", "without its `(`"),
            ("()", "empty group"),
            ("NOT", "`NOT` must be followed"),
            ("name:a AND", "`AND` must stand"),
            ("name:a OR OR name:b", "`OR` must stand"),
            ("name: a", "right after the colon"),
            (r"name:a\", "backslash"),
            ("name:a[b", "escaped"),
            ("identities.connection:x", "not a searchable field"),
            ("last_login:2017-13", "timestamp"),
        ] {
            invalid_naming(q, words);
        }
        let deep = format!("{}name:a{}", "(".repeat(20), ")".repeat(20));
        invalid_naming(&deep, "nests");
        let nots = format!("{}name:a", "NOT ".repeat(20));
        invalid_naming(&nots, "nests");
    }

    fn json(column: &'static str, keys: &[&str], test: JsonTest) -> Filter {
        Filter::Json {
            column,
            keys: keys.iter().map(|k| (*k).to_owned()).collect(),
            test,
        }
    }

    fn equals(text: &str, int: Option<i64>, boolean: Option<bool>) -> JsonTest {
        JsonTest::Equals(JsonScalar {
            text: text.into(),
            int,
            boolean,
        })
    }

    #[test]
    fn metadata_fields_are_typed_paths() {
        assert_eq!(
            parse(r#"user_metadata.plan:"gold""#).unwrap(),
            Some(json("user_metadata", &["plan"], equals("gold", None, None)))
        );
        assert_eq!(
            parse("app_metadata.subscription.plan:gold").unwrap(),
            Some(json(
                "app_metadata",
                &["subscription", "plan"],
                equals("gold", None, None)
            ))
        );
        assert_eq!(
            parse("user_metadata.age:-34").unwrap(),
            Some(json(
                "user_metadata",
                &["age"],
                equals("-34", Some(-34), None)
            ))
        );
        assert_eq!(
            parse("user_metadata.ok:true").unwrap(),
            Some(json(
                "user_metadata",
                &["ok"],
                equals("true", None, Some(true))
            ))
        );
        assert_eq!(
            parse("_exists_:user_metadata.fav_color").unwrap(),
            Some(json("user_metadata", &["fav_color"], JsonTest::Exists))
        );
        assert_eq!(
            parse("app_metadata.roles:(admin OR editor)").unwrap(),
            Some(Filter::Or(vec![
                json("app_metadata", &["roles"], equals("admin", None, None)),
                json("app_metadata", &["roles"], equals("editor", None, None)),
            ]))
        );
        assert!(parse_q::<Code>("user_metadata.plan:gold").is_err());
    }

    #[test]
    fn metadata_reference_semantics() {
        let doc = Value::Json(serde_json::json!({
            "plan": "gold", "pad": "gold ", "age": 34.0, "n": 34, "s": "34",
            "roles": ["admin", ["nested"], {"k": "admin"}],
            "sub": {"plan": "gold"}, "objs": [{"plan": "gold"}],
            "nil": null, "empty": [], "yes": true, "big": 9_007_199_254_740_993_i64,
        }));
        let hit = |q: &str| {
            parse(q).unwrap().unwrap().matches(&|name: &str| {
                if name == "user_metadata" {
                    doc.clone()
                } else {
                    Value::Null
                }
            })
        };
        assert!(hit("user_metadata.plan:gold"));
        assert!(
            !hit("user_metadata.pad:gold"),
            "a trailing space is another value"
        );
        assert!(!hit("user_metadata.plan:Gold"), "case-sensitive");
        assert!(
            hit("user_metadata.age:34") && hit("user_metadata.n:34") && hit("user_metadata.s:34")
        );
        assert!(hit("user_metadata.roles:admin"));
        assert!(
            !hit("user_metadata.roles:nested"),
            "nested arrays are not flattened"
        );
        assert!(hit("user_metadata.sub.plan:gold"));
        assert!(
            !hit("user_metadata.objs.plan:gold"),
            "arrays inside the path are not entered"
        );
        assert!(!hit("user_metadata.sub:gold"), "an object is not a value");
        assert!(!hit("_exists_:user_metadata.nil") && hit("_exists_:user_metadata.empty"));
        assert!(hit("_exists_:user_metadata.sub") && !hit("_exists_:user_metadata.nope"));
        assert!(hit("user_metadata.yes:true") && !hit("user_metadata.yes:false"));
        assert!(!hit("user_metadata.big:9007199254740991"));
        assert!(
            hit("-user_metadata.nope:x"),
            "a missing value matches a negation"
        );
    }

    #[test]
    fn partial_dates_at_the_storable_edge() {
        // The period 9999 ends past what backends store: `<=` is any value.
        assert_eq!(
            parse("created_at:<=9999").unwrap(),
            Some(Filter::Exists("created_at"))
        );
        assert_eq!(
            parse("created_at:>9999").unwrap(),
            Some(Filter::Or(Vec::new()))
        );
        assert!(parse("created_at:[0999 TO *]").is_err());
    }
}
