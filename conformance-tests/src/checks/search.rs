//! Auth0's user-search syntax in `q` (see `docs/SEARCH.md`): every construct
//! on a fixture made for it, each answer compared with the expected users
//! and with the in-memory reference seeded the same way; and every
//! unsupported construct an `InvalidInput` on `q` that names it.

use adapter_interfaces::{DataAdapters, ListParams, Timestamp, UserInsert};

use super::support::*;

const DB: &str = "Username-Password-Authentication";

#[allow(clippy::too_many_arguments)]
fn person(
    id: &str,
    email: Option<&str>,
    name: &str,
    nickname: Option<&str>,
    login_count: i64,
    created_at: &str,
    last_login: Option<&str>,
) -> UserInsert {
    let created: Timestamp = ts(created_at);
    UserInsert {
        user_id: Some(id.into()),
        connection: DB.into(),
        email: email.map(str::to_owned),
        name: Some(name.into()),
        nickname: nickname.map(str::to_owned),
        login_count,
        created_at: Some(created),
        updated_at: Some(created),
        last_login: last_login.map(ts),
        ..Default::default()
    }
}

/// Six users of tenant T1 (and one of T2 that matches nearly everything).
fn people() -> Vec<(&'static str, UserInsert)> {
    let jane = UserInsert {
        given_name: Some("Jane".into()),
        family_name: Some("Smith".into()),
        email_verified: true,
        ..person(
            "auth0|jane",
            Some("jane.smith@contoso.com"),
            "Jane Smith",
            Some("jane"),
            150,
            "2019-03-01T00:00:00Z",
            Some("2017-11-13T12:00:00Z"),
        )
    };
    let john = person(
        "auth0|john",
        Some("john@contoso.com"),
        "John Doe",
        Some("johnd"),
        100,
        "2018-12-31T23:59:59.999Z",
        Some("2017-12-31T23:59:59.999Z"),
    );
    let johnny = UserInsert {
        email_verified: true,
        ..person(
            "auth0|johnny",
            Some("johnny@example.org"),
            "Johnny Smithers",
            None,
            200,
            "2019-01-01T00:00:00Z",
            Some("2018-01-01T00:00:00Z"),
        )
    };
    let pct = person(
        "auth0|pct",
        Some("50%_off@sale.example.com"),
        "50%_off deal",
        Some("a_c"),
        5,
        "2020-06-15T08:00:00Z",
        None,
    );
    let under = UserInsert {
        blocked: true,
        ..person(
            "auth0|under",
            Some("abc@x.io"),
            "a_cdef",
            Some("a%c"),
            0,
            "2021-01-01T00:00:00Z",
            None,
        )
    };
    let social = UserInsert {
        connection: "google-oauth2".into(),
        username: Some("smith".into()),
        ..person(
            "google-oauth2|9",
            None,
            "Jöhn Smith",
            None,
            10,
            "2017-11-01T00:00:00Z",
            Some("2017-11-30T23:59:59Z"),
        )
    };
    let elsewhere = person(
        "auth0|john",
        Some("john@contoso.com"),
        "John Smith",
        Some("a_c"),
        150,
        "2019-01-01T00:00:00Z",
        Some("2017-11-13T12:00:00Z"),
    );
    let mut out: Vec<(&str, UserInsert)> = [jane, john, johnny, pct, under, social]
        .into_iter()
        .map(|u| (T1, u))
        .collect();
    out.push((T2, elsewhere));
    out
}

async fn seed_people(db: &DataAdapters) {
    tenant(db, T1).await;
    tenant(db, T2).await;
    for (tenant_id, insert) in people() {
        ok(
            db.users.create(tenant_id, insert).await,
            "create (search fixture)",
        );
    }
}

