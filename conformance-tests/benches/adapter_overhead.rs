//! What each adapter costs over hand-written sqlx doing the same work, per
//! database, in one run: for sqlx, SeaORM and Diesel on PostgreSQL and
//! MariaDB, one task times
//!
//! - `create`: one user (every column bound once);
//! - `update`: two fields of a user (`nickname`, `given_name`), the record
//!   read back;
//! - `list`: 50 users sorted by email;
//! - `list q`: 50 users of an `email:<prefix>*` search, sorted by email;
//!
//! against the same operation written by hand with sqlx on the same
//! database (the same binds, every column decoded into a [`User`]), in
//! interleaved rounds (raw, adapter, raw, adapter, …) so that noise hits
//! both. It prints the medians, the ratio adapter/raw and, on MariaDB, the
//! statements each operation sent (the server's `Questions` counter and its
//! `Com_*` breakdown, read from a separate connection: other clients of the
//! server add noise, so the lowest of three counts is shown), with the
//! machine (cores, load average) and the date. PostgreSQL's counts would
//! need `pg_stat_statements` loaded at server start; they are left out.
//!
//! Run: `cargo bench -p switchyard-identity-conformance --bench adapter_overhead`
//! (needs SWITCHYARD_POSTGRES_URL and SWITCHYARD_MYSQL_URL). `BENCH_ROUNDS`
//! sets the timed rounds of each operation (default 300, after 30 to warm
//! up), `BENCH_ADAPTERS` a comma-separated subset of `sqlx,seaorm,diesel`,
//! `BENCH_DATABASES` one of `postgres,mysql`. Each adapter gets fresh
//! databases (from [`provision`]), dropped at the end.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use adapter_interfaces::record::ascii_fold;
use adapter_interfaces::{
    DataAdapters, ListParams, Record, Sort, TenantInsert, Timestamp, User, UserInsert, UserPatch,
};
use conformance_tests::provision::{self, TestDatabase};
use sqlx::mysql::{MySqlPool, MySqlRow};
use sqlx::postgres::{PgPool, PgRow};
use sqlx::types::chrono::{NaiveDateTime, Utc};
use sqlx::{AssertSqlSafe, Row};

/// Seeded users that the listings read (a tenant of their own, so that the
/// users created meanwhile never enter the pages).
const LISTED: usize = 500;
/// Seeded users that the updates cycle through.
const UPDATED: usize = 100;
/// Operations whose statements are counted, per side.
const COUNTED: usize = 20;
const LIST_TENANT: &str = "bench-list";
const WRITE_TENANT: &str = "bench-write";
const PAGE: u32 = 50;
/// `email:u01*`: 100 of the listed users, of which a page of 50.
const Q: &str = "email:u01*";

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn wanted(var: &str, name: &str) -> bool {
    std::env::var(var)
        .ok()
        .is_none_or(|v| v.split(',').any(|w| w.trim() == name))
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Op {
    Create,
    Update,
    List,
    ListQ,
}

impl Op {
    const ALL: [Op; 4] = [Op::Create, Op::Update, Op::List, Op::ListQ];

    fn label(self) -> &'static str {
        match self {
            Op::Create => "create",
            Op::Update => "update 2 fields",
            Op::List => "list 50, sorted",
            Op::ListQ => "list 50, q prefix",
        }
    }
}

/// The user columns in the adapters' order (the folded copies last), as a
/// select list.
fn column_list() -> String {
    User::COLUMNS
        .iter()
        .map(|c| c.name)
        .collect::<Vec<_>>()
        .join(", ")
}

fn json_object(value: serde_json::Value) -> adapter_interfaces::JsonObject {
    match value {
        serde_json::Value::Object(map) => map,
        _ => Default::default(),
    }
}

