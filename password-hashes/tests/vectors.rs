//! Test vectors made by other implementations (see `vectors/make_vectors.py`
//! for how `vectors/vectors.json` was made), and vectors made by Python's
//! hashlib at test time.

use adapter_interfaces::{PasswordAlgorithm, Secret};
use password_hashes::auth0::{self, CustomPasswordHash};
use password_hashes::{HashError, ParsedHash};

#[derive(serde::Deserialize)]
struct Vector {
    label: String,
    password: String,
    custom_password_hash: CustomPasswordHash,
}

fn vectors() -> Vec<Vector> {
    let text = include_str!("vectors/vectors.json");
    serde_json::from_str(text).expect("vectors.json parses")
}

#[test]
fn every_committed_vector_verifies_and_round_trips() {
    let vectors = vectors();
    let mut seen = std::collections::HashSet::new();
    for v in &vectors {
        let parsed = auth0::from_custom(&v.custom_password_hash)
            .unwrap_or_else(|e| panic!("{}: {e}", v.label));
        let algorithm = parsed.algorithm();
        seen.insert(algorithm);
        assert!(
            parsed.matches(&v.password).unwrap(),
            "{}: the right password does not match",
            v.label
        );
        assert!(
            !parsed.matches(&format!("{}x", v.password)).unwrap(),
            "{}: a wrong password matches",
            v.label
        );
        // One canonical spelling, parsed back to the same hash.
        let canonical = parsed.to_canonical();
        assert_eq!(
            password_hashes::parse(algorithm, &Secret::new(canonical.clone())).as_ref(),
            Ok(&parsed),
            "{}: canonical form {canonical}",
            v.label
        );
        // Export and import again: the same canonical string.
        let exported = auth0::to_custom(&parsed);
        let json = serde_json::to_string(&exported).unwrap();
        let reimported: CustomPasswordHash = serde_json::from_str(&json).unwrap();
        assert_eq!(
            auth0::from_custom(&reimported).map(|p| p.to_canonical()),
            Ok(canonical.clone()),
            "{}: export {json}",
            v.label
        );
        // Nothing secret in Debug.
        let debug = format!("{parsed:?} {:?}", v.custom_password_hash);
        assert!(
            !debug.contains(&v.custom_password_hash.hash.value) && !debug.contains(&canonical),
            "{}: Debug shows the hash: {debug}",
            v.label
        );
        let strong = v.label.contains("default strength");
        assert_eq!(parsed.needs_rehash(), !strong, "{}: needs_rehash", v.label);
    }
    assert_eq!(
        seen.len(),
        PasswordAlgorithm::ALL.len(),
        "vectors cover every algorithm: {seen:?}"
    );
}

#[test]
fn the_default_hash_verifies_and_needs_no_rehash() {
    let (algorithm, hash) = password_hashes::hash_default("new password").unwrap();
    assert_eq!(algorithm, PasswordAlgorithm::Argon2id);
    let outcome = password_hashes::verify(algorithm, &hash, "new password").unwrap();
    assert!(outcome.matches && !outcome.needs_rehash);
    assert!(
        !password_hashes::verify(algorithm, &hash, "old password")
            .unwrap()
            .matches
    );
}

fn custom(json: serde_json::Value) -> CustomPasswordHash {
    serde_json::from_value(json).expect("a custom_password_hash")
}

fn import_error(json: serde_json::Value) -> HashError {
    auth0::from_custom(&custom(json)).expect_err("refused")
}

