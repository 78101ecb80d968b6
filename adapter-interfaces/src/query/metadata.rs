//! Searches inside the users' metadata (`user_metadata.plan:gold`,
//! `_exists_:app_metadata.subscription.plan`): the typing of such a field,
//! the reference evaluation, and the SQL of each database, written once
//! here so that every backend sends the same condition.
//!
//! # Semantics (one contract for the reference and the three databases)
//!
//! - The path is the object keys after `user_metadata.` / `app_metadata.`,
//!   each of ASCII letters, digits and `_` (what a `q` field name can
//!   spell), at most [`MAX_PATH_KEYS`] keys of at most [`MAX_KEY_CHARS`];
//!   it walks objects only: an array inside the path is not entered.
//! - The value found there, or each element when it is an array (one
//!   level, as Elasticsearch's arrays), is compared with the query value
//!   `v`, quoted or not:
//!   - a JSON string matches when it is exactly `v` (case-sensitive, by
//!     code points, as Auth0's metadata fields);
//!   - a JSON number matches when `v` is an integer (`-?[0-9]+`, at most
//!     2^53 − 1 in magnitude) and the number equals it numerically
//!     (`13` matches `13` and `13.0`);
//!   - a JSON boolean matches `true` / `false`;
//!   - null, objects and nested arrays never match.
//! - `_exists_` is true when the path leads to a value that is not null
//!   (an object or an array, even empty, is a value).
//! - A value that is a number with a fraction or an exponent (`1.5`,
//!   `1e3`), an integer beyond 2^53 − 1, a range, a wildcard or a
//!   comparison is an [`InvalidInput`](crate::AdapterError::InvalidInput)
//!   on `q`: Auth0 has no ranges or wildcards on metadata, and numbers
//!   beyond that compare differently on the databases (doubles on
//!   MySQL/MariaDB).

use serde_json::Value as Json;

use super::ast::Term;
use super::q_error;
use crate::error::Result;
use crate::record::Value;
use crate::schema::Dialect;

/// Most object keys in a metadata path.
pub const MAX_PATH_KEYS: usize = 8;
/// Longest key of a metadata path, in characters.
pub const MAX_KEY_CHARS: usize = 64;
/// Largest magnitude of an integer compared with metadata numbers: below
/// 2^53 every database (and a double) holds it exactly.
pub const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

/// The metadata columns of users, as `q` spells them.
const COLUMNS: [&str; 2] = ["user_metadata", "app_metadata"];

/// What a metadata value must be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsonTest {
    /// Present and not null.
    Exists,
    /// The value, or one element of it when it is an array, equals the query value.
    Equals(JsonScalar),
}

/// A query value, with the JSON types it can equal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonScalar {
    /// Equal to a JSON string of this text.
    pub text: String,
    /// Equal to a JSON number of this value (when the text is an integer).
    pub int: Option<i64>,
    /// Equal to this JSON boolean (when the text is `true` or `false`).
    pub boolean: Option<bool>,
}

/// Whether `field` names a place inside a user's metadata (or the column itself).
pub(crate) fn is_metadata_field(field: &str) -> bool {
    COLUMNS
        .iter()
        .any(|c| field == *c || field.strip_prefix(c).is_some_and(|r| r.starts_with('.')))
}

/// Splits `user_metadata.a.b` into its column and its validated keys.
pub(crate) fn path(field: &str) -> Result<(&'static str, Vec<String>)> {
    let (head, rest) = field.split_once('.').unwrap_or((field, ""));
    let column = COLUMNS
        .iter()
        .copied()
        .find(|c| *c == head)
        .ok_or_else(|| q_error(format!("`{field}` is not a metadata field")))?;
    if rest.is_empty() {
        return Err(q_error(format!(
            "`{column}` needs a key: `{column}.key:value` or `_exists_:{column}.key`"
        )));
    }
    let keys: Vec<String> = rest.split('.').map(str::to_owned).collect();
    if keys.len() > MAX_PATH_KEYS {
        return Err(q_error(format!(
            "`{field}`: a metadata path has at most {MAX_PATH_KEYS} keys"
        )));
    }
    for key in &keys {
        // The keys are bound, never spliced; the whitelist also keeps every
        // database's path syntax (`$."key"`) free of anything to escape.
        let valid = !key.is_empty()
            && key.chars().count() <= MAX_KEY_CHARS
            && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(q_error(format!(
                "`{field}`: metadata keys are 1 to {MAX_KEY_CHARS} ASCII letters, digits or `_`"
            )));
        }
    }
    Ok((column, keys))
}

