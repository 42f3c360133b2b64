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

use crate::error::{AppError, AppResult};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
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
}

impl PasswordHasher {
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
        }
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
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| AppError::internal("password hasher closed"))?;
        let (reply, answer) = oneshot::channel();
        self.threads.send(Box::new(move || {
            // The request may have gone while the job waited: no hash for nobody.
            if !reply.is_closed() {
                let _ = reply.send(work());
            }
        }))?;
        answer
            .await
            .map_err(|_| AppError::internal("a password hashing thread stopped"))?
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
    fn length_rules() {
        assert!(validate("short").is_err());
        assert!(validate("long enough").is_ok());
        assert!(validate("ééééééé").is_err(), "7 characters, 14 bytes");
        assert!(validate(&"x".repeat(72)).is_ok());
        assert!(validate(&"x".repeat(73)).is_err());
    }
}
