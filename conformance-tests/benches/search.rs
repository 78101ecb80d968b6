//! `q` searches on 1,000,000 users, per backend (sqlx, SeaORM, Diesel) on
//! PostgreSQL and MariaDB, p50 and p99; and the plans of the searches that
//! must use an index (`email:<prefix>*`, `name:` exact and prefix on the
//! folded copy, `created_at:[.. TO ..]`).
//!
//! Run: `cargo bench -p switchyard-identity-conformance --bench search` (needs
//! SWITCHYARD_POSTGRES_URL and SWITCHYARD_MYSQL_URL). `BENCH_USERS` sets
//! the number of users (default 1000000), `BENCH_ITERATIONS` the runs of
//! each indexed search (default 50; a search that scans the tenant runs a
//! tenth as often, at least 3 times). The users are seeded by one `INSERT ... SELECT` over
//! `generate_series` (PostgreSQL) or a cross join of digits (MariaDB),
//! never through an adapter. It prints, per database, the plans, then one
//! line per search and backend; report them with the machine and the date.
//! The fresh databases are dropped at the end.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::time::{Duration, Instant};

use adapter_interfaces::{DataAdapters, ListParams, Sort, TenantInsert};
use conformance_tests::provision::{self, TestDatabase};
// Every statement here is ours: constants and numbers, no input.
use sqlx::{AssertSqlSafe, Connection};

const TENANT: &str = "bench";

