//! Storage: one Diesel connection type over SQLite and PostgreSQL, an r2d2 pool, embedded
//! migrations, and the helpers that keep blocking database work off the async workers.
//!
//! Every write runs on a [`Writer`], which only [`write_transaction`] hands out: on SQLite, the
//! file's one writer connection. A pooled connection reads.

pub mod models;
pub mod schema;
pub(crate) mod time;
pub(crate) mod turns;

use crate::error::{AppError, AppResult};
use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::pg::PgConnection;
use diesel::sqlite::SqliteConnection;
use diesel::Connection;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// A connection to either backend. Queries written against `DbConn` run on both.
#[derive(diesel::MultiConnection)]
pub enum DbConn {
    Pg(PgConnection),
    Sqlite(SqliteConnection),
}

/// Runs a query on the backend's own connection rather than through [`DbConn`].
///
/// diesel's MultiConnection renders a query's SQL text on every execution, even when its
/// prepared statement is cached: that was a quarter of a refresh grant's instructions and a
/// tenth of a page of books (bench/README.md). The backend's own connection finds a static
/// query's statement by the query's type and renders nothing. The body is compiled once for each
/// backend, so it must be a query both accept, as every query written for `DbConn` is.
///
/// ```ignore
/// let name: String = on_backend!(conn, c => users::table.find(id).select(users::email).first(c))?;
/// ```
#[macro_export]
macro_rules! on_backend {
    ($conn:expr, $c:ident => $body:expr) => {
        match $conn {
            $crate::db::DbConn::Sqlite($c) => $body,
            $crate::db::DbConn::Pg($c) => $body,
        }
    };
}
pub use on_backend;

/// The connection pool, and the backend it connects to: `run` sends SQLite and PostgreSQL work
/// to different threads. Everything else is r2d2's pool, through `Deref`.
#[derive(Clone)]
pub struct Pool {
    connections: r2d2::Pool<ConnectionManager>,
    backend: Backend,
}

impl std::ops::Deref for Pool {
    type Target = r2d2::Pool<ConnectionManager>;
    fn deref(&self) -> &Self::Target {
        &self.connections
    }
}

impl Pool {
    /// A pool built by hand (tests give one a short timeout); `build_pool` is the usual way.
    pub fn new(connections: r2d2::Pool<ConnectionManager>, backend: Backend) -> Pool {
        Pool {
            connections,
            backend,
        }
    }
}

pub type PooledConn = r2d2::PooledConnection<ConnectionManager>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

/// Where to connect, decided once from the URL scheme. An unknown scheme is an error: a
/// mistyped PostgreSQL URL must never silently become a new, empty SQLite file.
#[derive(Clone)]
pub struct DatabaseTarget {
    pub backend: Backend,
    /// What the driver receives: the PostgreSQL URL, or the SQLite path / `file:` URI.
    connect: String,
}

impl std::fmt::Debug for DatabaseTarget {
    // The PostgreSQL URL may carry a password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseTarget")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

impl DatabaseTarget {
    pub fn parse(url: &str) -> Result<Self, String> {
        let url = url.trim();
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(DatabaseTarget {
                backend: Backend::Postgres,
                connect: url.to_string(),
            });
        }
        let path = if let Some(rest) = url.strip_prefix("sqlite://") {
            rest
        } else if let Some(rest) = url.strip_prefix("sqlite:") {
            rest
        } else if url.starts_with("file:") {
            url
        } else {
            return Err(format!(
                "DATABASE_URL must start with sqlite://, postgres:// or postgresql:// (got `{}`)",
                redact(url)
            ));
        };
        if path.is_empty() {
            return Err("DATABASE_URL names no SQLite file (try sqlite://panicless.db)".into());
        }
        Ok(DatabaseTarget {
            backend: Backend::Sqlite,
            connect: path.to_string(),
        })
    }

