//! Property tests of the `q` parser: it never panics, and whatever it accepts
//! refers only to the entity's filterable, non-secret fields.

use adapter_interfaces::query::{Filter, parse_q};
use adapter_interfaces::{AdapterError, Application, Code, Log, Password, Record, User};
use proptest::prelude::*;

fn columns_of(filter: &Filter, out: &mut Vec<&'static str>) {
    match filter {
        Filter::And(all) | Filter::Or(all) => all.iter().for_each(|f| columns_of(f, out)),
        Filter::Not(inner) => columns_of(inner, out),
        Filter::Compare { column, .. }
        | Filter::Exists(column)
        | Filter::EndsWith { column, .. } => out.push(column),
        Filter::Contains { columns, .. } => out.extend(columns.iter().copied()),
    }
}

fn assert_whitelisted<R: Record>(q: &str) {
    match parse_q::<R>(q) {
        Ok(Some(filter)) => {
            let mut used = Vec::new();
            columns_of(&filter, &mut used);
            for name in used {
                let column = R::column(name).expect("parser produced an unknown column");
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
        Just(" ".to_string()),
        "[a-z_]{1,12}",
        "[0-9]{1,4}",
        "\\PC{1,6}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

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
        prop_assume!(field != "_exists_");
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
