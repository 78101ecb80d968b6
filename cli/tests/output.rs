//! Output off a terminal and on one (issue 17): no colour codes in logs
//! written to a pipe, colour on a terminal unless `NO_COLOR` is set,
//! progress lines that say something, a demo without alarming warnings.

mod common;

use common::{backend, run, sqlite, stderr, stdout, switchyard, temp_dir};

#[test]
fn logs_written_to_a_pipe_carry_no_colour_codes() {
    let dir = temp_dir();
    let target = sqlite("sqlx", dir.path(), "app.db");
    let output = switchyard(dir.path())
        .env("SWITCHYARD_LOG", "debug")
        .env_remove("NO_COLOR")
        .args(["migrate", "--target", &target])
        .output()
        .expect("run");
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(text.contains("DEBUG"), "debug logs were asked for: {text}");
    assert!(!text.contains('\u{1b}'), "colour codes in a pipe: {text:?}");
}

#[test]
fn progress_off_a_terminal_has_no_empty_starting_lines() {
    let dir = temp_dir();
    let target = sqlite(backend(0), dir.path(), "seeded.db");
    let output = run(
        dir.path(),
        &[
            "seed",
            "--target",
            &target,
            "--tenants",
            "1",
            "--users-per-tenant",
            "20",
        ],
    );
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(!text.contains("starting ("), "{text}");
    assert!(!text.contains("0/?"), "{text}");
    // A short run prints the final line only.
    assert!(text.lines().any(|l| l.starts_with("users: ")), "{text}");
}

#[test]
fn the_demo_tells_its_story_without_warnings() {
    let dir = temp_dir();
    let demo_dir = dir.path().join("demo");
    let demo_dir = demo_dir.to_str().expect("utf-8 path");
    let output = run(
        dir.path(),
        &["demo", "--dir", demo_dir, "--users-per-tenant", "5"],
    );
    let (out, err) = (stdout(&output), stderr(&output));
    assert_eq!(output.status.code(), Some(0), "{out}{err}");
    assert!(!err.contains("WARN"), "alarming warnings: {err}");
    assert!(out.contains("dead letters"), "the story names them: {out}");
    assert!(out.contains("migration complete"), "{out}");
}

/// Every command, on SQLite stores: `--quiet` prints nothing at all (the
/// exit status tells), `--json` prints one JSON document and no progress.
#[test]
fn quiet_and_json_behave_the_same_on_every_command() {
    let dir = temp_dir();
    let old = sqlite(backend(0), dir.path(), "old.db");
    let new = sqlite(backend(1), dir.path(), "new.db");
    let demo_dir = dir.path().join("demo");
    let demo_dir = demo_dir.to_str().expect("utf-8 path");
    let demo_dir_json = dir.path().join("demo-json");
    let demo_dir_json = demo_dir_json.to_str().expect("utf-8 path");
    let commands: Vec<Vec<&str>> = vec![
        vec!["migrate", "--target", &old],
        vec![
            "seed",
            "--target",
            &old,
            "--tenants",
            "1",
            "--users-per-tenant",
            "5",
        ],
        vec!["backfill", "--source", &old, "--target", &new],
        vec!["verify", "--source", &old, "--target", &new],
        vec!["stage", "show", "--old", &old, "--new", &new],
        vec!["stage", "set", "dual-write", "--old", &old, "--new", &new],
        vec!["journal", "status", "--old", &old, "--new", &new],
        vec!["journal", "replay", "--old", &old, "--new", &new],
        vec!["journal", "discard", "--old", &old, "--new", &new],
        vec!["relay", "--old", &old, "--new", &new, "--until-empty"],
        vec![
            "traffic",
            "--old",
            &old,
            "--new",
            &new,
            "--duration",
            "1s",
            "--users",
            "5",
        ],
        vec!["demo", "--dir", demo_dir, "--users-per-tenant", "3"],
    ];
    for args in &commands {
        let mut quiet = args.clone();
        quiet.push("--quiet");
        let output = run(dir.path(), &quiet);
        assert_eq!(output.status.code(), Some(0), "{quiet:?}");
        assert_eq!(stdout(&output), "", "{quiet:?} printed on stdout");
        assert_eq!(stderr(&output), "", "{quiet:?} printed on stderr");
    }
    // Again with --json (the stage is dual-write now: `stage set` moves on).
    for args in &commands {
        let mut json = args.clone();
        if json[..2] == ["stage", "set"] {
            json[2] = "shadow";
        }
        if json[0] == "demo" {
            json[2] = demo_dir_json;
        }
        json.push("--json");
        let output = run(dir.path(), &json);
        assert_eq!(output.status.code(), Some(0), "{json:?}");
        let parsed: Result<serde_json::Value, _> = serde_json::from_slice(&output.stdout);
        assert!(parsed.is_ok(), "{json:?}: stdout is not one JSON document");
        assert!(
            !stderr(&output).contains("users: "),
            "{json:?}: progress with --json"
        );
    }
}

/// Runs `switchyard migrate` on a new SQLite store with debug logs under a
/// pseudo-terminal (util-linux `script`), with `NO_COLOR` set to
/// `no_color` or unset; returns what the terminal showed. `None` when
/// `script` is not installed.
fn migrate_on_a_terminal(no_color: Option<&str>) -> Option<String> {
    fn quoted(arg: &str) -> String {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
    let dir = temp_dir();
    let target = sqlite("sqlx", dir.path(), "app.db");
    let command = [
        env!("CARGO_BIN_EXE_switchyard"),
        "migrate",
        "--target",
        &target,
    ]
    .map(quoted)
    .join(" ");
    let mut script = std::process::Command::new("script");
    // -q: no banner; -e: its exit status is the command's; the session's
    // copy goes to /dev/null, what the terminal shows to stdout.
    script
        .args(["-qec", &command, "/dev/null"])
        .current_dir(dir.path())
        .env("SWITCHYARD_LOG", "debug")
        .env_remove("SWITCHYARD_TARGET")
        .stdin(std::process::Stdio::null());
    match no_color {
        Some(value) => script.env("NO_COLOR", value),
        None => script.env_remove("NO_COLOR"),
    };
    let output = match script.output() {
        Ok(output) => output,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("skipped: util-linux `script` is not installed");
            return None;
        }
        Err(e) => panic!("cannot run script: {e}"),
    };
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(text.contains("DEBUG"), "debug logs were asked for: {text}");
    Some(text)
}

#[test]
fn logs_on_a_terminal_are_coloured_unless_no_color_is_set() {
    let Some(coloured) = migrate_on_a_terminal(None) else {
        return;
    };
    assert!(
        coloured.contains("\u{1b}["),
        "no colour codes on a terminal: {coloured:?}"
    );
    let plain = migrate_on_a_terminal(Some("1")).expect("script ran before");
    assert!(
        !plain.contains('\u{1b}'),
        "colour codes on a terminal with NO_COLOR=1: {plain:?}"
    );
    // An empty NO_COLOR does not count (no-color.org).
    let empty = migrate_on_a_terminal(Some("")).expect("script ran before");
    assert!(empty.contains("\u{1b}["), "{empty:?}");
}
