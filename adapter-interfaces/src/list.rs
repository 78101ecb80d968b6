//! Listing: [`ListParams`] in, [`Page`] out, and the [`ListPlan`] every
//! backend executes so that all of them page, sort and filter alike.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use crate::error::{AdapterError, Result};
use crate::query::{CompareOp, Filter, parse_q};
use crate::record::{Column, ColumnKind, Record, Value, column_value};

/// Page size when none is given.
pub const DEFAULT_PER_PAGE: u32 = 50;
/// Largest page size.
pub const MAX_PER_PAGE: u32 = 1000;
/// Largest offset (`page * per_page`): deeper scans must use the keyset cursor.
pub const MAX_OFFSET: u64 = 100_000;

/// Sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SortOrder {
    /// Ascending (NULLs first).
    #[default]
    Asc,
    /// Descending (NULLs last).
    Desc,
}

/// A sort field and direction.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Sort {
    /// The field, from the entity's sortable columns.
    pub field: String,
    /// The direction.
    pub order: SortOrder,
}

impl Sort {
    /// Ascending by `field`.
    pub fn asc(field: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            order: SortOrder::Asc,
        }
    }

    /// Descending by `field`.
    pub fn desc(field: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            order: SortOrder::Desc,
        }
    }

    /// Parses Auth0's form `field:1` (ascending) or `field:-1` (descending).
    pub fn parse(text: &str) -> Result<Self> {
        match text.rsplit_once(':') {
            Some((field, "1")) => Ok(Self::asc(field)),
            Some((field, "-1")) => Ok(Self::desc(field)),
            _ => Err(AdapterError::invalid(
                "sort",
                "must look like `field:1` or `field:-1`",
            )),
        }
    }
}

/// What to list: offset pages (`page`, `per_page`) or a keyset scan (`from`
/// a cursor, `per_page` rows at a time), optionally sorted and filtered.
///
/// ```
/// use adapter_interfaces::{ListParams, Sort};
/// let params = ListParams::default()
///     .with_per_page(100)
///     .with_sort(Sort::desc("created_at"))
///     .with_q("email_verified:true")
///     .with_totals();
/// assert_eq!(params.page, 0);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ListParams {
    /// Zero-based page number (offset mode); must be 0 with `from`.
    pub page: u32,
    /// Rows per page, 1 to [`MAX_PER_PAGE`].
    pub per_page: u32,
    /// Whether to count all matching rows.
    pub include_totals: bool,
    /// Sort; by primary key when absent. Ties always break on the primary key.
    pub sort: Option<Sort>,
    /// Lucene-style filter, see [`crate::query`].
    pub q: Option<String>,
    /// Keyset cursor from a previous [`Page::next`]. A cursor depends only on
    /// the sort and the last record of its page, so it is valid on any adapter
    /// of the same entity (backfill and verify rely on it).
    pub from: Option<String>,
}

impl Default for ListParams {
    fn default() -> Self {
        Self {
            page: 0,
            per_page: DEFAULT_PER_PAGE,
            include_totals: false,
            sort: None,
            q: None,
            from: None,
        }
    }
}

impl ListParams {
    /// Sets the zero-based page.
    pub fn with_page(mut self, page: u32) -> Self {
        self.page = page;
        self
    }
    /// Sets the page size.
    pub fn with_per_page(mut self, per_page: u32) -> Self {
        self.per_page = per_page;
        self
    }
    /// Asks for the total count.
    pub fn with_totals(mut self) -> Self {
        self.include_totals = true;
        self
    }
    /// Sets the sort.
    pub fn with_sort(mut self, sort: Sort) -> Self {
        self.sort = Some(sort);
        self
    }
    /// Sets the filter.
    pub fn with_q(mut self, q: impl Into<String>) -> Self {
        self.q = Some(q.into());
        self
    }
    /// Continues a keyset scan after the page that returned `cursor`.
    pub fn with_from(mut self, cursor: impl Into<String>) -> Self {
        self.from = Some(cursor.into());
        self
    }
}

/// One page of results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    /// The records.
    pub items: Vec<T>,
    /// The page number asked for.
    pub page: u32,
    /// The page size asked for.
    pub per_page: u32,
    /// The number of records matching `q`, when asked for.
    pub total: Option<u64>,
    /// A cursor for the rows after this page (pass it as `from`); `None` on the last page.
    pub next: Option<String>,
}

