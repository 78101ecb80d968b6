//! Output off a terminal (issue 17): no colour codes in logs written to a
//! pipe, progress lines that say something, a demo without alarming warnings.

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