#[test]
fn bad_hashes_are_refused_without_showing_them() {
    let secret = "d24e794fce503c3ddb1cd1ba1dd5d9b250cf9917336a0316fefd87fecf7920";
    let cases = [
        (
            serde_json::json!({"algorithm": "rot13", "hash": {"value": secret}}),
            "unsupported algorithm `rot13`",
        ),
        (
            serde_json::json!({"algorithm": "sha256", "hash": {"value": secret, "encoding": "hex"}}),
            "31 bytes long",
        ),
        (
            serde_json::json!({"algorithm": "sha256", "hash": {"value": "zz", "encoding": "hex"}}),
            "not valid hex",
        ),
        (
            serde_json::json!({"algorithm": "md5", "hash": {"value": secret, "encoding": "utf8"}}),
            "must be hex or base64",
        ),
        (
            serde_json::json!({"algorithm": "hmac", "hash": {"value": secret, "encoding": "hex",
                "digest": "whirlpool", "key": {"value": "k"}}}),
            "unsupported hmac digest `whirlpool`",
        ),
        (
            serde_json::json!({"algorithm": "hmac", "hash": {"value": secret, "encoding": "hex", "digest": "sha1"}}),
            "hash.key is required",
        ),
        (
            serde_json::json!({"algorithm": "bcrypt", "hash": {"value": "$2x$10$nFguVi9LsCAcvTZFKQlRKeLVydo8ETv483lkNsSFI/Wl1Rz1Ypo1K"}}),
            "`$2a$`, `$2b$`, `$2y$`",
        ),
        (
            serde_json::json!({"algorithm": "bcrypt", "hash": {"value": "$2b$10$short"}}),
            "does not parse",
        ),
        (
            serde_json::json!({"algorithm": "bcrypt", "hash": {"value": "$2b$10$nFguVi9LsCAcvTZFKQlRKeLVydo8ETv483lkNsSFI/Wl1Rz1Ypo1K"},
                "salt": {"value": "x"}}),
            "unsupported bcrypt option `salt`",
        ),
        (
            serde_json::json!({"algorithm": "argon2", "hash": {"value": "$argon2id$v=19$m=65536"}}),
            "does not parse",
        ),
        (
            serde_json::json!({"algorithm": "pbkdf2", "hash": {"value": "$pbkdf2-whirlpool$i=1,l=4$c2FsdA$aGFzaA"}}),
            "unsupported digest `whirlpool`",
        ),
        (
            serde_json::json!({"algorithm": "pbkdf2", "hash": {"value": "$pbkdf2-sha256$i=1,l=5$c2FsdA$aGFzaA"}}),
            "`l=5` but the hash is 4 bytes long",
        ),
        (
            serde_json::json!({"algorithm": "ldap", "hash": {"value": "{CRYPT}abcdefgh"}}),
            "unsupported ldap scheme `CRYPT`",
        ),
        (
            serde_json::json!({"algorithm": "ldap", "hash": {"value": "{SHA}c2FsdA=="}}),
            "4 bytes long",
        ),
        (
            serde_json::json!({"algorithm": "scrypt", "hash": {"value": "00ff", "encoding": "hex"},
                "salt": {"value": "s"}, "keylen": 2, "cost": 1000}),
            "power of two",
        ),
        (
            serde_json::json!({"algorithm": "scrypt", "hash": {"value": "00ff", "encoding": "hex"}, "keylen": 2}),
            "a salt is required",
        ),
        (
            serde_json::json!({"algorithm": "scrypt", "hash": {"value": "00ff", "encoding": "hex"},
                "salt": {"value": "s"}}),
            "keylen is required",
        ),
        (
            serde_json::json!({"algorithm": "scrypt", "hash": {"value": "00ff", "encoding": "hex"},
                "salt": {"value": "s"}, "keylen": 3}),
            "keylen is 3 but the hash is 2 bytes long",
        ),
        (
            serde_json::json!({"algorithm": "sha256", "hash": {"value": "00ff", "encoding": "hex"}, "keylen": 2}),
            "keylen, cost, blockSize or parallelization is not allowed",
        ),
        (
            serde_json::json!({"algorithm": "md5", "hash": {"value": "00112233445566778899aabbccddeeff", "encoding": "hex"},
                "password": {"encoding": "ebcdic"}}),
            "unsupported password encoding `ebcdic`",
        ),
    ];
    for (json, expected) in cases {
        let error = import_error(json.clone()).to_string();
        assert!(
            error.contains(expected),
            "{json}: `{error}` lacks `{expected}`"
        );
        assert!(!error.contains(secret), "the error shows the hash: {error}");
    }
    let unknown = serde_json::from_value::<CustomPasswordHash>(
        serde_json::json!({"algorithm": "md5", "hash": {"value": "x"}, "pepper": "y"}),
    );
    assert!(unknown.is_err(), "an unknown field is refused");
    // Auth0's schema puts scrypt's parameters beside `hash`, not inside it.
    let misplaced = serde_json::from_value::<CustomPasswordHash>(serde_json::json!(
        {"algorithm": "scrypt", "hash": {"value": "00ff", "encoding": "hex", "keylen": 2}, "salt": {"value": "s"}}
    ));
    assert!(
        misplaced.is_err(),
        "scrypt parameters inside `hash` are refused"
    );
}

/// The `custom_password_hash` examples of Auth0's bulk-import schema page
/// (manage-users/user-migration/bulk-user-import-schema) whose password can
/// be recovered: its scrypt example is "password" (checked with Python's
/// `hashlib.scrypt`), its bcrypt example "hello".
#[test]
fn auth0_documented_examples_verify() {
    let examples = [
        (
            serde_json::json!({
                "algorithm": "scrypt",
                "hash": {"value": "097f6197e1b41538f723e32aa7a68e8d76227d8e432ce5faa4882a913032db29", "encoding": "hex"},
                "salt": {"value": "abc123", "encoding": "utf8"},
                "keylen": 32,
                "cost": 4096
            }),
            "password",
        ),
        (
            serde_json::json!({"algorithm": "bcrypt",
                "hash": {"value": "$2b$10$nFguVi9LsCAcvTZFKQlRKeLVydo8ETv483lkNsSFI/Wl1Rz1Ypo1K"}}),
            "hello",
        ),
    ];
    for (json, password) in examples {
        let parsed =
            auth0::from_custom(&custom(json.clone())).unwrap_or_else(|e| panic!("{json}: {e}"));
        assert!(parsed.matches(password).unwrap(), "{json}");
        assert!(!parsed.matches("Password").unwrap(), "{json}");
        // Exported again, the parameters sit where Auth0 reads them.
        let exported = serde_json::to_value(auth0::to_custom(&parsed)).unwrap();
        if json["algorithm"] == "scrypt" {
            assert_eq!(exported["keylen"], 32);
            assert_eq!(exported["cost"], 4096);
            assert_eq!(exported["blockSize"], 8);
            assert_eq!(exported["parallelization"], 1);
            assert!(exported["hash"].get("keylen").is_none());
        }
    }
    // `$2y$` is taken in `custom_password_hash`, as Auth0 documents.
    let y = custom(serde_json::json!({"algorithm": "bcrypt",
        "hash": {"value": "$2y$10$nFguVi9LsCAcvTZFKQlRKeLVydo8ETv483lkNsSFI/Wl1Rz1Ypo1K"}}));
    assert!(auth0::from_custom(&y).unwrap().matches("hello").unwrap());
}