/// The test of `field:term` on a metadata field.
pub(crate) fn test(field: &str, term: &Term) -> Result<JsonTest> {
    let raw = match term {
        Term::Exact(raw) => raw,
        Term::Prefix(_) | Term::Suffix(_) => {
            return Err(q_error(format!(
                "wildcard searches are not available on metadata fields (`{field}`), as in Auth0"
            )));
        }
        Term::Range { .. } | Term::Compare(..) => {
            return Err(q_error(format!(
                "range searches and comparisons are not available on metadata fields (`{field}`), as in Auth0"
            )));
        }
    };
    Ok(JsonTest::Equals(scalar(field, raw)?))
}

fn scalar(field: &str, raw: &str) -> Result<JsonScalar> {
    let digits = raw.strip_prefix('-').unwrap_or(raw);
    let int = if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        match raw.parse::<i64>() {
            Ok(i) if i.abs() <= MAX_SAFE_INTEGER => Some(i),
            _ => {
                return Err(q_error(format!(
                    "`{field}`: integers in metadata searches are at most 2^53 - 1 in magnitude"
                )));
            }
        }
    } else {
        None
    };
    let looks_numeric = digits.starts_with(|c: char| c.is_ascii_digit())
        && digits.contains(['.', 'e', 'E'])
        && raw.parse::<f64>().is_ok();
    if looks_numeric {
        return Err(q_error(format!(
            "`{field}`: numbers with a fraction or an exponent (`{raw}`) are not searchable in metadata, only integers"
        )));
    }
    let boolean = match raw {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    };
    Ok(JsonScalar {
        text: raw.to_owned(),
        int,
        boolean,
    })
}

/// The reference evaluation of `test` at `keys` inside `value`.
pub(crate) fn matches(value: &Value, keys: &[String], test: &JsonTest) -> bool {
    let Value::Json(root) = value else {
        return false;
    };
    let mut at = root;
    for key in keys {
        match at.as_object().and_then(|o| o.get(key)) {
            Some(next) => at = next,
            None => return false,
        }
    }
    match test {
        JsonTest::Exists => !at.is_null(),
        JsonTest::Equals(scalar) => match at {
            Json::Array(items) => items.iter().any(|item| scalar_equals(item, scalar)),
            other => scalar_equals(other, scalar),
        },
    }
}

fn scalar_equals(value: &Json, scalar: &JsonScalar) -> bool {
    match value {
        Json::String(s) => *s == scalar.text,
        Json::Bool(b) => scalar.boolean == Some(*b),
        Json::Number(n) => scalar.int.is_some_and(|want| {
            if let Some(i) = n.as_i64() {
                i == want
            } else if n.is_u64() {
                false // beyond i64, so beyond MAX_SAFE_INTEGER
            } else {
                // `want` is exact as a double (|want| < 2^53).
                n.as_f64().is_some_and(|f| f == want as f64)
            }
        }),
        Json::Null | Json::Array(_) | Json::Object(_) => false,
    }
}

/// A piece of a metadata condition's SQL.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlPiece {
    /// SQL text (ours: never user input).
    Sql(String),
    /// A bound text parameter.
    BindText(String),
    /// A bound integer parameter.
    BindInt(i64),
}

/// The condition `test` at `keys` of `column` (already quoted) in `dialect`:
/// true or false, never NULL, with every key and value bound.
pub fn sql(dialect: Dialect, column: &str, keys: &[String], test: &JsonTest) -> Vec<SqlPiece> {
    let mut out = Pieces(Vec::new());
    match dialect {
        Dialect::Postgres => postgres(&mut out, column, keys, test),
        Dialect::MariaDb | Dialect::MySql => mysql(&mut out, column, keys, test),
        Dialect::Sqlite => sqlite(&mut out, column, keys, test),
    }
    out.0
}

struct Pieces(Vec<SqlPiece>);

impl Pieces {
    fn sql(&mut self, text: &str) -> &mut Self {
        match self.0.last_mut() {
            Some(SqlPiece::Sql(last)) => last.push_str(text),
            _ => self.0.push(SqlPiece::Sql(text.to_owned())),
        }
        self
    }

