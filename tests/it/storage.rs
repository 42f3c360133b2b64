//! The storage layer on each backend: migrations, constraints, cascades, transactions.

use crate::common::{backends, Backend, TestDb};
use diesel::prelude::*;
use panicless::db::models::{now, user};
use panicless::db::schema::{books, users};
use panicless::db::{self, DatabaseTarget};

fn pool_for(test_db: &TestDb) -> db::Pool {
    let target = DatabaseTarget::parse(&test_db.url).unwrap();
    let pool = db::build_pool(&target, 4).unwrap();
    db::run_migrations(&mut pool.get().unwrap()).unwrap();
    pool
}

/// A user with a placeholder hash, admin if first: what these tests need of an account.
fn new_user(conn: &mut db::DbConn, email: &str) -> panicless::error::AppResult<user::User> {
    user::create(
        conn,
        email,
        "h",
        None,
        user::AdminPolicy::FirstUserOnly,
        now(),
    )
}

#[test]
fn migrations_apply_once_and_are_current() {
    for backend in backends() {
        let test_db = TestDb::new(backend);
        let pool = pool_for(&test_db);
        let mut conn = pool.get().unwrap();
        assert_eq!(
            db::run_migrations(&mut conn).unwrap(),
            0,
            "{backend:?}: nothing left to apply"
        );
        assert!(db::migrations_current(&mut conn).unwrap());
        assert_eq!(
            conn.backend() == db::Backend::Postgres,
            backend == Backend::Postgres
        );
    }
}

#[test]
fn emails_are_unique_case_insensitively_and_users_cascade() {
    for backend in backends() {
        let test_db = TestDb::new(backend);
        let pool = pool_for(&test_db);
        let mut conn = pool.get().unwrap();
        let first = new_user(&mut conn, "Ann@Example.org").unwrap();
        assert!(first.is_admin, "first user is admin");
        assert_eq!(first.email, "ann@example.org");
        let err = new_user(&mut conn, "ANN@example.org").unwrap_err();
        assert!(
            matches!(err, panicless::error::AppError::Conflict { existing_id: Some(id), .. } if id == first.id)
        );
        // Even a raw insert that bypasses the model is stopped by the index on lower(email).
        let raw = diesel::insert_into(users::table)
            .values((
                users::email.eq("ANN@EXAMPLE.ORG"),
                users::password_hash.eq("h"),
                users::is_admin.eq(false),
                users::created_at.eq(now()),
                users::updated_at.eq(now()),
            ))
            .execute(&mut conn);
        assert!(raw.is_err(), "{backend:?}");

        // A child row goes with its user.
        diesel::insert_into(books::table)
            .values((
                books::user_id.eq(first.id),
                books::title.eq("Piranesi"),
                books::created_at.eq(now()),
                books::updated_at.eq(now()),
            ))
            .execute(&mut conn)
            .unwrap();
        diesel::delete(users::table.find(first.id))
            .execute(&mut conn)
            .unwrap();
        let left: i64 = books::table.count().get_result(&mut conn).unwrap();
        assert_eq!(left, 0, "{backend:?}: books cascade with their user");
    }
}

#[test]
fn a_failed_write_transaction_leaves_nothing_behind() {
    for backend in backends() {
        let test_db = TestDb::new(backend);
        let pool = pool_for(&test_db);
        let mut conn = pool.get().unwrap();
        let result: Result<(), panicless::error::AppError> =
            db::write_transaction(&mut conn, |conn| {
                new_user(conn, "half@example.org")?;
                Err(panicless::error::AppError::BadRequest("stop".into()))
            });
        assert!(result.is_err());
        assert!(
            user::find_by_email(&mut conn, "half@example.org")
                .unwrap()
                .is_none(),
            "{backend:?}"
        );
    }
}