/// One `ORDER BY` term. Ascending puts NULLs first, descending puts them
/// last (MySQL's and SQLite's default; PostgreSQL needs `NULLS FIRST/LAST`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderBy {
    /// The column.
    pub column: &'static Column,
    /// The direction.
    pub order: SortOrder,
}

/// A validated listing, ready for a backend to run:
/// `WHERE filter AND keyset ORDER BY order LIMIT limit OFFSET offset`, then
/// `SELECT COUNT(*) WHERE filter` when `include_totals`, then [`ListPlan::finish`].
#[derive(Debug, Clone, PartialEq)]
pub struct ListPlan {
    /// The `q` filter (also the condition of the total count).
    pub filter: Option<Filter>,
    /// The keyset condition from the cursor (not part of the count).
    pub keyset: Option<Filter>,
    /// The order: the sort column, then the primary key as tie-breaker.
    pub order: Vec<OrderBy>,
    /// Rows to fetch: one more than a page, to know whether another follows.
    pub limit: u64,
    /// Rows to skip.
    pub offset: u64,
    /// Whether to count.
    pub include_totals: bool,
    page: u32,
    per_page: u32,
    sort_column: &'static str,
    order_dir: SortOrder,
}

#[derive(Serialize, Deserialize)]
struct Cursor {
    s: String,
    d: SortOrder,
    v: Value,
    k: String,
}

fn cursor_error(reason: &str) -> AdapterError {
    AdapterError::invalid("from", reason)
}

impl ListPlan {
    /// Validates `params` for entity `R` and plans the query.
    pub fn new<R: Record>(params: &ListParams) -> Result<Self> {
        if params.per_page == 0 || params.per_page > MAX_PER_PAGE {
            return Err(AdapterError::invalid(
                "per_page",
                format!("must be between 1 and {MAX_PER_PAGE}"),
            ));
        }
        let offset = u64::from(params.page) * u64::from(params.per_page);
        if offset > MAX_OFFSET {
            return Err(AdapterError::invalid(
                "page",
                format!("offsets beyond {MAX_OFFSET} rows are not served; use the `from` cursor"),
            ));
        }
        let key = R::key_column();
        let (sort_column, order_dir) = match &params.sort {
            None => (key, SortOrder::Asc),
            Some(sort) => match R::column(&sort.field) {
                Some(column) if column.sortable => (column, sort.order),
                _ => {
                    let allowed: Vec<&str> = R::COLUMNS
                        .iter()
                        .filter(|c| c.sortable)
                        .map(|c| c.name)
                        .collect();
                    return Err(AdapterError::invalid(
                        "sort",
                        format!(
                            "`{}` is not a sort field of {}; use one of: {}",
                            sort.field,
                            R::KIND.table(),
                            allowed.join(", ")
                        ),
                    ));
                }
            },
        };
        let filter = match params.q.as_deref() {
            // Checked before parsing: no stored value holds a NUL (validation
            // rejects it), and PostgreSQL cannot bind one.
            Some(q) if q.contains('\0') => {
                return Err(AdapterError::invalid(
                    "q",
                    "must not contain NUL characters (no stored value holds one)",
                ));
            }
            Some(q) => parse_q::<R>(q)?,
            None => None,
        };
        let keyset = match params.from.as_deref() {
            None => None,
            Some(_) if params.page != 0 => {
                return Err(AdapterError::invalid(
                    "page",
                    "must be 0 when `from` is given",
                ));
            }
            Some(cursor) => Some(keyset_filter(key, sort_column, order_dir, cursor)?),
        };
        let mut order = vec![OrderBy {
            column: sort_column,
            order: order_dir,
        }];
        if sort_column.name != key.name {
            order.push(OrderBy {
                column: key,
                order: order_dir,
            });
        }
        Ok(Self {
            filter,
            keyset,
            order,
            limit: u64::from(params.per_page) + 1,
            offset: if params.from.is_some() { 0 } else { offset },
            include_totals: params.include_totals,
            page: params.page,
            per_page: params.per_page,
            sort_column: sort_column.name,
            order_dir,
        })
    }

    /// The filter and the keyset condition together: the `WHERE` of the page query.
    pub fn page_filter(&self) -> Option<Filter> {
        Filter::and(self.filter.clone(), self.keyset.clone())
    }