    /// A description safe to print: no password.
    pub fn display(&self) -> String {
        match self.backend {
            Backend::Sqlite => format!("SQLite file {}", self.connect),
            Backend::Postgres => format!("PostgreSQL {}", redact(&self.connect)),
        }
    }
}

/// Hides the password of `scheme://user:password@host/...`.
fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_string(),
    }
}

/// The r2d2 manager: opens the backend named by the URL and prepares each SQLite connection.
#[derive(Debug, Clone)]
pub struct ConnectionManager {
    target: DatabaseTarget,
}

impl ConnectionManager {
    pub fn new(target: DatabaseTarget) -> Self {
        Self { target }
    }

    pub fn connect(&self) -> Result<DbConn, diesel::ConnectionError> {
        match self.target.backend {
            Backend::Postgres => PgConnection::establish(&self.target.connect).map(DbConn::Pg),
            Backend::Sqlite => open_sqlite(&self.target.connect).map(DbConn::Sqlite),
        }
    }
}

/// Opens an SQLite file the way every connection to it is set up.
fn open_sqlite(path: &str) -> Result<SqliteConnection, diesel::ConnectionError> {
    let mut conn = SqliteConnection::establish(path)?;
    // WAL lets readers run beside the writer; busy_timeout makes writers wait for each other
    // instead of failing; foreign keys are off by default in SQLite. No memory map: measured
    // with bench/run.sh, it saved nothing on reads, cost remaps on writes, and its pages counted
    // in the resident memory.
    conn.batch_execute(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = NORMAL;
         PRAGMA foreign_keys = ON;
         PRAGMA busy_timeout = 5000;",
    )
    .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
    Ok(conn)
}

impl r2d2::ManageConnection for ConnectionManager {
    type Connection = DbConn;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<DbConn, Self::Error> {
        ConnectionManager::connect(self).map_err(diesel::r2d2::Error::ConnectionError)
    }

    fn is_valid(&self, conn: &mut DbConn) -> Result<(), Self::Error> {
        conn.batch_execute("SELECT 1")
            .map_err(diesel::r2d2::Error::QueryError)
    }

    fn has_broken(&self, _conn: &mut DbConn) -> bool {
        false
    }
}

impl DbConn {
    pub fn backend(&self) -> Backend {
        match self {
            DbConn::Pg(_) => Backend::Postgres,
            DbConn::Sqlite(_) => Backend::Sqlite,
        }
    }
}

/// Builds the pool. Checkouts wait at most `checkout_timeout`, so an exhausted pool or a database
/// that is down answers 503 instead of hanging.
///
/// `min_idle` is 0: r2d2 opens connections on its own threads, and a pool that keeps idle
/// connections topped up starts a new one in the background after every checkout. A command-line
/// run that exits while such a connection is in its TLS handshake crashed inside libpq's OpenSSL
/// teardown (issue 3). With 0, a connection is only ever opened for a caller that waits for it,
/// so no database work is in flight once the caller is done; connections are still kept and
/// reused, and closed after ten idle minutes.
pub fn build_pool(target: &DatabaseTarget, size: u32) -> Result<Pool, String> {
    let connections = r2d2::Pool::builder()
        .max_size(size.max(1))
        .min_idle(Some(0))
        .connection_timeout(Duration::from_secs(5))
        // A PostgreSQL connection can die under us (the server restarted, a proxy dropped it);
        // diesel cannot tell r2d2 so when it goes back to the pool. A `SELECT 1` at checkout
        // replaces a dead one with a fresh one, so the server recovers by itself once the
        // database is back. A SQLite file does not go away.
        .test_on_check_out(target.backend == Backend::Postgres)
        .build(ConnectionManager::new(target.clone()))
        .map_err(|e| format!("cannot open {}: {e}", target.display()))?;
    Ok(Pool {
        connections,
        backend: target.backend,
    })
}

/// Runs the pending migrations of the backend, under the start-up lock.
pub fn run_migrations(conn: &mut DbConn) -> Result<usize, String> {
    with_startup_lock(conn, apply_migrations)
}

