//! Property tests of the `q` parser: it never panics, and whatever it accepts
//! refers only to the entity's filterable, non-secret fields; and any
//! syntax tree prints as a query that parses back to the same tree.

use adapter_interfaces::query::{Bound, CompareOp, Filter, Query, Term, parse_q, parse_query};
use adapter_interfaces::{AdapterError, Application, Code, Log, Password, Record, User};
use proptest::prelude::*;

/// The plain columns a filter reads, and the metadata paths (column, keys).
fn columns_of(
    filter: &Filter,
    out: &mut Vec<&'static str>,
    paths: &mut Vec<(&'static str, Vec<String>)>,
) {
    match filter {
        Filter::And(all) | Filter::Or(all) => all.iter().for_each(|f| columns_of(f, out, paths)),
        Filter::Not(inner) => columns_of(inner, out, paths),
        Filter::Compare { column, .. }
        | Filter::Exists(column)
        | Filter::EndsWith { column, .. } => out.push(column),
        Filter::Contains { columns, .. } => out.extend(columns.iter().copied()),
        Filter::Json { column, keys, .. } => paths.push((column, keys.clone())),
    }
}

fn assert_whitelisted<R: Record>(q: &str) {
    match parse_q::<R>(q) {
        Ok(Some(filter)) => {
            let mut used = Vec::new();
            let mut paths = Vec::new();
            columns_of(&filter, &mut used, &mut paths);
            for (column, keys) in paths {
                // Only users' metadata, by keys that need no escaping anywhere.
                assert_eq!(
                    R::KIND,
                    User::KIND,
                    "metadata search on {}",
                    R::KIND.table()
                );
                assert!(
                    column == "user_metadata" || column == "app_metadata",
                    "{column}"
                );
                assert!(!keys.is_empty() && keys.len() <= 8, "{keys:?}");
                for key in keys {
                    assert!(
                        !key.is_empty()
                            && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                        "unchecked key {key:?}"
                    );
                }
            }
            for name in used {
                let mut column = R::column(name).expect("parser produced an unknown column");
                // A folded copy stands for the field it folds.
                if let Some(source) = column.folds {
                    column = R::column(source).expect("a folded copy of an unknown column");
                }
                assert!(
                    column.filterable && !column.secret,
                    "{name} is not searchable"
                );
            }
        }
        Ok(None) => assert!(q.trim().is_empty(), "non-empty {q:?} parsed to nothing"),
        Err(AdapterError::InvalidInput { field, .. }) => assert_eq!(field, "q"),
        Err(other) => panic!("unexpected error kind: {other:?}"),
    }
}

/// Pieces that make plausible and implausible queries.
fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("email".to_string()),
        Just("password".to_string()),
        Just("client_secret".to_string()),
        Just("_exists_".to_string()),
        Just("login_count".to_string()),
        Just("created_at".to_string()),
        Just("OR".to_string()),
        Just("AND".to_string()),
        Just(":".to_string()),
        Just(":>".to_string()),
        Just(":<=".to_string()),
        Just("-".to_string()),
        Just("\"".to_string()),
        Just("\\".to_string()),
        Just("(".to_string()),
        Just(")".to_string()),
        Just("[".to_string()),
        Just(" TO ".to_string()),
        Just("]".to_string()),
        Just("{".to_string()),
        Just("}".to_string()),
        Just("*".to_string()),
        Just("NOT ".to_string()),
        Just("email.domain".to_string()),
        Just("logins_count".to_string()),
        Just("user_metadata.plan".to_string()),
        Just("app_metadata.".to_string()),
        Just("user_metadata".to_string()),
        Just(".".to_string()),
        Just(" ".to_string()),
        "[a-z_]{1,12}",
        "[0-9]{1,4}",
        "\\PC{1,6}",
    ]
}

/// Text of any characters, specials and whitespace included.
fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9 ]{1,6}",
        "[\\\\\"()\\[\\]{}^~*?:!+/<>=&|a -]{1,6}",
        "\\PC{1,4}",
    ]
}

