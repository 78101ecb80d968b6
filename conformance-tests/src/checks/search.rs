//! Auth0's user-search syntax in `q` (see `docs/SEARCH.md`): every construct
//! on a fixture made for it, each answer compared with the expected users
//! and with the in-memory reference seeded the same way; and every
//! unsupported construct an `InvalidInput` on `q` that names it.

use adapter_interfaces::{DataAdapters, JsonObject, ListParams, Timestamp, UserInsert};
use serde_json::json;

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

/// A JSON object literal as metadata.
fn object(value: serde_json::Value) -> JsonObject {
    match value {
        serde_json::Value::Object(map) => map,
        _ => JsonObject::new(),
    }
}

/// Gives `user` its metadata.
fn with_metadata(
    user: UserInsert,
    user_metadata: serde_json::Value,
    app_metadata: serde_json::Value,
) -> UserInsert {
    UserInsert {
        user_metadata: object(user_metadata),
        app_metadata: object(app_metadata),
        ..user
    }
}

/// Six users of tenant T1 (and one of T2 that matches nearly everything);
/// their metadata has near misses for each metadata search: other case,
/// a trailing space, numbers as text, nested arrays, objects in the way.
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
    let jane = with_metadata(
        jane,
        json!({"plan": "gold", "fav_color": "blue", "age": 34, "langs": ["en", "fr"],
               "prefs": {"font_size": 13, "dark": true}}),
        json!({"roles": ["admin", "editor"], "subscription": {"plan": "gold", "seats": 5}}),
    );
    let john = with_metadata(
        john,
        json!({"plan": "Gold", "fav_color": null, "age": 34.0, "langs": "en",
               "prefs": {"font_size": "13"}}),
        json!({"roles": "admin", "subscription": {"plan": "silver"}}),
    );
    let johnny = with_metadata(
        johnny,
        json!({"plan": "gold ", "age": "34", "langs": [], "prefs": [{"font_size": 13}],
               "flag": "true"}),
        json!({"roles": ["viewer", ["admin"]], "subscription": {"plan": {"name": "gold"}}}),
    );
    let pct = with_metadata(
        pct,
        json!({"plan": "50%_off", "quote": "a\"b\\c", "n": -7, "big": 9_007_199_254_740_993_i64}),
        json!({"roles": [1, true, "1"]}),
    );
    let under = with_metadata(under, json!({"dark": false, "empty": {}}), json!({}));
    let social = with_metadata(
        social,
        json!({"plan": "g\u{14d}ld", "fav_color": "blue"}),
        json!({}),
    );
    let elsewhere = with_metadata(
        elsewhere,
        json!({"plan": "gold", "fav_color": "blue", "age": 34}),
        json!({"roles": ["admin", "viewer"], "subscription": {"plan": "gold"}}),
    );
    let mut out: Vec<(&str, UserInsert)> = [jane, john, johnny, pct, under, social]
        .into_iter()
        .map(|u| (T1, u))
        .collect();
    out.push((T2, elsewhere));
    out
}

async fn seed_people(db: &DataAdapters) {
    seed(db, people()).await;
}

