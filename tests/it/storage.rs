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
        // A conflict, naming no account: an id would tell a stranger about another user.
        assert!(
            matches!(
                err,
                panicless::error::AppError::Conflict {
                    existing_id: None,
                    ..
                }
            ),
            "{err:?}"
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

#[derive(QueryableByName, Debug, PartialEq)]
struct ForeignKey {
    #[diesel(sql_type = diesel::sql_types::Text)]
    table_name: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    column_name: String,
    /// Whether an index leads with the column.
    #[diesel(sql_type = diesel::sql_types::Bool)]
    indexed: bool,
}

/// Deleting a row looks up the rows that refer to it. Without an index leading with the
/// referring column, that is a scan of the referring table for every deleted row: purging 4,000
/// tokens out of 8,000 took 54 s on SQLite (each one's `parent_id` children), 0.5 s with one.
/// Every foreign key must lead an index, on both backends.
#[test]
fn every_foreign_key_leads_an_index() {
    for backend in backends() {
        let test_db = TestDb::new(backend);
        let pool = pool_for(&test_db);
        let mut conn = pool.get().unwrap();
        let keys: Vec<ForeignKey> = match &mut *conn {
            db::DbConn::Sqlite(c) => diesel::sql_query(
                "SELECT m.name AS table_name, f.\"from\" AS column_name, \
                 EXISTS (SELECT 1 FROM pragma_index_list(m.name) il \
                 JOIN pragma_index_info(il.name) ii WHERE ii.seqno = 0 AND ii.name = f.\"from\") AS indexed \
                 FROM sqlite_master m JOIN pragma_foreign_key_list(m.name) f WHERE m.type = 'table'",
            )
            .load(c)
            .unwrap(),
            db::DbConn::Pg(c) => diesel::sql_query(
                "SELECT k.conrelid::regclass::text AS table_name, a.attname::text AS column_name, \
                 EXISTS (SELECT 1 FROM pg_index i \
                 WHERE i.indrelid = k.conrelid AND i.indkey[0] = k.conkey[1]) AS indexed \
                 FROM pg_constraint k JOIN pg_attribute a \
                 ON a.attrelid = k.conrelid AND a.attnum = k.conkey[1] \
                 WHERE k.contype = 'f' AND k.connamespace = current_schema()::regnamespace",
            )
            .load(c)
            .unwrap(),
        };
        assert!(
            keys.len() > 15
                && keys
                    .iter()
                    .any(|k| (k.table_name.as_str(), k.column_name.as_str())
                        == ("oauth_tokens", "parent_id")),
            "{backend:?}: the query sees the schema's foreign keys: {keys:?}"
        );
        let unindexed: Vec<&ForeignKey> = keys.iter().filter(|k| !k.indexed).collect();
        assert_eq!(unindexed, Vec::<&ForeignKey>::new(), "{backend:?}");
    }
}

/// Migration 000800 rebuilds `oauth_tokens` on SQLite (to drop the UNIQUE on `jti`). A server
/// upgraded in place must keep every token as it was: ids, rotation chains, and an id sequence
/// that never hands out an id again.
#[test]
fn the_token_table_rebuild_keeps_every_token() {
    use diesel_migrations::MigrationHarness;
    let test_db = TestDb::new(Backend::Sqlite);
    let target = DatabaseTarget::parse(&test_db.url).unwrap();
    let pool = db::build_pool(&target, 2).unwrap();
    let mut conn = pool.get().unwrap();
    let db::DbConn::Sqlite(c) = &mut *conn else {
        panic!("an SQLite connection")
    };
    // The schema as it was before the rebuild.
    loop {
        let pending = c.pending_migrations(db::SQLITE_MIGRATIONS).unwrap();
        let next = pending.first().expect("migration 000800 exists");
        if next.name().to_string().contains("token_indexes") {
            break;
        }
        c.run_migration(next).unwrap();
    }
    diesel::connection::SimpleConnection::batch_execute(
        c,
        "INSERT INTO users (id, email, password_hash, is_admin, created_at, updated_at)
             VALUES (1, 'a@example.org', 'h', 1, '2026-12-01 00:00:00', '2026-12-01 00:00:00');
         INSERT INTO oauth_clients (id, client_id, client_name, redirect_uris, grant_types,
             response_types, token_endpoint_auth_method, scope, created_at)
             VALUES (1, 'c', 'Client', '[]', '[]', '[]', 'none', 'all', '2026-12-01 00:00:00');
         INSERT INTO oauth_tokens (id, kind, token_hash, jti, user_id, client_id, scope, grant_id,
             parent_id, issued_at, expires_at, rotated_at, replacement_sealed) VALUES
             (1, 'refresh', 'h1', NULL, 1, 1, 'all', 'g', NULL, '2026-12-01 00:00:00', '2026-12-31 00:00:00', '2026-12-01 00:10:00', 'sealed'),
             (2, 'access', 'h2', 'j2', 1, 1, 'all', 'g', 1, '2026-12-01 00:10:00', '2026-12-01 01:10:00', NULL, NULL),
             (3, 'refresh', 'h3', NULL, 1, 1, 'all', 'g', 1, '2026-12-01 00:10:00', '2026-12-31 00:10:00', NULL, NULL),
             (4, 'refresh', 'h4', NULL, 1, 1, 'all', 'g', 3, '2026-12-01 00:20:00', '2026-12-31 00:20:00', NULL, NULL);
         DELETE FROM oauth_tokens WHERE id = 4;",
    )
    .unwrap();
    let rows = |c: &mut diesel::SqliteConnection| -> Vec<TokenRow> {
        diesel::sql_query("SELECT id, token_hash, jti, parent_id, replacement_sealed FROM oauth_tokens ORDER BY id")
            .load(c)
            .unwrap()
    };
    let before = rows(c);
    assert_eq!(before.len(), 3);

    c.run_pending_migrations(db::SQLITE_MIGRATIONS).unwrap();
    assert_eq!(rows(c), before, "every token kept as it was");
    diesel::connection::SimpleConnection::batch_execute(
        c,
        "INSERT INTO oauth_tokens (kind, token_hash, user_id, client_id, scope, grant_id, issued_at, expires_at)
             VALUES ('refresh', 'h5', 1, 1, 'all', 'g', '2026-12-01 00:30:00', '2026-12-31 00:30:00');",
    )
    .unwrap();
    let newest = rows(c).last().unwrap().id;
    assert_eq!(newest, 5, "the deleted id 4 is not handed out again");
    // The chain still cascades: deleting a token clears the parent of those issued from it.
    diesel::sql_query("DELETE FROM oauth_tokens WHERE id = 1")
        .execute(c)
        .unwrap();
    let after = rows(c);
    assert!(after.iter().all(|r| r.parent_id.is_none()), "{after:?}");
    // The unique token hash is still enforced.
    assert!(diesel::sql_query(
        "INSERT INTO oauth_tokens (kind, token_hash, user_id, scope, grant_id, issued_at, expires_at)
             VALUES ('refresh', 'h3', 1, 'all', 'g', '2026-12-01 00:30:00', '2026-12-31 00:30:00')"
    )
    .execute(c)
    .is_err());
}

#[derive(QueryableByName, Debug, PartialEq)]
struct TokenRow {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    id: i64,
    #[diesel(sql_type = diesel::sql_types::Text)]
    token_hash: String,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    jti: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::BigInt>)]
    parent_id: Option<i64>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    replacement_sealed: Option<String>,
}

