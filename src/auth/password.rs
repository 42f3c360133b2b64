//! Password rules and bcrypt hashing.
//!
//! bcrypt is slow on purpose: a hash at cost 12 takes about a third of a second of a core. It runs
//! on threads of its own, one per core, at the lowest CPU priority (nice 19 on Linux), behind a
//! semaphore with as many permits:
//! - a burst of logins queues at the semaphore, where a request that gives up stops waiting,
//!   instead of occupying the database's blocking threads;
//! - while a hash runs, any other request that needs the CPU gets it first: the scheduler gives a
//!   nice-19 thread what the others leave. Logins wait longer when the server is busy; API reads
//!   beside them do not (issue 8: reads during 8 logins a second).
//! - logins never pile up (issue 22): a check is admitted only while the checks already waiting
//!   could finish within the queue's budget (`PASSWORD_QUEUE_SECONDS`, 3 s by default), judged
//!   by the measured time of a hash and the number of threads. Past that, it is refused at once
//!   with `AppError::Busy` (503 and `Retry-After`) rather than answered after half a minute.

use crate::error::{AppError, AppResult};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::{oneshot, Semaphore};

pub const MIN_CHARS: usize = 8;
/// bcrypt ignores everything after 72 bytes; refusing longer passwords avoids a false sense of
/// security.
pub const MAX_BYTES: usize = 72;

pub fn validate(password: &str) -> Result<(), String> {
    if password.chars().count() < MIN_CHARS {
        return Err(format!(
            "the password must have at least {MIN_CHARS} characters"
        ));
    }
    if password.len() > MAX_BYTES {
        return Err(format!(
            "the password must be at most {MAX_BYTES} bytes long"
        ));
    }
    Ok(())
}

#[derive(Clone)]
pub struct PasswordHasher {
    cost: u32,
    /// One per hashing thread: a hash starts only when a thread is free for it.
    permits: Arc<Semaphore>,
    threads: Arc<HashingThreads>,
    /// A hash of a random password, verified against when the email is unknown so that a failed
    /// login takes as long whether or not the account exists.
    decoy: Arc<tokio::sync::OnceCell<String>>,
    admission: Arc<Admission>,
}

impl PasswordHasher {
    /// A hasher whose queue holds what can be hashed in `DEFAULT_PASSWORD_QUEUE_SECONDS`.
    pub fn new(cost: u32) -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self {
            cost,
            permits: Arc::new(Semaphore::new(cores)),
            threads: Arc::new(HashingThreads {
                count: cores,
                jobs: OnceLock::new(),
            }),
            decoy: Arc::new(tokio::sync::OnceCell::new()),
            admission: Arc::new(Admission::new(
                cores,
                cost,
                Duration::from_secs(crate::config::DEFAULT_PASSWORD_QUEUE_SECONDS),
                None,
            )),
        }
    }

    /// Sets the queue's budget: checks are admitted while those in flight could all finish
    /// within `budget`, or, with `fixed_limit`, while fewer than that many are in flight.
    pub fn queue(mut self, budget: Duration, fixed_limit: Option<usize>) -> Self {
        self.admission = Arc::new(Admission::new(
            self.threads.count,
            self.cost,
            budget,
            fixed_limit,
        ));
        self
    }

    /// Password checks admitted and not finished: waiting for a thread or hashing.
    pub fn in_flight(&self) -> usize {
        self.admission.in_flight.load(Ordering::Relaxed)
    }

    pub async fn hash(&self, password: String) -> AppResult<String> {
        let cost = self.cost;
        self.blocking(move || bcrypt::hash(password, cost).map_err(AppError::internal))
            .await
    }

    /// Checks `password` against `hash`, or against the decoy when there is no account.
    pub async fn verify(&self, password: String, hash: Option<String>) -> AppResult<bool> {
        let (hash, real) = match hash {
            Some(hash) => (hash, true),
            None => (self.decoy().await?, false),
        };
        let matches = self
            .blocking(move || Ok(bcrypt::verify(password, &hash).unwrap_or(false)))
            .await?;
        Ok(real && matches)
    }

    async fn decoy(&self) -> AppResult<String> {
        self.decoy
            .get_or_try_init(|| self.hash(crate::crypto::random_token(24)))
            .await
            .cloned()
    }

    /// Runs `work` on a hashing thread once one is free.
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> AppResult<T> + Send + 'static,
    ) -> AppResult<T> {
        // Refused before it waits: a check that could not finish in time is not queued at all.
        let ticket = self.admission.admit()?;
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| AppError::internal("password hasher closed"))?;
        let (reply, answer) = oneshot::channel();
        self.threads.send(Box::new(move || {
            // The request may have gone while the job waited: no hash for nobody.
            if !reply.is_closed() {
                let started = Instant::now();
                let result = work();
                ticket.finished(started.elapsed());
                // Out of the count before the answer: the caller's next check must find it gone.
                drop(ticket);
                let _ = reply.send(result);
            }
            // Otherwise the ticket leaves the count here, when the thread is free again, even
            // when the request stopped waiting earlier.
        }))?;
        answer
            .await
            .map_err(|_| AppError::internal("a password hashing thread stopped"))?
    }
}