#[test]
fn stored_hashes_must_be_canonical() {
    let canonical = "$pbkdf2-sha256$i=1000,l=4$c2FsdA$aGFzaA";
    assert!(ParsedHash::parse(PasswordAlgorithm::Pbkdf2, canonical).is_ok());
    for other in [
        "$pbkdf2-sha256$l=4,i=1000$c2FsdA$aGFzaA",
        "$pbkdf2-RSA-SHA256$i=1000,l=4$c2FsdA$aGFzaA",
        "$pbkdf2-sha256$i=1000,l=4$c2FsdA==$aGFzaA",
        "$pbkdf2-sha256$i=01000,l=4$c2FsdA$aGFzaA",
    ] {
        assert!(
            ParsedHash::parse(PasswordAlgorithm::Pbkdf2, other).is_err(),
            "{other} is accepted as canonical"
        );
        assert_eq!(
            ParsedHash::parse_lenient(PasswordAlgorithm::Pbkdf2, other)
                .map(|p| p.to_canonical())
                .ok()
                .filter(|_| !other.contains("01000")),
            (!other.contains("01000")).then(|| canonical.to_owned()),
            "{other}"
        );
    }
    // A hash of one algorithm given for another.
    assert!(ParsedHash::parse(PasswordAlgorithm::Md5, "$sha1$sp=none,pe=utf8$$aGFzaA").is_err());
    // The rows written before this crate existed still parse.
    let old = "$2b$10$nFguVi9LsCAcvTZFKQlRKeLVydo8ETv483lkNsSFI/Wl1Rz1Ypo1K";
    assert!(
        password_hashes::verify(PasswordAlgorithm::Bcrypt, &Secret::new(old), "hello")
            .unwrap()
            .matches
    );
}

/// Vectors computed now by Python's hashlib (another implementation),
/// when a `python3` is on the PATH.
#[test]
fn vectors_made_by_python_at_test_time() {
    let script = r#"
import base64, hashlib, hmac, json
pw = "héllo wörld"
b = lambda d: base64.b64encode(d).decode()
print(json.dumps([
 {"algorithm": "sha512", "hash": {"value": hashlib.sha512(b"pepper" + pw.encode()).hexdigest(), "encoding": "hex"},
  "salt": {"value": "pepper", "position": "prefix"}},
 {"algorithm": "sha1", "hash": {"value": b(hashlib.sha1(pw.encode("utf-16-le") + b"\x00\xff").digest()), "encoding": "base64"},
  "salt": {"value": "00ff", "encoding": "hex", "position": "suffix"}, "password": {"encoding": "ucs2"}},
 {"algorithm": "hmac", "hash": {"value": hmac.new(b"key", pw.encode(), "sha384").hexdigest(), "encoding": "hex",
  "digest": "sha384", "key": {"value": "key"}}},
 {"algorithm": "pbkdf2", "hash": {"value": "$pbkdf2-sha256$i=999,l=33$" + b(b"saltsalt").rstrip("=") + "$"
  + b(hashlib.pbkdf2_hmac("sha256", pw.encode(), b"saltsalt", 999, 33)).rstrip("=")}},
 {"algorithm": "scrypt", "hash": {"value": hashlib.scrypt(pw.encode(), salt=b"NaCl", n=64, r=2, p=3, dklen=20).hex(),
  "encoding": "hex"}, "cost": 64, "blockSize": 2, "parallelization": 3, "keylen": 20, "salt": {"value": "NaCl"}},
 {"algorithm": "ldap", "hash": {"value": "{SSHA256}" + b(hashlib.sha256(pw.encode() + b"ab").digest() + b"ab")}},
]))
"#;
    let output = match std::process::Command::new("python3")
        .args(["-c", script])
        .output()
    {
        Ok(output) if output.status.success() => output,
        _ => {
            println!("python3 is not available: skipping the vectors made at test time");
            return;
        }
    };
    let customs: Vec<CustomPasswordHash> = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(customs.len(), 6);
    for custom in &customs {
        let parsed = auth0::from_custom(custom).unwrap_or_else(|e| panic!("{custom:?}: {e}"));
        assert!(parsed.matches("héllo wörld").unwrap(), "{custom:?}");
        assert!(!parsed.matches("hello world").unwrap(), "{custom:?}");
    }
}