fn field_name() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9_.]{0,8}"
}

fn bound() -> impl Strategy<Value = Bound> {
    prop_oneof![
        Just(Bound::Open),
        any_text().prop_map(Bound::Inclusive),
        any_text().prop_map(Bound::Exclusive),
    ]
}

/// A suffix wildcard's text: Auth0 asks for at least 3 characters.
fn suffix_text() -> impl Strategy<Value = String> {
    any_text().prop_filter("a suffix has at least 3 characters", |t| {
        t.chars().count() >= 3
    })
}

fn bare_term() -> impl Strategy<Value = Term> {
    prop_oneof![
        prop_oneof!["", any_text()].prop_map(Term::Exact),
        any_text().prop_map(Term::Prefix),
        suffix_text().prop_map(Term::Suffix),
    ]
}

fn fielded_term() -> impl Strategy<Value = Term> {
    prop_oneof![
        bare_term(),
        (bound(), bound()).prop_map(|(lower, upper)| Term::Range { lower, upper }),
        (
            prop_oneof![
                Just(CompareOp::Gt),
                Just(CompareOp::Ge),
                Just(CompareOp::Lt),
                Just(CompareOp::Le)
            ],
            any_text()
        )
            .prop_map(|(op, v)| Term::Compare(op, v)),
    ]
}

/// Syntax trees as the parser builds them: `And`/`Or` of two or more.
fn query() -> impl Strategy<Value = Query> {
    let leaf = prop_oneof![
        bare_term().prop_map(|term| Query::Term { field: None, term }),
        (field_name(), fielded_term()).prop_map(|(f, term)| Query::Term {
            field: Some(f),
            term
        }),
        field_name().prop_map(Query::Exists),
    ];
    leaf.prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 2..4).prop_map(Query::And),
            prop::collection::vec(inner.clone(), 2..4).prop_map(Query::Or),
            inner.prop_map(|q| Query::Not(Box::new(q))),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn printed_trees_parse_back(tree in query()) {
        let printed = tree.to_string();
        prop_assume!(printed.len() <= adapter_interfaces::query::MAX_Q_BYTES);
        let parsed = parse_query(&printed);
        prop_assert_eq!(parsed.as_ref().ok().cloned().flatten(), Some(tree), "printed as `{}`: {:?}", printed, parsed);
    }

    #[test]
    fn arbitrary_text_never_panics(q in "\\PC{0,80}") {
        assert_whitelisted::<User>(&q);
        assert_whitelisted::<Code>(&q);
        assert_whitelisted::<Log>(&q);
    }

    #[test]
    fn composed_queries_use_only_whitelisted_fields(parts in prop::collection::vec(fragment(), 0..12)) {
        let q = parts.concat();
        assert_whitelisted::<User>(&q);
        assert_whitelisted::<Application>(&q);
        assert_whitelisted::<Password>(&q);
    }

    #[test]
    fn unknown_fields_are_rejected(field in "[a-z_]{1,16}", value in "[a-z0-9]{1,8}") {
        prop_assume!(User::column(&field).is_none_or(|c| !c.filterable || c.secret));
        prop_assume!(field != "_exists_" && field != "logins_count");
        let err = parse_q::<User>(&format!("{field}:{value}")).expect_err("unknown field accepted");
        let is_q_error = matches!(err, AdapterError::InvalidInput { ref field, .. } if field == "q");
        prop_assert!(is_q_error);
    }

    #[test]
    fn secret_fields_are_never_searchable(value in "[a-z0-9]{1,8}") {
        let hash = parse_q::<Password>(&format!("password:{value}"));
        let secret = parse_q::<Application>(&format!("client_secret:{value}"));
        let exists = parse_q::<Password>(&format!("_exists_:password {value}"));
        prop_assert!(hash.is_err() && secret.is_err() && exists.is_err());
    }
}
