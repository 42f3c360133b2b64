//! The memory allocator's settings for the server process.
//!
//! glibc's malloc gives threads that allocate at the same moment arenas of their own, up to
//! eight per core, and each keeps the memory freed into it. The server's threads (HTTP workers,
//! database threads, password hashing) took a dozen arenas under load, and the resident memory
//! at 64 connections rose from 28 MB to 38 to 46 MB over one `bench/run.sh` run; with two arenas
//! it stayed at 34 to 37 MB and no request got slower (bench/README.md, 2026-12-05, 00:30).
//!
//! The arena limit is read by glibc from `MALLOC_ARENA_MAX` when the process starts, before
//! `main`, and setting it later takes `mallopt`, an unsafe call the crate's lints forbid. So
//! `panicless serve` started without it replaces itself, once, by the same program with the
//! same arguments and `MALLOC_ARENA_MAX=2` (exec: same process id, nothing started yet). A value
//! the operator set is kept.

/// The arena limit the server runs with unless `MALLOC_ARENA_MAX` says otherwise.
const ARENAS: &str = "2";

/// Re-executes the server with the arena limit, if it is not set. Returns only when it is
/// set already, or when the exec failed (then the server runs with glibc's default: slower to
/// give memory back, nothing worse).
pub fn limit_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        use std::os::unix::process::CommandExt;
        if std::env::var_os("MALLOC_ARENA_MAX").is_some() {
            return;
        }
        let Ok(program) = std::env::current_exe() else {
            return;
        };
        let mut args = std::env::args_os();
        let mut command = std::process::Command::new(program);
        if let Some(name) = args.next() {
            command.arg0(name);
        }
        let error = command.args(args).env("MALLOC_ARENA_MAX", ARENAS).exec();
        log::warn!("could not restart with MALLOC_ARENA_MAX={ARENAS} ({error}); running on");
    }
}