/// The reads of one `db::run` on SQLite share one read transaction (one state of the file, and
/// one round of WAL locks instead of one per statement); a write in it ends the snapshot, so
/// what the work reads after its own write sees it. PostgreSQL runs each statement on its own.
#[actix_web::test]
async fn a_runs_reads_share_one_state_and_see_its_own_writes() {
    for backend in backends() {
        let test_db = TestDb::new(backend);
        let pool = pool_for(&test_db);
        let other = pool.clone();
        let counts = db::run(&pool, move |conn| {
            let before = user::list(conn)?.len();
            // Another request commits a user meanwhile, on its own connection.
            std::thread::spawn(move || {
                let mut conn = other.get().unwrap();
                new_user(&mut conn, "meanwhile@example.org").unwrap();
            })
            .join()
            .unwrap();
            let during = user::list(conn)?.len();
            db::write_transaction(conn, |conn| new_user(conn, "own@example.org"))?;
            let after = user::list(conn)?.len();
            Ok((before, during, after))
        })
        .await
        .unwrap();
        let (before, during, after) = counts;
        match backend {
            Backend::Sqlite => assert_eq!(during, before, "one snapshot until the write"),
            Backend::Postgres => assert_eq!(during, before + 1, "statements on their own"),
        }
        assert_eq!(
            after,
            before + 2,
            "{backend:?}: its own write, and the other's"
        );
        // The connection went back to the pool without a transaction: a fresh run sees all.
        let seen = db::run(&pool, |conn| Ok(user::list(conn)?.len()))
            .await
            .unwrap();
        assert_eq!(seen, before + 2, "{backend:?}");
    }
}

/// A command whose reader has gone (`panicless user list | head -1`) ends quietly with success:
/// the work is done when it reports. It panicked ("failed printing to stdout") and exited 101.
#[test]
fn a_command_whose_reader_has_gone_ends_quietly() {
    let test_db = TestDb::new(Backend::Sqlite);
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_panicless"))
        .arg("migrate")
        .env_clear()
        .env("DATABASE_URL", &test_db.url)
        .env("RUST_LOG", "error")
        .current_dir(dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The reader goes before the command writes anything: its first line meets a closed pipe.
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{:?}: {stderr}", output.status);
    assert!(!stderr.contains("panicked"), "{stderr}");
    let mut conn = pool_for(&test_db).get().unwrap();
    assert!(
        db::migrations_current(&mut conn).unwrap(),
        "the work was done"
    );
}