/// Runs `work` while holding the start-up advisory lock on PostgreSQL, so that instances starting
/// together take turns: migrations, and the rows every instance ensures at start (the static
/// client, the key canary), are written by one at a time instead of racing into a unique
/// constraint. SQLite needs no lock: a file serves one machine, and its writes serialise anyway.
pub fn with_startup_lock<T>(
    conn: &mut DbConn,
    work: impl FnOnce(&mut DbConn) -> Result<T, String>,
) -> Result<T, String> {
    let key = locks::MIGRATIONS;
    if conn.backend() == Backend::Sqlite {
        return work(conn);
    }
    conn.batch_execute(&format!("SELECT pg_advisory_lock({key})"))
        .map_err(|e| format!("cannot take the start-up lock: {e}"))?;
    let result = work(conn);
    // Session-level lock: released here, or by the server when the connection ends.
    let _ = conn.batch_execute(&format!("SELECT pg_advisory_unlock({key})"));
    result
}

/// Applies pending migrations; the caller holds the start-up lock.
pub fn apply_migrations(conn: &mut DbConn) -> Result<usize, String> {
    let applied = match conn {
        DbConn::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS).map(|a| a.len()),
        DbConn::Pg(c) => c
            .run_pending_migrations(POSTGRES_MIGRATIONS)
            .map(|a| a.len()),
    };
    applied.map_err(|e| format!("migrations failed: {e}"))
}

/// Advisory-lock keys: one per piece of work that must run on one instance at a time.
pub mod locks {
    pub const MIGRATIONS: i64 = 0x7061_6e69_636c_6573; // "panicles"
    pub const PURGE: i64 = 0x7061_6e69_6370_7567; // "panicpug"
}

/// Takes the advisory lock `key` for the rest of the current transaction without waiting, and
/// says whether it was free. On PostgreSQL several instances share the database and this decides
/// which one does the work; the lock ends with the transaction, so a crashed holder frees it. On
/// SQLite the write transaction already excludes every other writer, so the answer is yes.
pub fn try_transaction_lock(conn: &mut DbConn, key: i64) -> diesel::QueryResult<bool> {
    #[derive(diesel::QueryableByName)]
    struct Locked {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        locked: bool,
    }
    match conn {
        DbConn::Sqlite(_) => Ok(true),
        DbConn::Pg(c) => {
            use diesel::RunQueryDsl;
            diesel::sql_query("SELECT pg_try_advisory_xact_lock($1) AS locked")
                .bind::<diesel::sql_types::BigInt, _>(key)
                .get_result::<Locked>(c)
                .map(|row| row.locked)
        }
    }
}

/// Whether every embedded migration has been applied.
pub fn migrations_current(conn: &mut DbConn) -> Result<bool, String> {
    let pending = match conn {
        DbConn::Sqlite(c) => c.has_pending_migration(SQLITE_MIGRATIONS),
        DbConn::Pg(c) => c.has_pending_migration(POSTGRES_MIGRATIONS),
    };
    pending.map(|p| !p).map_err(|e| e.to_string())
}

/// Runs blocking database work off the async workers. The connection is checked out there
/// too, so waiting for one blocks no worker either.
/// - SQLite work is CPU work (its pages are in memory): it runs on the database threads, in its
///   turn at the CPU (`turns`).
/// - PostgreSQL work waits on the network: it runs on actix's blocking pool, a thread for each
///   connection of the pool.
pub async fn run<T, F>(pool: &Pool, work: F) -> AppResult<T>
where
    F: FnOnce(&mut DbConn) -> AppResult<T> + Send + 'static,
    T: Send + 'static,
{
    let pool = pool.clone();
    if pool.backend == Backend::Postgres {
        return actix_web::web::block(move || {
            let mut conn = pool.get()?;
            work(&mut conn)
        })
        .await?;
    }
    let (reply, answer) = tokio::sync::oneshot::channel();
    turns::spawn(move || {
        let result = checkout(&pool).and_then(|mut conn| work(ReadSnapshot::begin(&mut conn).conn));
        let _ = reply.send(result);
    });
    answer
        .await
        .map_err(|_| AppError::internal("database work ended without an answer"))?
}