/// A user from a row of [`column_list`], by hand, as an application's
/// `FromRow` would: `$ts` and `$json` read the two types the drivers differ
/// on. The four folded copies are decoded too (the adapters read them).
macro_rules! user_from_row {
    ($row:expr, $ts:expr, $json:expr) => {{
        let row = $row;
        for i in 24..28 {
            let _: Option<String> = row.get(i);
        }
        User {
            user_id: row.get(0),
            email: row.get(1),
            email_verified: row.get(2),
            username: row.get(3),
            phone_number: row.get(4),
            phone_verified: row.get(5),
            name: row.get(6),
            given_name: row.get(7),
            family_name: row.get(8),
            nickname: row.get(9),
            picture: row.get(10),
            locale: row.get(11),
            provider: row.get(12),
            connection: row.get(13),
            is_social: row.get(14),
            blocked: row.get(15),
            linked_to: row.get(16),
            last_ip: row.get(17),
            last_login: row.get::<Option<_>, _>(18).map($ts),
            login_count: row.get(19),
            app_metadata: $json(row, 20),
            user_metadata: $json(row, 21),
            created_at: $ts(row.get(22)),
            updated_at: $ts(row.get(23)),
        }
    }};
}

fn pg_user(row: &PgRow) -> User {
    let json = |row: &PgRow, i| json_object(row.get::<serde_json::Value, _>(i));
    user_from_row!(row, Timestamp::from_datetime, json)
}

fn my_user(row: &MySqlRow) -> User {
    let json = |row: &MySqlRow, i| {
        json_object(serde_json::from_str(&row.get::<String, _>(i)).unwrap_or_default())
    };
    user_from_row!(
        row,
        |t: NaiveDateTime| Timestamp::from_datetime(t.and_utc()),
        json
    )
}

/// Binds every column of `user` (after the tenant) in [`column_list`]
/// order; `$ts` and `$json` turn a timestamp and a JSON object into the
/// driver's types.
macro_rules! bind_user {
    ($query:expr, $tenant:expr, $u:expr, $ts:expr, $json:expr) => {{
        let u: &User = $u;
        $query
            .bind($tenant)
            .bind(&u.user_id)
            .bind(&u.email)
            .bind(u.email_verified)
            .bind(&u.username)
            .bind(&u.phone_number)
            .bind(u.phone_verified)
            .bind(&u.name)
            .bind(&u.given_name)
            .bind(&u.family_name)
            .bind(&u.nickname)
            .bind(&u.picture)
            .bind(&u.locale)
            .bind(&u.provider)
            .bind(&u.connection)
            .bind(u.is_social)
            .bind(u.blocked)
            .bind(&u.linked_to)
            .bind(&u.last_ip)
            .bind(u.last_login.map($ts))
            .bind(u.login_count)
            .bind($json(&u.app_metadata))
            .bind($json(&u.user_metadata))
            .bind($ts(u.created_at))
            .bind($ts(u.updated_at))
            .bind(u.name.as_deref().map(ascii_fold))
            .bind(u.given_name.as_deref().map(ascii_fold))
            .bind(u.family_name.as_deref().map(ascii_fold))
            .bind(u.nickname.as_deref().map(ascii_fold))
    }};
}

fn insert(n: usize) -> UserInsert {
    UserInsert {
        user_id: Some(format!("auth0|{n:06}")),
        email: Some(format!("w{n:06}@bench.example")),
        name: Some(format!("Writer {n}")),
        connection: "Username-Password-Authentication".into(),
        ..Default::default()
    }
}

fn patch(n: usize) -> UserPatch {
    UserPatch {
        nickname: Some(Some(format!("Nick {n}"))),
        given_name: Some(Some(format!("Given {n}"))),
        ..Default::default()
    }
}

fn sorted(q: Option<&str>) -> ListParams {
    ListParams {
        per_page: PAGE,
        sort: Some(Sort::asc("email")),
        q: q.map(str::to_owned),
        ..Default::default()
    }
}

/// The hand-written side, on one database.
enum Raw {
    Postgres(PgPool),
    MySql(MySqlPool),
}