async fn seed(db: &DataAdapters, users: Vec<(&'static str, UserInsert)>) {
    tenant(db, T1).await;
    tenant(db, T2).await;
    for (tenant_id, insert) in users {
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
    expect_found_among(db, people, cases).await;
}

/// [`expect_found`] over the users `users` makes.
async fn expect_found_among(
    db: &DataAdapters,
    users: fn() -> Vec<(&'static str, UserInsert)>,
    cases: &[(&str, &[&str])],
) {
    seed(db, users()).await;
    let reference = adapter_interfaces::memory::adapters();
    seed(&reference, users()).await;
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

/// Searches inside `user_metadata` and `app_metadata` (see `docs/SEARCH.md`):
/// exact and case-sensitive strings (a trailing space is another value),
/// numbers equal numerically (`34` finds `34.0`, and the text `"34"`),
/// booleans, array membership one level deep, nested paths through
/// objects only, and `_exists_` (a JSON null is absent, `{}` and `[]` are not).
pub async fn users_search_metadata(db: &DataAdapters) {
    expect_found(
        db,
        &[
            (r#"user_metadata.plan:"gold""#, &[JANE]),
            ("user_metadata.plan:gold", &[JANE]),
            ("user_metadata.plan:Gold", &[JOHN]),
            ("user_metadata.plan:g\u{14d}ld", &[SOCIAL]),
            ("user_metadata.plan:50%_off", &[PCT]),
            ("app_metadata.subscription.plan:gold", &[JANE]),
            ("app_metadata.subscription.plan:silver", &[JOHN]),
            ("app_metadata.roles:admin", &[JANE, JOHN]),
            (
                "app_metadata.roles:(admin OR viewer)",
                &[JANE, JOHN, JOHNNY],
            ),
            ("app_metadata.roles:1", &[PCT]),
            ("app_metadata.roles:true", &[PCT]),
            ("_exists_:user_metadata.fav_color", &[JANE, SOCIAL]),
            (
                "NOT _exists_:user_metadata.fav_color",
                &[JOHN, JOHNNY, PCT, UNDER],
            ),
            ("_exists_:user_metadata.langs", &[JANE, JOHN, JOHNNY]),
            ("_exists_:user_metadata.empty", &[UNDER]),
            ("_exists_:app_metadata.subscription.seats", &[JANE]),
            ("user_metadata.age:34", &[JANE, JOHN, JOHNNY]),
            (r#"user_metadata.age:"34""#, &[JANE, JOHN, JOHNNY]),
            ("user_metadata.langs:en", &[JANE, JOHN]),
            ("user_metadata.prefs.font_size:13", &[JANE, JOHN]),
            ("user_metadata.prefs.dark:true", &[JANE]),
            ("user_metadata.dark:false", &[UNDER]),
            ("user_metadata.flag:true", &[JOHNNY]),
            (r#"user_metadata.quote:"a\"b\\c""#, &[PCT]),
            (r#"user_metadata.n:"-7""#, &[PCT]),
            ("user_metadata.big:9007199254740991", &[]),
            ("user_metadata.prefs:13", &[]),
            ("user_metadata.plan.x:gold", &[]),
            ("user_metadata.nope:gold", &[]),
            (
                "user_metadata.plan:gold OR app_metadata.roles:viewer",
                &[JANE, JOHNNY],
            ),
            (
                "-user_metadata.plan:gold",
                &[JOHN, JOHNNY, PCT, UNDER, SOCIAL],
            ),
            ("name:John* AND app_metadata.roles:admin", &[JOHN]),
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
            ("nickname:*a_c", &[PCT]),
            ("nickname:*a%c", &[UNDER]),
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

const ADA: &str = "auth0|ada";
const OSTER: &str = "auth0|oster";
const LOWER_OSTER: &str = "auth0|lower-oster";
const NAMELESS: &str = "auth0|nameless";

/// Users whose names differ by case, in ASCII and beyond it.
fn cased_people() -> Vec<(&'static str, UserInsert)> {
    let named = |id: &str, name: &str, given: &str, family: &str, nickname: &str| UserInsert {
        user_id: Some(id.into()),
        connection: DB.into(),
        name: Some(name.into()),
        given_name: Some(given.into()),
        family_name: Some(family.into()),
        nickname: Some(nickname.into()),
        created_at: Some(ts("2020-01-01T00:00:00Z")),
        ..Default::default()
    };
    let ada = UserInsert {
        email: Some("Ada.Lovelace@Example.com".into()),
        username: Some("AdaL".into()),
        ..named(ADA, "Ada LOVELACE", "Ada", "LOVELACE", "ADA")
    };
    let oster = named(OSTER, "Jöhn ÖSTER", "Jöhn", "ÖSTER", "JÖHNNY");
    let lower = named(LOWER_OSTER, "jöhn öster", "jöhn", "öster", "jöhnny");
    let nameless = UserInsert {
        user_id: Some(NAMELESS.into()),
        connection: DB.into(),
        username: Some("ada".into()),
        created_at: Some(ts("2020-01-01T00:00:00Z")),
        ..Default::default()
    };
    let elsewhere = named(ADA, "ada lovelace", "ada", "lovelace", "ada");
    vec![
        (T1, ada),
        (T1, oster),
        (T1, lower),
        (T1, nameless),
        (T2, elsewhere),
    ]
}

/// `name`, `given_name`, `family_name` and `nickname` match
/// case-insensitively, as in Auth0, by ASCII folding only: exact values,
/// prefix and suffix wildcards, ranges and bare terms; a difference of case
/// beyond ASCII (`Ö` and `ö`) is a near miss on every database. Bare terms
/// keep each field's rule: `email` is lowercased, `username` case-sensitive.
pub async fn users_search_case(db: &DataAdapters) {
    expect_found_among(
        db,
        cased_people,
        &[
            (r#"name:"ada lovelace""#, &[ADA]),
            (r#"name:"ADA LOVELACE""#, &[ADA]),
            ("given_name:aDA", &[ADA]),
            ("family_name:Lovelace", &[ADA]),
            ("nickname:ada", &[ADA]),
            ("name:aDa*", &[ADA]),
            ("family_name:love*", &[ADA]),
            ("given_name:A*", &[ADA]),
            ("name:*LoveLace", &[ADA]),
            ("nickname:*ADA", &[ADA]),
            ("family_name:[LOVE TO lovf]", &[ADA]),
            ("given_name:{a TO ADB}", &[ADA]),
            ("name:ADA* AND -nickname:Ada", &[]),
            ("-name:ada*", &[OSTER, LOWER_OSTER, NAMELESS]),
            // Beyond ASCII, the case is as written: Ö is not ö.
            (r#"name:"JÖHN ÖSTER""#, &[]),
            (r#"name:"JöHN ÖSTER""#, &[OSTER]),
            (r#"name:"jöhn öster""#, &[LOWER_OSTER]),
            ("given_name:JÖHN", &[]),
            ("given_name:jöhn", &[LOWER_OSTER, OSTER]),
            ("given_name:JöHN", &[LOWER_OSTER, OSTER]),
            ("family_name:ÖSTER", &[OSTER]),
            ("family_name:Öster", &[OSTER]),
            ("family_name:öster", &[LOWER_OSTER]),
            ("nickname:JÖ*", &[OSTER]),
            ("nickname:Jö*", &[LOWER_OSTER]),
            ("name:*ÖSTER", &[OSTER]),
            ("name:*öSTER", &[LOWER_OSTER]),
            ("_exists_:given_name", &[ADA, OSTER, LOWER_OSTER]),
            // Bare terms: names folded, email lowercased, username as written.
            ("LOVELACE", &[ADA]),
            ("ADA.LOVELACE@EXAMPLE", &[ADA]),
            ("AdaL", &[ADA]),
            ("adal", &[]),
            ("ada", &[ADA, NAMELESS]),
            ("ADA", &[ADA]),
            ("ÖSTER", &[OSTER]),
            ("öster", &[LOWER_OSTER]),
            ("ada*", &[ADA, NAMELESS]),
            ("JÖ*", &[OSTER]),
            ("*STER", &[LOWER_OSTER, OSTER]),
            ("*ÖSTER", &[OSTER]),
            ("*öster", &[LOWER_OSTER]),
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
        ("name:*sa", "at least 3 characters"),
        ("*sa", "at least 3 characters"),
        ("+name:john", "`+`"),
        ("name:john && blocked:false", "`&&`"),
        (
            "user_metadata.plan:gold*",
            "wildcard searches are not available on metadata",
        ),
        (
            "user_metadata.plan:*old",
            "wildcard searches are not available on metadata",
        ),
        ("user_metadata.age:[1 TO 50]", "range searches"),
        ("app_metadata.subscription.seats:>3", "range searches"),
        ("user_metadata.age:34.5", "fraction"),
        ("user_metadata.age:1e3", "exponent"),
        ("user_metadata.big:9007199254740993", "2^53"),
        ("user_metadata:gold", "needs a key"),
        ("_exists_:app_metadata", "needs a key"),
        ("user_metadata..plan:gold", "metadata keys"),
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