thread_local! {
    /// The SQLite connection (its address) whose read snapshot this thread opened in `run`, or 0.
    static READ_SNAPSHOT: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

fn address(conn: &SqliteConnection) -> usize {
    conn as *const SqliteConnection as usize
}

/// The reads of one `run` on SQLite share one read transaction. Each statement outside a
/// transaction is a transaction of its own, and SQLite takes and drops its WAL read lock with
/// `fcntl` system calls for each: a request that reads three rows (the token, the client, the
/// user) made three rounds of them, 18% of an introspection's CPU in perf (bench/README.md,
/// 2026-12-05, 00:30). The reads also see one consistent state of the file. A write ends the
/// snapshot first (`write_transaction`): it runs on the writer's own connection, and what the
/// work reads after it must see it, as it did before this.
struct ReadSnapshot<'a> {
    conn: &'a mut DbConn,
}

/// `BEGIN` and `COMMIT` as statements diesel prepares once per connection and keeps (its
/// statement cache takes a query with a static id); through `batch_execute` each was compiled
/// afresh, 5% of an introspection.
macro_rules! snapshot_statement {
    ($name:ident, $sql:literal) => {
        #[derive(Clone, Copy)]
        struct $name;
        impl diesel::query_builder::QueryId for $name {
            type QueryId = $name;
            const HAS_STATIC_QUERY_ID: bool = true;
        }
        impl diesel::query_builder::QueryFragment<diesel::sqlite::Sqlite> for $name {
            fn walk_ast<'b>(
                &'b self,
                mut out: diesel::query_builder::AstPass<'_, 'b, diesel::sqlite::Sqlite>,
            ) -> diesel::QueryResult<()> {
                out.push_sql($sql);
                Ok(())
            }
        }
        impl diesel::RunQueryDsl<SqliteConnection> for $name {}
    };
}
snapshot_statement!(Begin, "BEGIN");
snapshot_statement!(Commit, "COMMIT");

impl<'a> ReadSnapshot<'a> {
    fn begin(conn: &'a mut DbConn) -> Self {
        use diesel::RunQueryDsl;
        if let DbConn::Sqlite(c) = conn {
            // Deferred: nothing is locked until the first read.
            if !in_transaction(c) && Begin.execute(c).is_ok() {
                READ_SNAPSHOT.with(|open| open.set(address(c)));
            }
        }
        ReadSnapshot { conn }
    }
}

impl Drop for ReadSnapshot<'_> {
    // Also when the work panicked: the connection goes back to the pool without a transaction.
    fn drop(&mut self) {
        end_read_snapshot(self.conn);
    }
}

/// Ends the read snapshot `run` opened on this connection, if it is still open.
fn end_read_snapshot(conn: &mut DbConn) {
    let DbConn::Sqlite(c) = conn else { return };
    if READ_SNAPSHOT.with(|open| open.get()) != address(c) {
        return;
    }
    READ_SNAPSHOT.with(|open| open.set(0));
    if let Err(error) = diesel::RunQueryDsl::execute(Commit, c) {
        log::error!("ending a read transaction failed: {error}");
        let _ = c.batch_execute("ROLLBACK");
    }
}

/// `run` for work that takes long (an import, an export of the whole library, recommendations
/// drawn from it): it runs off the CPU turn, so other requests are not held up behind it.
pub async fn run_long<T, F>(pool: &Pool, work: F) -> AppResult<T>
where
    F: FnOnce(&mut DbConn) -> AppResult<T> + Send + 'static,
    T: Send + 'static,
{
    // Without the read snapshot: a long read would hold the WAL from being checkpointed.
    run(pool, move |conn| {
        end_read_snapshot(conn);
        turns::off_turn(|| work(conn))
    })
    .await
}

