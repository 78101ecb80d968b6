//! `switchyard import/export --format auth0` through the binary: a realistic
//! Auth0 file (every field, every hash algorithm, invalid records) into
//! SQLite, PostgreSQL and MariaDB through each backend; the imported
//! passwords verified against their plaintexts; exported and imported again
//! elsewhere with the same result; a SIGKILL mid-import resumed to the same
//! result as a clean run; and bad files refused with clear errors.

mod common;

use std::path::Path;

use adapter_interfaces::{DataAdapters, Password, User};
use common::*;
use serde_json::{Value, json};
use switchyard_cli::entity::KeysetScan;

const TENANT: &str = "acme";

/// The hash vectors made by other implementations (see password-hashes).
fn vectors() -> Vec<Value> {
    let text = include_str!("../../password-hashes/tests/vectors/vectors.json");
    let all: Vec<Value> = serde_json::from_str(text).expect("vectors");
    // The two made deliberately slow are verified in password-hashes' own tests.
    all.into_iter()
        .filter(|v| {
            let label = v["label"].as_str().unwrap_or("");
            !label.contains("i=100000") && !label.contains("default strength")
        })
        .collect()
}

/// A user with every field of Auth0's schema.
fn full_user(i: usize) -> serde_json::Map<String, Value> {
    let record = json!({
        "user_id": format!("6{i:05}"),
        "email": format!("User.{i}@Example.com"),
        "email_verified": i.is_multiple_of(2),
        "username": format!("user_{i}"),
        "given_name": format!("Given{i}"),
        "family_name": "Family",
        "name": format!("Given{i} Family"),
        "nickname": format!("nick{i}"),
        "picture": format!("https://example.com/p/{i}.png"),
        "blocked": i.is_multiple_of(5),
        "phone_number": format!("+1555000{i:04}"),
        "app_metadata": {"plan": if i.is_multiple_of(3) { "premium" } else { "free" }, "roles": ["reader"], "n": i},
        "user_metadata": {"theme": "dark", "nested": {"a": [1, 2.5, null, true]}},
    });
    let Value::Object(map) = record else {
        unreachable!()
    };
    map
}

/// A realistic file: one user per hash vector (custom_password_hash), a
/// few with `password_hash` (bcrypt) or no password, and invalid records.
/// Returns the file's text, the (user id, plaintext) of every password and
/// the positions of the invalid records.
fn fixture() -> (String, Vec<(String, String)>, Vec<u64>) {
    let mut records: Vec<Value> = Vec::new();
    let mut passwords = Vec::new();
    for (i, vector) in vectors().into_iter().enumerate() {
        let mut user = full_user(i);
        user.insert(
            "custom_password_hash".into(),
            vector["custom_password_hash"].clone(),
        );
        passwords.push((
            format!("auth0|6{i:05}"),
            vector["password"].as_str().expect("a password").to_owned(),
        ));
        records.push(Value::Object(user));
    }
    let n = records.len();
    let mut bcrypt = full_user(n);
    bcrypt.insert(
        "password_hash".into(),
        json!("$2b$10$nFguVi9LsCAcvTZFKQlRKeLVydo8ETv483lkNsSFI/Wl1Rz1Ypo1K"),
    );
    passwords.push((format!("auth0|6{n:05}"), "hello".into()));
    records.push(Value::Object(bcrypt));
    // No password, no user_id (a stable one is derived), and the minimum.
    records.push(json!({"email": "no.password@example.com", "email_verified": true}));
    records.push(json!({"email": "minimal@example.com"}));
    // Invalid records, each a reason Auth0 gives too.
    let secret_hash = "d24e794fce503c3ddb1cd1ba1dd5d9b250cf9917336a0316fefd87fecf79200f";
    let invalid = [
        json!({"email": "unknown.field@example.com", "favourite_colour": "blue"}),
        json!({"email": "bad.algorithm@example.com", "custom_password_hash":
            {"algorithm": "crc32", "hash": {"value": secret_hash, "encoding": "hex"}}}),
        json!({"email": "bad.hash@example.com", "custom_password_hash":
            {"algorithm": "sha256", "hash": {"value": &secret_hash[2..], "encoding": "hex"}}}),
        json!({"email": "not-an-email", "user_id": "bad-email"}),
        json!({"email": "reserved@example.com", "app_metadata": {"user_id": "x"}}),
    ];
    let first_invalid = records.len() as u64 + 1;
    records.extend(invalid);
    // Pretty-printed, one field per line, as exports usually are.
    let text = serde_json::to_string_pretty(&records).expect("json");
    let invalid = (first_invalid..first_invalid + 5).collect();
    (text, passwords, invalid)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// Every user and password of the tenant, in key order.
fn contents(url: &str) -> (Vec<User>, Vec<Password>) {
    runtime().block_on(async {
        let store = switchyard_cli::store::Store::connect(&url.parse().expect("url"), true)
            .await
            .expect("connects");
        let db: DataAdapters = store.adapters();
        let mut users = Vec::new();
        let mut scan = KeysetScan::<User>::new(&db, TENANT, 100, None);
        while let Some(user) = scan.pop().await.expect("users") {
            users.push(user);
        }
        let mut passwords = Vec::new();
        let mut scan = KeysetScan::<Password>::new(&db, TENANT, 100, None);
        while let Some(password) = scan.pop().await.expect("passwords") {
            passwords.push(password);
        }
        (users, passwords)
    })
}

/// The records as JSON without the timestamps an Auth0 file does not carry.
fn without_times<T: serde::Serialize>(records: &[T]) -> Vec<Value> {
    records
        .iter()
        .map(|r| {
            let mut v = serde_json::to_value(r).expect("json");
            if let Some(map) = v.as_object_mut() {
                map.remove("created_at");
                map.remove("updated_at");
            }
            v
        })
        .collect()
}

fn import(dir: &Path, file: &str, target: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "import", "--format", "auth0", "--file", file, "--target", target, "--tenant", TENANT,
        "--json",
    ];
    args.extend_from_slice(extra);
    run(dir, &args)
}