/// The searches: `(q, the sort field if not the key, whether it scans the tenant's rows)`.
const SEARCHES: &[(&str, Option<&str>, bool)] = &[
    ("email:user4242*", None, false),
    ("created_at:[2020-03-01 TO 2020-03-01]", None, false),
    (
        "created_at:[2020-03-01 TO 2020-03-01]",
        Some("created_at"),
        false,
    ),
    (r#"name:"User 777777""#, None, false),
    (r"name:user\ 7777*", None, false),
    ("logins_count:[100 TO 105] AND blocked:false", None, false),
    ("email.domain:example7.com", None, true),
    ("app_metadata.roles:admin", None, true),
    ("user_metadata.plan:platinum", None, true),
];

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The user columns after `tenant_id`, in the order of the seed's SELECT.
const COLUMNS: &str = "tenant_id, user_id, email, email_verified, phone_verified, name, \
    given_name, family_name, nickname, provider, connection, is_social, blocked, last_login, \
    login_count, app_metadata, user_metadata, created_at, updated_at, name_folded, \
    given_name_folded, family_name_folded, nickname_folded";

/// PostgreSQL: one statement over `generate_series`.
fn postgres_seed(users: usize) -> String {
    format!(
        "INSERT INTO users ({COLUMNS}) SELECT '{TENANT}', 'auth0|' || lpad(n::text, 7, '0'), \
         'user' || n || '@example' || (n % 100) || '.com', n % 2 = 0, false, 'User ' || n, \
         'Given' || (n % 1000), 'Family' || (n % 5000), 'nick' || n, 'auth0', \
         'Username-Password-Authentication', false, n % 50 = 0, \
         CASE WHEN n % 10 = 0 THEN NULL ELSE timestamptz '2020-01-02' + n * interval '1 minute' END, \
         n % 1000, \
         jsonb_build_object('roles', CASE WHEN n % 100 = 0 THEN jsonb_build_array('admin') ELSE jsonb_build_array('user') END), \
         jsonb_build_object('plan', CASE n % 3 WHEN 0 THEN 'gold' WHEN 1 THEN 'silver' ELSE 'bronze' END), \
         timestamptz '2020-01-01' + n * interval '1 minute', timestamptz '2020-01-01' + n * interval '1 minute', \
         'user ' || n, 'given' || (n % 1000), 'family' || (n % 5000), 'nick' || n \
         FROM generate_series(0, {}) AS n",
        users - 1
    )
}

/// MariaDB: one statement over a cross join of six digit tables (10^6 rows), cut to `users`.
fn mariadb_seed(users: usize) -> String {
    let digits = "(SELECT 0 d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 \
        UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 \
        UNION ALL SELECT 8 UNION ALL SELECT 9)";
    let mut from = Vec::new();
    let mut number = Vec::new();
    let mut scale = 1usize;
    while scale < users {
        let i = from.len();
        from.push(format!("{digits} AS d{i}"));
        number.push(format!("d{i}.d * {scale}"));
        scale *= 10;
    }
    format!(
        "INSERT INTO users ({COLUMNS}) SELECT '{TENANT}', CONCAT('auth0|', LPAD(n, 7, '0')), \
         CONCAT('user', n, '@example', n % 100, '.com'), n % 2 = 0, false, CONCAT('User ', n), \
         CONCAT('Given', n % 1000), CONCAT('Family', n % 5000), CONCAT('nick', n), 'auth0', \
         'Username-Password-Authentication', false, n % 50 = 0, \
         CASE WHEN n % 10 = 0 THEN NULL ELSE TIMESTAMP '2020-01-02 00:00:00' + INTERVAL n MINUTE END, \
         n % 1000, \
         CASE WHEN n % 100 = 0 THEN '{{\"roles\": [\"admin\"]}}' ELSE '{{\"roles\": [\"user\"]}}' END, \
         CONCAT('{{\"plan\": \"', ELT(n % 3 + 1, 'gold', 'silver', 'bronze'), '\"}}'), \
         TIMESTAMP '2020-01-01 00:00:00' + INTERVAL n MINUTE, TIMESTAMP '2020-01-01 00:00:00' + INTERVAL n MINUTE, \
         CONCAT('user ', n), CONCAT('given', n % 1000), CONCAT('family', n % 5000), CONCAT('nick', n) \
         FROM (SELECT {} AS n FROM {}) AS s WHERE n < {users}",
        number.join(" + "),
        from.join(" CROSS JOIN ")
    )
}

/// The statements the sqlx backend sends for the indexed searches (as
/// `adapter-sqlx`'s `sql.rs` builds them), with their values inlined for
/// EXPLAIN.
fn explained(postgres: bool) -> Vec<(&'static str, String)> {
    let q = |ident: &str| {
        if postgres {
            format!("\"{ident}\"")
        } else {
            format!("`{ident}`")
        }
    };
    let (start, end) = if postgres {
        ("'2020-03-01T00:00:00Z'", "'2020-03-02T00:00:00Z'")
    } else {
        ("'2020-03-01 00:00:00'", "'2020-03-02 00:00:00'")
    };
    let head = format!(
        "SELECT * FROM {} WHERE {} = '{TENANT}' AND ",
        q("users"),
        q("tenant_id")
    );
    let order = format!(" ORDER BY {} ASC LIMIT 50", q("user_id"));
    let by_created = format!(
        " ORDER BY {} ASC, {} ASC LIMIT 50",
        q("created_at"),
        q("user_id")
    );
    vec![
        (
            "email:user4242*",
            format!(
                "{head}(({e} IS NOT NULL AND {e} >= 'user4242') AND ({e} IS NOT NULL AND {e} < 'user4243')){order}",
                e = q("email")
            ),
        ),
        (
            r#"name:"User 777777""#,
            format!("{head}({n} = 'user 777777'){order}", n = q("name_folded")),
        ),
        (
            r"name:User\ 7777*",
            format!(
                "{head}(({n} IS NOT NULL AND {n} >= 'user 7777') AND ({n} IS NOT NULL AND {n} < 'user 7778')){order}",
                n = q("name_folded")
            ),
        ),
        (
            "created_at:[2020-03-01 TO 2020-03-01]",
            format!(
                "{head}({c} >= {start} AND {c} < {end}){order}",
                c = q("created_at")
            ),
        ),
        (
            "created_at:[2020-03-01 TO 2020-03-01] sort=created_at",
            format!(
                "{head}({c} >= {start} AND {c} < {end}){by_created}",
                c = q("created_at")
            ),
        ),
    ]
}

async fn seed_postgres(db: &TestDatabase, users: usize) {
    let mut conn = sqlx::PgConnection::connect(db.url()).await.unwrap();
    sqlx::query(AssertSqlSafe(postgres_seed(users)))
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query("ANALYZE users")
        .execute(&mut conn)
        .await
        .unwrap();
    println!("PostgreSQL plans:");
    for (q, sql) in explained(true) {
        let rows: Vec<(String,)> = sqlx::query_as(AssertSqlSafe(format!("EXPLAIN {sql}")))
            .fetch_all(&mut conn)
            .await
            .unwrap();
        println!("  {q}:");
        for (line,) in rows {
            println!("    {line}");
        }
    }
}

async fn seed_mariadb(db: &TestDatabase, users: usize) {
    let mut conn = sqlx::MySqlConnection::connect(db.url()).await.unwrap();
    sqlx::query(AssertSqlSafe(mariadb_seed(users)))
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query("ANALYZE TABLE users")
        .execute(&mut conn)
        .await
        .unwrap();
    println!("MariaDB plans:");
    for (q, sql) in explained(false) {
        use sqlx::Row;
        let rows = sqlx::query(AssertSqlSafe(format!("EXPLAIN {sql}")))
            .fetch_all(&mut conn)
            .await
            .unwrap();
        println!("  {q}:");
        println!("    type | key | key_len | Extra");
        for row in rows {
            let text = |name: &str| {
                row.try_get::<Option<String>, _>(name)
                    .ok()
                    .flatten()
                    .unwrap_or_else(|| "NULL".into())
            };
            println!(
                "    {} | {} | {} | {}",
                text("type"),
                text("key"),
                text("key_len"),
                text("Extra")
            );
        }
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(index).copied().unwrap_or_default()
}

async fn measure(database: &str, backend: &str, db: &DataAdapters, iterations: usize) {
    for (q, sort, scans) in SEARCHES {
        let runs = if *scans {
            (iterations / 10).max(3)
        } else {
            iterations
        };
        let mut params = ListParams::default().with_q(*q);
        if let Some(field) = sort {
            params = params.with_sort(Sort::asc(*field));
        }
        let label = match sort {
            Some(field) => format!("{q} sort={field}"),
            None => (*q).to_owned(),
        };
        // One warm-up run (connections, caches, prepared statements).
        let page = db.users.list(TENANT, &params).await.unwrap();
        let mut times = Vec::with_capacity(runs);
        for _ in 0..runs {
            let started = Instant::now();
            db.users.list(TENANT, &params).await.unwrap();
            times.push(started.elapsed());
        }
        times.sort();
        println!(
            "{database:<10} {backend:<7} {label:<62} {:>3} rows  p50 {:>9.2} ms  p99 {:>9.2} ms  ({runs} runs)",
            page.items.len(),
            percentile(&times, 0.5).as_secs_f64() * 1e3,
            percentile(&times, 0.99).as_secs_f64() * 1e3,
        );
    }
}

async fn backends(url: &str) -> Vec<(&'static str, DataAdapters)> {
    let sqlx_store = adapter_sqlx::connect(url).await.unwrap();
    let seaorm_store = adapter_seaorm::connect(url).await.unwrap();
    let diesel_store = adapter_diesel::connect(url).await.unwrap();
    vec![
        ("sqlx", sqlx_store.adapters()),
        ("seaorm", seaorm_store.adapters()),
        ("diesel", diesel_store.adapters()),
    ]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let users = env_number("BENCH_USERS", 1_000_000).clamp(1, 1_000_000);
    let iterations = env_number("BENCH_ITERATIONS", 50).max(1);
    let (Some(pg), Some(my)) = (provision::postgres().await, provision::mysql().await) else {
        println!("skipped: the benchmark needs PostgreSQL and MariaDB");
        return;
    };
    for (name, db) in [("PostgreSQL", &pg), ("MariaDB", &my)] {
        let store = adapter_sqlx::connect(db.url()).await.unwrap();
        store.migrate().await.unwrap();
        store
            .adapters()
            .tenants
            .create(TenantInsert {
                id: Some(TENANT.into()),
                friendly_name: "Bench".into(),
                ..Default::default()
            })
            .await
            .unwrap();
        let started = Instant::now();
        if name == "PostgreSQL" {
            seed_postgres(db, users).await;
        } else {
            seed_mariadb(db, users).await;
        }
        println!(
            "{name}: seeded {users} users and analysed in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        for (backend, adapters) in backends(db.url()).await {
            measure(name, backend, &adapters, iterations).await;
        }
    }
}