    fn text(&mut self, value: String) -> &mut Self {
        self.0.push(SqlPiece::BindText(value));
        self
    }

    fn int(&mut self, value: i64) -> &mut Self {
        self.0.push(SqlPiece::BindInt(value));
        self
    }
}

/// `$."a"."b"`: MySQL's and SQLite's path (keys are whitelisted, see [`path`]).
fn json_path(keys: &[String]) -> String {
    keys.iter().fold("$".to_owned(), |mut p, k| {
        p.push_str(".\"");
        p.push_str(k);
        p.push('"');
        p
    })
}

/// How PostgreSQL and MySQL/MariaDB spell the same condition: the value
/// `x` at the path, its elements `e` (the value itself unless it is an
/// array), and the type of each.
struct Spelling {
    /// The JSON type function.
    type_of: &'static str,
    /// What it answers for a JSON null, and for an array.
    null: &'static str,
    array: &'static str,
    /// `<open>CASE WHEN <type_of>(x) = <array> THEN x ELSE <wrap>x) END<close>`.
    open: &'static str,
    wrap: &'static str,
    close: &'static str,
}

/// PostgreSQL: `jsonb_extract_path(col, ?, ...)` is SQL NULL when the path
/// is missing (or crosses an array), jsonb `null` for a JSON null.
const POSTGRES: Spelling = Spelling {
    type_of: "jsonb_typeof",
    null: "'null'",
    array: "'array'",
    open: "EXISTS (SELECT 1 FROM jsonb_array_elements(",
    wrap: "jsonb_build_array(",
    close: ") AS sy_e(v) WHERE ",
};

/// MySQL 8 and MariaDB: `JSON_EXTRACT(col, ?)` is NULL when the path is
/// missing; `JSON_TABLE` enumerates the elements.
const MYSQL: Spelling = Spelling {
    type_of: "JSON_TYPE",
    null: "'NULL'",
    array: "'ARRAY'",
    open: "EXISTS (SELECT 1 FROM JSON_TABLE(",
    wrap: "JSON_ARRAY(",
    close: ", '$[*]' COLUMNS (v JSON PATH '$')) AS sy_e WHERE ",
};

/// The condition on a server database; `at` pushes the value at the path
/// and `scalar` the test of one element `sy_e.v`.
fn server(
    out: &mut Pieces,
    spelling: &Spelling,
    test: &JsonTest,
    at: impl Fn(&mut Pieces),
    scalar: impl FnOnce(&mut Pieces, &JsonScalar),
) {
    let Spelling {
        type_of,
        null,
        array,
        open,
        wrap,
        close,
    } = spelling;
    match test {
        JsonTest::Exists => {
            out.sql(&format!("(COALESCE({type_of}("));
            at(out);
            out.sql(&format!("), {null}) <> {null})"));
        }
        JsonTest::Equals(value) => {
            out.sql(&format!("{open}CASE WHEN {type_of}("));
            at(out);
            out.sql(&format!(") = {array} THEN "));
            at(out);
            out.sql(&format!(" ELSE {wrap}"));
            at(out);
            out.sql(&format!(") END{close}("));
            scalar(out, value);
            out.sql("))");
        }
    }
}

fn postgres(out: &mut Pieces, column: &str, keys: &[String], test: &JsonTest) {
    let at = |out: &mut Pieces| {
        out.sql(&format!("jsonb_extract_path({column}"));
        for key in keys {
            out.sql(", CAST(").text(key.clone()).sql(" AS text)");
        }
        out.sql(")");
    };
    server(out, &POSTGRES, test, at, |out, scalar| {
        out.sql("sy_e.v = to_jsonb(CAST(")
            .text(scalar.text.clone())
            .sql(" AS text))");
        if let Some(int) = scalar.int {
            // CASE: the cast must not run on a non-number.
            out.sql(" OR CASE WHEN jsonb_typeof(sy_e.v) = 'number' THEN CAST(sy_e.v AS numeric) = CAST(")
                .int(int)
                .sql(" AS bigint) ELSE false END");
        }
        if let Some(b) = scalar.boolean {
            out.sql(if b {
                " OR sy_e.v = CAST('true' AS jsonb)"
            } else {
                " OR sy_e.v = CAST('false' AS jsonb)"
            });
        }
    });
}

