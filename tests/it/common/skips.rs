//! What this run of the tests left out, and why: each optional group that cannot run here
//! (PostgreSQL, Chromium, the MCP Python SDK) says so on stderr as it skips, and records it in
//! this run's file under `target/tmp/test-skips/`. `tests/skips.rs`, a target without libtest's
//! capture that cargo runs after this one, prints the newest run's records at the end of
//! `cargo test`, so a green run cannot hide what it did not test.
//!
//! Every run of this binary has a file of its own (named by its start time and process id),
//! created as the first test starts a server, even when nothing is skipped: the summary reads
//! the newest one only, so records of an earlier run are never shown as this run's.

use std::io::Write;
use std::path::PathBuf;
use std::sync::{LazyLock, Mutex};

/// The folder the records live in.
pub fn folder() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("test-skips")
}

/// This run's file, created on first use.
static RUN: LazyLock<Mutex<Option<PathBuf>>> = LazyLock::new(|| {
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let dir = folder();
    let path = dir.join(format!("run-{started:024}-{}.tsv", std::process::id()));
    let created = std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&path, ""));
    Mutex::new(created.ok().map(|()| path))
});

/// Makes sure this run has its file (so that an earlier run's records are not taken for it).
pub fn run_started() {
    LazyLock::force(&RUN);
}

/// Records that `group` was skipped for `reason`, and says so on stderr now (straight to
/// stderr: libtest's capture only intercepts the print macros).
pub fn skipped(group: &str, reason: &str) {
    let _ = writeln!(std::io::stderr(), "note: {group} skipped: {reason}");
    let Ok(run) = RUN.lock() else { return };
    if let Some(path) = run.as_ref() {
        if let Ok(mut file) = std::fs::OpenOptions::new().append(true).open(path) {
            let line = format!("{group}\t{}\n", reason.replace(['\t', '\n'], " "));
            let _ = file.write_all(line.as_bytes());
        }
    }
}