/// The bounded queue in front of the hashing threads: how many checks are in flight, and how
/// long one takes (a moving average of the measured wall time, which includes the time the
/// nice-19 threads lose to other work: what a waiting check actually waits).
struct Admission {
    in_flight: AtomicUsize,
    threads: usize,
    budget: Duration,
    fixed_limit: Option<usize>,
    hash_micros: AtomicU64,
}

impl Admission {
    fn new(threads: usize, cost: u32, budget: Duration, fixed_limit: Option<usize>) -> Self {
        Admission {
            in_flight: AtomicUsize::new(0),
            threads: threads.max(1),
            budget,
            fixed_limit,
            hash_micros: AtomicU64::new(estimated_hash_micros(cost)),
        }
    }

    /// How many checks may be in flight: enough to keep every thread busy, and no more than can
    /// finish within the budget.
    fn limit(&self) -> usize {
        if let Some(limit) = self.fixed_limit {
            return limit.max(1);
        }
        let hash = self.hash_micros.load(Ordering::Relaxed).max(1);
        let budget = u64::try_from(self.budget.as_micros()).unwrap_or(u64::MAX);
        let fits = budget.saturating_mul(self.threads as u64) / hash;
        usize::try_from(fits)
            .unwrap_or(usize::MAX)
            .max(self.threads)
    }

    fn admit(self: &Arc<Self>) -> AppResult<Ticket> {
        let limit = self.limit();
        let mut current = self.in_flight.load(Ordering::Relaxed);
        loop {
            if current >= limit {
                return Err(AppError::Busy {
                    retry_after_secs: self.drain_seconds(current),
                });
            }
            match self.in_flight.compare_exchange_weak(
                current,
                current + 1,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Ok(Ticket(self.clone())),
                Err(now) => current = now,
            }
        }
    }

    /// Seconds until `queued` checks are done: what `Retry-After` says (1 to 60).
    fn drain_seconds(&self, queued: usize) -> u64 {
        let hash = self.hash_micros.load(Ordering::Relaxed);
        let micros = (queued as u64).saturating_mul(hash) / self.threads as u64;
        micros.div_ceil(1_000_000).clamp(1, 60)
    }
}

/// bcrypt's time before any is measured: about 0.3 s at cost 12 on one core, doubling with
/// each step of the cost.
fn estimated_hash_micros(cost: u32) -> u64 {
    (300_000u64 << cost.min(31)) >> 12
}

/// One admitted check; it leaves the count when dropped.
struct Ticket(Arc<Admission>);