/// A connection from the pool. One that is not free at once is waited for off the CPU turn.
fn checkout(pool: &Pool) -> AppResult<PooledConn> {
    match pool.try_get() {
        Some(conn) => Ok(conn),
        None => Ok(turns::off_turn(|| pool.get())?),
    }
}

/// The connection of a write transaction, as [`write_transaction`] hands it to its work; nothing
/// else can make one. Every statement that writes (INSERT, UPDATE, DELETE) runs on a `Writer`, so
/// on SQLite it runs on the file's one writer: a function that writes takes `&mut Writer<'_>`
/// (or opens its own `write_transaction`), and calling it with a pooled connection does not
/// compile. Reads inside a write use it as the `DbConn` it derefs to; diesel's statements take
/// that connection as `&mut **writer`. (diesel itself accepts any connection: what the compiler
/// holds is the signatures, so a new write goes in a function that takes a `Writer`.)
pub struct Writer<'a> {
    conn: &'a mut DbConn,
}

impl std::ops::Deref for Writer<'_> {
    type Target = DbConn;
    fn deref(&self) -> &DbConn {
        self.conn
    }
}

impl std::ops::DerefMut for Writer<'_> {
    fn deref_mut(&mut self) -> &mut DbConn {
        self.conn
    }
}

/// A write transaction. On SQLite it starts with `BEGIN IMMEDIATE`, taking the write lock up
/// front: a deferred transaction that reads and then writes can fail with "database is locked"
/// when another writer committed in between, without waiting for the busy timeout.
///
/// On SQLite, the writes of one file in this process also go through one connection, the
/// file's writer, which they take in turns:
/// - a writer that finds the file locked waits in SQLite's busy handler, which sleeps in steps
///   of up to 100 ms, so under contention the lock sat free while waiters slept. A mutex hands
///   the turn over at once;
/// - a connection drops its whole page cache when another connection has written since its last
///   transaction, so writes spread over the pool re-read every page they touched. The writer's
///   cache stays valid from one write to the next.
///
/// What each cost is in bench/README.md ("Design notes moved from the code").
///
/// `work` gets the [`Writer`] of the connection the transaction runs on. Inside a transaction
/// already (a `Writer` passed where a `&mut DbConn` is taken), it is a savepoint on the same
/// connection: write transactions nest.
pub fn write_transaction<T, E, F>(conn: &mut DbConn, work: F) -> Result<T, E>
where
    F: FnOnce(&mut Writer<'_>) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    end_read_snapshot(conn);
    if let DbConn::Sqlite(c) = conn {
        if !in_transaction(c) {
            let (writer, file) = sqlite_writer(c)?;
            return sqlite_write(&writer, &file, conn, work);
        }
    }
    transaction(conn, work)
}

/// A write transaction on an SQLite file, on the file's writer. A write that finds the writer
/// free runs in the CPU turn it holds; one that must wait for it gives the turn up to readers
/// meanwhile (`turns`).
fn sqlite_write<T, E, F>(
    writer: &SqliteWriter,
    file: &str,
    conn: &mut DbConn,
    work: F,
) -> Result<T, E>
where
    F: FnOnce(&mut Writer<'_>) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    match writer.try_lock() {
        Ok(slot) => write_on(slot, file, conn, work),
        Err(std::sync::TryLockError::Poisoned(poisoned)) => {
            write_on(recovered(writer, poisoned), file, conn, work)
        }
        Err(std::sync::TryLockError::WouldBlock) => turns::off_turn(|| {
            let slot = writer
                .lock()
                .unwrap_or_else(|poisoned| recovered(writer, poisoned));
            write_on(slot, file, conn, work)
        }),
    }
}