fn export(dir: &Path, source: &str, file: &str) -> Value {
    json(&run_ok(
        dir,
        &[
            "export", "--format", "auth0", "--source", source, "--tenant", TENANT, "--file", file,
            "--json",
        ],
    ))
}

/// The whole journey on one store, then back through another.
fn round_trip(dir: &Path, target: &str, again: &str) {
    let (text, passwords, invalid) = fixture();
    std::fs::write(dir.join("users.json"), &text).expect("fixture");
    let valid = passwords.len() as u64 + 2;

    let out = import(dir, "users.json", target, &["--errors", "errors.jsonl"]);
    assert_eq!(out.status.code(), Some(1), "invalid records: exit status 1");
    let report = json(&out);
    assert_eq!(report["records"], valid + 5, "{report}");
    assert_eq!(report["users_imported"], valid, "{report}");
    assert_eq!(
        report["passwords_imported"],
        passwords.len() as u64,
        "{report}"
    );
    assert_eq!(report["invalid"], 5, "{report}");
    assert_eq!(report["failed"], 0, "{report}");
    assert_eq!(report["created_tenant"], true, "{report}");

    // The errors file: every invalid record, by position and line, no hash.
    let errors = std::fs::read_to_string(dir.join("errors.jsonl")).expect("errors file");
    assert!(
        !errors.contains("d24e794fce"),
        "a hash in the errors file: {errors}"
    );
    let lines: Vec<Value> = errors
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    let positions: Vec<u64> = lines
        .iter()
        .map(|l| l["record"].as_u64().expect("as the test set it up"))
        .collect();
    assert_eq!(positions, invalid, "{errors}");
    let reasons: Vec<String> = lines
        .iter()
        .map(|l| format!("{} {}", l["field"], l["reason"]))
        .collect();
    for (reason, expected) in reasons.iter().zip([
        "favourite_colour",
        "unsupported algorithm `crc32`",
        "31 bytes long",
        "email",
        "must not contain `user_id`",
    ]) {
        assert!(reason.contains(expected), "`{reason}` lacks `{expected}`");
    }
    for l in &lines {
        let line = l["line"].as_u64().expect("as the test set it up") as usize;
        let text_line = text.lines().nth(line - 1).unwrap_or("");
        assert_eq!(
            text_line.trim(),
            "{",
            "record {} starts on line {line}",
            l["record"]
        );
    }

    // Every imported password verifies against its plaintext, and only it.
    let (users, stored) = contents(target);
    assert_eq!(users.len() as u64, valid);
    assert_eq!(stored.len(), passwords.len());
    for (user_id, plaintext) in &passwords {
        let password = stored
            .iter()
            .find(|p| &p.user_id == user_id)
            .unwrap_or_else(|| panic!("no password for {user_id}"));
        assert!(password.is_current);
        let outcome = password_hashes::verify(password.algorithm, &password.password, plaintext)
            .unwrap_or_else(|e| panic!("{user_id}: {e}"));
        assert!(outcome.matches, "{user_id} ({})", password.algorithm);
        let wrong = password_hashes::verify(password.algorithm, &password.password, "nope")
            .expect("parses");
        assert!(!wrong.matches, "{user_id}");
    }
    let algorithms: std::collections::HashSet<_> = stored.iter().map(|p| p.algorithm).collect();
    assert_eq!(
        algorithms.len(),
        adapter_interfaces::PasswordAlgorithm::ALL.len()
    );
    let ada = users
        .iter()
        .find(|u| u.user_id == "auth0|600003")
        .expect("a user");
    assert_eq!(ada.email.as_deref(), Some("user.3@example.com"));
    assert_eq!(ada.app_metadata["plan"], "premium");
    assert_eq!(ada.phone_number.as_deref(), Some("+15550000003"));
    for bad in [
        "unknown.field@example.com",
        "bad.algorithm@example.com",
        "bad.hash@example.com",
    ] {
        assert!(
            users.iter().all(|u| u.email.as_deref() != Some(bad)),
            "{bad} was written"
        );
    }

    // A rerun copies nothing twice.
    let out = import(dir, "users.json", target, &[]);
    let rerun = json(&out);
    assert_eq!(rerun["users_imported"], 0, "{rerun}");
    assert_eq!(rerun["passwords_imported"], 0, "{rerun}");
    assert_eq!(rerun["users_existing"], valid, "{rerun}");
    assert_eq!(contents(target).0, users, "a rerun changed users");

    // Export, import elsewhere: the same users and passwords; and the
    // second store exports the very same file.
    let exported = export(dir, target, "out.json");
    assert_eq!(exported["users"], valid, "{exported}");
    assert_eq!(exported["passwords"], passwords.len() as u64);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("out.json"))
            .expect("as the test set it up")
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o077,
            0,
            "the export is readable by others: {mode:o}"
        );
    }
    let out = import(dir, "out.json", again, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let (users2, stored2) = contents(again);
    assert_eq!(without_times(&users2), without_times(&users));
    assert_eq!(without_times(&stored2), without_times(&stored));
    export(dir, again, "out2.json");
    assert_eq!(
        std::fs::read(dir.join("out.json")).expect("as the test set it up"),
        std::fs::read(dir.join("out2.json")).expect("as the test set it up"),
        "the second export differs"
    );
}