#[test]
fn concurrent_sqlite_writers_wait_instead_of_failing() {
    let test_db = TestDb::new(Backend::Sqlite);
    let pool = pool_for(&test_db);
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let pool = pool.clone();
            std::thread::spawn(move || {
                let mut conn = pool.get().unwrap();
                for j in 0..10 {
                    let email = format!("w{i}-{j}@example.org");
                    // Read, then write, in one transaction: the pattern that fails with a
                    // deferred BEGIN under contention.
                    new_user(&mut conn, &email).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let mut conn = pool.get().unwrap();
    assert_eq!(user::list(&mut conn).unwrap().len(), 80);
}

#[test]
fn unknown_database_schemes_are_refused_not_turned_into_files() {
    let config = crate::common::test_config(
        "postgress://user:pw@localhost/db",
        "http://127.0.0.1:1",
        &[],
    );
    let error = panicless::state::AppState::init(config).err().unwrap();
    assert!(error.contains("DATABASE_URL must start with"), "{error}");
    assert!(!error.contains("pw"), "no password in the message: {error}");
}

#[test]
fn write_transactions_nest_as_savepoints() {
    for backend in backends() {
        let test_db = TestDb::new(backend);
        let pool = pool_for(&test_db);
        let mut conn = pool.get().unwrap();
        let outcome: Result<(), panicless::error::AppError> =
            db::write_transaction(&mut conn, |conn| {
                new_user(conn, "outer@example.org")?;
                // The inner one fails and rolls back alone.
                let inner: Result<(), panicless::error::AppError> =
                    db::write_transaction(conn, |conn| {
                        new_user(conn, "inner@example.org")?;
                        Err(panicless::error::AppError::BadRequest("inner".into()))
                    });
                assert!(inner.is_err());
                Ok(())
            });
        outcome.unwrap();
        assert!(
            user::find_by_email(&mut conn, "outer@example.org")
                .unwrap()
                .is_some(),
            "{backend:?}"
        );
        assert!(
            user::find_by_email(&mut conn, "inner@example.org")
                .unwrap()
                .is_none(),
            "{backend:?}"
        );
    }
}

/// Issue 3: `panicless user list` on PostgreSQL used to die with SIGSEGV at exit about once in
/// 40 runs, when the pool was still opening a spare connection in the background as the process
/// tore down libpq's TLS state. Every run must exit 0, with its output.
#[test]
fn command_line_runs_exit_cleanly_many_times() {
    const RUNS: usize = 120;
    for backend in backends() {
        let test_db = TestDb::new(backend);
        let dir = tempfile::tempdir().unwrap();
        let command = || {
            let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_panicless"));
            command
                .env_clear()
                .env("DATABASE_URL", &test_db.url)
                .env("RUST_LOG", "error")
                .current_dir(dir.path());
            command
        };
        let migrate = command().arg("migrate").output().unwrap();
        assert!(migrate.status.success(), "{backend:?}: {migrate:?}");
        // Four at a time: the crash depended on timing, not on load, and this keeps it quick.
        let failures: Vec<String> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..4)
                .map(|_| {
                    scope.spawn(|| {
                        (0..RUNS / 4)
                            .filter_map(|_| {
                                let output = command().args(["user", "list"]).output().unwrap();
                                (!output.status.success()
                                    || !String::from_utf8_lossy(&output.stdout).contains("email"))
                                .then(|| format!("{:?}", output.status))
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            workers
                .into_iter()
                .flat_map(|worker| worker.join().unwrap())
                .collect()
        });
        assert!(
            failures.is_empty(),
            "{backend:?}: {} of {RUNS} runs failed: {failures:?}",
            failures.len()
        );
    }
}

/// The bundled SQLite is built with the query planner stability guarantee
/// (`.cargo/config.toml`). Without it SQLite compiles a cached statement again each time a value
/// is bound to its `LIMIT ?`, which was half the work of a `GET /api/books` (bench/README.md).
#[test]
fn sqlite_reuses_plans_whatever_values_are_bound() {
    let test_db = TestDb::new(Backend::Sqlite);
    let pool = pool_for(&test_db);
    let mut conn = pool.get().unwrap();
    let used: i32 = diesel::select(diesel::dsl::sql::<diesel::sql_types::Integer>(
        "sqlite_compileoption_used('ENABLE_QPSG')",
    ))
    .get_result(&mut conn)
    .unwrap();
    assert_eq!(
        used, 1,
        "SQLITE_ENABLE_QPSG is missing from the SQLite build"
    );
    // Multi-thread mode: no mutex per connection (each is used by one thread at a time).
    let mode: i32 = diesel::select(diesel::dsl::sql::<diesel::sql_types::Integer>(
        "sqlite_compileoption_used('THREADSAFE=2')",
    ))
    .get_result(&mut conn)
    .unwrap();
    assert_eq!(mode, 1, "SQLite is not built in multi-thread mode");
}

/// `db::optimize` gives SQLite's planner statistics (and is harmless on PostgreSQL): without
/// them, listing one book's readings read every reading of the user.
#[test]
fn optimize_records_table_statistics() {
    for backend in backends() {
        let test_db = TestDb::new(backend);
        let pool = pool_for(&test_db);
        let mut conn = pool.get().unwrap();
        let user = new_user(&mut conn, "stats@example.org").unwrap();
        for n in 0..50 {
            diesel::insert_into(books::table)
                .values((
                    books::user_id.eq(user.id),
                    books::title.eq(format!("Book {n}")),
                    books::created_at.eq(now()),
                    books::updated_at.eq(now()),
                ))
                .execute(&mut conn)
                .unwrap();
        }
        db::optimize(&mut conn).unwrap();
        if backend == Backend::Sqlite {
            let rows: i64 = diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
                "(SELECT COUNT(*) FROM sqlite_stat1 WHERE tbl = 'books')",
            ))
            .get_result(&mut conn)
            .unwrap();
            assert!(rows > 0, "no statistics for books");
        }
    }
}