/// The writer's slot after a write panicked half-way: its transaction may still be open on the
/// writer's connection. That connection is closed; the next write opens a fresh one.
fn recovered<'a>(
    writer: &SqliteWriter,
    poisoned: std::sync::PoisonError<std::sync::MutexGuard<'a, Option<DbConn>>>,
) -> std::sync::MutexGuard<'a, Option<DbConn>> {
    let mut slot = poisoned.into_inner();
    *slot = None;
    writer.clear_poison();
    slot
}

fn write_on<T, E, F>(
    mut slot: std::sync::MutexGuard<'_, Option<DbConn>>,
    file: &str,
    conn: &mut DbConn,
    work: F,
) -> Result<T, E>
where
    F: FnOnce(&mut Writer<'_>) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    if slot.is_none() {
        *slot = open_writer(file);
    }
    match slot.as_mut() {
        Some(own) => transaction(own, work),
        // The file could not be opened a second time (or is in memory): this connection
        // writes, still in turn.
        None => transaction(conn, work),
    }
}

fn transaction<T, E, F>(conn: &mut DbConn, work: F) -> Result<T, E>
where
    F: FnOnce(&mut Writer<'_>) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    match conn {
        DbConn::Sqlite(c) => {
            if in_transaction(c) {
                AnsiTransactionManager::begin_transaction(c)?
            } else {
                AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?
            }
        }
        DbConn::Pg(c) => AnsiTransactionManager::begin_transaction(c)?,
    }
    match work(&mut Writer { conn }) {
        Ok(value) => {
            let committed = match conn {
                DbConn::Sqlite(c) => AnsiTransactionManager::commit_transaction(c),
                DbConn::Pg(c) => AnsiTransactionManager::commit_transaction(c),
            };
            if let Err(error) = committed {
                rollback(conn);
                return Err(error.into());
            }
            Ok(value)
        }
        Err(error) => {
            rollback(conn);
            Err(error)
        }
    }
}

/// The writer of one SQLite file: its own connection, opened by the first write, behind the
/// mutex that gives the turns. `None` until then, or when the file cannot be opened again (an
/// in-memory database): those writes use the caller's connection.
type SqliteWriter = Arc<Mutex<Option<DbConn>>>;

/// The writer of the SQLite file `conn` is open on, and the file's path.
fn sqlite_writer(conn: &mut SqliteConnection) -> diesel::QueryResult<(SqliteWriter, String)> {
    /// Writers kept at once. A server has one file; a test run opens hundreds, and a writer
    /// dropped from the map closes once its last write is done.
    const KEPT: usize = 8;
    static WRITERS: OnceLock<Mutex<HashMap<String, SqliteWriter>>> = OnceLock::new();
    let file = main_file(conn)?;
    let mut writers = WRITERS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(writer) = writers.get(&file) {
        return Ok((writer.clone(), file));
    }
    if writers.len() >= KEPT {
        writers.clear();
    }
    let writer = SqliteWriter::default();
    writers.insert(file.clone(), writer.clone());
    Ok((writer, file))
}

/// The path of the SQLite file `conn` is open on; empty for an in-memory database.
fn main_file(conn: &mut SqliteConnection) -> diesel::QueryResult<String> {
    use diesel::{ExpressionMethods, QueryDsl, RunQueryDsl};
    // SQLite's table-valued pragma, declared as a table so the query is a static one whose
    // prepared statement is reused (an `sql_query` is compiled on every write).
    diesel::table! {
        pragma_database_list (name) {
            name -> Text,
            file -> Text,
        }
    }
    pragma_database_list::table
        .filter(pragma_database_list::name.eq("main"))
        .select(pragma_database_list::file)
        .first(conn)
}

/// A connection of its own to `file`, or `None` when there is no file to open again (an
/// in-memory database) or it cannot be opened.
fn open_writer(file: &str) -> Option<DbConn> {
    if file.is_empty() {
        return None;
    }
    match open_sqlite(file) {
        Ok(own) => Some(DbConn::Sqlite(own)),
        Err(error) => {
            log::warn!("cannot open a writer connection to the SQLite file: {error}");
            None
        }
    }
}

