//! How the server's own threads are scheduled by the operating system (Linux; elsewhere these
//! do nothing). Measured with bench/run.sh on one core (bench/README.md):
//!
//! - **HTTP workers run under `SCHED_BATCH`.** A worker woken by the network, or by a finished
//!   database job, would otherwise preempt the database thread half-way through its job (Linux
//!   favours a thread that wakes up), three context switches a request. Under `SCHED_BATCH` it
//!   waits for the database thread's time slice or its next pause, then handles everything ready
//!   at once. Refresh grants: 2,700 to 3,400 requests/s; reads unchanged.
//! - **Password hashing runs at nice 19**, the lowest priority: a bcrypt hash at cost 12 takes a
//!   third of a second of a core, and every other request should get the CPU first.

/// Puts the calling thread under `SCHED_BATCH`, at its current nice value (0).
pub fn batch_current_thread() {
    #[cfg(target_os = "linux")]
    {
        use thread_priority::unix::{
            set_thread_priority_and_policy, thread_native_id, NormalThreadSchedulePolicy,
            ThreadSchedulePolicy,
        };
        use thread_priority::{ThreadPriority, ThreadPriorityValue};
        // The crate maps its 0..=99 scale onto nice 19..=-20; 47 is nice 0, the value every
        // thread starts with (and the only one an unprivileged process may keep). The test
        // below checks the mapping.
        let nice_zero = ThreadPriorityValue::try_from(47u8).map(ThreadPriority::Crossplatform);
        let set = nice_zero.map_err(|e| e.to_string()).and_then(|priority| {
            set_thread_priority_and_policy(
                thread_native_id(),
                priority,
                ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Batch),
            )
            .map_err(|e| format!("{e:?}"))
        });
        if let Err(error) = set {
            log::warn!("HTTP workers run under the default scheduling policy: {error}");
        }
    }
}

/// Gives the calling thread the lowest CPU priority, nice 19. On Linux a nice value belongs to
/// one thread (elsewhere it would be the whole process's).
pub fn lowest_priority_current_thread() {
    #[cfg(target_os = "linux")]
    if let Err(error) =
        thread_priority::set_current_thread_priority(thread_priority::ThreadPriority::Min)
    {
        log::warn!("password hashing runs at normal priority: {error:?}");
    }
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
    fn batch_keeps_nice_zero_and_lowest_is_nice_19() {
        std::thread::spawn(|| {
            super::batch_current_thread();
            assert_eq!(scheduling(), (SCHED_BATCH, 0));
        })
        .join()
        .unwrap();
        std::thread::spawn(|| {
            super::lowest_priority_current_thread();
            assert_eq!(scheduling().1, 19);
        })
        .join()
        .unwrap();
    }
}
