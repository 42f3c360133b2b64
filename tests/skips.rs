//! The end of `cargo test`: which optional groups of the last `it` run were skipped, and why.
//!
//! A plain `main` (`harness = false` in Cargo.toml), so its output is not captured; cargo runs
//! it after `it` (test targets run in alphabetical order). It reads the newest run's records
//! (`tests/it/common/skips.rs`) and removes older runs' files.

use std::path::PathBuf;

fn main() {
    let folder = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("test-skips");
    let mut runs: Vec<PathBuf> = std::fs::read_dir(&folder)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "tsv"))
                .collect()
        })
        .unwrap_or_default();
    // Names start with the run's start time, zero-padded: the last is the newest.
    runs.sort();
    let Some(newest) = runs.pop() else {
        println!(
            "\n== Skipped test groups: no run of the `it` tests recorded since the last summary.\n"
        );
        return;
    };
    for old in runs {
        let _ = std::fs::remove_file(old);
    }
    let text = std::fs::read_to_string(&newest).unwrap_or_default();
    let age = std::fs::metadata(&newest)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok());
    let _ = std::fs::remove_file(&newest);
    let mut groups: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if let Some((group, reason)) = line.split_once('\t') {
            if !groups.iter().any(|(g, _)| g == group) {
                groups.push((group.to_string(), reason.to_string()));
            }
        }
    }
    let when = age
        .map(|age| format!(" (recorded {}s ago)", age.as_secs()))
        .unwrap_or_default();
    if groups.is_empty() {
        println!(
            "\n== Skipped test groups: none. PostgreSQL, the browser tests (Chromium) and the MCP \
             SDK end-to-end test all ran in the last run of the `it` tests{when}.\n"
        );
        return;
    }
    println!(
        "\n== Skipped test groups in the last run of the `it` tests{when}: {} of them. Green does \
         not mean these were tested.",
        groups.len()
    );
    for (group, reason) in &groups {
        println!("   - {group}: {reason}");
    }
    println!();
}