fn in_transaction(conn: &mut SqliteConnection) -> bool {
    matches!(
        AnsiTransactionManager::transaction_manager_status_mut(conn).transaction_depth(),
        Ok(Some(_))
    )
}

fn rollback(conn: &mut DbConn) {
    let result = match conn {
        DbConn::Sqlite(c) => AnsiTransactionManager::rollback_transaction(c),
        DbConn::Pg(c) => AnsiTransactionManager::rollback_transaction(c),
    };
    if let Err(error) = result {
        log::error!("rollback failed: {error}");
    }
}

/// Refreshes SQLite's table statistics where they are missing or stale (`PRAGMA optimize`,
/// which analyses only what changed, within a bounded number of rows), so the planner can tell
/// `user_id = ?` (every row of a large library) from `book_id = ?` (a few). Run at start-up,
/// before the pool opens its other connections (a connection reads the statistics when it
/// loads the schema; new ones are seen by the others as the pool renews them), and with the
/// periodic purge. PostgreSQL's autovacuum does the same on its own.
pub fn optimize(conn: &mut DbConn) -> AppResult<()> {
    if conn.backend() == Backend::Sqlite {
        conn.batch_execute("PRAGMA optimize = 0x10002")?;
    }
    Ok(())
}

/// Says once, at start, when `q` search on PostgreSQL has no trigram index: migration
/// 2026-12-06-000300 makes it only where the pg_trgm extension could be created, and without
/// it every search reads all of the user's books.
pub fn note_search_index(conn: &mut DbConn) -> AppResult<()> {
    #[derive(diesel::QueryableByName)]
    struct Found {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        found: bool,
    }
    if let DbConn::Pg(c) = conn {
        use diesel::RunQueryDsl;
        let index =
            diesel::sql_query("SELECT to_regclass('books_search_trgm') IS NOT NULL AS found")
                .get_result::<Found>(c)?;
        if !index.found {
            log::warn!(
                "pg_trgm is not available in this database, so `q` search reads every book of \
                 the user; to index it, have a superuser run `CREATE EXTENSION pg_trgm` and \
                 `CREATE INDEX books_search_trgm ON books USING gin (search_text gin_trgm_ops)`"
            );
        }
    }
    Ok(())
}

/// `SELECT 1` through the pool: the health check's round trip.
pub fn ping(conn: &mut DbConn) -> AppResult<()> {
    conn.batch_execute("SELECT 1").map_err(AppError::from)
}

/// A fresh in-memory SQLite database with every migration applied, for unit tests of rules
/// that run over a connection (no server, no file).
#[cfg(test)]
pub fn in_memory() -> DbConn {
    let mut conn = match SqliteConnection::establish(":memory:") {
        Ok(conn) => DbConn::Sqlite(conn),
        Err(error) => panic!("in-memory SQLite: {error}"),
    };
    if let Err(error) = conn.batch_execute("PRAGMA foreign_keys = ON") {
        panic!("in-memory SQLite: {error}");
    }
    if let Err(error) = run_migrations(&mut conn) {
        panic!("migrations: {error}");
    }
    conn
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_is_chosen_by_scheme_and_unknown_schemes_are_refused() {
        assert_eq!(
            DatabaseTarget::parse("postgres://u:p@h/db")
                .unwrap()
                .backend,
            Backend::Postgres
        );
        assert_eq!(
            DatabaseTarget::parse("sqlite://x.db").unwrap().backend,
            Backend::Sqlite
        );
        let err = DatabaseTarget::parse("postgress://u:secret@h/db").unwrap_err();
        assert!(!err.contains("secret"), "{err}");
        assert!(DatabaseTarget::parse("mysql://h/db").is_err());
        assert!(DatabaseTarget::parse("panicless.db").is_err());
    }
}
