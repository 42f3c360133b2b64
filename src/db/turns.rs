//! The threads that run database work, and their turns at the CPU.
//!
//! SQLite work is CPU work: its pages are in memory. So at most one thread per core runs it at a
//! time, each holding a *turn*, and a thread that finishes a job takes the next one from the
//! queue itself, without waking another thread. The queue is first come, first served.
//!
//! Why: on actix's blocking pool (`web::block`) every pooled connection can be a runnable thread,
//! time-sliced on the same core, and every job wakes one; turns cost less CPU a request
//! (bench/README.md, "db::turns against actix's blocking pool").
//!
//! Only running work holds a turn. Work that waits or runs long gives its turn up meanwhile
//! ([`off_turn`]), and another thread takes the queue over: a write waiting for the file's
//! writer (`write_transaction`), a wait for a pool connection or for another request's
//! statistics, an import, statistics computed from cold. So one slow request never holds the
//! others up, and the connection pool can stay larger than the number of cores.
//!
//! PostgreSQL work waits on the network, not the CPU: `db::run` sends it to actix's blocking
//! pool instead: here each of its jobs would give its turn up at once and wake another thread
//! (bench/README.md, third round).

use std::cell::Cell;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::thread::Thread;
use std::time::Duration;

type Job = Box<dyn FnOnce() + Send>;

/// Threads at most. Beyond the runners, a thread is only needed for each job that is off its
/// turn (waiting for the writer or for another request's statistics, or on the network): 24 is
/// the default pool of 16 connections and room to spare. With every thread busy, a job waits in
/// the queue, which no thread's job waits for, so a full house cannot deadlock. Each thread
/// costs a stack and, with glibc, may take a malloc arena of its own (bench/README.md, third
/// round: 64 threads cost 25 MB).
const MAX_THREADS: usize = 24;

/// An idle thread ends after this long without work, as in actix's blocking pool.
const KEEP_IDLE: Duration = Duration::from_secs(10);

struct Runners {
    state: Mutex<State>,
    /// Idle threads wait here for a turn handed to them (`State::grants`).
    wake: Condvar,
}

struct State {
    queue: VecDeque<Job>,
    /// Turns that no thread holds.
    free: usize,
    /// Threads that gave their turn up (`off_turn`) and wait for one back, first come, first
    /// served. They go before the queue: their requests are older.
    returning: VecDeque<Arc<Returning>>,
    /// Turns handed to idle threads that have not woken to take them yet.
    grants: usize,
    idle: usize,
    threads: usize,
}

struct Returning {
    thread: Thread,
    granted: AtomicBool,
}

thread_local! {
    /// Whether this thread holds a turn now.
    static HELD: Cell<bool> = const { Cell::new(false) };
}

fn runners() -> &'static Runners {
    static RUNNERS: OnceLock<Runners> = OnceLock::new();
    RUNNERS.get_or_init(|| Runners {
        state: Mutex::new(State {
            queue: VecDeque::new(),
            free: std::thread::available_parallelism().map_or(2, |n| n.get()),
            returning: VecDeque::new(),
            grants: 0,
            idle: 0,
            threads: 0,
        }),
        wake: Condvar::new(),
    })
}

fn lock() -> MutexGuard<'static, State> {
    runners().state.lock().unwrap_or_else(|p| p.into_inner())
}

/// Queues `job` to run on a database thread, in its turn.
pub fn spawn(job: impl FnOnce() + Send + 'static) {
    let mut state = lock();
    state.queue.push_back(Box::new(job));
    if state.free > 0 {
        state.free -= 1;
        start_runner(&mut state);
    }
    // Otherwise every turn is held, and a runner takes the job when it is done with its own.
}

/// Hands a turn, already taken from `free`, to a thread that will run the queue: an idle one, or
/// a new one.
fn start_runner(state: &mut State) {
    if state.idle > state.grants {
        state.grants += 1;
        runners().wake.notify_one();
        return;
    }
    if state.threads < MAX_THREADS {
        let spawned = std::thread::Builder::new()
            .name("database".into())
            .spawn(run_queue);
        if spawned.is_ok() {
            state.threads += 1;
            return;
        }
        log::error!("cannot start a database thread");
    }
    // No thread to give it to: the turn stays free, and the running threads drain the queue.
    if !pass_turn_to_returning(state) {
        state.free += 1;
    }
}