    /// Builds the page from the fetched rows (at most `limit`, in `order`).
    pub fn finish<R: Record>(&self, mut rows: Vec<R>, total: Option<u64>) -> Page<R> {
        let per_page = self.per_page as usize;
        let next = if rows.len() > per_page {
            rows.truncate(per_page);
            rows.last().map(|last| {
                let cursor = Cursor {
                    s: self.sort_column.to_owned(),
                    d: self.order_dir,
                    v: column_value(last, self.sort_column),
                    k: last.key().to_owned(),
                };
                let json = serde_json::to_vec(&cursor).unwrap_or_default();
                URL_SAFE_NO_PAD.encode(json)
            })
        } else {
            None
        };
        Page {
            items: rows,
            page: self.page,
            per_page: self.per_page,
            total: if self.include_totals { total } else { None },
            next,
        }
    }
}

fn keyset_filter(
    key: &'static Column,
    sort: &'static Column,
    order: SortOrder,
    cursor: &str,
) -> Result<Filter> {
    let bytes = URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| cursor_error("is not a cursor returned by a previous page"))?;
    let cursor: Cursor = serde_json::from_slice(&bytes)
        .map_err(|_| cursor_error("is not a cursor returned by a previous page"))?;
    if cursor.s != sort.name || cursor.d != order {
        return Err(cursor_error(
            "was returned by a listing with another sort; keep the sort",
        ));
    }
    let kind_matches = match (&cursor.v, sort.kind) {
        (Value::Null, _) => sort.nullable,
        (Value::Text(_), ColumnKind::Text { .. })
        | (Value::Int(_), ColumnKind::Int)
        | (Value::Bool(_), ColumnKind::Bool)
        | (Value::Timestamp(_), ColumnKind::Timestamp) => true,
        _ => false,
    };
    // A page's cursor holds a stored record's values: storable timestamps,
    // texts without NUL. Any other one was made up, and no database is asked.
    let storable = match &cursor.v {
        Value::Text(text) => !text.contains('\0'),
        Value::Timestamp(t) => t.is_storable(),
        _ => true,
    };
    if !kind_matches || !storable || cursor.k.contains('\0') {
        return Err(cursor_error("is not a cursor returned by a previous page"));
    }
    let cmp = |column: &'static Column, op, value: Value| Filter::Compare {
        column: column.name,
        op,
        value,
    };
    let key_value = Value::Text(cursor.k);
    let (past, key_past) = match order {
        SortOrder::Asc => (CompareOp::Gt, CompareOp::Gt),
        SortOrder::Desc => (CompareOp::Lt, CompareOp::Lt),
    };
    if sort.name == key.name {
        return Ok(cmp(key, key_past, key_value));
    }
    let is_null = || Filter::Not(Box::new(Filter::Exists(sort.name)));
    Ok(match (order, cursor.v) {
        // NULLs come first ascending: after a NULL, the rest of the NULLs, then every value.
        (SortOrder::Asc, Value::Null) => Filter::Or(vec![
            Filter::And(vec![is_null(), cmp(key, key_past, key_value)]),
            Filter::Exists(sort.name),
        ]),
        // The leading `sort >= v` is implied by the disjunction; stating it lets
        // the database start its index range at the cursor (a linear scan).
        (SortOrder::Asc, v) => Filter::And(vec![
            cmp(sort, CompareOp::Ge, v.clone()),
            Filter::Or(vec![
                cmp(sort, past, v.clone()),
                Filter::And(vec![
                    cmp(sort, CompareOp::Eq, v),
                    cmp(key, key_past, key_value),
                ]),
            ]),
        ]),
        // NULLs come last descending.
        (SortOrder::Desc, Value::Null) => {
            Filter::And(vec![is_null(), cmp(key, key_past, key_value)])
        }
        (SortOrder::Desc, v) => {
            let v_bound = v.clone();
            let mut any = vec![
                cmp(sort, past, v.clone()),
                Filter::And(vec![
                    cmp(sort, CompareOp::Eq, v),
                    cmp(key, key_past, key_value),
                ]),
            ];
            if sort.nullable {
                any.push(is_null());
                Filter::Or(any)
            } else {
                // As above: `sort <= v` bounds the index range.
                Filter::And(vec![cmp(sort, CompareOp::Le, v_bound), Filter::Or(any)])
            }
        }
    })
}