/// The user ids of T1 that `q` finds, sorted; with the total checked.
async fn found(db: &DataAdapters, q: &str) -> Vec<String> {
    let page = ok(
        db.users
            .list(T1, &ListParams::default().with_q(q).with_totals())
            .await,
        &format!("q `{q}`"),
    );
    assert_eq!(
        page.total,
        Some(page.items.len() as u64),
        "q `{q}`: total differs from the items"
    );
    let mut ids = keys(&page.items);
    ids.sort();
    ids
}

/// Runs each `(q, expected ids)` on `db` and on a reference store seeded alike.
async fn expect_found(db: &DataAdapters, cases: &[(&str, &[&str])]) {
    seed_people(db).await;
    let reference = adapter_interfaces::memory::adapters();
    seed_people(&reference).await;
    for (q, want) in cases {
        let mut want: Vec<String> = want.iter().map(|s| (*s).to_owned()).collect();
        want.sort();
        let got = found(db, q).await;
        assert_eq!(
            got,
            found(&reference, q).await,
            "q `{q}`: differs from the reference"
        );
        assert_eq!(got, want, "q `{q}`");
    }
}

const JANE: &str = "auth0|jane";
const JOHN: &str = "auth0|john";
const JOHNNY: &str = "auth0|johnny";
const PCT: &str = "auth0|pct";
const UNDER: &str = "auth0|under";
const SOCIAL: &str = "google-oauth2|9";