impl Raw {
    async fn run(&self, op: Op, n: usize) {
        let cols = column_list();
        // `INSERT … VALUES (<one placeholder per column>)`, `$n` on PostgreSQL.
        let insert_sql = |dollar: bool| {
            let marks: Vec<String> = (1..=User::COLUMNS.len() + 1)
                .map(|i| if dollar { format!("${i}") } else { "?".into() })
                .collect();
            format!(
                "INSERT INTO users (tenant_id, {cols}) VALUES ({})",
                marks.join(", ")
            )
        };
        match (self, op) {
            (Raw::Postgres(pool), Op::Create) => {
                let user = User::from_insert(insert(n), Timestamp::now()).unwrap();
                let query = sqlx::query(AssertSqlSafe(insert_sql(true)));
                let ts = |t: Timestamp| t.as_datetime();
                let json =
                    |j: &adapter_interfaces::JsonObject| serde_json::Value::Object(j.clone());
                bind_user!(query, WRITE_TENANT, &user, ts, json)
                    .execute(pool)
                    .await
                    .unwrap();
            }
            (Raw::MySql(pool), Op::Create) => {
                let user = User::from_insert(insert(n), Timestamp::now()).unwrap();
                let query = sqlx::query(AssertSqlSafe(insert_sql(false)));
                let ts = |t: Timestamp| t.as_datetime().naive_utc();
                let json = |j: &adapter_interfaces::JsonObject| {
                    serde_json::Value::Object(j.clone()).to_string()
                };
                bind_user!(query, WRITE_TENANT, &user, ts, json)
                    .execute(pool)
                    .await
                    .unwrap();
            }
            (Raw::Postgres(pool), Op::Update) => {
                let p = patch(n);
                let (nick, given) = (p.nickname.flatten(), p.given_name.flatten());
                let sql = format!(
                    "UPDATE users SET nickname = $1, nickname_folded = $2, given_name = $3, \
                     given_name_folded = $4, updated_at = $5 WHERE tenant_id = $6 AND user_id = $7 \
                     RETURNING {cols}"
                );
                let row = sqlx::query(AssertSqlSafe(sql))
                    .bind(nick.as_deref())
                    .bind(nick.as_deref().map(ascii_fold))
                    .bind(given.as_deref())
                    .bind(given.as_deref().map(ascii_fold))
                    .bind(Timestamp::now().as_datetime())
                    .bind(WRITE_TENANT)
                    .bind(format!("auth0|{:06}", n % UPDATED))
                    .fetch_one(pool)
                    .await
                    .unwrap();
                std::hint::black_box(pg_user(&row));
            }
            (Raw::MySql(pool), Op::Update) => {
                // No RETURNING on MariaDB's UPDATE: the row is read back.
                let p = patch(n);
                let (nick, given) = (p.nickname.flatten(), p.given_name.flatten());
                let key = format!("auth0|{:06}", n % UPDATED);
                sqlx::query(
                    "UPDATE users SET nickname = ?, nickname_folded = ?, given_name = ?, \
                     given_name_folded = ?, updated_at = ? WHERE tenant_id = ? AND user_id = ?",
                )
                .bind(nick.as_deref())
                .bind(nick.as_deref().map(ascii_fold))
                .bind(given.as_deref())
                .bind(given.as_deref().map(ascii_fold))
                .bind(Timestamp::now().as_datetime().naive_utc())
                .bind(WRITE_TENANT)
                .bind(&key)
                .execute(pool)
                .await
                .unwrap();
                let sql = format!("SELECT {cols} FROM users WHERE tenant_id = ? AND user_id = ?");
                let row = sqlx::query(AssertSqlSafe(sql))
                    .bind(WRITE_TENANT)
                    .bind(&key)
                    .fetch_one(pool)
                    .await
                    .unwrap();
                std::hint::black_box(my_user(&row));
            }
            (Raw::Postgres(pool), Op::List | Op::ListQ) => {
                let filter = if op == Op::ListQ {
                    " AND email >= $2 AND email < $3"
                } else {
                    ""
                };
                let sql = format!(
                    "SELECT {cols} FROM users WHERE tenant_id = $1{filter} \
                     ORDER BY email ASC NULLS FIRST, user_id ASC LIMIT {PAGE}"
                );
                let mut query = sqlx::query(AssertSqlSafe(sql)).bind(LIST_TENANT);
                if op == Op::ListQ {
                    query = query.bind("u01").bind("u02");
                }
                let rows = query.fetch_all(pool).await.unwrap();
                let users: Vec<User> = rows.iter().map(pg_user).collect();
                assert_eq!(users.len(), PAGE as usize);
            }
            (Raw::MySql(pool), Op::List | Op::ListQ) => {
                let filter = if op == Op::ListQ {
                    " AND email >= ? AND email < ?"
                } else {
                    ""
                };
                let sql = format!(
                    "SELECT {cols} FROM users WHERE tenant_id = ?{filter} \
                     ORDER BY email ASC, user_id ASC LIMIT {PAGE}"
                );
                let mut query = sqlx::query(AssertSqlSafe(sql)).bind(LIST_TENANT);
                if op == Op::ListQ {
                    query = query.bind("u01").bind("u02");
                }
                let rows = query.fetch_all(pool).await.unwrap();
                let users: Vec<User> = rows.iter().map(my_user).collect();
                assert_eq!(users.len(), PAGE as usize);
            }
        }
    }
}