#[test]
fn sqlite_every_backend_round_trips() {
    for (i, backend_name) in backends().into_iter().enumerate() {
        let dir = temp_dir();
        let target = sqlite(backend_name, dir.path(), "a.db");
        let again = sqlite(backend(i + 1), dir.path(), "b.db");
        round_trip(dir.path(), &target, &again);
    }
}

/// Every backend on `first`'s database, exported into `second`'s.
fn server_round_trips(
    first: fn() -> Option<conformance_tests::provision::TestDatabase>,
    second: fn() -> Option<conformance_tests::provision::TestDatabase>,
) {
    for i in 0..backends().len() {
        let (Some(a), Some(b)) = (first(), second()) else {
            return;
        };
        let dir = temp_dir();
        round_trip(
            dir.path(),
            &store_url(backend(i), &a),
            &store_url(backend(i + 1), &b),
        );
    }
}

#[test]
fn postgres_every_backend_round_trips() {
    server_round_trips(postgres, mysql);
}

#[test]
fn mariadb_every_backend_round_trips() {
    server_round_trips(mysql, postgres);
}

/// An NDJSON export of many users (timestamps included), for the kill test.
fn ndjson(users: usize) -> String {
    let mut text = String::new();
    for i in 0..users {
        let mut user = full_user(i);
        user.insert("user_id".into(), json!(format!("auth0|k{i:06}")));
        user.insert("created_at".into(), json!("2021-03-04T05:06:07.089Z"));
        user.insert("updated_at".into(), json!("2022-03-04T05:06:07.089Z"));
        user.insert("last_login".into(), json!("2023-01-01T00:00:00.000Z"));
        user.insert("logins_count".into(), json!(i));
        user.insert("last_ip".into(), json!("192.0.2.1"));
        user.insert(
            "custom_password_hash".into(),
            json!({"algorithm": "sha256", "hash": {"value": format!("{:064x}", i), "encoding": "hex"},
                "salt": {"value": format!("s{i}"), "position": "suffix"}}),
        );
        text.push_str(&serde_json::to_string(&user).expect("json"));
        text.push('\n');
    }
    text
}