/// A database thread: holds a turn and runs queued jobs one after the other; waits idle, without
/// a turn, when there is nothing to run.
fn run_queue() {
    crate::threads::database_thread();
    HELD.set(true);
    while let Some(job) = next_job() {
        // A panic ends that job (its request gets a 500: its reply channel is dropped), not the
        // thread.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
        if !HELD.get() {
            // The job panicked while off its turn.
            take_turn_back();
        }
    }
}

/// The next job for a thread that holds a turn. It may pass its turn on and wait idle first;
/// `None` when it has been idle for `KEEP_IDLE` and should end.
fn next_job() -> Option<Job> {
    let runners = runners();
    let mut state = lock();
    loop {
        if pass_turn_to_returning(&mut state) {
            HELD.set(false);
        } else if let Some(job) = state.queue.pop_front() {
            return Some(job);
        } else {
            state.free += 1;
            HELD.set(false);
        }
        // Idle until handed a turn.
        state.idle += 1;
        while state.grants == 0 {
            let (next, waited) = runners
                .wake
                .wait_timeout(state, KEEP_IDLE)
                .unwrap_or_else(|p| p.into_inner());
            state = next;
            if waited.timed_out() && state.grants == 0 {
                state.idle -= 1;
                state.threads -= 1;
                return None;
            }
        }
        state.grants -= 1;
        state.idle -= 1;
        HELD.set(true);
    }
}

/// Gives the turn being released to the first thread waiting to take one back, if any.
fn pass_turn_to_returning(state: &mut State) -> bool {
    match state.returning.pop_front() {
        Some(next) => {
            next.granted.store(true, Ordering::Release);
            next.thread.unpark();
            true
        }
        None => false,
    }
}

/// Runs `work` without this thread's turn, if it holds one, and takes a turn back afterwards:
/// for work that waits (a lock, the network) or runs long, so that the queue keeps moving on
/// another thread meanwhile.
pub fn off_turn<T>(work: impl FnOnce() -> T) -> T {
    if !HELD.get() {
        return work();
    }
    {
        let mut state = lock();
        HELD.set(false);
        if !pass_turn_to_returning(&mut state) {
            if state.queue.is_empty() {
                state.free += 1;
            } else {
                start_runner(&mut state);
            }
        }
    }
    let value = work();
    take_turn_back();
    value
}

fn take_turn_back() {
    let returning = {
        let mut state = lock();
        if state.free > 0 && state.returning.is_empty() {
            state.free -= 1;
            HELD.set(true);
            return;
        }
        let returning = Arc::new(Returning {
            thread: std::thread::current(),
            granted: AtomicBool::new(false),
        });
        state.returning.push_back(returning.clone());
        returning
    };
    while !returning.granted.load(Ordering::Acquire) {
        std::thread::park();
    }
    HELD.set(true);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    fn on_runner<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
        let (sender, receiver) = mpsc::channel();
        spawn(move || {
            let _ = sender.send(work());
        });
        receiver.recv().unwrap()
    }

    #[test]
    fn jobs_run_in_turn_and_off_turn_work_lets_the_queue_move() {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        assert!(on_runner(|| HELD.get()), "a job runs holding a turn");

        // Jobs off their turn all run at once, more of them than there are turns: none waits
        // for another to finish.
        let together = cores + 2;
        let barrier = Arc::new(std::sync::Barrier::new(together));
        let (sender, receiver) = mpsc::channel();
        for _ in 0..together {
            let barrier = barrier.clone();
            let sender = sender.clone();
            spawn(move || {
                off_turn(|| {
                    assert!(!HELD.get());
                    barrier.wait();
                });
                let _ = sender.send(HELD.get());
            });
        }
        for _ in 0..together {
            assert!(
                receiver.recv().unwrap(),
                "the turn is taken back after off_turn"
            );
        }
        assert!(!HELD.get(), "the test's own thread holds none");
        assert_eq!(off_turn(|| 7), 7, "off_turn outside a runner just runs");
    }

    #[test]
    fn a_panicking_job_does_not_take_its_thread_or_turn_away() {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        for _ in 0..cores + 1 {
            spawn(|| panic!("on purpose"));
            spawn(|| off_turn(|| panic!("on purpose, off turn")));
        }
        assert_eq!(on_runner(|| 42), 42);
        assert!(on_runner(|| HELD.get()));
    }
}