fn mysql(out: &mut Pieces, column: &str, keys: &[String], test: &JsonTest) {
    let at = |out: &mut Pieces| {
        out.sql(&format!("JSON_EXTRACT({column}, "))
            .text(json_path(keys))
            .sql(")");
    };
    server(out, &MYSQL, test, at, |out, scalar| {
        // Strings compare as bytes: no collation, no PAD SPACE.
        out.sql("(JSON_TYPE(sy_e.v) = 'STRING' AND CAST(JSON_UNQUOTE(sy_e.v) AS BINARY) = CAST(")
            .text(scalar.text.clone())
            .sql(" AS BINARY))");
        if let Some(int) = scalar.int {
            out.sql(
                " OR (CASE WHEN JSON_TYPE(sy_e.v) IN ('INTEGER', 'UNSIGNED INTEGER', 'DOUBLE', 'DECIMAL') \
                 THEN CAST(JSON_UNQUOTE(sy_e.v) AS DOUBLE) = ",
            )
            .int(int)
            .sql(" ELSE 0 END)");
        }
        if let Some(b) = scalar.boolean {
            out.sql(if b {
                " OR (JSON_TYPE(sy_e.v) = 'BOOLEAN' AND JSON_UNQUOTE(sy_e.v) = 'true')"
            } else {
                " OR (JSON_TYPE(sy_e.v) = 'BOOLEAN' AND JSON_UNQUOTE(sy_e.v) = 'false')"
            });
        }
    });
}

/// SQLite: `json_each(col, ?)` yields the elements of an array, the
/// members of an object (keyed: excluded), or the scalar itself (no key).
fn sqlite(out: &mut Pieces, column: &str, keys: &[String], test: &JsonTest) {
    match test {
        JsonTest::Exists => {
            out.sql(&format!("(COALESCE(json_type({column}, "))
                .text(json_path(keys))
                .sql("), 'null') <> 'null')");
        }
        JsonTest::Equals(scalar) => {
            out.sql(&format!("EXISTS (SELECT 1 FROM json_each({column}, "))
                .text(json_path(keys))
                .sql(&format!(
                    ") AS sy_e WHERE (sy_e.key IS NULL OR json_type({column}, "
                ))
                .text(json_path(keys))
                .sql(") = 'array') AND ((sy_e.type = 'text' AND sy_e.atom = ")
                .text(scalar.text.clone())
                .sql(")");
            if let Some(int) = scalar.int {
                out.sql(" OR (sy_e.type IN ('integer', 'real') AND sy_e.atom = ")
                    .int(int)
                    .sql(")");
            }
            if let Some(b) = scalar.boolean {
                out.sql(if b {
                    " OR sy_e.type = 'true'"
                } else {
                    " OR sy_e.type = 'false'"
                });
            }
            out.sql("))");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keys and values are only ever binds, and the SQL around them is balanced.
    #[test]
    fn keys_and_values_are_bound_never_spliced() {
        let keys = vec!["sub_key".to_owned(), "plan".to_owned()];
        let tests = [
            JsonTest::Exists,
            JsonTest::Equals(JsonScalar {
                text: "x') OR 1=1 --".into(),
                int: Some(7),
                boolean: Some(false),
            }),
        ];
        for dialect in [
            Dialect::Postgres,
            Dialect::MariaDb,
            Dialect::MySql,
            Dialect::Sqlite,
        ] {
            for test in &tests {
                let pieces = sql(dialect, "\"col\"", &keys, test);
                let text: String = pieces
                    .iter()
                    .map(|p| match p {
                        SqlPiece::Sql(s) => s.as_str(),
                        _ => "?",
                    })
                    .collect();
                assert!(
                    !text.contains("plan") && !text.contains("OR 1=1"),
                    "{dialect:?}: {text}"
                );
                let depth = text.chars().try_fold(0i32, |d, c| {
                    let d = d + i32::from(c == '(') - i32::from(c == ')');
                    (d >= 0).then_some(d)
                });
                assert_eq!(depth, Some(0), "{dialect:?}: unbalanced {text}");
                let binds = pieces
                    .iter()
                    .filter(|p| !matches!(p, SqlPiece::Sql(_)))
                    .count();
                assert!(binds >= 1, "{dialect:?}: nothing bound");
            }
        }
    }
}