impl Ticket {
    fn finished(&self, took: Duration) {
        let sample = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        let average = self.0.hash_micros.load(Ordering::Relaxed);
        // A quarter of each new measurement: one slow hash does not close the door.
        let next = average - average / 4 + sample / 4;
        self.0.hash_micros.store(next.max(1), Ordering::Relaxed);
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

type Job = Box<dyn FnOnce() + Send>;

/// The hashing threads, started by the first hash (a command-line run that hashes nothing starts
/// none). They end when the last `PasswordHasher` clone is dropped and the channel closes.
struct HashingThreads {
    count: usize,
    jobs: OnceLock<mpsc::Sender<Job>>,
}

impl HashingThreads {
    fn send(&self, job: Job) -> AppResult<()> {
        let jobs = self.jobs.get_or_init(|| {
            let (sender, receiver) = mpsc::channel::<Job>();
            let receiver = Arc::new(Mutex::new(receiver));
            for n in 0..self.count {
                let receiver = receiver.clone();
                let spawned = std::thread::Builder::new()
                    .name(format!("password-hash-{n}"))
                    .spawn(move || hashing_thread(&receiver));
                if let Err(error) = spawned {
                    log::error!("cannot start a password hashing thread: {error}");
                }
            }
            sender
        });
        jobs.send(job)
            .map_err(|_| AppError::internal("no password hashing thread is running"))
    }
}

fn hashing_thread(jobs: &Mutex<mpsc::Receiver<Job>>) {
    crate::threads::password_hashing();
    loop {
        let job = match jobs.lock() {
            Ok(receiver) => receiver.recv(),
            Err(poisoned) => poisoned.into_inner().recv(),
        };
        let Ok(job) = job else { return };
        // A panic ends that one job (its request gets a 500), not the thread.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn hashes_run_on_threads_at_the_lowest_priority() {
        let hasher = PasswordHasher::new(4);
        let (_, nice) = hasher
            .blocking(|| Ok(crate::threads::tests::scheduling()))
            .await
            .unwrap();
        assert_eq!(nice, 19);
        let hash = hasher.hash("a password".into()).await.unwrap();
        assert!(hasher
            .verify("a password".into(), Some(hash.clone()))
            .await
            .unwrap());
        assert!(!hasher
            .verify("another one".into(), Some(hash))
            .await
            .unwrap());
    }

    #[test]
    fn the_queue_holds_what_can_be_hashed_within_the_budget() {
        // Cost 12 is estimated at 0.3 s a hash until one is measured.
        let one = Admission::new(1, 12, Duration::from_secs(3), None);
        assert_eq!(one.limit(), 10);
        let two = Admission::new(2, 12, Duration::from_secs(3), None);
        assert_eq!(two.limit(), 20);
        // Never fewer than the threads: a free thread is never kept idle.
        let none = Admission::new(4, 12, Duration::ZERO, None);
        assert_eq!(none.limit(), 4);
        let fixed = Admission::new(2, 12, Duration::from_secs(3), Some(3));
        assert_eq!(fixed.limit(), 3);
        // A faster machine measures shorter hashes and lets more wait.
        let measured = Admission::new(1, 12, Duration::from_secs(3), None);
        measured.hash_micros.store(100_000, Ordering::Relaxed);
        assert_eq!(measured.limit(), 30);
    }

    #[test]
    fn past_the_limit_a_check_is_refused_with_the_time_to_drain() {
        let admission = Arc::new(Admission::new(1, 12, Duration::from_secs(3), Some(2)));
        let first = admission.admit().unwrap();
        let _second = admission.admit().unwrap();
        match admission.admit() {
            // Two checks of 0.3 s each on one thread: 0.6 s, said as 1.
            Err(AppError::Busy { retry_after_secs }) => assert_eq!(retry_after_secs, 1),
            other => panic!("expected Busy, got {:?}", other.map(|_| ())),
        }
        assert_eq!(admission.in_flight.load(Ordering::Relaxed), 2);
        drop(first);
        assert_eq!(admission.in_flight.load(Ordering::Relaxed), 1);
        let _third = admission.admit().unwrap();

        let slow = Arc::new(Admission::new(1, 16, Duration::from_secs(3), Some(1)));
        let _only = slow.admit().unwrap();
        match slow.admit() {
            // One hash of about 4.8 s at cost 16.
            Err(AppError::Busy { retry_after_secs }) => assert_eq!(retry_after_secs, 5),
            other => panic!("expected Busy, got {:?}", other.map(|_| ())),
        }
    }

    #[test]
    fn measured_hashes_move_the_estimate() {
        let admission = Arc::new(Admission::new(1, 12, Duration::from_secs(3), None));
        let ticket = admission.admit().unwrap();
        for _ in 0..40 {
            ticket.finished(Duration::from_millis(100));
        }
        let micros = admission.hash_micros.load(Ordering::Relaxed);
        assert!((99_000..=101_000).contains(&micros), "{micros}");
        // 3 s of 0.1 s hashes, give or take the average's rounding.
        assert!(
            (29..=30).contains(&admission.limit()),
            "{}",
            admission.limit()
        );
    }

    #[test]
    fn length_rules() {
        assert!(validate("short").is_err());
        assert!(validate("long enough").is_ok());
        assert!(validate("ééééééé").is_err(), "7 characters, 14 bytes");
        assert!(validate(&"x".repeat(72)).is_ok());
        assert!(validate(&"x".repeat(73)).is_err());
    }
}