/// Examples of Auth0's user-search documentation: exact matches,
/// field-scoped groups, prefix and suffix wildcards, `email.domain`,
/// `logins_count`, `_exists_` and its negation.
pub async fn users_search_auth0_examples(db: &DataAdapters) {
    expect_found(
        db,
        &[
            (r#"name:"Jane Smith""#, &[JANE]),
            (r#"email:"john@contoso.com""#, &[JOHN]),
            (
                r#"email:("john@contoso.com" OR "jane.smith@contoso.com")"#,
                &[JANE, JOHN],
            ),
            ("name:John*", &[JOHN, JOHNNY]),
            ("name:*Smith", &[JANE, SOCIAL]),
            ("user_id:auth0*", &[JANE, JOHN, JOHNNY, PCT, UNDER]),
            (r#"email.domain:"contoso.com""#, &[JANE, JOHN]),
            ("email.domain:EXAMPLE.org", &[JOHNNY]),
            ("email.domain:*example.com", &[PCT]),
            ("-email.domain:contoso.com", &[JOHNNY, PCT, UNDER, SOCIAL]),
            ("_exists_:last_login", &[JANE, JOHN, JOHNNY, SOCIAL]),
            ("NOT _exists_:last_login", &[PCT, UNDER]),
            ("logins_count:150", &[JANE]),
            ("smith*", &[SOCIAL]),
            ("*Smith", &[JANE, SOCIAL]),
            ("name:Jö*", &[SOCIAL]),
        ],
    )
    .await;
}

/// Ranges on integers and timestamps: inclusive, exclusive, open and mixed
/// ends, full instants and partial dates (a year, a month, a day).
pub async fn users_search_ranges(db: &DataAdapters) {
    expect_found(
        db,
        &[
            ("logins_count:[100 TO 200]", &[JANE, JOHN, JOHNNY]),
            ("logins_count:{100 TO 200}", &[JANE]),
            ("logins_count:[100 TO *]", &[JANE, JOHN, JOHNNY]),
            ("logins_count:{100 TO *]", &[JANE, JOHNNY]),
            ("logins_count:[* TO 10}", &[PCT, UNDER]),
            ("created_at:[2019-01-01 TO *]", &[JANE, JOHNNY, PCT, UNDER]),
            ("last_login:[2017-11 TO 2017-12]", &[JANE, JOHN, SOCIAL]),
            ("last_login:[* TO 2017-11-13]", &[JANE]),
            ("last_login:{2017-11 TO *]", &[JOHN, JOHNNY]),
            ("last_login:[* TO *]", &[JANE, JOHN, JOHNNY, SOCIAL]),
            ("created_at:2019", &[JANE, JOHNNY]),
            ("created_at:{2018 TO 2019-03-01}", &[JOHNNY]),
            (
                r#"created_at:["2018-12-31T23:59:59.999Z" TO "2019-01-01T00:00:00Z"]"#,
                &[JOHN, JOHNNY],
            ),
            ("created_at:<=2018-12-31", &[JOHN, SOCIAL]),
            ("name:[J TO K}", &[JANE, JOHN, JOHNNY, SOCIAL]),
        ],
    )
    .await;
}

/// Parentheses, `NOT`/`AND`/`OR` with Lucene's precedence, negation and
/// `_exists_` inside `OR`, field-scoped groups of comparisons.
pub async fn users_search_grouping(db: &DataAdapters) {
    expect_found(
        db,
        &[
            (
                "name:John* OR -_exists_:last_login",
                &[JOHN, JOHNNY, PCT, UNDER],
            ),
            (
                "(name:John* OR name:*Smith) AND NOT blocked:true",
                &[JANE, JOHN, JOHNNY, SOCIAL],
            ),
            (
                "name:John* AND logins_count:>150 OR email.domain:x.io",
                &[JOHNNY, UNDER],
            ),
            ("NOT name:John* logins_count:>=100", &[JANE]),
            (
                "email_verified:true AND (logins_count:[* TO 150] OR name:*Smithers)",
                &[JANE, JOHNNY],
            ),
            ("logins_count:(>=150 OR <5)", &[JANE, JOHNNY, UNDER]),
            (
                "blocked:true OR (email_verified:true AND NOT name:*Smith)",
                &[JOHNNY, UNDER],
            ),
            ("NOT (name:John* OR _exists_:username)", &[JANE, PCT, UNDER]),
            ("-(-name:Jane*)", &[JANE]),
        ],
    )
    .await;
}

/// `%` and `_` in a wildcard's value are literal on every database (values
/// are bound, matches are comparisons, never `LIKE`); backslash escapes.
pub async fn users_search_wildcards_are_literal(db: &DataAdapters) {
    expect_found(
        db,
        &[
            ("name:50%_*", &[PCT]),
            ("name:a_c*", &[UNDER]),
            ("nickname:*_c", &[PCT]),
            ("nickname:*%c", &[UNDER]),
            ("nickname:a_*", &[PCT]),
            ("email:*%_off@sale.example.com", &[PCT]),
            (r"name:*\ deal", &[PCT]),
            (r"name:Jane\ Smith", &[JANE]),
            (r#"name:"50%_off*""#, &[]),
            (r"name:50%_off\*", &[]),
        ],
    )
    .await;
}

/// Lucene constructs this project does not implement are `InvalidInput` on
/// `q`, with a reason that names them, never a wider (or narrower) result.
pub async fn users_search_unsupported_is_invalid(db: &DataAdapters) {
    seed_people(db).await;
    for (q, words) in [
        ("name:jo?n", "`?`"),
        ("name:john~", "fuzzy"),
        (r#"name:"john doe"~2"#, "proximity"),
        ("name:john^2", "boosting"),
        ("name:/jo.n/", "regular expressions"),
        ("name:*oh*", "infix"),
        ("name:j*n", "wildcard"),
        ("+name:john", "`+`"),
        ("name:john && blocked:false", "`&&`"),
        ("user_metadata.plan:gold", "metadata"),
        ("app_metadata.subscription.plan:gold", "metadata"),
        ("_exists_:user_metadata.fav_color", "metadata"),
        ("logins_count:1*", "wildcards"),
        (
            "identities.connection:google-oauth2",
            "not a searchable field",
        ),
        ("name:(John email:x)", "field-scoped"),
    ] {
        let result = db.users.list(T1, &ListParams::default().with_q(q)).await;
        let text = error_text(&result);
        expect_invalid(result, "q", &format!("q `{q}`"));
        assert!(
            text.contains(words),
            "q `{q}`: `{text}` does not name `{words}`"
        );
    }
}