#[test]
fn a_sigkill_mid_import_resumes_to_the_same_result() {
    let dir = temp_dir();
    let dir = dir.path();
    std::fs::write(dir.join("users.ndjson"), ndjson(3000)).expect("fixture");
    let killed = sqlite(backend(0), dir, "killed.db");
    let clean = sqlite(backend(1), dir, "clean.db");
    let args = [
        "import",
        "--format",
        "auth0",
        "--file",
        "users.ndjson",
        "--target",
        &killed,
        "--tenant",
        TENANT,
        "--batch-size",
        "20",
        "--checkpoint",
        "cp.json",
    ];
    let mut child = spawn_logged(dir, &args, "killed.out", "killed.err");
    let checkpoint = dir.join("cp.json");
    let started = std::time::Instant::now();
    while !checkpoint.exists() {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(120),
            "no checkpoint: {}",
            log_text(dir, "killed.err")
        );
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the import ended before the kill: {status:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    std::thread::sleep(std::time::Duration::from_millis(100));
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    assert!(checkpoint.exists(), "the checkpoint is gone");
    let partial = contents(&killed).0.len();
    assert!(
        partial > 0 && partial < 3000,
        "{partial} users before the resume"
    );

    let resumed = json(&run_ok(dir, &[&args[..], &["--json"]].concat()));
    assert_eq!(resumed["resumed"], true, "{resumed}");
    assert_eq!(resumed["records"], 3000, "{resumed}");
    assert_eq!(resumed["invalid"], 0, "{resumed}");
    assert!(
        !checkpoint.exists(),
        "the checkpoint of a finished run stays"
    );
    let users = resumed["users_imported"]
        .as_u64()
        .expect("as the test set it up")
        + resumed["users_existing"]
            .as_u64()
            .expect("as the test set it up");
    assert_eq!(users, 3000, "{resumed}");

    run_ok(
        dir,
        &[
            "import",
            "--format",
            "auth0",
            "--file",
            "users.ndjson",
            "--target",
            &clean,
            "--tenant",
            TENANT,
        ],
    );
    let (ku, kp) = contents(&killed);
    let (cu, cp) = contents(&clean);
    assert_eq!(ku.len(), 3000);
    // The file carries every timestamp: the stores are identical, field for field.
    assert_eq!(ku, cu);
    assert_eq!(kp, cp);
}

#[test]
fn bad_files_are_refused_with_clear_errors() {
    let dir = temp_dir();
    let dir = dir.path();
    let target = sqlite(backend(0), dir, "t.db");
    std::fs::write(dir.join("users.csv"), "email,name\na@example.com,A\n").expect("file");
    let out = import(dir, "users.csv", &target, &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("is not JSON"), "{}", stderr(&out));
    assert!(
        !dir.join("t.db").exists(),
        "a store was created for a file that is not JSON"
    );

    // A dry run checks and counts, and creates nothing.
    let (text, passwords, _) = fixture();
    std::fs::write(dir.join("users.json"), text).expect("fixture");
    let out = import(dir, "users.json", &target, &["--dry-run"]);
    assert_eq!(out.status.code(), Some(1));
    let report = json(&out);
    assert_eq!(report["dry_run"], true, "{report}");
    assert_eq!(
        report["users_imported"],
        passwords.len() as u64 + 2,
        "{report}"
    );
    assert_eq!(report["invalid"], 5, "{report}");
    assert!(!dir.join("t.db").exists(), "a dry run created the store");

    // JSON that breaks at the third record: the first two are imported,
    // the error names the third and its line, and nothing of it is written.
    let text = "[\n {\"email\": \"one@example.com\"},\n {\"email\": \"two@example.com\"},\n {\"email\": \"three@example.com\", \"password_hash\": \"$2b$10$secret\" oops}\n]\n";
    std::fs::write(dir.join("broken.json"), text).expect("file");
    let out = import(dir, "broken.json", &target, &[]);
    assert_eq!(out.status.code(), Some(2));
    let message = stderr(&out);
    assert!(message.contains("record #3 (line 4)"), "{message}");
    assert!(!message.contains("secret"), "{message}");
    let emails: Vec<_> = contents(&target)
        .0
        .into_iter()
        .filter_map(|u| u.email)
        .collect();
    assert_eq!(emails.len(), 2, "{emails:?}");
    assert!(!emails.iter().any(|e| e.starts_with("three")));
}
