//! How the server's own threads are scheduled by the operating system (Linux; elsewhere these
//! do nothing). Each choice was measured with bench/run.sh on one core; the figures are in
//! bench/README.md ("Design notes moved from the code"):
//!
//! - **HTTP workers run under `SCHED_BATCH`.** A worker woken by the network, or by a finished
//!   database job, would otherwise preempt the database thread half-way through its job (Linux
//!   favours a thread that wakes up), three context switches a request. Under `SCHED_BATCH` it
//!   waits for the database thread's time slice or its next pause, then handles everything ready
//!   at once.
//! - **Password hashing runs at nice 19**, the lowest priority: a bcrypt hash at cost 12 takes a
//!   third of a second of a core, and every other request should get the CPU first.
//! - **Database threads run under `SCHED_BATCH` too**, set explicitly: a thread inherits the
//!   policy of the thread that spawns it, and the runtime's main thread spawns some of them.

/// For an HTTP worker: `SCHED_BATCH`, nice 0.
pub fn http_worker() {
    set_current_thread(Policy::Batch, Nice::Zero, "HTTP workers");
}

/// For a database thread: `SCHED_BATCH`, nice 0. Set, not inherited: a thread starts with the
/// policy of the thread that spawned it, and database threads are spawned by HTTP workers as
/// well as by the runtime's main thread.
pub fn database_thread() {
    set_current_thread(Policy::Batch, Nice::Zero, "database threads");
}

/// For a password hashing thread: `SCHED_BATCH` (it is all CPU), nice 19.
pub fn password_hashing() {
    set_current_thread(Policy::Batch, Nice::Lowest, "password hashing");
}

#[allow(dead_code)] // Outside Linux nothing reads them.
enum Policy {
    Other,
    Batch,
}

#[allow(dead_code)]
enum Nice {
    Zero,
    Lowest,
}

fn set_current_thread(policy: Policy, nice: Nice, what: &str) {
    #[cfg(target_os = "linux")]
    {
        use thread_priority::unix::{
            set_thread_priority_and_policy, thread_native_id, NormalThreadSchedulePolicy,
            ThreadSchedulePolicy,
        };
        use thread_priority::{ThreadPriority, ThreadPriorityValue};
        let policy = ThreadSchedulePolicy::Normal(match policy {
            Policy::Other => NormalThreadSchedulePolicy::Other,
            Policy::Batch => NormalThreadSchedulePolicy::Batch,
        });
        // The crate maps its 0..=99 scale onto nice 19..=-20: 47 is nice 0, the value every
        // thread starts with (an unprivileged process may not go below it), and `Min` is 19.
        // The test below checks the mapping.
        let priority = match nice {
            Nice::Zero => ThreadPriorityValue::try_from(47u8).map(ThreadPriority::Crossplatform),
            Nice::Lowest => Ok(ThreadPriority::Min),
        };
        let set = priority.map_err(|e| e.to_string()).and_then(|priority| {
            set_thread_priority_and_policy(thread_native_id(), priority, policy)
                .map_err(|e| format!("{e:?}"))
        });
        if let Err(error) = set {
            log::warn!("{what} keep the scheduling they started with: {error}");
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (policy, nice, what);
}

#[cfg(test)]
#[cfg(target_os = "linux")]
pub(crate) mod tests {
    /// The calling thread's (scheduling policy, nice value), from /proc.
    pub(crate) fn scheduling() -> (u32, i32) {
        let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
        // Fields after the command name, which is in parentheses and may hold spaces.
        let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
        // stat(5): nice is field 19, policy field 41; `fields` starts at field 3.
        (
            fields[41 - 3].parse().unwrap(),
            fields[19 - 3].parse().unwrap(),
        )
    }

    const SCHED_BATCH: u32 = 3;

    #[test]
    fn each_kind_of_thread_gets_its_policy_and_nice_value() {
        std::thread::spawn(|| {
            super::database_thread();
            assert_eq!(scheduling(), (SCHED_BATCH, 0));
        })
        .join()
        .unwrap();
        std::thread::spawn(|| {
            super::http_worker();
            assert_eq!(scheduling(), (SCHED_BATCH, 0));
            std::thread::spawn(|| {
                assert_eq!(
                    scheduling(),
                    (SCHED_BATCH, 0),
                    "inherited from the spawning thread"
                );
            })
            .join()
            .unwrap();
            std::thread::spawn(|| {
                super::password_hashing();
                assert_eq!(scheduling(), (SCHED_BATCH, 19));
            })
            .join()
            .unwrap();
        })
        .join()
        .unwrap();
    }
}