async fn adapter_run(db: &DataAdapters, op: Op, n: usize) {
    match op {
        Op::Create => {
            std::hint::black_box(db.users.create(WRITE_TENANT, insert(n)).await.unwrap());
        }
        Op::Update => {
            let key = format!("auth0|{:06}", n % UPDATED);
            std::hint::black_box(db.users.update(WRITE_TENANT, &key, patch(n)).await.unwrap());
        }
        Op::List | Op::ListQ => {
            let q = (op == Op::ListQ).then_some(Q);
            let page = db.users.list(LIST_TENANT, &sorted(q)).await.unwrap();
            assert_eq!(page.items.len(), PAGE as usize);
        }
    }
}

/// Statements sent per operation on MariaDB: the global counters around
/// [`COUNTED`] operations, less what reading them costs; the lowest of three.
struct Counter {
    pool: MySqlPool,
}

const COUNTERS: &[&str] = &[
    "Questions",
    "Com_begin",
    "Com_select",
    "Com_insert",
    "Com_update",
    "Com_commit",
    "Com_rollback",
];

impl Counter {
    async fn read(&self) -> BTreeMap<String, i64> {
        let names = COUNTERS
            .iter()
            .map(|c| format!("'{c}'"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!("SHOW GLOBAL STATUS WHERE Variable_name IN ({names})");
        let rows = sqlx::raw_sql(AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await
            .unwrap();
        rows.iter()
            .map(|r| {
                let name: String = r.get(0);
                let value: String = r.get(1);
                (name, value.parse().unwrap_or(0))
            })
            .collect()
    }

    async fn delta<F, Fut>(&self, mut ops: F) -> BTreeMap<String, f64>
    where
        F: FnMut(usize) -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        let mut best: Option<BTreeMap<String, f64>> = None;
        for attempt in 0..3 {
            let idle_a = self.read().await;
            let idle_b = self.read().await;
            let before = self.read().await;
            for i in 0..COUNTED {
                ops(attempt * COUNTED + i).await;
            }
            let after = self.read().await;
            let per_op: BTreeMap<String, f64> = COUNTERS
                .iter()
                .map(|c| {
                    let reading = idle_b[*c] - idle_a[*c];
                    let spent = (after[*c] - before[*c] - reading).max(0);
                    ((*c).to_owned(), spent as f64 / COUNTED as f64)
                })
                .collect();
            if best
                .as_ref()
                .is_none_or(|b| per_op["Questions"] < b["Questions"])
            {
                best = Some(per_op);
            }
        }
        best.unwrap_or_default()
    }
}

fn describe(counts: &BTreeMap<String, f64>) -> String {
    let mut parts = vec![format!("{:.1}", counts.get("Questions").unwrap_or(&0.0))];
    let short = [
        ("Com_begin", "B"),
        ("Com_select", "S"),
        ("Com_insert", "I"),
        ("Com_update", "U"),
        ("Com_commit", "C"),
        ("Com_rollback", "R"),
    ];
    let detail: Vec<String> = short
        .iter()
        .filter_map(|(name, s)| {
            let v = *counts.get(*name).unwrap_or(&0.0);
            (v >= 0.05).then(|| format!("{s}{}", trim(v)))
        })
        .collect();
    if !detail.is_empty() {
        parts.push(format!("({})", detail.join(" ")));
    }
    parts.join(" ")
}

fn trim(v: f64) -> String {
    if (v - v.round()).abs() < 0.05 {
        format!("{}", v.round() as i64)
    } else {
        format!("{v:.1}")
    }
}

struct Outcome {
    raw: Duration,
    adapter: Duration,
    statements: Option<(String, String)>,
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples.get(samples.len() / 2).copied().unwrap_or_default()
}

async fn open(adapter: &str, url: &str) -> DataAdapters {
    match adapter {
        "sqlx" => {
            let store = adapter_sqlx::connect(url).await.unwrap();
            store.migrate().await.unwrap();
            store.adapters()
        }
        "seaorm" => {
            let store = adapter_seaorm::connect(url).await.unwrap();
            store.migrate().await.unwrap();
            store.adapters()
        }
        _ => {
            let store = adapter_diesel::connect(url).await.unwrap();
            store.migrate().await.unwrap();
            store.adapters()
        }
    }
}

/// Seeds the two tenants: the listed users (`u0000@…` to `u0499@…`) and
/// the users the updates change, through the adapter.
async fn seed(db: &DataAdapters) {
    for tenant in [LIST_TENANT, WRITE_TENANT] {
        db.tenants
            .create(TenantInsert {
                id: Some(tenant.into()),
                friendly_name: tenant.into(),
                ..Default::default()
            })
            .await
            .unwrap();
    }
    let listed: Vec<User> = (0..LISTED)
        .map(|i| {
            let insert = UserInsert {
                user_id: Some(format!("auth0|l{i:04}")),
                email: Some(format!("u{i:04}@bench.example")),
                name: Some(format!("Listed {i}")),
                nickname: Some(format!("l{i}")),
                connection: "Username-Password-Authentication".into(),
                app_metadata: json_object(serde_json::json!({"plan": "gold", "n": i})),
                ..Default::default()
            };
            User::from_insert(insert, Timestamp::now()).unwrap()
        })
        .collect();
    db.users.upsert_many(LIST_TENANT, listed).await.unwrap();
    let updated: Vec<User> = (0..UPDATED)
        .map(|i| User::from_insert(insert(i), Timestamp::now()).unwrap())
        .collect();
    db.users.upsert_many(WRITE_TENANT, updated).await.unwrap();
}

/// One adapter on one fresh database: every operation, interleaved with
/// its hand-written twin.
async fn measure(
    engine: &str,
    adapter: &str,
    database: &TestDatabase,
    rounds: usize,
) -> BTreeMap<Op, Outcome> {
    let db = open(adapter, database.url()).await;
    seed(&db).await;
    let raw = match engine {
        "postgres" => Raw::Postgres(PgPool::connect(database.url()).await.unwrap()),
        _ => Raw::MySql(MySqlPool::connect(database.url()).await.unwrap()),
    };
    let counter = match engine {
        "mysql" => Some(Counter {
            pool: sqlx::mysql::MySqlPoolOptions::new()
                .max_connections(1)
                .connect(database.url())
                .await
                .unwrap(),
        }),
        _ => None,
    };
    let warmup = 30;
    // Keys of created users: raw from 100_000, the adapter from 500_000.
    let (mut raw_n, mut adapter_n) = (100_000, 500_000);
    let mut out = BTreeMap::new();
    for op in Op::ALL {
        let (mut raw_samples, mut adapter_samples) = (Vec::new(), Vec::new());
        for round in 0..warmup + rounds {
            let n = if op == Op::Create { raw_n } else { round };
            raw_n += 1;
            let t = Instant::now();
            raw.run(op, n).await;
            let raw_time = t.elapsed();
            let n = if op == Op::Create { adapter_n } else { round };
            adapter_n += 1;
            let t = Instant::now();
            adapter_run(&db, op, n).await;
            let adapter_time = t.elapsed();
            if round >= warmup {
                raw_samples.push(raw_time);
                adapter_samples.push(adapter_time);
            }
        }
        let statements = match &counter {
            Some(counter) => {
                let base = raw_n;
                raw_n += 3 * COUNTED;
                let raw_counts = counter
                    .delta(|i| raw.run(op, if op == Op::Create { base + i } else { i }))
                    .await;
                let base = adapter_n;
                adapter_n += 3 * COUNTED;
                let adapter_counts = counter
                    .delta(|i| adapter_run(&db, op, if op == Op::Create { base + i } else { i }))
                    .await;
                Some((describe(&raw_counts), describe(&adapter_counts)))
            }
            None => None,
        };
        out.insert(
            op,
            Outcome {
                raw: median(raw_samples),
                adapter: median(adapter_samples),
                statements,
            },
        );
    }
    out
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let rounds = env_number("BENCH_ROUNDS", 300);
    let adapters: Vec<&str> = ["sqlx", "seaorm", "diesel"]
        .into_iter()
        .filter(|a| wanted("BENCH_ADAPTERS", a))
        .collect();
    let mut results: Vec<(&str, &str, BTreeMap<Op, Outcome>)> = Vec::new();
    let load_before = load_average();
    for engine in ["postgres", "mysql"] {
        if !wanted("BENCH_DATABASES", engine) {
            continue;
        }
        for adapter in &adapters {
            let database = match engine {
                "postgres" => provision::postgres().await,
                _ => provision::mysql().await,
            };
            let Some(database) = database else {
                println!("skipped: {adapter} on {engine}: no database");
                continue;
            };
            let started = Instant::now();
            let outcome = measure(engine, adapter, &database, rounds).await;
            eprintln!(
                "{engine} {adapter}: {:.1} s",
                started.elapsed().as_secs_f64()
            );
            results.push((engine, adapter, outcome));
        }
    }
    println!(
        "adapter overhead, {} on {} cores, load average {} before and {} after, {rounds} rounds \
         per operation (one task, interleaved with hand-written sqlx)",
        Utc::now().format("%Y-%m-%d %H:%M UTC"),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load_before,
        load_average(),
    );
    println!(
        "{:<10} {:<18} {:<7} {:>9} {:>11} {:>6}  statements per op, raw -> adapter (MariaDB: Questions (B begin, S select, I insert, U update, C commit))",
        "database", "operation", "adapter", "raw µs", "adapter µs", "ratio"
    );
    for (engine, adapter, outcome) in &results {
        for (op, o) in outcome {
            let ratio = o.adapter.as_secs_f64() / o.raw.as_secs_f64().max(1e-9);
            let statements = o
                .statements
                .as_ref()
                .map_or_else(|| "n/a".to_owned(), |(r, a)| format!("{r} -> {a}"));
            println!(
                "{:<10} {:<18} {:<7} {:>9.0} {:>11.0} {:>6.2}  {statements}",
                if *engine == "postgres" {
                    "PostgreSQL"
                } else {
                    "MariaDB"
                },
                op.label(),
                adapter,
                o.raw.as_secs_f64() * 1e6,
                o.adapter.as_secs_f64() * 1e6,
                ratio,
            );
        }
    }
}
